//! Who may call what, and the record of what they did: bearer tokens and
//! their salted hashes ([`token`]), principals and roles ([`principal`]),
//! the per-RPC policy tables and unit coverage ([`policy`]), a cached
//! authenticator ([`cache`]), per-principal rate limits ([`rate`]), the
//! tower layer every server puts in front of its services ([`layer`]), and
//! the audit log each service keeps in its own database ([`audit`]).
//!
//! docs/security.md explains the mechanism and why it was chosen.

pub mod audit;
pub mod cache;
pub mod layer;
pub mod policy;
pub mod principal;
pub mod rate;
pub mod revalidate;
pub mod token;

pub use audit::{AuditEntry, AuditLog};
pub use cache::CachedAuthenticator;
pub use layer::{AuthConfig, AuthLayer};
pub use policy::{Coverage, Policy, RpcRule};
pub use principal::{AuthContext, AuthError, Authenticate, Principal, Role, Token};
