use std::process::ExitCode;

/// Exit status as grep: 0 found, 1 nothing found, 2 error (with one line saying what is wrong).
fn main() -> ExitCode {
    match zhsearch::cli::run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("zhsearch: {e:#}");
            ExitCode::from(2)
        }
    }
}
