//! Huawei CodeArts Build's real-time log (`GET /v1/log/{jobId}/{buildNo}/real-time-log`):
//! build numbers in fire order, the log read whole and in byte steps, the seed's request
//! without parameters, `end_offset` (and `end_offset=0` polling), `sort`, `has_more` (also
//! while a run is live), lines of one millisecond in order, every parameter error, unknown
//! builds, credentials, scope and server faults in Huawei's shape; on seeded runs.

use super::{
    break_key, detail, get, get_ok, huawei_error, key, keys_of, runs_path, wrong_secret, Auth,
    UNDECODABLE,
};
use chime_core::run::CallKind;
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::{runs, TestEnv};
use serde_json::{json, Value};

/// A job with 3 seeded builds a minute apart: a success, a call answered 500 ("compile
/// error"), a success. Returns the fixture and each build's text log (SAP's detail), in
/// build order.
async fn builds(env: &TestEnv) -> (SeededJob, Vec<String>) {
    let j = SeededJob::create(env, "build-task").await;
    let t0 = seed::minutes_ago(10);
    let results = [
        seed::success(t0, "built"),
        seed::failure(t0 + 60_000, 500, "compile error"),
        seed::success(t0 + 120_000, "built"),
    ];
    let mut logs = vec![];
    for r in &results {
        let run = j.finished(r.executed_at, r).await;
        let d = detail(env, &j.token, j.job, &j.schedule, &run).await;
        logs.push(d["log"].as_str().unwrap().to_string());
    }
    (j, logs)
}

fn log_path(job: impl std::fmt::Display, build: impl std::fmt::Display) -> String {
    format!("/v1/log/{job}/{build}/real-time-log")
}

const WHOLE: &str = "start_offset=0&end_offset=100000&size=1000";

/// `?q` of build `build`, which must answer 200; its `result`.
async fn slice(env: &TestEnv, j: &SeededJob, build: usize, q: &str) -> Value {
    let body = get_ok(env, &log_path(j.job, build), q, Auth::XAuthToken(&j.token)).await;
    body["result"].clone()
}

