//! Request rate limits per API key and per tenant, enforced by each API process on the
//! requests it serves (governor's GCRA limiters, a burst of one second's worth).
//!
//! - The key limit (`key_requests_per_second`) is one quota for every key: a keyed limiter,
//!   absent when the setting is 0, so an unlimited installation does not look keys up.
//! - The tenant limit is the tenant's own `requestsPerSecond` (its hash's
//!   `requests_per_second`), else `tenant_requests_per_second`. Each process caches a tenant's
//!   setting for [`SETTING_TTL`], so a change reaches every replica within that long; a tenant
//!   without a limit costs one lookup in that cache.
//!
//! Memory stays bounded: a key's state is dropped once it is full again (unused for a second),
//! a tenant's entry once it has not been used for [`IDLE`]; both sweeps run as the maps grow
//! (amortised over the requests), never on a timer.

use crate::error::ApiError;
use chime_store::{Store, TenantLimit};
use governor::clock::{Clock, DefaultClock, QuantaInstant};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, NotUntil, Quota};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a process trusts a tenant's own `requestsPerSecond` before it reads it again: the
/// longest a change takes to reach every API replica.
pub const SETTING_TTL: Duration = Duration::from_secs(5);
/// A tenant's entry unused this long is dropped (its limiter is full again after a second).
pub const IDLE: Duration = Duration::from_secs(60);
/// The keys' limiter is swept of full states every this many checks.
const KEY_SWEEP_EVERY: u64 = 1024;
/// The tenants' cache is swept when it reaches this many entries, or twice its size after the
/// last sweep.
const TENANT_SWEEP_FLOOR: usize = 1024;

/// The rate limits of one API process.
pub struct RateLimits {
    /// `tenant_requests_per_second` (0: no limit).
    tenant_default: u64,
    /// The keys' limiter; `None` without a key limit.
    keys: Option<DefaultKeyedRateLimiter<String>>,
    key_checks: AtomicU64,
    tenants: Mutex<Tenants>,
    clock: DefaultClock,
}

struct Tenants {
    map: HashMap<String, TenantEntry>,
    /// The size at which the next sweep runs.
    sweep_at: usize,
}

/// A tenant's effective limit as last read, and its limiter.
struct TenantEntry {
    /// 0: no limit.
    rate: u64,
    read: Instant,
    used: Instant,
    limiter: Option<DefaultDirectRateLimiter>,
}

/// A limiter of `rate` requests per second (a burst of as many); none for 0.
fn quota(rate: u64) -> Option<Quota> {
    let rate = u32::try_from(rate).unwrap_or(u32::MAX);
    NonZeroU32::new(rate).map(Quota::per_second)
}

impl RateLimits {
    /// The limits of the settings (`tenant_requests_per_second`, `key_requests_per_second`).
    pub fn new(tenant_default: u64, key_rate: u64) -> RateLimits {
        RateLimits {
            tenant_default,
            keys: quota(key_rate).map(DefaultKeyedRateLimiter::keyed),
            key_checks: AtomicU64::new(0),
            tenants: Mutex::new(Tenants {
                map: HashMap::new(),
                sweep_at: TENANT_SWEEP_FLOOR,
            }),
            clock: DefaultClock::default(),
        }
    }

    /// Admits one request of `key` of `tenant`, or refuses it with a 429 that says which
    /// limit it is over and when to retry.
    pub async fn admit(&self, store: &Store, tenant: &str, key: &String) -> Result<(), ApiError> {
        if let Some(keys) = &self.keys {
            let checked = keys.check_key(key);
            if self
                .key_checks
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(KEY_SWEEP_EVERY)
            {
                keys.retain_recent();
            }
            checked.map_err(|n| self.refused(&n, "key", keys_rate(&n)))?;
        }
        let now = Instant::now();
        if let Some(admitted) = self.admit_cached(tenant, now) {
            return admitted;
        }
        let own = store
            .tenant_limit(tenant, TenantLimit::RequestsPerSecond)
            .await?;
        self.admit_read(tenant, own.unwrap_or(self.tenant_default), now)
    }

