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

use chime_core::signing::{
    SigningKey, HEADER_ATTEMPT, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET: &str = "whsec_dGVzdC1rZXktb2YtY2hpbWUtc2VjcmV0LWhlYWRlciE=";

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
        method: HttpMethod::Get,
        headers: vec![],
        secret_headers: vec![],
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
        attempt: 1,
        signer: None,
        message_id: None,
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).unwrap().to_str().unwrap()
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
    act.method = HttpMethod::Post;
    act.body = Some(body.into());
    act.headers = vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Tenant".into(), "t1".into()),
        (HEADER_RUN_ID.into(), "spoofed".into()),
    ];
    let (new, old) = (key(SECRET), key(OLD_SECRET));
    let mut m = meta();
    m.attempt = 3;
    m.signer = Some(Arc::new(Signer::new(
        new.clone(),
        Some((old.clone(), Utc::now().timestamp_millis() + 60_000)),
    )));
    let out = exec.execute(&act, &m).await;
    assert_eq!(out.kind, CallKind::Success, "{out:?}");
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
    // The Standard Webhooks headers: both secrets sign the exact body received.
    assert_eq!(header(&h, HEADER_ID), "run-1_3");
    assert_eq!(header(&h, HEADER_ATTEMPT), "3");
    let ts: i64 = header(&h, HEADER_TIMESTAMP).parse().unwrap();
    assert!((Utc::now().timestamp() - ts).abs() < 60);
    let expected = format!(
        "{} {}",
        new.sign("run-1_3", ts, received.as_bytes()),
        old.sign("run-1_3", ts, received.as_bytes())
    );
    assert_eq!(header(&h, HEADER_SIGNATURE), expected);
}

fn key(secret: &str) -> SigningKey {
    SigningKey::parse(secret).unwrap()
}

#[tokio::test]
async fn a_call_without_a_body_signs_the_empty_string() {
    let (addr, seen) = server().await;
    let mut m = meta();
    m.signer = Some(Arc::new(Signer::new(key(SECRET), None)));
    let out = executor("127.0.0.0/8")
        .execute(&action(format!("http://{addr}/echo")), &m)
        .await;
    assert_eq!(out.kind, CallKind::Success, "{out:?}");
    let (method, h, received) = seen.last.lock().unwrap().take().unwrap();
    assert_eq!((method.as_str(), received.as_str()), ("GET", ""));
    let ts: i64 = header(&h, HEADER_TIMESTAMP).parse().unwrap();
    assert_eq!(
        header(&h, HEADER_SIGNATURE),
        key(SECRET).sign("run-1_1", ts, b"")
    );
}

#[tokio::test]
async fn unsigned_call_has_its_id_and_attempt_but_no_signature() {
    let (addr, seen) = server().await;
    let out = executor("127.0.0.0/8")
        .execute(&action(format!("http://{addr}/echo")), &meta())
        .await;
    assert_eq!(out.kind, CallKind::Success, "{out:?}");
    let (_, h, _) = seen.last.lock().unwrap().take().unwrap();
    assert!(h.get(HEADER_SIGNATURE).is_none());
    assert_eq!(header(&h, HEADER_ID), "run-1_1");
    assert_eq!(header(&h, HEADER_ATTEMPT), "1");
    assert!(h.get(HEADER_TIMESTAMP).is_some());
}

#[tokio::test]
async fn status_202_is_accepted() {
    let (addr, _) = server().await;
    let out = executor("127.0.0.0/8")
        .execute(&action(format!("http://{addr}/accepted")), &meta())
        .await;
    assert_eq!(out.kind, CallKind::Accepted, "{out:?}");
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
    assert_eq!(out.kind, CallKind::Failure, "{out:?}");
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
    assert_eq!(out.kind, CallKind::Failure, "{out:?}");
    assert_eq!(out.http_status, Some(404));
}

#[tokio::test]
async fn redirect_is_the_answer_and_not_followed() {
    let (addr, seen) = server().await;
    let out = executor("127.0.0.0/8")
        .execute(&action(format!("http://{addr}/redirect")), &meta())
        .await;
    assert_eq!(out.kind, CallKind::Success, "{out:?}");
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
    assert_eq!(out.kind, CallKind::Timeout, "{out:?}");
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
    assert_eq!(out.kind, CallKind::Timeout, "{out:?}");
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
    assert_eq!(out.kind, CallKind::Success, "{out:?}");
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
    assert_eq!(out.kind, CallKind::Success, "{out:?}");
    assert_eq!(out.body.as_ref().map(String::len), Some(100_000));
    server.await.unwrap();
}

