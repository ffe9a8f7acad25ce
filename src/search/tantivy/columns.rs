//! The tie order's fast-field columns, opened without decoding every block header.
//!
//! Tantivy stores line numbers, and the file ordinals of `source`, with its blockwise-linear
//! codec, whose reader decodes the header of every 512-value block when the column is opened:
//! 78,000 headers on the ×10 bench index, ~300 instructions and 40 bytes of fresh heap each,
//! half of a one-word search's instructions. A search reads a few thousand values, in
//! increasing document order; [`Blockwise`] decodes headers as far as it reads, keeping every
//! eighth header's place for the next lookup.
//!
//! This reads Tantivy's columnar format (tantivy-columnar 0.27, format V2) itself: a column is
//! `[index][values][u32: index length]`; values start with a codec byte; blockwise-linear
//! values are `[stats][bit-packed blocks][headers][u32: headers length]`, a header being two
//! VInts (slope, intercept) and a bit width. Any other codec or cardinality is opened by
//! Tantivy (those open without decoding). The tests compare every value with Tantivy's reader.

use std::io;
use std::sync::{Arc, Mutex};

use tantivy::columnar::column_index::open_column_index;
use tantivy::columnar::{
    Column, ColumnIndex, Dictionary, DynamicColumn, DynamicColumnHandle, Version,
};
use tantivy::directory::OwnedBytes;

/// Values per block of the blockwise-linear codec.
const BLOCK: u32 = 512;
/// Blocks between two kept header places: a lookup decodes at most this many headers.
const STRIDE: u32 = 8;
/// The codec byte of blockwise-linear values.
const BLOCKWISE_LINEAR: u8 = 2;

/// A u64 column: Tantivy's, or its blockwise-linear values read lazily.
#[derive(Clone)]
pub(super) enum U64Column {
    Tantivy(Column<u64>),
    Lazy(ColumnIndex, Blockwise),
}

impl U64Column {
    /// Opens `handle`'s column (a u64 column) as [`U64Column`].
    pub(super) fn open(handle: &DynamicColumnHandle) -> io::Result<U64Column> {
        // `file_slice` is public but hidden in Tantivy's docs: it is the column's bytes.
        if let Some(lazy) = lazy(handle.file_slice().read_bytes()?)? {
            return Ok(lazy);
        }
        let column = handle.open_u64_lenient()?;
        Ok(U64Column::Tantivy(
            column.ok_or_else(|| invalid("not a u64 column"))?,
        ))
    }

    /// The first value of document `doc`, if any (also none where the bytes are damaged).
    pub(super) fn first(&mut self, doc: u32) -> Option<u64> {
        match self {
            U64Column::Tantivy(c) => c.first(doc),
            U64Column::Lazy(index, values) => {
                let row = index.value_row_ids(doc).next()?;
                values.get(row)
            }
        }
    }
}

/// A str column: its dictionary, and the ordinals of each document's strings.
#[derive(Clone)]
pub(super) struct Strings {
    pub(super) dictionary: Arc<Dictionary>,
    pub(super) ords: U64Column,
}

impl Strings {
    /// Opens `handle`'s column (a str column): `[dictionary][ordinals][u32: dictionary length]`.
    pub(super) fn open(handle: &DynamicColumnHandle) -> io::Result<Strings> {
        let bytes = handle.file_slice().read_bytes()?;
        if bytes.len() < 4 {
            return Err(invalid("str column too short"));
        }
        let (body, len) = bytes.rsplit(4);
        let len = u32::from_le_bytes(len.as_slice().try_into().unwrap_or_default()) as usize;
        if len > body.len() {
            return Err(invalid("str column's dictionary past its end"));
        }
        let (dictionary, column) = body.split(len);
        let dictionary = Arc::new(Dictionary::from_bytes(dictionary)?);
        let ords = match lazy(column)? {
            Some(ords) => ords,
            None => match handle.open()? {
                DynamicColumn::Str(c) => U64Column::Tantivy(c.ords().clone()),
                _ => return Err(invalid("not a str column")),
            },
        };
        Ok(Strings { dictionary, ords })
    }
}

