//! A board's escalation procedure as data: stages, who takes part, time limits, notices and ladders.
//!
//! Policies are read from `policies/<board-id>.toml` (see `file`), checked with precise
//! file-and-line problems (see `check`), and used by the escalation core as the validated types
//! below. A sixth board needs a new file, never new Rust.

mod check;
mod file;
mod show;
pub mod template;

pub use check::{Problem, check_file, check_text};
pub use show::{NOT_STATED, describe_limit, describe_span, describe_timescale, render_table};

use crate::calendar::{Calendar, CalendarError, DayUnit, WorkingHours};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The ladder kind that applies to every agency kind a policy does not list by name.
pub const ANY_KIND: &str = "any";

/// A validated board policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub name: String,
    /// Prefix of dispute references, e.g. `NSAB` in `NSAB-2026-0007`.
    pub reference_prefix: String,
    /// The source document every `source` field cites.
    pub document: String,
    /// What the procedure calls a stage ("Stage", or "Step" for Durham).
    pub stage_word: String,
    /// The GOV.UK bank-holiday division the procedure's working days follow.
    pub calendar: String,
    pub hours: WorkingHours,
    /// Whether a calendar-day limit that ends on a weekend or bank holiday moves to the close of
    /// the next working day.
    pub calendar_days: CalendarDays,
    /// Who the procedure is about: adults, children, or both (the raise form offers these).
    pub covers: Covers,
    pub levels: Vec<Level>,
    pub categories: Vec<Category>,
    pub urgent: Urgent,
    pub acknowledgement: Option<Acknowledgement>,
    pub delay_reason: DelayReason,
    pub reminders: Reminders,
    pub record_keeping: Rule,
    pub resolution: Rule,
    pub learning: Rule,
    pub board: Board,
    pub ladders: Vec<Ladder>,
    pub stages: Vec<Stage>,
}

/// What happens to a calendar-day limit that ends on a day nobody works, and why.
#[derive(Debug, Clone, Default)]
pub struct CalendarDays {
    pub next_working_day: bool,
    pub source: String,
}

/// The people a procedure covers: adults at risk, children, or both.
#[derive(Debug, Clone)]
pub struct Covers {
    pub adults: bool,
    pub children: bool,
    pub source: String,
}

impl Default for Covers {
    fn default() -> Self {
        Covers {
            adults: true,
            children: false,
            source: String::new(),
        }
    }
}

/// A role level on the agencies' ladders, lowest first (its index is its rank).
#[derive(Debug, Clone)]
pub struct Level {
    pub id: String,
    pub name: String,
}

/// A category of disagreement the procedure lists, with any guidance it gives for it.
#[derive(Debug, Clone)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub source: String,
    pub guidance: Option<String>,
}

/// A piece of the procedure shown to people at the right moment, with where it comes from.
#[derive(Debug, Clone, Default)]
pub struct Rule {
    pub prompt: String,
    pub source: String,
}

/// The immediate-risk route: what people must do at once, and who is told.
#[derive(Debug, Clone)]
pub struct Urgent {
    pub prompt: String,
    pub source: String,
    pub notify: Vec<Notice>,
}

/// How long the people asked to take over a stage have to acknowledge, and who is told if they don't.
#[derive(Debug, Clone)]
pub struct Acknowledgement {
    pub days: u32,
    pub unit: DayUnit,
    pub window_source: String,
    /// Levels (ranks) whose silence triggers a nudge to the next rung up.
    pub nudge_levels: Vec<usize>,
    pub prompt: String,
    pub source: String,
}

/// Whether a late step must carry a reason for the delay (Durham), and what people are asked.
#[derive(Debug, Clone, Default)]
pub struct DelayReason {
    pub required: bool,
    pub prompt: String,
    pub source: String,
}

/// When owners are reminded before a deadline: at the opening of working hours, this many
/// working days before the due date (0 = on the day).
#[derive(Debug, Clone)]
pub struct Reminders {
    pub working_days_before: Vec<u32>,
    pub source: String,
}

impl Default for Reminders {
    fn default() -> Self {
        Reminders {
            working_days_before: vec![1],
            source: "Service default: the start of the last working day before the due date".into(),
        }
    }
}

