//! Reading the corpus: which files are documents, and how a document becomes passages.
//!
//! A passage is a paragraph as a reader sees it. In the plain-text articles this project was
//! built for, every non-blank line is a paragraph (some files have no blank line at all), so a
//! passage is one line; only in `.md` files are hard-wrapped lines of one Markdown paragraph
//! joined. YAML front matter gives the document's metadata; each of its values is a passage
//! of its own (paragraph 0), so that what a user reads in the file can still be found.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result, bail};

use crate::analysis::Piece;
use crate::markup::{self, LineMarkup};

/// File name extensions read as documents unless told otherwise.
pub const EXTENSIONS: &[&str] = &["txt", "md", "markdown"];

pub fn default_extensions() -> Vec<String> {
    EXTENSIONS.iter().map(|e| e.to_string()).collect()
}

/// A document file found under the corpus folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the corpus folder, with `/` separators.
    pub source: String,
    pub path: PathBuf,
    pub size: u64,
    /// Modification time, nanoseconds since the epoch (0 when the platform cannot tell).
    pub mtime_ns: u64,
}

/// Metadata of a document, from its front matter; the title falls back to the first heading,
/// then to the file name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub title: Option<String>,
    pub date: Option<String>,
    pub author: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// 1-based, inclusive.
    pub line_start: usize,
    pub line_end: usize,
    /// 1-based ordinal among the body paragraphs of the file; 0 for a line that is not a
    /// paragraph a reader sees (front matter, markup holding Chinese text only in attributes).
    pub paragraph: usize,
    /// The passage exactly as in the file (line ends normalised to `\n`).
    pub text: String,
    /// Visible text (markup removed), with byte ranges into `text`.
    pub visible: Vec<Piece>,
    /// For a piece of a very long line: its first and last character columns (1-based).
    pub columns: Option<(usize, usize)>,
    /// A front matter line: only its value is text.
    pub front_matter: bool,
}

impl Passage {
    pub fn is_front_matter(&self) -> bool {
        self.front_matter
    }
}

#[derive(Debug, Clone)]
pub struct Document {
    pub source: String,
    pub meta: Meta,
    pub passages: Vec<Passage>,
}

/// Lists the documents under `corpus` (files with one of `extensions`), sorted by path: hidden
/// files and whatever the corpus's `.gitignore`/`.ignore` exclude are skipped, symbolic links
/// are not followed (so neither loops nor links out of the corpus are walked).
pub fn list_files(corpus: &Path, extensions: &[String]) -> Result<Vec<SourceFile>> {
    let meta = fs::metadata(corpus).with_context(|| {
        format!(
            "cannot read corpus folder {}: pass an existing folder with --corpus",
            corpus.display()
        )
    })?;
    if !meta.is_dir() {
        bail!(
            "corpus {} is not a folder: pass a folder with --corpus",
            corpus.display()
        );
    }
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(corpus)
        .follow_links(false)
        .require_git(false)
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                eprintln!("zhsearch: warning: skipping {err}");
                continue;
            }
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !extensions.iter().any(|x| x.eq_ignore_ascii_case(ext)) {
            continue;
        }
        let Ok(rel) = path.strip_prefix(corpus) else {
            continue;
        };
        let source = if std::path::MAIN_SEPARATOR == '/' {
            rel.to_string_lossy().into_owned()
        } else {
            rel.to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/")
        };
        let md = entry
            .metadata()
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mtime_ns = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        files.push(SourceFile {
            source,
            path: path.to_path_buf(),
            size: md.len(),
            mtime_ns,
        });
    }
    files.sort_by(|a, b| a.source.cmp(&b.source));
    Ok(files)
}

