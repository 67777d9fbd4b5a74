//! Typed settings for every chime service.
//!
//! Layering: defaults in code, then an optional TOML file named by `CHIME_CONFIG`, then
//! `CHIME_*` environment variables (the upper-cased field name, e.g. `CHIME_REDIS_URL`).
//! Only binaries call [`Settings::load`]; libraries take a `Settings` value.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Settings shared by the scheduler, the worker and the API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Redis connection URL; with `redis_cluster`, one or more seed nodes of a Redis Cluster,
    /// comma-separated.
    pub redis_url: String,
    /// Whether `redis_url` names a Redis Cluster (`CHIME_REDIS_CLUSTER=true`): every service
    /// then talks to it through the redis crate's cluster client.
    pub redis_cluster: bool,
    /// AMQP connection URL.
    pub amqp_url: String,
    /// Prefix of every Redis key and every RabbitMQ exchange and queue.
    pub namespace: String,
    /// Listen address of the API.
    pub api_addr: String,
    /// Listen address of the health and metrics endpoints of the scheduler and the worker
    /// (port 0 picks a free port; the bound address is logged).
    pub ops_addr: String,
    /// Bearer token for `/admin` calls. The API refuses to start without one.
    pub admin_token: Option<String>,
    /// A file of admin tokens, one a line (`#` starts a comment line), read again whenever it
    /// changes: admin tokens rotate without a restart. Accepted beside `admin_token`.
    pub admin_token_file: Option<String>,
    /// The key every run message is signed with (HMAC-SHA256): workers dead-letter a message
    /// without a valid signature before reading it. Unset, the installation's own key is used:
    /// 32 random bytes the first service to start keeps in Redis (`<ns>:cluster_secret`).
    pub cluster_secret: Option<String>,
    /// The keys secret header values are sealed with at rest (AES-256-GCM): `id:base64`
    /// entries (base64 of 32 random bytes), comma-separated; the first seals, every one
    /// opens (rotation: put a new key first). The API and the workers need the same ring.
    /// Empty: jobs cannot have secret headers, and tenants have no signing secrets (their
    /// calls are unsigned).
    pub secret_keys: String,
    /// How long a worker keeps a tenant's signing secrets (opened) before it reads them from
    /// Redis again: a rotation signs every worker's calls within this long.
    pub signing_secret_cache_ms: u64,
    /// Comma-separated CIDRs the SSRF guard lets through (e.g. `127.0.0.0/8`).
    pub allow_targets: String,
    /// Runs a worker executes at once; its AMQP prefetch is twice this, in messages (a message
    /// carries up to `runs_per_message` runs; runs beyond the limit, or beyond their tenant's
    /// share, wait in the worker for a slot).
    pub worker_concurrency: usize,
    /// Most runs the leader puts in one message of the runs queue. The runs of a pass share
    /// messages, so the broker's work per run (persist, confirm, deliver, ack) shrinks with
    /// the load; 1 publishes each run alone.
    pub runs_per_message: usize,
    /// A run's first delivery calls its target at once and is marked `RUNNING/TRIGGERED` only
    /// once the call has lasted this long, so a quick call costs one record write, not two.
    /// 0: mark every run before its call (and check before calling that its job still exists).
    /// Redeliveries are always marked (and checked) first.
    pub mark_running_after_ms: u64,
    /// Leader lease time to live.
    pub leader_ttl_ms: u64,
    /// Longest pause of the leader loop between two looks at the due index.
    pub scheduler_tick_ms: u64,
    /// Due entries the leader takes from one partition per pass.
    pub scheduler_batch: usize,
    /// Partitions of the due index.
    pub due_partitions: u32,
    /// Shards of the due index (at most `due_partitions`): the partitions are dealt to them in
    /// turn, each shard has a hash slot, a lease and a fencing epoch of its own, and the
    /// schedulers alive share the shards out (each leads about shards ÷ schedulers). 1: one
    /// leader plans every fire. Fixed for a deployment's life, like `due_partitions`.
    pub scheduler_shards: u32,
    /// Runs waiting in the run queue beyond which the leader holds fires back (0: no limit).
    /// Held fires stay due: an interval schedule shifts, a cron fire replays within the misfire
    /// threshold, so an overloaded cluster is late rather than buffering without bound.
    pub max_queued_runs: u64,
    /// Runs of one tenant in flight at once (fired, no result yet) unless its own
    /// `maxInFlight` says otherwise; fires beyond it wait in the due index, late, so one
    /// tenant's backlog cannot fill the queue every tenant shares. 0: the slots of the workers
    /// alive (each registers its `worker_concurrency`), or `worker_concurrency` while none is.
    pub tenant_max_in_flight: u64,
    /// The share of a worker's slots (percent, 1–100) one tenant's runs may hold at once; its
    /// other runs wait in the worker while other tenants' runs take the free slots.
    pub tenant_slot_share_percent: u32,
    /// The call time (ms) one tenant's runs may hold in a worker at once, each run counting
    /// its timeout; 0: the tenant's slot share times `default_timeout_ms`. A run whose timeout
    /// is over the budget counts as the whole budget.
    pub tenant_call_budget_ms: u64,
    /// Jobs a tenant may have unless its own `maxJobs` says otherwise (0: no limit); a create
    /// beyond it answers 403.
    pub tenant_max_jobs: u64,
    /// Schedules a tenant may have over all its jobs unless its own `maxSchedules` says
    /// otherwise (0: no limit); a create beyond it answers 403.
    pub tenant_max_schedules: u64,
    /// Live tails (`GET /scheduler/jobs/{jobId}/runs/stream`) one API key may hold open at
    /// once on one API process (0: no limit); one more answers 429.
    pub tail_max_per_key: u64,
    /// Live tails the keys of one tenant may hold open at once on one API process (0: no
    /// limit); one more answers 429.
    pub tail_max_per_tenant: u64,
    /// Requests per second the API keys of one tenant may make together to one API process
    /// unless the tenant's own `requestsPerSecond` says otherwise (0: no limit); one more
    /// answers 429 with `Retry-After`. `/admin` and the unauthenticated routes are not limited.
    pub tenant_requests_per_second: u64,
    /// Requests per second one API key may make to one API process (0: no limit); one more
    /// answers 429 with `Retry-After`.
    pub key_requests_per_second: u64,
    /// Runs a tenant may fire per minute unless its own quota says otherwise (0: no limit).
    /// Fires beyond it are deferred, not dropped: see docs/ARCHITECTURE.md, "Tenant quotas".
    pub tenant_runs_per_minute: u64,
    /// Deliveries of one message (its runs) before RabbitMQ dead-letters it.
    pub delivery_limit: u32,
    /// Bytes of a target's response body kept in the run log.
    pub response_body_cap: usize,
    /// HTTP timeout of an action when its job sets none.
    pub default_timeout_ms: u64,
    /// TCP connect timeout of an action.
    pub connect_timeout_ms: u64,
    /// A client of the API must send a request's headers within this long of connecting, or
    /// of its previous answer on a kept-alive connection (so this is also the idle timeout).
    pub api_header_timeout_ms: u64,
    /// Longest the API takes to answer a request (the headers of its answer; a live tail or
    /// an export then streams): beyond it, 408.
    pub api_request_timeout_ms: u64,
    /// Longest a client may take to send a request's body.
    pub api_body_timeout_ms: u64,
    /// Longest a "run now" request waits for the leader to create its run's record before
    /// it answers 202 (the request is durable either way).
    pub api_run_now_wait_ms: u64,
    /// Connections the API holds open at once; one more is answered 503 and closed.
    pub api_max_connections: usize,
    /// Largest request body the API accepts (SAP: 100 KB).
    pub max_request_bytes: usize,
    /// Outages shorter than this replay every missed fire; longer ones fire only the last.
    pub misfire_threshold_secs: u64,
    /// A schedule with a `misfirePolicy`: an instant the leader reaches more than this late is
    /// missed, and its policy decides (Quartz's misfire threshold).
    pub misfire_grace_secs: u64,
    /// Run records are kept this long.
    pub run_retention_days: u64,
    /// Most runs kept in one schedule's run log.
    pub runs_per_schedule_cap: u64,
    /// How often the leader trims run streams of every tenant to their retention age.
    pub retention_sweep_secs: u64,
    /// How often the leader's repair sweep runs; a write's replan markers older than this are
    /// completed by it (see docs/ARCHITECTURE.md, "Writes that change what fires").
    pub repair_sweep_secs: u64,
    /// How often the leader finishes asynchronous runs (acknowledged with 202) whose job has
    /// not reported within its tenant's `ASYNC_EXEC_TIMEOUT`: they become `COMPLETED/UNKNOWN`.
    pub async_sweep_secs: u64,
    /// A schedule whose endpoint has been unreachable (no run's call got a connection: `dns`,
    /// `connect`, `tls`, `blocked`) for more than this many days is deactivated (SAP: 10).
    /// 0: never (unless `unreachable_deactivate_secs` is set).
    pub unreachable_deactivate_days: u64,
    /// The same limit in seconds; when not 0 it replaces `unreachable_deactivate_days` (tests,
    /// short-lived installations).
    pub unreachable_deactivate_secs: u64,
    /// An inactive one-time schedule that has not run for this many days is removed (SAP: 30).
    /// 0: never (unless `one_time_expiry_secs` is set).
    pub one_time_expiry_days: u64,
    /// The same limit in seconds; when not 0 it replaces `one_time_expiry_days`.
    pub one_time_expiry_secs: u64,
    /// How often the leader applies those two rules.
    pub lifecycle_sweep_secs: u64,
    /// The keys that sign the API's OAuth access tokens (`POST /oauth/token`), comma-separated
    /// `<kid>:<base64 of at least 32 bytes>`: the first signs, every one is accepted (list a
    /// new key first and keep the old one until its tokens have expired). Empty: one key
    /// derived from the cluster secret.
    pub token_keys: String,
    /// How long an OAuth access token is accepted (s), 300 to 86400.
    pub token_ttl_secs: u64,
    /// Notifications a worker delivers at once, all tenants together (a tenant has at most a
    /// quarter of them, and at least one).
    pub notify_concurrency: usize,
    /// The timeout of one notification's call (ms).
    pub notify_timeout_ms: u64,
    /// How often a worker looks for notifications due of the tenants hinted to have some (ms).
    pub notify_poll_ms: u64,
    /// How often a worker looks at every tenant for notifications due (a hint can be lost when
    /// a process dies).
    pub notify_scan_secs: u64,
    /// Base URL of the API as seen by job endpoints (sent as `x-sap-scheduler-host`).
    pub public_url: String,
    /// Grace period for in-flight runs on shutdown.
    pub shutdown_grace_secs: u64,
    /// Log format: `text` or `json`.
    pub log_format: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_cluster: false,
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            namespace: "chime".into(),
            api_addr: "127.0.0.1:8080".into(),
            ops_addr: "127.0.0.1:0".into(),
            admin_token: None,
            admin_token_file: None,
            cluster_secret: None,
            secret_keys: String::new(),
            signing_secret_cache_ms: 30_000,
            allow_targets: String::new(),
            worker_concurrency: 64,
            runs_per_message: 16,
            mark_running_after_ms: 250,
            leader_ttl_ms: 3000,
            scheduler_tick_ms: 100,
            scheduler_batch: 1000,
            due_partitions: 16,
            scheduler_shards: 1,
            max_queued_runs: 20_000,
            tenant_max_in_flight: 0,
            tenant_slot_share_percent: 50,
            tenant_call_budget_ms: 0,
            tenant_max_jobs: 10_000,
            tenant_max_schedules: 100_000,
            tenant_runs_per_minute: 60_000,
            tail_max_per_key: 10,
            tail_max_per_tenant: 50,
            tenant_requests_per_second: 0,
            key_requests_per_second: 0,
            delivery_limit: 5,
            response_body_cap: 1024,
            default_timeout_ms: 15_000,
            connect_timeout_ms: 5_000,
            api_header_timeout_ms: 10_000,
            api_request_timeout_ms: 30_000,
            api_body_timeout_ms: 30_000,
            api_run_now_wait_ms: 5_000,
            api_max_connections: 1_000,
            max_request_bytes: 100 * 1024,
            misfire_threshold_secs: 20 * 60,
            misfire_grace_secs: 60,
            run_retention_days: 30,
            runs_per_schedule_cap: 10_000,
            retention_sweep_secs: 300,
            repair_sweep_secs: 10,
            async_sweep_secs: 5,
            unreachable_deactivate_days: 10,
            unreachable_deactivate_secs: 0,
            one_time_expiry_days: 30,
            one_time_expiry_secs: 0,
            lifecycle_sweep_secs: 60,
            token_keys: String::new(),
            token_ttl_secs: 3600,
            notify_concurrency: 16,
            notify_timeout_ms: 10_000,
            notify_poll_ms: 1_000,
            notify_scan_secs: 30,
            public_url: "http://127.0.0.1:8080".into(),
            shutdown_grace_secs: 30,
            log_format: "text".into(),
        }
    }
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Toml {
        path: String,
        source: toml::de::Error,
    },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then the file named by `CHIME_CONFIG`, then `CHIME_*` variables of the process.
    pub fn load() -> Result<Settings, ConfigError> {
        Self::load_from(std::env::vars())
    }

    /// [`Settings::load`] over an explicit environment (tests).
    pub fn load_from(
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut merged = serde_json::to_value(Settings::default()).expect("settings serialise");
        let obj = merged.as_object_mut().expect("settings are an object");
        if let Some((_, path)) = env.iter().find(|(k, _)| k == "CHIME_CONFIG") {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::Toml {
                path: path.clone(),
                source,
            })?;
            for (k, v) in table {
                if !obj.contains_key(&k) {
                    return Err(ConfigError::Invalid(format!(
                        "unknown setting '{k}' in {path}"
                    )));
                }
                let v = serde_json::to_value(v).map_err(|e| ConfigError::Invalid(e.to_string()))?;
                obj.insert(k, v);
            }
        }
        apply_env(obj, &env)?;
        let settings: Settings =
            serde_json::from_value(merged).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.namespace.is_empty()
            || !self
                .namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return bad(
                "namespace must be non-empty and use only letters, digits, '-', '_' and '.'",
            );
        }
        if self.worker_concurrency == 0 || self.worker_concurrency > u16::MAX as usize {
            return bad("worker_concurrency must be between 1 and 65535");
        }
        if !(1..=100).contains(&self.tenant_slot_share_percent) {
            return bad("tenant_slot_share_percent must be between 1 and 100");
        }
        if self.runs_per_message == 0 || self.runs_per_message > 1000 {
            return bad("runs_per_message must be between 1 and 1000");
        }
        if self.leader_ttl_ms < 500 {
            return bad("leader_ttl_ms must be at least 500");
        }
        if self.due_partitions == 0 || self.due_partitions > 4096 {
            return bad("due_partitions must be between 1 and 4096");
        }
        if self.scheduler_shards == 0 || self.scheduler_shards > self.due_partitions {
            return bad("scheduler_shards must be between 1 and due_partitions");
        }
        if self.delivery_limit == 0 {
            return bad("delivery_limit must be at least 1");
        }
        if self.scheduler_batch == 0 {
            return bad("scheduler_batch must be at least 1");
        }
        if self.async_sweep_secs == 0 {
            return bad("async_sweep_secs must be at least 1");
        }
        let days = [
            (
                self.unreachable_deactivate_days,
                "unreachable_deactivate_days",
            ),
            (self.one_time_expiry_days, "one_time_expiry_days"),
        ];
        if let Some(e) = over(&days, MAX_LIFECYCLE_DAYS, "never") {
            return bad(&e);
        }
        if !(300..=86_400).contains(&self.token_ttl_secs) {
            return bad("token_ttl_secs must be from 300 to 86400");
        }
        let rates = [
            (
                self.tenant_requests_per_second,
                "tenant_requests_per_second",
            ),
            (self.key_requests_per_second, "key_requests_per_second"),
        ];
        if let Some(e) = over(&rates, MAX_REQUESTS_PER_SECOND, "no limit") {
            return bad(&e);
        }
        for (v, name) in [
            (self.notify_concurrency as u64, "notify_concurrency"),
            (self.notify_timeout_ms, "notify_timeout_ms"),
            (self.notify_poll_ms, "notify_poll_ms"),
            (self.notify_scan_secs, "notify_scan_secs"),
            (self.lifecycle_sweep_secs, "lifecycle_sweep_secs"),
        ] {
            if v == 0 {
                return bad(&format!("{name} must be at least 1"));
            }
        }
        parse_allow_list(&self.allow_targets).map_err(|entry| {
            ConfigError::Invalid(format!(
                "allow_targets: invalid allow-list entry {entry:?}: expected an IP address or CIDR"
            ))
        })?;
        Ok(())
    }
}

