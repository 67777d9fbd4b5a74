//! Test support for chime's end-to-end tests: a namespace per test on the real Redis and
//! RabbitMQ, in-process or out-of-process services, a local HTTP target that records its
//! calls, an API client, and `wait_until` (conditions with deadlines, never bare sleeps).

use chime_broker::Topology;
use chime_runtime::config::Settings;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Settings for one test: its own namespace, loopback targets allowed, short leader TTL.
pub fn test_settings() -> Settings {
    let env = vec![
        (
            "CHIME_NAMESPACE".to_string(),
            format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        ),
        ("CHIME_ADMIN_TOKEN".to_string(), ADMIN_TOKEN.to_string()),
        ("CHIME_ALLOW_TARGETS".to_string(), "127.0.0.0/8".to_string()),
        ("CHIME_API_ADDR".to_string(), "127.0.0.1:0".to_string()),
        ("CHIME_OPS_ADDR".to_string(), "127.0.0.1:0".to_string()),
        ("CHIME_LEADER_TTL_MS".to_string(), "1500".to_string()),
        ("CHIME_WORKER_CONCURRENCY".to_string(), "16".to_string()),
        ("CHIME_SHUTDOWN_GRACE_SECS".to_string(), "5".to_string()),
        ("CHIME_RETENTION_SWEEP_SECS".to_string(), "1".to_string()),
    ];
    let mut pass = env;
    for var in ["CHIME_REDIS_URL", "CHIME_AMQP_URL"] {
        if let Ok(v) = std::env::var(var) {
            pass.push((var.to_string(), v));
        }
    }
    Settings::load_from(pass).expect("test settings are valid")
}

/// Polls `cond` until it returns `Some` or `within` passes; panics with `what` on time-out.
pub async fn wait_until<T, F, Fut>(what: &str, within: Duration, mut cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = cond().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A service running inside the test process.
pub struct Running {
    cancel: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops the service gracefully and waits for it.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.handle).await;
    }
}

/// One test's world: settings, API address and client.
pub struct TestEnv {
    pub settings: Settings,
    pub api: Option<SocketAddr>,
    services: Vec<Running>,
    pub http: reqwest::Client,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            settings: test_settings(),
            api: None,
            services: vec![],
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    /// A test world with the API, a scheduler and a worker running in-process.
    pub async fn cluster() -> TestEnv {
        let mut env = TestEnv::new();
        env.start_api().await;
        env.start_scheduler().await;
        env.start_worker().await;
        env
    }

    pub fn namespace(&self) -> &str {
        &self.settings.namespace
    }

    /// Starts the API in-process.
    pub async fn start_api(&mut self) -> SocketAddr {
        let api = chime_api::Api::build(self.settings.clone())
            .await
            .expect("api builds");
        let addr = api.local_addr();
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(api.run(cancel.clone()));
        self.services.push(Running { cancel, handle });
        self.api = Some(addr);
        addr
    }

    pub async fn start_scheduler(&mut self) {
        let s = chime_scheduler::Scheduler::build(self.settings.clone())
            .await
            .expect("scheduler builds");
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(s.run(cancel.clone()));
        self.services.push(Running { cancel, handle });
    }

    /// Starts a worker in-process; the returned handle stops it alone.
    pub async fn spawn_worker(&self) -> Running {
        let w = chime_worker::Worker::build(self.settings.clone())
            .await
            .expect("worker builds");
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(w.run(cancel.clone()));
        Running { cancel, handle }
    }

    pub async fn start_worker(&mut self) {
        let w = self.spawn_worker().await;
        self.services.push(w);
    }

