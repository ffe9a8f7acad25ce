//! From files to passages: finding the corpus's documents, decoding them, and cutting them
//! into passages with what a reader sees of their markup.

pub mod corpus;
pub mod encoding;
pub mod markup;
