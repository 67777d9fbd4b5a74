//! A typed client of chime's API: the admin calls that set a test up, the tenant calls tests
//! make most, and [`ApiClient::call`] for everything else (status and JSON, unchecked).

use serde_json::{json, Value};

/// A client of one API address; cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    admin: String,
}

/// A job as `POST /scheduler/jobs` answered it.
#[derive(Clone, Debug)]
pub struct CreatedJob {
    pub id: u64,
    /// The schedules' ids, in the order they were sent.
    pub schedules: Vec<String>,
    pub body: Value,
}

/// A page of a schedule's run log.
#[derive(Clone, Debug)]
pub struct RunPage {
    pub total: u64,
    /// Newest first.
    pub results: Vec<Value>,
}

impl ApiClient {
    /// `base` is the API's root URL (`http://127.0.0.1:port`), `admin` its admin token.
    pub fn new(http: reqwest::Client, base: &str, admin: &str) -> ApiClient {
        ApiClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            admin: admin.to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with `token`; returns status and JSON body (Null when not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().expect("an HTTP method"), self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the API answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("the API's answer is read");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A call that must answer `expect`; returns its JSON body.
    pub async fn expect(
        &self,
        expect: u16,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, v) = self.call(method, path, token, body).await;
        assert_eq!(status, expect, "{method} {path}: {v}");
        v
    }

    /// A new tenant; returns its id.
    pub async fn create_tenant(&self, name: &str) -> String {
        let admin = self.admin.clone();
        let t = self
            .expect(
                201,
                "POST",
                "/admin/tenants",
                &admin,
                Some(json!({"name": name})),
            )
            .await;
        t["id"].as_str().expect("tenant id").to_string()
    }

    /// A new key of `tenant` with `scopes`; returns its bearer token.
    pub async fn create_key(&self, tenant: &str, scopes: &[&str]) -> String {
        let admin = self.admin.clone();
        let path = format!("/admin/tenants/{tenant}/keys");
        let k = self
            .expect(201, "POST", &path, &admin, Some(json!({"scopes": scopes})))
            .await;
        k["token"].as_str().expect("token").to_string()
    }

    /// Sets tenant settings (`runsPerMinute`, `runRetentionDays`, …).
    pub async fn configure_tenant(&self, tenant: &str, settings: Value) {
        let admin = self.admin.clone();
        let path = format!("/admin/tenants/{tenant}");
        self.expect(200, "PUT", &path, &admin, Some(settings)).await;
    }

    /// Creates a job from a full SAP body; it must answer 201.
    pub async fn create_job(&self, token: &str, body: Value) -> CreatedJob {
        let v = self
            .expect(201, "POST", "/scheduler/jobs", token, Some(body))
            .await;
        let schedules = v["schedules"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["scheduleId"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        CreatedJob {
            id: v["_id"].as_u64().expect("job id"),
            schedules,
            body: v,
        }
    }

    /// A page of a schedule's run log (`query` as in the API, e.g. `page_size=200`).
    pub async fn runs(&self, token: &str, job: u64, schedule: &str, query: &str) -> RunPage {
        let path = format!("/scheduler/jobs/{job}/schedules/{schedule}/runs?{query}");
        let v = self.expect(200, "GET", &path, token, None).await;
        RunPage {
            total: v["total"].as_u64().expect("total"),
            results: v["results"].as_array().expect("results").clone(),
        }
    }

    /// Activates or deactivates every schedule of a job.
    pub async fn set_active(&self, token: &str, job: u64, on: bool) {
        let path = format!("/scheduler/jobs/{job}/schedules/activationStatus");
        let body = json!({"activationStatus": on});
        self.expect(200, "POST", &path, token, Some(body)).await;
    }
}
