//! Synthetic results for a seeded province: one performance period per agency (through
//! `PerformancePeriodService/CreatePeriod`, so its four evaluation periods are the service's),
//! then by bulk SQL (multi-row `INSERT` literals on SQLite, `COPY` on PostgreSQL, the method of
//! the integration test `reports_on_100k_synthetic_results_stay_correct`): an approved SKP per
//! employee with [`RHK_PER_SKP`] RHK of [`INDICATORS_PER_RHK`] indicators and its seven
//! behaviour values, realisasi of every indicator for all four quarters, first-quarter
//! evaluations in every state (rated, set and FINAL with their predikat), the open (TERBUKA)
//! evaluations of quarters two to four that recording their realisasi opened, and an
//! organisation rating for every unit.
//!
//! The write pool (the first [`write_pool`] employees) keeps quarters two to four free: the
//! `create-realisasi` scenario records them, and the service allows one realisasi per indicator
//! and evaluation period.
//!
//! The SKP's recorded assessor is the employee's superior, except in the calibration group: up
//! to [`CALIBRATION_GROUP`] employees of the subtree of the first unit below the root are
//! assessed by that unit's head, so `CheckCalibration` of that unit checks a group of that size.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use super::db::BenchDb;
use super::province::{Province, nip};
use crate::domain::skp::BERAKHLAK;
use crate::proto::v1 as pb;
use crate::proto::v1::performance_period_service_client::PerformancePeriodServiceClient;
use crate::store::Store;

/// RHK per SKP.
pub const RHK_PER_SKP: usize = 5;
/// Indicators per RHK.
pub const INDICATORS_PER_RHK: usize = 2;
/// Size the calibration group is capped at.
pub const CALIBRATION_GROUP: usize = 1000;
/// Employees seeded per bulk batch (bounds the seeder's memory at national scale).
const CHUNK: u64 = 2_500;
/// Largest write pool (see [`write_pool`]).
pub const WRITE_POOL: u64 = 3_000;

/// Employees `0..write_pool(n)` of a province of `n` keep quarters two to four free for the
/// `create-realisasi` scenario (a quarter of the province, at most [`WRITE_POOL`]); everyone
/// else has realisasi for all four quarters.
pub fn write_pool(n: u64) -> u64 {
    WRITE_POOL.min(n / 4)
}

/// Calls `create-realisasi` can make on a pool of `pool` employees: every indicator of their
/// SKP once in each of the `later_quarters` open evaluation periods.
pub fn write_capacity(pool: u64, later_quarters: usize) -> u64 {
    pool * (RHK_PER_SKP * INDICATORS_PER_RHK) as u64 * later_quarters as u64
}

