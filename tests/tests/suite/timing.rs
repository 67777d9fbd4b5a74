//! Time as users mean it: schedules in a time zone, standard cron (`crontab`), and the misfire
//! policies, through the API and a leader stepped pass by pass at explicit instants.

use chime_core::time::{format_instant, parse_stored_instant};
use chime_scheduler::{Leader, Scheduler};
use chime_testkit::{create_job, runs, wait_until, TestEnv};
use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use std::time::Duration;

async fn create(env: &TestEnv, token: &str, schedule: Value) -> (u16, Value) {
    env.call(
        "POST",
        "/scheduler/jobs",
        token,
        Some(
            json!({"name": format!("j{}", uuid::Uuid::new_v4().simple()),
            "action": "http://127.0.0.1:9/none", "active": true, "httpMethod": "POST",
            "schedules": [schedule]}),
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crontab_in_a_zone_fires_on_that_zones_wall_clock() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let (st, job) = create(
        &env,
        &token,
        json!({"crontab": "30 9 * * *", "timeZone": "Europe/Berlin", "active": true}),
    )
    .await;
    assert_eq!(st, 201, "{job}");
    let sc = &job["schedules"][0];
    assert_eq!(sc["crontab"], "30 9 * * *");
    assert_eq!(sc["timeZone"], "Europe/Berlin");
    // SAP's four modes are present, each `null` (as SAP answers a schedule of another mode).
    for mode in ["cron", "time", "repeatInterval", "repeatAt"] {
        let v = sc.as_object().unwrap().get(mode);
        assert!(v.is_some_and(|v| v.is_null()), "{mode}: {sc}");
    }
    // nextRunAt is UTC; in Berlin it reads 09:30.
    let next = sc["nextRunAt"].as_str().expect("a next run");
    assert!(next.ends_with('Z'), "{next}");
    let at: DateTime<Utc> = next.parse().unwrap();
    let local = at.with_timezone(&Tz::Europe__Berlin);
    assert_eq!((local.hour(), local.minute(), local.second()), (9, 30, 0));
    assert!(at > Utc::now() && at - Utc::now() <= chrono::Duration::days(1));

    // A 6-field crontab and a macro are taken; the zone returns to UTC with null.
    let job_id = job["_id"].as_u64().unwrap();
    let sid = sc["scheduleId"].as_str().unwrap();
    let path = format!("/scheduler/jobs/{job_id}/schedules/{sid}");
    let (st, body) = env
        .call(
            "PUT",
            &path,
            &token,
            Some(json!({"crontab": "@hourly", "timeZone": null})),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let (_, got) = env.call("GET", &path, &token, None).await;
    assert_eq!(got["crontab"], "@hourly");
    assert!(got["timeZone"].is_null(), "{got}");
    let next: DateTime<Utc> = got["nextRunAt"].as_str().unwrap().parse().unwrap();
    assert_eq!((next.minute(), next.second()), (0, 0));
    let (st, body) = create(
        &env,
        &token,
        json!({"crontab": "*/20 * * * * *", "active": true}),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    env.cleanup().await;
}

/// A `time` without an offset is a wall-clock time of the schedule's zone, by the DST rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_without_an_offset_is_read_in_the_zone() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let cases = [
        // Spring forward: 02:30 does not exist; the end of the gap.
        (
            "2030-03-31 02:30",
            "Europe/Berlin",
            "2030-03-31T01:00:00.000Z",
        ),
        // Fall back: 02:30 happens twice; the first, in summer time.
        (
            "2030-10-27 02:30",
            "Europe/Berlin",
            "2030-10-27T00:30:00.000Z",
        ),
        (
            "2030-07-01T09:00:00",
            "America/New_York",
            "2030-07-01T13:00:00.000Z",
        ),
        // An offset wins over the zone.
        (
            "2030-07-01T09:00:00Z",
            "America/New_York",
            "2030-07-01T09:00:00.000Z",
        ),
    ];
    for (time, zone, want) in cases {
        let (st, job) = create(
            &env,
            &token,
            json!({"time": time, "timeZone": zone, "active": true}),
        )
        .await;
        assert_eq!(st, 201, "{job}");
        let sc = &job["schedules"][0];
        assert_eq!(sc["time"], want, "{time} in {zone}");
        assert_eq!(sc["nextRunAt"], want, "{time} in {zone}");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_time_fields_are_400s_naming_the_field() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let cases = [
        (
            json!({"crontab": "* * * * *", "timeZone": "Mars/Olympus", "active": true}),
            "'timeZone'",
        ),
        (
            json!({"crontab": "61 * * * *", "active": true}),
            "'crontab'",
        ),
        (json!({"crontab": "* * * *", "active": true}), "'crontab'"),
        (
            json!({"crontab": "@fortnightly", "active": true}),
            "'crontab'",
        ),
        (
            json!({"crontab": "* * * * *", "cron": "* * * * * * 0", "active": true}),
            "only one scheduling mode",
        ),
        (
            json!({"crontab": "* * * * *", "misfirePolicy": "sometimes", "active": true}),
            "'misfirePolicy'",
        ),
        (
            json!({"crontab": "* * * * *", "misfirePolicy": "all", "misfireReplayPerSecond": 0, "active": true}),
            "'misfireReplayPerSecond'",
        ),
        (
            json!({"crontab": "* * * * *", "misfirePolicy": "last", "misfireReplayPerSecond": 5, "active": true}),
            "'misfireReplayPerSecond'",
        ),
        (
            json!({"crontab": "* * * * *", "misfireWindowSeconds": 0, "active": true}),
            "'misfireWindowSeconds'",
        ),
        (
            json!({"crontab": "* * * * *", "misfireWindowSeconds": "soon", "active": true}),
            "misfireWindowSeconds",
        ),
    ];
    for (schedule, field) in cases {
        let (st, body) = create(&env, &token, schedule.clone()).await;
        assert_eq!(st, 400, "{schedule}: {body}");
        let msg = body["message"].as_str().unwrap_or_default();
        assert!(msg.contains(field), "{schedule}: {msg}");
    }
    let (_, jobs) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!(jobs["total"], 0, "nothing was stored: {jobs}");
    env.cleanup().await;
}

/// The job of a schedule, by the tenant's job list.
async fn job_of(env: &TestEnv, token: &str, sid: &str) -> u64 {
    let (_, jobs) = env
        .call("GET", "/scheduler/jobs?displaySchedules=true", token, None)
        .await;
    jobs["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| {
            j["schedules"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["scheduleId"] == sid))
        })
        .and_then(|j| j["_id"].as_u64())
        .expect("the schedule's job")
}

/// An API and a leader stepped by the test (a lease that outlives the test, a 1 s grace), with
/// a tenant: (env, tenant, token, leader).
async fn stepped() -> (TestEnv, String, String, Leader) {
    let mut env = TestEnv::new();
    env.settings.leader_ttl_ms = 60_000;
    env.settings.misfire_grace_secs = 1;
    env.start_api().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let leader = Scheduler::build(env.settings.clone())
        .await
        .unwrap()
        .lead()
        .await
        .unwrap();
    (env, tenant, token, leader)
}

/// The runs a leader publishes for one schedule, stepping from `from` until `until` (ms):
/// each pass at the later of the clock and the next entry due.
async fn step(leader: &mut Leader, from: i64, until: i64) -> Vec<(String, i64)> {
    let mut now = from;
    let mut fired = Vec::new();
    for _ in 0..500 {
        let r = leader.pass_once(Some(now)).await.unwrap();
        fired.extend(
            r.published
                .iter()
                .map(|m| (m.schedule_id.clone(), m.scheduled_at)),
        );
        if r.taken == 0 {
            match r.next_due {
                Some(next) if next <= until => now = now.max(next),
                _ => return fired,
            }
        }
    }
    panic!("the leader did not settle: {fired:?}");
}

/// Each misfire policy after an outage of a minute, stepped at explicit instants: a schedule
/// every 5 s, a 30 s window, the leader back 62.5 s after the schedule's first instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_misfire_policy_after_an_outage() {
    let (env, _, token, mut leader) = stepped().await;
    let mut ids = Vec::new();
    for policy in ["sap", "all", "last", "skip"] {
        let mut s = json!({"crontab": "*/5 * * * * *", "active": true});
        if policy != "sap" {
            s["misfirePolicy"] = json!(policy);
            s["misfireWindowSeconds"] = json!(30);
        }
        if policy == "all" {
            s["misfireReplayPerSecond"] = json!(5);
        }
        let (st, job) = create(&env, &token, s).await;
        assert_eq!(st, 201, "{job}");
        let sc = &job["schedules"][0];
        ids.push((
            policy,
            sc["scheduleId"].as_str().unwrap().to_string(),
            parse_stored_instant(sc["nextRunAt"].as_str().unwrap()).unwrap(),
        ));
    }
    let t = ids[0].2;
    assert!(
        ids.iter().all(|(_, _, n)| *n == t),
        "one first instant: {ids:?}"
    );
    assert_eq!(t % 5_000, 0);
    // Back after the outage: 13 instants (t .. t+60 s) are due, the 7 up to t+30 s older
    // than the window; the leader looks on until t+65 s, the next instant, is due.
    let back = t + 62_500;
    let fired = step(&mut leader, back, t + 64_999).await;
    let of = |policy: &str| -> Vec<i64> {
        let sid = &ids.iter().find(|(p, _, _)| *p == policy).unwrap().1;
        fired
            .iter()
            .filter(|(s, _)| s == sid)
            .map(|(_, at)| (at - t) / 1000)
            .collect()
    };
    // SAP's rule: an outage under 20 minutes replays every instant.
    assert_eq!(of("sap"), (0..=60).step_by(5).collect::<Vec<_>>());
    // all: every instant of the window, oldest first.
    assert_eq!(of("all"), vec![35, 40, 45, 50, 55, 60]);
    // last: the most recent only.
    assert_eq!(of("last"), vec![60]);
    // skip: none (t+60 s was 2.5 s late, past the 1 s grace).
    assert_eq!(of("skip"), Vec::<i64>::new());
    // Every schedule is due next at t+65 s.
    let next = leader.pass_once(Some(t + 64_999)).await.unwrap();
    assert_eq!(next.next_due, Some(t + 65_000), "{next:?}");

    // `fires` accounts for each instant: fired late (deferred) or skipped as a misfire.
    for (policy, sid, _) in &ids {
        let fired: Vec<i64> = of(policy);
        let job = job_of(&env, &token, sid).await;
        let path = format!(
            "/scheduler/jobs/{job}/schedules/{sid}/fires?from={}&to={}",
            format_instant(t),
            format_instant(t + 60_000)
        );
        let (st, body) = env.call("GET", &path, &token, None).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["total"], 13, "{policy}: {body}");
        for e in body["results"].as_array().unwrap() {
            let at =
                (parse_stored_instant(e["scheduledFor"].as_str().unwrap()).unwrap() - t) / 1000;
            if fired.contains(&at) {
                assert_eq!(e["fate"], "deferred", "{policy} {at}: {e}");
                assert!(e["runId"].is_string() && e["firedAt"].is_string(), "{e}");
            } else {
                assert_eq!(
                    (&e["fate"], &e["reason"]),
                    (&json!("skipped"), &json!("misfire")),
                    "{policy} {at}: {e}"
                );
            }
        }
    }
    env.cleanup().await;
}

