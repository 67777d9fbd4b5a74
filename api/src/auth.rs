//! Who is calling: the admin (by the configured token) or a tenant (by an API key).
//!
//! A key is accepted as `Authorization: Bearer <id>.<secret>`, `Authorization: Basic
//! base64(<id>:<secret>)`, or `X-API-Key: <id>` with `X-API-Secret: <secret>`; an OAuth
//! access token of a key ([`crate::oauth`]) as `Authorization: Bearer <jwt>`. Secrets are
//! stored as SHA-256 digests and compared in constant time. The key is read on every request
//! (one `HGETALL`), so a revoked or expired key fails from the next request on, on every API
//! replica.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;
use chime_store::{hash_secret, ApiKey};

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

/// What a request presents: a key (`<id>`, `<secret>`) or an OAuth access token.
enum Presented {
    Key(String, String),
    Token(String),
}

fn credentials(headers: &HeaderMap) -> Result<Option<Presented>, ApiError> {
    let bad = || ApiError::Unauthorized("malformed credentials".into());
    let key = |(id, secret): (&str, &str)| Presented::Key(id.to_string(), secret.to_string());
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| bad())?.trim();
        let (scheme, rest) = v.split_once(' ').ok_or_else(bad)?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if crate::tokens::is_jwt(rest) {
                return Ok(Some(Presented::Token(rest.to_string())));
            }
            return Ok(Some(key(rest.split_once('.').ok_or_else(bad)?)));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            return Ok(Some(key(text.split_once(':').ok_or_else(bad)?)));
        }
        return Err(ApiError::Unauthorized(format!(
            "unsupported authorization scheme '{scheme}'"
        )));
    }
    if let Some(v) = headers.get("x-auth-token") {
        let v = v.to_str().map_err(|_| bad())?.trim();
        return Ok(Some(key(v.split_once('.').ok_or_else(bad)?)));
    }
    match (headers.get("x-api-key"), headers.get("x-api-secret")) {
        (Some(id), Some(secret)) => Ok(Some(key((
            id.to_str().map_err(|_| bad())?,
            secret.to_str().map_err(|_| bad())?,
        )))),
        (Some(_), None) => Err(ApiError::Unauthorized(
            "X-API-Key given without X-API-Secret".into(),
        )),
        _ => Ok(None),
    }
}

/// Whether `a` and `b` are equal, in time that depends on their length only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Authenticates the key or OAuth access token presented in `headers` (or `fallback`, e.g. a
/// `token` query parameter, as `<id>.<secret>` or a token), then admits the request under the
/// key's and the tenant's request rates ([`crate::ratelimit`]). Errors are `Unauthorized`,
/// `RateLimited`, `Unavailable` or `Internal`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    fallback: Option<&str>,
) -> Result<Tenant, ApiError> {
    let tenant = identify(state, headers, fallback).await?;
    state
        .limits
        .admit(&state.store, &tenant.id, &tenant.key_id)
        .await?;
    Ok(tenant)
}

/// Who the credentials of a request name (no rate limit).
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    fallback: Option<&str>,
) -> Result<Tenant, ApiError> {
    let presented = match credentials(headers)? {
        Some(c) => c,
        None => {
            let token = fallback.ok_or_else(|| {
                ApiError::Unauthorized("missing credentials: send an API key".into())
            })?;
            if crate::tokens::is_jwt(token) {
                Presented::Token(token.to_string())
            } else {
                let (id, secret) = token
                    .split_once('.')
                    .ok_or_else(|| ApiError::Unauthorized("malformed credentials".into()))?;
                Presented::Key(id.to_string(), secret.to_string())
            }
        }
    };
    match presented {
        Presented::Key(id, secret) => {
            let key = verify_key(state, &id, &secret).await?;
            Ok(Tenant {
                id: key.tenant,
                key_id: key.id,
                scopes: key.scopes,
            })
        }
        Presented::Token(token) => {
            let claims = state
                .tokens
                .verify(&token)
                .ok_or_else(|| ApiError::Unauthorized("invalid or expired access token".into()))?;
            // The key the token was issued for still decides: revoked or expired, the token
            // ends with it; its scopes now bound the token's.
            let key = live_key(state, &claims.sub).await?;
            if key.tenant != claims.zid {
                return Err(ApiError::Unauthorized("invalid access token".into()));
            }
            let scopes = claims
                .scope
                .into_iter()
                .filter(|s| key.scopes.iter().any(|k| k == s || k == "admin"))
                .collect();
            Ok(Tenant {
                id: key.tenant,
                key_id: key.id,
                scopes,
            })
        }
    }
}

