//! Command-line flags and what each subcommand does with them.

pub mod progress;
pub mod wording;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::model::{Hit, LineSpan, MatchKind, Page};
use crate::present::cite::{self, QuoteMode, Script};
use crate::present::output::{self, CiteFormat};
use crate::present::show;
use crate::search::Searcher;
use crate::search::query;
use crate::store::{self, IndexStore, StoreError, UpdateOptions, UpdateReport};

const EXAMPLES: &str = "\
Examples:
  zhsearch search 5k瓶颈                 passages with 5k瓶颈 (or 5k瓶頸), best first
  zhsearch search '\"开源不是慈善\"'        an exact phrase, in either script
  zhsearch search 苹果 阿里巴巴 合作      all three terms, anywhere in the passage
  zhsearch search 钉 --json --limit 5    JSON Lines, one hit per line
  zhsearch index --corpus ~/notes --index ~/.cache/notes-index

Exit status: 0 when something was found (search: a hit printed, full or partial), 1 when
nothing was, 2 on error.";

#[derive(Parser, Debug)]
#[command(
    name = "zhsearch",
    version,
    about = "Full-text search for Chinese documents in Simplified and Traditional script",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Location {
    /// Folder of documents (.txt, .md, .markdown) [default: the corpus the index was built
    /// from, else ./corpus]; changing it takes `zhsearch index --rebuild`
    #[arg(long, global = true, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Folder of the index: new, empty, or one zhsearch made (others are refused)
    #[arg(long, global = true, value_name = "DIR", default_value = "index")]
    pub index: PathBuf,
    /// File name extensions of documents, comma-separated [default: as the index remembers,
    /// else txt,md,markdown]; changing them takes `zhsearch index --rebuild`
    #[arg(long, global = true, value_name = "EXT,...", value_delimiter = ',')]
    pub ext: Option<Vec<String>>,
}

impl Location {
    /// The options of an update; `--ext` is checked here, before anything is read.
    fn update_options(&self, rebuild: bool) -> Result<UpdateOptions> {
        Ok(UpdateOptions {
            rebuild,
            extensions: self
                .ext
                .as_deref()
                .map(store::parse_extensions)
                .transpose()
                .map_err(|e| wording::store_error(e, &self.index))?,
        })
    }

