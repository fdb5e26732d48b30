//! Credentials: issuing (a token shown once, a salted hash stored), listing,
//! revoking, and checking a token — for this service's own callers and,
//! through `AuthenticateToken`, for the other services. Issuing and revoking
//! write their audit record in the same transaction.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tasknet_auth::principal::{AuthError, Authenticate, Principal, Role, role_needs_unit};
use tasknet_auth::{AuditEntry, audit, token};
use tasknet_domain::{FieldError, timestamp_to_proto};
use tasknet_proto::v1;
use tasknet_storage::Database;

use crate::error::Error;
use crate::repository as repo;

const COLUMNS: &str = "id, unit_id, role, label, salt_hex, hash_hex, create_time_us, \
                       expire_time_us, revoke_time_us, created_by";
/// Longest credential label, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// A credential as stored (without its secret, which is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    pub id: String,
    pub unit_id: String,
    pub role: Role,
    pub label: String,
    salt_hex: String,
    hash_hex: String,
    pub create_time_us: i64,
    pub expire_time_us: Option<i64>,
    pub revoke_time_us: Option<i64>,
    pub created_by: String,
}

impl StoredCredential {
    pub fn to_proto(&self) -> v1::Credential {
        let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).map(timestamp_to_proto);
        v1::Credential {
            id: self.id.clone(),
            unit_id: self.unit_id.clone(),
            role: self.role as i32,
            label: self.label.clone(),
            create_time: time(self.create_time_us),
            expire_time: self.expire_time_us.and_then(time),
            revoke_time: self.revoke_time_us.and_then(time),
            created_by: self.created_by.clone(),
        }
    }

    /// The audit view: everything but the hash.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "id": self.id, "unit_id": self.unit_id,
            "role": tasknet_auth::principal::role_name(self.role), "label": self.label,
            "expire_time_us": self.expire_time_us, "revoke_time_us": self.revoke_time_us,
        })
        .to_string()
    }

    fn principal(&self) -> Principal {
        Principal {
            credential_id: self.id.clone(),
            unit_id: (!self.unit_id.is_empty()).then(|| self.unit_id.clone()),
            role: self.role,
            expire_time: self
                .expire_time_us
                .and_then(DateTime::from_timestamp_micros),
        }
    }
}

/// A validated IssueCredential request.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub unit_id: Option<String>,
    pub role: Role,
    pub label: String,
    pub expire_time_us: Option<i64>,
}

impl NewCredential {
    pub fn from_request(request: &v1::IssueCredentialRequest) -> Result<Self, FieldError> {
        let role = match Role::try_from(request.role) {
            Ok(Role::Unspecified) => return Err(FieldError::missing("role")),
            Ok(role) => role,
            Err(_) => {
                return Err(FieldError::new(
                    "role",
                    format!("{} is not a role", request.role),
                ));
            }
        };
        let unit_id = crate::model::optional_uuid("unit_id", &request.unit_id)?;
        if role_needs_unit(role) && unit_id.is_none() {
            return Err(FieldError::new("unit_id", "is required for this role"));
        }
        let label = request.label.trim();
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(FieldError::new(
                "label",
                format!("is longer than {MAX_LABEL_CHARS} characters"),
            ));
        }
        if label.chars().any(char::is_control) {
            return Err(FieldError::new("label", "contains control characters"));
        }
        let expire_time_us = match &request.expire_time {
            None => None,
            Some(_) => {
                let at = tasknet_domain::timestamp_from_proto(
                    "expire_time",
                    request.expire_time.as_ref(),
                )?;
                if at <= Utc::now() {
                    return Err(FieldError::new(
                        "expire_time",
                        format!("{at} is not in the future"),
                    ));
                }
                Some(at.timestamp_micros())
            }
        };
        Ok(Self {
            unit_id,
            role,
            label: label.to_owned(),
            expire_time_us,
        })
    }
}

/// The credentials table.
#[derive(Debug, Clone)]
pub struct Credentials {
    db: Database,
}

