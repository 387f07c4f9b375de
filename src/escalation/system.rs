//! What the service itself does as time passes: reminders, overdue prompts, acknowledgement nudges.
//!
//! The scheduler turns due schedule rows into these commands; the core decides them like any
//! other, so every reminder is an event in the record. A command about a stage, tier or deadline
//! that has since changed is stale and produces nothing.

use super::{Context, Dispute, EventBody, Status};
use crate::calendar::format_uk_short;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Work the scheduler asks the core to do for a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SystemCommand {
    /// Remind the owners that the stage falls due at `due`.
    Remind {
        stage: u32,
        tier: u32,
        due: DateTime<Utc>,
    },
    /// The stage due at `due` is overdue; `count` is which working day's prompt this is.
    Overdue {
        stage: u32,
        tier: u32,
        due: DateTime<Utc>,
        count: u32,
    },
    /// Tell the next level up about anyone who has not acknowledged the stage.
    NudgeAcknowledgement { stage: u32, tier: u32 },
    /// Remind the people asked to take over a stage who have not acknowledged it yet.
    RemindAcknowledgement { stage: u32, tier: u32 },
    /// A named step (Sunderland's written response, the QA chair's proforma) falls due at
    /// `due` (`overdue` false: a reminder before it) or has passed it (`overdue` true).
    StepDue {
        stage: u32,
        tier: u32,
        step: String,
        due: DateTime<Utc>,
        overdue: bool,
    },
}

impl SystemCommand {
    /// The stage and tier the command was planned for.
    pub fn stage_tier(&self) -> (u32, u32) {
        match self {
            SystemCommand::Remind { stage, tier, .. }
            | SystemCommand::Overdue { stage, tier, .. }
            | SystemCommand::NudgeAcknowledgement { stage, tier }
            | SystemCommand::RemindAcknowledgement { stage, tier }
            | SystemCommand::StepDue { stage, tier, .. } => (*stage, *tier),
        }
    }
}

/// The events a system command causes now; empty when it is stale or nothing is owed.
pub fn decide_system(d: &Dispute, command: &SystemCommand, ctx: &Context<'_>) -> Vec<EventBody> {
    let (stage, tier) = command.stage_tier();
    if d.status != Status::Open || d.stage != stage || d.tier != tier {
        return Vec::new();
    }
    let policy = ctx.policy;
    match command {
        SystemCommand::Remind { due, .. } => {
            if d.due != Some(*due) || ctx.now >= *due || super::stage_met(policy, d) {
                return Vec::new();
            }
            vec![EventBody::ReminderSent {
                stage,
                due: *due,
                recipients: d.owners().cloned().collect(),
            }]
        }
        SystemCommand::Overdue { due, count, .. } => {
            // Nothing is owed once the work the deadline times is recorded (Sunderland's review).
            if d.due != Some(*due) || ctx.now < *due || super::stage_met(policy, d) {
                return Vec::new();
            }
            let owed = super::lateness(policy, d, ctx.now).owed;
            let required = policy.delay_reason.required;
            let next = if stage < policy.last_stage() {
                format!(
                    "escalate to {} {} now",
                    policy.stage_word.to_lowercase(),
                    stage + 1
                )
            } else {
                "propose a resolution or ask the board business unit for advice".to_string()
            };
            let mut prompt = match owed {
                Some(step) => format!(
                    "{} ({} {stage}) was due {}. Record it once it has happened; otherwise the procedure expects you to {next}, or to record the reason for the delay.",
                    step.name,
                    policy.stage_word.to_lowercase(),
                    format_uk_short(*due)
                ),
                None => format!(
                    "{} {stage} was due {}. The procedure expects you to {next}, or to record the reason for the delay.",
                    policy.stage_word,
                    format_uk_short(*due)
                ),
            };
            if required && !d.delay_reason_recorded {
                prompt.push_str(&format!(
                    " The {} procedure asks for the reason for the delay: record it with the next action. ({})",
                    policy.name, policy.delay_reason.source
                ));
            } else if required {
                prompt.push_str(" A reason for the delay is on record.");
            }
            vec![EventBody::OverduePrompted {
                stage,
                due: *due,
                count: *count,
                prompt,
                delay_reason_required: required,
                delay_reason_given: d.delay_reason_recorded,
            }]
        }
        SystemCommand::StepDue {
            step, due, overdue, ..
        } => {
            // Only while the step is still owed, on the deadline it was planned for.
            if d.steps_done.contains_key(step) || d.steps_due.get(step) != Some(due) {
                return Vec::new();
            }
            if *overdue != (ctx.now >= *due) {
                return Vec::new();
            }
            // A duty each side owes is named with the agency that owes it.
            let (id, side) = super::split_duty(step);
            let name = policy
                .step(id)
                .map_or_else(|| id.to_string(), |(_, s)| s.name.clone());
            let owing = match side {
                Some(super::Side::Raising) => d.raising_agency.as_ref(),
                Some(super::Side::Receiving) => d.receiving_agency.as_ref(),
                None => None,
            };
            let name = match owing.and_then(|a| ctx.directory.agency(a)) {
                Some(agency) => format!("{name} ({})", agency.name),
                None => name,
            };
            let prompt = if *overdue {
                format!(
                    "{name} was due {}. Record it when it is done, or record why it is late.",
                    format_uk_short(*due)
                )
            } else {
                format!("Reminder: {name} is due {}.", format_uk_short(*due))
            };
            vec![EventBody::StepPrompted {
                stage,
                step: step.clone(),
                due: *due,
                overdue: *overdue,
                prompt,
            }]
        }
        SystemCommand::RemindAcknowledgement { .. } => {
            if d.awaiting_ack.is_empty() {
                return Vec::new();
            }
            vec![EventBody::AcknowledgementReminded {
                stage,
                waiting: d.awaiting_ack.clone(),
            }]
        }
        SystemCommand::NudgeAcknowledgement { .. } => {
            let Some(ack) = &policy.acknowledgement else {
                return Vec::new();
            };
            let dir = ctx.directory;
            let mut events = Vec::new();
            for waiting in &d.awaiting_ack {
                if d.nudged.contains(waiting) {
                    continue;
                }
                let Some(person) = dir.person(waiting) else {
                    continue;
                };
                let level = dir
                    .agency(&person.agency)
                    .and_then(|a| policy.ladder(&a.kind))
                    .and_then(|l| l.rungs.iter().find(|r| r.id == person.role))
                    .map(|r| r.level);
                if !level.is_some_and(|l| ack.nudge_levels.contains(&l)) {
                    continue;
                }
                let told: Vec<_> = dir
                    .managers_of(waiting)
                    .first()
                    .map(|m| m.id.clone())
                    .into_iter()
                    .collect();
                if told.is_empty() {
                    continue;
                }
                events.push(EventBody::AcknowledgementNudged {
                    stage,
                    waiting: waiting.clone(),
                    told,
                    prompt: ack.prompt.split_whitespace().collect::<Vec<_>>().join(" "),
                });
            }
            events
        }
    }
}
