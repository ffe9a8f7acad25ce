//! Citations for writing: the quote (the sentences holding the match, or the whole passage),
//! always a verbatim slice of the source, and an attribution that leads back to the spot.

use std::ops::Range;

use serde::Serialize;

use crate::ingest::markup;
use crate::model::{DocMeta, Hit, LineSpan, MatchKind};
use crate::text::chars;
use crate::text::opencc::{self, Conversion};

/// The label of a quote found by meaning (`cite --semantic`), with its similarity.
pub fn semantic_label(similarity: f32) -> String {
    format!(
        "similar in meaning only (similarity {similarity:.2}): the passage may not say what the query says"
    )
}

/// How a quote from a passage that matches only part of the query is labelled.
pub const PARTIAL_LABEL: &str = "partial match: the passage does not hold every term of the query";

/// How much of a passage to quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuoteMode {
    /// The sentence(s) holding the match.
    Sentence,
    /// The whole passage.
    Paragraph,
}

/// A script to convert the quote to, besides the verbatim original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    /// Simplified Chinese (OpenCC t2s).
    Simplified,
    /// Traditional Chinese (OpenCC s2t).
    Traditional,
}

/// What an attribution names: the document, the lines, and the paragraph they start in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The document's title, author, date and address.
    #[serde(flatten)]
    pub meta: DocMeta,
    /// The lines cited.
    #[serde(flatten)]
    pub span: LineSpan,
    /// The paragraph the lines start in (0: a line that is not a paragraph, such as front
    /// matter), when they start in one.
    pub paragraph: Option<usize>,
}

impl Source {
    /// What a hit's attribution names.
    pub fn of_hit(hit: &Hit) -> Source {
        Source {
            meta: hit.meta.clone(),
            span: hit.span(),
            paragraph: Some(hit.paragraph),
        }
    }

    /// `作者, 《title》, date, file:57, ¶54, url`: whatever is known, in that order.
    pub fn attribution(&self) -> String {
        let m = &self.meta;
        let mut parts: Vec<String> = Vec::new();
        if let Some(a) = &m.author {
            parts.push(a.clone());
        }
        if let Some(t) = &m.title {
            parts.push(format!("《{t}》"));
        }
        if let Some(d) = &m.date {
            parts.push(d.clone());
        }
        parts.push(self.span.to_string());
        match self.paragraph {
            Some(p) if p > 0 => parts.push(format!("¶{p}")),
            _ => {}
        }
        if let Some(u) = &m.url {
            parts.push(u.clone());
        }
        parts.join(", ")
    }
}

/// A quote ready to paste.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Citation {
    /// Verbatim slice of the passage text.
    pub quote: String,
    /// Byte range of `quote` in the passage text.
    pub quote_range: [usize; 2],
    /// The quote converted to another script, when asked for.
    pub converted: Option<Converted>,
    /// `作者, 《title》, date, file:57, ¶54, url`: whatever is known.
    pub attribution: String,
    /// The quote as a Markdown block quote with its attribution.
    pub markdown: String,
    /// The quote in quotation marks with its attribution, as plain text.
    pub plain: String,
}

/// A quote converted to the other script (never the source's wording).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Converted {
    /// The script converted to.
    pub script: Script,
    /// The converted quote.
    pub text: String,
}

impl Converted {
    fn already(&self) -> &'static str {
        match self.script {
            Script::Simplified => "already in Simplified script: OpenCC changes nothing",
            Script::Traditional => "already in Traditional script: OpenCC changes nothing",
        }
    }

    fn label(&self) -> &'static str {
        match self.script {
            Script::Simplified => "converted to Simplified by OpenCC, not the source's wording",
            Script::Traditional => "converted to Traditional by OpenCC, not the source's wording",
        }
    }
}

