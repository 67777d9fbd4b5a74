//! chime's end-to-end suite on the real Redis and RabbitMQ, one test binary (one link) for
//! all of it but the RabbitMQ restart (`tests/tests/restart.rs`, alone in its binary, since it
//! takes the broker away from every test running beside it). Each module is one area; each
//! test has a namespace of its own (`chime_testkit::TestEnv`), so they run in parallel.

mod api;
mod async_deadline;
mod capacity;
mod dashboard;
mod dead_letters;
mod delivery;
mod dialects;
mod e2e;
mod failover;
mod faults;
mod guards;
mod hardening;
mod lifecycle;
mod lifecycle_completion;
mod lifecycle_rules;
mod misfire_kill;
mod notifications;
mod oauth;
mod openapi;
mod operations;
mod overlap;
mod quota;
mod ratelimit;
mod retries;
mod run_search;
mod runlog;
mod runnow;
mod sap_surface;
mod search;
mod secrets;
mod shards;
mod shutdown;
mod signing;
mod stats;
mod store;
mod tails;
mod tenant_self;
mod timing;
mod workspace;
