//! The store's guarantees on the real Redis: the fenced lease and idempotent run records.

use chime_core::model::{run_id, ActionSpec, RunMessage};
use chime_core::run::{Outcome, RunState, RunStatus};
use chime_store::{Advanced, Retention, RunResult, Store};
use chime_testkit::TestEnv;
use redis::AsyncCommands;

/// The store of a namespace of the test's own, purged when the `TestEnv` is dropped.
async fn store() -> (Store, TestEnv) {
    let env = TestEnv::new();
    let s = &env.settings;
    let store = Store::connect_to(
        chime_store::Target::of(&s.redis_url, s.redis_cluster),
        &s.namespace,
        Retention {
            ttl_ms: 60_000,
            per_stream: 100,
        },
        s.due_partitions,
    )
    .await
    .expect("redis reachable");
    (store, env)
}

/// An active-or-not job of the tests, calling a closed local port.
fn job(id: u64, active: bool) -> chime_core::model::Job {
    chime_core::model::Job {
        id,
        name: format!("j{id}"),
        description: String::new(),
        action: "http://127.0.0.1:9/".into(),
        active,
        http_method: chime_core::run::HttpMethod::Post,
        start_time: None,
        end_time: None,
        headers: Default::default(),
        secret_headers: Default::default(),
        timeout_ms: 1000,
        retry_policy: None,
        concurrency_policy: None,
        notifications: None,
        ans_config: None,
        calm_config: None,
        created_at: String::new(),
        modified_at: String::new(),
    }
}

/// The HTTP call of the tests' runs (never made: the store tests run no worker).
fn action() -> ActionSpec {
    ActionSpec {
        url: "http://127.0.0.1:9/".into(),
        method: chime_core::run::HttpMethod::Post,
        headers: vec![],
        secret_headers: vec![],
        body: None,
        timeout_ms: 1000,
    }
}

/// A run of schedule `sid` of job `job_id` (tenant "t") due at `at`.
fn run_of(job_id: u64, sid: &str, at: i64) -> RunMessage {
    RunMessage {
        run_id: run_id(sid, at),
        tenant: "t".into(),
        job_id,
        schedule_id: sid.into(),
        scheduled_at: at,
        owner: "leader".into(),
        epoch: 1,
        fresh: false,
        requested_by: None,
        retry: None,
        attempt: 1,
        first_call_at: None,
        retry_at: None,
        replaceable: false,
        notify: false,
        action: action(),
    }
}

/// The store with tenant "t"'s active job `job_id` of one schedule `sid`, and Redis's time.
async fn store_with_job(job_id: u64, sid: &str) -> (Store, TestEnv, i64) {
    let (store, env) = store().await;
    store
        .put_job("t", &job(job_id, true), &[sched(sid)])
        .await
        .unwrap();
    let now = store.now_ms().await.unwrap();
    (store, env, now)
}

/// A completed call that answered 200, with `text` and `body`, executed at `at`.
fn success(text: &str, body: Option<&str>, at: i64) -> RunResult {
    RunResult {
        status: RunStatus::Completed,
        state: RunState::Success,
        outcome: Some(Outcome::Success),
        http_status: Some(200),
        run_text: text.into(),
        body: body.map(Into::into),
        error: None,
        duration_ms: 3,
        executed_at: at,
        event: None,
        timing: Default::default(),
        failure_reason: None,
    }
}

/// A connection to the tests' Redis (one server or a cluster), to look at keys directly.
async fn redis_of(env: &TestEnv) -> chime_store::Conn {
    env.store().await.connection()
}

/// An active schedule firing every second.
fn sched(id: &str) -> chime_core::model::Schedule {
    serde_json::from_value(serde_json::json!({
        "scheduleId": id, "description": "", "data": null, "type": "recurring", "cron": null,
        "time": null, "repeatInterval": "1 second", "repeatAt": null, "active": true,
        "startTime": null, "endTime": null, "createdAt": "", "modifiedAt": ""
    }))
    .unwrap()
}

