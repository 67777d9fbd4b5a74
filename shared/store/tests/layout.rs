//! The Redis data layout, pinned: one tenant's whole life (keys, signing secrets rotated, a job
//! of two schedules, runs materialised, started, redelivered, completed, reported
//! asynchronously, evicted by the per-schedule cap, queried, swept, refused a connection (its
//! schedule marked unreachable) and deleted; manual runs
//! requested, recorded and left acknowledged, waiting for their report within the tenant's
//! asynchronous deadline) on the real Redis, and every key it leaves
//! (name, type and contents, less what depends on the clock) compared with the layout recorded
//! here. A change of layout changes this record on purpose, with `docs/ARCHITECTURE.md`'s
//! "Where a run lives".

use chime_core::model::{run_id, ActionSpec, Job, RunMessage, Schedule};
use chime_core::run::{Outcome, RunState, RunStatus};
use chime_core::timing::{FailureReason, Timing};
use chime_store::{
    ActionLog, Advance, ApiKey, Completed, Deferral, Materialized, Order, Retention, RunQuery,
    RunResult, RunUpdate, Scope, Started, Store,
};
use std::fmt::Write;

const TENANT: &str = "acme";
const FIRE: i64 = 1_700_000_000_000;
/// The steps' own clock (Redis's clock names only stream ids, left out of the dump).
const NOW: i64 = FIRE + 5_000;

