//! RabbitMQ: the runs topology, a confirming publisher and a consumer connection.
//!
//! Topology (every name built here from the namespace): a durable direct exchange `<ns>.runs` bound to the quorum
//! queue `<ns>.runs`, which dead-letters a message after `delivery_limit` deliveries to the
//! fanout exchange `<ns>.runs.dlx` and its quorum queue `<ns>.runs.dead`. Everything is
//! declared idempotently by every service on connect. A retry waits in a delay queue
//! `<ns>.runs.delay.<seconds>` that dead-letters to the runs exchange (`delay`). A message carries one or more runs
//! ([`encode_runs`], [`decode_runs`]) and is signed with the cluster secret ([`sign`], in the
//! [`SIGNATURE_HEADER`]); a consumer reads only messages whose signature holds
//! ([`RunDelivery::runs`]).
//!
//! Connections are rebuilt by their users: [`Publisher`] reconnects on the next publish after
//! a failure; the worker's consume loop reconnects with backoff through [`RunConsumer`].
//!
//! This crate is the only one that names `lapin`: the services see [`Topology`],
//! [`Publisher`], [`RunConsumer`] and [`RunDelivery`].

mod consumer;
mod dead;
mod delay;

pub use consumer::{read_runs, Refused, RunConsumer, RunDelivery};
pub use dead::DeadLetter;
pub use delay::{step_for, LADDER};

use chime_core::model::RunMessage;
use hmac::{Hmac, Mac};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind, PublisherConfirm,
};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Routing key of run messages.
pub const RUN_ROUTING_KEY: &str = "run";

/// A broker failure.
#[derive(Clone, Debug, thiserror::Error)]
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

/// Names and limits of the runs topology, and the key its run messages are signed with.
#[derive(Clone, Debug)]
pub struct Topology {
    namespace: String,
    pub delivery_limit: u32,
    secret: Arc<[u8]>,
}

/// The header that carries a run message's signature: the hex HMAC-SHA256 of its body under
/// the cluster secret.
pub const SIGNATURE_HEADER: &str = "x-chime-signature";

/// The signature of a message `body` under `secret` (hex HMAC-SHA256).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    hex::encode(mac(secret, body).finalize().into_bytes())
}

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    mac
}

/// Whether `signature` (hex) is `body`'s under `secret`, compared in constant time.
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    hex::decode(signature).is_ok_and(|sig| mac(secret, body).verify_slice(&sig).is_ok())
}

pub(crate) fn s(v: &str) -> ShortString {
    v.into()
}

/// Opens a connection (bounded in time, so a dead broker is an error, not a hang). Tools and
/// tests that drive the broker by hand start here; services use [`Publisher`] and
/// [`RunConsumer`].
///
/// `url` may list the nodes of a RabbitMQ cluster, comma-separated: the first node that
/// answers is taken, starting from the one that answered last (so a reconnection after a node
/// died tries a live node first), each within its own time bound.
pub async fn connect(url: &str) -> Result<Connection, BrokerError> {
    let nodes = chime_core::url_list(url);
    let first = LAST_NODE.load(Ordering::Relaxed);
    let mut failure = BrokerError::Timeout;
    for k in 0..nodes.len() {
        let i = (first + k) % nodes.len();
        match connect_one(nodes[i]).await {
            Ok(conn) => {
                LAST_NODE.store(i, Ordering::Relaxed);
                return Ok(conn);
            }
            Err(e) => {
                if nodes.len() > 1 {
                    chime_runtime::telemetry::warn_throttled(
                        "rabbitmq_node_unreachable",
                        &format!("RabbitMQ node {i} unreachable; trying the next: {e}"),
                    );
                }
                failure = e;
            }
        }
    }
    Err(failure)
}

/// The index of the node of the last connection made (in its URL's list).
static LAST_NODE: AtomicUsize = AtomicUsize::new(0);

async fn connect_one(url: &str) -> Result<Connection, BrokerError> {
    let props = ConnectionProperties::default();
    tokio::time::timeout(Duration::from_secs(5), Connection::connect(url, props))
        .await
        .map_err(|_| BrokerError::Timeout)?
        .map_err(BrokerError::from)
}

