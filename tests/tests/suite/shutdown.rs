//! Operations: SIGTERM drains in-flight runs; every service answers health, readiness and
//! metrics.

use chime_testkit::{create_job, runs, wait_until, Target, TestEnv};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_the_in_flight_run_finish() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_scheduler().await;
    let target = Target::start().await;
    target.set_reply(200, "drained", true);
    let (_, token) = env.tenant(&["read", "write"]).await;
    let mut worker = env.spawn_process("worker", "draining-worker");
    let (job, sid) = create_job(
        &env,
        &token,
        "drain",
        &target.url("/slow"),
        json!({"time": "now", "active": true}),
    )
    .await;
    wait_until(
        "the worker calls the target",
        Duration::from_secs(20),
        || async { (!target.hits().is_empty()).then_some(()) },
    )
    .await;

    let pid = worker.id().expect("running") as i32;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The worker is draining: the run finishes once the target answers, then the process exits.
    target.open_gate();
    let exit = tokio::time::timeout(Duration::from_secs(20), worker.wait())
        .await
        .expect("worker exits")
        .unwrap();
    assert!(exit.success(), "clean exit: {exit:?}");
    let (total, list) = runs(&env, &token, job, &sid).await;
    assert_eq!(total, 1);
    assert_eq!(list[0]["runStatus"], "COMPLETED");
    assert_eq!(list[0]["runText"], "drained");
    assert_eq!(
        target.hits().len(),
        1,
        "finished, not handed to another worker"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_serves_health_readiness_and_metrics() {
    let env = TestEnv::new();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let scheduler = chime_scheduler::Scheduler::build(env.settings.clone())
        .await
        .unwrap();
    let worker = chime_worker::Worker::build(env.settings.clone())
        .await
        .unwrap();
    let mut env = env;
    let api = env.start_api().await;
    for addr in [scheduler.ops_addr(), worker.ops_addr(), api] {
        for (path, needle) in [
            ("/healthz", "ok"),
            ("/readyz", "ready"),
            ("/metrics", "chime_build_info"),
        ] {
            let resp = http
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{addr}{path}");
            let text = resp.text().await.unwrap();
            assert!(text.contains(needle), "{addr}{path} says {text:?}");
        }
    }
    drop((scheduler, worker));
    env.cleanup().await;
}
