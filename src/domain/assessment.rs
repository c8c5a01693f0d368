//! The assessment stage: the state machine of a period evaluation, when a result becomes FINAL,
//! evidence and value checks, months for pro-rating, and the words that explain a curve breach.
//!
//! ```text
//!  TERBUKA --rate(assessor)--> DINILAI --set(unit, calibrated)--> DITETAPKAN --decide--> FINAL
//!   ^  |  report, self-assess     | rate again                       |  object (employee,
//!   +--+  (employee)              +-----+                            |  within the window)
//!                                                                    +--window passed--> FINAL
//! ```
//! A FINAL result never changes: every action from FINAL is refused.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::curve::{Bound, Breach, OrgRating, RuleSet};
use super::rating::Predikat;

/// Longest account (keterangan) of a realisasi.
pub const MAX_ACCOUNT_TEXT: usize = 2000;
/// Longest action plan, feedback, self-assessment, reason or objection text.
pub const MAX_LONG_TEXT: usize = 4000;
/// Most evidence items of one realisasi.
pub const MAX_EVIDENCE: usize = 10;
/// Longest evidence URL.
pub const MAX_URL: usize = 2000;
/// Longest document reference or evidence description.
pub const MAX_DOCUMENT_REF: usize = 300;
/// Largest realisasi value accepted.
pub const MAX_VALUE: f64 = 1e12;
/// Largest angka kredit coefficient accepted.
pub const MAX_COEFFICIENT: f64 = 1000.0;
/// Objection window when nothing is configured (PermenPANRB 6/2022: 14 days).
pub const DEFAULT_OBJECTION_DAYS: u32 = 14;
/// Longest objection window an administrator may configure.
pub const MAX_OBJECTION_DAYS: u32 = 90;

/// State of one evaluation (an SKP in one evaluation period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Open: the employee enters realisasi, evidence, action plans and a self-assessment.
    Terbuka,
    /// Rated by the assessor (a draft until set).
    Dinilai,
    /// Set after calibration and delivered to the employee; the objection window runs.
    Ditetapkan,
    /// Final: the window passed or the objection was decided. Never changes.
    Final,
}

impl State {
    /// Every state, in order.
    pub const ALL: [State; 4] = [
        State::Terbuka,
        State::Dinilai,
        State::Ditetapkan,
        State::Final,
    ];
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Terbuka => "TERBUKA",
            State::Dinilai => "DINILAI",
            State::Ditetapkan => "DITETAPKAN",
            State::Final => "FINAL",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// True once the result is set (DITETAPKAN or FINAL): what `results:read` services see.
    pub fn is_set(self) -> bool {
        matches!(self, State::Ditetapkan | State::Final)
    }
}

/// Something done to an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The employee enters realisasi, evidence, action plans or the self-assessment.
    Report,
    /// The assessor gives (or changes) the two ratings.
    Rate,
    /// The unit's results are set after calibration.
    Set,
    /// The employee files an objection.
    Object,
    /// The assessor's superior decides the objection.
    Decide,
    /// The objection window passed without an objection.
    Finalize,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] = [
        Action::Report,
        Action::Rate,
        Action::Set,
        Action::Object,
        Action::Decide,
        Action::Finalize,
    ];
    fn allowed_states(self) -> &'static [State] {
        match self {
            Action::Report => &[State::Terbuka],
            Action::Rate => &[State::Terbuka, State::Dinilai],
            Action::Set => &[State::Dinilai],
            Action::Object | Action::Decide | Action::Finalize => &[State::Ditetapkan],
        }
    }
    fn target(self, from: State) -> State {
        match self {
            Action::Report | Action::Object => from,
            Action::Rate => State::Dinilai,
            Action::Set => State::Ditetapkan,
            Action::Decide | Action::Finalize => State::Final,
        }
    }
}

/// Why an action is refused: a stable reason and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable machine-readable reason.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

