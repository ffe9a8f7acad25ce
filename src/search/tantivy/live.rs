//! Counting a term's live entries in a segment with deletions.
//!
//! Tantivy's document frequency counts deleted entries until a merge drops them, so BM25 would
//! rank an updated index otherwise than a fresh build. Walking a common character's postings
//! to skip the deleted entries costs a pass over hundreds of thousands of them (a tenth of a
//! whole-process search on the 74 MB poetry after a one-file update); the deleted entries are
//! usually few (the passages of the files changed since the segment was written), so the term's
//! postings are instead sought at each of them, and the hits taken off its frequency.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tantivy::Directory;
use tantivy::index::SegmentId;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocSet, SegmentReader, TERMINATED, Term};

/// The deleted entries of each segment, read once per searcher (`None`: walk the postings).
#[derive(Default)]
pub(super) struct Deleted(Mutex<HashMap<SegmentId, Option<Arc<[u32]>>>>);

impl Deleted {
    fn of(&self, reader: &SegmentReader) -> Option<Arc<[u32]>> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.entry(reader.segment_id())
            .or_insert_with(|| deleted_docs(reader).map(Arc::from))
            .clone()
    }
}

/// Seeking is cheaper than walking while the deleted entries are fewer than this fraction of
/// the term's postings (a seek within a block costs a few times a step of the walk).
const SEEK_RATIO: usize = 4;

/// Live entries of `reader` holding `term` (`deleted`: the lists already read, if kept).
pub(super) fn count(
    reader: &SegmentReader,
    term: &Term,
    deleted: Option<&Deleted>,
) -> tantivy::Result<u32> {
    let ii = reader.inverted_index(term.field())?;
    let Some(alive) = reader.alive_bitset().filter(|_| reader.has_deletes()) else {
        return Ok(ii.doc_freq(term)?);
    };
    let Some(mut postings) = ii.read_postings(term, IndexRecordOption::Basic)? else {
        return Ok(0);
    };
    let df = postings.doc_freq();
    let few = reader.num_deleted_docs() as usize * SEEK_RATIO <= df as usize;
    let list = few
        .then(|| deleted.map_or_else(|| deleted_docs(reader).map(Arc::from), |d| d.of(reader)))
        .flatten();
    let Some(list) = list else {
        return Ok(postings.count(alive));
    };
    let mut dead = 0;
    for &d in list.iter() {
        if postings.doc() > d {
            continue;
        }
        match postings.seek(d) {
            TERMINATED => break,
            found if found == d => dead += 1,
            _ => {}
        }
    }
    Ok(df - dead)
}

/// The deleted entries of `reader`, in order, from its deletion file: Tantivy's `AliveBitSet`
/// can be asked about one entry or iterate the live ones (millions), not list the deleted.
/// The file is Tantivy's serialised bit set (its capacity as 4 bytes, then 64-bit words, a set
/// bit a live entry); `None` when it cannot be read as one that agrees with the reader.
fn deleted_docs(reader: &SegmentReader) -> Option<Vec<u32>> {
    let opstamp = reader.delete_opstamp()?;
    let name = PathBuf::from(format!(
        "{}.{opstamp}.del",
        reader.segment_id().uuid_string()
    ));
    let bytes = reader
        .index()
        .directory()
        .open_read(&name)
        .ok()?
        .read_bytes()
        .ok()?;
    let (head, words) = bytes.as_slice().split_at_checked(4)?;
    let max_doc = u32::from_le_bytes(head.try_into().ok()?);
    if max_doc != reader.max_doc() || words.len() != (max_doc as usize).div_ceil(64) * 8 {
        return None;
    }
    let mut out = Vec::with_capacity(reader.num_deleted_docs() as usize);
    let mut push_dead = |at: usize, w: &[u8]| {
        let mut dead = !u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        while dead != 0 {
            let doc = at as u32 * 64 + dead.trailing_zeros();
            if doc >= max_doc {
                break;
            }
            out.push(doc);
            dead &= dead - 1;
        }
    };
    // Four words at a time: most are all live, and are passed with two 16-byte loads and a
    // comparison rather than a loop test per word.
    let mut fours = words.chunks_exact(32);
    for (i, four) in (&mut fours).enumerate() {
        let (a, b) = four.split_at(16);
        let half = |h: &[u8]| u128::from_le_bytes(h.try_into().unwrap_or([0; 16]));
        if half(a) & half(b) != u128::MAX {
            four.chunks_exact(8)
                .enumerate()
                .for_each(|(j, w)| push_dead(i * 4 + j, w));
        }
    }
    let done = words.len() / 32 * 4;
    let rest = fours.remainder().chunks_exact(8).enumerate();
    rest.for_each(|(j, w)| push_dead(done + j, w));
    (out.len() == reader.num_deleted_docs() as usize).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{STORED, STRING, Schema, TEXT, Value};
    use tantivy::{Index, IndexWriter, TantivyDocument, doc};

    /// Sought at the deleted entries or walked, a term's live count is the number of live
    /// entries holding it, for terms in every entry, in many, in a few, and in deleted ones only.
    #[test]
    fn live_counts_are_exact() {
        let mut b = Schema::builder();
        let text = b.add_text_field("text", TEXT | STORED);
        let id = b.add_text_field("id", STRING);
        let index = Index::create_in_ram(b.build());
        let mut w: IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        for i in 0..3000u32 {
            let mut words = vec!["all"];
            if i % 3 == 0 {
                words.push("third");
            }
            if i % 500 == 7 {
                words.push("rare");
            }
            if (1000..1040).contains(&i) {
                words.push("gone");
            }
            let _ = w.add_document(doc!(text => words.join(" "), id => format!("d{i}")));
        }
        w.commit().unwrap();
        // A run of entries (a file's passages), scattered ones far enough apart that runs of
        // four all-live words are passed, and the last entry (in the words after them).
        let deleted: Vec<u32> = (1000..1040)
            .chain((0..3000).step_by(397))
            .chain([2999])
            .collect();
        for i in &deleted {
            w.delete_term(Term::from_field_text(id, &format!("d{i}")));
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let reader = &searcher.segment_readers()[0];
        assert!(reader.has_deletes());
        let listed = deleted_docs(reader).expect("the deletion file is read");
        let alive = reader.alive_bitset().unwrap();
        let want: Vec<u32> = (0..reader.max_doc())
            .filter(|&d| alive.is_deleted(d))
            .collect();
        assert_eq!(listed, want);
        let cache = Deleted::default();
        for word in ["all", "third", "rare", "gone", "absent"] {
            let term = Term::from_field_text(text, word);
            let holds = |d: u32| {
                let doc: TantivyDocument = searcher.doc(tantivy::DocAddress::new(0, d)).unwrap();
                let t = doc.get_first(text).and_then(|v| v.as_str()).unwrap_or("");
                t.split(' ').any(|x| x == word)
            };
            let brute = (0..reader.max_doc()).filter(|&d| !alive.is_deleted(d) && holds(d));
            let brute = brute.count() as u32;
            assert_eq!(count(reader, &term, Some(&cache)).unwrap(), brute, "{word}");
            assert_eq!(count(reader, &term, None).unwrap(), brute, "{word}");
        }
    }
}
