//! Running the `chime` binary: a test's URL, token and config file (in a directory of its own),
//! its exit code and output.

use chime_testkit::TestEnv;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;

/// The binary under test, with one test's settings.
pub struct Chime {
    pub url: Option<String>,
    pub token: Option<String>,
    pub dir: PathBuf,
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Chime {
    /// The binary with `env`'s API URL and `token` (as `CHIME_URL`, `CHIME_TOKEN`).
    pub fn new(env: &TestEnv, token: &str) -> Chime {
        let mut c = Chime::bare(env);
        c.url = Some(env.url(""));
        c.token = Some(token.to_string());
        c
    }

    /// The binary with neither URL nor token: only its config file (none yet).
    pub fn bare(env: &TestEnv) -> Chime {
        let dir = std::env::temp_dir().join(format!("chime-cli-{}", env.namespace()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a directory for the test's files");
        Chime {
            url: None,
            token: None,
            dir,
        }
    }

    /// The config file this test's runs use.
    pub fn config(&self) -> PathBuf {
        self.dir.join("conf").join("config.toml")
    }

    /// The command `chime <args>`: this test's environment, nothing inherited that would
    /// change what it does (proxies, colour, a user's config).
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chime"));
        cmd.args(args)
            .env("CHIME_CLI_CONFIG", self.config())
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in [
            "CHIME_URL",
            "CHIME_TOKEN",
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        if let Some(u) = &self.url {
            cmd.env("CHIME_URL", u);
        }
        if let Some(t) = &self.token {
            cmd.env("CHIME_TOKEN", t);
        }
        cmd
    }

    /// Runs `chime <args>` to its end.
    pub async fn run(&self, args: &[&str]) -> Out {
        out(self.command(args).output().await.expect("chime runs"))
    }

    /// Runs `chime <args>`, which must succeed; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args).await;
        assert_eq!(o.code, 0, "chime {args:?} failed: {o:?}");
        o.stdout
    }

    /// Runs `chime --json <args>`, which must succeed; its stdout as JSON.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("chime {args:?}: {e}: {text}"))
    }

    /// Runs `chime <args>`, which must fail with `code`; its stderr.
    pub async fn fails(&self, code: i32, args: &[&str]) -> String {
        let o = self.run(args).await;
        assert_eq!(o.code, code, "chime {args:?}: {o:?}");
        assert!(
            o.stdout.is_empty(),
            "a failure prints nothing on stdout: {o:?}"
        );
        o.stderr
    }
}

impl Drop for Chime {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn out(o: std::process::Output) -> Out {
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}
