//! The web page of `zhsearch serve`: plain HTML, CSS and JavaScript built into the binary
//! (no CDN, no build step, nothing fetched from elsewhere), a client of the JSON API.
//!
//! Framework-free: a server answers a `GET` of a path outside `/api/` with [`asset`] and the
//! headers of [`HEADERS`], and with a 404 when there is none.

/// Headers sent with every asset: the page loads nothing but its own files and runs no
/// inline script, and a browser takes each file as the type it is sent with.
pub const HEADERS: [(&str, &str); 3] = [
    ("Content-Security-Policy", "default-src 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
];

/// The content type and bytes of the page's file at `path` (the request path, without its
/// query string), or `None` for a path that is none of them.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match path {
        "/" | "/index.html" => (
            "text/html; charset=utf-8",
            include_bytes!("page/index.html"),
        ),
        "/app.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("page/app.js"),
        ),
        "/style.css" => ("text/css; charset=utf-8", include_bytes!("page/style.css")),
        "/favicon.svg" => ("image/svg+xml", include_bytes!("page/favicon.svg")),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_are_served_and_nothing_else() {
        let (kind, html) = asset("/").unwrap();
        assert!(kind.starts_with("text/html"));
        let html = std::str::from_utf8(html).unwrap();
        for linked in ["/app.js", "/style.css", "/favicon.svg"] {
            assert!(html.contains(&format!("\"{linked}\"")), "{linked}");
            assert!(asset(linked).is_some(), "{linked}");
        }
        // Nothing external, nothing inline that the policy would block.
        assert!(!html.contains("http"), "an external reference");
        assert!(!html.contains("<script>") && !html.contains("style="));
        for missing in ["/app.js/", "/../Cargo.toml", "/page/app.js", "/api", ""] {
            assert!(asset(missing).is_none(), "{missing}");
        }
    }
}
