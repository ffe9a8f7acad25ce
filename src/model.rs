//! The data every stage shares: a document's metadata, a span of lines as cited, and a hit
//! (a ranked passage) with how it matched.

use std::fmt;

use serde::Serialize;

/// Metadata of a document: from its front matter (the title falls back to the first heading,
/// then to the file name), and the encoding it was read with once indexed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DocMeta {
    /// The title (front matter, else the first heading, else the file name).
    pub title: Option<String>,
    /// The author, from front matter.
    pub author: Option<String>,
    /// The date, from front matter, as written.
    pub date: Option<String>,
    /// The address of the original, from front matter.
    pub url: Option<String>,
    /// The encoding the file was read with (`UTF-8`, `gb18030`, `Big5`, `UTF-16LE`…), when the
    /// index recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// Lines of a corpus file, as cited: printed as `file:57-59` (what `zhsearch show` takes) or
/// as the anchor `file#L57-L59` (a hit's id); both are read back by [`LineSpan::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LineSpan {
    /// Path relative to the corpus folder, with `/` separators.
    pub source: String,
    /// 1-based, inclusive.
    pub line_start: usize,
    /// 1-based, inclusive.
    pub line_end: usize,
}

/// Why a location could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpanError {
    #[error(
        "cannot read location `{0}`: write FILE:LINE, FILE:LINE-LINE or an id like FILE#L57-L59"
    )]
    /// Neither `FILE:LINE[-LINE]` nor `FILE#L…`.
    Unreadable(String),
    #[error(
        "lines {}-{} of {} are reversed: write the first line first, {}:{}-{}",
        .0.line_start, .0.line_end, .0.source, .0.source, .0.line_end, .0.line_start
    )]
    /// The last line comes before the first.
    Reversed(LineSpan),
    /// Lines the file does not have.
    #[error(
        "lines {}-{} are out of range: {} has lines 1-{lines}",
        .span.line_start, .span.line_end, .span.source
    )]
    OutOfRange {
        /// The lines asked for.
        span: LineSpan,
        /// How many lines the file has.
        lines: usize,
    },
}

impl LineSpan {
    /// Lines `line_start..=line_end` of `source`.
    pub fn new(source: impl Into<String>, line_start: usize, line_end: usize) -> LineSpan {
        LineSpan {
            source: source.into(),
            line_start,
            line_end,
        }
    }

    /// `file#L57` or `file#L57-L59`.
    pub fn anchor(&self) -> String {
        if self.line_start == self.line_end {
            format!("{}#L{}", self.source, self.line_start)
        } else {
            format!("{}#L{}-L{}", self.source, self.line_start, self.line_end)
        }
    }

    /// Reads `FILE:LINE[-LINE]` or `FILE#L…`. The colon form is taken when it names a file
    /// for which `listed` holds (so that a file named `y#L3.txt` can be cited as
    /// `y#L3.txt:1`), else the anchor form, else the colon form.
    pub fn parse(s: &str, listed: impl Fn(&str) -> bool) -> Result<LineSpan, SpanError> {
        let lines = |(source, lines): (&str, String)| -> Option<LineSpan> {
            let (a, b) = lines.split_once('-').unwrap_or((&lines, &lines));
            let span = LineSpan::new(source, a.trim().parse().ok()?, b.trim().parse().ok()?);
            (!source.is_empty()).then_some(span)
        };
        let colon = s.rsplit_once(':').and_then(|(f, l)| lines((f, l.into())));
        let anchor = s
            .rsplit_once("#L")
            .and_then(|(f, l)| lines((f, l.replace("-L", "-"))));
        let span = match (colon, anchor) {
            (Some(c), _) if listed(&c.source) => c,
            (_, Some(a)) => a,
            (Some(c), None) => c,
            (None, None) => return Err(SpanError::Unreadable(s.to_string())),
        };
        if span.line_end < span.line_start {
            return Err(SpanError::Reversed(span));
        }
        Ok(span)
    }
}

impl fmt::Display for LineSpan {
    /// `file:57` or `file:57-59`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line_start == self.line_end {
            write!(f, "{}:{}", self.source, self.line_start)
        } else {
            write!(f, "{}:{}-{}", self.source, self.line_start, self.line_end)
        }
    }
}

/// How a hit matched the query, best first (the order of the tiers).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// Every term of the query matched.
    All,
    /// Most of the query's words matched (a fill-up below the strict hits).
    Partial,
    /// Close in meaning only (the semantic tier, below every full match): the passage may
    /// hold none of the query's words.
    Semantic,
}

/// A paragraph next to a hit or an excerpt.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Neighbour {
    /// First line, 1-based.
    pub line_start: usize,
    /// Last line, inclusive.
    pub line_end: usize,
    /// 1-based paragraph number in the file.
    pub paragraph: usize,
    /// The paragraph exactly as in the file.
    pub text: String,
}

