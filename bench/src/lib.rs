//! chime-bench: how many runs a chime cluster fires on time and how fast its run logs answer,
//! each figure beside what this machine can do at best, measured in the same run.
//!
//! Layout:
//! - [`Bench`]: a cluster of chime services in its own namespace on the local Redis and
//!   RabbitMQ (in-process), a local HTTP target, and an API client.
//! - [`baseline`]: the ideal pipeline without chime (publish with confirms to a quorum queue →
//!   consume → HTTP POST → XADD → ack), flat out or paced.
//! - the scenarios ([`scenarios`]): [`throughput`], [`lateness`], [`scale`], [`fairness`]; and
//!   [`query`] in a module of its own.
//! - [`Report`]: the figures as a table, JSON or Markdown.

pub mod baseline;
pub mod memory;
pub mod query;
pub mod scenarios;

use anyhow::{bail, Context};
use chime_runtime::config::Settings;
use serde_json::{json, Value};
use std::time::Duration;

pub use query::{query, QueryFigures};
pub use scenarios::{
    fairness, hostile, lateness, retries, scale, throughput, Cpu, CpuPerRun, Hostile, IoStall,
    Retries, Throughput,
};

const ADMIN: &str = "bench-admin-token";

/// The path jobs and the baselines call on the target.
pub const HOOK: &str = "/hook";

pub use chime_testkit::{Running, Target};

/// Percentiles of a sample, in milliseconds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(mut samples: Vec<f64>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Latency {
            count: samples.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: *samples.last().unwrap(),
        }
    }
}

/// What the bench runs against.
#[derive(Clone, Debug)]
pub struct Options {
    /// One Redis's URL, or a Redis Cluster's seed nodes (comma-separated) with `redis_cluster`.
    pub redis_url: String,
    pub redis_cluster: bool,
    pub amqp_url: String,
    /// Workers started in-process.
    pub workers: usize,
    /// Runs each worker executes at once (also the baseline's concurrency per consumer).
    pub concurrency: usize,
    /// Target latency.
    pub target_latency: Duration,
    /// Attach to a running API instead of starting a cluster: (URL, admin token).
    pub attach: Option<(String, String)>,
}

/// A chime cluster in its own namespace, a target and a client.
pub struct Bench {
    pub settings: Settings,
    pub api: String,
    admin: String,
    pub http: reqwest::Client,
    pub target: Target,
    services: Vec<Running>,
    scheduler: Option<Running>,
    pub opts: Options,
}

impl Bench {
    /// Starts the API, one scheduler and `opts.workers` workers in a fresh namespace (or
    /// attaches to a running API).
    pub async fn start(opts: &Options, with_scheduler: bool) -> anyhow::Result<Bench> {
        let namespace = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        // The bench's own settings first (the first of a name wins), then any other CHIME_*
        // setting of this process's environment, to try the services with other settings.
        let settings = Settings::load_from(
            vec![
                ("CHIME_NAMESPACE".into(), namespace),
                ("CHIME_REDIS_URL".into(), opts.redis_url.clone()),
                ("CHIME_REDIS_CLUSTER".into(), opts.redis_cluster.to_string()),
                ("CHIME_AMQP_URL".into(), opts.amqp_url.clone()),
                ("CHIME_ADMIN_TOKEN".into(), ADMIN.into()),
                ("CHIME_ALLOW_TARGETS".into(), "127.0.0.0/8".into()),
                ("CHIME_API_ADDR".into(), "127.0.0.1:0".into()),
                ("CHIME_OPS_ADDR".into(), "127.0.0.1:0".into()),
                (
                    "CHIME_WORKER_CONCURRENCY".into(),
                    opts.concurrency.to_string(),
                ),
                ("CHIME_SHUTDOWN_GRACE_SECS".into(), "2".into()),
                ("CHIME_RETENTION_SWEEP_SECS".into(), "100000".into()),
                // The scale scenario's million schedules are one tenant's.
                ("CHIME_TENANT_MAX_JOBS".into(), "0".into()),
                ("CHIME_TENANT_MAX_SCHEDULES".into(), "0".into()),
                // A keyring, so tenants have signing secrets and every call is signed, as in
                // an installation that sets one.
                (
                    "CHIME_SECRET_KEYS".into(),
                    chime_testkit::TEST_SECRET_KEYS.into(),
                ),
            ]
            .into_iter()
            .chain(std::env::vars().filter(|(k, _)| k.starts_with("CHIME_"))),
        )?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(64)
            .build()?;
        let target = Target::counting(opts.target_latency).await;
        let mut services = Vec::new();
        let mut scheduler = None;
        let (api, admin) = if let Some((url, token)) = &opts.attach {
            (url.trim_end_matches('/').to_string(), token.clone())
        } else {
            let api = chime_api::Api::build(settings.clone()).await?;
            let addr = api.local_addr();
            services.push(Running::spawn(|c| api.run(c)));
            if with_scheduler {
                let s = chime_scheduler::Scheduler::build(settings.clone()).await?;
                scheduler = Some(Running::spawn(|c| s.run(c)));
            }
            for _ in 0..opts.workers {
                let w = chime_worker::Worker::build(settings.clone()).await?;
                services.push(Running::spawn(|c| w.run(c)));
            }
            (format!("http://{addr}"), ADMIN.to_string())
        };
        Ok(Bench {
            settings,
            api,
            admin,
            http,
            target,
            services,
            scheduler,
            opts: opts.clone(),
        })
    }

