//! What people (and the service's own scheduler) ask a dispute to do.

use super::Reference;
use crate::directory::{AgencyId, PersonId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether the disagreement concerns an adult, a child (where the procedure covers children) or
/// an organisation (Durham's form asks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Concerns {
    Adult,
    Child,
    Organisation { name: String },
}

impl Concerns {
    /// The word a policy's `serves.concerns` uses for this.
    pub fn word(&self) -> &'static str {
        match self {
            Concerns::Adult => "adult",
            Concerns::Child => "child",
            Concerns::Organisation { .. } => "organisation",
        }
    }
}

/// The answers to offered notices' yes/no questions, by notice id.
pub type Answers = BTreeMap<String, bool>;

/// One action a board's determination sets: who does what, by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeterminedAction {
    pub who: String,
    pub what: String,
    pub by: NaiveDate,
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
    /// When the disagreement arose, where earlier than raising it here: limits measured "from
    /// arising" (Durham step 1, Sunderland stage 1) run from it.
    #[serde(default)]
    pub arose_at: Option<DateTime<Utc>>,
    /// Why it is raised after the first limit has run out, where the policy asks (Durham).
    #[serde(default)]
    pub delay_reason: Option<String>,
    /// Answers to the notices the raise form offers.
    #[serde(default)]
    pub notices: Answers,
}

/// A request to change a dispute.
#[allow(
    clippy::large_enum_variant,
    reason = "a command lives for one request; boxing the raise form's details would only add noise at every call site"
)]
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
        /// Answers to the notices the procedure offers on escalating into the next stage.
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
    /// The board's determination at a stage it decides: who sat, when it met, the outcome and
    /// the actions. `members` are directory ids, emails or names as typed.
    RecordDetermination {
        members: Vec<String>,
        met_at: DateTime<Utc>,
        outcome: String,
        #[serde(default)]
        actions: Vec<DeterminedAction>,
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
            Command::RecordDetermination { .. } => "record determination",
        }
    }
}
