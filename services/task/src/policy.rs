//! Who may call each TaskService RPC. Writing tasks is for office agents
//! (their own unit's), unit leadership (the units it covers) and
//! administrators; the object-level half of those rules is in
//! [`crate::access`]. The whole change feed is for the reporting service;
//! a unit's part of it (`WatchUnitTasks`) for that unit's office agent too.

use tasknet_auth::RpcRule;
use tasknet_auth::principal::{ALL_ROLES, Role};

const WRITERS: &[Role] = &[Role::OfficeAgent, Role::UnitLeadership, Role::Administrator];
const TASK_READERS: &[Role] = &[
    Role::OfficeAgent,
    Role::UnitStaff,
    Role::UnitLeadership,
    Role::Administrator,
];

macro_rules! rpc {
    ($method:literal) => {
        concat!("/tasknet.v1.TaskService/", $method)
    };
}

/// The TaskService policy table.
pub const POLICY: &[RpcRule] = &[
    RpcRule {
        rpc: rpc!("CreatePlan"),
        roles: &[Role::UnitLeadership, Role::Administrator],
    },
    RpcRule {
        rpc: rpc!("GetPlan"),
        roles: &ALL_ROLES,
    },
    RpcRule {
        rpc: rpc!("ListPlans"),
        roles: &ALL_ROLES,
    },
    RpcRule {
        rpc: rpc!("CreateTask"),
        roles: WRITERS,
    },
    RpcRule {
        rpc: rpc!("UpdateTask"),
        roles: WRITERS,
    },
    RpcRule {
        rpc: rpc!("GetTask"),
        roles: TASK_READERS,
    },
    RpcRule {
        rpc: rpc!("ListTasks"),
        roles: TASK_READERS,
    },
    RpcRule {
        rpc: rpc!("Ingest"),
        roles: WRITERS,
    },
    RpcRule {
        rpc: rpc!("WatchChanges"),
        roles: &[Role::Service, Role::Administrator],
    },
    // Which unit an office agent may follow is checked in access.rs.
    RpcRule {
        rpc: rpc!("WatchUnitTasks"),
        roles: &[Role::OfficeAgent, Role::Service, Role::Administrator],
    },
    RpcRule {
        rpc: rpc!("ListAuditRecords"),
        roles: &[Role::Administrator],
    },
    // Passing a reorganisation's open tasks on is an administrator's act.
    RpcRule {
        rpc: rpc!("TransferOpenTasks"),
        roles: &[Role::Administrator],
    },
];
