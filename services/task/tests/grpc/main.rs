//! The task service over real gRPC: the organisation service and the task
//! service on 127.0.0.1:0, on SQLite and on PostgreSQL, driven through the
//! generated clients.

mod ingest;
mod invalid;
mod support;
mod tasks;
mod throughput;
mod transfer;
mod watch;
