//! Authorization of one call on one resource: gathers the caller's relations to the resource
//! (self, assessor on the date, assessor's superior, admin scope) from the store, only those the
//! policy may need, and applies [`crate::auth::policy::decide`]. For a plan (SKP) the relations
//! are those recorded on it, so they do not change when today's assignments do.
//!
//! An employee principal is matched to the employees recorded on a plan by id: the id of the
//! employee whose NIP is the token's subject is read once per replica and kept
//! ([`PrincipalIds`]), so checking a plan's owner, assessor and assessor's superior costs no
//! statement once the caller has been seen.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

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

/// How many employee principals' ids a replica keeps (about 100 bytes each).
const PRINCIPAL_IDS: usize = 20_000;

/// The employee id of each employee principal (by NIP, the token's subject) this replica has
/// read, least recently used first out. An entry never goes stale: an employee's NIP is never
/// changed and no employee is deleted (a register closes a record by its status), so the NIP
/// names the same employee id on every replica for ever. Only ids found are kept: a NIP not
/// stored yet may be imported later. Emptied when the server goes quiet after load (its memory
/// handed back; `server::KeptInMemory`).
#[derive(Debug)]
struct PrincipalIds(Mutex<lru::LruCache<String, String>>);

impl PrincipalIds {
    fn new() -> Self {
        Self(Mutex::new(lru::LruCache::new(
            NonZeroUsize::new(PRINCIPAL_IDS).unwrap_or(NonZeroUsize::MIN),
        )))
    }

    fn get(&self, nip: &str) -> Option<String> {
        self.0.lock().ok()?.get(nip).cloned()
    }

    fn put(&self, nip: &str, id: &str) {
        if let Ok(mut ids) = self.0.lock() {
            ids.put(nip.to_owned(), id.to_owned());
        }
    }

    fn clear(&self) {
        if let Ok(mut ids) = self.0.lock() {
            ids.clear();
        }
    }
}

/// Checks calls against the policy.
#[derive(Debug, Clone)]
pub struct Authorizer {
    store: Store,
    clock: Arc<dyn Clock>,
    principal_ids: Arc<PrincipalIds>,
}

impl Authorizer {
    /// An authorizer reading relations from `store`.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            principal_ids: Arc::new(PrincipalIds::new()),
        }
    }

    /// Forgets the employee ids of the principals read so far (an idle server handing its
    /// memory back); each is read again when next needed.
    pub fn forget_principal_ids(&self) {
        self.principal_ids.clear();
    }

    /// Allows the call of `ctx` on `target`, or refuses it with `PERMISSION_DENIED` (the reason
    /// names what would be needed, never data of the resource).
    pub async fn check(&self, ctx: &RequestContext, target: Target<'_>) -> Result<()> {
        self.allow(ctx, target, false).await.map(|_| ())
    }

    /// Allows the call of `ctx` on a plan like [`Authorizer::check`], then returns every relation
    /// the caller holds to it (for the workflow rule), [`SkpActor::Other`] when none. The
    /// relations are gathered once, for both.
    pub async fn plan_relations(
        &self,
        ctx: &RequestContext,
        target: Target<'_>,
    ) -> Result<Vec<SkpActor>> {
        let (principal, f) = self.allow(ctx, target, true).await?;
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

    /// Decides the call of `ctx` on `target` from the relations the policy may need (every
    /// relation when `all`); returns the caller and the relations gathered.
    async fn allow<'c>(
        &self,
        ctx: &'c RequestContext,
        target: Target<'_>,
        all: bool,
    ) -> Result<(&'c Principal, Facts)> {
        let principal = ctx
            .principal
            .as_deref()
            .ok_or_else(|| Error::Unauthenticated("the call carries no verified token".into()))?;
        let rule = policy::rule(&ctx.rpc).ok_or_else(|| {
            Error::PermissionDenied(format!("{} has no policy entry and is refused", ctx.rpc))
        })?;
        let decided = policy::decide_without_facts(principal, rule);
        let need = if all {
            Facts {
                is_self: true,
                is_assessor: true,
                is_assessor_superior: true,
                admin_in_scope: principal.has(Role::Admin),
            }
        } else if decided.is_some() {
            Facts::default()
        } else {
            policy::relations_needed(principal, rule)
        };
        let facts = if need == Facts::default() {
            Facts::default()
        } else {
            self.facts(principal, need, target).await?
        };
        if decided.unwrap_or_else(|| policy::decide(principal, rule, &facts)) {
            Ok((principal, facts))
        } else {
            Err(Error::PermissionDenied(format!(
                "the caller may not call {} on this resource",
                ctx.rpc.rsplit('/').next().unwrap_or(&ctx.rpc)
            )))
        }
    }

    /// The id of the employee the (employee) principal is: the one whose NIP is its subject;
    /// `None` when no employee has that NIP. Read once per replica (see [`PrincipalIds`]).
    async fn principal_employee(&self, p: &Principal) -> Result<Option<String>> {
        if let Some(id) = self.principal_ids.get(&p.subject) {
            return Ok(Some(id));
        }
        match self.store.get_employee_by_nip(&p.subject).await {
            Ok(e) => {
                self.principal_ids.put(&p.subject, &e.id);
                Ok(Some(e.id))
            }
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
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
                if p.has(Role::Employee)
                    && (need.is_self || need.is_assessor || need.is_assessor_superior)
                {
                    let me = self.principal_employee(p).await?;
                    let is = |id: Option<&str>| me.is_some() && me.as_deref() == id;
                    f.is_self = need.is_self && is(Some(owner));
                    f.is_assessor = need.is_assessor && is(assessor);
                    f.is_assessor_superior = need.is_assessor_superior && is(assessor_superior);
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
                    f.admin_in_scope =
                        match self.store.employee_unit_within(&p.units, id, on).await? {
                            Some(within) => within,
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
