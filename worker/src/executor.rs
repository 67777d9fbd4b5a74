//! Action executor: performs one HTTP call to a tenant's endpoint on behalf of a job run,
//! behind the SSRF guard, and turns whatever happens into an [`Outcome`] (success, accepted,
//! failure, error or timeout). Response bodies are read chunk by chunk and capped.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;
use sha2::Sha256;
use url::Url;

use crate::ssrf::{GuardError, GuardedResolver, TargetPolicy};

/// Header carrying the job id.
pub const HEADER_JOB_ID: &str = "x-sap-job-id";
/// Header carrying the schedule id.
pub const HEADER_SCHEDULE_ID: &str = "x-sap-job-schedule-id";
/// Header carrying the run id (targets dedupe on it).
pub const HEADER_RUN_ID: &str = "x-sap-job-run-id";
/// Header carrying the scheduler host.
pub const HEADER_SCHEDULER_HOST: &str = "x-sap-scheduler-host";
/// Header carrying the unix-seconds timestamp used in the signature.
pub const HEADER_TIMESTAMP: &str = "x-chime-timestamp";
/// Header carrying the request signature (`v1=<hex HMAC-SHA256>`).
pub const HEADER_SIGNATURE: &str = "x-chime-signature";

/// Default number of response-body bytes kept.
pub const DEFAULT_BODY_CAP: usize = 1024;

/// What to call.
#[derive(Clone, Debug)]
pub struct Action {
    pub url: String,
    /// One of GET, POST, PUT, DELETE, PATCH, HEAD (case-insensitive).
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Limit for the whole call, including reading the response body.
    pub timeout: Duration,
}

/// Run metadata sent to the target as headers.
#[derive(Clone, Debug)]
pub struct CallMeta {
    pub job_id: String,
    pub schedule_id: String,
    pub run_id: String,
    pub scheduler_host: String,
    /// When set, requests carry `x-chime-timestamp` and `x-chime-signature`.
    pub signing_secret: Option<String>,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    /// HTTP 200-399 except 202.
    Success,
    /// HTTP 202: the target runs the job asynchronously and reports back later.
    Accepted,
    /// HTTP 4xx/5xx (or any status outside 200-399).
    Failure,
    /// Network error, invalid URL or header, blocked target.
    Error,
    /// The call did not complete within the action timeout.
    Timeout,
}

/// Result of one call.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub http_status: Option<u16>,
    /// Response body, truncated to the body cap, lossy UTF-8; `None` when empty or absent.
    pub body: Option<String>,
    /// Readable reason for anything but a clean success; on a success it notes a body that
    /// could not be read to the end.
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
}