    /// The tenant's check if its setting is cached and fresh.
    fn admit_cached(&self, tenant: &str, now: Instant) -> Option<Result<(), ApiError>> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let entry = tenants.map.get_mut(tenant)?;
        if now.duration_since(entry.read) >= SETTING_TTL {
            return None;
        }
        entry.used = now;
        Some(self.check(entry))
    }

    /// The tenant's check with its setting just read (`rate`): its limiter is kept while the
    /// rate is unchanged, else made anew.
    fn admit_read(&self, tenant: &str, rate: u64, now: Instant) -> Result<(), ApiError> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if tenants.map.len() >= tenants.sweep_at && !tenants.map.contains_key(tenant) {
            tenants.map.retain(|_, e| now.duration_since(e.used) < IDLE);
            tenants.sweep_at = (tenants.map.len() * 2).max(TENANT_SWEEP_FLOOR);
        }
        let entry = tenants
            .map
            .entry(tenant.to_string())
            .or_insert_with(|| TenantEntry {
                rate,
                read: now,
                used: now,
                limiter: quota(rate).map(DefaultDirectRateLimiter::direct),
            });
        if entry.rate != rate {
            entry.rate = rate;
            entry.limiter = quota(rate).map(DefaultDirectRateLimiter::direct);
        }
        entry.read = now;
        entry.used = now;
        self.check(entry)
    }

    fn check(&self, entry: &TenantEntry) -> Result<(), ApiError> {
        match &entry.limiter {
            None => Ok(()),
            Some(limiter) => limiter
                .check()
                .map_err(|n| self.refused(&n, "tenant", entry.rate)),
        }
    }

    /// The 429 of a refusal by the `limit` (`key` or `tenant`) of `rate` requests per second.
    fn refused(
        &self,
        not_until: &NotUntil<QuantaInstant>,
        limit: &'static str,
        rate: u64,
    ) -> ApiError {
        let wait = not_until.wait_time_from(self.clock.now());
        metrics::counter!("chime_api_rate_limited_total", "limit" => limit).increment(1);
        let whose = if limit == "key" {
            "the API key"
        } else {
            "the tenant"
        };
        ApiError::RateLimited {
            message: format!(
                "too many requests: {whose} is limited to {rate} requests per second; retry later"
            ),
            retry_after_secs: retry_after_secs(wait),
        }
    }

    /// Entries held: the keys' states and the tenants' (for tests and metrics).
    pub fn held(&self) -> (usize, usize) {
        let keys = self.keys.as_ref().map_or(0, |k| k.len());
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        (keys, tenants.map.len())
    }
}

/// The rate of the keys' quota a refusal came from.
fn keys_rate(n: &NotUntil<QuantaInstant>) -> u64 {
    let q = n.quota();
    q.burst_size().get().into()
}

/// Whole seconds to wait, rounded up, at least 1 (`Retry-After` takes whole seconds).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_limited(r: Result<(), ApiError>) -> Option<(String, u64)> {
        match r {
            Ok(()) => None,
            Err(ApiError::RateLimited {
                message,
                retry_after_secs,
            }) => Some((message, retry_after_secs)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(200)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }

    #[test]
    fn a_tenant_is_refused_past_its_burst_and_another_is_not() {
        let limits = RateLimits::new(0, 0);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(rate_limited(limits.admit_read("t1", 3, now)).is_none());
        }
        let (message, after) = rate_limited(limits.admit_read("t1", 3, now)).expect("refused");
        assert!(message.contains("tenant is limited to 3"), "{message}");
        assert_eq!(after, 1);
        assert!(rate_limited(limits.admit_read("t2", 0, now)).is_none());
        assert!(
            rate_limited(limits.admit_cached("t1", now).expect("cached")).is_some(),
            "the cached limiter keeps its state"
        );
        assert!(
            limits.admit_cached("t1", now + SETTING_TTL).is_none(),
            "the setting is read again after its time to live"
        );
        assert!(
            rate_limited(limits.admit_read("t1", 10, now)).is_none(),
            "a changed rate makes a new limiter"
        );
    }

    #[test]
    fn idle_tenants_are_swept_as_the_cache_grows() {
        let limits = RateLimits::new(5, 0);
        let start = Instant::now();
        for i in 0..TENANT_SWEEP_FLOOR {
            limits.admit_read(&format!("t{i}"), 5, start).unwrap();
        }
        assert_eq!(limits.held().1, TENANT_SWEEP_FLOOR);
        let later = start + IDLE;
        limits.admit_read("fresh", 5, later).unwrap();
        assert_eq!(limits.held().1, 1, "only the entry in use is left");
    }

    #[test]
    fn no_key_limit_holds_no_key_state() {
        let limits = RateLimits::new(0, 0);
        assert!(limits.keys.is_none());
        let limits = RateLimits::new(0, 2);
        let keys = limits.keys.as_ref().unwrap();
        let key = "k1".to_string();
        assert!(keys.check_key(&key).is_ok());
        assert!(keys.check_key(&key).is_ok());
        let n = keys.check_key(&key).unwrap_err();
        assert_eq!(keys_rate(&n), 2);
        assert_eq!(limits.held().0, 1);
    }
}
