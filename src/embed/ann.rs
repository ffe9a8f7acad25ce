//! The approximate nearest-neighbour index of the semantic tier: an HNSW graph (the `usearch`
//! crate) over the int8 vectors of the embedded passages, kept in a file of the index folder
//! that searches memory-map (a search reads only the pages its walk through the graph
//! touches, not the whole file).
//!
//! `zhsearch-ann-<model hash>.usearch`: usearch's serialised graph, whose keys are record
//! numbers of the vector file ([`crate::embed::vectors`]) and whose vectors are those
//! records' int8 components as stored, then a trailer of [`TRAILER`] bytes: `ZHSANN1\n`, the
//! dimension, how many vectors, a digest of which records they are (record number, scale and
//! first components), the graph's length and its blake3 hash. The file is only ever written
//! whole under a temporary name, synced and renamed over the old one, so a search maps one
//! complete file. A search uses the file when its trailer, its length, usearch's header and
//! the digest agree with the vectors it reads; an update also checks the hash before it
//! changes the graph. A file missing, damaged or of other vectors is rebuilt from the
//! vectors by the next embedding run, and until then searches scan every vector.

use std::path::{Path, PathBuf};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::embed::EmbedError;
use crate::embed::nearest::{by_similarity, score};
use crate::embed::vectors::{Vectors, quantise};

/// Graph edges per node (usearch's `connectivity`, HNSW's M).
pub const CONNECTIVITY: usize = 16;
/// Candidates kept while inserting a vector (HNSW's `ef_construction`).
pub const EXPANSION_ADD: usize = 128;
/// Candidates kept while searching (HNSW's `ef`): fixed, so a query has one answer.
pub const EXPANSION_SEARCH: usize = 128;
/// How many passage texts nearest a query a search considers: the semantic tier's
/// candidates, rescored exactly from the int8 vectors.
pub const CANDIDATES: usize = 100;

const MAGIC: &[u8; 8] = b"ZHSANN1\n";
/// Bytes of the trailer after the graph.
pub const TRAILER: usize = 64;

/// The file holding the graph of `model`'s vectors in the index folder `dir`.
pub fn path(dir: &Path, model: &str) -> PathBuf {
    let hash = blake3::hash(model.as_bytes()).to_hex();
    dir.join(format!("zhsearch-ann-{}.usearch", &hash[..16]))
}

/// What the trailer says of the graph before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Trailer {
    dim: usize,
    count: usize,
    digest: u128,
    len: usize,
    hash: [u8; 16],
}

impl Trailer {
    fn bytes(&self) -> [u8; TRAILER] {
        let mut b = [0u8; TRAILER];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&(self.dim as u32).to_le_bytes());
        b[16..24].copy_from_slice(&(self.count as u64).to_le_bytes());
        b[24..40].copy_from_slice(&self.digest.to_le_bytes());
        b[40..48].copy_from_slice(&(self.len as u64).to_le_bytes());
        b[48..64].copy_from_slice(&self.hash);
        b
    }

    /// The trailer in the last [`TRAILER`] bytes `b`, when they are one.
    fn parse(b: &[u8]) -> Option<Trailer> {
        let u64_at = |at: usize| Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?));
        let t = Trailer {
            dim: u32::from_le_bytes(b.get(8..12)?.try_into().ok()?) as usize,
            count: u64_at(16)? as usize,
            digest: u128::from_le_bytes(b.get(24..40)?.try_into().ok()?),
            len: u64_at(40)? as usize,
            hash: b.get(48..64)?.try_into().ok()?,
        };
        (b.len() == TRAILER && &b[..8] == MAGIC).then_some(t)
    }

    /// The trailer of a whole file, when it has one that fits its length.
    fn of(file: &[u8]) -> Option<Trailer> {
        let len = file.len().checked_sub(TRAILER)?;
        Trailer::parse(&file[len..]).filter(|t| t.len == len)
    }
}

/// A digest of which vectors the graph holds: each record's number, scale and first
/// components, summed (the order of the records does not matter).
pub fn digest(v: &Vectors, members: &[usize]) -> u128 {
    members.iter().fold(0u128, |sum, &r| {
        let (scale, q) = v.get(r);
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&scale.to_le_bytes());
        for (to, &x) in b[4..].iter_mut().zip(q) {
            *to = x as u8;
        }
        let mixed = (u128::from_le_bytes(b) ^ ((r as u128) << 96 | r as u128))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        sum.wrapping_add(mixed ^ (mixed >> 64))
    })
}

