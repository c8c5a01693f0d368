//! The audit trail: one entry per mutation, appended in the mutation's own transaction, hash-
//! chained so that any edit, deletion or reordering of stored entries is detected by [`verify`].
//!
//! Entries are spread over [`AUDIT_CHAINS`] independent chains by resource, so writers of
//! different resources do not queue on one chain head; each chain head is locked (row lock on
//! PostgreSQL, the database write lock on SQLite) while an entry is appended. On PostgreSQL an
//! append is two round trips: the head read `FOR UPDATE`, then the entry's insert with the head's
//! update in a data-modifying CTE.

use chrono::{DateTime, SubsecRound, Utc};
use migration::AUDIT_CHAINS;
use sea_orm::prelude::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use sha2::{Digest, Sha256};

use super::entities::{audit_entry, audit_head};
use super::{DbKind, Store, new_id};
use crate::error::{Error, Result};
use crate::pagination::Page;

pub use audit_entry::Model as AuditRow;

/// Who made a change, through which call: copied from the request context into every entry.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// Subject of the caller's token (employee NIP/id or service account).
    pub subject: String,
    /// Calling service acting for the subject, if any.
    pub calling_service: Option<String>,
    /// Request id of the call.
    pub request_id: String,
    /// Trace id of the call.
    pub trace_id: String,
    /// Full gRPC method of the call.
    pub rpc: String,
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// Type of the resource, e.g. `Employee`.
    pub resource_type: &'a str,
    /// Id of the resource.
    pub resource_id: &'a str,
    /// What was done, e.g. `create`, `update`, `approve`.
    pub action: &'a str,
    /// What changed, as JSON (new values, reasons).
    pub detail: serde_json::Value,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn chain_of(resource_type: &str, resource_id: &str) -> i32 {
    let h = Sha256::digest(format!("{resource_type}/{resource_id}").as_bytes());
    (u32::from_le_bytes([h[0], h[1], h[2], h[3]]) % AUDIT_CHAINS as u32) as i32
}

/// SHA-256 over the previous hash and the entry's content, in a fixed field order.
fn entry_hash(e: &AuditRow) -> String {
    let mut h = Sha256::new();
    for part in [
        e.prev_hash.as_str(),
        &e.id,
        &e.chain.to_string(),
        &e.seq.to_string(),
        &e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        &e.actor,
        e.calling_service.as_deref().unwrap_or(""),
        &e.request_id,
        &e.trace_id,
        &e.rpc,
        &e.resource_type,
        &e.resource_id,
        &e.action,
        &e.change_digest,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The read of a chain's head. PostgreSQL: with a row lock (`FOR UPDATE`) in one round trip.
/// SQLite: the IMMEDIATE transaction already holds the database's only write lock.
fn head_read(kind: DbKind, chain: i32) -> sea_orm::Statement {
    let mut find = audit_head::Entity::find_by_id(chain);
    if kind == DbKind::Postgres {
        find = find.lock_exclusive();
    }
    find.build(kind.backend())
}

/// Reads the head of the chain of `resource_type`/`resource_id` with the transaction's next
/// command (SQLite; see `Txn::prefetch`), for [`append`] to find it without a command of its
/// own. Call it right before the transaction's last command ahead of the append, one that does
/// not write the audit chains.
pub(crate) async fn prefetch_head(
    txn: &super::Txn,
    kind: DbKind,
    resource_type: &str,
    resource_id: &str,
) {
    txn.prefetch(head_read(kind, chain_of(resource_type, resource_id)))
        .await;
}

/// Appends one entry for `change` inside `txn` (the transaction of the change itself).
pub(crate) async fn append(
    txn: &super::Txn,
    kind: DbKind,
    actor: &Actor,
    now: DateTime<Utc>,
    change: Change<'_>,
) -> Result<()> {
    let chain = chain_of(change.resource_type, change.resource_id);
    let head = txn
        .query_one_raw(head_read(kind, chain))
        .await?
        .map(|row| audit_head::Model::from_query_result(&row, ""))
        .transpose()?
        .ok_or_else(|| Error::Internal(format!("audit chain {chain} has no head")))?;
    let detail = change.detail.to_string();
    let mut row = AuditRow {
        id: new_id(),
        chain,
        seq: head.seq + 1,
        at: now.trunc_subsecs(6),
        actor: actor.subject.clone(),
        calling_service: actor.calling_service.clone(),
        request_id: actor.request_id.clone(),
        trace_id: actor.trace_id.clone(),
        rpc: actor.rpc.clone(),
        resource_type: change.resource_type.to_owned(),
        resource_id: change.resource_id.to_owned(),
        action: change.action.to_owned(),
        change_digest: hex::encode(Sha256::digest(detail.as_bytes())),
        change: detail,
        prev_hash: head.hash.clone(),
        hash: String::new(),
    };
    row.hash = entry_hash(&row);
    let (seq, hash) = (row.seq, row.hash.clone());
    let am = audit_entry::ActiveModel {
        id: Set(row.id),
        chain: Set(row.chain),
        seq: Set(row.seq),
        at: Set(row.at),
        actor: Set(row.actor),
        calling_service: Set(row.calling_service),
        request_id: Set(row.request_id),
        trace_id: Set(row.trace_id),
        rpc: Set(row.rpc),
        resource_type: Set(row.resource_type),
        resource_id: Set(row.resource_id),
        action: Set(row.action),
        change: Set(row.change),
        change_digest: Set(row.change_digest),
        prev_hash: Set(row.prev_hash),
        hash: Set(row.hash),
    };
    let insert = audit_entry::Entity::insert(am);
    match kind {
        // One round trip: the head moves in a data-modifying CTE of the entry's insert.
        DbKind::Postgres => {
            let st = insert.build(sea_orm::DbBackend::Postgres);
            let mut values = st.values.map(|v| v.0).unwrap_or_default();
            let n = values.len();
            values.extend([seq.into(), hash.into(), chain.into()]);
            let sql = format!(
                "WITH head AS (UPDATE audit_heads SET seq = ${}, hash = ${} WHERE chain = ${}) {}",
                n + 1,
                n + 2,
                n + 3,
                st.sql
            );
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                sql,
                values,
            ))
            .await?;
        }
        // Both writes go with the transaction's next statement (its COMMIT, as a rule), in one
        // command: the transaction holds the only write lock, so the head read above is current.
        DbKind::Sqlite => {
            let head = audit_head::Entity::update_many()
                .col_expr(audit_head::Column::Seq, Expr::value(seq))
                .col_expr(audit_head::Column::Hash, Expr::value(hash))
                .filter(audit_head::Column::Chain.eq(chain))
                .build(sea_orm::DbBackend::Sqlite);
            txn.hold(head).await?;
            txn.hold(insert.build(sea_orm::DbBackend::Sqlite)).await?;
        }
    }
    Ok(())
}

