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
    store.create_tenant("t1", "one", "now").await.unwrap();
    assert!(store.tenant_exists("t1").await.unwrap());

    redis.restart(); // SIGKILL, then a new server on the same port (it kept nothing)
    store
        .ping()
        .await
        .expect("the first call after the restart");
    assert!(!store.tenant_exists("t1").await.expect("a read"));
    store
        .create_tenant("t1", "one", "now")
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
