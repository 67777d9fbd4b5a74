//! A person's way through the dashboard in headless Chromium: sign in with a key's token,
//! watch a job's runs arrive without reloading (htmx's SSE extension), see the chart drawn by
//! uPlot and change its window in place, run a schedule now, deactivate it, open a run, page
//! the history in place and go back, find another tenant's run a 404 page, sign out.

use super::browser::Browser;
use super::{get, schedule_active};
use chime_testkit::{create_job, runs, wait_until, Target, TestEnv};
use serde_json::json;
use std::time::Duration;

/// The ids of the rows of the page's run table.
const ROW_IDS: &str = "return Array.from(document.querySelectorAll('table.runs tbody tr[id^=\"run-\"]')).map(r => r.id);";

/// Saves the page's screenshot in the target's tmp dir, and as the README's picture when
/// `CHIME_SCREENSHOT=1`.
async fn screenshot(b: &Browser) {
    let png = b.client.screenshot().await.unwrap();
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&tmp, &png).unwrap();
    if std::env::var("CHIME_SCREENSHOT").as_deref() == Ok("1") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/img");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("dashboard.png"), &png).unwrap();
    }
}

/// A run of another tenant's job: (job, schedule, run).
async fn a_strangers_run(env: &TestEnv, target: &Target) -> (u64, String, String) {
    let (_, stranger) = env.tenant(&["read", "write"]).await;
    let far = json!({"cron": "2190 1 1 * 0 0 0", "active": true});
    let (job, sid) = create_job(env, &stranger, "theirs", &target.url("/theirs"), far).await;
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}/runs");
    let (st, run) = env.call("POST", &path, &stranger, None).await;
    assert!(st == 201 || st == 202, "{run}");
    (job, sid, run["runId"].as_str().unwrap().to_string())
}