#[tokio::test]
async fn a_deposed_leader_cannot_renew_or_advance() {
    let (store, env) = store().await;
    let e1 = store.lease_acquire(0, "a", 10_000).await.unwrap().unwrap();
    assert!(e1 >= 1);
    assert_eq!(
        store.lease_acquire(0, "b", 10_000).await.unwrap(),
        None,
        "held by a"
    );
    let token_a = format!("a:{e1}");
    assert!(store.lease_renew(0, &token_a, 10_000).await.unwrap());

    store.set_due("t", 1, "s1", Some(1_000)).await.unwrap();
    let p = chime_store::keys::Keys::partition_of("s1", store.due_partitions());
    let member = chime_store::keys::Keys::due_member("t", 1, "s1");

    // The lease expires while "a" is paused; "b" takes it with a newer epoch.
    let _: () = redis::cmd("DEL")
        .arg(store.keys().lease())
        .query_async(&mut redis_of(&env).await)
        .await
        .unwrap();
    let e2 = store.lease_acquire(0, "b", 10_000).await.unwrap().unwrap();
    assert!(e2 > e1);
    let token_b = format!("b:{e2}");

    // "a" wakes up: it can neither renew nor advance.
    assert!(!store.lease_renew(0, &token_a, 10_000).await.unwrap());
    assert_eq!(
        store
            .advance(&token_a, p, &member, 1_000, Some(2_000))
            .await
            .unwrap(),
        Advanced::Fenced
    );
    // Same owner name, old epoch: still fenced (owner and epoch are both checked).
    assert_eq!(
        store
            .advance(&format!("b:{e1}"), p, &member, 1_000, Some(2_000))
            .await
            .unwrap(),
        Advanced::Fenced
    );
    // "b" advances only from the score it read.
    assert_eq!(
        store
            .advance(&token_b, p, &member, 999, Some(2_000))
            .await
            .unwrap(),
        Advanced::Changed
    );
    assert_eq!(
        store
            .advance(&token_b, p, &member, 1_000, Some(2_000))
            .await
            .unwrap(),
        Advanced::Moved
    );
    assert_eq!(store.due_of("t", 1, "s1").await.unwrap(), Some(2_000));
    assert_eq!(
        store
            .advance(&token_b, p, &member, 2_000, None)
            .await
            .unwrap(),
        Advanced::Moved
    );
    assert_eq!(store.due_of("t", 1, "s1").await.unwrap(), None);
    assert!(store.lease_release(0, &token_b).await.unwrap());
}

#[tokio::test]
async fn run_records_are_idempotent_on_the_run_id() {
    let (store, _env) = store().await;
    let job = job(7, true);
    let sched = sched("s1");
    store
        .put_job("t", &job, std::slice::from_ref(&sched))
        .await
        .unwrap();
    let msg = RunMessage {
        run_id: run_id("s1", 5_000),
        tenant: "t".into(),
        job_id: 7,
        schedule_id: "s1".into(),
        scheduled_at: 5_000,
        owner: "o".into(),
        epoch: 1,
        fresh: false,
        requested_by: None,
        retry: None,
        attempt: 1,
        first_call_at: None,
        retry_at: None,
        replaceable: false,
        notify: false,
        action: action(),
    };
    assert_eq!(
        store.materialize(&msg, 5_001).await.unwrap(),
        chime_store::Materialized::Created
    );
    assert_eq!(
        store.materialize(&msg, 5_002).await.unwrap(),
        chime_store::Materialized::Existed
    );
    assert_eq!(
        store.run_start(&msg, 5_003, "w1").await.unwrap(),
        chime_store::Started::Attempt(1)
    );
    let result = RunResult {
        status: RunStatus::Completed,
        state: RunState::Success,
        outcome: Some(Outcome::Success),
        http_status: Some(200),
        run_text: "ok".into(),
        body: Some("ok".into()),
        error: None,
        duration_ms: 3,
        executed_at: 5_003,
        event: None,
        timing: Default::default(),
        failure_reason: None,
    };
    assert_eq!(
        store
            .run_complete(&msg, 5_006, "w1", &result)
            .await
            .unwrap(),
        chime_store::Completed::Recorded
    );
    assert_eq!(
        store
            .run_complete(&msg, 5_007, "w2", &result)
            .await
            .unwrap(),
        chime_store::Completed::AlreadyRecorded
    );
    assert_eq!(
        store.run_start(&msg, 5_008, "w2").await.unwrap(),
        chime_store::Started::AlreadyRecorded,
        "no second execution once recorded"
    );
    let (total, page) = store
        .schedule_runs_page("t", "s1", 0, 10, true)
        .await
        .unwrap();
    assert_eq!((total, page.len()), (1, 1));
    assert_eq!(page[0].completed_at, Some(5_006));
    assert_eq!(page[0].worker.as_deref(), Some("w1"));

    // A second fire gets the next run number; deleting the job removes everything.
    let msg2 = RunMessage {
        run_id: run_id("s1", 6_000),
        scheduled_at: 6_000,
        ..msg.clone()
    };
    assert_eq!(
        store.materialize(&msg2, 6_001).await.unwrap(),
        chime_store::Materialized::Created
    );
    assert_eq!(
        store.run("t", &msg2.run_id).await.unwrap().unwrap().number,
        2
    );
    assert!(store.delete_job("t", &job).await.unwrap());
    assert!(store.run("t", &msg.run_id).await.unwrap().is_none());
    assert_eq!(
        store
            .schedule_runs_page("t", "s1", 0, 10, true)
            .await
            .unwrap()
            .0,
        0
    );
    assert_eq!(
        store.materialize(&msg2, 7_000).await.unwrap(),
        chime_store::Materialized::Gone,
        "job gone"
    );
}

