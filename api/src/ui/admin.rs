//! The admin's page: signed in with the admin token, the admin sees the deployment's
//! tenants with their job counts (the fleet and the dead letters: [`super::operations`]).

use crate::state::AppState;
use crate::ui::layout;
use crate::ui::session::Signed;
use crate::ui::UiResult;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// Tenants the page lists at most.
const MOST_TENANTS: usize = 500;

/// `GET /ui/admin`.
pub async fn admin_page(State(s): State<AppState>, signed: Signed) -> UiResult<Response> {
    signed.require_admin()?;
    let mut tenants = s.store.tenants().await?;
    tenants.sort();
    let shown: Vec<String> = tenants.iter().take(MOST_TENANTS).cloned().collect();
    let counts = futures::future::try_join_all(shown.iter().map(|t| s.store.job_counts(t))).await?;
    let body = html! {
        p { "Signed in with the admin token. " (tenants.len()) " tenants. "
            a href="/ui/admin/operations" { "Operations and dead letters" } }
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
        layout::page("Tenants", Some(&signed.nav()), body),
    ))
}
