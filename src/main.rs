use std::process::ExitCode;

mod allocator;

// mimalloc for builds and servers, the system's allocator for a command that searches once
// (see `allocator`).
#[global_allocator]
static GLOBAL: allocator::ByCommand = allocator::ByCommand;

// Set before `main`, ahead of the first allocation:
// - the allocator, chosen from the command line (glibc hands it to these functions);
// - no transparent huge pages: mimalloc asks for them on all its memory, and the kernel
//   zeroing 2 MB pages for a process that uses a few MB was a tenth of a search's time. A
//   build asks for them again (`store::update::alloc`).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static BEFORE_MAIN: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = before_main;

#[cfg(target_os = "linux")]
use std::ffi::{c_char, c_int};

#[cfg(target_os = "linux")]
extern "C" fn before_main(argc: c_int, argv: *const *const c_char, _env: *const *const c_char) {
    // SAFETY: glibc calls `.init_array` functions with `main`'s arguments.
    #[cfg(target_env = "gnu")]
    unsafe {
        allocator::choose(argc, argv)
    };
    #[cfg(not(target_env = "gnu"))]
    let _ = (argc, argv);
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// Exit status as grep: 0 found, 1 nothing found, 2 error (with one line saying what is wrong).
fn main() -> ExitCode {
    // A panic that the engine turns into an error (Tantivy on some damaged files) is told by
    // that error alone, on one line; any other is printed as Rust does.
    let rust_says = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !zhsearch::engine::panic_is_reported() {
            rust_says(info);
        }
    }));
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
