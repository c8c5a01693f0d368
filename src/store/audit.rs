//! The audit trail: one entry per mutation, appended in the mutation's own transaction, hash-
//! chained so that any edit, deletion or reordering of stored entries is detected by [`verify`].
//!
//! Entries are spread over [`AUDIT_CHAINS`] independent chains by resource, so writers of
//! different resources do not queue on one chain head; each chain head is locked (row lock on
//! PostgreSQL, the database write lock on SQLite) while an entry is appended. The database
//! places and hashes each entry from the head it reads, over the same bytes [`verify`] hashes
//! (PostgreSQL's `sha256`; on SQLite the service's own `kinerja_entry_hash` function), so an
//! append needs no read of its own: on PostgreSQL one statement of data-modifying CTEs (the head
//! read `FOR UPDATE`, the entry inserted, the head moved), which a write of one statement carries
//! with it ([`pg_with_entry`]); on SQLite two statements that go with the transaction's next
//! command ([`sqlite_append`]).

use chrono::{DateTime, SubsecRound, Utc};
use migration::AUDIT_CHAINS;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
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

/// Appends each part to `out` after its length (8 bytes, little-endian): the bytes an entry's
/// hash is taken over, part after part.
fn frame(out: &mut Vec<u8>, parts: &[&str]) {
    for part in parts {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part.as_bytes());
    }
}

/// The framed parts of an entry between its previous hash and its sequence number, and after
/// its sequence number: what is known of an entry before its place in the chain is.
fn framed_around_seq(e: &AuditRow) -> (Vec<u8>, Vec<u8>) {
    let mut before = Vec::new();
    frame(&mut before, &[&e.id, &e.chain.to_string()]);
    let mut after = Vec::new();
    frame(
        &mut after,
        &[
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
        ],
    );
    (before, after)
}

/// SHA-256 over the previous hash and the entry's content, in a fixed field order (each field
/// after its length): previous hash, id, chain, sequence number, time, actor, calling service,
/// request id, trace id, method, resource type and id, action, change digest.
fn entry_hash(e: &AuditRow) -> String {
    let (before, after) = framed_around_seq(e);
    placed_hash(e.prev_hash.as_bytes(), &before, e.seq, &after)
}

/// [`entry_hash`] of an entry whose framed parts around its sequence number are `before` and
/// `after` (see `framed_around_seq`), placed after the entry hashed `prev` as number `seq`. What
/// SQLite's `kinerja_entry_hash(prev, before, seq, after)` computes (`store::sql_functions`).
pub(crate) fn placed_hash(prev: &[u8], before: &[u8], seq: i64, after: &[u8]) -> String {
    let seq = seq.to_string();
    let mut h = Sha256::new();
    h.update((prev.len() as u64).to_le_bytes());
    h.update(prev);
    h.update(before);
    h.update((seq.len() as u64).to_le_bytes());
    h.update(seq.as_bytes());
    h.update(after);
    hex::encode(h.finalize())
}