/// What the result scenarios need of the seeded data.
#[derive(Debug, Clone, Default)]
pub struct SeededResults {
    /// Per agency: the first-quarter evaluation period (the seeded one).
    pub q1: Vec<String>,
    /// Per agency: evaluation periods of quarters two to four (open for new realisasi).
    pub later: Vec<Vec<String>>,
    /// Per employee index: SKP id.
    pub skps: Vec<String>,
    /// Per employee index: employee id (the service's).
    pub employees: Vec<String>,
    /// Per agency: the performance period (the year) its SKPs belong to.
    pub periods: Vec<String>,
    /// Employees `0..write_pool` have quarters two to four free for new realisasi.
    pub write_pool: u64,
    /// Indices of the employees recorded as the assessor of at least one SKP, ascending.
    pub assessors: Vec<u64>,
    /// Units (indices into `Province::units`) where an assessor is posted, ascending, without
    /// the calibration unit (its group is the ~1,000 of `check-calibration`).
    pub assessor_units: Vec<usize>,
    /// Indices of employees whose first-quarter result is set or FINAL.
    pub set_results: Vec<u64>,
    /// The calibration unit (index into `Province::units`) and its group size.
    pub calibration: (usize, usize),
    /// Root unit of each agency (index into `Province::units`).
    pub roots: Vec<usize>,
    /// Rows inserted, by table.
    pub rows: Vec<(&'static str, u64)>,
}

impl SeededResults {
    /// The indicator id of indicator `k` (0-based, RHK-major) of employee `i`'s SKP.
    pub fn indicator(&self, i: u64, k: usize) -> String {
        indicator_id(i, k)
    }
}

fn indicator_id(i: u64, k: usize) -> String {
    format!("bi-{i:08}-{k:02}")
}

fn v<T: Into<Value>>(x: T) -> Value {
    x.into()
}

fn none_text() -> Value {
    Value::String(None)
}

fn none_ts() -> Value {
    Value::ChronoDateTimeUtc(None)
}

/// A value as an SQL literal (the seeded texts hold no quotes).
fn lit(v: &Value) -> String {
    match v {
        Value::String(Some(s)) => format!("'{}'", s.replace('\'', "''")),
        Value::Bool(Some(b)) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Value::Int(Some(i)) => i.to_string(),
        Value::BigInt(Some(i)) => i.to_string(),
        Value::Double(Some(f)) => format!("{f:?}"),
        Value::ChronoDate(Some(d)) => format!("'{}'", d.format("%Y-%m-%d")),
        Value::ChronoDateTimeUtc(Some(t)) => {
            format!(
                "'{}'",
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
            )
        }
        _ => "NULL".to_owned(),
    }
}

/// A value as a CSV cell of PostgreSQL's `COPY` (an empty unquoted cell is NULL).
fn csv(v: &Value) -> String {
    match v {
        Value::String(Some(s)) => format!("\"{}\"", s.replace('"', "\"\"")),
        _ => {
            let l = lit(v);
            if l == "NULL" {
                String::new()
            } else {
                l.trim_matches('\'').to_owned()
            }
        }
    }
}

/// Inserts `rows` into `table`: `COPY ... FROM STDIN` on PostgreSQL, multi-row INSERTs of
/// 2,000 literal rows in one transaction on SQLite.
pub async fn bulk_insert(
    db: &DatabaseConnection,
    table: &str,
    cols: &[&str],
    rows: &[Vec<Value>],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        use sea_orm::sqlx::postgres::PgPoolCopyExt;
        let mut data = String::new();
        for row in rows {
            anyhow::ensure!(row.len() == cols.len(), "{table}: row width");
            let cells: Vec<String> = row.iter().map(csv).collect();
            data.push_str(&cells.join(","));
            data.push('\n');
        }
        let mut copy = db
            .get_postgres_connection_pool()
            .copy_in_raw(&format!(
                "COPY {table} ({}) FROM STDIN WITH (FORMAT csv)",
                cols.join(", ")
            ))
            .await
            .with_context(|| format!("copy into {table}"))?;
        copy.send(data.as_bytes()).await?;
        copy.finish()
            .await
            .with_context(|| format!("copy into {table}"))?;
        return Ok(());
    }
    let txn = db.begin().await?;
    for chunk in rows.chunks(2000) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        for (ri, row) in chunk.iter().enumerate() {
            anyhow::ensure!(row.len() == cols.len(), "{table}: row width");
            if ri > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            let cells: Vec<String> = row.iter().map(lit).collect();
            sql.push_str(&cells.join(", "));
            sql.push(')');
        }
        txn.execute_raw(Statement::from_string(backend, sql))
            .await
            .with_context(|| format!("insert into {table}"))?;
    }
    txn.commit().await?;
    Ok(())
}

const SKP_COLS: &[&str] = &[
    "id",
    "employee_id",
    "period_id",
    "agency_id",
    "year",
    "start_date",
    "end_date",
    "approach",
    "state",
    "assessor_id",
    "assessor_superior_id",
    "assessor_overridden",
    "top_of_chain",
    "unit_id",
    "unit_name",
    "position_name",
    "position_type",
    "annex_resource_support",
    "annex_accountability",
    "annex_consequences",
    "approved_at",
    "version",
    "created_at",
    "updated_at",
];
const RHK_COLS: &[&str] = &[
    "id",
    "skp_id",
    "sequence",
    "kind",
    "text",
    "created_at",
    "updated_at",
];
const IND_COLS: &[&str] = &[
    "id",
    "skp_id",
    "rhk_id",
    "sequence",
    "aspect",
    "text",
    "target",
    "unit",
    "created_at",
    "updated_at",
];
const REAL_COLS: &[&str] = &[
    "id",
    "skp_id",
    "indicator_id",
    "evaluation_period_id",
    "value",
    "account",
    "evidence",
    "created_at",
    "updated_at",
];
const BEH_COLS: &[&str] = &["skp_id", "value", "expectation", "version", "updated_at"];
const EVAL_COLS: &[&str] = &[
    "id",
    "skp_id",
    "evaluation_period_id",
    "state",
    "created_at",
    "updated_at",
    "results_rating",
    "behaviour_rating",
    "rating_reason",
    "predikat",
    "rated_by",
    "rated_at",
    "objection_deadline",
    "org_rating",
    "set_at",
    "final_at",
    "final_reason",
];
const ORG_COLS: &[&str] = &[
    "id",
    "unit_id",
    "evaluation_period_id",
    "rating",
    "reason",
    "set_by",
    "version",
    "created_at",
    "updated_at",
];

