//! Kinerja: a gRPC service for the performance management of Indonesian civil servants (ASN).
//!
//! Layers, outermost first: [`server`] (tonic server, tower layers, health, reflection,
//! shutdown), [`context`] (who calls, request and trace ids), [`api`] (thin handlers),
//! [`domain`] (pure rules), [`store`] (the only code that speaks sea-orm); [`telemetry`]
//! (OpenTelemetry traces, metrics and logs) runs alongside as a tower layer. Errors of every layer
//! are [`error::Error`], mapped to `tonic::Status` in one place.
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod authz;
#[cfg(feature = "bench")]
pub mod bench;
pub mod clock;
pub mod config;
pub mod context;
pub mod domain;
pub mod error;
pub mod memory;
pub mod pagination;
pub mod proto;
pub mod server;
pub mod store;
pub mod telemetry;
