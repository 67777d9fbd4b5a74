//! Making and changing jobs from the dashboard over plain HTTP: a job with its first
//! schedule, its own fields, another schedule and its deletion, each as the API then shows
//! it; refused forms shown again with the API's message and the values sent, changing
//! nothing; forged forms, a read-only key and another tenant's session refused.

use super::{csrf_of, get, post, sign_in};
use chime_testkit::TestEnv;
use serde_json::Value;

/// The tenant's jobs, as the API lists them.
async fn job_names(env: &TestEnv, token: &str) -> Vec<String> {
    let (st, v): (u16, Value) = env.call("GET", "/scheduler/jobs", token, None).await;
    assert_eq!(st, 200, "{v}");
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap().to_string())
        .collect()
}

/// Job `id` with its schedules, as the API shows it.
async fn job_of(env: &TestEnv, token: &str, id: u64) -> Value {
    let path = format!("/scheduler/jobs/{id}?displaySchedules=true");
    let (st, v): (u16, Value) = env.call("GET", &path, token, None).await;
    assert_eq!(st, 200, "{v}");
    v
}

/// The job id of a `Location` such as `/ui/jobs/7?done=created`.
fn id_in(location: &str) -> u64 {
    let rest = location.trim_start_matches("/ui/jobs/");
    rest[..rest.find('?').unwrap()].parse().unwrap()
}

/// A POST whose answer is a redirect: its `Location`.
async fn posted(env: &TestEnv, path: &str, cookie: &str, form: &[(&str, &str)]) -> String {
    let resp = super::http()
        .post(env.url(path))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{path}: {}", resp.text().await.unwrap());
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// What is refused: forged forms, a read-only key, another tenant's session.
async fn refusals(env: &TestEnv, cookie: &str, token: &str, job: u64) {
    let form = [("name", "forged"), ("action", "http://127.0.0.1:9/")];
    assert_eq!(post(env, "/ui/jobs/new", cookie, &form, &[]).await.0, 403);
    let (_, reader) = env.tenant(&["read"]).await;
    let reader = sign_in(env, &reader).await;
    assert_eq!(get(env, "/ui/jobs/new", &reader).await.0, 403);
    let (_, _, list) = get(env, "/ui/jobs", &reader).await;
    assert!(!list.contains("/ui/jobs/new"), "{list}");
    let (_, stranger) = env.tenant(&["read", "write"]).await;
    let stranger = sign_in(env, &stranger).await;
    for path in ["edit", "schedules/new", "confirm-delete"] {
        let url = format!("/ui/jobs/{job}/{path}");
        assert_eq!(get(env, &url, &stranger).await.0, 404, "{url}");
    }
    let (_, _, theirs) = get(env, "/ui/jobs", &stranger).await;
    let delete = format!("/ui/jobs/{job}/delete");
    let (st, _) = post(env, &delete, &stranger, &[("csrf", &csrf_of(&theirs))], &[]).await;
    assert_eq!(st, 404);
    assert_eq!(job_names(env, token).await, ["nightly"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_made_changed_and_deleted_through_the_forms_as_the_api_would() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let cookie = sign_in(&env, &token).await;
    let (_, _, list) = get(&env, "/ui/jobs", &cookie).await;
    assert!(list.contains("href=\"/ui/jobs/new\""), "{list}");
    let (st, _, page) = get(&env, "/ui/jobs/new", &cookie).await;
    assert_eq!(st, 200, "{page}");
    let csrf = csrf_of(&page);
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("name", "nightly"),
        ("description", "the nightly report"),
        ("action", "ftp://127.0.0.1/report"),
        ("httpMethod", "GET"),
        ("timeoutMs", ""),
        ("active", "true"),
        ("mode", "repeatInterval"),
        ("timing", "1 hour"),
        ("scheduleDescription", "hourly"),
        ("scheduleActive", "true"),
    ];

    // Refused: the API's message, the values as sent, nothing stored.
    let (st, page) = post(&env, "/ui/jobs/new", &cookie, &form, &[]).await;
    assert_eq!(st, 400, "{page}");
    assert!(
        page.contains("role=\"alert\"") && page.contains("action"),
        "{page}"
    );
    assert!(page.contains("value=\"ftp://127.0.0.1/report\""), "{page}");
    assert!(page.contains("value=\"the nightly report\""), "{page}");
    assert!(job_names(&env, &token).await.is_empty());

    // Made: the job and its schedule, as the API shows them.
    form[3].1 = "http://127.0.0.1:9/report";
    let to = posted(&env, "/ui/jobs/new", &cookie, &form).await;
    let id = id_in(&to);
    let job = job_of(&env, &token, id).await;
    assert_eq!(job["httpMethod"], "GET", "{job}");
    assert_eq!(job["description"], "the nightly report", "{job}");
    assert_eq!(job["schedules"][0]["repeatInterval"], "1 hour", "{job}");
    assert_eq!(job["schedules"][0]["active"], true, "{job}");
    let (_, _, page) = get(&env, &to, &cookie).await;
    assert!(page.contains("The job was created."), "{page}");
    // The name is taken now: 409, with the API's words.
    let (st, page) = post(&env, "/ui/jobs/new", &cookie, &form, &[]).await;
    assert_eq!(st, 409, "{page}");
    assert!(page.contains("already exists"), "{page}");

    // Its own fields: the form holds them; a bad timeout is named; a good one saved.
    let edit = format!("/ui/jobs/{id}/edit");
    let (_, _, page) = get(&env, &edit, &cookie).await;
    assert!(page.contains("value=\"nightly\""), "{page}");
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("name", "nightly"),
        ("description", "changed"),
        ("action", "http://127.0.0.1:9/report"),
        ("httpMethod", "POST"),
        ("timeoutMs", "soon"),
        ("active", "true"),
    ];
    let (st, page) = post(&env, &edit, &cookie, &fields, &[]).await;
    assert_eq!(st, 400, "{page}");
    assert!(page.contains("timeoutMs"), "{page}");
    fields[5].1 = "2000";
    posted(&env, &edit, &cookie, &fields).await;
    let job = job_of(&env, &token, id).await;
    assert_eq!(job["description"], "changed", "{job}");
    assert_eq!(job["httpMethod"], "POST", "{job}");
    assert_eq!(job["timeoutMs"], 2000, "{job}");

    // Another schedule: a bad cron refused, a good one added.
    let add = format!("/ui/jobs/{id}/schedules/new");
    let mut sched = vec![
        ("csrf", csrf.as_str()),
        ("mode", "cron"),
        ("timing", "every day"),
    ];
    let (st, page) = post(&env, &add, &cookie, &sched, &[]).await;
    assert_eq!(st, 400, "{page}");
    assert!(page.contains("value=\"every day\""), "{page}");
    sched[2].1 = "* * * * 9 0 0";
    sched.push(("scheduleActive", "true"));
    posted(&env, &add, &cookie, &sched).await;
    let job = job_of(&env, &token, id).await;
    assert_eq!(job["schedules"].as_array().unwrap().len(), 2, "{job}");

    refusals(&env, &cookie, &token, id).await;

    // Deleted after its confirmation: gone from the API.
    let (st, _, page) = get(&env, &format!("/ui/jobs/{id}/confirm-delete"), &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("Delete the job"), "{page}");
    let to = posted(
        &env,
        &format!("/ui/jobs/{id}/delete"),
        &cookie,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(to, "/ui/jobs?done=deleted");
    let (st, _): (u16, Value) = env
        .call("GET", &format!("/scheduler/jobs/{id}"), &token, None)
        .await;
    assert_eq!(st, 404);

    env.cleanup().await;
}