/// Splits a document into passages and metadata.
pub fn parse_document(source: &str, content: &str) -> Document {
    let clean = normalize_line_ends(content);
    let join_wrapped = is_markdown_name(source);
    let lines = markup::line_starts(&clean);
    let line_text = |i: usize| -> &str {
        let end = lines.get(i + 1).map_or(clean.len(), |&e| e - 1);
        &clean[lines[i]..end]
    };

    let mut meta = Meta::default();
    let mut passages = Vec::new();
    let mut body_line = 0;
    if let Some(close) = front_matter_end(&lines, &line_text) {
        for i in 1..close {
            let line = line_text(i);
            if let Some((key, value)) = yaml_scalar(line) {
                let value_text = &line[value.clone()];
                match key {
                    "title" => meta.title = Some(value_text.to_string()),
                    "date" => meta.date = Some(value_text.to_string()),
                    "author" => meta.author = Some(value_text.to_string()),
                    "url" => meta.url = Some(value_text.to_string()),
                    _ => {}
                }
                passages.push(Passage {
                    line_start: i + 1,
                    line_end: i + 1,
                    paragraph: 0,
                    text: line.to_string(),
                    visible: vec![Piece::verbatim(line, value)],
                    columns: None,
                    front_matter: true,
                });
            }
        }
        body_line = close + 1;
    }

    let body_start = lines.get(body_line).copied().unwrap_or(clean.len());
    let body = &clean[body_start..];
    let marks = markup::visible_lines(body);
    if meta.title.is_none() {
        meta.title = marks
            .iter()
            .find(|m| m.heading && m.has_visible_text())
            .map(|m| joined_text(&m.pieces).trim().to_string());
    }
    if meta.title.is_none() {
        // Else the file name, without folders and extension.
        let name = source.rsplit('/').next().unwrap_or(source);
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        meta.title = Some(stem.to_string());
    }

    let mut paragraph = 0;
    let mut i = 0;
    while i < marks.len() {
        if !marks[i].has_visible_text() {
            // Markup with Chinese text in it (`<p id='进群-banner'>`) stays findable as a
            // passage of paragraph 0, since the raw line is what `text` shows.
            let line = line_text(body_line + i);
            if line.chars().any(is_cjk) {
                passages.push(Passage {
                    line_start: body_line + i + 1,
                    line_end: body_line + i + 1,
                    paragraph: 0,
                    text: line.to_string(),
                    visible: Vec::new(),
                    columns: None,
                    front_matter: false,
                });
            }
            i += 1;
            continue;
        }
        let mut j = i;
        while join_wrapped
            && j + 1 < marks.len()
            && continues(&marks[j], &marks[j + 1], line_text(body_line + j))
        {
            j += 1;
        }
        let start = lines[body_line + i];
        let end = lines.get(body_line + j + 1).map_or(clean.len(), |&e| e - 1);
        let mut visible = Vec::new();
        for (k, m) in marks[i..=j].iter().enumerate() {
            if k > 0 {
                // Keep lines apart: the newline itself, so no phrase spans two lines.
                let nl = lines[body_line + i + k] - 1;
                visible.push(Piece::verbatim(&clean, nl..nl + 1).shifted(start));
            }
            visible.extend(m.pieces.iter().map(|p| p.shifted(start - body_start)));
        }
        paragraph += 1;
        let passage = Passage {
            line_start: body_line + i + 1,
            line_end: body_line + j + 1,
            paragraph,
            text: clean[start..end].to_string(),
            visible,
            columns: None,
            front_matter: false,
        };
        if passage.text.len() > MAX_PASSAGE_CHARS && passage.line_start == passage.line_end {
            passages.extend(split_long(passage));
        } else {
            passages.push(passage);
        }
        i = j + 1;
    }
    Document {
        source: source.to_string(),
        meta,
        passages,
    }
}

/// Longest passage, in characters; a longer line (a page pasted as one line) is cut into
/// passages of at most this size.
pub const MAX_PASSAGE_CHARS: usize = 1000;

/// Cuts a one-line passage into pieces of at most [`MAX_PASSAGE_CHARS`] characters, after
/// the last sentence end in the second half of each window where there is one.
fn split_long(p: Passage) -> Vec<Passage> {
    let bounds: Vec<usize> = p
        .text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(p.text.len()))
        .collect();
    let n = bounds.len() - 1;
    if n <= MAX_PASSAGE_CHARS {
        return vec![p];
    }
    let mut out = Vec::new();
    let mut a = 0;
    while a < n {
        let mut b = (a + MAX_PASSAGE_CHARS).min(n);
        if b < n {
            let window = &p.text[bounds[a + MAX_PASSAGE_CHARS / 2]..bounds[b]];
            if let Some((at, c)) = window
                .char_indices()
                .rfind(|(_, c)| matches!(c, '。' | '！' | '？' | '；' | '!' | '?' | ';'))
            {
                let cut = bounds[a + MAX_PASSAGE_CHARS / 2] + at + c.len_utf8();
                b = bounds.partition_point(|&x| x < cut);
            }
        }
        let (start, end) = (bounds[a], bounds[b]);
        let visible = p
            .visible
            .iter()
            .filter(|v| v.orig.start < end && v.orig.end > start)
            .map(|v| {
                let r = v.orig.start.max(start)..v.orig.end.min(end);
                let clipped = if v.verbatim {
                    Piece::verbatim(&p.text, r)
                } else {
                    Piece::mapped(&v.text, r)
                };
                clipped.shifted(start)
            })
            .collect();
        out.push(Passage {
            line_start: p.line_start,
            line_end: p.line_end,
            paragraph: p.paragraph,
            text: p.text[start..end].to_string(),
            visible,
            columns: Some((a + 1, b)),
            front_matter: false,
        });
        a = b;
    }
    out
}

