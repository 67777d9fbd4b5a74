//! chime's domain, free of I/O. Every other crate builds on it; it depends on none of them and
//! on no network, runtime or storage crate (serde, chrono, uuid and thiserror only).
//!
//! Layout:
//! - [`model`]: jobs, schedules, run messages and run records; deterministic run ids.
//! - [`run`]: SAP's run lifecycle typed (status, state, outcome, HTTP method) and the one
//!   mapping from a call's end to it.
//! - [`schedfmt`]: SAP's schedule formats (7-field cron, intervals, date values).
//! - [`schedule`]: the pure planner: which instants fire, what is next, misfires.

pub mod model;
pub mod run;
pub mod schedfmt;
pub mod schedule;
