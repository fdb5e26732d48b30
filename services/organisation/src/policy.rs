//! Who may call each OrganisationService RPC. Units are reference data every
//! authenticated caller may read; changing them, and everything about
//! credentials and the audit log, is for administrators; token
//! introspection is for the other services.

use tasknet_auth::RpcRule;
use tasknet_auth::principal::{ALL_ROLES, Role};

const ADMIN: &[Role] = &[Role::Administrator];

macro_rules! rpc {
    ($method:literal) => {
        concat!("/tasknet.v1.OrganisationService/", $method)
    };
}

/// The OrganisationService policy table.
pub const POLICY: &[RpcRule] = &[
    RpcRule {
        rpc: rpc!("CreateUnit"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("UpdateUnit"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("GetUnit"),
        roles: &ALL_ROLES,
    },
    RpcRule {
        rpc: rpc!("ListUnits"),
        roles: &ALL_ROLES,
    },
    RpcRule {
        rpc: rpc!("ListRegions"),
        roles: &ALL_ROLES,
    },
    RpcRule {
        rpc: rpc!("LoadReferenceUnits"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("IssueCredential"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("ListCredentials"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("RevokeCredential"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("AuthenticateToken"),
        roles: &[Role::Service],
    },
    RpcRule {
        rpc: rpc!("ListAuditRecords"),
        roles: ADMIN,
    },
    // Reorganisations change units: administrators. Their lineage and the
    // code lookup are reference data every caller may read.
    RpcRule {
        rpc: rpc!("ApplyReorganisation"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("ApplyReferenceReorganisation"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("GetReorganisation"),
        roles: &ALL_ROLES,
    },
    RpcRule {
        rpc: rpc!("ListReorganisations"),
        roles: &ALL_ROLES,
    },
    RpcRule {
        rpc: rpc!("GetLineage"),
        roles: &ALL_ROLES,
    },
    RpcRule {
        rpc: rpc!("LookupUnit"),
        roles: &ALL_ROLES,
    },
];
