//! `chime run`, `chime runs list|show|tail`: running a job now, a job's runs (the run search),
//! one run, and the live tail (Server-Sent Events).

use crate::args::RunsCmd;
use crate::client::{enc, CliResult, Client, Failure, EXIT_NOT_FOUND};
use crate::jobs::resolve;
use crate::output::{self, state_cell, text};
use comfy_table::Cell;
use reqwest::Method;
use serde_json::Value;

pub async fn run(client: &Client, as_json: bool, cmd: RunsCmd) -> CliResult {
    match cmd {
        RunsCmd::List {
            job,
            status,
            since,
            limit,
        } => {
            list(
                client,
                as_json,
                &job,
                status.as_deref(),
                since.as_deref(),
                limit,
            )
            .await
        }
        RunsCmd::Show { run, job, schedule } => {
            let v = find(client, &run, job.as_deref(), schedule.as_deref()).await?;
            output::show(as_json, &v, show_run);
            Ok(())
        }
        RunsCmd::Tail { job } => tail(client, as_json, &job).await,
    }
}

/// `chime run <job> [<schedule>]`: the schedule (the job's only one by default) fired now.
pub async fn run_now(
    client: &Client,
    as_json: bool,
    job: &str,
    schedule: Option<&str>,
) -> CliResult {
    let id = resolve(client, job).await?;
    let schedule = match schedule {
        Some(s) => s.to_string(),
        None => only_schedule(client, id).await?,
    };
    let path = format!("/scheduler/jobs/{id}/schedules/{}/runs", enc(&schedule));
    let v = client.json(Method::POST, &path, None).await?;
    output::show(as_json, &v, show_run);
    Ok(())
}

/// The id of the job's one schedule; a usage error naming them when it has several or none.
async fn only_schedule(client: &Client, job: u64) -> CliResult<String> {
    let v = client
        .get(&format!("/scheduler/jobs/{job}/schedules"))
        .await?;
    let ids: Vec<String> = v["results"]
        .as_array()
        .map(|l| l.iter().map(|s| text(&s["scheduleId"])).collect())
        .unwrap_or_default();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Failure::usage(format!("job {job} has no schedule to run"))),
        _ => Err(Failure::usage(format!(
            "job {job} has {} schedules; name one: {}",
            ids.len(),
            ids.join(", ")
        ))),
    }
}

/// An instant for the API: a duration ago (`30s`, `15m`, `1h`, `2d`, `1w`) becomes that
/// instant; anything else (RFC 3339, a date) is passed on as it is.
pub fn instant(s: &str) -> String {
    let s = s.trim();
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => 0,
    };
    match num.parse::<i64>() {
        Ok(n) if secs > 0 && !num.is_empty() => {
            let at = chrono::Utc::now() - chrono::Duration::seconds(n.saturating_mul(secs));
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        }
        _ => s.to_string(),
    }
}

/// The run search's parameter for a `--status` value: runStatus, runState or outcome.
fn status_param(status: &str) -> CliResult<String> {
    const STATUS: [&str; 3] = ["SCHEDULED", "RUNNING", "COMPLETED"];
    const STATE: [&str; 6] = [
        "TRIGGERED",
        "ACK_RECVD",
        "SUCCESS",
        "ERROR",
        "REQUEST_ERROR",
        "UNKNOWN",
    ];
    const OUTCOME: [&str; 4] = ["success", "failure", "error", "timeout"];
    let values: Vec<&str> = status.split(',').map(str::trim).collect();
    let all = |set: &[&str], upper: bool| {
        values.iter().all(|v| {
            let v = if upper {
                v.to_ascii_uppercase()
            } else {
                v.to_string()
            };
            set.contains(&v.as_str())
        })
    };
    let (name, upper) = if all(&OUTCOME, false) {
        ("outcome", false)
    } else if all(&STATUS, true) {
        ("status", true)
    } else if all(&STATE, true) {
        ("state", true)
    } else {
        return Err(Failure::usage(format!(
            "--status: {status} is not a runStatus ({}), a runState ({}) or an outcome ({})",
            STATUS.join(", "),
            STATE.join(", "),
            OUTCOME.join(", ")
        )));
    };
    let joined: Vec<String> = values
        .iter()
        .map(|v| {
            if upper {
                v.to_ascii_uppercase()
            } else {
                v.to_string()
            }
        })
        .collect();
    Ok(format!("{name}={}", enc(&joined.join(","))))
}

/// Up to `limit` runs of the run search's `query` (newest first), following its cursor for
/// at most `pages` pages.
async fn search(client: &Client, query: &str, limit: usize, pages: usize) -> CliResult<Vec<Value>> {
    let mut runs = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..pages {
        let want = (limit - runs.len()).clamp(1, 100);
        let mut path = format!("/scheduler/runs?limit={want}");
        for part in [
            query.to_string(),
            cursor
                .map(|c| format!("cursor={}", enc(&c)))
                .unwrap_or_default(),
        ] {
            if !part.is_empty() {
                path.push('&');
                path.push_str(&part);
            }
        }
        let page = client.get(&path).await?;
        runs.extend(page["results"].as_array().cloned().unwrap_or_default());
        cursor = page["cursor"].as_str().map(str::to_string);
        if cursor.is_none() || runs.len() >= limit {
            break;
        }
    }
    runs.truncate(limit);
    Ok(runs)
}

