//! SAP's global parameters of a tenant: `GET` and `PUT /scheduler/globalParameters`. The one
//! parameter is `ASYNC_EXEC_TIMEOUT`, the seconds a run acknowledged asynchronously (202)
//! waits for its job's report before the leader's deadline completes it as `UNKNOWN`. The
//! change goes through [`crate::service`] (with its audit entry).

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::service;
use crate::state::AppState;
use crate::wire::requests::{async_exec_timeout, GlobalParametersRequest};
use crate::wire::sap::GlobalParameters;
use crate::wire::Success;
use axum::extract::State;
use axum::Json;

#[utoipa::path(
    get, path = "/scheduler/globalParameters", tag = "sap", operation_id = "getGlobalParameters",
    summary = "The tenant's global parameters (`ASYNC_EXEC_TIMEOUT`)",
    description = "`ASYNC_EXEC_TIMEOUT`: the seconds a run acknowledged with 202 (`RUNNING/ACK_RECVD`) waits for its job's report (`PUT …/runs/{runId}`) before it becomes `COMPLETED/UNKNOWN`; 604800 (seven days) until the tenant sets it. The value is a string, as SAP gives it.",
    responses(
        (status = 200, description = "The tenant's parameters", body = GlobalParameters),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn get_global_parameters(
    State(s): State<AppState>,
    tenant: Tenant,
) -> ApiResult<Json<GlobalParameters>> {
    tenant.require("read")?;
    let secs = s.store.tenant_async_timeout(&tenant.id).await?;
    Ok(Json(GlobalParameters::of(secs)))
}

#[utoipa::path(
    put, path = "/scheduler/globalParameters", tag = "sap", operation_id = "updateGlobalParameters",
    summary = "Set the tenant's `ASYNC_EXEC_TIMEOUT` (scope `write`)",
    description = "`{\"ASYNC_EXEC_TIMEOUT\": \"600\"}`: 1 to 604800 seconds, a string of digits (SAP's form) or an integer; no other key. The leader's deadline reads the value each time it looks, so a shorter one applies to runs already waiting too. Recorded in the audit trail as `UPDATE_GLOBAL_PARAMETERS` (`jobId` 0).",
    request_body = GlobalParametersRequest,
    responses(
        (status = 200, description = "Set", body = Success),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn put_global_parameters(
    State(s): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Success>> {
    tenant.require("write")?;
    let secs = async_exec_timeout(&body).map_err(|e| {
        ApiError::BadRequest(format!("Error while updating global parameters: {e}"))
    })?;
    service::set_async_timeout(&s, &tenant, secs).await?;
    Ok(Json(Success::YES))
}
