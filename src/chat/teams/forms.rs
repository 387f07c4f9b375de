//! The Adaptive Card forms (raise, note, escalate, resolve, reject, withdraw) and reading what
//! people submit in them.
//!
//! They ask for what the Slack modals ask for. Every input's id is `{verb}.{field}`, unique across
//! a card that holds several forms in `Action.ShowCard`s, and `field` is mostly the name of the
//! core field it feeds, so that a core `Refusal` about a field comes back on that input. A form
//! shown again with errors keeps what the person typed (each input's `value`), and every text
//! shown on it goes through the card escaper.

use super::cards::{self, escape};
use crate::directory::{AgencyId, PersonId};
use crate::escalation::{Command, Concerns, ContactFormat, RaiseDetails};
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What a person typed into a form, by field.
pub type FormValues = BTreeMap<String, String>;

/// What is wrong with a submitted form, by field; `""` is about the whole form.
pub type FormErrors = BTreeMap<String, String>;

const FILL_IN: &str = "Please fill this in.";

const NO_IDENTIFIABLE: &str = "No client-identifiable detail: no names, NHS or National Insurance numbers, addresses, postcodes, dates of birth, phone numbers or email addresses. Use your case reference instead.";

/// The longest case reference the core accepts (an agency's short record number).
const CASE_REFERENCE_MAX: usize = 40;

/// Which kind of card an action was pressed on, so the answer can replace it sensibly (a root
/// card is replaced by the fresh root card, anything else by a receipt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    Root,
    Update,
    Notice,
    Direct,
    Receipt,
    Form,
}

impl CardKind {
    /// The name carried in button data.
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::Root => "root",
            CardKind::Update => "update",
            CardKind::Notice => "notice",
            CardKind::Direct => "direct",
            CardKind::Receipt => "receipt",
            CardKind::Form => "form",
        }
    }

    /// The kind named in button data (anything unknown is treated as a plain card).
    pub fn parse(s: &str) -> CardKind {
        match s {
            "root" => CardKind::Root,
            "update" => CardKind::Update,
            "notice" => CardKind::Notice,
            "direct" => CardKind::Direct,
            "form" => CardKind::Form,
            _ => CardKind::Receipt,
        }
    }
}

/// A form, named by the verb its submit button sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Raise,
    Note,
    Escalate,
    Resolve,
    Reject,
    Withdraw,
}

impl FormKind {
    /// The verb of the form's submit action (the button ids of the message model where one exists).
    pub fn verb(self) -> &'static str {
        match self {
            FormKind::Raise => "raise",
            FormKind::Note => "add_note",
            FormKind::Escalate => "escalate",
            FormKind::Resolve => "propose_resolution",
            FormKind::Reject => "reject_resolution",
            FormKind::Withdraw => "withdraw",
        }
    }

    /// The form a verb submits.
    pub fn from_verb(verb: &str) -> Option<FormKind> {
        [
            FormKind::Raise,
            FormKind::Note,
            FormKind::Escalate,
            FormKind::Resolve,
            FormKind::Reject,
            FormKind::Withdraw,
        ]
        .into_iter()
        .find(|f| f.verb() == verb)
    }

    /// The form's fields, in order; the first is where an error about the whole form goes.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            FormKind::Raise => &[
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
            FormKind::Note => &["note", "how", "held_on", "held_at"],
            FormKind::Escalate => &["reason", "delay_reason"],
            FormKind::Resolve => &["rationale", "outcome", "outstanding", "delay_reason"],
            FormKind::Reject | FormKind::Withdraw => &["reason"],
        }
    }

    fn title(self) -> &'static str {
        match self {
            FormKind::Raise => "Raise a challenge",
            FormKind::Note => "Add a note",
            FormKind::Escalate => "Escalate",
            FormKind::Resolve => "Propose a resolution",
            FormKind::Reject => "Reject the resolution",
            FormKind::Withdraw => "Withdraw the challenge",
        }
    }

    fn submit_label(self) -> &'static str {
        match self {
            FormKind::Raise => "Raise",
            FormKind::Note => "Add note",
            FormKind::Escalate => "Escalate",
            FormKind::Resolve => "Propose",
            FormKind::Reject => "Reject",
            FormKind::Withdraw => "Withdraw",
        }
    }

    fn guidance(self) -> &'static str {
        match self {
            FormKind::Raise => "",
            FormKind::Note => {
                "The note is added to the record and a short line is shown in every agency's thread."
            }
            FormKind::Escalate => {
                "Escalating asks the next people on each side to take over. From stage 2 on, it lodges a formal challenge under the board's procedure."
            }
            FormKind::Resolve => "The other agency confirms or rejects your proposal in writing.",
            FormKind::Reject => "The challenge stays open at its current stage.",
            FormKind::Withdraw => "Withdrawing closes the challenge for both agencies.",
        }
    }

    /// The input id of a field on a card.
    pub fn input_id(self, field: &str) -> String {
        format!("{}.{field}", self.verb())
    }

    /// The field of this form that an error about core field `field` (a `Refusal::field()`) is
    /// shown under, or `""` (the whole form) where the form has no such input.
    pub fn field_for(self, field: Option<&str>) -> String {
        let field = match field.unwrap_or("") {
            "concerns" => "organisation",
            "text" => "note",
            "held_at" => "held_on",
            other => other,
        };
        if self.fields().contains(&field) {
            field.to_string()
        } else {
            String::new()
        }
    }
}

