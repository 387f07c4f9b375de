//! What happened to a dispute: the record. Events carry every computed fact (deadlines, owners)
//! so that state can be rebuilt from them without the policy or the directory.

use super::{Concerns, ContactFormat, DeterminedAction, Reference};
use crate::directory::{AgencyId, DirectoryVersion, PersonId, Platform};
use crate::policy::NoticeTarget;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One event: when, who (none for the service itself), and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub actor: Option<PersonId>,
    /// The directory the service decided it with, so the record says which people, roles and
    /// reporting lines applied; part of the hashed body. Absent on events recorded before the
    /// service kept it (their stored bodies, and so their hashes, are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectoryVersion>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// A step's own deadline, computed when its clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDue {
    pub step: String,
    pub due: DateTime<Utc>,
}

/// The facts each kind of event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// Shown before anything else when an adult is at immediate risk.
    UrgentRoutePrompted {
        prompt: String,
        source: String,
    },
    Raised {
        reference: Reference,
        policy: String,
        raised_by: PersonId,
        raising_agency: AgencyId,
        receiving_agency: AgencyId,
        other_professional: Option<PersonId>,
        concerns: Concerns,
        category: String,
        summary: String,
        possible_cause: Option<String>,
        desired_outcome: String,
        adults_views: Option<String>,
        case_reference: String,
        immediate_risk: bool,
        /// When the disagreement arose, where the raiser said it was earlier than raising it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arose_at: Option<DateTime<Utc>>,
    },
    StageStarted {
        stage: u32,
        /// How many tiers up a repeating stage has gone (0 on entry).
        tier: u32,
        name: String,
        /// None where the procedure sets no number, or the limit waits for a step.
        due: Option<DateTime<Utc>>,
        /// The limit in words, e.g. "5 working days from the stage start".
        timescale: String,
        owners_raising: Vec<PersonId>,
        owners_receiving: Vec<PersonId>,
        awaiting_ack: Vec<PersonId>,
        formal_challenge: bool,
        form: Option<String>,
        excluded: Vec<PersonId>,
        steps_due: Vec<StepDue>,
        prompt: String,
        /// At a stage the board decides: the body's name, and the board's people who own it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decided_by: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        deciders: Vec<PersonId>,
    },
    BoardNotified {
        who: NoticeTarget,
        recipients: Vec<PersonId>,
        message: String,
        source: String,
    },
    OtherAgencyNotified {
        agency: AgencyId,
        message: String,
        source: String,
    },
    NoteAdded {
        text: String,
        how: Option<ContactFormat>,
        held_at: Option<DateTime<Utc>>,
    },
    Escalated {
        from_stage: u32,
        from_tier: u32,
        to_stage: u32,
        to_tier: u32,
        reason: String,
    },
    Acknowledged {
        stage: u32,
    },
    DelayReasonRecorded {
        stage: u32,
        reason: String,
    },
    StepCompleted {
        step: String,
        stage: u32,
        then_due: Vec<StepDue>,
        /// When the step happened, where that was before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        happened_at: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    DeadlineBroughtForward {
        stage: u32,
        due: DateTime<Utc>,
        reason: String,
    },
    ResolutionProposed {
        rationale: String,
        outcome: String,
        outstanding: String,
    },
    ResolutionConfirmed {
        rationale: String,
        outcome: String,
        outstanding: String,
    },
    ResolutionRejected {
        reason: String,
    },
    Withdrawn {
        reason: String,
    },
    LearningReferred {
        text: String,
    },
    /// A notice the procedure makes conditional was asked about: the answer, either way. A
    /// "yes" is followed by the notice itself.
    NoticeAnswered {
        id: String,
        who: NoticeTarget,
        question: String,
        answer: bool,
        source: String,
    },
    /// The board's determination at a stage it decides: it closes the dispute.
    DeterminationRecorded {
        stage: u32,
        /// The body as the procedure names it, e.g. "NSAB resolution panel".
        body: String,
        members: Vec<PersonId>,
        met_at: DateTime<Utc>,
        outcome: String,
        actions: Vec<DeterminedAction>,
    },
    /// The scheduler reminded the owners that the stage falls due.
    ReminderSent {
        stage: u32,
        due: DateTime<Utc>,
        recipients: Vec<PersonId>,
    },
    /// The stage is past its deadline: what the procedure expects now (repeated each working day).
    OverduePrompted {
        stage: u32,
        due: DateTime<Utc>,
        /// How many working days' prompts, counting this one.
        count: u32,
        prompt: String,
        /// Whether the policy asks for a reason for the delay, and whether one is on record.
        delay_reason_required: bool,
        delay_reason_given: bool,
    },
    /// A named step is due soon (`overdue` false) or has passed its deadline (`overdue` true).
    StepPrompted {
        stage: u32,
        step: String,
        due: DateTime<Utc>,
        overdue: bool,
        prompt: String,
    },
    /// The people asked to take over a stage have not acknowledged by the next working morning.
    AcknowledgementReminded {
        stage: u32,
        waiting: Vec<PersonId>,
    },
    /// Someone asked to acknowledge did not; the next level up is told, once.
    AcknowledgementNudged {
        stage: u32,
        waiting: PersonId,
        told: Vec<PersonId>,
        prompt: String,
    },
    /// The delivery worker posted the dispute's root message in an agency channel: its thread.
    ThreadOpened {
        thread: ThreadRef,
    },
}

/// Where a dispute's thread lives in one agency channel, as the chat platform identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ThreadRef {
    pub platform: Platform,
    /// Slack team id, Teams tenant id, or `sandbox`.
    pub workspace: String,
    pub channel: String,
    /// Slack `ts` of the root message, or the Teams thread's conversation id and root activity id.
    pub thread: String,
}

impl EventBody {
    /// The event kind in snake_case, as stored and as printed in timelines.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::UrgentRoutePrompted { .. } => "urgent_route_prompted",
            EventBody::Raised { .. } => "raised",
            EventBody::StageStarted { .. } => "stage_started",
            EventBody::BoardNotified { .. } => "board_notified",
            EventBody::OtherAgencyNotified { .. } => "other_agency_notified",
            EventBody::NoteAdded { .. } => "note_added",
            EventBody::Escalated { .. } => "escalated",
            EventBody::Acknowledged { .. } => "acknowledged",
            EventBody::DelayReasonRecorded { .. } => "delay_reason_recorded",
            EventBody::StepCompleted { .. } => "step_completed",
            EventBody::DeadlineBroughtForward { .. } => "deadline_brought_forward",
            EventBody::ResolutionProposed { .. } => "resolution_proposed",
            EventBody::ResolutionConfirmed { .. } => "resolution_confirmed",
            EventBody::ResolutionRejected { .. } => "resolution_rejected",
            EventBody::Withdrawn { .. } => "withdrawn",
            EventBody::LearningReferred { .. } => "learning_referred",
            EventBody::NoticeAnswered { .. } => "notice_answered",
            EventBody::DeterminationRecorded { .. } => "determination_recorded",
            EventBody::ThreadOpened { .. } => "thread_opened",
            EventBody::ReminderSent { .. } => "reminder_sent",
            EventBody::OverduePrompted { .. } => "overdue_prompted",
            EventBody::AcknowledgementNudged { .. } => "acknowledgement_nudged",
            EventBody::AcknowledgementReminded { .. } => "acknowledgement_reminded",
            EventBody::StepPrompted { .. } => "step_prompted",
        }
    }
}
