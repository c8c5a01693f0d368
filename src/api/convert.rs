//! Conversions between proto values and the values the domain and store use.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::proto::v1 as pb;

/// A `google.protobuf.Timestamp` for an instant.
pub fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}

/// The proto form of a date.
pub fn date(d: NaiveDate) -> pb::Date {
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// A date sent by a caller; `None` when the field is absent.
pub fn parse_date(field: &str, d: Option<&pb::Date>) -> Result<Option<NaiveDate>> {
    match d {
        None => Ok(None),
        Some(d) if d.year == 0 && d.month == 0 && d.day == 0 => Ok(None),
        Some(d) => u32::try_from(d.month)
            .ok()
            .zip(u32::try_from(d.day).ok())
            .and_then(|(m, day)| NaiveDate::from_ymd_opt(d.year, m, day))
            .filter(|_| (1900..=9999).contains(&d.year))
            .map(Some)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("{}-{:02}-{:02} is not a real date", d.year, d.month, d.day),
                )
            }),
    }
}

/// Maps an enum number to its stored text, refusing unknown and unspecified values.
macro_rules! enum_text {
    ($fn_to:ident, $fn_from:ident, $ty:ty, { $($variant:ident => $text:literal),+ $(,)? }) => {
        /// Stored text of an enum number sent by a caller.
        pub fn $fn_to(field: &str, v: i32) -> Result<&'static str> {
            match <$ty>::try_from(v) {
                $(Ok(<$ty>::$variant) => Ok($text),)+
                _ => Err(Error::invalid(field, format!("{v} is not a valid value"))),
            }
        }
        /// Enum number of a stored text.
        pub fn $fn_from(s: &str) -> i32 {
            match s {
                $($text => <$ty>::$variant as i32,)+
                _ => 0,
            }
        }
    };
}

enum_text!(status_text, status_enum, pb::EmploymentStatus, {
    Pns => "PNS",
    Pppk => "PPPK",
});

enum_text!(position_text, position_enum, pb::PositionType, {
    Jpt => "JPT",
    Administrator => "ADMINISTRATOR",
    Pengawas => "PENGAWAS",
    Pelaksana => "PELAKSANA",
    Jf => "JF",
});

enum_text!(time_zone_text_strict, time_zone_enum, pb::AgencyTimeZone, {
    Wib => "WIB",
    Wita => "WITA",
    Wit => "WIT",
});

enum_text!(kind_text_strict, kind_enum, pb::AssignmentKind, {
    Definitif => "DEFINITIF",
    Plt => "PLT",
});

enum_text!(schedule_text_strict, schedule_enum, pb::EvaluationSchedule, {
    Quarterly => "QUARTERLY",
    Monthly => "MONTHLY",
    Semester => "SEMESTER",
});

enum_text!(approach_text, approach_enum, pb::SkpApproach, {
    Kuantitatif => "KUANTITATIF",
    Kualitatif => "KUALITATIF",
});

enum_text!(skp_state_text, skp_state_enum, pb::SkpState, {
    Draft => "DRAFT",
    Diajukan => "DIAJUKAN",
    Disetujui => "DISETUJUI",
    Dikembalikan => "DIKEMBALIKAN",
    Ditutup => "DITUTUP",
});

enum_text!(rhk_kind_text, rhk_kind_enum, pb::RhkKind, {
    Utama => "UTAMA",
    Tambahan => "TAMBAHAN",
});

enum_text!(perspective_text_strict, perspective_enum, pb::RhkPerspective, {
    PenerimaLayanan => "PENERIMA_LAYANAN",
    ProsesBisnis => "PROSES_BISNIS",
    PenguatanInternal => "PENGUATAN_INTERNAL",
    Anggaran => "ANGGARAN",
});

enum_text!(aspect_text, aspect_enum, pb::IndicatorAspect, {
    Kuantitas => "KUANTITAS",
    Kualitas => "KUALITAS",
    Waktu => "WAKTU",
    Biaya => "BIAYA",
});

enum_text!(berakhlak_text, berakhlak_enum, pb::BerakhlakValue, {
    BerorientasiPelayanan => "BERORIENTASI_PELAYANAN",
    Akuntabel => "AKUNTABEL",
    Kompeten => "KOMPETEN",
    Harmonis => "HARMONIS",
    Loyal => "LOYAL",
    Adaptif => "ADAPTIF",
    Kolaboratif => "KOLABORATIF",
});

enum_text!(rating_text, rating_enum, pb::Rating, {
    DiAtasEkspektasi => "DI_ATAS_EKSPEKTASI",
    SesuaiEkspektasi => "SESUAI_EKSPEKTASI",
    DiBawahEkspektasi => "DI_BAWAH_EKSPEKTASI",
});

enum_text!(predikat_text, predikat_enum, pb::Predikat, {
    SangatBaik => "SANGAT_BAIK",
    Baik => "BAIK",
    ButuhPerbaikan => "BUTUH_PERBAIKAN",
    Kurang => "KURANG",
    SangatKurang => "SANGAT_KURANG",
});

enum_text!(evaluation_state_text, evaluation_state_enum, pb::EvaluationState, {
    Terbuka => "TERBUKA",
    Dinilai => "DINILAI",
    Ditetapkan => "DITETAPKAN",
    Final => "FINAL",
});

