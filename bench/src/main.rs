//! `chime-bench`: runs the scenarios and prints a table (or JSON, or Markdown).

use chime_bench::baseline::{self, Pipeline};
use chime_bench::{environment, Bench, Cpu, CpuPerRun, IoStall, Latency, Options, Report};
use clap::Parser;
use std::time::Duration;

/// The services' allocator (see their `main.rs`), so the in-process cluster runs as they do.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "chime-bench",
    about = "Measure a chime cluster against this machine's own ceiling"
)]
struct Cli {
    /// Scenarios to run: baseline, floor, indexed, throughput, retries, lateness, scale, query, fairness, hostile (comma-separated), or all.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// A short run (under about two minutes) with small numbers.
    #[arg(long)]
    quick: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also write the report as Markdown to this file.
    #[arg(long)]
    markdown: Option<std::path::PathBuf>,
    #[arg(
        long,
        env = "CHIME_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    #[arg(
        long,
        env = "CHIME_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Also measure chime's throughput on this Redis Cluster (its seed nodes' URLs,
    /// comma-separated, e.g. from `scripts/redis-cluster.sh urls`), beside the single Redis.
    #[arg(long)]
    redis_cluster: Option<String>,
    /// Workers (in-process) and baseline consumers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Runs in flight per worker (prefetch).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Latency of the HTTP target, in milliseconds.
    #[arg(long, default_value_t = 0)]
    target_latency_ms: u64,
    /// Messages of the flat-out baseline.
    #[arg(long)]
    baseline_runs: Option<u64>,
    /// Seconds of the lateness and fairness phases.
    #[arg(long)]
    seconds: Option<u64>,
    /// Runs per second of the lateness scenario (default: half the measured throughput).
    #[arg(long)]
    rate: Option<usize>,
    /// Schedules of the scale scenario.
    #[arg(long)]
    schedules: Option<usize>,
    /// Stored runs of the query scenario.
    #[arg(long)]
    stored_runs: Option<u64>,
    /// Concurrent readers of the query scenario.
    #[arg(long, default_value_t = 8)]
    readers: usize,
    /// Attach to a running API (its URL) instead of starting a cluster; needs --admin-token.
    #[arg(long)]
    attach: Option<String>,
    #[arg(long, env = "CHIME_ADMIN_TOKEN")]
    admin_token: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let opts = Options {
        redis_url: cli.redis_url.clone(),
        redis_cluster: false,
        amqp_url: cli.amqp_url.clone(),
        workers: cli.workers,
        concurrency: cli.concurrency,
        target_latency: Duration::from_millis(cli.target_latency_ms),
        attach: cli
            .attach
            .clone()
            .map(|u| (u, cli.admin_token.clone().unwrap_or_default())),
    };
    let report = run(&cli, &opts).await?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        println!("{}", report.environment);
        print!("{}", report.table());
    }
    if let Some(path) = &cli.markdown {
        std::fs::write(path, report.markdown())?;
    }
    Ok(())
}

