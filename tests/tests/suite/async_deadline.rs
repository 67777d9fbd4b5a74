//! SAP's global parameters (`GET`/`PUT /scheduler/globalParameters`) and the asynchronous
//! deadline: a run acknowledged with 202 whose job does not report within its tenant's
//! `ASYNC_EXEC_TIMEOUT` becomes `COMPLETED/UNKNOWN` (outcome `timeout`) by the leader's sweep,
//! through the record path every finished run takes; a report after it answers 409 and
//! changes nothing; a report before it wins. The end-to-end tests run a real target that
//! answers 202 and the sweep every second (the test kit's `CHIME_ASYNC_SWEEP_SECS`); the race
//! is also stepped on the store at explicit instants.

use chime_store::{RunUpdate, Store};
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::{create_job, wait_until, LiveTail, Target, TestEnv};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PARAMS: &str = "/scheduler/globalParameters";

/// A cron schedule that fires on New Year's Day 2190 only.
fn far_cron() -> Value {
    json!({"cron": "2190 1 1 * 0 0 0", "active": true})
}

/// The tenant's `ASYNC_EXEC_TIMEOUT` as `GET` answers it (a string), checking the shape.
async fn timeout_of(env: &TestEnv, token: &str) -> String {
    let (st, body) = env.call("GET", PARAMS, token, None).await;
    assert_eq!(st, 200, "{body}");
    let config = body["config"].as_array().expect("a config list");
    assert_eq!(config.len(), 1, "{body}");
    assert_eq!(config[0]["CONFIG_NAME"], "ASYNC_EXEC_TIMEOUT", "{body}");
    config[0]["CONFIG_VALUE"]
        .as_str()
        .unwrap_or_else(|| panic!("a string value: {body}"))
        .to_string()
}

/// `PUT` of the parameters; the status and body.
async fn put(env: &TestEnv, token: &str, body: Value) -> (u16, Value) {
    env.call("PUT", PARAMS, token, Some(body)).await
}

/// Sets the tenant's timeout (seconds), which must be accepted.
async fn set_timeout(env: &TestEnv, token: &str, secs: &str) {
    let (st, body) = put(env, token, json!({"ASYNC_EXEC_TIMEOUT": secs})).await;
    assert_eq!((st, &body), (200, &json!({"success": true})));
}

fn run_path(job: u64, sid: &str, run: &str) -> String {
    format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{run}")
}

/// The run in detail.
async fn detail(env: &TestEnv, token: &str, job: u64, sid: &str, run: &str) -> Value {
    let (st, d) = env.call("GET", &run_path(job, sid, run), token, None).await;
    assert_eq!(st, 200, "{d}");
    d
}

/// Waits until the run is in `state` (and returns it in detail).
async fn wait_state(
    env: &TestEnv,
    token: &str,
    job: u64,
    sid: &str,
    run: &str,
    state: &str,
) -> Value {
    let path = run_path(job, sid, run);
    wait_until(
        &format!("run {run} is {state}"),
        Duration::from_secs(30),
        || async {
            let (st, d) = env.call("GET", &path, token, None).await;
            (st == 200 && d["runState"] == state).then_some(d)
        },
    )
    .await
}

/// "Run now" of the schedule: the run's id.
async fn run_now(env: &TestEnv, token: &str, job: u64, sid: &str) -> String {
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}/runs");
    let (st, run) = env.call("POST", &path, token, None).await;
    assert!(st == 201 || st == 202, "{st} {run}");
    run["runId"].as_str().expect("a run id").to_string()
}

/// An instant of the API's answers (RFC 3339), in ms.
fn ms(v: &Value) -> i64 {
    chime_testkit::jobs::ms(v)
}

