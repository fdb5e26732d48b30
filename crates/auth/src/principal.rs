//! Who is calling: the principal a credential stands for, the context the
//! auth layer hands to handlers (in the request's extensions), and the
//! authenticator interface the layer asks.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use tasknet_domain::{ServiceError, to_status};
use tasknet_proto::tonic::{self, Code, Status};
use tasknet_proto::v1;

pub use tasknet_proto::v1::Role;

/// Every role, for tables and tests.
pub const ALL_ROLES: [Role; 6] = [
    Role::OfficeAgent,
    Role::UnitStaff,
    Role::UnitLeadership,
    Role::DashboardReader,
    Role::Administrator,
    Role::Service,
];

/// Whether a role acts for one unit (and so needs a unit on its credential).
pub fn role_needs_unit(role: Role) -> bool {
    matches!(
        role,
        Role::OfficeAgent | Role::UnitStaff | Role::UnitLeadership
    )
}

/// The role's name as the CLI and docs spell it: `office-agent`, …
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Unspecified => "unspecified",
        Role::OfficeAgent => "office-agent",
        Role::UnitStaff => "unit-staff",
        Role::UnitLeadership => "unit-leadership",
        Role::DashboardReader => "dashboard-reader",
        Role::Administrator => "administrator",
        Role::Service => "service",
    }
}

/// The role named `name` (as [`role_name`] spells it).
pub fn role_from_name(name: &str) -> Option<Role> {
    ALL_ROLES.into_iter().find(|role| role_name(*role) == name)
}

/// The holder of a valid credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub credential_id: String,
    /// `None` for nationwide roles issued without a unit.
    pub unit_id: Option<String>,
    pub role: Role,
    pub expire_time: Option<DateTime<Utc>>,
}

impl Principal {
    /// The principal of servers run with authentication disabled (tests and
    /// programs that embed a server; the `tasknet` binary never does).
    pub fn unrestricted() -> Self {
        Self {
            credential_id: "auth-disabled".to_owned(),
            unit_id: None,
            role: Role::Administrator,
            expire_time: None,
        }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expire_time.is_some_and(|expiry| expiry <= now)
    }

    /// The principal of an active credential as the organisation service
    /// describes it; `None` when the description is not usable.
    pub fn from_credential(credential: &v1::Credential) -> Option<Self> {
        let role = Role::try_from(credential.role)
            .ok()
            .filter(|r| *r != Role::Unspecified)?;
        let unit_id = (!credential.unit_id.is_empty()).then(|| credential.unit_id.clone());
        if role_needs_unit(role) && unit_id.is_none() {
            return None;
        }
        let expire_time = match &credential.expire_time {
            Some(t) => Some(DateTime::from_timestamp(
                t.seconds,
                u32::try_from(t.nanos).ok()?,
            )?),
            None => None,
        };
        Some(Self {
            credential_id: credential.id.clone(),
            unit_id,
            role,
            expire_time,
        })
    }

    /// `unit-leadership of <unit>` / `administrator`, for messages.
    pub fn describe(&self) -> String {
        match &self.unit_id {
            Some(unit) => format!("{} of unit {unit}", role_name(self.role)),
            None => role_name(self.role).to_owned(),
        }
    }
}

/// What the auth layer puts in each admitted request's extensions.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub principal: Principal,
    /// The caller's address, when the transport knows it.
    pub peer: Option<SocketAddr>,
    /// The RPC path, `/tasknet.v1.TaskService/UpdateTask`.
    pub rpc: String,
}

impl AuthContext {
    /// The context of a request; UNAUTHENTICATED when the auth layer did not
    /// admit it (the service is mounted on a server without the layer).
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&AuthContext, Status> {
        request.extensions().get::<AuthContext>().ok_or_else(|| {
            Status::unauthenticated("no credential: this server does not check them")
        })
    }

    pub fn peer_text(&self) -> Option<String> {
        self.peer.map(|peer| peer.to_string())
    }
}

/// A bearer token held by a client or a service: a `secrecy` secret (wiped
/// from memory when dropped) whose `Debug` shows only the credential id, so
/// configuration dumps and logs cannot leak it.
#[derive(Clone)]
pub struct Token(SecretString);

impl Token {
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into().trim()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Token {}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match crate::token::parse(self.expose()) {
            Some(parsed) => write!(f, "Token({}, secret redacted)", parsed.credential_id),
            None => f.write_str("Token(redacted)"),
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// Unknown, forged, expired or revoked.
    #[error("{0}")]
    Invalid(String),
    /// Cannot tell now (the organisation service is unreachable).
    #[error("{0}")]
    Unavailable(String),
}

impl ServiceError for AuthError {
    fn code(&self) -> Code {
        match self {
            Self::Invalid(_) => Code::Unauthenticated,
            Self::Unavailable(_) => Code::Unavailable,
        }
    }
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Self {
        to_status(&error)
    }
}

/// Turns a token into the principal it stands for.
pub trait Authenticate: Send + Sync + 'static {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, AuthError>>;

    /// How many times this authenticator has learned that a credential is
    /// refused (revoked, expired, unknown). A call in progress whose
    /// credential was confirmed before the count moved checks it again on
    /// its next message, so a revocation a new call has seen stops open
    /// streams too. An authenticator that asks every time keeps the
    /// default: nothing it answered can go stale.
    fn refusals_seen(&self) -> u64 {
        0
    }
}
