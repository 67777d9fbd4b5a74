//! The API's limits on slow and idle clients, over raw sockets: headers that never end, an
//! idle kept-alive connection and a body that never comes are closed; connections over the
//! limit are answered 503 and closed, and the API serves again once one goes; a flood of
//! slow and silent sockets is closed while a tenant is served beside it.

use chime_testkit::{wait_until, TestEnv};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn api(configure: impl FnOnce(&mut TestEnv)) -> TestEnv {
    let mut env = TestEnv::new();
    configure(&mut env);
    env.start_api().await;
    env
}

async fn connect(env: &TestEnv) -> TcpStream {
    let url = env.url("/");
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes the connection (or the deadline passes): what it sent.
async fn until_closed(sock: &mut TcpStream, deadline: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(deadline, sock.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&got).to_string()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn headers_that_never_end_and_idle_connections_are_closed() {
    let env = api(|e| e.settings.api_header_timeout_ms = 300).await;
    // Headers started, never finished.
    let mut slow = connect(&env).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: chime\r\nx-slow: ")
        .await
        .unwrap();
    let closed = until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(
        closed.is_some(),
        "a client that never ends its headers is closed"
    );

    // One request answered, then idle on the kept-alive connection.
    let mut idle = connect(&env).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: chime\r\n\r\n")
        .await
        .unwrap();
    let answered = until_closed(&mut idle, Duration::from_secs(10))
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    // Silent from the start.
    let mut silent = connect(&env).await;
    assert!(until_closed(&mut silent, Duration::from_secs(10))
        .await
        .is_some());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_that_never_comes_is_cut_off() {
    let env = api(|e| e.settings.api_body_timeout_ms = 300).await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let mut slow = connect(&env).await;
    let head = format!(
        "POST /scheduler/jobs HTTP/1.1\r\nhost: chime\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"name\": "
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let answer = until_closed(&mut slow, Duration::from_secs(10))
        .await
        .expect("a client that never sends its body is answered and closed");
    let status: u16 = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
    assert!((400..500).contains(&status), "{answer}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_over_the_limit_are_answered_503_and_the_api_serves_again_after() {
    let env = api(|e| e.settings.api_max_connections = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&env).await);
    }
    // The three are accepted (one request each proves it), then a fourth is turned away.
    for sock in &mut held {
        sock.write_all(b"GET /healthz HTTP/1.1\r\nhost: chime\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        sock.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
    }
    let mut extra = connect(&env).await;
    let answer = until_closed(&mut extra, Duration::from_secs(10))
        .await
        .expect("the connection over the limit is closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_lowercase().contains("retry-after: 1"), "{answer}");

    held.pop();
    wait_until("the API serves again", Duration::from_secs(10), || async {
        let resp = env.http.get(env.url("/healthz")).send().await.ok()?;
        (resp.status() == 200).then_some(())
    })
    .await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_slow_and_idle_sockets_does_not_keep_a_client_waiting() {
    let env = api(|e| {
        e.settings.api_header_timeout_ms = 1_000;
        e.settings.api_max_connections = 1_000;
    })
    .await;
    let (tenant, token) = env.tenant(&["read"]).await;
    // A client that opens a connection per request: a kept-alive one would be closed by the
    // 1 s idle timeout while the flood is set up.
    let fresh = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let client = chime_testkit::ApiClient::new(fresh, &env.url(""), chime_testkit::ADMIN_TOKEN);
    // 300 sockets that send half a request and stop, 300 that send nothing at all.
    let mut flood = Vec::new();
    for i in 0..600 {
        let mut sock = connect(&env).await;
        if i % 2 == 0 {
            sock.write_all(b"GET /scheduler/jobs HTTP/1.1\r\nhost: chime\r\nx-drip: ")
                .await
                .unwrap();
        }
        flood.push(sock);
    }
    // A tenant's request is answered while the flood is open.
    let (status, _) = client.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(status, 200, "tenant {tenant} served beside the flood");
    // Every flooding socket is closed by the header timeout.
    for sock in &mut flood {
        let closed = until_closed(sock, Duration::from_secs(20)).await;
        assert!(closed.is_some(), "a flooding socket was kept open");
    }
    let (status, _) = client.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(status, 200);
    env.cleanup().await;
}
