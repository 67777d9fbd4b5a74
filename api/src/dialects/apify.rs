//! Apify: a schedule's event log, `GET /v2/schedules/{scheduleId}/log`, oldest first, with
//! Apify's `token` parameter and error shape.

use super::common::{params_of, path_of};
use crate::auth::authenticate;
use crate::error::{dialect_error, ApiError};
use crate::query::{typed, Params, Q};
use crate::state::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chime_core::time::format_instant;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};

/// An entry of an Apify schedule log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApifyLogEntry {
    pub message: String,
    /// E.g. `INFO` or `ERROR`.
    pub level: String,
    pub created_at: String,
}

/// An Apify schedule log, oldest first (the latest 1,000 entries at most).
#[derive(Serialize, ToSchema)]
pub struct ApifyLog {
    pub data: Vec<ApifyLogEntry>,
}

/// Apify error kinds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApifyErrorType {
    RecordNotFound,
    TokenNotValid,
    InsufficientPermissions,
    InvalidInput,
    /// Apify's type of a 429.
    RateLimitExceeded,
    InternalServerError,
}

/// The error detail of an Apify error.
#[derive(Serialize, ToSchema)]
pub struct ApifyErrorDetail {
    #[serde(rename = "type")]
    pub kind: ApifyErrorType,
    pub message: String,
}

/// Apify's error shape: `{"error": {"type", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ApifyError {
    pub error: ApifyErrorDetail,
}

/// Apify errors.
#[derive(IntoResponses)]
pub enum ApifyErrors {
    /// An invalid request (`invalid-input`).
    #[response(status = 400)]
    BadRequest(ApifyError),
    /// Missing or invalid credentials (`token-not-valid`).
    #[response(status = 401)]
    Unauthorized(ApifyError),
    /// The key lacks the `read` scope (`insufficient-permissions`).
    #[response(status = 403)]
    Forbidden(ApifyError),
    /// The schedule does not exist (`record-not-found`).
    #[response(status = 404)]
    NotFound(ApifyError),
    /// The key or its tenant is over its request rate (`rate-limit-exceeded`), with
    /// `Retry-After` and `throttling: 0`.
    #[response(status = 429)]
    TooManyRequests(ApifyError),
    /// A server fault (`internal-server-error`).
    #[response(status = 500)]
    Internal(ApifyError),
}

/// Apify parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApifyQuery {
    /// The API key as `<keyId>.<secret>`, instead of a header.
    pub token: Option<String>,
}

fn apify_error(e: ApiError) -> Response {
    dialect_error(e, |status, message| {
        let kind = match status {
            StatusCode::NOT_FOUND => ApifyErrorType::RecordNotFound,
            StatusCode::UNAUTHORIZED => ApifyErrorType::TokenNotValid,
            StatusCode::FORBIDDEN => ApifyErrorType::InsufficientPermissions,
            StatusCode::BAD_REQUEST => ApifyErrorType::InvalidInput,
            StatusCode::TOO_MANY_REQUESTS => ApifyErrorType::RateLimitExceeded,
            _ => ApifyErrorType::InternalServerError,
        };
        ApifyError {
            error: ApifyErrorDetail { kind, message },
        }
    })
}

/// Apify: the schedule's event log, oldest first, the latest 1,000 entries at most. The key
/// may also be given as the `token` query parameter, as Apify allows.
#[utoipa::path(
    get, path = "/v2/schedules/{scheduleId}/log", tag = "apify", operation_id = "apifyScheduleLog",
    summary = "A schedule's event log, oldest first (the latest 1,000 entries at most)",
    params(
        ("scheduleId" = String, Path, description = "The schedule id"),
        ApifyQuery,
    ),
    responses(
        (status = 200, description = "The log", body = ApifyLog),
        ApifyErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []), ("queryToken" = []))
)]
pub async fn apify_log(
    State(s): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Q, QueryRejection>,
) -> Response {
    let answer = async {
        let schedule = path_of(path)?;
        log(&s, &headers, &schedule, params_of(query)?).await
    };
    answer
        .await
        .map_or_else(apify_error, |log| Json(log).into_response())
}

async fn log(
    s: &AppState,
    headers: &HeaderMap,
    schedule: &str,
    q: Params,
) -> Result<ApifyLog, ApiError> {
    let q: ApifyQuery = typed(q)?;
    let tenant = authenticate(s, headers, q.token.as_deref()).await?;
    tenant.require("read")?;
    s.store
        .job_of_schedule(&tenant.id, schedule)
        .await?
        .ok_or_else(|| ApiError::NotFound("Schedule was not found".into()))?;
    let mut events = s.store.schedule_events(&tenant.id, schedule, 1000).await?;
    events.reverse();
    Ok(ApifyLog {
        data: events
            .into_iter()
            .map(|(ms, level, message)| ApifyLogEntry {
                message,
                level,
                created_at: format_instant(ms),
            })
            .collect(),
    })
}
