//! What a person or a program is shown: hits, citations and excerpts of corpus files.

pub mod cite;
pub mod output;
pub mod show;
