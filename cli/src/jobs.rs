//! `chime jobs …` and `chime schedules …`: SAP's jobs and schedules (`/scheduler/jobs`).

use crate::args::{JobFields, JobsCmd, ScheduleFields, ScheduleMode, SchedulesCmd};
use crate::client::{enc, CliResult, Client, Failure, EXIT_NOT_FOUND};
use crate::output::{self, state_cell, text};
use comfy_table::Cell;
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::Path;

/// A job's id: `job` itself when it is a number, else the id of the job of that name.
pub async fn resolve(client: &Client, job: &str) -> CliResult<u64> {
    if let Ok(id) = job.parse::<u64>() {
        return Ok(id);
    }
    let v = client
        .get(&format!("/scheduler/jobs?name={}", enc(job)))
        .await
        .map_err(|f| match f.code {
            EXIT_NOT_FOUND => Failure::new(f.code, format!("no job is named '{job}' (404)")),
            _ => f,
        })?;
    v["_id"]
        .as_u64()
        .ok_or_else(|| Failure::other(format!("the API answered no id for job {job}")))
}

pub async fn run(client: &Client, as_json: bool, cmd: JobsCmd) -> CliResult {
    match cmd {
        JobsCmd::List { filter } => list(client, as_json, filter.as_deref()).await,
        JobsCmd::Show { job } => {
            let id = resolve(client, &job).await?;
            let v = client
                .get(&format!("/scheduler/jobs/{id}?displaySchedules=true"))
                .await?;
            output::show(as_json, &v, show_job);
            Ok(())
        }
        JobsCmd::Create(fields) => {
            let body = job_body(&fields, true)?;
            let v = client
                .json(Method::POST, "/scheduler/jobs", Some(&body))
                .await?;
            output::show(as_json, &v, show_job);
            Ok(())
        }
        JobsCmd::Edit { job, fields } => {
            let id = resolve(client, &job).await?;
            let body = job_body(&fields, false)?;
            let path = format!("/scheduler/jobs/{id}");
            client.json(Method::PUT, &path, Some(&body)).await?;
            let v = client.get(&format!("{path}?displaySchedules=true")).await?;
            output::show(as_json, &v, show_job);
            Ok(())
        }
        JobsCmd::Delete { job } => {
            let id = resolve(client, &job).await?;
            let v = client
                .json(Method::DELETE, &format!("/scheduler/jobs/{id}"), None)
                .await?;
            done(as_json, &v, &format!("deleted job {id}"));
            Ok(())
        }
        JobsCmd::Pause { job } => activation(client, as_json, &job, false).await,
        JobsCmd::Resume { job } => activation(client, as_json, &job, true).await,
    }
}

/// Prints the API's answer with `--json`, else `message`.
fn done(as_json: bool, v: &Value, message: &str) {
    if as_json {
        let success = json!({"success": true});
        output::json(if v.is_null() { &success } else { v });
    } else {
        println!("{message}");
    }
}

async fn activation(client: &Client, as_json: bool, job: &str, on: bool) -> CliResult {
    let id = resolve(client, job).await?;
    let path = format!("/scheduler/jobs/{id}/schedules/activationStatus");
    let v = client
        .json(Method::POST, &path, Some(&json!({"activationStatus": on})))
        .await?;
    let what = if on { "resumed" } else { "paused" };
    done(
        as_json,
        &v,
        &format!(
            "{what} job {id}: every schedule {}",
            if on { "active" } else { "inactive" }
        ),
    );
    Ok(())
}

