//! Tenant administration (the admin token): create a tenant (with its signing secret),
//! configure its run retention, fire quota and limits, rotate its signing secret, and create
//! its API keys (their list, revocation and the tenant's deletion: [`super::lifecycle`]).

use crate::auth::{Admin, SCOPES};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJsonBody};
use crate::service;
use crate::state::AppState;
use crate::wire::admin::{
    ApiKeyCreated, ConfigureTenantRequest, CreateKeyRequest, CreateTenantRequest,
    RotateSigningSecretRequest, SigningSecretRotated, TenantCreated, TenantSettings,
};
use crate::wire::decode;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chime_core::signing;
use chime_store::{hash_secret, ApiKey, Rotated, TenantLimit};
use rand::RngCore;

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

pub(crate) async fn require_tenant(s: &AppState, tenant: &str) -> ApiResult<()> {
    if s.store.tenant_exists(tenant).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "tenant {tenant} does not exist"
        )))
    }
}

#[utoipa::path(
    post, path = "/admin/tenants", tag = "admin", operation_id = "createTenant",
    summary = "Create a tenant",
    request_body = CreateTenantRequest,
    responses(
        (status = 201, description = "The tenant", body = TenantCreated),
        (status = 400, description = "Invalid body", body = crate::error::SapError),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn create_tenant(
    State(s): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<TenantCreated>)> {
    let (req, _) = decode::<CreateTenantRequest>(body)?;
    let name = match req.name {
        Some(n) if !n.trim().is_empty() && n.len() <= 255 => n,
        _ => {
            return Err(ApiError::BadRequest(
                "Error while creating tenant: 'name' must be a non-empty string of at most 255 characters".into(),
            ))
        }
    };
    let id = random_hex(12);
    let (ms, _) = service::now(&s).await?;
    // Without a keyring there is nothing to seal a secret with: the tenant's calls go unsigned.
    let secret = (!s.secrets.is_empty()).then(signing::new_secret);
    let sealed = secret
        .as_deref()
        .map(|v| seal_signing(&s, &id, v))
        .transpose()?;
    s.store
        .create_tenant(
            &id,
            &name,
            &chime_core::time::format_instant(ms),
            sealed.as_deref(),
        )
        .await?;
    tracing::info!(tenant = %id, signed = secret.is_some(), "tenant created");
    Ok((
        StatusCode::CREATED,
        Json(TenantCreated {
            id,
            name,
            signing_secret: secret,
        }),
    ))
}

/// A signing secret sealed for `tenant` under the current key.
fn seal_signing(s: &AppState, tenant: &str, secret: &str) -> ApiResult<String> {
    s.secrets
        .seal(&signing::place(tenant), secret)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("sealing a signing secret: {e}")))
}

/// The longest overlap of a rotation (7 days) and its default (1 day), in seconds.
const MAX_OVERLAP_SECONDS: i64 = 604_800;
const DEFAULT_OVERLAP_SECONDS: i64 = 86_400;

