//! The live tail: Server-Sent Events of a job's runs as their results are recorded.

use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::lookup::load_job;
use crate::state::AppState;
use crate::wire::sap::RunDetail;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;

/// Server-Sent Events: each run of the job as its result is recorded (event `run`, SAP's
/// run-log entry with chime's details).
#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/runs/stream", tag = "live", operation_id = "liveTail",
    summary = "Server-Sent Events: each run of the job as its result is recorded",
    description = "Each event is named `run`, has the run id as its id, and carries the run in detail (the `RunDetail` schema) as JSON data. Comments keep the connection alive.",
    params(("jobId" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn live_tail(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    // Announced before the head is read: every result recorded after the head is on the
    // stream.
    s.store.announce_tail(&tenant.id, job.id).await?;
    let start = s.store.done_head(&tenant.id, job.id).await?;
    let state = (s, tenant.id, job.id, start, Vec::<Event>::new());
    let stream =
        futures::stream::unfold(state, |(s, tenant, job, mut last, mut queue)| async move {
            loop {
                if let Some(ev) = queue.pop() {
                    return Some((Ok::<_, Infallible>(ev), (s, tenant, job, last, queue)));
                }
                let waited = async {
                    s.store.announce_tail(&tenant, job).await?;
                    s.store.wait_done(&tenant, job, &last, 5000).await
                };
                let batch = match waited.await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "live tail read failed; closing");
                        return None;
                    }
                };
                for (id, run) in batch {
                    last = id;
                    if let Ok(Some(r)) = s.store.run(&tenant, &run).await {
                        let data =
                            serde_json::to_string(&RunDetail::from(&r)).expect("a run serialises");
                        queue.insert(
                            0,
                            Event::default()
                                .event("run")
                                .id(r.run_id.clone())
                                .data(data),
                        );
                    }
                }
            }
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
