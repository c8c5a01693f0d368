//! Agencies and work units.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::audit::{Actor, Change};
use super::entities::{agency, unit};
use super::idempotency::{Claim, claim};
use super::{AgencyRow, Store, UnitRow, find_or_not_found, keyset_page, new_id};
use crate::error::{Error, Result};
use crate::pagination::Page;

/// Values of a new agency.
#[derive(Debug, Clone)]
pub struct NewAgency {
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// WIB, WITA or WIT.
    pub time_zone: String,
}

/// Changes to an agency; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AgencyChanges {
    /// New name.
    pub name: Option<String>,
    /// New time zone.
    pub time_zone: Option<String>,
}

/// Values of a new unit.
#[derive(Debug, Clone)]
pub struct NewUnit {
    /// Agency.
    pub agency_id: String,
    /// Parent unit, if any.
    pub parent_id: Option<String>,
    /// Code, unique per agency.
    pub code: String,
    /// Name.
    pub name: String,
}

/// Applies the outcome of a versioned `UPDATE ... WHERE id = ? AND version = ?`.
pub(crate) fn check_versioned(rows: u64, exists: bool, kind: &'static str, id: &str) -> Result<()> {
    match (rows, exists) {
        (1, _) => Ok(()),
        (_, false) => Err(Error::not_found(kind, id)),
        _ => Err(Error::Aborted {
            kind,
            id: id.to_owned(),
        }),
    }
}

/// Parses an etag sent by a caller into the row version it names.
pub fn parse_etag(etag: &str) -> Result<i64> {
    etag.parse::<i64>().map_err(|_| {
        Error::invalid(
            "etag",
            "is required and must be an etag returned by the service",
        )
    })
}