async fn list(
    client: &Client,
    as_json: bool,
    job: &str,
    status: Option<&str>,
    since: Option<&str>,
    limit: usize,
) -> CliResult {
    let id = resolve(client, job).await?;
    // An unknown job finds nothing in the run search: ask for the job itself first.
    client.get(&format!("/scheduler/jobs/{id}")).await?;
    let mut query = format!("jobId={id}");
    if let Some(s) = status {
        query.push('&');
        query.push_str(&status_param(s)?);
    }
    if let Some(s) = since {
        query.push_str(&format!("&from={}", enc(&instant(s))));
    }
    let runs = search(client, &query, limit.max(1), usize::MAX).await?;
    if as_json {
        output::json(&Value::Array(runs));
        return Ok(());
    }
    let mut t = output::table(&[
        "RUN",
        "#",
        "SCHEDULED FOR",
        "STATUS",
        "STATE",
        "HTTP",
        "MS",
        "SCHEDULE",
    ]);
    for r in &runs {
        t.add_row(vec![
            Cell::new(text(&r["runId"])),
            Cell::new(text(&r["runNumber"])),
            Cell::new(text(&r["scheduleTimestamp"])),
            state_cell(&r["runStatus"]),
            state_cell(&r["runState"]),
            Cell::new(text(&r["httpStatus"])),
            Cell::new(text(&r["durationMs"])),
            Cell::new(text(&r["scheduleId"])),
        ]);
    }
    output::print_table(&t);
    Ok(())
}

/// A run in detail, by its id alone (`GET /scheduler/runs/{runId}`); `job` and `schedule`,
/// when given, must be the run's.
async fn find(
    client: &Client,
    run: &str,
    job: Option<&str>,
    schedule: Option<&str>,
) -> CliResult<Value> {
    let run = run.to_ascii_uppercase();
    let v = client
        .get(&format!("/scheduler/runs/{}", enc(&run)))
        .await?;
    let job_id = match job {
        Some(j) => Some(resolve(client, j).await?),
        None => None,
    };
    let other_job = job_id.is_some_and(|j| v["jobId"].as_u64() != Some(j));
    let other_schedule = schedule.is_some_and(|s| v["scheduleId"].as_str() != Some(s));
    if other_job || other_schedule {
        return Err(Failure::new(
            EXIT_NOT_FOUND,
            format!("run {run} is not a run of that job or schedule"),
        ));
    }
    Ok(v)
}

/// A run's fields, then its log.
pub fn show_run(v: &Value) {
    output::fields(
        v,
        &[
            "runId",
            "jobId",
            "scheduleId",
            "runNumber",
            "manual",
            "runStatus",
            "runState",
            "outcome",
            "failureReason",
            "httpStatus",
            "scheduleTimestamp",
            "executionTimestamp",
            "completionTimestamp",
            "durationMs",
            "attempt",
            "worker",
            "runText",
            "errorMessage",
        ],
    );
    if let Some(log) = v["log"].as_str().filter(|l| !l.is_empty()) {
        println!("\n{}", log.trim_end());
    }
}

/// `chime runs tail <job>`: one line per run as its result is recorded (the run's JSON with
/// `--json`), until the stream ends.
async fn tail(client: &Client, as_json: bool, job: &str) -> CliResult {
    let id = resolve(client, job).await?;
    let path = format!("/scheduler/jobs/{id}/runs/stream");
    let mut resp = client
        .send(Method::GET, &path, None, Some("text/event-stream"))
        .await?;
    eprintln!("following the runs of job {id} as they finish (Ctrl-C to stop)");
    if !as_json {
        println!(
            "{}",
            tail_line(&["FINISHED", "#", "RUN", "STATE", "HTTP", "MS", "TEXT"])
        );
    }
    let mut buf = String::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| client.unreachable(&e))? {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            event_out(&event, as_json)?;
        }
    }
    Ok(())
}

/// One Server-Sent Event of the tail: a run printed, a `lagged` end reported.
fn event_out(event: &str, as_json: bool) -> CliResult {
    let mut name = "message";
    let mut data = String::new();
    for line in event.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    match name {
        "run" => {
            if as_json {
                println!("{data}");
            } else {
                let r: Value = serde_json::from_str(&data).unwrap_or_default();
                let state = text(&r["runState"]);
                let line = tail_line(&[
                    &text(&r["completionTimestamp"]),
                    &text(&r["runNumber"]),
                    &text(&r["runId"]),
                    &state,
                    &text(&r["httpStatus"]),
                    &text(&r["durationMs"]),
                    &text(&r["runText"]).replace('\n', " "),
                ]);
                println!("{line}");
            }
            Ok(())
        }
        "lagged" => Err(Failure::other(format!(
            "the tail fell behind the job's runs and was closed ({data}); the runs it missed are in `chime runs list`"
        ))),
        _ => Ok(()),
    }
}

/// A line of the tail's columns, padded to fixed widths.
fn tail_line(cols: &[&str]) -> String {
    const WIDTHS: [usize; 6] = [24, 4, 32, 13, 4, 4];
    let mut out = String::new();
    for (i, c) in cols.iter().enumerate() {
        match WIDTHS.get(i) {
            Some(w) => out.push_str(&format!("{c:<w$}  ")),
            None => out.push_str(c),
        }
    }
    out.trim_end().to_string()
}
