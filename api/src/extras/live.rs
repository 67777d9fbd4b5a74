//! The live tail: Server-Sent Events of a job's runs as their results are recorded. The
//! process's one reader ([`crate::hub`]) reads the job's runs and sends each to every tail of
//! the job; a tail holds a slot under the caps per API key and per tenant until its client
//! goes away.

use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::hub::{Subscription, TailEvent, TailSlot};
use crate::lookup::load_job;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

/// Server-Sent Events: each run of the job as its result is recorded (event `run`, SAP's
/// run-log entry with chime's details).
#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/runs/stream", tag = "live", operation_id = "liveTail",
    summary = "Server-Sent Events: each run of the job as its result is recorded",
    description = "Each event is named `run`, has the run id as its id, and carries the run in detail (the `RunDetail` schema) as JSON data. Comments keep the connection alive. A client that reads too slowly to keep up (256 runs behind) gets a last event named `lagged`, whose data is `{\"missed\": n}`, and the stream ends: the runs it missed are in the job's run log. Each API process holds at most `CHIME_TAIL_MAX_PER_KEY` tails open per API key and `CHIME_TAIL_MAX_PER_TENANT` per tenant; one more answers 429.",
    params(("jobId" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String),
        crate::error::SapErrors,
        (status = 429, description = "The API key or its tenant has as many live tails open as its cap allows, or is over its request rate; the message names the cap or the limit, and the answer carries `Retry-After` (and SAP's `throttling: 0` for a request rate)", body = crate::error::SapError),
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn live_tail(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    tenant.require("read")?;
    let slot = s.tails.acquire(&tenant.id, &tenant.key_id)?;
    let job = load_job(&s, &tenant, &raw).await?;
    let subscription = s.tails.subscribe(&tenant.id, job.id).await?;
    Ok(Sse::new(events(subscription, slot, run_event))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// How a tail's run becomes its event.
pub type ToEvent = fn(&TailEvent) -> Event;

/// A tail's events: each run of the job as `to_event` makes it, until the client goes away
/// or falls behind (a last `lagged` event). The slot and the listener are held until then.
pub fn events(
    subscription: Subscription,
    slot: TailSlot,
    to_event: ToEvent,
) -> impl futures::Stream<Item = Result<Event, Infallible>> + Send + 'static {
    futures::stream::unfold(Some((subscription, slot, to_event)), next_event)
}

/// What a tail holds while open: its job's listener, its slot and its events' maker.
type Open = Option<(Subscription, TailSlot, ToEvent)>;

/// The tail's next event: the job's next run; after a `lagged` event, the end of the stream
/// (the slot and the listener are dropped with the state).
async fn next_event(open: Open) -> Option<(Result<Event, Infallible>, Open)> {
    let (mut subscription, slot, to_event) = open?;
    match subscription.recv().await {
        Ok(run) => Some((Ok(to_event(&run)), Some((subscription, slot, to_event)))),
        Err(RecvError::Lagged(missed)) => {
            tracing::info!(missed, "a live tail fell behind its job's runs; closing it");
            let ev = Event::default()
                .event("lagged")
                .data(format!("{{\"missed\":{missed}}}"));
            Some((Ok(ev), None))
        }
        Err(RecvError::Closed) => None,
    }
}

fn run_event(run: &TailEvent) -> Event {
    Event::default()
        .event("run")
        .id(run.run_id.as_str())
        .data(run.data.as_str())
}