/// Predikat with the (results, behaviour) ratings that give it in the matrix.
const PREDIKAT: [(&str, &str, &str); 5] = [
    ("SANGAT_BAIK", "DI_ATAS_EKSPEKTASI", "DI_ATAS_EKSPEKTASI"),
    ("BAIK", "SESUAI_EKSPEKTASI", "SESUAI_EKSPEKTASI"),
    (
        "BUTUH_PERBAIKAN",
        "DI_BAWAH_EKSPEKTASI",
        "SESUAI_EKSPEKTASI",
    ),
    ("KURANG", "SESUAI_EKSPEKTASI", "DI_BAWAH_EKSPEKTASI"),
    (
        "SANGAT_KURANG",
        "DI_BAWAH_EKSPEKTASI",
        "DI_BAWAH_EKSPEKTASI",
    ),
];

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn position_type_text(t: i32) -> &'static str {
    match t {
        1 => "JPT",
        2 => "ADMINISTRATOR",
        3 => "PENGAWAS",
        5 => "JF",
        _ => "PELAKSANA",
    }
}

/// True when unit `u` lies in the subtree of unit `top`.
fn in_subtree(p: &Province, mut u: usize, top: usize) -> bool {
    loop {
        if u == top {
            return true;
        }
        match p.units[u].parent {
            Some(q) => u = q,
            None => return false,
        }
    }
}