impl Store {
    /// Creates an agency (idempotent on `request_id`).
    pub async fn create_agency(
        &self,
        actor: &Actor,
        new: NewAgency,
        request_id: &str,
        digest: &str,
    ) -> Result<AgencyRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "CreateAgency", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_agency(&existing).await;
        }
        let now = Utc::now();
        let row = agency::ActiveModel {
            id: Set(id),
            code: Set(new.code.clone()),
            name: Set(new.name),
            time_zone: Set(new.time_zone),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| match Error::from(e) {
            Error::AlreadyExists { .. } => Error::AlreadyExists {
                kind: "Agency",
                detail: format!("an agency with code {} exists", new.code),
            },
            other => other,
        })?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "Agency",
                resource_id: &row.id,
                action: "create",
                detail: serde_json::json!({"code": row.code, "name": row.name, "time_zone": row.time_zone}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Reads an agency.
    pub async fn get_agency(&self, id: &str) -> Result<AgencyRow> {
        find_or_not_found::<agency::Entity, _>(self.conn(), "Agency", id).await
    }

    /// Lists agencies by code.
    pub async fn list_agencies(&self, page: &Page) -> Result<(Vec<AgencyRow>, String)> {
        let q = agency::Entity::find();
        keyset_page(self.conn(), q, agency::Column::Code, false, page, |r| {
            r.code.clone()
        })
        .await
    }

    /// Updates an agency if `version` is current.
    pub async fn update_agency(
        &self,
        actor: &Actor,
        id: &str,
        version: i64,
        ch: AgencyChanges,
    ) -> Result<AgencyRow> {
        let changes_json = serde_json::to_value(&ch).unwrap_or_default();
        let txn = self.begin_write().await?;
        let mut q = agency::Entity::update_many()
            .col_expr(
                agency::Column::Version,
                Expr::col(agency::Column::Version).add(1),
            )
            .col_expr(agency::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(n) = ch.name {
            q = q.col_expr(agency::Column::Name, Expr::value(n));
        }
        if let Some(t) = ch.time_zone {
            q = q.col_expr(agency::Column::TimeZone, Expr::value(t));
        }
        let res = q
            .filter(agency::Column::Id.eq(id))
            .filter(agency::Column::Version.eq(version))
            .exec(&txn)
            .await?;
        let exists = res.rows_affected == 1
            || agency::Entity::find_by_id(id.to_owned())
                .one(&txn)
                .await?
                .is_some();
        check_versioned(res.rows_affected, exists, "Agency", id)?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "Agency",
                resource_id: id,
                action: "update",
                detail: serde_json::json!({"changes": changes_json, "version": version + 1}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_agency(id).await
    }

    /// Creates a unit under an agency and optional parent (idempotent on `request_id`).
    pub async fn create_unit(
        &self,
        actor: &Actor,
        new: NewUnit,
        request_id: &str,
        digest: &str,
    ) -> Result<UnitRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) = claim(&txn, "CreateUnit", request_id, digest, &id).await? {
            txn.commit().await?;
            return self.get_unit(&existing).await;
        }
        find_or_not_found::<agency::Entity, _>(&txn, "Agency", &new.agency_id).await?;
        let (depth, path) = match &new.parent_id {
            None => (0, format!("/{id}/")),
            Some(pid) => {
                let parent = find_unit(&txn, pid).await?;
                if parent.agency_id != new.agency_id {
                    return Err(Error::invalid(
                        "unit.parent_id",
                        "belongs to another agency",
                    ));
                }
                if !parent.active {
                    return Err(Error::precondition(
                        "UNIT_INACTIVE",
                        format!("units/{pid}"),
                        "the parent unit is deactivated",
                    ));
                }
                (parent.depth + 1, format!("{}{id}/", parent.path))
            }
        };
        let now = Utc::now();
        let row = unit::ActiveModel {
            id: Set(id),
            agency_id: Set(new.agency_id),
            parent_id: Set(new.parent_id),
            code: Set(new.code.clone()),
            name: Set(new.name),
            active: Set(true),
            depth: Set(depth),
            path: Set(path),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| match Error::from(e) {
            Error::AlreadyExists { .. } => Error::AlreadyExists {
                kind: "Unit",
                detail: format!("a unit with code {} exists in this agency", new.code),
            },
            other => other,
        })?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "Unit",
                resource_id: &row.id,
                action: "create",
                detail: serde_json::json!({"agency_id": row.agency_id, "parent_id": row.parent_id, "code": row.code, "name": row.name}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Reads a unit.
    pub async fn get_unit(&self, id: &str) -> Result<UnitRow> {
        find_or_not_found::<unit::Entity, _>(self.conn(), "Unit", id).await
    }

    /// Lists the children of `parent_id` (or the top units of the agency) by code.
    pub async fn list_units(
        &self,
        agency_id: &str,
        parent_id: Option<&str>,
        include_inactive: bool,
        page: &Page,
    ) -> Result<(Vec<UnitRow>, String)> {
        let mut q = unit::Entity::find()
            .filter(unit::Column::AgencyId.eq(agency_id))
            .order_by_asc(unit::Column::Code);
        q = match parent_id {
            Some(p) => q.filter(unit::Column::ParentId.eq(p)),
            None => q.filter(unit::Column::ParentId.is_null()),
        };
        if !include_inactive {
            q = q.filter(unit::Column::Active.eq(true));
        }
        if let Some(k) = &page.after {
            q = q.filter(unit::Column::Code.gt(k.first().cloned().unwrap_or_default()));
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        Ok(page.finish(rows, |r| vec![r.code.clone()]))
    }

    /// Moves a unit and its subtree under `new_parent` (same agency; never under itself).
    pub async fn move_unit(
        &self,
        actor: &Actor,
        id: &str,
        version: i64,
        new_parent: Option<&str>,
    ) -> Result<UnitRow> {
        let txn = self.begin_write().await?;
        let u = find_unit(&txn, id).await?;
        if u.version != version {
            return Err(Error::Aborted {
                kind: "Unit",
                id: id.to_owned(),
            });
        }
        let (depth, prefix) = match new_parent {
            None => (0, "/".to_owned()),
            Some(pid) => {
                let p = find_unit(&txn, pid).await?;
                if p.agency_id != u.agency_id {
                    return Err(Error::invalid("new_parent_id", "belongs to another agency"));
                }
                if p.path.starts_with(&u.path) {
                    return Err(Error::precondition(
                        "UNIT_CYCLE",
                        format!("units/{id}"),
                        "a unit cannot move under itself or one of its descendants",
                    ));
                }
                if !p.active {
                    return Err(Error::precondition(
                        "UNIT_INACTIVE",
                        format!("units/{pid}"),
                        "the new parent unit is deactivated",
                    ));
                }
                (p.depth + 1, p.path.clone())
            }
        };
        let new_path = format!("{prefix}{id}/");
        let delta = depth - u.depth;
        let res = unit::Entity::update_many()
            .col_expr(
                unit::Column::ParentId,
                Expr::value(new_parent.map(str::to_owned)),
            )
            .col_expr(
                unit::Column::Version,
                Expr::col(unit::Column::Version).add(1),
            )
            .col_expr(unit::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(unit::Column::Id.eq(id))
            .filter(unit::Column::Version.eq(version))
            .exec(&txn)
            .await?;
        check_versioned(res.rows_affected, true, "Unit", id)?;
        // Re-root the subtree: every path that starts with the old path gets the new prefix.
        let subtree = unit::Entity::find()
            .filter(unit::Column::Path.starts_with(&u.path))
            .all(&txn)
            .await?;
        for s in subtree {
            let path = format!("{new_path}{}", &s.path[u.path.len()..]);
            unit::Entity::update_many()
                .col_expr(unit::Column::Path, Expr::value(path))
                .col_expr(unit::Column::Depth, Expr::value(s.depth + delta))
                .filter(unit::Column::Id.eq(s.id))
                .exec(&txn)
                .await?;
        }
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "Unit",
                resource_id: id,
                action: "move",
                detail: serde_json::json!({"new_parent_id": new_parent, "version": version + 1}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_unit(id).await
    }

    /// Deactivates a unit; refused while an active child remains.
    pub async fn deactivate_unit(&self, actor: &Actor, id: &str, version: i64) -> Result<UnitRow> {
        let txn = self.begin_write().await?;
        find_unit(&txn, id).await?;
        let active_child = unit::Entity::find()
            .filter(
                Condition::all()
                    .add(unit::Column::ParentId.eq(id))
                    .add(unit::Column::Active.eq(true)),
            )
            .one(&txn)
            .await?;
        if active_child.is_some() {
            return Err(Error::precondition(
                "UNIT_HAS_ACTIVE_CHILDREN",
                format!("units/{id}"),
                "deactivate or move the unit's active child units first",
            ));
        }
        let res = unit::Entity::update_many()
            .col_expr(unit::Column::Active, Expr::value(false))
            .col_expr(
                unit::Column::Version,
                Expr::col(unit::Column::Version).add(1),
            )
            .col_expr(unit::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(unit::Column::Id.eq(id))
            .filter(unit::Column::Version.eq(version))
            .exec(&txn)
            .await?;
        check_versioned(res.rows_affected, true, "Unit", id)?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "Unit",
                resource_id: id,
                action: "deactivate",
                detail: serde_json::json!({"version": version + 1}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_unit(id).await
    }
}

async fn find_unit(txn: &super::Txn, id: &str) -> Result<UnitRow> {
    find_or_not_found::<unit::Entity, _>(txn, "Unit", id).await
}

/// True when the unit whose path is `target` lies in the subtree of one of the units `scope`
/// (an admin's scope), given the path of each scope unit read (`path_of`; a unit not found is
/// no scope): a unit's path starts with the path of each of its ancestors.
pub(super) fn in_scope<'a>(
    scope: &[String],
    path_of: impl Fn(&str) -> Option<&'a str>,
    target: &str,
) -> bool {
    scope
        .iter()
        .filter_map(|r| path_of(r))
        .any(|root| target.starts_with(root))
}

impl Store {
    /// True when `unit_id` lies in the subtree of one of `scope` (unit ids).
    pub async fn unit_within(&self, scope: &[String], unit_id: &str) -> Result<bool> {
        if scope.is_empty() {
            return Ok(false);
        }
        // The target and the scope's units in one statement (the target may be one of them).
        let mut ids = scope.to_vec();
        ids.push(unit_id.to_owned());
        let paths: HashMap<String, String> = unit::Entity::find()
            .select_only()
            .column(unit::Column::Id)
            .column(unit::Column::Path)
            .filter(unit::Column::Id.is_in(ids))
            .into_tuple::<(String, String)>()
            .all(self.conn())
            .await?
            .into_iter()
            .collect();
        let Some(target) = paths.get(unit_id) else {
            return Ok(false);
        };
        Ok(in_scope(
            scope,
            |id| paths.get(id).map(String::as_str),
            target,
        ))
    }

    /// True when one of the units `scope` belongs to `agency_id`.
    pub async fn any_unit_in_agency(&self, scope: &[String], agency_id: &str) -> Result<bool> {
        if scope.is_empty() {
            return Ok(false);
        }
        let found = unit::Entity::find()
            .filter(unit::Column::Id.is_in(scope.to_vec()))
            .filter(unit::Column::AgencyId.eq(agency_id))
            .one(self.conn())
            .await?;
        Ok(found.is_some())
    }
}
