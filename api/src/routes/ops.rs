//! The ops endpoints: liveness, readiness and Prometheus metrics.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[utoipa::path(
    get, path = "/healthz", tag = "ops", operation_id = "healthz",
    summary = "Liveness",
    responses((status = 200, description = "The process is up", body = String, content_type = "text/plain", example = "ok"))
)]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(
    get, path = "/metrics", tag = "ops", operation_id = "metrics",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Metrics in the Prometheus text format", body = String, content_type = "text/plain"))
)]
pub async fn metrics() -> String {
    chime_runtime::telemetry::metrics().render()
}

#[utoipa::path(
    get, path = "/readyz", tag = "ops", operation_id = "readyz",
    summary = "Readiness: Redis and RabbitMQ reachable",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain", example = "ready"),
        (status = 503, description = "Redis or RabbitMQ is not reachable; the text names which", body = String, content_type = "text/plain"),
    )
)]
pub async fn readyz(State(s): State<AppState>) -> Response {
    if let Err(e) = s.store.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("redis: {e}")).into_response();
    }
    if let Err(e) = s.broker.ready().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("rabbitmq: {e}")).into_response();
    }
    (StatusCode::OK, "ready").into_response()
}
