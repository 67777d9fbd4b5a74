//! `chime-worker`: executes runs from the queue.

use chime_runtime::config::Settings;
use tokio_util::sync::CancellationToken;

/// mimalloc: fewer CPU cycles per run than the system allocator (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    chime_runtime::telemetry::init_logs(&settings.log_format);
    chime_runtime::telemetry::metrics();
    let worker = chime_worker::Worker::build(settings).await?;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        chime_runtime::ops::shutdown_signal().await;
        tracing::info!("shutdown signal received");
        trigger.cancel();
    });
    worker.run(cancel).await
}
