//! `chime serve api|scheduler|worker`: each of chime's services from this one binary, with the
//! per-service binaries' settings (`CHIME_*`, `CHIME_CONFIG`).

use crate::args::Service;
use chime_runtime::config::Settings;

/// Runs `service` until a shutdown signal (SIGTERM, Ctrl-C), then stops it gracefully.
pub async fn serve(service: Service) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    chime_runtime::telemetry::init_logs(&settings.log_format);
    chime_runtime::telemetry::metrics();
    let cancel = chime_runtime::ops::cancel_on_shutdown();
    match service {
        Service::Scheduler => {
            chime_scheduler::Scheduler::build(settings)
                .await?
                .run(cancel)
                .await
        }
        Service::Worker => {
            chime_worker::Worker::build(settings)
                .await?
                .run(cancel)
                .await
        }
        Service::Api => chime_api::Api::build(settings).await?.run(cancel).await,
    }
}
