//! Which migrations a database gets, and running them. A service's own set
//! comes first; sets owned by foundation crates (`tasknet_auth`'s audit log,
//! which every service's database holds) follow, numbered from
//! [`SHARED_VERSIONS_FROM`] so their versions never meet a service's. All
//! of them are recorded in the one `_sqlx_migrations` table.
//!
//! A migration file must not change once released: sqlx refuses a database
//! whose recorded checksum differs. When one had to change anyway without
//! changing the schema it leaves (statements moved into a shared set, which
//! repeats them with `IF NOT EXISTS`), its released checksum is listed in
//! [`Migrations::edited`], and the record of a database that applied it is
//! brought up to date before migrating.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationSource, Migrator};
use sqlx::{AnyPool, Row};

use crate::{Backend, StorageError};

/// The first version of shared (foundation-owned) migration sets.
pub const SHARED_VERSIONS_FROM: i64 = 1_000_000;

/// A service's migrations for each back end (their DDL differs in the
/// details: `BIGSERIAL` against `INTEGER PRIMARY KEY`, and so on), and the
/// shared sets its database also holds.
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
    /// Sets owned by foundation crates, applied after this one.
    pub shared: &'static [&'static Migrations],
    /// Migrations of this set edited after a release.
    pub edited: &'static [Edited],
}

impl Migrations {
    /// A set with nothing shared and nothing edited.
    pub const fn new(sqlite: &'static Migrator, postgres: &'static Migrator) -> Self {
        Self {
            sqlite,
            postgres,
            shared: &[],
            edited: &[],
        }
    }

    fn own(&self, backend: Backend) -> &'static Migrator {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }

    /// This set's migrations for `backend`, then the shared sets'.
    pub fn all(&self, backend: Backend) -> Vec<Migration> {
        let mut all: Vec<Migration> = self.own(backend).iter().cloned().collect();
        for shared in self.shared {
            all.extend(shared.all(backend));
        }
        all
    }

    fn all_edited(&self) -> Vec<&'static Edited> {
        let mut edited: Vec<&'static Edited> = self.edited.iter().collect();
        for shared in self.shared {
            edited.extend(shared.all_edited());
        }
        edited
    }
}

/// A migration changed after it was released, and the SHA-384 checksum
/// (hex, as `sqlx` records it) of the released file.
#[derive(Debug, Clone, Copy)]
pub struct Edited {
    pub backend: Backend,
    pub version: i64,
    pub released_checksum: &'static str,
}

type Resolved = std::pin::Pin<
    Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send>,
>;

/// A list of migrations, as sqlx's `Migrator::new` takes it.
#[derive(Debug)]
struct Listed(Vec<Migration>);

impl MigrationSource<'static> for Listed {
    fn resolve(self) -> Resolved {
        Box::pin(async move { Ok(self.0) })
    }
}

/// Applies `migrations` (and the shared sets) to the database behind `pool`.
pub(crate) async fn run(
    pool: &AnyPool,
    backend: Backend,
    migrations: &Migrations,
) -> Result<(), StorageError> {
    let all = migrations.all(backend);
    accept_released(pool, backend, &all, &migrations.all_edited()).await?;
    let migrator = Migrator::new(Listed(all))
        .await
        .map_err(StorageError::Migrate)?;
    migrator.run(pool).await.map_err(StorageError::Migrate)
}

/// Where the database recorded a released checksum of an edited migration,
/// records the current one instead (both leave the same schema).
async fn accept_released(
    pool: &AnyPool,
    backend: Backend,
    all: &[Migration],
    edited: &[&Edited],
) -> Result<(), StorageError> {
    let relevant: Vec<(&Edited, &Migration)> = edited
        .iter()
        .filter(|edit| edit.backend == backend)
        .filter_map(|edit| {
            let current = all.iter().find(|m| m.version == edit.version)?;
            Some((*edit, current))
        })
        .collect();
    if relevant.is_empty() || !has_migration_table(pool, backend).await? {
        return Ok(());
    }
    for (edit, current) in relevant {
        let released = hex::decode(edit.released_checksum)
            .map_err(|_| StorageError::InvalidChecksum(edit.version))?;
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2 AND checksum = $3",
        )
        .bind(current.checksum.as_ref())
        .bind(edit.version)
        .bind(released.as_slice())
        .execute(pool)
        .await
        .map_err(StorageError::Query)?;
    }
    Ok(())
}

async fn has_migration_table(pool: &AnyPool, backend: Backend) -> Result<bool, StorageError> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master \
             WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let row = sqlx::query(sql)
        .fetch_one(pool)
        .await
        .map_err(StorageError::Query)?;
    let count: i64 = row.try_get("n").map_err(StorageError::Query)?;
    Ok(count > 0)
}

/// The checksum sqlx records for a migration's SQL, in hex (for
/// [`Edited::released_checksum`] and tests).
pub fn checksum_hex(sql: &str) -> String {
    let migration = Migration::new(
        0,
        Cow::Borrowed(""),
        sqlx::migrate::MigrationType::Simple,
        Cow::Owned(sql.to_owned()),
        false,
    );
    hex::encode(migration.checksum)
}
