//! The file list as [`super::manifest::write()`] writes it, read without serde and without
//! a string per field: every search reads the list (its hashes stamp the hits, its sizes and
//! times tell whether the index is fresh), and on a corpus of 3,130 files serde_json took
//! 10 M instructions, this reader's first form (a `String` per field) a fifth of a search.
//! [`FileList::read`] checks the whole list once and keeps its text with where each entry
//! starts; an entry is read again from there when it is asked for, and the full
//! [`FileState`]s are made only for the callers that want all of them. Anything this reader
//! does not expect (an escape in a string, another order of fields, spaces, a number out of
//! range, invalid JSON) makes it give up, and serde_json reads the list instead, with its
//! errors.

use std::sync::OnceLock;

use super::manifest::{Content, FileState};
use crate::ingest::corpus::SourceFile;

/// The files of a commit, sorted by source.
#[derive(Debug, Default)]
pub struct FileList {
    /// The list as written (empty when it was given as [`FileState`]s).
    text: String,
    /// Where each entry of `text` starts.
    starts: Vec<u32>,
    /// Every entry as a [`FileState`], made at the first call of [`FileList::all`].
    all: OnceLock<Vec<FileState>>,
}

impl From<Vec<FileState>> for FileList {
    fn from(files: Vec<FileState>) -> FileList {
        FileList {
            all: OnceLock::from(files),
            ..FileList::default()
        }
    }
}

impl PartialEq for FileList {
    fn eq(&self, other: &FileList) -> bool {
        self.all() == other.all()
    }
}

impl FileList {
    /// The list in `bytes`, or `None` when it is not in the exact form written.
    pub(super) fn read(bytes: Vec<u8>) -> Result<FileList, Vec<u8>> {
        // Checked once: checked string by string, the calls cost a sixth of the reading.
        let text = String::from_utf8(bytes).map_err(|e| e.into_bytes())?;
        match entry_starts(&text) {
            Some(starts) => Ok(FileList {
                text,
                starts,
                all: OnceLock::new(),
            }),
            None => Err(text.into_bytes()),
        }
    }

    /// How many files.
    pub fn len(&self) -> usize {
        match self.all.get() {
            Some(all) => all.len(),
            None => self.starts.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every file.
    pub fn all(&self) -> &[FileState] {
        self.all.get_or_init(|| {
            let entries = (0..self.starts.len()).filter_map(|i| self.entry(i));
            entries.map(|e| e.state()).collect()
        })
    }

    /// The hash `source` was indexed or skipped with, as [`FileState::hash`] gives it.
    pub fn hash_of(&self, source: &str) -> Option<&str> {
        if let Some(all) = self.all.get() {
            let at = all.binary_search_by(|f| f.source.as_str().cmp(source));
            return at.ok().and_then(|i| all[i].hash());
        }
        let at = self.starts.binary_search_by(|&s| {
            let source_at = Cursor::at(&self.text, s).source();
            source_at.unwrap_or_default().cmp(source)
        });
        let entry = self.entry(at.ok()?)?;
        (entry.skipped.is_none() || !entry.hash.is_empty()).then_some(entry.hash)
    }

    /// Whether `listed` (sorted by source) are exactly these files, each with the size and
    /// time recorded: an update would then keep every file as it is.
    pub fn unchanged(&self, listed: &[SourceFile]) -> bool {
        if listed.len() != self.len() {
            return false;
        }
        if let Some(all) = self.all.get() {
            return all.iter().zip(listed).all(|(was, now)| {
                was.source == now.source && was.size == now.size && was.mtime_ns == now.mtime_ns
            });
        }
        self.starts.iter().zip(listed).all(|(&start, now)| {
            // The rest of the entry was checked when the list was read.
            let was = Cursor::at(&self.text, start).head();
            was.is_some_and(|(source, size, mtime_ns)| {
                source == now.source && size == now.size && mtime_ns == now.mtime_ns
            })
        })
    }

    /// Entry `i` of `text` (checked when the list was read).
    fn entry(&self, i: usize) -> Option<Entry<'_>> {
        Cursor::at(&self.text, *self.starts.get(i)?).file()
    }
}

/// Where each entry of `text` starts, when all of `text` is a list as written.
fn entry_starts(text: &str) -> Option<Vec<u32>> {
    // Offsets are kept as u32: a list of 4 GB is read by serde.
    u32::try_from(text.len()).ok()?;
    // Checked once too, and then strings end at the next quote.
    if escapes(text.as_bytes()) {
        return None;
    }
    let mut c = Cursor { text, i: 0 };
    c.lit(b"[")?;
    let mut starts = Vec::new();
    if !c.eat(b"]") {
        loop {
            starts.push(c.i as u32);
            c.file()?;
            if c.eat(b",") {
                continue;
            }
            c.lit(b"]")?;
            break;
        }
    }
    c.at_end().then_some(starts)
}

/// Whether `bytes` hold a backslash or a control character (both searches without an early
/// exit, which the compiler makes many bytes a step).
fn escapes(bytes: &[u8]) -> bool {
    memchr::memchr(b'\\', bytes).is_some() || bytes.iter().copied().min().is_some_and(|b| b < 0x20)
}

/// One entry of a list, as written.
struct Entry<'a> {
    source: &'a str,
    size: u64,
    mtime_ns: u64,
    hash: &'a str,
    encoding: Option<&'a str>,
    skipped: Option<&'a str>,
}

