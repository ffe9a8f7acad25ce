//! A second thread that starts at once on a core this one leaves free.
//!
//! A one-shot search runs two kinds of short threads beside its own: the freshness check and,
//! on large indexes, a second search thread. On the 2-core virtual machine measured here, a
//! new thread mostly started several milliseconds late, most of a 74 MB search: a C program
//! spinning after `pthread_create` saw 10 of 12 threads start after 3.4–5.1 ms, 8 of them put
//! on their parent's core although the other was idle, waiting there for the parent's time
//! slice to end. Allowed only the cores other than its parent's, 11 of 12 started within
//! 0.9 ms (most in 0.2–0.4 ms, the other core waking up). So the new thread is kept off the
//! caller's core while the caller works, and may use every core again once the caller waits
//! for it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};

/// A thread at work on a search in this process, while it lives: a search thread, a second
/// one, the freshness check beside them. A second search thread is started only for a core
/// none of these is using: a server answering several clients at once has none, and under the
/// bench's load (4 clients, 2 cores) second threads halved its throughput (a median of 3.6 ms
/// a search, 6.3 with them); beside the freshness check of the ×10 corpus (3,130 files),
/// a second thread only shared its core.
pub struct Busy(());

/// Threads at work (see [`Busy`]).
static BUSY: AtomicUsize = AtomicUsize::new(0);

impl Busy {
    /// Counts this thread as at work until the value is dropped.
    pub fn start() -> Busy {
        BUSY.fetch_add(1, Ordering::Relaxed);
        Busy(())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a core is left over by the threads at work (see [`Busy`]).
pub fn idle_core() -> bool {
    BUSY.load(Ordering::Relaxed) < cores()
}

/// The cores this process may use, asked once.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs `theirs` on a new thread and `mine` on this one; the new thread's result (its panic
/// as `Err`) and this one's. The new thread is joined before this returns or unwinds, so
/// `theirs` may borrow what the caller holds, as with [`std::thread::scope`].
pub fn beside<'env, T, R>(
    theirs: impl FnOnce() -> T + Send + 'env,
    mine: impl FnOnce() -> R,
) -> (thread::Result<T>, R)
where
    T: Send + 'env,
{
    let cores = affinity::away_from_here();
    let restored = AtomicBool::new(false);
    // The new thread narrows its own cores first: started on this thread's core, it would
    // otherwise run there until this thread narrowed them (a search began 1.1–5.5 ms late in
    // 4 runs of 6 behind a freshness check that walks the corpus at once).
    let theirs = || {
        if let Some((_, others)) = &cores
            && !restored.load(Ordering::Acquire)
        {
            affinity::set_own(others);
        }
        theirs()
    };
    // SAFETY: `Joined` joins the thread when it is dropped, on every way out of this function
    // (a panic of `mine` included), so it never outlives what `theirs` borrows ('env, and
    // `cores` and `restored`, declared before it).
    let spawned = unsafe { thread::Builder::new().spawn_unchecked(theirs) };
    let mut joined = Joined(Some(spawned.expect("failed to spawn thread")));
    let handle = joined.0.as_ref().expect("just spawned");
    if let Some((_, others)) = &cores {
        // Before it starts, if it has not: then it starts on another core.
        affinity::set(handle, others);
    }
    let mine = mine();
    if let Some((all, _)) = &cores {
        restored.store(true, Ordering::Release);
        affinity::restore(handle, all);
    }
    let theirs = joined.0.take().expect("joined once").join();
    (theirs, mine)
}

/// Joins its thread when dropped, ignoring how it ended.
struct Joined<T>(Option<JoinHandle<T>>);

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(target_os = "linux")]
mod affinity {
    use std::os::unix::thread::JoinHandleExt;
    use std::thread::JoinHandle;

