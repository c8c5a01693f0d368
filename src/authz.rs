//! Authorization of one call on one resource: gathers the caller's relations to the resource
//! (self, assessor on the date, assessor's superior, admin scope) from the store, only those the
//! policy may need, and applies [`crate::auth::policy::decide`]. For a plan (SKP) the relations
//! are those recorded on it, so they do not change when today's assignments do.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::auth::policy::{self, Facts};
use crate::auth::{Principal, Role};
use crate::clock::Clock;
use crate::context::RequestContext;
use crate::domain::org::TimeZone;
use crate::domain::skp::Actor as SkpActor;
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
    /// A performance plan (SKP): relations are those recorded on it, not today's assignments.
    Plan {
        /// The employee whose plan it is.
        owner: &'a str,
        /// The recorded assessor, if any.
        assessor: Option<&'a str>,
        /// The recorded assessor's superior, if any.
        assessor_superior: Option<&'a str>,
        /// The unit snapshot of the plan (admin scope).
        unit: &'a str,
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

    /// Allows the call of `ctx` on a plan like [`Authorizer::check`], then returns every relation
    /// the caller holds to it (for the workflow rule), [`SkpActor::Other`] when none.
    pub async fn plan_relations(
        &self,
        ctx: &RequestContext,
        target: Target<'_>,
    ) -> Result<Vec<SkpActor>> {
        self.check(ctx, target).await?;
        let principal = ctx
            .principal
            .as_deref()
            .ok_or_else(|| Error::Unauthenticated("the call carries no verified token".into()))?;
        let all = Facts {
            is_self: true,
            is_assessor: true,
            is_assessor_superior: true,
            admin_in_scope: principal.has(Role::Admin),
        };
        let f = self.facts(principal, all, target).await?;
        let mut out = Vec::new();
        if f.is_self {
            out.push(SkpActor::Owner);
        }
        if f.is_assessor {
            out.push(SkpActor::Assessor);
        }
        if f.is_assessor_superior {
            out.push(SkpActor::AssessorSuperior);
        }
        if f.admin_in_scope || principal.has(Role::SystemAdmin) {
            out.push(SkpActor::Admin);
        }
        if out.is_empty() {
            out.push(SkpActor::Other);
        }
        Ok(out)
    }

    /// True when the employee `id` is the (employee) principal: their NIP is its subject.
    async fn is_principal(&self, p: &Principal, id: Option<&str>) -> bool {
        match id {
            Some(id) => self
                .store
                .get_employee(id)
                .await
                .is_ok_and(|e| e.nip == p.subject),
            None => false,
        }
    }

    async fn facts(&self, p: &Principal, need: Facts, target: Target<'_>) -> Result<Facts> {
        let mut f = Facts::default();
        match target {
            Target::Plan {
                owner,
                assessor,
                assessor_superior,
                unit,
            } => {
                if p.has(Role::Employee) {
                    f.is_self = need.is_self && self.is_principal(p, Some(owner)).await;
                    f.is_assessor = need.is_assessor && self.is_principal(p, assessor).await;
                    f.is_assessor_superior =
                        need.is_assessor_superior && self.is_principal(p, assessor_superior).await;
                }
                if need.admin_in_scope {
                    f.admin_in_scope = self.store.unit_within(&p.units, unit).await?;
                }
            }
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
                // The employee with their agency's time zone (one statement).
                let Ok((emp, zone)) = self.store.employee_and_time_zone(id).await else {
                    // Unknown employees are refused like any other resource out of reach.
                    return Ok(f);
                };
                let on = match on {
                    Some(d) => d,
                    None => {
                        let zone = zone.ok_or_else(|| {
                            Error::Internal(format!(
                                "employee {id} belongs to agency {} that does not exist",
                                emp.agency_id
                            ))
                        })?;
                        TimeZone::parse(&zone)
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
