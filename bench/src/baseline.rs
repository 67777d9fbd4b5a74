//! The ceilings chime is measured against, built from the same parts without chime, at the same
//! concurrency, in this process.
//!
//! - [`Pipeline::Raw`], the baseline: publish with confirms to a quorum queue → consume with
//!   the same prefetch → HTTP POST to the same target → XADD to a Redis stream → ack.
//! - [`Pipeline::Batched`], the batched baseline: the same with up to [`RUNS_PER_MESSAGE`]
//!   runs to a message, as chime's leader packs them: a message's runs are POSTed side by side,
//!   their XADDs go in one pipeline, and the message is acked once.
//! - [`Pipeline::Contract`], the floor: the raw pipeline plus the Redis writes chime's
//!   delivery contract (docs/ARCHITECTURE.md) cannot do without, as plain pipelined commands:
//!   the producer takes the due schedules (ZRANGEBYSCORE), writes each run's record and its
//!   run-log index entry *before* publishing (HSET, PEXPIRE, XADD), publishes with confirms,
//!   and only then advances the schedules (ZADD); the consumer parses the run message, calls
//!   the target, writes the result into the record (HSET) and acks. No scripts, no checks, no
//!   fencing, no quotas: what any implementation of the contract pays at least.
//! - [`Pipeline::Indexed`], the indexed floor: the floor plus the run-log indexes chime's
//!   queries read, also as plain pipelined commands: per run the job's stream (XADD), the
//!   schedule's rank index (ZADD) and the job's build number (one HINCRBY per job and batch,
//!   one HSET of the numbers), and with the result the job's outcome index (ZADD). Still no
//!   scripts and no checks: what chime's run log costs at least on top of the contract.

use crate::{Latency, Options, Target};
use anyhow::Context;
use chime_core::model::{ActionSpec, RunMessage};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which ceiling to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipeline {
    /// Publish → consume → POST → XADD → ack.
    Raw,
    /// The raw pipeline with up to [`RUNS_PER_MESSAGE`] runs to a message.
    Batched,
    /// The raw pipeline with the writes of chime's delivery contract.
    Contract,
    /// The contract's writes and the run log's indexes.
    Indexed,
}

impl Pipeline {
    pub fn name(self) -> &'static str {
        match self {
            Pipeline::Raw => "baseline",
            Pipeline::Batched => "batched baseline",
            Pipeline::Contract => "floor",
            Pipeline::Indexed => "indexed floor",
        }
    }
}

/// Runs to a message of the batched baseline (chime's default `runs_per_message`).
pub const RUNS_PER_MESSAGE: usize = 16;

/// Schedules of one job in the indexed floor (as in chime's throughput scenario).
const SCHEDULES_PER_JOB: usize = 100;

/// Schedules the contract pipeline cycles through.
const CONTRACT_SCHEDULES: usize = 1_000;

pub fn queue_name(namespace: &str) -> String {
    format!("{namespace}.bench.baseline")
}

fn now_ms() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1000.0
}

/// The contract pipeline's message: a run message as the leader publishes it, and when it was
/// published (ms, for the publish → ack latency).
#[derive(Serialize, Deserialize)]
struct Envelope {
    sent: f64,
    run: RunMessage,
}

/// Redis keys of one pipeline's writes, under the bench namespace.
struct RedisKeys {
    stream: String,
    runs: String,
    records: String,
    due: String,
    /// `<prefix><job>` is a job's hash (run number counter); `:runs`, `:builds` and
    /// `:outcome:success` its indexes; `<prefix>s<n>:rank` a schedule's rank index.
    indexes: String,
}

impl RedisKeys {
    fn new(namespace: &str) -> RedisKeys {
        RedisKeys {
            stream: format!("{namespace}:bench:baseline"),
            runs: format!("{namespace}:bench:floor:runs"),
            records: format!("{namespace}:bench:floor:run:"),
            due: format!("{namespace}:bench:floor:due"),
            indexes: format!("{namespace}:bench:floor:ix:"),
        }
    }