#[tokio::test]
async fn invalid_url_is_an_error() {
    let exec = executor("127.0.0.0/8");
    for raw in ["not a url", "http://", "http://exa mple.com/", ""] {
        let out = exec.execute(&action(raw), &meta()).await;
        assert_eq!(out.kind, CallKind::Error, "{raw}: {out:?}");
        let err = out.error.unwrap();
        assert!(err.starts_with("invalid URL: "), "{raw}: {err}");
    }
    let out = exec.execute(&action("ftp://127.0.0.1/"), &meta()).await;
    assert_eq!(out.kind, CallKind::Error);
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
        assert_eq!(out.kind, CallKind::Blocked, "{url}: {out:?}");
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
        assert_eq!(out.kind, CallKind::Blocked, "{url}: {out:?}");
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
    assert_eq!(out.kind, CallKind::Blocked, "{out:?}");
    let err = out.error.unwrap();
    assert!(err.starts_with("target localhost ("), "{err}");
    assert!(err.contains("blocked by the SSRF guard"), "{err}");
    assert_eq!(seen.hits.load(Ordering::SeqCst), 0);

    let out = executor("127.0.0.0/8, ::1/128")
        .execute(&action(url.as_str()), &meta())
        .await;
    assert_eq!(out.kind, CallKind::Success, "{out:?}");
    assert_eq!(seen.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_headers_are_errors() {
    let (addr, seen) = server().await;
    let exec = executor("127.0.0.0/8");
    let url = format!("http://{addr}/echo");

    let mut act = action(url.as_str());
    act.headers = vec![("bad header".into(), "v".into())];
    let out = exec.execute(&act, &meta()).await;
    assert_eq!(out.kind, CallKind::Error, "{out:?}");
    assert!(out.error.unwrap().contains("\"bad header\""));

    act.headers = vec![("x-ok".into(), "line\nbreak".into())];
    let out = exec.execute(&act, &meta()).await;
    assert_eq!(out.kind, CallKind::Error, "{out:?}");
    assert!(out.error.unwrap().contains("\"x-ok\""));

    let mut m = meta();
    m.scheduler_host = "bad\r\nhost".into();
    let out = exec.execute(&action(url.as_str()), &m).await;
    assert_eq!(out.kind, CallKind::Error, "{out:?}");
    assert!(out.error.unwrap().contains(HEADER_SCHEDULER_HOST));

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
    assert_eq!(out.kind, CallKind::Error, "{out:?}");
    let err = out.error.unwrap();
    assert!(err.contains("error sending request"), "{err}");
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[test]
fn a_network_failure_is_classified_from_its_causes() {
    let tls = [
        "client error (Connect): invalid peer certificate: UnknownIssuer",
        "received fatal alert: HandshakeFailure",
        "tls handshake eof",
    ];
    for chain in tls {
        assert_eq!(network_reason(false, chain), FailureReason::Tls, "{chain}");
    }
    let connect = [
        "client error (Connect): tcp connect error: Connection refused (os error 111)",
        "connection closed before message completed",
        "",
    ];
    for chain in connect {
        assert_eq!(
            network_reason(false, chain),
            FailureReason::Connect,
            "{chain}"
        );
    }
    assert_eq!(network_reason(true, "anything"), FailureReason::Invalid);
}

#[test]
fn a_guard_refusal_is_blocked_or_dns() {
    let blocked = TargetPolicy::default()
        .check_url(&Url::parse("http://10.0.0.1/x").unwrap())
        .unwrap_err();
    let early = Early::guard(&blocked);
    assert_eq!(
        (early.kind, early.reason),
        (CallKind::Blocked, FailureReason::Blocked)
    );
    let unresolved = GuardError::Resolve {
        host: "x.invalid".into(),
        source: std::io::Error::other("no such host"),
    };
    let early = Early::guard(&unresolved);
    assert_eq!(
        (early.kind, early.reason),
        (CallKind::Error, FailureReason::Dns)
    );
    assert_eq!(Early::error("bad header").reason, FailureReason::Invalid);
}

#[tokio::test]
async fn a_call_records_its_first_byte_and_each_status_its_reason() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }))
        .route("/broken", get(|| async { StatusCode::BAD_GATEWAY }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let exec = Executor::new(ExecutorConfig {
        policy: TargetPolicy::parse("127.0.0.0/8").unwrap(),
        ..ExecutorConfig::default()
    })
    .unwrap();
    let meta = CallMeta {
        job_id: "1".into(),
        schedule_id: "s".into(),
        run_id: "r".into(),
        scheduler_host: "h".into(),
        attempt: 1,
        signer: None,
        message_id: None,
    };
    for (path, reason) in [
        ("/ok", None),
        ("/gone", Some(FailureReason::Http4xx)),
        ("/broken", Some(FailureReason::Http5xx)),
    ] {
        let action = Action {
            url: format!("http://{addr}{path}"),
            method: HttpMethod::Get,
            headers: vec![],
            secret_headers: vec![],
            body: None,
            timeout: Duration::from_secs(5),
        };
        let o = exec.execute(&action, &meta).await;
        assert_eq!(o.failure, reason, "{path}");
        let first = o.timing.first_byte_ms.expect("headers arrived");
        assert!(first <= o.duration.as_millis() as u64, "{path}");
        assert_eq!(o.timing.dns_ms, None, "an IP literal is not looked up");
    }
}
