//! Exactly one record per run across duplicate publishes, redeliveries and worker crashes.

use chime_broker::{Publisher, Topology};
use chime_core::run::{RunState, RunStatus};
use chime_store::Store;
use chime_testkit::{create_job, runs, wait_until, Target, TestEnv};
use serde_json::json;
use std::time::Duration;

/// A run published by hand: an active job (no scheduler runs in these tests, so only the test
/// publishes; a worker drops runs of inactive jobs), its run message, and the store and
/// publisher to handle it with.
struct Hand {
    job_id: u64,
    sid: String,
    store: Store,
    msg: chime_core::model::RunMessage,
    publisher: Publisher,
}

impl Hand {
    async fn new(env: &TestEnv, tenant: &str, token: &str, name: &str, url: &str) -> Hand {
        let (job_id, sid) = create_job(
            env,
            token,
            name,
            url,
            json!({"repeatInterval": "1 hour", "active": true}),
        )
        .await;
        let store = env.store().await;
        let job = store.job(tenant, job_id).await.unwrap().unwrap();
        let schedule = store.schedule(tenant, job_id, &sid).await.unwrap().unwrap();
        // A minute ago: a worker holds a run until its nominal instant.
        let at = chrono::Utc::now().timestamp_millis() - 60_000;
        let msg = chime_scheduler::run_message(tenant, &job, &schedule, at, "test", 1);
        let secret = store.cluster_secret(None).await.unwrap();
        let publisher = Publisher::new(
            &env.settings.amqp_url,
            Topology::new(env.namespace(), env.settings.delivery_limit, &secret),
        );
        Hand {
            job_id,
            sid,
            store,
            msg,
            publisher,
        }
    }
}

