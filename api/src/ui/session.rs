//! Sign-in, sign-out and the session: a token pasted into the sign-in page is checked as the
//! API checks it (an API key's `<id>.<secret>`, or an admin token); a session is then stored
//! in Redis under a random 256-bit id, which the browser holds in the cookie `chime_session`
//! (`HttpOnly`, `SameSite=Strict`, `Path=/ui`, and `Secure` when the public URL is https).
//! The session names the API key only: the key is read on every request, so revoking it (or
//! its expiry) ends the session; an admin session names the admin token's digest, so removing
//! the token ends it.
//!
//! Every form that changes something is a POST carrying the session's CSRF token (compared in
//! constant time), and is refused unless it comes from this origin (`Origin`,
//! `Sec-Fetch-Site`).

use crate::auth::{constant_time_eq, verify_key, Tenant};
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::layout::{self, Nav};
use crate::ui::{UiError, UiResult};
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use chime_store::{hash_secret, UiSession};
use maud::html;
use rand::RngCore;
use serde::Deserialize;

/// The session cookie's name.
pub const COOKIE: &str = "chime_session";
/// How long a session lasts.
pub const SESSION_TTL_SECS: u64 = 12 * 3600;

/// Who a session is.
pub enum Who {
    Tenant(Tenant),
    Admin,
}

/// A request's session, checked.
pub struct Signed {
    /// The cookie's value.
    pub id: String,
    pub session: UiSession,
    pub who: Who,
}

impl Signed {
    /// The session's tenant; an admin's session has none (its pages are the admin's).
    pub fn tenant(&self) -> UiResult<&Tenant> {
        match &self.who {
            Who::Tenant(t) => Ok(t),
            Who::Admin => Err(UiError::Admin),
        }
    }

    /// Refuses a tenant's session the admin's pages: they do not exist for it (404).
    pub fn require_admin(&self) -> UiResult<()> {
        match self.who {
            Who::Admin => Ok(()),
            Who::Tenant(_) => Err(UiError::Api(ApiError::NotFound(
                "There is no such page.".into(),
            ))),
        }
    }

    /// The page header's view of the session.
    pub fn nav(&self) -> Nav<'_> {
        let (label, admin) = match &self.who {
            Who::Tenant(t) => (format!("tenant {} · key {}", t.id, t.key_id), false),
            Who::Admin => ("admin".to_string(), true),
        };
        Nav {
            label,
            csrf: &self.session.csrf,
            admin,
        }
    }

    /// Refuses a form unless it comes from this origin and carries the session's CSRF token.
    pub fn check_form(&self, s: &AppState, headers: &HeaderMap, csrf: &str) -> UiResult<()> {
        let token = &self.session.csrf;
        if same_origin(s, headers)
            && !token.is_empty()
            && constant_time_eq(csrf.as_bytes(), token.as_bytes())
        {
            Ok(())
        } else {
            Err(UiError::Forged)
        }
    }
}

/// The session id a request's cookies carry (64 hex digits), if any.
fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> UiResult<Signed> {
        let id = cookie_value(&parts.headers).ok_or(UiError::SignIn)?;
        let session = s.store.ui_session(&id).await?.ok_or(UiError::SignIn)?;
        let who = match &session.admin_digest {
            Some(digest) if s.admin_tokens.accepts_digest(digest) => Who::Admin,
            Some(_) => return Err(UiError::SignIn),
            None => {
                let now = chrono::Utc::now().timestamp_millis();
                let key = s
                    .store
                    .api_key(&session.key_id)
                    .await?
                    .filter(|k| k.tenant == session.tenant && !k.expired(now))
                    .ok_or(UiError::SignIn)?;
                s.limits.admit(&s.store, &key.tenant, &key.id).await?;
                Who::Tenant(Tenant {
                    id: key.tenant,
                    key_id: key.id,
                    scopes: key.scopes,
                })
            }
        };
        Ok(Signed { id, session, who })
    }
}