/// The board's own people: its business unit and its chair, as rungs of the board's directory entry.
#[derive(Debug, Clone)]
pub struct Board {
    pub name: String,
    pub rungs: Vec<BoardRung>,
}

/// A board role held by people in the directory.
#[derive(Debug, Clone)]
pub struct BoardRung {
    pub id: String,
    pub title: String,
    pub role: BoardRole,
    /// Where a board has several chairs or business units, which disputes this one takes.
    pub serves: Option<Serves>,
}

/// A property of a dispute that chooses between a board's chairs or business units.
#[derive(Debug, Clone, Default)]
pub struct Serves {
    /// Who the dispute concerns: "adult", "child" or "organisation".
    pub concerns: Vec<String>,
    /// Category ids.
    pub categories: Vec<String>,
    pub source: String,
}

/// What a board rung is for: told of disputes, or chairing panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BoardRole {
    BusinessUnit,
    Chair,
}

/// An agency kind's escalation route, lowest rung first (Norfolk Appendix 2 gives eight).
#[derive(Debug, Clone)]
pub struct Ladder {
    pub kind: String,
    pub name: String,
    pub source: String,
    pub rungs: Vec<Rung>,
}

/// One rung of a ladder: a job title and the level it sits at.
#[derive(Debug, Clone)]
pub struct Rung {
    pub id: String,
    pub title: String,
    pub level: usize,
}

/// A stage (or step) of the procedure.
#[derive(Debug, Clone)]
pub struct Stage {
    pub number: u32,
    pub name: String,
    pub source: String,
    /// Level (rank) of the people taking part for the raising agency.
    pub raising_level: usize,
    /// Level (rank) of the people taking part for the receiving agency.
    pub receiving_level: usize,
    /// Whether the people asked to take over must acknowledge in the thread.
    pub acknowledge: bool,
    /// Whether posts must say a formal challenge has been lodged under the procedure.
    pub formal_challenge: bool,
    pub timescale: Timescale,
    /// Set when the procedure lets a party bring the deadline forward to protect the adult.
    pub bring_forward_source: Option<String>,
    /// From this stage the stage's owners (and those above them on their ladder) escalate,
    /// propose and answer proposals; others add notes and ask them. The section that says so.
    pub owners_move_source: Option<String>,
    pub repeats: Option<Rule>,
    pub form: Option<Form>,
    pub notify: Vec<Notice>,
    pub exclude: Vec<Exclusion>,
    pub steps: Vec<Step>,
    /// Set where the board decides the stage (its chair, a panel, a sub-committee) rather than
    /// the parties agreeing: its determination closes the dispute.
    pub decision: Option<Decision>,
    /// Agency kinds that take this stage through another agency (a GP practice through its
    /// ICB's designated safeguarding team).
    pub through: Vec<Through>,
    pub prompt: String,
}

/// Who decides a stage the board decides, and where the procedure says so.
#[derive(Debug, Clone)]
pub struct Decision {
    pub body: DecisionBody,
    /// The body's name as the procedure gives it, e.g. "NSAB resolution panel".
    pub name: String,
    /// The board role whose holders own the stage and record the determination.
    pub owner: BoardRole,
    pub source: String,
}

/// What kind of body makes a determination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionBody {
    Chair,
    Panel,
    SubCommittee,
}

/// An agency kind that escalates through an agency of another kind at a stage.
#[derive(Debug, Clone)]
pub struct Through {
    pub kind: String,
    pub via_kind: String,
    pub source: String,
}

/// A stage's time limit, or the procedure's own words where it sets no number.
#[derive(Debug, Clone)]
pub enum Timescale {
    Limit(Limit),
    /// The procedure sets no limit; its own words say how soon.
    NoLimit {
        words: String,
        source: String,
    },
    /// The procedure has a limit, but the source does not state it: shown as "not stated in
    /// the procedure", never as "no limit".
    NotStated {
        source: String,
    },
    /// The stage's limits belong to the named steps they time, not to the stage as a whole.
    OnSteps,
}

/// A time limit: a span from an anchor.
#[derive(Debug, Clone)]
pub struct Limit {
    pub span: Span,
    pub from: Anchor,
    pub source: String,
}

