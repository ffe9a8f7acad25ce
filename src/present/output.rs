//! Printing hits: JSON Lines for programs, cited and highlighted passages for people.

use std::borrow::Cow;
use std::io::Write;
use std::ops::Range;

use anstyle::{AnsiColor, Style};
use anyhow::Result;

use crate::model::Neighbour;
use crate::model::{Hit, MatchKind};
use crate::present::cite::Citation;
use crate::present::show::Excerpt;

/// Longest passage shown whole in human output, in characters; longer ones are cropped
/// around the first highlight.
const CROP_CHARS: usize = 160;
/// Characters of context kept before the first highlight when cropping.
const CROP_BEFORE: usize = 40;

const CITE: Style = AnsiColor::Magenta.on_default();
const META: Style = AnsiColor::Green.on_default();
const MARK: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();

/// One JSON object per hit, one per line.
pub fn write_json(out: &mut impl Write, hits: &[Hit]) -> Result<()> {
    for hit in hits {
        serde_json::to_writer(&mut *out, hit)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// How human output names files: relative to the corpus (the default), or by absolute path,
/// and whether each citation is a terminal hyperlink to its file.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// The corpus folder (absolute), when paths are printed absolute or linked.
    pub corpus: Option<std::path::PathBuf>,
    /// Print absolute paths.
    pub absolute: bool,
    /// Wrap each citation in an OSC 8 hyperlink to `file://` + its absolute path.
    pub hyperlink: bool,
}

impl Paths {
    /// `hit`'s citation as printed: `file:57-59`, absolute with `absolute`.
    pub fn cite(&self, hit: &Hit) -> String {
        match (&self.corpus, self.absolute) {
            (Some(root), true) => {
                let mut span = hit.span();
                span.source = root.join(&hit.source).display().to_string();
                span.to_string()
            }
            _ => hit.span().to_string(),
        }
    }

    /// The citation with its hyperlink, when asked for (OSC 8: terminals that do not know it
    /// show the text alone).
    fn linked(&self, hit: &Hit) -> String {
        let text = self.cite(hit);
        match &self.corpus {
            Some(root) if self.hyperlink => {
                let url = file_url(&root.join(&hit.source));
                format!("\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\")
            }
            _ => text,
        }
    }
}

/// `file://` and the path, its bytes outside the unreserved set and `/` percent-encoded.
pub fn file_url(path: &std::path::Path) -> String {
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Citation line, then the passage (cropped, highlighted), then a blank line. Colour is added
/// here and stripped by `anstream` when stdout is not a terminal or `NO_COLOR` is set.
pub fn write_human(out: &mut impl Write, hits: &[Hit], paths: &Paths) -> Result<()> {
    for hit in hits {
        write!(out, "{CITE}{}{CITE:#}", paths.linked(hit))?;
        if hit.paragraph > 0 {
            write!(out, "  {META}¶{}{META:#}", hit.paragraph)?;
        }
        if let Some(title) = &hit.meta.title {
            write!(out, "  《{}》", shown(title))?;
        }
        if hit.match_kind == MatchKind::Partial {
            write!(out, "  {META}[partial match]{META:#}")?;
        }
        if hit.match_kind == MatchKind::Semantic {
            let s = hit.similarity.unwrap_or(0.0);
            write!(out, "  {META}[similar in meaning: {s:.2}]{META:#}")?;
        }
        if let Some(v) = &hit.variant {
            write!(out, "  {META}[regional variant: {}]{META:#}", shown(v))?;
        }
        writeln!(out)?;
        write_neighbours(out, &hit.context_before)?;
        let highlights: Vec<Range<usize>> = hit
            .highlights
            .iter()
            .map(|h| h[0]..h[1])
            .filter(|h| hit.text.get(h.clone()).is_some())
            .collect();
        let (window, prefix, suffix) = crop(&hit.text, &highlights);
        // With context around it, the hit is numbered like its neighbours and marked `>`.
        let mut line = if hit.context_before.is_empty() && hit.context_after.is_empty() {
            String::from("    ")
        } else {
            format!("> {:>4} ", hit.line_start)
        };
        if prefix {
            line.push('…');
        }
        let mut pos = window.start;
        for h in highlights
            .iter()
            .filter(|h| h.start >= window.start && h.end <= window.end)
        {
            line.push_str(&indent(&hit.text[pos..h.start]));
            line.push_str(&format!("{MARK}{}{MARK:#}", indent(&hit.text[h.clone()])));
            pos = h.end;
        }
        line.push_str(&indent(&hit.text[pos..window.end]));
        if suffix {
            line.push('…');
        }
        writeln!(out, "{line}")?;
        write_neighbours(out, &hit.context_after)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Context paragraphs, dimmed, each with its line number.
fn write_neighbours(out: &mut impl Write, neighbours: &[Neighbour]) -> Result<()> {
    for n in neighbours {
        writeln!(
            out,
            "{DIM}  {:>4} {}{DIM:#}",
            n.line_start,
            shown(&n.text).replace('\n', "\n       ")
        )?;
    }
    Ok(())
}

/// Output formats of `cite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiteFormat {
    /// A Markdown block quote and an attribution line.
    Markdown,
    /// The quote in quotation marks, then the attribution.
    Plain,
    /// One JSON array: each hit with its citation.
    Json,
    /// JSON Lines: each hit with its citation, one per line.
    JsonLines,
}

/// Citations, one per hit: paste-ready text, or the hit object with the citation in JSON.
pub fn write_citations(
    out: &mut impl Write,
    cited: &[(Hit, Citation)],
    format: CiteFormat,
) -> Result<()> {
    #[derive(serde::Serialize)]
    struct JsonCitation<'a> {
        #[serde(flatten)]
        hit: &'a Hit,
        #[serde(flatten)]
        citation: &'a Citation,
    }
    if format == CiteFormat::Json {
        let all: Vec<_> = cited
            .iter()
            .map(|(hit, citation)| JsonCitation { hit, citation })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &all)?;
        writeln!(out)?;
        return Ok(());
    }
    for (i, (hit, citation)) in cited.iter().enumerate() {
        match format {
            CiteFormat::Json | CiteFormat::JsonLines => {
                serde_json::to_writer(&mut *out, &JsonCitation { hit, citation })?;
                writeln!(out)?;
            }
            CiteFormat::Markdown => {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "{}", shown(&citation.markdown))?;
            }
            CiteFormat::Plain => writeln!(out, "{}", shown(&citation.plain))?,
        }
    }
    Ok(())
}

/// `show`: context dimmed, the lines exactly as in the file, then the attribution.
pub fn write_excerpt(out: &mut impl Write, excerpt: &Excerpt, json: bool) -> Result<()> {
    if json {
        serde_json::to_writer(&mut *out, excerpt)?;
        writeln!(out)?;
        return Ok(());
    }
    // Context lines are marked `┆ ` (and dimmed), so that without colour too they cannot be
    // taken for the cited lines, which are printed exactly as in the file.
    let context = |n: &Neighbour| shown(&n.text).replace('\n', "\n┆ ");
    for n in &excerpt.context_before {
        writeln!(out, "{DIM}┆ {}{DIM:#}", context(n))?;
    }
    writeln!(out, "{}", shown(&excerpt.text))?;
    for n in &excerpt.context_after {
        writeln!(out, "{DIM}┆ {}{DIM:#}", context(n))?;
    }
    writeln!(out, "\n{CITE}— {}{CITE:#}", shown(&excerpt.attribution))?;
    Ok(())
}

/// Continuation lines of a multi-line passage line up under the first.
fn indent(s: &str) -> String {
    shown(s).replace('\n', "\n    ")
}

/// Text of a file as a person's output shows it: control characters other than line breaks
/// and tabs become visible (`␛` for ESC, U+2400 + code for the other C0 controls), so that a
/// file can neither send escape sequences to a terminal nor, when they are stripped, swallow
/// the rest of the output with an unfinished one. JSON keeps every character, escaped.
fn shown(s: &str) -> Cow<'_, str> {
    let hidden = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c as u32 {
                n @ 0..=0x1f if hidden(c) => char::from_u32(0x2400 + n).unwrap_or('\u{fffd}'),
                0x7f => '\u{2421}',
                _ if hidden(c) => '\u{fffd}',
                _ => c,
            })
            .collect(),
    )
}

