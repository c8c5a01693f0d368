//! `kinerja.v1.EventService`: the event feed, streamed from the outbox.

use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::AppState;
use super::convert::ts;
use crate::authz::Target;
use crate::context::RequestContext;
use crate::error::Error;
use crate::proto::v1 as pb;
use crate::proto::v1::event_service_server::EventService;
use crate::store::outbox::EventRow;

/// Events read from the database per round trip.
const BATCH: u64 = 500;

/// Handler of the event service.
#[derive(Debug, Clone)]
pub struct EventApi {
    state: AppState,
    poll: Duration,
}

impl EventApi {
    /// A handler over `state` that looks for other replicas' events every `poll`.
    pub fn new(state: AppState, poll: Duration) -> Self {
        Self { state, poll }
    }
}

fn event_pb(e: EventRow) -> pb::Event {
    pb::Event {
        time: ts(e.at),
        id: e.id,
        seq: e.seq,
        r#type: e.event_type,
        resource_type: e.resource_type,
        resource_id: e.resource_id,
        trace_id: e.trace_id,
        data_json: e.data,
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl EventService for EventApi {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        self.state
            .authz
            .check(&ctx, Target::Global)
            .await
            .map_err(Status::from)?;
        if req.event_types.iter().any(|t| t.is_empty() || t.len() > 64) {
            return Err(
                Error::invalid("event_types", "each type must be 1 to 64 characters").into(),
            );
        }
        let store = self.state.store.clone();
        let mut cursor = if req.after_event_id.is_empty() {
            0
        } else {
            store
                .event_seq(&req.after_event_id)
                .await
                .map_err(|e| match e {
                    Error::NotFound { .. } => {
                        Error::invalid("after_event_id", "is not the id of an event of this feed")
                    }
                    other => other,
                })
                .map_err(Status::from)?
        };
        let (tx, rx) = mpsc::channel(BATCH as usize);
        let poll = self.poll;
        let signal = store.event_signal();
        let mut shutdown = self.state.shutdown.clone();
        tokio::spawn(async move {
            loop {
                // Register for the local wake-up before reading, so no commit slips between.
                let woken = signal.notified();
                let batch = match store.events_after(cursor, &req.event_types, BATCH).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                let caught_up = (batch.len() as u64) < BATCH;
                for e in batch {
                    cursor = e.seq;
                    if tx
                        .send(Ok(pb::WatchResponse {
                            event: Some(event_pb(e)),
                        }))
                        .await
                        .is_err()
                    {
                        return; // The consumer went away.
                    }
                }
                if caught_up {
                    if !req.follow {
                        return;
                    }
                    tokio::select! {
                        () = woken => {}
                        () = tokio::time::sleep(poll) => {}
                                                () = tx.closed() => return,
                        _ = shutdown.wait_for(|stop| *stop) => return,
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
