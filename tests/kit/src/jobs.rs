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

/// An RFC 3339 timestamp of a run (e.g. its `scheduleTimestamp`) in ms.
pub fn ms(ts: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// Checks the run log of a schedule firing every second: every instant of its grid from the
/// first to the last recorded once. Returns the first and the last.
pub fn gapless_grid_once(list: &[Value]) -> (i64, i64) {
    let instants: Vec<i64> = list.iter().map(|r| ms(&r["scheduleTimestamp"])).collect();
    let distinct: std::collections::BTreeSet<i64> = instants.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        instants.len(),
        "an instant was recorded twice"
    );
    let first = *distinct.iter().next().unwrap();
    let last = *distinct.iter().last().unwrap();
    let expected: std::collections::BTreeSet<i64> = (0..=(last - first) / 1000)
        .map(|i| first + i * 1000)
        .collect();
    assert_eq!(distinct, expected, "the cron grid has a gap");
    (first, last)
}

/// Creates `n` jobs of one schedule each, firing every second, calling `target` at `/<name>k`:
/// their (job id, schedule id).
pub async fn every_second_jobs(
    env: &TestEnv,
    token: &str,
    target: &crate::Target,
    name: &str,
    n: usize,
) -> Vec<(u64, String)> {
    let mut jobs = Vec::new();
    for k in 0..n {
        let every_second = json!({"cron": "* * * * * * *", "active": true});
        let url = target.url(&format!("/{name}{k}"));
        jobs.push(create_job(env, token, &format!("{name}{k}"), &url, every_second).await);
    }
    jobs
}

/// Whether every schedule of `jobs` has a completed run scheduled at or after `at_least` (ms).
pub async fn completed_since(
    env: &TestEnv,
    token: &str,
    jobs: &[(u64, String)],
    at_least: i64,
) -> Option<()> {
    for (job, sid) in jobs {
        let (_, list) = runs(env, token, *job, sid).await;
        let done = list
            .iter()
            .any(|r| r["runStatus"] == "COMPLETED" && ms(&r["scheduleTimestamp"]) >= at_least);
        if !done {
            return None;
        }
    }
    Some(())
}

/// Deactivates `jobs`, waits until all their runs are completed, and checks each schedule's
/// grid (every second from its first run to its last recorded once) spans `from`..`to` (ms).
/// Returns the runs in all.
pub async fn every_grid_once(
    env: &TestEnv,
    token: &str,
    jobs: &[(u64, String)],
    (from, to): (i64, i64),
) -> usize {
    for (job, _) in jobs {
        set_active(env, token, *job, false).await;
    }
    let mut total = 0;
    for (job, sid) in jobs {
        let list = wait_until("every run completed", Duration::from_secs(30), || async {
            let (_, list) = runs(env, token, *job, sid).await;
            list.iter()
                .all(|r| r["runStatus"] == "COMPLETED")
                .then_some(list)
        })
        .await;
        let (first, last) = gapless_grid_once(&list);
        assert!(first < from && last > to, "the grid spans {from}..{to}");
        total += list.len();
    }
    total
}

/// Points a stored job at `url` in the store itself, past the API's refusal of literal
/// addresses the SSRF guard blocks: a job written before that check, as a host name that
/// resolves to a blocked address would be, for tests of the worker's guard at call time.
pub async fn retarget(env: &TestEnv, tenant: &str, job: u64, url: &str) {
    let store = env.store().await;
    let mut stored = store
        .job(tenant, job)
        .await
        .unwrap()
        .expect("the job exists");
    stored.action = url.to_string();
    let w = chime_store::JobWrite {
        job_id: job,
        job: Some(&stored),
        ..Default::default()
    };
    let now = store.now_ms().await.unwrap();
    let written = store.write_job(tenant, &w, Default::default(), now).await;
    assert!(matches!(written.unwrap(), chime_store::Written::Done(_)));
}

/// The schedule's one run in detail, once it is COMPLETED.
pub async fn completed_run(env: &TestEnv, token: &str, job: u64, sid: &str) -> Value {
    let list = format!("/scheduler/jobs/{job}/schedules/{sid}/runs");
    wait_until("the run completed", Duration::from_secs(60), || async {
        let (st, v) = env.call("GET", &list, token, None).await;
        let run = v["results"].as_array()?.first()?.clone();
        if st != 200 || run["runStatus"] != "COMPLETED" {
            return None;
        }
        let path = format!("{list}/{}", run["runId"].as_str()?);
        Some(env.call("GET", &path, token, None).await.1)
    })
    .await
}
