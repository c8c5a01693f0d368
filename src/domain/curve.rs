//! The distribution curve (kurva distribusi): how a unit's employee predikat may be spread,
//! given the unit's organisation rating, as a versioned rule set.
//!
//! Rounding: a percentage bound on a unit of `n` people becomes a head count by rounding
//! `p × n / 100` to the nearest whole person, halves up (`(p × n + 50) / 100` in integers). So
//! "at most 70%" of 1 person allows 1, of 3 allows 2, of 10 allows 7, of 101 allows 71; "at
//! least 10%" of 3 requires 0, of 10 requires 1, of 101 requires 10. "No SANGAT_BAIK" is
//! "at most 0%", which allows none at any size.

use serde::{Deserialize, Serialize};

use super::rating::Predikat;

/// Predikat kinerja organisasi: the rating of a unit for a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrgRating {
    /// Istimewa (outstanding).
    Istimewa,
    /// Baik (good).
    Baik,
    /// Butuh perbaikan (needs improvement).
    ButuhPerbaikan,
    /// Kurang (poor).
    Kurang,
    /// Sangat kurang (very poor).
    SangatKurang,
}

impl OrgRating {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRating::Istimewa => "ISTIMEWA",
            OrgRating::Baik => "BAIK",
            OrgRating::ButuhPerbaikan => "BUTUH_PERBAIKAN",
            OrgRating::Kurang => "KURANG",
            OrgRating::SangatKurang => "SANGAT_KURANG",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [
            OrgRating::Istimewa,
            OrgRating::Baik,
            OrgRating::ButuhPerbaikan,
            OrgRating::Kurang,
            OrgRating::SangatKurang,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// Direction of a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bound {
    /// At most this share of the unit.
    AtMost,
    /// At least this share of the unit.
    AtLeast,
    /// At least one person (the percentage is ignored).
    AtLeastOne,
}

/// One rule of a curve: the number of people whose predikat is one of `predikat` is bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// Short stable id of the rule, e.g. `BAIK.max_baik`.
    pub id: String,
    /// Direction.
    pub bound: Bound,
    /// Percentage of the unit's head count.
    pub percent: u32,
    /// The predikat counted together.
    pub predikat: Vec<Predikat>,
    /// Whether breaking it blocks setting the results (an advisory rule only warns).
    pub blocking: bool,
}

/// The curve of one organisation rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Curve {
    /// The organisation rating it applies to.
    pub org_rating: OrgRating,
    /// Its rules.
    pub constraints: Vec<Constraint>,
}

/// A versioned set of curves; every result records the version it was checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    /// Version label, e.g. `permenpanrb-6-2022`.
    pub version: String,
    /// One curve per organisation rating.
    pub curves: Vec<Curve>,
}

fn c(id: &str, bound: Bound, percent: u32, predikat: &[Predikat], blocking: bool) -> Constraint {
    Constraint {
        id: id.to_owned(),
        bound,
        percent,
        predikat: predikat.to_vec(),
        blocking,
    }
}

