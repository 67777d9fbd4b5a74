//! Signed calls (Standard Webhooks): a tenant's signing secret is answered once, at its
//! creation or rotation, and never shown, stored or logged in the clear again; every call
//! carries `webhook-id`, `webhook-timestamp` and `webhook-signature`, checked here by an
//! independent implementation (a Node.js script using only `crypto`, and a check by hand with
//! the `hmac` crate); a rotation signs with both secrets for its overlap, then with the new
//! one only; a tenant without a secret gets one on first use; a worker that cannot open a
//! secret fails the run without calling.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chime_testkit::{namespace_keys, wait_until, Hit, Target, TestEnv, ADMIN_TOKEN};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Standard Webhooks verification as its libraries do it, in Node.js with `crypto` only: the
/// secret without `whsec_`, base64-decoded, is the HMAC-SHA256 key over
/// `{webhook-id}.{webhook-timestamp}.{body}`; any `v1,` signature of the space-separated list
/// may match (compared in constant time); the timestamp must be within 5 minutes.
const VERIFY_JS: &str = r#"
const crypto = require('crypto');
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const { secret, id, timestamp, signature, body } = JSON.parse(input);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const age = Math.abs(Date.now() / 1000 - Number(timestamp));
  if (!id || !timestamp || !(age <= 300)) { console.log('invalid'); return; }
  const expected = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  const ok = (signature || '').split(' ').some((sig) => {
    const [version, b64] = sig.split(',');
    if (version !== 'v1' || !b64) return false;
    const got = Buffer.from(b64, 'base64');
    return got.length === expected.length && crypto.timingSafeEqual(got, expected);
  });
  console.log(ok ? 'valid' : 'invalid');
});
"#;

/// Whether the Node.js verifier accepts `hit` as signed with `secret` (a body may be put in
/// place of the one received, to check that a changed body fails).
async fn node_verifies(secret: &str, hit: &Hit, body: Option<&str>) -> bool {
    let input = json!({
        "secret": secret,
        "id": hit.header("webhook-id"),
        "timestamp": hit.header("webhook-timestamp"),
        "signature": hit.header("webhook-signature"),
        "body": body.unwrap_or(&hit.body),
    });
    let mut node = tokio::process::Command::new("node")
        .arg("-e")
        .arg(VERIFY_JS)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (Node.js is needed by this test)");
    let mut stdin = node.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = node.wait_with_output().await.unwrap();
    assert!(out.status.success(), "node failed");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "valid" => true,
        "invalid" => false,
        other => panic!("node said {other:?}"),
    }
}

/// For each signature of `hit`'s `webhook-signature`, whether it is `secret`'s, computed by
/// hand with the `hmac` crate.
pub(crate) fn by_hand(secret: &str, hit: &Hit) -> Vec<bool> {
    let key = B64
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        hit.header("webhook-id").unwrap(),
        hit.header("webhook-timestamp").unwrap(),
        hit.body
    );
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    hit.header("webhook-signature")
        .unwrap_or_default()
        .split(' ')
        .map(|sig| sig == expected)
        .collect()
}

/// Creates a tenant through the admin API; returns its answer.
async fn create_tenant(env: &TestEnv) -> Value {
    env.client()
        .expect(
            201,
            "POST",
            "/admin/tenants",
            ADMIN_TOKEN,
            Some(json!({"name": "signed"})),
        )
        .await
}

/// Rotates `tenant`'s signing secret with `body`; returns status and answer.
async fn rotate(env: &TestEnv, tenant: &str, body: Option<Value>) -> (u16, Value) {
    let path = format!("/admin/tenants/{tenant}/signingSecret");
    env.client().call("POST", &path, ADMIN_TOKEN, body).await
}

fn secret_of(v: &Value, field: &str) -> String {
    let secret = v[field].as_str().unwrap_or_else(|| panic!("{field}: {v}"));
    let raw = B64
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64, standard alphabet, padded");
    assert_eq!(raw.len(), 32, "{secret}");
    secret.to_string()
}

fn instant(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("an instant: {v}")))
        .unwrap()
        .timestamp_millis()
}

/// The calls `target` received once there are at least `n`.
async fn hits(target: &Target, n: usize) -> Vec<Hit> {
    wait_until(&format!("{n} calls"), Duration::from_secs(20), || async {
        let hits = target.hits();
        (hits.len() >= n).then_some(hits)
    })
    .await
}