/// The scheduled instants of a schedule's runs (ms), oldest first.
async fn fired(env: &TestEnv, token: &str, job: u64, sid: &str) -> Vec<i64> {
    let (_, runs) = runs(env, token, job, sid).await;
    let mut at: Vec<i64> = runs
        .iter()
        .filter_map(|r| parse_stored_instant(r["scheduleTimestamp"].as_str()?))
        .collect();
    at.sort_unstable();
    at
}

/// `fires` says why an instant did not fire: the schedule was inactive then, or the instant was
/// before its start; and which run each fired instant made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fires_says_why_an_instant_did_not_fire() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    env.start_scheduler().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let store = env.store().await;
    let (job, sid) = create_job(
        &env,
        &token,
        "paused",
        "http://127.0.0.1:9/none",
        json!({"crontab": "* * * * * *", "active": true}),
    )
    .await;
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}");
    let within = Duration::from_secs(30);
    wait_until("two fires", within, || async {
        (fired(&env, &token, job, &sid).await.len() >= 2).then_some(())
    })
    .await;
    let (st, _) = env
        .call("PUT", &path, &token, Some(json!({"active": false})))
        .await;
    assert_eq!(st, 200);
    let paused = store.now_ms().await.unwrap();
    let before = fired(&env, &token, job, &sid).await;
    wait_until("3 s paused", within, || async {
        (store.now_ms().await.unwrap() >= paused + 3_000).then_some(())
    })
    .await;
    let (st, _) = env
        .call("PUT", &path, &token, Some(json!({"active": true})))
        .await;
    assert_eq!(st, 200);
    let resumed = store.now_ms().await.unwrap();
    let all = wait_until("two fires after the pause", within, || async {
        let all = fired(&env, &token, job, &sid).await;
        (all.iter().filter(|at| **at > resumed).count() >= 2).then_some(all)
    })
    .await;
    let (first, last) = (all[0], *all.last().unwrap());
    let (st, body) = env
        .call(
            "GET",
            &format!(
                "{path}/fires?from={}&to={}",
                format_instant(first),
                format_instant(last)
            ),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(body["total"].as_u64().unwrap() as usize, results.len());
    assert_eq!(
        results.len() as i64,
        (last - first) / 1000 + 1,
        "every second: {body}"
    );
    let mut seen_inactive = 0;
    for e in results {
        let at = parse_stored_instant(e["scheduledFor"].as_str().unwrap()).unwrap();
        if all.contains(&at) {
            assert!(
                ["fired", "deferred"].contains(&e["fate"].as_str().unwrap()),
                "{e}"
            );
            assert_eq!(
                e["runId"],
                json!(chime_core::model::run_id(&sid, at)),
                "{e}"
            );
        } else {
            // Not fired: paused (after the last fire before the pause, before the resume).
            assert!(at > *before.last().unwrap() && at <= resumed, "{e}");
            assert_eq!(
                (&e["fate"], &e["reason"]),
                (&json!("skipped"), &json!("inactive")),
                "{e}"
            );
            seen_inactive += 1;
        }
    }
    assert!(seen_inactive >= 2, "the pause held instants: {body}");
    env.cleanup().await;
}