async fn run(cli: &Cli, opts: &Options) -> anyhow::Result<Report> {
    let all = cli.scenario == "all";
    let want = |s: &str| all || cli.scenario.split(',').any(|x| x.trim() == s);
    let q = cli.quick;
    let secs = Duration::from_secs(cli.seconds.unwrap_or(if q { 8 } else { 60 }));
    let mut report = Report {
        environment: environment(opts).await,
        ..Default::default()
    };

    let mut b = Bench::start(opts, true).await?;
    let n = cli.baseline_runs.unwrap_or(if q { 5_000 } else { 50_000 });
    // The ceilings, each run's CPU set against the one it builds on (the entry at `against`):
    // the baseline, the batched baseline, the floor and the indexed floor.
    let ceiling_wanted = want("baseline") || want("throughput") || want("lateness");
    let pipelines = [
        (
            Pipeline::Raw,
            ceiling_wanted,
            "runs/s (publish→ack, one run a message, flat out)",
            "",
            None,
        ),
        (
            Pipeline::Batched,
            ceiling_wanted,
            "runs/s (publish→ack, 16 runs a message, flat out)",
            "the ceiling",
            Some(0),
        ),
        (
            Pipeline::Contract,
            want("floor") || want("throughput"),
            "runs/s (the delivery contract by hand, flat out)",
            "what the contract allows",
            Some(0),
        ),
        (
            Pipeline::Indexed,
            want("indexed") || want("throughput"),
            "runs/s (the contract and the run log's indexes by hand, flat out)",
            "what the run log allows",
            Some(2),
        ),
    ];
    let mut runs: [Option<(f64, CpuPerRun)>; 4] = [None; 4];
    for (i, (pipeline, wanted, metric, target, against)) in pipelines.into_iter().enumerate() {
        if !wanted {
            continue;
        }
        let (rate, cpu) = flat_out(opts, &b, n, pipeline).await?;
        let scenario = pipeline.name();
        report.add(scenario, metric, rate, "runs/s", target, None);
        let before = against.and_then(|k: usize| Some((pipelines[k].0.name(), runs[k]?.1)));
        if let (Some((base, _)), true) = (runs[0], i > 0) {
            report.add(scenario, "ratio to baseline", rate / base, "×", "", None);
        }
        add_cpu(&mut report, scenario, cpu, before);
        runs[i] = Some((rate, cpu));
    }
    let mut measured = None;
    let mut offered = None;
    if want("throughput") {
        let (rate, load) = throughput_rows(&b, q, &mut report, runs).await?;
        measured = Some(rate);
        offered = Some(load);
        if let Some(seeds) = &cli.redis_cluster {
            cluster_rows(opts, seeds, q, load, rate, &mut report).await?;
        }
    }
    if want("retries") {
        retries_rows(&b, q, offered, measured, &mut report).await?;
    }
    if want("lateness") {
        lateness_rows(cli, opts, &b, secs, measured, &mut report).await?;
    }
    if want("scale") {
        scale_rows(cli, &mut b, q, secs, &mut report).await?;
    }
    if want("fairness") {
        fairness_rows(&b, q, secs, &mut report).await?;
    }
    if want("hostile") {
        hostile_rows(&b, q, secs, &mut report).await?;
    }
    if want("query") {
        query_rows(cli, &b, q, &mut report).await?;
    }
    b.stop().await;
    Ok(report)
}

/// chime's throughput with its store on a Redis Cluster (`seeds`), at the load of the single
/// Redis's run (`offered` schedules), beside that run's `single` runs/s. On one machine the
/// cluster's masters share its cores: the figure shows the cluster's cost, not its gain.
async fn cluster_rows(
    opts: &Options,
    seeds: &str,
    q: bool,
    offered: usize,
    single: f64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let opts = Options {
        redis_url: seeds.to_string(),
        redis_cluster: true,
        ..opts.clone()
    };
    let b = Bench::start(&opts, true).await?;
    let window = Duration::from_secs(if q { 5 } else { 20 });
    let t = chime_bench::throughput(&b, offered, window).await;
    b.stop().await;
    let t = t?;
    let rate = t.hits_per_s.min(t.logged_per_s);
    let scenario = "throughput, Redis Cluster";
    report.add(scenario, "runs/s end to end", rate, "runs/s", "", None);
    report.add(
        scenario,
        "ratio to the single Redis",
        rate / single,
        "×",
        "",
        None,
    );
    add_cpu(report, scenario, t.cpu, None);
    Ok(())
}

