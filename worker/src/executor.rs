//! Action executor: performs one HTTP call to a tenant's endpoint on behalf of a job run,
//! behind the SSRF guard, and turns whatever happens into an [`Outcome`] (success, accepted,
//! failure, error or timeout). Response bodies are read chunk by chunk and capped. Every call
//! carries the run's headers and, when its tenant has a signing secret, its signature in the
//! Standard Webhooks form ([`chime_core::signing`]).

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use chime_core::signing::{self, Signer};
use chime_core::timing::{FailureReason, Timing};
use chrono::{DateTime, Utc};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;
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

/// Default number of response-body bytes kept.
pub const DEFAULT_BODY_CAP: usize = 1024;

/// What to call.
#[derive(Clone, Debug)]
pub struct Action {
    pub url: String,
    pub method: HttpMethod,
    pub headers: Vec<(String, String)>,
    /// Secret headers, their values opened: sent marked sensitive, and hidden from the
    /// outcome's body and error.
    pub secret_headers: Vec<(String, String)>,
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
    /// The number of this call for its run (1 for the first): `x-chime-attempt`, and the
    /// `webhook-id`'s suffix.
    pub attempt: u32,
    /// The tenant's signing secrets: when set, the call carries `webhook-signature`.
    pub signer: Option<Arc<Signer>>,
    /// The `webhook-id` when it is not `<runId>_<attempt>` (a notification's: its event id,
    /// the same for every attempt).
    pub message_id: Option<String>,
}

/// How a call ended.
pub use chime_core::run::CallKind;
use chime_core::run::HttpMethod;

/// Result of one call.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub kind: CallKind,
    pub http_status: Option<u16>,
    /// Response body, truncated to the body cap, lossy UTF-8; `None` when empty or absent.
    pub body: Option<String>,
    /// Readable reason for anything but a clean success; on a success it notes a body that
    /// could not be read to the end.
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    /// The answer's `Retry-After`, read when it asked for a retry (429 or 503).
    pub retry_after: Option<Duration>,
    /// The call went out (an error is the network's or the target's, not the action's own:
    /// an invalid URL or header is not retried).
    pub sent: bool,
    /// The call's timing split, where the client exposed it.
    pub timing: Timing,
    /// Why it failed; `None` for a success or a 202.
    pub failure: Option<FailureReason>,
}

impl Outcome {
    /// A run that ended before its call was attempted, for `message`.
    pub fn not_called(message: String) -> Outcome {
        Outcome {
            kind: CallKind::Error,
            http_status: None,
            body: None,
            error: Some(message),
            started_at: Utc::now(),
            duration: Duration::ZERO,
            retry_after: None,
            sent: false,
            timing: Timing::default(),
            failure: Some(FailureReason::Invalid),
        }
    }
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

/// A call that ended before a response was received.
struct Early {
    kind: CallKind,
    reason: FailureReason,
    message: String,
}

impl Early {
    /// The action could not be sent (an invalid URL, header or request).
    fn error(message: impl Into<String>) -> Self {
        Self {
            kind: CallKind::Error,
            reason: FailureReason::Invalid,
            message: message.into(),
        }
    }

    /// The guard refused the target: `Blocked` when it was for the target's address, `dns`
    /// when its name did not resolve.
    fn guard(e: &GuardError) -> Self {
        let (kind, reason) = match e {
            GuardError::Blocked { .. } => (CallKind::Blocked, FailureReason::Blocked),
            GuardError::Resolve { .. } => (CallKind::Error, FailureReason::Dns),
            _ => (CallKind::Error, FailureReason::Invalid),
        };
        Self {
            kind,
            reason,
            message: e.to_string(),
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
                error: Some(early.message),
                started_at,
                failure: Some(early.reason),
                ..Outcome::not_called(String::new())
            },
            Ok(request) => {
                let dns = Arc::new(crate::ssrf::DnsTime::default());
                let call = self.run(request, action.timeout, deadline, started_at);
                let mut outcome = crate::ssrf::DNS_TIME.scope(dns.clone(), call).await;
                outcome.timing.dns_ms = dns.get();
                outcome
            }
        };
        // An error that names the URL must not carry its secrets into the run log, nor an
        // answer that echoes a secret header.
        let secrets: Vec<&str> = action
            .secret_headers
            .iter()
            .map(|(_, v)| v.as_str())
            .collect();
        outcome.error = outcome
            .error
            .map(|e| crate::redact::hide(&crate::redact::redact(&e, &action.url), &secrets));
        if !secrets.is_empty() {
            outcome.body = outcome.body.map(|b| crate::redact::hide(&b, &secrets));
        }
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
        self.policy.check_url(&url).map_err(|e| Early::guard(&e))?;
        let method = http_method(action.method);

