//! A1Base's execution history (`GET /v1/cron-jobs/{accountId}/logs/{cronJobId}`): the seed's
//! example request, every field of each outcome (a 3xx counted as a failure, the seed's error
//! wording), the filters (`status`, and `start_date`/`end_date` on the execution time) and
//! paging (`page`, `limit`) against a brute-force reference computed from SAP's run log of
//! the same job, and every error status in A1Base's shape; on seeded runs.

use super::{
    a1base_error, break_key, detail, far_past_the_end, get, get_ok, instant, iso, key, keys_of,
    wrong_secret, Auth, UNDECODABLE,
};
use chime_core::run::CallKind;
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::TestEnv;
use serde_json::{json, Value};

const REPORT: &str = "{\"message\":\"Report generated successfully\"}";

/// A cron job's seeded history, with SAP's view of it.
struct History {
    j: SeededJob,
    /// SAP's detail of every run, oldest first.
    asc: Vec<Value>,
    /// When each run was executed (ms), oldest first: the instant the date filters read.
    executed: Vec<i64>,
}

/// A call the endpoint answered with a redirect (not followed): a success in chime's terms.
fn redirected(at: i64) -> chime_store::RunResult {
    seed::result(CallKind::Success, Some(302), Some("moved"), at, 5)
}

/// Cron job "daily-report" with 9 runs executed a minute apart (all written now), oldest
/// first: success, success, failure (500), failure (404), timeout, acknowledged with 202 (no
/// outcome yet), error (a target the SSRF guard refused), success, redirect (302). A date
/// bound can fall between any two executions.
async fn history(env: &TestEnv) -> History {
    let j = SeededJob::create(env, "daily-report").await;
    let t0 = seed::minutes_ago(60);
    let results = [
        seed::success(t0, REPORT),
        seed::success(t0 + 60_000, REPORT),
        seed::failure(
            t0 + 120_000,
            500,
            "{\"error\":\"Database connection failed\"}",
        ),
        seed::failure(t0 + 180_000, 404, "not here"),
        seed::timeout(t0 + 240_000, 300),
        seed::accepted(t0 + 300_000),
        seed::blocked(t0 + 360_000),
        seed::success(t0 + 420_000, REPORT),
        redirected(t0 + 480_000),
    ];
    let (mut asc, mut executed) = (vec![], vec![]);
    for r in &results {
        let run = j.finished(r.executed_at, r).await;
        let d = detail(env, &j.token, j.job, &j.schedule, &run).await;
        executed.push(instant(&d["executionTimestamp"], "executionTimestamp"));
        asc.push(d);
    }
    History { j, asc, executed }
}

fn outcome(d: &Value) -> Option<&str> {
    d["outcome"].as_str()
}

/// A1Base's status of a run, from SAP's detail: its outcome, but a 3xx is a `failure` (the
/// seed counts only a 2xx as a success).
fn a1_status(d: &Value) -> Option<&str> {
    let redirect = d["httpStatus"]
        .as_u64()
        .is_some_and(|h| (300..400).contains(&h));
    match outcome(d) {
        Some("success") if redirect => Some("failure"),
        o => o,
    }
}

/// The error message in the seed's wording: the endpoint's status, or the timeout in seconds
/// (the seeded timeouts are of 300 ms).
fn a1_error(d: &Value) -> Value {
    match (a1_status(d), d["httpStatus"].as_u64()) {
        (Some("failure"), Some(code)) => json!(format!("Endpoint returned status code {code}")),
        (Some("timeout"), _) => json!("Request timed out after 0.3 seconds"),
        _ => d["errorMessage"].clone(),
    }
}

/// One expected A1Base log entry, from SAP's detail of the run.
fn a1base_entry(job: u64, d: &Value) -> Value {
    json!({
        "id": d["runId"],
        "cron_job_id": job.to_string(),
        "executed_at": d["executionTimestamp"],
        "status": a1_status(d),
        "response_code": d["httpStatus"],
        "response_time_ms": d["durationMs"],
        "response_body": d["responseBody"],
        "error_message": a1_error(d),
    })
}

impl History {
    fn path(&self) -> String {
        format!("/v1/cron-jobs/{}/logs/{}", self.j.tenant, self.j.job)
    }