/// An instant already due when its schedule is paused, and not fired yet (no leader reached
/// it), is never fired: `fires` says it was skipped as inactive, not missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instant_due_when_paused_was_inactive() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let store = env.store().await;
    let (job, sid) = create_job(
        &env,
        &token,
        "unreached",
        "http://127.0.0.1:9/none",
        json!({"crontab": "* * * * * *", "active": true}),
    )
    .await;
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}");
    let created = store.now_ms().await.unwrap();
    // No leader runs: the schedule's instants fall due and stay unfired.
    wait_until("two instants due", Duration::from_secs(30), || async {
        (store.now_ms().await.unwrap() >= created + 2_500).then_some(())
    })
    .await;
    let (st, _) = env
        .call("PUT", &path, &token, Some(json!({"active": false})))
        .await;
    assert_eq!(st, 200);
    let paused = store.now_ms().await.unwrap();
    let (st, body) = env
        .call(
            "GET",
            &format!(
                "{path}/fires?from={}&to={}",
                format_instant(created - 1_000),
                format_instant(paused)
            ),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert!(results.len() >= 2, "{body}");
    for e in results {
        assert_eq!(
            (&e["fate"], &e["reason"], &e["runId"]),
            (&json!("skipped"), &json!("inactive"), &Value::Null),
            "{body}"
        );
    }
    env.cleanup().await;
}

