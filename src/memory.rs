//! When the idle server hands freed heap memory back to the operating system.
//!
//! glibc keeps freed pages in per-thread arenas, so after a burst of load (or one heavy call such
//! as a province report) the resident set stays at its peak. The health loop asks [`TrimPolicy`]
//! once per interval whether to call `malloc_trim`: in the first few quiet intervals after a busy
//! one, and whenever the resident set has grown well above the level it fell to after the last
//! trim (a few heavy calls never make an interval "busy" by count, yet leave most memory behind).

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

/// Largest allocation (bytes) served from the heap arenas; larger ones get their own mapping
/// that goes back to the system as soon as it is freed.
const MMAP_THRESHOLD_BYTES: i32 = 256 * 1024;

/// Tunes glibc's allocator for a long-running server whose heavy calls (reports, imports) come in
/// bursts: a fixed mmap threshold (glibc otherwise raises it after every large free, so later
/// large row buffers land in the arenas and fragment them) and one arena per core, at least two
/// (glibc's default is eight per core, each keeping its own freed pages). Settings given to the process
/// as `MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_` win. A no-op off glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let arenas = i32::try_from(cores.max(2)).unwrap_or(i32::MAX);
        // SAFETY: mallopt only changes the allocator's tuning parameters; it is called once at
        // start-up and glibc takes its own lock.
        unsafe {
            if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
            if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
            }
        }
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

    #[test]
    fn resident_set_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = resident_bytes().expect("statm");
            assert!(rss > MB, "a test process holds more than 1 MB: {rss}");
        }
    }
}
