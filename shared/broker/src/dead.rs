//! The dead-letter queue, read by the operator: its messages are taken off the queue one by
//! one ([`Publisher::take_dead`]) to be kept elsewhere (the store parks them), each
//! acknowledged only once kept, so a crash in between leaves it on the queue.

use crate::consumer::signature_of;
use crate::{read_runs, s, BrokerError, Publisher, Refused};
use chime_core::model::RunMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::Acker;

/// A message taken off the dead-letter queue, not acknowledged yet.
pub struct DeadLetter {
    pub body: Vec<u8>,
    /// Its signature header, if it has one.
    pub signature: Option<String>,
    acker: Acker,
}

impl DeadLetter {
    /// Removes it from the queue for good (once it is kept elsewhere).
    pub async fn ack(&self) -> Result<(), BrokerError> {
        self.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }
}

impl Publisher {
    /// Takes up to `max` messages off the dead-letter queue (oldest first), unacknowledged:
    /// each goes back to the queue unless [`DeadLetter::ack`]ed before the channel closes.
    pub async fn take_dead(&self, max: usize) -> Result<Vec<DeadLetter>, BrokerError> {
        let mut slot = self.state.lock().await;
        let ch = self.channel(&mut slot).await?;
        let queue = self.topology.dead_queue();
        let mut out = Vec::new();
        while out.len() < max {
            let Some(got) = ch
                .basic_get(s(&queue), BasicGetOptions { no_ack: false })
                .await?
            else {
                break;
            };
            let d = got.delivery;
            out.push(DeadLetter {
                signature: signature_of(&d),
                acker: d.acker.clone(),
                body: d.data,
            });
        }
        Ok(out)
    }

    /// The runs of a message kept from the dead-letter queue, if it is signed with the
    /// cluster secret (only those are ever published again).
    pub fn dead_runs(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Vec<RunMessage>, Refused> {
        read_runs(self.topology.secret(), body, signature)
    }
}
