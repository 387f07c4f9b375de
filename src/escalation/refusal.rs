//! Why a command was refused, in words the person who asked can act on.

use crate::privacy::IdentifiableKind;

/// A refused command. Every message says what went wrong and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this challenge has already been raised")]
    AlreadyRaised,
    #[error(
        "there is no open challenge with that reference; check it against the list of your open challenges"
    )]
    NotRaised,
    #[error(
        "{reference} is {status}: nothing more can be done on it except referring learning to the board"
    )]
    Closed { reference: String, status: String },
    #[error(
        "you are not a party to {reference}, a manager of a party, or the board business unit, so you cannot act on it; ask one of the parties to add you"
    )]
    NotPermitted { reference: String },
    #[error("{name} is not in the directory; ask your agency administrator to add you")]
    UnknownPerson { name: String },
    #[error("stage {stage} asks {asked} to acknowledge, not you")]
    NotAskedToAcknowledge { stage: u32, asked: String },
    #[error(
        "{reference} is at its final stage ({name}); it cannot be escalated further. Propose a resolution or ask the board business unit for advice"
    )]
    FinalStage { reference: String, name: String },
    #[error(
        "this step is late (it was due {due}); the procedure asks you to account for the delay: give a reason for the delay with this action or record it first"
    )]
    DelayReasonRequired { due: String },
    #[error("{reference} has no late step to explain: it is not past its deadline")]
    NotLate { reference: String },
    #[error(
        "a resolution proposed by {by} is waiting for the other side; they confirm or reject it first"
    )]
    ProposalPending { by: String },
    #[error("there is no proposed resolution to {action}; propose one first")]
    NoProposal { action: String },
    #[error(
        "the other side confirms or rejects a resolution; you cannot {action} your own side's proposal"
    )]
    SameSide { action: String },
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{message}")]
    Identifiable {
        field: String,
        kinds: Vec<IdentifiableKind>,
        message: String,
    },
    /// From this stage the procedure puts moving it in the hands of the stage's owners and
    /// those above them; others add notes and ask them.
    #[error(
        "from {stage} of this procedure, {holders} (or those above them) {action}, not you ({section}); you can add a note, or ask them to act"
    )]
    NotStageHolder {
        stage: String,
        holders: String,
        action: String,
        section: String,
    },
    /// The person already did this (a second press of the same button): every platform gives
    /// this same answer, and nothing new is recorded.
    #[error("{what}; nothing more is needed")]
    AlreadyDone { what: String },
    /// Someone the procedure keeps off the board's panel was named as a member.
    #[error(
        "{name} cannot sit on the {body}: {reason} ({section}); name members who have not been involved in the case"
    )]
    Excluded {
        name: String,
        body: String,
        reason: String,
        section: String,
    },
    /// A determination asked for at a stage the parties settle between them.
    #[error(
        "{stage} is settled between the parties, not decided by the board; propose a resolution instead"
    )]
    NotDecidedByBoard { stage: String },
    /// A determination recorded by someone who is not one of the board's people.
    #[error(
        "the {body}'s determination is recorded by the board's people ({holders}), not you; you can add a note to the record"
    )]
    BoardRecords { body: String, holders: String },
    /// A party tried to answer a determination as if it were a proposal.
    #[error(
        "{reference} was decided by the {body}; a determination is final, not a proposal to {action}: add your view as a note"
    )]
    Determined {
        reference: String,
        body: String,
        action: String,
    },
    #[error("{0}")]
    Calendar(String),
}

impl Refusal {
    /// The form field a refusal is about, for inline errors in Slack modals and Teams cards.
    pub fn field(&self) -> Option<&str> {
        match self {
            Refusal::Invalid { field, .. } | Refusal::Identifiable { field, .. } => Some(field),
            Refusal::DelayReasonRequired { .. } => Some("delay_reason"),
            Refusal::Excluded { .. } => Some("members"),
            _ => None,
        }
    }
}
