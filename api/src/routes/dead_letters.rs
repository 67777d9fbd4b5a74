//! The dead-letter queue for the operator (the admin token): list its messages with the runs
//! they carry, replay one (its runs published again, to be called unless already finished) or
//! discard one (its runs finished as errors, so each still has exactly one record).
//!
//! Reading the list first moves what waits in the broker's dead-letter queue into the store
//! (each message kept under an id of its signature and body, then acknowledged), so the list pages over
//! stable ids and a replay or discard names one message.

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::query::{query_u64, QueryOf};
use crate::service;
use crate::state::AppState;
use crate::wire::fleet::{
    DeadLetterDone, DeadLetterPage, DeadLetterQuery, DeadLetterView, DeadRunView,
};
use axum::extract::{Path, State};
use axum::Json;
use chime_core::model::RunMessage;
use chime_core::run::{Outcome, RunState, RunStatus};
use chime_core::time::format_instant;
use chime_store::{Completed, KeptLetter, RunResult};

/// Messages moved from the broker's queue per list call, at most.
const TAKE_PER_CALL: usize = 1_000;
/// The worker name a discarded run's record shows.
const DISCARDED_BY: &str = "operator";
const DISCARDED: &str = "discarded from the dead-letter queue by the operator";

/// Moves what waits in the broker's dead-letter queue into the store. A broker that cannot be
/// reached leaves the list to what is kept already.
async fn keep_waiting(s: &AppState, now: i64) -> ApiResult<()> {
    let taken = match s.broker.take_dead(TAKE_PER_CALL).await {
        Ok(taken) => taken,
        Err(e) => {
            chime_runtime::telemetry::warn_throttled(
                "dead_letters_unreachable",
                &format!("the dead-letter queue cannot be read: {e}"),
            );
            return Ok(());
        }
    };
    for letter in taken {
        s.store
            .keep_letter(&letter.body, letter.signature.as_deref(), now)
            .await?;
        // Kept: off the queue. A failed ack leaves it there, to be kept again (a no-op).
        let _ = letter.ack().await;
    }
    Ok(())
}

/// The runs of a kept message, or why it cannot be replayed.
fn runs_of(s: &AppState, letter: &KeptLetter) -> Result<Vec<RunMessage>, String> {
    s.broker
        .dead_runs(&letter.body, letter.signature.as_deref())
        .map_err(|e| e.to_string())
}

fn view(s: &AppState, letter: KeptLetter) -> DeadLetterView {
    let (runs, refused) = match runs_of(s, &letter) {
        Ok(runs) => (runs, None),
        Err(why) => (vec![], Some(why)),
    };
    DeadLetterView {
        bytes: letter.body.len(),
        id: letter.id,
        kept_at: format_instant(letter.kept_ms),
        refused,
        runs: runs
            .into_iter()
            .map(|m| DeadRunView {
                run_id: m.run_id,
                tenant_id: m.tenant,
                job_id: m.job_id,
                schedule_id: m.schedule_id,
                scheduled_for: format_instant(m.scheduled_at),
                attempt: m.attempt,
                manual: m.requested_by.is_some(),
            })
            .collect(),
    }
}

#[utoipa::path(
    get, path = "/admin/deadLetters", tag = "admin", operation_id = "listDeadLetters",
    summary = "The dead-letter queue's messages and the runs they carry",
    description = "Messages a worker could not process within `CHIME_DELIVERY_LIMIT` deliveries, or that are not signed with the cluster secret, oldest first. Reading the list takes what waits in the broker's dead-letter queue into the store first (each message kept once, under an id of its signature and body), so ids are stable until the message is replayed or discarded.",
    params(DeadLetterQuery),
    responses(
        (status = 200, description = "A page of the dead letters", body = DeadLetterPage),
        (status = 400, description = "A bad `offset` or `limit`", body = crate::error::SapError),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
        (status = 503, description = "The broker or the store is unavailable", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn list_dead_letters(
    State(s): State<AppState>,
    _: Admin,
    QueryOf(q): QueryOf<DeadLetterQuery>,
) -> ApiResult<Json<DeadLetterPage>> {
    const CTX: &str = "Error while listing dead letters";
    let offset = query_u64(q.offset.as_deref(), "offset", CTX)?.unwrap_or(0);
    let limit = query_u64(q.limit.as_deref(), "limit", CTX)?.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "{CTX}: 'limit' must be from 1 to 100, got {limit}"
        )));
    }
    Ok(Json(letters_page(&s, offset, limit as usize).await?))
}

