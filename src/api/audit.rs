//! `kinerja.v1.AuditService`: reading the audit trail and verifying its hash chains.

use tonic::{Request, Response, Status};

use super::convert::ts;
use super::{AppState, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::audit_service_server::AuditService;
use crate::store::audit::AuditRow;

/// Handler of the audit service.
#[derive(Debug, Clone)]
pub struct AuditApi {
    state: AppState,
}

impl AuditApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn entry_pb(r: AuditRow) -> pb::AuditEntry {
    pb::AuditEntry {
        time: ts(r.at),
        id: r.id,
        chain: r.chain,
        seq: r.seq,
        actor: r.actor,
        calling_service: r.calling_service.unwrap_or_default(),
        request_id: r.request_id,
        trace_id: r.trace_id,
        rpc: r.rpc,
        resource_type: r.resource_type,
        resource_id: r.resource_id,
        action: r.action,
        change_json: r.change,
        change_digest: r.change_digest,
        prev_hash: r.prev_hash,
        hash: r.hash,
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        req: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            self.state.authz.check(&ctx, Target::Global).await?;
            require_id("resource_type", &req.resource_type)?;
            require_id("resource_id", &req.resource_id)?;
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.resource_type, &req.resource_id],
            )?;
            let (rows, next) = self
                .state
                .store
                .audit_history(&req.resource_type, &req.resource_id, &page)
                .await?;
            Ok(pb::ListAuditEntriesResponse {
                entries: rows.into_iter().map(entry_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn verify_audit_chain(
        &self,
        req: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let ctx = RequestContext::of(&req);
        respond(async {
            self.state.authz.check(&ctx, Target::Global).await?;
            let v = self.state.store.verify_audit().await?;
            Ok(pb::VerifyAuditChainResponse {
                intact: v.broken.is_empty(),
                entries_checked: v.entries as i64,
                chains_checked: v.chains as i32,
                broken: v
                    .broken
                    .into_iter()
                    .map(|b| pb::BrokenAuditEntry {
                        chain: b.chain,
                        seq: b.seq,
                        entry_id: b.entry_id,
                        reason: b.reason,
                    })
                    .collect(),
            })
        })
        .await
    }
}
