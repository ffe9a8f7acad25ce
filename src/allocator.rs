//! The program's allocator, chosen from its command line before the first allocation.
//!
//! `index`, `serve` and `mcp` allocate with mimalloc: a build hands millions of small
//! documents from the reading threads to Tantivy's, and glibc's allocator spent a fifth of a
//! build's CPU time on them (freed on another thread than made). Every other command searches
//! once, or prints, and exits, and there glibc's allocator costs less: mimalloc gives each size
//! of block pages of its own and keeps bitmaps of its arena, and each page first touched is a
//! page fault (about 4 µs on the bench machine). A one-word search on the 74 MB bench index
//! took 423 → 327 page faults, 10.24 → 9.09 ms (median over the bench queries, whole process,
//! `--no-refresh`; ×10 19.26 → 17.22 ms). A search that builds its index first (a new corpus)
//! builds it with glibc's allocator, more slowly; `zhsearch index` is the command for that.
//!
//! The choice is made once, by `choose` before `main` (glibc hands the arguments to the
//! functions of `.init_array`), and never changes: memory is freed by the allocator that made
//! it. Where the arguments are not at hand, or something allocated first, it is mimalloc.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

use mimalloc::MiMalloc;

const UNDECIDED: u8 = 0;
const MIMALLOC: u8 = 1;
const SYSTEM: u8 = 2;

static CHOSEN: AtomicU8 = AtomicU8::new(UNDECIDED);

/// mimalloc or the system's allocator, as [`CHOSEN`] says.
pub struct ByCommand;

#[inline]
fn system() -> bool {
    match CHOSEN.load(Ordering::Relaxed) {
        SYSTEM => true,
        MIMALLOC => false,
        _ => {
            // An allocation before the choice: mimalloc, for good.
            let _ =
                CHOSEN.compare_exchange(UNDECIDED, MIMALLOC, Ordering::Relaxed, Ordering::Relaxed);
            CHOSEN.load(Ordering::Relaxed) == SYSTEM
        }
    }
}

// SAFETY: each call goes to one allocator, the same for the whole process once chosen, so
// memory is always freed or grown by the allocator that made it.
unsafe impl GlobalAlloc for ByCommand {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            match system() {
                true => System.alloc(layout),
                false => MiMalloc.alloc(layout),
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe {
            match system() {
                true => System.alloc_zeroed(layout),
                false => MiMalloc.alloc_zeroed(layout),
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe {
            match system() {
                true => System.dealloc(ptr, layout),
                false => MiMalloc.dealloc(ptr, layout),
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            match system() {
                true => System.realloc(ptr, layout, new_size),
                false => MiMalloc.realloc(ptr, layout, new_size),
            }
        }
    }
}

/// Whether the command of `args` (the arguments after the program's name) keeps mimalloc.
pub fn keeps_mimalloc<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> bool {
    // Options that take a value: `--color` may come before the command; the others are
    // refused there by the parser, but their value is no command either.
    const VALUED: [&[u8]; 5] = [b"--color", b"--corpus", b"--index", b"--ext", b"--backend"];
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        if VALUED.contains(&a) {
            args.next();
        } else if a == b"--" {
            return false;
        } else if !a.starts_with(b"-") {
            return matches!(a, b"index" | b"serve" | b"mcp");
        }
    }
    false
}

/// Chooses the allocator from the program's arguments (`argc` of them at `argv`, as C's
/// `main` has them), unless one is chosen already.
///
/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings (or be null).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub unsafe fn choose(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) {
    if argv.is_null() || argc < 1 {
        return;
    }
    // SAFETY: as the caller promises; nothing here allocates.
    let args =
        (1..argc as usize).map(|i| unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) }.to_bytes());
    let chosen = match keeps_mimalloc(args) {
        true => MIMALLOC,
        false => SYSTEM,
    };
    let _ = CHOSEN.compare_exchange(UNDECIDED, chosen, Ordering::Relaxed, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::keeps_mimalloc;

    fn keeps(line: &str) -> bool {
        keeps_mimalloc(line.split_whitespace().map(str::as_bytes))
    }

    #[test]
    fn builds_and_servers_keep_mimalloc() {
        assert!(keeps("index"));
        assert!(keeps("index --rebuild"));
        assert!(keeps("--index idx index --corpus c"));
        assert!(keeps("--color never serve --port 0"));
        assert!(keeps("--corpus index mcp"));
        assert!(keeps("--ext md,txt --backend sphinxql://h:1/t index"));
        assert!(!keeps("search 明月"));
        assert!(!keeps("--index index search index"));
        assert!(!keeps("--index=idx cite 明月"));
        assert!(!keeps("show a.md:3"));
        assert!(!keeps("--version"));
        assert!(!keeps(""));
        assert!(!keeps("-- index"));
    }
}
