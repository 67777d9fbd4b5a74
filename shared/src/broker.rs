//! RabbitMQ: the runs topology, a confirming publisher and a consumer connection.
//!
//! Topology (names from [`Keys`]): a durable direct exchange `<ns>.runs` bound to the quorum
//! queue `<ns>.runs`, which dead-letters a run after `delivery_limit` deliveries to the fanout
//! exchange `<ns>.runs.dlx` and its quorum queue `<ns>.runs.dead`. Everything is declared
//! idempotently by every service on connect.
//!
//! Connections are rebuilt by their users: [`Publisher`] reconnects on the next publish after
//! a failure; the worker's consume loop reconnects with backoff.

use crate::keys::Keys;
use crate::model::RunMessage;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind, PublisherConfirm,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

pub use lapin::message::Delivery;
pub use lapin::options::{BasicAckOptions, BasicNackOptions};
pub use lapin::Consumer;

/// Routing key of run messages.
pub const RUN_ROUTING_KEY: &str = "run";

/// A broker failure.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("amqp: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("run {0} was not confirmed by the broker (nack)")]
    Nacked(String),
    #[error("run {0} was returned unroutable")]
    Unroutable(String),
    #[error("connecting to the broker timed out")]
    Timeout,
}

/// Names and limits of the runs topology.
#[derive(Clone, Debug)]
pub struct Topology {
    pub keys: Keys,
    pub delivery_limit: u32,
}

fn s(v: &str) -> ShortString {
    v.into()
}

/// Opens a connection (bounded in time, so a dead broker is an error, not a hang).
pub async fn connect(url: &str) -> Result<Connection, BrokerError> {
    let props = ConnectionProperties::default();
    tokio::time::timeout(Duration::from_secs(5), Connection::connect(url, props))
        .await
        .map_err(|_| BrokerError::Timeout)?
        .map_err(BrokerError::from)
}

