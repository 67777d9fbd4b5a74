//! A job's page (its schedules with their actions, and its run history with the live tail)
//! and the schedules' actions: run now, activate, deactivate, delete (after a confirmation
//! page); the edit form is [`super::edit`]'s. Each action is a POST form with the session's
//! CSRF token, done through the API's own writes ([`crate::service`]), then back to the
//! job's page (303).

use crate::auth::Tenant;
use crate::error::ApiError;
use crate::lookup::{load_job, load_schedule};
use crate::service::{self, Planned};
use crate::state::AppState;
use crate::ui::chart;
use crate::ui::layout::{self, when_opt};
use crate::ui::runs::{self, Filters, History};
use crate::ui::session::{form_error, CsrfForm, Signed};
use crate::ui::{UiError, UiResult};
use crate::wire::sap::SapJob;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use chime_core::model::{Job, Schedule};
use chime_core::time::format_instant;
use maud::{html, Markup};
use std::collections::HashMap;

/// A query string, or a 400 page.
pub fn query(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> UiResult<HashMap<String, String>> {
    q.map(|Query(q)| q)
        .map_err(|e| UiError::Api(crate::error::ApiError::BadRequest(e.body_text())))
}

/// A reader's page of job `raw`: its query, the session's tenant and the job (a 400 page for
/// a bad query, 403 without `read`, 404 for what is not the tenant's).
pub(crate) async fn readable_job<'a>(
    s: &AppState,
    signed: &'a Signed,
    raw: &str,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> UiResult<(HashMap<String, String>, &'a Tenant, Job)> {
    let q = query(q)?;
    let tenant = signed.tenant()?;
    tenant.require("read")?;
    let job = load_job(s, tenant, raw).await?;
    Ok((q, tenant, job))
}

/// What the notice above a job's page says after an action.
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "run" => "A run was requested: it appears in the history when it starts.",
        "activated" => "The schedule is active.",
        "deactivated" => "The schedule is inactive.",
        "deleted" => "The schedule was deleted.",
        "saved" => "The schedule was saved.",
        "created" => "The job was created.",
        "job-saved" => "The job was saved.",
        "added" => "The schedule was added.",
        _ => return None,
    })
}

/// `GET /ui/jobs/{job}`: the job, its schedules and its run history.
pub async fn job_page(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> UiResult<Response> {
    let (q, tenant, job) = readable_job(&s, &signed, &raw, q).await?;
    let filters = Filters::of(&q)?;
    let window = chart::Window::of(q.get("window").map(String::as_str))?;
    let (planned, history) = tokio::try_join!(
        async { Ok::<_, UiError>(service::schedules(&s, &tenant.id, job.id).await?) },
        runs::history(&s, &tenant.id, job.id, &filters),
    )?;
    let can_write = tenant.require("write").is_ok();
    let csrf = signed.session.csrf.as_str();
    let body = html! {
        @if let Some(n) = notice(q.get("done").map(String::as_str)) {
            p.notice role="status" { (n) }
        }
        (summary(&job))
        @if can_write {
            div.actions {
                a href={ "/ui/jobs/" (job.id) "/edit" } { "Edit the job" }
                a.delete href={ "/ui/jobs/" (job.id) "/confirm-delete" } { "Delete the job…" }
            }
        }
        section aria-labelledby="schedules" {
            h2 #schedules { "Schedules" }
            (schedules(&job, &planned, can_write.then_some(csrf)))
            @if can_write {
                p { a href={ "/ui/jobs/" (job.id) "/schedules/new" } { "Add a schedule" } }
            }
        }
        (chart::placeholder(job.id, window))
        section aria-labelledby="history" {
            h2 #history { "Run history" }
            (history_section(&job, &filters, &history))
        }
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page(&job.name, Some(&signed.nav()), body),
    ))
}

/// The job's own fields.
fn summary(job: &Job) -> Markup {
    let view = SapJob::new(job, None);
    html! {
        dl.fields {
            dt { "Id" } dd { (job.id) }
            @if !job.description.is_empty() { dt { "Description" } dd { (job.description) } }
            dt { "Action" } dd { code { (view.http_method) " " (view.action) } }
            dt { "Active" } dd { @if job.active { "yes" } @else { span.badge.inactive { "inactive" } } }
            dt { "Timeout" } dd { (job.timeout_ms) " ms" }
        }
    }
}

/// A schedule's timing, as its mode says it.
pub fn timing(sc: &Schedule) -> String {
    let zone = sc
        .time_zone
        .as_deref()
        .map(|z| format!(" ({z})"))
        .unwrap_or_default();
    let mode = mode_of(sc).map(|(field, v)| {
        let name = match field {
            "repeatInterval" => "every",
            "repeatAt" => "at",
            "time" => "once at",
            other => other,
        };
        format!("{name} {v}")
    });
    format!("{}{zone}", mode.unwrap_or_else(|| sc.kind.to_string()))
}

