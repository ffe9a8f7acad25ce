//! What a reader sees of a Markdown/HTML body, line by line.
//!
//! pulldown-cmark does the parsing (emphasis, links, images, code, entities, HTML blocks); this
//! module turns its events into, for every line, the visible text with its source byte ranges,
//! plus the block structure the passage splitter needs (which lines share a paragraph, which
//! line is a heading). Inside HTML only the text between tags is visible.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag};

use crate::text::analysis::Piece;

/// The visible text of one line of the body.
#[derive(Debug, Clone, Default)]
pub struct LineMarkup {
    /// Visible text, with byte ranges into the body.
    pub pieces: Vec<Piece>,
    /// Identifier of the Markdown paragraph the line belongs to, if any.
    pub paragraph: Option<usize>,
    /// The line is (part of) a heading.
    pub heading: bool,
}

impl LineMarkup {
    /// Whether a reader sees any text on the line.
    pub fn has_visible_text(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| p.text.chars().any(|c| !c.is_whitespace()))
    }
}

/// Splits `body` into lines (on `\n`) and finds what is visible on each.
pub fn visible_lines(body: &str) -> Vec<LineMarkup> {
    let line_starts = line_starts(body);
    let mut lines = vec![LineMarkup::default(); line_starts.len()];
    let line_of = |byte: usize| {
        line_starts
            .partition_point(|&s| s <= byte)
            .saturating_sub(1)
    };
    let mut paragraphs = 0;

    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Paragraph) => {
                paragraphs += 1;
                for line in &mut lines[line_of(range.start)..=line_of(range.end.saturating_sub(1))]
                {
                    line.paragraph = Some(paragraphs);
                }
            }
            Event::Start(Tag::Heading { .. }) => {
                for line in &mut lines[line_of(range.start)..=line_of(range.end.saturating_sub(1))]
                {
                    line.heading = true;
                }
            }
            Event::Text(text) | Event::Code(text) => {
                for piece in locate(body, &text, range) {
                    lines[line_of(piece.orig.start)].pieces.push(piece);
                }
            }
            Event::Html(_) | Event::InlineHtml(_) => {
                let text_spans = html_text(body, range).into_iter();
                for piece in text_spans.flat_map(|r| split_lines(body, r)) {
                    if !piece.text.trim().is_empty() {
                        lines[line_of(piece.orig.start)].pieces.push(piece);
                    }
                }
            }
            _ => {}
        }
    }
    lines
}

/// Byte offset of the start of every line.
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// Places the text of an event on the source, line by line. Text that is not a copy of its
/// source (an entity, an escape) stands for its whole range; multi-line text (a code block,
/// which may sit inside a block quote) is found line by line in the range.
fn locate(body: &str, text: &str, range: Range<usize>) -> Vec<Piece> {
    let slice = &body[range.clone()];
    if slice == text {
        return split_lines(body, range);
    }
    if !slice.contains('\n') {
        return vec![Piece::mapped(text, range)];
    }
    let mut out = Vec::new();
    let mut pos = range.start;
    for segment in text.split('\n').filter(|s| !s.is_empty()) {
        if let Some(at) = body[pos..range.end].find(segment) {
            out.push(Piece::verbatim(body, pos + at..pos + at + segment.len()));
            pos += at + segment.len();
        } else {
            let line_end = body[pos..range.end]
                .find('\n')
                .map_or(range.end, |i| pos + i);
            out.push(Piece::mapped(segment, pos..line_end));
        }
    }
    out
}

/// Verbatim pieces of `body[range]`, one per line.
fn split_lines(body: &str, range: Range<usize>) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut start = range.start;
    for (i, _) in body[range.clone()].match_indices('\n') {
        let end = range.start + i;
        if end > start {
            out.push(Piece::verbatim(body, start..end));
        }
        start = end + 1;
    }
    if range.end > start {
        out.push(Piece::verbatim(body, start..range.end));
    }
    out
}

/// Byte ranges of the text outside tags and comments in `body[range]`.
fn html_text(body: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let html = &body[range.clone()];
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let tag_end = if html[i..].starts_with("<!--") {
                html[i..].find("-->").map(|e| i + e + 3)
            } else if bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?'))
            {
                tag_close(bytes, i)
            } else {
                None
            };
            if let Some(end) = tag_end {
                if i > text_start {
                    out.push(range.start + text_start..range.start + i);
                }
                text_start = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    if bytes.len() > text_start {
        out.push(range.start + text_start..range.end);
    }
    out
}

/// End of a tag starting at `start` (`<`), skipping `>` inside quoted attribute values.
fn tag_close(bytes: &[u8], start: usize) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate().skip(start + 1) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(i + 1),
            None => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(body: &str) -> Vec<String> {
        visible_lines(body)
            .iter()
            .map(|l| l.pieces.iter().map(|p| p.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn strips_inline_markup() {
        let body = "# 標題 #\n**组织全称**: Alibaba (阿里云)\n![图片说明](https://x/y.png 'image.png')\n[链接文字](https://example.com) `code`\n";
        assert_eq!(
            visible(body),
            vec![
                "標題",
                "组织全称: Alibaba (阿里云)",
                "图片说明",
                "链接文字 code",
                ""
            ]
        );
        let lines = visible_lines(body);
        assert!(lines[0].heading);
        assert!(!lines[1].heading);
    }

    #[test]
    fn html_blocks_keep_text_between_tags() {
        let body = "<p align=\"center\" id='进群-banner'>\n\t👉 <a target=\"_blank\" href=\"https://a/\">项目官网：https://a/</a> 👈\n</p>\n";
        let v = visible(body);
        assert_eq!(v[0], "");
        assert!(v[1].contains("项目官网：https://a/"));
        assert!(!v[1].contains("href"));
        assert_eq!(v[2], "");
    }

    #[test]
    fn pieces_point_at_their_source() {
        let body = "前文 **重點** 後文\n```\n代码块 内容\n```\n";
        for line in visible_lines(body) {
            for p in line.pieces {
                assert_eq!(&body[p.orig.clone()], p.text);
            }
        }
        assert_eq!(visible(body)[2], "代码块 内容");
    }

    #[test]
    fn plain_lines_share_a_paragraph() {
        let lines = visible_lines("第一行\n第二行\n\n第三行\n");
        assert_eq!(lines[0].paragraph, lines[1].paragraph);
        assert_ne!(lines[1].paragraph, lines[3].paragraph);
        assert_eq!(lines[2].paragraph, None);
    }

    #[test]
    fn entities_map_to_their_range() {
        let body = "a &amp; b";
        let pieces = &visible_lines(body)[0].pieces;
        let amp = pieces.iter().find(|p| p.text == "&").unwrap();
        assert_eq!(&body[amp.orig.clone()], "&amp;");
    }
}