/// CJK Unified Ideographs (with extension A) and the CJK punctuation/full-width blocks.
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3134F}')
}

fn is_markdown_name(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// The lines of a file as an editor shows them (see [`normalize_line_ends`]).
pub fn lines(content: &str) -> Vec<String> {
    normalize_line_ends(content)
        .split('\n')
        .map(str::to_string)
        .collect()
}

/// CRLF and lone CR become LF, so that line numbers are those an editor shows.
fn normalize_line_ends(content: &str) -> String {
    if content.contains('\r') {
        content.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        content.to_string()
    }
}

/// Index of the line closing a front matter block that opens on the first line.
fn front_matter_end<'a>(lines: &[usize], line_text: &impl Fn(usize) -> &'a str) -> Option<usize> {
    if lines.len() < 2 || line_text(0).trim_end() != "---" {
        return None;
    }
    (1..lines.len()).find(|&i| matches!(line_text(i).trim_end(), "---" | "..."))
}

/// A top-level `key: value` line with a scalar value; the value's byte range, unquoted.
fn yaml_scalar(line: &str) -> Option<(&str, Range<usize>)> {
    if line.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    let colon = line
        .find(": ")
        .or_else(|| line.strip_suffix(':').map(|l| l.len()))?;
    let key = line[..colon].trim();
    let raw = &line[colon + 1..];
    if raw.trim().is_empty() {
        return None;
    }
    let lead = raw.len() - raw.trim_start().len();
    let mut start = colon + 1 + lead;
    let mut end = colon + 1 + raw.trim_end().len();
    let value = &line[start..end];
    if value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')))
    {
        start += 1;
        end -= 1;
    }
    (end > start && !key.is_empty()).then_some((key, start..end))
}

/// Display width from which a line may have been wrapped by an editor (CJK counts two).
const WRAP_WIDTH: usize = 60;

/// Whether line `next` continues the hard-wrapped Markdown paragraph that `prev` is in: the
/// same Markdown paragraph, `prev` as wide as an editor wraps at, and not ending a sentence.
/// Chinese writers often put one paragraph per line with no blank line between: those lines
/// are short or end with 。！？, and stay apart.
fn continues(prev: &LineMarkup, next: &LineMarkup, prev_text: &str) -> bool {
    let width: usize = prev_text
        .chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum();
    let same_paragraph =
        prev.paragraph.is_some() && prev.paragraph == next.paragraph && width >= WRAP_WIDTH;
    let hard_break = prev_text.ends_with("  ") || prev_text.ends_with('\\');
    let ends_sentence = prev_text.trim_end().ends_with([
        '。', '！', '？', '!', '?', '；', '：', '…', '」', '』', '”', '）', ')', ':',
    ]);
    same_paragraph && next.has_visible_text() && !hard_break && !ends_sentence
}

