//! Storage helpers shared by the services: one sqlx `Any` pool over SQLite
//! (the embedded default) or PostgreSQL (production), each service's
//! migrations for the back end in use, throw-away PostgreSQL databases for
//! tests and benchmarks, and per-test databases.
//!
//! SQL in the services is written once for both back ends: `$1` placeholders
//! (SQLite accepts them), `BIGINT` columns decoded as `i64`, dates as
//! `yyyymmdd` integers, UUIDs as text, and no SQL-side date arithmetic.
//! Statements with many placeholders pass through [`placeholders::for_backend`];
//! statements built at run time (multi-row `INSERT`s, `IN (…)` lists) use
//! [`bulk::Sql`] and [`bulk::BulkInsert`].

pub mod bulk;
pub mod copy_binary;
mod database;
pub mod migrations;
pub mod placeholders;
pub mod scratch;
mod startup_lock;
#[cfg(feature = "testing")]
pub mod testing;
pub mod writer;

pub use database::{Backend, Database, DatabaseOptions, HealthFuture, StorageError, sqlite_url};
pub use migrations::{Edited, Migrations};
pub use sqlx;