/// How long a limit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// N working or calendar days, ending at the close of working hours.
    Days { n: u32, unit: DayUnit },
    /// N hours: working hours only (`Working`) or hours on the clock (`Calendar`).
    Hours { n: u32, unit: DayUnit },
    /// By the close of working hours on the day it starts (the next working day, if it starts
    /// after hours or on a day nobody works).
    SameWorkingDay,
}

/// What a time limit is measured from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// When this stage (or this tier of a repeating stage) started.
    StageStart,
    /// When the challenge was raised.
    FirstRaised,
    /// When the disagreement arose, as the raise form records it (the raising, where not given).
    Arose,
    /// When the previous stage ended: the escalation into this stage (not restarted by a
    /// repeating stage's tiers).
    PreviousStageEnd,
    /// Another named step, e.g. Sunderland's written response "within 5 days of the review".
    Step(String),
}

impl Limit {
    /// When this limit runs out, started at `from`, under the policy's calendar rules.
    pub fn due(
        &self,
        from: DateTime<Utc>,
        cal: &Calendar,
        calendar_days: &CalendarDays,
    ) -> Result<DateTime<Utc>, CalendarError> {
        match self.span {
            Span::Days { n, unit } => {
                let due = cal.due(from, n, unit)?;
                let day = cal.local_date(due);
                if unit == DayUnit::Calendar
                    && calendar_days.next_working_day
                    && !cal.is_working_day(day)?
                {
                    Ok(cal.close_of(cal.add_working_days(day, 1)?))
                } else {
                    Ok(due)
                }
            }
            Span::Hours {
                n,
                unit: DayUnit::Calendar,
            } => Ok(from + chrono::Duration::hours(i64::from(n))),
            Span::Hours {
                n,
                unit: DayUnit::Working,
            } => cal.add_working_hours(from, n),
            Span::SameWorkingDay => cal.same_working_day(from),
        }
    }
}

/// A named duty inside a stage that has its own clock (Sunderland's review and written response).
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub source: String,
    pub limit: Option<Limit>,
    /// Whose duty the step is, where the procedure names it; `EachSide` makes it one duty per
    /// side, each done by that side's own people.
    pub by: Option<StepBy>,
    pub prompt: String,
}

/// Who owes a named step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepBy {
    EachSide,
    Raising,
    Receiving,
    Board,
}

/// A mandatory form or written account.
#[derive(Debug, Clone)]
pub struct Form {
    pub id: String,
    pub name: String,
    pub source: String,
    /// Its template, relative to the policies folder: `<board>/forms/<form id>.html.j2` unless
    /// the policy names another.
    pub template: String,
    /// The template's text, read when the policy was loaded from its folder.
    pub template_text: Option<String>,
}

/// Someone the procedure says must be told, and when.
#[derive(Debug, Clone)]
pub struct Notice {
    pub who: NoticeTarget,
    pub when: NoticeWhen,
    pub message: String,
    pub source: String,
    /// Set for a notice the procedure makes conditional: its id and the yes/no question, in the
    /// procedure's own words, asked in the form that sends it. Only "yes" sends it.
    pub offered: Option<Offer>,
}

/// The question that decides whether an offered notice is sent.
#[derive(Debug, Clone)]
pub struct Offer {
    pub id: String,
    pub question: String,
}

/// Who a notice goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeTarget {
    BoardBusinessUnit,
    BoardChair,
    OtherAgency,
}

/// When a notice is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeWhen {
    /// When the stage is reached.
    OnEntry,
    /// Before the escalation into this stage is made (Rochdale: tell the other agency first).
    BeforeEscalating,
    /// At once when a dispute is raised as urgent.
    OnUrgent,
}

/// People who must be kept off a stage's panel.
#[derive(Debug, Clone)]
pub struct Exclusion {
    pub who: ExclusionRule,
    pub source: String,
}

/// Which people an exclusion names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExclusionRule {
    /// Anyone who has taken part in the dispute (Sunderland stage 4).
    InvolvedInCase,
}

impl Policy {
    /// The working-day calendar the policy names (its bank-holiday division and working hours),
    /// from the holiday data built into the service.
    pub fn calendar(&self) -> Result<crate::calendar::Calendar, String> {
        crate::calendar::BankHolidays::embedded()
            .calendar(&self.calendar, self.hours)
            .map_err(|e| e.to_string())
    }

