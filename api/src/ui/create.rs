//! Making and changing jobs from the dashboard: a new job with its first schedule
//! (`/ui/jobs/new`), a job's own fields (`/ui/jobs/{job}/edit`), another schedule of a job
//! (`/ui/jobs/{job}/schedules/new`), and a job's deletion after its confirmation
//! (`/ui/jobs/{job}/confirm-delete`, `POST /ui/jobs/{job}/delete`).
//!
//! Each form sends SAP's body (Create Job, Configure Job, Create Schedule) to the functions the
//! API's own routes call: the same checks, the same replan. A refused form (a 400 naming the
//! field, a 409 for a taken name) is the form again with the API's message above it and the
//! values as they were sent.

use crate::auth::Tenant;
use crate::error::ApiError;
use crate::routes::jobs::{create_job_of, update_job_of};
use crate::routes::schedules::add_schedule;
use crate::service;
use crate::state::AppState;
use crate::ui::job::{writable_job, writer};
use crate::ui::layout;
use crate::ui::session::{form_error, CsrfForm, Signed};
use crate::ui::UiResult;
use crate::wire::decode;
use crate::wire::requests::JobUpdateRequest;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use chime_core::model::Job;
use maud::{html, Markup};
use serde_json::{json, Map, Value};

/// A form's fields as sent, in order.
type Fields = [(String, String)];

/// The schedule modes the form offers, with what each takes.
const MODES: [(&str, &str); 4] = [
    (
        "cron",
        "SAP's cron: year month day weekday hour minute second, e.g. * * * * 9 0 0 (every day at 09:00)",
    ),
    ("repeatInterval", "e.g. 10 minutes, 2 hours"),
    ("repeatAt", "a time of day, e.g. 9:00am (every day)"),
    ("time", "once: an instant, e.g. 2030-01-01T09:00:00Z, or words such as 'tomorrow at 9am'"),
];

/// The HTTP methods a job's call may use.
const METHODS: [&str; 5] = ["POST", "GET", "PUT", "PATCH", "DELETE"];

/// Field `name`'s value as sent, trimmed (empty when absent).
pub(crate) fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

/// Whether checkbox `name` was ticked.
fn ticked(fields: &Fields, name: &str) -> bool {
    fields.iter().any(|(k, _)| k == name)
}

/// A number field: the number, or the text as sent (the API then names the field), or nothing.
fn number(fields: &Fields, name: &str) -> Option<Value> {
    let v = field(fields, name);
    (!v.is_empty()).then(|| v.parse::<u64>().map_or_else(|_| json!(v), |n| json!(n)))
}

/// SAP's schedule body of the form's schedule fields.
fn schedule_body(fields: &Fields) -> Value {
    let mut body = Map::new();
    let mode = field(fields, "mode");
    if MODES.iter().any(|(m, _)| *m == mode) {
        body.insert(mode.into(), json!(field(fields, "timing")));
    }
    body.insert(
        "description".into(),
        json!(field(fields, "scheduleDescription")),
    );
    body.insert("active".into(), json!(ticked(fields, "scheduleActive")));
    let zone = field(fields, "timeZone");
    if !zone.is_empty() {
        body.insert("timeZone".into(), json!(zone));
    }
    Value::Object(body)
}

/// SAP's job body of the form's job fields (and its first schedule when `with_schedule`).
fn job_body(fields: &Fields, with_schedule: bool) -> Value {
    let mut body = Map::new();
    for name in ["name", "description", "action", "httpMethod"] {
        body.insert(name.into(), json!(field(fields, name)));
    }
    body.insert("active".into(), json!(ticked(fields, "active")));
    if let Some(t) = number(fields, "timeoutMs") {
        body.insert("timeoutMs".into(), t);
    }
    if with_schedule {
        body.insert("schedules".into(), json!([schedule_body(fields)]));
    }
    Value::Object(body)
}

/// A labelled text input with a hint.
pub(crate) fn text(name: &str, label: &str, value: &str, hint: &str) -> Markup {
    html! {
        label {
            (label)
            input type="text" name=(name) value=(value) aria-describedby={ (name) "-hint" };
            small.hint id={ (name) "-hint" } { (hint) }
        }
    }
}

/// A labelled checkbox.
fn check(name: &str, label: &str, on: bool) -> Markup {
    html! { label.check { input type="checkbox" name=(name) value="true" checked[on]; (label) } }
}

/// The job's own fields, filled from `f` (what was sent) or `job`.
fn job_fields(f: Option<&Fields>, job: Option<&Job>) -> Markup {
    let pick = |name: &str, of_job: String| f.map_or(of_job, |f| field(f, name).to_string());
    let name = pick("name", job.map(|j| j.name.clone()).unwrap_or_default());
    let description = pick(
        "description",
        job.map(|j| j.description.clone()).unwrap_or_default(),
    );
    let action = pick("action", job.map(|j| j.action.clone()).unwrap_or_default());
    let method = pick(
        "httpMethod",
        job.map_or("POST".into(), |j| j.http_method.to_string()),
    );
    let timeout = pick(
        "timeoutMs",
        job.map(|j| j.timeout_ms.to_string()).unwrap_or_default(),
    );
    let active = f.map_or(job.is_none_or(|j| j.active), |f| ticked(f, "active"));
    html! {
        fieldset {
            legend { "The job" }
            (text("name", "Name", &name, "Letters, digits, _, - and .; unique among your jobs."))
            (text("description", "Description", &description, ""))
            (text("action", "Action (URL)", &action, "The http or https URL chime calls."))
            label { "HTTP method"
                select name="httpMethod" {
                    @for m in METHODS { option value=(m) selected[m == method] { (m) } }
                }
            }
            (text("timeoutMs", "Timeout (ms)", &timeout, "1 to 600000; empty: the service's default."))
            (check("active", "Active", active))
        }
    }
}

