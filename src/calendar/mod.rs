//! Working days, bank holidays and working hours in UK local time: the clock every procedure runs on.
//!
//! The counting rule is the same for every policy: the UK local date on which a clock starts is
//! day 0, whatever the hour; a limit of N working days ends at the close of working hours on the
//! Nth working day after day 0; a limit of N calendar days ends at the close of working hours on
//! the date N days after day 0, whatever day of the week that is.

mod holidays;

pub use holidays::{BankHolidays, HolidayDataError};

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Europe::London;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// How a time limit counts days: the procedures say "working days" or plain "days".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayUnit {
    Working,
    Calendar,
}

impl fmt::Display for DayUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DayUnit::Working => "working",
            DayUnit::Calendar => "calendar",
        })
    }
}

/// The hours in which people are expected to work; deadlines end at `close`, posts wait for `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
}

impl Default for WorkingHours {
    fn default() -> Self {
        WorkingHours {
            open: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
            close: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

/// Why a date could not be counted: the bank-holiday data does not reach it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "the {division} bank holidays are known from {first} to {last} only, and {date} is outside that range; \
         drop a newer copy of GOV.UK's bank-holidays.json into place (see README, \"Bank holidays\")"
    )]
    OutOfRange {
        division: String,
        date: NaiveDate,
        first: i32,
        last: i32,
    },
}

/// A UK division's working-day calendar, with its working hours.
#[derive(Debug, Clone)]
pub struct Calendar {
    division: String,
    holidays: Arc<BTreeSet<NaiveDate>>,
    first_year: i32,
    last_year: i32,
    hours: WorkingHours,
}

impl Calendar {
    pub(crate) fn new(
        division: String,
        holidays: Arc<BTreeSet<NaiveDate>>,
        first_year: i32,
        last_year: i32,
        hours: WorkingHours,
    ) -> Self {
        Calendar {
            division,
            holidays,
            first_year,
            last_year,
            hours,
        }
    }

    /// The same calendar with other working hours (policies may set their own close of business).
    pub fn with_hours(mut self, hours: WorkingHours) -> Self {
        self.hours = hours;
        self
    }

    /// The GOV.UK division this calendar follows, e.g. `england-and-wales`.
    pub fn division(&self) -> &str {
        &self.division
    }

    /// The working hours deadlines end at and posts wait for.
    pub fn hours(&self) -> WorkingHours {
        self.hours
    }

    fn check_range(&self, date: NaiveDate) -> Result<(), CalendarError> {
        if date.year() < self.first_year || date.year() > self.last_year {
            return Err(CalendarError::OutOfRange {
                division: self.division.clone(),
                date,
                first: self.first_year,
                last: self.last_year,
            });
        }
        Ok(())
    }

