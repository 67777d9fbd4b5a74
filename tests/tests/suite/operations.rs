//! The operations view, `GET /admin/operations`: the leader of the due index and its epoch,
//! the schedulers and workers alive with each worker's runs in flight, the queues' depths and
//! each tenant's runs in flight and pace. Only the admin token reads it.

use chime_testkit::{wait_until, Hostile, TestEnv, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

/// The tenant's row of the view.
fn tenant_row<'a>(view: &'a Value, tenant: &str) -> &'a Value {
    view["tenants"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["tenantId"] == tenant))
        .unwrap_or_else(|| panic!("tenant {tenant} in {view}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_view_shows_the_leader_each_workers_runs_in_flight_and_each_tenants_pace() {
    let env = TestEnv::cluster().await;
    let hang = Hostile::start().await;
    let (busy, token) = env.tenant(&["read", "write"]).await;
    let (idle, idle_token) = env.tenant(&["read", "write"]).await;
    // A call that hangs until released (well within its timeout).
    let job = env
        .client()
        .create_job(
            &token,
            json!({"name": "held", "action": hang.url("/hang"), "active": true,
                "httpMethod": "POST", "timeoutMs": 120_000,
                "schedules": [{"cron": "2190 1 1 * 0 0 0", "active": true}]}),
        )
        .await;
    let (job, sid) = (job.id, job.schedules[0].clone());
    let (st, _) = env
        .call(
            "POST",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs"),
            &token,
            None,
        )
        .await;
    assert!(st == 201 || st == 202, "run now: {st}");
    let view = || async {
        let (st, v) = env
            .call("GET", "/admin/operations", ADMIN_TOKEN, None)
            .await;
        assert_eq!(st, 200, "{v}");
        v
    };

    // While the call hangs: the worker holds one run (as of its next heartbeat), and so does
    // the tenant; the other tenant holds none.
    let held = wait_until(
        "the worker reports its run",
        Duration::from_secs(30),
        || async {
            let v = view().await;
            let w = v["workers"].as_array()?.first()?.clone();
            (w["inFlight"] == 1 && tenant_row(&v, &busy)["runsInFlight"] == 1).then_some(v)
        },
    )
    .await;
    let workers = held["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{held}");
    assert_eq!(
        workers[0]["concurrency"],
        env.settings.worker_concurrency as u64
    );
    let shard = &held["shards"][0];
    let leader = shard["leader"].as_str().expect("a leader");
    assert!(shard["epoch"].as_u64().unwrap() >= 1, "{held}");
    let schedulers = held["schedulers"].as_array().unwrap();
    assert!(
        schedulers
            .iter()
            .any(|s| s["name"] == leader && s["shardsLed"] == 1),
        "the leader is a scheduler alive: {held}"
    );
    assert!(held["queues"]["runs"].is_u64(), "{held}");
    assert_eq!(held["queues"]["deadLetter"], 0, "{held}");
    assert_eq!(tenant_row(&held, &idle)["runsInFlight"], 0);
    assert_eq!(tenant_row(&held, &idle)["runsPerMinute"], 0);
    assert_eq!(tenant_row(&held, &busy)["name"], "test");

    // The call ends: the run is recorded, counts toward the tenant's pace, and nothing is held.
    hang.release();
    wait_until(
        "the run counts toward the pace",
        Duration::from_secs(30),
        || async {
            let v = view().await;
            let t = tenant_row(&v, &busy);
            let w = v["workers"].as_array()?.first()?.clone();
            (t["runsPerMinute"] == 1 && t["runsInFlight"] == 0 && w["inFlight"] == 0).then_some(())
        },
    )
    .await;
    let v = view().await;
    assert_eq!(
        v["tenants"][0]["tenantId"], busy,
        "the busiest tenant first: {v}"
    );

    // A tenant's key does not open it.
    let (st, _) = env
        .call("GET", "/admin/operations", &idle_token, None)
        .await;
    assert_eq!(st, 401);
    env.cleanup().await;
}
