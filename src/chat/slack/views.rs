//! The Slack modals (raise, note, escalate, resolve, reject, withdraw) and parsing their submissions.
//!
//! Each input's `block_id` and `action_id` are the same stable name, and mostly the name of the
//! core field it feeds (`summary`, `desired_outcome`, `reason`, …), so that a core `Refusal` about
//! a field comes back to the person as Slack's inline error on that input, with what they typed
//! kept (`response_action: errors`). Free text is never rendered back into a view here except as
//! Slack keeps it in the inputs, so nothing typed can become markup.

use super::render::{escape, truncate};
use crate::directory::{AgencyId, PersonId};
use crate::escalation::{Command, Concerns, ContactFormat, RaiseDetails};
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The `callback_id` of each modal, which the interactions handler dispatches on.
pub mod callback {
    /// The raise form (`/challenge` with no text).
    pub const RAISE: &str = "raise";
    /// Add a note to the record.
    pub const NOTE: &str = "note";
    /// Escalate to the next stage: why, and the reason for any delay.
    pub const ESCALATE: &str = "escalate";
    /// Propose a resolution.
    pub const RESOLVE: &str = "resolve";
    /// Reject the other side's proposed resolution.
    pub const REJECT: &str = "reject";
    /// Withdraw a challenge (`/challenge withdraw REF` without a reason).
    pub const WITHDRAW: &str = "withdraw";
}

/// Modal and element limits (docs.slack.dev/reference/views, block-kit), as characters or counts.
pub mod limits {
    /// Modal title, submit and close labels.
    pub const TITLE: usize = 24;
    /// Blocks in one modal.
    pub const BLOCKS: usize = 100;
    /// Options in one static select (all groups together, kept within the per-group limit too).
    pub const OPTIONS: usize = 100;
    /// An option's label.
    pub const OPTION_TEXT: usize = 75;
    /// An option's value.
    pub const OPTION_VALUE: usize = 150;
    /// An input's label and hint.
    pub const LABEL: usize = 2000;
    /// A `plain_text_input`'s `max_length`.
    pub const INPUT: usize = 3000;
    /// `private_metadata`.
    pub const PRIVATE_METADATA: usize = 3000;
}

/// The longest case reference the core accepts (an agency's short record number).
const CASE_REFERENCE_MAX: usize = 40;

/// Inline errors for a submitted modal: input `block_id` → what to do.
pub type FormErrors = BTreeMap<String, String>;

const FILL_IN: &str = "Please fill this in.";

const NO_IDENTIFIABLE: &str = "No client-identifiable detail: no names, NHS or National Insurance numbers, addresses, postcodes, dates of birth, phone numbers or email addresses. Use your case reference instead.";

/// What the raise form gives back: `RaiseDetails` with the directory ids as the strings the
/// selects carried, checked only for presence (the core checks the rest and screens the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaiseForm {
    pub receiving_agency: String,
    pub other_professional: Option<String>,
    pub concerns: Concerns,
    pub category: String,
    pub summary: String,
    pub possible_cause: Option<String>,
    pub desired_outcome: String,
    pub adults_views: Option<String>,
    pub case_reference: String,
    pub immediate_risk: bool,
}

impl RaiseForm {
    /// The core's raise details, ready for `Command::Raise`.
    pub fn into_details(self) -> RaiseDetails {
        RaiseDetails {
            receiving_agency: AgencyId(self.receiving_agency),
            other_professional: self.other_professional.map(PersonId),
            concerns: self.concerns,
            category: self.category,
            summary: self.summary,
            possible_cause: self.possible_cause,
            desired_outcome: self.desired_outcome,
            adults_views: self.adults_views,
            case_reference: self.case_reference,
            immediate_risk: self.immediate_risk,
        }
    }
}

/// What the note form gives back, as `Command::AddNote` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteForm {
    pub text: String,
    pub how: Option<ContactFormat>,
    pub held_at: Option<DateTime<Utc>>,
}

/// What the escalate form gives back, as `Command::Escalate` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalateForm {
    pub reason: String,
    pub delay_reason: Option<String>,
}

/// What the resolution form gives back, as `Command::ProposeResolution` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionForm {
    pub rationale: String,
    pub outcome: String,
    pub outstanding: String,
    pub delay_reason: Option<String>,
}

/// What the reject and withdraw forms give back: a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonForm {
    pub reason: String,
}

// ---- building views ----

fn plain(text: &str, max: usize) -> Value {
    let text = if text.chars().count() > max {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        text.to_string()
    };
    json!({ "type": "plain_text", "text": text, "emoji": true })
}

fn context(text: &str) -> Value {
    json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": truncate(text, 2000), "verbatim": true }],
    })
}

fn input(id: &str, label: &str, element: Value, optional: bool, hint: Option<&str>) -> Value {
    let mut block = json!({
        "type": "input",
        "block_id": id,
        "label": plain(label, limits::LABEL),
        "element": element,
        "optional": optional,
    });
    if let Some(hint) = hint {
        block["hint"] = plain(hint, limits::LABEL);
    }
    block
}

