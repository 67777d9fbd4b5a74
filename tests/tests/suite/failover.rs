//! Leader failover: two scheduler processes fire a cron schedule every second; the leader is
//! killed with SIGKILL; the standby takes over, fires the instants that fell due meanwhile
//! (late), and over the whole test every instant of the grid is recorded exactly once. And,
//! stepped pass by pass (`Leader::pass_once`): fires, quota deferrals, and a deposed leader
//! whose advance is fenced off while its successor fires the same runs.

use chime_scheduler::{Leader, PassReport, Scheduler};
use chime_store::keys::Keys;
use chime_testkit::jobs::{gapless_grid_once, ms};
use chime_testkit::{create_job, runs, set_active, wait_until, Target, TestEnv, ADMIN_TOKEN};
use redis::AsyncCommands;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_loses_and_doubles_no_fire() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let mut a = env.spawn_process("scheduler", "sched-a");
    let mut b = env.spawn_process("scheduler", "sched-b");

    let mut conn = env.store().await.connection();
    let lease_key = Keys::new(env.namespace()).lease();

    let (job, sid) = create_job(
        &env,
        &token,
        "grid",
        &target.url("/tick"),
        json!({"cron": "* * * * * * *", "active": true}),
    )
    .await;
    wait_until(
        "3 completed runs before the kill",
        Duration::from_secs(30),
        || async {
            let (_, list) = runs(&env, &token, job, &sid).await;
            (list
                .iter()
                .filter(|r| r["runStatus"] == "COMPLETED")
                .count()
                >= 3)
                .then_some(())
        },
    )
    .await;

    let holder: String = conn.get(&lease_key).await.unwrap();
    let (leader, standby) = if holder.starts_with("sched-a") {
        (&mut a, "sched-b")
    } else {
        (&mut b, "sched-a")
    };
    let killed_at_ms = chrono::Utc::now().timestamp_millis();
    let killed_at = Instant::now();
    leader.start_kill().unwrap();
    leader.wait().await.unwrap();

    let new_holder = wait_until(
        "the standby takes the lease",
        Duration::from_secs(15),
        || async {
            let h: Option<String> = conn.clone().get(&lease_key).await.unwrap();
            h.filter(|h| h.starts_with(standby))
        },
    )
    .await;
    let takeover = killed_at.elapsed();
    let old_epoch: u64 = holder.rsplit(':').next().unwrap().parse().unwrap();
    let new_epoch: u64 = new_holder.rsplit(':').next().unwrap().parse().unwrap();
    assert!(new_epoch > old_epoch, "a new epoch fences the old leader");

    // Keep firing until 3 s of instants after the takeover are recorded.
    let resume_after = killed_at_ms + takeover.as_millis() as i64 + 3000;
    wait_until(
        "firing resumes on the standby",
        Duration::from_secs(30),
        || async {
            let (_, list) = runs(&env, &token, job, &sid).await;
            list.iter()
                .any(|r| {
                    r["runStatus"] == "COMPLETED" && ms(&r["scheduleTimestamp"]) >= resume_after
                })
                .then_some(())
        },
    )
    .await;
    set_active(&env, &token, job, false).await;
    let (total, list) = wait_until("all runs completed", Duration::from_secs(20), || async {
        let (total, list) = runs(&env, &token, job, &sid).await;
        list.iter()
            .all(|r| r["runStatus"] == "COMPLETED")
            .then_some((total, list))
    })
    .await;

    // No instant missing, none twice.
    let (first, last) = gapless_grid_once(&list);
    assert_eq!(total as usize, list.len());
    assert!(first < killed_at_ms && last > killed_at_ms + takeover.as_millis() as i64);

    // Instants that fell due while no leader was alive fired late, after the takeover.
    let takeover_ms = killed_at_ms + takeover.as_millis() as i64;
    let during: Vec<&serde_json::Value> = list
        .iter()
        .filter(|r| (killed_at_ms + 100..takeover_ms - 100).contains(&ms(&r["scheduleTimestamp"])))
        .collect();
    for r in &during {
        assert!(
            ms(&r["executionTimestamp"]) > ms(&r["scheduleTimestamp"]),
            "fired late: {r}"
        );
    }
    let max_late = list
        .iter()
        .map(|r| ms(&r["executionTimestamp"]) - ms(&r["scheduleTimestamp"]))
        .max()
        .unwrap();
    println!(
        "failover: lease taken over {:?} after SIGKILL; {} runs on a gapless grid, {} due during the failover; latest fire {} ms after its instant",
        takeover,
        list.len(),
        during.len(),
        max_late
    );
    drop((a, b));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_leader_wakes_up_fenced_off() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let a = env.spawn_process("scheduler", "pause-a");
    let b = env.spawn_process("scheduler", "pause-b");
    let conn = env.store().await.connection();
    let lease_key = Keys::new(env.namespace()).lease();

    let (job, sid) = create_job(
        &env,
        &token,
        "paused",
        &target.url("/tick"),
        json!({"cron": "* * * * * * *", "active": true}),
    )
    .await;
    wait_until("2 completed runs", Duration::from_secs(30), || async {
        let (_, list) = runs(&env, &token, job, &sid).await;
        (list
            .iter()
            .filter(|r| r["runStatus"] == "COMPLETED")
            .count()
            >= 2)
            .then_some(())
    })
    .await;
    let holder: String = conn.clone().get(&lease_key).await.unwrap();
    let (paused, standby) = if holder.starts_with("pause-a") {
        (&a, "pause-b")
    } else {
        (&b, "pause-a")
    };
    let pid = paused.id().unwrap().to_string();
    let signal = |sig: &str| {
        let st = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(st.success());
    };

    // Freeze the leader past its lease; the standby takes over and fires on.
    signal("-STOP");
    let paused_at = chrono::Utc::now().timestamp_millis();
    wait_until(
        "the standby takes the lease",
        Duration::from_secs(15),
        || async {
            let h: Option<String> = conn.clone().get(&lease_key).await.unwrap();
            h.filter(|h| h.starts_with(standby))
        },
    )
    .await;
    wait_until("the standby fires", Duration::from_secs(15), || async {
        let (_, list) = runs(&env, &token, job, &sid).await;
        list.iter()
            .any(|r| {
                r["runStatus"] == "COMPLETED" && ms(&r["scheduleTimestamp"]) > paused_at + 2000
            })
            .then_some(())
    })
    .await;
    // Wake the old leader: it must not take part any more.
    signal("-CONT");
    let woke_at = chrono::Utc::now().timestamp_millis();
    wait_until(
        "more fires after the old leader woke",
        Duration::from_secs(15),
        || async {
            let (_, list) = runs(&env, &token, job, &sid).await;
            list.iter()
                .any(|r| {
                    r["runStatus"] == "COMPLETED" && ms(&r["scheduleTimestamp"]) > woke_at + 2000
                })
                .then_some(())
        },
    )
    .await;
    let h: String = conn.clone().get(&lease_key).await.unwrap();
    assert!(
        h.starts_with(standby),
        "the lease stays with the new leader: {h}"
    );
    set_active(&env, &token, job, false).await;
    let list = wait_until("all runs completed", Duration::from_secs(20), || async {
        let (_, list) = runs(&env, &token, job, &sid).await;
        list.iter()
            .all(|r| r["runStatus"] == "COMPLETED")
            .then_some(list)
    })
    .await;
    gapless_grid_once(&list);
    drop((a, b));
    env.cleanup().await;
}

