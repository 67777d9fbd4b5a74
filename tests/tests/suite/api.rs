//! The API's edges: authentication, scopes, tenant isolation, and bad input.

use base64::Engine;
use chime_testkit::{create_job, TestEnv};
use serde_json::{json, Value};

fn sap_error(body: &Value, code: u16) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["type"].is_string(), "{body}");
    assert_eq!(body["detailedError"], body["message"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_scopes_and_tenant_isolation() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token_a) = env.tenant(&["read", "write"]).await;
    let (_, token_b) = env.tenant(&["read", "write"]).await;
    let (_, reader) = env.tenant(&["read"]).await;
    let (job, sid) = create_job(
        &env,
        &token_a,
        "mine",
        "http://127.0.0.1:9/x",
        json!({"cron": "* * * * * */10 0", "active": false}),
    )
    .await;

    // Wrong or missing credentials: 401.
    let (id_a, secret_a) = token_a.split_once('.').unwrap();
    for bad in [
        format!("{id_a}.wrong"),
        "nokey.secret".into(),
        "garbage".into(),
    ] {
        let (st, body) = env.call("GET", "/scheduler/jobs", &bad, None).await;
        assert_eq!(st, 401, "{bad}");
        sap_error(&body, 401);
    }
    let st = env
        .http
        .get(env.url("/scheduler/jobs"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 401);

    // The three ways to present a key.
    let st = env
        .http
        .get(env.url("/scheduler/jobs"))
        .header("X-API-Key", id_a)
        .header("X-API-Secret", secret_a)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 200);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id_a}:{secret_a}"));
    let resp: Value = env
        .http
        .get(env.url("/scheduler/jobs"))
        .header("Authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["total"], 1);

    // A key without the write scope: 403.
    let (st, body) = env
        .call(
            "POST",
            "/scheduler/jobs",
            &reader,
            Some(json!({"name": "x", "action": "http://127.0.0.1:9/"})),
        )
        .await;
    assert_eq!(st, 403);
    sap_error(&body, 403);
    assert!(body["message"].as_str().unwrap().contains("write"));

    // Another tenant's job, schedules and runs: 404, never 403.
    for (method, path) in [
        ("GET", format!("/scheduler/jobs/{job}")),
        ("PUT", format!("/scheduler/jobs/{job}")),
        ("DELETE", format!("/scheduler/jobs/{job}")),
        ("GET", format!("/scheduler/jobs/{job}/schedules")),
        ("GET", format!("/scheduler/jobs/{job}/schedules/{sid}")),
        ("GET", format!("/scheduler/jobs/{job}/schedules/{sid}/runs")),
        (
            "POST",
            format!("/scheduler/jobs/{job}/schedules/activationStatus"),
        ),
    ] {
        let body = (method == "PUT" || method == "POST")
            .then(|| json!({"activationStatus": true, "description": "x"}));
        let (st, resp) = env.call(method, &path, &token_b, body).await;
        assert_eq!(st, 404, "{method} {path}: {resp}");
    }
    let (_, list) = env.call("GET", "/scheduler/jobs", &token_b, None).await;
    assert_eq!(list["total"], 0);
    let (st, _) = env
        .call("GET", "/scheduler/jobs?name=mine", &token_b, None)
        .await;
    assert_eq!(st, 404);
    let (st, _) = env
        .call("GET", "/scheduler/jobs?name=mine", &token_a, None)
        .await;
    assert_eq!(st, 200);

    // Admin calls need the admin token.
    let st = env
        .http
        .post(env.url("/admin/tenants"))
        .bearer_auth(&token_a)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 401);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error_and_stores_nothing() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let post_raw = |body: String| {
        let env = &env;
        let token = &token;
        async move {
            let resp = env
                .http
                .post(env.url("/scheduler/jobs"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let st = resp.status().as_u16();
            let close = resp
                .headers()
                .get("connection")
                .is_some_and(|v| v == "close");
            (st, resp.json::<Value>().await.unwrap_or(Value::Null), close)
        }
    };
    let job = |schedule: Value| json!({"name": "j1", "action": "http://127.0.0.1:9/", "active": true, "schedules": [schedule]});

    let cases: Vec<(String, u16, &str)> = vec![
        ("{\"name\": ".into(), 400, "malformed JSON"),
        ("[]".into(), 400, "JSON object"),
        (job(json!({"every": "day", "active": true})).to_string(), 400, "'cron'"),
        (job(json!({"cron": "* * * * 25 0 0", "active": true})).to_string(), 400, "Hour"),
        (job(json!({"cron": "* * * *", "active": true})).to_string(), 400, "7 fields"),
        (job(json!({"cron": "* 2 30 * 0 0 0", "active": true})).to_string(), 400, "cron"),
        (job(json!({"repeatInterval": "twice", "active": true})).to_string(), 400, "repeatInterval"),
        (job(json!({"time": "not a time", "active": true})).to_string(), 400, "time"),
        (json!({"name": "j1", "action": "not a url"}).to_string(), 400, "'action'"),
        (json!({"name": "j1", "action": "http://127.0.0.1:9/", "schedules": {}}).to_string(), 400, "'schedules'"),
        (format!("{{\"name\": \"j1\", \"action\": \"http://127.0.0.1:9/\", \"description\": \"{}\"}}", "x".repeat(200 * 1024)), 413, "too large"),
        // Past the cap by megabytes: still a 413 the client reads, not a reset connection.
        (format!("{{\"name\": \"j1\", \"action\": \"http://127.0.0.1:9/\", \"description\": \"{}\"}}", "x".repeat(3 * 1024 * 1024)), 413, "too large"),
    ];
    for (body, code, needle) in cases {
        let (st, resp, close) = post_raw(body.clone()).await;
        assert_eq!(st, code, "{}: {resp}", &body[..body.len().min(80)]);
        // A 413 closes the connection (the body may be unread): no request reuses it.
        assert_eq!(close, code == 413, "{}", &body[..body.len().min(80)]);
        sap_error(&resp, code);
        assert!(
            resp["message"].as_str().unwrap().contains(needle),
            "expected '{needle}' in {resp}"
        );
    }

    // Nothing was stored by the refused requests: no job, no reserved name, no due entry.
    let (_, list) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(list["total"], 0, "{list}");
    let store = env.store().await;
    assert_eq!(store.due_len().await.unwrap(), 0);
    assert_eq!(store.job_id_by_name(&tenant, "j1").await.unwrap(), None);

    // Run-log paging parameters.
    let (job_id, sid) = create_job(
        &env,
        &token,
        "j1",
        "http://127.0.0.1:9/",
        json!({"repeatInterval": "1 hour", "active": false}),
    )
    .await;
    assert_eq!(job_id, 1, "a refused body takes no job id");
    for q in [
        "page_size=-1",
        "page_size=0",
        "page_size=abc",
        "page_size=201",
        "offset=-5",
        "offset=x",
    ] {
        let (st, resp) = env
            .call(
                "GET",
                &format!("/scheduler/jobs/{job_id}/schedules/{sid}/runs?{q}"),
                &token,
                None,
            )
            .await;
        assert_eq!(st, 400, "{q}");
        sap_error(&resp, 400);
        let field = q.split('=').next().unwrap();
        assert!(resp["message"].as_str().unwrap().contains(field), "{resp}");
    }
    // A duplicate job name is a conflict.
    let (st, resp) = env
        .call(
            "POST",
            "/scheduler/jobs",
            &token,
            Some(json!({"name": "j1", "action": "http://127.0.0.1:9/"})),
        )
        .await;
    assert_eq!(st, 409, "{resp}");
    let j2 = json!({"name": "j2", "action": "http://127.0.0.1:9/"});
    let (st, resp) = env.call("POST", "/scheduler/jobs", &token, Some(j2)).await;
    assert_eq!((st, &resp["_id"]), (201, &json!(2)), "{resp}");
    // Changing a schedule's mode is refused and leaves it as it was.
    let (st, _) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{job_id}/schedules/{sid}"),
            &token,
            Some(json!({"cron": "* * * * * * *"})),
        )
        .await;
    assert_eq!(st, 400);
    let (_, sched) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job_id}/schedules/{sid}"),
            &token,
            None,
        )
        .await;
    assert_eq!(sched["repeatInterval"], "1 hour");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sap_job_and_schedule_lifecycle() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (st, created) = env
        .call(
            "POST",
            "/scheduler/jobs",
            &token,
            Some(json!({
                "name": "salesOrder", "description": "process orders", "action": "http://127.0.0.1:9/orders",
                "active": true, "httpMethod": "PUT",
                "schedules": [
                    {"cron": "* * * * * */10 0", "active": true, "description": "every 10 min", "data": {"id": 1}},
                    {"repeatInterval": "2 hours", "active": false}
                ]
            })),
        )
        .await;
    assert_eq!(st, 201, "{created}");
    let id = created["_id"].as_u64().unwrap();
    assert_eq!(created["schedules"].as_array().unwrap().len(), 2);
    assert_eq!(created["schedules"][0]["type"], "recurring");
    assert!(created["schedules"][0]["nextRunAt"].is_string());
    assert!(
        created["schedules"][1]["nextRunAt"].is_null(),
        "inactive schedules have no next run"
    );

    let (_, got) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{id}?displaySchedules=true"),
            &token,
            None,
        )
        .await;
    assert_eq!(got["name"], "salesOrder");
    assert_eq!(got["httpMethod"], "PUT");
    assert_eq!(got["schedules"].as_array().unwrap().len(), 2);

    // Configure by id keeps what is not given.
    let (st, _) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{id}"),
            &token,
            Some(json!({"description": "new"})),
        )
        .await;
    assert_eq!(st, 200);
    let (_, got) = env
        .call("GET", &format!("/scheduler/jobs/{id}"), &token, None)
        .await;
    assert_eq!(
        (got["description"].as_str(), got["action"].as_str()),
        (Some("new"), Some("http://127.0.0.1:9/orders"))
    );

    schedules_are_created_configured_activated_and_deleted(&env, &token, id).await;
    let (_, count) = env.call("GET", "/scheduler/jobCount", &token, None).await;
    assert_eq!(count, json!({"active": 1, "inactive": 0}));

    // Paging of jobs: SAP's limits.
    let (st, _) = env
        .call("GET", "/scheduler/jobs?page_size=101", &token, None)
        .await;
    assert_eq!(st, 400);
    let (st, _) = env
        .call(
            "GET",
            "/scheduler/jobs?name=salesOrder&page_size=5",
            &token,
            None,
        )
        .await;
    assert_eq!(st, 400);

    // Delete the job: gone, with its schedules.
    let (st, _) = env
        .call("DELETE", &format!("/scheduler/jobs/{id}"), &token, None)
        .await;
    assert_eq!(st, 200);
    let (st, _) = env
        .call("GET", &format!("/scheduler/jobs/{id}"), &token, None)
        .await;
    assert_eq!(st, 404);
    let store = env.store().await;
    assert_eq!(store.due_len().await.unwrap(), 0);
    env.cleanup().await;
}

