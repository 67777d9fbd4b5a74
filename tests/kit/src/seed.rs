//! Runs written through the store's own run steps (`materialize`, `start`, `complete`), the
//! same scripts a leader and a worker call, so run-log and dialect tests get the runs they
//! need at the instants they choose, without waiting for real fires. [`SeededJob`] is the
//! usual fixture: a tenant, a job created through the API and a [`Seeder`] of its schedule.

use crate::{wait_until_every, TestEnv};
use chime_core::model::{run_id, ActionSpec, RunMessage};
use chime_core::run::CallKind;
use chime_store::{Completed, Materialized, RunResult, Store};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Writes runs of one schedule of a job that exists and is active (created through the API in
/// a world that runs no scheduler, so nothing fires by itself), as a leader and a worker do.
///
/// Each run fires (is materialised) in a later millisecond than the seeder's previous run,
/// as a schedule's real fires do: the run streams order the entries of one millisecond by a
/// sequence of each stream's own, so entries of different streams (a schedule's fires and
/// its event log) in one millisecond have no order between them, and a date bound cannot
/// fall between them.
#[derive(Clone)]
pub struct Seeder {
    store: Store,
    tenant: String,
    job: u64,
    schedule: String,
    /// When the seeder's latest run fired (ms), 0 before the first.
    last_fire: Arc<AtomicI64>,
}

impl Seeder {
    pub fn new(store: Store, tenant: &str, job: u64, schedule: &str) -> Seeder {
        Seeder {
            store,
            tenant: tenant.to_string(),
            job,
            schedule: schedule.to_string(),
            last_fire: Arc::default(),
        }
    }

    /// Waits until Redis's clock (the run streams') has passed the latest fire.
    async fn in_turn(&self) {
        let last = self.last_fire.load(Ordering::SeqCst);
        let store = &self.store;
        let what = "Redis's clock passes the seeder's latest fire";
        wait_until_every(
            what,
            Duration::from_secs(5),
            Duration::from_millis(1),
            || async { (store.now_ms().await.expect("redis reachable") > last).then_some(()) },
        )
        .await;
    }

    /// Notes when `run` fired.
    async fn fired(&self, run: &str) {
        let at = self.fired_at(run).await;
        self.last_fire.fetch_max(at, Ordering::SeqCst);
    }

    /// The run message of the fire at `at` (ms since the epoch).
    pub fn message(&self, at: i64) -> RunMessage {
        RunMessage {
            run_id: run_id(&self.schedule, at),
            tenant: self.tenant.clone(),
            job_id: self.job,
            schedule_id: self.schedule.clone(),
            scheduled_at: at,
            owner: "seed".into(),
            epoch: 1,
            fresh: false,
            requested_by: None,
            retry: None,
            attempt: 1,
            first_call_at: None,
            retry_at: None,
            replaceable: false,
            notify: false,
            action: ActionSpec {
                url: "http://127.0.0.1:9/".into(),
                method: chime_core::run::HttpMethod::Post,
                headers: vec![],
                secret_headers: vec![],
                body: None,
                timeout_ms: 1000,
            },
        }
    }

    /// The fire at `at`, materialised as a leader does (`SCHEDULED/SCHEDULED`); its run id.
    pub async fn scheduled(&self, at: i64) -> String {
        self.in_turn().await;
        let m = self.message(at);
        self.materialize(&m, at).await;
        self.fired(&m.run_id).await;
        m.run_id
    }

    /// The fire at `at`, materialised, started and completed with `result` by worker `w1`;
    /// its run id.
    pub async fn finished(&self, at: i64, result: &RunResult) -> String {
        self.in_turn().await;
        let m = self.message(at);
        self.materialize(&m, at).await;
        self.store
            .run_start(&m, result.executed_at, "w1")
            .await
            .expect("start");
        let done = self
            .store
            .run_complete(
                &m,
                result.executed_at + result.duration_ms as i64,
                "w1",
                result,
            )
            .await
            .expect("complete");
        assert_eq!(done, Completed::Recorded, "recorded once");
        self.fired(&m.run_id).await;
        m.run_id
    }

    /// The leader's step: the run's record, numbered and indexed.
    async fn materialize(&self, m: &RunMessage, at: i64) {
        let created = self.store.materialize(m, at).await.expect("materialize");
        assert!(
            matches!(created, Materialized::Created | Materialized::Existed),
            "the job and its schedule exist and are active: {created:?}"
        );
    }

    /// When run `run` fired, as the run streams record it (ms since the epoch): its stream
    /// id's instant, which Redis's clock gives when the run is materialised, whatever instant
    /// it was seeded at. The run-log engine's date bounds read this instant.
    pub async fn fired_at(&self, run: &str) -> i64 {
        let id = self
            .store
            .run_stream_id(&self.tenant, run)
            .await
            .expect("redis reachable")
            .unwrap_or_else(|| panic!("run {run} exists"));
        id.split('-')
            .next()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("a stream id: {id}"))
    }
}