impl RuleSet {
    /// The default rule set (PermenPANRB 6/2022, as in DOMAIN.md).
    pub fn default_2022() -> Self {
        use Bound::*;
        use Predikat::*;
        let curve = |org_rating, constraints| Curve {
            org_rating,
            constraints,
        };
        RuleSet {
            version: "permenpanrb-6-2022".into(),
            curves: vec![
                curve(
                    OrgRating::Istimewa,
                    vec![c(
                        "ISTIMEWA.max_sangat_baik",
                        AtMost,
                        70,
                        &[SangatBaik],
                        true,
                    )],
                ),
                curve(
                    OrgRating::Baik,
                    vec![
                        c("BAIK.max_baik", AtMost, 70, &[Baik], true),
                        // "some BUTUH_PERBAIKAN and/or KURANG expected": advisory only.
                        c(
                            "BAIK.some_below",
                            AtLeastOne,
                            0,
                            &[ButuhPerbaikan, Kurang],
                            false,
                        ),
                    ],
                ),
                curve(
                    OrgRating::ButuhPerbaikan,
                    vec![
                        c(
                            "BUTUH_PERBAIKAN.min_butuh_perbaikan",
                            AtLeast,
                            60,
                            &[ButuhPerbaikan],
                            true,
                        ),
                        c(
                            "BUTUH_PERBAIKAN.max_sangat_baik",
                            AtMost,
                            10,
                            &[SangatBaik],
                            true,
                        ),
                    ],
                ),
                curve(
                    OrgRating::Kurang,
                    vec![
                        c("KURANG.min_kurang", AtLeast, 60, &[Kurang], true),
                        c(
                            "KURANG.min_butuh_perbaikan",
                            AtLeast,
                            10,
                            &[ButuhPerbaikan],
                            true,
                        ),
                        c("KURANG.max_sangat_baik", AtMost, 10, &[SangatBaik], true),
                    ],
                ),
                curve(
                    OrgRating::SangatKurang,
                    vec![
                        c(
                            "SANGAT_KURANG.min_sangat_kurang",
                            AtLeast,
                            60,
                            &[SangatKurang],
                            true,
                        ),
                        c(
                            "SANGAT_KURANG.min_kurang_or_bp",
                            AtLeast,
                            10,
                            &[Kurang, ButuhPerbaikan],
                            true,
                        ),
                        c(
                            "SANGAT_KURANG.no_sangat_baik",
                            AtMost,
                            0,
                            &[SangatBaik],
                            true,
                        ),
                    ],
                ),
            ],
        }
    }

    /// The curve of `rating`.
    pub fn curve(&self, rating: OrgRating) -> Option<&Curve> {
        self.curves.iter().find(|c| c.org_rating == rating)
    }
}

/// The head-count bound of `percent` on a unit of `n` (rounded to nearest, halves up).
pub fn head_count(percent: u32, n: u32) -> u32 {
    ((u64::from(percent) * u64::from(n) + 50) / 100) as u32
}

/// Counts of each predikat in a unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Distribution {
    /// SANGAT_BAIK count.
    pub sangat_baik: u32,
    /// BAIK count.
    pub baik: u32,
    /// BUTUH_PERBAIKAN count.
    pub butuh_perbaikan: u32,
    /// KURANG count.
    pub kurang: u32,
    /// SANGAT_KURANG count.
    pub sangat_kurang: u32,
}

impl Distribution {
    /// Counts a list of predikat.
    pub fn of(items: impl IntoIterator<Item = Predikat>) -> Self {
        let mut d = Self::default();
        for p in items {
            *d.get_mut(p) += 1;
        }
        d
    }
    /// Count of one predikat.
    pub fn get(&self, p: Predikat) -> u32 {
        match p {
            Predikat::SangatBaik => self.sangat_baik,
            Predikat::Baik => self.baik,
            Predikat::ButuhPerbaikan => self.butuh_perbaikan,
            Predikat::Kurang => self.kurang,
            Predikat::SangatKurang => self.sangat_kurang,
        }
    }
    fn get_mut(&mut self, p: Predikat) -> &mut u32 {
        match p {
            Predikat::SangatBaik => &mut self.sangat_baik,
            Predikat::Baik => &mut self.baik,
            Predikat::ButuhPerbaikan => &mut self.butuh_perbaikan,
            Predikat::Kurang => &mut self.kurang,
            Predikat::SangatKurang => &mut self.sangat_kurang,
        }
    }
    /// Head count.
    pub fn total(&self) -> u32 {
        Predikat::ALL.into_iter().map(|p| self.get(p)).sum()
    }
}

/// A rule the distribution breaks, and by how many people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The broken rule.
    pub constraint: Constraint,
    /// People counted by the rule.
    pub actual: u32,
    /// The head-count bound for this unit size.
    pub bound: u32,
    /// People to move to satisfy the rule.
    pub excess: u32,
}