/// The schedule's timing field, by its SAP name, and its value (a schedule has one).
pub(crate) fn mode_of(sc: &Schedule) -> Option<(&'static str, &str)> {
    [
        ("cron", &sc.cron),
        ("crontab", &sc.crontab),
        ("repeatInterval", &sc.repeat_interval),
        ("repeatAt", &sc.repeat_at),
        ("time", &sc.time),
    ]
    .into_iter()
    .find_map(|(name, v)| v.as_deref().map(|v| (name, v)))
}

/// The schedules' table; `csrf` is the session's token when the key may write (the actions'
/// forms), none when it may only read.
fn schedules(job: &Job, planned: &[Planned], csrf: Option<&str>) -> Markup {
    if planned.is_empty() {
        return html! { p.none { "This job has no schedules." } };
    }
    html! {
        table.schedules {
            thead { tr {
                th scope="col" { "Schedule" } th scope="col" { "Timing" }
                th scope="col" { "State" } th scope="col" { "Next run" }
                @if csrf.is_some() { th scope="col" { "Actions" } }
            } }
            tbody {
                @for (sc, next) in planned {
                    tr id={ "schedule-" (sc.schedule_id) } {
                        td {
                            @if !sc.description.is_empty() { (sc.description) br; }
                            code.hint { (sc.schedule_id) } br;
                            a href={ "/ui/jobs/" (job.id) "/schedules/" (sc.schedule_id) "/fires" }
                                aria-label={ "Fires of schedule " (sc.schedule_id) } { "Fires" }
                        }
                        td { (timing(sc)) }
                        td { @if sc.active { span.badge.ok { "active" } } @else { span.badge.inactive { "inactive" } } }
                        td { (when_opt(*next)) }
                        @if let Some(csrf) = csrf { td { (actions(job, sc, csrf)) } }
                    }
                }
            }
        }
    }
}

/// A schedule's action buttons: each a POST form (delete: a link to its confirmation).
fn actions(job: &Job, sc: &Schedule, csrf: &str) -> Markup {
    let base = format!("/ui/jobs/{}/schedules/{}", job.id, sc.schedule_id);
    let what = if sc.description.is_empty() {
        sc.schedule_id.as_str()
    } else {
        sc.description.as_str()
    };
    let button = |path: &str, label: &str, class: &str| {
        html! {
            form.inline method="post" action={ (base) "/" (path) } {
                input type="hidden" name="csrf" value=(csrf);
                button.(class) type="submit" aria-label={ (label) ": " (what) } { (label) }
            }
        }
    };
    html! {
        div.actions {
            (button("run", "Run now", "run"))
            @if sc.active { (button("deactivate", "Deactivate", "deactivate")) }
            @else { (button("activate", "Activate", "activate")) }
            a.edit href={ (base) "/edit" } aria-label={ "Edit: " (what) } { "Edit" }
            a.delete href={ (base) "/confirm-delete" } aria-label={ "Delete: " (what) } { "Delete…" }
        }
    }
}

/// The history's filters, its table (live on its newest page) and its paging.
fn history_section(job: &Job, f: &Filters, h: &History) -> Markup {
    let base = format!("/ui/jobs/{}", job.id);
    let live = f.newest_unfiltered().then(|| format!("{base}/live"));
    let rows = html! {
        @for r in &h.rows { (runs::row(r)) }
        @if h.rows.is_empty() { (no_runs()) }
    };
    // With htmx, the filters and the page links fetch the page and swap this part only; on
    // the newest page, the table's body follows the live tail (event `run`: a row on top, or
    // in place of the run's row: `ui.js`), and closes it when the server says it fell behind.
    html! {
        div #runs-view hx-target="#runs-view" hx-select="#runs-view" hx-swap="outerHTML" {
            form.filters method="get" action={ (base) "#history" } hx-boost="true" {
                label { "Outcome"
                    select name="status" {
                        option value="" selected[f.status.is_empty()] { "any" }
                        @for o in chime_store::OUTCOMES {
                            option value=(o) selected[f.status == o] { (o) }
                        }
                    }
                }
                label { "From (UTC)" input type="datetime-local" name="from" value=(f.from); }
                label { "To (UTC)" input type="datetime-local" name="to" value=(f.to); }
                @if f.size != runs::PAGE_SIZE { input type="hidden" name="size" value=(f.size); }
                button type="submit" { "Filter" }
            }
            @if let Some(total) = h.total { p.hint { (total) " runs in all." } }
            p #live-status role="status" aria-live="polite" {}
            table.runs data-live=[live.as_ref()] {
                (runs::head())
                @if let Some(live) = &live {
                    tbody hx-ext="sse" sse-connect=(live) sse-swap="run" sse-close="lagged"
                        hx-target="this" hx-swap="afterbegin" { (rows) }
                } @else {
                    tbody { (rows) }
                }
            }
            nav.pages aria-label="Run history pages" hx-boost="true" {
                @if let Some(newer) = &h.newer {
                    a rel="prev" href=(f.link(&base, Some(("before", newer)))) { "← Newer runs" }
                    a href=(f.link(&base, None)) { "Newest" }
                }
                @if let Some(older) = &h.older {
                    a rel="next" href=(f.link(&base, Some(("after", older)))) { "Older runs →" }
                }
            }
        }
    }
}

