//! One dispute's line of the challenge log as the store keeps it: folded from its events once,
//! updated on every append in the same transaction, rebuilt with the other projections. The log
//! and the statistics read these lines instead of folding every event of a board each time.
//!
//! Only facts the events state are kept (ids, times, free text); names, timeliness and working
//! days depend on the policy, the directory and the time now, and are worked out when read.

use crate::escalation::{Concerns, Event, EventBody};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a dispute ended, as far as the record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    /// Both sides confirmed a resolution at this stage.
    ResolvedAtStage {
        stage: u32,
    },
    /// The board (its chair, panel or sub-committee) determined it at this stage.
    DeterminedAtStage {
        stage: u32,
    },
    Withdrawn,
}

impl Outcome {
    /// The words the log uses, e.g. `resolved at Step 2`.
    pub fn words(self, stage_word: &str) -> String {
        match self {
            Outcome::ResolvedAtStage { stage } => format!("resolved at {stage_word} {stage}"),
            Outcome::DeterminedAtStage { stage } => {
                format!("determined by the board at {stage_word} {stage}")
            }
            Outcome::Withdrawn => "withdrawn".to_string(),
        }
    }
}

/// One entry into a stage, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineStage {
    pub stage: u32,
    pub tier: u32,
    pub name: String,
    pub entered: DateTime<Utc>,
    /// The limit in force when it ended (a deadline brought forward counts).
    pub due: Option<DateTime<Utc>>,
    pub left: Option<DateTime<Utc>>,
}

/// A reason for delay, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDelay {
    pub stage: u32,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A dispute's log line, from its events alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub reference: String,
    pub board: String,
    pub raising: String,
    pub receiving: String,
    pub category: String,
    /// `adult`, `child` or `organisation`.
    pub concerns: String,
    pub urgent: bool,
    pub raised: DateTime<Utc>,
    pub stages: Vec<LineStage>,
    pub delay_reasons: Vec<LineDelay>,
    /// `open`, `resolved` or `withdrawn`.
    pub state: String,
    pub outcome: Option<Outcome>,
    pub highest_stage: u32,
    pub closed: Option<DateTime<Utc>>,
    pub learning_referred: u32,
    /// Events folded into it when it was last written. Events that only count on the line
    /// (notes) do not rewrite it, so it may be a few behind the dispute's newest; an append
    /// that has something to say reads the ones it missed.
    pub version: u64,
}

impl LogLine {
    /// Folds a dispute's events (in record order) into its line; None before it was raised.
    pub fn fold<'e>(reference: &str, events: impl IntoIterator<Item = &'e Event>) -> Option<Self> {
        let mut line: Option<LogLine> = None;
        let mut seen = 0;
        for e in events {
            seen += 1;
            match line.as_mut() {
                Some(l) => {
                    l.apply(e);
                }
                None => {
                    line = LogLine::raised(reference, e);
                }
            }
        }
        line.map(|mut l| {
            l.version = seen;
            l
        })
    }

    /// The line a `Raised` event starts.
    fn raised(reference: &str, e: &Event) -> Option<LogLine> {
        let EventBody::Raised {
            policy,
            raising_agency,
            receiving_agency,
            concerns,
            category,
            immediate_risk,
            ..
        } = &e.body
        else {
            return None;
        };
        Some(LogLine {
            reference: reference.to_string(),
            board: policy.clone(),
            raising: raising_agency.0.clone(),
            receiving: receiving_agency.0.clone(),
            category: category.clone(),
            concerns: match concerns {
                Concerns::Adult => "adult".into(),
                Concerns::Child => "child".into(),
                Concerns::Organisation { .. } => "organisation".into(),
            },
            urgent: *immediate_risk,
            raised: e.at,
            stages: Vec::new(),
            delay_reasons: Vec::new(),
            state: "open".into(),
            outcome: None,
            highest_stage: 0,
            closed: None,
            learning_referred: 0,
            version: 1,
        })
    }

    /// Adds one more event of the dispute; whether the line now says more than one event more
    /// (a note, say, only counts), which is when an append has something to write.
    pub fn apply(&mut self, e: &Event) -> bool {
        let before = self.clone();
        self.take(e);
        self.version += 1;
        let mut counted = before;
        counted.version = self.version;
        counted != *self
    }

    fn take(&mut self, e: &Event) {
        match &e.body {
            EventBody::UrgentRoutePrompted { .. } => self.urgent = true,
            EventBody::StageStarted {
                stage,
                tier,
                name,
                due,
                ..
            } => {
                self.leave(e.at);
                self.highest_stage = self.highest_stage.max(*stage);
                self.stages.push(LineStage {
                    stage: *stage,
                    tier: *tier,
                    name: name.clone(),
                    entered: e.at,
                    due: *due,
                    left: None,
                });
            }
            EventBody::DeadlineBroughtForward { stage, due, .. } => {
                if let Some(s) = self.stages.last_mut().filter(|s| s.stage == *stage) {
                    s.due = Some(*due);
                }
            }
            EventBody::DelayReasonRecorded { stage, reason } => {
                self.delay_reasons.push(LineDelay {
                    stage: *stage,
                    reason: reason.clone(),
                    at: e.at,
                });
            }
            EventBody::ResolutionConfirmed { .. } => {
                self.leave(e.at);
                self.state = "resolved".into();
                self.outcome = Some(Outcome::ResolvedAtStage {
                    stage: self.stages.last().map_or(self.highest_stage, |s| s.stage),
                });
                self.closed = Some(e.at);
            }
            EventBody::DeterminationRecorded { stage, .. } => {
                self.leave(e.at);
                self.state = "resolved".into();
                self.outcome = Some(Outcome::DeterminedAtStage { stage: *stage });
                self.closed = Some(e.at);
            }
            EventBody::Withdrawn { .. } => {
                self.leave(e.at);
                self.state = "withdrawn".into();
                self.outcome = Some(Outcome::Withdrawn);
                self.closed = Some(e.at);
            }
            EventBody::LearningReferred { .. } => self.learning_referred += 1,
            _ => {}
        }
    }

    /// Marks the running stage left at `at`.
    fn leave(&mut self, at: DateTime<Utc>) {
        if let Some(s) = self.stages.last_mut().filter(|s| s.left.is_none()) {
            s.left = Some(at);
        }
    }
}