fn options(dim: usize) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        quantization: ScalarKind::I8,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    }
}

fn hash(graph: &[u8]) -> [u8; 16] {
    let h = blake3::hash(graph);
    h.as_bytes()[..16].try_into().unwrap_or_default()
}

/// The graph of a file, memory-mapped: what a search walks.
pub struct Ann {
    // Declared before the map it views, so dropped before it.
    index: Index,
    _map: memmap2::Mmap,
}

impl std::fmt::Debug for Ann {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ann").field("len", &self.len()).finish()
    }
}

impl Ann {
    /// The graph in `path` when it holds exactly `members` of `v` (by its trailer's count and
    /// digest); `None` when it is missing, damaged or of other vectors.
    pub fn open(path: &Path, v: &Vectors, members: &[usize]) -> Option<Ann> {
        let file = std::fs::File::open(path).ok()?;
        // SAFETY: the file is never changed in place, only replaced by a rename (module doc).
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        let t = Trailer::of(&map)?;
        if t.dim != v.dim || t.count != members.len() || t.digest != digest(v, members) {
            return None;
        }
        let graph = &map[..t.len];
        // The whole graph is hashed before the C++ library walks it: a file damaged inside
        // (its trailer intact) would otherwise crash the process. Blake3: ~0.2 ms a MB.
        if hash(graph) != t.hash {
            return None;
        }
        let meta = Index::metadata_from_buffer(graph).ok()?;
        let fits = meta.dimensions as usize == v.dim
            && meta.metric == MetricKind::Cos
            && meta.quantization == ScalarKind::I8
            && meta.count_present as usize == members.len();
        if !fits {
            return None;
        }
        let index = Index::new(&options(v.dim)).ok()?;
        // SAFETY: the map outlives the index: both are held by the `Ann`, the index dropped
        // first.
        unsafe { index.view_from_buffer(graph) }.ok()?;
        (index.size() == members.len()).then(|| {
            index.change_expansion_search(EXPANSION_SEARCH);
            Ann { index, _map: map }
        })
    }

    /// How many vectors.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The [`CANDIDATES`] records of `v` nearest `query` by the graph, with their exact
    /// similarity (as the scan computes it), best first, ties by record.
    pub fn nearest(&self, v: &Vectors, query: &[f32]) -> Vec<(f32, usize)> {
        if query.len() != v.dim {
            return Vec::new();
        }
        let (qs, q) = quantise(query);
        let Ok(found) = self.index.search(&q, CANDIDATES) else {
            return Vec::new();
        };
        let mut out: Vec<(f32, usize)> = found
            .keys
            .iter()
            .map(|&k| k as usize)
            .filter(|&r| r < v.len())
            .map(|r| {
                let (scale, row) = v.get(r);
                (score(qs, &q, scale, row), r)
            })
            .collect();
        out.sort_by(by_similarity);
        out
    }
}

/// What an update did to the graph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Vectors kept from the file as they were.
    pub kept: usize,
    /// Vectors added.
    pub added: usize,
    /// Vectors removed.
    pub removed: usize,
    /// Whether the graph was started anew (no usable file).
    pub rebuilt: bool,
    /// Whether the file was written.
    pub written: bool,
}

/// Brings the graph in `path` in step with `members` (record numbers, ascending) of `v`:
/// records gone are removed, new ones added, on all cores; a file missing, damaged or of
/// other vectors is rebuilt. Nothing is written when the file already holds them.
pub fn update(path: &Path, v: &Vectors, members: &[usize]) -> Result<Changes, EmbedError> {
    let digest = digest(v, members);
    if members.is_empty() || is_current(path, v.dim, members.len(), digest) {
        let kept = members.len();
        return Ok(Changes {
            kept,
            ..Changes::default()
        });
    }
    let pruned = match load(path, v.dim) {
        Some(index) => prune(&index, v, members, path)?.map(|(c, add)| (index, c, add)),
        None => None,
    };
    // No usable file, or one with keys the vectors have no record for: start anew.
    let (index, mut c, add) = match pruned {
        Some(p) => p,
        None => (
            Index::new(&options(v.dim)).map_err(failed(path))?,
            Changes {
                rebuilt: true,
                ..Changes::default()
            },
            members.to_vec(),
        ),
    };
    insert(&index, v, &add, path)?;
    c.added = add.len();
    write(path, &index, v.dim, members.len(), digest)?;
    c.written = true;
    Ok(c)
}

