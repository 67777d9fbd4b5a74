//! A local HTTP server jobs call. By default it records every call ([`Target::hits`]) and
//! answers as set ([`Target::set_reply`], [`Target::set_delay`], a gate); chime-bench's
//! [`Target::counting`] only counts its calls.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One call a [`Target`] received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub at: Instant,
    /// The wall clock when the call arrived (ms since the epoch).
    pub wall_ms: i64,
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

/// A local HTTP server jobs call: it records every call (unless counting only) and answers as
/// configured.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// Whether calls are kept as [`Hit`]s (else only counted).
    record: bool,
    count: Arc<AtomicU64>,
    hits: Arc<Mutex<Vec<Hit>>>,
    reply: Arc<Mutex<Reply>>,
    gate: Arc<tokio::sync::Notify>,
    open: Arc<AtomicBool>,
    /// Calls being answered now, and the most at once so far.
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
    /// Answers for the next calls, each used once, before the configured reply.
    scripted: Arc<Mutex<std::collections::VecDeque<Scripted>>>,
    /// Every `n`-th call (from the first) answers 503 instead, when set.
    fail_every: Arc<AtomicU64>,
}

/// A status and headers for one call ([`Target::answer_next`]).
#[derive(Clone, Debug)]
struct Scripted {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Target {
    /// A target that records every call and answers 200 `{"message":"done"}`.
    pub async fn start() -> Target {
        Target::bind(true, "{\"message\":\"done\"}", Duration::ZERO).await
    }

    /// A target that only counts its calls and answers 200 `{"ok":true}` after `latency`.
    pub async fn counting(latency: Duration) -> Target {
        Target::bind(false, "{\"ok\":true}", latency).await
    }

    async fn bind(record: bool, body: &str, delay: Duration) -> Target {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let t = Target {
            addr: listener.local_addr().unwrap(),
            record,
            count: Arc::default(),
            hits: Arc::default(),
            reply: Arc::new(Mutex::new(Reply {
                status: 200,
                body: body.into(),
                gated: false,
                delay,
            })),
            gate: Arc::new(tokio::sync::Notify::new()),
            open: Arc::new(AtomicBool::new(false)),
            in_flight: Arc::default(),
            scripted: Arc::default(),
            fail_every: Arc::default(),
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
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if self.record {
            self.record(req).await;
        }
        if let Some(s) = self.scripted.lock().unwrap().pop_front() {
            let mut resp = (
                axum::http::StatusCode::from_u16(s.status).unwrap(),
                format!("scripted {}", s.status),
            )
                .into_response();
            for (k, v) in s.headers {
                resp.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    axum::http::HeaderValue::from_str(&v).unwrap(),
                );
            }
            return resp;
        }
        let every = self.fail_every.load(Ordering::Relaxed);
        if every > 0 && n.is_multiple_of(every) {
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
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
            [("content-type", self.content_type())],
            reply.body,
        )
            .into_response()
    }

    /// chime-bench's answers are JSON; the tests' are text, whatever their body.
    fn content_type(&self) -> &'static str {
        if self.record {
            "text/plain; charset=utf-8"
        } else {
            "application/json"
        }
    }

    async fn record(&self, req: axum::extract::Request) {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        self.hits.lock().unwrap().push(Hit {
            at: Instant::now(),
            wall_ms: chrono::Utc::now().timestamp_millis(),
            method: parts.method.to_string(),
            path: parts.uri.to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: String::from_utf8_lossy(&body).to_string(),
        });
    }

    /// The calls received so far (recorded or not).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
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

    /// The next call (after those already scripted) answers `status` with `headers` and an
    /// empty-ish body, once; later calls answer as configured.
    pub fn answer_next(&self, status: u16, headers: &[(&str, &str)]) {
        self.scripted.lock().unwrap().push_back(Scripted {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
    }

    /// Makes every `n`-th call (the 1st, the `n + 1`-th, …) answer 503; 0: none.
    pub fn fail_every(&self, n: u64) {
        self.fail_every.store(n, Ordering::Relaxed);
    }

    /// Makes every call take `delay` to answer.
    pub fn set_delay(&self, delay: Duration) {
        self.reply.lock().unwrap().delay = delay;
    }

    /// The calls the target is answering now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.0.load(Ordering::SeqCst)
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