impl Credentials {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Issues a credential and returns it with its token (shown only now).
    /// `issuer` is the issuing credential (empty at bootstrap); `audit`, when
    /// given, is recorded in the same transaction.
    pub async fn issue(
        &self,
        new: &NewCredential,
        issuer: &str,
        audit: Option<AuditEntry>,
    ) -> Result<(StoredCredential, String), Error> {
        let (credential, token) = prepare(new, issuer);
        let mut tx = repo::begin_write(&self.db).await?;
        if let Some(unit_id) = &new.unit_id
            && !repo::unit_exists(&mut tx, unit_id).await?
        {
            return Err(Error::not_found("unit_id", format!("no unit {unit_id}")));
        }
        insert(&mut tx, &credential).await?;
        if let Some(entry) = audit {
            let mut entry = entry.with_change(None, Some(credential.to_json()));
            entry.target = format!("credential/{}", credential.id);
            audit::insert(&mut tx, &[entry]).await?;
        }
        tx.commit().await?;
        Ok((credential, token))
    }

    /// Stores `prepared` (unit-less credentials from [`prepare`]) in one
    /// transaction if no administrator credential exists yet, and says
    /// whether it did. Writers take turns (`begin_write`), so of several
    /// concurrent callers exactly one stores its credentials.
    pub(crate) async fn insert_if_no_administrator(
        &self,
        prepared: &[StoredCredential],
        audit: &AuditEntry,
    ) -> Result<bool, Error> {
        let mut tx = repo::begin_write(&self.db).await?;
        if count_of_role(&mut tx, Role::Administrator).await? > 0 {
            return Ok(false);
        }
        for credential in prepared {
            insert(&mut tx, credential).await?;
            let mut entry = audit.clone().with_change(None, Some(credential.to_json()));
            entry.target = format!("credential/{}", credential.id);
            audit::insert(&mut tx, &[entry]).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// How many credentials of `role` exist, revoked ones included.
    pub async fn count(&self, role: Role) -> Result<i64, Error> {
        let mut connection = self.db.pool().acquire().await?;
        count_of_role(&mut connection, role).await
    }

    /// Revokes a credential (revoking it again changes nothing).
    pub async fn revoke(
        &self,
        id: &str,
        audit: Option<AuditEntry>,
    ) -> Result<StoredCredential, Error> {
        let mut tx = repo::begin_write(&self.db).await?;
        let before = get(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found("credential_id", format!("no credential {id}")))?;
        if before.revoke_time_us.is_some() {
            return Ok(before);
        }
        let after = StoredCredential {
            revoke_time_us: Some(Utc::now().timestamp_micros()),
            ..before.clone()
        };
        sqlx::query("UPDATE credentials SET revoke_time_us = $1 WHERE id = $2")
            .bind(after.revoke_time_us)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(entry) = audit {
            let entry = entry.with_change(Some(before.to_json()), Some(after.to_json()));
            audit::insert(&mut tx, &[entry]).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// A page of credentials ordered by id, after `after_id`.
    pub async fn list(
        &self,
        unit_id: Option<&str>,
        include_revoked: bool,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<StoredCredential>, Error> {
        let mut sql = format!("SELECT {COLUMNS} FROM credentials WHERE id > $1");
        if !include_revoked {
            sql.push_str(" AND revoke_time_us IS NULL");
        }
        if unit_id.is_some() {
            sql.push_str(" AND unit_id = $3");
        }
        sql.push_str(" ORDER BY id LIMIT $2");
        let mut query = sqlx::query(&sql).bind(after_id).bind(limit);
        if let Some(unit_id) = unit_id {
            query = query.bind(unit_id);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Whether `token` belongs to an active credential of `role` (for the
    /// bootstrap files, which are reused while they still work).
    pub async fn is_active(&self, token: &str, role: Role) -> Result<bool, Error> {
        match self.check(token).await {
            Ok(principal) => Ok(principal.role == role),
            Err(CheckError::Inactive(_)) => Ok(false),
            Err(CheckError::Database(error)) => Err(error),
        }
    }

    /// The principal of an active credential's token.
    pub async fn check(&self, token_text: &str) -> Result<Principal, CheckError> {
        let parsed = token::parse(token_text)
            .ok_or_else(|| CheckError::Inactive("the token is not a tasknet credential".into()))?;
        let mut connection = self.db.pool().acquire().await.map_err(Error::from)?;
        let stored = get(&mut connection, &parsed.credential_id)
            .await?
            .ok_or_else(|| CheckError::Inactive("unknown credential".into()))?;
        if !token::verify(parsed.secret, &stored.salt_hex, &stored.hash_hex) {
            return Err(CheckError::Inactive("invalid credential".into()));
        }
        if stored.revoke_time_us.is_some() {
            return Err(CheckError::Inactive(format!(
                "credential {} has been revoked",
                stored.id
            )));
        }
        let principal = stored.principal();
        if principal.is_expired(Utc::now()) {
            return Err(CheckError::Inactive(format!(
                "credential {} has expired",
                stored.id
            )));
        }
        Ok(principal)
    }

    /// The credential behind an active token, for AuthenticateToken.
    pub async fn introspect(
        &self,
        token_text: &str,
    ) -> Result<Result<v1::Credential, String>, Error> {
        match self.check(token_text).await {
            Ok(principal) => {
                let mut connection = self.db.pool().acquire().await?;
                let stored = get(&mut connection, &principal.credential_id).await?;
                Ok(stored
                    .map(|c| c.to_proto())
                    .ok_or_else(|| "unknown credential".to_owned()))
            }
            Err(CheckError::Inactive(reason)) => Ok(Err(reason)),
            Err(CheckError::Database(error)) => Err(error),
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Inactive(String),
    #[error(transparent)]
    Database(#[from] Error),
}

impl Authenticate for Credentials {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, AuthError>> {
        Box::pin(async move {
            self.check(token).await.map_err(|error| match error {
                CheckError::Inactive(reason) => AuthError::Invalid(reason),
                CheckError::Database(error) => {
                    tracing::error!(error = ?error, "cannot read credentials");
                    AuthError::Unavailable("credentials cannot be checked now".into())
                }
            })
        })
    }
}

async fn count_of_role(connection: &mut AnyConnection, role: Role) -> Result<i64, Error> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE role = $1")
            .bind(i64::from(role as i32))
            .fetch_one(connection)
            .await?,
    )
}

/// A new credential and its token (not stored yet); `issuer` is the
/// issuing credential (empty at bootstrap).
pub(crate) fn prepare(new: &NewCredential, issuer: &str) -> (StoredCredential, String) {
    let issued = token::issue();
    let credential = StoredCredential {
        id: issued.credential_id,
        unit_id: new.unit_id.clone().unwrap_or_default(),
        role: new.role,
        label: new.label.clone(),
        salt_hex: issued.salt_hex,
        hash_hex: issued.hash_hex,
        create_time_us: Utc::now().timestamp_micros(),
        expire_time_us: new.expire_time_us,
        revoke_time_us: None,
        created_by: issuer.to_owned(),
    };
    (credential, issued.token)
}

async fn insert(connection: &mut AnyConnection, c: &StoredCredential) -> Result<(), Error> {
    sqlx::query(&format!(
        "INSERT INTO credentials ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&c.id)
    .bind(&c.unit_id)
    .bind(i64::from(c.role as i32))
    .bind(&c.label)
    .bind(&c.salt_hex)
    .bind(&c.hash_hex)
    .bind(c.create_time_us)
    .bind(c.expire_time_us)
    .bind(c.revoke_time_us)
    .bind(&c.created_by)
    .execute(connection)
    .await?;
    Ok(())
}

async fn get(connection: &mut AnyConnection, id: &str) -> Result<Option<StoredCredential>, Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM credentials WHERE id = $1"))
        .bind(id)
        .fetch_optional(connection)
        .await?;
    row.as_ref().map(from_row).transpose()
}

fn from_row(row: &AnyRow) -> Result<StoredCredential, Error> {
    let id: String = row.try_get("id")?;
    let role = i32::try_from(row.try_get::<i64, _>("role")?)
        .ok()
        .and_then(|role| Role::try_from(role).ok())
        .filter(|role| *role != Role::Unspecified)
        .ok_or_else(|| Error::Corrupt {
            id: id.clone(),
            problem: "unknown role".into(),
        })?;
    Ok(StoredCredential {
        unit_id: row.try_get("unit_id")?,
        role,
        label: row.try_get("label")?,
        salt_hex: row.try_get("salt_hex")?,
        hash_hex: row.try_get("hash_hex")?,
        create_time_us: row.try_get("create_time_us")?,
        expire_time_us: row.try_get("expire_time_us")?,
        revoke_time_us: row.try_get("revoke_time_us")?,
        created_by: row.try_get("created_by")?,
        id,
    })
}
