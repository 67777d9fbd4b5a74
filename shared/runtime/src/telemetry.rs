//! Structured logs (`tracing`) and the Prometheus metrics recorder, installed once per process.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber: `text` or `json`, filtered by `RUST_LOG` (default `info`).
pub fn init_logs(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder (installed on first use, with upkeep on a thread, and
/// `chime_build_info{version}` set to 1).
pub fn metrics() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            // Always there, so a scrape of a fresh process is not empty.
            metrics::gauge!("chime_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .expect("spawn metrics upkeep thread");
            handle
        })
        .clone()
}

/// How often a kind of repeated warning is logged, at most.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Warnings of one `kind` already logged and held back: (when the last was logged, how many
/// were held back since).
static THROTTLED: OnceLock<
    std::sync::Mutex<std::collections::HashMap<&'static str, (std::time::Instant, u64)>>,
> = OnceLock::new();

/// Logs a warning of `kind` at most once per [`WARN_EVERY`]: the first at once, the ones after
/// it within the period counted, and the count (`held_back`) logged with the next one that
/// goes out. A fault that repeats per run (a broker down, a Redis restarting) then logs a few
/// lines a minute with their numbers instead of one line per run.
pub fn warn_throttled(kind: &'static str, message: &str) {
    let now = std::time::Instant::now();
    let held_back = {
        let mut map = THROTTLED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map.entry(kind).or_insert((now - WARN_EVERY, 0));
        if now.duration_since(entry.0) < WARN_EVERY {
            entry.1 += 1;
            return;
        }
        let held = entry.1;
        *entry = (now, 0);
        held
    };
    tracing::warn!(kind, held_back, "{message}");
}