/// The choices the raise form offers: the other agencies of the raiser's board, the people who
/// may be named (id, "Name (Role, Agency)"), and the board's categories, with the policy's name
/// and urgent prompt for the guidance.
#[derive(Debug, Clone, Default)]
pub struct RaiseChoices {
    pub policy_name: String,
    pub urgent_prompt: String,
    pub agencies: Vec<(String, String)>,
    pub people: Vec<(String, String)>,
    pub categories: Vec<(String, String)>,
}

fn small_text(text: &str) -> Value {
    json!({ "type": "TextBlock", "text": escape(text), "wrap": true, "size": "small", "isSubtle": true })
}

fn error_text(text: &str) -> Value {
    json!({ "type": "TextBlock", "text": escape(text), "wrap": true, "color": "attention", "size": "small" })
}

struct Inputs<'a> {
    kind: FormKind,
    values: &'a FormValues,
    errors: &'a FormErrors,
    out: Vec<Value>,
}

impl Inputs<'_> {
    fn push(&mut self, field: &str, mut input: Value, hint: Option<&str>) {
        input["id"] = json!(self.kind.input_id(field));
        if let Some(v) = self.values.get(field).filter(|v| !v.is_empty()) {
            input["value"] = json!(v);
        }
        if input["isRequired"] == true {
            input["errorMessage"] = json!(FILL_IN);
        }
        self.out.push(input);
        if let Some(hint) = hint {
            self.out.push(small_text(hint));
        }
        if let Some(e) = self.errors.get(field) {
            self.out.push(error_text(e));
        }
    }

    fn text(
        &mut self,
        field: &str,
        label: &str,
        required: bool,
        multiline: bool,
        max: usize,
        hint: Option<&str>,
    ) {
        let input = json!({
            "type": "Input.Text",
            "label": label,
            "isRequired": required,
            "isMultiline": multiline,
            "maxLength": max,
        });
        self.push(field, input, hint);
    }

    fn choice(
        &mut self,
        field: &str,
        label: &str,
        required: bool,
        expanded: bool,
        choices: &[(String, String)],
        hint: Option<&str>,
    ) {
        let choices: Vec<Value> = choices
            .iter()
            .take(100)
            .map(|(value, title)| json!({ "title": title, "value": value }))
            .collect();
        let input = json!({
            "type": "Input.ChoiceSet",
            "label": label,
            "isRequired": required,
            "style": if expanded { "expanded" } else { "compact" },
            "choices": choices,
        });
        self.push(field, input, hint);
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(v, t)| (v.to_string(), t.to_string()))
        .collect()
}