/// A world running the API, a scheduler and a worker; a target that answers 202; a tenant
/// with a key of every scope but admin; its job on the target, whose one schedule never fires
/// by itself.
async fn async_world(name: &str) -> (TestEnv, Target, String, String, u64, String) {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    target.set_reply(202, "accepted", false);
    let (tenant, token) = env.tenant(&["read", "write", "run-update"]).await;
    let (job, sid) = create_job(&env, &token, name, &target.url("/async"), far_cron()).await;
    (env, target, tenant, token, job, sid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreported_run_becomes_unknown_at_the_deadline_and_a_late_report_is_a_409() {
    let (env, target, tenant, token, job, sid) = async_world("never-reports").await;
    set_timeout(&env, &token, "1").await;
    let mut tail = LiveTail::open(&env, &token, job)
        .await
        .unwrap_or_else(|r| panic!("the tail opens: {r:?}"));
    let run = run_now(&env, &token, job, &sid).await;

    // No report: the sweep finishes the run once the deadline has passed, not before.
    let d = wait_state(&env, &token, job, &sid, &run, "UNKNOWN").await;
    let text = "no report within the asynchronous deadline of 1 s";
    assert_eq!(d["runStatus"], "COMPLETED", "{d}");
    assert_eq!(d["outcome"], "timeout", "{d}");
    assert_eq!(d["runText"], text, "{d}");
    assert_eq!(d["httpStatus"], 202, "{d}");
    assert_eq!(d["responseBody"], "accepted", "{d}");
    // The deadline's finish names its reason and keeps the 202's timing split.
    assert_eq!(d["failureReason"], "timeout", "{d}");
    assert!(d["timing"]["firstByteMs"].is_u64(), "{d}");
    let log = d["log"].as_str().unwrap();
    assert!(log.contains("attempt 1: ACK_RECVD HTTP 202"), "{log}");
    assert!(log.contains(text), "{log}");
    let acked = ms(&d["executionTimestamp"]) + d["durationMs"].as_i64().unwrap();
    let done = ms(&d["completionTimestamp"]);
    assert!(
        done >= acked + 1000,
        "completed {done} before the deadline {acked} + 1 s: {d}"
    );
    assert_eq!(target.hits().len(), 1, "called once");

    // Every finished run's path: the live tail, the run log, the outcome index (A1Base).
    let event = tail
        .next(Instant::now() + Duration::from_secs(10))
        .await
        .expect("the tail stays open");
    assert_eq!(
        (
            event.name.as_str(),
            &event.data["runId"],
            &event.data["runState"]
        ),
        ("run", &json!(run), &json!("UNKNOWN")),
        "{:?}",
        event.data
    );
    let (_, list) = chime_testkit::runs(&env, &token, job, &sid).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        (&list[0]["runId"], &list[0]["runState"]),
        (&json!(run), &json!("UNKNOWN"))
    );
    let (id, secret) = token.split_once('.').unwrap();
    let a1 = env
        .http
        .get(env.url(&format!("/v1/cron-jobs/{tenant}/logs/{job}?status=timeout")))
        .header("X-API-Key", id)
        .header("X-API-Secret", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(a1.status().as_u16(), 200);
    let a1: Value = a1.json().await.unwrap();
    let ids: Vec<&Value> = a1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, vec![&json!(run)], "{a1}");

    // A report after the deadline: SAP's error shape, 409; the run keeps its result, and its
    // log notes the report.
    let late = json!({"success": true, "message": "finished at last"});
    let (st, b) = env
        .call("PUT", &run_path(job, &sid, &run), &token, Some(late))
        .await;
    assert_eq!(st, 409, "{b}");
    assert_eq!(
        (&b["code"], &b["type"]),
        (&json!(409), &json!("Conflict")),
        "{b}"
    );
    assert!(
        b["message"].as_str().unwrap().contains("already completed"),
        "{b}"
    );
    let after = detail(&env, &token, job, &sid, &run).await;
    for field in [
        "runStatus",
        "runState",
        "outcome",
        "runText",
        "completionTimestamp",
    ] {
        assert_eq!(after[field], d[field], "{field}: {after}");
    }
    let log = after["log"].as_str().unwrap();
    assert!(
        log.contains(
            "job reported SUCCESS: finished at last; ignored: the run already has its result"
        ),
        "{log}"
    );
    env.cleanup().await;
}

/// Run A is reported while the timeout is long; then a shorter timeout applies to run B,
/// already waiting, and the sweep completes B: A, reported first, is left as its report made
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_report_before_the_deadline_wins_and_a_shorter_timeout_applies_to_waiting_runs() {
    let (env, _target, _, token, job, sid) = async_world("reports-in-time").await;
    set_timeout(&env, &token, "600").await;
    let a = run_now(&env, &token, job, &sid).await;
    let b = run_now(&env, &token, job, &sid).await;
    for run in [&a, &b] {
        let d = wait_state(&env, &token, job, &sid, run, "ACK_RECVD").await;
        assert_eq!(d["runStatus"], "RUNNING", "{d}");
    }
    let report = json!({"success": true, "message": "done in time"});
    let (st, body) = env
        .call("PUT", &run_path(job, &sid, &a), &token, Some(report))
        .await;
    assert_eq!((st, &body), (200, &json!({"success": true})));

    set_timeout(&env, &token, "1").await;
    let db = wait_state(&env, &token, job, &sid, &b, "UNKNOWN").await;
    assert_eq!(
        db["runText"], "no report within the asynchronous deadline of 1 s",
        "the value at the time of the check: {db}"
    );
    let da = detail(&env, &token, job, &sid, &a).await;
    assert_eq!(
        (
            &da["runStatus"],
            &da["runState"],
            &da["outcome"],
            &da["runText"]
        ),
        (
            &json!("COMPLETED"),
            &json!("SUCCESS"),
            &json!("success"),
            &json!("done in time")
        ),
        "{da}"
    );
    assert!(!da["log"].as_str().unwrap().contains("deadline"), "{da}");
    env.cleanup().await;
}

/// The store's deadline for `tenant` at `now`: the runs it finished.
async fn expire(store: &Store, tenant: &str, now: i64) -> u32 {
    store.expire_async_runs(tenant, now, 10).await.unwrap()
}

/// The job's report on its run `run` at `now`, through the store.
async fn report(
    store: &Store,
    j: &SeededJob,
    run: &str,
    said: (bool, &str),
    now: i64,
) -> RunUpdate {
    let (ok, message) = said;
    let run = (j.job, j.schedule.as_str(), run);
    store
        .run_update(&j.tenant, run, ok, message, now)
        .await
        .unwrap()
}

/// The run's status, state, outcome and text, and its log.
async fn outcome(
    store: &Store,
    tenant: &str,
    run: &str,
) -> ((String, String, String, String), String) {
    let r = store
        .run(tenant, run)
        .await
        .unwrap()
        .expect("the run exists");
    let o = r.outcome.map_or("", |o| o.as_str());
    let life = (
        r.status.to_string(),
        r.state.to_string(),
        o.to_string(),
        r.run_text,
    );
    (life, r.log)
}

/// The race on the store, stepped at explicit instants (no scheduler runs): the deadline
/// finishes a run exactly at its acknowledgement plus the tenant's timeout, once; a report
/// after it is refused and noted; a report before it wins and the deadline leaves the run
/// alone; another tenant's runs follow that tenant's timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_deadline_and_a_report_give_one_outcome_whichever_comes_first() {
    let env = TestEnv::api_only().await;
    let store = env.store().await;
    let j = SeededJob::create(&env, "stepped").await;
    let other = SeededJob::create(&env, "other-tenant").await;
    let at = seed::minutes_ago(30);
    let late = j.finished(at, &seed::accepted(at)).await;
    let early = j.finished(at + 1_000, &seed::accepted(at + 1_000)).await;
    let others = other.finished(at, &seed::accepted(at)).await;
    store.set_tenant_async_timeout(&j.tenant, 60).await.unwrap();
    let rec = store.run(&j.tenant, &late).await.unwrap().unwrap();
    let acked = rec.executed_at.unwrap() + rec.duration_ms.unwrap() as i64;
    let life = |status: &str, state: &str, outcome: &str, text: &str| {
        (status.into(), state.into(), outcome.into(), text.into())
    };

    // Run `early` is reported before its deadline.
    let update = report(&store, &j, &early, (true, "in time"), acked + 2_000).await;
    assert_eq!(update, RunUpdate::Updated);

    // A millisecond short of the deadline nothing moves; at it, `late` alone completes.
    assert_eq!(expire(&store, &j.tenant, acked + 59_999).await, 0);
    let (waiting, _) = outcome(&store, &j.tenant, &late).await;
    assert_eq!(waiting, life("RUNNING", "ACK_RECVD", "", "HTTP 202"));
    assert_eq!(expire(&store, &j.tenant, acked + 60_000).await, 1);
    assert_eq!(expire(&store, &j.tenant, acked + 120_000).await, 0);
    let text = "no report within the asynchronous deadline of 60 s";
    let (done, _) = outcome(&store, &j.tenant, &late).await;
    assert_eq!(done, life("COMPLETED", "UNKNOWN", "timeout", text));
    let rec = store.run(&j.tenant, &late).await.unwrap().unwrap();
    assert_eq!(rec.completed_at, Some(acked + 60_000));
    let (reported, log) = outcome(&store, &j.tenant, &early).await;
    assert_eq!(reported, life("COMPLETED", "SUCCESS", "success", "in time"));
    assert!(!log.contains("deadline"), "{log}");

    // The report that comes second is refused and noted.
    let update = report(&store, &j, &late, (false, "too late"), acked + 60_001).await;
    assert_eq!(update, RunUpdate::AlreadyCompleted);
    let (after, log) = outcome(&store, &j.tenant, &late).await;
    assert_eq!(after, done);
    let noted = "job reported ERROR: too late; ignored: the run already has its result";
    assert!(log.contains(noted), "{log}");

    // The other tenant keeps the default (seven days): its run waits on.
    assert_eq!(expire(&store, &other.tenant, acked + 60_000).await, 0);
    let (waiting, _) = outcome(&store, &other.tenant, &others).await;
    assert_eq!(waiting.1, "ACK_RECVD");
    assert_eq!(expire(&store, &other.tenant, acked + 604_800_000).await, 1);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn global_parameters_take_a_string_or_an_integer_and_refuse_the_rest_naming_the_field() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    assert_eq!(timeout_of(&env, &token).await, "604800", "SAP's default");
    set_timeout(&env, &token, "600").await;
    assert_eq!(timeout_of(&env, &token).await, "600");
    let (st, body) = put(&env, &token, json!({"ASYNC_EXEC_TIMEOUT": 900})).await;
    assert_eq!((st, &body), (200, &json!({"success": true})));
    assert_eq!(timeout_of(&env, &token).await, "900");

    for bad in [
        json!({"ASYNC_EXEC_TIMEOUT": "0"}),
        json!({"ASYNC_EXEC_TIMEOUT": 0}),
        json!({"ASYNC_EXEC_TIMEOUT": -1}),
        json!({"ASYNC_EXEC_TIMEOUT": "-1"}),
        json!({"ASYNC_EXEC_TIMEOUT": "604801"}),
        json!({"ASYNC_EXEC_TIMEOUT": 604_801}),
        json!({"ASYNC_EXEC_TIMEOUT": "ten"}),
        json!({"ASYNC_EXEC_TIMEOUT": 1.5}),
        json!({"ASYNC_EXEC_TIMEOUT": null}),
        json!({}),
        json!(["600"]),
    ] {
        let (st, b) = put(&env, &token, bad.clone()).await;
        assert_eq!(st, 400, "{bad}: {b}");
        assert_eq!(b["code"], 400, "{b}");
        let message = b["message"].as_str().unwrap();
        assert!(message.contains("'ASYNC_EXEC_TIMEOUT'"), "{bad}: {message}");
    }
    let (st, b) = put(
        &env,
        &token,
        json!({"ASYNC_EXEC_TIMEOUT": "60", "RETRIES": "3"}),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("'RETRIES'"), "{b}");
    assert_eq!(
        timeout_of(&env, &token).await,
        "900",
        "nothing refused changed it"
    );

    // The bounds themselves are accepted.
    set_timeout(&env, &token, "604800").await;
    set_timeout(&env, &token, "1").await;
    assert_eq!(timeout_of(&env, &token).await, "1");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn global_parameters_need_their_scopes_and_their_changes_are_audited() {
    let env = TestEnv::api_only().await;
    let client = env.client();
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let reader = client.create_key(&tenant, &["read"]).await;
    let reporter = client.create_key(&tenant, &["run-update"]).await;
    let (st, b) = put(&env, &reader, json!({"ASYNC_EXEC_TIMEOUT": "60"})).await;
    assert_eq!(st, 403, "{b}");
    let (st, b) = env.call("GET", PARAMS, &reporter, None).await;
    assert_eq!(st, 403, "{b}");
    let (st, b) = env.call("GET", PARAMS, "nokey.nosecret", None).await;
    assert_eq!(st, 401, "{b}");
    assert_eq!(timeout_of(&env, &reader).await, "604800");

    set_timeout(&env, &token, "600").await;
    set_timeout(&env, &token, "60").await;
    let (st, logs) = env
        .call("GET", "/scheduler/actionLogs?jobId=0", &token, None)
        .await;
    assert_eq!(st, 200, "{logs}");
    let entries: Vec<(&str, &str, &str)> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["message"].as_str().unwrap(),
                e["user"].as_str().unwrap(),
            )
        })
        .collect();
    let key = token.split_once('.').unwrap().0;
    assert_eq!(
        entries,
        vec![
            (
                "UPDATE_GLOBAL_PARAMETERS",
                "ASYNC_EXEC_TIMEOUT set to 60 s (was 600 s)",
                key
            ),
            (
                "UPDATE_GLOBAL_PARAMETERS",
                "ASYNC_EXEC_TIMEOUT set to 600 s (was 604800 s)",
                key
            ),
        ],
        "{logs}"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_tenants_global_parameters_do_not_change_anothers() {
    let env = TestEnv::api_only().await;
    let (_, first) = env.tenant(&["read", "write"]).await;
    let (_, second) = env.tenant(&["read", "write"]).await;
    set_timeout(&env, &first, "60").await;
    assert_eq!(timeout_of(&env, &second).await, "604800");
    set_timeout(&env, &second, "120").await;
    assert_eq!(timeout_of(&env, &first).await, "60");
    assert_eq!(timeout_of(&env, &second).await, "120");
    // Neither sees the other's audit entries.
    let (_, logs) = env
        .call("GET", "/scheduler/actionLogs?jobId=0", &second, None)
        .await;
    assert_eq!(logs["total"], 1, "{logs}");
    env.cleanup().await;
}
