//! `kinerja-bench`: the load generator. See `BENCHMARKS.md` for the method and the figures.
//!
//! - `run`: a synthetic province in a fresh database, `kinerja serve` and the two echo
//!   baselines as child processes, then rounds of every scenario (closed loop, then open loop at
//!   half the round's closed-loop rate), medians, ratios, targets, table and JSON.
//! - `import`: bulk-import rounds, each into a fresh database.
//! - `smoke`: everything once with tiny sizes; fails on any error, never on speed (CI).
//! - `echo-server`: the echo baseline server (started by `run`).
//! - `statements`: what rendering the point reads' statements costs, in full and from templates.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use kinerja::auth::Role;
use kinerja::auth::jwt::{Claims, DEFAULT_AUDIENCE, DEV_ISSUER, DevKey};
use kinerja::bench::db::{self, BenchDb, Engine};
use kinerja::bench::echo::{self, EchoStack};
use kinerja::bench::load::{self, Probe};
use kinerja::bench::proc::{self, ServerProcess};
use kinerja::bench::province::{Province, ProvinceSpec};
use kinerja::bench::report::{self, Machine, Report, Round, Target};
use kinerja::bench::scenarios::{self, ServerRole, World};
use kinerja::config::AuthArgs;

#[derive(Debug, Parser)]
#[command(
    name = "kinerja-bench",
    about = "Load generator and benchmarks of Kinerja"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Seed a province, run every scenario in rounds, report medians, ratios and targets.
    Run(RunArgs),
    /// Bulk-import rounds, each into a fresh database.
    Import(ImportArgs),
    /// Everything once with tiny sizes; fails on errors, never on speed.
    Smoke(SmokeArgs),
    /// Serve the echo baseline (started by `run`).
    #[command(hide = true)]
    EchoServer(EchoArgs),
    /// What rendering the point reads' statements costs: built in full against their templates.
    Statements(StatementsArgs),
}

#[derive(Debug, Clone, Args)]
struct Common {
    /// Database engine.
    #[arg(long, value_enum, default_value_t = Engine::Sqlite)]
    engine: Engine,
    /// PostgreSQL server (admin database); benchmark databases are created and dropped on it.
    #[arg(
        long,
        env = "KINERJA_BENCH_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_url: String,
    /// Directory for SQLite files, keys and server logs (default: a new one under /tmp).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Employees per import stream (one all-or-nothing batch each).
    #[arg(long, default_value_t = 10_000)]
    import_batch: u64,
    /// Concurrent import streams (agencies are spread over them).
    #[arg(long, default_value_t = 1)]
    import_streams: usize,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the database afterwards.
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Clone, Args)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Employees in the province.
    #[arg(long, default_value_t = 10_000)]
    employees: u64,
    /// Agencies the province is spread over (default: one per 50,000 employees); 1 makes the
    /// root unit's report cover the whole province.
    #[arg(long)]
    agencies: Option<u64>,
    /// Rounds (medians are taken over them).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Warm-up before each measured window, seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    /// Measured window of each scenario, seconds.
    #[arg(long, default_value_t = 4.0)]
    secs: f64,
    /// Calls in flight in closed loop.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections per server.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Scenarios to run (comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Skip the open-loop runs.
    #[arg(long)]
    no_open_loop: bool,
    /// Fraction of the round's closed-loop rate the open loop runs at.
    #[arg(long, default_value_t = 0.5)]
    open_fraction: f64,
    /// pgbench clients (PostgreSQL): by default the service's pool size, so both use as many
    /// database connections.
    #[arg(long, default_value_t = 8)]
    pgbench_clients: usize,
}