/// The inputs of a form (for an `Action.ShowCard` or a form card), with values kept and errors
/// shown under their inputs. The raise form needs its `choices`.
pub fn form_inputs(
    kind: FormKind,
    values: &FormValues,
    errors: &FormErrors,
    choices: Option<&RaiseChoices>,
) -> Vec<Value> {
    let mut i = Inputs {
        kind,
        values,
        errors,
        out: Vec::new(),
    };
    if let Some(e) = errors.get("") {
        i.out.push(error_text(e));
    }
    const LONG: usize = 3000;
    match kind {
        FormKind::Raise => {
            let c = choices.cloned().unwrap_or_default();
            i.choice(
                "receiving_agency",
                "Other agency",
                true,
                false,
                &c.agencies,
                None,
            );
            if !c.people.is_empty() {
                i.choice(
                    "other_professional",
                    "Other professional (optional)",
                    false,
                    false,
                    &c.people,
                    Some("Leave this empty if they are not listed."),
                );
            }
            i.choice(
                "concerns",
                "Does the disagreement concern an adult or an organisation?",
                true,
                true,
                &pairs(&[
                    ("adult", "An adult"),
                    (
                        "organisation",
                        "An organisation (for example a care provider)",
                    ),
                ]),
                None,
            );
            i.text(
                "organisation",
                "The organisation's name (if it concerns an organisation)",
                false,
                false,
                150,
                None,
            );
            i.choice("category", "Category", true, false, &c.categories, None);
            i.text(
                "summary",
                "What is the disagreement?",
                true,
                true,
                LONG,
                Some(NO_IDENTIFIABLE),
            );
            i.text(
                "possible_cause",
                "What may be causing it? (optional)",
                false,
                true,
                LONG,
                None,
            );
            i.text(
                "desired_outcome",
                "What needs to happen to resolve it?",
                true,
                true,
                LONG,
                None,
            );
            i.text(
                "adults_views",
                "The adult's views and wishes, where known (optional)",
                false,
                true,
                LONG,
                Some("Making Safeguarding Personal: what the adult wants to happen."),
            );
            i.text(
                "case_reference",
                "Your agency's case reference",
                true,
                false,
                CASE_REFERENCE_MAX,
                Some("Your own record number, so the record points at the case without naming anyone."),
            );
            let hint = format!("If yes: {}", c.urgent_prompt);
            i.choice(
                "immediate_risk",
                "Is an adult at immediate risk of harm?",
                true,
                true,
                &pairs(&[("yes", "Yes"), ("no", "No")]),
                Some(&hint),
            );
        }
        FormKind::Note => {
            i.text(
                "note",
                "What was discussed, and what was agreed?",
                true,
                true,
                LONG,
                Some(NO_IDENTIFIABLE),
            );
            i.choice(
                "how",
                "How did it take place? (optional)",
                false,
                false,
                &pairs(&[
                    ("phone", "Phone call"),
                    ("meeting", "Meeting"),
                    ("video_call", "Video call"),
                    ("email", "Email"),
                    ("other", "Other"),
                ]),
                None,
            );
            i.push(
                "held_on",
                json!({ "type": "Input.Date", "label": "On what date? (optional)" }),
                None,
            );
            i.push(
                "held_at",
                json!({ "type": "Input.Time", "label": "At what time? (optional, UK time)" }),
                None,
            );
        }
        FormKind::Escalate => {
            i.text(
                "reason",
                "Why escalate? What was tried, and why is it unresolved?",
                true,
                true,
                LONG,
                Some(NO_IDENTIFIABLE),
            );
            i.text(
                "delay_reason",
                "Reason for delay (only if this step is late)",
                false,
                true,
                LONG,
                Some("The procedure asks you to account for any delay past the deadline."),
            );
        }
        FormKind::Resolve => {
            i.text(
                "rationale",
                "Rationale",
                true,
                true,
                LONG,
                Some(NO_IDENTIFIABLE),
            );
            i.text("outcome", "Agreed outcome", true, true, LONG, None);
            i.text(
                "outstanding",
                "How will any outstanding issues be pursued?",
                true,
                true,
                LONG,
                None,
            );
            i.text(
                "delay_reason",
                "Reason for delay (only if this step is late)",
                false,
                true,
                LONG,
                Some("The procedure asks you to account for any delay past the deadline."),
            );
        }
        FormKind::Reject => i.text(
            "reason",
            "Why is the proposed resolution not accepted?",
            true,
            true,
            LONG,
            Some(NO_IDENTIFIABLE),
        ),
        FormKind::Withdraw => i.text(
            "reason",
            "Why is the challenge withdrawn?",
            true,
            true,
            LONG,
            Some(NO_IDENTIFIABLE),
        ),
    }
    i.out
}

