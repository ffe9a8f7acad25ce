//! Going back to the source: `zhsearch show FILE:LINE[-LINE]` and the paragraphs around a hit.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Component, Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::ingest::corpus::{self, Document};
pub use crate::ingest::open::Refused;
use crate::ingest::open::open_plain;
use crate::model::{DocMeta, LineSpan, Neighbour, SpanError};
use crate::present::cite::Source;
use crate::store::{FileState, IndexStore};

/// What `show` prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Excerpt {
    /// The document and lines shown.
    #[serde(flatten)]
    pub cite: Source,
    /// The attribution line, as `cite` writes it.
    pub attribution: String,
    /// The lines asked for, exactly as in the file.
    pub text: String,
    /// Paragraphs before, with `--context N`.
    pub context_before: Vec<Neighbour>,
    /// Paragraphs after.
    pub context_after: Vec<Neighbour>,
}

/// A corpus file, read and split into passages.
pub struct LoadedDocument {
    /// The document, cut into passages.
    pub doc: Document,
    /// Its lines, exactly as in the file (line ends normalised).
    pub lines: Vec<String>,
}

/// The documents an index lists: the only files zhsearch reads back from the corpus (for
/// `show`, `--context` and any other reader), by their listed path, never through a symbolic
/// link and never outside the corpus folder the index remembers.
pub struct Listed {
    /// The corpus folder the index remembers.
    pub corpus: PathBuf,
    index: PathBuf,
    /// Each listed source, as the index recorded it.
    files: HashMap<String, FileState>,
    /// Why the index could not be brought up to date, when that was tried and failed.
    pub not_updated: Option<String>,
}

impl Listed {
    /// The documents of the last commit of the index in `index_dir`.
    pub fn of_index(index_dir: &Path) -> Result<Listed> {
        let store = IndexStore::open(index_dir)?.ok_or_else(|| {
            anyhow::anyhow!("there is no zhsearch index in {}", index_dir.display())
        })?;
        Ok(Listed::of_store(&store))
    }

    /// The documents of the commit `store` holds.
    pub fn of_store(store: &IndexStore) -> Listed {
        Listed {
            corpus: store.head().corpus.clone(),
            index: store.dir().to_path_buf(),
            files: store
                .files()
                .iter()
                .map(|f| (f.source.clone(), f.clone()))
                .collect(),
            not_updated: None,
        }
    }

    /// The documents `files` of `corpus`, as recorded in the folder `index` (an index kept
    /// elsewhere, such as a SphinxQL engine's manifest).
    pub fn new(
        corpus: PathBuf,
        index: PathBuf,
        files: impl IntoIterator<Item = FileState>,
    ) -> Listed {
        Listed {
            corpus,
            index,
            files: files.into_iter().map(|f| (f.source.clone(), f)).collect(),
            not_updated: None,
        }
    }

    /// The index folder.
    pub fn index(&self) -> &Path {
        &self.index
    }

    /// The hash of listed document `source`'s content, as the index recorded it.
    pub fn hash(&self, source: &str) -> Option<&str> {
        self.files.get(source).and_then(|f| f.hash())
    }

    /// Whether the index lists `source` (indexed or skipped).
    pub fn contains(&self, source: &str) -> bool {
        self.files.contains_key(source)
    }

