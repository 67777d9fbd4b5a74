//! SAP's asynchronous update (`PUT .../runs/{runId}`): a run the target acknowledged with 202
//! stays RUNNING/ACK_RECVD until the job reports its result, once; bad reports are refused
//! and change nothing. The acknowledged runs are seeded as a worker records a 202
//! (`CallKind::Accepted` through the store's run steps), which is what the update reads.

use crate::dialects::{detail, get_ok, instant, key, runs_path, sap_error, Auth};
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::{runs, Seeder, TestEnv};
use serde_json::{json, Value};

/// A job with two schedules (neither fires by itself), each holding one run acknowledged
/// with 202.
struct Acked {
    j: SeededJob,
    s2: String,
    r1: String,
    r2: String,
}

impl Acked {
    fn url1(&self) -> String {
        runs_path(self.j.job, &self.j.schedule, &self.r1)
    }

    fn url2(&self) -> String {
        runs_path(self.j.job, &self.s2, &self.r2)
    }

    /// The first run in detail.
    async fn first(&self, env: &TestEnv) -> Value {
        detail(env, &self.j.token, self.j.job, &self.j.schedule, &self.r1).await
    }

    /// `PUT` of a report on `url` with `token`; the status and body.
    async fn report(env: &TestEnv, url: &str, token: &str, body: Value) -> (u16, Value) {
        env.call("PUT", url, token, Some(body)).await
    }
}

async fn acknowledged(env: &TestEnv) -> Acked {
    let j = SeededJob::create(env, "async-orders").await;
    let second = json!({"repeatInterval": "1 hour", "active": true, "description": "second"});
    let path = format!("/scheduler/jobs/{}/schedules", j.job);
    let b = env
        .client()
        .expect(201, "POST", &path, &j.token, Some(second))
        .await;
    let s2 = b["scheduleId"].as_str().unwrap().to_string();
    let seeder2 = Seeder::new(env.store().await, &j.tenant, j.job, &s2);
    let at = seed::minutes_ago(10);
    let r1 = j.finished(at, &seed::accepted(at)).await;
    let r2 = seeder2
        .finished(at + 60_000, &seed::accepted(at + 60_000))
        .await;
    Acked { j, s2, r1, r2 }
}

