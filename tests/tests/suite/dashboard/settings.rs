//! The tenant's settings page over plain HTTP: its settings, its keys listed, created (the
//! token shown once) and revoked with the `admin` scope only, as the API's `/scheduler/keys`
//! allows; forged forms and another tenant's keys refused.

use super::{csrf_of, get, post, sign_in};
use chime_testkit::{TestEnv, ADMIN_TOKEN};
use serde_json::Value;

/// The tenant's key ids, as the API lists them.
async fn key_ids(env: &TestEnv, admin_token: &str) -> Vec<String> {
    let (st, v): (u16, Value) = env.call("GET", "/scheduler/keys", admin_token, None).await;
    assert_eq!(st, 200, "{v}");
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect()
}

/// Whether `token` is accepted by the API.
async fn accepted(env: &TestEnv, token: &str) -> bool {
    env.call("GET", "/scheduler/tenant", token, None).await.0 == 200
}

/// The token the new key's page shows.
fn new_token(page: &str) -> String {
    let at = page.find("id=\"new-token\"").expect("the new token");
    let rest = &page[at..];
    let v = &rest[rest.find("value=\"").unwrap() + 7..];
    v[..v.find('"').unwrap()].to_string()
}

/// Forged forms and bad fields: refused (403, 400).
async fn refused_creations(env: &TestEnv, cookie: &str, csrf: &str) {
    // Forged or bad creations change nothing.
    let origin = [("origin", "http://evil.example")];
    for (form, headers) in [
        (vec![("scope", "read")], &[][..]),
        (vec![("csrf", "nope"), ("scope", "read")], &[][..]),
        (vec![("csrf", csrf), ("scope", "read")], &origin[..]),
    ] {
        let (st, _) = post(env, "/ui/settings/keys", cookie, &form, headers).await;
        assert_eq!(st, 403, "{form:?}");
    }
    for bad in [
        [("scope", "root"), ("expires_days", "")],
        [("scope", "read"), ("expires_days", "0")],
    ] {
        let form = [("csrf", csrf), bad[0], bad[1]];
        assert_eq!(
            post(env, "/ui/settings/keys", cookie, &form, &[]).await.0,
            400,
            "{bad:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_admin_scope_reads_the_settings_but_not_the_keys() {
    let env = TestEnv::api_only().await;
    let (tenant, owner) = env.tenant(&["admin"]).await;
    let reader = env.client().create_key(&tenant, &["read"]).await;
    let before = key_ids(&env, &owner).await;

    // A key without the admin scope: the settings, and why the keys are not shown.
    let cookie = sign_in(&env, &reader).await;
    let (st, _, page) = get(&env, "/ui/settings", &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains(&tenant) && page.contains("Run retention"),
        "{page}"
    );
    assert!(page.contains("needs a key with the"), "{page}");
    assert!(
        !page.contains("Revoke…") && !page.contains("/ui/settings/keys\""),
        "{page}"
    );
    let (st, _) = post(
        &env,
        "/ui/settings/keys",
        &cookie,
        &[("csrf", &csrf_of(&page)), ("scope", "read")],
        &[],
    )
    .await;
    assert_eq!(st, 403, "creating needs the admin scope");
    assert_eq!(key_ids(&env, &owner).await, before);

    // The admin's session has no tenant settings.
    let admin = sign_in(&env, ADMIN_TOKEN).await;
    assert_eq!(
        get(&env, "/ui/settings", &admin).await.1.as_deref(),
        Some("/ui/admin")
    );

    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_reads_its_settings_and_manages_its_keys_with_the_admin_scope() {
    let env = TestEnv::api_only().await;
    let (tenant, owner) = env.tenant(&["admin"]).await;
    let (_, stranger) = env.tenant(&["admin"]).await;
    let strangers_key = stranger.split('.').next().unwrap().to_string();
    let before = key_ids(&env, &owner).await;

    // The admin scope: the keys, this session's marked, and the create form.
    let cookie = sign_in(&env, &owner).await;
    let (st, _, page) = get(&env, "/ui/settings", &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains(&tenant), "{page}");
    for id in &before {
        assert!(page.contains(&format!("id=\"key-{id}\"")), "{id}: {page}");
    }
    assert!(
        page.contains("this session") && page.contains("Create the key"),
        "{page}"
    );
    let csrf = csrf_of(&page);

    refused_creations(&env, &cookie, &csrf).await;
    assert_eq!(key_ids(&env, &owner).await, before);

    // Created: its token shown once, accepted by the API, with the scopes and expiry chosen.
    let form = [
        ("csrf", csrf.as_str()),
        ("scope", "read"),
        ("scope", "write"),
        ("expires_days", "2"),
    ];
    let (st, page) = post(&env, "/ui/settings/keys", &cookie, &form, &[]).await;
    assert_eq!(st, 201, "{page}");
    let token = new_token(&page);
    assert!(accepted(&env, &token).await);
    let new_id = token.split('.').next().unwrap().to_string();
    let (_, keys): (u16, Value) = env.call("GET", "/scheduler/keys", &owner, None).await;
    let made = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == new_id.as_str())
        .unwrap();
    assert_eq!(
        made["scopes"],
        serde_json::json!(["read", "write"]),
        "{made}"
    );
    assert!(made["expiresAt"].is_string(), "{made}");
    let (_, _, page) = get(&env, "/ui/settings", &cookie).await;
    assert!(
        !page.contains(token.split('.').nth(1).unwrap()),
        "the secret is never shown again"
    );

    // Another tenant's key: no page, no revocation.
    let theirs = format!("/ui/settings/keys/{strangers_key}");
    assert_eq!(
        get(&env, &format!("{theirs}/confirm-revoke"), &cookie)
            .await
            .0,
        404
    );
    let (st, _) = post(
        &env,
        &format!("{theirs}/revoke"),
        &cookie,
        &[("csrf", &csrf)],
        &[],
    )
    .await;
    assert_eq!(st, 404);
    assert!(accepted(&env, &stranger).await);

    // Revoked after its confirmation (a forged form first: refused).
    let mine = format!("/ui/settings/keys/{new_id}");
    let (st, _, page) = get(&env, &format!("{mine}/confirm-revoke"), &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("Revoke the key"), "{page}");
    assert_eq!(
        post(
            &env,
            &format!("{mine}/revoke"),
            &cookie,
            &[("csrf", "x")],
            &[]
        )
        .await
        .0,
        403
    );
    assert!(accepted(&env, &token).await);
    let (st, _) = post(
        &env,
        &format!("{mine}/revoke"),
        &cookie,
        &[("csrf", &csrf)],
        &[],
    )
    .await;
    assert_eq!(st, 303);
    assert!(!accepted(&env, &token).await);
    assert_eq!(key_ids(&env, &owner).await, before);

    env.cleanup().await;
}