fn text_input(id: &str, multiline: bool, max_length: usize, placeholder: Option<&str>) -> Value {
    let mut element = json!({
        "type": "plain_text_input",
        "action_id": id,
        "multiline": multiline,
        "max_length": max_length.min(limits::INPUT),
    });
    if let Some(p) = placeholder {
        element["placeholder"] = plain(p, 150);
    }
    element
}

fn option(label: &str, value: &str) -> Value {
    json!({ "text": plain(label, limits::OPTION_TEXT), "value": value })
}

fn fits(value: &str) -> bool {
    !value.is_empty() && value.chars().count() <= limits::OPTION_VALUE
}

fn static_select(id: &str, placeholder: &str, options: Vec<Value>) -> Value {
    json!({
        "type": "static_select",
        "action_id": id,
        "placeholder": plain(placeholder, 150),
        "options": options,
    })
}

fn radios(id: &str, options: Vec<Value>) -> Value {
    json!({ "type": "radio_buttons", "action_id": id, "options": options })
}

fn modal(
    callback_id: &str,
    title: &str,
    submit: &str,
    private_metadata: &str,
    blocks: Vec<Value>,
) -> Value {
    let mut blocks = blocks;
    blocks.truncate(limits::BLOCKS);
    json!({
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, limits::TITLE),
        "submit": plain(submit, limits::TITLE),
        "close": plain("Cancel", limits::TITLE),
        "private_metadata": private_metadata,
        "blocks": blocks,
    })
}

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The raise form. `agencies` are the other agencies of the raiser's board as (id, name);
/// `people` are the professionals who may be named, as (agency id, [(person id, label)]), shown
/// grouped by agency (the block is left out when there is nobody to list). Selects are cut to
/// Slack's 100 options; `private_metadata` (at most 3,000 characters) comes back on submission.
pub fn raise_modal(
    policy: &Policy,
    agencies: &[(String, String)],
    people: &[(String, Vec<(String, String)>)],
    private_metadata: &str,
) -> Value {
    let mut blocks = vec![context(&format!(
        "Raise a professional challenge with another agency under the *{}* procedure. It is not for a complaint about one worker's conduct: use the PiPoT (person in a position of trust) or whistleblowing route for that.",
        escape(&policy.name)
    ))];

    let agency_options: Vec<Value> = agencies
        .iter()
        .filter(|(id, _)| fits(id))
        .take(limits::OPTIONS)
        .map(|(id, name)| option(name, id))
        .collect();
    blocks.push(input(
        "receiving_agency",
        "Other agency",
        static_select("receiving_agency", "Choose the agency", agency_options),
        false,
        None,
    ));

    let mut budget = limits::OPTIONS;
    let groups: Vec<Value> = people
        .iter()
        .filter_map(|(agency, list)| {
            let options: Vec<Value> = list
                .iter()
                .filter(|(id, _)| fits(id))
                .take(budget)
                .map(|(id, label)| option(label, id))
                .collect();
            budget -= options.len();
            if options.is_empty() {
                return None;
            }
            let name = agencies
                .iter()
                .find(|(id, _)| id == agency)
                .map_or(agency.as_str(), |(_, name)| name.as_str());
            Some(json!({ "label": plain(name, limits::OPTION_TEXT), "options": options }))
        })
        .collect();
    if !groups.is_empty() {
        blocks.push(input(
            "other_professional",
            "Other professional (optional)",
            json!({
                "type": "static_select",
                "action_id": "other_professional",
                "placeholder": plain("Choose the professional, if listed", 150),
                "option_groups": groups,
            }),
            true,
            Some("Leave this empty if they are not listed."),
        ));
    }

    blocks.push(input(
        "concerns",
        "Does the disagreement concern an adult or an organisation?",
        radios(
            "concerns",
            vec![
                option("An adult", "adult"),
                option(
                    "An organisation (for example a care provider)",
                    "organisation",
                ),
            ],
        ),
        false,
        None,
    ));
    blocks.push(input(
        "organisation",
        "The organisation's name (if it concerns an organisation)",
        text_input("organisation", false, 150, None),
        true,
        None,
    ));

    let categories: Vec<Value> = policy
        .categories
        .iter()
        .filter(|c| fits(&c.id))
        .take(limits::OPTIONS)
        .map(|c| option(&c.name, &c.id))
        .collect();
    blocks.push(input(
        "category",
        "Category",
        static_select(
            "category",
            "Choose what the disagreement is about",
            categories,
        ),
        false,
        None,
    ));
    blocks.push(input(
        "summary",
        "What is the disagreement?",
        text_input("summary", true, limits::INPUT, None),
        false,
        Some(NO_IDENTIFIABLE),
    ));
    blocks.push(input(
        "possible_cause",
        "What may be causing it? (optional)",
        text_input("possible_cause", true, limits::INPUT, None),
        true,
        None,
    ));
    blocks.push(input(
        "desired_outcome",
        "What needs to happen to resolve it?",
        text_input("desired_outcome", true, limits::INPUT, None),
        false,
        None,
    ));
    blocks.push(input(
        "adults_views",
        "The adult's views and wishes, where known (optional)",
        text_input("adults_views", true, limits::INPUT, None),
        true,
        Some("Making Safeguarding Personal: what the adult wants to happen."),
    ));
    blocks.push(input(
        "case_reference",
        "Your agency's case reference",
        text_input(
            "case_reference",
            false,
            CASE_REFERENCE_MAX,
            Some("e.g. ASC-4471"),
        ),
        false,
        Some("Your own record number, so the record points at the case without naming anyone."),
    ));
    blocks.push(input(
        "immediate_risk",
        "Is an adult at immediate risk of harm?",
        radios(
            "immediate_risk",
            vec![option("Yes", "yes"), option("No", "no")],
        ),
        false,
        Some(&format!("If yes: {}", flat(&policy.urgent.prompt))),
    ));
    modal(
        callback::RAISE,
        "Raise a challenge",
        "Raise",
        private_metadata,
        blocks,
    )
}