/// A schedule's fields, filled from `f` (what was sent).
fn schedule_fields(f: Option<&Fields>) -> Markup {
    let value = |name: &str| f.map_or("", |f| field(f, name));
    let mode = f.map_or("cron", |f| field(f, "mode"));
    let active = f.is_none_or(|f| ticked(f, "scheduleActive"));
    html! {
        fieldset {
            legend { "The schedule" }
            label { "Mode"
                select name="mode" aria-describedby="mode-hint" {
                    @for (m, _) in MODES { option value=(m) selected[m == mode] { (m) } }
                }
                small.hint #mode-hint {
                    @for (m, hint) in MODES { code { (m) } ": " (hint) ". " }
                }
            }
            (text("timing", "Timing", value("timing"), "In the mode's format."))
            (text("scheduleDescription", "Description", value("scheduleDescription"), ""))
            (text("timeZone", "Time zone", value("timeZone"), "An IANA zone, e.g. Europe/Berlin; empty: UTC."))
            (check("scheduleActive", "Active", active))
        }
    }
}

/// A form's page: its title, where the form posts and where *Cancel* goes.
struct FormPage {
    title: String,
    action: String,
    back: String,
}

impl FormPage {
    fn new_job() -> FormPage {
        FormPage {
            title: "New job".into(),
            action: "/ui/jobs/new".into(),
            back: "/ui/jobs".into(),
        }
    }

    fn edit_job(job: &Job) -> FormPage {
        FormPage {
            title: "Edit a job".into(),
            action: format!("/ui/jobs/{}/edit", job.id),
            back: format!("/ui/jobs/{}", job.id),
        }
    }

    fn new_schedule(job: &Job) -> FormPage {
        FormPage {
            title: format!("New schedule of {}", job.name),
            action: format!("/ui/jobs/{}/schedules/new", job.id),
            back: format!("/ui/jobs/{}", job.id),
        }
    }

    /// The page with `fields` in the form, the API's refusal (`error`) above it.
    fn show(
        &self,
        signed: &Signed,
        status: StatusCode,
        error: Option<&str>,
        fields: Markup,
    ) -> Response {
        let body = html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.create method="post" action=(self.action) {
                input type="hidden" name="csrf" value=(signed.session.csrf);
                (fields)
                div.actions {
                    button type="submit" { "Save" }
                    a href=(self.back) { "Cancel" }
                }
            }
        };
        layout::respond(status, layout::page(&self.title, Some(&signed.nav()), body))
    }
}

/// A form's fields, sent from this session's page.
pub(crate) fn checked_form(
    s: &AppState,
    signed: &Signed,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> UiResult<Vec<(String, String)>> {
    let Form(fields) = form.map_err(form_error)?;
    signed.check_form(s, headers, field(&fields, "csrf"))?;
    Ok(fields)
}

/// A form about job `raw`, sent from this session's page by a writer: its fields, the
/// tenant and the job.
async fn job_form<'a>(
    s: &AppState,
    signed: &'a Signed,
    headers: &HeaderMap,
    sent: Result<Form<Vec<(String, String)>>, FormRejection>,
    raw: &str,
) -> UiResult<(Vec<(String, String)>, &'a Tenant, Job)> {
    let f = checked_form(s, signed, headers, sent)?;
    let (tenant, job) = writable_job(s, signed, raw).await?;
    Ok((f, tenant, job))
}

/// The API's refusal of a form's content (a 400 or 409): shown with the form; other errors
/// are pages of their own.
fn refusal(e: ApiError) -> UiResult<(StatusCode, String)> {
    match e {
        ApiError::BadRequest(m) => Ok((StatusCode::BAD_REQUEST, m)),
        ApiError::Conflict(m) => Ok((StatusCode::CONFLICT, m)),
        other => Err(other.into()),
    }
}

/// `GET /ui/jobs/new`.
pub async fn new_job_page(signed: Signed) -> UiResult<Response> {
    writer(&signed)?;
    let fields = html! { (job_fields(None, None)) (schedule_fields(None)) };
    Ok(FormPage::new_job().show(&signed, StatusCode::OK, None, fields))
}

