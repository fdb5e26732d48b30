//! The agent against the real organisation and task services (in this
//! process, over real gRPC), with the task service on SQLite and on
//! PostgreSQL: ordering, acknowledgements, parking and holding, retries
//! while the centre is unreachable, the one-pusher rule, and following the
//! office's tasks into the local copy.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod following;
mod parking;
mod pushing;
