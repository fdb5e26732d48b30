//! Receivers for tests (the `testing` feature): a real SMTP server and a
//! webhook receiver that verifies signatures, both on loopback.

// A harness for tests: a set-up that fails is a failed test, with its cause.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod smtp;
pub mod webhook;
