//! What a request may ask: its query string decoded into checked parameters, and whether its
//! `Host` header names this server (against DNS rebinding).

use std::net::SocketAddr;

/// The longest request target (path and query string) answered, in bytes: room for a query
/// of the most characters the engine takes, percent-encoded.
pub const MAX_URL: usize = 16 * 1024;
/// The most bytes of request headers answered.
pub const MAX_HEADERS: usize = 16 * 1024;
/// The most hits a search or citation request may ask for.
pub const MAX_LIMIT: usize = 1000;
/// The most paragraphs of context a request may ask for.
pub const MAX_CONTEXT: usize = 10;

/// A parameter that cannot be used: the text of a 400 answer.
#[derive(Debug)]
pub struct BadParam(pub String);

/// The decoded `name=value` pairs of a query string, in order.
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes `query` (`a=1&b=%E4%BD%A0+x`); only the names in `known` are accepted.
    pub fn parse(query: &str, known: &[&str]) -> Result<Params, BadParam> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = decode(name)?;
            if !known.contains(&name.as_str()) {
                return Err(BadParam(format!(
                    "unknown parameter `{name}` (known: {})",
                    known.join(", ")
                )));
            }
            // Only `source` may be given more than once: a second `q` or `limit` would be a
            // client's mistake that silently picking one would hide.
            if name != "source" && pairs.iter().any(|(n, _): &(String, String)| *n == name) {
                return Err(BadParam(format!(
                    "parameter `{name}` is given more than once"
                )));
            }
            pairs.push((name, decode(value)?));
        }
        Ok(Params(pairs))
    }

    /// The last value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The value of `name`, which must be given and not empty.
    pub fn required(&self, name: &str) -> Result<&str, BadParam> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(BadParam(format!("parameter `{name}` is required"))),
        }
    }

    /// The number `name` (`default` when absent), within `range`.
    pub fn number(
        &self,
        name: &str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
    ) -> Result<usize, BadParam> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        match v.parse::<usize>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(BadParam(format!(
                "parameter `{name}` must be a whole number from {} to {}, not {v:?}",
                range.start(),
                range.end()
            ))),
        }
    }

    /// Whether the flag `name` is set (`true`/`1`/empty yes, `false`/`0` no).
    pub fn flag(&self, name: &str) -> Result<bool, BadParam> {
        match self.get(name) {
            None | Some("false") | Some("0") => Ok(false),
            Some("") | Some("true") | Some("1") => Ok(true),
            Some(v) => Err(BadParam(format!(
                "parameter `{name}` must be true, false, 1 or 0, not {v:?}"
            ))),
        }
    }

    /// The flag `name` as [`Params::flag`] reads it, `None` when absent.
    pub fn maybe_flag(&self, name: &str) -> Result<Option<bool>, BadParam> {
        match self.get(name) {
            None => Ok(None),
            Some(_) => self.flag(name).map(Some),
        }
    }

    /// The value of `name` among `choices` (`None` when absent).
    pub fn choice<'a>(&self, name: &str, choices: &[&'a str]) -> Result<Option<&'a str>, BadParam> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match choices.iter().find(|c| **c == v) {
            Some(c) => Ok(Some(c)),
            None => Err(BadParam(format!(
                "parameter `{name}` must be one of {}, not {v:?}",
                choices.join(", ")
            ))),
        }
    }
}

/// Percent-decoding, with `+` as a space; the result must be UTF-8.
fn decode(s: &str) -> Result<String, BadParam> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
                    return Err(BadParam(format!("bad percent-encoding in {s:?}")));
                };
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadParam(format!("{s:?} is not UTF-8 once decoded")))
}

/// Whether `host` (a `Host` header) names this server bound at `bound`: `localhost`,
/// `127.0.0.1`, `[::1]` or the bound address, with the bound port or none.
pub fn host_allowed(host: &str, bound: SocketAddr) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let port = format!(":{}", bound.port());
    let name = host.strip_suffix(&port).unwrap_or(&host);
    let ip = match bound.ip() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    ["localhost", "127.0.0.1", "[::1]", ip.as_str()].contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_checks() {
        let p = Params::parse("q=5k%E7%93%B6+x&limit=3", &["q", "limit"]).unwrap();
        assert_eq!(p.get("q"), Some("5k瓶 x"));
        assert_eq!(p.number("limit", 10, 1..=1000).unwrap(), 3);
        // Out of range or no number: the message names the range it checks.
        for v in ["0", "-1", "1001", "x"] {
            let p = Params::parse(&format!("limit={v}"), &["limit"]).unwrap();
            let e = p.number("limit", 10, 1..=1000).unwrap_err().0;
            assert_eq!(
                e,
                format!("parameter `limit` must be a whole number from 1 to 1000, not {v:?}")
            );
        }
        assert!(Params::parse("z=1", &["q"]).is_err());
        assert!(Params::parse("q=%E7%93", &["q"]).is_err());
        assert!(Params::parse("q=%zz", &["q"]).is_err());
    }

    #[test]
    fn hosts() {
        let bound: SocketAddr = "127.0.0.1:7700".parse().unwrap();
        assert!(host_allowed("localhost:7700", bound));
        assert!(host_allowed("127.0.0.1", bound));
        assert!(host_allowed("[::1]:7700", bound));
        assert!(!host_allowed("evil.example:7700", bound));
        assert!(!host_allowed("localhost:80", bound));
        let any: SocketAddr = "0.0.0.0:7700".parse().unwrap();
        assert!(host_allowed("localhost:7700", any));
        assert!(!host_allowed("192.168.1.5:7700", any));
    }
}
