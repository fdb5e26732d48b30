//! Throw-away PostgreSQL databases: created on a server for one test or one
//! benchmark run and dropped (with `FORCE`, so leftover connections do not
//! keep it alive) when their owner is done, also when it fails or panics.

use sqlx::any::install_default_drivers;
use sqlx::{Connection, Executor};

use crate::StorageError;

/// A database created for one run; dropped when this value is.
pub struct ScratchDatabase {
    url: String,
    /// The administrative URL and database name to drop afterwards.
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    /// Creates database `name` on the server of `admin_url` (any database
    /// on that server the role may connect to). `name` must be a plain
    /// identifier: it is not quoted.
    pub async fn create(admin_url: &str, name: &str) -> Result<Self, StorageError> {
        install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(admin_url)
            .await
            .map_err(refused)?;
        // A database left by a run that was killed would make CREATE fail.
        connection
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await
            .map_err(refused)?;
        connection
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .map_err(refused)?;
        let _ = connection.close().await;
        Ok(Self {
            url: replace_database(admin_url, name),
            admin_url: admin_url.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let admin_url = std::mem::take(&mut self.admin_url);
        let name = std::mem::take(&mut self.name);
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
                        eprintln!("could not drop database {name}: {error}");
                    }
                    let _ = connection.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn refused(source: sqlx::Error) -> StorageError {
    StorageError::Connect {
        backend: crate::Backend::Postgres,
        source,
    }
}

/// The same server URL with another database name.
pub fn replace_database(url: &str, database: &str) -> String {
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
