//! Writes the posts people see from a dispute's state and its new events.

use super::forms::{self, FormContext};
use super::grammar::{self, button_label};
use super::message::{Button, CommandButton, Line, Message, MessageKind, Span};
use crate::calendar::{Calendar, format_uk_short};
use crate::directory::{Directory, PersonId};
use crate::escalation::{
    Dispute, Event, EventBody, Status, Verb, expected, lateness, offers, side_of, stage_met,
};
use crate::policy::{NoticeTarget, Policy};
use chrono::{DateTime, Utc};

/// What a post is composed from besides the dispute: the board's policy and calendar, the
/// directory, and the time the post is about (which buttons the core would accept then).
#[derive(Clone, Copy)]
pub struct Scene<'a> {
    pub policy: &'a Policy,
    pub calendar: &'a Calendar,
    pub dir: &'a Directory,
    pub now: DateTime<Utc>,
}

/// "Team Manager, Norfolk Adult Social Care": how posts name people (role and agency).
pub fn role_and_agency(policy: &Policy, dir: &Directory, id: &PersonId) -> String {
    let Some(person) = dir.person(id) else {
        return id.0.clone();
    };
    let agency = dir.agency(&person.agency);
    let role = agency
        .and_then(|a| policy.ladder(&a.kind))
        .and_then(|l| l.rungs.iter().find(|r| r.id == person.role))
        .map(|r| r.title.clone())
        .or_else(|| {
            policy
                .board
                .rungs
                .iter()
                .find(|r| r.id == person.role)
                .map(|r| r.title.clone())
        })
        .unwrap_or_else(|| person.role.clone());
    match agency {
        Some(a) => format!("{role}, {}", a.name),
        None => role,
    }
}

/// "Sam Patel (Social Worker, Norfolk Adult Social Care)": how posts and the record name people,
/// so nobody is told to talk to a role without learning who holds it.
pub fn name_and_role(policy: &Policy, dir: &Directory, id: &PersonId) -> String {
    match dir.person(id) {
        Some(p) => format!("{} ({})", p.name, role_and_agency(policy, dir, id)),
        None => id.0.clone(),
    }
}

fn mention(dir: &Directory, id: &PersonId) -> Span {
    Span::Mention {
        person: id.clone(),
        name: dir.name_of(id),
    }
}

fn agency_name(dir: &Directory, id: Option<&crate::directory::AgencyId>) -> String {
    id.and_then(|a| dir.agency(a))
        .map_or_else(String::new, |a| a.name.clone())
}

