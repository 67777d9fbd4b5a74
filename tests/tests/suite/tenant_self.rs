//! Tenants as the operator lists them, and a tenant's own view: its settings with any key,
//! its API keys with a key of the `admin` scope (list, create with the secret shown once,
//! revoke), never another tenant's.

use chime_testkit::{TestEnv, ADMIN_TOKEN};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_lists_tenants_and_a_tenant_reads_its_own_settings() {
    let env = TestEnv::api_only().await;
    let client = env.client();
    let zeta = client.create_tenant("zeta").await;
    let acme = client.create_tenant("acme").await;
    let reader = client.create_key(&acme, &["read"]).await;

    let (st, list) = env.call("GET", "/admin/tenants", ADMIN_TOKEN, None).await;
    assert_eq!(st, 200, "{list}");
    let names: Vec<&str> = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "zeta"], "by name: {list}");
    assert_eq!(list["tenants"][0]["id"], acme.as_str());
    assert_eq!(list["tenants"][1]["id"], zeta.as_str());
    assert!(list["tenants"][0]["created"].is_string(), "{list}");
    assert_eq!(list["tenants"][0]["deleting"], false);
    let (st, _) = env.call("GET", "/admin/tenants", &reader, None).await;
    assert_eq!(st, 401, "a tenant key is not the admin token");

    // The operator's view of one tenant, and the tenant's own, agree and follow a change.
    client
        .configure_tenant(&acme, json!({"runsPerMinute": 600, "runRetentionDays": 7}))
        .await;
    let (st, admin_view) = env
        .call("GET", &format!("/admin/tenants/{acme}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(st, 200, "{admin_view}");
    let (st, own) = env.call("GET", "/scheduler/tenant", &reader, None).await;
    assert_eq!(st, 200, "{own}");
    assert_eq!(own, admin_view);
    assert_eq!(own["id"], acme.as_str());
    assert_eq!(own["name"], "acme");
    assert_eq!(own["runsPerMinute"], 600);
    assert_eq!(own["runRetentionSeconds"], 7 * 86_400);
    let (st, _) = env
        .call(
            "GET",
            "/admin/tenants/000000000000000000000000",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(st, 404);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_key_creates_and_revokes_its_tenants_keys_and_no_others() {
    let env = TestEnv::api_only().await;
    let client = env.client();
    let (tenant, owner) = {
        let id = client.create_tenant("owner").await;
        let key = client.create_key(&id, &["admin"]).await;
        (id, key)
    };
    let (_, writer) = env.tenant(&["read", "write"]).await;
    let (_, other_admin) = env.tenant(&["admin"]).await;

    // Without the admin scope: refused.
    let (st, _) = env.call("GET", "/scheduler/keys", &writer, None).await;
    assert_eq!(st, 403);
    let (st, _) = env
        .call("POST", "/scheduler/keys", &writer, Some(json!({})))
        .await;
    assert_eq!(st, 403);

    // A read-only key, made by the tenant: its token is shown once and works as scoped.
    let (st, made) = env
        .call(
            "POST",
            "/scheduler/keys",
            &owner,
            Some(json!({"scopes": ["read"]})),
        )
        .await;
    assert_eq!(st, 201, "{made}");
    assert_eq!(made["tenantId"], tenant.as_str());
    let token = made["token"].as_str().unwrap().to_string();
    let key_id = made["id"].as_str().unwrap().to_string();
    let (st, _) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(st, 200);
    let (st, _) = env
        .call(
            "POST",
            "/scheduler/jobs",
            &token,
            Some(json!({"name": "x", "action": "http://127.0.0.1:9/"})),
        )
        .await;
    assert_eq!(st, 403, "read-only");
    let (st, list) = env.call("GET", "/scheduler/keys", &owner, None).await;
    assert_eq!(st, 200);
    let ids: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(ids.contains(&key_id.as_str()));
    assert!(!list.to_string().contains(token.split('.').nth(1).unwrap()));

    // Bad input names the field; another tenant cannot revoke it.
    let (st, bad) = env
        .call(
            "POST",
            "/scheduler/keys",
            &owner,
            Some(json!({"scopes": ["root"]})),
        )
        .await;
    assert_eq!(st, 400, "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("scopes"), "{bad}");
    let revoke = format!("/scheduler/keys/{key_id}");
    let (st, _) = env.call("DELETE", &revoke, &other_admin, None).await;
    assert_eq!(st, 404);
    let (st, _) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(st, 200, "still working");

    // Revoked by its tenant: it fails from the next request on.
    let (st, _) = env.call("DELETE", &revoke, &owner, None).await;
    assert_eq!(st, 204);
    let (st, _): (u16, Value) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(st, 401);
    let (st, _) = env.call("DELETE", &revoke, &owner, None).await;
    assert_eq!(st, 404);
    env.cleanup().await;
}
