//! The table's rows as the backend reads them, their ids, and the shards behind a table.

use anyhow::Result;

use super::client::{Server, Url};
use crate::search::backend::{CandidateId, StoredPassage};
use crate::store::index::stored_pieces;

/// The columns of a passage, in [`Row`]'s order.
pub const COLUMNS: &str =
    "id, source, line_start, line_end, paragraph, col_start, col_end, text, visible, wordlist";
/// Where `weight()` follows [`COLUMNS`].
pub const WEIGHT: usize = 10;

/// Bits of an id that number a file's rows (row 0: the file's entry).
const ROW_BITS: u32 = 20;
/// Most passages of one file.
pub const MAX_ROWS: u64 = (1 << ROW_BITS) - 1;

/// A file's key: 43 bits of the hash of its path, never 0. Its rows are
/// `key << 20 | n`, so ids are unique over every shard and depend on the file alone.
pub fn file_key(source: &str) -> u64 {
    let h = blake3::hash(source.as_bytes());
    let b: [u8; 8] = h.as_bytes()[..8].try_into().expect("8 bytes");
    (u64::from_le_bytes(b) >> (64 - 43)).max(1)
}

/// Row `n` of the file with `key` (0: its entry; passages from 1).
pub fn passage_id(key: u64, n: u64) -> CandidateId {
    (key << ROW_BITS) | n
}

/// Column `i` of `row` as text (empty when absent).
pub fn string(row: &mysql::Row, i: usize) -> String {
    match row.as_ref(i) {
        Some(mysql::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(mysql::Value::Int(n)) => n.to_string(),
        Some(mysql::Value::UInt(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Column `i` of `row` as a number (0 when absent).
pub fn number(row: &mysql::Row, i: usize) -> u64 {
    match row.as_ref(i) {
        Some(mysql::Value::Int(n)) => (*n).max(0) as u64,
        Some(mysql::Value::UInt(n)) => *n,
        Some(mysql::Value::Bytes(b)) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(0, |n| n.max(0) as u64),
        _ => 0,
    }
}

/// A passage as stored in the engine.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its id.
    pub id: CandidateId,
    source: String,
    lines: (usize, usize),
    paragraph: usize,
    /// Columns + 1 (0: the whole line).
    cols: (usize, usize),
    text: String,
    visible: String,
    /// Its words, one a line.
    pub wordlist: String,
}

impl From<mysql::Row> for Row {
    fn from(r: mysql::Row) -> Row {
        let n = |i| number(&r, i) as usize;
        Row {
            id: number(&r, 0),
            source: string(&r, 1),
            lines: (n(2), n(3)),
            paragraph: n(4),
            cols: (n(5), n(6)),
            text: string(&r, 7),
            visible: string(&r, 8),
            wordlist: string(&r, 9),
        }
    }
}

impl Row {
    /// The passage as the searcher reads it.
    pub fn passage(&self) -> StoredPassage {
        let visible = (!self.visible.is_empty()).then_some(self.visible.as_str());
        StoredPassage {
            source: self.source.clone(),
            line_start: self.lines.0,
            line_end: self.lines.1,
            paragraph: self.paragraph,
            columns: (self.cols.0 > 0).then(|| (self.cols.0 - 1, self.cols.1 - 1)),
            visible: stored_pieces(&self.text, visible),
            text: self.text.clone(),
        }
    }
}

/// One real-time table of a distributed one, at its own SphinxQL address.
pub struct Shard {
    /// Its SphinxQL server.
    pub server: Server,
    /// Its table.
    pub table: String,
    /// The agent as the distributed table names it (`host:port` of its API listener), or
    /// the table's own address for a local one.
    pub agent: String,
}

impl Shard {
    /// `host:port:table`, as named in errors.
    pub fn name(&self) -> String {
        format!("{}:{}", self.agent, self.table)
    }

    /// Documents holding each token of `text` (space-joined tokens), from the shard's
    /// dictionary.
    pub fn keywords(&self, text: &str) -> Result<Vec<(String, u64)>> {
        let sql = format!(
            "CALL KEYWORDS({}, {}, 1)",
            super::client::quote(text),
            super::client::quote(&self.table)
        );
        let (rows, _) = self.server.query(&sql, false)?;
        Ok(rows.iter().map(|r| (string(r, 1), number(r, 3))).collect())
    }
}

/// The shards of the table at `url`: itself when it is a real-time table; for a
/// distributed one, its local tables (at `url`'s address) and its agents, whose SphinxQL
/// listener is taken to be on the port after their API one (as `scripts/sphinx-local.sh`
/// sets them up); of an agent's mirrors, the first.
pub fn shards(front: &Server, url: &Url) -> Result<Vec<Shard>> {
    let (rows, _) = front.query(&format!("DESCRIBE {}", url.table), false)?;
    let distributed = rows.first().is_some_and(|r| {
        r.columns_ref()
            .first()
            .is_some_and(|c| c.name_str() == "Agent")
    });
    let here = |table: &str| Server::new(&url.host, url.port, table);
    if !distributed {
        return Ok(vec![Shard {
            server: here(&url.table),
            table: url.table.clone(),
            agent: format!("{}:{}", url.host, url.port),
        }]);
    }
    let mut out = Vec::new();
    for r in &rows {
        let (agent, kind) = (string(r, 0), string(r, 1));
        if kind == "local" {
            out.push(Shard {
                server: here(&agent),
                table: agent,
                agent: format!("{}:{}", url.host, url.port),
            });
            continue;
        }
        // Mirrors (`a|b`) hold the same rows (the engine replicates them): the first is
        // written.
        let first = agent.split('|').next().unwrap_or_default();
        let mut parts = first.rsplitn(3, ':');
        let (Some(table), Some(port), Some(host)) = (parts.next(), parts.next(), parts.next())
        else {
            anyhow::bail!("cannot read the agent {agent} of {url}");
        };
        let port: u16 = port
            .parse()
            .map_err(|_| anyhow::anyhow!("cannot read the agent {agent} of {url}"))?;
        out.push(Shard {
            server: Server::new(host, port.wrapping_add(1), table),
            table: table.to_string(),
            agent: format!("{host}:{port}"),
        });
    }
    Ok(out)
}
