//! `escalation-bot deadline`: every stage of every seed policy, and hand-counted cases across
//! Christmas, Easter, the one-off bank holidays of 2022–23 and both DST changes.

use crate::helpers::{SEED_POLICIES, at, crate_root, fixture, run_bin};
use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::London;
use escalation_bot::calendar::DayUnit;
use escalation_bot::policy::{Anchor, Limit, Policy, Span, Timescale};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// Runs `deadline` and returns its first line, checking it exits 0.
fn deadline(policy: &str, stage: u32, started: &str, extra: &[&str]) -> String {
    let stage = stage.to_string();
    let mut args = vec![
        "deadline",
        "--policy",
        policy,
        "--stage",
        &stage,
        "--started",
        started,
    ];
    args.extend_from_slice(extra);
    let out = run_bin(&args, None);
    assert_eq!(
        out.code,
        Some(0),
        "deadline {args:?} exits 0; stderr: {}",
        out.stderr
    );
    out.first_line().to_string()
}

/// Every division's bank holidays, read once straight from the shipped GOV.UK file (not through
/// the crate).
static BANK_HOLIDAYS: LazyLock<BTreeMap<String, BTreeSet<NaiveDate>>> = LazyLock::new(|| {
    let path = crate_root().join("src/calendar/bank-holidays.json");
    let text = std::fs::read_to_string(&path).expect("the bank-holiday file is shipped");
    let json: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).expect("bank-holidays.json is a JSON object");
    json.into_iter()
        .map(|(division, v)| {
            let dates = v["events"]
                .as_array()
                .unwrap_or_else(|| panic!("{division} has events"))
                .iter()
                .map(|e| {
                    e["date"]
                        .as_str()
                        .and_then(|d| d.parse().ok())
                        .expect("each event has a date")
                })
                .collect();
            (division, dates)
        })
        .collect()
});

/// The counting rule, written out independently of the crate: day 0 is the UK local date of the
/// start; N working days end at close of business on the Nth working day after; N calendar days
/// end at close of business on day 0 + N.
fn expected_due(policy: &Policy, days: u32, unit: DayUnit, from: DateTime<Utc>) -> String {
    expected_due_rolled(
        policy,
        days,
        unit,
        from,
        policy.calendar_days.next_working_day,
    )
}

/// The counting rule, with or without moving a calendar-day deadline off a non-working day.
fn expected_due_rolled(
    policy: &Policy,
    days: u32,
    unit: DayUnit,
    from: DateTime<Utc>,
    roll: bool,
) -> String {
    let holidays = &BANK_HOLIDAYS[&policy.calendar];
    let working = |d: NaiveDate| {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&d)
    };
    let day0 = from.with_timezone(&London).date_naive();
    let end = match unit {
        // A policy may move a calendar-day deadline that ends on a day nobody works to the next
        // working day.
        DayUnit::Calendar if roll => {
            let mut end = day0 + Days::new(u64::from(days));
            while !working(end) {
                end = end.succ_opt().expect("a next day");
            }
            end
        }
        DayUnit::Calendar => day0 + Days::new(u64::from(days)),
        DayUnit::Working => {
            let mut date = day0;
            let mut counted = 0;
            while counted < days {
                date = date.succ_opt().expect("a next day");
                let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
                if !weekend && !holidays.contains(&date) {
                    counted += 1;
                }
            }
            date
        }
    };
    London
        .from_local_datetime(&end.and_time(policy.hours.close))
        .single()
        .expect("close of business is never in a DST gap")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Asserts a printed due instant is RFC 3339 with the UK offset in force at that instant.
fn assert_uk_rfc3339(line: &str) -> DateTime<FixedOffset> {
    let due = DateTime::parse_from_rfc3339(line)
        .unwrap_or_else(|e| panic!("{line:?} is not RFC 3339: {e}"));
    let offset = due.offset().local_minus_utc();
    assert!(
        offset == 0 || offset == 3600,
        "{line:?} carries a UK offset (+00:00 or +01:00)"
    );
    let uk = due.with_timezone(&London);
    assert_eq!(
        uk.format("%:z").to_string(),
        due.format("%:z").to_string(),
        "{line:?} carries the offset London used at that instant"
    );
    due
}

