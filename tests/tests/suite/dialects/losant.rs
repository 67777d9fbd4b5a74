//! Losant's job logs (`GET /applications/{applicationId}/jobLogs[/{jobLogId}]`): a run of
//! each status (queued, completed, failed, errored, inProgress), one log with every field,
//! the list with its order, paging and errors; on seeded runs.

use super::{
    break_key, detail, far_past_the_end, get, get_ok, ids_at, instant, key, keys_of, losant_error,
    wrong_secret, Auth, UNDECODABLE,
};
use chime_store::RunResult;
use chime_testkit::seed::{self, SeededJob};
use chime_testkit::{runs, TestEnv};
use serde_json::{json, Value};

/// One job of the application: its name, its run's seeded result, and what Losant says of
/// it: status, then SAP's runStatus, runState and outcome.
struct Spec {
    name: &'static str,
    result: fn(i64) -> RunResult,
    status: &'static str,
    run_status: &'static str,
    run_state: &'static str,
    outcome: Value,
}

fn specs() -> Vec<Spec> {
    let spec = |name, result, status, run_status, run_state, outcome: Value| Spec {
        name,
        result,
        status,
        run_status,
        run_state,
        outcome,
    };
    vec![
        spec(
            "ArchiveData",
            |at| seed::success(at, "archived"),
            "completed",
            "COMPLETED",
            "SUCCESS",
            json!("success"),
        ),
        spec(
            "FailingJob",
            |at| seed::failure(at, 500, "down"),
            "failed",
            "COMPLETED",
            "ERROR",
            json!("failure"),
        ),
        spec(
            "MissingJob",
            |at| seed::failure(at, 404, "gone"),
            "failed",
            "COMPLETED",
            "REQUEST_ERROR",
            json!("failure"),
        ),
        spec(
            "BlockedJob",
            seed::blocked,
            "errored",
            "COMPLETED",
            "REQUEST_ERROR",
            json!("error"),
        ),
        spec(
            "SlowJob",
            |at| seed::timeout(at, 300),
            "errored",
            "COMPLETED",
            "REQUEST_ERROR",
            json!("timeout"),
        ),
        spec(
            "AsyncJob",
            seed::accepted,
            "inProgress",
            "RUNNING",
            "ACK_RECVD",
            Value::Null,
        ),
    ]
}

/// An application (a tenant) with one job per [`specs`] entry, each with one seeded run, a
/// minute apart in that order.
struct App {
    id: String,
    token: String,
    jobs: Vec<SeededJob>,
    /// The run of each job.
    runs: Vec<String>,
}

impl App {
    fn list(&self) -> String {
        format!("/applications/{}/jobLogs", self.id)
    }

    fn auth(&self) -> Auth<'_> {
        Auth::Bearer(&self.token)
    }

    /// The list, `?q`, which must answer 200.
    async fn get_list(&self, env: &TestEnv, q: &str) -> Value {
        get_ok(env, &self.list(), q, self.auth()).await
    }
}

async fn app(env: &TestEnv) -> App {
    let (id, token) = env.tenant(&["read", "write"]).await;
    let t0 = seed::minutes_ago(10);
    let (mut jobs, mut runs) = (vec![], vec![]);
    for (i, s) in specs().iter().enumerate() {
        let hourly = json!({"repeatInterval": "1 hour", "active": true});
        let j = SeededJob::with_schedule(env, &id, &token, s.name, hourly).await;
        // Executed 250 ms after the scheduled instant.
        let at = t0 + i as i64 * 60_000;
        runs.push(j.finished(at, &(s.result)(at + 250)).await);
        jobs.push(j);
    }
    App {
        id,
        token,
        jobs,
        runs,
    }
}

/// Two jobs, each with a run fired but not yet started by a worker (SCHEDULED): their
/// schedules are active (a leader materialises no others), and nothing fires by itself in a
/// world with no scheduler.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_lists_runs_not_yet_started_as_queued() {
    let env = TestEnv::api_only().await;
    let (app, token) = env.tenant(&["read", "write"]).await;
    let at = seed::minutes_ago(5);
    let mut queued = vec![];
    for name in ["ArchiveData", "FailingJob"] {
        let active = json!({"repeatInterval": "1 hour", "active": true});
        let j = SeededJob::with_schedule(&env, &app, &token, name, active).await;
        queued.push(j.seeder.scheduled(at).await);
    }
    let path = format!("/applications/{app}/jobLogs");
    let list = get_ok(&env, &path, "", Auth::Bearer(&token)).await;
    assert_eq!(list["totalCount"], 2, "{list}");
    let items = list["items"].as_array().unwrap();
    for item in items {
        assert_eq!(item["status"], "queued", "{item}");
        assert_eq!(item["runStartedAt"], Value::Null, "{item}");
        assert_eq!(item["runCompletedAt"], Value::Null, "{item}");
        assert_eq!(item["details"]["runStatus"], "SCHEDULED", "{item}");
    }
    let one = get_ok(
        &env,
        &format!("{path}/{}", queued[0]),
        "",
        Auth::Bearer(&token),
    )
    .await;
    assert_eq!(&one, &items[0]);
    // SAP's run log says the same.
    let job: u64 = one["resourceId"].as_str().unwrap().parse().unwrap();
    let sid = one["details"]["scheduleId"].as_str().unwrap();
    let (_, list) = runs(&env, &token, job, sid).await;
    assert_eq!(list[0]["runId"], queued[0].as_str(), "{list:?}");
    assert_eq!(list[0]["runStatus"], "SCHEDULED", "{list:?}");
    env.cleanup().await;
}

