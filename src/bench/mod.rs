//! The load generator behind `kinerja-bench` (feature `bench`, never part of `kinerja serve`).
//!
//! - [`proc`]: servers under test as child processes; their CPU time and memory from `/proc`.
//! - [`echo`]: the no-op echo baselines, bare and behind Kinerja's tower stack.
//! - [`load`]: closed-loop and open-loop drivers with HDR latency histograms.
//! - [`province`]: the synthetic province (units in a tree, employees with valid NIPs,
//!   assignments with superiors), computed per employee so national scale fits in memory.
//! - [`results`]: synthetic SKPs, realisasi, ratings and set/FINAL results, seeded by bulk SQL.
//! - [`scenarios`]: the table of scenarios and the bulk import driver.
//! - [`db`]: benchmark databases, seeding, and the write baselines (raw insert loop, pgbench).
//! - [`report`]: medians, per-round ratios, targets, table and JSON.
//! - [`statements`]: what rendering a point read's statement costs, in full and from its template.

pub mod db;
pub mod echo;
pub mod load;
pub mod proc;
pub mod province;
pub mod report;
pub mod results;
pub mod scenarios;
pub mod statements;

/// Generated code of the bench-only `kinerja.bench.v1` echo service.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("kinerja.bench.v1");
}
