//! Results: per-round measurements, medians over rounds, ratios to the baselines measured in the
//! same round, target checks, a text table and JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use super::db::PgbenchResult;
use super::load::Measurement;
use super::scenarios::ImportResult;

/// The machine a run was made on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `nproc`.
    pub cpus: usize,
    /// CPU model from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Load average at the start of the run.
    pub load_average: String,
}

impl Machine {
    /// Reads the machine's facts from `/proc`.
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_bytes,
            load_average: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        }
    }
}

/// One round: every scenario once, back to back, so ratios compare like with like.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Round {
    /// Closed-loop results by scenario.
    pub closed: BTreeMap<String, Measurement>,
    /// Open-loop results by scenario (at half the round's closed-loop rate).
    pub open: BTreeMap<String, Measurement>,
    /// `pgbench` single-row insert (PostgreSQL only).
    pub pgbench: Option<PgbenchResult>,
    /// Peak server resident set during each scenario, bytes.
    pub peak_rss: BTreeMap<String, u64>,
}

/// Median of some values (mean of the two middle ones for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Medians of one scenario over the rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario (open-loop rows are suffixed `@open`).
    pub scenario: String,
    /// Rounds that ran it.
    pub rounds: usize,
    /// Median calls per second.
    pub rate: Option<f64>,
    /// Median p50 latency, µs.
    pub p50_us: Option<f64>,
    /// Median p99 latency, µs.
    pub p99_us: Option<f64>,
    /// Median p99.9 latency, µs.
    pub p999_us: Option<f64>,
    /// Median server CPU per call, µs.
    pub server_cpu_us: Option<f64>,
    /// Median PostgreSQL backend CPU per call, µs.
    pub db_cpu_us: Option<f64>,
    /// Median of the per-round ratio of server CPU per call to the bare echo's.
    pub cpu_vs_bare_echo: Option<f64>,
    /// Median of the per-round ratio of the rate to the round's write baseline (writes only).
    pub rate_vs_write_baseline: Option<f64>,
    /// Median peak server RSS during the scenario, bytes.
    pub peak_rss: Option<f64>,
    /// Errors over all rounds.
    pub errors: u64,
}

/// The write baseline of a round: pgbench TPS on PostgreSQL, the raw insert loop on SQLite.
pub fn write_baseline(r: &Round) -> Option<f64> {
    match &r.pgbench {
        Some(p) => Some(p.tps),
        None => r.closed.get("raw-insert").map(|m| m.rate),
    }
}

/// Summarises the rounds.
pub fn summarise(rounds: &[Round]) -> Vec<Summary> {
    let mut names: Vec<(String, bool)> = Vec::new();
    for r in rounds {
        for k in r.closed.keys() {
            if !names.contains(&(k.clone(), false)) {
                names.push((k.clone(), false));
            }
        }
        for k in r.open.keys() {
            if !names.contains(&(k.clone(), true)) {
                names.push((k.clone(), true));
            }
        }
    }
    let order = |n: &str| {
        super::scenarios::SCENARIOS
            .iter()
            .position(|s| s.name == n)
            .unwrap_or(usize::MAX)
    };
    names.sort_by_key(|(n, open)| (*open, order(n)));
    names
        .into_iter()
        .map(|(name, open)| {
            let ms: Vec<(&Round, &Measurement)> = rounds
                .iter()
                .filter_map(|r| {
                    let m = if open {
                        r.open.get(&name)
                    } else {
                        r.closed.get(&name)
                    };
                    m.map(|m| (r, m))
                })
                .collect();
            let f = |g: &dyn Fn(&Round, &Measurement) -> Option<f64>| {
                median(ms.iter().filter_map(|(r, m)| g(r, m)).collect())
            };
            let is_write = super::scenarios::scenario(&name)
                .is_some_and(|s| s.kind == super::scenarios::Kind::Write);
            Summary {
                scenario: if open {
                    format!("{name}@open")
                } else {
                    name.clone()
                },
                rounds: ms.len(),
                rate: f(&|_, m| Some(m.rate)),
                p50_us: f(&|_, m| Some(m.p50_us as f64)),
                p99_us: f(&|_, m| Some(m.p99_us as f64)),
                p999_us: f(&|_, m| Some(m.p999_us as f64)),
                server_cpu_us: f(&|_, m| m.server_cpu_us_per_req),
                db_cpu_us: f(&|_, m| m.db_cpu_us_per_req),
                cpu_vs_bare_echo: f(&|r, m| {
                    let base = r.closed.get("echo-bare")?.server_cpu_us_per_req?;
                    Some(m.server_cpu_us_per_req? / base)
                }),
                rate_vs_write_baseline: if is_write && !open {
                    f(&|r, m| Some(m.rate / write_baseline(r)?))
                } else {
                    None
                },
                peak_rss: if open {
                    None
                } else {
                    f(&|r, _| r.peak_rss.get(&name).map(|v| *v as f64))
                },
                errors: ms.iter().map(|(_, m)| m.errors).sum(),
            }
        })
        .collect()
}