#[utoipa::path(
    post, path = "/admin/tenants/{tenantId}/signingSecret", tag = "admin",
    operation_id = "rotateSigningSecret",
    summary = "Rotate a tenant's signing secret",
    description = "Makes a new signing secret and answers it, once. The replaced secret keeps signing beside it for `overlapSeconds` (calls carry both signatures in `webhook-signature`), then only the new one signs. Each worker picks the new secret up within `CHIME_SIGNING_SECRET_CACHE_MS` (30 s). A tenant created before tenants had secrets gets its first one here (or from a worker, on its first call). The body may be left out.",
    params(("tenantId" = String, Path, description = "The tenant id")),
    request_body(content = RotateSigningSecretRequest, description = "Optional"),
    responses(
        (status = 200, description = "The new secret; shown only here", body = SigningSecretRotated),
        (status = 400, description = "Invalid body", body = crate::error::SapError),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such tenant", body = crate::error::SapError),
        (status = 409, description = "The installation has no `CHIME_SECRET_KEYS` to seal a secret with", body = crate::error::SapError),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn rotate_signing_secret(
    State(s): State<AppState>,
    _: Admin,
    Path(tenant): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> ApiResult<Json<SigningSecretRotated>> {
    require_tenant(&s, &tenant).await?;
    let overlap = match body {
        None => DEFAULT_OVERLAP_SECONDS,
        Some(body) => decode::<RotateSigningSecretRequest>(body)?
            .0
            .overlap_seconds
            .unwrap_or(DEFAULT_OVERLAP_SECONDS),
    };
    if !(0..=MAX_OVERLAP_SECONDS).contains(&overlap) {
        return Err(ApiError::BadRequest(format!(
            "{}: 'overlapSeconds' must be an integer from 0 to {MAX_OVERLAP_SECONDS}",
            <RotateSigningSecretRequest as crate::wire::RequestBody>::CONTEXT
        )));
    }
    if s.secrets.is_empty() {
        return Err(ApiError::Conflict(
            "signing secrets are sealed with CHIME_SECRET_KEYS, which this installation does not set".into(),
        ));
    }
    let secret = signing::new_secret();
    let sealed = seal_signing(&s, &tenant, &secret)?;
    let (now, _) = service::now(&s).await?;
    let until = now + overlap * 1000;
    let overlapping = (overlap > 0).then_some(until);
    let rotated = s
        .store
        .rotate_signing_secret(&tenant, &sealed, overlapping)
        .await?;
    let previous_valid_until = match rotated {
        Rotated::NoTenant => {
            return Err(ApiError::NotFound(format!(
                "tenant {tenant} does not exist"
            )))
        }
        Rotated::First => None,
        Rotated::Replaced => Some(until),
    };
    tracing::info!(tenant = %tenant, overlap_seconds = overlap, "signing secret rotated");
    Ok(Json(SigningSecretRotated {
        signing_secret: secret,
        previous_valid_until: previous_valid_until.map(chime_core::time::format_instant),
    }))
}

/// The `scopes` of a Create API Key body (the default when absent).
fn scopes_of(req: CreateKeyRequest) -> ApiResult<Vec<String>> {
    match req.scopes {
        None => Ok(vec!["read".into(), "write".into(), "run-update".into()]),
        Some(Some(scopes)) => Ok(scopes.iter().map(|s| s.as_str().to_string()).collect()),
        Some(None) => Err(ApiError::BadRequest(format!(
            "Error while creating key: 'scopes' must be an array of {}",
            SCOPES.join(", ")
        ))),
    }
}

#[utoipa::path(
    post, path = "/admin/tenants/{tenantId}/keys", tag = "admin", operation_id = "createKey",
    summary = "Create an API key for a tenant",
    params(("tenantId" = String, Path, description = "The tenant id")),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The key; its secret is shown only here", body = ApiKeyCreated),
        (status = 400, description = "Invalid body", body = crate::error::SapError),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such tenant", body = crate::error::SapError),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn create_key(
    State(s): State<AppState>,
    _: Admin,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    require_tenant(&s, &tenant).await?;
    let key = issue_key(&s, &tenant, body).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Creates a key of `tenant` from a Create Key body: the key, with its secret (shown once).
pub(crate) async fn issue_key(
    s: &AppState,
    tenant: &str,
    body: serde_json::Value,
) -> ApiResult<ApiKeyCreated> {
    let (req, _) = decode::<CreateKeyRequest>(body)?;
    let expires_in = req.expires_in_seconds;
    if expires_in.is_some_and(|n| !(1..=315_360_000).contains(&n)) {
        return Err(ApiError::BadRequest(
            "Error while creating key: 'expiresInSeconds' must be an integer from 1 to 315360000"
                .into(),
        ));
    }
    let scopes = scopes_of(req)?;
    let id = format!("k{}", random_hex(8));
    let secret = random_hex(24);
    let (now, _) = service::now(s).await?;
    let expires_ms = expires_in.map(|n| now + n as i64 * 1000);
    s.store
        .create_api_key(&ApiKey {
            id: id.clone(),
            tenant: tenant.to_string(),
            secret_sha256: hash_secret(&secret),
            scopes: scopes.clone(),
            created_ms: now,
            expires_ms,
            last_used_ms: None,
        })
        .await?;
    tracing::info!(tenant = %tenant, key = %id, "api key created");
    let token = format!("{id}.{secret}");
    Ok(ApiKeyCreated {
        id,
        secret,
        token,
        scopes,
        tenant_id: tenant.to_string(),
        created: chime_core::time::format_instant(now),
        expires_at: expires_ms.map(chime_core::time::format_instant),
    })
}

/// A change of a setting: `None` leaves it, `Some(None)` restores its default.
type Change<T> = Option<Option<T>>;

/// The run retention (ms) and the quota of a Configure Tenant body.
fn tenant_changes(req: &ConfigureTenantRequest) -> ApiResult<(Change<u64>, Change<u64>)> {
    let retention = match (req.run_retention_days, req.run_retention_seconds) {
        (None, None) => None,
        (Some(None), None) | (None, Some(None)) => Some(None),
        (Some(Some(v)), None) => Some(Some(
            Some(v)
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| ApiError::BadRequest("'runRetentionDays' must be an integer from 1 to 3650".into()))?
                * 86_400_000,
        )),
        (None, Some(Some(v))) => Some(Some(
            Some(v)
                .filter(|d| (1..=315_360_000).contains(d))
                .ok_or_else(|| ApiError::BadRequest("'runRetentionSeconds' must be a positive integer".into()))?
                * 1000,
        )),
        _ => {
            return Err(ApiError::BadRequest(
                "Error while configuring tenant: give only one of 'runRetentionDays' or 'runRetentionSeconds'".into(),
            ))
        }
    };
    let quota = limit_change(req.runs_per_minute, "runsPerMinute")?;
    if retention.is_none()
        && quota.is_none()
        && [
            req.max_jobs,
            req.max_schedules,
            req.max_in_flight,
            req.requests_per_second,
        ]
        .iter()
        .all(Option::is_none)
    {
        return Err(ApiError::BadRequest(
            "Error while configuring tenant: give 'runRetentionDays', 'runRetentionSeconds', 'runsPerMinute', 'maxJobs', 'maxSchedules', 'maxInFlight' or 'requestsPerSecond'".into(),
        ));
    }
    Ok((retention, quota))
}

/// A limit's change: 0 (no limit) to 100,000,000, or `null` for the default.
fn limit_change(v: Change<u64>, name: &str) -> ApiResult<Change<u64>> {
    match v {
        Some(Some(n)) if n > 100_000_000 => Err(ApiError::BadRequest(format!(
            "'{name}' must be an integer from 0 (no limit) to 100000000"
        ))),
        v => Ok(v),
    }
}

/// The limits of a Configure Tenant body, each with the store's name for it.
fn limit_changes(req: &ConfigureTenantRequest) -> ApiResult<Vec<(TenantLimit, Option<u64>)>> {
    let mut out = Vec::new();
    for (v, name, limit) in [
        (req.max_jobs, "maxJobs", TenantLimit::MaxJobs),
        (req.max_schedules, "maxSchedules", TenantLimit::MaxSchedules),
        (req.max_in_flight, "maxInFlight", TenantLimit::MaxInFlight),
        (
            req.requests_per_second,
            "requestsPerSecond",
            TenantLimit::RequestsPerSecond,
        ),
    ] {
        if let Some(n) = limit_change(v, name)? {
            out.push((limit, n));
        }
    }
    Ok(out)
}

/// `PUT /admin/tenants/{tenantId}` `{ "runRetentionDays": n }` or `{ "runRetentionSeconds": n }`
/// (how long the tenant's runs are kept) and/or `{ "runsPerMinute": n }` (its fire quota; 0 no
/// limit), `maxJobs`, `maxSchedules` (0 no limit), `maxInFlight`, `requestsPerSecond` (0 no
/// limit); `null` restores a default.
#[utoipa::path(
    put, path = "/admin/tenants/{tenantId}", tag = "admin", operation_id = "configureTenant",
    summary = "Set a tenant's run retention, fire quota, limits and request rate",
    params(("tenantId" = String, Path, description = "The tenant id")),
    request_body = ConfigureTenantRequest,
    responses(
        (status = 200, description = "The effective settings", body = TenantSettings),
        (status = 400, description = "Invalid body", body = crate::error::SapError),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such tenant", body = crate::error::SapError),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn configure_tenant(
    State(s): State<AppState>,
    _: Admin,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<TenantSettings>> {
    require_tenant(&s, &tenant).await?;
    let (req, _) = decode::<ConfigureTenantRequest>(body)?;
    let (retention, quota) = tenant_changes(&req)?;
    for (limit, n) in limit_changes(&req)? {
        s.store.set_tenant_limit(&tenant, limit, n).await?;
    }
    if let Some(ms) = retention {
        s.store.set_tenant_retention(&tenant, ms).await?;
    }
    if let Some(n) = quota {
        s.store.set_tenant_runs_per_minute(&tenant, n).await?;
    }
    Ok(Json(tenant_settings(&s, &tenant).await?))
}

/// `tenant`'s effective settings: its own, or the installation's defaults.
pub(crate) async fn tenant_settings(s: &AppState, tenant: &str) -> ApiResult<TenantSettings> {
    let effective = s.store.tenant_retention(tenant).await?;
    let per_minute = s
        .store
        .tenant_runs_per_minute(tenant)
        .await?
        .unwrap_or(s.settings.tenant_runs_per_minute);
    let own = |limit| s.store.tenant_limit(tenant, limit);
    let (jobs, schedules, in_flight, rate) = (
        own(TenantLimit::MaxJobs).await?,
        own(TenantLimit::MaxSchedules).await?,
        own(TenantLimit::MaxInFlight).await?,
        own(TenantLimit::RequestsPerSecond).await?,
    );
    let profile = s.store.tenant_profile(tenant).await?;
    Ok(TenantSettings {
        run_retention_seconds: effective / 1000,
        runs_per_minute: per_minute,
        max_jobs: jobs.unwrap_or(s.settings.tenant_max_jobs),
        max_schedules: schedules.unwrap_or(s.settings.tenant_max_schedules),
        max_in_flight: in_flight,
        requests_per_second: rate.unwrap_or(s.settings.tenant_requests_per_second),
        name: profile.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        created: profile.and_then(|p| p.created),
        id: tenant.to_string(),
    })
}
