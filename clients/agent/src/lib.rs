//! The provincial office agent: takes the office's task updates (library
//! calls, the `tasknet agent` command, CSV files), stores each in a durable
//! local SQLite outbox before acknowledging it, and pushes them to the
//! central task service's `Ingest` stream — a task's updates in the order
//! the office made them, exactly once, whatever fails in between.
//!
//! ```no_run
//! # async fn example() -> Result<(), tasknet_agent::Error> {
//! use tasknet_agent::{Agent, AgentConfig, NewTask, Update};
//! let config = AgentConfig::new(
//!     "0b9a1c52-5f3e-5b0e-9d36-8c1f2e3a4b5c",
//!     "http://tasknet.gso.gov.vn:50051",
//!     "/var/lib/tasknet-agent",
//! );
//! let agent = Agent::open(config).await?;
//! let deadline = chrono::NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();
//! let create = Update::create(NewTask::new("Báo cáo quý II", deadline));
//! let task_id = create.task_id;
//! agent.submit(create).await?;                       // on disk when this returns
//! agent.submit(Update::complete(task_id, "đã gửi")).await?;
//! let shutdown = tasknet_server::Shutdown::new();
//! agent.push_until_drained(shutdown).await?;         // or run_pusher for a daemon
//! # Ok(()) }
//! ```
//!
//! See docs/agent.md for the design (ordering, retries, parking) and the
//! import format.

mod agent;
mod config;
mod error;
mod follow;
mod import;
mod lock;
mod outbox;
mod push;
mod tasks;
mod update;

pub use agent::{Agent, AgentStatus};
pub use config::{AgentConfig, PushSettings, outbox_path};
pub use error::{Error, Result, RowError};
pub use import::{COLUMNS as IMPORT_COLUMNS, ImportOptions, ImportReport};
pub use outbox::{Ack, EntryState, FeedState, OutboxEntry, Refusal};
pub use push::{PushReport, refused_for_good};
pub use secrecy::{ExposeSecret, SecretString};
pub use tasks::{Forecast, LocalTask};
pub use update::{Change, NewTask, TaskName, Update, UpdateKind, noon_in_vietnam};

/// Parsers shared with the command line, so it reads dates as import files do.
pub mod parse {
    pub use crate::import::{date, effective};
}
