//! Who may call each ReportingService RPC. Figures are read by dashboards
//! (nationwide), unit leadership (its units) and unit staff (their unit);
//! StatusBreakdown counts only the units the caller covers, and the
//! nationwide reports (PlanProgress, ReportSummary) need nationwide
//! coverage. Notes and the audit log are for administrators.

use tasknet_auth::RpcRule;
use tasknet_auth::principal::Role;

const READERS: &[Role] = &[
    Role::UnitStaff,
    Role::UnitLeadership,
    Role::DashboardReader,
    Role::Administrator,
];
const READERS_AND_SERVICES: &[Role] = &[
    Role::UnitStaff,
    Role::UnitLeadership,
    Role::DashboardReader,
    Role::Administrator,
    Role::Service,
];
const ADMIN: &[Role] = &[Role::Administrator];

macro_rules! rpc {
    ($method:literal) => {
        concat!("/tasknet.v1.ReportingService/", $method)
    };
}

/// The ReportingService policy table.
pub const POLICY: &[RpcRule] = &[
    RpcRule {
        rpc: rpc!("StatusBreakdown"),
        roles: READERS,
    },
    RpcRule {
        rpc: rpc!("PlanProgress"),
        roles: READERS,
    },
    RpcRule {
        rpc: rpc!("GetSyncState"),
        roles: READERS_AND_SERVICES,
    },
    RpcRule {
        rpc: rpc!("ReportSummary"),
        roles: READERS,
    },
    RpcRule {
        rpc: rpc!("ListGroupTasks"),
        // The notification service reads the tasks it chases here.
        roles: READERS_AND_SERVICES,
    },
    RpcRule {
        rpc: rpc!("GetTaskTimeline"),
        roles: READERS,
    },
    RpcRule {
        rpc: rpc!("GetReaderScope"),
        roles: READERS,
    },
    RpcRule {
        // Each caller sees (and is ranked among) the units it covers.
        rpc: rpc!("UnitScorecards"),
        roles: READERS,
    },
    RpcRule {
        // A plan's needs nationwide coverage, a unit's the unit.
        rpc: rpc!("GetTrajectory"),
        roles: READERS,
    },
    RpcRule {
        rpc: rpc!("AddReportNote"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("ListAuditRecords"),
        roles: ADMIN,
    },
];
