//! Keeping the index in step with the corpus: only added, changed and removed files are
//! touched, files are streamed (read, analysed, added, dropped) on every core, and the list of
//! indexed files travels in the commit payload, so it changes atomically with the index.
//!
//! A file whose size and modification time are unchanged is not read. Otherwise it is read and
//! hashed; an unchanged hash (a touched file) costs no indexing.
//!
//! [`update()`] settles the corpus and extensions, lists the files, opens (or creates) the
//! index, then [`plan::plan`] decides, [`apply`] reads and indexes, [`commit`] commits.

pub mod alloc;
pub mod apply;
pub mod commit;
pub mod plan;
pub mod prelist;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, anyhow};

use crate::ingest::corpus::{self, Listing, SourceFile};
use crate::store::errors::Setting;
use crate::store::errors::StoreError;
use crate::store::folder::{self, Found, Opened};
use crate::store::index::SCHEMA_VERSION;
use crate::store::manifest::Head;
use crate::store::marker::{self, Marker};
use crate::store::report::{Progress, RebuildReason, Reporter, UpdateReport, Warning};
use crate::store::snapshot::IndexStore;
use prelist::Prelisted;

/// Options for an update.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Reindex every file even when nothing changed; also repairs a damaged index and allows
    /// another corpus or other extensions.
    pub rebuild: bool,
    /// File name extensions of documents (as [`parse_extensions`] gives them) [default: as
    /// the index remembers, else `txt, md, markdown`].
    pub extensions: Option<Vec<String>>,
}

/// Another process committed between the snapshot an update planned from and its writer lock.
#[derive(Debug, thiserror::Error)]
#[error("the index changed while it was being updated")]
struct Stale;

/// Brings the index in `dir` in step with `corpus` [default: the corpus the index was built
/// from, else `./corpus`], or builds it; `current` is the store already open (its head and
/// list are reused, not read again). Returns what was done and the store as committed (the
/// same snapshot when nothing changed). Nothing is created before the corpus is known to hold
/// documents, and a first build that fails leaves nothing behind.
///
/// When something must be written, `meta.json` is read once more under the writer lock: if
/// another process committed since the snapshot, the update starts over from what is on disk.
pub fn update(
    dir: &Path,
    corpus: Option<&Path>,
    options: &UpdateOptions,
    current: Option<&IndexStore>,
    reporter: &dyn Reporter,
) -> Result<(UpdateReport, IndexStore), StoreError> {
    update_prelisted(dir, corpus, options, current, None, reporter)
}

/// [`update()`], with `prelisted`, the corpus listed while `current` was being opened, for
/// the listing when no commit came since it began (see [`prelist`](mod@prelist)).
pub fn update_prelisted(
    dir: &Path,
    corpus: Option<&Path>,
    options: &UpdateOptions,
    current: Option<&IndexStore>,
    prelisted: Option<Prelisted>,
    reporter: &dyn Reporter,
) -> Result<(UpdateReport, IndexStore), StoreError> {
    let (mut current, mut prelisted) = (current, prelisted);
    for _ in 0..3 {
        match run(dir, corpus, options, current, prelisted.take(), reporter) {
            Err(e) if e.downcast_ref::<Stale>().is_some() => current = None,
            other => return other.map_err(StoreError::from_anyhow),
        }
    }
    run(dir, corpus, options, None, None, reporter).map_err(StoreError::from_anyhow)
}

/// The corpus and extensions an update reads, settled before anything is written.
#[derive(PartialEq)]
struct Settings {
    corpus: PathBuf,
    extensions: Vec<String>,
}

