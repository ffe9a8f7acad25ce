//! The Tantivy index: its schema, and how a document becomes index entries (one entry per
//! passage, plus one per file for its metadata).
//!
//! The folder that holds it is [`crate::store`]'s; keeping it in step with the corpus is
//! [`crate::store::update`](mod@crate::store::update)'s job.

use std::ops::Range;

use anyhow::{Result, anyhow};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, NumericOptions, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::{Index, TantivyDocument};

use crate::ingest::corpus::{Meta, Passage};
use crate::text::analysis::{self, CHARS_ONLY, Piece, TextTokenizer};

/// Bumped whenever the schema or the analysis changes in a way that needs a rebuild.
pub const SCHEMA_VERSION: u32 = 16;
/// The `format` of every head and marker zhsearch writes: what makes them ours.
pub const FORMAT: &str = "zhsearch-index";
const TEXT_TOKENIZER: &str = "zh_text";
const CHARS_TOKENIZER: &str = "zh_chars";

/// Handles to the fields of the schema.
#[derive(Clone, Copy)]
pub struct Fields {
    /// 1 on the entry holding a file's metadata; absent on passages (one term fewer for each).
    pub file: Field,
    /// The file's path relative to the corpus (on every entry).
    pub source: Field,
    /// The passage's first line.
    pub line_start: Field,
    /// The passage's last line, when it is not its first.
    pub line_end: Field,
    /// The passage's paragraph number (0: not a body paragraph).
    pub paragraph: Field,
    /// Character columns of a piece of a very long line (absent otherwise).
    pub column_start: Field,
    /// See `column_start`.
    pub column_end: Field,
    /// The passage exactly as in the file.
    pub text: Field,
    /// Visible pieces, stored only when markup makes them differ from `text`.
    pub visible: Field,
    /// One token per normalised character but whitespace, position = index among those
    /// characters (exact substrings, spacing aside), and
    /// jieba's longer words of the visible text (BM25); see [`TextTokenizer`].
    pub chars: Field,
    /// The document's title, on its metadata entry.
    pub title: Field,
    /// Character tokens of the normalised title (whitespace aside), for `title:` filters.
    pub title_chars: Field,
    /// From the front matter.
    pub date: Field,
    /// From the front matter.
    pub author: Field,
    /// From the front matter.
    pub url: Field,
    /// The encoding the file was read with.
    pub encoding: Field,
}

impl Fields {
    /// The fields of `schema`; an error when one is missing (another schema).
    pub fn new(schema: &Schema) -> Result<Fields> {
        let f = |name: &str| {
            schema
                .get_field(name)
                .map_err(|_| anyhow!("index has no field {name}"))
        };
        Ok(Fields {
            file: f("file")?,
            source: f("source")?,
            line_start: f("line_start")?,
            line_end: f("line_end")?,
            paragraph: f("paragraph")?,
            column_start: f("column_start")?,
            column_end: f("column_end")?,
            text: f("text")?,
            visible: f("visible")?,
            chars: f("chars")?,
            title: f("title")?,
            title_chars: f("title_chars")?,
            date: f("date")?,
            author: f("author")?,
            url: f("url")?,
            encoding: f("encoding")?,
        })
    }
}

/// The schema of an index of this version.
pub fn schema() -> Schema {
    let mut b = Schema::builder();
    // Characters and words share one field: one tokenizer pass and one term dictionary; word
    // terms (two characters or more) never collide with character terms. Norms and
    // frequencies serve BM25 over words; exact lookups score by a constant.
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let title_chars = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(CHARS_TOKENIZER)
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    // Norms only where BM25 reads them (`chars`): elsewhere they cost a byte per entry.
    b.add_u64_field("file", NumericOptions::default().set_indexed());
    // File, line and column are fast fields too: they order equal scores without reading
    // stored passages (see `search::top_ordered`).
    let source = STRING | STORED | FAST;
    let raw = source
        .get_indexing_options()
        .cloned()
        .map(|o| o.set_fieldnorms(false));
    b.add_text_field(
        "source",
        source.set_indexing_options(raw.unwrap_or_default()),
    );
    b.add_u64_field("line_start", STORED | FAST);
    b.add_u64_field("line_end", STORED);
    b.add_u64_field("paragraph", STORED);
    b.add_u64_field("column_start", STORED | FAST);
    b.add_u64_field("column_end", STORED);
    b.add_text_field("text", STORED);
    b.add_text_field("visible", STORED);
    b.add_text_field("chars", text);
    b.add_text_field("title", STORED);
    b.add_text_field("title_chars", title_chars);
    b.add_text_field("date", STORED);
    b.add_text_field("author", STORED);
    b.add_text_field("url", STORED);
    b.add_text_field("encoding", STORED);
    b.build()
}

