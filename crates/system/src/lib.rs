//! The tasknet system assembled from one typed [`Config`]: all three
//! services behind one listener (`tasknet up`) or one service alone
//! (`tasknet serve organisation|task|reporting`), with the bootstrap
//! credentials, the auth layer, health and graceful shutdown. The binary,
//! the test suites and the benchmarks all start services through
//! [`System::start`]; the `testing` feature adds the test harnesses (in
//! this process, and real `tasknet` child processes).

pub mod config;
pub mod credentials;
mod start;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Config, Overrides};
pub use start::{ServiceKind, Services, System, local_endpoint};
