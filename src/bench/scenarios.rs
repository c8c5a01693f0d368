//! The scenarios: one table of named calls, each bound to the server it loads. A new service
//! adds its scenarios here (a row in [`SCENARIOS`] and a builder), and the province generator
//! supplies its data; `kinerja-bench run --scenarios NAME,...` picks them by name.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use super::load::CallFn;
use super::proto::EchoRequest;
use super::proto::echo_service_client::EchoServiceClient;
use super::province::Province;
use super::results::{INDICATORS_PER_RHK, RHK_PER_SKP, SeededResults, write_capacity};
use crate::proto::v1 as pb;
use crate::proto::v1::assessment_service_client::AssessmentServiceClient;
use crate::proto::v1::calibration_service_client::CalibrationServiceClient;
use crate::proto::v1::employee_service_client::EmployeeServiceClient;
use crate::proto::v1::report_service_client::ReportServiceClient;
use crate::proto::v1::skp_service_client::SkpServiceClient;

/// Which server a scenario loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ServerRole {
    /// The echo with no layers.
    EchoBare,
    /// The echo behind Kinerja's tower stack.
    EchoFull,
    /// `kinerja serve`.
    Kinerja,
    /// No server: the bench talks to the database itself (write baselines).
    Database,
}

/// What a scenario measures, for the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// A baseline the others are divided by.
    Baseline,
    /// A read.
    Read,
    /// A write.
    Write,
}

/// One row of the scenario table.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Name used on the command line and in reports.
    pub name: &'static str,
    /// Server it loads.
    pub server: ServerRole,
    /// Read, write or baseline.
    pub kind: Kind,
    /// One line for the report.
    pub about: &'static str,
    /// Run with one call in flight (a latency target: the time of one call, not queueing).
    pub serial: bool,
    /// Needs the seeded results (SKPs, realisasi, evaluations).
    pub seeded: bool,
    /// Also run in open loop at a fraction (half by default) of the round's closed-loop rate.
    pub open_loop: bool,
}

/// Every closed-loop scenario, in the order a round runs them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "echo-bare",
        server: ServerRole::EchoBare,
        kind: Kind::Baseline,
        about: "no-op echo (128-byte payload) on tonic alone",
        serial: false,
        seeded: false,
        open_loop: false,
    },
    Scenario {
        name: "echo-full",
        server: ServerRole::EchoFull,
        kind: Kind::Baseline,
        about: "no-op echo behind Kinerja's tower stack (context, shedding, limit, auth, grpc-web)",
        serial: false,
        seeded: false,
        open_loop: false,
    },
    Scenario {
        name: "get-employee",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "GetEmployee by id, uniformly random employee (system admin token)",
        serial: false,
        seeded: false,
        open_loop: true,
    },
    Scenario {
        name: "get-employee-nip",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "GetEmployee by NIP, uniformly random employee",
        serial: false,
        seeded: false,
        open_loop: false,
    },
    Scenario {
        name: "list-employees",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "ListEmployees, unit subtree of a random unit on a date, first page of 50",
        serial: false,
        seeded: false,
        open_loop: true,
    },
    Scenario {
        name: "update-employee",
        server: ServerRole::Kinerja,
        kind: Kind::Write,
        about: "UpdateEmployee (name, with etag; audit entry in the same transaction)",
        serial: false,
        seeded: false,
        open_loop: true,
    },
    Scenario {
        name: "dist-unit",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "GetDistributionReport of a random unit below the root, Q1, first page of 50",
        serial: true,
        seeded: true,
        open_loop: false,
    },
    Scenario {
        name: "dist-province",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "GetDistributionReport of the first agency's root unit (its whole tree), Q1",
        serial: true,
        seeded: true,
        open_loop: false,
    },
    Scenario {
        name: "check-calibration",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "CheckCalibration of the unit whose calibration group is seeded to ~1,000 SKPs, Q1",
        serial: true,
        seeded: true,
        open_loop: false,
    },
    Scenario {
        name: "get-skp",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "GetSkp by id (full view: 5 RHK x 2 indicators, 7 behaviours) of a random employee's SKP",
        serial: false,
        seeded: true,
        open_loop: true,
    },
    Scenario {
        name: "get-evaluation",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "GetEvaluation of a random employee's SKP in Q1 (any state, as seeded)",
        serial: false,
        seeded: true,
        open_loop: true,
    },
    Scenario {
        name: "get-evaluation-own",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "GetEvaluation of their own SKP in Q1 by an employee of the write pool (own token: the policy checks who they are)",
        serial: false,
        seeded: true,
        open_loop: true,
    },
    Scenario {
        name: "explain-evaluation",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "ExplainEvaluation of a random set/FINAL Q1 result (10 indicators with realisasi)",
        serial: false,
        seeded: true,
        open_loop: true,
    },
    Scenario {
        name: "list-skps",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "ListSkps of a random assessor in the year's period, first page of 50 (basic view)",
        serial: false,
        seeded: true,
        open_loop: true,
    },
    Scenario {
        name: "list-evaluations",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "ListEvaluations of a random unit with an assessor (not the calibration unit), Q1, first page of 50",
        serial: false,
        seeded: true,
        open_loop: true,
    },
    Scenario {
        name: "list-evaluations-group",
        server: ServerRole::Kinerja,
        kind: Kind::Read,
        about: "ListEvaluations of the unit whose calibration group is seeded to ~1,000 SKPs, Q1, first page of 50",
        serial: true,
        seeded: true,
        open_loop: false,
    },
    Scenario {
        name: "create-realisasi",
        server: ServerRole::Kinerja,
        kind: Kind::Write,
        about: "CreateRealisasi by the SKP's owner (own token) in the write pool for Q2-Q4, never the same indicator twice",
        serial: false,
        seeded: true,
        open_loop: true,
    },
    Scenario {
        name: "raw-insert",
        server: ServerRole::Database,
        kind: Kind::Baseline,
        about: "single-row INSERT loop straight to the database, the service's pool settings",
        serial: false,
        seeded: false,
        open_loop: false,
    },
];