impl Topology {
    /// Declares exchanges, queues and bindings (idempotent).
    pub async fn declare(&self, ch: &Channel) -> Result<(), BrokerError> {
        let k = &self.keys;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            s(&k.dead_exchange()),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
        let mut quorum = FieldTable::default();
        quorum.insert(s("x-queue-type"), AMQPValue::LongString("quorum".into()));
        let qopts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.queue_declare(s(&k.dead_queue()), qopts, quorum.clone())
            .await?;
        ch.queue_bind(
            s(&k.dead_queue()),
            s(&k.dead_exchange()),
            s(""),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

        ch.exchange_declare(
            s(&k.runs_exchange()),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
        let mut args = quorum;
        args.insert(
            s("x-delivery-limit"),
            AMQPValue::LongLongInt(self.delivery_limit as i64),
        );
        args.insert(
            s("x-dead-letter-exchange"),
            AMQPValue::LongString(k.dead_exchange().into()),
        );
        ch.queue_declare(s(&k.runs_queue()), qopts, args).await?;
        ch.queue_bind(
            s(&k.runs_queue()),
            s(&k.runs_exchange()),
            s(RUN_ROUTING_KEY),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        Ok(())
    }

    /// Deletes this namespace's queues and exchanges (tests clean up with it).
    pub async fn delete(&self, ch: &Channel) -> Result<(), BrokerError> {
        let k = &self.keys;
        for q in [k.runs_queue(), k.dead_queue()] {
            ch.queue_delete(s(&q), Default::default()).await?;
        }
        for e in [k.runs_exchange(), k.dead_exchange()] {
            ch.exchange_delete(s(&e), Default::default()).await?;
        }
        Ok(())
    }

    /// Opens a consuming channel with the given prefetch on the runs queue.
    pub async fn consume(
        &self,
        conn: &Connection,
        prefetch: u16,
        tag: &str,
    ) -> Result<(Channel, Consumer), BrokerError> {
        let ch = conn.create_channel().await?;
        self.declare(&ch).await?;
        ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
        let consumer = ch
            .basic_consume(
                s(&self.keys.runs_queue()),
                s(tag),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok((ch, consumer))
    }

    /// Messages ready in the runs queue and in the dead-letter queue.
    pub async fn depths(&self, ch: &Channel) -> Result<(u32, u32), BrokerError> {
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let runs = ch
            .queue_declare(s(&self.keys.runs_queue()), passive, FieldTable::default())
            .await?;
        let dead = ch
            .queue_declare(s(&self.keys.dead_queue()), passive, FieldTable::default())
            .await?;
        Ok((runs.message_count(), dead.message_count()))
    }
}

/// Publishes run messages with publisher confirms, reconnecting after failures.
pub struct Publisher {
    url: String,
    topology: Topology,
    state: Mutex<Option<(Connection, Channel)>>,
    /// Counts the connections opened, so a late failure drops only its own.
    generation: AtomicU64,
}

impl Publisher {
    pub fn new(url: &str, topology: Topology) -> Self {
        Publisher {
            url: url.to_string(),
            topology,
            state: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    async fn channel(
        &self,
        slot: &mut Option<(Connection, Channel)>,
    ) -> Result<Channel, BrokerError> {
        if let Some((conn, ch)) = slot.as_ref() {
            if conn.status().connected() && ch.status().connected() {
                return Ok(ch.clone());
            }
        }
        *slot = None;
        let conn = connect(&self.url).await?;
        let ch = conn.create_channel().await?;
        self.topology.declare(&ch).await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        *slot = Some((conn, ch.clone()));
        self.generation.fetch_add(1, Ordering::Relaxed);
        Ok(ch)
    }

    /// Checks that the broker is reachable (connecting if needed).
    pub async fn ready(&self) -> Result<(), BrokerError> {
        let mut slot = self.state.lock().await;
        self.channel(&mut slot).await.map(|_| ())
    }

    /// Queue depths of the runs and dead-letter queues.
    pub async fn depths(&self) -> Result<(u32, u32), BrokerError> {
        let mut slot = self.state.lock().await;
        let ch = self.channel(&mut slot).await?;
        self.topology.depths(&ch).await
    }

    /// Publishes every message (persistent, mandatory) and waits for the broker's confirm of
    /// each. The result of message `i` is at index `i`; a failed one must be published again
    /// (its run id makes that harmless). A connection failure drops the connection so the next
    /// call reconnects.
    pub async fn publish_all(&self, msgs: &[RunMessage]) -> Vec<Result<(), BrokerError>> {
        let sent = self.send_all(msgs).await;
        self.confirmed(sent).await
    }

    /// Publishes every message (persistent, mandatory) without waiting for the confirms:
    /// [`Publisher::confirmed`] waits for them, while other messages may be sent meanwhile.
    pub async fn send_all(&self, msgs: &[RunMessage]) -> Sent {
        let mut slot = self.state.lock().await;
        let ch = self.channel(&mut slot).await;
        let generation = self.generation.load(Ordering::Relaxed);
        let ch = match ch {
            Ok(ch) => ch,
            Err(e) => {
                let text = e.to_string();
                let pending = msgs
                    .iter()
                    .map(|m| {
                        let e = std::io::Error::other(text.clone());
                        (m.run_id.clone(), Err(lapin::Error::from(e)))
                    })
                    .collect();
                return Sent {
                    pending,
                    generation,
                };
            }
        };
        let exchange = s(&self.topology.keys.runs_exchange());
        let mut pending = Vec::with_capacity(msgs.len());
        for m in msgs {
            let payload = serde_json::to_vec(m).expect("run messages serialise");
            let props = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type(s("application/json"))
                .with_message_id(s(&m.run_id));
            let r = ch
                .basic_publish(
                    exchange.clone(),
                    s(RUN_ROUTING_KEY),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &payload,
                    props,
                )
                .await;
            pending.push((m.run_id.clone(), r));
        }
        Sent {
            pending,
            generation,
        }
    }

    /// The broker's answer to each message of `sent`, in order. A connection failure drops the
    /// connection the messages went out on, so the next send reconnects.
    pub async fn confirmed(&self, sent: Sent) -> Vec<Result<(), BrokerError>> {
        let mut out = Vec::with_capacity(sent.pending.len());
        let mut broken = false;
        for (run_id, p) in sent.pending {
            let r = match p {
                Ok(confirm) => match confirm.await {
                    Ok(c) if c.is_ack() => match c.take_message() {
                        None => Ok(()),
                        Some(_) => Err(BrokerError::Unroutable(run_id)),
                    },
                    Ok(_) => Err(BrokerError::Nacked(run_id)),
                    Err(e) => Err(BrokerError::Amqp(e)),
                },
                Err(e) => Err(BrokerError::Amqp(e)),
            };
            if matches!(r, Err(BrokerError::Amqp(_))) {
                broken = true;
            }
            out.push(r);
        }
        if broken {
            let mut slot = self.state.lock().await;
            // Only the connection they went out on, not one a later send opened meanwhile.
            if self.generation.load(Ordering::Relaxed) == sent.generation {
                *slot = None;
            }
        }
        out
    }
}

/// Messages published on the publisher's channel, their confirms still to come.
pub struct Sent {
    pending: Vec<(String, Result<PublisherConfirm, lapin::Error>)>,
    /// The publisher's connection generation they went out on.
    generation: u64,
}

/// The delivery count RabbitMQ puts on a redelivered quorum-queue message (0 on the first).
pub fn delivery_count(d: &Delivery) -> u32 {
    d.properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").cloned())
        .and_then(|v| match v {
            AMQPValue::LongLongInt(n) => Some(n as u32),
            AMQPValue::LongInt(n) => Some(n as u32),
            AMQPValue::LongUInt(n) => Some(n),
            AMQPValue::ShortInt(n) => Some(n as u32),
            _ => None,
        })
        .unwrap_or(0)
}
