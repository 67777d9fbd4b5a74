//! Huawei CodeArts Build: a run's text log read by byte offsets,
//! `GET /v1/log/{jobId}/{buildNo}/real-time-log`, with Huawei's answer and error shapes.

use super::common::{job_of, params_of, path_of};
use crate::auth::authenticate;
use crate::error::{dialect_error, ApiError};
use crate::query::{int_param, typed, Params, Q};
use crate::state::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};

/// The slice of a run's text log.
#[derive(Serialize, ToSchema)]
pub struct HuaweiLogResult {
    /// Byte offset where the slice starts, as a string.
    pub start_offset: String,
    /// Byte offset where the slice ends, as a string.
    pub end_offset: String,
    pub log: String,
    /// True while the run is live or more text remains.
    pub has_more: bool,
    /// Always `chime`.
    pub location: &'static str,
}

/// Huawei CodeArts Build's real-time log answer.
#[derive(Serialize, ToSchema)]
pub struct HuaweiLog {
    pub result: HuaweiLogResult,
    /// Always `null`.
    pub error: Option<String>,
    /// Always `success`.
    pub status: &'static str,
}

/// Huawei's error shape: `{"error_code": "CHIME.<8-digit status>", "error_msg"}`.
#[derive(Serialize, ToSchema)]
pub struct HuaweiError {
    #[schema(example = "CHIME.00000404")]
    pub error_code: String,
    pub error_msg: String,
}

/// Huawei errors.
#[derive(IntoResponses)]
pub enum HuaweiErrors {
    /// An invalid or missing parameter.
    #[response(status = 400)]
    BadRequest(HuaweiError),
    /// Missing or invalid credentials.
    #[response(status = 401)]
    Unauthorized(HuaweiError),
    /// The key lacks the `read` scope.
    #[response(status = 403)]
    Forbidden(HuaweiError),
    /// The job or the build does not exist.
    #[response(status = 404)]
    NotFound(HuaweiError),
    /// The key or its tenant is over its request rate (`CHIME.00000429`), with
    /// `Retry-After` and `throttling: 0`.
    #[response(status = 429)]
    TooManyRequests(HuaweiError),
    /// A server fault.
    #[response(status = 500)]
    Internal(HuaweiError),
}

/// Log order.
#[derive(Serialize, ToSchema)]
pub enum HuaweiSort {
    #[serde(rename = "ASC")]
    Asc,
    #[serde(rename = "DESC")]
    Desc,
}

/// Huawei parameters (read as text; [`window_of`] parses them).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HuaweiQuery {
    /// Byte offset to start from (default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub start_offset: Option<String>,
    /// Byte offset to stop at (exclusive); absent, 0, or not above `start_offset` means the
    /// end of the log (the slice is still at most `size` bytes).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub end_offset: Option<String>,
    /// At most this many bytes, 0 to 1000 (default 1000).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1000)]
    pub size: Option<String>,
    /// `DESC` returns the slice's lines newest first (case-insensitive; default `ASC`).
    #[param(inline, value_type = Option<HuaweiSort>)]
    pub sort: Option<String>,
}

fn huawei_error(e: ApiError) -> Response {
    dialect_error(e, |status, error_msg| HuaweiError {
        error_code: format!("CHIME.{:08}", status.as_u16()),
        error_msg,
    })
}

/// Huawei CodeArts Build: run number `build` of a job, its text log read by byte offsets.
/// Every parameter is optional, as in the seed's example request: `start_offset` defaults to
/// 0, `size` (0-1000) to 1000, and an `end_offset` that is absent, 0 or not above
/// `start_offset` means the end of the log. The answer holds the bytes from `start_offset` up
/// to `end_offset` or `size` bytes, whichever is first, and `has_more` is true while the run
/// is live or more text remains. `sort=DESC` returns the lines of that slice newest first.
#[utoipa::path(
    get, path = "/v1/log/{jobId}/{buildNo}/real-time-log", tag = "huawei", operation_id = "huaweiRealTimeLog",
    summary = "A slice of a run's text log, by byte offsets",
    params(
        ("jobId" = String, Path, description = "The job id"),
        ("buildNo" = u64, Path, minimum = 1, description = "The run number (1, 2, 3 … in fire order)"),
        HuaweiQuery,
    ),
    responses(
        (status = 200, description = "The slice", body = HuaweiLog),
        HuaweiErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn huawei_log(
    State(s): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Q, QueryRejection>,
) -> Response {
    let answer = async {
        let (raw, build) = path_of(path)?;
        log(&s, &headers, &raw, &build, params_of(query)?).await
    };
    answer
        .await
        .map_or_else(huawei_error, |log| Json(log).into_response())
}

/// The window a request asks for: (start, end, size, newest first). Every parameter may be
/// left out, as in the seed's example request (which names none): `start_offset` is 0 and
/// `size` 1000 (the seed's defaults), and an `end_offset` that is absent, 0 or not above
/// `start_offset` is the end of the log (`u64::MAX`), so a client polling with
/// `end_offset=0` reads on `size` bytes at a time.
fn window_of(q: &HuaweiQuery) -> Result<(u64, u64, u64, bool), ApiError> {
    let offset = |v: &Option<String>, name: &str| -> Result<Option<u64>, ApiError> {
        match int_param(v.as_deref(), name).map_err(ApiError::BadRequest)? {
            Some(v) if v < 0 => Err(ApiError::BadRequest(format!(
                "'{name}' must be 0 or greater"
            ))),
            v => Ok(v.map(|v| v as u64)),
        }
    };
    let start = offset(&q.start_offset, "start_offset")?.unwrap_or(0);
    let end = match offset(&q.end_offset, "end_offset")? {
        Some(end) if end > start => end,
        _ => u64::MAX,
    };
    let size = offset(&q.size, "size")?.unwrap_or(1000);
    if size > 1000 {
        return Err(ApiError::BadRequest("'size' must be at most 1000".into()));
    }
    let desc = match q.sort.as_deref().map(str::to_uppercase) {
        None => false,
        Some(v) if v == "ASC" || v == "AES" => false,
        Some(v) if v == "DESC" => true,
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "'sort' must be ASC or DESC, got '{v}'"
            )))
        }
    };
    Ok((start, end, size, desc))
}

