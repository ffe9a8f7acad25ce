//! Talking SphinxQL: the backend's address, one server's connections, and answers checked
//! whole (a distributed table whose agent did not answer is an error naming that shard,
//! never a silent half answer).

use std::sync::Mutex;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, Row};

/// What can go wrong with a SphinxQL engine.
#[derive(Debug, thiserror::Error)]
pub enum SphinxError {
    /// The backend address is not `sphinxql://HOST:PORT/TABLE`.
    #[error("bad --backend {0:?}: expected sphinxql://HOST:PORT/TABLE")]
    BadUrl(String),
    /// A server could not be reached or dropped the connection.
    #[error("the SphinxQL shard {shard} did not answer: {why}")]
    Unreachable {
        /// `host:port` (and the table, when known).
        shard: String,
        /// The driver's words.
        why: String,
    },
    /// A distributed search came back without one of its shards.
    #[error("the SphinxQL shard {shard} did not answer, so the results would be incomplete: {why}")]
    Agent {
        /// The agent as the distributed table names it (`host:port:table`).
        shard: String,
        /// The engine's warning.
        why: String,
    },
    /// The engine refused a statement.
    #[error("SphinxQL at {at} refused a statement: {why}")]
    Refused {
        /// `host:port`.
        at: String,
        /// The engine's words.
        why: String,
    },
}

/// A backend address: `sphinxql://HOST:PORT/TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or address.
    pub host: String,
    /// The SphinxQL (MySQL protocol) port.
    pub port: u16,
    /// The table searched: distributed, or one real-time table.
    pub table: String,
}

impl Url {
    /// Parses `sphinxql://HOST:PORT/TABLE`.
    pub fn parse(s: &str) -> Result<Url, SphinxError> {
        let bad = || SphinxError::BadUrl(s.to_string());
        let rest = s.strip_prefix("sphinxql://").ok_or_else(bad)?;
        let (addr, table) = rest.split_once('/').ok_or_else(bad)?;
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let name_ok =
            |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if host.is_empty() || !name_ok(table) {
            return Err(bad());
        }
        Ok(Url {
            host: host.to_string(),
            port,
            table: table.to_string(),
        })
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sphinxql://{}:{}/{}", self.host, self.port, self.table)
    }
}

/// A statement's rows, and the `SHOW META` variables that followed it.
pub type Answer = (Vec<Row>, Vec<(String, String)>);

/// One searchd's SphinxQL listener, with connections kept for reuse.
pub struct Server {
    /// What errors call it: `sphinxql://host:port/table`.
    pub at: String,
    host: String,
    port: u16,
    idle: Mutex<Vec<Conn>>,
}

impl Server {
    /// The server at `host:port`, serving `table`; nothing is connected yet.
    pub fn new(host: &str, port: u16, table: &str) -> Server {
        Server {
            at: format!("sphinxql://{host}:{port}/{table}"),
            host: host.to_string(),
            port,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn conn(&self) -> Result<Conn, SphinxError> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(c);
        }
        let opts = OptsBuilder::new()
            .ip_or_hostname(Some(self.host.clone()))
            .tcp_port(self.port)
            .prefer_socket(false)
            .stmt_cache_size(0)
            .tcp_connect_timeout(Some(Duration::from_secs(3)))
            .read_timeout(Some(Duration::from_secs(60)));
        Conn::new(opts).map_err(|e| SphinxError::Unreachable {
            shard: self.at.clone(),
            why: e.to_string(),
        })
    }

    /// The rows of `sql`, and the `SHOW META` that follows it when `meta`.
    pub fn query(&self, sql: &str, meta: bool) -> Result<Answer, SphinxError> {
        let mut conn = self.conn()?;
        let rows: Vec<Row> = conn.query(sql).map_err(|e| self.error(e))?;
        let meta = if meta {
            conn.query::<(String, String), _>("SHOW META")
                .map_err(|e| self.error(e))?
        } else {
            Vec::new()
        };
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        Ok((rows, meta))
    }

    /// Runs a statement that returns no rows.
    pub fn exec(&self, sql: &str) -> Result<(), SphinxError> {
        self.query(sql, false).map(drop)
    }

    fn error(&self, e: mysql::Error) -> SphinxError {
        match e {
            mysql::Error::MySqlError(e) => SphinxError::Refused {
                at: self.at.clone(),
                why: e.message,
            },
            e => SphinxError::Unreachable {
                shard: self.at.clone(),
                why: e.to_string(),
            },
        }
    }
}

/// A SphinxQL string literal of `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The `warning` of a `SHOW META`, if any.
pub fn warning(meta: &[(String, String)]) -> Option<&str> {
    meta.iter()
        .find(|(k, _)| k == "warning")
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("sphinxql://127.0.0.1:9306/dist").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.table.as_str()),
            ("127.0.0.1", 9306, "dist")
        );
        assert_eq!(u.to_string(), "sphinxql://127.0.0.1:9306/dist");
        for bad in [
            "mysql://a:1/t",
            "sphinxql://a/t",
            "sphinxql://a:x/t",
            "sphinxql://a:1/t;x",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(quote("a'b\\c\nd"), "'a\\'b\\\\c\\nd'");
    }
}
