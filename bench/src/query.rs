//! The query scenario: millions of stored runs written through the worker's own run steps,
//! then run-log reads through the API beside raw reads of the same streams.

use crate::memory::{breakdown, Family};
use crate::scenarios::{create_schedules, ms, redis_used_mib};
use crate::{progress, Bench, Latency};
use chime_core::model::{run_id, ActionSpec, RunMessage};
use chime_core::run::{Outcome, RunState, RunStatus};
use chime_store::{RunResult, Store};
use futures::stream::{self, StreamExt};
use serde_json::json;
use std::time::Instant;

#[derive(Debug, serde::Serialize)]
pub struct QueryFigures {
    pub readers: usize,
    pub stored_runs: u64,
    pub load_secs: f64,
    pub redis_mib: f64,
    /// Where the stored runs' bytes are, by family of keys.
    pub memory: Vec<Family>,
    pub first_page: Latency,
    pub deep_offset: Latency,
    pub date_range: Latency,
    pub by_id: Latency,
    /// The tenant-wide run search (`GET /scheduler/runs`): newest 50 runs, unfiltered.
    pub search_newest: Latency,
    /// ... 50 of one outcome (`outcome=failure`: the tenant's failure index).
    pub search_outcome: Latency,
    /// ... HTTP status and duration (`httpStatus=5xx&durationAbove=1`, decided on the
    /// tenant's index entries).
    pub search_status: Latency,
    /// ... a body text no run has: the worst case, a call that reads its whole budget.
    pub search_no_match: Latency,
    /// SAP's run log, a page of 100 runs of a schedule (`page_size=100`).
    pub page_of_100: Latency,
    /// The dashboard's page of a job with 100 runs of its history (`/ui/jobs/{job}?size=100`:
    /// its schedules, its chart of the last 24 hours and the 100 rows, rendered as HTML).
    pub dashboard_page_of_100: Latency,
    pub raw_xrevrange: Latency,
    /// The same page read raw: XREVRANGE, then the 50 records it points to (pipelined).
    pub raw_page: Latency,
}

