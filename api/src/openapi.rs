//! The API's OpenAPI 3 contract: its info, tags, security schemes and the components no
//! operation names directly. The operations themselves are collected from the handlers'
//! `#[utoipa::path]` annotations as [`crate::routes`] mounts them (utoipa-axum), so the
//! document lists exactly the routes the router serves. Served as `GET /openapi.json` and
//! rendered by Swagger UI at `GET /docs`.

use crate::dialects::a1base::{A1BaseError, A1BaseErrorDetail, A1BaseStatus};
use crate::dialects::apify::{ApifyError, ApifyErrorDetail, ApifyErrorType};
use crate::dialects::huawei::HuaweiError;
use crate::dialects::losant::{LosantError, LosantErrorType, LosantStatus};
use crate::error::SapError;
use crate::wire::admin::KeyScope;
use crate::wire::sap::{
    ActionMethod, Outcome, RunDetail, RunState, RunStatus, SapRunLog, ScheduleType,
};
use crate::wire::Success;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes,
    SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// Security scheme names, as the operations refer to them.
pub const BEARER_KEY: &str = "bearerKey";
pub const BASIC_KEY: &str = "basicKey";
pub const API_KEY_ID: &str = "apiKeyId";
pub const API_KEY_SECRET: &str = "apiKeySecret";
pub const AUTH_TOKEN: &str = "authToken";
pub const QUERY_TOKEN: &str = "queryToken";
pub const ADMIN_TOKEN: &str = "adminToken";
/// The OAuth client's HTTP Basic credentials at `POST /oauth/token`.
pub const CLIENT_BASIC: &str = "clientBasic";
/// OAuth 2.0 access tokens (client credentials).
pub const OAUTH2: &str = "oauth2";

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/openapi.json";
/// Where Swagger UI renders it.
pub const DOCS_PATH: &str = "/docs";

/// The document's frame; [`crate::routes`] adds the operations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chime",
        description = "A multi-tenant, distributed HTTP job scheduler. Its API is the SAP BTP \
            Job Scheduling Service REST API under `/scheduler`, plus the run-log dialects of \
            A1Base, Apify, Huawei CodeArts Build and Losant, a live tail and an export of runs, \
            tenant administration and the ops endpoints.\n\nTenant calls take an API key in any \
            of these forms: `Authorization: Bearer <keyId>.<secret>`, `Authorization: Basic \
            base64(<keyId>:<secret>)`, `X-API-Key: <keyId>` with `X-API-Secret: <secret>`, or \
            `X-Auth-Token: <keyId>.<secret>`. Admin calls take `Authorization: Bearer \
            <admin token>`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(
        SapError, Success, KeyScope, ActionMethod, RunStatus, RunState, SapRunLog, Outcome,
        RunDetail, ScheduleType, A1BaseStatus, A1BaseErrorDetail, A1BaseError, ApifyErrorType,
        ApifyErrorDetail, ApifyError, HuaweiError, LosantStatus, LosantErrorType, LosantError,
    )),
    modifiers(&Security, &DocRoutes),
    tags(
        (name = "admin", description = "Tenants and API keys (admin token)."),
        (name = "oauth", description = "OAuth 2.0 access tokens for API keys (client credentials grant)."),
        (name = "sap", description = "SAP BTP Job Scheduling Service: jobs, schedules, run logs \
            and the audit trail."),
        (name = "a1base", description = "A1Base cron-job execution logs."),
        (name = "apify", description = "Apify schedule logs."),
        (name = "huawei", description = "Huawei CodeArts Build real-time logs."),
        (name = "losant", description = "Losant application job logs."),
        (name = "live", description = "chime's live tail (Server-Sent Events) and export of runs."),
        (name = "ops", description = "Health, readiness, metrics and this document."),
    ),
)]
pub struct ApiDoc;

/// Registers the security schemes.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("<keyId>.<secret> or JWT")
                    .description(Some(
                        "An API key as `Authorization: Bearer <keyId>.<secret>`, or an OAuth access token of a key (`POST /oauth/token`) as `Authorization: Bearer <jwt>`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BASIC_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An API key as `Authorization: Basic base64(<keyId>:<secret>)`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY_ID,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "The key id; sent together with `X-API-Secret`.",
            ))),
        );
        components.add_security_scheme(
            API_KEY_SECRET,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Secret",
                "The key's secret; sent together with `X-API-Key`.",
            ))),
        );
        components.add_security_scheme(
            AUTH_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token",
                "An API key as `<keyId>.<secret>`.",
            ))),
        );
        components.add_security_scheme(
            QUERY_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "An API key as `<keyId>.<secret>` in the `token` query parameter (Apify only).",
            ))),
        );
        components.add_security_scheme(
            CLIENT_BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The OAuth client (an API key) at `POST /oauth/token`: `Authorization: Basic base64(<keyId>:<secret>)`; or `client_id` and `client_secret` in the form.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            ADMIN_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator's token (`CHIME_ADMIN_TOKEN`) as `Authorization: Bearer`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds `GET /openapi.json` and `GET /docs`, which Swagger UI's router serves.
struct DocRoutes;

impl Modify for DocRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let get = |id: &str, summary: &str, ctype: &str, what: &str| {
            OperationBuilder::new()
                .tag("ops")
                .operation_id(Some(id))
                .summary(Some(summary))
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description(what)
                        .content(ctype, ContentBuilder::new().build()),
                )
                .build()
        };
        openapi.paths.add_path_operation(
            DOCUMENT_PATH,
            vec![HttpMethod::Get],
            get(
                "openapi_json",
                "This OpenAPI document",
                "application/json",
                "The OpenAPI 3 document of the API.",
            ),
        );
        openapi.paths.add_path_operation(
            DOCS_PATH,
            vec![HttpMethod::Get],
            get(
                "docs",
                "Swagger UI",
                "text/html",
                "Swagger UI rendering this document (`/docs` redirects to `/docs/`).",
            ),
        );
    }
}

/// The OAuth 2.0 scheme: the client credentials flow at `token_url` (absolute, as OpenAPI
/// asks: the API's public URL), with the scopes a key may hold.
pub fn oauth2_scheme(token_url: &str) -> SecurityScheme {
    SecurityScheme::OAuth2(OAuth2::with_description(
        [Flow::ClientCredentials(ClientCredentials::new(
            token_url,
            Scopes::from_iter([
                ("read", "read jobs, schedules and runs"),
                ("write", "create, change and delete jobs and schedules"),
                ("run-update", "report asynchronous runs"),
                ("admin", "every scope of the tenant"),
            ]),
        ))],
        "An access token of an API key (OAuth 2.0 client credentials), sent as `Authorization: Bearer <jwt>` wherever a key is accepted.",
    ))
}