fn run(
    dir: &Path,
    corpus: Option<&Path>,
    options: &UpdateOptions,
    current: Option<&IndexStore>,
    prelisted: Option<Prelisted>,
    reporter: &dyn Reporter,
) -> Result<(UpdateReport, IndexStore)> {
    if let Some(path) = current.and_then(|s| s.marker_denied.clone()) {
        return Err(anyhow!(StoreError::Permission {
            path,
            doing: "reading",
        }));
    }
    let found = match current {
        Some(store) => store.found(),
        None => folder::inspect(dir)?,
    };
    let settings = settle(corpus, dir, &found, options)?;
    // A corpus whose last document was deleted leaves an index of none (settled, it is the
    // corpus of the commit); nothing is built of an empty one.
    let may_be_empty = found.committed().is_some() && !options.rebuild;
    let listed = match prelisted.and_then(|p| p.listing_for(dir, &settings)) {
        Some(listing) => take(listing, &settings, may_be_empty, reporter)?,
        None => list(&settings, dir, may_be_empty, reporter)?,
    };
    let marker = Marker::new(&settings.corpus, &settings.extensions);
    let opened = match current {
        Some(store) if store.head.schema == SCHEMA_VERSION => of_store(store),
        _ => folder::open_or_create(dir, found, options.rebuild, &marker)?,
    };
    let new_folder = opened.new_folder.clone();
    let result = bring_up_to_date(dir, opened, &settings, &listed, &marker, options, reporter);
    if listed.is_empty() && result.as_ref().is_ok_and(|(report, _)| report.removed > 0) {
        reporter.warning(&Warning::NoDocuments {
            corpus: settings.corpus.clone(),
        });
    }
    if result.is_err()
        && let Some(created) = new_folder
    {
        crate::store::clear::remove_unfinished(dir, created.as_deref());
    }
    result
}

/// The store as an index opened for an update, nothing read.
fn of_store(store: &IndexStore) -> Opened {
    Opened {
        index: store.index.clone(),
        fields: crate::store::index::Fields::new(&store.index.schema())
            .expect("a store's index has our schema"),
        meta: store.cache.clone(),
        head: Some(store.head.clone()),
        files: store.files.clone(),
        marker: store.marker.clone(),
        reset: None,
        new_folder: None,
        creating: None,
    }
}

/// Nothing to write: the last commit, as opened, with `report`.
fn as_committed(
    dir: &Path,
    opened: Opened,
    report: UpdateReport,
) -> Result<(UpdateReport, IndexStore)> {
    let head = opened.head.clone().ok_or_else(|| anyhow!("no commit"))?;
    let files = opened.files.clone();
    Ok((report, snapshot(dir, opened, head, files, None)))
}

/// Plans, and when anything is to be done, writes and commits.
fn bring_up_to_date(
    dir: &Path,
    mut opened: Opened,
    settings: &Settings,
    listed: &[SourceFile],
    marker: &Marker,
    options: &UpdateOptions,
    reporter: &dyn Reporter,
) -> Result<(UpdateReport, IndexStore)> {
    let rebuild = (opened.reset.clone()).or(options.rebuild.then_some(RebuildReason::Requested));
    if rebuild.is_none() && opened.files.unchanged(listed) {
        // The usual case, decided without making every file's state.
        let report = UpdateReport {
            corpus: settings.corpus.clone(),
            unchanged: listed.len(),
            ..UpdateReport::default()
        };
        return as_committed(dir, opened, report);
    }
    let plan = plan::plan(opened.files.all(), listed, rebuild);
    let mut report = UpdateReport {
        corpus: settings.corpus.clone(),
        rebuilt: plan.rebuild.clone(),
        removed: plan.dropped,
        ..UpdateReport::default()
    };
    for change in &plan.changes {
        match change {
            plan::Change::Keep(_) => report.unchanged += 1,
            plan::Change::Remove(_) => report.removed += 1,
            _ => {}
        }
    }
    if plan.is_noop() {
        return as_committed(dir, opened, report);
    }
    let mut writer = commit::open_writer(&opened.index, dir)?;
    // The writer lock now keeps other processes out; creating is over.
    opened.creating = None;
    if !commit::still_current(dir, &opened) {
        return Err(anyhow!(Stale));
    }
    let head = commit::new_head(&settings.corpus, &settings.extensions);
    let written = commit::write(
        dir,
        &mut writer,
        &opened,
        &plan,
        head,
        reporter,
        &mut report,
    )
    // After the commit, so that the marker always describes what is committed (a killed
    // `--rebuild --ext md` leaves both as they were); an index made before the marker
    // existed gets it here too. A new index's marker was written first, when it was
    // created.
    .and_then(|c| marker::ensure_marker(dir, marker).map(|()| c));
    reporter.progress(Progress::Finish);
    let (head, files) = match written {
        Ok(c) => c,
        Err(e) => return Err(commit::undo(dir, writer, &opened, e)),
    };
    // Merges after the commit only make the index smaller; a failed one leaves the commit
    // whole, and its files are collected by the next commit.
    let _ = writer.wait_merging_threads();
    for (source, why) in &report.skipped {
        reporter.warning(&Warning::Skipped {
            source: source.clone(),
            why: why.clone(),
        });
    }
    let store = snapshot(
        dir,
        opened,
        head,
        Arc::new(files.into()),
        Some(marker.clone()),
    );
    Ok((report, store))
}