    /// Starts an in-process scheduler (again).
    pub async fn start_scheduler(&mut self) -> anyhow::Result<()> {
        if self.scheduler.is_none() && self.opts.attach.is_none() {
            let s = chime_scheduler::Scheduler::build(self.settings.clone()).await?;
            self.scheduler = Some(Running::spawn(|c| s.run(c)));
        }
        Ok(())
    }

    /// Stops the in-process scheduler (it releases the lease), so another replica leads.
    pub async fn stop_scheduler(&mut self) {
        if let Some(s) = self.scheduler.take() {
            s.stop().await;
        }
    }

    /// Stops the services and deletes the namespace's keys and queues.
    pub async fn stop(mut self) {
        self.stop_scheduler().await;
        for s in self.services.drain(..) {
            s.stop().await;
        }
        purge(&self.settings).await;
    }

    /// A new tenant without a fire quota, and a read/write key of it: (tenant id, token).
    pub async fn tenant(&self, name: &str) -> anyhow::Result<(String, String)> {
        self.tenant_with_quota(name, 0).await
    }

    /// A new tenant allowed `runs_per_minute` fires (0: no limit), and an API key of it.
    pub async fn tenant_with_quota(
        &self,
        name: &str,
        runs_per_minute: u64,
    ) -> anyhow::Result<(String, String)> {
        let t = self
            .admin_call("POST", "/admin/tenants", json!({ "name": name }))
            .await?;
        let id = t["id"].as_str().context("tenant id")?.to_string();
        self.admin_call(
            "PUT",
            &format!("/admin/tenants/{id}"),
            json!({ "runsPerMinute": runs_per_minute }),
        )
        .await?;
        let k = self
            .admin_call(
                "POST",
                &format!("/admin/tenants/{id}/keys"),
                json!({"scopes": ["read", "write", "run-update"]}),
            )
            .await?;
        Ok((id, k["token"].as_str().context("token")?.to_string()))
    }

    async fn admin_call(&self, method: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .request(method.parse()?, format!("{}{}", self.api, path))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        let v: Value = resp.json().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {v}");
        }
        Ok(v)
    }

    /// A tenant API call; fails on a non-2xx answer.
    pub async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.parse()?, format!("{}{}", self.api, path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {path}: {status} {v}");
        }
        Ok(v)
    }

    /// Creates a job with `schedules` (at most 100); returns (job id, schedule ids).
    pub async fn job(
        &self,
        token: &str,
        name: &str,
        schedules: Vec<Value>,
    ) -> anyhow::Result<(u64, Vec<String>)> {
        let action = self.target.url(HOOK);
        self.job_to(token, name, &action, None, schedules).await
    }

    /// A job calling `action` (with its own timeout, if given); returns its id and its
    /// schedules' ids.
    pub async fn job_to(
        &self,
        token: &str,
        name: &str,
        action: &str,
        timeout_ms: Option<u64>,
        schedules: Vec<Value>,
    ) -> anyhow::Result<(u64, Vec<String>)> {
        let mut body = json!({
            "name": name, "description": "bench", "action": action,
            "active": true, "httpMethod": "POST", "schedules": schedules,
        });
        if let Some(ms) = timeout_ms {
            body["timeoutMs"] = json!(ms);
        }
        let v = self
            .call(token, "POST", "/scheduler/jobs", Some(body))
            .await?;
        let id = v["_id"].as_u64().context("job id")?;
        let sids = v["schedules"]
            .as_array()
            .context("schedules")?
            .iter()
            .filter_map(|s| s["scheduleId"].as_str().map(String::from))
            .collect();
        Ok((id, sids))
    }

    /// Stops all schedules of a job.
    pub async fn deactivate(&self, token: &str, job: u64) -> anyhow::Result<()> {
        self.call(
            token,
            "POST",
            &format!("/scheduler/jobs/{job}/schedules/activationStatus"),
            Some(json!({"activationStatus": false})),
        )
        .await?;
        Ok(())
    }
}

