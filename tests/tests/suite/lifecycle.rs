//! Keys and tenants end: a tenant's key list, a key revoked on every API replica from the next
//! request on, keys that expire, a tenant deleted with everything it has (its slot scanned
//! afterwards), admin tokens rotated without a restart, and job ids counted per tenant.

use chime_testkit::{namespace_keys, wait_until, ApiClient, Target, TestEnv, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

/// A new key of `tenant` made with `body`; returns the whole answer.
async fn new_key(env: &TestEnv, tenant: &str, body: Value) -> Value {
    let path = format!("/admin/tenants/{tenant}/keys");
    env.client()
        .expect(201, "POST", &path, ADMIN_TOKEN, Some(body))
        .await
}

fn keys_path(tenant: &str) -> String {
    format!("/admin/tenants/{tenant}/keys")
}

#[tokio::test]
async fn the_key_list_shows_ids_scopes_and_use_but_never_a_secret() {
    let env = TestEnv::api_only().await;
    let tenant = env.client().create_tenant("acme").await;
    let reader = new_key(&env, &tenant, json!({"scopes": ["read"]})).await;
    let writer = new_key(&env, &tenant, json!({"expiresInSeconds": 3600})).await;
    assert!(writer["expiresAt"].is_string(), "{writer}");
    assert!(reader.get("expiresAt").is_none(), "{reader}");

    let token = reader["token"].as_str().unwrap();
    env.client()
        .expect(200, "GET", "/scheduler/jobs", token, None)
        .await;

    let (status, list) = env
        .call("GET", &keys_path(&tenant), ADMIN_TOKEN, None)
        .await;
    assert_eq!(status, 200, "{list}");
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{list}");
    let find = |id: &Value| keys.iter().find(|k| k["id"] == *id).unwrap().clone();
    let (r, w) = (find(&reader["id"]), find(&writer["id"]));
    assert_eq!(r["scopes"], json!(["read"]));
    assert_eq!(r["tenantId"], tenant.as_str());
    assert!(
        r["lastUsed"].is_string(),
        "a used key shows its last use: {r}"
    );
    assert!(r["created"].is_string(), "{r}");
    assert_eq!(w["lastUsed"], Value::Null, "{w}");
    assert_eq!(w["expiresAt"], writer["expiresAt"]);
    assert_eq!(w["expired"], false);
    let text = list.to_string();
    for secret in [&reader["secret"], &writer["secret"]] {
        assert!(
            !text.contains(secret.as_str().unwrap()),
            "a secret is listed"
        );
    }

    // A tenant key cannot list keys, and an unknown tenant has none.
    let (status, _) = env.call("GET", &keys_path(&tenant), token, None).await;
    assert_eq!(status, 401);
    let (status, _) = env
        .call("GET", &keys_path("nobody"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(status, 404);
    let (status, body) = env
        .call(
            "POST",
            &keys_path(&tenant),
            ADMIN_TOKEN,
            Some(json!({"expiresInSeconds": 0})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("expiresInSeconds"), "{body}");
    env.cleanup().await;
}

#[tokio::test]
async fn a_revoked_key_fails_on_every_replica_from_the_next_request_on() {
    let mut env = TestEnv::new();
    let first = env.start_api().await;
    let second = env.start_api().await;
    let client = |addr| ApiClient::new(env.http.clone(), &format!("http://{addr}"), ADMIN_TOKEN);
    let (a, b) = (client(first), client(second));
    let tenant = a.create_tenant("acme").await;
    let token = a.create_key(&tenant, &["read"]).await;
    let other = a.create_key(&tenant, &["read"]).await;
    for api in [&a, &b] {
        api.expect(200, "GET", "/scheduler/jobs", &token, None)
            .await;
    }

    let key = token.split('.').next().unwrap();
    let path = format!("{}/{key}", keys_path(&tenant));
    let (status, _) = a.call("DELETE", &path, ADMIN_TOKEN, None).await;
    assert_eq!(status, 204);
    for api in [&b, &a] {
        let (status, body) = api.call("GET", "/scheduler/jobs", &token, None).await;
        assert_eq!(status, 401, "a revoked key still works: {body}");
    }
    // The tenant's other key still works; the revoked one is no longer listed, nor revocable.
    b.expect(200, "GET", "/scheduler/jobs", &other, None).await;
    let list = b
        .expect(200, "GET", &keys_path(&tenant), ADMIN_TOKEN, None)
        .await;
    assert_eq!(list["keys"].as_array().unwrap().len(), 1, "{list}");
    let (status, _) = b.call("DELETE", &path, ADMIN_TOKEN, None).await;
    assert_eq!(status, 404);
    // Another tenant cannot have this tenant's key revoked through its own path.
    let stranger = a.create_tenant("other").await;
    let key = other.split('.').next().unwrap();
    let path = format!("{}/{key}", keys_path(&stranger));
    let (status, _) = a.call("DELETE", &path, ADMIN_TOKEN, None).await;
    assert_eq!(status, 404);
    b.expect(200, "GET", "/scheduler/jobs", &other, None).await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_key_stops_working_when_it_expires() {
    let env = TestEnv::api_only().await;
    let tenant = env.client().create_tenant("acme").await;
    let key = new_key(&env, &tenant, json!({"expiresInSeconds": 1})).await;
    let token = key["token"].as_str().unwrap().to_string();
    let status = env.call("GET", "/scheduler/jobs", &token, None).await.0;
    // The key may already have expired on a slow machine; it must expire in any case.
    assert!(status == 200 || status == 401, "{status}");
    let body = wait_until("the key expires", Duration::from_secs(10), || async {
        let (status, body) = env.call("GET", "/scheduler/jobs", &token, None).await;
        (status == 401).then_some(body)
    })
    .await;
    let text = body.to_string();
    assert!(
        text.contains("expired") || text.contains("invalid API key"),
        "{text}"
    );
    env.cleanup().await;
}

/// Every Redis key of the namespace whose name holds `needle`, with a connection to the
/// master that holds it.
async fn keys_holding(
    env: &TestEnv,
    needle: &str,
) -> Vec<(redis::aio::MultiplexedConnection, String)> {
    let mut keys = namespace_keys(&env.settings).await;
    keys.retain(|(_, k)| k.contains(needle));
    keys
}

/// What is left of a tenant in Redis: its keys but its hash, API key hashes naming it, and
/// due entries of its.
async fn leftovers(env: &TestEnv, tenant: &str) -> Vec<String> {
    let mut left: Vec<String> = keys_holding(env, &format!("{{t:{tenant}}}"))
        .await
        .into_iter()
        .map(|(_, k)| k)
        .filter(|k| !k.ends_with(":tenant"))
        .collect();
    for (mut c, k) in keys_holding(env, ":apikey:").await {
        let owner: Option<String> = redis::cmd("HGET")
            .arg(&k)
            .arg("tenant")
            .query_async(&mut c)
            .await
            .unwrap();
        if owner.as_deref() == Some(tenant) {
            left.push(k);
        }
    }
    for (mut c, k) in keys_holding(env, ":due:").await {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(&k)
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .unwrap();
        let mine = format!("{tenant}|");
        left.extend(members.into_iter().filter(|m| m.starts_with(&mine)));
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_tenant_leaves_no_key_job_run_or_due_entry_behind() {
    let mut env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let (neighbour, neighbour_token) = env.tenant(&["read", "write"]).await;
    let second = env.client().create_key(&tenant, &["read"]).await;
    let every_second = json!([{"repeatInterval": "1 second", "active": true}]);
    let mut jobs = vec![];
    for (t, name) in [(&token, "a"), (&token, "b"), (&neighbour_token, "n")] {
        let job = env
            .client()
            .create_job(
                t,
                json!({"name": name, "action": target.url("/hit"), "active": true,
                       "httpMethod": "POST", "schedules": every_second}),
            )
            .await;
        jobs.push(job);
    }
    // Runs recorded for both of the tenant's jobs.
    for job in &jobs[..2] {
        let path = format!("/scheduler/jobs/{}/runs/export", job.id);
        wait_until("runs are recorded", Duration::from_secs(20), || async {
            let resp = env
                .http
                .get(env.url(&path))
                .bearer_auth(&token)
                .send()
                .await
                .ok()?;
            let text = resp.text().await.ok()?;
            (text.lines().count() >= 2).then_some(())
        })
        .await;
    }
    assert!(leftovers(&env, &tenant).await.len() > 10);

    let path = format!("/admin/tenants/{tenant}");
    let (status, body) = env.call("DELETE", &path, &token, None).await;
    assert_eq!(status, 401, "a tenant key cannot delete its tenant: {body}");
    let (status, body) = env.call("DELETE", &path, ADMIN_TOKEN, None).await;
    assert_eq!(status, 204, "{body}");
    for t in [&token, &second] {
        let (status, _) = env.call("GET", "/scheduler/jobs", t, None).await;
        assert_eq!(status, 401);
    }
    let (status, _) = env
        .call("GET", &keys_path(&tenant), ADMIN_TOKEN, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = env
        .call("PUT", &path, ADMIN_TOKEN, Some(json!({"maxJobs": 1})))
        .await;
    assert_eq!(status, 404);
    assert_eq!(leftovers(&env, &tenant).await, Vec::<String>::new());

    // Runs in flight at the deletion finish without leaving anything: stop the services (they
    // finish what they hold) and look again.
    let store = env.store().await;
    env.stop_services().await;
    assert_eq!(leftovers(&env, &tenant).await, Vec::<String>::new());
    // Only the tombstone of the tenant hash is left, and it expires.
    let mut tombstone = keys_holding(&env, &format!("{{t:{tenant}}}")).await;
    let names: Vec<&String> = tombstone.iter().map(|(_, k)| k).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let (c, key) = &mut tombstone[0];
    let ttl: i64 = redis::cmd("PTTL").arg(&*key).query_async(c).await.unwrap();
    assert!(
        ttl > 0 && ttl <= chime_store::TENANT_TOMBSTONE_MS as i64,
        "{ttl}"
    );
    assert!(!store.tenants().await.unwrap().contains(&tenant));
    // The neighbour keeps everything.
    assert!(store.tenants().await.unwrap().contains(&neighbour));
    assert!(store.job(&neighbour, jobs[2].id).await.unwrap().is_some());
    env.cleanup().await;
}

#[tokio::test]
async fn admin_tokens_rotate_through_their_file_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("chime-admin-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tokens");
    std::fs::write(&file, "# admin tokens\nold-token\n").unwrap();
    let mut settings = chime_testkit::test_settings();
    settings.admin_token = None;
    settings.admin_token_file = Some(file.display().to_string());
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    let tenants = |token: &'static str| {
        let env = &env;
        async move {
            env.call("POST", "/admin/tenants", token, Some(json!({"name": "x"})))
                .await
                .0
        }
    };
    assert_eq!(tenants("old-token").await, 201);
    assert_eq!(tenants("new-token").await, 401);
    // Both during the change-over, then only the new one.
    std::fs::write(&file, "old-token\nnew-token\n").unwrap();
    assert_eq!(tenants("new-token").await, 201);
    assert_eq!(tenants("old-token").await, 201);
    std::fs::write(&file, "new-token\n").unwrap();
    assert_eq!(tenants("old-token").await, 401);
    assert_eq!(tenants("new-token").await, 201);
    // A file that is gone accepts no token.
    std::fs::remove_file(&file).unwrap();
    assert_eq!(tenants("new-token").await, 401);
    std::fs::remove_dir_all(&dir).unwrap();
    env.cleanup().await;
}

#[tokio::test]
async fn job_ids_are_counted_per_tenant() {
    let env = TestEnv::api_only().await;
    let (_, a) = env.tenant(&["read", "write"]).await;
    let (_, b) = env.tenant(&["read", "write"]).await;
    let job = |name: &str| json!({"name": name, "action": "http://127.0.0.1:9/x", "active": false});
    let mut ids = vec![];
    for i in 0..3 {
        ids.push(env.client().create_job(&a, job(&format!("a{i}"))).await.id);
    }
    let first_b = env.client().create_job(&b, job("b0")).await.id;
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(first_b, 1, "B's ids do not count A's creates");
    // B reaches only its own job 1, never A's jobs 2 and 3.
    let (status, body) = env.call("GET", "/scheduler/jobs/1", &b, None).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("b0")));
    for id in [2, 3] {
        let (status, _) = env
            .call("GET", &format!("/scheduler/jobs/{id}"), &b, None)
            .await;
        assert_eq!(status, 404);
    }
    // A deleted job's id is not handed out again.
    env.client()
        .expect(200, "DELETE", "/scheduler/jobs/3", &a, None)
        .await;
    assert_eq!(env.client().create_job(&a, job("a3")).await.id, 4);
    env.cleanup().await;
}
