//! `chime admin …`: the operator's calls with the admin token (`/admin/tenants`).

use crate::args::{AdminCmd, KeysCmd, TenantsCmd};
use crate::client::{enc, CliResult, Client, Failure};
use crate::output::{self, state_cell, text};
use comfy_table::Cell;
use reqwest::Method;
use serde_json::{json, Map, Value};

pub async fn run(client: &Client, as_json: bool, cmd: AdminCmd) -> CliResult {
    match cmd {
        AdminCmd::Tenants(t) => tenants(client, as_json, t).await,
        AdminCmd::Keys(k) => keys(client, as_json, k).await,
    }
}

async fn tenants(client: &Client, as_json: bool, cmd: TenantsCmd) -> CliResult {
    match cmd {
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
            output::show(as_json, &v, |v| {
                let names: Vec<&str> = v
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                output::fields(v, &names);
            });
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
            let list = v["keys"].as_array().cloned().unwrap_or_default();
            if as_json {
                output::json(&Value::Array(list));
                return Ok(());
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
        KeysCmd::Create {
            tenant,
            scopes,
            expires_in,
        } => {
            let mut body = Map::new();
            if !scopes.is_empty() {
                body.insert("scopes".into(), json!(scopes));
            }
            if let Some(s) = expires_in {
                body.insert("expiresInSeconds".into(), json!(s));
            }
            let path = format!("/admin/tenants/{}/keys", enc(&tenant));
            let v = client
                .json(Method::POST, &path, Some(&Value::Object(body)))
                .await?;
            output::show(as_json, &v, |v| {
                output::fields(v, &["id", "tenantId", "scopes", "expiresAt", "token"]);
            });
        }
        KeysCmd::Revoke { tenant, key } => {
            let path = format!("/admin/tenants/{}/keys/{}", enc(&tenant), enc(&key));
            client.json(Method::DELETE, &path, None).await?;
            deleted(as_json, &format!("revoked key {key}"));
        }
    }
    Ok(())
}
