//! Who may call each OrganisationService RPC. Units are reference data every
//! authenticated caller may read; changing them, and everything about
//! credentials and the audit log, is for administrators; token
//! introspection is for the other services. Unit contacts are personal
//! data: administrators manage them and services read them.

use tasknet_auth::RpcRule;
use tasknet_auth::principal::{ALL_ROLES, Role};

const ADMIN: &[Role] = &[Role::Administrator];
/// Contacts are personal data (names, addresses): administrators manage
/// them, and the notification service (a SERVICE credential) reads them.
const CONTACT_READERS: &[Role] = &[Role::Administrator, Role::Service];

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
    RpcRule {
        rpc: rpc!("CreateUnitContact"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("UpdateUnitContact"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("DeleteUnitContact"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("GetUnitContact"),
        roles: CONTACT_READERS,
    },
    RpcRule {
        rpc: rpc!("ListUnitContacts"),
        roles: CONTACT_READERS,
    },
];

#[cfg(test)]
mod tests {
    use tasknet_auth::Policy;
    use tasknet_proto::prost::Message;
    use tasknet_proto::prost_types::FileDescriptorSet;

    use super::*;

    /// The RPCs OrganisationService declares, from the compiled contract.
    fn declared_rpcs() -> Vec<String> {
        let set = FileDescriptorSet::decode(tasknet_proto::FILE_DESCRIPTOR_SET).unwrap();
        set.file
            .iter()
            .flat_map(|file| &file.service)
            .filter(|service| service.name() == "OrganisationService")
            .flat_map(|service| &service.method)
            .map(|method| rpc!("").to_owned() + method.name())
            .collect()
    }

    #[test]
    fn every_declared_rpc_has_one_rule() {
        let mut declared = declared_rpcs();
        let mut ruled: Vec<String> = POLICY.iter().map(|rule| rule.rpc.to_owned()).collect();
        declared.sort();
        ruled.sort();
        assert_eq!(declared, ruled);
    }

    #[test]
    fn contacts_are_managed_by_administrators_and_read_by_services() {
        let policy = Policy::new().with(POLICY);
        for method in ["Create", "Update", "Delete", "Get", "List"] {
            let rpc = if method == "List" {
                rpc!("ListUnitContacts").to_owned()
            } else {
                format!("{}{method}UnitContact", rpc!(""))
            };
            assert!(policy.check(&rpc, Role::Administrator).is_ok(), "{rpc}");
            let reads = matches!(method, "Get" | "List");
            assert_eq!(policy.check(&rpc, Role::Service).is_ok(), reads, "{rpc}");
            for role in [
                Role::UnitStaff,
                Role::UnitLeadership,
                Role::OfficeAgent,
                Role::DashboardReader,
            ] {
                assert!(policy.check(&rpc, role).is_err(), "{rpc} as {role:?}");
            }
        }
    }
}
