//! sea-orm entities, one module per table. Only the store layer uses them.

/// Agencies (instansi).
pub mod agency {
    use sea_orm::entity::prelude::*;

    /// One row of `agencies`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "agencies")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Unique code.
        pub code: String,
        /// Name.
        pub name: String,
        /// WIB, WITA or WIT.
        pub time_zone: String,
        /// Optimistic-concurrency version (the etag).
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Work units (unit kerja).
pub mod unit {
    use sea_orm::entity::prelude::*;

    /// One row of `units`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "units")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Owning agency.
        pub agency_id: String,
        /// Parent unit; `None` at the top.
        pub parent_id: Option<String>,
        /// Code, unique per agency.
        pub code: String,
        /// Name.
        pub name: String,
        /// False once deactivated.
        pub active: bool,
        /// Depth in the tree (0 at the top).
        pub depth: i32,
        /// Materialised path `/root-id/.../own-id/` for subtree queries.
        pub path: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Employees (pegawai).
pub mod employee {
    use sea_orm::entity::prelude::*;

    /// One row of `employees`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "employees")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// NIP, 18 digits, unique.
        pub nip: String,
        /// Full name.
        pub name: String,
        /// Lower-case name for case-insensitive prefix search on every database.
        pub name_lower: String,
        /// PNS or PPPK.
        pub status: String,
        /// Position type (JPT, ADMINISTRATOR, ...).
        pub position_type: String,
        /// Position name.
        pub position_name: String,
        /// Agency.
        pub agency_id: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Dated assignments of employees to posts.
pub mod assignment {
    use sea_orm::entity::prelude::*;

    /// One row of `assignments`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "assignments")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Assigned employee.
        pub employee_id: String,
        /// Unit of the post.
        pub unit_id: String,
        /// Direct superior (assessor); `None` at the top.
        pub superior_employee_id: Option<String>,
        /// Post name.
        pub position_name: String,
        /// Post type.
        pub position_type: String,
        /// DEFINITIF or PLT.
        pub kind: String,
        /// First day.
        pub start_date: Date,
        /// Last day, if any.
        pub end_date: Option<Date>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
        /// The unit belongs to another agency than the employee (a secondment).
        pub outside_agency: bool,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Idempotency keys of create calls (AIP-155).
pub mod idempotency_key {
    use sea_orm::entity::prelude::*;

    /// One row of `idempotency_keys`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        /// Full gRPC method name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub method: String,
        /// Caller-chosen request id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        /// SHA-256 of the request, to refuse the same id with another request.
        pub request_digest: String,
        /// Resource created by the first call.
        pub resource_id: String,
        /// When the first call was made.
        pub created_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Entries of the hash-chained audit trail (append-only).
pub mod audit_entry {
    use sea_orm::entity::prelude::*;

    /// One row of `audit_log`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Chain the entry belongs to.
        pub chain: i32,
        /// Position in its chain, from 1.
        pub seq: i64,
        /// When the change was made (microsecond precision).
        pub at: DateTimeUtc,
        /// Who made it (subject of the token).
        pub actor: String,
        /// Calling service acting for the actor, if any.
        pub calling_service: Option<String>,
        /// Request id of the call.
        pub request_id: String,
        /// Trace id of the call.
        pub trace_id: String,
        /// Full gRPC method.
        pub rpc: String,
        /// Type of the changed resource.
        pub resource_type: String,
        /// Id of the changed resource.
        pub resource_id: String,
        /// What was done (create, update, approve, ...).
        pub action: String,
        /// The change as JSON.
        pub change: String,
        /// SHA-256 of `change`.
        pub change_digest: String,
        /// Hash of the previous entry of the chain.
        pub prev_hash: String,
        /// SHA-256 over `prev_hash` and this entry's content.
        pub hash: String,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Heads of the audit chains: the last sequence number and hash of each.
pub mod audit_head {
    use sea_orm::entity::prelude::*;

    /// One row of `audit_heads`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_heads")]
    pub struct Model {
        /// Chain number.
        #[sea_orm(primary_key, auto_increment = false)]
        pub chain: i32,
        /// Sequence number of the chain's last entry (0 when empty).
        pub seq: i64,
        /// Hash of the chain's last entry (64 zeros when empty).
        pub hash: String,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Performance periods: one year per agency with its evaluation schedule.
pub mod performance_period {
    use sea_orm::entity::prelude::*;

