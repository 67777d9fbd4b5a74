//! Request extractors shared by the handlers: the JSON body with the API's size cap and 400s.
//! (Handlers read it into its wire type with [`crate::wire::decode`] where the old checks
//! ran, after authentication and the path's lookups, so a 404 still comes before a 400.)

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::Value;

/// A JSON request body: 413 past the size cap, 400 naming the problem when malformed.
pub struct JsonBody(pub Value);

/// A JSON request body that may be left out (`None` for an empty body), read as [`JsonBody`].
pub struct OptionalJsonBody(pub Option<Value>);

/// The body as JSON; `None` when it is empty.
async fn read_json(req: Request, state: &AppState) -> Result<Option<Value>, ApiError> {
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(state.settings.max_request_bytes)
        } else {
            ApiError::BadRequest(format!("cannot read the request body: {e}"))
        }
    })?;
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON in the request body: {e}")))
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read_json(req, state).await?.map(JsonBody).ok_or_else(|| {
            ApiError::BadRequest("the request body is empty; a JSON object is expected".into())
        })
    }
}

impl FromRequest<AppState> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read_json(req, state).await.map(OptionalJsonBody)
    }
}
