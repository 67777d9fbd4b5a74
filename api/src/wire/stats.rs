//! A run's timing split as the API shows it, and a job's run statistics
//! (`GET /scheduler/jobs/{jobId}/stats`).

use chime_core::timing::Timing;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The parts of a call's duration that were measured, in ms from the call's start; a part
/// not known is absent (no `dnsMs` for an IP-literal host or a reused connection; `connectMs`
/// and `tlsMs` are not measured).
#[derive(Serialize, ToSchema, Debug, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct TimingView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<u64>,
    /// Until the answer's headers arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u64>,
    /// The whole call, reading the body included (the run's `durationMs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<u64>,
}

impl TimingView {
    /// The view of a split and a total; `None` when neither is known.
    pub fn of(timing: Option<Timing>, total_ms: Option<u64>) -> Option<TimingView> {
        if timing.is_none() && total_ms.is_none() {
            return None;
        }
        let t = timing.unwrap_or_default();
        Some(TimingView {
            dns_ms: t.dns_ms,
            connect_ms: t.connect_ms,
            tls_ms: t.tls_ms,
            first_byte_ms: t.first_byte_ms,
            total_ms,
        })
    }
}

/// Percentiles of the finished runs' `totalMs` (nearest rank); absent when no run of the
/// window has a duration.
#[derive(Serialize, ToSchema, Debug, PartialEq, Eq)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

/// A job's runs finished within a window.
#[derive(Serialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase")]
pub struct JobStats {
    pub job_id: u64,
    /// The window's start (ISO 8601, UTC), inclusive.
    pub from: String,
    /// The window's end (ISO 8601, UTC), inclusive.
    pub to: String,
    pub total: u64,
    pub success: u64,
    /// Every run that did not succeed (failure, error or timeout).
    pub failure: u64,
    /// `success / total`, `null` when there was no run.
    pub success_rate: Option<f64>,
    pub latency_ms: Option<Latency>,
    /// Failed runs by `failureReason` (runs without one are not counted here).
    pub failure_reasons: BTreeMap<String, u64>,
    /// The window held more runs than are read (the figures are of its oldest ones).
    pub sampled: bool,
    /// With `buckets`: the window cut into that many equal spans, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<StatsBucket>>,
}

/// A span of the window and its runs.
#[derive(Serialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase")]
pub struct StatsBucket {
    /// The span's start (ISO 8601, UTC), inclusive.
    pub from: String,
    /// The span's end (ISO 8601, UTC): the next span's start, the window's end for the last.
    pub to: String,
    pub total: u64,
    pub success: u64,
    pub failure: u64,
    /// The runs' call durations: nearest-rank percentiles and the longest; `null` when none.
    pub latency_ms: Option<Latency>,
}

impl Latency {
    /// Nearest-rank percentiles of `values` (sorted here); `None` when empty.
    pub fn of(mut values: Vec<u64>) -> Option<Latency> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let rank = |p: f64| {
            let n = values.len();
            let k = ((p * n as f64).ceil() as usize).clamp(1, n);
            values[k - 1]
        };
        Some(Latency {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: *values.last().unwrap_or(&0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        assert_eq!(Latency::of(vec![]), None);
        let l = Latency::of((1..=100).rev().collect()).unwrap();
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50, 90, 99, 100));
        let l = Latency::of(vec![7]).unwrap();
        assert_eq!((l.p50, l.p99, l.max), (7, 7, 7));
        let l = Latency::of(vec![10, 20, 30]).unwrap();
        assert_eq!((l.p50, l.p90, l.max), (20, 30, 30));
    }
}
