//! A schedule's life within its job's window, and its end: no run before the job's
//! `startTime` (a changed start replans the schedules), a one-time schedule that fired and a
//! recurring one past its `endTime` (or its job's) deactivated on completion with SAP's
//! `DEACTIVATION_ON_COMPLETION` in the action log, a schedule written with no instant left
//! stored inactive, and a concurrent change never overwritten by the leader's deactivation.

use chime_core::time::format_instant;
use chime_scheduler::{Leader, Scheduler};
use chime_testkit::jobs::{ms, runs};
use chime_testkit::{wait_until, Target, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;

/// Local wall-clock now in ms (Redis runs on this host, so its clock is the same).
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn schedule(env: &TestEnv, token: &str, job: u64, sid: &str) -> Value {
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}");
    env.client().expect(200, "GET", &path, token, None).await
}

/// The schedule's entries of the action log with SAP's `DEACTIVATION_ON_COMPLETION`.
async fn completions(env: &TestEnv, token: &str, job: u64, sid: &str) -> Vec<Value> {
    let path = format!("/scheduler/actionLogs?jobId={job}&scheduleId={sid}");
    let log = env.client().expect(200, "GET", &path, token, None).await;
    log["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "DEACTIVATION_ON_COMPLETION")
        .cloned()
        .collect()
}

/// Waits until the schedule is inactive; returns it.
async fn deactivated(env: &TestEnv, token: &str, job: u64, sid: &str) -> Value {
    wait_until("schedule deactivated", Duration::from_secs(20), || async {
        let sc = schedule(env, token, job, sid).await;
        (sc["active"] == false).then_some(sc)
    })
    .await
}

async fn job_with(env: &TestEnv, token: &str, body: Value) -> (u64, String, Value) {
    let job = env.client().create_job(token, body).await;
    let sched = job.body["schedules"][0].clone();
    (job.id, job.schedules[0].clone(), sched)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_run_fires_before_its_jobs_start_time_and_a_new_start_replans() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    // A job that starts in an hour does not fire now: its schedule's first fire is its start.
    let in_an_hour = format_instant(now_ms() + 3_600_000);
    let (job, sid, sched) = job_with(
        &env,
        &token,
        json!({"name": "later", "action": target.url("/s"), "active": true,
            "startTime": in_an_hour,
            "schedules": [{"repeatInterval": "1 second", "active": true}]}),
    )
    .await;
    assert_eq!(sched["nextRunAt"], in_an_hour.as_str(), "{sched}");

    // Its start moves to 3 s from now: the schedule is planned again from it.
    let start = now_ms() + 3_000;
    let path = format!("/scheduler/jobs/{job}");
    let body = json!({"startTime": format_instant(start)});
    env.client()
        .expect(200, "PUT", &path, &token, Some(body))
        .await;
    let sc = schedule(&env, &token, job, &sid).await;
    assert_eq!(sc["nextRunAt"], format_instant(start).as_str(), "{sc}");

    let list = wait_until("three runs completed", Duration::from_secs(20), || async {
        let (_, list) = runs(&env, &token, job, &sid).await;
        let done = list
            .iter()
            .filter(|r| r["runStatus"] == "COMPLETED")
            .count();
        (done >= 3).then_some(list)
    })
    .await;
    for r in &list {
        assert!(
            ms(&r["scheduleTimestamp"]) >= start,
            "run before the start: {r}"
        );
    }
    let first = list.iter().map(|r| ms(&r["scheduleTimestamp"])).min();
    assert_eq!(first, Some(start), "the first run is the start itself");
    assert!(target.hits().iter().all(|h| h.wall_ms >= start - 5));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_schedule_fires_once_and_is_deactivated_on_completion() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid, _) = job_with(
        &env,
        &token,
        json!({"name": "once", "action": target.url("/o"), "active": true,
            "schedules": [{"time": "now", "active": true}]}),
    )
    .await;
    let sc = deactivated(&env, &token, job, &sid).await;
    assert_eq!(sc["nextRunAt"], Value::Null, "{sc}");
    assert_eq!(sc["type"], "one-time");
    let entries = wait_until("the action log entry", Duration::from_secs(10), || async {
        let c = completions(&env, &token, job, &sid).await;
        (!c.is_empty()).then_some(c)
    })
    .await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["jobId"], job);
    assert_eq!(e["scheduleId"], sid.as_str());
    assert_eq!(e["message"], "one-time schedule completed");
    assert_eq!(e["user"], "scheduler");
    assert_eq!(runs(&env, &token, job, &sid).await.0, 1, "fired once");
    // The job stays active (SAP).
    let j = env
        .client()
        .expect(200, "GET", &format!("/scheduler/jobs/{job}"), &token, None)
        .await;
    assert_eq!(j["active"], true, "{j}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recurring_schedule_past_its_end_is_deactivated_on_completion() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let end = now_ms() + 2_500;
    let (job, sid, _) = job_with(
        &env,
        &token,
        json!({"name": "ending", "action": target.url("/e"), "active": true,
            "schedules": [{"repeatInterval": "1 second", "active": true,
                "endTime": format_instant(end)}]}),
    )
    .await;
    let sc = deactivated(&env, &token, job, &sid).await;
    assert_eq!(sc["nextRunAt"], Value::Null, "{sc}");
    let (n, list) = runs(&env, &token, job, &sid).await;
    assert!((2..=4).contains(&n), "{n} runs: {list:?}");
    for r in &list {
        assert!(ms(&r["scheduleTimestamp"]) <= end, "run past the end: {r}");
    }
    let entries = wait_until("the action log entry", Duration::from_secs(10), || async {
        let c = completions(&env, &token, job, &sid).await;
        (!c.is_empty()).then_some(c)
    })
    .await;
    let message = entries[0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "recurring schedule completed: no instant left before its endTime {}",
            format_instant(end)
        )
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stepped_leader_completes_a_schedule_at_its_jobs_end() {
    let mut env = TestEnv::new();
    env.settings.leader_ttl_ms = 60_000;
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let mut leader: Leader = Scheduler::build(env.settings.clone())
        .await
        .unwrap()
        .lead()
        .await
        .expect("the only replica takes the lease");
    // Hourly, in a job that ends in half an hour: one fire, then it is finished.
    let job_end = now_ms() + 1_800_000;
    let (job, sid, sched) = job_with(
        &env,
        &token,
        json!({"name": "job-ends", "action": "http://example.com/x", "active": true,
            "endTime": format_instant(job_end),
            "schedules": [{"repeatInterval": "1 hour", "active": true}]}),
    )
    .await;
    let first = ms(&sched["nextRunAt"]);
    let r = leader.pass_once(Some(first)).await.unwrap();
    assert_eq!((r.published.len(), r.removed), (1, 1), "{r:?}");
    let sc = schedule(&env, &token, job, &sid).await;
    assert_eq!(
        (&sc["active"], &sc["nextRunAt"]),
        (&json!(false), &Value::Null)
    );
    let entries = completions(&env, &token, job, &sid).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        entries[0]["message"],
        format!(
            "recurring schedule completed: no instant left before its job's endTime {}",
            format_instant(job_end)
        )
    );
    // Nothing is due any more; an entry removed because its schedule is inactive or gone is
    // not a completion.
    let idle = leader.pass_once(Some(first + 7_200_000)).await.unwrap();
    assert_eq!((idle.taken, idle.next_due), (0, None), "{idle:?}");
    leader.step_down().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schedule_written_with_no_instant_left_is_stored_inactive_and_logged() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let past = format_instant(now_ms() - 60_000);
    let (job, sid, sched) = job_with(
        &env,
        &token,
        json!({"name": "ended", "action": "http://example.com/x", "active": true,
            "schedules": [{"repeatInterval": "1 minute", "active": true, "endTime": past}]}),
    )
    .await;
    assert_eq!(
        (&sched["active"], &sched["nextRunAt"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(completions(&env, &token, job, &sid).await.len(), 1);

    // A cron whose every instant has passed, and a one-time schedule whose time and end have.
    let path = format!("/scheduler/jobs/{job}/schedules");
    for body in [
        json!({"cron": "2020 * * * 0 0 0", "active": true}),
        json!({"time": past, "endTime": past, "active": true}),
    ] {
        let sc = env
            .client()
            .expect(201, "POST", &path, &token, Some(body))
            .await;
        assert_eq!(
            (&sc["active"], &sc["nextRunAt"]),
            (&json!(false), &Value::Null),
            "{sc}"
        );
        let sid = sc["scheduleId"].as_str().unwrap();
        let c = completions(&env, &token, job, sid).await;
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0]["user"], "scheduler");
    }
    // Activated again, it is still finished: inactive again, logged again.
    env.client().set_active(&token, job, true).await;
    assert_eq!(schedule(&env, &token, job, &sid).await["active"], false);
    assert_eq!(completions(&env, &token, job, &sid).await.len(), 2);
    // A job whose end has passed finishes its schedules when it is written.
    let (job2, sid2, _) = job_with(
        &env,
        &token,
        json!({"name": "running", "action": "http://example.com/x", "active": true,
            "schedules": [{"repeatInterval": "1 minute", "active": true}]}),
    )
    .await;
    let body = json!({"endTime": past});
    env.client()
        .expect(
            200,
            "PUT",
            &format!("/scheduler/jobs/{job2}"),
            &token,
            Some(body),
        )
        .await;
    let sc = schedule(&env, &token, job2, &sid2).await;
    assert_eq!(
        (&sc["active"], &sc["nextRunAt"]),
        (&json!(false), &Value::Null),
        "{sc}"
    );
    assert_eq!(completions(&env, &token, job2, &sid2).await.len(), 1);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leaders_deactivation_never_overwrites_a_change_made_meanwhile() {
    let env = TestEnv::api_only().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let store = env.store().await;
    let later = format_instant(now_ms() + 3_600_000);
    let (job, sid, _) = job_with(
        &env,
        &token,
        json!({"name": "cas", "action": "http://example.com/x", "active": true,
            "schedules": [{"time": later, "active": true}]}),
    )
    .await;
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}");
    let read = || async { store.schedules(&tenant, job).await.unwrap().remove(0) };
    // The version the leader planned; the API changes its description meanwhile: the
    // deactivation keeps the new description.
    let planned = read().await;
    let body = json!({"description": "changed meanwhile"});
    env.client()
        .expect(200, "PUT", &path, &token, Some(body))
        .await;
    assert!(store
        .complete_schedule(&tenant, job, &planned, None)
        .await
        .unwrap());
    let now = read().await;
    assert_eq!(
        (now.active, now.description.as_str()),
        (false, "changed meanwhile")
    );

    // Activated again with a new time meanwhile: it fires otherwise now, and is left alone.
    let planned = read().await;
    let body = json!({"active": true, "time": format_instant(now_ms() + 7_200_000)});
    env.client()
        .expect(200, "PUT", &path, &token, Some(body))
        .await;
    let mut stale = planned.clone();
    stale.active = true;
    assert!(!store
        .complete_schedule(&tenant, job, &stale, None)
        .await
        .unwrap());
    let now = read().await;
    assert!(now.active, "{now:?}");
    assert_ne!(now.time, stale.time);

    // Deleted meanwhile: not written back.
    let current = read().await;
    env.client()
        .expect(200, "DELETE", &path, &token, None)
        .await;
    assert!(!store
        .complete_schedule(&tenant, job, &current, None)
        .await
        .unwrap());
    assert!(store.schedules(&tenant, job).await.unwrap().is_empty());
    env.cleanup().await;
}
