//! Performance periods: the calendar year of an agency and the evaluation periods its schedule
//! makes (quarterly by default; monthly or per semester by setting), each with its deadline.

use chrono::{Datelike, Duration, NaiveDate};

/// Default days after the end of an evaluation period within which it must be assessed.
pub const DEFAULT_EVALUATION_DEADLINE_DAYS: i32 = 15;
/// Largest accepted evaluation deadline offset.
pub const MAX_EVALUATION_DEADLINE_DAYS: i32 = 90;
/// Years a period may be created for.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// How often employees are evaluated within the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every month (12 periods).
    Monthly,
    /// Every quarter (4 periods); the regulation's default.
    Quarterly,
    /// Every semester (2 periods).
    Semester,
}

impl Schedule {
    /// Months per evaluation period.
    pub fn months(self) -> u32 {
        match self {
            Schedule::Monthly => 1,
            Schedule::Quarterly => 3,
            Schedule::Semester => 6,
        }
    }
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Monthly => "MONTHLY",
            Schedule::Quarterly => "QUARTERLY",
            Schedule::Semester => "SEMESTER",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "MONTHLY" => Some(Schedule::Monthly),
            "QUARTERLY" => Some(Schedule::Quarterly),
            "SEMESTER" => Some(Schedule::Semester),
            _ => None,
        }
    }
}

/// One evaluation period of a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvaluationWindow {
    /// Position in the year, from 1.
    pub sequence: i32,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// Last day on which the assessment is due.
    pub deadline: NaiveDate,
    /// The last period of the year (annual evaluation).
    pub annual: bool,
}

/// First and last day of `year`, or `None` outside [`YEARS`].
pub fn year_span(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    if !YEARS.contains(&year) {
        return None;
    }
    Some((
        NaiveDate::from_ymd_opt(year, 1, 1)?,
        NaiveDate::from_ymd_opt(year, 12, 31)?,
    ))
}

/// The default planning deadline of `year`: 31 January.
pub fn default_planning_deadline(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, 1, 31)
}

/// The evaluation periods of `year` under `schedule`; each is due `deadline_days` after its end.
/// Empty when the year is outside [`YEARS`].
pub fn evaluation_windows(
    year: i32,
    schedule: Schedule,
    deadline_days: i32,
) -> Vec<EvaluationWindow> {
    let Some(_) = year_span(year) else {
        return Vec::new();
    };
    let step = schedule.months();
    let count = 12 / step;
    (0..count)
        .filter_map(|i| {
            let first_month = i * step + 1;
            let start = NaiveDate::from_ymd_opt(year, first_month, 1)?;
            let next = if first_month + step > 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(year, first_month + step, 1)?
            };
            let end = next.pred_opt()?;
            Some(EvaluationWindow {
                sequence: i as i32 + 1,
                start,
                end,
                deadline: end + Duration::days(i64::from(deadline_days.max(0))),
                annual: i + 1 == count,
            })
        })
        .collect()
}

/// Checks an evaluation deadline offset.
pub fn check_deadline_days(days: i32) -> Result<(), String> {
    if (0..=MAX_EVALUATION_DEADLINE_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(format!(
            "must be between 0 and {MAX_EVALUATION_DEADLINE_DAYS} days"
        ))
    }
}

/// Checks a planning deadline: inside the year.
pub fn check_planning_deadline(year: i32, d: NaiveDate) -> Result<(), String> {
    if d.year() == year {
        Ok(())
    } else {
        Err(format!("must be a day of {year}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn quarterly_is_four_quarters_and_the_last_is_annual() {
        let w = evaluation_windows(2026, Schedule::Quarterly, 15);
        assert_eq!(w.len(), 4);
        assert_eq!((w[0].start, w[0].end), (d(2026, 1, 1), d(2026, 3, 31)));
        assert_eq!(w[0].deadline, d(2026, 4, 15));
        assert_eq!((w[3].start, w[3].end), (d(2026, 10, 1), d(2026, 12, 31)));
        assert_eq!(w[3].deadline, d(2027, 1, 15));
        assert_eq!(
            w.iter().map(|x| x.annual).collect::<Vec<_>>(),
            vec![false, false, false, true]
        );
        assert_eq!(
            w.iter().map(|x| x.sequence).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
    }

    #[test]
    fn monthly_and_semester_cover_the_year_without_gaps() {
        for (s, n) in [
            (Schedule::Monthly, 12),
            (Schedule::Semester, 2),
            (Schedule::Quarterly, 4),
        ] {
            // 2024 is a leap year: February ends on the 29th.
            let w = evaluation_windows(2024, s, 0);
            assert_eq!(w.len(), n);
            assert_eq!(w[0].start, d(2024, 1, 1));
            assert_eq!(w[n - 1].end, d(2024, 12, 31));
            for pair in w.windows(2) {
                assert_eq!(pair[0].end.succ_opt().unwrap(), pair[1].start);
            }
            assert!(w.iter().all(|x| x.deadline == x.end));
        }
        let m = evaluation_windows(2024, Schedule::Monthly, 0);
        assert_eq!(m[1].end, d(2024, 2, 29));
        let s = evaluation_windows(2025, Schedule::Semester, 10);
        assert_eq!((s[0].end, s[0].deadline), (d(2025, 6, 30), d(2025, 7, 10)));
    }

    #[test]
    fn bounds() {
        assert!(evaluation_windows(1999, Schedule::Quarterly, 15).is_empty());
        assert!(year_span(2101).is_none());
        assert!(check_deadline_days(-1).is_err());
        assert!(check_deadline_days(91).is_err());
        assert!(check_deadline_days(0).is_ok());
        assert!(check_planning_deadline(2026, d(2027, 1, 1)).is_err());
        assert!(check_planning_deadline(2026, d(2026, 2, 28)).is_ok());
        assert_eq!(default_planning_deadline(2026), Some(d(2026, 1, 31)));
        for s in [Schedule::Monthly, Schedule::Quarterly, Schedule::Semester] {
            assert_eq!(Schedule::parse(s.as_str()), Some(s));
        }
    }
}
