//! The corpus's folders read by hand where no ignore file applies. The `ignore` crate makes a
//! path, a file type query and a match against every level's rules for each entry; on the ×10
//! bench corpus (3,130 files in one folder) its walk with a `stat` of each file took 8.4–13.5
//! ms where reading the folder and looking at the same files took 6.1–8.4 ms (30 rounds each,
//! alternated by phase). A folder without a `.gitignore` or `.ignore` is read here: its entries once,
//! its files looked at through the folder's handle. One that holds either file, or that
//! cannot be read whole, is walked by the `ignore` crate, with everything below it, so that
//! its rules and errors are those of the crate (no folder above it has any rules).

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// The files that carry rules for the folder they are in.
const IGNORE_FILES: [&[u8]; 2] = [b".gitignore", b".ignore"];

/// What a walk finds goes to, and what it asks.
pub(crate) trait Visitor {
    /// Whether a file of this name is a document.
    fn is_document(&self, name: &OsStr) -> bool;
    /// Whether the walk passes `folder` by (an index folder).
    fn skips(&self, folder: &Path) -> bool;
    /// A document, its size and last change (see [`size_and_time`]).
    fn file(&mut self, path: PathBuf, stamp: std::io::Result<(u64, u64)>);
    /// `folder` and all below it walked by the `ignore` crate's rules.
    fn by_rules(&mut self, folder: &Path);
}

/// Walks `root` (the corpus) into `found`, as the `ignore` crate would: hidden entries and
/// symbolic links are not entered, nor the folders `found` skips.
pub(crate) fn walk(root: &Path, found: &mut dyn Visitor) {
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        match read(&folder) {
            Some((fd, entries)) => {
                for (name, kind) in entries {
                    visit(&folder, &fd, &name, kind, found, &mut folders);
                }
            }
            // A link put in a folder's place since its parent was read: never followed (the
            // crate follows the folder it starts from).
            None if is_link(&folder) => {}
            None => found.by_rules(&folder),
        }
    }
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The entries of `folder` but `.` and `..`, with its handle; `None` when it holds an ignore
/// file or cannot be read whole (its subfolders are opened without following a link: one
/// put in a folder's place since its parent was read is not entered).
fn read(folder: &Path) -> Option<(OwnedFd, Vec<(CString, FileType)>)> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let fd = rustix::fs::open(folder, flags, Mode::empty()).ok()?;
    let mut dir = rustix::fs::Dir::read_from(&fd).ok()?;
    let mut entries = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry.ok()?;
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        if IGNORE_FILES.contains(&bytes) {
            return None;
        }
        entries.push((name.to_owned(), entry.file_type()));
    }
    Some((fd, entries))
}

/// One entry of `folder` (open as `fd`): a document is added to `found`, a folder to
/// `folders`.
fn visit(
    folder: &Path,
    fd: &OwnedFd,
    name: &CStr,
    kind: FileType,
    found: &mut dyn Visitor,
    folders: &mut Vec<PathBuf>,
) {
    let bytes = name.to_bytes();
    // Hidden, as the `ignore` crate has it.
    if bytes.starts_with(b".") {
        return;
    }
    let os_name = OsStr::from_bytes(bytes);
    let (kind, stat) = match kind {
        FileType::RegularFile if !found.is_document(os_name) => return,
        FileType::RegularFile | FileType::Directory => (kind, None),
        // A file system that does not tell types in its folders: looked at.
        FileType::Unknown => match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => (FileType::from_raw_mode(st.st_mode), Some(Ok(st))),
            Err(_) => return,
        },
        _ => return,
    };
    let path = folder.join(os_name);
    match kind {
        FileType::Directory if !found.skips(&path) => folders.push(path),
        FileType::RegularFile if found.is_document(os_name) => {
            let stat =
                stat.unwrap_or_else(|| rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW));
            let stamp = stat.map(|st| size_and_time(&st)).map_err(Into::into);
            found.file(path, stamp);
        }
        _ => {}
    }
}

/// The size and last change in `st`: the later of its modification and status change times,
/// nanoseconds since the epoch (see `walk::mtime_ns`).
#[allow(clippy::unnecessary_cast)] // The fields' types differ between platforms.
pub(crate) fn size_and_time(st: &rustix::fs::Stat) -> (u64, u64) {
    let modified = epoch_ns(st.st_mtime as i64, st.st_mtime_nsec as i64);
    let changed = epoch_ns(st.st_ctime as i64, st.st_ctime_nsec as i64);
    (st.st_size as u64, modified.max(changed))
}

