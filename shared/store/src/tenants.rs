//! Tenants and their API keys, and the settings a tenant may have of its own (how long its
//! runs are kept, its quota of runs per minute, its limits, SAP's global parameter
//! `ASYNC_EXEC_TIMEOUT`), fields of its tenant hash; a key's
//! revocation and a tenant's deletion.

use crate::{Result, Store};
use redis::{AsyncCommands, Script};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

static KEY_USED: LazyLock<Script> = crate::script!("key_used.lua");
static TENANT_PURGE: LazyLock<Script> = crate::script!("tenant_purge.lua");

/// A stored API key.
#[derive(Clone, Debug, Default)]
pub struct ApiKey {
    pub id: String,
    pub tenant: String,
    pub secret_sha256: String,
    pub scopes: Vec<String>,
    /// When it was made (ms; 0 for a key of a version that did not note it).
    pub created_ms: i64,
    /// When it stops being accepted (ms), if it expires.
    pub expires_ms: Option<i64>,
    /// When it was last accepted (ms, noted at most once a minute), if ever.
    pub last_used_ms: Option<i64>,
}

impl ApiKey {
    /// Whether the key is no longer accepted at `now` (ms).
    pub fn expired(&self, now: i64) -> bool {
        self.expires_ms.is_some_and(|at| now >= at)
    }

    /// Reads a key from its hash's fields (none: no such key).
    fn from_fields(id: &str, fields: Vec<(String, String)>) -> Option<ApiKey> {
        if fields.is_empty() {
            return None;
        }
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        let ms = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        Some(ApiKey {
            id: id.to_string(),
            tenant: get("tenant").unwrap_or_default().to_string(),
            secret_sha256: get("secret").unwrap_or_default().to_string(),
            scopes: get("scopes")
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            created_ms: ms("created").unwrap_or(0),
            expires_ms: ms("expires"),
            last_used_ms: ms("used"),
        })
    }
}

/// How often a key's last use is written (ms): a key used many times a second costs one write
/// a minute.
pub const KEY_USE_RESOLUTION_MS: i64 = 60_000;

/// How long a deleted tenant's hash stays, marked `deleting`, after everything else of the
/// tenant is gone (ms): longer than any request authenticated before its keys were removed
/// may take, so such a request's write finds the mark and is refused.
pub const TENANT_TOMBSTONE_MS: u64 = 120_000;

/// Where a tenant stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantState {
    Missing,
    Active,
    /// Its deletion has begun (and may have been cut short: deleting it again completes it).
    Deleting,
}

/// What the list of tenants shows of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantProfile {
    pub id: String,
    pub name: String,
    /// When it was created (ISO 8601), as written then.
    pub created: Option<String>,
    /// Its deletion has begun.
    pub deleting: bool,
}

/// SHA-256 of an API key secret, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The tenant hash's field marking a tenant being deleted (`job_write.lua` reads it too).
pub(crate) const DELETING: &str = "deleting";
/// The tenant hash's field of its own retention (ms), which the run scripts read too.
const RETENTION_MS: &str = "retention_ms";
/// The tenant hash's field of its own quota of runs per minute.
const RUNS_PER_MINUTE: &str = "runs_per_minute";
/// The tenant hash's field of its own `ASYNC_EXEC_TIMEOUT` (seconds), which the run script's
/// deadline reads too.
const ASYNC_EXEC_TIMEOUT_S: &str = "async_exec_timeout_s";

/// A limit a tenant may have of its own (a field of its hash, which the scripts or the API
/// processes that enforce it read; without it, the setting's default applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantLimit {
    /// Jobs it may have (`job_write.lua`).
    MaxJobs,
    /// Schedules it may have, over all its jobs (`job_write.lua`).
    MaxSchedules,
    /// Runs it may have in flight (`runs.lua`, the leader's admission).
    MaxInFlight,
    /// Requests per second its API keys may make together (the API's rate limiter, which
    /// reads it again every few seconds).
    RequestsPerSecond,
}