#[derive(Debug, Clone, Args)]
struct ImportArgs {
    #[command(flatten)]
    common: Common,
    /// Employees per import round (each with one assignment).
    #[arg(long, default_value_t = 200_000)]
    employees: u64,
    /// Rounds, each on a fresh database.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

#[derive(Debug, Clone, Args)]
struct SmokeArgs {
    /// Database engine.
    #[arg(long, value_enum, default_value_t = Engine::Sqlite)]
    engine: Engine,
    /// PostgreSQL server (admin database).
    #[arg(
        long,
        env = "KINERJA_BENCH_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_url: String,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
struct StatementsArgs {
    /// Statements per timed block.
    #[arg(long, default_value_t = 20_000)]
    iterations: u32,
    /// Blocks of each kind, alternating (the median is reported).
    #[arg(long, default_value_t = 7)]
    blocks: u32,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
struct EchoArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: std::net::SocketAddr,
    /// Bare tonic, or Kinerja's tower stack.
    #[arg(long, value_enum)]
    stack: EchoStack,
    /// Token verification settings (as `kinerja serve`).
    #[command(flatten)]
    auth: AuthArgs,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Cmd::Run(a) => run(a).await.map(|_| ()),
            Cmd::Import(a) => import_rounds(a).await,
            Cmd::Smoke(a) => smoke(a).await,
            Cmd::EchoServer(a) => echo_server(a).await,
            Cmd::Statements(a) => statements(&a),
        }
    })
}

/// Prints (and writes as JSON) what each point read's statement costs to render.
fn statements(a: &StatementsArgs) -> Result<()> {
    let costs = kinerja::bench::statements::statement_costs(a.iterations, a.blocks);
    println!(
        "{:<40} {:<9} {:>12} {:>14} {:>7}",
        "statement", "engine", "built (µs)", "template (µs)", "ratio"
    );
    for c in &costs {
        println!(
            "{:<40} {:<9} {:>12.2} {:>14.2} {:>6.1}x",
            c.statement,
            c.engine,
            c.built_ns / 1e3,
            c.template_ns / 1e3,
            c.built_ns / c.template_ns
        );
    }
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&costs)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn echo_server(a: EchoArgs) -> Result<()> {
    let auth = a.auth.to_config(a.listen)?;
    echo::serve(
        a.listen,
        a.stack,
        auth,
        Duration::from_secs(30),
        1024,
        async {
            kinerja::server::shutdown_signal().await;
        },
    )
    .await
}

/// Everything a run sets up: work dir, key, token.
struct Setup {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    key: PathBuf,
    token: String,
}

fn setup(work_dir: Option<PathBuf>) -> Result<Setup> {
    let (dir, tmp) = match work_dir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            (d, None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("kinerja-bench-")
                .tempdir()?;
            (t.path().to_owned(), Some(t))
        }
    };
    let key = dir.join("bench-dev-key.pem");
    let dev = DevKey::load_or_create(&key)?;
    let token = dev.sign(
        &Claims::new("bench-sysadmin", DEV_ISSUER, DEFAULT_AUDIENCE, 24 * 3600)
            .roles(&[Role::SystemAdmin]),
    )?;
    Ok(Setup {
        dir,
        _tmp: tmp,
        key,
        token,
    })
}

/// Arguments every server under test gets: the bench's dev key, and a per-caller rate limit so
/// high it never refuses (the limiter still runs on every call).
fn auth_args(key: &std::path::Path) -> Vec<String> {
    vec![
        "--dev-key-file".into(),
        key.display().to_string(),
        "--rate-limit-per-second".into(),
        "1000000000".into(),
        "--rate-limit-burst".into(),
        "1000000000".into(),
    ]
}

async fn start_kinerja(s: &Setup, db: &BenchDb, tag: &str) -> Result<ServerProcess> {
    let addr = proc::free_addr()?;
    let mut args = vec![
        "serve".to_owned(),
        "--listen".into(),
        addr.to_string(),
        "--database-url".into(),
        db.url.clone(),
        "--no-migrate".into(),
    ];
    args.extend(auth_args(&s.key));
    ServerProcess::start(
        "kinerja",
        &proc::kinerja_binary()?,
        &args,
        addr,
        &s.dir.join(format!("kinerja-{tag}.log")),
    )
    .await
}

