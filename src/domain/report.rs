//! Pure computations of the reports: result counts from grouped rows, completion statuses,
//! indicator flags, and the assessor measures (mean score, leniency, top share, central
//! tendency). The database groups and counts; these functions only combine the counts.

use crate::domain::assessment::State;
use crate::domain::curve::Distribution;
use crate::domain::rating::Predikat;

/// Adds `n` results of predikat `p` to `d`.
pub fn add(d: &mut Distribution, p: Predikat, n: u32) {
    let slot = match p {
        Predikat::SangatBaik => &mut d.sangat_baik,
        Predikat::Baik => &mut d.baik,
        Predikat::ButuhPerbaikan => &mut d.butuh_perbaikan,
        Predikat::Kurang => &mut d.kurang,
        Predikat::SangatKurang => &mut d.sangat_kurang,
    };
    *slot += n;
}

/// Result counts of a group of approved SKP in an evaluation period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Approved SKP covering part of the period.
    pub head_count: u32,
    /// Not set yet (no evaluation, TERBUKA, DINILAI).
    pub not_set: u32,
    /// Of those, DINILAI.
    pub rated_not_set: u32,
    /// DITETAPKAN as a reader sees it now.
    pub set: u32,
    /// FINAL as a reader sees it now.
    pub final_: u32,
    /// Predikat of the set and FINAL results.
    pub distribution: Distribution,
    /// Set and FINAL results set under a calibration exception.
    pub set_under_exception: u32,
}

impl Counts {
    /// Adds `n` results in effective state `state` (`None`: no evaluation yet) with `predikat`;
    /// `exception` when they were set under a calibration exception.
    pub fn add(
        &mut self,
        state: Option<State>,
        predikat: Option<Predikat>,
        exception: bool,
        n: u32,
    ) {
        self.head_count += n;
        match state {
            None | Some(State::Terbuka) => self.not_set += n,
            Some(State::Dinilai) => {
                self.not_set += n;
                self.rated_not_set += n;
            }
            Some(s @ (State::Ditetapkan | State::Final)) => {
                if s == State::Final {
                    self.final_ += n;
                } else {
                    self.set += n;
                }
                if let Some(p) = predikat {
                    add(&mut self.distribution, p, n);
                }
                if exception {
                    self.set_under_exception += n;
                }
            }
        }
    }

    /// Adds another group's counts.
    pub fn merge(&mut self, o: &Counts) {
        self.head_count += o.head_count;
        self.not_set += o.not_set;
        self.rated_not_set += o.rated_not_set;
        self.set += o.set;
        self.final_ += o.final_;
        self.set_under_exception += o.set_under_exception;
        for p in Predikat::ALL {
            add(&mut self.distribution, p, o.distribution.get(p));
        }
    }
}

/// Counts of a calibration group: its members by effective state, and the distribution the
/// curve is checked against — the predikat of every member past TERBUKA (a DINILAI member's draft
/// predikat counts, so a unit can be calibrated before its results are set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Members.
    pub head_count: u32,
    /// Members without a predikat (no evaluation, TERBUKA, or none recorded).
    pub unrated: u32,
    /// Members rated but not set (DINILAI).
    pub rated_not_set: u32,
    /// Members set (DITETAPKAN or FINAL as a reader sees it now).
    pub set: u32,
    /// Predikat of the rated members.
    pub distribution: Distribution,
}

impl GroupCounts {
    /// Adds `n` members in effective state `state` (TERBUKA also for no evaluation yet) whose
    /// evaluation records `predikat`.
    pub fn add(&mut self, state: State, predikat: Option<Predikat>, n: u32) {
        self.head_count += n;
        match predikat.filter(|_| state != State::Terbuka) {
            Some(p) => add(&mut self.distribution, p, n),
            None => self.unrated += n,
        }
        if state == State::Dinilai {
            self.rated_not_set += n;
        }
        if state.is_set() {
            self.set += n;
        }
    }
}

/// What an employee lacks in an evaluation period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Missing {
    /// No approved SKP covers part of the period.
    NoApprovedSkp,
    /// No realisasi for the period.
    NoRealisasi,
    /// No evaluation of the period rated yet.
    NotRated,
    /// An objection waits for the decision.
    ObjectionPending,
}