    /// Opens listed document `source`: the one way zhsearch reads a corpus file back. A file
    /// whose size or modification time is no longer what the index recorded is refused: its
    /// lines may not be the ones indexed.
    pub fn open(&self, source: &str) -> Result<File, Refused> {
        let rel = Path::new(source);
        let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if source.is_empty() || rel.is_absolute() || !plain {
            return Err(Refused::NotRelative {
                source: source.into(),
            });
        }
        let Some(state) = self.files.get(source) else {
            return Err(Refused::NotListed {
                source: source.into(),
                index: self.index.clone(),
            });
        };
        if let Some(why) = state.skipped() {
            return Err(Refused::Skipped {
                source: source.into(),
                why: why.to_string(),
            });
        }
        let mut file = open_plain(&self.corpus, source)?;
        let io = |err| Refused::Io {
            source: source.into(),
            err,
        };
        let md = file.metadata().map_err(io)?;
        // A touched file (same size, same content) is still the indexed one.
        let same = md.len() == state.size
            && (corpus::mtime_ns(&md) == state.mtime_ns || {
                let sniffed = crate::ingest::encoding::sniff(&mut file, md.len()).map_err(io)?;
                file.rewind().map_err(io)?;
                state.hash() == Some(sniffed.hash.as_str())
            });
        if !same {
            return Err(Refused::Stale {
                source: source.into(),
                index: self.index.clone(),
                not_updated: self.not_updated.clone(),
            });
        }
        Ok(file)
    }

    /// The bytes of listed document `source` (see [`Listed::open`]).
    pub fn read(&self, source: &str) -> Result<Vec<u8>, Refused> {
        let mut bytes = Vec::new();
        self.open(source)?
            .read_to_end(&mut bytes)
            .map_err(|err| Refused::Io {
                source: source.into(),
                err,
            })?;
        Ok(bytes)
    }
}

/// Reads listed document `source` and cuts it into passages as indexing does.
pub fn load(listed: &Listed, source: &str) -> Result<LoadedDocument> {
    let bytes = listed.read(source)?;
    let text = crate::ingest::encoding::decode(&bytes)
        .map_err(|e| anyhow::anyhow!("cannot read {source}: {e}"))?
        .text;
    Ok(LoadedDocument {
        doc: corpus::parse_document(source, &text),
        lines: corpus::lines(&text),
    })
}

impl LoadedDocument {
    /// Up to `n` body paragraphs before and after lines `start..=end`.
    pub fn context(&self, start: usize, end: usize, n: usize) -> (Vec<Neighbour>, Vec<Neighbour>) {
        let body = self.doc.passages.iter().filter(|p| p.paragraph > 0);
        let neighbour = |p: &corpus::Passage| Neighbour {
            line_start: p.line_start,
            line_end: p.line_end,
            paragraph: p.paragraph,
            text: p.text.clone(),
        };
        let mut before: Vec<Neighbour> = body
            .clone()
            .filter(|p| p.line_end < start)
            .map(neighbour)
            .collect();
        before.drain(..before.len().saturating_sub(n));
        let after = body
            .filter(|p| p.line_start > end)
            .take(n)
            .map(neighbour)
            .collect();
        (before, after)
    }

    /// The paragraph that line `line` is in.
    pub fn paragraph_at(&self, line: usize) -> Option<usize> {
        self.doc
            .passages
            .iter()
            .find(|p| p.line_start <= line && line <= p.line_end)
            .map(|p| p.paragraph)
    }
}

/// The lines of `loc` with `context` paragraphs around, and their attribution.
pub fn excerpt(listed: &Listed, loc: &LineSpan, context: usize) -> Result<Excerpt> {
    let loaded = load(listed, &loc.source)?;
    // A file ending in a newline has no extra line after it, as in an editor.
    let mut count = loaded.lines.len();
    if count > 1 && loaded.lines[count - 1].is_empty() {
        count -= 1;
    }
    if loc.line_end < loc.line_start {
        return Err(SpanError::Reversed(loc.clone()).into());
    }
    if loc.line_start == 0 || loc.line_end > count {
        let span = loc.clone();
        return Err(SpanError::OutOfRange { span, lines: count }.into());
    }
    let text = loaded.lines[loc.line_start - 1..loc.line_end].join("\n");
    let (context_before, context_after) = loaded.context(loc.line_start, loc.line_end, context);
    let meta = &loaded.doc.meta;
    let cite = Source {
        meta: DocMeta {
            encoding: None,
            ..meta.clone()
        },
        span: loc.clone(),
        paragraph: loaded.paragraph_at(loc.line_start),
    };
    Ok(Excerpt {
        attribution: cite.attribution(),
        cite,
        text,
        context_before,
        context_after,
    })
}
