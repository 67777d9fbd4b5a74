//! A RabbitMQ cluster loses a node under load: chime runs on a local three-node cluster
//! (`scripts/rabbitmq-cluster.sh`, beside the machine's own RabbitMQ), its run queue a quorum
//! queue with a member on every node; the node that leads the queue is killed with SIGKILL
//! while five schedules fire every second. The services move to a live node by themselves
//! (`CHIME_AMQP_URL` lists all three), the queue elects a new leader, and every instant of every
//! schedule's grid is recorded exactly once.
//!
//! The test starts and stops nodes of its own, so it is the only test of its binary.
//!
//! Under CPU load, the publisher's channel was seen refusing (nacking) every publish for over a
//! minute after the kill, while the queue had long elected a new leader; the publisher now
//! drops a connection whose publish was refused and opens a new one, and this test passes
//! under load (two busy loops beside it) where it failed two runs in seven before.

use chime_testkit::jobs::{completed_since, every_grid_once, every_second_jobs};
use chime_testkit::{test_settings, wait_until, Target, TestEnv};
use std::time::Duration;

/// Runs `scripts/rabbitmq-cluster.sh` with `args`; returns what it printed.
fn cluster(args: &[&str]) -> String {
    chime_testkit::rabbitmq_cluster(args, &[])
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
    let jobs = every_second_jobs(&env, &token, &target, "grid", 5).await;
    let completed = |at_least: i64| completed_since(&env, &token, &jobs, at_least);
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
        (now != leader && now.starts_with("chime")).then_some(())
    })
    .await;
    wait_until(
        "runs recorded 5 s after the kill",
        Duration::from_secs(60),
        || completed(killed_at + 5000),
    )
    .await;
    // No instant missing, none twice, across the kill.
    let total = every_grid_once(&env, &token, &jobs, (killed_at, killed_at + 5000)).await;
    println!(
        "rabbitmq node {leader} killed: {total} runs over 5 schedules, each grid gapless and once"
    );
    env.cleanup().await;
}