/// One job log: every field, naming the application, the job and its run, with the
/// instants SAP's run log gives and SAP's details of the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_job_log_has_every_field() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    for (i, s) in specs().iter().enumerate() {
        let (j, run) = (&a.jobs[i], &a.runs[i]);
        let one = get_ok(&env, &format!("{}/{run}", a.list()), "", a.auth()).await;
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
        assert_eq!(one["id"], run.as_str());
        assert_eq!(one["applicationJobLogId"], run.as_str());
        assert_eq!(one["applicationId"], a.id.as_str());
        assert_eq!(one["resourceType"], "job");
        assert_eq!(one["resourceId"], j.job.to_string());
        assert_eq!(one["name"], s.name);
        let d = detail(&env, &a.token, j.job, &j.schedule, run).await;
        assert_eq!(one["scheduledAt"], d["scheduleTimestamp"]);
        assert_eq!(one["runStartedAt"], d["executionTimestamp"]);
        assert_eq!(one["runCompletedAt"], d["completionTimestamp"]);
        let queued_at = instant(&one["runQueuedAt"], "runQueuedAt");
        let started = instant(&one["runStartedAt"], "runStartedAt");
        assert!(
            instant(&one["scheduledAt"], "scheduledAt") <= queued_at,
            "{one}"
        );
        assert!(queued_at <= started, "{one}");
        assert_eq!(
            one["details"],
            json!({
                "scheduleId": j.schedule,
                "runNumber": 1,
                "runStatus": d["runStatus"],
                "runState": d["runState"],
                "httpStatus": d["httpStatus"],
                "outcome": d["outcome"],
                "errorMessage": d["errorMessage"],
                "responseBody": d["responseBody"],
            }),
            "{one}"
        );
    }
    env.cleanup().await;
}

/// completed, failed (500 and 404), errored (blocked, timed out), inProgress (acknowledged
/// with 202, no completion yet).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_status_follows_each_outcome() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    for (i, s) in specs().iter().enumerate() {
        let one = get_ok(&env, &format!("{}/{}", a.list(), a.runs[i]), "", a.auth()).await;
        assert_eq!(one["status"], s.status, "{}: {one}", s.name);
        assert_eq!(one["details"]["runStatus"], s.run_status, "{one}");
        assert_eq!(one["details"]["runState"], s.run_state, "{one}");
        assert_eq!(one["details"]["outcome"], s.outcome, "{one}");
        if s.status == "inProgress" {
            assert_eq!(one["runCompletedAt"], Value::Null, "{one}");
        } else {
            let started = instant(&one["runStartedAt"], "runStartedAt");
            assert!(
                started <= instant(&one["runCompletedAt"], "runCompletedAt"),
                "{one}"
            );
        }
    }
    env.cleanup().await;
}

/// The list: oldest first by runQueuedAt, the same entries as one by one, with its paging
/// and sorting fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_list_is_oldest_first_by_default() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    let list = a.get_list(&env, "").await;
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
    let stamps: Vec<i64> = items
        .iter()
        .map(|l| instant(&l["runQueuedAt"], "runQueuedAt"))
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "ascending runQueuedAt: {list}"
    );
    assert_eq!(ids_at(&list, "/items"), a.runs, "in fire order");
    for item in &items {
        let id = item["id"].as_str().unwrap();
        let one = get_ok(&env, &format!("{}/{id}", a.list()), "", a.auth()).await;
        assert_eq!(&one, item);
    }
    assert_eq!(
        list,
        json!({"items": items, "count": 6, "totalCount": 6, "perPage": 100, "page": 0,
               "sortField": "runQueuedAt", "sortDirection": "asc", "applicationId": a.id})
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_list_sorts_newest_first_on_request() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    let desc = a.get_list(&env, "sortDirection=desc").await;
    assert_eq!(desc["sortDirection"], "desc");
    let stamps: Vec<i64> = desc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| instant(&l["runQueuedAt"], "runQueuedAt"))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "{desc}");
    let mut rev = ids_at(&desc, "/items");
    rev.reverse();
    assert_eq!(rev, a.runs);
    env.cleanup().await;
}

