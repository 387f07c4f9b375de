//! The challenge log: one line per dispute, folded from its recorded events and nothing else.
//!
//! Durham keeps "the DSAP challenge log"; every board monitors how its procedure is applied. The
//! line says what a business unit's spreadsheet said, but is never typed: the record is the source.

use crate::calendar::Calendar;
use crate::directory::{AgencyId, Directory};
use crate::escalation::Event;
use crate::policy::Policy;
use crate::store::LogLine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// An agency as the log names it: its id, its kind (ladder) and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgencyName {
    pub id: String,
    /// The agency's kind from the directory (`adult-social-care`, `police`, …), or `unknown`.
    pub kind: String,
    pub name: String,
}

/// How a stage went against its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeliness {
    /// Finished (or still running) within its limit.
    OnTime,
    /// Finished after its limit, or still running past it.
    Late,
    /// Still running and not yet due.
    Running,
    /// The procedure sets no number of days for it.
    NoLimit,
}

impl Timeliness {
    /// The word the log and its exports use.
    pub fn word(self) -> &'static str {
        match self {
            Timeliness::OnTime => "on time",
            Timeliness::Late => "late",
            Timeliness::Running => "running",
            Timeliness::NoLimit => "no limit",
        }
    }
}

/// One entry into a stage (a repeating stage's tiers are entries of their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageEntry {
    pub stage: u32,
    pub tier: u32,
    pub name: String,
    pub entered: DateTime<Utc>,
    /// The limit in force when it ended (a deadline brought forward counts).
    pub due: Option<DateTime<Utc>>,
    /// When the dispute left it (escalated, resolved, withdrawn); None while it runs.
    pub left: Option<DateTime<Utc>>,
    pub timeliness: Timeliness,
    /// Working days from entry to leaving (or to now while it runs), by the board's calendar.
    pub working_days: Option<i64>,
}

/// A reason for delay, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DelayReason {
    pub stage: u32,
    pub reason: String,
    pub at: DateTime<Utc>,
}

pub use crate::store::Outcome;

/// One dispute's line in the challenge log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRow {
    pub reference: String,
    pub board: String,
    pub raising: AgencyName,
    pub receiving: AgencyName,
    /// The category id and its name from the policy.
    pub category: String,
    pub category_name: String,
    /// `adult` or `organisation`.
    pub concerns: String,
    pub urgent: bool,
    pub raised: DateTime<Utc>,
    pub stages: Vec<StageEntry>,
    pub delay_reasons: Vec<DelayReason>,
    /// `open`, `resolved` or `withdrawn`.
    pub state: String,
    pub outcome: Option<Outcome>,
    pub highest_stage: u32,
    pub closed: Option<DateTime<Utc>>,
    /// Working days from raising to closing (or to now while open), by the board's calendar.
    pub working_days_open: Option<i64>,
    /// How many learning points were referred to the board.
    pub learning_referred: u32,
}

/// What naming and counting need besides the events: the board's policy, its calendar and the
/// directory, and the time now (for what is still running).
#[derive(Clone, Copy)]
pub struct Lens<'a> {
    pub policy: &'a Policy,
    pub calendar: &'a Calendar,
    pub directory: &'a Directory,
    pub now: DateTime<Utc>,
}

impl Lens<'_> {
    fn agency(&self, id: &AgencyId) -> AgencyName {
        match self.directory.agency(id) {
            Some(a) => AgencyName {
                id: id.0.clone(),
                kind: a.kind.clone(),
                name: a.name.clone(),
            },
            None => AgencyName {
                id: id.0.clone(),
                kind: "unknown".into(),
                name: id.0.clone(),
            },
        }
    }

    /// Working days after `from`'s date up to and including `to`'s date (0 on the same day);
    /// None outside the years the calendar knows.
    pub fn working_days(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<i64> {
        let (start, end) = (self.calendar.local_date(from), self.calendar.local_date(to));
        working_days_between(self.calendar, start, end)
    }
}

/// Working days in `(start, end]`; None when a date is outside the calendar's years.
pub fn working_days_between(cal: &Calendar, start: NaiveDate, end: NaiveDate) -> Option<i64> {
    let mut count = 0;
    let mut date = start;
    while date < end {
        date = date.succ_opt()?;
        if cal.is_working_day(date).ok()? {
            count += 1;
        }
    }
    Some(count)
}

/// Folds one dispute's events (in record order) into its line; None before it was raised.
pub fn fold<'e>(
    reference: &str,
    events: impl IntoIterator<Item = &'e Event>,
    lens: &Lens<'_>,
) -> Option<LogRow> {
    LogLine::fold(reference, events).map(|l| row(&l, lens))
}

