//! The JSON API: each endpoint reads its checked parameters, asks the [`Engine`], and answers
//! a status and a JSON body (`{"error": "…"}` when it fails).

use serde_json::{Value, json};

use super::live::Status;
use super::params::{BadParam, MAX_CONTEXT, MAX_LIMIT, Params};
use crate::engine::{CiteOptions, Engine, SearchOptions};
use crate::error::Error;
use crate::ingest::open::Refused;
use crate::present::cite::{QuoteMode, Script};
use crate::present::output::{self, CiteFormat};

/// An answer: HTTP status and JSON body.
pub type Answer = (u16, Value);

/// The answer to `GET path?query`.
pub fn answer(engine: &Engine, status: &Status, path: &str, query: &str) -> Answer {
    let searching = matches!(path, "/api/search" | "/api/cite" | "/api/show");
    if searching && !status.ready() {
        let built = match status.progress() {
            Some((done, total)) => format!(" ({done} of {total} files read)"),
            None => String::new(),
        };
        let error = format!("the index is being built{built}: try again shortly");
        return (503, json!({ "error": error }));
    }
    let result = match path {
        "/api/search" => search(engine, query),
        "/api/cite" => cite(engine, query),
        "/api/show" => show(engine, query),
        "/api/status" => Params::parse(query, &[])
            .map_err(bad)
            .and_then(|_| status_json(engine, status)),
        _ => Err((404, format!("no such endpoint: {path}"))),
    };
    result.unwrap_or_else(|(code, e)| (code, json!({ "error": e })))
}

type Failure = (u16, String);

fn bad(e: BadParam) -> Failure {
    (400, e.0)
}

/// The status an engine error is answered with, and its text.
fn failure(e: Error) -> Failure {
    let code = match &e {
        Error::Query(_) | Error::Location(_) => 400,
        Error::Refused(Refused::NotRelative { .. }) => 400,
        Error::Refused(Refused::NotListed { .. } | Refused::Skipped { .. }) => 404,
        Error::NoIndex(_) => 503,
        _ => 500,
    };
    (code, e.to_string())
}

/// `value` as JSON, its numbers as `search --json` writes them (a score is an `f32`: through
/// text, it keeps its short form).
fn json_of<T: serde::Serialize>(value: &T) -> Result<Value, Failure> {
    serde_json::to_string(value)
        .and_then(|text| serde_json::from_str(&text))
        .map_err(|e| (500, e.to_string()))
}

/// Search options from `limit`, `offset`, `source`, `exact` and `semantic` (absent: as the
/// index has it).
fn search_options(p: &Params, default_limit: usize) -> Result<SearchOptions, Failure> {
    let limit = p
        .number("limit", default_limit, 1..=MAX_LIMIT)
        .map_err(bad)?;
    Ok(SearchOptions {
        limit,
        offset: p.number("offset", 0, 0..=1_000_000).map_err(bad)?,
        sources: p.all("source"),
        exact: p.flag("exact").map_err(bad)?,
        semantic: p.maybe_flag("semantic").map_err(bad)?,
    })
}

/// `GET /api/search?q=&limit=&offset=&source=&context=&exact=&semantic=`.
fn search(engine: &Engine, query: &str) -> Result<Answer, Failure> {
    let known = [
        "q", "limit", "offset", "source", "context", "exact", "semantic",
    ];
    let p = Params::parse(query, &known).map_err(bad)?;
    let q = p.required("q").map_err(bad)?;
    let options = search_options(&p, 10)?;
    let context = p.number("context", 0, 0..=MAX_CONTEXT).map_err(bad)?;
    let mut page = engine.search_text(q, &options).map_err(failure)?;
    let mut stale = Vec::new();
    if context > 0 {
        stale = engine.add_context(&mut page, context).map_err(failure)?;
    }
    let partial = !page.full_matches && !page.is_empty();
    let hits = json_of(&page.hits)?;
    Ok((
        200,
        json!({ "query": q, "hits": hits, "partial": partial, "no_context": stale }),
    ))
}

