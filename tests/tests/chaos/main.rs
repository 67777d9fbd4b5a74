//! The chaos suite: chime on the real services, as separate processes, under one fault after
//! another, its history checked against an oracle of the nominal instants that should have
//! fired. It prints one table (and writes it to `<target>/tmp/chaos-latest.md`) and fails on
//! any lost or doubled fire, early call, orphan, second call of a finished run, interval
//! schedules brought into step, or API answer of 500 and more.
//!
//! The faults, in order: R1 the leader killed (SIGKILL); R2 a worker killed; R3 the API killed
//! three times under concurrent writers; R4 the broker's node killed and restarted; R5 Redis killed and restarted from its append-only
//! file; R9 poison, forged and duplicate messages on the run queue; R10 a worker stopped
//! (SIGTERM) in the middle of slow calls; R8 a hostile tenant (calls that hang until their
//! timeout) beside the healthy one. Short form (CI): one round of a few seconds each. Long
//! form: `CHIME_CHAOS=long cargo test -p chime-tests --test chaos -- --nocapture` (five
//! rounds of fifteen seconds each). `docs/RELIABILITY.md` holds the latest long table.

mod oracle;
mod world;

use chime_testkit::{create_job, wait_until, Target};
use oracle::{Recorded, Row};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use world::World;

/// The healthy tenant's schedules: every-second grids (the oracle's), every-second intervals
/// with phases of their own, and one slow grid (its calls last 1.5 s).
struct Plan {
    tenant: String,
    token: String,
    grid: Vec<String>,
    interval: BTreeSet<String>,
    probe_job: u64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chime_keeps_its_promises_under_every_fault() {
    let long = std::env::var("CHIME_CHAOS").as_deref() == Ok("long");
    let (rounds, phase) = if long {
        (5, Duration::from_secs(15))
    } else {
        (1, Duration::from_secs(6))
    };
    let mut w = World::start().await;
    let healthy = Target::start().await;
    let slow = Target::start().await;
    slow.set_delay(Duration::from_millis(1500));
    let plan = plan(&w, &healthy, &slow).await;
    let mut api_5xx = 0;
    let mut windows: Vec<(String, i64, i64)> = Vec::new();

    let t = now_ms();
    api_5xx += observe(&w, &plan, phase).await;
    windows.push(("none (steady)".into(), t, now_ms()));
    let mut writer_orphans = 0;
    let mut dead_lettered = Vec::new();
    for round in 1..=rounds {
        let r = |f: &str| format!("{f} (round {round})");

        let t = now_ms();
        if let Some(leader) = w.leader().await {
            w.kill(&leader).await;
        }
        w.spawn("scheduler");
        api_5xx += observe(&w, &plan, phase).await;
        windows.push((r("R1 leader killed"), t, now_ms()));

        let t = now_ms();
        let victim = w.running("worker")[0].clone();
        w.kill(&victim).await;
        w.spawn("worker");
        api_5xx += observe(&w, &plan, phase).await;
        windows.push((r("R2 worker killed"), t, now_ms()));

        let t = now_ms();
        writer_orphans += api_kills_under_writers(&mut w, &plan, round).await;
        windows.push((r("R3 API killed under writers"), t, now_ms()));

        let t = now_ms();
        w.restart_broker();
        api_5xx += observe(&w, &plan, phase).await;
        windows.push((r("R4 broker killed and restarted"), t, now_ms()));

        let t = now_ms();
        w.redis.restart(); // SIGKILL, then a restart from the append-only file
        api_5xx += observe(&w, &plan, phase).await;
        windows.push((r("R5 Redis killed, restarted from AOF"), t, now_ms()));

        let t = now_ms();
        poison_and_duplicates(&w, &plan).await;
        api_5xx += observe(&w, &plan, phase).await;
        windows.push((r("R9 poison and duplicate messages"), t, now_ms()));
        dead_lettered.push(dead_letters(&w).await);

        let t = now_ms();
        let victim = w.running("worker")[0].clone();
        w.terminate(&victim).await;
        w.spawn("worker");
        api_5xx += observe(&w, &plan, phase).await;
        windows.push((r("R10 SIGTERM mid-call"), t, now_ms()));

        let t = now_ms();
        let hostile = hostile_tenant(&w).await;
        api_5xx += observe(&w, &plan, phase).await;
        for job in hostile.1 {
            w.env
                .call(
                    "PUT",
                    &format!("/scheduler/jobs/{job}"),
                    &hostile.0,
                    Some(json!({"active": false})),
                )
                .await;
        }
        windows.push((r("R8 hostile tenant beside"), t, now_ms()));
    }

    // The leaders stop; every run already fired finishes.
    let end = now_ms() - 2000;
    for s in w.running("scheduler") {
        w.kill(&s).await;
    }
    let records = wait_until("every run finished", Duration::from_secs(90), || async {
        let records = records(&w, &plan).await?;
        records
            .iter()
            .all(|r| r.finished_at.is_some())
            .then_some(records)
    })
    .await;
    let unfired = writers_jobs_not_fired_once(&w, &plan).await;
    let mut hits = healthy.hits();
    hits.extend(slow.hits());
    let found = Findings {
        dead_lettered,
        writer_orphans,
        unfired,
    };
    let mut rows: Vec<Row> = windows
        .iter()
        .map(|(fault, from, to)| {
            let window = (*from, (*to).min(end));
            row_of(fault, window, &plan, &records, &hits, &found)
        })
        .collect();
    rows.push(Row {
        fault: "all".into(),
        api_5xx,
        note: format!("{} warnings and errors logged", w.warnings()),
        ..Row::default()
    });
    let table = oracle::table(&rows);
    println!("\n{table}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaos-latest.md"),
        &table,
    );
    w.end().await;
    let failed: Vec<&Row> = rows.iter().filter(|r| r.failed()).collect();
    assert!(failed.is_empty(), "promises broken:\n{table}");
}

