//! End to end on the real Redis and RabbitMQ: a job with a 1-second interval against a local
//! HTTP server, fired by the scheduler, executed by a worker, read back from the run-log API.

use chime_testkit::{create_job, retarget, runs, set_active, wait_until, Target, TestEnv};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interval_job_runs_are_logged_once_each() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;

    let (job, sid) = create_job(
        &env,
        &token,
        "every-second",
        &target.url("/hook"),
        json!({"repeatInterval": "1 second", "active": true, "data": {"order": 42}}),
    )
    .await;

    // Within a few seconds the target got calls and the run log shows them completed.
    wait_until("4 completed runs", Duration::from_secs(20), || async {
        let (_, list) = runs(&env, &token, job, &sid).await;
        let done = list
            .iter()
            .filter(|r| r["runStatus"] == "COMPLETED")
            .count();
        (done >= 4).then_some(())
    })
    .await;
    // Stop firing, then let in-flight runs finish.
    let (st, _) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job}/schedules/activationStatus"),
            &token,
            Some(json!({"activationStatus": false})),
        )
        .await;
    assert_eq!(st, 200);
    let (total, list) = wait_until("every run completed", Duration::from_secs(20), || async {
        let (total, list) = runs(&env, &token, job, &sid).await;
        list.iter()
            .all(|r| r["runStatus"] == "COMPLETED")
            .then_some((total, list))
    })
    .await;

    // Exactly once each: distinct run ids and distinct scheduled instants, one per call.
    assert_eq!(total as usize, list.len());
    let ids: HashSet<&str> = list.iter().map(|r| r["runId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), list.len(), "run ids repeat: {list:?}");
    let instants: HashSet<&str> = list
        .iter()
        .map(|r| r["scheduleTimestamp"].as_str().unwrap())
        .collect();
    assert_eq!(instants.len(), list.len());
    let hits = target.hits();
    let hit_runs: HashSet<&str> = hits
        .iter()
        .filter_map(|h| h.header("x-sap-job-run-id"))
        .collect();
    assert_eq!(hit_runs, ids, "every run called the target, and only those");

    // Fields as SAP documents them.
    for r in &list {
        assert_eq!(r["runState"], "SUCCESS", "{r}");
        assert_eq!(r["httpStatus"], 200);
        assert_eq!(r["runText"], "{\"message\":\"done\"}");
        for f in [
            "executionTimestamp",
            "scheduleTimestamp",
            "completionTimestamp",
        ] {
            let ts = r[f]
                .as_str()
                .unwrap_or_else(|| panic!("{f} missing in {r}"));
            chrono::DateTime::parse_from_rfc3339(ts).unwrap();
        }
        assert!(r["executionTimestamp"].as_str() <= r["completionTimestamp"].as_str());
    }
    // Newest first.
    let stamps: Vec<&str> = list
        .iter()
        .map(|r| r["scheduleTimestamp"].as_str().unwrap())
        .collect();
    let mut sorted = stamps.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(stamps, sorted);

    // The calls carried the action's body and SAP's headers.
    let h = &hits[0];
    assert_eq!(h.method, "POST");
    assert_eq!(h.path, "/hook");
    assert_eq!(
        serde_json::from_str::<Value>(&h.body).unwrap(),
        json!({"order": 42})
    );
    assert_eq!(h.header("x-sap-job-id"), Some(job.to_string().as_str()));
    assert_eq!(h.header("x-sap-job-schedule-id"), Some(sid.as_str()));
    assert!(h.header("x-sap-scheduler-host").is_some());

    let all: Vec<String> = list
        .iter()
        .map(|r| r["runId"].as_str().unwrap().to_string())
        .collect();
    paging_follows_sap(&env, &token, (job, &sid), total, &all).await;

    // One run by id, with the details.
    let (st, one) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{}", all[0]),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(one["runId"], all[0].as_str());
    assert_eq!(one["outcome"], "success");
    assert!(one["runNumber"].as_u64().unwrap() >= 1);
    assert!(one["log"].as_str().unwrap().contains("scheduled"));
    let (st, _) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs/NOPE"),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 404);

    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocked_and_failing_targets_are_recorded_with_the_reason() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    target.set_reply(500, "boom", false);
    let (tenant, token) = env.tenant(&["read", "write"]).await;

    // The API refuses a literal address the SSRF guard blocks...
    let blocked_job = json!({"name": "blocked", "action": "http://10.0.0.1/x", "active": true,
        "schedules": [{"time": "now", "active": true}]});
    let (st, body) = env
        .call("POST", "/scheduler/jobs", &token, Some(blocked_job))
        .await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("'action'"),
        "{body}"
    );
    // ...and a job that reaches one anyway (written before that check, or by a host name
    // that resolves to it) is refused by the worker's guard before any connection is made.
    let (j1, s1) = create_job(
        &env,
        &token,
        "blocked",
        &target.url("/never"),
        json!({"time": "now", "active": false}),
    )
    .await;
    retarget(&env, &tenant, j1, "http://10.0.0.1/x").await;
    set_active(&env, &token, j1, true).await;
    let (j2, s2) = create_job(
        &env,
        &token,
        "failing",
        &target.url("/f"),
        json!({"time": "now", "active": true}),
    )
    .await;

    let blocked = wait_until("blocked run recorded", Duration::from_secs(20), || async {
        let (_, l) = runs(&env, &token, j1, &s1).await;
        l.first().filter(|r| r["runStatus"] == "COMPLETED").cloned()
    })
    .await;
    assert_eq!(blocked["runState"], "REQUEST_ERROR");
    assert!(
        blocked["runText"].as_str().unwrap().contains("SSRF"),
        "{blocked}"
    );
    assert_eq!(blocked["httpStatus"], Value::Null);
    // The schedule's event log (Apify's dialect) says it was invoked and why the run failed.
    let (st, log) = env
        .call("GET", &format!("/v2/schedules/{s1}/log"), &token, None)
        .await;
    assert_eq!(st, 200, "{log}");
    let entries = log["data"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["message"] == "Schedule invoked" && e["level"] == "INFO"),
        "{log}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["level"] == "ERROR" && e["message"].as_str().unwrap().contains("blocked")),
        "{log}"
    );

    let failed = wait_until("failing run recorded", Duration::from_secs(20), || async {
        let (_, l) = runs(&env, &token, j2, &s2).await;
        l.first().filter(|r| r["runStatus"] == "COMPLETED").cloned()
    })
    .await;
    assert_eq!(failed["runState"], "ERROR");
    assert_eq!(failed["httpStatus"], 500);

    // One-time schedules deactivate after firing, and fire once.
    let (_, sched) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{j2}/schedules/{s2}"),
            &token,
            None,
        )
        .await;
    wait_until(
        "one-time schedule deactivated",
        Duration::from_secs(10),
        || async {
            let (_, sched) = env
                .call(
                    "GET",
                    &format!("/scheduler/jobs/{j2}/schedules/{s2}"),
                    &token,
                    None,
                )
                .await;
            (sched["active"] == false).then_some(())
        },
    )
    .await;
    assert_eq!(sched["type"], "one-time");
    assert_eq!(runs(&env, &token, j2, &s2).await.0, 1);
    env.cleanup().await;
}

