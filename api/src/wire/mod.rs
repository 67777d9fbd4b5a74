//! The wire format of the SAP and admin routes: the types the handlers parse, return as
//! `Json<T>` and document in the OpenAPI contract, one definition each. Dialect shapes live
//! with their vendor ([`crate::dialects`]).
//!
//! - [`sap`]: jobs, schedules, run logs, the audit trail and the global parameters, as the
//!   handlers answer them.
//! - [`requests`]: the SAP request bodies.
//! - [`admin`]: tenants and API keys, bodies and answers.
//! - [`fleet`]: the operations view.
//! - [`params`]: the query parameters of the SAP and extra routes.
//! - [`search`]: SAP's search answers (jobs and schedules).
//! - [`stats`]: a run's timing split and a job's run statistics.
//! - [`notifications`]: a job's notifications and their deliveries.
//!
//! Here: [`RequestBody`] and [`decode`], which read a body into its type with a 400 that
//! names the field, and the lenient field types SAP's bodies need.

pub mod admin;
pub mod fleet;
pub mod notifications;
pub mod params;
pub mod requests;
pub mod sap;
pub mod search;
pub mod stats;

use crate::error::{ApiError, ApiResult};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
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

/// A request body type, with the context its errors start with (SAP's
/// `Error while creating job: …`).
pub trait RequestBody: DeserializeOwned {
    const CONTEXT: &'static str;
}

/// Reads a JSON body into `T`; also returns the body's field names (for the audit trail, and
/// to tell a field sent as `null` from one not sent). 400 when the body is not an object or a
/// field has the wrong type, naming the field (`'schedules[0].active'`).
pub fn decode<T: RequestBody>(body: Value) -> ApiResult<(T, Vec<String>)> {
    let Value::Object(map) = body else {
        return Err(ApiError::BadRequest(format!(
            "{}: the body must be a JSON object",
            T::CONTEXT
        )));
    };
    let fields = map.keys().cloned().collect();
    let req = serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        ApiError::BadRequest(format!("{}: '{path}': {}", T::CONTEXT, e.into_inner()))
    })?;
    Ok((req, fields))
}

/// A boolean as SAP sends it: `true`/`false`, or (in SAP's examples) `"true"`/`"false"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SapBool(pub bool);

impl<'de> Deserialize<'de> for SapBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(SapBool(b)),
            Value::String(s) if s == "true" => Ok(SapBool(true)),
            Value::String(s) if s == "false" => Ok(SapBool(false)),
            other => Err(serde::de::Error::custom(format!(
                "must be a boolean, got {other}"
            ))),
        }
    }
}

/// For `#[serde(default, deserialize_with = "present")]`: a field sent (even as `null`) is
/// `Some`, so `null` can clear a value while an absent field leaves it.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A JSON value that is not `null`.
pub fn given(v: &Option<Value>) -> Option<&Value> {
    v.as_ref().filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::admin::{ConfigureTenantRequest, CreateKeyRequest};
    use super::requests::{JobRequest, ScheduleUpdateRequest};
    use super::*;
    use serde_json::json;

    fn error<T: RequestBody>(v: Value) -> String {
        match decode::<T>(v) {
            Ok(_) => panic!("decoded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let e = error::<JobRequest>(json!({"schedules": [{"cron": "x", "active": 3}]}));
        assert!(
            e.starts_with("Error while creating job: 'schedules[0].active'"),
            "{e}"
        );
        let e = error::<JobRequest>(json!({"headers": {"X-A": 1}}));
        assert!(e.contains("'headers.X-A'"), "{e}");
        let e = error::<JobRequest>(json!({"timeoutMs": -1}));
        assert!(e.contains("'timeoutMs'"), "{e}");
        let e = error::<ConfigureTenantRequest>(json!({"runsPerMinute": "many"}));
        assert!(e.contains("'runsPerMinute'"), "{e}");
        let e = error::<CreateKeyRequest>(json!({"scopes": ["read", "fly"]}));
        assert!(e.contains("'scopes[1]'"), "{e}");
        let e = error::<JobRequest>(json!([]));
        assert_eq!(
            e,
            "Error while creating job: the body must be a JSON object"
        );
    }

    #[test]
    fn sap_booleans_and_sent_nulls() {
        let (j, fields) = decode::<JobRequest>(json!({"active": "true", "name": "a"})).unwrap();
        assert_eq!(j.active, Some(SapBool(true)));
        assert_eq!(fields, ["active", "name"]);
        let (u, _) = decode::<ScheduleUpdateRequest>(json!({"startTime": null})).unwrap();
        assert_eq!(u.start_time, Some(Value::Null), "sent as null: clears");
        assert_eq!(u.end_time, None, "not sent: kept");
        let (k, _) = decode::<CreateKeyRequest>(json!({"scopes": null})).unwrap();
        assert!(matches!(k.scopes, Some(None)));
    }
}
