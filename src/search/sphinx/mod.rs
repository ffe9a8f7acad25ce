//! The SphinxQL backend: the same searches on a distributed engine (Manticore Search, Sphinx)
//! holding zhsearch's own tokens, sharded by file.
//!
//! The engine finds candidates by phrase queries on token positions ([`query`]) and ranks
//! them by its BM25 within buckets of one exact-match bonus; zhsearch verifies, reranks,
//! highlights and cites them as for the local index ([`crate::search::Searcher`]). Each
//! shard computes BM25's IDF from its own documents (Sphinx 2.2 has no global IDF without a
//! prebuilt `global_idf` file), so a passage's score depends a little on its shard; the
//! exact-match buckets, the verification and zhsearch's rerank do not. Writing is
//! [`writer`]'s.

pub mod client;
mod query;
pub mod remote;
mod rows;
pub mod tokens;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use anyhow::Result;

use crate::model::DocMeta;
use crate::search::backend::{
    Backend, CandidateId, Candidates, Fetch, FileId, StoredPassage, Tier,
};
use crate::search::plan::{Plan, Term, Vocabulary};
use crate::text::analysis::{normalize, normalize_text};
use client::{Server, SphinxError, Url, quote};
use rows::{Row, Shard};
pub use rows::{file_key, passage_id};

/// BM25 over the `words` field as the local index scores it (k1 = 1.2, b = 0.75, a passage's
/// length its character and word tokens against [`REFERENCE_TOKENS`]), scaled to the
/// engine's integer weight (divided back by [`WEIGHT_SCALE`]). Sphinx's own `bm25a()` needs
/// the table's average field lengths, which real-time tables of Sphinx 2.2 leave at zero (it
/// then ranks every passage alike), so the sum is written out from field factors: the
/// keywords' summed IDF times their mean frequency in the field (`field_weights` keep the
/// `chars` field out). IDF is `log(N/n)` over each shard's own passages.
const RANKER: &str = "ranker=expr('sum(user_weight*sum_idf*(hit_count/word_count)*2.2/\
    (hit_count/word_count+1.2*(0.25+0.75*(chars_len+words_len)/77)))*1000'), \
    idf='plain,tfidf_unnormalized', field_weights=(words=1, chars=0, titlechars=0)";
const WEIGHT_SCALE: f32 = 1000.0;

/// BM25's reference passage length, as the local index's (see `search::tantivy`).
const REFERENCE_TOKENS: u64 = 77;

/// Rows asked for first when every match is wanted: the engine sizes its sorter by
/// `max_matches`, so a larger list is asked for again once its size is known.
const FIRST_ROWS: u64 = 1000;

/// A table of a SphinxQL engine, searched through its address; its shards are read from the
/// table's `DESCRIBE` when first needed.
pub struct SphinxBackend {
    url: Url,
    front: Server,
    shards: OnceLock<Vec<Shard>>,
    rows: Mutex<HashMap<CandidateId, Row>>,
    freqs: Mutex<HashMap<String, u64>>,
    passages: OnceLock<u64>,
    sources: OnceLock<Vec<String>>,
}

impl SphinxBackend {
    /// The table at `url`; nothing is connected yet.
    pub fn new(url: Url) -> SphinxBackend {
        SphinxBackend {
            front: Server::new(&url.host, url.port, &url.table),
            url,
            shards: OnceLock::new(),
            rows: Mutex::new(HashMap::new()),
            freqs: Mutex::new(HashMap::new()),
            passages: OnceLock::new(),
            sources: OnceLock::new(),
        }
    }

    /// The table at `url`, whose passages are known to number `n` (as the writer's manifest
    /// records them): no count is asked of the engine, which scans every row for it.
    pub fn with_passages(url: Url, n: u64) -> SphinxBackend {
        let b = SphinxBackend::new(url);
        let _ = b.passages.set(n);
        b
    }

    /// The table's shards, each at its own SphinxQL address.
    pub fn shards(&self) -> Result<&[Shard]> {
        if let Some(s) = self.shards.get() {
            return Ok(s);
        }
        let found = rows::shards(&self.front, &self.url)?;
        Ok(self.shards.get_or_init(|| found))
    }

    /// Rows of a `SELECT` on the table; a shard that did not answer is an error naming it.
    fn select(&self, sql: &str) -> Result<Vec<mysql::Row>> {
        Ok(self.select_meta(sql)?.0)
    }

    /// Every row of `SELECT … WHERE …` (`sql`, without `LIMIT`).
    fn select_all(&self, sql: &str) -> Result<Vec<mysql::Row>> {
        let with = |n: u64| format!("{sql} LIMIT 0,{n} OPTION max_matches={n}");
        let (rows, total) = self.select_meta(&with(FIRST_ROWS))?;
        if total <= rows.len() as u64 {
            return Ok(rows);
        }
        self.select(&with(total))
    }

