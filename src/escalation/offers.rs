//! What is late on a dispute, and which actions the core would accept from somebody now.
//!
//! Posts offer buttons from [`offers`], so a button nobody may press is never shown; the rules
//! here read the same state and helpers `decide` uses, and a test checks the two agree.

use super::decide::escalation_target;
use super::{Command, Dispute, Refusal, Side, Status, Verb};
use crate::directory::Directory;
use crate::policy::{Anchor, Limit, Policy, Step, StepBy};
use chrono::{DateTime, Utc};

/// The key a step is recorded and timed under: its id, or `id@raising` / `id@receiving` for a
/// duty each side owes on its own (each side's senior officer tells the chair).
pub fn duty_key(id: &str, side: Option<Side>) -> String {
    match side {
        None => id.to_string(),
        Some(Side::Raising) => format!("{id}@raising"),
        Some(Side::Receiving) => format!("{id}@receiving"),
    }
}

/// A step key's step id and, for a duty of one side, that side.
pub fn split_duty(key: &str) -> (&str, Option<Side>) {
    match key.split_once('@') {
        Some((id, "raising")) => (id, Some(Side::Raising)),
        Some((id, "receiving")) => (id, Some(Side::Receiving)),
        _ => (key, None),
    }
}

/// The duties a step makes: one for each side where each side owes it, else one.
pub(super) fn duties(step: &Step) -> Vec<Option<Side>> {
    if step.by == Some(StepBy::EachSide) {
        vec![Some(Side::Raising), Some(Side::Receiving)]
    } else {
        vec![None]
    }
}

/// Whether every duty of a step is recorded.
fn step_done(d: &Dispute, step: &Step) -> bool {
    duties(step)
        .into_iter()
        .all(|side| d.steps_done.contains_key(&duty_key(&step.id, side)))
}

/// When a step was done, once all its duties are: the clock of any step timed from it.
pub(super) fn step_time(d: &Dispute, policy: &Policy, id: &str) -> Option<DateTime<Utc>> {
    if let Some(at) = d.steps_done.get(id) {
        return Some(*at);
    }
    let (_, step) = policy.step(id)?;
    duties(step)
        .into_iter()
        .map(|side| d.steps_done.get(&duty_key(id, side)).copied())
        .collect::<Option<Vec<_>>>()
        .and_then(|times| times.into_iter().max())
}

/// A step (or one side's duty) past its own deadline and not recorded.
#[derive(Debug, Clone)]
pub struct LateStep<'p> {
    pub step: &'p Step,
    pub side: Option<Side>,
    pub due: DateTime<Utc>,
}

/// What is late at a moment: the stage's own work, and named steps past their own clocks.
#[derive(Debug, Clone)]
pub struct Lateness<'p> {
    /// The stage's deadline has passed and the work it times is not done.
    pub stage_late: bool,
    /// The step the stage's deadline times and that is still owed (Sunderland's review), if
    /// the stage names its steps.
    pub owed: Option<&'p Step>,
    /// Steps with their own clocks that have passed them and are not recorded, with when each
    /// was due (one entry per side for a duty each side owes).
    pub late_steps: Vec<LateStep<'p>>,
}

impl Lateness<'_> {
    /// Whether anything the procedure timed is late.
    pub fn any(&self) -> bool {
        self.stage_late || !self.late_steps.is_empty()
    }
}

/// Steps of the current stage that the stage's own deadline times (those without a clock of
/// their own).
fn stage_timed_steps<'p>(policy: &'p Policy, d: &Dispute) -> Vec<&'p Step> {
    policy
        .stage(d.stage)
        .map(|s| s.steps.iter().filter(|st| st.limit.is_none()).collect())
        .unwrap_or_default()
}

/// Whether the work the stage's deadline times is done: a stage that names its steps is met
/// once every step without a clock of its own is recorded (Sunderland stage 3's review). A
/// stage without named steps is met only by moving on.
pub fn stage_met(policy: &Policy, d: &Dispute) -> bool {
    let timed = stage_timed_steps(policy, d);
    !timed.is_empty() && timed.iter().all(|s| step_done(d, s))
}