    /// Whether people work on this date: not a weekend and not one of the division's bank holidays.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        self.check_range(date)?;
        Ok(
            !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
                && !self.holidays.contains(&date),
        )
    }

    /// Whether the date is one of the division's bank holidays.
    pub fn is_bank_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    /// The Nth working day after `day0` (day 0 itself never counts, whatever day it is).
    pub fn add_working_days(&self, day0: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut date = day0;
        let mut counted = 0;
        while counted < n {
            date = next_date(date);
            if self.is_working_day(date)? {
                counted += 1;
            }
        }
        Ok(date)
    }

    /// The UK local date of an instant: the day 0 of any clock started then.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        local_date(instant)
    }

    /// The instant working hours close on a date, in UK local time (DST-correct).
    pub fn close_of(&self, date: NaiveDate) -> DateTime<Utc> {
        london_instant(date.and_time(self.hours.close))
    }

    /// The instant working hours open on a date, in UK local time (DST-correct).
    pub fn open_of(&self, date: NaiveDate) -> DateTime<Utc> {
        london_instant(date.and_time(self.hours.open))
    }

    /// When a limit of `days` counted in `unit` from `start` runs out, by the counting rule above.
    pub fn due(
        &self,
        start: DateTime<Utc>,
        days: u32,
        unit: DayUnit,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let day0 = self.local_date(start);
        let end = match unit {
            DayUnit::Working => self.add_working_days(day0, days)?,
            DayUnit::Calendar => {
                let end = day0
                    .checked_add_days(Days::new(u64::from(days)))
                    .unwrap_or(NaiveDate::MAX);
                self.check_range(end)?;
                end
            }
        };
        Ok(self.close_of(end))
    }

    /// Whether an instant falls inside working hours on a working day.
    pub fn is_working_time(&self, instant: DateTime<Utc>) -> Result<bool, CalendarError> {
        let local = instant.with_timezone(&London);
        let time = local.time();
        Ok(self.is_working_day(local.date_naive())?
            && time >= self.hours.open
            && time < self.hours.close)
    }

    /// The earliest instant at or after `instant` that is inside working hours on a working day.
    pub fn next_working_time(
        &self,
        instant: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, CalendarError> {
        if self.is_working_time(instant)? {
            return Ok(instant);
        }
        let local = instant.with_timezone(&London);
        let mut date = local.date_naive();
        if self.is_working_day(date)? && local.time() < self.hours.open {
            return Ok(self.open_of(date));
        }
        loop {
            date = next_date(date);
            if self.is_working_day(date)? {
                return Ok(self.open_of(date));
            }
        }
    }

    /// The instant `hours` working hours after `start`, counting only time inside working hours
    /// on working days ("within 4 working hours").
    pub fn add_working_hours(
        &self,
        start: DateTime<Utc>,
        hours: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let mut at = self.next_working_time(start)?;
        let mut left = chrono::Duration::hours(i64::from(hours));
        loop {
            let close = self.close_of(self.local_date(at));
            let today = close - at;
            if left <= today {
                return Ok(at + left);
            }
            left -= today;
            at = self.next_working_time(close)?;
        }
    }

    /// The close of working hours on the day of `start`, or of the next working day when
    /// `start` is after hours or on a day nobody works ("the same working day").
    pub fn same_working_day(&self, start: DateTime<Utc>) -> Result<DateTime<Utc>, CalendarError> {
        let at = self.next_working_time(start)?;
        Ok(self.close_of(self.local_date(at)))
    }

    /// The working day `n` working days before `date` (used for "one working day before" reminders).
    pub fn working_days_before(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        let mut counted = 0;
        while counted < n {
            day = day.pred_opt().unwrap_or(NaiveDate::MIN);
            if self.is_working_day(day)? {
                counted += 1;
            }
        }
        Ok(day)
    }
}

fn next_date(date: NaiveDate) -> NaiveDate {
    date.succ_opt().unwrap_or(NaiveDate::MAX)
}

/// A UK wall-clock time as an instant. Working hours never fall in the DST gap or overlap, but a
/// gap is resolved forwards and an overlap to the earlier instant so no input can panic.
pub fn london_instant(local: NaiveDateTime) -> DateTime<Utc> {
    match London.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
        chrono::LocalResult::None => {
            let later = local + chrono::Duration::hours(1);
            London
                .from_local_datetime(&later)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&local))
        }
    }
}

/// The UK calendar day of an instant, for what happens once a day whatever the board.
pub fn local_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&London).date_naive()
}

/// The UK local year of an instant: the year in a dispute reference.
pub fn local_year(instant: DateTime<Utc>) -> i32 {
    instant.with_timezone(&London).year()
}

/// An instant as RFC 3339 with the UK offset (`+00:00` in winter, `+01:00` in summer).
pub fn format_uk(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&London)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// An instant as people read it in a post: `Mon 8 Jun, 17:00` (UK local time).
pub fn format_uk_short(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&London)
        .format("%a %-d %b, %H:%M")
        .to_string()
}

