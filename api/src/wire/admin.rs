//! Tenants and API keys: the admin routes' bodies and answers.

use super::{present, RequestBody};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Create Tenant body.
#[derive(Deserialize, ToSchema)]
pub struct CreateTenantRequest {
    /// 1 to 255 characters.
    #[schema(value_type = String, min_length = 1, max_length = 255)]
    pub name: Option<String>,
}

impl RequestBody for CreateTenantRequest {
    const CONTEXT: &'static str = "Error while creating tenant";
}

/// A new tenant.
#[derive(Serialize, ToSchema)]
pub struct TenantCreated {
    /// The tenant id (24 hex digits); also the A1Base account and the Losant application.
    pub id: String,
    pub name: String,
    /// The secret that signs the tenant's calls (`whsec_` and the base64 of 32 random
    /// bytes, Standard Webhooks), shown only here; absent when the installation has no
    /// `CHIME_SECRET_KEYS` (its calls are then unsigned).
    #[serde(rename = "signingSecret", skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

/// Rotate Signing Secret body (optional: an empty body takes the default).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotateSigningSecretRequest {
    /// Seconds the replaced secret keeps signing beside the new one (0 to 604800, default
    /// 86400); 0 stops it at once.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 604_800, default = 86_400)]
    pub overlap_seconds: Option<i64>,
}

impl RequestBody for RotateSigningSecretRequest {
    const CONTEXT: &'static str = "Error while rotating the signing secret";
}

/// A tenant's new signing secret, shown only here.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningSecretRotated {
    /// The new secret (`whsec_…`): it signs every call from now on (each worker within
    /// `CHIME_SIGNING_SECRET_CACHE_MS`, 30 s).
    pub signing_secret: String,
    /// Until when the replaced secret signs beside it (calls carry both signatures): now
    /// plus `overlapSeconds`; `null` when the tenant had no secret.
    pub previous_valid_until: Option<String>,
}

/// An API key scope.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyScope {
    Read,
    Write,
    RunUpdate,
    Admin,
}

impl KeyScope {
    /// The scope's name, as keys store it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Read => "read",
            KeyScope::Write => "write",
            KeyScope::RunUpdate => "run-update",
            KeyScope::Admin => "admin",
        }
    }
}

/// Create API Key body.
#[derive(Deserialize, ToSchema)]
pub struct CreateKeyRequest {
    /// The key's scopes; `["read", "write", "run-update"]` when not given.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<KeyScope>>)]
    pub scopes: Option<Option<Vec<KeyScope>>>,
    /// Seconds until the key stops being accepted (1 to 315360000); without it, the key does
    /// not expire.
    #[serde(default, rename = "expiresInSeconds")]
    #[schema(minimum = 1, maximum = 315_360_000)]
    pub expires_in_seconds: Option<u64>,
}

impl RequestBody for CreateKeyRequest {
    const CONTEXT: &'static str = "Error while creating key";
}

/// A new API key. The secret is shown only here.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    /// The key id.
    pub id: String,
    pub secret: String,
    /// `<id>.<secret>`, for `Authorization: Bearer`.
    pub token: String,
    #[schema(value_type = Vec<KeyScope>)]
    pub scopes: Vec<String>,
    pub tenant_id: String,
    /// When the key was made.
    pub created: String,
    /// When the key stops being accepted (absent: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// An API key as the key list shows it: never its secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyInfo {
    pub id: String,
    pub tenant_id: String,
    #[schema(value_type = Vec<KeyScope>)]
    pub scopes: Vec<String>,
    /// When the key was made (absent for a key of a version that did not note it).
    pub created: Option<String>,
    /// When the key was last accepted (to the minute); `null` if never.
    pub last_used: Option<String>,
    /// When the key stops being accepted; `null`: never.
    pub expires_at: Option<String>,
    /// Whether it has expired (an expired key is listed until Redis drops it).
    pub expired: bool,
}

impl ApiKeyInfo {
    /// The listing's view of a stored key at `now` (ms).
    pub fn of(k: chime_store::ApiKey, now: i64) -> ApiKeyInfo {
        let at = chime_core::time::format_instant;
        ApiKeyInfo {
            expired: k.expired(now),
            created: (k.created_ms > 0).then(|| at(k.created_ms)),
            last_used: k.last_used_ms.map(at),
            expires_at: k.expires_ms.map(at),
            id: k.id,
            tenant_id: k.tenant,
            scopes: k.scopes,
        }
    }
}

/// A tenant's key list.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub keys: Vec<ApiKeyInfo>,
}

/// Configure Tenant body: at most one of the two retention fields, and/or the quota; `null`
/// restores a default.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigureTenantRequest {
    /// How long runs are kept, in days (1 to 3650).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 3650)]
    pub run_retention_days: Option<Option<u64>>,
    /// How long runs are kept, in seconds (1 to 315360000).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 315_360_000)]
    pub run_retention_seconds: Option<Option<u64>>,
    /// Runs the tenant may fire per minute (0: no limit). Fires beyond it are deferred to the
    /// next free slot, in bursts of at most one second's worth.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub runs_per_minute: Option<Option<u64>>,
    /// Jobs the tenant may have (0: no limit); a create beyond it answers 403.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub max_jobs: Option<Option<u64>>,
    /// Schedules the tenant may have over all its jobs (0: no limit); a create beyond it
    /// answers 403.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub max_schedules: Option<Option<u64>>,
    /// Runs of the tenant fired and not finished at once (0: the installation's cap); fires
    /// beyond it wait, late.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub max_in_flight: Option<Option<u64>>,
    /// Requests per second the tenant's API keys may make together to each API process (0:
    /// no limit); one more answers 429 with `Retry-After`. Each API process reads it again
    /// within 5 seconds.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub requests_per_second: Option<Option<u64>>,
}

impl RequestBody for ConfigureTenantRequest {
    const CONTEXT: &'static str = "Error while configuring tenant";
}

/// A tenant's effective run retention, fire quota and limits.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSettings {
    pub id: String,
    pub name: String,
    /// When it was created (ISO 8601); `null` for a tenant of an older version.
    pub created: Option<String>,
    pub run_retention_seconds: u64,
    /// 0: no limit.
    pub runs_per_minute: u64,
    /// 0: no limit.
    pub max_jobs: u64,
    /// 0: no limit.
    pub max_schedules: u64,
    /// The tenant's own cap on runs in flight; absent: the installation's (the slots of the
    /// workers alive, or `CHIME_TENANT_MAX_IN_FLIGHT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u64>,
    /// Requests per second the tenant's keys may make together to each API process; 0: no
    /// limit.
    pub requests_per_second: u64,
}

/// A tenant in the list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSummary {
    pub id: String,
    pub name: String,
    /// When it was created (ISO 8601); `null` for a tenant of an older version.
    pub created: Option<String>,
    /// Its deletion has begun (deleting it again completes a deletion cut short).
    pub deleting: bool,
}

/// Every tenant, by name.
#[derive(Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantSummary>,
}
