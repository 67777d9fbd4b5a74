//! The jobs list: a page of the tenant's jobs (the store's id index; with `q`, SAP's job
//! search over the tenant's jobs), each with its schedules, its next run, its last outcome,
//! its success rate and a sparkline of its recent runs (one run-log query a job).

use crate::auth::Tenant;
use crate::error::ApiError;
use crate::routes::search::tenant_jobs;
use crate::select::q::Search;
use crate::service::{self, Planned};
use crate::state::AppState;
use crate::ui::job::query;
use crate::ui::layout::{self, outcome_badge, sparkline, when_opt, Spark};
use crate::ui::session::Signed;
use crate::ui::{UiError, UiResult};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chime_core::model::{Job, RunRecord};
use chime_store::{RunQuery, Scope};
use maud::{html, Markup};
use std::collections::HashMap;

/// Jobs a page.
pub const PAGE_SIZE: u64 = 25;
/// Runs a job's sparkline and success rate read.
pub const RECENT_RUNS: u64 = 20;

/// A job of the list with what its row shows.
struct Row {
    job: Job,
    planned: Vec<Planned>,
    /// Its newest runs, newest first.
    recent: Vec<RunRecord>,
}

async fn row(s: &AppState, tenant: &str, job: Job) -> UiResult<Row> {
    let mut q = RunQuery::new(tenant, Scope::Job(job.id));
    q.size = RECENT_RUNS;
    q.count = false;
    let (planned, page) = tokio::try_join!(
        async { Ok::<_, UiError>(service::schedules(s, tenant, job.id).await?) },
        async { Ok::<_, UiError>(s.store.query_runs(&q).await?) },
    )?;
    Ok(Row {
        job,
        planned,
        recent: page.runs.into_iter().map(|(_, r)| r).collect(),
    })
}

/// The page `page` (from 1) of the tenant's jobs matching `q` (all without), and how many
/// match.
async fn select(s: &AppState, tenant: &Tenant, q: &str, page: u64) -> UiResult<(u64, Vec<Job>)> {
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    if q.is_empty() {
        return Ok(s.store.jobs_page(&tenant.id, offset, PAGE_SIZE).await?);
    }
    let search = Search::parse(Some(q)).map_err(|e| UiError::Api(ApiError::BadRequest(e)))?;
    let mut all = tenant_jobs(s, &tenant.id).await?;
    all.retain(|j| search.job(j));
    let total = all.len() as u64;
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    Ok((
        total,
        all.into_iter()
            .skip(skip)
            .take(PAGE_SIZE as usize)
            .collect(),
    ))
}

/// `GET /ui/jobs?q=&page=`.
pub async fn jobs_page(
    State(s): State<AppState>,
    signed: Signed,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> UiResult<Response> {
    let params = query(q)?;
    let tenant = signed.tenant()?;
    tenant.require("read")?;
    let text = params
        .get("q")
        .map(|v| v.trim())
        .unwrap_or_default()
        .to_string();
    if text.len() > 500 {
        return Err(UiError::Api(ApiError::BadRequest(
            "the search is too long".into(),
        )));
    }
    let page = match params.get("page").map(|v| v.trim()) {
        None | Some("") => 1,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or_else(|| {
                UiError::Api(ApiError::BadRequest(format!(
                    "'page' must be a page number, got '{v}'"
                )))
            })?,
    };
    let (total, jobs) = select(&s, tenant, &text, page).await?;
    let rows =
        futures::future::try_join_all(jobs.into_iter().map(|j| row(&s, &tenant.id, j))).await?;
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let link = |p: u64| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if !text.is_empty() {
            q.append_pair("q", &text);
        }
        q.append_pair("page", &p.to_string());
        format!("/ui/jobs?{}", q.finish())
    };
    let deleted = params.get("done").is_some_and(|d| d == "deleted");
    let can_write = tenant.require("write").is_ok();
    let body = html! {
        @if deleted { p.notice role="status" { "The job was deleted." } }
        @if can_write { p { a.new href="/ui/jobs/new" { "New job" } } }
        form.search method="get" action="/ui/jobs" role="search" {
            label { "Search by name" input type="search" name="q" value=(text); }
            button type="submit" { "Search" }
            @if !text.is_empty() { a href="/ui/jobs" { "Clear" } }
        }
        p.hint { (total) " jobs" @if !text.is_empty() { " match" } "." }
        (table(&rows))
        nav.pages aria-label="Job pages" {
            @if page > 1 { a rel="prev" href=(link(page - 1)) { "← Previous" } }
            span { "Page " (page) " of " (pages) }
            @if page < pages { a rel="next" href=(link(page + 1)) { "Next →" } }
        }
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Jobs", Some(&signed.nav()), body),
    ))
}

fn table(rows: &[Row]) -> Markup {
    if rows.is_empty() {
        return html! { p.none { "No jobs." } };
    }
    html! {
        table.jobs {
            thead { tr {
                th scope="col" { "Job" } th scope="col" { "Schedules" }
                th scope="col" { "Next run" } th scope="col" { "Last outcome" }
                th.num scope="col" { "Success" } th scope="col" { "Recent runs" }
            } }
            tbody { @for r in rows { (job_row(r)) } }
        }
    }
}

fn job_row(r: &Row) -> Markup {
    let active = r.planned.iter().filter(|(sc, _)| sc.active).count();
    let next = r.planned.iter().filter_map(|(_, n)| *n).min();
    let finished: Vec<&RunRecord> = r.recent.iter().filter(|x| x.outcome.is_some()).collect();
    let ok = finished
        .iter()
        .filter(|x| x.outcome == Some(chime_core::run::Outcome::Success))
        .count();
    let last = finished.first();
    let outcomes: Vec<Option<String>> = r
        .recent
        .iter()
        .rev()
        .map(|x| x.outcome.map(|o| o.to_string()))
        .collect();
    let spark: Vec<Spark> = r
        .recent
        .iter()
        .rev()
        .zip(&outcomes)
        .map(|(x, o)| Spark {
            outcome: o.as_deref(),
            duration_ms: x.duration_ms,
        })
        .collect();
    html! {
        tr {
            td {
                a href={ "/ui/jobs/" (r.job.id) } { (r.job.name) }
                @if !r.job.active { " " span.badge.inactive { "inactive" } }
            }
            td { (r.planned.len()) " (" (active) " active)" }
            td { (when_opt(next)) }
            td {
                @match last {
                    Some(l) => {
                        (outcome_badge(l.outcome.map(|o| o.to_string()).as_deref(), ""))
                        " " (when_opt(l.completed_at))
                    },
                    None => span.none { "—" },
                }
            }
            td.num {
                @if finished.is_empty() { span.none { "—" } }
                @else { (ok * 100 / finished.len()) "% of " (finished.len()) }
            }
            td { (sparkline(&spark)) }
        }
    }
}
