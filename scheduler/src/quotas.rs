//! Quotas: each tenant's fire budget, and the deferral of fires over it.
//!
//! Budgets follow the generic cell rate algorithm: a tenant allowed `q` runs per minute fires
//! one run every `60 000 / q` ms on average, with bursts of up to one second's worth. A fire
//! beyond that is deferred to the next free slot, which it reserves, so a tenant over its quota
//! is late instead of crowding the others out, and loses nothing (interval schedules shift,
//! cron fires replay within the misfire threshold). Held in the leader's memory: a new leader
//! starts with full budgets. A tenant's own quota is read from the store every 10 s at most.

use chime_store::Store;
use futures::future::join_all;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The leader's per-tenant fire budgets.
pub(crate) struct Quotas {
    budgets: Mutex<Budgets>,
}

impl Quotas {
    /// Budgets of `default_per_minute` runs per minute (0: no limit) for tenants without a
    /// quota of their own, of one of `shards` shards of the due index: a tenant's schedules
    /// are spread over the shards by their ids, so each shard's leader allows its share of
    /// every quota (rounded up).
    pub(crate) fn new(default_per_minute: u64, shards: u32) -> Quotas {
        let mut budgets = Budgets::new(default_per_minute);
        budgets.shards = u64::from(shards.max(1));
        budgets.default_per_minute = budgets.share(default_per_minute);
        Quotas {
            budgets: Mutex::new(budgets),
        }
    }

    /// Reads the own quota of every tenant whose cached one is stale.
    pub(crate) async fn refresh<'a>(&self, store: &Store, tenants: impl Iterator<Item = &'a str>) {
        let stale = self.budgets.lock().unwrap().stale(tenants);
        if stale.is_empty() {
            return;
        }
        let own = join_all(stale.iter().map(|t| store.tenant_runs_per_minute(t))).await;
        let mut b = self.budgets.lock().unwrap();
        for (t, own) in stale.into_iter().zip(own) {
            match own {
                Ok(own) => b.set(t, own),
                Err(e) => tracing::warn!(tenant = %t, error = %e, "cannot read the tenant's quota"),
            }
        }
    }

    /// Takes one run of the tenant's budget at `now` (ms): `None` when it may fire now, or the
    /// instant (ms) of the slot reserved for it.
    pub(crate) fn take(&self, tenant: &str, now: i64) -> Option<i64> {
        self.budgets.lock().unwrap().take(tenant, now)
    }
}

/// The budgets themselves, free of I/O.
struct Budgets {
    default_per_minute: u64,
    /// The shards of the due index a quota is shared among.
    shards: u64,
    tenants: HashMap<String, Budget>,
}

struct Budget {
    per_minute: u64,
    /// When the tenant's own quota was last read (`None`: not yet).
    checked: Option<Instant>,
    /// Theoretical arrival time of the next run (ms).
    tat: f64,
}

impl Budgets {
    /// How long a tenant's own quota is trusted before it is read again.
    const REFRESH: Duration = Duration::from_secs(10);
    /// Burst tolerance (ms): a second's worth of runs may fire at once.
    const TOLERANCE_MS: f64 = 1000.0;

    fn new(default_per_minute: u64) -> Budgets {
        Budgets {
            default_per_minute,
            shards: 1,
            tenants: HashMap::new(),
        }
    }

    /// One shard's share of a quota of `per_minute` (0 stays "no limit").
    fn share(&self, per_minute: u64) -> u64 {
        per_minute.div_ceil(self.shards)
    }

    /// The tenants (once each, sorted) whose own quota is not known or is too old.
    fn stale<'a>(&self, tenants: impl Iterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = tenants
            .filter(|t| {
                self.tenants
                    .get(*t)
                    .and_then(|b| b.checked)
                    .is_none_or(|at| at.elapsed() > Self::REFRESH)
            })
            .map(String::from)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn set(&mut self, tenant: String, own: Option<u64>) {
        let per_minute = own.map_or(self.default_per_minute, |q| self.share(q));
        let b = self.budget(tenant);
        b.per_minute = per_minute;
        b.checked = Some(Instant::now());
    }

    /// The tenant's budget; a tenant not seen yet starts full, with the default quota.
    fn budget(&mut self, tenant: String) -> &mut Budget {
        let per_minute = self.default_per_minute;
        self.tenants.entry(tenant).or_insert_with(|| Budget {
            per_minute,
            checked: None,
            tat: 0.0,
        })
    }

    /// See [`Quotas::take`].
    fn take(&mut self, tenant: &str, now: i64) -> Option<i64> {
        let b = match self.tenants.get_mut(tenant) {
            Some(b) => b,
            None => self.budget(tenant.to_string()),
        };
        if b.per_minute == 0 {
            return None;
        }
        let per_minute = b.per_minute;
        let now = now as f64;
        let slot = b.tat.max(now);
        b.tat = slot + 60_000.0 / per_minute as f64;
        if slot - now <= Self::TOLERANCE_MS {
            None
        } else {
            Some((slot - Self::TOLERANCE_MS).ceil() as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_fires_a_seconds_worth_at_once_then_one_slot_per_interval() {
        let mut q = Budgets::new(600); // 10 runs/s: one slot every 100 ms
        let now = 1_000_000;
        let fired = (0..30).filter(|_| q.take("a", now).is_none()).count();
        assert_eq!(fired, 11, "a second's burst, plus the run at `now`");
        // The 12th run got the next slot after the burst: reserved, so they never collide.
        let slots: Vec<i64> = (0..3).map(|_| q.take("a", now).unwrap()).collect();
        assert!(slots.windows(2).all(|w| w[1] - w[0] == 100), "{slots:?}");
        // Another tenant has a budget of its own.
        assert_eq!(q.take("b", now), None);
    }

    #[test]
    fn no_quota_means_no_limit_and_a_tenants_own_quota_wins() {
        let mut q = Budgets::new(0);
        assert!((0..10_000).all(|_| q.take("a", 0).is_none()));
        q.set("b".into(), Some(60));
        assert_eq!(q.take("b", 0), None);
        assert_eq!(
            q.take("b", 0),
            None,
            "burst: a second's worth (1) plus the first"
        );
        assert_eq!(q.take("b", 0), Some(1_000));
        q.set("c".into(), Some(0));
        assert!((0..1_000).all(|_| q.take("c", 0).is_none()));
    }

    #[test]
    fn each_shard_allows_its_share_of_a_quota() {
        let q = Quotas::new(600, 4);
        let mut b = q.budgets.lock().unwrap();
        assert_eq!(b.default_per_minute, 150);
        b.set("a".into(), Some(10));
        assert_eq!(b.tenants["a"].per_minute, 3, "rounded up");
        b.set("b".into(), Some(0));
        assert_eq!(b.tenants["b"].per_minute, 0, "no limit stays no limit");
    }

    #[test]
    fn only_unknown_or_old_quotas_are_read_again_each_once() {
        let mut q = Budgets::new(60);
        q.set("known".into(), None);
        let stale = q.stale(["b", "known", "a", "b"].into_iter());
        assert_eq!(stale, vec!["a".to_string(), "b".to_string()]);
        // A budget taken from before its quota was read is still stale.
        q.take("c", 0);
        assert_eq!(q.stale(["c"].into_iter()), vec!["c".to_string()]);
    }
}
