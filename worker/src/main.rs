//! `chime-worker`: executes runs from the queue.

use chime_runtime::config::Settings;

/// mimalloc: fewer CPU cycles per run than the system allocator (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    chime_runtime::telemetry::init_logs(&settings.log_format);
    chime_runtime::telemetry::metrics();
    let worker = chime_worker::Worker::build(settings).await?;
    let cancel = chime_runtime::ops::cancel_on_shutdown();
    worker.run(cancel).await
}
