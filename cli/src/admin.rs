//! `chime admin …`: the operator's calls with the admin token (`/admin/tenants`, the
//! operations view, the dead letters); and the tenant's own settings and keys (`chime tenant`,
//! `chime keys`).

use crate::args::{AdminCmd, KeysCmd, OwnKeysCmd, TenantsCmd};
use crate::client::{enc, CliResult, Client, Failure};
use crate::output::{self, state_cell, text};
use comfy_table::Cell;
use reqwest::Method;
use serde_json::{json, Map, Value};

pub async fn run(client: &Client, as_json: bool, cmd: AdminCmd) -> CliResult {
    match cmd {
        AdminCmd::Tenants(t) => tenants(client, as_json, t).await,
        AdminCmd::Keys(k) => keys(client, as_json, k).await,
        AdminCmd::Operations => crate::fleet::operations(client, as_json).await,
        AdminCmd::DeadLetters(d) => crate::fleet::dead_letters(client, as_json, d).await,
    }
}

/// The settings' fields, in the order they are shown.
const SETTINGS: [&str; 10] = [
    "id",
    "name",
    "created",
    "runRetentionSeconds",
    "runsPerMinute",
    "maxJobs",
    "maxSchedules",
    "maxInFlight",
    "requestsPerSecond",
    "deleting",
];

/// `chime tenant`: the key's tenant and its effective settings.
pub async fn own_tenant(client: &Client, as_json: bool) -> CliResult {
    let v = client.get("/scheduler/tenant").await?;
    output::show(as_json, &v, |v| output::fields(v, &SETTINGS));
    Ok(())
}

/// `chime keys …`: the tenant's own keys.
pub async fn own_keys(client: &Client, as_json: bool, cmd: OwnKeysCmd) -> CliResult {
    match cmd {
        OwnKeysCmd::List => {
            let v = client.get("/scheduler/keys").await?;
            key_table(as_json, &v);
        }
        OwnKeysCmd::Create { scopes, expires_in } => {
            let body = key_body(scopes, expires_in);
            let v = client
                .json(Method::POST, "/scheduler/keys", Some(&body))
                .await?;
            key_created(as_json, &v);
        }
        OwnKeysCmd::Revoke { key } => {
            let path = format!("/scheduler/keys/{}", enc(&key));
            client.json(Method::DELETE, &path, None).await?;
            deleted(as_json, &format!("revoked key {key}"));
        }
    }
    Ok(())
}

async fn tenants(client: &Client, as_json: bool, cmd: TenantsCmd) -> CliResult {
    match cmd {
        TenantsCmd::List => {
            let v = client.get("/admin/tenants").await?;
            let list = v["tenants"].as_array().cloned().unwrap_or_default();
            if as_json {
                output::json(&Value::Array(list));
                return Ok(());
            }
            let mut t = output::table(&["TENANT", "NAME", "CREATED", "DELETING"]);
            for x in &list {
                t.add_row(vec![
                    Cell::new(text(&x["id"])),
                    Cell::new(text(&x["name"])),
                    Cell::new(text(&x["created"])),
                    Cell::new(text(&x["deleting"])),
                ]);
            }
            output::print_table(&t);
        }
        TenantsCmd::Show { tenant } => {
            let v = client
                .get(&format!("/admin/tenants/{}", enc(&tenant)))
                .await?;
            output::show(as_json, &v, |v| output::fields(v, &SETTINGS));
        }
        TenantsCmd::Create { name } => {
            let body = json!({ "name": name });
            let v = client
                .json(Method::POST, "/admin/tenants", Some(&body))
                .await?;
            output::show(as_json, &v, |v| {
                output::fields(v, &["id", "name", "signingSecret"]);
            });
        }
        TenantsCmd::Update {
            tenant,
            retention_days,
            runs_per_minute,
            max_jobs,
            max_schedules,
            max_in_flight,
            requests_per_second,
        } => {
            let mut m = Map::new();
            for (k, v) in [
                ("runRetentionDays", retention_days),
                ("runsPerMinute", runs_per_minute),
                ("maxJobs", max_jobs),
                ("maxSchedules", max_schedules),
                ("maxInFlight", max_in_flight),
                ("requestsPerSecond", requests_per_second),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), json!(v));
                }
            }
            if m.is_empty() {
                return Err(Failure::usage("nothing to change: give at least one flag"));
            }
            let path = format!("/admin/tenants/{}", enc(&tenant));
            let v = client
                .json(Method::PUT, &path, Some(&Value::Object(m)))
                .await?;
            output::show(as_json, &v, |v| output::fields(v, &SETTINGS));
        }
        TenantsCmd::Delete { tenant } => {
            let path = format!("/admin/tenants/{}", enc(&tenant));
            client.json(Method::DELETE, &path, None).await?;
            deleted(as_json, &format!("deleted tenant {tenant}"));
        }
    }
    Ok(())
}

fn deleted(as_json: bool, message: &str) {
    if as_json {
        output::json(&json!({"success": true}));
    } else {
        println!("{message}");
    }
}

async fn keys(client: &Client, as_json: bool, cmd: KeysCmd) -> CliResult {
    match cmd {
        KeysCmd::List { tenant } => {
            let path = format!("/admin/tenants/{}/keys", enc(&tenant));
            let v = client.get(&path).await?;
            key_table(as_json, &v);
        }
        KeysCmd::Create {
            tenant,
            scopes,
            expires_in,
        } => {
            let body = key_body(scopes, expires_in);
            let path = format!("/admin/tenants/{}/keys", enc(&tenant));
            let v = client.json(Method::POST, &path, Some(&body)).await?;
            key_created(as_json, &v);
        }
        KeysCmd::Revoke { tenant, key } => {
            let path = format!("/admin/tenants/{}/keys/{}", enc(&tenant), enc(&key));
            client.json(Method::DELETE, &path, None).await?;
            deleted(as_json, &format!("revoked key {key}"));
        }
    }
    Ok(())
}

/// A Create Key body of these flags.
fn key_body(scopes: Vec<String>, expires_in: Option<u64>) -> Value {
    let mut body = Map::new();
    if !scopes.is_empty() {
        body.insert("scopes".into(), json!(scopes));
    }
    if let Some(s) = expires_in {
        body.insert("expiresInSeconds".into(), json!(s));
    }
    Value::Object(body)
}

fn key_created(as_json: bool, v: &Value) {
    output::show(as_json, v, |v| {
        output::fields(v, &["id", "tenantId", "scopes", "expiresAt", "token"]);
    });
}

/// A key list (`{"keys": [...]}`) as a table, or its array as JSON.
fn key_table(as_json: bool, v: &Value) {
    let list = v["keys"].as_array().cloned().unwrap_or_default();
    if as_json {
        output::json(&Value::Array(list));
        return;
    }
    let mut t = output::table(&[
        "KEY",
        "SCOPES",
        "CREATED",
        "LAST USED",
        "EXPIRES",
        "EXPIRED",
    ]);
    for k in &list {
        t.add_row(vec![
            Cell::new(text(&k["id"])),
            Cell::new(text(&k["scopes"])),
            Cell::new(text(&k["created"])),
            Cell::new(text(&k["lastUsed"])),
            Cell::new(text(&k["expiresAt"])),
            state_cell(&k["expired"]),
        ]);
    }
    output::print_table(&t);
}
