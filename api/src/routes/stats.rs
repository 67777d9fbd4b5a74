//! chime's run statistics of a job: `GET /scheduler/jobs/{jobId}/stats?from=&to=`, its runs
//! finished in a window (counts, success rate, latency percentiles, failure reasons), read
//! from the job's runs stream.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::lookup::load_job;
use crate::query::{date_param, QueryOf};
use crate::state::AppState;
use crate::wire::params::StatsQuery;
use crate::wire::stats::{JobStats, Latency, StatsBucket};
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
    let buckets = buckets(q.buckets.as_deref())?;
    let job = load_job(&s, &tenant, &raw).await?;
    Ok(Json(
        job_stats_of(&s, &tenant.id, job.id, (from, to), buckets).await?,
    ))
}

/// The statistics of `job`'s runs finished within `window` (ms, inclusive), with a series of
/// `buckets` equal spans when asked, as `GET /scheduler/jobs/{jobId}/stats` answers them.
pub(crate) async fn job_stats_of(
    s: &AppState,
    tenant: &str,
    job: u64,
    (from, to): (i64, i64),
    buckets: Option<u32>,
) -> ApiResult<JobStats> {
    let st = s
        .store
        .job_run_stats(tenant, job, from, to, MAX_RUNS_READ)
        .await?;
    Ok(JobStats {
        job_id: job,
        from: format_instant(from),
        to: format_instant(to),
        total: st.total,
        success: st.success,
        failure: st.total - st.success,
        success_rate: (st.total > 0).then(|| st.success as f64 / st.total as f64),
        latency_ms: Latency::of(st.durations),
        series: buckets.map(|n| series(&st.runs, from, to, n)),
        failure_reasons: st.reasons,
        sampled: st.sampled,
    })
}

/// The `buckets` parameter: 1 to 500; a 400 naming it otherwise.
fn buckets(v: Option<&str>) -> ApiResult<Option<u32>> {
    v.map(|v| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "'buckets' must be an integer from 1 to 500, got '{v}'"
                ))
            })
    })
    .transpose()
}

/// `runs` (finish instant, success, duration) of the window `from..=to` in `n` equal spans.
fn series(runs: &[(i64, bool, Option<u64>)], from: i64, to: i64, n: u32) -> Vec<StatsBucket> {
    let n = i64::from(n);
    let edge = |i: i64| from + (to - from) * i / n;
    let mut spans: Vec<(u64, u64, Vec<u64>)> = vec![(0, 0, vec![]); n as usize];
    for &(at, ok, duration) in runs {
        if at < from || at > to {
            continue;
        }
        // The span whose [start, next start) holds `at`; the window's end goes to the last.
        let i = ((at - from) * n / (to - from).max(1)).clamp(0, n - 1) as usize;
        let span = &mut spans[i];
        span.0 += 1;
        span.1 += u64::from(ok);
        span.2.extend(duration);
    }
    spans
        .into_iter()
        .enumerate()
        .map(|(i, (total, success, durations))| StatsBucket {
            from: format_instant(edge(i as i64)),
            to: format_instant(edge(i as i64 + 1)),
            total,
            success,
            failure: total - success,
            latency_ms: Latency::of(durations),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_puts_each_run_in_its_span_and_the_end_in_the_last() {
        let runs = [
            (1_000, true, Some(5)),
            (1_999, false, None),
            (2_000, true, Some(7)),
            (4_000, true, Some(9)),
            (999, true, Some(1)),
        ];
        let s = series(&runs, 1_000, 4_000, 3);
        let counts: Vec<(u64, u64)> = s.iter().map(|b| (b.total, b.success)).collect();
        assert_eq!(counts, [(2, 1), (1, 1), (1, 1)]);
        assert_eq!(s[0].from, format_instant(1_000));
        assert_eq!(s[2].to, format_instant(4_000));
        assert_eq!(s[0].latency_ms.as_ref().unwrap().max, 5);
        assert!(buckets(Some("0")).is_err());
        assert!(buckets(Some("501")).is_err());
        assert_eq!(buckets(Some("24")).unwrap(), Some(24));
    }

    fn q(from: Option<&str>, to: Option<&str>) -> StatsQuery {
        StatsQuery {
            from: from.map(String::from),
            to: to.map(String::from),
            buckets: None,
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
