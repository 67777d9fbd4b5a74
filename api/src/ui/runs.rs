//! Runs on the dashboard: the run history of a job (the run-log query engine's pages, with
//! filters by outcome and time and cursor paging in both directions), its rows (also sent
//! by the live tail), a run's page, and the live tail (`GET /ui/jobs/{job}/live`, the API's
//! live tail with the session's key, each run sent as its row).

use crate::error::ApiError;
use crate::extras::live;
use crate::hub::TailEvent;
use crate::lookup::load_job;
use crate::query::parse_iso;
use crate::state::AppState;
use crate::ui::layout::{self, outcome_badge, when_iso};
use crate::ui::session::Signed;
use crate::ui::{UiError, UiResult};
use crate::wire::sap::RunDetail;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chime_core::model::RunRecord;
use chime_core::time::format_instant;
use chime_store::{Order, RunQuery, Scope, StoreError, OUTCOMES};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;

/// Runs a page of the history shows unless `size` says otherwise (1 to 200).
pub const PAGE_SIZE: u64 = 50;

/// A run as a row of the history: from its record, or from a live tail's event (the API's run
/// detail, as JSON).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRow {
    pub run_id: String,
    pub job_id: u64,
    pub schedule_id: String,
    pub run_number: u64,
    pub run_state: String,
    pub outcome: Option<String>,
    pub http_status: Option<u16>,
    pub schedule_timestamp: String,
    pub execution_timestamp: Option<String>,
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub manual: bool,
}

impl From<&RunRecord> for RunRow {
    fn from(r: &RunRecord) -> Self {
        RunRow {
            run_id: r.run_id.clone(),
            job_id: r.job_id,
            schedule_id: r.schedule_id.clone(),
            run_number: r.number,
            run_state: r.state.to_string(),
            outcome: r.outcome.map(|o| o.to_string()),
            http_status: r.http_status,
            schedule_timestamp: format_instant(r.scheduled_at),
            execution_timestamp: r.executed_at.map(format_instant),
            duration_ms: r.duration_ms,
            manual: r.manual,
        }
    }
}

/// The history table's head.
pub fn head() -> Markup {
    html! {
        thead {
            tr {
                th scope="col" { "Run" }
                th scope="col" { "Schedule" }
                th scope="col" { "Outcome" }
                th.num scope="col" { "HTTP" }
                th scope="col" { "Scheduled for" }
                th scope="col" { "Executed" }
                th.num scope="col" { "Duration" }
            }
        }
    }
}

/// A run's row (its id is `run-<runId>`: the live tail replaces it when the run finishes).
pub fn row(r: &RunRow) -> Markup {
    let href = run_href(r.job_id, &r.schedule_id, &r.run_id);
    html! {
        tr id={ "run-" (r.run_id) } {
            td {
                a href=(href) aria-label={ "Run " (r.run_number) } { "#" (r.run_number) }
                @if r.manual { " " span.badge.pending { "manual" } }
            }
            td { code { (short(&r.schedule_id)) } }
            td { (outcome_badge(r.outcome.as_deref(), &r.run_state)) }
            td.num { @match r.http_status { Some(h) => (h), None => span.none { "—" } } }
            td { (when_iso(&r.schedule_timestamp)) }
            td { @match &r.execution_timestamp { Some(e) => (when_iso(e)), None => span.none { "—" } } }
            td.num { @match r.duration_ms { Some(d) => { (d) " ms" }, None => span.none { "—" } } }
        }
    }
}

/// The first eight characters of an id.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The page of a run.
pub fn run_href(job: u64, schedule: &str, run: &str) -> String {
    format!("/ui/jobs/{job}/schedules/{schedule}/runs/{run}")
}

/// The history's parameters: `status` (an outcome), `from` and `to` (ISO 8601 or a form's
/// local date-time, taken as UTC), `size`, and a cursor: `after` (older than that run) or
/// `before` (newer).
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub status: String,
    pub from: String,
    pub to: String,
    pub size: u64,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// A form's date-time (`2026-01-02T03:04`, no zone: UTC) or ISO 8601, in ms.
pub fn instant(v: &str, name: &str) -> UiResult<Option<i64>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    parse_iso(v)
        .or_else(|| {
            ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .find_map(|f| {
                    chrono::NaiveDateTime::parse_from_str(v, f)
                        .ok()
                        .map(|d| d.and_utc().timestamp_millis())
                })
        })
        .map(Some)
        .ok_or_else(|| bad(format!("'{name}' must be a date and time, got '{v}'")))
}

fn bad(message: String) -> UiError {
    UiError::Api(ApiError::BadRequest(message))
}

