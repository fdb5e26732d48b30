//! Per-test databases on both back ends. Each test gets a database of its own
//! (a SQLite file in a temporary directory, or a fresh PostgreSQL database on
//! the server named by `TASKNET_TEST_POSTGRES_URL`), dropped when it ends.
//!
//! Without `TASKNET_TEST_POSTGRES_URL`, PostgreSQL tests print a loud notice
//! and return early; when `CI` is set, its absence fails the test instead.

use std::path::PathBuf;

use sqlx::any::install_default_drivers;
use sqlx::{Connection, Executor};

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
    /// The administrative URL and database name to drop afterwards.
    postgres: Option<(String, String)>,
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
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (after a loud notice) when no
    /// server is configured outside CI.
    pub async fn postgres(test_name: &str) -> Option<Self> {
        let admin_url = postgres_admin_url(test_name)?;
        install_default_drivers();
        let name = format!("tasknet_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to {admin_url}: {e}"));
        connection
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let _ = connection.close().await;
        let url = replace_database(&admin_url, &name);
        Some(Self {
            url,
            backend: Backend::Postgres,
            directory: None,
            postgres: Some((admin_url, name)),
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

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop may run inside a runtime, where blocking is not allowed, so the
        // clean-up gets a thread and a small runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async move {
                if let Ok(mut connection) = sqlx::AnyConnection::connect(&admin_url).await {
                    let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(error) = connection.execute(statement.as_str()).await {
                        eprintln!("could not drop test database {name}: {error}");
                    }
                    let _ = connection.close().await;
                }
            });
        });
        let _ = cleanup.join();
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

/// The same server URL with another database name.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