/// One target of the issue, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is required.
    pub target: String,
    /// What was measured.
    pub measured: Option<f64>,
    /// The limit.
    pub limit: f64,
    /// Whether it is met (`None` when not measured in this run).
    pub met: Option<bool>,
}

impl Target {
    /// A target `measured <= limit` (or `>=` when `at_least`).
    pub fn check(target: &str, measured: Option<f64>, limit: f64, at_least: bool) -> Self {
        Self {
            target: target.to_owned(),
            measured,
            limit,
            met: measured.map(|m| if at_least { m >= limit } else { m <= limit }),
        }
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

/// The summary as a text table.
pub fn table(rows: &[Summary]) -> String {
    let mut out = format!(
        "{:<24} {:>3} {:>10} {:>9} {:>9} {:>9} {:>10} {:>9} {:>8} {:>9} {:>8} {:>5}\n",
        "scenario",
        "n",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "cpu us/rq",
        "db us/rq",
        "x echo",
        "x writeB",
        "rss MB",
        "err"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<24} {:>3} {:>10} {:>9} {:>9} {:>9} {:>10} {:>9} {:>8} {:>9} {:>8} {:>5}\n",
            r.scenario,
            r.rounds,
            fmt_opt(r.rate, 0),
            fmt_opt(r.p50_us.map(|v| v / 1000.0), 2),
            fmt_opt(r.p99_us.map(|v| v / 1000.0), 2),
            fmt_opt(r.p999_us.map(|v| v / 1000.0), 2),
            fmt_opt(r.server_cpu_us, 1),
            fmt_opt(r.db_cpu_us, 1),
            fmt_opt(r.cpu_vs_bare_echo, 2),
            fmt_opt(r.rate_vs_write_baseline, 2),
            fmt_opt(r.peak_rss.map(|v| v / 1048576.0), 1),
            r.errors
        ));
    }
    out
}

/// Targets as text lines.
pub fn targets_text(ts: &[Target]) -> String {
    ts.iter()
        .map(|t| {
            format!(
                "{:<5} {} (measured {}, limit {})\n",
                match t.met {
                    Some(true) => "MET",
                    Some(false) => "MISS",
                    None => "n/a",
                },
                t.target,
                fmt_opt(t.measured, 2),
                t.limit
            )
        })
        .collect()
}

/// The whole report written by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// The command line.
    pub command: Vec<String>,
    /// Engine.
    pub engine: String,
    /// Employees in the database.
    pub employees: u64,
    /// Units in the database.
    pub units: usize,
    /// Database size after seeding, bytes.
    pub db_bytes: Option<u64>,
    /// Server resident set after start, before any call, bytes.
    pub idle_rss_start: u64,
    /// Server resident set when idle after the rounds, bytes.
    pub idle_rss_end: u64,
    /// Of `idle_rss_end`, anonymous pages (heap, stacks), bytes.
    pub idle_rss_end_anon: u64,
    /// Of `idle_rss_end`, file-backed pages (the binary's code and libraries), bytes.
    pub idle_rss_end_file: u64,
    /// Imports (the seeding import, and import rounds).
    pub imports: Vec<ImportResult>,
    /// Peak server resident set during imports, bytes.
    pub import_peak_rss: u64,
    /// Rounds.
    pub rounds: Vec<Round>,
    /// Medians.
    pub summary: Vec<Summary>,
    /// Targets.
    pub targets: Vec<Target>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rate: f64, cpu: f64) -> Measurement {
        Measurement {
            requests: 100,
            errors: 0,
            first_error: None,
            seconds: 1.0,
            rate,
            p50_us: 100,
            p99_us: 200,
            p999_us: 300,
            max_us: 400,
            server_cpu_us_per_req: Some(cpu),
            client_cpu_us_per_req: None,
            db_cpu_us_per_req: None,
            target_rate: None,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn ratios_are_taken_within_a_round() {
        let mut rounds = Vec::new();
        for (echo, get, raw, upd) in [(10.0, 30.0, 1000.0, 600.0), (20.0, 60.0, 2000.0, 1200.0)] {
            let mut r = Round::default();
            r.closed.insert("echo-bare".into(), m(1.0, echo));
            r.closed.insert("get-employee".into(), m(1.0, get));
            r.closed.insert("raw-insert".into(), m(raw, 1.0));
            r.closed.insert("update-employee".into(), m(upd, 1.0));
            rounds.push(r);
        }
        let s = summarise(&rounds);
        let get = s.iter().find(|r| r.scenario == "get-employee").unwrap();
        assert_eq!(get.cpu_vs_bare_echo, Some(3.0));
        let upd = s.iter().find(|r| r.scenario == "update-employee").unwrap();
        assert_eq!(upd.rate_vs_write_baseline, Some(0.6));
        assert!(table(&s).contains("get-employee"));
    }
}
