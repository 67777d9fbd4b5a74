//! The run-log dialects end to end, on runs really fired by the scheduler and executed by a
//! worker against local HTTP targets: SAP's run log (offset and cursor paging, one run, the
//! asynchronous update, the action log), A1Base's execution history, Apify's schedule log,
//! Huawei CodeArts Build's real-time log and Losant's job logs. Each dialect is checked with
//! its seed's own example request, every documented field, its paging rule and edge cases,
//! its filters against a reference computed from SAP's run log of the same job, its error
//! shape, and tenant isolation.

use chime_testkit::{create_job, runs, set_active, wait_until, Target, TestEnv};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(25);

// ------------------------------------------------------------------------------ helpers

/// How a request presents its key.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// `Authorization: Bearer <id>.<secret>`.
    Bearer(&'a str),
    /// `X-API-Key: <id>` and `X-API-Secret: <secret>` (A1Base).
    ApiKey(&'a str),
    /// `X-Auth-Token: <id>.<secret>` (Huawei).
    XAuthToken(&'a str),
    /// `?token=<id>.<secret>` (Apify).
    QueryToken(&'a str),
    None,
}

/// `GET path?query` with `auth`; returns the status and the JSON body (Null when not JSON).
async fn get(env: &TestEnv, path: &str, query: &str, auth: Auth<'_>) -> (u16, Value) {
    let mut url = env.url(path);
    let mut query = query.to_string();
    if let Auth::QueryToken(t) = auth {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("token={t}"));
    }
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    let mut req = env.http.get(url);
    match auth {
        Auth::Bearer(t) => req = req.bearer_auth(t),
        Auth::ApiKey(t) => {
            let (id, secret) = t.split_once('.').unwrap();
            req = req.header("X-API-Key", id).header("X-API-Secret", secret);
        }
        Auth::XAuthToken(t) => req = req.header("X-Auth-Token", t),
        Auth::QueryToken(_) | Auth::None => {}
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A key of the same key id with a wrong secret.
fn wrong_secret(token: &str) -> String {
    format!("{}.{}", token.split_once('.').unwrap().0, "0".repeat(48))
}

/// The key id of a token (the `user` of action logs).
fn key_id(token: &str) -> &str {
    token.split_once('.').unwrap().0
}

/// Another key of `tenant` with `scopes`; returns its token.
async fn key(env: &TestEnv, tenant: &str, scopes: &[&str]) -> String {
    let k: Value = env
        .http
        .post(env.url(&format!("/admin/tenants/{tenant}/keys")))
        .bearer_auth(chime_testkit::ADMIN_TOKEN)
        .json(&json!({"scopes": scopes}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    k["token"].as_str().unwrap().to_string()
}

/// Creates a job from a full SAP body; returns (job id, first schedule id).
async fn create_job_with(env: &TestEnv, token: &str, body: Value) -> (u64, String) {
    let (st, b) = env.call("POST", "/scheduler/jobs", token, Some(body)).await;
    assert_eq!(st, 201, "create job: {b}");
    (
        b["_id"].as_u64().unwrap(),
        b["schedules"][0]["scheduleId"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

async fn set_action(env: &TestEnv, token: &str, job: u64, action: &str) {
    let (st, b) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{job}"),
            token,
            Some(json!({"action": action})),
        )
        .await;
    assert_eq!(st, 200, "update action: {b}");
}

fn completed(list: &[Value]) -> usize {
    list.iter()
        .filter(|r| r["runStatus"] == "COMPLETED")
        .count()
}

fn is_timeout(r: &Value) -> bool {
    r["runStatus"] == "COMPLETED"
        && r["httpStatus"].is_null()
        && r["runText"]
            .as_str()
            .is_some_and(|t| t.contains("timed out"))
}

fn is_blocked(r: &Value) -> bool {
    r["runStatus"] == "COMPLETED"
        && r["runText"]
            .as_str()
            .is_some_and(|t| t.contains("SSRF guard"))
}

/// Waits until the schedule's run log (newest first) satisfies `pred`, and returns it.
async fn wait_runs(
    env: &TestEnv,
    token: &str,
    job: u64,
    sid: &str,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let pred = &pred;
    wait_until(what, WITHIN, || async move {
        let (_, list) = runs(env, token, job, sid).await;
        pred(&list).then_some(list)
    })
    .await
}

/// Waits until every run of the schedule has its result (COMPLETED, or acknowledged with 202
/// when `ack_ok`); returns the run log, newest first.
async fn settle(env: &TestEnv, token: &str, job: u64, sid: &str, ack_ok: bool) -> Vec<Value> {
    wait_runs(env, token, job, sid, "every run settled", |l| {
        !l.is_empty()
            && l.iter()
                .all(|r| r["runStatus"] == "COMPLETED" || (ack_ok && r["runState"] == "ACK_RECVD"))
    })
    .await
}

/// SAP's detail of one run (`GET .../runs/{runId}`).
async fn detail(env: &TestEnv, token: &str, job: u64, sid: &str, run: &str) -> Value {
    let (st, d) = get(
        env,
        &format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{run}"),
        "",
        Auth::Bearer(token),
    )
    .await;
    assert_eq!(st, 200, "run detail: {d}");
    d
}

fn run_ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|r| r["runId"].as_str().unwrap().to_string())
        .collect()
}

/// Checks an instant is RFC 3339 with milliseconds and `Z`; returns it in ms.
fn instant(v: &Value, what: &str) -> i64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected an instant, got {v}"));
    let b = s.as_bytes();
    assert!(
        s.len() == 24 && s.ends_with('Z') && b[10] == b'T' && b[19] == b'.',
        "{what}: not YYYY-MM-DDTHH:MM:SS.mmmZ: {s}"
    );
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{what}: {s}: {e}"))
        .timestamp_millis()
}

fn sap_error(body: &Value, code: u16) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["type"].is_string(), "{body}");
    assert_eq!(body["detailedError"], body["message"], "{body}");
}

fn a1base_error(body: &Value, code: u16) {
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn apify_error(body: &Value, kind: &str) {
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn huawei_error(body: &Value) {
    assert!(
        body["error_code"].as_str().is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    assert!(
        body["error_msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn losant_error(body: &Value, kind: &str) {
    assert_eq!(body["type"], kind, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
}

fn keys_of(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

// ---------------------------------------------------------------------------------- SAP

/// SAP's run log: the seed's example request, every field of a mix of outcomes, the paging
/// rule (1-based offset, defaults of 200 and 10, page_size 1-200), and cursor paging.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_run_log_seed_example_paging_and_cursors() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    target.set_reply(200, "Sales order processed", false);
    let (job, sid) = create_job(
        &env,
        &token,
        "sales-orders",
        &target.url("/orders"),
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    // 200s, then 500s, then 404s: more than 10 runs in all.
    wait_runs(&env, &token, job, &sid, "4 runs completed", |l| {
        completed(l) >= 4
    })
    .await;
    target.set_reply(500, "Something wrong happened", false);
    wait_runs(&env, &token, job, &sid, "8 runs, one a 500", |l| {
        completed(l) >= 8 && l.iter().any(|r| r["httpStatus"] == 500)
    })
    .await;
    target.set_reply(404, "no such order", false);
    wait_runs(&env, &token, job, &sid, "12 runs, one a 404", |l| {
        completed(l) >= 12 && l.iter().any(|r| r["httpStatus"] == 404)
    })
    .await;
    set_active(&env, &token, job, false).await;
    let all = settle(&env, &token, job, &sid, false).await;
    let n = all.len();
    assert!(n >= 12, "{n} runs");
    let ids = run_ids(&all);
    let base = format!("/scheduler/jobs/{job}/schedules/{sid}/runs");
    let auth = Auth::Bearer(&token);

    // The seed's example request: the 3 newest runs and the total.
    let (st, page) = get(&env, &base, "page_size=3&offset=1", auth).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["total"], n as u64);
    assert_eq!(run_ids(page["results"].as_array().unwrap()), ids[..3]);

    // Every field, for every outcome; newest first.
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
        match state {
            "SUCCESS" => {
                assert_eq!(r["httpStatus"], 200, "{r}");
                assert_eq!(r["runText"], "Sales order processed", "{r}");
            }
            "ERROR" => {
                assert_eq!(r["httpStatus"], 500, "{r}");
                assert!(r["runText"].as_str().unwrap().contains("500"), "{r}");
            }
            "REQUEST_ERROR" => {
                assert_eq!(r["httpStatus"], 404, "{r}");
                assert!(r["runText"].as_str().unwrap().contains("404"), "{r}");
            }
            other => panic!("unexpected runState {other}: {r}"),
        }
    }
    assert_eq!(states.len(), 3, "{states:?}");
    // The target was called once per run, and only for those.
    let hit_runs: HashSet<String> = target
        .hits()
        .iter()
        .filter_map(|h| h.header("x-sap-job-run-id").map(String::from))
        .collect();
    assert_eq!(hit_runs, ids.iter().cloned().collect::<HashSet<_>>());

    // The paging rule.
    let cases: Vec<(String, Vec<String>)> = vec![
        (String::new(), ids.clone()),
        ("offset=1".into(), ids[..10].to_vec()),
        ("offset=0".into(), ids[..10].to_vec()),
        ("offset=3".into(), ids[2..12].to_vec()),
        ("page_size=1".into(), ids[..1].to_vec()),
        ("page_size=200".into(), ids.clone()),
        ("page_size=4&offset=5".into(), ids[4..8].to_vec()),
        ("offset=5&page_size=4".into(), ids[4..8].to_vec()),
        ("page_size=2&offset=0".into(), ids[..2].to_vec()),
        ("page_size=2&offset=2".into(), ids[1..3].to_vec()),
        // The last page, and past the end.
        (
            format!("page_size=5&offset={}", n - 1),
            ids[n - 2..].to_vec(),
        ),
        (format!("page_size=5&offset={n}"), ids[n - 1..].to_vec()),
        (format!("page_size=5&offset={}", n + 1), vec![]),
        (format!("offset={}", n + 1), vec![]),
        ("page_size=5&offset=1000000".into(), vec![]),
        // Unknown parameters are ignored.
        ("page_size=2&foo=bar&sort=asc".into(), ids[..2].to_vec()),
    ];
    for (q, want) in &cases {
        let (st, page) = get(&env, &base, q, auth).await;
        assert_eq!(st, 200, "{q}: {page}");
        assert_eq!(page["total"], n as u64, "{q}: {page}");
        assert_eq!(&run_ids(page["results"].as_array().unwrap()), want, "?{q}");
    }
    for (q, name) in [
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_size=abc", "page_size"),
        ("page_size=1.5", "page_size"),
        ("page_size=", "page_size"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("page_size=3&offset=-2", "offset"),
    ] {
        let (st, body) = get(&env, &base, q, auth).await;
        assert_eq!(st, 400, "?{q}: {body}");
        sap_error(&body, 400);
        assert!(
            body["message"].as_str().unwrap().contains(name),
            "?{q}: {body}"
        );
    }

    // Cursor paging: follow next_url from the newest page to the oldest ...
    let mut url = format!("{base}?page_size=5");
    let mut pages: Vec<Vec<String>> = vec![];
    let mut bodies: Vec<Value> = vec![];
    loop {
        let (path, q) = url.split_once('?').unwrap();
        let (st, page) = get(&env, path, q, auth).await;
        assert_eq!(st, 200, "{url}: {page}");
        let got = run_ids(page["results"].as_array().unwrap());
        assert!(!got.is_empty(), "{url}: {page}");
        if let Some(next) = page.get("next_url") {
            assert_eq!(
                next.as_str().unwrap(),
                format!("{base}?page_size=5&next={}", got.last().unwrap())
            );
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
            None => break,
        }
        assert!(pages.len() <= n, "next_url never ends");
    }
    assert_eq!(pages.concat(), ids, "next_url walks the whole log once");
    assert_eq!(pages.len(), n.div_ceil(5));
    // ... and prev_url back from the oldest page to the newest.
    let mut back: Vec<Vec<String>> = vec![pages.last().unwrap().clone()];
    let mut prev = bodies.last().unwrap().get("prev_url").cloned();
    while let Some(u) = prev {
        let u = u.as_str().unwrap().to_string();
        let (path, q) = u.split_once('?').unwrap();
        let (st, page) = get(&env, path, q, auth).await;
        assert_eq!(st, 200, "{u}: {page}");
        let got = run_ids(page["results"].as_array().unwrap());
        assert!(
            page.get("next_url").is_some(),
            "{u}: older runs exist: {page}"
        );
        back.push(got);
        prev = page.get("prev_url").cloned();
        assert!(back.len() <= n, "prev_url never ends");
    }
    back.reverse();
    assert_eq!(back, pages, "prev_url walks back over the same pages");
    // An offset page links both ways; the cursor of one run in the middle.
    let (_, page) = get(&env, &base, "page_size=2&offset=3", auth).await;
    assert!(page.get("prev_url").is_some() && page.get("next_url").is_some());
    let (_, page) = get(&env, &base, &format!("page_size=3&next={}", ids[4]), auth).await;
    assert_eq!(run_ids(page["results"].as_array().unwrap()), ids[5..8]);
    let (_, page) = get(&env, &base, &format!("page_size=3&prev={}", ids[4]), auth).await;
    assert_eq!(run_ids(page["results"].as_array().unwrap()), ids[1..4]);
    let (_, page) = get(&env, &base, &format!("page_size=3&prev={}", ids[1]), auth).await;
    assert_eq!(run_ids(page["results"].as_array().unwrap()), ids[..1]);
    assert!(page.get("prev_url").is_none(), "{page}");
    let (_, page) = get(&env, &base, &format!("next={}", ids[n - 1]), auth).await;
    assert_eq!(page["results"], json!([]), "{page}");
    assert!(page.get("next_url").is_none() && page.get("prev_url").is_none());
    for q in [
        format!("next={}&prev={}", ids[1], ids[2]),
        "next=0123456789ABCDEF0123456789ABCDEF".to_string(),
        "prev=nope".to_string(),
    ] {
        let (st, body) = get(&env, &base, &q, auth).await;
        assert_eq!(st, 400, "?{q}: {body}");
        sap_error(&body, 400);
    }

    // One run: SAP's fields and chime's details.
    for r in [&all[0], &all[n - 1]] {
        let d = detail(&env, &token, job, &sid, r["runId"].as_str().unwrap()).await;
        for f in keys_of(r) {
            assert_eq!(d[f], r[f], "{f}: {d}");
        }
        assert_eq!(d["jobId"], job);
        assert_eq!(d["scheduleId"], sid.as_str());
        assert!(d["log"].as_str().unwrap().contains("scheduled"), "{d}");
    }
    let (st, body) = get(&env, &format!("{base}/NOPE"), "", auth).await;
    assert_eq!(st, 404, "{body}");
    sap_error(&body, 404);
    let (st, body) = get(
        &env,
        &format!("/scheduler/jobs/{job}/schedules/nope/runs"),
        "",
        auth,
    )
    .await;
    assert_eq!(st, 404, "{body}");
    sap_error(&body, 404);
    let (st, body) = get(&env, &base, "", Auth::Bearer(&wrong_secret(&token))).await;
    assert_eq!(st, 401, "{body}");
    sap_error(&body, 401);

    env.cleanup().await;
}

/// SAP's asynchronous update (`PUT .../runs/{runId}`) of runs acknowledged with 202, seen by
/// every dialect; and the action log of a job's configuration changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_async_run_update_and_action_logs() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    target.set_reply(202, "accepted", false);
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    // A read-only key of the same tenant.
    let reader = key(&env, &tenant, &["read"]).await;
    let (_, other) = env.tenant(&["read", "write", "run-update"]).await;

    // Two one-time schedules of one job, both answered 202.
    let (job, s1) = create_job(
        &env,
        &token,
        "async-orders",
        &target.url("/async"),
        json!({"time": "now", "active": true}),
    )
    .await;
    let (st, b) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job}/schedules"),
            &token,
            Some(json!({"time": "now", "active": true, "description": "second"})),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let s2 = b["scheduleId"].as_str().unwrap().to_string();
    let mut acked = vec![];
    for sid in [&s1, &s2] {
        let list = settle(&env, &token, job, sid, true).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let r = &list[0];
        assert_eq!(r["runStatus"], "RUNNING", "{r}");
        assert_eq!(r["runState"], "ACK_RECVD", "{r}");
        assert_eq!(r["httpStatus"], 202, "{r}");
        assert_eq!(r["completionTimestamp"], Value::Null, "{r}");
        instant(&r["executionTimestamp"], "executionTimestamp");
        acked.push(r["runId"].as_str().unwrap().to_string());
    }
    let (r1, r2) = (&acked[0], &acked[1]);
    let url1 = format!("/scheduler/jobs/{job}/schedules/{s1}/runs/{r1}");
    let url2 = format!("/scheduler/jobs/{job}/schedules/{s2}/runs/{r2}");
    // Not yet executed to an outcome: A1Base does not list them; Losant says inProgress.
    let (st, a1) = get(
        &env,
        &format!("/v1/cron-jobs/{tenant}/logs/{job}"),
        "",
        Auth::ApiKey(&token),
    )
    .await;
    assert_eq!(st, 200, "{a1}");
    assert_eq!(a1["data"], json!([]), "{a1}");
    assert_eq!(a1["pagination"]["total_items"], 0, "{a1}");
    let (_, l1) = get(
        &env,
        &format!("/applications/{tenant}/jobLogs/{r1}"),
        "",
        Auth::Bearer(&token),
    )
    .await;
    assert_eq!(l1["status"], "inProgress", "{l1}");

    // Bad reports are refused and change nothing.
    for (body, code) in [
        (json!({"message": "no success"}), 400),
        (json!({"success": "yes", "message": "x"}), 400),
        (json!({"success": true, "message": 42}), 400),
        (json!([true]), 400),
    ] {
        let (st, b) = env.call("PUT", &url1, &token, Some(body.clone())).await;
        assert_eq!(st, code, "{body}: {b}");
        sap_error(&b, code);
    }
    let ok = json!({"success": true, "message": "Sales order processed"});
    for (path, key, code) in [
        // The run of the other schedule, an unknown run, another tenant, a read-only key.
        (
            format!("/scheduler/jobs/{job}/schedules/{s1}/runs/{r2}"),
            &token,
            404,
        ),
        (
            format!("/scheduler/jobs/{job}/schedules/{s1}/runs/0123456789ABCDEF0123456789ABCDEF"),
            &token,
            404,
        ),
        (url1.clone(), &other, 404),
        (url1.clone(), &reader, 403),
    ] {
        let (st, b) = env.call("PUT", &path, key, Some(ok.clone())).await;
        assert_eq!(st, code, "{path}: {b}");
        sap_error(&b, code);
    }
    let d = detail(&env, &token, job, &s1, r1).await;
    assert_eq!(d["runState"], "ACK_RECVD", "{d}");
    // Huawei: the log of a live (acknowledged) run has more to come.
    let build1 = d["runNumber"].as_u64().unwrap();
    let huawei = format!("/v1/log/{job}/{build1}/real-time-log");
    let whole = "start_offset=0&end_offset=100000&size=1000";
    let (st, h) = get(&env, &huawei, whole, Auth::XAuthToken(&token)).await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["result"]["has_more"], true, "live: {h}");
    assert_eq!(h["result"]["log"], d["log"], "{h}");

    // The job reports: one success, one failure.
    let (st, b) = env.call("PUT", &url1, &token, Some(ok.clone())).await;
    assert_eq!((st, &b), (200, &json!({"success": true})));
    let (st, b) = env
        .call(
            "PUT",
            &url2,
            &token,
            Some(json!({"success": false, "message": "Something wrong happened"})),
        )
        .await;
    assert_eq!((st, &b), (200, &json!({"success": true})));
    let d1 = detail(&env, &token, job, &s1, r1).await;
    let d2 = detail(&env, &token, job, &s2, r2).await;
    for (d, state, text, outcome) in [
        (&d1, "SUCCESS", "Sales order processed", "success"),
        (&d2, "ERROR", "Something wrong happened", "failure"),
    ] {
        assert_eq!(d["runStatus"], "COMPLETED", "{d}");
        assert_eq!(d["runState"], state, "{d}");
        assert_eq!(d["runText"], text, "{d}");
        assert_eq!(d["outcome"], outcome, "{d}");
        assert_eq!(d["httpStatus"], 202, "{d}");
        let exec = instant(&d["executionTimestamp"], "executionTimestamp");
        let done = instant(&d["completionTimestamp"], "completionTimestamp");
        assert!(exec <= done, "{d}");
        assert!(
            d["log"]
                .as_str()
                .unwrap()
                .contains(&format!("job reported {state}: {text}")),
            "{d}"
        );
    }
    // A run's result is written once: a second report is a conflict and changes nothing.
    let (st, b) = env
        .call(
            "PUT",
            &url1,
            &token,
            Some(json!({"success": false, "message": "late"})),
        )
        .await;
    assert_eq!(st, 409, "{b}");
    assert_eq!(
        detail(&env, &token, job, &s1, r1).await["runState"],
        "SUCCESS"
    );
    // Huawei: the completed run's log is whole, with the report, and has no more.
    let (st, h) = get(&env, &huawei, whole, Auth::XAuthToken(&token)).await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["result"]["has_more"], false, "completed: {h}");
    assert_eq!(h["result"]["log"], d1["log"], "{h}");
    // The list shows the same.
    let (_, list) = runs(&env, &token, job, &s1).await;
    assert_eq!(list[0]["runState"], "SUCCESS");
    assert_eq!(list[0]["runText"], "Sales order processed");
    // Every dialect sees the outcome.
    let (_, a1) = get(
        &env,
        &format!("/v1/cron-jobs/{tenant}/logs/{job}"),
        "",
        Auth::ApiKey(&token),
    )
    .await;
    let mut statuses: Vec<(String, String)> = a1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    statuses.sort();
    let mut want = vec![
        (r1.clone(), "success".to_string()),
        (r2.clone(), "failure".to_string()),
    ];
    want.sort();
    assert_eq!(statuses, want, "{a1}");
    for (run, status) in [(r1, "completed"), (r2, "failed")] {
        let (_, l) = get(
            &env,
            &format!("/applications/{tenant}/jobLogs/{run}"),
            "",
            Auth::Bearer(&token),
        )
        .await;
        assert_eq!(l["status"], status, "{l}");
        instant(&l["runCompletedAt"], "runCompletedAt");
    }

    // The action log of a job that never fires (inactive): every change, newest first.
    let (audit, a1s) = create_job_with(
        &env,
        &token,
        json!({"name": "audited", "action": target.url("/never"), "active": false,
               "schedules": [{"cron": "* * * * * */10 0", "active": true}]}),
    )
    .await;
    let (st, b) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{audit}/schedules"),
            &token,
            Some(json!({"repeatInterval": "1 hour", "active": true})),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let a2s = b["scheduleId"].as_str().unwrap().to_string();
    for (method, path, body) in [
        (
            "PUT",
            format!("/scheduler/jobs/{audit}"),
            json!({"description": "changed"}),
        ),
        (
            "POST",
            format!("/scheduler/jobs/{audit}/schedules/activationStatus"),
            json!({"activationStatus": true}),
        ),
        (
            "POST",
            format!("/scheduler/jobs/{audit}/schedules/activationStatus"),
            json!({"activationStatus": false}),
        ),
        (
            "PUT",
            format!("/scheduler/jobs/{audit}/schedules/{a2s}"),
            json!({"description": "hourly"}),
        ),
    ] {
        let (st, b) = env.call(method, &path, &token, Some(body)).await;
        assert_eq!(st, 200, "{method} {path}: {b}");
    }
    let (st, b) = env
        .call(
            "DELETE",
            &format!("/scheduler/jobs/{audit}/schedules/{a1s}"),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, logs) = get(
        &env,
        "/scheduler/actionLogs",
        &format!("jobId={audit}"),
        Auth::Bearer(&token),
    )
    .await;
    assert_eq!(st, 200, "{logs}");
    let results = logs["results"].as_array().unwrap();
    assert_eq!(logs["total"], results.len() as u64, "{logs}");
    let actions: Vec<(&str, Value)> = results
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["scheduleId"].clone()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("DELETE_SCHEDULE", json!(a1s)),
            ("UPDATE_SCHEDULE", json!(a2s)),
            ("DEACTIVATE_ALL_SCHEDULES", Value::Null),
            ("ACTIVATE_ALL_SCHEDULES", Value::Null),
            ("UPDATE_JOB", Value::Null),
            ("CREATE_SCHEDULE", json!(a2s)),
            ("CREATE_JOB", Value::Null),
        ],
        "{logs}"
    );
    let mut last = i64::MAX;
    for e in results {
        assert_eq!(
            keys_of(e),
            [
                "action",
                "jobId",
                "message",
                "scheduleId",
                "timestamp",
                "user"
            ],
            "{e}"
        );
        assert_eq!(e["jobId"], audit, "{e}");
        assert_eq!(e["user"], key_id(&token), "{e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        let ts = instant(&e["timestamp"], "timestamp");
        assert!(ts <= last, "newest first: {logs}");
        last = ts;
    }
    // One schedule's entries only.
    let (st, logs) = get(
        &env,
        "/scheduler/actionLogs",
        &format!("jobId={audit}&scheduleId={a2s}"),
        Auth::Bearer(&reader),
    )
    .await;
    assert_eq!(st, 200, "{logs}");
    let actions: Vec<&str> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["UPDATE_SCHEDULE", "CREATE_SCHEDULE"], "{logs}");
    assert_eq!(logs["total"], 2);
    // The async job's own trail starts with its creation and its second schedule.
    let (_, logs) = get(
        &env,
        "/scheduler/actionLogs",
        &format!("jobId={job}"),
        Auth::Bearer(&token),
    )
    .await;
    let actions: Vec<&str> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["CREATE_SCHEDULE", "CREATE_JOB"], "{logs}");
    // Errors: no jobId, unknown job, a deleted schedule, another tenant.
    for (q, key, code) in [
        (String::new(), &token, 400),
        ("jobId=999999999".to_string(), &token, 404),
        (format!("jobId={audit}&scheduleId={a1s}"), &token, 404),
        (format!("jobId={audit}"), &other, 404),
    ] {
        let (st, b) = get(&env, "/scheduler/actionLogs", &q, Auth::Bearer(key)).await;
        assert_eq!(st, code, "?{q}: {b}");
        sap_error(&b, code);
    }

    env.cleanup().await;
}

// ------------------------------------------------------------------------------- A1Base

/// One expected A1Base log entry, from SAP's detail of the run.
fn a1base_entry(job: u64, d: &Value) -> Value {
    json!({
        "id": d["runId"],
        "cron_job_id": job.to_string(),
        "executed_at": d["executionTimestamp"],
        "status": d["outcome"],
        "response_code": d["httpStatus"],
        "response_body": d["responseBody"],
        "error_message": d["errorMessage"],
    })
}

/// A1Base's execution history: the seed's example request, every field, every filter
/// (status, start_date, end_date) combined with page and limit against a brute-force
/// reference from SAP's run log of the same job, and the parameter errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_logs_seed_example_filters_and_paging() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (account, token) = env.tenant(&["read", "write"]).await;
    target.set_reply(
        200,
        "{\"message\":\"Report generated successfully\"}",
        false,
    );
    let (job, sid) = create_job_with(
        &env,
        &token,
        json!({"name": "daily-report", "action": target.url("/report"), "active": true,
               "httpMethod": "POST", "timeoutMs": 300,
               "schedules": [{"repeatInterval": "1 second", "active": true}]}),
    )
    .await;
    // success, failure (500 and 404), timeout, an acknowledged run (no outcome yet), error
    // (a target the SSRF guard refuses), success again.
    wait_runs(&env, &token, job, &sid, "2 successes", |l| {
        l.iter().filter(|r| r["runState"] == "SUCCESS").count() >= 2
    })
    .await;
    target.set_reply(500, "{\"error\":\"Database connection failed\"}", false);
    wait_runs(&env, &token, job, &sid, "a 500", |l| {
        l.iter()
            .any(|r| r["runStatus"] == "COMPLETED" && r["httpStatus"] == 500)
    })
    .await;
    target.set_reply(404, "not here", false);
    wait_runs(&env, &token, job, &sid, "a 404", |l| {
        l.iter()
            .any(|r| r["runStatus"] == "COMPLETED" && r["httpStatus"] == 404)
    })
    .await;
    target.set_reply(200, "late", true);
    wait_runs(&env, &token, job, &sid, "a timeout", |l| {
        l.iter().any(is_timeout)
    })
    .await;
    target.set_reply(202, "", false);
    wait_runs(&env, &token, job, &sid, "an acknowledged run", |l| {
        l.iter().any(|r| r["runState"] == "ACK_RECVD")
    })
    .await;
    set_action(&env, &token, job, "http://10.0.0.1/x").await;
    wait_runs(&env, &token, job, &sid, "a blocked run", |l| {
        l.iter().any(is_blocked)
    })
    .await;
    target.set_reply(
        200,
        "{\"message\":\"Report generated successfully\"}",
        false,
    );
    set_action(&env, &token, job, &target.url("/report")).await;
    wait_runs(
        &env,
        &token,
        job,
        &sid,
        "a success after the blocked run",
        |l| {
            l.iter()
                .take_while(|r| !is_blocked(r))
                .any(|r| r["runState"] == "SUCCESS")
        },
    )
    .await;
    set_active(&env, &token, job, false).await;
    let all = settle(&env, &token, job, &sid, true).await;

    // The reference: every run, oldest first, with SAP's details.
    let mut asc = vec![];
    for r in all.iter().rev() {
        asc.push(detail(&env, &token, job, &sid, r["runId"].as_str().unwrap()).await);
    }
    let n = asc.len();
    let outcome = |d: &Value| d["outcome"].as_str().map(String::from);
    for o in ["success", "failure", "error", "timeout"] {
        assert!(
            asc.iter().any(|d| outcome(d).as_deref() == Some(o)),
            "no {o} run: {asc:?}"
        );
    }
    let acked: Vec<&Value> = asc.iter().filter(|d| outcome(d).is_none()).collect();
    assert!(!acked.is_empty());
    assert!(acked.iter().all(|d| d["runState"] == "ACK_RECVD"));
    // Date windows whose bounds fall between runs. A run fires (is materialised) at or after
    // its scheduled instant and no later than its execution starts, so a window from run k's
    // scheduled instant to the latest execution start among runs 0..=m holds exactly runs
    // k..=m when every run before k started before k's scheduled instant and runs 0..=m all
    // started before run m+1's scheduled instant; whichever of the scheduled, fired or
    // executed instant the filter reads.
    let sched: Vec<i64> = asc
        .iter()
        .map(|d| instant(&d["scheduleTimestamp"], "scheduleTimestamp"))
        .collect();
    let exec: Vec<i64> = asc
        .iter()
        .map(|d| instant(&d["executionTimestamp"], "executionTimestamp"))
        .collect();
    let opens_at = |k: usize| k >= 1 && k < n && exec[..k].iter().all(|e| *e < sched[k]);
    let closes_after = |m: usize| m + 1 < n && exec[..=m].iter().all(|e| *e < sched[m + 1]);
    let end_of = |m: usize| {
        let i = (0..=m).max_by_key(|i| exec[*i]).unwrap();
        asc[i]["executionTimestamp"].as_str().unwrap().to_string()
    };
    let k = (2..n)
        .chain(1..2)
        .find(|k| opens_at(*k) && closes_after(*k))
        .unwrap_or_else(|| panic!("no run starts a date window: {asc:?}"));
    let m = (k + 1..n)
        .rev()
        .find(|m| closes_after(*m))
        .unwrap_or_else(|| panic!("no run ends a date window after {k}: {asc:?}"));
    let start = asc[k]["scheduleTimestamp"].as_str().unwrap().to_string();
    let end = end_of(m);
    let end_k = end_of(k);

    let path = format!("/v1/cron-jobs/{account}/logs/{job}");
    let auth = Auth::ApiKey(&token);
    let expect = |status: Option<&str>,
                  from: Option<usize>,
                  to: Option<usize>,
                  page: usize,
                  limit: usize|
     -> (Vec<Value>, usize) {
        let matching: Vec<Value> = asc
            .iter()
            .enumerate()
            .filter(|(i, d)| {
                outcome(d).is_some_and(|o| !o.is_empty())
                    && status.is_none_or(|s| outcome(d).as_deref() == Some(s))
                    && from.is_none_or(|f| *i >= f)
                    && to.is_none_or(|t| *i <= t)
            })
            .map(|(_, d)| a1base_entry(job, d))
            .rev()
            .collect();
        let total = matching.len();
        (
            matching
                .into_iter()
                .skip((page - 1) * limit)
                .take(limit)
                .collect(),
            total,
        )
    };

    // The seed's example request.
    let (st, body) = get(&env, &path, "page=1&limit=20&status=failure", auth).await;
    assert_eq!(st, 200, "{body}");
    let (want, total) = expect(Some("failure"), None, None, 1, 20);
    assert!(total >= 2);
    assert_eq!(body["data"], json!(want), "{body}");
    assert_eq!(
        body["pagination"],
        json!({"page": 1, "limit": 20, "total_items": total, "total_pages": 1})
    );
    assert_eq!(keys_of(&body), ["data", "pagination"]);
    for e in body["data"].as_array().unwrap() {
        assert_eq!(
            keys_of(e),
            [
                "cron_job_id",
                "error_message",
                "executed_at",
                "id",
                "response_body",
                "response_code",
                "status"
            ]
        );
        instant(&e["executed_at"], "executed_at");
        assert!(e["response_code"].is_u64(), "{e}");
        assert_eq!(
            e["error_message"],
            format!(
                "endpoint returned status code {}",
                e["response_code"].as_u64().unwrap()
            ),
            "{e}"
        );
    }
    // Every outcome's fields, without filters: newest first, acknowledged runs left out.
    let (st, body) = get(&env, &path, "", auth).await;
    assert_eq!(st, 200, "{body}");
    let (want, total) = expect(None, None, None, 1, 20);
    assert_eq!(total, n - acked.len());
    assert_eq!(body["data"], json!(want), "{body}");
    for e in body["data"].as_array().unwrap() {
        match e["status"].as_str().unwrap() {
            "success" => {
                assert_eq!(e["response_code"], 200, "{e}");
                assert_eq!(
                    e["response_body"], "{\"message\":\"Report generated successfully\"}",
                    "{e}"
                );
                assert_eq!(e["error_message"], Value::Null, "{e}");
            }
            "failure" => assert!(e["error_message"].is_string(), "{e}"),
            "timeout" => {
                assert_eq!(e["response_code"], Value::Null, "{e}");
                assert!(
                    e["error_message"].as_str().unwrap().contains("timed out"),
                    "{e}"
                );
            }
            "error" => {
                assert_eq!(e["response_code"], Value::Null, "{e}");
                assert!(e["error_message"].as_str().unwrap().contains("SSRF"), "{e}");
            }
            other => panic!("status {other}: {e}"),
        }
    }
    for d in &acked {
        assert!(!body.to_string().contains(d["runId"].as_str().unwrap()));
    }

    // Every combination of filters and pages, against the reference.
    let day = |ms: i64, days: i64| {
        chrono::DateTime::from_timestamp_millis(ms + days * 86_400_000)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string()
    };
    let first_ms = instant(&asc[0]["scheduleTimestamp"], "first");
    let last_ms = instant(&asc[n - 1]["executionTimestamp"], "last");
    // The same instant as `start` written with a +01:00 offset (the '+' escaped).
    let start_plus1 = chrono::DateTime::parse_from_rfc3339(&start)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .format("%Y-%m-%dT%H:%M:%S%.3f%%2B01:00")
        .to_string();
    let windows: Vec<(String, Option<usize>, Option<usize>)> = vec![
        (String::new(), None, None),
        (format!("start_date={start}"), Some(k), None),
        (format!("end_date={end}"), None, Some(m)),
        (
            format!("start_date={start}&end_date={end}"),
            Some(k),
            Some(m),
        ),
        (
            format!("start_date={start_plus1}&end_date={end}"),
            Some(k),
            Some(m),
        ),
        (
            format!("start_date={start}&end_date={end_k}"),
            Some(k),
            Some(k),
        ),
        (
            format!(
                "start_date={}&end_date={}",
                day(first_ms, -1),
                day(last_ms, 1)
            ),
            None,
            None,
        ),
        (format!("start_date={}", day(last_ms, 1)), Some(n), None),
        (
            "start_date=2024-01-25T00:00:00Z&end_date=2024-01-25T23:59:59Z".into(),
            Some(n),
            None,
        ),
    ];
    let mut checked = 0;
    for status in [
        None,
        Some("success"),
        Some("failure"),
        Some("error"),
        Some("timeout"),
    ] {
        for (window, from, to) in &windows {
            for (page, limit) in [
                (None, None),
                (Some(1), Some(2)),
                (Some(2), Some(2)),
                (Some(3), Some(2)),
                (Some(2), Some(3)),
                (Some(1), Some(100)),
                (Some(2), Some(1)),
                (Some(50), Some(1)),
            ] {
                let mut q: Vec<String> = vec![];
                if let Some(s) = status {
                    q.push(format!("status={s}"));
                }
                if !window.is_empty() {
                    q.push(window.clone());
                }
                if let Some(p) = page {
                    q.push(format!("page={p}"));
                }
                if let Some(l) = limit {
                    q.push(format!("limit={l}"));
                }
                let q = q.join("&");
                let (p, l) = (page.unwrap_or(1), limit.unwrap_or(20));
                let (want, total) = expect(status, *from, *to, p, l);
                let (st, body) = get(&env, &path, &q, auth).await;
                assert_eq!(st, 200, "?{q}: {body}");
                assert_eq!(body["data"], json!(want), "?{q}");
                assert_eq!(
                    body["pagination"],
                    json!({"page": p, "limit": l, "total_items": total,
                           "total_pages": total.div_ceil(l)}),
                    "?{q}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 5 * windows.len() * 8);

    // The seed's log analysis examples.
    for (q, status, limit) in [
        ("status=failure&limit=10", Some("failure"), 10),
        ("status=timeout", Some("timeout"), 20),
        ("status=error&limit=50", Some("error"), 50),
    ] {
        let (want, total) = expect(status, None, None, 1, limit);
        assert!(total >= 1, "{q}");
        let (st, body) = get(&env, &path, q, auth).await;
        assert_eq!(st, 200, "?{q}: {body}");
        assert_eq!(body["data"], json!(want), "?{q}");
        assert_eq!(body["pagination"]["total_items"], total, "?{q}");
    }

    // Paging edges: the last page, past the end, unknown parameters.
    let (_, total) = expect(None, None, None, 1, 1);
    let last_page = total.div_ceil(3);
    for (q, p, l) in [
        (format!("limit=3&page={last_page}"), last_page, 3),
        (format!("limit=3&page={}", last_page + 1), last_page + 1, 3),
        ("limit=100&page=1000000".to_string(), 1_000_000, 100),
        ("limit=1".to_string(), 1, 1),
        ("limit=100".to_string(), 1, 100),
        ("page=2&limit=2&foo=bar&sort=asc".to_string(), 2, 2),
    ] {
        let (want, total) = expect(None, None, None, p, l);
        let (st, body) = get(&env, &path, &q, auth).await;
        assert_eq!(st, 200, "?{q}: {body}");
        assert_eq!(body["data"], json!(want), "?{q}");
        assert_eq!(body["pagination"]["total_items"], total, "?{q}");
        assert_eq!(body["pagination"]["total_pages"], total.div_ceil(l), "?{q}");
        assert_eq!(body["pagination"]["page"], p, "?{q}");
    }
    let (_, body) = get(&env, &path, &format!("limit=3&page={last_page}"), auth).await;
    let rest = total - (last_page - 1) * 3;
    assert_eq!(body["data"].as_array().unwrap().len(), rest);

    // Bad parameters: 400 naming the parameter.
    for (q, name) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("status=bogus", "status"),
        ("status=", "status"),
        ("start_date=garbage", "start_date"),
        ("end_date=garbage", "end_date"),
        ("start_date=2024-13-01", "start_date"),
        (
            "start_date=2024-01-31T23:59:59Z&end_date=2024-01-01T00:00:00Z",
            "start_date",
        ),
    ] {
        let (st, body) = get(&env, &path, q, auth).await;
        assert_eq!(st, 400, "?{q}: {body}");
        a1base_error(&body, 400);
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "?{q}: {body}"
        );
    }
    // Unknown cron job, a job id that is no number, a wrong key.
    for p in [
        format!("/v1/cron-jobs/{account}/logs/999999999"),
        format!("/v1/cron-jobs/{account}/logs/550e8400-e29b-41d4-a716-446655440000"),
        format!("/v1/cron-jobs/nope/logs/{job}"),
    ] {
        let (st, body) = get(&env, &p, "", auth).await;
        assert_eq!(st, 404, "{p}: {body}");
        a1base_error(&body, 404);
    }
    let (st, body) = get(&env, &path, "", Auth::ApiKey(&wrong_secret(&token))).await;
    assert_eq!(st, 401, "{body}");
    a1base_error(&body, 401);
    let (st, body) = get(&env, &path, "", Auth::None).await;
    assert_eq!(st, 401, "{body}");
    a1base_error(&body, 401);

    env.cleanup().await;
}

// -------------------------------------------------------------------------------- Apify

/// Apify's schedule log: "Schedule invoked" per fire, an ERROR entry for a target the SSRF
/// guard refuses, oldest first; the token in the header or the query; its error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apify_schedule_log_invocations_and_blocked_targets() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "actor-task",
        &target.url("/task"),
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    wait_runs(&env, &token, job, &sid, "2 runs completed", |l| {
        completed(l) >= 2
    })
    .await;
    // A private address: refused by the guard before any connection is made.
    set_action(&env, &token, job, "http://10.0.0.1/x").await;
    wait_runs(&env, &token, job, &sid, "a blocked run", |l| {
        l.iter().any(is_blocked)
    })
    .await;
    set_active(&env, &token, job, false).await;
    let all = settle(&env, &token, job, &sid, false).await;
    let blocked = all.iter().filter(|r| is_blocked(r)).count();
    assert!(blocked >= 1);
    let called: HashSet<String> = target
        .hits()
        .iter()
        .filter_map(|h| h.header("x-sap-job-run-id").map(String::from))
        .collect();
    assert_eq!(
        called.len(),
        all.len() - blocked,
        "blocked runs call nothing"
    );

    let path = format!("/v2/schedules/{sid}/log");
    let (st, body) = get(&env, &path, "", Auth::Bearer(&token)).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(keys_of(&body), ["data"]);
    let data = body["data"].as_array().unwrap();
    let mut last = 0;
    for e in data {
        assert_eq!(keys_of(e), ["createdAt", "level", "message"], "{e}");
        let at = instant(&e["createdAt"], "createdAt");
        assert!(at >= last, "oldest first: {body}");
        last = at;
        assert!(
            ["INFO", "WARNING", "ERROR"].contains(&e["level"].as_str().unwrap()),
            "{e}"
        );
    }
    let invoked: Vec<&Value> = data
        .iter()
        .filter(|e| e["message"] == "Schedule invoked")
        .collect();
    assert_eq!(invoked.len(), all.len(), "one per fire: {body}");
    assert!(invoked.iter().all(|e| e["level"] == "INFO"));
    assert_eq!(data[0]["message"], "Schedule invoked");
    let errors: Vec<&Value> = data
        .iter()
        .filter(|e| e["level"] == "ERROR" && e["message"].as_str().unwrap().contains("blocked"))
        .collect();
    assert_eq!(errors.len(), blocked, "{body}");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("10.0.0.1"),
        "{body}"
    );
    // The first blocked fire's error follows its invocation and the 2 runs before it.
    let first_error = data.iter().position(|e| e["level"] == "ERROR").unwrap();
    assert!(
        data[..first_error]
            .iter()
            .filter(|e| e["message"] == "Schedule invoked")
            .count()
            >= 3,
        "{body}"
    );
    // The first invocation is no earlier than the first run's scheduled instant.
    let oldest = all.last().unwrap();
    assert!(
        instant(&data[0]["createdAt"], "createdAt")
            >= instant(&oldest["scheduleTimestamp"], "scheduleTimestamp")
    );

    // The token as a query parameter; unknown parameters ignored.
    let (st, by_query) = get(&env, &path, "", Auth::QueryToken(&token)).await;
    assert_eq!(st, 200, "{by_query}");
    assert_eq!(by_query, body);
    let (st, other) = get(&env, &path, "foo=bar&limit=1", Auth::Bearer(&token)).await;
    assert_eq!(st, 200);
    assert_eq!(other, body);

    // Errors in Apify's shape.
    for p in [
        "/v2/schedules/asdLZtadYvn4mBZmm/log".to_string(),
        "/v2/schedules/00000000-0000-0000-0000-000000000000/log".to_string(),
    ] {
        let (st, b) = get(&env, &p, "", Auth::Bearer(&token)).await;
        assert_eq!(st, 404, "{b}");
        apify_error(&b, "record-not-found");
    }
    for auth in [
        Auth::Bearer(&wrong_secret(&token)),
        Auth::QueryToken("nokey.nosecret"),
        Auth::None,
    ] {
        let (st, b) = get(&env, &path, "", auth).await;
        assert_eq!(st, 401, "{b}");
        apify_error(&b, "token-not-valid");
    }

    env.cleanup().await;
}

// ------------------------------------------------------------------------------- Huawei

/// Reads run `build` of `job` through Huawei's real-time log in `size`-byte steps; returns
/// the text and the number of requests.
async fn huawei_read_all(
    env: &TestEnv,
    token: &str,
    job: u64,
    build: u64,
    size: usize,
) -> (String, usize) {
    let path = format!("/v1/log/{job}/{build}/real-time-log");
    let mut text = String::new();
    let mut start = 0usize;
    let mut calls = 0;
    loop {
        let q = format!("start_offset={start}&end_offset=100000000&size={size}");
        let (st, body) = get(env, &path, &q, Auth::XAuthToken(token)).await;
        assert_eq!(st, 200, "?{q}: {body}");
        calls += 1;
        let r = &body["result"];
        assert_eq!(r["start_offset"], start.to_string(), "{body}");
        let end: usize = r["end_offset"].as_str().unwrap().parse().unwrap();
        assert!(end >= start && end - start <= size, "{body}");
        text.push_str(r["log"].as_str().unwrap());
        start = end;
        if !r["has_more"].as_bool().unwrap() {
            break;
        }
        assert!(end > 0 || size == 0, "{body}");
        assert!(calls < 10_000, "has_more never ends");
    }
    (text, calls)
}

/// Huawei CodeArts Build's real-time log: build numbers in fire order, the log read whole and
/// in 40-byte steps, DESC, has_more, every parameter error, unknown builds, credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_real_time_log_builds_offsets_and_errors() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "build-task",
        &target.url("/build"),
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    wait_runs(&env, &token, job, &sid, "a success", |l| completed(l) >= 1).await;
    target.set_reply(500, "compile error", false);
    wait_runs(&env, &token, job, &sid, "a 500", |l| {
        l.iter()
            .any(|r| r["runStatus"] == "COMPLETED" && r["httpStatus"] == 500)
    })
    .await;
    set_active(&env, &token, job, false).await;
    let all = settle(&env, &token, job, &sid, false).await;
    let n = all.len() as u64;

    // Build numbers count the job's runs in fire order.
    let mut details = vec![];
    for r in all.iter().rev() {
        details.push(detail(&env, &token, job, &sid, r["runId"].as_str().unwrap()).await);
    }
    let numbers: Vec<u64> = details
        .iter()
        .map(|d| d["runNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=n).collect::<Vec<_>>());

    for (i, d) in details.iter().enumerate() {
        let build = i as u64 + 1;
        let log = d["log"].as_str().unwrap();
        assert!(log.len() > 40, "{d}");
        let path = format!("/v1/log/{job}/{build}/real-time-log");
        // Whole, in one request.
        let (st, body) = get(
            &env,
            &path,
            "start_offset=0&end_offset=100000&size=1000",
            Auth::XAuthToken(&token),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(keys_of(&body), ["error", "result", "status"]);
        assert_eq!(body["error"], Value::Null);
        assert_eq!(body["status"], "success");
        let r = &body["result"];
        assert_eq!(
            keys_of(r),
            ["end_offset", "has_more", "location", "log", "start_offset"]
        );
        assert!(r["location"].is_string(), "{body}");
        if log.len() <= 1000 {
            assert_eq!(r["log"], log, "{body}");
            assert_eq!(r["start_offset"], "0");
            assert_eq!(r["end_offset"], log.len().to_string());
            assert_eq!(r["has_more"], false);
        }
        // In 40-byte steps, each starting where the last ended.
        let (text, calls) = huawei_read_all(&env, &token, job, build, 40).await;
        assert_eq!(text, log, "build {build}");
        assert_eq!(calls, log.len().div_ceil(40), "build {build}");
        // end_offset bounds the slice too; the seed's "AES" means ascending.
        for q in [
            "start_offset=5&end_offset=25&size=1000",
            "start_offset=5&end_offset=25&size=1000&sort=AES",
            "start_offset=5&end_offset=25&size=1000&sort=asc",
            "start_offset=5&end_offset=1000&size=20&sort=ASC",
            "start_offset=5&end_offset=25&size=1000&foo=bar&limit=1",
        ] {
            let (st, body) = get(&env, &path, q, Auth::XAuthToken(&token)).await;
            assert_eq!(st, 200, "?{q}: {body}");
            assert_eq!(body["result"]["log"], &log[5..25], "?{q}");
            assert_eq!(body["result"]["start_offset"], "5");
            assert_eq!(body["result"]["end_offset"], "25");
            assert_eq!(body["result"]["has_more"], true);
        }
        // DESC: the lines of the slice, newest first.
        let (st, body) = get(
            &env,
            &path,
            &format!(
                "start_offset=0&end_offset={}&size=1000&sort=DESC",
                log.len()
            ),
            Auth::XAuthToken(&token),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        if log.len() <= 1000 {
            let want: String = log.split_inclusive('\n').rev().collect();
            assert_eq!(body["result"]["log"], want, "{body}");
        }
        // Past the end, and size 0.
        let (_, body) = get(
            &env,
            &path,
            &format!(
                "start_offset={}&end_offset=100000&size=1000",
                log.len() + 50
            ),
            Auth::XAuthToken(&token),
        )
        .await;
        assert_eq!(body["result"]["log"], "", "{body}");
        assert_eq!(body["result"]["has_more"], false, "{body}");
        assert_eq!(body["result"]["end_offset"], log.len().to_string());
        let (_, body) = get(
            &env,
            &path,
            "start_offset=0&end_offset=100000&size=0",
            Auth::XAuthToken(&token),
        )
        .await;
        assert_eq!(body["result"]["log"], "", "{body}");
        assert_eq!(body["result"]["has_more"], true, "{body}");
    }
    // The log tells what happened: the 500 build says so.
    let failed = details.iter().position(|d| d["httpStatus"] == 500).unwrap();
    let (text, _) = huawei_read_all(&env, &token, job, failed as u64 + 1, 1000).await;
    assert!(text.contains("HTTP 500"), "{text}");

    // Parameter errors: 400 in Huawei's shape.
    let path = format!("/v1/log/{job}/1/real-time-log");
    for q in [
        "",
        "end_offset=10&size=10",
        "start_offset=0&size=10",
        "start_offset=-1&end_offset=10&size=10",
        "start_offset=0&end_offset=-10&size=10",
        "start_offset=0&end_offset=10&size=-1",
        "start_offset=abc&end_offset=10&size=10",
        "start_offset=0&end_offset=1e3&size=10",
        "start_offset=0&end_offset=10&size=ten",
        "start_offset=0&end_offset=10&size=1001",
        "start_offset=0&end_offset=10&size=10&sort=sideways",
    ] {
        let (st, body) = get(&env, &path, q, Auth::XAuthToken(&token)).await;
        assert_eq!(st, 400, "?{q}: {body}");
        huawei_error(&body);
    }
    // `size` defaults to 1000, as the seed gives it.
    let (st, body) = get(
        &env,
        &path,
        "start_offset=0&end_offset=10",
        Auth::XAuthToken(&token),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["result"]["end_offset"], "10");
    let ok = "start_offset=0&end_offset=10&size=10";
    for (p, code) in [
        (format!("/v1/log/{job}/0/real-time-log"), 400),
        (format!("/v1/log/{job}/abc/real-time-log"), 400),
        (format!("/v1/log/{job}/{}/real-time-log", n + 1), 404),
        (format!("/v1/log/{job}/100000/real-time-log"), 404),
        ("/v1/log/999999999/1/real-time-log".to_string(), 404),
        (
            "/v1/log/0123456789abcdef0123456789abcdef/1/real-time-log".to_string(),
            404,
        ),
    ] {
        let (st, body) = get(&env, &p, ok, Auth::XAuthToken(&token)).await;
        assert_eq!(st, code, "{p}: {body}");
        huawei_error(&body);
    }
    for auth in [
        Auth::XAuthToken(&wrong_secret(&token)),
        Auth::XAuthToken("garbage"),
        Auth::None,
    ] {
        let (st, body) = get(&env, &path, ok, auth).await;
        assert_eq!(st, 401, "{body}");
        huawei_error(&body);
    }

    env.cleanup().await;
}

/// A job whose one run the target acknowledged with 202 (RUNNING/ACK_RECVD); returns the
/// target (keep it), the job, its schedule and the run.
async fn acknowledged_run(env: &TestEnv, token: &str, name: &str) -> (Target, u64, String, String) {
    let target = Target::start().await;
    target.set_reply(202, "", false);
    let (job, sid) = create_job(
        env,
        token,
        name,
        &target.url("/build"),
        json!({"time": "now", "active": true}),
    )
    .await;
    let list = settle(env, token, job, &sid, true).await;
    assert_eq!(list[0]["runState"], "ACK_RECVD", "{list:?}");
    let run = list[0]["runId"].as_str().unwrap().to_string();
    (target, job, sid, run)
}

/// A live run's log read up to its end, then, after the run completes, read on from the
/// offset reached, is the completed run's log: lines are only ever appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_log_of_a_live_run_reads_on_from_the_last_offset() {
    let env = TestEnv::cluster().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (_target, job, sid, run) = acknowledged_run(&env, &token, "async-build").await;
    let path = format!("/v1/log/{job}/1/real-time-log");
    let (st, body) = get(
        &env,
        &path,
        "start_offset=0&end_offset=100000&size=1000",
        Auth::XAuthToken(&token),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["result"]["has_more"], true, "live: {body}");
    let live = body["result"]["log"].as_str().unwrap().to_string();
    let reached: usize = body["result"]["end_offset"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(reached, live.len());

    let (st, b) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{run}"),
            &token,
            Some(json!({"success": true, "message": "build finished"})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let log = detail(&env, &token, job, &sid, &run).await["log"]
        .as_str()
        .unwrap()
        .to_string();
    let mut text = live.clone();
    let mut start = reached;
    loop {
        let q = format!("start_offset={start}&end_offset=100000&size=40");
        let (st, body) = get(&env, &path, &q, Auth::XAuthToken(&token)).await;
        assert_eq!(st, 200, "{body}");
        text.push_str(body["result"]["log"].as_str().unwrap());
        start = body["result"]["end_offset"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if body["result"]["has_more"] == false {
            break;
        }
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
    let env = TestEnv::cluster().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (_target, job, sid, run) = acknowledged_run(&env, &token, "async-build").await;
    let message = "Auftrag verarbeitet ✓ — 注文処理済み — ünïcödé ok";
    let (st, b) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{run}"),
            &token,
            Some(json!({"success": true, "message": message})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let d = detail(&env, &token, job, &sid, &run).await;
    let log = d["log"].as_str().unwrap();
    assert!(log.contains(message), "{d}");
    // Whole, in one step, it is intact.
    let (text, _) = huawei_read_all(&env, &token, job, 1, 1000).await;
    assert_eq!(text, log);
    for size in [40, 7] {
        let (text, _) = huawei_read_all(&env, &token, job, 1, size).await;
        assert_eq!(text, log, "read in {size}-byte steps");
    }

    env.cleanup().await;
}

/// Paging far past the end is an empty page with the right totals (or a 400 in the dialect's
/// shape), never a server fault, in every dialect that pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paging_far_past_the_end_is_never_a_server_fault() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (a, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "one-run",
        &target.url("/a"),
        json!({"time": "now", "active": true}),
    )
    .await;
    settle(&env, &token, job, &sid, false).await;
    let max = i64::MAX.to_string();
    // (path, query, JSON pointer of the page, of the total).
    let cases = [
        (
            format!("/scheduler/jobs/{job}/schedules/{sid}/runs"),
            format!("offset={max}"),
            "/results",
            "/total",
        ),
        (
            format!("/scheduler/jobs/{job}/schedules/{sid}/runs"),
            format!("page_size=200&offset={max}"),
            "/results",
            "/total",
        ),
        (
            format!("/v1/cron-jobs/{a}/logs/{job}"),
            format!("page={max}"),
            "/data",
            "/pagination/total_items",
        ),
        (
            format!("/v1/cron-jobs/{a}/logs/{job}"),
            format!("page={max}&limit=100"),
            "/data",
            "/pagination/total_items",
        ),
        (
            format!("/applications/{a}/jobLogs"),
            format!("page={max}"),
            "/items",
            "/totalCount",
        ),
        (
            format!("/applications/{a}/jobLogs"),
            "page=10000000000000000".to_string(),
            "/items",
            "/totalCount",
        ),
        (
            format!("/applications/{a}/jobLogs"),
            format!("page={max}&perPage=1000"),
            "/items",
            "/totalCount",
        ),
    ];
    for (path, q, items, total) in cases {
        let resp = env
            .http
            .get(format!("{}?{q}", env.url(&path)))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}?{q}: no answer: {e}"));
        let st = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        match st {
            200 => {
                assert_eq!(body.pointer(items), Some(&json!([])), "{path}?{q}: {body}");
                assert_eq!(body.pointer(total), Some(&json!(1)), "{path}?{q}: {body}");
            }
            400 => assert!(body.is_object(), "{path}?{q}: {body}"),
            other => panic!("{path}?{q}: {other} {body}"),
        }
    }

    env.cleanup().await;
}

/// Cursor pages (`next`, `prev`) report the same `total` as offset pages: the number of runs in
/// the schedule's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sap_cursor_pages_report_the_schedule_total() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "cursor-total",
        &target.url("/c"),
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    wait_runs(&env, &token, job, &sid, "3 runs completed", |l| {
        completed(l) >= 3
    })
    .await;
    set_active(&env, &token, job, false).await;
    let all = settle(&env, &token, job, &sid, false).await;
    let ids = run_ids(&all);
    let n = ids.len() as u64;
    let base = format!("/scheduler/jobs/{job}/schedules/{sid}/runs");
    for q in [
        "page_size=1".to_string(),
        format!("page_size=1&next={}", ids[0]),
        format!("page_size=1&next={}", ids[1]),
        format!("page_size=1&prev={}", ids[2]),
    ] {
        let (st, page) = get(&env, &base, &q, Auth::Bearer(&token)).await;
        assert_eq!(st, 200, "{page}");
        assert_eq!(page["total"], n, "?{q}: {page}");
    }

    env.cleanup().await;
}

// ------------------------------------------------------------------------------- Losant

/// Losant's job logs: runs of every status (queued before a worker runs, then completed,
/// failed, errored, inProgress), one log and the list with its paging, sorting and errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_job_logs_statuses_list_and_errors() {
    // No worker yet: runs stay queued until the test starts one.
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_scheduler().await;
    let (app, token) = env.tenant(&["read", "write"]).await;
    let writer = key(&env, &app, &["write"]).await;
    let ok = Target::start().await;
    let fail = Target::start().await;
    fail.set_reply(500, "down", false);
    let missing = Target::start().await;
    missing.set_reply(404, "gone", false);
    let hang = Target::start().await;
    hang.set_reply(200, "late", true);
    let ack = Target::start().await;
    ack.set_reply(202, "", false);
    // name, action, expected status, runStatus, runState, outcome.
    let specs = [
        (
            "ArchiveData",
            ok.url("/a"),
            "completed",
            "COMPLETED",
            "SUCCESS",
            json!("success"),
        ),
        (
            "FailingJob",
            fail.url("/f"),
            "failed",
            "COMPLETED",
            "ERROR",
            json!("failure"),
        ),
        (
            "MissingJob",
            missing.url("/m"),
            "failed",
            "COMPLETED",
            "REQUEST_ERROR",
            json!("failure"),
        ),
        (
            "BlockedJob",
            "http://10.0.0.1/x".to_string(),
            "errored",
            "COMPLETED",
            "REQUEST_ERROR",
            json!("error"),
        ),
        (
            "SlowJob",
            hang.url("/s"),
            "errored",
            "COMPLETED",
            "REQUEST_ERROR",
            json!("timeout"),
        ),
        (
            "AsyncJob",
            ack.url("/q"),
            "inProgress",
            "RUNNING",
            "ACK_RECVD",
            Value::Null,
        ),
    ];
    let mut jobs = vec![];
    for (name, action, ..) in &specs {
        jobs.push(
            create_job_with(
                &env,
                &token,
                json!({"name": name, "action": action, "active": true, "timeoutMs": 300,
                       "schedules": [{"time": "now", "active": true}]}),
            )
            .await,
        );
    }
    // No worker yet: every run is materialised and queued.
    let mut run_of = vec![];
    for (job, sid) in &jobs {
        let l = wait_runs(&env, &token, *job, sid, "a queued run", |l| l.len() == 1).await;
        assert_eq!(l[0]["runStatus"], "SCHEDULED", "{l:?}");
        run_of.push(l[0]["runId"].as_str().unwrap().to_string());
    }
    let list_path = format!("/applications/{app}/jobLogs");
    let auth = Auth::Bearer(&token);
    let (st, queued) = get(&env, &list_path, "", auth).await;
    assert_eq!(st, 200, "{queued}");
    assert_eq!(queued["totalCount"], 6, "{queued}");
    for item in queued["items"].as_array().unwrap() {
        assert_eq!(item["status"], "queued", "{item}");
        assert_eq!(item["runStartedAt"], Value::Null, "{item}");
        assert_eq!(item["runCompletedAt"], Value::Null, "{item}");
        assert_eq!(item["details"]["runStatus"], "SCHEDULED", "{item}");
    }

    env.start_worker().await;
    let mut logs = vec![];
    for (i, (job, sid)) in jobs.iter().enumerate() {
        let l = settle(&env, &token, *job, sid, true).await;
        let d = detail(&env, &token, *job, sid, &run_of[i]).await;
        let (name, _, status, run_status, run_state, outcome) = &specs[i];
        let (st, one) = get(&env, &format!("{list_path}/{}", run_of[i]), "", auth).await;
        assert_eq!(st, 200, "{one}");
        assert_eq!(
            keys_of(&one),
            [
                "applicationId",
                "applicationJobLogId",
                "details",
                "id",
                "name",
                "resourceId",
                "resourceType",
                "runCompletedAt",
                "runQueuedAt",
                "runStartedAt",
                "scheduledAt",
                "status"
            ],
            "{one}"
        );
        assert_eq!(one["id"], run_of[i].as_str());
        assert_eq!(one["applicationJobLogId"], run_of[i].as_str());
        assert_eq!(one["applicationId"], app.as_str());
        assert_eq!(one["resourceType"], "job");
        assert_eq!(one["resourceId"], job.to_string());
        assert_eq!(one["name"], *name);
        assert_eq!(one["status"], *status, "{one}");
        assert_eq!(one["scheduledAt"], l[0]["scheduleTimestamp"]);
        assert_eq!(one["runStartedAt"], l[0]["executionTimestamp"]);
        assert_eq!(one["runCompletedAt"], l[0]["completionTimestamp"]);
        let queued_at = instant(&one["runQueuedAt"], "runQueuedAt");
        let started = instant(&one["runStartedAt"], "runStartedAt");
        assert!(instant(&one["scheduledAt"], "scheduledAt") <= queued_at);
        assert!(queued_at <= started, "{one}");
        if *status == "inProgress" {
            assert_eq!(one["runCompletedAt"], Value::Null);
        } else {
            assert!(started <= instant(&one["runCompletedAt"], "runCompletedAt"));
        }
        assert_eq!(
            one["details"],
            json!({
                "scheduleId": sid,
                "runNumber": 1,
                "runStatus": run_status,
                "runState": run_state,
                "httpStatus": d["httpStatus"],
                "outcome": outcome,
                "errorMessage": d["errorMessage"],
                "responseBody": d["responseBody"],
            }),
            "{one}"
        );
        logs.push(one);
    }

    // The list: oldest first by default, the same entries as one by one.
    logs.sort_by_key(|l| instant(&l["runQueuedAt"], "runQueuedAt"));
    let (st, list) = get(&env, &list_path, "", auth).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(
        keys_of(&list),
        [
            "applicationId",
            "count",
            "items",
            "page",
            "perPage",
            "sortDirection",
            "sortField",
            "totalCount"
        ]
    );
    let items = list["items"].as_array().unwrap().clone();
    let mut stamps: Vec<i64> = items
        .iter()
        .map(|l| instant(&l["runQueuedAt"], "runQueuedAt"))
        .collect();
    let sorted = {
        let mut s = stamps.clone();
        s.sort_unstable();
        s
    };
    assert_eq!(stamps, sorted, "ascending runQueuedAt: {list}");
    let by_id = |v: &[Value]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        v
    };
    assert_eq!(by_id(&items), by_id(&logs));
    assert_eq!(
        list,
        json!({"items": items, "count": 6, "totalCount": 6, "perPage": 100, "page": 0,
               "sortField": "runQueuedAt", "sortDirection": "asc", "applicationId": app})
    );
    let ids: Vec<&str> = items.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let (_, desc) = get(&env, &list_path, "sortDirection=desc", auth).await;
    let mut rev: Vec<&str> = desc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(desc["sortDirection"], "desc");
    stamps = desc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| instant(&l["runQueuedAt"], "runQueuedAt"))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "{desc}");
    rev.reverse();
    assert_eq!(rev, ids);

    // Paging: page from 0, perPage 1-1000, the last page and past it.
    for (q, want, page, per_page) in [
        ("perPage=4", &ids[..4], 0, 4),
        ("perPage=4&page=0", &ids[..4], 0, 4),
        ("perPage=4&page=1", &ids[4..], 1, 4),
        ("perPage=4&page=2", &ids[6..], 2, 4),
        ("perPage=1&page=5", &ids[5..], 5, 1),
        ("perPage=1&page=6", &ids[6..], 6, 1),
        ("perPage=1000", &ids[..], 0, 1000),
        ("perPage=5&page=1000000", &ids[6..], 1_000_000, 5),
        (
            "page=0&sortField=runQueuedAt&sortDirection=asc&foo=bar",
            &ids[..],
            0,
            100,
        ),
    ] {
        let (st, body) = get(&env, &list_path, q, auth).await;
        assert_eq!(st, 200, "?{q}: {body}");
        let got: Vec<&str> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "?{q}");
        assert_eq!(body["count"], want.len(), "?{q}");
        assert_eq!(body["totalCount"], 6, "?{q}");
        assert_eq!(body["page"], page, "?{q}");
        assert_eq!(body["perPage"], per_page, "?{q}");
    }
    let (_, desc2) = get(
        &env,
        &list_path,
        "sortDirection=desc&perPage=2&page=1",
        auth,
    )
    .await;
    let got: Vec<&str> = desc2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[3], ids[2]]);
    for q in [
        "page=-1",
        "page=abc",
        "page=1.5",
        "perPage=0",
        "perPage=1001",
        "perPage=-3",
        "perPage=many",
        "sortField=name",
        "sortField=runStartedAt",
        "sortDirection=sideways",
    ] {
        let (st, body) = get(&env, &list_path, q, auth).await;
        assert_eq!(st, 400, "?{q}: {body}");
        losant_error(&body, "Validation");
    }

    // Errors in Losant's shape.
    let one_path = format!("{list_path}/{}", run_of[0]);
    for p in [&list_path, &one_path] {
        let (st, body) = get(&env, p, "", Auth::Bearer(&writer)).await;
        assert_eq!(st, 403, "{p}: {body}");
        losant_error(&body, "Forbidden");
        let (st, body) = get(&env, p, "", Auth::Bearer(&wrong_secret(&token))).await;
        assert_eq!(st, 401, "{p}: {body}");
        losant_error(&body, "Unauthorized");
    }
    for p in [
        format!("{list_path}/575ec8687ae143cd83dc4a98"),
        format!(
            "/applications/575ec8687ae143cd83dc4a97/jobLogs/{}",
            run_of[0]
        ),
        "/applications/575ec8687ae143cd83dc4a97/jobLogs".to_string(),
    ] {
        let (st, body) = get(&env, &p, "", auth).await;
        assert_eq!(st, 404, "{p}: {body}");
        losant_error(&body, "NotFound");
    }

    env.cleanup().await;
}

