//! A session of the command line: login, a job's life (create, list, show, pause, resume, edit,
//! delete), run now, the runs (list, show) and the export, in tables and in `--json`.

use crate::common::{out, Chime};
use chime_testkit::{wait_until, Target, TestEnv};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_keeps_url_and_token_in_a_private_file_the_commands_use() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let url = env.url("");
    let mut chime = Chime::bare(&env);
    let err = chime.fails(3, &["jobs", "list"]).await;
    assert!(err.contains("not logged in"), "{err}");

    let err = chime
        .fails(3, &["login", "--url", &url, "--token", "kdeadbeef.wrong"])
        .await;
    assert!(err.contains("refused the token"), "{err}");
    assert!(!chime.config().exists(), "a refused login saves nothing");

    let o = chime
        .run(&["login", "--url", &url, "--token", &token])
        .await;
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("with a tenant API key"), "{o:?}");
    assert_eq!(mode(&chime.config()), 0o600);
    assert_eq!(mode(chime.config().parent().unwrap()), 0o700);
    let saved = std::fs::read_to_string(chime.config()).unwrap();
    assert!(saved.contains(&token) && saved.contains(&url), "{saved}");
    assert_eq!(chime.json(&["jobs", "list"]).await, serde_json::json!([]));

    // A script pipes the token; CHIME_TOKEN overrides the file, --token both.
    let mut child = chime
        .command(&["login", "--url", &url])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{token}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let o = out(child.wait_with_output().await.unwrap());
    assert_eq!(o.code, 0, "{o:?}");
    chime.token = Some("kdeadbeef.wrong".into());
    chime.fails(3, &["jobs", "list"]).await;
    chime.ok(&["jobs", "list", "--token", &token]).await;
    env.cleanup().await;
}