impl Entry<'_> {
    /// As `From<StoredFile> for FileState`: an empty hash with a reason means unreadable.
    fn state(&self) -> FileState {
        let hash = self.hash.to_string();
        let content = match (self.skipped, hash.is_empty()) {
            (None, _) => Content::Indexed {
                hash,
                encoding: self.encoding.map(str::to_string),
            },
            (Some(why), true) => Content::Unreadable { why: why.into() },
            (Some(why), false) => Content::Skipped {
                hash,
                why: why.into(),
            },
        };
        FileState {
            source: self.source.to_string(),
            size: self.size,
            mtime_ns: self.mtime_ns,
            content,
        }
    }
}

struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn at(text: &'a str, start: u32) -> Cursor<'a> {
        Cursor {
            text,
            i: start as usize,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// One object: the fields in the order `StoredFile` declares them.
    fn file(&mut self) -> Option<Entry<'a>> {
        let (source, size, mtime_ns) = self.head()?;
        self.lit(b",\"hash\":")?;
        let hash = self.string()?;
        let encoding = match self.eat(b",\"encoding\":") {
            true => Some(self.string()?),
            false => None,
        };
        let skipped = match self.eat(b",\"skipped\":") {
            true => Some(self.string()?),
            false => None,
        };
        self.lit(b"}")?;
        Some(Entry {
            source,
            size,
            mtime_ns,
            hash,
            encoding,
            skipped,
        })
    }

    /// The start of an object, up to its source.
    fn source(&mut self) -> Option<&'a str> {
        self.lit(b"{\"source\":")?;
        self.string()
    }

    /// The start of an object, up to its time: source, size, time.
    fn head(&mut self) -> Option<(&'a str, u64, u64)> {
        let source = self.source()?;
        self.lit(b",\"size\":")?;
        let size = self.number()?;
        self.lit(b",\"mtime_ns\":")?;
        Some((source, size, self.number()?))
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        let found = self.bytes()[self.i..].starts_with(lit);
        if found {
            self.i += lit.len();
        }
        found
    }

    fn lit(&mut self, lit: &[u8]) -> Option<()> {
        self.eat(lit).then_some(())
    }

    fn at_end(&self) -> bool {
        self.i == self.bytes().len()
    }

    /// A string (the list holds no escapes or control characters).
    fn string(&mut self) -> Option<&'a str> {
        self.lit(b"\"")?;
        let len = memchr::memchr(b'"', &self.bytes()[self.i..])?;
        // Between two quotes (ASCII): on character boundaries.
        let s = self.text.get(self.i..self.i + len)?;
        self.i += len + 1;
        Some(s)
    }

    /// An unsigned integer as JSON writes it: digits, no leading zero, within u64.
    fn number(&mut self) -> Option<u64> {
        let rest = &self.bytes()[self.i..];
        let (mut n, mut len) = (0u64, 0);
        while let Some(d) = rest
            .get(len)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|&d| d <= 9)
        {
            // Nineteen digits always fit in a u64; checked beyond.
            n = match len < 19 {
                true => n * 10 + u64::from(d),
                false => n.checked_mul(10)?.checked_add(u64::from(d))?,
            };
            len += 1;
        }
        if len == 0 || (len > 1 && rest[0] == b'0') {
            return None;
        }
        self.i += len;
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn read(bytes: &[u8]) -> Option<Vec<FileState>> {
        FileList::read(bytes.to_vec())
            .ok()
            .map(|list| list.all().to_vec())
    }

    fn file(source: &str, content: Content) -> FileState {
        FileState {
            source: source.into(),
            size: 217_546,
            mtime_ns: u64::MAX,
            content,
        }
    }

    fn lists() -> Vec<Vec<FileState>> {
        let indexed = |hash: &str, encoding: Option<&str>| Content::Indexed {
            hash: hash.into(),
            encoding: encoding.map(Into::into),
        };
        vec![
            vec![],
            vec![file("a.md", indexed("5b69", Some("UTF-8")))],
            vec![
                file("詩/唐.md", indexed("af6c", Some("GB18030"))),
                file("old.txt", indexed("dc5d", None)),
                file(
                    "bin.txt",
                    Content::Skipped {
                        hash: "00".into(),
                        why: "not text".into(),
                    },
                ),
                file(
                    "gone.txt",
                    Content::Unreadable {
                        why: "permission denied".into(),
                    },
                ),
                FileState {
                    size: 0,
                    mtime_ns: 0,
                    ..file("z.md", indexed("", Some("UTF-8")))
                },
            ],
        ]
    }

    #[test]
    fn reads_what_serde_writes_as_serde_reads_it() {
        for files in lists() {
            let text = serde_json::to_string(&files).unwrap();
            let serde: Vec<FileState> = serde_json::from_str(&text).unwrap();
            assert_eq!(read(text.as_bytes()), Some(serde), "{text}");
        }
    }

    #[test]
    fn gives_up_on_anything_else() {
        let quoted = vec![file(
            "say \"hi\".md",
            Content::Indexed {
                hash: "1".into(),
                encoding: None,
            },
        )];
        let escaped = serde_json::to_string(&quoted).unwrap();
        let written = serde_json::to_string(&lists()[2]).unwrap();
        for text in [
            escaped.as_str(),
            "",
            "[",
            "[] ",
            " []",
            "{}",
            "[{}]",
            &written[..written.len() - 1],
            &written.replace("\"size\":217546", "\"size\":0217546"),
            &written.replace("\"size\":217546", "\"size\":-1"),
            &written.replace("\"size\":217546", "\"size\":99999999999999999999"),
            &written.replace("\"old.txt\"", "\"old\tb.txt\""),
            &written.replace(",\"size\"", ", \"size\""),
            &format!("{written}[]"),
        ] {
            assert_eq!(read(text.as_bytes()), None, "{text}");
        }
        assert_eq!(read(b"[{\"source\":\"\xff\"}]"), None);
    }

    #[test]
    fn numbers_as_json_writes_them() {
        let number = |s: &str| Cursor { text: s, i: 0 }.number();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut cases: Vec<u64> = vec![0, 7, 10, 99_999_999, 100_000_000, u64::MAX, u64::MAX - 1];
        for _ in 0..20_000 {
            // xorshift, and every length of number from 1 to 20 digits.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x >> (x % 64));
        }
        for n in cases {
            for end in ["", ",", "}"] {
                assert_eq!(number(&format!("{n}{end}")), Some(n), "{n}{end}");
            }
        }
        for bad in [
            "",
            "-1",
            "01",
            "00",
            "18446744073709551616",
            "99999999999999999999",
            "x1",
        ] {
            assert_eq!(number(bad), None, "{bad}");
        }
        assert_eq!(number("100000000000000000000"), None);
    }

    #[test]
    fn lookups_agree_with_the_full_list() {
        for mut files in lists() {
            // As written: sorted by source.
            files.sort_by(|a, b| a.source.cmp(&b.source));
            let text = serde_json::to_string(&files).unwrap();
            let lazy = FileList::read(text.clone().into_bytes()).unwrap();
            let full = FileList::from(files.clone());
            assert_eq!(lazy.len(), files.len());
            for f in &files {
                assert_eq!(lazy.hash_of(&f.source), f.hash(), "{}", f.source);
                assert_eq!(full.hash_of(&f.source), f.hash(), "{}", f.source);
            }
            for absent in ["", "a", "zz.md", "詩"] {
                assert_eq!(lazy.hash_of(absent), None);
            }
        }
    }

    #[test]
    fn unchanged_only_for_the_same_files_sizes_and_times() {
        let files = lists().pop().unwrap();
        let mut sorted = files.clone();
        sorted.sort_by(|a, b| a.source.cmp(&b.source));
        let text = serde_json::to_string(&sorted).unwrap();
        let listed: Vec<SourceFile> = sorted
            .iter()
            .map(|f| SourceFile {
                source: f.source.clone(),
                path: PathBuf::from(&f.source),
                size: f.size,
                mtime_ns: f.mtime_ns,
                unusable: None,
            })
            .collect();
        for list in [
            FileList::read(text.clone().into_bytes()).unwrap(),
            sorted.into(),
        ] {
            assert!(list.unchanged(&listed));
            assert!(!list.unchanged(&listed[1..]));
            for field in 0..3 {
                let mut changed = listed.clone();
                match field {
                    0 => changed[2].size += 1,
                    1 => changed[2].mtime_ns -= 1,
                    _ => changed[2].source.push('x'),
                }
                assert!(!list.unchanged(&changed), "{field}");
            }
        }
    }
}
