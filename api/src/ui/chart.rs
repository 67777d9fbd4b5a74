//! The chart of a job's page: its runs finished in a window (the last hour, day or week, a
//! `?window=` link), as `GET /scheduler/jobs/{jobId}/stats?buckets=N` counts them
//! ([`crate::routes::stats::job_stats_of`]), drawn here as inline SVG: per span a bar of its
//! successes and failures and a point of its median duration, each with a `<title>`; and the
//! same in words (total, success rate, percentiles, failure reasons) for who does not see it.

use crate::error::ApiError;
use crate::routes::stats::job_stats_of;
use crate::state::AppState;
use crate::ui::job::readable_job;
use crate::ui::layout;
use crate::ui::session::Signed;
use crate::ui::{UiError, UiResult};
use crate::wire::stats::{JobStats, StatsBucket};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use std::collections::HashMap;

/// A window the chart shows: its name in the query, its words, its length and its spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub name: &'static str,
    pub words: &'static str,
    pub ms: i64,
    pub buckets: u32,
}

/// The windows offered, the default (24 hours) second.
pub const WINDOWS: [Window; 3] = [
    Window {
        name: "1h",
        words: "the last hour",
        ms: 3_600_000,
        buckets: 30,
    },
    Window {
        name: "24h",
        words: "the last 24 hours",
        ms: 86_400_000,
        buckets: 48,
    },
    Window {
        name: "7d",
        words: "the last 7 days",
        ms: 7 * 86_400_000,
        buckets: 56,
    },
];

impl Window {
    /// The window of `?window=` (24 hours without); a 400 for an unknown one.
    pub fn of(v: Option<&str>) -> UiResult<Window> {
        match v.map(str::trim) {
            None | Some("") => Ok(WINDOWS[1]),
            Some(v) => WINDOWS.into_iter().find(|w| w.name == v).ok_or_else(|| {
                UiError::Api(ApiError::BadRequest(format!(
                    "'window' must be 1h, 24h or 7d, got '{v}'"
                )))
            }),
        }
    }
}

/// The statistics of `job`'s runs in `w`, up to now.
pub async fn stats(s: &AppState, tenant: &str, job: u64, w: Window) -> UiResult<JobStats> {
    let now = chrono::Utc::now().timestamp_millis();
    Ok(job_stats_of(s, tenant, job, (now - w.ms, now), Some(w.buckets)).await?)
}

/// The plot's geometry: the SVG's size and the plot area's edges.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 676.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 160.0;

/// An instant's label on the time axis: the time, with the day for a day or more.
fn tick(iso: &str, w: Window) -> String {
    let time = iso.get(11..16).unwrap_or(iso);
    if w.ms >= 86_400_000 {
        format!("{} {time}", iso.get(5..10).unwrap_or(""))
    } else {
        time.to_string()
    }
}

/// A span's tooltip.
fn bucket_title(b: &StatsBucket, w: Window) -> String {
    let latency = b.latency_ms.as_ref().map_or(String::new(), |l| {
        format!("; duration p50 {} ms, max {} ms", l.p50, l.max)
    });
    format!(
        "{} to {} UTC: {} runs, {} succeeded, {} failed{latency}",
        tick(&b.from, w),
        tick(&b.to, w),
        b.total,
        b.success,
        b.failure
    )
}

