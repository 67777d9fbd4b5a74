//! Leader failover: two scheduler processes fire a cron schedule every second; the leader is
//! killed with SIGKILL; the standby takes over, fires the instants that fell due meanwhile
//! (late), and over the whole test every instant of the grid is recorded exactly once.

use chime_store::keys::Keys;
use chime_testkit::{create_job, runs, wait_until, Target, TestEnv};
use redis::AsyncCommands;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn ms(ts: &serde_json::Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_loses_and_doubles_no_fire() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let bin = env!("CARGO_BIN_EXE_chime");
    let mut a = env.spawn_process(bin, "scheduler", "sched-a");
    let mut b = env.spawn_process(bin, "scheduler", "sched-b");

    let redis = redis::Client::open(env.settings.redis_url.as_str()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
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
    let (st, _) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job}/schedules/activationStatus"),
            &token,
            Some(json!({"activationStatus": false})),
        )
        .await;
    assert_eq!(st, 200);
    let (total, list) = wait_until("all runs completed", Duration::from_secs(20), || async {
        let (total, list) = runs(&env, &token, job, &sid).await;
        list.iter()
            .all(|r| r["runStatus"] == "COMPLETED")
            .then_some((total, list))
    })
    .await;

    // No instant missing, none twice.
    let instants: Vec<i64> = list.iter().map(|r| ms(&r["scheduleTimestamp"])).collect();
    let distinct: BTreeSet<i64> = instants.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        instants.len(),
        "an instant was recorded twice"
    );
    assert_eq!(total as usize, instants.len());
    let first = *distinct.iter().next().unwrap();
    let last = *distinct.iter().last().unwrap();
    let expected: BTreeSet<i64> = (0..=(last - first) / 1000)
        .map(|i| first + i * 1000)
        .collect();
    assert_eq!(distinct, expected, "the cron grid has a gap");
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
        instants.len(),
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
    let bin = env!("CARGO_BIN_EXE_chime");
    let a = env.spawn_process(bin, "scheduler", "pause-a");
    let b = env.spawn_process(bin, "scheduler", "pause-b");
    let redis = redis::Client::open(env.settings.redis_url.as_str()).unwrap();
    let conn = redis.get_multiplexed_async_connection().await.unwrap();
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
    let (st, _) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job}/schedules/activationStatus"),
            &token,
            Some(json!({"activationStatus": false})),
        )
        .await;
    assert_eq!(st, 200);
    let list = wait_until("all runs completed", Duration::from_secs(20), || async {
        let (_, list) = runs(&env, &token, job, &sid).await;
        list.iter()
            .all(|r| r["runStatus"] == "COMPLETED")
            .then_some(list)
    })
    .await;
    let instants: Vec<i64> = list.iter().map(|r| ms(&r["scheduleTimestamp"])).collect();
    let distinct: BTreeSet<i64> = instants.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        instants.len(),
        "an instant was recorded twice"
    );
    let first = *distinct.iter().next().unwrap();
    let last = *distinct.iter().last().unwrap();
    let expected: BTreeSet<i64> = (0..=(last - first) / 1000)
        .map(|i| first + i * 1000)
        .collect();
    assert_eq!(distinct, expected, "the cron grid has a gap");
    drop((a, b));
    env.cleanup().await;
}
