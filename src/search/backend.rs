//! What a search engine must answer for the searcher to rank, verify and cite its passages.
//!
//! A backend indexes passages (a corpus file's lines, with their normalised characters and
//! words) and one entry per file (its metadata and title). It fetches candidates for a
//! [`Plan`] in one total order; the searcher checks each against its stored text, reranks
//! the best and makes hits. The trait speaks of words, files and opaque ids only, so that an
//! engine other than Tantivy (a remote one answering SQL-like queries) can implement it.

use std::collections::HashSet;

use anyhow::Result;

use crate::model::DocMeta;
use crate::search::plan::{Plan, Term, Vocabulary};
use crate::text::analysis::Piece;

/// Score of a passage that contains a term as an exact string, added to its BM25 score; far
/// above any BM25 sum, so exact matches always rank first.
pub const EXACT_SCORE: f32 = 1000.0;
/// The same for a regional variant of the term: just below the form the user typed.
pub const VARIANT_SCORE: f32 = 900.0;

/// A passage as the backend names it; only the backend that gave it can read it. Ids of one
/// backend sort in the order its store is best read in.
pub type CandidateId = u64;

/// A file's metadata entry as the backend names it.
pub type FileId = u64;

/// Which candidates of a plan to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Passages that may match every group: a term's form as a string (scored
    /// [`EXACT_SCORE`] or [`VARIANT_SCORE`] above BM25), or, for a bare term, every long word
    /// of a form as a word and its other characters as characters; no excluded form as a
    /// string; within the `source:` globs and `title:` files. The searcher verifies each.
    Strict,
    /// Passages holding any form of a bare term as a string (scored as above), any of its
    /// long words but question words, or any two of its letters or digits side by side
    /// (BM25), with the quoted terms, exclusions and filters still holding; when every term
    /// is quoted, the phrases relax like bare terms. A backend may leave out the passages
    /// holding nothing but pairs of common characters, as long as every passage holding half
    /// of a form's letters and digits in a row is there, scored as when none is left out.
    Relaxed,
}

/// A tier's best candidates, best first: (score, id) in one total order (score descending,
/// then file, line and column), so that a longer list starts with a shorter one.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// Score and id, best first.
    pub top: Vec<(f32, CandidateId)>,
    /// Whether these are all the passages the tier matches.
    pub complete: bool,
}

/// Fetches one tier's candidates of one plan, as often as the searcher needs more.
pub trait Fetch {
    /// The best `n` candidates (all of them if fewer); see [`Candidates`].
    fn top(&self, n: usize) -> Result<Candidates>;
}

/// A passage as stored: what the searcher verifies, ranks and cites.
#[derive(Debug, Clone)]
pub struct StoredPassage {
    /// The file's path relative to the corpus folder, with `/`.
    pub source: String,
    /// 1-based, inclusive.
    pub line_start: usize,
    /// 1-based, inclusive.
    pub line_end: usize,
    /// 1-based among the file's paragraphs; 0 for front matter and markup lines.
    pub paragraph: usize,
    /// Character columns of a piece of a very long line.
    pub columns: Option<(usize, usize)>,
    /// The passage exactly as in the file.
    pub text: String,
    /// The text a reader sees (markup left out), as pieces mapped back to `text`.
    pub visible: Vec<Piece>,
}

/// A search engine holding the index of one corpus, at one point in time: every answer of
/// one backend value describes the same passages. Its vocabulary ([`Vocabulary`]) binds
/// queries into plans; the rest executes them.
pub trait Backend: Vocabulary + Send + Sync {
    /// The fetcher of one tier's candidates for `plan`.
    fn fetch<'a>(&'a self, plan: &'a Plan, tier: Tier) -> Result<Box<dyn Fetch + 'a>>;

    /// The stored passage of a candidate.
    fn passage(&self, id: CandidateId) -> Result<StoredPassage>;

    /// Whether the index holds `word` as a word (or character) of the passage `id`: the
    /// verification of a match by words (see [`crate::search::rank::matches_all`]).
    fn has_word(&self, id: CandidateId, word: &str) -> bool;

    /// The metadata of file `source` (default when it has no entry).
    fn doc_meta(&self, source: &str) -> Result<DocMeta>;

    /// The metadata of each file of `sources`, in that order: what a page's hits show. A
    /// backend may read them together (in the order they are stored).
    fn doc_metas(&self, sources: &[&str]) -> Result<Vec<DocMeta>> {
        sources.iter().map(|s| self.doc_meta(s)).collect()
    }

    /// The files whose title holds one of `term`'s forms, read once per search: with
    /// [`Backend::file_id`], how many of the query's terms a file's title holds.
    fn titled_files(&self, term: &Term) -> Result<HashSet<FileId>>;

    /// The id of file `source` as [`Backend::titled_files`] names it.
    fn file_id(&self, source: &str) -> Option<FileId>;

    /// The passages at `places` (file, first line, first column of a piece of a long line),
    /// each `None` when the index holds no such passage or the plan's exclusions and filters
    /// leave it out: how the semantic tier, which finds passages by place, reaches them. A
    /// backend without it gives no semantic hits.
    fn locate(&self, plan: &Plan, places: &[PassagePlace]) -> Result<Vec<Option<CandidateId>>> {
        let _ = plan;
        Ok(vec![None; places.len()])
    }
}

/// Where a passage is: its file, first line, and first column for a piece of a long line.
pub type PassagePlace = (String, usize, Option<usize>);
