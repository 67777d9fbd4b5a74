//! The operator's operations page over plain HTTP: the fleet, the dead letters, a replay and a
//! discard (the admin API agrees), forged forms refused, a tenant's session shown nothing.

use super::{csrf_of, get, post, sign_in};
use crate::dead_letters::{a_run, dead_letter, letters};
use chime_core::model::RunMessage;
use chime_testkit::{wait_until, Target, TestEnv, ADMIN_TOKEN};
use serde_json::Value;
use std::time::Duration;

/// The id of the listed letter carrying `msg`'s run.
fn letter_of(page: &Value, msg: &RunMessage) -> String {
    page["deadLetters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["runs"][0]["runId"] == msg.run_id.as_str())
        .expect("the letter of the run")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The run queue's depth, as the operations route says it.
async fn run_queue(env: &TestEnv) -> u64 {
    let (_, ops) = env
        .call("GET", "/admin/operations", ADMIN_TOKEN, None)
        .await;
    ops["queues"]["runs"].as_u64().unwrap_or(0)
}

/// What is refused: a tenant's session sees no such pages, forged forms change nothing,
/// unknown letters and bad parameters are 404 and 400 pages.
async fn refusals(env: &TestEnv, admin: &str, csrf: &str, token: &str, good: &str, other: &str) {
    // A tenant's session: no such pages, and its forms change nothing.
    let theirs = sign_in(env, token).await;
    let replay = format!("/ui/admin/dead-letters/{good}/replay");
    assert_eq!(get(env, "/ui/admin/operations", &theirs).await.0, 404);
    let confirm = format!("/ui/admin/dead-letters/{other}/confirm-discard");
    assert_eq!(get(env, &confirm, &theirs).await.0, 404);
    let (_, _, jobs) = get(env, "/ui/jobs", &theirs).await;
    let (st, _) = post(env, &replay, &theirs, &[("csrf", &csrf_of(&jobs))], &[]).await;
    assert_eq!(st, 404);
    // Forged forms: refused, nothing changed.
    for (form, headers) in [
        (vec![], vec![]),
        (vec![("csrf", "0".repeat(64))], vec![]),
        (
            vec![("csrf", csrf.to_string())],
            vec![("origin", "http://evil.example")],
        ),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (st, _) = post(env, &replay, admin, &form, &headers).await;
        assert_eq!(st, 403, "{form:?} {headers:?}");
        let discard = format!("/ui/admin/dead-letters/{other}/discard");
        assert_eq!(post(env, &discard, admin, &form, &headers).await.0, 403);
    }
    assert_eq!(letters(env).await["total"], 3);
    // Unknown letters and actions: 404 pages.
    for url in [
        "/ui/admin/dead-letters/nope/confirm-discard".to_string(),
        format!("/ui/admin/dead-letters/{}/confirm-discard", "f".repeat(500)),
    ] {
        assert_eq!(get(env, &url, admin).await.0, 404, "{url}");
    }
    let (st, _) = post(
        env,
        "/ui/admin/dead-letters/nope/replay",
        admin,
        &[("csrf", csrf)],
        &[],
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(
        get(env, "/ui/admin/operations?offset=x", admin).await.0,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_sees_the_fleet_and_replays_and_discards_dead_letters() {
    let env = TestEnv::api_only().await;
    let target = Target::start().await;
    let (token, _, _, replayed) = a_run(&env, &target, "replayed").await;
    let (_, _, _, discarded) = a_run(&env, &target, "discarded").await;
    let cluster = env.store().await.cluster_secret(None).await.unwrap();
    dead_letter(&env, std::slice::from_ref(&replayed), &cluster).await;
    dead_letter(&env, std::slice::from_ref(&discarded), &cluster).await;
    dead_letter(
        &env,
        std::slice::from_ref(&replayed),
        "not the cluster secret",
    )
    .await;
    let listed = letters(&env).await;
    assert_eq!(listed["total"], 3, "{listed}");
    let (good, other) = (
        letter_of(&listed, &replayed),
        letter_of(&listed, &discarded),
    );

    // The page: the fleet's sections, the tenants, each letter; no replay of the forged one.
    let admin = sign_in(&env, ADMIN_TOKEN).await;
    let (st, _, page) = get(&env, "/ui/admin/operations", &admin).await;
    assert_eq!(st, 200, "{page}");
    for part in [
        "Shards",
        "Schedulers",
        "Workers",
        "Run queue",
        "Dead letters kept",
    ] {
        assert!(page.contains(part), "{part}: {page}");
    }
    assert!(page.contains(&replayed.tenant), "{page}");
    assert_eq!(page.matches("id=\"letter-").count(), 3, "{page}");
    assert_eq!(page.matches(">Replay</button>").count(), 2, "{page}");
    assert!(page.contains("cannot be replayed"), "{page}");
    let csrf = csrf_of(&page);
    let (_, _, tenants) = get(&env, "/ui/admin", &admin).await;
    assert!(
        tenants.contains("href=\"/ui/admin/operations\""),
        "{tenants}"
    );

    refusals(&env, &admin, &csrf, &token, &good, &other).await;
    let replay = format!("/ui/admin/dead-letters/{good}/replay");
    let confirm = format!("/ui/admin/dead-letters/{other}/confirm-discard");

    // Replay: the letter is gone and its run is in the run queue again.
    let queued = run_queue(&env).await;
    let (st, _) = post(&env, &replay, &admin, &[("csrf", &csrf)], &[]).await;
    assert_eq!(st, 303);
    wait_until("the run queued again", Duration::from_secs(10), || async {
        (run_queue(&env).await > queued).then_some(())
    })
    .await;
    let (st, _) = env
        .call(
            "POST",
            &format!("/admin/deadLetters/{good}/replay"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(st, 404, "replayed once, then gone");

    // Discard, after its confirmation: its run is finished as an error.
    let (st, _, page) = get(&env, &confirm, &admin).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("Discard the dead letter"), "{page}");
    let (st, _) = post(
        &env,
        &format!("/ui/admin/dead-letters/{other}/discard"),
        &admin,
        &[("csrf", &csrf)],
        &[],
    )
    .await;
    assert_eq!(st, 303);
    let store = env.store().await;
    let run = store
        .run(&discarded.tenant, &discarded.run_id)
        .await
        .unwrap()
        .expect("the discarded run's record");
    assert_eq!(run.outcome, Some(chime_core::run::Outcome::Error));
    let left = letters(&env).await;
    assert_eq!(left["total"], 1, "only the forged one is left: {left}");
    let (_, _, page) = get(&env, "/ui/admin/operations?done=discarded&runs=1", &admin).await;
    assert!(page.contains("1 runs finished as errors"), "{page}");

    env.cleanup().await;
}
