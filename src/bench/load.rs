//! The two load shapes.
//!
//! - Closed loop: `concurrency` workers, each sends its next call when the previous one
//!   answered. Measures the maximum rate and the latency at that rate.
//! - Open loop: calls are due at a fixed rate whatever the server does; each call's latency is
//!   measured from the time it was *due*, not from when it could be sent, so queueing (in the
//!   client, the connection or the server) shows in the figures instead of being hidden by a
//!   slowed-down sender (coordinated omission).
//!
//! Both run a warm-up, then a measured window; the server's and the load generator's CPU time
//! are read from the operating system at the window's edges.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::proc;

/// One call of a scenario; the argument is a sequence number the scenario may use to pick what
/// to call with.
pub type CallFn =
    Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// Whose CPU time to read at the window's edges.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// The server process, if the load goes to one.
    pub server_pid: Option<u32>,
    /// PostgreSQL backend processes serving the run's database (their CPU is the database's
    /// share of a call, which the server process does not see).
    pub db_pids: Vec<u32>,
}

/// CPU readings at one instant: server, load generator, database backends.
type Reading = (Option<Duration>, Option<Duration>, Option<Duration>);

impl Probe {
    fn read(&self) -> Reading {
        let db = (!self.db_pids.is_empty()).then(|| {
            self.db_pids
                .iter()
                .filter_map(|p| proc::cpu_time(*p).ok())
                .sum::<Duration>()
        });
        (
            self.server_pid.and_then(|p| proc::cpu_time(p).ok()),
            proc::own_cpu_time().ok(),
            db,
        )
    }
}

fn delta(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    a.zip(b).map(|(a, b)| b.saturating_sub(a))
}

/// What one measured window gave.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Calls answered successfully in the window.
    pub requests: u64,
    /// Calls that failed in the window.
    pub errors: u64,
    /// First error seen, if any.
    pub first_error: Option<String>,
    /// Length of the window in seconds.
    pub seconds: f64,
    /// Successful calls per second.
    pub rate: f64,
    /// Latency percentiles in microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest latency.
    pub max_us: u64,
    /// Server CPU time per successful call in microseconds (user + system).
    pub server_cpu_us_per_req: Option<f64>,
    /// Load generator CPU time per call in microseconds.
    pub client_cpu_us_per_req: Option<f64>,
    /// PostgreSQL backend CPU time per call in microseconds (PostgreSQL runs only).
    pub db_cpu_us_per_req: Option<f64>,
    /// Open loop: the rate asked for.
    pub target_rate: Option<f64>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 100 s at 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("constant, valid bounds")
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const DONE: u8 = 2;

struct Window {
    start: Instant,
    end: Instant,
    server: Option<Duration>,
    client: Option<Duration>,
    db: Option<Duration>,
}

fn finish(
    hist: &Histogram<u64>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    w: Window,
    target_rate: Option<f64>,
) -> Measurement {
    let seconds = (w.end - w.start).as_secs_f64().max(1e-9);
    let per = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e6 / ok.max(1) as f64);
    Measurement {
        requests: ok,
        errors,
        first_error,
        seconds,
        rate: ok as f64 / seconds,
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        p999_us: hist.value_at_quantile(0.999),
        max_us: hist.max(),
        server_cpu_us_per_req: per(w.server),
        client_cpu_us_per_req: per(w.client),
        db_cpu_us_per_req: per(w.db),
        target_rate,
    }
}

#[derive(Default)]
struct Errors {
    count: AtomicU64,
    first: std::sync::Mutex<Option<String>>,
}

impl Errors {
    fn add(&self, e: &anyhow::Error) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.first.lock()
            && f.is_none()
        {
            *f = Some(format!("{e:#}"));
        }
    }
    fn first(&self) -> Option<String> {
        self.first.lock().ok().and_then(|f| f.clone())
    }
}

/// Runs `call` from `concurrency` workers for `warmup`, then measures for `duration`.
pub async fn closed_loop(
    call: CallFn,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    probe: Probe,
) -> Measurement {
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let seq = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Errors::default());
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (call, phase, seq, ok, errors) = (
            call.clone(),
            phase.clone(),
            seq.clone(),
            ok.clone(),
            errors.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut hist = histogram();
            loop {
                let p = phase.load(Ordering::Acquire);
                if p == DONE {
                    break;
                }
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                let r = call(n).await;
                if r.is_err() {
                    // A call that fails at once never reaches the runtime's scheduler; give the
                    // other tasks (the timer that ends the run among them) their turn.
                    tokio::task::yield_now().await;
                }
                // Only calls that started and ended inside the window count.
                if p == MEASURE && phase.load(Ordering::Acquire) == MEASURE {
                    match r {
                        Ok(()) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            let _ = hist.record(t0.elapsed().as_micros().max(1) as u64);
                        }
                        Err(e) => errors.add(&e),
                    }
                } else if let Err(e) = r
                    && p == WARMUP
                {
                    errors.add(&e);
                }
            }
            hist
        }));
    }
    tokio::time::sleep(warmup).await;
    let r0 = probe.read();
    // Warm-up errors count as errors too (a scenario that fails must not look fast).
    let warm_errors = errors.count.swap(0, Ordering::Relaxed);
    let start = Instant::now();
    phase.store(MEASURE, Ordering::Release);
    tokio::time::sleep(duration).await;
    phase.store(DONE, Ordering::Release);
    let end = Instant::now();
    let r1 = probe.read();
    let mut hist = histogram();
    for w in workers {
        if let Ok(h) = w.await {
            let _ = hist.add(&h);
        }
    }
    let window = Window {
        start,
        end,
        server: delta(r0.0, r1.0),
        client: delta(r0.1, r1.1),
        db: delta(r0.2, r1.2),
    };
    let errs = errors.count.load(Ordering::Relaxed);
    finish(
        &hist,
        ok.load(Ordering::Relaxed),
        errs + warm_errors,
        errors.first(),
        window,
        None,
    )
}

