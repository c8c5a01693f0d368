//! Ratings and what follows from them: the predikat matrix, capaian (achievement) of an
//! indicator, angka kredit for functional positions, and the objection window.

use chrono::{DateTime, Days, NaiveTime, TimeZone as _, Utc};

use super::org::TimeZone;

/// One of the assessor's two ratings (results, behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rating {
    /// Di atas ekspektasi (above expectations).
    DiAtas,
    /// Sesuai ekspektasi (meets expectations).
    Sesuai,
    /// Di bawah ekspektasi (below expectations).
    DiBawah,
}

impl Rating {
    /// Every rating, best first.
    pub const ALL: [Rating; 3] = [Rating::DiAtas, Rating::Sesuai, Rating::DiBawah];

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::DiAtas => "DI_ATAS_EKSPEKTASI",
            Rating::Sesuai => "SESUAI_EKSPEKTASI",
            Rating::DiBawah => "DI_BAWAH_EKSPEKTASI",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Predikat kinerja pegawai: the employee's performance rating.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Predikat {
    /// Sangat baik (excellent).
    SangatBaik,
    /// Baik (good).
    Baik,
    /// Butuh perbaikan (needs improvement).
    ButuhPerbaikan,
    /// Kurang (poor; misconduct in behaviour).
    Kurang,
    /// Sangat kurang (very poor).
    SangatKurang,
}

impl Predikat {
    /// Every predikat, best first.
    pub const ALL: [Predikat; 5] = [
        Predikat::SangatBaik,
        Predikat::Baik,
        Predikat::ButuhPerbaikan,
        Predikat::Kurang,
        Predikat::SangatKurang,
    ];

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Predikat::SangatBaik => "SANGAT_BAIK",
            Predikat::Baik => "BAIK",
            Predikat::ButuhPerbaikan => "BUTUH_PERBAIKAN",
            Predikat::Kurang => "KURANG",
            Predikat::SangatKurang => "SANGAT_KURANG",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Percentage of the credit-point coefficient earned with this predikat (angka kredit).
    pub fn credit_percent(self) -> u32 {
        match self {
            Predikat::SangatBaik => 150,
            Predikat::Baik => 100,
            Predikat::ButuhPerbaikan => 75,
            Predikat::Kurang => 50,
            Predikat::SangatKurang => 25,
        }
    }
}

/// The matrix cell that produced a predikat, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixCell {
    /// Row: the results rating.
    pub hasil_kerja: Rating,
    /// Column: the behaviour rating.
    pub perilaku: Rating,
    /// The predikat in that cell.
    pub predikat: Predikat,
}

/// The predikat from the results rating (rows) and the behaviour rating (columns), per
/// PermenPANRB 6/2022:
///
/// | hasil \ perilaku | di atas | sesuai | di bawah |
/// |---|---|---|---|
/// | di atas | SANGAT_BAIK | BAIK | KURANG |
/// | sesuai | BAIK | BAIK | KURANG |
/// | di bawah | BUTUH_PERBAIKAN | BUTUH_PERBAIKAN | SANGAT_KURANG |
pub fn predikat(hasil_kerja: Rating, perilaku: Rating) -> MatrixCell {
    use Rating::*;
    let predikat = match (hasil_kerja, perilaku) {
        (DiAtas, DiAtas) => Predikat::SangatBaik,
        (DiAtas, Sesuai) | (Sesuai, DiAtas) | (Sesuai, Sesuai) => Predikat::Baik,
        (DiAtas, DiBawah) | (Sesuai, DiBawah) => Predikat::Kurang,
        (DiBawah, DiAtas) | (DiBawah, Sesuai) => Predikat::ButuhPerbaikan,
        (DiBawah, DiBawah) => Predikat::SangatKurang,
    };
    MatrixCell {
        hasil_kerja,
        perilaku,
        predikat,
    }
}

/// Aspect of an indicator, which decides how capaian is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aspect {
    /// Quantity: more is better.
    Kuantitas,
    /// Quality: more is better.
    Kualitas,
    /// Time: less is better.
    Waktu,
    /// Cost: less is better.
    Biaya,
}

/// Capaian (achievement) of an indicator in percent: realisasi / target × 100, or for aspects
/// where less is better (WAKTU, BIAYA) target / realisasi × 100. `None` when it is undefined
/// (a non-positive target, or zero realisasi of a less-is-better aspect).
pub fn capaian(aspect: Aspect, target: f64, realisasi: f64) -> Option<f64> {
    if !(target.is_finite() && realisasi.is_finite()) || target <= 0.0 || realisasi < 0.0 {
        return None;
    }
    let ratio = match aspect {
        Aspect::Kuantitas | Aspect::Kualitas => realisasi / target,
        Aspect::Waktu | Aspect::Biaya => {
            if realisasi == 0.0 {
                return None;
            }
            target / realisasi
        }
    };
    Some(ratio * 100.0)
}