impl TenantLimit {
    fn field(self) -> &'static str {
        match self {
            TenantLimit::MaxJobs => "max_jobs",
            TenantLimit::MaxSchedules => "max_schedules",
            TenantLimit::MaxInFlight => "max_in_flight",
            TenantLimit::RequestsPerSecond => "requests_per_second",
        }
    }
}

impl Store {
    /// Creates a tenant: first its id in the set of tenants (in a slot of its own on a
    /// cluster), then its hash, with its sealed signing secret if it has one. A creation cut
    /// between the two leaves an id whose tenant does not exist, which the retention sweep
    /// passes over; never a tenant the sweep misses.
    pub async fn create_tenant(
        &self,
        id: &str,
        name: &str,
        now: &str,
        signing_secret: Option<&str>,
    ) -> Result<()> {
        let mut c = self.c();
        let _: () = c.sadd(self.keys.tenants(), id).await?;
        let mut fields = vec![("name", name), ("created", now)];
        if let Some(sealed) = signing_secret {
            fields.push((crate::signing::SIGNING_SECRET, sealed));
        }
        let _: () = c.hset_multiple(self.keys.tenant(id), &fields).await?;
        Ok(())
    }

    /// Whether the tenant exists and is not being deleted.
    pub async fn tenant_exists(&self, id: &str) -> Result<bool> {
        Ok(self.tenant_state(id).await? == TenantState::Active)
    }

    pub async fn tenant_state(&self, id: &str) -> Result<TenantState> {
        let (exists, deleting): (bool, bool) = redis::pipe()
            .exists(self.keys.tenant(id))
            .hexists(self.keys.tenant(id), DELETING)
            .query_async(&mut self.c())
            .await?;
        Ok(match (exists, deleting) {
            (false, _) => TenantState::Missing,
            (true, false) => TenantState::Active,
            (true, true) => TenantState::Deleting,
        })
    }

    /// A tenant's name, creation time and whether it is being deleted; `None` for no tenant.
    pub async fn tenant_profile(&self, id: &str) -> Result<Option<TenantProfile>> {
        let (name, created, deleting): (Option<String>, Option<String>, Option<String>) = self
            .c()
            .hmget(self.keys.tenant(id), &["name", "created", DELETING])
            .await?;
        Ok(
            (name.is_some() || created.is_some()).then(|| TenantProfile {
                id: id.to_string(),
                name: name.unwrap_or_default(),
                created,
                deleting: deleting.is_some(),
            }),
        )
    }

    /// Every tenant id.
    pub async fn tenants(&self) -> Result<Vec<String>> {
        Ok(self.c().smembers(self.keys.tenants()).await?)
    }