/// The throughput rows: chime end to end against the ceilings measured before it (the
/// batched baseline is the one its target is set against). Returns chime's runs/s and the
/// schedules it offered.
async fn throughput_rows(
    b: &Bench,
    q: bool,
    report: &mut Report,
    [ceiling, batched, floor, indexed]: [Option<(f64, CpuPerRun)>; 4],
) -> anyhow::Result<(f64, usize)> {
    let one_a_message = ceiling.map_or(5_000.0, |c| c.0);
    let base = batched.map_or(one_a_message, |c| c.0);
    // More than chime can take, so the figure is chime's and not the offered load's.
    let offered = ((base.max(one_a_message) * 1.2) as usize).clamp(200, 40_000);
    let window = Duration::from_secs(if q { 5 } else { 20 });
    let t = chime_bench::throughput(b, offered, window).await?;
    let rate = t.hits_per_s.min(t.logged_per_s);
    report.add(
        "throughput",
        "runs/s end to end",
        rate,
        "runs/s",
        "≥ 0.8 × batched baseline",
        None,
    );
    report.add(
        "throughput",
        "ratio to baseline (one run a message)",
        rate / one_a_message,
        "×",
        "",
        None,
    );
    let ratio = rate / base;
    report.add(
        "throughput",
        "ratio to batched baseline",
        ratio,
        "×",
        "≥ 0.8",
        Some(ratio >= 0.8),
    );
    if let Some((f, _)) = floor {
        report.add("throughput", "ratio to floor", rate / f, "×", "", None);
    }
    if let Some((f, _)) = indexed {
        report.add(
            "throughput",
            "ratio to indexed floor",
            rate / f,
            "×",
            "",
            None,
        );
    }
    let reference = indexed
        .map(|f| ("indexed floor", f.1))
        .or(floor.map(|f| ("floor", f.1)));
    add_cpu(report, "throughput", t.cpu, reference);
    report.details.insert("throughput".into(), serde_json::json!({"offered": offered, "target_hits_per_s": t.hits_per_s, "runs_logged_per_s": t.logged_per_s, "floor_runs_per_s": floor.map(|f| f.0), "indexed_floor_runs_per_s": indexed.map(|f| f.0), "cpu_per_run": t.cpu, "floor_cpu_per_run": floor.map(|f| f.1), "indexed_floor_cpu_per_run": indexed.map(|f| f.1), "baseline_cpu_per_run": ceiling.map(|c| c.1), "batched_baseline_runs_per_s": batched.map(|c| c.0), "batched_baseline_cpu_per_run": batched.map(|c| c.1)}));
    Ok((rate, offered))
}

/// The lateness rows: chime's start and record lateness at a paced rate, beside the paced
/// baseline and floor, with each phase's share of time stalled on I/O.
async fn lateness_rows(
    cli: &Cli,
    opts: &Options,
    b: &Bench,
    secs: Duration,
    measured: Option<f64>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let rate = cli
        .rate
        .unwrap_or((measured.unwrap_or(1_000.0) / 2.0).max(50.0) as usize);
    // Each phase's share of time stalled on I/O: a stall moves a p99 more than software.
    let io = IoStall::start();
    let (start, record) = chime_bench::lateness(b, rate, secs, "lateness").await?;
    let mut stalls = vec![("chime", io.share())];
    let ns = &b.settings.namespace;
    let io = IoStall::start();
    let paced = baseline::paced(opts, &b.target, ns, rate as f64, secs, Pipeline::Raw).await?;
    stalls.push(("paced baseline", io.share()));
    let io = IoStall::start();
    let paced_floor =
        baseline::paced(opts, &b.target, ns, rate as f64, secs, Pipeline::Contract).await?;
    stalls.push(("paced floor", io.share()));
    report.add(
        "lateness",
        &format!("start p50 at {rate} runs/s"),
        start.p50_ms,
        "ms",
        "",
        None,
    );
    report.add(
        "lateness",
        "start p99",
        start.p99_ms,
        "ms",
        "≤ 100 ms, ≤ 2× paced p99",
        Some(start.p99_ms <= 100.0 && start.p99_ms <= 2.0 * paced.p99_ms.max(1.0)),
    );
    report.add(
        "lateness",
        "start max",
        start.max_ms,
        "ms",
        "≤ 1000 ms",
        Some(start.max_ms <= 1000.0),
    );
    report.add("lateness", "record p50", record.p50_ms, "ms", "", None);
    report.add("lateness", "record p99", record.p99_ms, "ms", "", None);
    report.add(
        "lateness",
        "paced baseline p50 (publish→ack)",
        paced.p50_ms,
        "ms",
        "",
        None,
    );
    report.add(
        "lateness",
        "paced baseline p99",
        paced.p99_ms,
        "ms",
        "",
        None,
    );
    report.add(
        "lateness",
        "paced floor p50 (due→ack)",
        paced_floor.p50_ms,
        "ms",
        "",
        None,
    );
    report.add(
        "lateness",
        "paced floor p99",
        paced_floor.p99_ms,
        "ms",
        "",
        None,
    );
    for (phase, share) in &stalls {
        if let Some(share) = share {
            let metric = format!("stalled on I/O during the {phase} phase");
            report.add("lateness", &metric, *share, "%", "", None);
        }
    }
    let io_stall_pct: serde_json::Map<String, serde_json::Value> = stalls
        .iter()
        .map(|(phase, share)| (phase.to_string(), serde_json::json!(share)))
        .collect();
    report.details.insert("lateness".into(), serde_json::json!({"rate": rate, "start": start, "record": record, "paced_baseline": paced, "paced_floor": paced_floor, "io_stall_pct": io_stall_pct}));
    Ok(())
}

