//! Headless Chromium through WebDriver for the dashboard's tests: `chromedriver` (Debian's
//! `chromium-driver`) on a free loopback port as a child process of its own process group,
//! killed with it when dropped; a fantoccini client of a fresh profile.

use chime_testkit::wait_until;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long an element may take to appear.
pub const WAIT: Duration = Duration::from_secs(30);

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
}

/// chromedriver and the browser's profile directory.
struct Driver {
    child: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Starts chromedriver, waits until it answers, and opens a browser session.
    pub async fn start() -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: scripts/browser.sh installs chromium and chromium-driver"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = {
            use std::os::unix::process::CommandExt;
            let mut cmd = Command::new(CHROMEDRIVER);
            cmd.arg(format!("--port={port}"));
            // chromedriver's own log, to see what the browser did.
            if let Ok(log) = std::env::var("CHIME_CHROMEDRIVER_LOG") {
                cmd.arg("--verbose").arg(format!("--log-path={log}"));
            }
            cmd.process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts")
        };
        let profile = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).unwrap();
        let driver = Driver {
            child: driver,
            profile,
        };
        let client = connect(port, &driver.profile).await;
        Browser {
            client,
            _driver: driver,
        }
    }

    /// Goes to `url` and waits for `css` on the page.
    pub async fn open(&self, url: &str, css: &str) {
        self.client.goto(url).await.unwrap();
        self.wait_for(css).await;
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} appeared: {e}"))
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    /// The value of `script` (a function body that returns it).
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until `script` returns `true` (a script that fails, as while a page is being
    /// replaced, is tried again).
    pub async fn wait_true(&self, what: &str, script: &str) {
        wait_until(what, WAIT, || async {
            let v = self.client.execute(script, vec![]).await.ok();
            (v == Some(json!(true))).then_some(())
        })
        .await;
    }

    /// Presses and releases `key` (a character or a [`fantoccini::key::Key`]'s code) where the
    /// focus is, as a keyboard would.
    pub async fn press(&self, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await.unwrap();
    }

    /// Ends the browser session and chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Driver {
    /// Kills chromedriver's process group (the browser with it) and removes the profile.
    fn drop(&mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A fantoccini client of the chromedriver at `port`, once it answers.
async fn connect(port: u16, profile: &std::path::Path) -> Client {
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let status = format!("{url}/status");
    wait_until("chromedriver answers", WAIT, || {
        let req = http.get(&status).send();
        async move { req.await.ok().filter(|r| r.status().is_success()) }
    })
    .await;
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1280,900",
            ],
        },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a WebDriver session")
}