/// The form's submit button: `Action.Execute` with the form's verb (and an `Action.Submit`
/// fallback). `form_id` makes a form single-use: a second submission of it is a duplicate.
pub fn submit(kind: FormKind, reference: &str, card: CardKind, form_id: Option<&str>) -> Value {
    let mut data = cards::action_data(kind.verb(), reference, card);
    if let Some(id) = form_id {
        data["form_id"] = json!(id);
    }
    cards::execute(kind.verb(), kind.submit_label(), data, true)
}

/// A card holding one form: the raise form, a form asked for by a typed command
/// (`escalate REF` without a reason), or a form shown again with its errors. `card` is the kind
/// of card the form replaces, carried so a later success can put the right card back.
#[allow(clippy::too_many_arguments)]
pub fn form_card(
    kind: FormKind,
    reference: &str,
    heading: Option<&str>,
    values: &FormValues,
    errors: &FormErrors,
    choices: Option<&RaiseChoices>,
    card: CardKind,
    form_id: Option<&str>,
) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": escape(&match heading {
            Some(h) => format!("{h} · {}", kind.title()),
            None if reference.is_empty() => kind.title().to_string(),
            None => format!("{reference} · {}", kind.title()),
        }),
        "wrap": true,
        "size": "medium",
        "weight": "bolder",
    })];
    match (kind, choices) {
        (FormKind::Raise, Some(c)) => body.push(json!({
            "type": "TextBlock",
            "text": format!(
                "Raise a professional challenge with another agency under the **{}** procedure. It is not for a complaint about one worker's conduct: use the PiPoT (person in a position of trust) or whistleblowing route for that.",
                escape(&c.policy_name)
            ),
            "wrap": true,
        })),
        _ if !kind.guidance().is_empty() => body.push(small_text(kind.guidance())),
        _ => {}
    }
    if !errors.is_empty() {
        body.push(error_text(
            "Please check the form: what needs changing is shown below.",
        ));
    }
    body.extend(form_inputs(kind, values, errors, choices));
    json!({
        "type": "AdaptiveCard",
        "$schema": cards::CARD_SCHEMA,
        "version": cards::CARD_VERSION,
        "fallbackText": format!("{}: this form needs a newer Teams client.", kind.title()),
        "body": body,
        "actions": [submit(kind, reference, card, form_id)],
    })
}

