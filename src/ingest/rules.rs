//! The rules of the `.gitignore` and `.ignore` files in the corpus, applied as the `ignore`
//! crate applies them (its matcher, its precedence), but read here, through the handle of
//! their folder and only when they are regular files. The crate opens them by path: a
//! `.gitignore` linked to a file outside the corpus was read, one linked to `/dev/zero`
//! filled the memory until the process aborted, and one linked to a named pipe made every
//! search wait forever. As Git (since 2.32) does, a link is not followed: its rules are not
//! applied, and the walk says so.

use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags};

/// Longest ignore file read (a larger one is not applied, with a warning).
const MAX_BYTES: u64 = 16 << 20;

/// The rules that apply in one folder: its own, then its parents' (none at the corpus).
#[derive(Clone, Default)]
pub(crate) struct Rules(Option<Rc<Level>>);

/// One folder's rules: `.ignore` ones take precedence over `.gitignore` ones at every level.
struct Level {
    ignore: Option<Gitignore>,
    git: Option<Gitignore>,
    parent: Option<Rc<Level>>,
}

/// Which ignore files a folder holds.
#[derive(Clone, Copy, Default)]
pub(crate) struct Held {
    pub(crate) ignore: bool,
    pub(crate) git: bool,
}

impl Held {
    /// Notes `name` if it is an ignore file.
    pub(crate) fn note(&mut self, name: &[u8]) {
        match name {
            b".ignore" => self.ignore = true,
            b".gitignore" => self.git = true,
            _ => {}
        }
    }
}

impl Rules {
    /// Whether no rule applies.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The rules of the entries of `folder` (open as `fd`), which holds the ignore files
    /// `held`: the folder's own before these. What cannot be read goes to `warn`.
    pub(crate) fn enter(
        &self,
        folder: &Path,
        fd: &OwnedFd,
        held: Held,
        warn: &mut dyn FnMut(String),
    ) -> Rules {
        let mut read =
            |held: bool, name: &str| held.then(|| read_rules(folder, fd, name, warn)).flatten();
        let ignore = read(held.ignore, ".ignore");
        let git = read(held.git, ".gitignore");
        if ignore.is_none() && git.is_none() {
            return self.clone();
        }
        Rules(Some(Rc::new(Level {
            ignore,
            git,
            parent: self.0.clone(),
        })))
    }

    /// Whether the entry at `path` is excluded (`Some(true)`), whitelisted (`Some(false)`), or
    /// neither, as `ignore::Ignore::matched_ignore` tells it: the first `.ignore` rule that
    /// matches at the nearest level, else the first `.gitignore` one.
    pub(crate) fn verdict(&self, path: &Path, is_dir: bool) -> Option<bool> {
        let (mut ignore, mut git) = (Match::None, Match::None);
        let mut level = self.0.as_deref();
        while let Some(l) = level {
            if ignore.is_none()
                && let Some(m) = &l.ignore
            {
                ignore = m.matched(path, is_dir);
            }
            if git.is_none()
                && let Some(m) = &l.git
            {
                git = m.matched(path, is_dir);
            }
            level = l.parent.as_deref();
        }
        match ignore.or(git) {
            Match::None => None,
            Match::Ignore(_) => Some(true),
            Match::Whitelist(_) => Some(false),
        }
    }
}

/// The rules of `folder`'s ignore file `name`, read through `fd` without following a link;
/// `None` (and a warning, unless it has gone) when it cannot be read or is not a regular file.
fn read_rules(
    folder: &Path,
    fd: &OwnedFd,
    name: &str,
    warn: &mut dyn FnMut(String),
) -> Option<Gitignore> {
    let path = folder.join(name);
    let shown = path.display();
    // Not blocking: a named pipe opens at once, and is then refused as not a regular file.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::openat(fd, name, flags, Mode::empty()) {
        Ok(file) => file,
        Err(rustix::io::Errno::NOENT) => return None,
        Err(rustix::io::Errno::LOOP) => {
            warn(format!(
                "{shown}: a symbolic link, which zhsearch does not follow: its rules are not \
                 applied (put a copy of the file it links to in its place)"
            ));
            return None;
        }
        Err(e) => {
            warn(format!("{shown}: {}", std::io::Error::from(e)));
            return None;
        }
    };
    let refuse = |why: &str| format!("{shown}: {why}: its rules are not applied");
    match rustix::fs::fstat(&file) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile => {
            warn(refuse("not a regular file"));
            return None;
        }
        Ok(st) if st.st_size as u64 > MAX_BYTES => {
            warn(refuse("longer than 16 MB"));
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            warn(format!("{shown}: {}", std::io::Error::from(e)));
            return None;
        }
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::from(file)
        .take(MAX_BYTES)
        .read_to_end(&mut bytes);
    if let Err(e) = read {
        warn(format!("{shown}: {e}"));
        return None;
    }
    build(folder, &path, &bytes, warn)
}

/// The matcher of the rules in `bytes` (the ignore file `path` of `folder`), line by line as
/// `GitignoreBuilder::add` reads a file: a bad line is warned about and passed over, and
/// reading stops at a line that is not UTF-8.
fn build(
    folder: &Path,
    path: &Path,
    bytes: &[u8],
    warn: &mut dyn FnMut(String),
) -> Option<Gitignore> {
    let mut builder = GitignoreBuilder::new(folder);
    let shown = path.display();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            warn(format!("{shown}: line {}: not UTF-8", i + 1));
            break;
        };
        // Git's handling of a file that starts with a byte order mark.
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        if let Err(e) = builder.add_line(Some(path.to_path_buf()), line) {
            warn(format!("{shown}: line {}: {e}", i + 1));
        }
    }
    match builder.build() {
        Ok(rules) => (!rules.is_empty()).then_some(rules),
        Err(e) => {
            warn(format!("{shown}: {e}"));
            None
        }
    }
}
