//! The dead-letter queue for the operator: `GET /admin/deadLetters` lists the messages with
//! the runs they carry, a replay publishes a signed message's runs again (called once, then
//! never again), a discard finishes them as errors (each fire keeps exactly one record), and a
//! message not signed with the cluster secret is never replayed.

use chime_broker::{encode_runs, sign, Topology, SIGNATURE_HEADER};
use chime_core::model::RunMessage;
use chime_core::run::RunStatus;
use chime_testkit::{create_job, wait_until, Target, TestEnv, ADMIN_TOKEN};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde_json::{json, Value};
use std::time::Duration;

/// A tenant's job calling `target`, and the message of one of its runs, as a leader sends it.
pub async fn a_run(
    env: &TestEnv,
    target: &Target,
    name: &str,
) -> (String, u64, String, RunMessage) {
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let (job_id, sid) = create_job(
        env,
        &token,
        name,
        &target.url("/dead"),
        json!({"repeatInterval": "1 hour", "active": true}),
    )
    .await;
    let store = env.store().await;
    let job = store.job(&tenant, job_id).await.unwrap().unwrap();
    let schedule = store
        .schedule(&tenant, job_id, &sid)
        .await
        .unwrap()
        .unwrap();
    let at = chrono::Utc::now().timestamp_millis() - 60_000;
    let msg = chime_scheduler::run_message(&tenant, &job, &schedule, at, "test", 1);
    (token, job_id, sid, msg)
}

/// Puts `runs` in the dead-letter queue, signed with `secret`, as the broker does with a
/// message that failed its deliveries.
pub async fn dead_letter(env: &TestEnv, runs: &[RunMessage], secret: &str) {
    let store = env.store().await;
    let cluster = store.cluster_secret(None).await.unwrap();
    let topology = Topology::new(env.namespace(), env.settings.delivery_limit, &cluster);
    let conn = chime_broker::connect(&env.settings.amqp_url).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    topology.declare(&ch).await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let body = encode_runs(runs);
    let mut headers = FieldTable::default();
    headers.insert(
        SIGNATURE_HEADER.into(),
        AMQPValue::LongString(sign(secret.as_bytes(), &body).into()),
    );
    let confirm = ch
        .basic_publish(
            topology.dead_exchange().as_str().into(),
            "".into(),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default()
                .with_headers(headers)
                .with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack());
    let _ = conn.close(200, "done".into()).await;
}