    /// [`SphinxBackend::select`], and the `total_found` of its `SHOW META`.
    fn select_meta(&self, sql: &str) -> Result<(Vec<mysql::Row>, u64)> {
        let (rows, meta) = self.front.query(sql, true)?;
        let total = meta.iter().find(|(k, _)| k == "total_found");
        let total = total.and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        if let Some(w) = client::warning(&meta) {
            let shard = self
                .shards()
                .ok()
                .and_then(|s| s.iter().find(|s| w.contains(&s.agent)).map(|s| s.name()))
                .unwrap_or_else(|| self.url.to_string());
            return Err(SphinxError::Agent {
                shard,
                why: w.to_string(),
            }
            .into());
        }
        Ok((rows, total))
    }

    /// The stored passage `id`, read once.
    fn row(&self, id: CandidateId) -> Result<Row> {
        if let Some(r) = self.rows.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(r.clone());
        }
        let sql = format!(
            "SELECT {} FROM {} WHERE id = {id}",
            rows::COLUMNS,
            self.url.table
        );
        let row = self.select(&sql)?.into_iter().next().map(Row::from);
        let row = row.ok_or_else(|| anyhow::anyhow!("passage {id} is gone from {}", self.url))?;
        self.keep(&row);
        Ok(row)
    }

    fn keep(&self, row: &Row) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.insert(row.id, row.clone());
    }

    /// The keys of the files a plan's filters leave (`None`: every file).
    fn file_filter(&self, plan: &Plan) -> Result<Option<Vec<u64>>> {
        let mut keep: Option<HashSet<String>> = None;
        if let Some(titled) = &plan.title_sources {
            keep = Some(titled.iter().cloned().collect());
        }
        if !plan.sources.is_empty() {
            let globs: Vec<regex::Regex> = plan
                .sources
                .iter()
                .filter_map(|g| crate::search::glob::glob_regex(g).ok())
                .filter_map(|re| regex::Regex::new(&format!("^(?:{re})$")).ok())
                .collect();
            let all = self.all_sources()?;
            let matched = all.iter().filter(|s| globs.iter().any(|g| g.is_match(s)));
            let matched: HashSet<String> = matched.cloned().collect();
            keep = Some(match keep {
                Some(k) => k.intersection(&matched).cloned().collect(),
                None => matched,
            });
        }
        Ok(keep.map(|k| k.iter().map(|s| file_key(s)).collect()))
    }

    fn all_sources(&self) -> Result<&[String]> {
        if let Some(s) = self.sources.get() {
            return Ok(s);
        }
        let sql = format!("SELECT source FROM {} WHERE isfile = 1", self.url.table);
        let found = self
            .select_all(&sql)?
            .into_iter()
            .map(|r| rows::string(&r, 0))
            .collect();
        Ok(self.sources.get_or_init(|| found))
    }

    /// The sources of the file entries matching `expr` over their titles.
    fn titled(&self, expr: &str) -> Result<Vec<(u64, String)>> {
        let sql = format!(
            "SELECT id, source FROM {} WHERE MATCH({}) AND isfile = 1",
            self.url.table,
            quote(expr)
        );
        let rows = self.select_all(&sql)?;
        Ok(rows
            .iter()
            .map(|r| (rows::number(r, 0), rows::string(r, 1)))
            .collect())
    }

    /// Document frequencies of `words` summed over the shards, remembered.
    fn fetch_freqs(&self, words: &[&str]) -> Result<()> {
        let missing: Vec<&str> = {
            let known = self.freqs.lock().unwrap_or_else(|e| e.into_inner());
            words
                .iter()
                .copied()
                .filter(|w| !known.contains_key(*w))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut found: HashMap<String, u64> = missing.iter().map(|w| (w.to_string(), 0)).collect();
        let by_token: HashMap<String, &str> =
            missing.iter().map(|w| (tokens::token(w), *w)).collect();
        for chunk in missing.chunks(500) {
            let text: Vec<String> = chunk.iter().map(|w| tokens::token(w)).collect();
            for shard in self.shards()? {
                for (token, docs) in shard.keywords(&text.join(" "))? {
                    if let Some(w) = by_token.get(&token) {
                        *found.entry(w.to_string()).or_default() += docs;
                    }
                }
            }
        }
        self.freqs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(found);
        Ok(())
    }
}

/// One tier of one plan on the engine.
struct SphinxFetch<'a> {
    backend: &'a SphinxBackend,
    query: query::TierQuery,
    /// ` AND filekey IN (…)`, or `None` when the filters leave no file.
    filter: Option<String>,
}

