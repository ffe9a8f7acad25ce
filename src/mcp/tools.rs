//! The MCP tools `search`, `cite` and `show`: their JSON Schemas, and each call as one
//! [`Engine`] call on an index brought up to date first. A failure is a tool result with
//! `isError: true` and the one-line message, never a crash.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cli::wording;
use crate::engine::{CiteOptions, Engine, Refresh, SearchOptions};
use crate::error::Error;
use crate::model::Hit;
use crate::present::cite::{QuoteMode, Script, Source};
use crate::store::{Progress, Reporter, Said, Warning};

/// Most hits or quotes one call returns.
pub const MAX_LIMIT: usize = 100;
/// Most paragraphs of context `show` adds on each side.
pub const MAX_CONTEXT: usize = 10;
/// Furthest a search pages (`offset`).
pub const MAX_OFFSET: usize = 10_000;

/// The tools, as `tools/list` gives them.
pub fn list() -> Value {
    json!([
        {
            "name": "search",
            "title": "Search the corpus",
            "description": "Full-text search of the Chinese articles of the corpus, in either script \
                (5k瓶颈 finds 5k瓶頸). Terms are all required; \"quoted phrases\", -exclusions, OR, \
                source:GLOB and title:TEXT work as in `zhsearch search`. Each hit has the passage \
                exactly as written, its lines (FILE:LINE) and a ready citation.",
            "inputSchema": search_schema(),
            "outputSchema": {
                "type": "object",
                "properties": {
                    "query": { "type": "string" },
                    "full_matches": { "type": "boolean", "description": "whether some passage matches every term" },
                    "hits": { "type": "array", "items": hit_schema() }
                },
                "required": ["query", "full_matches", "hits"]
            }
        },
        {
            "name": "cite",
            "title": "Quote passages with their source",
            "description": "Search, then quote the best passages verbatim with an attribution \
                (《title》, FILE:LINE, ¶N), as Markdown and as plain text ready to paste.",
            "inputSchema": cite_schema(),
            "outputSchema": {
                "type": "object",
                "properties": {
                    "quotes": { "type": "array", "items": quote_schema() },
                    "not_quoted": { "type": "array", "items": { "type": "string" } },
                    "partial_left_out": { "type": "integer" }
                },
                "required": ["quotes", "not_quoted", "partial_left_out"]
            }
        },
        {
            "name": "show",
            "title": "Read cited lines",
            "description": "The lines of a corpus file exactly as written (FILE:LINE, FILE:LINE-LINE \
                or FILE#L57-L59, as search and cite give them), with an attribution and optional \
                paragraphs around.",
            "inputSchema": show_schema(),
            "outputSchema": {
                "type": "object",
                "properties": {
                    "source": { "type": "string" },
                    "line_start": { "type": "integer" },
                    "line_end": { "type": "integer" },
                    "text": { "type": "string" },
                    "attribution": { "type": "string" }
                },
                "required": ["source", "line_start", "line_end", "text", "attribution"]
            }
        }
    ])
}

fn search_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": { "type": "string", "minLength": 1, "maxLength": 1000, "description": "the query" },
            "limit": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10 },
            "offset": { "type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0 },
            "source": { "type": "array", "items": { "type": "string" }, "description": "only files whose path matches one of these globs" },
            "semantic": { "type": "boolean", "description": "also passages similar in meaning only (labelled), when the index has an embedder [default: as the index]" }
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

fn cite_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": { "type": "string", "minLength": 1, "maxLength": 1000 },
            "limit": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 3 },
            "quote": { "type": "string", "enum": ["sentence", "paragraph"], "default": "sentence" },
            "to": { "type": "string", "enum": ["simplified", "traditional"], "description": "also the quote converted to this script (labelled)" },
            "partial": { "type": "boolean", "default": false, "description": "also quote passages matching part of the query (labelled)" },
            "semantic": { "type": "boolean", "default": false, "description": "also quote passages similar in meaning only (labelled: they may not say what the query says)" }
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

fn show_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "location": { "type": "string", "description": "FILE:LINE[-LINE] relative to the corpus" },
            "context": { "type": "integer", "minimum": 0, "maximum": MAX_CONTEXT, "default": 0 }
        },
        "required": ["location"],
        "additionalProperties": false
    })
}

fn hit_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "source": { "type": "string" },
            "line_start": { "type": "integer" },
            "line_end": { "type": "integer" },
            "paragraph": { "type": "integer" },
            "match": { "type": "string", "enum": ["all", "partial", "semantic"] },
            "similarity": { "type": "number", "description": "for a semantic hit: how close in meaning (cosine)" },
            "text": { "type": "string" },
            "highlights": { "type": "array", "items": { "type": "array", "items": { "type": "integer" } } },
            "title": { "type": ["string", "null"] },
            "citation": { "type": "string", "description": "《title》, FILE:LINE, ¶N" }
        },
        "required": ["source", "line_start", "line_end", "match", "text", "citation"]
    })
}

