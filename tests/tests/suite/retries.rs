//! Retries (`retryPolicy`): a failed call (5xx, 408, 429, a timeout, a connection error) is
//! called again after a backoff, under the same run id, until it succeeds or its policy runs
//! out; every attempt is in the run's record. A waiting retry is a message in a delay queue, so
//! it survives the worker that sent it.

use chime_core::model::{Attempt, RunMessage};
use chime_core::run::Outcome;
use chime_store::{Retried, Retrying, RunStep, Started, StepAnswer};
use chime_testkit::jobs::{completed_run, ms};
use chime_testkit::{wait_until, SeededJob, Target, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;

/// A job calling `target` whose policy is `policy`, with a one-time schedule due now: (job,
/// schedule).
async fn retried_job(env: &TestEnv, token: &str, target: &Target, policy: Value) -> (u64, String) {
    let body = json!({
        "name": format!("retried-{}", uuid::Uuid::new_v4().simple()),
        "action": target.url("/work"),
        "active": true,
        "httpMethod": "POST",
        "retryPolicy": policy,
        "schedules": [{"time": "now", "active": true}],
    });
    let job = env.client().create_job(token, body).await;
    (job.id, job.schedules[0].clone())
}

/// The run ids the target was called with, in call order, and when (ms).
fn calls(target: &Target) -> Vec<(String, i64)> {
    target
        .hits()
        .iter()
        .map(|h| {
            let id = h.header("x-sap-job-run-id").unwrap_or_default().to_string();
            (id, h.wall_ms)
        })
        .collect()
}

fn field<'a>(attempts: &'a Value, name: &str) -> Vec<&'a Value> {
    attempts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a[name])
        .collect()
}

