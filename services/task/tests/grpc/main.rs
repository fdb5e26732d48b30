//! The task service over real gRPC: the organisation service and the task
//! service on 127.0.0.1:0, on SQLite and on PostgreSQL, driven through the
//! generated clients.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ingest;
mod invalid;
mod support;
mod tasks;
mod throughput;
mod transfer;
mod watch;
mod watch_unit;
