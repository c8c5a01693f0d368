//! The process's allocator and when the idle server hands freed memory back to the system.
//!
//! On Linux with glibc every binary of this crate allocates with jemalloc, for its own code and
//! (because the build overrides `malloc` itself) for SQLite's: glibc kept the memory freed by the
//! document reads scattered among live blocks in its arenas, and `malloc_trim` could not hand it
//! back, so the idle server stayed at 50 MB after load (BENCHMARKS.md, session 7). jemalloc
//! returns pages freed for a second on its own (a background thread, [`MALLOC_CONF`]); the
//! health loop asks [`TrimPolicy`] once per interval whether to return them at once
//! ([`release_free_memory`]): in the first few quiet intervals after a busy one, and whenever the
//! resident set has grown well above the level it fell to after the last purge. Then it also
//! asks the runtime's worker threads to flush their allocation caches when they next park
//! ([`request_thread_cache_flush`]), since an idle thread's cache is never swept otherwise.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The allocator of every binary of this crate on Linux with glibc: jemalloc (see the module).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A C string pointer that may live in a `static` (jemalloc only reads it).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[repr(transparent)]
pub struct ConfString(*const std::ffi::c_char);

// SAFETY: the pointer is to a string literal, immutable for the life of the process.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe impl Sync for ConfString {}

/// jemalloc's settings, read by jemalloc before `main` (the `MALLOC_CONF` environment variable
/// overrides them): a background thread returns pages that stayed free for one second
/// (`dirty_decay_ms`) straight to the operating system (`muzzy_decay_ms:0`: `MADV_DONTNEED`, so
/// they leave the resident set, rather than the lazy `MADV_FREE`), and two arenas (one per core
/// here; jemalloc's default of four per core keeps more partly used pages).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(export_name = "malloc_conf")]
pub static MALLOC_CONF: ConfString =
    ConfString(c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2".as_ptr());

/// Returns every page the allocator holds free to the operating system now (jemalloc's
/// `arena.<all>.purge`), instead of after the decay; tells whether it did. Blocks while it runs
/// (milliseconds); a no-op (false) where the system allocator is used.
pub fn release_free_memory() -> bool {
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // `MALLCTL_ARENAS_ALL` (4096) names every arena.
        mallctl_do(c"arena.4096.purge")
    }
}

/// How many times a flush of the threads' allocation caches was asked for
/// ([`request_thread_cache_flush`]).
static FLUSHES_ASKED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The count of [`FLUSHES_ASKED`] this thread last flushed at.
    static FLUSHED_AT: Cell<u64> = const { Cell::new(0) };
}

/// Asks every runtime worker thread to hand the freed blocks its allocation cache keeps (for
/// its next allocations, up to a few MB a thread) back to the arenas when it next goes idle
/// ([`flush_thread_cache_if_asked`]), so that the pages they sit on can be returned to the
/// operating system. An idle thread's cache is otherwise never emptied: jemalloc sweeps a
/// thread's cache only as that thread allocates.
pub fn request_thread_cache_flush() {
    FLUSHES_ASKED.fetch_add(1, Ordering::Relaxed);
}

/// For the runtime's `on_thread_park` hook: flushes this thread's allocation cache when a
/// flush was asked for since its last one (tells whether it did); otherwise an atomic load and
/// a thread-local read.
pub fn flush_thread_cache_if_asked() -> bool {
    let asked = FLUSHES_ASKED.load(Ordering::Relaxed);
    FLUSHED_AT.with(|f| f.replace(asked)) != asked && flush_thread_cache()
}

/// Hands the blocks of this thread's allocation cache back to the arenas (jemalloc's
/// `thread.tcache.flush`); tells whether it did (false where the system allocator is used).
pub fn flush_thread_cache() -> bool {
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        mallctl_do(c"thread.tcache.flush")
    }
}

/// Runs the jemalloc control `name` that takes no input and returns nothing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn mallctl_do(name: &std::ffi::CStr) -> bool {
    // SAFETY: the controls called here (`arena.<i>.purge`, `thread.tcache.flush`) take no input
    // and return nothing (all pointers null, as jemalloc's manual specifies); mallctl may be
    // called from any thread.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        tracing::debug!(rc, control = ?name, "jemalloc refused a control");
    }
    rc == 0
}

/// Decides, once per health interval, whether to hand freed memory back.
#[derive(Debug, Clone)]
pub struct TrimPolicy {
    /// Calls per interval below which the server counts as quiet.
    quiet_calls: u64,
    /// How many quiet intervals after a busy one always trim.
    trims_after_load: u32,
    /// Growth of the resident set above the post-trim level that asks for a trim on its own.
    growth_bytes: u64,
    trims_left: u32,
    /// Resident set measured in the first quiet interval after the last trim (the level freed
    /// memory fell back to); `None` until measured.
    floor: Option<u64>,
    /// The previous interval trimmed: measure the new floor in this one.
    measure_floor: bool,
}

impl TrimPolicy {
    /// A policy with the given thresholds.
    pub fn new(quiet_calls: u64, trims_after_load: u32, growth_bytes: u64) -> Self {
        Self {
            quiet_calls,
            trims_after_load,
            growth_bytes,
            trims_left: 0,
            floor: None,
            measure_floor: false,
        }
    }

