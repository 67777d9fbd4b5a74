//! Fair worker capacity: a hostile tenant whose endpoints hang, drip a byte a second or answer
//! gigabytes, at the longest timeout, beside a healthy tenant. The hostile tenant holds its share of the workers' slots and no more, the
//! healthy tenant's runs stay on time, and the hostile tenant's queued runs are dropped once it
//! deactivates its schedules.

use chime_testkit::jobs::ms;
use chime_testkit::{runs, set_active, wait_until, Hostile, Target, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;

/// Creates a job of `n` schedules firing every second; returns (job id, schedule ids).
async fn every_second(
    env: &TestEnv,
    token: &str,
    name: &str,
    url: &str,
    n: usize,
    timeout_ms: u64,
) -> (u64, Vec<String>) {
    let schedules: Vec<Value> = (0..n)
        .map(|_| json!({"repeatInterval": "1 second", "active": true}))
        .collect();
    let body = json!({"name": name, "action": url, "active": true, "httpMethod": "POST",
        "timeoutMs": timeout_ms, "schedules": schedules});
    let (st, job) = env.call("POST", "/scheduler/jobs", token, Some(body)).await;
    assert_eq!(st, 201, "{job}");
    let sids = job["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scheduleId"].as_str().unwrap().to_string())
        .collect();
    (job["_id"].as_u64().unwrap(), sids)
}

/// Start lateness (ms, `executionTimestamp − scheduleTimestamp`) of the runs of `sids`
/// scheduled in `[from, to)` (ms), and how many of those had not started when read.
async fn lateness(
    env: &TestEnv,
    token: &str,
    job: u64,
    sids: &[String],
    from: i64,
    to: i64,
) -> (Vec<i64>, usize) {
    let (mut late, mut waiting) = (Vec::new(), 0);
    for sid in sids {
        let (_, list) = runs(env, token, job, sid).await;
        for r in list {
            let at = ms(&r["scheduleTimestamp"]);
            if at < from || at >= to {
                continue;
            }
            match r["executionTimestamp"].as_str() {
                Some(_) => late.push(ms(&r["executionTimestamp"]) - at),
                None => waiting += 1,
            }
        }
    }
    late.sort_unstable();
    (late, waiting)
}