/// Query: `runs` stored runs over tenants × jobs × schedules (at most `per_schedule` runs a
/// schedule), written by the bulk loader through the same scripts a worker runs (`run_start`
/// then `run_complete`); then `requests` run-log reads per query kind through the HTTP API from
/// `readers` concurrent readers, beside raw `XREVRANGE` on the same streams.
pub async fn query(
    b: &Bench,
    runs: u64,
    per_schedule: u64,
    readers_list: &[usize],
    requests: usize,
) -> anyhow::Result<Vec<QueryFigures>> {
    let layout = query_layout(b, runs, per_schedule).await?;
    let layout = &layout[..];
    let redis_before = redis_used_mib(&b.settings.redis_url).await?;
    let started = Instant::now();
    load_runs(b, layout, runs).await?;
    let load_secs = started.elapsed().as_secs_f64();
    let redis_mib = redis_used_mib(&b.settings.redis_url).await? - redis_before;
    let mut tenants: Vec<String> = layout.iter().map(|p| p.0.clone()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let (url, ns) = (&b.settings.redis_url, &b.settings.namespace);
    let memory = breakdown(url, ns, &tenants, runs).await?;

    // Known run ids and a date range in the middle of the load.
    let known = known_runs(b, layout).await?;
    let mid = chime_core::time::format_instant(
        started.elapsed().as_millis() as i64 / 2
            + (chrono::Utc::now().timestamp_millis() - started.elapsed().as_millis() as i64),
    );
    let mid_end = chime_core::time::format_instant(ms(&json!(mid)).unwrap_or(0) + 60_000);
    let deep = (per_schedule / 2).max(1);

    let sessions = dashboard_sessions(b, layout).await?;
    let sessions = &sessions;
    let mut figures = Vec::new();
    for &readers in readers_list {
        let pick = |i: usize| &layout[(i * 7919) % layout.len()];
        let time = |kind: &'static str| {
            let known = &known;
            let (mid, mid_end) = (&mid, &mid_end);
            async move {
                let bar = progress(requests as u64, kind);
                let samples: Vec<f64> = stream::iter(0..requests)
                .map(|i| {
                    let bar = bar.clone();
                    async move {
                        let (tenant, token, job, sid) = pick(i);
                        let path = match kind {
                            "first page" => format!("/scheduler/jobs/{job}/schedules/{sid}/runs?page_size=50"),
                            "deep offset" => format!("/scheduler/jobs/{job}/schedules/{sid}/runs?page_size=50&offset={deep}"),
                            "date range" => format!("/v1/cron-jobs/{tenant}/logs/{job}?limit=50&start_date={mid}&end_date={mid_end}"),
                            "page of 100" => format!("/scheduler/jobs/{job}/schedules/{sid}/runs?page_size=100"),
                            "dashboard page of 100" => String::new(),
                            "search newest" => "/scheduler/runs?limit=50".into(),
                            "search outcome" => "/scheduler/runs?limit=50&outcome=failure".into(),
                            "search status" => "/scheduler/runs?limit=50&httpStatus=5xx&durationAbove=1".into(),
                            "search no match" => "/scheduler/runs?limit=50&bodyContains=no%20such%20text".into(),
                            _ => {
                                let (_, _, j, s, r) = &known[i % known.len()];
                                format!("/scheduler/jobs/{j}/schedules/{s}/runs/{r}")
                            }
                        };
                        let token = if kind == "by id" { &known[i % known.len()].1 } else { token };
                        let t = Instant::now();
                        let ok = if kind == "dashboard page of 100" {
                            dashboard_page(b, &sessions[token], *job).await.is_ok()
                        } else {
                            b.call(token, "GET", &path, None).await.is_ok()
                        };
                        bar.inc(1);
                        ok.then(|| t.elapsed().as_secs_f64() * 1000.0)
                    }
                })
                .buffer_unordered(readers)
                .filter_map(|x| async move { x })
                .collect()
                .await;
                bar.finish_and_clear();
                Latency::of(samples)
            }
        };
        let first_page = time("first page").await;
        let deep_offset = time("deep offset").await;
        let date_range = time("date range").await;
        let by_id = time("by id").await;
        let search_newest = time("search newest").await;
        let search_outcome = time("search outcome").await;
        let search_status = time("search status").await;
        let search_no_match = time("search no match").await;
        let page_of_100 = time("page of 100").await;
        let dashboard_page_of_100 = time("dashboard page of 100").await;
        let (raw, raw_page) = raw_reads(b, layout, readers, requests).await?;
        figures.push(QueryFigures {
            readers,
            raw_page,
            stored_runs: runs,
            load_secs,
            redis_mib,
            memory: memory.clone(),
            first_page,
            deep_offset,
            date_range,
            by_id,
            search_newest,
            search_outcome,
            search_status,
            search_no_match,
            page_of_100,
            dashboard_page_of_100,
            raw_xrevrange: raw,
        });
    }
    Ok(figures)
}

/// A dashboard session for each token of `layout` (token → the cookie's `name=value`), each
/// checked to show a job's page with 100 runs.
async fn dashboard_sessions(
    b: &Bench,
    layout: &[Placed],
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut sessions = std::collections::HashMap::new();
    for (_, token, job, _) in layout {
        if sessions.contains_key(token) {
            continue;
        }
        let resp = http
            .post(format!("{}/ui/login", b.api))
            .form(&[("token", token)])
            .send()
            .await?;
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .ok_or_else(|| anyhow::anyhow!("sign-in answered {}", resp.status()))?
            .to_string();
        let page = dashboard_page(b, &cookie, *job).await?;
        let rows = page.matches("<tr id=\"run-").count();
        anyhow::ensure!(
            rows == 100,
            "the dashboard page of job {job} shows {rows} runs"
        );
        sessions.insert(token.clone(), cookie);
    }
    Ok(sessions)
}

