//! The run-log dialects end to end: SAP's run log (offset and cursor paging, one run, the
//! asynchronous update, the action log), A1Base's execution history, Apify's schedule log,
//! Huawei CodeArts Build's real-time log and Losant's job logs, one module per vendor, and
//! tenant isolation across all of them.
//!
//! Each test checks one behaviour. Most read runs seeded through the store's own run steps
//! (`chime_testkit::seed`) at chosen instants with chosen outcomes, in a world running only the
//! API, where nothing fires by itself; the few that need real execution (the target called
//! once per run, the SSRF guard's refusal) run a scheduler and a worker against a local target.
//!
//! This module holds what the vendors' modules share: requests with each dialect's way of
//! presenting a key, the dialects' error shapes, and checks of instants and field sets.

mod a1base;
mod apify;
mod huawei;
mod isolation;
mod losant;
mod sap;

use chime_testkit::{namespace_keys, runs, wait_until, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;

/// How long a real fire may take to show in the run log.
const WITHIN: Duration = Duration::from_secs(25);

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

/// `GET path?query` that must answer 200; its JSON body.
async fn get_ok(env: &TestEnv, path: &str, query: &str, auth: Auth<'_>) -> Value {
    let (st, body) = get(env, path, query, auth).await;
    assert_eq!(st, 200, "{path}?{query}: {body}");
    body
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
    env.client().create_key(tenant, scopes).await
}

/// SAP's path of a schedule's run log, or of one run (`run` not empty).
fn runs_path(job: u64, schedule: &str, run: &str) -> String {
    let base = format!("/scheduler/jobs/{job}/schedules/{schedule}/runs");
    if run.is_empty() {
        base
    } else {
        format!("{base}/{run}")
    }
}

/// SAP's detail of one run (`GET .../runs/{runId}`).
async fn detail(env: &TestEnv, token: &str, job: u64, sid: &str, run: &str) -> Value {
    get_ok(env, &runs_path(job, sid, run), "", Auth::Bearer(token)).await
}

/// The run ids of a page of SAP's run log.
fn run_ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|r| r["runId"].as_str().unwrap().to_string())
        .collect()
}

/// The run ids of a page's `results`.
fn page_ids(page: &Value) -> Vec<String> {
    run_ids(page["results"].as_array().unwrap())
}

/// The `id`s of the objects in the array at `pointer` of `body`.
fn ids_at<'a>(body: &'a Value, pointer: &str) -> Vec<&'a str> {
    body.pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no array at {pointer}: {body}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap())
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

/// An instant in ms as the API writes it (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
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

// ------------------------------------------------------------------------- error shapes

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

/// A page requested far past the end: an empty page (the array at `items`) with the total
/// (at `total`) of `want_total` runs, or a 400 in the dialect's shape (an object); never a
/// server fault.
async fn far_past_the_end(
    env: &TestEnv,
    token: &str,
    path: &str,
    query: &str,
    (items, total): (&str, &str),
    want_total: u64,
) {
    let resp = env
        .http
        .get(format!("{}?{query}", env.url(path)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}?{query}: no answer: {e}"));
    let st = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    match st {
        200 => {
            assert_eq!(
                body.pointer(items),
                Some(&json!([])),
                "{path}?{query}: {body}"
            );
            assert_eq!(
                body.pointer(total),
                Some(&json!(want_total)),
                "{path}?{query}: {body}"
            );
        }
        400 => assert!(body.is_object(), "{path}?{query}: {body}"),
        other => panic!("{path}?{query}: {other} {body}"),
    }
}

/// A path segment that is not UTF-8 once percent-decoded: the router matches the route, and
/// the path's parameters cannot be read.
const UNDECODABLE: &str = "%FF%FE";

/// Replaces Redis key `key` (which must exist) by a string, so that the store's next read of
/// it fails with a wrong-type reply: a server fault the API answers 500.
async fn break_key(env: &TestEnv, key: &str) {
    let mut found = false;
    for (mut c, k) in namespace_keys(&env.settings).await {
        if k == key {
            let _: () = redis::pipe()
                .atomic()
                .del(&k)
                .set(&k, "not what the store wrote")
                .query_async(&mut c)
                .await
                .unwrap();
            found = true;
        }
    }
    assert!(found, "no key {key}");
}

// ------------------------------------------------------------------------- real fires

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