/// Reads build `build` of `job` in `size`-byte steps, each starting where the last ended;
/// returns the text and the number of requests.
async fn read_all(
    env: &TestEnv,
    token: &str,
    job: u64,
    build: u64,
    size: usize,
) -> (String, usize) {
    let path = log_path(job, build);
    let (mut text, mut start, mut calls) = (String::new(), 0usize, 0);
    loop {
        let q = format!("start_offset={start}&end_offset=100000000&size={size}");
        let body = get_ok(env, &path, &q, Auth::XAuthToken(token)).await;
        calls += 1;
        let r = &body["result"];
        assert_eq!(r["start_offset"], start.to_string(), "{body}");
        let end: usize = r["end_offset"].as_str().unwrap().parse().unwrap();
        assert!(end >= start && end - start <= size, "{body}");
        text.push_str(r["log"].as_str().unwrap());
        start = end;
        if !r["has_more"].as_bool().unwrap() {
            return (text, calls);
        }
        assert!(end > 0 || size == 0, "{body}");
        assert!(calls < 10_000, "has_more never ends");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_build_numbers_count_runs_in_fire_order() {
    let env = TestEnv::api_only().await;
    let (j, _) = builds(&env).await;
    let (_, list) = runs(&env, &j.token, j.job, &j.schedule).await;
    let mut numbers = vec![];
    for r in list.iter().rev() {
        let d = detail(
            &env,
            &j.token,
            j.job,
            &j.schedule,
            r["runId"].as_str().unwrap(),
        )
        .await;
        numbers.push(d["runNumber"].as_u64().unwrap());
    }
    assert_eq!(numbers, [1, 2, 3]);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_reads_a_whole_log_in_one_request() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for (i, log) in logs.iter().enumerate() {
        assert!(log.len() > 40 && log.len() <= 1000, "{log}");
        let path = log_path(j.job, i + 1);
        let body = get_ok(&env, &path, WHOLE, Auth::XAuthToken(&j.token)).await;
        assert_eq!(keys_of(&body), ["error", "result", "status"]);
        assert_eq!(body["error"], Value::Null);
        assert_eq!(body["status"], "success");
        let r = &body["result"];
        assert_eq!(
            keys_of(r),
            ["end_offset", "has_more", "location", "log", "start_offset"]
        );
        assert!(r["location"].is_string(), "{body}");
        assert_eq!(r["log"], log.as_str(), "{body}");
        assert_eq!(r["start_offset"], "0");
        assert_eq!(r["end_offset"], log.len().to_string());
        assert_eq!(r["has_more"], false);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_reads_the_log_in_byte_steps() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for (i, log) in logs.iter().enumerate() {
        let (text, calls) = read_all(&env, &j.token, j.job, i as u64 + 1, 40).await;
        assert_eq!(&text, log, "build {}", i + 1);
        assert_eq!(calls, log.len().div_ceil(40), "build {}", i + 1);
    }
    env.cleanup().await;
}

/// `end_offset` bounds the slice as `size` does; the seed's "AES" (and any case of ASC) means
/// ascending; unknown parameters are ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_end_offset_bounds_the_slice() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for (i, log) in logs.iter().enumerate() {
        for q in [
            "start_offset=5&end_offset=25&size=1000",
            "start_offset=5&end_offset=25&size=1000&sort=AES",
            "start_offset=5&end_offset=25&size=1000&sort=asc",
            "start_offset=5&end_offset=1000&size=20&sort=ASC",
            "start_offset=5&end_offset=25&size=1000&foo=bar&limit=1",
        ] {
            let r = slice(&env, &j, i + 1, q).await;
            assert_eq!(r["log"], &log[5..25], "?{q}");
            assert_eq!(r["start_offset"], "5");
            assert_eq!(r["end_offset"], "25");
            assert_eq!(r["has_more"], true);
        }
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_desc_returns_the_lines_of_the_slice_newest_first() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for (i, log) in logs.iter().enumerate() {
        let q = format!(
            "start_offset=0&end_offset={}&size=1000&sort=DESC",
            log.len()
        );
        let r = slice(&env, &j, i + 1, &q).await;
        let want: String = log.split_inclusive('\n').rev().collect();
        assert_eq!(r["log"], want, "build {}", i + 1);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_reading_past_the_end_is_empty_with_nothing_more() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for (i, log) in logs.iter().enumerate() {
        let q = format!(
            "start_offset={}&end_offset=100000&size=1000",
            log.len() + 50
        );
        let r = slice(&env, &j, i + 1, &q).await;
        assert_eq!(r["log"], "", "{r}");
        assert_eq!(r["has_more"], false, "{r}");
        assert_eq!(r["end_offset"], log.len().to_string());
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_size_zero_reads_nothing_with_more_to_come() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for i in 0..logs.len() {
        let r = slice(&env, &j, i + 1, "start_offset=0&end_offset=100000&size=0").await;
        assert_eq!(r["log"], "", "{r}");
        assert_eq!(r["has_more"], true, "{r}");
    }
    env.cleanup().await;
}

/// `size` defaults to 1000, as the seed gives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_size_defaults_to_1000() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    let r = slice(&env, &j, 1, "start_offset=0&end_offset=10").await;
    assert_eq!(r["end_offset"], "10");
    let r = slice(&env, &j, 1, "start_offset=0&end_offset=100000").await;
    assert_eq!(r["log"], logs[0].as_str(), "{r}");
    env.cleanup().await;
}

/// The log tells what happened: the build whose call was answered 500 says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_log_of_a_failed_call_tells_its_status() {
    let env = TestEnv::api_only().await;
    let (j, _) = builds(&env).await;
    let (text, _) = read_all(&env, &j.token, j.job, 2, 1000).await;
    assert!(text.contains("HTTP 500"), "{text}");
    env.cleanup().await;
}

/// The seed's example request names no parameter (`GET …/real-time-log`): it reads the log
/// from its start, up to 1000 bytes, as the seed's defaults say.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_seed_example_request_without_parameters_reads_the_log() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for (i, log) in logs.iter().enumerate() {
        let body = get_ok(
            &env,
            &log_path(j.job, i + 1),
            "",
            Auth::XAuthToken(&j.token),
        )
        .await;
        assert_eq!(body["status"], "success", "{body}");
        let r = &body["result"];
        assert_eq!(r["log"], log.as_str(), "{body}");
        assert_eq!(r["start_offset"], "0", "{body}");
        assert_eq!(r["end_offset"], log.len().to_string(), "{body}");
        assert_eq!(r["has_more"], false, "{body}");
        // Only `start_offset`, or only `size`: the others take their defaults.
        let r = slice(&env, &j, i + 1, "start_offset=7").await;
        assert_eq!(r["log"], &log[7..], "{r}");
        let r = slice(&env, &j, i + 1, "size=9").await;
        assert_eq!(r["log"], &log[..9], "{r}");
        assert_eq!(r["has_more"], true, "{r}");
    }
    env.cleanup().await;
}