/// Checks a unit's distribution against a curve; returns every broken rule.
pub fn check(curve: &Curve, d: &Distribution) -> Vec<Breach> {
    let n = d.total();
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    for c in &curve.constraints {
        let actual: u32 = c.predikat.iter().map(|p| d.get(*p)).sum();
        let bound = match c.bound {
            Bound::AtLeastOne => 1,
            _ => head_count(c.percent, n),
        };
        let excess = match c.bound {
            Bound::AtMost => actual.saturating_sub(bound),
            Bound::AtLeast | Bound::AtLeastOne => bound.saturating_sub(actual),
        };
        if excess > 0 {
            out.push(Breach {
                constraint: c.clone(),
                actual,
                bound,
                excess,
            });
        }
    }
    out
}

/// True when no blocking rule is broken.
pub fn conforms(breaches: &[Breach]) -> bool {
    breaches.iter().all(|b| !b.constraint.blocking)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Predikat::*;

    fn dist(sb: u32, b: u32, bp: u32, k: u32, sk: u32) -> Distribution {
        Distribution {
            sangat_baik: sb,
            baik: b,
            butuh_perbaikan: bp,
            kurang: k,
            sangat_kurang: sk,
        }
    }

    fn breached(rating: OrgRating, d: Distribution) -> Vec<String> {
        let rules = RuleSet::default_2022();
        check(rules.curve(rating).unwrap(), &d)
            .into_iter()
            .map(|b| b.constraint.id)
            .collect()
    }

    #[test]
    fn head_counts_round_to_nearest() {
        for (p, n, want) in [
            (70, 1, 1),
            (70, 3, 2),
            (70, 10, 7),
            (70, 101, 71),
            (60, 1, 1),
            (60, 3, 2),
            (60, 10, 6),
            (60, 101, 61),
            (10, 1, 0),
            (10, 3, 0),
            (10, 10, 1),
            (10, 101, 10),
            (0, 101, 0),
            (1, 10, 0),
            (1, 101, 1),
        ] {
            assert_eq!(head_count(p, n), want, "{p}% of {n}");
        }
    }

    /// Each rule at, just under and just over its bound, for units of 1, 3, 10 and 101.
    #[test]
    fn every_rule_at_its_bounds_for_each_unit_size() {
        for n in [1u32, 3, 10, 101] {
            // ISTIMEWA: at most 70% SANGAT_BAIK (rest BAIK).
            let b = head_count(70, n);
            assert!(
                breached(OrgRating::Istimewa, dist(b, n - b, 0, 0, 0)).is_empty(),
                "n={n} at"
            );
            if b > 0 {
                assert!(
                    breached(OrgRating::Istimewa, dist(b - 1, n - b + 1, 0, 0, 0)).is_empty(),
                    "n={n} under"
                );
            }
            if b < n {
                assert_eq!(
                    breached(OrgRating::Istimewa, dist(b + 1, n - b - 1, 0, 0, 0)),
                    ["ISTIMEWA.max_sangat_baik"],
                    "n={n} over"
                );
            }

            // BAIK: at most 70% BAIK (rest BUTUH_PERBAIKAN, which also meets the advisory rule).
            let b = head_count(70, n);
            assert!(
                !breached(OrgRating::Baik, dist(0, b, n - b, 0, 0))
                    .contains(&"BAIK.max_baik".to_owned()),
                "n={n}"
            );
            if b < n {
                assert!(
                    breached(OrgRating::Baik, dist(0, b + 1, n - b - 1, 0, 0))
                        .contains(&"BAIK.max_baik".to_owned()),
                    "n={n} over"
                );
            }

            // BUTUH_PERBAIKAN: at least 60% BUTUH_PERBAIKAN, at most 10% SANGAT_BAIK.
            let min = head_count(60, n);
            let max_sb = head_count(10, n);
            let rest = n - min;
            assert!(
                breached(OrgRating::ButuhPerbaikan, dist(0, rest, min, 0, 0)).is_empty(),
                "n={n} at"
            );
            if min > 0 {
                assert_eq!(
                    breached(OrgRating::ButuhPerbaikan, dist(0, rest + 1, min - 1, 0, 0)),
                    ["BUTUH_PERBAIKAN.min_butuh_perbaikan"],
                    "n={n} under"
                );
            }
            if min < n {
                assert!(
                    breached(OrgRating::ButuhPerbaikan, dist(0, rest - 1, min + 1, 0, 0))
                        .is_empty(),
                    "n={n} over"
                );
            }
            if rest > max_sb {
                assert!(
                    breached(
                        OrgRating::ButuhPerbaikan,
                        dist(max_sb, rest - max_sb, min, 0, 0)
                    )
                    .is_empty(),
                    "n={n} sb at"
                );
                assert_eq!(
                    breached(
                        OrgRating::ButuhPerbaikan,
                        dist(max_sb + 1, rest - max_sb - 1, min, 0, 0)
                    ),
                    ["BUTUH_PERBAIKAN.max_sangat_baik"],
                    "n={n} sb over"
                );
            }

            // KURANG: at least 60% KURANG, at least 10% BUTUH_PERBAIKAN, at most 10% SANGAT_BAIK.
            let (k, bp) = (head_count(60, n), head_count(10, n));
            if k + bp <= n {
                let rest = n - k - bp;
                assert!(
                    breached(OrgRating::Kurang, dist(0, rest, bp, k, 0)).is_empty(),
                    "n={n} at"
                );
                if bp > 0 {
                    assert_eq!(
                        breached(OrgRating::Kurang, dist(0, rest + 1, bp - 1, k, 0)),
                        ["KURANG.min_butuh_perbaikan"],
                        "n={n} bp under"
                    );
                }
                if k > 0 {
                    assert_eq!(
                        breached(OrgRating::Kurang, dist(0, rest + 1, bp, k - 1, 0)),
                        ["KURANG.min_kurang"],
                        "n={n} k under"
                    );
                }
                if rest > head_count(10, n) {
                    let sb = head_count(10, n) + 1;
                    assert_eq!(
                        breached(OrgRating::Kurang, dist(sb, rest - sb, bp, k, 0)),
                        ["KURANG.max_sangat_baik"],
                        "n={n} sb over"
                    );
                }
            }

            // SANGAT_KURANG: at least 60% SANGAT_KURANG, at least 10% KURANG/BP, no SANGAT_BAIK.
            let (sk, low) = (head_count(60, n), head_count(10, n));
            let rest = n - sk - low;
            assert!(
                breached(OrgRating::SangatKurang, dist(0, rest, 0, low, sk)).is_empty(),
                "n={n} at"
            );
            if sk > 0 {
                assert_eq!(
                    breached(OrgRating::SangatKurang, dist(0, rest + 1, 0, low, sk - 1)),
                    ["SANGAT_KURANG.min_sangat_kurang"],
                    "n={n} under"
                );
            }
            if low > 0 {
                assert_eq!(
                    breached(OrgRating::SangatKurang, dist(0, rest + 1, low - 1, 0, sk)),
                    ["SANGAT_KURANG.min_kurang_or_bp"],
                    "n={n} low under"
                );
            }
            assert!(
                breached(
                    OrgRating::SangatKurang,
                    dist(1, rest.saturating_sub(1), 0, low, sk)
                )
                .contains(&"SANGAT_KURANG.no_sangat_baik".to_owned()),
                "n={n} any SB"
            );
        }
    }

    #[test]
    fn breaches_report_how_many_people() {
        let rules = RuleSet::default_2022();
        let d = dist(9, 1, 0, 0, 0);
        let b = check(rules.curve(OrgRating::Istimewa).unwrap(), &d);
        assert_eq!((b[0].actual, b[0].bound, b[0].excess), (9, 7, 2));
        assert!(!conforms(&b));
        // The advisory BAIK rule warns without blocking.
        let b = check(rules.curve(OrgRating::Baik).unwrap(), &dist(3, 7, 0, 0, 0));
        assert_eq!(b.len(), 1);
        assert!(!b[0].constraint.blocking);
        assert!(conforms(&b));
        assert_eq!(Distribution::of([SangatBaik, Baik, Baik]).total(), 3);
        assert_eq!(OrgRating::parse("ISTIMEWA"), Some(OrgRating::Istimewa));
    }
}