pub(crate) fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register(TEXT_TOKENIZER, TextTokenizer::default());
    index
        .tokenizers()
        .register(CHARS_TOKENIZER, TextTokenizer { chars_only: true });
}

/// The index entry holding a document's metadata.
pub fn meta_doc(f: &Fields, source: &str, meta: &Meta, encoding: &str) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_u64(f.file, 1);
    d.add_text(f.source, source);
    d.add_text(f.encoding, encoding);
    if let Some(t) = &meta.title {
        d.add_text(f.title, t);
        d.add_text(f.title_chars, analysis::normalize(t));
    }
    for (field, value) in [
        (f.date, &meta.date),
        (f.author, &meta.author),
        (f.url, &meta.url),
    ] {
        if let Some(v) = value {
            d.add_text(field, v);
        }
    }
    d
}

/// The index entry of one passage.
pub fn passage_doc(f: &Fields, source: &str, p: &Passage) -> TantivyDocument {
    // Its text twice (as written, normalised) and a few numbers: Tantivy's default of 1 KB a
    // document is most of a poem's line, allocated and held for every passage queued.
    let mut d = TantivyDocument::with_capacity(2 * p.text.len() + source.len() + 64);
    d.add_text(f.source, source);
    d.add_u64(f.line_start, p.line_start as u64);
    // Stored only when the passage spans lines (a poem's line does not): one value fewer to
    // serialise and compress per passage.
    if p.line_end != p.line_start {
        d.add_u64(f.line_end, p.line_end as u64);
    }
    d.add_u64(f.paragraph, p.paragraph as u64);
    if let Some((c0, c1)) = p.columns {
        d.add_u64(f.column_start, c0 as u64);
        d.add_u64(f.column_end, c1 as u64);
    }
    d.add_text(f.text, &p.text);
    // The whole text as written (`Piece::verbatim(&p.text, ..)`, compared without making it).
    let whole = match p.visible.as_slice() {
        [v] => v.verbatim && v.orig == (0..p.text.len()) && v.text == p.text,
        _ => false,
    };
    let visible = if whole {
        None
    } else {
        d.add_text(f.visible, encode_pieces(&p.visible));
        Some(analysis::normalize_text(&p.visible))
    };
    if p.is_front_matter() {
        // Only the value of a front matter line is text; its key is YAML. No words: metadata.
        d.add_text(
            f.chars,
            format!("{CHARS_ONLY}{}", visible.unwrap_or_default()),
        );
        return d;
    }
    // The raw line is indexed too, so that any string of the file can be found; the visible
    // text adds the strings that markup splits in the source, and the words. A gap keeps them
    // apart.
    let raw = analysis::normalize(&p.text);
    match visible {
        Some(v) if v != raw => {
            d.add_text(f.chars, format!("{CHARS_ONLY}{raw}"));
            d.add_text(f.chars, v);
        }
        _ => {
            d.add_text(f.chars, raw);
        }
    }
    d
}

/// Visible pieces of a passage, from what [`passage_doc`] stored (nothing: the whole text).
pub fn stored_pieces(text: &str, encoded: Option<&str>) -> Vec<Piece> {
    match encoded {
        Some(e) => decode_pieces(text, e),
        None => vec![Piece::verbatim(text, 0..text.len())],
    }
}

/// Visible pieces as stored: `[start, end]` for a verbatim slice, `[start, end, text]` else.
pub(crate) fn encode_pieces(pieces: &[Piece]) -> String {
    let v: Vec<serde_json::Value> = pieces
        .iter()
        .map(|p| {
            if p.verbatim {
                serde_json::json!([p.orig.start, p.orig.end])
            } else {
                serde_json::json!([p.orig.start, p.orig.end, p.text])
            }
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

fn decode_pieces(text: &str, encoded: &str) -> Vec<Piece> {
    let parsed: Vec<Vec<serde_json::Value>> = serde_json::from_str(encoded).unwrap_or_default();
    parsed
        .into_iter()
        .filter_map(|item| {
            let start = item.first()?.as_u64()? as usize;
            let end = item.get(1)?.as_u64()? as usize;
            let range: Range<usize> = start..end;
            text.get(range.clone())?;
            match item.get(2).and_then(|t| t.as_str()) {
                Some(t) => Some(Piece::mapped(t, range)),
                None => Some(Piece::verbatim(text, range)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_round_trip_through_storage() {
        let text = "**粗**&amp;x";
        let pieces = vec![Piece::verbatim(text, 2..5), Piece::mapped("&", 7..12)];
        assert_eq!(stored_pieces(text, Some(&encode_pieces(&pieces))), pieces);
        assert!(decode_pieces(text, "not json").is_empty());
        assert!(decode_pieces(text, "[[0,999]]").is_empty());
        assert_eq!(
            stored_pieces(text, None),
            vec![Piece::verbatim(text, 0..text.len())]
        );
    }
}