/// The scale rows: load of many schedules, Redis memory, the leader's RSS and lateness.
async fn scale_rows(
    cli: &Cli,
    b: &mut Bench,
    q: bool,
    secs: Duration,
    report: &mut Report,
) -> anyhow::Result<()> {
    let n = cli.schedules.unwrap_or(if q { 20_000 } else { 1_000_000 });
    let (load, redis_mib, rss, lat) = chime_bench::scale(b, n, secs).await?;
    report.add("scale", &format!("load {n} schedules"), load, "s", "", None);
    report.add("scale", "Redis memory added", redis_mib, "MiB", "", None);
    match rss {
        Some(r) => report.add(
            "scale",
            "leader RSS",
            r,
            "MiB",
            "≤ 1024 MiB",
            Some(r <= 1024.0),
        ),
        None => report.add(
            "scale",
            "leader RSS (not measured: no chime-scheduler binary beside chime-bench)",
            0.0,
            "MiB",
            "≤ 1024 MiB",
            None,
        ),
    }
    report.add(
        "scale",
        &format!("lateness p99 ({} fires)", lat.count),
        lat.p99_ms,
        "ms",
        "≤ 100 ms",
        Some(lat.count > 0 && lat.p99_ms <= 100.0),
    );
    report.details.insert(
        "scale".into(),
        serde_json::json!({"schedules": n, "lateness": lat}),
    );
    Ok(())
}

/// The hostile rows: a healthy tenant's lateness alone and beside a tenant whose endpoints
/// never answer, at the longest timeout.
async fn hostile_rows(
    b: &Bench,
    q: bool,
    secs: Duration,
    report: &mut Report,
) -> anyhow::Result<()> {
    let rate = if q { 20 } else { 100 };
    let h = chime_bench::hostile(b, rate, secs).await?;
    let rows = [
        ("healthy tenant start p99 alone", h.alone.p99_ms, "", None),
        (
            "healthy tenant start p99 beside hanging endpoints",
            h.beside.p99_ms,
            "≤ 2× alone",
            Some(h.beside.p99_ms <= 2.0 * h.alone.p99_ms.max(1.0)),
        ),
    ];
    for (metric, value, target, ok) in rows {
        report.add("hostile", metric, value, "ms", target, ok);
    }
    report.add(
        "hostile",
        "hostile calls held at once",
        h.hostile_calls_at_once as f64,
        "calls",
        "",
        None,
    );
    report.details.insert(
        "hostile".into(),
        serde_json::json!({"healthy_rate": rate, "hostile_schedules": h.hostile_schedules,
            "alone": h.alone, "beside": h.beside}),
    );
    Ok(())
}

