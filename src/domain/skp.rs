//! The SKP (Sasaran Kinerja Pegawai) rules: the workflow state machine over (state, action,
//! actor), the readiness of a plan for submission, the cascade link rule, the seven BerAKHLAK
//! values and the limits of texts and targets. Pure functions; the store applies them.
//!
//! ```text
//!  DRAFT --submit(owner)--> DIAJUKAN --approve(assessor)--> DISETUJUI --close(admin)--> DITUTUP
//!    ^                         |                               |
//!    |                   return(assessor, note)         reopen(assessor, reason;
//!    |                         v                          refused once a period is assessed)
//!    |                    DIKEMBALIKAN --submit(owner)--> DIAJUKAN
//!    +------------------------------------------------------+
//! ```
//! Any open state (not DITUTUP) can be closed by an admin on mutasi.

use std::fmt;

/// Longest RHK and indicator text.
pub const MAX_RESULT_TEXT: usize = 1000;
/// Longest indicator unit.
pub const MAX_UNIT_TEXT: usize = 50;
/// Longest annex field.
pub const MAX_ANNEX_TEXT: usize = 4000;
/// Longest note, reason or leader's expectation.
pub const MAX_NOTE_TEXT: usize = 1000;
/// Most RHK in one SKP.
pub const MAX_RHK: usize = 50;
/// Most indicators under one RHK.
pub const MAX_INDICATORS: usize = 20;

/// Workflow state of an SKP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Being drafted by the employee.
    Draft,
    /// Submitted to the assessor.
    Diajukan,
    /// Approved and locked.
    Disetujui,
    /// Returned with a note; editable again.
    Dikembalikan,
    /// Closed on mutasi.
    Ditutup,
}

impl State {
    /// Every state.
    pub const ALL: [State; 5] = [
        State::Draft,
        State::Diajukan,
        State::Disetujui,
        State::Dikembalikan,
        State::Ditutup,
    ];
    /// Stored and displayed form.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "DRAFT",
            State::Diajukan => "DIAJUKAN",
            State::Disetujui => "DISETUJUI",
            State::Dikembalikan => "DIKEMBALIKAN",
            State::Ditutup => "DITUTUP",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
    /// False once closed.
    pub fn is_open(self) -> bool {
        self != State::Ditutup
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something done to an SKP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Change the content: approach, annex, RHK, indicators.
    Edit,
    /// Write the leader's expectation of a behaviour value.
    SetExpectation,
    /// Submit to the assessor.
    Submit,
    /// Approve (locks the plan).
    Approve,
    /// Return to the employee with a note.
    Return,
    /// Reopen an approved plan with a reason.
    Reopen,
    /// Close on mutasi.
    Close,
    /// Override the recorded assessor.
    SetAssessor,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 8] = [
        Action::Edit,
        Action::SetExpectation,
        Action::Submit,
        Action::Approve,
        Action::Return,
        Action::Reopen,
        Action::Close,
        Action::SetAssessor,
    ];
    /// Name used in the history and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Edit => "edit",
            Action::SetExpectation => "set the leader's expectation of",
            Action::Submit => "submit",
            Action::Approve => "approve",
            Action::Return => "return",
            Action::Reopen => "reopen",
            Action::Close => "close",
            Action::SetAssessor => "set the assessor of",
        }
    }
    /// Who may do it.
    pub fn actors(self) -> &'static [Actor] {
        match self {
            Action::Edit => &[Actor::Owner, Actor::Admin],
            Action::Submit => &[Actor::Owner],
            Action::SetExpectation | Action::Approve | Action::Return | Action::Reopen => {
                &[Actor::Assessor]
            }
            Action::Close | Action::SetAssessor => &[Actor::Admin],
        }
    }
    /// The states it may start from.
    pub fn from_states(self) -> &'static [State] {
        match self {
            Action::Edit | Action::Submit => &[State::Draft, State::Dikembalikan],
            Action::SetExpectation => &[State::Draft, State::Diajukan, State::Dikembalikan],
            Action::Approve | Action::Return => &[State::Diajukan],
            Action::Reopen => &[State::Disetujui],
            Action::Close | Action::SetAssessor => &[
                State::Draft,
                State::Diajukan,
                State::Disetujui,
                State::Dikembalikan,
            ],
        }
    }
    /// The state it leads to from `from` (only meaningful when allowed).
    fn target(self, from: State) -> State {
        match self {
            Action::Edit | Action::SetExpectation | Action::SetAssessor => from,
            Action::Submit => State::Diajukan,
            Action::Approve => State::Disetujui,
            Action::Return => State::Dikembalikan,
            Action::Reopen => State::Draft,
            Action::Close => State::Ditutup,
        }
    }
}

