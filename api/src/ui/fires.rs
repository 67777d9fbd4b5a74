//! A schedule's fires: each nominal instant of a window and its fate ("why didn't it run at
//! T?"), as `GET …/schedules/{scheduleId}/fires` derives them
//! ([`crate::routes::fires::fires_of`]), 100 a page, newest first.

use crate::lookup::load_schedule;
use crate::routes::fires::fires_of;
use crate::state::AppState;
use crate::ui::job::{readable_job, timing};
use crate::ui::layout::{self, when_iso};
use crate::ui::runs::{instant, run_href};
use crate::ui::session::Signed;
use crate::ui::UiResult;
use crate::wire::params::FiresQuery;
use crate::wire::sap::{FireEntry, FireList};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chime_core::time::format_instant;
use maud::{html, Markup};
use std::collections::HashMap;

/// Instants a page shows.
const PAGE_SIZE: u64 = 100;

/// What a skipped instant's reason means.
fn why(reason: &str) -> &'static str {
    match reason {
        "misfire" => "due, but not fired in time (no leader, or later than the misfire threshold)",
        "inactive" => "the job or the schedule was inactive",
        "outsideWindow" => "outside the schedule's or the job's start and end",
        "deleted" => "older than the run retention: its run is gone",
        "overlap" => "the previous run was still going (the overlap rule)",
        _ => "",
    }
}

/// A fate as a badge.
fn fate(f: &str) -> Markup {
    let class = match f {
        "fired" => "ok",
        "skipped" => "bad",
        _ => "pending",
    };
    html! { span class={ "badge " (class) } { (f) } }
}

/// An ISO instant as a form's date-time (UTC, to the minute).
fn local(iso: &str) -> &str {
    iso.get(..16).unwrap_or(iso)
}

/// `GET /ui/jobs/{job}/schedules/{sid}/fires?from=&to=&offset=`.
pub async fn fires_page(
    State(s): State<AppState>,
    signed: Signed,
    Path((raw, sid)): Path<(String, String)>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> UiResult<Response> {
    let (q, tenant, job) = readable_job(&s, &signed, &raw, q).await?;
    let sc = load_schedule(&s, tenant, &job, &sid).await?;
    let iso = |name: &str| -> UiResult<Option<String>> {
        let v = q.get(name).map(String::as_str).unwrap_or_default();
        Ok(instant(v, name)?.map(format_instant))
    };
    let fq = FiresQuery {
        from: iso("from")?,
        to: iso("to")?,
        page_size: Some(PAGE_SIZE.to_string()),
        offset: q.get("offset").cloned(),
    };
    let list = fires_of(&s, &tenant.id, &job, &sc, &fq).await?;
    let offset: u64 = fq.offset.as_deref().unwrap_or("0").parse().unwrap_or(0);
    let base = format!("/ui/jobs/{}/schedules/{}/fires", job.id, sc.schedule_id);
    let body = html! {
        p {
            "Every instant of the schedule " code { (sc.schedule_id) } " (" (timing(&sc)) ") of "
            a href={ "/ui/jobs/" (job.id) } { (job.name) } " in the window, newest first, and what became of it."
        }
        form.filters method="get" action=(base) {
            label { "From (UTC)" input type="datetime-local" name="from" value=(local(&list.from)); }
            label { "To (UTC)" input type="datetime-local" name="to" value=(local(&list.to)); }
            button type="submit" { "Show" }
        }
        p.hint { (list.total) " instants from " (when_iso(&list.from)) " to " (when_iso(&list.to)) "." }
        (table(&list, job.id, &sc.schedule_id))
        (pages(&list, &base, offset))
    };
    let title = format!("Fires of {}", job.name);
    Ok(layout::respond(
        StatusCode::OK,
        layout::page(&title, Some(&signed.nav()), body),
    ))
}

fn table(list: &FireList, job: u64, sid: &str) -> Markup {
    if list.results.is_empty() {
        return html! { p.none { "No instant of the schedule falls in this window." } };
    }
    html! {
        table.fires {
            thead { tr {
                th scope="col" { "Scheduled for" } th scope="col" { "Fate" } th scope="col" { "Why" }
                th scope="col" { "Run" } th scope="col" { "Fired at" }
            } }
            tbody { @for e in &list.results { (row(e, job, sid)) } }
        }
    }
}

fn row(e: &FireEntry, job: u64, sid: &str) -> Markup {
    html! {
        tr {
            td { (when_iso(&e.scheduled_for)) }
            td { (fate(e.fate)) }
            td { @match e.reason {
                Some(r) => { code { (r) } ": " (why(r)) },
                None => span.none { "—" },
            } }
            td { @match &e.run_id {
                Some(id) => a href=(run_href(job, sid, id)) { code { (id.get(..8).unwrap_or(id)) } },
                None => span.none { "—" },
            } }
            td { @match &e.fired_at { Some(f) => (when_iso(f)), None => span.none { "—" } } }
        }
    }
}

/// The links to the pages beside this one, over the same window.
fn pages(list: &FireList, base: &str, offset: u64) -> Markup {
    let link = |o: u64| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("from", &list.from);
        q.append_pair("to", &list.to);
        q.append_pair("offset", &o.to_string());
        format!("{base}?{}", q.finish())
    };
    html! {
        nav.pages aria-label="Fire pages" {
            @if offset > 0 { a rel="prev" href=(link(offset.saturating_sub(PAGE_SIZE))) { "← Newer" } }
            @if offset + PAGE_SIZE < list.total { a rel="next" href=(link(offset + PAGE_SIZE)) { "Older →" } }
        }
    }
}