/// The state after `action` on an evaluation in `state`, or why not.
pub fn step(state: State, action: Action) -> Result<State, Refusal> {
    if action.allowed_states().contains(&state) {
        return Ok(action.target(state));
    }
    let (reason, message) = match (state, action) {
        (State::Final, _) => (
            "EVALUATION_FINAL",
            "the result is FINAL and never changes".to_owned(),
        ),
        (_, Action::Report) => (
            "EVALUATION_NOT_OPEN",
            format!(
                "the evaluation is {}: realisasi, action plans and the self-assessment change only while it is TERBUKA",
                state.as_str()
            ),
        ),
        (State::Ditetapkan, Action::Rate) => (
            "EVALUATION_SET",
            "the result is set (DITETAPKAN); only a decision on an objection can change it"
                .to_owned(),
        ),
        (_, Action::Set) => (
            "EVALUATION_NOT_RATED",
            format!(
                "the evaluation is {}: only rated (DINILAI) evaluations are set",
                state.as_str()
            ),
        ),
        _ => (
            "EVALUATION_NOT_SET",
            format!(
                "the evaluation is {}: objections are filed and decided only on a set (DITETAPKAN) result",
                state.as_str()
            ),
        ),
    };
    Err(Refusal { reason, message })
}

/// The state a reader sees, and since when it is FINAL: a set result whose objection window has
/// passed without an objection is FINAL from the end of the window, whether or not the sweeper
/// has written that down yet.
pub fn effective_state(
    stored: State,
    objection_deadline: Option<DateTime<Utc>>,
    objection_pending: bool,
    now: DateTime<Utc>,
) -> (State, Option<DateTime<Utc>>) {
    match (stored, objection_deadline) {
        (State::Ditetapkan, Some(deadline)) if !objection_pending && now > deadline => {
            (State::Final, Some(deadline))
        }
        _ => (stored, None),
    }
}

/// Checks an evidence hash: 64 hexadecimal characters (SHA-256); returns it in lower case.
pub fn check_sha256(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err("must be the SHA-256 of the evidence: 64 hexadecimal characters".into())
    }
}

/// Checks an evidence link: an absolute `https://` or `http://` URL with a host, no spaces.
pub fn check_url(s: &str) -> Result<(), String> {
    let t = s.trim();
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| "must be an http:// or https:// URL".to_owned())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err("must name a host".into());
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    if t.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    Ok(())
}

/// Checks a realisasi value: finite, not negative, at most [`MAX_VALUE`].
pub fn check_value(v: f64) -> Result<(), String> {
    if !v.is_finite() {
        Err("must be a finite number".into())
    } else if v < 0.0 {
        Err("must not be negative".into())
    } else if v > MAX_VALUE {
        Err(format!("must be at most {MAX_VALUE}"))
    } else {
        Ok(())
    }
}

/// Checks an angka kredit coefficient: finite, above 0, at most [`MAX_COEFFICIENT`].
pub fn check_coefficient(c: f64) -> Result<(), String> {
    if c.is_finite() && c > 0.0 && c <= MAX_COEFFICIENT {
        Ok(())
    } else {
        Err(format!(
            "must be a number above 0 and at most {MAX_COEFFICIENT}"
        ))
    }
}

/// Checks an objection window in days.
pub fn check_objection_days(days: i32) -> Result<u32, String> {
    u32::try_from(days)
        .ok()
        .filter(|d| (1..=MAX_OBJECTION_DAYS).contains(d))
        .ok_or_else(|| format!("must be between 1 and {MAX_OBJECTION_DAYS} days"))
}

/// Months of a span for pro-rating angka kredit: a calendar month counts when the span covers its
/// 15th day. Every month of a year is thus counted for exactly one of the consecutive SKP of a
/// year (a mutasi on any day gives the month to whichever SKP holds its middle), and a full year
/// counts 12.
pub fn months_covered(start: NaiveDate, end: NaiveDate) -> u32 {
    if end < start {
        return 0;
    }
    let mut n = 0;
    let (mut y, mut m) = (start.year(), start.month());
    while (y, m) <= (end.year(), end.month()) {
        if let Some(mid) = NaiveDate::from_ymd_opt(y, m, 15)
            && start <= mid
            && mid <= end
        {
            n += 1;
        }
        if m == 12 {
            y += 1;
            m = 1;
        } else {
            m += 1;
        }
    }
    n
}

/// Rounds to three decimals (how angka kredit is reported).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn predikat_list(ps: &[Predikat]) -> String {
    ps.iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// One sentence saying what a breach means for a unit of `n` people.
