//! A dispute's complete record as a document: every event in order with who, when and what, and
//! the result of checking its hash chain — what a Safeguarding Adults Review or a court asks for.

use super::chart::escape;
use crate::calendar::format_uk_long;
use crate::directory::{Directory, DirectoryVersion, PersonId};
use crate::escalation::{Concerns, ContactFormat, EventBody};
use crate::store::DisputeRecord;
use serde::Serialize;

/// One line of the record as people read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub seq: i64,
    /// RFC 3339 with the UK offset.
    pub at: String,
    /// UK local time as a document gives it.
    pub when: String,
    /// The person's id, or none for the service itself.
    pub actor: Option<String>,
    /// Name, role and agency, or "the service".
    pub who: String,
    pub kind: String,
    pub what: String,
    /// Which directory the service decided it with, e.g. `change 3 (sha256 1a2b3c4d5e6f)`;
    /// none for events recorded before the service kept it.
    pub directory: Option<String>,
    pub hash: String,
}

/// The record ready to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    pub reference: String,
    pub events: Vec<Line>,
    /// `intact`, or where and how the chain is broken.
    pub chain: String,
    pub chain_intact: bool,
}

/// Who a person id is, as the directory names them now.
pub fn who(directory: &Directory, actor: Option<&PersonId>) -> String {
    let Some(id) = actor else {
        return "the service".into();
    };
    match directory.person(id) {
        Some(p) => {
            let agency = directory
                .agency(&p.agency)
                .map_or(p.agency.0.as_str(), |a| a.name.as_str());
            format!("{} ({}, {agency})", p.name, p.role)
        }
        None => format!("{} (no longer in the directory)", directory.name_of(id)),
    }
}

