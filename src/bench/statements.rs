//! What rendering a point read's statement costs the server: each hot statement built in full
//! by sea-query, as every call did before session 20, against the same statement taken from its
//! `SqlTemplate` (store/template.rs: values bound to SQL rendered once). Both in one
//! process, in alternating blocks, so the ratio holds on a noisy machine.

use std::hint::black_box;
use std::time::Instant;

use sea_orm::{DbBackend, Statement, Value};

use crate::store::assessment::{
    Realisasi, period_evaluation_records, period_evaluation_statement, period_evaluation_values,
};
use crate::store::skp::{read_skp_statement, read_skp_uncached};

/// The cost of one statement, built in full and from its template.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatementCost {
    /// Which statement (the store function that sends it).
    pub statement: &'static str,
    /// `sqlite` or `postgres`.
    pub engine: &'static str,
    /// Nanoseconds per statement built in full (median of the blocks).
    pub built_ns: f64,
    /// Nanoseconds per statement from its template (median of the blocks).
    pub template_ns: f64,
}

/// Ids as the store generates them (36 characters).
const SKP: &str = "0193f1c2-7a5e-7d4b-9c1e-3f2a1b0c9d8e";
const PERIOD: &str = "0193f1c2-7a5e-7d4b-9c1e-3f2a1b0c9d8f";
const ASSESSOR: &str = "0193f1c2-7a5e-7d4b-9c1e-3f2a1b0c9d90";

/// Times `iterations` statements of each kind per block, `blocks` blocks alternating full
/// builds and templates, on both engines.
pub fn statement_costs(iterations: u32, blocks: u32) -> Vec<StatementCost> {
    type Make = fn(DbBackend) -> Statement;
    let cases: [(&'static str, Make, Make); 3] = [
        (
            "read_skp",
            |b| read_skp_uncached(b, &[SKP.into()]),
            |b| read_skp_statement(b, SKP, None),
        ),
        (
            "period_evaluation (GetEvaluation)",
            |b| period_evaluation_values(b, &[SKP.into(), PERIOD.into()]),
            |b| period_evaluation_statement(b, SKP, PERIOD, Some(ASSESSOR), Realisasi::Values),
        ),
        (
            "period_evaluation (ExplainEvaluation)",
            |b| {
                let assessor = Value::from(Some(ASSESSOR));
                period_evaluation_records(b, &[SKP.into(), PERIOD.into(), assessor])
            },
            |b| period_evaluation_statement(b, SKP, PERIOD, Some(ASSESSOR), Realisasi::Records),
        ),
    ];
    let mut out = Vec::new();
    for (engine, backend) in [
        ("sqlite", DbBackend::Sqlite),
        ("postgres", DbBackend::Postgres),
    ] {
        for (statement, built, template) in cases {
            // Rendered once before timing, as a running server has.
            black_box(template(backend));
            let mut b = Vec::new();
            let mut t = Vec::new();
            for _ in 0..blocks {
                b.push(per_call(iterations, || built(backend)));
                t.push(per_call(iterations, || template(backend)));
            }
            out.push(StatementCost {
                statement,
                engine,
                built_ns: median(b),
                template_ns: median(t),
            });
        }
    }
    out
}

/// Nanoseconds per call of `make`, over `iterations` calls.
fn per_call(iterations: u32, make: impl Fn() -> Statement) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(make());
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations.max(1))
}

/// The median of `xs` (not empty).
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_timed_on_both_engines() {
        let costs = statement_costs(3, 3);
        assert_eq!(costs.len(), 6);
        assert!(
            costs
                .iter()
                .all(|c| c.built_ns > 0.0 && c.template_ns > 0.0)
        );
        assert_eq!(costs.iter().filter(|c| c.engine == "postgres").count(), 3);
    }
}
