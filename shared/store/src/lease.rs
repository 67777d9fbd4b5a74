//! The leader lease: one scheduler replica holds it at a time, under a fencing epoch that
//! grows with every new holder (its token is `<owner>:<epoch>`). The lease and the epoch
//! counter share the due index's `{sched}` slot, so the due index's writes can be fenced.

use crate::{Result, Store};
use redis::Script;
use std::sync::LazyLock;

static ACQUIRE: LazyLock<Script> = crate::script!("lease_acquire.lua");
static RENEW: LazyLock<Script> = crate::script!("lease_renew.lua");
static RELEASE: LazyLock<Script> = crate::script!("lease_release.lua");

impl Store {
    /// Takes the lease if free: its new fencing epoch, or `None` when another owner holds it.
    pub async fn lease_acquire(&self, owner: &str, ttl_ms: u64) -> Result<Option<u64>> {
        let epoch: u64 = ACQUIRE
            .key(self.keys.lease())
            .key(self.keys.epoch())
            .arg(owner)
            .arg(ttl_ms)
            .invoke_async(&mut self.c())
            .await?;
        Ok((epoch > 0).then_some(epoch))
    }

    /// Extends the lease if `token` still holds it: false when it was lost.
    pub async fn lease_renew(&self, token: &str, ttl_ms: u64) -> Result<bool> {
        let r: i64 = RENEW
            .key(self.keys.lease())
            .arg(token)
            .arg(ttl_ms)
            .invoke_async(&mut self.c())
            .await?;
        Ok(r == 1)
    }

    /// Gives the lease up if `token` holds it: false when it did not.
    pub async fn lease_release(&self, token: &str) -> Result<bool> {
        let r: i64 = RELEASE
            .key(self.keys.lease())
            .arg(token)
            .invoke_async(&mut self.c())
            .await?;
        Ok(r == 1)
    }
}
