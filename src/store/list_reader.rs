//! Reading the file list exactly as [`super::manifest::write()`] writes it, without serde:
//! every search reads the list (its hashes stamp the hits), and serde_json took about 19
//! instructions a byte, 10 M for the 3,130 files of a 739 MB corpus. Anything this reader does
//! not expect (an escape in a string, another order of fields, spaces, a number out of range,
//! invalid JSON) makes it give up, and serde_json reads the list instead, with its errors.

use super::manifest::{Content, FileState};

/// The files of a list as written, or `None` when it is not in the exact form written.
pub(super) fn read(bytes: &[u8]) -> Option<Vec<FileState>> {
    // Checked once: checked string by string, the calls cost a sixth of the reading.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut c = Cursor { text, i: 0 };
    c.lit(b"[")?;
    let mut files = Vec::new();
    if c.eat(b"]") {
        return c.at_end().then_some(files);
    }
    loop {
        files.push(c.file()?);
        if c.eat(b",") {
            continue;
        }
        c.lit(b"]")?;
        return c.at_end().then_some(files);
    }
}

struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }
}

impl Cursor<'_> {
    /// One object: the fields in the order `StoredFile` declares them.
    fn file(&mut self) -> Option<FileState> {
        self.lit(b"{\"source\":")?;
        let source = self.string()?;
        self.lit(b",\"size\":")?;
        let size = self.number()?;
        self.lit(b",\"mtime_ns\":")?;
        let mtime_ns = self.number()?;
        self.lit(b",\"hash\":")?;
        let hash = self.string()?;
        let encoding = if self.eat(b",\"encoding\":") {
            Some(self.string()?)
        } else {
            None
        };
        let skipped = if self.eat(b",\"skipped\":") {
            Some(self.string()?)
        } else {
            None
        };
        self.lit(b"}")?;
        // As `From<StoredFile> for FileState`: an empty hash means unreadable.
        let content = match (skipped, hash.is_empty()) {
            (None, _) => Content::Indexed { hash, encoding },
            (Some(why), true) => Content::Unreadable { why },
            (Some(why), false) => Content::Skipped { hash, why },
        };
        Some(FileState {
            source,
            size,
            mtime_ns,
            content,
        })
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

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<String> {
        self.lit(b"\"")?;
        let rest = &self.bytes()[self.i..];
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        // No early exit: the compiler checks many bytes at a time.
        let control = rest[..len].iter().fold(false, |seen, &b| seen | (b < 0x20));
        if rest[len] != b'"' || control {
            return None;
        }
        // Between two quotes (ASCII): on character boundaries.
        let s = self.text.get(self.i..self.i + len)?.to_string();
        self.i += len + 1;
        Some(s)
    }

    /// An unsigned integer as JSON writes it: digits, no leading zero, within u64.
    fn number(&mut self) -> Option<u64> {
        let rest = &self.bytes()[self.i..];
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || (len > 1 && rest[0] == b'0') {
            return None;
        }
        let mut n: u64 = 0;
        for &d in &rest[..len] {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.i += len;
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