/// The dashboard's page of `job` with 100 runs, read whole.
async fn dashboard_page(b: &Bench, cookie: &str, job: u64) -> anyhow::Result<String> {
    let resp = b
        .http
        .get(format!("{}/ui/jobs/{job}?size=100", b.api))
        .header("cookie", cookie)
        .send()
        .await?;
    anyhow::ensure!(
        resp.status() == 200,
        "the dashboard page: {}",
        resp.status()
    );
    Ok(resp.text().await?)
}

/// A schedule of the query scenario: (tenant, token, job, schedule).
type Placed = (String, String, u64, String);

/// Enough inactive schedules for `runs` runs at `per_schedule` each, over up to 10 tenants.
async fn query_layout(b: &Bench, runs: u64, per_schedule: u64) -> anyhow::Result<Vec<Placed>> {
    let schedules_needed = runs.div_ceil(per_schedule) as usize;
    let tenants = schedules_needed.div_ceil(100).clamp(1, 10);
    let per_tenant = schedules_needed.div_ceil(tenants);
    let mut layout: Vec<Placed> = Vec::new();
    for t in 0..tenants {
        let (tenant, token) = b.tenant(&format!("query-{t}")).await?;
        // Inactive: nothing fires; the loader writes the runs.
        let jobs = create_schedules(
            b,
            &token,
            per_tenant,
            &format!("q{t}"),
            |_| json!({"repeatInterval": "1 hour", "active": false}),
        )
        .await?;
        for (j, sids) in jobs {
            for sid in sids {
                layout.push((tenant.clone(), token.clone(), j, sid));
            }
        }
    }
    layout.truncate(schedules_needed);
    Ok(layout)
}

