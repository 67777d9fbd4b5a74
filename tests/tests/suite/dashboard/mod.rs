//! The dashboard at `/ui`: its pages over plain HTTP (they read without JavaScript; the
//! session cookie, the CSRF and origin checks, the 404 and 4xx pages) and in a real browser
//! (headless Chromium through WebDriver: sign in, live runs, run now, deactivate, a run's
//! page, paging, sign out).

mod browser;
mod console;
mod create;
mod http;
mod journey;
mod operations;
mod pages;
mod settings;

use chime_testkit::TestEnv;
use serde_json::Value;
use std::sync::LazyLock;

/// An HTTP client that does not follow redirects (the tests read them).
pub fn http() -> &'static reqwest::Client {
    static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    });
    &CLIENT
}

/// A signed-in session over plain HTTP: the cookie's `name=value`.
pub async fn sign_in(env: &TestEnv, token: &str) -> String {
    let resp = http()
        .post(env.url("/ui/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "sign-in answered {}", resp.status());
    let cookie = resp
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// A page with `cookie`: (status, `Location`, body).
pub async fn get(env: &TestEnv, path: &str, cookie: &str) -> (u16, Option<String>, String) {
    let resp = http()
        .get(env.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (status, location, resp.text().await.unwrap())
}

/// A POST of a dashboard form with `cookie` and extra `headers`: its status.
pub async fn post(
    env: &TestEnv,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = http()
        .post(env.url(path))
        .header("cookie", cookie)
        .form(form);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// The session's CSRF token, read from a page's forms.
pub fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Whether the schedule is active, as the API says.
pub async fn schedule_active(env: &TestEnv, token: &str, job: u64, sid: &str) -> bool {
    let path = format!("/scheduler/jobs/{job}/schedules/{sid}");
    let (st, v): (u16, Value) = env.call("GET", &path, token, None).await;
    assert_eq!(st, 200, "{v}");
    v["active"].as_bool().unwrap()
}
