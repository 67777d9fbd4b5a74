//! chime's domain, free of I/O. Every other crate builds on it; it depends on none of them and
//! on no network, runtime or storage crate (serde, chrono, uuid and thiserror only).
//!
//! Layout:
//! - [`model`]: jobs, schedules, run messages and run records; deterministic run ids.
//! - [`run`]: SAP's run lifecycle typed (status, state, outcome, HTTP method) and the one
//!   mapping from a call's end to it.
//! - [`retry`]: a job's retry policy: which ends are retried, the backoff, `Retry-After`.
//! - [`schedfmt`]: SAP's schedule formats (7-field cron, intervals, date values).
//! - [`schedule`]: the pure planner: which instants fire, what is next, misfires.
//! - [`time`]: instants as chime stores and shows them.
//! - [`secrets`]: secret header values sealed at rest (AES-256-GCM) under a rotatable keyring.
//! - [`signing`]: the tenants' signing secrets and the signatures of calls (Standard Webhooks).
//! - [`zone`]: time zones and chime's DST rule (wall-clock times to instants).

/// An unknown name for one of the core's named enums (a lifecycle state, a method, a kind).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

/// An enum whose values have fixed wire names: `as_str`, `Display`, `FromStr`, serde and
/// `ALL`, all from one list.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownName;
            fn from_str(s: &str) -> Result<Self, $crate::UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownName { what: $what, value: s.to_string() }),
                }
            }
        }
    };
}

pub mod model;
pub mod retry;
pub mod run;
pub mod schedfmt;
pub mod schedule;
pub mod secrets;
pub mod signing;
pub mod targets;
pub mod time;
pub mod timing;
pub mod zone;

/// The URLs of a setting that lists several servers (`CHIME_REDIS_URL` of a Redis Cluster's seed
/// nodes, `CHIME_AMQP_URL` of a RabbitMQ cluster's nodes): comma-separated, trimmed, empty ones
/// dropped; the whole setting when it lists none.
pub fn url_list(setting: &str) -> Vec<&str> {
    let urls: Vec<&str> = setting
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        vec![setting]
    } else {
        urls
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_setting_may_list_several_urls() {
        assert_eq!(super::url_list("amqp://a:5672/%2f"), ["amqp://a:5672/%2f"]);
        assert_eq!(
            super::url_list(" redis://a:1, redis://b:2 ,,"),
            ["redis://a:1", "redis://b:2"]
        );
    }
}
