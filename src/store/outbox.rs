//! The event outbox. An event is written in the same transaction as the change it announces,
//! with a sequence number taken from a locked counter, so sequence numbers become visible in
//! order and without gaps: a consumer that read up to `seq` never misses a later commit with a
//! smaller number. Consumers (the `Watch` RPC) poll from their cursor.

use chrono::{SubsecRound, Utc};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::audit::Actor;
use super::entities::outbox_event;
use super::{Store, lock_row_by, new_id};
use crate::error::{Error, Result};

pub use outbox_event::Model as EventRow;

/// An event to publish.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Event type, e.g. `skp.approved`.
    pub event_type: &'a str,
    /// Type of the resource.
    pub resource_type: &'a str,
    /// Id of the resource.
    pub resource_id: &'a str,
    /// Event data.
    pub data: serde_json::Value,
}

impl Store {
    /// Appends `event` to the outbox inside `txn`.
    pub(crate) async fn publish(
        &self,
        txn: &super::Txn,
        actor: &Actor,
        event: Event<'_>,
    ) -> Result<()> {
        lock_row_by(txn, self.kind(), "outbox_head", "id", 1.into()).await?;
        let head: Option<i64> = super::entities::outbox_event::Entity::find()
            .select_only()
            .expr(Expr::col(outbox_event::Column::Seq).max())
            .into_tuple::<Option<i64>>()
            .one(txn)
            .await?
            .flatten();
        let seq = head.unwrap_or(0) + 1;
        super::entities::outbox_head::Entity::update_many()
            .col_expr(super::entities::outbox_head::Column::Seq, Expr::value(seq))
            .filter(super::entities::outbox_head::Column::Id.eq(1))
            .exec(txn)
            .await?;
        outbox_event::Entity::insert(outbox_event::ActiveModel {
            seq: Set(seq),
            id: Set(new_id()),
            event_type: Set(event.event_type.to_owned()),
            resource_type: Set(event.resource_type.to_owned()),
            resource_id: Set(event.resource_id.to_owned()),
            at: Set(Utc::now().trunc_subsecs(6)),
            trace_id: Set(actor.trace_id.clone()),
            data: Set(event.data.to_string()),
        })
        .exec_without_returning(txn)
        .await?;
        Ok(())
    }

    /// Events after `after_seq`, in order, at most `limit`, optionally of some types only.
    pub async fn events_after(
        &self,
        after_seq: i64,
        types: &[String],
        limit: u64,
    ) -> Result<Vec<EventRow>> {
        let mut q = outbox_event::Entity::find()
            .filter(outbox_event::Column::Seq.gt(after_seq))
            .order_by_asc(outbox_event::Column::Seq)
            .limit(limit);
        if !types.is_empty() {
            q = q.filter(outbox_event::Column::EventType.is_in(types.to_vec()));
        }
        Ok(q.all(self.conn()).await?)
    }

    /// The sequence number of the event with `id` (to resume from an event id).
    pub async fn event_seq(&self, id: &str) -> Result<i64> {
        outbox_event::Entity::find()
            .filter(outbox_event::Column::Id.eq(id))
            .one(self.conn())
            .await?
            .map(|e| e.seq)
            .ok_or_else(|| Error::not_found("Event", id))
    }
}
