//! chime's test kit: what the end-to-end tests and chime-bench share.
//!
//! Layout:
//! - [`env`]: [`TestEnv`], one test's world: its own namespace on the real Redis and RabbitMQ
//!   (purged when the value is dropped, also when the test fails), the services in-process or
//!   as child processes.
//! - [`client`]: [`ApiClient`], a typed client of chime's API (admin and tenant calls), and
//!   [`jobs`], the job calls most tests make.
//! - [`target`]: [`Target`], a local HTTP server jobs call, recording or counting its calls.
//! - [`tail`]: [`LiveTail`], a client of a live tail's events.
//! - [`seed`]: runs written through the store's own run steps, so run-log tests need no real
//!   fires; [`SeededJob`], a tenant's job with a [`Seeder`] of its schedule.
//! - [`wait_until`], [`wait_until_every`]: conditions with deadlines, never bare sleeps.
//! - [`chime_bin`]: the `chime` binary the tests run as child processes (`chime serve …`).
//! - [`purge`]: deletes a namespace's keys, queues and exchanges.
//! - [`redis_server`]: [`PrivateRedis`], a `redis-server` of a test's own to kill and restart.

pub mod client;
pub mod env;
pub mod hostile;
pub mod jobs;
pub mod redis_server;
pub mod seed;
pub mod tail;
pub mod target;

pub use client::{ApiClient, CreatedJob, RunPage};
pub use env::{test_settings, Running, TestEnv, ADMIN_TOKEN, TEST_SECRET_KEYS};
pub use hostile::Hostile;
pub use jobs::{all_completed, create_job, retarget, runs, set_active};
pub use redis_server::PrivateRedis;
pub use seed::{SeededJob, Seeder};
pub use tail::{LiveTail, Refused, TailEvent};
pub use target::{Hit, Reply, Target};

use chime_runtime::config::Settings;
use std::time::{Duration, Instant};

/// The `chime` binary (package `chime-cli`) of the build running this test: beside the test's
/// own executable (`target/<profile>/deps/<test>-<hash>`), in `target/<profile>/`. Panics when
/// it was not built.
pub fn chime_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let mut dir = exe.parent().expect("the test's directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(format!("chime{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the chime binary is not at {}: build it: cargo build -p chime-cli",
        bin.display()
    );
    bin
}

/// Polls `cond` every 50 ms until it returns `Some` or `within` passes; panics with `what` on
/// time-out.
pub async fn wait_until<T, F, Fut>(what: &str, within: Duration, cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    wait_until_every(what, within, Duration::from_millis(50), cond).await
}

/// [`wait_until`] polling every `every`, for conditions that become true within a few
/// milliseconds.
pub async fn wait_until_every<T, F, Fut>(
    what: &str,
    within: Duration,
    every: Duration,
    mut cond: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = cond().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for: {what}");
        }
        tokio::time::sleep(every).await;
    }
}

/// Deletes every Redis key of the namespace (`SCAN` and `UNLINK`, so a namespace of millions
/// of keys does not block Redis; on a cluster, on every master), its RabbitMQ queues and
/// exchanges, and `extra_queues`.
pub async fn purge(s: &Settings, extra_queues: &[String]) {
    for node in redis_nodes(s).await {
        purge_node(&node, &s.namespace).await;
    }
    let topology = chime_broker::Topology::new(&s.namespace, s.delivery_limit, "");
    let _ = topology.delete(&s.amqp_url, extra_queues).await;
}

/// The URLs of the Redis servers holding the settings' data: the one server, or a cluster's
/// masters (from `CLUSTER NODES` of its first reachable seed).
pub async fn redis_nodes(s: &Settings) -> Vec<String> {
    if !s.redis_cluster {
        return vec![s.redis_url.clone()];
    }
    for seed in chime_core::url_list(&s.redis_url) {
        let Ok(client) = redis::Client::open(seed) else {
            continue;
        };
        let Ok(mut c) = client.get_multiplexed_async_connection().await else {
            continue;
        };
        let Ok(nodes) = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async::<String>(&mut c)
            .await
        else {
            continue;
        };
        return nodes
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let addr = fields.nth(1)?;
                let flags = fields.next()?;
                let host_port = addr.split('@').next()?;
                (flags.contains("master") && !flags.contains("fail"))
                    .then(|| format!("redis://{host_port}"))
            })
            .collect();
    }
    vec![]
}

/// Every Redis key of the settings' namespace, on every master, each with a connection to the
/// master that holds it (to read it there).
pub async fn namespace_keys(s: &Settings) -> Vec<(redis::aio::MultiplexedConnection, String)> {
    let mut out = Vec::new();
    for node in redis_nodes(s).await {
        let client = redis::Client::open(node).expect("a Redis URL");
        let mut c = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers");
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", s.namespace))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .expect("SCAN answers");
            out.extend(keys.into_iter().map(|k| (c.clone(), k)));
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Deletes one server's keys of the namespace, one `UNLINK` each (a cluster node refuses
/// multi-key commands over several slots).
async fn purge_node(url: &str, namespace: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut c) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let mut cursor: u64 = 0;
    loop {
        let scan = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{namespace}:*"))
            .arg("COUNT")
            .arg(10_000)
            .query_async::<(u64, Vec<String>)>(&mut c)
            .await;
        let Ok((next, keys)) = scan else { break };
        if !keys.is_empty() {
            let mut pipe = redis::pipe();
            for k in &keys {
                pipe.cmd("UNLINK").arg(k).ignore();
            }
            let _: Result<(), _> = pipe.query_async(&mut c).await;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

/// Runs the project's `scripts/rabbitmq-cluster.sh` with `args` and the extra environment
/// `envs` (e.g. `CHIME_RABBITMQ_CLUSTER_NAME`); returns what it printed. Panics when it fails.
pub fn rabbitmq_cluster(args: &[&str], envs: &[(&str, &str)]) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/rabbitmq-cluster.sh"
    );
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .envs(envs.iter().copied())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "rabbitmq-cluster.sh {args:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
