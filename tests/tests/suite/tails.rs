//! Live tails, many at once: one reader per API process, whatever the number of tails (the
//! Redis clients they add are counted on an API of its own process), and the caps on tails
//! per API key and per tenant, answered 429.

use chime_runtime::config::Settings;
use chime_testkit::seed::{minutes_ago, success};
use chime_testkit::{test_settings, wait_until, LiveTail, Refused, SeededJob, TestEnv};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The ports of the settings' Redis servers: the one server, or every seed and master of a
/// cluster.
async fn redis_ports(s: &Settings) -> HashSet<u16> {
    let mut urls: Vec<String> = chime_core::url_list(&s.redis_url)
        .into_iter()
        .map(String::from)
        .collect();
    urls.extend(chime_testkit::redis_nodes(s).await);
    urls.iter()
        .filter_map(|u| {
            let (_, rest) = u.trim_end_matches('/').rsplit_once(':')?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// The TCP connections process `pid` holds established to any of `ports`: its sockets (the
/// inodes of its descriptors) found in the kernel's TCP tables by their remote port.
fn connections_to(pid: u32, ports: &HashSet<u16>) -> usize {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the API process runs")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy();
            Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut n = 0;
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) = (f.get(2), f.get(3), f.get(9)) else {
                continue;
            };
            let port = remote
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let established = *state == "01";
            if established && port.is_some_and(|p| ports.contains(&p)) && inodes.contains(*inode) {
                n += 1;
            }
        }
    }
    n
}

/// An open tail, or the test fails with what refused it.
async fn open(env: &TestEnv, token: &str, job: u64) -> LiveTail {
    LiveTail::open(env, token, job)
        .await
        .unwrap_or_else(|r| panic!("the tail opens: {r:?}"))
}

/// The answer refusing one more tail.
async fn refused(env: &TestEnv, token: &str, job: u64) -> Refused {
    match LiveTail::open(env, token, job).await {
        Ok(_) => panic!("a tail over the cap opened"),
        Err(r) => r,
    }
}

/// The run ids `tail` receives, until it has as many as `want`, in order.
async fn runs_of(tail: &mut LiveTail, want: usize, deadline: Instant) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < want {
        let event = tail.next(deadline).await.expect("the tail stays open");
        assert_eq!(event.name, "run", "{:?}", event.data);
        got.push(event.data["runId"].as_str().expect("a run id").to_string());
    }
    got
}

/// Seeds `n` finished runs of `job`; their ids, in order.
async fn seed_runs(job: &SeededJob, n: i64) -> Vec<String> {
    let mut ids = Vec::new();
    for k in 0..n {
        let at = minutes_ago(10 - k);
        ids.push(job.finished(at, &success(at, "ok")).await);
    }
    ids
}

/// A 429 refusing a tail, naming the cap `setting` reached at `n` by `whose`.
fn assert_capped(r: &Refused, whose: &str, n: u64, setting: &str) {
    assert_eq!(r.status, 429, "{r:?}");
    let message = format!("Too many live tails: {whose} has {n} open ('{setting}')");
    assert_eq!(r.body["message"], message.as_str(), "{r:?}");
    assert_eq!(r.body["detailedError"], message.as_str(), "{r:?}");
    assert_eq!(r.body["type"], "Too Many Requests", "{r:?}");
    assert_eq!(r.body["code"], 429, "{r:?}");
    let wait: u64 = r
        .retry_after
        .as_deref()
        .unwrap_or("")
        .parse()
        .expect("Retry-After");
    assert!(wait > 0, "{r:?}");
}

