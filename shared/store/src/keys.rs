//! Every Redis key chime uses, built from one namespace (the broker's names are built in
//! `chime-broker`).
//!
//! Layout (`ns` is the namespace, `T` the tenant's hash tag `{t:<tenant>}`):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `ns:apikey:<keyId>` | hash | tenant, SHA-256 of the secret, scopes, created, expires, last used (ms) |
//! | `ns:tenants` | set | tenant ids |
//! | `ns:uisession:<digest>` | hash | a dashboard session (keyed by the SHA-256 of its cookie's id): its tenant and API key, or the admin token's digest; its CSRF token; created (ms); expires by TTL |
//! | `ns:T:tenant` | hash | tenant name, creation time, its own settings and limits, its signing secrets (sealed), `deleting` while it is deleted |
//! | `ns:T:keys` | set | the tenant's API key ids |
//! | `ns:T:seq` | string | the tenant's job id counter (SAP job ids are integers; each tenant counts its own) |
//! | `ns:T:jobs` | zset | the tenant's job ids (score = id) |
//! | `ns:T:jobnames` | hash | job name → job id |
//! | `ns:T:job:<jobId>` | hash | `def` (job JSON), `seq` (run number counter), the schedules' short numbers: `so` (their counter), `s@<scheduleId>` → number, `s#<number>` → schedule id |
//! | `ns:T:job:<jobId>:schedules` | hash | schedule id → schedule JSON |
//! | `ns:T:job:<jobId>:runs` | stream | **the finished runs' records**, one entry each, in the order they finished; each entry's id is its run's stream id |
//! | `ns:T:job:<jobId>:pos` | stream | the job's finished runs by position, as a schedule's (below); when the cap forgets a run of a job of several schedules that is not the job's oldest, its position is removed and the job hash notes `holes` |
//! | `ns:T:job:<jobId>:pos:<o>` | stream | the same for the job's runs that ended with outcome `o` (`success`, `failure`, `error`, `timeout`) |
//! | `ns:T:job:<jobId>:builds:<k>` | hash | run numbers `128k` to `128k + 127` → run id (the field is the number mod 128) |
//! | `ns:T:sched:<scheduleId>:pos` | stream | the schedule's finished runs by position: ids `0-1`, `0-2`, … (dense: entries only ever leave from the oldest end), each holding its run's stream id (`x`) |
//! | `ns:T:sched:<scheduleId>:events` | stream | the schedule's event log (`m` message, `l` level) |
//! | `ns:T:run:<runId>` | hash | the record of a run not finished yet (scheduled, running, or acknowledged asynchronously) |
//! | `ns:T:run:<runId>:log` | list | extra lines of the run's text log, when there are any |
//! | `ns:T:runs` | stream | one entry per finished run of the tenant (`j` job, `k` lifecycle code, `h` HTTP status, `u` duration): the stream ids every run stream shares |
//! | `ns:T:runs:<o>` | stream | the same entries for the tenant's runs that ended with outcome `o` (the run search's index of an outcome) |
//! | `ns:T:runids:<xxxx>` | hash | the run ids that start with `xxxx` (their first four characters; the field is the rest) → `""` while the run is not finished, its stream id once it is |
//! | `ns:T:live` | zset | the runs not finished yet, `<jobId>|<scheduleId>|<runId>`, scored by when they were created (ms) |
//! | `ns:T:async` | zset | the runs acknowledged asynchronously (202) and not reported yet, `<jobId>|<scheduleId>|<runId>`, scored by when the 202 was recorded (ms): the leader's deadline sweep reads the overdue ones |
//! | `ns:T:unreachable` | zset | schedules whose endpoint is unreachable, `<jobId>|<scheduleId>`, scored by when the first run of the streak finished without a connection (ms); a run with an HTTP answer takes it out: the leader deactivates those past `CHIME_UNREACHABLE_DEACTIVATE_DAYS` |
//! | `ns:T:expiry` | zset | inactive one-time schedules, `<jobId>|<scheduleId>`, scored by when they became inactive or were last written (ms): the leader removes those past `CHIME_ONE_TIME_EXPIRY_DAYS` |
//! | `ns:T:note:<id>` | hash | a notification (one event for a job's `notifications` URL) and its delivery: kind, run, result, URL, state, attempts |
//! | `ns:T:notes:due` | zset | the notes waiting for delivery, scored by when their next attempt is due (ms); a worker's claim moves it by its lease |
//! | `ns:T:notes:job:<jobId>` | zset | the job's newest 100 notes, scored by their creation (ms) |
//! | `ns:notify` | set | tenants that may have notes due (a hint; workers also look at every tenant now and then) |
//! | `ns:T:job:<jobId>:done` | stream | run ids as their results are recorded while a live tail listens |
//! | `ns:T:job:<jobId>:tails` | string | present (30 s TTL, renewed) while a live tail of the job listens |
//! | `ns:T:schedjobs` | hash | schedule id → job id |
//! | `ns:T:actions` | stream | the audit trail of configuration changes |
//! | `ns:{sched}:lease` | string | `<owner>:<epoch>` of the leader, with a TTL |
//! | `ns:{sched}:epoch` | string | fencing epoch counter |
//! | `ns:{sched}:deferred` | hash | due member → nominal instant (ms) of a fire deferred by its tenant's quota |
//! | `ns:{sched}:due:<p>` | zset | partition `p` of the due index: `<tenant>|<jobId>|<scheduleId>` scored by next fire (ms); a manual fire ("run now") is a member of its own, `<tenant>|<jobId>|<scheduleId>|<runId>|<keyId>`, scored at the request instant |
//! | `ns:{sched:<k>}:lease`, `…:epoch`, `…:deferred`, `…:due:<p>` | | the same for shard k > 0 of a sharded due index (`CHIME_SCHEDULER_SHARDS`): partition p is shard `p mod shards`'s; shard 0 keeps the names above |
//! | `ns:{schedulers}:alive` | zset | the schedulers alive, by their last heartbeat (ms) |
//! | `ns:{schedulers}:held` | hash | scheduler → the shards it leads |
//! | `ns:workers` | zset | the workers alive, `<worker id>|<slots>`, scored by the instant (ms) after which one not heard of again is taken for dead |
//! | `ns:workers:busy` | hash | worker id → the runs it held at its last heartbeat |
//! | `ns:{dead}:order` | zset | the messages kept from the dead-letter queue, by id (24 hex digits of the SHA-256 of their signature and body), scored by when they were kept (ms) |
//! | `ns:{dead}:bodies`, `ns:{dead}:signatures` | hash | a kept message's body and its signature header, by id |
//!
//! A finished run costs one entry in each of five streams (its record in the job's, and small
//! entries in the tenant's, its schedule's positions and its job's two position streams) and a field in
//! two small hashes (a run-id bucket and a run-number bucket): no key of its own. Buckets keep
//! those hashes small enough for Redis to store compactly (a listpack, under
//! `hash-max-listpack-entries`, 128 by default): 65,536 run-id buckets a tenant hold 8 million
//! runs so. See `docs/ARCHITECTURE.md`, "Where a
//! run lives".
//!
//! Every multi-key script touches keys of one hash slot: a tenant's keys share the tag
//! `{t:<tenant>}`, the leader's lease and the due index share `{sched}`.
//!
//! This module is the one place the layout is written: the Lua scripts build no key names.
//! A script gets each key it touches in `KEYS`, or, for keys named by data it reads (run ids
//! from a stream, the job and schedule ids of a batch), the family's [`KeyTemplate`] (a
//! prefix and a suffix to put around the id) in `ARGV`.

