//! Leader: a scheduler replica driven pass by pass by its caller instead of by its loop.
//!
//! [`Scheduler::lead`] takes the lease; [`Leader::pass_once`] runs one pass, at an explicit
//! instant or on Redis's clock, and waits until it has settled, so a test can step the leader
//! and see what each pass did without waiting on timers. A pass is the loop's own: the same
//! reads, plan, records, publish and fenced advance.

use crate::lease::{self, Lease};
use crate::pass::Step;
use crate::{PassReport, Scheduler};
use anyhow::Context;
use std::sync::Arc;

/// A scheduler holding the lease, whose passes its caller runs ([`Leader::pass_once`]).
#[derive(Debug)]
pub struct Leader {
    scheduler: Arc<Scheduler>,
    lease: Lease,
}

impl Scheduler {
    /// Takes the lease for a caller that runs the passes itself; gives the scheduler back when
    /// another replica holds the lease or Redis cannot be reached.
    pub async fn lead(self) -> Result<Leader, Scheduler> {
        let ttl = lease::ttl(&self.settings);
        match lease::acquire(&self.store, self.shard, &self.owner, ttl).await {
            Some(lease) => {
                self.shares.took();
                Ok(Leader {
                    scheduler: Arc::new(self),
                    lease,
                })
            }
            None => Err(self),
        }
    }
}

impl Leader {
    /// The lease's fencing epoch (stamped on every run message it publishes).
    pub fn epoch(&self) -> u64 {
        self.lease.epoch
    }

    /// The replica's owner name.
    pub fn owner(&self) -> &str {
        self.scheduler.owner()
    }

    /// Runs one pass at `now` (ms; Redis's clock when `None`) and waits until it has settled:
    /// its fires published and confirmed, its entries advanced. Renews the lease first when
    /// that is due; fails when the lease is lost, past its deadline, or fenced off by a newer
    /// leader (as the loop would step down).
    pub async fn pass_once(&mut self, now: Option<i64>) -> anyhow::Result<PassReport> {
        let s = &self.scheduler;
        if self.lease.renewal_due() {
            let ttl = lease::ttl(&s.settings);
            let renewed = lease::renew(&s.store, s.shard, self.lease.clone(), ttl).await;
            self.lease = renewed.context("the lease was lost")?;
        }
        if let Some(why) = self.lease.step_down(&s.fence) {
            anyhow::bail!("{why}");
        }
        let slot = s.in_flight.slot(None).await.context("no pass slot")?;
        match s.pass(&self.lease, slot, now).await? {
            Step::Ended(ended) => Ok(ended.report()),
            Step::Published(pending) => Ok(s
                .settle(&self.lease.token, self.lease.epoch, *pending)
                .await),
        }
    }

    /// Gives the lease up and stops the ops endpoints.
    pub async fn step_down(self) {
        lease::release(&self.scheduler.store, self.scheduler.shard, &self.lease).await;
        self.scheduler.shares.lost();
        self.scheduler.ops_cancel.cancel();
    }
}