async fn start_echo(s: &Setup, stack: EchoStack) -> Result<ServerProcess> {
    let addr = proc::free_addr()?;
    let name = match stack {
        EchoStack::Bare => "echo-bare",
        EchoStack::Full => "echo-full",
    };
    let mut args = vec![
        "echo-server".to_owned(),
        "--listen".into(),
        addr.to_string(),
        "--stack".into(),
        format!("{stack:?}").to_lowercase(),
    ];
    args.extend(auth_args(&s.key));
    ServerProcess::start(
        name,
        &std::env::current_exe()?,
        &args,
        addr,
        &s.dir.join(format!("{name}.log")),
    )
    .await
}

/// How long the server is left without calls before its idle resident set is read.
const IDLE_WAIT: Duration = Duration::from_secs(15);

fn db_name(tag: &str) -> String {
    format!("kinerja_bench_{}_{tag}", std::process::id())
}

fn mb(b: u64) -> f64 {
    b as f64 / 1048576.0
}

async fn run(a: RunArgs) -> Result<Report> {
    let machine = Machine::read();
    let s = setup(a.common.work_dir.clone())?;
    let selected: Vec<&'static scenarios::Scenario> = if a.scenarios.is_empty() {
        scenarios::SCENARIOS.iter().collect()
    } else {
        a.scenarios
            .iter()
            .map(|n| scenarios::scenario(n).with_context(|| format!("unknown scenario {n}")))
            .collect::<Result<_>>()?
    };
    eprintln!(
        "machine: {} x {} ({:.1} GB), load {}",
        machine.cpus,
        machine.cpu_model,
        mb(machine.memory_bytes) / 1024.0,
        machine.load_average
    );
    let mut spec = ProvinceSpec::new(a.employees);
    if let Some(n) = a.agencies {
        spec.agencies = n.max(1);
    }
    let province = Arc::new(Province::generate(spec));
    eprintln!(
        "province: {} employees, {} agencies, {} units ({:?})",
        a.employees,
        province.agencies.len(),
        province.units.len(),
        a.common.engine
    );
    let db = BenchDb::create(a.common.engine, &a.common.pg_url, &s.dir, &db_name("main")).await?;
    let result = run_on(&a, &s, &db, province, machine, &selected).await;
    if !a.common.keep {
        db.drop_db().await?;
    } else {
        eprintln!("kept database {}", db.name());
    }
    let report = result?;
    println!("{}", report::table(&report.summary));
    println!("{}", report::targets_text(&report.targets));
    if let Some(path) = &a.common.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(report)
}

