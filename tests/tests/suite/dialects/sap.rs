//! SAP's run log (`GET .../schedules/{scheduleId}/runs`): the seed's example request, every
//! field, the paging rule (1-based offset, defaults of 200 and 10, page_size 1-200), cursor
//! paging, one run in detail, and its errors; on seeded runs, and once on real fires (the
//! target is called once per run).
//!
//! Submodules: [`run_update`], the asynchronous update of a run acknowledged with 202 (`PUT
//! .../runs/{runId}`), and [`action_log`], the audit trail of a job's configuration changes.

mod action_log;
mod run_update;

use super::{
    detail, far_past_the_end, get, get_ok, instant, keys_of, page_ids, run_ids, runs_path,
    sap_error, wait_runs, wrong_secret, Auth,
};
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::{all_completed, create_job, runs, set_active, Target, TestEnv};
use serde_json::{json, Value};
use std::collections::HashSet;

/// A job whose schedule holds 12 seeded runs a minute apart, each executed 250 ms after its
/// scheduled instant: 4 answered 200 ("Sales order processed"), then 4 answered 500, then 4
/// answered 404. Returns the fixture and the run ids, newest first.
async fn sales_orders(env: &TestEnv) -> (SeededJob, Vec<String>) {
    let j = SeededJob::create(env, "sales-orders").await;
    let t0 = seed::minutes_ago(60);
    let mut ids = vec![];
    for i in 0..12 {
        let at = t0 + i * 60_000;
        let exec = at + 250;
        let result = match i / 4 {
            0 => seed::success(exec, "Sales order processed"),
            1 => seed::failure(exec, 500, "Something wrong happened"),
            _ => seed::failure(exec, 404, "no such order"),
        };
        ids.push(j.finished(at, &result).await);
    }
    ids.reverse();
    (j, ids)
}

/// The run log of the fixture's schedule.
fn base(j: &SeededJob) -> String {
    runs_path(j.job, &j.schedule, "")
}

/// Checks each `(query, run ids)` case: 200, the whole log's total of `n`, those runs.
async fn expect_pages(env: &TestEnv, j: &SeededJob, n: usize, cases: &[(String, Vec<String>)]) {
    for (q, want) in cases {
        let page = get_ok(env, &base(j), q, Auth::Bearer(&j.token)).await;
        assert_eq!(page["total"], n as u64, "?{q}: {page}");
        assert_eq!(&page_ids(&page), want, "?{q}");
    }
}

/// Checks each query answers 400 in SAP's shape, naming the parameter.
async fn expect_400(env: &TestEnv, j: &SeededJob, cases: &[(&str, &str)]) {
    for (q, name) in cases {
        let (st, body) = get(env, &base(j), q, Auth::Bearer(&j.token)).await;
        assert_eq!(st, 400, "?{q}: {body}");
        sap_error(&body, 400);
        assert!(
            body["message"].as_str().unwrap().contains(name),
            "?{q}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_seed_example_returns_the_three_newest_runs_and_the_total() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let page = get_ok(
        &env,
        &base(&j),
        "page_size=3&offset=1",
        Auth::Bearer(&j.token),
    )
    .await;
    assert_eq!(page["total"], ids.len() as u64);
    assert_eq!(page_ids(&page), ids[..3]);
    env.cleanup().await;
}

/// Every field of every entry, for each outcome (SUCCESS 200, ERROR 500, REQUEST_ERROR 404),
/// newest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_run_entries_have_every_field_for_each_outcome() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let (_, all) = runs(&env, &j.token, j.job, &j.schedule).await;
    assert_eq!(run_ids(&all), ids);
    let mut states = HashSet::new();
    let mut last_sched = i64::MAX;
    for r in &all {
        assert_eq!(
            keys_of(r),
            [
                "completionTimestamp",
                "executionTimestamp",
                "httpStatus",
                "runId",
                "runState",
                "runStatus",
                "runText",
                "scheduleTimestamp"
            ],
            "{r}"
        );
        let id = r["runId"].as_str().unwrap();
        assert!(
            id.len() == 32
                && id
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
            "{id}"
        );
        assert_eq!(r["runStatus"], "COMPLETED");
        let sched = instant(&r["scheduleTimestamp"], "scheduleTimestamp");
        let exec = instant(&r["executionTimestamp"], "executionTimestamp");
        let done = instant(&r["completionTimestamp"], "completionTimestamp");
        assert!(sched <= exec && exec <= done, "{r}");
        assert!(sched < last_sched, "not newest first: {all:?}");
        last_sched = sched;
        let state = r["runState"].as_str().unwrap();
        states.insert(state.to_string());
        let text = r["runText"].as_str().unwrap();
        match state {
            "SUCCESS" => assert_eq!(text, "Sales order processed", "{r}"),
            "ERROR" => assert!(text.contains("500"), "{r}"),
            "REQUEST_ERROR" => assert!(text.contains("404"), "{r}"),
            other => panic!("unexpected runState {other}: {r}"),
        }
        let http = [("SUCCESS", 200), ("ERROR", 500), ("REQUEST_ERROR", 404)];
        assert_eq!(
            r["httpStatus"],
            http.iter().find(|h| h.0 == state).unwrap().1,
            "{r}"
        );
    }
    assert_eq!(states.len(), 3, "{states:?}");
    env.cleanup().await;
}

