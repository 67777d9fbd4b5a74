//! Lease: leadership among the replicas, by a Redis lease with a fencing epoch.
//!
//! A replica takes the free lease with a new epoch (its token is `owner:epoch`), renews it at a
//! third of its TTL, and acts as leader only until a deadline of four fifths of the TTL after
//! it last sent a renewal that succeeded, so it stops before another replica can take over.
//! Every advance of the due index is fenced by the token in Redis: a settling pass that finds
//! itself fenced off marks its epoch ([`Fence`]) and the leader steps down.

use chime_runtime::config::Settings;
use chime_store::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The gauge of the shards of the due index this replica leads (1 or 0 when unsharded).
pub(crate) const LEADER_GAUGE: &str = "chime_scheduler_leader";

/// Delay before a failed renewal (a Redis error, not a lost lease) is tried again.
const RETRY_RENEWAL: Duration = Duration::from_millis(100);

/// The lease this replica holds.
#[derive(Clone, Debug)]
pub(crate) struct Lease {
    pub token: String,
    pub epoch: u64,
    /// Past this instant the replica stops acting as leader even without news of losing it.
    pub valid_until: Instant,
    pub renew_at: Instant,
}

impl Lease {
    /// The lease granted (or renewed) by a request sent at `sent`.
    fn granted(token: String, epoch: u64, sent: Instant, ttl: Duration) -> Lease {
        Lease {
            token,
            epoch,
            valid_until: sent + ttl - ttl / 5,
            renew_at: sent + ttl / 3,
        }
    }

    /// Whether the lease's deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.valid_until
    }

    /// Whether it is time to renew the lease.
    pub fn renewal_due(&self) -> bool {
        Instant::now() >= self.renew_at
    }

    /// Why the holder must stop acting as leader now, if it must.
    pub fn step_down(&self, fence: &Fence) -> Option<&'static str> {
        if self.expired() {
            Some("lease deadline passed without renewal; stepping down")
        } else if fence.fenced(self.epoch) {
            Some("fenced off by a newer leader; stepping down")
        } else {
            None
        }
    }
}

/// The epoch in which a settling pass found this replica fenced off (0: none).
#[derive(Default)]
pub(crate) struct Fence(AtomicU64);

impl Fence {
    /// Notes that a pass of the lease of `epoch` was fenced off.
    pub fn fence(&self, epoch: u64) {
        self.0.store(epoch, Ordering::Relaxed);
    }

    /// Whether a pass of the lease of `epoch` was fenced off.
    pub fn fenced(&self, epoch: u64) -> bool {
        self.0.load(Ordering::Relaxed) == epoch
    }
}

/// The lease's time to live.
pub(crate) fn ttl(s: &Settings) -> Duration {
    Duration::from_millis(s.leader_ttl_ms)
}

/// Takes a shard's lease for `owner` if it is free.
pub(crate) async fn acquire(
    store: &Store,
    shard: u32,
    owner: &str,
    ttl: Duration,
) -> Option<Lease> {
    let sent = Instant::now();
    match store
        .lease_acquire(shard, owner, ttl.as_millis() as u64)
        .await
    {
        Ok(None) => None,
        Ok(Some(epoch)) => {
            tracing::info!(owner = %owner, shard, epoch, "became leader");
            metrics::counter!("chime_leader_acquired_total").increment(1);
            Some(Lease::granted(format!("{owner}:{epoch}"), epoch, sent, ttl))
        }
        Err(e) => {
            chime_runtime::telemetry::warn_throttled(
                "lease_acquire_failed",
                &format!("lease acquisition failed: {e}"),
            );
            None
        }
    }
}

/// Renews a shard's lease: `None` when it is lost. On a Redis error the holder keeps acting
/// until its deadline and tries again shortly.
pub(crate) async fn renew(store: &Store, shard: u32, l: Lease, ttl: Duration) -> Option<Lease> {
    let sent = Instant::now();
    match store
        .lease_renew(shard, &l.token, ttl.as_millis() as u64)
        .await
    {
        Ok(true) => Some(Lease::granted(l.token, l.epoch, sent, ttl)),
        Ok(false) => {
            tracing::warn!(shard, epoch = l.epoch, "lease lost");
            None
        }
        Err(e) => {
            chime_runtime::telemetry::warn_throttled(
                "lease_renew_failed",
                &format!("lease renewal failed: {e}"),
            );
            Some(Lease {
                renew_at: Instant::now() + RETRY_RENEWAL,
                ..l
            })
        }
    }
}

/// Gives a shard's lease up.
pub(crate) async fn release(store: &Store, shard: u32, l: &Lease) {
    let _ = store.lease_release(shard, &l.token).await;
    tracing::info!(shard, epoch = l.epoch, "lease released");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_renewed_at_a_third_and_acted_on_until_four_fifths_of_its_ttl() {
        let sent = Instant::now();
        let l = Lease::granted("o:3".into(), 3, sent, Duration::from_millis(1500));
        assert_eq!(l.renew_at - sent, Duration::from_millis(500));
        assert_eq!(l.valid_until - sent, Duration::from_millis(1200));
        let fence = Fence::default();
        assert_eq!(l.step_down(&fence), None);
        fence.fence(2);
        assert_eq!(l.step_down(&fence), None, "an older epoch's fence");
        fence.fence(3);
        assert!(l.step_down(&fence).unwrap().contains("fenced off"));
        let gone = Lease::granted(
            "o:4".into(),
            4,
            sent - Duration::from_secs(2),
            Duration::from_millis(1500),
        );
        assert!(gone.expired() && gone.renewal_due());
        assert!(gone.step_down(&fence).unwrap().contains("deadline"));
    }
}