fn reference_context(reference: &str, guidance: &str) -> Value {
    context(&format!("*{}* · {}", escape(reference), escape(guidance)))
}

fn long_text(id: &str, label: &str, optional: bool, hint: Option<&str>) -> Value {
    input(
        id,
        label,
        text_input(id, true, limits::INPUT, None),
        optional,
        hint,
    )
}

fn delay_reason_input() -> Value {
    long_text(
        "delay_reason",
        "Reason for delay (only if this step is late)",
        true,
        Some("The procedure asks you to account for any delay past the deadline."),
    )
}

/// The note form: what was discussed, how, and when (Durham's form asks for date, time and format).
pub fn note_modal(reference: &str, private_metadata: &str) -> Value {
    let blocks = vec![
        reference_context(
            reference,
            "The note is added to the record and a short line is shown in every agency's thread.",
        ),
        long_text(
            "note",
            "What was discussed, and what was agreed?",
            false,
            Some(NO_IDENTIFIABLE),
        ),
        input(
            "how",
            "How did it take place? (optional)",
            static_select(
                "how",
                "Choose",
                vec![
                    option("Phone call", "phone"),
                    option("Meeting", "meeting"),
                    option("Video call", "video_call"),
                    option("Email", "email"),
                    option("Other", "other"),
                ],
            ),
            true,
            None,
        ),
        input(
            "held_at",
            "When? (optional)",
            json!({ "type": "datetimepicker", "action_id": "held_at" }),
            true,
            None,
        ),
    ];
    modal(
        callback::NOTE,
        "Add a note",
        "Add note",
        private_metadata,
        blocks,
    )
}

/// The escalate form: why (what was tried, why it is unresolved) and the reason for any delay.
pub fn escalate_modal(reference: &str, private_metadata: &str) -> Value {
    let blocks = vec![
        reference_context(
            reference,
            "Escalating asks the next people on each side to take over. From stage 2 on, it lodges a formal challenge under the board's procedure.",
        ),
        long_text(
            "reason",
            "Why escalate? What was tried, and why is it unresolved?",
            false,
            Some(NO_IDENTIFIABLE),
        ),
        delay_reason_input(),
    ];
    modal(
        callback::ESCALATE,
        "Escalate",
        "Escalate",
        private_metadata,
        blocks,
    )
}

/// The resolution form: rationale, agreed outcome, how outstanding issues will be pursued.
pub fn resolution_modal(reference: &str, private_metadata: &str) -> Value {
    let blocks = vec![
        reference_context(
            reference,
            "The other agency confirms or rejects your proposal in writing.",
        ),
        long_text("rationale", "Rationale", false, Some(NO_IDENTIFIABLE)),
        long_text("outcome", "Agreed outcome", false, None),
        long_text(
            "outstanding",
            "How will any outstanding issues be pursued?",
            false,
            None,
        ),
        delay_reason_input(),
    ];
    modal(
        callback::RESOLVE,
        "Propose a resolution",
        "Propose",
        private_metadata,
        blocks,
    )
}

/// The reject form: why the proposed resolution is not accepted.
pub fn reject_modal(reference: &str, private_metadata: &str) -> Value {
    let blocks = vec![
        reference_context(reference, "The challenge stays open at its current stage."),
        long_text(
            "reason",
            "Why is the proposed resolution not accepted?",
            false,
            Some(NO_IDENTIFIABLE),
        ),
    ];
    modal(
        callback::REJECT,
        "Reject the resolution",
        "Reject",
        private_metadata,
        blocks,
    )
}

/// The withdraw form, for `/challenge withdraw REF` typed without a reason.
pub fn withdraw_modal(reference: &str, private_metadata: &str) -> Value {
    let blocks = vec![
        reference_context(
            reference,
            "Withdrawing closes the challenge for both agencies.",
        ),
        long_text(
            "reason",
            "Why is the challenge withdrawn?",
            false,
            Some(NO_IDENTIFIABLE),
        ),
    ];
    modal(
        callback::WITHDRAW,
        "Withdraw the challenge",
        "Withdraw",
        private_metadata,
        blocks,
    )
}