/// One leader call materialises runs of several jobs at once: each job's runs take consecutive
/// numbers in call order, a run given twice in the call is created once, and a run of a gone
/// schedule or inactive job takes no number.
#[tokio::test]
async fn one_call_numbers_the_runs_of_each_job_and_creates_each_run_once() {
    let (store, _env) = store().await;
    store
        .put_job("t", &job(1, true), &[sched("a1"), sched("a2")])
        .await
        .unwrap();
    store
        .put_job("t", &job(2, true), &[sched("b1")])
        .await
        .unwrap();
    store
        .put_job("t", &job(3, false), &[sched("c1")])
        .await
        .unwrap();
    let msg = |job_id: u64, sid: &str, at: i64| RunMessage {
        run_id: run_id(sid, at),
        tenant: "t".into(),
        job_id,
        schedule_id: sid.into(),
        scheduled_at: at,
        owner: "leader 1".into(),
        epoch: 4,
        fresh: false,
        requested_by: None,
        retry: None,
        attempt: 1,
        first_call_at: None,
        retry_at: None,
        replaceable: false,
        notify: false,
        action: action(),
    };
    let runs = [
        msg(1, "a1", 1_000),
        msg(2, "b1", 1_000),
        msg(1, "gone", 1_000),
        msg(1, "a2", 1_000),
        msg(1, "a1", 1_000), // the first one again
        msg(3, "c1", 1_000),
        msg(1, "a1", 2_000),
    ];
    let steps: Vec<_> = runs
        .iter()
        .map(|m| (m, chime_store::RunStep::Materialize))
        .collect();
    let answers = store.record_steps(&steps, 2_500, "").await.unwrap();
    use chime_store::{Materialized::*, StepAnswer::Materialized as M};
    assert_eq!(
        answers,
        vec![
            M(Created),
            M(Created),
            M(Gone),
            M(Created),
            M(Existed),
            M(Inactive),
            M(Created)
        ]
    );

    // Job 1's three created runs are numbers 1, 2, 3 in call order; job 2's is 1.
    for (job_id, number, m) in [
        (1, 1, &runs[0]),
        (1, 2, &runs[3]),
        (1, 3, &runs[6]),
        (2, 1, &runs[1]),
    ] {
        assert_eq!(
            store
                .run_by_number("t", job_id, number)
                .await
                .unwrap()
                .as_deref(),
            Some(m.run_id.as_str()),
            "job {job_id} run {number}"
        );
        let r = store.run("t", &m.run_id).await.unwrap().expect("record");
        assert_eq!(
            (
                r.number,
                r.job_id,
                r.schedule_id.as_str(),
                r.scheduled_at,
                r.created_at
            ),
            (
                number,
                job_id,
                m.schedule_id.as_str(),
                m.scheduled_at,
                2_500
            )
        );
        assert_eq!(
            (r.tenant.as_str(), r.owner.as_str(), r.epoch),
            ("t", "leader 1", 4)
        );
        assert_eq!(
            (r.status.as_str(), r.state.as_str()),
            ("SCHEDULED", "SCHEDULED")
        );
    }
    assert_eq!(store.run_by_number("t", 1, 4).await.unwrap(), None);
    assert_eq!(
        store.run("t", &runs[5].run_id).await.unwrap(),
        None,
        "inactive job"
    );
    assert_eq!(
        store.run("t", &runs[2].run_id).await.unwrap(),
        None,
        "gone schedule"
    );
    for id in [1, 2, 3] {
        assert!(store.delete_job("t", &job(id, true)).await.unwrap());
    }
}

