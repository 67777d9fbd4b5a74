//! Every fire accounted for: each nominal instant of a schedule in a window with its fate,
//! derived from the schedule's plan, its runs (a scheduled run's id is a function of its
//! instant) and the spans its event log records as not fired. Nothing is stored per instant.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::lookup::{load_job, load_schedule};
use crate::query::{offset_links, query_u64, QueryOf};
use crate::service;
use crate::state::AppState;
use crate::wire::params::FiresQuery;
use crate::wire::sap::{FireEntry, FireList};
use axum::extract::{Path, State};
use axum::Json;
use chime_core::model::{run_id, Job, RunRecord, Schedule};
use chime_core::schedule::Plan;
use chime_core::time::{format_instant, parse_stored_instant};
use chime_store::{RunQuery, ScheduleMarks, Scope};
use futures::future::join_all;

/// Most instants one window may hold.
const MAX_INSTANTS: usize = 100_000;
/// Most entries on a page.
const MAX_PAGE: u64 = 1_000;
/// An instant this recent (or still ahead) with no run yet is on its way.
const PENDING_MS: i64 = 5_000;
/// A run created later than this after its instant was deferred.
const DEFERRED_MS: i64 = 1_000;

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}/fires", tag = "sap",
    operation_id = "listFires",
    summary = "Every nominal instant of a schedule in a window, with its fate",
    description = "Each instant of the schedule between `from` and `to` (default: the last hour), \
        newest first: `fired` (with its `runId`), `deferred` (fired late, held by a quota, \
        backpressure or a leader change; `firedAt` says when), `skipped` with a `reason` \
        (`misfire`, `inactive`, `outsideWindow`, `deleted`, `overlap`), or `pending` (not due \
        yet, or due moments ago). Derived from the run log and the schedule's event log.",
    params(("jobId" = String, Path, description = "The job id"),
        ("scheduleId" = String, Path, description = "The schedule id"), FiresQuery),
    responses(
        (status = 200, description = "A page of instants", body = FireList),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn list_fires(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
    QueryOf(q): QueryOf<FiresQuery>,
) -> ApiResult<Json<FireList>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let sc = load_schedule(&s, &tenant, &job, &sid).await?;
    Ok(Json(fires_of(&s, &tenant.id, &job, &sc, &q).await?))
}

/// The fires of `tenant`'s schedule `sc` of `job` that `q` selects, as
/// `GET …/schedules/{scheduleId}/fires` answers them.
pub(crate) async fn fires_of(
    s: &AppState,
    tenant: &str,
    job: &Job,
    sc: &Schedule,
    q: &FiresQuery,
) -> ApiResult<FireList> {
    let sid = sc.schedule_id.as_str();
    let ctx = "Error while fetching fires";
    let (now, _) = service::now(s).await?;
    let to = instant_param(q.to.as_deref(), "to", ctx)?.unwrap_or(now);
    let from = instant_param(q.from.as_deref(), "from", ctx)?.unwrap_or(to - 3_600_000);
    if from > to {
        return Err(ApiError::BadRequest(format!("{ctx}: 'from' is after 'to'")));
    }
    let size = query_u64(q.page_size.as_deref(), "page_size", ctx)?.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&size) {
        return Err(ApiError::BadRequest(format!(
            "{ctx}: 'page_size' must be from 1 to {MAX_PAGE}"
        )));
    }
    let offset = query_u64(q.offset.as_deref(), "offset", ctx)?.unwrap_or(0);
    let mut plan = Plan::from_schedule(sc)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored schedule unreadable: {e}")))?;
    // The whole grid: instants outside the schedule's or the job's window are accounted too.
    plan.start = None;
    plan.end = None;
    let created = parse_stored_instant(&sc.created_at).unwrap_or(from);
    let anchor = service::next_run(s, tenant, job.id, sid).await?;
    let (all, more) = plan.instants(from.max(created), to, anchor, MAX_INSTANTS);
    if more {
        return Err(ApiError::BadRequest(format!(
            "{ctx}: the window holds more than {MAX_INSTANTS} instants; narrow 'from' and 'to'"
        )));
    }
    let manual = manual_runs(s, tenant, sid, from, to).await?;
    // Nominal instants and manual runs together, newest first.
    let mut slots: Vec<(i64, Option<&RunRecord>)> = all.iter().map(|at| (*at, None)).collect();
    slots.extend(manual.iter().map(|r| (r.scheduled_at, Some(r))));
    slots.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let page: Vec<(i64, Option<&RunRecord>)> = slots
        .iter()
        .copied()
        .skip(offset as usize)
        .take(size as usize)
        .collect();
    let nominal: Vec<i64> = page
        .iter()
        .filter(|(_, m)| m.is_none())
        .map(|(at, _)| *at)
        .collect();
    let ids: Vec<String> = nominal.iter().map(|at| run_id(sid, *at)).collect();
    let mut runs = join_all(ids.iter().map(|id| s.store.run(tenant, id)))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    let marks = s.store.schedule_marks(tenant, sid).await?;
    let facts = Facts {
        job,
        schedule: sc,
        marks: &marks,
        now,
        retained_from: now - s.settings.run_retention_days as i64 * 86_400_000,
    };
    let results = page
        .iter()
        .map(|(at, m)| match m {
            Some(r) => FireEntry {
                scheduled_for: format_instant(*at),
                fate: "manual",
                run_id: Some(r.run_id.clone()),
                reason: None,
                fired_at: Some(format_instant(r.created_at)),
            },
            None => facts.fate(*at, runs.next().flatten().as_ref()),
        })
        .collect();
    let total = slots.len() as u64;
    let base = format!("/scheduler/jobs/{}/schedules/{sid}/fires", job.id);
    let (next_url, prev_url) = offset_links(&base, offset, size, total);
    Ok(FireList {
        from: format_instant(from),
        to: format_instant(to),
        total,
        results,
        next_url,
        prev_url,
    })
}