pub use chime_core::targets::parse_allow_list;

/// The error of the first of `values` (value, setting) over `max`, whose 0 means `zero`.
fn over(values: &[(u64, &str)], max: u64, zero: &str) -> Option<String> {
    values
        .iter()
        .find(|(v, _)| *v > max)
        .map(|(_, name)| format!("{name} must be from 0 ({zero}) to {max}"))
}

/// The longest a lifecycle limit may be, in days (about 100 years).
pub const MAX_LIFECYCLE_DAYS: u64 = 36_500;

impl Settings {
    /// How long (ms) a schedule's endpoint may be unreachable before the schedule is
    /// deactivated; `None`: never.
    pub fn unreachable_deactivate_ms(&self) -> Option<i64> {
        lifecycle_limit_ms(
            self.unreachable_deactivate_secs,
            self.unreachable_deactivate_days,
        )
    }

    /// How long (ms) an inactive one-time schedule may go without a run before it is removed;
    /// `None`: never.
    pub fn one_time_expiry_ms(&self) -> Option<i64> {
        lifecycle_limit_ms(self.one_time_expiry_secs, self.one_time_expiry_days)
    }
}

/// A lifecycle limit given in seconds (when not 0) or else in days, in ms; `None` when both
/// are 0.
fn lifecycle_limit_ms(secs: u64, days: u64) -> Option<i64> {
    let secs = if secs > 0 { secs } else { days * 86_400 };
    (secs > 0).then(|| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX))
}

