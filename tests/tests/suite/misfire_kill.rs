//! The misfire policies against a real outage: the leader (a `chime serve scheduler` process) is
//! killed with SIGKILL and stays down longer than the misfire window; a new scheduler process
//! takes over, and what each schedule fired of the instants that fell due meanwhile is checked
//! against an oracle of the policy's rules, applied to the instants observed: the last one the
//! old leader fired and the takeover instant (when the new leader's first pass recorded its
//! runs). The run log, the target's calls, the schedule's event log and `fires` must all agree.

use chime_core::model::run_id;
use chime_core::time::{format_instant, parse_stored_instant};
use chime_store::keys::Keys;
use chime_store::Store;
use chime_testkit::jobs::ms;
use chime_testkit::{
    all_completed, create_job, runs, set_active, wait_until, wait_until_every, Target, TestEnv,
};
use redis::AsyncCommands;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio::process::Child;

/// The leader's grace (`misfire_grace_secs`): an instant reached later than this is missed.
const GRACE_MS: i64 = 1_000;
/// Each policy schedule's `misfireWindowSeconds`.
const WINDOW_MS: i64 = 3_000;
/// The `all` schedule's `misfireReplayPerSecond`.
const REPLAY_PER_SECOND: i64 = 4;
/// The leader stays down at least this long (Redis's clock), over twice the window.
const OUTAGE_MS: i64 = 7_000;
/// `fires` calls an instant fired later than this after it `deferred`.
const DEFERRED_MS: i64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    /// No policy: SAP's rule (an outage under the 20-minute threshold replays every instant).
    Sap,
    All,
    Last,
    Skip,
}

/// One schedule of the test: its policy and grid.
struct Case {
    name: &'static str,
    policy: Policy,
    /// The grid's period (ms): instants are its multiples.
    step: i64,
    job: u64,
    sid: String,
}

/// A run as the store recorded it.
#[derive(Clone, Debug)]
struct Fired {
    run_id: String,
    created: i64,
    epoch: u64,
}

/// Of the instants `gap` (oldest first, each due at `t`, the first one the entry's), the ones
/// the pass at `t` fires or replays by `policy`'s rules: instants more than the window late are
/// skipped whatever the policy; `all` fires the rest; `last` fires those within the grace and,
/// of the missed ones, only the most recent due; `skip` fires only those within the grace.
fn expected(policy: Policy, gap: &[i64], t: i64) -> BTreeSet<i64> {
    let most_recent = gap.last().copied();
    gap.iter()
        .copied()
        .filter(|&a| {
            let late = t - a;
            match policy {
                Policy::Sap => true,
                Policy::All => late <= WINDOW_MS,
                Policy::Last => late <= WINDOW_MS && (late <= GRACE_MS || Some(a) == most_recent),
                // (the grace is shorter than the window)
                Policy::Skip => late <= GRACE_MS,
            }
        })
        .collect()
}

#[test]
fn the_oracle_reads_the_rules() {
    // Instants 0..=7 s, reached at 7.5 s: 0..4 s are older than the 3 s window, 5 and 6 s are
    // missed (over the 1 s grace), 7 s is on time.
    let gap: Vec<i64> = (0..=7).map(|k| k * 1000).collect();
    let t = 7_500;
    let of = |p| expected(p, &gap, t).into_iter().collect::<Vec<_>>();
    assert_eq!(of(Policy::Sap), gap);
    assert_eq!(of(Policy::All), vec![5_000, 6_000, 7_000]);
    assert_eq!(of(Policy::Last), vec![7_000]);
    assert_eq!(of(Policy::Skip), vec![7_000]);
    // On a 3 s grid reached 2.5 s after its last instant, that one is missed: `last` fires it,
    // `skip` does not.
    let gap = [0, 3_000, 6_000];
    assert_eq!(expected(Policy::Last, &gap, 8_500), BTreeSet::from([6_000]));
    assert!(expected(Policy::Skip, &gap, 8_500).is_empty());
    assert_eq!(expected(Policy::Skip, &gap, 6_900), BTreeSet::from([6_000]));
}

