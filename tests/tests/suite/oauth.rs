//! OAuth access tokens: `POST /oauth/token` (the client credentials grant, RFC 6749 §4.4) with
//! a key's id and secret by HTTP Basic or in the form; the token works wherever the key does,
//! within the scopes granted; RFC 6749 §5.2's errors; a tampered, expired, foreign-key or
//! `alg: none` token is refused, and so is the token of a revoked key; SAP's own Node.js
//! client (`@sap/jobs-client`) works with its `token` option and with its own OAuth flow.

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use base64::Engine;
use chime_testkit::{TestEnv, ADMIN_TOKEN};
use serde_json::{json, Value};

/// The token keys the tests' API signs with: the first signs, both verify.
fn token_keys() -> String {
    format!("k2:{},k1:{}", B64.encode([7u8; 32]), B64.encode([9u8; 32]))
}

async fn api() -> TestEnv {
    let mut settings = chime_testkit::test_settings();
    settings.token_keys = token_keys();
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    env
}

/// `POST /oauth/token` with `form`, and `basic` credentials if given: status, headers, body.
async fn token_request(
    env: &TestEnv,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(env.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form.iter()
                .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
                .collect::<Vec<_>>()
                .join("&"),
        );
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

fn split(key: &str) -> (&str, &str) {
    key.split_once('.').unwrap()
}

const GRANT: (&str, &str) = ("grant_type", "client_credentials");

/// A token request (HTTP Basic credentials, form) and the status and error it gets.
type Case<'a> = (
    Option<(&'a str, &'a str)>,
    Vec<(&'a str, &'a str)>,
    u16,
    &'a str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_works_wherever_its_key_does_within_its_scopes() {
    let env = api().await;
    let (tenant, key) = env.tenant(&["read", "write"]).await;
    let (id, secret) = split(&key);
    let (st, headers, body) = token_request(&env, Some((id, secret)), &[GRANT]).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
    let token = body["access_token"].as_str().unwrap().to_string();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (&claims["sub"], &claims["zid"]),
        (&json!(id), &json!(tenant))
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    let job = json!({"name": "by-token", "action": "http://127.0.0.1:9/x", "active": false});
    let (st, v) = env.call("POST", "/scheduler/jobs", &token, Some(job)).await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!((st, v["total"].as_u64()), (200, Some(1)), "{v}");

    // In the form instead of HTTP Basic, narrowed to `read`: it reads and cannot write.
    let form = [
        GRANT,
        ("client_id", id),
        ("client_secret", secret),
        ("scope", "read"),
    ];
    let (st, _, body) = token_request(&env, None, &form).await;
    assert_eq!((st, &body["scope"]), (200, &json!("read")), "{body}");
    let reader = body["access_token"].as_str().unwrap();
    assert_eq!(
        env.call("GET", "/scheduler/jobs", reader, None).await.0,
        200
    );
    let other = json!({"name": "refused", "action": "http://127.0.0.1:9/x"});
    let (st, v) = env
        .call("POST", "/scheduler/jobs", reader, Some(other))
        .await;
    assert_eq!(st, 403, "{v}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_requests_get_rfc_6749_errors() {
    let env = api().await;
    let (_, key) = env.tenant(&["read"]).await;
    let (id, secret) = split(&key);
    let cases: [Case; 7] = [
        (Some((id, secret)), vec![], 400, "invalid_request"),
        (
            Some((id, secret)),
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (Some((id, "0badc0ffee")), vec![GRANT], 401, "invalid_client"),
        (
            Some(("nosuchkey", secret)),
            vec![GRANT],
            401,
            "invalid_client",
        ),
        (None, vec![GRANT], 401, "invalid_client"),
        (
            Some((id, secret)),
            vec![GRANT, ("scope", "write")],
            400,
            "invalid_scope",
        ),
        (
            Some((id, secret)),
            vec![GRANT, ("client_id", id), ("client_secret", secret)],
            400,
            "invalid_request",
        ),
    ];
    for (basic, form, status, error) in cases {
        let (st, headers, body) = token_request(&env, basic, &form).await;
        assert_eq!(
            (st, &body["error"]),
            (status, &json!(error)),
            "{form:?}: {body}"
        );
        assert!(body["error_description"].is_string(), "{body}");
        if st == 401 {
            assert_eq!(headers["www-authenticate"], "Basic realm=\"chime\"");
        }
    }
    // Not a form.
    let r = reqwest::Client::new()
        .post(env.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampered_expired_unsigned_and_revoked_tokens_are_refused() {
    let env = api().await;
    let (tenant, key) = env.tenant(&["read"]).await;
    let (id, secret) = split(&key);
    let (_, _, body) = token_request(&env, Some((id, secret)), &[GRANT]).await;
    let token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        env.call("GET", "/scheduler/jobs", &token, None).await.0,
        200
    );
    let parts: Vec<&str> = token.split('.').collect();

    // A token of the old key (listed second) still verifies; one expired, one signed by a key
    // the API does not list, one with `alg: none`, and one whose payload was changed do not.
    let keys = |spec: &str| chime_api::tokens::TokenKeys::new(spec, "", 3600).unwrap();
    let now = chrono::Utc::now().timestamp();
    let scopes = ["read".to_string()];
    let old = keys(&format!("k1:{}", B64.encode([9u8; 32])));
    let by_old = old.issue(id, &tenant, &scopes, now);
    assert_eq!(
        env.call("GET", "/scheduler/jobs", &by_old, None).await.0,
        200
    );
    let expired = keys(&token_keys()).issue(id, &tenant, &scopes, now - 4_000);
    let foreign = keys(&format!("k2:{}", B64.encode([1u8; 32]))).issue(id, &tenant, &scopes, now);
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k2"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!(["read", "write", "admin"]);
    let widened = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    for bad in [&expired, &foreign, &unsigned, &widened] {
        let (st, v) = env.call("GET", "/scheduler/jobs", bad, None).await;
        assert_eq!(st, 401, "{bad}: {v}");
    }

    // The key revoked: its token ends with it.
    let path = format!("/admin/tenants/{tenant}/keys/{id}");
    let (st, v) = env.client().call("DELETE", &path, ADMIN_TOKEN, None).await;
    assert!(st == 200 || st == 204, "{st} {v}");
    let (st, v) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(st, 401, "{v}");
    env.cleanup().await;
}

/// Runs `tests/node/sap-client.js` in `mode` with `envs`; its one JSON line.
async fn sap_client(mode: &str, envs: &[(&str, String)]) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    assert!(
        dir.join("node_modules/@sap/jobs-client").is_dir(),
        "the SAP client is not installed: run `npm ci --prefix tests/node` (scripts/test.sh does)"
    );
    let out = tokio::process::Command::new("node")
        .arg("sap-client.js")
        .arg(mode)
        .current_dir(&dir)
        .envs(envs.iter().map(|(k, v)| (k, v.as_str())))
        .output()
        .await
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("node printed {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sap_client_works_with_a_token_and_with_its_own_oauth_flow() {
    let env = api().await;
    let (_, key) = env.tenant(&["read", "write"]).await;
    let (id, secret) = split(&key);
    let base = env.url("");
    let (_, _, body) = token_request(&env, Some((id, secret)), &[GRANT]).await;
    let token = body["access_token"].as_str().unwrap().to_string();
    let by_token = sap_client(
        "token",
        &[
            ("CHIME_URL", base.clone()),
            ("TOKEN", token),
            ("JOB_NAME", "by-token".into()),
        ],
    )
    .await;
    assert_eq!(by_token["created"]["name"], "by-token", "{by_token}");
    assert_eq!(
        by_token["fetched"]["_id"], by_token["created"]["_id"],
        "{by_token}"
    );
    // Its search and its job list with SAP's filter and sort.
    let searched = &by_token["searched"];
    assert_eq!(searched["total"], 1, "{by_token}");
    assert_eq!(searched["results"][0]["name"], "by-token", "{by_token}");
    assert_eq!(searched["pagination_enabled"], true, "{by_token}");
    let schedules = &by_token["searchedSchedules"];
    assert_eq!(schedules["total"], 1, "{by_token}");
    assert_eq!(
        schedules["results"][0]["parent"]["_id"], by_token["created"]["_id"],
        "{by_token}"
    );
    assert_eq!(by_token["listed"]["total"], 1, "{by_token}");
    assert_eq!(
        by_token["listed"]["results"][0]["INACTIVECOUNT"], 1,
        "{by_token}"
    );

    // No token given: the client reads VCAP_SERVICES, fetches its token from chime's
    // /oauth/token with the key as its UAA client, and calls with it.
    let vcap = json!({"jobscheduler": [{
        "name": "chime", "label": "jobscheduler", "tags": ["jobscheduler"],
        "credentials": {"url": base, "uaa": {"url": base, "clientid": id, "clientsecret": secret}}
    }]});
    let own_flow = sap_client(
        "vcap",
        &[
            ("VCAP_SERVICES", vcap.to_string()),
            ("JOB_NAME", "by-own-flow".into()),
        ],
    )
    .await;
    assert_eq!(own_flow["created"]["name"], "by-own-flow", "{own_flow}");
    assert_eq!(own_flow["count"]["inactive"], 2, "{own_flow}");
    env.cleanup().await;
}