/// An API and a worker, a target, a tenant, and a job's run by hand as a fresh message: as
/// the leader sends a run whose record its publish created.
async fn fresh_run(name: &str) -> (TestEnv, Target, String, String, Hand) {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let mut hand = Hand::new(&env, &tenant, &token, name, &target.url("/d")).await;
    hand.msg.fresh = true;
    (env, target, tenant, token, hand)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_run_published_twice_is_recorded_once() {
    let (env, target, tenant, token, hand) = fresh_run("dup").await;
    let Hand {
        job_id,
        sid,
        store,
        msg,
        publisher,
        ..
    } = hand;
    // A lost confirm publishes the same message twice.
    // The broker may refuse a publish (a quorum queue still electing its leader on a busy
    // machine); the leader publishes such a fire again, and so does this test.
    let mut pending = 2;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pending > 0 {
        let results = publisher.publish_all(&vec![msg.clone(); pending], 1).await;
        pending = results.iter().filter(|r| r.is_err()).count();
        assert!(
            std::time::Instant::now() < deadline,
            "publishes still refused: {results:?}"
        );
        if pending > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await; // back off before retrying
        }
    }

    // Both deliveries are handled: the second is recognised as a duplicate.
    let run = wait_until(
        "both deliveries handled",
        Duration::from_secs(20),
        || async {
            let r = store.run(&tenant, &msg.run_id).await.unwrap()?;
            (r.status == RunStatus::Completed && r.log.contains("duplicate")).then_some(r)
        },
    )
    .await;
    assert_eq!(run.state, RunState::Success);
    assert_eq!(run.number, 1);
    let (total, list) = runs(&env, &token, job_id, &sid).await;
    assert_eq!(total, 1, "{list:?}");
    assert_eq!(list[0]["runId"], msg.run_id.as_str());
    // A quick first delivery is recorded by its result alone, as attempt 1.
    let (_, detail) = env
        .call(
            "GET",
            &format!(
                "/scheduler/jobs/{job_id}/schedules/{sid}/runs/{}",
                msg.run_id
            ),
            &token,
            None,
        )
        .await;
    assert_eq!(detail["attempt"], 1, "{detail}");
    assert!(!target.hits().is_empty() && target.hits().len() <= 2);
    // The export carries the lines stored in the run's log, as the run's detail does.
    let export = env
        .http
        .get(env.url(&format!("/scheduler/jobs/{job_id}/runs/export")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    assert_eq!(line["log"], detail["log"], "{export}");
    assert!(
        line["log"].as_str().unwrap().contains("duplicate"),
        "{export}"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_message_delivered_after_its_run_was_recorded_is_noted_not_called() {
    let (env, target, tenant, _, hand) = fresh_run("late-dup").await;
    let Hand {
        store,
        msg,
        publisher,
        ..
    } = hand;
    publish_once(&publisher, std::slice::from_ref(&msg)).await;
    wait_until("the run is recorded", Duration::from_secs(20), || async {
        let r = store.run(&tenant, &msg.run_id).await.unwrap()?;
        (r.status == RunStatus::Completed).then_some(())
    })
    .await;
    // The same message again, once the run has its result: checked, noted, not called.
    publish_once(&publisher, std::slice::from_ref(&msg)).await;
    let run = wait_until(
        "the duplicate is noted",
        Duration::from_secs(20),
        || async {
            let r = store.run(&tenant, &msg.run_id).await.unwrap()?;
            r.log.contains("duplicate delivery to worker").then_some(r)
        },
    )
    .await;
    assert_eq!(run.state, RunState::Success);
    assert_eq!(target.hits().len(), 1, "the recorded run was called again");
    env.cleanup().await;
}

/// Publishes `runs` in one message, again while the broker refuses it (a quorum queue still
/// electing its leader on a busy machine), within a deadline.
async fn publish_once(publisher: &Publisher, runs: &[chime_core::model::RunMessage]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let results = publisher.publish_all(runs, runs.len()).await;
        if results.iter().all(|r| r.is_ok()) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "publish still refused: {results:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // back off before retrying
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn marking_runs_before_their_call_drops_a_queued_run_of_a_deleted_job() {
    dropped_before_its_call(Path::Marked, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn marking_runs_before_their_call_drops_a_queued_run_of_a_deleted_schedule() {
    dropped_before_its_call(Path::Marked, "/schedules/{sid}").await;
}

/// The first delivery of a fresh message calls before it marks its run, but not before a
/// read-only check of its job and schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_run_of_a_deleted_job_is_not_called() {
    dropped_before_its_call(Path::Fresh, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_run_of_a_deleted_schedule_is_not_called() {
    dropped_before_its_call(Path::Fresh, "/schedules/{sid}").await;
}

/// A tenant that deactivates its schedules stops their queued runs too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_runs_of_a_deactivated_schedule_or_job_are_dropped_not_executed() {
    for path in [Path::Marked, Path::Fresh] {
        dropped_before_its_call(path, "PUT /schedules/{sid}").await;
        dropped_before_its_call(path, "PUT").await;
    }
}

/// How a worker reaches a run before its call.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    /// Marked started first (`mark_running_after_ms = 0`; also every redelivery).
    Marked,
    /// The first delivery of a fresh message: checked, then called, marked only if slow.
    Fresh,
}

/// A run is queued, then its job (`what` = "") or its schedule (`what` = "/schedules/{sid}")
/// is deleted, or deactivated (`what` starts with "PUT "): the worker takes the run, finds it
/// gone and acknowledges it without a call.
async fn dropped_before_its_call(path: Path, what: &str) {
    let mut env = TestEnv::new();
    if path == Path::Marked {
        env.settings.mark_running_after_ms = 0;
    }
    env.start_api().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let Hand {
        job_id,
        sid,
        store,
        mut msg,
        publisher,
    } = Hand::new(&env, &tenant, &token, "deleted", &target.url("/gone")).await;
    if path == Path::Fresh {
        // As the leader does: the record first, then a fresh message.
        let now = store.now_ms().await.unwrap();
        let made = store.materialize(&msg, now).await.unwrap();
        assert_eq!(made, chime_store::Materialized::Created);
        msg.fresh = true;
    }
    publish_once(&publisher, std::slice::from_ref(&msg)).await;
    let (method, body, what) = match what.strip_prefix("PUT") {
        Some(rest) => ("PUT", Some(json!({"active": false})), rest.trim()),
        None => ("DELETE", None, what),
    };
    let path_of = format!("/scheduler/jobs/{job_id}{}", what.replace("{sid}", &sid));
    let (st, body) = env.call(method, &path_of, &token, body).await;
    assert!((200..300).contains(&st), "{st} {body}");

    // After the worker has drained and stopped, nothing is back in the queue and the target
    // saw nothing.
    let worker = env.spawn_worker().await;
    wait_until("the run is delivered", Duration::from_secs(20), || async {
        (publisher.depths().await.ok()?.0 == 0).then_some(())
    })
    .await;
    worker.stop().await;
    assert_eq!(
        publisher.depths().await.unwrap().0,
        0,
        "the run was acknowledged"
    );
    assert!(target.hits().is_empty(), "{:?}", target.hits().len());
    assert!(store.run(&tenant, &msg.run_id).await.unwrap().is_none());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_run_leaves_it_to_be_redelivered_and_recorded_once() {
    killed_mid_run(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_before_marking_its_run_started_leaves_one_attempt_and_a_note() {
    killed_mid_run(false).await;
}

/// A worker dies inside a run's HTTP call; another takes the redelivery. `marked`: the call
/// lasted long enough to be marked TRIGGERED first, and the redelivery is the second attempt;
/// otherwise the worker dies before marking it (its mark delay is a minute): an attempt counts
/// once its start is on record, so the redelivery is attempt 1, with a note in the log that an
/// earlier delivery ended unmarked.
async fn killed_mid_run(marked: bool) {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_scheduler().await;
    let target = Target::start().await;
    target.set_reply(200, "finally", true);
    let (_, token) = env.tenant(&["read", "write"]).await;

    if !marked {
        env.settings.mark_running_after_ms = 60_000;
    }
    let mut doomed = env.spawn_process("worker", "doomed-worker");
    env.settings.mark_running_after_ms = 250;
    let (job, sid) = create_job(
        &env,
        &token,
        "crash",
        &target.url("/slow"),
        json!({"time": "now", "active": true}),
    )
    .await;

    // The doomed worker is inside the HTTP call when it dies.
    wait_until(
        "the first worker calls the target",
        Duration::from_secs(20),
        || async { (!target.hits().is_empty()).then_some(()) },
    )
    .await;
    if marked {
        // A call that lasts is marked started (`mark_running_after_ms`, 250 ms by default).
        wait_until(
            "the run in the doomed worker's hands shows TRIGGERED",
            Duration::from_secs(10),
            || async {
                let (_, list) = runs(&env, &token, job, &sid).await;
                (list[0]["runState"] == "TRIGGERED").then_some(())
            },
        )
        .await;
    } else {
        let (_, list) = runs(&env, &token, job, &sid).await;
        assert_eq!(list[0]["runState"], "SCHEDULED", "not marked yet");
    }
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();

    target.open_gate();
    env.start_worker().await;
    let run = wait_until(
        "the run is recorded by the second worker",
        Duration::from_secs(30),
        || async {
            let (_, list) = runs(&env, &token, job, &sid).await;
            list.first()
                .filter(|r| r["runStatus"] == "COMPLETED")
                .cloned()
        },
    )
    .await;
    assert_eq!(run["runState"], "SUCCESS");
    assert_eq!(run["runText"], "finally");
    let (total, _) = runs(&env, &token, job, &sid).await;
    assert_eq!(total, 1);
    let (_, detail) = env
        .call(
            "GET",
            &format!(
                "/scheduler/jobs/{job}/schedules/{sid}/runs/{}",
                run["runId"].as_str().unwrap()
            ),
            &token,
            None,
        )
        .await;
    let log = detail["log"].as_str().unwrap_or_default().to_string();
    if marked {
        assert_eq!(detail["attempt"], 2, "{detail}");
        assert!(log.contains("attempt 1 did not finish"), "{detail}");
    } else {
        assert_eq!(detail["attempt"], 1, "{detail}");
        assert!(
            log.contains("ended before the run was marked started"),
            "{detail}"
        );
    }
    let hits = target.hits();
    assert_eq!(hits.len(), 2, "executed twice (the crash), recorded once");
    assert_eq!(
        hits[0].header("x-sap-job-run-id"),
        hits[1].header("x-sap-job-run-id")
    );
    env.cleanup().await;
}

/// One message carries two runs; the worker dies with one recorded and the other inside its
/// call. The redelivered message calls only the run without a result, as its second attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_redelivered_after_a_crash_calls_only_its_runs_without_a_result() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (quick_target, slow_target) = (Target::start().await, Target::start().await);
    slow_target.set_reply(200, "finally", true);
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let quick = Hand::new(&env, &tenant, &token, "quick", &quick_target.url("/q")).await;
    let slow = Hand::new(&env, &tenant, &token, "slow", &slow_target.url("/s")).await;
    let mut doomed = env.spawn_process("worker", "doomed-worker");
    let both = [quick.msg.clone(), slow.msg.clone()];
    publish_once(&quick.publisher, &both).await;

    // The doomed worker has recorded the quick run and is inside the slow run's call.
    wait_until(
        "the quick run is recorded and the slow one called",
        Duration::from_secs(20),
        || async {
            let r = quick.store.run(&tenant, &quick.msg.run_id).await.unwrap()?;
            (r.status == RunStatus::Completed && !slow_target.hits().is_empty()).then_some(())
        },
    )
    .await;
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();

    slow_target.open_gate();
    let worker = env.spawn_worker().await;
    let run = wait_until(
        "the slow run is recorded by the second worker",
        Duration::from_secs(30),
        || async {
            let r = slow.store.run(&tenant, &slow.msg.run_id).await.unwrap()?;
            (r.status == RunStatus::Completed).then_some(r)
        },
    )
    .await;
    assert_eq!(run.state, RunState::Success);
    assert_eq!(run.attempt, 2, "{run:?}");
    // Stopped, the worker hands back what it has not acknowledged: nothing.
    worker.stop().await;
    assert_eq!(quick.publisher.depths().await.unwrap().0, 0, "acknowledged");
    assert_eq!(
        quick_target.hits().len(),
        1,
        "the recorded run is not called again"
    );
    assert_eq!(
        slow_target.hits().len(),
        2,
        "the unfinished run is called again"
    );
    let quick_run = quick
        .store
        .run(&tenant, &quick.msg.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(quick_run.attempt, 1, "{quick_run:?}");
    let (total, _) = runs(&env, &token, slow.job_id, &slow.sid).await;
    assert_eq!(total, 1);
    env.cleanup().await;
}

/// A message's runs execute side by side, but never more at once than the worker's
/// concurrency, however many a message carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_calls_no_more_runs_at_once_than_its_concurrency() {
    let mut env = TestEnv::new();
    env.settings.worker_concurrency = 2;
    // One tenant alone may take every slot here (its share is tried in `capacity`).
    env.settings.tenant_slot_share_percent = 100;
    env.start_api().await;
    let target = Target::start().await;
    target.set_delay(Duration::from_millis(100));
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let hand = Hand::new(&env, &tenant, &token, "packed", &target.url("/p")).await;
    let runs: Vec<_> = (0..6)
        .map(|i| {
            let mut m = hand.msg.clone();
            m.scheduled_at -= i * 60_000;
            m.run_id = chime_core::model::run_id(&m.schedule_id, m.scheduled_at);
            m
        })
        .collect();
    publish_once(&hand.publisher, &runs).await;
    env.start_worker().await;
    wait_until(
        "all six runs are recorded",
        Duration::from_secs(30),
        || async {
            for m in &runs {
                let r = hand.store.run(&tenant, &m.run_id).await.unwrap()?;
                (r.status == RunStatus::Completed).then_some(())?;
            }
            Some(())
        },
    )
    .await;
    assert_eq!(target.hits().len(), 6);
    assert_eq!(
        target.most_in_flight(),
        2,
        "two at a time, not one, not six"
    );
    env.cleanup().await;
}

/// A leader that lost its advance publishes a fire again; if the run has finished meanwhile,
/// the leader's materialize says so and nothing is published, and a copy that still reaches a
/// worker (not fresh) is marked before its call, found finished and not called.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_run_published_again_is_never_called_again() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let hand = Hand::new(&env, &tenant, &token, "again", &target.url("/a")).await;
    let now = hand.store.now_ms().await.unwrap();
    let first = chime_core::model::RunMessage {
        fresh: true,
        ..hand.msg.clone()
    };
    publish_once(&hand.publisher, std::slice::from_ref(&first)).await;
    let worker = env.spawn_worker().await;
    wait_until("the run is recorded", Duration::from_secs(20), || async {
        let r = hand.store.run(&tenant, &first.run_id).await.unwrap()?;
        (r.status == RunStatus::Completed).then_some(())
    })
    .await;
    assert_eq!(
        hand.store.materialize(&hand.msg, now).await.unwrap(),
        chime_store::Materialized::Finished,
        "the leader learns the run finished and does not publish it again"
    );

    // Twenty seconds or a minute later makes no difference: the record decides.
    publish_once(&hand.publisher, std::slice::from_ref(&hand.msg)).await;
    let run = wait_until(
        "the copy is recognised as a duplicate",
        Duration::from_secs(20),
        || async {
            let r = hand.store.run(&tenant, &first.run_id).await.unwrap()?;
            r.log.contains("duplicate").then_some(r)
        },
    )
    .await;
    worker.stop().await;
    assert_eq!(target.hits().len(), 1, "called once: {run:?}");
    assert_eq!(hand.publisher.depths().await.unwrap().0, 0, "acknowledged");
    env.cleanup().await;
}

/// A message not signed with the cluster secret is dead-lettered unread: no record, no call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_run_message_is_dead_lettered_unread() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let hand = Hand::new(&env, &tenant, &token, "forged", &target.url("/f")).await;
    let forger = Publisher::new(
        &env.settings.amqp_url,
        Topology::new(
            env.namespace(),
            env.settings.delivery_limit,
            "not the secret",
        ),
    );
    let forged = chime_core::model::RunMessage {
        fresh: true,
        ..hand.msg.clone()
    };
    publish_once(&forger, std::slice::from_ref(&forged)).await;
    let worker = env.spawn_worker().await;
    wait_until(
        "the message is dead-lettered",
        Duration::from_secs(20),
        || async { (hand.publisher.depths().await.ok()? == (0, 1)).then_some(()) },
    )
    .await;
    worker.stop().await;
    assert!(target.hits().is_empty());
    assert!(hand
        .store
        .run(&tenant, &forged.run_id)
        .await
        .unwrap()
        .is_none());
    env.cleanup().await;
}

/// A run that reaches a worker before its nominal instant (the leader's estimate of Redis's
/// clock ran ahead, or the worker's clock is behind) waits for it on the worker's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_run_calls_its_target_before_its_nominal_instant() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let hand = Hand::new(&env, &tenant, &token, "early", &target.url("/e")).await;
    let at = chrono::Utc::now().timestamp_millis() + 1500;
    let early = chime_core::model::RunMessage {
        scheduled_at: at,
        run_id: chime_core::model::run_id(&hand.sid, at),
        fresh: true,
        ..hand.msg.clone()
    };
    publish_once(&hand.publisher, std::slice::from_ref(&early)).await;
    let run = wait_until("the run is recorded", Duration::from_secs(20), || async {
        let r = hand.store.run(&tenant, &early.run_id).await.unwrap()?;
        (r.status == RunStatus::Completed).then_some(r)
    })
    .await;
    let hits = target.hits();
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].wall_ms >= at,
        "called {} ms early",
        at - hits[0].wall_ms
    );
    assert!(run.executed_at.unwrap_or(0) >= at, "{run:?}");
    env.cleanup().await;
}
