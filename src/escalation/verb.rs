//! The kinds of thing people can ask of a dispute, named once so every way in (typed command,
//! button, form) and every check that each has a way in can refer to the same list.

use super::Command;
use serde::{Deserialize, Serialize};

/// A kind of command, without its details: what a button carries and what a form submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    Raise,
    AddNote,
    Acknowledge,
    Escalate,
    ProposeResolution,
    ConfirmResolution,
    RejectResolution,
    RecordDelayReason,
    CompleteStep,
    BringDeadlineForward,
    Withdraw,
    ReferLearning,
    RecordDetermination,
}

impl Verb {
    /// Every verb, in the order buttons and help list them.
    pub const ALL: [Verb; 13] = [
        Verb::Raise,
        Verb::Acknowledge,
        Verb::AddNote,
        Verb::CompleteStep,
        Verb::RecordDelayReason,
        Verb::Escalate,
        Verb::BringDeadlineForward,
        Verb::ProposeResolution,
        Verb::ConfirmResolution,
        Verb::RejectResolution,
        Verb::RecordDetermination,
        Verb::Withdraw,
        Verb::ReferLearning,
    ];

    /// The stable id carried by buttons and forms on every platform (Slack `action_id` and
    /// `callback_id`, Teams `verb`, the sandbox's form name).
    pub fn id(self) -> &'static str {
        match self {
            Verb::Raise => "raise",
            Verb::AddNote => "add_note",
            Verb::Acknowledge => "acknowledge",
            Verb::Escalate => "escalate",
            Verb::ProposeResolution => "propose_resolution",
            Verb::ConfirmResolution => "confirm_resolution",
            Verb::RejectResolution => "reject_resolution",
            Verb::RecordDelayReason => "record_delay_reason",
            Verb::CompleteStep => "complete_step",
            Verb::BringDeadlineForward => "bring_deadline_forward",
            Verb::Withdraw => "withdraw",
            Verb::ReferLearning => "refer_learning",
            Verb::RecordDetermination => "record_determination",
        }
    }

    /// The verb with this id.
    pub fn from_id(id: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.id() == id)
    }
}

impl Command {
    /// Which kind of command this is.
    pub fn verb(&self) -> Verb {
        match self {
            Command::Raise { .. } => Verb::Raise,
            Command::AddNote { .. } => Verb::AddNote,
            Command::Escalate { .. } => Verb::Escalate,
            Command::Acknowledge => Verb::Acknowledge,
            Command::ProposeResolution { .. } => Verb::ProposeResolution,
            Command::ConfirmResolution => Verb::ConfirmResolution,
            Command::RejectResolution { .. } => Verb::RejectResolution,
            Command::RecordDelayReason { .. } => Verb::RecordDelayReason,
            Command::CompleteStep { .. } => Verb::CompleteStep,
            Command::BringDeadlineForward { .. } => Verb::BringDeadlineForward,
            Command::Withdraw { .. } => Verb::Withdraw,
            Command::ReferLearning { .. } => Verb::ReferLearning,
            Command::RecordDetermination { .. } => Verb::RecordDetermination,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        for v in Verb::ALL {
            assert_eq!(Verb::from_id(v.id()), Some(v));
            let json = serde_json::to_value(v).expect("verb serialises");
            assert_eq!(json, v.id(), "the serde name is the id");
        }
        assert_eq!(Verb::from_id("frobnicate"), None);
    }
}
