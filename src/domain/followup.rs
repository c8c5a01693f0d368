//! Follow-up (tindak lanjut) of FINAL results: which predikat require an individual development
//! plan (rencana pengembangan individu), which are flagged for recognition, when repeated poor
//! annual results are flagged for HR's sanctions path, the plan and action state machine, and
//! when an action is overdue. Pure rules; the store applies them.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::rating::Predikat;

/// Default number of consecutive annual years of poor results that raise a consequence flag.
pub const DEFAULT_CONSEQUENCE_YEARS: u32 = 2;
/// Default best predikat still counted as poor for the consequence rule (KURANG or worse).
pub const DEFAULT_CONSEQUENCE_THRESHOLD: Predikat = Predikat::Kurang;
/// Accepted range of the consequence years setting.
pub const CONSEQUENCE_YEARS: std::ops::RangeInclusive<u32> = 2..=10;
/// Longest competency gap text.
pub const MAX_GAP_TEXT: usize = 500;
/// Most competency gaps in one plan.
pub const MAX_GAPS: usize = 50;
/// Most actions in one plan.
pub const MAX_ACTIONS: usize = 100;
/// Longest action description, decision reason.
pub const MAX_TEXT: usize = 2000;

/// Position of a predikat from best (0) to worst (4).
fn rank(p: Predikat) -> usize {
    Predikat::ALL.iter().position(|x| *x == p).unwrap_or(0)
}

/// True when a FINAL result with this predikat requires a development plan (BUTUH_PERBAIKAN,
/// KURANG, SANGAT_KURANG).
pub fn requires_plan(p: Predikat) -> bool {
    rank(p) >= rank(Predikat::ButuhPerbaikan)
}

/// True when a FINAL result with this predikat is flagged for reward and talent-pool review.
pub fn recognised(p: Predikat) -> bool {
    p == Predikat::SangatBaik
}

/// True when `p` is at or below `threshold` (as bad as it or worse).
pub fn at_or_below(p: Predikat, threshold: Predikat) -> bool {
    rank(p) >= rank(threshold)
}

/// The consequence threshold must be a poor predikat (BUTUH_PERBAIKAN or worse).
pub fn check_threshold(p: Predikat) -> Result<Predikat, &'static str> {
    if requires_plan(p) {
        Ok(p)
    } else {
        Err("must be BUTUH_PERBAIKAN, KURANG or SANGAT_KURANG")
    }
}

/// Checks the consecutive-years setting.
pub fn check_years(n: i32) -> Result<u32, &'static str> {
    u32::try_from(n)
        .ok()
        .filter(|n| CONSEQUENCE_YEARS.contains(n))
        .ok_or("must be between 2 and 10")
}

/// The years that end a run of `n` consecutive poor years (every year of `year - n + 1 ..= year`
/// is in `poor`) and whose window contains `changed` (the year whose result just became FINAL).
/// Each such year's evaluation is flagged once; a longer run flags each further year again.
pub fn consequence_years(poor: &BTreeSet<i32>, n: u32, changed: i32) -> Vec<i32> {
    let n = i32::try_from(n.max(1)).unwrap_or(i32::MAX);
    (changed..changed.saturating_add(n))
        .filter(|end| {
            let start = end.saturating_sub(n - 1);
            start <= changed && (start..=*end).all(|y| poor.contains(&y))
        })
        .collect()
}

/// State of a development plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanState {
    /// Being written; not yet agreed by both.
    Draft,
    /// Agreed by the employee and the assessor.
    Agreed,
    /// Done; nothing changes any more.
    Completed,
}