impl Filters {
    /// The filters of a query string.
    pub fn of(q: &HashMap<String, String>) -> UiResult<Filters> {
        let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let status = get("status");
        if !status.is_empty() && !OUTCOMES.contains(&status.as_str()) {
            return Err(bad(format!("unknown status '{status}'")));
        }
        let size = match get("size").as_str() {
            "" => PAGE_SIZE,
            v => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| bad(format!("'size' must be from 1 to 200, got '{v}'")))?,
        };
        let cursor = |k: &str| {
            let v = get(k);
            (!v.is_empty()).then_some(v)
        };
        let f = Filters {
            status,
            from: get("from"),
            to: get("to"),
            size,
            after: cursor("after"),
            before: cursor("before"),
        };
        instant(&f.from, "from")?;
        instant(&f.to, "to")?;
        Ok(f)
    }

    /// Whether the page is the newest of the whole history (the live tail adds to it).
    pub fn newest_unfiltered(&self) -> bool {
        self.status.is_empty()
            && self.from.is_empty()
            && self.to.is_empty()
            && self.after.is_none()
            && self.before.is_none()
    }

    /// The query string of these filters with `cursor` (a name and a run id).
    pub fn link(&self, base: &str, cursor: Option<(&str, &str)>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        if self.size != PAGE_SIZE {
            q.append_pair("size", &self.size.to_string());
        }
        if let Some((k, v)) = cursor {
            q.append_pair(k, v);
        }
        let q = q.finish();
        if q.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{q}#history")
        }
    }
}

/// A page of the history: its runs, newest first, and the cursors of the pages beside it.
pub struct History {
    pub rows: Vec<RunRow>,
    /// The run older pages start after, and the one newer pages start before.
    pub older: Option<String>,
    pub newer: Option<String>,
    /// Every run of the history, when it is not filtered.
    pub total: Option<u64>,
}

/// The page `f` selects of `job`'s runs.
pub async fn history(s: &AppState, tenant: &str, job: u64, f: &Filters) -> UiResult<History> {
    let mut q = RunQuery::new(tenant, Scope::Job(job));
    q.size = f.size;
    q.outcomes = if f.status.is_empty() {
        vec![]
    } else {
        vec![f.status.clone()]
    };
    q.from_ms = instant(&f.from, "from")?;
    q.to_ms = instant(&f.to, "to")?;
    q.count = q.outcomes.is_empty() && q.from_ms.is_none() && q.to_ms.is_none();
    let backwards = f.before.is_some() && f.after.is_none();
    if backwards {
        q.after = f.before.clone();
        q.order = Order::OldestFirst;
    } else {
        q.after = f.after.clone();
    }
    let page = s.store.query_runs(&q).await.map_err(|e| match e {
        StoreError::UnknownCursor => bad("the page's cursor names no run of this job".into()),
        e => e.into(),
    })?;
    let mut rows: Vec<RunRow> = page.runs.iter().map(|(_, r)| RunRow::from(r)).collect();
    if backwards {
        rows.reverse();
    }
    let (more_older, more_newer) = if backwards {
        (!rows.is_empty(), page.has_more)
    } else {
        (page.has_more, !rows.is_empty() && q.after.is_some())
    };
    Ok(History {
        older: rows.last().filter(|_| more_older).map(|r| r.run_id.clone()),
        newer: rows
            .first()
            .filter(|_| more_newer)
            .map(|r| r.run_id.clone()),
        total: if q.count && q.after.is_none() {
            page.total
        } else {
            None
        },
        rows,
    })
}

/// `GET /ui/jobs/{job}/schedules/{sid}/runs/{run}`: one run.
pub async fn run_page(
    State(s): State<AppState>,
    signed: Signed,
    Path((raw, sid, run)): Path<(String, String, String)>,
) -> UiResult<Response> {
    let tenant = signed.tenant()?;
    tenant.require("read")?;
    let job = load_job(&s, tenant, &raw).await?;
    let not_found = || UiError::Api(ApiError::NotFound(format!("run {run} does not exist")));
    if run.len() > 64 {
        return Err(not_found());
    }
    let rec = s
        .store
        .run(&tenant.id, &run)
        .await?
        .filter(|r| r.job_id == job.id && r.schedule_id == sid)
        .ok_or_else(not_found)?;
    let deadline = match s
        .store
        .async_acknowledged_at(&tenant.id, (job.id, &sid, &run))
        .await?
    {
        Some(at) => {
            let secs = s.store.tenant_async_timeout(&tenant.id).await?;
            Some((
                at,
                at + i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            ))
        }
        None => None,
    };
    let body = crate::ui::run::run_body(&job, &rec, &RunDetail::from(&rec), deadline);
    let title = format!("Run #{} of {}", rec.number, job.name);
    Ok(layout::respond(
        StatusCode::OK,
        layout::page(&title, Some(&signed.nav()), body),
    ))
}

/// `GET /ui/jobs/{job}/live`: Server-Sent Events, each run of the job as its row when its
/// result is recorded (event `run`), under the caps of live tails of the session's key.
pub async fn live(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> UiResult<Response> {
    let tenant = signed.tenant()?;
    tenant.require("read")?;
    let slot = s.tails.acquire(&tenant.id, &tenant.key_id)?;
    let job = load_job(&s, tenant, &raw).await?;
    let subscription = s.tails.subscribe(&tenant.id, job.id).await?;
    Ok(Sse::new(live::events(subscription, slot, row_event))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A tail's run as its row.
fn row_event(run: &TailEvent) -> Event {
    match serde_json::from_str::<RunRow>(&run.data) {
        Ok(r) => Event::default()
            .event("run")
            .id(run.run_id.as_str())
            .data(row(&r).into_string()),
        Err(e) => {
            tracing::warn!(error = %e, run_id = %run.run_id, "a live run could not be read");
            Event::default().comment("a run could not be read")
        }
    }
}
