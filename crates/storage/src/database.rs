//! Connecting to a database, applying migrations, and telling back ends apart.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};

use crate::Migrations;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("failed to create the data directory {path}")]
    DataDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to connect to the {backend:?} database")]
    Connect {
        backend: Backend,
        #[source]
        source: sqlx::Error,
    },
    #[error("invalid schema name {0:?}: use lower-case letters, digits and underscores")]
    InvalidSchema(String),
    #[error("failed to apply migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("failed to read the migration records")]
    Query(#[source] sqlx::Error),
    #[error("the released checksum of migration {0} is not hex")]
    InvalidChecksum(i64),
}

/// The two storage back ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StorageError::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// Pool settings; the defaults suit `tasknet up`.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL only: the schema the service's tables live in (created if
    /// missing, and first on the search path), so several services can share
    /// one database without their tables or migration records colliding.
    /// SQLite ignores it: each service has a file of its own.
    pub schema: Option<String>,
    /// The database holds only what can be derived again from another
    /// service's log (reporting's read model, which stores its cursor in the
    /// same transaction as what it applied). On SQLite its commits skip the
    /// fsync of each WAL commit (`synchronous = NORMAL`): a power loss may
    /// undo the last few, which are then applied again from the log. Never
    /// set it for a database whose commits are acknowledged to clients.
    pub rebuildable: bool,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
            schema: None,
            rebuildable: false,
        }
    }
}

/// What a health check returns: `Err` says what is wrong.
pub type HealthFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'static>>;

/// Most connections of the typed PostgreSQL pool: it serves the hot paths
/// only (the task writer's transaction and the reads it prefetches beside it).
const TYPED_MAX_CONNECTIONS: u32 = 4;

/// A connection pool and the back end it talks to.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL only: a pool of the native driver on the same database and
    /// search path, for the paths that need what `Any` cannot carry (arrays
    /// for `UNNEST` and `= ANY($1)`). It connects lazily: a service that never
    /// asks for it opens no connection.
    typed: Option<PgPool>,
}

impl Database {
    /// Connects (creating a SQLite file and its directory if missing) and
    /// applies the service's migrations. On PostgreSQL the schema creation
    /// and the migrations run under a session advisory lock, so replicas
    /// starting at once on an empty database take turns instead of racing
    /// (`CREATE SCHEMA IF NOT EXISTS` is not safe against a concurrent one).
    pub async fn open(
        url: &str,
        options: &DatabaseOptions,
        migrations: &Migrations,
    ) -> Result<Self, StorageError> {
        let lock = match Backend::from_url(url)? {
            Backend::Postgres => Some(crate::startup_lock::StartupLock::acquire(url).await?),
            Backend::Sqlite => None,
        };
        let opened = async {
            let database = Self::connect(url, options).await?;
            database.migrate(migrations).await?;
            Ok(database)
        }
        .await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        opened
    }

    pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<Self, StorageError> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let schema = match (backend, &options.schema) {
            (Backend::Postgres, Some(schema)) => Some(create_schema(&url, schema).await?),
            _ => None,
        };
        let rebuildable = options.rebuildable;
        let typed = match backend {
            Backend::Postgres => Some(typed_pool(&url, schema.clone(), options)?),
            Backend::Sqlite => None,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |connection, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    if let Some(schema) = schema {
                        connection
                            .execute(format!("SET search_path TO {schema}").as_str())
                            .await?;
                    }
                    if backend == Backend::Postgres {
                        connection.execute(RANDOM_PAGE_COST).await?;
                    }
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes a
                        // commit durable before it is acknowledged; the busy
                        // timeout turns writer contention into waiting, not errors.
                        // An 8 MiB page cache per connection (the writers keep
                        // theirs across batches) and 64 MiB of memory-mapped
                        // reads keep the hot index pages in memory; mapped pages
                        // count in a process's resident size, so not more. WAL
                        // checkpoints every 64 MiB: pages a busy writer
                        // rewrites in every commit reach the database file once
                        // per checkpoint rather than once per commit.
                        let synchronous = if rebuildable { "NORMAL" } else { "FULL" };
                        connection
                            .execute(
                                format!(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
                                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                                     PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY; \
                                     PRAGMA mmap_size = 67108864; PRAGMA wal_autocheckpoint = 16384;"
                                )
                                .as_str(),
                            )
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| StorageError::Connect { backend, source })?;
        Ok(Self {
            pool,
            backend,
            typed,
        })
    }

    /// Applies the service's migrations and the shared sets it lists.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), StorageError> {
        crate::migrations::run(&self.pool, self.backend, migrations).await
    }

    /// Whether the database answers a trivial query now (for health checks).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// A health check of this database: `Err` says it does not answer.
    pub fn health_check(&self) -> impl Fn() -> HealthFuture + Send + Sync + 'static {
        let database = self.clone();
        move || {
            let database = database.clone();
            Box::pin(async move {
                database
                    .ping()
                    .await
                    .map_err(|error| format!("the database does not answer: {error}"))
            })
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The native PostgreSQL pool on the same database and schema (`None` on
    /// SQLite), for typed queries: see docs/design.md, "Typed PostgreSQL paths".
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        self.typed.as_ref()
    }

    pub async fn close(&self) {
        if let Some(typed) = &self.typed {
            typed.close().await;
        }
        self.pool.close().await;
    }
}