/// The citation of `hit`: the quote (sentences or whole passage, see [`QuoteMode`]), always a
/// verbatim slice of the passage, and its attribution; `to` adds a converted copy.
pub fn cite(hit: &Hit, mode: QuoteMode, to: Option<Script>) -> Citation {
    let highlights: Vec<Range<usize>> = hit.highlights.iter().map(|h| h[0]..h[1]).collect();
    // A semantic hit holds no match to centre a sentence on: its whole passage is quoted.
    let range = match mode {
        _ if hit.match_kind == MatchKind::Semantic => visible_bounds(&hit.text),
        QuoteMode::Sentence => sentence_range(&hit.text, &highlights),
        QuoteMode::Paragraph => visible_bounds(&hit.text),
    };
    let range = balance_markup(&hit.text, range, &highlights);
    let quote = hit.text[range.clone()].to_string();
    let converted = to.map(|script| Converted {
        script,
        text: convert(script, &quote),
    });
    let attribution = Source::of_hit(hit).attribution();
    let block = |q: &str| {
        q.lines()
            .map(|l| format!("> {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut markdown = format!("{}\n\n— {attribution}", block(&quote));
    let mut plain = format!("“{quote}”（{attribution}）");
    if hit.match_kind == MatchKind::Partial {
        markdown.push_str(&format!("\n\n({PARTIAL_LABEL})"));
        plain.push_str(&format!("［{PARTIAL_LABEL}］"));
    }
    if hit.match_kind == MatchKind::Semantic {
        let label = semantic_label(hit.similarity.unwrap_or(0.0));
        markdown.push_str(&format!("\n\n({label})"));
        plain.push_str(&format!("［{label}］"));
    }
    match &converted {
        // Nothing to convert: say so, rather than repeat the quote labelled as converted.
        Some(c) if c.text == quote => {
            let already = c.already();
            markdown.push_str(&format!("\n\n({already})"));
            plain.push_str(&format!("\n（{already}）"));
        }
        Some(c) => {
            markdown.push_str(&format!("\n\n{}\n\n({})", block(&c.text), c.label()));
            plain.push_str(&format!("\n“{}”（{}）", c.text, c.label()));
        }
        None => {}
    }
    Citation {
        quote,
        quote_range: [range.start, range.end],
        converted,
        attribution,
        markdown,
        plain,
    }
}

fn convert(script: Script, s: &str) -> String {
    match script {
        Script::Simplified => opencc::convert(Conversion::T2s, s),
        Script::Traditional => opencc::convert(Conversion::S2t, s),
    }
}

/// Characters that end a sentence: a quote is cut at a line break too.
fn is_terminator(c: char) -> bool {
    chars::is_sentence_end(c) || chars::is_ellipsis(c) || c == '\n'
}

/// Closing marks that belong to the sentence they follow (`……」。` ends after `。`, and
/// `重點。**` keeps its closing emphasis).
fn is_closer(c: char) -> bool {
    chars::is_closing_mark(c) || matches!(c, '*' | '_' | '~' | '`')
}

/// Byte offsets where sentences start, including 0 and `text.len()`.
fn sentence_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if !is_terminator(c) {
            continue;
        }
        let mut end = None;
        while let Some(&(i, next)) = chars.peek() {
            if c != '\n' && (is_closer(next) || is_terminator(next) && next != '\n') {
                chars.next();
                continue;
            }
            end = Some(i);
            break;
        }
        if let Some(e) = end
            && e < text.len()
        {
            starts.push(e);
        }
    }
    starts.push(text.len());
    starts.dedup();
    starts
}

/// The sentences holding the first to the last highlight, trimmed to the visible text (no
/// heading or list marker); never narrower than the highlights.
pub fn sentence_range(text: &str, highlights: &[Range<usize>]) -> Range<usize> {
    let visible = visible_bounds(text);
    let (Some(first), Some(last)) = (highlights.first(), highlights.last()) else {
        return visible;
    };
    let starts = sentence_starts(text);
    let start = starts
        .iter()
        .copied()
        .filter(|&s| s <= first.start)
        .max()
        .unwrap_or(0);
    let end = starts
        .iter()
        .copied()
        .find(|&s| s >= last.end && s > start)
        .unwrap_or(text.len());
    // Clip to the visible text, unless the sentence lies wholly in markup.
    let clipped = start.max(visible.start)..end.min(visible.end);
    let range = trim(
        text,
        if clipped.is_empty() {
            start..end
        } else {
            clipped
        },
    );
    range.start.min(first.start)..range.end.max(last.end)
}

/// Code spans (`` `…` ``), emphasis (`*…*`, `**…**`) and links (`[…](…)`, `![…](…)`) of
/// `text`: each span with the lengths of its opening and closing delimiters (a link's closer
/// is `](url)`). A run of backticks pairs with the next run of the same length; outside
/// code, a run of asterisks pairs with the nearest open run of the same length. CommonMark's
/// flanking rules are not applied: they refuse `**重点。**之后` (punctuation before the closer,
/// a letter after it), which Chinese writers mean as emphasis. A run with white space (or a
/// line end) on both sides is a list marker, a rule or arithmetic, not a delimiter.
fn inline_spans(text: &str) -> Vec<(Range<usize>, usize, usize)> {
    let runs = |c: u8| {
        let mut runs: Vec<Range<usize>> = Vec::new();
        for (i, &b) in text.as_bytes().iter().enumerate() {
            match runs.last_mut() {
                Some(r) if b == c && r.end == i => r.end = i + 1,
                _ if b == c => runs.push(i..i + 1),
                _ => {}
            }
        }
        runs
    };
    let mut spans = Vec::new();
    let ticks = runs(b'`');
    let mut i = 0;
    while i < ticks.len() {
        let n = ticks[i].len();
        match (i + 1..ticks.len()).find(|&j| ticks[j].len() == n) {
            Some(j) => {
                spans.push((ticks[i].start..ticks[j].end, n, n));
                i = j + 1;
            }
            None => i += 1,
        }
    }
    let code: Vec<Range<usize>> = spans.iter().map(|(s, _, _)| s.clone()).collect();
    let in_code = |at: usize| code.iter().any(|s| s.contains(&at));
    let spaced = |r: &Range<usize>| {
        let before = text[..r.start].chars().next_back();
        let after = text[r.end..].chars().next();
        before.is_none_or(char::is_whitespace) && after.is_none_or(char::is_whitespace)
    };
    let mut open: Vec<Range<usize>> = Vec::new();
    let stars: Vec<Range<usize>> = runs(b'*')
        .into_iter()
        .filter(|r| !in_code(r.start) && !spaced(r))
        .collect();
    for run in stars {
        match open.iter().rposition(|o| o.len() == run.len()) {
            Some(p) => {
                spans.push((open[p].start..run.end, run.len(), run.len()));
                open.truncate(p);
            }
            None => open.push(run),
        }
    }
    spans.extend(links(text, &in_code));
    spans
}

/// Inline links and images outside code: `[text](url)` or `![alt](url)`, nested too (an image
/// as a link's text, `[![alt](src)](url)`): brackets and parentheses are paired as they nest.
fn links(text: &str, in_code: &dyn Fn(usize) -> bool) -> Vec<(Range<usize>, usize, usize)> {
    let b = text.as_bytes();
    let pairs = |open: u8, close: u8| {
        let mut closer = vec![None; b.len()];
        let mut stack = Vec::new();
        for (i, &c) in b.iter().enumerate() {
            if in_code(i) {
                continue;
            }
            if c == open {
                stack.push(i);
            } else if c == close
                && let Some(o) = stack.pop()
            {
                closer[o] = Some(i);
            }
        }
        closer
    };
    let (brackets, parens) = (pairs(b'[', b']'), pairs(b'(', b')'));
    let mut out = Vec::new();
    for (i, c) in brackets.iter().enumerate() {
        let Some(c) = *c else { continue };
        if b.get(c + 1) != Some(&b'(') {
            continue;
        }
        if let Some(e) = parens[c + 1] {
            let open = if i > 0 && b[i - 1] == b'!' { 2 } else { 1 };
            out.push((i + 1 - open..e + 1, open, e + 1 - c));
        }
    }
    out
}

/// `range` widened or narrowed so that no emphasis or code span is cut: a quote holding an
/// opening delimiter holds its closer too (or, when the opener starts the quote and the
/// closer is not right after it, loses the opener), and the same for a closer. A pasted
/// quote then renders as the source does. Highlights stay inside.
fn balance_markup(text: &str, range: Range<usize>, highlights: &[Range<usize>]) -> Range<usize> {
    let spans = inline_spans(text);
    let mut r = range;
    let blank = |a: usize, b: usize| a >= b || text[a..b].trim().is_empty();
    let lit = |from: usize, to: usize| highlights.iter().any(|h| h.start < to && h.end > from);
    // Each pass fixes what the previous one's widening cut; spans are nested, so this ends.
    for _ in 0..=spans.len() {
        let before = r.clone();
        for (span, ko, kc) in &spans {
            let open = span.start..span.start + ko;
            let close = span.end - kc..span.end;
            let has = |d: &Range<usize>| r.start <= d.start && d.end <= r.end;
            let cuts = |d: &Range<usize>| r.start < d.end && d.start < r.end && !has(d);
            // The quote is the whole emphasised text: keep its emphasis.
            let whole = open.end <= r.start && r.end <= close.start;
            if cuts(&open)
                || cuts(&close)
                || whole && blank(open.end, r.start) && blank(r.end, close.start)
            {
                r = r.start.min(span.start)..r.end.max(span.end);
            } else if has(&open) && !has(&close) {
                let drop = r.start == open.start
                    && !blank(r.end, close.start)
                    && !lit(open.start, open.end);
                r = if drop {
                    open.end..r.end
                } else {
                    r.start..span.end
                };
            } else if has(&close) && !has(&open) {
                let drop =
                    r.end == close.end && !blank(open.end, r.start) && !lit(close.start, close.end);
                r = if drop {
                    r.start..close.start
                } else {
                    span.start..r.end
                };
            }
        }
        if r == before {
            break;
        }
    }
    trim(text, r)
}

/// From the first to the last visible character of the passage (markup prefixes such as
/// `## ` or `- ` left out), trimmed of white space.
fn visible_bounds(text: &str) -> Range<usize> {
    let lines = markup::visible_lines(text);
    let pieces: Vec<&Range<usize>> = lines
        .iter()
        .flat_map(|l| l.pieces.iter().map(|p| &p.orig))
        .collect();
    let range = match (
        pieces.iter().map(|r| r.start).min(),
        pieces.iter().map(|r| r.end).max(),
    ) {
        (Some(s), Some(e)) if s < e => s..e,
        _ => 0..text.len(),
    };
    trim(text, range)
}

fn trim(text: &str, r: Range<usize>) -> Range<usize> {
    let Some(slice) = text.get(r.clone()) else {
        return r;
    };
    let start = r.start + (slice.len() - slice.trim_start().len());
    let end = r.end - (slice.len() - slice.trim_end().len());
    if start < end { start..end } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, needle: &str) -> String {
        let at = text.find(needle).unwrap();
        let r = sentence_range(text, std::slice::from_ref(&(at..at + needle.len())));
        text[r].to_string()
    }

    #[test]
    fn quotes_the_sentence_holding_the_match() {
        let t = "第一句話。第二句有目標，還有逗號！第三句。";
        assert_eq!(cut(t, "目標"), "第二句有目標，還有逗號！");
        // Closing marks stay with their sentence.
        let t = "他說：「阿里雲是拿命換來的。」後來的事。";
        assert_eq!(cut(t, "拿命"), "他說：「阿里雲是拿命換來的。」");
        let t = "换句话说，**先修路。**再收费。";
        assert_eq!(cut(t, "修路"), "换句话说，**先修路。**");
    }

    #[test]
    fn no_punctuation_quotes_the_passage() {
        let t = "  沒有標點的一整段文字 ";
        assert_eq!(cut(t, "標點"), "沒有標點的一整段文字");
    }

    #[test]
    fn a_match_across_two_sentences_quotes_both() {
        let t = "前文。甲乙丙。丁戊己。後文。";
        assert_eq!(cut(t, "丙。丁"), "甲乙丙。丁戊己。");
    }

    #[test]
    fn markdown_markers_are_left_out() {
        assert_eq!(cut("- 列表項目。第二句。", "項目"), "列表項目。");
        assert_eq!(
            cut("## 01 开源不是慈善，而是一盘大棋", "慈善"),
            "01 开源不是慈善，而是一盘大棋"
        );
        assert_eq!(cut("> 引用的話", "引用"), "引用的話");
    }

    #[test]
    fn a_sentence_outside_the_visible_text_does_not_panic() {
        // Found by `cargo fuzz run analysis`: the sentence ends before the visible text starts.
        let t = "<?>-`\u{0}\u{8}";
        let r = sentence_range(t, std::slice::from_ref(&(0..1)));
        assert!(t.get(r.clone()).is_some() && r.start == 0);
    }

    #[test]
    fn never_splits_a_character_or_drops_the_match() {
        let t = "𠀀𠀁。𠀂𠀃";
        for i in t.char_indices().map(|(i, _)| i) {
            let c = t[i..].chars().next().unwrap();
            let r = sentence_range(t, std::slice::from_ref(&(i..i + c.len_utf8())));
            assert!(t.is_char_boundary(r.start) && t.is_char_boundary(r.end));
            assert!(r.start <= i && r.end >= i + c.len_utf8());
        }
    }

    /// The quote `cite` makes of `text` for a match on `needle`.
    fn quoted(text: &str, needle: &str, mode: QuoteMode) -> String {
        let at = text.find(needle).unwrap();
        let h = hit(text, vec![[at, at + needle.len()]]);
        cite(&h, mode, None).quote
    }

    /// Delimiters that Markdown pairs, counted in a quote: each kind must come out even.
    fn balanced(q: &str) -> bool {
        let spans = inline_spans(q);
        let delims = |c: char| q.matches(c).count();
        let marks: usize = spans
            .iter()
            .filter(|(s, _, _)| !q[s.clone()].ends_with(')'))
            .map(|(_, o, c)| o + c)
            .sum();
        let links = spans.len()
            - spans
                .iter()
                .filter(|(s, _, _)| !q[s.clone()].ends_with(')'))
                .count();
        marks == delims('*') + delims('`') && links == delims('[') && links == delims(']')
    }

    #[test]
    fn quotes_keep_emphasis_and_code_balanced() {
        let cases = [
            // The closer after the sentence end is kept (it was dropped as markup).
            ("前文。**建在自己手里。**", "手里", "**建在自己手里。**"),
            // The opener lies before the quoted sentence: the lone closer goes.
            ("**先修路。再收费。**后文。", "再收费", "再收费。"),
            // A code span and an emphasis cut at their start: the opener comes in.
            ("提示：`a。b` 完。", "完", "`a。b` 完。"),
            ("*强调。第二句*。", "第二句", "*强调。第二句*。"),
            // Already whole.
            (
                "换句话说，**先修路。**再收费。",
                "修路",
                "换句话说，**先修路。**",
            ),
        ];
        for (text, needle, want) in cases {
            let got = quoted(text, needle, QuoteMode::Sentence);
            assert_eq!(got, want, "{text}");
            assert!(balanced(&got), "{got}");
            assert!(text.contains(&got));
        }
        // A link is not cut in two either.
        for (text, needle, want) in [
            (
                "见[链接文字。第二部分](http://x.y/链接)完了。",
                "第二部分",
                "[链接文字。第二部分](http://x.y/链接)完了。",
            ),
            (
                "前文。![图。说明](a.png)后文。",
                "说明",
                "![图。说明](a.png)后文。",
            ),
            // An image as a link's text: neither is cut.
            (
                "[![圖片。](x.png)](y)後文。",
                "後文",
                "[![圖片。](x.png)](y)後文。",
            ),
            (
                "前文。[見(附錄)。](a_(b))後文。",
                "後文",
                "[見(附錄)。](a_(b))後文。",
            ),
        ] {
            let got = quoted(text, needle, QuoteMode::Sentence);
            assert_eq!(got, want, "{text}");
            assert!(balanced(&got), "{got}");
        }
        // The opener starts the quote and the closer is sentences away: the opener goes.
        let text = "**第一句重点。第二句。第三句。**";
        let got = quoted(text, "重点", QuoteMode::Sentence);
        assert_eq!(got, "第一句重点。");
        let whole = quoted(text, "重点", QuoteMode::Paragraph);
        assert!(balanced(&whole), "{whole}");
    }

    #[test]
    fn partial_quotes_are_labelled_in_every_format() {
        let text = "只有一部分。";
        let mut h = hit(text, vec![[0, 6]]);
        assert!(
            !cite(&h, QuoteMode::Sentence, None)
                .markdown
                .contains(PARTIAL_LABEL)
        );
        h.match_kind = MatchKind::Partial;
        let c = cite(&h, QuoteMode::Sentence, Some(Script::Simplified));
        assert!(c.markdown.contains(PARTIAL_LABEL) && c.plain.contains(PARTIAL_LABEL));
        assert_eq!(c.quote, text);
    }

    fn hit(text: &str, highlights: Vec<[usize; 2]>) -> Hit {
        let mut h = Hit::sample(text, highlights);
        h.meta.date = Some("2025-02-13".into());
        h
    }

    #[test]
    fn formats_markdown_plain_and_converted() {
        let text = "後來，感慨：「阿里雲是拿命換來的」。其他。";
        let at = text.find("拿命").unwrap();
        let c = cite(
            &hit(text, vec![[at, at + 6]]),
            QuoteMode::Sentence,
            Some(Script::Simplified),
        );
        assert_eq!(c.quote, "後來，感慨：「阿里雲是拿命換來的」。");
        assert_eq!(
            c.markdown,
            "> 後來，感慨：「阿里雲是拿命換來的」。\n\n— 《標題》, 2025-02-13, a.txt:57, ¶54\n\n> 后来，感慨：「阿里云是拿命换来的」。\n\n(converted to Simplified by OpenCC, not the source's wording)"
        );
        assert!(
            c.plain
                .starts_with("“後來，感慨：「阿里雲是拿命換來的」。”（《標題》")
        );
        let whole = cite(&hit(text, vec![[at, at + 6]]), QuoteMode::Paragraph, None);
        assert_eq!(whole.quote, text);
        assert!(whole.converted.is_none());
    }
}
