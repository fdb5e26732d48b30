//! The organisation service: units of the statistics system (headquarters,
//! central departments, public service units, provincial offices), their
//! hierarchy and validity dates, the socio-economic regions, and the
//! built-in reference data (see [`reference`]).
//!
//! A unit's identity is its id; its code is unique only among units valid on
//! the same day, because codes are reused across reorganisations.

mod app;
mod ascii;
mod credentials;
mod error;
mod lineage;
mod model;
mod page_token;
mod policy;
pub mod reference;
pub mod reorganisation;
mod repository;
mod service;
mod store;
#[cfg(test)]
mod store_tests;

use sqlx::migrate::Migrator;
use tasknet_storage::Migrations;

pub use app::{OrganisationApp, OrganisationSettings, write_secret};
pub use error::Error;
pub use policy::POLICY;
pub use service::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Organisation};
pub use store::UPDATABLE_PATHS;

/// The fully qualified gRPC name, as health checks and reflection list it.
pub const SERVICE_NAME: &str = app::NAME;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The service's schema migrations for each back end.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};