impl Missing {
    /// Every status, in report order.
    pub const ALL: [Missing; 4] = [
        Missing::NoApprovedSkp,
        Missing::NoRealisasi,
        Missing::NotRated,
        Missing::ObjectionPending,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::NoApprovedSkp => "NO_APPROVED_SKP",
            Missing::NoRealisasi => "NO_REALISASI",
            Missing::NotRated => "NOT_RATED",
            Missing::ObjectionPending => "OBJECTION_PENDING",
        }
    }
}

/// The statuses of one employee from the four facts the database found (each independent: an
/// employee without an approved SKP has no realisasi and no rating either).
pub fn missing(approved_skp: bool, realisasi: bool, rated: bool, pending: bool) -> Vec<Missing> {
    let mut out = Vec::new();
    if !approved_skp {
        out.push(Missing::NoApprovedSkp);
    }
    if !realisasi {
        out.push(Missing::NoRealisasi);
    }
    if !rated {
        out.push(Missing::NotRated);
    }
    if pending {
        out.push(Missing::ObjectionPending);
    }
    out
}

/// A quality flag of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicatorFlag {
    /// Every realisasi reached at least 100% of the target.
    AlwaysAtTarget,
    /// No realisasi carries evidence.
    NeverEvidenced,
}

/// The flags of an indicator with `reported` realisasi, `below` of them under 100% of the target
/// (or without a computable capaian), and `evidenced` of them with evidence.
pub fn indicator_flags(reported: u32, below: u32, evidenced: u32) -> Vec<IndicatorFlag> {
    let mut out = Vec::new();
    if reported > 0 && below == 0 {
        out.push(IndicatorFlag::AlwaysAtTarget);
    }
    if evidenced == 0 {
        out.push(IndicatorFlag::NeverEvidenced);
    }
    out
}

/// Score of a predikat for means: SANGAT_BAIK 5, BAIK 4, BUTUH_PERBAIKAN 3, KURANG 2,
/// SANGAT_KURANG 1.
pub fn score(p: Predikat) -> u32 {
    match p {
        Predikat::SangatBaik => 5,
        Predikat::Baik => 4,
        Predikat::ButuhPerbaikan => 3,
        Predikat::Kurang => 2,
        Predikat::SangatKurang => 1,
    }
}

/// Mean score of a distribution; 0 when it is empty.
pub fn mean_score(d: &Distribution) -> f64 {
    let n = d.total();
    if n == 0 {
        return 0.0;
    }
    let sum: u64 = Predikat::ALL
        .into_iter()
        .map(|p| u64::from(score(p)) * u64::from(d.get(p)))
        .sum();
    sum as f64 / f64::from(n)
}

/// Share of predikat `p` in `d`, in percent; 0 when `d` is empty.
pub fn share(d: &Distribution, p: Predikat) -> f64 {
    let n = d.total();
    if n == 0 {
        0.0
    } else {
        f64::from(d.get(p)) * 100.0 / f64::from(n)
    }
}

/// Rounds to two decimals (reports show percentages and means, not float noise).
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One assessor's measures against the units they rated in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssessorMeasures {
    /// Mean score of the assessor's results.
    pub mean_score: f64,
    /// Mean score of the units' results.
    pub unit_mean_score: f64,
    /// `mean_score - unit_mean_score`: positive when milder than the units.
    pub leniency: f64,
    /// SANGAT_BAIK share of the assessor minus that of the units, in percentage points.
    pub top_share_difference: f64,
    /// BAIK share of the assessor, in percent (central tendency).
    pub middle_share: f64,
    /// BAIK share of the units, in percent.
    pub unit_middle_share: f64,
}