    /// One row of `performance_periods`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "performance_periods")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Agency.
        pub agency_id: String,
        /// Calendar year.
        pub year: i32,
        /// MONTHLY, QUARTERLY or SEMESTER.
        pub schedule: String,
        /// 1 January.
        pub start_date: Date,
        /// 31 December.
        pub end_date: Date,
        /// Date by which SKP should be approved.
        pub planning_deadline: Date,
        /// Days after each evaluation period within which it is assessed.
        pub evaluation_deadline_days: i32,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Evaluation periods of a performance period (computed from its schedule).
pub mod evaluation_period {
    use sea_orm::entity::prelude::*;

    /// One row of `evaluation_periods`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "evaluation_periods")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Performance period.
        pub period_id: String,
        /// Position in the year, from 1.
        pub sequence: i32,
        /// First day.
        pub start_date: Date,
        /// Last day.
        pub end_date: Date,
        /// Assessment due date.
        pub deadline: Date,
        /// The annual (last) evaluation.
        pub annual: bool,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Performance plans (SKP).
pub mod skp {
    use sea_orm::entity::prelude::*;

    /// One row of `skps`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "skps")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The employee.
        pub employee_id: String,
        /// The performance period.
        pub period_id: String,
        /// Agency of the period.
        pub agency_id: String,
        /// Year of the period.
        pub year: i32,
        /// First day covered.
        pub start_date: Date,
        /// Last day covered.
        pub end_date: Date,
        /// KUANTITATIF or KUALITATIF.
        pub approach: String,
        /// DRAFT, DIAJUKAN, DISETUJUI, DIKEMBALIKAN or DITUTUP.
        pub state: String,
        /// Recorded assessor.
        pub assessor_id: Option<String>,
        /// Recorded assessor's superior.
        pub assessor_superior_id: Option<String>,
        /// True when an admin overrode the assessor.
        pub assessor_overridden: bool,
        /// True when the assessor has no superior (the employee is the top leader).
        pub top_of_chain: bool,
        /// Assignment the SKP was made from.
        pub assignment_id: Option<String>,
        /// Unit snapshot.
        pub unit_id: String,
        /// Unit name snapshot.
        pub unit_name: String,
        /// Post name snapshot.
        pub position_name: String,
        /// Post type snapshot.
        pub position_type: String,
        /// Annex: resource support.
        pub annex_resource_support: String,
        /// Annex: accountability scheme.
        pub annex_accountability: String,
        /// Annex: consequences.
        pub annex_consequences: String,
        /// Note of the last return.
        pub return_note: Option<String>,
        /// Reason of the last reopening.
        pub reopen_reason: Option<String>,
        /// Reason of the closing.
        pub close_reason: Option<String>,
        /// Last submission.
        pub submitted_at: Option<DateTimeUtc>,
        /// Approval (cleared on reopening).
        pub approved_at: Option<DateTimeUtc>,
        /// Closing.
        pub closed_at: Option<DateTimeUtc>,
        /// SKP this one was copied from.
        pub source_skp_id: Option<String>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Planned work results (RHK) of SKP.
pub mod skp_rhk {
    use sea_orm::entity::prelude::*;

    /// One row of `skp_rhk`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "skp_rhk")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The SKP.
        pub skp_id: String,
        /// Position in the SKP.
        pub sequence: i32,
        /// UTAMA or TAMBAHAN.
        pub kind: String,
        /// The planned result.
        pub text: String,
        /// Perspective (JPT).
        pub perspective: Option<String>,
        /// The assessor's RHK it supports.
        pub parent_rhk_id: Option<String>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The content of each SKP (RHK with indicators, behaviour values) encoded as one value, with
/// the SKP version it was built at (migration 000016).
pub mod skp_content {
    use sea_orm::entity::prelude::*;

    /// One row of `skp_contents`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "skp_contents")]
    pub struct Model {
        /// The SKP.
        #[sea_orm(primary_key, auto_increment = false)]
        pub skp_id: String,
        /// The SKP version the content was built at; current only while equal to the SKP's.
        pub version: i64,
        /// The content, encoded by `store::content`.
        pub content: Vec<u8>,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Indicators of RHK.
pub mod skp_indicator {
    use sea_orm::entity::prelude::*;

    /// One row of `skp_indicators`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "skp_indicators")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The RHK.
        pub rhk_id: String,
        /// The SKP of the RHK.
        pub skp_id: String,
        /// Position under the RHK.
        pub sequence: i32,
        /// KUANTITAS, KUALITAS, WAKTU or BIAYA.
        pub aspect: String,
        /// What is measured.
        pub text: String,
        /// Target value (> 0, finite).
        pub target: f64,
        /// Unit of the target.
        pub unit: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The seven BerAKHLAK values of each SKP with the leader's expectations.
pub mod skp_behaviour {
    use sea_orm::entity::prelude::*;