pub fn describe_breach(b: &Breach, n: u32) -> String {
    let who = predikat_list(&b.constraint.predikat);
    let p = b.constraint.percent;
    let kind = if b.constraint.blocking {
        "blocking"
    } else {
        "advisory"
    };
    match b.constraint.bound {
        Bound::AtMost => format!(
            "{}: at most {p}% of {n} ({} people) may be {who}; {} are, {} too many ({kind})",
            b.constraint.id, b.bound, b.actual, b.excess
        ),
        Bound::AtLeast => format!(
            "{}: at least {p}% of {n} ({} people) must be {who}; {} are, {} missing ({kind})",
            b.constraint.id, b.bound, b.actual, b.excess
        ),
        Bound::AtLeastOne => format!(
            "{}: at least one person is expected to be {who}; none is ({kind})",
            b.constraint.id
        ),
    }
}

/// Checks a rule set a caller defines: a version label, one curve for each of the five
/// organisation ratings, and sound rules. Returns (field, reason) for each problem.
pub fn validate_rule_set(r: &RuleSet) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let v = r.version.trim();
    if v.is_empty() || v.len() > 36 {
        out.push((
            "rule_set.version".into(),
            "must be 1 to 36 characters".into(),
        ));
    } else if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        out.push((
            "rule_set.version".into(),
            "may hold only letters, digits, '-', '_' and '.'".into(),
        ));
    }
    for org in [
        OrgRating::Istimewa,
        OrgRating::Baik,
        OrgRating::ButuhPerbaikan,
        OrgRating::Kurang,
        OrgRating::SangatKurang,
    ] {
        let n = r.curves.iter().filter(|c| c.org_rating == org).count();
        if n != 1 {
            out.push((
                "rule_set.curves".into(),
                format!(
                    "must hold exactly one curve for {} (found {n})",
                    org.as_str()
                ),
            ));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for (i, c) in r.curves.iter().enumerate() {
        for (j, k) in c.constraints.iter().enumerate() {
            let f = format!("rule_set.curves[{i}].rules[{j}]");
            let id = k.id.trim();
            if id.is_empty() || id.len() > 64 {
                out.push((format!("{f}.id"), "must be 1 to 64 characters".into()));
            } else if !ids.insert(id.to_owned()) {
                out.push((format!("{f}.id"), "is used twice".into()));
            }
            if k.percent > 100 {
                out.push((format!("{f}.percent"), "must be 0 to 100".into()));
            }
            if k.predikat.is_empty() {
                out.push((
                    format!("{f}.predikat"),
                    "must name at least one predikat".into(),
                ));
            }
            let distinct: std::collections::HashSet<_> = k.predikat.iter().collect();
            if distinct.len() != k.predikat.len() {
                out.push((format!("{f}.predikat"), "names a predikat twice".into()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::curve::{Constraint, Curve, check};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_state_machine() {
        use Action::*;
        use State::*;
        let table = [
            (Terbuka, Report, Ok(Terbuka)),
            (Terbuka, Rate, Ok(Dinilai)),
            (Dinilai, Rate, Ok(Dinilai)),
            (Dinilai, Set, Ok(Ditetapkan)),
            (Ditetapkan, Object, Ok(Ditetapkan)),
            (Ditetapkan, Decide, Ok(Final)),
            (Ditetapkan, Finalize, Ok(Final)),
            (Dinilai, Report, Err("EVALUATION_NOT_OPEN")),
            (Ditetapkan, Report, Err("EVALUATION_NOT_OPEN")),
            (Ditetapkan, Rate, Err("EVALUATION_SET")),
            (Terbuka, Set, Err("EVALUATION_NOT_RATED")),
            (Ditetapkan, Set, Err("EVALUATION_NOT_RATED")),
            (Terbuka, Object, Err("EVALUATION_NOT_SET")),
            (Dinilai, Decide, Err("EVALUATION_NOT_SET")),
            (Dinilai, Finalize, Err("EVALUATION_NOT_SET")),
        ];
        for (from, action, want) in table {
            assert_eq!(
                step(from, action).map_err(|r| r.reason),
                want,
                "{from:?} {action:?}"
            );
        }
        // Nothing moves a FINAL result.
        for a in Action::ALL {
            assert_eq!(step(Final, a).unwrap_err().reason, "EVALUATION_FINAL");
        }
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert!(Ditetapkan.is_set() && Final.is_set() && !Dinilai.is_set());
    }

    #[test]
    fn a_set_result_becomes_final_when_the_window_passes_without_objection() {
        let deadline = t("2026-04-30T16:59:59.999Z");
        let before = t("2026-04-30T16:00:00Z");
        let after = t("2026-04-30T17:00:00Z");
        assert_eq!(
            effective_state(State::Ditetapkan, Some(deadline), false, before),
            (State::Ditetapkan, None)
        );
        assert_eq!(
            effective_state(State::Ditetapkan, Some(deadline), false, after),
            (State::Final, Some(deadline))
        );
        // A pending objection holds the result until it is decided.
        assert_eq!(
            effective_state(State::Ditetapkan, Some(deadline), true, after),
            (State::Ditetapkan, None)
        );
        assert_eq!(
            effective_state(State::Dinilai, None, false, after),
            (State::Dinilai, None)
        );
    }

    #[test]
    fn evidence_and_values() {
        let h = "A".repeat(64);
        assert_eq!(check_sha256(&h).unwrap(), "a".repeat(64));
        assert!(check_sha256(&"a".repeat(63)).is_err());
        assert!(check_sha256(&"g".repeat(64)).is_err());
        assert!(check_sha256("").is_err());
        assert!(check_url("https://drive.example.go.id/doc/1").is_ok());
        assert!(check_url("http://x").is_ok());
        assert!(check_url("ftp://x/y").is_err());
        assert!(check_url("https:///nohost").is_err());
        assert!(check_url("https://a b").is_err());
        assert!(check_value(0.0).is_ok());
        assert!(check_value(12.5).is_ok());
        assert!(check_value(-0.1).is_err());
        assert!(check_value(f64::NAN).is_err());
        assert!(check_value(f64::INFINITY).is_err());
        assert!(check_value(2e12).is_err());
        assert!(check_coefficient(12.5).is_ok());
        assert!(check_coefficient(0.0).is_err());
        assert!(check_coefficient(f64::NAN).is_err());
        assert_eq!(check_objection_days(14), Ok(14));
        assert!(check_objection_days(0).is_err());
        assert!(check_objection_days(91).is_err());
    }

    #[test]
    fn months_for_pro_rating() {
        assert_eq!(months_covered(d(2026, 1, 1), d(2026, 12, 31)), 12);
        assert_eq!(months_covered(d(2026, 1, 1), d(2026, 6, 30)), 6);
        // A mutasi on 10 June gives June to the second SKP, on 20 June to the first.
        assert_eq!(months_covered(d(2026, 1, 1), d(2026, 6, 9)), 5);
        assert_eq!(months_covered(d(2026, 6, 10), d(2026, 12, 31)), 7);
        assert_eq!(months_covered(d(2026, 1, 1), d(2026, 6, 19)), 6);
        assert_eq!(months_covered(d(2026, 6, 20), d(2026, 12, 31)), 6);
        assert_eq!(months_covered(d(2026, 3, 16), d(2026, 3, 31)), 0);
        assert_eq!(months_covered(d(2026, 3, 31), d(2026, 3, 1)), 0);
        assert_eq!(round3(9.37549), 9.375);
    }

    #[test]
    fn breaches_are_described_in_words() {
        let rules = RuleSet::default_2022();
        let curve = rules.curve(OrgRating::Istimewa).unwrap();
        let d = crate::domain::curve::Distribution {
            sangat_baik: 9,
            baik: 1,
            ..Default::default()
        };
        let b = check(curve, &d);
        let s = describe_breach(&b[0], 10);
        assert!(s.contains("at most 70% of 10 (7 people)"), "{s}");
        assert!(s.contains("9 are, 2 too many"), "{s}");
    }

    #[test]
    fn rule_sets_are_validated() {
        assert!(validate_rule_set(&RuleSet::default_2022()).is_empty());
        let mut r = RuleSet::default_2022();
        r.version = "bad version".into();
        r.curves.pop();
        r.curves[0].constraints.push(Constraint {
            id: "ISTIMEWA.max_sangat_baik".into(),
            bound: Bound::AtMost,
            percent: 101,
            predikat: vec![],
            blocking: true,
        });
        r.curves.push(Curve {
            org_rating: OrgRating::Baik,
            constraints: vec![],
        });
        let fields: Vec<String> = validate_rule_set(&r).into_iter().map(|x| x.0).collect();
        assert!(fields.contains(&"rule_set.version".to_owned()));
        assert!(fields.contains(&"rule_set.curves".to_owned()));
        assert!(fields.contains(&"rule_set.curves[0].rules[1].id".to_owned()));
        assert!(fields.contains(&"rule_set.curves[0].rules[1].percent".to_owned()));
        assert!(fields.contains(&"rule_set.curves[0].rules[1].predikat".to_owned()));
    }
}
