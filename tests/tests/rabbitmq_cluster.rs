//! A RabbitMQ cluster loses a node under load: chime runs on a local three-node cluster
//! (`scripts/rabbitmq-cluster.sh`, beside the machine's own RabbitMQ), its run queue a quorum
//! queue with a member on every node; the node that leads the queue is killed with SIGKILL
//! while five schedules fire every second. The services move to a live node by themselves
//! (`CHIME_AMQP_URL` lists all three), the queue elects a new leader, and every instant of every
//! schedule's grid is recorded exactly once.
//!
//! The test starts and stops nodes of its own, so it is the only test of its binary.

use chime_testkit::jobs::{gapless_grid_once, ms};
use chime_testkit::{create_job, runs, set_active, test_settings, wait_until, Target, TestEnv};
use serde_json::json;
use std::time::Duration;

/// Runs `scripts/rabbitmq-cluster.sh` with `args`; returns what it printed.
fn cluster(args: &[&str]) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/rabbitmq-cluster.sh"
    );
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "rabbitmq-cluster.sh {args:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `rabbitmqctl list_queues` of the cluster: the queue's leader node and its members.
fn queue_nodes(queue: &str) -> Option<(String, Vec<String>)> {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "-n",
            "chime2@localhost",
            "list_queues",
            "name",
            "leader",
            "members",
        ])
        .args(["--no-table-headers"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text.lines().find(|l| l.split('\t').next() == Some(queue))?;
    let mut cols = line.split('\t').skip(1);
    let leader = cols.next()?.trim().to_string();
    let members = cols
        .next()?
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|m| m.trim().trim_matches('\'').to_string())
        .filter(|m| !m.is_empty())
        .collect();
    Some((leader, members))
}

/// Stops the cluster's nodes when the test ends, passed or failed.
struct Nodes;

impl Drop for Nodes {
    fn drop(&mut self) {
        cluster(&["stop"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_the_queue_leaders_node_loses_and_doubles_no_fire() {
    let urls = cluster(&["start"]);
    let _nodes = Nodes;
    let mut settings = test_settings();
    settings.amqp_url = urls;
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    env.start_scheduler().await;
    env.start_worker().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let mut jobs = Vec::new();
    for k in 0..5 {
        let every_second = json!({"cron": "* * * * * * *", "active": true});
        let url = target.url(&format!("/j{k}"));
        jobs.push(create_job(&env, &token, &format!("grid{k}"), &url, every_second).await);
    }
    let completed = |at_least: i64| {
        let (env, token, jobs) = (&env, &token, &jobs);
        async move {
            for (job, sid) in jobs {
                let (_, list) = runs(env, token, *job, sid).await;
                let done = list.iter().any(|r| {
                    r["runStatus"] == "COMPLETED" && ms(&r["scheduleTimestamp"]) >= at_least
                });
                if !done {
                    return None;
                }
            }
            Some(())
        }
    };
    let start = chrono::Utc::now().timestamp_millis();
    wait_until("runs before the kill", Duration::from_secs(30), || {
        completed(start + 2000)
    })
    .await;

    // The run queue has a member on each of the three nodes; its leader's node dies.
    let queue = format!("{}.runs", env.namespace());
    let (leader, members) = queue_nodes(&queue).expect("the run queue is listed");
    assert_eq!(members.len(), 3, "replicated over three nodes: {members:?}");
    let n = leader
        .strip_prefix("chime")
        .and_then(|r| r.split('@').next())
        .expect("a node of the test's cluster")
        .to_string();
    let killed_at = chrono::Utc::now().timestamp_millis();
    cluster(&["kill", &n]);

    // A new leader is elected among the two left, and fires keep being recorded.
    wait_until("a new queue leader", Duration::from_secs(30), || async {
        let (now, _) = queue_nodes(&queue)?;
        (now != leader).then_some(())
    })
    .await;
    wait_until(
        "runs recorded 5 s after the kill",
        Duration::from_secs(60),
        || completed(killed_at + 5000),
    )
    .await;
    for (job, _) in &jobs {
        set_active(&env, &token, *job, false).await;
    }
    let mut total = 0;
    for (job, sid) in &jobs {
        let list = wait_until("every run completed", Duration::from_secs(30), || async {
            let (_, list) = runs(&env, &token, *job, sid).await;
            list.iter()
                .all(|r| r["runStatus"] == "COMPLETED")
                .then_some(list)
        })
        .await;
        // No instant missing, none twice, across the kill.
        let (first, last) = gapless_grid_once(&list);
        assert!(first < killed_at && last > killed_at + 5000);
        total += list.len();
    }
    println!(
        "rabbitmq node {leader} killed: {total} runs over 5 schedules, each grid gapless and once"
    );
    env.cleanup().await;
}