    /// Brings the index up to date (`current` is the store already open); the error worded.
    fn update(
        &self,
        options: &UpdateOptions,
        current: Option<&IndexStore>,
        reporter: &progress::Terminal,
    ) -> Result<(UpdateReport, IndexStore), StoreError> {
        store::update(
            &self.index,
            self.corpus.as_deref(),
            options,
            current,
            reporter,
        )
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the index, or bring it up to date with the corpus (only changed files are read)
    Index {
        #[command(flatten)]
        location: Location,
        /// Reindex every file; also repairs a damaged index and changes --corpus or --ext
        #[arg(long)]
        rebuild: bool,
        /// Print nothing but errors (and no progress bar)
        #[arg(long, short)]
        quiet: bool,
        /// List every file with the encoding it was read with, and the skipped ones
        #[arg(long, short)]
        verbose: bool,
    },
    /// Search the corpus (the index is built or updated first when needed)
    #[command(after_help = QUERY_HELP)]
    Search {
        #[command(flatten)]
        location: Location,
        #[command(flatten)]
        query: QueryArgs,
        /// Number of hits to print
        #[arg(long, short = 'n', default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        limit: u64,
        /// JSON Lines output, one hit per line
        #[arg(long)]
        json: bool,
        /// Also show N paragraphs before and after each hit
        #[arg(long, short = 'C', default_value_t = 0, value_name = "N")]
        context: usize,
    },
    /// Quote the best passages ready to paste, with an attribution
    #[command(after_help = CITE_HELP)]
    Cite {
        #[command(flatten)]
        location: Location,
        #[command(flatten)]
        query: QueryArgs,
        /// Number of citations
        #[arg(long, short = 'n', default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
        limit: u64,
        #[arg(long, value_enum, default_value = "markdown")]
        format: CiteFormat,
        /// Quote the sentence(s) holding the match, or the whole paragraph
        #[arg(long, value_enum, default_value = "sentence")]
        quote: QuoteMode,
        /// Also give the quote converted to this script (labelled as converted)
        #[arg(long, value_enum)]
        to: Option<Script>,
        /// Also quote passages that match only part of the query (labelled as partial)
        #[arg(long)]
        partial: bool,
    },
    /// Print lines of a corpus file, as cited (FILE:LINE, FILE:LINE-LINE or FILE#L57-L59)
    Show {
        #[command(flatten)]
        location: Location,
        /// FILE:LINE[-LINE], relative to the corpus
        #[arg(value_name = "LOCATION")]
        at: String,
        /// Also show N paragraphs before and after
        #[arg(long, short = 'C', default_value_t = 0, value_name = "N")]
        context: usize,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
}

const CITE_HELP: &str = "\
Examples:
  zhsearch cite 拿命换来的                    a block quote and — 《title》, file:line, ¶N
  zhsearch cite '\"开源不是慈善\"' --format plain
  zhsearch cite 拿命换来的 --to simplified    also the quote in Simplified (labelled)
  zhsearch show 001_f0acb97a223aa501.txt:57  check a citation later

The quote is always a verbatim slice of the source. Same query language as `search`.
Only passages that match every term are quoted, unless --partial is given (each partial
quote is then labelled as such).

Exit status: 0 when something was quoted, 1 when nothing was (with one line on stderr when
partial matches exist), 2 on error.";

/// The query and what narrows it, shared by the commands that search.
#[derive(Args, Debug, Clone)]
pub struct QueryArgs {
    /// Terms (all required), "quoted phrases", -exclusions, OR, source:GLOB, title:TEXT
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,
    /// Only files whose path (relative to the corpus) matches this glob; repeatable
    #[arg(long = "source", value_name = "GLOB")]
    pub sources: Vec<String>,
    /// Number of best hits to skip (for paging)
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
}

impl QueryArgs {
    pub fn parse(&self) -> Result<query::Query> {
        let mut q = query::parse(&self.query.join(" "))?;
        for glob in &self.sources {
            query::check_glob(glob).map_err(|e| anyhow::anyhow!("--source: {e}"))?;
        }
        q.sources.extend(self.sources.iter().cloned());
        Ok(q)
    }
}

const QUERY_HELP: &str = "\
Query syntax:
  5k瓶颈             a term: passages containing it as a string (in either script, inside
                     longer words too), or else all of its words; exact strings rank first.
                     Regional forms count too: 软件 finds 軟體, 伺服器 finds 服务器.
  苹果 合作           several terms: all are required
  \"开源不是慈善\"      a quoted phrase: exactly the passages that contain it (no variants)
  -广告 -\"付费阅读\"   leave out passages containing a term or phrase
  软件 OR 硬件        either term is enough
  source:'00*.txt'   only files whose path matches the glob (* ? ** [ab])
  title:阿里          only documents whose title contains the text
Letters are matched without regard to case or width (５Ｋ = 5k). A bare term matches a
passage that holds it as a string, or that holds each of its words of two characters or
more as words and each of its other characters. When fewer passages than --limit match
every term, passages matching most of the words follow, marked partial (`match: partial`
in JSON). At most 1000 characters (spaces included) and 100 terms.
An exclusion starting with an ASCII letter must come after `--` or inside one quoted
argument ('软件 -ads'), so that it is not read as an option.

Exit status: 0 when a hit was printed (full or partial), 1 when none was, 2 on error.";

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
            let (page, store) = run_query(&location, &query, limit)?;
            let hits = as_indexed(&show::Listed::of_store(&store), page.hits);
            print_citations(hits, partial, quote, to, format)
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

/// clap's error for a bad argument as the one line every error gets (its tip included);
/// `--help` and `--version` print and exit as usual.
fn argument_error(e: clap::Error) -> anyhow::Error {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("bad arguments");
    let mut what = first.strip_prefix("error: ").unwrap_or(first).to_string();
    // "the following required arguments were not provided:" names them on the next line.
    if what.ends_with(':') {
        what = format!("{what} {}", lines.next().unwrap_or("?"));
    }
    match lines.find_map(|l| l.strip_prefix("tip: ")) {
        Some(tip) => anyhow::anyhow!("{what} ({tip}); see `zhsearch --help`"),
        None => anyhow::anyhow!("{what}: see `zhsearch --help`"),
    }
}

/// `zhsearch index`: builds or updates the index and says what it did.
fn run_index(location: &Location, rebuild: bool, quiet: bool, verbose: bool) -> Result<bool> {
    let options = location.update_options(rebuild)?;
    // Skipped files are listed after the files (--verbose), as the report has them.
    let reporter = progress::Terminal::new(!quiet, false);
    let (report, store) = location
        .update(&options, None, &reporter)
        .map_err(|e| wording::store_error(e, &location.index))?;
    if verbose {
        for f in store.files() {
            match (f.encoding(), f.skipped()) {
                (_, Some(why)) => eprintln!("{}\tskipped: {why}", f.source),
                (Some(enc), None) => eprintln!("{}\t{enc}", f.source),
                (None, None) => eprintln!("{}", f.source),
            }
        }
    }
    if !quiet {
        for (source, why) in &report.skipped {
            eprintln!("zhsearch: warning: skipped {source}: {why}");
        }
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
    let (mut hits, store) = run_query(location, query, limit)?;
    if context > 0 {
        add_context(&show::Listed::of_store(&store), &mut hits, context)?;
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
    let current = IndexStore::open(&location.index).ok().flatten();
    let (store, _, not_updated) = refresh(location, current.as_ref())?;
    let mut listed = show::Listed::of_store(&store);
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

/// Parses the query, brings the index up to date and searches; the hits and the store they
/// come from.
fn run_query(location: &Location, query: &QueryArgs, limit: u64) -> Result<(Page, IndexStore)> {
    let (limit, offset) = (limit as usize, query.offset as usize);
    // The index as last committed is opened, then checked (a stat of every file) beside
    // parsing the query and searching that commit; that search stands unless the check finds
    // the corpus changed. When the index cannot be opened, the update says why.
    let (refreshed, parsed, early) = std::thread::scope(|scope| {
        let (opened, current) = std::sync::mpsc::channel::<Option<IndexStore>>();
        let (parsed_ok, may_build) = std::sync::mpsc::channel::<bool>();
        let check = scope.spawn(move || {
            let current = IndexStore::open(&location.index).ok().flatten();
            let _ = opened.send(current.clone());
            // Before a first build, a query that will be refused must not leave an index
            // behind.
            if current.is_none() && !may_build.recv().unwrap_or(false) {
                return Err(anyhow::anyhow!("the query was refused"));
            }
            refresh(location, current.as_ref())
        });
        let parsed = query.parse();
        let _ = parsed_ok.send(parsed.is_ok());
        let current = current.recv().ok().flatten();
        let early = match (&parsed, current) {
            (Ok(parsed), Some(store)) => open_searcher(store, &location.index)
                .and_then(|s| s.page(parsed, limit, offset))
                .ok(),
            _ => None,
        };
        let refreshed = check
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the freshness check panicked")));
        (refreshed, parsed, early)
    });
    let parsed = parsed?;
    let (store, changed, not_updated) = refreshed?;
    if let Some(why) = not_updated {
        eprintln!("zhsearch: warning: {why}; searching its last commit");
    }
    if let (false, Some(hits)) = (changed, early) {
        return Ok((hits, store));
    }
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
    let page = open_searcher(store.clone(), &location.index)
        .and_then(|s| s.page(&parsed, limit, offset))
        .map_err(damaged)?;
    Ok((page, store))
}

/// Opens a searcher on the last commit. Readers take no lock (they may not be able to write
/// one), so a writer's garbage collection may delete the files of a segment that a commit
/// replaced between reading `meta.json` and opening them: the open is then tried again, on
/// the new commit.
fn open_searcher(store: IndexStore, dir: &Path) -> Result<Searcher> {
    let mut tries = 0;
    let mut index = store.index().clone();
    loop {
        match Searcher::new(index) {
            Err(e) if tries < 2 && store::is_missing_file(&e) => {
                tries += 1;
                index = match IndexStore::open(dir) {
                    Ok(Some(store)) => store.index().clone(),
                    Ok(None) => return Err(e),
                    Err(e) => return Err(wording::store_error(e, dir)),
                };
            }
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

/// `-软件` and `-"…"` are exclusions, not options (no option starts with a non-ASCII
/// character or a quote): move them after a `--` so that clap reads them as query words.
fn protect_exclusions(args: Vec<OsString>) -> Vec<OsString> {
    if args.iter().any(|a| a == "--") {
        return args;
    }
    let is_exclusion = |a: &OsString| {
        a.to_str().is_some_and(|s| {
            let mut chars = s.chars();
            chars.next() == Some('-')
                && chars
                    .next()
                    .is_some_and(|c| !c.is_ascii() || c == '"' || c == '\'')
        })
    };
    let (moved, mut kept): (Vec<OsString>, Vec<OsString>) =
        args.into_iter().partition(|a| is_exclusion(a));
    if !moved.is_empty() {
        kept.push("--".into());
        kept.extend(moved);
    }
    kept
}

/// Brings the index up to date before a search, saying on stderr what was done; the store
/// to search, whether its content changed, and why it could not be updated when it could not
/// be written (another process is writing it, it is read-only, the disk is full): the caller
/// then answers from its last commit, and says so.
fn refresh(
    location: &Location,
    current: Option<&IndexStore>,
) -> Result<(IndexStore, bool, Option<String>)> {
    let options = location.update_options(false)?;
    let reporter = progress::Terminal::new(true, true);
    match location.update(&options, current, &reporter) {
        Ok((report, store)) => {
            if let Some(why) = &report.rebuilt {
                eprintln!(
                    "zhsearch: built the index of {} in {} ({}): {report}",
                    report.corpus.display(),
                    location.index.display(),
                    wording::rebuild_reason(why)
                );
            } else if !report.is_noop() {
                eprintln!("zhsearch: the corpus changed; index updated: {report}");
            }
            Ok((store, !report.is_noop(), None))
        }
        // The index cannot be written now (busy, read-only, disk full): its last commit
        // answers.
        Err(e) if e.is_write_failure() => {
            let last = match current {
                Some(store) => Some(store.clone()),
                None => IndexStore::open(&location.index).ok().flatten(),
            };
            match last {
                Some(store) => Ok((
                    store,
                    false,
                    Some(wording::store_message(&e, &location.index)),
                )),
                None => Err(wording::store_error(e, &location.index)),
            }
        }
        Err(e) => Err(wording::store_error(e, &location.index)),
    }
}