/// Seconds and nanoseconds since the epoch as one count (0 before the epoch).
pub(crate) fn epoch_ns(secs: i64, nanos: i64) -> u64 {
    u64::try_from(secs).map_or(0, |s| s * 1_000_000_000 + nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::walk::{Found, Listing, Skip, list_with, walk_ignoring};
    use std::fs;

    /// A corpus of every kind of entry a walk meets: documents and others at several depths,
    /// hidden files and folders, ignore files (at the top, below, and only deep down),
    /// symbolic links to files and folders, an index folder, names that cannot be sources.
    fn corpus(root: &Path, ignore_at: &[&str]) {
        let files = [
            "a.txt",
            "b.md",
            "c.markdown",
            "d.TXT",
            "e.rs",
            "noext",
            ".hidden.txt",
            "x/a.txt",
            "x/.h/b.txt",
            "x/y/z/c.md",
            "x/y/z/skip.txt",
            "x/y/keep.md",
            "private/p.txt",
            "deep/er/still/d.txt",
            "deep/er/still/ignored.md",
            "tab\there.txt",
            "idx/zhsearch-index.json",
            "idx/in-index.txt",
        ];
        for f in files {
            let path = root.join(f);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, f).unwrap();
        }
        fs::write(root.join(OsStr::from_bytes(b"bad\xffname.txt")), "x").unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("x"), root.join("xlink")).unwrap();
        for at in ignore_at {
            let rules = "skip.txt\nprivate/\nignored.md\n*.markdown\n!keep.md\n";
            let name = if at.ends_with('/') {
                ".ignore"
            } else {
                ".gitignore"
            };
            fs::write(root.join(at.trim_end_matches('/')).join(name), rules).unwrap();
        }
    }

    fn listed(listing: &Listing) -> Vec<(String, u64, bool)> {
        let files = listing.files.iter();
        files
            .map(|f| (f.source.clone(), f.size, f.unusable.is_some()))
            .collect()
    }

    /// The walk by hand lists what the `ignore` crate's walk lists, sizes and times
    /// included, wherever ignore files are.
    #[test]
    fn folders_read_by_hand_list_what_the_ignore_crate_lists() {
        let base = std::env::temp_dir().join(format!("zhsearch-folders-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let placements: [&[&str]; 5] = [&[], &[""], &["x/y"], &["deep/er/"], &["x", "deep/"]];
        let extensions = crate::ingest::walk::default_extensions();
        fn is_index(p: &Path) -> bool {
            p.join("zhsearch-index.json").exists()
        }
        for (i, at) in placements.iter().enumerate() {
            let root = base.join(i.to_string());
            corpus(&root, at);
            let index = root.join("none");
            let by_hand = |root: &Path, found: &mut Found| walk(root, found);
            let by_hand = list_with(&root, &extensions, &index, is_index, by_hand).unwrap();
            let by_crate = list_with(&root, &extensions, &index, is_index, walk_ignoring).unwrap();
            assert_eq!(by_hand.files, by_crate.files, "ignore files at {at:?}");
            assert_eq!(
                by_hand.unlisted, by_crate.unlisted,
                "ignore files at {at:?}"
            );
            let sources = listed(&by_hand);
            assert!(sources.iter().any(|s| s.0 == "x/y/keep.md"), "{sources:?}");
            assert!(
                sources.iter().any(|s| s.2),
                "an unusable name is listed: {sources:?}"
            );
            assert!(
                !sources.iter().any(|s| s.0.contains("in-index")),
                "{sources:?}"
            );
            // Ignored below x/y/z whenever a folder above it holds the rules.
            let kept = sources.iter().any(|s| s.0 == "x/y/z/skip.txt");
            assert_eq!(
                kept,
                !at.iter()
                    .any(|a| "x/y/z".starts_with(a.trim_end_matches('/')))
            );
        }
        fs::remove_dir_all(&base).unwrap();
    }

    /// A folder replaced by a link after its parent was read is not entered (the walk
    /// starts here from such a link, as it would meet one).
    #[test]
    fn a_link_in_a_folders_place_is_not_followed() {
        let base =
            std::env::temp_dir().join(format!("zhsearch-folders-link-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("outside")).unwrap();
        fs::create_dir_all(base.join("corpus")).unwrap();
        fs::write(base.join("outside/secret.txt"), "x").unwrap();
        let link = base.join("corpus/sub");
        std::os::unix::fs::symlink(base.join("outside"), &link).unwrap();
        let extensions = crate::ingest::walk::default_extensions();
        let corpus = base.join("corpus");
        let mut found = Found::new(&corpus, &extensions, Skip::nothing());
        walk(&link, &mut found);
        let listing = found.listing();
        assert!(listing.files.is_empty(), "{:?}", listing.files);
        assert!(listing.unlisted.is_empty(), "{:?}", listing.unlisted);
        fs::remove_dir_all(&base).unwrap();
    }
}
