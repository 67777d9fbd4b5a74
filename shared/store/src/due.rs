//! The due index: each schedule's next fire, as a member `<tenant>|<jobId>|<scheduleId>` of
//! one of the index's partitions (sorted sets scored by the fire's instant, ms), and the
//! nominal instants of fires the leader deferred for a tenant's quota. This module is the one
//! owner of the partitions: it alone maps a schedule to its partition's key. The leader moves
//! entries with a fenced compare-and-set (`advance.lua`), on the lease's `{sched}` slot.

use crate::keys::Keys;
use crate::{invoke_two_at_a_time, Result, Store, MAX_PER_CALL};
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;

static ADVANCE: LazyLock<Script> = crate::script!("advance.lua");

/// One entry of a batch for [`Store::advance_many`].
#[derive(Clone, Debug)]
pub struct Advance<'a> {
    pub partition: u32,
    pub member: &'a str,
    /// The score the leader read.
    pub read: i64,
    /// The next fire, or `None` to remove the entry.
    pub next: Option<i64>,
    pub deferral: Deferral,
}

/// What an advance does to an entry's deferred nominal instant (see [`Keys::deferred`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deferral {
    /// The entry was not deferred.
    None,
    /// The entry fired (or went away) after a deferral: forget its nominal instant.
    Clear,
    /// The fire is deferred to `next`: remember its nominal instant (the first one wins).
    Defer { nominal: i64 },
    /// A missed instant replays at `next`, its turn under the schedule's replay rate: its
    /// nominal instant replaces the one remembered (the previous replay fired), marked as a
    /// replay (its tenant's budget is not reserved for it).
    Replay { nominal: i64 },
    /// A replay deferred over its tenant's quota: its nominal instant replaces the replay's,
    /// as a deferral with its budget reserved.
    Reserve { nominal: i64 },
}

impl Deferral {
    /// The script's argument: "" none, "x" clear, "=" and the nominal instant of a replay, else
    /// the nominal instant.
    fn arg(self) -> String {
        match self {
            Deferral::None => String::new(),
            Deferral::Clear => "x".into(),
            Deferral::Defer { nominal } => nominal.to_string(),
            Deferral::Replay { nominal } => format!("={nominal}"),
            Deferral::Reserve { nominal } => format!("!{nominal}"),
        }
    }
}

/// The nominal instant an entry remembers (see [`Deferral`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deferred {
    pub nominal: i64,
    /// A replay waiting its turn (no budget reserved), not a deferral over the quota.
    pub replay: bool,
}

/// What [`Store::advance`] did with a due entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advanced {
    /// The entry moved to its next instant (or was removed, or deferred).
    Moved,
    /// The entry no longer had the score the leader read (changed meanwhile): left alone.
    Changed,
    /// The caller no longer holds the lease: nothing was changed.
    Fenced,
}

impl Store {
    fn due_key(&self, schedule: &str) -> String {
        self.keys
            .due(Keys::partition_of(schedule, self.due_partitions))
    }

    /// The due index's partitions, `0..due_partitions()`.
    pub fn due_partitions(&self) -> u32 {
        self.due_partitions
    }

    /// Sets (or with `None` removes) a schedule's next fire in the due index.
    pub async fn set_due(
        &self,
        tenant: &str,
        job: u64,
        schedule: &str,
        next: Option<i64>,
    ) -> Result<()> {
        let key = self.due_key(schedule);
        let member = Keys::due_member(tenant, job, schedule);
        // A new next fire replaces a deferred one along with its nominal instant.
        let mut pipe = redis::pipe();
        pipe.atomic();
        match next {
            Some(at) => pipe.zadd(key, &member, at).ignore(),
            None => pipe.zrem(key, &member).ignore(),
        };
        let shard = self
            .keys
            .shard_of(Keys::partition_of(schedule, self.due_partitions));
        pipe.hdel(self.keys.deferred_of(shard), &member).ignore();
        pipe.query_async::<()>(&mut self.c()).await?;
        Ok(())
    }

    /// Records a manual fire ("run now") of a schedule: a due entry of its own
    /// ([`Keys::manual_due_member`]) in the schedule's partition, scored at `at` (the request
    /// instant, on Redis's clock), carrying the run id `run` chosen by the caller and the
    /// requesting key's id. The leader fires it like any due entry (quota, backpressure, the
    /// tenant's cap of runs in flight) and removes it once its run is published. Idempotent.
    pub async fn request_run_now(
        &self,
        tenant: &str,
        job: u64,
        schedule: &str,
        run: &str,
        key_id: &str,
        at: i64,
    ) -> Result<()> {
        let member = Keys::manual_due_member(tenant, job, schedule, run, key_id);
        self.c()
            .zadd::<_, _, _, ()>(self.due_key(schedule), member, at)
            .await?;
        Ok(())
    }

