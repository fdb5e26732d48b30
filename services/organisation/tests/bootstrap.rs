//! Start-up of a split deployment on one database: replicas opening an empty
//! PostgreSQL database at once all succeed (schema creation and migrations
//! take turns), and the credential bootstrap creates its credentials once,
//! however often and however concurrently it runs.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tasknet_auth::principal::Role;
use tasknet_organisation::{Bootstrapped, OrganisationApp, OrganisationSettings};
use tasknet_server::Shutdown;
use tasknet_storage::DatabaseOptions;
use tasknet_storage::testing::TestDatabase;

const REPLICAS: usize = 6;

fn settings(db: &TestDatabase) -> OrganisationSettings {
    OrganisationSettings {
        database_url: db.url().to_owned(),
        database: DatabaseOptions {
            max_connections: 2,
            schema: Some("organisation".to_owned()),
            ..DatabaseOptions::default()
        },
    }
}

async fn open_replicas(db: &TestDatabase) -> Vec<OrganisationApp> {
    let opening = (0..REPLICAS).map(|_| {
        let settings = settings(db);
        tokio::spawn(async move { OrganisationApp::open(&settings, Shutdown::new()).await })
    });
    let mut apps = Vec::new();
    for opened in futures::future::join_all(opening).await {
        apps.push(opened.expect("replica task").expect("replica opens"));
    }
    apps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_start_together_on_an_empty_postgres_database() {
    let Some(db) = TestDatabase::postgres("replicas_start_together").await else {
        return;
    };
    let apps = open_replicas(&db).await;
    assert_eq!(apps.len(), REPLICAS);
    for app in apps {
        assert_eq!(app.credential_count(Role::Administrator).await.unwrap(), 0);
        app.closed().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bootstraps_create_one_administrator() {
    let Some(db) = TestDatabase::postgres("concurrent_bootstraps").await else {
        return;
    };
    let apps = open_replicas(&db).await;
    let dirs: Vec<_> = (0..REPLICAS)
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let runs = apps
        .iter()
        .zip(&dirs)
        .map(|(app, dir)| app.bootstrap(dir.path()));
    let outcomes = futures::future::join_all(runs).await;
    let created: Vec<_> = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("bootstrap runs"))
        .filter(|outcome| matches!(outcome, Bootstrapped::Created { .. }))
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    let app = &apps[0];
    assert_eq!(app.credential_count(Role::Administrator).await.unwrap(), 1);
    assert_eq!(app.credential_count(Role::Service).await.unwrap(), 1);
    // Only the winner's directory has files, and no partial file is left anywhere.
    let files: usize = dirs
        .iter()
        .map(|dir| std::fs::read_dir(dir.path()).unwrap().count())
        .sum();
    assert_eq!(files, 2);
    for app in apps {
        app.closed().await;
    }
}

#[tokio::test]
async fn bootstrap_runs_once_and_its_tokens_work() {
    let db = TestDatabase::sqlite();
    let app = OrganisationApp::open(&settings(&db), Shutdown::new())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Files in the way of a first bootstrap: refused before anything is created.
    let occupied = tempfile::tempdir().unwrap();
    std::fs::write(occupied.path().join("service.token"), "old").unwrap();
    assert!(app.bootstrap(occupied.path()).await.is_err());
    assert_eq!(app.credential_count(Role::Administrator).await.unwrap(), 0);
    let Bootstrapped::Created { admin, service } = app.bootstrap(dir.path()).await.unwrap() else {
        panic!("the first bootstrap creates credentials");
    };
    for (path, role) in [(&admin, Role::Administrator), (&service, Role::Service)] {
        let token = std::fs::read_to_string(path).unwrap();
        let principal = app
            .authenticator()
            .authenticate(token.trim())
            .await
            .unwrap();
        assert_eq!(principal.role, role);
    }
    // Again into an empty directory (a restart, another replica): nothing new.
    let again = tempfile::tempdir().unwrap();
    assert_eq!(
        app.bootstrap(again.path()).await.unwrap(),
        Bootstrapped::AlreadyDone
    );
    assert_eq!(std::fs::read_dir(again.path()).unwrap().count(), 0);
    // Into the same directory (a one-shot container on its volume): nothing
    // new, and the files are left as they are.
    let before = std::fs::read_to_string(&admin).unwrap();
    assert_eq!(
        app.bootstrap(dir.path()).await.unwrap(),
        Bootstrapped::AlreadyDone
    );
    assert_eq!(std::fs::read_to_string(&admin).unwrap(), before);
    assert_eq!(app.credential_count(Role::Administrator).await.unwrap(), 1);
    app.closed().await;
}
