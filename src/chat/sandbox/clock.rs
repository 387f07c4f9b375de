//! The demo clock control: how far "advance by hours" and "advance by working days" move the clock.

use crate::calendar::{Calendar, CalendarError, london_instant};
use chrono::{DateTime, Duration, Utc};

/// The most the clock moves in one step: enough for any stage of the seed policies.
pub const MAX_HOURS: u32 = 24 * 60;
/// The most working days the clock moves in one step.
pub const MAX_WORKING_DAYS: u32 = 60;

/// How far to move the demo clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// Exactly this many hours.
    Hours(u32),
    /// To the same UK local time this many working days on, or to the opening of working hours
    /// on that day when that time is outside them, so that what waits for working hours (a
    /// reminder, an overdue prompt) appears as it would on that morning.
    WorkingDays(u32),
}

/// Why the clock cannot move as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdvanceError {
    #[error("advance by 1 to {MAX_HOURS} hours at a time")]
    Hours,
    #[error("advance by 1 to {MAX_WORKING_DAYS} working days at a time")]
    WorkingDays,
    #[error("{0}")]
    Calendar(#[from] CalendarError),
}

/// Where the clock lands from `now` under `cal`'s working days and hours. Always later than `now`.
pub fn target(
    cal: &Calendar,
    now: DateTime<Utc>,
    by: Advance,
) -> Result<DateTime<Utc>, AdvanceError> {
    match by {
        Advance::Hours(h) if (1..=MAX_HOURS).contains(&h) => {
            Ok(now + Duration::hours(i64::from(h)))
        }
        Advance::Hours(_) => Err(AdvanceError::Hours),
        Advance::WorkingDays(n) if (1..=MAX_WORKING_DAYS).contains(&n) => {
            let local = now.with_timezone(&chrono_tz::Europe::London);
            let day = cal.add_working_days(local.date_naive(), n)?;
            let same_time = london_instant(day.and_time(local.time()));
            if cal.is_working_time(same_time)? {
                Ok(same_time)
            } else {
                Ok(cal.open_of(day))
            }
        }
        Advance::WorkingDays(_) => Err(AdvanceError::WorkingDays),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{BankHolidays, WorkingHours};

    fn cal() -> Calendar {
        BankHolidays::embedded()
            .calendar("england-and-wales", WorkingHours::default())
            .expect("embedded data has england-and-wales")
    }

    fn uk(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn hours_move_the_clock_exactly() {
        let now = uk("2026-06-01T09:40:00+01:00");
        assert_eq!(
            target(&cal(), now, Advance::Hours(3)),
            Ok(uk("2026-06-01T12:40:00+01:00"))
        );
        assert_eq!(
            target(&cal(), now, Advance::Hours(0)),
            Err(AdvanceError::Hours)
        );
    }

    #[test]
    fn a_working_day_keeps_the_time_of_day_within_working_hours() {
        // Friday 22 May 2026 → Tuesday 26 May: the weekend and the Spring bank holiday are skipped.
        let now = uk("2026-05-22T10:15:00+01:00");
        assert_eq!(
            target(&cal(), now, Advance::WorkingDays(1)),
            Ok(uk("2026-05-26T10:15:00+01:00"))
        );
    }

    #[test]
    fn a_working_day_from_the_evening_lands_at_the_next_opening() {
        let now = uk("2026-06-01T21:30:00+01:00");
        assert_eq!(
            target(&cal(), now, Advance::WorkingDays(1)),
            Ok(uk("2026-06-02T09:00:00+01:00"))
        );
        let sunday = uk("2026-06-07T03:00:00+01:00");
        assert_eq!(
            target(&cal(), sunday, Advance::WorkingDays(1)),
            Ok(uk("2026-06-08T09:00:00+01:00"))
        );
    }

    #[test]
    fn too_far_in_one_step_is_refused() {
        let now = uk("2026-06-01T09:40:00+01:00");
        assert_eq!(
            target(&cal(), now, Advance::WorkingDays(61)),
            Err(AdvanceError::WorkingDays)
        );
        assert_eq!(
            target(&cal(), now, Advance::Hours(MAX_HOURS + 1)),
            Err(AdvanceError::Hours)
        );
    }
}