impl Fetch for SphinxFetch<'_> {
    fn top(&self, n: usize) -> Result<Candidates> {
        let b = self.backend;
        let mut top = Vec::new();
        let Some(filter) = &self.filter else {
            return Ok(Candidates {
                top,
                complete: true,
            });
        };
        let mut complete = true;
        for (bonus, expr) in &self.query.buckets {
            let need = n - top.len();
            if need == 0 {
                complete = false;
                break;
            }
            let sql = format!(
                "SELECT {}, weight() FROM {} WHERE MATCH({}){filter} ORDER BY weight() DESC, id ASC LIMIT 0,{} OPTION {RANKER}, max_matches={}",
                rows::COLUMNS,
                b.url.table,
                quote(expr),
                need + 1,
                (need + 1).max(1000)
            );
            let found = b.select(&sql)?;
            let more = found.len() > need;
            for r in found.into_iter().take(need) {
                let weight = rows::number(&r, rows::WEIGHT) as f32;
                let row = Row::from(r);
                top.push((bonus + weight / WEIGHT_SCALE, row.id));
                b.keep(&row);
            }
            if more {
                complete = false;
                break;
            }
        }
        Ok(Candidates { top, complete })
    }
}

impl Vocabulary for SphinxBackend {
    fn passages(&self) -> u64 {
        *self.passages.get_or_init(|| {
            let sql = format!("SELECT COUNT(*) FROM {} WHERE isfile = 0", self.url.table);
            self.select(&sql)
                .ok()
                .and_then(|r| r.first().map(|r| rows::number(r, 0)))
                .unwrap_or(0)
        })
    }

    fn total_tokens(&self) -> u64 {
        self.passages().max(1) * REFERENCE_TOKENS
    }

    fn doc_freq(&self, word: &str) -> u64 {
        if self.fetch_freqs(&[word]).is_err() {
            return 0;
        }
        let known = self.freqs.lock().unwrap_or_else(|e| e.into_inner());
        known.get(word).copied().unwrap_or(0)
    }

    fn prefetch(&self, words: &[String]) -> Result<()> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        self.fetch_freqs(&words)
    }

    fn titled_sources(&self, titles: &[String]) -> Result<Vec<String>> {
        let phrases: Vec<String> = titles
            .iter()
            .filter_map(|t| tokens::phrase(t))
            .map(|p| format!("(@titlechars {p})"))
            .collect();
        if phrases.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.titled(&phrases.join(" "))?;
        Ok(found.into_iter().map(|(_, s)| s).collect())
    }
}

impl Backend for SphinxBackend {
    fn fetch<'a>(&'a self, plan: &'a Plan, tier: Tier) -> Result<Box<dyn Fetch + 'a>> {
        let query = match tier {
            Tier::Strict => query::strict(plan),
            Tier::Relaxed => query::relaxed(plan),
        };
        let filter = match self.file_filter(plan)? {
            None => Some(" AND isfile = 0".to_string()),
            Some(keys) if keys.is_empty() => None,
            Some(keys) => {
                let keys: Vec<String> = keys.iter().map(u64::to_string).collect();
                Some(format!(
                    " AND isfile = 0 AND filekey IN ({})",
                    keys.join(",")
                ))
            }
        };
        Ok(Box::new(SphinxFetch {
            backend: self,
            query,
            filter,
        }))
    }

    fn passage(&self, id: CandidateId) -> Result<StoredPassage> {
        Ok(self.row(id)?.passage())
    }

    fn has_word(&self, id: CandidateId, word: &str) -> bool {
        let Ok(row) = self.row(id) else {
            return false;
        };
        if word.chars().nth(1).is_some() {
            return row.wordlist.lines().any(|w| w == word);
        }
        let p = row.passage();
        normalize(&p.text).contains(word) || normalize_text(&p.visible).contains(word)
    }

    fn doc_meta(&self, source: &str) -> Result<DocMeta> {
        let sql = format!(
            "SELECT title, author, pubdate, url, encoding FROM {} WHERE id = {}",
            self.url.table,
            passage_id(file_key(source), 0)
        );
        let Some(r) = self.select(&sql)?.into_iter().next() else {
            return Ok(DocMeta::default());
        };
        let opt = |i| Some(rows::string(&r, i)).filter(|s| !s.is_empty());
        Ok(DocMeta {
            title: opt(0),
            author: opt(1),
            date: opt(2),
            url: opt(3),
            encoding: opt(4),
        })
    }

    fn titled_files(&self, t: &Term) -> Result<HashSet<FileId>> {
        let forms = t.forms.iter().filter_map(|f| tokens::phrase(&f.norm));
        let forms: Vec<String> = forms.map(|p| format!("(@titlechars {p})")).collect();
        if forms.is_empty() {
            return Ok(HashSet::new());
        }
        let found = self.titled(&forms.join(" | "))?;
        Ok(found.into_iter().map(|(id, _)| id).collect())
    }

    fn file_id(&self, source: &str) -> Option<FileId> {
        Some(passage_id(file_key(source), 0))
    }
}
