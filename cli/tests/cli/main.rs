//! The `chime` command line against a real cluster (the API, a scheduler and a worker on the
//! real Redis and RabbitMQ, a namespace per test): each test runs the binary as a child process
//! with its URL, token and config file of its own.

mod admin;
mod common;
mod exits;
mod session;
mod tail;
