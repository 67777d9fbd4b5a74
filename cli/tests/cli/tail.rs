//! `chime runs tail`: the live tail followed, one line per run as it finishes.

use crate::common::Chime;
use chime_testkit::{Target, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

/// The next line of `lines` within `within`.
async fn line<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut Lines<R>,
    within: Duration,
) -> String {
    tokio::time::timeout(within, lines.next_line())
        .await
        .expect("a line in time")
        .expect("readable")
        .expect("the tail still runs")
}

/// Follows `job` with `--json` (or not) until the tail says it is connected; its stdout.
async fn follow(
    chime: &Chime,
    job: &str,
    as_json: bool,
) -> (tokio::process::Child, Lines<BufReader<ChildStdout>>) {
    let mut args = vec!["runs", "tail", job];
    if as_json {
        args.push("--json");
    }
    let mut child = chime.command(&args).spawn().expect("chime runs");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let notice = line(&mut stderr, Duration::from_secs(10)).await;
    assert!(notice.starts_with("following the runs of job"), "{notice}");
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_tail_prints_each_run_as_it_finishes() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let chime = Chime::new(&env, &token);
    let body = json!({"name": "tailed", "action": target.url("/t"), "active": true,
        "schedules": [{"cron": "* * * * 3 0 0", "active": true}]});
    let job = env.client().create_job(&token, body).await;
    let run_now = format!(
        "/scheduler/jobs/{}/schedules/{}/runs",
        job.id, job.schedules[0]
    );

    let (mut tail, mut stdout) = follow(&chime, "tailed", true).await;
    for _ in 0..2 {
        let (status, run) = env.call("POST", &run_now, &token, None).await;
        assert_eq!(status, 201, "{run}");
        let printed: Value =
            serde_json::from_str(&line(&mut stdout, Duration::from_secs(20)).await).unwrap();
        assert_eq!(printed["runId"], run["runId"]);
        assert_eq!(printed["runState"], "SUCCESS");
        assert_eq!(printed["manual"], true);
    }
    tail.kill().await.unwrap();

    let (mut tail, mut stdout) = follow(&chime, &job.id.to_string(), false).await;
    let header = line(&mut stdout, Duration::from_secs(5)).await;
    assert!(
        header.starts_with("FINISHED") && header.contains("STATE"),
        "{header}"
    );
    let (_, run) = env.call("POST", &run_now, &token, None).await;
    let row = line(&mut stdout, Duration::from_secs(20)).await;
    assert!(
        row.contains(run["runId"].as_str().unwrap()) && row.contains("SUCCESS"),
        "{row}"
    );
    tail.kill().await.unwrap();
    env.cleanup().await;
}