/// The first entry that fails verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// Chain of the entry.
    pub chain: i32,
    /// Sequence number where the chain breaks.
    pub seq: i64,
    /// Id of the entry found there (empty when the entry is missing).
    pub entry_id: String,
    /// What is wrong.
    pub reason: String,
}

/// Outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Entries checked.
    pub entries: u64,
    /// Chains checked.
    pub chains: u32,
    /// The first broken entry of each broken chain.
    pub broken: Vec<Broken>,
}

impl Store {
    /// Appends the audit entry of `change` in `txn`, stamped with the current time.
    pub(crate) async fn record(
        &self,
        txn: &super::Txn,
        actor: &Actor,
        change: Change<'_>,
    ) -> Result<()> {
        append(txn, self.kind(), actor, Utc::now(), change).await
    }

    /// The audit entries of one resource, oldest first.
    pub async fn audit_history(
        &self,
        resource_type: &str,
        resource_id: &str,
        page: &Page,
    ) -> Result<(Vec<AuditRow>, String)> {
        let mut q = audit_entry::Entity::find()
            .filter(audit_entry::Column::ResourceType.eq(resource_type))
            .filter(audit_entry::Column::ResourceId.eq(resource_id))
            .order_by_asc(audit_entry::Column::Seq);
        if let Some(k) = &page.after {
            let seq: i64 = k.first().and_then(|s| s.parse().ok()).ok_or_else(|| {
                Error::invalid("page_token", "is not a token returned by this list call")
            })?;
            q = q.filter(audit_entry::Column::Seq.gt(seq));
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        Ok(page.finish(rows, |r| vec![r.seq.to_string()]))
    }

    /// Recomputes every chain from its start and reports the first broken entry of each chain:
    /// an edited entry (hash or change digest mismatch), a deleted or reordered entry (sequence
    /// gap or wrong previous hash), or a chain whose head does not match its last entry.
    pub async fn verify_audit(&self) -> Result<Verification> {
        let mut out = Verification::default();
        let heads = audit_head::Entity::find()
            .order_by_asc(audit_head::Column::Chain)
            .all(self.conn())
            .await?;
        for head in heads {
            out.chains += 1;
            let mut prev_hash = GENESIS.to_owned();
            let mut expect = 1i64;
            let mut broken: Option<Broken> = None;
            'chain: loop {
                let rows = audit_entry::Entity::find()
                    .filter(audit_entry::Column::Chain.eq(head.chain))
                    .filter(audit_entry::Column::Seq.gte(expect))
                    .order_by_asc(audit_entry::Column::Seq)
                    .limit(1000)
                    .all(self.conn())
                    .await?;
                if rows.is_empty() {
                    break;
                }
                for r in rows {
                    out.entries += 1;
                    let fail = |reason: &str| Broken {
                        chain: head.chain,
                        seq: expect,
                        entry_id: r.id.clone(),
                        reason: reason.to_owned(),
                    };
                    let digest = hex::encode(Sha256::digest(r.change.as_bytes()));
                    let problem = if r.seq != expect {
                        Some(fail("entry missing or out of order (sequence gap)"))
                    } else if r.prev_hash != prev_hash {
                        Some(fail(
                            "previous-hash link broken (entry deleted or reordered)",
                        ))
                    } else if digest != r.change_digest {
                        Some(fail("change content altered (digest mismatch)"))
                    } else if entry_hash(&r) != r.hash {
                        Some(fail("entry altered (hash mismatch)"))
                    } else {
                        None
                    };
                    if let Some(p) = problem {
                        broken = Some(p);
                        break 'chain;
                    }
                    prev_hash = r.hash.clone();
                    expect += 1;
                }
            }
            if broken.is_none() && (head.seq != expect - 1 || head.hash != prev_hash) {
                broken = Some(Broken {
                    chain: head.chain,
                    seq: expect,
                    entry_id: String::new(),
                    reason: format!(
                        "chain head says {} entries but {} were found (entries deleted at the end)",
                        head.seq,
                        expect - 1
                    ),
                });
            }
            out.broken.extend(broken);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_stable_per_resource() {
        assert_eq!(chain_of("Employee", "a"), chain_of("Employee", "a"));
        let spread: std::collections::HashSet<_> = (0..200)
            .map(|i| chain_of("Employee", &i.to_string()))
            .collect();
        assert!(spread.len() > AUDIT_CHAINS as usize / 2);
    }
}