/// Executor settings.
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    pub policy: TargetPolicy,
    /// Response-body bytes kept (default 1024).
    pub body_cap: usize,
    pub connect_timeout: Duration,
    pub user_agent: String,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            policy: TargetPolicy::default(),
            body_cap: DEFAULT_BODY_CAP,
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("chime-executor/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Errors building an [`Executor`].
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("could not build HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Performs action calls. Cheap to share behind an `Arc`; holds one connection pool.
#[derive(Clone, Debug)]
pub struct Executor {
    client: reqwest::Client,
    policy: TargetPolicy,
    body_cap: usize,
}

/// The `x-chime-signature` value for a request: `v1=` followed by the hex HMAC-SHA256 of
/// `"{timestamp}.{body}"` keyed with `secret` (an absent body signs as the empty string).
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = signing_mac(secret);
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks an `x-chime-signature` value in constant time, as a receiving endpoint would.
pub fn verify(secret: &str, timestamp: i64, body: &str, signature: &str) -> bool {
    let Some(hex_sig) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(raw) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = signing_mac(secret);
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.verify_slice(&raw).is_ok()
}

fn signing_mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length")
}

/// A call that ended before a response was received.
struct Early {
    kind: OutcomeKind,
    message: String,
}

impl Early {
    fn error(message: impl Into<String>) -> Self {
        Self {
            kind: OutcomeKind::Error,
            message: message.into(),
        }
    }
}

impl Executor {
    /// Builds the executor and its HTTP client: guarded DNS resolver, no redirects, no
    /// proxies, the configured connect timeout and user agent.
    pub fn new(cfg: ExecutorConfig) -> Result<Self, ExecutorError> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(cfg.policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(cfg.connect_timeout)
            .user_agent(cfg.user_agent)
            .build()?;
        Ok(Self {
            client,
            policy: cfg.policy,
            body_cap: cfg.body_cap,
        })
    }

    /// Performs the call and reports how it ended. Never panics; every failure is an
    /// [`Outcome`].
    pub async fn execute(&self, action: &Action, meta: &CallMeta) -> Outcome {
        let started_at = Utc::now();
        let start = tokio::time::Instant::now();
        let deadline = start + action.timeout;
        let mut outcome = match self.prepare(action, meta) {
            Err(early) => Outcome {
                kind: early.kind,
                http_status: None,
                body: None,
                error: Some(early.message),
                started_at,
                duration: Duration::ZERO,
            },
            Ok(request) => {
                self.run(request, action.timeout, deadline, started_at)
                    .await
            }
        };
        outcome.duration = start.elapsed();
        tracing::debug!(
            run_id = %meta.run_id,
            kind = ?outcome.kind,
            status = ?outcome.http_status,
            duration_ms = outcome.duration.as_millis() as u64,
            "action executed"
        );
        outcome
    }

    /// Validates the action and builds the request; nothing is sent.
    fn prepare(&self, action: &Action, meta: &CallMeta) -> Result<reqwest::Request, Early> {
        let url =
            Url::parse(action.url.trim()).map_err(|e| Early::error(format!("invalid URL: {e}")))?;
        self.policy
            .check_url(&url)
            .map_err(|e| Early::error(e.to_string()))?;
        let method = parse_method(&action.method)?;

        let mut headers = HeaderMap::new();
        for (name, value) in &action.headers {
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Early::error(format!("invalid header name {name:?}")))?;
            let header_value = HeaderValue::from_str(value)
                .map_err(|_| Early::error(format!("invalid value for header {name:?}")))?;
            headers.append(header_name, header_value);
        }
        // Run metadata and signature replace anything the action set under the same names.
        let mut set = |name: &'static str, value: &str| -> Result<(), Early> {
            let value = HeaderValue::from_str(value)
                .map_err(|_| Early::error(format!("invalid value for header {name:?}")))?;
            headers.insert(HeaderName::from_static(name), value);
            Ok(())
        };
        set(HEADER_JOB_ID, &meta.job_id)?;
        set(HEADER_SCHEDULE_ID, &meta.schedule_id)?;
        set(HEADER_RUN_ID, &meta.run_id)?;
        set(HEADER_SCHEDULER_HOST, &meta.scheduler_host)?;
        let body = action.body.as_deref().unwrap_or("");
        if let Some(secret) = &meta.signing_secret {
            let timestamp = Utc::now().timestamp();
            set(HEADER_TIMESTAMP, &timestamp.to_string())?;
            set(HEADER_SIGNATURE, &sign(secret, timestamp, body))?;
        }

        let mut builder = self
            .client
            .request(method, url)
            .headers(headers)
            .timeout(action.timeout);
        if let Some(body) = &action.body {
            builder = builder.body(body.clone());
        }
        builder
            .build()
            .map_err(|e| Early::error(format!("invalid request: {}", error_chain(&e))))
    }

    async fn run(
        &self,
        request: reqwest::Request,
        timeout: Duration,
        deadline: tokio::time::Instant,
        started_at: DateTime<Utc>,
    ) -> Outcome {
        let timed_out = || format!("request timed out after {} ms", timeout.as_millis());
        let mut outcome = Outcome {
            kind: OutcomeKind::Error,
            http_status: None,
            body: None,
            error: None,
            started_at,
            duration: Duration::ZERO,
        };

        let response = match tokio::time::timeout_at(deadline, self.client.execute(request)).await {
            Err(_) => {
                outcome.kind = OutcomeKind::Timeout;
                outcome.error = Some(timed_out());
                return outcome;
            }
            Ok(Err(e)) => {
                let early = classify_send_error(&e, timed_out);
                outcome.kind = early.kind;
                outcome.error = Some(early.message);
                return outcome;
            }
            Ok(Ok(response)) => response,
        };

        let status = response.status().as_u16();
        outcome.http_status = Some(status);
        let (kind, status_error) = classify_status(status);
        outcome.kind = kind;
        outcome.error = status_error;

        let read = read_capped(response, self.body_cap, deadline).await;
        outcome.body = read.body;
        match read.end {
            BodyEnd::Complete => {}
            BodyEnd::TimedOut => {
                outcome.kind = OutcomeKind::Timeout;
                outcome.error = Some(timed_out());
            }
            BodyEnd::Failed(msg) => {
                tracing::debug!(status, error = %msg, "response body could not be read fully");
                if outcome.error.is_none() {
                    outcome.error = Some(format!("response body could not be read fully: {msg}"));
                }
            }
        }
        outcome
    }
}