/// `bytes` (a u64 column) as a lazily read column; `None` where Tantivy should open it.
fn lazy(bytes: OwnedBytes) -> io::Result<Option<U64Column>> {
    if bytes.len() < 4 {
        return Ok(None);
    }
    let (body, len) = bytes.rsplit(4);
    let len = u32::from_le_bytes(len.as_slice().try_into().unwrap_or_default()) as usize;
    if len == 0 || len > body.len() {
        return Ok(None);
    }
    let (index, values) = body.split(len);
    // Full (0) or optional (1): the format version only matters to multivalued indexes.
    let simple = matches!(index.as_slice().first(), Some(0 | 1));
    if !simple || values.as_slice().first() != Some(&BLOCKWISE_LINEAR) {
        return Ok(None);
    }
    let Some(values) = Blockwise::open(values.slice(1..values.len())) else {
        return Ok(None);
    };
    Ok(Some(U64Column::Lazy(
        open_column_index(index, Version::V2)?,
        values,
    )))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Blockwise-linear values whose block headers are decoded as far as they are read.
#[derive(Clone)]
pub(super) struct Blockwise {
    shared: Arc<Shared>,
    /// The last block read: its number, header, and where the next header starts.
    at: Option<(u32, Header, usize)>,
}

struct Shared {
    min: u64,
    gcd: u64,
    blocks: u32,
    data: OwnedBytes,
    headers: OwnedBytes,
    /// Where the headers of blocks 0, STRIDE, 2·STRIDE … start, and their blocks' data, as
    /// far as read (shared by the searches of a long-lived process).
    marks: Mutex<Vec<(usize, usize)>>,
}

/// A block's line (Tantivy's fixed-point slope and intercept), bit width and data's start.
#[derive(Clone, Copy)]
struct Header {
    slope: u64,
    intercept: u64,
    bits: u8,
    data: usize,
}

impl Blockwise {
    /// Values after their codec byte; `None` when they do not parse.
    fn open(mut bytes: OwnedBytes) -> Option<Blockwise> {
        let mut pos = 0;
        let s = bytes.as_slice();
        let min = vint(s, &mut pos)?;
        let gcd = vint(s, &mut pos)?;
        let _amplitude = vint(s, &mut pos)?;
        let rows = u32::try_from(vint(s, &mut pos)?).ok()?;
        if gcd == 0 || bytes.len() < pos + 4 {
            return None;
        }
        bytes.advance(pos);
        let (body, len) = bytes.rsplit(4);
        let len = u32::from_le_bytes(len.as_slice().try_into().ok()?) as usize;
        let data_len = body.len().checked_sub(len)?;
        let (data, headers) = body.split(data_len);
        let blocks = rows.div_ceil(BLOCK);
        // Each header takes 3 to 21 bytes.
        if headers.len() < 3 * blocks as usize {
            return None;
        }
        Some(Blockwise {
            shared: Arc::new(Shared {
                min,
                gcd,
                blocks,
                data,
                headers,
                marks: Mutex::new(vec![(0, 0)]),
            }),
            at: None,
        })
    }

    /// The value of row `row`; `None` past the end or where the bytes are damaged.
    fn get(&mut self, row: u32) -> Option<u64> {
        let block = row / BLOCK;
        let header = match self.at {
            Some((b, h, _)) if b == block => h,
            // The next few blocks: on from the last header read.
            Some((b, h, next)) if b < block && block - b <= STRIDE => {
                let data = h.data + usize::from(h.bits) * 64;
                self.walk(block, block - b - 1, next, data)?
            }
            _ => {
                let (next, data) = self.shared.mark(block)?;
                self.walk(block, block % STRIDE, next, data)?
            }
        };
        let x = row % BLOCK;
        let line = header
            .intercept
            .wrapping_add((u64::from(x).wrapping_mul(header.slope) >> 32) as i32 as u64);
        let data = self.shared.data.as_slice().get(header.data..)?;
        let diff = bits(header.bits, x, data)?;
        Some(
            self.shared
                .min
                .wrapping_add(self.shared.gcd.wrapping_mul(line.wrapping_add(diff))),
        )
    }

    /// Skips `skip` headers from `pos` (their blocks' data starting at `data`) and decodes
    /// the next, block `block`'s.
    fn walk(&mut self, block: u32, skip: u32, mut pos: usize, mut data: usize) -> Option<Header> {
        let headers = self.shared.headers.as_slice();
        for _ in 0..skip {
            data += usize::from(skip_header(headers, &mut pos)?) * 64;
        }
        let h = header(headers, &mut pos, data)?;
        self.at = Some((block, h, pos));
        Some(h)
    }
}

impl Shared {
    /// Where the headers of the stride holding `block` start, and their data.
    fn mark(&self, block: u32) -> Option<(usize, usize)> {
        if block >= self.blocks {
            return None;
        }
        let want = (block / STRIDE) as usize;
        let mut marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        while marks.len() <= want {
            let (mut pos, data) = *marks.last()?;
            let bits = skip_headers(self.headers.as_slice(), &mut pos, STRIDE)?;
            marks.push((pos, data + bits * 64));
        }
        marks.get(want).copied()
    }
}

/// The header at `pos` (advanced past it), its block's data starting at `data`.
fn header(headers: &[u8], pos: &mut usize, data: usize) -> Option<Header> {
    let slope = vint(headers, pos)?;
    let intercept = vint(headers, pos)?;
    let bits = *headers.get(*pos)?;
    *pos += 1;
    // Tantivy's bit unpacker reads 8 unaligned bytes: widths 57 to 63 are never written.
    (bits <= 56 || bits == 64).then_some(Header {
        slope,
        intercept,
        bits,
        data,
    })
}

/// Skips `count` headers from `pos`: the sum of their bit widths. A header ends a byte after
/// the last byte of its second VInt, and those are the only bytes with the high bit set: 64
/// bytes at a time, these are gathered in a bit mask and the headers walked through it.
fn skip_headers(headers: &[u8], pos: &mut usize, count: u32) -> Option<usize> {
    const STOPS: u64 = 0x8080_8080_8080_8080;
    // Gathers each byte's low bit into the top byte, the first byte's lowest.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let (mut bits, mut left) = (0usize, count);
    while left > 0 {
        let start = *pos;
        let Some(chunk) = headers.get(start..start + 64) else {
            break;
        };
        let mut stops = 0u64;
        for (k, w) in chunk.chunks_exact(8).enumerate() {
            let w = u64::from_le_bytes(w.try_into().ok()?);
            stops |= (((w & STOPS) >> 7).wrapping_mul(GATHER) >> 56) << (8 * k);
        }
        // Where the header being read starts, in the chunk.
        let mut at = 0;
        while left > 0 && at < 64 {
            let rest = stops & (u64::MAX << at);
            let first = rest.trailing_zeros() as usize;
            let second = (rest & rest.wrapping_sub(1)).trailing_zeros() as usize;
            // Its width byte is past the chunk (or its VInts end past it).
            if second >= 63 {
                break;
            }
            // A u64 takes at most ten bytes.
            if first + 1 - at > 10 || second - first > 10 {
                return None;
            }
            bits += usize::from(chunk[second + 1]);
            at = second + 2;
            left -= 1;
        }
        if at == 0 {
            break;
        }
        *pos = start + at;
    }
    for _ in 0..left {
        bits += usize::from(skip_header(headers, pos)?);
    }
    Some(bits)
}

/// Skips the header at `pos`: its bit width. The scan to a block reads every header before
/// it (their widths place its data), so this is the loop that matters: the ends of both VInts
/// are found in 16 bytes at once (their bytes with the high bit set).
fn skip_header(headers: &[u8], pos: &mut usize) -> Option<u8> {
    const STOPS: u64 = 0x8080_8080_8080_8080;
    if let Some(w) = headers.get(*pos..*pos + 16) {
        let word = |i: usize| u64::from_le_bytes(w[i..i + 8].try_into().unwrap_or_default());
        let stops = u128::from(word(0) & STOPS) | (u128::from(word(8) & STOPS) << 64);
        let second = stops & (stops.wrapping_sub(1));
        if second != 0 {
            let first_end = stops.trailing_zeros() as usize / 8 + 1;
            let second_end = second.trailing_zeros() as usize / 8 + 1;
            // A u64 takes at most ten bytes.
            if first_end > 10 || second_end - first_end > 10 {
                return None;
            }
            let bits = *headers.get(*pos + second_end)?;
            *pos += second_end + 1;
            return Some(bits);
        }
    }
    skip_vint(headers, pos)?;
    skip_vint(headers, pos)?;
    let bits = *headers.get(*pos)?;
    *pos += 1;
    Some(bits)
}

/// Skips the VInt at `pos`, eight bytes at a time: its end is the first byte with its high
/// bit set. (A slope or intercept below zero, wrapped, takes ten bytes.)
fn skip_vint(bytes: &[u8], pos: &mut usize) -> Option<()> {
    let mut at = *pos;
    while let Some(word) = bytes.get(at..at + 8) {
        let stops = u64::from_le_bytes(word.try_into().ok()?) & 0x8080_8080_8080_8080;
        if stops != 0 {
            let end = at + stops.trailing_zeros() as usize / 8 + 1;
            // A u64 takes at most ten bytes.
            return (end - *pos <= 10).then(|| *pos = end);
        }
        at += 8;
    }
    vint(bytes, pos).map(drop)
}

/// Tantivy's VInt at `pos` (advanced past it): 7 bits a byte, low first, the last byte's
/// high bit set.
fn vint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b >= 0x80 {
            return Some(value);
        }
    }
    None
}

