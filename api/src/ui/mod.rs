//! The dashboard: server-rendered HTML pages at `/ui`, for people, from the API process (same
//! origin as the API). Signed in with an API key's token (or the admin token) pasted once;
//! the session is a cookie ([`session`]). Every page reads well without JavaScript; one small
//! script ([`assets`]) adds the live tail of a job's runs.
//!
//! The routes are plain axum routes merged beside the API's: they are not part of the OpenAPI
//! document, and the API's routes never accept the dashboard's cookie.
//!
//! - [`session`]: sign-in, sign-out, the session cookie, the CSRF and origin checks.
//! - [`layout`]: the page frame, the error pages, formatting, the sparkline.
//! - [`jobs`]: the jobs list.
//! - [`job`]: a job's page and its schedules' actions.
//! - [`chart`]: the job page's chart of outcomes and durations.
//! - [`fires`]: a schedule's instants and their fates.
//! - [`runs`]: the run history's rows, a run's page and the live tail.
//! - [`run`]: the body of a run's page.
//! - [`admin`]: the admin's page.
//! - [`operations`]: the operator's fleet view and dead letters.
//! - [`settings`]: the tenant's settings and API keys.
//! - [`assets`]: the stylesheet and the script.

pub mod admin;
pub mod assets;
pub mod chart;
pub mod create;
pub mod edit;
pub mod fires;
pub mod job;
pub mod jobs;
pub mod layout;
pub mod operations;
pub mod run;
pub mod runs;
pub mod session;
pub mod settings;

use crate::error::ApiError;
use crate::extract::read_body;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum::Router;

/// The dashboard's path.
pub const ROOT: &str = "/ui";

/// Everything a dashboard handler can fail with.
#[derive(Debug)]
pub enum UiError {
    /// No session (or it ended): to the sign-in page.
    SignIn,
    /// The admin's session on a tenant's page: to the admin's page.
    Admin,
    /// A form without the session's CSRF token, or from another origin.
    Forged,
    /// An error of the API's kinds, shown as a page of its status.
    Api(ApiError),
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Api(e)
    }
}

impl From<chime_store::StoreError> for UiError {
    fn from(e: chime_store::StoreError) -> Self {
        UiError::Api(e.into())
    }
}

pub type UiResult<T> = Result<T, UiError>;

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn => Redirect::to("/ui/login").into_response(),
            UiError::Admin => Redirect::to("/ui/admin").into_response(),
            UiError::Forged => layout::error_page(
                StatusCode::FORBIDDEN,
                "Refused",
                "This form was not sent from a page of this dashboard's session. Go back, reload the page and try again.",
            ),
            UiError::Api(e) => {
                let status = e.status();
                let message = match &e {
                    ApiError::Internal(inner) => {
                        tracing::error!(error = ?inner, "dashboard request failed");
                        "Something went wrong on the server.".to_string()
                    }
                    ApiError::Unavailable(_) => {
                        "The service is temporarily unavailable; retry in a moment.".to_string()
                    }
                    other => other.to_string(),
                };
                let title = status.canonical_reason().unwrap_or("Error");
                let mut resp = layout::error_page(status, title, &message);
                if matches!(
                    e,
                    ApiError::Unavailable(_)
                        | ApiError::RateLimited { .. }
                        | ApiError::TooManyRequests(_)
                ) {
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                }
                resp
            }
        }
    }
}

/// A form's body read ahead of its handler, as the API reads a JSON body ([`read_body`]): past
/// the size cap, a 413 page the browser receives whole (the rest of the body is read on a
/// little) on a connection that is then closed.
async fn buffered_form(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    match read_body(
        Request::from_parts(parts.clone(), body),
        s.settings.max_request_bytes,
    )
    .await
    {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => {
            let mut resp = UiError::Api(e).into_response();
            if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
                resp.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
            }
            resp
        }
    }
}

/// A page htmx asked for (`HX-Request`) that is not a plain answer (an error page, the
/// redirect to sign in) becomes a whole navigation to the same address (`HX-Redirect`), so the
/// person sees that page whole rather than a part of it swapped into the one they are on.
async fn whole_page_unless_ok(req: Request, next: Next) -> Response {
    let htmx = req.headers().get("hx-request").is_some_and(|v| v == "true");
    let uri = req.uri().clone();
    let resp = next.run(req).await;
    if !htmx || resp.status().is_success() {
        return resp;
    }
    let to = uri.path_and_query().map_or("/ui/jobs", |p| p.as_str());
    match header::HeaderValue::from_str(to) {
        Ok(to) => (StatusCode::OK, [("hx-redirect", to)]).into_response(),
        Err(_) => resp,
    }
}

/// The dashboard's routes (merged into the API's router, not documented in its OpenAPI).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/jobs") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/jobs") }))
        .route("/ui/login", get(session::login_page).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/jobs", get(jobs::jobs_page))
        .route(
            "/ui/jobs/new",
            get(create::new_job_page).post(create::create_job),
        )
        .route("/ui/jobs/{job}", get(job::job_page))
        .route(
            "/ui/jobs/{job}/edit",
            get(create::edit_job_page).post(create::save_job),
        )
        .route(
            "/ui/jobs/{job}/schedules/new",
            get(create::new_schedule_page).post(create::create_schedule),
        )
        .route(
            "/ui/jobs/{job}/confirm-delete",
            get(create::confirm_delete_job),
        )
        .route("/ui/jobs/{job}/delete", post(create::delete_job))
        .route("/ui/jobs/{job}/live", get(runs::live))
        .route("/ui/jobs/{job}/chart", get(chart::chart_page))
        .route(
            "/ui/jobs/{job}/schedules/{sid}/edit",
            get(edit::edit_page).post(edit::save),
        )
        .route("/ui/jobs/{job}/schedules/{sid}/{action}", post(job::act))
        .route(
            "/ui/jobs/{job}/schedules/{sid}/fires",
            get(fires::fires_page),
        )
        .route(
            "/ui/jobs/{job}/schedules/{sid}/confirm-delete",
            get(job::confirm_delete),
        )
        .route(
            "/ui/jobs/{job}/schedules/{sid}/runs/{run}",
            get(runs::run_page),
        )
        .route("/ui/settings", get(settings::settings_page))
        .route("/ui/settings/keys", post(settings::create_key))
        .route(
            "/ui/settings/keys/{key}/confirm-revoke",
            get(settings::confirm_revoke),
        )
        .route("/ui/settings/keys/{key}/revoke", post(settings::revoke_key))
        .route("/ui/admin", get(admin::admin_page))
        .route("/ui/admin/operations", get(operations::operations_page))
        .route(
            "/ui/admin/dead-letters/{id}/confirm-discard",
            get(operations::confirm_discard),
        )
        .route(
            "/ui/admin/dead-letters/{id}/{action}",
            post(operations::act),
        )
        .route("/ui/assets/{file}", get(assets::asset))
        .route("/ui/{*rest}", any(not_found))
        .layer(middleware::from_fn_with_state(state, buffered_form))
        .layer(middleware::from_fn(whole_page_unless_ok))
}

async fn not_found() -> Response {
    UiError::Api(ApiError::NotFound("There is no such page.".into())).into_response()
}
