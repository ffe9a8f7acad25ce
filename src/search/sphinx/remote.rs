//! What the [`crate::Engine`] holds instead of a local index when given a SphinxQL backend:
//! the engine's address, and the `--index` folder keeping the manifest of what was written.
//! Each search opens a fresh [`SphinxBackend`] (its statistics and stored rows are read for
//! that search only), so a long-lived engine sees every update of the cluster.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::SphinxBackend;
use super::client::{SphinxError, Url};
use super::writer::{self, Target};
use crate::model::Page;
use crate::present::show::Listed;
use crate::search::{Query, Searcher};
use crate::store::{FileState, Reporter, UpdateReport};

/// A corpus indexed in a SphinxQL engine.
#[derive(Debug, Clone)]
pub struct Remote {
    url: Url,
    index: PathBuf,
    corpus: Option<PathBuf>,
    extensions: Option<Vec<String>>,
}

impl Remote {
    /// The engine at `url` (`sphinxql://HOST:PORT/TABLE`), its manifest in `index`.
    pub fn new(url: &str, index: &Path) -> Result<Remote, SphinxError> {
        Ok(Remote {
            url: Url::parse(url)?,
            index: index.to_path_buf(),
            corpus: None,
            extensions: None,
        })
    }

    /// The engine at `backend`, if given, its manifest in `index`, writing `corpus` with
    /// `extensions` (defaults: the manifest's).
    pub fn of(
        backend: &Option<String>,
        index: &Path,
        corpus: &Option<PathBuf>,
        extensions: &Option<Vec<String>>,
    ) -> Result<Option<Remote>> {
        let Some(url) = backend else { return Ok(None) };
        Ok(Some(Remote {
            corpus: corpus.clone(),
            extensions: extensions.clone(),
            ..Remote::new(url, index)?
        }))
    }

    /// Writes the corpus into the engine, or brings it up to date (see [`writer::update`]).
    pub fn update(&self, rebuild: bool, reporter: &dyn Reporter) -> Result<UpdateReport> {
        let target = Target {
            url: &self.url,
            index: &self.index,
            corpus: self.corpus.as_deref(),
            extensions: self.extensions.as_deref(),
        };
        writer::update(&target, rebuild, reporter)
    }

    /// The files written, as recorded; `None` before the first `index --backend`.
    pub fn files(&self) -> Result<Option<Vec<FileState>>> {
        Ok(self
            .manifest()?
            .map(|m| m.files.into_iter().map(|e| e.state).collect()))
    }

    fn manifest(&self) -> Result<Option<writer::Manifest>> {
        let m = writer::read_manifest(&self.index)?;
        Ok(m.filter(|m| m.url == self.url.to_string()))
    }

    /// The documents written: the only files read back (`show`, `cite`, `--context`).
    pub fn listed(&self) -> Result<Option<Listed>> {
        let Some(m) = self.manifest()? else {
            return Ok(None);
        };
        let files = m.files.into_iter().map(|e| e.state);
        Ok(Some(Listed::new(m.corpus, self.index.clone(), files)))
    }

    /// Rows `offset+1 ..= offset+limit` of `query` (see [`Searcher::page`]), each hit
    /// stamped with its file's hash as written.
    pub fn page(&self, query: &Query, limit: usize, offset: usize, exact: bool) -> Result<Page> {
        let manifest = self.manifest()?;
        let backend = match &manifest {
            Some(m) => {
                let passages = m.files.iter().map(|e| e.rows).sum();
                SphinxBackend::with_passages(self.url.clone(), passages)
            }
            None => SphinxBackend::new(self.url.clone()),
        };
        let mut page =
            Searcher::with_backend(backend).page_query_exact(query, limit, offset, exact)?;
        if let Some(m) = manifest {
            let hashes: HashMap<&str, &str> = m
                .files
                .iter()
                .filter_map(|e| Some((e.state.source.as_str(), e.state.hash()?)))
                .collect();
            for hit in &mut page.hits {
                hit.indexed = hashes.get(hit.source.as_str()).map(|h| h.to_string());
            }
        }
        Ok(page)
    }
}
