//! A job's execution policies in its request body: `retryPolicy` and `concurrencyPolicy`.

use super::bad;
use crate::error::ApiError;
use chime_core::model::ConcurrencyPolicy;
use chime_core::retry::{
    RetryPolicy, MAX_BACKOFF_SECONDS, MAX_DOUBLINGS, MAX_RETRY_COUNT, MAX_RETRY_SECONDS,
};
use serde_json::Value;

/// A job's `concurrencyPolicy` (`null` or absent: none, which is `allow`).
pub fn concurrency_policy(
    given: Option<&Value>,
    ctx: &str,
) -> Result<Option<ConcurrencyPolicy>, ApiError> {
    let Some(v) = given.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    v.as_str()
        .and_then(|s| s.parse::<ConcurrencyPolicy>().ok())
        .map(Some)
        .ok_or_else(|| {
            bad(format!(
                "{ctx}: 'concurrencyPolicy' must be 'allow', 'forbid' or 'replace', got {v}"
            ))
        })
}

/// The fields of `retryPolicy`, each with its range.
const RETRY_FIELDS: [(&str, u32, u32); 5] = [
    ("retryCount", 0, MAX_RETRY_COUNT),
    ("minBackoffSeconds", 0, MAX_BACKOFF_SECONDS),
    ("maxBackoffSeconds", 0, MAX_BACKOFF_SECONDS),
    ("maxDoublings", 0, MAX_DOUBLINGS),
    ("maxRetrySeconds", 0, MAX_RETRY_SECONDS),
];

/// A job's `retryPolicy` (`null` or absent: none). A field left out takes its default
/// (Cloud Scheduler's: 5 s, 3600 s, 5 doublings, no time limit; no retries); every error
/// names the field.
pub fn retry_policy(given: Option<&Value>, ctx: &str) -> Result<Option<RetryPolicy>, ApiError> {
    let Some(v) = given.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::Object(map) = v else {
        return Err(bad(format!(
            "{ctx}: 'retryPolicy' must be an object with retryCount, minBackoffSeconds, maxBackoffSeconds, maxDoublings and maxRetrySeconds"
        )));
    };
    if let Some(k) = map
        .keys()
        .find(|k| !RETRY_FIELDS.iter().any(|(f, _, _)| f == k))
    {
        return Err(bad(format!(
            "{ctx}: 'retryPolicy.{k}' is not a field of a retry policy"
        )));
    }
    let mut p = RetryPolicy::default();
    for (field, lo, hi) in RETRY_FIELDS {
        let Some(v) = map.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let n = v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "{ctx}: 'retryPolicy.{field}' must be an integer from {lo} to {hi}"
                ))
            })?;
        match field {
            "retryCount" => p.retry_count = n,
            "minBackoffSeconds" => p.min_backoff_seconds = n,
            "maxBackoffSeconds" => p.max_backoff_seconds = n,
            "maxDoublings" => p.max_doublings = n,
            _ => p.max_retry_seconds = n,
        }
    }
    if p.max_backoff_seconds < p.min_backoff_seconds {
        return Err(bad(format!(
            "{ctx}: 'retryPolicy.maxBackoffSeconds' ({}) must not be below 'retryPolicy.minBackoffSeconds' ({})",
            p.max_backoff_seconds, p.min_backoff_seconds
        )));
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(v: Value) -> String {
        match retry_policy(Some(&v), "ctx") {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("{v}: expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_policy_takes_defaults_for_the_fields_it_leaves_out() {
        let p = retry_policy(Some(&json!({"retryCount": 3})), "ctx")
            .unwrap()
            .unwrap();
        assert_eq!(
            p,
            RetryPolicy {
                retry_count: 3,
                ..RetryPolicy::default()
            }
        );
        assert_eq!(retry_policy(Some(&Value::Null), "ctx").unwrap(), None);
        assert_eq!(retry_policy(None, "ctx").unwrap(), None);
        let full = json!({"retryCount": 10, "minBackoffSeconds": 1, "maxBackoffSeconds": 2,
            "maxDoublings": 0, "maxRetrySeconds": 60});
        let p = retry_policy(Some(&full), "ctx").unwrap().unwrap();
        assert_eq!(serde_json::to_value(p).unwrap(), full);
    }

    #[test]
    fn a_concurrency_policy_is_one_of_three_names() {
        for name in ["allow", "forbid", "replace"] {
            let p = concurrency_policy(Some(&json!(name)), "ctx")
                .unwrap()
                .unwrap();
            assert_eq!(p.as_str(), name);
        }
        assert_eq!(concurrency_policy(Some(&Value::Null), "ctx").unwrap(), None);
        for bad in [json!("Forbid"), json!(1), json!({}), json!("skip")] {
            match concurrency_policy(Some(&bad), "ctx") {
                Err(ApiError::BadRequest(m)) => assert!(m.contains("'concurrencyPolicy'"), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        for (body, field) in [
            (json!([]), "'retryPolicy'"),
            (json!({"retryCount": 11}), "'retryPolicy.retryCount'"),
            (json!({"retryCount": -1}), "'retryPolicy.retryCount'"),
            (json!({"retryCount": "3"}), "'retryPolicy.retryCount'"),
            (json!({"retryCount": 1.5}), "'retryPolicy.retryCount'"),
            (
                json!({"minBackoffSeconds": 3601}),
                "'retryPolicy.minBackoffSeconds'",
            ),
            (
                json!({"maxBackoffSeconds": 1, "minBackoffSeconds": 2}),
                "'retryPolicy.maxBackoffSeconds'",
            ),
            (json!({"maxDoublings": 17}), "'retryPolicy.maxDoublings'"),
            (
                json!({"maxRetrySeconds": 604_801}),
                "'retryPolicy.maxRetrySeconds'",
            ),
            (json!({"retries": 3}), "'retryPolicy.retries'"),
        ] {
            let m = error(body.clone());
            assert!(m.contains(field), "{body}: {m}");
        }
    }
}
