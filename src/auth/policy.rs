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
/// Readers of a performance plan (relations as recorded on the plan).
const PLAN_READERS: &[Grant] = &[
    SelfTarget,
    AssessorOfTarget,
    AssessorSuperiorOfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
    Scope("skp:read"),
];
/// Who may create a plan or change its content (the workflow rule then allows the employee and
/// admins only while it is DRAFT or DIKEMBALIKAN).
const PLAN_EDITORS: &[Grant] = &[SelfTarget, AdminOfTarget, SystemAdmin];
/// The plan's recorded assessor alone.
const PLAN_ASSESSOR: &[Grant] = &[AssessorOfTarget];

/// The plan's employee alone.
const PLAN_OWNER: &[Grant] = &[SelfTarget];
/// Readers of assessment results (relations as recorded on the plan); service accounts with
/// `results:read` see set (DITETAPKAN) and FINAL results only.
const RESULT_READERS: &[Grant] = &[
    SelfTarget,
    AssessorOfTarget,
    AssessorSuperiorOfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
    Scope("results:read"),
];
/// Readers of an evaluation's history (drafts included, so no service scope).
const HISTORY_READERS: &[Grant] = &[
    SelfTarget,
    AssessorOfTarget,
    AssessorSuperiorOfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
];
/// Who calibrates a unit: admins of the unit and the leader one level up (the assessor of the
/// unit's leader).
const CALIBRATORS: &[Grant] = &[SystemAdmin, AdminOfTarget, AssessorOfTarget];
/// Readers of a unit's calibration: calibrators, the unit's leader, auditors, result readers.
const CALIBRATION_READERS: &[Grant] = &[
    SelfTarget,
    AssessorOfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
    Scope("results:read"),
];

/// Readers of development plans: the employee, the recorded assessor and their superior, admins
/// of the unit, auditors, and service accounts with `followup:read`.
const FOLLOWUP_READERS: &[Grant] = &[
    SelfTarget,
    AssessorOfTarget,
    AssessorSuperiorOfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
    Scope("followup:read"),
];
/// Who writes a development plan's content: the recorded assessor and admins of the unit.
const FOLLOWUP_EDITORS: &[Grant] = &[AssessorOfTarget, AdminOfTarget, SystemAdmin];
/// HR's view of flags and overdue actions: admins of the unit (or everything for system admins),
/// auditors, service accounts with `followup:read`; the employee sees their own flags.
const FOLLOWUP_HR_READERS: &[Grant] = &[
    SelfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
    Scope("followup:read"),
];

/// Full method path of a `kinerja.v1.FollowUpService` RPC.
macro_rules! follow {
    ($m:literal) => {
        concat!("/kinerja.v1.FollowUpService/", $m)
    };
}

/// Readers of the reports on a unit subtree (authorized against the unit's leader on the
/// period's last day): the leader, the leader one level up, admins of the unit, auditors,
/// system admins and services with `reports:read`.
const UNIT_REPORT_READERS: &[Grant] = &[
    SelfTarget,
    AssessorOfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
    Scope("reports:read"),
];
/// Readers of an employee's history of results: the employee alone among employees, admins of
/// their unit, auditors, system admins and services with `reports:read`.
const HISTORY_REPORT_READERS: &[Grant] = &[
    SelfTarget,
    AdminOfTarget,
    Auditor,
    SystemAdmin,
    Scope("reports:read"),
];

/// Full method path of a `kinerja.v1.ReportService` RPC.
macro_rules! report {
    ($m:literal) => {
        concat!("/kinerja.v1.ReportService/", $m)
    };
}

/// Full method path of a `kinerja.v1.AssessmentService` RPC.
macro_rules! assess {
    ($m:literal) => {
        concat!("/kinerja.v1.AssessmentService/", $m)
    };
}

