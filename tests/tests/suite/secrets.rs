//! Secrets kept secret inside a tenant: secret headers are sent to the target but never
//! readable (job reads show `***`, Redis holds them sealed, every run-log dialect, the export
//! and the live tail hide them even when the target echoes them), `***` keeps a stored value,
//! URL userinfo is masked in reads, and a worker that cannot open a value fails the run
//! without calling.

use chime_testkit::{namespace_keys, runs, wait_until, LiveTail, Target, TestEnv};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SECRET: &str = "sk-live-7f3a9c2e51d8";
const USER_PW: &str = "hunter2-pw-31";

/// Every value stored under the namespace, as one text (strings, hashes, lists, sets, zsets
/// and streams read whole), on every master.
pub(crate) async fn everything_stored(env: &TestEnv) -> String {
    let mut out = String::new();
    for (mut c, k) in namespace_keys(&env.settings).await {
        let kind: String = redis::cmd("TYPE")
            .arg(&k)
            .query_async(&mut c)
            .await
            .unwrap();
        let read = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&k).clone(),
            "hash" => redis::cmd("HGETALL").arg(&k).clone(),
            "list" => redis::cmd("LRANGE").arg(&k).arg(0).arg(-1).clone(),
            "set" => redis::cmd("SMEMBERS").arg(&k).clone(),
            "zset" => redis::cmd("ZRANGE").arg(&k).arg(0).arg(-1).clone(),
            "stream" => redis::cmd("XRANGE").arg(&k).arg("-").arg("+").clone(),
            _ => continue,
        };
        let v: redis::Value = read.query_async(&mut c).await.unwrap();
        out.push_str(&format!("{k} {v:?}\n"));
    }
    out
}

