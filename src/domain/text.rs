//! Validation of free-text fields shared by every service.

use crate::error::Violations;

/// Checks that a required text is present and at most `max` characters long (after trimming).
pub fn required(v: &mut Violations, field: &str, value: &str, max: usize) {
    let t = value.trim();
    if t.is_empty() {
        v.add(field, "is required");
    } else if t.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    }
}

/// Checks that an optional text is at most `max` characters long.
pub fn optional(v: &mut Violations, field: &str, value: &str, max: usize) {
    if value.trim().chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    }
}

/// Checks that a short code holds only letters, digits, `-`, `_` and `.`.
pub fn code(v: &mut Violations, field: &str, value: &str) {
    required(v, field, value, 64);
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        v.add(field, "may hold only letters, digits, '-', '_' and '.'");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        let mut v = Violations::new();
        required(&mut v, "a", "  ", 10);
        required(&mut v, "b", "x".repeat(11).as_str(), 10);
        required(&mut v, "c", "ok", 10);
        optional(&mut v, "d", "", 10);
        code(&mut v, "e", "A B");
        let err = v.finish().unwrap_err().to_string();
        assert!(err.contains("a: is required"));
        assert!(err.contains("b: must be at most 10"));
        assert!(!err.contains("c:"));
        assert!(!err.contains("d:"));
        assert!(err.contains("e: may hold only"));
    }
}