async fn log(
    s: &AppState,
    headers: &HeaderMap,
    raw: &str,
    build: &str,
    q: Params,
) -> Result<HuaweiLog, ApiError> {
    let q: HuaweiQuery = typed(q)?;
    let tenant = authenticate(s, headers, None).await?;
    tenant.require("read")?;
    let job = job_of(s, &tenant.id, raw)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {raw} not found")))?;
    let number: u64 = build.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "'build_no' must be an integer of 1 or more, got '{build}'"
        ))
    })?;
    let (start, end, size, desc) = window_of(&q)?;
    let missing = || ApiError::NotFound(format!("build {number} of job {raw} not found"));
    let run_id = s
        .store
        .run_by_number(&tenant.id, job.id, number)
        .await?
        .ok_or_else(missing)?;
    let run = s
        .store
        .run(&tenant.id, &run_id)
        .await?
        .ok_or_else(missing)?;
    let log = run.log.as_str();
    let (from, to) = log_window(log, start, end, size);
    let mut text = log[from..to].to_string();
    if desc {
        text = text.split_inclusive('\n').rev().collect();
    }
    let live = run.status != chime_core::run::RunStatus::Completed;
    Ok(HuaweiLog {
        result: HuaweiLogResult {
            start_offset: from.to_string(),
            end_offset: to.to_string(),
            log: text,
            has_more: live || to < log.len(),
            location: "chime",
        },
        error: None,
        status: "success",
    })
}

/// The byte window `[from, to)` of `log` for a request: from `start` up to `end` or `size`
/// bytes, whichever is first, never splitting a character (a window that would hold only part
/// of one holds the whole character), so reading on from `to` reassembles the text exactly.
fn log_window(log: &str, start: u64, end: u64, size: u64) -> (usize, usize) {
    let len = log.len();
    let mut from = (start.min(len as u64)) as usize;
    while !log.is_char_boundary(from) {
        from += 1;
    }
    let limit = (end.min(start.saturating_add(size)).min(len as u64) as usize).max(from);
    let mut to = limit;
    while !log.is_char_boundary(to) {
        to -= 1;
    }
    if to == from && limit > from {
        to = from + 1;
        while !log.is_char_boundary(to) {
            to += 1;
        }
    }
    (from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_windows_never_split_characters() {
        let log = "ab✓cd注文\n";
        let mut out = String::new();
        let mut at = 0u64;
        loop {
            let (from, to) = log_window(log, at, u64::MAX, 2);
            if from == to {
                break;
            }
            out.push_str(&log[from..to]);
            at = to as u64;
        }
        assert_eq!(out, log);
        assert_eq!(log_window(log, 3, 100, 1), (5, 5));
        assert_eq!(log_window(log, 2, 100, 1), (2, 5), "a whole character");
        assert_eq!(log_window(log, 0, 0, 10), (0, 0));
        assert_eq!(log_window(log, 100, 200, 10), (log.len(), log.len()));
    }

    fn query(pairs: &[(&str, &str)]) -> HuaweiQuery {
        let params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        typed(params).unwrap()
    }

    #[test]
    fn every_parameter_has_the_seed_default() {
        let all = u64::MAX;
        assert_eq!(window_of(&query(&[])).unwrap(), (0, all, 1000, false));
        for end in ["0", "5", "3"] {
            let q = query(&[("start_offset", "5"), ("end_offset", end), ("size", "7")]);
            assert_eq!(
                window_of(&q).unwrap(),
                (5, all, 7, false),
                "end_offset={end}"
            );
        }
        let q = query(&[("start_offset", "5"), ("end_offset", "6")]);
        assert_eq!(window_of(&q).unwrap(), (5, 6, 1000, false));
        let q = query(&[("end_offset", "0"), ("sort", "desc")]);
        assert_eq!(window_of(&q).unwrap(), (0, all, 1000, true));
    }
}
