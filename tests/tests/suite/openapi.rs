//! The OpenAPI contract: `/openapi.json` describes every route the API serves (the routes are
//! read from the crate's router table, not from a list kept here), parses as a valid OpenAPI
//! 3.1 document with every reference resolved, and `/docs` renders it.

use chime_testkit::TestEnv;
use serde_json::Value;

/// The routes real clients rely on, with their methods: none may disappear or change.
const PINNED: &[(&str, &[&str])] = &[
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/openapi.json", &["get"]),
    ("/docs", &["get"]),
    ("/oauth/token", &["post"]),
    ("/admin/tenants", &["get", "post"]),
    ("/admin/tenants/{tenantId}", &["get", "put", "delete"]),
    ("/admin/tenants/{tenantId}/keys", &["post", "get"]),
    ("/admin/tenants/{tenantId}/keys/{keyId}", &["delete"]),
    ("/admin/tenants/{tenantId}/signingSecret", &["post"]),
    ("/admin/operations", &["get"]),
    ("/scheduler/tenant", &["get"]),
    ("/scheduler/keys", &["get", "post"]),
    ("/scheduler/keys/{keyId}", &["delete"]),
    ("/admin/deadLetters", &["get"]),
    ("/admin/deadLetters/{letterId}/replay", &["post"]),
    ("/admin/deadLetters/{letterId}", &["delete"]),
    ("/scheduler/actionLogs", &["get"]),
    ("/scheduler/jobCount", &["get"]),
    ("/scheduler/runs", &["get"]),
    ("/scheduler/runs/{runId}", &["get"]),
    ("/scheduler/search/jobs", &["get"]),
    ("/scheduler/search/schedules", &["get"]),
    ("/scheduler/globalParameters", &["get", "put"]),
    ("/scheduler/jobs", &["get", "post"]),
    ("/scheduler/jobs/{jobId}", &["get", "put", "delete"]),
    (
        "/scheduler/jobs/{jobId}/schedules",
        &["get", "post", "delete"],
    ),
    (
        "/scheduler/jobs/{jobId}/schedules/activationStatus",
        &["post"],
    ),
    (
        "/scheduler/jobs/{jobId}/schedules/{scheduleId}",
        &["get", "put", "delete"],
    ),
    (
        "/scheduler/jobs/{jobId}/schedules/{scheduleId}/fires",
        &["get"],
    ),
    (
        "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs",
        &["get", "post"],
    ),
    (
        "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}",
        &["get", "put"],
    ),
    ("/scheduler/jobs/{jobId}/runs/stream", &["get"]),
    ("/scheduler/jobs/{jobId}/stats", &["get"]),
    ("/scheduler/jobs/{jobId}/notifications", &["get"]),
    ("/scheduler/jobs/{jobId}/runs/export", &["get"]),
    ("/v1/cron-jobs/{accountId}/logs/{cronJobId}", &["get"]),
    ("/v2/schedules/{scheduleId}/log", &["get"]),
    ("/v1/log/{jobId}/{buildNo}/real-time-log", &["get"]),
    ("/applications/{applicationId}/jobLogs", &["get"]),
    ("/applications/{applicationId}/jobLogs/{jobLogId}", &["get"]),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn fetch_document(env: &TestEnv) -> (String, Value) {
    let resp = env.http.get(env.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let text = resp.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    (text, doc)
}

/// Every `$ref` in `v`, recursively.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// A running API and its document.
async fn document() -> (TestEnv, Value) {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, doc) = fetch_document(&env).await;
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "{version}");
    (env, doc)
}

