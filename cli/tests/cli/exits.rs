//! Exit codes that mean something: 2 usage, 3 refused token, 4 not found, 5 refused input,
//! 6 nothing listening; errors carry the API's message on stderr. And shell completions.

use crate::common::Chime;
use chime_testkit::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_say_what_went_wrong() {
    let env = TestEnv::api_only().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let chime = Chime::new(&env, &token);
    chime.fails(2, &["jobs", "frobnicate"]).await;
    let err = chime.fails(2, &["run", "nojob", "--bogus"]).await;
    assert!(err.contains("--bogus"), "{err}");

    let wrong = Chime::new(&env, "kdeadbeef.wrong");
    let err = wrong.fails(3, &["jobs", "list"]).await;
    assert!(err.contains("invalid API key"), "{err}");
    let (_, reader) = env.tenant(&["read"]).await;
    let read_only = Chime::new(&env, &reader);
    let err = read_only
        .fails(
            3,
            &[
                "jobs",
                "create",
                "--name",
                "x",
                "--action",
                "http://127.0.0.1:1/",
            ],
        )
        .await;
    assert!(err.contains("'write'"), "{err}");

    let err = chime.fails(4, &["jobs", "show", "999"]).await;
    assert!(err.contains("job 999 does not exist"), "{err}");
    chime.fails(4, &["jobs", "show", "no-such-job"]).await;
    chime.fails(4, &["runs", "list", "999"]).await;

    let err = chime.fails(5, &["jobs", "create", "--name", "x"]).await;
    assert!(err.contains("'action' is required"), "{err}");
    let args = [
        "jobs",
        "create",
        "--name",
        "dup",
        "--action",
        "http://127.0.0.1:1/",
    ];
    chime.ok(&args).await;
    let err = chime.fails(5, &args).await;
    assert!(err.contains("409"), "{err}");
    let err = chime.fails(2, &["run", "dup"]).await;
    assert!(err.contains("no schedule"), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut nowhere = Chime::new(&env, &token);
    nowhere.url = Some(format!("http://127.0.0.1:{port}"));
    let err = nowhere.fails(6, &["jobs", "list"]).await;
    assert!(err.contains("cannot reach"), "{err}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_are_printed_for_each_shell() {
    let env = TestEnv::new();
    let chime = Chime::bare(&env);
    for shell in ["bash", "zsh", "fish"] {
        let script = chime.ok(&["completions", shell]).await;
        assert!(
            script.contains("chime") && script.contains("runs"),
            "{shell}: {script}"
        );
    }
    assert!(chime
        .ok(&["completions", "bash"])
        .await
        .contains("complete -F"));
    let help = chime.ok(&["--help"]).await;
    assert!(
        help.contains("Exit codes") && help.contains("6  the server could not be reached"),
        "{help}"
    );
}