/// Six schedules (SAP's rule, `all`, `last`, `skip` every second; `last`, `skip` every 3 s)
/// fire on a leader process; it is killed with SIGKILL and stays down 7 s, over twice the
/// 3 s window; a new process leads. Each instant before the kill fired once, each after the
/// takeover once, and of those in between exactly the ones the policy's rules pick at the
/// takeover; the rest are misfire spans in the event log, and `fires` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_killed_past_the_misfire_window_resumes_by_each_policy() {
    let started = Instant::now();
    let mut env = TestEnv::new();
    env.settings.misfire_grace_secs = (GRACE_MS / 1000) as u64;
    // A short lease: the killed leader's lapses within the outage, so the new process leads at
    // once.
    env.settings.leader_ttl_ms = 1_500;
    env.start_api().await;
    env.start_worker().await;
    let target = Target::start().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let store = env.store().await;
    let old = env.spawn_process("scheduler", "misfire-old");
    let cases = create_cases(&env, &token, &target).await;
    wait_until(
        "2 completed runs of each schedule before the kill",
        Duration::from_secs(30),
        || completed_from(&env, &token, &cases, 0),
    )
    .await;
    let (out, mut new) = kill_and_replace(&env, &store, old).await;
    wait_until(
        "2 completed runs of each schedule due after the takeover",
        Duration::from_secs(30),
        || completed_from(&env, &token, &cases, out.led_at + 1),
    )
    .await;
    for c in &cases {
        set_active(&env, &token, c.job, false).await;
    }
    let mut fired = Vec::new();
    for c in &cases {
        fired.push(recorded(&env, &store, (&tenant, &token), &target, c, &out).await);
    }
    // The takeover: the new leader's first pass, when it recorded its first runs.
    let takeover = fired
        .iter()
        .flat_map(|f| f.values())
        .filter(|f| f.epoch == out.new_epoch)
        .map(|f| f.created)
        .min()
        .expect("the new leader fired");
    assert!(
        takeover >= out.killed_at + OUTAGE_MS,
        "the outage lasted {} ms",
        takeover - out.killed_at
    );
    let mut report = Vec::new();
    for (c, f) in cases.iter().zip(&fired) {
        let v = check_runs(c, f, takeover, &out);
        check_policy(c, f, &v);
        check_spans(&store, &tenant, c, &v).await;
        check_fires(&env, &token, c, f, &v).await;
        report.push(format!(
            "{}: gap {}, fired {:?} s from the takeover",
            c.name,
            v.gap.len(),
            v.got
                .iter()
                .map(|a| (a - takeover) as f64 / 1000.0)
                .collect::<Vec<_>>()
        ));
    }
    println!(
        "misfire after SIGKILL: down {} ms to the takeover (lease taken {} ms after the kill); {}; {:?} in all",
        takeover - out.killed_at,
        out.led_at - out.killed_at,
        report.join("; "),
        started.elapsed()
    );
    new.start_kill().unwrap();
    new.wait().await.unwrap();
    env.cleanup().await;
}

/// One job per policy, calling the target at `/<name>`.
async fn create_cases(env: &TestEnv, token: &str, target: &Target) -> Vec<Case> {
    let every_second = "* * * * * *";
    let every_3s = "*/3 * * * * *";
    let specs = [
        ("sap", Policy::Sap, every_second, 1_000),
        ("all", Policy::All, every_second, 1_000),
        ("last", Policy::Last, every_second, 1_000),
        ("skip", Policy::Skip, every_second, 1_000),
        // With a 1 s grace the most recent instant of a 1 s grid is never missed; on a 3 s
        // grid it is when the takeover comes over 1 s after it (`last` fires it, `skip` not).
        ("last3", Policy::Last, every_3s, 3_000),
        ("skip3", Policy::Skip, every_3s, 3_000),
    ];
    let mut cases = Vec::new();
    for (name, policy, crontab, step) in specs {
        let mut s = json!({"crontab": crontab, "active": true});
        let word = match policy {
            Policy::Sap => None,
            Policy::All => Some("all"),
            Policy::Last => Some("last"),
            Policy::Skip => Some("skip"),
        };
        if let Some(word) = word {
            s["misfirePolicy"] = json!(word);
            s["misfireWindowSeconds"] = json!(WINDOW_MS / 1000);
        }
        if policy == Policy::All {
            s["misfireReplayPerSecond"] = json!(REPLAY_PER_SECOND);
        }
        let (job, sid) = create_job(env, token, name, &target.url(&format!("/{name}")), s).await;
        cases.push(Case {
            name,
            policy,
            step,
            job,
            sid,
        });
    }
    cases
}