/// The dispute's reference as posts print it (empty before it is raised).
fn reference_text(d: &Dispute) -> String {
    d.reference
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// "NSAB-2026-0012 · Stage 1 of 4 · Professional to professional"
pub fn title(policy: &Policy, d: &Dispute) -> String {
    let reference = reference_text(d);
    let tier = if d.tier > 0 {
        format!(" (tier {})", d.tier + 1)
    } else {
        String::new()
    };
    format!(
        "{reference} · {} {} of {} · {}{tier}",
        policy.stage_word,
        d.stage,
        policy.last_stage(),
        d.stage_name
    )
}

/// Where a challenge stands, in words people act on: on time, due today, overdue by how many
/// working days and what is late, a proposal or acknowledgements waited for, or how it ended.
pub fn status(scene: &Scene<'_>, d: &Dispute) -> String {
    let (policy, cal, now) = (scene.policy, scene.calendar, scene.now);
    let base = match d.status {
        Status::Resolved => {
            return match &d.determination {
                Some(det) => format!("Decided by the {}", det.body),
                None => "Resolved".into(),
            };
        }
        Status::Withdrawn => return "Withdrawn".into(),
        Status::NotRaised => return String::new(),
        Status::Open => {
            let late = lateness(policy, d, now);
            match d.due {
                Some(due) if late.stage_late => {
                    let what = late
                        .owed
                        .map(|s| format!(": {} is late", s.name))
                        .unwrap_or_default();
                    format!(
                        "Overdue by {} (was due {}){what}",
                        working_days_late(cal, due, now),
                        format_uk_short(due)
                    )
                }
                _ if !late.late_steps.is_empty() => {
                    let l = &late.late_steps[0];
                    format!(
                        "Overdue: {} was due {}",
                        l.step.name,
                        format_uk_short(l.due)
                    )
                }
                Some(_) if stage_met(policy, d) => {
                    "On time: the work this stage's deadline asks for is recorded".into()
                }
                Some(due) if cal.local_date(due) == cal.local_date(now) => format!(
                    "Due today, {}",
                    due.with_timezone(&chrono_tz::Europe::London)
                        .format("%H:%M")
                ),
                Some(due) => format!("Due {} (on time)", format_uk_short(due)),
                None if d.timescale.starts_with("no fixed limit") => {
                    let mut s = d.timescale.clone();
                    s.replace_range(..1, "N");
                    s
                }
                None if d.timescale == crate::policy::NOT_STATED => {
                    "The procedure's time limit for this stage is not stated in it".into()
                }
                // A stage whose limits belong to its steps: the next step due, by name.
                None => match d
                    .steps_due
                    .iter()
                    .filter(|(k, _)| !d.steps_done.contains_key(*k))
                    .min_by_key(|(_, due)| **due)
                {
                    Some((key, due)) => {
                        let id = crate::escalation::split_duty(key).0;
                        let name = policy.step(id).map_or(id, |(_, st)| st.name.as_str());
                        format!("{name} due {} (on time)", format_uk_short(*due))
                    }
                    None => "Waiting for the step its deadline is measured from".into(),
                },
            }
        }
    };
    let mut parts = vec![base];
    if let Some(p) = &d.proposal {
        let theirs = match side_of(d, scene.dir, &p.by) {
            Some(crate::escalation::Side::Raising) => d.receiving_agency.as_ref(),
            _ => d.raising_agency.as_ref(),
        };
        parts.push(format!(
            "proposal awaiting confirmation by {}",
            agency_name(scene.dir, theirs)
        ));
    }
    if !d.awaiting_ack.is_empty() {
        let names: Vec<String> = d
            .awaiting_ack
            .iter()
            .map(|p| name_of(scene.dir, p))
            .collect();
        parts.push(format!(
            "awaiting acknowledgement from {}",
            names.join(" and ")
        ));
    }
    parts.join(" · ")
}

/// "1 working day", "3 working days": how long past `due` it is at `now`, counting the working
/// days after the deadline's own, up to today (at least one).
fn working_days_late(cal: &Calendar, due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let (mut day, today) = (cal.local_date(due), cal.local_date(now));
    let mut n = 0u32;
    while day < today && n < 3650 {
        day = day.succ_opt().unwrap_or(today);
        if cal.is_working_day(day).unwrap_or(true) {
            n += 1;
        }
    }
    let n = n.max(1);
    if n == 1 {
        "1 working day".into()
    } else {
        format!("{n} working days")
    }
}

/// A person's name, for status lines.
fn name_of(dir: &Directory, id: &PersonId) -> String {
    dir.name_of(id)
}

/// The buttons of a post: the actions the core would accept from somebody now, each with the
/// form it opens, the ones the stage expects now marked primary. Withdrawing is never one press
/// away; it is typed or asked for in words.
fn buttons(scene: &Scene<'_>, d: &Dispute) -> Vec<Button> {
    let reference = reference_text(d);
    let policy = scene.policy;
    let ctx = FormContext {
        policy,
        calendar: scene.calendar,
        directory: scene.dir,
        dispute: Some(d),
        person: None,
        now: scene.now,
    };
    let up_front = expected(policy, scene.dir, d, scene.now);
    offers(policy, scene.dir, d, scene.now)
        .into_iter()
        .filter(|v| *v != Verb::Withdraw)
        .map(|verb| Button {
            action: verb,
            label: match verb {
                Verb::Escalate => escalate_label(policy, d),
                other => button_label(other).to_string(),
            },
            reference: reference.clone(),
            primary: up_front.contains(&verb),
            form: forms::form(verb, &ctx),
        })
        .collect()
}

/// "Escalate to stage 3", or "Escalate to the next tier" within a repeating stage.
fn escalate_label(policy: &Policy, d: &Dispute) -> String {
    let repeats = policy.stage(d.stage).is_some_and(|s| s.repeats.is_some());
    if repeats {
        "Escalate to the next tier".to_string()
    } else {
        format!(
            "Escalate to {} {}",
            policy.stage_word.to_lowercase(),
            d.stage + 1
        )
    }
}

/// The prompt a post shows: the stage's while it is open, the board's learning words once it
/// is resolved.
fn current_prompt(scene: &Scene<'_>, d: &Dispute) -> Option<String> {
    let policy = scene.policy;
    match d.status {
        Status::Open => match &d.proposal {
            // While a proposal waits, the next move is the other side's answer to it.
            Some(p) => {
                let theirs = match side_of(d, scene.dir, &p.by) {
                    Some(crate::escalation::Side::Raising) => d.receiving_agency.as_ref(),
                    _ => d.raising_agency.as_ref(),
                };
                Some(format!(
                    "{} has proposed a resolution. {} confirms it in writing, or rejects it with the reason; until then the challenge stays at this stage.",
                    name_of(scene.dir, &p.by),
                    agency_name(scene.dir, theirs)
                ))
            }
            None => Some(flat(&d.prompt)),
        },
        Status::Resolved if !policy.learning.prompt.trim().is_empty() => Some(format!(
            "{} Refer any learning for the board with the Refer learning button.",
            flat(&policy.learning.prompt)
        )),
        _ => None,
    }
}

fn footer(policy: &Policy, d: &Dispute) -> Vec<String> {
    let mut out = Vec::new();
    if d.formal_challenge {
        out.push(format!(
            "A formal challenge has been lodged under the {} procedure.",
            policy.name
        ));
    }
    if d.status == Status::Open {
        out.push(flat(&policy.record_keeping.prompt));
    }
    if let Some(form) = &d.form {
        out.push(format!("This stage needs the {form}."));
    }
    out
}

/// A prompt written over several lines in a policy file, as one line of text.
fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The dispute's root post: reference, stage, deadline, parties, summary, prompt and buttons.
pub fn root(scene: &Scene<'_>, d: &Dispute) -> Message {
    let (policy, dir) = (scene.policy, scene.dir);
    let reference = reference_text(d);
    let mut lines = Vec::new();
    if let Some(by) = &d.raised_by {
        lines.push(Line {
            label: Some("Raised by".into()),
            spans: vec![Span::text(name_and_role(policy, dir, by))],
        });
    }
    // The other professional is mentioned, so they are told in their own agency's thread; where
    // the raiser named only the agency, whoever holds the stage there is named and mentioned.
    let mut with = Vec::new();
    match &d.other_professional {
        Some(p) => {
            with.push(mention(dir, p));
            with.push(Span::text(format!(
                " ({})",
                role_and_agency(policy, dir, p)
            )));
        }
        None if !d.owners_receiving.is_empty() => {
            with.push(Span::text(format!(
                "{}: ",
                agency_name(dir, d.receiving_agency.as_ref())
            )));
            for (i, p) in d.owners_receiving.iter().enumerate() {
                if i > 0 {
                    with.push(Span::text(", "));
                }
                with.push(mention(dir, p));
                with.push(Span::text(format!(
                    " ({})",
                    role_and_agency(policy, dir, p)
                )));
            }
            with.push(Span::text(
                ", chosen by the service as the agency's contact",
            ));
        }
        None => with.push(Span::text(agency_name(dir, d.receiving_agency.as_ref()))),
    }
    lines.push(Line {
        label: Some("With".into()),
        spans: with,
    });
    if let Some(c) = policy.category(&d.category) {
        lines.push(Line {
            label: Some("Category".into()),
            spans: vec![Span::text(c.name.clone())],
        });
        if let Some(g) = &c.guidance {
            lines.push(Line {
                label: Some("Guidance".into()),
                spans: vec![Span::text(flat(g))],
            });
        }
    }
    lines.push(Line {
        label: Some("Disagreement".into()),
        spans: vec![Span::text(d.summary.clone())],
    });
    lines.push(Line {
        label: Some("Outcome wanted".into()),
        spans: vec![Span::text(d.desired_outcome.clone())],
    });
    lines.push(Line {
        label: Some("Case reference".into()),
        spans: vec![Span::text(d.case_reference.clone())],
    });
    let owners: Vec<String> = d.owners().map(|p| name_and_role(policy, dir, p)).collect();
    if !owners.is_empty() && d.status == Status::Open {
        lines.push(Line {
            label: Some("This stage".into()),
            spans: vec![Span::text(owners.join("; "))],
        });
    }
    for a in &d.acknowledged {
        lines.push(Line {
            label: None,
            spans: vec![Span::text(format!(
                "Acknowledged by {} at {}",
                name_and_role(policy, dir, &a.by),
                format_uk_short(a.at)
            ))],
        });
    }
    if !d.awaiting_ack.is_empty() {
        let mut spans = vec![Span::text("Waiting for acknowledgement from ")];
        for (i, p) in d.awaiting_ack.iter().enumerate() {
            if i > 0 {
                spans.push(Span::text(" and "));
            }
            spans.push(mention(dir, p));
        }
        lines.push(Line { label: None, spans });
    }
    if let Some(p) = &d.proposal {
        let line = match (&d.status, &d.resolved_by) {
            (Status::Resolved, Some(by)) => Line {
                label: Some("Agreed resolution".into()),
                spans: vec![Span::text(format!(
                    "{} (proposed by {}, confirmed by {}).",
                    p.outcome,
                    name_and_role(policy, dir, &p.by),
                    name_and_role(policy, dir, by)
                ))],
            },
            _ => Line {
                label: Some("Proposed resolution".into()),
                spans: vec![Span::text(format!(
                    "{} (by {}). Waiting for the other agency to confirm.",
                    p.outcome,
                    name_and_role(policy, dir, &p.by)
                ))],
            },
        };
        lines.push(line);
    }
    let title = title(policy, d);
    let status = status(scene, d);
    Message {
        kind: MessageKind::Root,
        reference,
        fallback: format!("{title} · {status}"),
        title,
        status,
        urgent: d.urgent.then(|| flat(&policy.urgent.prompt)),
        lines,
        prompt: current_prompt(scene, d),
        footer: footer(policy, d),
        commands: Vec::new(),
        buttons: buttons(scene, d),
    }
}

/// A reply in the thread saying what just happened, with the new prompt and mentions where a
/// stage has just started.
pub fn update(scene: &Scene<'_>, d: &Dispute, events: &[Event]) -> Option<Message> {
    let (policy, dir) = (scene.policy, scene.dir);
    let reference = reference_text(d);
    let mut lines = Vec::new();
    let mut prompt = None;
    let who = |e: &Event| {
        e.actor.as_ref().map_or_else(
            || "The service".to_string(),
            |a| name_and_role(policy, dir, a),
        )
    };
    for e in events {
        let text = match &e.body {
            EventBody::NoteAdded { text, how, held_at } => {
                // How and when the discussion took place, where the note says.
                let mut about: Vec<String> = Vec::new();
                if let Some(h) = how {
                    about.push(contact_format(*h).to_string());
                }
                if let Some(t) = held_at {
                    about.push(format!("on {}", crate::calendar::format_uk_long(*t)));
                }
                let about = if about.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", about.join(", "))
                };
                format!("Note from {}{about}: {text}", who(e))
            }
            EventBody::Escalated {
                to_stage,
                to_tier,
                reason,
                ..
            } => {
                if *to_tier > 0 {
                    format!(
                        "{} escalated to the next management tier of {} {to_stage}. Why: {reason}",
                        who(e),
                        policy.stage_word.to_lowercase()
                    )
                } else {
                    format!(
                        "{} escalated to {} {to_stage}. Why: {reason}",
                        who(e),
                        policy.stage_word.to_lowercase()
                    )
                }
            }
            EventBody::StageStarted { awaiting_ack, .. } => {
                prompt = Some(flat(&d.prompt));
                if !awaiting_ack.is_empty() {
                    let mut spans = vec![Span::text("Asked to take over and acknowledge: ")];
                    for (i, p) in awaiting_ack.iter().enumerate() {
                        if i > 0 {
                            spans.push(Span::text(", "));
                        }
                        spans.push(mention(dir, p));
                    }
                    lines.push(Line { label: None, spans });
                }
                continue;
            }
            EventBody::Acknowledged { .. } => format!("Acknowledged by {}", who(e)),
            EventBody::DelayReasonRecorded { reason, .. } => {
                format!("Reason for delay recorded by {}: {reason}", who(e))
            }
            EventBody::StepCompleted {
                step,
                then_due,
                happened_at,
                note,
                ..
            } => {
                let name = policy
                    .step(step)
                    .map_or(step.clone(), |(_, s)| s.name.clone());
                let next: Vec<String> = then_due
                    .iter()
                    .map(|s| {
                        let n = policy
                            .step(&s.step)
                            .map_or(s.step.clone(), |(_, st)| st.name.clone());
                        format!("{n} due {}", format_uk_short(s.due))
                    })
                    .collect();
                let when = happened_at
                    .map(|t| format!(" (it happened {})", format_uk_short(t)))
                    .unwrap_or_default();
                let note = note
                    .as_ref()
                    .map(|n| format!(" Note: {n}"))
                    .unwrap_or_default();
                if next.is_empty() {
                    format!("{name}: recorded by {}{when}.{note}", who(e))
                } else {
                    format!(
                        "{name}: recorded by {}{when}. {}.{note}",
                        who(e),
                        next.join("; ")
                    )
                }
            }
            EventBody::DeadlineBroughtForward { due, reason, .. } => {
                format!(
                    "{} brought the deadline forward to {} to protect the adult: {reason}",
                    who(e),
                    format_uk_short(*due)
                )
            }
            EventBody::ResolutionProposed {
                rationale,
                outcome,
                outstanding,
            } => format!(
                "{} proposed a resolution. Rationale: {rationale} Agreed outcome: {outcome} Outstanding issues: {outstanding} The other agency confirms or rejects it.",
                who(e)
            ),
            EventBody::ResolutionConfirmed {
                outcome,
                outstanding,
                ..
            } => format!(
                "Resolution confirmed in writing by {}. Agreed outcome: {outcome} Outstanding issues: {outstanding}",
                who(e)
            ),
            EventBody::ResolutionRejected { reason } => {
                format!("{} rejected the proposed resolution: {reason}", who(e))
            }
            EventBody::Withdrawn { reason } => {
                format!("{} withdrew the challenge: {reason}", who(e))
            }
            EventBody::LearningReferred { text } => {
                format!("{} referred learning to the board: {text}", who(e))
            }
            EventBody::NoticeAnswered {
                question, answer, ..
            } => format!(
                "{} answered {}: {question}{}",
                who(e),
                if *answer { "yes" } else { "no" },
                if *answer {
                    " The notice is sent."
                } else {
                    " No notice is sent."
                }
            ),
            EventBody::DeterminationRecorded {
                body,
                members,
                met_at,
                outcome,
                actions,
                ..
            } => {
                let sat: Vec<String> = members.iter().map(|m| name_of(dir, m)).collect();
                let todo: Vec<String> = actions
                    .iter()
                    .map(|a| format!("{}: {} by {}", a.who, a.what, a.by.format("%-d %B %Y")))
                    .collect();
                format!(
                    "The {body} met on {} ({}) and determined: {outcome}{} Recorded by {}. The determination closes the challenge; the parties can add their view as a note.",
                    crate::calendar::format_uk_long(*met_at),
                    sat.join(", "),
                    if todo.is_empty() {
                        String::new()
                    } else {
                        format!(" Actions: {}.", todo.join("; "))
                    },
                    who(e)
                )
            }
            EventBody::OtherAgencyNotified {
                agency, message, ..
            } => {
                format!(
                    "Notice to {}: {}",
                    agency_name(dir, Some(agency)),
                    flat(message)
                )
            }
            EventBody::BoardNotified { who: target, .. } => match target {
                NoticeTarget::BoardChair => "The board's chair has been told.".to_string(),
                _ => "The board business unit has been told.".to_string(),
            },
            EventBody::ReminderSent {
                due, recipients, ..
            } => {
                let mut spans = vec![Span::text(format!(
                    "Reminder: this stage is due {}. ",
                    format_uk_short(*due)
                ))];
                for (i, p) in recipients.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::text(", "));
                    }
                    spans.push(mention(dir, p));
                }
                lines.push(Line { label: None, spans });
                prompt = Some(flat(&d.prompt));
                continue;
            }
            EventBody::OverduePrompted {
                prompt: overdue, ..
            }
            | EventBody::StepPrompted {
                prompt: overdue, ..
            } => {
                // Late work is put to the people who hold the stage, by name, with the
                // buttons that answer it (on the thread's first post, kept current there).
                let lead = if matches!(e.body, EventBody::OverduePrompted { .. }) {
                    format!("Overdue. {overdue} ")
                } else {
                    format!("{overdue} ")
                };
                let mut spans = vec![Span::text(lead)];
                for (i, p) in d.owners().enumerate() {
                    if i > 0 {
                        spans.push(Span::text(", "));
                    }
                    spans.push(mention(dir, p));
                }
                lines.push(Line { label: None, spans });
                let answers: Vec<String> = buttons(scene, d)
                    .into_iter()
                    .filter(|b| {
                        matches!(
                            b.action,
                            Verb::CompleteStep
                                | Verb::RecordDelayReason
                                | Verb::Escalate
                                | Verb::ProposeResolution
                        )
                    })
                    .map(|b| b.label)
                    .collect();
                if !answers.is_empty() {
                    lines.push(Line {
                        label: None,
                        spans: vec![Span::text(format!(
                            "Answer it from the first post of this thread: {}.",
                            answers.join(", ")
                        ))],
                    });
                }
                continue;
            }
            EventBody::AcknowledgementReminded { waiting, .. } => {
                let mut spans = vec![Span::text("Still waiting for acknowledgement from ")];
                for (i, p) in waiting.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::text(" and "));
                    }
                    spans.push(mention(dir, p));
                }
                spans.push(Span::text(
                    ". Please acknowledge that you have taken over this stage.",
                ));
                lines.push(Line { label: None, spans });
                continue;
            }
            EventBody::AcknowledgementNudged {
                waiting,
                told,
                prompt: nudge,
                ..
            } => {
                let mut spans = vec![Span::text(format!(
                    "{} has not acknowledged yet. ",
                    role_and_agency(policy, dir, waiting)
                ))];
                for (i, p) in told.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::text(", "));
                    }
                    spans.push(mention(dir, p));
                }
                spans.push(Span::text(format!(": {nudge}")));
                lines.push(Line { label: None, spans });
                continue;
            }
            EventBody::UrgentRoutePrompted { .. }
            | EventBody::Raised { .. }
            | EventBody::ThreadOpened { .. } => continue,
        };
        lines.push(Line {
            label: None,
            spans: vec![Span::text(text)],
        });
    }
    if prompt.is_none()
        && events.iter().any(|e| {
            matches!(
                e.body,
                EventBody::ResolutionConfirmed { .. } | EventBody::DeterminationRecorded { .. }
            )
        })
    {
        prompt = current_prompt(scene, d);
    }
    if lines.is_empty() && prompt.is_none() {
        return None;
    }
    let title = title(policy, d);
    let status = status(scene, d);
    let first = lines
        .iter()
        .flat_map(|l| &l.spans)
        .find_map(|s| match s {
            Span::Text { text } => Some(text.clone()),
            Span::Mention { .. } => None,
        })
        .unwrap_or_else(|| title.clone());
    Some(Message {
        kind: MessageKind::Update,
        reference,
        fallback: format!("{title}: {first}"),
        title,
        status,
        urgent: None,
        lines,
        prompt,
        footer: if prompt_present(events) {
            footer(policy, d)
        } else {
            Vec::new()
        },
        // Replies carry no buttons: they are history, and the thread's first post, rewritten
        // with every change, is the one place the current actions are offered.
        commands: Vec::new(),
        buttons: Vec::new(),
    })
}

