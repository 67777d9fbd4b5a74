//! The run-log dialects of the other four seed services, each with its own paths,
//! parameters, paging, response shape and error shape (defined and documented in its own
//! module), all answered by the one query engine ([`chime_store::Store::query_runs`]).
//!
//! - [`a1base`]: `GET /v1/cron-jobs/{accountId}/logs/{cronJobId}` (the account is the tenant).
//! - [`apify`]: `GET /v2/schedules/{scheduleId}/log` (the schedule's event log).
//! - [`huawei`]: `GET /v1/log/{jobId}/{buildNo}/real-time-log` (a run's text log).
//! - [`losant`]: `GET /applications/{applicationId}/jobLogs[/{jobLogId}]` (the application is
//!   the tenant).
//! - [`common`]: what they share (looking up a job, the retention floor).

pub mod a1base;
pub mod apify;
pub mod common;
pub mod huawei;
pub mod losant;