    /// Stores a key: first its id in the tenant's set of keys (so a listing never misses a
    /// key that works), then its hash, which expires with the key.
    pub async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let mut c = self.c();
        let _: () = c.sadd(self.keys.tenant_keys(&key.tenant), &key.id).await?;
        let hash = self.keys.api_key(&key.id);
        let mut fields = vec![
            ("tenant", key.tenant.clone()),
            ("secret", key.secret_sha256.clone()),
            ("scopes", key.scopes.join(",")),
            ("created", key.created_ms.to_string()),
        ];
        if let Some(at) = key.expires_ms {
            fields.push(("expires", at.to_string()));
        }
        let mut pipe = redis::pipe();
        pipe.atomic().hset_multiple(&hash, &fields).ignore();
        if let Some(at) = key.expires_ms {
            pipe.cmd("PEXPIREAT").arg(&hash).arg(at).ignore();
        }
        let _: () = pipe.query_async(&mut c).await?;
        Ok(())
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let fields: Vec<(String, String)> = self.c().hgetall(self.keys.api_key(id)).await?;
        Ok(ApiKey::from_fields(id, fields))
    }

    /// Notes that a key was accepted at `now` (ms), unless it was noted less than
    /// [`KEY_USE_RESOLUTION_MS`] before; a key deleted meanwhile is not made again.
    pub async fn key_used(&self, key: &ApiKey, now: i64) -> Result<()> {
        if key
            .last_used_ms
            .is_some_and(|at| now - at < KEY_USE_RESOLUTION_MS)
        {
            return Ok(());
        }
        let mut inv = KEY_USED.prepare_invoke();
        inv.key(self.keys.api_key(&key.id)).arg(now);
        let _: i64 = inv.invoke_async(&mut self.c()).await?;
        Ok(())
    }

    /// The tenant's keys, by id (ids whose key has expired away are forgotten).
    pub async fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>> {
        let mut c = self.c();
        let mut ids: Vec<String> = c.smembers(self.keys.tenant_keys(tenant)).await?;
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.api_key(&id).await? {
                Some(k) if k.tenant == tenant => out.push(k),
                _ => {
                    let _: () = c.srem(self.keys.tenant_keys(tenant), &id).await?;
                }
            }
        }
        Ok(out)
    }

    /// Deletes one of the tenant's keys: it fails from the next request on, on every API
    /// replica (they read the key on every request). False when the tenant has no such key.
    pub async fn revoke_api_key(&self, tenant: &str, id: &str) -> Result<bool> {
        match self.api_key(id).await? {
            Some(k) if k.tenant == tenant => {
                let mut c = self.c();
                let _: () = c.del(self.keys.api_key(id)).await?;
                let _: () = c.srem(self.keys.tenant_keys(tenant), id).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Marks a tenant `deleting`: job writes are refused from now on (`job_write.lua`).
    pub async fn mark_tenant_deleting(&self, tenant: &str) -> Result<()> {
        let _: () = self.c().hset(self.keys.tenant(tenant), DELETING, 1).await?;
        Ok(())
    }

    /// The last step of a tenant's deletion, once its keys and jobs are gone: every key left
    /// in its slot is deleted (a `SCAN` of the node that holds it, in steps), its id leaves the
    /// set of tenants, and its hash stays as a tombstone for [`TENANT_TOMBSTONE_MS`] (without its
    /// signing secrets). Returns
    /// how many keys were deleted.
    pub async fn purge_tenant(&self, tenant: &str) -> Result<u64> {
        let hash = self.keys.tenant(tenant);
        let pattern = self.keys.tenant_pattern(tenant);
        let mut c = self.c();
        let (mut cursor, mut deleted) = ("0".to_string(), 0u64);
        loop {
            let mut inv = TENANT_PURGE.prepare_invoke();
            inv.key(&hash).arg(&cursor).arg(&pattern).arg(1000);
            let (next, n): (String, u64) = inv.invoke_async(&mut c).await?;
            deleted += n;
            if next == "0" {
                break;
            }
            cursor = next;
        }
        let _: () = c.srem(self.keys.tenants(), tenant).await?;
        let _: () = redis::pipe()
            .atomic()
            .hset(&hash, DELETING, 1)
            .ignore()
            .hdel(&hash, &crate::signing::FIELDS)
            .ignore()
            .pexpire(&hash, TENANT_TOMBSTONE_MS as i64)
            .ignore()
            .query_async(&mut c)
            .await?;
        Ok(deleted)
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

    /// The tenant's `ASYNC_EXEC_TIMEOUT` (seconds): its own, else SAP's default.
    pub async fn tenant_async_timeout(&self, tenant: &str) -> Result<u64> {
        Ok(self
            .tenant_setting(tenant, ASYNC_EXEC_TIMEOUT_S)
            .await?
            .unwrap_or(chime_core::run::ASYNC_EXEC_TIMEOUT_DEFAULT_SECS))
    }

    /// Sets the tenant's `ASYNC_EXEC_TIMEOUT` (seconds; the caller checks its range). The
    /// deadline reads it when it looks, so it applies to runs already waiting too.
    pub async fn set_tenant_async_timeout(&self, tenant: &str, secs: u64) -> Result<()> {
        self.set_tenant_setting(tenant, ASYNC_EXEC_TIMEOUT_S, Some(secs))
            .await
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
