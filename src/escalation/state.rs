//! A dispute's current state, folded from its events and nothing else.

use super::{Concerns, DeterminedAction, Event, EventBody, Reference, StepDue, ThreadRef};
use crate::directory::{AgencyId, PersonId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a dispute is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    NotRaised,
    Open,
    Resolved,
    Withdrawn,
}

/// A proposed resolution waiting for the other side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub by: PersonId,
    pub at: DateTime<Utc>,
    pub rationale: String,
    pub outcome: String,
    pub outstanding: String,
}

/// The board's determination that closed a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determination {
    pub body: String,
    pub by: Option<PersonId>,
    pub members: Vec<PersonId>,
    pub met_at: DateTime<Utc>,
    pub outcome: String,
    pub actions: Vec<DeterminedAction>,
}

/// Who acknowledged the current stage, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: PersonId,
    pub at: DateTime<Utc>,
}

/// The state of one dispute.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dispute {
    /// How many events have been applied: the expected version for the next append.
    pub version: u64,
    pub status: Status,
    pub reference: Option<Reference>,
    pub policy: String,
    pub urgent: bool,
    pub raised_by: Option<PersonId>,
    pub raising_agency: Option<AgencyId>,
    pub receiving_agency: Option<AgencyId>,
    pub other_professional: Option<PersonId>,
    pub concerns: Option<Concerns>,
    pub category: String,
    pub summary: String,
    pub desired_outcome: String,
    pub case_reference: String,
    pub first_raised_at: Option<DateTime<Utc>>,
    /// When the disagreement arose (the raising, where the raiser did not say).
    pub arose_at: Option<DateTime<Utc>>,
    /// When the dispute entered its current stage: the end of the previous one (a repeating
    /// stage's tiers do not move it).
    pub entered_stage_at: Option<DateTime<Utc>>,
    pub stage: u32,
    pub tier: u32,
    pub stage_name: String,
    pub stage_started_at: Option<DateTime<Utc>>,
    pub due: Option<DateTime<Utc>>,
    pub timescale: String,
    pub prompt: String,
    pub owners_raising: Vec<PersonId>,
    pub owners_receiving: Vec<PersonId>,
    /// At a stage the board decides: the body's name and the board's people who own it.
    pub decided_by: Option<String>,
    pub deciders: Vec<PersonId>,
    /// The board's determination, once recorded: it closes the dispute.
    pub determination: Option<Determination>,
    pub awaiting_ack: Vec<PersonId>,
    pub acknowledged: Vec<Acknowledgement>,
    /// Everyone who has owned a stage or acted on the dispute: those Sunderland stage 4 excludes.
    pub involved: BTreeSet<PersonId>,
    pub excluded: Vec<PersonId>,
    pub formal_challenge: bool,
    pub form: Option<String>,
    pub delay_reason_recorded: bool,
    pub steps_done: BTreeMap<String, DateTime<Utc>>,
    pub steps_due: BTreeMap<String, DateTime<Utc>>,
    pub proposal: Option<Proposal>,
    /// Who confirmed the resolution, so a second press of Confirm is recognised as theirs.
    pub resolved_by: Option<PersonId>,
    pub notes: u32,
    pub closed_at: Option<DateTime<Utc>>,
    /// People asked to acknowledge this stage whose next level up has already been told.
    pub nudged: BTreeSet<PersonId>,
    /// The dispute's thread in each agency channel, once posted.
    pub threads: Vec<ThreadRef>,
}

