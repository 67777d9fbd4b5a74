//! `POST /oauth/token`: the OAuth 2.0 client credentials grant (RFC 6749 §4.4), as SAP
//! clients fetch their tokens. Client id = API key id, client secret = the key's secret, by
//! HTTP Basic or in the form; the answer is an access token ([`crate::tokens`]) with the
//! key's scopes, or those asked for among them; errors are RFC 6749 §5.2's.

use crate::auth::{verify_key, SCOPES};
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

/// An access token answer (RFC 6749 §5.1).
#[derive(Serialize, ToSchema, Debug)]
pub struct TokenAnswer {
    /// The JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires (`CHIME_TOKEN_TTL_SECS`).
    pub expires_in: u64,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The token's id.
    pub jti: String,
}

/// An OAuth error (RFC 6749 §5.2).
#[derive(Serialize, ToSchema, Debug)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type` or `invalid_scope`.
    pub error: &'static str,
    pub error_description: String,
}

/// The form of a token request, as documented (read from the raw body).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    /// `client_credentials`.
    grant_type: String,
    /// The API key's id, unless sent by HTTP Basic.
    client_id: Option<String>,
    /// The API key's secret, unless sent by HTTP Basic.
    client_secret: Option<String>,
    /// Scopes to grant, space-separated, among the key's (default: all of them).
    scope: Option<String>,
}

fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> Response {
    let mut r = (
        status,
        Json(OAuthError {
            error,
            error_description: description.into(),
        }),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"chime\""),
        );
    }
    r
}

/// A refused token request: its status, RFC 6749's error code and a description.
struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        oauth_error(self.0, self.1, self.2)
    }
}

fn invalid_request(description: impl Into<String>) -> Refusal {
    Refusal(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        description.into(),
    )
}

fn invalid_client(description: &str) -> Refusal {
    Refusal(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        description.into(),
    )
}

/// The client's id and secret: by HTTP Basic (each form-urlencoded, RFC 6749 §2.3.1) or in
/// the form, not both.
fn client_credentials(
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(String, String), Refusal> {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())?;
            let (id, secret) = raw.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let in_form = (field("client_id"), field("client_secret"));
    match (basic, in_form) {
        (Some(_), (Some(_), Some(_))) => Err(invalid_request(
            "the client authenticated both by HTTP Basic and in the form",
        )),
        (Some(Some(c)), _) => Ok(c),
        (Some(None), _) => Err(invalid_client("malformed HTTP Basic credentials")),
        (None, (Some(id), Some(secret))) => Ok((id, secret)),
        (None, _) => Err(invalid_client(
            "client authentication is required: HTTP Basic, or client_id and client_secret in the form",
        )),
    }
}

#[utoipa::path(
    post, path = "/oauth/token", tag = "oauth", operation_id = "oauthToken",
    summary = "An access token for an API key (OAuth 2.0 client credentials grant)",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded",
        description = "grant_type=client_credentials; client_id and client_secret unless sent by HTTP Basic; optional scope"),
    responses(
        (status = 200, description = "The access token", body = TokenAnswer),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_scope", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError),
        (status = 429, description = "The key or its tenant is over its request rate: SAP's error shape, with `Retry-After` and `throttling: 0`"),
    ),
    security(("clientBasic" = []), ())
)]
pub async fn token(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return invalid_request("the body must be application/x-www-form-urlencoded")
            .into_response();
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        None => return invalid_request("'grant_type' is required").into_response(),
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported: use client_credentials"),
            )
        }
    }
    let (id, secret) = match client_credentials(&headers, &form) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let key = match verify_key(&s, &id, &secret).await {
        Ok(key) => key,
        Err(ApiError::Unauthorized(why)) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why)
        }
        Err(e) => return e.into_response(),
    };
    // A token request counts against the key's and its tenant's request rates, as any call.
    if let Err(e) = s.limits.admit(&s.store, &key.tenant, &key.id).await {
        return e.into_response();
    }
    let scopes: Vec<String> = match field("scope").map(str::trim).filter(|s| !s.is_empty()) {
        None => key.scopes.clone(),
        Some(asked) => {
            let mut granted = Vec::new();
            for scope in asked.split(' ').filter(|s| !s.is_empty()) {
                let held = key.scopes.iter().any(|k| k == scope || k == "admin");
                if !held || !SCOPES.contains(&scope) {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        format!("scope '{scope}' is not one of the key's"),
                    );
                }
                if !granted.iter().any(|g| g == scope) {
                    granted.push(scope.to_string());
                }
            }
            granted
        }
    };
    let now = chrono::Utc::now().timestamp();
    let (access_token, claims) = s
        .tokens
        .issue_with_claims(&key.id, &key.tenant, &scopes, now);
    let jti = claims.jti;
    let mut r = Json(TokenAnswer {
        access_token,
        token_type: "bearer",
        expires_in: s.tokens.ttl_secs(),
        scope: scopes.join(" "),
        jti,
    })
    .into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}
