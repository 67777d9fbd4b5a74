//! The admin's page: signed in with the admin token, the admin sees the deployment's
//! tenants with their job counts.

use crate::state::AppState;
use crate::ui::layout;
use crate::ui::session::{Signed, Who};
use crate::ui::{UiError, UiResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// Tenants the page lists at most.
const MOST_TENANTS: usize = 500;

/// `GET /ui/admin`.
pub async fn admin_page(State(s): State<AppState>, signed: Signed) -> UiResult<Response> {
    if !matches!(signed.who, Who::Admin) {
        return Err(UiError::Api(crate::error::ApiError::NotFound(
            "There is no such page.".into(),
        )));
    }
    let mut tenants = s.store.tenants().await?;
    tenants.sort();
    let shown: Vec<String> = tenants.iter().take(MOST_TENANTS).cloned().collect();
    let counts = futures::future::try_join_all(shown.iter().map(|t| s.store.job_counts(t))).await?;
    let body = html! {
        p { "Signed in with the admin token. " (tenants.len()) " tenants." }
        table {
            thead { tr {
                th scope="col" { "Tenant" } th.num scope="col" { "Active jobs" }
                th.num scope="col" { "Inactive jobs" }
            } }
            tbody {
                @for (t, (active, inactive)) in shown.iter().zip(&counts) {
                    tr { td { code { (t) } } td.num { (active) } td.num { (inactive) } }
                }
            }
        }
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Operations", Some(&signed.nav()), body),
    ))
}