/// Every job of the tenant (the list's pages of 100), or those of SAP's `filter`.
async fn list(client: &Client, as_json: bool, filter: Option<&str>) -> CliResult {
    let mut jobs: Vec<Value> = Vec::new();
    loop {
        let mut path = format!("/scheduler/jobs?page_size=100&offset={}", jobs.len());
        if let Some(f) = filter {
            path.push_str(&format!("&filter={}", enc(f)));
        }
        let page = client.get(&path).await?;
        let results = page["results"].as_array().cloned().unwrap_or_default();
        let total = page["total"].as_u64().unwrap_or(0) as usize;
        let empty = results.is_empty();
        jobs.extend(results);
        if empty || jobs.len() >= total {
            break;
        }
    }
    if as_json {
        output::json(&Value::Array(jobs));
        return Ok(());
    }
    let mut t = output::table(&["ID", "NAME", "ACTIVE", "SCHEDULES", "METHOD", "ACTION"]);
    for j in &jobs {
        t.add_row(vec![
            Cell::new(text(&j["_id"])),
            Cell::new(text(&j["name"])),
            state_cell(&j["active"]),
            Cell::new(format!(
                "{} active, {} inactive",
                text(&j["ACTIVECOUNT"]),
                text(&j["INACTIVECOUNT"])
            )),
            Cell::new(text(&j["httpMethod"])),
            Cell::new(text(&j["action"])),
        ]);
    }
    output::print_table(&t);
    Ok(())
}

/// A job's fields, then its schedules.
fn show_job(v: &Value) {
    output::fields(
        v,
        &[
            "_id",
            "name",
            "description",
            "active",
            "httpMethod",
            "action",
            "startTime",
            "endTime",
            "timeoutMs",
            "concurrencyPolicy",
            "createdAt",
            "modifiedAt",
        ],
    );
    if let Some(list) = v["schedules"].as_array() {
        println!();
        schedule_table(list);
    }
}

fn schedule_table(list: &[Value]) {
    let mut t = output::table(&[
        "SCHEDULE",
        "TYPE",
        "TIMING",
        "ACTIVE",
        "NEXT RUN",
        "DESCRIPTION",
    ]);
    for s in list {
        t.add_row(vec![
            Cell::new(text(&s["scheduleId"])),
            Cell::new(text(&s["type"])),
            Cell::new(timing(s)),
            state_cell(&s["active"]),
            Cell::new(text(&s["nextRunAt"])),
            Cell::new(text(&s["description"])),
        ]);
    }
    output::print_table(&t);
}

/// A schedule's mode and value, e.g. `repeatInterval 2 seconds`.
fn timing(s: &Value) -> String {
    ["cron", "crontab", "time", "repeatInterval", "repeatAt"]
        .iter()
        .find_map(|m| s[*m].as_str().map(|v| format!("{m} {v}")))
        .unwrap_or_default()
}

/// SAP's JSON from `file` (`-` is stdin): an object; without a file, an empty one.
fn read_object(file: Option<&Path>) -> CliResult<Map<String, Value>> {
    let Some(file) = file else {
        return Ok(Map::new());
    };
    let text = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Failure::usage(format!(
            "{}: not a JSON object",
            file.display()
        ))),
        Err(e) => Err(Failure::usage(format!("{}: {e}", file.display()))),
    }
}

fn set(m: &mut Map<String, Value>, key: &str, v: Option<&String>) {
    if let Some(v) = v {
        m.insert(key.into(), Value::String(v.clone()));
    }
}

/// Sets the schedule mode of the flags in `m`; whether one was given.
fn mode_fields(mode: &ScheduleMode, m: &mut Map<String, Value>) -> bool {
    let before = m.len();
    set(m, "cron", mode.cron.as_ref());
    set(m, "crontab", mode.crontab.as_ref());
    set(m, "repeatInterval", mode.repeat_every.as_ref());
    set(m, "time", mode.time.as_ref());
    set(m, "repeatAt", mode.repeat_at.as_ref());
    m.len() > before
}

/// A job's body: the file's object with the flags over it. On creation a job is active
/// unless `--inactive`, and a mode flag adds one active schedule.
fn job_body(f: &JobFields, create: bool) -> CliResult<Value> {
    let mut m = read_object(f.file.as_deref())?;
    set(&mut m, "name", f.name.as_ref());
    set(&mut m, "action", f.action.as_ref());
    set(
        &mut m,
        "httpMethod",
        f.method.as_ref().map(|s| s.to_ascii_uppercase()).as_ref(),
    );
    set(&mut m, "description", f.description.as_ref());
    if f.inactive {
        m.insert("active".into(), Value::Bool(false));
    } else if f.active || (create && !m.contains_key("active")) {
        m.insert("active".into(), Value::Bool(true));
    }
    let mut schedule = Map::new();
    if mode_fields(&f.schedule, &mut schedule) {
        if !create {
            return Err(Failure::usage(
                "a schedule's timing is changed with `chime schedules edit`",
            ));
        }
        schedule.insert("active".into(), Value::Bool(true));
        m.insert(
            "schedules".into(),
            Value::Array(vec![Value::Object(schedule)]),
        );
    } else if create && !m.contains_key("schedules") {
        m.insert("schedules".into(), json!([]));
    }
    if !create && m.is_empty() {
        return Err(Failure::usage("nothing to change: give a flag or --file"));
    }
    Ok(Value::Object(m))
}