/// A finished run has no key of its own: its record is one entry of its job's runs stream,
/// whose node stores the field names once (every record has the same fields in the same
/// order), and its unfinished record and live member are gone.
#[tokio::test]
async fn a_finished_record_is_a_stream_entry_with_the_fields_of_every_other() {
    let (store, env) = store().await;
    let tenant = "db443759097f515d40812a3c";
    store
        .put_job(tenant, &job(9, true), &[sched("s-0123456789")])
        .await
        .unwrap();
    let msg = |at: i64| RunMessage {
        run_id: run_id("s-0123456789", at),
        tenant: tenant.into(),
        job_id: 9,
        schedule_id: "s-0123456789".into(),
        scheduled_at: at,
        owner: "scheduler-7d9f8b6c5d-x2x4k-abcdef12".into(),
        epoch: 12,
        fresh: false,
        requested_by: None,
        retry: None,
        attempt: 1,
        first_call_at: None,
        retry_at: None,
        replaceable: false,
        notify: false,
        action: action(),
    };
    let now = 1_795_805_542_003;
    let (quick, slow) = (msg(now - 3), msg(now - 2));
    for m in [&quick, &slow] {
        assert_eq!(
            store.materialize(m, now).await.unwrap(),
            chime_store::Materialized::Created
        );
    }
    assert_eq!(
        store
            .run_start(&slow, now + 1, "worker-7d9f8b6c5d-abcdef12")
            .await
            .unwrap(),
        chime_store::Started::Attempt(1)
    );
    let mut redis = redis_of(&env).await;
    let k = store.keys();
    let exists = |key: String| {
        let mut redis = redis.clone();
        async move {
            let n: i64 = redis::cmd("EXISTS")
                .arg(key)
                .query_async(&mut redis)
                .await
                .unwrap();
            n == 1
        }
    };
    assert!(
        exists(k.run(tenant, &slow.run_id)).await,
        "unfinished: a hash"
    );
    let result = success("HTTP 200", Some("{\"ok\":true}"), now + 1);
    for m in [&quick, &slow] {
        assert_eq!(
            store
                .run_complete(m, now + 4, "worker-7d9f8b6c5d-abcdef12", &result)
                .await
                .unwrap(),
            chime_store::Completed::Recorded
        );
        assert!(!exists(k.run(tenant, &m.run_id)).await, "finished: no hash");
    }
    let live: i64 = redis::cmd("ZCARD")
        .arg(k.live(tenant))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(live, 0);
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(k.job_runs(tenant, 9))
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    let names = |i: usize| {
        let mut v: Vec<String> = entries.ids[i].map.keys().cloned().collect();
        v.sort();
        v
    };
    assert_eq!(entries.ids.len(), 2);
    assert_eq!(names(0), names(1), "one field list for every record");
    for (m, attempt) in [(&quick, 1), (&slow, 1)] {
        let r = store.run(tenant, &m.run_id).await.unwrap().unwrap();
        assert_eq!(
            (r.tenant.as_str(), r.owner.as_str(), r.epoch, r.attempt),
            (tenant, "scheduler-7d9f8b6c5d-x2x4k-abcdef12", 12, attempt)
        );
        assert_eq!(r.response_body.as_deref(), Some("{\"ok\":true}"));
        assert_eq!(
            (r.scheduled_at, r.created_at, r.completed_at),
            (m.scheduled_at, now, Some(now + 4))
        );
    }
    assert!(store.delete_job(tenant, &job(9, true)).await.unwrap());
}