fn parse_method(raw: &str) -> Result<Method, Early> {
    match raw.trim().to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "DELETE" => Ok(Method::DELETE),
        "PATCH" => Ok(Method::PATCH),
        "HEAD" => Ok(Method::HEAD),
        _ => Err(Early::error(format!("unsupported HTTP method {raw:?}"))),
    }
}

fn classify_status(status: u16) -> (OutcomeKind, Option<String>) {
    match status {
        202 => (OutcomeKind::Accepted, None),
        200..=399 => (OutcomeKind::Success, None),
        _ => (
            OutcomeKind::Failure,
            Some(format!("endpoint returned status code {status}")),
        ),
    }
}

fn classify_send_error(e: &reqwest::Error, timed_out: impl Fn() -> String) -> Early {
    if e.is_timeout() {
        return Early {
            kind: OutcomeKind::Timeout,
            message: timed_out(),
        };
    }
    if let Some(guard) = find_guard_error(e) {
        return Early::error(guard.to_string());
    }
    Early::error(error_chain(e))
}

fn find_guard_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a GuardError> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(guard) = err.downcast_ref::<GuardError>() {
            return Some(guard);
        }
        current = err.source();
    }
    None
}

/// "outer: cause: root cause", skipping repeated messages.
fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut current = e.source();
    while let Some(err) = current {
        let msg = err.to_string();
        if parts.last() != Some(&msg) {
            parts.push(msg);
        }
        current = err.source();
    }
    parts.join(": ")
}

enum BodyEnd {
    Complete,
    TimedOut,
    Failed(String),
}

struct BodyRead {
    body: Option<String>,
    end: BodyEnd,
}

/// Reads at most `cap` bytes of the body (holding at most one chunk beyond that), then drops
/// the response so the rest is never downloaded.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
    deadline: tokio::time::Instant,
) -> BodyRead {
    let mut buf: Vec<u8> = Vec::with_capacity(cap.min(64 * 1024));
    let mut truncated = false;
    let end = loop {
        if buf.len() >= cap {
            truncated = true;
            break BodyEnd::Complete;
        }
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => break BodyEnd::TimedOut,
            Ok(Ok(None)) => break BodyEnd::Complete,
            Ok(Ok(Some(chunk))) => {
                let take = chunk.len().min(cap - buf.len());
                buf.extend_from_slice(&chunk[..take]);
                if take < chunk.len() {
                    truncated = true;
                    break BodyEnd::Complete;
                }
            }
            Ok(Err(e)) if e.is_timeout() => break BodyEnd::TimedOut,
            Ok(Err(e)) => break BodyEnd::Failed(error_chain(&e)),
        }
    };
    drop(response);
    BodyRead {
        body: to_text(buf, truncated, cap),
        end,
    }
}

