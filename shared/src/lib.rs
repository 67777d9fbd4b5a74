//! chime's common code. The scheduler, the worker and the API depend on this crate and never
//! on each other; only this crate names Redis and RabbitMQ client types.
//!
//! Layout:
//! - [`config`]: typed settings (defaults, TOML file, `CHIME_*` environment).
//! - [`keys`]: every Redis key and AMQP name, built from the namespace.
//! - [`model`]: jobs, schedules, run messages and run records; deterministic run ids.
//! - [`schedfmt`]: SAP's schedule formats (7-field cron, intervals, date values).
//! - [`schedule`]: fire-time computation, misfires.
//! - [`store`]: the Redis store and its Lua scripts.
//! - [`broker`]: the RabbitMQ topology, the confirming publisher, consumers.
//! - [`ssrf`] and [`executor`]: the guarded HTTP client that calls job actions.
//! - [`telemetry`] and [`ops`]: logs, metrics, health endpoints, shutdown signal.

pub mod broker;
pub mod config;
pub mod executor;
pub mod keys;
pub mod model;
pub mod ops;
pub mod schedfmt;
pub mod schedule;
pub mod ssrf;
pub mod store;
pub mod telemetry;
