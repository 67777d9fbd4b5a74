//! The API client: requests with the token, and errors that carry the exit code they mean.

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use std::fmt;

/// A failure and the exit code it means (see `chime --help`).
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_AUTH: i32 = 3;
pub const EXIT_NOT_FOUND: i32 = 4;
pub const EXIT_REFUSED: i32 = 5;
pub const EXIT_UNREACHABLE: i32 = 6;

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(EXIT_USAGE, message)
    }

    pub fn other(message: impl fmt::Display) -> Failure {
        Failure::new(EXIT_ERROR, message.to_string())
    }

    /// The exit code of an HTTP status.
    pub fn of_status(status: StatusCode, message: String) -> Failure {
        let code = match status.as_u16() {
            401 | 403 => EXIT_AUTH,
            404 => EXIT_NOT_FOUND,
            400 | 409 | 413 | 422 => EXIT_REFUSED,
            _ => EXIT_ERROR,
        };
        Failure::new(code, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::other(e)
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;

/// A client of one API with one token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(base: &str, token: &str) -> CliResult<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("chime-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(Failure::other)?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request of `path` (with its query) with the token; the answer when its status is a
    /// success, else the failure it means, with the API's message.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: Option<&str>,
    ) -> CliResult<Response> {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(failure_of(resp).await)
    }

    /// A request whose answer is JSON (Null for an empty body).
    pub async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> CliResult<Value> {
        let resp = self.send(method, path, body, None).await?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Failure::other(format!("the API answered something not JSON: {e}")))
    }

    pub async fn get(&self, path: &str) -> CliResult<Value> {
        self.json(Method::GET, path, None).await
    }

    /// A transport error: the server could not be reached (or the connection broke), named
    /// by its innermost cause (`Connection refused`, a DNS failure, a timeout).
    pub fn unreachable(&self, e: &reqwest::Error) -> Failure {
        let mut cause: &dyn std::error::Error = e;
        while let Some(s) = cause.source() {
            cause = s;
        }
        let what = if e.is_timeout() {
            "timed out".to_string()
        } else {
            cause.to_string()
        };
        Failure::new(
            EXIT_UNREACHABLE,
            format!("cannot reach {}: {what}", self.base),
        )
    }
}

/// The failure of an answer that is not a success: its status's exit code and the API's
/// message (`message`, OAuth's `error_description`, or the body).
pub async fn failure_of(resp: Response) -> Failure {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error_description"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.trim().to_string());
    let message = if message.is_empty() {
        format!("the API answered {status}")
    } else {
        format!("{message} ({})", status.as_u16())
    };
    Failure::of_status(status, message)
}

/// `s` escaped for a URL's query or path segment.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
