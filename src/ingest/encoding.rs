//! Turning a file's bytes into text: UTF-8 (with or without BOM), UTF-16 with a BOM, and the
//! legacy Chinese encodings (GB18030/GBK, Big5) recognised by chardetng and decoded by
//! encoding_rs. A file that cannot be decoded with confidence is refused with the reason.

use std::io::{self, Read, Seek, SeekFrom};

use encoding_rs::{BIG5, Decoder, DecoderResult, Encoding, GB18030, GBK, UTF_8};

/// Characters looked at to tell a decoded text from a binary decoded by chance.
const SNIFF: usize = 8192;
/// Bytes read at a time: a file is streamed, never held whole while indexing.
const CHUNK: usize = 256 * 1024;
/// Up to this size chardetng has too little text to go on: a file it takes for an encoding
/// zhsearch does not read is tried as GB18030, then Big5.
const SHORT: u64 = 4096;

/// Decoded text and the name of the encoding it was read with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text.
    pub text: String,
    /// The encoding's name.
    pub encoding: &'static str,
}

/// Why a file is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable(pub String);

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Undecodable {}

/// What one pass over a file's bytes tells: its content hash and what its encoding may be.
pub struct Sniffed {
    /// blake3 of the content, hex.
    pub hash: String,
    /// Bytes read.
    pub len: u64,
    bom: Option<(&'static Encoding, usize)>,
    /// A NUL byte anywhere (outside a UTF-16 file).
    nul: bool,
    utf8: bool,
}

/// How to read a file: its encoding and the byte order mark to skip.
#[derive(Debug, Clone, Copy)]
pub struct Choice {
    encoding: &'static Encoding,
    skip: usize,
    /// Bytes of the file.
    len: u64,
}

impl Choice {
    /// The encoding as reported.
    pub fn name(&self) -> &'static str {
        display_name(self.encoding)
    }

    /// The text of `r` in pieces of about `CHUNK` bytes. The bytes are hashed as they are
    /// read (the byte order mark too), so that the hash recorded for a file is that of the text
    /// indexed even when the file changed after it was first read.
    pub fn chunks<R: Read + Seek>(&self, mut r: R) -> io::Result<Chunks<R>> {
        let mut hasher = blake3::Hasher::new();
        if self.skip > 0 {
            r.seek(SeekFrom::Start(0))?;
            let mut bom = [0u8; 4];
            let n = read_full(&mut r, &mut bom[..self.skip.min(4)])?;
            hasher.update(&bom[..n]);
        }
        r.seek(SeekFrom::Start(self.skip as u64))?;
        Ok(Chunks {
            r,
            decoder: self.encoding.new_decoder_without_bom_handling(),
            buf: vec![0; buffer_size(self.len)],
            done: false,
            eof: false,
            hasher,
        })
    }
}

/// Fills `buf` as far as the reader allows; the number of bytes read (0 at the end).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A read buffer for a file of `len` bytes: small files are many, and read in one go.
fn buffer_size(len: u64) -> usize {
    (len as usize).saturating_add(1).clamp(4096, CHUNK)
}

/// Reads `r` (of about `size_hint` bytes) once: hash, byte order mark, NUL bytes, UTF-8
/// validity.
pub fn sniff(r: &mut impl Read, size_hint: u64) -> io::Result<Sniffed> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; buffer_size(size_hint)];
    let (mut len, mut nul, mut utf8) = (0u64, false, true);
    let mut bom = None;
    // An incomplete UTF-8 sequence at the end of the last chunk.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = read_full(r, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if len == 0 {
            bom = Encoding::for_bom(chunk);
        }
        hasher.update(chunk);
        len += n as u64;
        nul |= chunk.contains(&0);
        if utf8 {
            carry.extend_from_slice(chunk);
            match std::str::from_utf8(&carry) {
                Ok(_) => carry.clear(),
                Err(e) if e.error_len().is_none() => {
                    carry.drain(..e.valid_up_to());
                }
                Err(_) => utf8 = false,
            }
        }
    }
    Ok(Sniffed {
        hash: hasher.finalize().to_hex().to_string(),
        len,
        bom,
        nul,
        utf8: utf8 && carry.is_empty(),
    })
}

