//! Authorization of one call on one resource: gathers the caller's relations to the resource
//! (self, assessor on the date, assessor's superior, admin scope) from the store, only those the
//! policy may need, and applies [`crate::auth::policy::decide`].

use std::sync::Arc;

use chrono::NaiveDate;

use crate::auth::policy::{self, Facts};
use crate::auth::{Principal, Role};
use crate::clock::Clock;
use crate::context::RequestContext;
use crate::domain::org::TimeZone;
use crate::error::{Error, Result};
use crate::store::Store;

/// What a call is about, as far as authorization is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Nothing in particular (role grants only).
    Global,
    /// An agency: admins with a unit in it are in scope.
    Agency(&'a str),
    /// A unit: admins whose subtree contains it are in scope.
    Unit(&'a str),
    /// An employee on a date: relations (self, assessor, superior, admin of their unit) hold on
    /// that date.
    Employee {
        /// Employee id.
        id: &'a str,
        /// The date the relations are taken on; today in the employee's agency when `None`.
        on: Option<NaiveDate>,
    },
}

/// Checks calls against the policy.
#[derive(Debug, Clone)]
pub struct Authorizer {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl Authorizer {
    /// An authorizer reading relations from `store`.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Allows the call of `ctx` on `target`, or refuses it with `PERMISSION_DENIED` (the reason
    /// names what would be needed, never data of the resource).
    pub async fn check(&self, ctx: &RequestContext, target: Target<'_>) -> Result<()> {
        let principal = ctx
            .principal
            .as_deref()
            .ok_or_else(|| Error::Unauthenticated("the call carries no verified token".into()))?;
        let rule = policy::rule(&ctx.rpc).ok_or_else(|| {
            Error::PermissionDenied(format!("{} has no policy entry and is refused", ctx.rpc))
        })?;
        let allowed = match policy::decide_without_facts(principal, rule) {
            Some(decision) => decision,
            None => {
                let need = policy::relations_needed(principal, rule);
                let facts = self.facts(principal, need, target).await?;
                policy::decide(principal, rule, &facts)
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "the caller may not call {} on this resource",
                ctx.rpc.rsplit('/').next().unwrap_or(&ctx.rpc)
            )))
        }
    }

    async fn facts(&self, p: &Principal, need: Facts, target: Target<'_>) -> Result<Facts> {
        let mut f = Facts::default();
        match target {
            Target::Global => {}
            Target::Agency(agency) => {
                if need.admin_in_scope {
                    f.admin_in_scope = self.store.any_unit_in_agency(&p.units, agency).await?;
                }
            }
            Target::Unit(unit) => {
                if need.admin_in_scope {
                    f.admin_in_scope = self.store.unit_within(&p.units, unit).await?;
                }
            }
            Target::Employee { id, on } => {
                let Ok(emp) = self.store.get_employee(id).await else {
                    // Unknown employees are refused like any other resource out of reach.
                    return Ok(f);
                };
                let on = match on {
                    Some(d) => d,
                    None => {
                        let agency = self.store.get_agency(&emp.agency_id).await?;
                        TimeZone::parse(&agency.time_zone)
                            .unwrap_or(TimeZone::Wib)
                            .today(self.clock.now())
                    }
                };
                let employee_role = p.has(Role::Employee);
                f.is_self = need.is_self && employee_role && emp.nip == p.subject;
                if need.is_assessor || need.is_assessor_superior {
                    let assessor = self
                        .store
                        .assessor_on(id, on)
                        .await
                        .ok()
                        .and_then(|(_, s)| s);
                    if let Some(a) = assessor {
                        f.is_assessor = need.is_assessor && a.nip == p.subject;
                        if need.is_assessor_superior {
                            let sup = self
                                .store
                                .assessor_on(&a.id, on)
                                .await
                                .ok()
                                .and_then(|(_, s)| s);
                            f.is_assessor_superior = sup.is_some_and(|s| s.nip == p.subject);
                        }
                    }
                }
                if need.admin_in_scope {
                    f.admin_in_scope = match self.store.unit_of_employee_on(id, on).await? {
                        Some(unit) => self.store.unit_within(&p.units, &unit).await?,
                        None => {
                            self.store
                                .any_unit_in_agency(&p.units, &emp.agency_id)
                                .await?
                        }
                    };
                }
            }
        }
        Ok(f)
    }
}
