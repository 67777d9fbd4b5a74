//! SAP's lifecycle rules beside completion: a schedule whose endpoint stays unreachable past
//! the limit is deactivated (`DEACTIVATION_ON_UNREACHABLE`, its runs stop, its job's
//! `notifications` URL hears of it), also when the leader changes meanwhile; an endpoint that
//! answered in between keeps its schedule; an inactive one-time schedule not run for long is
//! removed (`DELETION_ON_EXPIRY`) while fresh ones and an active one stay; another tenant's
//! schedules are untouched; and a write made meanwhile, or a run answered meanwhile, wins over
//! the leader's compare-and-set. The limits are the `…_SECS` settings, a few seconds; a test
//! that steps the sweep itself gives it explicit instants.

use chime_core::run::CallKind;
use chime_core::time::{format_instant, parse_stored_instant};
use chime_core::timing::FailureReason;
use chime_scheduler::{Lifecycle, Limits, Scheduler, Swept};
use chime_store::{Marked, Rule, Store};
use chime_testkit::seed::{accepted, result, success};
use chime_testkit::{test_settings, wait_until, Running, SeededJob, Target, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Local wall-clock now in ms (Redis runs on this host, so its clock is the same).
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A loopback port nothing listens on: calls to it are refused (`connect`).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Test settings with the rules' limits in seconds (0: the rule is off) and a sweep a second.
fn settings(unreachable_secs: u64, one_time_secs: u64) -> chime_runtime::config::Settings {
    let mut s = test_settings();
    s.unreachable_deactivate_days = 0;
    s.unreachable_deactivate_secs = unreachable_secs;
    s.one_time_expiry_days = 0;
    s.one_time_expiry_secs = one_time_secs;
    s.lifecycle_sweep_secs = 1;
    s
}

/// A schedule as the API shows it: its status (200, or 404 once gone) and body.
async fn schedule(env: &TestEnv, token: &str, job: u64, sid: &str) -> (u16, Value) {
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}");
    env.call("GET", &path, token, None).await
}

/// A job's action log (the entries of one schedule, if given: a removed schedule's too),
/// newest first.
async fn actions(env: &TestEnv, token: &str, job: u64, sid: Option<&str>) -> Vec<Value> {
    let path = format!("/scheduler/actionLogs?jobId={job}");
    let log = env.client().expect(200, "GET", &path, token, None).await;
    let all = log["results"].as_array().unwrap().clone();
    all.into_iter()
        .filter(|e| sid.is_none_or(|s| e["scheduleId"] == s))
        .collect()
}

/// The entries of `action` in a job's action log.
async fn logged(env: &TestEnv, token: &str, job: u64, sid: &str, action: &str) -> Vec<Value> {
    let all = actions(env, token, job, Some(sid)).await;
    all.into_iter().filter(|e| e["action"] == action).collect()
}

/// The tenant's schedules marked in the index of `rule`.
async fn marks(store: &Store, tenant: &str, rule: Rule) -> Vec<Marked> {
    store.marked(tenant, rule, i64::MAX, 1000).await.unwrap()
}

/// The mark of schedule `sid` in the index of `rule`, if it has one.
async fn mark_of(store: &Store, tenant: &str, rule: Rule, sid: &str) -> Option<i64> {
    let all = marks(store, tenant, rule).await;
    all.into_iter().find(|m| m.schedule == sid).map(|m| m.since)
}

/// A job of the key's tenant calling `action` on `schedules`.
async fn job(env: &TestEnv, token: &str, name: &str, action: &str, schedules: Value) -> Value {
    let body = json!({"name": name, "action": action, "active": true, "schedules": schedules});
    env.client().create_job(token, body).await.body
}

/// A job of the key's tenant calling `action` every second.
async fn ticking(env: &TestEnv, token: &str, name: &str, action: &str) -> Value {
    let every_second = json!([{"repeatInterval": "1 second", "active": true}]);
    job(env, token, name, action, every_second).await
}