/// Real fires: the scheduler fires, a worker calls the target for each run, and the run log
/// lists exactly the runs the target saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_run_log_lists_each_real_fire_the_target_saw() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    target.set_reply(200, "Sales order processed", false);
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "sales-orders",
        &target.url("/orders"),
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    wait_runs(&env, &token, job, &sid, "2 runs completed", |l| {
        l.iter().filter(|r| r["runStatus"] == "COMPLETED").count() >= 2
    })
    .await;
    set_active(&env, &token, job, false).await;
    let all = all_completed(&env, &token, job, &sid).await;
    for r in &all {
        assert_eq!(r["runState"], "SUCCESS", "{r}");
        assert_eq!(r["runText"], "Sales order processed", "{r}");
        let sched = instant(&r["scheduleTimestamp"], "scheduleTimestamp");
        let exec = instant(&r["executionTimestamp"], "executionTimestamp");
        assert!(sched <= exec, "{r}");
        assert!(exec <= instant(&r["completionTimestamp"], "completionTimestamp"));
    }
    let called: HashSet<String> = target
        .hits()
        .iter()
        .filter_map(|h| h.header("x-sap-job-run-id").map(String::from))
        .collect();
    assert_eq!(called, run_ids(&all).into_iter().collect::<HashSet<_>>());
    env.cleanup().await;
}

