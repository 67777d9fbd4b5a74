//! Reconnection: RabbitMQ restarts under a running cluster; the services reconnect by
//! themselves, the fires that fell due meanwhile still fire (late), none twice.
//!
//! This test restarts the machine's RabbitMQ application (`rabbitmqctl stop_app`/`start_app`),
//! so it is the only test of its binary, apart from the suite: cargo runs test binaries one
//! after another, and no other test may see the broker go away under it.

use chime_testkit::{create_job, runs, wait_until, Target, TestEnv};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

fn rabbitmqctl(args: &[&str]) {
    let status = std::process::Command::new("rabbitmqctl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("rabbitmqctl runs (RabbitMQ on this machine)");
    assert!(status.success(), "rabbitmqctl {args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn services_reconnect_after_a_rabbitmq_restart() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (job, sid) = create_job(
        &env,
        &token,
        "steady",
        &target.url("/t"),
        json!({"cron": "* * * * * * *", "active": true}),
    )
    .await;
    wait_until(
        "runs before the restart",
        Duration::from_secs(20),
        || async { (runs(&env, &token, job, &sid).await.0 >= 2).then_some(()) },
    )
    .await;

    rabbitmqctl(&["stop_app"]);
    let stopped_at = chrono::Utc::now().timestamp_millis();
    let api = env.url("/readyz");
    wait_until(
        "readiness reports RabbitMQ down",
        Duration::from_secs(20),
        || async {
            let st = env.http.get(&api).send().await.ok()?.status();
            (st == 503).then_some(())
        },
    )
    .await;
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);

    // Fires keep being recorded after the restart, without anyone restarting chime.
    wait_until(
        "runs after the restart",
        Duration::from_secs(60),
        || async {
            let (_, list) = runs(&env, &token, job, &sid).await;
            list.iter()
                .filter(|r| r["runStatus"] == "COMPLETED")
                .filter(|r| {
                    chrono::DateTime::parse_from_rfc3339(r["scheduleTimestamp"].as_str().unwrap())
                        .unwrap()
                        .timestamp_millis()
                        > stopped_at + 3000
                })
                .count()
                .ge(&2)
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
    let list = wait_until("all runs completed", Duration::from_secs(30), || async {
        let (_, list) = runs(&env, &token, job, &sid).await;
        list.iter()
            .all(|r| r["runStatus"] == "COMPLETED")
            .then_some(list)
    })
    .await;
    let instants: Vec<&str> = list
        .iter()
        .map(|r| r["scheduleTimestamp"].as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = instants.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        instants.len(),
        "an instant was recorded twice"
    );
    let secs: Vec<i64> = distinct
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp())
        .collect();
    assert!(
        secs.windows(2).all(|w| w[1] - w[0] == 1),
        "no gap in the grid: {secs:?}"
    );
    env.cleanup().await;
}