    /// One interval passed with `calls` calls started and the resident set at `rss` bytes (if
    /// the platform tells); returns whether to trim now.
    pub fn tick(&mut self, calls: u64, rss: Option<u64>) -> bool {
        if calls >= self.quiet_calls {
            self.trims_left = self.trims_after_load;
            self.measure_floor = false;
            return false;
        }
        if self.measure_floor || self.floor.is_none() {
            self.floor = rss;
            self.measure_floor = false;
        } else if let (Some(r), Some(f)) = (rss, self.floor) {
            self.floor = Some(f.min(r));
        }
        let grown = matches!((rss, self.floor), (Some(r), Some(f)) if r > f + self.growth_bytes);
        if self.trims_left > 0 || grown {
            self.trims_left = self.trims_left.saturating_sub(1);
            self.measure_floor = true;
            return true;
        }
        false
    }
}

/// Resident set of this process in bytes (`/proc/self/statm`), where the platform tells.
pub fn resident_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf only reads a system constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(page).ok().map(|p| p * pages)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn policy() -> TrimPolicy {
        TrimPolicy::new(16, 3, 16 * MB)
    }

    #[test]
    fn trims_in_the_first_quiet_intervals_after_load_only() {
        let mut p = policy();
        assert!(
            !p.tick(0, Some(20 * MB)),
            "idle from the start: nothing to give back"
        );
        assert!(!p.tick(500, Some(60 * MB)), "busy: never trims under load");
        let trims: Vec<bool> = (0..5).map(|_| p.tick(0, Some(60 * MB))).collect();
        assert_eq!(trims, [true, true, true, false, false]);
    }

    #[test]
    fn a_few_heavy_calls_that_grow_memory_ask_for_one_trim() {
        let mut p = policy();
        assert!(!p.tick(0, Some(20 * MB)));
        // One report per interval: never busy by count, but the heap grows.
        assert!(
            !p.tick(1, Some(30 * MB)),
            "grown by less than the threshold"
        );
        assert!(p.tick(1, Some(130 * MB)), "grown by far more: trim");
        // The trim brought it down to 40 MB: that is the new floor, no trim again.
        assert!(!p.tick(0, Some(40 * MB)));
        assert!(!p.tick(0, Some(45 * MB)));
        assert!(p.tick(0, Some(80 * MB)), "grown again above the new floor");
    }

    #[test]
    fn memory_that_stays_after_a_trim_is_not_trimmed_again_and_again() {
        let mut p = policy();
        assert!(!p.tick(0, Some(20 * MB)));
        assert!(p.tick(0, Some(100 * MB)));
        // Live memory: the trim gave nothing back. The floor follows, no trim every interval.
        assert!(!p.tick(0, Some(100 * MB)));
        assert!(!p.tick(0, Some(100 * MB)));
    }

    #[test]
    fn without_a_resident_set_only_the_after_load_trims_run() {
        let mut p = policy();
        assert!(!p.tick(0, None));
        assert!(!p.tick(100, None));
        assert!(p.tick(0, None));
        assert!(p.tick(0, None));
        assert!(p.tick(0, None));
        assert!(!p.tick(0, None));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    /// Reads one of jemalloc's settings or statistics of type `T` by name (`mallctl`).
    fn jemalloc_read<T: Copy + Default>(name: &std::ffi::CStr) -> Option<T> {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `value` is a valid, writable `T` of `len` bytes; jemalloc writes at most `len`
        // bytes and fails (non-zero) when the name is unknown or the size does not match.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        (rc == 0 && len == std::mem::size_of::<T>()).then_some(value)
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn jemalloc_runs_with_the_crates_settings_and_purges() {
        if std::env::var_os("MALLOC_CONF").is_some() {
            return; // the environment overrides the settings under test
        }
        assert_eq!(
            jemalloc_read::<bool>(c"opt.background_thread"),
            Some(true),
            "the malloc_conf symbol was read"
        );
        assert_eq!(jemalloc_read::<u32>(c"opt.narenas"), Some(2));
        assert_eq!(jemalloc_read::<isize>(c"opt.dirty_decay_ms"), Some(1000));
        assert_eq!(jemalloc_read::<isize>(c"opt.muzzy_decay_ms"), Some(0));
        let freed: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 << 10]).collect();
        drop(freed);
        assert!(release_free_memory(), "arena.<all>.purge accepted");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_thread_flushes_its_allocation_cache_once_per_request() {
        let before = std::thread::spawn(flush_thread_cache_if_asked);
        assert!(
            !before.join().expect("thread"),
            "nothing asked yet: no flush"
        );
        request_thread_cache_flush();
        // Each thread flushes once for the request, when it next parks; a new thread too.
        let flushed = std::thread::spawn(|| {
            let _garbage: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 256]).collect();
            [flush_thread_cache_if_asked(), flush_thread_cache_if_asked()]
        });
        assert_eq!(flushed.join().expect("thread"), [true, false]);
    }

    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    #[test]
    fn purging_is_a_no_op_on_the_system_allocator() {
        assert!(!release_free_memory());
    }

    #[test]
    fn resident_set_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = resident_bytes().expect("statm");
            assert!(rss > MB, "a test process holds more than 1 MB: {rss}");
        }
    }
}