    /// The manual fires ("run now") in the due index, not yet fired: (member, score). Reads
    /// every partition whole: for tests and inspection, not for a hot path.
    pub async fn manual_fires(&self) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for p in 0..self.due_partitions {
            let all: Vec<(String, f64)> =
                self.c().zrange_withscores(self.keys.due(p), 0, -1).await?;
            out.extend(
                all.into_iter()
                    .filter(|(m, _)| Keys::parse_manual_due_member(m).is_some())
                    .map(|(m, s)| (m, s as i64)),
            );
        }
        Ok(out)
    }

    /// A schedule's next fire (ms), if it is in the due index.
    pub async fn due_of(&self, tenant: &str, job: u64, schedule: &str) -> Result<Option<i64>> {
        let score: Option<f64> = self
            .c()
            .zscore(
                self.due_key(schedule),
                Keys::due_member(tenant, job, schedule),
            )
            .await?;
        Ok(score.map(|s| s as i64))
    }

    /// Up to `limit` entries of one partition due at or before `now`, earliest first.
    pub async fn due_batch(
        &self,
        partition: u32,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>> {
        let out: Vec<(String, f64)> = self
            .c()
            .zrangebyscore_limit_withscores(
                self.keys.due(partition),
                "-inf",
                now,
                0,
                limit as isize,
            )
            .await?;
        Ok(out.into_iter().map(|(m, s)| (m, s as i64)).collect())
    }

    /// The nominal instants of a shard's deferred due entries (`None` where an entry is not
    /// deferred).
    pub async fn deferred_nominals(
        &self,
        shard: u32,
        members: &[&str],
    ) -> Result<Vec<Option<Deferred>>> {
        if members.is_empty() {
            return Ok(vec![]);
        }
        let out: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.deferred_of(shard))
            .arg(members)
            .query_async(&mut self.c())
            .await?;
        Ok(out
            .into_iter()
            .map(|v| {
                let v = v?;
                let (replay, n) = match v.strip_prefix('=') {
                    Some(n) => (true, n),
                    None => (false, v.as_str()),
                };
                Some(Deferred {
                    nominal: n.parse().ok()?,
                    replay,
                })
            })
            .collect())
    }

    /// The score of one partition's earliest entry past the first `skip`, if any.
    pub async fn due_head(&self, partition: u32, skip: usize) -> Result<Option<i64>> {
        let out: Vec<(String, f64)> = self
            .c()
            .zrange_withscores(self.keys.due(partition), skip as isize, skip as isize)
            .await?;
        Ok(out.first().map(|(_, s)| *s as i64))
    }

    /// Entries in the whole due index.
    pub async fn due_len(&self) -> Result<u64> {
        let lens = (0..self.due_partitions).map(|p| {
            let mut c = self.c();
            let key = self.keys.due(p);
            async move { c.zcard::<_, u64>(key).await }
        });
        let mut total = 0;
        for len in futures::future::join_all(lens).await {
            total += len?;
        }
        Ok(total)
    }

    /// Fenced compare-and-set of a due entry (of a partition of the shard whose lease `token`
    /// names).
    pub async fn advance(
        &self,
        token: &str,
        partition: u32,
        member: &str,
        read: i64,
        next: Option<i64>,
    ) -> Result<Advanced> {
        let one = Advance {
            partition,
            member,
            read,
            next,
            deferral: Deferral::None,
        };
        let shard = self.keys.shard_of(partition);
        Ok(self
            .advance_many(shard, token, std::slice::from_ref(&one))
            .await?[0])
    }

    /// [`Store::advance`] for many entries: one script call per [`MAX_PER_CALL`] entries, two
    /// calls in flight at a time. Answers in order.
    ///
    /// Every entry is of a partition of `shard`, fenced by the shard's lease.
    pub async fn advance_many(
        &self,
        shard: u32,
        token: &str,
        entries: &[Advance<'_>],
    ) -> Result<Vec<Advanced>> {
        debug_assert!(entries
            .iter()
            .all(|e| self.keys.shard_of(e.partition) == shard));
        let invocations: Vec<_> = entries
            .chunks(MAX_PER_CALL)
            .map(|chunk| {
                let mut inv = ADVANCE.prepare_invoke();
                inv.key(self.keys.lease_of(shard))
                    .key(self.keys.deferred_of(shard))
                    .arg(token);
                for e in chunk {
                    inv.key(self.keys.due(e.partition))
                        .arg(e.member)
                        .arg(e.read)
                        .arg(e.next.map(|n| n.to_string()).unwrap_or_default())
                        .arg(e.deferral.arg());
                }
                (inv, self.c())
            })
            .collect();
        let replies = invoke_two_at_a_time(invocations).await;
        let mut answers = Vec::with_capacity(entries.len());
        for r in replies {
            for code in r? {
                answers.push(match code {
                    1 => Advanced::Moved,
                    0 => Advanced::Changed,
                    -1 => Advanced::Fenced,
                    _ => {
                        let e = format!("the advance script answered {code}");
                        return Err(crate::StoreError::Corrupt(e));
                    }
                });
            }
        }
        Ok(answers)
    }
}
