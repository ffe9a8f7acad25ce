//! The Tantivy backend: a plan's tiers as Tantivy queries, their candidates in one total
//! order (score, then file, line and column, where Tantivy's own order depends on how the
//! index was written), stored passages, vocabulary statistics of the live entries, and the
//! file entries' titles and metadata. Everything in the search that knows Tantivy is here.

mod columns;
mod cover;
mod live;
mod places;
mod query;
mod relaxed;
mod stats;
mod top;
mod word;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use anyhow::Result;
use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query as TQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, DocSet, Index, ReloadPolicy, TantivyDocument, Term};

use crate::model::DocMeta;
use crate::search::backend::{
    Backend, CandidateId, Candidates, EXACT_SCORE, Fetch, FileId, PassagePlace, StoredPassage, Tier,
};
use crate::search::plan::{Plan, Term as PlanTerm, Vocabulary};
use crate::store::index::{self, Fields};
use places::PlaceCache;
use query::{any_of, exact_query, file_entries, term};
use stats::{AliveStats, LiveFreqs};
use top::{addr, id, top_ordered};

/// A Tantivy index, searched at the commit it was opened at.
pub struct TantivyBackend {
    /// The commit's segments, for every search of this backend.
    searcher: tantivy::Searcher,
    fields: Fields,
    places: PlaceCache,
    /// Live entries.
    docs: u64,
    freqs: LiveFreqs,
    /// When a search gets a second thread (see [`top::help_after`]).
    help_after: Option<top::Help>,
}

/// From this many passages on, a search allocated megabytes (the block headers of the
/// tie-order columns, 40 bytes for every 512 passages per column, when Tantivy opened them),
/// and transparent huge pages, off for a program's start (`main.rs`), paid again: on the x10
/// poetry index (20 M passages) 2,363 page faults a search without them, 921 with. Since the
/// columns are read lazily (`columns`), they make no difference there (1,430 faults without,
/// 1,456 with; 28.9 and 27.8 ms a search, alternated), and are left on.
const HUGE_PAGES_FROM: u64 = 5_000_000;

/// Decompressed store blocks kept per segment by a process that searches once and exits
/// (see [`TantivyBackend::for_process`]). A search reads its candidates in index order,
/// so one block serves the candidates stored side by side; keeping every block read alive
/// cost fresh pages: on the bench's 74 MB index a search for `明月` read 39 blocks, and with
/// one kept it took 61 fewer page faults (711 → 650, about 3 µs each on the bench machine)
/// for the same instructions (callgrind: 14.43 M either way).
pub const ONE_SHOT_STORE_BLOCKS: usize = 1;

/// Decompressed store blocks kept per segment by a process that searches again and again
/// (Tantivy's default): `zhsearch serve` under the bench's load answered with a median of
/// 4.0–4.2 ms keeping them, 4.7–5.7 ms keeping one (three runs each, alternated: the same
/// queries recur).
pub const KEPT_STORE_BLOCKS: usize = 100;

impl TantivyBackend {
    /// Searches an index already open (as [`crate::store::update::update`] leaves it), at
    /// its last commit.
    pub fn new(index: Index) -> Result<TantivyBackend> {
        TantivyBackend::for_process(index, false)
    }

    /// [`TantivyBackend::new`], for a process that searches once and exits (`one_shot`:
    /// [`ONE_SHOT_STORE_BLOCKS`], a second thread only for a long search) or one that
    /// searches again and again ([`KEPT_STORE_BLOCKS`], see [`top::help_after`]).
    pub fn for_process(index: Index, one_shot: bool) -> Result<TantivyBackend> {
        let blocks = match one_shot {
            true => ONE_SHOT_STORE_BLOCKS,
            false => KEPT_STORE_BLOCKS,
        };
        let fields = Fields::new(&index.schema())?;
        let reader: tantivy::IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(blocks)
            .try_into()?;
        let searcher = reader.searcher();
        let docs = AliveStats::new(&searcher).docs;
        if docs >= HUGE_PAGES_FROM {
            crate::store::update::alloc::huge_pages_on();
        }
        Ok(TantivyBackend {
            searcher,
            fields,
            places: PlaceCache {
                fields,
                open: Mutex::new(HashMap::new()),
            },
            docs,
            freqs: LiveFreqs::default(),
            help_after: top::help_after(one_shot, docs),
        })
    }

