//! The router: every route of the API, mounted from its documented handler (utoipa-axum's
//! `routes!`, which takes the path and the methods from the handler's `#[utoipa::path]`), so
//! the OpenAPI document is collected from the routes actually served; plus the metrics
//! middleware, the body limit and the fallback.
//!
//! - [`ops`]: liveness, readiness, metrics.
//! - [`admin`]: tenants, their signing secrets and API keys.
//! - [`fleet`]: the operations view (leaders, schedulers, workers, queues, tenants' activity).
//! - [`dead_letters`]: the dead-letter queue: list, replay, discard.
//! - [`tenants`]: the operator's list of tenants; a tenant's own settings and API keys.
//! - [`oauth`]: OAuth access tokens for API keys (`POST /oauth/token`).
//! - [`jobs`], [`schedules`], [`runs`], [`audit`], [`global`]: SAP's resources.
//! - [`search`]: SAP's search of jobs and schedules.
//! - [`run_search`]: the tenant-wide run search.
//! - [`stats`]: a job's run statistics (chime's).
//! - [`notifications`]: a job's notifications and their deliveries (chime's).
//!
//! The dialects ([`crate::dialects`]) and the extras ([`crate::extras`]) are mounted here too,
//! and the dashboard ([`crate::ui`]), undocumented.

pub mod admin;
pub mod audit;
pub mod dead_letters;
pub mod fires;
pub mod fleet;
pub mod global;
pub mod jobs;
pub mod lifecycle;
pub mod notifications;
pub mod oauth;
pub mod ops;
pub mod run_search;
pub mod runs;
pub mod schedules;
pub mod search;
pub mod stats;
pub mod tenants;

use crate::dialects::{a1base, apify, huawei, losant};
use crate::error::ApiError;
use crate::extras::{export, live};
use crate::openapi::{ApiDoc, DOCS_PATH, DOCUMENT_PATH};
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use std::time::{Duration, Instant};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

/// Every route of the API but the document's own two, each with its documentation. (One
/// `routes!` per path: it mounts each handler on the path of its `#[utoipa::path]`.)
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(oauth::token))
        .routes(routes!(tenants::list_tenants, admin::create_tenant))
        .routes(routes!(
            tenants::get_tenant,
            admin::configure_tenant,
            lifecycle::delete_tenant
        ))
        .routes(routes!(tenants::own_tenant))
        .routes(routes!(tenants::own_keys, tenants::create_own_key))
        .routes(routes!(tenants::revoke_own_key))
        .routes(routes!(admin::create_key, lifecycle::list_keys))
        .routes(routes!(lifecycle::revoke_key))
        .routes(routes!(admin::rotate_signing_secret))
        .routes(routes!(fleet::operations))
        .routes(routes!(dead_letters::list_dead_letters))
        .routes(routes!(dead_letters::replay_dead_letter))
        .routes(routes!(dead_letters::discard_dead_letter))
        .routes(routes!(audit::action_logs))
        .routes(routes!(jobs::list_jobs, jobs::create_job))
        .routes(routes!(jobs::job_count))
        .routes(routes!(run_search::search_runs))
        .routes(routes!(runs::get_tenant_run))
        .routes(routes!(search::search_jobs))
        .routes(routes!(search::search_schedules))
        .routes(routes!(
            global::get_global_parameters,
            global::put_global_parameters
        ))
        .routes(routes!(jobs::get_job, jobs::put_job, jobs::delete_job))
        .routes(routes!(
            schedules::list_schedules,
            schedules::create_schedule,
            schedules::delete_schedules
        ))
        .routes(routes!(schedules::activation_status))
        .routes(routes!(
            schedules::get_schedule,
            schedules::put_schedule,
            schedules::delete_schedule
        ))
        .routes(routes!(fires::list_fires))
        .routes(routes!(stats::job_stats))
        .routes(routes!(notifications::job_notifications))
        .routes(routes!(runs::list_runs, runs::run_now))
        .routes(routes!(runs::get_run, runs::update_run))
        .routes(routes!(live::live_tail))
        .routes(routes!(export::export))
        .routes(routes!(a1base::a1base_logs))
        .routes(routes!(apify::apify_log))
        .routes(routes!(huawei::huawei_log))
        .routes(routes!(losant::losant_list))
        .routes(routes!(losant::losant_one))
}

/// Every route the API serves with its methods (lower case): those of [`api`] and the
/// document's own (`/openapi.json`, `/docs`). The route-coverage test compares this table
/// with the served document.
pub fn route_table() -> Vec<(String, Vec<String>)> {
    let doc = api().into_openapi();
    let mut table: Vec<(String, Vec<String>)> = doc
        .paths
        .paths
        .iter()
        .map(|(path, item)| {
            let methods = [
                ("get", item.get.is_some()),
                ("put", item.put.is_some()),
                ("post", item.post.is_some()),
                ("delete", item.delete.is_some()),
                ("options", item.options.is_some()),
                ("head", item.head.is_some()),
                ("patch", item.patch.is_some()),
                ("trace", item.trace.is_some()),
            ];
            let served = methods
                .iter()
                .filter(|(_, on)| *on)
                .map(|(m, _)| m.to_string())
                .collect();
            (path.clone(), served)
        })
        .collect();
    for path in [DOCUMENT_PATH, DOCS_PATH] {
        table.push((path.to_string(), vec!["get".to_string()]));
    }
    table
}

/// The API's router: [`api`], the document and Swagger UI, the fallback 404, the body limit,
/// the body and request timeouts, and the request metrics.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_request_bytes;
    let body_timeout = Duration::from_millis(state.settings.api_body_timeout_ms);
    let request_timeout = Duration::from_millis(state.settings.api_request_timeout_ms);
    let (routes, paths) = api().split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    let token_url = format!(
        "{}/oauth/token",
        state.settings.public_url.trim_end_matches('/')
    );
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            crate::openapi::OAUTH2,
            crate::openapi::oauth2_scheme(&token_url),
        );
    routes
        .merge(SwaggerUi::new(DOCS_PATH).url(DOCUMENT_PATH, doc))
        .merge(crate::ui::router(state.clone()))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(middleware::from_fn(observe))
        .with_state(state)
}

async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("chime_api_requests_total", "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("chime_api_request_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    resp
}
