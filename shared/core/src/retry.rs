//! Retries of a failed call: a job's `retryPolicy` (Cloud Scheduler's model), which outcomes
//! are retried, the backoff with full jitter, and an answer's `Retry-After`.
//!
//! The delay before retry `k` (1 for the first retry) is `minBackoffSeconds` doubled `k - 1`
//! times while `k - 1 <= maxDoublings`, then growing linearly by `minBackoffSeconds *
//! 2^maxDoublings` a retry, capped at `maxBackoffSeconds`; the wait is drawn uniformly from
//! zero to that delay (full jitter), so clients that failed together do not retry together.
//! An answer's `Retry-After` replaces the drawn wait, capped at `maxBackoffSeconds`.

use crate::run::CallKind;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The most retries a run may have.
pub const MAX_RETRY_COUNT: u32 = 10;
/// The longest wait between two attempts, and the largest `minBackoffSeconds`.
pub const MAX_BACKOFF_SECONDS: u32 = 3600;
/// The largest `maxDoublings`.
pub const MAX_DOUBLINGS: u32 = 16;
/// The largest `maxRetrySeconds` (a week).
pub const MAX_RETRY_SECONDS: u32 = 604_800;

/// A job's retry policy. Defaults are Cloud Scheduler's, except `retryCount`: 0, SAP's
/// behaviour (one call).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Retries after the first call, 0 to 10.
    pub retry_count: u32,
    pub min_backoff_seconds: u32,
    pub max_backoff_seconds: u32,
    pub max_doublings: u32,
    /// No retry starts later than this after the first call began; 0: no limit.
    pub max_retry_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_count: 0,
            min_backoff_seconds: 5,
            max_backoff_seconds: 3600,
            max_doublings: 5,
            max_retry_seconds: 0,
        }
    }
}

impl RetryPolicy {
    /// The delay ceiling before retry `k` (1 for the first retry), before jitter.
    pub fn ceiling(&self, k: u32) -> Duration {
        let min = u64::from(self.min_backoff_seconds);
        let steps = u64::from(k.max(1) - 1);
        let doublings = steps.min(u64::from(self.max_doublings));
        let doubled = min.saturating_mul(1u64 << doublings.min(32));
        let linear = (steps - doublings).saturating_mul(doubled);
        let secs = doubled
            .saturating_add(linear)
            .min(u64::from(self.max_backoff_seconds));
        Duration::from_secs(secs)
    }

    /// The wait before retry `k` with full jitter: `unit` (uniform in `[0, 1)`) times the
    /// ceiling, or the answer's `Retry-After` capped at `maxBackoffSeconds` when it gave one.
    pub fn wait(&self, k: u32, unit: f64, retry_after: Option<Duration>) -> Duration {
        let max = Duration::from_secs(u64::from(self.max_backoff_seconds));
        match retry_after {
            Some(d) => d.min(max),
            None => self.ceiling(k).mul_f64(unit.clamp(0.0, 1.0)),
        }
    }

    /// Whether attempt `attempt` (1 for the first call), which failed in a retried way, gets
    /// another one starting `wait` from now, given that the first call began `since` ago.
    pub fn allows(&self, attempt: u32, since: Duration, wait: Duration) -> bool {
        attempt <= self.retry_count
            && (self.max_retry_seconds == 0
                || since + wait <= Duration::from_secs(u64::from(self.max_retry_seconds)))
    }
}

/// Why a failed call is retried (it had another attempt coming if its policy allows), or
/// `None` for an end that is final: a success, an acknowledgement (202), any 4xx but 408 and
/// 429, a blocked target, an action that could not be sent (`sent` false: an invalid URL or
/// header fails the same way every time).
pub fn retried(kind: CallKind, http_status: Option<u16>, sent: bool) -> Option<&'static str> {
    match (kind, http_status) {
        (CallKind::Timeout, _) => Some("timeout"),
        (CallKind::Error, None) if sent => Some("connection error"),
        (CallKind::Failure, Some(s)) if s >= 500 => Some("HTTP 5xx"),
        (CallKind::Failure, Some(408)) => Some("HTTP 408"),
        (CallKind::Failure, Some(429)) => Some("HTTP 429"),
        _ => None,
    }
}

/// An HTTP `Retry-After` value: delay seconds, or an HTTP date (its distance from `now_ms`,
/// zero when past). `None` when it is neither.
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = at.timestamp_millis() - now_ms;
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min: u32, max: u32, doublings: u32) -> RetryPolicy {
        RetryPolicy {
            retry_count: 10,
            min_backoff_seconds: min,
            max_backoff_seconds: max,
            max_doublings: doublings,
            max_retry_seconds: 0,
        }
    }

    #[test]
    fn the_ceiling_doubles_then_grows_linearly_then_caps() {
        // Cloud Tasks' own example: 10 s, 300 s, 3 doublings.
        let p = policy(10, 300, 3);
        let got: Vec<u64> = (1..=8).map(|k| p.ceiling(k).as_secs()).collect();
        assert_eq!(got, vec![10, 20, 40, 80, 160, 240, 300, 300]);
        let p = policy(1, 3600, 0);
        let got: Vec<u64> = (1..=4).map(|k| p.ceiling(k).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 3, 4]);
        assert_eq!(policy(3600, 3600, 16).ceiling(10).as_secs(), 3600);
    }

    #[test]
    fn full_jitter_draws_within_the_ceiling_and_retry_after_replaces_it() {
        let p = policy(10, 300, 3);
        assert_eq!(p.wait(3, 0.0, None), Duration::ZERO);
        assert_eq!(p.wait(3, 0.5, None), Duration::from_secs(20));
        assert_eq!(p.wait(3, 7.0, None), Duration::from_secs(40));
        let after = Some(Duration::from_secs(42));
        assert_eq!(p.wait(1, 0.1, after), Duration::from_secs(42));
        let far = Some(Duration::from_secs(4000));
        assert_eq!(p.wait(1, 0.1, far), Duration::from_secs(300));
    }

    #[test]
    fn retries_stop_at_the_count_or_the_duration_whichever_comes_first() {
        let mut p = policy(1, 10, 2);
        p.retry_count = 2;
        let s = Duration::from_secs;
        assert!(p.allows(1, s(0), s(1)));
        assert!(p.allows(2, s(0), s(1)));
        assert!(!p.allows(3, s(0), s(1)));
        p.max_retry_seconds = 5;
        assert!(p.allows(1, s(3), s(2)));
        assert!(!p.allows(1, s(3), s(3)));
        p.retry_count = 0;
        assert!(!p.allows(1, s(0), s(0)));
    }

    #[test]
    fn server_errors_timeouts_and_connection_errors_are_retried_other_ends_are_final() {
        use CallKind::*;
        for (kind, http) in [
            (Failure, Some(500)),
            (Failure, Some(503)),
            (Failure, Some(408)),
            (Failure, Some(429)),
            (Timeout, None),
            (Error, None),
        ] {
            assert!(retried(kind, http, true).is_some(), "{kind:?} {http:?}");
        }
        for (kind, http) in [
            (Success, Some(200)),
            (Accepted, Some(202)),
            (Failure, Some(400)),
            (Failure, Some(404)),
            (Failure, Some(418)),
            (Blocked, None),
        ] {
            assert!(retried(kind, http, true).is_none(), "{kind:?} {http:?}");
        }
        assert!(retried(Error, None, false).is_none());
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Fri, 04 Dec 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Fri, 04 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