/// The retries rows: chime flat out (the throughput scenario's load, or 2,000 schedules)
/// with every job retrying against a target that fails every second call, beside the
/// throughput without a policy when it was measured in the same run.
async fn retries_rows(
    b: &Bench,
    q: bool,
    offered: Option<usize>,
    plain: Option<f64>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let offered = offered.unwrap_or(if q { 500 } else { 2_000 });
    let window = Duration::from_secs(if q { 5 } else { 20 });
    let r = chime_bench::retries(b, offered, window).await?;
    let scenario = "retries (target failing half its calls)";
    let metric = "runs/s finished end to end";
    report.add(scenario, metric, r.finished_per_s, "runs/s", "", None);
    report.add(
        scenario,
        "calls per run",
        r.calls_per_run,
        "calls",
        "≈ 2",
        None,
    );
    if let Some(plain) = plain {
        let ratio = r.finished_per_s / plain;
        report.add(
            scenario,
            "ratio to throughput without a policy",
            ratio,
            "×",
            "",
            None,
        );
    }
    report
        .details
        .insert("retries".into(), serde_json::json!({"offered": offered}));
    Ok(())
}

/// The fairness rows: a steady tenant's lateness alone and during a 10× flood.
async fn fairness_rows(
    b: &Bench,
    q: bool,
    secs: Duration,
    report: &mut Report,
) -> anyhow::Result<()> {
    let steady = if q { 50 } else { 200 };
    let (alone, flooded) = chime_bench::fairness(b, steady, secs).await?;
    report.add(
        "fairness",
        "steady tenant p99 alone",
        alone.p99_ms,
        "ms",
        "",
        None,
    );
    report.add(
        "fairness",
        "steady tenant p99 during 10× flood",
        flooded.p99_ms,
        "ms",
        "≤ 2× alone",
        Some(flooded.p99_ms <= 2.0 * alone.p99_ms.max(1.0)),
    );
    report.details.insert(
        "fairness".into(),
        serde_json::json!({"steady_rate": steady, "alone": alone, "flooded": flooded}),
    );
    Ok(())
}

/// The query rows: run-log reads through the API at 1 and more readers beside raw reads.
async fn query_rows(cli: &Cli, b: &Bench, q: bool, report: &mut Report) -> anyhow::Result<()> {
    let n = cli
        .stored_runs
        .unwrap_or(if q { 50_000 } else { 10_000_000 });
    let per_schedule = if n >= 1_000_000 { 10_000 } else { 1_000 };
    let requests = if q { 500 } else { 5_000 };
    let readers = if cli.readers > 1 {
        vec![1, cli.readers]
    } else {
        vec![1]
    };
    let all = chime_bench::query(b, n, per_schedule, &readers, requests).await?;
    let first = &all[0];
    report.add(
        "query",
        &format!("load {n} runs"),
        first.load_secs,
        "s",
        "",
        None,
    );
    report.add(
        "query",
        "Redis memory added",
        first.redis_mib,
        "MiB",
        "",
        None,
    );
    let per_run = first.redis_mib * 1_048_576.0 / n.max(1) as f64;
    report.add(
        "query",
        "bytes per stored run (used_memory)",
        per_run,
        "B",
        "",
        None,
    );
    for m in &first.memory {
        let metric = format!(
            "bytes per run: {} ({} keys, {})",
            m.name, m.keys, m.encoding
        );
        report.add("query", &metric, m.bytes_per_run, "B", "", None);
    }
    for f in &all {
        let r = f.readers;
        let raw = f.raw_page.p99_ms.max(0.001);
        for (name, l) in [
            ("first page", &f.first_page),
            ("deep offset", &f.deep_offset),
            ("date range", &f.date_range),
            ("run by id", &f.by_id),
        ] {
            query_latency(report, r, name, l, Some(raw));
        }
        for (name, l) in [
            ("search, newest", &f.search_newest),
            ("search, outcome", &f.search_outcome),
            ("search, HTTP status and duration", &f.search_status),
            ("search, no match (whole budget)", &f.search_no_match),
        ] {
            query_latency(report, r, name, l, None);
        }
        query_latency(report, r, "SAP page of 100", &f.page_of_100, None);
        query_latency(
            report,
            r,
            "dashboard page of 100",
            &f.dashboard_page_of_100,
            None,
        );
        report.add(
            "query",
            &format!("dashboard page of 100 ÷ SAP page of 100, p50, {r} readers"),
            f.dashboard_page_of_100.p50_ms / f.page_of_100.p50_ms.max(0.001),
            "×",
            "",
            None,
        );
        report.add(
            "query",
            &format!("raw XREVRANGE p99, {r} readers"),
            f.raw_xrevrange.p99_ms,
            "ms",
            "",
            None,
        );
        report.add(
            "query",
            &format!("raw page p50, {r} readers"),
            f.raw_page.p50_ms,
            "ms",
            "",
            None,
        );
        report.add(
            "query",
            &format!("raw page p99, {r} readers"),
            f.raw_page.p99_ms,
            "ms",
            "",
            None,
        );
    }
    report
        .details
        .insert("query".into(), serde_json::to_value(&all)?);
    Ok(())
}