/// Lossy UTF-8 of the kept bytes, never longer than `cap` bytes. A multi-byte character cut
/// by truncation is dropped rather than replaced.
fn to_text(mut buf: Vec<u8>, truncated: bool, cap: usize) -> Option<String> {
    if buf.is_empty() {
        return None;
    }
    if truncated {
        trim_incomplete_tail(&mut buf);
    }
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if text.len() > cap {
        let mut end = cap;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Some(text)
}

/// Drops a trailing multi-byte UTF-8 sequence that was cut short.
fn trim_incomplete_tail(buf: &mut Vec<u8>) {
    let n = buf.len();
    for back in 1..=n.min(4) {
        let b = buf[n - back];
        if b & 0xC0 != 0x80 {
            let need = match b {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            if need > back {
                buf.truncate(n - back);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::{any, get};
    use axum::Router;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    const SECRET: &str = "whsec_test";

    #[derive(Default)]
    struct Seen {
        hits: AtomicUsize,
        target_hits: AtomicUsize,
        last: Mutex<Option<(String, HeaderMap, String)>>,
    }

    async fn echo(
        State(seen): State<Arc<Seen>>,
        method: Method,
        headers: HeaderMap,
        body: String,
    ) -> impl IntoResponse {
        seen.hits.fetch_add(1, Ordering::SeqCst);
        *seen.last.lock().unwrap() = Some((method.to_string(), headers, body));
        "hello"
    }

    async fn accepted(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
        seen.hits.fetch_add(1, Ordering::SeqCst);
        (StatusCode::ACCEPTED, "queued")
    }

    async fn fail(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
        seen.hits.fetch_add(1, Ordering::SeqCst);
        (StatusCode::INTERNAL_SERVER_ERROR, "boom")
    }

    async fn redirect(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
        seen.hits.fetch_add(1, Ordering::SeqCst);
        (StatusCode::FOUND, [(http::header::LOCATION, "/target")], "")
    }

    async fn target(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
        seen.hits.fetch_add(1, Ordering::SeqCst);
        seen.target_hits.fetch_add(1, Ordering::SeqCst);
        "target"
    }

    async fn hang(State(seen): State<Arc<Seen>>) -> &'static str {
        seen.hits.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
        "never"
    }

    async fn server() -> (SocketAddr, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let app = Router::new()
            .route("/echo", any(echo))
            .route("/accepted", any(accepted))
            .route("/fail", any(fail))
            .route("/redirect", get(redirect))
            .route("/target", get(target))
            .route("/hang", get(hang))
            .with_state(seen.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, seen)
    }

    /// A one-connection HTTP/1.1 server that sends `head` and then body bytes in 64 KiB writes
    /// until `total` bytes are sent or the client goes away, then holds the connection until
    /// the client closes it; yields the body bytes written.
    /// With `chunked`, the body uses chunked encoding and `total` may be `usize::MAX`.
    async fn raw_server(
        head: &'static str,
        chunked: bool,
        total: usize,
    ) -> (SocketAddr, JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            read_request_head(&mut sock).await;
            if sock.write_all(head.as_bytes()).await.is_err() {
                return 0;
            }
            let chunk = vec![b'a'; 64 * 1024];
            let mut written = 0usize;
            while written < total {
                let n = chunk.len().min(total - written);
                let ok = if chunked {
                    let mut frame = format!("{n:x}\r\n").into_bytes();
                    frame.extend_from_slice(&chunk[..n]);
                    frame.extend_from_slice(b"\r\n");
                    sock.write_all(&frame).await.is_ok()
                } else {
                    sock.write_all(&chunk[..n]).await.is_ok()
                };
                if !ok {
                    break;
                }
                written += n;
            }
            // Hold the connection open until the client goes away.
            let mut rest = [0u8; 1024];
            while matches!(sock.read(&mut rest).await, Ok(n) if n > 0) {}
            written
        });
        (addr, task)
    }

    async fn read_request_head(sock: &mut tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match sock.read(&mut byte).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&byte[..n]),
            }
        }
    }

    fn executor(allow: &str) -> Executor {
        Executor::new(ExecutorConfig {
            policy: TargetPolicy::parse(allow).unwrap(),
            connect_timeout: Duration::from_secs(5),
            ..ExecutorConfig::default()
        })
        .unwrap()
    }

    fn action(url: impl Into<String>) -> Action {
        Action {
            url: url.into(),
            method: "GET".into(),
            headers: vec![],
            body: None,
            timeout: Duration::from_secs(10),
        }
    }

    fn meta() -> CallMeta {
        CallMeta {
            job_id: "job-1".into(),
            schedule_id: "sched-1".into(),
            run_id: "run-1".into(),
            scheduler_host: "https://chime.example".into(),
            signing_secret: None,
        }
    }

    fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
        h.get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn signature_matches_reference_hmac() {
        assert_eq!(
            sign(SECRET, 1_700_000_000, r#"{"a":1}"#),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_eq!(
            sign(SECRET, 1_700_000_000, ""),
            "v1=5967f3c560522fa40cf2876ebc3c3a08551dd6959aaade3b413460591895bdcc"
        );
        let sig = sign(SECRET, 1, "x");
        assert!(verify(SECRET, 1, "x", &sig));
        assert!(!verify(SECRET, 2, "x", &sig));
        assert!(!verify("other", 1, "x", &sig));
        assert!(!verify(SECRET, 1, "x", "v1=zz"));
        assert!(!verify(SECRET, 1, "x", sig.trim_start_matches("v1=")));
    }

    #[test]
    fn truncated_text_never_exceeds_cap_or_ends_in_a_cut_character() {
        let s = "aé€😀".as_bytes().to_vec(); // 1 + 2 + 3 + 4 bytes
        for cap in 0..=s.len() {
            let kept = s[..cap].to_vec();
            let truncated = cap < s.len();
            let text = to_text(kept, truncated, cap).unwrap_or_default();
            assert!(text.len() <= cap, "cap {cap}: {text:?}");
            assert!(!text.contains('\u{FFFD}'), "cap {cap}: {text:?}");
        }
        assert_eq!(
            to_text(vec![b'a', 0xff, b'b'], false, 3).as_deref(),
            Some("a")
        );
        assert_eq!(to_text(vec![], false, 10), None);
    }

    #[tokio::test]
    async fn success_sends_run_headers_and_signature() {
        let (addr, seen) = server().await;
        let exec = executor("127.0.0.0/8");
        let body = r#"{"hello":"world"}"#;
        let mut act = action(format!("http://{addr}/echo"));
        act.method = "post".into();
        act.body = Some(body.into());
        act.headers = vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Tenant".into(), "t1".into()),
            (HEADER_RUN_ID.into(), "spoofed".into()),
        ];
        let mut m = meta();
        m.signing_secret = Some(SECRET.into());
        let out = exec.execute(&act, &m).await;
        assert_eq!(out.kind, OutcomeKind::Success, "{out:?}");
        assert_eq!(out.http_status, Some(200));
        assert_eq!(out.body.as_deref(), Some("hello"));
        assert_eq!(out.error, None);

        let (method, h, received) = seen.last.lock().unwrap().take().unwrap();
        assert_eq!(method, "POST");
        assert_eq!(received, body);
        assert_eq!(header(&h, HEADER_JOB_ID), "job-1");
        assert_eq!(header(&h, HEADER_SCHEDULE_ID), "sched-1");
        assert_eq!(header(&h, HEADER_RUN_ID), "run-1");
        assert_eq!(h.get_all(HEADER_RUN_ID).iter().count(), 1);
        assert_eq!(header(&h, HEADER_SCHEDULER_HOST), "https://chime.example");
        assert_eq!(header(&h, "x-tenant"), "t1");
        assert_eq!(header(&h, "content-type"), "application/json");
        assert!(header(&h, "user-agent").starts_with("chime-executor/"));
        let ts: i64 = header(&h, HEADER_TIMESTAMP).parse().unwrap();
        assert!((Utc::now().timestamp() - ts).abs() < 60);
        assert!(verify(SECRET, ts, &received, header(&h, HEADER_SIGNATURE)));
    }

    #[tokio::test]
    async fn unsigned_call_has_no_signature_headers() {
        let (addr, seen) = server().await;
        let out = executor("127.0.0.0/8")
            .execute(&action(format!("http://{addr}/echo")), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Success, "{out:?}");
        let (_, h, _) = seen.last.lock().unwrap().take().unwrap();
        assert!(h.get(HEADER_SIGNATURE).is_none());
        assert!(h.get(HEADER_TIMESTAMP).is_none());
    }

    #[tokio::test]
    async fn head_request_has_no_body() {
        let (addr, _) = server().await;
        let mut act = action(format!("http://{addr}/echo"));
        act.method = "HEAD".into();
        let out = executor("127.0.0.0/8").execute(&act, &meta()).await;
        assert_eq!(out.kind, OutcomeKind::Success, "{out:?}");
        assert_eq!(out.body, None);
    }

    #[tokio::test]
    async fn status_202_is_accepted() {
        let (addr, _) = server().await;
        let out = executor("127.0.0.0/8")
            .execute(&action(format!("http://{addr}/accepted")), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Accepted, "{out:?}");
        assert_eq!(out.http_status, Some(202));
        assert_eq!(out.body.as_deref(), Some("queued"));
        assert_eq!(out.error, None);
    }

    #[tokio::test]
    async fn status_500_is_failure() {
        let (addr, _) = server().await;
        let out = executor("127.0.0.0/8")
            .execute(&action(format!("http://{addr}/fail")), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Failure, "{out:?}");
        assert_eq!(out.http_status, Some(500));
        assert_eq!(out.body.as_deref(), Some("boom"));
        assert_eq!(
            out.error.as_deref(),
            Some("endpoint returned status code 500")
        );
    }

    #[tokio::test]
    async fn status_404_for_unknown_path_is_failure() {
        let (addr, _) = server().await;
        let out = executor("127.0.0.0/8")
            .execute(&action(format!("http://{addr}/missing")), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Failure, "{out:?}");
        assert_eq!(out.http_status, Some(404));
    }

    #[tokio::test]
    async fn redirect_is_the_answer_and_not_followed() {
        let (addr, seen) = server().await;
        let out = executor("127.0.0.0/8")
            .execute(&action(format!("http://{addr}/redirect")), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Success, "{out:?}");
        assert_eq!(out.http_status, Some(302));
        assert_eq!(seen.hits.load(Ordering::SeqCst), 1);
        assert_eq!(seen.target_hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn slow_response_times_out() {
        let (addr, seen) = server().await;
        let mut act = action(format!("http://{addr}/hang"));
        act.timeout = Duration::from_millis(300);
        let out = executor("127.0.0.0/8").execute(&act, &meta()).await;
        assert_eq!(out.kind, OutcomeKind::Timeout, "{out:?}");
        assert_eq!(out.error.as_deref(), Some("request timed out after 300 ms"));
        assert_eq!(out.http_status, None);
        assert_eq!(seen.hits.load(Ordering::SeqCst), 1);
        assert!(out.duration >= Duration::from_millis(300));
        assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
    }

    #[tokio::test]
    async fn stalled_body_times_out_and_keeps_status() {
        let (addr, server) = raw_server(
            "HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\npartial",
            false,
            0,
        )
        .await;
        let mut act = action(format!("http://{addr}/"));
        act.timeout = Duration::from_millis(300);
        let out = executor("127.0.0.0/8").execute(&act, &meta()).await;
        assert_eq!(out.kind, OutcomeKind::Timeout, "{out:?}");
        assert_eq!(out.http_status, Some(200));
        assert_eq!(out.error.as_deref(), Some("request timed out after 300 ms"));
        assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn huge_body_is_capped_and_not_downloaded() {
        const TOTAL: usize = 50 * 1024 * 1024;
        let (addr, server) = raw_server(
            "HTTP/1.1 200 OK\r\ncontent-length: 52428800\r\ncontent-type: text/plain\r\n\r\n",
            false,
            TOTAL,
        )
        .await;
        let out = executor("127.0.0.0/8")
            .execute(&action(format!("http://{addr}/")), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Success, "{out:?}");
        assert_eq!(out.body.as_ref().map(String::len), Some(DEFAULT_BODY_CAP));
        assert_eq!(out.error, None);
        let written = server.await.unwrap();
        assert!(written < TOTAL, "server sent the whole body");
    }

    #[tokio::test]
    async fn endless_chunked_body_is_capped() {
        let (addr, server) = raw_server(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            true,
            usize::MAX,
        )
        .await;
        let exec = Executor::new(ExecutorConfig {
            policy: TargetPolicy::parse("127.0.0.0/8").unwrap(),
            body_cap: 100_000,
            ..ExecutorConfig::default()
        })
        .unwrap();
        let out = exec
            .execute(&action(format!("http://{addr}/")), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Success, "{out:?}");
        assert_eq!(out.body.as_ref().map(String::len), Some(100_000));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn invalid_url_is_an_error() {
        let exec = executor("127.0.0.0/8");
        for raw in ["not a url", "http://", "http://exa mple.com/", ""] {
            let out = exec.execute(&action(raw), &meta()).await;
            assert_eq!(out.kind, OutcomeKind::Error, "{raw}: {out:?}");
            let err = out.error.unwrap();
            assert!(err.starts_with("invalid URL: "), "{raw}: {err}");
        }
        let out = exec.execute(&action("ftp://127.0.0.1/"), &meta()).await;
        assert_eq!(out.kind, OutcomeKind::Error);
        assert!(out.error.unwrap().contains("scheme"));
    }

    #[tokio::test]
    async fn loopback_is_blocked_without_allow_list() {
        let (addr, seen) = server().await;
        let exec = executor("");
        for url in [
            format!("http://{addr}/echo"),
            format!("http://2130706433:{}/echo", addr.port()),
            format!("http://[::ffff:127.0.0.1]:{}/echo", addr.port()),
        ] {
            let out = exec.execute(&action(url.as_str()), &meta()).await;
            assert_eq!(out.kind, OutcomeKind::Error, "{url}: {out:?}");
            let err = out.error.unwrap();
            assert!(err.contains("loopback"), "{url}: {err}");
            assert!(err.contains("blocked by the SSRF guard"), "{url}: {err}");
        }
        assert_eq!(seen.hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn private_and_metadata_literals_are_blocked_before_dialing() {
        let exec = executor("127.0.0.0/8");
        for url in [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0xa9fea9fe/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[fd00:ec2::254]/",
            "http://100.100.100.200/",
            "http://[2002:a00:1::]/",
        ] {
            let out = exec.execute(&action(url), &meta()).await;
            assert_eq!(out.kind, OutcomeKind::Error, "{url}: {out:?}");
            let err = out.error.unwrap();
            assert!(err.contains("blocked by the SSRF guard"), "{url}: {err}");
            assert!(out.duration < Duration::from_millis(100), "{url}");
        }
    }

    #[tokio::test]
    async fn localhost_goes_through_the_guarded_resolver() {
        let (addr, seen) = server().await;
        let url = format!("http://localhost:{}/echo", addr.port());

        let out = executor("").execute(&action(url.as_str()), &meta()).await;
        assert_eq!(out.kind, OutcomeKind::Error, "{out:?}");
        let err = out.error.unwrap();
        assert!(err.starts_with("target localhost ("), "{err}");
        assert!(err.contains("blocked by the SSRF guard"), "{err}");
        assert_eq!(seen.hits.load(Ordering::SeqCst), 0);

        let out = executor("127.0.0.0/8, ::1/128")
            .execute(&action(url.as_str()), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Success, "{out:?}");
        assert_eq!(seen.hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn bad_headers_and_methods_are_errors() {
        let (addr, seen) = server().await;
        let exec = executor("127.0.0.0/8");
        let url = format!("http://{addr}/echo");

        let mut act = action(url.as_str());
        act.headers = vec![("bad header".into(), "v".into())];
        let out = exec.execute(&act, &meta()).await;
        assert_eq!(out.kind, OutcomeKind::Error, "{out:?}");
        assert!(out.error.unwrap().contains("\"bad header\""));

        act.headers = vec![("x-ok".into(), "line\nbreak".into())];
        let out = exec.execute(&act, &meta()).await;
        assert_eq!(out.kind, OutcomeKind::Error, "{out:?}");
        assert!(out.error.unwrap().contains("\"x-ok\""));

        let mut m = meta();
        m.scheduler_host = "bad\r\nhost".into();
        let out = exec.execute(&action(url.as_str()), &m).await;
        assert_eq!(out.kind, OutcomeKind::Error, "{out:?}");
        assert!(out.error.unwrap().contains(HEADER_SCHEDULER_HOST));

        let mut act = action(url.as_str());
        act.method = "TRACE".into();
        let out = exec.execute(&act, &meta()).await;
        assert_eq!(out.kind, OutcomeKind::Error, "{out:?}");
        assert!(out.error.unwrap().contains("TRACE"));

        assert_eq!(seen.hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn refused_connection_is_an_error_with_its_cause() {
        // Bind then drop a listener to get a loopback port with nothing listening.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let out = executor("127.0.0.0/8")
            .execute(&action(format!("http://127.0.0.1:{port}/")), &meta())
            .await;
        assert_eq!(out.kind, OutcomeKind::Error, "{out:?}");
        let err = out.error.unwrap();
        assert!(err.contains("error sending request"), "{err}");
        assert!(err.to_lowercase().contains("refused"), "{err}");
    }
}