/// Creates the periods and seeds the results of every employee of `p` (imported before).
pub async fn seed_results(
    db: &BenchDb,
    p: &Province,
    channel: Channel,
    admin_token: &str,
) -> Result<SeededResults> {
    let auth: MetadataValue<tonic::metadata::Ascii> = format!("Bearer {admin_token}").parse()?;
    let mut out = SeededResults::default();
    let mut periods = Vec::new();
    for ag in &p.agencies {
        let mut req = tonic::Request::new(pb::CreatePeriodRequest {
            period: Some(pb::PerformancePeriod {
                agency_id: ag.id.clone(),
                year: 2026,
                ..Default::default()
            }),
            request_id: String::new(),
        });
        req.metadata_mut().insert("authorization", auth.clone());
        let period = PerformancePeriodServiceClient::new(channel.clone())
            .create_period(req)
            .await
            .context("CreatePeriod")?
            .into_inner();
        let eps: Vec<String> = period
            .evaluation_periods
            .iter()
            .map(|e| e.id.clone())
            .collect();
        anyhow::ensure!(
            eps.len() >= 2,
            "the period has {} evaluation periods",
            eps.len()
        );
        out.q1.push(eps[0].clone());
        out.later.push(eps[1..].to_vec());
        out.roots.push(ag.first_unit);
        periods.push(period.id);
    }
    out.periods = periods.clone();
    out.write_pool = write_pool(p.len());
    let mut is_assessor = vec![false; p.len() as usize];

    let ids = super::db::employee_ids(db).await?;
    let by_nip: HashMap<String, String> = ids.into_iter().map(|(id, _, n)| (n, id)).collect();
    out.employees = (0..p.len())
        .map(|i| {
            by_nip
                .get(&nip(p.spec.nip_offset + i))
                .cloned()
                .with_context(|| format!("employee {i} is not stored"))
        })
        .collect::<Result<_>>()?;
    out.skps = (0..p.len()).map(|i| format!("bs-{i:08}")).collect();

    // The calibration unit: the first unit below the root of the first agency (or the root).
    let cal_unit = p.agencies[0].first_unit + usize::from(p.agencies[0].units > 1);
    let cal_head = p.agencies[0].first_employee
        + (cal_unit - p.agencies[0].first_unit) as u64 * p.spec.employees_per_unit;
    let mut cal_size = 0usize;

    let store = Store::connect(&db.config()).await?;
    let conn = store.pool();
    let created = utc(2026, 1, 5);
    let approved = utc(2026, 1, 20);
    let rated_at = utc(2026, 4, 10);
    let set_at = utc(2026, 4, 15);
    let past = utc(2026, 4, 30);
    let year_start = NaiveDate::from_ymd_opt(2026, 1, 1).context("date")?;
    let year_end = NaiveDate::from_ymd_opt(2026, 12, 31).context("date")?;
    let mut counts: HashMap<&'static str, u64> = HashMap::new();

    // Organisation ratings of every unit for the first quarter.
    let orgs: Vec<Vec<Value>> = p
        .units
        .iter()
        .enumerate()
        .map(|(j, u)| {
            vec![
                v(format!("bo-{j:08}")),
                v(u.id.clone()),
                v(out.q1[u.agency].clone()),
                v(["ISTIMEWA", "BAIK", "BAIK", "BUTUH_PERBAIKAN"][j % 4]),
                v("hasil evaluasi SAKIP"),
                v("bench-sysadmin"),
                v(1i64),
                v(created),
                v(created),
            ]
        })
        .collect();
    bulk_insert(conn, "org_ratings", ORG_COLS, &orgs).await?;
    *counts.entry("org_ratings").or_default() += orgs.len() as u64;

    let mut start = 0;
    while start < p.len() {
        let end = (start + CHUNK).min(p.len());
        let (mut skps, mut rhks, mut inds, mut behs, mut reals, mut evals) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for i in start..end {
            let e = p.employee(i);
            let r = super::scenarios::mix(i ^ 0x5EED_2026);
            let assessor = if cal_size < CALIBRATION_GROUP
                && i != cal_head
                && e.unit != p.agencies[e.agency].first_unit
                && in_subtree(p, e.unit, cal_unit)
            {
                cal_size += 1;
                Some(cal_head)
            } else {
                e.superior
            };
            if let Some(a) = assessor {
                is_assessor[a as usize] = true;
            }
            let assessor_sup = assessor.and_then(|a| p.employee(a).superior);
            // Quarters with realisasi: all four, except in the write pool (first quarter only).
            let quarters: Vec<&String> = if i < out.write_pool {
                vec![&out.q1[e.agency]]
            } else {
                std::iter::once(&out.q1[e.agency])
                    .chain(&out.later[e.agency])
                    .collect()
            };
            let sid = out.skps[i as usize].clone();
            let unit = &p.units[e.unit];
            skps.push(vec![
                v(sid.clone()),
                v(out.employees[i as usize].clone()),
                v(periods[e.agency].clone()),
                v(p.agencies[e.agency].id.clone()),
                v(2026i32),
                v(year_start),
                v(year_end),
                v("KUANTITATIF"),
                v("DISETUJUI"),
                assessor.map_or_else(none_text, |a| v(out.employees[a as usize].clone())),
                assessor_sup.map_or_else(none_text, |a| v(out.employees[a as usize].clone())),
                v(false),
                v(assessor.is_none()),
                v(unit.id.clone()),
                v(unit.name.clone()),
                v(e.position_name.clone()),
                v(position_type_text(e.position_type)),
                v(""),
                v(""),
                v(""),
                v(approved),
                v(1i64),
                v(created),
                v(created),
            ]);
            for h in 0..RHK_PER_SKP {
                let rid = format!("br-{i:08}-{h}");
                rhks.push(vec![
                    v(rid.clone()),
                    v(sid.clone()),
                    v(h as i32 + 1),
                    v(if h < 3 { "UTAMA" } else { "TAMBAHAN" }),
                    v(format!("Rencana hasil kerja {}", h + 1)),
                    v(created),
                    v(created),
                ]);
                for g in 0..INDICATORS_PER_RHK {
                    let k = h * INDICATORS_PER_RHK + g;
                    let iid = indicator_id(i, k);
                    inds.push(vec![
                        v(iid.clone()),
                        v(sid.clone()),
                        v(rid.clone()),
                        v(g as i32 + 1),
                        v(if g == 0 { "KUANTITAS" } else { "KUALITAS" }),
                        v(format!("Indikator {}.{}", h + 1, g + 1)),
                        v(12.0f64),
                        v("dokumen"),
                        v(created),
                        v(created),
                    ]);
                    for (q, ep) in quarters.iter().enumerate() {
                        let value = ((mix2(r, k + 10 * q) % 15) + 1) as f64;
                        let at = if q == 0 { created } else { quarter_day(q) };
                        reals.push(vec![
                            v(if q == 0 {
                                format!("bx-{i:08}-{k:02}")
                            } else {
                                format!("bx-{i:08}-{k:02}-q{}", q + 1)
                            }),
                            v(sid.clone()),
                            v(iid.clone()),
                            v((*ep).clone()),
                            v(value),
                            v(format!("Laporan triwulan {}", ["I", "II", "III", "IV"][q])),
                            v(format!(
                                r#"[{{"description":"Laporan","sha256":"{:064x}"}}]"#,
                                mix2(r, k + 100 + 10 * q)
                            )),
                            v(at),
                            v(at),
                        ]);
                    }
                }
            }
            for (b, value) in BERAKHLAK.iter().enumerate() {
                behs.push(vec![
                    v(sid.clone()),
                    v(*value),
                    v(format!("Ekspektasi perilaku {}", b + 1)),
                    v(1i64),
                    v(created),
                ]);
            }
            // Recording a quarter's first realisasi opens its evaluation (TERBUKA), as the
            // service does.
            for (q, ep) in quarters.iter().enumerate().skip(1) {
                let at = quarter_day(q);
                evals.push(vec![
                    v(format!("bv-{i:08}-q{}", q + 1)),
                    v(sid.clone()),
                    v((*ep).clone()),
                    v("TERBUKA"),
                    v(at),
                    v(at),
                    none_text(),
                    none_text(),
                    none_text(),
                    none_text(),
                    none_text(),
                    none_ts(),
                    none_ts(),
                    none_text(),
                    none_ts(),
                    none_ts(),
                    none_text(),
                ]);
            }
            // State of the Q1 result: 0 none, 1 TERBUKA, 2 DINILAI, 3 set (window passed,
            // FINAL for readers), 4 stored FINAL.
            let st = match r % 100 {
                0..=4 => 0,
                5..=14 => 1,
                15..=39 => 2,
                40..=69 => 3,
                _ => 4,
            };
            if st > 0 {
                let (pred, res, beh) = PREDIKAT[((r >> 8) % 5) as usize];
                let rated = st >= 2;
                let set = st >= 3;
                let rater = assessor.map(|a| out.employees[a as usize].clone());
                evals.push(vec![
                    v(format!("bv-{i:08}")),
                    v(sid.clone()),
                    v(out.q1[e.agency].clone()),
                    v(["", "TERBUKA", "DINILAI", "DITETAPKAN", "FINAL"][st]),
                    v(created),
                    v(if rated { rated_at } else { created }),
                    if rated { v(res) } else { none_text() },
                    if rated { v(beh) } else { none_text() },
                    if rated {
                        v("sesuai capaian")
                    } else {
                        none_text()
                    },
                    if rated { v(pred) } else { none_text() },
                    match (&rater, rated) {
                        (Some(x), true) => v(x.clone()),
                        _ => none_text(),
                    },
                    if rated { v(rated_at) } else { none_ts() },
                    if set { v(past) } else { none_ts() },
                    if set { v("BAIK") } else { none_text() },
                    if set { v(set_at) } else { none_ts() },
                    if st == 4 { v(past) } else { none_ts() },
                    if st == 4 {
                        v("WINDOW_PASSED")
                    } else {
                        none_text()
                    },
                ]);
                if set {
                    out.set_results.push(i);
                }
            }
        }
        for (table, cols, rows) in [
            ("skps", SKP_COLS, &skps),
            ("skp_rhk", RHK_COLS, &rhks),
            ("skp_indicators", IND_COLS, &inds),
            ("skp_behaviours", BEH_COLS, &behs),
            ("realisasi", REAL_COLS, &reals),
            ("skp_evaluations", EVAL_COLS, &evals),
        ] {
            bulk_insert(conn, table, cols, rows).await?;
            *counts.entry(table).or_default() += rows.len() as u64;
        }
        start = end;
    }
    // What the service stores with every SKP it writes (the seed wrote the rows directly).
    store.build_stale_content(2_000).await?;
    if db.engine == super::db::Engine::Postgres {
        conn.execute_unprepared("ANALYZE").await?;
    }
    store.close().await;
    out.calibration = (cal_unit, cal_size);
    out.assessors = (0..p.len()).filter(|&a| is_assessor[a as usize]).collect();
    let mut units: Vec<usize> = out
        .assessors
        .iter()
        .map(|&a| p.employee(a).unit)
        .filter(|&u| u != cal_unit)
        .collect();
    units.sort_unstable();
    units.dedup();
    out.assessor_units = units;
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort();
    out.rows = rows;
    Ok(out)
}

/// The day in quarter `q` (0-based; quarters two to four) on which its realisasi was recorded.
fn quarter_day(q: usize) -> DateTime<Utc> {
    utc(2026, 3 * q as u32 + 2, 10)
}

fn mix2(r: u64, k: usize) -> u64 {
    super::scenarios::mix(r ^ (k as u64).wrapping_mul(0x9e37_79b9))
}
