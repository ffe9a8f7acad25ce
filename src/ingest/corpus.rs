//! The corpus as the rest of the program sees it: its documents ([`walk`](super::walk) finds
//! them) and their passages ([`parse`](super::parse) cuts them); a whole document parsed at
//! once for reading it back.
//!
//! A passage is a paragraph as a reader sees it. In the plain-text articles this project was
//! built for, every non-blank line is a paragraph (some files have no blank line at all), so a
//! passage is one line; only in `.md` files are hard-wrapped lines of one Markdown paragraph
//! joined. YAML front matter gives the document's metadata; each of its values is a passage
//! of its own (paragraph 0), so that what a user reads in the file can still be found.

pub use crate::ingest::parse::{MAX_PASSAGE_CHARS, Meta, Parser, Passage, lines};
pub use crate::ingest::walk::{
    EXTENSIONS, ListError, Listing, SourceFile, default_extensions, list_files, mtime_ns,
};

/// A whole document, parsed at once (for reading it back; indexing streams it).
#[derive(Debug, Clone)]
pub struct Document {
    /// Its path relative to the corpus.
    pub source: String,
    /// Its metadata.
    pub meta: Meta,
    /// Its passages, in file order.
    pub passages: Vec<Passage>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::parse::{floor_char, joined_text, split_long};
    use crate::text::analysis::Piece;

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
    fn toml_front_matter_and_capitalised_keys_are_metadata() {
        let hugo = "+++\ntitle = \"喝茶\"\nDate = 2024-03-05\n[params]\nx = 1\n+++\n\n正文\n";
        let doc = parse_document("h.md", hugo);
        assert_eq!(doc.meta.title.as_deref(), Some("喝茶"));
        assert_eq!(doc.meta.date.as_deref(), Some("2024-03-05"));
        let body: Vec<_> = doc
            .passages
            .iter()
            .filter(|p| !p.is_front_matter())
            .collect();
        assert_eq!(
            (body.len(), body[0].line_start, body[0].paragraph),
            (1, 8, 1)
        );
        let yaml = "---\nTitle: 標題\nAUTHOR: 林小雨\n---\n正文\n";
        let doc = parse_document("y.md", yaml);
        assert_eq!(doc.meta.title.as_deref(), Some("標題"));
        assert_eq!(doc.meta.author.as_deref(), Some("林小雨"));
        // An unclosed fence is text, as before.
        let doc = parse_document("u.md", "+++\ntitle = x\n正文\n");
        assert!(doc.passages.iter().all(|p| !p.is_front_matter()));
    }

    #[test]
    fn a_paragraph_between_two_rules_is_no_front_matter() {
        for text in [
            "---\n\n正文水平线后独特词猎豹。\n\n---\n\n后面段落。\n",
            "---\n这是普通段落没有冒号。\n---\n",
            "---\n注意: 这一行像键，下一行不像\n普通的一句话。\n---\n",
        ] {
            let doc = parse_document("r.md", text);
            assert!(doc.passages.iter().all(|p| !p.is_front_matter()), "{text}");
            assert!(
                doc.passages
                    .iter()
                    .any(|p| p.paragraph > 0 && p.text.contains('。'))
            );
        }
    }

    #[test]
    fn yaml_lists_and_toml_tables_stay_findable() {
        let doc = parse_document(
            "l.md",
            "---\nauthor:\n  - 甲\n  - 乙\ntags: [茶]\n---\n正文\n",
        );
        assert_eq!(doc.meta.author.as_deref(), Some("甲, 乙"));
        let values: Vec<&str> = doc
            .passages
            .iter()
            .filter(|p| p.is_front_matter())
            .map(|p| p.visible[0].text.as_str())
            .collect();
        assert_eq!(values, ["甲", "乙", "[茶]"]);
        let doc = parse_document(
            "t.md",
            "+++\ntitle = \"題\"\n[params]\ntitle = \"表內\"\n+++\n正文\n",
        );
        assert_eq!(doc.meta.title.as_deref(), Some("題"));
        assert!(
            doc.passages
                .iter()
                .any(|p| p.is_front_matter() && p.text.contains("表內"))
        );
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