enum_text!(org_predikat_text, org_predikat_enum, pb::OrganizationPredikat, {
    Istimewa => "ISTIMEWA",
    Baik => "BAIK",
    ButuhPerbaikan => "BUTUH_PERBAIKAN",
    Kurang => "KURANG",
    SangatKurang => "SANGAT_KURANG",
});

enum_text!(objection_state_text, objection_state_enum, pb::ObjectionState, {
    Diajukan => "DIAJUKAN",
    Diputus => "DIPUTUS",
});

enum_text!(objection_decision_text, objection_decision_enum, pb::ObjectionDecision, {
    Uphold => "UPHOLD",
    Change => "CHANGE",
});

enum_text!(final_reason_text, final_reason_enum, pb::FinalReason, {
    WindowPassed => "WINDOW_PASSED",
    ObjectionDecided => "OBJECTION_DECIDED",
});

enum_text!(setting_source_text, setting_source_enum, pb::SettingSource, {
    Default => "DEFAULT",
    Global => "GLOBAL",
    Agency => "AGENCY",
});

/// A rating sent by a caller, as the domain value.
pub fn rating_of(field: &str, v: i32) -> Result<crate::domain::rating::Rating> {
    let t = rating_text(field, v)?;
    crate::domain::rating::Rating::parse(t)
        .ok_or_else(|| Error::invalid(field, format!("{v} is not a valid value")))
}

/// An optional rating sent by a caller: unspecified means none.
pub fn opt_rating_text(field: &str, v: i32) -> Result<Option<&'static str>> {
    if v == 0 {
        Ok(None)
    } else {
        rating_text(field, v).map(Some)
    }
}

/// The proto number of an optional stored text (unknown or absent: 0).
pub fn opt_enum(s: Option<&str>, f: fn(&str) -> i32) -> i32 {
    s.map_or(0, f)
}

/// Stored evaluation schedule; unspecified means QUARTERLY (the regulation's default).
pub fn schedule_text(field: &str, v: i32) -> Result<&'static str> {
    if v == 0 {
        Ok("QUARTERLY")
    } else {
        schedule_text_strict(field, v)
    }
}

/// Stored perspective; unspecified means none.
pub fn perspective_text(field: &str, v: i32) -> Result<Option<&'static str>> {
    if v == 0 {
        Ok(None)
    } else {
        perspective_text_strict(field, v).map(Some)
    }
}

/// Stored time zone; unspecified means WIB.
pub fn time_zone_text(field: &str, v: i32) -> Result<&'static str> {
    if v == 0 {
        Ok("WIB")
    } else {
        time_zone_text_strict(field, v)
    }
}

/// Stored assignment kind; unspecified means DEFINITIF.
pub fn kind_text(field: &str, v: i32) -> Result<&'static str> {
    if v == 0 {
        Ok("DEFINITIF")
    } else {
        kind_text_strict(field, v)
    }
}

/// An optional id field: empty means absent.
pub fn opt_id(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        assert_eq!(status_text("s", 1).unwrap(), "PNS");
        assert!(status_text("s", 0).is_err());
        assert!(status_text("s", 99).is_err());
        assert_eq!(position_enum("JF"), pb::PositionType::Jf as i32);
        assert_eq!(time_zone_text("tz", 0).unwrap(), "WIB");
        assert_eq!(kind_text("k", 2).unwrap(), "PLT");
        assert_eq!(schedule_text("s", 0).unwrap(), "QUARTERLY");
        assert_eq!(schedule_text("s", 2).unwrap(), "MONTHLY");
        assert!(approach_text("a", 0).is_err());
        assert!(rhk_kind_text("k", 7).is_err());
        assert_eq!(perspective_text("p", 0).unwrap(), None);
        assert!(perspective_text("p", 9).is_err());
        assert_eq!(aspect_enum("BIAYA"), pb::IndicatorAspect::Biaya as i32);
        // Every BerAKHLAK value of the domain has its enum number and back.
        for v in crate::domain::skp::BERAKHLAK {
            let n = berakhlak_enum(v);
            assert_ne!(n, 0, "{v}");
            assert_eq!(berakhlak_text("v", n).unwrap(), v);
        }
        for r in crate::domain::rating::Rating::ALL {
            assert_eq!(rating_of("r", rating_enum(r.as_str())).unwrap(), r);
        }
        for p in crate::domain::rating::Predikat::ALL {
            assert_ne!(predikat_enum(p.as_str()), 0, "{p:?}");
        }
        for st in crate::domain::assessment::State::ALL {
            assert_ne!(evaluation_state_enum(st.as_str()), 0, "{st:?}");
        }
        assert_eq!(opt_rating_text("r", 0).unwrap(), None);
        assert!(rating_of("r", 0).is_err());
        for st in crate::domain::skp::State::ALL {
            assert_eq!(
                skp_state_text("s", skp_state_enum(st.as_str())).unwrap(),
                st.as_str()
            );
        }
    }

    #[test]
    fn dates() {
        let d = pb::Date {
            year: 2025,
            month: 2,
            day: 29,
        };
        assert!(parse_date("d", Some(&d)).is_err());
        let d = pb::Date {
            year: 2024,
            month: 2,
            day: 29,
        };
        assert_eq!(parse_date("d", Some(&d)).unwrap().map(date), Some(d));
        assert_eq!(parse_date("d", None).unwrap(), None);
    }
}