/// The store of the commit `opened` now serves.
fn snapshot(
    dir: &Path,
    opened: Opened,
    head: Head,
    files: Arc<crate::store::FileList>,
    marker: Option<Marker>,
) -> IndexStore {
    let meta = opened.meta.get().unwrap_or_default();
    IndexStore {
        dir: dir.to_path_buf(),
        head,
        files,
        index: opened.index,
        marker: marker.or(opened.marker),
        meta,
        cache: opened.meta,
        marker_denied: None,
    }
}

/// Lists the documents of the corpus; the entries that cannot be listed are warned about.
fn list(
    settings: &Settings,
    dir: &Path,
    may_be_empty: bool,
    reporter: &dyn Reporter,
) -> Result<Vec<SourceFile>> {
    let listing = corpus::list_files(
        &settings.corpus,
        &settings.extensions,
        dir,
        marker::holds_marker,
    )
    .map_err(|e| match e {
        corpus::ListError::Missing { cause } => anyhow!(StoreError::CorpusMissing {
            corpus: settings.corpus.clone(),
            of_index: None,
            cause,
        }),
        corpus::ListError::NotFolder => anyhow!(StoreError::CorpusNotFolder {
            corpus: settings.corpus.clone(),
        }),
        corpus::ListError::Other(e) => e,
    })?;
    take(listing, settings, may_be_empty, reporter)
}

/// The documents of `listing`; the entries that could not be listed are warned about.
fn take(
    listing: Listing,
    settings: &Settings,
    may_be_empty: bool,
    reporter: &dyn Reporter,
) -> Result<Vec<SourceFile>> {
    // A corpus that could not be listed whole is not taken to be empty.
    let whole = listing.unlisted.is_empty();
    for what in listing.unlisted {
        reporter.warning(&Warning::Unlisted { what });
    }
    if listing.files.is_empty() && !(may_be_empty && whole) {
        return Err(anyhow!(StoreError::NoDocuments {
            corpus: settings.corpus.clone(),
            extensions: settings.extensions.clone(),
        }));
    }
    Ok(listing.files)
}

/// The corpus folder, absolute.
fn resolve(corpus: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(corpus).map_err(|e| {
        anyhow!(StoreError::CorpusMissing {
            corpus: corpus.to_path_buf(),
            of_index: None,
            cause: e.to_string(),
        })
    })
}

/// Extensions as the user may type them (`'txt, .MD'`): trimmed, without a leading dot, in
/// lower case, each once. Anything that cannot be the end of a file name is refused.
pub fn parse_extensions(raw: &[String]) -> Result<Vec<String>, StoreError> {
    let bad = |why: String| StoreError::BadExtensions {
        given: raw.join(","),
        why,
    };
    let mut out: Vec<String> = Vec::new();
    for item in raw.iter().flat_map(|r| r.split(',')) {
        let item = item.trim();
        let ext = item.strip_prefix('.').unwrap_or(item).to_lowercase();
        if ext.is_empty() {
            return Err(bad("an extension is empty".into()));
        }
        if !ext
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '~'))
        {
            return Err(bad(format!("{item:?} is not a file name extension")));
        }
        if !out.contains(&ext) {
            out.push(ext);
        }
    }
    if out.is_empty() {
        return Err(bad("no extension given".into()));
    }
    Ok(out)
}