/// How the caller relates to an SKP (taken from the ids recorded on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The employee whose SKP it is.
    Owner,
    /// The recorded assessor.
    Assessor,
    /// The recorded assessor's superior.
    AssessorSuperior,
    /// An administrator in scope (or of the installation).
    Admin,
    /// Anyone else.
    Other,
}

impl Actor {
    /// Every actor.
    pub const ALL: [Actor; 5] = [
        Actor::Owner,
        Actor::Assessor,
        Actor::AssessorSuperior,
        Actor::Admin,
        Actor::Other,
    ];
    /// Name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Owner => "the employee",
            Actor::Assessor => "the assessor",
            Actor::AssessorSuperior => "the assessor's superior",
            Actor::Admin => "an administrator",
            Actor::Other => "someone else",
        }
    }
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The caller is not an actor of this action (PERMISSION_DENIED).
    NotActor {
        /// The action.
        action: Action,
    },
    /// The SKP is in a state the action does not start from (FAILED_PRECONDITION).
    WrongState {
        /// The action.
        action: Action,
        /// The current state.
        current: State,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotActor { action } => {
                let who: Vec<_> = action.actors().iter().map(|a| a.as_str()).collect();
                write!(
                    f,
                    "only {} may {} this SKP",
                    who.join(" or "),
                    action.as_str()
                )
            }
            Refusal::WrongState { action, current } => {
                let from: Vec<_> = action.from_states().iter().map(|s| s.as_str()).collect();
                write!(
                    f,
                    "the SKP is {current}: cannot {} it (allowed from {})",
                    action.as_str(),
                    from.join(", ")
                )
            }
        }
    }
}

/// The state after `actor` does `action` on an SKP in `state`, or why not. The actor is checked
/// first, so someone who may never act learns nothing about the state.
pub fn step(state: State, action: Action, actor: Actor) -> Result<State, Refusal> {
    if !action.actors().contains(&actor) {
        return Err(Refusal::NotActor { action });
    }
    if !action.from_states().contains(&state) {
        return Err(Refusal::WrongState {
            action,
            current: state,
        });
    }
    Ok(action.target(state))
}

/// Like [`step`] for a caller holding several relations at once (e.g. an admin who is also the
/// employee): allowed when any of them is; a state refusal wins over an actor refusal.
pub fn transition(state: State, action: Action, actors: &[Actor]) -> Result<State, Refusal> {
    let mut refusal = Refusal::NotActor { action };
    for a in actors {
        match step(state, action, *a) {
            Ok(next) => return Ok(next),
            Err(r @ Refusal::WrongState { .. }) => refusal = r,
            Err(Refusal::NotActor { .. }) => {}
        }
    }
    Err(refusal)
}

/// Reopening is refused once any evaluation period of the SKP has been assessed.
pub fn check_reopen(assessed_periods: u64) -> Result<(), String> {
    if assessed_periods == 0 {
        Ok(())
    } else {
        Err(format!(
            "{assessed_periods} evaluation period(s) of this SKP are assessed; an assessed plan cannot be reopened"
        ))
    }
}

/// The seven BerAKHLAK core values, in their official order.
pub const BERAKHLAK: [&str; 7] = [
    "BERORIENTASI_PELAYANAN",
    "AKUNTABEL",
    "KOMPETEN",
    "HARMONIS",
    "LOYAL",
    "ADAPTIF",
    "KOLABORATIF",
];

/// Position of a BerAKHLAK value in the official order (for sorting), or `None` if unknown.
pub fn berakhlak_rank(value: &str) -> Option<usize> {
    BERAKHLAK.iter().position(|v| *v == value)
}

/// Checks an indicator target: finite and greater than 0.
pub fn check_target(target: f64) -> Result<(), &'static str> {
    if !target.is_finite() {
        Err("must be a finite number (not NaN or infinite)")
    } else if target <= 0.0 {
        Err("must be greater than 0")
    } else {
        Ok(())
    }
}

/// What submission needs to know about one RHK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RhkSummary {
    /// Id.
    pub id: String,
    /// Position in the SKP.
    pub sequence: i32,
    /// True for UTAMA.
    pub utama: bool,
    /// Number of indicators.
    pub indicators: usize,
    /// True when it links to a superior RHK.
    pub linked: bool,
}

