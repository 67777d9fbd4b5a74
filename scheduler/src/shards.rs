//! Shards: the due index's partitions are dealt to `CHIME_SCHEDULER_SHARDS` shards, each in a
//! hash slot of its own with its own lease and fencing epoch, and the schedulers alive share
//! the shards out.
//!
//! A scheduler process runs one loop per shard (a [`Scheduler`] of that shard: its own passes
//! in flight, quotas and fence; the connections, the clock and the ops endpoints are the
//! process's). The schedulers alive note themselves with a heartbeat every third of the lease
//! time; each reads the others' names, sorted, and its own rank among them. Shard k is the
//! share of the scheduler of rank `k mod alive`: a loop takes its shard's lease only when its
//! process has that rank, and gives the lease up (once its passes in flight have settled) when
//! it no longer does (a scheduler joined or left). One that dies stops beating: within the
//! lease time its leases expire and its name leaves the others' lists, their ranks move, and
//! its shards become theirs. While the views of the list differ for a moment, the lease is
//! what decides: a shard has one leader at a time. A shard changing hands is safe as a leader
//! change always was: the old leader's advances are fenced off, and the fires it published but
//! did not advance are published again under the same run ids.

use crate::Scheduler;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a scheduler process's shard loops share: the shards it leads, its rank among the
/// schedulers alive and their number, and the fewest shards any of them leads.
#[derive(Debug)]
pub(crate) struct Shares {
    shards: u32,
    held: AtomicU32,
    rank: AtomicU32,
    alive: AtomicU32,
    fewest: AtomicU32,
}

impl Shares {
    pub(crate) fn new(shards: u32) -> Arc<Shares> {
        Arc::new(Shares {
            shards: shards.max(1),
            held: AtomicU32::new(0),
            rank: AtomicU32::new(0),
            alive: AtomicU32::new(1),
            fewest: AtomicU32::new(0),
        })
    }

    fn load(v: &AtomicU32) -> u32 {
        v.load(Ordering::Relaxed)
    }

    /// Whether `shard` is this process's share: its rank is `shard mod alive`. A loop takes
    /// its shard's lease only then.
    pub(crate) fn mine(&self, shard: u32) -> bool {
        shard % Self::load(&self.alive).max(1) == Self::load(&self.rank)
    }

    /// Whether a loop leading `shard` should give it up: it is another's share, and this
    /// process leads more than `ceil(shards / alive)`, or more than `floor(shards / alive)`
    /// while a scheduler alive leads fewer than that. Otherwise a leader keeps its shard (a
    /// scheduler that comes back does not take its shards back from one that took them over).
    pub(crate) fn give_up(&self, shard: u32) -> bool {
        if self.mine(shard) {
            return false;
        }
        let alive = Self::load(&self.alive).max(1);
        let (held, fewest) = (Self::load(&self.held), Self::load(&self.fewest));
        let (floor, ceil) = (self.shards / alive, self.shards.div_ceil(alive));
        held > ceil || (held > floor && fewest < floor)
    }

    /// The shards this process leads.
    pub(crate) fn held(&self) -> u32 {
        Self::load(&self.held)
    }

    pub(crate) fn took(&self) {
        self.held.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!(crate::lease::LEADER_GAUGE).increment(1.0);
    }

    pub(crate) fn lost(&self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!(crate::lease::LEADER_GAUGE).decrement(1.0);
    }

    /// Notes the schedulers alive (their names and the shards each leads) and this one's rank
    /// among them (by name).
    fn alive(&self, alive: &[(String, u32)], me: &str) {
        let mut names: Vec<&str> = alive.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let (rank, count) = match names.iter().position(|n| *n == me) {
            Some(r) => (r, names.len()),
            // Not listed (yet): as if it were the last.
            None => (names.len(), names.len() + 1),
        };
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        self.alive.store(n(count), Ordering::Relaxed);
        self.rank.store(n(rank), Ordering::Relaxed);
        let fewest = alive.iter().map(|(_, h)| *h).min().unwrap_or(0);
        self.fewest.store(fewest, Ordering::Relaxed);
    }
}

impl Scheduler {
    /// The partitions of this scheduler's shard.
    pub(crate) fn partitions(&self) -> Vec<u32> {
        let keys = self.store.keys();
        (0..self.store.due_partitions())
            .filter(|p| keys.shard_of(*p) == self.shard)
            .collect()
    }

    /// Notes this process alive every third of the lease time until `cancel`, and keeps its
    /// rank among the schedulers alive for the shard loops.
    pub(crate) async fn heartbeat(self: Arc<Self>, cancel: CancellationToken) {
        let ttl = crate::lease::ttl(&self.settings);
        loop {
            let now = chrono::Utc::now().timestamp_millis();
            let ttl_ms = ttl.as_millis() as u64;
            let held = self.shares.held();
            match self
                .store
                .scheduler_heartbeat(&self.owner, held, now, ttl_ms)
                .await
            {
                Ok(alive) => self.shares.alive(&alive, &self.owner),
                Err(e) => chime_runtime::telemetry::warn_throttled(
                    "heartbeat_failed",
                    &format!("scheduler heartbeat failed: {e}"),
                ),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(ttl / 3) => {}
            }
        }
        let _ = self.store.scheduler_gone(&self.owner).await;
    }
}

/// How long a loop that gave its shard up waits before it may take one again, so another
/// scheduler takes it.
pub(crate) const AFTER_GIVING_UP: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(names: &[(&str, u32)]) -> Vec<(String, u32)> {
        names.iter().map(|(n, h)| (n.to_string(), *h)).collect()
    }

    #[test]
    fn each_shard_is_the_share_of_one_scheduler_alive() {
        let s = Shares::new(4);
        assert!(
            (0..4).all(|k| s.mine(k)),
            "alone (or before its first heartbeat), every shard"
        );
        s.alive(&alive(&[("b", 0), ("a", 0), ("c", 0)]), "b");
        let mine: Vec<u32> = (0..4).filter(|k| s.mine(*k)).collect();
        assert_eq!(mine, [1], "rank 1 of 3: shard 1");
        s.alive(&alive(&[("a", 0), ("b", 0)]), "b");
        assert_eq!((0..4).filter(|k| s.mine(*k)).collect::<Vec<_>>(), [1, 3]);
        s.alive(&alive(&[("c", 0), ("a", 0)]), "b");
        assert_eq!(
            (0..4).filter(|k| s.mine(*k)).collect::<Vec<_>>(),
            [2],
            "not listed yet: last"
        );
    }

    #[test]
    fn a_leader_keeps_a_shard_unless_it_leads_too_many_or_another_starves() {
        // One shard, two schedulers: the one that took it over keeps it.
        let one = Shares::new(1);
        one.took();
        one.alive(&alive(&[("a", 0), ("b", 1)]), "b");
        assert!(!one.mine(0) && !one.give_up(0));
        // Four shards, alone at first: when two more come, it gives up the others' shares.
        let four = Shares::new(4);
        (0..4).for_each(|_| four.took());
        four.alive(&alive(&[("a", 4), ("b", 0), ("c", 0)]), "a");
        assert!(four.give_up(1) && four.give_up(2) && !four.give_up(0) && !four.give_up(3));
        // Two each and a third with none: a shard that is not its share goes.
        let two = Shares::new(4);
        two.took();
        two.took();
        two.alive(&alive(&[("a", 2), ("b", 2), ("c", 0)]), "b");
        assert!(two.give_up(0) && !two.give_up(1));
        two.alive(&alive(&[("a", 2), ("b", 2)]), "b");
        assert!(!two.give_up(0), "nobody starves: it keeps its shards");
    }
}