    /// One row of `skp_behaviours`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "skp_behaviours")]
    pub struct Model {
        /// The SKP.
        #[sea_orm(primary_key, auto_increment = false)]
        pub skp_id: String,
        /// The value (e.g. AKUNTABEL).
        #[sea_orm(primary_key, auto_increment = false)]
        pub value: String,
        /// The leader's specific expectation; empty when none.
        pub expectation: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Evaluation of an SKP per evaluation period. The assessment stage writes these rows; the
/// planning stage reads them (an SKP with a row past `TERBUKA` cannot be reopened).
pub mod skp_evaluation {
    use sea_orm::entity::prelude::*;

    /// One row of `skp_evaluations`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "skp_evaluations")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The SKP.
        pub skp_id: String,
        /// The evaluation period.
        pub evaluation_period_id: String,
        /// TERBUKA, DINILAI, DITETAPKAN or FINAL.
        pub state: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
        /// The employee's self-assessment.
        pub self_assessment: Option<String>,
        /// The results rating the employee proposes.
        pub self_results_rating: Option<String>,
        /// The behaviour rating the employee proposes.
        pub self_behaviour_rating: Option<String>,
        /// When the self-assessment was last submitted.
        pub self_assessed_at: Option<DateTimeUtc>,
        /// Rating hasil kerja (results).
        pub results_rating: Option<String>,
        /// Rating perilaku kerja (behaviour).
        pub behaviour_rating: Option<String>,
        /// The assessor's reason.
        pub rating_reason: Option<String>,
        /// Predikat from the matrix (never sent by a client).
        pub predikat: Option<String>,
        /// Employee id of the assessor who rated.
        pub rated_by: Option<String>,
        /// When it was last rated.
        pub rated_at: Option<DateTimeUtc>,
        /// Curve rule-set version the result was checked against when set.
        pub rule_set_version: Option<String>,
        /// Organisation rating of the unit when set.
        pub org_rating: Option<String>,
        /// Calibration exception the result was set under, if any.
        pub calibration_exception_id: Option<String>,
        /// When the result was set (DITETAPKAN).
        pub set_at: Option<DateTimeUtc>,
        /// Last instant an objection may be filed.
        pub objection_deadline: Option<DateTimeUtc>,
        /// When the result became FINAL.
        pub final_at: Option<DateTimeUtc>,
        /// OBJECTION_DECIDED or WINDOW_PASSED.
        pub final_reason: Option<String>,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Action plans (rencana aksi) per RHK and evaluation period.
pub mod action_plan {
    use sea_orm::entity::prelude::*;

    /// One row of `action_plans`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "action_plans")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The SKP.
        pub skp_id: String,
        /// The RHK.
        pub rhk_id: String,
        /// The evaluation period.
        pub evaluation_period_id: String,
        /// What the employee plans to do.
        pub text: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Realisasi per indicator and evaluation period, with evidence.
pub mod realisasi {
    use sea_orm::entity::prelude::*;

    /// One row of `realisasi`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "realisasi")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The SKP.
        pub skp_id: String,
        /// The indicator.
        pub indicator_id: String,
        /// The evaluation period.
        pub evaluation_period_id: String,
        /// Value achieved by the end of the period.
        pub value: f64,
        /// Short account (keterangan).
        pub account: String,
        /// Evidence items as JSON.
        pub evidence: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Feedback (umpan balik) of the assessor; never changed once written.
pub mod feedback {
    use sea_orm::entity::prelude::*;

    /// One row of `feedback`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feedback")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The SKP.
        pub skp_id: String,
        /// The evaluation period it was given in, if named.
        pub evaluation_period_id: Option<String>,
        /// The RHK it is about (or none).
        pub rhk_id: Option<String>,
        /// The behaviour value it is about (or none).
        pub behaviour: Option<String>,
        /// The feedback.
        pub text: String,
        /// Employee id of the assessor who gave it.
        pub author_id: String,
        /// When it was given.
        pub created_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Organisation ratings (predikat kinerja organisasi) per unit and evaluation period.
pub mod org_rating {
    use sea_orm::entity::prelude::*;

