//! Results as they stood at a snapshot time, for the bulk export.
//!
//! A set result changes after it is set in only two recorded ways: it becomes FINAL (the
//! objection window passes, or an objection is decided), and a decided objection may replace its
//! ratings, keeping the ones objected to on the objection. So the result at any instant `t` can be
//! rebuilt from the stored row and its objection alone, which lets an export that is cut and
//! resumed later (on any replica) go on reading the very same snapshot.

use chrono::{DateTime, Utc};

use super::assessment::State;

/// The ratings of a result (stored names: `DIATAS_EKSPEKTASI`, `BAIK`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ratings {
    /// Results rating (hasil kerja).
    pub results: Option<String>,
    /// Behaviour rating (perilaku kerja).
    pub behaviour: Option<String>,
    /// Predikat.
    pub predikat: Option<String>,
}

/// What the snapshot needs of a stored result now.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Stored state.
    pub state: State,
    /// When it was set.
    pub set_at: Option<DateTime<Utc>>,
    /// Last instant an objection could be filed.
    pub objection_deadline: Option<DateTime<Utc>>,
    /// When it became FINAL, if written down.
    pub final_at: Option<DateTime<Utc>>,
    /// The ratings now.
    pub ratings: Ratings,
}

/// The objection to a result, if one was filed.
#[derive(Debug, Clone)]
pub struct Objection {
    /// When it was filed.
    pub filed_at: DateTime<Utc>,
    /// When it was decided, if it was.
    pub decided_at: Option<DateTime<Utc>>,
    /// The ratings objected to (those of the result until the decision).
    pub previous: Ratings,
}

/// A result as it stood at the snapshot time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsOf {
    /// DITETAPKAN or FINAL.
    pub state: State,
    /// When it became FINAL, if it was by then.
    pub final_at: Option<DateTime<Utc>>,
    /// An objection was pending then.
    pub objection_pending: bool,
    /// The ratings then.
    pub ratings: Ratings,
}

/// The result at instant `t`, or `None` when it was not set by then.
pub fn as_of(stored: &Stored, objection: Option<&Objection>, t: DateTime<Utc>) -> Option<AsOf> {
    if !matches!(stored.state, State::Ditetapkan | State::Final) {
        return None;
    }
    if stored.set_at.is_none_or(|s| s > t) {
        return None;
    }
    // Ratings: those objected to until the objection was decided.
    let ratings = match objection {
        Some(o) if o.decided_at.is_none_or(|d| d > t) => o.previous.clone(),
        _ => stored.ratings.clone(),
    };
    let filed_by_t = objection.is_some_and(|o| o.filed_at <= t);
    let (state, final_at, pending) = match stored.final_at {
        Some(f) if f <= t && stored.state == State::Final => (State::Final, Some(f), false),
        _ if filed_by_t => (State::Ditetapkan, None, true),
        _ => match stored.objection_deadline {
            // The window passed without objection: FINAL from its end (as readers see it).
            Some(d) if t > d => (State::Final, Some(d), false),
            _ => (State::Ditetapkan, None, false),
        },
    };
    Some(AsOf {
        state,
        final_at,
        objection_pending: pending,
        ratings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + h * 3600, 0).expect("valid")
    }

    fn r(p: &str) -> Ratings {
        Ratings {
            results: Some(format!("R-{p}")),
            behaviour: Some(format!("B-{p}")),
            predikat: Some(p.to_owned()),
        }
    }

    /// Set at hour 10, objection window until hour 20.
    fn set() -> Stored {
        Stored {
            state: State::Ditetapkan,
            set_at: Some(at(10)),
            objection_deadline: Some(at(20)),
            final_at: None,
            ratings: r("BAIK"),
        }
    }

    #[test]
    fn not_set_yet_or_never_set_is_absent() {
        assert_eq!(as_of(&set(), None, at(9)), None);
        let mut rated = set();
        rated.state = State::Dinilai;
        rated.set_at = None;
        assert_eq!(as_of(&rated, None, at(30)), None);
    }

    #[test]
    fn window_open_then_final_from_its_end() {
        let s = set();
        let open = as_of(&s, None, at(15)).expect("set");
        assert_eq!((open.state, open.final_at), (State::Ditetapkan, None));
        // Exactly at the deadline the window is still open (readers use `now > deadline`).
        assert_eq!(
            as_of(&s, None, at(20)).expect("set").state,
            State::Ditetapkan
        );
        let fin = as_of(&s, None, at(21)).expect("set");
        assert_eq!((fin.state, fin.final_at), (State::Final, Some(at(20))));
        // Written down by the sweeper later: the same answer before and after.
        let mut swept = s.clone();
        swept.state = State::Final;
        swept.final_at = Some(at(20));
        assert_eq!(as_of(&swept, None, at(21)), Some(fin));
        assert_eq!(as_of(&swept, None, at(15)), Some(open));
    }

    #[test]
    fn an_objection_decided_after_the_snapshot_is_not_seen() {
        // Filed at 12, decided at 30 with new ratings.
        let mut s = set();
        s.state = State::Final;
        s.final_at = Some(at(30));
        s.ratings = r("SANGAT_BAIK");
        let o = Objection {
            filed_at: at(12),
            decided_at: Some(at(30)),
            previous: r("BAIK"),
        };
        let before_filing = as_of(&s, Some(&o), at(11)).expect("set");
        assert_eq!(before_filing.state, State::Ditetapkan);
        assert!(!before_filing.objection_pending);
        assert_eq!(before_filing.ratings, r("BAIK"));
        // Pending past the window's end: still DITETAPKAN, never lazily FINAL.
        let pending = as_of(&s, Some(&o), at(25)).expect("set");
        assert_eq!(
            (pending.state, pending.objection_pending),
            (State::Ditetapkan, true)
        );
        assert_eq!(pending.ratings, r("BAIK"));
        let decided = as_of(&s, Some(&o), at(31)).expect("set");
        assert_eq!(decided.state, State::Final);
        assert_eq!(decided.final_at, Some(at(30)));
        assert_eq!(decided.ratings, r("SANGAT_BAIK"));
    }

    #[test]
    fn a_pending_objection_keeps_the_current_ratings() {
        let o = Objection {
            filed_at: at(12),
            decided_at: None,
            previous: r("BAIK"),
        };
        let now = as_of(&set(), Some(&o), at(40)).expect("set");
        assert_eq!(
            (now.state, now.objection_pending),
            (State::Ditetapkan, true)
        );
        assert_eq!(now.ratings, r("BAIK"));
    }
}
