//! The job calls most tests make, as one-liners over a [`TestEnv`].

use crate::{wait_until, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;

/// Creates a job with one schedule through the API; returns (job id, schedule id).
pub async fn create_job(
    env: &TestEnv,
    token: &str,
    name: &str,
    action: &str,
    schedule: Value,
) -> (u64, String) {
    let body = json!({
        "name": name,
        "description": "test job",
        "action": action,
        "active": true,
        "httpMethod": "POST",
        "schedules": [schedule],
    });
    let job = env.client().create_job(token, body).await;
    (job.id, job.schedules[0].clone())
}

/// The whole run log of a schedule (newest first): (total, runs).
pub async fn runs(env: &TestEnv, token: &str, job: u64, schedule: &str) -> (u64, Vec<Value>) {
    let page = env
        .client()
        .runs(token, job, schedule, "page_size=200")
        .await;
    (page.total, page.results)
}

/// Activates or deactivates every schedule of a job.
pub async fn set_active(env: &TestEnv, token: &str, job: u64, on: bool) {
    env.client().set_active(token, job, on).await;
}

/// Waits until the schedule has runs and every one is completed; returns its run log
/// (newest first).
pub async fn all_completed(env: &TestEnv, token: &str, job: u64, schedule: &str) -> Vec<Value> {
    wait_until("every run completed", Duration::from_secs(20), || async {
        let (_, list) = runs(env, token, job, schedule).await;
        (!list.is_empty() && list.iter().all(|r| r["runStatus"] == "COMPLETED")).then_some(list)
    })
    .await
}
