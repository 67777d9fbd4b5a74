//! Guards on what a tenant writes and reads: a job URL that is a literal address the SSRF
//! guard blocks is refused when written (nothing is dialled to check it), and a failed call
//! keeps the secrets of its URL (userinfo, query values) out of the run log.

use chime_testkit::{create_job, runs, wait_until, TestEnv};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_url_that_is_a_blocked_literal_address_is_refused_when_written() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    // The test settings allow 127.0.0.0/8 only.
    for url in [
        "http://10.0.0.1/x",
        "http://0x0a000001/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:10.0.0.1]/x",
        "http://[fd00::1]/x",
        "https://100.64.0.1/x",
    ] {
        let body = json!({"name": "j", "action": url, "schedules": []});
        let (st, answer) = env
            .call("POST", "/scheduler/jobs", &token, Some(body))
            .await;
        assert_eq!(st, 400, "{url}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains("'action'") && message.contains("SSRF"),
            "{url}: {answer}"
        );
    }
    // Allowed addresses and host names are written (names are checked when a worker
    // resolves them); a change to a blocked address is refused like a create.
    for (i, url) in ["http://127.0.0.1:9/x", "http://chime-target.invalid/x"]
        .iter()
        .enumerate()
    {
        let body = json!({"name": format!("ok{i}"), "action": url, "schedules": []});
        let (st, answer) = env
            .call("POST", "/scheduler/jobs", &token, Some(body))
            .await;
        assert_eq!(st, 201, "{url}: {answer}");
    }
    let (st, list) = env.call("GET", "/scheduler/jobs", &token, None).await;
    assert_eq!((st, list["total"].as_u64()), (200, Some(2)), "{list}");
    let id = list["results"][0]["jobId"]
        .as_u64()
        .or_else(|| list["results"][0]["_id"].as_u64())
        .unwrap();
    let change = json!({"action": "http://10.0.0.1/x"});
    let (st, answer) = env
        .call(
            "PUT",
            &format!("/scheduler/jobs/{id}"),
            &token,
            Some(change),
        )
        .await;
    assert_eq!(st, 400, "{answer}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_call_keeps_its_urls_secrets_out_of_the_run_log() {
    let env = TestEnv::cluster().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    // Port 9 on loopback: nothing listens, the call fails and its error names the URL.
    let url = "http://alice:hunter2pw@127.0.0.1:9/hook?apikey=topsecret123&page=2";
    let (job, sid) = create_job(
        &env,
        &token,
        "leaky",
        url,
        json!({"time": "now", "active": true}),
    )
    .await;
    let run = wait_until(
        "the failed run is recorded",
        Duration::from_secs(20),
        || async {
            let (_, list) = runs(&env, &token, job, &sid).await;
            list.into_iter().find(|r| r["runStatus"] == "COMPLETED")
        },
    )
    .await;
    let text = run["runText"].as_str().unwrap();
    assert!(
        text.contains("127.0.0.1:9"),
        "the error still names the target: {text}"
    );
    // The stored record is what every dialect, the export and the live tail serve.
    let stored = env
        .store()
        .await
        .run(&tenant, run["runId"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let everything = format!("{run} {stored:?}");
    for secret in ["hunter2pw", "topsecret123", "alice"] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
    env.cleanup().await;
}
