//! Properties of working-day arithmetic, for every UK division and any start date the bank-holiday
//! data covers: a deadline never lands on a weekend or bank holiday, later counts land later,
//! counts add up, and the answer is what counting day by day on a wall calendar gives.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use escalation_bot::calendar::{BankHolidays, Calendar, WorkingHours};
use proptest::prelude::*;
use std::sync::LazyLock;

/// Every division's calendar, with the default working hours.
static CALENDARS: LazyLock<Vec<Calendar>> = LazyLock::new(|| {
    let data = BankHolidays::embedded();
    data.divisions()
        .map(|d| {
            data.calendar(d, WorkingHours::default())
                .unwrap_or_else(|e| panic!("division {d} has a calendar: {e}"))
        })
        .collect()
});

/// Start dates well inside the years every division's data covers (2018 to 2030), leaving room
/// for the longest count below.
fn start_date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(2018, 1, 1).expect("a date");
    (0u64..11 * 365).prop_map(move |d| first + Days::new(d))
}

fn calendar() -> impl Strategy<Value = &'static Calendar> {
    (0..CALENDARS.len()).prop_map(|i| &CALENDARS[i])
}

/// A working day on a wall calendar: Monday to Friday and not one of the division's bank holidays.
fn on_the_wall_a_working_day(cal: &Calendar, date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !cal.is_bank_holiday(date)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn adding_working_days_never_lands_on_a_weekend_or_bank_holiday(
        cal in calendar(), day0 in start_date(), n in 1u32..60,
    ) {
        let due = cal.add_working_days(day0, n).expect("in range");
        prop_assert!(
            on_the_wall_a_working_day(cal, due),
            "{} + {n} working days = {due} ({}), which is not a working day in {}",
            day0, due.weekday(), cal.division()
        );
    }

    #[test]
    fn more_working_days_land_strictly_later_and_counts_add_up(
        cal in calendar(), day0 in start_date(), a in 0u32..40, b in 0u32..40,
    ) {
        let after_a = cal.add_working_days(day0, a).expect("in range");
        let after_a_plus_1 = cal.add_working_days(day0, a + 1).expect("in range");
        prop_assert!(after_a_plus_1 > after_a);
        prop_assert!(after_a >= day0);
        let in_two_steps = cal
            .add_working_days(after_a, b)
            .expect("in range");
        prop_assert_eq!(in_two_steps, cal.add_working_days(day0, a + b).expect("in range"));
    }

    #[test]
    fn adding_working_days_agrees_with_counting_day_by_day_on_a_wall_calendar(
        cal in calendar(), day0 in start_date(), n in 0u32..60,
    ) {
        let mut date = day0;
        let mut counted = 0;
        while counted < n {
            date = date.succ_opt().expect("a next day");
            if on_the_wall_a_working_day(cal, date) {
                counted += 1;
            }
        }
        prop_assert_eq!(cal.add_working_days(day0, n).expect("in range"), date);
    }

    #[test]
    fn counting_back_undoes_counting_forward_from_a_working_day(
        cal in calendar(), day0 in start_date(), n in 0u32..40,
    ) {
        prop_assume!(on_the_wall_a_working_day(cal, day0));
        let due = cal.add_working_days(day0, n).expect("in range");
        prop_assert_eq!(cal.working_days_before(due, n).expect("in range"), day0);
    }
}
