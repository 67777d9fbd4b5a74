//! The wire format of the SAP and admin routes: the types the handlers parse, return as
//! `Json<T>` and document in the OpenAPI contract, one definition each. Dialect shapes live
//! with their vendor ([`crate::dialects`]).
//!
//! - [`sap`]: jobs, schedules, run logs and the audit trail, as the handlers answer them.
//! - [`requests`]: the SAP request bodies.
//! - [`admin`]: tenants and API keys.
//! - [`params`]: the query parameters of the SAP and extra routes.

pub mod admin;
pub mod params;
pub mod requests;
pub mod sap;

use serde::Serialize;
use utoipa::ToSchema;

/// `{"success": true}`.
#[derive(Serialize, ToSchema)]
pub struct Success {
    pub success: bool,
}

impl Success {
    /// `{"success": true}`.
    pub const YES: Success = Success { success: true };
}
