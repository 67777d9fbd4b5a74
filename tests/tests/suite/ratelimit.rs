//! Request rate limits: a tenant or a key over its requests per second is answered 429 with
//! `Retry-After` and SAP's `throttling` header (in the route's own error shape), is served
//! again once its limit allows, and leaves the other tenants and keys alone; the admin API
//! sets, validates and clears a tenant's `requestsPerSecond`.

use chime_testkit::{test_settings, wait_until, TestEnv, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

/// An answer's status, `Retry-After`, `throttling` and JSON body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    throttling: Option<String>,
    body: Value,
}

async fn get(env: &TestEnv, path: &str, token: &str) -> Answer {
    let resp = env
        .http
        .get(env.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("the API answers");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (retry_after, throttling) = (header("retry-after"), header("throttling"));
    let status = resp.status().as_u16();
    Answer {
        status,
        retry_after,
        throttling,
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

async fn configure(env: &TestEnv, tenant: &str, body: Value) -> (u16, Value) {
    let resp = env
        .http
        .put(env.url(&format!("/admin/tenants/{tenant}")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Requests `path` until one is refused (at most 100); the refusal.
async fn until_refused(env: &TestEnv, path: &str, token: &str) -> Answer {
    for _ in 0..100 {
        let a = get(env, path, token).await;
        if a.status == 429 {
            return a;
        }
        assert_eq!(a.status, 200, "{}", a.body);
    }
    panic!("100 requests in a row were served");
}

/// The first 429 of up to 100 requests of `path` (whatever the others answer).
async fn refused_at(env: &TestEnv, path: &str, token: &str) -> Answer {
    for _ in 0..100 {
        let a = get(env, path, token).await;
        if a.status == 429 {
            return a;
        }
    }
    panic!("100 requests of {path} in a row were not refused");
}

/// Asserts `a` is SAP's 429 of a rate limit whose message names `whose`.
fn assert_sap_429(a: &Answer, whose: &str) {
    assert_eq!(a.status, 429, "{}", a.body);
    let after: u64 = a
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=60).contains(&after), "Retry-After {after}");
    assert_eq!(
        a.throttling.as_deref(),
        Some("0"),
        "SAP's throttling header"
    );
    assert_eq!(a.body["code"], 429, "{}", a.body);
    assert_eq!(a.body["type"], "Too Many Requests", "{}", a.body);
    let message = a.body["message"].as_str().unwrap();
    assert!(message.contains(whose), "{message}");
    assert_eq!(a.body["detailedError"], a.body["message"]);
}

/// Waits until `token` is served `path` again.
async fn served_again(env: &TestEnv, path: &str, token: &str) {
    wait_until("served again", Duration::from_secs(5), || async {
        (get(env, path, token).await.status == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_rate_is_refused_and_a_tenant_beside_it_is_not() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (hostile, hostile_token) = env.tenant(&["read", "write"]).await;
    let (_, healthy_token) = env.tenant(&["read", "write"]).await;
    let (st, body) = configure(&env, &hostile, json!({"requestsPerSecond": 3})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["requestsPerSecond"], 3);

    let refused = until_refused(&env, "/scheduler/jobs", &hostile_token).await;
    assert_sap_429(&refused, "tenant is limited to 3 requests per second");
    // While the hostile tenant is refused, the healthy one is served every time.
    for _ in 0..20 {
        let a = get(&env, "/scheduler/jobs", &healthy_token).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.throttling.is_none() && a.retry_after.is_none());
    }
    // The dialects answer the refusal in their own shapes, with the same headers.
    let huawei = refused_at(&env, "/v1/log/x/1/real-time-log", &hostile_token).await;
    assert_eq!(
        huawei.body["error_code"], "CHIME.00000429",
        "{}",
        huawei.body
    );
    assert!(huawei.retry_after.is_some() && huawei.throttling.as_deref() == Some("0"));
    let apify = refused_at(&env, "/v2/schedules/x/log", &hostile_token).await;
    assert_eq!(
        apify.body["error"]["type"], "rate-limit-exceeded",
        "{}",
        apify.body
    );
    assert!(apify.retry_after.is_some() && apify.throttling.as_deref() == Some("0"));
    // Unauthenticated routes and /admin are not limited.
    assert_eq!(get(&env, "/healthz", "").await.status, 200);
    let (st, _) = configure(&env, &hostile, json!({"requestsPerSecond": 3})).await;
    assert_eq!(st, 200, "/admin is not limited");

    served_again(&env, "/scheduler/jobs", &hostile_token).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_applies_and_a_tenants_own_rate_reaches_the_api_within_seconds() {
    let mut settings = test_settings();
    settings.tenant_requests_per_second = 3;
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    let (tenant, token) = env.tenant(&["read"]).await;
    let refused = until_refused(&env, "/scheduler/jobs", &token).await;
    assert_sap_429(&refused, "tenant is limited to 3 requests per second");

    // Lifted for this tenant (0: no limit): the API reads the setting again within 5 s.
    let (st, body) = configure(&env, &tenant, json!({"requestsPerSecond": 0})).await;
    assert_eq!((st, body["requestsPerSecond"].as_u64()), (200, Some(0)));
    wait_until(
        "20 requests in a row served",
        Duration::from_secs(10),
        || async {
            for _ in 0..20 {
                if get(&env, "/scheduler/jobs", &token).await.status != 200 {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    // `null` restores the default, which refuses again once read.
    let (st, body) = configure(&env, &tenant, json!({"requestsPerSecond": null})).await;
    assert_eq!((st, body["requestsPerSecond"].as_u64()), (200, Some(3)));
    wait_until("refused again", Duration::from_secs(10), || async {
        (get(&env, "/scheduler/jobs", &token).await.status == 429).then_some(())
    })
    .await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_is_refused_and_another_key_of_its_tenant_is_not() {
    let mut settings = test_settings();
    settings.key_requests_per_second = 3;
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    let (tenant, busy) = env.tenant(&["read"]).await;
    let other = env.client().create_key(&tenant, &["read"]).await;

    let refused = until_refused(&env, "/scheduler/jobs", &busy).await;
    assert_sap_429(&refused, "API key is limited to 3 requests per second");
    let a = get(&env, "/scheduler/jobs", &other).await;
    assert_eq!(
        a.status, 200,
        "another key of the tenant is served: {}",
        a.body
    );

    served_again(&env, "/scheduler/jobs", &busy).await;

    // Token requests count too: a key asking for tokens faster than its rate is refused.
    let (id, secret) = busy.split_once('.').expect("<id>.<secret>");
    let mut refused = None;
    for _ in 0..100 {
        let resp = env
            .http
            .post(env.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("the API answers");
        match resp.status().as_u16() {
            200 => continue,
            429 => {
                assert!(resp.headers().contains_key("retry-after"));
                refused = Some(resp.json::<Value>().await.unwrap());
                break;
            }
            other => panic!("token request answered {other}"),
        }
    }
    let refused = refused.expect("a token request over the key's rate is refused");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("API key is limited to 3 requests per second"),
        "{refused}"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_second_is_validated_and_null_restores_the_default() {
    let mut settings = test_settings();
    settings.tenant_requests_per_second = 1000;
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    let (tenant, _) = env.tenant(&["read"]).await;
    let (st, body) = configure(&env, &tenant, json!({"maxJobs": 5})).await;
    assert_eq!(
        (st, body["requestsPerSecond"].as_u64()),
        (200, Some(1000)),
        "the default: {body}"
    );
    for bad in [
        json!({"requestsPerSecond": -1}),
        json!({"requestsPerSecond": 1.5}),
        json!({"requestsPerSecond": "many"}),
        json!({"requestsPerSecond": 100_000_001}),
    ] {
        let (st, body) = configure(&env, &tenant, bad.clone()).await;
        assert_eq!(st, 400, "{bad}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("'requestsPerSecond'"),
            "{body}"
        );
    }
    let (st, body) = configure(&env, &tenant, json!({"requestsPerSecond": 7})).await;
    assert_eq!((st, body["requestsPerSecond"].as_u64()), (200, Some(7)));
    let (st, body) = configure(&env, &tenant, json!({"requestsPerSecond": null})).await;
    assert_eq!((st, body["requestsPerSecond"].as_u64()), (200, Some(1000)));
    let (st, _) = configure(&env, "no-such-tenant", json!({"requestsPerSecond": 5})).await;
    assert_eq!(st, 404);
    env.cleanup().await;
}
