//! Overlap (`concurrencyPolicy`): while a schedule's run is in progress, `forbid` skips its
//! next fires (each skip visible with reason `overlap`), `replace` cancels the run in progress
//! and aborts its call; across workers and a worker killed mid-run.

use chime_core::time::format_instant;
use chime_testkit::{wait_until, Target, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;

/// A job calling `target` with `policy`, its schedule firing every second: (job, schedule).
async fn every_second(env: &TestEnv, token: &str, target: &Target, policy: &str) -> (u64, String) {
    let body = json!({
        "name": format!("overlap-{policy}-{}", uuid::Uuid::new_v4().simple()),
        "action": target.url("/slow"),
        "active": true,
        "httpMethod": "POST",
        "timeoutMs": 60_000,
        "concurrencyPolicy": policy,
        "schedules": [{"repeatInterval": "1 second", "active": true}],
    });
    let job = env.client().create_job(token, body).await;
    (job.id, job.schedules[0].clone())
}

/// The schedule's fires from `from` (ms) to now, by fate: (fired, skipped for overlap).
async fn fates(env: &TestEnv, token: &str, job: u64, sid: &str, from: i64) -> (usize, usize) {
    let now = chrono::Utc::now().timestamp_millis();
    let path = format!(
        "/scheduler/jobs/{job}/schedules/{sid}/fires?from={}&to={}&page_size=1000",
        format_instant(from),
        format_instant(now)
    );
    let (st, body) = env.call("GET", &path, token, None).await;
    assert_eq!(st, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    let count = |f: &dyn Fn(&Value) -> bool| results.iter().filter(|e| f(e)).count();
    (
        count(&|e| e["fate"] == "fired" || e["fate"] == "deferred"),
        count(&|e| e["fate"] == "skipped" && e["reason"] == "overlap"),
    )
}

/// The schedule's runs, newest first.
async fn runs(env: &TestEnv, token: &str, job: u64, sid: &str) -> Vec<Value> {
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}/runs?page_size=100");
    let (_, v) = env.call("GET", &path, token, None).await;
    v["results"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn forbid_skips_fires_while_the_run_is_in_progress_then_resumes() {
    let env = TestEnv::cluster().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let target = Target::start().await;
    target.set_reply(200, "done", true);
    let from = chrono::Utc::now().timestamp_millis() - 1000;
    let (job, sid) = every_second(&env, &token, &target, "forbid").await;

    // The first run hangs at the gate; the next fires are skipped, each visibly.
    wait_until("three fires skipped", Duration::from_secs(30), || async {
        (fates(&env, &token, job, &sid, from).await.1 >= 3).then_some(())
    })
    .await;
    assert_eq!(target.count(), 1, "one call while the run is in progress");

    // The run ends: the schedule fires again.
    target.open_gate();
    wait_until("a second run", Duration::from_secs(30), || async {
        (runs(&env, &token, job, &sid).await.len() >= 2).then_some(())
    })
    .await;
    let (fired, skipped) = fates(&env, &token, job, &sid, from).await;
    assert!(
        fired >= 2 && skipped >= 3,
        "fired {fired}, skipped {skipped}"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn forbid_resumes_when_the_worker_running_it_is_killed() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_scheduler().await;
    let mut doomed = env.spawn_process("worker", "overlap-doomed");
    let (_, token) = env.tenant(&["read", "write"]).await;
    let target = Target::start().await;
    target.set_reply(200, "done", true);
    let from = chrono::Utc::now().timestamp_millis() - 1000;
    let (job, sid) = every_second(&env, &token, &target, "forbid").await;
    wait_until("a fire skipped", Duration::from_secs(30), || async {
        (fates(&env, &token, job, &sid, from).await.1 >= 1).then_some(())
    })
    .await;
    assert_eq!(target.count(), 1);

    // kill -9 mid-call: the run is redelivered to another worker, which calls it again.
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();
    let mut survivor = env.spawn_process("worker", "overlap-survivor");
    wait_until("the run called again", Duration::from_secs(60), || async {
        (target.count() >= 2).then_some(())
    })
    .await;
    target.open_gate();
    let done = wait_until("two runs completed", Duration::from_secs(60), || async {
        let list = runs(&env, &token, job, &sid).await;
        let completed: Vec<Value> = list
            .into_iter()
            .filter(|r| r["runStatus"] == "COMPLETED")
            .collect();
        (completed.len() >= 2).then_some(completed)
    })
    .await;
    let first = done.last().unwrap();
    let path = format!(
        "/scheduler/jobs/{job}/schedules/{sid}/runs/{}",
        first["runId"].as_str().unwrap()
    );
    let (_, detail) = env.call("GET", &path, &token, None).await;
    assert_eq!(detail["attempt"], 2, "redelivered after the kill: {detail}");
    survivor.start_kill().unwrap();
    env.cleanup().await;
}

#[tokio::test]
async fn replace_cancels_the_run_in_progress_and_aborts_its_call() {
    let env = TestEnv::cluster().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let target = Target::start().await;
    target.set_delay(Duration::from_secs(30));
    let (job, sid) = every_second(&env, &token, &target, "replace").await;

    let cancelled = wait_until("two runs cancelled", Duration::from_secs(30), || async {
        let list: Vec<Value> = runs(&env, &token, job, &sid)
            .await
            .into_iter()
            .filter(|r| r["runText"].as_str().unwrap_or("").starts_with("cancelled"))
            .collect();
        (list.len() >= 2).then_some(list)
    })
    .await;
    for r in &cancelled {
        assert_eq!(
            (&r["runStatus"], &r["runState"]),
            (&json!("COMPLETED"), &json!("REQUEST_ERROR")),
            "{r}"
        );
        let path = format!(
            "/scheduler/jobs/{job}/schedules/{sid}/runs/{}",
            r["runId"].as_str().unwrap()
        );
        let (_, detail) = env.call("GET", &path, &token, None).await;
        assert_eq!(detail["failureReason"], "cancelled", "{detail}");
    }
    // Each cancelled call was aborted: the target is left with the newest call alone.
    wait_until("one call in flight", Duration::from_secs(10), || async {
        (target.in_flight() == 1).then_some(())
    })
    .await;
    assert!(target.count() >= 3, "{}", target.count());
    assert!(
        target.most_in_flight() <= 2,
        "an aborted call overlaps the next by at most a poll: {}",
        target.most_in_flight()
    );
    env.cleanup().await;
}

#[tokio::test]
async fn replace_ends_a_run_waiting_for_its_asynchronous_report_at_once() {
    let env = TestEnv::cluster().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let target = Target::start().await;
    target.set_reply(202, "accepted", false);
    let (job, sid) = every_second(&env, &token, &target, "replace").await;
    let cancelled = wait_until(
        "an acknowledged run cancelled",
        Duration::from_secs(30),
        || async {
            runs(&env, &token, job, &sid)
                .await
                .into_iter()
                .find(|r| r["runText"].as_str().unwrap_or("").starts_with("cancelled"))
        },
    )
    .await;
    assert_eq!(cancelled["runStatus"], "COMPLETED", "{cancelled}");
    // Its late report finds it finished.
    let path = format!(
        "/scheduler/jobs/{job}/schedules/{sid}/runs/{}",
        cancelled["runId"].as_str().unwrap()
    );
    let (st, _) = env
        .call("PUT", &path, &token, Some(json!({"success": true})))
        .await;
    assert_eq!(st, 409);
    env.cleanup().await;
}
