//! Going back to the source: `zhsearch show FILE:LINE[-LINE]` and the paragraphs around a hit.

use std::path::{Component, Path};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::cite::Source;
use crate::corpus::{self, Document};

/// Lines of a corpus file, as cited: `file:57`, `file:57-59`, `file#L57` or `file#L57-L59`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub source: String,
    pub line_start: usize,
    pub line_end: usize,
}

pub fn parse_location(s: &str) -> Result<Location> {
    let bad = || {
        anyhow::anyhow!(
            "cannot read location `{s}`: write FILE:LINE, FILE:LINE-LINE or an id like FILE#L57-L59"
        )
    };
    let (source, lines) = match s.rsplit_once("#L") {
        Some((f, l)) => (f, l.replace("-L", "-")),
        None => {
            let (f, l) = s.rsplit_once(':').ok_or_else(bad)?;
            (f, l.to_string())
        }
    };
    let (a, b) = lines.split_once('-').unwrap_or((&lines, &lines));
    let line_start: usize = a.trim().parse().map_err(|_| bad())?;
    let line_end: usize = b.trim().parse().map_err(|_| bad())?;
    if source.is_empty() {
        return Err(bad());
    }
    Ok(Location {
        source: source.to_string(),
        line_start,
        line_end,
    })
}

/// A paragraph next to a hit or an excerpt.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Neighbour {
    pub line_start: usize,
    pub line_end: usize,
    pub paragraph: usize,
    pub text: String,
}

/// What `show` prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Excerpt {
    #[serde(flatten)]
    pub cite: Source,
    pub attribution: String,
    /// The lines asked for, exactly as in the file.
    pub text: String,
    pub context_before: Vec<Neighbour>,
    pub context_after: Vec<Neighbour>,
}

/// A corpus file, read and split into passages.
pub struct LoadedDocument {
    pub doc: Document,
    pub lines: Vec<String>,
}

pub fn load(corpus_dir: &Path, source: &str) -> Result<LoadedDocument> {
    let rel = Path::new(source);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        bail!("{source}: give a file path relative to the corpus, as printed in citations");
    }
    let path = corpus_dir.join(rel);
    if !path.is_file() {
        bail!(
            "there is no file {source} in the corpus {}: give a path as printed in citations",
            corpus_dir.display()
        );
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = crate::encoding::decode(&bytes)
        .map_err(|e| anyhow::anyhow!("cannot read {source}: {e}"))?
        .text;
    Ok(LoadedDocument {
        doc: corpus::parse_document(source, &text),
        lines: corpus::lines(&text),
    })
}

impl LoadedDocument {
    /// Up to `n` body paragraphs before and after lines `start..=end`.
    pub fn context(&self, start: usize, end: usize, n: usize) -> (Vec<Neighbour>, Vec<Neighbour>) {
        let body = self.doc.passages.iter().filter(|p| p.paragraph > 0);
        let neighbour = |p: &corpus::Passage| Neighbour {
            line_start: p.line_start,
            line_end: p.line_end,
            paragraph: p.paragraph,
            text: p.text.clone(),
        };
        let mut before: Vec<Neighbour> = body
            .clone()
            .filter(|p| p.line_end < start)
            .map(neighbour)
            .collect();
        before.drain(..before.len().saturating_sub(n));
        let after = body
            .filter(|p| p.line_start > end)
            .take(n)
            .map(neighbour)
            .collect();
        (before, after)
    }

    /// The paragraph that line `line` is in.
    pub fn paragraph_at(&self, line: usize) -> Option<usize> {
        self.doc
            .passages
            .iter()
            .find(|p| p.line_start <= line && line <= p.line_end)
            .map(|p| p.paragraph)
    }
}

pub fn excerpt(corpus_dir: &Path, loc: &Location, context: usize) -> Result<Excerpt> {
    let loaded = load(corpus_dir, &loc.source)?;
    // A file ending in a newline has no extra line after it, as in an editor.
    let mut count = loaded.lines.len();
    if count > 1 && loaded.lines[count - 1].is_empty() {
        count -= 1;
    }
    if loc.line_start == 0 || loc.line_end < loc.line_start || loc.line_end > count {
        bail!(
            "lines {}-{} are out of range: {} has lines 1-{count}",
            loc.line_start,
            loc.line_end,
            loc.source
        );
    }
    let text = loaded.lines[loc.line_start - 1..loc.line_end].join("\n");
    let (context_before, context_after) = loaded.context(loc.line_start, loc.line_end, context);
    let meta = &loaded.doc.meta;
    let cite = Source {
        title: meta.title.clone(),
        author: meta.author.clone(),
        date: meta.date.clone(),
        url: meta.url.clone(),
        source: loc.source.clone(),
        line_start: loc.line_start,
        line_end: loc.line_end,
        paragraph: loaded.paragraph_at(loc.line_start),
    };
    Ok(Excerpt {
        attribution: cite.attribution(),
        cite,
        text,
        context_before,
        context_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_in_every_form() {
        let l = |s: &str| {
            parse_location(s)
                .map(|l| (l.source, l.line_start, l.line_end))
                .ok()
        };
        assert_eq!(l("a.txt:57"), Some(("a.txt".into(), 57, 57)));
        assert_eq!(l("dir/a.txt:57-59"), Some(("dir/a.txt".into(), 57, 59)));
        assert_eq!(l("a.txt#L57"), Some(("a.txt".into(), 57, 57)));
        assert_eq!(l("a.txt#L57-L59"), Some(("a.txt".into(), 57, 59)));
        assert_eq!(l("a.txt"), None);
        assert_eq!(l("a.txt:x"), None);
        assert_eq!(l(":5"), None);
    }
}
