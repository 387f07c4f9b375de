//! What people (and the service's own scheduler) ask a dispute to do.

use super::Reference;
use crate::directory::{AgencyId, PersonId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether the disagreement concerns an adult or an organisation (Durham's form asks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Concerns {
    Adult,
    Organisation { name: String },
}

/// How a discussion took place (Durham's form asks for date, time and format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactFormat {
    Phone,
    Meeting,
    VideoCall,
    Email,
    Other,
}

/// Everything the raise form asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaiseDetails {
    pub receiving_agency: AgencyId,
    #[serde(default)]
    pub other_professional: Option<PersonId>,
    pub concerns: Concerns,
    /// A category id from the policy.
    pub category: String,
    /// What the disagreement is.
    pub summary: String,
    #[serde(default)]
    pub possible_cause: Option<String>,
    /// What needs to be achieved to resolve it (Norfolk 3.4, Rochdale 14.3).
    pub desired_outcome: String,
    /// The adult's views and wishes where known (Making Safeguarding Personal).
    #[serde(default)]
    pub adults_views: Option<String>,
    /// The raising agency's own case reference: how the record points at the client without naming them.
    pub case_reference: String,
    pub immediate_risk: bool,
}

/// A request to change a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    Raise {
        reference: Reference,
        details: RaiseDetails,
    },
    AddNote {
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
    /// A named step of the stage happened: at `at` when that was earlier than now, with an
    /// optional note for the record.
    CompleteStep {
        step: String,
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
}

impl Command {
    /// The command's name as people see it in messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Raise { .. } => "raise",
            Command::AddNote { .. } => "note",
            Command::Escalate { .. } => "escalate",
            Command::Acknowledge => "acknowledge",
            Command::ProposeResolution { .. } => "propose resolution",
            Command::ConfirmResolution => "confirm resolution",
            Command::RejectResolution { .. } => "reject resolution",
            Command::RecordDelayReason { .. } => "record reason for delay",
            Command::CompleteStep { .. } => "complete step",
            Command::BringDeadlineForward { .. } => "bring deadline forward",
            Command::Withdraw { .. } => "withdraw",
            Command::ReferLearning { .. } => "refer learning",
        }
    }
}
