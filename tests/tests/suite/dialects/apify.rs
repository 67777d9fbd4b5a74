//! Apify's schedule log (`GET /v2/schedules/{scheduleId}/log`): "Schedule invoked" per fire,
//! an ERROR entry for a target the SSRF guard refuses, oldest first; the token in the header
//! or the query; its error shape. On seeded runs (the ERROR entry comes with the run's
//! result, as a worker records it), and once on a real fire the guard refuses.

use super::{
    apify_error, break_key, get, get_ok, instant, key, keys_of, runs_path, wait_runs, wrong_secret,
    Auth, UNDECODABLE,
};
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::{all_completed, create_job, retarget, Target, TestEnv};
use serde_json::{json, Value};
use std::collections::HashSet;

/// A schedule with 4 seeded fires a minute apart: 2 successes, then 2 whose target the SSRF
/// guard refused (`10.0.0.1`).
async fn actor_task(env: &TestEnv) -> SeededJob {
    let j = SeededJob::create(env, "actor-task").await;
    let t0 = seed::minutes_ago(10);
    for i in 0..4 {
        let at = t0 + i * 60_000;
        let result = if i < 2 {
            seed::success(at, "done")
        } else {
            seed::blocked(at)
        };
        j.finished(at, &result).await;
    }
    j
}

fn log_path(schedule: &str) -> String {
    format!("/v2/schedules/{schedule}/log")
}

/// The schedule's log, read with a bearer key.
async fn log(env: &TestEnv, j: &SeededJob) -> Value {
    get_ok(env, &log_path(&j.schedule), "", Auth::Bearer(&j.token)).await
}

fn entries(body: &Value) -> &Vec<Value> {
    body["data"].as_array().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_log_has_one_schedule_invoked_entry_per_fire() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    let body = log(&env, &j).await;
    let data = entries(&body);
    let invoked: Vec<&Value> = data
        .iter()
        .filter(|e| e["message"] == "Schedule invoked")
        .collect();
    assert_eq!(invoked.len(), 4, "one per fire: {body}");
    assert!(invoked.iter().all(|e| e["level"] == "INFO"), "{body}");
    assert_eq!(data[0]["message"], "Schedule invoked");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_log_entries_are_oldest_first_with_message_level_and_instant() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    let body = log(&env, &j).await;
    assert_eq!(keys_of(&body), ["data"]);
    let mut last = 0;
    for e in entries(&body) {
        assert_eq!(keys_of(e), ["createdAt", "level", "message"], "{e}");
        let at = instant(&e["createdAt"], "createdAt");
        assert!(at >= last, "oldest first: {body}");
        last = at;
        let level = e["level"].as_str().unwrap();
        assert!(["INFO", "WARNING", "ERROR"].contains(&level), "{e}");
    }
    env.cleanup().await;
}

/// Each blocked fire adds an ERROR entry naming the refused address, after its invocation
/// (and after the 2 runs before it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_blocked_fire_logs_an_error_entry_after_its_invocation() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    let body = log(&env, &j).await;
    let data = entries(&body);
    let errors: Vec<&Value> = data
        .iter()
        .filter(|e| e["level"] == "ERROR" && e["message"].as_str().unwrap().contains("blocked"))
        .collect();
    assert_eq!(errors.len(), 2, "{body}");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("10.0.0.1"),
        "{body}"
    );
    let first_error = data.iter().position(|e| e["level"] == "ERROR").unwrap();
    let invoked_before = data[..first_error]
        .iter()
        .filter(|e| e["message"] == "Schedule invoked")
        .count();
    assert!(invoked_before >= 3, "{body}");
    env.cleanup().await;
}