/// The writers read a batch's rows by key, a few thousand ids at a time.
/// With the default random_page_cost (4, for spinning disks) PostgreSQL
/// prices that many index probes above a sequential scan of tables of a few
/// hundred thousand rows, and under ingest read millions of tuples a second
/// doing so. The tables' hot pages are cached, where a probe costs about what
/// a sequential page does.
const RANDOM_PAGE_COST: &str = "SET random_page_cost = 1.1";

/// The native PostgreSQL pool beside the `Any` one: same URL, same search
/// path and session settings, connected on first use.
fn typed_pool(
    url: &str,
    schema: Option<String>,
    options: &DatabaseOptions,
) -> Result<PgPool, StorageError> {
    PgPoolOptions::new()
        .max_connections(TYPED_MAX_CONNECTIONS)
        .acquire_timeout(options.acquire_timeout)
        .after_connect(move |connection, _meta| {
            let schema = schema.clone();
            Box::pin(async move {
                if let Some(schema) = schema {
                    connection
                        .execute(format!("SET search_path TO {schema}").as_str())
                        .await?;
                }
                connection.execute(RANDOM_PAGE_COST).await?;
                Ok(())
            })
        })
        .connect_lazy(url)
        .map_err(|source| StorageError::Connect {
            backend: Backend::Postgres,
            source,
        })
}

/// Creates a PostgreSQL schema once, before the pool opens (doing it per
/// connection would race), and returns its validated name.
async fn create_schema(url: &str, schema: &str) -> Result<String, StorageError> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(StorageError::InvalidSchema(schema.to_owned()));
    }
    let connect = |source| StorageError::Connect {
        backend: Backend::Postgres,
        source,
    };
    let mut connection = AnyConnection::connect(url).await.map_err(connect)?;
    connection
        .execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
        .await
        .map_err(connect)?;
    let _ = connection.close().await;
    Ok(schema.to_owned())
}

/// Makes sure a SQLite database file can be created: its directory exists and
/// the URL asks for create-if-missing.
fn prepare_sqlite_url(url: &str) -> Result<String, StorageError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(StorageError::UnsupportedUrl(url.to_owned()));
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        private_dir(parent).map_err(|source| StorageError::DataDirectory {
            path: parent.display().to_string(),
            source,
        })?;
    }
    private_file(Path::new(path)).map_err(|source| StorageError::DataDirectory {
        path: path.to_owned(),
        source,
    })?;
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Creates `dir` (and its missing parents) readable by this user only: it
/// holds the databases and the credentials. An existing directory is left as
/// it is (its owner chose its mode).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates the database file, if missing, readable by this user only; SQLite
/// gives its journal files (`-wal`, `-shm`) the database file's mode.
fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// The SQLite URL of a file, for configuration defaults and tests.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

impl FromStr for Backend {
    type Err = StorageError;
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::from_url(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn new_sqlite_files_and_directories_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("data/sub/task.db");
        prepare_sqlite_url(&sqlite_url(&file)).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root.path().join("data")), 0o700);
        assert_eq!(mode(&root.path().join("data/sub")), 0o700);
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn back_ends_are_told_apart_by_url() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgres://u@h/d").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://u@h/d").is_err());
    }

    #[test]
    fn sqlite_urls_create_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/task.db");
        let url = prepare_sqlite_url(&sqlite_url(&path)).unwrap();
        assert!(url.ends_with("task.db?mode=rwc"), "{url}");
        assert!(path.parent().unwrap().is_dir());
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
    }
}
