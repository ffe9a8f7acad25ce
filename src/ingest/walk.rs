//! Finding the documents of a corpus folder: which files are documents, and their names.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::ingest::folders::epoch_ns;

/// File name extensions read as documents unless told otherwise.
pub const EXTENSIONS: &[&str] = &["txt", "md", "markdown"];

/// [`EXTENSIONS`], owned.
pub fn default_extensions() -> Vec<String> {
    EXTENSIONS.iter().map(|e| e.to_string()).collect()
}

/// A document file found under the corpus folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the corpus folder, with `/` separators.
    pub source: String,
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes, as listed.
    pub size: u64,
    /// Last change, nanoseconds since the epoch (see [`mtime_ns`]; 0 when it cannot be told).
    pub mtime_ns: u64,
    /// Why the file cannot be a document whatever it holds (its name); `source` is then the
    /// name escaped, for the warning.
    pub unusable: Option<String>,
}

/// The documents found under a corpus folder, and the entries that could not be listed.
#[derive(Debug, Default)]
pub struct Listing {
    /// The documents, sorted by source.
    pub files: Vec<SourceFile>,
    /// What the walker could not list (an unreadable folder, a broken ignore file), one line
    /// each: the caller warns about them.
    pub unlisted: Vec<String>,
}

/// Why a corpus folder could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// It cannot be read (it does not exist, or may not be read).
    #[error("cannot read corpus folder: {cause}")]
    Missing {
        /// The I/O error, on one line.
        cause: String,
    },
    /// It is not a folder.
    #[error("the corpus is not a folder")]
    NotFolder,
    /// A file in it could not be read.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Lists the documents under `corpus` (files with one of `extensions`), sorted by path: hidden
/// files and whatever the `.gitignore`/`.ignore` files inside the corpus exclude are skipped
/// (not those of folders above it, nor git's global or per-repository excludes: what is
/// indexed depends on the corpus folder alone), and so are index folders (`index_dir`, and
/// any folder `is_index` says holds an index: an index never indexes itself). Symbolic links
/// are never followed, the corpus folder itself included: `corpus` must be a resolved path.
pub fn list_files(
    corpus: &Path,
    extensions: &[String],
    index_dir: &Path,
    is_index: fn(&Path) -> bool,
) -> Result<Listing, ListError> {
    let walk = |root: &Path, found: &mut Found| crate::ingest::folders::walk(root, found);
    list_with(corpus, extensions, index_dir, is_index, walk)
}

/// [`list_files`], the folders walked by `walk`.
pub(crate) fn list_with(
    corpus: &Path,
    extensions: &[String],
    index_dir: &Path,
    is_index: fn(&Path) -> bool,
    walk: fn(&Path, &mut Found),
) -> Result<Listing, ListError> {
    let meta = fs::symlink_metadata(corpus).map_err(|e| ListError::Missing {
        cause: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(ListError::NotFolder);
    }
    let skip = Skip {
        is_index,
        index_dir: fs::canonicalize(index_dir).ok(),
    };
    let mut found = Found::new(corpus, extensions, skip);
    walk(corpus, &mut found);
    let mut listing = found.listing;
    // By source, and by path among escaped twins (see `set_apart_escaped_twins`): not stable,
    // on 3,130 files half the instructions of a stable sort.
    listing
        .files
        .sort_unstable_by(|a, b| (&a.source, &a.path).cmp(&(&b.source, &b.path)));
    set_apart_escaped_twins(&mut listing);
    Ok(listing)
}

/// The folders a walk does not enter: index folders (the index's own, and any that
/// `is_index` says holds one).
#[derive(Clone)]
pub(crate) struct Skip {
    is_index: fn(&Path) -> bool,
    index_dir: Option<PathBuf>,
}

impl Skip {
    /// No folder skipped.
    #[cfg(test)]
    pub(crate) fn nothing() -> Skip {
        Skip {
            is_index: |_| false,
            index_dir: None,
        }
    }

    pub(crate) fn skips(&self, folder: &Path) -> bool {
        (self.is_index)(folder) || self.index_dir.as_deref() == Some(folder)
    }
}

/// What a walk of the corpus found, as it finds it.
pub(crate) struct Found<'a> {
    corpus: &'a Path,
    extensions: &'a [String],
    skip: Skip,
    listing: Listing,
}