/// Why a plan is not ready for submission: a stable reason and a message naming the RHK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// Stable reason (`SKP_HAS_NO_RHK`, `SKP_HAS_NO_RHK_UTAMA`, `RHK_WITHOUT_INDICATOR`,
    /// `RHK_LINK_REQUIRED`).
    pub reason: &'static str,
    /// The RHK concerned, if any.
    pub rhk_id: Option<String>,
    /// What to do, for a person.
    pub message: String,
}

/// Checks that a plan can be submitted: at least one RHK UTAMA, an indicator under every RHK,
/// and (below the top of the chain) a link from every RHK UTAMA to the assessor's RHK.
pub fn check_ready(top_of_chain: bool, rhk: &[RhkSummary]) -> Result<(), NotReady> {
    if rhk.is_empty() {
        return Err(NotReady {
            reason: "SKP_HAS_NO_RHK",
            rhk_id: None,
            message: "the SKP has no RHK; add at least one RHK UTAMA before submitting".into(),
        });
    }
    if !rhk.iter().any(|r| r.utama) {
        return Err(NotReady {
            reason: "SKP_HAS_NO_RHK_UTAMA",
            rhk_id: None,
            message: "the SKP has no RHK UTAMA; at least one main result is required".into(),
        });
    }
    if let Some(r) = rhk.iter().find(|r| r.indicators == 0) {
        return Err(NotReady {
            reason: "RHK_WITHOUT_INDICATOR",
            rhk_id: Some(r.id.clone()),
            message: format!(
                "RHK {} (no. {}) has no indicator; every RHK needs at least one",
                r.id, r.sequence
            ),
        });
    }
    if !top_of_chain && let Some(r) = rhk.iter().find(|r| r.utama && !r.linked) {
        return Err(NotReady {
            reason: "RHK_LINK_REQUIRED",
            rhk_id: Some(r.id.clone()),
            message: format!(
                "RHK UTAMA {} (no. {}) does not name the assessor's RHK it supports (parent_rhk_id)",
                r.id, r.sequence
            ),
        });
    }
    Ok(())
}

/// What the link rule needs to know about an SKP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSide<'a> {
    /// SKP id.
    pub skp_id: &'a str,
    /// Its employee.
    pub employee_id: &'a str,
    /// Its performance period.
    pub period_id: &'a str,
    /// Year of the period.
    pub year: i32,
    /// Its recorded assessor.
    pub assessor_id: Option<&'a str>,
    /// True when it is at the top of the chain.
    pub top_of_chain: bool,
    /// True when it is (or was, before closing) approved.
    pub approved: bool,
    /// Its state.
    pub state: State,
}

