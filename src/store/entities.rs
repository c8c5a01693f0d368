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
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
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
