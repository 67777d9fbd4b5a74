//! The workers' side of the runs queue: a consuming channel with a prefetch, and deliveries
//! that are acknowledged, handed back or dead-lettered by name rather than by AMQP options.

use crate::{connect, decode_runs, s, verify, BrokerError, Topology, SIGNATURE_HEADER};
use chime_core::model::RunMessage;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, Consumer};
use std::sync::Arc;

/// A consumer of the runs queue on a connection of its own.
pub struct RunConsumer {
    conn: Connection,
    channel: Channel,
    consumer: Consumer,
    tag: String,
    secret: Arc<[u8]>,
}

impl RunConsumer {
    /// Connects, declares the topology and consumes the runs queue with `prefetch`
    /// unacknowledged messages at most.
    pub async fn open(
        url: &str,
        topology: &Topology,
        prefetch: u16,
        tag: &str,
    ) -> Result<RunConsumer, BrokerError> {
        let conn = connect(url).await?;
        let channel = conn.create_channel().await?;
        topology.declare(&channel).await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                s(&topology.runs_queue()),
                s(tag),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(RunConsumer {
            conn,
            channel,
            consumer,
            tag: tag.to_string(),
            secret: topology.secret().into(),
        })
    }

    /// The next delivery; `None` when the consumer ended (the connection closed).
    pub async fn next(&mut self) -> Option<Result<RunDelivery, BrokerError>> {
        self.consumer.next().await.map(|d| {
            d.map(|d| RunDelivery(d, self.secret.clone()))
                .map_err(BrokerError::from)
        })
    }

    /// Goes quiet: the broker sends no more deliveries; those held can still be settled.
    pub async fn quiet(&self) {
        let _ = self
            .channel
            .basic_cancel(s(&self.tag), BasicCancelOptions::default())
            .await;
    }

    /// Closes the channel and the connection; unsettled deliveries go back to the queue.
    pub async fn close(self) {
        let _ = self.channel.close(200, "shutdown".into()).await;
        let _ = self.conn.close(200, "shutdown".into()).await;
    }
}

/// One message of the runs queue, held until it is settled (with the key it must be signed
/// with).
pub struct RunDelivery(Delivery, Arc<[u8]>);

/// A delivery's signature header, if it has one.
pub(crate) fn signature_of(d: &Delivery) -> Option<String> {
    d.properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(SIGNATURE_HEADER).cloned())
        .and_then(|v| match v {
            AMQPValue::LongString(s) => Some(s.to_string()),
            _ => None,
        })
}

/// The runs of a message `body` signed `signature` under `secret`, if the signature holds.
pub fn read_runs(
    secret: &[u8],
    body: &[u8],
    signature: Option<&str>,
) -> Result<Vec<RunMessage>, Refused> {
    let signature = signature.ok_or(Refused::Unsigned)?;
    if !verify(secret, body, signature) {
        return Err(Refused::Forged);
    }
    Ok(decode_runs(body)?)
}

/// Why a delivery's runs cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the message carries no signature")]
    Unsigned,
    #[error("the message's signature does not match its body")]
    Forged,
    #[error("the message is unreadable: {0}")]
    Unreadable(#[from] serde_json::Error),
}

impl Refused {
    /// A label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::Unsigned => "unsigned",
            Refused::Forged => "forged",
            Refused::Unreadable(_) => "unreadable",
        }
    }
}

impl RunDelivery {
    /// The message body (see [`crate::decode_runs`]).
    pub fn body(&self) -> &[u8] {
        &self.0.data
    }

    /// The runs the message carries, once its signature is checked against the cluster
    /// secret: a message without one, or whose signature does not hold, is refused unread.
    pub fn runs(&self) -> Result<Vec<RunMessage>, Refused> {
        read_runs(&self.1, &self.0.data, signature_of(&self.0).as_deref())
    }

    /// The lowest attempt this delivery can be: quorum queues count earlier deliveries in
    /// `x-delivery-count`; a redelivery without it is at least the second.
    pub fn attempt(&self) -> u32 {
        match self.delivery_count() {
            0 if self.0.redelivered => 2,
            n => n + 1,
        }
    }

    /// The delivery count RabbitMQ puts on a redelivered quorum-queue message (0 on the
    /// first).
    pub fn delivery_count(&self) -> u32 {
        self.0
            .properties
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

    /// Done with: the broker forgets the message.
    pub async fn ack(&self) -> Result<(), BrokerError> {
        self.0.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// Hands the message back for another delivery (counted toward the delivery limit).
    pub async fn requeue(&self) -> Result<(), BrokerError> {
        let opts = BasicNackOptions {
            requeue: true,
            ..Default::default()
        };
        self.0.nack(opts).await?;
        Ok(())
    }

    /// Sends the message to the dead-letter queue at once.
    pub async fn dead_letter(&self) -> Result<(), BrokerError> {
        let opts = BasicNackOptions {
            requeue: false,
            ..Default::default()
        };
        self.0.nack(opts).await?;
        Ok(())
    }
}