/// Sends calls due at `rate` per second for `warmup`, then measures for `duration`. At most
/// `max_in_flight` calls are outstanding; a call that waits for a slot still has its latency
/// counted from the time it was due.
pub async fn open_loop(
    call: CallFn,
    rate: f64,
    max_in_flight: usize,
    warmup: Duration,
    duration: Duration,
    probe: Probe,
) -> Measurement {
    let rate = rate.max(1.0);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let hist = Arc::new(std::sync::Mutex::new(histogram()));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Errors::default());
    let t0 = Instant::now();
    let measure_from = t0 + warmup;
    let measure_to = measure_from + duration;
    let mut s0c0 = None;
    let mut tasks = Vec::new();
    let mut i: u64 = 0;
    loop {
        let due = t0 + interval.mul_f64(i as f64);
        if due >= measure_to {
            break;
        }
        if s0c0.is_none() && due >= measure_from {
            s0c0 = Some(probe.read());
        }
        tokio::time::sleep_until(due.into()).await;
        let permit = match slots.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => break,
        };
        let (call, hist, ok, errors) = (call.clone(), hist.clone(), ok.clone(), errors.clone());
        let counted = due >= measure_from;
        tasks.push(tokio::spawn(async move {
            let r = call(i).await;
            let lat = due.elapsed();
            drop(permit);
            if counted {
                match r {
                    Ok(()) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut h) = hist.lock() {
                            let _ = h.record(lat.as_micros().max(1) as u64);
                        }
                    }
                    Err(e) => errors.add(&e),
                }
            }
        }));
        if tasks.len() >= 4096 {
            tasks.retain(|t| !t.is_finished());
        }
        i += 1;
    }
    for t in tasks {
        let _ = t.await;
    }
    let end = Instant::now();
    let r1 = probe.read();
    let r0 = s0c0.unwrap_or((None, None, None));
    let window = Window {
        start: measure_from,
        end: end.max(measure_to),
        server: delta(r0.0, r1.0),
        client: delta(r0.1, r1.1),
        db: delta(r0.2, r1.2),
    };
    let hist = hist
        .lock()
        .map(|h| h.clone())
        .unwrap_or_else(|_| histogram());
    let mut m = finish(
        &hist,
        ok.load(Ordering::Relaxed),
        errors.count.load(Ordering::Relaxed),
        errors.first(),
        window,
        Some(rate),
    );
    // The rate achieved is over the scheduled window (late answers still belong to it).
    m.rate = m.requests as f64 / duration.as_secs_f64().max(1e-9);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(ms: u64) -> CallFn {
        Arc::new(move |_| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            })
        })
    }

    #[tokio::test]
    async fn closed_loop_counts_calls() {
        let m = closed_loop(
            sleeper(1),
            4,
            Duration::from_millis(20),
            Duration::from_millis(200),
            Probe::default(),
        )
        .await;
        assert!(m.requests > 0);
        assert_eq!(m.errors, 0);
        assert!(m.p50_us >= 1_000, "each call sleeps at least 1 ms");
        assert!(m.client_cpu_us_per_req.is_some());
    }

    #[tokio::test]
    async fn open_loop_counts_queueing_from_the_due_time() {
        // One slot and calls of 5 ms due every 1 ms: later calls wait, and that waiting shows.
        let m = open_loop(
            sleeper(5),
            1000.0,
            1,
            Duration::from_millis(10),
            Duration::from_millis(100),
            Probe::default(),
        )
        .await;
        assert!(m.requests > 0);
        assert!(m.max_us > 20_000, "queueing delay is measured: {m:?}");
    }

    #[tokio::test]
    async fn errors_are_counted_and_kept() {
        let fail: CallFn = Arc::new(|_| Box::pin(async { Err(anyhow::anyhow!("boom")) }));
        let m = closed_loop(
            fail,
            2,
            Duration::from_millis(5),
            Duration::from_millis(30),
            Probe::default(),
        )
        .await;
        assert_eq!(m.requests, 0);
        assert!(m.errors > 0);
        assert_eq!(m.first_error.as_deref(), Some("boom"));
    }
}
