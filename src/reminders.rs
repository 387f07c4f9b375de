//! Which future work a batch of events schedules, and which it cancels.
//!
//! Reminders fall at the opening of working hours before a deadline; the first overdue prompt at
//! the next working hour after it (at once for an urgent dispute), then one each working day;
//! an acknowledgement nudge when the policy's window closes. Moving on (a new stage, a deadline
//! brought forward, a resolution or withdrawal) cancels what was planned for the old stage.

use crate::calendar::Calendar;
use crate::escalation::{Dispute, Event, EventBody, Status, SystemCommand};
use crate::policy::Policy;
use crate::store::NewSchedule;
use chrono::{DateTime, Utc};

/// Schedule kinds, as stored.
pub const REMINDER: &str = "reminder";
/// Overdue prompts.
pub const OVERDUE: &str = "overdue";
/// Acknowledgement nudges.
pub const ACK_NUDGE: &str = "ack_nudge";
/// Reminders to acknowledge, the working morning after a stage starts.
pub const ACK_REMINDER: &str = "ack_reminder";
/// Reminders and overdue prompts for named steps.
pub const STEP: &str = "step";

/// Rows to add and kinds to cancel (cancels apply before the new rows are added).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub add: Vec<NewSchedule>,
    pub cancel: Vec<String>,
}

fn entry(
    reference: &str,
    kind: &str,
    at: DateTime<Utc>,
    command: &SystemCommand,
    slot: &str,
) -> NewSchedule {
    let (stage, tier) = command.stage_tier();
    NewSchedule {
        idempotency_key: format!("{reference}:{kind}:{stage}:{tier}:{slot}"),
        kind: kind.to_string(),
        due_at: at,
        payload: serde_json::to_value(command).unwrap_or_default(),
    }
}

/// When work due at `at` may be posted: the next working hour, unless the dispute is urgent.
pub fn working_time(cal: &Calendar, at: DateTime<Utc>, urgent: bool) -> Option<DateTime<Utc>> {
    if urgent {
        Some(at)
    } else {
        cal.next_working_time(at).ok()
    }
}