/// The corpus [default: the one the index knows, else `./corpus`] and the extensions.
/// Changing the corpus or the extensions of a committed index needs `rebuild`.
fn settle(
    corpus: Option<&Path>,
    dir: &Path,
    found: &Found,
    options: &UpdateOptions,
) -> Result<Settings> {
    let known = found.known();
    let corpus = match (corpus, &known) {
        (Some(c), _) => resolve(c)?,
        (None, Some(k)) => remembered_corpus(&k.corpus, dir)?,
        (None, None) => resolve(Path::new("corpus"))?,
    };
    let extensions = match (&options.extensions, &known) {
        (Some(e), _) => parse_extensions(e)?,
        (None, Some(k)) => k.extensions.clone(),
        (None, None) => corpus::default_extensions(),
    };
    if !options.rebuild
        && let Some(head) = found.committed()
    {
        refuse_changes(dir, head, &corpus, &extensions)?;
    }
    Ok(Settings { corpus, extensions })
}

/// The corpus folder the index remembers, only while it still resolves to itself: when it, or
/// a folder above it, was replaced by a symbolic link, walking it would index (and show)
/// files from wherever the link points.
fn remembered_corpus(corpus: &Path, dir: &Path) -> Result<PathBuf> {
    match std::fs::canonicalize(corpus) {
        Ok(now) if now == corpus => Ok(now),
        Ok(now) => Err(anyhow!(StoreError::CorpusMoved {
            corpus: corpus.to_path_buf(),
            dir: dir.to_path_buf(),
            now,
        })),
        Err(e) => Err(anyhow!(StoreError::CorpusMissing {
            corpus: corpus.to_path_buf(),
            of_index: Some(dir.to_path_buf()),
            cause: e.to_string(),
        })),
    }
}

/// Refuses a search without an update (`--no-refresh`) of an index whose corpus or
/// extensions are not the ones given: what an update would refuse.
pub fn check_given(
    dir: &Path,
    head: &Head,
    corpus: Option<&Path>,
    extensions: Option<&[String]>,
) -> Result<()> {
    let corpus = match corpus {
        Some(c) => resolve(c)?,
        // A corpus replaced by a link is refused here too; one that is gone is not looked
        // at (the index answers without it).
        None => match remembered_corpus(&head.corpus, dir) {
            Err(e) if e.downcast_ref::<StoreError>().is_some_and(is_moved) => return Err(e),
            _ => head.corpus.clone(),
        },
    };
    let extensions = match extensions {
        Some(e) => parse_extensions(e)?,
        None => head.extensions.clone(),
    };
    refuse_changes(dir, head, &corpus, &extensions)
}

fn is_moved(e: &StoreError) -> bool {
    matches!(e, StoreError::CorpusMoved { .. })
}

/// Refuses an update that would drop documents as a side effect of a differing corpus or
/// extensions.
fn refuse_changes(dir: &Path, head: &Head, corpus: &Path, extensions: &[String]) -> Result<()> {
    if head.corpus != corpus {
        return Err(anyhow!(StoreError::Changed {
            dir: dir.to_path_buf(),
            what: Setting::Corpus,
            old: head.corpus.display().to_string(),
            new: corpus.display().to_string(),
        }));
    }
    if !same_extensions(&head.extensions, extensions) {
        let dotted = |e: &[String]| format!(".{}", e.join(", ."));
        return Err(anyhow!(StoreError::Changed {
            dir: dir.to_path_buf(),
            what: Setting::Extensions,
            old: dotted(&head.extensions),
            new: dotted(extensions),
        }));
    }
    Ok(())
}

/// Whether `a` and `b` name the same extensions, in any order, case or spelling (`.TXT`).
fn same_extensions(a: &[String], b: &[String]) -> bool {
    let set = |e: &[String]| {
        let mut v: Vec<String> = e
            .iter()
            .map(|x| x.trim().trim_start_matches('.').to_lowercase())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    set(a) == set(b)
}