    fn stats(&self) -> AliveStats<'_> {
        AliveStats {
            searcher: &self.searcher,
            docs: self.docs,
            known: Some(&self.freqs),
        }
    }

    /// The strict tier's candidates for a plan that is one index word (see
    /// [`Plan::single_word`]), scored as the general query scores them: the word's passages
    /// by BM25 (pruned by Tantivy), then those holding the term only inside other words.
    fn single_word_top(&self, word: &str, n: usize) -> Result<top::Candidates> {
        let (f, stats) = (&self.fields, self.stats());
        let bm25 = word::WordQuery(Term::from_field_text(f.chars, word));
        let s = &self.searcher;
        let (mut top, complete) = top_ordered(
            s,
            &self.places,
            &stats,
            &bm25,
            (n, EXACT_SCORE),
            self.help_after,
        )?;
        // Every passage with the word scores above EXACT_SCORE, every other one exactly it.
        if !complete {
            return Ok((top, false));
        }
        let rest = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(
                    exact_query(f.chars, word),
                    EXACT_SCORE,
                )) as Box<dyn TQuery>,
            ),
            (Occur::MustNot, term(f.chars, word)),
        ]);
        let (more, complete) = top_ordered(
            s,
            &self.places,
            &stats,
            &rest,
            (n - top.len(), 0.0),
            self.help_after,
        )?;
        top.extend(more);
        Ok((top, complete))
    }
}

/// One tier of one plan: its Tantivy query, built once, or the single-word shortcut.
enum TierFetch<'a> {
    Query(&'a TantivyBackend, Box<dyn TQuery>),
    SingleWord(&'a TantivyBackend, &'a str),
}

impl Fetch for TierFetch<'_> {
    fn top(&self, n: usize) -> Result<Candidates> {
        let (top, complete) = match self {
            TierFetch::Query(b, q) => top_ordered(
                &b.searcher,
                &b.places,
                &b.stats(),
                &**q,
                (n, 0.0),
                b.help_after,
            )?,
            TierFetch::SingleWord(b, word) => b.single_word_top(word, n)?,
        };
        Ok(Candidates { top, complete })
    }
}

impl Vocabulary for TantivyBackend {
    fn passages(&self) -> u64 {
        self.docs
    }

    fn total_tokens(&self) -> u64 {
        self.stats().total_tokens()
    }

    fn doc_freq(&self, word: &str) -> u64 {
        self.stats()
            .count(&Term::from_field_text(self.fields.chars, word))
    }

    fn titled_sources(&self, titles: &[String]) -> Result<Vec<String>> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = titles
            .iter()
            .map(|t| (Occur::Must, exact_query(f.title_chars, t)))
            .collect();
        clauses.push((Occur::Must, file_entries(f)));
        let docs = self
            .searcher
            .search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        let mut sources = Vec::new();
        for addr in docs {
            let doc: TantivyDocument = self.searcher.doc(addr)?;
            sources.extend(text_of(&doc, f.source));
        }
        Ok(sources)
    }
}

impl Backend for TantivyBackend {
    fn fetch<'a>(&'a self, plan: &'a Plan, tier: Tier) -> Result<Box<dyn Fetch + 'a>> {
        Ok(Box::new(match (tier, plan.single_word()) {
            (Tier::Strict, Some(word)) => TierFetch::SingleWord(self, word),
            (Tier::Strict, None) => TierFetch::Query(self, query::strict(plan, &self.fields)),
            (Tier::Relaxed, _) => TierFetch::Query(self, query::relaxed(plan, &self.fields)),
        }))
    }

    fn passage(&self, id: CandidateId) -> Result<StoredPassage> {
        let doc: TantivyDocument = self.searcher.doc(addr(id))?;
        Ok(stored(&self.fields, &doc))
    }

    fn has_word(&self, id: CandidateId, word: &str) -> bool {
        let addr = addr(id);
        let reader = self.searcher.segment_reader(addr.segment_ord);
        let term = Term::from_field_text(self.fields.chars, word);
        let postings = reader
            .inverted_index(self.fields.chars)
            .and_then(|ii| Ok(ii.read_postings(&term, IndexRecordOption::Basic)?));
        match postings {
            Ok(Some(mut p)) => p.seek(addr.doc_id) == addr.doc_id,
            _ => false,
        }
    }

