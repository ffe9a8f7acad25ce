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

use super::names::{escape, escape_os};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags};

/// Longest ignore file read, in bytes and lines (a larger one is not applied, with a warning):
/// the crate's matcher takes memory and time by the rule (an attack measured 700 MB and 3 s
/// for 1 MB of `*NNNNNNN*.md` lines, and every search walks the corpus again).
const MAX_BYTES: u64 = 1 << 20;
const MAX_LINES: usize = 10_000;

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
    let shown = escape_os(path.as_os_str());
    let mut refuse = |why: &str| warn(format!("{shown}: {why}: its rules are not applied"));
    // Not blocking: a named pipe opens at once, and is then refused as not a regular file.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::openat(fd, name, flags, Mode::empty()) {
        Ok(file) => file,
        Err(rustix::io::Errno::NOENT) => return None,
        Err(rustix::io::Errno::LOOP) => {
            refuse(
                "a symbolic link, which zhsearch does not follow (put a copy of the file in its place)",
            );
            return None;
        }
        // A socket.
        Err(rustix::io::Errno::NXIO) => {
            refuse("not a regular file");
            return None;
        }
        Err(e) => {
            refuse(&format!("cannot be read ({})", std::io::Error::from(e)));
            return None;
        }
    };
    match rustix::fs::fstat(&file) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile => {
            refuse("not a regular file");
            return None;
        }
        Ok(st) if st.st_size as u64 > MAX_BYTES => {
            refuse("longer than 1 MB");
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            refuse(&format!("cannot be read ({})", std::io::Error::from(e)));
            return None;
        }
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::from(file)
        .take(MAX_BYTES)
        .read_to_end(&mut bytes);
    if let Err(e) = read {
        refuse(&format!("cannot be read ({e})"));
        return None;
    }
    let ends = bytes.iter().filter(|&&b| b == b'\n').count();
    if ends + usize::from(!bytes.is_empty() && !bytes.ends_with(b"\n")) > MAX_LINES {
        refuse("more than 10,000 lines");
        return None;
    }
    build(folder, &path, &shown, &bytes, warn)
}

/// The matcher of the rules in `bytes` (the ignore file `path` of `folder`, `shown` escaped),
/// line by line as `GitignoreBuilder::add` reads a file: a bad line is warned about and passed
/// over, and reading stops at a line that is not UTF-8.
fn build(
    folder: &Path,
    path: &Path,
    shown: &str,
    bytes: &[u8],
    warn: &mut dyn FnMut(String),
) -> Option<Gitignore> {
    let mut builder = GitignoreBuilder::new(folder);
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            warn(format!(
                "{shown}: line {} is not UTF-8: it and the lines after it are not applied",
                i + 1
            ));
            break;
        };
        // Git's handling of a file that starts with a byte order mark.
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        if let Err(e) = builder.add_line(Some(path.to_path_buf()), line) {
            let e = escape(&e.to_string());
            warn(format!(
                "{shown}: line {}: {e}: this line is not applied",
                i + 1
            ));
        }
    }
    match builder.build() {
        Ok(rules) => (!rules.is_empty()).then_some(rules),
        Err(e) => {
            let e = escape(&e.to_string());
            warn(format!("{shown}: {e}: its rules are not applied"));
            None
        }
    }
}
