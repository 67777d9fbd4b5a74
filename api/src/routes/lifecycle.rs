//! Keys and tenants end (the admin token): a tenant's key list, a key's revocation, and a
//! tenant's deletion with everything it has.

use super::admin::require_tenant;
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::service;
use crate::state::AppState;
use crate::wire::admin::{ApiKeyInfo, ApiKeyList};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chime_store::TenantState;

#[utoipa::path(
    get, path = "/admin/tenants/{tenantId}/keys", tag = "admin", operation_id = "listKeys",
    summary = "List a tenant's API keys (never their secrets)",
    params(("tenantId" = String, Path, description = "The tenant id")),
    responses(
        (status = 200, description = "The keys, by id", body = ApiKeyList),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such tenant", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn list_keys(
    State(s): State<AppState>,
    _: Admin,
    Path(tenant): Path<String>,
) -> ApiResult<Json<ApiKeyList>> {
    require_tenant(&s, &tenant).await?;
    Ok(Json(key_list(&s, &tenant).await?))
}

/// `tenant`'s keys as the lists show them (never a secret).
pub(crate) async fn key_list(s: &AppState, tenant: &str) -> ApiResult<ApiKeyList> {
    let (now, _) = service::now(s).await?;
    let keys = s.store.api_keys(tenant).await?;
    Ok(ApiKeyList {
        keys: keys.into_iter().map(|k| ApiKeyInfo::of(k, now)).collect(),
    })
}

#[utoipa::path(
    delete, path = "/admin/tenants/{tenantId}/keys/{keyId}", tag = "admin", operation_id = "revokeKey",
    summary = "Revoke an API key",
    description = "The key fails from the next request on, on every API replica: replicas read the key on every request.",
    params(
        ("tenantId" = String, Path, description = "The tenant id"),
        ("keyId" = String, Path, description = "The key id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such tenant, or the tenant has no such key", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn revoke_key(
    State(s): State<AppState>,
    _: Admin,
    Path((tenant, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    require_tenant(&s, &tenant).await?;
    if !s.store.revoke_api_key(&tenant, &key).await? {
        return Err(ApiError::NotFound(format!(
            "tenant {tenant} has no API key {key}"
        )));
    }
    tracing::info!(tenant = %tenant, key = %key, "api key revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete, path = "/admin/tenants/{tenantId}", tag = "admin", operation_id = "deleteTenant",
    summary = "Delete a tenant with every key, job, schedule and run it has",
    description = "In order: the tenant is marked deleting (job writes are refused), its keys are revoked, its jobs are deleted with their schedules, runs and due entries, then every key left in its slot. Runs of its already in the queue find their job gone and are dropped without a call. A deletion cut short is completed by deleting again.",
    params(("tenantId" = String, Path, description = "The tenant id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such tenant", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn delete_tenant(
    State(s): State<AppState>,
    _: Admin,
    Path(tenant): Path<String>,
) -> ApiResult<StatusCode> {
    if s.store.tenant_state(&tenant).await? == TenantState::Missing {
        return Err(ApiError::NotFound(format!(
            "tenant {tenant} does not exist"
        )));
    }
    s.store.mark_tenant_deleting(&tenant).await?;
    let keys = s.store.api_keys(&tenant).await?;
    for k in &keys {
        s.store.revoke_api_key(&tenant, &k.id).await?;
    }
    let jobs = service::delete_all_jobs(&s, &tenant).await?;
    let left = s.store.purge_tenant(&tenant).await?;
    tracing::info!(
        tenant = %tenant, keys = keys.len(), jobs, keys_purged = left,
        "tenant deleted"
    );
    Ok(StatusCode::NO_CONTENT)
}