    fn auth(&self) -> Auth<'_> {
        Auth::ApiKey(&self.j.token)
    }

    /// The reference: page `page` of `limit` entries, newest first, of the executed runs
    /// (those with an outcome) of A1Base status `status` executed within `[from, to]` (ms);
    /// and the total of such runs.
    fn expect(
        &self,
        status: Option<&str>,
        (from, to): (Option<i64>, Option<i64>),
        page: usize,
        limit: usize,
    ) -> (Vec<Value>, usize) {
        let matching: Vec<Value> = self
            .asc
            .iter()
            .zip(&self.executed)
            .filter(|(d, at)| {
                outcome(d).is_some_and(|o| !o.is_empty())
                    && status.is_none_or(|s| a1_status(d) == Some(s))
                    && from.is_none_or(|f| **at >= f)
                    && to.is_none_or(|t| **at <= t)
            })
            .map(|(d, _)| a1base_entry(self.j.job, d))
            .rev()
            .collect();
        let total = matching.len();
        let skip = (page - 1) * limit;
        (matching.into_iter().skip(skip).take(limit).collect(), total)
    }

    /// Asks `?q` and checks the answer against the reference.
    async fn check(
        &self,
        env: &TestEnv,
        q: &str,
        status: Option<&str>,
        window: Window,
        page: (usize, usize),
    ) {
        let (p, l) = page;
        let (want, total) = self.expect(status, window, p, l);
        let body = get_ok(env, &self.path(), q, self.auth()).await;
        assert_eq!(body["data"], json!(want), "?{q}");
        assert_eq!(
            body["pagination"],
            json!({"page": p, "limit": l, "total_items": total,
                   "total_pages": total.div_ceil(l)}),
            "?{q}"
        );
    }

    /// Date windows: the query, and its bounds in ms. Some fall between runs, some hold all
    /// or none of them.
    fn windows(&self) -> Vec<(String, Window)> {
        let (k, m) = (2, 6);
        let (start, end) = (self.executed[k], self.executed[m]);
        // The same instant as `start` written with a +01:00 offset (the '+' escaped).
        let start_plus1 = chrono::DateTime::from_timestamp_millis(start)
            .unwrap()
            .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
            .format("%Y-%m-%dT%H:%M:%S%.3f%%2B01:00")
            .to_string();
        let first = self.executed[0];
        let last = *self.executed.last().unwrap();
        let (before, after) = (day(first, -1), day(last, 1));
        let jan25 = (1_706_140_800_000, 1_706_227_199_000);
        vec![
            (String::new(), (None, None)),
            (format!("start_date={}", iso(start)), (Some(start), None)),
            (format!("end_date={}", iso(end)), (None, Some(end))),
            (
                format!("start_date={}&end_date={}", iso(start), iso(end)),
                (Some(start), Some(end)),
            ),
            (
                format!("start_date={start_plus1}&end_date={}", iso(end)),
                (Some(start), Some(end)),
            ),
            (
                format!("start_date={}&end_date={}", iso(start), iso(start)),
                (Some(start), Some(start)),
            ),
            (
                format!("start_date={}&end_date={}", before.0, after.0),
                (Some(before.1), Some(after.1)),
            ),
            (format!("start_date={}", after.0), (Some(after.1), None)),
            (
                "start_date=2024-01-25T00:00:00Z&end_date=2024-01-25T23:59:59Z".into(),
                (Some(jan25.0), Some(jan25.1)),
            ),
        ]
    }
}

/// Date bounds in ms (inclusive), `None` for none.
type Window = (Option<i64>, Option<i64>);

/// The day `days` after the day of `ms` (UTC), as `YYYY-MM-DD`, and its midnight in ms.
fn day(ms: i64, days: i64) -> (String, i64) {
    let midnight = ms.div_euclid(86_400_000) * 86_400_000 + days * 86_400_000;
    let text = chrono::DateTime::from_timestamp_millis(midnight)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    (text, midnight)
}

/// A cron job with one seeded success: enough for the parameter and key checks.
async fn one_run(env: &TestEnv) -> SeededJob {
    let j = SeededJob::create(env, "daily-report").await;
    let at = seed::minutes_ago(5);
    j.finished(at, &seed::success(at, REPORT)).await;
    j
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_seed_example_lists_the_failures() {
    let env = TestEnv::api_only().await;
    let h = history(&env).await;
    let body = get_ok(&env, &h.path(), "page=1&limit=20&status=failure", h.auth()).await;
    let (want, total) = h.expect(Some("failure"), (None, None), 1, 20);
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
                "response_time_ms",
                "status"
            ]
        );
        instant(&e["executed_at"], "executed_at");
        let code = e["response_code"].as_u64().unwrap_or_else(|| panic!("{e}"));
        let message = format!("Endpoint returned status code {code}");
        assert_eq!(e["error_message"], message, "{e}");
    }
    env.cleanup().await;
}

