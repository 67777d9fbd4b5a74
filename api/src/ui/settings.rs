//! The tenant's settings page: its name, run retention, fire quota and limits (as
//! `GET /scheduler/tenant` answers them), and its API keys as `/scheduler/keys` serves them:
//! listed, created (the token shown once, on the answer page) and revoked (after a
//! confirmation page), each only with a key of the `admin` scope, as the API requires.

use crate::auth::{Tenant, SCOPES};
use crate::error::ApiError;
use crate::routes::admin::{issue_key, tenant_settings};
use crate::routes::lifecycle::key_list;
use crate::state::AppState;
use crate::ui::layout::{self, when_iso};
use crate::ui::session::{form_error, CsrfForm, Signed};
use crate::ui::{UiError, UiResult};
use crate::wire::admin::{ApiKeyCreated, ApiKeyInfo, TenantSettings};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use std::collections::HashMap;

/// What each scope allows, as the create form says it.
const SCOPE_HINTS: [(&str, &str); 4] = [
    ("read", "read jobs, schedules and runs"),
    ("write", "create, change and run jobs and schedules"),
    ("run-update", "report the result of an asynchronous run"),
    ("admin", "everything, and the tenant's API keys"),
];
/// The scopes a new key has unless unticked (the API's default).
const DEFAULT_SCOPES: [&str; 3] = ["read", "write", "run-update"];
/// The longest expiry the form offers (the API's: 315,360,000 s).
const MAX_EXPIRY_DAYS: u64 = 3650;

/// `n` seconds in words: days when whole, else seconds.
fn duration(n: u64) -> String {
    if n > 0 && n.is_multiple_of(86_400) {
        format!("{} days", n / 86_400)
    } else {
        format!("{n} seconds")
    }
}

/// A limit where 0 means none.
fn limit(n: u64, unit: &str) -> String {
    if n == 0 {
        "no limit".into()
    } else {
        format!("{n} {unit}")
    }
}

fn settings_list(t: &TenantSettings) -> Markup {
    html! {
        dl.fields {
            dt { "Name" } dd { (t.name) }
            dt { "Id" } dd { code { (t.id) } }
            dt { "Created" } dd { @match &t.created { Some(c) => (when_iso(c)), None => span.none { "—" } } }
            dt { "Run retention" } dd { (duration(t.run_retention_seconds)) }
            dt { "Fire quota" } dd { (limit(t.runs_per_minute, "runs a minute")) }
            dt { "Jobs at most" } dd { (limit(t.max_jobs, "jobs")) }
            dt { "Schedules at most" } dd { (limit(t.max_schedules, "schedules")) }
            dt { "Runs in flight at most" } dd {
                @match t.max_in_flight {
                    Some(n) => (limit(n, "runs")),
                    None => "the installation's (the workers' slots)",
                }
            }
            dt { "Request rate" } dd { (limit(t.requests_per_second, "requests a second, to each API process")) }
        }
        p.hint { "The operator sets these." }
    }
}

/// What the notice above the page says after an action.
fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "revoked" => Some("The key was revoked: it fails from the next request on."),
        _ => None,
    }
}

/// `GET /ui/settings`: the tenant's settings and, with the `admin` scope, its keys.
pub async fn settings_page(
    State(s): State<AppState>,
    signed: Signed,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> UiResult<Response> {
    let q = crate::ui::job::query(q)?;
    let tenant = signed.tenant()?;
    tenant.require_any(&["read", "write"])?;
    let settings = tenant_settings(&s, &tenant.id).await?;
    let keys = match tenant.require("admin") {
        Ok(()) => Some(key_list(&s, &tenant.id).await?.keys),
        Err(_) => None,
    };
    let csrf = signed.session.csrf.as_str();
    let body = html! {
        @if let Some(n) = notice(q.get("done").map(String::as_str)) { p.notice role="status" { (n) } }
        (settings_list(&settings))
        section aria-labelledby="keys" {
            h2 #keys { "API keys" }
            @match &keys {
                Some(keys) => { (key_table(keys, tenant)) (create_form(csrf)) },
                None => p {
                    "Listing, creating and revoking the tenant's API keys needs a key with the "
                    code { "admin" } " scope, as the API's " code { "/scheduler/keys" }
                    " does. This session's key " code { (tenant.key_id) } " has: "
                    (tenant.scopes.join(", ")) "."
                },
            }
        }
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Settings", Some(&signed.nav()), body),
    ))
}

fn key_table(keys: &[ApiKeyInfo], tenant: &Tenant) -> Markup {
    let opt = |v: &Option<String>| match v {
        Some(v) => when_iso(v),
        None => html! { span.none { "—" } },
    };
    html! {
        table.keys {
            thead { tr {
                th scope="col" { "Key" } th scope="col" { "Scopes" } th scope="col" { "Created" }
                th scope="col" { "Last used" } th scope="col" { "Expires" } th scope="col" { "Actions" }
            } }
            tbody { @for k in keys { tr id={ "key-" (k.id) } {
                td { code { (k.id) } @if k.id == tenant.key_id { " " span.badge.pending { "this session" } } }
                td { (k.scopes.join(", ")) }
                td { (opt(&k.created)) }
                td { (opt(&k.last_used)) }
                td { (opt(&k.expires_at)) @if k.expired { " " span.badge.bad { "expired" } } }
                td { a.delete href={ "/ui/settings/keys/" (k.id) "/confirm-revoke" }
                    aria-label={ "Revoke key " (k.id) } { "Revoke…" } }
            } } }
        }
    }
}

