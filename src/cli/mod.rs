//! What each subcommand does: a thin client of [`Engine`], which owns the index. Everything a
//! person reads (progress, warnings, advice on what to run) is worded here.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use clap::Parser;

use crate::engine::{CiteOptions, Cited, Engine, EngineOptions, Refresh, SearchOptions};
use crate::error::Error;
use crate::model::{LineSpan, Page};
use crate::present::output;
use crate::store::UpdateReport;

mod args;
mod editor;
mod inventory;
mod location;
pub mod progress;
mod shell;
pub mod wording;

use args::{Cli, ColorArg, Command, Location, QueryArgs, SearchOutput, SortArg};

/// How many of the best hits `--sort date` orders by date.
const SORT_CAP: usize = 1000;
use args::{argument_error, protect_exclusions};
use progress::Terminal;

/// Whether `e` is a write to a reader that went away (`zhsearch … | head`), however wrapped:
/// JSON output fails with serde_json's error around the I/O one.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == broken
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == broken
    })
}

/// Runs the command line; `Ok(false)` when a search found nothing.
pub fn run() -> Result<bool> {
    let cli = match Cli::try_parse_from(protect_exclusions(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => return Err(argument_error(e)),
    };
    anstream::ColorChoice::write_global(match cli.color {
        ColorArg::Auto => anstream::ColorChoice::Auto,
        ColorArg::Always => anstream::ColorChoice::Always,
        ColorArg::Never => anstream::ColorChoice::Never,
    });
    let index = match &cli.command {
        Command::Index { location, .. }
        | Command::Search { location, .. }
        | Command::Cite { location, .. }
        | Command::Show { location, .. }
        | Command::Mcp { location }
        | Command::Serve { location, .. }
        | Command::List { location, .. }
        | Command::Stats { location, .. } => location::index_dir(location)?,
        Command::Completions { .. } | Command::Man { .. } => "index".into(),
    };
    run_command(cli.command).map_err(|e| explain(e, &index))
}

fn run_command(command: Command) -> Result<bool, Error> {
    match command {
        Command::Index {
            location,
            rebuild,
            quiet,
            verbose,
            embed,
        } => {
            let engine = engine(&location)?.embedder(embed.config());
            run_index(&engine, rebuild, quiet, verbose)
        }
        Command::Search {
            location,
            query,
            limit,
            json,
            context,
            output,
        } => {
            let engine = engine(&location)?.semantic(!query.no_semantic);
            let found = run_search(&engine, &query, limit, json, context, &output);
            exit_with(engine, found)
        }
        Command::Cite {
            location,
            query,
            limit,
            format,
            quote,
            to,
            partial,
            semantic,
        } => {
            let engine = cite_engine(&location, &query, semantic)?;
            let options = CiteOptions {
                quote: quote.into(),
                to: to.map(Into::into),
                partial,
                semantic: None,
            };
            let cited = run_cite(&engine, &query, limit, options, format.into());
            exit_with(engine, cited)
        }
        Command::Show {
            location,
            at,
            context,
            json,
        } => run_show(&engine(&location)?, &at, context, json),
        Command::Mcp { location } => {
            let engine = std::sync::Arc::new(long_lived_engine(&location)?);
            crate::mcp::run_stdio(engine).map_err(anyhow::Error::from)?;
            Ok(true)
        }
        Command::Serve {
            location,
            bind,
            allow_origins,
            time_limit_ms,
        } => {
            let limits = crate::serve::Limits {
                time_limit: std::time::Duration::from_millis(time_limit_ms),
                ..Default::default()
            };
            let options = crate::serve::Options {
                bind,
                allow_origins,
                limits,
            };
            crate::serve::run(long_lived_engine(&location)?, options).map(|()| true)
        }
        Command::List { location, json } => inventory::run_list(&engine(&location)?, json),
        Command::Stats { location, json } => inventory::run_stats(&engine(&location)?, json),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man { dir } => shell::man(dir.as_deref()),
    }
}

/// `zhsearch cite`: the query's hits, quoted and printed.
fn run_cite(
    engine: &Engine,
    query: &QueryArgs,
    limit: u64,
    options: CiteOptions,
    format: output::CiteFormat,
) -> Result<bool, Error> {
    let hits = run_query(engine, query, limit)?.hits;
    print_citations(engine.cite(hits, options)?, format)
}

/// `result`, leaving `engine` to the end of the process: a search's engine holds the index's
/// files mapped and its tables, and unmapping and freeing them one by one took about a tenth
/// of a whole-process search. Only for engines that hold no writer (searches never keep one).
fn exit_with<T>(engine: Engine, result: T) -> T {
    std::mem::forget(engine);
    result
}

/// The engine of `cite`: without --semantic, no semantic hit takes the place of a quote.
fn cite_engine(location: &Location, query: &QueryArgs, semantic: bool) -> Result<Engine, Error> {
    Ok(engine(location)?
        .semantic(semantic && !query.no_semantic)
        .quote_semantic(semantic))
}

/// The engine of one command the arguments name (`--ext` is checked here, before anything
/// is read).
fn engine(location: &Location) -> Result<Engine, Error> {
    Ok(long_lived_engine(location)?.one_shot())
}

/// [`engine`] for a process that keeps searching (`serve`, `mcp`).
fn long_lived_engine(location: &Location) -> Result<Engine, Error> {
    Engine::open(EngineOptions {
        index: location::index_dir(location)?,
        corpus: location::corpus(location),
        extensions: location.ext.clone(),
        backend: location.backend.clone(),
    })
}

/// An error as the one line the user reads, with what to do about it.
fn explain(e: Error, index: &Path) -> anyhow::Error {
    let dir = index.display();
    match e {
        Error::NoIndex(_) => anyhow::anyhow!("{e}: build it with `zhsearch index --index {dir}`"),
        Error::Store(e) => wording::store_error(e, index),
        Error::Refused(r) => anyhow::anyhow!(wording::refused_message(&r)),
        Error::Other(e) => e,
        e => anyhow::anyhow!(e),
    }
}

/// `zhsearch index`: builds or updates the index and says what it did.
fn run_index(engine: &Engine, rebuild: bool, quiet: bool, verbose: bool) -> Result<bool, Error> {
    // Skipped files are listed after the files (--verbose), as the report has them.
    let terminal = Terminal::new(!quiet, false);
    let report = engine.update_lexical(rebuild, &terminal)?;
    match engine.embed(&terminal) {
        Err(Error::Embed(crate::embed::EmbedError::Busy)) => {
            eprintln!(
                "zhsearch: semantic tier: {}",
                crate::embed::EmbedError::Busy
            );
        }
        Err(Error::Embed(e)) => {
            // The lexical commit stands: say so with the error (damaged settings say what
            // mends them; another run would fail alike).
            let resumes = !matches!(e, crate::embed::EmbedError::Settings { .. });
            return Err(Error::Other(anyhow::anyhow!(
                "{e}; the index is updated and searchable without the semantic tier{}",
                if resumes {
                    "; `zhsearch index` resumes the embedding"
                } else {
                    ""
                }
            )));
        }
        other => {
            other?;
        }
    }
    if verbose && let Ok(files) = engine.files() {
        for f in &files {
            match (f.encoding(), f.skipped()) {
                (_, Some(why)) => eprintln!("{}\tskipped: {why}", f.source),
                (Some(enc), None) => eprintln!("{}\t{enc}", f.source),
                (None, None) => eprintln!("{}", f.source),
            }
        }
    }
    if !quiet {
        print_skipped(&report);
        let what = if report.is_noop() {
            "index is up to date"
        } else {
            "indexed"
        };
        eprintln!(
            "zhsearch: {what}: {report} — corpus {}, index {}",
            report.corpus.display(),
            engine.index_dir().display()
        );
        if let Some((embedded, total)) = engine.semantic_status() {
            eprintln!("zhsearch: semantic tier: {embedded} of {total} passages embedded");
        }
    }
    Ok(true)
}

/// `zhsearch search`: the hits, as JSON Lines or for a person.
fn run_search(
    engine: &Engine,
    query: &QueryArgs,
    limit: u64,
    json: bool,
    context: usize,
    modes: &SearchOutput,
) -> Result<bool, Error> {
    if modes.count || modes.files_with_matches {
        return editor::run_matches(engine, query, modes);
    }
    let mut hits = run_query(engine, query, limit)?;
    if let Some(why) = &hits.semantic_unavailable {
        eprintln!("zhsearch: warning: no semantic hits: {why}");
    }
    if context > 0 {
        for source in engine.add_context(&mut hits, context)? {
            eprintln!(
                "zhsearch: warning: {source} changed since the index was last updated: no context is shown for its hits"
            );
        }
    }
    // On stderr, so that stdout stays the hits alone for pipes; JSON says it per hit.
    if !json && !hits.full_matches {
        match quoted_only(engine, query) {
            Some(phrases) if hits.is_empty() => eprintln!("zhsearch: no exact match for {phrases}"),
            Some(phrases) => {
                eprintln!("zhsearch: no exact match for {phrases}; closest passages:")
            }
            None if !hits.is_empty() => eprintln!(
                "zhsearch: no passage matches every term; the hits below match part of the query"
            ),
            // Said to a person only: a script reads the exit status.
            None if std::io::stderr().is_terminal() => {
                eprintln!("zhsearch: no passage matches the query")
            }
            None => {}
        }
    }
    // Colours as anstream decides for stdout, into a buffer: one write for the page instead
    // of several a hit.
    let choice = anstream::AutoStream::choice(&std::io::stdout());
    let buffered = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut out = anstream::AutoStream::new(Box::new(buffered) as Box<dyn Write>, choice);
    if json {
        output::write_json(&mut out, &hits)?;
    } else if modes.vimgrep {
        editor::write_vimgrep(&mut out, engine, &hits)?;
    } else {
        output::write_human(&mut out, &hits, &editor::paths(engine, modes)?)?;
    }
    out.flush().map_err(anyhow::Error::from)?;
    drop(out);
    if !json && !modes.vimgrep && std::io::stderr().is_terminal() {
        editor::say_more(engine, query, limit, &hits)?;
    }
    Ok(!hits.is_empty())
}

/// The query's phrases, each in quotes, when every term of it is a quoted phrase.
fn quoted_only(engine: &Engine, query: &QueryArgs) -> Option<String> {
    let q = engine
        .parse(&query.query.join(" "), &SearchOptions::default())
        .ok()?;
    let terms: Vec<_> = q.groups.iter().flatten().collect();
    (!terms.is_empty() && terms.iter().all(|t| t.quoted)).then(|| {
        let quoted: Vec<String> = terms.iter().map(|t| format!("\"{}\"", t.raw)).collect();
        quoted.join(" ")
    })
}

/// `zhsearch show`: lines of a document of the index, as cited.
fn run_show(engine: &Engine, at: &str, context: usize, json: bool) -> Result<bool, Error> {
    LineSpan::parse(at, |_| false)?;
    // Only the documents of the index are read back: bring it up to date first.
    let stale = match refresh(engine)? {
        Refresh::Stale(e) => Some(wording::store_message(&e, engine.index_dir())),
        Refresh::Done(_) => None,
    };
    let excerpt = engine.show(at, context, stale.clone())?;
    if let Some(why) = stale {
        eprintln!("zhsearch: warning: {why}; showing a document its last commit lists");
    }
    let mut out = anstream::stdout().lock();
    output::write_excerpt(&mut out, &excerpt, json)?;
    out.flush().map_err(anyhow::Error::from)?;
    Ok(true)
}

/// `cite`'s output; whether a quote was printed.
fn print_citations(cited: Cited, format: output::CiteFormat) -> Result<bool, Error> {
    for refused in &cited.not_quoted {
        let refused = wording::refused_message(refused);
        eprintln!("zhsearch: warning: not quoted: {refused}");
    }
    let (partial, semantic) = (cited.partial_left_out, cited.semantic_left_out);
    if cited.quotes.is_empty() && partial + semantic > 0 {
        let mut left = Vec::new();
        if partial > 0 {
            left.push(format!(
                "{partial} match part of the query (add --partial to quote them)"
            ));
        }
        if semantic > 0 {
            left.push(format!(
                "{semantic} are similar in meaning only (add --semantic to quote them, labelled)"
            ));
        }
        eprintln!("zhsearch: {}; {}", cited.no_full_match(), left.join("; "));
        return Ok(false);
    }
    let mut out = anstream::stdout().lock();
    output::write_citations(&mut out, &cited.quotes, format)?;
    out.flush().map_err(anyhow::Error::from)?;
    Ok(!cited.quotes.is_empty())
}

/// Brings the index up to date and searches it, saying on stderr what was done.
fn run_query(engine: &Engine, query: &QueryArgs, limit: u64) -> Result<Page, Error> {
    for glob in &query.sources {
        crate::search::query::check_glob(glob)
            .map_err(|e| Error::Other(anyhow::anyhow!("--source: {e}")))?;
    }
    let by_date = query.sort == SortArg::Date;
    let options = SearchOptions {
        limit: if by_date { SORT_CAP } else { limit as usize },
        offset: if by_date { 0 } else { query.offset as usize },
        sources: query.sources.clone(),
        exact: query.exact,
        semantic: None,
    };
    let text = query.query.join(" ");
    let mut page = if query.no_refresh {
        engine.check_given()?;
        engine.search_text(&text, &options)?
    } else {
        let reporter = Terminal::new(true, true);
        let (page, refresh) = engine.search_fresh(&text, &options, &reporter)?;
        report_refresh(engine, &refresh, "searching its last commit");
        if !query.no_semantic {
            note_unembedded(engine, &refresh);
        }
        page
    };
    if by_date {
        // Full matches, then partial ones, then semantic ones (a partial hit never above a
        // full one), each newest first, undated last; a stable sort keeps relevance within
        // one date.
        let key = |h: &crate::model::Hit| crate::search::meta::sort_key(&h.meta);
        page.hits.sort_by(|a, b| {
            let dated = match (key(a), key(b)) {
                (Some(a), Some(b)) => b.cmp(&a),
                (a, b) => b.is_some().cmp(&a.is_some()),
            };
            a.match_kind.cmp(&b.match_kind).then(dated)
        });
        let rows = page
            .hits
            .drain(..)
            .skip(query.offset as usize)
            .take(limit as usize);
        page.hits = rows.collect();
    }
    Ok(page)
}

/// Brings the index up to date before `show`, saying what was done.
fn refresh(engine: &Engine) -> Result<Refresh, Error> {
    let refresh = engine.refresh(&Terminal::new(true, true))?;
    if let Refresh::Done(_) = &refresh {
        report_refresh(engine, &refresh, "");
    }
    Ok(refresh)
}

/// What an update before a search did, on stderr; a stale index is reported with `stale`
/// (what is done instead) by the caller that knows it.
fn report_refresh(engine: &Engine, refresh: &Refresh, stale: &str) {
    match refresh {
        Refresh::Done(report) => {
            if let Some(why) = &report.rebuilt {
                eprintln!(
                    "zhsearch: built the index of {} in {} ({}): {report}",
                    report.corpus.display(),
                    engine.index_dir().display(),
                    wording::rebuild_reason(why)
                );
            } else if !report.is_noop() {
                eprintln!("zhsearch: the corpus changed; index updated: {report}");
            }
        }
        Refresh::Stale(e) if !stale.is_empty() => {
            let why = wording::store_message(e, engine.index_dir());
            eprintln!("zhsearch: warning: {why}; {stale}");
        }
        Refresh::Stale(_) => {}
    }
}

/// A search does not embed (it would wait for the model): after an update, with an embedder,
/// it says on stderr that what the update added is found by its words only for now.
fn note_unembedded(engine: &Engine, refresh: &Refresh) {
    let changed = matches!(refresh, Refresh::Done(r) if !r.is_noop());
    if changed
        && matches!(
            crate::embed::EmbedderConfig::recorded(engine.index_dir()),
            Ok(Some(_))
        )
    {
        eprintln!(
            "zhsearch: note: passages this update added or changed are found by their words only until `zhsearch index` (or a running `zhsearch serve`) embeds them"
        );
    }
}

fn print_skipped(report: &UpdateReport) {
    for (source, why) in &report.skipped {
        eprintln!("zhsearch: warning: skipped {source}: {why}");
    }
}
