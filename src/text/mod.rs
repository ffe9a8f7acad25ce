//! Text analysis shared by indexing and querying: normalisation (NFKC, case, script) with a
//! map back to the original bytes, tokens, and the OpenCC conversions.

pub mod analysis;
pub mod chars;
pub mod opencc;
pub mod regional;
pub mod t2s;
