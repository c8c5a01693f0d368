//! NIP (Nomor Induk Pegawai) validation: 18 digits = birth date `YYYYMMDD`, appointment month
//! `YYYYMM`, sex digit `1`/`2`, and a 3-digit sequence.

use chrono::NaiveDate;

/// A NIP that passed validation, with the facts it encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nip {
    /// The 18 digits.
    pub digits: String,
    /// Birth date encoded in the first 8 digits.
    pub birth_date: NaiveDate,
    /// Appointment year and month (digits 9-14).
    pub appointment: (i32, u32),
    /// Sex digit: 1 male, 2 female.
    pub sex: u8,
}

/// Parses and validates a NIP, returning a reason a caller can act on when it is invalid.
pub fn parse(raw: &str) -> Result<Nip, String> {
    let (birth_date, appointment, sex) = facts(raw)?;
    Ok(Nip {
        digits: raw.to_owned(),
        birth_date,
        appointment,
        sex,
    })
}

/// Validates a NIP like [`parse`] without keeping a copy of it (the bulk import's check).
pub fn check(raw: &str) -> Result<(), String> {
    facts(raw).map(|_| ())
}

/// Birth date, appointment year and month, and sex digit of a valid NIP.
fn facts(raw: &str) -> Result<(NaiveDate, (i32, u32), u8), String> {
    if raw.len() != 18 {
        return Err(format!(
            "must be exactly 18 digits, got {} characters",
            raw.chars().count()
        ));
    }
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must contain digits only".to_owned());
    }
    let num = |r: std::ops::Range<usize>| raw[r].parse::<u32>().unwrap_or(0);
    let (by, bm, bd) = (num(0..4) as i32, num(4..6), num(6..8));
    let birth_date = NaiveDate::from_ymd_opt(by, bm, bd)
        .filter(|_| (1900..=2100).contains(&by))
        .ok_or_else(|| format!("birth date {} is not a real date", &raw[0..8]))?;
    let (ay, am) = (num(8..12) as i32, num(12..14));
    if !(1900..=2100).contains(&ay) || !(1..=12).contains(&am) {
        return Err(format!(
            "appointment month {} is not a real month",
            &raw[8..14]
        ));
    }
    if NaiveDate::from_ymd_opt(ay, am, 1).is_some_and(|a| a <= birth_date) {
        return Err("appointment month is before the birth date".to_owned());
    }
    let sex = raw.as_bytes()[14] - b'0';
    if sex != 1 && sex != 2 {
        return Err(format!("sex digit (15th) must be 1 or 2, got {sex}"));
    }
    Ok((birth_date, (ay, am), sex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_nip() {
        let n = parse("198503152010011001").expect("valid");
        assert_eq!(n.birth_date, NaiveDate::from_ymd_opt(1985, 3, 15).unwrap());
        assert_eq!(n.appointment, (2010, 1));
        assert_eq!(n.sex, 1);
        assert_eq!(check("198503152010011001"), Ok(()));
        assert!(
            parse("199002292015032002").is_err(),
            "1990 is not a leap year"
        );
        assert!(parse("199202292015032002").is_ok(), "1992 is a leap year");
    }

    #[test]
    fn rejects_invalid_nips() {
        for (nip, why) in [
            ("19850315201001100", "too short"),
            ("1985031520100110011", "too long"),
            ("19850315201001100a", "letter"),
            ("198513152010011001", "month 13"),
            ("198502302010011001", "30 February"),
            ("198503152010131001", "appointment month 13"),
            ("198503152010003001", "appointment month 0"),
            ("198503152010013001", "sex digit 3"),
            ("198503152010010001", "sex digit 0"),
            ("198503151980011001", "appointed before birth"),
            ("", "empty"),
        ] {
            assert!(parse(nip).is_err(), "{nip} ({why}) must be invalid");
            assert_eq!(check(nip), parse(nip).map(|_| ()), "{nip}: check agrees");
        }
    }
}
