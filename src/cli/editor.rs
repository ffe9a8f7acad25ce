//! Search output for editors and scripts: `--vimgrep` lines for a quickfix list, absolute
//! paths and terminal hyperlinks, `--count` and `--files-with-matches`, and the closing
//! `showing 1–10 of N` line of human output.

use std::io::Write;

use crate::engine::{Engine, Refresh, SearchOptions};
use crate::error::Error;
use crate::model::{Hit, Page};
use crate::present::output::Paths;

use super::args::{QueryArgs, SearchOutput};

/// How many candidates the closing line judges to count the full matches.
const COUNT_CAP: usize = 1000;

/// The paths human output prints, as `modes` ask.
pub fn paths(engine: &Engine, modes: &SearchOutput) -> Result<Paths, Error> {
    let corpus = if modes.absolute || modes.hyperlink {
        Some(engine.listed()?.corpus)
    } else {
        None
    };
    Ok(Paths {
        corpus,
        absolute: modes.absolute,
        hyperlink: modes.hyperlink,
    })
}

/// `FILE:LINE:COLUMN:TEXT` per hit, as `rg --vimgrep` writes (absolute path, 1-based line and
/// byte column of the first highlight, the text of that line).
pub fn write_vimgrep(out: &mut impl Write, engine: &Engine, hits: &[Hit]) -> Result<(), Error> {
    let corpus = engine.listed()?.corpus;
    for hit in hits {
        let at = hit
            .highlights
            .first()
            .map_or(0, |h| h[0])
            .min(hit.text.len());
        let at = (0..=at)
            .rev()
            .find(|&i| hit.text.is_char_boundary(i))
            .unwrap_or(0);
        let line_begins = hit.text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_ends = hit.text[at..].find('\n').map_or(hit.text.len(), |i| at + i);
        let line = hit.line_start + hit.text[..at].matches('\n').count();
        let mut column = at - line_begins + 1;
        if line == hit.line_start
            && let Some(first) = hit.column_start.filter(|&c| c > 1)
        {
            column += piece_offset(engine, hit, first);
        }
        let text: String = hit.text[line_begins..line_ends]
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let path = corpus.join(&hit.source);
        writeln!(out, "{}:{line}:{column}:{text}", path.display()).map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// Bytes of the line before character column `first`, where a piece of a very long line
/// begins (read back from the file, as `show` reads it; 0 when it cannot be).
fn piece_offset(engine: &Engine, hit: &Hit, first: usize) -> usize {
    let at = format!("{}:{}", hit.source, hit.line_start);
    engine.show(&at, 0, None).map_or(0, |e| {
        e.text.chars().take(first - 1).map(char::len_utf8).sum()
    })
}

/// `--count` or `--files-with-matches`: the number of passages that match every term, or
/// the files that hold one (each once, best first).
pub fn run_matches(
    engine: &Engine,
    query: &QueryArgs,
    modes: &SearchOutput,
) -> Result<bool, Error> {
    if query.no_refresh {
        engine.check_given()?;
    } else {
        // An index that cannot be written now answers from its last commit: said so, as
        // for the other outputs (a script reads stdout, a person stderr).
        let refresh = super::refresh(engine)?;
        if let Refresh::Stale(_) = &refresh {
            super::report_refresh(engine, &refresh, "searching its last commit");
        }
    }
    let options = SearchOptions {
        sources: query.sources.clone(),
        exact: true,
        ..SearchOptions::default()
    };
    let (sources, _) = engine.full_matches(&query.query.join(" "), &options, usize::MAX)?;
    let mut out = anstream::stdout().lock();
    let write = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(anyhow::Error::from);
    if modes.count {
        write(&mut out, sources.len().to_string())?;
    } else {
        let root = modes.absolute.then(|| engine.listed()).transpose()?;
        let mut seen = std::collections::HashSet::new();
        for source in sources.iter().filter(|s| seen.insert(s.as_str())) {
            let path = match &root {
                Some(listed) => listed.corpus.join(source).display().to_string(),
                None => source.clone(),
            };
            write(&mut out, path)?;
        }
    }
    Ok(!sources.is_empty())
}

/// After human output on a terminal, on stderr: which rows were shown of how many, and how
/// to see more.
pub fn say_more(engine: &Engine, query: &QueryArgs, limit: u64, page: &Page) -> Result<(), Error> {
    if page.is_empty() {
        return Ok(());
    }
    let first = query.offset as usize + 1;
    let last = query.offset as usize + page.len();
    if page.len() < limit as usize {
        eprintln!("zhsearch: showing {first}–{last} of {last}");
        return Ok(());
    }
    let options = SearchOptions {
        sources: query.sources.clone(),
        ..SearchOptions::default()
    };
    let (full, complete) = engine.full_matches(&query.query.join(" "), &options, COUNT_CAP)?;
    let n = full.len();
    let total = match (complete, n > last) {
        (true, true) => format!(" of {n}"),
        (false, _) => format!(" of at least {n}"),
        (true, false) if n > 0 => format!(" ({n} matching every term)"),
        (true, false) => String::new(),
    };
    eprintln!("zhsearch: showing {first}–{last}{total}; next page: --offset {last}");
    Ok(())
}
