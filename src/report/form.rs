//! Forms and written accounts generated from the record: the data a board's template is given
//! (see [`crate::policy::template`]), filled from one dispute's events and nothing else.
//!
//! Free text comes only from events, which hold only what passed the screen when it was
//! recorded; everything else is a name from the policy or the directory (professionals, agencies,
//! stages) or a date the service computed. Nothing a request carries reaches a form.

use super::chart::escape;
use super::log::{self, Lens, LogRow};
use crate::calendar::format_uk_long;
use crate::directory::{Directory, PersonId};
use crate::escalation::{Concerns, ContactFormat, Event, EventBody};
use crate::policy::template::{self as t, FormData};
use crate::policy::{Form, NoticeTarget, Policy};
use chrono::{DateTime, Utc};

/// A form generated from the record: its data and its page.
#[derive(Debug, Clone)]
pub struct Generated {
    pub data: FormData,
    /// The printable page (the same HTML prints to PDF).
    pub html: String,
}

/// The forms a policy names, by id, with the stages that require each.
pub fn forms_of(policy: &Policy) -> Vec<(&Form, Vec<u32>)> {
    let mut out: Vec<(&Form, Vec<u32>)> = Vec::new();
    for s in &policy.stages {
        if let Some(f) = &s.form {
            match out.iter_mut().find(|(g, _)| g.id == f.id) {
                Some((_, stages)) => stages.push(s.number),
                None => out.push((f, vec![s.number])),
            }
        }
    }
    out
}

fn date(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::London)
        .format("%-d %b %Y")
        .to_string()
}

fn contact(how: ContactFormat) -> &'static str {
    match how {
        ContactFormat::Phone => "phone",
        ContactFormat::Meeting => "meeting",
        ContactFormat::VideoCall => "video call",
        ContactFormat::Email => "email",
        ContactFormat::Other => "other means",
    }
}

/// What the form needs besides the events.
struct Folder<'a> {
    policy: &'a Policy,
    dir: &'a Directory,
    raising: String,
    receiving: String,
}

impl Folder<'_> {
    fn person(&self, id: Option<&PersonId>) -> t::Person {
        let Some(id) = id else {
            return t::Person {
                name: "the service".into(),
                role: String::new(),
                agency: String::new(),
                side: "service".into(),
            };
        };
        let Some(p) = self.dir.person(id) else {
            return t::Person {
                name: id.0.clone(),
                role: "no longer in the directory".into(),
                agency: String::new(),
                side: String::new(),
            };
        };
        let agency = self.dir.agency(&p.agency);
        let role = agency
            .and_then(|a| self.policy.ladder(&a.kind))
            .and_then(|l| l.rungs.iter().find(|r| r.id == p.role))
            .map(|r| r.title.clone())
            .or_else(|| {
                let rungs = &self.policy.board.rungs;
                rungs
                    .iter()
                    .find(|r| r.id == p.role)
                    .map(|r| r.title.clone())
            })
            .unwrap_or_else(|| p.role.clone());
        let side = if p.agency.0 == self.raising {
            "raising"
        } else if p.agency.0 == self.receiving {
            "receiving"
        } else if agency.is_some_and(|a| a.kind == crate::directory::BOARD_KIND) {
            "board"
        } else {
            ""
        };
        t::Person {
            name: p.name.clone(),
            role,
            agency: agency.map_or_else(|| p.agency.0.clone(), |a| a.name.clone()),
            side: side.into(),
        }
    }

    fn people(&self, ids: &[PersonId]) -> Vec<t::Person> {
        ids.iter().map(|id| self.person(Some(id))).collect()
    }

    fn agency(&self, a: &log::AgencyName) -> t::Agency {
        t::Agency {
            id: a.id.clone(),
            name: a.name.clone(),
            kind: a.kind.clone(),
        }
    }
}

fn push_unique(list: &mut Vec<t::Person>, p: t::Person) {
    if !list
        .iter()
        .any(|q| q.name == p.name && q.agency == p.agency)
    {
        list.push(p);
    }
}