/// A family of keys that differ in one id (a run's, a job's, a schedule's): `prefix`, the id,
/// `suffix`. A script that reaches keys named by data (run ids read from a stream, job ids in
/// its arguments) takes the family's two parts as arguments and puts the id between them, so
/// this module is the one place the layout is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTemplate {
    pub prefix: String,
    pub suffix: String,
}

impl KeyTemplate {
    /// The family's key of `id`.
    pub fn key(&self, id: impl std::fmt::Display) -> String {
        format!("{}{}{}", self.prefix, id, self.suffix)
    }
}

/// Characters of a run id that name its bucket of run ids.
pub const RUN_ID_BUCKET_CHARS: usize = 4;
/// Run numbers to a bucket of a job's.
pub const BUILDS_PER_BUCKET: u64 = 128;

/// Builds names for one namespace.
#[derive(Clone, Debug)]
pub struct Keys {
    ns: String,
    /// Shards of the due index (see [`Keys::shard_of`]).
    shards: u32,
}

impl Keys {
    /// The names of `namespace`, with the due index in one shard.
    pub fn new(namespace: &str) -> Self {
        Keys {
            ns: namespace.to_string(),
            shards: 1,
        }
    }

    /// The same names with the due index in `shards` shards (at least 1).
    pub fn with_shards(mut self, shards: u32) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// The shards of the due index.
    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// The shard of due partition `partition`: partitions are dealt to shards in turn.
    pub fn shard_of(&self, partition: u32) -> u32 {
        partition % self.shards
    }

    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// A key of the tenant's: `ns:{t:<tenant>}:<rest>`.
    fn t(&self, tenant: &str, rest: &str) -> String {
        format!("{}:{{t:{}}}:{}", self.ns, tenant, rest)
    }

