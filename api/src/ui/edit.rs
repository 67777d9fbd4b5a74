//! A schedule's edit form: `GET` and `POST /ui/jobs/{job}/schedules/{sid}/edit`. The form
//! sends the fields SAP's schedule update takes (its description, its timing in its own mode,
//! its start and end, its time zone), and the write is the API's own
//! (`PUT /scheduler/jobs/{jobId}/schedules/{scheduleId}`): the same checks, the same 400s
//! naming the field, the same replan.

use crate::input;
use crate::service;
use crate::state::AppState;
use crate::ui::create::{checked_form, text};
use crate::ui::job::{mode_of, writable_schedule};
use crate::ui::layout;
use crate::ui::session::Signed;
use crate::ui::UiResult;
use crate::wire::decode;
use crate::wire::requests::ScheduleUpdateRequest;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use chime_core::model::{Job, Schedule};
use maud::{html, Markup};
use serde_json::{Map, Value};

fn form(job: &Job, sc: &Schedule, csrf: &str) -> Markup {
    let (mode, value) = mode_of(sc).unwrap_or(("repeatInterval", ""));
    let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        form.edit method="post" action={ "/ui/jobs/" (job.id) "/schedules/" (sc.schedule_id) "/edit" } {
            input type="hidden" name="csrf" value=(csrf);
            (text("description", "Description", &sc.description, ""))
            (text(mode, mode, value, "The schedule's timing, in SAP's format of this mode (the mode cannot change)."))
            (text("startTime", "Start", &or_empty(&sc.start_time), "Empty: no start."))
            (text("endTime", "End", &or_empty(&sc.end_time), "Empty: no end."))
            (text("timeZone", "Time zone", &or_empty(&sc.time_zone), "An IANA zone, e.g. Europe/Berlin; empty: UTC."))
            div.actions {
                button type="submit" { "Save" }
                a href={ "/ui/jobs/" (job.id) } { "Cancel" }
            }
        }
    }
}

/// `GET /ui/jobs/{job}/schedules/{sid}/edit`.
pub async fn edit_page(
    State(s): State<AppState>,
    signed: Signed,
    Path((raw, sid)): Path<(String, String)>,
) -> UiResult<Response> {
    let (job, sc) = writable_schedule(&s, &signed, &raw, &sid).await?;
    let body = html! {
        p { "Schedule " code { (sc.schedule_id) } " of "
            a href={ "/ui/jobs/" (job.id) } { (job.name) } "." }
        (form(&job, &sc, &signed.session.csrf))
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Edit a schedule", Some(&signed.nav()), body),
    ))
}

/// The update body of the form's fields: the description and the timing as sent, an empty
/// start, end or zone as `null` (none). Other fields are not the form's and are left out.
fn body_of(fields: &[(String, String)], mode: &str) -> Value {
    let mut body = Map::new();
    for (k, v) in fields {
        let v = v.trim();
        match k.as_str() {
            "description" => {
                body.insert(k.clone(), Value::String(v.to_string()));
            }
            "startTime" | "endTime" | "timeZone" => {
                let v = (!v.is_empty()).then(|| Value::String(v.to_string()));
                body.insert(k.clone(), v.unwrap_or(Value::Null));
            }
            k if k == mode => {
                body.insert(k.to_string(), Value::String(v.to_string()));
            }
            _ => {}
        }
    }
    Value::Object(body)
}

/// `POST /ui/jobs/{job}/schedules/{sid}/edit`: the API's schedule update, then the job's page.
pub async fn save(
    State(s): State<AppState>,
    signed: Signed,
    Path((raw, sid)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> UiResult<Response> {
    let fields = checked_form(&s, &signed, &headers, form)?;
    let (job, old) = writable_schedule(&s, &signed, &raw, &sid).await?;
    let tenant = signed.tenant()?;
    let (ms, now) = service::now(&s).await?;
    let (req, given) = decode::<ScheduleUpdateRequest>(body_of(
        &fields,
        mode_of(&old).map_or("repeatInterval", |(m, _)| m),
    ))?;
    let sc = input::update_schedule(&old, &req, &given, now)?;
    let given: Vec<&str> = given.iter().map(String::as_str).collect();
    service::update_schedule(&s, tenant, &job, sc, &given, ms).await?;
    Ok(layout::see_other(format!("/ui/jobs/{}?done=saved", job.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_sends_its_fields_and_empties_as_none() {
        let fields: Vec<(String, String)> = [
            ("csrf", "x"),
            ("description", " nightly "),
            ("repeatInterval", "2 hours"),
            ("cron", "* * * * * * *"),
            ("startTime", ""),
            ("endTime", "2030-01-01T00:00:00Z"),
            ("active", "false"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let body = body_of(&fields, "repeatInterval");
        assert_eq!(
            body,
            serde_json::json!({"description": "nightly", "repeatInterval": "2 hours",
                "startTime": null, "endTime": "2030-01-01T00:00:00Z"})
        );
    }
}
