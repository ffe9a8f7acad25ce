//! What the index knows about the corpus: its folder, the extensions read, and every file with
//! its size, modification time and hash.
//!
//! The commit payload in Tantivy's `meta.json` holds a small head naming a list file beside it
//! (`files-<hash>.json`), written before the commit. The commit therefore switches head and
//! list atomically, while `meta.json`, which Tantivy and every search parse, stays a few
//! hundred bytes instead of carrying thousands of file entries escaped inside a JSON string.
//!
//! Only [`crate::store`] reads these files; others get them from an open
//! [`crate::store::IndexStore`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::file_list::FileList;

/// What the index knows about one corpus file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(from = "StoredFile", into = "StoredFile")]
pub struct FileState {
    /// Its path relative to the corpus, with `/` separators.
    pub source: String,
    /// Its size in bytes when it was read.
    pub size: u64,
    /// Its last change when it was read (nanoseconds since the epoch, see `ingest::walk::mtime_ns`).
    pub mtime_ns: u64,
    /// What became of it.
    pub content: Content,
}

/// What became of a corpus file the last time it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Indexed, read with `encoding` (none in lists written before encodings were kept).
    Indexed {
        /// The hash of its bytes.
        hash: String,
        /// The encoding it was decoded with.
        encoding: Option<String>,
    },
    /// Read, but not text: not indexed until it changes.
    Skipped {
        /// The hash of its bytes.
        hash: String,
        /// Why it is not indexed.
        why: String,
    },
    /// Could not be read at all (or its name cannot be a document's): not tried again until
    /// its size or modification time changes.
    Unreadable {
        /// Why.
        why: String,
    },
}

impl FileState {
    /// The hash of its bytes, when they were read.
    pub fn hash(&self) -> Option<&str> {
        match &self.content {
            Content::Indexed { hash, .. } | Content::Skipped { hash, .. } => Some(hash),
            Content::Unreadable { .. } => None,
        }
    }

    /// Why it is not indexed, when it is not.
    pub fn skipped(&self) -> Option<&str> {
        match &self.content {
            Content::Indexed { .. } => None,
            Content::Skipped { why, .. } | Content::Unreadable { why } => Some(why),
        }
    }

    /// The encoding it was indexed with.
    pub fn encoding(&self) -> Option<&str> {
        match &self.content {
            Content::Indexed { encoding, .. } => encoding.as_deref(),
            _ => None,
        }
    }
}

/// A file of the list as stored: the format of every list written so far, where an empty
/// hash means that the file could not be read.
#[derive(Serialize, Deserialize)]
struct StoredFile {
    source: String,
    size: u64,
    mtime_ns: u64,
    hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
}

impl From<StoredFile> for FileState {
    fn from(f: StoredFile) -> FileState {
        let content = match (f.skipped, f.hash.is_empty()) {
            (None, _) => Content::Indexed {
                hash: f.hash,
                encoding: f.encoding,
            },
            (Some(why), true) => Content::Unreadable { why },
            (Some(why), false) => Content::Skipped { hash: f.hash, why },
        };
        FileState {
            source: f.source,
            size: f.size,
            mtime_ns: f.mtime_ns,
            content,
        }
    }
}

impl From<FileState> for StoredFile {
    fn from(f: FileState) -> StoredFile {
        let (hash, encoding, skipped) = match f.content {
            Content::Indexed { hash, encoding } => (hash, encoding, None),
            Content::Skipped { hash, why } => (hash, None, Some(why)),
            Content::Unreadable { why } => (String::new(), None, Some(why)),
        };
        StoredFile {
            source: f.source,
            size: f.size,
            mtime_ns: f.mtime_ns,
            hash,
            encoding,
            skipped,
        }
    }
}

/// The head and the list of files, as of one commit.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The commit payload.
    pub head: Head,
    /// The files, sorted by source.
    pub files: Vec<FileState>,
}

/// The commit payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// Always [`crate::store::index::FORMAT`] for an index of ours.
    pub format: String,
    /// The schema version the index was written with.
    pub schema: u32,
    /// The corpus folder, resolved.
    pub corpus: PathBuf,
    /// File name extensions read as documents.
    #[serde(default = "crate::ingest::corpus::default_extensions")]
    pub extensions: Vec<String>,
    /// The list file, in the index folder.
    #[serde(default)]
    pub files_in: Option<String>,
}

impl Head {
    /// Whether zhsearch wrote it.
    pub fn is_ours(&self) -> bool {
        self.format == crate::store::index::FORMAT
    }
}

/// The head of the last commit if a zhsearch index is in `dir`, read without Tantivy: it
/// names the index's owner and schema even when Tantivy cannot open the index.
pub fn read_head(dir: &Path) -> Option<Head> {
    head_of(&std::fs::read(dir.join("meta.json")).ok()?)
}

/// The head in the content of a `meta.json`, if zhsearch committed it.
pub fn head_of(meta: &[u8]) -> Option<Head> {
    let value: serde_json::Value = serde_json::from_slice(meta).ok()?;
    serde_json::from_str::<Head>(value.get("payload")?.as_str()?)
        .ok()
        .filter(Head::is_ours)
}

/// The file list `head` names. `Err` when it cannot be read (a damaged index).
pub fn read_files(dir: &Path, head: &Head) -> Result<FileList> {
    Ok(match &head.files_in {
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
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            match FileList::read(bytes) {
                Ok(files) => files,
                Err(bytes) => serde_json::from_slice::<Vec<FileState>>(&bytes)
                    .with_context(|| format!("{} is not a list of files", path.display()))?
                    .into(),
            }
        }
        None => FileList::default(),
    })
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
    // A list of this name holds this content, unless it was damaged since it was written:
    // then it is written again (`--rebuild` would otherwise commit the damaged list anew).
    let whole = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
        && std::fs::read(&path).is_ok_and(|b| b == list.as_bytes());
    if !whole {
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
    fn lists_written_before_the_enum_load_and_are_written_alike() {
        let old = r#"[{"source":"a.txt","size":1,"mtime_ns":2,"hash":"h1","encoding":"UTF-8"},{"source":"b.txt","size":3,"mtime_ns":4,"hash":"h2","skipped":"not text"},{"source":"c.txt","size":5,"mtime_ns":6,"hash":"","skipped":"cannot read it"}]"#;
        let files: Vec<FileState> = serde_json::from_str(old).unwrap();
        let contents: Vec<&Content> = files.iter().map(|f| &f.content).collect();
        assert_eq!(
            contents,
            [
                &Content::Indexed {
                    hash: "h1".into(),
                    encoding: Some("UTF-8".into())
                },
                &Content::Skipped {
                    hash: "h2".into(),
                    why: "not text".into()
                },
                &Content::Unreadable {
                    why: "cannot read it".into()
                },
            ]
        );
        assert_eq!(files[2].hash(), None);
        assert_eq!(files[1].skipped(), Some("not text"));
        assert_eq!(serde_json::to_string(&files).unwrap(), old);
    }

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
            content: Content::Indexed {
                hash: "h".into(),
                encoding: None,
            },
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
