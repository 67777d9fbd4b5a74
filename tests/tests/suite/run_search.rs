//! The tenant-wide run search, `GET /scheduler/runs`: every filter (status, state, outcome,
//! job, time window, HTTP status, duration, body text) against a reference computed from the
//! seeded runs, the cursor paging newest first (the unfinished runs, then the finished ones),
//! a bounded call's short pages, a deleted job's runs leaving the outcome index, another
//! tenant's runs never shown, and bad input named; on seeded runs.

use chime_store::RunSearch;
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::{wait_until, TestEnv};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

/// Follows a search from `query` through its `nextUrl`s: the run ids found, in order.
async fn all_pages(env: &TestEnv, token: &str, query: &str) -> Vec<String> {
    let mut path = format!("/scheduler/runs?{query}");
    let mut found = vec![];
    for _ in 0..1000 {
        let (st, v) = env.call("GET", &path, token, None).await;
        assert_eq!(st, 200, "{path}: {v}");
        for r in v["results"].as_array().expect("results") {
            found.push(r["runId"].as_str().expect("runId").to_string());
        }
        match v["nextUrl"].as_str() {
            Some(next) => path = next.to_string(),
            None => {
                assert!(v.get("cursor").is_none(), "{v}");
                return found;
            }
        }
    }
    panic!("{query}: the search never ended");
}

/// One seeded run: its id, job, outcome, HTTP status, duration, body, and whether it finished.
#[derive(Clone, Debug)]
struct Seeded {
    id: String,
    job: u64,
    outcome: Option<&'static str>,
    http: Option<u16>,
    duration: u64,
    body: Option<String>,
    state: &'static str,
}

/// Waits until Redis's clock (the run streams') is past `ms`.
async fn past(env: &TestEnv, ms: i64) {
    let store = env.store().await;
    wait_until("Redis's clock moves on", Duration::from_secs(5), || async {
        (store.now_ms().await.expect("redis") > ms).then_some(())
    })
    .await;
}

/// Two jobs of one tenant with six finished runs (three finished before `mid`, by Redis's
/// clock, three after), an acknowledged and a scheduled run; another tenant's run beside them.
struct Fixture {
    env: TestEnv,
    a: SeededJob,
    b: SeededJob,
    other: SeededJob,
    /// The finished runs, oldest first.
    runs: Vec<Seeded>,
    acked: String,
    waiting: String,
    mid: i64,
}

impl Fixture {
    /// The finished runs `keep` keeps, newest first.
    fn finished(&self, keep: &dyn Fn(&Seeded) -> bool) -> Vec<String> {
        self.runs
            .iter()
            .rev()
            .filter(|s| keep(s))
            .map(|s| s.id.clone())
            .collect()
    }
}

