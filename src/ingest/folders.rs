//! The corpus's folders read by hand. The `ignore` crate makes a path, a file type query and
//! a match against every level's rules for each entry; on the ×10 bench corpus (3,130 files
//! in one folder) its walk with a `stat` of each file took 8.4–13.5 ms where reading the
//! folder and looking at the same files took 6.1–8.4 ms (30 rounds each, alternated by
//! phase). Each folder's entries are read once, its files looked at through the folder's
//! handle, and the rules of its ignore files ([`Rules`]) applied as the crate applies them.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::rules::{Held, Rules};

/// What a walk finds goes to, and what it asks.
pub(crate) trait Visitor {
    /// Whether a file of this name is a document.
    fn is_document(&self, name: &OsStr) -> bool;
    /// Whether the walk passes `folder` by (an index folder).
    fn skips(&self, folder: &Path) -> bool;
    /// A document, its size and last change (see [`size_and_time`]).
    fn file(&mut self, path: PathBuf, stamp: std::io::Result<(u64, u64)>);
    /// Something that could not be listed (a folder, an ignore file), on one line.
    fn unlisted(&mut self, what: String);
}

/// Walks `root` (the corpus) into `found`, as the `ignore` crate would: hidden entries (but
/// those a rule keeps), what the `.gitignore` and `.ignore` files exclude, symbolic links and
/// the folders `found` skips are passed by.
pub(crate) fn walk(root: &Path, found: &mut dyn Visitor) {
    let mut folders = vec![(root.to_path_buf(), Rules::default())];
    while let Some((folder, rules)) = folders.pop() {
        match read(&folder) {
            Ok((fd, entries, held)) => {
                let mut warn = |what| found.unlisted(what);
                let rules = rules.enter(&folder, &fd, held, &mut warn);
                for (name, kind) in entries {
                    visit(&folder, &fd, &name, kind, &rules, found, &mut folders);
                }
            }
            // A link put in a folder's place since its parent was read: never followed.
            Err(_) if is_link(&folder) => {}
            Err(e) => {
                let shown = super::names::escape_os(folder.as_os_str());
                found.unlisted(format!("{shown}: {e}"));
            }
        }
    }
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// A folder's handle, its entries but `.` and `..`, and the ignore files among them (its
/// subfolders are opened without following a link: one put in a folder's place since its
/// parent was read is not entered).
type Read = (OwnedFd, Vec<(CString, FileType)>, Held);

/// `folder` read whole, or why not.
fn read(folder: &Path) -> std::io::Result<Read> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let fd = rustix::fs::open(folder, flags, Mode::empty())?;
    // A copy of the handle: `Dir::read_from` opens `.` again, which a folder that may be
    // read but not entered (mode 444) refuses.
    let mut dir = rustix::fs::Dir::new(rustix::io::fcntl_dupfd_cloexec(&fd, 0)?)?;
    let mut entries = Vec::new();
    let mut held = Held::default();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        held.note(bytes);
        entries.push((name.to_owned(), entry.file_type()));
    }
    Ok((fd, entries, held))
}