/// A stored line as the log shows it: agencies and category named, each stage's timeliness and
/// working days worked out as of `lens.now`.
pub fn row(line: &LogLine, lens: &Lens<'_>) -> LogRow {
    let stages = line
        .stages
        .iter()
        .map(|s| {
            let until = s.left.unwrap_or(lens.now);
            StageEntry {
                stage: s.stage,
                tier: s.tier,
                name: s.name.clone(),
                entered: s.entered,
                due: s.due,
                left: s.left,
                timeliness: match (s.due, s.left) {
                    (None, _) => Timeliness::NoLimit,
                    (Some(due), _) if until > due => Timeliness::Late,
                    (Some(_), Some(_)) => Timeliness::OnTime,
                    (Some(_), None) => Timeliness::Running,
                },
                working_days: lens.working_days(s.entered, until),
            }
        })
        .collect();
    LogRow {
        reference: line.reference.clone(),
        board: lens.policy.id.clone(),
        raising: lens.agency(&AgencyId(line.raising.clone())),
        receiving: lens.agency(&AgencyId(line.receiving.clone())),
        category: line.category.clone(),
        category_name: lens
            .policy
            .category(&line.category)
            .map_or_else(|| line.category.clone(), |c| c.name.clone()),
        concerns: line.concerns.clone(),
        urgent: line.urgent,
        raised: line.raised,
        stages,
        delay_reasons: line
            .delay_reasons
            .iter()
            .map(|d| DelayReason {
                stage: d.stage,
                reason: d.reason.clone(),
                at: d.at,
            })
            .collect(),
        state: line.state.clone(),
        outcome: line.outcome,
        highest_stage: line.highest_stage,
        closed: line.closed,
        working_days_open: lens.working_days(line.raised, line.closed.unwrap_or(lens.now)),
        learning_referred: line.learning_referred,
    }
}

/// What a person narrows the log to; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// `open`, `resolved` or `withdrawn`.
    pub state: Option<String>,
    /// An agency id on either side.
    pub agency: Option<String>,
    /// A category id.
    pub category: Option<String>,
}

impl LogFilter {
    /// Whether a line passes every part of the filter.
    pub fn keep(&self, row: &LogRow) -> bool {
        self.state.as_ref().is_none_or(|s| &row.state == s)
            && self
                .agency
                .as_ref()
                .is_none_or(|a| &row.raising.id == a || &row.receiving.id == a)
            && self.category.as_ref().is_none_or(|c| &row.category == c)
    }
}

/// The columns the log can be sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    Raised,
    Reference,
    Stage,
    State,
    DaysOpen,
    Category,
}

impl SortKey {
    /// Parses the name a page link or a flag uses.
    pub fn parse(name: &str) -> Option<SortKey> {
        Some(match name {
            "raised" => SortKey::Raised,
            "reference" => SortKey::Reference,
            "stage" => SortKey::Stage,
            "state" => SortKey::State,
            "days" => SortKey::DaysOpen,
            "category" => SortKey::Category,
            _ => return None,
        })
    }

    /// The name links and flags use.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Raised => "raised",
            SortKey::Reference => "reference",
            SortKey::Stage => "stage",
            SortKey::State => "state",
            SortKey::DaysOpen => "days",
            SortKey::Category => "category",
        }
    }
}

/// Sorts lines by a column (ties by reference), newest or largest first when `descending`.
pub fn sort(rows: &mut [LogRow], key: SortKey, descending: bool) {
    rows.sort_by(|a, b| {
        let order = match key {
            SortKey::Raised => a.raised.cmp(&b.raised),
            SortKey::Reference => std::cmp::Ordering::Equal,
            SortKey::Stage => a.highest_stage.cmp(&b.highest_stage),
            SortKey::State => a.state.cmp(&b.state),
            SortKey::DaysOpen => a.working_days_open.cmp(&b.working_days_open),
            SortKey::Category => a.category_name.cmp(&b.category_name),
        }
        .then_with(|| a.reference.cmp(&b.reference));
        if descending { order.reverse() } else { order }
    });
}

/// A date as the log prints it: `2026-04-02` (UK local date).
pub fn uk_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::London)
        .format("%Y-%m-%d")
        .to_string()
}

/// The stages reached, in one cell: `1 2026-04-02 late; 2 2026-04-08 on time`.
pub fn stages_cell(row: &LogRow) -> String {
    row.stages
        .iter()
        .map(|s| {
            let tier = if s.tier > 0 {
                format!(" (tier {})", s.tier + 1)
            } else {
                String::new()
            };
            format!(
                "{}{tier} {} {}",
                s.stage,
                uk_date(s.entered),
                s.timeliness.word()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The log as CSV, one line per dispute.
pub fn to_csv(rows: &[LogRow], stage_word: &str) -> String {
    let mut csv = super::table::Csv::new(&[
        "reference",
        "raising agency kind",
        "raising agency",
        "receiving agency kind",
        "receiving agency",
        "category",
        "concerns",
        "urgent",
        "raised",
        "stages reached (entered, timeliness)",
        "highest stage",
        "reasons for delay",
        "state",
        "outcome",
        "closed",
        "working days open",
        "learning referred",
    ]);
    for r in rows {
        let delays = r
            .delay_reasons
            .iter()
            .map(|d| format!("{stage_word} {}: {}", d.stage, d.reason))
            .collect::<Vec<_>>()
            .join("; ");
        csv.row(&[
            &r.reference,
            &r.raising.kind,
            &r.raising.name,
            &r.receiving.kind,
            &r.receiving.name,
            &r.category_name,
            &r.concerns,
            if r.urgent { "yes" } else { "no" },
            &uk_date(r.raised),
            &stages_cell(r),
            &r.highest_stage.to_string(),
            &delays,
            &r.state,
            &r.outcome.map(|o| o.words(stage_word)).unwrap_or_default(),
            &r.closed.map(uk_date).unwrap_or_default(),
            &r.working_days_open
                .map(|d| d.to_string())
                .unwrap_or_default(),
            &r.learning_referred.to_string(),
        ]);
    }
    csv.finish()
}
