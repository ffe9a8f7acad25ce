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

use anyhow::{Context, Result};

use crate::ingest::markup::{self, LineMarkup};
use crate::text::analysis::Piece;
use crate::text::chars;

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
    /// Why the file cannot be a document whatever it holds (its name); `source` is then the
    /// name escaped, for the warning.
    pub unusable: Option<String>,
}

/// Metadata of a document, from its front matter; the title falls back to the first heading,
/// then to the file name.
pub type Meta = crate::model::DocMeta;

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

/// The documents found under a corpus folder, and the entries that could not be listed.
#[derive(Debug, Default)]
pub struct Listing {
    /// The documents, sorted by source.
    pub files: Vec<SourceFile>,
    /// What the walker could not list (an unreadable folder, a broken ignore file), one line
    /// each: the caller warns about them.
    pub unlisted: Vec<String>,
}

/// Why a corpus folder could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// It cannot be read (it does not exist, or may not be read).
    #[error("cannot read corpus folder: {cause}")]
    Missing {
        /// The I/O error, on one line.
        cause: String,
    },
    /// It is not a folder.
    #[error("the corpus is not a folder")]
    NotFolder,
    /// A file in it could not be read.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Lists the documents under `corpus` (files with one of `extensions`), sorted by path: hidden
/// files and whatever the `.gitignore`/`.ignore` files inside the corpus exclude are skipped
/// (not those of folders above it, nor git's global or per-repository excludes: what is
/// indexed depends on the corpus folder alone), and so are index folders (`index_dir`, and
/// any folder `is_index` says holds an index: an index never indexes itself). Symbolic links
/// are never followed, the corpus folder itself included: `corpus` must be a resolved path.
pub fn list_files(
    corpus: &Path,
    extensions: &[String],
    index_dir: &Path,
    is_index: fn(&Path) -> bool,
) -> Result<Listing, ListError> {
    let meta = fs::symlink_metadata(corpus).map_err(|e| ListError::Missing {
        cause: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(ListError::NotFolder);
    }
    let index_dir = fs::canonicalize(index_dir).ok();
    let mut listing = Listing::default();
    let walker = ignore::WalkBuilder::new(corpus)
        .follow_links(false)
        .require_git(false)
        .parents(false)
        .git_global(false)
        .git_exclude(false)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && e.depth() > 0
                && (is_index(e.path()) || index_dir.as_deref() == Some(e.path())))
        })
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                listing.unlisted.push(err.to_string());
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
        let (source, unusable) = match source_name(rel) {
            Ok(source) => (source, None),
            Err((escaped, why)) => (escaped, Some(why)),
        };
        let md = entry
            .metadata()
            .with_context(|| format!("cannot read {}", path.display()))?;
        listing.files.push(SourceFile {
            source,
            path: path.to_path_buf(),
            size: md.len(),
            mtime_ns: mtime_ns(&md),
            unusable,
        });
    }
    listing.files.sort_by(|a, b| a.source.cmp(&b.source));
    Ok(listing)
}

/// A file's modification time as the index records it: nanoseconds since the epoch, 0 when
/// the platform cannot tell.
pub fn mtime_ns(md: &fs::Metadata) -> u64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A path relative to the corpus as citations name it, with `/`. A name that cannot be one is
/// `Err((escaped name, why))`: one that is not UTF-8 (a lossy copy would name no file) or
/// that holds a control character or line separator (it would break the one-line output
/// and could not be typed back as `FILE:LINE`), or an invisible character (a direction
/// override would show `rlo\u{202e}gpj.txt` as `rlotxt.jpg` in a citation).
fn source_name(rel: &Path) -> Result<String, (String, String)> {
    let line_break = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}')
            || crate::text::analysis::is_invisible(c)
    };
    let escape = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if line_break(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let Some(name) = rel.to_str() else {
        #[cfg(unix)]
        let escaped: String = {
            use std::os::unix::ffi::OsStrExt;
            rel.as_os_str()
                .as_bytes()
                .utf8_chunks()
                .map(|c| {
                    let bad: String = c.invalid().iter().map(|b| format!("\\x{b:02x}")).collect();
                    escape(c.valid()) + &bad
                })
                .collect()
        };
        #[cfg(not(unix))]
        let escaped = escape(&rel.to_string_lossy());
        let why = "its file name is not valid UTF-8, so it could not be cited or shown: rename it";
        return Err((escaped, why.into()));
    };
    if name.chars().any(line_break) {
        let why = "its file name holds a line break, a control or an invisible character, which would break or disguise one-line output and citations: rename it";
        return Err((escape(name), why.into()));
    }
    Ok(if std::path::MAIN_SEPARATOR == '/' {
        name.to_string()
    } else {
        name.replace(std::path::MAIN_SEPARATOR, "/")
    })
}