    /// A family of the tenant's keys: `ns:{t:<tenant>}:<kind>:<id><suffix>`.
    fn family(&self, tenant: &str, kind: &str, suffix: &str) -> KeyTemplate {
        KeyTemplate {
            prefix: self.t(tenant, &format!("{kind}:")),
            suffix: suffix.to_string(),
        }
    }

    /// A key of a shard's slot: `ns:{sched}:<rest>` for shard 0 (the one slot of an unsharded
    /// due index, as it always was), `ns:{sched:<k>}:<rest>` for shard k.
    fn sched(&self, shard: u32, rest: &str) -> String {
        if shard == 0 {
            format!("{}:{{sched}}:{}", self.ns, rest)
        } else {
            format!("{}:{{sched:{shard}}}:{}", self.ns, rest)
        }
    }

    /// The installation's key for signing run messages (when no setting names one).
    pub fn cluster_secret(&self) -> String {
        format!("{}:cluster_secret", self.ns)
    }
    /// The tenant's job id counter.
    pub fn job_seq(&self, tenant: &str) -> String {
        self.t(tenant, "seq")
    }
    /// The tenant's API key ids.
    pub fn tenant_keys(&self, tenant: &str) -> String {
        self.t(tenant, "keys")
    }
    /// The pattern `SCAN` matches every key of the tenant's with (the namespace's glob
    /// characters escaped).
    pub fn tenant_pattern(&self, tenant: &str) -> String {
        let mut out = String::new();
        for c in self.t(tenant, "").chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('*');
        out
    }
    pub fn api_key(&self, key_id: &str) -> String {
        format!("{}:apikey:{}", self.ns, key_id)
    }
    pub fn tenants(&self) -> String {
        format!("{}:tenants", self.ns)
    }
    /// A dashboard session, by the SHA-256 (hex) of its cookie's id.
    pub fn ui_session(&self, digest: &str) -> String {
        format!("{}:uisession:{}", self.ns, digest)
    }
    pub fn tenant(&self, tenant: &str) -> String {
        self.t(tenant, "tenant")
    }
    pub fn jobs(&self, tenant: &str) -> String {
        self.t(tenant, "jobs")
    }
    pub fn job_names(&self, tenant: &str) -> String {
        self.t(tenant, "jobnames")
    }
    pub fn tenant_runs(&self, tenant: &str) -> String {
        self.t(tenant, "runs")
    }
    /// The tenant's finished runs that ended with `outcome` (one of [`crate::OUTCOMES`]).
    pub fn tenant_outcome_runs(&self, tenant: &str, outcome: &str) -> String {
        self.t(tenant, &format!("runs:{outcome}"))
    }
    pub fn schedule_jobs(&self, tenant: &str) -> String {
        self.t(tenant, "schedjobs")
    }
    /// The tenant's replan markers: `<job id>|<schedule id>` -> `<next fire or ''>|<written
    /// at>`, a due-index change a write decided and its writer has not confirmed yet.
    pub fn replan(&self, tenant: &str) -> String {
        self.t(tenant, "replan")
    }
    pub fn actions(&self, tenant: &str) -> String {
        self.t(tenant, "actions")
    }
    /// The buckets of the tenant's run ids (a bucket's id: the run id's first four
    /// characters).
    pub fn run_ids_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "runids", "")
    }
    /// The bucket and the field of run id `run`: `""` while the run is not finished, its
    /// stream id once it is.
    pub fn run_id_slot(&self, tenant: &str, run: &str) -> (String, String) {
        let split = run
            .char_indices()
            .nth(RUN_ID_BUCKET_CHARS)
            .map_or(run.len(), |(i, _)| i);
        let (bucket, field) = run.split_at(split);
        (self.run_ids_template(tenant).key(bucket), field.to_string())
    }
    /// The tenant's runs not finished yet (`<jobId>|<scheduleId>|<runId>`, scored by creation).
    pub fn live(&self, tenant: &str) -> String {
        self.t(tenant, "live")
    }
    /// The tenant's runs in flight (published, no result yet: run ids scored by the instant
    /// after which they stop counting toward the tenant's cap).
    pub fn in_flight(&self, tenant: &str) -> String {
        self.t(tenant, "inflight")
    }
    /// The tenant's runs acknowledged asynchronously and not reported yet
    /// (`<jobId>|<scheduleId>|<runId>`, scored by the instant the 202 was recorded): the
    /// index of the deadline sweep.
    pub fn async_runs(&self, tenant: &str) -> String {
        self.t(tenant, "async")
    }
    /// The tenant's schedules whose endpoint is unreachable ([`Keys::schedule_member`]s scored
    /// by the instant the first run of their streak finished without a connection, ms): the
    /// index of the leader's deactivation on unreachability.
    pub fn unreachable(&self, tenant: &str) -> String {
        self.t(tenant, "unreachable")
    }
    /// The tenant's inactive one-time schedules ([`Keys::schedule_member`]s scored by the
    /// instant they became inactive or were last written, ms): the index of the leader's
    /// removal of one-time schedules not run for long.
    pub fn one_time_expiry(&self, tenant: &str) -> String {
        self.t(tenant, "expiry")
    }
    /// The tenant's notes waiting for delivery (ids scored by when their next attempt is due).
    pub fn notes_due(&self, tenant: &str) -> String {
        self.t(tenant, "notes:due")
    }
    /// A note (one event for a job's `notifications` URL) by its id.
    pub fn note_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "note", "")
    }
    /// A job's notes (ids scored by their creation), by job id.
    pub fn job_notes_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "notes:job", "")
    }
    /// The tenants that may have notes due: a hint for the workers' notifiers.
    pub fn notify_tenants(&self) -> String {
        format!("{}:notify", self.ns)
    }

    // A job's keys.

    pub fn job_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "job", "")
    }
    pub fn schedules_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "job", ":schedules")
    }
    pub fn job_runs_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "job", ":runs")
    }
    /// A job's finished runs by position.
    pub fn job_positions_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "job", ":pos")
    }
    /// The positions of a job's runs that ended with `outcome` (one of [`crate::OUTCOMES`]).
    pub fn job_outcome_template(&self, tenant: &str, outcome: &str) -> KeyTemplate {
        self.family(tenant, "job", &format!(":pos:{outcome}"))
    }
    pub fn job_positions(&self, tenant: &str, job: u64) -> String {
        self.job_positions_template(tenant).key(job)
    }
    /// The positions of the job's runs that ended with `outcome`.
    pub fn job_outcome(&self, tenant: &str, job: u64, outcome: &str) -> String {
        self.job_outcome_template(tenant, outcome).key(job)
    }
    /// A job's run-number buckets: `…:job:<jobId>:builds:` and the bucket's number.
    pub fn job_builds_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "job", ":builds:")
    }
    pub fn job_done_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "job", ":done")
    }
    pub fn job_tails_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "job", ":tails")
    }

    pub fn job(&self, tenant: &str, job: u64) -> String {
        self.job_template(tenant).key(job)
    }
    pub fn schedules(&self, tenant: &str, job: u64) -> String {
        self.schedules_template(tenant).key(job)
    }
    pub fn job_runs(&self, tenant: &str, job: u64) -> String {
        self.job_runs_template(tenant).key(job)
    }
    /// The bucket and the field of run number `number` of the job: → its run id.
    pub fn job_build(&self, tenant: &str, job: u64, number: u64) -> (String, String) {
        let bucket = format!(
            "{}{}",
            self.job_builds_template(tenant).key(job),
            number / BUILDS_PER_BUCKET
        );
        (bucket, (number % BUILDS_PER_BUCKET).to_string())
    }
    pub fn job_done(&self, tenant: &str, job: u64) -> String {
        self.job_done_template(tenant).key(job)
    }
    /// Present (with a short TTL) while a live tail of the job listens: only then do results
    /// go to its "done" stream.
    pub fn job_tails(&self, tenant: &str, job: u64) -> String {
        self.job_tails_template(tenant).key(job)
    }

    // A schedule's keys.

    pub fn schedule_runs_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "sched", ":pos")
    }
    pub fn schedule_events_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "sched", ":events")
    }

    pub fn schedule_runs(&self, tenant: &str, schedule: &str) -> String {
        self.schedule_runs_template(tenant).key(schedule)
    }
    pub fn schedule_events(&self, tenant: &str, schedule: &str) -> String {
        self.schedule_events_template(tenant).key(schedule)
    }

    // A run's keys.

    pub fn run_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "run", "")
    }
    pub fn run_log_template(&self, tenant: &str) -> KeyTemplate {
        self.family(tenant, "run", ":log")
    }

    pub fn run(&self, tenant: &str, run: &str) -> String {
        self.run_template(tenant).key(run)
    }
    /// Extra lines of a run's text log (redeliveries, duplicates, async reports).
    pub fn run_log(&self, tenant: &str, run: &str) -> String {
        self.run_log_template(tenant).key(run)
    }

    // The leader's keys, on one hash slot.

    /// Shard 0's lease (the lease of an unsharded due index).
    pub fn lease(&self) -> String {
        self.lease_of(0)
    }
    pub fn epoch(&self) -> String {
        self.epoch_of(0)
    }
    pub fn deferred(&self) -> String {
        self.deferred_of(0)
    }
    /// The lease of a shard of the due index: its leader's `<owner>:<epoch>`.
    pub fn lease_of(&self, shard: u32) -> String {
        self.sched(shard, "lease")
    }
    pub fn epoch_of(&self, shard: u32) -> String {
        self.sched(shard, "epoch")
    }
    pub fn deferred_of(&self, shard: u32) -> String {
        self.sched(shard, "deferred")
    }
    /// A partition of the due index, in its shard's slot.
    pub fn due(&self, partition: u32) -> String {
        self.sched(self.shard_of(partition), &format!("due:{partition}"))
    }
    /// The schedulers alive (a sorted set of owner names by their last heartbeat, ms), in a
    /// slot of their own with [`Keys::schedulers_held`] (one heartbeat writes both).
    pub fn schedulers(&self) -> String {
        format!("{}:{{schedulers}}:alive", self.ns)
    }
    /// The workers alive: members `<worker id>|<slots>`, scored by the instant (ms) after
    /// which a worker not heard of again is taken for dead.
    pub fn workers(&self) -> String {
        format!("{}:workers", self.ns)
    }
    /// The messages kept from the dead-letter queue: their ids by when they were kept (ms).
    pub fn dead_order(&self) -> String {
        format!("{}:{{dead}}:order", self.ns)
    }
    /// The kept messages' bodies (a hash: id → body).
    pub fn dead_bodies(&self) -> String {
        format!("{}:{{dead}}:bodies", self.ns)
    }
    /// The kept messages' signatures (a hash: id → signature header).
    pub fn dead_signatures(&self) -> String {
        format!("{}:{{dead}}:signatures", self.ns)
    }
    /// The runs each worker alive holds at its last heartbeat (a hash: worker id → count).
    pub fn workers_busy(&self) -> String {
        format!("{}:workers:busy", self.ns)
    }
    /// The shards each scheduler alive leads (a hash: owner name → count).
    pub fn schedulers_held(&self) -> String {
        format!("{}:{{schedulers}}:held", self.ns)
    }

    /// A schedule's member of its tenant's indexes of schedules (the unreachable ones, the
    /// expiring ones) and field of its replan hash: `<jobId>|<scheduleId>`.
    pub fn schedule_member(job: u64, schedule: &str) -> String {
        format!("{job}|{schedule}")
    }

    /// The job id and the schedule id of a [`Keys::schedule_member`].
    pub fn parse_schedule_member(member: &str) -> Option<(u64, &str)> {
        let (job, schedule) = member.split_once('|')?;
        Some((job.parse().ok()?, schedule))
    }

    /// The due-index member of a schedule.
    pub fn due_member(tenant: &str, job: u64, schedule: &str) -> String {
        format!("{tenant}|{job}|{schedule}")
    }

    /// Splits a due-index member into tenant, job id and schedule id (of a schedule's entry
    /// or of a manual fire's, [`Keys::manual_due_member`]).
    pub fn parse_due_member(member: &str) -> Option<(&str, u64, &str)> {
        let mut it = member.splitn(4, '|');
        let tenant = it.next()?;
        let job = it.next()?.parse().ok()?;
        let schedule = it.next()?;
        Some((tenant, job, schedule))
    }

    /// The due-index member of a manual fire ("run now") of a schedule: the schedule's member,
    /// the run id the API chose and the requesting key's id,
    /// `<tenant>|<jobId>|<scheduleId>|<runId>|<keyId>`. It lives in the schedule's partition
    /// beside the schedule's own entry, scored at the request instant, and is removed once its
    /// run is published (never moved to a next fire).
    pub fn manual_due_member(
        tenant: &str,
        job: u64,
        schedule: &str,
        run: &str,
        key_id: &str,
    ) -> String {
        format!("{tenant}|{job}|{schedule}|{run}|{key_id}")
    }

    /// The run id and the requesting key's id of a manual fire's member; `None` for a
    /// schedule's own entry.
    pub fn parse_manual_due_member(member: &str) -> Option<(&str, &str)> {
        // Past the tenant, the job and the schedule.
        let mut it = member.splitn(5, '|').skip(3);
        let run = it.next().filter(|r| !r.is_empty())?;
        let key_id = it.next()?;
        Some((run, key_id))
    }

    /// The due-index partition of a schedule (FNV-1a of its id).
    pub fn partition_of(schedule: &str, partitions: u32) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        for b in schedule.bytes() {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
        h % partitions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_share_a_hash_tag() {
        let k = Keys::new("ns1");
        let tag = "{t:abc}";
        for key in [
            k.tenant("abc"),
            k.jobs("abc"),
            k.job_names("abc"),
            k.job("abc", 7),
            k.schedules("abc", 7),
            k.job_runs("abc", 7),
            k.job_build("abc", 7, 1).0,
            k.schedule_runs("abc", "s"),
            k.schedule_events("abc", "s"),
            k.run("abc", "R"),
            k.tenant_runs("abc"),
            k.job_done("abc", 7),
            k.job_tails("abc", 7),
            k.schedule_jobs("abc"),
            k.actions("abc"),
            k.run_id_slot("abc", "R123").0,
            k.live("abc"),
            k.async_runs("abc"),
            k.unreachable("abc"),
            k.one_time_expiry("abc"),
        ] {
            assert!(key.starts_with("ns1:"), "{key}");
            assert_eq!(key.matches(tag).count(), 1, "{key}");
        }
        for key in [k.lease(), k.epoch(), k.due(3)] {
            assert!(key.contains("{sched}"), "{key}");
        }
    }

    /// The layout as chime has always written it: data written by any version reads the same.
    #[test]
    fn key_names_are_the_layout() {
        let k = Keys::new("ns");
        let cases = [
            (k.job_seq("a"), "ns:{t:a}:seq"),
            (k.tenant_keys("a"), "ns:{t:a}:keys"),
            (k.tenant_pattern("a"), "ns:{t:a}:*"),
            (k.api_key("k1"), "ns:apikey:k1"),
            (k.tenants(), "ns:tenants"),
            (k.ui_session("d1"), "ns:uisession:d1"),
            (k.tenant("a"), "ns:{t:a}:tenant"),
            (k.jobs("a"), "ns:{t:a}:jobs"),
            (k.job_names("a"), "ns:{t:a}:jobnames"),
            (k.job("a", 7), "ns:{t:a}:job:7"),
            (k.schedules("a", 7), "ns:{t:a}:job:7:schedules"),
            (k.job_runs("a", 7), "ns:{t:a}:job:7:runs"),
            (k.job_build("a", 7, 300).0, "ns:{t:a}:job:7:builds:2"),
            (k.job_done("a", 7), "ns:{t:a}:job:7:done"),
            (k.job_tails("a", 7), "ns:{t:a}:job:7:tails"),
            (k.job_outcome("a", 7, "error"), "ns:{t:a}:job:7:pos:error"),
            (k.job_positions("a", 7), "ns:{t:a}:job:7:pos"),
            (k.schedule_runs("a", "s"), "ns:{t:a}:sched:s:pos"),
            (k.schedule_events("a", "s"), "ns:{t:a}:sched:s:events"),
            (k.run("a", "R"), "ns:{t:a}:run:R"),
            (k.run_log("a", "R"), "ns:{t:a}:run:R:log"),
            (k.tenant_runs("a"), "ns:{t:a}:runs"),
            (k.schedule_jobs("a"), "ns:{t:a}:schedjobs"),
            (k.actions("a"), "ns:{t:a}:actions"),
            (k.run_id_slot("a", "5F58C2FBA428").0, "ns:{t:a}:runids:5F58"),
            (k.live("a"), "ns:{t:a}:live"),
            (k.notes_due("a"), "ns:{t:a}:notes:due"),
            (k.unreachable("a"), "ns:{t:a}:unreachable"),
            (k.one_time_expiry("a"), "ns:{t:a}:expiry"),
            (
                k.note_template("a").key("x.failed"),
                "ns:{t:a}:note:x.failed",
            ),
            (k.job_notes_template("a").key(7), "ns:{t:a}:notes:job:7"),
            (k.notify_tenants(), "ns:notify"),
            (k.lease(), "ns:{sched}:lease"),
            (k.epoch(), "ns:{sched}:epoch"),
            (k.deferred(), "ns:{sched}:deferred"),
            (k.due(3), "ns:{sched}:due:3"),
            (k.schedulers(), "ns:{schedulers}:alive"),
            (k.schedulers_held(), "ns:{schedulers}:held"),
        ];
        let sharded = Keys::new("ns").with_shards(4);
        let sharded_cases = [
            (sharded.due(3), "ns:{sched:3}:due:3"),
            (sharded.due(8), "ns:{sched}:due:8"),
            (sharded.lease_of(2), "ns:{sched:2}:lease"),
            (sharded.epoch_of(2), "ns:{sched:2}:epoch"),
            (sharded.deferred_of(1), "ns:{sched:1}:deferred"),
            (sharded.lease_of(0), "ns:{sched}:lease"),
        ];
        for (built, layout) in cases {
            assert_eq!(built, layout);
        }
        // A sharded due index: each shard in a slot of its own, shard 0 in the unsharded one.
        for (built, layout) in sharded_cases {
            assert_eq!(built, layout);
        }
        let t = k.run_log_template("a");
        assert_eq!(
            (t.prefix.as_str(), t.suffix.as_str()),
            ("ns:{t:a}:run:", ":log")
        );
    }

    /// `runs.lua` gets each family's prefix once: the templates of a family share it.
    #[test]
    fn a_family_shares_its_prefix() {
        let k = Keys::new("ns");
        let families = [
            vec![k.run_template("a"), k.run_log_template("a")],
            vec![
                k.job_template("a"),
                k.schedules_template("a"),
                k.job_builds_template("a"),
                k.job_runs_template("a"),
                k.job_done_template("a"),
                k.job_tails_template("a"),
                k.job_positions_template("a"),
                k.job_outcome_template("a", "success"),
            ],
            vec![
                k.schedule_runs_template("a"),
                k.schedule_events_template("a"),
            ],
        ];
        for family in families {
            assert!(
                family.iter().all(|t| t.prefix == family[0].prefix),
                "{family:?}"
            );
        }
    }

    #[test]
    fn run_ids_and_numbers_fall_in_their_buckets() {
        let k = Keys::new("ns");
        assert_eq!(
            k.run_id_slot("a", "5F58C2FBA428"),
            ("ns:{t:a}:runids:5F58".into(), "C2FBA428".into())
        );
        assert_eq!(
            k.run_id_slot("a", "ab"),
            ("ns:{t:a}:runids:ab".into(), String::new())
        );
        assert_eq!(
            k.job_build("a", 7, 127),
            ("ns:{t:a}:job:7:builds:0".into(), "127".into())
        );
        assert_eq!(
            k.job_build("a", 7, 128),
            ("ns:{t:a}:job:7:builds:1".into(), "0".into())
        );
    }

    #[test]
    fn a_schedule_member_round_trips() {
        let m = Keys::schedule_member(42, "5f58c2fb-a428");
        assert_eq!(m, "42|5f58c2fb-a428");
        assert_eq!(Keys::parse_schedule_member(&m), Some((42, "5f58c2fb-a428")));
        assert_eq!(Keys::parse_schedule_member("x|y"), None);
    }

    #[test]
    fn due_member_round_trips() {
        let m = Keys::due_member("t1", 42, "5f58c2fb-a428");
        assert_eq!(
            Keys::parse_due_member(&m),
            Some(("t1", 42, "5f58c2fb-a428"))
        );
        assert_eq!(Keys::parse_due_member("x|y|z"), None);
        assert!(Keys::partition_of("abc", 16) < 16);
        assert_eq!(Keys::parse_manual_due_member(&m), None);
    }

    #[test]
    fn a_manual_fires_member_names_its_schedule_run_and_key() {
        let m = Keys::manual_due_member("t1", 42, "5f58c2fb-a428", "4A1B", "k9");
        assert_eq!(m, "t1|42|5f58c2fb-a428|4A1B|k9");
        assert_eq!(
            Keys::parse_due_member(&m),
            Some(("t1", 42, "5f58c2fb-a428"))
        );
        assert_eq!(Keys::parse_manual_due_member(&m), Some(("4A1B", "k9")));
        assert_eq!(Keys::parse_manual_due_member("t1|42|s|4A1B"), None);
    }
}