/// Value `x` of `bits` bits each, packed little-endian from the start of `data`.
fn bits(bits: u8, x: u32, data: &[u8]) -> Option<u64> {
    if bits == 0 {
        return Some(0);
    }
    let at = x as usize * usize::from(bits);
    let (byte, shift) = (at / 8, at % 8);
    let mut word = [0u8; 8];
    let end = (byte + 8).min(data.len());
    let have = data.get(byte..end)?;
    word[..have.len()].copy_from_slice(have);
    let mask = if bits == 64 { !0 } else { (1u64 << bits) - 1 };
    Some((u64::from_le_bytes(word) >> shift) & mask)
}

#[cfg(test)]
mod tests {
    use super::{Strings, U64Column};
    use tantivy::columnar::ColumnType;
    use tantivy::directory::OwnedBytes;
    use tantivy::schema::{FAST, STRING, Schema};
    use tantivy::{Index, IndexWriter, TantivyDocument};

    /// Line numbers of files of `sizes` lines, one file after another, with every `gap`-th
    /// document without a line (as the index's file entries): what the tie order reads.
    fn lines(sizes: &[u64], gap: u64) -> Vec<Option<u64>> {
        let mut out = Vec::new();
        for &n in sizes {
            for l in 1..=n {
                out.push(Some(l));
                if (out.len() as u64).is_multiple_of(gap) {
                    out.push(None);
                }
            }
        }
        out
    }

