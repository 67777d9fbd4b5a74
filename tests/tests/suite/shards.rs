//! Sharded leadership: three scheduler processes share the due index's four shards (each with
//! its own lease and epoch) while eight schedules fire every second; the one leading the most
//! shards is killed with SIGKILL, the two left take its shards over, and every instant of
//! every schedule's grid is recorded exactly once.

use chime_store::keys::Keys;
use chime_testkit::jobs::{completed_since, every_grid_once, every_second_jobs};
use chime_testkit::{wait_until, Target, TestEnv};
use redis::AsyncCommands;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SHARDS: u32 = 4;

/// The owner name (`<hostname>-<id>`, the host name given at spawn) holding each shard's lease.
async fn holders(env: &TestEnv) -> Vec<Option<String>> {
    let mut conn = env.store().await.connection();
    let keys = Keys::new(env.namespace()).with_shards(SHARDS);
    let mut out = Vec::new();
    for shard in 0..SHARDS {
        let token: Option<String> = conn.get(keys.lease_of(shard)).await.unwrap();
        // `<hostname>-<id>:<epoch>`
        let host = |t: &str| {
            let owner = t.rsplit_once(':').map_or(t, |(o, _)| o);
            owner.rsplit_once('-').map_or(owner, |(h, _)| h).to_string()
        };
        out.push(token.map(|t| host(&t)));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_schedulers_share_the_shards_and_take_a_dead_ones_over() {
    let mut env = TestEnv::new();
    env.settings.scheduler_shards = SHARDS;
    env.start_api().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let mut procs: BTreeMap<String, tokio::process::Child> = ["shard-a", "shard-b", "shard-c"]
        .into_iter()
        .map(|name| (name.to_string(), env.spawn_process("scheduler", name)))
        .collect();
    let jobs = every_second_jobs(&env, &token, &target, "grid", 8).await;
    // Every shard led, by all three schedulers (a fair share each: at most two).
    let before = wait_until(
        "three schedulers lead the shards",
        Duration::from_secs(30),
        || async {
            let h = holders(&env).await;
            let all: Option<Vec<String>> = h.into_iter().collect();
            let all = all?;
            let mut distinct = all.clone();
            distinct.sort();
            distinct.dedup();
            (distinct.len() == 3).then_some(all)
        },
    )
    .await;
    let count = |name: &str| before.iter().filter(|h| *h == name).count();
    assert!(before.iter().all(|h| count(h) <= 2), "{before:?}");
    let completed = |at_least: i64| completed_since(&env, &token, &jobs, at_least);
    let start = chrono::Utc::now().timestamp_millis();
    wait_until("runs of every schedule", Duration::from_secs(30), || {
        completed(start + 2000)
    })
    .await;

    // The one leading the most shards dies.
    let victim = before.iter().max_by_key(|h| count(h)).unwrap().clone();
    let killed_at = Instant::now();
    let killed_at_ms = chrono::Utc::now().timestamp_millis();
    let child = procs.get_mut(&victim).unwrap();
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let after = wait_until("its shards taken over", Duration::from_secs(20), || async {
        let h = holders(&env).await;
        let all: Option<Vec<String>> = h.into_iter().collect();
        all.filter(|all| all.iter().all(|h| *h != victim))
    })
    .await;
    let takeover = killed_at.elapsed();
    wait_until(
        "runs recorded 3 s after the takeover",
        Duration::from_secs(30),
        || completed(killed_at_ms + takeover.as_millis() as i64 + 3000),
    )
    .await;
    // No instant missing, none twice, across the kill and the takeover.
    let took_over_ms = killed_at_ms + takeover.as_millis() as i64;
    let total = every_grid_once(&env, &token, &jobs, (killed_at_ms, took_over_ms)).await;
    println!(
        "shards: {before:?} → {after:?}; {victim} killed, its shards taken over after {takeover:?}; {total} runs over 8 schedules, each grid gapless and once"
    );
    drop(procs);
    env.cleanup().await;
}
