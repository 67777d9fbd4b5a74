//! The export: a job's runs, oldest first, streamed as NDJSON (one `RunDetail` a line) or CSV.

use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::lookup::load_job;
use crate::query::{date_param, QueryOf};
use crate::state::AppState;
use crate::wire::params::ExportQuery;
use crate::wire::sap::RunDetail;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use chime_core::model::RunRecord;
use chime_core::time::format_instant;
use chime_store::{Order, RunQuery, Scope};

/// The CSV header line.
const COLUMNS: &str = "runId,runNumber,scheduleId,scheduleTimestamp,executionTimestamp,completionTimestamp,runStatus,runState,outcome,httpStatus,durationMs,errorMessage\n";

/// Streams the job's runs oldest first as NDJSON (or CSV with `Accept: text/csv`), optionally
/// within `from` and `to` (ISO 8601).
#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/runs/export", tag = "live", operation_id = "exportRuns",
    summary = "The job's runs, oldest first, as NDJSON or (with `Accept: text/csv`) CSV",
    params(
        ("jobId" = String, Path, description = "The job id"),
        ("Accept" = Option<String>, Header, nullable = false, description = "`text/csv` for CSV; NDJSON otherwise"),
        ExportQuery,
    ),
    responses(
        (status = 200, description = "The runs: one `RunDetail` JSON object per line, or CSV with the header `runId,runNumber,scheduleId,scheduleTimestamp,executionTimestamp,completionTimestamp,runStatus,runState,outcome,httpStatus,durationMs,errorMessage`",
            content(
                (RunDetail = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn export(
    State(s): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(raw): Path<String>,
    QueryOf(q): QueryOf<ExportQuery>,
) -> ApiResult<Response> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let mut query = RunQuery::new(&tenant.id, Scope::Job(job.id));
    query.from_ms = date_param(q.from.as_deref(), "from")?;
    query.to_ms = date_param(q.to.as_deref(), "to")?;
    query.order = Order::OldestFirst;
    query.size = 500;
    query.count = false;
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    let head = csv.then(|| COLUMNS.to_string());
    let stream = futures::stream::unfold(
        (s, query, false, head),
        move |(s, mut query, done, head)| async move {
            if let Some(h) = head {
                return Some((Ok::<_, std::io::Error>(h), (s, query, done, None)));
            }
            if done {
                return None;
            }
            let page = match export_page(&s, &query, csv).await {
                Ok(p) => p,
                Err(e) => {
                    // The status line is sent: the stream ends early, and the log says why.
                    tracing::error!(tenant = %query.tenant, error = %e, "export cut short");
                    metrics::counter!("chime_exports_cut_total").increment(1);
                    return Some((
                        Err(std::io::Error::other(e.to_string())),
                        (s, query, true, None),
                    ));
                }
            };
            if page.runs.is_empty() {
                return None;
            }
            let mut chunk = String::new();
            for (_, r) in &page.runs {
                if csv {
                    chunk.push_str(&csv_line(r));
                } else {
                    let line =
                        serde_json::to_string(&RunDetail::from(r)).expect("a run serialises");
                    chunk.push_str(&line);
                    chunk.push('\n');
                }
            }
            query.after = page.runs.last().map(|(_, r)| r.run_id.clone());
            let done = !page.has_more;
            Some((Ok(chunk), (s, query, done, None)))
        },
    );
    let ctype = if csv {
        "text/csv"
    } else {
        "application/x-ndjson"
    };
    Ok((
        [(header::CONTENT_TYPE, ctype)],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// A page of the export: the query's runs, with their stored log lines for NDJSON (CSV has no
/// log column).
async fn export_page(
    s: &AppState,
    query: &RunQuery,
    csv: bool,
) -> Result<chime_store::RunPage, chime_store::StoreError> {
    let mut page = s.store.query_runs(query).await?;
    if !csv {
        let records = page.runs.iter_mut().map(|(_, r)| r);
        s.store.with_logs(&query.tenant, records).await?;
    }
    Ok(page)
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn csv_line(r: &RunRecord) -> String {
    let opt = |v: Option<i64>| v.map(format_instant).unwrap_or_default();
    [
        r.run_id.clone(),
        r.number.to_string(),
        r.schedule_id.clone(),
        format_instant(r.scheduled_at),
        opt(r.executed_at),
        opt(r.completed_at),
        r.status.to_string(),
        r.state.to_string(),
        r.outcome.map(|o| o.to_string()).unwrap_or_default(),
        r.http_status.map(|h| h.to_string()).unwrap_or_default(),
        r.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
        r.error.clone().unwrap_or_default(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