        let mut headers = HeaderMap::new();
        for (name, value) in &action.headers {
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Early::error(format!("invalid header name {name:?}")))?;
            let header_value = HeaderValue::from_str(value)
                .map_err(|_| Early::error(format!("invalid value for header {name:?}")))?;
            headers.append(header_name, header_value);
        }
        for (name, value) in &action.secret_headers {
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Early::error(format!("invalid header name {name:?}")))?;
            let mut header_value = HeaderValue::from_str(value)
                .map_err(|_| Early::error(format!("invalid value for secret header {name:?}")))?;
            header_value.set_sensitive(true);
            headers.insert(header_name, header_value);
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
        set(signing::HEADER_ATTEMPT, &meta.attempt.to_string())?;
        let id = meta
            .message_id
            .clone()
            .unwrap_or_else(|| signing::message_id(&meta.run_id, meta.attempt));
        let now = Utc::now();
        let timestamp = now.timestamp();
        set(signing::HEADER_ID, &id)?;
        set(signing::HEADER_TIMESTAMP, &timestamp.to_string())?;
        if let Some(signer) = &meta.signer {
            // The exact bytes sent: the body, or nothing (signed as the empty string).
            let body = action.body.as_deref().unwrap_or("").as_bytes();
            let signature = signer.signature(&id, timestamp, body, now.timestamp_millis());
            set(signing::HEADER_SIGNATURE, &signature)?;
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
            kind: CallKind::Error,
            http_status: None,
            body: None,
            error: None,
            started_at,
            duration: Duration::ZERO,
            retry_after: None,
            sent: true,
            timing: Timing::default(),
            failure: None,
        };

        let start = tokio::time::Instant::now();
        let response = match tokio::time::timeout_at(deadline, self.client.execute(request)).await {
            Err(_) => {
                outcome.kind = CallKind::Timeout;
                outcome.failure = Some(FailureReason::Timeout);
                outcome.error = Some(timed_out());
                return outcome;
            }
            Ok(Err(e)) => {
                let early = classify_send_error(&e, timed_out);
                outcome.kind = early.kind;
                outcome.failure = Some(early.reason);
                outcome.error = Some(early.message);
                return outcome;
            }
            Ok(Ok(response)) => response,
        };
        outcome.timing.first_byte_ms = Some(start.elapsed().as_millis() as u64);

        let status = response.status().as_u16();
        outcome.http_status = Some(status);
        if status == 429 || status == 503 {
            outcome.retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    chime_core::retry::parse_retry_after(v, Utc::now().timestamp_millis())
                });
        }
        let (kind, status_error) = classify_status(status);
        outcome.kind = kind;
        outcome.error = status_error;
        if kind == CallKind::Failure {
            outcome.failure = Some(FailureReason::of_status(status));
        }

        let read = read_capped(response, self.body_cap, deadline).await;
        outcome.body = read.body;
        match read.end {
            BodyEnd::Complete => {}
            BodyEnd::TimedOut => {
                outcome.kind = CallKind::Timeout;
                outcome.failure = Some(FailureReason::Timeout);
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

fn http_method(m: HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Patch => Method::PATCH,
    }
}

fn classify_status(status: u16) -> (CallKind, Option<String>) {
    match status {
        202 => (CallKind::Accepted, None),
        200..=399 => (CallKind::Success, None),
        _ => (
            CallKind::Failure,
            Some(format!("endpoint returned status code {status}")),
        ),
    }
}

fn classify_send_error(e: &reqwest::Error, timed_out: impl Fn() -> String) -> Early {
    if e.is_timeout() {
        return Early {
            kind: CallKind::Timeout,
            reason: FailureReason::Timeout,
            message: timed_out(),
        };
    }
    if let Some(guard) = find_guard_error(e) {
        return Early::guard(guard);
    }
    // The causes only: reqwest's own message names the URL.
    let causes = e.source().map(error_chain).unwrap_or_default();
    Early {
        kind: CallKind::Error,
        reason: network_reason(e.is_builder(), &causes),
        message: error_chain(e),
    }
}

/// The reason of a call that failed in the network, from its error chain's text: a TLS
/// failure names the handshake, a certificate or TLS (rustls's and hyper-rustls's messages);
/// anything else is the connection's (refused, reset, closed before an answer). A request
/// reqwest could not build is the action's own.
fn network_reason(builder: bool, chain: &str) -> FailureReason {
    if builder {
        return FailureReason::Invalid;
    }
    let chain = chain.to_ascii_lowercase();
    if ["certificate", "handshake", "tls", "alert"]
        .iter()
        .any(|w| chain.contains(w))
    {
        FailureReason::Tls
    } else {
        FailureReason::Connect
    }
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
mod tests;
