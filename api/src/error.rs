//! The API's one error type, its mapping to SAP's error shape (`{ "code", "message", "type",
//! "detailedError" }`, the [`SapError`] type that answers and documents it), and the mapping
//! the dialects use for their own error shapes ([`dialect_error`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request entity too large: the body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// A cap on what a key or tenant holds open at once is reached: answered 429 with
    /// `Retry-After`.
    #[error("{0}")]
    TooManyRequests(String),
    /// A request rate limit of the key or its tenant is reached: answered 429 with
    /// `Retry-After` (the seconds until a request is allowed again) and SAP's `throttling`
    /// (the milliseconds the answer was delayed: chime refuses at once, so 0).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The store is unreachable for now (restarting, failing over): answered 503 with
    /// `Retry-After`, so a client retries instead of taking it as a fault of its request.
    #[error("the service is temporarily unavailable; retry in a moment")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<chime_store::StoreError> for ApiError {
    fn from(e: chime_store::StoreError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable(e.to_string())
        } else {
            ApiError::Internal(e.into())
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "Bad Request/Invalid Request",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "Not Found",
            ApiError::Conflict(_) => "Conflict",
            ApiError::PayloadTooLarge(_) => "Payload Too Large",
            ApiError::TooManyRequests(_) | ApiError::RateLimited { .. } => "Too Many Requests",
            ApiError::Unavailable(_) => "Service Unavailable",
            ApiError::Internal(_) => "Internal Server Error",
        }
    }

    /// The message a client sees: server faults are logged here and not described.
    fn public_message(&self) -> String {
        match self {
            ApiError::Internal(inner) => tracing::error!(error = ?inner, "request failed"),
            ApiError::Unavailable(cause) => {
                chime_runtime::telemetry::warn_throttled(
                    "api_store_unavailable",
                    &format!("request answered 503: the store is unavailable: {cause}"),
                );
            }
            _ => {}
        }
        self.to_string()
    }
}

/// SAP's error shape, used by the admin, `/scheduler` and live/export routes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"code": 400, "message": "Error while creating job: 'action' is required",
    "type": "Bad Request/Invalid Request", "detailedError": "Error while creating job: 'action' is required"}))]
pub struct SapError {
    /// The HTTP status code.
    pub code: u16,
    pub message: String,
    /// `Bad Request/Invalid Request`, `Unauthorized`, `Forbidden`, `Not Found`, `Conflict`,
    /// `Payload Too Large`, `Too Many Requests`, `Service Unavailable` or `Internal Server
    /// Error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The same text as `message`.
    pub detailed_error: String,
}

/// The error answers every SAP-shaped tenant route can give.
#[derive(IntoResponses)]
pub enum SapErrors {
    /// The request is invalid; the message names the field or parameter.
    #[response(status = 400)]
    BadRequest(SapError),
    /// No credentials, malformed ones, or an unknown key or wrong secret. The answer carries
    /// `WWW-Authenticate: Bearer realm="chime", Basic realm="chime"`.
    #[response(status = 401)]
    Unauthorized(SapError),
    /// The key lacks the scope the call needs.
    #[response(status = 403)]
    Forbidden(SapError),
    /// The job, schedule or run does not exist (or belongs to another tenant).
    #[response(status = 404)]
    NotFound(SapError),
    /// The key or its tenant is over its request rate (`CHIME_KEY_REQUESTS_PER_SECOND`,
    /// `CHIME_TENANT_REQUESTS_PER_SECOND` or the tenant's `requestsPerSecond`); the message
    /// names the limit. The answer carries `Retry-After` (seconds) and `throttling: 0` (SAP's
    /// header: the milliseconds the answer was delayed).
    #[response(
        status = 429,
        headers(
            ("Retry-After" = u64, description = "Seconds until the request may be sent again"),
            ("throttling" = u64, description = "Milliseconds the answer was delayed (0)")
        )
    )]
    TooManyRequests(SapError),
    /// The store is unreachable for now (restarting, failing over); the answer carries
    /// `Retry-After: 1`.
    #[response(status = 503)]
    Unavailable(SapError),
    /// A server fault; details are logged, not returned.
    #[response(status = 500)]
    Internal(SapError),
}

/// How long a client refused by a cap should wait before it tries again (s).
pub const RETRY_AFTER_CAP_SECS: u32 = 5;

/// SAP's header of the milliseconds an answer was delayed by its rate limits.
pub const THROTTLING: &str = "throttling";

impl ApiError {
    /// The `Retry-After` of a rate limit's refusal.
    fn rate_limited_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

/// Adds the authentication challenge to a 401 answer, and `Retry-After` to a 503 and a 429
/// (a rate limit's own, with SAP's `throttling`, when `rate_limited_after` is given).
fn challenge(mut resp: Response, rate_limited_after: Option<u64>) -> Response {
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"chime\", Basic realm=\"chime\""),
        );
    }
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // The body may not have been read to its end: the connection is not reused, so the
        // client's next request never lands on a connection the server is closing.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if resp.status() == StatusCode::TOO_MANY_REQUESTS {
        let after = rate_limited_after.unwrap_or(RETRY_AFTER_CAP_SECS.into());
        let headers = resp.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(after));
        if rate_limited_after.is_some() {
            headers.insert(THROTTLING, HeaderValue::from_static("0"));
        }
    }
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let after = self.rate_limited_after();
        let message = self.public_message();
        let body = SapError {
            code: status.as_u16(),
            message: message.clone(),
            kind: self.kind().to_string(),
            detailed_error: message,
        };
        challenge((status, Json(body)).into_response(), after)
    }
}

/// A dialect's answer for an [`ApiError`]: its status, the body `shape` builds from the status
/// and the message (server faults are logged, not described), and the challenge on a 401.
pub fn dialect_error<B: Serialize>(
    e: ApiError,
    shape: impl Fn(StatusCode, String) -> B,
) -> Response {
    let status = e.status();
    let after = e.rate_limited_after();
    let msg = match &e {
        ApiError::Internal(_) => {
            e.public_message();
            "internal error".to_string()
        }
        _ => e.to_string(),
    };
    challenge((status, Json(shape(status, msg))).into_response(), after)
}
