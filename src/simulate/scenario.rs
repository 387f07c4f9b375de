//! The scenario file: which policy, which directory, then who does what and when.

use crate::directory::{Directory, PersonId};
use crate::escalation::{
    Answers, Command, ContactFormat, DeterminedAction, RaiseDetails, Reference,
};
use crate::policy::{Policy, PolicySet};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why a scenario cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read the scenario {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the scenario {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// A scripted dispute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows, in a line.
    pub title: String,
    /// The board policy id.
    pub policy: String,
    /// The directory file, relative to the scenario file.
    pub directory: PathBuf,
    /// Let the scheduler's time run on to here after the last step (reminders, overdue prompts).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    #[serde(rename = "step")]
    pub steps: Vec<ScenarioStep>,
    #[serde(skip)]
    base: PathBuf,
}

/// One timestamped action by one person.
#[derive(Debug, Clone, Deserialize)]
pub struct ScenarioStep {
    pub at: DateTime<Utc>,
    pub by: PersonId,
    /// Set when the step shows a rule refusing something: part of the expected refusal message.
    #[serde(default)]
    pub expect_refusal: Option<String>,
    #[serde(flatten)]
    pub action: Action,
}

/// What a step does; `do = "..."` in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Raise(RaiseDetails),
    Note {
        text: String,
        #[serde(default)]
        how: Option<ContactFormat>,
        #[serde(default)]
        held_at: Option<DateTime<Utc>>,
    },
    Escalate {
        reason: String,
        #[serde(default)]
        delay_reason: Option<String>,
        #[serde(default)]
        notices: Answers,
    },
    Acknowledge,
    ProposeResolution {
        rationale: String,
        outcome: String,
        outstanding: String,
        #[serde(default)]
        delay_reason: Option<String>,
    },
    ConfirmResolution,
    RejectResolution {
        reason: String,
    },
    RecordDelayReason {
        reason: String,
    },
    CompleteStep {
        step: String,
        /// When the step happened, where that was before the scenario records it.
        #[serde(default)]
        at: Option<DateTime<Utc>>,
        #[serde(default)]
        note: Option<String>,
    },
    BringDeadlineForward {
        due: DateTime<Utc>,
        reason: String,
    },
    Withdraw {
        reason: String,
    },
    ReferLearning {
        text: String,
    },
    RecordDetermination {
        members: Vec<String>,
        met_at: DateTime<Utc>,
        outcome: String,
        #[serde(default)]
        actions: Vec<DeterminedAction>,
    },
}

impl Action {
    /// The action's name as written in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Raise(_) => "raise",
            Action::Note { .. } => "note",
            Action::Escalate { .. } => "escalate",
            Action::Acknowledge => "acknowledge",
            Action::ProposeResolution { .. } => "propose_resolution",
            Action::ConfirmResolution => "confirm_resolution",
            Action::RejectResolution { .. } => "reject_resolution",
            Action::RecordDelayReason { .. } => "record_delay_reason",
            Action::CompleteStep { .. } => "complete_step",
            Action::BringDeadlineForward { .. } => "bring_deadline_forward",
            Action::Withdraw { .. } => "withdraw",
            Action::ReferLearning { .. } => "refer_learning",
            Action::RecordDetermination { .. } => "record_determination",
        }
    }

    /// The core command; `reference` is used by raise only (it comes from the ledger).
    pub fn to_command(&self, reference: impl FnOnce() -> Reference) -> Command {
        match self.clone() {
            Action::Raise(details) => Command::Raise {
                reference: reference(),
                details,
            },
            Action::Note { text, how, held_at } => Command::AddNote { text, how, held_at },
            Action::Escalate {
                reason,
                delay_reason,
                notices,
            } => Command::Escalate {
                reason,
                delay_reason,
                notices,
            },
            Action::Acknowledge => Command::Acknowledge,
            Action::ProposeResolution {
                rationale,
                outcome,
                outstanding,
                delay_reason,
            } => Command::ProposeResolution {
                rationale,
                outcome,
                outstanding,
                delay_reason,
            },
            Action::ConfirmResolution => Command::ConfirmResolution,
            Action::RejectResolution { reason } => Command::RejectResolution { reason },
            Action::RecordDelayReason { reason } => Command::RecordDelayReason { reason },
            Action::CompleteStep { step, at, note } => Command::CompleteStep { step, at, note },
            Action::BringDeadlineForward { due, reason } => {
                Command::BringDeadlineForward { due, reason }
            }
            Action::Withdraw { reason } => Command::Withdraw { reason },
            Action::ReferLearning { text } => Command::ReferLearning { text },
            Action::RecordDetermination {
                members,
                met_at,
                outcome,
                actions,
            } => Command::RecordDetermination {
                members,
                met_at,
                outcome,
                actions,
            },
        }
    }
}

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut s: Scenario = toml::from_str(&text).map_err(|e| ScenarioError::Parse {
            path: path.display().to_string(),
            message: match e.span() {
                Some(span) => format!(
                    "line {}: {}",
                    text.get(..span.start)
                        .map_or(1, |t| t.lines().count().max(1)),
                    e.message().trim()
                ),
                None => e.message().trim().to_string(),
            },
        })?;
        s.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if s.steps.is_empty() {
            return Err(ScenarioError::Invalid(format!(
                "{} has no steps: add [[step]] tables",
                path.display()
            )));
        }
        Ok(s)
    }

    /// The scenario's policy from the set.
    pub fn policy<'a>(&self, policies: &'a PolicySet) -> Result<&'a Policy, ScenarioError> {
        policies.get(&self.policy).ok_or_else(|| {
            ScenarioError::Invalid(format!(
                "the scenario names the policy {:?}; known policies: {}",
                self.policy,
                policies.ids().join(", ")
            ))
        })
    }

    /// The scenario's directory, read from beside the scenario file.
    pub fn directory(&self) -> Result<Directory, ScenarioError> {
        super::load_directory(&self.directory_path())
    }

    /// Where the directory file is.
    pub fn directory_path(&self) -> PathBuf {
        self.base.join(&self.directory)
    }
}
