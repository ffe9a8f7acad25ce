//! A plan's tiers as SphinxQL full-text expressions, in buckets of one bonus each.
//!
//! The local index scores a passage [`EXACT_SCORE`] per group it holds a term of as the
//! string typed, [`VARIANT_SCORE`] for a regional variant, plus BM25 over the words. Sphinx's
//! expression ranker cannot tell which term matched how, so the bonus is the bucket's: each
//! combination of how every group matches (its term as typed, else a variant, else by words)
//! is one expression that excludes the better ways, the combinations are bucketed by their
//! summed bonus, and the buckets are read best first, each ordered by the engine's BM25. With
//! more than [`MAX_BUCKETED_GROUPS`] groups, one bucket: BM25 only.

use crate::search::backend::{EXACT_SCORE, VARIANT_SCORE};
use crate::search::fuzzy;
use crate::search::plan::{Plan, Term};
use crate::text::analysis::is_long_word;

use super::tokens::{phrase, token};

/// Most query groups whose matches are bucketed by bonus (3³ combinations).
pub const MAX_BUCKETED_GROUPS: usize = 3;

/// Most character pairs of a query looked up in the relaxed tier.
const MAX_BIGRAMS: usize = 64;

/// One tier: its buckets, best bonus first, each a `MATCH` expression (exclusions in).
#[derive(Debug, Clone, PartialEq)]
pub struct TierQuery {
    /// Bonus and expression.
    pub buckets: Vec<(f32, String)>,
}

fn or(parts: &[String]) -> Option<String> {
    match parts {
        [] => None,
        [one] => Some(one.clone()),
        _ => Some(format!("({})", parts.join(" | "))),
    }
}

fn chars(norm: &str) -> Option<String> {
    phrase(norm).map(|p| format!("(@chars {p})"))
}

/// A form matched by its pieces: its long words as words, its other characters as
/// characters.
fn by_words(form: &crate::search::plan::Form) -> String {
    let words: Vec<String> = form.long_words().map(|w| token(w)).collect();
    let singles: Vec<String> = form.singles.iter().map(|c| token(c)).collect();
    if singles.is_empty() {
        format!("(@words {})", words.join(" "))
    } else {
        format!(
            "((@words {}) (@chars {}))",
            words.join(" "),
            singles.join(" ")
        )
    }
}

/// How a group of terms may match: as typed, as a variant, by words (each `None` when it
/// cannot).
fn levels(group: &[Term]) -> [Option<String>; 3] {
    let mut exact = Vec::new();
    let mut variant = Vec::new();
    let mut words = Vec::new();
    for t in group {
        exact.extend(chars(t.norm()));
        variant.extend(t.forms[1..].iter().filter_map(|f| chars(&f.norm)));
        if !t.quoted {
            let forms = t.forms.iter().filter(|f| f.matches_by_words());
            words.extend(forms.map(by_words));
        }
    }
    [or(&exact), or(&variant), or(&words)]
}

/// Each way a group matches, with its bonus, exclusive of the better ways.
fn exclusive(group: &[Term]) -> Vec<(f32, String)> {
    let [e, v, w] = levels(group);
    let mut out = Vec::new();
    let mut better: Vec<String> = Vec::new();
    for (bonus, level) in [(EXACT_SCORE, e), (VARIANT_SCORE, v), (0.0, w)] {
        let Some(level) = level else { continue };
        let not: String = better.iter().map(|b| format!(" -{b}")).collect();
        out.push((bonus, format!("({level}{not})")));
        better.push(level);
    }
    out
}

/// Any way a group matches.
fn any(group: &[Term]) -> Option<String> {
    let parts: Vec<String> = levels(group).into_iter().flatten().collect();
    or(&parts)
}

/// ` -(…)` for each form of each excluded term.
fn exclusions(plan: &Plan) -> String {
    let forms = plan.excluded.iter().flat_map(|t| &t.forms);
    forms
        .filter_map(|f| chars(&f.norm))
        .map(|p| format!(" -{p}"))
        .collect()
}

/// `expr`, with the terms' words given to the ranker for BM25 as the local index's ranking
/// reads them: `expr | (expr (@words …))`, which matches what `expr` matches. (Sphinx
/// 2.2's `MAYBE` with one word on its right matches as `AND` would.)
fn with_bm25<'a>(expr: String, terms: impl Iterator<Item = &'a Term>) -> String {
    let mut words: Vec<String> = Vec::new();
    for t in terms {
        for w in t.forms.iter().flat_map(|f| f.long_words()) {
            let w = token(w);
            if !words.contains(&w) {
                words.push(w);
            }
        }
    }
    if words.is_empty() {
        expr
    } else {
        format!("({expr}) | (({expr}) (@words {}))", words.join(" | "))
    }
}

