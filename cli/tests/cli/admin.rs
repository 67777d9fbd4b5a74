//! `chime admin`: tenants and keys with the admin token; a key it creates works.

use crate::common::Chime;
use chime_testkit::{TestEnv, ADMIN_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_manages_tenants_and_keys() {
    let env = TestEnv::api_only().await;
    let admin = Chime::new(&env, ADMIN_TOKEN);
    let tenant = admin.json(&["admin", "tenants", "create", "acme"]).await;
    assert_eq!(tenant["name"], "acme");
    let id = tenant["id"].as_str().unwrap().to_string();
    let table = admin.ok(&["admin", "tenants", "create", "other"]).await;
    assert!(
        table.contains("FIELD") && table.contains("other"),
        "{table}"
    );

    let key = admin
        .json(&["admin", "keys", "create", &id, "--scopes", "read,write"])
        .await;
    assert_eq!(key["scopes"], serde_json::json!(["read", "write"]));
    let token = key["token"].as_str().unwrap();
    let tenant_chime = Chime::new(&env, token);
    assert_eq!(
        tenant_chime.json(&["jobs", "list"]).await,
        serde_json::json!([])
    );

    let keys = admin.json(&["admin", "keys", "list", &id]).await;
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
    assert!(admin
        .ok(&["admin", "keys", "list", &id])
        .await
        .contains("read,write"));

    let updated = admin
        .json(&[
            "admin",
            "tenants",
            "update",
            &id,
            "--max-jobs",
            "5",
            "--retention-days",
            "7",
        ])
        .await;
    assert_eq!(updated["maxJobs"], 5);
    assert_eq!(updated["runRetentionSeconds"], 604_800);
    admin.fails(2, &["admin", "tenants", "update", &id]).await;

    let key_id = key["id"].as_str().unwrap();
    admin.ok(&["admin", "keys", "revoke", &id, key_id]).await;
    tenant_chime.fails(3, &["jobs", "list"]).await;
    admin
        .fails(4, &["admin", "keys", "revoke", &id, key_id])
        .await;
    admin.ok(&["admin", "tenants", "delete", &id]).await;
    admin.fails(4, &["admin", "keys", "list", &id]).await;
    // A tenant's key is no admin token.
    let (_, other) = env.tenant(&["admin"]).await;
    Chime::new(&env, &other)
        .fails(3, &["admin", "tenants", "create", "x"])
        .await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_lists_tenants_and_reads_the_fleet_and_a_tenant_its_own_keys() {
    let env = TestEnv::cluster().await;
    let admin = Chime::new(&env, ADMIN_TOKEN);
    let id = admin.json(&["admin", "tenants", "create", "acme"]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let list = admin.json(&["admin", "tenants", "list"]).await;
    assert_eq!(list[0]["id"], id.as_str(), "{list}");
    assert!(admin
        .ok(&["admin", "tenants", "list"])
        .await
        .contains("acme"));
    let shown = admin.json(&["admin", "tenants", "show", &id]).await;
    assert_eq!(shown["name"], "acme");

    // The fleet: one scheduler leads the one shard; one worker; no dead letters.
    let ops = admin.json(&["admin", "operations"]).await;
    assert_eq!(ops["workers"].as_array().unwrap().len(), 1, "{ops}");
    let table = admin.ok(&["admin", "operations"]).await;
    assert!(
        table.contains("LEADER") && table.contains("acme"),
        "{table}"
    );
    let dead = admin.json(&["admin", "dead-letters", "list"]).await;
    assert_eq!(dead["total"], 0, "{dead}");
    admin
        .fails(
            4,
            &[
                "admin",
                "dead-letters",
                "replay",
                "000000000000000000000000",
            ],
        )
        .await;

    // A tenant's admin key manages the tenant's keys; a plain key cannot.
    let owner_token = admin
        .json(&["admin", "keys", "create", &id, "--scopes", "admin"])
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let owner = Chime::new(&env, &owner_token);
    assert_eq!(owner.json(&["tenant"]).await["name"], "acme");
    let made = owner.json(&["keys", "create", "--scopes", "read"]).await;
    let made_id = made["id"].as_str().unwrap();
    let reader = Chime::new(&env, made["token"].as_str().unwrap());
    assert_eq!(reader.json(&["tenant"]).await["id"], id.as_str());
    reader.fails(3, &["keys", "list"]).await;
    assert_eq!(
        owner
            .json(&["keys", "list"])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    owner.ok(&["keys", "revoke", made_id]).await;
    reader.fails(3, &["tenant"]).await;
    env.cleanup().await;
}
