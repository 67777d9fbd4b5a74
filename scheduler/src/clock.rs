//! Clock: Redis's time, read through the local clock.
//!
//! "Due" is decided against Redis's clock, one clock for all replicas. The leader measures the
//! offset of Redis `TIME` to its own clock every second and adds it to the local time, which
//! saves a pass the round trip of asking.

use chime_store::Store;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a measured offset is trusted.
const MEASURE_EVERY: Duration = Duration::from_secs(1);

/// The offset of Redis's clock to the local one.
#[derive(Default)]
pub(crate) struct Clock {
    /// The offset (ms), and when it was measured.
    offset: Mutex<Option<(i64, Instant)>>,
}

impl Clock {
    /// Redis's time now (ms), measuring the offset again when it is a second old.
    pub(crate) async fn now_ms(&self, store: &Store) -> anyhow::Result<i64> {
        let local = || chrono::Utc::now().timestamp_millis();
        if let Some((offset, at)) = *self.offset.lock().unwrap() {
            if at.elapsed() < MEASURE_EVERY {
                return Ok(local() + offset);
            }
        }
        let before = local();
        let redis = store.now_ms().await?;
        let after = local();
        let offset = redis - (before + after) / 2;
        *self.offset.lock().unwrap() = Some((offset, Instant::now()));
        Ok(after + offset)
    }
}