/// Checks that an RHK of `child` may link to an RHK of `parent`: the parent must be the
/// approved SKP of the child's recorded assessor for the same period. Returns a stable reason
/// and a message for `FAILED_PRECONDITION`.
pub fn check_link(
    child: &LinkSide<'_>,
    parent: &LinkSide<'_>,
) -> Result<(), (&'static str, String)> {
    if child.skp_id == parent.skp_id {
        return Err((
            "RHK_LINK_INVALID",
            "an RHK cannot support an RHK of its own SKP".into(),
        ));
    }
    if child.top_of_chain {
        return Err((
            "RHK_LINK_INVALID",
            "this SKP is at the top of the chain (the assessor has no superior); its RHK support no superior RHK"
                .into(),
        ));
    }
    let Some(assessor) = child.assessor_id else {
        return Err((
            "RHK_LINK_INVALID",
            "this SKP has no assessor yet; an administrator must set one before RHK can be linked"
                .into(),
        ));
    };
    if parent.employee_id != assessor {
        return Err((
            "RHK_LINK_NOT_ASSESSOR",
            format!(
                "the linked RHK belongs to the SKP of employee {}, not of this SKP's assessor {assessor}",
                parent.employee_id
            ),
        ));
    }
    if parent.period_id != child.period_id {
        return Err((
            "RHK_LINK_OTHER_PERIOD",
            format!(
                "the linked RHK belongs to the assessor's SKP of {}, not of {}",
                parent.year, child.year
            ),
        ));
    }
    if !parent.approved {
        return Err((
            "RHK_LINK_NOT_APPROVED",
            format!(
                "the assessor's SKP {} is {}; link to RHK of an approved (DISETUJUI) SKP",
                parent.skp_id, parent.state
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use Actor as R;
    use State as S;

    /// Every allowed (state, action, actor) and the state it leads to. Every combination not
    /// listed here must be refused.
    const ALLOWED: &[(State, Action, Actor, State)] = &[
        (S::Draft, A::Edit, R::Owner, S::Draft),
        (S::Draft, A::Edit, R::Admin, S::Draft),
        (S::Dikembalikan, A::Edit, R::Owner, S::Dikembalikan),
        (S::Dikembalikan, A::Edit, R::Admin, S::Dikembalikan),
        (S::Draft, A::SetExpectation, R::Assessor, S::Draft),
        (S::Diajukan, A::SetExpectation, R::Assessor, S::Diajukan),
        (
            S::Dikembalikan,
            A::SetExpectation,
            R::Assessor,
            S::Dikembalikan,
        ),
        (S::Draft, A::Submit, R::Owner, S::Diajukan),
        (S::Dikembalikan, A::Submit, R::Owner, S::Diajukan),
        (S::Diajukan, A::Approve, R::Assessor, S::Disetujui),
        (S::Diajukan, A::Return, R::Assessor, S::Dikembalikan),
        (S::Disetujui, A::Reopen, R::Assessor, S::Draft),
        (S::Draft, A::Close, R::Admin, S::Ditutup),
        (S::Diajukan, A::Close, R::Admin, S::Ditutup),
        (S::Disetujui, A::Close, R::Admin, S::Ditutup),
        (S::Dikembalikan, A::Close, R::Admin, S::Ditutup),
        (S::Draft, A::SetAssessor, R::Admin, S::Draft),
        (S::Diajukan, A::SetAssessor, R::Admin, S::Diajukan),
        (S::Disetujui, A::SetAssessor, R::Admin, S::Disetujui),
        (S::Dikembalikan, A::SetAssessor, R::Admin, S::Dikembalikan),
    ];

    #[test]
    fn every_state_action_actor_combination() {
        let mut checked = 0;
        for state in State::ALL {
            for action in Action::ALL {
                for actor in Actor::ALL {
                    checked += 1;
                    let got = step(state, action, actor);
                    let want = ALLOWED
                        .iter()
                        .find(|(s, a, r, _)| *s == state && *a == action && *r == actor)
                        .map(|t| t.3);
                    match (want, &got) {
                        (Some(next), Ok(n)) => assert_eq!(*n, next, "{state} {action:?} {actor:?}"),
                        (None, Err(Refusal::NotActor { action: a })) => {
                            assert_eq!(*a, action);
                            assert!(
                                !action.actors().contains(&actor),
                                "{state} {action:?} {actor:?}: actor refusal for an actor of the action"
                            );
                        }
                        (None, Err(Refusal::WrongState { action: a, current })) => {
                            assert_eq!((*a, *current), (action, state));
                            assert!(action.actors().contains(&actor));
                            // The message names the current state.
                            let msg = got.clone().unwrap_err().to_string();
                            assert!(msg.contains(&format!("is {state}")), "{msg} names {state}");
                        }
                        _ => panic!("{state} {action:?} {actor:?}: want {want:?}, got {got:?}"),
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 8 * 5);
    }

    #[test]
    fn closed_and_approved_plans_are_locked() {
        for action in Action::ALL {
            for actor in Actor::ALL {
                assert!(step(S::Ditutup, action, actor).is_err(), "DITUTUP is final");
            }
        }
        for actor in Actor::ALL {
            assert!(step(S::Disetujui, A::Edit, actor).is_err());
            assert!(step(S::Disetujui, A::SetExpectation, actor).is_err());
        }
    }

    #[test]
    fn several_relations_at_once() {
        // An admin who is also the employee may submit; a state refusal wins.
        assert_eq!(
            transition(S::Draft, A::Submit, &[R::Admin, R::Owner]),
            Ok(S::Diajukan)
        );
        assert_eq!(
            transition(S::Disetujui, A::Edit, &[R::Other, R::Owner]),
            Err(Refusal::WrongState {
                action: A::Edit,
                current: S::Disetujui
            })
        );
        assert_eq!(
            transition(S::Diajukan, A::Approve, &[R::Owner, R::AssessorSuperior]),
            Err(Refusal::NotActor { action: A::Approve })
        );
        assert_eq!(
            transition(S::Diajukan, A::Approve, &[]),
            Err(Refusal::NotActor { action: A::Approve })
        );
        let msg = Refusal::NotActor { action: A::Approve }.to_string();
        assert!(msg.contains("only the assessor"), "{msg}");
    }

    #[test]
    fn reopen_only_before_assessment() {
        assert!(check_reopen(0).is_ok());
        assert!(check_reopen(1).unwrap_err().contains("1 evaluation period"));
    }

    #[test]
    fn targets() {
        assert!(check_target(12.0).is_ok());
        assert!(check_target(0.5).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(check_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn berakhlak_has_seven_values() {
        assert_eq!(BERAKHLAK.len(), 7);
        assert_eq!(berakhlak_rank("KOLABORATIF"), Some(6));
        assert_eq!(berakhlak_rank("JUJUR"), None);
        for st in State::ALL {
            assert_eq!(State::parse(st.as_str()), Some(st));
        }
    }

    fn rhk(id: &str, utama: bool, indicators: usize, linked: bool) -> RhkSummary {
        RhkSummary {
            id: id.into(),
            sequence: 1,
            utama,
            indicators,
            linked,
        }
    }

    #[test]
    fn readiness() {
        assert_eq!(check_ready(true, &[]).unwrap_err().reason, "SKP_HAS_NO_RHK");
        assert_eq!(
            check_ready(true, &[rhk("t", false, 1, false)])
                .unwrap_err()
                .reason,
            "SKP_HAS_NO_RHK_UTAMA"
        );
        let e =
            check_ready(true, &[rhk("a", true, 1, false), rhk("b", false, 0, false)]).unwrap_err();
        assert_eq!(
            (e.reason, e.rhk_id.as_deref()),
            ("RHK_WITHOUT_INDICATOR", Some("b"))
        );
        // Top of the chain: no link needed; below it every UTAMA links, TAMBAHAN may not.
        assert!(check_ready(true, &[rhk("a", true, 1, false)]).is_ok());
        let e = check_ready(false, &[rhk("a", true, 1, false)]).unwrap_err();
        assert_eq!(e.reason, "RHK_LINK_REQUIRED");
        assert!(check_ready(false, &[rhk("a", true, 2, true), rhk("t", false, 1, false)]).is_ok());
    }

    fn side<'a>(
        skp: &'a str,
        emp: &'a str,
        period: &'a str,
        assessor: Option<&'a str>,
    ) -> LinkSide<'a> {
        LinkSide {
            skp_id: skp,
            employee_id: emp,
            period_id: period,
            year: if period == "p26" { 2026 } else { 2025 },
            assessor_id: assessor,
            top_of_chain: false,
            approved: true,
            state: State::Disetujui,
        }
    }

    #[test]
    fn link_rule() {
        let child = LinkSide {
            approved: false,
            state: State::Draft,
            ..side("c", "staff", "p26", Some("head"))
        };
        let head = side("h", "head", "p26", Some("kadis"));
        assert!(check_link(&child, &head).is_ok());
        // Another employee's SKP, another year's SKP, an unapproved SKP, its own SKP.
        let other = side("o", "other-head", "p26", Some("kadis"));
        assert_eq!(
            check_link(&child, &other).unwrap_err().0,
            "RHK_LINK_NOT_ASSESSOR"
        );
        let last_year = side("h25", "head", "p25", Some("kadis"));
        let e = check_link(&child, &last_year).unwrap_err();
        assert_eq!(e.0, "RHK_LINK_OTHER_PERIOD");
        assert!(e.1.contains("2025"), "{}", e.1);
        let draft = LinkSide {
            approved: false,
            state: State::Draft,
            ..head.clone()
        };
        let e = check_link(&child, &draft).unwrap_err();
        assert_eq!(e.0, "RHK_LINK_NOT_APPROVED");
        assert!(e.1.contains("DRAFT"));
        assert_eq!(
            check_link(&child, &child).unwrap_err().0,
            "RHK_LINK_INVALID"
        );
        // The top of the chain links to nothing; without an assessor nothing can be linked.
        let top = LinkSide {
            top_of_chain: true,
            ..child.clone()
        };
        assert_eq!(check_link(&top, &head).unwrap_err().0, "RHK_LINK_INVALID");
        let orphan = LinkSide {
            assessor_id: None,
            ..child.clone()
        };
        assert_eq!(
            check_link(&orphan, &head).unwrap_err().0,
            "RHK_LINK_INVALID"
        );
        // A closed SKP that was approved still counts as approved.
        let closed = LinkSide {
            state: State::Ditutup,
            ..head.clone()
        };
        assert!(check_link(&child, &closed).is_ok());
    }
}