/// The values of a form's fields from submitted data (Teams merges the inputs into the action's
/// data, keyed by input id); blank values are left out.
pub fn values_from(kind: FormKind, data: &Value) -> FormValues {
    let mut out = FormValues::new();
    for field in kind.fields() {
        let value = match data.get(kind.input_id(field)) {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if !value.is_empty() {
            out.insert((*field).to_string(), value);
        }
    }
    out
}

fn required(values: &FormValues, field: &str, errors: &mut FormErrors) -> Option<String> {
    let v = values.get(field).cloned();
    if v.is_none() {
        errors.insert(field.to_string(), FILL_IN.to_string());
    }
    v
}

/// Reads a submitted raise form into the core's details (the core checks the rest and screens
/// the text), or says which fields need filling in.
pub fn parse_raise(values: &FormValues) -> Result<RaiseDetails, FormErrors> {
    let mut errors = FormErrors::new();
    let receiving_agency = required(values, "receiving_agency", &mut errors);
    let concerns = match values.get("concerns").map(String::as_str) {
        Some("adult") => Some(Concerns::Adult),
        Some("organisation") => match values.get("organisation") {
            Some(name) => Some(Concerns::Organisation { name: name.clone() }),
            None => {
                errors.insert(
                    "organisation".into(),
                    "Give the organisation's name, or choose \u{201c}An adult\u{201d} above."
                        .into(),
                );
                None
            }
        },
        _ => required(values, "concerns", &mut errors).and(None),
    };
    let category = required(values, "category", &mut errors);
    let summary = required(values, "summary", &mut errors);
    let desired_outcome = required(values, "desired_outcome", &mut errors);
    let case_reference = required(values, "case_reference", &mut errors);
    let immediate_risk = match values.get("immediate_risk").map(String::as_str) {
        Some("yes" | "true") => Some(true),
        Some("no" | "false") => Some(false),
        _ => {
            errors.insert("immediate_risk".into(), FILL_IN.into());
            None
        }
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
        ) if errors.is_empty() => Ok(RaiseDetails {
            receiving_agency: AgencyId(receiving_agency),
            other_professional: values.get("other_professional").cloned().map(PersonId),
            concerns,
            category,
            summary,
            possible_cause: values.get("possible_cause").cloned(),
            desired_outcome,
            adults_views: values.get("adults_views").cloned(),
            case_reference,
            immediate_risk,
        }),
        _ => Err(errors),
    }
}

/// When a note's discussion took place: date and time typed in UK local time.
fn held_at(values: &FormValues, errors: &mut FormErrors) -> Option<chrono::DateTime<Utc>> {
    let date = values.get("held_on");
    let time = values.get("held_at");
    match (date, time) {
        (None, None) => None,
        (Some(d), Some(t)) => {
            let parsed = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok().zip(
                NaiveTime::parse_from_str(t, "%H:%M")
                    .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S"))
                    .ok(),
            );
            match parsed.and_then(|(d, t)| {
                chrono_tz::Europe::London
                    .from_local_datetime(&d.and_time(t))
                    .earliest()
            }) {
                Some(local) => Some(local.with_timezone(&Utc)),
                None => {
                    errors.insert(
                        "held_on".into(),
                        "Give the date as YYYY-MM-DD and the time as HH:MM.".into(),
                    );
                    None
                }
            }
        }
        (Some(_), None) => {
            errors.insert(
                "held_at".into(),
                "Give the time as well as the date.".into(),
            );
            None
        }
        (None, Some(_)) => {
            errors.insert(
                "held_on".into(),
                "Give the date as well as the time.".into(),
            );
            None
        }
    }
}