/// The entry of `change`, but its place in the chain: `seq`, `prev_hash` and `hash` are left
/// for whoever reads the chain's head.
pub(crate) fn new_entry(actor: &Actor, now: DateTime<Utc>, change: Change<'_>) -> AuditRow {
    let detail = change.detail.to_string();
    AuditRow {
        id: new_id(),
        chain: chain_of(change.resource_type, change.resource_id),
        seq: 0,
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
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// The columns of an entry known before its place in the chain, in the order of
/// [`known_values`].
const KNOWN_COLUMNS: &str = "id, chain, at, actor, calling_service, request_id, trace_id, rpc, \
                             resource_type, resource_id, action, change, change_digest";

/// The values of [`KNOWN_COLUMNS`] for `e` (moved out of it: an append owns its entry).
fn known_values(e: AuditRow) -> Vec<sea_orm::Value> {
    vec![
        e.id.into(),
        e.chain.into(),
        e.at.into(),
        e.actor.into(),
        e.calling_service.into(),
        e.request_id.into(),
        e.trace_id.into(),
        e.rpc.into(),
        e.resource_type.into(),
        e.resource_id.into(),
        e.action.into(),
        e.change.into(),
        e.change_digest.into(),
    ]
}

/// PostgreSQL: the common table expressions that append `entry` to its chain in the statement
/// they are part of, if `guard` (a query) returns a row: the chain's head read with its row
/// lock (`audit_head`), the entry's hash computed by the database over the same bytes as
/// [`entry_hash`] (`audit_new`; each length below 256, so one byte of the eight), the entry's
/// insert (`audit_entry`) and the head's move (`audit_moved`). A chain without a head fails
/// the statement: the entry's `seq` would be NULL. Parameters are numbered from `$first`.
fn pg_append_ctes(entry: AuditRow, guard: &str, first: usize) -> (String, Vec<sea_orm::Value>) {
    let (before, after) = framed_around_seq(&entry);
    let mut values: Vec<sea_orm::Value> = vec![entry.chain.into(), before.into(), after.into()];
    values.extend(known_values(entry));
    let p: Vec<String> = (first..first + values.len())
        .map(|i| format!("${i}"))
        .collect();
    let (chain, before, after, known) = (&p[0], &p[1], &p[2], p[3..].join(", "));
    let length =
        |x: &str| format!("set_byte(decode('0000000000000000', 'hex'), 0, octet_length({x}))");
    let sql = format!(
        "audit_head AS (SELECT seq + 1 AS seq, hash AS prev FROM audit_heads \
           WHERE chain = {chain} AND EXISTS ({guard}) FOR UPDATE), \
         audit_new AS (SELECT h.seq, h.prev, encode(sha256({prev_len} || convert_to(h.prev, 'UTF8') \
           || {before}::bytea || {seq_len} || convert_to(h.seq::text, 'UTF8') || {after}::bytea), 'hex') AS hash \
           FROM ({guard} LIMIT 1) AS g LEFT JOIN audit_head AS h ON true), \
         audit_entry AS (INSERT INTO audit_log ({KNOWN_COLUMNS}, seq, prev_hash, hash) \
           SELECT {known}, seq, prev, hash FROM audit_new RETURNING seq, hash), \
         audit_moved AS (UPDATE audit_heads SET seq = e.seq, hash = e.hash FROM audit_entry AS e \
           WHERE audit_heads.chain = {chain})",
        prev_len = length("h.prev"),
        seq_len = length("h.seq::text"),
    );
    (sql, values)
}

/// SQLite: the two statements that append `entry` to its chain if `guard` (an SQL condition
/// with `guard_values`) holds, for the transaction to hold until its next command: the entry's
/// insert, its place and hash taken from the chain's head by the database
/// (`kinerja_entry_hash`, over the same bytes as [`entry_hash`]), then the head's move to it. A
/// chain without a head fails the insert (the entry's `seq` would be NULL). The write
/// transaction holds SQLite's only write lock, so the head cannot move in between.
pub(crate) fn sqlite_append(
    entry: AuditRow,
    guard: &str,
    guard_values: Vec<sea_orm::Value>,
) -> [sea_orm::Statement; 2] {
    let (before, after) = framed_around_seq(&entry);
    let chain = entry.chain;
    let mut values = known_values(entry);
    let known = vec!["?"; values.len()].join(", ");
    values.extend([before.into(), after.into()]);
    values.extend(guard_values);
    values.push(chain.into());
    let insert = sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Sqlite,
        format!(
            "INSERT INTO audit_log ({KNOWN_COLUMNS}, seq, prev_hash, hash) \
             SELECT {known}, h.seq + 1, h.hash, kinerja_entry_hash(h.hash, ?, h.seq + 1, ?) \
             FROM (SELECT 1 WHERE {guard}) AS g LEFT JOIN audit_heads AS h ON h.chain = ?"
        ),
        values,
    );
    let next =
        "FROM audit_log AS e WHERE e.chain = audit_heads.chain AND e.seq = audit_heads.seq + 1";
    let move_head = sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Sqlite,
        format!(
            "UPDATE audit_heads SET seq = seq + 1, hash = (SELECT e.hash {next}) \
             WHERE chain = ? AND EXISTS (SELECT 1 {next})"
        ),
        [chain.into()],
    );
    [insert, move_head]
}

