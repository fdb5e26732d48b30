//! The one-time credential bootstrap of a split deployment: the first
//! administrator credential and the services' credential, created once per
//! database and written to a directory (mode 0600). Running it again, from
//! a restart or a second replica, creates nothing.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tasknet_auth::AuditEntry;
use tasknet_auth::principal::{Role, role_name};

use crate::app::{OrganisationApp, write_secret};
use crate::credentials::{NewCredential, prepare};

/// The administrator's token file in a credentials directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The services' own token file in a credentials directory.
pub const SERVICE_TOKEN_FILE: &str = "service.token";

/// What a bootstrap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrapped {
    /// The credentials were created and their tokens written to these files.
    Created { admin: PathBuf, service: PathBuf },
    /// The database already had an administrator credential: nothing was
    /// created or written.
    AlreadyDone,
}

impl OrganisationApp {
    /// Creates the first administrator and the service credential unless an
    /// administrator credential exists, writing their tokens to
    /// `dir/admin.token` and `dir/service.token`. The tokens are written
    /// (under temporary names) before the credentials are committed and
    /// renamed after, so a created credential always has its file and a
    /// refused bootstrap leaves no file behind.
    pub async fn bootstrap(&self, dir: &Path) -> anyhow::Result<Bootstrapped> {
        // A bootstrapped database is answered before the files are looked
        // at: a one-shot container re-run on the same volume is a no-op.
        if self.credential_count(Role::Administrator).await? > 0 {
            return Ok(Bootstrapped::AlreadyDone);
        }
        let roles = [
            (Role::Administrator, ADMIN_TOKEN_FILE),
            (Role::Service, SERVICE_TOKEN_FILE),
        ];
        let mut prepared = Vec::new();
        let mut files = Vec::new();
        let suffix = format!(".{}.partial", uuid::Uuid::now_v7().simple());
        for (role, name) in roles {
            let new = NewCredential {
                unit_id: None,
                role,
                label: format!("{} (bootstrap)", role_name(role)),
                expire_time_us: None,
            };
            let (credential, token) = prepare(&new, "");
            let path = dir.join(name);
            let partial = dir.join(format!("{name}{suffix}"));
            anyhow::ensure!(
                !path.exists(),
                "{} already exists: bootstrap writes new files only",
                path.display()
            );
            prepared.push(credential);
            files.push((partial, path));
            write_secret(&files[files.len() - 1].0, &token)?;
        }
        let audit = AuditEntry {
            outcome: tasknet_proto::v1::AuditOutcome::Accepted as i32,
            rpc: "bootstrap".to_owned(),
            time_us: chrono::Utc::now().timestamp_micros(),
            ..AuditEntry::default()
        };
        let stored = self
            .credentials()
            .insert_if_no_administrator(&prepared, &audit)
            .await
            .context("failed to store the bootstrap credentials");
        let created = matches!(stored, Ok(true));
        for (partial, path) in &files {
            let finished = if created {
                std::fs::rename(partial, path)
            } else {
                std::fs::remove_file(partial)
            };
            finished.with_context(|| format!("cannot finish {}", partial.display()))?;
        }
        if !stored? {
            return Ok(Bootstrapped::AlreadyDone);
        }
        for credential in &prepared {
            tracing::info!(credential_id = %credential.id, role = role_name(credential.role), "bootstrap created a credential");
        }
        let mut paths = files.into_iter().map(|(_, path)| path);
        match (paths.next(), paths.next()) {
            (Some(admin), Some(service)) => Ok(Bootstrapped::Created { admin, service }),
            _ => anyhow::bail!("bootstrap wrote fewer files than credentials"),
        }
    }
}