/// Without filters: every executed run newest first, each outcome with its fields; the run
/// acknowledged with 202 (no outcome yet) is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_entries_show_each_outcome() {
    let env = TestEnv::api_only().await;
    let h = history(&env).await;
    let body = get_ok(&env, &h.path(), "", h.auth()).await;
    let (want, total) = h.expect(None, (None, None), 1, 20);
    let acked: Vec<&Value> = h.asc.iter().filter(|d| outcome(d).is_none()).collect();
    assert_eq!(acked.len(), 1);
    assert!(acked.iter().all(|d| d["runState"] == "ACK_RECVD"));
    assert_eq!(total, h.asc.len() - acked.len());
    assert_eq!(body["data"], json!(want), "{body}");
    for e in body["data"].as_array().unwrap() {
        let error = e["error_message"].as_str();
        match e["status"].as_str().unwrap() {
            "success" => {
                assert_eq!(e["response_code"], 200, "{e}");
                assert_eq!(e["response_body"], REPORT, "{e}");
                assert_eq!(e["error_message"], Value::Null, "{e}");
            }
            "failure" => {
                let code = e["response_code"].as_u64().unwrap_or_else(|| panic!("{e}"));
                let message = format!("Endpoint returned status code {code}");
                assert_eq!(error, Some(message.as_str()), "{e}");
            }
            "timeout" => {
                assert_eq!(e["response_code"], Value::Null, "{e}");
                assert_eq!(error, Some("Request timed out after 0.3 seconds"), "{e}");
            }
            "error" => {
                assert_eq!(e["response_code"], Value::Null, "{e}");
                assert!(error.unwrap().contains("SSRF"), "{e}");
            }
            other => panic!("status {other}: {e}"),
        }
    }
    for d in &acked {
        assert!(!body.to_string().contains(d["runId"].as_str().unwrap()));
    }
    env.cleanup().await;
}

/// A cron job whose only run was acknowledged with 202 has no execution to list yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_leaves_out_acknowledged_runs() {
    let env = TestEnv::api_only().await;
    let j = SeededJob::create(&env, "async-report").await;
    let at = seed::minutes_ago(5);
    j.finished(at, &seed::accepted(at)).await;
    let path = format!("/v1/cron-jobs/{}/logs/{}", j.tenant, j.job);
    let body = get_ok(&env, &path, "", Auth::ApiKey(&j.token)).await;
    assert_eq!(body["data"], json!([]), "{body}");
    assert_eq!(body["pagination"]["total_items"], 0, "{body}");
    env.cleanup().await;
}

/// `status` keeps one outcome; the seed's log analysis examples among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_filters_by_status() {
    let env = TestEnv::api_only().await;
    let h = history(&env).await;
    for status in ["success", "failure", "error", "timeout"] {
        let (_, total) = h.expect(Some(status), (None, None), 1, 20);
        assert!(total >= 1, "no {status} run");
        let q = format!("status={status}");
        h.check(&env, &q, Some(status), (None, None), (1, 20)).await;
    }
    for (q, status, limit) in [
        ("status=failure&limit=10", "failure", 10),
        ("status=timeout", "timeout", 20),
        ("status=error&limit=50", "error", 50),
    ] {
        h.check(&env, q, Some(status), (None, None), (1, limit))
            .await;
    }
    env.cleanup().await;
}

/// `start_date` and `end_date` keep the runs executed within them (inclusive): bounds between
/// executions, an offset other than Z, whole days, and a day long past.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_filters_by_date_window() {
    let env = TestEnv::api_only().await;
    let h = history(&env).await;
    let all = h.expect(None, (None, None), 1, 100).1;
    let windows = h.windows();
    // The windows between runs hold some runs but not all.
    for (_, w) in &windows[1..6] {
        let held = h.expect(None, *w, 1, 100).1;
        assert!(held >= 1 && held < all, "{w:?} holds {held} of {all}");
    }
    for (q, w) in &windows {
        h.check(&env, q, None, *w, (1, 20)).await;
    }
    env.cleanup().await;
}

