//! Databases made by the release before the audit log's DDL moved into
//! `tasknet_auth`'s own migrations still open, keep their audit records and
//! take new ones; fresh databases get the same table. The released files
//! are rebuilt here byte for byte from today's (the removed block is auth's
//! DDL without `IF NOT EXISTS`, under its old comment): were they not
//! exact, their checksums would not be the ones the services accept.

use std::path::Path;

use tasknet_auth::audit::{self, AuditEntry, AuditFilter};
use tasknet_storage::migrations::SHARED_VERSIONS_FROM;
use tasknet_storage::sqlx::migrate::Migrator;
use tasknet_storage::sqlx::{self, Row};
use tasknet_storage::testing::TestDatabase;
use tasknet_storage::{Backend, Database, DatabaseOptions, Migrations};

/// The comment the audit block had in every service's migration.
const RELEASED_COMMENT: &str = "-- The audit log (the same shape in every service; tasknet_auth::audit reads\n\
     -- and writes it): accepted changes, written in the transaction of the\n\
     -- change, and rejected attempts. Empty text means \"none\".\n";
/// The first line of what replaced the block in the edited files.
const MOVED_NOTE: &str = "-- The audit log this migration created moved";

/// Each service, and the migration that held the audit log's DDL.
fn services() -> [(&'static str, &'static Migrations, i64); 3] {
    [
        ("organisation", &tasknet_organisation::MIGRATIONS, 2),
        ("task", &tasknet_task::MIGRATIONS, 2),
        ("reporting", &tasknet_reporting::MIGRATIONS, 3),
    ]
}

/// The audit block as the released files had it.
fn released_audit_block(backend: Backend) -> String {
    let auth = tasknet_auth::audit::MIGRATIONS.all(backend);
    let sql = &auth[0].sql;
    let (_, body) = sql
        .split_once("hence IF NOT EXISTS.\n")
        .unwrap_or_else(|| panic!("auth's audit migration changed its comment: {sql}"));
    format!("{RELEASED_COMMENT}{}", body.replace(" IF NOT EXISTS", ""))
}

/// Writes the service's migrations as the previous release had them.
fn write_released_files(dir: &Path, migrations: &Migrations, edited: i64, backend: Backend) {
    for migration in migrations.all(backend) {
        if migration.version >= SHARED_VERSIONS_FROM {
            continue;
        }
        let mut sql = migration.sql.to_string();
        if migration.version == edited {
            let kept = sql
                .find(MOVED_NOTE)
                .expect("the edited migration has the note");
            sql.truncate(kept);
            sql.push_str(&released_audit_block(backend));
        }
        let name = format!(
            "{:04}_{}.sql",
            migration.version,
            migration.description.replace(' ', "_")
        );
        std::fs::write(dir.join(name), sql).unwrap();
    }
}

fn entry(rpc: &str) -> AuditEntry {
    AuditEntry {
        time_us: 1_700_000_000_000_000,
        rpc: rpc.to_owned(),
        outcome: 1,
        ..AuditEntry::default()
    }
}

async fn audit_rpcs(database: &Database) -> Vec<String> {
    let filter = AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    };
    let (records, _) = audit::list(database.pool(), &filter).await.unwrap();
    records.into_iter().map(|record| record.rpc).collect()
}

async fn released_databases_open_and_keep_their_audit_log(db: TestDatabase) {
    for (name, migrations, edited) in services() {
        let scratch = TestDatabase::of(db.backend(), name).await.unwrap();
        let files = tempfile::tempdir().unwrap();
        write_released_files(files.path(), migrations, edited, db.backend());
        let released = Migrator::new(files.path()).await.unwrap();
        let old = Database::connect(scratch.url(), &DatabaseOptions::default())
            .await
            .unwrap();
        released.run(old.pool()).await.unwrap();
        let mut connection = old.pool().acquire().await.unwrap();
        audit::insert(&mut connection, &[entry("/before/Upgrade")])
            .await
            .unwrap();
        drop(connection);
        old.close().await;

        let upgraded = Database::open(scratch.url(), &DatabaseOptions::default(), migrations)
            .await
            .unwrap_or_else(|e| panic!("{name}: the released database does not open: {e:#}"));
        let mut connection = upgraded.pool().acquire().await.unwrap();
        audit::insert(&mut connection, &[entry("/after/Upgrade")])
            .await
            .unwrap();
        drop(connection);
        assert_eq!(
            audit_rpcs(&upgraded).await,
            ["/before/Upgrade", "/after/Upgrade"],
            "{name}"
        );
        let recorded: Vec<i64> =
            sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(upgraded.pool())
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<i64, _>("version"))
                .collect();
        assert_eq!(recorded.last(), Some(&(SHARED_VERSIONS_FROM + 1)), "{name}");
        upgraded.close().await;
        // And again, now that the record holds the current checksums.
        Database::open(scratch.url(), &DatabaseOptions::default(), migrations)
            .await
            .unwrap_or_else(|e| panic!("{name}: the upgraded database does not reopen: {e:#}"))
            .close()
            .await;
    }
}

async fn fresh_databases_get_the_audit_log(db: TestDatabase) {
    for (name, migrations, _) in services() {
        let scratch = TestDatabase::of(db.backend(), name).await.unwrap();
        let database = Database::open(scratch.url(), &DatabaseOptions::default(), migrations)
            .await
            .unwrap();
        let mut connection = database.pool().acquire().await.unwrap();
        audit::insert(&mut connection, &[entry("/fresh/Insert")])
            .await
            .unwrap();
        drop(connection);
        assert_eq!(audit_rpcs(&database).await, ["/fresh/Insert"], "{name}");
        database.close().await;
    }
}

tasknet_storage::test_on_both_backends!(
    released_databases_open_and_keep_their_audit_log,
    fresh_databases_get_the_audit_log,
);