/// Waits until `chime runs list <job> --json` shows `run` completed; the list.
async fn completed(chime: &Chime, job: &str, run: &str) -> Vec<Value> {
    wait_until("the run is completed", Duration::from_secs(20), || async {
        let list = chime.json(&["runs", "list", job]).await;
        let list = list.as_array().unwrap().clone();
        list.iter()
            .any(|r| r["runId"] == run && r["runStatus"] == "COMPLETED")
            .then_some(list)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_created_run_now_and_its_runs_read_and_exported() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let chime = Chime::new(&env, &token);
    let action = target.url("/report");
    let created = chime
        .json(&[
            "jobs",
            "create",
            "--name",
            "report",
            "--action",
            &action,
            "--method",
            "get",
            "--cron",
            "* * * * 3 0 0",
        ])
        .await;
    assert_eq!(created["name"], "report");
    assert_eq!(created["httpMethod"], "GET");
    let id = created["_id"].as_u64().unwrap().to_string();

    let table = chime.ok(&["jobs", "list"]).await;
    let header = table.lines().next().unwrap();
    assert!(header.contains("ID") && header.contains("NAME"), "{table}");
    assert!(
        table.contains("report") && table.contains("1 active, 0 inactive"),
        "{table}"
    );
    let shown = chime.json(&["jobs", "show", "report"]).await;
    assert_eq!(shown["_id"].to_string(), id);
    assert_eq!(shown["schedules"].as_array().unwrap().len(), 1);
    assert!(chime.ok(&["jobs", "show", &id]).await.contains(&action));

    chime.ok(&["jobs", "pause", "report"]).await;
    let scheds = chime.json(&["schedules", "list", "report"]).await;
    assert_eq!(scheds[0]["active"], false, "{scheds}");
    chime.ok(&["jobs", "resume", "report"]).await;
    let scheds = chime.json(&["schedules", "list", "report"]).await;
    assert_eq!(scheds[0]["active"], true, "{scheds}");

    let run = chime.json(&["run", "report"]).await;
    let run_id = run["runId"].as_str().unwrap().to_string();
    assert_eq!(run["manual"], true);
    let list = completed(&chime, "report", &run_id).await;
    assert_eq!(list[0]["outcome"], "success", "{list:?}");
    let table = chime.ok(&["runs", "list", "report"]).await;
    assert!(
        table.contains(&run_id) && table.contains("SUCCESS"),
        "{table}"
    );
    let ok = chime
        .json(&[
            "runs", "list", "report", "--status", "success", "--since", "1h",
        ])
        .await;
    assert_eq!(ok.as_array().unwrap().len(), 1, "{ok}");
    let failed = chime
        .json(&["runs", "list", "report", "--status", "ERROR"])
        .await;
    assert_eq!(failed, serde_json::json!([]));

    let detail = chime.json(&["runs", "show", &run_id]).await;
    assert_eq!(detail["runId"], run_id.as_str());
    assert_eq!(detail["outcome"], "success");
    let sched = detail["scheduleId"].as_str().unwrap();
    let direct = chime
        .json(&[
            "runs",
            "show",
            &run_id,
            "--job",
            "report",
            "--schedule",
            sched,
        ])
        .await;
    assert_eq!(direct["runNumber"], detail["runNumber"]);
    let text = chime.ok(&["runs", "show", &run_id]).await;
    assert!(
        text.contains("SUCCESS") && text.contains("attempt 1"),
        "{text}"
    );

    export(&chime, &run_id).await;

    let edited = chime
        .json(&[
            "jobs",
            "edit",
            "report",
            "--description",
            "the daily report",
        ])
        .await;
    assert_eq!(edited["description"], "the daily report");
    chime.ok(&["jobs", "delete", "report"]).await;
    chime.fails(4, &["jobs", "show", "report"]).await;
    env.cleanup().await;
}

/// `chime export`: NDJSON and CSV into files.
async fn export(chime: &Chime, run_id: &str) {
    let ndjson = chime.dir.join("runs.ndjson");
    let o = chime
        .run(&[
            "export",
            "report",
            "--from",
            "1h",
            "--output",
            ndjson.to_str().unwrap(),
        ])
        .await;
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("exported 1 runs"), "{o:?}");
    let text = std::fs::read_to_string(&ndjson).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["runId"], run_id);

    let csv = chime.dir.join("runs.csv");
    let path = csv.to_str().unwrap();
    chime
        .ok(&[
            "export", "report", "--format", "csv", "--from", "1d", "-o", path,
        ])
        .await;
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().starts_with("runId,runNumber,"),
        "{text}"
    );
    assert!(lines.next().unwrap().starts_with(run_id), "{text}");
    assert_eq!(lines.next(), None);
    let stdout = chime.ok(&["export", "report", "--format", "csv"]).await;
    assert_eq!(stdout, text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_added_changed_and_removed_and_a_job_comes_from_a_file() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let chime = Chime::new(&env, &token);
    let file = chime.dir.join("job.json");
    let job = serde_json::json!({"name": "filed", "action": "http://127.0.0.1:1/x",
        "httpMethod": "PUT", "schedules": [{"repeatAt": "4.40pm", "active": true}]});
    std::fs::write(&file, job.to_string()).unwrap();
    let path = file.to_str().unwrap();
    let created = chime
        .json(&[
            "jobs",
            "create",
            "--file",
            path,
            "--description",
            "from a file",
        ])
        .await;
    assert_eq!(created["httpMethod"], "PUT");
    assert_eq!(created["description"], "from a file");
    assert_eq!(created["active"], true);

    let added = chime
        .json(&[
            "schedules",
            "create",
            "filed",
            "--crontab",
            "0 2 * * *",
            "--description",
            "nightly",
        ])
        .await;
    let sid = added["scheduleId"].as_str().unwrap().to_string();
    assert_eq!(added["active"], true);
    let err = chime.fails(2, &["run", "filed"]).await;
    assert!(err.contains("2 schedules") && err.contains(&sid), "{err}");
    let off = chime
        .json(&["schedules", "deactivate", "filed", &sid])
        .await;
    assert_eq!(off["active"], false);
    assert_eq!(off["nextRunAt"], Value::Null);
    let on = chime.json(&["schedules", "activate", "filed", &sid]).await;
    assert_eq!(on["active"], true);
    let edited = chime
        .json(&[
            "schedules",
            "edit",
            "filed",
            &sid,
            "--description",
            "at two",
        ])
        .await;
    assert_eq!(edited["description"], "at two");
    let shown = chime.ok(&["schedules", "show", "filed", &sid]).await;
    assert!(
        shown.contains("crontab") && shown.contains("0 2 * * *"),
        "{shown}"
    );
    let err = chime
        .fails(
            5,
            &[
                "schedules",
                "edit",
                "filed",
                &sid,
                "--cron",
                "* * * * 3 0 0",
            ],
        )
        .await;
    assert!(err.contains("(400)"), "{err}");
    chime.ok(&["schedules", "delete", "filed", &sid]).await;
    chime.fails(4, &["schedules", "show", "filed", &sid]).await;
    let list = chime.json(&["schedules", "list", "filed"]).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    env.cleanup().await;
}
