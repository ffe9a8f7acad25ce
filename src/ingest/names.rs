//! Names as warnings and citations show them: on one line, nothing hidden. A control
//! character, a line separator or an invisible character is escaped (`\n`, `\u{202e}`), and so
//! is a byte that is not UTF-8 (`\xff`): a lossy copy would name no file.

use std::ffi::OsStr;

/// Whether `c` would break a line of output or hide in it (a direction override shows
/// `rlo\u{202e}gpj.txt` as `rlotxt.jpg`).
pub(crate) fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || crate::text::analysis::is_invisible(c)
}

/// `s` with every character that [`breaks_line`] escaped.
pub(crate) fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match breaks_line(c) {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// `name` escaped as [`escape`] does, its bytes that are not UTF-8 as `\xNN`.
pub(crate) fn escape_os(name: &OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        name.as_bytes()
            .utf8_chunks()
            .map(|c| {
                let bad: String = c.invalid().iter().map(|b| format!("\\x{b:02x}")).collect();
                escape(c.valid()) + &bad
            })
            .collect()
    }
    #[cfg(not(unix))]
    escape(&name.to_string_lossy())
}