impl<'a> Found<'a> {
    /// Nothing found yet under `corpus`.
    pub(crate) fn new(corpus: &'a Path, extensions: &'a [String], skip: Skip) -> Found<'a> {
        Found {
            corpus,
            extensions,
            skip,
            listing: Listing::default(),
        }
    }

    /// What was found, as found.
    #[cfg(test)]
    pub(crate) fn listing(self) -> Listing {
        self.listing
    }

    /// The regular file at `path`, whose size and last change are `stamp`.
    pub(crate) fn file(&mut self, path: PathBuf, stamp: std::io::Result<(u64, u64)>) {
        let Some(rel) = below(&path, self.corpus) else {
            return;
        };
        let (source, unusable) = match source_name(rel) {
            Ok(source) => (source, None),
            Err((escaped, why)) => (escaped, Some(why)),
        };
        let (size, mtime_ns, unusable) = match stamp {
            Ok((size, mtime_ns)) => (size, mtime_ns, unusable),
            // Deleted since the folder was read (an editor saving, a temporary file): it is
            // not a document any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            // In a folder that may be listed but not entered: a document that cannot be read,
            // skipped with the reason (what the index had of it goes), not a failed listing.
            Err(e) => {
                let why = format!("cannot read it ({e}); check that it exists and is readable");
                (0, 0, unusable.or(Some(why)))
            }
        };
        self.listing.files.push(SourceFile {
            source,
            path,
            size,
            mtime_ns,
            unusable,
        });
    }
}

impl crate::ingest::folders::Visitor for Found<'_> {
    fn is_document(&self, name: &std::ffi::OsStr) -> bool {
        has_extension(name, self.extensions)
    }

    fn skips(&self, folder: &Path) -> bool {
        self.skip.skips(folder)
    }

    fn file(&mut self, path: PathBuf, stamp: std::io::Result<(u64, u64)>) {
        Found::file(self, path, stamp);
    }

    fn unlisted(&mut self, what: String) {
        self.listing.unlisted.push(what);
    }
}

/// Walks `root` (the corpus or a folder in it) as the `ignore` crate does: hidden files and
/// whatever the `.gitignore`/`.ignore` files inside `root` exclude are skipped. The tests
/// hold [`crate::ingest::folders`]'s walk to it.
#[cfg(test)]
pub(crate) fn walk_ignoring(root: &Path, found: &mut Found) {
    let skip = found.skip.clone();
    let walker = ignore::WalkBuilder::new(root)
        .follow_links(false)
        .require_git(false)
        .parents(false)
        .git_global(false)
        .git_exclude(false)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !(is_dir && e.depth() > 0 && skip.skips(e.path()))
        })
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                found.listing.unlisted.push(err.to_string());
                continue;
            }
        };
        if entry.file_type().is_some_and(|t| t.is_file())
            && has_extension(entry.file_name(), found.extensions)
        {
            let stamp = by_path(entry.path());
            found.file(entry.into_path(), stamp);
        }
    }
}

/// Whether the file `name`'s extension (what follows its last dot, unless that dot starts
/// the name, as [`Path::extension`] says) is one of `extensions`, in any ASCII case; read as
/// bytes, a tenth of the instructions of [`Path::extension`].
fn has_extension(name: &std::ffi::OsStr, extensions: &[String]) -> bool {
    let name = name.as_encoded_bytes();
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &name[dot + 1..],
        _ => return false,
    };
    extensions
        .iter()
        .any(|x| x.as_bytes().eq_ignore_ascii_case(ext))
}

/// An unusable name is listed by its escape (`tab\there.txt` for a tab), which may be the
/// very name of another file (a backslash and a `t`). Sources name files one to one (the
/// index deletes and keeps passages by source), so such a twin is not listed: it is warned
/// about on every update instead of being remembered as skipped. Among twins, a usable file
/// keeps the name; else one whose name it is (unreadable, not escaped); else the first.
fn set_apart_escaped_twins(listing: &mut Listing) {
    let files = std::mem::take(&mut listing.files);
    let mut kept: Vec<SourceFile> = Vec::with_capacity(files.len());
    let mut pending: Option<SourceFile> = None;
    for f in files {
        let Some(mut p) = pending.take() else {
            pending = Some(f);
            continue;
        };
        if p.source != f.source {
            kept.push(p);
            pending = Some(f);
            continue;
        }
        let mut twin = f;
        if keeps_name(&twin) > keeps_name(&p) {
            std::mem::swap(&mut p, &mut twin);
        }
        let why = twin.unusable.unwrap_or_default();
        listing.unlisted.push(format!(
            "{}: {why} (its name, escaped, is also another file's)",
            twin.source
        ));
        pending = Some(p);
    }
    kept.extend(pending);
    listing.files = kept;
}

/// How strongly `f` holds its source among twins: usable, then named by it (its path ends
/// with it, which an escape's never does).
fn keeps_name(f: &SourceFile) -> (bool, bool) {
    let named = f
        .path
        .as_os_str()
        .as_encoded_bytes()
        .ends_with(f.source.as_bytes());
    (f.unusable.is_none(), named)
}

/// `path` relative to `root` when the walk from `root` gave it (`root`, a `/`, the rest):
/// compared as bytes, cheaper than `Path::strip_prefix`'s component parsing, once per file.
fn below<'a>(path: &'a Path, root: &Path) -> Option<&'a Path> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let (p, r) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
        let rest = p.strip_prefix(r)?;
        let rest = if r.ends_with(b"/") {
            rest
        } else {
            rest.strip_prefix(b"/")?
        };
        if !rest.is_empty() && !rest.starts_with(b"/") {
            return Some(Path::new(std::ffi::OsStr::from_bytes(rest)));
        }
    }
    path.strip_prefix(root).ok()
}

