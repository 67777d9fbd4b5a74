//! The page frame every dashboard page shares (skip link, header with the signed-in identity
//! and the sign-out form, one `h1`), its response headers (a strict Content-Security-Policy:
//! scripts and styles from `/ui/assets` only), the error pages, and the small pieces pages
//! share: instants, outcomes, the sparkline of recent runs.

use crate::ui::assets;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chime_core::time::format_instant;
use maud::{html, Markup, DOCTYPE};

/// Who the header names, and the token of the sign-out form.
pub struct Nav<'a> {
    pub label: String,
    pub csrf: &'a str,
    pub admin: bool,
}

/// htmx's settings, for the page's Content-Security-Policy and its data: no `eval` (no
/// `hx-on`), no inline scripts or styles, and no copies of pages in the browser's storage (a
/// history entry that is not in memory is loaded again).
const HTMX_CONFIG: &str = r#"{"allowEval":false,"allowScriptTags":false,"includeIndicatorStyles":false,"historyCacheSize":0,"refreshOnHistoryMiss":true}"#;

/// A whole page: `title` is the document's title and its one `h1`.
pub fn page(title: &str, nav: Option<&Nav>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · chime" }
                meta name="htmx-config" content=(HTMX_CONFIG);
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(assets::url("uPlot.min.css"));
                link rel="stylesheet" href=(assets::url("ui.css"));
                script src=(assets::url("htmx.min.js")) defer {}
                script src=(assets::url("sse.min.js")) defer {}
                script src=(assets::url("uPlot.min.js")) defer {}
                script src=(assets::url("ui.js")) defer {}
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header.top {
                    a.brand href="/ui/jobs" { "chime" }
                    @if let Some(nav) = nav {
                        nav aria-label="Main" {
                            ul {
                                @if nav.admin {
                                    li { a href="/ui/admin" { "Tenants" } }
                                    li { a href="/ui/admin/operations" { "Operations" } }
                                } @else {
                                    li { a href="/ui/jobs" { "Jobs" } }
                                    li { a href="/ui/settings" { "Settings" } }
                                }
                            }
                        }
                        span.who { (nav.label) }
                        form.inline method="post" action="/ui/logout" {
                            input type="hidden" name="csrf" value=(nav.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (main)
                }
                footer.bottom {
                    "chime · " a href=(assets::url("licenses.txt")) { "Licences of the scripts this page uses" }
                }
            }
        }
    }
}

/// A page's response: HTML with `status`, never cached, framed by nobody, scripts and styles
/// from the dashboard's own assets only.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut resp = (status, markup).into_response();
    let h = resp.headers_mut();
    let fixed = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

/// The answer to a form that did its work: to `to` (303).
pub fn see_other(to: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// A confirmation's form: POST to `action` with the session's token, a danger button saying
/// `label`, and a way back to `back`.
pub fn confirm_form(action: &str, csrf: &str, label: &str, back: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            div.actions {
                button.danger type="submit" { (label) }
                a href=(back) { "Cancel" }
            }
        }
    }
}

/// An error page of `status`.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        p.error role="alert" { (message) }
        p { a href="/ui/jobs" { "Back to the jobs" } }
    };
    respond(status, page(title, None, body))
}

/// An instant (ms) as a `<time>`: UTC, to the second.
pub fn when(ms: i64) -> Markup {
    when_iso(&format_instant(ms))
}

/// An instant in RFC 3339 (UTC) as a `<time>`, to the second.
pub fn when_iso(iso: &str) -> Markup {
    let shown = iso.get(..19).unwrap_or(iso).replace('T', " ");
    html! { time datetime=(iso) { (shown) " UTC" } }
}

/// [`when`], or a dash.
pub fn when_opt(ms: Option<i64>) -> Markup {
    match ms {
        Some(ms) => when(ms),
        None => html! { span.none { "—" } },
    }
}

/// The class of a run's outcome (`ok`, `bad`) or of a run not finished (`pending`).
pub fn outcome_class(outcome: Option<&str>) -> &'static str {
    match outcome {
        Some("success") => "ok",
        Some(_) => "bad",
        None => "pending",
    }
}

/// A run's outcome as a badge (its state while it has none).
pub fn outcome_badge(outcome: Option<&str>, state: &str) -> Markup {
    let class = outcome_class(outcome);
    html! { span class={ "badge " (class) } { (outcome.unwrap_or(state)) } }
}

/// One run of a sparkline: its outcome (none while unfinished) and its duration (ms).
pub struct Spark<'a> {
    pub outcome: Option<&'a str>,
    pub duration_ms: Option<u64>,
}

/// A small bar chart of recent runs, oldest first: a bar a run, its height the run's duration
/// against the longest, its colour its outcome. Drawn here, as inline SVG.
pub fn sparkline(runs: &[Spark]) -> Markup {
    const BAR: usize = 5;
    const GAP: usize = 2;
    const HEIGHT: u64 = 20;
    if runs.is_empty() {
        return html! { span.none { "no runs" } };
    }
    let longest = runs
        .iter()
        .filter_map(|r| r.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let ok = runs.iter().filter(|r| r.outcome == Some("success")).count();
    let failed = runs
        .iter()
        .filter(|r| r.outcome.is_some_and(|o| o != "success"))
        .count();
    let label = format!(
        "{} recent runs: {ok} succeeded, {failed} failed, {} not finished",
        runs.len(),
        runs.len() - ok - failed
    );
    let width = runs.len() * (BAR + GAP);
    html! {
        svg.spark role="img" aria-label=(label) width=(width) height=(HEIGHT)
            viewBox={ "0 0 " (width) " " (HEIGHT) } {
            title { (label) }
            @for (i, r) in runs.iter().enumerate() {
                @let h = r.duration_ms.map_or(HEIGHT / 2, |d| (d * HEIGHT / longest).max(3));
                rect class=(outcome_class(r.outcome)) x=(i * (BAR + GAP)) y=(HEIGHT - h)
                    width=(BAR) height=(h) {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_has_a_bar_a_run_and_says_what_it_shows() {
        let runs = [
            Spark {
                outcome: Some("success"),
                duration_ms: Some(100),
            },
            Spark {
                outcome: Some("failure"),
                duration_ms: Some(50),
            },
            Spark {
                outcome: None,
                duration_ms: None,
            },
        ];
        let svg = sparkline(&runs).into_string();
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
        assert!(
            svg.contains("1 succeeded, 1 failed, 1 not finished"),
            "{svg}"
        );
        assert!(sparkline(&[]).into_string().contains("no runs"));
    }

    #[test]
    fn text_is_escaped() {
        let p = page("<script>", None, html! { p { ("<b>") } }).into_string();
        assert!(
            !p.contains("<script>") && p.contains("&lt;script&gt;"),
            "{p}"
        );
        assert!(p.contains("&lt;b&gt;"));
    }
}