/// Every route the router serves is documented with exactly its methods, the routes clients
/// rely on are still served, and no method is served undocumented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_every_route() {
    let (env, doc) = document().await;
    let paths = doc["paths"].as_object().expect("paths");
    // The routes the router serves, from the table it is built from: each is in the
    // document with exactly its methods, and the document lists nothing else.
    let served = chime_api::routes::route_table();
    for (path, methods) in &served {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is served but missing from the document"));
        let mut documented: Vec<&str> = METHODS
            .iter()
            .copied()
            .filter(|m| item.get(*m).is_some())
            .collect();
        documented.sort_unstable();
        let mut expected: Vec<&str> = methods.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(documented, expected, "methods of {path}");
    }
    assert_eq!(
        paths.len(),
        served.len(),
        "documented paths that are not served: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    // The routes clients rely on are all still served, with the same methods.
    for (path, methods) in PINNED {
        let (_, got) = served
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("{path} is no longer served"));
        let mut got: Vec<&str> = got.iter().map(String::as_str).collect();
        got.sort_unstable();
        let mut want = methods.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "methods of {path}");
    }
    assert_eq!(served.len(), PINNED.len(), "routes added: pin them here");
    // The router answers every method of the table on its path (never the fallback's 404
    // nor a 405), and every other method with 405: no method is served undocumented.
    for (path, methods) in &served {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for m in METHODS {
            if m == "head" {
                continue; // axum answers HEAD wherever GET is served
            }
            let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let resp = env
                .http
                .request(method, env.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if methods.iter().any(|x| x == m) {
                assert!(
                    status != 405 && !(status == 404 && body.contains("no such route")),
                    "{m} {path} is documented but not served: {status} {body}"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{m} {path} is served but not documented: {body}"
                );
            }
        }
    }

    env.cleanup().await;
}

/// Every operation has a unique id, one tag, its path parameters and a success response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_declares_its_path_parameters_and_a_success() {
    let (env, doc) = document().await;
    let paths = doc["paths"].as_object().expect("paths");
    // Path parameters are declared for every `{name}` of every operation's path.
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in paths {
        let wanted: Vec<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let id = op["operationId"].as_str().expect("an operationId");
            assert!(operation_ids.insert(id.to_string()), "duplicate id {id}");
            assert!(
                op["tags"].as_array().is_some_and(|t| t.len() == 1),
                "{m} {path}"
            );
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let declared: Vec<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(declared, wanted, "path parameters of {m} {path}");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{m} {path} has no success response"
            );
        }
    }

    env.cleanup().await;
}

/// The query parameters of each dialect and of SAP's lists, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_documents_its_query_parameters() {
    let (env, doc) = document().await;
    // Query parameters of each dialect.
    let query = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (path, method, names) in [
        ("/admin/deadLetters", "get", &["offset", "limit"][..]),
        (
            "/scheduler/jobs",
            "get",
            &[
                "page_size",
                "offset",
                "name",
                "jobId",
                "displaySchedules",
                "jobType",
                "tenantId",
                "filter",
                "sort_by",
                "sort_order",
            ][..],
        ),
        (
            "/scheduler/search/jobs",
            "get",
            &["q", "page_size", "offset", "displaySchedules"],
        ),
        (
            "/scheduler/search/schedules",
            "get",
            &["q", "page_size", "offset", "displaySchedules"],
        ),
        (
            "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs",
            "get",
            &["page_size", "offset", "next", "prev"],
        ),
        ("/scheduler/actionLogs", "get", &["jobId", "scheduleId"]),
        (
            "/scheduler/runs",
            "get",
            &[
                "status",
                "state",
                "outcome",
                "jobId",
                "from",
                "to",
                "httpStatus",
                "durationAbove",
                "bodyContains",
                "limit",
                "cursor",
            ][..],
        ),
        (
            "/scheduler/jobs/{jobId}/runs/export",
            "get",
            &["from", "to"],
        ),
        (
            "/v1/cron-jobs/{accountId}/logs/{cronJobId}",
            "get",
            &["page", "limit", "status", "start_date", "end_date"],
        ),
        ("/v2/schedules/{scheduleId}/log", "get", &["token"]),
        (
            "/v1/log/{jobId}/{buildNo}/real-time-log",
            "get",
            &["start_offset", "end_offset", "size", "sort"],
        ),
        (
            "/applications/{applicationId}/jobLogs",
            "get",
            &["page", "perPage", "sortField", "sortDirection"],
        ),
    ] {
        let got = query(path, method);
        assert_eq!(got, names, "query parameters of {method} {path}");
    }

    env.cleanup().await;
}

/// Every write documents its JSON request body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_documents_its_request_body() {
    let (env, doc) = document().await;
    // Request bodies of the writes.
    for (path, method) in [
        ("/admin/tenants", "post"),
        ("/admin/tenants/{tenantId}", "put"),
        ("/admin/tenants/{tenantId}/keys", "post"),
        ("/scheduler/jobs", "post"),
        ("/scheduler/jobs/{jobId}", "put"),
        ("/scheduler/jobs/{jobId}/schedules", "post"),
        ("/scheduler/jobs/{jobId}/schedules/activationStatus", "post"),
        ("/scheduler/jobs/{jobId}/schedules/{scheduleId}", "put"),
        (
            "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}",
            "put",
        ),
    ] {
        let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
        assert!(
            body["schema"].is_object(),
            "request body of {method} {path}"
        );
    }

    env.cleanup().await;
}

