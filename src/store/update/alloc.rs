//! The allocator's memory kept longer while a build runs.
//!
//! The command line's allocator is mimalloc (see `main.rs`). By default it gives memory it has
//! not reused for a second back to the system, and each later use of it faults its pages in
//! again, zeroed: the reading threads parse each file in blocks of up to a megabyte (its
//! passages, pulldown-cmark's tree, the line maps) and Tantivy fills a new memory arena per
//! segment. A build of the 74 MB poetry corpus took 22,000–54,000 page faults (5% of its CPU
//! time in the kernel zeroing pages); with memory kept 3 s, 11,000–19,000, and never giving
//! memory back, 1,500 but peaks of 351–413 MB (the bound is 400 MB).
//!
//! The program starts without transparent huge pages (see `main.rs`: zeroing them cost a
//! search more than it saved); a build has them back, as mimalloc asks (the 74 MB build took
//! a tenth more time without).

use std::ffi::{c_int, c_long};
use std::sync::Mutex;

// Links mimalloc into any program of this library, so that the symbols below exist even in
// one that allocates with another allocator (where the option then governs nothing).
extern crate mimalloc as _;

unsafe extern "C" {
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// `mi_option_purge_delay` of mimalloc 3's `mimalloc.h`: milliseconds before unused memory
/// is given back; -1 never.
const PURGE_DELAY: c_int = 15;
/// The purge delay while a build runs, in milliseconds.
const BUILD_PURGE_DELAY: c_long = 3000;

/// Guards alive, the purge delay before the first of them, and whether transparent huge
/// pages were off then.
static KEPT: Mutex<(usize, c_long, bool)> = Mutex::new((0, 0, false));

/// Keeps the allocator's unused memory longer while alive (builds may overlap: the last
/// guard dropped restores the purge delay).
pub struct KeepMemory(());

impl KeepMemory {
    /// Makes the allocator keep unused memory for [`BUILD_PURGE_DELAY`] until the guard is
    /// dropped (or longer, or for ever, if it was set so).
    pub fn new() -> KeepMemory {
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        if kept.0 == 0 {
            // SAFETY: mimalloc's option calls take a valid option number and any value, from
            // any thread; the delay is read each time memory is to be purged.
            kept.1 = unsafe { mi_option_get(PURGE_DELAY) };
            if (0..BUILD_PURGE_DELAY).contains(&kept.1) {
                unsafe { mi_option_set(PURGE_DELAY, BUILD_PURGE_DELAY) };
            }
            kept.2 = huge_pages_off();
            if kept.2 {
                set_huge_pages_off(false);
            }
        }
        kept.0 += 1;
        KeepMemory(())
    }
}

impl Default for KeepMemory {
    fn default() -> Self {
        KeepMemory::new()
    }
}

impl Drop for KeepMemory {
    fn drop(&mut self) {
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        kept.0 -= 1;
        if kept.0 == 0 {
            // SAFETY: as in `new`.
            unsafe { mi_option_set(PURGE_DELAY, kept.1) };
            if kept.2 {
                set_huge_pages_off(true);
            }
        }
    }
}

/// Turns transparent huge pages on for the rest of the process if they are off: for a search
/// of a large index, which allocates megabytes (see `search::tantivy::HUGE_PAGES_FROM`).
pub fn huge_pages_on() {
    if huge_pages_off() {
        set_huge_pages_off(false);
    }
}

/// Whether the process has transparent huge pages turned off (`PR_GET_THP_DISABLE`).
fn huge_pages_off() -> bool {
    #[cfg(target_os = "linux")]
    return rustix::thread::transparent_huge_pages_are_disabled().unwrap_or(false);
    #[cfg(not(target_os = "linux"))]
    false
}

fn set_huge_pages_off(off: bool) {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(off);
    #[cfg(not(target_os = "linux"))]
    let _ = off;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test harness has huge pages on; other tests' builds may hold guards meanwhile, and
    /// then the first guard's view stands (checked only when this one is first and last).
    #[test]
    #[cfg(target_os = "linux")]
    fn a_build_has_huge_pages_back_and_leaves_them_as_found() {
        set_huge_pages_off(true);
        let alone = KEPT.lock().unwrap().0 == 0;
        let guard = KeepMemory::new();
        if alone {
            assert!(!huge_pages_off());
        }
        drop(guard);
        let kept = KEPT.lock().unwrap();
        if alone && kept.0 == 0 {
            assert!(huge_pages_off());
        }
        drop(kept);
        set_huge_pages_off(false);
    }

    #[test]
    fn memory_is_kept_longer_while_a_guard_lives() {
        let outer = KeepMemory::new();
        let inner = KeepMemory::new();
        assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, BUILD_PURGE_DELAY);
        drop(inner);
        // Another build still runs.
        assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, BUILD_PURGE_DELAY);
        drop(outer);
        let kept = KEPT.lock().unwrap();
        if kept.0 == 0 {
            // Unless a build of another test has started since.
            assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, kept.1);
        }
    }
}