/// Decides how to read what [`sniff`] saw (reading `r` again when the encoding must be
/// recognised or checked): a byte order mark, else NUL bytes mean binary, else UTF-8, else
/// the legacy encoding chardetng recognises, if zhsearch reads it and it decodes cleanly.
pub fn choose<R: Read + Seek>(r: &mut R, s: &Sniffed) -> io::Result<Result<Choice, Undecodable>> {
    if let Some((encoding, skip)) = s.bom {
        let choice = Choice {
            encoding,
            skip,
            len: s.len,
        };
        return Ok(match validate(r, choice)? {
            Some(_) => Ok(choice),
            None => Err(Undecodable(format!(
                "it starts with a {} byte order mark but is not valid {}; re-save it in that encoding or as UTF-8",
                encoding.name(),
                encoding.name()
            ))),
        });
    }
    if s.nul {
        return Ok(Err(Undecodable(
            "it looks binary (it has NUL bytes); only text files are indexed".into(),
        )));
    }
    if s.utf8 {
        return Ok(Ok(Choice {
            encoding: UTF_8,
            skip: 0,
            len: s.len,
        }));
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    r.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; buffer_size(s.len)];
    loop {
        let n = read_full(r, &mut buf)?;
        detector.feed(&buf[..n], n == 0);
        if n == 0 {
            break;
        }
    }
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    let supported = [GBK, GB18030, BIG5].contains(&guess);
    let candidates: &[&'static Encoding] = if supported {
        &[guess]
    } else if s.len <= SHORT {
        // Too short for chardetng to tell: the encodings zhsearch reads, in this order.
        &[GBK, BIG5]
    } else {
        &[]
    };
    for &encoding in candidates {
        let choice = Choice {
            encoding,
            skip: 0,
            len: s.len,
        };
        if validate(r, choice)? == Some(true) {
            return Ok(Ok(choice));
        }
    }
    Ok(Err(Undecodable(if supported {
        format!(
            "it is neither valid UTF-8 nor valid {}: convert it to UTF-8",
            display_name(guess)
        )
    } else {
        format!(
            "its encoding cannot be recognised with confidence (it is not UTF-8, UTF-16, GB18030 or Big5; the best guess is {}): convert it to UTF-8",
            guess.name()
        )
    })))
}

/// Whether `r` decodes cleanly as `choice` (`None` if not), and whether its start looks like
/// text rather than a binary decoded by chance.
fn validate(r: &mut (impl Read + Seek), choice: Choice) -> io::Result<Option<bool>> {
    let mut chunks = choice.chunks(&mut *r)?;
    let mut text = String::new();
    let mut looks = None;
    loop {
        match chunks.next_into(&mut text)? {
            Err(_) => return Ok(None),
            Ok(more) => {
                let looks = *looks.get_or_insert_with(|| looks_like_text(&text));
                if !more {
                    return Ok(Some(looks));
                }
            }
        }
    }
}

/// A file's text, decoded piece by piece.
pub struct Chunks<R> {
    r: R,
    decoder: Decoder,
    buf: Vec<u8>,
    done: bool,
    /// Whether every byte has been read.
    eof: bool,
    hasher: blake3::Hasher,
}

impl<R: Read> Chunks<R> {
    /// Replaces `out` with the next piece of text; `Ok(false)` at the end (then `out` may
    /// still hold the last piece). A malformed sequence is `Err(Undecodable)`.
    pub fn next_into(&mut self, out: &mut String) -> io::Result<Result<bool, Undecodable>> {
        out.clear();
        if self.done {
            return Ok(Ok(false));
        }
        let n = read_full(&mut self.r, &mut self.buf)?;
        self.hasher.update(&self.buf[..n]);
        let last = n < self.buf.len();
        self.eof = last;
        let mut src = &self.buf[..n];
        loop {
            let room = self
                .decoder
                .max_utf8_buffer_length_without_replacement(src.len())
                .unwrap_or(src.len() * 3 + 16);
            out.reserve(room);
            let (result, read) = self
                .decoder
                .decode_to_string_without_replacement(src, out, last);
            src = &src[read..];
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => continue,
                DecoderResult::Malformed(..) => {
                    self.done = true;
                    return Ok(Err(Undecodable(format!(
                        "it is not valid {} throughout: convert it to UTF-8",
                        display_name(self.decoder.encoding())
                    ))));
                }
            }
        }
        self.done = last;
        Ok(Ok(!last))
    }

    /// The hash (as [`sniff`] gives it) of every byte of the file: those read so far, then the
    /// rest, read now.
    pub fn hash(mut self) -> io::Result<String> {
        if !self.eof {
            loop {
                let n = read_full(&mut self.r, &mut self.buf)?;
                self.hasher.update(&self.buf[..n]);
                if n < self.buf.len() {
                    break;
                }
            }
        }
        Ok(self.hasher.finalize().to_hex().to_string())
    }
}