/// Splits a document into passages and metadata.
pub fn parse_document(source: &str, content: &str) -> Document {
    let mut parser = Parser::new(source);
    let mut passages = parser.push(content);
    let (rest, meta) = parser.finish();
    passages.extend(rest);
    Document {
        source: source.to_string(),
        meta,
        passages,
    }
}

/// A block of text is parsed at a time: it ends after the first blank line past this many
/// bytes, so that memory does not grow with the size of a file.
const BLOCK: usize = 1 << 20;
/// A block without blank lines ends after the first line end past this many bytes.
const MAX_BLOCK: usize = 4 * BLOCK;
/// A line longer than this is parsed in windows of this many bytes, each cut into passages
/// (see [`split_long`]) whose last, unfinished one starts the next window.
const LONG_LINE: usize = BLOCK;

/// Parses a document as its text comes in ([`Parser::push`]), a block of lines at a time;
/// where blocks fall depends only on the text, so the passages are the same however the text
/// is pushed. Markup and hard-wrapped lines are not joined across blocks.
pub struct Parser {
    source: String,
    join_wrapped: bool,
    meta: Meta,
    paragraph: usize,
    /// Lines before `pending` (0-based index of its first line).
    line: usize,
    /// Whether a block was parsed (front matter is only looked for in the first).
    started: bool,
    /// Text not parsed yet, line ends normalised.
    pending: String,
    /// Bytes of `pending` known to hold no place to cut (whole lines).
    scanned: usize,
    /// The last push ended in CR: a line end, one with the LF that may follow.
    cr: bool,
    long: Option<LongLine>,
}

/// Where [`Parser`] is in a line longer than [`LONG_LINE`].
struct LongLine {
    paragraph_before: usize,
    /// Characters of the line before `pending`.
    column: usize,
    visible: bool,
}

enum Cut {
    /// A block: the first bytes of `pending`.
    Block(usize),
    /// A long line starts at this byte of `pending`.
    LongLine(usize),
}

impl Parser {
    pub fn new(source: &str) -> Parser {
        Parser {
            source: source.to_string(),
            join_wrapped: is_markdown_name(source),
            meta: Meta::default(),
            paragraph: 0,
            line: 0,
            started: false,
            pending: String::new(),
            scanned: 0,
            cr: false,
            long: None,
        }
    }

    /// Takes in the next piece of the text; the passages it completes.
    pub fn push(&mut self, text: &str) -> Vec<Passage> {
        self.append(text);
        let mut out = Vec::new();
        while self.step(&mut out, false) {}
        out
    }

    /// The remaining passages and the document's metadata.
    pub fn finish(mut self) -> (Vec<Passage>, Meta) {
        if std::mem::take(&mut self.cr) {
            self.pending.push('\n');
        }
        let mut out = Vec::new();
        while self.step(&mut out, true) {}
        if self.meta.title.is_none() {
            // Else the file name, without folders and extension.
            let name = self.source.rsplit('/').next().unwrap_or(&self.source);
            let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
            self.meta.title = Some(stem.to_string());
        }
        (out, self.meta)
    }

