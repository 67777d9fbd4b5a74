//! The tenant-wide run search, `GET /scheduler/runs`: every run of the caller's tenant that
//! passes the filters, newest first, paged with a cursor ([`chime_store::RunSearch`]).

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::query::{date_param, QueryOf};
use crate::state::AppState;
use crate::wire::sap::SapRunLog;
use axum::extract::{RawQuery, State};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chime_core::model::RunRecord;
use chime_core::run::{Outcome, RunState, RunStatus};
use chime_core::timing::FailureReason;
use chime_store::{is_search_cursor, RunSearch};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};

/// Runs a page holds at most.
pub const MAX_LIMIT: u64 = 100;

/// `GET /scheduler/runs` parameters. Each list is comma-separated; a run passes a list when
/// it matches one of its values, and passes the search when it passes every parameter given.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct RunSearchQuery {
    /// runStatus values: `SCHEDULED`, `RUNNING`, `COMPLETED`.
    #[param(example = "COMPLETED")]
    pub status: Option<String>,
    /// runState values: `SCHEDULED`, `TRIGGERED`, `ACK_RECVD`, `SUCCESS`, `ERROR`,
    /// `REQUEST_ERROR`, `UNKNOWN`.
    #[param(example = "ERROR,REQUEST_ERROR")]
    pub state: Option<String>,
    /// Outcomes of finished runs: `success`, `failure`, `error`, `timeout` (a search by
    /// outcome finds no run that has not finished).
    #[param(example = "failure,timeout")]
    pub outcome: Option<String>,
    /// Only the runs of this job.
    #[param(value_type = Option<u64>)]
    pub jobId: Option<String>,
    /// Runs that finished (or, not finished yet, were created) at or after this instant
    /// (ISO 8601).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub from: Option<String>,
    /// ... at or before this instant (ISO 8601).
    pub to: Option<String>,
    /// HTTP statuses: a code (`503`), a class (`5xx`) or a range (`500-504`).
    #[param(example = "5xx,429")]
    pub httpStatus: Option<String>,
    /// Runs whose call lasted longer than this (ms).
    #[param(value_type = Option<u64>)]
    pub durationAbove: Option<String>,
    /// Text the response body contains (case-insensitive, at most 200 characters).
    pub bodyContains: Option<String>,
    /// Runs a page holds at most, 1 to 100 (default 20).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The previous page's `cursor`: the search goes on where it stopped.
    pub cursor: Option<String>,
}

/// A run the search found: SAP's run-log fields and chime's.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoundRun {
    #[serde(flatten)]
    pub run: SapRunLog,
    pub job_id: u64,
    pub schedule_id: String,
    pub run_number: u64,
    #[schema(value_type = Option<crate::wire::sap::Outcome>)]
    pub outcome: Option<String>,
    pub duration_ms: Option<u64>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub failure_reason: Option<FailureReason>,
}

impl From<&RunRecord> for FoundRun {
    fn from(r: &RunRecord) -> Self {
        FoundRun {
            run: r.into(),
            job_id: r.job_id,
            schedule_id: r.schedule_id.clone(),
            run_number: r.number,
            outcome: r.outcome.map(|o| o.to_string()),
            duration_ms: r.duration_ms,
            response_body: r.response_body.clone(),
            error_message: r.error.clone(),
            failure_reason: r.failure_reason,
        }
    }
}

/// A page of the search.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSearchPage {
    /// The runs found, newest first: those not finished yet (newest created first), then the
    /// finished ones (newest finished first).
    pub results: Vec<FoundRun>,
    /// Where to go on from (pass it as `cursor`); absent when the search is complete. A page
    /// can hold fewer runs than `limit`, even none, and still have a cursor: each call reads
    /// a bounded part of the tenant's runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The next page's URL (this request's filters and `cursor`); absent with `cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_url: Option<String>,
    /// Index entries this page examined.
    pub examined: u64,
}

fn bad(msg: String) -> ApiError {
    ApiError::BadRequest(msg)
}

