//! Which of the relaxed tier's character pairs find passages (see `relaxed`): the pairs of a
//! rare character, and the cheapest set of the others such that every run of half a form's
//! characters holds one of them.

use crate::search::fuzzy;

/// A form's letters and digits in order (its whitespace aside), each with the index in the
/// pairs looked up of its pair with the next one, when they are side by side and the pair is
/// listed.
pub(super) fn form_pairs(norm: &str, pairs: &[[char; 2]]) -> Vec<Option<usize>> {
    let chars: Vec<char> = norm.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    for (k, c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            let next = chars.get(k + 1).filter(|n| n.is_alphanumeric());
            out.push(next.and_then(|n| pairs.iter().position(|p| *p == [*c, *n])));
        }
    }
    out
}

/// Which pairs find passages, given for each the passages holding its rarer character
/// (`rarer`, also what finding them costs): those in `limit` passages or fewer, and for each
/// form (see [`form_pairs`]) the cheapest others such that every run of half its characters
/// ([`fuzzy::MIN_ALIGN`], at least two) holds a pair that finds. A passage holding such a run
/// in a row aligns on enough of the form to be a partial match: it is always found.
pub(super) fn finding(rarer: &[u64], limit: u64, forms: &[Vec<Option<usize>>]) -> Vec<bool> {
    let mut finds: Vec<bool> = rarer.iter().map(|&n| n <= limit).collect();
    for form in forms {
        for i in cheapest_cover(form, rarer, &finds) {
            finds[i] = true;
        }
    }
    finds
}

/// The pairs (indices) of the least total cost, those that find already costing nothing,
/// such that every run of the form holds one: a point set hitting intervals on a line, by
/// dynamic programming over the last pair chosen.
fn cheapest_cover(form: &[Option<usize>], rarer: &[u64], finds: &[bool]) -> Vec<usize> {
    let m = form.len();
    let len = ((m as f32 * fuzzy::MIN_ALIGN).ceil() as usize).max(2);
    if m < len {
        return Vec::new();
    }
    // Each run's first and last listed pair, as character indices; a run of `len`
    // characters from `s` holds the pairs from `s` to `s + len - 2`.
    let runs: Vec<(usize, usize)> = (0..=m - len)
        .filter_map(|s| {
            let mut listed = (s..s + len - 1).filter(|&k| form[k].is_some());
            let first = listed.next()?;
            Some((first, listed.next_back().unwrap_or(first)))
        })
        .collect();
    if runs.is_empty() {
        return Vec::new();
    }
    let cost = |k: usize| form[k].map(|i| if finds[i] { 0 } else { rarer[i] });
    // No run between two chosen pairs `q` and `k` (or before `k`, when it is the first).
    let gap_free =
        |q: Option<usize>, k: usize| !runs.iter().any(|&(a, b)| b < k && q.is_none_or(|q| a > q));
    // For each pair: the least cost of a choice ending with it that holds every run before
    // it, and the pair chosen before it.
    let mut best: Vec<Option<(u64, Option<usize>)>> = vec![None; m];
    for k in 0..m {
        let Some(c) = cost(k) else { continue };
        let mut min = gap_free(None, k).then_some((0, None));
        for (q, b) in best.iter().enumerate().take(k) {
            if let Some((d, _)) = *b
                && min.is_none_or(|(m, _)| d < m)
                && gap_free(Some(q), k)
            {
                min = Some((d, Some(q)));
            }
        }
        best[k] = min.map(|(d, q)| (d + c, q));
    }
    let last = (0..m)
        .filter(|&k| !runs.iter().any(|&(a, _)| a > k))
        .filter_map(|k| best[k].map(|(d, _)| (d, k)))
        .min();
    let mut chosen = Vec::new();
    let mut at = last.map(|(_, k)| k);
    while let Some(k) = at {
        chosen.extend(form[k]);
        at = best[k].and_then(|(_, q)| q);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_of_half_the_characters_holds_a_pair_that_finds() {
        // 仍於直道中，事行不詆訐: ten characters, runs of five (four pairs each).
        let pairs: Vec<[char; 2]> = [
            "仍于", "于直", "直道", "道中", "事行", "行不", "不诋", "诋讦",
        ]
        .iter()
        .map(|p| {
            let c: Vec<char> = p.chars().collect();
            [c[0], c[1]]
        })
        .collect();
        let form = form_pairs("仍于直道中，事行不诋讦", &pairs);
        assert_eq!(form.len(), 10);
        assert_eq!(form[4], None, "中 and 事 are not side by side");
        let rarer = [60, 126, 126, 459, 503, 517, 1, 1];
        let finds = finding(&rarer, 10, std::slice::from_ref(&form));
        // 道中 is in the first four runs: cheaper alone than 直道 (first three) and another.
        assert_eq!(
            finds,
            vec![false, false, false, true, false, false, true, true]
        );
        // Each run of five characters holds a pair that finds.
        for s in 0..=5 {
            assert!((s..s + 4).any(|k| form[k].is_some_and(|i| finds[i])), "{s}");
        }
        // Nothing is common: every pair finds.
        assert!(finding(&rarer, 1000, &[form]).iter().all(|&f| f));
    }

    #[test]
    fn short_forms_need_every_pair() {
        let pairs = [['与', '子'], ['子', '别']];
        let form = form_pairs("与子别", &pairs);
        assert_eq!(finding(&[50, 40], 10, &[form]), vec![true, true]);
    }
}
