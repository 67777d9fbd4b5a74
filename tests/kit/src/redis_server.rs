//! A `redis-server` of a test's own, on a free loopback port: a Redis the test may kill with
//! SIGKILL and start again (with `appendonly`, from its AOF) without touching the machine's
//! Redis or another test's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private `redis-server`; killed when dropped, its files removed.
pub struct PrivateRedis {
    port: u16,
    dir: PathBuf,
    aof: bool,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one that keeps nothing on disk.
    pub fn start() -> PrivateRedis {
        Self::start_with(false)
    }

    /// Starts one that keeps an append-only file (`appendfsync always`), so a restart after
    /// SIGKILL finds every acknowledged write.
    pub fn with_aof() -> PrivateRedis {
        Self::start_with(true)
    }

    fn start_with(aof: bool) -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("chime-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for the private Redis");
        let mut me = PrivateRedis {
            port,
            dir,
            aof,
            child: None,
        };
        me.restart();
        me
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it with SIGKILL (no shutdown, no final save).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (from its AOF, if it keeps one) and waits until it
    /// answers.
    pub fn restart(&mut self) {
        self.kill();
        let aof = if self.aof { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", aof, "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20)); // polling a condition, with a deadline
        }
    }

    fn answers(&self) -> bool {
        redis::Client::open(self.url().as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
