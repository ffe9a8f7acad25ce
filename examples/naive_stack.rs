//! The baseline of `scripts/bench.py`: the straightforward tantivy + jieba + OpenCC program the
//! speed issue describes, so that zhsearch is compared with it in the same run.
//!
//!     cargo run --release --example naive_stack -- index CORPUS INDEX
//!     cargo run --release --example naive_stack -- search INDEX QUERY
//!
//! One document per non-blank line; OpenCC t2s (ferrous-opencc, as shipped) before a
//! tantivy-jieba style tokenizer (jieba search mode with the HMM, as tantivy-jieba does); one
//! text field with positions; Tantivy's default writer (all cores, 50 MB per thread) and query
//! parser. Every search loads jieba and OpenCC again, as such a program does.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;
use jieba_rs::Jieba;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{Index, TantivyDocument, doc};

#[derive(Clone)]
struct JiebaTokenizer(std::sync::Arc<Jieba>);

struct JiebaStream {
    tokens: Vec<Token>,
    at: usize,
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = JiebaStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> JiebaStream {
        let tokens = self
            .0
            .cut_for_search(text, true)
            .into_iter()
            .enumerate()
            .map(|(i, t)| Token {
                offset_from: t.byte_start,
                offset_to: t.byte_end,
                position: i,
                text: t.word.to_string(),
                position_length: 1,
            })
            .collect();
        JiebaStream { tokens, at: 0 }
    }
}

impl TokenStream for JiebaStream {
    fn advance(&mut self) -> bool {
        self.at += 1;
        self.at <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.at - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at - 1]
    }
}

fn schema() -> Schema {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("jieba")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    b.add_text_field("text", text);
    b.add_text_field("path", STORED);
    b.add_u64_field("line", STORED);
    b.build()
}

fn register(index: &Index) {
    index
        .tokenizers()
        .register("jieba", JiebaTokenizer(std::sync::Arc::new(Jieba::new())));
}

fn build(corpus: &Path, dir: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let index = Index::create_in_dir(dir, schema())?;
    register(&index);
    let cc = OpenCC::from_config(BuiltinConfig::T2s)?;
    let s = index.schema();
    let (text, path, line) = (
        s.get_field("text")?,
        s.get_field("path")?,
        s.get_field("line")?,
    );
    let mut writer = index.writer::<TantivyDocument>(100_000_000)?;
    let mut files: Vec<_> = std::fs::read_dir(corpus)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for f in files {
        let content =
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let name = f.display().to_string();
        for (n, l) in content.lines().enumerate() {
            if !l.trim().is_empty() {
                writer.add_document(
                    doc!(text => cc.convert(l), path => name.clone(), line => n as u64 + 1),
                )?;
            }
        }
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok(())
}

fn search(dir: &Path, query: &str) -> Result<()> {
    let index = Index::open_in_dir(dir)?;
    register(&index);
    let cc = OpenCC::from_config(BuiltinConfig::T2s)?;
    let text = index.schema().get_field("text")?;
    let parser = QueryParser::for_index(&index, vec![text]);
    let q = parser.parse_query(&cc.convert(query))?;
    let searcher = index.reader()?.searcher();
    for (score, addr) in searcher.search(&q, &TopDocs::with_limit(10).order_by_score())? {
        let d: TantivyDocument = searcher.doc(addr)?;
        let t = d.get_first(text).and_then(|v| v.as_str()).unwrap_or("");
        println!("{}", serde_json::json!({"score": score, "text": t}));
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1..4) {
        Some([cmd, a, b]) if cmd == "index" => build(a.as_ref(), b.as_ref()),
        Some([cmd, a, b]) if cmd == "search" => search(a.as_ref(), b),
        _ => bail!("usage: naive_stack index CORPUS INDEX | naive_stack search INDEX QUERY"),
    }
}
