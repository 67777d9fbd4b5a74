//! Claims: the leader's in-memory hold on the due entries of passes that have not settled.
//!
//! A pass publishes its fires and leaves the broker's confirms and the advance to a task of
//! its own ([`crate::settle`]); until then its entries are still due in Redis. Later passes
//! read past them and leave them alone, so no entry is fired by two passes. A pass needs one of
//! [`PASSES_IN_FLIGHT`] slots; its [`Claim`] holds the slot and its entries until it settles.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Passes whose confirms and advance may be outstanding at once: a pass publishes its fires and
/// leaves the wait for the broker's confirms and the advance to a task of its own, so fires
/// falling due meanwhile go out without waiting for them.
pub(crate) const PASSES_IN_FLIGHT: usize = 4;

/// The due entries of passes that are not settled yet: a later pass leaves them alone, and
/// each settled pass wakes the loop (its entries may be due again at once).
pub(crate) struct InFlight {
    state: Mutex<Claimed>,
    settled: Notify,
    /// One permit per pass not settled yet.
    passes: Arc<Semaphore>,
    /// The permits.
    capacity: u32,
}

#[derive(Default)]
struct Claimed {
    /// Entries of passes not settled yet.
    members: HashSet<String>,
    /// Entries of settled passes, with the count of releases when theirs happened: a read of
    /// the due index that began before it may hold the entry as it was before its advance.
    released: HashMap<String, u64>,
    /// Releases so far.
    releases: u64,
}

impl Claimed {
    /// Forgets the releases a read that began after `releases` releases sees the effect of.
    fn seen_by_read_at(&mut self, releases: u64) {
        self.released.retain(|_, at| *at > releases);
    }

    /// Whether a pass may take the entry (as read by a read that began after the last call of
    /// [`Claimed::seen_by_read_at`]).
    fn free(&self, member: &str) -> bool {
        !self.members.contains(member) && !self.released.contains_key(member)
    }
}

/// Where a read of the due index begins, for [`InFlight::claim`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadStart {
    /// Entries a read must look past: claimed, or released since before it began.
    pub taken: usize,
    releases: u64,
}

/// A pass's hold on its due entries and its slot among the passes in flight, released (and the
/// loop woken) when dropped: when the pass settles, or when it ends early without advancing
/// them.
pub(crate) struct Claim {
    set: Arc<InFlight>,
    members: Vec<String>,
    /// Dropped after the entries are released.
    _slot: OwnedSemaphorePermit,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.members.is_empty() {
            return;
        }
        let mut c = self.set.state.lock().unwrap();
        c.releases += 1;
        let at = c.releases;
        for member in self.members.drain(..) {
            c.members.remove(&member);
            c.released.insert(member, at);
        }
        drop(c);
        self.set.settled.notify_one();
    }
}

impl InFlight {
    pub(crate) fn new(passes: usize) -> Arc<InFlight> {
        Arc::new(InFlight {
            state: Mutex::default(),
            settled: Notify::new(),
            passes: Arc::new(Semaphore::new(passes)),
            capacity: passes as u32,
        })
    }

    /// A slot for a pass, if one comes free within `wait` (`None`: wait as long as it takes).
    pub(crate) async fn slot(&self, wait: Option<Duration>) -> Option<OwnedSemaphorePermit> {
        let acquire = self.passes.clone().acquire_owned();
        match wait {
            Some(wait) => tokio::time::timeout(wait, acquire).await.ok()?.ok(),
            None => acquire.await.ok(),
        }
    }

    /// Taken before a read of the due index: entries of passes in flight are still due (they
    /// advance when their pass settles), and the read may see an entry of a pass that settles
    /// while it runs as it was before its advance. The read looks past both.
    pub(crate) fn read_start(&self) -> ReadStart {
        let c = self.state.lock().unwrap();
        ReadStart {
            taken: c.members.len() + c.released.len(),
            releases: c.releases,
        }
    }

    /// Claims up to `limit` free entries of each partition's batch (read after `start`), in
    /// order, for a pass holding `slot`: the entries (the index of their batch, member, score)
    /// and its claim.
    pub(crate) fn claim(
        self: &Arc<Self>,
        batches: &[Vec<(String, i64)>],
        start: ReadStart,
        limit: usize,
        slot: OwnedSemaphorePermit,
    ) -> (Vec<(u32, String, i64)>, Claim) {
        let mut due: Vec<(u32, String, i64)> = Vec::new();
        let mut c = self.state.lock().unwrap();
        c.seen_by_read_at(start.releases);
        for (p, batch) in batches.iter().enumerate() {
            let free = batch.iter().filter(|(m, _)| c.free(m));
            due.extend(free.take(limit).map(|(m, s)| (p as u32, m.clone(), *s)));
        }
        c.members.extend(due.iter().map(|(_, m, _)| m.clone()));
        drop(c);
        let claim = Claim {
            set: self.clone(),
            members: due.iter().map(|(_, m, _)| m.clone()).collect(),
            _slot: slot,
        };
        (due, claim)
    }

    /// Resolves when a pass settles (or has settled since the last call).
    pub(crate) async fn settled(&self) {
        self.settled.notified().await;
    }

    /// Waits up to `within` for every pass in flight to settle; false on time-out.
    pub(crate) async fn drain(&self, within: Duration) -> bool {
        let all = self.passes.acquire_many(self.capacity);
        tokio::time::timeout(within, all).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_claimed_entry_is_left_alone_until_a_read_after_its_release() {
        let set = InFlight::new(PASSES_IN_FLIGHT);
        let batch = |members: &[&str]| vec![members.iter().map(|m| (m.to_string(), 1)).collect()];
        let start = set.read_start();
        let slot = set.slot(None).await.unwrap();
        let (due, claim) = set.claim(&batch(&["a"]), start, 10, slot);
        assert_eq!(due, vec![(0, "a".to_string(), 1)]);
        assert_eq!(set.read_start().taken, 1);

        // A read after the claim leaves the entry alone, and takes the others.
        let before = set.read_start();
        let slot = set.slot(None).await.unwrap();
        let (due, other) = set.claim(&batch(&["a", "b"]), before, 10, slot);
        assert_eq!(due, vec![(0, "b".to_string(), 1)], "claimed");
        drop(other);

        // The pass settles while a read that began before is under way: that read may hold
        // the entry as it was before its advance.
        let before = set.read_start();
        drop(claim);
        let slot = set.slot(None).await.unwrap();
        let (due, none) = set.claim(&batch(&["a"]), before, 10, slot);
        assert!(due.is_empty(), "a read that began before the release");
        drop(none);
        let after = set.read_start();
        let slot = set.slot(None).await.unwrap();
        let (due, _claim) = set.claim(&batch(&["a"]), after, 10, slot);
        assert_eq!(due.len(), 1, "a read that began after the release");
    }

    #[tokio::test]
    async fn a_claim_holds_its_slot_until_dropped() {
        let set = InFlight::new(1);
        let start = set.read_start();
        let slot = set.slot(None).await.unwrap();
        let (_, claim) = set.claim(&[vec![("a".to_string(), 1)]], start, 10, slot);
        assert!(set.slot(Some(Duration::from_millis(1))).await.is_none());
        drop(claim);
        assert!(set.slot(Some(Duration::from_millis(1))).await.is_some());
    }
}
