//! The body of a run's page: its fields, its timing split, its asynchronous state and
//! deadline, its attempts (when it was retried), its response body and its text log. What a
//! run does not have is not shown.

use crate::ui::layout::{outcome_badge, when, when_iso};
use crate::wire::sap::RunDetail;
use chime_core::model::{Job, RunRecord};
use maud::{html, Markup};

/// An optional text, or a dash.
fn text(v: Option<&str>) -> Markup {
    match v {
        Some(v) if !v.is_empty() => html! { (v) },
        _ => html! { span.none { "—" } },
    }
}

/// An optional duration (ms), or a dash.
fn millis(v: Option<u64>) -> Markup {
    match v {
        Some(v) => html! { (v) " ms" },
        None => html! { span.none { "—" } },
    }
}

/// The page's body; `deadline` is (acknowledged, deadline) of a run waiting for its
/// asynchronous report.
pub fn run_body(job: &Job, rec: &RunRecord, d: &RunDetail, deadline: Option<(i64, i64)>) -> Markup {
    html! {
        p { a href={ "/ui/jobs/" (job.id) "#history" } { "← " (job.name) } }
        (fields(rec, d))
        @if let Some((acked, until)) = deadline {
            section aria-labelledby="async" {
                h2 #async { "Asynchronous run" }
                p {
                    "The endpoint acknowledged the run at " (when(acked))
                    "; it waits for its job's report until " (when(until))
                    ", and then ends as " code { "UNKNOWN" } " (outcome " code { "timeout" } ")."
                }
            }
        }
        @if let Some(t) = &d.timing {
            section aria-labelledby="timing" {
                h2 #timing { "Timing" }
                table.timing {
                    thead { tr {
                        th.num scope="col" { "DNS" } th.num scope="col" { "Connect" }
                        th.num scope="col" { "TLS" } th.num scope="col" { "First byte" }
                        th.num scope="col" { "Total" }
                    } }
                    tbody { tr {
                        td.num { (millis(t.dns_ms)) } td.num { (millis(t.connect_ms)) }
                        td.num { (millis(t.tls_ms)) } td.num { (millis(t.first_byte_ms)) }
                        td.num { (millis(t.total_ms)) }
                    } }
                }
            }
        }
        @if !d.attempts.is_empty() {
            (attempts(d))
        }
        section aria-labelledby="body" {
            h2 #body { "Response body" }
            @match d.response_body.as_deref().filter(|b| !b.is_empty()) {
                Some(b) => pre { (b) },
                None => p.none { "No response body." },
            }
        }
        section aria-labelledby="log" {
            h2 #log { "Log" }
            pre.log { (d.log) }
        }
    }
}

/// The run's fields.
fn fields(rec: &RunRecord, d: &RunDetail) -> Markup {
    let reason = d.failure_reason.map(|r| r.to_string());
    html! {
        dl.fields {
            dt { "Run" } dd { code { (rec.run_id) } }
            dt { "Number" } dd { (rec.number) }
            dt { "Schedule" } dd { code { (rec.schedule_id) } }
            dt { "Status" } dd { (d.run.run_status) " / " (d.run.run_state) }
            dt { "Outcome" } dd { (outcome_badge(d.outcome.as_deref(), &d.run.run_state)) }
            dt { "HTTP status" } dd { (text(d.run.http_status.map(|h| h.to_string()).as_deref())) }
            @if let Some(r) = &reason { dt { "Failure reason" } dd { code { (r) } } }
            @if let Some(e) = d.error_message.as_deref().filter(|e| !e.is_empty()) {
                dt { "Error" } dd { (e) }
            }
            dt { "Kind" } dd {
                @if rec.manual {
                    "manual (run now)"
                    @if let Some(k) = &rec.requested_by { " by key " code { (k) } }
                } @else { "scheduled" }
            }
            dt { "Scheduled for" } dd { (when_iso(&d.run.schedule_timestamp)) }
            dt { "Executed" } dd { @match &d.run.execution_timestamp { Some(t) => (when_iso(t)), None => span.none { "—" } } }
            dt { "Completed" } dd { @match &d.run.completion_timestamp { Some(t) => (when_iso(t)), None => span.none { "—" } } }
            dt { "Duration" } dd { (millis(d.duration_ms)) }
            dt { "Attempt" } dd { (d.attempt) }
            @if let Some(next) = &d.next_attempt_at { dt { "Next attempt" } dd { (when_iso(next)) } }
            dt { "Worker" } dd { (text(d.worker.as_deref())) }
            @if !d.run.run_text.is_empty() { dt { "Run text" } dd { (d.run.run_text) } }
        }
    }
}

/// The attempts of a retried run.
fn attempts(d: &RunDetail) -> Markup {
    html! {
        section aria-labelledby="attempts" {
            h2 #attempts { "Attempts" }
            table {
                thead { tr {
                    th.num scope="col" { "Attempt" } th scope="col" { "Executed" }
                    th scope="col" { "Outcome" } th.num scope="col" { "HTTP" }
                    th.num scope="col" { "Duration" } th scope="col" { "Error" }
                    th.num scope="col" { "Wait after" }
                } }
                tbody {
                    @for a in &d.attempts {
                        tr {
                            td.num { (a.attempt) }
                            td { @match &a.execution_timestamp { Some(t) => (when_iso(t)), None => span.none { "—" } } }
                            td { (outcome_badge(a.outcome.as_deref(), "running")) }
                            td.num { (text(a.http_status.map(|h| h.to_string()).as_deref())) }
                            td.num { (millis(a.duration_ms)) }
                            td { (text(a.error.as_deref())) }
                            td.num { (millis(a.delay_ms)) }
                        }
                    }
                }
            }
        }
    }
}
