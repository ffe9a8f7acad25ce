//! The vectors of one embedder, in a file of the index folder: computed once per passage
//! text, appended batch by batch (each batch synced before the next is asked for, so that a
//! killed run loses at most the batch in flight), read whole by a search.
//!
//! `zhsearch-vectors-<model hash>.bin`: a header (`ZHSVEC1\n`, the dimension and the model
//! name), then records of a 32-byte key (blake3 of the model name and the folded passage
//! text), a scale (`f32`) and one `i8` per dimension: the unit vector divided by its scale.
//! A partial record at the end (a killed write) is ignored, and cut off by the next append.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::embed::EmbedError;

const MAGIC: &[u8; 8] = b"ZHSVEC1\n";

/// A passage text's key: blake3 of the model name and the text.
pub type Key = [u8; 32];

/// The key of `text` (folded as the index folds it) for the embedder `model`.
pub fn key(model: &str, text: &str) -> Key {
    let mut h = blake3::Hasher::new();
    h.update(model.as_bytes());
    h.update(&[0]);
    h.update(text.as_bytes());
    *h.finalize().as_bytes()
}

/// The file holding the vectors of `model` in the index folder `dir`.
pub fn path(dir: &Path, model: &str) -> PathBuf {
    let hash = blake3::hash(model.as_bytes()).to_hex();
    dir.join(format!("zhsearch-vectors-{}.bin", &hash[..16]))
}

/// A vector as stored: unit length, then divided by the scale that maps its largest
/// component to ±127.
pub fn quantise(v: &[f32]) -> (f32, Vec<i8>) {
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs())) / norm;
    let scale = (max / 127.0).max(f32::MIN_POSITIVE);
    let q = v
        .iter()
        .map(|x| (x / norm / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (scale, q)
}

/// The vectors of one embedder, read whole.
#[derive(Debug, Default)]
pub struct Vectors {
    /// The dimension.
    pub dim: usize,
    keys: HashMap<Key, usize>,
    scales: Vec<f32>,
    data: Vec<i8>,
}

impl Vectors {
    /// The vectors in `path`; empty (dimension 0) when there is no such file.
    pub fn read(path: &Path, model: &str) -> Result<Vectors, EmbedError> {
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut f) => f
                .read_to_end(&mut bytes)
                .map_err(|e| EmbedError::io("read", path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vectors::default()),
            Err(e) => return Err(EmbedError::io("read", path, e)),
        };
        let damaged = || EmbedError::io("read", path, "not a vector file of zhsearch");
        let (dim, start) = header(&bytes, model).ok_or_else(damaged)?;
        let mut v = Vectors {
            dim,
            ..Vectors::default()
        };
        for rec in bytes[start..].chunks_exact(record_len(dim)) {
            let key: Key = rec[..32].try_into().map_err(|_| damaged())?;
            let scale = f32::from_le_bytes(rec[32..36].try_into().map_err(|_| damaged())?);
            v.keys.insert(key, v.scales.len());
            v.scales.push(scale);
            v.data.extend(rec[36..].iter().map(|&b| b as i8));
        }
        Ok(v)
    }

    /// The vectors in `path` for an embedding run: a file whose header is not of this
    /// model's vectors (damaged, emptied) is removed, and the run starts anew (the file name is
    /// ours: without this, every later run would stop at it).
    pub fn read_or_reset(path: &Path, model: &str) -> Result<Vectors, EmbedError> {
        let readable = File::open(path).and_then(|mut f| {
            let mut head = Vec::new();
            let need = MAGIC.len() + 8 + model.len();
            (&mut f).take(need as u64).read_to_end(&mut head)?;
            Ok(head)
        });
        if let Ok(head) = readable
            && header(&head, model).is_none()
        {
            std::fs::remove_file(path).map_err(|e| EmbedError::io("remove", path, e))?;
        }
        Vectors::read(path, model)
    }

    /// How many vectors.
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    /// The row of `key`'s vector.
    pub fn row(&self, key: &Key) -> Option<usize> {
        self.keys.get(key).copied()
    }

    /// Whether `key` has a vector.
    pub fn has(&self, key: &Key) -> bool {
        self.keys.contains_key(key)
    }

    /// Row `i`: its scale and its components.
    pub fn get(&self, i: usize) -> (f32, &[i8]) {
        (self.scales[i], &self.data[i * self.dim..(i + 1) * self.dim])
    }
}

