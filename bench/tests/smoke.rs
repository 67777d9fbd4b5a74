//! A short run of every chime-bench scenario with small numbers, so the tool cannot rot. It
//! checks that each scenario produces figures, not what they are: speed lives in the
//! benchmark's report, not in tests.

use chime_bench::baseline::{self, Pipeline};
use chime_bench::{Bench, Options, Report};
use std::time::Duration;

fn options() -> Options {
    Options {
        redis_url: std::env::var("CHIME_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        redis_cluster: false,
        amqp_url: std::env::var("CHIME_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
        workers: 1,
        concurrency: 16,
        target_latency: Duration::ZERO,
        attach: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_reports_figures() {
    let opts = options();
    let mut b = Bench::start(&opts, true).await.expect("cluster starts");
    let mut report = Report {
        environment: chime_bench::environment(&opts).await,
        ..Default::default()
    };
    assert_eq!(
        report.environment["cores"].as_u64().map(|c| c > 0),
        Some(true)
    );

    let ns = b.settings.namespace.clone();
    let ceiling = ceilings_write_what_they_claim(&opts, &b).await;
    report.add("baseline", "runs/s", ceiling, "runs/s", "", None);

    let t = chime_bench::throughput(&b, 100, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        t.hits_per_s > 0.0 && t.logged_per_s > 0.0,
        "throughput: {t:?}"
    );
    // The process's CPU is counted in 10 ms ticks, too coarse for two seconds of a small load
    // to be sure to register (the reading itself is tested in the bench's unit tests).
    assert!(
        t.cpu.redis_us > 0.0 && t.cpu.process_us.is_finite() && t.cpu.process_us >= 0.0,
        "CPU per run: {t:?}"
    );
    // The local broker is found and its CPU read (the same 10 ms ticks).
    assert!(
        t.cpu
            .rabbitmq_us
            .is_some_and(|us| us.is_finite() && us >= 0.0),
        "RabbitMQ CPU per run: {t:?}"
    );

    let r = chime_bench::retries(&b, 50, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        r.finished_per_s > 0.0 && r.calls_per_run > 1.0,
        "retries: {r:?}"
    );

    let (start, record) = chime_bench::lateness(&b, 30, Duration::from_secs(2), "smoke-lateness")
        .await
        .unwrap();
    assert!(start.count > 0 && record.count > 0);
    assert!(start.p50_ms <= start.p99_ms && start.p99_ms <= start.max_ms);
    for pipeline in [
        Pipeline::Raw,
        Pipeline::Batched,
        Pipeline::Contract,
        Pipeline::Indexed,
    ] {
        let paced = baseline::paced(
            &opts,
            &b.target,
            &ns,
            50.0,
            Duration::from_secs(1),
            pipeline,
        )
        .await
        .unwrap();
        assert!(paced.count > 0, "{pipeline:?}");
    }

    let (load, _, _, _) = chime_bench::scale(&mut b, 200, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(load > 0.0);

    let figures = chime_bench::query(&b, 2_000, 100, &[1, 2], 40)
        .await
        .unwrap();
    assert_eq!(figures.len(), 2);
    for f in &figures {
        for l in [
            &f.first_page,
            &f.deep_offset,
            &f.date_range,
            &f.by_id,
            &f.raw_xrevrange,
            &f.raw_page,
        ] {
            assert!(l.count > 0, "{f:?}");
        }
    }
    // The memory breakdown found the runs' records (finished, all 2,000 of them: in their
    // jobs' streams, none left as a key of its own) and their indexes.
    let memory = &figures[0].memory;
    let family = |name: &str| memory.iter().find(|m| m.name == name);
    let records = family("job's records (stream)").expect("records measured");
    assert!(records.bytes_per_run > 0.0, "{memory:?}");
    assert!(
        family("unfinished run's record (hash)").is_none(),
        "{memory:?}"
    );
    for index in [
        "schedule's positions (stream)",
        "job's positions (stream)",
        "run ids (hashes by their first 4 characters)",
        "job's run numbers (hashes of 128)",
        "tenant's run stream",
    ] {
        assert!(
            family(index).is_some_and(|m| m.bytes > 0.0),
            "{index}: {memory:?}"
        );
    }

    let (alone, flooded) = chime_bench::fairness(&b, 10, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(alone.count > 0 && flooded.count > 0);

    report.add(
        "query",
        "first page p99",
        figures[0].first_page.p99_ms,
        "ms",
        "",
        None,
    );
    assert!(report.table().contains("first page p99"));
    assert!(report.markdown().contains("| query |"));
    assert!(report.json()["results"].as_array().unwrap().len() >= 2);
    b.stop().await;
}

/// The four reference pipelines run and write what they claim: the baselines a stream entry
/// per run (the batched one with 16 runs to a message), the floor a completed record per run,
/// the indexed floor also the run log's indexes. Returns the batched ceiling's rate.
async fn ceilings_write_what_they_claim(opts: &Options, b: &Bench) -> f64 {
    let ns = b.settings.namespace.clone();
    let ceiling = baseline::flat_out(opts, &b.target, &ns, 300, Pipeline::Raw)
        .await
        .unwrap();
    assert!(ceiling > 0.0);
    let batched = baseline::flat_out(opts, &b.target, &ns, 330, Pipeline::Batched)
        .await
        .unwrap();
    assert!(batched > 0.0);
    let floor = baseline::flat_out(opts, &b.target, &ns, 300, Pipeline::Contract)
        .await
        .unwrap();
    assert!(floor > 0.0);
    // The floor wrote what the contract asks for: a record with its result per run.
    let mut redis = redis::Client::open(opts.redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let baseline_entries: u64 = redis::cmd("XLEN")
        .arg(format!("{ns}:bench:baseline"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        baseline_entries,
        300 + 330,
        "one entry per run of both baselines"
    );
    let indexed: u64 = redis::cmd("XLEN")
        .arg(format!("{ns}:bench:floor:runs"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(indexed, 300);
    let ids: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{ns}:bench:floor:runs"))
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut redis)
        .await
        .unwrap();
    let status: Option<String> = redis::cmd("HGET")
        .arg(format!("{ns}:bench:floor:run:{}", ids[0].1[0].1))
        .arg("status")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(status.as_deref(), Some("COMPLETED"));

    // The indexed floor also wrote the run log's indexes: one entry per run in the job streams
    // (10 jobs of 100 schedules), the build numbers, the outcome and the rank indexes.
    let indexed_rate = baseline::flat_out(opts, &b.target, &ns, 300, Pipeline::Indexed)
        .await
        .unwrap();
    assert!(indexed_rate > 0.0);
    let ix = format!("{ns}:bench:floor:ix:");
    let total = |cmd: &'static str, keys: Vec<String>| {
        let mut redis = redis.clone();
        async move {
            let mut p = redis::pipe();
            for k in keys {
                p.cmd(cmd).arg(k);
            }
            let counts: Vec<u64> = p.query_async(&mut redis).await.unwrap();
            counts.into_iter().sum::<u64>()
        }
    };
    let jobs = |suffix: &str| (0..10).map(|j| format!("{ix}{j}{suffix}")).collect();
    assert_eq!(total("XLEN", jobs(":runs")).await, 300);
    assert_eq!(total("HLEN", jobs(":builds")).await, 300);
    assert_eq!(total("ZCARD", jobs(":outcome:success")).await, 300);
    let ranks = (0..1000).map(|s| format!("{ix}s{s}:rank")).collect();
    assert_eq!(total("ZCARD", ranks).await, 300);

    batched
}