/// Starts chosen to cross Christmas, Easter, the 2022–23 one-off holidays, both DST changes and
/// a start just after midnight in summer.
const STARTS: [&str; 9] = [
    "2026-12-24T10:00:00+00:00",
    "2026-04-02T10:00:00+01:00",
    "2022-06-01T12:00:00+01:00",
    "2022-09-15T10:00:00+01:00",
    "2023-05-04T10:00:00+01:00",
    "2026-03-26T10:00:00+00:00",
    "2026-10-22T10:00:00+01:00",
    "2026-05-31T23:30:00Z",
    "2027-03-25T16:59:00+00:00",
];

#[test]
fn every_seed_policy_is_shipped() {
    let ids = fixture().policies.ids();
    for id in SEED_POLICIES {
        assert!(
            ids.contains(&id),
            "policies/{id}.toml is shipped (found {ids:?})"
        );
    }
}

#[test]
fn deadline_answers_for_every_stage_of_every_seed_policy() {
    for id in SEED_POLICIES {
        let policy = fixture().policy(id);
        assert!(!policy.stages.is_empty(), "{id} has stages");
        // Step anchors get a time too, so any stage measured from a named step can answer.
        let step_args: Vec<String> = policy
            .stages
            .iter()
            .flat_map(|s| &s.steps)
            .map(|st| format!("--done={}=2026-06-10T10:00:00+01:00", st.id))
            .collect();
        for stage in &policy.stages {
            for started in STARTS {
                // First raised three days before the stage started.
                let first_raised = at(started) - chrono::Duration::days(3);
                let first_raised_text = first_raised.to_rfc3339();
                let mut extra = vec!["--first-raised", first_raised_text.as_str()];
                extra.extend(step_args.iter().map(String::as_str));
                let check = |line: String, limit: &Limit| {
                    assert_uk_rfc3339(&line);
                    let from = match &limit.from {
                        Anchor::StageStart | Anchor::PreviousStageEnd => at(started),
                        Anchor::FirstRaised | Anchor::Arose => first_raised,
                        Anchor::Step(_) => at("2026-06-10T10:00:00+01:00"),
                    };
                    let Span::Days { n, unit } = limit.span else {
                        panic!("the seed policies count days")
                    };
                    assert_eq!(
                        line,
                        expected_due(policy, n, unit, from),
                        "{id} stage {} ({n} {unit} days) from {started}",
                        stage.number,
                    );
                };
                match &stage.timescale {
                    Timescale::NoLimit { .. } => {
                        let line = deadline(id, stage.number, started, &extra);
                        assert_eq!(line, "none", "{id} stage {} from {started}", stage.number)
                    }
                    Timescale::NotStated { .. } => {
                        let line = deadline(id, stage.number, started, &extra);
                        assert_eq!(line, "not stated", "{id} stage {}", stage.number)
                    }
                    Timescale::Limit(limit) => {
                        check(deadline(id, stage.number, started, &extra), limit)
                    }
                    Timescale::OnSteps => {
                        for st in &stage.steps {
                            let Some(limit) = &st.limit else { continue };
                            let mut with_step = extra.clone();
                            with_step.extend(["--step", st.id.as_str()]);
                            check(deadline(id, stage.number, started, &with_step), limit);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn durham_step_one_started_on_christmas_eve_is_due_the_tuesday_after_boxing_day() {
    // 25 Dec (Fri) and the substitute Boxing Day (Mon 28 Dec) are bank holidays.
    assert_eq!(
        deadline("durham", 1, "2026-12-24T10:00:00+00:00", &[]),
        "2026-12-29T17:00:00+00:00"
    );
}

#[test]
fn durham_step_one_raised_the_thursday_before_easter_is_due_the_tuesday_after() {
    // Good Friday 3 April and Easter Monday 6 April 2026.
    assert_eq!(
        deadline("durham", 1, "2026-04-02T10:00:00+01:00", &[]),
        "2026-04-07T17:00:00+01:00"
    );
}

#[test]
fn norfolk_stage_one_skips_both_2022_jubilee_bank_holidays() {
    // Day 0 Wed 1 June; Thu 2 and Fri 3 June are bank holidays; 6, 7, 8, 9, 10 June are days 1–5.
    assert_eq!(
        deadline("norfolk", 1, "2022-06-01T12:00:00+01:00", &[]),
        "2022-06-10T17:00:00+01:00"
    );
}

#[test]
fn norfolk_stage_one_skips_the_queens_state_funeral() {
    // Day 0 Thu 15 Sept 2022; Fri 16 (1), Mon 19 is the state funeral, Tue 20 (2) ... Fri 23 (5).
    assert_eq!(
        deadline("norfolk", 1, "2022-09-15T10:00:00+01:00", &[]),
        "2022-09-23T17:00:00+01:00"
    );
}

#[test]
fn norfolk_stage_one_skips_the_coronation_bank_holiday() {
    // Day 0 Thu 4 May 2023; Fri 5 (1), Mon 8 is the coronation, Tue 9 (2) ... Fri 12 (5).
    assert_eq!(
        deadline("norfolk", 1, "2023-05-04T10:00:00+01:00", &[]),
        "2023-05-12T17:00:00+01:00"
    );
}

#[test]
fn norfolk_stage_one_started_before_the_clocks_go_forward_is_due_in_summer_time() {
    // Day 0 Thu 26 March 2026 (GMT); clocks go forward Sun 29 March; day 5 is Thu 2 April (BST).
    assert_eq!(
        deadline("norfolk", 1, "2026-03-26T10:00:00+00:00", &[]),
        "2026-04-02T17:00:00+01:00"
    );
}

#[test]
fn norfolk_stage_one_started_before_the_clocks_go_back_is_due_in_winter_time() {
    // Day 0 Thu 22 October 2026 (BST); clocks go back Sun 25 October; day 5 is Thu 29 October (GMT).
    assert_eq!(
        deadline("norfolk", 1, "2026-10-22T10:00:00+01:00", &[]),
        "2026-10-29T17:00:00+00:00"
    );
}

#[test]
fn norfolk_stage_one_across_christmas_and_new_year() {
    // Day 0 Wed 23 Dec 2026: Thu 24 (1), Tue 29 (2), Wed 30 (3), Thu 31 (4), [Fri 1 Jan holiday], Mon 4 Jan (5).
    assert_eq!(
        deadline("norfolk", 1, "2026-12-23T10:00:00+00:00", &[]),
        "2027-01-04T17:00:00+00:00"
    );
}

#[test]
fn day_zero_is_the_uk_date_not_the_utc_date() {
    // 23:30 UTC on Sun 31 May is 00:30 on Mon 1 June in London: day 0 is Monday, so 5 working days is Mon 8 June.
    assert_eq!(
        deadline("norfolk", 1, "2026-05-31T23:30:00Z", &[]),
        "2026-06-08T17:00:00+01:00"
    );
}

#[test]
fn durham_step_three_counts_21_calendar_days_from_the_first_raising() {
    let from_first_raised = deadline(
        "durham",
        3,
        "2026-06-10T10:00:00+01:00",
        &["--first-raised", "2026-06-01T09:00:00+01:00"],
    );
    assert_eq!(from_first_raised, "2026-06-22T17:00:00+01:00");
    // Without --first-raised nothing is guessed: the step start is not the first raising.
    let out = run_bin(
        &[
            "deadline",
            "--policy",
            "durham",
            "--stage",
            "3",
            "--started",
            "2026-06-10T10:00:00+01:00",
        ],
        None,
    );
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("--first-raised"), "{}", out.stderr);
}

#[test]
fn a_calendar_day_deadline_ending_on_a_saturday_moves_to_the_monday_where_the_policy_says() {
    // Durham step 3: 21 days from Saturday 6 June 2026 is Saturday 27 June; Durham's policy moves
    // it to the close of Monday 29 June (calendar_days.on_non_working_day = "next_working_day").
    assert_eq!(
        deadline(
            "durham",
            3,
            "2026-06-20T10:00:00+01:00",
            &["--first-raised", "2026-06-06T09:00:00+01:00"]
        ),
        "2026-06-29T17:00:00+01:00"
    );
}

#[test]
fn deadline_prints_a_named_steps_deadline_and_refuses_a_step_time_it_was_not_given() {
    // Sunderland's written response: 5 days after the review (Thu 11 June) is Tue 16 June.
    assert_eq!(
        deadline(
            "sunderland",
            3,
            "2026-06-08T10:00:00+01:00",
            &[
                "--first-raised",
                "2026-06-01T09:00:00+01:00",
                "--step",
                "written-response",
                "--done",
                "review=2026-06-11T15:00:00+01:00"
            ]
        ),
        "2026-06-16T17:00:00+01:00"
    );
    let base = [
        "deadline",
        "--policy",
        "sunderland",
        "--stage",
        "3",
        "--started",
        "2026-06-08T10:00:00+01:00",
        "--first-raised",
        "2026-06-01T09:00:00+01:00",
    ];
    let refused = |extra: &[&str], says: &str| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = run_bin(&args, None);
        assert_ne!(out.code, Some(0), "{args:?}: {}", out.stdout);
        assert!(out.stdout.is_empty(), "{args:?} prints no deadline");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    };
    refused(&["--step", "written-response"], "--done review=");
    // The stage's limits belong to its steps: which one must be said.
    refused(&[], "--step");
    refused(&["--step", "appeal"], "review, written-response");
    refused(&["--step", "review=2026-06-11T15:00:00+01:00"], "--done");
}

#[test]
fn deadline_stops_quietly_when_its_reader_closes_early() {
    use std::process::{Command, Stdio};
    // `deadline ... | head -1`: the reader goes away before the second line is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .current_dir(crate_root())
        .args([
            "deadline",
            "--policy",
            "norfolk",
            "--stage",
            "1",
            "--started",
            "2026-06-01T10:00:00+01:00",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("it finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn durham_step_four_counts_calendar_days_through_christmas() {
    // 28 calendar days from Tue 1 Dec 2026 is Tue 29 Dec, bank holidays or not.
    assert_eq!(
        deadline(
            "durham",
            4,
            "2026-12-20T10:00:00+00:00",
            &["--first-raised", "2026-12-01T09:00:00+00:00"]
        ),
        "2026-12-29T17:00:00+00:00"
    );
}

#[test]
fn sunderland_stage_three_review_is_anchored_on_the_first_raising() {
    // 10 working days from Mon 1 June 2026 is Mon 15 June; from the stage start (15 June) it would be 29 June.
    assert_eq!(
        deadline(
            "sunderland",
            3,
            "2026-06-15T10:00:00+01:00",
            &[
                "--first-raised",
                "2026-06-01T09:00:00+01:00",
                "--step",
                "review"
            ]
        ),
        "2026-06-15T17:00:00+01:00"
    );
}

#[test]
fn sunderland_stage_two_has_no_numeric_limit() {
    assert_eq!(
        deadline("sunderland", 2, "2026-06-15T10:00:00+01:00", &[]),
        "none"
    );
}

#[test]
fn sunderland_stage_four_is_thirty_working_days_from_receipt() {
    // From Mon 1 June 2026: 30 working days (no bank holidays until 31 August) is Mon 13 July.
    assert_eq!(
        deadline("sunderland", 4, "2026-06-01T10:00:00+01:00", &[]),
        "2026-07-13T17:00:00+01:00"
    );
}

#[test]
fn cambridgeshire_stages_print_none_as_the_whole_first_line() {
    for stage in 1..=4 {
        let out = run_bin(
            &[
                "deadline",
                "--policy",
                "cambridgeshire-peterborough",
                "--stage",
                &stage.to_string(),
                "--started",
                "2026-06-01T10:00:00+01:00",
            ],
            None,
        );
        assert_eq!(out.code, Some(0), "stage {stage}: {}", out.stderr);
        assert_eq!(out.first_line(), "none", "stage {stage}");
    }
}

#[test]
fn the_due_instant_is_alone_on_the_first_line() {
    let out = run_bin(
        &[
            "deadline",
            "--policy",
            "rochdale",
            "--stage",
            "2",
            "--started",
            "2026-06-01T10:00:00+01:00",
        ],
        None,
    );
    assert_eq!(out.code, Some(0));
    assert_eq!(out.first_line(), "2026-06-08T17:00:00+01:00");
}

#[test]
fn a_stage_the_policy_does_not_have_is_an_error_naming_the_range() {
    let out = run_bin(
        &[
            "deadline",
            "--policy",
            "norfolk",
            "--stage",
            "9",
            "--started",
            "2026-06-01T10:00:00+01:00",
        ],
        None,
    );
    assert_ne!(out.code, Some(0));
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.stdout);
    assert!(out.stderr.contains("stages 1 to 4"), "{}", out.stderr);
}

#[test]
fn a_start_that_is_not_rfc_3339_is_an_error_with_an_example() {
    let out = run_bin(
        &[
            "deadline",
            "--policy",
            "norfolk",
            "--stage",
            "1",
            "--started",
            "1 June 2026",
        ],
        None,
    );
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("RFC 3339"), "{}", out.stderr);
}

#[test]
fn the_calendar_agrees_with_the_counting_rule_on_every_day_from_2018_to_2030() {
    // Every distinct limit the seed policies use, started on every day of the covered years, at
    // three local times: just after midnight, mid-morning and late evening (day 0 is the UK date).
    let mut limits: Vec<(&Policy, u32, DayUnit)> = Vec::new();
    for id in SEED_POLICIES {
        let policy = fixture().policy(id);
        let all = policy
            .stages
            .iter()
            .filter_map(|s| match &s.timescale {
                Timescale::Limit(l) => Some(l),
                _ => None,
            })
            .chain(
                policy
                    .stages
                    .iter()
                    .flat_map(|s| &s.steps)
                    .filter_map(|st| st.limit.as_ref()),
            );
        for l in all {
            let Span::Days { n, unit } = l.span else {
                continue;
            };
            if !limits.iter().any(|(p, d, u)| {
                p.calendar == policy.calendar && p.hours == policy.hours && *d == n && *u == unit
            }) {
                limits.push((policy, n, unit));
            }
        }
    }
    assert!(
        limits.len() >= 5,
        "the seed policies use several kinds of limit: {}",
        limits.len()
    );
    let mut day = NaiveDate::from_ymd_opt(2018, 1, 1).expect("date");
    let last = NaiveDate::from_ymd_opt(2030, 10, 31).expect("date");
    let mut checked = 0;
    while day <= last {
        for hm in [(0, 30), (10, 0), (23, 30)] {
            let local = day.and_hms_opt(hm.0, hm.1, 0).expect("time");
            let Some(start) = London.from_local_datetime(&local).earliest() else {
                continue;
            };
            let start = start.with_timezone(&Utc);
            for (policy, days, unit) in &limits {
                let cal = fixture().calendar(&policy.id);
                let due = cal
                    .due(start, *days, *unit)
                    .expect("inside the data's years");
                let got = escalation_bot::calendar::format_uk(due);
                assert_eq!(
                    got,
                    expected_due_rolled(policy, *days, *unit, start, false),
                    "{} days ({unit}) under {} from {local} UK",
                    days,
                    policy.id
                );
                checked += 1;
            }
        }
        day = day.succ_opt().expect("next day");
    }
    assert!(checked > 10_000);
}

#[test]
fn a_deadline_beyond_the_bank_holiday_data_is_refused_not_guessed() {
    let out = run_bin(
        &[
            "deadline",
            "--policy",
            "sunderland",
            "--stage",
            "4",
            "--started",
            "2030-12-01T10:00:00+00:00",
        ],
        None,
    );
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stderr.contains("bank-holidays.json"), "{}", out.stderr);
}