fn contact_format(h: crate::escalation::ContactFormat) -> &'static str {
    use crate::escalation::ContactFormat::*;
    match h {
        Phone => "by phone",
        Meeting => "at a meeting",
        VideoCall => "by video call",
        Email => "by email",
        Other => "other format",
    }
}

/// "Due Mon 8 Jun" → "due Mon 8 Jun": only the first letter, so day and month names keep theirs.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn prompt_present(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e.body, EventBody::StageStarted { .. }))
}

/// A notice to the board's channel (Norfolk stage 3 advance notice, Rochdale senior officers, …).
pub fn board_notice(scene: &Scene<'_>, d: &Dispute, message: &str, source: &str) -> Message {
    let (policy, dir) = (scene.policy, scene.dir);
    let reference = reference_text(d);
    let title = title(policy, d);
    let status = status(scene, d);
    let parties = format!(
        "{} and {}",
        agency_name(dir, d.raising_agency.as_ref()),
        agency_name(dir, d.receiving_agency.as_ref())
    );
    Message {
        kind: MessageKind::Notice,
        fallback: format!("{title}: {}", flat(message)),
        reference,
        title,
        status,
        urgent: d.urgent.then(|| flat(&policy.urgent.prompt)),
        lines: vec![
            Line {
                label: None,
                spans: vec![Span::text(flat(message))],
            },
            Line {
                label: Some("Agencies".into()),
                spans: vec![Span::text(parties)],
            },
        ],
        prompt: None,
        footer: vec![format!("{} ({source})", policy.document)],
        // The board's own channels are where its business unit and chair are: each notice
        // offers the Board's view, exactly as typing `board` would.
        commands: vec![CommandButton {
            word: grammar::BOARD_WORD.into(),
            label: "Board view".into(),
        }],
        buttons: Vec::new(),
    }
}