impl PlanState {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Draft => "DRAFT",
            PlanState::Agreed => "AGREED",
            PlanState::Completed => "COMPLETED",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [PlanState::Draft, PlanState::Agreed, PlanState::Completed]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Status of a development action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStatus {
    /// Not started.
    Planned,
    /// Started.
    InProgress,
    /// Finished.
    Done,
    /// Dropped.
    Cancelled,
}

impl ActionStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Planned => "PLANNED",
            ActionStatus::InProgress => "IN_PROGRESS",
            ActionStatus::Done => "DONE",
            ActionStatus::Cancelled => "CANCELLED",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [
            ActionStatus::Planned,
            ActionStatus::InProgress,
            ActionStatus::Done,
            ActionStatus::Cancelled,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
    /// True while the action still has to be done.
    pub fn open(self) -> bool {
        matches!(self, ActionStatus::Planned | ActionStatus::InProgress)
    }
}

/// The stored texts of the unfinished statuses (for queries).
pub const OPEN_STATUSES: [&str; 2] = ["PLANNED", "IN_PROGRESS"];

/// A change to a plan, as far as the state machine is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanChange {
    /// Competency gaps, a new action, or an action's kind, description or target date.
    Content,
    /// An action's progress or status (carrying the agreed plan out).
    Progress,
    /// The employee or the assessor agrees.
    Agree,
    /// The plan is completed.
    Complete,
}

/// Why a change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Stable reason.
    pub reason: &'static str,
    /// In words.
    pub message: &'static str,
}

/// What a change does to a plan in `state`: the state afterwards and whether the agreements are
/// cleared. Content changes to an AGREED plan re-open it (back to DRAFT, both must agree again);
/// progress is reported on a DRAFT or AGREED plan without new agreement; a COMPLETED plan
/// refuses every change; completing needs an AGREED plan whose actions are all finished.
pub fn step(
    state: PlanState,
    change: PlanChange,
    all_finished: bool,
) -> Result<(PlanState, bool), Refusal> {
    use PlanChange::*;
    use PlanState::*;
    match (state, change) {
        (Completed, _) => Err(Refusal {
            reason: "PLAN_COMPLETED",
            message: "the development plan is completed; it no longer changes",
        }),
        (Draft, Content) => Ok((Draft, true)),
        (Agreed, Content) => Ok((Draft, true)),
        (s, Progress) => Ok((s, false)),
        (s, Agree) => Ok((s, false)),
        (Draft, Complete) => Err(Refusal {
            reason: "PLAN_NOT_AGREED",
            message: "the development plan must be agreed by the employee and the assessor before it is completed",
        }),
        (Agreed, Complete) if !all_finished => Err(Refusal {
            reason: "PLAN_ACTIONS_OPEN",
            message: "every action must be DONE or CANCELLED before the plan is completed",
        }),
        (Agreed, Complete) => Ok((Completed, false)),
    }
}

/// A plan is agreed to only once it holds at least one action.
pub fn check_agreeable(actions: usize) -> Result<(), Refusal> {
    if actions == 0 {
        Err(Refusal {
            reason: "PLAN_EMPTY",
            message: "a development plan needs at least one action before it is agreed",
        })
    } else {
        Ok(())
    }
}

/// The state after an agreement: AGREED once both the employee and the assessor agreed.
pub fn after_agreement(employee_agreed: bool, assessor_agreed: bool) -> PlanState {
    if employee_agreed && assessor_agreed {
        PlanState::Agreed
    } else {
        PlanState::Draft
    }
}

/// An action is overdue when it is still open and its target date lies before `today` (the
/// agency's calendar day).
pub fn overdue(status: ActionStatus, target: NaiveDate, today: NaiveDate) -> bool {
    status.open() && target < today
}