/// Deletes every Redis key and RabbitMQ queue and exchange of a namespace, the baseline's
/// queue included.
pub async fn purge(s: &Settings) {
    chime_testkit::purge(s, &[baseline::queue_name(&s.namespace)]).await;
}

/// A progress bar for a long phase.
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// The versions and machine facts printed with the figures.
pub async fn environment(opts: &Options) -> Value {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let redis_version = async {
        let client = redis::Client::open(opts.redis_url.as_str()).ok()?;
        let mut c = client.get_multiplexed_async_connection().await.ok()?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut c)
            .await
            .ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .map(|v| v.trim().to_string())
    }
    .await
    .unwrap_or_else(|| "unknown".into());
    // The broker's version as its own tool reports it (when it runs on this machine).
    let rabbit = std::process::Command::new("rabbitmqctl")
        .args(["version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        })
        .map(|kb| (kb / 1024.0 / 1024.0 * 10.0).round() / 10.0)
        .unwrap_or(0.0);
    json!({
        "chime_commit": commit,
        "redis": redis_version,
        "rabbitmq": rabbit,
        "cores": cores,
        "memory_gib": mem_gib,
        "workers": opts.workers,
        "concurrency_per_worker": opts.concurrency,
        "target_latency_ms": opts.target_latency.as_millis() as u64,
    })
}

/// The results of a bench run.
#[derive(Default)]
pub struct Report {
    pub environment: Value,
    /// (scenario, metric, value, unit, target, met)
    pub rows: Vec<(String, String, f64, String, String, Option<bool>)>,
    pub details: serde_json::Map<String, Value>,
}

impl Report {
    pub fn add(
        &mut self,
        scenario: &str,
        metric: &str,
        value: f64,
        unit: &str,
        target: &str,
        met: Option<bool>,
    ) {
        self.rows.push((
            scenario.into(),
            metric.into(),
            value,
            unit.into(),
            target.into(),
            met,
        ));
    }

    pub fn json(&self) -> Value {
        json!({
            "environment": self.environment,
            "results": self.rows.iter().map(|(s, m, v, u, t, met)| json!({
                "scenario": s, "metric": m, "value": v, "unit": u, "target": t, "met": met,
            })).collect::<Vec<_>>(),
            "details": self.details,
        })
    }

    fn lines(&self, md: bool) -> String {
        let mut out = String::new();
        let sep = if md { " | " } else { "  " };
        let row = |cells: [&str; 6]| {
            if md {
                format!("| {} |\n", cells.join(sep))
            } else {
                format!(
                    "{:<11}{sep}{:<34}{sep}{:>12}{sep}{:<8}{sep}{:<28}{sep}{}\n",
                    cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
                )
            }
        };
        out.push_str(&row([
            "scenario", "metric", "value", "unit", "target", "met",
        ]));
        if md {
            out.push_str("| --- | --- | ---: | --- | --- | --- |\n");
        }
        for (s, m, v, u, t, met) in &self.rows {
            let value = if v.abs() >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            };
            let met = match met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            out.push_str(&row([s, m, &value, u, t, met]));
        }
        out
    }

    pub fn table(&self) -> String {
        self.lines(false)
    }

    pub fn markdown(&self) -> String {
        format!(
            "Environment: `{}`\n\n{}",
            self.environment,
            self.lines(true)
        )
    }
}