/// A direct message to one person about the dispute: a reminder, a nudge, what is owed.
pub fn direct(scene: &Scene<'_>, d: &Dispute, text: &str, with_ack_button: bool) -> Message {
    let policy = scene.policy;
    let reference = reference_text(d);
    let title = title(policy, d);
    let status = status(scene, d);
    Message {
        kind: MessageKind::Direct,
        fallback: format!("{title}: {text}"),
        reference: reference.clone(),
        title,
        status,
        urgent: d.urgent.then(|| flat(&policy.urgent.prompt)),
        lines: vec![Line {
            label: None,
            spans: vec![Span::text(text)],
        }],
        prompt: Some(flat(&d.prompt)),
        footer: Vec::new(),
        commands: Vec::new(),
        buttons: if with_ack_button {
            vec![Button {
                action: Verb::Acknowledge,
                label: button_label(Verb::Acknowledge).into(),
                reference,
                primary: true,
                form: None,
            }]
        } else {
            Vec::new()
        },
    }
}

/// A direct message to someone asked to acknowledge a stage.
pub fn asked_to_acknowledge(scene: &Scene<'_>, d: &Dispute) -> Message {
    let mut m = direct(
        scene,
        d,
        "You are asked to take over this stage of a professional challenge. Please acknowledge in the thread, or here.",
        true,
    );
    m.fallback = format!("You are asked to take over {}. {}", m.title, m.status);
    m
}

