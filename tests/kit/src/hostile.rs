//! Endpoints a hostile tenant points its jobs at, on one local server: `/hang` never answers,
//! `/drip` answers a byte a second, `/huge` answers a 10 GB body as fast as the caller reads.
//! Each holds its call until [`Hostile::release`] (or the caller goes away); the server
//! counts its calls in flight (all paths together) and the most at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Counts {
    now: AtomicUsize,
    most: AtomicUsize,
    released: AtomicBool,
    huge_bytes: AtomicU64,
    /// (wall clock ms, path) of each call.
    calls: Mutex<Vec<(i64, String)>>,
}

/// A running hostile server.
#[derive(Clone)]
pub struct Hostile {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
}

/// A call in flight, counted until dropped.
struct InFlight(Arc<Counts>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hostile {
    pub async fn start() -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("bound");
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, c.clone()));
            }
        });
        Hostile { addr, counts }
    }

    /// The URL of `path` (`/hang`, `/drip` or `/huge`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The most calls in flight at once so far, over every path.
    pub fn most_in_flight(&self) -> usize {
        self.counts.most.load(Ordering::SeqCst)
    }

    /// Calls in flight now, over every path.
    pub fn in_flight(&self) -> usize {
        self.counts.now.load(Ordering::SeqCst)
    }

    /// Starts counting the most calls at once afresh, from the calls in flight now.
    pub fn reset_most(&self) {
        let now = self.counts.now.load(Ordering::SeqCst);
        self.counts.most.store(now, Ordering::SeqCst);
    }

    /// Calls received: (wall clock ms, path).
    pub fn calls(&self) -> Vec<(i64, String)> {
        self.counts.calls.lock().expect("calls").clone()
    }

    /// Bytes `/huge` has written so far.
    pub fn huge_bytes(&self) -> u64 {
        self.counts.huge_bytes.load(Ordering::SeqCst)
    }

    /// Ends every call held and every one to come (each with whatever it sent so far).
    pub fn release(&self) {
        self.counts.released.store(true, Ordering::SeqCst);
    }
}

async fn serve(mut sock: TcpStream, counts: Arc<Counts>) {
    // The request head (a body, if any, is left unread).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let now = counts.now.fetch_add(1, Ordering::SeqCst) + 1;
    counts.most.fetch_max(now, Ordering::SeqCst);
    let _held = InFlight(counts.clone());
    counts
        .calls
        .lock()
        .expect("calls")
        .push((chrono::Utc::now().timestamp_millis(), path.clone()));
    let released = || counts.released.load(Ordering::SeqCst);
    let tick = Duration::from_millis(100);
    match path.as_str() {
        "/drip" => {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
                .await;
            let mut ticks = 0u64;
            while !released() {
                tokio::time::sleep(tick).await;
                ticks += 1;
                if ticks.is_multiple_of(10) && sock.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
        "/huge" => {
            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n";
            if sock.write_all(head).await.is_err() {
                return;
            }
            let chunk = vec![b'z'; 64 * 1024];
            while !released() {
                match sock.write_all(&chunk).await {
                    Ok(()) => counts
                        .huge_bytes
                        .fetch_add(chunk.len() as u64, Ordering::SeqCst),
                    Err(_) => return,
                };
            }
        }
        _ => {
            // Hang: nothing is sent until released, unless the caller goes away first.
            let mut probe = [0u8; 1];
            while !released() {
                tokio::select! {
                    r = sock.read(&mut probe) => if matches!(r, Ok(0) | Err(_)) { return },
                    _ = tokio::time::sleep(tick) => {}
                }
            }
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    }
}
