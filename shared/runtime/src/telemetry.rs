//! Structured logs (`tracing`) and the Prometheus metrics recorder, installed once per process.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use tracing::callsite::Identifier;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the log subscriber: `text` or `json`, filtered by `RUST_LOG` (default `info`).
/// Warnings and errors of the libraries chime uses (a broker client retrying a dead
/// connection, say) are rate-limited per call site: see [`library_flood_guard`].
pub fn init_logs(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_target(true);
    let fmt = if format == "json" {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter).with_filter(library_flood_guard()))
        .try_init();
}

/// A filter that lets through, per call site outside chime's own crates, at most one warning
/// or error per [`WARN_EVERY`]; the ones held back are counted in
/// `chime_log_lines_held_back_total{target}`. chime's own repeated warnings go through
/// [`warn_throttled`], which logs the held-back count with the next line.
pub fn library_flood_guard() -> FloodGuard {
    FloodGuard::default()
}

/// See [`library_flood_guard`].
#[derive(Default)]
pub struct FloodGuard {
    last: std::sync::Mutex<std::collections::HashMap<Identifier, std::time::Instant>>,
}

impl FloodGuard {
    fn guarded(meta: &Metadata<'_>) -> bool {
        meta.is_event() && *meta.level() <= Level::WARN && !meta.target().starts_with("chime")
    }
}

impl<S> Filter<S> for FloodGuard {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        if !Self::guarded(meta) {
            return true;
        }
        let now = std::time::Instant::now();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let site = last.entry(meta.callsite()).or_insert(now - WARN_EVERY);
        if now.duration_since(*site) < WARN_EVERY {
            let target = meta.target().to_string();
            metrics::counter!("chime_log_lines_held_back_total", "target" => target).increment(1);
            return false;
        }
        *site = now;
        true
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // Guarded call sites are asked about every event; the rest always pass.
        if Self::guarded(meta) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tracing_subscriber::Registry;

    /// Counts the events that reach it.
    struct Count(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> Layer<S> for Count {
        fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn passed(emit: impl Fn()) -> usize {
        let n = Arc::new(AtomicUsize::new(0));
        let subscriber =
            Registry::default().with(Count(n.clone()).with_filter(FloodGuard::default()));
        tracing::subscriber::with_default(subscriber, emit);
        n.load(Ordering::Relaxed)
    }

    #[test]
    fn a_library_warning_repeated_at_one_call_site_passes_once_per_period() {
        let n = passed(|| {
            for _ in 0..50 {
                tracing::warn!(target: "lapin::channels", "connection refused");
            }
        });
        assert_eq!(n, 1);
    }

    #[test]
    fn other_call_sites_levels_and_chime_lines_are_not_held_back() {
        let n = passed(|| {
            for _ in 0..5 {
                tracing::warn!(target: "chime_worker", "each of these");
                tracing::info!(target: "lapin::channels", "and these");
            }
            tracing::error!(target: "lapin::io_loop", "one here");
            tracing::warn!(target: "redis::cluster", "and one there");
        });
        assert_eq!(n, 12);
    }
}