/// True when scenario `name` needs the seeded results.
pub fn needs_results(name: &str) -> bool {
    scenario(name).is_some_and(|s| s.seeded)
}

/// Finds a scenario by name.
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// What the scenarios call with: connections, a token, the province and its stored ids.
#[derive(Clone)]
pub struct World {
    /// The province in the database.
    pub province: Arc<Province>,
    /// Employee ids, in the order of [`World::nips`].
    pub ids: Arc<Vec<String>>,
    /// Current etag (version) of each employee of [`World::ids`].
    pub etags: Arc<Vec<AtomicI64>>,
    /// NIPs of the stored employees.
    pub nips: Arc<Vec<String>>,
    /// Date the reads are made for.
    pub date: NaiveDate,
    /// `authorization` header value.
    pub auth: MetadataValue<tonic::metadata::Ascii>,
    /// Seeded results (periods, SKPs, evaluations), when the run seeded them.
    pub results: Option<Arc<SeededResults>>,
    /// `authorization` values of the first employees (index order), signed for their NIPs,
    /// for the calls only the SKP's owner may make.
    pub owner_auth: Arc<Vec<MetadataValue<tonic::metadata::Ascii>>>,
    cursor: Arc<AtomicU64>,
    realisasi_cursor: Arc<AtomicU64>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("employees", &self.ids.len())
            .finish_non_exhaustive()
    }
}

