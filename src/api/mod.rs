//! gRPC handlers: decode, validate, authorize, call the store, encode. No business rules live
//! here beyond input validation; conversions between proto and domain values are in [`convert`].

pub mod assessment;
pub mod assignments;
pub mod audit;
pub mod calibration;
pub mod convert;
pub mod employees;
pub mod events;
pub mod export;
pub mod followup;
pub mod org;
pub mod periods;
pub mod reports;
pub mod skp;

use std::sync::Arc;

use prost::Message;
use sha2::{Digest, Sha256};

use crate::authz::{Authorizer, Target};
use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::assessment::EvaluationPeriodRow;
use crate::telemetry::Telemetry;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Source of "now".
    pub clock: Arc<dyn Clock>,
    /// Authorization of calls on resources.
    pub authz: Authorizer,
    /// Becomes true when the server shuts down; long streams end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The server's telemetry; domain counters are made from `telemetry.metrics().meter()`.
    pub telemetry: Telemetry,
}

/// SHA-256 of a request message, used to tell a retry from a different request with the same id.
pub fn digest<M: Message>(m: &M) -> String {
    hex::encode(Sha256::digest(m.encode_to_vec()))
}

/// Resolves an update mask against the fields a method may change. An empty mask or `*` means
/// every updatable field (AIP-134); an unknown path is `INVALID_ARGUMENT`.
pub fn mask_paths(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&'static str],
) -> Result<Vec<&'static str>> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() || paths.iter().any(|p| p == "*") {
        return Ok(allowed.to_vec());
    }
    paths
        .iter()
        .map(|p| {
            allowed
                .iter()
                .find(|a| **a == p.as_str())
                .copied()
                .ok_or_else(|| {
                    Error::invalid(
                        "update_mask",
                        format!(
                            "path {p:?} cannot be updated; allowed: {}",
                            allowed.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

/// Validates that a required id field is present.
pub fn require_id(field: &str, id: &str) -> Result<()> {
    if id.trim().is_empty() {
        Err(Error::invalid(field, "is required"))
    } else if id.len() > 64 {
        Err(Error::invalid(field, "is not a valid id"))
    } else {
        Ok(())
    }
}

/// Authorizes a call about unit `unit_id` in evaluation period `ep_id` (its calibration, its
/// reports, its list of evaluations) against the unit's leader on the period's last day
/// (`Target::Employee`: `SelfTarget` is the leader, `AssessorOfTarget` the leader one level up,
/// `AdminOfTarget` an admin of the unit), or the unit itself when it has no leader (admins
/// only). Returns the period; NOT_FOUND when the period or the unit does not exist.
pub async fn authorize_unit_in_period(
    state: &AppState,
    ctx: &RequestContext,
    unit_id: &str,
    ep_id: &str,
) -> Result<EvaluationPeriodRow> {
    let scope = state.store.unit_in_period(unit_id, ep_id).await?;
    let target = match &scope.leader {
        Some(l) => Target::Employee {
            id: l,
            on: Some(scope.period.end_date),
        },
        None => Target::Unit(unit_id),
    };
    state.authz.check(ctx, target).await?;
    Ok(scope.period)
}

/// Runs a handler body and maps its error to `tonic::Status` in the one place that does so.
pub async fn respond<T>(
    f: impl std::future::Future<Output = Result<T>>,
) -> std::result::Result<tonic::Response<T>, tonic::Status> {
    f.await
        .map(tonic::Response::new)
        .map_err(tonic::Status::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let allowed = ["name", "status"];
        assert_eq!(mask_paths(None, &allowed).unwrap(), vec!["name", "status"]);
        let m = prost_types::FieldMask {
            paths: vec!["name".into()],
        };
        assert_eq!(mask_paths(Some(&m), &allowed).unwrap(), vec!["name"]);
        let bad = prost_types::FieldMask {
            paths: vec!["nip".into()],
        };
        assert!(mask_paths(Some(&bad), &allowed).is_err());
    }
}