/// The CPU rows of a flat-out phase: Redis's and this process's CPU per run, and their ratios
/// to the pipeline it is compared with (`against`, when that ran).
/// One flat-out run of a ceiling pipeline: runs per second and the CPU per run.
async fn flat_out(
    opts: &Options,
    b: &Bench,
    n: u64,
    pipeline: Pipeline,
) -> anyhow::Result<(f64, CpuPerRun)> {
    let cpu0 = Cpu::read(&opts.redis_url).await?;
    let rate = baseline::flat_out(opts, &b.target, &b.settings.namespace, n, pipeline).await?;
    Ok((rate, Cpu::read(&opts.redis_url).await?.since(&cpu0, n)))
}

/// The CPU per run of each side, with its ratio to the reference's, named by `against`.
fn add_cpu(
    report: &mut Report,
    scenario: &str,
    cpu: CpuPerRun,
    against: Option<(&str, CpuPerRun)>,
) {
    let rows = [
        (
            "Redis CPU per run",
            Some(cpu.redis_us),
            against.map(|a| a.1.redis_us),
        ),
        (
            "RabbitMQ CPU per run",
            cpu.rabbitmq_us,
            against.and_then(|a| a.1.rabbitmq_us),
        ),
        (
            "chime-bench process CPU per run",
            Some(cpu.process_us),
            against.map(|a| a.1.process_us),
        ),
    ];
    for (metric, value, reference) in rows {
        let Some(value) = value else { continue };
        report.add(scenario, metric, value, "µs", "", None);
        if let Some(r) = reference {
            report.add(
                scenario,
                &format!("{metric}, ratio to the {}'s", against.map_or("", |a| a.0)),
                value / r,
                "×",
                "",
                None,
            );
        }
    }
}

/// A query kind's p50 and p99 at `readers` readers; with the raw page's p99, judged against
/// the page-read targets (≤ 5 ms and ≤ 3 × the raw page).
fn query_latency(report: &mut Report, readers: usize, name: &str, l: &Latency, raw: Option<f64>) {
    report.add(
        "query",
        &format!("{name} p50, {readers} readers"),
        l.p50_ms,
        "ms",
        "",
        None,
    );
    let (target, met) = match raw {
        Some(raw) => (
            "≤ 5 ms, ≤ 3× raw page",
            Some(l.p99_ms <= 5.0 && l.p99_ms <= 3.0 * raw),
        ),
        None => ("", None),
    };
    report.add(
        "query",
        &format!("{name} p99, {readers} readers"),
        l.p99_ms,
        "ms",
        target,
        met,
    );
}