// ---- answering submissions ----

/// The `view_submission` answer that shows inline errors under the named inputs; Slack keeps
/// what the person typed.
pub fn errors_response(errors: &FormErrors) -> Value {
    json!({ "response_action": "errors", "errors": errors })
}

/// The input blocks of each modal, in order; the first is where an error about the whole
/// submission is shown (inline errors can only be attached to input blocks).
fn inputs(callback_id: &str) -> &'static [&'static str] {
    match callback_id {
        callback::RAISE => &[
            "receiving_agency",
            "other_professional",
            "concerns",
            "organisation",
            "category",
            "summary",
            "possible_cause",
            "desired_outcome",
            "adults_views",
            "case_reference",
            "immediate_risk",
        ],
        callback::NOTE => &["note", "how", "held_at"],
        callback::ESCALATE => &["reason", "delay_reason"],
        callback::RESOLVE => &["rationale", "outcome", "outstanding", "delay_reason"],
        _ => &["reason"],
    }
}

/// The input of modal `callback_id` that an error about core field `field` (a
/// `Refusal::field()`, e.g. `summary` when the screen finds identifiable detail) is shown under.
/// A field the modal has no input for, or `""` for an error about the whole submission, goes
/// under the modal's first input, so the answer always names a block Slack knows.
pub fn block_for_field(callback_id: &str, field: &str) -> &'static str {
    let block = match field {
        "concerns" => "organisation",
        "text" => "note",
        other => other,
    };
    let inputs = inputs(callback_id);
    inputs
        .iter()
        .find(|b| **b == block)
        .or(inputs.first())
        .copied()
        .unwrap_or("reason")
}

// ---- parsing submissions ----

/// `view.state.values`, read by block id (the action id is the same, but any is accepted).
struct State<'a> {
    values: Option<&'a Map<String, Value>>,
}

impl<'a> State<'a> {
    fn new(state: &'a Value) -> State<'a> {
        let values = state.get("values").unwrap_or(state).as_object();
        State { values }
    }

    fn action(&self, block: &str) -> Option<&'a Value> {
        let actions = self.values?.get(block)?.as_object()?;
        actions.get(block).or_else(|| actions.values().next())
    }

    fn text(&self, block: &str) -> Option<String> {
        let value = self.action(block)?.get("value")?.as_str()?.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    fn selected(&self, block: &str) -> Option<String> {
        let value = self
            .action(block)?
            .get("selected_option")?
            .get("value")?
            .as_str()?;
        (!value.is_empty()).then(|| value.to_string())
    }

    fn date_time(&self, block: &str) -> Option<DateTime<Utc>> {
        let secs = self.action(block)?.get("selected_date_time")?.as_i64()?;
        DateTime::from_timestamp(secs, 0)
    }
}

fn required<T>(value: Option<T>, block: &str, errors: &mut FormErrors) -> Option<T> {
    if value.is_none() {
        errors.insert(block.to_string(), FILL_IN.to_string());
    }
    value
}

/// Parses a submitted raise form (`view.state`, or `view.state.values`).
pub fn parse_raise(state: &Value) -> Result<RaiseForm, FormErrors> {
    let s = State::new(state);
    let mut errors = FormErrors::new();
    let receiving_agency = required(
        s.selected("receiving_agency"),
        "receiving_agency",
        &mut errors,
    );
    let concerns = match s.selected("concerns").as_deref() {
        Some("adult") => Some(Concerns::Adult),
        Some("organisation") => match s.text("organisation") {
            Some(name) => Some(Concerns::Organisation { name }),
            None => {
                errors.insert(
                    "organisation".into(),
                    "Give the organisation's name, or choose \u{201c}An adult\u{201d} above."
                        .into(),
                );
                None
            }
        },
        _ => required(None, "concerns", &mut errors),
    };
    let category = required(s.selected("category"), "category", &mut errors);
    let summary = required(s.text("summary"), "summary", &mut errors);
    let desired_outcome = required(s.text("desired_outcome"), "desired_outcome", &mut errors);
    let case_reference = required(s.text("case_reference"), "case_reference", &mut errors);
    let immediate_risk = match s.selected("immediate_risk").as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => required(None, "immediate_risk", &mut errors),
    };
    match (
        receiving_agency,
        concerns,
        category,
        summary,
        desired_outcome,
        case_reference,
        immediate_risk,
    ) {
        (
            Some(receiving_agency),
            Some(concerns),
            Some(category),
            Some(summary),
            Some(desired_outcome),
            Some(case_reference),
            Some(immediate_risk),
        ) if errors.is_empty() => Ok(RaiseForm {
            receiving_agency,
            other_professional: s.selected("other_professional"),
            concerns,
            category,
            summary,
            possible_cause: s.text("possible_cause"),
            desired_outcome,
            adults_views: s.text("adults_views"),
            case_reference,
            immediate_risk,
        }),
        _ => Err(errors),
    }
}

