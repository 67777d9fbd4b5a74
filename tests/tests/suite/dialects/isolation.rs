//! Tenant isolation on every run-log route: a second tenant's valid key finds nothing of the
//! first tenant (404 in each dialect's shape), a wrong key is refused (401), and the second
//! tenant can neither report on the first tenant's run nor page with it; on a seeded run.

use super::{
    a1base_error, apify_error, detail, get, get_ok, huawei_error, losant_error, runs_path,
    sap_error, wrong_secret, Auth,
};
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::TestEnv;
use serde_json::{json, Value};

/// Tenant a's job with one seeded success, and tenant b (its id and token).
async fn two_tenants(env: &TestEnv) -> (SeededJob, String, String) {
    let a = SeededJob::create(env, "tenant-a-job").await;
    let at = seed::minutes_ago(5);
    a.finished(at, &seed::success(at, "done")).await;
    let (b, token_b) = env.tenant(&["read", "write", "run-update"]).await;
    (a, b, token_b)
}

/// The run of tenant a's job.
async fn run_of(env: &TestEnv, a: &SeededJob) -> String {
    let (_, list) = chime_testkit::runs(env, &a.token, a.job, &a.schedule).await;
    list[0]["runId"].as_str().unwrap().to_string()
}

type Present = for<'t> fn(&'t str) -> Auth<'t>;
type Check = fn(&Value, u16);

fn apify(v: &Value, code: u16) {
    let kind = if code == 404 {
        "record-not-found"
    } else {
        "token-not-valid"
    };
    apify_error(v, kind)
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

/// One run-log route: path, query, how the dialect presents a key, its error check, and
/// whether the owner's answer names the run.
struct Route {
    path: String,
    query: String,
    present: Present,
    check: Check,
    shows_run: bool,
}

/// Every run-log route of tenant a's job and run.
fn routes(a: &SeededJob, run: &str) -> Vec<Route> {
    let (t, job, sid) = (&a.tenant, a.job, &a.schedule);
    let route = |path: String, query: &str, present: Present, check: Check, shows_run| Route {
        path,
        query: query.to_string(),
        present,
        check,
        shows_run,
    };
    let action_q = format!("jobId={job}");
    let huawei_q = "start_offset=0&end_offset=1000&size=1000";
    vec![
        route(
            runs_path(job, sid, ""),
            "",
            |t| Auth::Bearer(t),
            sap_error,
            true,
        ),
        route(
            runs_path(job, sid, run),
            "",
            |t| Auth::Bearer(t),
            sap_error,
            true,
        ),
        route(
            "/scheduler/actionLogs".into(),
            &action_q,
            |t| Auth::Bearer(t),
            sap_error,
            false,
        ),
        route(
            format!("/v1/cron-jobs/{t}/logs/{job}"),
            "",
            |t| Auth::ApiKey(t),
            a1base_error,
            true,
        ),
        route(
            format!("/v2/schedules/{sid}/log"),
            "",
            |t| Auth::Bearer(t),
            apify,
            false,
        ),
        route(
            format!("/v2/schedules/{sid}/log"),
            "",
            |t| Auth::QueryToken(t),
            apify,
            false,
        ),
        route(
            format!("/v1/log/{job}/1/real-time-log"),
            huawei_q,
            |t| Auth::XAuthToken(t),
            huawei,
            false,
        ),
        route(
            format!("/applications/{t}/jobLogs"),
            "",
            |t| Auth::Bearer(t),
            losant,
            true,
        ),
        route(
            format!("/applications/{t}/jobLogs/{run}"),
            "",
            |t| Auth::Bearer(t),
            losant,
            true,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenant_finds_nothing_on_any_run_log_route() {
    let env = TestEnv::api_only().await;
    let (a, _, token_b) = two_tenants(&env).await;
    let run = run_of(&env, &a).await;
    for r in routes(&a, &run) {
        // The owner reads it.
        let body = get_ok(&env, &r.path, &r.query, (r.present)(&a.token)).await;
        if r.shows_run {
            assert!(body.to_string().contains(&run), "{}: {body}", r.path);
        }
        // Another tenant: 404.
        let (st, body) = get(&env, &r.path, &r.query, (r.present)(&token_b)).await;
        assert_eq!(st, 404, "{} as tenant b: {body}", r.path);
        (r.check)(&body, 404);
        assert!(!body.to_string().contains(&run), "{body}");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_secret_is_refused_on_every_run_log_route() {
    let env = TestEnv::api_only().await;
    let (a, _, _) = two_tenants(&env).await;
    let run = run_of(&env, &a).await;
    let wrong = wrong_secret(&a.token);
    for r in routes(&a, &run) {
        let (st, body) = get(&env, &r.path, &r.query, (r.present)(&wrong)).await;
        assert_eq!(st, 401, "{} with a wrong secret: {body}", r.path);
        (r.check)(&body, 401);
    }
    env.cleanup().await;
}

/// The second tenant's own account and application hold nothing of the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenants_own_account_and_application_hold_nothing_of_the_first() {
    let env = TestEnv::api_only().await;
    let (a, b, token_b) = two_tenants(&env).await;
    let run = run_of(&env, &a).await;
    let auth = Auth::Bearer(&token_b);
    let path = format!("/v1/cron-jobs/{b}/logs/{}", a.job);
    let (st, body) = get(&env, &path, "", Auth::ApiKey(&token_b)).await;
    assert_eq!(st, 404, "{body}");
    a1base_error(&body, 404);
    let (st, body) = get(&env, &format!("/applications/{b}/jobLogs/{run}"), "", auth).await;
    assert_eq!(st, 404, "{body}");
    losant_error(&body, "NotFound");
    let body = get_ok(&env, &format!("/applications/{b}/jobLogs"), "", auth).await;
    assert_eq!(body["items"], json!([]), "{body}");
    assert_eq!(body["totalCount"], 0, "{body}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenant_cannot_report_on_a_run() {
    let env = TestEnv::api_only().await;
    let (a, _, token_b) = two_tenants(&env).await;
    let run = run_of(&env, &a).await;
    let path = runs_path(a.job, &a.schedule, &run);
    let body = json!({"success": false, "message": "not mine"});
    let (st, body) = env.call("PUT", &path, &token_b, Some(body)).await;
    assert_eq!(st, 404, "{body}");
    sap_error(&body, 404);
    let d = detail(&env, &a.token, a.job, &a.schedule, &run).await;
    assert_eq!(d["runState"], "SUCCESS", "{d}");
    env.cleanup().await;
}

/// The first tenant's run is no cursor in the second tenant's own run log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenants_run_is_no_cursor() {
    let env = TestEnv::api_only().await;
    let (a, b, token_b) = two_tenants(&env).await;
    let run = run_of(&env, &a).await;
    let hourly = json!({"repeatInterval": "1 hour", "active": true});
    let own = SeededJob::with_schedule(&env, &b, &token_b, "tenant-b-job", hourly).await;
    let at = seed::minutes_ago(5);
    own.finished(at, &seed::success(at, "done")).await;
    for q in [format!("next={run}"), format!("prev={run}")] {
        let path = runs_path(own.job, &own.schedule, "");
        let (st, body) = get(&env, &path, &q, Auth::Bearer(&token_b)).await;
        assert_eq!(st, 400, "?{q}: {body}");
        sap_error(&body, 400);
        assert!(!body.to_string().contains("SUCCESS"), "{body}");
    }
    env.cleanup().await;
}