/// A comma-separated list of names of `T` (`None`: the parameter is absent).
fn names<T: FromStr + Copy>(
    v: Option<&str>,
    field: &str,
    all: &[T],
    shown: fn(T) -> &'static str,
) -> ApiResult<Vec<T>> {
    let Some(v) = v else { return Ok(vec![]) };
    v.split(',')
        .map(|n| {
            n.trim().parse::<T>().map_err(|_| {
                let known: Vec<&str> = all.iter().map(|t| shown(*t)).collect();
                bad(format!(
                    "'{field}' must be a comma-separated list of {}; got '{n}'",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// `httpStatus`: codes, classes (`5xx`) and ranges (`500-504`) of 100 to 599.
fn http_ranges(v: Option<&str>) -> ApiResult<Vec<(u16, u16)>> {
    let Some(v) = v else { return Ok(vec![]) };
    let code = |s: &str| s.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
    v.split(',')
        .map(|p| {
            let p = p.trim();
            let range = if let Some(class) = p.strip_suffix("xx").or_else(|| p.strip_suffix("XX")) {
                class
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (1..=5).contains(c))
                    .map(|c| (c * 100, c * 100 + 99))
            } else if let Some((a, b)) = p.split_once('-') {
                code(a).zip(code(b)).filter(|(a, b)| a <= b)
            } else {
                code(p).map(|c| (c, c))
            };
            range.ok_or_else(|| {
                bad(format!(
                    "'httpStatus' must be a comma-separated list of codes (503), classes (5xx) or ranges (500-504) within 100-599; got '{p}'"
                ))
            })
        })
        .collect()
}

fn number(v: Option<&str>, field: &str) -> ApiResult<Option<u64>> {
    v.map(|s| {
        s.trim().parse::<u64>().map_err(|_| {
            bad(format!(
                "'{field}' must be a non-negative integer, got '{s}'"
            ))
        })
    })
    .transpose()
}

/// The search a request asks for.
fn search_of(tenant: &str, p: &RunSearchQuery) -> ApiResult<RunSearch> {
    let mut q = RunSearch::new(tenant);
    q.statuses = names(
        p.status.as_deref(),
        "status",
        RunStatus::ALL,
        RunStatus::as_str,
    )?;
    q.states = names(p.state.as_deref(), "state", RunState::ALL, RunState::as_str)?;
    q.outcomes = names(
        p.outcome.as_deref(),
        "outcome",
        Outcome::ALL,
        Outcome::as_str,
    )?;
    q.job = number(p.jobId.as_deref(), "jobId")?;
    q.from_ms = date_param(p.from.as_deref(), "from")?;
    q.to_ms = date_param(p.to.as_deref(), "to")?;
    if let (Some(a), Some(b)) = (q.from_ms, q.to_ms) {
        if a > b {
            return Err(bad("'from' is after 'to'".into()));
        }
    }
    q.http = http_ranges(p.httpStatus.as_deref())?;
    q.duration_above_ms = number(p.durationAbove.as_deref(), "durationAbove")?;
    if let Some(text) = p.bodyContains.as_deref() {
        if text.is_empty() || text.chars().count() > 200 {
            return Err(bad("'bodyContains' must be 1 to 200 characters".into()));
        }
        q.body_contains = Some(text.to_string());
    }
    q.size = number(p.limit.as_deref(), "limit")?.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&q.size) {
        return Err(bad(format!("'limit' must be between 1 and {MAX_LIMIT}")));
    }
    if let Some(c) = p.cursor.as_deref() {
        let raw = URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| is_search_cursor(s))
            .ok_or_else(|| bad("'cursor' is not a cursor this search answered".into()))?;
        q.cursor = Some(raw);
    }
    Ok(q)
}

/// The query string without its `cursor` parameter.
fn without_cursor(raw: Option<&str>) -> String {
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish()
}

#[utoipa::path(
    get, path = "/scheduler/runs", tag = "sap", operation_id = "searchRuns",
    summary = "Search all of the tenant's runs",
    description = "Every run of the tenant that passes the filters (each optional, all \
        combined), newest first: runs not finished yet first, then the finished ones by when \
        they finished. Paged with a cursor: follow `nextUrl` (or pass `cursor`) until it is \
        absent. Each page reads a bounded part of the tenant's runs (5,000 index entries, \
        500 records), so a page can hold fewer runs than `limit`, even none, and still go \
        on. Served from indexes: with `jobId`, the job's runs; with an outcome (or states \
        of one outcome), the tenant's runs of that outcome; else all of the tenant's runs.",
    params(RunSearchQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunSearchPage),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []), ("oauth2" = []))
)]
pub async fn search_runs(
    State(s): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
    QueryOf(p): QueryOf<RunSearchQuery>,
) -> ApiResult<Json<RunSearchPage>> {
    tenant.require("read")?;
    let q = search_of(&tenant.id, &p)?;
    let page = s.store.search_runs(&q).await?;
    let cursor = page.cursor.map(|c| URL_SAFE_NO_PAD.encode(c));
    let next_url = cursor.as_ref().map(|c| {
        let rest = without_cursor(raw.as_deref());
        let sep = if rest.is_empty() { "" } else { "&" };
        format!("/scheduler/runs?{rest}{sep}cursor={c}")
    });
    Ok(Json(RunSearchPage {
        results: page.runs.iter().map(FoundRun::from).collect(),
        cursor,
        next_url,
        examined: page.examined,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_read_as_ranges() {
        assert_eq!(
            http_ranges(Some("5xx,429, 500-504")).unwrap(),
            vec![(500, 599), (429, 429), (500, 504)]
        );
        for bad in ["6xx", "0xx", "99", "600", "504-500", "abc", ""] {
            assert!(http_ranges(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_next_url_keeps_every_filter_but_the_cursor() {
        assert_eq!(
            without_cursor(Some("outcome=failure&cursor=abc&bodyContains=a%20b")),
            "outcome=failure&bodyContains=a+b"
        );
        assert_eq!(without_cursor(None), "");
    }
}