/// Connects and disconnects: the readiness probe of a service.
pub async fn probe(url: &str) -> Result<(), BrokerError> {
    let conn = connect(url).await?;
    let _ = conn.close(200, "readiness probe".into()).await;
    Ok(())
}

impl Topology {
    /// The topology of `namespace`, its messages signed with `secret` (the cluster secret).
    pub fn new(namespace: &str, delivery_limit: u32, secret: &str) -> Self {
        Topology {
            namespace: namespace.to_string(),
            delivery_limit,
            secret: secret.as_bytes().into(),
        }
    }

    /// The key run messages are signed with.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Exchange that run messages are published to.
    pub fn runs_exchange(&self) -> String {
        format!("{}.runs", self.namespace)
    }
    /// Quorum queue the workers consume.
    pub fn runs_queue(&self) -> String {
        format!("{}.runs", self.namespace)
    }
    /// Exchange for runs that exceeded the delivery limit.
    pub fn dead_exchange(&self) -> String {
        format!("{}.runs.dlx", self.namespace)
    }
    /// Queue holding dead-lettered runs.
    pub fn dead_queue(&self) -> String {
        format!("{}.runs.dead", self.namespace)
    }

    /// Declares exchanges, queues and bindings (idempotent).
    pub async fn declare(&self, ch: &Channel) -> Result<(), BrokerError> {
        let k = self;
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

    /// Deletes this namespace's queues and exchanges, and the `extra_queues` a tool declared
    /// beside them (tests and chime-bench clean up with it).
    pub async fn delete(&self, url: &str, extra_queues: &[String]) -> Result<(), BrokerError> {
        let conn = connect(url).await?;
        let ch = conn.create_channel().await?;
        let queues = [self.runs_queue(), self.dead_queue()];
        let delays = self.delay_queues();
        for q in queues.iter().chain(&delays).chain(extra_queues) {
            ch.queue_delete(s(q), Default::default()).await?;
        }
        for e in [self.runs_exchange(), self.dead_exchange()] {
            ch.exchange_delete(s(&e), Default::default()).await?;
        }
        let _ = conn.close(200, "deleted".into()).await;
        Ok(())
    }

    /// Messages ready in the runs queue and in the dead-letter queue.
    pub async fn depths(&self, ch: &Channel) -> Result<(u32, u32), BrokerError> {
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let runs = ch
            .queue_declare(s(&self.runs_queue()), passive, FieldTable::default())
            .await?;
        let dead = ch
            .queue_declare(s(&self.dead_queue()), passive, FieldTable::default())
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

    /// The generation of the connection now open.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
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

    /// Publishes every run (persistent, mandatory; at most `per_message` runs in one message)
    /// and waits for the broker's confirms. The result of run `i` is at index `i`; a failed
    /// one must be published again (its run id makes that harmless). A connection failure
    /// drops the connection so the next call reconnects.
    pub async fn publish_all(
        &self,
        msgs: &[RunMessage],
        per_message: usize,
    ) -> Vec<Result<(), BrokerError>> {
        let sent = self.send_all(msgs, per_message).await;
        self.confirmed(sent).await
    }

    /// Publishes every run (persistent, mandatory) without waiting for the confirms:
    /// [`Publisher::confirmed`] waits for them, while other messages may be sent meanwhile.
    /// Consecutive runs share a message, at most `per_message` of them, spread evenly over
    /// as few messages as that allows (see [`chunks`]).
    pub async fn send_all(&self, msgs: &[RunMessage], per_message: usize) -> Sent {
        let mut slot = self.state.lock().await;
        let ch = self.channel(&mut slot).await;
        let generation = self.generation.load(Ordering::Relaxed);
        let ch = match ch {
            Ok(ch) => ch,
            Err(e) => {
                let e = lapin::Error::from(std::io::Error::other(e.to_string()));
                let first = msgs.first().map(|m| m.run_id.clone()).unwrap_or_default();
                let pending = vec![(msgs.len(), first, Err(e))];
                return Sent {
                    pending,
                    generation,
                };
            }
        };
        let exchange = s(&self.topology.runs_exchange());
        let mut pending = Vec::new();
        for chunk in chunks(msgs, per_message) {
            let payload = encode_runs(chunk);
            let mut headers = FieldTable::default();
            let signature = sign(&self.topology.secret, &payload);
            headers.insert(s(SIGNATURE_HEADER), AMQPValue::LongString(signature.into()));
            let props = BasicProperties::default()
                .with_headers(headers)
                .with_delivery_mode(2)
                .with_content_type(s("application/json"))
                .with_message_id(s(&chunk[0].run_id));
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
            pending.push((chunk.len(), chunk[0].run_id.clone(), r));
        }
        Sent {
            pending,
            generation,
        }
    }

    /// The broker's answer for each run of `sent`, in order (the runs of one message share
    /// its answer). A connection failure or a refused publish drops the connection the
    /// messages went out on, so the next send reconnects.
    pub async fn confirmed(&self, sent: Sent) -> Vec<Result<(), BrokerError>> {
        let mut out = Vec::new();
        let mut broken = false;
        for (runs, run_id, p) in sent.pending {
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
            // A nack too: a channel whose quorum-queue client kept a dead leader's state
            // can refuse every publish long after the queue has a new leader (seen on
            // RabbitMQ 3.10 after its leader's node was killed); a new channel does not.
            if matches!(r, Err(BrokerError::Amqp(_) | BrokerError::Nacked(_))) {
                broken = true;
            }
            out.extend(std::iter::repeat_n(r, runs));
        }
        if broken {
            let mut slot = self.state.lock().await;
            // Only the connection they went out on, not one a later send opened meanwhile.
            if self.generation.load(Ordering::Relaxed) == sent.generation {
                if let Some((conn, _)) = slot.take() {
                    tokio::spawn(async move {
                        let _ = conn
                            .close(200, "publish refused; reconnecting".into())
                            .await;
                    });
                }
            }
        }
        out
    }
}

/// Messages published on the publisher's channel, their confirms still to come.
pub struct Sent {
    /// Per message: its runs, the first run's id, and the confirm to come.
    pending: Vec<(usize, String, Result<PublisherConfirm, lapin::Error>)>,
    /// The publisher's connection generation they went out on.
    generation: u64,
}

impl Sent {
    /// One message of one run, sent on connection `generation`.
    pub(crate) fn one(
        confirm: Result<PublisherConfirm, lapin::Error>,
        run_id: &str,
        generation: u64,
    ) -> Sent {
        Sent {
            pending: vec![(1, run_id.to_string(), confirm)],
            generation,
        }
    }

    /// The messages sent.
    pub fn messages(&self) -> usize {
        self.pending.len()
    }
}

/// Consecutive runs in as few chunks of at most `per_message` as possible, of even sizes
/// (21 runs at 16 a message go out as 11 + 10, not 16 + 5), so that the workers that take
/// them get even shares; a chunk never mixes tenants (consecutive runs of one tenant are
/// chunked together), so no tenant's runs wait in a message for another tenant's to end.
pub fn chunks(msgs: &[RunMessage], per_message: usize) -> impl Iterator<Item = &[RunMessage]> {
    let mut rest = msgs;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let same = rest
            .iter()
            .position(|m| m.tenant != first.tenant)
            .unwrap_or(rest.len());
        let (segment, tail) = rest.split_at(same);
        rest = tail;
        Some(even_chunks(segment, per_message))
    })
    .flatten()
}