/// A schedule's finished runs are dense positions (`0-1`, `0-2`, …) holding their stream
/// ids, so an offset page is a position lookup; the cap forgets the oldest, records and all,
/// and leaves the positions dense.
#[tokio::test]
async fn schedule_positions_are_dense_and_offset_pages_read_them() {
    use chime_store::{RunQuery, Scope};
    let (store, env, now) = store_with_job(5, "r1").await;
    let runs: Vec<RunMessage> = (0..5)
        .map(|i| run_of(5, "r1", now - 5_000 + i * 1_000))
        .collect();
    let result = success("HTTP 200", None, now);
    for m in &runs {
        store.materialize(m, now).await.unwrap();
        store.run_complete(m, now, "w", &result).await.unwrap();
    }
    let mut redis = redis_of(&env).await;
    let positions: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(store.keys().schedule_runs("t", "r1"))
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut held = Vec::new();
    for (i, e) in positions.ids.iter().enumerate() {
        assert_eq!(e.id, format!("0-{}", i + 1));
        held.push(e.get::<String>("x").unwrap());
    }
    let mut want = Vec::new();
    for m in &runs {
        want.push(store.run_stream_id("t", &m.run_id).await.unwrap().unwrap());
    }
    assert_eq!(held, want);
    let page = |skip: u64, size: u64| {
        let store = &store;
        async move {
            let mut q = RunQuery::new("t", Scope::Schedule("r1".into()));
            q.skip = skip;
            q.size = size;
            let p = store.query_runs(&q).await.unwrap();
            let ids: Vec<String> = p.runs.into_iter().map(|(_, r)| r.run_id).collect();
            (p.total, p.has_more, ids)
        }
    };
    let ids = |i: &[usize]| {
        i.iter()
            .map(|&i| runs[i].run_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(page(1, 2).await, (Some(5), true, ids(&[3, 2])));
    assert_eq!(page(3, 5).await, (Some(5), false, ids(&[1, 0])));
    assert_eq!(page(5, 5).await, (Some(5), false, vec![]));
    assert!(store.delete_job("t", &job(5, true)).await.unwrap());
}

/// A job's results go to its "done" stream only while a live tail has announced itself.
#[tokio::test]
async fn results_reach_the_done_stream_only_while_a_tail_listens() {
    let (store, env, now) = store_with_job(6, "d1").await;
    let result = success("HTTP 200", None, now);
    let finish = |at: i64| {
        let (store, result) = (&store, &result);
        async move {
            let msg = run_of(6, "d1", at);
            assert_eq!(
                store.materialize(&msg, now).await.unwrap(),
                chime_store::Materialized::Created
            );
            assert_eq!(
                store.run_complete(&msg, now, "w", result).await.unwrap(),
                chime_store::Completed::Recorded
            );
            msg.run_id
        }
    };
    let mut redis = redis_of(&env).await;
    let done = store.keys().job_done("t", 6);
    finish(now - 2_000).await;
    assert!(!redis.exists::<_, bool>(&done).await.unwrap());
    assert_eq!(store.done_head("t", 6).await.unwrap(), "0-0");

    store.announce_tail("t", 6).await.unwrap();
    let listened = finish(now - 1_000).await;
    let cursor = chime_store::DoneCursor {
        tenant: "t",
        job: 6,
        after: "0-0",
    };
    let seen = store.wait_done_many(&[cursor], 1000).await;
    let seen: Vec<String> = seen
        .into_iter()
        .flat_map(|r| r.unwrap())
        .map(|e| e.run)
        .collect();
    assert_eq!(seen, vec![listened]);
    let ttl: i64 = redis.pttl(&done).await.unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "the done stream expires: {ttl}");
    assert!(store.delete_job("t", &job(6, true)).await.unwrap());
    assert!(!redis
        .exists::<_, bool>(store.keys().job_tails("t", 6))
        .await
        .unwrap());
}

/// A job of three schedules whose runs finish interleaved, with every outcome: each job-wide
/// query (all runs, finished runs, one outcome, two outcomes; a time window; offsets both
/// ways; a cursor walk) answers what a plain filter of the runs in the order they finished
/// answers, with its total.
#[tokio::test]
async fn job_wide_queries_merge_the_schedules_positions_exactly() {
    use chime_store::{Order, RunQuery, Scope};
    let (store, _env) = store().await;
    let scheds = ["m1", "m2", "m3"];
    store
        .put_job("t", &job(8, true), &scheds.map(sched))
        .await
        .unwrap();
    let now = store.now_ms().await.unwrap();
    let outcomes = [
        Outcome::Success,
        Outcome::Failure,
        Outcome::Error,
        Outcome::Timeout,
    ];
    // (run id, outcome, stream id), in the order the runs finished.
    let mut finished: Vec<(String, Outcome, String)> = Vec::new();
    for i in 0..30usize {
        let m = run_of(8, scheds[(i * 7) % 3], now - 100_000 + i as i64 * 1_000);
        let outcome = outcomes[(i * 5) % 4];
        let mut r = success("HTTP 200", None, now);
        r.outcome = Some(outcome);
        store.materialize(&m, now).await.unwrap();
        store.run_complete(&m, now, "w", &r).await.unwrap();
        let xid = store.run_stream_id("t", &m.run_id).await.unwrap().unwrap();
        finished.push((m.run_id, outcome, xid));
    }
    // One run not finished yet: listed first (newest first) when every run is asked for.
    let pending = run_of(8, "m2", now + 1_000);
    store.materialize(&pending, now).await.unwrap();
    let ms = |xid: &str| xid.split('-').next().unwrap().parse::<i64>().unwrap();
    let window = (ms(&finished[8].2), ms(&finished[21].2));
    for (filter, with_pending) in [
        (vec![], true),
        (
            outcomes.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            false,
        ),
        (vec!["failure"], false),
        (vec!["error", "timeout"], false),
    ] {
        for bounds in [(None, None), (Some(window.0), Some(window.1))] {
            let mut want: Vec<String> = finished
                .iter()
                .filter(|(_, o, _)| filter.is_empty() || filter.contains(&o.as_str()))
                .filter(|(_, _, x)| bounds.0.is_none_or(|lo| ms(x) >= lo))
                .filter(|(_, _, x)| bounds.1.is_none_or(|hi| ms(x) <= hi))
                .map(|(id, _, _)| id.clone())
                .collect();
            if with_pending && bounds.0.is_none() {
                want.push(pending.run_id.clone());
            }
            for order in [Order::NewestFirst, Order::OldestFirst] {
                let ordered: Vec<String> = match order {
                    Order::NewestFirst => {
                        let mut w =
                            finished_first_reversed(&want, with_pending && bounds.0.is_none());
                        w.dedup();
                        w
                    }
                    Order::OldestFirst => want.clone(),
                };
                let query = |skip: u64, size: u64, after: Option<String>| {
                    let mut q = RunQuery::new("t", Scope::Job(8));
                    q.outcomes = filter.iter().map(|o| o.to_string()).collect();
                    (q.from_ms, q.to_ms) = bounds;
                    q.order = order;
                    q.skip = skip;
                    q.size = size;
                    q.after = after;
                    let store = &store;
                    async move { store.query_runs(&q).await.unwrap() }
                };
                let case = format!("{filter:?} {bounds:?} {order:?}");
                for (skip, size) in [(0, 4), (3, 5), (10, 7), (40, 3)] {
                    let page = query(skip, size, None).await;
                    let ids: Vec<String> = page.runs.into_iter().map(|(_, r)| r.run_id).collect();
                    let expect: Vec<String> = ordered
                        .iter()
                        .skip(skip as usize)
                        .take(size as usize)
                        .cloned()
                        .collect();
                    assert_eq!(ids, expect, "{case} skip {skip} size {size}");
                    assert_eq!(page.total, Some(ordered.len() as u64), "{case}");
                    assert_eq!(
                        page.has_more,
                        ordered.len() > (skip + size) as usize,
                        "{case} skip {skip}"
                    );
                }
                // A cursor walk of pages of 4 visits every run once, in order.
                let mut walked = Vec::new();
                let mut after = None;
                loop {
                    let page = query(0, 4, after.clone()).await;
                    let ids: Vec<String> = page.runs.into_iter().map(|(_, r)| r.run_id).collect();
                    walked.extend(ids.iter().cloned());
                    match ids.last() {
                        Some(last) if page.has_more => after = Some(last.clone()),
                        _ => break,
                    }
                }
                assert_eq!(walked, ordered, "{case} by cursor");
            }
        }
    }
    assert!(store.delete_job("t", &job(8, true)).await.unwrap());
}

/// Newest first: the unfinished run (last in `want`, when `pending`) leads, then the finished
/// runs from the last to finish.
fn finished_first_reversed(want: &[String], pending: bool) -> Vec<String> {
    let (done, open) = if pending {
        want.split_at(want.len() - 1)
    } else {
        (want, &[][..])
    };
    open.iter()
        .cloned()
        .chain(done.iter().rev().cloned())
        .collect()
}

/// The cap forgets a schedule's oldest runs; in a job of several schedules those can sit in
/// the middle of the job's positions. The job then notes the holes, and its queries (all
/// runs, one outcome, pages both ways) still answer exactly what is left.
#[tokio::test]
async fn a_capped_schedule_leaves_job_wide_queries_exact() {
    use chime_store::{Order, RunQuery, Scope};
    let (_, env) = store().await;
    let s = &env.settings;
    let retention = Retention {
        ttl_ms: 60_000,
        per_stream: 3,
    };
    let target = chime_store::Target::of(&s.redis_url, s.redis_cluster);
    let store = Store::connect_to(target, &s.namespace, retention, s.due_partitions)
        .await
        .unwrap();
    store
        .put_job("t", &job(4, true), &[sched("c1"), sched("c2")])
        .await
        .unwrap();
    let now = store.now_ms().await.unwrap();
    // c1 fires often (and is capped at 3), c2 now and then: c1's oldest runs are not the job's.
    let plan = ["c2", "c1", "c1", "c2", "c1", "c1", "c1", "c2", "c1"];
    let mut finished: Vec<(String, &str, Outcome)> = Vec::new();
    for (i, sid) in plan.iter().enumerate() {
        let m = run_of(4, sid, now - 50_000 + i as i64 * 1_000);
        let outcome = if i % 2 == 0 {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let mut r = success("HTTP 200", None, now);
        r.outcome = Some(outcome);
        store.materialize(&m, now).await.unwrap();
        store.run_complete(&m, now, "w", &r).await.unwrap();
        finished.push((m.run_id, sid, outcome));
    }
    // What the cap leaves: every c2 run and c1's last 3 (each creation keeps 2 and the new one).
    let c1: Vec<usize> = (0..plan.len()).filter(|&i| plan[i] == "c1").collect();
    let kept: Vec<&(String, &str, Outcome)> = finished
        .iter()
        .enumerate()
        .filter(|(i, (_, sid, _))| *sid == "c2" || c1[c1.len() - 3..].contains(i))
        .map(|(_, f)| f)
        .collect();
    for filter in [None, Some(Outcome::Failure)] {
        let want: Vec<String> = kept
            .iter()
            .filter(|(_, _, o)| filter.is_none_or(|f| f == *o))
            .map(|(id, _, _)| id.clone())
            .collect();
        for (order, skip, size) in [
            (Order::OldestFirst, 0, 10),
            (Order::NewestFirst, 0, 10),
            (Order::NewestFirst, 1, 2),
        ] {
            let mut q = RunQuery::new("t", Scope::Job(4));
            q.outcomes = filter.iter().map(|o| o.as_str().to_string()).collect();
            q.order = order;
            q.skip = skip;
            q.size = size;
            let page = store.query_runs(&q).await.unwrap();
            let mut expect = want.clone();
            if order == Order::NewestFirst {
                expect.reverse();
            }
            let expect: Vec<String> = expect
                .into_iter()
                .skip(skip as usize)
                .take(size as usize)
                .collect();
            let ids: Vec<String> = page.runs.into_iter().map(|(_, r)| r.run_id).collect();
            assert_eq!(ids, expect, "{filter:?} {order:?} {skip}");
            assert_eq!(page.total, Some(want.len() as u64), "{filter:?}");
        }
    }
    let mut redis = redis_of(&env).await;
    let holes: bool = redis
        .hexists(store.keys().job("t", 4), "holes")
        .await
        .unwrap();
    assert!(
        holes,
        "the job noted the holes the cap left in its positions"
    );
    assert!(store.delete_job("t", &job(4, true)).await.unwrap());
}