// ---------------------------------------------------------------------- tenant isolation

/// A second tenant's valid key finds nothing of the first tenant on any run-log route (404
/// in each dialect's shape), and a wrong key is refused (401).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenant_isolation_on_every_run_log_route() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (a, token_a) = env.tenant(&["read", "write", "run-update"]).await;
    let (b, token_b) = env.tenant(&["read", "write", "run-update"]).await;
    let (job, sid) = create_job(
        &env,
        &token_a,
        "tenant-a-job",
        &target.url("/a"),
        json!({"time": "now", "active": true}),
    )
    .await;
    let list = settle(&env, &token_a, job, &sid, false).await;
    let run = list[0]["runId"].as_str().unwrap().to_string();
    let huawei_q = "start_offset=0&end_offset=1000&size=1000";

    // Every route: path, query, how the dialect presents a key, its error check, and
    // whether the owner's answer names the run.
    type Present = for<'t> fn(&'t str) -> Auth<'t>;
    type Check = fn(&Value, u16);
    fn apify(v: &Value, code: u16) {
        apify_error(
            v,
            if code == 404 {
                "record-not-found"
            } else {
                "token-not-valid"
            },
        )
    }
    fn losant(v: &Value, code: u16) {
        losant_error(
            v,
            if code == 404 {
                "NotFound"
            } else {
                "Unauthorized"
            },
        )
    }
    fn huawei(v: &Value, _: u16) {
        huawei_error(v)
    }
    let action_q = format!("jobId={job}");
    let routes: Vec<(String, &str, Present, Check, bool)> = vec![
        (
            format!("/scheduler/jobs/{job}/schedules/{sid}/runs"),
            "",
            |t| Auth::Bearer(t),
            sap_error,
            true,
        ),
        (
            format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{run}"),
            "",
            |t| Auth::Bearer(t),
            sap_error,
            true,
        ),
        (
            "/scheduler/actionLogs".to_string(),
            &action_q,
            |t| Auth::Bearer(t),
            sap_error,
            false,
        ),
        (
            format!("/v1/cron-jobs/{a}/logs/{job}"),
            "",
            |t| Auth::ApiKey(t),
            a1base_error,
            true,
        ),
        (
            format!("/v2/schedules/{sid}/log"),
            "",
            |t| Auth::Bearer(t),
            apify,
            false,
        ),
        (
            format!("/v2/schedules/{sid}/log"),
            "",
            |t| Auth::QueryToken(t),
            apify,
            false,
        ),
        (
            format!("/v1/log/{job}/1/real-time-log"),
            huawei_q,
            |t| Auth::XAuthToken(t),
            huawei,
            false,
        ),
        (
            format!("/applications/{a}/jobLogs"),
            "",
            |t| Auth::Bearer(t),
            losant,
            true,
        ),
        (
            format!("/applications/{a}/jobLogs/{run}"),
            "",
            |t| Auth::Bearer(t),
            losant,
            true,
        ),
    ];
    let wrong_a = wrong_secret(&token_a);
    for (path, query, present, check, shows_run) in &routes {
        // The owner reads it.
        let (st, body) = get(&env, path, query, present(&token_a)).await;
        assert_eq!(st, 200, "{path}: {body}");
        if *shows_run {
            assert!(body.to_string().contains(&run), "{path}: {body}");
        }
        // Another tenant: 404.
        let (st, body) = get(&env, path, query, present(&token_b)).await;
        assert_eq!(st, 404, "{path} as tenant b: {body}");
        check(&body, 404);
        assert!(!body.to_string().contains(&run), "{body}");
        // A wrong secret: 401.
        let (st, body) = get(&env, path, query, present(&wrong_a)).await;
        assert_eq!(st, 401, "{path} with a wrong secret: {body}");
        check(&body, 401);
    }
    // The second tenant's own account and application hold nothing of the first.
    let (st, body) = get(
        &env,
        &format!("/v1/cron-jobs/{b}/logs/{job}"),
        "",
        Auth::ApiKey(&token_b),
    )
    .await;
    assert_eq!(st, 404, "{body}");
    a1base_error(&body, 404);
    let (st, body) = get(
        &env,
        &format!("/applications/{b}/jobLogs/{run}"),
        "",
        Auth::Bearer(&token_b),
    )
    .await;
    assert_eq!(st, 404, "{body}");
    losant_error(&body, "NotFound");
    let (st, body) = get(
        &env,
        &format!("/applications/{b}/jobLogs"),
        "",
        Auth::Bearer(&token_b),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["items"], json!([]), "{body}");
    assert_eq!(body["totalCount"], 0, "{body}");
    // Nor can it report on the first tenant's run, or page with its run as a cursor.
    let (st, body) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{run}"),
            &token_b,
            Some(json!({"success": false, "message": "not mine"})),
        )
        .await;
    assert_eq!(st, 404, "{body}");
    sap_error(&body, 404);
    let d = detail(&env, &token_a, job, &sid, &run).await;
    assert_eq!(d["runState"], "SUCCESS", "{d}");

    env.cleanup().await;
}
