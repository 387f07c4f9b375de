//! Dispute references people can read out on the phone: `NSAB-2026-0007`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A dispute's reference: board prefix, year raised, and a number unique within both.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reference {
    prefix: String,
    year: i32,
    number: u32,
}

/// Why text is not a dispute reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a dispute reference: write it like NSAB-2026-0007")]
pub struct ReferenceError(pub String);

impl Reference {
    /// A reference from its parts; numbers below 10,000 are padded to four digits.
    pub fn new(prefix: &str, year: i32, number: u32) -> Reference {
        Reference {
            prefix: prefix.to_ascii_uppercase(),
            year,
            number,
        }
    }

    /// Parses `PREFIX-YYYY-NNNN` (case-insensitive, surrounding spaces ignored).
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let t = text.trim();
        let err = || ReferenceError(t.to_string());
        let mut parts = t.split('-');
        let (Some(prefix), Some(year), Some(number), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        if !(2..=8).contains(&prefix.len()) || !prefix.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(err());
        }
        if year.len() != 4 || number.len() < 4 || !number.chars().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        let number: u32 = number.parse().map_err(|_| err())?;
        if number == 0 {
            return Err(err());
        }
        Ok(Reference::new(prefix, year, number))
    }

    /// The board prefix, e.g. `NSAB`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The year the dispute was raised.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The number within board and year.
    pub fn number(&self) -> u32 {
        self.number
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:04}", self.prefix, self.year, self.number)
    }
}

impl TryFrom<String> for Reference {
    type Error = ReferenceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Reference::parse(&value)
    }
}

impl From<Reference> for String {
    fn from(r: Reference) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_print_with_four_digit_numbers_and_parse_back() {
        let r = Reference::new("nsab", 2026, 7);
        assert_eq!(r.to_string(), "NSAB-2026-0007");
        assert_eq!(Reference::parse(" nsab-2026-0007 "), Ok(r));
        assert_eq!(
            Reference::parse("NSAB-2026-12345").map(|r| r.number()),
            Ok(12345)
        );
    }

    #[test]
    fn things_that_are_not_references_are_refused() {
        for bad in [
            "",
            "NSAB",
            "NSAB-26-0007",
            "NSAB-2026-7",
            "ASC-4471",
            "NSAB-2026-0000",
            "N5AB-2026-0001",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