async fn fixture() -> Fixture {
    let env = TestEnv::api_only().await;
    let a = SeededJob::create(&env, "orders").await;
    let b = SeededJob::with_schedule(
        &env,
        &a.tenant,
        &a.token,
        "invoices",
        json!({"repeatInterval": "1 hour", "active": true}),
    )
    .await;
    let other = SeededJob::create(&env, "orders").await;
    let t0 = seed::minutes_ago(30);
    let mut runs: Vec<Seeded> = vec![];
    let seed_one = |j: &SeededJob, r: chime_store::RunResult| {
        let (job, outcome) = (j.job, r.outcome.map(|o| o.as_str()));
        let seeded = Seeded {
            id: String::new(),
            job,
            outcome,
            http: r.http_status,
            duration: r.duration_ms,
            body: r.body.clone(),
            state: r.state.as_str(),
        };
        (seeded, r)
    };
    let plan = vec![
        seed_one(&a, seed::success(t0, "{\"ok\":true}")),
        seed_one(&a, seed::failure(t0 + 1_000, 500, "disk full")),
        seed_one(&b, seed::success(t0 + 2_000, "Order 42 shipped")),
        seed_one(&a, seed::timeout(t0 + 3_000, 3_000)),
        seed_one(&b, seed::failure(t0 + 4_000, 404, "no such order")),
        seed_one(&a, seed::success(t0 + 5_000, "order 42 ready")),
    ];
    // The first three finish before `mid` (Redis's clock), the rest after.
    let mut mid = 0;
    for (k, (mut s, r)) in plan.into_iter().enumerate() {
        let j = if s.job == a.job { &a } else { &b };
        s.id = j.finished(r.executed_at, &r).await;
        runs.push(s);
        if k == 2 {
            mid = env.store().await.now_ms().await.expect("redis");
            past(&env, mid).await;
        }
    }
    // Not finished: acknowledged (202) and scheduled.
    let acked = a.finished(t0 + 6_000, &seed::accepted(t0 + 6_000)).await;
    let waiting = b.seeder.scheduled(t0 + 7_000).await;
    other
        .finished(t0, &seed::failure(t0, 500, "disk full"))
        .await;

    Fixture {
        env,
        a,
        b,
        other,
        runs,
        acked,
        waiting,
        mid,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_search_filters_pages_and_keeps_to_its_tenant() {
    let f = fixture().await;
    let (env, a, b) = (&f.env, &f.a, &f.b);
    let (acked, waiting, mid, runs) = (&f.acked, &f.waiting, f.mid, &f.runs);
    // Everything, newest first, 2 a page: the unfinished runs (newest created first), then
    // the finished ones (newest finished first).
    let mut expected = vec![waiting.clone(), acked.clone()];
    expected.extend(runs.iter().rev().map(|s| s.id.clone()));
    assert_eq!(all_pages(env, &a.token, "limit=2").await, expected);

    // Each filter against the reference.
    let finished = |keep: &dyn Fn(&Seeded) -> bool| f.finished(keep);
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            "outcome=failure".into(),
            finished(&|s| s.outcome == Some("failure")),
        ),
        (
            "outcome=failure,timeout&limit=1".into(),
            finished(&|s| matches!(s.outcome, Some("failure" | "timeout"))),
        ),
        ("state=ERROR".into(), finished(&|s| s.state == "ERROR")),
        (
            "httpStatus=5xx".into(),
            finished(&|s| s.http.is_some_and(|h| h >= 500)),
        ),
        (
            "httpStatus=404,200".into(),
            finished(&|s| matches!(s.http, Some(404 | 200))),
        ),
        (
            "durationAbove=1000".into(),
            finished(&|s| s.duration > 1000),
        ),
        (
            "bodyContains=ORDER%2042".into(),
            finished(&|s| {
                s.body
                    .as_deref()
                    .is_some_and(|b| b.to_lowercase().contains("order 42"))
            }),
        ),
        (
            format!("jobId={}&outcome=success", b.job),
            finished(&|s| s.job == b.job && s.outcome == Some("success")),
        ),
        (
            format!("jobId={}&status=SCHEDULED", b.job),
            vec![waiting.clone()],
        ),
        ("state=ACK_RECVD".into(), vec![acked.clone()]),
        (
            format!("status=COMPLETED&to={}", iso(mid)),
            runs[..3].iter().rev().map(|s| s.id.clone()).collect(),
        ),
        (
            format!("status=COMPLETED&from={}", iso(mid + 1)),
            runs[3..].iter().rev().map(|s| s.id.clone()).collect(),
        ),
        (format!("from={}", iso(seed::minutes_ago(-60))), vec![]),
    ];
    for (query, want) in &cases {
        assert_eq!(&all_pages(env, &a.token, query).await, want, "{query}");
    }
    // The other tenant sees only its own run.
    assert_eq!(all_pages(env, &f.other.token, "").await.len(), 1);
    f.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bounded_call_pages_short_and_a_deleted_job_leaves_the_indexes() {
    let f = fixture().await;
    let (env, a, b) = (&f.env, &f.a, &f.b);
    let failed = f.finished(&|s| s.outcome == Some("failure"));
    // A call examines a bounded number of entries: pages of at most that many, ending when
    // the index does, together the whole answer.
    let store = env.store().await;
    let mut q = RunSearch::new(&a.tenant);
    q.outcomes = vec![chime_core::run::Outcome::Failure];
    q.budget = 1;
    let (mut seen, mut calls) = (vec![], 0);
    loop {
        let page = store.search_runs(&q).await.expect("search");
        assert!(page.examined <= 1 && page.runs.len() <= 1, "{page:?}");
        seen.extend(page.runs.into_iter().map(|r| r.run_id));
        calls += 1;
        match page.cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, failed);
    assert!(calls >= 2, "{calls} calls");

    // A deleted job's runs leave every index the search reads.
    let (st, _) = env
        .call(
            "DELETE",
            &format!("/scheduler/jobs/{}", b.job),
            &a.token,
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        all_pages(env, &a.token, "outcome=failure").await,
        f.finished(&|s| s.job == a.job && s.outcome == Some("failure"))
    );
    assert_eq!(
        all_pages(env, &a.token, "bodyContains=order%2042").await,
        f.finished(&|s| s.job == a.job && s.body.as_deref() == Some("order 42 ready"))
    );
    f.env.cleanup().await;
}

fn iso(ms: i64) -> String {
    chime_core::time::format_instant(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_search_input_is_named() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read"]).await;
    for (query, field) in [
        ("status=DONE", "status"),
        ("state=SUCCESS,NOPE", "state"),
        ("outcome=fine", "outcome"),
        ("jobId=x", "jobId"),
        ("from=yesterday", "from"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("httpStatus=6xx", "httpStatus"),
        ("durationAbove=-1", "durationAbove"),
        ("bodyContains=", "bodyContains"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=Zg", "cursor"),
    ] {
        let (st, v) = env
            .call("GET", &format!("/scheduler/runs?{query}"), &token, None)
            .await;
        assert_eq!(st, 400, "{query}: {v}");
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(msg.contains(&format!("'{field}'")), "{query}: {v}");
    }
    let (st, v) = env.call("GET", "/scheduler/runs", &token, None).await;
    assert_eq!((st, &v["results"]), (200, &json!([])), "{v}");
    env.cleanup().await;
}

/// A1Base's date filter reads the runs that finished within the job's lag of its bounds and
/// counts the span between them by positions: pages across the three parts match the runs
/// executed within the dates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_dates_page_across_the_lag_and_the_span() {
    let env = TestEnv::api_only().await;
    let j = SeededJob::create(&env, "ticks").await;
    let store = env.store().await;
    let mut executed = vec![];
    for _ in 0..24 {
        let at = store.now_ms().await.expect("redis");
        j.finished(at, &seed::success(at, "{}")).await;
        executed.push(at);
        past(&env, at + 25).await;
    }
    let lag = store.job_lag(&j.tenant, j.job).await.expect("lag");
    let (start, end) = (executed[4], executed[19]);
    // The span exists: the dates are far wider than twice the lag.
    assert!(end - start > 2 * lag + 50, "lag {lag} ms");
    let want: BTreeSet<i64> = executed
        .iter()
        .copied()
        .filter(|e| (start..=end).contains(e))
        .collect();
    let mut got = vec![];
    for page in 1..=4 {
        let path = format!(
            "/v1/cron-jobs/{}/logs/{}?limit=5&page={page}&start_date={}&end_date={}",
            j.tenant,
            j.job,
            iso(start),
            iso(end)
        );
        let (st, v) = env.call("GET", &path, &j.token, None).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["pagination"]["total_items"], json!(want.len()), "{v}");
        for d in v["data"].as_array().expect("data") {
            got.push(chime_testkit::jobs::ms(&d["executed_at"]));
        }
    }
    let mut newest_first: Vec<i64> = want.into_iter().collect();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_is_found_by_its_id_alone_and_only_by_its_tenant() {
    let f = fixture().await;
    let (env, a, b) = (&f.env, &f.a, &f.b);
    // A finished run of each job, the acknowledged one and the one not run yet.
    let second_of_b = f.runs.iter().find(|s| s.job == b.job).unwrap();
    for (id, job, schedule) in [
        (&f.runs[0].id, a.job, &a.schedule),
        (&second_of_b.id, b.job, &b.schedule),
        (&f.acked, a.job, &a.schedule),
        (&f.waiting, b.job, &b.schedule),
    ] {
        let (st, run) = env
            .call("GET", &format!("/scheduler/runs/{id}"), &a.token, None)
            .await;
        assert_eq!(st, 200, "{run}");
        assert_eq!(run["runId"], id.as_str());
        assert_eq!(run["jobId"], job);
        assert_eq!(run["scheduleId"], schedule.as_str());
        // The same answer as the schedule's own route.
        let (_, same) = env
            .call(
                "GET",
                &format!("/scheduler/jobs/{job}/schedules/{schedule}/runs/{id}"),
                &a.token,
                None,
            )
            .await;
        assert_eq!(run, same);
    }
    assert_eq!(
        env.call(
            "GET",
            &format!("/scheduler/runs/{}", f.runs[1].id),
            &a.token,
            None
        )
        .await
        .1["outcome"],
        "failure"
    );
    // Another tenant's run, or no run at all: 404.
    let (st, _) = env
        .call(
            "GET",
            &format!("/scheduler/runs/{}", f.runs[0].id),
            &f.other.token,
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = env
        .call(
            "GET",
            "/scheduler/runs/00000000000000000000000000000000",
            &a.token,
            None,
        )
        .await;
    assert_eq!(st, 404);
    f.env.cleanup().await;
}