    /// The stage with this number.
    pub fn stage(&self, number: u32) -> Option<&Stage> {
        self.stages.iter().find(|s| s.number == number)
    }

    /// The last stage: escalation past it is refused.
    pub fn last_stage(&self) -> u32 {
        self.stages.last().map_or(0, |s| s.number)
    }

    /// The ladder for an agency kind, or the policy's `any` ladder for kinds it does not name.
    pub fn ladder(&self, kind: &str) -> Option<&Ladder> {
        self.ladders
            .iter()
            .find(|l| l.kind == kind)
            .or_else(|| self.ladders.iter().find(|l| l.kind == ANY_KIND))
    }

    /// The category with this id.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// The step with this id, and the stage it belongs to.
    pub fn step(&self, id: &str) -> Option<(&Stage, &Step)> {
        self.stages
            .iter()
            .find_map(|s| s.steps.iter().find(|st| st.id == id).map(|st| (s, st)))
    }

    /// The notices offered (asked as yes/no questions) when escalating into `stage`, tier 0.
    pub fn offered_on_escalation(&self, stage: u32) -> Vec<&Notice> {
        self.stage(stage)
            .map(|s| s.notify.iter().filter(|n| n.offered.is_some()).collect())
            .unwrap_or_default()
    }

    /// The notices offered (asked as yes/no questions) in the raise form: the urgent route's
    /// and stage 1's.
    pub fn offered_on_raise(&self) -> Vec<&Notice> {
        self.urgent
            .notify
            .iter()
            .chain(self.stage(1).into_iter().flat_map(|s| &s.notify))
            .filter(|n| n.offered.is_some())
            .collect()
    }

    /// A level's display name.
    pub fn level_name(&self, rank: usize) -> &str {
        self.levels.get(rank).map_or("?", |l| l.name.as_str())
    }
}

/// Why policies could not be loaded; each problem names its file and line.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    #[error("no policy files (*.toml) in {0}")]
    Empty(PathBuf),
    #[error("two policies have the id {id:?}: {first} and {second}")]
    DuplicateId {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
}

/// Every board policy known to a deployment, by id.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: BTreeMap<String, Policy>,
}

impl PolicySet {
    /// Loads every `*.toml` directly inside `dir` (the `demo/` folder is not a policy).
    pub fn load_dir(dir: &Path) -> Result<PolicySet, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(LoadError::Empty(dir.to_path_buf()));
        }
        let mut set = PolicySet::default();
        let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut problems = Vec::new();
        for path in paths {
            match load_file(&path) {
                Ok(policy) => {
                    if let Some(first) = origin.get(&policy.id) {
                        return Err(LoadError::DuplicateId {
                            id: policy.id,
                            first: first.clone(),
                            second: path,
                        });
                    }
                    origin.insert(policy.id.clone(), path);
                    set.policies.insert(policy.id.clone(), policy);
                }
                Err(LoadError::Invalid(mut p)) => problems.append(&mut p),
                Err(other) => return Err(other),
            }
        }
        if problems.is_empty() {
            Ok(set)
        } else {
            Err(LoadError::Invalid(problems))
        }
    }

    /// A set holding the given policies (tests and simulations).
    pub fn from_policies(policies: impl IntoIterator<Item = Policy>) -> PolicySet {
        PolicySet {
            policies: policies.into_iter().map(|p| (p.id.clone(), p)).collect(),
        }
    }

    /// The policy with this id.
    pub fn get(&self, id: &str) -> Option<&Policy> {
        self.policies.get(id)
    }

    /// All policies, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Policy> {
        self.policies.values()
    }

    /// The policy ids, for messages that list what exists.
    pub fn ids(&self) -> Vec<&str> {
        self.policies.keys().map(String::as_str).collect()
    }
}

/// Loads and validates one policy file.
pub fn load_file(path: &Path) -> Result<Policy, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    check::parse(&path.display().to_string(), &text, path.parent()).map_err(LoadError::Invalid)
}

/// The policies shipped in the repository's `policies/` folder, for tests and defaults.
pub fn default_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}
