//! One commit of the index, ready to search: its store, its searcher, and the documents'
//! metadata the `author:` and `date:` filters read.

use std::path::Path;

use super::*;

/// One commit of the index, ready to search.
pub(super) struct Snapshot {
    pub(super) store: IndexStore,
    pub(super) searcher: Searcher,
    /// Each indexed document's metadata, read at the first `author:` or `date:` filter.
    metas: std::sync::OnceLock<Vec<(String, DocMeta)>>,
}

impl Snapshot {
    /// `query` bound to this commit, its `author:` and `date:` filters resolved to files.
    pub(super) fn plan(&self, query: &Query, exact: bool) -> anyhow::Result<Plan> {
        let mut plan = self.searcher.bind(query)?;
        plan.exact = exact;
        if !query.meta.is_empty() {
            let metas = match self.metas.get() {
                Some(m) => m,
                None => {
                    let indexed = self.store.files().iter().filter(|f| f.skipped().is_none());
                    let backend = self.searcher.backend();
                    let read = indexed
                        .map(|f| Ok((f.source.clone(), backend.doc_meta(&f.source)?)))
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    self.metas.get_or_init(|| read)
                }
            };
            let kept = metas
                .iter()
                .filter(|(_, m)| query.meta.iter().all(|f| f.keeps(m)));
            let kept: Vec<String> = kept.map(|(s, _)| s.clone()).collect();
            plan.title_sources = Some(match plan.title_sources.take() {
                Some(titled) => titled.into_iter().filter(|s| kept.contains(s)).collect(),
                None => kept,
            });
        }
        Ok(plan)
    }

    /// A page of `query` on this commit, each hit stamped with its file's content hash here.
    pub(super) fn page(
        &self,
        query: &Query,
        options: &SearchOptions,
        meaning: Option<&Meaning>,
    ) -> Result<Page> {
        let (limit, offset) = (options.limit, options.offset);
        let page = reading(|| {
            self.plan(query, options.exact)
                .and_then(|plan| self.searcher.page_with(&plan, limit, offset, meaning))
        });
        let mut page = page.map_err(|e| damaged(self.store.dir(), e))?;
        let files = self.store.file_list();
        for hit in &mut page.hits {
            hit.indexed = files.hash_of(&hit.source).map(str::to_string);
        }
        Ok(page)
    }

    /// A searcher on `store`. Readers take no lock (they may not be able to write one), so a
    /// writer's garbage collection may delete the files of a segment that a commit replaced
    /// between reading `meta.json` and opening them: the open is then tried again, on the new
    /// commit.
    pub(super) fn new(mut store: IndexStore, one_shot: bool) -> Result<Snapshot> {
        let mut tries = 0;
        loop {
            match Searcher::for_process(store.index().clone(), one_shot) {
                Ok(searcher) => {
                    let metas = std::sync::OnceLock::new();
                    return Ok(Snapshot {
                        store,
                        searcher,
                        metas,
                    });
                }
                Err(e) if tries < 2 && store::is_missing_file(&e) => {
                    tries += 1;
                    store = IndexStore::open(store.dir())?
                        .ok_or_else(|| Error::NoIndex(store.dir().to_path_buf()))?;
                }
                Err(e) => return Err(damaged(store.dir(), e)),
            }
        }
    }
}

thread_local! {
    /// Whether this thread runs a read whose panic becomes an error (see [`reading`]).
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a panic on this thread now becomes an error that says so (see [`reading`]): a
/// program's panic hook may then keep quiet.
pub fn panic_is_reported() -> bool {
    GUARDED.get()
}

/// `read`'s result, or an error when it panics: Tantivy panics on some damaged files (a
/// postings list whose bytes were overwritten), where an error names the damage and its repair.
pub(super) fn reading<T>(read: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let was = GUARDED.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    GUARDED.set(was);
    match result {
        Ok(result) => result,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            Err(anyhow::anyhow!("reading it failed: {why}"))
        }
    }
}

/// A search error: the store's own, too many files open, or the index's files are damaged.
pub(super) fn damaged(dir: &Path, e: anyhow::Error) -> Error {
    match Error::classify(e) {
        Error::Other(e) => Error::Store(crate::store::errors::unopenable(dir, e)),
        e => e,
    }
}