/// The measures of an assessor whose results are `own`, in units whose results are `unit`.
pub fn assessor_measures(own: &Distribution, unit: &Distribution) -> AssessorMeasures {
    let (m, um) = (mean_score(own), mean_score(unit));
    AssessorMeasures {
        mean_score: round2(m),
        unit_mean_score: round2(um),
        leniency: round2(m - um),
        top_share_difference: round2(
            share(own, Predikat::SangatBaik) - share(unit, Predikat::SangatBaik),
        ),
        middle_share: round2(share(own, Predikat::Baik)),
        unit_middle_share: round2(share(unit, Predikat::Baik)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(sb: u32, b: u32, bp: u32, k: u32, sk: u32) -> Distribution {
        Distribution {
            sangat_baik: sb,
            baik: b,
            butuh_perbaikan: bp,
            kurang: k,
            sangat_kurang: sk,
        }
    }

    #[test]
    fn counts_split_states_and_count_predikat_of_set_results_only() {
        let mut c = Counts::default();
        c.add(None, None, false, 2);
        c.add(Some(State::Terbuka), None, false, 1);
        c.add(Some(State::Dinilai), Some(Predikat::SangatBaik), false, 3);
        c.add(Some(State::Ditetapkan), Some(Predikat::Baik), false, 4);
        c.add(Some(State::Final), Some(Predikat::Kurang), true, 5);
        assert_eq!(c.head_count, 15);
        assert_eq!(c.not_set, 6);
        assert_eq!(c.rated_not_set, 3);
        assert_eq!((c.set, c.final_), (4, 5));
        assert_eq!(c.distribution, dist(0, 4, 0, 5, 0));
        assert_eq!(c.set_under_exception, 5);
        let mut m = c.clone();
        m.merge(&c);
        assert_eq!(m.head_count, 30);
        assert_eq!(m.distribution, dist(0, 8, 0, 10, 0));
        assert_eq!(m.set_under_exception, 10);
    }

    #[test]
    fn completion_statuses_are_independent() {
        assert_eq!(
            missing(false, false, false, false),
            vec![
                Missing::NoApprovedSkp,
                Missing::NoRealisasi,
                Missing::NotRated
            ]
        );
        assert_eq!(missing(true, true, true, false), vec![]);
        assert_eq!(
            missing(true, true, true, true),
            vec![Missing::ObjectionPending]
        );
        assert_eq!(
            missing(true, false, true, false),
            vec![Missing::NoRealisasi]
        );
        assert_eq!(Missing::NotRated.as_str(), "NOT_RATED");
    }

    #[test]
    fn indicator_flags_need_a_realisasi_to_be_always_at_target() {
        assert_eq!(
            indicator_flags(0, 0, 0),
            vec![IndicatorFlag::NeverEvidenced]
        );
        assert_eq!(
            indicator_flags(3, 0, 0),
            vec![IndicatorFlag::AlwaysAtTarget, IndicatorFlag::NeverEvidenced]
        );
        assert_eq!(
            indicator_flags(3, 0, 1),
            vec![IndicatorFlag::AlwaysAtTarget]
        );
        assert_eq!(indicator_flags(3, 1, 2), vec![]);
    }

    #[test]
    fn means_shares_and_measures() {
        assert_eq!(mean_score(&Distribution::default()), 0.0);
        assert_eq!(share(&Distribution::default(), Predikat::Baik), 0.0);
        let own = dist(3, 1, 0, 0, 0); // mean (15 + 4) / 4 = 4.75
        let unit = dist(4, 4, 2, 0, 0); // mean (20 + 16 + 6) / 10 = 4.2
        assert_eq!(mean_score(&own), 4.75);
        assert_eq!(mean_score(&unit), 4.2);
        let m = assessor_measures(&own, &unit);
        assert_eq!(m.mean_score, 4.75);
        assert_eq!(m.unit_mean_score, 4.2);
        assert_eq!(m.leniency, 0.55);
        assert_eq!(m.top_share_difference, 35.0); // 75% - 40%
        assert_eq!(m.middle_share, 25.0);
        assert_eq!(m.unit_middle_share, 40.0);
        let central = assessor_measures(&dist(0, 9, 1, 0, 0), &unit);
        assert_eq!(central.middle_share, 90.0);
        assert!(central.leniency < 0.0);
        assert_eq!(
            share(&dist(1, 2, 0, 0, 0), Predikat::SangatBaik),
            100.0 / 3.0
        );
        assert_eq!(round2(100.0 / 3.0), 33.33);
        let mut d = Distribution::default();
        add(&mut d, Predikat::SangatKurang, 7);
        assert_eq!(d.sangat_kurang, 7);
        assert_eq!(score(Predikat::ButuhPerbaikan), 3);
    }
}