/// Whether the file in `path` holds these vectors, whole: its trailer says so and its graph
/// has the hash the trailer records (so that an update repairs a file damaged inside).
fn is_current(path: &Path, dim: usize, count: usize, digest: u128) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    // SAFETY: as in `Ann::open`.
    let Ok(map) = (unsafe { memmap2::Mmap::map(&file) }) else {
        return false;
    };
    Trailer::of(&map).is_some_and(|t| {
        (t.dim, t.count, t.digest) == (dim, count, digest) && hash(&map[..t.len]) == t.hash
    })
}

/// The graph in `path`, loaded into memory to be changed, when its trailer, hash and header
/// are right.
fn load(path: &Path, dim: usize) -> Option<Index> {
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: as in `Ann::open`; the bytes are copied into the index before the map goes.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let t = Trailer::of(&map)?;
    let graph = &map[..t.len];
    if t.dim != dim || hash(graph) != t.hash {
        return None;
    }
    let index = Index::new(&options(dim)).ok()?;
    index.load_from_buffer(graph).ok()?;
    (index.dimensions() == dim && index.size() == t.count).then_some(index)
}

/// Removes from `index` the records not in `members` or whose vector changed; the records
/// to add, or `None` when the graph holds keys `v` has no record for.
fn prune(
    index: &Index,
    v: &Vectors,
    members: &[usize],
    path: &Path,
) -> Result<Option<(Changes, Vec<usize>)>, EmbedError> {
    let mut want = vec![false; v.len()];
    for &r in members {
        want[r] = true;
    }
    let mut c = Changes::default();
    let mut add = Vec::new();
    let mut got = vec![0i8; v.dim];
    for (r, &wanted) in want.iter().enumerate() {
        let key = r as u64;
        let same = index.contains(key)
            && index.get(key, &mut got).map_err(failed(path))? == 1
            && got.as_slice() == v.get(r).1;
        if index.contains(key) && !(wanted && same) {
            index.remove(key).map_err(failed(path))?;
            c.removed += 1;
        }
        if wanted && !same {
            add.push(r);
        } else if wanted {
            c.kept += 1;
        }
    }
    Ok((index.size() == c.kept).then_some((c, add)))
}

/// Adds the records `add` of `v` to `index`, on all cores.
fn insert(index: &Index, v: &Vectors, add: &[usize], path: &Path) -> Result<(), EmbedError> {
    if add.is_empty() {
        return Ok(());
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(add.len());
    // Removed vectors may still hold their slots: room for those too.
    index
        .reserve_capacity_and_threads(index.capacity().max(index.size()) + add.len(), threads)
        .map_err(failed(path))?;
    let error = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for part in add.chunks(add.len().div_ceil(threads)) {
            let error = &error;
            s.spawn(move || {
                for &r in part {
                    if let Err(e) = index.add(r as u64, v.get(r).1) {
                        *error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                        return;
                    }
                }
            });
        }
    });
    match error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(EmbedError::io(
            "add to the nearest-neighbour graph of",
            path,
            e,
        )),
        None => Ok(()),
    }
}

/// How a failure of usearch is told.
fn failed<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> EmbedError + '_ {
    move |e| EmbedError::io("build the nearest-neighbour graph", path, e)
}