/// The row of an empty history.
fn no_runs() -> Markup {
    html! { tr #no-runs { td colspan="7" .none { "No runs yet." } } }
}

/// A schedule action.
#[derive(Clone, Copy)]
enum Action {
    Run,
    Activate(bool),
    Delete,
}

/// `POST /ui/jobs/{job}/schedules/{sid}/{action}` (`run`, `activate`, `deactivate`,
/// `delete`): checks the form, does the action through the API's writes and goes back to the
/// job's page.
pub async fn act(
    State(s): State<AppState>,
    signed: Signed,
    Path((raw, sid, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> UiResult<Response> {
    let Form(form) = form.map_err(form_error)?;
    signed.check_form(&s, &headers, &form.csrf)?;
    let action = match action.as_str() {
        "run" => Action::Run,
        "activate" => Action::Activate(true),
        "deactivate" => Action::Activate(false),
        "delete" => Action::Delete,
        _ => {
            return Err(UiError::Api(ApiError::NotFound(
                "There is no such page.".into(),
            )))
        }
    };
    let (tenant, job) = writable_job(&s, &signed, &raw).await?;
    let sc = load_schedule(&s, tenant, &job, &sid).await?;
    let (ms, _) = service::now(&s).await?;
    let done = match action {
        Action::Run => {
            service::run_now(&s, tenant, &job, &sid, ms).await?;
            "run"
        }
        Action::Activate(on) => {
            let mut sc = sc;
            sc.active = on;
            sc.modified_at = format_instant(ms);
            service::update_schedule(&s, tenant, &job, sc, &["active"], ms).await?;
            if on {
                "activated"
            } else {
                "deactivated"
            }
        }
        Action::Delete => {
            service::delete_schedule(&s, tenant, &job, &sid).await?;
            "deleted"
        }
    };
    Ok(layout::see_other(format!(
        "/ui/jobs/{}?done={done}",
        job.id
    )))
}

/// The session's tenant, allowed to write (403 without `write`).
pub(crate) fn writer(signed: &Signed) -> UiResult<&Tenant> {
    let tenant = signed.tenant()?;
    tenant.require("write")?;
    Ok(tenant)
}

/// The session's tenant and its job `raw`, for a page that changes it: 403 without `write`,
/// 404 for what is not the tenant's.
pub(crate) async fn writable_job<'a>(
    s: &AppState,
    signed: &'a Signed,
    raw: &str,
) -> UiResult<(&'a Tenant, Job)> {
    let tenant = writer(signed)?;
    let job = load_job(s, tenant, raw).await?;
    Ok((tenant, job))
}

/// The session's job `raw` and its schedule `sid`, for a page that changes it: 403 without
/// `write`, 404 for what is not the tenant's.
pub(crate) async fn writable_schedule(
    s: &AppState,
    signed: &Signed,
    raw: &str,
    sid: &str,
) -> UiResult<(Job, Schedule)> {
    let (tenant, job) = writable_job(s, signed, raw).await?;
    let sc = load_schedule(s, tenant, &job, sid).await?;
    Ok((job, sc))
}

/// `GET /ui/jobs/{job}/schedules/{sid}/confirm-delete`: the confirmation of a schedule's
/// deletion.
pub async fn confirm_delete(
    State(s): State<AppState>,
    signed: Signed,
    Path((raw, sid)): Path<(String, String)>,
) -> UiResult<Response> {
    let (job, sc) = writable_schedule(&s, &signed, &raw, &sid).await?;
    let body = html! {
        p {
            "Delete the schedule " code { (sc.schedule_id) } " (" (timing(&sc)) ") of "
            a href={ "/ui/jobs/" (job.id) } { (job.name) } "? It cannot be restored."
        }
        (layout::confirm_form(
            &format!("/ui/jobs/{}/schedules/{}/delete", job.id, sc.schedule_id),
            &signed.session.csrf,
            "Delete the schedule",
            &format!("/ui/jobs/{}", job.id),
        ))
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Delete a schedule", Some(&signed.nav()), body),
    ))
}
