//! Tenant fire quotas: a tenant over its runs-per-minute quota is deferred (late, never
//! dropped), and the admin API sets and validates the quota.

use chime_testkit::{all_completed, runs, set_active, wait_until, Target, TestEnv, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_over_its_quota_is_deferred_not_dropped() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let (st, body) = configure(&env, &tenant, json!({"runsPerMinute": 60})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["runsPerMinute"], 60);

    // Six schedules firing every second offer 6 runs/s against a quota of 1/s.
    let schedules: Vec<Value> = (0..6)
        .map(|_| json!({"repeatInterval": "1 second", "active": true}))
        .collect();
    let (st, job) = env
        .call(
            "POST",
            "/scheduler/jobs",
            &token,
            Some(
                json!({"name": "greedy", "action": target.url("/q"), "active": true,
                "httpMethod": "POST", "schedules": schedules}),
            ),
        )
        .await;
    assert_eq!(st, 201, "{job}");
    let job_id = job["_id"].as_u64().unwrap();
    let sids: Vec<String> = job["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scheduleId"].as_str().unwrap().to_string())
        .collect();

    // Every schedule gets its turn (deferred fires are late, not lost)...
    wait_until(
        "every schedule fired twice",
        Duration::from_secs(60),
        || async {
            let mut per: HashMap<String, usize> = HashMap::new();
            for h in target.hits() {
                if let Some(s) = h.header("x-sap-job-schedule-id") {
                    *per.entry(s.to_string()).or_default() += 1;
                }
            }
            (sids.iter().all(|s| per.get(s).copied().unwrap_or(0) >= 2)).then_some(())
        },
    )
    .await;
    set_active(&env, &token, job_id, false).await;

    // ...and the tenant never went faster than its quota: 1 run/s plus a second's burst
    // (and a run of slack for the pipeline's jitter) over any stretch of the calls.
    let mut at: Vec<_> = target.hits().iter().map(|h| h.at).collect();
    at.sort();
    assert!(at.len() >= 12, "{} calls", at.len());
    for (i, first) in at.iter().enumerate() {
        for (j, last) in at.iter().enumerate().skip(i + 1) {
            let span = last.duration_since(*first).as_secs_f64();
            let calls = j - i + 1;
            assert!(
                calls as f64 <= span + 3.0,
                "{calls} calls within {span:.2} s: faster than 1 run/s"
            );
        }
    }

    // Exactly one record per call.
    let mut recorded = 0;
    for sid in &sids {
        all_completed(&env, &token, job_id, sid).await;
        recorded += runs(&env, &token, job_id, sid).await.0;
    }
    let calls = target.hits().len() as u64;
    assert_eq!(recorded, calls, "one run record per call");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_is_validated_and_can_be_reset() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (tenant, _) = env.tenant(&["read"]).await;
    for bad in [
        json!({"runsPerMinute": -1}),
        json!({"runsPerMinute": "many"}),
    ] {
        let (st, body) = configure(&env, &tenant, bad).await;
        assert_eq!(st, 400, "{body}");
        assert!(body.to_string().contains("runsPerMinute"), "{body}");
    }
    let (st, body) = configure(&env, &tenant, json!({})).await;
    assert_eq!(st, 400, "{body}");
    let (st, body) = configure(&env, &tenant, json!({"runsPerMinute": 0})).await;
    assert_eq!((st, body["runsPerMinute"].as_u64()), (200, Some(0)));
    let (st, body) = configure(&env, &tenant, json!({"runsPerMinute": null})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        body["runsPerMinute"].as_u64(),
        Some(env.settings.tenant_runs_per_minute),
        "null restores the default"
    );
    let (st, _) = configure(&env, "no-such-tenant", json!({"runsPerMinute": 5})).await;
    assert_eq!(st, 404);
    env.cleanup().await;
}

/// Creates a job of `n` one-hour schedules: (status, body).
async fn job_of(env: &TestEnv, token: &str, name: &str, n: usize) -> (u16, Value) {
    let schedules: Vec<Value> = (0..n)
        .map(|_| json!({"repeatInterval": "1 hour", "active": true}))
        .collect();
    let body = json!({"name": name, "action": "http://127.0.0.1:9/x", "active": true,
        "httpMethod": "POST", "schedules": schedules});
    env.call("POST", "/scheduler/jobs", token, Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_beyond_the_tenants_limits_of_jobs_and_schedules_answer_403_and_write_nothing() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let (st, body) = configure(&env, &tenant, json!({"maxJobs": 2, "maxSchedules": 3})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        (body["maxJobs"].as_u64(), body["maxSchedules"].as_u64()),
        (Some(2), Some(3))
    );

    let (st, first) = job_of(&env, &token, "a", 2).await;
    assert_eq!(st, 201, "{first}");
    let (st, body) = job_of(&env, &token, "b", 2).await;
    assert_eq!(st, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("'maxSchedules'"),
        "{body}"
    );
    let (st, body) = job_of(&env, &token, "b", 1).await;
    assert_eq!(st, 201, "{body}");
    let (st, body) = job_of(&env, &token, "c", 0).await;
    assert_eq!(st, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("'maxJobs'"),
        "{body}"
    );
    assert!(
        body["code"].is_number() || body["code"].is_string(),
        "SAP's error shape: {body}"
    );
    let job_id = first["_id"].as_u64().unwrap();
    let (st, body) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job_id}/schedules"),
            &token,
            Some(json!({"repeatInterval": "1 hour", "active": true})),
        )
        .await;
    assert_eq!(st, 403, "{body}");

    // Nothing of the refused creates was written: the names are free, two jobs are listed.
    let (st, list) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["total"].as_u64(), Some(2), "{list}");
    let (st, _) = env
        .call("GET", "/scheduler/jobs?name=c", &token, None)
        .await;
    assert_eq!(st, 404);

    // Raised, the create goes through; `null` restores the installation's default.
    let (st, _) = configure(&env, &tenant, json!({"maxJobs": 0})).await;
    assert_eq!(st, 200);
    let (st, body) = job_of(&env, &token, "c", 0).await;
    assert_eq!(st, 201, "{body}");
    let (st, body) = configure(
        &env,
        &tenant,
        json!({"maxJobs": null, "maxSchedules": null}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["maxJobs"].as_u64(), Some(env.settings.tenant_max_jobs));
    for (bad, field) in [
        (json!({"maxJobs": -1}), "maxJobs"),
        (json!({"maxSchedules": "lots"}), "maxSchedules"),
        (json!({"maxInFlight": 100_000_001u64}), "maxInFlight"),
    ] {
        let (st, body) = configure(&env, &tenant, bad).await;
        assert_eq!(st, 400, "{body}");
        assert!(body.to_string().contains(field), "{body}");
    }
    env.cleanup().await;
}