/// Pages `job`'s history two runs at a time: each page swapped in place (no reload), in the
/// address bar and in the browser's history (back is the newest page again).
async fn page_the_history_in_place(b: &Browser, base: &str, job: u64) {
    b.open(&format!("{base}/ui/jobs/{job}?size=2"), "table.runs")
        .await;
    b.eval("window.chimePaging = 'same page'; return null;")
        .await;
    let first: Vec<String> = serde_json::from_value(b.eval(ROW_IDS).await).unwrap();
    b.click("nav.pages a[rel=next]").await;
    b.wait_true(
        "the older page",
        "return location.search.includes('after=') && window.chimePaging === 'same page' \
         && document.querySelector('nav.pages a[rel=prev]') !== null;",
    )
    .await;
    b.wait_for("table.runs").await;
    let older: Vec<String> = serde_json::from_value(b.eval(ROW_IDS).await).unwrap();
    assert!(!older.is_empty() && older.len() <= 2, "{older:?}");
    assert!(
        older.iter().all(|id| !first.contains(id)),
        "{first:?} {older:?}"
    );
    b.client.back().await.unwrap();
    b.wait_true(
        "back to the newest page",
        "return !location.search.includes('after=') \
         && document.querySelector('nav.pages a[rel=prev]') === null;",
    )
    .await;
    let again: Vec<String> = serde_json::from_value(b.eval(ROW_IDS).await).unwrap();
    assert!(
        again.iter().all(|id| !older.contains(id)),
        "{older:?} {again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_signs_in_watches_runs_acts_on_a_schedule_and_signs_out() {
    let env = TestEnv::cluster().await;
    let target = Target::start().await;
    let (_, token) = env.tenant(&["read", "write"]).await;
    let every_second =
        json!({"cron": "* * * * * * *", "active": true, "description": "every second"});
    let (job, sid) = create_job(
        &env,
        &token,
        "heartbeat",
        &target.url("/beat"),
        every_second,
    )
    .await;
    let far = json!({"cron": "2190 1 1 * 0 0 0", "active": true});
    create_job(&env, &token, "yearly-archive", &target.url("/archive"), far).await;
    // Another tenant's run, whose URL this session must not open.
    let (their_job, their_sid, their_run) = a_strangers_run(&env, &target).await;

    let b = Browser::start().await;
    let base = env.url("");

    // Sign in by pasting the token.
    b.open(&format!("{base}/ui/jobs"), "form.login").await;
    b.wait_for("#token").await.send_keys(&token).await.unwrap();
    b.click("form.login button[type=submit]").await;
    b.wait_for("table.jobs").await;
    let list = b.client.source().await.unwrap();
    assert!(
        list.contains("heartbeat") && list.contains("yearly-archive"),
        "{list}"
    );

    // The job's page: runs arrive in the history without a reload.
    b.click("table.jobs a[href$=\"/ui/jobs/1\"]").await;
    b.wait_for("table.runs[data-live-open]").await;
    b.eval("window.chimeMarker = 'still here'; return null;")
        .await;
    let before = b.eval(ROW_IDS).await.as_array().unwrap().len();
    b.wait_true(
        "a run appears without a reload",
        &format!(
            "{} return ids.length >= {} && window.chimeMarker === 'still here';",
            ROW_IDS.replace("return ", "const ids = "),
            before + 2
        ),
    )
    .await;
    // The chart, fetched once the page is there, is drawn by uPlot in place of the server's
    // SVG; its window changes in place.
    b.wait_for("#chart-view.enhanced #chart-plot canvas").await;
    screenshot(&b).await;
    b.click("nav.windows a[href*=\"window=1h\"]").await;
    b.wait_true(
        "the last hour's chart, swapped in place",
        "return window.chimeMarker === 'still here' && !location.pathname.endsWith('/chart') \
         && document.querySelector('#chart-view.enhanced canvas') !== null \
         && document.querySelector('nav.windows span[aria-current]').textContent === '1h';",
    )
    .await;

    // Run now: the API sees a manual run.
    b.click(&format!("#schedule-{sid} form[action$=\"/run\"] button"))
        .await;
    b.wait_for("p.notice").await;
    wait_until("the manual run", Duration::from_secs(30), || async {
        let (_, list) = runs(&env, &token, job, &sid).await;
        list.iter().any(|r| r["manual"] == true).then_some(())
    })
    .await;

    // Deactivate: the page and the API agree.
    b.click(&format!(
        "#schedule-{sid} form[action$=\"/deactivate\"] button"
    ))
    .await;
    b.wait_for(&format!("#schedule-{sid} form[action$=\"/activate\"]"))
        .await;
    assert!(!schedule_active(&env, &token, job, &sid).await);

    // Open a run: its fields and its log.
    b.click("table.runs tbody tr a").await;
    b.wait_for("dl.fields").await;
    let h1 = b.wait_for("h1").await.text().await.unwrap();
    assert!(
        h1.starts_with("Run #") && h1.ends_with("of heartbeat"),
        "{h1}"
    );
    b.wait_for("pre.log").await;

    page_the_history_in_place(&b, &base, job).await;

    // Another tenant's run: a 404 page.
    let theirs = format!("{base}/ui/jobs/{their_job}/schedules/{their_sid}/runs/{their_run}");
    b.open(&theirs, "p.error").await;
    let title = b.wait_for("h1").await.text().await.unwrap();
    assert_eq!(title, "Not Found");
    let cookie = b.client.get_named_cookie("chime_session").await.unwrap();
    let cookie = format!("chime_session={}", cookie.value());
    let their_path = theirs.trim_start_matches(&base).to_string();
    assert_eq!(get(&env, &their_path, &cookie).await.0, 404);

    // Sign out: the session is over.
    b.open(&format!("{base}/ui/jobs"), "table.jobs").await;
    b.click("header form[action=\"/ui/logout\"] button").await;
    b.wait_for("form.login").await;
    b.open(&format!("{base}/ui/jobs"), "form.login").await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/ui/login");
    assert_eq!(
        get(&env, "/ui/jobs", &cookie).await.1.as_deref(),
        Some("/ui/login")
    );

    b.close().await;
    env.cleanup().await;
}
