//! A client of a live tail (`GET /scheduler/jobs/{jobId}/runs/stream`): its Server-Sent
//! Events, one at a time, or the answer that refused it.

use crate::TestEnv;
use serde_json::Value;
use std::time::Instant;

/// An open live tail.
pub struct LiveTail {
    resp: reqwest::Response,
    buf: String,
}

/// One event of a live tail: its name (`run`, `lagged`) and its data as JSON.
#[derive(Clone, Debug)]
pub struct TailEvent {
    pub name: String,
    pub data: Value,
}

/// A tail the API refused: its status, `Retry-After` header and JSON body.
#[derive(Clone, Debug)]
pub struct Refused {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl LiveTail {
    /// Opens a tail of `job` with the tenant key `token`: the tail when answered 200 with an
    /// event stream, else what refused it.
    pub async fn open(env: &TestEnv, token: &str, job: u64) -> Result<LiveTail, Refused> {
        let resp = env
            .http
            .get(env.url(&format!("/scheduler/jobs/{job}/runs/stream")))
            .bearer_auth(token)
            .send()
            .await
            .expect("the API answers");
        let status = resp.status().as_u16();
        if status != 200 {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or_default().to_string());
            let body = resp.json().await.unwrap_or(Value::Null);
            return Err(Refused {
                status,
                retry_after,
                body,
            });
        }
        let kind = resp.headers()["content-type"].to_str().unwrap_or_default();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Ok(LiveTail {
            resp,
            buf: String::new(),
        })
    }

    /// The next event (keep-alive comments skipped), `None` when the stream ended; panics if
    /// none comes by `deadline`.
    pub async fn next(&mut self, deadline: Instant) -> Option<TailEvent> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..end + 2).collect();
                let field = |name: &str| {
                    event
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim().to_string())
                };
                let Some(data) = field("data:") else {
                    continue;
                };
                return Some(TailEvent {
                    name: field("event:").unwrap_or_default(),
                    data: serde_json::from_str(&data).expect("JSON data"),
                });
            }
            let chunk = tokio::time::timeout_at(deadline.into(), self.resp.chunk())
                .await
                .expect("an event arrives in time")
                .expect("the stream reads")?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