/// Response schemas carry each dialect's documented fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_schemas_carry_each_dialects_fields() {
    let (env, doc) = document().await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let fields = |name: &str| -> Vec<String> {
        let s = &schemas.get(name).unwrap_or_else(|| panic!("schema {name}"));
        let mut out: Vec<String> = s["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        // `allOf` parts (flattened structs).
        for part in s["allOf"].as_array().into_iter().flatten() {
            if let Some(p) = part["properties"].as_object() {
                out.extend(p.keys().cloned());
            }
            if let Some(r) = part["$ref"].as_str() {
                let inner = &schemas[r.trim_start_matches("#/components/schemas/")];
                out.extend(inner["properties"].as_object().unwrap().keys().cloned());
            }
        }
        out
    };
    for (schema, wanted) in [
        (
            "SapRunLog",
            &[
                "runId",
                "runText",
                "httpStatus",
                "executionTimestamp",
                "runStatus",
                "runState",
                "scheduleTimestamp",
                "completionTimestamp",
            ][..],
        ),
        (
            "RunDetail",
            &[
                "runId",
                "runNumber",
                "outcome",
                "responseBody",
                "errorMessage",
                "durationMs",
                "attempt",
                "worker",
                "log",
            ],
        ),
        (
            "SapJob",
            &["_id", "name", "action", "active", "httpMethod", "schedules"],
        ),
        (
            "SapSchedule",
            &["scheduleId", "jobId", "type", "nextRunAt", "cron", "logs"],
        ),
        ("SapError", &["code", "message", "type", "detailedError"]),
        ("A1BaseLogPage", &["data", "pagination"]),
        (
            "A1BaseExecution",
            &[
                "id",
                "cron_job_id",
                "executed_at",
                "status",
                "response_code",
                "response_body",
                "error_message",
            ],
        ),
        ("A1BaseError", &["success", "error"]),
        ("ApifyLogEntry", &["message", "level", "createdAt"]),
        ("ApifyError", &["error"]),
        (
            "HuaweiLogResult",
            &["start_offset", "end_offset", "log", "has_more", "location"],
        ),
        ("HuaweiError", &["error_code", "error_msg"]),
        (
            "LosantJobLog",
            &[
                "id",
                "applicationJobLogId",
                "applicationId",
                "status",
                "runQueuedAt",
                "details",
            ],
        ),
        (
            "LosantJobLogList",
            &["items", "count", "totalCount", "perPage", "page"],
        ),
        ("LosantError", &["type", "message"]),
    ] {
        let got = fields(schema);
        for f in wanted {
            assert!(got.iter().any(|g| g == f), "{schema} lacks {f}: {got:?}");
        }
    }
    env.cleanup().await;
}

/// Each dialect's errors have its own shape in the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_dialect_documents_its_own_error_shape() {
    let (env, doc) = document().await;
    let error_schema = |path: &str| -> String {
        let content = &doc["paths"][path]["get"]["responses"]["404"]["content"];
        let r = content["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("404 of {path}: {content}"));
        r.trim_start_matches("#/components/schemas/").to_string()
    };
    for (path, schema) in [
        ("/scheduler/jobs/{jobId}", "SapError"),
        ("/scheduler/jobs/{jobId}/runs/export", "SapError"),
        ("/v1/cron-jobs/{accountId}/logs/{cronJobId}", "A1BaseError"),
        ("/v2/schedules/{scheduleId}/log", "ApifyError"),
        ("/v1/log/{jobId}/{buildNo}/real-time-log", "HuaweiError"),
        ("/applications/{applicationId}/jobLogs", "LosantError"),
        (
            "/applications/{applicationId}/jobLogs/{jobLogId}",
            "LosantError",
        ),
    ] {
        assert_eq!(error_schema(path), schema, "error shape of {path}");
    }

    env.cleanup().await;
}