/// 30 tails, over three jobs of one tenant (one key) and a job of another tenant, on an API of
/// its own process: each tail gets each run of its job, and the tails add a few Redis
/// clients to the API's, not one each (the old design's 30): one on one Redis (one `XREAD`
/// covers every stream), one a master per tenant read on a cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tails_add_a_few_redis_clients_and_each_gets_every_run() {
    let mut env = TestEnv::new();
    let caps = [
        ("CHIME_TAIL_MAX_PER_KEY", "100"),
        ("CHIME_TAIL_MAX_PER_TENANT", "100"),
    ];
    let api = env.spawn_api_process(&caps).await;
    let pid = api.id().expect("the API process runs");
    let hourly = json!({"repeatInterval": "1 hour", "active": true});
    let (a, token_a) = env.tenant(&["read", "write"]).await;
    let (b, token_b) = env.tenant(&["read", "write"]).await;
    let mut jobs = Vec::new();
    for name in ["a1", "a2", "a3"] {
        jobs.push(SeededJob::with_schedule(&env, &a, &token_a, name, hourly.clone()).await);
    }
    jobs.push(SeededJob::with_schedule(&env, &b, &token_b, "b1", hourly).await);
    let ports = redis_ports(&env.settings).await;
    let before = connections_to(pid, &ports);

    let mut tails = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        for _ in 0..if j < 3 { 8 } else { 6 } {
            tails.push((j, open(&env, &job.token, job.job).await));
        }
    }
    assert_eq!(tails.len(), 30);
    let mut expected = Vec::new();
    for job in &jobs {
        expected.push(seed_runs(job, 3).await);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let received = tails.iter_mut().map(|(j, tail)| {
        let want = &expected[*j];
        async move { assert_eq!(&runs_of(tail, want.len(), deadline).await, want) }
    });
    futures::future::join_all(received).await;

    let after = connections_to(pid, &ports);
    let added = after.saturating_sub(before);
    let masters = chime_testkit::redis_nodes(&env.settings).await.len();
    let bound = if env.settings.redis_cluster {
        2 * masters
    } else {
        1
    };
    eprintln!(
        "{} tails added {added} Redis clients ({before} before, {after} after; bound {bound})",
        tails.len()
    );
    assert!(
        added <= bound,
        "{} tails added {added} Redis clients",
        tails.len()
    );
    drop(tails);
    drop(api);
    env.cleanup().await;
}

/// A key holds at most `CHIME_TAIL_MAX_PER_KEY` tails open: one more answers 429 with the
/// cap's name and `Retry-After`; a closed tail frees its slot, and the tails open still get
/// each run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_key_cap_answers_429_until_a_tail_closes() {
    let mut settings = test_settings();
    settings.tail_max_per_key = 2;
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    let job = SeededJob::create(&env, "capped").await;
    let first = open(&env, &job.token, job.job).await;
    let mut second = open(&env, &job.token, job.job).await;
    let r = refused(&env, &job.token, job.job).await;
    assert_capped(&r, "this API key", 2, "CHIME_TAIL_MAX_PER_KEY");

    drop(first);
    let mut third = wait_until(
        "a closed tail frees its slot",
        Duration::from_secs(10),
        || async { LiveTail::open(&env, &job.token, job.job).await.ok() },
    )
    .await;
    let r = refused(&env, &job.token, job.job).await;
    assert_capped(&r, "this API key", 2, "CHIME_TAIL_MAX_PER_KEY");
    let ids = seed_runs(&job, 2).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    assert_eq!(runs_of(&mut second, 2, deadline).await, ids);
    assert_eq!(runs_of(&mut third, 2, deadline).await, ids);
    env.cleanup().await;
}

/// A tenant's keys hold at most `CHIME_TAIL_MAX_PER_TENANT` tails open together: one more
/// from any of its keys answers 429, while another tenant's tail still opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_tenant_cap_counts_every_key_of_the_tenant() {
    let mut settings = test_settings();
    settings.tail_max_per_key = 10;
    settings.tail_max_per_tenant = 3;
    let mut env = TestEnv::with_settings(settings);
    env.start_api().await;
    let job = SeededJob::create(&env, "shared").await;
    let other_key = env.client().create_key(&job.tenant, &["read"]).await;
    let _tails = [
        open(&env, &job.token, job.job).await,
        open(&env, &job.token, job.job).await,
        open(&env, &other_key, job.job).await,
    ];
    for token in [&other_key, &job.token] {
        let r = refused(&env, token, job.job).await;
        assert_capped(&r, "this tenant", 3, "CHIME_TAIL_MAX_PER_TENANT");
    }
    let neighbour = SeededJob::create(&env, "neighbour").await;
    let mut theirs = open(&env, &neighbour.token, neighbour.job).await;
    let ids = seed_runs(&neighbour, 1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    assert_eq!(runs_of(&mut theirs, 1, deadline).await, ids);
    env.cleanup().await;
}