fn redis_url() -> String {
    std::env::var("CHIME_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A namespace of this test's own (tests never flush Redis).
fn namespace() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("layout{}x{nanos}", std::process::id())
}

fn job(id: u64) -> Job {
    Job {
        id,
        name: "nightly".into(),
        description: String::new(),
        action: "http://127.0.0.1:9/".into(),
        active: true,
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

fn sched(id: &str) -> Schedule {
    serde_json::from_value(serde_json::json!({
        "scheduleId": id, "description": "", "data": null, "type": "recurring", "cron": null,
        "time": null, "repeatInterval": "1 second", "repeatAt": null, "active": true,
        "startTime": null, "endTime": null, "createdAt": "", "modifiedAt": ""
    }))
    .unwrap()
}

fn run(job_id: u64, sid: &str, at: i64) -> RunMessage {
    RunMessage {
        run_id: run_id(sid, at),
        tenant: TENANT.into(),
        job_id,
        schedule_id: sid.into(),
        scheduled_at: at,
        owner: "leader-1".into(),
        epoch: 3,
        fresh: false,
        requested_by: None,
        retry: None,
        attempt: 1,
        first_call_at: None,
        retry_at: None,
        replaceable: false,
        notify: false,
        action: ActionSpec {
            url: "http://127.0.0.1:9/".into(),
            method: chime_core::run::HttpMethod::Post,
            headers: vec![],
            secret_headers: vec![],
            body: None,
            timeout_ms: 1000,
        },
    }
}

/// Manual runs ("run now"): C (reported asynchronously), D (acknowledged, left waiting for its
/// report), and E (requested,
/// still in the due index). Their ids are random UUIDs in production; fixed here.
const MANUAL_C: &str = "7C3A5E2B9D1F4A6B8C0D2E4F6A8B0C1D";
const MANUAL_D: &str = "0D9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A";
const MANUAL_E: &str = "5E4D3C2B1A0F4E9D8C7B6A5F4E3D2C1B";

/// `m` as a manual run of id `id`, requested by key k1.
fn manual(mut m: RunMessage, id: &str) -> RunMessage {
    m.run_id = id.into();
    m.requested_by = Some("k1".into());
    m
}

fn result(outcome: Outcome, event: Option<&str>) -> RunResult {
    let ok = outcome == Outcome::Success;
    RunResult {
        status: RunStatus::Completed,
        state: if ok {
            RunState::Success
        } else {
            RunState::Error
        },
        outcome: Some(outcome),
        http_status: Some(if ok { 200 } else { 500 }),
        run_text: format!("HTTP {}", if ok { 200 } else { 500 }),
        body: ok.then(|| "{\"ok\":true}".into()),
        error: (!ok).then(|| "endpoint returned status code 500".into()),
        duration_ms: 7,
        executed_at: FIRE + 10,
        event: event.map(String::from),
        timing: Timing {
            dns_ms: Some(1),
            first_byte_ms: Some(5),
            ..Timing::default()
        },
        failure_reason: (!ok).then_some(FailureReason::Http5xx),
    }
}

/// A call answered 202: the run waits for its job's report.
fn acked() -> RunResult {
    RunResult {
        status: RunStatus::Running,
        state: RunState::AckRecvd,
        outcome: None,
        http_status: Some(202),
        run_text: "HTTP 202".into(),
        body: None,
        error: None,
        duration_ms: 3,
        executed_at: FIRE + 10,
        event: None,
        timing: Timing {
            first_byte_ms: Some(2),
            ..Timing::default()
        },
        failure_reason: None,
    }
}

/// A call that got no connection (refused): the endpoint is unreachable.
fn refused() -> RunResult {
    let text = "error sending request: connection refused".to_string();
    RunResult {
        status: RunStatus::Completed,
        state: RunState::RequestError,
        outcome: Some(Outcome::Error),
        http_status: None,
        run_text: text.clone(),
        body: None,
        error: Some(text),
        duration_ms: 1,
        executed_at: FIRE + 3_010,
        event: None,
        timing: Timing::default(),
        failure_reason: Some(FailureReason::Connect),
    }
}

/// `text` with every stream id of Redis's clock (`<13 digits>-<seq>`) written `XID`.
fn clockless(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let starts = i == 0 || !b[i - 1].is_ascii_digit();
        if starts && digits == 13 && b.get(i + 13) == Some(&b'-') {
            let seq = b[i + 14..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if seq > 0 {
                out.push_str("XID");
                i += 14 + seq;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// Every key of the namespace with its type and contents, one line each, sorted; the
/// namespace and the run ids are replaced by names, and what depends on Redis's clock (stream
/// ids, the `xid` field, scores derived from them) is left out, and a job's `lag` (a finish on
/// Redis's clock from an execution start at the fixture's instant) is written `CLOCK`.
async fn dump(
    redis: &mut redis::aio::MultiplexedConnection,
    ns: &str,
    names: &[(&str, String)],
) -> String {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}:*"))
        .query_async(redis)
        .await
        .unwrap();
    keys.sort();
    let mut lines = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(redis)
            .await
            .unwrap();
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(redis)
            .await
            .unwrap();
        let expires = if ttl > 0 { " (expires)" } else { "" };
        let mut line = format!("{key} {kind}{expires}:");
        match kind.as_str() {
            "string" => {
                let v: String = redis::cmd("GET")
                    .arg(&key)
                    .query_async(redis)
                    .await
                    .unwrap();
                write!(line, " {v}").unwrap();
            }
            "hash" => {
                let mut f: Vec<(String, String)> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(redis)
                    .await
                    .unwrap();
                f.sort();
                for (k, v) in f.iter().filter(|(k, _)| k != "xid") {
                    let v = if k == "lag" { "CLOCK" } else { v };
                    write!(line, " {k}={v}").unwrap();
                }
            }
            "list" => {
                let v: Vec<String> = redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(redis)
                    .await
                    .unwrap();
                write!(line, " {}", v.join(" | ")).unwrap();
            }
            "set" => {
                let mut v: Vec<String> = redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(redis)
                    .await
                    .unwrap();
                v.sort();
                write!(line, " {}", v.join(" ")).unwrap();
            }
            "zset" => {
                let v: Vec<(String, String)> = redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(redis)
                    .await
                    .unwrap();
                // The live set is scored by Redis's clock: its members in their order.
                let mut v: Vec<String> = if key.contains(":outcome:") {
                    let mut m: Vec<String> = v.into_iter().map(|(m, _)| m).collect();
                    m.sort();
                    m
                } else if key.ends_with(":live") {
                    v.into_iter().map(|(m, _)| m).collect()
                } else {
                    v.into_iter().map(|(m, s)| format!("{m}@{s}")).collect()
                };
                v.insert(0, String::new());
                line.push_str(&v.join(" "));
            }
            "stream" => {
                let r: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query_async(redis)
                    .await
                    .unwrap();
                for e in r.ids {
                    let mut f: Vec<String> = e
                        .map
                        .iter()
                        .map(|(k, v)| {
                            let v: String = redis::from_redis_value_ref(v).unwrap();
                            format!("{k}={v}")
                        })
                        .collect();
                    f.sort();
                    write!(line, " [{}]", f.join(",")).unwrap();
                }
            }
            other => panic!("unexpected type {other} of {key}"),
        }
        lines.push(line);
    }
    let mut out = clockless(&lines.join("\n")).replace(ns, "NS");
    for (name, id) in names {
        out = out.replace(id.as_str(), name);
    }
    out
}

/// The layout after the tenant's runs were recorded (before the cap evicts run A).
const RECORDED: &str = "\
NS:apikey:k1 hash: created=1704067200000 scopes=jobs:read,jobs:write secret=1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0 tenant=acme\n\
NS:tenants set: acme\n\
NS:{sched}:deferred hash: acme|1|s2=1700000000500\n\
NS:{sched}:due:0 zset: acme|1|s2|RUN_E|k1@1700000000200 acme|1|s2@1700000001500\n\
NS:{sched}:due:1 zset: acme|1|s1@1700000000000\n\
NS:{sched}:epoch string: 1\n\
NS:{sched}:lease string (expires): leader-1:1\n\
NS:{t:acme}:actions stream: [a=update,d=cron,j=1,k=k1,s=s1]\n\
NS:{t:acme}:job:1 hash: def={\"_id\":1,\"name\":\"nightly\",\"description\":\"\",\"action\":\"http://127.0.0.1:9/\",\"active\":true,\"httpMethod\":\"POST\",\"startTime\":null,\"endTime\":null,\"headers\":{},\"timeoutMs\":1000,\"createdAt\":\"\",\"modifiedAt\":\"\"} lag=CLOCK s#1=s1 s#2=s2 s@s1=1 s@s2=2 seq=3 so=2\n\
NS:{t:acme}:job:1:builds:0 hash: 1=RUN_A 2=RUN_B 3=RUN_C\n\
NS:{t:acme}:job:1:done stream (expires): [r=RUN_A] [r=RUN_B] [r=RUN_C]\n\
NS:{t:acme}:job:1:pos stream: [x=XID] [x=XID] [x=XID]\n\
NS:{t:acme}:job:1:pos:failure stream: [x=XID]\n\
NS:{t:acme}:job:1:pos:success stream: [x=XID] [x=XID]\n\
NS:{t:acme}:job:1:runs stream: [a=1700000000000,b=>{\"ok\":true},c=5000,d=5003,e=10,g=1,,,5,h=200,id=RUN_A,k=231,n=1,o=leader-1,p=2,q=3,s=1,t=HTTP 200,u=7,w=w2,x=] [a=1700000001000,b=,c=4000,d=4005,e=-990,f=http_5xx,g=1,,,5,h=500,id=RUN_B,k=242,n=2,o=leader-1,p=1,q=3,s=1,t=HTTP 500,u=7,w=w1,x=>endpoint returned status code 500] [a=1700000000000,b=,c=5000,d=5007,e=10,g=,,,2,h=202,id=RUN_C,k=231,n=3,o=leader-1,p=1,q=3,s=2,t=done later,u=3,v=k1,w=w1,x=]\n\
NS:{t:acme}:job:1:schedules hash: s1={\"scheduleId\":\"s1\",\"description\":\"\",\"data\":null,\"type\":\"recurring\",\"cron\":null,\"time\":null,\"repeatInterval\":\"1 second\",\"repeatAt\":null,\"active\":true,\"startTime\":null,\"endTime\":null,\"createdAt\":\"\",\"modifiedAt\":\"\"} s2={\"scheduleId\":\"s2\",\"description\":\"\",\"data\":null,\"type\":\"recurring\",\"cron\":null,\"time\":null,\"repeatInterval\":\"1 second\",\"repeatAt\":null,\"active\":true,\"startTime\":null,\"endTime\":null,\"createdAt\":\"\",\"modifiedAt\":\"\"}\n\
NS:{t:acme}:job:1:tails string (expires): 1\n\
NS:{t:acme}:jobnames hash: nightly=1\n\
NS:{t:acme}:jobs zset: 1@1\n\
NS:{t:acme}:keys set: k1\n\
NS:{t:acme}:run:RUN_C:log list (expires): 2023-11-14T22:13:25.007Z job reported SUCCESS: done later\n\
NS:{t:acme}:run:RUN_A:log list (expires): @1700000005001 attempt 1 started on w1 | 2023-11-14T22:13:25.002Z attempt 1 did not finish; run redelivered to worker w2 | 2023-11-14T22:13:25.004Z duplicate result from worker w3 ignored: the run already has its result\n\
NS:{t:acme}:runids:56BB hash: EBDE3EBC5FC0A589A64DC75A88CF=XID\n\
NS:{t:acme}:runids:7C3A hash: 5E2B9D1F4A6B8C0D2E4F6A8B0C1D=XID\n\
NS:{t:acme}:runids:CC98 hash: 2DC99DC9506CACC53DE6C7C1A6DA=XID\n\
NS:{t:acme}:runs stream: [h=200,j=1,k=231,u=7] [h=500,j=1,k=242,u=7] [h=202,j=1,k=231,u=3]\n\
NS:{t:acme}:runs:failure stream: [h=500,j=1,k=242,u=7]\n\
NS:{t:acme}:runs:success stream: [h=200,j=1,k=231,u=7] [h=202,j=1,k=231,u=3]\n\
NS:{t:acme}:sched:s1:events stream: [l=ERROR,m=Target blocked] [l=INFO,m=Schedule updated]\n\
NS:{t:acme}:sched:s1:pos stream: [x=XID] [x=XID]\n\
NS:{t:acme}:sched:s2:pos stream: [x=XID]\n\
NS:{t:acme}:schedjobs hash: s1=1 s2=1\n\
NS:{t:acme}:seq string: 1\n\
NS:{t:acme}:tenant hash: async_exec_timeout_s=600 created=2024-01-01T00:00:00Z name=Acme retention_ms=7200000 runs_per_minute=600 signing_secret=v1:k1:SECOND signing_secret_prev=v1:k1:FIRST signing_secret_prev_until=1700000060000";
/// After run D evicted run A (the schedule keeps 2 runs), the sweep, and run F refused.
const EVICTED: &str = "\
NS:apikey:k1 hash: created=1704067200000 scopes=jobs:read,jobs:write secret=1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0 tenant=acme\n\
NS:tenants set: acme\n\
NS:{sched}:deferred hash: acme|1|s2=1700000000500\n\
NS:{sched}:due:0 zset: acme|1|s2|RUN_E|k1@1700000000200 acme|1|s2@1700000001500\n\
NS:{sched}:due:1 zset: acme|1|s1@1700000000000\n\
NS:{sched}:epoch string: 1\n\
NS:{sched}:lease string (expires): leader-1:1\n\
NS:{t:acme}:actions stream: [a=update,d=cron,j=1,k=k1,s=s1]\n\
NS:{t:acme}:async zset: 1|s1|RUN_D@1700000005008\n\
NS:{t:acme}:job:1 hash: def={\"_id\":1,\"name\":\"nightly\",\"description\":\"\",\"action\":\"http://127.0.0.1:9/\",\"active\":true,\"httpMethod\":\"POST\",\"startTime\":null,\"endTime\":null,\"headers\":{},\"timeoutMs\":1000,\"createdAt\":\"\",\"modifiedAt\":\"\"} lag=CLOCK s#1=s1 s#2=s2 s@s1=1 s@s2=2 seq=5 so=2\n\
NS:{t:acme}:job:1:builds:0 hash: 2=RUN_B 3=RUN_C 4=RUN_D 5=RUN_F\n\
NS:{t:acme}:job:1:done stream (expires): [r=RUN_A] [r=RUN_B] [r=RUN_C] [r=RUN_F]\n\
NS:{t:acme}:job:1:pos stream: [x=XID] [x=XID] [x=XID]\n\
NS:{t:acme}:job:1:pos:error stream: [x=XID]\n\
NS:{t:acme}:job:1:pos:failure stream: [x=XID]\n\
NS:{t:acme}:job:1:pos:success stream: [x=XID]\n\
NS:{t:acme}:job:1:runs stream: [a=1700000001000,b=,c=4000,d=4005,e=-990,f=http_5xx,g=1,,,5,h=500,id=RUN_B,k=242,n=2,o=leader-1,p=1,q=3,s=1,t=HTTP 500,u=7,w=w1,x=>endpoint returned status code 500] [a=1700000000000,b=,c=5000,d=5007,e=10,g=,,,2,h=202,id=RUN_C,k=231,n=3,o=leader-1,p=1,q=3,s=2,t=done later,u=3,v=k1,w=w1,x=] [a=1700000003000,b=,c=2010,d=2011,e=10,f=connect,h=,id=RUN_F,k=253,n=5,o=leader-1,p=1,q=3,s=2,t=error sending request: connection refused,u=1,w=w1,x==]\n\
NS:{t:acme}:job:1:schedules hash: s1={\"scheduleId\":\"s1\",\"description\":\"\",\"data\":null,\"type\":\"recurring\",\"cron\":null,\"time\":null,\"repeatInterval\":\"1 second\",\"repeatAt\":null,\"active\":true,\"startTime\":null,\"endTime\":null,\"createdAt\":\"\",\"modifiedAt\":\"\"} s2={\"scheduleId\":\"s2\",\"description\":\"\",\"data\":null,\"type\":\"recurring\",\"cron\":null,\"time\":null,\"repeatInterval\":\"1 second\",\"repeatAt\":null,\"active\":true,\"startTime\":null,\"endTime\":null,\"createdAt\":\"\",\"modifiedAt\":\"\"}\n\
NS:{t:acme}:job:1:tails string (expires): 1\n\
NS:{t:acme}:jobnames hash: nightly=1\n\
NS:{t:acme}:jobs zset: 1@1\n\
NS:{t:acme}:keys set: k1\n\
NS:{t:acme}:live zset: 1|s1|RUN_D\n\
NS:{t:acme}:run:RUN_D hash: attempt=1 dur=3 exec_at=1700000000010 http=202 id=RUN_D job=1 m=4 1700000002000 1700000005008 3 manual=k1 outcome= owner=leader-1 sched=s1 state=ACK_RECVD status=RUNNING text=HTTP 202 timing=,,,2 worker=w1\n\
NS:{t:acme}:run:RUN_C:log list (expires): 2023-11-14T22:13:25.007Z job reported SUCCESS: done later\n\
NS:{t:acme}:runids:0D9E hash: 8F7A6B5C4D3E2F1A0B9C8D7E6F5A=\n\
NS:{t:acme}:runids:56BB hash: EBDE3EBC5FC0A589A64DC75A88CF=XID\n\
NS:{t:acme}:runids:7C3A hash: 5E2B9D1F4A6B8C0D2E4F6A8B0C1D=XID\n\
NS:{t:acme}:runids:D398 hash: DD3DE3A25355A5403B588B2E6858=XID\n\
NS:{t:acme}:runs stream: [h=500,j=1,k=242,u=7] [h=202,j=1,k=231,u=3] [h=,j=1,k=253,u=1]\n\
NS:{t:acme}:runs:error stream: [h=,j=1,k=253,u=1]\n\
NS:{t:acme}:runs:failure stream: [h=500,j=1,k=242,u=7]\n\
NS:{t:acme}:runs:success stream: [h=202,j=1,k=231,u=3]\n\
NS:{t:acme}:sched:s1:events stream: [l=ERROR,m=Target blocked] [l=INFO,m=Schedule updated]\n\
NS:{t:acme}:sched:s1:pos stream: [x=XID]\n\
NS:{t:acme}:sched:s2:pos stream: [x=XID] [x=XID]\n\
NS:{t:acme}:schedjobs hash: s1=1 s2=1\n\
NS:{t:acme}:seq string: 1\n\
NS:{t:acme}:tenant hash: async_exec_timeout_s=600 created=2024-01-01T00:00:00Z name=Acme retention_ms=7200000 runs_per_minute=600 signing_secret=v1:k1:SECOND signing_secret_prev=v1:k1:FIRST signing_secret_prev_until=1700000060000\n\
NS:{t:acme}:unreachable zset: 1|s2@1700000005011";
/// After the job's deletion.
const DELETED: &str = "\
NS:apikey:k1 hash: created=1704067200000 scopes=jobs:read,jobs:write secret=1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0 tenant=acme\n\
NS:tenants set: acme\n\
NS:{sched}:deferred hash: acme|1|s2=1700000000500\n\
NS:{sched}:due:0 zset: acme|1|s2|RUN_E|k1@1700000000200 acme|1|s2@1700000001500\n\
NS:{sched}:due:1 zset: acme|1|s1@1700000000000\n\
NS:{sched}:epoch string: 1\n\
NS:{sched}:lease string (expires): leader-1:1\n\
NS:{t:acme}:actions stream: [a=update,d=cron,j=1,k=k1,s=s1]\n\
NS:{t:acme}:keys set: k1\n\
NS:{t:acme}:runs stream:\n\
NS:{t:acme}:runs:error stream:\n\
NS:{t:acme}:runs:failure stream:\n\
NS:{t:acme}:runs:success stream:\n\
NS:{t:acme}:seq string: 1\n\
NS:{t:acme}:tenant hash: async_exec_timeout_s=600 created=2024-01-01T00:00:00Z name=Acme retention_ms=7200000 runs_per_minute=600 signing_secret=v1:k1:SECOND signing_secret_prev=v1:k1:FIRST signing_secret_prev_until=1700000060000";

/// The tenant with an API key and settings, and its job of two schedules, both due, one fire
/// deferred by the leader. Returns the job id.
async fn configure(store: &Store) -> u64 {
    // Tenant, key, settings.
    store
        .create_tenant(TENANT, "Acme", "2024-01-01T00:00:00Z", Some("v1:k1:FIRST"))
        .await
        .unwrap();
    // Sealed values are opaque to the store; a rotation keeps the first one signing a while.
    assert_eq!(
        store
            .rotate_signing_secret(TENANT, "v1:k1:SECOND", Some(FIRE + 60_000))
            .await
            .unwrap(),
        chime_store::Rotated::Replaced
    );
    let secrets = store.signing_secrets(TENANT).await.unwrap().unwrap();
    assert_eq!(secrets.current.as_deref(), Some("v1:k1:SECOND"));
    assert_eq!(
        secrets.previous,
        Some(("v1:k1:FIRST".to_string(), FIRE + 60_000))
    );
    store
        .create_api_key(&ApiKey {
            id: "k1".into(),
            tenant: TENANT.into(),
            secret_sha256: chime_store::hash_secret("s3cret"),
            scopes: vec!["jobs:read".into(), "jobs:write".into()],
            created_ms: 1_704_067_200_000,
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .set_tenant_retention(TENANT, Some(7_200_000))
        .await
        .unwrap();
    store
        .set_tenant_runs_per_minute(TENANT, Some(600))
        .await
        .unwrap();
    store.set_tenant_async_timeout(TENANT, 600).await.unwrap();

    // A job of two schedules, due, one fire deferred by the leader.
    let id = store.next_job_id(TENANT).await.unwrap();
    assert!(store.reserve_job_name(TENANT, "nightly", id).await.unwrap());
    store
        .put_job(TENANT, &job(id), &[sched("s1"), sched("s2")])
        .await
        .unwrap();
    store.set_due(TENANT, id, "s1", Some(FIRE)).await.unwrap();
    store
        .set_due(TENANT, id, "s2", Some(FIRE + 500))
        .await
        .unwrap();
    let epoch = store
        .lease_acquire(0, "leader-1", 60_000)
        .await
        .unwrap()
        .unwrap();
    let token = format!("leader-1:{epoch}");
    let member = chime_store::keys::Keys::due_member(TENANT, id, "s2");
    let p2 = chime_store::keys::Keys::partition_of("s2", 4);
    let codes = store
        .advance_many(
            0,
            &token,
            &[Advance {
                partition: p2,
                member: &member,
                read: FIRE + 500,
                next: Some(FIRE + 1_500),
                deferral: Deferral::Defer {
                    nominal: FIRE + 500,
                },
            }],
        )
        .await
        .unwrap();
    assert_eq!(codes, vec![chime_store::Advanced::Moved]);
    // A manual fire of s2 requested by key k1, not fired yet.
    store
        .request_run_now(TENANT, id, "s2", MANUAL_E, "k1", FIRE + 200)
        .await
        .unwrap();
    id
}

/// Runs A, B of s1 and C of s2: A redelivered and a success, B a failure with an event, C
/// acknowledged and reported asynchronously, while a live tail listens; an event and an
/// action are logged.
async fn record_runs(store: &Store, id: u64) -> [RunMessage; 3] {
    let now = NOW;
    store.announce_tail(TENANT, id).await.unwrap();
    let (a, b, c) = (
        run(id, "s1", FIRE),
        run(id, "s1", FIRE + 1_000),
        manual(run(id, "s2", FIRE), MANUAL_C),
    );
    for m in [&a, &b, &c] {
        assert_eq!(
            store.materialize(m, now).await.unwrap(),
            Materialized::Created
        );
    }
    assert_eq!(
        store.materialize(&a, now).await.unwrap(),
        Materialized::Existed
    );
    assert_eq!(
        store.run_start(&a, now + 1, "w1").await.unwrap(),
        Started::Attempt(1)
    );
    let again = chime_store::RunStep::Start(2);
    let answers = store
        .record_steps(&[(&a, again)], now + 2, "w2")
        .await
        .unwrap();
    assert_eq!(
        answers,
        vec![chime_store::StepAnswer::Started(Started::Attempt(2))]
    );
    let ok = result(Outcome::Success, None);
    assert_eq!(
        store.run_complete(&a, now + 3, "w2", &ok).await.unwrap(),
        Completed::Recorded
    );
    assert_eq!(
        store.run_complete(&a, now + 4, "w3", &ok).await.unwrap(),
        Completed::AlreadyRecorded
    );
    let failed = result(Outcome::Failure, Some("Target blocked"));
    assert_eq!(
        store
            .run_complete(&b, now + 5, "w1", &failed)
            .await
            .unwrap(),
        Completed::Recorded
    );
    assert_eq!(
        store
            .run_complete(&c, now + 6, "w1", &acked())
            .await
            .unwrap(),
        Completed::Recorded
    );
    let update = store
        .run_update(TENANT, (id, "s2", &c.run_id), true, "done later", now + 7)
        .await
        .unwrap();
    assert_eq!(update, RunUpdate::Updated);
    store
        .schedule_event(TENANT, "s1", "INFO", "Schedule updated")
        .await
        .unwrap();
    store
        .record_action(
            TENANT,
            &ActionLog {
                job_id: id,
                schedule_id: Some("s1".into()),
                action: "update".into(),
                detail: "cron".into(),
                actor: "k1".into(),
            },
        )
        .await
        .unwrap();
    [a, b, c]
}

/// Run D: the schedule's cap (2) evicts A, records and indexes and all; every query path
/// reads what is left. Then run F of s2, whose call gets no connection.
async fn evict_and_query(store: &Store, id: u64, [a, b, c, d]: [&RunMessage; 4]) {
    let now = NOW;
    assert_eq!(
        store.materialize(d, now + 8).await.unwrap(),
        Materialized::Created
    );
    // D is acknowledged (202) and waits for its job's report, well within the tenant's
    // deadline (600 s): the deadline's sweep leaves it alone.
    assert_eq!(
        store
            .run_complete(d, now + 8, "w1", &acked())
            .await
            .unwrap(),
        Completed::Recorded
    );
    assert_eq!(
        store.expire_async_runs(TENANT, now + 9, 10).await.unwrap(),
        0
    );
    store.sweep_retention(TENANT, now + 9).await.unwrap();
    let ids = |scope: Scope, outcomes: &[&str], order: Order| {
        let mut q = RunQuery::new(TENANT, scope);
        q.outcomes = outcomes.iter().map(|o| o.to_string()).collect();
        q.order = order;
        async move {
            let page = store.query_runs(&q).await.unwrap();
            let ids: Vec<String> = page.runs.into_iter().map(|(_, r)| r.run_id).collect();
            (page.total, ids)
        }
    };
    let s1 = ids(Scope::Schedule("s1".into()), &[], Order::NewestFirst).await;
    assert_eq!(s1, (Some(2), vec![d.run_id.clone(), b.run_id.clone()]));
    let s1_asc = ids(Scope::Schedule("s1".into()), &[], Order::OldestFirst).await;
    assert_eq!(s1_asc, (Some(2), vec![b.run_id.clone(), d.run_id.clone()]));
    let failures = ids(Scope::Job(id), &["failure"], Order::NewestFirst).await;
    assert_eq!(failures, (Some(1), vec![b.run_id.clone()]));
    let successes = ids(Scope::Job(id), &["success", "error"], Order::NewestFirst).await;
    assert_eq!(successes, (Some(1), vec![c.run_id.clone()]));
    let tenant_ok = ids(Scope::Tenant, &["success"], Order::OldestFirst).await;
    assert_eq!(tenant_ok, (Some(1), vec![c.run_id.clone()]));
    let all = ids(Scope::Job(id), &[], Order::NewestFirst).await;
    assert_eq!(all.0, Some(3));
    assert!(store.run(TENANT, &a.run_id).await.unwrap().is_none());
    let b_rec = store.run(TENANT, &b.run_id).await.unwrap().unwrap();
    assert_eq!((b_rec.number, b_rec.state.as_str()), (2, "ERROR"));
    // Run F of s2: its call got no connection, which marks s2 unreachable from its finish.
    let f = run(id, "s2", FIRE + 3_000);
    assert_eq!(
        store.materialize(&f, now + 10).await.unwrap(),
        Materialized::Created
    );
    assert_eq!(
        store
            .run_complete(&f, now + 11, "w1", &refused())
            .await
            .unwrap(),
        Completed::Recorded
    );
}

#[tokio::test]
async fn the_redis_layout_is_the_one_chime_always_wrote() {
    let ns = namespace();
    let retention = Retention {
        ttl_ms: 3_600_000,
        per_stream: 2,
    };
    let store = Store::connect(&redis_url(), &ns, retention, 4)
        .await
        .unwrap();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();

    let id = configure(&store).await;
    let [a, b, c] = record_runs(&store, id).await;
    let d = manual(run(id, "s1", FIRE + 2_000), MANUAL_D);
    let names = [
        ("RUN_A", a.run_id.clone()),
        ("RUN_B", b.run_id.clone()),
        ("RUN_C", c.run_id.clone()),
        ("RUN_D", d.run_id.clone()),
        ("RUN_E", MANUAL_E.to_string()),
        ("RUN_F", run(id, "s2", FIRE + 3_000).run_id),
    ];
    let recorded = dump(&mut redis, &ns, &names).await;
    evict_and_query(&store, id, [&a, &b, &c, &d]).await;
    let evicted = dump(&mut redis, &ns, &names).await;
    assert!(store.delete_job(TENANT, &job(id)).await.unwrap());
    let deleted = dump(&mut redis, &ns, &names).await;

    // Clean up before comparing, so a failure leaves nothing behind.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut redis)
        .await
        .unwrap();

    println!("RECORDED\n{recorded}\n\nEVICTED\n{evicted}\n\nDELETED\n{deleted}");
    assert_eq!(recorded, RECORDED);
    assert_eq!(evicted, EVICTED);
    assert_eq!(deleted, DELETED);
}
