//! The lifecycle rules' indexes (SAP's auto-deactivation of a schedule whose endpoint stays
//! unreachable, and its removal of one-time schedules not run for long): for each tenant, its
//! schedules whose endpoint is unreachable (`runs.lua` marks one as a run finishes without a
//! connection, and takes it out as a run gets an HTTP answer) and its inactive one-time
//! schedules (`job_write.lua` and `schedule_deactivate.lua` put them in and take them out).
//! Each is a sorted set of [`Keys::schedule_member`]s scored by the instant the schedule's
//! days count from. The leader's lifecycle sweep reads the members past their limit and ends
//! their schedules with a compare-and-set on the stored definition and the mark it read: a
//! deactivation (`schedule_deactivate.lua`) or a removal (`schedule_expire.lua`).

use crate::keys::Keys;
use crate::{DeactivationNote, Result, Store, StoredSchedule};
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;

static SCHEDULE_EXPIRE: LazyLock<Script> = crate::script!("schedule_expire.lua");
static LIFECYCLE_UNMARK: LazyLock<Script> = crate::script!("lifecycle_unmark.lua");

/// One of the lifecycle rules, by its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Schedules whose endpoint is unreachable, by the first finish of their streak of runs
    /// without a connection ([`Keys::unreachable`]).
    Unreachable,
    /// Inactive one-time schedules, by when they became inactive or were last written
    /// ([`Keys::one_time_expiry`]).
    OneTimeExpiry,
}

/// A schedule in one of a tenant's lifecycle indexes, and its mark: the instant (ms) its days
/// count from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marked {
    pub job: u64,
    pub schedule: String,
    pub since: i64,
}

impl Marked {
    fn member(&self) -> String {
        Keys::schedule_member(self.job, &self.schedule)
    }
}

impl Store {
    fn rule_index(&self, tenant: &str, rule: Rule) -> String {
        match rule {
            Rule::Unreachable => self.keys.unreachable(tenant),
            Rule::OneTimeExpiry => self.keys.one_time_expiry(tenant),
        }
    }

    /// The tenant's schedules of `rule` marked at or before `upto` (ms), oldest mark first, at
    /// most `limit`.
    pub async fn marked(
        &self,
        tenant: &str,
        rule: Rule,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<Marked>> {
        let members: Vec<(String, f64)> = self
            .c()
            .zrangebyscore_limit_withscores(
                self.rule_index(tenant, rule),
                "-inf",
                upto,
                0,
                limit as isize,
            )
            .await?;
        Ok(members
            .iter()
            .filter_map(|(m, since)| {
                let (job, schedule) = Keys::parse_schedule_member(m)?;
                Some(Marked {
                    job,
                    schedule: schedule.to_string(),
                    since: *since as i64,
                })
            })
            .collect())
    }

    /// Takes `m` out of the index of `rule` while its mark is still `m.since`. True when it was.
    pub async fn unmark(&self, tenant: &str, rule: Rule, m: &Marked) -> Result<bool> {
        let mut inv = LIFECYCLE_UNMARK.prepare_invoke();
        inv.key(self.rule_index(tenant, rule))
            .arg(m.member())
            .arg(m.since);
        let removed: i64 = inv.invoke_async(&mut self.c()).await?;
        Ok(removed == 1)
    }

    /// Moves `m`'s mark in the index of `rule` to `since`, if it is still there and earlier.
    pub async fn remark(&self, tenant: &str, rule: Rule, m: &Marked, since: i64) -> Result<()> {
        let _: i64 = redis::cmd("ZADD")
            .arg(self.rule_index(tenant, rule))
            .arg("XX")
            .arg("GT")
            .arg(since)
            .arg(m.member())
            .query_async(&mut self.c())
            .await?;
        Ok(())
    }

    /// Deactivates `stored`, a schedule of job `m.job` whose endpoint has been unreachable
    /// since `m.since`: only while it is still stored so and its unreachable mark is still
    /// that instant (no run has had an answer since), a compare-and-set; a `note` is made in
    /// the same step. True when deactivated.
    pub async fn deactivate_unreachable(
        &self,
        tenant: &str,
        m: &Marked,
        stored: &StoredSchedule,
        note: Option<&DeactivationNote<'_>>,
    ) -> Result<bool> {
        self.deactivate_schedule(tenant, m.job, stored, Some(m.since), note)
            .await
    }

    /// Removes `stored`, an inactive one-time schedule of job `m.job` marked since `m.since`,
    /// as the API deletes a schedule (its due entry is the caller's): only while it is still
    /// stored so and still marked so, a compare-and-set. True when removed.
    pub async fn expire_schedule(
        &self,
        tenant: &str,
        m: &Marked,
        stored: &StoredSchedule,
    ) -> Result<bool> {
        let mut inv = SCHEDULE_EXPIRE.prepare_invoke();
        inv.key(self.keys.schedules(tenant, m.job))
            .key(self.keys.schedule_jobs(tenant))
            .key(self.keys.one_time_expiry(tenant))
            .key(self.keys.unreachable(tenant))
            .arg(&m.schedule)
            .arg(&stored.json)
            .arg(m.member())
            .arg(m.since);
        let removed: i64 = inv.invoke_async(&mut self.c()).await?;
        Ok(removed == 1)
    }
}
