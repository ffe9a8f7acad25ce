//! `zhsearch completions SHELL` and `zhsearch man`: generated from the same clap definition
//! that reads the arguments, so they cannot drift from it.

use std::path::Path;

use clap::CommandFactory;

use crate::error::Error;

use super::args::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<bool, Error> {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "zhsearch",
        &mut std::io::stdout(),
    );
    Ok(true)
}

/// Prints the manual page on stdout, or writes one page per command into `dir`.
pub fn man(dir: Option<&Path>) -> Result<bool, Error> {
    let command = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(command, dir).map_err(|e| {
                anyhow::anyhow!("cannot write the pages into {}: {e}", dir.display())
            })?;
        }
        None => clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .map_err(anyhow::Error::from)?,
    }
    Ok(true)
}