    fn doc_meta(&self, source: &str) -> Result<DocMeta> {
        let Some(addr) = self.file_entry(source)? else {
            return Ok(DocMeta::default());
        };
        let doc: TantivyDocument = self.searcher.doc(addr)?;
        Ok(doc_meta_of(&self.fields, &doc))
    }

    fn doc_metas(&self, sources: &[&str]) -> Result<Vec<DocMeta>> {
        // Found file by file (each a short intersection with the files' entries: one query
        // for all scanned the union of their passages, 2.2 M instructions against 1.6 M),
        // then read in the order they are stored, since the store keeps the block last read.
        let mut found = Vec::with_capacity(sources.len());
        for (i, source) in sources.iter().enumerate() {
            if let Some(addr) = self.file_entry(source)? {
                found.push((addr, i));
            }
        }
        found.sort_unstable();
        let mut metas = vec![DocMeta::default(); sources.len()];
        for (addr, i) in found {
            let doc: TantivyDocument = self.searcher.doc(addr)?;
            metas[i] = doc_meta_of(&self.fields, &doc);
        }
        Ok(metas)
    }

    fn titled_files(&self, t: &PlanTerm) -> Result<HashSet<FileId>> {
        let f = &self.fields;
        let forms = t
            .forms
            .iter()
            .map(|form| exact_query(f.title_chars, &form.norm));
        let q = BooleanQuery::new(vec![
            (Occur::Must, any_of(forms.collect())),
            (Occur::Must, file_entries(f)),
        ]);
        let docs = self.searcher.search(&q, &DocSetCollector)?;
        Ok(docs.into_iter().map(id).collect())
    }

    fn locate(&self, plan: &Plan, places: &[PassagePlace]) -> Result<Vec<Option<CandidateId>>> {
        let f = &self.fields;
        let mut sources: Vec<&str> = places.iter().map(|p| p.0.as_str()).collect();
        sources.sort_unstable();
        sources.dedup();
        let mut clauses = vec![
            (
                Occur::Must,
                any_of(sources.iter().map(|s| term(f.source, s)).collect()),
            ),
            (Occur::MustNot, file_entries(f)),
        ];
        query::add_filters(plan, f, &mut clauses);
        let docs = self
            .searcher
            .search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        let mut found: HashMap<PassagePlace, CandidateId> = HashMap::new();
        // A file's name once per segment: a lookup decodes a dictionary block, and every
        // passage of the files named is visited. In index order, each segment's columns taken
        // once and read forward (see `columns`).
        let mut names: HashMap<(u32, u64), String> = HashMap::new();
        let mut docs: Vec<DocAddress> = docs.into_iter().collect();
        docs.sort_unstable();
        let mut open: Option<(u32, places::Places)> = None;
        for a in docs {
            let places = match &mut open {
                Some((segment, places)) if *segment == a.segment_ord => places,
                _ => {
                    let reader = self.searcher.segment_reader(a.segment_ord);
                    &mut open.insert((a.segment_ord, self.places.of(reader)?)).1
                }
            };
            let p = places.of(a.doc_id);
            let name = match names.entry((a.segment_ord, p.source)) {
                std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(places.name(p.source)?).clone()
                }
            };
            let place = (name, p.line as usize, p.column.map(|c| c as usize));
            found.insert(place, id(a));
        }
        Ok(places.iter().map(|p| found.get(p).copied()).collect())
    }

    /// The file's entry found in the postings alone.
    fn file_id(&self, source: &str) -> Option<FileId> {
        let f = &self.fields;
        let source = Term::from_field_text(f.source, source);
        let file = Term::from_field_u64(f.file, 1);
        for (ord, reader) in self.searcher.segment_readers().iter().enumerate() {
            let read = |field, term: &Term| {
                let ii = reader.inverted_index(field).ok()?;
                ii.read_postings(term, IndexRecordOption::Basic).ok()?
            };
            let (Some(mut docs), Some(mut files)) = (read(f.source, &source), read(f.file, &file))
            else {
                continue;
            };
            let alive = reader.alive_bitset();
            // Leapfrog: the file's passages are many, file entries one per file.
            let mut d = docs.doc();
            while d != tantivy::TERMINATED {
                let f = files.seek(d);
                if f == tantivy::TERMINATED {
                    break;
                }
                if f != d {
                    d = docs.seek(f);
                    continue;
                }
                if !alive.is_some_and(|a| a.is_deleted(d)) {
                    return Some(id(tantivy::DocAddress::new(ord as u32, d)));
                }
                d = docs.advance();
            }
        }
        None
    }
}