async fn get_text(env: &TestEnv, path: &str, token: &str) -> String {
    let resp = env
        .http
        .get(env.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "GET {path}");
    resp.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_header_is_sent_but_never_readable() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    // The target echoes the secret back, in an answer that fails.
    target.set_reply(500, &format!("{{\"echo\":\"Bearer {SECRET}\"}}"), false);
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let url = target
        .url("/hook")
        .replace("http://", &format!("http://ops:{USER_PW}@"));
    let job = env
        .client()
        .create_job(
            &token,
            json!({"name": "secretive", "action": url, "active": true,
                   "headers": {"X-Plain": "visible"},
                   "secretHeaders": {"Authorization": format!("Bearer {SECRET}")},
                   "schedules": [{"repeatInterval": "1 second", "active": true}]}),
        )
        .await;
    assert_eq!(job.body["secretHeaders"], json!({"Authorization": "***"}));
    let sid = job.schedules[0].clone();
    let mut tail = LiveTail::open(&env, &token, job.id)
        .await
        .expect("a tail opens");

    // Two runs are recorded; the target got the secret and the plain header each time.
    let done = wait_until("two runs are recorded", Duration::from_secs(20), || async {
        let (_, list) = runs(&env, &token, job.id, &sid).await;
        let done: Vec<Value> = list
            .into_iter()
            .filter(|r| r["runStatus"] == "COMPLETED")
            .collect();
        (done.len() >= 2).then_some(done)
    })
    .await;
    let hits = target.hits();
    assert!(hits.len() >= 2);
    for hit in &hits {
        assert_eq!(
            hit.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str())
        );
        assert_eq!(hit.header("x-plain"), Some("visible"));
    }
    let event = tail
        .next(Instant::now() + Duration::from_secs(10))
        .await
        .expect("a run event");

    // Everything a tenant can read of the job and its runs.
    let run = done[0]["runId"].as_str().unwrap();
    let mut read = format!("{event:?}\n");
    for path in [
        format!("/scheduler/jobs/{}", job.id),
        "/scheduler/jobs?displaySchedules=true".to_string(),
        format!("/scheduler/jobs/{}/schedules/{sid}/runs", job.id),
        format!("/scheduler/jobs/{}/schedules/{sid}/runs/{run}", job.id),
        format!("/scheduler/jobs/{}/runs/export", job.id),
        format!("/v1/cron-jobs/{tenant}/logs/{}", job.id),
        format!("/v2/schedules/{sid}/log"),
        format!(
            "/v1/log/{}/1/real-time-log?start_offset=0&end_offset=100000&size=1000",
            job.id
        ),
        format!("/applications/{tenant}/jobLogs"),
        format!("/applications/{tenant}/jobLogs/{run}"),
        format!("/scheduler/actionLogs?jobId={}", job.id),
    ] {
        read.push_str(&get_text(&env, &path, &token).await);
    }
    assert!(read.contains("***"), "{read}");
    assert!(
        read.contains(r#"{\"echo\":\"***\"}"#),
        "the echo is kept, its secret hidden: {read}"
    );
    for secret in [SECRET, USER_PW] {
        assert!(!read.contains(secret), "{secret} is readable: {read}");
    }
    let stored = everything_stored(&env).await;
    assert!(stored.contains("v1:test:"), "the value is stored sealed");
    assert!(
        !stored.contains(SECRET),
        "the secret is stored in plain text"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn stars_keep_a_stored_secret_and_a_masked_url_keeps_its_userinfo() {
    let env = TestEnv::api_only().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let url = format!("http://ops:{USER_PW}@127.0.0.1:9/hook");
    let job = env
        .client()
        .create_job(
            &token,
            json!({"name": "j", "action": url, "secretHeaders": {"X-Key": SECRET}}),
        )
        .await;
    let path = format!("/scheduler/jobs/{}", job.id);
    let read = env.client().expect(200, "GET", &path, &token, None).await;
    assert_eq!(read["action"], "http://***:***@127.0.0.1:9/hook");
    let store = env.store().await;
    let stored = || async { store.job(&tenant, job.id).await.unwrap().unwrap() };
    let sealed = stored().await.secret_headers["X-Key"].clone();

    // The read sent back as it is changes nothing secret.
    let body = json!({"action": read["action"], "secretHeaders": read["secretHeaders"],
                      "description": "again"});
    env.client()
        .expect(200, "PUT", &path, &token, Some(body))
        .await;
    let after = stored().await;
    assert_eq!(after.action, url);
    assert_eq!(after.secret_headers["X-Key"], sealed);
    // A change of other fields keeps them too.
    env.client()
        .expect(200, "PUT", &path, &token, Some(json!({"timeoutMs": 5000})))
        .await;
    assert_eq!(stored().await.secret_headers["X-Key"], sealed);
    // A new value replaces the old; a map without the name removes it.
    let body = json!({"secretHeaders": {"X-Key": "another-value", "X-Other": "***"}});
    let (status, err) = env.call("PUT", &path, &token, Some(body)).await;
    assert_eq!(status, 400, "{err}");
    assert!(err.to_string().contains("'secretHeaders.X-Other'"), "{err}");
    let body = json!({"secretHeaders": {"X-Key": "another-value"}});
    env.client()
        .expect(200, "PUT", &path, &token, Some(body))
        .await;
    assert_ne!(stored().await.secret_headers["X-Key"], sealed);
    env.client()
        .expect(
            200,
            "PUT",
            &path,
            &token,
            Some(json!({"secretHeaders": {}})),
        )
        .await;
    assert!(stored().await.secret_headers.is_empty());

    // A name both plain and secret, or `***` for a job that has no value, is refused.
    for (body, field) in [
        (
            json!({"name": "k", "action": "http://127.0.0.1:9/", "headers": {"x-key": "a"},
                "secretHeaders": {"X-Key": "b"}}),
            "'secretHeaders.X-Key'",
        ),
        (
            json!({"name": "k", "action": "http://127.0.0.1:9/",
                "secretHeaders": {"X-Key": "***"}}),
            "'secretHeaders.X-Key'",
        ),
        (
            json!({"name": "k", "action": "http://127.0.0.1:9/",
                "secretHeaders": {"bad header": "x"}}),
            "'secretHeaders'",
        ),
    ] {
        let (status, err) = env
            .call("POST", "/scheduler/jobs", &token, Some(body))
            .await;
        assert_eq!(status, 400, "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    env.cleanup().await;
}

#[tokio::test]
async fn without_a_secret_key_secret_headers_are_refused_by_name() {
    let mut settings = chime_testkit::test_settings();
    settings.secret_keys = String::new();
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let body = json!({"name": "k", "action": "http://127.0.0.1:9/",
                      "secretHeaders": {"X-Key": "value"}});
    let (status, err) = env
        .call("POST", "/scheduler/jobs", &token, Some(body))
        .await;
    assert_eq!(status, 400, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("secretHeaders") && text.contains("CHIME_SECRET_KEYS"),
        "{text}"
    );
    env.cleanup().await;
}

/// Runs a job once (`fields` over its name, action and one schedule for now) on a worker
/// whose keyring lacks the key the API sealed with; returns the run's record and how many
/// calls its target received.
pub(crate) async fn run_on_a_worker_without_the_key(fields: Value) -> (Value, u64) {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_scheduler().await;
    env.settings.secret_keys = "other:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=".into();
    env.start_worker().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let mut body = json!({"name": "j", "action": target.url("/x"), "active": true,
                          "schedules": [{"time": "now", "active": true}]});
    for (k, v) in fields.as_object().expect("fields of a job") {
        body[k] = v.clone();
    }
    let job = env.client().create_job(&token, body).await;
    let sid = job.schedules[0].clone();
    let run = wait_until("the run is recorded", Duration::from_secs(20), || async {
        let (_, list) = runs(&env, &token, job.id, &sid).await;
        list.into_iter().find(|r| r["runStatus"] == "COMPLETED")
    })
    .await;
    env.cleanup().await;
    (run, target.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_cannot_open_a_secret_fails_the_run_without_calling() {
    let (run, calls) =
        run_on_a_worker_without_the_key(json!({"secretHeaders": {"X-Key": SECRET}})).await;
    assert_eq!(run["runState"], "REQUEST_ERROR", "{run}");
    let text = run["runText"].as_str().unwrap();
    assert!(
        text.contains("secret header 'X-Key' cannot be opened"),
        "{text}"
    );
    assert!(
        text.contains("'test'"),
        "the message names the missing key: {text}"
    );
    assert_eq!(calls, 0, "the target was called");
}

#[tokio::test]
async fn after_a_key_rotation_a_write_seals_again_under_the_new_key() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let job = env
        .client()
        .create_job(
            &token,
            json!({"name": "j", "action": "http://127.0.0.1:9/", "secretHeaders": {"X-Key": SECRET}}),
        )
        .await;
    let store = env.store().await;
    let sealed = || async {
        let job = store.job(&tenant, job.id).await.unwrap().unwrap();
        job.secret_headers["X-Key"].clone()
    };
    assert!(sealed().await.starts_with("v1:test:"));
    // A replica with the new key first and the old one behind it.
    let new = "new:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    env.settings.secret_keys = format!("{new},{}", chime_testkit::TEST_SECRET_KEYS);
    env.start_api().await;
    let path = format!("/scheduler/jobs/{}", job.id);
    env.client()
        .expect(
            200,
            "PUT",
            &path,
            &token,
            Some(json!({"description": "rotated"})),
        )
        .await;
    let now = sealed().await;
    assert!(now.starts_with("v1:new:"), "{now}");
    let ring = chime_core::secrets::Keyring::parse(new).unwrap();
    let place = chime_core::secrets::place(&tenant, job.id, "X-Key");
    assert_eq!(ring.open(&place, &now).unwrap(), SECRET);
    env.cleanup().await;
}