/// Most manual runs one window lists.
const MAX_MANUAL: u64 = 1_000;

/// The manual runs of a schedule requested within `[from, to]`, at most [`MAX_MANUAL`] (read
/// from its run log: a run that finished before `from` was requested before it).
async fn manual_runs(
    s: &AppState,
    tenant: &str,
    sid: &str,
    from: i64,
    to: i64,
) -> ApiResult<Vec<RunRecord>> {
    let mut q = RunQuery::new(tenant, Scope::Schedule(sid.to_string()));
    q.from_ms = Some(from);
    q.size = MAX_MANUAL;
    q.count = false;
    let page = s.store.query_runs(&q).await?;
    Ok(page
        .runs
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.manual && (from..=to).contains(&r.scheduled_at))
        .collect())
}

/// An ISO-8601 instant parameter.
fn instant_param(v: Option<&str>, field: &str, ctx: &str) -> ApiResult<Option<i64>> {
    v.map(|v| {
        parse_stored_instant(v.trim()).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{ctx}: '{field}' must be an ISO-8601 instant with an offset (2026-01-01T09:00:00Z), got '{v}'"
            ))
        })
    })
    .transpose()
}

/// What decides an instant's fate besides its run.
struct Facts<'a> {
    job: &'a Job,
    schedule: &'a Schedule,
    marks: &'a ScheduleMarks,
    now: i64,
    /// Runs before this instant are past the retention age.
    retained_from: i64,
}

impl Facts<'_> {
    fn outside_window(&self, at: i64) -> bool {
        let bound = |v: &Option<String>| v.as_deref().and_then(parse_stored_instant);
        let before = |start: Option<i64>| start.is_some_and(|s| at < s);
        let after = |end: Option<i64>| end.is_some_and(|e| at > e);
        before(bound(&self.schedule.start_time))
            || before(bound(&self.job.start_time))
            || after(bound(&self.schedule.end_time))
            || after(bound(&self.job.end_time))
    }

    fn fate(&self, at: i64, run: Option<&RunRecord>) -> FireEntry {
        let mut e = FireEntry {
            scheduled_for: format_instant(at),
            fate: "skipped",
            run_id: None,
            reason: None,
            fired_at: None,
        };
        if let Some(r) = run {
            e.run_id = Some(r.run_id.clone());
            e.fired_at = Some(format_instant(r.created_at));
            e.fate = if r.created_at - at > DEFERRED_MS {
                "deferred"
            } else {
                "fired"
            };
            return e;
        }
        e.reason = Some(
            if let Some(span) = self
                .marks
                .skips
                .iter()
                .find(|sp| (sp.first..=sp.last).contains(&at))
            {
                span.reason
            } else if self.outside_window(at) {
                "outsideWindow"
            } else if !self
                .marks
                .firing_at(at)
                .unwrap_or(self.job.active && self.schedule.active)
            {
                "inactive"
            } else if at < self.retained_from {
                "deleted"
            } else if self.now - at <= PENDING_MS {
                e.fate = "pending";
                return e;
            } else {
                "misfire"
            },
        );
        e
    }
}
