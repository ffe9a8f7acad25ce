//! The terminal's [`Reporter`]: a progress bar on stderr while files are read (only when
//! stderr is a terminal), and warnings as `zhsearch: warning: …` lines.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::store::{Progress, Reporter, Warning};

/// Reports an update on the terminal.
pub struct Terminal {
    /// Draw a progress bar (only when stderr is a terminal).
    bar: bool,
    /// Print the warnings about skipped documents.
    skipped: bool,
    /// The bar, the files to read and the files read.
    current: Mutex<Option<(ProgressBar, usize, usize)>>,
}

impl Terminal {
    /// A reporter with a bar when `bar` is set and stderr is a terminal, and with the
    /// warnings about skipped documents when `skipped` is set.
    pub fn new(bar: bool, skipped: bool) -> Terminal {
        Terminal {
            bar: bar && std::io::stderr().is_terminal(),
            skipped,
            current: Mutex::new(None),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&mut Option<(ProgressBar, usize, usize)>)) {
        if let Ok(mut bar) = self.current.lock() {
            f(&mut bar);
        }
    }
}

impl Reporter for Terminal {
    fn warning(&self, w: &Warning) {
        if matches!(w, Warning::Skipped { .. }) && !self.skipped {
            return;
        }
        self.with_bar(|bar| match bar {
            Some((b, ..)) => b.suspend(|| eprintln!("zhsearch: warning: {w}")),
            None => eprintln!("zhsearch: warning: {w}"),
        });
    }

    fn progress(&self, p: Progress) {
        self.with_bar(|bar| match p {
            Progress::Start { files, bytes } if self.bar => {
                *bar = Some((progress_bar(files, bytes), files, 0));
            }
            Progress::Done { bytes } => {
                if let Some((b, files, done)) = bar {
                    *done += 1;
                    b.inc(bytes);
                    b.set_message(format!("{done}/{files} files"));
                }
            }
            Progress::Committing => {
                if let Some((b, ..)) = bar {
                    b.set_message("committing");
                }
            }
            Progress::Finish => {
                if let Some((b, ..)) = bar.take() {
                    b.finish_and_clear();
                }
            }
            Progress::Embedding { done: 0, total } if self.bar => {
                *bar = Some((embedding_bar(total), total, 0));
            }
            Progress::Embedding { done, .. } => {
                if let Some((b, ..)) = bar {
                    b.set_position(done as u64);
                }
            }
            Progress::Start { .. } => {}
        });
    }
}

/// Files and MB done, rate and ETA, on stderr.
fn progress_bar(files: usize, bytes: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} indexing [{bar:30}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, ETA {eta}) {msg}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(format!("0/{files} files"));
    bar
}

/// Passages embedded of those to embed, rate and ETA, on stderr.
fn embedding_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} embedding [{bar:30}] {pos}/{len} passages ({per_sec}, ETA {eta})",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
