//! The query parser on any input: an answer or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = std::str::from_utf8(data)
        && let Ok(mut parsed) = zhsearch::search::query::parse(q)
    {
        parsed.segment(1000, |w| w.chars().count() as u64);
    }
});
