//! From files to passages: finding the corpus's documents ([`walk`]), decoding them
//! ([`encoding`]), and cutting them into passages ([`parse`]) with what a reader sees of their
//! markup ([`markup`]); [`corpus`] holds the types and is the way in.

pub mod corpus;
pub mod encoding;
mod folders;
pub mod markup;
mod names;
pub mod open;
pub mod parse;
mod rules;
pub mod walk;
