//! Run-log lifecycle on really fired runs: the live tail, export, retention by age, and
//! deletion of a job's runs.

use chime_store::keys::Keys;
use chime_testkit::{
    all_completed, create_job, runs, set_active, wait_until, LiveTail, Target, TestEnv, ADMIN_TOKEN,
};
use redis::AsyncCommands;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_tail_shows_each_run_within_a_second_of_completion() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, _) = create_job(
        &env,
        &token,
        "tail",
        &target.url("/t"),
        json!({"repeatInterval": "1 second", "active": false}),
    )
    .await;

    // Connected before any run.
    let mut tail = LiveTail::open(&env, &token, job)
        .await
        .unwrap_or_else(|r| panic!("the tail opens: {r:?}"));
    set_active(&env, &token, job, true).await;

    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 {
        let event = tail.next(deadline).await.expect("stream open");
        let received = chrono::Utc::now().timestamp_millis();
        let run = event.data;
        assert_eq!(event.name, "run", "{run}");
        assert_eq!(run["runStatus"], "COMPLETED", "{run}");
        assert_eq!(run["jobId"], job);
        let delay = received - ms(&run["completionTimestamp"]);
        assert!(delay <= 1000, "seen {delay} ms after completion");
        seen.push(run["runId"].as_str().unwrap().to_string());
    }
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "each run once: {seen:?}");
    set_active(&env, &token, job, false).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_streams_every_run_as_ndjson_or_csv() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "export",
        &target.url("/e"),
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    wait_until("3 runs", Duration::from_secs(20), || async {
        (runs(&env, &token, job, &sid).await.0 >= 3).then_some(())
    })
    .await;
    set_active(&env, &token, job, false).await;
    let list = all_completed(&env, &token, job, &sid).await;

    let resp = env
        .http
        .get(env.url(&format!("/scheduler/jobs/{job}/runs/export")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let text = resp.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), list.len());
    let mut newest_first: Vec<&str> = lines.iter().map(|r| r["runId"].as_str().unwrap()).collect();
    newest_first.reverse();
    let expected: Vec<&str> = list.iter().map(|r| r["runId"].as_str().unwrap()).collect();
    assert_eq!(
        newest_first, expected,
        "oldest first, the same runs as the run log"
    );
    assert!(lines
        .iter()
        .all(|r| r["outcome"] == "success" && r["runNumber"].as_u64().is_some()));

    let csv = env
        .http
        .get(env.url(&format!("/scheduler/jobs/{job}/runs/export")))
        .bearer_auth(&token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("runId,runNumber,scheduleId"));
    assert_eq!(rows.len(), list.len() + 1);
    assert!(
        rows[1].starts_with(lines[0]["runId"].as_str().unwrap()),
        "oldest first"
    );

    // A time range: nothing before the first run, nothing after the last.
    let first = ms(&list.last().unwrap()["scheduleTimestamp"]);
    let only_first = env
        .http
        .get(env.url(&format!(
            "/scheduler/jobs/{job}/runs/export?to={}",
            chime_core::time::format_instant(first + 500)
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(only_first.lines().count(), 1);
    // Bounds before 1970: no run is that old; a whole, empty answer, and every run from then.
    for (bounds, want) in [
        ("to=1960-01-01T00:00:00Z", 0),
        ("from=1969-12-31T23:59:59Z", list.len()),
    ] {
        let resp = env
            .http
            .get(env.url(&format!("/scheduler/jobs/{job}/runs/export?{bounds}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{bounds}");
        let text = resp.text().await.expect("the stream ends cleanly");
        assert_eq!(text.lines().count(), want, "{bounds}: {text}");
    }
    let (st, _) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job}/runs/export?from=nonsense"),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 400);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_past_the_retention_age_vanish_from_queries_and_from_redis() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let resp = env
        .http
        .put(env.url(&format!("/admin/tenants/{tenant}")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"runRetentionSeconds": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (job, sid) = create_job(
        &env,
        &token,
        "short-lived",
        &target.url("/r"),
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    let (_, early) = wait_until("2 runs", Duration::from_secs(20), || async {
        let (t, l) = runs(&env, &token, job, &sid).await;
        (t >= 2).then_some((t, l))
    })
    .await;
    let old_run = early.last().unwrap()["runId"].as_str().unwrap().to_string();
    let keys = Keys::new(env.namespace());
    let redis = env.store().await.connection();
    // A finished run is known by its id (which maps to its record's stream id).
    let (bucket, field) = keys.run_id_slot(&tenant, &old_run);
    let known = |redis: &chime_store::Conn| {
        let (mut redis, bucket, field) = (redis.clone(), bucket.clone(), field.clone());
        async move { redis.hexists::<_, _, bool>(&bucket, &field).await.unwrap() }
    };
    assert!(known(&redis).await);

    // Older than 3 s: gone from every query, its record forgotten and its stream entries
    // trimmed.
    wait_until(
        "the first run ages out",
        Duration::from_secs(20),
        || async {
            let (_, list) = runs(&env, &token, job, &sid).await;
            let gone = !list.iter().any(|r| r["runId"] == old_run.as_str()) && !list.is_empty();
            gone.then_some(())
        },
    )
    .await;
    let (st, _) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{old_run}"),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = env
        .call(
            "GET",
            &format!("/applications/{tenant}/jobLogs/{old_run}"),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 404);
    wait_until(
        "the run's id is forgotten",
        Duration::from_secs(10),
        || async { (!known(&redis).await).then_some(()) },
    )
    .await;
    // The streams are trimmed to the same age (by fires and by the leader's sweep): the
    // schedule's positions hold their runs' stream ids.
    for (stream, held) in [
        (keys.schedule_runs(&tenant, &sid), true),
        (keys.job_runs(&tenant, job), false),
        (keys.tenant_runs(&tenant), false),
    ] {
        wait_until(
            &format!("{stream} trimmed to the retention age"),
            Duration::from_secs(10),
            || async {
                let first: redis::streams::StreamRangeReply = redis
                    .clone()
                    .xrange_count(&stream, "-", "+", 1)
                    .await
                    .unwrap();
                let id = if held {
                    first.ids[0].get::<String>("x").unwrap()
                } else {
                    first.ids[0].id.clone()
                };
                let oldest: i64 = id.split('-').next().unwrap().parse().unwrap();
                let now = chrono::Utc::now().timestamp_millis();
                (now - oldest < 3000 + 1500).then_some(())
            },
        )
        .await;
    }
    let now = chrono::Utc::now().timestamp_millis();
    let (_, list) = runs(&env, &token, job, &sid).await;
    assert!(list
        .iter()
        .all(|r| now - ms(&r["scheduleTimestamp"]) < 3000 + 1500));
    set_active(&env, &token, job, false).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_job_deletes_its_runs_and_logs() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "doomed",
        &target.url("/d"),
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    wait_until("2 runs", Duration::from_secs(20), || async {
        (runs(&env, &token, job, &sid).await.0 >= 2).then_some(())
    })
    .await;
    set_active(&env, &token, job, false).await;
    let list = all_completed(&env, &token, job, &sid).await;
    let (st, _) = env
        .call("DELETE", &format!("/scheduler/jobs/{job}"), &token, None)
        .await;
    assert_eq!(st, 200);

    let (st, _) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs"),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = env
        .call("GET", &format!("/v2/schedules/{sid}/log"), &token, None)
        .await;
    assert_eq!(st, 404);
    for r in &list {
        let (st, _) = env
            .call(
                "GET",
                &format!(
                    "/applications/{tenant}/jobLogs/{}",
                    r["runId"].as_str().unwrap()
                ),
                &token,
                None,
            )
            .await;
        assert_eq!(st, 404);
    }
    let (_, all) = env
        .call(
            "GET",
            &format!("/applications/{tenant}/jobLogs"),
            &token,
            None,
        )
        .await;
    assert_eq!(all["totalCount"], 0, "{all}");
    let mut redis = env.store().await.connection();
    let left: Vec<String> = redis
        .keys(format!("{}:{{t:{tenant}}}:*", env.namespace()))
        .await
        .unwrap();
    // The tenant's own keys stay (its job id counter too: ids are not handed out again).
    let allowed = [
        "tenant",
        "keys",
        "seq",
        "jobs",
        "jobnames",
        "runs",
        "runs:success",
        "runs:failure",
        "runs:error",
        "runs:timeout",
        "schedjobs",
        "actions",
    ];
    for k in &left {
        let suffix = k.rsplit("}:").next().unwrap();
        assert!(allowed.contains(&suffix), "left behind: {k}");
    }
    env.cleanup().await;
}