/// Appends one entry for `change` inside `txn` (the transaction of the change itself), placed
/// and hashed by the database: on PostgreSQL in one statement, on SQLite in two held for the
/// transaction's next command (its `COMMIT`, as a rule).
pub(crate) async fn append(
    txn: &super::Txn,
    kind: DbKind,
    actor: &Actor,
    now: DateTime<Utc>,
    change: Change<'_>,
) -> Result<()> {
    let entry = new_entry(actor, now, change);
    match kind {
        DbKind::Postgres => {
            let (ctes, values) = pg_append_ctes(entry, "SELECT 1", 1);
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                format!("WITH {ctes} SELECT 1"),
                values,
            ))
            .await?;
        }
        DbKind::Sqlite => {
            for stmt in sqlite_append(entry, "1", Vec::new()) {
                txn.hold(stmt).await?;
            }
        }
    }
    Ok(())
}

/// PostgreSQL: `write`, one data-modifying statement with `RETURNING`, with the audit entry of
/// `change` (stamped `now`) appended in the same statement if `write` returns a row; the
/// statement returns `write`'s rows. One round trip for both, inside a transaction or as one of
/// its own.
pub(crate) fn pg_with_entry(
    write: sea_orm::Statement,
    actor: &Actor,
    now: DateTime<Utc>,
    change: Change<'_>,
) -> sea_orm::Statement {
    let entry = new_entry(actor, now, change);
    let mut values = write.values.map(|v| v.0).unwrap_or_default();
    let (ctes, more) = pg_append_ctes(entry, "SELECT 1 FROM written", values.len() + 1);
    values.extend(more);
    let sql = format!(
        "WITH written AS ({}), {ctes} SELECT * FROM written",
        write.sql
    );
    sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values)
}

impl Store {
    /// PostgreSQL: runs `write` with the audit entry of `change` ([`pg_with_entry`]) as one
    /// statement, its own transaction (no `BEGIN` or `COMMIT`). The rows `write` returned. Not
    /// tried again if the connection breaks (the write may have committed).
    pub(crate) async fn pg_write_with_entry(
        &self,
        write: sea_orm::Statement,
        actor: &Actor,
        change: Change<'_>,
    ) -> Result<Vec<sea_orm::QueryResult>> {
        let stmt = pg_with_entry(write, actor, Utc::now(), change);
        Ok(self.conn().write_returning(stmt).await?)
    }
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

    /// The hash is taken over the bytes documented at [`entry_hash`] (each field after its
    /// length, eight bytes little-endian); the expected value was computed outside Rust (Python's
    /// `hashlib` over `struct.pack("<Q", len) + field` for each field), so a change of the framing
    /// that would break every stored chain fails here.
    #[test]
    fn an_entry_hash_is_over_the_documented_bytes() {
        let e = AuditRow {
            id: "0a1b2c3d-0000-4000-8000-000000000001".into(),
            chain: 7,
            seq: 42,
            at: chrono::DateTime::parse_from_rfc3339("2026-12-07T01:02:03.456789Z")
                .expect("a time")
                .with_timezone(&Utc),
            actor: "199001012015031001".into(),
            calling_service: None,
            request_id: "req-1".into(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            rpc: "/kinerja.v1.EmployeeService/UpdateEmployee".into(),
            resource_type: "Employee".into(),
            resource_id: "e-1".into(),
            action: "update".into(),
            change: r#"{"a":1}"#.into(),
            change_digest: hex::encode(Sha256::digest(br#"{"a":1}"#)),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        assert_eq!(
            e.change_digest,
            "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
        );
        assert_eq!(
            entry_hash(&e),
            "892a2b08888ea6c28fd04c8c977a08a6eb7d3370a20fac796ab998cf5565f179"
        );
    }

    #[test]
    fn chains_are_stable_per_resource() {
        assert_eq!(chain_of("Employee", "a"), chain_of("Employee", "a"));
        let spread: std::collections::HashSet<_> = (0..200)
            .map(|i| chain_of("Employee", &i.to_string()))
            .collect();
        assert!(spread.len() > AUDIT_CHAINS as usize / 2);
    }
}
