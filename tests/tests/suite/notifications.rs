//! Failure notifications: a job's `notifications` URL receives a signed JSON event when a run
//! fails after its retries, when its schedule recovers and when its schedule is deactivated
//! on completion; a delivery that fails is tried again; the deliveries are listed per job; a
//! tenant whose URL hangs delays neither another tenant's notifications nor its runs; the
//! field is validated like `action`.

use crate::signing::by_hand;
use chime_testkit::{wait_until, Hit, Target, TestEnv, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

/// A tenant created through the admin API: its signing secret and a key's token.
async fn tenant(env: &TestEnv, name: &str) -> (String, String) {
    let t = env
        .client()
        .expect(
            201,
            "POST",
            "/admin/tenants",
            ADMIN_TOKEN,
            Some(json!({"name": name})),
        )
        .await;
    let id = t["id"].as_str().unwrap();
    let token = env.client().create_key(id, &["read", "write"]).await;
    (t["signingSecret"].as_str().unwrap().to_string(), token)
}

/// A job of the key's tenant calling `action` on `schedule`, its events going to `sink`.
async fn job(env: &TestEnv, token: &str, action: &Target, sink: &Target, schedule: Value) -> u64 {
    let name = format!("notified-{}", uuid::Uuid::new_v4().simple());
    let body = json!({"name": name, "action": action.url("/run"), "active": true,
                      "notifications": sink.url("/events"), "schedules": [schedule]});
    env.client().create_job(token, body).await.id
}

/// The events `sink` received once `done` says they are enough.
async fn events(sink: &Target, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<(Hit, Value)> {
    wait_until(what, Duration::from_secs(30), || async {
        let got: Vec<(Hit, Value)> = sink
            .hits()
            .into_iter()
            .map(|h| {
                let v = serde_json::from_str(&h.body).expect("an event is JSON");
                (h, v)
            })
            .collect();
        let values: Vec<Value> = got.iter().map(|(_, v)| v.clone()).collect();
        done(&values).then_some(got)
    })
    .await
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The job's notifications as the API lists them.
async fn listed(env: &TestEnv, token: &str, job: u64) -> Vec<Value> {
    let path = format!("/scheduler/jobs/{job}/notifications");
    let v = env.client().expect(200, "GET", &path, token, None).await;
    assert_eq!(v["jobId"], json!(job), "{v}");
    v["results"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_recovery_and_deactivation_are_notified_signed() {
    let env = TestEnv::cluster().await;
    let (action, sink) = (Target::start().await, Target::start().await);
    let (secret, token) = tenant(&env, "alerts").await;
    // Two failed runs, then successes.
    action.answer_next(500, &[]);
    action.answer_next(503, &[]);
    let id = job(
        &env,
        &token,
        &action,
        &sink,
        json!({"repeatInterval": "1 second", "active": true}),
    )
    .await;
    let got = events(&sink, "two failures and a recovery", |e| {
        !of_type(e, "schedule.recovered").is_empty()
    })
    .await;
    let values: Vec<Value> = got.iter().map(|(_, v)| v.clone()).collect();
    let failed = of_type(&values, "run.failed");
    assert_eq!(failed.len(), 2, "{values:?}");
    let mut streaks: Vec<u64> = failed
        .iter()
        .map(|e| e["consecutiveFailures"].as_u64().unwrap())
        .collect();
    streaks.sort_unstable();
    assert_eq!(streaks, [1, 2], "{values:?}");
    let statuses: Vec<u64> = failed
        .iter()
        .map(|e| e["run"]["httpStatus"].as_u64().unwrap())
        .collect();
    assert!(
        statuses.contains(&500) && statuses.contains(&503),
        "{values:?}"
    );
    for e in &failed {
        assert_eq!(e["jobId"], json!(id), "{e}");
        assert_eq!(e["run"]["outcome"], "failure", "{e}");
        assert_eq!(e["run"]["failureReason"], "http_5xx", "{e}");
        assert_eq!(e["run"]["attempts"], 1, "{e}");
    }
    let recovered = of_type(&values, "schedule.recovered");
    assert_eq!(recovered.len(), 1, "{values:?}");
    assert_eq!(recovered[0]["failuresBefore"], 2, "{values:?}");
    assert_eq!(recovered[0]["run"]["outcome"], "success", "{values:?}");
    // Each delivery is signed with the tenant's secret under the event's id.
    for (hit, event) in &got {
        assert_eq!(hit.method, "POST");
        assert_eq!(hit.header("webhook-id"), event["id"].as_str(), "{hit:?}");
        assert_eq!(hit.header("x-chime-event"), event["type"].as_str());
        assert_eq!(by_hand(&secret, hit), [true], "{hit:?}");
    }

    // A one-time schedule's completion deactivates it: one more event.
    let once = json!({"time": "now", "active": true});
    let once_job = job(&env, &token, &action, &sink, once).await;
    let got = events(&sink, "a deactivation", |e| {
        !of_type(e, "schedule.deactivated").is_empty()
    })
    .await;
    let (hit, deactivated) = got
        .iter()
        .find(|(_, e)| e["type"] == "schedule.deactivated")
        .unwrap();
    assert_eq!(deactivated["jobId"], json!(once_job), "{deactivated}");
    assert!(
        deactivated["message"]
            .as_str()
            .unwrap()
            .contains("completed"),
        "{deactivated}"
    );
    assert!(deactivated.get("run").is_none(), "{deactivated}");
    assert_eq!(by_hand(&secret, hit), [true]);

    // The job lists its deliveries, newest first, each delivered once.
    let list = listed(&env, &token, id).await;
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list[0]["type"], "schedule.recovered", "{list:?}");
    for d in &list {
        assert_eq!(
            (&d["state"], &d["attempts"], &d["lastHttpStatus"]),
            (&json!("delivered"), &json!(1), &json!(200)),
            "{d}"
        );
        assert_eq!(d["url"], json!(sink.url("/events")));
        assert_eq!(d["event"]["id"], d["id"]);
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_delivery_is_sent_again_until_delivered() {
    let env = TestEnv::cluster().await;
    let (action, sink) = (Target::start().await, Target::start().await);
    let (_, token) = tenant(&env, "retried").await;
    action.set_reply(500, "down", false);
    sink.answer_next(503, &[("retry-after", "1")]);
    let id = job(
        &env,
        &token,
        &action,
        &sink,
        json!({"time": "now", "active": true}),
    )
    .await;
    // The first event the sink is sent (answered 503) is sent again.
    let got = events(&sink, "an event sent twice", |e| {
        e.iter().skip(1).any(|later| later["id"] == e[0]["id"])
    })
    .await;
    let first = &got[0].0;
    let again = got
        .iter()
        .skip(1)
        .map(|(h, _)| h)
        .find(|h| h.header("webhook-id") == first.header("webhook-id"))
        .unwrap();
    assert_eq!(
        (
            first.header("x-chime-attempt"),
            again.header("x-chime-attempt")
        ),
        (Some("1"), Some("2"))
    );
    assert_eq!(first.body, again.body, "the same event");
    assert!(
        again.wall_ms - first.wall_ms >= 900,
        "Retry-After: 1 is honoured"
    );
    let event_id = first.header("webhook-id").unwrap().to_string();
    let delivered = wait_until("the delivery recorded", Duration::from_secs(10), || async {
        listed(&env, &token, id)
            .await
            .into_iter()
            .find(|d| d["id"] == event_id.as_str() && d["state"] == "delivered")
    })
    .await;
    assert_eq!(
        (&delivered["attempts"], &delivered["lastHttpStatus"]),
        (&json!(2), &json!(200)),
        "{delivered}"
    );
    env.cleanup().await;
}

/// A tenant whose notifications URL hangs holds at most its share of the notifier: another
/// tenant's events are delivered meanwhile, and both tenants' runs go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_notifications_url_delays_no_other_tenant() {
    let mut settings = chime_testkit::test_settings();
    settings.notify_concurrency = 4; // a tenant's share: 1
    settings.notify_timeout_ms = 20_000;
    let env = TestEnv::cluster_with(settings).await;
    let failing = Target::start().await;
    failing.set_reply(500, "down", false);
    let (hanging, healthy_sink) = (Target::start().await, Target::start().await);
    hanging.set_reply(200, "", true); // answers only when its gate opens
    let (_, hostile) = tenant(&env, "hostile").await;
    let (_, healthy) = tenant(&env, "healthy").await;
    let every_second = json!({"repeatInterval": "1 second", "active": true});
    for _ in 0..3 {
        job(&env, &hostile, &failing, &hanging, every_second.clone()).await;
    }
    wait_until(
        "the hostile tenant's URL holds calls",
        Duration::from_secs(20),
        || async { (hanging.in_flight() >= 1).then_some(()) },
    )
    .await;
    let healthy_job = job(&env, &healthy, &failing, &healthy_sink, every_second).await;
    let got = events(&healthy_sink, "the healthy tenant's failures", |e| {
        of_type(e, "run.failed").len() >= 3
    })
    .await;
    assert!(got.iter().all(|(_, e)| e["jobId"] == json!(healthy_job)));
    // The hostile tenant never held more than its share, and its events wait their turn.
    assert_eq!(hanging.most_in_flight(), 1);
    hanging.open_gate();
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_notifications_url_is_a_400_naming_it() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let base = json!({"name": "n", "action": "http://127.0.0.1:9/run", "active": false});
    for (bad, says) in [
        (json!(42), "'notifications' must be a URL"),
        (json!("not a url"), "'notifications' is not a valid URL"),
        (
            json!("ftp://127.0.0.1/x"),
            "'notifications' must be an absolute http or https URL",
        ),
        // An address the guard refuses (checked, never connected to).
        (
            json!("http://10.1.2.3/events"),
            "'notifications' cannot be called",
        ),
    ] {
        let mut body = base.clone();
        body["notifications"] = bad.clone();
        let (st, v) = env
            .call("POST", "/scheduler/jobs", &token, Some(body))
            .await;
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(v.to_string().contains(says), "{bad}: {v}");
    }
    // Set, shown, changed and removed by Configure Job.
    let mut body = base.clone();
    body["notifications"] = json!("http://127.0.0.1:9/events");
    let created = env.client().create_job(&token, body).await;
    let path = format!("/scheduler/jobs/{}", created.id);
    let (_, shown) = env.call("GET", &path, &token, None).await;
    assert_eq!(
        shown["notifications"], "http://127.0.0.1:9/events",
        "{shown}"
    );
    let (st, v) = env
        .call("PUT", &path, &token, Some(json!({"notifications": 7})))
        .await;
    assert_eq!(st, 400, "{v}");
    let (st, _) = env
        .call("PUT", &path, &token, Some(json!({"notifications": null})))
        .await;
    assert_eq!(st, 200);
    let (_, shown) = env.call("GET", &path, &token, None).await;
    assert!(shown.get("notifications").is_none(), "{shown}");
    assert_eq!(listed(&env, &token, created.id).await, Vec::<Value>::new());
    env.cleanup().await;
}

/// kill -9 of the worker delivering an event, mid-call: once its claim runs out another worker
/// delivers it (at least once; the receiver sees one id twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_survives_its_delivering_worker_killed() {
    let mut settings = chime_testkit::test_settings();
    settings.notify_timeout_ms = 3_000;
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    env.start_scheduler().await;
    let mut doomed = env.spawn_process("worker", "notify-doomed");
    let (action, sink) = (Target::start().await, Target::start().await);
    action.set_reply(500, "down", false);
    sink.set_reply(200, "", true); // holds every call until its gate opens
    let (_, token) = tenant(&env, "killed").await;
    let id = job(
        &env,
        &token,
        &action,
        &sink,
        json!({"time": "now", "active": true}),
    )
    .await;
    let first = wait_until(
        "the failure's delivery under way",
        Duration::from_secs(30),
        || async {
            sink.hits()
                .into_iter()
                .find(|h| h.header("x-chime-event") == Some("run.failed"))
        },
    )
    .await;
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();
    sink.open_gate();
    env.start_worker().await;
    let event_id = first.header("webhook-id").unwrap().to_string();
    let delivered = wait_until(
        "the event delivered by another worker",
        Duration::from_secs(30),
        || async {
            listed(&env, &token, id)
                .await
                .into_iter()
                .find(|d| d["id"] == event_id.as_str() && d["state"] == "delivered")
        },
    )
    .await;
    // The killed worker's attempt was never recorded: the survivor's is the first on record.
    assert_eq!(delivered["attempts"], 1, "{delivered}");
    let sent: Vec<Hit> = sink
        .hits()
        .into_iter()
        .filter(|h| h.header("webhook-id") == Some(event_id.as_str()))
        .collect();
    assert_eq!(sent.len(), 2, "sent by each worker: {sent:?}");
    assert_eq!(sent[0].body, sent[1].body);
    assert!(
        sent[1].wall_ms - sent[0].wall_ms >= 3_000,
        "the second waited for the first claim to run out"
    );
    env.cleanup().await;
}