/// A tenant created through the admin API, and a key of it: the answer, its id and the
/// key's token.
async fn tenant_with_key(env: &TestEnv) -> (Value, String, String) {
    let tenant = create_tenant(env).await;
    let id = tenant["id"].as_str().unwrap().to_string();
    let token = env.client().create_key(&id, &["read", "write"]).await;
    (tenant, id, token)
}

/// A job of the key's tenant calling `target` with `method` on `schedule`.
async fn job_calling(env: &TestEnv, token: &str, target: &Target, method: &str, schedule: Value) {
    let name = format!("calls-{}", uuid::Uuid::new_v4().simple());
    let body = json!({"name": name, "action": target.url("/hook"), "active": true,
                      "httpMethod": method, "schedules": [schedule]});
    env.client().create_job(token, body).await;
}

fn once_now() -> Value {
    json!({"time": "now", "active": true})
}

fn every_second() -> Value {
    json!({"repeatInterval": "1 second", "active": true})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_is_signed_and_an_independent_implementation_verifies_it() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (tenant, _, token) = tenant_with_key(&env).await;
    let secret = secret_of(&tenant, "signingSecret");
    // A POST with a body (not ASCII only), and a GET without one.
    for method in ["POST", "GET"] {
        let schedule = json!({"time": "now", "active": true,
                              "data": {"greeting": "grüß dich", "n": 1}});
        job_calling(&env, &token, &target, method, schedule).await;
    }
    let hits = hits(&target, 2).await;
    assert!(hits.iter().any(|h| h.method == "GET" && h.body.is_empty()));
    assert!(hits.iter().any(|h| h.body.contains("grüß dich")));
    for hit in &hits {
        let run = hit.header("x-sap-job-run-id").unwrap();
        assert_eq!(hit.header("webhook-id"), Some(format!("{run}_1").as_str()));
        assert_eq!(hit.header("x-chime-attempt"), Some("1"));
        assert_eq!(by_hand(&secret, hit), [true], "{hit:?}");
        assert!(node_verifies(&secret, hit, None).await, "{hit:?}");
        // The verifier can say no: a changed body, or another secret.
        let other = chime_core::signing::new_secret();
        assert!(!node_verifies(&secret, hit, Some("{\"n\":2}")).await);
        assert!(!node_verifies(&other, hit, None).await);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_signs_with_both_secrets_for_its_overlap_then_with_the_new_one() {
    let mut settings = chime_testkit::test_settings();
    settings.signing_secret_cache_ms = 200;
    let env = TestEnv::cluster_with(settings).await;
    let target = Target::start().await;
    let (tenant, id, token) = tenant_with_key(&env).await;
    let old = secret_of(&tenant, "signingSecret");
    job_calling(&env, &token, &target, "POST", every_second()).await;
    let first = hits(&target, 1).await.remove(0);
    assert_eq!(by_hand(&old, &first), [true]);

    let (status, rotated) = rotate(&env, &id, Some(json!({"overlapSeconds": 3}))).await;
    assert_eq!(status, 200, "{rotated}");
    let new = secret_of(&rotated, "signingSecret");
    assert_ne!(new, old);
    let until = instant(&rotated["previousValidUntil"]);
    let now = chrono::Utc::now().timestamp_millis();
    assert!((until - now - 3_000).abs() < 2_000, "{rotated}");

    // During the overlap: two signatures, the new secret's first; each secret verifies.
    let both = wait_until("a call signed twice", Duration::from_secs(10), || async {
        target
            .hits()
            .into_iter()
            .find(|h| h.header("webhook-signature").unwrap().contains(' '))
    })
    .await;
    assert_eq!(by_hand(&new, &both), [true, false]);
    assert_eq!(by_hand(&old, &both), [false, true]);
    assert!(node_verifies(&new, &both, None).await);
    assert!(node_verifies(&old, &both, None).await);

    // After it: the new secret's alone.
    let after = wait_until(
        "a call after the overlap",
        Duration::from_secs(15),
        || async { target.hits().into_iter().find(|h| h.wall_ms > until + 300) },
    )
    .await;
    assert_eq!(by_hand(&new, &after), [true]);
    assert!(node_verifies(&new, &after, None).await);
    assert!(!node_verifies(&old, &after, None).await);
    env.cleanup().await;
}

#[tokio::test]
async fn a_rotation_checks_its_overlap_by_name_and_needs_the_admin_token() {
    let env = TestEnv::api_only().await;
    let tenant = create_tenant(&env).await;
    let id = tenant["id"].as_str().unwrap();
    for bad in [json!(-1), json!(604_801), json!("a day"), json!(1.5)] {
        let (status, err) = rotate(&env, id, Some(json!({ "overlapSeconds": bad }))).await;
        assert_eq!(status, 400, "{bad}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("'overlapSeconds'"), "{bad}: {err}");
    }
    let token = env.client().create_key(id, &["admin"]).await;
    let path = format!("/admin/tenants/{id}/signingSecret");
    let (status, _) = env.call("POST", &path, &token, None).await;
    assert_eq!(status, 401, "a tenant key is no admin token");
    let (status, _) = rotate(&env, "0123456789abcdef01234567", None).await;
    assert_eq!(status, 404);

    // Without a body (or with null): a day's overlap; with 0: none, the replaced secret stops
    // at once.
    let store = env.store().await;
    for body in [None, Some(json!({ "overlapSeconds": null }))] {
        let (status, day) = rotate(&env, id, body).await;
        assert_eq!(status, 200, "{day}");
        let now = chrono::Utc::now().timestamp_millis();
        assert!((instant(&day["previousValidUntil"]) - now - 86_400_000).abs() < 5_000);
        let stored = store.signing_secrets(id).await.unwrap().unwrap();
        assert!(stored.previous.is_some());
    }
    let (status, none) = rotate(&env, id, Some(json!({"overlapSeconds": 0}))).await;
    assert_eq!(status, 200, "{none}");
    let now = chrono::Utc::now().timestamp_millis();
    assert!((instant(&none["previousValidUntil"]) - now).abs() < 5_000);
    let stored = store.signing_secrets(id).await.unwrap().unwrap();
    assert_eq!(stored.previous, None);

    // A tenant without a secret (created before tenants had them) gets its first one.
    strip_secret(&env, id).await;
    let (status, first) = rotate(&env, id, Some(json!({"overlapSeconds": 60}))).await;
    assert_eq!(status, 200, "{first}");
    assert_ne!(
        secret_of(&first, "signingSecret"),
        secret_of(&none, "signingSecret")
    );
    assert_eq!(first["previousValidUntil"], Value::Null);
    env.cleanup().await;
}

/// Removes the tenant's signing secret, as a tenant created before tenants had them.
async fn strip_secret(env: &TestEnv, tenant: &str) {
    let hash = chime_store::keys::Keys::new(env.namespace()).tenant(tenant);
    let (mut c, _) = namespace_keys(&env.settings)
        .await
        .into_iter()
        .find(|(_, k)| *k == hash)
        .expect("the tenant's hash");
    let removed: u64 = redis::cmd("HDEL")
        .arg(&hash)
        .arg("signing_secret")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(removed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_without_a_secret_gets_one_on_first_use_that_every_worker_signs_with() {
    let mut env = TestEnv::cluster().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (tenant, id, token) = tenant_with_key(&env).await;
    strip_secret(&env, &id).await;
    job_calling(&env, &token, &target, "POST", every_second()).await;
    let hits = hits(&target, 4).await;
    let stored = env.store().await.signing_secrets(&id).await.unwrap();
    let sealed = stored.unwrap().current.expect("a secret made on first use");
    assert!(sealed.starts_with("v1:test:"), "stored sealed: {sealed}");
    let ring = chime_core::secrets::Keyring::parse(chime_testkit::TEST_SECRET_KEYS).unwrap();
    let place = chime_core::signing::place(&id);
    let secret = ring.open(&place, &sealed).unwrap();
    assert_ne!(secret, tenant["signingSecret"].as_str().unwrap());
    for hit in &hits {
        assert_eq!(by_hand(&secret, hit), [true], "{hit:?}");
    }
    assert!(node_verifies(&secret, &hits[0], None).await);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_cannot_open_the_signing_secret_fails_the_run_without_calling() {
    let (run, calls) = crate::secrets::run_on_a_worker_without_the_key(json!({})).await;
    assert_eq!(run["runState"], "REQUEST_ERROR", "{run}");
    let text = run["runText"].as_str().unwrap();
    assert!(text.contains("signing secret cannot be opened"), "{text}");
    assert!(text.contains("'test'"), "the message names the key: {text}");
    assert_eq!(calls, 0, "the target was called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_keyring_tenants_have_no_secret_and_calls_go_unsigned() {
    let mut settings = chime_testkit::test_settings();
    settings.secret_keys = String::new();
    let env = TestEnv::cluster_with(settings).await;
    let target = Target::start().await;
    let (tenant, id, token) = tenant_with_key(&env).await;
    assert!(tenant.get("signingSecret").is_none(), "{tenant}");
    let (status, err) = rotate(&env, &id, None).await;
    assert_eq!(status, 409, "{err}");
    assert!(err.to_string().contains("CHIME_SECRET_KEYS"), "{err}");
    job_calling(&env, &token, &target, "POST", once_now()).await;
    let hit = hits(&target, 1).await.remove(0);
    let run = hit.header("x-sap-job-run-id").unwrap();
    assert_eq!(hit.header("webhook-id"), Some(format!("{run}_1").as_str()));
    assert!(hit.header("webhook-timestamp").is_some());
    assert_eq!(hit.header("webhook-signature"), None);
    env.cleanup().await;
}

/// A `chime serve <service>` child process of `env` logging at debug level, its output (stdout and
/// stderr) gathered into `log`.
fn logged_child(
    env: &TestEnv,
    service: &str,
    extra: &[(&str, String)],
    log: &Arc<Mutex<String>>,
) -> tokio::process::Child {
    let mut child = tokio::process::Command::new(chime_testkit::chime_bin())
        .args(["serve", service])
        .envs(env.child_env())
        .env("RUST_LOG", "debug")
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the chime binary");
    for mut out in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let log = log.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = out.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                log.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    child
}

/// What the admin can read of a tenant after its creation: its key list and its settings.
async fn admin_reads(env: &TestEnv, id: &str) -> String {
    let admin = env.client();
    let keys = format!("/admin/tenants/{id}/keys");
    let keys = admin.expect(200, "GET", &keys, ADMIN_TOKEN, None).await;
    let settings = Some(json!({"runsPerMinute": 600}));
    let path = format!("/admin/tenants/{id}");
    let settings = admin.expect(200, "PUT", &path, ADMIN_TOKEN, settings).await;
    format!("{keys}\n{settings}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_secret_is_shown_once_and_never_stored_nor_logged_in_the_clear() {
    let mut env = TestEnv::new();
    env.start_scheduler().await;
    let log = Arc::new(Mutex::new(String::new()));
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let api_env = [("CHIME_API_ADDR", addr.to_string())];
    let mut api = logged_child(&env, "api", &api_env, &log);
    let mut worker = logged_child(&env, "worker", &[], &log);
    env.api = Some(addr);
    let health = env.url("/healthz");
    wait_until("the API process answers", Duration::from_secs(30), || {
        let req = env.http.get(&health).send();
        async move { req.await.ok().filter(|r| r.status().is_success()) }
    })
    .await;
    let target = Target::start().await;
    let (tenant, id, token) = tenant_with_key(&env).await;
    let first = secret_of(&tenant, "signingSecret");
    let (status, rotated) = rotate(&env, &id, None).await;
    assert_eq!(status, 200, "{rotated}");
    let second = secret_of(&rotated, "signingSecret");
    job_calling(&env, &token, &target, "POST", once_now()).await;
    let hit = hits(&target, 1).await.remove(0);
    assert_eq!(by_hand(&second, &hit), [true, false]);
    assert_eq!(by_hand(&first, &hit), [false, true]);

    let read = admin_reads(&env, &id).await;
    assert!(read.contains(&id), "{read}");
    let stored = crate::secrets::everything_stored(&env).await;
    assert!(stored.contains("v1:test:"), "the secrets are stored sealed");
    // The services' logs, once the worker has logged the run's end.
    wait_until(
        "the worker logs the run",
        Duration::from_secs(10),
        || async { log.lock().unwrap().contains("run finished").then_some(()) },
    )
    .await;
    let logs = log.lock().unwrap().clone();
    assert!(
        logs.contains("signing secret rotated"),
        "the API's log is read"
    );
    for secret in [&first, &second] {
        let body = secret.strip_prefix("whsec_").unwrap();
        assert!(!read.contains(body), "an admin read shows it: {read}");
        assert!(!stored.contains(body), "stored in the clear");
        assert!(!logs.contains(body), "logged");
    }
    let _ = api.kill().await;
    let _ = worker.kill().await;
    env.cleanup().await;
}
