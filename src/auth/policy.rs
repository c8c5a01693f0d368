//! The authorization policy: one table of (grant, RPC) → allow, everything else denied.
//!
//! A grant is a role (system admin, auditor, service scope) or a relation between the caller and
//! the resource the call is about (the employee themself, their assessor on the relevant date,
//! the assessor's superior, an admin whose units contain it). Handlers name the resource; the
//! [`crate::authz::Authorizer`] gathers the relations; [`decide`] is the pure rule.

use super::{Principal, Role};

/// Whether an RPC reads or changes data (auditors may only read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Changes data.
    Write,
}

/// A way to be allowed to call an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Any caller with a valid token.
    Authenticated,
    /// An administrator of the whole installation.
    SystemAdmin,
    /// An admin whose unit subtrees contain the resource.
    AdminOfTarget,
    /// The auditor role (read-only RPCs only).
    Auditor,
    /// The employee the resource belongs to.
    SelfTarget,
    /// The employee's assessor (direct superior) on the relevant date.
    AssessorOfTarget,
    /// The superior of the employee's assessor on the relevant date.
    AssessorSuperiorOfTarget,
    /// A service account holding this scope.
    Scope(&'static str),
}

/// The policy entry of one RPC.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Full gRPC method path.
    pub rpc: &'static str,
    /// Read or write.
    pub access: Access,
    /// Who may call it.
    pub grants: &'static [Grant],
}

use Access::{Read, Write};
use Grant::*;

/// Readers of an employee's records.
const EMPLOYEE_READERS: &[Grant] = &[
    SelfTarget,
    AssessorOfTarget,
    AssessorSuperiorOfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
    Scope("employees:read"),
];
/// Managers of master data inside a unit subtree.
const UNIT_ADMINS: &[Grant] = &[SystemAdmin, AdminOfTarget];

/// The policy table. An RPC missing here is refused for everyone.
pub const POLICY: &[Rule] = &[
    // Organisation.
    Rule {
        rpc: "/kinerja.v1.OrganizationService/CreateAgency",
        access: Write,
        grants: &[SystemAdmin],
    },
    Rule {
        rpc: "/kinerja.v1.OrganizationService/GetAgency",
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: "/kinerja.v1.OrganizationService/ListAgencies",
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: "/kinerja.v1.OrganizationService/UpdateAgency",
        access: Write,
        grants: &[SystemAdmin],
    },
    Rule {
        rpc: "/kinerja.v1.OrganizationService/CreateUnit",
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: "/kinerja.v1.OrganizationService/GetUnit",
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: "/kinerja.v1.OrganizationService/ListUnits",
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: "/kinerja.v1.OrganizationService/MoveUnit",
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: "/kinerja.v1.OrganizationService/DeactivateUnit",
        access: Write,
        grants: UNIT_ADMINS,
    },
    // Employees.
    Rule {
        rpc: "/kinerja.v1.EmployeeService/CreateEmployee",
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: "/kinerja.v1.EmployeeService/GetEmployee",
        access: Read,
        grants: EMPLOYEE_READERS,
    },
    Rule {
        rpc: "/kinerja.v1.EmployeeService/ListEmployees",
        access: Read,
        grants: &[SystemAdmin, AdminOfTarget, Auditor, Scope("employees:read")],
    },
    Rule {
        rpc: "/kinerja.v1.EmployeeService/UpdateEmployee",
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: "/kinerja.v1.EmployeeService/ImportEmployees",
        access: Write,
        grants: &[SystemAdmin, Scope("employees:import")],
    },
    // Assignments.
    Rule {
        rpc: "/kinerja.v1.AssignmentService/CreateAssignment",
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: "/kinerja.v1.AssignmentService/GetAssignment",
        access: Read,
        grants: EMPLOYEE_READERS,
    },
    Rule {
        rpc: "/kinerja.v1.AssignmentService/ListAssignments",
        access: Read,
        grants: EMPLOYEE_READERS,
    },
    Rule {
        rpc: "/kinerja.v1.AssignmentService/UpdateAssignment",
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: "/kinerja.v1.AssignmentService/GetAssessor",
        access: Read,
        grants: EMPLOYEE_READERS,
    },
    Rule {
        rpc: "/kinerja.v1.AssignmentService/ListDirectReports",
        access: Read,
        grants: EMPLOYEE_READERS,
    },
    // Audit trail.
    Rule {
        rpc: "/kinerja.v1.AuditService/ListAuditEntries",
        access: Read,
        grants: &[Auditor, SystemAdmin],
    },
    Rule {
        rpc: "/kinerja.v1.AuditService/VerifyAuditChain",
        access: Read,
        grants: &[Auditor, SystemAdmin],
    },
    // The load generator's no-op echo (`kinerja-bench`): exists only in `bench` builds and is
    // served only by the bench's echo server, so it can go through this same layer.
    #[cfg(feature = "bench")]
    Rule {
        rpc: "/kinerja.bench.v1.EchoService/Echo",
        access: Read,
        grants: &[Authenticated],
    },
];