/// A third schedule of job `id` (two exist, one inactive): created, configured, every
/// schedule activated, then deleted.
async fn schedules_are_created_configured_activated_and_deleted(
    env: &TestEnv,
    token: &str,
    id: u64,
) {
    // Schedules: create, configure, activate all, delete.
    let (st, sc) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{id}/schedules"),
            token,
            Some(json!({"repeatAt": "4.40pm", "active": true})),
        )
        .await;
    assert_eq!(st, 201, "{sc}");
    let sid = sc["scheduleId"].as_str().unwrap().to_string();
    let (st, sc) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{id}/schedules/{sid}"),
            token,
            Some(json!({"repeatAt": "18.40"})),
        )
        .await;
    assert_eq!(st, 200, "{sc}");
    assert!(sc["nextRunAt"].as_str().unwrap().contains("T18:40:00"));
    let (st, _) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{id}/schedules/activationStatus"),
            token,
            Some(json!({"activationStatus": true})),
        )
        .await;
    assert_eq!(st, 200);
    let (_, all) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{id}/schedules"),
            token,
            None,
        )
        .await;
    assert_eq!(all["total"], 3);
    assert!(all["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["active"] == true && s["nextRunAt"].is_string()));
    let (st, _) = env
        .call(
            "DELETE",
            &format!("/scheduler/jobs/{id}/schedules/{sid}"),
            token,
            None,
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{id}/schedules/{sid}"),
            token,
            None,
        )
        .await;
    assert_eq!(st, 404);
}