async fn run_on(
    a: &RunArgs,
    s: &Setup,
    db: &BenchDb,
    province: Arc<Province>,
    machine: Machine,
    selected: &[&'static scenarios::Scenario],
) -> Result<Report> {
    db::seed_org(db, &province).await?;
    let kin = start_kinerja(s, db, "main").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss_start = kin.rss();
    eprintln!("kinerja idle RSS at start: {:.1} MB", mb(idle_rss_start));
    kin.take_peak_rss();

    let import_chans = kin.connections(a.common.import_streams).await?;
    let seed = scenarios::import(
        province.clone(),
        0..province.len(),
        &import_chans,
        &s.token,
        scenarios::ImportShape {
            batch: a.common.import_batch,
            streams: a.common.import_streams,
        },
        Some(kin.pid()),
        &db.backend_pids().await,
    )
    .await?;
    let import_peak_rss = kin.take_peak_rss();
    eprintln!(
        "seed import: {} employees + {} assignments in {:.1} s = {:.0} employees/s (server CPU {:.1} s, peak RSS {:.1} MB)",
        seed.employees,
        seed.assignments,
        seed.seconds,
        seed.employees_per_sec,
        seed.server_cpu_s.unwrap_or(0.0),
        mb(import_peak_rss)
    );
    drop(import_chans);
    db::analyze(db).await?;

    let stored = db::employee_ids(db).await?;
    let nips = stored.iter().map(|r| r.2.clone()).collect();
    let ids = stored.into_iter().map(|(id, v, _)| (id, v)).collect();
    let mut world = World::new(province.clone(), ids, nips, &s.token)?;
    if selected.iter().any(|sc| scenarios::needs_results(sc.name)) {
        let t0 = std::time::Instant::now();
        let ch = kin.connections(1).await?;
        let seeded =
            kinerja::bench::results::seed_results(db, &province, ch[0].clone(), &s.token).await?;
        eprintln!(
            "seeded results in {:.1} s: {}; calibration group of unit {} has {} SKPs",
            t0.elapsed().as_secs_f64(),
            seeded
                .rows
                .iter()
                .map(|(t, n)| format!("{n} {t}"))
                .collect::<Vec<_>>()
                .join(", "),
            seeded.calibration.0,
            seeded.calibration.1
        );
        let dev = DevKey::load_or_create(&s.key)?;
        // The write pool's owners record realisasi on their own SKPs (create-realisasi).
        let owners = seeded.write_pool;
        let tokens = (0..owners)
            .map(|i| {
                dev.sign(
                    &Claims::new(
                        &province.employee(i).nip,
                        DEV_ISSUER,
                        DEFAULT_AUDIENCE,
                        24 * 3600,
                    )
                    .roles(&[Role::Employee]),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        world = world.with_results(seeded, &tokens)?;
    }
    let db_bytes = db.size_bytes().await.ok();

    let needs = |r: ServerRole| selected.iter().any(|sc| sc.server == r);
    let bare = if needs(ServerRole::EchoBare) {
        Some(start_echo(s, EchoStack::Bare).await?)
    } else {
        None
    };
    let full = if needs(ServerRole::EchoFull) {
        Some(start_echo(s, EchoStack::Full).await?)
    } else {
        None
    };
    let raw = if needs(ServerRole::Database) {
        Some(db::raw_insert_call(db).await?)
    } else {
        None
    };
    let mut chans = std::collections::HashMap::new();
    for (role, srv) in [
        (ServerRole::EchoBare, bare.as_ref()),
        (ServerRole::EchoFull, full.as_ref()),
        (ServerRole::Kinerja, Some(&kin)),
    ] {
        if let Some(srv) = srv {
            chans.insert(role, srv.connections(a.connections).await?);
        }
    }
    kin.take_peak_rss();

    let warmup = Duration::from_secs_f64(a.warmup_secs);
    let secs = Duration::from_secs_f64(a.secs);
    let mut rounds = Vec::new();
    for r in 0..a.rounds {
        let mut round = Round::default();
        for sc in selected {
            let (call, pid) = match sc.server {
                ServerRole::Database => match &raw {
                    Some((_, call)) => (call.clone(), None),
                    None => continue,
                },
                role => {
                    let srv = match role {
                        ServerRole::EchoBare => bare.as_ref(),
                        ServerRole::EchoFull => full.as_ref(),
                        _ => Some(&kin),
                    }
                    .context("server not started")?;
                    let ch = chans.get(&role).context("no connections")?;
                    (scenarios::build(sc.name, ch, &world)?, Some(srv.pid()))
                }
            };
            kin.take_peak_rss();
            let db_pids = if sc.server == ServerRole::Kinerja {
                db.backend_pids().await
            } else {
                Vec::new()
            };
            let m = load::closed_loop(
                call,
                if sc.serial { 1 } else { a.concurrency },
                warmup,
                secs,
                Probe {
                    server_pid: pid,
                    db_pids,
                },
            )
            .await;
            let peak = kin.take_peak_rss();
            eprintln!(
                "round {} {:<18} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  p99.9 {:>6.2} ms  cpu {:>7} us/req  db {:>7} us/req  rss {:.1} MB  errors {}{}",
                r + 1,
                sc.name,
                m.rate,
                m.p50_us as f64 / 1000.0,
                m.p99_us as f64 / 1000.0,
                m.p999_us as f64 / 1000.0,
                m.server_cpu_us_per_req
                    .map_or("-".into(), |v| format!("{v:.1}")),
                m.db_cpu_us_per_req
                    .map_or("-".into(), |v| format!("{v:.1}")),
                mb(peak),
                m.errors,
                m.first_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            if sc.server == ServerRole::Kinerja {
                round.peak_rss.insert(sc.name.to_owned(), peak);
            }
            round.closed.insert(sc.name.to_owned(), m);
        }
        if a.common.engine == Engine::Postgres
            && selected.iter().any(|sc| sc.kind == scenarios::Kind::Write)
        {
            match db::pgbench_insert(db, a.pgbench_clients, a.secs.ceil() as u64).await {
                Ok(p) => {
                    eprintln!(
                        "round {} pgbench single-row insert: {:.0} tps",
                        r + 1,
                        p.tps
                    );
                    round.pgbench = Some(p);
                }
                // Without pgbench the raw insert loop is the write baseline (said in the report).
                Err(e) => eprintln!(
                    "round {} pgbench unavailable, raw insert loop is the write baseline: {e:#}",
                    r + 1
                ),
            }
        }
        if !a.no_open_loop {
            for name in selected.iter().filter(|sc| sc.open_loop).map(|sc| sc.name) {
                let Some(closed) = round.closed.get(name) else {
                    continue;
                };
                let rate = closed.rate * a.open_fraction;
                let ch = chans.get(&ServerRole::Kinerja).context("no connections")?;
                let call = scenarios::build(name, ch, &world)?;
                kin.take_peak_rss();
                let m = load::open_loop(
                    call,
                    rate,
                    4096,
                    warmup,
                    secs,
                    Probe {
                        server_pid: Some(kin.pid()),
                        db_pids: db.backend_pids().await,
                    },
                )
                .await;
                let peak = kin.take_peak_rss();
                eprintln!(
                    "round {} {:<18} open loop at {:>6.0}/s: p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  errors {}",
                    r + 1,
                    name,
                    rate,
                    m.p50_us as f64 / 1000.0,
                    m.p99_us as f64 / 1000.0,
                    m.p999_us as f64 / 1000.0,
                    m.errors
                );
                round.peak_rss.entry(format!("{name}@open")).or_insert(peak);
                round.open.insert(name.to_owned(), m);
            }
        }
        rounds.push(round);
    }
    // Idle: after load the server closes idle SQLite connections (1 s idle timeout), its
    // allocator returns pages free for 1 s, and it purges in each quiet health interval (2 s)
    // for 16 s, so the idle resident set is read after that.
    tokio::time::sleep(IDLE_WAIT).await;
    let idle_rss_end = kin.rss();
    let (idle_rss_end_anon, idle_rss_end_file) = kin.rss_split();
    eprintln!(
        "kinerja idle RSS after load: {:.1} MB (anonymous {:.1} MB, file-backed {:.1} MB)",
        mb(idle_rss_end),
        mb(idle_rss_end_anon),
        mb(idle_rss_end_file)
    );
    if let Some((store, _)) = raw {
        store.close().await;
    }
    drop(chans);
    drop(bare);
    drop(full);
    drop(kin);

    let summary = report::summarise(&rounds);
    let get = |n: &str| summary.iter().find(|r| r.scenario == n);
    // A latency only counts when calls completed in the window (a call longer than the window
    // leaves no sample, and an empty histogram would read as 0 ms).
    let completed = |n: &str| get(n).filter(|r| r.rate.is_some_and(|v| v > 0.0));
    let scenario_peak = rounds
        .iter()
        .flat_map(|r| r.peak_rss.values().copied())
        .max()
        .map(mb);
    // What the write scenarios are judged against on this engine.
    let write_baseline = if a.common.engine == Engine::Postgres {
        "pgbench single-row insert TPS"
    } else {
        "the raw single-row insert loop"
    };
    let mut targets = vec![
        Target::check(
            "point read (get-employee): server CPU per call <= 4x bare echo",
            get("get-employee").and_then(|r| r.cpu_vs_bare_echo),
            4.0,
            false,
        ),
        Target::check(
            "full tower stack alone (echo-full): server CPU per call <= 1.5x bare echo",
            get("echo-full").and_then(|r| r.cpu_vs_bare_echo),
            1.5,
            false,
        ),
        Target::check(
            &format!("writes (update-employee) >= 50% of {write_baseline}"),
            get("update-employee").and_then(|r| r.rate_vs_write_baseline),
            0.5,
            true,
        ),
        Target::check(
            "server RSS during read/write scenarios < 150 MB",
            scenario_peak,
            150.0,
            false,
        ),
        Target::check(
            "server RSS during the seed import < 150 MB",
            Some(mb(import_peak_rss)),
            150.0,
            false,
        ),
        Target::check(
            "server RSS idle < 40 MB (max of start and end)",
            Some(mb(idle_rss_start.max(idle_rss_end))),
            40.0,
            false,
        ),
    ];
    // Open loop at half the closed-loop maximum: reads p99 < 10 ms, writes p99 < 25 ms.
    for sc in scenarios::SCENARIOS.iter().filter(|sc| sc.open_loop) {
        let limit = if sc.kind == scenarios::Kind::Write {
            25.0
        } else {
            10.0
        };
        targets.push(Target::check(
            &format!("open loop at half max: {} p99 < {limit} ms", sc.name),
            get(&format!("{}@open", sc.name)).and_then(|r| r.p99_us.map(|v| v / 1000.0)),
            limit,
            false,
        ));
    }
    // Point reads of an SKP and of a result (with and without its explanation, and by the
    // employee themself), like get-employee's.
    for name in [
        "get-skp",
        "get-evaluation",
        "get-evaluation-own",
        "explain-evaluation",
    ] {
        targets.push(Target::check(
            &format!("point read ({name}): server CPU per call <= 4x bare echo"),
            get(name).and_then(|r| r.cpu_vs_bare_echo),
            4.0,
            false,
        ));
    }
    targets.push(Target::check(
        &format!(
            "distribution report of the whole province ({} employees, one call in flight): p50 < 1 s (target stated for 200,000)",
            province.agencies.first().map_or(0, |ag| ag.employees)
        ),
        completed("dist-province").and_then(|r| r.p50_us.map(|v| v / 1e6)),
        1.0,
        false,
    ));
    targets.push(Target::check(
        "calibration check of a unit of ~1,000 (one call in flight): p50 < 20 ms",
        completed("check-calibration").and_then(|r| r.p50_us.map(|v| v / 1000.0)),
        20.0,
        false,
    ));
    targets.push(Target::check(
        &format!("writes (create-realisasi) >= 50% of {write_baseline}"),
        get("create-realisasi").and_then(|r| r.rate_vs_write_baseline),
        0.5,
        true,
    ));
    targets.push(Target::check(
        "bulk import (seed) >= 50,000 employees/s",
        Some(seed.employees_per_sec),
        50_000.0,
        true,
    ));
    Ok(Report {
        machine,
        command: std::env::args().collect(),
        engine: format!("{:?}", a.common.engine).to_lowercase(),
        employees: province.len(),
        units: province.units.len(),
        db_bytes,
        idle_rss_start,
        idle_rss_end,
        idle_rss_end_anon,
        idle_rss_end_file,
        imports: vec![seed],
        import_peak_rss,
        rounds,
        summary,
        targets,
    })
}

async fn import_rounds(a: ImportArgs) -> Result<()> {
    let s = setup(a.common.work_dir.clone())?;
    let mut results = Vec::new();
    let mut peaks = Vec::new();
    for r in 0..a.rounds {
        let province = Arc::new(Province::generate(ProvinceSpec::new(a.employees)));
        let db = BenchDb::create(
            a.common.engine,
            &a.common.pg_url,
            &s.dir,
            &db_name(&format!("import{r}")),
        )
        .await?;
        let out = async {
            db::seed_org(&db, &province).await?;
            let kin = start_kinerja(&s, &db, &format!("import{r}")).await?;
            kin.take_peak_rss();
            let chans = kin.connections(a.common.import_streams).await?;
            let pids0 = db.backend_pids().await;
            let mut res = scenarios::import(
                province.clone(),
                0..province.len(),
                &chans,
                &s.token,
                scenarios::ImportShape {
                    batch: a.common.import_batch,
                    streams: a.common.import_streams,
                },
                Some(kin.pid()),
                &pids0,
            )
            .await?;
            // Backends the server opened during the import (a second stream's) count from zero.
            if let Some(cpu) = res.db_cpu_s.as_mut() {
                for pid in db.backend_pids().await {
                    if !pids0.contains(&pid) {
                        *cpu += proc::cpu_time(pid).map_or(0.0, |t| t.as_secs_f64());
                    }
                }
            }
            let peak = kin.take_peak_rss();
            Ok::<_, anyhow::Error>((res, peak))
        }
        .await;
        if !a.common.keep {
            db.drop_db().await?;
        }
        let (res, peak) = out?;
        eprintln!(
            "import round {}: {} employees + {} assignments in {:.1} s = {:.0} employees/s (server CPU {:.1} s, database CPU {:.1} s, client CPU {:.1} s, peak RSS {:.1} MB)",
            r + 1,
            res.employees,
            res.assignments,
            res.seconds,
            res.employees_per_sec,
            res.server_cpu_s.unwrap_or(0.0),
            res.db_cpu_s.unwrap_or(0.0),
            res.client_cpu_s.unwrap_or(0.0),
            mb(peak)
        );
        results.push(res);
        peaks.push(peak);
    }
    let med = report::median(results.iter().map(|r| r.employees_per_sec).collect());
    let med_peak = report::median(peaks.iter().map(|p| mb(*p)).collect());
    println!(
        "import {:?}: {} employees x {} rounds, batch {}, streams {}: median {:.0} employees/s, median peak RSS {:.1} MB",
        a.common.engine,
        a.employees,
        a.rounds,
        a.common.import_batch,
        a.common.import_streams,
        med.unwrap_or(0.0),
        med_peak.unwrap_or(0.0)
    );
    if let Some(path) = &a.common.json {
        let v = serde_json::json!({
            "machine": Machine::read(),
            "command": std::env::args().collect::<Vec<_>>(),
            "engine": format!("{:?}", a.common.engine).to_lowercase(),
            "employees": a.employees,
            "batch": a.common.import_batch,
            "streams": a.common.import_streams,
            "rounds": results,
            "peak_rss": peaks,
            "median_employees_per_sec": med,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&v)?)?;
    }
    Ok(())
}

async fn smoke(a: SmokeArgs) -> Result<()> {
    let args = RunArgs {
        common: Common {
            engine: a.engine,
            pg_url: a.pg_url.clone(),
            work_dir: None,
            import_batch: 150,
            import_streams: 2,
            json: a.json.clone(),
            keep: false,
        },
        employees: 400,
        agencies: None,
        rounds: 1,
        warmup_secs: 0.1,
        secs: 0.3,
        concurrency: 4,
        connections: 1,
        scenarios: Vec::new(),
        no_open_loop: false,
        open_fraction: 0.5,
        pgbench_clients: 2,
    };
    let report = run(args).await?;
    let errors: u64 = report.summary.iter().map(|r| r.errors).sum();
    let ran = report.summary.len();
    if errors > 0 {
        bail!("smoke: {errors} calls failed");
    }
    if report.imports.first().map(|i| i.employees) != Some(400) {
        bail!("smoke: the seed import did not store 400 employees");
    }
    // Every scenario ran in closed loop, and in open loop where it has one (without errors, see
    // above; a slow call may leave a short window without a completed call, which is no error).
    for sc in scenarios::SCENARIOS {
        let mut rows = vec![sc.name.to_owned()];
        if sc.open_loop {
            rows.push(format!("{}@open", sc.name));
        }
        for row in rows {
            if !report.summary.iter().any(|r| r.scenario == row) {
                bail!("smoke: {row} did not run");
            }
        }
    }
    println!(
        "smoke: {ran} scenarios ran, 0 errors (the smoke never judges speed: the targets above are printed only to show the report works)"
    );
    Ok(())
}