/// The job's report of a success.
fn ok() -> Value {
    json!({"success": true, "message": "Sales order processed"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_acknowledged_run_is_running_until_reported() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    for sid in [&a.j.schedule, &a.s2] {
        let (_, list) = runs(&env, &a.j.token, a.j.job, sid).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let r = &list[0];
        assert_eq!(r["runStatus"], "RUNNING", "{r}");
        assert_eq!(r["runState"], "ACK_RECVD", "{r}");
        assert_eq!(r["httpStatus"], 202, "{r}");
        assert_eq!(r["completionTimestamp"], Value::Null, "{r}");
        instant(&r["executionTimestamp"], "executionTimestamp");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_malformed_report_is_a_400_and_changes_nothing() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    for body in [
        json!({"message": "no success"}),
        json!({"success": "yes", "message": "x"}),
        json!({"success": true, "message": 42}),
        json!([true]),
    ] {
        let (st, b) = Acked::report(&env, &a.url1(), &a.j.token, body.clone()).await;
        assert_eq!(st, 400, "{body}: {b}");
        sap_error(&b, 400);
    }
    assert_eq!(a.first(&env).await["runState"], "ACK_RECVD");
    env.cleanup().await;
}

/// A run of another schedule of the same job, or a run id that names no run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_report_on_no_run_of_the_schedule_is_a_404() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    for run in [a.r2.as_str(), "0123456789ABCDEF0123456789ABCDEF"] {
        let url = runs_path(a.j.job, &a.j.schedule, run);
        let (st, b) = Acked::report(&env, &url, &a.j.token, ok()).await;
        assert_eq!(st, 404, "{url}: {b}");
        sap_error(&b, 404);
    }
    assert_eq!(a.first(&env).await["runState"], "ACK_RECVD");
    let d2 = detail(&env, &a.j.token, a.j.job, &a.s2, &a.r2).await;
    assert_eq!(d2["runState"], "ACK_RECVD", "{d2}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_report_by_another_tenant_is_a_404() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    let (_, other) = env.tenant(&["read", "write", "run-update"]).await;
    let (st, b) = Acked::report(&env, &a.url1(), &other, ok()).await;
    assert_eq!(st, 404, "{b}");
    sap_error(&b, 404);
    assert_eq!(a.first(&env).await["runState"], "ACK_RECVD");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_report_with_a_read_only_key_is_a_403() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    let reader = key(&env, &a.j.tenant, &["read"]).await;
    let (st, b) = Acked::report(&env, &a.url1(), &reader, ok()).await;
    assert_eq!(st, 403, "{b}");
    sap_error(&b, 403);
    assert_eq!(a.first(&env).await["runState"], "ACK_RECVD");
    env.cleanup().await;
}

/// The job reports one success and one failure: each run is COMPLETED with the reported
/// state, text and outcome, keeps its 202, and its log tells the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_reports_complete_runs_as_success_or_failure() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    let failed = json!({"success": false, "message": "Something wrong happened"});
    for (url, body) in [(a.url1(), ok()), (a.url2(), failed)] {
        let (st, b) = Acked::report(&env, &url, &a.j.token, body).await;
        assert_eq!((st, &b), (200, &json!({"success": true})));
    }
    let d1 = a.first(&env).await;
    let d2 = detail(&env, &a.j.token, a.j.job, &a.s2, &a.r2).await;
    for (d, state, text, outcome) in [
        (&d1, "SUCCESS", "Sales order processed", "success"),
        (&d2, "ERROR", "Something wrong happened", "failure"),
    ] {
        assert_eq!(d["runStatus"], "COMPLETED", "{d}");
        assert_eq!(d["runState"], state, "{d}");
        assert_eq!(d["runText"], text, "{d}");
        assert_eq!(d["outcome"], outcome, "{d}");
        assert_eq!(d["httpStatus"], 202, "{d}");
        let exec = instant(&d["executionTimestamp"], "executionTimestamp");
        let done = instant(&d["completionTimestamp"], "completionTimestamp");
        assert!(exec <= done, "{d}");
        let line = format!("job reported {state}: {text}");
        assert!(d["log"].as_str().unwrap().contains(&line), "{d}");
    }
    env.cleanup().await;
}

/// A run's result is written once: a second report is a conflict and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_second_report_is_a_409_and_changes_nothing() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    let (st, _) = Acked::report(&env, &a.url1(), &a.j.token, ok()).await;
    assert_eq!(st, 200);
    let late = json!({"success": false, "message": "late"});
    let (st, b) = Acked::report(&env, &a.url1(), &a.j.token, late).await;
    assert_eq!(st, 409, "{b}");
    let d = a.first(&env).await;
    assert_eq!(d["runState"], "SUCCESS", "{d}");
    assert_eq!(d["runText"], "Sales order processed", "{d}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_reported_run_shows_in_the_run_log_list() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    Acked::report(&env, &a.url1(), &a.j.token, ok()).await;
    let (_, list) = runs(&env, &a.j.token, a.j.job, &a.j.schedule).await;
    assert_eq!(list[0]["runState"], "SUCCESS");
    assert_eq!(list[0]["runText"], "Sales order processed");
    env.cleanup().await;
}

/// A1Base lists the reported runs with their outcomes; Losant's job logs say completed and
/// failed, with the completion instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_reported_outcomes_reach_a1base_and_losant() {
    let env = TestEnv::api_only().await;
    let a = acknowledged(&env).await;
    let failed = json!({"success": false, "message": "Something wrong happened"});
    Acked::report(&env, &a.url1(), &a.j.token, ok()).await;
    Acked::report(&env, &a.url2(), &a.j.token, failed).await;
    let (tenant, token) = (&a.j.tenant, &a.j.token);
    let path = format!("/v1/cron-jobs/{tenant}/logs/{}", a.j.job);
    let a1 = get_ok(&env, &path, "", Auth::ApiKey(token)).await;
    let mut statuses: Vec<(&str, &str)> = a1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    statuses.sort_unstable();
    let mut want = vec![(a.r1.as_str(), "success"), (a.r2.as_str(), "failure")];
    want.sort_unstable();
    assert_eq!(statuses, want, "{a1}");
    for (run, status) in [(&a.r1, "completed"), (&a.r2, "failed")] {
        let path = format!("/applications/{tenant}/jobLogs/{run}");
        let l = get_ok(&env, &path, "", Auth::Bearer(token)).await;
        assert_eq!(l["status"], status, "{l}");
        instant(&l["runCompletedAt"], "runCompletedAt");
    }
    env.cleanup().await;
}
