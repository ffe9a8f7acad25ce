//! `zhsearch mcp`: a Model Context Protocol server over stdio (JSON-RPC 2.0, one message a
//! line, protocol 2025-06-18), so that a writing assistant can search the corpus and quote
//! it with its source. A thin client of [`Engine`]: the tools are in [`tools`].
//!
//! Only protocol messages go to stdout; nothing is logged there. A request that cannot be
//! read is answered with a JSON-RPC error and the server goes on; it ends when stdin closes.

use std::io::{BufRead, Read, Write};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::engine::Engine;

pub mod tools;

/// The protocol version this server speaks (and answers with when a client asks for one it
/// does not know).
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// Versions whose requests this server also answers as asked.
const KNOWN_VERSIONS: [&str; 3] = [PROTOCOL_VERSION, "2025-03-26", "2024-11-05"];
/// The longest message read, in bytes; a longer line is refused and skipped.
pub const MAX_MESSAGE: usize = 1 << 20;

/// JSON-RPC error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// Serves `engine` over stdin and stdout until stdin closes.
pub fn run_stdio(engine: Arc<Engine>) -> std::io::Result<()> {
    eprintln!(
        "zhsearch mcp: serving the index in {} on stdio (protocol {PROTOCOL_VERSION})",
        engine.index_dir().display()
    );
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    serve(&engine, stdin.lock(), stdout.lock())
}

/// Answers each message read from `input` on `output`, one JSON object a line, until the
/// input ends.
pub fn serve(
    engine: &Engine,
    mut input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = Read::by_ref(&mut input)
            .take(MAX_MESSAGE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let reply = if line.len() > MAX_MESSAGE && line.last() != Some(&b'\n') {
            skip_line(&mut input)?;
            Some(error(Value::Null, INVALID_REQUEST, "message too large"))
        } else if line.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            match serde_json::from_slice::<Value>(&line) {
                Ok(message) => answer(engine, message),
                Err(e) => Some(error(
                    Value::Null,
                    PARSE_ERROR,
                    &format!("parse error: {e}"),
                )),
            }
        };
        if let Some(reply) = reply {
            serde_json::to_writer(&mut output, &reply)?;
            output.write_all(b"\n")?;
            output.flush()?;
        }
    }
}

/// Reads and drops the rest of an overlong line.
fn skip_line(input: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(at) => {
                input.consume(at + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// The reply to one message: `None` for a notification or a client's response.
fn answer(engine: &Engine, message: Value) -> Option<Value> {
    let Some(object) = message.as_object() else {
        return Some(error(
            Value::Null,
            INVALID_REQUEST,
            "not a JSON-RPC request object",
        ));
    };
    let id = object.get("id").cloned();
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        // A response to a request of ours (we send none), or garbage without an id.
        return id
            .filter(|_| !object.contains_key("result") && !object.contains_key("error"))
            .map(|id| error(id, INVALID_REQUEST, "a request needs a method"));
    };
    let id = id?; // a notification: nothing is answered
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Some(error(
            Value::Null,
            INVALID_REQUEST,
            "id must be a string or an integer",
        ));
    }
    let params = object.get("params").cloned().unwrap_or(Value::Null);
    Some(match method {
        "initialize" => result(id, initialize(&params)),
        "ping" => result(id, json!({})),
        "tools/list" => result(id, json!({ "tools": tools::list() })),
        "tools/call" => match tools::call(engine, &params) {
            Ok(value) => result(id, value),
            Err(why) => error(id, INVALID_PARAMS, &why),
        },
        other => error(id, METHOD_NOT_FOUND, &format!("method not found: {other}")),
    })
}

/// The server's side of the handshake.
fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .filter(|v| KNOWN_VERSIONS.contains(v))
        .unwrap_or(PROTOCOL_VERSION);
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": {
            "name": "zhsearch",
            "title": "zhsearch: Chinese full-text search with citations",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": "Search a folder of Chinese articles (Simplified and Traditional alike) \
            with `search`, quote passages with their source with `cite`, and read the exact \
            lines of a citation (FILE:LINE[-LINE]) with `show`. Quotes are verbatim.",
    })
}

fn result(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}