/// The instant `minutes` before now (ms since the epoch). Seeded runs are dated in the past,
/// so what the API adds to a run later (an asynchronous report's line) comes after them.
pub fn minutes_ago(minutes: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970");
    now.as_millis() as i64 - minutes * 60_000
}

/// The result of a call that ended as `kind` with `http_status`, executed at `at` and lasting
/// `duration_ms`, in SAP's terms ([`CallKind::lifecycle`], as a worker records it).
pub fn result(
    kind: CallKind,
    http_status: Option<u16>,
    body: Option<&str>,
    at: i64,
    duration_ms: u64,
) -> RunResult {
    let life = kind.lifecycle(http_status);
    let error = match kind {
        CallKind::Success | CallKind::Accepted => None,
        CallKind::Failure => http_status.map(|s| format!("endpoint returned status code {s}")),
        CallKind::Timeout => Some(format!("request timed out after {duration_ms} ms")),
        CallKind::Error => Some("error sending request: connection refused".into()),
        CallKind::Blocked => {
            Some("target 10.0.0.1 is a private address; blocked by the SSRF guard".into())
        }
    };
    let run_text = error
        .clone()
        .or_else(|| body.filter(|b| !b.trim().is_empty()).map(String::from))
        .or_else(|| http_status.map(|s| format!("HTTP {s}")))
        .unwrap_or_default();
    RunResult {
        status: life.status,
        state: life.state,
        outcome: life.outcome,
        http_status,
        run_text,
        body: body.map(String::from),
        event: (kind == CallKind::Blocked).then(|| {
            format!(
                "Cannot start run: the target is blocked: {}",
                error.clone().unwrap_or_default()
            )
        }),
        error,
        duration_ms,
        executed_at: at,
        timing: Default::default(),
        failure_reason: None,
    }
}

/// A call answered 200 with `body`.
pub fn success(at: i64, body: &str) -> RunResult {
    result(CallKind::Success, Some(200), Some(body), at, 5)
}

/// A call answered `status` (4xx or 5xx) with `body`.
pub fn failure(at: i64, status: u16, body: &str) -> RunResult {
    result(CallKind::Failure, Some(status), Some(body), at, 5)
}

/// A call that timed out after `ms`.
pub fn timeout(at: i64, ms: u64) -> RunResult {
    result(CallKind::Timeout, None, None, at, ms)
}

/// A call answered 202: the job reports its result later (`RUNNING/ACK_RECVD`).
pub fn accepted(at: i64) -> RunResult {
    result(CallKind::Accepted, Some(202), None, at, 5)
}

/// A call the SSRF guard refused (the target `10.0.0.1`), with the ERROR entry it leaves in
/// the schedule's event log.
pub fn blocked(at: i64) -> RunResult {
    result(CallKind::Blocked, None, None, at, 0)
}

/// A tenant with a `read` and `write` key, its job created through the API with one schedule,
/// and a [`Seeder`] of that schedule: the fixture of the tests that read seeded runs.
pub struct SeededJob {
    pub tenant: String,
    pub token: String,
    pub job: u64,
    pub schedule: String,
    pub seeder: Seeder,
}

impl SeededJob {
    /// A new tenant and its job `name`, whose one active schedule falls due only in an hour,
    /// so it never fires by itself during a test; the [`Seeder`] writes its runs as a leader
    /// and a worker do.
    pub async fn create(env: &TestEnv, name: &str) -> SeededJob {
        let (tenant, token) = env.tenant(&["read", "write"]).await;
        let hourly = json!({"repeatInterval": "1 hour", "active": true});
        SeededJob::with_schedule(env, &tenant, &token, name, hourly).await
    }

    /// Job `name` of tenant `tenant` (whose key is `token`) with `schedule`, a SAP schedule
    /// body. Only an active schedule takes [`Seeder::scheduled`] runs (a leader materialises
    /// no others); in a world without a scheduler ([`TestEnv::api_only`]) it still fires only
    /// when seeded.
    pub async fn with_schedule(
        env: &TestEnv,
        tenant: &str,
        token: &str,
        name: &str,
        schedule: Value,
    ) -> SeededJob {
        let (job, sid) = crate::create_job(env, token, name, "http://127.0.0.1:9/", schedule).await;
        SeededJob {
            tenant: tenant.to_string(),
            token: token.to_string(),
            job,
            schedule: sid.clone(),
            seeder: Seeder::new(env.store().await, tenant, job, &sid),
        }
    }

    /// A run of this job's schedule, seeded with `result` at `at`; its run id.
    pub async fn finished(&self, at: i64, result: &RunResult) -> String {
        self.seeder.finished(at, result).await
    }
}