/// Whether a form comes from a page of this origin: `Sec-Fetch-Site` (when the browser sends
/// it) says `same-origin`, and `Origin` (when sent) is the request's host or the public URL's
/// origin.
pub fn same_origin(s: &AppState, headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" {
            return false;
        }
    }
    let Some(origin) = text("origin") else {
        return true;
    };
    let public = s.settings.public_url.trim_end_matches('/');
    let host_of = |o: &str| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
            .map(str::to_string)
    };
    let own_host = text("host");
    origin.eq_ignore_ascii_case(public)
        || (host_of(origin).is_some() && host_of(origin).as_deref() == own_host)
}

/// A form that failed to parse, as a page of its status (413 for one too large).
pub fn form_error(e: FormRejection) -> UiError {
    let status = e.status();
    let message = e.body_text();
    UiError::Api(if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(0)
    } else {
        ApiError::BadRequest(message)
    })
}

/// A form's CSRF token (every state-changing form has one).
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

fn random_hex() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The sign-in page, with `problem` said above the form.
fn login_form(status: StatusCode, problem: Option<&str>) -> Response {
    let body = html! {
        @if let Some(p) = problem { p.error role="alert" { (p) } }
        form.login method="post" action="/ui/login" {
            label for="token" { "API key token" }
            p.hint id="token-hint" {
                "Paste an API key's token (" code { "<key id>.<secret>" } ") or the admin token."
            }
            input #token type="password" name="token" required autocomplete="off"
                autofocus aria-describedby="token-hint";
            button type="submit" { "Sign in" }
        }
    };
    layout::respond(status, layout::page("Sign in", None, body))
}

/// `GET /ui/login`.
pub async fn login_page() -> Response {
    login_form(StatusCode::OK, None)
}

/// The `Set-Cookie` value of session `id` (an empty value and no age: the cookie's removal).
fn cookie(s: &AppState, id: &str, max_age: u64) -> String {
    let secure = if s.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// `POST /ui/login`: opens a session for a valid token and goes to the jobs (the admin: to
/// the operations page); an invalid token is the form again, 401.
pub async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> UiResult<Response> {
    if !same_origin(&s, &headers) {
        return Err(UiError::Forged);
    }
    let Form(form) = form.map_err(form_error)?;
    let token = form.token.trim();
    let refused = || {
        Ok(login_form(
            StatusCode::UNAUTHORIZED,
            Some("That token was not accepted."),
        ))
    };
    if token.is_empty() {
        return Ok(login_form(StatusCode::BAD_REQUEST, Some("Paste a token.")));
    }
    let mut session = if s.admin_tokens.accepts(token) {
        UiSession {
            admin_digest: Some(hash_secret(token)),
            ..UiSession::default()
        }
    } else {
        let Some((id, secret)) = token.split_once('.') else {
            return refused();
        };
        match verify_key(&s, id, secret).await {
            Ok(key) => UiSession {
                tenant: key.tenant,
                key_id: key.id,
                ..UiSession::default()
            },
            Err(ApiError::Unauthorized(_)) => return refused(),
            Err(e) => return Err(e.into()),
        }
    };
    session.csrf = random_hex();
    session.created_ms = chrono::Utc::now().timestamp_millis();
    let id = random_hex();
    s.store
        .create_ui_session(&id, &session, SESSION_TTL_SECS * 1000)
        .await?;
    let to = if session.admin_digest.is_some() {
        "/ui/admin"
    } else {
        "/ui/jobs"
    };
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, to.to_string()),
            (header::SET_COOKIE, cookie(&s, &id, SESSION_TTL_SECS)),
        ],
    )
        .into_response())
}

/// `POST /ui/logout`: ends the session and removes the cookie.
pub async fn logout(
    State(s): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> UiResult<Response> {
    let Form(form) = form.map_err(form_error)?;
    signed.check_form(&s, &headers, &form.csrf)?;
    s.store.delete_ui_session(&signed.id).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/ui/login".to_string()),
            (header::SET_COOKIE, cookie(&s, "", 0)),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_id_is_read_from_the_cookie_header_only_when_well_formed() {
        let id = "ab".repeat(32);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("other=1; {COOKIE}={id}; x=y").parse().unwrap(),
        );
        assert_eq!(cookie_value(&h), Some(id));
        let mut bad = HeaderMap::new();
        bad.insert(header::COOKIE, format!("{COOKIE}=../../x").parse().unwrap());
        assert_eq!(cookie_value(&bad), None);
        assert_eq!(cookie_value(&HeaderMap::new()), None);
    }
}
