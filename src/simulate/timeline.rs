//! A scenario's timeline: one entry per event (or expected refusal), readable or as JSON lines.

use super::ScenarioStep;
use crate::calendar::{format_uk, format_uk_short};
use crate::directory::Directory;
use crate::escalation::{Dispute, Event, EventBody, Reference, Refusal};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub reference: String,
    pub kind: String,
    /// The dispute's stage after the event.
    pub stage: u32,
    /// How people read the stage: "Stage 3", "Step 2", "Stage 3, tier 2".
    pub stage_label: String,
    /// The stage's deadline after the event, where one applies.
    pub due: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    /// The prompt people were shown, for stage starts, notices and the urgent route.
    pub prompt: Option<String>,
    /// The event as recorded (or the refusal), for `--json`.
    pub detail: Value,
}

impl Entry {
    pub(super) fn from_event(
        reference: &Reference,
        after: &Dispute,
        event: &Event,
        dir: &Directory,
        stage_word: &str,
    ) -> Entry {
        let prompt = match &event.body {
            EventBody::StageStarted { prompt, .. }
            | EventBody::UrgentRoutePrompted { prompt, .. }
            | EventBody::OverduePrompted { prompt, .. }
            | EventBody::StepPrompted { prompt, .. }
            | EventBody::AcknowledgementNudged { prompt, .. } => Some(prompt.clone()),
            EventBody::BoardNotified { message, .. }
            | EventBody::OtherAgencyNotified { message, .. } => Some(message.clone()),
            _ => None,
        };
        Entry {
            at: event.at,
            reference: reference.to_string(),
            kind: event.body.kind().to_string(),
            stage: after.stage,
            stage_label: label(stage_word, after),
            due: after
                .due
                .filter(|_| after.status == crate::escalation::Status::Open),
            actor: event.actor.as_ref().map(|a| {
                dir.person(a)
                    .map_or_else(|| a.0.clone(), |p| p.name.clone())
            }),
            prompt,
            detail: serde_json::to_value(&event.body).unwrap_or(Value::Null),
        }
    }

    pub(super) fn refused(
        reference: &str,
        state: &Dispute,
        step: &ScenarioStep,
        refusal: &Refusal,
        dir: &Directory,
        stage_word: &str,
    ) -> Entry {
        Entry {
            at: step.at,
            reference: reference.to_string(),
            kind: "refused".into(),
            stage: state.stage,
            stage_label: label(stage_word, state),
            due: state.due,
            actor: Some(
                dir.person(&step.by)
                    .map_or_else(|| step.by.0.clone(), |p| p.name.clone()),
            ),
            prompt: Some(refusal.to_string()),
            detail: json!({ "kind": "refused", "command": step.action.name(), "message": refusal.to_string() }),
        }
    }
}

fn label(stage_word: &str, d: &Dispute) -> String {
    match (d.stage, d.tier) {
        (0, _) => "raising".to_string(),
        (s, 0) => format!("{stage_word} {s}"),
        (s, t) => format!("{stage_word} {s}, tier {}", t + 1),
    }
}

/// One JSON object per line: `at`, `kind`, `reference`, `stage`, `due` (where one applies), and the event.
pub fn render_json(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        let mut obj = serde_json::Map::new();
        obj.insert("at".into(), json!(format_uk(e.at)));
        obj.insert("kind".into(), json!(e.kind));
        obj.insert("reference".into(), json!(e.reference));
        obj.insert("stage".into(), json!(e.stage));
        if let Some(due) = e.due {
            obj.insert("due".into(), json!(format_uk(due)));
        }
        if let Some(actor) = &e.actor {
            obj.insert("actor".into(), json!(actor));
        }
        if let Some(prompt) = &e.prompt {
            obj.insert("prompt".into(), json!(prompt));
        }
        if let Value::Object(detail) = &e.detail {
            for (k, v) in detail {
                if k != "kind" && !v.is_null() {
                    obj.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        out.push_str(&Value::Object(obj).to_string());
        out.push('\n');
    }
    out
}

/// A readable timeline: time, reference, stage, what happened, the deadline and the prompt shown.
pub fn render_text(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        let due = e
            .due
            .map(|d| format!("  due {}", format_uk_short(d)))
            .unwrap_or_default();
        let by = e
            .actor
            .as_ref()
            .map(|a| format!("  by {a}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{}  {}  {}  {}{}{}\n",
            format_uk(e.at),
            e.reference,
            e.stage_label,
            e.kind,
            by,
            due
        ));
        if let Some(prompt) = &e.prompt {
            for line in prompt.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("    | {}\n", line.trim()));
            }
        }
    }
    out
}
