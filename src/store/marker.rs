//! zhsearch's marker file: the proof that a folder is an index of ours, and enough to rebuild
//! it with nothing else.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::store::errors::io_error;
use crate::store::index::{FORMAT, SCHEMA_VERSION};
use crate::store::manifest::Head;

/// zhsearch's marker: the proof that a folder is an index of ours.
pub const MARKER: &str = "zhsearch-index.json";

/// The content of the marker: enough to rebuild the index with nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Always [`FORMAT`].
    pub format: String,
    /// The schema version of the index it marks.
    pub schema: u32,
    /// The corpus folder, resolved.
    pub corpus: PathBuf,
    /// The file name extensions read as documents.
    pub extensions: Vec<String>,
}

impl Marker {
    /// The marker of an index of the current schema.
    pub fn new(corpus: &Path, extensions: &[String]) -> Marker {
        Marker {
            format: FORMAT.into(),
            schema: SCHEMA_VERSION,
            corpus: corpus.to_path_buf(),
            extensions: extensions.to_vec(),
        }
    }

    pub(crate) fn to_head(&self) -> Head {
        Head {
            format: self.format.clone(),
            schema: self.schema,
            corpus: self.corpus.clone(),
            extensions: self.extensions.clone(),
            files_in: None,
        }
    }

    pub(crate) fn from_head(h: &Head) -> Marker {
        Marker {
            format: h.format.clone(),
            schema: h.schema,
            corpus: h.corpus.clone(),
            extensions: h.extensions.clone(),
        }
    }
}

/// Reads the marker in `dir`: `Ok(None)` when there is none, `Err` with the reason when a file
/// of that name is not ours.
pub(crate) fn read_marker(dir: &Path) -> Result<Option<Marker>, String> {
    parse_marker(std::fs::read_to_string(dir.join(MARKER)))
}

/// The marker in `read`, the result of reading a marker file (see [`read_marker`]).
pub(crate) fn parse_marker(read: io::Result<String>) -> Result<Option<Marker>, String> {
    let text = match read {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read its {MARKER}: {e}")),
    };
    serde_json::from_str::<Marker>(&text)
        .ok()
        .filter(|m| m.format == FORMAT)
        .map(Some)
        .ok_or_else(|| format!("its {MARKER} was not written by zhsearch"))
}

/// Whether `dir` holds a marker zhsearch wrote: an index folder, never a corpus folder.
pub fn holds_marker(dir: &Path) -> bool {
    matches!(read_marker(dir), Ok(Some(_)))
}

/// Writes the marker atomically (a temporary file, synced, renamed, the folder synced), so
/// that a marker is always whole.
pub fn write_marker(dir: &Path, marker: &Marker) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(marker)?;
    atomic_write(&dir.join(MARKER), &bytes)
        .map_err(|e| io_error(dir, "writing the index marker in", e))
}

/// Writes `path` through a temporary file beside it, with the permissions of any new file
/// (Tantivy's own atomic write makes its files readable by their owner only, which keeps
/// other users from searching an index they may read).
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // Named by process: two first builds racing for a new folder never share one.
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    if let Some(parent) = path.parent() {
        // Durable rename; a folder that cannot be opened for syncing is not an error.
        let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Writes the marker unless it already says this (an index made before the marker existed,
/// or rebuilt from another corpus).
pub fn ensure_marker(dir: &Path, marker: &Marker) -> Result<()> {
    match read_marker(dir) {
        Ok(Some(m)) if m == *marker => Ok(()),
        _ => write_marker(dir, marker),
    }
}
