//! Tenants and their API keys, and the settings a tenant may have of its own (how long its
//! runs are kept, its quota of runs per minute), fields of its tenant hash.

use crate::{Result, Store};
use redis::AsyncCommands;
use sha2::{Digest, Sha256};

/// A stored API key.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: String,
    pub tenant: String,
    pub secret_sha256: String,
    pub scopes: Vec<String>,
}

/// SHA-256 of an API key secret, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The tenant hash's field of its own retention (ms), which the run scripts read too.
const RETENTION_MS: &str = "retention_ms";
/// The tenant hash's field of its own quota of runs per minute.
const RUNS_PER_MINUTE: &str = "runs_per_minute";

/// A limit a tenant may have of its own (a field of its hash, which the scripts that enforce
/// it read; without it, the setting's default applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantLimit {
    /// Jobs it may have (`job_write.lua`).
    MaxJobs,
    /// Schedules it may have, over all its jobs (`job_write.lua`).
    MaxSchedules,
    /// Runs it may have in flight (`runs.lua`, the leader's admission).
    MaxInFlight,
}

impl TenantLimit {
    fn field(self) -> &'static str {
        match self {
            TenantLimit::MaxJobs => "max_jobs",
            TenantLimit::MaxSchedules => "max_schedules",
            TenantLimit::MaxInFlight => "max_in_flight",
        }
    }
}

impl Store {
    /// Creates a tenant: first its id in the set of tenants (in a slot of its own on a
    /// cluster), then its hash. A creation cut between the two leaves an id whose tenant does
    /// not exist, which the retention sweep passes over; never a tenant the sweep misses.
    pub async fn create_tenant(&self, id: &str, name: &str, now: &str) -> Result<()> {
        let mut c = self.c();
        let _: () = c.sadd(self.keys.tenants(), id).await?;
        let _: () = c
            .hset_multiple(self.keys.tenant(id), &[("name", name), ("created", now)])
            .await?;
        Ok(())
    }

    pub async fn tenant_exists(&self, id: &str) -> Result<bool> {
        Ok(self.c().exists(self.keys.tenant(id)).await?)
    }

    /// Every tenant id.
    pub async fn tenants(&self) -> Result<Vec<String>> {
        Ok(self.c().smembers(self.keys.tenants()).await?)
    }

    pub async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let _: () = self
            .c()
            .hset_multiple(
                self.keys.api_key(&key.id),
                &[
                    ("tenant", key.tenant.as_str()),
                    ("secret", key.secret_sha256.as_str()),
                    ("scopes", &key.scopes.join(",")),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let fields: Vec<(String, String)> = self.c().hgetall(self.keys.api_key(id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |k: &str| {
            fields
                .iter()
                .find(|(f, _)| f == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Ok(Some(ApiKey {
            id: id.to_string(),
            tenant: get("tenant"),
            secret_sha256: get("secret"),
            scopes: get("scopes")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        }))
    }

    /// Sets how long the tenant's runs are kept (ms); `None` restores the default.
    pub async fn set_tenant_retention(&self, tenant: &str, ms: Option<u64>) -> Result<()> {
        self.set_tenant_setting(tenant, RETENTION_MS, ms).await
    }

    /// How long the tenant's runs are kept (ms).
    pub async fn tenant_retention(&self, tenant: &str) -> Result<u64> {
        Ok(self
            .tenant_setting(tenant, RETENTION_MS)
            .await?
            .unwrap_or(self.retention.ttl_ms))
    }

    /// A tenant's quota of runs per minute, if it has its own.
    pub async fn tenant_runs_per_minute(&self, tenant: &str) -> Result<Option<u64>> {
        self.tenant_setting(tenant, RUNS_PER_MINUTE).await
    }

    /// Sets (or, with `None`, removes) a tenant's own quota of runs per minute.
    pub async fn set_tenant_runs_per_minute(&self, tenant: &str, n: Option<u64>) -> Result<()> {
        self.set_tenant_setting(tenant, RUNS_PER_MINUTE, n).await
    }

    /// A limit of the tenant's own, if it has one.
    pub async fn tenant_limit(&self, tenant: &str, limit: TenantLimit) -> Result<Option<u64>> {
        self.tenant_setting(tenant, limit.field()).await
    }

    /// Sets (or, with `None`, removes) a limit of the tenant's own.
    pub async fn set_tenant_limit(
        &self,
        tenant: &str,
        limit: TenantLimit,
        n: Option<u64>,
    ) -> Result<()> {
        self.set_tenant_setting(tenant, limit.field(), n).await
    }

    /// A numeric setting of the tenant's own (a field of its hash), if set.
    async fn tenant_setting(&self, tenant: &str, field: &str) -> Result<Option<u64>> {
        Ok(self.c().hget(self.keys.tenant(tenant), field).await?)
    }

    /// Sets a numeric setting of the tenant's own, or with `None` removes it (the default
    /// applies again).
    async fn set_tenant_setting(&self, tenant: &str, field: &str, v: Option<u64>) -> Result<()> {
        let mut c = self.c();
        match v {
            Some(v) => {
                c.hset::<_, _, _, ()>(self.keys.tenant(tenant), field, v)
                    .await?
            }
            None => c.hdel::<_, _, ()>(self.keys.tenant(tenant), field).await?,
        }
        Ok(())
    }
}
