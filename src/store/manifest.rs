//! What the index knows about the corpus: its folder, the extensions read, and every file with
//! its size, modification time and hash.
//!
//! The commit payload in Tantivy's `meta.json` holds a small head naming a list file beside it
//! (`files-<hash>.json`), written before the commit. The commit therefore switches head and
//! list atomically, while `meta.json`, which Tantivy and every search parse, stays a few
//! hundred bytes instead of carrying thousands of file entries escaped inside a JSON string.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// What the index knows about one corpus file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileState {
    pub source: String,
    pub size: u64,
    pub mtime_ns: u64,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The file could not be read as text; it is not indexed until it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The head and the list of files, as of one commit.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub head: Head,
    pub files: Vec<FileState>,
}

/// The commit payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    pub format: String,
    pub schema: u32,
    pub corpus: PathBuf,
    /// File name extensions read as documents.
    #[serde(default = "crate::ingest::corpus::default_extensions")]
    pub extensions: Vec<String>,
    /// The list file, in the index folder.
    #[serde(default)]
    pub files_in: Option<String>,
}

impl Head {
    pub fn is_ours(&self) -> bool {
        self.format == crate::store::index::FORMAT
    }
}

/// The head of the last commit if a zhsearch index is in `dir`, read without Tantivy: it
/// names the index's owner and schema even when Tantivy cannot open the index.
pub fn read_head(dir: &Path) -> Option<Head> {
    let meta = std::fs::read_to_string(dir.join("meta.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&meta).ok()?;
    serde_json::from_str::<Head>(value.get("payload")?.as_str()?)
        .ok()
        .filter(Head::is_ours)
}

/// The head and file list of the last commit. `Err` when the head names a list that cannot be
/// read (a damaged index); `Ok(None)` when `dir` holds no zhsearch index.
pub fn read(dir: &Path) -> Result<Option<Manifest>> {
    let Some(head) = read_head(dir) else {
        return Ok(None);
    };
    let files = match &head.files_in {
        // Only a list of ours, in the index folder: never a path that leads elsewhere.
        Some(name) if !is_list_file(name) => {
            anyhow::bail!("its meta.json names {name:?}, not a list of files zhsearch writes")
        }
        Some(name) => {
            let path = dir.join(name);
            // A link in its place would be read from wherever it leads.
            if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
                anyhow::bail!("{} is not a regular file", path.display());
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a list of files", path.display()))?
        }
        None => Vec::new(),
    };
    Ok(Some(Manifest { head, files }))
}

/// Whether `name` is a list file of ours (`files-<16 hex digits>.json`, as [`write()`] names
/// them): only those are ever removed.
pub fn is_list_file(name: &str) -> bool {
    name.strip_prefix("files-")
        .and_then(|n| n.strip_suffix(".json"))
        .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether `name` in `dir` is a list file that zhsearch wrote: named as [`write()`] names them,
/// after the hash of their content, which a user's file of that name does not have.
pub fn is_our_list(dir: &Path, name: &str) -> bool {
    is_list_file(name) && std::fs::read(dir.join(name)).is_ok_and(|bytes| list_name(&bytes) == name)
}

/// The name of the list file holding `bytes`.
fn list_name(bytes: &[u8]) -> String {
    format!("files-{}.json", &blake3::hash(bytes).to_hex()[..16])
}

/// Writes the list of `m` beside the index (durably: it must outlive the commit that names
/// it) and returns the payload to commit.
pub fn write(dir: &Path, m: &Manifest) -> Result<String> {
    let list = serde_json::to_string(&m.files)?;
    let name = list_name(list.as_bytes());
    let path = dir.join(&name);
    if !path.exists() {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, &list).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let head = Head {
        files_in: Some(name),
        ..m.head.clone()
    };
    Ok(serde_json::to_string(&head)?)
}

/// Removes the list files other than `keep` (the committed one and the one before it, which a
/// search started just before the commit may still be reading), and leftovers of writes.
pub fn remove_old_lists(dir: &Path, keep: &[Option<&str>]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().to_string();
        let leftover = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .is_some_and(is_list_file);
        let old = !keep.contains(&Some(name.as_str())) && is_our_list(dir, &name);
        if old || leftover {
            // Best effort: a list left behind is only a few kilobytes, and is removed next time.
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_files_round_trip_and_old_ones_go() {
        let dir = std::env::temp_dir().join(format!("zhsearch-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let head = Head {
            format: crate::store::index::FORMAT.into(),
            schema: 1,
            corpus: "/c".into(),
            extensions: vec!["txt".into()],
            files_in: None,
        };
        let file = |n: u64| FileState {
            source: format!("{n}.txt"),
            size: n,
            mtime_ns: n,
            hash: "h".into(),
            encoding: None,
            skipped: None,
        };
        let one = Manifest {
            head: head.clone(),
            files: vec![file(1)],
        };
        let two = Manifest {
            head,
            files: vec![file(1), file(2)],
        };
        let p1: Head = serde_json::from_str(&write(&dir, &one).unwrap()).unwrap();
        let p2: Head = serde_json::from_str(&write(&dir, &two).unwrap()).unwrap();
        assert_ne!(p1.files_in, p2.files_in);
        let list: Vec<FileState> = serde_json::from_str(
            &std::fs::read_to_string(dir.join(p2.files_in.as_ref().unwrap())).unwrap(),
        )
        .unwrap();
        assert_eq!(list, two.files);
        std::fs::write(dir.join(".files-0123456789abcdef.json.tmp"), "").unwrap();
        std::fs::write(dir.join("files-mine.json"), "").unwrap();
        std::fs::write(dir.join("files-0123456789abcdef.json"), "[]").unwrap();
        remove_old_lists(&dir, &[p2.files_in.as_deref()]);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        let mut kept = vec![
            p2.files_in.unwrap(),
            "files-0123456789abcdef.json".into(),
            "files-mine.json".into(),
        ];
        kept.sort();
        assert_eq!(left, kept);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
