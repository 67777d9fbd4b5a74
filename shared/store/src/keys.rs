//! Every Redis key chime uses, built from one namespace (the broker's names are built in
//! `chime-broker`).
//!
//! Layout (`ns` is the namespace, `T` the tenant's hash tag `{t:<tenant>}`):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `ns:seq:job` | string | global job id counter (SAP job ids are integers) |
//! | `ns:apikey:<keyId>` | hash | tenant, SHA-256 of the secret, scopes |
//! | `ns:tenants` | set | tenant ids |
//! | `ns:T:tenant` | hash | tenant name, creation time |
//! | `ns:T:jobs` | zset | the tenant's job ids (score = id) |
//! | `ns:T:jobnames` | hash | job name → job id |
//! | `ns:T:job:<jobId>` | hash | `def` (job JSON), `seq` (run number counter) |
//! | `ns:T:job:<jobId>:schedules` | hash | schedule id → schedule JSON |
//! | `ns:T:job:<jobId>:runs` | stream | one entry per run of the job (`r` run id, `s` schedule, `n` run number) |
//! | `ns:T:job:<jobId>:builds` | hash | run number → run id |
//! | `ns:T:sched:<scheduleId>:runs` | stream | one entry per run of the schedule (`r` run id) |
//! | `ns:T:sched:<scheduleId>:rank` | zset | the schedule's run ids scored by stream id (offset pages by rank) |
//! | `ns:T:sched:<scheduleId>:events` | stream | the schedule's event log (`m` message, `l` level) |
//! | `ns:T:run:<runId>` | hash | the run record |
//! | `ns:T:run:<runId>:log` | list | extra lines of the run's text log, when there are any |
//! | `ns:T:runs` | stream | one entry per run of the tenant (`r` run, `j` job, `s` schedule, `n` number); its ids are the ids of the run in every run stream |
//! | `ns:T:job:<jobId>:outcome:<o>` | zset | run ids of the job that ended with outcome `o` (`success`, `failure`, `error`, `timeout`), scored by fire time |
//! | `ns:T:job:<jobId>:done` | stream | run ids as their results are recorded while a live tail listens |
//! | `ns:T:job:<jobId>:tails` | string | present (30 s TTL, renewed) while a live tail of the job listens |
//! | `ns:T:schedjobs` | hash | schedule id → job id |
//! | `ns:T:actions` | stream | the audit trail of configuration changes |
//! | `ns:{sched}:lease` | string | `<owner>:<epoch>` of the leader, with a TTL |
//! | `ns:{sched}:epoch` | string | fencing epoch counter |
//! | `ns:{sched}:deferred` | hash | due member → nominal instant (ms) of a fire deferred by its tenant's quota |
//! | `ns:{sched}:due:<p>` | zset | partition `p` of the due index: `<tenant>|<jobId>|<scheduleId>` scored by next fire (ms) |
//!
//! Every multi-key script touches keys of one hash slot: a tenant's keys share the tag
//! `{t:<tenant>}`, the leader's lease and the due index share `{sched}`.

/// Builds names for one namespace.
#[derive(Clone, Debug)]
pub struct Keys {
    ns: String,
}