/// What is late on `d` at `now`.
pub fn lateness<'p>(policy: &'p Policy, d: &Dispute, now: DateTime<Utc>) -> Lateness<'p> {
    if d.status != Status::Open {
        return Lateness {
            stage_late: false,
            owed: None,
            late_steps: Vec::new(),
        };
    }
    let owed = stage_timed_steps(policy, d)
        .into_iter()
        .find(|s| !step_done(d, s));
    let stage_late = d.due.is_some_and(|due| now > due) && !stage_met(policy, d);
    let late_steps = policy
        .stage(d.stage)
        .map(|stage| {
            stage
                .steps
                .iter()
                .flat_map(|s| duties(s).into_iter().map(move |side| (s, side)))
                .filter_map(|(s, side)| {
                    let key = duty_key(&s.id, side);
                    if d.steps_done.contains_key(&key) {
                        return None;
                    }
                    d.steps_due
                        .get(&key)
                        .filter(|due| now > **due)
                        .map(|due| LateStep {
                            step: s,
                            side,
                            due: *due,
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    Lateness {
        stage_late,
        owed,
        late_steps,
    }
}

/// The steps of the current stage that can be recorded now: not yet recorded, and any step
/// they are timed from already recorded.
pub fn open_steps<'p>(policy: &'p Policy, d: &Dispute) -> Vec<&'p Step> {
    let Some(stage) = policy.stage(d.stage) else {
        return Vec::new();
    };
    stage
        .steps
        .iter()
        .filter(|s| !step_done(d, s))
        .filter(|s| match &s.limit {
            Some(Limit {
                from: Anchor::Step(before),
                ..
            }) => step_time(d, policy, before).is_some(),
            _ => true,
        })
        .collect()
}

/// The actions the core would accept from at least one person at `now`, in display order.
/// Raising is not among them: it starts a new dispute.
pub fn offers(policy: &Policy, dir: &Directory, d: &Dispute, now: DateTime<Utc>) -> Vec<Verb> {
    let mut out = Vec::new();
    match d.status {
        Status::NotRaised => return out,
        // The parties may add their view of the board's determination as a note.
        Status::Resolved if d.determination.is_some() => {
            out.push(Verb::AddNote);
            out.push(Verb::ReferLearning);
            return out;
        }
        Status::Resolved | Status::Withdrawn => {
            out.push(Verb::ReferLearning);
            return out;
        }
        Status::Open => {}
    }
    if !d.awaiting_ack.is_empty() {
        out.push(Verb::Acknowledge);
    }
    out.push(Verb::AddNote);
    if !open_steps(policy, d).is_empty() {
        out.push(Verb::CompleteStep);
    }
    if lateness(policy, d, now).any() && !d.delay_reason_recorded {
        out.push(Verb::RecordDelayReason);
    }
    if d.proposal.is_some() {
        out.push(Verb::ConfirmResolution);
        out.push(Verb::RejectResolution);
    } else {
        if escalation_target(policy, dir, d).is_some() {
            out.push(Verb::Escalate);
        }
        out.push(Verb::ProposeResolution);
    }
    if d.decided_by.is_some() {
        out.push(Verb::RecordDetermination);
    }
    let brings_forward = policy
        .stage(d.stage)
        .is_some_and(|s| s.bring_forward_source.is_some());
    if brings_forward && d.due.is_some_and(|due| due > now) {
        out.push(Verb::BringDeadlineForward);
    }
    out.push(Verb::Withdraw);
    // Learning can be referred at any time; it is offered where the procedures ask for it: at
    // the final stage (Rochdale 14.3.1 stage 6) and once the challenge closes (Norfolk 9.1).
    if d.stage >= policy.last_stage() {
        out.push(Verb::ReferLearning);
    }
    out
}

/// The one or two actions the stage expects of the people reading a post now, chosen from
/// [`offers`] so every platform puts the same ones up front (the rest stay one step away, in
/// an overflow menu or further along): a closed challenge asks only for learning; a proposal
/// waits for its answer; a late stage asks for its reason for delay, on its own; otherwise
/// acknowledging a new stage comes first, then a named step that can be recorded, then the
/// note of the discussion the stage is for.
pub fn expected(policy: &Policy, dir: &Directory, d: &Dispute, now: DateTime<Utc>) -> Vec<Verb> {
    let offered = offers(policy, dir, d, now);
    let priority: &[Verb] = match d.status {
        Status::Open if d.proposal.is_some() => &[Verb::ConfirmResolution, Verb::RejectResolution],
        Status::Open if offered.contains(&Verb::RecordDelayReason) => &[Verb::RecordDelayReason],
        Status::Open => &[Verb::Acknowledge, Verb::CompleteStep, Verb::AddNote],
        _ => &[Verb::ReferLearning],
    };
    priority
        .iter()
        .copied()
        .filter(|v| offered.contains(v))
        .take(2)
        .collect()
}

/// A command of `verb` with placeholder content, to ask the core whether a person may do it
/// at all before they fill in its form (raising has none: it needs no dispute).
pub fn probe(verb: Verb, policy: &Policy, d: &Dispute, now: DateTime<Utc>) -> Option<Command> {
    let text = || "A placeholder to ask whether this may be done.".to_string();
    Some(match verb {
        Verb::Raise => return None,
        Verb::AddNote => Command::AddNote {
            text: text(),
            how: None,
            held_at: None,
        },
        Verb::Acknowledge => Command::Acknowledge,
        Verb::Escalate => Command::Escalate {
            reason: text(),
            delay_reason: Some(text()),
            notices: Default::default(),
        },
        Verb::ProposeResolution => Command::ProposeResolution {
            rationale: text(),
            outcome: text(),
            outstanding: text(),
            delay_reason: Some(text()),
        },
        Verb::ConfirmResolution => Command::ConfirmResolution,
        Verb::RejectResolution => Command::RejectResolution { reason: text() },
        Verb::RecordDelayReason => Command::RecordDelayReason { reason: text() },
        Verb::CompleteStep => Command::CompleteStep {
            step: open_steps(policy, d).first().map(|s| s.id.clone())?,
            at: None,
            note: None,
        },
        Verb::BringDeadlineForward => Command::BringDeadlineForward {
            due: match d.due {
                Some(due) if due > now => now + (due - now) / 2,
                _ => now + chrono::Duration::hours(1),
            },
            reason: text(),
        },
        Verb::Withdraw => Command::Withdraw { reason: text() },
        Verb::ReferLearning => Command::ReferLearning { text: text() },
        Verb::RecordDetermination => Command::RecordDetermination {
            members: Vec::new(),
            met_at: now,
            outcome: text(),
            actions: Vec::new(),
        },
    })
}

impl Refusal {
    /// Whether the refusal is about what was written in a form (so a form is worth opening),
    /// rather than about who is asking or where the challenge stands.
    pub fn is_about_content(&self) -> bool {
        matches!(
            self,
            Refusal::Invalid { .. }
                | Refusal::Identifiable { .. }
                | Refusal::Excluded { .. }
                | Refusal::DelayReasonRequired { .. }
                | Refusal::Calendar(_)
        )
    }
}
