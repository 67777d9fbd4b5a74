//! One test's world: settings with a namespace of its own, the services it starts (in-process
//! or as child processes), and an API client. Dropping it stops the in-process services and
//! purges the namespace, so a failing test leaves nothing behind either.

use crate::client::ApiClient;
use chime_runtime::config::Settings;
use chime_store::{Store, Target};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const ADMIN_TOKEN: &str = "test-admin-token";
/// The tests' keyring for secret headers (a fixed 32-byte key; never used outside tests).
pub const TEST_SECRET_KEYS: &str = "test:dGVzdC1rZXktb2YtY2hpbWUtc2VjcmV0LWhlYWRlciE=";

/// Settings for one test: its own namespace, loopback targets allowed, short leader TTL.
pub fn test_settings() -> Settings {
    let mut env = vec![
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
        ("CHIME_ASYNC_SWEEP_SECS".to_string(), "1".to_string()),
        (
            "CHIME_SECRET_KEYS".to_string(),
            TEST_SECRET_KEYS.to_string(),
        ),
    ];
    for var in ["CHIME_REDIS_URL", "CHIME_REDIS_CLUSTER", "CHIME_AMQP_URL"] {
        if let Ok(v) = std::env::var(var) {
            env.push((var.to_string(), v));
        }
    }
    Settings::load_from(env).expect("test settings are valid")
}

/// A service running inside the test process.
pub struct Running {
    cancel: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Runs `service` (a built scheduler, worker or API's `run`) until stopped.
    pub fn spawn<F>(run: impl FnOnce(CancellationToken) -> F) -> Running
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(run(cancel.clone()));
        Running { cancel, handle }
    }

    /// Stops the service gracefully and waits for it.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.handle).await;
    }

    /// Stops it at once (the test is over, or failed).
    fn abort(&self) {
        self.cancel.cancel();
        self.handle.abort();
    }
}

