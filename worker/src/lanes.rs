//! Fair shares of a worker's slots: one tenant's runs hold at most a share of the worker's
//! slots (`tenant_slot_share_percent`) and of call time (`tenant_call_budget_ms`, each run
//! counting its timeout) at once. A run over its tenant's share waits for its tenant's lane
//! before it asks for one of the worker's slots, so a tenant whose endpoints hang holds its
//! share and no more, and the other tenants' runs take the rest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The lanes of one worker, one per tenant with runs in it.
pub struct Lanes {
    /// Slots a tenant may hold at once.
    slots: usize,
    /// Call time (ms) a tenant may hold at once.
    budget_ms: u32,
    tenants: Mutex<HashMap<String, Lane>>,
}

#[derive(Clone)]
struct Lane {
    slots: Arc<Semaphore>,
    time: Arc<Semaphore>,
}

impl Lane {
    /// No run holds or waits for this lane.
    fn idle(&self) -> bool {
        Arc::strong_count(&self.slots) == 1
    }
}

/// A run's place in its tenant's lane: released when dropped.
pub struct InLane {
    _slot: OwnedSemaphorePermit,
    _time: OwnedSemaphorePermit,
}

impl Lanes {
    /// Lanes of `share_percent` % of `concurrency` slots (at least one) and `budget_ms` of
    /// call time each (0: the lane's slots × `default_timeout_ms`).
    pub fn new(
        concurrency: usize,
        share_percent: u32,
        budget_ms: u64,
        default_timeout_ms: u64,
    ) -> Lanes {
        let slots = (concurrency * share_percent as usize / 100).max(1);
        let budget_ms = match budget_ms {
            0 => slots as u64 * default_timeout_ms,
            ms => ms,
        };
        Lanes {
            slots,
            budget_ms: u32::try_from(budget_ms.max(1)).unwrap_or(u32::MAX),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Slots one tenant may hold.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Waits for a place in `tenant`'s lane for a run of `timeout_ms` (counted up to the whole
    /// budget). Waiters of one lane are served in the order they came.
    pub async fn enter(&self, tenant: &str, timeout_ms: u64) -> InLane {
        let lane = self.lane(tenant);
        let weight = u32::try_from(timeout_ms)
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_ms);
        // Neither semaphore is ever closed.
        let time = lane.time.acquire_many_owned(weight).await;
        let slot = lane.slots.acquire_owned().await;
        match (slot, time) {
            (Ok(_slot), Ok(_time)) => InLane { _slot, _time },
            _ => unreachable!("a lane's semaphores are never closed"),
        }
    }

    fn lane(&self, tenant: &str) -> Lane {
        let mut tenants = self
            .tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(lane) = tenants.get(tenant) {
            return lane.clone();
        }
        if tenants.len() > 1024 {
            tenants.retain(|_, lane| !lane.idle());
        }
        tenants
            .entry(tenant.to_string())
            .or_insert_with(|| Lane {
                slots: Arc::new(Semaphore::new(self.slots)),
                time: Arc::new(Semaphore::new(self.budget_ms as usize)),
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn blocked(f: impl std::future::Future) -> bool {
        tokio::time::timeout(Duration::from_millis(50), f)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn a_tenant_holds_its_share_of_slots_and_no_more_while_others_still_enter() {
        let lanes = Lanes::new(8, 50, 1_000_000, 0);
        assert_eq!(lanes.slots(), 4);
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(lanes.enter("hostile", 1000).await);
        }
        assert!(blocked(lanes.enter("hostile", 1000)).await);
        let _other = lanes.enter("healthy", 1000).await;
        held.pop();
        let _again = lanes.enter("hostile", 1000).await;
    }

    #[tokio::test]
    async fn long_timeouts_spend_the_call_time_budget() {
        // 4 slots, 60 s of call time: two runs of 30 s fill it, short runs of others pass.
        let lanes = Lanes::new(8, 50, 60_000, 0);
        let a = lanes.enter("slow", 30_000).await;
        let _b = lanes.enter("slow", 30_000).await;
        assert!(blocked(lanes.enter("slow", 1_000)).await);
        let _c = lanes.enter("quick", 1_000).await;
        drop(a);
        let _d = lanes.enter("slow", 10_000).await;
        // A timeout over the whole budget counts as the budget: it runs alone, not never.
        let lanes = Lanes::new(8, 50, 60_000, 0);
        let _e = lanes.enter("huge", 600_000).await;
        assert!(blocked(lanes.enter("huge", 1)).await);
    }

    #[test]
    fn the_default_budget_is_the_lanes_slots_times_the_default_timeout() {
        assert_eq!(Lanes::new(8, 50, 0, 15_000).budget_ms, 60_000);
    }

    #[tokio::test]
    async fn idle_lanes_are_forgotten() {
        let lanes = Lanes::new(8, 50, 1000, 0);
        for t in 0..2000 {
            drop(lanes.enter(&format!("t{t}"), 1).await);
        }
        assert!(lanes.tenants.lock().unwrap().len() <= 1025);
    }
}