impl Dispute {
    /// Folds events into a fresh state.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Dispute {
        let mut d = Dispute::default();
        for e in events {
            d.apply(e);
        }
        d
    }

    /// Applies one event. Pure: never fails, never looks anything up.
    pub fn apply(&mut self, event: &Event) {
        self.version += 1;
        if let Some(actor) = &event.actor {
            self.involved.insert(actor.clone());
        }
        match &event.body {
            EventBody::UrgentRoutePrompted { .. } => self.urgent = true,
            EventBody::Raised {
                reference,
                policy,
                raised_by,
                raising_agency,
                receiving_agency,
                other_professional,
                concerns,
                category,
                summary,
                desired_outcome,
                case_reference,
                immediate_risk,
                arose_at,
                ..
            } => {
                self.status = Status::Open;
                self.reference = Some(reference.clone());
                self.policy = policy.clone();
                self.raised_by = Some(raised_by.clone());
                self.raising_agency = Some(raising_agency.clone());
                self.receiving_agency = Some(receiving_agency.clone());
                self.other_professional = other_professional.clone();
                self.concerns = Some(concerns.clone());
                self.category = category.clone();
                self.summary = summary.clone();
                self.desired_outcome = desired_outcome.clone();
                self.case_reference = case_reference.clone();
                self.urgent |= *immediate_risk;
                self.first_raised_at = Some(event.at);
                self.arose_at = Some(arose_at.unwrap_or(event.at));
                self.involved.insert(raised_by.clone());
                if let Some(o) = other_professional {
                    self.involved.insert(o.clone());
                }
            }
            EventBody::StageStarted {
                stage,
                tier,
                name,
                due,
                timescale,
                owners_raising,
                owners_receiving,
                awaiting_ack,
                formal_challenge,
                form,
                excluded,
                steps_due,
                prompt,
                decided_by,
                deciders,
            } => {
                if self.stage != *stage || *tier == 0 {
                    self.entered_stage_at = Some(event.at);
                }
                self.decided_by = decided_by.clone();
                self.deciders = deciders.clone();
                self.stage = *stage;
                self.tier = *tier;
                self.stage_name = name.clone();
                self.stage_started_at = Some(event.at);
                self.due = *due;
                self.timescale = timescale.clone();
                self.prompt = prompt.clone();
                self.owners_raising = owners_raising.clone();
                self.owners_receiving = owners_receiving.clone();
                self.awaiting_ack = awaiting_ack.clone();
                self.acknowledged.clear();
                self.nudged.clear();
                self.formal_challenge = *formal_challenge;
                self.form = form.clone();
                self.excluded = excluded.clone();
                self.delay_reason_recorded = false;
                self.steps_due.clear();
                self.record_steps_due(steps_due);
                self.involved.extend(owners_raising.iter().cloned());
                self.involved.extend(owners_receiving.iter().cloned());
            }
            EventBody::Acknowledged { .. } => {
                if let Some(by) = &event.actor {
                    self.awaiting_ack.retain(|p| p != by);
                    self.acknowledged.push(Acknowledgement {
                        by: by.clone(),
                        at: event.at,
                    });
                }
            }
            EventBody::DelayReasonRecorded { .. } => self.delay_reason_recorded = true,
            EventBody::StepCompleted {
                step,
                then_due,
                happened_at,
                ..
            } => {
                self.steps_done
                    .insert(step.clone(), happened_at.unwrap_or(event.at));
                self.record_steps_due(then_due);
            }
            EventBody::DeadlineBroughtForward { due, .. } => self.due = Some(*due),
            EventBody::NoteAdded { .. } => self.notes += 1,
            EventBody::ResolutionProposed {
                rationale,
                outcome,
                outstanding,
            } => {
                if let Some(by) = &event.actor {
                    self.proposal = Some(Proposal {
                        by: by.clone(),
                        at: event.at,
                        rationale: rationale.clone(),
                        outcome: outcome.clone(),
                        outstanding: outstanding.clone(),
                    });
                }
            }
            EventBody::ResolutionRejected { .. } => self.proposal = None,
            EventBody::ResolutionConfirmed { .. } => {
                self.status = Status::Resolved;
                self.resolved_by = event.actor.clone();
                self.closed_at = Some(event.at);
                self.awaiting_ack.clear();
            }
            EventBody::Withdrawn { .. } => {
                self.status = Status::Withdrawn;
                self.closed_at = Some(event.at);
                self.awaiting_ack.clear();
                self.proposal = None;
            }
            EventBody::DeterminationRecorded {
                body,
                members,
                met_at,
                outcome,
                actions,
                ..
            } => {
                self.status = Status::Resolved;
                self.closed_at = Some(event.at);
                self.awaiting_ack.clear();
                self.proposal = None;
                self.determination = Some(Determination {
                    body: body.clone(),
                    by: event.actor.clone(),
                    members: members.clone(),
                    met_at: *met_at,
                    outcome: outcome.clone(),
                    actions: actions.clone(),
                });
            }
            EventBody::Escalated { .. }
            | EventBody::NoticeAnswered { .. }
            | EventBody::BoardNotified { .. }
            | EventBody::OtherAgencyNotified { .. }
            | EventBody::LearningReferred { .. }
            | EventBody::ReminderSent { .. }
            | EventBody::AcknowledgementReminded { .. }
            | EventBody::StepPrompted { .. }
            | EventBody::OverduePrompted { .. } => {}
            EventBody::AcknowledgementNudged { waiting, .. } => {
                self.nudged.insert(waiting.clone());
            }
            EventBody::ThreadOpened { thread } => {
                if !self.threads.contains(thread) {
                    self.threads.push(thread.clone());
                }
            }
        }
    }

    fn record_steps_due(&mut self, due: &[StepDue]) {
        for s in due {
            self.steps_due.insert(s.step.clone(), s.due);
        }
    }

    /// Whether the current stage's deadline has passed at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Open && self.due.is_some_and(|d| now > d)
    }

    /// Every person who owns the current stage, on either side.
    pub fn owners(&self) -> impl Iterator<Item = &PersonId> {
        self.owners_raising.iter().chain(&self.owners_receiving)
    }
}
