//! The operator's operations page (the admin's session): the fleet as
//! `GET /admin/operations` answers it (each shard's leader and epoch, the schedulers, the
//! workers, the queues, each tenant's pace) and the dead letters with their actions: replay
//! (a POST form) and discard (after a confirmation page), done through the same functions as
//! the admin API's routes ([`crate::routes::dead_letters`]).

use crate::error::ApiError;
use crate::routes::{dead_letters, fleet};
use crate::state::AppState;
use crate::ui::job::query;
use crate::ui::layout::{self, when_iso};
use crate::ui::runs::short;
use crate::ui::session::{form_error, CsrfForm, Signed};
use crate::ui::{UiError, UiResult};
use crate::wire::fleet::{DeadLetterPage, DeadLetterView, Operations};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use std::collections::HashMap;

/// Dead letters a page shows.
const LETTERS_PAGE: usize = 20;
/// Tenants the page lists at most (the busiest).
const MOST_TENANTS: usize = 200;
/// The page's path.
const PAGE: &str = "/ui/admin/operations";

/// What the notice above the page says after an action.
fn notice(q: &HashMap<String, String>) -> Option<String> {
    let runs = q.get("runs").map(String::as_str).unwrap_or("0");
    Some(match q.get("done")?.as_str() {
        "replayed" => format!("The dead letter was replayed: {runs} runs published again."),
        "discarded" => format!("The dead letter was discarded: {runs} runs finished as errors."),
        _ => return None,
    })
}

/// `GET /ui/admin/operations?offset=`: the fleet and a page of the dead letters.
pub async fn operations_page(
    State(s): State<AppState>,
    signed: Signed,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> UiResult<Response> {
    signed.require_admin()?;
    let q = query(q)?;
    let offset = match q.get("offset").map(|v| v.trim()) {
        None | Some("") => 0,
        Some(v) => v.parse::<u64>().map_err(|_| {
            UiError::Api(ApiError::BadRequest(format!(
                "'offset' must be a number, got '{v}'"
            )))
        })?,
    };
    let (ops, letters) = tokio::try_join!(
        fleet::operations_view(&s),
        dead_letters::letters_page(&s, offset, LETTERS_PAGE),
    )?;
    let csrf = signed.session.csrf.as_str();
    let body = html! {
        @if let Some(n) = notice(&q) { p.notice role="status" { (n) } }
        p.hint { "As of " (when_iso(&ops.now)) ". Reload the page for a newer view." }
        (fleet_sections(&ops))
        section aria-labelledby="dead-letters" {
            h2 #dead-letters { "Dead letters" }
            (letters_section(&letters, offset, csrf))
        }
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Operations", Some(&signed.nav()), body),
    ))
}

/// A table with a caption-like heading, or a sentence when it has no rows.
fn section(id: &str, title: &str, empty: Option<&str>, table: Markup) -> Markup {
    html! {
        section aria-labelledby=(id) {
            h2 id=(id) { (title) }
            @match empty { Some(e) => p.none { (e) }, None => (table) }
        }
    }
}

/// The shards, schedulers, workers, queues and tenants.
fn fleet_sections(ops: &Operations) -> Markup {
    let none = |empty: bool, text: &'static str| empty.then_some(text);
    html! {
        (section("shards", "Shards", none(ops.shards.is_empty(), "No shard is leased."), html! {
            table { thead { tr { th scope="col" { "Shard" } th scope="col" { "Leader" }
                th.num scope="col" { "Epoch" } th.num scope="col" { "Lease left" } } }
            tbody { @for sh in &ops.shards { tr {
                td { (sh.shard) }
                td { @match &sh.leader { Some(l) => code { (l) }, None => span.badge.bad { "no leader (failover)" } } }
                td.num { (sh.epoch) }
                td.num { @match sh.lease_ttl_ms { Some(ms) => { (ms) " ms" }, None => span.none { "—" } } }
            } } } }
        }))
        (section("schedulers", "Schedulers", none(ops.schedulers.is_empty(), "No scheduler is alive."), html! {
            table { thead { tr { th scope="col" { "Scheduler" } th scope="col" { "Last heartbeat" }
                th.num scope="col" { "Shards led" } } }
            tbody { @for sc in &ops.schedulers { tr {
                td { code { (sc.name) } } td { (when_iso(&sc.last_seen)) } td.num { (sc.shards_led) }
            } } } }
        }))
        (section("workers", "Workers", none(ops.workers.is_empty(), "No worker is alive."), html! {
            table { thead { tr { th scope="col" { "Worker" } th.num scope="col" { "Concurrency" }
                th.num scope="col" { "In flight" } th scope="col" { "Alive until" } } }
            tbody { @for w in &ops.workers { tr {
                td { code { (w.id) } } td.num { (w.concurrency) } td.num { (w.in_flight) }
                td { (when_iso(&w.alive_until)) }
            } } } }
        }))
        (queues(ops))
        (section("tenants", "Tenants", none(ops.tenants.is_empty(), "No tenant."), html! {
            table { thead { tr { th scope="col" { "Tenant" } th scope="col" { "Name" }
                th.num scope="col" { "Runs a minute" } th.num scope="col" { "In flight" } } }
            tbody { @for t in ops.tenants.iter().take(MOST_TENANTS) { tr {
                td { code { (t.tenant_id) } } td { (t.name) }
                td.num { (t.runs_per_minute) } td.num { (t.runs_in_flight) }
            } } } }
            @if ops.tenants.len() > MOST_TENANTS {
                p.hint { "The " (MOST_TENANTS) " busiest of " (ops.tenants.len()) " tenants." }
            }
        }))
    }
}

