//! Tenants as the operator lists them (`GET /admin/tenants`, `GET /admin/tenants/{tenantId}`),
//! and a tenant's own view of itself: its settings (`GET /scheduler/tenant`, any key) and its
//! API keys (`/scheduler/keys`, a key with the `admin` scope: list, create, revoke).

use super::admin::{issue_key, require_tenant, tenant_settings};
use super::lifecycle::key_list;
use crate::auth::{Admin, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::wire::admin::{
    ApiKeyCreated, ApiKeyList, CreateKeyRequest, TenantList, TenantSettings, TenantSummary,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use futures::{StreamExt, TryStreamExt};

/// Tenants read at once for the list.
const TENANTS_AT_ONCE: usize = 32;

#[utoipa::path(
    get, path = "/admin/tenants", tag = "admin", operation_id = "listTenants",
    summary = "List the tenants",
    description = "Every tenant with its name, creation time and whether its deletion has begun, by name.",
    responses(
        (status = 200, description = "The tenants", body = TenantList),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn list_tenants(State(s): State<AppState>, _: Admin) -> ApiResult<Json<TenantList>> {
    let ids = s.store.tenants().await?;
    let store = &s.store;
    let mut tenants: Vec<TenantSummary> = futures::stream::iter(ids)
        .map(|id| async move { store.tenant_profile(&id).await })
        .buffer_unordered(TENANTS_AT_ONCE)
        .try_filter_map(|p| async move {
            Ok(p.map(|p| TenantSummary {
                id: p.id,
                name: p.name,
                created: p.created,
                deleting: p.deleting,
            }))
        })
        .try_collect()
        .await?;
    tenants.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Ok(Json(TenantList { tenants }))
}

#[utoipa::path(
    get, path = "/admin/tenants/{tenantId}", tag = "admin", operation_id = "getTenant",
    summary = "A tenant's name and effective settings",
    params(("tenantId" = String, Path, description = "The tenant id")),
    responses(
        (status = 200, description = "The tenant", body = TenantSettings),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 404, description = "No such tenant", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn get_tenant(
    State(s): State<AppState>,
    _: Admin,
    Path(tenant): Path<String>,
) -> ApiResult<Json<TenantSettings>> {
    require_tenant(&s, &tenant).await?;
    Ok(Json(tenant_settings(&s, &tenant).await?))
}

#[utoipa::path(
    get, path = "/scheduler/tenant", tag = "sap", operation_id = "ownTenant",
    summary = "The key's tenant: its name and effective settings (chime's)",
    description = "Retention, fire quota, limits and request rate as they apply to the tenant (its own, or the installation's defaults). The operator sets them (`PUT /admin/tenants/{tenantId}`).",
    responses(
        (status = 200, description = "The tenant", body = TenantSettings),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []), ("oauth2" = []))
)]
pub async fn own_tenant(State(s): State<AppState>, t: Tenant) -> ApiResult<Json<TenantSettings>> {
    t.require_any(&["read", "write"])?;
    Ok(Json(tenant_settings(&s, &t.id).await?))
}

#[utoipa::path(
    get, path = "/scheduler/keys", tag = "sap", operation_id = "ownKeys",
    summary = "The tenant's API keys, never their secrets (chime's; the `admin` scope)",
    responses(
        (status = 200, description = "The keys, by id", body = ApiKeyList),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []), ("oauth2" = []))
)]
pub async fn own_keys(State(s): State<AppState>, t: Tenant) -> ApiResult<Json<ApiKeyList>> {
    t.require("admin")?;
    Ok(Json(key_list(&s, &t.id).await?))
}

#[utoipa::path(
    post, path = "/scheduler/keys", tag = "sap", operation_id = "createOwnKey",
    summary = "Create an API key of the tenant (chime's; the `admin` scope)",
    description = "As `POST /admin/tenants/{tenantId}/keys`, for the calling key's tenant: the secret is shown only here.",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The key; its secret is shown only here", body = ApiKeyCreated),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []), ("oauth2" = []))
)]
pub async fn create_own_key(
    State(s): State<AppState>,
    t: Tenant,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    t.require("admin")?;
    let key = issue_key(&s, &t.id, body).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

#[utoipa::path(
    delete, path = "/scheduler/keys/{keyId}", tag = "sap", operation_id = "revokeOwnKey",
    summary = "Revoke an API key of the tenant (chime's; the `admin` scope)",
    description = "The key fails from the next request on, on every API replica; a key may revoke itself.",
    params(("keyId" = String, Path, description = "The key id")),
    responses(
        (status = 204, description = "Revoked"),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []), ("oauth2" = []))
)]
pub async fn revoke_own_key(
    State(s): State<AppState>,
    t: Tenant,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    t.require("admin")?;
    if !s.store.revoke_api_key(&t.id, &key).await? {
        return Err(ApiError::NotFound(format!("no API key {key}")));
    }
    tracing::info!(tenant = %t.id, key = %key, by = %t.key_id, "api key revoked by its tenant");
    Ok(StatusCode::NO_CONTENT)
}