/// Checks a progress percentage and returns it with the status it implies: DONE means 100%.
pub fn check_progress(status: ActionStatus, progress: i32) -> Result<i32, &'static str> {
    if !(0..=100).contains(&progress) {
        return Err("must be between 0 and 100");
    }
    if status == ActionStatus::Done {
        return Ok(100);
    }
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Predikat::*;

    #[test]
    fn which_predikat_need_a_plan_or_a_flag() {
        assert!(!requires_plan(SangatBaik) && !requires_plan(Baik));
        assert!(
            requires_plan(ButuhPerbaikan) && requires_plan(Kurang) && requires_plan(SangatKurang)
        );
        assert!(recognised(SangatBaik) && !recognised(Baik));
        assert!(at_or_below(SangatKurang, Kurang) && at_or_below(Kurang, Kurang));
        assert!(!at_or_below(ButuhPerbaikan, Kurang));
        assert!(check_threshold(Baik).is_err() && check_threshold(ButuhPerbaikan).is_ok());
        assert_eq!(check_years(2), Ok(2));
        assert!(check_years(1).is_err() && check_years(11).is_err() && check_years(-1).is_err());
    }

    #[test]
    fn consecutive_years() {
        let set = |ys: &[i32]| ys.iter().copied().collect::<BTreeSet<_>>();
        // Two in a row: the later year is flagged, whichever became FINAL last.
        assert_eq!(consequence_years(&set(&[2025, 2026]), 2, 2026), vec![2026]);
        assert_eq!(consequence_years(&set(&[2025, 2026]), 2, 2025), vec![2026]);
        // A gap breaks the run.
        assert!(consequence_years(&set(&[2024, 2026]), 2, 2026).is_empty());
        // Three needed, two present.
        assert!(consequence_years(&set(&[2025, 2026]), 3, 2026).is_empty());
        assert_eq!(
            consequence_years(&set(&[2024, 2025, 2026]), 3, 2026),
            vec![2026]
        );
        // A longer run flags each further year; a year in the middle completes two windows.
        assert_eq!(
            consequence_years(&set(&[2024, 2025, 2026]), 2, 2025),
            vec![2025, 2026]
        );
        // The changed year must be poor itself.
        assert!(consequence_years(&set(&[2025]), 2, 2026).is_empty());
    }

    #[test]
    fn plan_state_machine() {
        use PlanChange::*;
        use PlanState::*;
        assert_eq!(step(Draft, Content, false), Ok((Draft, true)));
        assert_eq!(step(Agreed, Content, true), Ok((Draft, true)));
        assert_eq!(step(Agreed, Progress, false), Ok((Agreed, false)));
        assert_eq!(
            step(Draft, Complete, true).unwrap_err().reason,
            "PLAN_NOT_AGREED"
        );
        assert_eq!(
            step(Agreed, Complete, false).unwrap_err().reason,
            "PLAN_ACTIONS_OPEN"
        );
        assert_eq!(step(Agreed, Complete, true), Ok((Completed, false)));
        for c in [Content, Progress, Agree, Complete] {
            assert_eq!(
                step(Completed, c, true).unwrap_err().reason,
                "PLAN_COMPLETED"
            );
        }
        assert_eq!(check_agreeable(0).unwrap_err().reason, "PLAN_EMPTY");
        assert!(check_agreeable(1).is_ok());
        assert_eq!(after_agreement(true, false), Draft);
        assert_eq!(after_agreement(true, true), Agreed);
        for s in [Draft, Agreed, Completed] {
            assert_eq!(PlanState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn overdue_and_progress() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert!(overdue(ActionStatus::Planned, d(3, 1), d(3, 2)));
        assert!(
            !overdue(ActionStatus::InProgress, d(3, 2), d(3, 2)),
            "due today is not late"
        );
        assert!(!overdue(ActionStatus::Done, d(3, 1), d(3, 2)));
        assert!(!overdue(ActionStatus::Cancelled, d(3, 1), d(3, 2)));
        assert_eq!(check_progress(ActionStatus::Done, 40), Ok(100));
        assert_eq!(check_progress(ActionStatus::InProgress, 40), Ok(40));
        assert!(check_progress(ActionStatus::Planned, 101).is_err());
        assert!(check_progress(ActionStatus::Planned, -1).is_err());
        for s in ["PLANNED", "IN_PROGRESS", "DONE", "CANCELLED"] {
            assert_eq!(ActionStatus::parse(s).map(|x| x.as_str()), Some(s));
        }
        assert!(
            OPEN_STATUSES
                .iter()
                .all(|s| ActionStatus::parse(s).is_some_and(|x| x.open()))
        );
    }
}
