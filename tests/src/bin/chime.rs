//! `chime`: all of chime's services in one binary: `chime scheduler`, `chime worker`,
//! `chime api`. Same settings as the per-service binaries (`CHIME_*`, `CHIME_CONFIG`).

use chime_runtime::config::Settings;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = std::env::args().nth(1).unwrap_or_default();
    let settings = Settings::load()?;
    chime_runtime::telemetry::init_logs(&settings.log_format);
    chime_runtime::telemetry::metrics();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        chime_runtime::ops::shutdown_signal().await;
        tracing::info!("shutdown signal received");
        trigger.cancel();
    });
    match service.as_str() {
        "scheduler" => {
            chime_scheduler::Scheduler::build(settings)
                .await?
                .run(cancel)
                .await
        }
        "worker" => {
            chime_worker::Worker::build(settings)
                .await?
                .run(cancel)
                .await
        }
        "api" => chime_api::Api::build(settings).await?.run(cancel).await,
        _ => {
            eprintln!("usage: chime <scheduler|worker|api>");
            std::process::exit(2);
        }
    }
}