/// One entry of `folder` (open as `fd`, under `rules`): a document is added to `found`, a
/// folder to `folders`.
fn visit(
    folder: &Path,
    fd: &OwnedFd,
    name: &CStr,
    kind: FileType,
    rules: &Rules,
    found: &mut dyn Visitor,
    folders: &mut Vec<(PathBuf, Rules)>,
) {
    let bytes = name.to_bytes();
    // Hidden, as the `ignore` crate has it, unless a rule keeps it.
    let hidden = bytes.starts_with(b".");
    if hidden && rules.is_empty() {
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
    if !rules.is_empty() {
        match rules.verdict(&path, kind == FileType::Directory) {
            Some(true) => return,
            None if hidden => return,
            _ => {}
        }
    }
    match kind {
        FileType::Directory if !found.skips(&path) => folders.push((path, rules.clone())),
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
            let rules = "skip.txt\nprivate/\nignored.md\n*.markdown\n!keep.md\n!.hidden.txt\n";
            // `.ignore` rules take precedence: this one keeps what a `.gitignore` leaves out.
            let (name, more) = if at.ends_with('/') {
                (".ignore", "!skip.txt\n")
            } else {
                (".gitignore", "")
            };
            let path = root.join(at.trim_end_matches('/')).join(name);
            fs::write(path, format!("{rules}{more}")).unwrap();
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
        let placements: [&[&str]; 7] = [
            &[],
            &[""],
            &["x/y"],
            &["deep/er/"],
            &["x", "deep/"],
            &["", "x/"],
            &["x/", "x/y/z"],
        ];
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
            // Left out below x/y/z by a `.gitignore` above it, unless an `.ignore` keeps it.
            let kept = sources.iter().any(|s| s.0 == "x/y/z/skip.txt");
            let above = |a: &&str| "x/y/z".starts_with(a.trim_end_matches('/'));
            let kept_by_ignore = at.iter().any(|a| above(a) && a.ends_with('/'));
            assert_eq!(kept, kept_by_ignore || !at.iter().any(above), "{at:?}");
            let hidden_kept = sources.iter().any(|s| s.0 == ".hidden.txt");
            assert_eq!(hidden_kept, at.contains(&""), "{at:?}");
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

    /// An ignore file is read only when it is a regular file in its folder: a link (here to
    /// rules outside the corpus), a named pipe (which made a walk wait forever) and a folder
    /// are warned about and their rules not applied; a bad line is warned about and the
    /// other lines still apply.
    #[test]
    fn ignore_files_are_read_only_when_they_are_regular_files() {
        let base =
            std::env::temp_dir().join(format!("zhsearch-folders-rules-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let corpus = base.join("corpus");
        let files = [
            "a.txt",
            "link/b.txt",
            "pipe/b.txt",
            "dir/b.txt",
            "bad/b.txt",
            "bad/c.txt",
        ];
        for f in files
            .into_iter()
            .chain(["big/b.txt", "many/b.txt", "most/b.txt", "sock/b.txt"])
        {
            fs::create_dir_all(corpus.join(f).parent().unwrap()).unwrap();
            fs::write(corpus.join(f), f).unwrap();
        }
        fs::write(base.join("rules"), "b.txt\n").unwrap();
        std::os::unix::fs::symlink(base.join("rules"), corpus.join("link/.gitignore")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(corpus.join("pipe/.gitignore"))
            .status()
            .unwrap();
        assert!(fifo.success());
        fs::create_dir(corpus.join("dir/.gitignore")).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(corpus.join("sock/.gitignore"));
        fs::write(corpus.join("bad/.ignore"), "{a,b\nc.txt\n").unwrap();
        let long = "#".repeat(200) + "\n";
        fs::write(
            corpus.join("big/.gitignore"),
            long.repeat((1 << 20) / 201 + 1),
        )
        .unwrap();
        fs::write(corpus.join("many/.gitignore"), "#\n".repeat(10_001)).unwrap();
        // 10,000 lines are read.
        let rules = "#\n".repeat(9_999) + "b.txt\n";
        fs::write(corpus.join("most/.gitignore"), rules).unwrap();
        // Shown escaped, on one line.
        let odd = corpus.join(OsStr::from_bytes(b"odd\n\xff"));
        fs::create_dir(&odd).unwrap();
        fs::write(odd.join("b.txt"), "b").unwrap();
        std::os::unix::fs::symlink(base.join("rules"), odd.join(".gitignore")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let root = corpus.clone();
        std::thread::spawn(move || {
            let extensions = crate::ingest::walk::default_extensions();
            let mut found = Found::new(&root, &extensions, Skip::nothing());
            walk(&root, &mut found);
            tx.send(found.listing()).unwrap();
        });
        let listing = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the walk waits on a named pipe");
        let mut sources: Vec<&str> = listing.files.iter().map(|f| f.source.as_str()).collect();
        sources.sort_unstable();
        assert_eq!(
            sources,
            [
                "a.txt",
                "bad/b.txt",
                "big/b.txt",
                "dir/b.txt",
                "link/b.txt",
                "many/b.txt",
                "odd\\n\\xff/b.txt",
                "pipe/b.txt",
                "sock/b.txt"
            ]
        );
        let warned = |folder: &str, why: &str| {
            let file = format!("{folder}/.");
            let found = listing
                .unlisted
                .iter()
                .any(|w| w.contains(&file) && w.contains(why));
            assert!(found, "{folder}: {why}: {:?}", listing.unlisted);
        };
        warned("link", "symbolic link");
        warned("pipe", "not a regular file");
        warned("dir", "not a regular file");
        warned("sock", "not a regular file");
        warned("bad", "line 1");
        warned("big", "longer than 1 MB");
        warned("many", "more than 10,000 lines");
        warned("odd\\n\\xff", "symbolic link");
        assert_eq!(listing.unlisted.len(), 8, "{:?}", listing.unlisted);
        assert!(!listing.unlisted.iter().any(|w| w.contains('\n')));
        fs::remove_dir_all(&base).unwrap();
    }
}