fn p99(sorted: &[i64]) -> i64 {
    assert!(!sorted.is_empty(), "no runs");
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

/// Waits until every run of `sids` scheduled before `until` has started; returns its
/// lateness figures over `[from, until)`.
async fn settled(
    env: &TestEnv,
    token: &str,
    job: u64,
    sids: &[String],
    from: i64,
    until: i64,
) -> Vec<i64> {
    // The wait itself is not the measure: lateness is read from the run log afterwards.
    let deadline = Duration::from_secs(30);
    wait_until("the phase's runs have started", deadline, || async {
        let now = chrono::Utc::now().timestamp_millis();
        if now < until + 2_000 {
            return None;
        }
        let (late, waiting) = lateness(env, token, job, sids, from, until).await;
        (waiting == 0 && !late.is_empty()).then_some(late)
    })
    .await
}

/// An API and a scheduler for workers of 8 slots, a run to a message (so a tenant's runs spread
/// over the workers as they come).
async fn small_workers() -> TestEnv {
    let mut env = TestEnv::new();
    env.settings.worker_concurrency = 8;
    env.settings.runs_per_message = 1;
    env.start_api().await;
    env.start_scheduler().await;
    env
}

/// The two tenants: a healthy one with a job of 6 schedules firing every second at a quick
/// target, and a hostile one with nothing yet.
struct Tenants {
    healthy_target: Target,
    healthy_token: String,
    job: u64,
    sids: Vec<String>,
    hostile: String,
    hostile_token: String,
}

async fn tenants(env: &TestEnv) -> Tenants {
    let healthy_target = Target::start().await;
    let (_, healthy_token) = env.tenant(&["read", "write"]).await;
    let (hostile, hostile_token) = env.tenant(&["read", "write"]).await;
    let url = healthy_target.url("/ok");
    let (job, sids) = every_second(env, &healthy_token, "healthy", &url, 6, 5_000).await;
    Tenants {
        healthy_target,
        healthy_token,
        job,
        sids,
        hostile,
        hostile_token,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_whose_endpoints_hang_does_not_delay_another_tenants_runs() {
    // Two workers of 8 slots: each tenant holds at most 4 of a worker's slots at once.
    let env = small_workers().await;
    let w1 = env.spawn_worker().await;
    let w2 = env.spawn_worker().await;
    let Tenants {
        healthy_target: _healthy_target,
        healthy_token,
        job,
        sids,
        hostile,
        hostile_token,
    } = tenants(&env).await;

    // Alone, for 8 seconds after a warm-up second.
    let start = chrono::Utc::now().timestamp_millis() + 1_000;
    let alone_until = start + 8_000;
    let alone = settled(&env, &healthy_token, job, &sids, start, alone_until).await;

    // The hostile tenant: 12 schedules a second at the longest timeout chime allows, to an
    // endpoint answering gigabytes (first, so its calls are seen: later the long calls hold
    // the tenant's whole share), then to ones that drip a byte a second and that never answer.
    let bad = Hostile::start().await;
    let mut bad_jobs = vec![];
    for (name, path, n) in [
        ("huge", "/huge", 3),
        ("drip", "/drip", 3),
        ("hang", "/hang", 6),
    ] {
        let (id, _) = every_second(&env, &hostile_token, name, &bad.url(path), n, 600_000).await;
        bad_jobs.push(id);
        if path == "/huge" {
            wait_until("a call to /huge", Duration::from_secs(30), || async {
                (bad.huge_bytes() > 0).then_some(())
            })
            .await;
        }
    }
    // Its calls take its share of both workers: each call counts its 600 s timeout against
    // the tenant's call-time budget (4 slots × the 15 s default timeout), so one call holds a
    // worker's whole budget ...
    wait_until(
        "the hostile tenant holds its share",
        Duration::from_secs(30),
        || async { (bad.most_in_flight() >= 2).then_some(()) },
    )
    .await;
    let beside_from = chrono::Utc::now().timestamp_millis() + 1_000;
    let beside_until = beside_from + 10_000;
    let beside = settled(&env, &healthy_token, job, &sids, beside_from, beside_until).await;
    // ... and never more, though it has runs waiting all along; and its runs in flight
    // (queued or running) stay within the cap, one worker's slots (8), so its
    // backlog cannot fill the queue every tenant shares.
    assert_eq!(
        bad.most_in_flight(),
        2,
        "the hostile tenant's calls at once"
    );
    let now = chrono::Utc::now().timestamp_millis();
    let in_flight = env
        .store()
        .await
        .runs_in_flight(&hostile, now)
        .await
        .unwrap();
    assert!((2..=8).contains(&in_flight), "{in_flight} runs in flight");

    let (alone_p99, beside_p99) = (p99(&alone), p99(&beside));
    println!(
        "healthy start lateness p99: alone {alone_p99} ms ({} runs), beside the hostile tenant {beside_p99} ms ({} runs); hostile calls: {} in all ({:?}), {} at once, {in_flight} runs in flight, {} bytes of huge answers sent",
        alone.len(),
        beside.len(),
        bad.calls().len(),
        bad.calls().iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(),
        bad.most_in_flight(),
        bad.huge_bytes()
    );
    // Within 2 × its value alone; the floor absorbs the scheduling noise of a shared machine
    // (a blocked tenant is late by seconds, as its runs wait for a slot that never frees).
    assert!(
        beside_p99 <= (2 * alone_p99).max(250),
        "healthy p99 {beside_p99} ms beside the hostile tenant, {alone_p99} ms alone"
    );
    assert!(beside.len() >= 6 * 9, "{} healthy runs", beside.len());

    // Deactivated, the hostile tenant's queued runs are dropped, not executed: once its calls
    // in progress are released, no call reaches its target any more.
    for job in &bad_jobs {
        set_active(&env, &hostile_token, *job, false).await;
    }
    let deactivated = chrono::Utc::now().timestamp_millis();
    bad.release();
    wait_until(
        "the hostile tenant's queue drained",
        Duration::from_secs(30),
        || async {
            let now = chrono::Utc::now().timestamp_millis();
            let left = env.store().await.runs_in_flight(&hostile, now).await.ok()?;
            (left == 0).then_some(())
        },
    )
    .await;
    let late_calls = bad
        .calls()
        .iter()
        .filter(|(at, _)| *at > deactivated + 1_000)
        .count();
    assert_eq!(late_calls, 0, "calls after the deactivation");
    w1.stop().await;
    w2.stop().await;
    env.cleanup().await;
}

/// A worker killed while the hostile tenant holds a call on each: its runs in flight (capped
/// at one worker's slots) all come to the survivor, and wait in its lane within half of its
/// prefetch, so the healthy tenant's runs keep starting on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bound_holds_when_a_worker_is_killed() {
    let env = small_workers().await;
    // Two workers as processes of their own, so one can be killed with SIGKILL.
    let mut doomed = env.spawn_process("worker", "cap-doomed");
    let mut survivor = env.spawn_process("worker", "cap-survivor");
    let Tenants {
        healthy_target: _healthy_target,
        healthy_token,
        job,
        sids,
        hostile_token,
        ..
    } = tenants(&env).await;
    // Both workers are up (their heartbeats are in), so the hostile runs reach each of them:
    // a worker process starts slowly on a machine the whole suite keeps busy.
    let store = env.store().await;
    wait_until("both workers alive", Duration::from_secs(60), || async {
        let now = chrono::Utc::now().timestamp_millis();
        (store.workers_alive(now).await.ok()?.len() >= 2).then_some(())
    })
    .await;
    let bad = Hostile::start().await;
    let (bad_job, _) =
        every_second(&env, &hostile_token, "hang", &bad.url("/hang"), 8, 600_000).await;
    // The hostile tenant holds one call on each worker (each a worker's call-time budget).
    wait_until(
        "a hostile call on each worker",
        Duration::from_secs(60),
        || async { (bad.in_flight() >= 2).then_some(()) },
    )
    .await;

    // One worker dies: its hanging call goes with it, and its prefetched hostile messages are
    // delivered again, to the survivor, where they wait in the tenant's lane.
    doomed.start_kill().unwrap();
    let _ = doomed.wait().await;
    wait_until(
        "the killed worker's call is gone",
        Duration::from_secs(30),
        || async { (bad.in_flight() <= 1).then_some(()) },
    )
    .await;
    bad.reset_most();
    let from = chrono::Utc::now().timestamp_millis() + 1_000;
    let until = from + 8_000;
    let late = settled(&env, &healthy_token, job, &sids, from, until).await;
    let p99 = p99(&late);
    println!(
        "after the kill: healthy start lateness p99 {p99} ms ({} runs); hostile calls at once {}",
        late.len(),
        bad.most_in_flight()
    );
    assert_eq!(
        bad.most_in_flight(),
        1,
        "the hostile tenant's calls on the survivor"
    );
    assert!(late.len() >= 6 * 7, "{} healthy runs", late.len());
    assert!(p99 < 2_000, "healthy p99 {p99} ms after the kill");

    set_active(&env, &hostile_token, bad_job, false).await;
    bad.release();
    survivor.start_kill().unwrap();
    let _ = survivor.wait().await;
    env.cleanup().await;
}