/// `msgs` in as few chunks of at most `per_message` as possible, of even sizes.
fn even_chunks(msgs: &[RunMessage], per_message: usize) -> impl Iterator<Item = &[RunMessage]> {
    let n = msgs.len().div_ceil(per_message.max(1)).max(1);
    let (size, extra) = (msgs.len() / n, msgs.len() % n);
    let mut rest = msgs;
    (0..n).filter_map(move |i| {
        let take = size + usize::from(i < extra);
        let (chunk, tail) = rest.split_at(take);
        rest = tail;
        (!chunk.is_empty()).then_some(chunk)
    })
}

/// The body of a message carrying `runs`: a JSON array of run messages.
pub fn encode_runs(runs: &[RunMessage]) -> Vec<u8> {
    serde_json::to_vec(runs).expect("run messages serialise")
}

/// The runs a message carries: a JSON array of run messages, or one run message alone (the
/// body of a single run). A message without a run is unreadable.
pub fn decode_runs(body: &[u8]) -> Result<Vec<RunMessage>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Body {
        Many(Vec<RunMessage>),
        One(Box<RunMessage>),
    }
    match serde_json::from_slice(body)? {
        Body::Many(runs) if runs.is_empty() => Err(serde::de::Error::custom(
            "a run message must carry at least one run",
        )),
        Body::Many(runs) => Ok(runs),
        Body::One(run) => Ok(vec![*run]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chime_core::model::ActionSpec;

    fn run(n: usize) -> RunMessage {
        RunMessage {
            run_id: format!("r{n}"),
            tenant: "t".into(),
            job_id: 1,
            schedule_id: "s".into(),
            scheduled_at: n as i64,
            owner: "o".into(),
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
                url: "http://127.0.0.1:9/".into(),
                method: chime_core::run::HttpMethod::Post,
                headers: vec![],
                secret_headers: vec![],
                body: None,
                timeout_ms: 0,
            },
        }
    }

    fn sizes(n: usize, per: usize) -> Vec<usize> {
        let runs: Vec<RunMessage> = (0..n).map(run).collect();
        let out: Vec<&[RunMessage]> = chunks(&runs, per).collect();
        // Every run once, in order.
        let flat: Vec<&str> = out
            .iter()
            .flat_map(|c| c.iter().map(|r| r.run_id.as_str()))
            .collect();
        let want: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        assert_eq!(flat, want.iter().map(String::as_str).collect::<Vec<_>>());
        out.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn runs_are_spread_evenly_over_as_few_messages_as_the_limit_allows() {
        assert_eq!(sizes(0, 16), Vec::<usize>::new());
        assert_eq!(sizes(1, 16), vec![1]);
        assert_eq!(sizes(16, 16), vec![16]);
        assert_eq!(sizes(17, 16), vec![9, 8]);
        assert_eq!(sizes(21, 16), vec![11, 10]);
        assert_eq!(sizes(50, 16), vec![13, 13, 12, 12]);
        assert_eq!(sizes(3, 1), vec![1, 1, 1]);
        assert_eq!(sizes(3, 0), vec![1, 1, 1]);
    }

    #[test]
    fn a_message_carries_the_runs_of_one_tenant() {
        let runs: Vec<RunMessage> = ["a", "a", "b", "b", "b", "a"]
            .iter()
            .enumerate()
            .map(|(i, t)| RunMessage {
                tenant: (*t).into(),
                ..run(i)
            })
            .collect();
        let out: Vec<Vec<&str>> = chunks(&runs, 16)
            .map(|c| c.iter().map(|r| r.tenant.as_str()).collect())
            .collect();
        assert_eq!(out, vec![vec!["a", "a"], vec!["b", "b", "b"], vec!["a"]]);
    }

    #[test]
    fn a_signature_holds_only_for_its_body_under_its_key() {
        let sig = sign(b"key", b"body");
        assert!(verify(b"key", b"body", &sig));
        assert!(!verify(b"other key", b"body", &sig));
        assert!(!verify(b"key", b"body!", &sig));
        assert!(!verify(b"key", b"body", &sig[..sig.len() - 2]));
        assert!(!verify(b"key", b"body", "not hex"));
        assert!(!verify(b"key", b"body", ""));
    }

    #[test]
    fn a_message_carries_an_array_of_runs_or_one_run() {
        let runs: Vec<RunMessage> = (0..3).map(run).collect();
        assert_eq!(decode_runs(&encode_runs(&runs)).unwrap(), runs);
        let one = serde_json::to_vec(&runs[0]).unwrap();
        assert_eq!(decode_runs(&one).unwrap(), vec![runs[0].clone()]);
        assert!(decode_runs(b"[]").is_err());
        assert!(decode_runs(b"{\"run_id\":\"x\"}").is_err());
        assert!(decode_runs(b"[{\"run_id\":\"x\"}]").is_err());
        assert!(decode_runs(b"not json").is_err());
    }
}
