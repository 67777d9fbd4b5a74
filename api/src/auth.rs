//! Who is calling: the admin (by the configured token) or a tenant (by an API key).
//!
//! A key is accepted as `Authorization: Bearer <id>.<secret>`, `Authorization: Basic
//! base64(<id>:<secret>)`, or `X-API-Key: <id>` with `X-API-Secret: <secret>`. Secrets are
//! stored as SHA-256 digests and compared in constant time.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;
use chime_store::hash_secret;

/// A key's scopes.
pub const SCOPES: [&str; 4] = ["read", "write", "run-update", "admin"];

/// An authenticated tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub key_id: String,
    pub scopes: Vec<String>,
}

impl Tenant {
    /// 403 unless the key carries `scope` (or `admin`).
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope || s == "admin") {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the API key lacks the '{scope}' scope"
            )))
        }
    }

    /// 403 unless the key carries any of `scopes` (or `admin`).
    pub fn require_any(&self, scopes: &[&str]) -> Result<(), ApiError> {
        if self
            .scopes
            .iter()
            .any(|s| s == "admin" || scopes.contains(&s.as_str()))
        {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the API key lacks the '{}' scope",
                scopes.join("' or '")
            )))
        }
    }
}

fn credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    let bad = || ApiError::Unauthorized("malformed credentials".into());
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| bad())?.trim();
        let (scheme, rest) = v.split_once(' ').ok_or_else(bad)?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let (id, secret) = rest.split_once('.').ok_or_else(bad)?;
            return Ok(Some((id.to_string(), secret.to_string())));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            return Ok(Some((id.to_string(), secret.to_string())));
        }
        return Err(ApiError::Unauthorized(format!(
            "unsupported authorization scheme '{scheme}'"
        )));
    }
    if let Some(v) = headers.get("x-auth-token") {
        let v = v.to_str().map_err(|_| bad())?.trim();
        let (id, secret) = v.split_once('.').ok_or_else(bad)?;
        return Ok(Some((id.to_string(), secret.to_string())));
    }
    match (headers.get("x-api-key"), headers.get("x-api-secret")) {
        (Some(id), Some(secret)) => Ok(Some((
            id.to_str().map_err(|_| bad())?.to_string(),
            secret.to_str().map_err(|_| bad())?.to_string(),
        ))),
        (Some(_), None) => Err(ApiError::Unauthorized(
            "X-API-Key given without X-API-Secret".into(),
        )),
        _ => Ok(None),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Authenticates the key presented in `headers` (or `fallback`, e.g. a `token` query
/// parameter, as `<id>.<secret>`). Errors are `Unauthorized` or `Internal`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    fallback: Option<&str>,
) -> Result<Tenant, ApiError> {
    let (id, secret) = match credentials(headers)? {
        Some(c) => c,
        None => {
            let token = fallback.ok_or_else(|| {
                ApiError::Unauthorized("missing credentials: send an API key".into())
            })?;
            let (id, secret) = token
                .split_once('.')
                .ok_or_else(|| ApiError::Unauthorized("malformed credentials".into()))?;
            (id.to_string(), secret.to_string())
        }
    };
    if id.is_empty() || id.len() > 64 {
        return Err(ApiError::Unauthorized("invalid API key".into()));
    }
    let key = match state.key_cache.get(&id) {
        Some(k) => k,
        None => {
            let k = state
                .store
                .api_key(&id)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("invalid API key".into()))?;
            state.key_cache.put(k.clone());
            k
        }
    };
    if !constant_time_eq(
        hash_secret(&secret).as_bytes(),
        key.secret_sha256.as_bytes(),
    ) {
        return Err(ApiError::Unauthorized("invalid API key".into()));
    }
    Ok(Tenant {
        id: key.tenant,
        key_id: key.id,
        scopes: key.scopes,
    })
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers, None).await
    }
}

/// The operator, authenticated by `CHIME_ADMIN_TOKEN`.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::Unauthorized("missing admin token".into()))?;
        if constant_time_eq(given.trim().as_bytes(), state.admin_token.as_bytes()) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized("invalid admin token".into()))
        }
    }
}
