//! SAP's `ansConfig` and `calmConfig` in a job's body, checked as SAP checks them (its
//! documented messages for `calmConfig`; `ansConfig` alike).

use crate::error::ApiError;
use chime_core::model::{AnsConfig, CalmConfig};
use serde_json::{Map, Value};

fn bad(m: String) -> ApiError {
    ApiError::BadRequest(m)
}

/// The object of field `field` (`null` or absent: none).
fn object<'a>(
    given: Option<&'a Value>,
    field: &str,
    ctx: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match given {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(bad(format!("{ctx}: '{field}' must be of type 'object'"))),
    }
}

/// The boolean `key` of object `field`, when present.
fn boolean(
    m: &Map<String, Value>,
    key: &str,
    field: &str,
    ctx: &str,
) -> Result<Option<bool>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(format!(
            "{ctx}: '{key}' in '{field}' must be of type 'boolean'"
        ))),
    }
}

fn only(m: &Map<String, Value>, allowed: &[&str], field: &str, ctx: &str) -> Result<(), ApiError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(format!(
            "{ctx}: '{k}' is not an allowed property for object '{field}'"
        ))),
        None => Ok(()),
    }
}

/// `calmConfig`: an object with exactly the boolean `enabled`.
pub fn calm_config(given: Option<&Value>, ctx: &str) -> Result<Option<CalmConfig>, ApiError> {
    let f = "calmConfig";
    let Some(m) = object(given, f, ctx)? else {
        return Ok(None);
    };
    if m.is_empty() {
        return Err(bad(format!("{ctx}: '{f}' object cannot be empty")));
    }
    let Some(enabled) = boolean(m, "enabled", f, ctx)? else {
        return Err(bad(format!(
            "{ctx}: 'enabled' is a required property for object '{f}'"
        )));
    };
    only(m, &["enabled"], f, ctx)?;
    Ok(Some(CalmConfig { enabled }))
}

/// `ansConfig`: an object of the booleans `onSuccess` and `onError` (each `false` when left
/// out).
pub fn ans_config(given: Option<&Value>, ctx: &str) -> Result<Option<AnsConfig>, ApiError> {
    let f = "ansConfig";
    let Some(m) = object(given, f, ctx)? else {
        return Ok(None);
    };
    let on_success = boolean(m, "onSuccess", f, ctx)?.unwrap_or(false);
    let on_error = boolean(m, "onError", f, ctx)?.unwrap_or(false);
    only(m, &["onSuccess", "onError"], f, ctx)?;
    Ok(Some(AnsConfig {
        on_error,
        on_success,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(e: ApiError) -> String {
        match e {
            ApiError::BadRequest(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn calm_config_is_checked_with_sap_s_messages() {
        let ctx = "Error while creating job";
        for (v, says) in [
            (json!({}), "Error while creating job: 'calmConfig' object cannot be empty"),
            (json!({"enabled": "yes"}), "Error while creating job: 'enabled' in 'calmConfig' must be of type 'boolean'"),
            (json!({"enable": true}), "Error while creating job: 'enabled' is a required property for object 'calmConfig'"),
            (json!({"enabled": true, "x": 1}), "Error while creating job: 'x' is not an allowed property for object 'calmConfig'"),
            (json!(true), "Error while creating job: 'calmConfig' must be of type 'object'"),
        ] {
            assert_eq!(message(calm_config(Some(&v), ctx).unwrap_err()), says, "{v}");
        }
        let ok = calm_config(Some(&json!({"enabled": true})), ctx).unwrap();
        assert_eq!(ok, Some(CalmConfig { enabled: true }));
        assert_eq!(calm_config(Some(&Value::Null), ctx).unwrap(), None);
    }

    #[test]
    fn ans_config_takes_its_two_booleans() {
        let ctx = "ctx";
        let ok = ans_config(Some(&json!({"onError": true})), ctx)
            .unwrap()
            .unwrap();
        assert_eq!((ok.on_error, ok.on_success), (true, false));
        for (v, says) in [
            (
                json!({"onError": 1}),
                "'onError' in 'ansConfig' must be of type 'boolean'",
            ),
            (
                json!({"onFailure": true}),
                "'onFailure' is not an allowed property for object 'ansConfig'",
            ),
            (json!([]), "'ansConfig' must be of type 'object'"),
        ] {
            assert!(
                message(ans_config(Some(&v), ctx).unwrap_err()).contains(says),
                "{v}"
            );
        }
    }
}