/// The brute-force check: every status, every date window and a range of pages, combined.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_every_filter_and_page_combination_matches_the_reference() {
    let env = TestEnv::api_only().await;
    let h = history(&env).await;
    let windows = h.windows();
    let statuses = [
        None,
        Some("success"),
        Some("failure"),
        Some("error"),
        Some("timeout"),
    ];
    let pages = [
        (None, None),
        (Some(1), Some(2)),
        (Some(2), Some(2)),
        (Some(3), Some(2)),
        (Some(2), Some(3)),
        (Some(1), Some(100)),
        (Some(2), Some(1)),
        (Some(50), Some(1)),
    ];
    let mut checked = 0;
    for status in statuses {
        for (window, bounds) in &windows {
            for (page, limit) in pages {
                let mut q: Vec<String> = vec![];
                q.extend(status.map(|s| format!("status={s}")));
                q.extend((!window.is_empty()).then(|| window.clone()));
                q.extend(page.map(|p| format!("page={p}")));
                q.extend(limit.map(|l| format!("limit={l}")));
                let paging = (page.unwrap_or(1), limit.unwrap_or(20));
                h.check(&env, &q.join("&"), status, *bounds, paging).await;
                checked += 1;
            }
        }
    }
    assert_eq!(checked, statuses.len() * windows.len() * pages.len());
    env.cleanup().await;
}

/// Paging edges: the last page (short), past the end, the limit's bounds, unknown
/// parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_pages_the_history() {
    let env = TestEnv::api_only().await;
    let h = history(&env).await;
    let total = h.expect(None, (None, None), 1, 1).1;
    let last_page = total.div_ceil(3);
    for (q, p, l) in [
        (format!("limit=3&page={last_page}"), last_page, 3),
        (format!("limit=3&page={}", last_page + 1), last_page + 1, 3),
        ("limit=100&page=1000000".to_string(), 1_000_000, 100),
        ("limit=1".to_string(), 1, 1),
        ("limit=100".to_string(), 1, 100),
        ("page=2&limit=2&foo=bar&sort=asc".to_string(), 2, 2),
    ] {
        h.check(&env, &q, None, (None, None), (p, l)).await;
    }
    let q = format!("limit=3&page={last_page}");
    let body = get_ok(&env, &h.path(), &q, h.auth()).await;
    let rest = total - (last_page - 1) * 3;
    assert!(rest < 3, "the last page is short: {rest}");
    assert_eq!(body["data"].as_array().unwrap().len(), rest);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_page_far_past_the_end_is_never_a_server_fault() {
    let env = TestEnv::api_only().await;
    let j = one_run(&env).await;
    let path = format!("/v1/cron-jobs/{}/logs/{}", j.tenant, j.job);
    let max = i64::MAX;
    for q in [format!("page={max}"), format!("page={max}&limit=100")] {
        let at = ("/data", "/pagination/total_items");
        far_past_the_end(&env, &j.token, &path, &q, at, 1).await;
    }
    env.cleanup().await;
}

