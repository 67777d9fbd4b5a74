//! Faults of the services chime stands on, one at a time, each with its own focused check:
//! a Redis restart under the store and under the API.

use chime_store::{Retention, Store, Target};
use chime_testkit::{create_job, test_settings, wait_until, PrivateRedis, TestEnv};
use serde_json::json;
use std::time::Duration;

/// The store's first calls after its Redis restarted are served: the connection that dropped
/// is replaced, and the call that found it dropped is sent again on the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stores_first_calls_after_a_redis_restart_succeed() {
    let mut redis = PrivateRedis::start();
    let url = redis.url();
    let retention = Retention {
        ttl_ms: 86_400_000,
        per_stream: 100,
    };
    let store = Store::connect_to(Target::Single(&url), "restart", retention, 16)
        .await
        .unwrap();
    store.create_tenant("t1", "one", "now", None).await.unwrap();
    assert!(store.tenant_exists("t1").await.unwrap());

    redis.restart(); // SIGKILL, then a new server on the same port (it kept nothing)
    store
        .ping()
        .await
        .expect("the first call after the restart");
    assert!(!store.tenant_exists("t1").await.expect("a read"));
    store
        .create_tenant("t1", "one", "now", None)
        .await
        .expect("a write");
    assert!(store.tenant_exists("t1").await.unwrap());
}

/// The API rides out a Redis restart: while Redis is down a request is answered 503 with
/// `Retry-After` (never 500), and once it is back the first request, a deactivation, is
/// served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_answers_503_while_redis_is_down_and_serves_the_first_request_after() {
    let mut redis = PrivateRedis::with_aof();
    let mut settings = test_settings();
    settings.redis_url = redis.url();
    settings.redis_cluster = false;
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, _) = create_job(
        &env,
        &token,
        "survivor",
        "http://127.0.0.1:9/x",
        json!({"repeatInterval": "1 hour", "active": true}),
    )
    .await;

    redis.kill();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let down = wait_until(
        "an answer while Redis is down",
        Duration::from_secs(30),
        || async {
            http.get(env.url(&format!("/scheduler/jobs/{job}")))
                .bearer_auth(&token)
                .send()
                .await
                .ok()
        },
    )
    .await;
    assert_eq!(down.status().as_u16(), 503);
    assert_eq!(down.headers()["retry-after"], "1");

    redis.restart(); // from its AOF: the job is still there
    let (st, body) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{job}"),
            &token,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = env
        .call("GET", &format!("/scheduler/jobs/{job}"), &token, None)
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["active"], false, "{body}");
    env.cleanup().await;
}

/// A settings value of a world whose leader repairs every second.
fn repairing() -> TestEnv {
    let mut settings = test_settings();
    settings.repair_sweep_secs = 1;
    TestEnv::with_settings(settings)
}

/// The API stores a write with its replan markers in one step, then puts the next fires in
/// the due index. A writer that dies between the two leaves the markers; the leader's repair
/// sweep completes the write, and the schedule fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_cut_short_before_the_due_index_is_completed_by_the_repair_sweep() {
    let mut env = repairing();
    env.start_api().await;
    env.start_scheduler().await;
    env.start_worker().await;
    let target = chime_testkit::Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "half-written",
        &target.url("/h"),
        json!({"repeatInterval": "1 second", "active": false}),
    )
    .await;
    // The first half of an activation, as a writer killed before its due-index change
    // leaves it.
    let store = env.store().await;
    let mut sc = store.schedule(&tenant, job, &sid).await.unwrap().unwrap();
    sc.active = true;
    let now = store.now_ms().await.unwrap();
    let w = chime_store::JobWrite {
        job_id: job,
        schedules: vec![chime_store::ScheduleWrite {
            schedule_id: &sid,
            def: Some(&sc),
            next: Some(Some(now)),
        }],
        ..Default::default()
    };
    let written = store.write_job(&tenant, &w, Default::default(), now);
    assert!(matches!(
        written.await.unwrap(),
        chime_store::Written::Done(_)
    ));
    assert_eq!(store.due_of(&tenant, job, &sid).await.unwrap(), None);

    wait_until("the schedule fires", Duration::from_secs(30), || async {
        (!target.hits().is_empty()).then_some(())
    })
    .await;
    assert!(
        store
            .stale_replans(&tenant, i64::MAX)
            .await
            .unwrap()
            .is_empty(),
        "the marker is cleared"
    );
    env.cleanup().await;
}

/// A name an older version claimed and never gave a job (it died in between) is released by
/// the repair sweep: creating a job of that name answers 409 only until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_name_held_by_no_job_is_released_by_the_repair_sweep() {
    let mut env = repairing();
    env.start_api().await;
    env.start_scheduler().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let store = env.store().await;
    assert!(store
        .reserve_job_name(&tenant, "ghost", 987_654)
        .await
        .unwrap());
    let body = json!({"name": "ghost", "action": "http://127.0.0.1:9/g", "active": true,
        "httpMethod": "GET", "schedules": [{"repeatInterval": "1 hour", "active": true}]});
    let (st, _) = env
        .call("POST", "/scheduler/jobs", &token, Some(body.clone()))
        .await;
    assert_eq!(st, 409, "the name is held");
    wait_until(
        "the name is free again",
        Duration::from_secs(30),
        || async {
            let (st, _) = env
                .call("POST", "/scheduler/jobs", &token, Some(body.clone()))
                .await;
            (st == 201).then_some(())
        },
    )
    .await;
    env.cleanup().await;
}

/// An active schedule left without a due entry (by an older version, or a crash in the middle
/// of a leader's bookkeeping) gets one back: after two sweeps that both find it so, so a
/// schedule caught in the middle of a write or a pass is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_active_schedule_without_a_due_entry_is_planned_again() {
    let mut env = repairing();
    env.start_api().await;
    env.start_scheduler().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "orphaned",
        "http://127.0.0.1:9/o",
        json!({"cron": "* * * * * 0 0", "active": true}),
    )
    .await;
    let store = env.store().await;
    let planned = store.due_of(&tenant, job, &sid).await.unwrap();
    assert!(planned.is_some());
    store.set_due(&tenant, job, &sid, None).await.unwrap();
    let again = wait_until("a due entry again", Duration::from_secs(30), || async {
        store.due_of(&tenant, job, &sid).await.unwrap()
    })
    .await;
    assert_eq!(Some(again), planned, "the same next fire");
    env.cleanup().await;
}