impl Keys {
    pub fn new(namespace: &str) -> Self {
        Keys {
            ns: namespace.to_string(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.ns
    }

    fn t(&self, tenant: &str) -> String {
        format!("{}:{{t:{}}}", self.ns, tenant)
    }

    pub fn job_seq(&self) -> String {
        format!("{}:seq:job", self.ns)
    }
    pub fn api_key(&self, key_id: &str) -> String {
        format!("{}:apikey:{}", self.ns, key_id)
    }
    pub fn tenants(&self) -> String {
        format!("{}:tenants", self.ns)
    }
    pub fn tenant(&self, tenant: &str) -> String {
        format!("{}:tenant", self.t(tenant))
    }
    pub fn jobs(&self, tenant: &str) -> String {
        format!("{}:jobs", self.t(tenant))
    }
    pub fn job_names(&self, tenant: &str) -> String {
        format!("{}:jobnames", self.t(tenant))
    }
    pub fn job(&self, tenant: &str, job: u64) -> String {
        format!("{}:job:{}", self.t(tenant), job)
    }
    pub fn schedules(&self, tenant: &str, job: u64) -> String {
        format!("{}:job:{}:schedules", self.t(tenant), job)
    }
    pub fn job_runs(&self, tenant: &str, job: u64) -> String {
        format!("{}:job:{}:runs", self.t(tenant), job)
    }
    pub fn job_builds(&self, tenant: &str, job: u64) -> String {
        format!("{}:job:{}:builds", self.t(tenant), job)
    }
    pub fn schedule_runs(&self, tenant: &str, schedule: &str) -> String {
        format!("{}:sched:{}:runs", self.t(tenant), schedule)
    }
    /// A schedule's runs by position: run ids scored by stream id (`ms + seq/4096`), so an
    /// offset page is a rank lookup.
    pub fn schedule_rank(&self, tenant: &str, schedule: &str) -> String {
        format!("{}:sched:{}:rank", self.t(tenant), schedule)
    }
    pub fn schedule_events(&self, tenant: &str, schedule: &str) -> String {
        format!("{}:sched:{}:events", self.t(tenant), schedule)
    }
    /// Extra lines of a run's text log (redeliveries, duplicates, async reports).
    pub fn run_log(&self, tenant: &str, run: &str) -> String {
        format!("{}:run:{}:log", self.t(tenant), run)
    }
    /// The job's runs that ended with `outcome`, scored by fire time (ms).
    pub fn job_outcome(&self, tenant: &str, job: u64, outcome: &str) -> String {
        format!("{}:job:{}:outcome:{}", self.t(tenant), job, outcome)
    }
    pub fn tenant_runs(&self, tenant: &str) -> String {
        format!("{}:runs", self.t(tenant))
    }
    pub fn job_done(&self, tenant: &str, job: u64) -> String {
        format!("{}:job:{}:done", self.t(tenant), job)
    }
    /// Present (with a short TTL) while a live tail of the job listens: only then do results
    /// go to its "done" stream.
    pub fn job_tails(&self, tenant: &str, job: u64) -> String {
        format!("{}:job:{}:tails", self.t(tenant), job)
    }
    pub fn schedule_jobs(&self, tenant: &str) -> String {
        format!("{}:schedjobs", self.t(tenant))
    }
    pub fn actions(&self, tenant: &str) -> String {
        format!("{}:actions", self.t(tenant))
    }
    pub fn run(&self, tenant: &str, run: &str) -> String {
        format!("{}:run:{}", self.t(tenant), run)
    }
    pub fn lease(&self) -> String {
        format!("{}:{{sched}}:lease", self.ns)
    }
    pub fn epoch(&self) -> String {
        format!("{}:{{sched}}:epoch", self.ns)
    }
    pub fn deferred(&self) -> String {
        format!("{}:{{sched}}:deferred", self.ns)
    }
    pub fn due(&self, partition: u32) -> String {
        format!("{}:{{sched}}:due:{}", self.ns, partition)
    }

    /// The due-index member of a schedule.
    pub fn due_member(tenant: &str, job: u64, schedule: &str) -> String {
        format!("{tenant}|{job}|{schedule}")
    }

    /// Splits a due-index member into tenant, job id and schedule id.
    pub fn parse_due_member(member: &str) -> Option<(&str, u64, &str)> {
        let mut it = member.splitn(3, '|');
        let tenant = it.next()?;
        let job = it.next()?.parse().ok()?;
        let schedule = it.next()?;
        Some((tenant, job, schedule))
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
            k.job_builds("abc", 7),
            k.schedule_runs("abc", "s"),
            k.schedule_events("abc", "s"),
            k.run("abc", "R"),
            k.tenant_runs("abc"),
            k.job_done("abc", 7),
            k.job_tails("abc", 7),
            k.schedule_jobs("abc"),
            k.actions("abc"),
        ] {
            assert!(key.starts_with("ns1:"), "{key}");
            assert_eq!(key.matches(tag).count(), 1, "{key}");
        }
        for key in [k.lease(), k.epoch(), k.due(3)] {
            assert!(key.contains("{sched}"), "{key}");
        }
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
    }
}
