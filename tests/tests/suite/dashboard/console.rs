//! The settings and operations pages in headless Chromium: a tenant's admin signs in by
//! keyboard (and skips to the content), creates a key (its token shown once, accepted by the API) and revokes it; the
//! operator signs in with the admin token, reads the fleet and replays a dead letter.

use super::browser::Browser;
use crate::dead_letters::{a_run, dead_letter, letters};
use chime_testkit::{Target, TestEnv, ADMIN_TOKEN};
use fantoccini::key::Key;

/// Signs in with `token` by keyboard: the page opens with the focus in the token field, the
/// token is typed and Enter sends the form.
async fn sign_in_by_keyboard(b: &Browser, base: &str, token: &str) {
    b.open(&format!("{base}/ui/login"), "form.login").await;
    let field = b.client.active_element().await.unwrap();
    assert_eq!(field.attr("id").await.unwrap().as_deref(), Some("token"));
    field.send_keys(token).await.unwrap();
    b.press(char::from(Key::Enter)).await;
}

/// On a page with no field in focus, Tab's first stop is the skip link, and Enter on it moves
/// the focus to the content.
async fn skip_to_the_content(b: &Browser) {
    b.press(char::from(Key::Tab)).await;
    let focused = b.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("class").await.unwrap().as_deref(),
        Some("skip")
    );
    b.press(char::from(Key::Enter)).await;
    b.wait_true(
        "the skip link moves the focus to the content",
        "return document.activeElement.id === 'main';",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_manages_its_keys_and_the_operator_replays_a_dead_letter() {
    let env = TestEnv::api_only().await;
    let target = Target::start().await;
    let (_, _, _, run) = a_run(&env, &target, "lettered").await;
    let cluster = env.store().await.cluster_secret(None).await.unwrap();
    dead_letter(&env, std::slice::from_ref(&run), &cluster).await;
    let (_, token) = env.tenant(&["read", "write", "admin"]).await;
    let b = Browser::start().await;
    let base = env.url("");

    // A tenant's admin: the settings page, a key created and its token shown once.
    sign_in_by_keyboard(&b, &base, &token).await;
    b.wait_for("table.jobs, p.none").await;
    skip_to_the_content(&b).await;
    b.click("header nav a[href=\"/ui/settings\"]").await;
    b.wait_for("table.keys").await;
    b.click("form.create button[type=submit]").await;
    let new = b.wait_for("#new-token").await.prop("value").await.unwrap();
    let new = new.expect("the new key's token");
    assert_eq!(
        env.call("GET", "/scheduler/tenant", &new, None).await.0,
        200
    );
    let key_id = new.split('.').next().unwrap().to_string();

    // Listed, then revoked after its confirmation: the API refuses it from then on.
    b.click("a[href=\"/ui/settings#keys\"]").await;
    b.click(&format!("#key-{key_id} a.delete")).await;
    b.click("form button.danger").await;
    b.wait_for("p.notice").await;
    let keys = b.client.source().await.unwrap();
    assert!(!keys.contains(&format!("id=\"key-{key_id}\"")), "{keys}");
    assert_eq!(
        env.call("GET", "/scheduler/tenant", &new, None).await.0,
        401
    );
    b.click("header form[action=\"/ui/logout\"] button").await;
    b.wait_for("form.login").await;

    // The operator: the fleet and the dead letter, replayed from the page.
    sign_in_by_keyboard(&b, &base, ADMIN_TOKEN).await;
    b.click("header nav a[href=\"/ui/admin/operations\"]").await;
    b.wait_for("section[aria-labelledby=\"shards\"]").await;
    b.wait_for("section[aria-labelledby=\"queues\"]").await;
    assert_eq!(letters(&env).await["total"], 1);
    b.click("tr[id^=\"letter-\"] form[action$=\"/replay\"] button")
        .await;
    let notice = b.wait_for("p.notice").await.text().await.unwrap();
    assert!(notice.contains("replayed: 1 runs"), "{notice}");
    assert_eq!(letters(&env).await["total"], 0);

    b.close().await;
    env.cleanup().await;
}