/// Parses a submitted note form.
pub fn parse_note(state: &Value) -> Result<NoteForm, FormErrors> {
    let s = State::new(state);
    let mut errors = FormErrors::new();
    let text = required(s.text("note"), "note", &mut errors);
    let how = s.selected("how").and_then(|h| match h.as_str() {
        "phone" => Some(ContactFormat::Phone),
        "meeting" => Some(ContactFormat::Meeting),
        "video_call" => Some(ContactFormat::VideoCall),
        "email" => Some(ContactFormat::Email),
        "other" => Some(ContactFormat::Other),
        _ => None,
    });
    match text {
        Some(text) => Ok(NoteForm {
            text,
            how,
            held_at: s.date_time("held_at"),
        }),
        None => Err(errors),
    }
}

/// Parses a submitted escalate form.
pub fn parse_escalate(state: &Value) -> Result<EscalateForm, FormErrors> {
    let s = State::new(state);
    let mut errors = FormErrors::new();
    match required(s.text("reason"), "reason", &mut errors) {
        Some(reason) => Ok(EscalateForm {
            reason,
            delay_reason: s.text("delay_reason"),
        }),
        None => Err(errors),
    }
}

/// Parses a submitted resolution form.
pub fn parse_resolution(state: &Value) -> Result<ResolutionForm, FormErrors> {
    let s = State::new(state);
    let mut errors = FormErrors::new();
    let rationale = required(s.text("rationale"), "rationale", &mut errors);
    let outcome = required(s.text("outcome"), "outcome", &mut errors);
    let outstanding = required(s.text("outstanding"), "outstanding", &mut errors);
    match (rationale, outcome, outstanding) {
        (Some(rationale), Some(outcome), Some(outstanding)) => Ok(ResolutionForm {
            rationale,
            outcome,
            outstanding,
            delay_reason: s.text("delay_reason"),
        }),
        _ => Err(errors),
    }
}

/// Parses a submitted reject or withdraw form.
pub fn parse_reason(state: &Value) -> Result<ReasonForm, FormErrors> {
    let s = State::new(state);
    let mut errors = FormErrors::new();
    match required(s.text("reason"), "reason", &mut errors) {
        Some(reason) => Ok(ReasonForm { reason }),
        None => Err(errors),
    }
}