/// One test's world: settings, the API's address and a client of it.
pub struct TestEnv {
    pub settings: Settings,
    pub api: Option<SocketAddr>,
    services: Vec<Running>,
    pub http: reqwest::Client,
    purged: bool,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv::with_settings(test_settings())
    }

    /// A world of these settings (its namespace is purged at the end).
    pub fn with_settings(settings: Settings) -> TestEnv {
        TestEnv {
            settings,
            api: None,
            services: vec![],
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            purged: false,
        }
    }

    /// A test world with only the API running in-process: nothing fires, so the runs it reads
    /// are the ones a test seeds ([`crate::seed`]).
    pub async fn api_only() -> TestEnv {
        let mut env = TestEnv::new();
        env.start_api().await;
        env
    }

    /// A test world with the API, a scheduler and a worker running in-process.
    pub async fn cluster() -> TestEnv {
        TestEnv::cluster_with(test_settings()).await
    }

    /// [`TestEnv::cluster`] with these settings.
    pub async fn cluster_with(settings: Settings) -> TestEnv {
        let mut env = TestEnv::with_settings(settings);
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
        self.services.push(Running::spawn(|c| api.run(c)));
        self.api = Some(addr);
        addr
    }

    pub async fn start_scheduler(&mut self) {
        let s = chime_scheduler::Scheduler::build(self.settings.clone())
            .await
            .expect("scheduler builds");
        self.services.push(Running::spawn(|c| s.run(c)));
    }

    /// Starts a worker in-process; the returned handle stops it alone.
    pub async fn spawn_worker(&self) -> Running {
        let w = chime_worker::Worker::build(self.settings.clone())
            .await
            .expect("worker builds");
        Running::spawn(|c| w.run(c))
    }

    pub async fn start_worker(&mut self) {
        let w = self.spawn_worker().await;
        self.services.push(w);
    }

    /// The store of this world, for tests that seed or inspect runs directly.
    pub async fn store(&self) -> Store {
        let s = &self.settings;
        let retention = chime_scheduler::retention(s);
        let target = Target::of(&s.redis_url, s.redis_cluster);
        Store::connect_to(target, &s.namespace, retention, s.due_partitions)
            .await
            .expect("redis reachable")
            .with_scheduler_shards(s.scheduler_shards)
    }

    /// The environment of an out-of-process service of this test.
    pub fn child_env(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        vec![
            ("CHIME_NAMESPACE".into(), s.namespace.clone()),
            ("CHIME_REDIS_URL".into(), s.redis_url.clone()),
            ("CHIME_REDIS_CLUSTER".into(), s.redis_cluster.to_string()),
            (
                "CHIME_SCHEDULER_SHARDS".into(),
                s.scheduler_shards.to_string(),
            ),
            ("CHIME_AMQP_URL".into(), s.amqp_url.clone()),
            ("CHIME_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
            ("CHIME_ALLOW_TARGETS".into(), s.allow_targets.clone()),
            ("CHIME_SECRET_KEYS".into(), s.secret_keys.clone()),
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
            (
                "CHIME_MISFIRE_THRESHOLD_SECS".into(),
                s.misfire_threshold_secs.to_string(),
            ),
            (
                "CHIME_MISFIRE_GRACE_SECS".into(),
                s.misfire_grace_secs.to_string(),
            ),
            (
                "CHIME_ASYNC_SWEEP_SECS".into(),
                s.async_sweep_secs.to_string(),
            ),
            (
                "CHIME_NOTIFY_TIMEOUT_MS".into(),
                s.notify_timeout_ms.to_string(),
            ),
            ("CHIME_NOTIFY_POLL_MS".into(), s.notify_poll_ms.to_string()),
            ("RUST_LOG".into(), "info".into()),
        ]
    }

    /// Starts `chime serve <service>` ([`crate::chime_bin`]) as a child process, killed when
    /// dropped.
    pub fn spawn_process(&self, service: &str, name: &str) -> tokio::process::Child {
        self.command(service, name)
            .spawn()
            .expect("spawn chime binary")
    }

    /// Starts `chime serve api` ([`crate::chime_bin`]) as a child process on a free loopback port,
    /// with the environment `extra` over [`TestEnv::child_env`]; waits until it answers, and
    /// makes it this world's API. Killed when dropped.
    pub async fn spawn_api_process(&mut self, extra: &[(&str, &str)]) -> tokio::process::Child {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let child = self
            .command("api", "api-process")
            .env("CHIME_API_ADDR", addr.to_string())
            .envs(extra.iter().copied())
            .spawn()
            .expect("spawn chime binary");
        self.api = Some(addr);
        let health = self.url("/healthz");
        crate::wait_until("the API process answers", Duration::from_secs(30), || {
            let req = self.http.get(&health).send();
            async move { req.await.ok().filter(|r| r.status().is_success()) }
        })
        .await;
        child
    }

    /// The command of `chime serve <service>` with this world's environment.
    fn command(&self, service: &str, name: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(crate::chime_bin());
        cmd.args(["serve", service])
            .envs(self.child_env())
            .env("HOSTNAME", name)
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        cmd
    }

    /// A client of this world's API (started).
    pub fn client(&self) -> ApiClient {
        ApiClient::new(self.http.clone(), &self.url(""), ADMIN_TOKEN)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api.expect("api started"), path)
    }

    /// Creates a tenant and a key with `scopes`; returns (tenant id, bearer token).
    pub async fn tenant(&self, scopes: &[&str]) -> (String, String) {
        let client = self.client();
        let id = client.create_tenant("test").await;
        let token = client.create_key(&id, scopes).await;
        (id, token)
    }

    /// A request with a tenant token; returns status and JSON body (Null when not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.client().call(method, path, token, body).await
    }

    /// Stops the services gracefully (each finishes what it holds), leaving the namespace.
    pub async fn stop_services(&mut self) {
        for s in self.services.drain(..) {
            s.stop().await;
        }
    }

    /// Stops the services gracefully and purges the namespace.
    pub async fn cleanup(mut self) {
        for s in self.services.drain(..) {
            s.stop().await;
        }
        crate::purge(&self.settings, &[]).await;
        self.purged = true;
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestEnv {
    /// A test that ended without `cleanup` (it failed, or did not call it): stop the services
    /// at once and purge the namespace on a thread of its own, since a destructor cannot wait
    /// on the test's runtime.
    fn drop(&mut self) {
        if self.purged {
            return;
        }
        for s in &self.services {
            s.abort();
        }
        let settings = self.settings.clone();
        let purge = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the purge");
            rt.block_on(crate::purge(&settings, &[]));
        });
        let _ = purge.join();
    }
}