    /// One row of `org_ratings`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_ratings")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The unit.
        pub unit_id: String,
        /// The evaluation period.
        pub evaluation_period_id: String,
        /// ISTIMEWA, BAIK, BUTUH_PERBAIKAN, KURANG or SANGAT_KURANG.
        pub rating: String,
        /// Why (may be empty).
        pub reason: String,
        /// Subject of the caller who set it.
        pub set_by: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Versions of the distribution-curve rule set; the highest `seq` is current.
pub mod curve_rule_set {
    use sea_orm::entity::prelude::*;

    /// One row of `curve_rule_sets`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "curve_rule_sets")]
    pub struct Model {
        /// Version label.
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: String,
        /// Order of creation.
        pub seq: i64,
        /// The rule set as JSON.
        pub definition: String,
        /// Subject of the caller who added it.
        pub created_by: String,
        /// When it was added.
        pub created_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Exceptions recorded by admins to set a unit's results that break the curve.
pub mod calibration_exception {
    use sea_orm::entity::prelude::*;

    /// One row of `calibration_exceptions`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calibration_exceptions")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The unit.
        pub unit_id: String,
        /// The evaluation period.
        pub evaluation_period_id: String,
        /// The justification.
        pub reason: String,
        /// Rule-set version the breaches were found with.
        pub rule_set_version: String,
        /// Organisation rating then.
        pub org_rating: String,
        /// Distribution excepted, as JSON counts.
        pub distribution: String,
        /// The breaches excepted, as JSON.
        pub breaches: String,
        /// Subject of the admin.
        pub created_by: String,
        /// When it was recorded.
        pub created_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Objections (keberatan) against set results.
pub mod objection {
    use sea_orm::entity::prelude::*;

    /// One row of `objections`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "objections")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The evaluation objected to (one objection per evaluation).
        pub evaluation_id: String,
        /// Its SKP.
        pub skp_id: String,
        /// The employee who objects.
        pub employee_id: String,
        /// The employee's reasons.
        pub reasons: String,
        /// DIAJUKAN or DIPUTUS.
        pub state: String,
        /// When it was filed.
        pub filed_at: DateTimeUtc,
        /// The assessor's superior recorded on the SKP, who decides.
        pub decider_id: Option<String>,
        /// UPHOLD or CHANGE.
        pub decision: Option<String>,
        /// Reason of the decision.
        pub decision_reason: Option<String>,
        /// Results rating objected to.
        pub prev_results_rating: String,
        /// Behaviour rating objected to.
        pub prev_behaviour_rating: String,
        /// Predikat objected to.
        pub prev_predikat: String,
        /// Results rating after the decision.
        pub new_results_rating: Option<String>,
        /// Behaviour rating after the decision.
        pub new_behaviour_rating: Option<String>,
        /// Predikat after the decision.
        pub new_predikat: Option<String>,
        /// When it was decided.
        pub decided_at: Option<DateTimeUtc>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Locks of evaluation periods set by admins at the deadline.
pub mod evaluation_period_lock {
    use sea_orm::entity::prelude::*;

    /// One row of `evaluation_period_locks`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "evaluation_period_locks")]
    pub struct Model {
        /// The evaluation period.
        #[sea_orm(primary_key, auto_increment = false)]
        pub evaluation_period_id: String,
        /// True while locked.
        pub locked: bool,
        /// Reason of the last change.
        pub reason: String,
        /// Subject of the admin who changed it last.
        pub changed_by: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Assessment settings: `*` for the installation, or one agency id.
pub mod assessment_setting {
    use sea_orm::entity::prelude::*;

    /// One row of `assessment_settings`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "assessment_settings")]
    pub struct Model {
        /// `*` (global) or an agency id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        /// Days of the objection window.
        pub objection_window_days: i32,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Angka kredit coefficients of SKP of functional positions (JF).
pub mod skp_credit_coefficient {
    use sea_orm::entity::prelude::*;

    /// One row of `skp_credit_coefficients`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "skp_credit_coefficients")]
    pub struct Model {
        /// The SKP.
        #[sea_orm(primary_key, auto_increment = false)]
        pub skp_id: String,
        /// Annual coefficient of the position.
        pub coefficient: f64,
        /// Why (e.g. the jenjang and its regulation).
        pub reason: String,
        /// Subject of the admin who set it.
        pub set_by: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Events of the outbox, in commit order.
pub mod outbox_event {
    use sea_orm::entity::prelude::*;