impl TantivyBackend {
    /// The address of file `source`'s metadata entry, found without scoring (no term
    /// statistics gathered over every segment): a file has one live entry.
    fn file_entry(&self, source: &str) -> Result<Option<DocAddress>> {
        let f = &self.fields;
        let q = BooleanQuery::new(vec![
            (Occur::Must, term(f.source, source)),
            (Occur::Must, file_entries(f)),
        ]);
        Ok(self
            .searcher
            .search(&q, &DocSetCollector)?
            .into_iter()
            .min())
    }

    /// Every passage of the commit (no file entries), in index order: what the semantic tier
    /// embeds.
    pub fn all_passages(&self) -> Result<Vec<StoredPassage>> {
        let q = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(tantivy::query::AllQuery) as Box<dyn TQuery>,
            ),
            (Occur::MustNot, file_entries(&self.fields)),
        ]);
        let mut docs: Vec<_> = self
            .searcher
            .search(&q, &DocSetCollector)?
            .into_iter()
            .collect();
        docs.sort();
        docs.into_iter()
            .map(|a| Ok(stored(&self.fields, &self.searcher.doc(a)?)))
            .collect()
    }
}

fn text_of(doc: &TantivyDocument, field: Field) -> Option<String> {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// A file's metadata, from its entry.
fn doc_meta_of(f: &Fields, doc: &TantivyDocument) -> DocMeta {
    DocMeta {
        title: text_of(doc, f.title),
        author: text_of(doc, f.author),
        date: text_of(doc, f.date),
        url: text_of(doc, f.url),
        encoding: text_of(doc, f.encoding),
    }
}

/// The stored fields of a passage.
fn stored(f: &Fields, doc: &TantivyDocument) -> StoredPassage {
    let opt = |field| {
        doc.get_first(field)
            .and_then(|v| v.as_u64())
            .map(|v| v as usize)
    };
    let num = |field| opt(field).unwrap_or(0);
    let text = text_of(doc, f.text).unwrap_or_default();
    let visible = index::stored_pieces(&text, text_of(doc, f.visible).as_deref());
    let line_start = num(f.line_start);
    StoredPassage {
        columns: opt(f.column_start).zip(opt(f.column_end)),
        source: text_of(doc, f.source).unwrap_or_default(),
        line_start,
        // A one-line passage has none stored.
        line_end: opt(f.line_end).unwrap_or(line_start),
        paragraph: num(f.paragraph),
        text,
        visible,
    }
}

#[cfg(test)]
mod tests {
    use tantivy::indexer::NoMergePolicy;
    use tantivy::{Index, IndexWriter};

    use super::*;
    use crate::ingest::corpus::parse_document;
    use crate::store::index::{meta_doc, passage_doc, register_tokenizers, schema};

    /// Read together, files' metadata are each file's own, in the order asked, whatever
    /// segment holds them; a file without an entry has none.
    #[test]
    fn metadata_read_together_are_each_files_own() {
        let index = Index::create_in_ram(schema());
        register_tokenizers(&index);
        let f = Fields::new(&index.schema()).unwrap();
        let mut w: IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        w.set_merge_policy(Box::new(NoMergePolicy));
        for (i, author) in ["李白", "杜甫", "王維"].iter().enumerate() {
            let text = format!("---\ntitle: 詩{i}\nauthor: {author}\n---\n\n明月{i}\n");
            let doc = parse_document(&format!("{i}.md"), &text);
            for p in &doc.passages {
                w.add_document(passage_doc(&f, &doc.source, p)).unwrap();
            }
            w.add_document(meta_doc(&f, &doc.source, &doc.meta, "UTF-8"))
                .unwrap();
            w.commit().unwrap();
        }
        let backend = TantivyBackend::new(index).unwrap();
        let sources = ["2.md", "none.md", "0.md", "1.md"];
        let together = backend.doc_metas(&sources).unwrap();
        let one_by_one: Vec<DocMeta> = sources
            .iter()
            .map(|s| backend.doc_meta(s).unwrap())
            .collect();
        assert_eq!(together, one_by_one);
        assert_eq!(together[0].author.as_deref(), Some("王維"));
        assert_eq!(together[1], DocMeta::default());
        assert_eq!(together[2].title.as_deref(), Some("詩0"));
        assert!(backend.doc_metas(&[]).unwrap().is_empty());
    }
}