/// The schedule changes for `events` decided at `now` on a dispute that is `after` them.
pub fn plan(
    policy: &Policy,
    cal: &Calendar,
    after: &Dispute,
    events: &[Event],
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::default();
    let Some(reference) = after.reference.as_ref().map(ToString::to_string) else {
        return plan;
    };
    let has = |f: fn(&EventBody) -> bool| events.iter().any(|e| f(&e.body));
    let stage_started = has(|b| matches!(b, EventBody::StageStarted { .. }));
    let brought_forward = has(|b| matches!(b, EventBody::DeadlineBroughtForward { .. }));
    let closed = after.status != Status::Open;
    // Recording the step a stage's deadline times (Sunderland's review) meets that deadline.
    let met = has(|b| matches!(b, EventBody::StepCompleted { .. }))
        && crate::escalation::stage_met(policy, after);
    if stage_started || brought_forward || closed || met {
        plan.cancel.push(REMINDER.into());
        plan.cancel.push(OVERDUE.into());
    }
    if stage_started || closed {
        plan.cancel.push(ACK_NUDGE.into());
        plan.cancel.push(ACK_REMINDER.into());
        plan.cancel.push(STEP.into());
    }
    if closed {
        return plan;
    }
    let (stage, tier) = (after.stage, after.tier);
    if (stage_started || brought_forward)
        && let Some(due) = after.due
    {
        let due_us = due.timestamp_micros().to_string();
        for n in &policy.reminders.working_days_before {
            let Ok(day) = cal.working_days_before(cal.local_date(due), *n) else {
                continue;
            };
            // "On the day" (0) of a deadline that falls on a weekend or a bank holiday (a
            // calendar-day limit) has no working hours before the deadline to post in.
            if !cal.is_working_day(day).unwrap_or(false) {
                continue;
            }
            let at = cal.open_of(day);
            if at > now && at < due {
                let command = SystemCommand::Remind { stage, tier, due };
                plan.add.push(entry(
                    &reference,
                    REMINDER,
                    at,
                    &command,
                    &format!("{due_us}:{n}"),
                ));
            }
        }
        if let Some(at) = working_time(cal, due, after.urgent) {
            let command = SystemCommand::Overdue {
                stage,
                tier,
                due,
                count: 1,
            };
            plan.add.push(entry(
                &reference,
                OVERDUE,
                at,
                &command,
                &format!("{due_us}:1"),
            ));
        }
    }
    if stage_started
        && !after.awaiting_ack.is_empty()
        && let (Some(ack), Some(started)) = (&policy.acknowledgement, after.stage_started_at)
        && let Ok(window_end) = cal.due(started, ack.days, ack.unit)
        && let Some(at) = working_time(cal, window_end, after.urgent)
    {
        let command = SystemCommand::NudgeAcknowledgement { stage, tier };
        plan.add
            .push(entry(&reference, ACK_NUDGE, at, &command, "window"));
    }
    // Whoever is asked to take over and has not acknowledged by the next working morning is
    // reminded then, in the thread and by direct message (journey 1: the GP lead on Monday).
    if stage_started
        && !after.awaiting_ack.is_empty()
        && let Some(started) = after.stage_started_at
        && let Ok(next_day) = cal.add_working_days(cal.local_date(started), 1)
    {
        let at = cal.open_of(next_day);
        if after.due.is_none_or(|due| at < due) {
            let command = SystemCommand::RemindAcknowledgement { stage, tier };
            plan.add
                .push(entry(&reference, ACK_REMINDER, at, &command, "morning"));
        }
    }
    // Named steps with their own clocks: a reminder before, and a prompt once it has passed.
    for e in events {
        let steps: &[crate::escalation::StepDue] = match &e.body {
            EventBody::StageStarted { steps_due, .. } => steps_due,
            EventBody::StepCompleted { then_due, .. } => then_due,
            _ => continue,
        };
        for s in steps {
            let slot = format!("{}:{}", s.step, s.due.timestamp_micros());
            for n in &policy.reminders.working_days_before {
                let Ok(day) = cal.working_days_before(cal.local_date(s.due), *n) else {
                    continue;
                };
                let at = cal.open_of(day);
                if cal.is_working_day(day).unwrap_or(false) && at > now && at < s.due {
                    let command = SystemCommand::StepDue {
                        stage,
                        tier,
                        step: s.step.clone(),
                        due: s.due,
                        overdue: false,
                    };
                    plan.add.push(entry(
                        &reference,
                        STEP,
                        at,
                        &command,
                        &format!("{slot}:before{n}"),
                    ));
                }
            }
            if let Some(at) = working_time(cal, s.due, after.urgent) {
                let command = SystemCommand::StepDue {
                    stage,
                    tier,
                    step: s.step.clone(),
                    due: s.due,
                    overdue: true,
                };
                plan.add.push(entry(
                    &reference,
                    STEP,
                    at,
                    &command,
                    &format!("{slot}:overdue"),
                ));
            }
        }
    }
    for e in events {
        if let EventBody::OverduePrompted { due, count, .. } = &e.body {
            // Once per working day while overdue: the opening of the working day after the one
            // this prompt is posted on. A prompt recorded out of hours (the service was down)
            // is posted at the next working hour, so the next one must not land on that day too.
            let posted = working_time(cal, now, after.urgent).unwrap_or(now);
            let next_day = cal
                .add_working_days(cal.local_date(posted), 1)
                .map(|d| cal.open_of(d));
            if let Ok(at) = next_day {
                let command = SystemCommand::Overdue {
                    stage,
                    tier,
                    due: *due,
                    count: count + 1,
                };
                let slot = format!("{}:{}", due.timestamp_micros(), count + 1);
                plan.add
                    .push(entry(&reference, OVERDUE, at, &command, &slot));
            }
        }
    }
    plan
}