fn people(directory: &Directory, ids: &[PersonId]) -> String {
    if ids.is_empty() {
        return "nobody".into();
    }
    ids.iter()
        .map(|id| directory.name_of(id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an event recorded, in one sentence (free text as the parties wrote it, screened).
pub fn what(directory: &Directory, body: &EventBody) -> String {
    let agency = |id: &crate::directory::AgencyId| {
        directory
            .agency(id)
            .map_or(id.0.clone(), |a| a.name.clone())
    };
    match body {
        EventBody::UrgentRoutePrompted { prompt, .. } => format!("Urgent route shown: {prompt}"),
        EventBody::NoticeAnswered {
            question, answer, ..
        } => format!(
            "Asked \"{question}\": {}",
            if *answer {
                "yes (notice sent)"
            } else {
                "no (not sent)"
            }
        ),
        EventBody::DeterminationRecorded {
            stage,
            body,
            members,
            met_at,
            outcome,
            actions,
        } => {
            let members: Vec<String> = members.iter().map(|m| directory.name_of(m)).collect();
            let mut s = format!(
                "Determined at stage {stage} by {body} (met {}; members: {}). Outcome: {outcome}",
                crate::calendar::format_uk_long(*met_at),
                members.join(", ")
            );
            for a in actions {
                s.push_str(&format!("\nAction: {} to {} by {}", a.who, a.what, a.by));
            }
            s
        }
        EventBody::Raised {
            raising_agency,
            receiving_agency,
            concerns,
            category,
            summary,
            possible_cause,
            desired_outcome,
            adults_views,
            case_reference,
            immediate_risk,
            ..
        } => {
            let concerns = match concerns {
                Concerns::Adult => "an adult".to_string(),
                Concerns::Child => "a child".to_string(),
                Concerns::Organisation { name } => format!("an organisation ({name})"),
            };
            let mut s = format!(
                "Raised by {} with {}; concerns {concerns}; category {category}; immediate risk: {}. Summary: {summary}",
                agency(raising_agency),
                agency(receiving_agency),
                if *immediate_risk { "yes" } else { "no" }
            );
            if let Some(c) = possible_cause {
                s.push_str(&format!(" Possible cause: {c}"));
            }
            s.push_str(&format!(" Outcome wanted: {desired_outcome}"));
            if let Some(v) = adults_views {
                s.push_str(&format!(" Adult's views: {v}"));
            }
            s.push_str(&format!(" Case reference: {case_reference}."));
            s
        }
        EventBody::StageStarted {
            stage,
            tier,
            name,
            due,
            timescale,
            owners_raising,
            owners_receiving,
            form,
            ..
        } => {
            let tier = if *tier > 0 {
                format!(" (tier {})", tier + 1)
            } else {
                String::new()
            };
            let due = due.map_or_else(|| "no fixed limit".to_string(), format_uk_long);
            let form = form
                .as_ref()
                .map(|f| format!("; form required: {f}"))
                .unwrap_or_default();
            format!(
                "Stage {stage}{tier} started: {name}; due {due} ({timescale}); owners {} and {}{form}",
                people(directory, owners_raising),
                people(directory, owners_receiving)
            )
        }
        EventBody::BoardNotified {
            recipients,
            message,
            ..
        } => format!("Board told ({}): {message}", people(directory, recipients)),
        EventBody::OtherAgencyNotified {
            agency: a, message, ..
        } => format!("{} told: {message}", agency(a)),
        EventBody::NoteAdded { text, how, held_at } => {
            let how = how
                .map(|h| {
                    let words = match h {
                        ContactFormat::Phone => "phone",
                        ContactFormat::Meeting => "meeting",
                        ContactFormat::VideoCall => "video call",
                        ContactFormat::Email => "email",
                        ContactFormat::Other => "other means",
                    };
                    format!(" ({words})")
                })
                .unwrap_or_default();
            let held = held_at
                .map(|t| format!(", held {}", format_uk_long(t)))
                .unwrap_or_default();
            format!("Note{how}{held}: {text}")
        }
        EventBody::Escalated {
            from_stage,
            to_stage,
            reason,
            ..
        } => format!("Escalated from stage {from_stage} to stage {to_stage}: {reason}"),
        EventBody::Acknowledged { stage } => format!("Acknowledged stage {stage}"),
        EventBody::DelayReasonRecorded { stage, reason } => {
            format!("Reason for delay at stage {stage}: {reason}")
        }
        EventBody::StepCompleted {
            step,
            stage,
            happened_at,
            note,
            ..
        } => {
            let when = happened_at
                .map(|t| format!(" on {}", format_uk_long(t)))
                .unwrap_or_default();
            let note = note.as_ref().map(|n| format!(": {n}")).unwrap_or_default();
            format!("Step {step} of stage {stage} done{when}{note}")
        }
        EventBody::DeadlineBroughtForward { stage, due, reason } => format!(
            "Stage {stage} deadline brought forward to {}: {reason}",
            format_uk_long(*due)
        ),
        EventBody::ResolutionProposed {
            rationale,
            outcome,
            outstanding,
        } => format!(
            "Resolution proposed. Rationale: {rationale} Outcome: {outcome} Outstanding: {outstanding}"
        ),
        EventBody::ResolutionConfirmed {
            rationale,
            outcome,
            outstanding,
        } => format!(
            "Resolution confirmed in writing. Rationale: {rationale} Outcome: {outcome} Outstanding: {outstanding}"
        ),
        EventBody::ResolutionRejected { reason } => format!("Resolution not accepted: {reason}"),
        EventBody::Withdrawn { reason } => format!("Withdrawn: {reason}"),
        EventBody::LearningReferred { text } => format!("Learning referred to the board: {text}"),
        EventBody::ReminderSent {
            stage,
            due,
            recipients,
        } => format!(
            "Reminder that stage {stage} is due {} sent to {}",
            format_uk_long(*due),
            people(directory, recipients)
        ),
        EventBody::OverduePrompted { stage, count, .. } => {
            format!("Stage {stage} overdue: prompt {count} posted")
        }
        EventBody::StepPrompted {
            stage,
            step,
            overdue,
            ..
        } => format!(
            "Step {step} of stage {stage} {}",
            if *overdue { "overdue" } else { "due soon" }
        ),
        EventBody::AcknowledgementReminded { stage, waiting } => format!(
            "Reminded {} to acknowledge stage {stage}",
            people(directory, waiting)
        ),
        EventBody::AcknowledgementNudged {
            stage,
            waiting,
            told,
            ..
        } => format!(
            "{} had not acknowledged stage {stage}; told {}",
            people(directory, std::slice::from_ref(waiting)),
            people(directory, told)
        ),
        EventBody::ThreadOpened { thread } => {
            format!("Thread posted on {} ({})", thread.platform, thread.channel)
        }
    }
}

/// A directory version as the record names it: the applied change (or the directory file,
/// before any import) and the start of the hash it is kept under.
pub fn version_label(version: &DirectoryVersion) -> String {
    let short = version.sha256.get(..12).unwrap_or(&version.sha256);
    if version.change == 0 {
        format!("the directory file (sha256 {short})")
    } else {
        format!("change {} (sha256 {short})", version.change)
    }
}

/// Builds the document from the stored record.
pub fn document(record: &DisputeRecord, directory: &Directory) -> Document {
    let events = record
        .events
        .iter()
        .map(|r| Line {
            seq: r.seq,
            at: crate::calendar::format_uk(r.event.at),
            when: format_uk_long(r.event.at),
            actor: r.event.actor.as_ref().map(|a| a.0.clone()),
            who: who(directory, r.event.actor.as_ref()),
            kind: r.event.body.kind().to_string(),
            what: what(directory, &r.event.body),
            directory: r.event.directory.as_ref().map(version_label),
            hash: r.hash.clone(),
        })
        .collect();
    let (chain, chain_intact) = match &record.broken {
        None => (
            format!(
                "intact: all {} events link to the one before them and match their hashes",
                record.events.len()
            ),
            true,
        ),
        Some(b) => (format!("BROKEN at {b}"), false),
    };
    Document {
        reference: record.reference.clone(),
        events,
        chain,
        chain_intact,
    }
}

impl Document {
    /// The record as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The record as a printable HTML page.
    pub fn to_html(&self) -> String {
        let mut rows = String::new();
        for l in &self.events {
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                l.seq,
                escape(&l.when),
                escape(&l.who),
                escape(&l.what),
                escape(l.directory.as_deref().unwrap_or("not recorded"))
            ));
        }
        let chain_class = if self.chain_intact { "ok" } else { "broken" };
        super::page::html(
            &format!("Record of {}", self.reference),
            &format!(
                "<h1>Record of {r}</h1>\n<p class=\"chain {chain_class}\">Hash chain: {chain}</p>\n<table>\n<thead><tr><th>#</th><th>When (UK time)</th><th>Who</th><th>What</th><th>Directory</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n",
                r = escape(&self.reference),
                chain = escape(&self.chain),
            ),
        )
    }
}
