//! Turning a file's bytes into text: UTF-8 (with or without BOM), UTF-16 with a BOM, and the
//! legacy Chinese encodings (GB18030/GBK, Big5) recognised by chardetng and decoded by
//! encoding_rs. A file that cannot be decoded with confidence is refused with the reason.

use encoding_rs::{BIG5, Encoding, GB18030, GBK, UTF_8};

/// Bytes looked at to tell text from binary.
const SNIFF: usize = 8192;

/// Decoded text and the name of the encoding it was read with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
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

pub fn decode(bytes: &[u8]) -> Result<Decoded, Undecodable> {
    if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        let body = &bytes[bom..];
        return match enc.decode_without_bom_handling_and_without_replacement(body) {
            Some(text) => Ok(Decoded {
                text: text.into_owned(),
                encoding: display_name(enc),
            }),
            None => Err(Undecodable(format!(
                "it starts with a {} byte order mark but is not valid {}; re-save it in that encoding or as UTF-8",
                enc.name(),
                enc.name()
            ))),
        };
    }
    if bytes[..bytes.len().min(SNIFF)].contains(&0) {
        return Err(Undecodable(
            "it looks binary (it has NUL bytes); only text files are indexed".into(),
        ));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Decoded {
            text: text.to_string(),
            encoding: display_name(UTF_8),
        });
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    let supported = [GBK, GB18030, BIG5];
    if !supported.contains(&guess) {
        return Err(Undecodable(format!(
            "its encoding cannot be recognised with confidence (it is not UTF-8, UTF-16, GB18030 or Big5; the best guess is {}): convert it to UTF-8",
            guess.name()
        )));
    }
    match guess.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(text) if looks_like_text(&text) => Ok(Decoded {
            text: text.into_owned(),
            encoding: display_name(guess),
        }),
        _ => Err(Undecodable(format!(
            "it is neither valid UTF-8 nor valid {}: convert it to UTF-8",
            display_name(guess)
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
}