/// `GET /api/cite?q=&limit=&offset=&source=&format=&quote=&to=&partial=&semantic=`: as
/// `zhsearch cite`, semantic hits are searched and quoted (labelled) only with `semantic`.
fn cite(engine: &Engine, query: &str) -> Result<Answer, Failure> {
    let known = [
        "q", "limit", "offset", "source", "exact", "format", "quote", "to", "partial", "semantic",
    ];
    let p = Params::parse(query, &known).map_err(bad)?;
    let q = p.required("q").map_err(bad)?;
    let mut options = search_options(&p, 3)?;
    let semantic = options.semantic.unwrap_or(false);
    options.semantic = Some(semantic);
    let format = match p
        .choice("format", &["markdown", "plain", "json"])
        .map_err(bad)?
    {
        Some("plain") => CiteFormat::Plain,
        Some("json") => CiteFormat::Json,
        _ => CiteFormat::Markdown,
    };
    let quote = match p.choice("quote", &["sentence", "paragraph"]).map_err(bad)? {
        Some("paragraph") => QuoteMode::Paragraph,
        _ => QuoteMode::Sentence,
    };
    let to = match p
        .choice("to", &["simplified", "traditional"])
        .map_err(bad)?
    {
        Some("simplified") => Some(Script::Simplified),
        Some(_) => Some(Script::Traditional),
        None => None,
    };
    let partial = p.flag("partial").map_err(bad)?;
    let page = engine.search_text(q, &options).map_err(failure)?;
    let cite_options = CiteOptions {
        quote,
        to,
        partial,
        semantic: Some(semantic),
    };
    let cited = engine.cite(page.hits, cite_options).map_err(failure)?;
    let mut text = Vec::new();
    output::write_citations(&mut text, &cited.quotes, format).map_err(|e| (500, e.to_string()))?;
    let mut citations = Vec::new();
    for (hit, citation) in &cited.quotes {
        let mut one = json_of(hit)?;
        let c = json_of(citation)?;
        if let (Value::Object(one), Value::Object(c)) = (&mut one, c) {
            one.extend(c);
        }
        citations.push(one);
    }
    let not_quoted: Vec<String> = cited.not_quoted.iter().map(|r| r.to_string()).collect();
    Ok((
        200,
        json!({
            "query": q,
            "text": String::from_utf8_lossy(&text),
            "citations": citations,
            "not_quoted": not_quoted,
            "partial_left_out": cited.partial_left_out,
        }),
    ))
}

/// `GET /api/show?loc=FILE:57-59&context=`.
fn show(engine: &Engine, query: &str) -> Result<Answer, Failure> {
    let p = Params::parse(query, &["loc", "context"]).map_err(bad)?;
    let loc = p.required("loc").map_err(bad)?;
    let context = p.number("context", 0, 0..=MAX_CONTEXT).map_err(bad)?;
    let excerpt = engine.show(loc, context, None).map_err(failure)?;
    let body = json_of(&excerpt)?;
    Ok((200, body))
}

/// `GET /api/status`: the corpus, the index and its size, its documents and passages, the
/// last update and the one under way. Before a first commit, the counts are null.
fn status_json(engine: &Engine, status: &Status) -> Result<Answer, Failure> {
    let mut body = status.to_json();
    let (mut documents, mut skipped, mut passages) = (Value::Null, Value::Null, Value::Null);
    if status.ready() {
        let files = engine.files().map_err(failure)?;
        let indexed = files.iter().filter(|f| f.skipped().is_none()).count();
        documents = json!(indexed);
        skipped = json!(files.len() - indexed);
        passages = json!(engine.passages().map_err(failure)?);
    }
    if let Value::Object(map) = &mut body {
        let index = engine.index_dir();
        map.insert("index".into(), json!(index.display().to_string()));
        map.insert("index_bytes".into(), json!(size_of_folder(index)));
        map.insert("documents".into(), documents);
        map.insert("skipped".into(), skipped);
        map.insert("passages".into(), passages);
    }
    Ok((200, body))
}

/// The bytes of the files in `dir` and its subfolders (what can be read of them).
fn size_of_folder(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of_folder(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