/// The policy entry of `rpc`, if any.
pub fn rule(rpc: &str) -> Option<&'static Rule> {
    POLICY.iter().find(|r| r.rpc == rpc)
}

/// Relations between the caller and the resource of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The caller is the employee the resource belongs to.
    pub is_self: bool,
    /// The caller is that employee's assessor on the relevant date.
    pub is_assessor: bool,
    /// The caller is the superior of that employee's assessor on the relevant date.
    pub is_assessor_superior: bool,
    /// The resource lies inside one of the caller's admin unit subtrees.
    pub admin_in_scope: bool,
}

/// Whether `grant` lets `p` call an RPC of kind `access`, given `facts` (None: not gathered).
fn grant_allows(
    p: &Principal,
    grant: Grant,
    access: Access,
    facts: Option<&Facts>,
) -> Option<bool> {
    let role = |r| p.has(r);
    match grant {
        Authenticated => Some(true),
        SystemAdmin => Some(role(Role::SystemAdmin)),
        Auditor => Some(role(Role::Auditor) && access == Access::Read),
        Scope(s) => Some(p.has_scope(s)),
        SelfTarget => needs(role(Role::Employee), facts.map(|f| f.is_self)),
        AssessorOfTarget => needs(role(Role::Employee), facts.map(|f| f.is_assessor)),
        AssessorSuperiorOfTarget => {
            needs(role(Role::Employee), facts.map(|f| f.is_assessor_superior))
        }
        AdminOfTarget => needs(role(Role::Admin), facts.map(|f| f.admin_in_scope)),
    }
}

fn needs(has_role: bool, fact: Option<bool>) -> Option<bool> {
    if !has_role { Some(false) } else { fact }
}

/// Decision without looking at the resource: `Some(true)` when a role grant allows the call,
/// `Some(false)` when no grant can allow it whatever the resource, `None` when relations decide.
pub fn decide_without_facts(p: &Principal, rule: &Rule) -> Option<bool> {
    let mut undecided = false;
    for g in rule.grants {
        match grant_allows(p, *g, rule.access, None) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => undecided = true,
        }
    }
    if undecided { None } else { Some(false) }
}

/// The decision for `p` calling `rule.rpc` on a resource with `facts`.
pub fn decide(p: &Principal, rule: &Rule, facts: &Facts) -> bool {
    rule.grants
        .iter()
        .any(|g| grant_allows(p, *g, rule.access, Some(facts)) == Some(true))
}

