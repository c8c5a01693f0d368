//! Organisation rules: agency time zones, enumerations stored as text, assignment spans.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Time zone of an agency. Indonesia has no daylight saving time, so fixed offsets are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZone {
    /// Waktu Indonesia Barat, UTC+7.
    Wib,
    /// Waktu Indonesia Tengah, UTC+8.
    Wita,
    /// Waktu Indonesia Timur, UTC+9.
    Wit,
}

impl TimeZone {
    /// Offset from UTC.
    pub fn offset(self) -> FixedOffset {
        let hours = match self {
            TimeZone::Wib => 7,
            TimeZone::Wita => 8,
            TimeZone::Wit => 9,
        };
        FixedOffset::east_opt(hours * 3600).expect("a whole-hour offset below 24h is valid")
    }
    /// The calendar date at instant `now` in this zone.
    pub fn today(self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.offset()).date_naive()
    }
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeZone::Wib => "WIB",
            TimeZone::Wita => "WITA",
            TimeZone::Wit => "WIT",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "WIB" => Some(TimeZone::Wib),
            "WITA" => Some(TimeZone::Wita),
            "WIT" => Some(TimeZone::Wit),
            _ => None,
        }
    }
}

/// A span of dates, both ends inclusive; `end == None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First day.
    pub start: NaiveDate,
    /// Last day, if any.
    pub end: Option<NaiveDate>,
}

impl Span {
    /// True when the two spans share at least one day.
    pub fn overlaps(&self, other: &Span) -> bool {
        let a_before_b = self.end.is_some_and(|e| e < other.start);
        let b_before_a = other.end.is_some_and(|e| e < self.start);
        !a_before_b && !b_before_a
    }
    /// True when `d` lies inside the span.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.start <= d && self.end.is_none_or(|e| d <= e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn spans_overlap_inclusively() {
        let a = Span {
            start: d(2025, 1, 1),
            end: Some(d(2025, 6, 30)),
        };
        let b = Span {
            start: d(2025, 6, 30),
            end: None,
        };
        let c = Span {
            start: d(2025, 7, 1),
            end: None,
        };
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
        assert!(b.overlaps(&c));
        assert!(a.contains(d(2025, 6, 30)));
        assert!(!a.contains(d(2025, 7, 1)));
        assert!(c.contains(d(2030, 1, 1)));
    }

    #[test]
    fn today_uses_agency_zone() {
        // 2025-12-31 17:30 UTC is already 2026-01-01 in WIB (UTC+7).
        let now = DateTime::parse_from_rfc3339("2025-12-31T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(TimeZone::Wib.today(now), d(2026, 1, 1));
        assert_eq!(TimeZone::parse("WITA").map(|z| z.as_str()), Some("WITA"));
    }
}
