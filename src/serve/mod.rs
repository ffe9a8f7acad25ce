//! `zhsearch serve`: one process holding the open index, answering a JSON API over HTTP
//! ([`api`], checked by [`http`]) from one shared [`Engine`], and keeping the index up to
//! date as the corpus changes ([`live`]), its new passages embedded in the background
//! ([`embedding`]).
//!
//! It listens at once and builds or updates the index in the background: until a first
//! commit exists, searches answer 503 and `/api/status` tells the progress.
//!
//! Connections are served by hyper on a tokio runtime: reading a request costs no thread,
//! so a slow or idle client holds only its socket, and is cut off after
//! [`HEADER_TIMEOUT`]; one that stops reading its answers, after [`WRITE_TIMEOUT`]
//! ([`conn`]). Engine calls run on blocking threads, at most [`Limits::engine_calls`]
//! at once, each answered within [`Limits::time_limit`] (503 past it). Open connections
//! are bounded by [`Limits::connections`].
//!
//! Safety: it binds to loopback unless told otherwise (and warns then), answers only requests
//! whose `Host` names it (against DNS rebinding), sends CORS headers only to the origins
//! given, bounds the request target and headers, refuses bodies, bounds `limit` and `context`
//! ([`params`]), and reads back only the files of the index (the engine's rule). It stops on
//! SIGTERM or SIGINT, after the requests and the update under way (a first build is left
//! unfinished: it starts over at the next start).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, oneshot};

use crate::engine::Engine;
use crate::error::{Error, Result};

pub mod api;
pub mod conn;
pub mod embedding;
pub mod http;
pub mod live;
pub mod page;
pub mod params;

use live::Status;

/// The address `serve` binds to unless `--bind` is given.
pub const DEFAULT_BIND: &str = "127.0.0.1:7700";
/// How long a client has to send a request's line and headers (on a new connection, or
/// between requests on a kept-alive one) before the connection is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes hyper buffers while reading a request's line and headers: more is
/// answered 431 before any of it is looked at.
pub const MAX_HEAD: usize = 64 * 1024;
/// How long writing an answer may make no progress (the client not reading it) before the
/// connection is closed.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server allows.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The most connections open at once; more are answered 503 and closed.
    pub connections: usize,
    /// The most engine calls running at once; more requests wait (within their time limit).
    pub engine_calls: usize,
    /// How long a request may take, waiting included, before it is answered 503.
    pub time_limit: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Limits {
            connections: 1024,
            engine_calls: (cores * 2).clamp(4, 16),
            time_limit: Duration::from_secs(10),
        }
    }
}

/// How `serve` is run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `ADDR:PORT` to listen on.
    pub bind: String,
    /// Origins sent CORS headers (exact match); none by default.
    pub allow_origins: Vec<String>,
    /// The bounds on connections, engine calls and time.
    pub limits: Limits,
}

/// Serves `engine` as `options` say until SIGTERM or SIGINT, building or updating the index
/// in the background meanwhile.
pub fn run(engine: Engine, options: Options) -> Result<()> {
    // Blocking threads run engine calls only, at most `engine_calls` at once: as many threads,
    // kept rather than made anew (each new thread grows the allocator's arenas).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(options.limits.engine_calls)
        .thread_keep_alive(Duration::from_secs(600))
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let bind = options.bind.clone();
    let listener = runtime
        .block_on(listen(&bind))
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot listen on {bind}: {e}")))?;
    let addr = listener.local_addr().map_err(anyhow::Error::from)?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "zhsearch: warning: listening on {addr}, not on loopback: anyone who can reach it over the network can read the corpus"
        );
    }
    let engine = Arc::new(engine);
    let status = Arc::new(Status::default());
    // An index already there answers at once; otherwise searches wait for the first build.
    status.set_ready(engine.has_index());
    let stop = Arc::new(AtomicBool::new(false));
    // Said before the update starts, so that it comes before `index ready`.
    eprintln!(
        "zhsearch: serving http://{addr}/ — index {}",
        engine.index_dir().display()
    );
    let (failed, first_failure) = oneshot::channel();
    let updater = live::start(engine.clone(), status.clone(), stop.clone(), failed);
    let shared = Arc::new(http::Shared {
        engine,
        status: status.clone(),
        addr,
        origins: options.allow_origins,
        engine_calls: Arc::new(Semaphore::new(options.limits.engine_calls)),
        time_limit: options.limits.time_limit,
    });
    let connections = options.limits.connections;
    let outcome = runtime.block_on(accept_until_stopped(
        listener,
        shared,
        connections,
        first_failure,
    ));
    stop.store(true, Ordering::Relaxed);
    // A first build is not waited for: the index starts it over at the next start.
    if status.ready() {
        let _ = updater.join();
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome?;
    eprintln!("zhsearch: stopped");
    Ok(())
}

/// A listener on `bind` (the first address it names), with room for a burst of connections
/// waiting to be accepted.
async fn listen(bind: &str) -> std::io::Result<TcpListener> {
    let addr = tokio::net::lookup_host(bind)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts connections until a signal (or a failed first build, returned as the error), then
/// lets the connections finish their requests.
async fn accept_until_stopped(
    listener: TcpListener,
    shared: Arc<http::Shared>,
    connections: usize,
    mut first_failure: oneshot::Receiver<Error>,
) -> Result<()> {
    let open = Arc::new(Semaphore::new(connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD);
    let signals = stop_signal();
    tokio::pin!(signals);
    let mut failure = None;
    let mut first_done = false;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    eprintln!("zhsearch: warning: a connection could not be accepted: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut signals => break,
            // Polled until it is answered: an error stops the server; a first update that
            // went well (the sender dropped) leaves it running.
            sent = &mut first_failure, if !first_done => match sent {
                Ok(e) => {
                    failure = Some(e);
                    break;
                }
                Err(_) => {
                    first_done = true;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(conn::WriteDeadline::new(stream, WRITE_TIMEOUT));
        let service = {
            let shared = shared.clone();
            hyper::service::service_fn(move |req| http::respond(req, shared.clone()))
        };
        let connection = graceful.watch(builder.serve_connection(io, service));
        let status = shared.status.clone();
        status.connections(1);
        tokio::spawn(async move {
            let _ = connection.await;
            status.connections(-1);
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(HEADER_TIMEOUT, graceful.shutdown()).await;
    failure.map_or(Ok(()), Err)
}

/// Answers a connection over the limit 503 (best effort) and closes it.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":"too many open connections; try again later"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Resolves at the first SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            eprintln!("zhsearch: warning: cannot catch SIGTERM and SIGINT");
            std::future::pending::<()>().await
        }
    }
}
