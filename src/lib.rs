//! zhsearch: full-text search for Chinese document collections in mixed Simplified and
//! Traditional script, with exact phrase lookup and precise citations.
//!
//! # Using the library
//!
//! An [`Engine`] owns one index of one corpus folder and answers from any number of threads:
//!
//! ```
//! use zhsearch::{CiteOptions, Engine, EngineOptions, NoReport, SearchOptions};
//!
//! # fn main() -> zhsearch::Result<()> {
//! let dir = std::env::temp_dir().join(format!("zhsearch-doc-{}", std::process::id()));
//! let corpus = dir.join("corpus");
//! std::fs::create_dir_all(&corpus).unwrap();
//! std::fs::write(corpus.join("note.md"), "# 筆記\n\n突破「5k瓶頸」之後，效能翻倍。\n").unwrap();
//!
//! let engine = Engine::open(EngineOptions::new(dir.join("index")).corpus(&corpus))?;
//! engine.update(false, &NoReport)?; // builds the index: only changed files are read next time
//! let page = engine.search_text("5k瓶颈", &SearchOptions::default())?; // either script
//! let hit = &page.hits[0];
//! assert_eq!(hit.span().to_string(), "note.md:3"); // what `zhsearch show` takes
//! assert_eq!(hit.text, "突破「5k瓶頸」之後，效能翻倍。"); // exactly as written
//!
//! let cited = engine.cite(page.hits.clone(), CiteOptions::default())?;
//! assert_eq!(cited.quotes[0].1.attribution, "《筆記》, note.md:3, ¶2"); // the heading is ¶1
//! let shown = engine.show("note.md:3", 0, None)?; // the lines, read back from the file
//! assert_eq!(shown.text, hit.text);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! ```
//!
//! # How it works
//!
//! The pipeline, one folder a stage; the same [`text`] analysis serves indexing and querying:
//!
//! - [`ingest`]: files → passages. [`ingest::corpus`] finds the documents (never through a
//!   link, never an index folder) and cuts them into passages with line and paragraph numbers;
//!   [`ingest::encoding`] decodes UTF-8/16, GB18030 and Big5 as a stream; [`ingest::markup`]
//!   finds what a reader sees of Markdown and HTML.
//! - [`text`]: normalisation (NFKC, case, OpenCC t2s in [`text::t2s`]) with a map back to the
//!   original bytes, characters and jieba words as index terms, the segmentation of query
//!   terms; [`text::regional`] gives a term's Taiwan and Hong Kong forms, [`text::chars`] the
//!   character classes, [`text::opencc`] the converters.
//! - [`store`]: the index folder. Its marker and locks, the Tantivy schema
//!   ([`store::index`]), the list of indexed files committed with the index
//!   ([`store::manifest`]), and [`store::update`](mod@store::update), which keeps it in step with the corpus.
//! - [`search`]: the query language ([`search::query`]) → candidates from the index → every
//!   full match verified against its passage's text, then ranked ([`search::rank`]) into one
//!   order that depends only on the passages indexed; partial matches below.
//! - [`present`]: what is shown: hits for people and JSON Lines ([`present::output`]),
//!   citations that are verbatim slices of the source ([`present::cite`]), and the one way a
//!   corpus file is read back ([`present::show`]).
//! - [`embed`]: the semantic tier's side of the index: an OpenAI-compatible embeddings
//!   client, the int8 vectors of the passages (computed once per folded text, after each
//!   lexical commit) and their nearest neighbours; [`search::semantic`] ranks what they find.
//! - [`engine`] ties them into one object; [`cli`] is a thin client of it. [`model`] holds the
//!   data every stage shares ([`model::Hit`], [`model::LineSpan`], [`model::DocMeta`]);
//!   [`error`] the typed errors, worded as facts (the CLI adds what to run); [`threads`]
//!   starts the short second threads of a search on a free core.
#![warn(missing_docs)]

pub mod cli;
pub mod embed;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod mcp;
pub mod model;
pub mod present;
pub mod search;
pub mod serve;
pub mod store;
pub mod text;
pub mod threads;

pub use engine::{CiteOptions, Cited, Document, Engine, EngineOptions, Refresh, SearchOptions};
pub use error::{Error, Result};
pub use model::{DocMeta, Hit, LineSpan, MatchKind, Page};
pub use present::cite::{Citation, QuoteMode, Script};
pub use search::{Query, QueryError};
pub use store::{IndexStats, NoReport, Progress, Reporter, StoreError, UpdateReport, Warning};
