//! Text analysis on any input: the fast t2s agrees with ferrous-opencc; the offset map lands on
//! character boundaries and leads back to the original text; passages, visible text and
//! sentence quotes stay inside their source.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhsearch::ingest::corpus;
use zhsearch::present::cite;
use zhsearch::text::{analysis, t2s};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(t2s::convert(text), t2s::opencc().convert(text));
    let n = analysis::normalize_mapped(text);
    assert_eq!(n.text, analysis::normalize(text));
    for i in 0..n.len() {
        let r = n.orig_range(i..i + 1);
        assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        assert!(r.end <= text.len());
    }
    let doc = corpus::parse_document("fuzz.md", text);
    for p in &doc.passages {
        for v in &p.visible {
            assert!(p.text.get(v.orig.clone()).is_some());
            if v.verbatim {
                assert_eq!(&p.text[v.orig.clone()], v.text);
            }
        }
        let first = 0..p.text.chars().next().map_or(0, char::len_utf8);
        let r = cite::sentence_range(&p.text, std::slice::from_ref(&first));
        assert!(p.text.get(r).is_some());
    }
});
