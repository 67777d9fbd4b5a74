//! A job page's chart and a schedule's fires page over plain HTTP: the same figures and
//! instants as the API's `/stats` and `/fires`, their parameters checked, another tenant's
//! schedule a 404.

use super::{csrf_of, get, post, sign_in};
use chime_testkit::seed::{failure, minutes_ago, success};
use chime_testkit::{SeededJob, TestEnv};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_page_charts_its_runs_in_the_window_picked() {
    let env = TestEnv::api_only().await;
    let job = SeededJob::create(&env, "charted").await;
    for k in 0..5 {
        let at = minutes_ago(40 - k * 5);
        let result = if k == 2 {
            failure(at, 500, "boom")
        } else {
            success(at, "{}")
        };
        job.finished(at, &result).await;
    }
    let (st, stats): (u16, Value) = env
        .call(
            "GET",
            &format!("/scheduler/jobs/{}/stats", job.job),
            &job.token,
            None,
        )
        .await;
    assert_eq!((st, stats["total"].as_u64()), (200, Some(5)), "{stats}");
    let p50 = stats["latencyMs"]["p50"].as_u64().unwrap();
    let cookie = sign_in(&env, &job.token).await;

    // The job's page links its chart (which htmx puts in place), so it does not wait for it.
    let (st, _, page) = get(&env, &format!("/ui/jobs/{}", job.job), &cookie).await;
    assert_eq!(st, 200, "{page}");
    let path = format!("/ui/jobs/{}/chart", job.job);
    assert!(
        page.contains(&format!("hx-get=\"{path}?window=24h\""))
            && !page.contains("<svg class=\"chart\""),
        "{page}"
    );

    // The default window, a day: the API's figures in words, and a bar a span.
    let (st, _, page) = get(&env, &path, &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains(
            "5 runs finished in the last 24 hours: 4 succeeded, 1 failed (80.0% success)"
        ),
        "{page}"
    );
    assert!(page.contains(&format!("Duration p50 {p50} ms")), "{page}");
    assert_eq!(page.matches("<g class=\"bucket\">").count(), 48, "{page}");
    assert!(
        page.contains("<span aria-current=\"true\">24h</span>"),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"{path}?window=1h\"")),
        "{page}"
    );

    // The last hour and the last week: their spans; the failed span says so in its title.
    let (_, _, hour) = get(&env, &format!("{path}?window=1h"), &cookie).await;
    assert_eq!(hour.matches("<g class=\"bucket\">").count(), 30, "{hour}");
    assert!(
        hour.contains("in the last hour") && hour.contains("1 failed; duration p50"),
        "{hour}"
    );
    assert_eq!(hour.matches("<rect class=\"bad\"").count(), 1, "{hour}");
    let (_, _, week) = get(&env, &format!("{path}?window=7d"), &cookie).await;
    assert_eq!(week.matches("<g class=\"bucket\">").count(), 56, "{week}");
    let (st, _, bad) = get(&env, &format!("{path}?window=2y"), &cookie).await;
    assert_eq!(st, 400, "{bad}");
    let (_, stranger) = env.tenant(&["read"]).await;
    let stranger = sign_in(&env, &stranger).await;
    assert_eq!(get(&env, &path, &stranger).await.0, 404);

    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedules_fires_page_shows_the_apis_instants_and_fates() {
    let env = TestEnv::api_only().await;
    let every_minute = serde_json::json!({"repeatInterval": "1 minute", "active": true});
    let (tenant, token) = env.tenant(&["read", "write"]).await;
    let job = SeededJob::with_schedule(&env, &tenant, &token, "minutely", every_minute).await;
    let cookie = sign_in(&env, &job.token).await;
    let (_, _, page) = get(&env, &format!("/ui/jobs/{}", job.job), &cookie).await;
    let base = format!("/ui/jobs/{}/schedules/{}/fires", job.job, job.schedule);
    assert!(page.contains(&format!("href=\"{base}\"")), "{page}");

    // A window from a minute ago to ten minutes ahead: the API's instants, with their fates.
    let at = |ms: i64| chime_core::time::format_instant(ms);
    let now = chrono::Utc::now().timestamp_millis();
    let (from, to) = (at(now - 60_000), at(now + 600_000));
    let api = format!(
        "/scheduler/jobs/{}/schedules/{}/fires?from={from}&to={to}",
        job.job, job.schedule
    );
    let (st, fires): (u16, Value) = env.call("GET", &api, &job.token, None).await;
    assert_eq!(st, 200, "{fires}");
    let results = fires["results"].as_array().unwrap();
    assert!(results.len() >= 9, "{fires}");
    let (st, _, page) = get(&env, &format!("{base}?from={from}&to={to}"), &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains(&format!("{} instants", fires["total"])),
        "{page}"
    );
    assert_eq!(page.matches("<tr>").count() - 1, results.len(), "{page}");
    for e in results {
        let when = format!("datetime=\"{}\"", e["scheduledFor"].as_str().unwrap());
        let at = page.find(&when).unwrap_or_else(|| panic!("{when}: {page}"));
        let fate = format!(">{}</span>", e["fate"].as_str().unwrap());
        assert!(page[at..].find(&fate).is_some(), "{fate}: {page}");
    }

    // Bad parameters, unknown and other tenants' schedules.
    let (_, stranger) = env.tenant(&["read", "write"]).await;
    let theirs = sign_in(&env, &stranger).await;
    for (url, who, status) in [
        (format!("{base}?from=yesterday"), &cookie, 400),
        (format!("{base}?offset=x"), &cookie, 400),
        (
            format!("/ui/jobs/{}/schedules/nope/fires", job.job),
            &cookie,
            404,
        ),
        (base.clone(), &theirs, 404),
    ] {
        let (st, _, page) = get(&env, &url, who).await;
        assert_eq!(st, status, "{url}: {page}");
    }

    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_edited_through_its_form_as_the_api_would() {
    let env = TestEnv::api_only().await;
    let job = SeededJob::create(&env, "edited").await;
    let cookie = sign_in(&env, &job.token).await;
    let edit = format!("/ui/jobs/{}/schedules/{}/edit", job.job, job.schedule);
    let api = format!("/scheduler/jobs/{}/schedules/{}", job.job, job.schedule);
    let schedule = || async {
        let (st, v): (u16, Value) = env.call("GET", &api, &job.token, None).await;
        assert_eq!(st, 200, "{v}");
        v
    };
    let before = schedule().await;

    // The form holds the schedule's timing in its own mode; the job page links to it.
    let (_, _, job_page) = get(&env, &format!("/ui/jobs/{}", job.job), &cookie).await;
    assert!(job_page.contains(&format!("href=\"{edit}\"")), "{job_page}");
    let (st, _, page) = get(&env, &edit, &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains("name=\"repeatInterval\" value=\"1 hour\""),
        "{page}"
    );
    let csrf = csrf_of(&page);

    // Forged (no token), or refused by the API's checks (the field named): nothing changes.
    let (st, _) = post(&env, &edit, &cookie, &[("description", "forged")], &[]).await;
    assert_eq!(st, 403);
    let (st, answer) = post(
        &env,
        &edit,
        &cookie,
        &[("csrf", &csrf), ("repeatInterval", "twice")],
        &[],
    )
    .await;
    assert_eq!(st, 400, "{answer}");
    assert!(answer.contains("repeatInterval"), "{answer}");
    assert_eq!(schedule().await, before);

    // Saved: the API shows the new description, interval and end; an empty start stays none.
    let (st, _) = post(
        &env,
        &edit,
        &cookie,
        &[
            ("csrf", &csrf),
            ("description", "every two hours"),
            ("repeatInterval", "2 hours"),
            ("startTime", ""),
            ("endTime", "2099-01-01T00:00:00Z"),
            ("timeZone", ""),
        ],
        &[],
    )
    .await;
    assert_eq!(st, 303);
    let after = schedule().await;
    assert_eq!(after["description"], "every two hours", "{after}");
    assert_eq!(after["repeatInterval"], "2 hours", "{after}");
    assert!(
        after["endTime"].as_str().unwrap().starts_with("2099-01-01"),
        "{after}"
    );
    assert!(after["startTime"].is_null(), "{after}");

    // Another tenant's session: a 404 page for the form and for its post.
    let other = SeededJob::create(&env, "theirs").await;
    let theirs = sign_in(&env, &other.token).await;
    let (st, _, _) = get(&env, &edit, &theirs).await;
    assert_eq!(st, 404);
    let (_, _, their_page) = get(&env, "/ui/jobs", &theirs).await;
    let their_csrf = csrf_of(&their_page);
    let (st, _) = post(
        &env,
        &edit,
        &theirs,
        &[("csrf", &their_csrf), ("description", "x")],
        &[],
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(schedule().await["description"], "every two hours");
    env.cleanup().await;
}