/// Whether every case has 2 completed runs scheduled at or after `at_least` (ms).
async fn completed_from(env: &TestEnv, token: &str, cases: &[Case], at_least: i64) -> Option<()> {
    for c in cases {
        let (_, list) = runs(env, token, c.job, &c.sid).await;
        let done = list
            .iter()
            .filter(|r| r["runStatus"] == "COMPLETED" && ms(&r["scheduleTimestamp"]) >= at_least)
            .count();
        if done < 2 {
            return None;
        }
    }
    Some(())
}

/// The outage, by Redis's clock, and the leaders' epochs.
struct Outage {
    killed_at: i64,
    /// Once the killed process was reaped.
    dead_at: i64,
    /// When the new process was seen holding the lease.
    led_at: i64,
    old_epoch: u64,
    new_epoch: u64,
}

/// Kills the leader `old` with SIGKILL in the middle of a second (away from the passes that
/// fire the grids just after each whole second), keeps it down until Redis's clock is
/// OUTAGE_MS on and its lease has lapsed, and starts a new scheduler process, which leads.
async fn kill_and_replace(env: &TestEnv, store: &Store, mut old: Child) -> (Outage, Child) {
    let conn = store.connection();
    let lease_key = Keys::new(env.namespace()).lease();
    let epoch = |holder: &str| -> u64 { holder.rsplit(':').next().unwrap().parse().unwrap() };
    let holder: String = conn.clone().get(&lease_key).await.unwrap();
    assert!(holder.starts_with("misfire-old"), "{holder}");
    wait_until_every(
        "the middle of a second",
        Duration::from_secs(5),
        Duration::from_millis(10),
        || async {
            let now = store.now_ms().await.unwrap();
            (300..700).contains(&now.rem_euclid(1000)).then_some(())
        },
    )
    .await;
    let killed_at = store.now_ms().await.unwrap();
    old.start_kill().unwrap();
    old.wait().await.unwrap();
    let dead_at = store.now_ms().await.unwrap();
    wait_until(
        "an outage longer than the misfire window",
        Duration::from_secs(20),
        || async {
            let now = store.now_ms().await.unwrap();
            let lease: Option<String> = conn.clone().get(&lease_key).await.unwrap();
            (now >= killed_at + OUTAGE_MS && lease.is_none()).then_some(())
        },
    )
    .await;
    let new = env.spawn_process("scheduler", "misfire-new");
    let new_holder = wait_until(
        "the new scheduler takes the lease",
        Duration::from_secs(20),
        || async {
            let h: Option<String> = conn.clone().get(&lease_key).await.unwrap();
            h.filter(|h| h.starts_with("misfire-new"))
        },
    )
    .await;
    let out = Outage {
        killed_at,
        dead_at,
        led_at: store.now_ms().await.unwrap(),
        old_epoch: epoch(&holder),
        new_epoch: epoch(&new_holder),
    };
    assert!(out.new_epoch > out.old_epoch, "{holder} -> {new_holder}");
    (out, new)
}

/// A case's runs (once all completed) by instant, as the store recorded them; checks each
/// called the target once.
async fn recorded(
    env: &TestEnv,
    store: &Store,
    (tenant, token): (&str, &str),
    target: &Target,
    c: &Case,
    out: &Outage,
) -> BTreeMap<i64, Fired> {
    let list = all_completed(env, token, c.job, &c.sid).await;
    let mut by_instant = BTreeMap::new();
    for r in &list {
        let id = r["runId"].as_str().unwrap();
        let rec = store.run(tenant, id).await.unwrap().expect("a stored run");
        assert_eq!(ms(&r["scheduleTimestamp"]), rec.scheduled_at);
        assert_eq!(
            rec.scheduled_at.rem_euclid(c.step),
            0,
            "{}: on the grid",
            c.name
        );
        assert_eq!(id, run_id(&c.sid, rec.scheduled_at));
        assert!(
            [out.old_epoch, out.new_epoch].contains(&rec.epoch),
            "{}: {rec:?}",
            c.name
        );
        let f = Fired {
            run_id: id.to_string(),
            created: rec.created_at,
            epoch: rec.epoch,
        };
        assert!(
            by_instant.insert(rec.scheduled_at, f).is_none(),
            "{}: an instant recorded twice",
            c.name
        );
    }
    // No instant doubled: each run called the target once.
    let path = format!("/{}", c.name);
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for h in target.hits().iter().filter(|h| h.path == path) {
        let id = h.header("x-sap-job-run-id").expect("a run id header");
        *calls.entry(id.to_string()).or_default() += 1;
    }
    let ids: BTreeMap<String, usize> = by_instant
        .values()
        .map(|f: &Fired| (f.run_id.clone(), 1))
        .collect();
    assert_eq!(calls, ids, "{}: each run called the target once", c.name);
    by_instant
}