/// A page of the dead letters (`limit` from the `offset`-th, oldest first), after taking what
/// waits in the broker's queue into the store.
pub(crate) async fn letters_page(
    s: &AppState,
    offset: u64,
    limit: usize,
) -> ApiResult<DeadLetterPage> {
    let (now, _) = service::now(s).await?;
    keep_waiting(s, now).await?;
    let total = s.store.letters_kept().await?;
    let offset = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(total as usize);
    let page = s.store.kept_letters(offset, limit).await?;
    Ok(DeadLetterPage {
        total,
        dead_letters: page.into_iter().map(|l| view(s, l)).collect(),
    })
}

/// The kept message `id` as the list shows it, or a 404.
pub(crate) async fn letter(s: &AppState, id: &str) -> ApiResult<DeadLetterView> {
    Ok(view(s, kept(s, id).await?))
}

/// The kept message `id`, or a 404.
async fn kept(s: &AppState, id: &str) -> ApiResult<KeptLetter> {
    s.store
        .kept_letter(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no dead letter {id}")))
}

#[utoipa::path(
    post, path = "/admin/deadLetters/{letterId}/replay", tag = "admin",
    operation_id = "replayDeadLetter",
    summary = "Publish a dead letter's runs again",
    description = "Publishes the message's runs to the run queue again (signed anew) and forgets the message. A worker calls each run unless it already has its result, so a run is never called again once finished. A message that is not signed with the cluster secret, or is not runs, cannot be replayed (409): discard it.",
    params(("letterId" = String, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "The runs were published again", body = DeadLetterDone),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such dead letter", body = crate::error::SapError),
        (status = 409, description = "The message cannot be replayed (unsigned, forged or unreadable)", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
        (status = 503, description = "The broker or the store is unavailable", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn replay_dead_letter(
    State(s): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<DeadLetterDone>> {
    Ok(Json(replay(&s, id).await?))
}

/// Publishes the runs of the kept message `id` again and forgets it.
pub(crate) async fn replay(s: &AppState, id: String) -> ApiResult<DeadLetterDone> {
    let letter = kept(s, &id).await?;
    let runs = runs_of(s, &letter).map_err(|why| {
        ApiError::Conflict(format!(
            "dead letter {id} cannot be replayed ({why}); discard it"
        ))
    })?;
    // Published before it is forgotten: a crash in between publishes it again on the next
    // replay, which the run records collapse.
    for r in s.broker.publish_all(&runs, runs.len().max(1)).await {
        r.map_err(|e| ApiError::Unavailable(format!("the broker: {e}")))?;
    }
    s.store.forget_letter(&id).await?;
    tracing::info!(letter = %id, runs = runs.len(), "dead letter replayed");
    Ok(DeadLetterDone {
        id,
        runs: runs.len(),
    })
}

#[utoipa::path(
    delete, path = "/admin/deadLetters/{letterId}", tag = "admin",
    operation_id = "discardDeadLetter",
    summary = "Discard a dead letter, finishing its runs as errors",
    description = "Forgets the message. Each run it carries that has no result yet is finished `COMPLETED/UNKNOWN` with outcome `error` and the message `discarded from the dead-letter queue by the operator` (in its record, its log and its schedule's event log), so every fire still has exactly one record; a run already finished keeps its result. A message that is not runs is only forgotten.",
    params(("letterId" = String, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "The message is discarded; `runs` counts the runs finished by it", body = DeadLetterDone),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such dead letter", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
        (status = 503, description = "The store is unavailable", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn discard_dead_letter(
    State(s): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<DeadLetterDone>> {
    Ok(Json(discard(&s, id).await?))
}

/// Finishes the runs of the kept message `id` as errors (those without a result) and
/// forgets it.
pub(crate) async fn discard(s: &AppState, id: String) -> ApiResult<DeadLetterDone> {
    let letter = kept(s, &id).await?;
    let runs = runs_of(s, &letter).unwrap_or_default();
    let (now, _) = service::now(s).await?;
    let mut finished = 0;
    for m in &runs {
        let done = s
            .store
            .run_complete(m, now, DISCARDED_BY, &discarded(m, now))
            .await?;
        if matches!(done, Completed::Recorded) {
            finished += 1;
        }
    }
    s.store.forget_letter(&id).await?;
    tracing::info!(letter = %id, runs = finished, "dead letter discarded");
    Ok(DeadLetterDone { id, runs: finished })
}

/// The result a discarded run is finished with.
fn discarded(m: &RunMessage, now: i64) -> RunResult {
    RunResult {
        status: RunStatus::Completed,
        state: RunState::Unknown,
        outcome: Some(Outcome::Error),
        http_status: None,
        run_text: DISCARDED.into(),
        body: None,
        error: Some(DISCARDED.into()),
        duration_ms: 0,
        executed_at: now,
        event: Some(format!("Run {} {DISCARDED}", m.run_id)),
        timing: Default::default(),
        failure_reason: None,
    }
}