/// Parses a submitted note, escalate, resolve, reject or withdraw form into the core command it
/// asks for. The raise form has its own `parse_raise` (it needs a reference first); any other
/// `callback_id` is answered with an error on the modal's first input.
pub fn parse_command(callback_id: &str, state: &Value) -> Result<Command, FormErrors> {
    match callback_id {
        callback::NOTE => parse_note(state).map(|n| Command::AddNote {
            text: n.text,
            how: n.how,
            held_at: n.held_at,
        }),
        callback::ESCALATE => parse_escalate(state).map(|e| Command::Escalate {
            reason: e.reason,
            delay_reason: e.delay_reason,
        }),
        callback::RESOLVE => parse_resolution(state).map(|r| Command::ProposeResolution {
            rationale: r.rationale,
            outcome: r.outcome,
            outstanding: r.outstanding,
            delay_reason: r.delay_reason,
        }),
        callback::REJECT => {
            parse_reason(state).map(|r| Command::RejectResolution { reason: r.reason })
        }
        callback::WITHDRAW => parse_reason(state).map(|r| Command::Withdraw { reason: r.reason }),
        other => Err(FormErrors::from([(
            block_for_field(other, "").to_string(),
            "This form is not one escalation-bot knows; close it and start again.".to_string(),
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::Refusal;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn policy() -> Policy {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/norfolk.toml");
        crate::policy::load_file(&path).expect("the Norfolk policy loads")
    }

    fn agencies() -> Vec<(String, String)> {
        vec![
            ("nchc".into(), "Norfolk Community Health & Care".into()),
            ("norfolk-police".into(), "Norfolk Constabulary".into()),
        ]
    }

    fn people() -> Vec<(String, Vec<(String, String)>)> {
        vec![
            (
                "nchc".into(),
                vec![("lee-chan".into(), "Lee Chan, District Nurse".into())],
            ),
            ("norfolk-police".into(), vec![]),
        ]
    }

    fn all_modals() -> Vec<Value> {
        vec![
            raise_modal(&policy(), &agencies(), &people(), "{\"channel\":\"C1\"}"),
            note_modal("NSAB-2026-0007", "m"),
            escalate_modal("NSAB-2026-0007", "m"),
            resolution_modal("NSAB-2026-0007", "m"),
            reject_modal("NSAB-2026-0007", "m"),
            withdraw_modal("NSAB-2026-0007", "m"),
        ]
    }

    fn len(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    #[test]
    fn every_modal_is_within_slacks_limits_and_has_stable_ids() {
        let ids: Vec<&str> = vec!["raise", "note", "escalate", "resolve", "reject", "withdraw"];
        for (view, id) in all_modals().iter().zip(ids) {
            assert_eq!(view["type"], "modal");
            assert_eq!(view["callback_id"], id);
            for key in ["title", "submit", "close"] {
                assert!(
                    (1..=limits::TITLE).contains(&len(&view[key]["text"])),
                    "{id} {key}"
                );
                assert_eq!(view[key]["type"], "plain_text");
            }
            let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
            assert!(!blocks.is_empty() && blocks.len() <= limits::BLOCKS);
            let mut seen = BTreeSet::new();
            for b in blocks.iter().filter(|b| b["type"] == "input") {
                let block_id = b["block_id"].as_str().unwrap_or_default();
                assert!(seen.insert(block_id.to_string()), "{id}: {block_id} twice");
                assert_eq!(
                    b["element"]["action_id"], block_id,
                    "{id}: action id of {block_id}"
                );
                assert!((1..=limits::LABEL).contains(&len(&b["label"]["text"])));
                assert!(len(&b["hint"]["text"]) <= limits::LABEL);
                if let Some(options) = b["element"]["options"].as_array() {
                    assert!(options.len() <= limits::OPTIONS);
                    for o in options {
                        assert!(len(&o["text"]["text"]) <= limits::OPTION_TEXT);
                        assert!((1..=limits::OPTION_VALUE).contains(&len(&o["value"])));
                    }
                }
            }
        }
    }

    #[test]
    fn the_raise_form_asks_everything_the_core_needs_and_says_what_it_is_not_for() {
        let view = raise_modal(&policy(), &agencies(), &people(), "meta");
        assert_eq!(view["private_metadata"], "meta");
        let ids: Vec<&str> = view["blocks"]
            .as_array()
            .map(|b| b.iter().filter_map(|b| b["block_id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            ids,
            [
                "receiving_agency",
                "other_professional",
                "concerns",
                "organisation",
                "category",
                "summary",
                "possible_cause",
                "desired_outcome",
                "adults_views",
                "case_reference",
                "immediate_risk"
            ]
        );
        let text = view.to_string();
        assert!(text.contains("PiPoT") && text.contains("whistleblowing"));
        assert!(text.contains("No client-identifiable detail") && text.contains("case reference"));
        assert_eq!(
            view["blocks"][5]["element"]["options"]
                .as_array()
                .map(Vec::len),
            Some(policy().categories.len())
        );
        assert_eq!(
            view["blocks"][2]["element"]["option_groups"][0]["label"]["text"],
            "Norfolk Community Health & Care"
        );
        assert_eq!(view["blocks"][2]["optional"], true);
        assert_eq!(
            view["blocks"][10]["element"]["max_length"],
            CASE_REFERENCE_MAX
        );
        assert!(
            view["blocks"][11]["hint"]["text"]
                .as_str()
                .is_some_and(|h| h.contains("act now"))
        );
    }

    #[test]
    fn the_raise_form_leaves_out_the_professional_when_nobody_can_be_listed() {
        let view = raise_modal(&policy(), &agencies(), &[], "m");
        assert!(!view.to_string().contains("other_professional"));
    }

    #[test]
    fn long_agency_and_people_lists_are_cut_to_a_hundred_options() {
        let many: Vec<(String, String)> = (0..150)
            .map(|i| (format!("a{i}"), format!("Agency {i}")))
            .collect();
        let people: Vec<(String, Vec<(String, String)>)> = (0..3)
            .map(|a| {
                (
                    format!("a{a}"),
                    (0..60)
                        .map(|p| (format!("p{a}-{p}"), format!("Person {p}")))
                        .collect(),
                )
            })
            .collect();
        let view = raise_modal(&policy(), &many, &people, "m");
        assert_eq!(
            view["blocks"][1]["element"]["options"]
                .as_array()
                .map(Vec::len),
            Some(100)
        );
        let groups = view["blocks"][2]["element"]["option_groups"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let total: usize = groups
            .iter()
            .map(|g| g["options"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(total, 100);
        assert_eq!(groups.len(), 2);
    }

    fn text(v: &str) -> Value {
        json!({ "type": "plain_text_input", "value": v })
    }

    fn empty_text() -> Value {
        json!({ "type": "plain_text_input", "value": null })
    }

    fn select(v: &str) -> Value {
        json!({ "type": "static_select", "selected_option": { "text": { "type": "plain_text", "text": v, "emoji": true }, "value": v } })
    }

    fn unselected() -> Value {
        json!({ "type": "static_select", "selected_option": null })
    }

    fn state(fields: &[(&str, Value)]) -> Value {
        let values: Map<String, Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), json!({ *k: v })))
            .collect();
        json!({ "values": values })
    }

    fn full_raise() -> Vec<(&'static str, Value)> {
        vec![
            ("receiving_agency", select("nchc")),
            ("other_professional", select("lee-chan")),
            ("concerns", select("adult")),
            ("organisation", empty_text()),
            ("category", select("hospital-discharge")),
            (
                "summary",
                text("  The discharge plan was agreed without the provider's assessment.  "),
            ),
            ("possible_cause", empty_text()),
            ("desired_outcome", text("A joint review before Friday.")),
            ("adults_views", text("Wants to go home.")),
            ("case_reference", text("ASC-4471")),
            ("immediate_risk", select("no")),
        ]
    }

    #[test]
    fn a_complete_raise_submission_parses_into_the_cores_details() {
        let form = parse_raise(&state(&full_raise())).expect("complete");
        assert_eq!(
            form.summary,
            "The discharge plan was agreed without the provider's assessment."
        );
        assert_eq!(form.possible_cause, None);
        assert_eq!(form.adults_views.as_deref(), Some("Wants to go home."));
        assert!(!form.immediate_risk);
        let details = form.into_details();
        assert_eq!(details.receiving_agency, AgencyId("nchc".into()));
        assert_eq!(
            details.other_professional,
            Some(PersonId("lee-chan".into()))
        );
        assert_eq!(details.concerns, Concerns::Adult);
        assert_eq!(details.category, "hospital-discharge");
    }

    #[test]
    fn the_raise_form_parses_from_state_values_as_well_as_from_state() {
        let s = state(&full_raise());
        assert_eq!(parse_raise(&s), parse_raise(&s["values"]));
    }

    #[test]
    fn missing_required_raise_fields_are_named_by_their_block() {
        let mut fields = full_raise();
        fields.retain(|(k, _)| !matches!(*k, "receiving_agency" | "case_reference"));
        fields.push(("case_reference", text("   ")));
        fields.push(("receiving_agency", unselected()));
        let errors = parse_raise(&state(&fields)).expect_err("incomplete");
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["case_reference", "receiving_agency"]
        );
        let errors = parse_raise(&json!({ "values": {} })).expect_err("empty");
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            [
                "case_reference",
                "category",
                "concerns",
                "desired_outcome",
                "immediate_risk",
                "receiving_agency",
                "summary"
            ]
        );
    }

    #[test]
    fn an_organisation_needs_its_name() {
        let mut fields = full_raise();
        fields[2] = ("concerns", select("organisation"));
        let errors = parse_raise(&state(&fields)).expect_err("no name");
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["organisation"]);
        fields[3] = ("organisation", text("Sunrise Care Homes Ltd"));
        fields[10] = ("immediate_risk", select("yes"));
        let form = parse_raise(&state(&fields)).expect("named");
        assert_eq!(
            form.concerns,
            Concerns::Organisation {
                name: "Sunrise Care Homes Ltd".into()
            }
        );
        assert!(form.immediate_risk);
    }

    #[test]
    fn a_note_parses_with_its_format_and_time() {
        let s = state(&[
            (
                "note",
                text("Spoke with the ward manager; agreed a joint visit."),
            ),
            ("how", select("video_call")),
            (
                "held_at",
                json!({ "type": "datetimepicker", "selected_date_time": 1_780_912_800 }),
            ),
        ]);
        let note = parse_note(&s).expect("note");
        assert_eq!(note.how, Some(ContactFormat::VideoCall));
        assert_eq!(note.held_at.map(|t| t.timestamp()), Some(1_780_912_800));
        let bare = parse_note(&state(&[
            ("note", text("x")),
            ("how", unselected()),
            (
                "held_at",
                json!({ "type": "datetimepicker", "selected_date_time": null }),
            ),
        ]))
        .expect("bare note");
        assert_eq!((bare.how, bare.held_at), (None, None));
        assert_eq!(
            parse_note(&state(&[]))
                .expect_err("empty")
                .keys()
                .collect::<Vec<_>>(),
            ["note"]
        );
    }

    #[test]
    fn escalate_resolution_and_reason_forms_parse_or_name_what_is_missing() {
        let e = parse_escalate(&state(&[
            ("reason", text("No agreement at stage 1.")),
            ("delay_reason", empty_text()),
        ]))
        .expect("escalate");
        assert_eq!(
            e,
            EscalateForm {
                reason: "No agreement at stage 1.".into(),
                delay_reason: None
            }
        );
        assert!(parse_escalate(&state(&[])).is_err());

        let r = parse_resolution(&state(&[
            ("rationale", text("Joint assessment done.")),
            ("outcome", text("Package of care restarts.")),
            ("outstanding", text("Review in 4 weeks.")),
            ("delay_reason", text("Staff sickness.")),
        ]))
        .expect("resolution");
        assert_eq!(r.delay_reason.as_deref(), Some("Staff sickness."));
        let errors = parse_resolution(&state(&[("rationale", text("x"))])).expect_err("incomplete");
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["outcome", "outstanding"]
        );

        assert_eq!(
            parse_reason(&state(&[("reason", text(" no "))])),
            Ok(ReasonForm {
                reason: "no".into()
            })
        );
        assert!(parse_reason(&state(&[("reason", empty_text())])).is_err());
    }

    #[test]
    fn errors_come_back_in_slacks_response_action_shape() {
        let errors = FormErrors::from([(
            "summary".to_string(),
            "This looks like an NHS number.".to_string(),
        )]);
        assert_eq!(
            errors_response(&errors),
            json!({ "response_action": "errors", "errors": { "summary": "This looks like an NHS number." } })
        );
    }

    fn input_ids(view: &Value) -> Vec<String> {
        view["blocks"]
            .as_array()
            .map(|b| {
                b.iter()
                    .filter(|b| b["type"] == "input")
                    .filter_map(|b| b["block_id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn each_modals_input_list_matches_the_view_it_builds() {
        let ids = ["raise", "note", "escalate", "resolve", "reject", "withdraw"];
        for (view, id) in all_modals().iter().zip(ids) {
            assert_eq!(input_ids(view), inputs(id), "{id}");
        }
    }

    #[test]
    fn every_field_the_core_refuses_on_lands_on_its_own_input() {
        let cases = [
            ("raise", "summary", "summary"),
            ("raise", "desired_outcome", "desired_outcome"),
            ("raise", "case_reference", "case_reference"),
            ("raise", "possible_cause", "possible_cause"),
            ("raise", "adults_views", "adults_views"),
            ("raise", "concerns", "organisation"),
            ("raise", "category", "category"),
            ("raise", "receiving_agency", "receiving_agency"),
            ("raise", "other_professional", "other_professional"),
            ("note", "note", "note"),
            ("escalate", "reason", "reason"),
            ("escalate", "delay_reason", "delay_reason"),
            ("resolve", "rationale", "rationale"),
            ("resolve", "outcome", "outcome"),
            ("resolve", "outstanding", "outstanding"),
            ("resolve", "delay_reason", "delay_reason"),
            ("reject", "reason", "reason"),
            ("withdraw", "reason", "reason"),
        ];
        for (modal, field, block) in cases {
            assert_eq!(block_for_field(modal, field), block, "{modal}/{field}");
        }
    }

    #[test]
    fn an_error_about_the_whole_form_lands_on_its_first_input() {
        for (modal, field, block) in [
            ("raise", "agency", "receiving_agency"),
            ("raise", "", "receiving_agency"),
            ("raise", "reason", "receiving_agency"),
            ("note", "", "note"),
            ("escalate", "step", "reason"),
            ("resolve", "resolution", "rationale"),
            ("reject", "", "reason"),
            ("withdraw", "withdraw", "reason"),
        ] {
            assert_eq!(block_for_field(modal, field), block, "{modal}/{field:?}");
        }
    }

    #[test]
    fn a_refusal_becomes_an_inline_error_in_slacks_shape() {
        let refusal = Refusal::Invalid {
            field: "summary".into(),
            message: "this looks like an NHS number; use your case reference".into(),
        };
        let block = block_for_field(callback::RAISE, refusal.field().unwrap_or(""));
        let answer = errors_response(&FormErrors::from([(
            block.to_string(),
            refusal.to_string(),
        )]));
        assert_eq!(answer["response_action"], "errors");
        assert_eq!(
            answer["errors"]["summary"],
            "summary: this looks like an NHS number; use your case reference"
        );

        let late = Refusal::DelayReasonRequired {
            due: "Mon 8 Jun".into(),
        };
        let field = late.field().unwrap_or("");
        assert_eq!(block_for_field(callback::ESCALATE, field), "delay_reason");
        assert_eq!(block_for_field(callback::RESOLVE, field), "delay_reason");
    }

    #[test]
    fn submitted_forms_become_the_cores_commands() {
        let note = state(&[("note", text("Met by phone.")), ("how", select("phone"))]);
        assert_eq!(
            parse_command(callback::NOTE, &note),
            Ok(Command::AddNote {
                text: "Met by phone.".into(),
                how: Some(ContactFormat::Phone),
                held_at: None
            })
        );
        let reason = state(&[
            ("reason", text("Stage 1 talks failed.")),
            ("delay_reason", text("Leave.")),
        ]);
        assert_eq!(
            parse_command(callback::ESCALATE, &reason),
            Ok(Command::Escalate {
                reason: "Stage 1 talks failed.".into(),
                delay_reason: Some("Leave.".into())
            })
        );
        assert_eq!(
            parse_command(callback::REJECT, &reason),
            Ok(Command::RejectResolution {
                reason: "Stage 1 talks failed.".into()
            })
        );
        assert_eq!(
            parse_command(callback::WITHDRAW, &reason),
            Ok(Command::Withdraw {
                reason: "Stage 1 talks failed.".into()
            })
        );
        let resolution = state(&[
            ("rationale", text("a")),
            ("outcome", text("b")),
            ("outstanding", text("c")),
        ]);
        assert_eq!(
            parse_command(callback::RESOLVE, &resolution),
            Ok(Command::ProposeResolution {
                rationale: "a".into(),
                outcome: "b".into(),
                outstanding: "c".into(),
                delay_reason: None
            })
        );
        assert_eq!(
            parse_command(callback::NOTE, &state(&[]))
                .map_err(|e| e.into_keys().collect::<Vec<_>>()),
            Err(vec!["note".to_string()])
        );
        assert!(parse_command(callback::RAISE, &state(&[])).is_err());
        assert!(parse_command("unknown", &state(&[])).is_err());
    }

    #[test]
    fn references_and_policy_names_in_views_are_escaped() {
        let view = note_modal("<!channel>", "m");
        assert!(view.to_string().contains("&lt;!channel&gt;"));
        assert!(!view.to_string().contains("<!channel>"));
    }
}
