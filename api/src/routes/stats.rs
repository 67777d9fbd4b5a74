//! chime's run statistics of a job: `GET /scheduler/jobs/{jobId}/stats?from=&to=`, its runs
//! finished in a window (counts, success rate, latency percentiles, failure reasons), read
//! from the job's runs stream.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::lookup::load_job;
use crate::query::{date_param, QueryOf};
use crate::state::AppState;
use crate::wire::params::StatsQuery;
use crate::wire::stats::{JobStats, Latency};
use axum::extract::{Path, State};
use axum::Json;
use chime_core::time::format_instant;

/// The default window: the last day.
const DEFAULT_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// The longest window.
const MAX_WINDOW_MS: i64 = 31 * 24 * 3600 * 1000;
/// The most runs read for one answer (`sampled` beyond).
pub const MAX_RUNS_READ: usize = 100_000;

/// The window of `q` in ms, `now` the default end; a 400 naming the parameter when it is
/// not ISO 8601, ends before it starts, or is longer than 31 days.
fn window(q: &StatsQuery, now: i64) -> ApiResult<(i64, i64)> {
    let to = date_param(q.to.as_deref(), "to")?.unwrap_or(now);
    let from = date_param(q.from.as_deref(), "from")?.unwrap_or(to - DEFAULT_WINDOW_MS);
    if to <= from {
        return Err(ApiError::BadRequest(
            "'to' must be after 'from'".to_string(),
        ));
    }
    if to - from > MAX_WINDOW_MS {
        return Err(ApiError::BadRequest(
            "'to' must be at most 31 days after 'from'".to_string(),
        ));
    }
    Ok((from, to))
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/stats", tag = "sap", operation_id = "jobStats",
    summary = "A job's runs finished in a window: counts, success rate, latency percentiles and failure reasons",
    params(("jobId" = String, Path, description = "The job id"), StatsQuery),
    responses(
        (status = 200, description = "The job's run statistics", body = JobStats),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn job_stats(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    QueryOf(q): QueryOf<StatsQuery>,
) -> ApiResult<Json<JobStats>> {
    tenant.require("read")?;
    let (from, to) = window(&q, chrono::Utc::now().timestamp_millis())?;
    let job = load_job(&s, &tenant, &raw).await?;
    let st = s
        .store
        .job_run_stats(&tenant.id, job.id, from, to, MAX_RUNS_READ)
        .await?;
    Ok(Json(JobStats {
        job_id: job.id,
        from: format_instant(from),
        to: format_instant(to),
        total: st.total,
        success: st.success,
        failure: st.total - st.success,
        success_rate: (st.total > 0).then(|| st.success as f64 / st.total as f64),
        latency_ms: Latency::of(st.durations),
        failure_reasons: st.reasons,
        sampled: st.sampled,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: Option<&str>, to: Option<&str>) -> StatsQuery {
        StatsQuery {
            from: from.map(String::from),
            to: to.map(String::from),
        }
    }

    fn message(r: ApiResult<(i64, i64)>) -> String {
        match r {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {:?}", other.map_err(|e| e.to_string())),
        }
    }

    #[test]
    fn the_window_defaults_to_the_last_day_and_is_checked() {
        let now = 1_700_000_000_000;
        assert_eq!(
            window(&q(None, None), now).unwrap(),
            (now - DEFAULT_WINDOW_MS, now)
        );
        let (from, to) = window(
            &q(Some("2026-01-01T00:00:00Z"), Some("2026-01-02T00:00:00Z")),
            now,
        )
        .unwrap();
        assert_eq!(to - from, DEFAULT_WINDOW_MS);
        assert!(message(window(&q(Some("yesterday"), None), now)).contains("'from'"));
        assert!(message(window(&q(None, Some("soon")), now)).contains("'to'"));
        let backwards = q(Some("2026-01-02T00:00:00Z"), Some("2026-01-01T00:00:00Z"));
        assert!(message(window(&backwards, now)).contains("'to'"));
        let long = q(Some("2026-01-01T00:00:00Z"), Some("2026-02-02T00:00:00Z"));
        assert!(message(window(&long, now)).contains("31 days"));
    }
}
