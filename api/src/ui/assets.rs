//! The dashboard's static files, built into the binary: its own stylesheet and script, and
//! the libraries vendored from the npm registry (`api/assets/vendor`, with their licences):
//! htmx and its SSE extension (history paging without a reload, the live tail) and uPlot (the
//! interactive chart). Each is linked with a digest of its content in the query string, so it
//! is cached for a year and a new build's file is fetched at once.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// (name, content type, content).
const FILES: [(&str, &str, &str); 7] = [
    ("ui.css", CSS, include_str!("../../assets/ui.css")),
    ("ui.js", JS, include_str!("../../assets/ui.js")),
    (
        "htmx.min.js",
        JS,
        include_str!("../../assets/vendor/htmx.org/htmx.min.js"),
    ),
    (
        "sse.min.js",
        JS,
        include_str!("../../assets/vendor/htmx-ext-sse/sse.min.js"),
    ),
    (
        "uPlot.min.js",
        JS,
        include_str!("../../assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        CSS,
        include_str!("../../assets/vendor/uplot/uPlot.min.css"),
    ),
    ("licenses.txt", "text/plain; charset=utf-8", LICENSES),
];

/// The vendored libraries' licences, as their packages publish them.
const LICENSES: &str = concat!(
    "The chime dashboard serves these libraries from the npm registry.\n\n",
    "== htmx.org 2.0.11 (htmx.min.js) ==\n\n",
    include_str!("../../assets/vendor/htmx.org/LICENSE"),
    "\n\n== htmx-ext-sse 2.2.4 (sse.min.js) ==\n\n",
    include_str!("../../assets/vendor/htmx-ext-sse/LICENSE"),
    "\n\n== uplot 1.6.32 (uPlot.min.js, uPlot.min.css) ==\n\n",
    include_str!("../../assets/vendor/uplot/LICENSE"),
);

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