/// The dimension and the end of the header of a vector file of `model`.
fn header(bytes: &[u8], model: &str) -> Option<(usize, usize)> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let dim = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let len = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
    let name = rest.get(8..8 + len)?;
    (name == model.as_bytes() && dim > 0).then_some((dim, MAGIC.len() + 8 + len))
}

fn record_len(dim: usize) -> usize {
    32 + 4 + dim
}

/// Appends vectors to the file of one embedder.
pub struct Appender {
    file: File,
    path: PathBuf,
    /// The dimension of the file.
    pub dim: usize,
}

impl Appender {
    /// Opens the file of `model` for appending vectors of `dim` numbers, creating it when
    /// missing; a partial last record is cut off. A file of another dimension is refused.
    pub fn open(path: &Path, model: &str, dim: usize) -> Result<Appender, EmbedError> {
        let io = |e: std::io::Error| EmbedError::io("write", path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let start = match header(&bytes, model) {
            Some((d, _)) if d != dim => {
                return Err(EmbedError::io(
                    "add to",
                    path,
                    format!("its vectors have dimension {d}, the embedder now gives {dim}"),
                ));
            }
            Some((_, start)) => start,
            None => {
                let mut head = MAGIC.to_vec();
                head.extend((dim as u32).to_le_bytes());
                head.extend((model.len() as u32).to_le_bytes());
                head.extend(model.as_bytes());
                file.set_len(0).map_err(io)?;
                file.write_all(&head).map_err(io)?;
                bytes = head;
                bytes.len()
            }
        };
        let whole = start + (bytes.len() - start) / record_len(dim) * record_len(dim);
        file.set_len(whole as u64).map_err(io)?;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(whole as u64))
            .map_err(io)?;
        Ok(Appender {
            file,
            path: path.to_path_buf(),
            dim,
        })
    }

    /// Appends `batch` (key and vector) in one write, synced before returning.
    pub fn append(&mut self, batch: &[(Key, Vec<f32>)]) -> Result<(), EmbedError> {
        let mut out = Vec::with_capacity(batch.len() * record_len(self.dim));
        for (key, v) in batch {
            let (scale, q) = quantise(v);
            out.extend(key);
            out.extend(scale.to_le_bytes());
            out.extend(q.iter().map(|&x| x as u8));
        }
        let io = |e: std::io::Error| EmbedError::io("write", &self.path, e);
        self.file.write_all(&out).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_survive_a_partial_record_and_keep_their_direction() {
        let dir = std::env::temp_dir().join(format!("zhsearch-vec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = path(&dir, "m");
        let _ = std::fs::remove_file(&p);
        let mut a = Appender::open(&p, "m", 3).unwrap();
        a.append(&[(key("m", "甲"), vec![3.0, 4.0, 0.0])]).unwrap();
        drop(a);
        // A killed write leaves half a record.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        drop(f);
        let v = Vectors::read(&p, "m").unwrap();
        assert_eq!((v.len(), v.dim), (1, 3));
        let (scale, q) = v.get(v.row(&key("m", "甲")).unwrap());
        let back: Vec<f32> = q.iter().map(|&x| x as f32 * scale).collect();
        assert!((back[0] - 0.6).abs() < 0.01 && (back[1] - 0.8).abs() < 0.01);
        let mut a = Appender::open(&p, "m", 3).unwrap();
        a.append(&[(key("m", "乙"), vec![0.0, 0.0, 1.0])]).unwrap();
        assert_eq!(Vectors::read(&p, "m").unwrap().len(), 2);
        assert!(Appender::open(&p, "m", 4).is_err());
        assert!(Vectors::read(&p, "other").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
