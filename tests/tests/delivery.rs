//! Exactly one record per run across duplicate publishes, redeliveries and worker crashes.

use chime_shared::broker::{Publisher, Topology};
use chime_shared::keys::Keys;
use chime_shared::store::Store;
use chime_tests::{create_job, runs, wait_until, Target, TestEnv};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_run_published_twice_is_recorded_once() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    // Inactive and no scheduler running: only the test publishes.
    let (job_id, sid) = create_job(
        &env,
        &token,
        "dup",
        &target.url("/d"),
        json!({"repeatInterval": "1 hour", "active": false}),
    )
    .await;

    let store = Store::connect(
        &env.settings.redis_url,
        env.namespace(),
        chime_scheduler::retention(&env.settings),
    )
    .await
    .unwrap();
    let job = store.job(&tenant, job_id).await.unwrap().unwrap();
    let schedule = store
        .schedule(&tenant, job_id, &sid)
        .await
        .unwrap()
        .unwrap();
    let msg = chime_scheduler::run_message(&tenant, &job, &schedule, 1_800_000_000_000, "test", 1);
    let publisher = Publisher::new(
        &env.settings.amqp_url,
        Topology {
            keys: Keys::new(env.namespace()),
            delivery_limit: env.settings.delivery_limit,
        },
    );
    // The broker may refuse a publish (a quorum queue still electing its leader on a busy
    // machine); the leader publishes such a fire again, and so does this test.
    let mut pending = 2;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pending > 0 {
        let results = publisher.publish_all(&vec![msg.clone(); pending]).await;
        pending = results.iter().filter(|r| r.is_err()).count();
        assert!(
            std::time::Instant::now() < deadline,
            "publishes still refused: {results:?}"
        );
        if pending > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await; // back off before retrying
        }
    }

    // Both deliveries are handled: the second is recognised as a duplicate.
    let run = wait_until(
        "both deliveries handled",
        Duration::from_secs(20),
        || async {
            let r = store.run(&tenant, &msg.run_id).await.unwrap()?;
            (r.status == "COMPLETED" && r.log.contains("duplicate")).then_some(r)
        },
    )
    .await;
    assert_eq!(run.state, "SUCCESS");
    assert_eq!(run.number, 1);
    let (total, list) = runs(&env, &token, job_id, &sid).await;
    assert_eq!(total, 1, "{list:?}");
    assert_eq!(list[0]["runId"], msg.run_id.as_str());
    assert!(!target.hits().is_empty() && target.hits().len() <= 2);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_run_leaves_it_to_be_redelivered_and_recorded_once() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_scheduler().await;
    let target = Target::start().await;
    target.set_reply(200, "finally", true);
    let (_, token) = env.tenant(&["read", "write"]).await;

    let mut doomed = env.spawn_process(env!("CARGO_BIN_EXE_chime"), "worker", "doomed-worker");
    let (job, sid) = create_job(
        &env,
        &token,
        "crash",
        &target.url("/slow"),
        json!({"time": "now", "active": true}),
    )
    .await;

    // The doomed worker is inside the HTTP call when it dies.
    wait_until(
        "the first worker calls the target",
        Duration::from_secs(20),
        || async { (!target.hits().is_empty()).then_some(()) },
    )
    .await;
    let (_, list) = runs(&env, &token, job, &sid).await;
    assert_eq!(list[0]["runState"], "TRIGGERED");
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();

    target.open_gate();
    env.start_worker().await;
    let run = wait_until(
        "the run is recorded by the second worker",
        Duration::from_secs(30),
        || async {
            let (_, list) = runs(&env, &token, job, &sid).await;
            list.first()
                .filter(|r| r["runStatus"] == "COMPLETED")
                .cloned()
        },
    )
    .await;
    assert_eq!(run["runState"], "SUCCESS");
    assert_eq!(run["runText"], "finally");
    let (total, _) = runs(&env, &token, job, &sid).await;
    assert_eq!(total, 1);
    let (_, detail) = env
        .call(
            "GET",
            &format!(
                "/scheduler/jobs/{job}/schedules/{sid}/runs/{}",
                run["runId"].as_str().unwrap()
            ),
            &token,
            None,
        )
        .await;
    assert_eq!(detail["attempt"], 2, "{detail}");
    let hits = target.hits();
    assert_eq!(hits.len(), 2, "executed twice (the crash), recorded once");
    assert_eq!(
        hits[0].header("x-sap-job-run-id"),
        hits[1].header("x-sap-job-run-id")
    );
    env.cleanup().await;
}