    /// One row of `outbox`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// Gap-free sequence number (the resume cursor).
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        /// Stable event id (consumers de-duplicate on it).
        pub id: String,
        /// Event type, e.g. `skp.approved`.
        pub event_type: String,
        /// Type of the resource the event is about.
        pub resource_type: String,
        /// Id of that resource.
        pub resource_id: String,
        /// When the change was committed.
        pub at: DateTimeUtc,
        /// Trace id of the call that caused it.
        pub trace_id: String,
        /// Event data as JSON.
        pub data: String,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The outbox's sequence counter (a single row, locked while an event is appended).
pub mod outbox_head {
    use sea_orm::entity::prelude::*;

    /// The row of `outbox_head`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox_head")]
    pub struct Model {
        /// Always 1.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// Sequence number of the last event.
        pub seq: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Individual development plans (rencana pengembangan individu), one per FINAL evaluation.
pub mod development_plan {
    use sea_orm::entity::prelude::*;

    /// One row of `development_plans`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "development_plans")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The FINAL evaluation the plan follows up (unique).
        pub evaluation_id: String,
        /// Its SKP.
        pub skp_id: String,
        /// Its evaluation period.
        pub evaluation_period_id: String,
        /// The employee.
        pub employee_id: String,
        /// Agency of the SKP.
        pub agency_id: String,
        /// Unit snapshot of the SKP (admin scope).
        pub unit_id: String,
        /// Recorded assessor of the SKP.
        pub assessor_id: Option<String>,
        /// Recorded assessor's superior of the SKP.
        pub assessor_superior_id: Option<String>,
        /// Performance year.
        pub year: i32,
        /// FINAL predikat of the evaluation.
        pub predikat: String,
        /// True when the predikat requires a plan (opened by the service).
        pub required: bool,
        /// DRAFT, AGREED or COMPLETED.
        pub state: String,
        /// Competency gaps as a JSON array of strings.
        pub competency_gaps: String,
        /// When the employee agreed (cleared when the content changes).
        pub employee_agreed_at: Option<DateTimeUtc>,
        /// When the assessor agreed (cleared when the content changes).
        pub assessor_agreed_at: Option<DateTimeUtc>,
        /// When it was completed.
        pub completed_at: Option<DateTimeUtc>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Actions of development plans (training, coaching, mentoring, ...).
pub mod development_action {
    use sea_orm::entity::prelude::*;

    /// One row of `development_actions`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "development_actions")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The plan.
        pub plan_id: String,
        /// TRAINING, COACHING, MENTORING or OTHER.
        pub kind: String,
        /// What is to be done.
        pub description: String,
        /// Date by which it should be done (agency's calendar).
        pub target_date: Date,
        /// Progress 0..=100.
        pub progress_percent: i32,
        /// PLANNED, IN_PROGRESS, DONE or CANCELLED.
        pub status: String,
        /// When `plan.overdue` was published for it (once).
        pub overdue_notified_at: Option<DateTimeUtc>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Recognition and consequence flags raised on FINAL results, with HR's decision.
pub mod followup_flag {
    use sea_orm::entity::prelude::*;

    /// One row of `followup_flags`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "followup_flags")]
    pub struct Model {
        /// Identifier.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// RECOGNITION or CONSEQUENCE.
        pub kind: String,
        /// The evaluation that triggered it.
        pub evaluation_id: String,
        /// Its SKP.
        pub skp_id: String,
        /// Its evaluation period.
        pub evaluation_period_id: String,
        /// The employee.
        pub employee_id: String,
        /// Agency of the SKP.
        pub agency_id: String,
        /// Unit snapshot of the SKP (admin scope).
        pub unit_id: String,
        /// Performance year of the triggering evaluation.
        pub year: i32,
        /// True when the triggering evaluation is the annual one.
        pub annual: bool,
        /// FINAL predikat of the triggering evaluation.
        pub predikat: String,
        /// Why it was raised, in words.
        pub reason: String,
        /// PENDING or DECIDED.
        pub state: String,
        /// HR's outcome code.
        pub outcome: Option<String>,
        /// HR's reason.
        pub decision_reason: Option<String>,
        /// Subject of the HR admin who decided.
        pub decided_by: Option<String>,
        /// When it was decided.
        pub decided_at: Option<DateTimeUtc>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Follow-up settings: `*` for the installation, or one agency id.
pub mod followup_setting {
    use sea_orm::entity::prelude::*;

    /// One row of `followup_settings`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "followup_settings")]
    pub struct Model {
        /// `*` (global) or an agency id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        /// Consecutive annual years of poor results that raise a consequence flag.
        pub consequence_years: i32,
        /// Best predikat still counted as poor (e.g. KURANG: KURANG or SANGAT_KURANG).
        pub consequence_threshold: String,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
