//! End-to-end tests: the real services over real gRPC, as separate servers in
//! this process and as separate `tasknet` OS processes, on SQLite and on
//! PostgreSQL. One test binary, a module per concern.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod agent_faults;
mod auth;
mod bench;
mod bench_reports;
mod contacts;
mod dashboard;
mod directory;
mod effective_order;
mod golden;
mod hardening;
mod notifications;
mod office_day;
mod processes;
mod reorganisation;
mod reports;
mod scorecards;
mod traces;
mod upgrade;
mod user_output;