fn quote_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "source": { "type": "string" },
            "line_start": { "type": "integer" },
            "line_end": { "type": "integer" },
            "match": { "type": "string", "enum": ["all", "partial", "semantic"] },
            "quote": { "type": "string" },
            "attribution": { "type": "string" },
            "markdown": { "type": "string" },
            "plain": { "type": "string" }
        },
        "required": ["source", "line_start", "line_end", "quote", "attribution", "markdown", "plain"]
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    query: String,
    #[serde(default = "ten")]
    limit: usize,
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    source: Vec<String>,
    #[serde(default)]
    semantic: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CiteArgs {
    query: String,
    #[serde(default = "three")]
    limit: usize,
    #[serde(default)]
    quote: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    partial: bool,
    #[serde(default)]
    semantic: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShowArgs {
    location: String,
    #[serde(default)]
    context: usize,
}

fn ten() -> usize {
    10
}

fn three() -> usize {
    3
}

/// A `tools/call`: the tool's result (maybe `isError`), or why the call names no tool (a
/// JSON-RPC error).
pub fn call(engine: &Engine, params: &Value) -> Result<Value, String> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or("tools/call needs a tool name")?;
    let args = match params.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a) => a.clone(),
    };
    let outcome = match name {
        "search" => parse(args).and_then(|a| search(engine, a)),
        "cite" => parse(args).and_then(|a| cite(engine, a)),
        "show" => parse(args).and_then(|a| show(engine, a)),
        other => return Err(format!("unknown tool: {other}")),
    };
    Ok(match outcome {
        Ok((structured, text)) => json!({
            "content": [{ "type": "text", "text": text }],
            "structuredContent": structured,
            "isError": false,
        }),
        Err(why) => json!({
            "content": [{ "type": "text", "text": why }],
            "isError": true,
        }),
    })
}

/// A tool's arguments, or the one line saying what is wrong with them.
fn parse<T: for<'de> Deserialize<'de>>(args: Value) -> Result<T, String> {
    serde_json::from_value(args).map_err(|e| format!("bad arguments: {e}"))
}

/// What a tool gives: the structured result and its text for the model.
type Outcome = Result<(Value, String), String>;

fn search(engine: &Engine, a: SearchArgs) -> Outcome {
    let options = SearchOptions {
        limit: bounded("limit", a.limit, 1, MAX_LIMIT)?,
        offset: bounded("offset", a.offset, 0, MAX_OFFSET)?,
        sources: a.source,
        exact: false,
        semantic: a.semantic,
    };
    let query = engine
        .parse(&a.query, &options)
        .map_err(|e| said(engine, e))?;
    refresh(engine)?;
    let page = engine
        .search(&query, &options)
        .map_err(|e| said(engine, e))?;
    let hits: Vec<Value> = page.hits.iter().map(hit_json).collect();
    let mut text = String::new();
    for (hit, json) in page.hits.iter().zip(&hits) {
        let kind = match hit.match_kind {
            crate::model::MatchKind::All => "",
            crate::model::MatchKind::Partial => " [partial match]",
            crate::model::MatchKind::Semantic => " [similar in meaning only]",
        };
        text.push_str(&format!(
            "{}{kind}\n{}\n\n",
            json["citation"].as_str().unwrap_or(""),
            hit.text
        ));
    }
    if hits.is_empty() {
        text.push_str("no passage found");
    }
    let structured = json!({ "query": a.query, "full_matches": page.full_matches, "hits": hits });
    Ok((structured, text))
}

/// A hit as `search --json` writes it, with its ready citation.
fn hit_json(hit: &Hit) -> Value {
    let mut value = serde_json::to_value(hit).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("citation".into(), Source::of_hit(hit).attribution().into());
    }
    value
}