/// What a case fired of the outage's instants.
struct Verdict {
    /// The last instant the old leader fired.
    last_before: i64,
    takeover: i64,
    /// The instants after it due at the takeover, oldest first.
    gap: Vec<i64>,
    /// Those fired.
    got: BTreeSet<i64>,
    /// What the assertions about it say.
    ctx: String,
}

impl Verdict {
    fn late(&self, a: i64) -> bool {
        self.takeover - a > GRACE_MS
    }
}

/// The instants of `c`'s grid in `[from, to]`.
fn grid(c: &Case, from: i64, to: i64) -> Vec<i64> {
    (from.div_euclid(c.step)..=to.div_euclid(c.step))
        .map(|k| k * c.step)
        .filter(|a| (from..=to).contains(a))
        .collect()
}

/// Every instant before the kill fired once by the old leader, every one after the takeover
/// by the new one; the outage's fired as the oracle says.
fn check_runs(c: &Case, f: &BTreeMap<i64, Fired>, takeover: i64, out: &Outage) -> Verdict {
    let name = c.name;
    let before: Vec<i64> = f
        .iter()
        .filter(|(_, r)| r.epoch == out.old_epoch)
        .map(|(at, _)| *at)
        .collect();
    let (first, last_before) = (before[0], *before.last().unwrap());
    assert_eq!(
        before,
        grid(c, first, last_before),
        "{name}: a gap before the kill"
    );
    assert!(
        last_before > out.killed_at - c.step - 1_500,
        "{name}: the old leader fired up to the kill: {last_before} vs {}",
        out.killed_at
    );
    assert!(f
        .values()
        .filter(|r| r.epoch == out.old_epoch)
        .all(|r| r.created <= out.dead_at));

    let gap = grid(c, last_before + 1, takeover);
    assert!(
        takeover - gap[0] > WINDOW_MS + GRACE_MS,
        "{name}: the outage outlasted the window"
    );
    let got: BTreeSet<i64> = f
        .range(last_before + 1..=takeover)
        .map(|(at, r)| {
            assert_eq!(r.epoch, out.new_epoch, "{name}");
            *at
        })
        .collect();
    let want = expected(c.policy, &gap, takeover);
    let rel = |s: &mut dyn Iterator<Item = &i64>| s.map(|a| a - takeover).collect::<Vec<_>>();
    let ctx = format!(
        "{name}: the gap {:?} ms from the takeover, fired {:?}, expected {:?}",
        rel(&mut gap.iter()),
        rel(&mut got.iter()),
        rel(&mut want.iter())
    );
    assert_eq!(got, want, "{ctx}");
    // The takeover pass decided it: the oldest instant fired of the gap went out then.
    if let Some(a) = got.first() {
        assert_eq!(f[a].created, takeover, "{ctx}: fired at the takeover");
    }

    let last = *f.keys().last().unwrap();
    assert!(last > out.led_at, "{name}: fired on after the takeover");
    let after: Vec<i64> = f.range(takeover + 1..).map(|(at, _)| *at).collect();
    assert_eq!(
        after,
        grid(c, takeover + 1, last),
        "{name}: a gap after the takeover"
    );
    assert!(f
        .range(takeover + 1..)
        .all(|(_, r)| r.epoch == out.new_epoch));
    Verdict {
        last_before,
        takeover,
        gap,
        got,
        ctx,
    }
}