/// The (schedule, nominal instant) of each run a pass published.
fn fires(r: &PassReport) -> BTreeSet<(String, i64)> {
    r.published
        .iter()
        .map(|m| (m.schedule_id.clone(), m.scheduled_at))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stepped_leader_fires_defers_and_is_fenced_off_once_deposed() {
    let mut env = TestEnv::new();
    // A lease that outlives the test's steps: no renewal falls between them.
    env.settings.leader_ttl_ms = 60_000;
    env.start_api().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let quota = env
        .http
        .put(env.url(&format!("/admin/tenants/{tenant}")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"runsPerMinute": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(quota.status(), 200);
    let mut a: Leader = Scheduler::build(env.settings.clone())
        .await
        .unwrap()
        .lead()
        .await
        .expect("the first replica takes the lease");

    // Three schedules on the same 10 s grid; the tenant may fire one run a second, and a
    // second's worth at once.
    let every = json!({"cron": "* * * * * * */10", "active": true});
    let (st, job) = env
        .call(
            "POST",
            "/scheduler/jobs",
            &token,
            Some(
                json!({"name": "stepped", "action": "http://127.0.0.1:9/none",
                "active": true, "httpMethod": "POST", "schedules": [every, every, every]}),
            ),
        )
        .await;
    assert_eq!(st, 201, "{job}");
    let job_id = job["_id"].as_u64().unwrap();
    let sids: BTreeSet<String> = job["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scheduleId"].as_str().unwrap().to_string())
        .collect();

    // At the epoch nothing is due; the pass names the first instant.
    let idle = a.pass_once(Some(0)).await.unwrap();
    assert_eq!((idle.taken, idle.published.len()), (0, 0), "{idle:?}");
    let t = idle.next_due.expect("the schedules are due later");
    assert_eq!(t % 10_000, 0, "on the grid");

    // At it: two fire, the third is over the quota and deferred a second.
    let r = a.pass_once(Some(t)).await.unwrap();
    assert_eq!(r.now, Some(t));
    assert_eq!(
        (r.taken, r.advanced, r.deferred, r.left),
        (3, 2, 1, 0),
        "{r:?}"
    );
    assert!(!r.fenced);
    assert_eq!(r.published.len(), 2);
    assert!(r
        .published
        .iter()
        .all(|m| m.epoch == a.epoch() && m.scheduled_at == t));
    let deferred = sids
        .difference(&fires(&r).into_iter().map(|(s, _)| s).collect())
        .next()
        .unwrap()
        .clone();
    let again = a.pass_once(Some(t)).await.unwrap();
    assert_eq!(
        (again.taken, again.next_due),
        (0, Some(t + 1_000)),
        "{again:?}"
    );
    // At its slot the deferred fire goes out as its nominal instant, and moves on to the grid.
    let r = a.pass_once(Some(t + 1_000)).await.unwrap();
    assert_eq!(fires(&r), BTreeSet::from([(deferred.clone(), t)]));
    assert_eq!((r.taken, r.advanced, r.deferred), (1, 1, 0), "{r:?}");
    let idle = a.pass_once(Some(t + 1_000)).await.unwrap();
    assert_eq!(idle.next_due, Some(t + 10_000));

    // The lease expires (deleted here) and another replica takes it with a newer epoch.
    let mut conn = env.store().await.connection();
    let b = Scheduler::build(env.settings.clone()).await.unwrap();
    let b = b.lead().await.expect_err("the lease is held");
    let _: () = conn.del(Keys::new(env.namespace()).lease()).await.unwrap();
    let mut b = b.lead().await.expect("the lease is free again");
    assert!(b.epoch() > a.epoch());

    // The deposed leader does not know yet: its pass publishes, but its advance is refused,
    // and it steps down.
    let stale = a.pass_once(Some(t + 10_000)).await.unwrap();
    assert!(stale.fenced, "{stale:?}");
    assert_eq!((stale.taken, stale.left, stale.advanced), (3, 3, 0));
    assert_eq!(stale.published.len(), 2);
    assert!(a.pass_once(Some(t + 10_000)).await.is_err(), "stepped down");
    // The new leader fires the same runs (same ids) and advances the entries. (Entries due
    // at the same instant come in the same order: the same schedule is deferred each time.)
    let r = b.pass_once(Some(t + 10_000)).await.unwrap();
    assert!(!r.fenced);
    assert_eq!((r.taken, r.advanced, r.deferred), (3, 2, 1), "{r:?}");
    assert_eq!(fires(&r), fires(&stale));
    let ids = |r: &PassReport| {
        r.published
            .iter()
            .map(|m| m.run_id.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(ids(&r), ids(&stale));
    assert!(r.published.iter().all(|m| m.epoch == b.epoch()));

    // Every fire is recorded once: two published twice are one run each.
    let mut recorded: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for sid in &sids {
        let (total, list) = runs(&env, &token, job_id, sid).await;
        assert_eq!(total as usize, list.len());
        let mut at: Vec<i64> = list.iter().map(|r| ms(&r["scheduleTimestamp"])).collect();
        at.sort_unstable();
        recorded.insert(sid.clone(), at);
    }
    for sid in &sids {
        let expected = if *sid == deferred {
            vec![t]
        } else {
            vec![t, t + 10_000]
        };
        assert_eq!(recorded[sid], expected, "{sid}: {recorded:?}");
    }
    a.step_down().await;
    b.step_down().await;
    env.cleanup().await;
}
