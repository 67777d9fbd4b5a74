//! "Run now": `POST /scheduler/jobs/{jobId}/schedules/{scheduleId}/runs` fires a schedule
//! once, now, whatever its timing or activation, through the leader's own path (a due entry of
//! its own, then materialize, publish, a worker, the record): one call, marked manual, counted
//! toward the tenant's quota, never lost and never doubled.

use chime_testkit::jobs::ms;
use chime_testkit::{create_job, runs, wait_until, Target, TestEnv};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// A cron schedule that fires on New Year's Day 2190 only.
fn far_cron(active: bool) -> Value {
    json!({"cron": "2190 1 1 * 0 0 0", "active": active})
}

/// `POST …/runs` with `body` (raw JSON, or none): (status, `Location`, answer).
async fn run_now(
    env: &TestEnv,
    token: &str,
    job: u64,
    sid: &str,
    body: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut req = env
        .http
        .post(env.url(&format!("/scheduler/jobs/{job}/schedules/{sid}/runs")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (status, location, resp.json().await.unwrap_or(Value::Null))
}

/// The run in detail, once its status is COMPLETED.
async fn completed(env: &TestEnv, token: &str, job: u64, sid: &str, run: &str) -> Value {
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{run}");
    wait_until("the run completed", Duration::from_secs(30), || async {
        let (st, v) = env.call("GET", &path, token, None).await;
        (st == 200 && v["runStatus"] == "COMPLETED").then_some(v)
    })
    .await
}

/// The run ids the target was called with, in call order.
fn called(target: &Target) -> Vec<String> {
    target
        .hits()
        .iter()
        .filter_map(|h| h.header("x-sap-job-run-id").map(String::from))
        .collect()
}

/// Waits until the target has been called `n` times (or more); returns the run ids called.
async fn calls(target: &Target, n: usize) -> Vec<String> {
    wait_until(&format!("{n} calls"), Duration::from_secs(30), || async {
        let ids = called(target);
        (ids.len() >= n).then_some(ids)
    })
    .await
}

/// Waits until the leader has fired (and removed) every manual fire of the namespace.
async fn no_manual_fires_left(env: &TestEnv) {
    let store = env.store().await;
    wait_until("no manual fire left", Duration::from_secs(30), || async {
        store.manual_fires().await.unwrap().is_empty().then_some(())
    })
    .await;
}

fn is_run_id(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 32
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_now_fires_a_far_schedule_once_and_its_log_says_manual() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(&env, &token, "far", &target.url("/now"), far_cron(true)).await;
    let sched_path = format!("/scheduler/jobs/{job}/schedules/{sid}");
    let (_, before) = env.call("GET", &sched_path, &token, None).await;

    // A body is ignored.
    let (st, location, run) = run_now(&env, &token, job, &sid, Some(r#"{"ignored": 1}"#)).await;
    assert_eq!(st, 201, "{run}");
    assert!(is_run_id(&run["runId"]), "{run}");
    let id = run["runId"].as_str().unwrap().to_string();
    assert_eq!(location, Some(format!("{sched_path}/runs/{id}")));
    assert_eq!(run["manual"], true, "{run}");
    assert_eq!(
        (run["jobId"].as_u64(), run["scheduleId"].as_str()),
        (Some(job), Some(sid.as_str()))
    );
    assert_eq!(run["runNumber"], 1, "{run}");
    assert!(run["scheduleTimestamp"].is_string(), "{run}");
    assert!(
        run["runStatus"].is_string() && run["runState"].is_string(),
        "{run}"
    );

    // The target is called once, with the run's id.
    assert_eq!(calls(&target, 1).await, vec![id.clone()]);
    let done = completed(&env, &token, job, &sid, &id).await;
    assert_eq!(
        (done["runState"].as_str(), done["manual"].as_bool()),
        (Some("SUCCESS"), Some(true)),
        "{done}"
    );
    assert_eq!(done["scheduleTimestamp"], run["scheduleTimestamp"]);
    assert!(ms(&done["executionTimestamp"]) >= ms(&done["scheduleTimestamp"]));
    let log = done["log"].as_str().unwrap();
    assert!(
        log.contains("run 1 requested now (manual) by key k"),
        "{log}"
    );

    // In the schedule's run log, marked manual; the entry is gone and the schedule's own next
    // fire is untouched; nothing else was called.
    let (total, list) = runs(&env, &token, job, &sid).await;
    assert_eq!(total, 1);
    assert_eq!(
        (list[0]["runId"].as_str(), list[0]["manual"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    no_manual_fires_left(&env).await;
    let (_, after) = env.call("GET", &sched_path, &token, None).await;
    assert_eq!(after["nextRunAt"], before["nextRunAt"]);
    assert!(
        after["nextRunAt"]
            .as_str()
            .unwrap()
            .starts_with("2190-01-01"),
        "{after}"
    );
    assert_eq!(called(&target), vec![id]);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_now_fires_an_inactive_schedule_and_a_schedule_of_an_inactive_job() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(&env, &token, "off", &target.url("/off"), far_cron(false)).await;
    let body = json!({"name": "idle", "action": target.url("/idle"), "active": false,
        "httpMethod": "GET", "schedules": [{"repeatInterval": "1 second", "active": true}]});
    let idle = env.client().create_job(&token, body).await;
    let (idle_job, idle_sid) = (idle.id, idle.schedules[0].clone());

    let (st, _, a) = run_now(&env, &token, job, &sid, None).await;
    assert_eq!(st, 201, "{a}");
    let (st, _, b) = run_now(&env, &token, idle_job, &idle_sid, None).await;
    assert_eq!(st, 201, "{b}");
    let (a, b) = (a["runId"].as_str().unwrap(), b["runId"].as_str().unwrap());

    let mut ids = calls(&target, 2).await;
    ids.sort();
    let mut want = vec![a.to_string(), b.to_string()];
    want.sort();
    assert_eq!(ids, want);
    for (j, s, r) in [(job, &sid, a), (idle_job, &idle_sid, b)] {
        let done = completed(&env, &token, j, s, r).await;
        assert_eq!(
            (done["runState"].as_str(), done["manual"].as_bool()),
            (Some("SUCCESS"), Some(true))
        );
    }
    // Still inactive: run now fires once, it activates nothing.
    no_manual_fires_left(&env).await;
    let (_, sched) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job}/schedules/{sid}"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (sched["active"].as_bool(), sched["nextRunAt"].is_null()),
        (Some(false), true)
    );
    assert_eq!(called(&target).len(), 2);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_needs_the_write_scope_and_sees_only_its_tenants_jobs() {
    let env = TestEnv::api_only().await;
    let (tenant, writer) = env.tenant(&["read", "write"]).await;
    let reader = env.client().create_key(&tenant, &["read"]).await;
    let (_, other) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &writer,
        "mine",
        "http://127.0.0.1:9/x",
        far_cron(true),
    )
    .await;

    let (st, _, err) = run_now(&env, &reader, job, &sid, None).await;
    assert_eq!(st, 403, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("'write'"),
        "{err}"
    );
    let (st, _, err) = run_now(&env, &other, job, &sid, None).await;
    assert_eq!(st, 404, "another tenant's job: {err}");
    assert_eq!(
        (err["code"].as_u64(), err["type"].as_str()),
        (Some(404), Some("Not Found")),
        "{err}"
    );
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains(&format!("job {job}")),
        "{err}"
    );
    let (st, _, err) = run_now(&env, &writer, job, "no-such-schedule", None).await;
    assert_eq!(st, 404, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("no-such-schedule"),
        "{err}"
    );
    let (st, _, _) = run_now(&env, &writer, job + 1000, &sid, None).await;
    assert_eq!(st, 404);
    let (st, _, _) = run_now(&env, &writer, 0, "x", None).await;
    assert_eq!(st, 404);
    // None of them requested anything.
    assert!(env.store().await.manual_fires().await.unwrap().is_empty());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_requested_while_no_leader_runs_is_kept_and_fires_once_a_leader_starts() {
    let mut env = TestEnv::new();
    env.settings.api_run_now_wait_ms = 300;
    env.start_api().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(&env, &token, "later", &target.url("/later"), far_cron(true)).await;

    // No leader: answered 202 after the wait, the request kept in the due index.
    let (st, location, run) = run_now(&env, &token, job, &sid, None).await;
    assert_eq!(st, 202, "{run}");
    let id = run["runId"].as_str().unwrap().to_string();
    assert!(location.unwrap().ends_with(&id));
    assert_eq!(
        (
            run["runStatus"].as_str(),
            run["runState"].as_str(),
            run["manual"].as_bool()
        ),
        (Some("SCHEDULED"), Some("SCHEDULED"), Some(true)),
        "{run}"
    );
    let kept = env.store().await.manual_fires().await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].0.contains(&id), "{kept:?}");
    assert_eq!(kept[0].1, ms(&run["scheduleTimestamp"]));

    env.start_scheduler().await;
    env.start_worker().await;
    assert_eq!(calls(&target, 1).await, vec![id.clone()]);
    let done = completed(&env, &token, job, &sid, &id).await;
    assert_eq!(
        done["scheduleTimestamp"], run["scheduleTimestamp"],
        "the request instant"
    );
    assert_eq!(done["manual"], true);
    no_manual_fires_left(&env).await;
    assert_eq!(called(&target), vec![id]);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_now_over_the_tenants_quota_is_deferred_not_lost_and_not_doubled() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    // 30 runs a minute: one every 2 s, with a second's burst: of three requests at once the
    // first fires, the second waits about 1 s for its slot, the third about 3 s.
    env.client()
        .configure_tenant(&tenant, json!({"runsPerMinute": 30}))
        .await;
    let (job, sid) = create_job(&env, &token, "quota", &target.url("/q"), far_cron(true)).await;

    let (a, b, c) = tokio::join!(
        run_now(&env, &token, job, &sid, None),
        run_now(&env, &token, job, &sid, None),
        run_now(&env, &token, job, &sid, None)
    );
    let mut requested = HashSet::new();
    for (st, _, run) in [a, b, c] {
        // 202 if a deferred run's slot is past the API's wait (a slow machine).
        assert!(st == 201 || st == 202, "{st} {run}");
        requested.insert(run["runId"].as_str().unwrap().to_string());
    }
    assert_eq!(requested.len(), 3, "three runs, three ids");

    // Every run is called, once, and recorded once, manual.
    let ids = calls(&target, 3).await;
    for id in &requested {
        let done = completed(&env, &token, job, &sid, id).await;
        assert_eq!(done["manual"], true);
    }
    no_manual_fires_left(&env).await;
    assert_eq!(called(&target).len(), 3, "no run was called twice");
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), requested);
    assert_eq!(runs(&env, &token, job, &sid).await.0, 3);

    // The quota held: the runs went out over its slots, not at once, each late from its
    // request instant (its scheduleTimestamp) by its wait.
    let at: Vec<_> = target.hits().iter().map(|h| h.at).collect();
    let spread = at
        .iter()
        .max()
        .unwrap()
        .duration_since(*at.iter().min().unwrap());
    assert!(
        spread >= Duration::from_millis(2_500),
        "the calls spread over {spread:?}"
    );
    let (_, list) = runs(&env, &token, job, &sid).await;
    let late = list
        .iter()
        .filter(|r| ms(&r["executionTimestamp"]) - ms(&r["scheduleTimestamp"]) >= 900)
        .count();
    assert_eq!(late, 2, "two runs waited for their slots: {list:?}");
    env.cleanup().await;
}