/// The policy's rule in its own words.
fn check_policy(c: &Case, f: &BTreeMap<i64, Fired>, v: &Verdict) {
    let (gap, got, ctx) = (&v.gap, &v.got, &v.ctx);
    let most_recent = *gap.last().unwrap();
    match c.policy {
        Policy::Sap => assert_eq!(got.len(), gap.len(), "{ctx}: every instant replayed"),
        Policy::All => {
            let within = |a: i64| v.takeover - a <= WINDOW_MS;
            assert!(
                got.iter().all(|a| within(*a)),
                "{ctx}: none older than the window"
            );
            assert!(
                gap.iter().filter(|a| within(**a)).all(|a| got.contains(a)),
                "{ctx}: every instant within the window"
            );
            let replays: Vec<i64> = got.iter().copied().filter(|a| v.late(*a)).collect();
            assert!(replays.len() >= 2, "{ctx}: replays");
            // The replays wait their turn: misfireReplayPerSecond at most.
            for w in replays.windows(2) {
                let apart = f[&w[1]].created - f[&w[0]].created;
                assert!(
                    apart >= 1000 / REPLAY_PER_SECOND,
                    "{ctx}: a replay {apart} ms after the one before"
                );
            }
        }
        Policy::Last => {
            assert_eq!(got.last(), Some(&most_recent), "{ctx}: the most recent due");
            assert!(
                got.iter()
                    .filter(|a| v.late(**a))
                    .all(|a| *a == most_recent),
                "{ctx}: of the missed instants only the most recent"
            );
        }
        Policy::Skip => assert!(
            !got.iter().any(|a| v.late(*a)),
            "{ctx}: no instant over the grace late"
        ),
    }
}

/// The event log holds the outage's instants not fired as misfire spans, and no fired one.
async fn check_spans(store: &Store, tenant: &str, c: &Case, v: &Verdict) {
    let ctx = &v.ctx;
    let spans: Vec<_> = store
        .schedule_marks(tenant, &c.sid)
        .await
        .unwrap()
        .skips
        .into_iter()
        .filter(|s| s.reason == "misfire")
        .collect();
    for s in &spans {
        assert_eq!(
            s.count as usize,
            grid(c, s.first, s.last).len(),
            "{ctx}: a span counts its instants: {s:?}"
        );
        assert!(
            !v.got.iter().any(|a| (s.first..=s.last).contains(a)),
            "{ctx}: a fired instant in a skipped span {s:?}"
        );
    }
    for a in v.gap.iter().filter(|a| !v.got.contains(a)) {
        assert!(
            spans.iter().any(|s| (s.first..=s.last).contains(a)),
            "{ctx}: {} not in a misfire span {spans:?}",
            a - v.takeover
        );
    }
    if c.policy == Policy::Sap {
        assert!(spans.is_empty(), "{ctx}: SAP's rule skipped {spans:?}");
    }
}

/// `fires` over the outage: each instant with its fate.
async fn check_fires(env: &TestEnv, token: &str, c: &Case, f: &BTreeMap<i64, Fired>, v: &Verdict) {
    let ctx = &v.ctx;
    let path = format!(
        "/scheduler/jobs/{}/schedules/{}/fires?from={}&to={}",
        c.job,
        c.sid,
        format_instant(v.last_before + 1),
        format_instant(v.takeover)
    );
    let (st, body) = env.call("GET", &path, token, None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["total"], v.gap.len(), "{ctx}: {body}");
    let results = body["results"].as_array().unwrap();
    let listed: Vec<i64> = results
        .iter()
        .map(|e| parse_stored_instant(e["scheduledFor"].as_str().unwrap()).unwrap())
        .collect();
    let newest_first: Vec<i64> = v.gap.iter().rev().copied().collect();
    assert_eq!(listed, newest_first, "{ctx}");
    for (e, at) in results.iter().zip(&listed) {
        match f.get(at).filter(|_| v.got.contains(at)) {
            Some(r) => {
                let fate = if r.created - at > DEFERRED_MS {
                    "deferred"
                } else {
                    "fired"
                };
                assert_eq!(e["fate"], fate, "{ctx}: {e}");
                assert_eq!(e["runId"], r.run_id.as_str(), "{ctx}: {e}");
                assert_eq!(e["firedAt"], format_instant(r.created).as_str(), "{e}");
            }
            None => assert_eq!(
                (&e["fate"], &e["reason"]),
                (&json!("skipped"), &json!("misfire")),
                "{ctx}: {e}"
            ),
        }
    }
}