/// An `end_offset` of 0, or not above `start_offset`, reads to the end of the log (at most
/// `size` bytes): a client polling with `end_offset=0` reads the whole log, and stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_end_offset_zero_or_not_above_start_reads_to_the_end() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for (i, log) in logs.iter().enumerate() {
        for (q, want) in [
            ("start_offset=0&end_offset=0&size=1000", &log[..]),
            ("start_offset=5&end_offset=5&size=1000", &log[5..]),
            ("start_offset=10&end_offset=3", &log[10..]),
            ("start_offset=10&end_offset=0&size=6", &log[10..16]),
        ] {
            let r = slice(&env, &j, i + 1, q).await;
            assert_eq!(r["log"], want, "?{q}: {r}");
        }
        let (mut text, mut start, mut calls) = (String::new(), 0usize, 0);
        loop {
            let q = format!("start_offset={start}&end_offset=0&size=40");
            let r = slice(&env, &j, i + 1, &q).await;
            text.push_str(r["log"].as_str().unwrap());
            start = r["end_offset"].as_str().unwrap().parse().unwrap();
            calls += 1;
            if r["has_more"] == false {
                break;
            }
            assert!(calls < 1000, "has_more never ends: {r}");
        }
        assert_eq!(&text, log);
        assert_eq!(calls, log.len().div_ceil(40));
    }
    env.cleanup().await;
}

/// A run created, called and answered in one millisecond: its lines keep the order of its
/// steps (creation, start, end), not the order of their text.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_log_lines_of_one_millisecond_keep_their_order() {
    let env = TestEnv::api_only().await;
    let j = SeededJob::create(&env, "instant-build").await;
    let at = seed::minutes_ago(3);
    let instant = seed::result(CallKind::Success, Some(200), Some("built"), at, 0);
    j.finished(at, &instant).await;
    let r = slice(&env, &j, 1, "").await;
    let log = r["log"].as_str().unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    let stamp = lines[0].split_once(' ').unwrap().0;
    assert!(
        lines.iter().all(|l| l.starts_with(stamp)),
        "one millisecond: {log}"
    );
    assert!(lines[0].contains(" run 1 scheduled for "), "{log}");
    assert!(lines[1].contains(" attempt 1 started on "), "{log}");
    assert!(
        lines[2].contains(" attempt 1: SUCCESS HTTP 200 in 0 ms"),
        "{log}"
    );
    // SAP's detail shows the same log.
    let (_, list) = chime_testkit::runs(&env, &j.token, j.job, &j.schedule).await;
    let run = list[0]["runId"].as_str().unwrap();
    let d = detail(&env, &j.token, j.job, &j.schedule, run).await;
    assert_eq!(d["log"], log);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_malformed_offsets_size_or_sort_are_a_400() {
    let env = TestEnv::api_only().await;
    let (j, _) = builds(&env).await;
    let path = log_path(j.job, 1);
    for q in [
        "start_offset=-1&end_offset=10&size=10",
        "start_offset=0&end_offset=-10&size=10",
        "start_offset=0&end_offset=10&size=-1",
        "start_offset=abc&end_offset=10&size=10",
        "start_offset=0&end_offset=1e3&size=10",
        "start_offset=0&end_offset=10&size=ten",
        "start_offset=0&end_offset=10&size=1001",
        "start_offset=0&end_offset=10&size=10&sort=sideways",
    ] {
        let (st, body) = get(&env, &path, q, Auth::XAuthToken(&j.token)).await;
        assert_eq!(st, 400, "?{q}: {body}");
        huawei_error(&body);
    }
    env.cleanup().await;
}