/// A private answer to the person who acted: what happened, and the urgent prompt first if any.
pub fn receipt(scene: &Scene<'_>, d: &Dispute, events: &[Event]) -> Message {
    let policy = scene.policy;
    let reference = reference_text(d);
    let title = title(policy, d);
    let status = status(scene, d);
    let raised = events
        .iter()
        .any(|e| matches!(e.body, EventBody::Raised { .. }));
    let text = if raised {
        format!(
            "{reference} raised: {} {}, {}. Threads opened in both agencies' channels.",
            policy.stage_word,
            d.stage,
            lower_first(&status)
        )
    } else {
        let mut kinds: Vec<String> = Vec::new();
        for e in events {
            let kind = e.body.kind().replace('_', " ");
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        format!("Recorded on {reference} ({}). {status}.", kinds.join(", "))
    };
    let urgent = events.iter().find_map(|e| match &e.body {
        EventBody::UrgentRoutePrompted { prompt, .. } => Some(flat(prompt)),
        _ => None,
    });
    Message {
        kind: MessageKind::Receipt,
        fallback: match &urgent {
            Some(u) => format!("{u} {text}"),
            None => text.clone(),
        },
        reference,
        title,
        status,
        urgent,
        lines: vec![Line {
            label: None,
            spans: vec![Span::text(text)],
        }],
        prompt: None,
        footer: Vec::new(),
        commands: Vec::new(),
        buttons: Vec::new(),
    }
}

/// A plain private answer (help, a refusal, who to ask), about a challenge or about none.
pub fn plain(reference: &str, text: &str) -> Message {
    Message {
        kind: MessageKind::Receipt,
        reference: reference.to_string(),
        title: "escalation-bot".into(),
        status: String::new(),
        fallback: text.to_string(),
        urgent: None,
        lines: vec![Line {
            label: None,
            spans: vec![Span::text(text)],
        }],
        prompt: None,
        footer: Vec::new(),
        commands: Vec::new(),
        buttons: Vec::new(),
    }
}

/// A notice about the service itself in a channel, about no challenge: a channel connected, the
/// app added or removed.
pub fn channel_notice(title: &str, text: &str) -> Message {
    Message {
        kind: MessageKind::Notice,
        reference: String::new(),
        title: title.to_string(),
        status: String::new(),
        fallback: format!("{title}: {text}"),
        urgent: None,
        lines: vec![Line {
            label: None,
            spans: vec![Span::text(text)],
        }],
        prompt: None,
        footer: Vec::new(),
        commands: Vec::new(),
        buttons: Vec::new(),
    }
}

/// The daily checkpoint notice in a board's channel: the record's signed head, kept where
/// someone with only the database cannot change it. `line` is the checkpoint as one line of
/// JSON, which `audit verify --checkpoints` reads back when pasted into a file.
pub fn checkpoint(board: &str, position: i64, at_local: &str, line: &str) -> Message {
    let said = format!(
        "The record as it stood at {at_local}: its newest entry is number {position} in the log. Keep this post: with it the board can prove later that nothing recorded up to now was changed or removed."
    );
    Message {
        kind: MessageKind::Notice,
        reference: String::new(),
        title: format!("Record checkpoint · {board}"),
        status: String::new(),
        fallback: format!("Record checkpoint: {said}"),
        urgent: None,
        lines: vec![
            Line {
                label: None,
                spans: vec![Span::text(said)],
            },
            Line {
                label: Some("Checkpoint".into()),
                spans: vec![Span::text(line)],
            },
        ],
        prompt: None,
        footer: vec![
            "Copy the checkpoint line into the board's checkpoints file; `escalation-bot audit verify --checkpoints FILE --public-key KEY` checks the record against every line.".into(),
        ],
        commands: Vec::new(),
        buttons: Vec::new(),
    }
}
