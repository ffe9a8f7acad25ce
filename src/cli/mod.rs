//! Command-line flags and what each subcommand does with them.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use clap::Parser;

use crate::model::{Hit, LineSpan, MatchKind, Page};
use crate::present::cite::{self, QuoteMode, Script};

mod args;
use crate::present::output::{self, CiteFormat};
use crate::present::show;
use crate::search::Searcher;
use crate::store::manifest;
use crate::store::update::{self, UpdateReport};
use crate::store::{self, StoreError};
pub use args::{Cli, Command, Location, QueryArgs};
use args::{argument_error, protect_exclusions};

/// Runs the command line; `Ok(false)` when a search found nothing.
pub fn run() -> Result<bool> {
    let cli = match Cli::try_parse_from(protect_exclusions(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => return Err(argument_error(e)),
    };
    match cli.command {
        Command::Index {
            location,
            rebuild,
            quiet,
            verbose,
        } => run_index(&location, rebuild, quiet, verbose),
        Command::Search {
            location,
            query,
            limit,
            json,
            context,
        } => run_search(&location, &query, limit, json, context),
        Command::Cite {
            location,
            query,
            limit,
            format,
            quote,
            to,
            partial,
        } => {
            let hits = run_query(&location, &query, limit)?.hits;
            let hits = as_indexed(&show::Listed::of_index(&location.index)?, hits);
            print_citations(
                hits,
                partial,
                quote.into(),
                to.map(Script::from),
                format.into(),
            )
        }
        Command::Show {
            location,
            at,
            context,
            json,
        } => run_show(&location, &at, context, json),
    }
}

/// The hits whose file is still as the index recorded it. A quote is a verbatim slice of
/// the file only then: a file changed behind an index that could not be updated (read-only,
/// busy, disk full), or gone, is left out with a warning naming it.
fn as_indexed(listed: &show::Listed, hits: Vec<Hit>) -> Vec<Hit> {
    let mut verdicts: Vec<(String, bool)> = Vec::new();
    hits.into_iter()
        .filter(|h| {
            if let Some((_, ok)) = verdicts.iter().find(|(s, _)| *s == h.source) {
                return *ok;
            }
            let ok = match listed.open(&h.source) {
                Ok(_) => true,
                Err(e) => {
                    eprintln!("zhsearch: warning: not quoted: {e}");
                    false
                }
            };
            verdicts.push((h.source.clone(), ok));
            ok
        })
        .collect()
}

/// `zhsearch index`: builds or updates the index and says what it did.
fn run_index(location: &Location, rebuild: bool, quiet: bool, verbose: bool) -> Result<bool> {
    let options = location.update_options(rebuild, !quiet)?;
    let report = update::update(location.corpus.as_deref(), &location.index, options)?;
    if verbose && let Ok(Some(m)) = manifest::read(&location.index) {
        for f in &m.files {
            match (&f.encoding, &f.skipped) {
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
            location.index.display()
        );
    }
    Ok(true)
}

/// `zhsearch search`: the hits, as JSON Lines or for a person.
fn run_search(
    location: &Location,
    query: &QueryArgs,
    limit: u64,
    json: bool,
    context: usize,
) -> Result<bool> {
    let mut hits = run_query(location, query, limit)?;
    if context > 0 {
        add_context(
            &show::Listed::of_index(&location.index)?,
            &mut hits,
            context,
        )?;
    }
    // On stderr, so that stdout stays the hits alone for pipes; JSON says it per hit.
    if !json && !hits.full_matches && !hits.is_empty() {
        eprintln!(
            "zhsearch: no passage matches every term; the hits below match part of the query"
        );
    }
    let mut out = anstream::stdout().lock();
    if json {
        output::write_json(&mut out, &hits)?;
    } else {
        output::write_human(&mut out, &hits)?;
    }
    out.flush()?;
    Ok(!hits.is_empty())
}

/// `zhsearch show`: lines of a document of the index, as cited.
fn run_show(location: &Location, at: &str, context: usize, json: bool) -> Result<bool> {
    LineSpan::parse(at, |_| false)?;
    // Only the documents of the index are read back: bring it up to date first.
    let (_, _, not_updated) = refresh(location)?;
    let mut listed = show::Listed::of_index(&location.index)?;
    let loc = LineSpan::parse(at, |s| listed.contains(s))?;
    // Why the index is stale goes into the refusal of a changed file, on its one line.
    listed.not_updated = not_updated.clone();
    let excerpt = show::excerpt(&listed, &loc, context)?;
    if let Some(why) = not_updated {
        eprintln!("zhsearch: warning: {why}; showing a document its last commit lists");
    }
    let mut out = anstream::stdout().lock();
    output::write_excerpt(&mut out, &excerpt, json)?;
    out.flush()?;
    Ok(true)
}

/// `cite`'s output: full matches only, unless `partial`; whether a quote was printed.
fn print_citations(
    hits: Vec<Hit>,
    partial: bool,
    quote: QuoteMode,
    to: Option<Script>,
    format: CiteFormat,
) -> Result<bool> {
    let found = hits.len();
    let hits: Vec<Hit> = hits
        .into_iter()
        .filter(|h| partial || h.match_kind == MatchKind::All)
        .collect();
    if hits.is_empty() && found > 0 {
        eprintln!(
            "zhsearch: no passage matches every term; {found} match part of the query: add --partial to quote them"
        );
        return Ok(false);
    }
    let cited: Vec<_> = hits
        .into_iter()
        .map(|h| {
            let c = cite::cite(&h, quote, to);
            (h, c)
        })
        .collect();
    let mut out = anstream::stdout().lock();
    output::write_citations(&mut out, &cited, format)?;
    out.flush()?;
    Ok(!cited.is_empty())
}

/// Parses the query, brings the index up to date and searches.
fn run_query(location: &Location, query: &QueryArgs, limit: u64) -> Result<Page> {
    let (limit, offset) = (limit as usize, query.offset as usize);
    // Before a first build, a query that will be refused must not leave an index behind.
    if manifest::read_head(&location.index).is_none() {
        query.parse()?;
    }
    // The freshness check (a stat of every file) runs beside parsing the query and searching
    // the last commit; that search stands unless the check finds the corpus changed.
    let (refreshed, parsed, early) = std::thread::scope(|scope| {
        let check = scope.spawn(|| refresh(location));
        let parsed = query.parse();
        let early = parsed.as_ref().ok().and_then(|parsed| {
            open_searcher(|| store::open_for_search(&location.index))
                .and_then(|s| s.page(parsed, limit, offset))
                .ok()
        });
        let refreshed = check
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the freshness check panicked")));
        (refreshed, parsed, early)
    });
    let parsed = parsed?;
    let (index, changed, not_updated) = refreshed?;
    if let Some(why) = not_updated {
        eprintln!("zhsearch: warning: {why}; searching its last commit");
    }
    if let (false, Some(hits)) = (changed, early) {
        return Ok(hits);
    }
    let searcher = match index {
        Some(index) => open_searcher(|| Ok(index.clone())),
        None => open_searcher(|| store::open_for_search(&location.index)),
    };
    let damaged = |e: anyhow::Error| {
        if e.downcast_ref::<StoreError>().is_some() {
            return e;
        }
        let dir = location.index.display();
        anyhow::anyhow!(
            "the index in {dir} is damaged ({}): run `zhsearch index --rebuild --index {dir}`",
            e.to_string().lines().next().unwrap_or("")
        )
    };
    searcher
        .and_then(|s| s.page(&parsed, limit, offset))
        .map_err(damaged)
}

/// Opens a searcher on the last commit. Readers take no lock (they may not be able to write
/// one), so a writer's garbage collection may delete the files of a segment that a commit
/// replaced between reading `meta.json` and opening them: the open is then tried again, on
/// the new commit.
fn open_searcher(open: impl Fn() -> Result<tantivy::Index>) -> Result<Searcher> {
    let mut tries = 0;
    loop {
        match open().and_then(Searcher::new) {
            Err(e) if tries < 2 && store::is_missing_file(&e) => tries += 1,
            other => return other,
        }
    }
}

/// Fills in the paragraphs around each hit, reading each file once. A file that changed since
/// the index was last updated gives no context (its paragraphs are not those of the hit),
/// with one warning naming it.
fn add_context(listed: &show::Listed, hits: &mut [crate::model::Hit], n: usize) -> Result<()> {
    let mut loaded: Vec<(String, Option<show::LoadedDocument>)> = Vec::new();
    for hit in hits {
        if !loaded.iter().any(|(s, _)| *s == hit.source) {
            let doc = match show::load(listed, &hit.source) {
                Ok(doc) => Some(doc),
                Err(e) if matches!(e.downcast_ref(), Some(show::Refused::Stale { .. })) => {
                    eprintln!(
                        "zhsearch: warning: {} changed since the index was last updated: no context is shown for its hits",
                        hit.source
                    );
                    None
                }
                Err(e) => return Err(e),
            };
            loaded.push((hit.source.clone(), doc));
        }
        let Some((_, Some(doc))) = loaded.iter().find(|(s, _)| *s == hit.source) else {
            continue;
        };
        (hit.context_before, hit.context_after) = doc.context(hit.line_start, hit.line_end, n);
    }
    Ok(())
}

/// Brings the index up to date before a search, saying on stderr what was done; the index
/// opened, whether its content changed, and why it could not be updated when it could not be
/// written (another process is writing it, it is read-only, the disk is full): the caller
/// then answers from its last commit, and says so.
fn refresh(location: &Location) -> Result<(Option<tantivy::Index>, bool, Option<String>)> {
    let progress = std::io::stderr().is_terminal();
    let options = location.update_options(false, progress)?;
    match update::update(location.corpus.as_deref(), &location.index, options) {
        Ok(report) => {
            print_skipped(&report);
            if let Some(why) = &report.rebuilt {
                eprintln!(
                    "zhsearch: built the index of {} in {} ({why}): {report}",
                    report.corpus.display(),
                    location.index.display()
                );
            } else if !report.is_noop() {
                eprintln!("zhsearch: the corpus changed; index updated: {report}");
            }
            let changed = !report.is_noop();
            Ok((report.index, changed, None))
        }
        // The index cannot be written now (busy, read-only, disk full): its last commit
        // answers.
        Err(e)
            if e.downcast_ref::<StoreError>()
                .is_some_and(StoreError::is_write_failure)
                && has_index(&location.index) =>
        {
            Ok((None, false, Some(e.to_string())))
        }
        Err(e) => Err(e),
    }
}

fn has_index(dir: &Path) -> bool {
    manifest::read_head(dir).is_some()
}

fn print_skipped(report: &UpdateReport) {
    for (source, why) in &report.skipped {
        eprintln!("zhsearch: warning: skipped {source}: {why}");
    }
}