/// Security: every way of presenting a key, and the admin token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_schemes_cover_every_way_of_presenting_a_key() {
    let (env, doc) = document().await;
    // Security: every way of presenting a key, and the admin token.
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert_eq!(schemes["bearerKey"]["scheme"], "bearer");
    assert_eq!(
        schemes["bearerKey"]["bearerFormat"],
        "<keyId>.<secret> or JWT"
    );
    // OAuth: the client credentials flow, its token URL and the scopes it grants.
    let flow = &schemes["oauth2"]["flows"]["clientCredentials"];
    let token_url = flow["tokenUrl"].as_str().unwrap();
    assert!(token_url.ends_with("/oauth/token"), "{flow}");
    for scope in ["read", "write", "run-update", "admin"] {
        assert!(flow["scopes"][scope].is_string(), "{scope}: {flow}");
    }
    assert_eq!(schemes["clientBasic"]["scheme"], "basic");
    assert_eq!(schemes["basicKey"]["scheme"], "basic");
    assert_eq!(schemes["apiKeyId"]["name"], "X-API-Key");
    assert_eq!(schemes["apiKeySecret"]["name"], "X-API-Secret");
    assert_eq!(schemes["authToken"]["name"], "X-Auth-Token");
    assert_eq!(schemes["adminToken"]["scheme"], "bearer");
    let security = |path: &str, method: &str| -> Vec<Vec<String>> {
        doc["paths"][path][method]["security"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|req| req.as_object().unwrap().keys().cloned().collect())
            .collect()
    };
    assert_eq!(security("/admin/tenants", "post"), [["adminToken"]]);
    let tenant_security = security("/scheduler/jobs", "get");
    for req in [
        &["bearerKey"][..],
        &["basicKey"],
        &["apiKeyId", "apiKeySecret"],
        &["authToken"],
    ] {
        assert!(
            tenant_security.iter().any(|r| r == req),
            "{req:?} not in {tenant_security:?}"
        );
    }
    assert!(security("/healthz", "get").is_empty());
    let token = security("/oauth/token", "post");
    assert!(token.iter().any(|r| r == &["clientBasic"]), "{token:?}");

    env.cleanup().await;
}

/// Tags: one per dialect, and every operation carries one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_carries_one_of_the_tags() {
    let (env, doc) = document().await;
    let paths = doc["paths"].as_object().expect("paths");
    // Tags: one per dialect, and every operation carries one of them.
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        ["admin", "oauth", "sap", "a1base", "apify", "huawei", "losant", "live", "ops"]
    );
    for item in paths.values() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                assert!(tags.contains(&op["tags"][0].as_str().unwrap()));
            }
        }
    }

    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_valid() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (text, doc) = fetch_document(&env).await;

    // Strict structural parse as an OpenAPI 3.1 document.
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1));
    let mut operations = 0;
    for (path, method, op) in spec.operations() {
        operations += 1;
        for p in &op.parameters {
            p.resolve(&spec)
                .unwrap_or_else(|e| panic!("{method} {path}: parameter: {e}"));
        }
        op.request_body(&spec)
            .unwrap_or_else(|e| panic!("{method} {path}: request body: {e}"));
        let responses = op.responses(&spec);
        assert_eq!(
            responses.len(),
            op.responses.as_ref().map_or(0, |r| r.len()),
            "{method} {path}: a response does not resolve"
        );
        for (status, resp) in &responses {
            for (ctype, media) in &resp.content {
                media
                    .schema(&spec)
                    .unwrap_or_else(|e| panic!("{method} {path} {status} {ctype}: {e}"));
            }
        }
    }
    assert_eq!(
        operations,
        chime_api::routes::route_table()
            .iter()
            .map(|(_, m)| m.len())
            .sum::<usize>()
    );

    // Every reference anywhere points at a component that exists.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling reference {r}"
        );
    }

    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_render_the_document() {
    let mut env = TestEnv::new();
    env.start_api().await;

    // `/docs` sends the browser to `/docs/`, where Swagger UI's page is served.
    let resp = env.http.get(env.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.url().path().starts_with("/docs"));
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");

    // Its assets are served locally, and the UI is pointed at this document.
    let init = env
        .http
        .get(env.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/openapi.json"));
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"] {
        let r = env.http.get(env.url(asset)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{asset}");
    }

    env.cleanup().await;
}
