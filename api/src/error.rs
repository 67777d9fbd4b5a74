//! The API's one error type and its one mapping to SAP's error shape
//! (`{ "code", "message", "type", "detailedError" }`).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

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
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<chime_store::StoreError> for ApiError {
    fn from(e: chime_store::StoreError) -> Self {
        ApiError::Internal(e.into())
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
            ApiError::Internal(_) => "Internal Server Error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(e) = &self {
            // Details of server faults go to the log, not to the client.
            tracing::error!(error = ?e, "request failed");
        }
        let message = self.to_string();
        let body = json!({
            "code": status.as_u16(),
            "message": message,
            "type": self.kind(),
            "detailedError": message,
        });
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"chime\", Basic realm=\"chime\""),
            );
        }
        resp
    }
}
