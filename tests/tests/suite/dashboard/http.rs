//! The dashboard over plain HTTP, as a browser without JavaScript sees it.

use super::{csrf_of, get, http, post, schedule_active, sign_in};
use chime_testkit::seed::{accepted, failure, minutes_ago, success};
use chime_testkit::{SeededJob, TestEnv, ADMIN_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_the_session() {
    let env = TestEnv::api_only().await;
    let (tenant, token) = env.tenant(&["read", "write"]).await;

    // Without a session: to the sign-in page, one token field, no inline script.
    let (st, location, _) = get(&env, "/ui/jobs", "").await;
    assert_eq!((st, location.as_deref()), (303, Some("/ui/login")));
    let resp = http().get(env.url("/ui/login")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = resp.text().await.unwrap();
    assert_eq!(page.matches("<input").count(), 1, "{page}");
    assert!(
        page.contains("name=\"token\"") && !page.contains("<script>"),
        "{page}"
    );

    // A wrong token: the form again, 401, no cookie.
    let resp = http()
        .post(env.url("/ui/login"))
        .form(&[("token", "nokey.nosecret")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("set-cookie").is_none());

    // The key's token: a session cookie, HttpOnly and SameSite=Strict, to the jobs.
    let resp = http()
        .post(env.url("/ui/login"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/ui/jobs");
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["chime_session=", "HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(part), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let (st, _, page) = get(&env, "/ui/jobs", &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains(&format!("tenant {tenant}")), "{page}");

    // Sign-out needs the form's token; then the cookie opens nothing.
    let csrf = csrf_of(&page);
    assert_eq!(
        post(&env, "/ui/logout", &cookie, &[("csrf", "x")], &[])
            .await
            .0,
        403
    );
    let (st, _) = post(&env, "/ui/logout", &cookie, &[("csrf", &csrf)], &[]).await;
    assert_eq!(st, 303);
    let (st, location, _) = get(&env, "/ui/jobs", &cookie).await;
    assert_eq!((st, location.as_deref()), (303, Some("/ui/login")));

    // A revoked key ends its sessions.
    let cookie = sign_in(&env, &token).await;
    assert_eq!(get(&env, "/ui/jobs", &cookie).await.0, 200);
    let key_id = token.split('.').next().unwrap();
    let path = format!("/admin/tenants/{tenant}/keys/{key_id}");
    let (st, _) = env.call("DELETE", &path, ADMIN_TOKEN, None).await;
    assert!(st == 200 || st == 204, "revoking answered {st}");
    assert_eq!(
        get(&env, "/ui/jobs", &cookie).await.1.as_deref(),
        Some("/ui/login")
    );

    // The admin token: the admin's page, listing the tenant; tenant pages lead there.
    let admin = sign_in(&env, ADMIN_TOKEN).await;
    let (st, _, page) = get(&env, "/ui/admin", &admin).await;
    assert_eq!(st, 200);
    assert!(page.contains(&tenant), "{page}");
    assert_eq!(
        get(&env, "/ui/jobs", &admin).await.1.as_deref(),
        Some("/ui/admin")
    );

    env.cleanup().await;
}

/// Follows a history's "older" links from `first`: the runs of `ids` each page shows, in
/// page order; each page shows one or two.
async fn walk_pages(env: &TestEnv, cookie: &str, first: &str, ids: &[String]) -> Vec<String> {
    let mut seen = vec![];
    let mut next = Some(first.to_string());
    while let Some(url) = next.take() {
        let (st, _, page) = get(env, &url, cookie).await;
        assert_eq!(st, 200, "{page}");
        let mut on_page: Vec<(usize, &String)> = ids
            .iter()
            .filter_map(|id| page.find(&format!("id=\"run-{id}\"")).map(|at| (at, id)))
            .collect();
        on_page.sort();
        assert!(
            !on_page.is_empty() && on_page.len() <= 2,
            "{url}: {on_page:?}"
        );
        seen.extend(on_page.into_iter().map(|(_, id)| id.clone()));
        next = page
            .find("rel=\"next\" href=\"")
            .map(|at| &page[at + "rel=\"next\" href=\"".len()..])
            .map(|rest| rest[..rest.find('"').unwrap()].replace("&amp;", "&"));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_read_without_javascript_and_page_the_history() {
    let env = TestEnv::api_only().await;
    let job = SeededJob::create(&env, "nightly-report").await;
    let other = chime_testkit::create_job(
        &env,
        &job.token,
        "cleanup",
        "http://127.0.0.1:9/",
        serde_json::json!({"repeatInterval": "1 hour", "active": true}),
    )
    .await;
    let mut ids = vec![];
    for k in 0..5 {
        let at = minutes_ago(50 - k);
        let result = if k == 3 {
            failure(at, 500, "boom")
        } else {
            success(at, "{\"ok\":true}")
        };
        ids.push(job.finished(at, &result).await);
    }
    let waiting = job
        .finished(minutes_ago(1), &accepted(minutes_ago(1)))
        .await;
    let cookie = sign_in(&env, &job.token).await;

    // The list: both jobs, the seeded one's last outcome, success rate and sparkline.
    let (st, _, page) = get(&env, "/ui/jobs", &cookie).await;
    assert_eq!(st, 200);
    assert!(
        page.contains("nightly-report") && page.contains("cleanup"),
        "{page}"
    );
    assert!(page.contains("80% of 5"), "{page}");
    assert!(
        page.contains("<svg") && page.contains("6 recent runs"),
        "{page}"
    );
    // Search by name.
    let (_, _, found) = get(&env, "/ui/jobs?q=nightly", &cookie).await;
    assert!(
        found.contains("nightly-report") && !found.contains(">cleanup<"),
        "{found}"
    );

    // The job's page: its schedule with its actions, and the history, newest first.
    let path = format!("/ui/jobs/{}", job.job);
    let (st, _, page) = get(&env, &path, &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains(&job.schedule) && page.contains("Run now"),
        "{page}"
    );
    assert!(
        page.contains(&format!("data-live=\"{path}/live\"")),
        "{page}"
    );
    let first = page.find(&waiting).expect("the newest run");
    assert!(
        first < page.find(&ids[4]).expect("an older run"),
        "newest first"
    );
    // Filtered by outcome.
    let (_, _, failed) = get(&env, &format!("{path}?status=failure"), &cookie).await;
    assert!(
        failed.contains(&ids[3]) && !failed.contains(&ids[4]),
        "{failed}"
    );
    assert!(
        !failed.contains("data-live"),
        "a filtered history is not live"
    );

    // Paged two at a time: three pages, each run on one of them, in order.
    let all: Vec<String> = ids.iter().chain([&waiting]).cloned().collect();
    let seen = walk_pages(&env, &cookie, &format!("{path}?size=2"), &all).await;
    let mut expected = ids.clone();
    expected.push(waiting.clone());
    expected.reverse();
    assert_eq!(seen, expected);

    // A run's page: its fields, body and log; the asynchronous one, its deadline.
    let run = format!("{path}/schedules/{}/runs/{}", job.schedule, ids[4]);
    let (st, _, page) = get(&env, &run, &cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains("{&quot;ok&quot;:true}") && page.contains("Log"),
        "{page}"
    );
    let run = format!("{path}/schedules/{}/runs/{waiting}", job.schedule);
    let (_, _, page) = get(&env, &run, &cookie).await;
    assert!(
        page.contains("Asynchronous run") && page.contains("waits for its job"),
        "{page}"
    );

    // Unknown ids and bad parameters: pages of their status, never a crash.
    for (url, status) in [
        (format!("/ui/jobs/{}", other.0 + 100), 404),
        ("/ui/jobs/x%00y".to_string(), 404),
        (format!("{path}/schedules/nope/runs/{}", ids[0]), 404),
        (
            format!(
                "{path}/schedules/{}/runs/{}",
                job.schedule,
                "Z".repeat(5000)
            ),
            404,
        ),
        ("/ui/nothing/here".to_string(), 404),
        (format!("{path}?status=maybe"), 400),
        (format!("{path}?size=0"), 400),
        (format!("{path}?after=NOSUCHRUN"), 400),
        (format!("{path}?from=yesterday"), 400),
        ("/ui/jobs?page=x".to_string(), 400),
    ] {
        let (st, _, page) = get(&env, &url, &cookie).await;
        assert_eq!(st, status, "{url}: {page}");
        assert!(page.contains("<h1>"), "{url}: an HTML page: {page}");
    }
    scripts_enhance(&env, &cookie, &path).await;

    env.cleanup().await;
}

/// What scripts add, seen over HTTP: an error page asked by htmx becomes a whole navigation;
/// every file a page links is served, with the vendored libraries' licences.
async fn scripts_enhance(env: &TestEnv, cookie: &str, path: &str) {
    // Asked by htmx (a filter or a page link swapped in place), an error page is a whole
    // navigation to the same address instead.
    let bad = format!("{path}?status=maybe");
    let resp = http()
        .get(env.url(&bad))
        .header("cookie", cookie)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["hx-redirect"].to_str().unwrap(), bad);
    let (st, _, page) = get(env, path, cookie).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains(r##"hx-select="#runs-view""##), "{page}");

    // Every file a page links is served, with the licences of the vendored libraries.
    let assets: Vec<&str> = page
        .split('"')
        .filter(|s| s.starts_with("/ui/assets/"))
        .collect();
    assert_eq!(assets.len(), 7, "{assets:?}");
    for asset in assets {
        let (st, _, body) = get(env, &asset.replace("&amp;", "&"), "").await;
        assert_eq!(st, 200, "{asset}");
        assert!(body.len() > 100, "{asset}: {body}");
    }
    let (_, _, licences) = get(env, "/ui/assets/licenses.txt", "").await;
    for name in [
        "htmx.org 2.0.11",
        "htmx-ext-sse 2.2.4",
        "uplot 1.6.32",
        "MIT License",
    ] {
        assert!(licences.contains(name), "{name}: {licences}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forms_are_refused_and_change_nothing() {
    let env = TestEnv::api_only().await;
    let job = SeededJob::create(&env, "guarded").await;
    let cookie = sign_in(&env, &job.token).await;
    let (_, _, page) = get(&env, &format!("/ui/jobs/{}", job.job), &cookie).await;
    let csrf = csrf_of(&page);
    let action = format!("/ui/jobs/{}/schedules/{}/deactivate", job.job, job.schedule);

    for (form, headers) in [
        (vec![], vec![]),
        (vec![("csrf", "0".repeat(64))], vec![]),
        (
            vec![("csrf", csrf.clone())],
            vec![("origin", "http://evil.example")],
        ),
        (
            vec![("csrf", csrf.clone())],
            vec![("sec-fetch-site", "cross-site")],
        ),
        (vec![("csrf", csrf.clone())], vec![("origin", "null")]),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (st, page) = post(&env, &action, &cookie, &form, &headers).await;
        assert_eq!(st, 403, "{form:?} {headers:?}: {page}");
        assert!(schedule_active(&env, &job.token, job.job, &job.schedule).await);
    }
    // A form field far over the body limit: 413, and the service goes on.
    let huge = "x".repeat(2 * 1024 * 1024);
    let (st, _) = post(&env, &action, &cookie, &[("csrf", &huge)], &[]).await;
    assert_eq!(st, 413);
    // Another tenant's session is refused the job: 404.
    let (_, stranger) = env.tenant(&["read", "write"]).await;
    let theirs = sign_in(&env, &stranger).await;
    let (_, _, their_page) = get(&env, "/ui/jobs", &theirs).await;
    let (st, _) = post(
        &env,
        &action,
        &theirs,
        &[("csrf", &csrf_of(&their_page))],
        &[],
    )
    .await;
    assert_eq!(st, 404);
    assert!(schedule_active(&env, &job.token, job.job, &job.schedule).await);

    // The session's own form, from this origin: done.
    let origin = env.url("");
    let (st, _) = post(
        &env,
        &action,
        &cookie,
        &[("csrf", &csrf)],
        &[("origin", &origin)],
    )
    .await;
    assert_eq!(st, 303);
    assert!(!schedule_active(&env, &job.token, job.job, &job.schedule).await);

    env.cleanup().await;
}