/// Annual angka kredit of a functional position: coefficient × the predikat's percentage,
/// pro-rated by the months assessed (12 for a full year).
pub fn angka_kredit(coefficient: f64, predikat: Predikat, months: u32) -> f64 {
    let months = months.min(12) as f64;
    coefficient * predikat.credit_percent() as f64 / 100.0 * months / 12.0
}

/// The last instant of the objection window: the end of the day `days` calendar days after the
/// day (in the agency's time zone) the result was set. A result set on 1 March (WITA) with a
/// 14-day window may be objected to until 15 March 23:59:59.999 WITA.
pub fn objection_deadline(set_at: DateTime<Utc>, tz: TimeZone, days: u32) -> DateTime<Utc> {
    let offset = tz.offset();
    let set_day = set_at.with_timezone(&offset).date_naive();
    let last_day = set_day
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(set_day);
    let end = last_day.and_time(NaiveTime::MIN) + chrono::Duration::days(1);
    offset
        .from_local_datetime(&end)
        .single()
        .map(|t| t.with_timezone(&Utc) - chrono::Duration::milliseconds(1))
        .unwrap_or(set_at)
}

/// True while an objection may still be filed at `now`.
pub fn objection_open(now: DateTime<Utc>, set_at: DateTime<Utc>, tz: TimeZone, days: u32) -> bool {
    now >= set_at && now <= objection_deadline(set_at, tz, days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Predikat::*;
    use Rating::*;

    #[test]
    fn the_matrix_has_nine_cells() {
        let expected = [
            (DiAtas, DiAtas, SangatBaik),
            (DiAtas, Sesuai, Baik),
            (DiAtas, DiBawah, Kurang),
            (Sesuai, DiAtas, Baik),
            (Sesuai, Sesuai, Baik),
            (Sesuai, DiBawah, Kurang),
            (DiBawah, DiAtas, ButuhPerbaikan),
            (DiBawah, Sesuai, ButuhPerbaikan),
            (DiBawah, DiBawah, SangatKurang),
        ];
        for (h, p, want) in expected {
            let cell = predikat(h, p);
            assert_eq!(cell.predikat, want, "{h:?} x {p:?}");
            assert_eq!((cell.hasil_kerja, cell.perilaku), (h, p));
        }
    }

    #[test]
    fn capaian_by_aspect() {
        assert_eq!(capaian(Aspect::Kuantitas, 12.0, 9.0), Some(75.0));
        assert_eq!(capaian(Aspect::Kualitas, 95.0, 95.0), Some(100.0));
        assert_eq!(capaian(Aspect::Waktu, 30.0, 20.0), Some(150.0));
        assert_eq!(capaian(Aspect::Biaya, 100.0, 125.0), Some(80.0));
        assert_eq!(capaian(Aspect::Waktu, 30.0, 0.0), None);
        assert_eq!(capaian(Aspect::Kuantitas, 0.0, 5.0), None);
        assert_eq!(capaian(Aspect::Kuantitas, 10.0, f64::NAN), None);
        assert_eq!(capaian(Aspect::Kuantitas, 10.0, 0.0), Some(0.0));
    }

    #[test]
    fn credit_points_are_pro_rated() {
        assert_eq!(angka_kredit(12.5, SangatBaik, 12), 18.75);
        assert_eq!(angka_kredit(12.5, Baik, 6), 6.25);
        assert_eq!(angka_kredit(12.5, SangatKurang, 12), 3.125);
        assert_eq!(
            angka_kredit(10.0, ButuhPerbaikan, 24),
            7.5,
            "capped at a year"
        );
        assert_eq!(Predikat::parse("KURANG"), Some(Kurang));
        assert_eq!(Predikat::parse("x"), None);
    }

    #[test]
    fn objection_window_counts_days_in_the_agency_zone() {
        // Set at 2026-03-01 17:30 UTC = 2026-03-02 01:30 WITA: day 0 is 2 March in WITA.
        let set = DateTime::parse_from_rfc3339("2026-03-01T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let deadline = objection_deadline(set, TimeZone::Wita, 14);
        assert_eq!(deadline.to_rfc3339(), "2026-03-16T15:59:59.999+00:00");
        assert!(objection_open(deadline, set, TimeZone::Wita, 14));
        assert!(!objection_open(
            deadline + chrono::Duration::milliseconds(1),
            set,
            TimeZone::Wita,
            14
        ));
        // In WIB the same instant is still 2 March 00:30, so the same deadline day.
        assert_eq!(
            objection_deadline(set, TimeZone::Wib, 14).to_rfc3339(),
            "2026-03-16T16:59:59.999+00:00"
        );
        assert!(!objection_open(
            set - chrono::Duration::seconds(1),
            set,
            TimeZone::Wib,
            14
        ));
    }
}