/// `POST /ui/jobs/new`: SAP's Create Job with one schedule, then the new job's page.
pub async fn create_job(
    State(s): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    sent: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> UiResult<Response> {
    let f = checked_form(&s, &signed, &headers, sent)?;
    let tenant = writer(&signed)?;
    let (status, message) = match create_job_of(&s, tenant, job_body(&f, true)).await {
        Ok((job, _)) => return Ok(done(&job, "created")),
        Err(e) => refusal(e)?,
    };
    let fields = html! { (job_fields(Some(&f), None)) (schedule_fields(Some(&f))) };
    Ok(FormPage::new_job().show(&signed, status, Some(&message), fields))
}

/// `GET /ui/jobs/{job}/edit`.
pub async fn edit_job_page(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> UiResult<Response> {
    let (_, job) = writable_job(&s, &signed, &raw).await?;
    let fields = job_fields(None, Some(&job));
    Ok(FormPage::edit_job(&job).show(&signed, StatusCode::OK, None, fields))
}

/// `POST /ui/jobs/{job}/edit`: SAP's Configure Job with the form's fields, then the job's page.
pub async fn save_job(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
    headers: HeaderMap,
    sent: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> UiResult<Response> {
    let (f, tenant, old) = job_form(&s, &signed, &headers, sent, &raw).await?;
    let at = service::now(&s).await?;
    let saved = match decode::<JobUpdateRequest>(job_body(&f, false)) {
        Ok((req, given)) => update_job_of(&s, tenant, &old, &req, &given, at).await,
        Err(e) => Err(e),
    };
    let (status, message) = match saved {
        Ok(()) => return Ok(done(&old, "job-saved")),
        Err(e) => refusal(e)?,
    };
    let fields = job_fields(Some(&f), Some(&old));
    Ok(FormPage::edit_job(&old).show(&signed, status, Some(&message), fields))
}

/// `GET /ui/jobs/{job}/schedules/new`.
pub async fn new_schedule_page(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> UiResult<Response> {
    let (_, job) = writable_job(&s, &signed, &raw).await?;
    let fields = schedule_fields(None);
    Ok(FormPage::new_schedule(&job).show(&signed, StatusCode::OK, None, fields))
}

/// `POST /ui/jobs/{job}/schedules/new`: SAP's Create Schedule, then the job's page.
pub async fn create_schedule(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
    headers: HeaderMap,
    sent: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> UiResult<Response> {
    let (f, tenant, job) = job_form(&s, &signed, &headers, sent, &raw).await?;
    let (status, message) = match add_schedule(&s, tenant, &job, schedule_body(&f)).await {
        Ok(_) => return Ok(done(&job, "added")),
        Err(e) => refusal(e)?,
    };
    let fields = schedule_fields(Some(&f));
    Ok(FormPage::new_schedule(&job).show(&signed, status, Some(&message), fields))
}

/// Back to `job`'s page, which says what was `done`.
fn done(job: &Job, what: &str) -> Response {
    layout::see_other(format!("/ui/jobs/{}?done={what}", job.id))
}

/// `GET /ui/jobs/{job}/confirm-delete`: the confirmation of a job's deletion.
pub async fn confirm_delete_job(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> UiResult<Response> {
    let (_, job) = writable_job(&s, &signed, &raw).await?;
    let body = html! {
        p {
            "Delete the job " a href={ "/ui/jobs/" (job.id) } { (job.name) }
            " with its schedules and its whole run history? It cannot be restored."
        }
        (layout::confirm_form(
            &format!("/ui/jobs/{}/delete", job.id),
            &signed.session.csrf,
            "Delete the job",
            &format!("/ui/jobs/{}", job.id),
        ))
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Delete a job", Some(&signed.nav()), body),
    ))
}

/// `POST /ui/jobs/{job}/delete`: the API's job deletion, then the jobs.
pub async fn delete_job(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
    headers: HeaderMap,
    sent: Result<Form<CsrfForm>, FormRejection>,
) -> UiResult<Response> {
    let Form(form) = sent.map_err(form_error)?;
    signed.check_form(&s, &headers, &form.csrf)?;
    let (tenant, job) = writable_job(&s, &signed, &raw).await?;
    service::delete_job(&s, tenant, &job).await?;
    Ok(layout::see_other("/ui/jobs?done=deleted".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_forms_send_saps_bodies() {
        let f = fields(&[
            ("csrf", "x"),
            ("name", " nightly "),
            ("action", "http://127.0.0.1:9/x"),
            ("httpMethod", "GET"),
            ("timeoutMs", "5000"),
            ("mode", "repeatInterval"),
            ("timing", "2 hours"),
            ("scheduleActive", "true"),
        ]);
        assert_eq!(
            job_body(&f, true),
            json!({"name": "nightly", "description": "", "action": "http://127.0.0.1:9/x",
                "httpMethod": "GET", "active": false, "timeoutMs": 5000,
                "schedules": [{"repeatInterval": "2 hours", "description": "", "active": true}]})
        );
        // A timeout that is not a number reaches the API as sent, which names the field; an
        // unknown mode sends no timing, which the API refuses.
        let f = fields(&[
            ("timeoutMs", "soon"),
            ("mode", "sometimes"),
            ("timing", "x"),
        ]);
        assert_eq!(job_body(&f, false)["timeoutMs"], "soon");
        assert_eq!(
            schedule_body(&f),
            json!({"description": "", "active": false})
        );
    }
}