pub async fn letters(env: &TestEnv) -> Value {
    let (st, page) = env
        .call("GET", "/admin/deadLetters", ADMIN_TOKEN, None)
        .await;
    assert_eq!(st, 200, "{page}");
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_dead_letter_is_called_once_and_a_forged_one_only_discarded() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let target = Target::start().await;
    let (token, job, sid, msg) = a_run(&env, &target, "replayed").await;
    let cluster = env.store().await.cluster_secret(None).await.unwrap();
    dead_letter(&env, std::slice::from_ref(&msg), &cluster).await;
    dead_letter(&env, std::slice::from_ref(&msg), "not the cluster secret").await;

    // Listed, the signed one with its run, the forged one refused; both kept, none waiting.
    let page = letters(&env).await;
    assert_eq!(page["total"], 2, "{page}");
    let list = page["deadLetters"].as_array().unwrap();
    let good = list.iter().find(|l| l["refused"].is_null()).unwrap();
    let forged = list.iter().find(|l| !l["refused"].is_null()).unwrap();
    assert_eq!(good["runs"][0]["runId"], msg.run_id.as_str());
    assert_eq!(good["runs"][0]["jobId"], job);
    assert_eq!(good["runs"][0]["scheduleId"], sid.as_str());
    assert!(forged["runs"].as_array().unwrap().is_empty());
    assert!(
        forged["refused"].as_str().unwrap().contains("signature"),
        "{forged}"
    );
    let (_, ops) = env
        .call("GET", "/admin/operations", ADMIN_TOKEN, None)
        .await;
    assert_eq!(ops["queues"]["deadLetter"], 0, "{ops}");
    assert_eq!(ops["queues"]["deadLetterKept"], 2, "{ops}");
    // Listing again changes nothing.
    assert_eq!(letters(&env).await["total"], 2);

    // The forged message cannot be replayed; a tenant's key opens nothing here.
    let (good_id, forged_id) = (good["id"].as_str().unwrap(), forged["id"].as_str().unwrap());
    let replay = |id: &str| format!("/admin/deadLetters/{id}/replay");
    let (st, resp) = env
        .call("POST", &replay(forged_id), ADMIN_TOKEN, None)
        .await;
    assert_eq!(st, 409, "{resp}");
    let (st, _) = env.call("POST", &replay(good_id), &token, None).await;
    assert_eq!(st, 401);

    // The replay publishes the run again: a worker calls it, once.
    let (st, resp) = env.call("POST", &replay(good_id), ADMIN_TOKEN, None).await;
    assert_eq!(st, 200, "{resp}");
    assert_eq!(resp["runs"], 1);
    env.start_worker().await;
    let store = env.store().await;
    let tenant = msg.tenant.clone();
    wait_until(
        "the replayed run is recorded",
        Duration::from_secs(30),
        || async {
            let r = store.run(&tenant, &msg.run_id).await.unwrap()?;
            (r.status == RunStatus::Completed).then_some(())
        },
    )
    .await;
    assert_eq!(target.hits().len(), 1);
    let (st, _) = env.call("POST", &replay(good_id), ADMIN_TOKEN, None).await;
    assert_eq!(st, 404, "replayed once, then gone");

    // The forged one is discarded: it carried no readable run, so it finishes none.
    let (st, resp) = env
        .call(
            "DELETE",
            &format!("/admin/deadLetters/{forged_id}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(st, 200, "{resp}");
    assert_eq!(resp["runs"], 0);
    assert_eq!(letters(&env).await["total"], 0);
    assert_eq!(target.hits().len(), 1, "the forged message called nothing");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discarded_dead_letter_finishes_its_runs_as_errors_and_calls_nothing() {
    let mut env = TestEnv::new();
    env.start_api().await;
    let target = Target::start().await;
    let (token, job, sid, msg) = a_run(&env, &target, "discarded").await;
    let cluster = env.store().await.cluster_secret(None).await.unwrap();
    dead_letter(&env, std::slice::from_ref(&msg), &cluster).await;
    let page = letters(&env).await;
    let id = page["deadLetters"][0]["id"].as_str().unwrap().to_string();

    let (st, resp) = env
        .call(
            "DELETE",
            &format!("/admin/deadLetters/{id}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(st, 200, "{resp}");
    assert_eq!(resp["runs"], 1);
    // The fire has its one record: finished, an error, saying why.
    let (st, run) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{job}/schedules/{sid}/runs/{}", msg.run_id),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 200, "{run}");
    assert_eq!(run["runStatus"], "COMPLETED", "{run}");
    assert_eq!(run["runState"], "UNKNOWN", "{run}");
    assert!(
        run["runText"].as_str().unwrap().contains("dead-letter"),
        "{run}"
    );
    // Nothing is left to replay or waiting anywhere; the target was never called.
    let (st, _) = env
        .call(
            "POST",
            &format!("/admin/deadLetters/{id}/replay"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = env
        .call("GET", "/admin/deadLetters?limit=0", ADMIN_TOKEN, None)
        .await;
    assert_eq!(st, 400);
    let (_, ops) = env
        .call("GET", "/admin/operations", ADMIN_TOKEN, None)
        .await;
    assert_eq!(ops["queues"]["runs"], 0, "{ops}");
    assert_eq!(ops["queues"]["deadLetter"], 0, "{ops}");
    assert_eq!(ops["queues"]["deadLetterKept"], 0, "{ops}");
    assert!(target.hits().is_empty());
    env.cleanup().await;
}
