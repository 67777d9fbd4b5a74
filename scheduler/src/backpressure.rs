//! Backpressure: a pass takes no more due entries than the run queue has room for.
//!
//! The room is `max_queued_runs` less the runs waiting in the queue, estimated from the last
//! look at the queue's depth plus the runs published since; the queue is looked at again when
//! that estimate passes half of the maximum, or after a second. The same looks feed the queue
//! depth gauges. Held fires stay due: an interval schedule shifts, a cron fire replays within
//! the misfire threshold.
//!
//! A publish the broker refused (a nack, a lost connection) holds the passes back too, for
//! 50 ms doubling to 2 s while refusals go on: the refused fires stay due and would otherwise be
//! published again at once, over and over, while the broker recovers (a quorum queue electing
//! a new leader).

use chime_broker::Publisher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a look at the queue's depth is trusted.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// The first and the longest hold after refused publishes.
const REFUSED_HOLD: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));

/// The run queue's depth as last seen, and the runs published since.
#[derive(Default)]
pub(crate) struct Backpressure {
    /// The run queue's depth (runs) at the last look, and when.
    depth: Mutex<Option<(u64, Instant)>>,
    published_since_depth: AtomicU64,
    /// Runs and messages published since start: the queue counts messages, backpressure runs.
    published: (AtomicU64, AtomicU64),
    /// After refused publishes: no pass until this instant, and the next hold's length.
    refused: Mutex<Option<(Instant, Duration)>>,
}

impl Backpressure {
    /// The due entries a pass may take from each of `partitions` partitions, at most `batch`:
    /// `None` when the queue has no room (`max` 0: no maximum).
    pub(crate) async fn limit(
        &self,
        publisher: &Publisher,
        batch: usize,
        max: u64,
        partitions: u32,
    ) -> anyhow::Result<Option<usize>> {
        if let Some((until, _)) = *self.refused.lock().unwrap() {
            if Instant::now() < until {
                return Ok(None);
            }
        }
        if max == 0 {
            return Ok(Some(batch));
        }
        let queued = self.queued_runs(publisher, max).await?;
        let room = max.saturating_sub(queued) as usize;
        if room == 0 {
            return Ok(None);
        }
        Ok(Some(batch.min(room.div_ceil(partitions as usize))))
    }

    /// Notes how a pass's publishes ended: any refused holds the passes back (longer while
    /// refusals go on); all confirmed ends the hold.
    pub(crate) fn confirmed(&self, any_refused: bool) {
        let mut r = self.refused.lock().unwrap();
        *r = if any_refused {
            let hold = r.map_or(REFUSED_HOLD.0, |(_, h)| (h * 2).min(REFUSED_HOLD.1));
            Some((Instant::now() + hold, hold))
        } else {
            None
        };
    }

    /// Counts a pass's publish: `runs` runs in `messages` messages.
    pub(crate) fn published(&self, runs: u64, messages: u64) {
        self.published_since_depth
            .fetch_add(runs, Ordering::Relaxed);
        self.published.0.fetch_add(runs, Ordering::Relaxed);
        self.published.1.fetch_add(messages, Ordering::Relaxed);
    }

    /// Whether the queue was looked at within `d`.
    pub(crate) fn looked_within(&self, d: Duration) -> bool {
        let looked = self.depth.lock().unwrap().map(|(_, at)| at.elapsed());
        looked.is_some_and(|a| a <= d)
    }

    /// Runs waiting in the run queue, as of the last look plus what was published since. The
    /// queue is looked at again when that estimate passes half of `max`, or after a second.
    async fn queued_runs(&self, publisher: &Publisher, max: u64) -> anyhow::Result<u64> {
        {
            let d = self.depth.lock().unwrap();
            if let Some((queued, at)) = *d {
                let estimate = queued + self.published_since_depth.load(Ordering::Relaxed);
                if estimate < max / 2 && at.elapsed() < LOOK_EVERY {
                    return Ok(estimate);
                }
            }
        }
        self.look_at_queues(publisher).await
    }

    /// Reads the depths of the run and dead-letter queues into their gauges and the
    /// backpressure estimate; returns the runs waiting.
    pub(crate) async fn look_at_queues(&self, publisher: &Publisher) -> anyhow::Result<u64> {
        let (messages, dead) = publisher.depths().await?;
        metrics::gauge!("chime_queue_depth", "queue" => "runs").set(messages as f64);
        metrics::gauge!("chime_queue_depth", "queue" => "dead").set(dead as f64);
        // The queue counts messages: estimate its runs at the runs per message published so far.
        let runs = self.published.0.load(Ordering::Relaxed).max(1);
        let sent = self.published.1.load(Ordering::Relaxed).max(1);
        let queued = (messages as u64 * runs).div_ceil(sent);
        self.published_since_depth.store(0, Ordering::Relaxed);
        *self.depth.lock().unwrap() = Some((queued, Instant::now()));
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_publishes_hold_the_passes_back_longer_while_they_go_on() {
        let b = Backpressure::default();
        b.confirmed(true);
        let first = b.refused.lock().unwrap().unwrap().1;
        b.confirmed(true);
        let second = b.refused.lock().unwrap().unwrap().1;
        assert_eq!((first, second), (REFUSED_HOLD.0, REFUSED_HOLD.0 * 2));
        (0..10).for_each(|_| b.confirmed(true));
        assert_eq!(b.refused.lock().unwrap().unwrap().1, REFUSED_HOLD.1);
        b.confirmed(false);
        assert!(
            b.refused.lock().unwrap().is_none(),
            "a confirmed pass ends the hold"
        );
    }
}
