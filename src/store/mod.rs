//! The index folder and everything in it: one owner, [`IndexStore`], reads its marker,
//! `meta.json` and file list once per open and hands out what others need; [`update()`]
//! brings it in step with the corpus. Nothing outside this module reads those files.
//!
//! - [`folder`]: which folders are ours, creating, opening and clearing them;
//! - [`marker`]: the marker file; [`manifest`]: the list of indexed files;
//! - [`dir`]: the Tantivy directory (readers write nothing; `meta.json` read once), and
//!   [`ranged`]: its files read in ranges by a process that searches once;
//! - [`index`]: the schema; [`update`](mod@update): plan, apply, commit; [`report`]: what an update says;
//! - [`errors`]: what goes wrong, as [`StoreError`]; [`stats`]: what a commit holds.

pub mod clear;
pub mod dir;
pub mod errors;
pub mod file_list;
pub mod folder;
pub mod index;
pub mod manifest;
pub mod marker;
pub mod ranged;
pub mod report;
pub mod snapshot;
pub mod stats;
pub mod update;

pub use errors::{Setting, StoreError, is_missing_file};
pub use file_list::FileList;
pub use manifest::{Content, FileState, Head};
pub use marker::{MARKER, Marker, holds_marker};
pub use report::{NoReport, Progress, RebuildReason, Reporter, Said, UpdateReport, Warning};
pub use snapshot::IndexStore;
pub use stats::IndexStats;
pub use update::{UpdateOptions, parse_extensions, update};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "zhsearch-store-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(dir.join("corpus")).unwrap();
        std::fs::write(dir.join("corpus/a.txt"), "第一篇文章\n").unwrap();
        dir
    }

    fn build(dir: &Path) -> IndexStore {
        let options = UpdateOptions::default();
        let corpus = dir.join("corpus");
        update(&dir.join("index"), Some(&corpus), &options, None, &NoReport)
            .unwrap()
            .1
    }

    #[test]
    fn an_up_to_date_store_is_checked_and_searched_without_reading_the_index_again() {
        let dir = scratch("snapshot");
        let idx = dir.join("index");
        build(&dir);
        assert!(IndexStore::open(&dir.join("nothing")).unwrap().is_none());
        let store = IndexStore::open(&idx).unwrap().unwrap();
        assert_eq!(store.files().len(), 1);
        // Neither the freshness check nor a reader reads meta.json or the list again.
        let list = idx.join(store.head().files_in.as_deref().unwrap());
        std::fs::rename(idx.join("meta.json"), dir.join("meta.json")).unwrap();
        std::fs::rename(&list, dir.join("list.json")).unwrap();
        let options = UpdateOptions::default();
        let (report, same) = update(&idx, None, &options, Some(&store), &()).unwrap();
        assert!(report.is_noop());
        assert!(Arc::ptr_eq(&same.files, &store.files));
        let reader = same.index().reader().unwrap();
        assert_eq!(reader.searcher().num_docs(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_commit_made_since_the_store_was_opened_is_not_overwritten() {
        let dir = scratch("stale");
        let idx = dir.join("index");
        build(&dir);
        let old = IndexStore::open(&idx).unwrap().unwrap();
        // Another process adds b.txt; then this one, from its old snapshot, sees c.txt too.
        std::fs::write(dir.join("corpus/b.txt"), "第二篇\n").unwrap();
        build(&dir);
        std::fs::write(dir.join("corpus/c.txt"), "第三篇\n").unwrap();
        let options = UpdateOptions::default();
        let (report, store) = update(&idx, None, &options, Some(&old), &()).unwrap();
        assert_eq!((report.added, report.unchanged), (1, 2));
        let sources: Vec<&str> = store.files().iter().map(|f| f.source.as_str()).collect();
        assert_eq!(sources, ["a.txt", "b.txt", "c.txt"]);
        let reopened = IndexStore::open(&idx).unwrap().unwrap();
        assert_eq!(reopened.files(), store.files());
        // One meta entry and one passage per file.
        assert_eq!(store.index().reader().unwrap().searcher().num_docs(), 6);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corpus_listed_before_the_index_was_opened_stands_for_that_commit_only() {
        use update::prelist::prelist;
        let dir = scratch("prelist");
        let idx = dir.join("index");
        build(&dir);
        let options = UpdateOptions::default();
        // Listed before b.txt was written: the update stands on that listing (b.txt is seen
        // by the next one), as if the listing had been made after the index was opened.
        let before_b = prelist(&idx, None, None).unwrap();
        let stale = prelist(&idx, None, None).unwrap();
        std::fs::write(dir.join("corpus/b.txt"), "第二篇\n").unwrap();
        let store = IndexStore::open(&idx).unwrap().unwrap();
        let run = |store: &IndexStore, pre| {
            update::update_prelisted(&idx, None, &options, Some(store), pre, &())
        };
        let (report, _) = run(&store, Some(before_b)).unwrap();
        assert!(report.is_noop(), "{report:?}");
        let (report, store) = run(&store, None).unwrap();
        assert_eq!((report.added, report.unchanged), (1, 1));
        // The same listing, for the commit of b.txt: it would remove b.txt. It is not used;
        // the corpus is listed again.
        let (report, store) = run(&store, Some(stale)).unwrap();
        assert!(report.is_noop(), "{report:?}");
        assert_eq!(store.files().len(), 2);
        // Other extensions than the index's: no listing is made (the update refuses them).
        let md = ["md".to_string()];
        assert!(prelist(&idx, None, Some(&md)).is_none());
        assert!(prelist(&dir.join("nothing"), None, None).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Collects what an update reports.
    #[derive(Default)]
    struct Collect(std::sync::Mutex<(Vec<Warning>, Vec<Progress>)>);

    impl Reporter for Collect {
        fn warning(&self, w: &Warning) {
            self.0.lock().unwrap().0.push(w.clone());
        }
        fn progress(&self, p: Progress) {
            self.0.lock().unwrap().1.push(p);
        }
    }

    #[test]
    fn an_update_reports_progress_and_skipped_files_to_its_reporter() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<IndexStore>();
        let dir = scratch("reporter");
        std::fs::write(dir.join("corpus/bad.txt"), [0xffu8, 0xfe, 0x00, 0xd8, 0x00]).unwrap();
        let size = |n: &str| std::fs::metadata(dir.join("corpus").join(n)).unwrap().len();
        let reporter = Collect::default();
        let (report, store) = update(
            &dir.join("index"),
            Some(&dir.join("corpus")),
            &UpdateOptions::default(),
            None,
            &reporter,
        )
        .unwrap();
        assert_eq!(report.rebuilt, Some(RebuildReason::NoIndex));
        let (warnings, progress) = reporter.0.into_inner().unwrap();
        assert_eq!(report.skipped.len(), 1, "{report:?}");
        assert_eq!(
            warnings,
            [Warning::Skipped {
                source: "bad.txt".into(),
                why: report.skipped[0].1.clone(),
            }]
        );
        let bytes = size("a.txt") + size("bad.txt");
        assert_eq!(progress[0], Progress::Start { files: 2, bytes });
        let done: u64 = progress
            .iter()
            .map(|p| match p {
                Progress::Done { bytes } => *bytes,
                _ => 0,
            })
            .sum();
        assert_eq!(done, bytes);
        assert_eq!(progress.last(), Some(&Progress::Finish));
        let bad = store
            .files()
            .iter()
            .find(|f| f.source == "bad.txt")
            .unwrap();
        assert!(bad.skipped().is_some() && bad.encoding().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