/// Each query answers 400 in A1Base's shape, naming the parameter.
async fn expect_400(env: &TestEnv, cases: &[(&str, &str)]) {
    let j = one_run(env).await;
    let path = format!("/v1/cron-jobs/{}/logs/{}", j.tenant, j.job);
    for (q, name) in cases {
        let (st, body) = get(env, &path, q, Auth::ApiKey(&j.token)).await;
        assert_eq!(st, 400, "?{q}: {body}");
        a1base_error(&body, 400);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(name), "?{q}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_page_or_limit_out_of_range_is_a_400() {
    let env = TestEnv::api_only().await;
    let cases = [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
    ];
    expect_400(&env, &cases).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_unknown_status_is_a_400() {
    let env = TestEnv::api_only().await;
    expect_400(&env, &[("status=bogus", "status"), ("status=", "status")]).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_malformed_or_reversed_dates_are_a_400() {
    let env = TestEnv::api_only().await;
    let cases = [
        ("start_date=garbage", "start_date"),
        ("end_date=garbage", "end_date"),
        ("start_date=2024-13-01", "start_date"),
        (
            "start_date=2024-01-31T23:59:59Z&end_date=2024-01-01T00:00:00Z",
            "start_date",
        ),
    ];
    expect_400(&env, &cases).await;
    env.cleanup().await;
}

/// An unknown cron job, a job id that is no number (A1Base's are UUIDs), an unknown account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_unknown_cron_job_or_account_answers_404() {
    let env = TestEnv::api_only().await;
    let j = one_run(&env).await;
    let account = &j.tenant;
    for p in [
        format!("/v1/cron-jobs/{account}/logs/999999999"),
        format!("/v1/cron-jobs/{account}/logs/550e8400-e29b-41d4-a716-446655440000"),
        format!("/v1/cron-jobs/nope/logs/{}", j.job),
    ] {
        let (st, body) = get(&env, &p, "", Auth::ApiKey(&j.token)).await;
        assert_eq!(st, 404, "{p}: {body}");
        a1base_error(&body, 404);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_wrong_or_missing_key_answers_401() {
    let env = TestEnv::api_only().await;
    let j = one_run(&env).await;
    let path = format!("/v1/cron-jobs/{}/logs/{}", j.tenant, j.job);
    for auth in [Auth::ApiKey(&wrong_secret(&j.token)), Auth::None] {
        let (st, body) = get(&env, &path, "", auth).await;
        assert_eq!(st, 401, "{body}");
        a1base_error(&body, 401);
    }
    env.cleanup().await;
}

/// The date filters read when a run was executed, not when it was written: runs executed
/// minutes ago (and written just now) are found by a window around their execution, and a
/// window around the present holds none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_dates_filter_on_the_execution_time() {
    let env = TestEnv::api_only().await;
    let h = history(&env).await;
    let (first, last) = (h.executed[0], *h.executed.last().unwrap());
    let q = format!("start_date={}&end_date={}&limit=100", iso(first), iso(last));
    let body = get_ok(&env, &h.path(), &q, h.auth()).await;
    let executed = h.asc.iter().filter(|d| outcome(d).is_some()).count();
    assert_eq!(body["pagination"]["total_items"], executed, "{body}");
    let q = format!("start_date={}", iso(last + 1));
    let body = get_ok(&env, &h.path(), &q, h.auth()).await;
    assert_eq!(body["data"], json!([]), "{body}");
    // One execution alone, by its own instant.
    let q = format!("start_date={0}&end_date={0}", iso(h.executed[2]));
    let body = get_ok(&env, &h.path(), &q, h.auth()).await;
    assert_eq!(body["data"][0]["id"], h.asc[2]["runId"], "{body}");
    assert_eq!(body["pagination"]["total_items"], 1, "{body}");
    env.cleanup().await;
}

/// A 3xx answer is not the 2xx the seed counts as a success: it is listed as a `failure`
/// with the seed's wording and its response time, under `status=failure`, not under
/// `status=success`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_redirect_counts_as_a_failure() {
    let env = TestEnv::api_only().await;
    let h = history(&env).await;
    let run = h.asc.last().unwrap();
    assert_eq!(run["outcome"], "success", "chime's outcome of a 302: {run}");
    let failures = get_ok(&env, &h.path(), "status=failure", h.auth()).await;
    let entry = failures["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == run["runId"])
        .unwrap_or_else(|| panic!("the 302 is a failure: {failures}"));
    assert_eq!(entry["status"], "failure", "{entry}");
    assert_eq!(entry["response_code"], 302, "{entry}");
    assert_eq!(entry["response_time_ms"], 5, "{entry}");
    assert_eq!(
        entry["error_message"], "Endpoint returned status code 302",
        "{entry}"
    );
    let successes = get_ok(&env, &h.path(), "status=success", h.auth()).await;
    assert!(
        !successes
            .to_string()
            .contains(run["runId"].as_str().unwrap()),
        "{successes}"
    );
    let codes: Vec<&Value> = successes["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["response_code"])
        .collect();
    assert!(codes.iter().all(|c| **c == 200), "{successes}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_undecodable_path_is_a_400() {
    let env = TestEnv::api_only().await;
    let j = one_run(&env).await;
    for p in [
        format!("/v1/cron-jobs/{UNDECODABLE}/logs/{}", j.job),
        format!("/v1/cron-jobs/{}/logs/{UNDECODABLE}", j.tenant),
    ] {
        let (st, body) = get(&env, &p, "", Auth::ApiKey(&j.token)).await;
        assert_eq!(st, 400, "{p}: {body}");
        a1base_error(&body, 400);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_key_without_read_scope_answers_403() {
    let env = TestEnv::api_only().await;
    let j = one_run(&env).await;
    let writer = key(&env, &j.tenant, &["write"]).await;
    let path = format!("/v1/cron-jobs/{}/logs/{}", j.tenant, j.job);
    let (st, body) = get(&env, &path, "", Auth::ApiKey(&writer)).await;
    assert_eq!(st, 403, "{body}");
    a1base_error(&body, 403);
    env.cleanup().await;
}

/// A server fault (the cron job's record unreadable) is a 500 in A1Base's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a1base_store_fault_answers_500() {
    let env = TestEnv::api_only().await;
    let j = one_run(&env).await;
    break_key(&env, &env.store().await.keys().job(&j.tenant, j.job)).await;
    let path = format!("/v1/cron-jobs/{}/logs/{}", j.tenant, j.job);
    let (st, body) = get(&env, &path, "", Auth::ApiKey(&j.token)).await;
    assert_eq!(st, 500, "{body}");
    a1base_error(&body, 500);
    assert_eq!(body["error"]["message"], "internal error", "{body}");
    env.cleanup().await;
}
