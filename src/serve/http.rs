//! One request: its checks (size, `Host`, method, body), CORS for the allowed origins, and
//! the engine call on a blocking thread within the time limit.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response};
use serde_json::json;
use tokio::sync::Semaphore;

use super::api::{self, Answer};
use super::live::Status;
use super::{page, params};
use crate::engine::Engine;

/// What every request handler shares.
pub struct Shared {
    /// The engine answering.
    pub engine: Arc<Engine>,
    /// The index's build and update status.
    pub status: Arc<Status>,
    /// The address listened on (for the `Host` check).
    pub addr: SocketAddr,
    /// Origins sent CORS headers.
    pub origins: Vec<String>,
    /// One permit per engine call allowed to run at once.
    pub engine_calls: Arc<Semaphore>,
    /// How long a request may take.
    pub time_limit: Duration,
}

/// Answers one request (never fails: every error is a JSON answer).
pub async fn respond(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| shared.origins.iter().any(|allowed| allowed == o))
        .map(str::to_string);
    let (code, body) = match check(&request, &shared, origin.is_some()) {
        Err(refused) => refused,
        Ok(Checked::Preflight) => (204, serde_json::Value::Null),
        Ok(Checked::Page(kind, bytes)) => return Ok(page_response(kind, bytes)),
        Ok(Checked::Get(path, query)) => call(&shared, path, query).await,
    };
    let mut response = Response::new(Full::new(match &body {
        serde_json::Value::Null => Bytes::new(),
        body => Bytes::from(body.to_string()),
    }));
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if code != 204 {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    if !shared.origins.is_empty() {
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if code == 204 {
            let get = HeaderValue::from_static("GET");
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, get);
            let age = HeaderValue::from_static("600");
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, age);
        }
    }
    Ok(response)
}

/// One file of the web page, with its content type and [`page::HEADERS`] (no CORS: the page
/// is for this origin only).
fn page_response(kind: &'static str, bytes: &'static [u8]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(bytes)));
    let headers = response.headers_mut();
    for (name, value) in [("Content-Type", kind)].into_iter().chain(page::HEADERS) {
        if let Ok(name) = header::HeaderName::from_bytes(name.as_bytes()) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// A request that passed the checks.
enum Checked {
    /// A CORS preflight from an allowed origin.
    Preflight,
    /// A file of the web page: its content type and bytes.
    Page(&'static str, &'static [u8]),
    /// `GET path?query`.
    Get(String, String),
}

fn refused(code: u16, error: String) -> Answer {
    (code, json!({ "error": error }))
}

/// The checks every request passes before anything is read for it.
fn check(request: &Request<Incoming>, shared: &Shared, cors: bool) -> Result<Checked, Answer> {
    let head: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if head > params::MAX_HEADERS {
        let max = params::MAX_HEADERS;
        return Err(refused(
            431,
            format!("the request headers are over {max} bytes"),
        ));
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| params::host_allowed(h, shared.addr)) {
        let why = "the Host header does not name this server";
        return Err(refused(403, why.into()));
    }
    let uri = request.uri();
    let target = uri.path_and_query().map_or("", |t| t.as_str());
    if target.len() > params::MAX_URL {
        let max = params::MAX_URL;
        return Err(refused(
            414,
            format!("the request target is over {max} bytes"),
        ));
    }
    if request.method() == Method::OPTIONS && cors {
        return Ok(Checked::Preflight);
    }
    if request.method() != Method::GET {
        return Err(refused(405, "only GET is answered".into()));
    }
    // The body is never read: a request that sends one is refused (and its connection closed).
    if !request.body().is_end_stream() {
        return Err(refused(413, "a request may not have a body".into()));
    }
    let path = uri.path().to_string();
    if !path.starts_with("/api/") {
        return match page::asset(&path) {
            Some((kind, bytes)) => Ok(Checked::Page(kind, bytes)),
            None => Err(refused(404, format!("no such page: {path}"))),
        };
    }
    Ok(Checked::Get(path, uri.query().unwrap_or("").to_string()))
}

/// The engine's answer, run on a blocking thread when one of the engine's permits is free,
/// within the time limit. Past it the request is answered 503; an engine call already running
/// then goes on to its end (it cannot be interrupted) but keeps its permit until then, so
/// abandoned calls never add up beyond the permits.
async fn call(shared: &Arc<Shared>, path: String, query: String) -> Answer {
    let work = async {
        let permit = shared.engine_calls.clone().acquire_owned().await.ok()?;
        let s = shared.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let engine_call =
                std::panic::AssertUnwindSafe(|| api::answer(&s.engine, &s.status, &path, &query));
            std::panic::catch_unwind(engine_call).ok()
        });
        task.await.ok().flatten()
    };
    match tokio::time::timeout(shared.time_limit, work).await {
        Ok(Some(answer)) => answer,
        Ok(None) => refused(500, "internal error".into()),
        Err(_) => refused(
            503,
            format!(
                "the request took over {} ms: try again, or a narrower query",
                shared.time_limit.as_millis()
            ),
        ),
    }
}