/// The leader's passes overlap: a pass's confirms and advance settle while later passes fire.
/// With schedules falling due all the time, no entry is taken by two passes at once: every run
/// calls its target exactly once, and every call has its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_passes_fire_each_run_once() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    // Two jobs of 100 schedules firing every second, their instants 5 ms apart.
    let first = chrono::Utc::now().timestamp_millis() + 2000;
    let mut sids: Vec<(u64, String)> = Vec::new();
    for j in 0..2 {
        let schedules: Vec<Value> = (0..100)
            .map(|i| {
                let at = first + (j * 100 + i) * 5;
                json!({"repeatInterval": "1 second", "active": true,
                    "startTime": chime_core::time::format_instant(at)})
            })
            .collect();
        let (st, body) = env
            .call(
                "POST",
                "/scheduler/jobs",
                &token,
                Some(
                    json!({"name": format!("many-{j}"), "action": target.url("/many"),
                    "active": true, "httpMethod": "POST", "schedules": schedules}),
                ),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        let job = body["_id"].as_u64().unwrap();
        for s in body["schedules"].as_array().unwrap() {
            sids.push((job, s["scheduleId"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(sids.len(), 200);

    wait_until("600 calls", Duration::from_secs(30), || async {
        (target.hits().len() >= 600).then_some(())
    })
    .await;
    for job in [sids[0].0, sids[199].0] {
        set_active(&env, &token, job, false).await;
    }
    // Every run recorded and completed, and the target called for each.
    let ids = wait_until("every run completed", Duration::from_secs(30), || async {
        let mut ids = Vec::new();
        for (job, sid) in &sids {
            let (_, list) = runs(&env, &token, *job, sid).await;
            if list.iter().any(|r| r["runStatus"] != "COMPLETED") {
                return None;
            }
            ids.extend(
                list.iter()
                    .map(|r| r["runId"].as_str().unwrap().to_string()),
            );
        }
        (target.hits().len() >= ids.len()).then_some(ids)
    })
    .await;
    let distinct: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(distinct.len(), ids.len(), "a run id recorded twice");
    let hits = target.hits();
    let called: Vec<&str> = hits
        .iter()
        .filter_map(|h| h.header("x-sap-job-run-id"))
        .collect();
    let called_once: HashSet<&str> = called.iter().copied().collect();
    assert_eq!(
        called.len(),
        called_once.len(),
        "a run called its target twice"
    );
    assert_eq!(
        called_once, distinct,
        "every run called the target, and only those"
    );

    env.cleanup().await;
}

/// Paging of a schedule's run log of `total` runs (`all`, newest first): page_size, the
/// 1-based offset, the total on every page.
async fn paging_follows_sap(
    env: &TestEnv,
    token: &str,
    (job, sid): (u64, &str),
    total: u64,
    all: &[String],
) {
    let page = |q: String| async move {
        let (st, body) = env
            .call(
                "GET",
                &format!("/scheduler/jobs/{job}/schedules/{sid}/runs?{q}"),
                token,
                None,
            )
            .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["total"].as_u64(), Some(total));
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["runId"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(page("page_size=2".into()).await, all[..2].to_vec());
    assert_eq!(page("page_size=2&offset=1".into()).await, all[..2].to_vec());
    assert_eq!(
        page("page_size=2&offset=2".into()).await,
        all[1..3].to_vec()
    );
    assert_eq!(
        page("offset=1".into()).await,
        all[..all.len().min(10)].to_vec()
    );
    assert_eq!(
        page(format!("page_size=5&offset={}", total)).await,
        all[all.len() - 1..].to_vec()
    );
    assert!(page(format!("page_size=5&offset={}", total + 1))
        .await
        .is_empty());
}
