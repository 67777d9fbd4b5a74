//! SAP's surface where a real client meets it: `ansConfig` and `calmConfig` checked with SAP's
//! messages, stored and returned, `user` and `subDomain` in job answers; a job's schedules
//! paged by 10 when only `offset` is given; `displayLogs=true` entries with `statusMessage`
//! and `locale`; a failed run's `runText` is the application's answer.

use chime_testkit::jobs::completed_run;
use chime_testkit::{create_job, Target, TestEnv};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ans_and_calm_config_are_checked_stored_and_returned() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let base = json!({"name": "alerted", "action": "http://127.0.0.1:9/x", "active": false});
    for (field, given, says) in [
        (
            "calmConfig",
            json!({}),
            "Error while creating job: 'calmConfig' object cannot be empty",
        ),
        (
            "calmConfig",
            json!({"enabled": "true"}),
            "Error while creating job: 'enabled' in 'calmConfig' must be of type 'boolean'",
        ),
        (
            "calmConfig",
            json!({"enable": true}),
            "Error while creating job: 'enabled' is a required property for object 'calmConfig'",
        ),
        (
            "calmConfig",
            json!({"enabled": true, "level": 2}),
            "Error while creating job: 'level' is not an allowed property for object 'calmConfig'",
        ),
        (
            "ansConfig",
            json!({"onError": "yes"}),
            "Error while creating job: 'onError' in 'ansConfig' must be of type 'boolean'",
        ),
    ] {
        let mut body = base.clone();
        body[field] = given;
        let (st, v) = env
            .call("POST", "/scheduler/jobs", &token, Some(body))
            .await;
        assert_eq!((st, &v["message"]), (400, &json!(says)), "{v}");
    }
    let mut body = base.clone();
    body["ansConfig"] = json!({"onError": true, "onSuccess": false});
    body["calmConfig"] = json!({"enabled": true});
    let created = env.client().create_job(&token, body).await;
    let path = format!("/scheduler/jobs/{}", created.id);
    let (_, job) = env.call("GET", &path, &token, None).await;
    assert_eq!(
        job["ansConfig"],
        json!({"onError": true, "onSuccess": false}),
        "{job}"
    );
    assert_eq!(job["calmConfig"], json!({"enabled": true}), "{job}");
    assert_eq!(
        (&job["user"], &job["subDomain"]),
        (&Value::Null, &Value::Null),
        "{job}"
    );
    assert!(job.as_object().unwrap().contains_key("subDomain"), "{job}");
    // Changed by Configure Job; a job without them shows SAP's defaults.
    let (st, _) = env
        .call(
            "PUT",
            &path,
            &token,
            Some(json!({"calmConfig": {"enabled": false}})),
        )
        .await;
    assert_eq!(st, 200);
    let (_, job) = env.call("GET", &path, &token, None).await;
    assert_eq!(job["calmConfig"], json!({"enabled": false}), "{job}");
    let (st, v) = env
        .call("PUT", &path, &token, Some(json!({"calmConfig": {}})))
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Error while updating job: 'calmConfig' object cannot be empty"),
        "{v}"
    );
    let mut plain = base.clone();
    plain["name"] = json!("plain");
    let other = env.client().create_job(&token, plain).await;
    let (_, job) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{}", other.id),
            &token,
            None,
        )
        .await;
    assert_eq!(
        job["ansConfig"],
        json!({"onError": false, "onSuccess": false}),
        "{job}"
    );
    assert_eq!(job["calmConfig"], json!({"enabled": false}), "{job}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_an_offset_pages_a_jobs_schedules_by_10() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let schedules: Vec<Value> = (0..14)
        .map(|i| json!({"repeatInterval": format!("{} minutes", i + 1), "active": false}))
        .collect();
    let body = json!({"name": "many", "action": "http://127.0.0.1:9/x", "active": false,
                      "schedules": schedules});
    let job = env.client().create_job(&token, body).await;
    let list = format!("/scheduler/jobs/{}/schedules", job.id);
    let (_, all) = env.call("GET", &list, &token, None).await;
    assert_eq!(all["results"].as_array().unwrap().len(), 14, "{all}");
    let (_, page) = env
        .call("GET", &format!("{list}?offset=2"), &token, None)
        .await;
    assert_eq!(page["results"].as_array().unwrap().len(), 10, "{page}");
    assert_eq!(page["total"], 14);
    assert_eq!(
        page["results"][0]["scheduleId"],
        all["results"][2]["scheduleId"]
    );
    let (_, page) = env
        .call("GET", &format!("{list}?offset=2&page_size=3"), &token, None)
        .await;
    assert_eq!(page["results"].as_array().unwrap().len(), 3, "{page}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_runs_text_is_the_applications_answer_and_logs_say_why() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    env.start_scheduler().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let target = Target::start().await;
    target.set_reply(500, "Something wrong happened", false);
    let (job, sid) = create_job(
        &env,
        &token,
        "failing",
        &target.url("/x"),
        json!({"time": "now", "active": true}),
    )
    .await;
    let run = completed_run(&env, &token, job, &sid).await;
    assert_eq!(run["runText"], "Something wrong happened", "{run}");
    assert_eq!(run["runState"], "ERROR", "{run}");
    assert_eq!(
        run["errorMessage"], "endpoint returned status code 500",
        "{run}"
    );
    let log = run["log"].as_str().unwrap();
    assert!(
        log.contains("HTTP 500 (endpoint returned status code 500)"),
        "{log}"
    );

    let path = format!("/scheduler/jobs/{job}/schedules/{sid}?displayLogs=true");
    let (_, sc) = env.call("GET", &path, &token, None).await;
    let entry = &sc["logs"][0];
    assert_eq!(entry["runText"], "Something wrong happened", "{sc}");
    assert_eq!(
        entry["statusMessage"], "The endpoint reported an error while executing the job",
        "{sc}"
    );
    assert_eq!(entry["locale"], "en", "{sc}");
    env.cleanup().await;
}