/// Reads a submitted note, escalate, resolve, reject or withdraw form into the core command.
pub fn parse_command(kind: FormKind, values: &FormValues) -> Result<Command, FormErrors> {
    let mut errors = FormErrors::new();
    let command = match kind {
        FormKind::Raise => {
            errors.insert(
                String::new(),
                "This form raises a challenge; it is not a command on one.".into(),
            );
            None
        }
        FormKind::Note => {
            let text = required(values, "note", &mut errors);
            let how = values.get("how").and_then(|h| match h.as_str() {
                "phone" => Some(ContactFormat::Phone),
                "meeting" => Some(ContactFormat::Meeting),
                "video_call" => Some(ContactFormat::VideoCall),
                "email" => Some(ContactFormat::Email),
                "other" => Some(ContactFormat::Other),
                _ => None,
            });
            let held_at = held_at(values, &mut errors);
            text.map(|text| Command::AddNote { text, how, held_at })
        }
        FormKind::Escalate => {
            required(values, "reason", &mut errors).map(|reason| Command::Escalate {
                reason,
                delay_reason: values.get("delay_reason").cloned(),
            })
        }
        FormKind::Resolve => {
            let rationale = required(values, "rationale", &mut errors);
            let outcome = required(values, "outcome", &mut errors);
            let outstanding = required(values, "outstanding", &mut errors);
            match (rationale, outcome, outstanding) {
                (Some(rationale), Some(outcome), Some(outstanding)) => {
                    Some(Command::ProposeResolution {
                        rationale,
                        outcome,
                        outstanding,
                        delay_reason: values.get("delay_reason").cloned(),
                    })
                }
                _ => None,
            }
        }
        FormKind::Reject => required(values, "reason", &mut errors)
            .map(|reason| Command::RejectResolution { reason }),
        FormKind::Withdraw => {
            required(values, "reason", &mut errors).map(|reason| Command::Withdraw { reason })
        }
    };
    match command {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::teams::cards::tests::assert_valid_card;

    fn choices() -> RaiseChoices {
        RaiseChoices {
            policy_name: "Norfolk Safeguarding Adults Board".into(),
            urgent_prompt: "Act now: contact the police or adult social care.".into(),
            agencies: vec![("riverside-gp".into(), "Riverside GP Practice".into())],
            people: vec![(
                "dr-okafor".into(),
                "Dr Okafor (GP, Riverside GP Practice)".into(),
            )],
            categories: vec![(
                "outcomes-of-assessments".into(),
                "Outcomes of assessments".into(),
            )],
        }
    }

    fn submitted(kind: FormKind, pairs: &[(&str, &str)]) -> Value {
        let mut data =
            json!({ "verb": kind.verb(), "reference": "NSAB-2026-0012", "card": "root" });
        for (k, v) in pairs {
            data[kind.input_id(k)] = json!(v);
        }
        data
    }

    fn full_raise() -> Vec<(&'static str, &'static str)> {
        vec![
            ("receiving_agency", "riverside-gp"),
            ("other_professional", "dr-okafor"),
            ("concerns", "adult"),
            ("category", "outcomes-of-assessments"),
            (
                "summary",
                "Decision not to refer for a capacity assessment.",
            ),
            ("desired_outcome", "A joint capacity assessment."),
            ("case_reference", "ASC-4471"),
            ("immediate_risk", "no"),
        ]
    }

    #[test]
    fn every_form_card_is_a_valid_adaptive_card() {
        for kind in [
            FormKind::Raise,
            FormKind::Note,
            FormKind::Escalate,
            FormKind::Resolve,
            FormKind::Reject,
            FormKind::Withdraw,
        ] {
            let mut errors = FormErrors::new();
            errors.insert(kind.fields()[0].to_string(), "Please fill this in.".into());
            errors.insert(String::new(), "Something about the whole form".into());
            let card = form_card(
                kind,
                "NSAB-2026-0012",
                None,
                &FormValues::new(),
                &errors,
                Some(&choices()),
                CardKind::Root,
                Some("f-1"),
            );
            assert_valid_card(&card);
        }
    }

    #[test]
    fn the_raise_form_asks_what_the_slack_modal_asks() {
        let card = form_card(
            FormKind::Raise,
            "",
            None,
            &FormValues::new(),
            &FormErrors::new(),
            Some(&choices()),
            CardKind::Form,
            Some("f-1"),
        );
        let ids: Vec<String> = card["body"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["id"].as_str().map(str::to_string))
            .collect();
        let expected: Vec<String> = FormKind::Raise
            .fields()
            .iter()
            .map(|f| FormKind::Raise.input_id(f))
            .collect();
        assert_eq!(ids, expected);
        let text = card.to_string();
        assert!(text.contains("PiPoT") && text.contains("whistleblowing"));
        assert_eq!(card["actions"][0]["data"]["form_id"], "f-1");
        assert_eq!(card["actions"][0]["verb"], "raise");
    }

    #[test]
    fn a_complete_raise_submission_becomes_the_cores_details() {
        let values = values_from(FormKind::Raise, &submitted(FormKind::Raise, &full_raise()));
        let d = parse_raise(&values).expect("complete");
        assert_eq!(d.receiving_agency, AgencyId("riverside-gp".into()));
        assert_eq!(d.other_professional, Some(PersonId("dr-okafor".into())));
        assert!(!d.immediate_risk);
        assert_eq!(d.case_reference, "ASC-4471");
    }

    #[test]
    fn missing_fields_are_named_and_what_was_typed_is_kept_on_the_form() {
        let mut pairs = full_raise();
        pairs.retain(|(k, _)| *k != "summary" && *k != "immediate_risk");
        pairs.push(("concerns", "organisation"));
        pairs.retain(|(k, v)| !(*k == "concerns" && *v == "adult"));
        let values = values_from(FormKind::Raise, &submitted(FormKind::Raise, &pairs));
        let errors = parse_raise(&values).expect_err("incomplete");
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            vec!["immediate_risk", "organisation", "summary"]
        );
        let card = form_card(
            FormKind::Raise,
            "",
            None,
            &values,
            &errors,
            Some(&choices()),
            CardKind::Form,
            Some("f-1"),
        );
        let body = card["body"].as_array().cloned().unwrap_or_default();
        let case = body
            .iter()
            .find(|b| b["id"] == "raise.case_reference")
            .cloned()
            .unwrap_or_default();
        assert_eq!(case["value"], "ASC-4471");
        let summary_at = body
            .iter()
            .position(|b| b["id"] == "raise.summary")
            .unwrap_or(0);
        assert_eq!(
            body[summary_at + 2]["color"],
            "attention",
            "the error sits under its input and hint"
        );
    }

    #[test]
    fn command_forms_become_the_cores_commands() {
        let values = values_from(
            FormKind::Note,
            &submitted(
                FormKind::Note,
                &[
                    ("note", "Met by phone."),
                    ("how", "phone"),
                    ("held_on", "2026-06-02"),
                    ("held_at", "10:30"),
                ],
            ),
        );
        match parse_command(FormKind::Note, &values) {
            Ok(Command::AddNote { text, how, held_at }) => {
                assert_eq!(text, "Met by phone.");
                assert_eq!(how, Some(ContactFormat::Phone));
                assert_eq!(
                    held_at.map(|t| t.to_rfc3339()),
                    Some("2026-06-02T09:30:00+00:00".to_string())
                );
            }
            other => panic!("{other:?}"),
        }
        let values = values_from(
            FormKind::Escalate,
            &submitted(FormKind::Escalate, &[("reason", "No agreement.")]),
        );
        assert_eq!(
            parse_command(FormKind::Escalate, &values),
            Ok(Command::Escalate {
                reason: "No agreement.".into(),
                delay_reason: None
            })
        );
        let errors = parse_command(FormKind::Resolve, &FormValues::new()).expect_err("empty");
        assert_eq!(errors.len(), 3);
        let errors = parse_command(
            FormKind::Note,
            &values_from(
                FormKind::Note,
                &submitted(FormKind::Note, &[("note", "x"), ("held_on", "2026-06-02")]),
            ),
        )
        .expect_err("no time");
        assert!(errors.contains_key("held_at"));
    }

    #[test]
    fn core_refusals_land_on_the_input_they_are_about() {
        assert_eq!(FormKind::Raise.field_for(Some("summary")), "summary");
        assert_eq!(FormKind::Raise.field_for(Some("concerns")), "organisation");
        assert_eq!(FormKind::Note.field_for(Some("text")), "note");
        assert_eq!(
            FormKind::Escalate.field_for(Some("delay_reason")),
            "delay_reason"
        );
        assert_eq!(FormKind::Reject.field_for(Some("delay_reason")), "");
        assert_eq!(FormKind::Withdraw.field_for(None), "");
    }
}