impl World {
    /// A world over stored employees `(id, version)` and their NIPs.
    pub fn new(
        province: Arc<Province>,
        ids: Vec<(String, i64)>,
        nips: Vec<String>,
        token: &str,
    ) -> Result<Self> {
        let etags = ids.iter().map(|(_, v)| AtomicI64::new(*v)).collect();
        Ok(Self {
            province,
            ids: Arc::new(ids.into_iter().map(|(id, _)| id).collect()),
            etags: Arc::new(etags),
            nips: Arc::new(nips),
            date: NaiveDate::from_ymd_opt(2026, 3, 2).context("date")?,
            auth: format!("Bearer {token}").parse()?,
            results: None,
            owner_auth: Arc::new(Vec::new()),
            cursor: Arc::new(AtomicU64::new(0)),
            realisasi_cursor: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Adds the seeded results and the owners' tokens (employees `0..tokens.len()`).
    pub fn with_results(mut self, results: SeededResults, tokens: &[String]) -> Result<Self> {
        self.results = Some(Arc::new(results));
        self.owner_auth = Arc::new(
            tokens
                .iter()
                .map(|t| format!("Bearer {t}").parse())
                .collect::<std::result::Result<_, _>>()?,
        );
        Ok(self)
    }
}

/// splitmix64: a cheap, well-spread pseudo-random choice from a call number.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `GetEvaluation` of SKP `skp` in evaluation period `ep` with `auth`; the evaluation of another
/// SKP is an error.
async fn get_evaluation(
    ch: Channel,
    auth: MetadataValue<tonic::metadata::Ascii>,
    skp: String,
    ep: String,
) -> Result<()> {
    let e = AssessmentServiceClient::new(ch)
        .get_evaluation(authed(
            pb::GetEvaluationRequest {
                skp_id: skp.clone(),
                evaluation_period_id: ep,
            },
            &auth,
        ))
        .await?
        .into_inner();
    if e.skp_id != skp {
        bail!("the evaluation of another SKP");
    }
    Ok(())
}

/// `ListEvaluations` of a unit in an evaluation period, first page of 50; an empty page is an
/// error (every chosen unit has an assessor posted in it).
async fn list_evaluations_page(
    ch: Channel,
    auth: MetadataValue<tonic::metadata::Ascii>,
    unit_id: String,
    ep: String,
) -> Result<()> {
    let page = AssessmentServiceClient::new(ch)
        .list_evaluations(authed(
            pb::ListEvaluationsRequest {
                unit_id,
                evaluation_period_id: ep,
                page_size: 50,
                ..Default::default()
            },
            &auth,
        ))
        .await?
        .into_inner();
    if page.evaluations.is_empty() {
        bail!("an empty page: an assessor is posted in every chosen unit");
    }
    Ok(())
}

fn authed<T>(msg: T, auth: &MetadataValue<tonic::metadata::Ascii>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert("authorization", auth.clone());
    r
}

fn date(d: NaiveDate) -> Option<pb::Date> {
    Some(pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    })
}

/// A step through `0..n` that visits every index once per cycle, scattered (so consecutive
/// writes do not hit neighbouring rows).
fn stride(n: u64) -> u64 {
    let mut p = 1_000_003u64;
    while n > 1 && gcd(p, n) != 1 {
        p += 2;
    }
    p
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Builds the call of scenario `name` over `channels`.
pub fn build(name: &str, channels: &[Channel], w: &World) -> Result<CallFn> {
    let chans: Arc<Vec<Channel>> = Arc::new(channels.to_vec());
    if chans.is_empty() {
        bail!("no connection for {name}");
    }
    let pick = move |n: u64| chans[(n % chans.len() as u64) as usize].clone();
    let auth = w.auth.clone();
    let n_emp = w.ids.len() as u64;
    if n_emp == 0 && !name.starts_with("echo") {
        bail!("{name} needs employees in the database");
    }
    Ok(match name {
        "echo-bare" | "echo-full" => {
            let payload = vec![7u8; 128];
            Arc::new(move |n| {
                let (ch, auth, payload) = (pick(n), auth.clone(), payload.clone());
                Box::pin(async move {
                    EchoServiceClient::new(ch)
                        .echo(authed(EchoRequest { payload }, &auth))
                        .await?;
                    Ok(())
                })
            })
        }
        "get-employee" => {
            let ids = w.ids.clone();
            Arc::new(move |n| {
                let (ch, auth) = (pick(n), auth.clone());
                let id = ids[(mix(n) % n_emp) as usize].clone();
                Box::pin(async move {
                    EmployeeServiceClient::new(ch)
                        .get_employee(authed(
                            pb::GetEmployeeRequest {
                                key: Some(pb::get_employee_request::Key::Id(id)),
                            },
                            &auth,
                        ))
                        .await?;
                    Ok(())
                })
            })
        }
        "get-employee-nip" => {
            let nips = w.nips.clone();
            Arc::new(move |n| {
                let (ch, auth) = (pick(n), auth.clone());
                let nip = nips[(mix(n) % nips.len() as u64) as usize].clone();
                Box::pin(async move {
                    EmployeeServiceClient::new(ch)
                        .get_employee(authed(
                            pb::GetEmployeeRequest {
                                key: Some(pb::get_employee_request::Key::Nip(nip)),
                            },
                            &auth,
                        ))
                        .await?;
                    Ok(())
                })
            })
        }
        "list-employees" => {
            let p = w.province.clone();
            let day = date(w.date);
            Arc::new(move |n| {
                let (ch, auth) = (pick(n), auth.clone());
                let unit = p.units[(mix(n) % p.units.len() as u64) as usize].id.clone();
                Box::pin(async move {
                    let page = EmployeeServiceClient::new(ch)
                        .list_employees(authed(
                            pb::ListEmployeesRequest {
                                unit_id: unit,
                                as_of_date: day,
                                page_size: 50,
                                ..Default::default()
                            },
                            &auth,
                        ))
                        .await?
                        .into_inner();
                    if page.employees.is_empty() {
                        bail!("an empty page: the unit subtree should hold employees");
                    }
                    Ok(())
                })
            })
        }
        "update-employee" => {
            let (ids, etags, cursor) = (w.ids.clone(), w.etags.clone(), w.cursor.clone());
            let step = stride(n_emp);
            Arc::new(move |n| {
                let (ch, auth, ids, etags) = (pick(n), auth.clone(), ids.clone(), etags.clone());
                let k = cursor.fetch_add(1, Ordering::Relaxed);
                let idx = ((k as u128 * step as u128) % n_emp as u128) as usize;
                Box::pin(async move {
                    let etag = etags[idx].load(Ordering::Acquire);
                    let e = EmployeeServiceClient::new(ch)
                        .update_employee(authed(
                            pb::UpdateEmployeeRequest {
                                employee: Some(pb::Employee {
                                    id: ids[idx].clone(),
                                    etag: etag.to_string(),
                                    name: format!("Pegawai Diperbarui {k}"),
                                    ..Default::default()
                                }),
                                update_mask: Some(prost_types::FieldMask {
                                    paths: vec!["name".into()],
                                }),
                            },
                            &auth,
                        ))
                        .await?
                        .into_inner();
                    etags[idx].store(e.etag.parse().unwrap_or(etag + 1), Ordering::Release);
                    Ok(())
                })
            })
        }
        name if needs_results(name) => {
            let res = w
                .results
                .clone()
                .with_context(|| format!("{name} needs seeded results"))?;
            build_results(name, pick, auth, &w.province, res, w)?
        }
        other => bail!("unknown scenario {other}"),
    })
}

/// The scenarios over seeded results.
fn build_results(
    name: &str,
    pick: impl Fn(u64) -> Channel + Send + Sync + 'static,
    auth: MetadataValue<tonic::metadata::Ascii>,
    p: &Arc<Province>,
    res: Arc<SeededResults>,
    w: &World,
) -> Result<CallFn> {
    let q1 = res.q1.first().cloned().context("no evaluation period")?;
    Ok(match name {
        "dist-unit" | "dist-province" => {
            let units: Vec<String> = if name == "dist-province" {
                vec![p.units[res.roots[0]].id.clone()]
            } else {
                let a = &p.agencies[0];
                let below: Vec<String> = p.units[a.first_unit + 1..a.first_unit + a.units]
                    .iter()
                    .map(|u| u.id.clone())
                    .collect();
                if below.is_empty() {
                    vec![p.units[a.first_unit].id.clone()]
                } else {
                    below
                }
            };
            let units = Arc::new(units);
            Arc::new(move |n| {
                let (ch, auth, q1) = (pick(n), auth.clone(), q1.clone());
                let unit = units[(mix(n) % units.len() as u64) as usize].clone();
                Box::pin(async move {
                    let r = ReportServiceClient::new(ch)
                        .get_distribution_report(authed(
                            pb::GetDistributionReportRequest {
                                unit_id: unit,
                                evaluation_period_id: q1,
                                page_size: 50,
                                page_token: String::new(),
                            },
                            &auth,
                        ))
                        .await?
                        .into_inner();
                    if r.total.is_none() {
                        bail!("a distribution report without totals");
                    }
                    Ok(())
                })
            })
        }
        "check-calibration" => {
            let unit = p.units[res.calibration.0].id.clone();
            Arc::new(move |n| {
                let (ch, auth, q1, unit) = (pick(n), auth.clone(), q1.clone(), unit.clone());
                Box::pin(async move {
                    CalibrationServiceClient::new(ch)
                        .check_calibration(authed(
                            pb::CheckCalibrationRequest {
                                unit_id: unit,
                                evaluation_period_id: q1,
                            },
                            &auth,
                        ))
                        .await?;
                    Ok(())
                })
            })
        }
        "get-skp" => {
            let skps = Arc::new(res.skps.clone());
            Arc::new(move |n| {
                let (ch, auth) = (pick(n), auth.clone());
                let id = skps[(mix(n) % skps.len() as u64) as usize].clone();
                Box::pin(async move {
                    let s = SkpServiceClient::new(ch)
                        .get_skp(authed(
                            pb::GetSkpRequest {
                                id,
                                view: pb::SkpView::Unspecified as i32,
                            },
                            &auth,
                        ))
                        .await?
                        .into_inner();
                    if s.rhk.len() != RHK_PER_SKP {
                        bail!("an SKP with {} RHK instead of {RHK_PER_SKP}", s.rhk.len());
                    }
                    Ok(())
                })
            })
        }
        "get-evaluation" => {
            let (res2, province) = (res.clone(), p.clone());
            Arc::new(move |n| {
                let (ch, auth) = (pick(n), auth.clone());
                let i = mix(n) % res2.skps.len() as u64;
                let skp = res2.skps[i as usize].clone();
                let ep = res2.q1[province.agency_of(i)].clone();
                Box::pin(get_evaluation(ch, auth, skp, ep))
            })
        }
        "get-evaluation-own" => {
            let owners = w.owner_auth.clone();
            if owners.is_empty() {
                bail!("get-evaluation-own needs owner tokens");
            }
            let (res2, province) = (res.clone(), p.clone());
            Arc::new(move |n| {
                let ch = pick(n);
                let i = mix(n) % owners.len() as u64;
                let auth = owners[i as usize].clone();
                let skp = res2.skps[i as usize].clone();
                let ep = res2.q1[province.agency_of(i)].clone();
                Box::pin(get_evaluation(ch, auth, skp, ep))
            })
        }
        "list-skps" => {
            if res.assessors.is_empty() {
                bail!("list-skps needs SKPs with an assessor");
            }
            let (res2, province) = (res.clone(), p.clone());
            Arc::new(move |n| {
                let (ch, auth) = (pick(n), auth.clone());
                let a = res2.assessors[(mix(n) % res2.assessors.len() as u64) as usize];
                let assessor = res2.employees[a as usize].clone();
                let period = res2.periods[province.agency_of(a)].clone();
                Box::pin(async move {
                    let page = SkpServiceClient::new(ch)
                        .list_skps(authed(
                            pb::ListSkpsRequest {
                                assessor_id: assessor,
                                period_id: period,
                                page_size: 50,
                                ..Default::default()
                            },
                            &auth,
                        ))
                        .await?
                        .into_inner();
                    if page.skps.is_empty() {
                        bail!("an empty page: every chosen assessor assesses an SKP");
                    }
                    Ok(())
                })
            })
        }
        "list-evaluations" => {
            if res.assessor_units.is_empty() {
                bail!("list-evaluations needs a unit with an assessor");
            }
            let (res2, province) = (res.clone(), p.clone());
            Arc::new(move |n| {
                let (ch, auth) = (pick(n), auth.clone());
                let u = res2.assessor_units[(mix(n) % res2.assessor_units.len() as u64) as usize];
                let unit = &province.units[u];
                let (unit_id, ep) = (unit.id.clone(), res2.q1[unit.agency].clone());
                Box::pin(list_evaluations_page(ch, auth, unit_id, ep))
            })
        }
        "list-evaluations-group" => {
            let unit = p.units[res.calibration.0].id.clone();
            Arc::new(move |n| {
                let (ch, auth, q1, unit) = (pick(n), auth.clone(), q1.clone(), unit.clone());
                Box::pin(list_evaluations_page(ch, auth, unit, q1))
            })
        }
        "explain-evaluation" => {
            if res.set_results.is_empty() {
                bail!("explain-evaluation needs set results");
            }
            let (res2, province) = (res.clone(), p.clone());
            Arc::new(move |n| {
                let (ch, auth) = (pick(n), auth.clone());
                let i = res2.set_results[(mix(n) % res2.set_results.len() as u64) as usize];
                let skp = res2.skps[i as usize].clone();
                let ep = res2.q1[province.agency_of(i)].clone();
                Box::pin(async move {
                    let x = AssessmentServiceClient::new(ch)
                        .explain_evaluation(authed(
                            pb::ExplainEvaluationRequest {
                                skp_id: skp,
                                evaluation_period_id: ep,
                            },
                            &auth,
                        ))
                        .await?
                        .into_inner();
                    if x.evaluation.is_none() {
                        bail!("an explanation without its evaluation");
                    }
                    Ok(())
                })
            })
        }
        "create-realisasi" => {
            let owners = w.owner_auth.clone();
            let pool = owners.len() as u64;
            if pool == 0 {
                bail!("create-realisasi needs owner tokens");
            }
            if pool > res.write_pool {
                bail!(
                    "create-realisasi has {pool} owner tokens for a write pool of {}",
                    res.write_pool
                );
            }
            let cursor = w.realisasi_cursor.clone();
            let province = p.clone();
            let per = (RHK_PER_SKP * INDICATORS_PER_RHK) as u64;
            let quarters = res.later.iter().map(Vec::len).min().unwrap_or(0);
            let capacity = write_capacity(pool, quarters);
            Arc::new(move |n| {
                let ch = pick(n);
                let k = cursor.fetch_add(1, Ordering::Relaxed);
                let i = k % pool;
                let slot = k / pool;
                let agency = province.agency_of(i);
                let eps = &res.later[agency];
                let ep = eps.get((slot / per) as usize).cloned();
                let ind = res.indicator(i, (slot % per) as usize);
                let auth = owners[i as usize].clone();
                Box::pin(async move {
                    // One realisasi per indicator and period: past the free slots a call could
                    // only be refused, so say why instead.
                    let Some(ep) = ep else {
                        bail!(
                            "create-realisasi used all {capacity} free (indicator, quarter) slots of its write pool; run fewer or shorter rounds"
                        );
                    };
                    AssessmentServiceClient::new(ch)
                        .create_realisasi(authed(
                            pb::CreateRealisasiRequest {
                                realisasi: Some(pb::Realisasi {
                                    indicator_id: ind,
                                    evaluation_period_id: ep,
                                    value: (k % 13) as f64,
                                    account: format!("Laporan kegiatan {k}"),
                                    evidence: vec![pb::Evidence {
                                        url: format!("https://dokumen.example.go.id/{k}.pdf"),
                                        description: "Laporan".into(),
                                        sha256: format!("{:064x}", mix(k)),
                                        ..Default::default()
                                    }],
                                    ..Default::default()
                                }),
                                request_id: String::new(),
                            },
                            &auth,
                        ))
                        .await?;
                    Ok(())
                })
            })
        }
        other => bail!("unknown scenario {other}"),
    })
}

/// Outcome of a bulk import.
#[derive(Debug, Clone, Serialize)]
pub struct ImportResult {
    /// Employees stored.
    pub employees: u64,
    /// Assignments stored.
    pub assignments: u64,
    /// Import streams (batches).
    pub batches: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Employees per second (each with its assignment).
    pub employees_per_sec: f64,
    /// Server CPU seconds.
    pub server_cpu_s: Option<f64>,
    /// Load generator CPU seconds.
    pub client_cpu_s: Option<f64>,
    /// PostgreSQL backend CPU seconds (backends connected at the start).
    pub db_cpu_s: Option<f64>,
}

/// How an import is cut up.
#[derive(Debug, Clone, Copy)]
pub struct ImportShape {
    /// Employees per stream (one all-or-nothing batch).
    pub batch: u64,
    /// Concurrent streams.
    pub streams: usize,
}

/// Rows per stream message.
const ROWS_PER_MESSAGE: usize = 1000;

/// Imports employees `range` of the province (each with its assignment) through
/// `EmployeeService/ImportEmployees`, in batches (one stream each, all-or-nothing) of
/// `shape.batch` employees; agencies are spread over `shape.streams` concurrent streams, each
/// agency's batches in order (a batch may name superiors of earlier batches).
pub async fn import(
    p: Arc<Province>,
    range: std::ops::Range<u64>,
    channels: &[Channel],
    token: &str,
    shape: ImportShape,
    server_pid: Option<u32>,
    db_pids: &[u32],
) -> Result<ImportResult> {
    let ImportShape { batch, streams } = shape;
    let db_cpu = || -> Option<f64> {
        (!db_pids.is_empty()).then(|| {
            db_pids
                .iter()
                .filter_map(|p| super::proc::cpu_time(*p).ok())
                .sum::<Duration>()
                .as_secs_f64()
        })
    };
    let db0 = db_cpu();
    let auth: MetadataValue<tonic::metadata::Ascii> = format!("Bearer {token}").parse()?;
    // Work list: (agency, start, end) batches in order per agency.
    let lanes = streams.max(1);
    let mut per_lane: Vec<Vec<(u64, u64)>> = vec![Vec::new(); lanes];
    for (a, ag) in p.agencies.iter().enumerate() {
        let lo = ag.first_employee.max(range.start);
        let hi = (ag.first_employee + ag.employees).min(range.end);
        let mut s = lo;
        while s < hi {
            let e = (s + batch.max(1)).min(hi);
            per_lane[a % lanes].push((s, e));
            s = e;
        }
    }
    let cpu0 = server_pid.and_then(|pid| super::proc::cpu_time(pid).ok());
    let own0 = super::proc::own_cpu_time().ok();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (lane, work) in per_lane.into_iter().enumerate() {
        let (p, auth, ch) = (
            p.clone(),
            auth.clone(),
            channels[lane % channels.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut out = (0u64, 0u64, 0u64);
            for (s, e) in work {
                let r = import_batch(p.clone(), s, e, ch.clone(), &auth).await?;
                out.0 += r.0;
                out.1 += r.1;
                out.2 += 1;
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let (mut emps, mut asgs, mut batches) = (0, 0, 0);
    for t in tasks {
        let (e, a, b) = t.await??;
        emps += e;
        asgs += a;
        batches += b;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let cpu1 = server_pid.and_then(|pid| super::proc::cpu_time(pid).ok());
    let own1 = super::proc::own_cpu_time().ok();
    Ok(ImportResult {
        employees: emps,
        assignments: asgs,
        batches,
        seconds,
        employees_per_sec: emps as f64 / seconds.max(1e-9),
        server_cpu_s: cpu0.zip(cpu1).map(|(a, b)| (b - a).as_secs_f64()),
        client_cpu_s: own0.zip(own1).map(|(a, b)| (b - a).as_secs_f64()),
        db_cpu_s: db0.zip(db_cpu()).map(|(a, b)| b - a),
    })
}

async fn import_batch(
    p2: Arc<Province>,
    start: u64,
    end: u64,
    ch: Channel,
    auth: &MetadataValue<tonic::metadata::Ascii>,
) -> Result<(u64, u64)> {
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::ImportEmployeesRequest>(4);
    let producer = tokio::spawn(async move {
        let mut rows = Vec::with_capacity(ROWS_PER_MESSAGE);
        let agency_ids: Vec<String> = p2.agencies.iter().map(|a| a.id.clone()).collect();
        for i in start..end {
            let e = p2.employee(i);
            rows.push(pb::ImportRow {
                row: Some(pb::import_row::Row::Employee(pb::Employee {
                    nip: e.nip,
                    name: e.name,
                    status: e.status,
                    position_type: e.position_type,
                    position_name: e.position_name,
                    agency_id: agency_ids[e.agency].clone(),
                    ..Default::default()
                })),
            });
            if rows.len() == ROWS_PER_MESSAGE {
                let msg = pb::ImportEmployeesRequest {
                    rows: std::mem::take(&mut rows),
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
            }
        }
        for i in start..end {
            let e = p2.employee(i);
            rows.push(pb::ImportRow {
                row: Some(pb::import_row::Row::Assignment(pb::ImportAssignment {
                    employee_nip: e.nip,
                    unit_id: p2.units[e.unit].id.clone(),
                    superior_nip: e.superior.map(|s| p2.employee(s).nip).unwrap_or_default(),
                    position_name: e.position_name,
                    position_type: e.position_type,
                    start_date: date(e.start_date),
                    end_date: None,
                    kind: pb::AssignmentKind::Definitif as i32,
                })),
            });
            if rows.len() == ROWS_PER_MESSAGE {
                let msg = pb::ImportEmployeesRequest {
                    rows: std::mem::take(&mut rows),
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
            }
        }
        if !rows.is_empty() {
            let _ = tx.send(pb::ImportEmployeesRequest { rows }).await;
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut req = tonic::Request::new(stream);
    req.metadata_mut().insert("authorization", auth.clone());
    req.set_timeout(Duration::from_secs(3600));
    let resp = EmployeeServiceClient::new(ch)
        .max_encoding_message_size(64 << 20)
        .import_employees(req)
        .await
        .context("ImportEmployees")?
        .into_inner();
    let _ = producer.await;
    if !resp.committed {
        bail!(
            "import batch {start}..{end} refused: {} errors, first {:?}",
            resp.error_count,
            resp.errors.first()
        );
    }
    Ok((
        resp.employees_created as u64,
        resp.assignments_created as u64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::province::ProvinceSpec;
    use crate::bench::results::write_pool;

    fn world(n: u64) -> World {
        let p = Arc::new(Province::generate(ProvinceSpec::new(n)));
        let ids: Vec<(String, i64)> = (0..n).map(|i| (format!("e-{i}"), 1)).collect();
        let nips = (0..n).map(|i| p.employee(i).nip).collect();
        let res = SeededResults {
            q1: vec!["ep-q1".into()],
            later: vec![vec!["ep-q2".into(), "ep-q3".into(), "ep-q4".into()]],
            skps: (0..n).map(|i| format!("bs-{i:08}")).collect(),
            employees: (0..n).map(|i| format!("e-{i}")).collect(),
            periods: vec!["pp-2026".into()],
            write_pool: write_pool(n),
            assessors: vec![0, 20],
            assessor_units: vec![0, 2],
            set_results: vec![1, 2],
            calibration: (1, 19),
            roots: vec![0],
            rows: Vec::new(),
        };
        let tokens: Vec<String> = (0..res.write_pool).map(|i| format!("t{i}")).collect();
        World::new(p, ids, nips, "admin")
            .and_then(|w| w.with_results(res, &tokens))
            .expect("a world")
    }

    #[test]
    fn the_table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for sc in SCENARIOS {
            assert!(names.insert(sc.name), "{} twice", sc.name);
            assert_eq!(scenario(sc.name).map(|s| s.name), Some(sc.name));
            assert_eq!(needs_results(sc.name), sc.seeded);
            if sc.open_loop {
                // The open loop runs at a fraction of a concurrent closed loop's rate, against
                // the service, for the reads and writes that have a latency target.
                assert_eq!(sc.server, ServerRole::Kinerja, "{}", sc.name);
                assert!(!sc.serial, "{}", sc.name);
                assert_ne!(sc.kind, Kind::Baseline, "{}", sc.name);
            }
        }
        for name in [
            "get-skp",
            "get-evaluation",
            "get-evaluation-own",
            "list-skps",
            "list-evaluations",
            "explain-evaluation",
            "create-realisasi",
        ] {
            let sc = scenario(name).unwrap_or_else(|| panic!("{name} is a scenario"));
            assert!(sc.seeded && sc.open_loop, "{name}");
        }
    }

    #[tokio::test]
    async fn every_service_scenario_builds() {
        let w = world(400);
        let ch = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        for sc in SCENARIOS
            .iter()
            .filter(|s| s.server != ServerRole::Database)
        {
            assert!(
                build(sc.name, std::slice::from_ref(&ch), &w).is_ok(),
                "{}",
                sc.name
            );
        }
        assert!(build("no-such-scenario", std::slice::from_ref(&ch), &w).is_err());
        // Without seeded results, the seeded scenarios refuse to build instead of failing calls.
        let bare = World::new(w.province.clone(), vec![("e-0".into(), 1)], vec![], "admin")
            .expect("a world");
        assert!(build("get-skp", &[ch], &bare).is_err());
    }

    #[tokio::test]
    async fn create_realisasi_says_when_its_free_slots_are_used_up() {
        let w = world(40);
        let res = w.results.clone().expect("results");
        assert_eq!(res.write_pool, 10);
        let capacity = write_capacity(res.write_pool, 3);
        assert_eq!(capacity, 300);
        // The cursor walks the pool: past the capacity the call fails before it is sent.
        w.realisasi_cursor.store(capacity, Ordering::Relaxed);
        let ch = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        let call = build("create-realisasi", &[ch], &w).expect("builds");
        let err = call(0).await.expect_err("no free slot");
        assert!(
            format!("{err:#}").contains("free (indicator, quarter) slots"),
            "{err:#}"
        );
    }

    #[test]
    fn the_write_pool_is_a_quarter_of_the_province_at_most() {
        assert_eq!(write_pool(400), 100);
        assert_eq!(write_pool(10_000), 2_500);
        assert_eq!(write_pool(200_000), crate::bench::results::WRITE_POOL);
    }
}