/// The highest request rate a setting or a tenant may give (requests per second).
pub const MAX_REQUESTS_PER_SECOND: u64 = 100_000_000;

/// Overlays `CHIME_<FIELD>` variables, typed after the default value of each field.
fn apply_env(obj: &mut Map<String, Value>, env: &[(String, String)]) -> Result<(), ConfigError> {
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        let var = format!("CHIME_{}", key.to_uppercase());
        let Some((_, raw)) = env.iter().find(|(k, _)| *k == var) else {
            continue;
        };
        let value = match &obj[&key] {
            Value::Number(_) => raw.trim().parse::<u64>().map(Value::from).map_err(|_| {
                ConfigError::Invalid(format!("{var} must be a whole number, got '{raw}'"))
            })?,
            Value::Bool(_) => match raw.trim() {
                "1" | "true" | "yes" => Value::Bool(true),
                "0" | "false" | "no" => Value::Bool(false),
                _ => return Err(ConfigError::Invalid(format!("{var} must be true or false"))),
            },
            _ => Value::String(raw.clone()),
        };
        obj.insert(key, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_env() {
        let s = Settings::load_from(env(&[
            ("CHIME_NAMESPACE", "t1"),
            ("CHIME_WORKER_CONCURRENCY", "8"),
            ("CHIME_ADMIN_TOKEN", "x"),
            ("CHIME_ALLOW_TARGETS", "127.0.0.0/8"),
        ]))
        .unwrap();
        assert_eq!(s.namespace, "t1");
        assert_eq!(s.worker_concurrency, 8);
        assert_eq!(s.admin_token.as_deref(), Some("x"));
        assert_eq!(s.redis_url, "redis://127.0.0.1:6379");
        assert_eq!(s.amqp_url, "amqp://guest:guest@127.0.0.1:5672/%2f");
    }

    #[test]
    fn tail_caps_default_and_read_their_variables() {
        let s = Settings::load_from(env(&[])).unwrap();
        assert_eq!((s.tail_max_per_key, s.tail_max_per_tenant), (10, 50));
        let s = Settings::load_from(env(&[
            ("CHIME_TAIL_MAX_PER_KEY", "3"),
            ("CHIME_TAIL_MAX_PER_TENANT", "7"),
        ]))
        .unwrap();
        assert_eq!((s.tail_max_per_key, s.tail_max_per_tenant), (3, 7));
    }

    #[test]
    fn request_rates_default_to_unlimited_and_are_bounded() {
        let s = Settings::load_from(env(&[])).unwrap();
        assert_eq!(
            (s.tenant_requests_per_second, s.key_requests_per_second),
            (0, 0)
        );
        let s = Settings::load_from(env(&[
            ("CHIME_TENANT_REQUESTS_PER_SECOND", "20"),
            ("CHIME_KEY_REQUESTS_PER_SECOND", "5"),
        ]))
        .unwrap();
        assert_eq!(
            (s.tenant_requests_per_second, s.key_requests_per_second),
            (20, 5)
        );
        for (var, field) in [
            (
                "CHIME_TENANT_REQUESTS_PER_SECOND",
                "tenant_requests_per_second",
            ),
            ("CHIME_KEY_REQUESTS_PER_SECOND", "key_requests_per_second"),
        ] {
            let err = Settings::load_from(env(&[(var, "100000001")])).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
            let err = Settings::load_from(env(&[(var, "-1")])).unwrap_err();
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn the_notifiers_settings_have_defaults_and_may_not_be_0() {
        let s = Settings::load_from(env(&[])).unwrap();
        assert_eq!(
            (
                s.notify_concurrency,
                s.notify_timeout_ms,
                s.notify_poll_ms,
                s.notify_scan_secs
            ),
            (16, 10_000, 1_000, 30)
        );
        for (var, field) in [
            ("CHIME_NOTIFY_CONCURRENCY", "notify_concurrency"),
            ("CHIME_NOTIFY_TIMEOUT_MS", "notify_timeout_ms"),
            ("CHIME_NOTIFY_POLL_MS", "notify_poll_ms"),
            ("CHIME_NOTIFY_SCAN_SECS", "notify_scan_secs"),
        ] {
            let err = Settings::load_from(env(&[(var, "0")])).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn the_async_sweep_defaults_to_5_s_and_may_not_be_0() {
        assert_eq!(Settings::load_from(env(&[])).unwrap().async_sweep_secs, 5);
        let s = Settings::load_from(env(&[("CHIME_ASYNC_SWEEP_SECS", "1")])).unwrap();
        assert_eq!(s.async_sweep_secs, 1);
        let err = Settings::load_from(env(&[("CHIME_ASYNC_SWEEP_SECS", "0")])).unwrap_err();
        assert!(err.to_string().contains("async_sweep_secs"), "{err}");
    }

    #[test]
    fn the_lifecycle_limits_are_days_unless_seconds_are_given() {
        let s = Settings::load_from(env(&[])).unwrap();
        assert_eq!(s.unreachable_deactivate_ms(), Some(10 * 86_400_000));
        assert_eq!(s.one_time_expiry_ms(), Some(30 * 86_400_000));
        assert_eq!(s.lifecycle_sweep_secs, 60);
        let s = Settings::load_from(env(&[
            ("CHIME_UNREACHABLE_DEACTIVATE_DAYS", "0"),
            ("CHIME_ONE_TIME_EXPIRY_DAYS", "2"),
        ]))
        .unwrap();
        assert_eq!(s.unreachable_deactivate_ms(), None);
        assert_eq!(s.one_time_expiry_ms(), Some(2 * 86_400_000));
        let s = Settings::load_from(env(&[
            ("CHIME_UNREACHABLE_DEACTIVATE_DAYS", "0"),
            ("CHIME_UNREACHABLE_DEACTIVATE_SECS", "3"),
            ("CHIME_ONE_TIME_EXPIRY_SECS", "4"),
        ]))
        .unwrap();
        assert_eq!(s.unreachable_deactivate_ms(), Some(3_000));
        assert_eq!(s.one_time_expiry_ms(), Some(4_000));
        for (var, value) in [
            ("CHIME_LIFECYCLE_SWEEP_SECS", "0"),
            ("CHIME_ONE_TIME_EXPIRY_DAYS", "36501"),
        ] {
            let err = Settings::load_from(env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(&var[6..].to_lowercase()), "{err}");
        }
    }

    #[test]
    fn toml_file_under_env() {
        let dir = std::env::temp_dir().join(format!("chime-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::write(&dir, "namespace = \"fromfile\"\nworker_concurrency = 3\n").unwrap();
        let path = dir.to_string_lossy().to_string();
        let s = Settings::load_from(env(&[
            ("CHIME_CONFIG", &path),
            ("CHIME_WORKER_CONCURRENCY", "5"),
        ]))
        .unwrap();
        assert_eq!(s.namespace, "fromfile");
        assert_eq!(s.worker_concurrency, 5);
        std::fs::write(&dir, "nonsense = 1\n").unwrap();
        let err = Settings::load_from(env(&[("CHIME_CONFIG", &path)])).unwrap_err();
        assert!(err.to_string().contains("nonsense"), "{err}");
        std::fs::remove_file(&dir).ok();
    }

    #[test]
    fn bad_values_are_named() {
        let err = Settings::load_from(env(&[("CHIME_WORKER_CONCURRENCY", "many")])).unwrap_err();
        assert!(
            err.to_string().contains("CHIME_WORKER_CONCURRENCY"),
            "{err}"
        );
        let err = Settings::load_from(env(&[("CHIME_ALLOW_TARGETS", "10.0.0.0/33")])).unwrap_err();
        assert!(err.to_string().contains("allow_targets"), "{err}");
        let err = Settings::load_from(env(&[("CHIME_NAMESPACE", "a b")])).unwrap_err();
        assert!(err.to_string().contains("namespace"), "{err}");
    }
}