/// Writes the graph and its trailer to `path`, anew and atomically.
fn write(
    path: &Path,
    index: &Index,
    dim: usize,
    count: usize,
    digest: u128,
) -> Result<(), EmbedError> {
    let len = index.serialized_length();
    let mut bytes = vec![0u8; len + TRAILER];
    index
        .save_to_buffer(&mut bytes[..len])
        .map_err(|e| EmbedError::io("write", path, e))?;
    let t = Trailer {
        dim,
        count,
        digest,
        len,
        hash: hash(&bytes[..len]),
    };
    bytes[len..].copy_from_slice(&t.bytes());
    crate::store::marker::atomic_write(path, &bytes).map_err(|e| EmbedError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::nearest::{ExactScan, Neighbours};
    use crate::embed::vectors::{Appender, key};

    /// Reproducible numbers in -1..1 (xorshift64*).
    fn numbers(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed;
        move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }
    }

    /// `n` vectors of `dim` around `c` centres, in a vector file of `dir`.
    fn clustered(dir: &Path, n: usize, c: usize, dim: usize) -> (Vectors, Vec<Vec<f32>>) {
        let mut r = numbers(7);
        let centres: Vec<Vec<f32>> = (0..c).map(|_| (0..dim).map(|_| r()).collect()).collect();
        let p = crate::embed::vectors::path(dir, "m");
        let mut a = Appender::open(&p, "m", dim).unwrap();
        let batch: Vec<_> = (0..n)
            .map(|i| {
                let v = centres[i % c].iter().map(|x| x + 0.5 * r()).collect();
                (key("m", &i.to_string()), v)
            })
            .collect();
        a.append(&batch).unwrap();
        let queries = (0..50)
            .map(|i| centres[i * 7 % c].iter().map(|x| x + 0.5 * r()).collect())
            .collect();
        (Vectors::read(&p, "m").unwrap(), queries)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zhsearch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_graph_finds_what_the_scan_finds() {
        let dir = scratch("ann-recall");
        let (v, queries) = clustered(&dir, 3000, 30, 64);
        let members: Vec<usize> = (0..v.len()).collect();
        let file = path(&dir, "m");
        let c = update(&file, &v, &members).unwrap();
        assert!(c.rebuilt && c.written && c.added == 3000, "{c:?}");
        let ann = Ann::open(&file, &v, &members).unwrap();
        let mut scan = ExactScan::new(v.dim);
        for r in 0..v.len() {
            let (s, q) = v.get(r);
            scan.push(s, q);
        }
        let mut found = 0;
        for q in &queries {
            let truth: Vec<usize> = scan.nearest(q, 10).iter().map(|t| t.1).collect();
            let got = ann.nearest(&v, q);
            assert_eq!(got.len(), CANDIDATES);
            assert!(got.windows(2).all(|w| by_similarity(&w[0], &w[1]).is_le()));
            // Rescored exactly: the similarity the scan gives.
            assert!((got[0].0 - scan.similarity(q, got[0].1)).abs() < 1e-6);
            found += got[..10].iter().filter(|g| truth.contains(&g.1)).count();
        }
        let recall = found as f64 / (10 * queries.len()) as f64;
        assert!(recall >= 0.95, "recall@10 {recall}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_update_changes_only_what_changed_and_a_damaged_file_is_rebuilt() {
        let dir = scratch("ann-update");
        let (v, queries) = clustered(&dir, 400, 8, 16);
        let file = path(&dir, "m");
        let first: Vec<usize> = (0..300).collect();
        update(&file, &v, &first).unwrap();
        // Nothing changed: the file is not written again.
        let again = update(&file, &v, &first).unwrap();
        assert_eq!((again.written, again.kept), (false, 300));
        // Records 0..10 gone, 300..320 new: removed and added, the rest kept.
        let second: Vec<usize> = (10..320).collect();
        let c = update(&file, &v, &second).unwrap();
        assert_eq!(
            (c.kept, c.removed, c.added, c.rebuilt),
            (290, 10, 20, false)
        );
        // The file is of the new members only: the old set no longer opens it.
        assert!(Ann::open(&file, &v, &first).is_none());
        let ann = Ann::open(&file, &v, &second).unwrap();
        assert_eq!(ann.len(), 310);
        for q in &queries {
            assert!(ann.nearest(&v, q).iter().all(|(_, r)| second.contains(r)));
        }
        drop(ann);
        // Cut short, or its graph overwritten: not opened, and rebuilt whole by an update.
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        assert!(Ann::open(&file, &v, &second).is_none());
        let c = update(&file, &v, &second).unwrap();
        assert!(c.rebuilt && c.added == 310, "{c:?}");
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid..mid + 64].fill(0xff);
        std::fs::write(&file, &bytes).unwrap();
        let c = update(&file, &v, &(10..330).collect::<Vec<_>>()).unwrap();
        assert!(c.rebuilt && c.added == 320, "{c:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