/// A schedule's body: the file's object with the flags over it; created active unless
/// `--inactive`.
fn schedule_body(f: &ScheduleFields, create: bool) -> CliResult<Value> {
    let mut m = read_object(f.file.as_deref())?;
    set(&mut m, "description", f.description.as_ref());
    set(&mut m, "timeZone", f.time_zone.as_ref());
    mode_fields(&f.mode, &mut m);
    if f.inactive {
        m.insert("active".into(), Value::Bool(false));
    } else if create && !m.contains_key("active") {
        m.insert("active".into(), Value::Bool(true));
    }
    if !create && m.is_empty() {
        return Err(Failure::usage("nothing to change: give a flag or --file"));
    }
    Ok(Value::Object(m))
}

pub async fn schedules(client: &Client, as_json: bool, cmd: SchedulesCmd) -> CliResult {
    match cmd {
        SchedulesCmd::List { job } => {
            let id = resolve(client, &job).await?;
            let v = client
                .get(&format!("/scheduler/jobs/{id}/schedules"))
                .await?;
            let list = v["results"].as_array().cloned().unwrap_or_default();
            output::show(as_json, &Value::Array(list), |l| {
                schedule_table(l.as_array().map_or(&[], Vec::as_slice));
            });
        }
        SchedulesCmd::Show { job, schedule } => {
            let v = one(client, &job, &schedule, Method::GET, None).await?;
            output::show(as_json, &v, show_schedule);
        }
        SchedulesCmd::Create { job, fields } => {
            let id = resolve(client, &job).await?;
            let body = schedule_body(&fields, true)?;
            let path = format!("/scheduler/jobs/{id}/schedules");
            let v = client.json(Method::POST, &path, Some(&body)).await?;
            output::show(as_json, &v, show_schedule);
        }
        SchedulesCmd::Edit {
            job,
            schedule,
            fields,
        } => {
            let body = schedule_body(&fields, false)?;
            let v = one(client, &job, &schedule, Method::PUT, Some(&body)).await?;
            output::show(as_json, &v, show_schedule);
        }
        SchedulesCmd::Delete { job, schedule } => {
            let v = one(client, &job, &schedule, Method::DELETE, None).await?;
            done(as_json, &v, &format!("deleted schedule {schedule}"));
        }
        SchedulesCmd::Activate { job, schedule } => {
            let body = json!({"active": true});
            let v = one(client, &job, &schedule, Method::PUT, Some(&body)).await?;
            output::show(as_json, &v, show_schedule);
        }
        SchedulesCmd::Deactivate { job, schedule } => {
            let body = json!({"active": false});
            let v = one(client, &job, &schedule, Method::PUT, Some(&body)).await?;
            output::show(as_json, &v, show_schedule);
        }
    }
    Ok(())
}

/// A call on one schedule of a job.
async fn one(
    client: &Client,
    job: &str,
    schedule: &str,
    method: Method,
    body: Option<&Value>,
) -> CliResult<Value> {
    let id = resolve(client, job).await?;
    let path = format!("/scheduler/jobs/{id}/schedules/{}", enc(schedule));
    client.json(method, &path, body).await
}

fn show_schedule(v: &Value) {
    output::fields(
        v,
        &[
            "scheduleId",
            "jobId",
            "type",
            "cron",
            "crontab",
            "time",
            "repeatInterval",
            "repeatAt",
            "timeZone",
            "active",
            "nextRunAt",
            "description",
            "startTime",
            "endTime",
        ],
    );
}
