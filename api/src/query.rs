//! Query-string parameters and paging, shared by the SAP routes, the dialects and the
//! extras: every parser's error names the parameter.

use crate::error::{ApiError, ApiResult};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// A request's query string as a map (the dialects read it into their parameter type with
/// [`typed`] inside their handlers, so that an error takes their shape).
pub type Params = HashMap<String, String>;
/// The extractor of [`Params`].
pub type Q = Query<Params>;

/// The query string read into `T`, a type of `Option<String>` fields that names and (with
/// `IntoParams`) documents the parameters a route reads; the handler parses the values, and
/// its errors name the parameter. A repeated parameter counts once (the last).
pub fn typed<T: DeserializeOwned>(q: Params) -> ApiResult<T> {
    let map: serde_json::Map<String, serde_json::Value> = q
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
}

/// The extractor of a parameter type `T` (see [`typed`]). A query string that cannot be
/// decoded at all is refused as axum refuses it.
pub struct QueryOf<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryOf<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(q) = Q::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        typed(q).map(QueryOf).map_err(IntoResponse::into_response)
    }
}

/// Parses a non-negative integer query parameter; the error names it.
pub fn query_u64(v: Option<&str>, name: &str, ctx: &str) -> ApiResult<Option<u64>> {
    match v {
        None => Ok(None),
        Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            ApiError::BadRequest(format!(
                "{ctx}: '{name}' must be a non-negative integer, got '{v}'"
            ))
        }),
    }
}

/// Parses an integer query parameter; `Err` names it.
pub fn int_param(v: Option<&str>, name: &str) -> Result<Option<i64>, String> {
    match v {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("'{name}' must be an integer, got '{v}'")),
    }
}

/// Parses an ISO 8601 instant (RFC 3339, or a bare date meaning its midnight UTC).
pub fn parse_iso(s: &str) -> Option<i64> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

/// An optional ISO 8601 query parameter in milliseconds; the error names it.
pub fn date_param(v: Option<&str>, name: &str) -> ApiResult<Option<i64>> {
    v.map(|v| {
        parse_iso(v).ok_or_else(|| {
            ApiError::BadRequest(format!("'{name}' must be an ISO 8601 date, got '{v}'"))
        })
    })
    .transpose()
}

/// `true` when a flag parameter is `true`.
pub fn flag(v: Option<&str>) -> bool {
    v == Some("true")
}

/// The `next_url` and `prev_url` of an offset page of `total` items listed at the path `base`.
pub fn offset_links(
    base: &str,
    offset: u64,
    size: u64,
    total: u64,
) -> (Option<String>, Option<String>) {
    let next = (offset + size < total)
        .then(|| format!("{base}?page_size={size}&offset={}", offset + size));
    let prev = (offset > 0).then(|| {
        format!(
            "{base}?page_size={size}&offset={}",
            offset.saturating_sub(size)
        )
    });
    (next, prev)
}

/// SAP run-log paging, as chime reads the seed: without `page_size` and `offset` at most 200
/// runs; with only `offset`, 10 runs. `offset` is 1-based: 0 and 1 (the default) skip nothing,
/// `offset=n` starts at the n-th newest run. `page_size` is 1..=200. Returns (skip, size).
pub fn run_paging(page_size: Option<&str>, offset: Option<&str>) -> ApiResult<(u64, u64)> {
    let ctx = "Error while fetching run logs";
    let size = match page_size {
        None => None,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => Some(n as u64),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "{ctx}: 'page_size' must be an integer from 1 to 200, got '{v}'"
                )))
            }
        },
    };
    let offset = match offset {
        None => None,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "{ctx}: 'offset' must be a non-negative integer, got '{v}'"
                )))
            }
        },
    };
    let size = match (size, offset) {
        (Some(sz), _) => sz,
        (None, Some(_)) => 10,
        (None, None) => 200,
    };
    Ok((offset.unwrap_or(1).saturating_sub(1), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(pairs: &[(&str, &str)]) -> ApiResult<(u64, u64)> {
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        run_paging(get("page_size"), get("offset"))
    }

    #[test]
    fn sap_run_paging() {
        assert_eq!(paging(&[]).unwrap(), (0, 200));
        assert_eq!(paging(&[("offset", "1")]).unwrap(), (0, 10));
        assert_eq!(paging(&[("offset", "0")]).unwrap(), (0, 10));
        assert_eq!(
            paging(&[("offset", "4"), ("page_size", "3")]).unwrap(),
            (3, 3)
        );
        assert_eq!(paging(&[("page_size", "3")]).unwrap(), (0, 3));
        for bad in [
            ("page_size", "-1"),
            ("page_size", "0"),
            ("page_size", "201"),
            ("page_size", "x"),
            ("offset", "-2"),
        ] {
            let e = paging(&[bad]).unwrap_err().to_string();
            assert!(e.contains(bad.0), "{e}");
        }
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso("2024-01-01T00:00:00Z"), Some(1_704_067_200_000));
        assert_eq!(parse_iso("2024-01-01"), Some(1_704_067_200_000));
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn offset_page_links() {
        assert_eq!(
            offset_links("/x", 0, 10, 25),
            (Some("/x?page_size=10&offset=10".into()), None)
        );
        assert_eq!(
            offset_links("/x", 20, 10, 25),
            (None, Some("/x?page_size=10&offset=10".into()))
        );
    }
}