fn cite(engine: &Engine, a: CiteArgs) -> Outcome {
    let quote = match a.quote.as_deref() {
        None | Some("sentence") => QuoteMode::Sentence,
        Some("paragraph") => QuoteMode::Paragraph,
        Some(other) => {
            return Err(format!(
                "quote must be sentence or paragraph, not {other:?}"
            ));
        }
    };
    let to = match a.to.as_deref() {
        None => None,
        Some("simplified") => Some(Script::Simplified),
        Some("traditional") => Some(Script::Traditional),
        Some(other) => {
            return Err(format!(
                "to must be simplified or traditional, not {other:?}"
            ));
        }
    };
    // As `zhsearch cite`: without `semantic`, no semantic hit takes the place of a quote.
    let options = SearchOptions {
        limit: bounded("limit", a.limit, 1, MAX_LIMIT)?,
        semantic: Some(a.semantic),
        ..SearchOptions::default()
    };
    let query = engine
        .parse(&a.query, &options)
        .map_err(|e| said(engine, e))?;
    refresh(engine)?;
    let page = engine
        .search(&query, &options)
        .map_err(|e| said(engine, e))?;
    let options = CiteOptions {
        quote,
        to,
        partial: a.partial,
        semantic: Some(a.semantic),
    };
    let cited = engine
        .cite(page.hits, options)
        .map_err(|e| said(engine, e))?;
    let mut quotes = Vec::new();
    let mut text = String::new();
    for (hit, citation) in &cited.quotes {
        let mut q = serde_json::to_value(citation).unwrap_or(Value::Null);
        if let Some(object) = q.as_object_mut() {
            object.insert("source".into(), hit.source.clone().into());
            object.insert("line_start".into(), hit.line_start.into());
            object.insert("line_end".into(), hit.line_end.into());
            object.insert(
                "match".into(),
                serde_json::to_value(hit.match_kind).unwrap_or(Value::Null),
            );
        }
        quotes.push(q);
        text.push_str(&format!("{}\n\n", citation.markdown));
    }
    let not_quoted: Vec<String> = cited
        .not_quoted
        .iter()
        .map(wording::refused_message)
        .collect();
    if quotes.is_empty() && cited.partial_left_out > 0 {
        text.push_str(&format!(
            "{}; {} match part of the query: pass partial: true to quote them",
            cited.no_full_match(),
            cited.partial_left_out
        ));
    } else if quotes.is_empty() {
        text.push_str("no passage found");
    }
    let structured = json!({ "quotes": quotes, "not_quoted": not_quoted, "partial_left_out": cited.partial_left_out });
    Ok((structured, text))
}

fn show(engine: &Engine, a: ShowArgs) -> Outcome {
    let context = bounded("context", a.context, 0, MAX_CONTEXT)?;
    let stale = match refresh(engine)? {
        Refresh::Stale(e) => Some(wording::store_message(&e, engine.index_dir())),
        Refresh::Done(_) => None,
    };
    let excerpt = engine
        .show(&a.location, context, stale)
        .map_err(|e| said(engine, e))?;
    let text = format!("{}\n\n— {}", excerpt.text, excerpt.attribution);
    let structured = serde_json::to_value(&excerpt).map_err(|e| e.to_string())?;
    Ok((structured, text))
}

/// Brings the index up to date (or builds it); an index that cannot be written now answers
/// from its last commit.
fn refresh(engine: &Engine) -> Result<Refresh, String> {
    let refresh = engine.refresh(&Stderr);
    SAID.finish();
    let refresh = refresh.map_err(|e| said(engine, e))?;
    if let Refresh::Stale(e) = &refresh {
        let why = wording::store_message(e, engine.index_dir());
        eprintln!("zhsearch mcp: warning: {why}; answering from its last commit");
    }
    Ok(refresh)
}

/// The warnings of the updates, each said once while it lasts (every tool call updates).
static SAID: Said = Said::new();

/// Says an update's warnings on stderr (stdout is the protocol's), when news.
struct Stderr;

impl Reporter for Stderr {
    fn warning(&self, w: &Warning) {
        if SAID.news(w) {
            eprintln!("zhsearch mcp: warning: {w}");
        }
    }
    fn progress(&self, _: Progress) {}
}

fn bounded(name: &str, value: usize, min: usize, max: usize) -> Result<usize, String> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{name} must be {min} to {max}, not {value}"))
    }
}

/// An error as the one line a tool result says, with the advice the command line gives.
fn said(engine: &Engine, e: Error) -> String {
    let dir = engine.index_dir();
    match e {
        Error::NoIndex(_) => format!(
            "{e}: build it with `zhsearch index --index {}`",
            dir.display()
        ),
        Error::Store(e) => wording::store_message(&e, dir),
        Error::Refused(r) => wording::refused_message(&r),
        Error::Other(e) => format!("{e:#}"),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MatchKind;

    /// The schema names every kind of match a hit can have.
    #[test]
    fn the_hit_schema_names_every_match_kind() {
        let schema = hit_schema();
        let kinds = schema["properties"]["match"]["enum"].as_array().unwrap();
        for kind in [MatchKind::All, MatchKind::Partial, MatchKind::Semantic] {
            assert!(
                kinds.contains(&serde_json::to_value(kind).unwrap()),
                "{kind:?}"
            );
        }
    }
}