#[tokio::test]
async fn a_failing_call_is_retried_under_one_run_until_it_succeeds() {
    let env = TestEnv::cluster().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let target = Target::start().await;
    target.answer_next(503, &[("retry-after", "1")]);
    target.answer_next(500, &[]);
    let policy = json!({"retryCount": 3, "minBackoffSeconds": 1, "maxBackoffSeconds": 2,
        "maxDoublings": 0});
    let (job, sid) = retried_job(&env, &token, &target, policy.clone()).await;
    let (_, shown) = env
        .call("GET", &format!("/scheduler/jobs/{job}"), &token, None)
        .await;
    assert_eq!(shown["retryPolicy"]["retryCount"], 3, "{shown}");
    assert_eq!(
        shown["retryPolicy"]["maxRetrySeconds"], 0,
        "defaults filled: {shown}"
    );

    let run = completed_run(&env, &token, job, &sid).await;
    assert_eq!(run["runState"], "SUCCESS", "{run}");
    assert_eq!(run["attempt"], 3, "{run}");
    let hits = calls(&target);
    assert_eq!(hits.len(), 3, "three calls: {hits:?}");
    assert!(hits
        .iter()
        .all(|(id, _)| id == run["runId"].as_str().unwrap()));
    // Each call names its attempt (and the Standard Webhooks id carries it).
    let numbered: Vec<(String, String)> = target
        .hits()
        .iter()
        .map(|h| {
            let n = h.header("x-chime-attempt").unwrap_or_default().to_string();
            (n, h.header("webhook-id").unwrap_or_default().to_string())
        })
        .collect();
    let run_id = run["runId"].as_str().unwrap();
    let want: Vec<(String, String)> = (1..=3)
        .map(|n| (n.to_string(), format!("{run_id}_{n}")))
        .collect();
    assert_eq!(numbered, want);
    let attempts = &run["attempts"];
    assert_eq!(
        field(attempts, "httpStatus"),
        [&json!(503), &json!(500), &json!(200)],
        "{run}"
    );
    assert_eq!(
        field(attempts, "outcome"),
        [&json!("failure"), &json!("failure"), &json!("success")]
    );
    // Retry-After: 1 is honoured exactly (no jitter); the second wait is drawn within 2 s.
    assert_eq!(attempts[0]["delayMs"], 1000, "{run}");
    assert!(attempts[1]["delayMs"].as_u64().unwrap() <= 2000, "{run}");
    assert!(attempts[2]["delayMs"].is_null());
    assert!(attempts[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 5xx"));
    // Each attempt keeps its own failure reason and timing split.
    assert_eq!(
        field(attempts, "failureReason"),
        [&json!("http_5xx"), &json!("http_5xx"), &Value::Null],
        "{run}"
    );
    for a in attempts.as_array().unwrap() {
        assert!(a["timing"]["firstByteMs"].is_u64(), "{run}");
        assert_eq!(a["timing"]["totalMs"], a["durationMs"], "{run}");
    }
    // Never early: each call comes at least its recorded wait after the one before.
    for k in 0..2 {
        let gap = hits[k + 1].1 - hits[k].1;
        let wait = attempts[k]["delayMs"].as_i64().unwrap();
        assert!(
            gap >= wait,
            "call {} came {gap} ms after call {k}, wait {wait}",
            k + 1
        );
    }
    // One run in the log, and the text log tells each attempt.
    let list = format!("/scheduler/jobs/{job}/schedules/{sid}/runs");
    let (_, page) = env.call("GET", &list, &token, None).await;
    assert_eq!(page["total"], 1, "{page}");
    let log = run["log"].as_str().unwrap();
    assert!(
        log.contains("attempt 1 failed") && log.contains("attempt 2 failed"),
        "{log}"
    );
    assert!(log.contains("(Retry-After)"), "{log}");
    env.cleanup().await;
}

#[tokio::test]
async fn retries_stop_at_their_count_and_final_answers_are_not_retried() {
    let env = TestEnv::cluster().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let failing = Target::start().await;
    failing.set_reply(500, "down", false);
    let missing = Target::start().await;
    missing.set_reply(404, "no such thing", false);
    let policy = json!({"retryCount": 2, "minBackoffSeconds": 1, "maxBackoffSeconds": 1});
    let (j1, s1) = retried_job(&env, &token, &failing, policy.clone()).await;
    let (j2, s2) = retried_job(&env, &token, &missing, policy).await;

    let down = completed_run(&env, &token, j1, &s1).await;
    assert_eq!(down["runState"], "ERROR", "{down}");
    assert_eq!(down["attempt"], 3, "{down}");
    assert_eq!(down["attempts"].as_array().unwrap().len(), 3, "{down}");
    assert_eq!(failing.count(), 3, "the first call and two retries");

    let gone = completed_run(&env, &token, j2, &s2).await;
    assert_eq!(gone["runState"], "REQUEST_ERROR", "{gone}");
    assert_eq!(gone["attempt"], 1);
    assert!(gone.get("attempts").is_none(), "a 404 is final: {gone}");
    assert_eq!(missing.count(), 1);
    env.cleanup().await;
}

/// kill -9 of the worker that sent a retry, while the retry waits in its delay queue: another
/// worker makes the retry, once.
#[tokio::test]
async fn a_waiting_retry_survives_its_worker_killed() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_scheduler().await;
    let mut doomed = env.spawn_process("worker", "retry-doomed");
    let (_, token) = env.tenant(&["read", "write"]).await;
    let target = Target::start().await;
    target.answer_next(503, &[("retry-after", "4")]);
    let policy = json!({"retryCount": 2, "minBackoffSeconds": 1, "maxBackoffSeconds": 10});
    let (job, sid) = retried_job(&env, &token, &target, policy).await;

    // The first attempt failed and its retry waits: the run says when.
    let list = format!("/scheduler/jobs/{job}/schedules/{sid}/runs");
    let waiting = wait_until("the retry waits", Duration::from_secs(30), || async {
        let (_, v) = env.call("GET", &list, &token, None).await;
        let id = v["results"].as_array()?.first()?["runId"]
            .as_str()?
            .to_string();
        let (_, run) = env.call("GET", &format!("{list}/{id}"), &token, None).await;
        run["nextAttemptAt"].is_string().then_some(run)
    })
    .await;
    assert_eq!(waiting["runStatus"], "SCHEDULED", "{waiting}");
    assert_eq!(target.count(), 1);
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();

    let mut survivor = env.spawn_process("worker", "retry-survivor");
    let run = completed_run(&env, &token, job, &sid).await;
    assert_eq!(run["runState"], "SUCCESS", "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
    let hits = calls(&target);
    assert_eq!(hits.len(), 2, "the retry happened once: {hits:?}");
    let due = ms(&waiting["nextAttemptAt"]);
    assert!(
        hits[1].1 >= due,
        "the retry came at {} before it was due at {due}",
        hits[1].1
    );
    assert_ne!(
        run["worker"], waiting["worker"],
        "another worker made the retry: {run}"
    );
    // Nothing left in the broker to call it a third time.
    let s = &env.settings;
    let conn = chime_broker::connect(&s.amqp_url).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let topology = chime_broker::Topology::new(&s.namespace, s.delivery_limit, "");
    assert_eq!(topology.depths(&ch).await.unwrap(), (0, 0));
    survivor.start_kill().unwrap();
    env.cleanup().await;
}

/// One record step of `m`'s run at `at`, as worker `w1`.
async fn one_step(
    store: &chime_store::Store,
    m: &RunMessage,
    s: RunStep<'_>,
    at: i64,
) -> StepAnswer {
    store.record_steps(&[(m, s)], at, "w1").await.unwrap()[0]
}

/// The record's side of a retry, step by step on the store: an earlier attempt's message
/// redelivered while the retry waits is told to send the retry again (and calls nothing); the
/// retry starts its own attempt; a second copy of the retry is refused; the finished record
/// keeps every attempt.
#[tokio::test]
async fn a_retry_is_recorded_once_and_an_earlier_attempt_redelivered_only_resends_it() {
    let env = TestEnv::api_only().await;
    let seeded = SeededJob::create(&env, "retry-steps").await;
    let store = env.store().await;
    let at = chrono::Utc::now().timestamp_millis();
    let first = seeded.seeder.message(at);
    store.materialize(&first, at).await.unwrap();
    assert_eq!(
        one_step(&store, &first, RunStep::Start(1), at).await,
        StepAnswer::Started(Started::Attempt(1))
    );
    let retrying = Retrying {
        failed: Attempt {
            attempt: 1,
            executed_at: at,
            duration_ms: 12,
            http_status: Some(503),
            outcome: Outcome::Failure,
            error: "HTTP 5xx: endpoint returned status code 503".into(),
            delay_ms: 2000,
            timing: None,
            failure_reason: None,
        },
        next_at: at + 2000,
        run_text: "attempt 1 failed".into(),
        line: "attempt 1 failed; retry".into(),
    };
    assert_eq!(
        one_step(&store, &first, RunStep::Retry(&retrying), at).await,
        StepAnswer::Retried(Retried::Scheduled)
    );
    assert_eq!(
        one_step(&store, &first, RunStep::Retry(&retrying), at).await,
        StepAnswer::Retried(Retried::AlreadyRecorded),
        "a duplicate result of attempt 1 schedules nothing"
    );
    assert_eq!(
        one_step(&store, &first, RunStep::Start(2), at).await,
        StepAnswer::Started(Started::Waiting {
            attempt: 2,
            at: at + 2000
        }),
        "attempt 1's message again: send the retry, call nothing"
    );
    let second = RunMessage {
        attempt: 2,
        ..first.clone()
    };
    assert_eq!(
        one_step(&store, &second, RunStep::Start(1), at).await,
        StepAnswer::Started(Started::Attempt(2))
    );
    assert_eq!(
        one_step(&store, &second, RunStep::Start(1), at).await,
        StepAnswer::Started(Started::AlreadyRecorded),
        "a second copy of the retry, delivered fresh, is not called"
    );
    assert_eq!(
        one_step(&store, &second, RunStep::Start(2), at).await,
        StepAnswer::Started(Started::Attempt(3)),
        "the retry redelivered after its worker died is called again"
    );
    let ok = chime_testkit::seed::success(at + 3000, "done");
    assert!(matches!(
        one_step(&store, &second, RunStep::Complete(&ok), at).await,
        StepAnswer::Completed(chime_store::Completed::Recorded)
    ));
    let run = store
        .run(&seeded.tenant, &first.run_id)
        .await
        .unwrap()
        .expect("the finished run");
    assert_eq!(run.retried, vec![retrying.failed.clone()]);
    assert_eq!(run.attempt, 3);
    assert_eq!(run.next_attempt, None);
    env.cleanup().await;
}
