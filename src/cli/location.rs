//! Where the index of a command lives when `--index` is not given: `./index` for the bundled
//! layout (`./corpus` beside it, or no corpus named), else a folder of its own per corpus in
//! the user's cache folder, so that `zhsearch search --corpus ~/notes 茶` works from anywhere and
//! two corpora never share (and rebuild) one index.

use std::path::{Path, PathBuf};

use super::args::Location;

/// The index folder `location` names, or the default for its corpus.
pub fn index_dir(location: &Location) -> anyhow::Result<PathBuf> {
    if let Some(index) = &location.index {
        return Ok(index.clone());
    }
    let Some(corpus) = &location.corpus else {
        return Ok(PathBuf::from("index"));
    };
    let named = resolved(corpus);
    if named == resolved(Path::new("corpus")) {
        return Ok(PathBuf::from("index"));
    }
    let cache = cache_home().ok_or_else(|| {
        anyhow::anyhow!(
            "no cache folder to keep the index of {} in ($XDG_CACHE_HOME and $HOME are unset): give --index DIR or set ZHSEARCH_INDEX",
            corpus.display()
        )
    })?;
    Ok(cache.join("zhsearch").join(folder_name(&named)))
}

/// `corpus` as an absolute path, its links resolved when it exists.
fn resolved(corpus: &Path) -> PathBuf {
    std::fs::canonicalize(corpus)
        .or_else(|_| std::path::absolute(corpus))
        .unwrap_or_else(|_| corpus.to_path_buf())
}

/// `$XDG_CACHE_HOME` when it is an absolute path (the XDG rule), else `$HOME/.cache`.
fn cache_home() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })
}

/// The corpus folder's name (for a person listing the cache) and a hash of its whole path
/// (so that two folders of the same name get two indexes).
fn folder_name(corpus: &Path) -> String {
    let name: String = corpus
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let hash = blake3::hash(corpus.as_os_str().as_encoded_bytes()).to_hex();
    format!(
        "{}-{}",
        if name.is_empty() { "corpus" } else { &name },
        &hash[..16]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_folders_of_one_name_get_two_indexes() {
        let a = folder_name(Path::new("/home/a/notes"));
        let b = folder_name(Path::new("/home/b/notes"));
        assert!(a.starts_with("notes-") && b.starts_with("notes-"));
        assert_ne!(a, b);
        assert_eq!(a, folder_name(Path::new("/home/a/notes")));
        assert!(folder_name(Path::new("/")).starts_with("corpus-"));
        assert!(folder_name(Path::new("/x/笔记 2024")).starts_with("笔记_2024-"));
    }
}