/// The healthy tenant and its schedules.
async fn plan(w: &World, healthy: &Target, slow: &Target) -> Plan {
    let (tenant, token) = w.env.tenant(&["read", "write"]).await;
    let mut grid = Vec::new();
    for k in 0..4 {
        let (_, sid) = create_job(
            &w.env,
            &token,
            &format!("grid-{k}"),
            &healthy.url("/grid"),
            json!({"cron": "* * * * * * *", "active": true}),
        )
        .await;
        grid.push(sid);
    }
    let (_, sid) = create_job(
        &w.env,
        &token,
        "slow",
        &slow.url("/slow"),
        json!({"cron": "* * * * * * *", "active": true}),
    )
    .await;
    grid.push(sid);
    let mut interval = BTreeSet::new();
    let start = (now_ms() / 1000 + 3) * 1000;
    for k in 0..4 {
        let (_, sid) = create_job(
            &w.env,
            &token,
            &format!("interval-{k}"),
            &healthy.url("/interval"),
            json!({"repeatInterval": "1 second", "active": true,
                "startTime": chime_core::time::format_instant(start + k * 230)}),
        )
        .await;
        interval.insert(sid);
    }
    let (probe_job, _) = create_job(
        &w.env,
        &token,
        "probe",
        "http://127.0.0.1:9/never",
        json!({"repeatInterval": "1 hour", "active": false}),
    )
    .await;
    Plan {
        tenant,
        token,
        grid,
        interval,
        probe_job,
    }
}

/// Lets `phase` pass while reading and writing through the API every 200 ms (a read of a job
/// and a change of its description): the answers of 500 and more.
async fn observe(w: &World, plan: &Plan, phase: Duration) -> usize {
    let until = Instant::now() + phase;
    let mut bad = 0;
    let mut k = 0;
    while Instant::now() < until {
        k += 1;
        let path = format!("/scheduler/jobs/{}", plan.probe_job);
        let (st, _) = w.env.call("GET", &path, &plan.token, None).await;
        let body = json!({"description": format!("probe {k}")});
        let (st2, _) = w.env.call("PUT", &path, &plan.token, Some(body)).await;
        bad += usize::from(st >= 500 && st != 503) + usize::from(st2 >= 500 && st2 != 503);
        tokio::time::sleep(Duration::from_millis(200)).await; // the probe's pace, not a wait
    }
    bad
}