/// Real fires: the worker's SSRF guard refuses a private address before any connection, the
/// run says so, the schedule's log has the ERROR entry after the invocation, and only the
/// runs of an allowed target reached it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_target_refused_by_the_guard_logs_an_error_entry() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let now = json!({"time": "now", "active": true});
    let (job, s1) = create_job(
        &env,
        &token,
        "actor-task",
        &target.url("/task"),
        now.clone(),
    )
    .await;
    let allowed = all_completed(&env, &token, job, &s1).await;
    // A private address: the API refuses it as the job's URL; a job that reaches one anyway
    // (written before that check, or by a name that resolves to it) is refused by the
    // worker's guard before any connection is made.
    let client = env.client();
    let path = format!("/scheduler/jobs/{job}");
    let to_private = json!({"action": "http://10.0.0.1/x"});
    let refused = client
        .expect(400, "PUT", &path, &token, Some(to_private))
        .await;
    assert!(refused.to_string().contains("'action'"), "{refused}");
    retarget(&env, &tenant, job, "http://10.0.0.1/x").await;
    let b = client
        .expect(201, "POST", &format!("{path}/schedules"), &token, Some(now))
        .await;
    let s2 = b["scheduleId"].as_str().unwrap().to_string();
    let refused = wait_runs(&env, &token, job, &s2, "the refused run completed", |l| {
        l.len() == 1 && l[0]["runStatus"] == "COMPLETED"
    })
    .await;
    let run = &refused[0];
    assert!(
        run["runText"].as_str().unwrap().contains("SSRF guard"),
        "{run}"
    );
    let called: HashSet<String> = target
        .hits()
        .iter()
        .filter_map(|h| h.header("x-sap-job-run-id").map(String::from))
        .collect();
    let want: HashSet<String> = allowed
        .iter()
        .map(|r| r["runId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(called, want, "the refused run called nothing");

    let body = get_ok(&env, &log_path(&s2), "", Auth::Bearer(&token)).await;
    let data = entries(&body);
    assert_eq!(data[0]["message"], "Schedule invoked", "{body}");
    let invoked = data.iter().filter(|e| e["message"] == "Schedule invoked");
    assert_eq!(invoked.count(), 1, "one fire: {body}");
    let errors: Vec<&Value> = data.iter().filter(|e| e["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "{body}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("blocked") && message.contains("10.0.0.1"),
        "{body}"
    );
    // The invocation is no earlier than the run's scheduled instant.
    let invoked = instant(&data[0]["createdAt"], "createdAt");
    assert!(
        invoked >= instant(&run["scheduleTimestamp"], "scheduleTimestamp"),
        "{body}"
    );
    let d = get_ok(
        &env,
        &runs_path(job, &s2, run["runId"].as_str().unwrap()),
        "",
        Auth::Bearer(&token),
    )
    .await;
    assert_eq!(d["outcome"], "error", "{d}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_token_may_be_given_as_a_query_parameter() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    let by_header = log(&env, &j).await;
    let by_query = get_ok(&env, &log_path(&j.schedule), "", Auth::QueryToken(&j.token)).await;
    assert_eq!(by_query, by_header);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_unknown_parameters_are_ignored() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    let plain = log(&env, &j).await;
    let q = "foo=bar&limit=1";
    let other = get_ok(&env, &log_path(&j.schedule), q, Auth::Bearer(&j.token)).await;
    assert_eq!(other, plain);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_unknown_schedule_answers_404() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    for p in [
        log_path("asdLZtadYvn4mBZmm"),
        log_path("00000000-0000-0000-0000-000000000000"),
    ] {
        let (st, b) = get(&env, &p, "", Auth::Bearer(&j.token)).await;
        assert_eq!(st, 404, "{b}");
        apify_error(&b, "record-not-found");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_wrong_or_missing_token_answers_401() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    let path = log_path(&j.schedule);
    for auth in [
        Auth::Bearer(&wrong_secret(&j.token)),
        Auth::QueryToken("nokey.nosecret"),
        Auth::None,
    ] {
        let (st, b) = get(&env, &path, "", auth).await;
        assert_eq!(st, 401, "{b}");
        apify_error(&b, "token-not-valid");
    }
    env.cleanup().await;
}

/// The seed's one listed error, a 400 `invalid-input`: a schedule id that is not UTF-8 once
/// decoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_undecodable_path_is_a_400() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    let (st, b) = get(&env, &log_path(UNDECODABLE), "", Auth::Bearer(&j.token)).await;
    assert_eq!(st, 400, "{b}");
    apify_error(&b, "invalid-input");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_key_without_read_scope_answers_403() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    let writer = key(&env, &j.tenant, &["write"]).await;
    for auth in [Auth::Bearer(&writer), Auth::QueryToken(&writer)] {
        let (st, b) = get(&env, &log_path(&j.schedule), "", auth).await;
        assert_eq!(st, 403, "{b}");
        apify_error(&b, "insufficient-permissions");
    }
    env.cleanup().await;
}

/// A server fault (the tenant's schedule index unreadable) is a 500 in Apify's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_store_fault_answers_500() {
    let env = TestEnv::api_only().await;
    let j = actor_task(&env).await;
    break_key(&env, &env.store().await.keys().schedule_jobs(&j.tenant)).await;
    let (st, b) = get(&env, &log_path(&j.schedule), "", Auth::Bearer(&j.token)).await;
    assert_eq!(st, 500, "{b}");
    apify_error(&b, "internal-server-error");
    assert_eq!(b["error"]["message"], "internal error", "{b}");
    env.cleanup().await;
}