    /// The environment of an out-of-process service of this test.
    pub fn child_env(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        vec![
            ("CHIME_NAMESPACE".into(), s.namespace.clone()),
            ("CHIME_REDIS_URL".into(), s.redis_url.clone()),
            ("CHIME_AMQP_URL".into(), s.amqp_url.clone()),
            ("CHIME_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
            ("CHIME_ALLOW_TARGETS".into(), s.allow_targets.clone()),
            ("CHIME_OPS_ADDR".into(), "127.0.0.1:0".into()),
            ("CHIME_API_ADDR".into(), "127.0.0.1:0".into()),
            ("CHIME_LEADER_TTL_MS".into(), s.leader_ttl_ms.to_string()),
            (
                "CHIME_WORKER_CONCURRENCY".into(),
                s.worker_concurrency.to_string(),
            ),
            (
                "CHIME_RUNS_PER_MESSAGE".into(),
                s.runs_per_message.to_string(),
            ),
            (
                "CHIME_SHUTDOWN_GRACE_SECS".into(),
                s.shutdown_grace_secs.to_string(),
            ),
            (
                "CHIME_MARK_RUNNING_AFTER_MS".into(),
                s.mark_running_after_ms.to_string(),
            ),
            ("RUST_LOG".into(), "info".into()),
        ]
    }

    /// Starts `chime <service>` (the binary at `bin`: `env!("CARGO_BIN_EXE_chime")` in a
    /// test) as a child process, killed when dropped.
    pub fn spawn_process(&self, bin: &str, service: &str, name: &str) -> tokio::process::Child {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg(service)
            .envs(self.child_env())
            .env("HOSTNAME", name)
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        cmd.spawn().expect("spawn chime binary")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api.expect("api started"), path)
    }