/// Writes `runs` runs round-robin over `layout` through the same scripts a worker runs
/// (`run_start` then `run_complete`); every tenth ends in a 500. Each run is scheduled when its
/// batch is made (a schedule's runs of one batch a millisecond apart) and executed when the
/// loader writes it, so its record's execution start is close to when it finished, as a
/// worker's is.
async fn load_runs(b: &Bench, layout: &[Placed], runs: u64) -> anyhow::Result<()> {
    let store = Store::connect(
        &b.settings.redis_url,
        &b.settings.namespace,
        chime_scheduler::retention(&b.settings),
        b.settings.due_partitions,
    )
    .await?;
    let bar = progress(runs, "loading runs");
    let mut base = 0i64;
    let mut loaded = 0u64;
    let batch = 2000u64;
    while loaded < runs {
        let n = (runs - loaded).min(batch);
        // Past the previous batch's instants, so a schedule's run ids stay distinct.
        base = chrono::Utc::now()
            .timestamp_millis()
            .max(base + (batch / layout.len() as u64) as i64 + 1);
        let first = loaded;
        let work: Vec<RunMessage> = (loaded..loaded + n)
            .map(|i| {
                let (tenant, _, job, sid) = &layout[(i % layout.len() as u64) as usize];
                let at = base + ((i - first) / layout.len() as u64) as i64;
                RunMessage {
                    run_id: run_id(sid, at),
                    tenant: tenant.clone(),
                    job_id: *job,
                    schedule_id: sid.clone(),
                    scheduled_at: at,
                    owner: "bench-loader".into(),
                    epoch: 0,
                    fresh: false,
                    requested_by: None,
                    retry: None,
                    attempt: 1,
                    first_call_at: None,
                    retry_at: None,
                    replaceable: false,
                    notify: false,
                    action: ActionSpec {
                        url: b.target.url(crate::HOOK),
                        method: chime_core::run::HttpMethod::Post,
                        headers: vec![],
                        secret_headers: vec![],
                        body: None,
                        timeout_ms: 1000,
                    },
                }
            })
            .collect();
        let results: Vec<anyhow::Result<()>> = stream::iter(work)
            .map(|m| {
                let store = store.clone();
                async move {
                    // Executed when the loader gets to it, as a worker's run is: its
                    // record's execution start is milliseconds before its record.
                    let now = chrono::Utc::now()
                        .timestamp_millis()
                        .max(m.scheduled_at + 3);
                    store.run_start(&m, now, "bench-loader").await?;
                    let ok = !m.run_id.ends_with('7');
                    let r = RunResult {
                        status: RunStatus::Completed,
                        state: if ok {
                            RunState::Success
                        } else {
                            RunState::Error
                        },
                        outcome: Some(if ok {
                            Outcome::Success
                        } else {
                            Outcome::Failure
                        }),
                        http_status: Some(if ok { 200 } else { 500 }),
                        run_text: "{\"ok\":true}".into(),
                        body: Some("{\"ok\":true}".into()),
                        error: (!ok).then(|| "endpoint returned status code 500".into()),
                        duration_ms: 2,
                        executed_at: now,
                        event: None,
                        timing: Default::default(),
                        failure_reason: None,
                    };
                    store.run_complete(&m, now + 2, "bench-loader", &r).await?;
                    Ok(())
                }
            })
            .buffer_unordered(256)
            .collect()
            .await;
        for r in results {
            r?;
        }
        loaded += n;
        bar.set_position(loaded);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Up to 5 run ids of each of the first 50 schedules: (tenant, token, job, schedule, run).
async fn known_runs(
    b: &Bench,
    layout: &[Placed],
) -> anyhow::Result<Vec<(String, String, u64, String, String)>> {
    let mut v = Vec::new();
    for (tenant, token, job, sid) in layout.iter().take(50) {
        let page = b
            .call(
                token,
                "GET",
                &format!("/scheduler/jobs/{job}/schedules/{sid}/runs?page_size=5"),
                None,
            )
            .await?;
        for r in page["results"].as_array().into_iter().flatten() {
            v.push((
                tenant.clone(),
                token.clone(),
                *job,
                sid.clone(),
                r["runId"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    Ok(v)
}

/// Raw reads of the same page size on the same streams at the same concurrency: the ids
/// alone (`XREVRANGE`), and the page with the 50 records it points to (pipelined).
async fn raw_reads(
    b: &Bench,
    layout: &[Placed],
    readers: usize,
    requests: usize,
) -> anyhow::Result<(Latency, Latency)> {
    let pick = |i: usize| &layout[(i * 7919) % layout.len()];
    let keys = chime_store::keys::Keys::new(&b.settings.namespace);
    let conn = redis::Client::open(b.settings.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let raw: Vec<f64> = stream::iter(0..requests)
        .map(|i| {
            let mut conn = conn.clone();
            let (tenant, _, _, sid) = pick(i);
            let key = keys.schedule_runs(tenant, sid);
            async move {
                let t = Instant::now();
                let _: redis::Value = redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(50)
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                Some(t.elapsed().as_secs_f64() * 1000.0)
            }
        })
        .buffer_unordered(readers)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    let raw_page: Vec<f64> = stream::iter(0..requests)
        .map(|i| {
            let mut conn = conn.clone();
            let (tenant, _, job, sid) = pick(i);
            let key = keys.schedule_runs(tenant, sid);
            let records = keys.job_runs(tenant, *job);
            async move {
                let t = Instant::now();
                let page: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(50)
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                // Each position holds its run's stream id in the job's stream of records.
                let mut pipe = redis::pipe();
                for e in &page.ids {
                    let xid = e.get::<String>("x").unwrap_or_default();
                    pipe.cmd("XRANGE").arg(&records).arg(&xid).arg(&xid);
                }
                let _: Vec<redis::Value> = pipe.query_async(&mut conn).await.ok()?;
                Some(t.elapsed().as_secs_f64() * 1000.0)
            }
        })
        .buffer_unordered(readers)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    Ok((Latency::of(raw), Latency::of(raw_page)))
}
