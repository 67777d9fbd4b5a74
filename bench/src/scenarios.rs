//! The scenarios. Each drives load through chime's public API and reads its figures back
//! through the API and the target's counter, as a user would see them.

use crate::{progress, Bench, Latency};
use anyhow::Context;
use futures::stream::{self, StreamExt};
use rand::Rng;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(crate) fn ms(v: &Value) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Creates `count` schedules (100 per job) from `make(i)`, 8 API calls at a time. Returns the
/// job ids with their schedule ids.
pub(crate) async fn create_schedules(
    b: &Bench,
    token: &str,
    count: usize,
    prefix: &str,
    make: impl Fn(usize) -> Value,
) -> anyhow::Result<Vec<(u64, Vec<String>)>> {
    let jobs = count.div_ceil(100);
    let bar = progress(jobs as u64, &format!("{prefix}: jobs"));
    let bodies: Vec<(String, Vec<Value>)> = (0..jobs)
        .map(|j| {
            let n = (count - j * 100).min(100);
            (
                format!("{prefix}-{j}"),
                (0..n).map(|i| make(j * 100 + i)).collect(),
            )
        })
        .collect();
    let created: Vec<anyhow::Result<(u64, Vec<String>)>> = stream::iter(bodies)
        .map(|(name, scheds)| {
            let bar = bar.clone();
            async move {
                let r = b.job(token, &name, scheds).await;
                bar.inc(1);
                r
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    bar.finish_and_clear();
    created.into_iter().collect()
}

async fn deactivate_all(b: &Bench, token: &str, jobs: &[(u64, Vec<String>)]) {
    stream::iter(jobs)
        .for_each_concurrent(8, |(j, _)| async move {
            let _ = b.deactivate(token, *j).await;
        })
        .await;
}

/// The total of the tenant's run log (Losant's list answers it from the stream length).
async fn tenant_runs(b: &Bench, tenant: &str, token: &str) -> anyhow::Result<u64> {
    let v = b
        .call(
            token,
            "GET",
            &format!("/applications/{tenant}/jobLogs?perPage=1"),
            None,
        )
        .await?;
    v["totalCount"].as_u64().context("totalCount")
}

/// Throughput: `offered` interval schedules firing every second (more than the cluster can take);
/// recorded runs per second over `window`, after a warm-up.
/// Returns the target's hits, the run log's growth and the CPU per run logged in the window.
pub async fn throughput(b: &Bench, offered: usize, window: Duration) -> anyhow::Result<Throughput> {
    let (tenant, token) = b.tenant("throughput").await?;
    let jobs = create_schedules(
        b,
        &token,
        offered,
        "tp",
        |_| json!({"repeatInterval": "1 second", "active": true}),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await; // warm-up: let the pipeline fill
    let url = &b.settings.redis_url;
    let (h0, r0, c0, t0) = (
        b.target.count(),
        tenant_runs(b, &tenant, &token).await?,
        Cpu::read(url).await?,
        Instant::now(),
    );
    tokio::time::sleep(window).await;
    let (h1, r1, c1) = (
        b.target.count(),
        tenant_runs(b, &tenant, &token).await?,
        Cpu::read(url).await?,
    );
    let secs = t0.elapsed().as_secs_f64();
    deactivate_all(b, &token, &jobs).await;
    Ok(Throughput {
        hits_per_s: (h1 - h0) as f64 / secs,
        logged_per_s: (r1 - r0) as f64 / secs,
        cpu: c1.since(&c0, r1 - r0),
    })
}

/// Retries: `offered` schedules firing every second, whose job retries failed calls
/// (`retryCount` 3, waits of up to 1–2 s), against a target of their own that fails every
/// second call with a 503. Over `window`, after a warm-up that lets retries reach their steady
/// state: finished runs per second, and calls per finished run.
pub async fn retries(b: &Bench, offered: usize, window: Duration) -> anyhow::Result<Retries> {
    let target = crate::Target::counting(Duration::ZERO).await;
    target.fail_every(2);
    let (tenant, token) = b.tenant("retries").await?;
    let policy = json!({"retryCount": 3, "minBackoffSeconds": 1, "maxBackoffSeconds": 2});
    let mut jobs = Vec::new();
    for j in 0..offered.div_ceil(100) {
        let n = (offered - j * 100).min(100);
        let schedules: Vec<Value> = (0..n)
            .map(|_| json!({"repeatInterval": "1 second", "active": true}))
            .collect();
        let body = json!({
            "name": format!("rt-{j}"), "description": "bench", "action": target.url(crate::HOOK),
            "active": true, "httpMethod": "POST", "retryPolicy": policy, "schedules": schedules,
        });
        let v = b
            .call(&token, "POST", "/scheduler/jobs", Some(body))
            .await?;
        jobs.push((v["_id"].as_u64().context("the job's _id")?, vec![]));
    }
    tokio::time::sleep(Duration::from_secs(5)).await; // warm-up: retries reach their steady state
    let (h0, r0, t0) = (
        target.count(),
        tenant_runs(b, &tenant, &token).await?,
        Instant::now(),
    );
    tokio::time::sleep(window).await;
    let (h1, r1) = (target.count(), tenant_runs(b, &tenant, &token).await?);
    let secs = t0.elapsed().as_secs_f64();
    deactivate_all(b, &token, &jobs).await;
    let finished = r1.saturating_sub(r0);
    Ok(Retries {
        finished_per_s: finished as f64 / secs,
        calls_per_run: (h1 - h0) as f64 / finished.max(1) as f64,
    })
}

/// What the retries scenario measured.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    /// Runs finished (recorded after their last attempt), per second.
    pub finished_per_s: f64,
    /// Calls the target received per finished run (2 when every second call fails and every
    /// run ends in success).
    pub calls_per_run: f64,
}

/// What the throughput scenario measured.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Calls the target received, per second.
    pub hits_per_s: f64,
    /// Growth of the tenant's run log, per second.
    pub logged_per_s: f64,
    /// CPU per logged run.
    pub cpu: CpuPerRun,
}

/// Lateness at a steady `rate` (runs per second, as that many schedules firing every
/// second, their first fires spread evenly over a second) for `duration`: from each run's
/// scheduled instant to the start of its HTTP call and to its record, from the run log.
pub async fn lateness(
    b: &Bench,
    rate: usize,
    duration: Duration,
    name: &str,
) -> anyhow::Result<(Latency, Latency)> {
    let (_, token) = b.tenant(name).await?;
    let first = chrono::Utc::now().timestamp_millis() + 3000;
    let jobs = create_schedules(b, &token, rate, name, |i| {
        let at = first + (i * 1000 / rate) as i64;
        json!({"repeatInterval": "1 second", "active": true,
            "startTime": chime_core::time::format_instant(at)})
    })
    .await?;
    // Measure after a second of warm-up past the first fires.
    let start = first + 1000;
    let wait = (start - chrono::Utc::now().timestamp_millis()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait) + duration).await;
    let end = chrono::Utc::now().timestamp_millis();
    deactivate_all(b, &token, &jobs).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // in-flight runs finish
    let (starts, records) = collect_lateness(b, &token, &jobs, start, end).await?;
    Ok((Latency::of(starts), Latency::of(records)))
}

async fn collect_lateness(
    b: &Bench,
    token: &str,
    jobs: &[(u64, Vec<String>)],
    from: i64,
    to: i64,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let pairs: Vec<(u64, String)> = jobs
        .iter()
        .flat_map(|(j, s)| s.iter().map(move |sid| (*j, sid.clone())))
        .collect();
    let bar = progress(pairs.len() as u64, "reading run logs");
    let pages: Vec<anyhow::Result<Value>> = stream::iter(pairs)
        .map(|(j, sid)| {
            let bar = bar.clone();
            async move {
                let r = b
                    .call(
                        token,
                        "GET",
                        &format!("/scheduler/jobs/{j}/schedules/{sid}/runs?page_size=200"),
                        None,
                    )
                    .await;
                bar.inc(1);
                r
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    bar.finish_and_clear();
    let (mut starts, mut records) = (Vec::new(), Vec::new());
    for page in pages {
        for r in page?["results"].as_array().into_iter().flatten() {
            let Some(sched) = ms(&r["scheduleTimestamp"]) else {
                continue;
            };
            if sched < from || sched > to {
                continue;
            }
            if let Some(exec) = ms(&r["executionTimestamp"]) {
                starts.push((exec - sched) as f64);
            }
            if let Some(done) = ms(&r["completionTimestamp"]) {
                records.push((done - sched) as f64);
            }
        }
    }
    Ok((starts, records))
}

/// Scale: `count` schedules, each firing once an hour at a random minute and second (so about
/// count/3600 fire each second). Returns (seconds to load, Redis memory added in MiB, leader RSS
/// in MiB if a separate scheduler process was measured, lateness of the fires in `observe`).
pub async fn scale(
    b: &mut Bench,
    count: usize,
    observe: Duration,
) -> anyhow::Result<(f64, f64, Option<f64>, Latency)> {
    let redis_before = redis_used_mib(&b.settings.redis_url).await?;
    let (tenant, token) = b.tenant("scale").await?;
    let started = Instant::now();
    let jobs = create_schedules(b, &token, count, "scale", |_| {
        let mut rng = rand::rng();
        json!({"cron": format!("* * * * * {} {}", rng.random_range(0..60), rng.random_range(0..60)), "active": true})
    })
    .await?;
    let load = started.elapsed().as_secs_f64();
    let redis_mib = redis_used_mib(&b.settings.redis_url).await? - redis_before;

    // The leader as its own process, so its memory is its own: the in-process scheduler steps
    // down (releasing the lease) when a separate one can be started.
    let mut leader = spawn_scheduler(b)?;
    if leader.is_some() {
        b.stop_scheduler().await;
    }
    let from = chrono::Utc::now().timestamp_millis() + 3000;
    tokio::time::sleep(observe + Duration::from_secs(3)).await;
    let to = chrono::Utc::now().timestamp_millis();
    let rss = leader.as_ref().and_then(|c| c.id()).and_then(rss_mib);
    if let Some(c) = leader.as_mut() {
        let _ = c.start_kill();
        let _ = c.wait().await;
        b.start_scheduler().await?;
    }
    // Fires of the window, from the tenant-wide run log (newest first).
    let mut lat = Vec::new();
    let mut page = 0;
    'pages: loop {
        let v = b
            .call(
                &token,
                "GET",
                &format!(
                    "/applications/{tenant}/jobLogs?perPage=1000&sortDirection=desc&page={page}"
                ),
                None,
            )
            .await?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for it in &items {
            let (Some(sched), Some(start)) = (ms(&it["scheduledAt"]), ms(&it["runStartedAt"]))
            else {
                continue;
            };
            if sched < from {
                break 'pages;
            }
            if sched <= to {
                lat.push((start - sched) as f64);
            }
        }
        page += 1;
    }
    deactivate_all(b, &token, &jobs).await;
    Ok((load, redis_mib, rss, Latency::of(lat)))
}

fn spawn_scheduler(b: &Bench) -> anyhow::Result<Option<tokio::process::Child>> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("chime-scheduler");
    if !bin.exists() {
        return Ok(None);
    }
    let s = &b.settings;
    let child = tokio::process::Command::new(bin)
        .env("CHIME_NAMESPACE", &s.namespace)
        .env("CHIME_REDIS_URL", &s.redis_url)
        .env("CHIME_AMQP_URL", &s.amqp_url)
        .env("CHIME_OPS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    Ok(Some(child))
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Numeric fields of one section of Redis's `INFO`, in the order asked.
async fn redis_info(url: &str, section: &str, names: &[&str]) -> anyhow::Result<Vec<f64>> {
    let mut c = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let info: String = redis::cmd("INFO").arg(section).query_async(&mut c).await?;
    names
        .iter()
        .map(|name| {
            Ok(info
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .with_context(|| name.to_string())?
                .trim()
                .parse()?)
        })
        .collect()
}

/// CPU used so far by the Redis server (user and system, all its threads, from `INFO cpu`)
/// and by this process (from `/proc/self/stat`: the in-process cluster or pipeline, the
/// target and the client). Two readings divided by the runs between them give each one's cost
/// per run, steadier than a rate on a shared machine.
#[derive(Debug, Clone, Copy)]
pub struct Cpu {
    redis_s: f64,
    process_s: f64,
    broker_s: Option<f64>,
}

/// Microseconds of CPU per run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CpuPerRun {
    pub redis_us: f64,
    pub process_us: f64,
    /// RabbitMQ's, when its process runs on this machine (and is visible in `/proc`).
    pub rabbitmq_us: Option<f64>,
}

impl Cpu {
    /// Reads the CPU so far; `redis_url` may list several servers (a cluster's masters,
    /// comma-separated), whose CPU adds up.
    pub async fn read(redis_url: &str) -> anyhow::Result<Cpu> {
        let mut redis_s = 0.0;
        for url in chime_core::url_list(redis_url) {
            let cpu = redis_info(url, "cpu", &["used_cpu_user", "used_cpu_sys"]).await?;
            redis_s += cpu.iter().sum::<f64>();
        }
        Ok(Cpu {
            redis_s,
            process_s: process_cpu_s()?,
            broker_s: broker_cpu_s(),
        })
    }

    /// The CPU used since `earlier`, per run of the `runs` between the two readings.
    pub fn since(&self, earlier: &Cpu, runs: u64) -> CpuPerRun {
        let per_run = |s: f64| s * 1e6 / runs.max(1) as f64;
        CpuPerRun {
            redis_us: per_run(self.redis_s - earlier.redis_s),
            process_us: per_run(self.process_s - earlier.process_s),
            rabbitmq_us: match (self.broker_s, earlier.broker_s) {
                (Some(now), Some(then)) if now >= then => Some(per_run(now - then)),
                _ => None,
            },
        }
    }
}

/// This process's user and system CPU seconds: fields 14 and 15 of `/proc/self/stat`, in clock
/// ticks of 1/100 s (Linux's fixed `USER_HZ`), counted after the command name, which may hold
/// spaces.
fn process_cpu_s() -> anyhow::Result<f64> {
    stat_cpu_s("/proc/self/stat")
}

/// The user and system CPU seconds of the process whose `stat` file is at `path`.
fn stat_cpu_s(path: impl AsRef<std::path::Path>) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(path)?;
    let after_name = stat.rsplit_once(')').context("/proc/<pid>/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks: f64 = fields
        .get(11..13)
        .context("/proc/<pid>/stat: utime, stime")?
        .iter()
        .map(|f| f.parse::<f64>())
        .sum::<Result<f64, _>>()?;
    Ok(ticks / 100.0)
}

/// The CPU seconds of the RabbitMQ broker on this machine: of the Erlang VMs (`beam.smp`) that
/// run `rabbit`, the one that has used the most (a `rabbitmqctl` running meanwhile is one too).
fn broker_cpu_s() -> Option<f64> {
    let dir = std::fs::read_dir("/proc").ok()?;
    dir.flatten()
        .filter_map(|e| {
            e.file_name().to_str()?.parse::<u32>().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            if comm.trim() != "beam.smp" || !String::from_utf8_lossy(&cmdline).contains("rabbit") {
                return None;
            }
            stat_cpu_s(e.path().join("stat")).ok()
        })
        .reduce(f64::max)
}

/// The share of a phase's time in which every task of the machine was stalled on I/O (the
/// kernel's pressure stall information, `full` line of `/proc/pressure/io`). RabbitMQ syncs its
/// quorum queue's log for every confirm: where the disk stalls, confirms and deliveries stall
/// with it, and a latency percentile follows the stalls more than the software.
#[derive(Debug, Clone, Copy)]
pub struct IoStall {
    at: Instant,
    stalled_us: Option<u64>,
}

impl IoStall {
    pub fn start() -> IoStall {
        IoStall {
            at: Instant::now(),
            stalled_us: io_stalled_us(),
        }
    }

    /// Percent of the time since [`IoStall::start`] stalled on I/O; `None` where the kernel
    /// does not report it.
    pub fn share(&self) -> Option<f64> {
        let us = io_stalled_us()?.checked_sub(self.stalled_us?)?;
        Some(us as f64 / 1e4 / self.at.elapsed().as_secs_f64().max(1e-3))
    }
}

fn io_stalled_us() -> Option<u64> {
    full_stall_total(&std::fs::read_to_string("/proc/pressure/io").ok()?)
}

/// The `total=` of the `full` line of a pressure file (microseconds).
fn full_stall_total(pressure: &str) -> Option<u64> {
    let full = pressure.lines().find(|l| l.starts_with("full "))?;
    full.split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

pub(crate) async fn redis_used_mib(url: &str) -> anyhow::Result<f64> {
    Ok(redis_info(url, "memory", &["used_memory"]).await?[0] / 1024.0 / 1024.0)
}

/// The figures of the query scenario.
/// Fairness: a steady tenant's lateness alone, then while another tenant floods at 10 times
/// its rate. Returns (alone, during the flood).
pub async fn fairness(
    b: &Bench,
    steady_rate: usize,
    duration: Duration,
) -> anyhow::Result<(Latency, Latency)> {
    let (alone, _) = lateness(b, steady_rate, duration, "steady-alone").await?;
    // The flooding tenant's quota is the steady rate; it offers ten times that.
    let (_, flood_token) = b
        .tenant_with_quota("flood", steady_rate as u64 * 60)
        .await?;
    let flood = create_schedules(
        b,
        &flood_token,
        steady_rate * 10,
        "flood",
        |_| json!({"repeatInterval": "1 second", "active": true}),
    )
    .await?;
    let (with_flood, _) = lateness(b, steady_rate, duration, "steady-flooded").await?;
    deactivate_all(b, &flood_token, &flood).await;
    Ok((alone, with_flood))
}

/// What the hostile scenario measured: the healthy tenant's lateness alone and beside the
/// hostile tenant, and the most calls the hostile tenant held at once.
pub struct Hostile {
    pub alone: Latency,
    pub beside: Latency,
    pub hostile_calls_at_once: usize,
    pub hostile_schedules: usize,
}

/// Hostile: a healthy tenant's lateness alone, then beside a tenant whose schedules (twice all
/// the workers' slots, each firing every second) call endpoints that never answer, drip a byte
/// a second or answer 10 GB, at the longest timeout (600 s).
pub async fn hostile(b: &Bench, rate: usize, duration: Duration) -> anyhow::Result<Hostile> {
    let (alone, _) = lateness(b, rate, duration, "healthy-alone").await?;
    let bad = chime_testkit::Hostile::start().await;
    let (_, token) = b.tenant("hostile").await?;
    let count = 2 * b.opts.workers.max(1) * b.settings.worker_concurrency;
    let mut jobs = vec![];
    for (path, share) in [("/hang", 2), ("/drip", 1), ("/huge", 1)] {
        let n = count * share / 4;
        for (k, start) in (0..n).step_by(100).enumerate() {
            let schedules: Vec<Value> = (start..n.min(start + 100))
                .map(|_| json!({"repeatInterval": "1 second", "active": true}))
                .collect();
            let name = format!("{}-{k}", &path[1..]);
            let job = b
                .job_to(&token, &name, &bad.url(path), Some(600_000), schedules)
                .await?;
            jobs.push(job);
        }
    }
    let (beside, _) = lateness(b, rate, duration, "healthy-beside").await?;
    deactivate_all(b, &token, &jobs).await;
    let held = bad.most_in_flight();
    bad.release();
    Ok(Hostile {
        alone,
        beside,
        hostile_calls_at_once: held,
        hostile_schedules: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_io_stall_total_is_read_from_the_full_line() {
        let sample = "some avg10=7.27 avg60=7.29 avg300=5.66 total=186081937\n\
                      full avg10=3.72 avg60=4.60 avg300=3.69 total=132942712\n";
        assert_eq!(full_stall_total(sample), Some(132_942_712));
        assert_eq!(full_stall_total("some avg10=0.00 total=5\n"), None);
    }

    #[test]
    fn the_process_cpu_reading_grows_with_work() {
        let start = process_cpu_s().unwrap();
        assert!(start >= 0.0);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut x = 0u64;
        while process_cpu_s().unwrap() <= start {
            assert!(Instant::now() < deadline, "no CPU time counted in 10 s");
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
    }
}
