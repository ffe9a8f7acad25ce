//! The searcher on a backend that is not Tantivy: a few passages in memory, scanned as
//! strings, whose words are their runs of one or two characters. It shows that parsing,
//! binding, ranking, verification and highlighting need nothing of Tantivy.

use std::collections::HashSet;

use anyhow::Result;

use crate::model::{DocMeta, MatchKind};
use crate::search::backend::{
    Backend, CandidateId, Candidates, EXACT_SCORE, Fetch, FileId, StoredPassage, Tier,
    VARIANT_SCORE,
};
use crate::search::plan::{Plan, Term, Vocabulary};
use crate::search::{Searcher, parse};
use crate::text::analysis::{Piece, normalize};

/// Passages (file, text) with their normalised text; a file's title is its name.
struct Memory(Vec<(String, String, String)>);

impl Memory {
    fn new(passages: &[(&str, &str)]) -> Memory {
        let rows = passages
            .iter()
            .map(|(s, t)| (s.to_string(), t.to_string(), normalize(t)));
        Memory(rows.collect())
    }

    fn holds(&self, id: usize, word: &str) -> bool {
        word.chars().count() <= 2 && self.0[id].2.contains(word)
    }

    /// The score of passage `id` for term `t` in a tier: a form as a string, else (relaxed,
    /// or strict with every long word and single present) its words.
    fn term_score(&self, id: usize, t: &Term, strict: bool) -> Option<f32> {
        let norm = &self.0[id].2;
        for (k, form) in t.forms.iter().enumerate() {
            if norm.contains(&form.norm) {
                return Some(if k == 0 { EXACT_SCORE } else { VARIANT_SCORE });
            }
        }
        let by_words = |f: &crate::search::plan::Form| {
            let mut long = f.long_words().peekable();
            if strict {
                long.peek().is_some()
                    && long.all(|w| self.holds(id, w))
                    && f.singles.iter().all(|c| norm.contains(c.as_str()))
            } else {
                long.any(|w| self.holds(id, w))
            }
        };
        (!t.quoted && t.forms.iter().any(by_words)).then_some(1.0)
    }
}

impl Vocabulary for Memory {
    fn passages(&self) -> u64 {
        self.0.len() as u64
    }
    fn total_tokens(&self) -> u64 {
        self.passages() * 10
    }
    fn doc_freq(&self, word: &str) -> u64 {
        (0..self.0.len()).filter(|&i| self.holds(i, word)).count() as u64
    }
    fn titled_sources(&self, titles: &[String]) -> Result<Vec<String>> {
        let mut files: Vec<String> = self.0.iter().map(|p| p.0.clone()).collect();
        files.retain(|f| titles.iter().all(|t| f.contains(t.as_str())));
        files.dedup();
        Ok(files)
    }
}

struct MemoryFetch<'a>(&'a Memory, &'a Plan, Tier);

impl Fetch for MemoryFetch<'_> {
    fn top(&self, n: usize) -> Result<Candidates> {
        let (m, plan, strict) = (self.0, self.1, self.2 == Tier::Strict);
        let mut top = Vec::new();
        for (id, (source, _, norm)) in m.0.iter().enumerate() {
            let excluded = plan.excluded.iter().flat_map(|t| &t.forms);
            let titled = plan
                .title_sources
                .as_ref()
                .is_none_or(|s| s.contains(source));
            if !titled || excluded.into_iter().any(|f| norm.contains(&f.norm)) {
                continue;
            }
            let score = |t: &Term| m.term_score(id, t, strict || t.quoted);
            let groups = plan
                .groups
                .iter()
                .map(|g| g.iter().filter_map(score).reduce(f32::max));
            let scores: Vec<Option<f32>> = groups.collect();
            let matched = if strict {
                scores.iter().all(Option::is_some)
            } else {
                scores.iter().any(Option::is_some)
            };
            if matched {
                top.push((scores.iter().flatten().sum::<f32>(), id as CandidateId));
            }
        }
        top.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let complete = top.len() <= n;
        top.truncate(n);
        Ok(Candidates { top, complete })
    }
}

impl Backend for Memory {
    fn fetch<'a>(&'a self, plan: &'a Plan, tier: Tier) -> Result<Box<dyn Fetch + 'a>> {
        Ok(Box::new(MemoryFetch(self, plan, tier)))
    }
    fn passage(&self, id: CandidateId) -> Result<StoredPassage> {
        let (source, text, _) = &self.0[id as usize];
        Ok(StoredPassage {
            source: source.clone(),
            line_start: id as usize + 1,
            line_end: id as usize + 1,
            paragraph: id as usize + 1,
            columns: None,
            text: text.clone(),
            visible: vec![Piece::verbatim(text, 0..text.len())],
        })
    }
    fn has_word(&self, id: CandidateId, word: &str) -> bool {
        self.holds(id as usize, word)
    }
    fn doc_meta(&self, source: &str) -> Result<DocMeta> {
        Ok(DocMeta {
            title: Some(source.to_string()),
            ..DocMeta::default()
        })
    }
    fn titled_files(&self, t: &Term) -> Result<HashSet<FileId>> {
        let titled = |(i, p): (usize, &(String, String, String))| {
            t.forms
                .iter()
                .any(|f| p.0.contains(&f.norm))
                .then_some(i as FileId)
        };
        Ok(self.0.iter().enumerate().filter_map(titled).collect())
    }
    fn file_id(&self, source: &str) -> Option<FileId> {
        self.0
            .iter()
            .position(|p| p.0 == source)
            .map(|i| i as FileId)
    }
}

#[test]
fn a_backend_other_than_tantivy_serves_the_same_searcher() {
    let s = Searcher::with_backend(Memory::new(&[
        ("a.txt", "性能终于突破了瓶颈"),
        ("b.txt", "瓶頸在於性能"),
        ("c.txt", "這套軟體很好用"),
        ("d.txt", "性能平平"),
    ]));
    let find = |q: &str| s.page_query(&parse(q).unwrap(), 10, 0).unwrap();
    let page = find("瓶颈");
    let got: Vec<(&str, MatchKind)> = page
        .hits
        .iter()
        .map(|h| (h.source.as_str(), h.match_kind))
        .collect();
    assert_eq!(
        got,
        vec![("a.txt", MatchKind::All), ("b.txt", MatchKind::All)]
    );
    assert_eq!(
        page.hits[1].highlights,
        vec![[0, 6]],
        "瓶頸 in the passage's script"
    );
    let variant = find("软件");
    assert_eq!(variant.hits[0].variant.as_deref(), Some("軟體"));
    assert_eq!(find("瓶颈 -突破").hits.len(), 1);
    assert!(
        find("title:b 瓶颈")
            .hits
            .iter()
            .all(|h| h.source == "b.txt")
    );
    // No passage holds both terms: the partial tier, below every full match.
    let partial = find("瓶颈 不存在的词");
    assert!(!partial.full_matches);
    assert!(
        partial
            .hits
            .iter()
            .all(|h| h.match_kind == MatchKind::Partial)
    );
}