/// An instant as a document gives it, with the year: `Mon 8 Jun 2026, 17:00` (UK local time).
pub fn format_uk_long(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&London)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calendar {
        BankHolidays::embedded()
            .calendar("england-and-wales", WorkingHours::default())
            .expect("embedded data has england-and-wales")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn one_working_day_from_christmas_eve_skips_christmas_the_weekend_and_the_substitute_boxing_day()
     {
        let due = cal()
            .due(at("2026-12-24T10:00:00+00:00"), 1, DayUnit::Working)
            .expect("in range");
        assert_eq!(format_uk(due), "2026-12-29T17:00:00+00:00");
    }

    #[test]
    fn five_working_days_from_a_monday_morning_end_the_next_monday_at_five() {
        let due = cal()
            .due(at("2026-06-01T09:40:00+01:00"), 5, DayUnit::Working)
            .expect("in range");
        assert_eq!(format_uk(due), "2026-06-08T17:00:00+01:00");
    }

    #[test]
    fn day_zero_is_the_local_date_even_just_after_midnight_in_summer() {
        // 23:30 UTC on 31 May is 00:30 on 1 June in London: day 0 is 1 June.
        let due = cal()
            .due(at("2026-05-31T23:30:00Z"), 1, DayUnit::Working)
            .expect("in range");
        assert_eq!(format_uk(due), "2026-06-02T17:00:00+01:00");
    }

    #[test]
    fn working_days_across_easter_skip_good_friday_and_easter_monday() {
        // Thursday 2 April 2026 is the day before Good Friday.
        let due = cal()
            .due(at("2026-04-02T11:00:00+01:00"), 1, DayUnit::Working)
            .expect("in range");
        assert_eq!(format_uk(due), "2026-04-07T17:00:00+01:00");
    }

    #[test]
    fn the_2022_one_off_bank_holidays_are_not_working_days() {
        let c = cal();
        for d in ["2022-06-02", "2022-06-03", "2022-09-19", "2023-05-08"] {
            let date: NaiveDate = d.parse().expect("date");
            assert!(!c.is_working_day(date).expect("in range"), "{d}");
        }
        let due = c
            .due(at("2022-06-01T12:00:00+01:00"), 1, DayUnit::Working)
            .expect("in range");
        assert_eq!(format_uk(due), "2022-06-06T17:00:00+01:00");
    }

    #[test]
    fn calendar_days_end_on_the_date_whatever_the_weekday_and_follow_dst() {
        // 14 March 2027 is GMT, 21 days later (4 April) is BST.
        let due = cal()
            .due(at("2027-03-14T10:00:00+00:00"), 21, DayUnit::Calendar)
            .expect("in range");
        assert_eq!(format_uk(due), "2027-04-04T17:00:00+01:00");
    }

    #[test]
    fn scotland_works_on_easter_monday_but_not_on_st_andrews_day_substitute() {
        let s = BankHolidays::embedded()
            .calendar("scotland", WorkingHours::default())
            .expect("scotland");
        assert!(
            s.is_working_day("2026-04-06".parse().expect("date"))
                .expect("range")
        );
        // 30 November 2025 was a Sunday: Monday 1 December is the substitute.
        assert!(
            !s.is_working_day("2025-12-01".parse().expect("date"))
                .expect("range")
        );
    }

    #[test]
    fn dates_beyond_the_data_are_refused_not_guessed() {
        let err = cal()
            .due(at("2030-12-30T10:00:00+00:00"), 5, DayUnit::Working)
            .expect_err("2031 is not covered");
        assert!(err.to_string().contains("bank-holidays.json"));
    }

    #[test]
    fn next_working_time_waits_for_monday_morning_after_a_friday_evening() {
        let next = cal()
            .next_working_time(at("2026-06-05T18:00:00+01:00"))
            .expect("range");
        assert_eq!(format_uk(next), "2026-06-08T09:00:00+01:00");
        let inside = at("2026-06-05T10:00:00+01:00");
        assert_eq!(cal().next_working_time(inside).expect("range"), inside);
    }

    #[test]
    fn working_days_before_skips_back_over_a_bank_holiday_weekend() {
        let before = cal()
            .working_days_before("2026-12-29".parse().expect("date"), 1)
            .expect("range");
        assert_eq!(before, "2026-12-24".parse::<NaiveDate>().expect("date"));
    }
}
