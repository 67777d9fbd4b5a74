//! Delayed run messages: a retry waits in the broker, not in a worker.
//!
//! RabbitMQ 3.10 has no delay of its own (the delayed-message exchange is a plugin, not
//! shipped, and keeps its messages on one node outside any queue), so a delay is a queue: one
//! quorum queue per delay, `<ns>.runs.delay.<seconds>`, whose messages expire after that
//! delay (`x-message-ttl`) and are dead-lettered, at least once (`x-dead-letter-strategy`,
//! which needs `x-overflow: reject-publish`), to the runs exchange, where they reach the runs
//! queue like any fire. A queue's messages all have its delay, so they expire in order (a
//! single queue with per-message TTLs would hold a short delay behind a long one). The delays
//! are the [`LADDER`]'s steps, so there are a few dozen queues at most; a wait is rounded up to
//! a step (never early), unless that passes the longest wait allowed, then down. A queue
//! nobody has published to for an hour past its delay is deleted by the broker (`x-expires`,
//! renewed by each declare).

use crate::{s, BrokerError, Publisher, RUN_ROUTING_KEY, SIGNATURE_HEADER};
use chime_core::model::RunMessage;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use std::time::Duration;

/// The delays (seconds) a retry can wait: every second up to 10, then steps of at most a
/// quarter of the delay, up to an hour.
pub const LADDER: &[u64] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 90, 120, 150, 180, 240, 300,
    375, 450, 600, 750, 900, 1200, 1500, 1800, 2400, 3000, 3600,
];

/// The step of the ladder a wait of `wait` goes through: the first step at or above it,
/// unless that is over `max`, then the last step at or below `max` (at least the first).
/// `None` for a wait under half a second: the message goes straight to the runs queue.
pub fn step_for(wait: Duration, max: Duration) -> Option<u64> {
    if wait < Duration::from_millis(500) {
        return None;
    }
    let secs = wait.as_secs_f64();
    let up = LADDER.iter().copied().find(|&d| d as f64 >= secs);
    match up {
        Some(d) if Duration::from_secs(d) <= max.max(Duration::from_secs(1)) => Some(d),
        _ => Some(
            LADDER
                .iter()
                .copied()
                .rev()
                .find(|&d| Duration::from_secs(d) <= max)
                .unwrap_or(LADDER[0]),
        ),
    }
}

impl crate::Topology {
    /// The delay queue of `secs` seconds.
    pub fn delay_queue(&self, secs: u64) -> String {
        format!("{}.runs.delay.{secs}", self.namespace)
    }

    /// Every delay queue's name (tests and tools delete them with the topology).
    pub fn delay_queues(&self) -> Vec<String> {
        LADDER.iter().map(|&d| self.delay_queue(d)).collect()
    }

    async fn declare_delay(&self, ch: &lapin::Channel, secs: u64) -> Result<(), BrokerError> {
        let mut args = FieldTable::default();
        let ms = |d: u64| AMQPValue::LongLongInt(i64::try_from(d).unwrap_or(i64::MAX));
        args.insert(s("x-queue-type"), AMQPValue::LongString("quorum".into()));
        args.insert(s("x-message-ttl"), ms(secs * 1000));
        args.insert(s("x-expires"), ms((secs + 3600) * 1000));
        args.insert(
            s("x-dead-letter-exchange"),
            AMQPValue::LongString(self.runs_exchange().into()),
        );
        args.insert(
            s("x-dead-letter-routing-key"),
            AMQPValue::LongString(RUN_ROUTING_KEY.into()),
        );
        args.insert(
            s("x-dead-letter-strategy"),
            AMQPValue::LongString("at-least-once".into()),
        );
        args.insert(
            s("x-overflow"),
            AMQPValue::LongString("reject-publish".into()),
        );
        let opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.queue_declare(s(&self.delay_queue(secs)), opts, args)
            .await?;
        Ok(())
    }
}

impl Publisher {
    /// Publishes one run (persistent, signed) to reach the runs queue after about `wait`
    /// (never earlier, at most `max` later than asked: see [`step_for`]) and waits for the
    /// broker's confirm. Returns the delay it goes through.
    pub async fn publish_after(
        &self,
        msg: &RunMessage,
        wait: Duration,
        max: Duration,
    ) -> Result<Duration, BrokerError> {
        let step = step_for(wait, max);
        let payload = crate::encode_runs(std::slice::from_ref(msg));
        let mut headers = FieldTable::default();
        let signature = crate::sign(self.topology.secret(), &payload);
        headers.insert(s(SIGNATURE_HEADER), AMQPValue::LongString(signature.into()));
        let props = BasicProperties::default()
            .with_headers(headers)
            .with_delivery_mode(2)
            .with_content_type(s("application/json"))
            .with_message_id(s(&msg.run_id));
        let (confirm, generation) = {
            let mut slot = self.state.lock().await;
            let ch = self.channel(&mut slot).await?;
            let generation = self.generation();
            let (exchange, key) = match step {
                Some(secs) => {
                    self.topology.declare_delay(&ch, secs).await?;
                    (String::new(), self.topology.delay_queue(secs))
                }
                None => (self.topology.runs_exchange(), RUN_ROUTING_KEY.to_string()),
            };
            let mandatory = BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            };
            let confirm = ch
                .basic_publish(s(&exchange), s(&key), mandatory, &payload, props)
                .await;
            (confirm, generation)
        };
        let sent = crate::Sent::one(confirm, &msg.run_id, generation);
        match self.confirmed(sent).await.pop() {
            Some(Ok(())) => Ok(Duration::from_secs(step.unwrap_or(0))),
            Some(Err(e)) => Err(e),
            None => Err(BrokerError::Nacked(msg.run_id.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_goes_through_the_first_step_at_or_above_it_within_the_maximum() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let max = s(3600);
        assert_eq!(step_for(ms(0), max), None);
        assert_eq!(step_for(ms(499), max), None);
        assert_eq!(step_for(ms(500), max), Some(1));
        assert_eq!(step_for(s(1), max), Some(1));
        assert_eq!(step_for(ms(1001), max), Some(2));
        assert_eq!(step_for(s(11), max), Some(12));
        assert_eq!(step_for(s(3599), max), Some(3600));
        assert_eq!(step_for(s(4000), max), Some(3600));
        // Rounding up would pass the maximum: down instead.
        assert_eq!(step_for(s(11), s(11)), Some(10));
        assert_eq!(step_for(ms(1500), s(1)), Some(1));
        assert_eq!(step_for(s(3), s(0)), Some(1));
    }

    #[test]
    fn the_ladder_rises_by_at_most_a_quarter_past_ten_seconds() {
        assert!(LADDER.windows(2).all(|w| w[0] < w[1]));
        for w in LADDER.windows(2).filter(|w| w[0] >= 10) {
            assert!(w[1] - w[0] <= w[1] / 4, "{w:?}");
        }
        assert_eq!(LADDER.last(), Some(&3600));
    }
}