    fn job_of(&self, schedule: &str) -> String {
        let n: usize = schedule[1..].parse().unwrap_or(0);
        format!("{}{}", self.indexes, n / SCHEDULES_PER_JOB)
    }
}

struct Consumers {
    done: Arc<AtomicU64>,
    latencies: Arc<Mutex<Vec<f64>>>,
    conns: Vec<lapin::Connection>,
}

async fn redis_conn(opts: &Options) -> anyhow::Result<MultiplexedConnection> {
    Ok(redis::Client::open(opts.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?)
}

async fn consumers(
    opts: &Options,
    target: &Target,
    namespace: &str,
    pipeline: Pipeline,
) -> anyhow::Result<Consumers> {
    let done = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let http = reqwest::Client::builder().no_proxy().build()?;
    let redis = redis_conn(opts).await?;
    let keys = Arc::new(RedisKeys::new(namespace));
    let mut conns = Vec::new();
    for i in 0..opts.workers {
        let conn = chime_broker::connect(&opts.amqp_url).await?;
        let ch = conn.create_channel().await?;
        declare(&ch, namespace).await?;
        ch.basic_qos(opts.concurrency as u16, BasicQosOptions::default())
            .await?;
        let mut consumer = ch
            .basic_consume(
                queue_name(namespace).as_str().into(),
                format!("baseline-{i}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let (http, redis, keys, url) = (
            http.clone(),
            redis.clone(),
            keys.clone(),
            target.url(crate::HOOK),
        );
        let (done, latencies) = (done.clone(), latencies.clone());
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                let (http, mut redis, keys, url) =
                    (http.clone(), redis.clone(), keys.clone(), url.clone());
                let (done, latencies) = (done.clone(), latencies.clone());
                tokio::spawn(async move {
                    let sent = match pipeline {
                        Pipeline::Raw | Pipeline::Batched => {
                            batched_message(&d.data, &http, &mut redis, &keys, &url).await
                        }
                        Pipeline::Contract | Pipeline::Indexed => {
                            let one =
                                contract_message(&d.data, &http, &mut redis, &keys, pipeline).await;
                            let Some(sent) = one else { return };
                            vec![sent]
                        }
                    };
                    if d.ack(BasicAckOptions::default()).await.is_ok() {
                        let now = now_ms();
                        let mut l = latencies.lock().unwrap();
                        l.extend(sent.iter().map(|s| now - s));
                        done.fetch_add(sent.len() as u64, Ordering::Relaxed);
                    }
                });
            }
        });
        conns.push(conn);
    }
    Ok(Consumers {
        done,
        latencies,
        conns,
    })
}

/// One message of the floors: the run's call, then its result written into its record (and,
/// for the indexed floor, its outcome index). Returns the run's publish instant.
async fn contract_message(
    body: &[u8],
    http: &reqwest::Client,
    redis: &mut MultiplexedConnection,
    keys: &RedisKeys,
    pipeline: Pipeline,
) -> Option<f64> {
    let e = serde_json::from_slice::<Envelope>(body).ok()?;
    let exec_at = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    let status = http
        .post(&e.run.action.url)
        .body(e.run.action.body.clone().unwrap_or_default())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    let mut p = redis::pipe();
    p.cmd("HSET")
        .arg(format!("{}{}", keys.records, e.run.run_id))
        .arg(&[
            ("status", "COMPLETED".to_string()),
            ("state", "SUCCESS".into()),
            ("outcome", "success".into()),
            ("http", status.to_string()),
            ("dur", started.elapsed().as_millis().to_string()),
            ("exec_at", exec_at.to_string()),
            ("done_at", chrono::Utc::now().timestamp_millis().to_string()),
        ])
        .ignore();
    if pipeline == Pipeline::Indexed {
        p.zadd(
            format!("{}:outcome:success", keys.job_of(&e.run.schedule_id)),
            &e.run.run_id,
            e.run.scheduled_at,
        )
        .ignore();
    }
    let _: Result<(), _> = p.query_async(redis).await;
    Some(e.sent)
}