/// Which relations a decision for `p` may need (to gather only those).
pub fn relations_needed(p: &Principal, rule: &Rule) -> Facts {
    let mut need = Facts::default();
    for g in rule.grants {
        match g {
            SelfTarget if p.has(Role::Employee) => need.is_self = true,
            AssessorOfTarget if p.has(Role::Employee) => need.is_assessor = true,
            AssessorSuperiorOfTarget if p.has(Role::Employee) => need.is_assessor_superior = true,
            AdminOfTarget if p.has(Role::Admin) => need.admin_in_scope = true,
            _ => {}
        }
    }
    need
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role], scopes: &[&str]) -> Principal {
        Principal {
            subject: "s".into(),
            roles: roles.to_vec(),
            units: vec![],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            acting_service: None,
            expires_at: 0,
        }
    }

    const NONE: Facts = Facts {
        is_self: false,
        is_assessor: false,
        is_assessor_superior: false,
        admin_in_scope: false,
    };
    const SELF: Facts = Facts {
        is_self: true,
        ..NONE
    };
    const ASSESSOR: Facts = Facts {
        is_assessor: true,
        ..NONE
    };
    const SUPERIOR: Facts = Facts {
        is_assessor_superior: true,
        ..NONE
    };
    const IN_SCOPE: Facts = Facts {
        admin_in_scope: true,
        ..NONE
    };

    /// (caller, scopes, facts, rpc, allowed) — every policy row is exercised here, allowed and
    /// refused, and `every_rule_is_covered_by_the_table` checks none is missing.
    /// (caller roles, service scopes, relations, rpc, allowed).
    type Case = (
        &'static [Role],
        &'static [&'static str],
        Facts,
        &'static str,
        bool,
    );

    const CASES: &[Case] = &[
        // Organisation: system admin only for agencies; unit admins within their subtree.
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            "/kinerja.v1.OrganizationService/CreateAgency",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.OrganizationService/CreateAgency",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            "/kinerja.v1.OrganizationService/GetAgency",
            true,
        ),
        (
            &[],
            &[],
            NONE,
            "/kinerja.v1.OrganizationService/ListAgencies",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.OrganizationService/UpdateAgency",
            false,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            "/kinerja.v1.OrganizationService/UpdateAgency",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.OrganizationService/CreateUnit",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            "/kinerja.v1.OrganizationService/CreateUnit",
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            IN_SCOPE,
            "/kinerja.v1.OrganizationService/CreateUnit",
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            "/kinerja.v1.OrganizationService/GetUnit",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            "/kinerja.v1.OrganizationService/ListUnits",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.OrganizationService/MoveUnit",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            "/kinerja.v1.OrganizationService/MoveUnit",
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.OrganizationService/DeactivateUnit",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.OrganizationService/DeactivateUnit",
            false,
        ),
        // Employees.
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.EmployeeService/CreateEmployee",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            "/kinerja.v1.EmployeeService/CreateEmployee",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.EmployeeService/GetEmployee",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            "/kinerja.v1.EmployeeService/GetEmployee",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            "/kinerja.v1.EmployeeService/GetEmployee",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            "/kinerja.v1.EmployeeService/GetEmployee",
            true,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            "/kinerja.v1.EmployeeService/GetEmployee",
            true,
        ),
        (
            &[Role::Service],
            &["employees:read"],
            NONE,
            "/kinerja.v1.EmployeeService/GetEmployee",
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            "/kinerja.v1.EmployeeService/GetEmployee",
            false,
        ),
        (
            &[Role::Employee],
            &["employees:read"],
            NONE,
            "/kinerja.v1.EmployeeService/GetEmployee",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.EmployeeService/ListEmployees",
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.EmployeeService/ListEmployees",
            true,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            "/kinerja.v1.EmployeeService/ListEmployees",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.EmployeeService/UpdateEmployee",
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            IN_SCOPE,
            "/kinerja.v1.EmployeeService/UpdateEmployee",
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.EmployeeService/UpdateEmployee",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.EmployeeService/ImportEmployees",
            false,
        ),
        (
            &[Role::Service],
            &["employees:import"],
            NONE,
            "/kinerja.v1.EmployeeService/ImportEmployees",
            true,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            "/kinerja.v1.EmployeeService/ImportEmployees",
            true,
        ),
        // Assignments.
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.AssignmentService/CreateAssignment",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            "/kinerja.v1.AssignmentService/CreateAssignment",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.AssignmentService/GetAssignment",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            "/kinerja.v1.AssignmentService/GetAssignment",
            false,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            "/kinerja.v1.AssignmentService/GetAssignment",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            "/kinerja.v1.AssignmentService/ListAssignments",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            "/kinerja.v1.AssignmentService/ListAssignments",
            true,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            "/kinerja.v1.AssignmentService/UpdateAssignment",
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.AssignmentService/UpdateAssignment",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.AssignmentService/GetAssessor",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            "/kinerja.v1.AssignmentService/GetAssessor",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.AssignmentService/ListDirectReports",
            true,
        ),
        (
            &[Role::Service],
            &[],
            NONE,
            "/kinerja.v1.AssignmentService/ListDirectReports",
            false,
        ),
        // Audit trail.
        (
            &[Role::Auditor],
            &[],
            NONE,
            "/kinerja.v1.AuditService/ListAuditEntries",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.AuditService/ListAuditEntries",
            false,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            "/kinerja.v1.AuditService/VerifyAuditChain",
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.AuditService/VerifyAuditChain",
            false,
        ),
        #[cfg(feature = "bench")]
        (
            &[Role::Employee],
            &[],
            NONE,
            "/kinerja.bench.v1.EchoService/Echo",
            true,
        ),
    ];

    #[test]
    fn policy_table() {
        for (roles, scopes, facts, rpc, want) in CASES {
            let p = principal(roles, scopes);
            let r = rule(rpc).unwrap_or_else(|| panic!("{rpc} has no policy entry"));
            assert_eq!(
                decide(&p, r, facts),
                *want,
                "{roles:?} {scopes:?} {facts:?} {rpc}"
            );
            // The fact-free shortcut never contradicts the full decision.
            if let Some(quick) = decide_without_facts(&p, r) {
                assert_eq!(quick, *want, "shortcut for {roles:?} {rpc}");
            }
        }
    }

    #[test]
    fn every_rule_is_covered_by_the_table() {
        for r in POLICY {
            assert!(
                CASES.iter().any(|c| c.3 == r.rpc && c.4),
                "{} has no allowed case",
                r.rpc
            );
            let refused = CASES.iter().any(|c| c.3 == r.rpc && !c.4);
            let open = r.grants.contains(&Authenticated);
            assert!(refused || open, "{} has no refused case", r.rpc);
        }
    }

    #[test]
    fn every_rpc_of_the_api_has_a_policy_entry() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let mut missing = Vec::new();
        for file in set.file {
            let pkg = file.package.clone().unwrap_or_default();
            for svc in &file.service {
                for m in &svc.method {
                    let path = format!("/{pkg}.{}/{}", svc.name(), m.name());
                    if rule(&path).is_none() {
                        missing.push(path);
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "RPCs without a policy entry (denied to all): {missing:?}"
        );
    }

    #[test]
    fn unknown_rpcs_have_no_rule() {
        assert!(rule("/kinerja.v1.EmployeeService/DeleteEverything").is_none());
    }
}
