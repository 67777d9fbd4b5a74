//! The ceiling: the pipeline chime implements, without chime. Publish with confirms to a
//! quorum queue → consume with the same prefetch → HTTP POST to the same target → XADD to a
//! Redis stream → ack, at the same concurrency, in this process.

use crate::{Latency, Options, Target};
use anyhow::Context;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn queue_name(namespace: &str) -> String {
    format!("{namespace}.bench.baseline")
}

fn now_ms() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1000.0
}

struct Consumers {
    done: Arc<AtomicU64>,
    latencies: Arc<Mutex<Vec<f64>>>,
    conns: Vec<lapin::Connection>,
}

async fn consumers(opts: &Options, target: &Target, namespace: &str) -> anyhow::Result<Consumers> {
    let done = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let http = reqwest::Client::builder().no_proxy().build()?;
    let redis = redis::Client::open(opts.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let stream = format!("{namespace}:bench:baseline");
    let mut conns = Vec::new();
    for i in 0..opts.workers {
        let conn = chime_shared::broker::connect(&opts.amqp_url).await?;
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
        let (http, redis, stream, url) =
            (http.clone(), redis.clone(), stream.clone(), target.url());
        let (done, latencies) = (done.clone(), latencies.clone());
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                let (http, mut redis, stream, url) =
                    (http.clone(), redis.clone(), stream.clone(), url.clone());
                let (done, latencies) = (done.clone(), latencies.clone());
                tokio::spawn(async move {
                    let sent: f64 = std::str::from_utf8(&d.data)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0.0);
                    let _ = http
                        .post(&url)
                        .body("{}")
                        .send()
                        .await
                        .and_then(|r| r.error_for_status());
                    let _: Result<String, _> = redis::cmd("XADD")
                        .arg(&stream)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(100_000)
                        .arg("*")
                        .arg("r")
                        .arg(sent)
                        .query_async(&mut redis)
                        .await;
                    if d.ack(BasicAckOptions::default()).await.is_ok() {
                        latencies.lock().unwrap().push(now_ms() - sent);
                        done.fetch_add(1, Ordering::Relaxed);
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

async fn publisher(
    opts: &Options,
    namespace: &str,
) -> anyhow::Result<(lapin::Connection, lapin::Channel)> {
    let conn = chime_shared::broker::connect(&opts.amqp_url).await?;
    let ch = conn.create_channel().await?;
    declare(&ch, namespace).await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok((conn, ch))
}

async fn publish(ch: &lapin::Channel, namespace: &str) -> anyhow::Result<lapin::PublisherConfirm> {
    let body = format!("{:.3}", now_ms());
    Ok(ch
        .basic_publish(
            "".into(),
            queue_name(namespace).as_str().into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await?)
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
) -> anyhow::Result<f64> {
    let c = consumers(opts, target, namespace).await?;
    let (pconn, ch) = publisher(opts, namespace).await?;
    let bar = crate::progress(n, "baseline");
    let started = Instant::now();
    let mut sent = 0;
    while sent < n {
        let batch = (n - sent).min(500);
        for _ in 0..batch {
            publish(&ch, namespace).await?;
        }
        ch.wait_for_confirms().await.context("confirms")?;
        sent += batch;
        bar.set_position(c.done.load(Ordering::Relaxed));
    }
    wait_for(&c.done, n, Duration::from_secs(600)).await?;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    close(pconn, c.conns).await;
    Ok(rate)
}

/// Paced: `rate` messages a second for `duration`; publish → ack latency.
pub async fn paced(
    opts: &Options,
    target: &Target,
    namespace: &str,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Latency> {
    let c = consumers(opts, target, namespace).await?;
    let (pconn, ch) = publisher(opts, namespace).await?;
    let tick = Duration::from_millis(10);
    let per_tick = rate / 100.0;
    let started = Instant::now();
    let mut owed = 0.0;
    let mut sent: u64 = 0;
    let mut interval = tokio::time::interval(tick);
    while started.elapsed() < duration {
        interval.tick().await;
        owed += per_tick;
        while owed >= 1.0 {
            let confirm = publish(&ch, namespace).await?;
            tokio::spawn(async move {
                let _ = confirm.await;
            });
            owed -= 1.0;
            sent += 1;
        }
    }
    wait_for(&c.done, sent, Duration::from_secs(120)).await?;
    let samples = std::mem::take(&mut *c.latencies.lock().unwrap());
    close(pconn, c.conns).await;
    Ok(Latency::of(samples))
}

async fn close(p: lapin::Connection, conns: Vec<lapin::Connection>) {
    let _ = p.close(200, "done".into()).await;
    for c in conns {
        let _ = c.close(200, "done".into()).await;
    }
}