/// One ranked passage: the JSON Lines contract of `zhsearch search --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    /// `FILE#L57` or `FILE#L57-L59` (see [`LineSpan::anchor`]).
    pub id: String,
    /// Path relative to the corpus folder, with `/` separators.
    pub source: String,
    /// First line, 1-based.
    pub line_start: usize,
    /// Last line, inclusive.
    pub line_end: usize,
    /// 1-based paragraph number in the file; 0 for a line that is not a paragraph a reader
    /// sees (front matter, markup).
    pub paragraph: usize,
    /// For a piece of a very long line: its first and last character columns (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_start: Option<usize>,
    /// Last character column of a piece of a very long line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_end: Option<usize>,
    /// Ranking score: higher is better; comparable within one search only.
    pub score: f32,
    /// Whether every term matched (`all`) or part of the query (`partial`).
    #[serde(rename = "match")]
    pub match_kind: MatchKind,
    /// The passage's own words where a term matched only through a regional variant.
    pub variant: Option<String>,
    /// For a semantic hit, the cosine similarity of its vector to the query's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// The document's title, author, date, address and encoding.
    #[serde(flatten)]
    pub meta: DocMeta,
    /// The passage exactly as in the file, lines joined with `\n`.
    pub text: String,
    /// Byte ranges of `text` that match the query.
    pub highlights: Vec<[usize; 2]>,
    /// Paragraphs before and after, with `--context N`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context_before: Vec<Neighbour>,
    /// Paragraphs after, with `--context N`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context_after: Vec<Neighbour>,
    /// Whether the passage is a front matter line (`title: …`; not printed: its paragraph is
    /// 0): ranked below body passages, and quoted only when no body passage is.
    #[serde(skip)]
    pub front_matter: bool,
    /// The hash of the file's content in the commit the hit was found in (not printed): a
    /// quote or context is cut from the file only while it still holds that content.
    #[serde(skip)]
    pub indexed: Option<String>,
}

impl Hit {
    /// A hit for unit tests: `a.txt` line 57, paragraph 54, titled 標題.
    #[cfg(test)]
    pub(crate) fn sample(text: &str, highlights: Vec<[usize; 2]>) -> Hit {
        Hit {
            id: "a.txt#L57".into(),
            source: "a.txt".into(),
            line_start: 57,
            line_end: 57,
            paragraph: 54,
            column_start: None,
            column_end: None,
            score: 1.0,
            match_kind: MatchKind::All,
            variant: None,
            similarity: None,
            meta: DocMeta {
                title: Some("標題".into()),
                ..DocMeta::default()
            },
            text: text.into(),
            highlights,
            context_before: Vec::new(),
            context_after: Vec::new(),
            front_matter: false,
            indexed: None,
        }
    }

    /// The lines of the hit.
    pub fn span(&self) -> LineSpan {
        LineSpan::new(&self.source, self.line_start, self.line_end)
    }
}

/// A page of hits (it derefs to them).
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The hits, best first.
    pub hits: Vec<Hit>,
    /// Whether some passage matches every term (on this page or another).
    pub full_matches: bool,
    /// Why the semantic tier gave nothing for a search that asked for it (the embedder did
    /// not answer…): the lexical hits stand.
    pub semantic_unavailable: Option<String>,
}

impl std::ops::Deref for Page {
    type Target = Vec<Hit>;
    fn deref(&self) -> &Vec<Hit> {
        &self.hits
    }
}

impl std::ops::DerefMut for Page {
    fn deref_mut(&mut self) -> &mut Vec<Hit> {
        &mut self.hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_print_and_parse_in_both_forms() {
        let l = |s: &str| LineSpan::parse(s, |_| false).ok();
        let span = LineSpan::new("dir/a.txt", 57, 59);
        assert_eq!(l(&span.to_string()), Some(span.clone()));
        assert_eq!(l(&span.anchor()), Some(span.clone()));
        assert_eq!(span.to_string(), "dir/a.txt:57-59");
        assert_eq!(span.anchor(), "dir/a.txt#L57-L59");
        let one = LineSpan::new("a.txt", 57, 57);
        assert_eq!(
            (one.to_string(), one.anchor()),
            ("a.txt:57".into(), "a.txt#L57".into())
        );
        assert_eq!(l("a.txt#L57"), Some(one));
        for bad in ["a.txt", "a.txt:x", ":5"] {
            assert_eq!(l(bad), None, "{bad}");
        }
        let reversed = LineSpan::parse("a.txt:59-57", |_| false)
            .unwrap_err()
            .to_string();
        assert!(reversed.contains("reversed") && reversed.contains("a.txt:57-59"));
        assert!(LineSpan::parse("a.txt#L59-L57", |_| false).is_err());
        // A listed file whose name looks like an anchor is read in the colon form.
        let listed = LineSpan::parse("y#L3.txt:1", |s| s == "y#L3.txt").unwrap();
        assert_eq!(listed, LineSpan::new("y#L3.txt", 1, 1));
    }
}