/// Builds a form's data from one dispute's events (in record order).
pub fn data(reference: &str, events: &[Event], form: &Form, lens: &Lens<'_>) -> Option<FormData> {
    let policy = lens.policy;
    let row: LogRow = log::fold(reference, events, lens)?;
    let word = &policy.stage_word;
    let f = Folder {
        policy,
        dir: lens.directory,
        raising: row.raising.id.clone(),
        receiving: row.receiving.id.clone(),
    };
    let mut d = FormData {
        form: t::FormInfo {
            id: form.id.clone(),
            name: form.name.clone(),
            source: form.source.clone(),
        },
        board: t::BoardInfo {
            id: policy.id.clone(),
            name: policy.name.clone(),
            document: policy.document.clone(),
            stage_word: word.clone(),
        },
        reference: reference.to_string(),
        generated: format_uk_long(lens.now),
        generated_date: date(lens.now),
        state: row.state.clone(),
        outcome: row.outcome.map(|o| o.words(word)),
        closed: row.closed.map(date),
        working_days_open: row.working_days_open,
        ..FormData::default()
    };
    // Stage entries, with their timeliness from the log's own reckoning.
    let mut stage_now = 0;
    let mut entry_index = 0;
    for e in events {
        let who = f.person(e.actor.as_ref());
        let attempt = |kind: &str, words: String, text: String, stage: u32| t::Attempt {
            when: format_uk_long(e.at),
            date: date(e.at),
            who: who.clone(),
            stage,
            kind: kind.into(),
            words,
            how: None,
            held: None,
            text,
        };
        match &e.body {
            EventBody::Raised {
                raised_by,
                other_professional,
                concerns,
                category,
                summary,
                possible_cause,
                desired_outcome,
                adults_views,
                case_reference,
                immediate_risk,
                arose_at,
                ..
            } => {
                let by = f.person(Some(raised_by));
                push_unique(&mut d.raising_people, by.clone());
                let other = other_professional.as_ref().map(|p| f.person(Some(p)));
                if let Some(o) = &other {
                    push_unique(&mut d.raised_with, o.clone());
                }
                d.raised = t::Raised {
                    when: format_uk_long(e.at),
                    date: date(e.at),
                    by,
                    raising: f.agency(&row.raising),
                    receiving: f.agency(&row.receiving),
                    other_professional: other,
                    concerns: concerns.word().to_string(),
                    organisation: match concerns {
                        Concerns::Organisation { name } => Some(name.clone()),
                        _ => None,
                    },
                    category: category.clone(),
                    category_name: row.category_name.clone(),
                    summary: summary.clone(),
                    possible_cause: possible_cause.clone(),
                    desired_outcome: desired_outcome.clone(),
                    adults_views: adults_views.clone(),
                    case_reference: case_reference.clone(),
                    urgent: *immediate_risk,
                    arose: arose_at.map(format_uk_long),
                };
            }
            EventBody::StageStarted {
                stage,
                owners_raising,
                owners_receiving,
                ..
            } => {
                stage_now = *stage;
                if let Some(s) = row.stages.get(entry_index) {
                    let entry = t::Entry {
                        stage: s.stage,
                        tier: s.tier,
                        name: s.name.clone(),
                        entered: format_uk_long(s.entered),
                        entered_date: date(s.entered),
                        due: s.due.map(format_uk_long),
                        left: s.left.map(format_uk_long),
                        timeliness: s.timeliness.word().to_string(),
                        working_days: s.working_days,
                        owners_raising: f.people(owners_raising),
                        owners_receiving: f.people(owners_receiving),
                    };
                    for p in &entry.owners_raising {
                        push_unique(&mut d.raising_people, p.clone());
                    }
                    for p in &entry.owners_receiving {
                        push_unique(&mut d.raised_with, p.clone());
                    }
                    if s.timeliness == log::Timeliness::Late {
                        d.late.push(entry.clone());
                    }
                    let requires = policy
                        .stage(s.stage)
                        .and_then(|st| st.form.as_ref())
                        .is_some_and(|g| g.id == form.id);
                    if requires {
                        d.stage = Some(entry.clone());
                    }
                    d.entries.push(entry);
                }
                entry_index += 1;
            }
            EventBody::NoteAdded { text, how, held_at } => {
                let mut a = attempt("note", "Note".into(), text.clone(), stage_now);
                a.how = how.map(|h| contact(h).to_string());
                a.held = held_at.map(format_uk_long);
                match who.side.as_str() {
                    "raising" => d.positions.raising.push(a.clone()),
                    "receiving" => d.positions.receiving.push(a.clone()),
                    _ => {}
                }
                d.attempts.push(a);
            }
            EventBody::Acknowledged { stage } => d.attempts.push(attempt(
                "acknowledged",
                format!("Acknowledged {word} {stage}"),
                String::new(),
                *stage,
            )),
            EventBody::StepCompleted {
                step,
                stage,
                happened_at,
                note,
                ..
            } => {
                let name = policy
                    .step(step)
                    .map_or_else(|| step.clone(), |(_, s)| s.name.clone());
                let mut a = attempt(
                    "step",
                    format!("Done: {name}"),
                    note.clone().unwrap_or_default(),
                    *stage,
                );
                a.held = happened_at.map(format_uk_long);
                d.attempts.push(a);
            }
            EventBody::Escalated {
                from_stage,
                to_stage,
                reason,
                ..
            } => d.attempts.push(attempt(
                "escalated",
                if from_stage == to_stage {
                    format!("Taken up a tier at {word} {to_stage}")
                } else {
                    format!("Escalated from {word} {from_stage} to {word} {to_stage}")
                },
                reason.clone(),
                *from_stage,
            )),
            EventBody::DeadlineBroughtForward { stage, due, reason } => d.attempts.push(attempt(
                "deadline_brought_forward",
                format!("Deadline brought forward to {}", format_uk_long(*due)),
                reason.clone(),
                *stage,
            )),
            EventBody::DelayReasonRecorded { stage, reason } => d.delays.push(t::Delay {
                stage: *stage,
                stage_name: policy
                    .stage(*stage)
                    .map_or_else(String::new, |s| s.name.clone()),
                when: format_uk_long(e.at),
                who: who.clone(),
                reason: reason.clone(),
            }),
            EventBody::ResolutionProposed {
                rationale,
                outcome,
                outstanding,
            }
            | EventBody::ResolutionConfirmed {
                rationale,
                outcome,
                outstanding,
            } => {
                let confirmed = matches!(e.body, EventBody::ResolutionConfirmed { .. });
                let r = t::Resolution {
                    when: format_uk_long(e.at),
                    who: who.clone(),
                    rationale: rationale.clone(),
                    outcome: outcome.clone(),
                    outstanding: outstanding.clone(),
                };
                let text =
                    format!("Rationale: {rationale} Outcome: {outcome} Outstanding: {outstanding}");
                if confirmed {
                    d.attempts.push(attempt(
                        "confirmed",
                        "Resolution confirmed in writing".into(),
                        text,
                        stage_now,
                    ));
                    d.confirmations.push(r);
                } else {
                    d.attempts.push(attempt(
                        "proposed",
                        "Resolution proposed".into(),
                        text,
                        stage_now,
                    ));
                    d.proposals.push(r);
                }
            }
            EventBody::ResolutionRejected { reason } => d.attempts.push(attempt(
                "rejected",
                "Resolution not accepted".into(),
                reason.clone(),
                stage_now,
            )),
            EventBody::DeterminationRecorded {
                stage,
                body,
                members,
                met_at,
                outcome,
                actions,
            } => {
                d.attempts.push(attempt(
                    "determined",
                    format!("Determined by the {body}"),
                    outcome.clone(),
                    *stage,
                ));
                d.determination = Some(t::Determination {
                    stage: *stage,
                    body: body.clone(),
                    met: format_uk_long(*met_at),
                    members: f.people(members),
                    outcome: outcome.clone(),
                    actions: actions
                        .iter()
                        .map(|a| t::Action {
                            who: a.who.clone(),
                            what: a.what.clone(),
                            by: a.by.format("%-d %b %Y").to_string(),
                        })
                        .collect(),
                });
            }
            EventBody::Withdrawn { reason } => d.attempts.push(attempt(
                "withdrawn",
                "Withdrawn".into(),
                reason.clone(),
                stage_now,
            )),
            EventBody::LearningReferred { text } => {
                let a = attempt(
                    "learning",
                    "Learning referred to the board".into(),
                    text.clone(),
                    stage_now,
                );
                d.learning.push(a);
            }
            EventBody::BoardNotified { who, message, .. } => d.board_notices.push(t::BoardNotice {
                when: format_uk_long(e.at),
                date: date(e.at),
                to: match who {
                    NoticeTarget::BoardBusinessUnit => "business unit",
                    NoticeTarget::BoardChair => "chair",
                    NoticeTarget::OtherAgency => "other agency",
                }
                .into(),
                message: message.clone(),
            }),
            _ => {}
        }
    }
    d.stages = policy
        .stages
        .iter()
        .map(|s| {
            let first = row.stages.iter().find(|e| e.stage == s.number);
            let last = row.stages.iter().rev().find(|e| e.stage == s.number);
            t::StageLine {
                number: s.number,
                name: s.name.clone(),
                level: policy.level_name(s.raising_level).to_string(),
                timescale: crate::policy::describe_timescale(&s.timescale),
                reached: first.is_some(),
                entered: first.map(|e| format_uk_long(e.entered)),
                entered_date: first.map(|e| date(e.entered)),
                timeliness: last.map_or("not reached", |e| e.timeliness.word()).into(),
                requires_form: s.form.as_ref().is_some_and(|g| g.id == form.id),
            }
        })
        .collect();
    Some(d)
}

/// Renders a form's data with its template into the printable page.
pub fn render(form: &Form, data: &FormData) -> Result<String, String> {
    let Some(text) = &form.template_text else {
        return Err(format!(
            "the template {} was not loaded with the policy; run `escalation-bot policy check`",
            form.template
        ));
    };
    let body = crate::policy::template::render(&form.template, text, data)?;
    let title = format!("{} · {}", data.reference, data.form.name);
    let foot = format!(
        "<p class=\"generated\">Generated from the record of {} on {}. Everything in it was recorded by the service; free text is as the parties wrote it, after the check for client-identifiable detail. Required by {} ({}).</p>\n",
        escape(&data.reference),
        escape(&data.generated),
        escape(&data.board.document),
        escape(&data.form.source),
    );
    Ok(super::page::html(&title, &format!("{body}\n{foot}")))
}