/// `page` counts from 0, `perPage` is 1-1000 (100 by default); the last page and past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_list_pages_from_zero() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    let ids = &a.runs;
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
        let body = a.get_list(&env, q).await;
        assert_eq!(ids_at(&body, "/items"), want, "?{q}");
        assert_eq!(body["count"], want.len(), "?{q}");
        assert_eq!(body["totalCount"], 6, "?{q}");
        assert_eq!(body["page"], page, "?{q}");
        assert_eq!(body["perPage"], per_page, "?{q}");
    }
    let body = a
        .get_list(&env, "sortDirection=desc&perPage=2&page=1")
        .await;
    assert_eq!(ids_at(&body, "/items"), [ids[3].as_str(), ids[2].as_str()]);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_page_far_past_the_end_is_never_a_server_fault() {
    let env = TestEnv::api_only().await;
    let j = SeededJob::create(&env, "one-run").await;
    let at = seed::minutes_ago(5);
    j.finished(at, &seed::success(at, "ok")).await;
    let path = format!("/applications/{}/jobLogs", j.tenant);
    let max = i64::MAX;
    for q in [
        format!("page={max}"),
        "page=10000000000000000".to_string(),
        format!("page={max}&perPage=1000"),
    ] {
        far_past_the_end(&env, &j.token, &path, &q, ("/items", "/totalCount"), 1).await;
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_bad_page_per_page_or_sort_is_a_400() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
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
        let (st, body) = get(&env, &a.list(), q, a.auth()).await;
        assert_eq!(st, 400, "?{q}: {body}");
        losant_error(&body, "Validation");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_key_without_read_scope_answers_403() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    let writer = key(&env, &a.id, &["write"]).await;
    for p in [a.list(), format!("{}/{}", a.list(), a.runs[0])] {
        let (st, body) = get(&env, &p, "", Auth::Bearer(&writer)).await;
        assert_eq!(st, 403, "{p}: {body}");
        losant_error(&body, "Forbidden");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_wrong_secret_answers_401() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    for p in [a.list(), format!("{}/{}", a.list(), a.runs[0])] {
        let (st, body) = get(&env, &p, "", Auth::Bearer(&wrong_secret(&a.token))).await;
        assert_eq!(st, 401, "{p}: {body}");
        losant_error(&body, "Unauthorized");
    }
    env.cleanup().await;
}

/// A job log id or application id of Losant's form that names nothing here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_unknown_job_log_or_application_answers_404() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    for p in [
        format!("{}/575ec8687ae143cd83dc4a98", a.list()),
        format!(
            "/applications/575ec8687ae143cd83dc4a97/jobLogs/{}",
            a.runs[0]
        ),
        "/applications/575ec8687ae143cd83dc4a97/jobLogs".to_string(),
    ] {
        let (st, body) = get(&env, &p, "", a.auth()).await;
        assert_eq!(st, 404, "{p}: {body}");
        losant_error(&body, "NotFound");
    }
    env.cleanup().await;
}

/// A run id of the right form (32 hexadecimal digits) in another case names no run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_run_id_in_another_case_answers_404() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    let p = format!("{}/{}", a.list(), a.runs[0].to_lowercase());
    let (st, body) = get(&env, &p, "", a.auth()).await;
    assert_eq!(st, 404, "{p}: {body}");
    losant_error(&body, "NotFound");
    env.cleanup().await;
}

/// An id that is not of the dialect's form (an application id of 24 hexadecimal digits, a
/// job log id of 32, or Losant's 24) is a malformed request: 400 `Validation`, as the seed
/// lists "Error if malformed request", whether the other id is right or not. Credentials
/// are still checked first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_malformed_id_is_a_400() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    let run = &a.runs[0];
    for p in [
        format!("{}/not-a-run-id", a.list()),
        format!("{}/{}", a.list(), &run[..31]),
        format!("{}/{}0", a.list(), run),
        format!("{}/{}", a.list(), "g".repeat(32)),
        format!("{}/575ec8687ae143cd83dc4a9", a.list()),
        format!("{}/{UNDECODABLE}", a.list()),
        "/applications/not%20an%20app/jobLogs".to_string(),
        "/applications/575ec8687ae143cd83dc4a9/jobLogs".to_string(),
        format!("/applications/{}0/jobLogs", a.id),
        format!("/applications/not-an-app/jobLogs/{run}"),
        format!("/applications/{UNDECODABLE}/jobLogs"),
    ] {
        let (st, body) = get(&env, &p, "", a.auth()).await;
        assert_eq!(st, 400, "{p}: {body}");
        losant_error(&body, "Validation");
    }
    let p = "/applications/not-an-app/jobLogs";
    let (st, body) = get(&env, p, "", Auth::Bearer(&wrong_secret(&a.token))).await;
    assert_eq!(st, 401, "{p}: {body}");
    losant_error(&body, "Unauthorized");
    env.cleanup().await;
}

/// A server fault (the tenant's run log unreadable) is a 500 `InternalError`, not described.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losant_store_fault_answers_500() {
    let env = TestEnv::api_only().await;
    let a = app(&env).await;
    break_key(&env, &env.store().await.keys().tenant_runs(&a.id)).await;
    let (st, body) = get(&env, &a.list(), "", a.auth()).await;
    assert_eq!(st, 500, "{body}");
    losant_error(&body, "InternalError");
    assert_eq!(body["message"], "internal error", "{body}");
    env.cleanup().await;
}