/// One message of the baselines (one run, or up to [`RUNS_PER_MESSAGE`] in the batched one):
/// its runs' POSTs side by side, then one pipeline of their XADDs. Returns the runs' publish
/// instants.
async fn batched_message(
    body: &[u8],
    http: &reqwest::Client,
    redis: &mut MultiplexedConnection,
    keys: &RedisKeys,
    url: &str,
) -> Vec<f64> {
    let sent: Vec<f64> = std::str::from_utf8(body)
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let calls = sent.iter().map(|_| async {
        let _ = http
            .post(url)
            .body("{}")
            .send()
            .await
            .and_then(|r| r.error_for_status());
    });
    futures::future::join_all(calls).await;
    let mut p = redis::pipe();
    for s in &sent {
        p.cmd("XADD")
            .arg(&keys.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(100_000)
            .arg("*")
            .arg("r")
            .arg(*s)
            .ignore();
    }
    let _: Result<(), _> = p.query_async(redis).await;
    sent
}

async fn declare(ch: &lapin::Channel, namespace: &str) -> anyhow::Result<()> {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(
        queue_name(namespace).as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await?;
    Ok(())
}

/// The producer side: a confirming channel, and for the contract pipeline Redis and the due
/// schedules.
struct Producer {
    conn: lapin::Connection,
    ch: lapin::Channel,
    namespace: String,
    pipeline: Pipeline,
    redis: MultiplexedConnection,
    keys: RedisKeys,
    url: String,
}

impl Producer {
    async fn new(
        opts: &Options,
        target: &Target,
        namespace: &str,
        pipeline: Pipeline,
    ) -> anyhow::Result<Producer> {
        let conn = chime_broker::connect(&opts.amqp_url).await?;
        let ch = conn.create_channel().await?;
        declare(&ch, namespace).await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        let mut redis = redis_conn(opts).await?;
        let keys = RedisKeys::new(namespace);
        if matches!(pipeline, Pipeline::Contract | Pipeline::Indexed) {
            let mut p = redis::pipe();
            for s in 0..CONTRACT_SCHEDULES {
                p.zadd(&keys.due, format!("s{s}"), 0).ignore();
            }
            p.query_async::<()>(&mut redis).await?;
        }
        Ok(Producer {
            conn,
            ch,
            namespace: namespace.to_string(),
            pipeline,
            redis,
            keys,
            url: target.url(crate::HOOK),
        })
    }

    async fn publish(&self, body: &[u8]) -> anyhow::Result<lapin::PublisherConfirm> {
        Ok(self
            .ch
            .basic_publish(
                "".into(),
                queue_name(&self.namespace).as_str().into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?)
    }

    /// Fires `n` runs. The raw pipeline waits for their confirms only when `wait` says so
    /// (paced, it lets them arrive in the background as before); the contract needs them before
    /// it advances the schedules, so it always waits.
    async fn fire(&mut self, n: usize, wait: bool) -> anyhow::Result<()> {
        match self.pipeline {
            Pipeline::Raw => return self.fire_raw(n, wait, 1).await,
            Pipeline::Batched => return self.fire_raw(n, wait, RUNS_PER_MESSAGE).await,
            Pipeline::Contract | Pipeline::Indexed => {}
        }
        // The runs fall due now: their latency counts from here, like a chime run's from its
        // scheduled instant.
        let fired = now_ms();
        // Due schedules (the least recently fired first), their runs' records and index
        // entries, publish with confirms, then advance.
        let due: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(&self.keys.due)
            .arg(0)
            .arg(n as i64 - 1)
            .arg("WITHSCORES")
            .query_async(&mut self.redis)
            .await?;
        let now = chrono::Utc::now().timestamp_millis();
        let runs: Vec<RunMessage> = due.iter().map(|(s, _)| self.run_of(s, now)).collect();
        let numbers = if self.pipeline == Pipeline::Indexed {
            self.number(&runs).await?
        } else {
            Vec::new()
        };
        let mut p = redis::pipe();
        self.index(&mut p, &numbers, now);
        self.record(&mut p, &runs, now);
        p.query_async::<()>(&mut self.redis).await?;
        for run in runs {
            let body = serde_json::to_vec(&Envelope { sent: fired, run })?;
            self.publish(&body).await?;
        }
        self.ch.wait_for_confirms().await.context("confirms")?;
        let mut p = redis::pipe();
        for (sched, score) in &due {
            p.zadd(&self.keys.due, sched, score + 1.0).ignore();
        }
        p.query_async::<()>(&mut self.redis).await?;
        Ok(())
    }

    /// The raw pipelines' fire: `n` runs as bare messages of up to `per_message` publish
    /// instants each, nothing in Redis.
    async fn fire_raw(&mut self, n: usize, wait: bool, per_message: usize) -> anyhow::Result<()> {
        let mut left = n;
        while left > 0 {
            let k = left.min(per_message);
            left -= k;
            let body = vec![format!("{:.3}", now_ms()); k].join(",");
            let confirm = self.publish(body.as_bytes()).await?;
            if !wait {
                tokio::spawn(async move {
                    let _ = confirm.await;
                });
            }
        }
        if wait {
            self.ch.wait_for_confirms().await.context("confirms")?;
        }
        Ok(())
    }

    /// The run message of schedule `sched`'s fire at `now`.
    fn run_of(&self, sched: &str, now: i64) -> RunMessage {
        RunMessage {
            run_id: uuid::Uuid::new_v4().simple().to_string(),
            tenant: "bench".into(),
            job_id: 1,
            schedule_id: sched.to_string(),
            scheduled_at: now,
            owner: "floor".into(),
            epoch: 1,
            fresh: false,
            requested_by: None,
            retry: None,
            attempt: 1,
            first_call_at: None,
            retry_at: None,
            replaceable: false,
            notify: false,
            action: ActionSpec {
                url: self.url.clone(),
                method: chime_core::run::HttpMethod::Post,
                headers: vec![("content-type".into(), "application/json".into())],
                secret_headers: vec![],
                body: Some("{}".into()),
                timeout_ms: 30_000,
            },
        }
    }

    /// The indexed floor numbers the runs of each job with one HINCRBY per job and batch:
    /// (job, the number before the batch's first, its runs).
    async fn number<'a>(
        &mut self,
        runs: &'a [RunMessage],
    ) -> anyhow::Result<Vec<(String, i64, Vec<&'a RunMessage>)>> {
        let mut numbers: Vec<(String, i64, Vec<&RunMessage>)> = Vec::new();
        for r in runs {
            let job = self.keys.job_of(&r.schedule_id);
            match numbers.iter_mut().find(|(j, _, _)| *j == job) {
                Some((_, _, rs)) => rs.push(r),
                None => numbers.push((job, 0, vec![r])),
            }
        }
        let mut p = redis::pipe();
        for (job, _, rs) in &numbers {
            p.cmd("HINCRBY").arg(job).arg("seq").arg(rs.len());
        }
        let last: Vec<i64> = p.query_async(&mut self.redis).await?;
        for ((_, n, rs), last) in numbers.iter_mut().zip(last) {
            *n = last - rs.len() as i64;
        }
        Ok(numbers)
    }

    /// The indexed floor's index entries: build numbers, the job's stream, the schedule's rank.
    fn index(
        &self,
        p: &mut redis::Pipeline,
        numbers: &[(String, i64, Vec<&RunMessage>)],
        now: i64,
    ) {
        for (job, first, rs) in numbers {
            let builds = p.cmd("HSET");
            builds.arg(format!("{job}:builds"));
            for (k, r) in rs.iter().enumerate() {
                builds.arg(first + k as i64 + 1).arg(&r.run_id);
            }
            builds.ignore();
            for (k, r) in rs.iter().enumerate() {
                let rank = now * 1024 + (k % 1024) as i64;
                p.cmd("XADD")
                    .arg(format!("{job}:runs"))
                    .arg("*")
                    .arg("r")
                    .arg(&r.run_id)
                    .arg("s")
                    .arg(&r.schedule_id)
                    .arg("n")
                    .arg(first + k as i64 + 1)
                    .ignore()
                    .zadd(
                        format!("{}{}:rank", self.keys.indexes, r.schedule_id),
                        &r.run_id,
                        rank,
                    )
                    .ignore();
            }
        }
    }

    /// The floor's record of each run, with its TTL and its stream entry.
    fn record(&self, p: &mut redis::Pipeline, runs: &[RunMessage], now: i64) {
        for r in runs {
            let record = format!("{}{}", self.keys.records, r.run_id);
            p.cmd("HSET")
                .arg(&record)
                .arg(&[
                    ("id", r.run_id.clone()),
                    ("tenant", r.tenant.clone()),
                    ("job", r.job_id.to_string()),
                    ("sched", r.schedule_id.clone()),
                    ("sched_at", r.scheduled_at.to_string()),
                    ("created", now.to_string()),
                    ("status", "SCHEDULED".into()),
                    ("state", "SCHEDULED".into()),
                ])
                .ignore()
                .cmd("PEXPIRE")
                .arg(&record)
                .arg(86_400_000)
                .ignore()
                .cmd("XADD")
                .arg(&self.keys.runs)
                .arg("MAXLEN")
                .arg("~")
                .arg(100_000)
                .arg("*")
                .arg("r")
                .arg(&r.run_id)
                .ignore();
        }
    }

    async fn close(self) {
        let _ = self.conn.close(200, "done".into()).await;
    }
}

async fn wait_for(done: &AtomicU64, n: u64, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while done.load(Ordering::Relaxed) < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "baseline: only {} of {n} acked in {within:?}",
            done.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Flat out: `n` messages as fast as the pipeline takes them. Returns runs per second.
pub async fn flat_out(
    opts: &Options,
    target: &Target,
    namespace: &str,
    n: u64,
    pipeline: Pipeline,
) -> anyhow::Result<f64> {
    let c = consumers(opts, target, namespace, pipeline).await?;
    let mut producer = Producer::new(opts, target, namespace, pipeline).await?;
    let bar = crate::progress(n, pipeline.name());
    let started = Instant::now();
    let mut sent = 0;
    while sent < n {
        let batch = (n - sent).min(500);
        producer.fire(batch as usize, true).await?;
        sent += batch;
        bar.set_position(c.done.load(Ordering::Relaxed));
    }
    wait_for(&c.done, n, Duration::from_secs(600)).await?;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    close(producer, c.conns).await;
    Ok(rate)
}

/// Paced: `rate` messages a second for `duration`; publish → ack latency.
pub async fn paced(
    opts: &Options,
    target: &Target,
    namespace: &str,
    rate: f64,
    duration: Duration,
    pipeline: Pipeline,
) -> anyhow::Result<Latency> {
    let c = consumers(opts, target, namespace, pipeline).await?;
    let mut producer = Producer::new(opts, target, namespace, pipeline).await?;
    let tick = Duration::from_millis(10);
    let per_tick = rate / 100.0;
    let started = Instant::now();
    let mut owed = 0.0;
    let mut sent: u64 = 0;
    let mut interval = tokio::time::interval(tick);
    while started.elapsed() < duration {
        interval.tick().await;
        owed += per_tick;
        let n = owed.floor();
        if n >= 1.0 {
            producer.fire(n as usize, false).await?;
            owed -= n;
            sent += n as u64;
        }
    }
    wait_for(&c.done, sent, Duration::from_secs(120)).await?;
    let samples = std::mem::take(&mut *c.latencies.lock().unwrap());
    close(producer, c.conns).await;
    Ok(Latency::of(samples))
}

async fn close(p: Producer, conns: Vec<lapin::Connection>) {
    p.close().await;
    for c in conns {
        let _ = c.close(200, "done".into()).await;
    }
}
