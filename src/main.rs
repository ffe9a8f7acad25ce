use std::process::ExitCode;

// An index build hands millions of small documents from the reading threads to Tantivy's: glibc's
// allocator spent a fifth of a build's CPU time on them (freed on another thread than made).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status as grep: 0 found, 1 nothing found, 2 error (with one line saying what is wrong).
fn main() -> ExitCode {
    match zhsearch::cli::run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // The reader went away (`zhsearch search … | head`): nothing is wrong.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zhsearch: {e:#}");
            ExitCode::from(2)
        }
    }
}
