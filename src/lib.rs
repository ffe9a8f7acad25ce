//! zhsearch: full-text search for Chinese document collections in mixed Simplified and
//! Traditional script, with exact phrase lookup and precise citations.
//!
//! The pipeline, one module each: [`corpus`] (files → passages, with [`markup`] for what a
//! reader sees) → [`analysis`] (normalisation with an offset map, with [`t2s`] for OpenCC;
//! characters and jieba words; shared by indexing and querying) → [`index`] (Tantivy schema),
//! kept in its folder by [`store`] (our marker, read-only opening) and in step with the
//! corpus by [`update`] → [`query`] (query language → Tantivy query) → [`search`] (one ranked
//! order, full matches verified, highlights) → [`output`] (JSON Lines and human output);
//! [`show`] is the one way corpus files are read back. [`cli`] wires them to the command line.

pub mod analysis;
pub mod cite;
pub mod cli;
pub mod corpus;
pub mod encoding;
pub mod index;
pub mod manifest;
pub mod markup;
pub mod output;
pub mod query;
pub mod rank;
pub mod regional;
pub mod search;
pub mod show;
pub mod store;
pub mod t2s;
pub mod update;