/// Decodes a whole file held in memory, by the same rules as a streamed one.
pub fn decode(bytes: &[u8]) -> Result<Decoded, Undecodable> {
    let mut cursor = io::Cursor::new(bytes);
    let in_memory = "reading memory cannot fail";
    let sniffed = sniff(&mut cursor, bytes.len() as u64).expect(in_memory);
    let choice = choose(&mut cursor, &sniffed).expect(in_memory)?;
    let body = &bytes[choice.skip..];
    match choice
        .encoding
        .decode_without_bom_handling_and_without_replacement(body)
    {
        Some(text) => Ok(Decoded {
            text: text.into_owned(),
            encoding: choice.name(),
        }),
        None => Err(Undecodable(format!(
            "it is not valid {}: convert it to UTF-8",
            choice.name()
        ))),
    }
}

/// Few control characters besides tab and line ends: a decoded text, not a binary by chance.
fn looks_like_text(text: &str) -> bool {
    let control = text
        .chars()
        .take(SNIFF)
        .filter(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
        .count();
    control * 100 <= text.chars().take(SNIFF).count()
}

/// The encoding as reported: encoding_rs decodes GBK with the GB18030 decoder (its superset).
fn display_name(enc: &'static Encoding) -> &'static str {
    if enc == GBK {
        GB18030.name()
    } else {
        enc.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "阿里雲在2009年成立，王堅帶領團隊研發飛天系統，突破了5k瓶頸。這是一段足夠長的中文文字，讓編碼偵測有所依據。";

    fn encoded(enc: &'static Encoding, s: &str) -> Vec<u8> {
        enc.encode(s).0.into_owned()
    }

    /// The hash a streamed read gives is that of the bytes it read, BOM included, read to the
    /// end even when decoding stopped: a file that changed after it was sniffed is recorded as
    /// what was indexed, not as what was sniffed.
    #[test]
    fn chunks_hash_what_they_read() {
        let hash = |b: &[u8]| blake3::hash(b).to_hex().to_string();
        let sniffed_as = |b: &[u8]| sniff(&mut io::Cursor::new(b), b.len() as u64).unwrap();
        let long = "甲".repeat(CHUNK);
        let cases: [(Vec<u8>, Vec<u8>); 3] = [
            (
                TEXT.as_bytes().to_vec(),
                TEXT.replace('。', "！").into_bytes(),
            ),
            (
                [b"\xEF\xBB\xBF".as_slice(), TEXT.as_bytes()].concat(),
                [
                    b"\xEF\xBB\xBF".as_slice(),
                    TEXT.replace('。', "！").as_bytes(),
                ]
                .concat(),
            ),
            (
                long.clone().into_bytes(),
                long.replace('甲', "乙").into_bytes(),
            ),
        ];
        for (first, then) in cases {
            let sniffed = sniffed_as(&first);
            let mut r = io::Cursor::new(then.clone());
            let choice = choose(&mut r, &sniffed).unwrap().unwrap();
            let mut chunks = choice.chunks(r).unwrap();
            let mut out = String::new();
            while chunks.next_into(&mut out).unwrap().unwrap() {}
            assert_ne!(sniffed.hash, hash(&then));
            assert_eq!(chunks.hash().unwrap(), hash(&then));
        }
        // Decoding stopped at a malformed byte: the rest is read for the hash all the same.
        let mut bad = long.clone().into_bytes();
        bad[10] = 0xFF;
        let sniffed = sniffed_as(long.as_bytes());
        let mut r = io::Cursor::new(bad.clone());
        let choice = choose(&mut r, &sniffed).unwrap().unwrap();
        let mut chunks = choice.chunks(r).unwrap();
        let mut out = String::new();
        assert!(chunks.next_into(&mut out).unwrap().is_err());
        assert_eq!(chunks.hash().unwrap(), hash(&bad));
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode(TEXT.as_bytes()).unwrap().encoding, "UTF-8");
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(TEXT.as_bytes());
        let d = decode(&bom).unwrap();
        assert_eq!(d.text, TEXT);
    }

    #[test]
    fn utf16_with_bom() {
        for (bom, le) in [([0xFFu8, 0xFE], true), ([0xFE, 0xFF], false)] {
            let mut bytes = bom.to_vec();
            for u in TEXT.encode_utf16() {
                bytes.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
            }
            let d = decode(&bytes).unwrap();
            assert_eq!(d.text, TEXT);
            assert_eq!(d.encoding, if le { "UTF-16LE" } else { "UTF-16BE" });
        }
    }

    #[test]
    fn legacy_chinese_encodings() {
        let simplified = "阿里云在2009年成立，王坚带领团队研发飞天系统，突破了5k瓶颈。这是一段足够长的中文文字，让编码侦测有所依据。";
        let d = decode(&encoded(GBK, simplified)).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), (simplified, "gb18030"));
        let d = decode(&encoded(BIG5, TEXT)).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), (TEXT, "Big5"));
        // 𠀀 is outside GBK: GB18030 writes it in four bytes.
        let beyond = format!("{simplified}𠀀");
        let d = decode(&encoded(GB18030, &beyond)).unwrap();
        assert_eq!(d.text, beyond);
    }

    #[test]
    fn binary_and_undecodable_are_refused() {
        assert!(
            decode(b"\x7fELF\x02\x01\x01\x00\x00\x00")
                .unwrap_err()
                .0
                .contains("binary")
        );
        let noise: Vec<u8> = (0..2000u32)
            .map(|i| (i * 7919 % 251) as u8 | 0x80)
            .collect();
        assert!(decode(&noise).is_err());
        let bad_bom = [0xEF, 0xBB, 0xBF, 0xFF, 0xFF];
        assert!(decode(&bad_bom).unwrap_err().0.contains("byte order mark"));
    }

    /// The text of `bytes` as streamed in chunks, and the encoding chosen.
    fn streamed(bytes: &[u8]) -> Result<(String, &'static str), Undecodable> {
        let mut cursor = io::Cursor::new(bytes);
        let sniffed = sniff(&mut cursor, bytes.len() as u64 / 3).unwrap();
        assert_eq!(sniffed.hash, blake3::hash(bytes).to_hex().to_string());
        let choice = choose(&mut cursor, &sniffed).unwrap()?;
        let mut chunks = choice.chunks(cursor).unwrap();
        let (mut all, mut piece) = (String::new(), String::new());
        while chunks.next_into(&mut piece).unwrap()? {
            all.push_str(&piece);
        }
        all.push_str(&piece);
        Ok((all, choice.name()))
    }

    #[test]
    fn streamed_text_is_the_whole_text_across_chunk_boundaries() {
        // Odd lengths put multi-byte characters across every chunk boundary.
        let text = format!("x{}", "阿里雲，5k瓶頸。".repeat(40_000));
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let simplified = format!("x{}", "阿里云，5k瓶颈。".repeat(40_000));
        for (bytes, want, name) in [
            (text.as_bytes().to_vec(), &text, "UTF-8"),
            (utf16, &text, "UTF-16LE"),
            (encoded(GBK, &simplified), &simplified, "gb18030"),
            (encoded(BIG5, &text), &text, "Big5"),
        ] {
            assert!(bytes.len() > 2 * CHUNK);
            assert_eq!(streamed(&bytes).unwrap(), (want.clone(), name));
            assert_eq!(decode(&bytes).unwrap().text, *want);
        }
        // Valid UTF-8 up to a bad byte past the first chunk.
        let mut bad = text.as_bytes().to_vec();
        bad.extend_from_slice(b"\xFF");
        assert!(streamed(&bad).is_err());
    }

    #[test]
    fn short_files_chardetng_cannot_tell_are_read_as_chinese() {
        for (enc, s) in [
            (GBK, "你好吗"),
            (GBK, "数据库"),
            (GBK, "计算机"),
            (BIG5, "開發者"),
        ] {
            let d = decode(&encoded(enc, s)).unwrap();
            assert_eq!(d.text, s);
        }
        // A NUL byte past the first 8 KB makes a file binary too.
        let mut late = TEXT.repeat(100).into_bytes();
        late.push(0);
        assert!(decode(&late).unwrap_err().0.contains("binary"));
    }
}
