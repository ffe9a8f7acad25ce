use std::process::ExitCode;

// An index build hands millions of small documents from the reading threads to Tantivy's: glibc's
// allocator spent a fifth of a build's CPU time on them (freed on another thread than made).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc asks for transparent huge pages on all its memory, and the kernel zeroing 2 MB pages
// for a process that uses a few MB was a tenth of a search's time. So none until a build asks
// for them (`store::update::alloc`); set before `main`, ahead of the first allocation.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static SMALL_PAGES: extern "C" fn() = small_pages;

#[cfg(target_os = "linux")]
extern "C" fn small_pages() {
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// Exit status as grep: 0 found, 1 nothing found, 2 error (with one line saying what is wrong).
fn main() -> ExitCode {
    match zhsearch::cli::run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // The reader went away (`zhsearch search … | head`): nothing is wrong.
        Err(e) if zhsearch::cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zhsearch: {e:#}");
            ExitCode::from(2)
        }
    }
}
