//! `kinerja.v1.OrganizationService`: agencies and work units.

use tonic::{Request, Response, Status};

use super::convert::{opt_id, time_zone_enum, time_zone_text, ts};
use super::{AppState, digest, mask_paths, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::text;
use crate::error::{Error, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::organization_service_server::OrganizationService;
use crate::store::org::{AgencyChanges, NewAgency, NewUnit, parse_etag};
use crate::store::{AgencyRow, UnitRow};

/// Handler of the organisation service.
#[derive(Debug, Clone)]
pub struct OrganizationApi {
    state: AppState,
}

impl OrganizationApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn agency_pb(r: AgencyRow) -> pb::Agency {
    pb::Agency {
        time_zone: time_zone_enum(&r.time_zone),
        id: r.id,
        code: r.code,
        name: r.name,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

/// The proto form of a stored unit.
pub fn unit_pb(r: UnitRow) -> pb::Unit {
    pb::Unit {
        id: r.id,
        agency_id: r.agency_id,
        parent_id: r.parent_id.unwrap_or_default(),
        code: r.code,
        name: r.name,
        active: r.active,
        depth: r.depth,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

#[tonic::async_trait]
impl OrganizationService for OrganizationApi {
    async fn create_agency(
        &self,
        req: Request<pb::CreateAgencyRequest>,
    ) -> Result<Response<pb::Agency>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            self.state.authz.check(&ctx, Target::Global).await?;
            let a = req.agency.clone().unwrap_or_default();
            let mut v = Violations::new();
            text::code(&mut v, "agency.code", &a.code);
            text::required(&mut v, "agency.name", &a.name, 300);
            let tz = time_zone_text("agency.time_zone", a.time_zone);
            if let Err(e) = &tz {
                v.add("agency.time_zone", e.to_string());
            }
            v.finish()?;
            let new = NewAgency {
                code: a.code.trim().to_owned(),
                name: a.name.trim().to_owned(),
                time_zone: tz?.to_owned(),
            };
            let row = self
                .state
                .store
                .create_agency(&ctx.actor(), new, &req.request_id, &digest(&a))
                .await?;
            Ok(agency_pb(row))
        })
        .await
    }

    async fn get_agency(
        &self,
        req: Request<pb::GetAgencyRequest>,
    ) -> Result<Response<pb::Agency>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            self.state.authz.check(&ctx, Target::Global).await?;
            require_id("id", &req.id)?;
            Ok(agency_pb(self.state.store.get_agency(&req.id).await?))
        })
        .await
    }

    async fn list_agencies(
        &self,
        req: Request<pb::ListAgenciesRequest>,
    ) -> Result<Response<pb::ListAgenciesResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            self.state.authz.check(&ctx, Target::Global).await?;
            let page = Page::parse(req.page_size, &req.page_token, &[])?;
            let (rows, next) = self.state.store.list_agencies(&page).await?;
            Ok(pb::ListAgenciesResponse {
                agencies: rows.into_iter().map(agency_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn update_agency(
        &self,
        req: Request<pb::UpdateAgencyRequest>,
    ) -> Result<Response<pb::Agency>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            self.state.authz.check(&ctx, Target::Global).await?;
            let a = req
                .agency
                .ok_or_else(|| Error::invalid("agency", "is required"))?;
            require_id("agency.id", &a.id)?;
            let version = parse_etag(&a.etag)?;
            let mut ch = AgencyChanges::default();
            let mut v = Violations::new();
            for p in mask_paths(req.update_mask.as_ref(), &["name", "time_zone"])? {
                match p {
                    "name" => {
                        text::required(&mut v, "agency.name", &a.name, 300);
                        ch.name = Some(a.name.trim().to_owned());
                    }
                    _ => match time_zone_text("agency.time_zone", a.time_zone) {
                        Ok(t) => ch.time_zone = Some(t.to_owned()),
                        Err(e) => v.check(Err(e)),
                    },
                }
            }
            v.finish()?;
            Ok(agency_pb(
                self.state
                    .store
                    .update_agency(&ctx.actor(), &a.id, version, ch)
                    .await?,
            ))
        })
        .await
    }

    async fn create_unit(
        &self,
        req: Request<pb::CreateUnitRequest>,
    ) -> Result<Response<pb::Unit>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let u = req.unit.clone().unwrap_or_default();
            let mut v = Violations::new();
            v.check(require_id("unit.agency_id", &u.agency_id));
            text::code(&mut v, "unit.code", &u.code);
            text::required(&mut v, "unit.name", &u.name, 300);
            v.finish()?;
            let parent = opt_id(&u.parent_id);
            let target = match &parent {
                Some(p) => Target::Unit(p),
                None => Target::Global,
            };
            self.state.authz.check(&ctx, target).await?;
            let new = NewUnit {
                agency_id: u.agency_id.trim().to_owned(),
                parent_id: parent.clone(),
                code: u.code.trim().to_owned(),
                name: u.name.trim().to_owned(),
            };
            let row = self
                .state
                .store
                .create_unit(&ctx.actor(), new, &req.request_id, &digest(&u))
                .await?;
            Ok(unit_pb(row))
        })
        .await
    }

    async fn get_unit(
        &self,
        req: Request<pb::GetUnitRequest>,
    ) -> Result<Response<pb::Unit>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            self.state.authz.check(&ctx, Target::Global).await?;
            require_id("id", &req.id)?;
            Ok(unit_pb(self.state.store.get_unit(&req.id).await?))
        })
        .await
    }

    async fn list_units(
        &self,
        req: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            self.state.authz.check(&ctx, Target::Global).await?;
            require_id("agency_id", &req.agency_id)?;
            let inactive = if req.include_inactive { "1" } else { "0" };
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.agency_id, &req.parent_id, inactive],
            )?;
            let parent = opt_id(&req.parent_id);
            let (rows, next) = self
                .state
                .store
                .list_units(
                    &req.agency_id,
                    parent.as_deref(),
                    req.include_inactive,
                    &page,
                )
                .await?;
            Ok(pb::ListUnitsResponse {
                units: rows.into_iter().map(unit_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn move_unit(
        &self,
        req: Request<pb::MoveUnitRequest>,
    ) -> Result<Response<pb::Unit>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let version = parse_etag(&req.etag)?;
            let parent = opt_id(&req.new_parent_id);
            if parent.as_deref() == Some(req.id.as_str()) {
                return Err(Error::invalid(
                    "new_parent_id",
                    "a unit cannot be its own parent",
                ));
            }
            self.state.authz.check(&ctx, Target::Unit(&req.id)).await?;
            let to = match &parent {
                Some(p) => Target::Unit(p),
                None => Target::Global,
            };
            self.state.authz.check(&ctx, to).await?;
            Ok(unit_pb(
                self.state
                    .store
                    .move_unit(&ctx.actor(), &req.id, version, parent.as_deref())
                    .await?,
            ))
        })
        .await
    }

    async fn deactivate_unit(
        &self,
        req: Request<pb::DeactivateUnitRequest>,
    ) -> Result<Response<pb::Unit>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let version = parse_etag(&req.etag)?;
            self.state.authz.check(&ctx, Target::Unit(&req.id)).await?;
            Ok(unit_pb(
                self.state
                    .store
                    .deactivate_unit(&ctx.actor(), &req.id, version)
                    .await?,
            ))
        })
        .await
    }
}