/// R3: six writers create jobs (a one-time schedule each, a few seconds ahead) while the API
/// is killed three times. Every job a writer was told exists (created, or found by name after
/// a 409) must fire once; a name answered 409 and then 404 is an orphan. Returns the orphans
/// found now (names held by nothing); the jobs' fires are checked with the rest.
async fn api_kills_under_writers(w: &mut World, plan: &Plan, round: u32) -> usize {
    let stop = tokio_util::sync::CancellationToken::new();
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let env_url = w.env.url("");
            let token = plan.token.clone();
            let stop = stop.clone();
            tokio::spawn(async move { writer(&env_url, &token, round, i, stop).await })
        })
        .collect();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await; // the writers' time between kills
        let api = w.running("api")[0].clone();
        w.kill(&api).await;
        w.spawn("api");
        w.wait_api().await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await; // and after the last
    stop.cancel();
    let mut orphans = 0;
    for wr in writers {
        orphans += wr.await.unwrap_or(0);
    }
    orphans
}

/// One writer: creates jobs until stopped, retrying a request that found no API; returns the
/// names it found held by no job.
async fn writer(
    base: &str,
    token: &str,
    round: u32,
    i: usize,
    stop: tokio_util::sync::CancellationToken,
) -> usize {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut orphans = 0;
    let mut k = 0;
    while !stop.is_cancelled() {
        k += 1;
        let name = format!("w{round}-{i}-{k}");
        let at = chime_core::time::format_instant(now_ms() + 3000);
        let body = json!({"name": name, "action": "http://127.0.0.1:9/w", "active": true,
            "httpMethod": "GET", "schedules": [{"time": at, "active": true}]});
        tokio::time::sleep(Duration::from_millis(50)).await; // a writer's pace
        loop {
            let sent = http
                .post(format!("{base}/scheduler/jobs"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await;
            match sent.map(|r| r.status().as_u16()) {
                Ok(201) => break,
                Ok(409) => {
                    let found = http
                        .get(format!("{base}/scheduler/jobs?name={name}"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .map(|r| r.status().as_u16());
                    if found.is_ok_and(|s| s == 404) {
                        orphans += 1;
                    }
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await, // retry, as a client would
            }
        }
    }
    orphans
}

/// R9: a message that is not JSON, a forged copy of a finished run (signed with another key),
/// and a signed duplicate of a finished run (as a leader re-publishes one) go on the run queue.
async fn poison_and_duplicates(w: &World, plan: &Plan) {
    use chime_broker::{Publisher, Topology};
    let store = w.env.store().await;
    let s = &w.env.settings;
    let secret = store.cluster_secret(None).await.unwrap();
    let real = Publisher::new(
        &s.amqp_url,
        Topology::new(&s.namespace, s.delivery_limit, &secret),
    );
    let forger = Publisher::new(
        &s.amqp_url,
        Topology::new(&s.namespace, s.delivery_limit, "guess"),
    );
    let mut finished = Vec::new();
    for sid in plan.grid.iter().take(2) {
        let Ok(Some(job)) = store.job_of_schedule(&plan.tenant, sid).await else {
            continue;
        };
        let mut q =
            chime_store::RunQuery::new(&plan.tenant, chime_store::Scope::Schedule(sid.clone()));
        q.size = 1;
        q.skip = 2;
        if let Ok(page) = store.query_runs(&q).await {
            for (_, r) in page.runs {
                let j = store.job(&plan.tenant, job).await.ok().flatten();
                let sc = store.schedule(&plan.tenant, job, sid).await.ok().flatten();
                if let (Some(j), Some(sc)) = (j, sc) {
                    finished.push(chime_scheduler::run_message(
                        &plan.tenant,
                        &j,
                        &sc,
                        r.scheduled_at,
                        "chaos",
                        1,
                    ));
                }
            }
        }
    }
    for m in &finished {
        let _ = real.publish_all(std::slice::from_ref(m), 1).await;
        let forged = chime_core::model::RunMessage {
            fresh: true,
            ..m.clone()
        };
        let _ = forger.publish_all(std::slice::from_ref(&forged), 1).await;
    }
    let conn = chime_broker::connect(&s.amqp_url).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let _ = ch
        .basic_publish(
            format!("{}.runs", s.namespace).as_str().into(),
            chime_broker::RUN_ROUTING_KEY.into(),
            Default::default(),
            b"{not json",
            Default::default(),
        )
        .await;
    let _ = conn.close(200, "done".into()).await;
}

/// R8: a tenant whose ten every-second schedules call an endpoint that answers only after
/// their timeout. Returns its token and jobs.
async fn hostile_tenant(w: &World) -> (String, Vec<u64>) {
    let hang = Target::start().await;
    hang.set_delay(Duration::from_secs(4));
    let (_, token) = w.env.tenant(&["read", "write"]).await;
    let mut jobs = Vec::new();
    for k in 0..10 {
        let body = json!({"name": format!("hang-{k}"), "action": hang.url("/hang"),
            "active": true, "httpMethod": "GET", "timeoutMs": 3000,
            "schedules": [{"cron": "* * * * * * *", "active": true}]});
        let job = w.env.client().create_job(&token, body).await;
        jobs.push(job.id);
    }
    std::mem::forget(hang); // it must outlive the calls in flight
    (token, jobs)
}

/// Every run record of the plan's schedules, and of the writers' jobs (their nominal instants
/// are not on a grid; they count for "never fired" through their own check).
async fn records(w: &World, plan: &Plan) -> Option<Vec<Recorded>> {
    let store = w.env.store().await;
    let mut out = Vec::new();
    for sid in plan.grid.iter().chain(&plan.interval) {
        let mut q =
            chime_store::RunQuery::new(&plan.tenant, chime_store::Scope::Schedule(sid.clone()));
        q.size = 5000;
        let page = store.query_runs(&q).await.ok()?;
        for (_, r) in page.runs {
            let finished = (r.status == chime_core::run::RunStatus::Completed)
                .then(|| r.completed_at.unwrap_or(i64::MAX));
            out.push(Recorded {
                schedule: sid.clone(),
                nominal: r.scheduled_at,
                run_id: r.run_id,
                finished_at: finished,
            });
        }
    }
    Some(out)
}

/// The writers' jobs (R3) that do not have exactly one run: (those, all of them).
async fn writers_jobs_not_fired_once(w: &World, plan: &Plan) -> (usize, usize) {
    let store = w.env.store().await;
    let (_, jobs) = store
        .jobs_page(&plan.tenant, 0, 1_000_000)
        .await
        .unwrap_or_default();
    let mine: Vec<_> = jobs.iter().filter(|j| j.name.starts_with('w')).collect();
    let mut bad = 0;
    for j in &mine {
        let mut q = chime_store::RunQuery::new(&plan.tenant, chime_store::Scope::Job(j.id));
        q.size = 10;
        let n = store
            .query_runs(&q)
            .await
            .map(|p| p.runs.len())
            .unwrap_or(0);
        if n != 1 {
            bad += 1;
        }
    }
    (bad, mine.len())
}

/// Messages in the dead-letter queue.
async fn dead_letters(w: &World) -> u32 {
    let s = &w.env.settings;
    let p = chime_broker::Publisher::new(
        &s.amqp_url,
        chime_broker::Topology::new(&s.namespace, s.delivery_limit, ""),
    );
    p.depths().await.map(|d| d.1).unwrap_or(0)
}

/// What the phases found besides the history: dead letters after each R9, names held by no
/// job (R3), and the writers' jobs not fired exactly once (of all they wrote).
struct Findings {
    dead_lettered: Vec<u32>,
    writer_orphans: usize,
    unfired: (usize, usize),
}

/// The row of the phase `fault` over `window`.
fn row_of(
    fault: &str,
    window: (i64, i64),
    plan: &Plan,
    records: &[Recorded],
    hits: &[chime_testkit::Hit],
    found: &Findings,
) -> Row {
    let mut row = oracle::check(fault, window, &plan.grid, records, hits);
    if fault.starts_with("R9") {
        let round: usize = fault
            .rsplit(' ')
            .next()
            .and_then(|r| r.trim_end_matches(')').parse().ok())
            .unwrap_or(1);
        let dead = found.dead_lettered.get(round - 1).copied().unwrap_or(0);
        row.note = format!("{dead} messages dead-lettered so far");
    }
    if fault.starts_with("R1 ") {
        let phases = oracle::interval_phases(window, &plan.interval, records);
        row.note = format!("{phases} interval phases of {}", plan.interval.len());
        if phases < plan.interval.len() {
            row.orphans += 1;
            row.note.push_str(" (brought into step)");
        }
    }
    if fault == "R3 API killed under writers (round 1)" {
        row.orphans += found.writer_orphans + found.unfired.0;
        row.note = format!(
            "{} jobs written, {} not fired once",
            found.unfired.1, found.unfired.0
        );
    }
    row
}