/// Full method path of a `kinerja.v1.CalibrationService` RPC.
macro_rules! calib {
    ($m:literal) => {
        concat!("/kinerja.v1.CalibrationService/", $m)
    };
}

/// Full method path of a `kinerja.v1.SkpService` RPC.
macro_rules! skp {
    ($m:literal) => {
        concat!("/kinerja.v1.SkpService/", $m)
    };
}

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
    // Event feed.
    Rule {
        rpc: "/kinerja.v1.EventService/Watch",
        access: Read,
        grants: &[Scope("events:read"), Auditor, SystemAdmin],
    },
    // Bulk export of set and FINAL results (payroll, HR spreadsheets): admins of the exported
    // subtree, auditors, system admins and services with `results:read`.
    Rule {
        rpc: "/kinerja.v1.ExportService/ExportResults",
        access: Read,
        grants: &[SystemAdmin, AdminOfTarget, Auditor, Scope("results:read")],
    },
    // Performance periods: admins of the agency set them; everyone reads them.
    Rule {
        rpc: "/kinerja.v1.PerformancePeriodService/CreatePeriod",
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: "/kinerja.v1.PerformancePeriodService/GetPeriod",
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: "/kinerja.v1.PerformancePeriodService/ListPeriods",
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: "/kinerja.v1.PerformancePeriodService/UpdatePeriod",
        access: Write,
        grants: UNIT_ADMINS,
    },
    // Performance plans (SKP).
    Rule {
        rpc: skp!("CreateSkp"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("CopySkp"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("GetSkp"),
        access: Read,
        grants: PLAN_READERS,
    },
    Rule {
        rpc: skp!("ListSkps"),
        access: Read,
        grants: PLAN_READERS,
    },
    Rule {
        rpc: skp!("UpdateSkp"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("CreateRhk"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("UpdateRhk"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("DeleteRhk"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("CreateIndicator"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("UpdateIndicator"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("DeleteIndicator"),
        access: Write,
        grants: PLAN_EDITORS,
    },
    Rule {
        rpc: skp!("UpdateBehaviour"),
        access: Write,
        grants: PLAN_ASSESSOR,
    },
    Rule {
        rpc: skp!("SubmitSkp"),
        access: Write,
        grants: &[SelfTarget],
    },
    Rule {
        rpc: skp!("ApproveSkp"),
        access: Write,
        grants: PLAN_ASSESSOR,
    },
    Rule {
        rpc: skp!("ReturnSkp"),
        access: Write,
        grants: PLAN_ASSESSOR,
    },
    Rule {
        rpc: skp!("ReopenSkp"),
        access: Write,
        grants: PLAN_ASSESSOR,
    },
    Rule {
        rpc: skp!("CloseSkp"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: skp!("SetSkpAssessor"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: skp!("ListSkpHistory"),
        access: Read,
        grants: PLAN_READERS,
    },
    Rule {
        rpc: skp!("GetSkpCascade"),
        access: Read,
        grants: PLAN_READERS,
    },
    Rule {
        rpc: skp!("ApplySkpTemplate"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    // Assessment: relations are the ones recorded on the plan (the assessor who rates is the
    // SKP's recorded assessor; the decider of an objection its recorded assessor's superior).
    Rule {
        rpc: assess!("CreateActionPlan"),
        access: Write,
        grants: PLAN_OWNER,
    },
    Rule {
        rpc: assess!("UpdateActionPlan"),
        access: Write,
        grants: PLAN_OWNER,
    },
    Rule {
        rpc: assess!("DeleteActionPlan"),
        access: Write,
        grants: PLAN_OWNER,
    },
    Rule {
        rpc: assess!("ListActionPlans"),
        access: Read,
        grants: PLAN_READERS,
    },
    Rule {
        rpc: assess!("CreateRealisasi"),
        access: Write,
        grants: PLAN_OWNER,
    },
    Rule {
        rpc: assess!("UpdateRealisasi"),
        access: Write,
        grants: PLAN_OWNER,
    },
    Rule {
        rpc: assess!("ListRealisasi"),
        access: Read,
        grants: PLAN_READERS,
    },
    Rule {
        rpc: assess!("CreateFeedback"),
        access: Write,
        grants: PLAN_ASSESSOR,
    },
    Rule {
        rpc: assess!("ListFeedback"),
        access: Read,
        grants: PLAN_READERS,
    },
    Rule {
        rpc: assess!("GetEvaluation"),
        access: Read,
        grants: RESULT_READERS,
    },
    Rule {
        rpc: assess!("ListEvaluations"),
        access: Read,
        grants: RESULT_READERS,
    },
    Rule {
        rpc: assess!("SubmitSelfAssessment"),
        access: Write,
        grants: PLAN_OWNER,
    },
    Rule {
        rpc: assess!("RateEvaluation"),
        access: Write,
        grants: PLAN_ASSESSOR,
    },
    Rule {
        rpc: assess!("ExplainEvaluation"),
        access: Read,
        grants: RESULT_READERS,
    },
    Rule {
        rpc: assess!("ListEvaluationHistory"),
        access: Read,
        grants: HISTORY_READERS,
    },
    Rule {
        rpc: assess!("FileObjection"),
        access: Write,
        grants: PLAN_OWNER,
    },
    Rule {
        rpc: assess!("DecideObjection"),
        access: Write,
        grants: &[AssessorSuperiorOfTarget],
    },
    Rule {
        rpc: assess!("GetObjection"),
        access: Read,
        grants: RESULT_READERS,
    },
    Rule {
        rpc: assess!("ListObjections"),
        access: Read,
        grants: RESULT_READERS,
    },
    Rule {
        rpc: assess!("GetAnnualResult"),
        access: Read,
        grants: RESULT_READERS,
    },
    Rule {
        rpc: assess!("SetCreditCoefficient"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    // Calibration: unit calls are authorized against the unit's leader (AssessorOfTarget is the
    // leader one level up); period calls against the period's agency.
    Rule {
        rpc: calib!("LockEvaluationPeriod"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: calib!("UnlockEvaluationPeriod"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: calib!("GetEvaluationPeriodLock"),
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: calib!("SetOrganizationRating"),
        access: Write,
        grants: CALIBRATORS,
    },
    Rule {
        rpc: calib!("GetOrganizationRating"),
        access: Read,
        grants: CALIBRATION_READERS,
    },
    Rule {
        rpc: calib!("CheckCalibration"),
        access: Read,
        grants: CALIBRATION_READERS,
    },
    Rule {
        rpc: calib!("RecordCalibrationException"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: calib!("SetUnitResults"),
        access: Write,
        grants: CALIBRATORS,
    },
    Rule {
        rpc: calib!("FinalizeExpiredResults"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    // Reports: read-only.
    Rule {
        rpc: report!("GetDistributionReport"),
        access: Read,
        grants: UNIT_REPORT_READERS,
    },
    Rule {
        rpc: report!("ListEmployeeHistory"),
        access: Read,
        grants: HISTORY_REPORT_READERS,
    },
    Rule {
        rpc: report!("GetCompletionReport"),
        access: Read,
        grants: UNIT_REPORT_READERS,
    },
    Rule {
        rpc: report!("ListAssessorStatistics"),
        access: Read,
        grants: UNIT_REPORT_READERS,
    },
    Rule {
        rpc: report!("ListIndicatorQuality"),
        access: Read,
        grants: UNIT_REPORT_READERS,
    },
    Rule {
        rpc: calib!("GetAssessmentSettings"),
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: calib!("UpdateAssessmentSettings"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: calib!("CreateCurveRuleSet"),
        access: Write,
        grants: &[SystemAdmin],
    },
    Rule {
        rpc: calib!("ListCurveRuleSets"),
        access: Read,
        grants: &[Authenticated],
    },
    // Follow-up: plans and flags are authorized against the relations recorded on the SKP of
    // the evaluation they follow up; listings against the employee, the unit or nothing.
    Rule {
        rpc: follow!("GetDevelopmentPlan"),
        access: Read,
        grants: FOLLOWUP_READERS,
    },
    Rule {
        rpc: follow!("ListDevelopmentPlans"),
        access: Read,
        grants: FOLLOWUP_READERS,
    },
    Rule {
        rpc: follow!("CreateDevelopmentPlan"),
        access: Write,
        grants: FOLLOWUP_EDITORS,
    },
    Rule {
        rpc: follow!("UpdateDevelopmentPlan"),
        access: Write,
        grants: FOLLOWUP_EDITORS,
    },
    Rule {
        rpc: follow!("AddDevelopmentAction"),
        access: Write,
        grants: FOLLOWUP_EDITORS,
    },
    // The employee reports progress and status; the handler keeps the rest to the assessor.
    Rule {
        rpc: follow!("UpdateDevelopmentAction"),
        access: Write,
        grants: &[SelfTarget, AssessorOfTarget, AdminOfTarget, SystemAdmin],
    },
    Rule {
        rpc: follow!("AgreeDevelopmentPlan"),
        access: Write,
        grants: &[SelfTarget, AssessorOfTarget],
    },
    Rule {
        rpc: follow!("CompleteDevelopmentPlan"),
        access: Write,
        grants: FOLLOWUP_EDITORS,
    },
    Rule {
        rpc: follow!("ListOverdueDevelopmentActions"),
        access: Read,
        grants: &[AdminOfTarget, Auditor, SystemAdmin, Scope("followup:read")],
    },
    Rule {
        rpc: follow!("GetFollowUpFlag"),
        access: Read,
        grants: FOLLOWUP_HR_READERS,
    },
    Rule {
        rpc: follow!("ListFollowUpFlags"),
        access: Read,
        grants: FOLLOWUP_HR_READERS,
    },
    Rule {
        rpc: follow!("DecideFollowUpFlag"),
        access: Write,
        grants: UNIT_ADMINS,
    },
    Rule {
        rpc: follow!("GetFollowUpSettings"),
        access: Read,
        grants: &[Authenticated],
    },
    Rule {
        rpc: follow!("UpdateFollowUpSettings"),
        access: Write,
        grants: UNIT_ADMINS,
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

/// Full paths of every RPC the Kinerja API defines (from the compiled descriptor set).
pub fn api_methods() -> &'static std::collections::HashSet<String> {
    static METHODS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    METHODS.get_or_init(|| {
        use prost::Message;
        let mut out = std::collections::HashSet::new();
        if let Ok(set) = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET) {
            for file in set.file {
                let pkg = file.package.clone().unwrap_or_default();
                for svc in &file.service {
                    for m in &svc.method {
                        out.insert(format!("/{pkg}.{}/{}", svc.name(), m.name()));
                    }
                }
            }
        }
        out
    })
}

/// True when `path` is an RPC of the Kinerja API.
pub fn is_api_method(path: &str) -> bool {
    api_methods().contains(path)
}

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
        // Event feed.
        (
            &[Role::Service],
            &["events:read"],
            NONE,
            "/kinerja.v1.EventService/Watch",
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            "/kinerja.v1.EventService/Watch",
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.EventService/Watch",
            false,
        ),
        // Export.
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            "/kinerja.v1.ExportService/ExportResults",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.ExportService/ExportResults",
            true,
        ),
        (
            &[Role::Service],
            &["events:read"],
            NONE,
            "/kinerja.v1.ExportService/ExportResults",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.ExportService/ExportResults",
            false,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            "/kinerja.v1.ExportService/ExportResults",
            false,
        ),
        // Performance periods.
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            "/kinerja.v1.PerformancePeriodService/CreatePeriod",
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            "/kinerja.v1.PerformancePeriodService/CreatePeriod",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            "/kinerja.v1.PerformancePeriodService/CreatePeriod",
            false,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            "/kinerja.v1.PerformancePeriodService/GetPeriod",
            true,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            "/kinerja.v1.PerformancePeriodService/ListPeriods",
            true,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            "/kinerja.v1.PerformancePeriodService/UpdatePeriod",
            true,
        ),
        (
            &[Role::Auditor],
            &[],
            IN_SCOPE,
            "/kinerja.v1.PerformancePeriodService/UpdatePeriod",
            false,
        ),
        // Performance plans (SKP): relations are the ones recorded on the plan.
        (&[Role::Employee], &[], SELF, skp!("CreateSkp"), true),
        (&[Role::Employee], &[], ASSESSOR, skp!("CreateSkp"), false),
        (&[Role::Admin], &[], IN_SCOPE, skp!("CreateSkp"), true),
        (&[Role::Auditor], &[], NONE, skp!("CreateSkp"), false),
        (&[Role::Employee], &[], SELF, skp!("CopySkp"), true),
        (&[Role::Employee], &[], NONE, skp!("CopySkp"), false),
        (&[Role::Employee], &[], SELF, skp!("GetSkp"), true),
        (&[Role::Employee], &[], ASSESSOR, skp!("GetSkp"), true),
        (&[Role::Employee], &[], SUPERIOR, skp!("GetSkp"), true),
        (&[Role::Employee], &[], NONE, skp!("GetSkp"), false),
        (&[Role::Auditor], &[], NONE, skp!("GetSkp"), true),
        (&[Role::Service], &["skp:read"], NONE, skp!("GetSkp"), true),
        (
            &[Role::Service],
            &["employees:read"],
            NONE,
            skp!("GetSkp"),
            false,
        ),
        (&[Role::Admin], &[], NONE, skp!("GetSkp"), false),
        (&[Role::Employee], &[], ASSESSOR, skp!("ListSkps"), true),
        (&[Role::Employee], &[], NONE, skp!("ListSkps"), false),
        (&[Role::Employee], &[], SELF, skp!("UpdateSkp"), true),
        (&[Role::Employee], &[], ASSESSOR, skp!("UpdateSkp"), false),
        (&[Role::Admin], &[], IN_SCOPE, skp!("UpdateSkp"), true),
        (&[Role::Employee], &[], SELF, skp!("CreateRhk"), true),
        (&[Role::Employee], &[], NONE, skp!("CreateRhk"), false),
        (&[Role::Auditor], &[], IN_SCOPE, skp!("CreateRhk"), false),
        (&[Role::Employee], &[], SELF, skp!("UpdateRhk"), true),
        (&[Role::Employee], &[], SUPERIOR, skp!("UpdateRhk"), false),
        (&[Role::Employee], &[], SELF, skp!("DeleteRhk"), true),
        (&[Role::Employee], &[], ASSESSOR, skp!("DeleteRhk"), false),
        (&[Role::Admin], &[], IN_SCOPE, skp!("CreateIndicator"), true),
        (&[Role::Employee], &[], NONE, skp!("CreateIndicator"), false),
        (&[Role::Employee], &[], SELF, skp!("UpdateIndicator"), true),
        (
            &[Role::Service],
            &["skp:read"],
            NONE,
            skp!("UpdateIndicator"),
            false,
        ),
        (&[Role::Employee], &[], SELF, skp!("DeleteIndicator"), true),
        (&[Role::Admin], &[], NONE, skp!("DeleteIndicator"), false),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            skp!("UpdateBehaviour"),
            true,
        ),
        (&[Role::Employee], &[], SELF, skp!("UpdateBehaviour"), false),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            skp!("UpdateBehaviour"),
            false,
        ),
        (&[Role::Employee], &[], SELF, skp!("SubmitSkp"), true),
        (&[Role::Employee], &[], ASSESSOR, skp!("SubmitSkp"), false),
        (&[Role::Admin], &[], IN_SCOPE, skp!("SubmitSkp"), false),
        (&[Role::SystemAdmin], &[], NONE, skp!("SubmitSkp"), false),
        (&[Role::Employee], &[], ASSESSOR, skp!("ApproveSkp"), true),
        (&[Role::Employee], &[], SELF, skp!("ApproveSkp"), false),
        (&[Role::Employee], &[], SUPERIOR, skp!("ApproveSkp"), false),
        (&[Role::SystemAdmin], &[], NONE, skp!("ApproveSkp"), false),
        (&[Role::Employee], &[], ASSESSOR, skp!("ReturnSkp"), true),
        (&[Role::Employee], &[], SELF, skp!("ReturnSkp"), false),
        (&[Role::Employee], &[], ASSESSOR, skp!("ReopenSkp"), true),
        (&[Role::Admin], &[], IN_SCOPE, skp!("ReopenSkp"), false),
        (&[Role::Admin], &[], IN_SCOPE, skp!("CloseSkp"), true),
        (&[Role::Employee], &[], SELF, skp!("CloseSkp"), false),
        (&[Role::Employee], &[], ASSESSOR, skp!("CloseSkp"), false),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            skp!("SetSkpAssessor"),
            true,
        ),
        (&[Role::Admin], &[], NONE, skp!("SetSkpAssessor"), false),
        (&[Role::Employee], &[], SELF, skp!("SetSkpAssessor"), false),
        (&[Role::Employee], &[], SELF, skp!("ListSkpHistory"), true),
        (&[Role::Employee], &[], NONE, skp!("ListSkpHistory"), false),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            skp!("GetSkpCascade"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            skp!("GetSkpCascade"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            skp!("ApplySkpTemplate"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            skp!("ApplySkpTemplate"),
            false,
        ),
        // Assessment and calibration.
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("CreateActionPlan"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            assess!("CreateActionPlan"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("UpdateActionPlan"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            assess!("UpdateActionPlan"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("DeleteActionPlan"),
            true,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            assess!("DeleteActionPlan"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            assess!("ListActionPlans"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            assess!("ListActionPlans"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("CreateRealisasi"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            assess!("CreateRealisasi"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            assess!("CreateRealisasi"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("UpdateRealisasi"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            assess!("UpdateRealisasi"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            assess!("ListRealisasi"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            assess!("ListRealisasi"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            assess!("CreateFeedback"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("CreateFeedback"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            assess!("CreateFeedback"),
            false,
        ),
        (&[Role::Employee], &[], SELF, assess!("ListFeedback"), true),
        (&[Role::Employee], &[], NONE, assess!("ListFeedback"), false),
        (&[Role::Employee], &[], SELF, assess!("GetEvaluation"), true),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            assess!("GetEvaluation"),
            true,
        ),
        (
            &[Role::Service],
            &["skp:read"],
            NONE,
            assess!("GetEvaluation"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            assess!("GetEvaluation"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            assess!("ListEvaluations"),
            true,
        ),
        (&[Role::Admin], &[], NONE, assess!("ListEvaluations"), false),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("SubmitSelfAssessment"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            assess!("SubmitSelfAssessment"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            assess!("RateEvaluation"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("RateEvaluation"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            assess!("RateEvaluation"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            assess!("RateEvaluation"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            assess!("RateEvaluation"),
            false,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            assess!("RateEvaluation"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            assess!("ExplainEvaluation"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            assess!("ExplainEvaluation"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("ListEvaluationHistory"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            assess!("ListEvaluationHistory"),
            false,
        ),
        (&[Role::Employee], &[], SELF, assess!("FileObjection"), true),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            assess!("FileObjection"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            assess!("FileObjection"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            assess!("DecideObjection"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            assess!("DecideObjection"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("DecideObjection"),
            false,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            assess!("DecideObjection"),
            false,
        ),
        (&[Role::Employee], &[], SELF, assess!("GetObjection"), true),
        (&[Role::Employee], &[], NONE, assess!("GetObjection"), false),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("ListObjections"),
            true,
        ),
        (
            &[Role::Service],
            &["events:read"],
            NONE,
            assess!("ListObjections"),
            false,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            assess!("GetAnnualResult"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            assess!("GetAnnualResult"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            assess!("SetCreditCoefficient"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            assess!("SetCreditCoefficient"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            calib!("LockEvaluationPeriod"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            calib!("LockEvaluationPeriod"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            calib!("LockEvaluationPeriod"),
            false,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            calib!("UnlockEvaluationPeriod"),
            true,
        ),
        (
            &[Role::Auditor],
            &[],
            IN_SCOPE,
            calib!("UnlockEvaluationPeriod"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            calib!("GetEvaluationPeriodLock"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            calib!("SetOrganizationRating"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            calib!("SetOrganizationRating"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            calib!("SetOrganizationRating"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            calib!("SetOrganizationRating"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            calib!("GetOrganizationRating"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            calib!("GetOrganizationRating"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            calib!("CheckCalibration"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            calib!("CheckCalibration"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            calib!("CheckCalibration"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            calib!("RecordCalibrationException"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            calib!("RecordCalibrationException"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            calib!("SetUnitResults"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            calib!("SetUnitResults"),
            false,
        ),
        (&[Role::Admin], &[], NONE, calib!("SetUnitResults"), false),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            calib!("FinalizeExpiredResults"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            calib!("FinalizeExpiredResults"),
            false,
        ),
        (
            &[Role::Service],
            &[],
            NONE,
            calib!("GetAssessmentSettings"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            calib!("UpdateAssessmentSettings"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            calib!("UpdateAssessmentSettings"),
            false,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            calib!("CreateCurveRuleSet"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            calib!("CreateCurveRuleSet"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            calib!("ListCurveRuleSets"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("GetDevelopmentPlan"),
            true,
        ),
        (
            &[Role::Service],
            &["followup:read"],
            NONE,
            follow!("GetDevelopmentPlan"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            follow!("GetDevelopmentPlan"),
            false,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            follow!("GetDevelopmentPlan"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            follow!("ListDevelopmentPlans"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            follow!("ListDevelopmentPlans"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            follow!("ListDevelopmentPlans"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            follow!("CreateDevelopmentPlan"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("CreateDevelopmentPlan"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            follow!("UpdateDevelopmentPlan"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("UpdateDevelopmentPlan"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            IN_SCOPE,
            follow!("UpdateDevelopmentPlan"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            follow!("AddDevelopmentAction"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            follow!("AddDevelopmentAction"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("UpdateDevelopmentAction"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            follow!("UpdateDevelopmentAction"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("AgreeDevelopmentPlan"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            follow!("AgreeDevelopmentPlan"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            follow!("AgreeDevelopmentPlan"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            follow!("AgreeDevelopmentPlan"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            follow!("CompleteDevelopmentPlan"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("CompleteDevelopmentPlan"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            follow!("ListOverdueDevelopmentActions"),
            true,
        ),
        (
            &[Role::Service],
            &["followup:read"],
            NONE,
            follow!("ListOverdueDevelopmentActions"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("ListOverdueDevelopmentActions"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            follow!("ListOverdueDevelopmentActions"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("GetFollowUpFlag"),
            true,
        ),
        (
            &[Role::Service],
            &["followup:read"],
            NONE,
            follow!("GetFollowUpFlag"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            follow!("GetFollowUpFlag"),
            false,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            follow!("GetFollowUpFlag"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            follow!("ListFollowUpFlags"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("ListFollowUpFlags"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            follow!("ListFollowUpFlags"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            follow!("DecideFollowUpFlag"),
            true,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            follow!("DecideFollowUpFlag"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("DecideFollowUpFlag"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            IN_SCOPE,
            follow!("DecideFollowUpFlag"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            NONE,
            follow!("GetFollowUpSettings"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            follow!("UpdateFollowUpSettings"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            follow!("UpdateFollowUpSettings"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            follow!("UpdateFollowUpSettings"),
            false,
        ),
        // Reports.
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            report!("GetDistributionReport"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            report!("GetDistributionReport"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            report!("GetDistributionReport"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            report!("GetDistributionReport"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            report!("GetDistributionReport"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            report!("GetDistributionReport"),
            true,
        ),
        (
            &[Role::Service],
            &["reports:read"],
            NONE,
            report!("GetDistributionReport"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            report!("GetDistributionReport"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            report!("GetCompletionReport"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            report!("GetCompletionReport"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            report!("GetCompletionReport"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            report!("GetCompletionReport"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            report!("GetCompletionReport"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            report!("GetCompletionReport"),
            true,
        ),
        (
            &[Role::Service],
            &["reports:read"],
            NONE,
            report!("GetCompletionReport"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            report!("GetCompletionReport"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            report!("ListAssessorStatistics"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            report!("ListAssessorStatistics"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            report!("ListAssessorStatistics"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            report!("ListAssessorStatistics"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            report!("ListAssessorStatistics"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            report!("ListAssessorStatistics"),
            true,
        ),
        (
            &[Role::Service],
            &["reports:read"],
            NONE,
            report!("ListAssessorStatistics"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            report!("ListAssessorStatistics"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            report!("ListIndicatorQuality"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            report!("ListIndicatorQuality"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            report!("ListIndicatorQuality"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            report!("ListIndicatorQuality"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            report!("ListIndicatorQuality"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            report!("ListIndicatorQuality"),
            true,
        ),
        (
            &[Role::Service],
            &["reports:read"],
            NONE,
            report!("ListIndicatorQuality"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            report!("ListIndicatorQuality"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SELF,
            report!("ListEmployeeHistory"),
            true,
        ),
        (
            &[Role::Employee],
            &[],
            ASSESSOR,
            report!("ListEmployeeHistory"),
            false,
        ),
        (
            &[Role::Employee],
            &[],
            SUPERIOR,
            report!("ListEmployeeHistory"),
            false,
        ),
        (
            &[Role::Admin],
            &[],
            IN_SCOPE,
            report!("ListEmployeeHistory"),
            true,
        ),
        (
            &[Role::Admin],
            &[],
            NONE,
            report!("ListEmployeeHistory"),
            false,
        ),
        (
            &[Role::Auditor],
            &[],
            NONE,
            report!("ListEmployeeHistory"),
            true,
        ),
        (
            &[Role::SystemAdmin],
            &[],
            NONE,
            report!("ListEmployeeHistory"),
            true,
        ),
        (
            &[Role::Service],
            &["reports:read"],
            NONE,
            report!("ListEmployeeHistory"),
            true,
        ),
        (
            &[Role::Service],
            &["results:read"],
            NONE,
            report!("ListEmployeeHistory"),
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
        let methods = api_methods();
        assert!(methods.len() > 50, "the descriptor set lists the API");
        let mut missing: Vec<&String> = methods.iter().filter(|p| rule(p).is_none()).collect();
        missing.sort();
        assert!(
            missing.is_empty(),
            "RPCs without a policy entry (denied to all): {missing:?}"
        );
    }

    #[test]
    fn unknown_rpcs_have_no_rule() {
        assert!(rule("/kinerja.v1.EmployeeService/DeleteEverything").is_none());
        assert!(!is_api_method(
            "/kinerja.v1.EmployeeService/DeleteEverything"
        ));
        assert!(is_api_method("/kinerja.v1.EmployeeService/GetEmployee"));
    }
}