/// The byte window of `text` to show, and whether text was cut before and after it.
fn crop(text: &str, highlights: &[Range<usize>]) -> (Range<usize>, bool, bool) {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let n = bounds.len() - 1;
    if n <= CROP_CHARS {
        return (0..text.len(), false, false);
    }
    let first = highlights
        .first()
        .map_or(0, |h| bounds.partition_point(|&b| b < h.start));
    let mut start = first.saturating_sub(CROP_BEFORE);
    let end = (start + CROP_CHARS).min(n);
    start = end.saturating_sub(CROP_CHARS);
    // Never cut through a highlight.
    let mut s = bounds[start];
    let mut e = bounds[end];
    for h in highlights {
        if h.start < s && h.end > s {
            s = h.start;
        }
        if h.start < e && h.end > e {
            e = h.end;
        }
    }
    (s..e, s > 0, e < text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(text: &str, highlights: Vec<[usize; 2]>) -> Hit {
        Hit {
            match_kind: MatchKind::Partial,
            variant: Some("軟體".into()),
            ..Hit::sample(text, highlights)
        }
    }

    #[test]
    fn human_output_cites_and_marks() {
        let mut out = Vec::new();
        write_human(
            &mut out,
            &[hit("突破「5k瓶頸」", vec![[9, 17], [0, 1]])],
            &Paths::default(),
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("\u{1b}[35ma.txt:57"), "{s}");
        assert!(s.contains("¶54"));
        assert!(s.contains("《標題》"));
        assert!(s.contains("[partial match]") && s.contains("[regional variant: 軟體]"));
        assert!(s.contains("\u{1b}[1m\u{1b}[31m5k瓶頸"), "{s}");
    }

    #[test]
    fn long_passages_are_cropped_around_the_match() {
        let text = format!("{}目標{}", "前".repeat(300), "後".repeat(300));
        let start = "前".len() * 300;
        let target = start..start + "目標".len();
        let (w, pre, post) = crop(&text, std::slice::from_ref(&target));
        assert!(pre && post);
        assert!(text[w.clone()].contains("目標"));
        assert_eq!(text[w].chars().count(), CROP_CHARS);
    }

    #[test]
    fn json_lines_have_the_contract_fields() {
        let mut out = Vec::new();
        write_json(&mut out, &[hit("x", vec![])]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["match"], "partial");
        for key in [
            "source",
            "line_start",
            "line_end",
            "paragraph",
            "score",
            "text",
            "title",
            "highlights",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
    }
}
