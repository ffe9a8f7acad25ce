//! Nearest neighbours of a query vector among the passages' int8 vectors.

use std::cmp::Ordering;

use crate::embed::vectors::quantise;

/// Finds the rows most similar to a query: best first, in one total order (similarity
/// descending, then row), so that a longer list starts with a shorter one.
pub trait Neighbours: Send + Sync {
    /// The best `k` rows and their similarity (cosine, about -1 to 1).
    fn nearest(&self, query: &[f32], k: usize) -> Vec<(f32, usize)>;
    /// The similarity of `query` to row `row`.
    fn similarity(&self, query: &[f32], row: usize) -> f32;
    /// How many rows.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every row compared with the query: exact, and fast enough for corpora of up to some
/// hundred thousand passages (one multiply-add per dimension and row).
#[derive(Debug, Default)]
pub struct ExactScan {
    dim: usize,
    scales: Vec<f32>,
    data: Vec<i8>,
}

impl ExactScan {
    /// An empty scan of vectors of `dim` numbers.
    pub fn new(dim: usize) -> ExactScan {
        ExactScan {
            dim,
            ..ExactScan::default()
        }
    }

    /// Adds a row: its scale and components (as [`crate::embed::vectors::quantise`] makes
    /// them).
    pub fn push(&mut self, scale: f32, q: &[i8]) {
        debug_assert_eq!(q.len(), self.dim);
        self.scales.push(scale);
        self.data.extend_from_slice(q);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() + self.scales.len() * 4
    }
}

/// The dot product of two int8 vectors, in integers (which the compiler vectorises; a float
/// sum it may not reorder).
fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// The cosine similarity of a query quantised to `(qs, q)` and a row of scale `scale`.
pub(crate) fn score(qs: f32, q: &[i8], scale: f32, row: &[i8]) -> f32 {
    dot(q, row) as f32 * qs * scale
}

/// The best `k` of `scored`, best first, ties by row.
pub fn top(scored: impl Iterator<Item = (f32, usize)>, k: usize) -> Vec<(f32, usize)> {
    let mut all: Vec<(f32, usize)> = scored.collect();
    if k == 0 {
        return Vec::new();
    }
    if all.len() > k {
        all.select_nth_unstable_by(k - 1, by_similarity);
        all.truncate(k);
    }
    all.sort_by(by_similarity);
    all
}

/// Best first, ties by row.
pub fn by_similarity(a: &(f32, usize), b: &(f32, usize)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

impl Neighbours for ExactScan {
    fn nearest(&self, query: &[f32], k: usize) -> Vec<(f32, usize)> {
        if self.dim == 0 || query.len() != self.dim || k == 0 {
            return Vec::new();
        }
        // The query quantised as the rows are: its rounding moves a similarity by ~0.002.
        let (qs, q) = quantise(query);
        let scored = self
            .data
            .chunks_exact(self.dim)
            .zip(&self.scales)
            .enumerate()
            .map(|(i, (row, &s))| (score(qs, &q, s, row), i));
        top(scored, k)
    }

    fn similarity(&self, query: &[f32], row: usize) -> f32 {
        let Some(scale) = self.scales.get(row) else {
            return 0.0;
        };
        if query.len() != self.dim {
            return 0.0;
        }
        let data = &self.data[row * self.dim..(row + 1) * self.dim];
        let (qs, q) = quantise(query);
        score(qs, &q, *scale, data)
    }

    fn len(&self) -> usize {
        self.scales.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_ranks_by_cosine_then_row() {
        let mut scan = ExactScan::new(2);
        for v in [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]] {
            let (s, q) = quantise(&v);
            scan.push(s, &q);
        }
        let top = scan.nearest(&[2.0, 0.1], 3);
        let rows: Vec<usize> = top.iter().map(|t| t.1).collect();
        assert_eq!(rows, [0, 3, 2]);
        assert!((top[0].0 - 0.9988).abs() < 0.01, "{top:?}");
        assert_eq!(scan.nearest(&[1.0, 0.0], 10).len(), 4);
        assert!(scan.nearest(&[1.0], 1).is_empty());
    }
}