const OK: &str = "start_offset=0&end_offset=10&size=10";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_build_number_below_one_or_not_a_number_is_a_400() {
    let env = TestEnv::api_only().await;
    let (j, _) = builds(&env).await;
    for build in ["0", "abc"] {
        let p = log_path(j.job, build);
        let (st, body) = get(&env, &p, OK, Auth::XAuthToken(&j.token)).await;
        assert_eq!(st, 400, "{p}: {body}");
        huawei_error(&body);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_unknown_build_or_job_answers_404() {
    let env = TestEnv::api_only().await;
    let (j, logs) = builds(&env).await;
    for p in [
        log_path(j.job, logs.len() + 1),
        log_path(j.job, 100_000),
        log_path(999_999_999, 1),
        log_path("0123456789abcdef0123456789abcdef", 1),
    ] {
        let (st, body) = get(&env, &p, OK, Auth::XAuthToken(&j.token)).await;
        assert_eq!(st, 404, "{p}: {body}");
        huawei_error(&body);
    }
    env.cleanup().await;
}

/// A path whose job id is not UTF-8 once decoded: a 400 in Huawei's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_undecodable_path_is_a_400() {
    let env = TestEnv::api_only().await;
    let (j, _) = builds(&env).await;
    for p in [log_path(UNDECODABLE, 1), log_path(j.job, UNDECODABLE)] {
        let (st, body) = get(&env, &p, OK, Auth::XAuthToken(&j.token)).await;
        assert_eq!(st, 400, "{p}: {body}");
        huawei_error(&body);
        assert_eq!(body["error_code"], "CHIME.00000400", "{body}");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_key_without_read_scope_answers_403() {
    let env = TestEnv::api_only().await;
    let (j, _) = builds(&env).await;
    let writer = key(&env, &j.tenant, &["write"]).await;
    let (st, body) = get(&env, &log_path(j.job, 1), OK, Auth::XAuthToken(&writer)).await;
    assert_eq!(st, 403, "{body}");
    huawei_error(&body);
    assert_eq!(body["error_code"], "CHIME.00000403", "{body}");
    env.cleanup().await;
}

/// A server fault (the job's record unreadable) is a 500 in Huawei's shape, not described.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_store_fault_answers_500() {
    let env = TestEnv::api_only().await;
    let (j, _) = builds(&env).await;
    break_key(&env, &env.store().await.keys().job(&j.tenant, j.job)).await;
    let (st, body) = get(&env, &log_path(j.job, 1), OK, Auth::XAuthToken(&j.token)).await;
    assert_eq!(st, 500, "{body}");
    huawei_error(&body);
    assert_eq!(body["error_code"], "CHIME.00000500", "{body}");
    assert_eq!(body["error_msg"], "internal error", "{body}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_wrong_or_missing_token_answers_401() {
    let env = TestEnv::api_only().await;
    let (j, _) = builds(&env).await;
    let path = log_path(j.job, 1);
    for auth in [
        Auth::XAuthToken(&wrong_secret(&j.token)),
        Auth::XAuthToken("garbage"),
        Auth::None,
    ] {
        let (st, body) = get(&env, &path, OK, auth).await;
        assert_eq!(st, 401, "{body}");
        huawei_error(&body);
    }
    env.cleanup().await;
}

// ------------------------------------------------------------------- live (acknowledged) runs

/// A job whose one run the target acknowledged with 202 (RUNNING/ACK_RECVD, seeded); the
/// fixture and the run.
async fn acknowledged(env: &TestEnv) -> (SeededJob, String) {
    let j = SeededJob::create(env, "async-build").await;
    let at = seed::minutes_ago(5);
    let run = j.finished(at, &seed::accepted(at)).await;
    (j, run)
}

/// The job reports on its run: 200.
async fn report(env: &TestEnv, j: &SeededJob, run: &str, success: bool, message: &str) {
    let body = json!({"success": success, "message": message});
    let path = runs_path(j.job, &j.schedule, run);
    env.client()
        .expect(200, "PUT", &path, &j.token, Some(body))
        .await;
}

/// A live run's log has more to come; once the job reports, the whole log, with the report,
/// has no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_acknowledged_run_has_more_until_reported() {
    let env = TestEnv::api_only().await;
    let (j, run) = acknowledged(&env).await;
    let live = detail(&env, &j.token, j.job, &j.schedule, &run).await;
    let r = slice(&env, &j, 1, WHOLE).await;
    assert_eq!(r["has_more"], true, "live: {r}");
    assert_eq!(r["log"], live["log"], "{r}");
    report(&env, &j, &run, true, "Sales order processed").await;
    let done = detail(&env, &j.token, j.job, &j.schedule, &run).await;
    let r = slice(&env, &j, 1, WHOLE).await;
    assert_eq!(r["has_more"], false, "completed: {r}");
    assert_eq!(r["log"], done["log"], "{r}");
    assert!(
        r["log"].as_str().unwrap().contains("job reported SUCCESS"),
        "{r}"
    );
    env.cleanup().await;
}

/// A live run's log read up to its end, then, after the run completes, read on from the
/// offset reached, is the completed run's log: lines are only ever appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_log_of_a_live_run_reads_on_from_the_last_offset() {
    let env = TestEnv::api_only().await;
    let (j, run) = acknowledged(&env).await;
    let r = slice(&env, &j, 1, WHOLE).await;
    assert_eq!(r["has_more"], true, "live: {r}");
    let live = r["log"].as_str().unwrap().to_string();
    let reached: usize = r["end_offset"].as_str().unwrap().parse().unwrap();
    assert_eq!(reached, live.len());

    report(&env, &j, &run, true, "build finished").await;
    let log = detail(&env, &j.token, j.job, &j.schedule, &run).await["log"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut text, mut start, mut calls) = (live.clone(), reached, 0);
    loop {
        let q = format!("start_offset={start}&end_offset=100000&size=40");
        let r = slice(&env, &j, 1, &q).await;
        text.push_str(r["log"].as_str().unwrap());
        start = r["end_offset"].as_str().unwrap().parse().unwrap();
        if r["has_more"] == false {
            break;
        }
        calls += 1;
        assert!(calls < 10_000, "has_more never ends: {r}");
    }
    assert!(
        log.starts_with(&live),
        "the completed log rewrote what was read while live:\nlive:\n{live}\ncompleted:\n{log}"
    );
    assert_eq!(text, log);
    env.cleanup().await;
}

/// A log holding multi-byte UTF-8 text (an asynchronous report's message) read in small
/// byte steps reassembles to the same text.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_log_read_in_small_steps_keeps_multibyte_text() {
    let env = TestEnv::api_only().await;
    let (j, run) = acknowledged(&env).await;
    let message = "Auftrag verarbeitet ✓ — 注文処理済み — ünïcödé ok";
    report(&env, &j, &run, true, message).await;
    let d = detail(&env, &j.token, j.job, &j.schedule, &run).await;
    let log = d["log"].as_str().unwrap();
    assert!(log.contains(message), "{d}");
    for size in [1000, 40, 7] {
        let (text, _) = read_all(&env, &j.token, j.job, 1, size).await;
        assert_eq!(text, log, "read in {size}-byte steps");
    }
    env.cleanup().await;
}
