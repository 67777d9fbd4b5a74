//! Request extractors shared by the handlers: the JSON body with the API's size cap and 400s.
//! (Handlers read it into its wire type with [`crate::wire::decode`] where the old checks
//! ran, after authentication and the path's lookups, so a 404 still comes before a 400.)

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;

/// A JSON request body: 413 past the size cap, 400 naming the problem when malformed.
pub struct JsonBody(pub Value);

/// A JSON request body that may be left out (`None` for an empty body), read as [`JsonBody`].
pub struct OptionalJsonBody(pub Option<Value>);

/// How much of a body past the cap is still read (and dropped) before the 413 goes out.
///
/// A server that answers before reading the body and closes the connection with unread bytes
/// makes the kernel reset it, and a client still writing then sees a reset instead of the 413.
/// Reading on a little (bounded in bytes and time) lets the answer arrive; a body larger still
/// is cut off at once.
const DRAIN_BYTES: usize = 4 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The body, at most `limit` bytes: a 413 past it (after reading on a little, see
/// [`DRAIN_BYTES`]), a 400 when it cannot be read. The JSON bodies and the dashboard's forms
/// are read so.
pub async fn read_body(req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::PayloadTooLarge(limit);
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(DRAIN_BYTES)) {
        return Err(too_large());
    }
    let mut body = req.into_body().into_data_stream();
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            let mut left = DRAIN_BYTES;
            let drain = async {
                while let Some(Ok(chunk)) = body.next().await {
                    left = left.saturating_sub(chunk.len());
                    if left == 0 {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The body as JSON; `None` when it is empty.
async fn read_json(req: Request, state: &AppState) -> Result<Option<Value>, ApiError> {
    let bytes = read_body(req, state.settings.max_request_bytes).await?;
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