/// `fires` of a schedule that starts after its creation: its instants before the start were
/// outside its window; a manual run is listed as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fires_lists_instants_before_the_start_and_manual_runs() {
    let mut env = TestEnv::new();
    env.start_api().await;
    env.start_worker().await;
    env.start_scheduler().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let store = env.store().await;
    let within = Duration::from_secs(30);
    let (job, _) = create_job(
        &env,
        &token,
        "late",
        "http://127.0.0.1:9/none",
        json!({"crontab": "@yearly", "active": true}),
    )
    .await;
    // A second schedule of the job that starts 2 s after its creation.
    let start = store.now_ms().await.unwrap() + 2_000;
    let (st, late) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job}/schedules"),
            &token,
            Some(json!({"crontab": "* * * * * *", "active": true,
                "startTime": format_instant(start)})),
        )
        .await;
    assert_eq!(st, 201, "{late}");
    let late_sid = late["scheduleId"].as_str().unwrap().to_string();
    wait_until("the late schedule fires", within, || async {
        (!fired(&env, &token, job, &late_sid).await.is_empty()).then_some(())
    })
    .await;

    let (st, manual) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job}/schedules/{late_sid}/runs"),
            &token,
            None,
        )
        .await;
    assert!(st == 201 || st == 202, "{manual}");
    // The late schedule: its instants from its creation to its start were outside its window.
    let fires = format!("/scheduler/jobs/{job}/schedules/{late_sid}/fires");
    let body = wait_until("fires lists the manual run", within, || async {
        let (st, body) = env.call("GET", &fires, &token, None).await;
        assert_eq!(st, 200, "{body}");
        let listed = body["results"]
            .as_array()?
            .iter()
            .any(|e| e["fate"] == "manual");
        listed.then_some(body)
    })
    .await;
    let results = body["results"].as_array().unwrap();
    let manual_entries: Vec<&Value> = results.iter().filter(|e| e["fate"] == "manual").collect();
    assert_eq!(manual_entries.len(), 1, "{body}");
    assert!(
        results.iter().any(|e| e["reason"] == "outsideWindow"),
        "{body}"
    );
    assert_eq!(manual_entries[0]["runId"], manual["runId"]);
    for e in results.iter().filter(|e| e["fate"] != "manual") {
        let at = parse_stored_instant(e["scheduledFor"].as_str().unwrap()).unwrap();
        if at < start {
            assert_eq!(
                (&e["fate"], &e["reason"]),
                (&json!("skipped"), &json!("outsideWindow")),
                "{e}"
            );
        } else {
            assert_ne!(e["fate"], "skipped", "{e}");
        }
    }
    env.cleanup().await;
}