fn joined_text(pieces: &[Piece]) -> String {
    pieces.iter().map(|p| p.text.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_a_passage_in_plain_text() {
        let doc = parse_document("a.txt", "第一段。\n第二段\n\n第三段\n");
        let got: Vec<_> = doc
            .passages
            .iter()
            .map(|p| (p.line_start, p.line_end, p.paragraph, p.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 1, 1, "第一段。"),
                (2, 2, 2, "第二段"),
                (4, 4, 3, "第三段")
            ]
        );
    }

    #[test]
    fn front_matter_is_metadata() {
        let doc = parse_document(
            "b.txt",
            "---\ntitle: \"开源不是慈善\"\ndate: 2025-07-24 16:24:04\ntags: 大模型\n---\n\n正文\n",
        );
        assert_eq!(doc.meta.title.as_deref(), Some("开源不是慈善"));
        assert_eq!(doc.meta.date.as_deref(), Some("2025-07-24 16:24:04"));
        let body: Vec<_> = doc
            .passages
            .iter()
            .filter(|p| !p.is_front_matter())
            .collect();
        assert_eq!(body.len(), 1);
        assert_eq!((body[0].line_start, body[0].paragraph), (7, 1));
        let fm = &doc.passages[0];
        assert_eq!(fm.text, "title: \"开源不是慈善\"");
        assert_eq!(fm.visible[0].text, "开源不是慈善");
    }

    #[test]
    fn blank_front_matter_values_are_no_passages() {
        // Found by `cargo fuzz run analysis`: a key followed by white space only.
        let doc = parse_document("f.md", "---\n: \t \nkey:  \ntitle: t\n---\nx\n");
        let fm: Vec<_> = doc
            .passages
            .iter()
            .filter(|p| p.is_front_matter())
            .collect();
        assert_eq!(fm.len(), 1);
        assert_eq!(fm[0].visible[0].text, "t");
    }

    #[test]
    fn title_falls_back_to_first_heading() {
        let doc = parse_document("c.md", "intro\n\n## 標題 **粗**\n");
        assert_eq!(doc.meta.title.as_deref(), Some("標題 粗"));
        let doc = parse_document("dir/001_abc.txt", "沒有標題\n");
        assert_eq!(doc.meta.title.as_deref(), Some("001_abc"));
    }

    #[test]
    fn markdown_joins_hard_wrapped_lines_only() {
        let wrapped = "這是一個在編輯器裡按八十列寬度被硬換行的很長的段落，第一行到這裡\n才結束。";
        let text = format!("{wrapped}\n下一句獨立\n短行不接\n下一行\n\n- 列表\n- 項目\n");
        let doc = parse_document("d.md", &text);
        let got: Vec<_> = doc
            .passages
            .iter()
            .map(|p| (p.line_start, p.line_end))
            .collect();
        assert_eq!(got, vec![(1, 2), (3, 3), (4, 4), (5, 5), (7, 7), (8, 8)]);
        assert_eq!(doc.passages[0].text, wrapped);
        // The same text in a .txt file keeps one passage per line.
        let doc = parse_document("d.txt", wrapped);
        assert_eq!(doc.passages.len(), 2);
    }

    #[test]
    fn markup_only_lines_are_not_passages() {
        let doc = parse_document(
            "e.txt",
            "<p align=\"center\">\n  <b>可見</b>\n</p>\n\n---\n",
        );
        assert_eq!(doc.passages.len(), 1);
        assert_eq!(doc.passages[0].line_start, 2);
        assert_eq!(doc.passages[0].text, "  <b>可見</b>");
    }

    #[test]
    fn a_huge_line_becomes_bounded_passages_on_its_line() {
        let sentence = "這是一個句子，內容重複。";
        let line = sentence.repeat(20_000);
        let doc = parse_document("long.txt", &format!("前一行\n{line}\n後一行\n"));
        let long: Vec<&Passage> = doc.passages.iter().filter(|p| p.line_start == 2).collect();
        assert!(long.len() > 200);
        let mut expected_column = 1;
        let mut rebuilt = String::new();
        for p in &long {
            let (c0, c1) = p.columns.unwrap();
            assert_eq!(c0, expected_column);
            assert_eq!(c1 - c0 + 1, p.text.chars().count());
            assert!(p.text.chars().count() <= MAX_PASSAGE_CHARS);
            assert!(p.text.ends_with('。'), "cut at a sentence end");
            for v in &p.visible {
                assert_eq!(&p.text[v.orig.clone()], v.text);
            }
            expected_column = c1 + 1;
            rebuilt.push_str(&p.text);
        }
        assert_eq!(rebuilt, line);
        assert_eq!(doc.passages.last().unwrap().line_start, 3);
        // No sentence end at all: cut at the size limit.
        let doc = parse_document("x.txt", &"字".repeat(2500));
        let sizes: Vec<usize> = doc
            .passages
            .iter()
            .map(|p| p.text.chars().count())
            .collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);
    }

    #[test]
    fn crlf_and_cr_are_line_ends() {
        let doc = parse_document("f.txt", "一\r\n二\r三\n");
        let texts: Vec<_> = doc.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, vec!["一", "二", "三"]);
        assert_eq!(doc.passages[2].line_start, 3);
    }

    #[test]
    fn visible_pieces_point_into_the_passage() {
        let doc = parse_document("g.md", "---\ntitle: t\n---\n**粗體**與[鏈接](http://x)\n");
        let p = doc.passages.last().unwrap();
        for piece in &p.visible {
            assert_eq!(&p.text[piece.orig.clone()], piece.text);
        }
        assert_eq!(joined_text(&p.visible), "粗體與鏈接");
    }
}