    /// Appends `text` with CRLF and lone CR made LF (a CR at its end waits for the next push).
    fn append(&mut self, mut text: &str) {
        if text.is_empty() {
            return;
        }
        if std::mem::take(&mut self.cr) {
            self.pending.push('\n');
            text = text.strip_prefix('\n').unwrap_or(text);
        }
        if let Some(t) = text.strip_suffix('\r') {
            self.cr = true;
            text = t;
        }
        if text.contains('\r') {
            self.pending
                .push_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
        } else {
            self.pending.push_str(text);
        }
    }

    /// Parses what can be parsed of `pending`; whether anything was.
    fn step(&mut self, out: &mut Vec<Passage>, at_end: bool) -> bool {
        if self.long.is_some() {
            return self.step_long(out, at_end);
        }
        let cut = match self.find_cut() {
            Some(cut) => cut,
            None if at_end && !self.pending.is_empty() => Cut::Block(self.pending.len()),
            None => return false,
        };
        let (block_end, long) = match cut {
            Cut::Block(end) => (end, false),
            Cut::LongLine(start) => (start, true),
        };
        if block_end > 0 {
            let block: String = self.pending.drain(..block_end).collect();
            self.parse_block(&block, out);
            self.line += block.matches('\n').count();
        }
        self.scanned = 0;
        if long {
            self.long = Some(LongLine {
                paragraph_before: self.paragraph,
                column: 0,
                visible: false,
            });
        }
        true
    }

    /// The first place `pending` can be cut, if it holds one yet.
    fn find_cut(&mut self) -> Option<Cut> {
        let mut pos = self.scanned;
        while let Some(i) = self.pending[pos..].find('\n') {
            let end = pos + i + 1;
            if i > LONG_LINE {
                return Some(Cut::LongLine(pos));
            }
            let blank = self.pending[pos..end].trim().is_empty();
            if (end >= BLOCK && blank) || end >= MAX_BLOCK {
                return Some(Cut::Block(end));
            }
            pos = end;
        }
        self.scanned = pos;
        (self.pending.len() - pos > LONG_LINE).then_some(Cut::LongLine(pos))
    }

    /// Parses the next window of a long line.
    fn step_long(&mut self, out: &mut Vec<Passage>, at_end: bool) -> bool {
        let newline = self.pending.find('\n').filter(|&i| i <= LONG_LINE);
        let (end, last) = match newline {
            Some(i) => (i, true),
            None if self.pending.len() > LONG_LINE => (floor_char(&self.pending, LONG_LINE), false),
            None if at_end => (self.pending.len(), true),
            None => return false,
        };
        let long = self.long.as_mut().expect("in a long line");
        let column = long.column;
        self.paragraph = long.paragraph_before;
        let window = self.pending[..end].to_string();
        let mut passages = Vec::new();
        self.parse_block(&window, &mut passages);
        // The last piece of a window may end anywhere: it starts the next window instead.
        let carried = match passages.last() {
            Some(p) if !last && p.columns.is_some() && p.text.len() < end => passages.pop(),
            _ => None,
        };
        let long = self.long.as_mut().expect("in a long line");
        for mut p in passages {
            let (c0, c1) = p.columns.unwrap_or((1, p.text.chars().count()));
            p.columns = Some((column + c0, column + c1));
            long.visible |= p.paragraph > 0;
            out.push(p);
        }
        let consumed = carried.as_ref().map_or(end, |p| end - p.text.len());
        long.column += self.pending[..consumed].chars().count();
        self.pending.drain(..consumed);
        if last {
            self.pending.drain(..newline.map_or(0, |_| 1));
            self.paragraph = long.paragraph_before + usize::from(long.visible);
            self.line += 1;
            self.long = None;
        }
        true
    }

