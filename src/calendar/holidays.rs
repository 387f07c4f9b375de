//! Bank holidays read from GOV.UK's own `bank-holidays.json` shape, so a newer copy can be dropped in.

use super::{Calendar, WorkingHours};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

const EMBEDDED: &str = include_str!("bank-holidays.json");

/// Why a bank-holiday file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HolidayDataError {
    #[error("the bank-holiday data is not in GOV.UK's bank-holidays.json shape: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("the bank-holiday data has no events for the division {0:?}")]
    EmptyDivision(String),
    #[error(
        "no bank-holiday division {name:?}; the data has {known}. Use one of those in the policy's `calendar`"
    )]
    UnknownDivision { name: String, known: String },
}

#[derive(Deserialize)]
struct DivisionFile {
    events: Vec<EventFile>,
}

#[derive(Deserialize)]
struct EventFile {
    date: NaiveDate,
}

#[derive(Debug, Clone)]
struct Division {
    dates: Arc<BTreeSet<NaiveDate>>,
    first_year: i32,
    last_year: i32,
}

/// Every division's bank holidays, as published by GOV.UK.
#[derive(Debug, Clone)]
pub struct BankHolidays {
    divisions: BTreeMap<String, Division>,
}

static EMBEDDED_DATA: LazyLock<BankHolidays> = LazyLock::new(|| {
    // The embedded file is checked by the test suite; a broken build-time copy must not pass silently.
    BankHolidays::from_json(EMBEDDED).unwrap_or_else(|e| panic!("embedded bank-holidays.json: {e}"))
});

impl BankHolidays {
    /// The copy shipped in the binary (England & Wales, Scotland, Northern Ireland, 2018–2030).
    pub fn embedded() -> &'static BankHolidays {
        &EMBEDDED_DATA
    }

    /// Reads a GOV.UK `bank-holidays.json` document.
    pub fn from_json(text: &str) -> Result<BankHolidays, HolidayDataError> {
        let raw: BTreeMap<String, DivisionFile> = serde_json::from_str(text)?;
        let mut divisions = BTreeMap::new();
        for (name, file) in raw {
            let dates: BTreeSet<NaiveDate> = file.events.iter().map(|e| e.date).collect();
            let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
                return Err(HolidayDataError::EmptyDivision(name));
            };
            let division = Division {
                first_year: first.year(),
                last_year: last.year(),
                dates: Arc::new(dates),
            };
            divisions.insert(name, division);
        }
        Ok(BankHolidays { divisions })
    }

    /// The division names the data holds, e.g. `england-and-wales`.
    pub fn divisions(&self) -> impl Iterator<Item = &str> {
        self.divisions.keys().map(String::as_str)
    }

    /// A working-day calendar for one division.
    pub fn calendar(
        &self,
        division: &str,
        hours: WorkingHours,
    ) -> Result<Calendar, HolidayDataError> {
        let d = self
            .divisions
            .get(division)
            .ok_or_else(|| HolidayDataError::UnknownDivision {
                name: division.to_string(),
                known: self
                    .divisions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(Calendar::new(
            division.to_string(),
            d.dates.clone(),
            d.first_year,
            d.last_year,
            hours,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_data_covers_2018_to_2030_for_all_three_divisions() {
        let data = BankHolidays::embedded();
        for name in ["england-and-wales", "scotland", "northern-ireland"] {
            let d = &data.divisions[name];
            assert!(d.first_year <= 2018 && d.last_year >= 2030, "{name}");
        }
    }

    #[test]
    fn a_newer_copy_in_the_same_shape_is_accepted() {
        let json = r#"{"england-and-wales":{"division":"england-and-wales","events":[
            {"title":"New Year’s Day","date":"2031-01-01","notes":"","bunting":true}]}}"#;
        let data = BankHolidays::from_json(json).expect("valid");
        let cal = data
            .calendar("england-and-wales", WorkingHours::default())
            .expect("division");
        assert!(cal.is_bank_holiday("2031-01-01".parse().expect("date")));
    }

    #[test]
    fn an_unknown_division_names_the_known_ones() {
        let err = BankHolidays::embedded()
            .calendar("wales", WorkingHours::default())
            .expect_err("unknown");
        assert!(err.to_string().contains("england-and-wales"));
    }
}
