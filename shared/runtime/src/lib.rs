//! What every chime service process shares, and nothing that talks to Redis, RabbitMQ or a
//! tenant's endpoint.
//!
//! Layout:
//! - [`config`]: typed settings (defaults, TOML file, `CHIME_*` environment).
//! - [`telemetry`]: logs and the Prometheus metrics recorder.
//! - [`ops`]: the health, readiness and metrics endpoints, and the shutdown signal.

pub mod config;
pub mod ops;
pub mod telemetry;
