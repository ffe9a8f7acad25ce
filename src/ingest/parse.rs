//! Cutting a document into passages as its text comes in, with what a reader sees of its
//! markup and its front matter.

use std::ops::Range;

use crate::ingest::markup::{self, LineMarkup};
use crate::text::analysis::Piece;
use crate::text::chars;

/// Metadata of a document, from its front matter; the title falls back to the first heading,
/// then to the file name.
pub type Meta = crate::model::DocMeta;

/// A paragraph as a reader sees it, where it is in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// First line, 1-based.
    pub line_start: usize,
    /// Last line, 1-based, inclusive.
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
    /// Whether it is a value of the front matter.
    pub fn is_front_matter(&self) -> bool {
        self.front_matter
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
    /// A parser for the document `source` (its name decides whether it is Markdown).
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
            let block = self.pending[..block_end].to_string();
            self.pending.drain(..block_end);
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

    /// Sets the metadata a front matter `key` names (in any case) to `value`.
    fn set_meta(&mut self, key: &str, value: Option<String>) {
        match key.to_lowercase().as_str() {
            "title" => self.meta.title = value,
            "date" => self.meta.date = value,
            "author" => self.meta.author = value,
            "url" => self.meta.url = value,
            _ => {}
        }
    }

    /// A YAML list of values under a key (`author:` then `- 甲`, `- 乙`): the metadata it
    /// names, its items joined with `, `.
    fn end_list(&mut self, list: Option<(String, Vec<String>)>) {
        if let Some((key, items)) = list.filter(|(_, items)| !items.is_empty()) {
            self.set_meta(&key, Some(items.join(", ")));
        }
    }

    /// Front matter opening the first block: its values as passages; the first body line.
    fn front_matter(&mut self, clean: &str, lines: &[usize], out: &mut Vec<Passage>) -> usize {
        let line_text = |i: usize| -> &str {
            let end = lines.get(i + 1).map_or(clean.len(), |&e| e - 1);
            &clean[lines[i]..end]
        };
        let Some((close, toml)) = front_matter_end(lines, &line_text) else {
            return 0;
        };
        // TOML keys after a `[table]` header are that table's, not the document's: their
        // values are findable, but no title or date.
        let top = (1..close)
            .find(|&i| toml && line_text(i).starts_with('['))
            .unwrap_or(close);
        // A YAML key with no value on its line, whose list items follow (`author:` `- 甲`).
        let mut list: Option<(String, Vec<String>)> = None;
        for i in 1..close {
            let line = line_text(i);
            let scalar = if toml {
                toml_scalar(line)
            } else {
                yaml_scalar(line)
            };
            let value = match (scalar, yaml_item(line)) {
                (Some((key, value)), _) => {
                    if i < top {
                        self.set_meta(key, Some(line[value.clone()].to_string()));
                    }
                    self.end_list(list.take());
                    value
                }
                (None, Some(value)) if !toml => {
                    if let Some((_, items)) = &mut list {
                        items.push(line[value.clone()].to_string());
                    }
                    value
                }
                _ => {
                    self.end_list(list.take());
                    list = yaml_key(line)
                        .filter(|_| !toml)
                        .map(|k| (k.to_string(), Vec::new()));
                    continue;
                }
            };
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
        self.end_list(list);
        close + 1
    }
}

/// The largest char boundary of `s` at or before `at`.
pub(crate) fn floor_char(s: &str, at: usize) -> usize {
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
pub(crate) fn split_long(p: Passage) -> Vec<Passage> {
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

/// Index of the line closing a front matter block that opens on the first line: YAML between
/// `---` lines (closed by `---` or `...`), or TOML between `+++` lines (Hugo); whether TOML.
fn front_matter_end<'a>(
    lines: &[usize],
    line_text: &impl Fn(usize) -> &'a str,
) -> Option<(usize, bool)> {
    let toml = match line_text(0).trim_end() {
        _ if lines.len() < 2 => return None,
        "---" => false,
        "+++" => true,
        _ => return None,
    };
    let closes = |l: &str| {
        if toml {
            l == "+++"
        } else {
            matches!(l, "---" | "...")
        }
    };
    let close = (1..lines.len()).find(|&i| closes(line_text(i).trim_end()))?;
    // Only a block that reads as front matter is one: `---`, a paragraph, `---` are a
    // paragraph between two rules, and must stay findable.
    let fits = |l: &str| {
        // Indented, a comment, a list item, or a key left empty (`: x`).
        let more = l.starts_with([' ', '\t', '#', ':']) || yaml_item(l).is_some();
        l.trim().is_empty()
            || if toml {
                toml_scalar(l).is_some() || l.starts_with(['[', ']', ' ', '\t', '#', '"'])
            } else {
                yaml_key(l).is_some() || more
            }
    };
    let keyed = (1..close).any(|i| {
        let l = line_text(i);
        if toml {
            toml_scalar(l).is_some()
        } else {
            yaml_key(l).is_some()
        }
    });
    (keyed && (1..close).all(|i| fits(line_text(i)))).then_some((close, toml))
}

/// The key of a top-level YAML `key:` or `key: value` line (a short name, no sentence).
fn yaml_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    let colon = line
        .find(": ")
        .or_else(|| line.strip_suffix(':').map(str::len))?;
    let key = line[..colon].trim();
    let name = |c: char| !"。，、；！？,.;!?\"'()（）「」".contains(c);
    (!key.is_empty() && key.chars().count() <= 40 && key.chars().all(name)).then_some(key)
}

/// The value's byte range of a YAML list item (`- 甲`, indented or not).
fn yaml_item(line: &str) -> Option<Range<usize>> {
    let lead = line.len() - line.trim_start().len();
    let rest = line[lead..].strip_prefix("- ")?;
    let start = line.len() - rest.trim_start().len();
    let end = line.trim_end().len();
    (end > start).then_some(start..end)
}

/// A top-level TOML `key = value` line; the value's byte range, unquoted (`"…"`, `'…'`) when
/// quoted, as written when not (`date = 2024-03-05`). Tables and arrays of tables are not
/// read.
fn toml_scalar(line: &str) -> Option<(&str, Range<usize>)> {
    if line.starts_with([' ', '\t', '#', '[']) {
        return None;
    }
    let eq = line.find('=')?;
    let key = line[..eq].trim().trim_matches(['"', '\'']);
    let raw = &line[eq + 1..];
    let lead = raw.len() - raw.trim_start().len();
    let (mut start, mut end) = (eq + 1 + lead, eq + 1 + raw.trim_end().len());
    let value = &line[start..end];
    let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
    if quoted('"') || quoted('\'') {
        start += 1;
        end -= 1;
    }
    let bare_key = key
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    (end > start && !key.is_empty() && bare_key).then_some((key, start..end))
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

pub(crate) fn joined_text(pieces: &[Piece]) -> String {
    pieces.iter().map(|p| p.text.as_str()).collect()
}
