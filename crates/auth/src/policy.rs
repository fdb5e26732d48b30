//! The per-RPC policy table (which roles may call which RPC) and unit
//! coverage (which units a principal's reads and writes may concern). Each
//! service publishes its table; the auth layer checks it before a handler
//! runs, and handlers check object-level rules against [`Coverage`].

use std::collections::{HashMap, HashSet};

use tasknet_proto::v1;

use crate::principal::{Principal, Role, role_name};

/// RPCs every caller may use without a credential: health checks and reflection.
const OPEN_PREFIXES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// One row of a service's policy table.
#[derive(Debug, Clone, Copy)]
pub struct RpcRule {
    /// The full RPC path, `/tasknet.v1.TaskService/CreateTask`.
    pub rpc: &'static str,
    /// The roles that may call it (object-level rules may narrow further).
    pub roles: &'static [Role],
}

/// The merged tables of the services a server runs. RPCs without a row are
/// refused: a new RPC is closed until its row is written.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: HashMap<&'static str, &'static [Role]>,
}

/// Why the table refuses a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Policy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a service's table.
    pub fn with(mut self, rules: &[RpcRule]) -> Self {
        for rule in rules {
            self.rules.insert(rule.rpc, rule.roles);
        }
        self
    }

    /// Whether `path` needs no credential.
    pub fn is_open(path: &str) -> bool {
        OPEN_PREFIXES.iter().any(|prefix| path.starts_with(prefix))
    }

    /// Whether `role` may call `path`.
    pub fn check(&self, path: &str, role: Role) -> Result<(), Refusal> {
        match self.rules.get(path) {
            Some(roles) if roles.contains(&role) => Ok(()),
            Some(roles) => Err(Refusal(format!(
                "{path} is not allowed for the {} role (allowed: {})",
                role_name(role),
                roles
                    .iter()
                    .map(|r| role_name(*r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => Err(Refusal(format!("{path} has no access rule; refused"))),
        }
    }

    /// The roles allowed to call `path` (empty when it has no rule).
    pub fn roles(&self, path: &str) -> &[Role] {
        self.rules.get(path).copied().unwrap_or_default()
    }

    pub fn rpcs(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.rules.keys().copied()
    }
}

/// The units a principal's unit-scoped rights reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Every unit (administrators, dashboards, services, leadership of a root unit).
    All,
    Units(HashSet<String>),
}

impl Coverage {
    pub fn contains(&self, unit_id: &str) -> bool {
        match self {
            Coverage::All => true,
            Coverage::Units(units) => units.contains(unit_id),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Coverage::All)
    }

    /// The coverage of principals whose reach does not depend on the unit
    /// hierarchy (everyone but unit leadership); `None` for leadership.
    pub fn without_hierarchy(principal: &Principal) -> Option<Coverage> {
        match (principal.role, &principal.unit_id) {
            // Leadership, and a dashboard issued for one unit (a provincial
            // director's): the unit and the units below it.
            (Role::UnitLeadership, _) | (Role::DashboardReader, Some(_)) => None,
            (Role::OfficeAgent | Role::UnitStaff, Some(unit)) => {
                Some(Coverage::Units(HashSet::from([unit.clone()])))
            }
            (Role::OfficeAgent | Role::UnitStaff | Role::Unspecified, None) => {
                Some(Coverage::Units(HashSet::new()))
            }
            (Role::Unspecified, Some(_)) => Some(Coverage::Units(HashSet::new())),
            (Role::DashboardReader | Role::Administrator | Role::Service, _) => Some(Coverage::All),
        }
    }

    /// The coverage of any principal, given every unit (for the hierarchy):
    /// unit leadership reaches its unit and every unit below it, and all
    /// units when its unit is a root (headquarters).
    pub fn of(principal: &Principal, units: &HashMap<String, v1::Unit>) -> Coverage {
        if let Some(coverage) = Self::without_hierarchy(principal) {
            return coverage;
        }
        let Some(own) = &principal.unit_id else {
            return Coverage::Units(HashSet::new());
        };
        if units.get(own).is_some_and(|unit| unit.parent_id.is_empty()) {
            return Coverage::All;
        }
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for unit in units.values() {
            children
                .entry(unit.parent_id.as_str())
                .or_default()
                .push(unit.id.as_str());
        }
        let mut reached = HashSet::from([own.clone()]);
        let mut frontier = vec![own.as_str()];
        while let Some(unit) = frontier.pop() {
            for child in children.get(unit).into_iter().flatten() {
                if reached.insert((*child).to_owned()) {
                    frontier.push(child);
                }
            }
        }
        Coverage::Units(reached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, parent: &str) -> (String, v1::Unit) {
        let unit = v1::Unit {
            id: id.into(),
            parent_id: parent.into(),
            ..Default::default()
        };
        (id.to_owned(), unit)
    }

    fn principal(role: Role, unit: Option<&str>) -> Principal {
        Principal {
            credential_id: "c".into(),
            unit_id: unit.map(str::to_owned),
            role,
            expire_time: None,
        }
    }

    #[test]
    fn leadership_covers_its_subtree_and_a_root_covers_all() {
        let units: HashMap<_, _> = [
            unit("hq", ""),
            unit("dept", "hq"),
            unit("team", "dept"),
            unit("other", "hq"),
        ]
        .into_iter()
        .collect();
        let dept = Coverage::of(&principal(Role::UnitLeadership, Some("dept")), &units);
        assert!(dept.contains("dept") && dept.contains("team"));
        assert!(!dept.contains("other") && !dept.contains("hq"));
        let hq = Coverage::of(&principal(Role::UnitLeadership, Some("hq")), &units);
        assert!(hq.is_all());
        let staff = Coverage::of(&principal(Role::UnitStaff, Some("team")), &units);
        assert!(staff.contains("team") && !staff.contains("dept"));
        assert!(Coverage::of(&principal(Role::DashboardReader, None), &units).is_all());
        let reader = Coverage::of(&principal(Role::DashboardReader, Some("dept")), &units);
        assert!(reader.contains("team") && !reader.contains("other"));
        assert!(Coverage::of(&principal(Role::DashboardReader, Some("hq")), &units).is_all());
    }

    #[test]
    fn the_table_refuses_unlisted_roles_and_rpcs() {
        const RULES: &[RpcRule] = &[RpcRule {
            rpc: "/p.S/A",
            roles: &[Role::Administrator],
        }];
        let policy = Policy::new().with(RULES);
        assert!(policy.check("/p.S/A", Role::Administrator).is_ok());
        let refusal = policy.check("/p.S/A", Role::OfficeAgent).unwrap_err();
        assert!(refusal.0.contains("office-agent"), "{}", refusal.0);
        assert!(policy.check("/p.S/B", Role::Administrator).is_err());
        assert!(Policy::is_open("/grpc.health.v1.Health/Check"));
        assert!(!Policy::is_open("/p.S/A"));
    }
}