/// The SVG: a stacked bar a span (successes below, failures above) against the busiest span,
/// and the median durations as a line of points against the longest.
pub fn svg(stats: &JobStats, w: Window, labelled_by: &str) -> Markup {
    let series = stats.series.as_deref().unwrap_or_default();
    let n = series.len().max(1) as f64;
    let most = series.iter().map(|b| b.total).max().unwrap_or(0).max(1) as f64;
    let longest = series
        .iter()
        .filter_map(|b| b.latency_ms.as_ref().map(|l| l.p50))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let span = (RIGHT - LEFT) / n;
    let h = BOTTOM - TOP;
    let y = |v: f64, of: f64| BOTTOM - v / of * h;
    let points: Vec<(f64, f64)> = series
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let p50 = b.latency_ms.as_ref()?.p50 as f64;
            Some((LEFT + span * (i as f64 + 0.5), y(p50, longest)))
        })
        .collect();
    let line: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let (first, last) = (series.first(), series.last());
    html! {
        svg.chart role="img" aria-labelledby=(labelled_by) width=(WIDTH) height=(HEIGHT)
            viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } {
            line.axis x1=(LEFT) y1=(BOTTOM) x2=(RIGHT) y2=(BOTTOM) {}
            text.axis x=(LEFT - 4.0) y=(TOP + 4.0) text-anchor="end" { (most as u64) }
            text.axis x=(LEFT - 4.0) y=(BOTTOM) text-anchor="end" { "0" }
            text.axis.p50 x=(RIGHT + 4.0) y=(TOP + 4.0) { (longest as u64) " ms" }
            @for (i, b) in series.iter().enumerate() {
                @let x = LEFT + span * i as f64 + span * 0.15;
                @let ok = b.success as f64 / most * h;
                @let bad = b.failure as f64 / most * h;
                g.bucket {
                    title { (bucket_title(b, w)) }
                    rect.hit x=(format!("{:.1}", LEFT + span * i as f64)) y=(TOP)
                        width=(format!("{span:.1}")) height=(h) {}
                    @if b.success > 0 {
                        rect.ok x=(format!("{x:.1}")) y=(format!("{:.1}", BOTTOM - ok))
                            width=(format!("{:.1}", span * 0.7)) height=(format!("{ok:.1}")) {}
                    }
                    @if b.failure > 0 {
                        rect.bad x=(format!("{x:.1}")) y=(format!("{:.1}", BOTTOM - ok - bad))
                            width=(format!("{:.1}", span * 0.7)) height=(format!("{bad:.1}")) {}
                    }
                }
            }
            @if !line.is_empty() { polyline.p50 points=(line.join(" ")) {} }
            @for (x, y) in &points { circle.p50 cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="2.5" {} }
            @if let (Some(f), Some(l)) = (first, last) {
                text.axis x=(LEFT) y=(BOTTOM + 16.0) { (tick(&f.from, w)) " UTC" }
                text.axis x=(RIGHT) y=(BOTTOM + 16.0) text-anchor="end" { (tick(&l.to, w)) " UTC" }
            }
        }
    }
}

/// The chart in words: how many runs, how many succeeded, the percentiles, why runs failed.
pub fn summary(stats: &JobStats, w: Window) -> Markup {
    html! {
        @if stats.total == 0 {
            "No run finished in " (w.words) "."
        } @else {
            (stats.total) @if stats.total == 1 { " run" } @else { " runs" }
            " finished in " (w.words) ": "
            (stats.success) " succeeded, " (stats.failure) " failed"
            @if let Some(rate) = stats.success_rate { " (" (format!("{:.1}", rate * 100.0)) "% success)" }
            "."
            @if let Some(l) = &stats.latency_ms {
                " Duration p50 " (l.p50) " ms, p90 " (l.p90) " ms, p99 " (l.p99) " ms, max " (l.max) " ms."
            }
            @if stats.sampled { " (The window holds more runs than are read: these are its oldest.)" }
        }
    }
}

/// The series of the chart for uPlot (`ui.js` draws it in place of the SVG when scripts run):
/// each span's start (seconds), runs, successes, failures, and median and p90 durations (ms,
/// `null` for a span without runs), as JSON for the plot's `data-series` attribute.
pub fn series_json(stats: &JobStats) -> String {
    let series = stats.series.as_deref().unwrap_or_default();
    let start = |b: &StatsBucket| {
        chrono::DateTime::parse_from_rfc3339(&b.from).map_or(0, |t| t.timestamp())
    };
    let pick = |f: fn(&crate::wire::stats::Latency) -> u64| -> Vec<Option<u64>> {
        series
            .iter()
            .map(|b| b.latency_ms.as_ref().map(f))
            .collect()
    };
    serde_json::json!({
        "t": series.iter().map(start).collect::<Vec<_>>(),
        "total": series.iter().map(|b| b.total).collect::<Vec<_>>(),
        "success": series.iter().map(|b| b.success).collect::<Vec<_>>(),
        "failure": series.iter().map(|b| b.failure).collect::<Vec<_>>(),
        "p50": pick(|l| l.p50),
        "p90": pick(|l| l.p90),
    })
    .to_string()
}

/// The address of `job`'s chart of window `w`.
fn chart_url(job: u64, w: Window) -> String {
    format!("/ui/jobs/{job}/chart?window={}", w.name)
}

/// The chart's place on a job's page. Counting a window's runs reads each of them, so the page
/// does not wait for it: with scripts, htmx fetches the chart's page when the job's page has
/// loaded and puts its section here; without, this is a link to that page.
pub fn placeholder(job: u64, w: Window) -> Markup {
    let url = chart_url(job, w);
    html! {
        section #chart-view aria-labelledby="chart" hx-get=(url) hx-trigger="load"
            hx-select="#chart-view" hx-swap="outerHTML" {
            h2 #chart { "Outcomes and duration" }
            p { a href=(url) { "The chart of the runs of " (w.words) } }
        }
    }
}

