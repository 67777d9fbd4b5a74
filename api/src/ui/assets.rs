//! The dashboard's two static files, built into the binary: its stylesheet and its script
//! (the live tail of a job's runs, with `EventSource`). Each is linked with a digest of its
//! content in the query string, so it is cached for a year and a new build's file is fetched
//! at once.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// (name, content type, content).
const FILES: [(&str, &str, &str); 2] = [
    (
        "ui.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/ui.css"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ui.js"),
    ),
];

/// Each file's digest (12 hex digits), in the order of [`FILES`].
static DIGESTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, body)| hex::encode(&Sha256::digest(body.as_bytes())[..6]))
        .collect()
});

/// The URL of asset `name`, with its digest.
pub fn url(name: &str) -> String {
    let digest = FILES
        .iter()
        .position(|(n, _, _)| *n == name)
        .map(|i| DIGESTS[i].as_str())
        .unwrap_or_default();
    format!("/ui/assets/{name}?v={digest}")
}

/// `GET /ui/assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, ctype, body)) = FILES.iter().find(|(n, _, _)| *n == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut resp = (*body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}