/// The strict tier: every group matched, as a string or by all of a term's pieces.
pub fn strict(plan: &Plan) -> TierQuery {
    let groups: Vec<&Vec<Term>> = plan.groups.iter().collect();
    let mut combos: Vec<(f32, Vec<String>)> = vec![(0.0, Vec::new())];
    if groups.len() <= MAX_BUCKETED_GROUPS {
        for g in &groups {
            let ways = exclusive(g);
            let mut next = Vec::new();
            for (bonus, parts) in &combos {
                for (b, way) in &ways {
                    let mut p = parts.clone();
                    p.push(way.clone());
                    next.push((bonus + b, p));
                }
            }
            combos = next;
        }
    } else {
        combos[0].1 = groups.iter().filter_map(|g| any(g)).collect();
    }
    let tail = exclusions(plan);
    let mut buckets: Vec<(f32, Vec<String>)> = Vec::new();
    for (bonus, parts) in combos {
        let expr = format!("({})", parts.join(" "));
        match buckets.iter_mut().find(|(b, _)| *b == bonus) {
            Some((_, exprs)) => exprs.push(expr),
            None => buckets.push((bonus, vec![expr])),
        }
    }
    buckets.sort_by(|a, b| b.0.total_cmp(&a.0));
    let buckets = buckets
        .into_iter()
        .filter(|(_, e)| !e.is_empty() && e.iter().all(|x| x != "()"))
        .map(|(b, e)| {
            (
                b,
                with_bm25(format!("({}){tail}", e.join(" | ")), plan.terms()),
            )
        })
        .collect();
    TierQuery { buckets }
}

/// Letters or digits side by side in `norm` once its whitespace is gone.
fn bigrams(norm: &str) -> Vec<String> {
    let chars: Vec<char> = norm.chars().filter(|c| !c.is_whitespace()).collect();
    chars
        .windows(2)
        .filter(|w| w.iter().all(|c| c.is_alphanumeric()))
        .map(|w| {
            format!(
                "\"{} {}\"",
                token(&w[0].to_string()),
                token(&w[1].to_string())
            )
        })
        .collect()
}

/// The relaxed tier: passages holding a loose term's form as a string (first), then those
/// with any of its long words but question words or two of its letters side by side; the
/// other terms, exclusions and filters still hold.
pub fn relaxed(plan: &Plan) -> TierQuery {
    let loose: Vec<&Term> = fuzzy::relaxed_terms(plan).collect();
    let mut must = String::new();
    let (mut strings, mut pieces) = (Vec::new(), Vec::new());
    for t in plan.terms() {
        if !loose.contains(&t) {
            if let Some(e) = any(std::slice::from_ref(t)) {
                must.push_str(&format!(" {e}"));
            }
            continue;
        }
        for form in &t.forms {
            strings.extend(chars(&form.norm));
            let long = form.words.iter();
            let long = long.filter(|w| is_long_word(w) && !fuzzy::is_stop_word(w));
            pieces.extend(long.map(|w| format!("(@words {})", token(w))));
            for pair in bigrams(&form.norm) {
                let pair = format!("(@chars {pair})");
                if pieces.len() < MAX_BIGRAMS && !pieces.contains(&pair) {
                    pieces.push(pair);
                }
            }
        }
    }
    let tail = format!("{must}{}", exclusions(plan));
    let bm25 = |e: String| with_bm25(e, loose.iter().copied());
    let mut buckets = Vec::new();
    if let Some(s) = or(&strings) {
        buckets.push((EXACT_SCORE, bm25(format!("({s}){tail}"))));
    }
    if let Some(p) = or(&pieces) {
        let not = or(&strings).map(|s| format!(" -{s}")).unwrap_or_default();
        buckets.push((0.0, bm25(format!("({p}{not}){tail}"))));
    }
    TierQuery { buckets }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::plan::bind_with;
    use crate::search::query::parse;

    fn plan(q: &str) -> Plan {
        let freq = |w: &str| u64::from(["软件", "软体", "性能"].contains(&w)) * 10;
        bind_with(&parse(q).unwrap(), 1000, &freq, None)
    }

    #[test]
    fn a_term_is_bucketed_by_how_it_matches() {
        let q = strict(&plan("软件 -\"a|b\""));
        let bonuses: Vec<f32> = q.buckets.iter().map(|b| b.0).collect();
        assert_eq!(bonuses, vec![EXACT_SCORE, VARIANT_SCORE, 0.0]);
        let [exact, variant, words] = [0, 1, 2].map(|i| q.buckets[i].1.as_str());
        assert!(exact.starts_with("(((((@chars \"软 件\"))))"), "{exact}");
        assert!(
            variant.contains("(@chars \"软 体\") -(@chars \"软 件\")"),
            "{variant}"
        );
        let not_strings = "(@words 软体)) -(@chars \"软 件\") -(@chars \"软 体\")";
        assert!(words.contains(not_strings), "{words}");
        for b in [exact, variant, words] {
            assert!(b.contains(" -(@chars \"a _7c b\")"), "{b}");
            assert!(b.ends_with(" (@words 软件 | 软体))"), "{b}");
        }
    }

    #[test]
    fn two_groups_sum_their_bonuses() {
        let q = strict(&plan("\"性能\" 软件"));
        let bonuses: Vec<f32> = q.buckets.iter().map(|b| b.0).collect();
        let (e, v) = (EXACT_SCORE, VARIANT_SCORE);
        assert_eq!(bonuses, vec![2.0 * e, e + v, e]);
    }
}
