//! A tenant's signing secrets, fields of its tenant hash, sealed (the store never sees them
//! open): the current one (`signing_secret`), and after a rotation the one it replaced with
//! the end of its overlap (`signing_secret_prev`, `signing_secret_prev_until`, ms). A tenant
//! created before tenants had secrets gets one on first use, set only if absent, so every
//! worker agrees on it.

use crate::{Result, Store};
use redis::Script;
use std::sync::LazyLock;

static SIGNING_INIT: LazyLock<Script> = crate::script!("signing_init.lua");
static SIGNING_ROTATE: LazyLock<Script> = crate::script!("signing_rotate.lua");

/// The tenant hash's field of its current signing secret, sealed.
pub(crate) const SIGNING_SECRET: &str = "signing_secret";
const PREVIOUS: &str = "signing_secret_prev";
const PREVIOUS_UNTIL: &str = "signing_secret_prev_until";
/// Every field of the signing secrets (a deleted tenant's tombstone keeps none).
pub(crate) const FIELDS: [&str; 3] = [SIGNING_SECRET, PREVIOUS, PREVIOUS_UNTIL];

/// A tenant's signing secrets as stored: sealed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningSecrets {
    /// The secret that signs; `None` for a tenant created before tenants had secrets.
    pub current: Option<String>,
    /// The secret a rotation replaced, and until when (ms) it signs beside the current one.
    pub previous: Option<(String, i64)>,
}

/// How a rotation went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotated {
    /// The tenant's secret was replaced (and signs on until the end of the overlap, if any).
    Replaced,
    /// The tenant had no secret (it was created before tenants had them).
    First,
    /// The tenant does not exist or is being deleted.
    NoTenant,
}

impl Store {
    /// The tenant's signing secrets; `None` when the tenant does not exist or is being
    /// deleted.
    pub async fn signing_secrets(&self, tenant: &str) -> Result<Option<SigningSecrets>> {
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.tenant(tenant))
            .arg("name")
            .arg(crate::tenants::DELETING)
            .arg(SIGNING_SECRET)
            .arg(PREVIOUS)
            .arg(PREVIOUS_UNTIL)
            .query_async(&mut self.c())
            .await?;
        let [name, deleting, current, previous, until]: [Option<String>; 5] =
            fields.try_into().map_err(|_| {
                crate::StoreError::Corrupt("HMGET answered another number of fields".into())
            })?;
        let until = until.and_then(|t| t.parse::<i64>().ok());
        if name.is_none() || deleting.is_some() {
            return Ok(None);
        }
        Ok(Some(SigningSecrets {
            current,
            previous: previous.zip(until),
        }))
    }

    /// Gives the tenant the sealed secret `sealed` unless it has one; returns the one it has
    /// then (`None`: the tenant does not exist or is being deleted).
    pub async fn init_signing_secret(&self, tenant: &str, sealed: &str) -> Result<Option<String>> {
        let mut inv = SIGNING_INIT.prepare_invoke();
        inv.key(self.keys.tenant(tenant)).arg(sealed);
        Ok(inv.invoke_async(&mut self.c()).await?)
    }

    /// Makes `sealed` the tenant's signing secret; the one it replaces keeps signing until
    /// `previous_until` (ms), or stops at once with `None`.
    pub async fn rotate_signing_secret(
        &self,
        tenant: &str,
        sealed: &str,
        previous_until: Option<i64>,
    ) -> Result<Rotated> {
        let mut inv = SIGNING_ROTATE.prepare_invoke();
        inv.key(self.keys.tenant(tenant))
            .arg(sealed)
            .arg(previous_until.map(|t| t.to_string()).unwrap_or_default());
        let code: i64 = inv.invoke_async(&mut self.c()).await?;
        Ok(match code {
            1 => Rotated::Replaced,
            2 => Rotated::First,
            _ => Rotated::NoTenant,
        })
    }
}