// ------------------------------------------------------------------------------ paging

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_offset_is_one_based_with_page_sizes_of_200_and_10_by_default() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let cases = [
        (String::new(), ids.clone()),
        ("offset=1".into(), ids[..10].to_vec()),
        ("offset=0".into(), ids[..10].to_vec()),
        ("offset=3".into(), ids[2..12].to_vec()),
        ("page_size=1".into(), ids[..1].to_vec()),
        ("page_size=200".into(), ids.clone()),
    ];
    expect_pages(&env, &j, ids.len(), &cases).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_page_size_and_offset_combine_in_either_order() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let cases = [
        ("page_size=4&offset=5".into(), ids[4..8].to_vec()),
        ("offset=5&page_size=4".into(), ids[4..8].to_vec()),
        ("page_size=2&offset=0".into(), ids[..2].to_vec()),
        ("page_size=2&offset=2".into(), ids[1..3].to_vec()),
    ];
    expect_pages(&env, &j, ids.len(), &cases).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_last_page_is_short_and_past_the_end_is_empty() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let n = ids.len();
    let cases = [
        (
            format!("page_size=5&offset={}", n - 1),
            ids[n - 2..].to_vec(),
        ),
        (format!("page_size=5&offset={n}"), ids[n - 1..].to_vec()),
        (format!("page_size=5&offset={}", n + 1), vec![]),
        (format!("offset={}", n + 1), vec![]),
        ("page_size=5&offset=1000000".into(), vec![]),
    ];
    expect_pages(&env, &j, n, &cases).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_offset_far_past_the_end_is_never_a_server_fault() {
    let env = TestEnv::api_only().await;
    let j = SeededJob::create(&env, "one-run").await;
    j.finished(
        seed::minutes_ago(5),
        &seed::success(seed::minutes_ago(5), "ok"),
    )
    .await;
    let max = i64::MAX;
    for q in [
        format!("offset={max}"),
        format!("page_size=200&offset={max}"),
    ] {
        far_past_the_end(&env, &j.token, &base(&j), &q, ("/results", "/total"), 1).await;
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_unknown_paging_parameters_are_ignored() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let cases = [("page_size=2&foo=bar&sort=asc".into(), ids[..2].to_vec())];
    expect_pages(&env, &j, ids.len(), &cases).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_page_size_out_of_range_is_a_400() {
    let env = TestEnv::api_only().await;
    let (j, _) = sales_orders(&env).await;
    let cases = [
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_size=abc", "page_size"),
        ("page_size=1.5", "page_size"),
        ("page_size=", "page_size"),
    ];
    expect_400(&env, &j, &cases).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_negative_or_malformed_offset_is_a_400() {
    let env = TestEnv::api_only().await;
    let (j, _) = sales_orders(&env).await;
    let cases = [
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("page_size=3&offset=-2", "offset"),
    ];
    expect_400(&env, &j, &cases).await;
    env.cleanup().await;
}

// ----------------------------------------------------------------------------- cursors

/// Follows `next_url` from the newest page of 5 to the oldest, checking each page's links;
/// returns the pages' run ids and bodies.
async fn walk_next_urls(env: &TestEnv, j: &SeededJob, n: usize) -> (Vec<Vec<String>>, Vec<Value>) {
    let base = base(j);
    let mut url = format!("{base}?page_size=5");
    let (mut pages, mut bodies): (Vec<Vec<String>>, Vec<Value>) = (vec![], vec![]);
    loop {
        let (path, q) = url.split_once('?').unwrap();
        let page = get_ok(env, path, q, Auth::Bearer(&j.token)).await;
        let got = page_ids(&page);
        assert!(!got.is_empty(), "{url}: {page}");
        if let Some(next) = page.get("next_url") {
            let want = format!("{base}?page_size=5&next={}", got.last().unwrap());
            assert_eq!(next.as_str().unwrap(), want);
        }
        match page.get("prev_url") {
            None => assert!(
                pages.is_empty(),
                "only the first page has no prev_url: {page}"
            ),
            Some(prev) => assert_eq!(
                prev.as_str().unwrap(),
                format!("{base}?page_size=5&prev={}", got[0])
            ),
        }
        pages.push(got);
        let next = page
            .get("next_url")
            .map(|u| u.as_str().unwrap().to_string());
        bodies.push(page);
        match next {
            Some(u) => url = u,
            None => return (pages, bodies),
        }
        assert!(pages.len() <= n, "next_url never ends");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_next_url_walks_the_whole_log_once() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let (pages, _) = walk_next_urls(&env, &j, ids.len()).await;
    assert_eq!(pages.concat(), ids, "next_url walks the whole log once");
    assert_eq!(pages.len(), ids.len().div_ceil(5));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_prev_url_walks_back_over_the_same_pages() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let n = ids.len();
    let (pages, bodies) = walk_next_urls(&env, &j, n).await;
    let mut back: Vec<Vec<String>> = vec![pages.last().unwrap().clone()];
    let mut prev = bodies.last().unwrap().get("prev_url").cloned();
    while let Some(u) = prev {
        let u = u.as_str().unwrap().to_string();
        let (path, q) = u.split_once('?').unwrap();
        let page = get_ok(&env, path, q, Auth::Bearer(&j.token)).await;
        assert!(
            page.get("next_url").is_some(),
            "{u}: older runs exist: {page}"
        );
        back.push(page_ids(&page));
        prev = page.get("prev_url").cloned();
        assert!(back.len() <= n, "prev_url never ends");
    }
    back.reverse();
    assert_eq!(back, pages, "prev_url walks back over the same pages");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_offset_page_links_both_ways() {
    let env = TestEnv::api_only().await;
    let (j, _) = sales_orders(&env).await;
    let page = get_ok(
        &env,
        &base(&j),
        "page_size=2&offset=3",
        Auth::Bearer(&j.token),
    )
    .await;
    assert!(
        page.get("prev_url").is_some() && page.get("next_url").is_some(),
        "{page}"
    );
    env.cleanup().await;
}

/// `next` and `prev` name a run: the page starts past it, either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_cursor_pages_start_past_the_named_run() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let n = ids.len();
    let auth = Auth::Bearer(&j.token);
    let page = |q: String| {
        let (env, base) = (&env, base(&j));
        async move { get_ok(env, &base, &q, auth).await }
    };
    let p = page(format!("page_size=3&next={}", ids[4])).await;
    assert_eq!(page_ids(&p), ids[5..8]);
    let p = page(format!("page_size=3&prev={}", ids[4])).await;
    assert_eq!(page_ids(&p), ids[1..4]);
    // Back to the newest run: no newer page.
    let p = page(format!("page_size=3&prev={}", ids[1])).await;
    assert_eq!(page_ids(&p), ids[..1]);
    assert!(p.get("prev_url").is_none(), "{p}");
    // Past the oldest run: empty, no links.
    let p = page(format!("next={}", ids[n - 1])).await;
    assert_eq!(p["results"], json!([]), "{p}");
    assert!(
        p.get("next_url").is_none() && p.get("prev_url").is_none(),
        "{p}"
    );
    env.cleanup().await;
}

/// `prev` naming the oldest run: the runs just newer than it, not the named run itself (the
/// query engine's whole-stream path once took an exclusive cursor in the stream's first
/// millisecond for the start of the stream).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_prev_of_the_oldest_run_lists_the_runs_just_newer() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    let n = ids.len();
    let q = format!("page_size=3&prev={}", ids[n - 1]);
    let page = get_ok(&env, &base(&j), &q, Auth::Bearer(&j.token)).await;
    assert_eq!(page_ids(&page), ids[n - 4..n - 1], "{page}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_both_cursors_or_an_unknown_cursor_is_a_400() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    for q in [
        format!("next={}&prev={}", ids[1], ids[2]),
        "next=0123456789ABCDEF0123456789ABCDEF".to_string(),
        "prev=nope".to_string(),
    ] {
        let (st, body) = get(&env, &base(&j), &q, Auth::Bearer(&j.token)).await;
        assert_eq!(st, 400, "?{q}: {body}");
        sap_error(&body, 400);
    }
    env.cleanup().await;
}

/// Cursor pages (`next`, `prev`) report the same `total` as offset pages: the number of runs
/// in the schedule's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_cursor_pages_report_the_schedule_total() {
    let env = TestEnv::api_only().await;
    let (j, ids) = sales_orders(&env).await;
    for q in [
        "page_size=1".to_string(),
        format!("page_size=1&next={}", ids[0]),
        format!("page_size=1&next={}", ids[1]),
        format!("page_size=1&prev={}", ids[2]),
    ] {
        let page = get_ok(&env, &base(&j), &q, Auth::Bearer(&j.token)).await;
        assert_eq!(page["total"], ids.len() as u64, "?{q}: {page}");
    }
    env.cleanup().await;
}

// ----------------------------------------------------------------------------- one run

/// One run: the list entry's SAP fields, and chime's details (job, schedule, text log).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_run_detail_adds_chime_details_to_the_list_entry() {
    let env = TestEnv::api_only().await;
    let (j, _) = sales_orders(&env).await;
    let (_, all) = runs(&env, &j.token, j.job, &j.schedule).await;
    for r in [&all[0], all.last().unwrap()] {
        let d = detail(
            &env,
            &j.token,
            j.job,
            &j.schedule,
            r["runId"].as_str().unwrap(),
        )
        .await;
        for f in keys_of(r) {
            assert_eq!(d[f], r[f], "{f}: {d}");
        }
        assert_eq!(d["jobId"], j.job);
        assert_eq!(d["scheduleId"], j.schedule.as_str());
        assert!(d["log"].as_str().unwrap().contains("scheduled"), "{d}");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_unknown_run_or_schedule_answers_404() {
    let env = TestEnv::api_only().await;
    let (j, _) = sales_orders(&env).await;
    for path in [
        runs_path(j.job, &j.schedule, "NOPE"),
        runs_path(j.job, "nope", ""),
    ] {
        let (st, body) = get(&env, &path, "", Auth::Bearer(&j.token)).await;
        assert_eq!(st, 404, "{path}: {body}");
        sap_error(&body, 404);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_run_log_with_a_wrong_secret_answers_401() {
    let env = TestEnv::api_only().await;
    let (j, _) = sales_orders(&env).await;
    let (st, body) = get(&env, &base(&j), "", Auth::Bearer(&wrong_secret(&j.token))).await;
    assert_eq!(st, 401, "{body}");
    sap_error(&body, 401);
    env.cleanup().await;
}