/// The chart's section: the window's links (with htmx, they swap this section only, on the
/// job's page as on the chart's), the summary and the picture.
pub fn section(job: u64, stats: &JobStats, w: Window) -> Markup {
    html! {
        section #chart-view aria-labelledby="chart" hx-target="#chart-view"
            hx-select="#chart-view" hx-swap="outerHTML" {
            h2 #chart { "Outcomes and duration" }
            nav.windows aria-label="Chart window" hx-boost="true" hx-push-url="false" {
                @for o in WINDOWS {
                    @if o == w { span aria-current="true" { (o.name) } }
                    @else { a href=(chart_url(job, o)) { (o.name) } }
                }
            }
            p #chart-summary { (summary(stats, w)) }
            @if !stats.failure_reasons.is_empty() {
                ul.reasons { @for (why, n) in &stats.failure_reasons { li { (why) ": " (n) } } }
            }
            (svg(stats, w, "chart-summary"))
            div #chart-plot role="img" aria-labelledby="chart-summary" data-series=(series_json(stats)) {}
            p.legend.hint {
                span.swatch.ok {} "succeeded " span.swatch.bad {} "failed "
                span.swatch.p50 {} "median duration (right scale); each bar a span of "
                (w.ms / i64::from(w.buckets) / 60_000) " minutes"
            }
        }
    }
}

/// `GET /ui/jobs/{job}/chart?window=`: the chart of the job's runs in the window, as a page of
/// its own (the job's page puts its section in place).
pub async fn chart_page(
    State(s): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> UiResult<Response> {
    let (q, tenant, job) = readable_job(&s, &signed, &raw, q).await?;
    let window = Window::of(q.get("window").map(String::as_str))?;
    let stats = stats(&s, &tenant.id, job.id, window).await?;
    let body = html! {
        p { "Of the job " a href={ "/ui/jobs/" (job.id) } { (job.name) } "." }
        (section(job.id, &stats, window))
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page(
            &format!("Outcomes and duration of {}", job.name),
            Some(&signed.nav()),
            body,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::stats::Latency;

    fn bucket(total: u64, success: u64, p50: Option<u64>) -> StatsBucket {
        StatsBucket {
            from: "2026-01-01T10:00:00.000Z".into(),
            to: "2026-01-01T10:30:00.000Z".into(),
            total,
            success,
            failure: total - success,
            latency_ms: p50.map(|p| Latency {
                p50: p,
                p90: p,
                p99: p,
                max: p * 2,
            }),
        }
    }

    #[test]
    fn the_chart_draws_a_bar_a_span_and_says_the_same_in_words() {
        let stats = JobStats {
            job_id: 1,
            from: String::new(),
            to: String::new(),
            total: 5,
            success: 4,
            failure: 1,
            success_rate: Some(0.8),
            latency_ms: Latency::of(vec![10, 20, 30, 40, 50]),
            failure_reasons: [("httpStatus".to_string(), 1)].into(),
            sampled: false,
            series: Some(vec![
                bucket(3, 2, Some(20)),
                bucket(0, 0, None),
                bucket(2, 2, Some(40)),
            ]),
        };
        let svg = svg(&stats, WINDOWS[0], "s").into_string();
        assert_eq!(svg.matches("<g class=\"bucket\"").count(), 3, "{svg}");
        assert_eq!(svg.matches("<rect class=\"bad\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(
            svg.contains(
                "10:00 to 10:30 UTC: 3 runs, 2 succeeded, 1 failed; duration p50 20 ms, max 40 ms"
            ),
            "{svg}"
        );
        let words = summary(&stats, WINDOWS[1]).into_string();
        assert!(
            words.contains(
                "5 runs finished in the last 24 hours: 4 succeeded, 1 failed (80.0% success)"
            ),
            "{words}"
        );
        assert!(
            words.contains("p50 30 ms") && words.contains("p99 50 ms"),
            "{words}"
        );
        let json: serde_json::Value = serde_json::from_str(&series_json(&stats)).unwrap();
        assert_eq!(json["t"][0], 1_767_261_600, "{json}");
        assert_eq!(json["total"], serde_json::json!([3, 0, 2]), "{json}");
        assert_eq!(json["failure"], serde_json::json!([1, 0, 0]), "{json}");
        assert_eq!(json["p50"], serde_json::json!([20, null, 40]), "{json}");
        assert_eq!(Window::of(Some("7d")).unwrap().buckets, 56);
        assert_eq!(Window::of(None).unwrap().name, "24h");
        assert!(Window::of(Some("2y")).is_err());
    }
}
