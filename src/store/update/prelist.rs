//! The corpus listed while the index is being opened. A search's freshness check walks the
//! corpus; made after the index was open, the walk started a few milliseconds late (on the
//! ×10 bench corpus, 3,130 files, the index took 3–5 ms to open and the walk 13–17 ms, longer
//! than the search beside it). [`prelist`] walks the corpus the index's marker names, without
//! reading `meta.json` (a search reads it once); the listing then stands only if no commit was
//! made since it started (see [`Prelisted::listing_for`]), as if it had been made just after
//! the index was opened.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Settings, UpdateOptions, same_extensions, settle};
use crate::ingest::corpus::{self, Listing};
use crate::store::folder::Found;
use crate::store::marker;

/// The corpus as listed, and the commit current when the listing started.
pub struct Prelisted {
    commit: Stamp,
    settings: Settings,
    listing: Listing,
}

/// Which `meta.json` a folder holds: a commit writes a new file and renames it into place,
/// so another commit means another inode (and times), without reading the file.
#[derive(PartialEq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    changed: (i64, i64, i64, i64),
}

fn stamp(dir: &Path) -> Option<Stamp> {
    let m = std::fs::symlink_metadata(dir.join("meta.json")).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        changed: (m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()),
    })
}

/// Lists the corpus of the index in `dir` (as its marker names it), settled as an update would
/// settle it with the `corpus` and `extensions` given; `None` when there is no commit, or
/// anything an update would report (the update then finds it for itself).
pub fn prelist(
    dir: &Path,
    corpus: Option<&Path>,
    extensions: Option<&[String]>,
) -> Option<Prelisted> {
    let commit = stamp(dir)?;
    let known = marker::read_marker(dir).ok()??;
    let options = UpdateOptions {
        rebuild: false,
        extensions: extensions.map(<[String]>::to_vec),
    };
    // Settled from the marker alone (as for a first build that did not finish: no head is
    // read), then held to it as an update holds the head.
    let settings = settle(corpus, dir, &Found::Unfinished(known.clone()), &options).ok()?;
    if settings.corpus != known.corpus || !same_extensions(&settings.extensions, &known.extensions)
    {
        return None;
    }
    let listing = corpus::list_files(
        &settings.corpus,
        &settings.extensions,
        dir,
        marker::holds_marker,
    )
    .ok()?;
    Some(Prelisted {
        commit,
        settings,
        listing,
    })
}

impl Prelisted {
    /// The listing, for an update settled on `settings` from a commit read before this call:
    /// when the settings are the same and `meta.json` is still the file it was when the
    /// listing started, no commit came between, so that commit is the one read. Else files
    /// changed since the listing started may be in it, and the corpus must be listed again.
    pub(super) fn listing_for(self, dir: &Path, settings: &Settings) -> Option<Listing> {
        let same = self.settings == *settings && stamp(dir).is_some_and(|now| now == self.commit);
        same.then_some(self.listing)
    }
}
