//! SAP's action log (`GET /scheduler/actionLogs?jobId=…[&scheduleId=…]`): every change of a
//! job's configuration, newest first, with the key that made it; one schedule's entries; its
//! errors. Configuration only: no run is involved, and nothing fires.

use crate::dialects::{get, get_ok, instant, key, key_id, keys_of, sap_error, Auth};
use chime_testkit::{create_job, TestEnv};
use serde_json::{json, Value};

/// A job that never fires (inactive) and the changes made to it: (job, its first schedule,
/// deleted last, and its second schedule).
async fn audited_job(env: &TestEnv, token: &str) -> (u64, String, String) {
    let body = json!({"name": "audited", "action": "http://127.0.0.1:9/never", "active": false,
                      "schedules": [{"cron": "* * * * * */10 0", "active": true}]});
    let job = env.client().create_job(token, body).await;
    let (audit, a1s) = (job.id, job.schedules[0].clone());
    let client = env.client();
    let b = client
        .expect(
            201,
            "POST",
            &format!("/scheduler/jobs/{audit}/schedules"),
            token,
            Some(json!({"repeatInterval": "1 hour", "active": true})),
        )
        .await;
    let a2s = b["scheduleId"].as_str().unwrap().to_string();
    let activation = format!("/scheduler/jobs/{audit}/schedules/activationStatus");
    for (method, path, body) in [
        (
            "PUT",
            format!("/scheduler/jobs/{audit}"),
            Some(json!({"description": "changed"})),
        ),
        (
            "POST",
            activation.clone(),
            Some(json!({"activationStatus": true})),
        ),
        ("POST", activation, Some(json!({"activationStatus": false}))),
        (
            "PUT",
            format!("/scheduler/jobs/{audit}/schedules/{a2s}"),
            Some(json!({"description": "hourly"})),
        ),
        (
            "DELETE",
            format!("/scheduler/jobs/{audit}/schedules/{a1s}"),
            None,
        ),
    ] {
        client.expect(200, method, &path, token, body).await;
    }
    (audit, a1s, a2s)
}

fn actions(logs: &Value) -> Vec<&str> {
    logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_action_log_lists_every_change_newest_first() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (audit, a1s, a2s) = audited_job(&env, &token).await;
    let q = format!("jobId={audit}");
    let logs = get_ok(&env, "/scheduler/actionLogs", &q, Auth::Bearer(&token)).await;
    let results = logs["results"].as_array().unwrap();
    assert_eq!(logs["total"], results.len() as u64, "{logs}");
    let got: Vec<(&str, Value)> = results
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["scheduleId"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("DELETE_SCHEDULE", json!(a1s)),
            ("UPDATE_SCHEDULE", json!(a2s)),
            ("DEACTIVATE_ALL_SCHEDULES", Value::Null),
            ("ACTIVATE_ALL_SCHEDULES", Value::Null),
            ("UPDATE_JOB", Value::Null),
            ("CREATE_SCHEDULE", json!(a2s)),
            ("CREATE_JOB", Value::Null),
        ],
        "{logs}"
    );
    env.cleanup().await;
}

/// Each entry: the job, a message, the key id that made the change and its instant, newest
/// first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_action_log_entries_name_the_key_that_made_the_change() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (audit, _, _) = audited_job(&env, &token).await;
    let q = format!("jobId={audit}");
    let logs = get_ok(&env, "/scheduler/actionLogs", &q, Auth::Bearer(&token)).await;
    let mut last = i64::MAX;
    for e in logs["results"].as_array().unwrap() {
        assert_eq!(
            keys_of(e),
            [
                "action",
                "jobId",
                "message",
                "scheduleId",
                "timestamp",
                "user"
            ],
            "{e}"
        );
        assert_eq!(e["jobId"], audit, "{e}");
        assert_eq!(e["user"], key_id(&token), "{e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        let ts = instant(&e["timestamp"], "timestamp");
        assert!(ts <= last, "newest first: {logs}");
        last = ts;
    }
    env.cleanup().await;
}

/// `scheduleId` keeps one schedule's entries; a read-only key may read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_action_log_of_one_schedule() {
    let env = TestEnv::api_only().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let reader = key(&env, &tenant, &["read"]).await;
    let (audit, _, a2s) = audited_job(&env, &token).await;
    let q = format!("jobId={audit}&scheduleId={a2s}");
    let logs = get_ok(&env, "/scheduler/actionLogs", &q, Auth::Bearer(&reader)).await;
    assert_eq!(
        actions(&logs),
        ["UPDATE_SCHEDULE", "CREATE_SCHEDULE"],
        "{logs}"
    );
    assert_eq!(logs["total"], 2);
    env.cleanup().await;
}

/// A job created with one schedule, then given a second: its trail starts with its creation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_action_log_of_a_new_job_starts_with_its_creation() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let inactive = json!({"time": "now", "active": false});
    let (job, _) = create_job(
        &env,
        &token,
        "async-orders",
        "http://127.0.0.1:9/",
        inactive,
    )
    .await;
    let second = json!({"time": "now", "active": false, "description": "second"});
    let path = format!("/scheduler/jobs/{job}/schedules");
    env.client()
        .expect(201, "POST", &path, &token, Some(second))
        .await;
    let q = format!("jobId={job}");
    let logs = get_ok(&env, "/scheduler/actionLogs", &q, Auth::Bearer(&token)).await;
    assert_eq!(actions(&logs), ["CREATE_SCHEDULE", "CREATE_JOB"], "{logs}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_action_log_without_a_job_id_is_a_400() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (st, b) = get(&env, "/scheduler/actionLogs", "", Auth::Bearer(&token)).await;
    assert_eq!(st, 400, "{b}");
    sap_error(&b, 400);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_action_log_of_an_unknown_job_or_a_deleted_schedule_is_a_404() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (audit, a1s, _) = audited_job(&env, &token).await;
    for q in [
        "jobId=999999999".to_string(),
        format!("jobId={audit}&scheduleId={a1s}"),
    ] {
        let (st, b) = get(&env, "/scheduler/actionLogs", &q, Auth::Bearer(&token)).await;
        assert_eq!(st, 404, "?{q}: {b}");
        sap_error(&b, 404);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_action_log_of_another_tenants_job_is_a_404() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (_, other) = env.tenant(&["read", "write", "run-update"]).await;
    let (audit, _, _) = audited_job(&env, &token).await;
    let q = format!("jobId={audit}");
    let (st, b) = get(&env, "/scheduler/actionLogs", &q, Auth::Bearer(&other)).await;
    assert_eq!(st, 404, "{b}");
    sap_error(&b, 404);
    env.cleanup().await;
}
