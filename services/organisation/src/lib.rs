//! The organisation service: units of the statistics system (headquarters,
//! central departments, public service units, provincial offices), their
//! hierarchy and validity dates, the socio-economic regions, and the
//! built-in reference data (see [`reference`]), and each unit's contacts:
//! the people its notifications go to.
//!
//! A unit's identity is its id; its code is unique only among units valid on
//! the same day, because codes are reused across reorganisations.

mod app;
mod ascii;
mod bootstrap;
mod contacts;
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
use tasknet_storage::{Backend, Edited, Migrations};

pub use app::{OrganisationApp, OrganisationSettings, write_secret};
pub use bootstrap::{ADMIN_TOKEN_FILE, Bootstrapped, SERVICE_TOKEN_FILE};
pub use contacts::UPDATABLE_CONTACT_PATHS;
pub use error::Error;
pub use policy::POLICY;
pub use service::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Organisation};
pub use store::UPDATABLE_PATHS;

/// The fully qualified gRPC name, as health checks and reflection list it.
pub const SERVICE_NAME: &str = app::NAME;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The service's schema migrations for each back end, then the audit log's.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
    shared: &[&tasknet_auth::audit::MIGRATIONS],
    // The audit log's DDL moved to tasknet_auth's set; databases that
    // applied the released file are accepted (docs/design.md).
    edited: &[
        Edited {
            backend: Backend::Sqlite,
            version: 2,
            released_checksum: "dfd367b38f4628e326a741bf7d57cf4575c46b2cd8b94443649ae30dbd336e8282d903899b883a44df6529ee3fe75b7e",
        },
        Edited {
            backend: Backend::Postgres,
            version: 2,
            released_checksum: "c7715a3db3af1169191588cda5e58da309c324185628fa19ece47b19fe11e4e2ff0e8f7d263d1bcdca47befff7e635f1",
        },
    ],
};
