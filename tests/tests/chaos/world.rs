//! The chaos suite's world: a Redis of its own with an append-only file (so it can be killed
//! with SIGKILL and restarted from it), a RabbitMQ node of its own (`scripts/rabbitmq-cluster.sh
//! single`, node `chaos1@localhost` on port 5691, so it can be killed and restarted; one chaos
//! run at a time per machine), and chime as separate processes: the API, two schedulers and two workers, each killed,
//! stopped and started again by the faults. Each process logs to a file of its own.

use chime_testkit::{test_settings, wait_until, PrivateRedis, TestEnv};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct World {
    pub env: TestEnv,
    pub redis: PrivateRedis,
    procs: BTreeMap<String, Child>,
    api_addr: String,
    logs: PathBuf,
    started: u32,
}

impl World {
    pub async fn start() -> World {
        let redis = PrivateRedis::with_aof();
        let amqp = broker(&["single"]);
        let mut settings = test_settings();
        settings.redis_url = redis.url();
        settings.amqp_url = amqp;
        settings.redis_cluster = false;
        settings.leader_ttl_ms = 1500;
        settings.repair_sweep_secs = 2;
        settings.shutdown_grace_secs = 10;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let api_addr = format!("127.0.0.1:{port}");
        let mut env = TestEnv::with_settings(settings);
        env.api = Some(api_addr.parse().unwrap());
        let logs =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("chaos-{}", env.namespace()));
        std::fs::create_dir_all(&logs).unwrap();
        let mut w = World {
            env,
            redis,
            procs: BTreeMap::new(),
            api_addr,
            logs,
            started: 0,
        };
        w.spawn("api");
        w.wait_api().await;
        for s in ["scheduler", "scheduler", "worker", "worker"] {
            w.spawn(s);
        }
        w
    }

    /// Starts `chime serve <service>` as a new process; returns its name.
    pub fn spawn(&mut self, service: &str) -> String {
        self.started += 1;
        let name = format!("{service}-{}", self.started);
        let log = std::fs::File::create(self.logs.join(format!("{name}.log"))).unwrap();
        let child = Command::new(chime_testkit::chime_bin())
            .args(["serve", service])
            .envs(self.env.child_env())
            .env("CHIME_API_ADDR", &self.api_addr)
            .env(
                "CHIME_REPAIR_SWEEP_SECS",
                self.env.settings.repair_sweep_secs.to_string(),
            )
            .env("CHIME_LOG_FORMAT", "text")
            .env("NO_COLOR", "1")
            .env("HOSTNAME", &name)
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn chime");
        self.procs.insert(name.clone(), child);
        name
    }

    /// The names of the running processes of `service`.
    pub fn running(&self, service: &str) -> Vec<String> {
        self.procs
            .keys()
            .filter(|n| n.starts_with(&format!("{service}-")))
            .cloned()
            .collect()
    }

    /// SIGKILL.
    pub async fn kill(&mut self, name: &str) {
        if let Some(mut c) = self.procs.remove(name) {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// SIGTERM, then waits for the process to end (it drains within its grace period).
    pub async fn terminate(&mut self, name: &str) {
        if let Some(mut c) = self.procs.remove(name) {
            if let Some(pid) = c.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            let _ = tokio::time::timeout(Duration::from_secs(30), c.wait()).await;
        }
    }

    /// The scheduler process holding the lease (its name starts the lease's owner).
    pub async fn leader(&self) -> Option<String> {
        let mut conn = self.env.store().await.connection();
        let key = chime_store::keys::Keys::new(self.env.namespace()).lease();
        let holder: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .ok()?;
        let holder = holder?;
        self.running("scheduler")
            .into_iter()
            .find(|n| holder.starts_with(&format!("{n}-")))
    }

    /// Waits until the API answers its health check.
    pub async fn wait_api(&self) {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = self.env.url("/healthz");
        wait_until("the API is up", Duration::from_secs(60), || async {
            let r = http.get(&url).send().await.ok()?;
            r.status().is_success().then_some(())
        })
        .await;
    }

    /// Lines of every process's log that are warnings or errors.
    pub fn warnings(&self) -> usize {
        let mut n = 0;
        for entry in std::fs::read_dir(&self.logs).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            n += text
                .lines()
                .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                .count();
        }
        n
    }

    /// Kills the broker's node with SIGKILL and starts it again (its durable queues come back
    /// from disk); returns once it answers.
    pub fn restart_broker(&self) {
        broker(&["kill", "1"]);
        broker(&["restart", "1"]);
    }

    /// Stops every process (SIGKILL), purges the namespace and stops the broker.
    pub async fn end(mut self) {
        let names: Vec<String> = self.procs.keys().cloned().collect();
        for n in names {
            self.kill(&n).await;
        }
        let World { env, redis, .. } = self;
        env.cleanup().await;
        drop(redis);
        broker(&["stop"]);
    }
}

/// Runs `scripts/rabbitmq-cluster.sh` for the chaos suite's own node; returns what it printed.
fn broker(args: &[&str]) -> String {
    chime_testkit::rabbitmq_cluster(
        args,
        &[
            ("CHIME_RABBITMQ_CLUSTER_NAME", "chaos"),
            ("CHIME_RABBITMQ_CLUSTER_PORT", "5691"),
            ("CHIME_RABBITMQ_CLUSTER_DIR", "/tmp/chime-chaos-rabbitmq"),
        ],
    )
}
