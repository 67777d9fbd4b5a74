//! Runs written through the store's own run steps (`materialize`, `start`, `complete`), the
//! same scripts a leader and a worker call, so run-log and dialect tests get the runs they
//! need at the instants they choose, without waiting for real fires.

use chime_core::model::{run_id, ActionSpec, RunMessage};
use chime_core::run::CallKind;
use chime_store::{Completed, Materialized, RunResult, Store};

/// Writes runs of one schedule of a job that exists and is active (created through the API in
/// a test that runs no scheduler, so nothing fires by itself).
pub struct Seeder {
    store: Store,
    tenant: String,
    job: u64,
    schedule: String,
}

impl Seeder {
    pub fn new(store: Store, tenant: &str, job: u64, schedule: &str) -> Seeder {
        Seeder {
            store,
            tenant: tenant.to_string(),
            job,
            schedule: schedule.to_string(),
        }
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
            action: ActionSpec {
                url: "http://127.0.0.1:9/".into(),
                method: "POST".into(),
                headers: vec![],
                body: None,
                timeout_ms: 1000,
            },
        }
    }

    /// The fire at `at`, materialised as a leader does (`SCHEDULED/SCHEDULED`); its run id.
    pub async fn scheduled(&self, at: i64) -> String {
        let m = self.message(at);
        let created = self.store.materialize(&m, at).await.expect("materialize");
        assert!(
            matches!(created, Materialized::Created | Materialized::Existed),
            "the job and its schedule exist and are active (no scheduler runs in a seeded test): {created:?}"
        );
        m.run_id
    }

    /// The fire at `at`, materialised, started and completed with `result` by worker `w1`;
    /// its run id.
    pub async fn finished(&self, at: i64, result: &RunResult) -> String {
        let m = self.message(at);
        self.store.materialize(&m, at).await.expect("materialize");
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
        m.run_id
    }
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
        status: life.status.as_str(),
        state: life.state.as_str(),
        outcome: life.outcome.map_or("", |o| o.as_str()),
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