    /// One segment per list of values (line, file name), read back by Tantivy and by
    /// [`U64Column`] and [`Strings`]: in order, backwards and scattered.
    fn same_as_tantivy(segments: Vec<Vec<(Option<u64>, String)>>) -> usize {
        let mut b = Schema::builder();
        let line = b.add_u64_field("line", FAST);
        let source = b.add_text_field("source", STRING | FAST);
        let index = Index::create_in_ram(b.build());
        let mut w: IndexWriter = index.writer_with_num_threads(1, 50_000_000).unwrap();
        for docs in &segments {
            for (l, s) in docs {
                let mut d = TantivyDocument::default();
                if let Some(l) = l {
                    d.add_u64(line, *l);
                }
                d.add_text(source, s);
                w.add_document(d).unwrap();
            }
            w.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        let mut lazy = 0;
        for reader in searcher.segment_readers() {
            let ff = reader.fast_fields();
            let theirs = ff.u64("line").unwrap();
            let their_strings = ff.str("source").unwrap().unwrap();
            let handle = |t| {
                ff.dynamic_column_handle(
                    if t == ColumnType::U64 {
                        "line"
                    } else {
                        "source"
                    },
                    t,
                )
                .unwrap()
                .unwrap()
            };
            let mut ours = U64Column::open(&handle(ColumnType::U64)).unwrap();
            let mut strings = Strings::open(&handle(ColumnType::Str)).unwrap();
            lazy += matches!(ours, U64Column::Lazy(..)) as usize;
            lazy += matches!(strings.ords, U64Column::Lazy(..)) as usize;
            let n = reader.max_doc();
            let scattered = (0..n).map(|i| (i as u64 * 7919 % n as u64) as u32);
            for doc in (0..n).chain((0..n).rev()).chain(scattered) {
                assert_eq!(ours.first(doc), theirs.first(doc), "line of {doc}");
                let ord = their_strings.term_ords(doc).next();
                assert_eq!(strings.ords.first(doc), ord, "ordinal of {doc}");
            }
            let mut ours_fresh = U64Column::open(&handle(ColumnType::U64)).unwrap();
            assert_eq!(ours_fresh.first(n - 1), theirs.first(n - 1));
            let mut name = Vec::new();
            for ord in 0..their_strings.num_terms() as u64 {
                let mut theirs = String::new();
                their_strings.ord_to_str(ord, &mut theirs).unwrap();
                assert!(strings.dictionary.ord_to_term(ord, &mut name).unwrap());
                assert_eq!(name, theirs.as_bytes());
            }
        }
        lazy
    }

    /// Damaged bytes (flipped, cut short) give no value or a wrong one, never a panic.
    #[test]
    fn damaged_columns_do_not_panic() {
        let mut b = Schema::builder();
        let line = b.add_u64_field("line", FAST);
        let index = Index::create_in_ram(b.build());
        let mut w: IndexWriter = index.writer_with_num_threads(1, 50_000_000).unwrap();
        for l in lines(&[700, 3, 5000, 40, 12_000], 1000)
            .into_iter()
            .flatten()
        {
            let mut d = TantivyDocument::default();
            d.add_u64(line, l);
            w.add_document(d).unwrap();
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let reader = &searcher.segment_readers()[0];
        let ff = reader.fast_fields();
        let handle = ff
            .dynamic_column_handle("line", ColumnType::U64)
            .unwrap()
            .unwrap();
        let bytes = handle
            .file_slice()
            .read_bytes()
            .unwrap()
            .as_slice()
            .to_vec();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut read = 0;
        for round in 0..300 {
            let mut damaged = bytes.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = seed as usize % damaged.len();
            if round % 3 == 0 {
                damaged.truncate(at);
            } else {
                damaged[at] ^= (seed >> 32) as u8 | 1;
            }
            // Bytes that do not parse leave the column to Tantivy (an error or its reader).
            if let Ok(Some(mut column)) = super::lazy(OwnedBytes::new(damaged)) {
                read += 1;
                for doc in (0..reader.max_doc()).step_by(97) {
                    let _ = column.first(doc);
                }
            }
        }
        // Most flips land in the values and their headers, which parse and are read.
        assert!(read > 100, "{read}");
    }

    #[test]
    fn reads_every_value_as_tantivy_does() {
        // Files of a few lines to thousands, names in and out of order; a descending run.
        let sizes: Vec<u64> = (0..400).map(|i| [3, 40, 1, 700, 12, 5000][i % 6]).collect();
        let named = |lines: Vec<Option<u64>>, files: usize| {
            lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| (l, format!("詩/{:04}.md", (i * 31 / 97) % files)))
                .collect::<Vec<_>>()
        };
        let descending: Vec<Option<u64>> = (0..30_000u64).rev().map(Some).collect();
        let lazy = same_as_tantivy(vec![
            named(lines(&sizes, 1000), 300),
            named(lines(&[100_000], 7), 2),
            named(descending, 5000),
            named(lines(&[10], 3), 1),
        ]);
        // The lazy reader is what was compared, mostly (blockwise-linear chosen by Tantivy).
        assert!(lazy >= 4, "{lazy}");
    }
}
