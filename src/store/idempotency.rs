//! Idempotency keys (AIP-155): the first create with a `request_id` claims it inside the same
//! transaction as the insert; a retry finds the claim and gets the first resource back.

use sea_orm::{ActiveValue::Set, EntityTrait, TryInsertResult};

use super::entities::idempotency_key as ik;
use crate::error::{Error, Result};

/// Outcome of claiming a request id.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// No request id was sent, or this call claimed it: go on and create.
    Fresh,
    /// An earlier call with the same id and request created this resource.
    Replay(String),
}

/// Claims `request_id` for `method` with the digest of the request, on behalf of `resource_id`.
/// The same id with a different request is `INVALID_ARGUMENT`.
pub(crate) async fn claim(
    txn: &super::Txn,
    method: &str,
    request_id: &str,
    digest: &str,
    resource_id: &str,
) -> Result<Claim> {
    if request_id.is_empty() {
        return Ok(Claim::Fresh);
    }
    if request_id.len() > 128 {
        return Err(Error::invalid(
            "request_id",
            "must be at most 128 characters",
        ));
    }
    let row = ik::ActiveModel {
        method: Set(method.to_owned()),
        request_id: Set(request_id.to_owned()),
        request_digest: Set(digest.to_owned()),
        resource_id: Set(resource_id.to_owned()),
        created_at: Set(chrono::Utc::now()),
    };
    let res = ik::Entity::insert(row)
        .on_conflict_do_nothing_on([ik::Column::Method, ik::Column::RequestId])
        .exec_without_returning(txn)
        .await?;
    if matches!(res, TryInsertResult::Inserted(1)) {
        return Ok(Claim::Fresh);
    }
    let existing = ik::Entity::find_by_id((method.to_owned(), request_id.to_owned()))
        .one(txn)
        .await?
        .ok_or_else(|| Error::Internal("idempotency key vanished".into()))?;
    if existing.request_digest != digest {
        return Err(Error::invalid(
            "request_id",
            "was already used for a different request",
        ));
    }
    Ok(Claim::Replay(existing.resource_id))
}

/// SQLite: the statement that withdraws this call's claim of `request_id` for `method` if
/// `condition` (SQL with `values`) holds, for a write transaction that commits whether its
/// insert inserted or not (`Txn::commit_with`): a call that created nothing must leave no claim
/// (a retry would replay a resource that does not exist). Nothing for a call without one.
pub(crate) fn withdraw_if(
    method: &str,
    request_id: &str,
    condition: &str,
    values: Vec<sea_orm::Value>,
) -> Option<sea_orm::Statement> {
    if request_id.is_empty() {
        return None;
    }
    let mut all: Vec<sea_orm::Value> = vec![method.into(), request_id.into()];
    all.extend(values);
    Some(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Sqlite,
        format!("DELETE FROM idempotency_keys WHERE method = ? AND request_id = ? AND {condition}"),
        all,
    ))
}