fn create_form(csrf: &str) -> Markup {
    html! {
        h3 { "Create a key" }
        form.create method="post" action="/ui/settings/keys" {
            input type="hidden" name="csrf" value=(csrf);
            fieldset {
                legend { "Scopes" }
                @for (scope, hint) in SCOPE_HINTS {
                    label.check {
                        input type="checkbox" name="scope" value=(scope)
                            checked[DEFAULT_SCOPES.contains(&scope)];
                        code { (scope) } " — " (hint)
                    }
                }
            }
            label { "Expires in (days, empty: never)"
                input type="number" name="expires_days" min="1" max=(MAX_EXPIRY_DAYS);
            }
            button type="submit" { "Create the key" }
        }
    }
}

/// The create form's fields: its CSRF token and the API's Create Key body.
fn create_body(fields: &[(String, String)]) -> UiResult<(String, serde_json::Value)> {
    let mut csrf = String::new();
    let mut scopes = vec![];
    let mut body = serde_json::Map::new();
    for (k, v) in fields {
        match k.as_str() {
            "csrf" => csrf.clone_from(v),
            "scope" if SCOPES.contains(&v.as_str()) => scopes.push(v.clone()),
            "scope" => {
                return Err(UiError::Api(ApiError::BadRequest(format!(
                    "unknown scope '{v}'"
                ))))
            }
            "expires_days" if !v.trim().is_empty() => {
                let days = v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|d| (1..=MAX_EXPIRY_DAYS).contains(d))
                    .ok_or_else(|| {
                        UiError::Api(ApiError::BadRequest(format!(
                            "the expiry must be from 1 to {MAX_EXPIRY_DAYS} days, got '{v}'"
                        )))
                    })?;
                body.insert("expiresInSeconds".into(), (days * 86_400).into());
            }
            _ => {}
        }
    }
    body.insert("scopes".into(), scopes.into());
    Ok((csrf, body.into()))
}

/// `POST /ui/settings/keys`: creates a key (the `admin` scope) and shows its token, once.
pub async fn create_key(
    State(s): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> UiResult<Response> {
    let Form(fields) = form.map_err(form_error)?;
    let (csrf, body) = create_body(&fields)?;
    signed.check_form(&s, &headers, &csrf)?;
    let tenant = signed.tenant()?;
    tenant.require("admin")?;
    let key = issue_key(&s, &tenant.id, body).await?;
    Ok(layout::respond(
        StatusCode::CREATED,
        layout::page("New API key", Some(&signed.nav()), created(&key)),
    ))
}

fn created(key: &ApiKeyCreated) -> Markup {
    html! {
        p.notice role="status" {
            "The key " code { (key.id) } " was created. Copy its token now: it is shown only here."
        }
        label for="new-token" { "Token" }
        input #new-token.token type="text" readonly value=(key.token) aria-describedby="token-use";
        p.hint #token-use { "Send it as " code { "Authorization: Bearer <token>" } ", or sign in here with it." }
        dl.fields {
            dt { "Scopes" } dd { (key.scopes.join(", ")) }
            dt { "Created" } dd { (when_iso(&key.created)) }
            dt { "Expires" } dd { @match &key.expires_at { Some(e) => (when_iso(e)), None => "never" } }
        }
        p { a href="/ui/settings#keys" { "Back to the settings" } }
    }
}

/// The tenant's key `id` (the `admin` scope), or a 404.
async fn own_key(s: &AppState, tenant: &Tenant, id: &str) -> UiResult<ApiKeyInfo> {
    tenant.require("admin")?;
    key_list(s, &tenant.id)
        .await?
        .keys
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| UiError::Api(ApiError::NotFound("There is no such key.".into())))
}

/// `GET /ui/settings/keys/{key}/confirm-revoke`.
pub async fn confirm_revoke(
    State(s): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> UiResult<Response> {
    let tenant = signed.tenant()?;
    let key = own_key(&s, tenant, &id).await?;
    let body = html! {
        p { "Revoke the key " code { (key.id) } " (" (key.scopes.join(", ")) ")? Every request with it fails from then on." }
        @if key.id == tenant.key_id { p.error { "It is the key of this session: revoking it signs you out." } }
        (layout::confirm_form(
            &format!("/ui/settings/keys/{}/revoke", key.id),
            &signed.session.csrf,
            "Revoke the key",
            "/ui/settings#keys",
        ))
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Revoke an API key", Some(&signed.nav()), body),
    ))
}

/// `POST /ui/settings/keys/{key}/revoke` (the `admin` scope), as
/// `DELETE /scheduler/keys/{keyId}` does it.
pub async fn revoke_key(
    State(s): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> UiResult<Response> {
    let Form(form) = form.map_err(form_error)?;
    signed.check_form(&s, &headers, &form.csrf)?;
    let tenant = signed.tenant()?;
    tenant.require("admin")?;
    if id.len() > 64 || !s.store.revoke_api_key(&tenant.id, &id).await? {
        return Err(UiError::Api(ApiError::NotFound(
            "There is no such key.".into(),
        )));
    }
    tracing::info!(tenant = %tenant.id, key = %id, by = %tenant.key_id, "api key revoked from the dashboard");
    Ok(layout::see_other("/ui/settings?done=revoked#keys".into()))
}