/// A leader that dies after creating a run and before moving its entry on leaves the run to
/// its successor: when the successor's policy skips that instant, the run it finds still goes
/// out (its record decides), and the instant is not counted as skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_created_before_a_crash_goes_out_though_its_instant_is_skipped() {
    let (env, tenant, token, mut leader) = stepped().await;
    let (st, job) = create(
        &env,
        &token,
        json!({"crontab": "*/5 * * * * *", "active": true, "misfirePolicy": "skip"}),
    )
    .await;
    assert_eq!(st, 201, "{job}");
    let job_id = job["_id"].as_u64().unwrap();
    let sid = job["schedules"][0]["scheduleId"]
        .as_str()
        .unwrap()
        .to_string();
    let t = parse_stored_instant(job["schedules"][0]["nextRunAt"].as_str().unwrap()).unwrap();
    // The instant fires, then its entry is put back as if the advance had never happened.
    let r = leader.pass_once(Some(t)).await.unwrap();
    assert_eq!(r.published.len(), 1, "{r:?}");
    let store = env.store().await;
    store.set_due(&tenant, job_id, &sid, Some(t)).await.unwrap();
    // The successor comes 32.5 s later: the policy skips t..t+30 s, but t's run exists.
    let r = leader.pass_once(Some(t + 32_500)).await.unwrap();
    let out: Vec<i64> = r.published.iter().map(|m| m.scheduled_at).collect();
    assert_eq!(out, vec![t], "{r:?}");
    assert_eq!(r.published[0].run_id, chime_core::model::run_id(&sid, t));
    let marks = store.schedule_marks(&tenant, &sid).await.unwrap();
    assert_eq!(marks.skips.len(), 1, "{marks:?}");
    assert_eq!(
        (
            marks.skips[0].first,
            marks.skips[0].last,
            marks.skips[0].count
        ),
        (t + 5_000, t + 30_000, 6)
    );
    env.cleanup().await;
}