fn sid(job: &Value, k: usize) -> String {
    job["schedules"][k]["scheduleId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn id(job: &Value) -> u64 {
    job["_id"].as_u64().unwrap()
}

/// Completed runs of a schedule.
async fn completed(env: &TestEnv, token: &str, job: u64, sid: &str) -> usize {
    let (_, list) = chime_testkit::runs(env, token, job, sid).await;
    list.iter()
        .filter(|r| r["runStatus"] == "COMPLETED")
        .count()
}

/// A schedule of a tenant's: the key's token, the job, the schedule.
type Of<'a> = (&'a str, u64, &'a str);

/// Waits until the leader deactivates `s`, unreachable since `since`, after `limit_secs`; checks
/// its `DEACTIVATION_ON_UNREACHABLE` entry and its mark gone. Returns the entry's message.
async fn deactivated_unreachable(
    env: &TestEnv,
    store: &Store,
    tenant: &str,
    s: Of<'_>,
    since: i64,
    limit_secs: i64,
) -> String {
    let (token, job, sid) = s;
    let sc = wait_until("deactivated", Duration::from_secs(30), || async {
        let (_, sc) = schedule(env, token, job, sid).await;
        (sc["active"] == false).then_some(sc)
    })
    .await;
    assert_eq!(sc["nextRunAt"], Value::Null, "{sc}");
    let entries = logged(env, token, job, sid, "DEACTIVATION_ON_UNREACHABLE").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(
        (&e["user"], &e["jobId"]),
        (&json!("scheduler"), &json!(job))
    );
    let message = e["message"].as_str().unwrap();
    let expected = format!(
        "endpoint unreachable since {}: no call got a connection for more than {limit_secs} s",
        format_instant(since)
    );
    assert_eq!(message, expected);
    let at = parse_stored_instant(e["timestamp"].as_str().unwrap()).unwrap();
    let after = at - since;
    assert!(
        after >= limit_secs * 1_000,
        "deactivated {after} ms after the mark"
    );
    assert_eq!(mark_of(store, tenant, Rule::Unreachable, sid).await, None);
    message.to_string()
}

/// Asserts that `stopped` takes at most one more run (the one in flight when it stopped) while
/// `clock` completes three.
async fn takes_no_more_runs(env: &TestEnv, stopped: Of<'_>, clock: Of<'_>) {
    let (token, job, sid) = stopped;
    let before = chime_testkit::runs(env, token, job, sid).await.0;
    let ticks = completed(env, clock.0, clock.1, clock.2).await;
    wait_until("three more ticks", Duration::from_secs(20), || async {
        let n = completed(env, clock.0, clock.1, clock.2).await;
        (n >= ticks + 3).then_some(())
    })
    .await;
    let after = chime_testkit::runs(env, token, job, sid).await.0;
    assert!(after <= before + 1, "{before} runs, then {after}");
}

/// The first `schedule.deactivated` event `sink` received.
async fn deactivation_event(sink: &Target) -> Value {
    wait_until(
        "the deactivation event",
        Duration::from_secs(20),
        || async {
            sink.hits().into_iter().find_map(|h| {
                let v: Value = serde_json::from_str(&h.body).ok()?;
                (v["type"] == "schedule.deactivated").then_some(v)
            })
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_endpoint_deactivates_its_schedule_past_the_limit_across_a_leader_change() {
    let mut env = TestEnv::with_settings(settings(4, 0));
    env.start_api().await;
    env.start_worker().await;
    let build = || async { Scheduler::build(env.settings.clone()).await.unwrap() };
    let first = build().await;
    let leader = Running::spawn(|c| first.run(c));
    let store = env.store().await;
    let target = Target::start().await;
    let sink = Target::start().await;
    let (ta, token_a) = env.tenant(&["read", "write"]).await;
    let (tb, token_b) = env.tenant(&["read", "write"]).await;
    let every_second = json!([{"repeatInterval": "1 second", "active": true}]);

    // Tenant A: a job whose endpoint nothing listens on, its events going to `sink`, and one
    // that answers. Tenant B: one that answers, the test's clock.
    let dead_url = format!("http://127.0.0.1:{}/gone", dead_port());
    let body = json!({"name": "dead", "action": dead_url, "active": true,
        "notifications": sink.url("/events"), "schedules": every_second});
    let dead = env.client().create_job(&token_a, body).await.body;
    let (dead_job, dead_sid) = (id(&dead), sid(&dead, 0));
    let alive = ticking(&env, &token_a, "alive", &target.url("/a")).await;
    let clock = ticking(&env, &token_b, "clock", &target.url("/b")).await;
    let (clock_job, clock_sid) = (id(&clock), sid(&clock, 0));

    // Its first refused call marks the schedule; the leader changes while the days count.
    let within = Duration::from_secs(20);
    let since = wait_until("the dead schedule marked", within, || async {
        mark_of(&store, &ta, Rule::Unreachable, &dead_sid).await
    })
    .await;
    let (_, list) = chime_testkit::runs(&env, &token_a, dead_job, &dead_sid).await;
    let refused = list.iter().find(|r| r["runStatus"] == "COMPLETED").unwrap();
    let answer = (&refused["httpStatus"], &refused["runState"]);
    assert_eq!(answer, (&Value::Null, &json!("REQUEST_ERROR")), "{refused}");
    leader.stop().await;
    let second = build().await;
    let leader = Running::spawn(|c| second.run(c));

    let dead_of = (token_a.as_str(), dead_job, dead_sid.as_str());
    let message = deactivated_unreachable(&env, &store, &ta, dead_of, since, 4).await;
    // The job stays active; the other schedule of the tenant, whose endpoint answers, too.
    let path = format!("/scheduler/jobs/{dead_job}");
    let j = env.client().expect(200, "GET", &path, &token_a, None).await;
    assert_eq!(j["active"], true, "{j}");
    let (_, a) = schedule(&env, &token_a, id(&alive), &sid(&alive, 0)).await;
    assert_eq!(a["active"], true, "{a}");
    // Its runs stop; its job's notifications URL hears of it, with the reason.
    let clock_of = (token_b.as_str(), clock_job, clock_sid.as_str());
    takes_no_more_runs(&env, dead_of, clock_of).await;
    let event = deactivation_event(&sink).await;
    assert_eq!(
        (&event["reason"], &event["message"], &event["scheduleId"]),
        (&json!("unreachable"), &json!(message), &json!(dead_sid)),
        "{event}"
    );

    // The other tenant is untouched: its schedule fires on, and its log has no rule's entry.
    let (_, c) = schedule(&env, &token_b, clock_job, &clock_sid).await;
    assert_eq!(c["active"], true, "{c}");
    let b_log = actions(&env, &token_b, clock_job, None).await;
    assert!(b_log.iter().all(|e| e["user"] != "scheduler"), "{b_log:?}");
    assert!(marks(&store, &tb, Rule::Unreachable).await.is_empty());
    leader.stop().await;
    env.cleanup().await;
}

/// A loopback HTTP endpoint on a given port that answers every request 200 and closes the
/// connection, until dropped.
struct Answering(tokio::task::JoinHandle<()>);

impl Answering {
    async fn on(port: u16) -> Answering {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the port is free again");
        Answering(tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let _ = conn.read(&mut buf).await;
                    let answer =
                        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                    let _ = conn.write_all(answer.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        }))
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_that_answered_in_between_keeps_its_schedule() {
    // The leader's own sweep is off: this test steps it at chosen instants.
    let env = TestEnv::cluster_with(settings(0, 0)).await;
    let store = env.store().await;
    let (t, token) = env.tenant(&["read", "write"]).await;
    let dead_url = format!("http://127.0.0.1:{}/gone", dead_port());
    let flaky_port = dead_port();
    let flaky_url = format!("http://127.0.0.1:{flaky_port}/back");
    let dead = ticking(&env, &token, "dead", &dead_url).await;
    let flaky = ticking(&env, &token, "flaky", &flaky_url).await;
    let (dead_sid, flaky_sid) = (sid(&dead, 0), sid(&flaky, 0));
    let marked = |sid: String| {
        let (store, t) = (store.clone(), t.clone());
        async move { mark_of(&store, &t, Rule::Unreachable, &sid).await }
    };
    let within = Duration::from_secs(20);
    let dead_since = wait_until("dead marked", within, || marked(dead_sid.clone())).await;
    let first = wait_until("flaky marked", within, || marked(flaky_sid.clone())).await;

    // The flaky endpoint answers once: its mark goes. Then it is gone again: a new streak.
    let answering = Answering::on(flaky_port).await;
    wait_until("flaky answered", within, || async {
        marked(flaky_sid.clone()).await.is_none().then_some(())
    })
    .await;
    drop(answering);
    let again = wait_until("flaky marked again", within, || marked(flaky_sid.clone())).await;
    assert!(again > first, "a new streak: {first} then {again}");
    assert_eq!(
        marked(dead_sid.clone()).await,
        Some(dead_since),
        "a streak keeps its start"
    );

    // Past the limit from the dead streak's start, not from the new one's: only the dead
    // schedule goes.
    let limit = 60_000;
    let limits = Limits {
        unreachable_ms: Some(limit),
        one_time_ms: None,
    };
    let now = again - 1 + limit;
    assert!(dead_since <= now - limit, "{dead_since} {again}");
    let swept = Lifecycle::new(limits).sweep(&store, now).await;
    assert_eq!(
        swept,
        Swept {
            deactivated: 1,
            removed: 0
        }
    );
    let active = |job: &Value, sid: String| {
        let (env, token, job) = (&env, &token, id(job));
        async move { schedule(env, token, job, &sid).await.1["active"].clone() }
    };
    assert_eq!(active(&dead, dead_sid.clone()).await, false);
    assert_eq!(active(&flaky, flaky_sid.clone()).await, true);
    let log = logged(
        &env,
        &token,
        id(&dead),
        &dead_sid,
        "DEACTIVATION_ON_UNREACHABLE",
    )
    .await;
    assert_eq!(log.len(), 1, "{log:?}");

    // Its own streak past the limit, it goes too (unless it answers again meanwhile).
    let since = marked(flaky_sid.clone()).await.expect("still unreachable");
    let swept = Lifecycle::new(limits)
        .sweep(&store, since + limit + 1)
        .await;
    assert_eq!(swept.deactivated, 1, "{swept:?}");
    assert_eq!(active(&flaky, flaky_sid).await, false);
    env.cleanup().await;
}

/// A run's result whose call got no connection (refused).
fn refused(at: i64) -> chime_store::RunResult {
    let mut r = result(CallKind::Error, None, None, at, 5);
    r.failure_reason = Some(FailureReason::Connect);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_or_an_answer_made_meanwhile_keeps_an_unreachable_schedule() {
    let env = TestEnv::api_only().await;
    let store = env.store().await;
    let seeded = SeededJob::create(&env, "racy").await;
    let (t, token, job, sid) = (&seeded.tenant, &seeded.token, seeded.job, &seeded.schedule);
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}");
    let active = || async { store.schedule(t, job, sid).await.unwrap().unwrap().active };
    // The seeded runs' instants: a second apart, a minute ago (before the writes below).
    let base = now_ms() - 60_000;
    let at = |k: i64| base + k * 1_000;

    // A refused call marks the schedule from its finish.
    seeded.finished(at(1), &refused(at(1))).await;
    let m = marks(&store, t, Rule::Unreachable).await.remove(0);
    assert_eq!(
        (m.job, m.schedule.as_str(), m.since),
        (job, sid.as_str(), at(1) + 5)
    );
    // The API changes the schedule after the leader read it: the deactivation is refused.
    let read = store.schedule_stored(t, job, sid).await.unwrap().unwrap();
    let body = json!({"description": "changed meanwhile"});
    env.client()
        .expect(200, "PUT", &path, token, Some(body))
        .await;
    assert!(!store
        .deactivate_unreachable(t, &m, &read, None)
        .await
        .unwrap());
    assert!(active().await);
    // A run answers (any status) after the leader read the mark: refused too.
    let read = store.schedule_stored(t, job, sid).await.unwrap().unwrap();
    seeded.finished(at(2), &success(at(2), "back")).await;
    assert!(
        marks(&store, t, Rule::Unreachable).await.is_empty(),
        "an answer takes the mark away"
    );
    assert!(!store
        .deactivate_unreachable(t, &m, &read, None)
        .await
        .unwrap());
    assert!(active().await);
    // A 202 is an answer as well; a timeout is neither.
    seeded.finished(at(3), &refused(at(3))).await;
    seeded
        .finished(at(4), &chime_testkit::seed::timeout(at(4), 100))
        .await;
    assert_eq!(
        marks(&store, t, Rule::Unreachable).await.len(),
        1,
        "a timeout leaves the mark"
    );
    seeded.finished(at(5), &accepted(at(5))).await;
    assert!(
        marks(&store, t, Rule::Unreachable).await.is_empty(),
        "a 202 takes the mark away"
    );

    // A new streak. A leader sweeping before the limit does nothing; the days are in Redis,
    // so a new leader (a new sweep) acts on them.
    seeded.finished(at(6), &refused(at(6))).await;
    let since = marks(&store, t, Rule::Unreachable).await.remove(0).since;
    let limit = 3_600_000;
    let limits = Limits {
        unreachable_ms: Some(limit),
        one_time_ms: None,
    };
    let swept = Lifecycle::new(limits)
        .sweep(&store, since + limit - 1)
        .await;
    assert_eq!(swept, Swept::default());
    // Its job changed after the streak began (a client at work on it): its days count from
    // the change.
    let jpath = format!("/scheduler/jobs/{job}");
    let body = json!({"description": "looked at"});
    env.client()
        .expect(200, "PUT", &jpath, token, Some(body))
        .await;
    let swept = Lifecycle::new(limits)
        .sweep(&store, since + limit + 1)
        .await;
    assert_eq!(swept, Swept::default());
    let moved = marks(&store, t, Rule::Unreachable).await.remove(0).since;
    let changed = store.job(t, job).await.unwrap().unwrap().modified_at;
    assert_eq!(
        Some(moved),
        parse_stored_instant(&changed),
        "{since} -> {moved}"
    );
    assert!(moved > since, "{since} -> {moved}");
    let swept = Lifecycle::new(limits)
        .sweep(&store, moved + limit + 1)
        .await;
    assert_eq!(swept.deactivated, 1, "{swept:?}");
    assert!(!active().await);
    assert!(marks(&store, t, Rule::Unreachable).await.is_empty());
    let log = logged(&env, token, job, sid, "DEACTIVATION_ON_UNREACHABLE").await;
    assert_eq!(log.len(), 1, "{log:?}");
    let message = format!(
        "endpoint unreachable since {}: no call got a connection for more than 3600 s",
        format_instant(moved)
    );
    assert_eq!(log[0]["message"], message.as_str());

    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_made_meanwhile_keeps_a_one_time_schedule_and_a_deleted_job_leaves_no_mark() {
    let env = TestEnv::api_only().await;
    let store = env.store().await;
    let seeded = SeededJob::create(&env, "racy").await;
    let (t, token, job) = (&seeded.tenant, &seeded.token, seeded.job);
    let jpath = format!("/scheduler/jobs/{job}");
    let limit = 3_600_000;
    // An inactive one-time schedule: the API changes it after the leader read it, and the
    // removal is refused; read again, it goes.
    let past = format_instant(now_ms() - 60_000);
    let spath = format!("/scheduler/jobs/{job}/schedules");
    let once_path = |once: &Value| format!("{spath}/{}", once["scheduleId"].as_str().unwrap());
    let body = json!({"time": past, "active": false});
    let once = env
        .client()
        .expect(201, "POST", &spath, token, Some(body))
        .await;
    let once_sid = once["scheduleId"].as_str().unwrap().to_string();
    let m = marks(&store, t, Rule::OneTimeExpiry).await.remove(0);
    assert_eq!(m.schedule, once_sid);
    let read = store
        .schedule_stored(t, job, &once_sid)
        .await
        .unwrap()
        .unwrap();
    let body = json!({"description": "changed meanwhile"});
    env.client()
        .expect(200, "PUT", &once_path(&once), token, Some(body))
        .await;
    assert!(!store.expire_schedule(t, &m, &read).await.unwrap());
    assert!(store.schedule(t, job, &once_sid).await.unwrap().is_some());
    let m = marks(&store, t, Rule::OneTimeExpiry).await.remove(0);
    let read = store
        .schedule_stored(t, job, &once_sid)
        .await
        .unwrap()
        .unwrap();
    assert!(store.expire_schedule(t, &m, &read).await.unwrap());
    assert_eq!(env.call("GET", &once_path(&once), token, None).await.0, 404);
    assert!(marks(&store, t, Rule::OneTimeExpiry).await.is_empty());

    // The sweep's removal, by a leader that never saw the schedule written.
    let body = json!({"time": past, "active": false});
    let once = env
        .client()
        .expect(201, "POST", &spath, token, Some(body))
        .await;
    let since = marks(&store, t, Rule::OneTimeExpiry).await.remove(0).since;
    let limits = Limits {
        unreachable_ms: None,
        one_time_ms: Some(limit),
    };
    let swept = Lifecycle::new(limits)
        .sweep(&store, since + limit - 1)
        .await;
    assert_eq!(swept, Swept::default());
    let swept = Lifecycle::new(limits)
        .sweep(&store, since + limit + 1)
        .await;
    assert_eq!(
        swept,
        Swept {
            deactivated: 0,
            removed: 1
        }
    );
    assert_eq!(env.call("GET", &once_path(&once), token, None).await.0, 404);
    let once_sid = once["scheduleId"].as_str().unwrap();
    let log = logged(&env, token, job, once_sid, "DELETION_ON_EXPIRY").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["user"], "scheduler");

    // A job deleted takes its schedules out of both indexes.
    let body = json!({"time": past, "active": false});
    env.client()
        .expect(201, "POST", &spath, token, Some(body))
        .await;
    let at = now_ms() - 60_000;
    seeded.finished(at, &refused(at)).await;
    assert_eq!(
        (
            marks(&store, t, Rule::OneTimeExpiry).await.len(),
            marks(&store, t, Rule::Unreachable).await.len()
        ),
        (1, 1)
    );
    env.client()
        .expect(200, "DELETE", &jpath, token, None)
        .await;
    assert!(marks(&store, t, Rule::OneTimeExpiry).await.is_empty());
    assert!(marks(&store, t, Rule::Unreachable).await.is_empty());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_schedule_not_run_for_long_is_removed_and_fresh_ones_stay() {
    let env = TestEnv::cluster_with(settings(0, 3)).await;
    let store = env.store().await;
    let target = Target::start().await;
    let (ta, token_a) = env.tenant(&["read", "write"]).await;
    let (tb, token_b) = env.tenant(&["read", "write"]).await;
    let in_an_hour = format_instant(now_ms() + 3_600_000);
    // Tenant A: a one-time schedule that fires now (then is deactivated on completion), one
    // inactive for a time an hour ahead, an inactive recurring one; and, in an inactive job,
    // an active one-time schedule whose time has passed (it waits for its job).
    let a = job(
        &env,
        &token_a,
        "once",
        &target.url("/once"),
        json!([{"time": "now", "active": true},
               {"time": in_an_hour, "active": false},
               {"repeatInterval": "1 hour", "active": false}]),
    )
    .await;
    let (a_job, fired, later, recurring) = (id(&a), sid(&a, 0), sid(&a, 1), sid(&a, 2));
    let body = json!({"name": "waiting", "action": target.url("/w"), "active": false,
        "schedules": [{"time": format_instant(now_ms() - 60_000), "active": true}]});
    let waiting = env.client().create_job(&token_a, body).await.body;
    // Tenant B: its own inactive one-time schedule for later, and a recurring one.
    let b = job(
        &env,
        &token_b,
        "other",
        &target.url("/b"),
        json!([{"time": in_an_hour, "active": false},
               {"repeatInterval": "1 second", "active": true}]),
    )
    .await;

    // The fired one goes once its limit has passed since its completion.
    let status = |job: u64, sid: String| {
        let (env, token) = (&env, token_a.clone());
        async move { schedule(env, &token, job, &sid).await.0 }
    };
    wait_until(
        "the fired one-time schedule removed",
        Duration::from_secs(30),
        || async { (status(a_job, fired.clone()).await == 404).then_some(()) },
    )
    .await;
    let log = actions(&env, &token_a, a_job, Some(&fired)).await;
    let names: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["DELETION_ON_EXPIRY", "DEACTIVATION_ON_COMPLETION"],
        "{log:?}"
    );
    let message = log[0]["message"].as_str().unwrap();
    assert!(
        message
            .starts_with("one-time schedule removed: not run for more than 3 s (inactive since "),
        "{message}"
    );
    let since = message
        .rsplit("since ")
        .next()
        .unwrap()
        .trim_end_matches(')');
    let removed = parse_stored_instant(log[0]["timestamp"].as_str().unwrap()).unwrap();
    let completed = parse_stored_instant(log[1]["timestamp"].as_str().unwrap()).unwrap();
    let since = parse_stored_instant(since).unwrap();
    assert!(
        since >= completed - 1_000 && removed >= since + 3_000,
        "{log:?}"
    );

    // The one for later was looked at in the same round: its days now count from its time.
    assert_eq!(
        mark_of(&store, &ta, Rule::OneTimeExpiry, &later).await,
        parse_stored_instant(&in_an_hour)
    );
    for s in [&later, &recurring] {
        assert_eq!(status(a_job, s.clone()).await, 200, "{s}");
    }
    let (w_job, w_sid) = (id(&waiting), sid(&waiting, 0));
    let (code, w) = schedule(&env, &token_a, w_job, &w_sid).await;
    assert_eq!((code, &w["active"]), (200, &json!(true)), "{w}");
    assert_eq!(
        mark_of(&store, &ta, Rule::OneTimeExpiry, &w_sid).await,
        None
    );

    // Tenant B's schedules are all there, and nothing of the rules is in its log.
    for k in 0..2 {
        let (code, sc) = schedule(&env, &token_b, id(&b), &sid(&b, k)).await;
        assert_eq!(code, 200, "{sc}");
    }
    let b_log = actions(&env, &token_b, id(&b), None).await;
    assert!(b_log.iter().all(|e| e["user"] != "scheduler"), "{b_log:?}");
    assert_eq!(marks(&store, &tb, Rule::OneTimeExpiry).await.len(), 1);
    env.cleanup().await;
}