    /// The cores this thread may use, and the same without the one it is on; `None` when
    /// there is no other (or the system does not say).
    pub(super) fn away_from_here() -> Option<(libc::cpu_set_t, libc::cpu_set_t)> {
        // SAFETY: plain calls with a zeroed set of the size given; `sched_getcpu` has no
        // arguments.
        unsafe {
            let mut all: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(0, size, &mut all) != 0 {
                return None;
            }
            let here = usize::try_from(libc::sched_getcpu()).ok()?;
            let mut others = all;
            libc::CPU_CLR(here, &mut others);
            (libc::CPU_COUNT(&others) > 0).then_some((all, others))
        }
    }

    /// Allows the calling thread the cores `cores`.
    pub(super) fn set_own(cores: &libc::cpu_set_t) {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `cores` is a full set of `size` bytes; 0 is the calling thread.
        unsafe { libc::sched_setaffinity(0, size, cores) };
    }

    /// Allows `thread` the cores `all` again. A thread that has ended keeps its handle until it
    /// is joined but has no thread id any more, and glibc would then apply the set to the
    /// calling thread: it is skipped, and in the instant between the check and the call, the
    /// set given is this thread's own.
    pub(super) fn restore<T>(thread: &JoinHandle<T>, all: &libc::cpu_set_t) {
        if !thread.is_finished() {
            set(thread, all);
        }
    }

    /// Allows `thread` the cores `cores`.
    pub(super) fn set<T>(thread: &JoinHandle<T>, cores: &libc::cpu_set_t) -> bool {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: the handle is a thread of this process that has not been joined (borrowed,
        // so it cannot be), and `cores` is a full set of `size` bytes.
        unsafe { libc::pthread_setaffinity_np(thread.as_pthread_t(), size, cores) == 0 }
    }
}

#[cfg(not(target_os = "linux"))]
mod affinity {
    use std::thread::JoinHandle;

    pub(super) fn away_from_here() -> Option<((), ())> {
        None
    }

    pub(super) fn set_own(_: &()) {}

    pub(super) fn set<T>(_: &JoinHandle<T>, _: &()) -> bool {
        false
    }

    pub(super) fn restore<T>(_: &JoinHandle<T>, _: &()) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_run_and_may_borrow() {
        let words = String::from("明月故鄉");
        let (theirs, mine) = beside(|| words.chars().count(), || words.len());
        assert_eq!((theirs.unwrap(), mine), (4, 12));
    }

    #[test]
    fn their_panic_is_their_result() {
        let (theirs, mine) = beside(|| -> u8 { panic!("on purpose") }, || 7);
        assert!(theirs.is_err());
        assert_eq!(mine, 7);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_new_thread_avoids_one_core_while_this_one_works() {
        use std::sync::mpsc;
        fn mask() -> libc::cpu_set_t {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: a zeroed set of the size given.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                assert_eq!(libc::sched_getaffinity(0, size, &mut set), 0);
                set
            }
        }
        let count = |set: &libc::cpu_set_t| unsafe { libc::CPU_COUNT(set) };
        let before = mask();
        let (tell, told) = mpsc::channel();
        let (go, wait) = mpsc::channel();
        // The new thread reads its cores once this side runs (they are narrowed by then) and
        // before it returns (they are restored then).
        let theirs = move || {
            wait.recv().unwrap();
            tell.send(mask()).unwrap();
        };
        let (theirs, seen) = beside(theirs, || {
            go.send(()).unwrap();
            told.recv().unwrap()
        });
        theirs.unwrap();
        let fewer = if count(&before) > 1 { 1 } else { 0 };
        assert_eq!(count(&seen), count(&before) - fewer);
        for core in 0..libc::CPU_SETSIZE as usize {
            assert!(
                !unsafe { libc::CPU_ISSET(core, &seen) }
                    || unsafe { libc::CPU_ISSET(core, &before) }
            );
        }
        assert!(
            unsafe { libc::CPU_EQUAL(&mask(), &before) },
            "this thread's cores changed"
        );
    }
}
