//! Per-test databases on both back ends. Each test gets a database of its own
//! (a SQLite file in a temporary directory, or a fresh PostgreSQL database on
//! the server named by `TASKNET_TEST_POSTGRES_URL`), dropped when it ends.
//!
//! Without `TASKNET_TEST_POSTGRES_URL`, PostgreSQL tests print a loud notice
//! and return early; when `CI` is set, its absence fails the test instead.

use std::borrow::Cow;
use std::path::PathBuf;

use sqlx::AnyPool;
use sqlx::migrate::Migrator;

use crate::scratch::ScratchDatabase;
use crate::{Backend, sqlite_url};

/// The variable naming the PostgreSQL server the tests create databases on,
/// e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const POSTGRES_URL_VARIABLE: &str = "TASKNET_TEST_POSTGRES_URL";

/// A database that exists for one test.
pub struct TestDatabase {
    url: String,
    backend: Backend,
    /// Keeps the SQLite directory alive.
    directory: Option<tempfile::TempDir>,
    /// The PostgreSQL database, dropped with this value.
    _postgres: Option<ScratchDatabase>,
}

impl TestDatabase {
    /// A SQLite database in a fresh temporary directory.
    pub fn sqlite() -> Self {
        let directory = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let url = sqlite_url(&directory.path().join("test.db"));
        Self {
            url,
            backend: Backend::Sqlite,
            directory: Some(directory),
            _postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (after a loud notice) when no
    /// server is configured outside CI.
    pub async fn postgres(test_name: &str) -> Option<Self> {
        let admin_url = postgres_admin_url(test_name)?;
        let name = format!("tasknet_test_{}", uuid::Uuid::new_v4().simple());
        let database = ScratchDatabase::create(&admin_url, &name)
            .await
            .unwrap_or_else(|e| panic!("create database {name} on {admin_url}: {e:#}"));
        Some(Self {
            url: database.url().to_owned(),
            backend: Backend::Postgres,
            directory: None,
            _postgres: Some(database),
        })
    }

    /// A database of the given back end (`None` only for a skipped PostgreSQL test).
    pub async fn of(backend: Backend, test_name: &str) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres(test_name).await,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The temporary directory of a SQLite database.
    pub fn directory(&self) -> Option<PathBuf> {
        self.directory.as_ref().map(|d| d.path().to_path_buf())
    }
}

/// The configured PostgreSQL server for tests; in CI its absence is a failure.
pub fn postgres_admin_url(test_name: &str) -> Option<String> {
    match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "{POSTGRES_URL_VARIABLE} is not set, and CI requires the PostgreSQL tests to run"
        ),
        _ => {
            eprintln!(
                "\n!!! SKIPPED ON POSTGRESQL: {test_name} did not run against PostgreSQL because \
                 {POSTGRES_URL_VARIABLE} is not set (e.g. postgres://postgres@127.0.0.1:5432/test) !!!\n"
            );
            None
        }
    }
}

/// Declares each named test twice, once per back end: `async fn name(db: TestDatabase)`
/// bodies become `on_sqlite::name` and `on_postgres::name` test cases.
///
/// ```ignore
/// async fn creates_a_unit(db: TestDatabase) { /* open db.url(), test */ }
/// tasknet_storage::test_on_both_backends!(creates_a_unit);
/// ```
#[macro_export]
macro_rules! test_on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDatabase::sqlite()).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let name = concat!(module_path!(), "::", stringify!($name));
                    if let Some(db) = $crate::testing::TestDatabase::postgres(name).await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

/// A service's migrations as a previous release had them: its own up to
/// `version`, then the shared sets as today. The upgrade tests fill a
/// database with these, then open it with today's set.
pub fn migrations_up_to(
    today: &'static crate::Migrations,
    version: i64,
) -> &'static crate::Migrations {
    fn up_to(migrator: &Migrator, version: i64) -> &'static Migrator {
        Box::leak(Box::new(Migrator {
            migrations: Cow::Owned(
                migrator
                    .iter()
                    .filter(|migration| migration.version <= version)
                    .cloned()
                    .collect(),
            ),
            ..Migrator::DEFAULT
        }))
    }
    Box::leak(Box::new(crate::Migrations {
        sqlite: up_to(today.sqlite, version),
        postgres: up_to(today.postgres, version),
        shared: today.shared,
        edited: today.edited,
    }))
}

/// The collation of `table.column` in the current schema (PostgreSQL), or
/// `None` for the database's default.
pub async fn column_collation(pool: &AnyPool, table: &str, column: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT collation_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
    )
    .bind(table)
    .bind(column)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|error| panic!("no column {table}.{column}: {error}"))
}