/// `path`'s size and last change, looked at without following a link (for the crate's walk).
#[cfg(test)]
fn by_path(path: &Path) -> std::io::Result<(u64, u64)> {
    let md = fs::symlink_metadata(path)?;
    Ok((md.len(), mtime_ns(&md)))
}

/// A file's last change as the index records it, nanoseconds since the epoch: the later of
/// its modification time and (on Unix) its status change time, 0 when the platform tells
/// neither. The status change time cannot be set back by the user: an edit whose
/// modification time is restored (`touch -d`), a time before 1970, and a file made readable
/// again (`chmod`) or moved away and back are all seen as changes.
pub fn mtime_ns(md: &fs::Metadata) -> u64 {
    let modified = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        modified.max(epoch_ns(md.ctime(), md.ctime_nsec()))
    }
    #[cfg(not(unix))]
    modified
}

/// A path relative to the corpus as citations name it, with `/`. A name that cannot be one is
/// `Err((escaped name, why))`: one that is not UTF-8 (a lossy copy would name no file) or
/// that holds a control character or line separator (it would break the one-line output
/// and could not be typed back as `FILE:LINE`), or an invisible character (a direction
/// override would show `rlo\u{202e}gpj.txt` as `rlotxt.jpg` in a citation).
fn source_name(rel: &Path) -> Result<String, (String, String)> {
    use crate::ingest::names::{breaks_line, escape, escape_os};
    let Some(name) = rel.to_str() else {
        let why = "its file name is not valid UTF-8, so it could not be cited or shown: rename it";
        return Err((escape_os(rel.as_os_str()), why.into()));
    };
    // Most names are ASCII, where only control characters break a line or hide.
    let breaks = match name.is_ascii() {
        true => name.bytes().any(|b| b.is_ascii_control()),
        false => name.chars().any(breaks_line),
    };
    if breaks {
        let why = "its file name holds a line break, a control or an invisible character, which would break or disguise one-line output and citations: rename it";
        return Err((escape(name), why.into()));
    }
    Ok(if std::path::MAIN_SEPARATOR == '/' {
        name.to_string()
    } else {
        name.replace(std::path::MAIN_SEPARATOR, "/")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A walked path relative to the corpus folder, whatever the folder's spelling.
    #[test]
    fn paths_below_the_corpus() {
        let cases = [
            ("/c/a.txt", "/c", Some("a.txt")),
            ("/c/d/a.txt", "/c/", Some("d/a.txt")),
            ("/a.txt", "/", Some("a.txt")),
            ("/cd/a.txt", "/c", None),
            ("c/a.txt", "c", Some("a.txt")),
        ];
        for (path, root, want) in cases {
            let got = below(Path::new(path), Path::new(root));
            assert_eq!(got, want.map(Path::new), "{path} below {root}");
        }
    }

    /// Files listed under one source: the usable one keeps it whichever the walk met first,
    /// and the others are warned about, not listed.
    #[test]
    fn escaped_twins_are_set_apart() {
        let file = |source: &str, unusable: bool| SourceFile {
            source: source.into(),
            path: source.into(),
            size: 1,
            mtime_ns: 1,
            unusable: unusable.then(|| "bad name".to_string()),
        };
        for usable_first in [true, false] {
            let mut twins = vec![file("a\\t.txt", false), file("a\\t.txt", true)];
            if !usable_first {
                twins.reverse();
            }
            let mut listing = Listing {
                files: [vec![file("0.txt", true)], twins, vec![file("b.txt", false)]].concat(),
                unlisted: vec![],
            };
            set_apart_escaped_twins(&mut listing);
            let kept: Vec<_> = listing
                .files
                .iter()
                .map(|f| (f.source.as_str(), f.unusable.is_some()))
                .collect();
            assert_eq!(
                kept,
                [("0.txt", true), ("a\\t.txt", false), ("b.txt", false)]
            );
            assert_eq!(listing.unlisted.len(), 1);
            assert!(listing.unlisted[0].starts_with("a\\t.txt: bad name"));
        }
        // Both unusable (the real one unreadable): the one whose name it is keeps it.
        let unreadable = SourceFile {
            path: "c/a\\t.txt".into(),
            ..file("a\\t.txt", true)
        };
        let escaped = SourceFile {
            path: "c/a\t.txt".into(),
            ..file("a\\t.txt", true)
        };
        for twins in [
            vec![escaped.clone(), unreadable.clone()],
            vec![unreadable.clone(), escaped.clone()],
        ] {
            let mut listing = Listing {
                files: twins,
                unlisted: vec![],
            };
            set_apart_escaped_twins(&mut listing);
            assert_eq!(listing.files, std::slice::from_ref(&unreadable));
        }
    }
}