/// The key `id` if its secret is `secret` and it has not expired; notes its use.
pub async fn verify_key(state: &AppState, id: &str, secret: &str) -> Result<ApiKey, ApiError> {
    if id.is_empty() || id.len() > 64 {
        return Err(ApiError::Unauthorized("invalid API key".into()));
    }
    let key = state
        .store
        .api_key(id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("invalid API key".into()))?;
    if !constant_time_eq(hash_secret(secret).as_bytes(), key.secret_sha256.as_bytes()) {
        return Err(ApiError::Unauthorized("invalid API key".into()));
    }
    live_key_checked(state, key).await
}

/// The key `id`, unexpired (an access token's key); notes its use.
async fn live_key(state: &AppState, id: &str) -> Result<ApiKey, ApiError> {
    let key =
        state.store.api_key(id).await?.ok_or_else(|| {
            ApiError::Unauthorized("the access token's API key is revoked".into())
        })?;
    live_key_checked(state, key).await
}

async fn live_key_checked(state: &AppState, key: ApiKey) -> Result<ApiKey, ApiError> {
    let now = chrono::Utc::now().timestamp_millis();
    if key.expired(now) {
        return Err(ApiError::Unauthorized("the API key has expired".into()));
    }
    if let Err(e) = state.store.key_used(&key, now).await {
        tracing::warn!(key = %key.id, error = %e, "could not note the API key's use");
    }
    Ok(key)
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

/// The operator, authenticated by an admin token (`CHIME_ADMIN_TOKEN`, or a line of
/// `CHIME_ADMIN_TOKEN_FILE`).
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
        if state.admin_tokens.accepts(given.trim()) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized("invalid admin token".into()))
        }
    }
}

/// The admin tokens: the `admin_token` setting's, and each line of the file `admin_token_file`
/// names, read again whenever the file changes: tokens rotate without a restart (write the new
/// token beside the old, move the operators over, remove the old line).
pub struct AdminTokens {
    fixed: Option<String>,
    file: Option<std::path::PathBuf>,
    /// The file's tokens and the metadata they were read at.
    read: std::sync::Mutex<(Option<FileStamp>, Vec<String>)>,
}

/// A file's modification time and length: a change of either is a new file.
type FileStamp = (std::time::SystemTime, u64);

impl AdminTokens {
    /// The tokens of the settings; an error when there is none at all.
    pub fn new(fixed: Option<String>, file: Option<String>) -> anyhow::Result<AdminTokens> {
        let tokens = AdminTokens {
            fixed: fixed.filter(|t| !t.trim().is_empty()),
            file: file.filter(|f| !f.is_empty()).map(Into::into),
            read: std::sync::Mutex::new((None, vec![])),
        };
        if let Some(path) = &tokens.file {
            std::fs::metadata(path)
                .map_err(|e| anyhow::anyhow!("CHIME_ADMIN_TOKEN_FILE {}: {e}", path.display()))?;
        }
        if tokens.fixed.is_none() && tokens.file_tokens().is_empty() {
            anyhow::bail!(
                "CHIME_ADMIN_TOKEN (or CHIME_ADMIN_TOKEN_FILE, one token a line) must be set for the API"
            );
        }
        Ok(tokens)
    }

    /// Whether `given` is one of the tokens (each compared in constant time).
    pub fn accepts(&self, given: &str) -> bool {
        let mut ok = false;
        if let Some(t) = &self.fixed {
            ok |= constant_time_eq(given.as_bytes(), t.as_bytes());
        }
        for t in self.file_tokens() {
            ok |= constant_time_eq(given.as_bytes(), t.as_bytes());
        }
        ok && !given.is_empty()
    }

    /// Whether `digest` is the SHA-256 (hex) of one of the tokens (a dashboard session's
    /// admin token: removing the token ends the session).
    pub fn accepts_digest(&self, digest: &str) -> bool {
        let mut ok = false;
        for t in self.fixed.iter().cloned().chain(self.file_tokens()) {
            ok |= constant_time_eq(hash_secret(&t).as_bytes(), digest.as_bytes());
        }
        ok && !digest.is_empty()
    }

    /// The file's tokens, read again when its modification time or length changed; none when
    /// it cannot be read (a missing file accepts no token of its own).
    fn file_tokens(&self) -> Vec<String> {
        let Some(path) = &self.file else {
            return vec![];
        };
        let stamp = std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if stamp.is_none() {
            *read = (None, vec![]);
        } else if read.0 != stamp {
            let tokens = std::fs::read_to_string(path)
                .map(|text| {
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            *read = (stamp, tokens);
        }
        read.1.clone()
    }
}
