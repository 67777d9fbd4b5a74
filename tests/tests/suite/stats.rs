//! A run's timing split and failure reason, and a job's run statistics
//! (`GET /scheduler/jobs/{jobId}/stats`), against real targets on loopback: answers 200, 404
//! and 500, a call past its timeout, a refused port and a name that does not resolve.

use chime_testkit::jobs::completed_run;
use chime_testkit::{Target, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;

/// A job calling `url` with `schedules` one-time schedules due now (and `timeoutMs` when
/// given): (job, its schedule ids).
async fn job_of(
    env: &TestEnv,
    token: &str,
    url: &str,
    schedules: usize,
    timeout_ms: Option<u64>,
) -> (u64, Vec<String>) {
    let mut body = json!({
        "name": format!("timed-{}", uuid::Uuid::new_v4().simple()),
        "action": url,
        "active": true,
        "httpMethod": "POST",
        "schedules": vec![json!({"time": "now", "active": true}); schedules],
    });
    if let Some(ms) = timeout_ms {
        body["timeoutMs"] = json!(ms);
    }
    let job = env.client().create_job(token, body).await;
    (job.id, job.schedules.clone())
}

/// A target answering every call with `status`.
async fn answering(status: u16) -> Target {
    let t = Target::start().await;
    t.set_reply(status, "answer", false);
    t
}

#[tokio::test]
async fn each_run_records_its_timing_split_and_why_it_failed() {
    let env = TestEnv::cluster().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (ok, missing, broken) = (
        answering(200).await,
        answering(404).await,
        answering(500).await,
    );
    let slow = Target::start().await;
    slow.set_delay(Duration::from_secs(3));
    // A port nothing listens on: bound, then closed.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // A name that never resolves, with no query sent: the guard's resolver answers names under
    // `.invalid` itself (RFC 6761), and a label longer than DNS allows (63 bytes) would make
    // the system resolver fail before building a query as well.
    let unresolvable = format!("http://{}.invalid/x", "n".repeat(64));
    let named = ok.url("/by-name").replace("127.0.0.1", "localhost");
    let cases: Vec<(String, Option<u64>, &str, Option<&str>)> = vec![
        (ok.url("/ok"), None, "SUCCESS", None),
        (named, None, "SUCCESS", None),
        (
            missing.url("/gone"),
            None,
            "REQUEST_ERROR",
            Some("http_4xx"),
        ),
        (broken.url("/broken"), None, "ERROR", Some("http_5xx")),
        (
            slow.url("/slow"),
            Some(300),
            "REQUEST_ERROR",
            Some("timeout"),
        ),
        (
            format!("http://127.0.0.1:{refused}/x"),
            None,
            "REQUEST_ERROR",
            Some("connect"),
        ),
        (unresolvable, None, "REQUEST_ERROR", Some("dns")),
    ];
    let mut jobs = vec![];
    for (url, timeout, _, _) in &cases {
        jobs.push(job_of(&env, &token, url, 1, *timeout).await);
    }
    let mut runs = vec![];
    for (job, sids) in &jobs {
        runs.push(completed_run(&env, &token, *job, &sids[0]).await);
    }
    for ((url, _, state, reason), run) in cases.iter().zip(&runs) {
        assert_eq!(run["runState"], *state, "{url}: {run}");
        assert_eq!(run["failureReason"].as_str(), *reason, "{url}: {run}");
        let timing = &run["timing"];
        assert_eq!(timing["totalMs"], run["durationMs"], "{url}: {run}");
        let total = timing["totalMs"].as_u64().unwrap();
        // Headers arrived only from the targets that answered in time.
        match run["httpStatus"].as_u64() {
            Some(_) => {
                let first = timing["firstByteMs"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{run}"));
                assert!(first <= total, "{url}: {run}");
            }
            None => assert!(timing["firstByteMs"].is_null(), "{url}: {run}"),
        }
        // Not measured.
        assert!(
            timing["connectMs"].is_null() && timing["tlsMs"].is_null(),
            "{run}"
        );
    }
    // The slow target's call was cut at its timeout, not at the target's 3 s.
    let slow_total = runs[4]["timing"]["totalMs"].as_u64().unwrap();
    assert!((300..3000).contains(&slow_total), "{}", runs[4]);
    // A name is looked up (the first call to it opens a connection); an IP literal is not.
    assert!(runs[1]["timing"]["dnsMs"].is_u64(), "{}", runs[1]);
    assert!(runs[0]["timing"]["dnsMs"].is_null(), "{}", runs[0]);
    assert!(runs[6]["timing"]["dnsMs"].is_u64(), "{}", runs[6]);
    // Each answering target was called once.
    for t in [&ok, &missing, &broken] {
        assert_eq!(t.count(), if std::ptr::eq(t, &ok) { 2 } else { 1 });
    }
    env.cleanup().await;
}

/// The job's stats over `query`.
async fn stats(env: &TestEnv, token: &str, job: u64, query: &str) -> (u16, Value) {
    env.call(
        "GET",
        &format!("/scheduler/jobs/{job}/stats{query}"),
        token,
        None,
    )
    .await
}

/// The day's stats as 24 hourly spans: the job's runs (all finished just now) in the last,
/// with their latency (`longest` the longest); the spans tile the window.
async fn series_of_the_day(env: &TestEnv, token: &str, job: u64, longest: u64) {
    let (st, s) = stats(env, token, job, "?buckets=24").await;
    assert_eq!(st, 200, "{s}");
    let series = s["series"].as_array().unwrap();
    assert_eq!(series.len(), 24, "{s}");
    assert_eq!(series[0]["from"], s["from"]);
    assert_eq!(series[23]["to"], s["to"]);
    assert_eq!(series[0]["to"], series[1]["from"]);
    let last = &series[23];
    assert_eq!(
        (
            last["total"].as_u64(),
            last["success"].as_u64(),
            last["failure"].as_u64()
        ),
        (Some(5), Some(3), Some(2)),
        "{s}"
    );
    assert_eq!(last["latencyMs"]["max"].as_u64(), Some(longest));
    assert!(series[..23]
        .iter()
        .all(|b| b["total"] == 0 && b["latencyMs"].is_null()));
    let (st, plain) = stats(env, token, job, "").await;
    assert_eq!(st, 200);
    assert!(plain.get("series").is_none(), "only on request: {plain}");
}

#[tokio::test]
async fn a_jobs_stats_count_its_finished_runs_in_the_window() {
    let env = TestEnv::cluster().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let target = Target::start().await;
    target.set_delay(Duration::from_millis(150));
    // Two of the five calls answer 500 at once; the other three take 150 ms each.
    target.answer_next(500, &[]);
    target.answer_next(500, &[]);
    let (job, sids) = job_of(&env, &token, &target.url("/s"), 5, None).await;
    let mut durations = vec![];
    for sid in &sids {
        let run = completed_run(&env, &token, job, sid).await;
        durations.push(run["durationMs"].as_u64().unwrap());
    }
    let (st, s) = stats(&env, &token, job, "").await;
    assert_eq!(st, 200, "{s}");
    assert_eq!(
        (
            s["jobId"].as_u64(),
            s["total"].as_u64(),
            s["success"].as_u64(),
            s["failure"].as_u64()
        ),
        (Some(job), Some(5), Some(3), Some(2)),
        "{s}"
    );
    assert_eq!(s["successRate"], 0.6, "{s}");
    assert_eq!(s["failureReasons"], json!({"http_5xx": 2}), "{s}");
    assert_eq!(s["sampled"], false, "{s}");
    // Nearest-rank percentiles of the five runs' durations.
    durations.sort_unstable();
    let l = &s["latencyMs"];
    assert_eq!(
        (
            l["p50"].as_u64(),
            l["p90"].as_u64(),
            l["p99"].as_u64(),
            l["max"].as_u64()
        ),
        (
            Some(durations[2]),
            Some(durations[4]),
            Some(durations[4]),
            Some(durations[4])
        ),
        "{s} {durations:?}"
    );
    assert!(
        durations[2] >= 150,
        "three calls took the target's 150 ms: {durations:?}"
    );

    series_of_the_day(&env, &token, job, durations[4]).await;

    // A read bounded below the window's runs says it sampled (the route's bound is 100,000).
    let store = env.store().await;
    let (from, to) = (0, chrono::Utc::now().timestamp_millis() + 60_000);
    let part = store
        .job_run_stats(&tenant, job, from, to, 3)
        .await
        .unwrap();
    assert_eq!(
        (part.total, part.sampled, part.durations.len()),
        (3, true, 3)
    );
    let whole = store
        .job_run_stats(&tenant, job, from, to, 5)
        .await
        .unwrap();
    assert_eq!((whole.total, whole.success, whole.sampled), (5, 3, false));

    // A window before the runs holds none of them.
    let (st, s) = stats(
        &env,
        &token,
        job,
        "?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
    )
    .await;
    assert_eq!(st, 200, "{s}");
    assert_eq!(
        (s["total"].as_u64(), s["successRate"].is_null()),
        (Some(0), true),
        "{s}"
    );
    assert!(s["latencyMs"].is_null(), "{s}");

    // Validation: each 400 names its parameter.
    for (query, field) in [
        ("?from=yesterday", "'from'"),
        ("?to=2020-13-01", "'to'"),
        ("?from=2020-01-02T00:00:00Z&to=2020-01-01T00:00:00Z", "'to'"),
        (
            "?from=2020-01-01T00:00:00Z&to=2020-02-02T00:00:00Z",
            "31 days",
        ),
        ("?buckets=0", "'buckets'"),
        ("?buckets=many", "'buckets'"),
    ] {
        let (st, answer) = stats(&env, &token, job, query).await;
        assert_eq!(st, 400, "{query}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{query}: {answer}"
        );
    }

    // Another tenant does not see the job, nor its stats.
    let (_, other) = env.tenant(&["read"]).await;
    let (st, answer) = stats(&env, &other, job, "").await;
    assert_eq!(st, 404, "{answer}");
    let (st, _) = stats(&env, &token, job + 1000, "").await;
    assert_eq!(st, 404);
    env.cleanup().await;
}