    /// Creates a tenant and a key with `scopes`; returns (tenant id, bearer token).
    pub async fn tenant(&self, scopes: &[&str]) -> (String, String) {
        let t: Value = self
            .http
            .post(self.url("/admin/tenants"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"name": "test"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = t["id"].as_str().unwrap().to_string();
        let k: Value = self
            .http
            .post(self.url(&format!("/admin/tenants/{id}/keys")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"scopes": scopes}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (id, k["token"].as_str().unwrap().to_string())
    }

    /// A request with a tenant token; returns status and JSON body (Null when not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Stops the services and deletes the namespace's keys, queues and exchanges.
    pub async fn cleanup(mut self) {
        for s in self.services.drain(..) {
            s.stop().await;
        }
        purge(&self.settings).await;
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// Deletes every Redis key of the namespace and its RabbitMQ queues and exchanges.
pub async fn purge(s: &Settings) {
    if let Ok(client) = redis::Client::open(s.redis_url.as_str()) {
        if let Ok(mut c) = client.get_multiplexed_async_connection().await {
            let pattern = format!("{}:*", s.namespace);
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(&mut c)
                .await
                .unwrap_or_default();
            for chunk in keys.chunks(500) {
                let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query_async(&mut c).await;
            }
        }
    }
    if let Ok(conn) = chime_broker::connect(&s.amqp_url).await {
        if let Ok(ch) = conn.create_channel().await {
            let topo = Topology::new(&s.namespace, s.delivery_limit);
            let _ = topo.delete(&ch).await;
        }
        let _ = conn.close(200, "cleanup".into()).await;
    }
}

/// One call a [`Target`] received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How a [`Target`] answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// When set, calls wait until the gate opens (see [`Target::open_gate`]).
    pub gated: bool,
    /// How long each call takes before it answers (or waits at the gate).
    pub delay: Duration,
}

/// A call being answered, counted in a [`Target`]'s calls in flight until dropped (also when
/// the caller goes away mid-call).
struct Answering<'a>(&'a (AtomicUsize, AtomicUsize));

impl<'a> Answering<'a> {
    fn start(counts: &'a (AtomicUsize, AtomicUsize)) -> Self {
        let now = counts.0.fetch_add(1, Ordering::SeqCst) + 1;
        counts.1.fetch_max(now, Ordering::SeqCst);
        Answering(counts)
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A local HTTP server jobs call: it records every call and answers as configured.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    reply: Arc<Mutex<Reply>>,
    gate: Arc<tokio::sync::Notify>,
    open: Arc<AtomicBool>,
    /// Calls being answered now, and the most at once so far.
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Target {
    pub async fn start() -> Target {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let t = Target {
            addr: listener.local_addr().unwrap(),
            hits: Arc::default(),
            reply: Arc::new(Mutex::new(Reply {
                status: 200,
                body: "{\"message\":\"done\"}".into(),
                gated: false,
                delay: Duration::ZERO,
            })),
            gate: Arc::new(tokio::sync::Notify::new()),
            open: Arc::new(AtomicBool::new(false)),
            in_flight: Arc::default(),
        };
        let state = t.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let state = state.clone();
            async move { state.serve(req).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        t
    }

    async fn serve(&self, req: axum::extract::Request) -> axum::response::Response {
        use axum::response::IntoResponse;
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        self.hits.lock().unwrap().push(Hit {
            at: Instant::now(),
            method: parts.method.to_string(),
            path: parts.uri.to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: String::from_utf8_lossy(&body).to_string(),
        });
        let _answering = Answering::start(&self.in_flight);
        let reply = self.reply.lock().unwrap().clone();
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await; // the target's configured latency
        }
        if reply.gated {
            while !self.open.load(Ordering::SeqCst) {
                let notified = self.gate.notified();
                if self.open.load(Ordering::SeqCst) {
                    break;
                }
                notified.await;
            }
        }
        (
            axum::http::StatusCode::from_u16(reply.status).unwrap(),
            reply.body,
        )
            .into_response()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Sets the status, body and gate of every answer (the delay stays as set).
    pub fn set_reply(&self, status: u16, body: &str, gated: bool) {
        let mut reply = self.reply.lock().unwrap();
        reply.status = status;
        reply.body = body.into();
        reply.gated = gated;
    }

    /// Makes every call take `delay` to answer.
    pub fn set_delay(&self, delay: Duration) {
        self.reply.lock().unwrap().delay = delay;
    }

    /// The most calls the target was answering at once.
    pub fn most_in_flight(&self) -> usize {
        self.in_flight.1.load(Ordering::SeqCst)
    }

    /// Lets gated calls (waiting and future) answer.
    pub fn open_gate(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.gate.notify_waiters();
    }
}

/// Creates a job with one schedule through the API; returns (job id, schedule id).
pub async fn create_job(
    env: &TestEnv,
    token: &str,
    name: &str,
    action: &str,
    schedule: Value,
) -> (u64, String) {
    let (status, body) = env
        .call(
            "POST",
            "/scheduler/jobs",
            token,
            Some(json!({
                "name": name,
                "description": "test job",
                "action": action,
                "active": true,
                "httpMethod": "POST",
                "schedules": [schedule],
            })),
        )
        .await;
    assert_eq!(status, 201, "create job: {body}");
    (
        body["_id"].as_u64().unwrap(),
        body["schedules"][0]["scheduleId"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// The whole run log of a schedule (newest first).
pub async fn runs(env: &TestEnv, token: &str, job: u64, schedule: &str) -> (u64, Vec<Value>) {
    let (status, body) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job}/schedules/{schedule}/runs?page_size=200"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "runs: {body}");
    (
        body["total"].as_u64().unwrap(),
        body["results"].as_array().unwrap().clone(),
    )
}

/// Activates or deactivates every schedule of a job.
pub async fn set_active(env: &TestEnv, token: &str, job: u64, on: bool) {
    let (st, body) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job}/schedules/activationStatus"),
            token,
            Some(json!({"activationStatus": on})),
        )
        .await;
    assert_eq!(st, 200, "{body}");
}

/// Waits until every run of a schedule is completed; returns its run log (newest first).
pub async fn all_completed(env: &TestEnv, token: &str, job: u64, schedule: &str) -> Vec<Value> {
    wait_until("every run completed", Duration::from_secs(20), || async {
        let (_, list) = runs(env, token, job, schedule).await;
        list.iter()
            .all(|r| r["runStatus"] == "COMPLETED")
            .then_some(list)
    })
    .await
}
