//! `zhsearch serve`: one process holding the open index, answering a JSON API over HTTP
//! ([`api`]) from one shared [`Engine`], and keeping the index up to date as the corpus
//! changes ([`live`]).
//!
//! Safety: it binds to loopback unless told otherwise (and warns then), answers only requests
//! whose `Host` names it (against DNS rebinding), sends no CORS headers, bounds the request
//! target, `limit` and `context` ([`params`]), and reads back only the files of the index
//! (the engine's rule). It stops on SIGTERM or SIGINT, after the requests and the update
//! under way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tiny_http::{Header, Request, Response, Server};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::NoReport;

pub mod api;
pub mod live;
pub mod page;
pub mod params;

use live::Status;

/// The address `serve` binds to unless `--bind` is given.
pub const DEFAULT_BIND: &str = "127.0.0.1:7700";

/// Builds or updates the index, then serves `engine` at `bind` until SIGTERM or SIGINT.
pub fn run(engine: Engine, bind: &str) -> Result<()> {
    let engine = Arc::new(engine);
    let status = Arc::new(Status::default());
    let first = engine.update(false, &NoReport);
    status.record(&first);
    let report = first?;
    let server = Server::http(bind)
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot listen on {bind}: {e}")))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| Error::Other(anyhow::anyhow!("{bind} is no IP address")))?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "zhsearch: warning: listening on {addr}, not on loopback: anyone who can reach it over the network can read the corpus"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).map_err(anyhow::Error::from)?;
    }
    let (watcher, updater) = live::watch(engine.clone(), status.clone(), &report.corpus)
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot watch the corpus: {e}")))?;
    eprintln!(
        "zhsearch: serving http://{addr}/ — corpus {}, index {} ({report})",
        report.corpus.display(),
        engine.index_dir().display()
    );
    let server = Arc::new(server);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4) * 2);
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (server, engine, status, stop) =
                (server.clone(), engine.clone(), status.clone(), stop.clone());
            std::thread::spawn(move || serve_until(&server, &engine, &status, addr, &stop))
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    drop(watcher);
    let _ = updater.join();
    eprintln!("zhsearch: stopped");
    Ok(())
}

/// Answers requests until `stop` is set.
fn serve_until(
    server: &Server,
    engine: &Engine,
    status: &Status,
    addr: SocketAddr,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Relaxed) {
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => respond(request, engine, status, addr),
            Ok(None) => {}
            Err(e) => eprintln!("zhsearch: warning: a request could not be read: {e}"),
        }
    }
}

/// Checks and answers one request.
fn respond(request: Request, engine: &Engine, status: &Status, addr: SocketAddr) {
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_string());
    let url = request.url().to_string();
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len() + 4)
        .sum();
    let (code, body) = if header_bytes > params::MAX_HEADERS {
        let max = params::MAX_HEADERS;
        (
            431,
            serde_json::json!({ "error": format!("the request headers are over {max} bytes") }),
        )
    } else if !host.is_some_and(|h| params::host_allowed(&h, addr)) {
        (
            403,
            serde_json::json!({ "error": "the Host header does not name this server" }),
        )
    } else if url.len() > params::MAX_URL {
        let max = params::MAX_URL;
        (
            414,
            serde_json::json!({ "error": format!("the request target is over {max} bytes") }),
        )
    } else if *request.method() != tiny_http::Method::Get {
        (405, serde_json::json!({ "error": "only GET is answered" }))
    } else if let Some(asset) = page::asset(url.split('?').next().unwrap_or("")) {
        return send_page(request, asset);
    } else {
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let engine_call = std::panic::AssertUnwindSafe(|| api::answer(engine, status, path, query));
        std::panic::catch_unwind(engine_call)
            .unwrap_or_else(|_| (500, serde_json::json!({ "error": "internal error" })))
    };
    let json = Header::from_bytes(
        &b"Content-Type"[..],
        &b"application/json; charset=utf-8"[..],
    );
    let mut response = Response::from_string(body.to_string()).with_status_code(code);
    if let Ok(h) = json {
        response = response.with_header(h);
    }
    let _ = request.respond(response);
}

/// Sends one file of the web page with its content type and [`page::HEADERS`].
fn send_page(request: Request, (kind, bytes): (&str, &'static [u8])) {
    let mut response = Response::from_data(bytes);
    for (name, value) in [("Content-Type", kind)].into_iter().chain(page::HEADERS) {
        if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response = response.with_header(h);
        }
    }
    let _ = request.respond(response);
}
