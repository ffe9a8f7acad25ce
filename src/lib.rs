//! zhsearch: full-text search for Chinese document collections in mixed Simplified and
//! Traditional script, with exact phrase lookup and precise citations.

pub mod cli;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod model;
pub mod present;
pub mod search;
pub mod store;
pub mod text;

pub use engine::{Engine, EngineOptions, SearchOptions};
pub use error::{Error, Result};