    /// Parses a block of whole lines (the last may lack its line end).
    fn parse_block(&mut self, clean: &str, out: &mut Vec<Passage>) {
        let lines = markup::line_starts(clean);
        let mut body_line = 0;
        if !std::mem::replace(&mut self.started, true) {
            body_line = self.front_matter(clean, &lines, out);
        }
        let line_text = |i: usize| -> &str {
            let end = lines.get(i + 1).map_or(clean.len(), |&e| e - 1);
            &clean[lines[i]..end]
        };
        let body_start = lines.get(body_line).copied().unwrap_or(clean.len());
        let marks = markup::visible_lines(&clean[body_start..]);
        if self.meta.title.is_none() {
            self.meta.title = marks
                .iter()
                .find(|m| m.heading && m.has_visible_text())
                .map(|m| joined_text(&m.pieces).trim().to_string());
        }
        let first = self.line + body_line + 1;
        let mut i = 0;
        while i < marks.len() {
            if !marks[i].has_visible_text() {
                // Markup with Chinese text in it (`<p id='进群-banner'>`) stays findable as a
                // passage of paragraph 0, since the raw line is what `text` shows.
                let line = line_text(body_line + i);
                if line.chars().any(chars::is_han) {
                    out.push(Passage {
                        line_start: first + i,
                        line_end: first + i,
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
            while self.join_wrapped
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
                    visible.push(Piece::verbatim(clean, nl..nl + 1).shifted(start));
                }
                visible.extend(m.pieces.iter().map(|p| p.shifted(start - body_start)));
            }
            self.paragraph += 1;
            let passage = Passage {
                line_start: first + i,
                line_end: first + j,
                paragraph: self.paragraph,
                text: clean[start..end].to_string(),
                visible,
                columns: None,
                front_matter: false,
            };
            if passage.text.len() > MAX_PASSAGE_CHARS && passage.line_start == passage.line_end {
                out.extend(split_long(passage));
            } else {
                out.push(passage);
            }
            i = j + 1;
        }
    }

    /// Front matter opening the first block: its values as passages; the first body line.
    fn front_matter(&mut self, clean: &str, lines: &[usize], out: &mut Vec<Passage>) -> usize {
        let line_text = |i: usize| -> &str {
            let end = lines.get(i + 1).map_or(clean.len(), |&e| e - 1);
            &clean[lines[i]..end]
        };
        let Some(close) = front_matter_end(lines, &line_text) else {
            return 0;
        };
        for i in 1..close {
            let line = line_text(i);
            if let Some((key, value)) = yaml_scalar(line) {
                let value_text = Some(line[value.clone()].to_string());
                match key {
                    "title" => self.meta.title = value_text,
                    "date" => self.meta.date = value_text,
                    "author" => self.meta.author = value_text,
                    "url" => self.meta.url = value_text,
                    _ => {}
                }
                out.push(Passage {
                    line_start: self.line + i + 1,
                    line_end: self.line + i + 1,
                    paragraph: 0,
                    text: line.to_string(),
                    visible: vec![Piece::verbatim(line, value)],
                    columns: None,
                    front_matter: true,
                });
            }
        }
        close + 1
    }
}

/// The largest char boundary of `s` at or before `at`.
fn floor_char(s: &str, at: usize) -> usize {
    (0..=at.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
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
                .rfind(|&(_, c)| chars::is_sentence_end(c))
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

fn is_markdown_name(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// The lines of a file as an editor shows them (see `normalize_line_ends`).
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
    let ends_sentence = prev_text.trim_end().chars().next_back().is_some_and(|c| {
        chars::is_sentence_end(c)
            || chars::is_ellipsis(c)
            || chars::is_colon(c)
            || chars::is_closing_quote(c)
    });
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

    /// What a parser makes of `text` pushed in pieces of `size` bytes (at char boundaries).
    fn pushed(source: &str, text: &str, size: usize) -> (Vec<Passage>, Meta) {
        let mut parser = Parser::new(source);
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = floor_char(rest, size);
            if cut == 0 {
                cut = rest.chars().next().map_or(0, char::len_utf8);
            }
            out.extend(parser.push(&rest[..cut]));
            rest = &rest[cut..];
        }
        let (last, meta) = parser.finish();
        out.extend(last);
        (out, meta)
    }

    #[test]
    fn large_files_parse_the_same_however_they_are_pushed() {
        // Front matter, CRLF, markup, a blank-line-free run past a block, a line longer
        // than a window, and blocks cut at blank lines.
        let mut text = String::from("---\r\ntitle: 大文件\r\n---\r\n# 標題\r\n\r\n");
        for i in 0..150_000 {
            text.push_str(&format!("第{i}行**粗體**內容\r\n"));
        }
        let sentence = "這是很長的一行裡的一個句子，內容重複。";
        text.push_str(&sentence.repeat(70_000));
        text.push('\r');
        for i in 0..60_000 {
            text.push_str(&format!("段落{i}\n\n"));
        }
        text.push_str("最後一行");
        let (whole, meta) = pushed("big.md", &text, usize::MAX);
        assert_eq!(meta.title.as_deref(), Some("大文件"));
        for size in [1000, 65_537, 1 << 20] {
            let (parts, _) = pushed("big.md", &text, size);
            assert_eq!(parts, whole, "pushed in pieces of {size} bytes");
        }
        // Every line is there, with its number, once.
        let long_line = 150_000 + 6;
        assert_eq!((whole[1].line_start, whole[2].line_start), (4, 6));
        assert_eq!(whole.last().unwrap().line_start, long_line + 1 + 2 * 60_000);
        assert_eq!(whole.last().unwrap().text, "最後一行");
        // The long line is cut exactly as a line of any length is: contiguous columns, each
        // piece at most 1000 characters, ending a sentence.
        let pieces: Vec<&Passage> = whole.iter().filter(|p| p.line_start == long_line).collect();
        let mut column = 1;
        let mut rebuilt = String::new();
        for p in &pieces {
            let (c0, c1) = p.columns.unwrap();
            assert_eq!((c0, c1 - c0 + 1), (column, p.text.chars().count()));
            assert!(p.text.chars().count() <= MAX_PASSAGE_CHARS && p.text.ends_with('。'));
            column = c1 + 1;
            rebuilt.push_str(&p.text);
        }
        let line = sentence.repeat(70_000);
        assert_eq!(rebuilt, line);
        let at_once = split_long(Passage {
            line_start: 1,
            line_end: 1,
            paragraph: 1,
            visible: vec![Piece::verbatim(&line, 0..line.len())],
            text: line,
            columns: None,
            front_matter: false,
        });
        let cuts = |ps: &[&Passage]| ps.iter().map(|p| p.columns).collect::<Vec<_>>();
        assert_eq!(cuts(&pieces), cuts(&at_once.iter().collect::<Vec<_>>()));
        let paragraphs: Vec<usize> = pieces.iter().map(|p| p.paragraph).collect();
        assert!(paragraphs.iter().all(|&n| n == paragraphs[0]));
        let after = whole
            .iter()
            .find(|p| p.line_start == long_line + 1)
            .unwrap();
        assert_eq!(after.paragraph, paragraphs[0] + 1);
    }

    #[test]
    fn line_ends_split_between_pushes_are_read_alike() {
        let parts = [
            "一", "\r", "\n", "\r\n", "**粗**", "---", "title: t", "# 題", " ", "。",
        ];
        let mut seed = 7u64;
        for _ in 0..300 {
            let mut text = String::new();
            for _ in 0..40 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(parts[(seed >> 33) as usize % parts.len()]);
            }
            let whole = parse_document("r.md", &text);
            for size in [1, 2, 3, 5] {
                let (passages, meta) = pushed("r.md", &text, size);
                assert_eq!(passages, whole.passages, "{text:?} in pieces of {size}");
                assert_eq!(meta, whole.meta);
            }
        }
    }
}