/// The queues' depths, or why they are not known.
fn queues(ops: &Operations) -> Markup {
    html! {
        section aria-labelledby="queues" {
            h2 #queues { "Queues" }
            @match &ops.queues {
                None => p.error { "The broker cannot be reached: the queues' depths are not known." },
                Some(q) => dl.fields {
                    dt { "Run queue" } dd { (q.runs) " messages waiting" }
                    dt { "Dead-letter queue" } dd { (q.dead_letter) " messages waiting" }
                    dt { "Dead letters kept" } dd { (q.dead_letter_kept) " to replay or discard" }
                },
            }
        }
    }
}

/// The dead letters' table with their actions, and its paging.
fn letters_section(page: &DeadLetterPage, offset: u64, csrf: &str) -> Markup {
    if page.dead_letters.is_empty() {
        return html! { p.none { "No dead letters." } };
    }
    let first = offset + 1;
    let last = offset + page.dead_letters.len() as u64;
    let link = |o: u64| format!("{PAGE}?offset={o}#dead-letters");
    html! {
        p.hint { (first) " to " (last) " of " (page.total) ", oldest first." }
        table.letters {
            thead { tr {
                th scope="col" { "Letter" } th scope="col" { "Kept" } th scope="col" { "Runs" }
                th scope="col" { "Actions" }
            } }
            tbody { @for l in &page.dead_letters { (letter_row(l, csrf)) } }
        }
        nav.pages aria-label="Dead letter pages" {
            @if offset > 0 {
                a rel="prev" href=(link(offset.saturating_sub(LETTERS_PAGE as u64))) { "← Older" }
            }
            @if last < page.total { a rel="next" href=(link(last)) { "Newer →" } }
        }
    }
}

/// A dead letter's runs, or why it cannot be replayed.
fn letter_runs(l: &DeadLetterView) -> Markup {
    html! {
        @if let Some(why) = &l.refused {
            span.badge.bad { "cannot be replayed" } " " (why)
        } @else {
            ul.plain { @for r in &l.runs { li {
                "run " code { (short(&r.run_id)) } " of tenant " code { (r.tenant_id) }
                ", job " (r.job_id) ", schedule " code { (short(&r.schedule_id)) }
                ", for " (when_iso(&r.scheduled_for)) ", attempt " (r.attempt)
                @if r.manual { " " span.badge.pending { "manual" } }
            } } }
        }
    }
}

fn letter_row(l: &DeadLetterView, csrf: &str) -> Markup {
    let base = format!("/ui/admin/dead-letters/{}", l.id);
    html! {
        tr id={ "letter-" (l.id) } {
            td { code { (l.id) } br; span.hint { (l.bytes) " bytes" } }
            td { (when_iso(&l.kept_at)) }
            td { (letter_runs(l)) }
            td { div.actions {
                @if l.refused.is_none() {
                    form.inline method="post" action={ (base) "/replay" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button.run type="submit" aria-label={ "Replay dead letter " (l.id) } { "Replay" }
                    }
                }
                a.delete href={ (base) "/confirm-discard" } aria-label={ "Discard dead letter " (l.id) } { "Discard…" }
            } }
        }
    }
}

/// A letter id as the path names it (24 hex digits; anything longer is no letter).
fn letter_id(id: String) -> UiResult<String> {
    if id.len() > 64 {
        return Err(UiError::Api(ApiError::NotFound(format!(
            "no dead letter {}",
            short(&id)
        ))));
    }
    Ok(id)
}

/// `GET /ui/admin/dead-letters/{id}/confirm-discard`.
pub async fn confirm_discard(
    State(s): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> UiResult<Response> {
    signed.require_admin()?;
    let l = dead_letters::letter(&s, &letter_id(id)?).await?;
    let body = html! {
        p { "Discard the dead letter " code { (l.id) } "? Each run it carries that has no result yet is finished as an error; it cannot be replayed afterwards." }
        (letter_runs(&l))
        (layout::confirm_form(
            &format!("/ui/admin/dead-letters/{}/discard", l.id),
            &signed.session.csrf,
            "Discard the dead letter",
            &format!("{PAGE}#dead-letters"),
        ))
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Discard a dead letter", Some(&signed.nav()), body),
    ))
}

/// `POST /ui/admin/dead-letters/{id}/{action}` (`replay`, `discard`): checks the form, does
/// it as the admin API does, and goes back to the operations page.
pub async fn act(
    State(s): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> UiResult<Response> {
    signed.require_admin()?;
    let Form(form) = form.map_err(form_error)?;
    signed.check_form(&s, &headers, &form.csrf)?;
    let id = letter_id(id)?;
    let (done, what) = match action.as_str() {
        "replay" => (dead_letters::replay(&s, id).await?, "replayed"),
        "discard" => (dead_letters::discard(&s, id).await?, "discarded"),
        _ => {
            return Err(UiError::Api(ApiError::NotFound(
                "There is no such page.".into(),
            )))
        }
    };
    Ok(layout::see_other(format!(
        "{PAGE}?done={what}&runs={}",
        done.runs
    )))
}
