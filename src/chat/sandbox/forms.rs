//! The sandbox's forms: the Slack modal's fields as data the page draws, and parsing what comes back.
//!
//! Every input has the id of the core field it feeds (`summary`, `reason`, …), as in the Slack
//! modal, so a core `Refusal` about a field is shown under that input.

use crate::calendar::london_instant;
use crate::directory::{AgencyId, PersonId};
use crate::escalation::{Command, Concerns, ContactFormat, RaiseDetails};
use crate::policy::Policy;
use chrono::NaiveDateTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// Each form's name, as the page posts it back.
pub mod name {
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
    /// Withdraw a challenge.
    pub const WITHDRAW: &str = "withdraw";
}

/// Inline errors of a submitted form: input id (or `_form` for the whole form) → what to do.
pub type FormErrors = BTreeMap<String, String>;

/// The key of an error about the whole form rather than one input.
pub const WHOLE_FORM: &str = "_form";

const FILL_IN: &str = "Please fill this in.";

const NO_IDENTIFIABLE: &str = "No client-identifiable detail: no names, NHS or National Insurance numbers, addresses, postcodes, dates of birth, phone numbers or email addresses. Use your case reference instead.";

/// The longest case reference the core accepts, as the Slack modal limits it.
const CASE_REFERENCE_MAX: usize = 40;

/// The longest free text an input takes (Slack's limit, so both platforms accept the same).
const TEXT_MAX: usize = 3000;

/// A form the page draws: a title, a short introduction, and its inputs in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormSpec {
    pub name: &'static str,
    pub title: String,
    pub submit: &'static str,
    pub intro: String,
    /// The challenge the form acts on (every form but raise).
    pub reference: Option<String>,
    pub fields: Vec<Field>,
}

/// What kind of input a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Select,
    Radios,
    Text,
    Textarea,
    /// A UK local date and time (`YYYY-MM-DDTHH:MM`).
    DateTime,
}

/// One choice of a select or radio group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// Choices shown under a heading (the other professional, grouped by agency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChoiceGroup {
    pub label: String,
    pub choices: Vec<Choice>,
}

/// One input of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub id: &'static str,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    pub hint: Option<String>,
    pub choices: Vec<Choice>,
    pub groups: Vec<ChoiceGroup>,
    pub max_length: Option<usize>,
}

impl Field {
    fn new(id: &'static str, label: &str, kind: FieldKind, required: bool) -> Field {
        Field {
            id,
            label: label.to_string(),
            kind,
            required,
            hint: None,
            choices: Vec::new(),
            groups: Vec::new(),
            max_length: match kind {
                FieldKind::Text | FieldKind::Textarea => Some(TEXT_MAX),
                _ => None,
            },
        }
    }

    fn hint(mut self, hint: &str) -> Field {
        self.hint = Some(hint.to_string());
        self
    }

    fn choices(mut self, choices: &[(&str, &str)]) -> Field {
        self.choices = choices.iter().map(|(v, l)| choice(v, l)).collect();
        self
    }

    fn max(mut self, n: usize) -> Field {
        self.max_length = Some(n);
        self
    }
}

fn choice(value: &str, label: &str) -> Choice {
    Choice {
        value: value.to_string(),
        label: label.to_string(),
    }
}

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The raise form for a person of `policy`'s board. `agencies` are the other agencies as
/// (id, name); `people` the professionals who may be named, as (agency id, [(person id, label)]).
pub fn raise(
    policy: &Policy,
    agencies: &[(String, String)],
    people: &[(String, Vec<(String, String)>)],
) -> FormSpec {
    let mut fields = Vec::new();
    let mut agency = Field::new("receiving_agency", "Other agency", FieldKind::Select, true);
    agency.choices = agencies.iter().map(|(id, name)| choice(id, name)).collect();
    fields.push(agency);
    let groups: Vec<ChoiceGroup> = people
        .iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(agency, list)| ChoiceGroup {
            label: agencies
                .iter()
                .find(|(id, _)| id == agency)
                .map_or_else(|| agency.clone(), |(_, name)| name.clone()),
            choices: list.iter().map(|(id, label)| choice(id, label)).collect(),
        })
        .collect();
    if !groups.is_empty() {
        let mut other = Field::new(
            "other_professional",
            "Other professional (optional)",
            FieldKind::Select,
            false,
        )
        .hint("Leave this empty if they are not listed.");
        other.groups = groups;
        fields.push(other);
    }
    fields.push(
        Field::new(
            "concerns",
            "Does the disagreement concern an adult or an organisation?",
            FieldKind::Radios,
            true,
        )
        .choices(&[
            ("adult", "An adult"),
            (
                "organisation",
                "An organisation (for example a care provider)",
            ),
        ]),
    );
    fields.push(
        Field::new(
            "organisation",
            "The organisation's name (if it concerns an organisation)",
            FieldKind::Text,
            false,
        )
        .max(150),
    );
    let mut category = Field::new("category", "Category", FieldKind::Select, true);
    category.choices = policy
        .categories
        .iter()
        .map(|c| choice(&c.id, &c.name))
        .collect();
    fields.push(category);
    fields.push(
        Field::new(
            "summary",
            "What is the disagreement?",
            FieldKind::Textarea,
            true,
        )
        .hint(NO_IDENTIFIABLE),
    );
    fields.push(Field::new(
        "possible_cause",
        "What may be causing it? (optional)",
        FieldKind::Textarea,
        false,
    ));
    fields.push(Field::new(
        "desired_outcome",
        "What needs to happen to resolve it?",
        FieldKind::Textarea,
        true,
    ));
    fields.push(
        Field::new(
            "adults_views",
            "The adult's views and wishes, where known (optional)",
            FieldKind::Textarea,
            false,
        )
        .hint("Making Safeguarding Personal: what the adult wants to happen."),
    );
    fields.push(
        Field::new("case_reference", "Your agency's case reference", FieldKind::Text, true)
            .max(CASE_REFERENCE_MAX)
            .hint("Your own record number (e.g. ASC-4471), so the record points at the case without naming anyone."),
    );
    fields.push(
        Field::new(
            "immediate_risk",
            "Is an adult at immediate risk of harm?",
            FieldKind::Radios,
            true,
        )
        .choices(&[("yes", "Yes"), ("no", "No")])
        .hint(&format!("If yes: {}", flat(&policy.urgent.prompt))),
    );
    FormSpec {
        name: name::RAISE,
        title: "Raise a challenge".into(),
        submit: "Raise",
        intro: format!(
            "Raise a professional challenge with another agency under the {} procedure. It is not for a complaint about one worker's conduct: use the PiPoT (person in a position of trust) or whistleblowing route for that.",
            policy.name
        ),
        reference: None,
        fields,
    }
}

fn delay_reason() -> Field {
    Field::new(
        "delay_reason",
        "Reason for delay (only if this step is late)",
        FieldKind::Textarea,
        false,
    )
    .hint("The procedure asks you to account for any delay past the deadline.")
}

/// The form for acting on a challenge, by name; `None` for a name that is not one of them.
pub fn for_challenge(form: &str, reference: &str) -> Option<FormSpec> {
    let spec = |name, title: &str, submit, intro: &str, fields| FormSpec {
        name,
        title: title.to_string(),
        submit,
        intro: intro.to_string(),
        reference: Some(reference.to_string()),
        fields,
    };
    Some(match form {
        name::NOTE => spec(
            name::NOTE,
            "Add a note",
            "Add note",
            "The note is added to the record and a short line is shown in every agency's thread.",
            vec![
                Field::new(
                    "note",
                    "What was discussed, and what was agreed?",
                    FieldKind::Textarea,
                    true,
                )
                .hint(NO_IDENTIFIABLE),
                Field::new(
                    "how",
                    "How did it take place? (optional)",
                    FieldKind::Select,
                    false,
                )
                .choices(&[
                    ("phone", "Phone call"),
                    ("meeting", "Meeting"),
                    ("video_call", "Video call"),
                    ("email", "Email"),
                    ("other", "Other"),
                ]),
                Field::new(
                    "held_at",
                    "When? (optional, UK time)",
                    FieldKind::DateTime,
                    false,
                ),
            ],
        ),
        name::ESCALATE => spec(
            name::ESCALATE,
            "Escalate",
            "Escalate",
            "Escalating asks the next people on each side to take over. From stage 2 on, it lodges a formal challenge under the board's procedure.",
            vec![
                Field::new(
                    "reason",
                    "Why escalate? What was tried, and why is it unresolved?",
                    FieldKind::Textarea,
                    true,
                )
                .hint(NO_IDENTIFIABLE),
                delay_reason(),
            ],
        ),
        name::RESOLVE => spec(
            name::RESOLVE,
            "Propose a resolution",
            "Propose",
            "The other agency confirms or rejects your proposal in writing.",
            vec![
                Field::new("rationale", "Rationale", FieldKind::Textarea, true)
                    .hint(NO_IDENTIFIABLE),
                Field::new("outcome", "Agreed outcome", FieldKind::Textarea, true),
                Field::new(
                    "outstanding",
                    "How will any outstanding issues be pursued?",
                    FieldKind::Textarea,
                    true,
                ),
                delay_reason(),
            ],
        ),
        name::REJECT => spec(
            name::REJECT,
            "Reject the resolution",
            "Reject",
            "The challenge stays open at its current stage.",
            vec![
                Field::new(
                    "reason",
                    "Why is the proposed resolution not accepted?",
                    FieldKind::Textarea,
                    true,
                )
                .hint(NO_IDENTIFIABLE),
            ],
        ),
        name::WITHDRAW => spec(
            name::WITHDRAW,
            "Withdraw the challenge",
            "Withdraw",
            "Withdrawing closes the challenge for both agencies.",
            vec![
                Field::new(
                    "reason",
                    "Why is the challenge withdrawn?",
                    FieldKind::Textarea,
                    true,
                )
                .hint(NO_IDENTIFIABLE),
            ],
        ),
        _ => return None,
    })
}

/// The inputs of each form, in order.
fn inputs(form: &str) -> &'static [&'static str] {
    match form {
        name::RAISE => &[
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
        name::NOTE => &["note", "how", "held_at"],
        name::ESCALATE => &["reason", "delay_reason"],
        name::RESOLVE => &["rationale", "outcome", "outstanding", "delay_reason"],
        name::REJECT | name::WITHDRAW => &["reason"],
        _ => &[],
    }
}

/// Where an error about core field `field` (a `Refusal::field()`) is shown on `form`: the input
/// it is about, or the whole form when the form has no such input.
pub fn error_key(form: &str, field: Option<&str>) -> &'static str {
    let field = match field {
        Some("concerns") => "organisation",
        Some("text") => "note",
        Some(other) => other,
        None => WHOLE_FORM,
    };
    inputs(form)
        .iter()
        .find(|i| **i == field)
        .copied()
        .unwrap_or(WHOLE_FORM)
}

/// What a submitted form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A new challenge.
    Raise(RaiseDetails),
    /// A command on an existing challenge.
    Act(Command),
}

/// The submitted values, trimmed, empty ones dropped.
struct Values<'a>(&'a BTreeMap<String, String>);

impl Values<'_> {
    fn get(&self, id: &str) -> Option<String> {
        let v = self.0.get(id)?.trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    fn required(&self, id: &str, errors: &mut FormErrors) -> Option<String> {
        let v = self.get(id);
        if v.is_none() {
            errors.insert(id.to_string(), FILL_IN.to_string());
        }
        v
    }
}

/// Parses a submitted form into what it asks the core to do, or names what is missing.
pub fn parse(form: &str, values: &BTreeMap<String, String>) -> Result<Submitted, FormErrors> {
    let v = Values(values);
    let mut errors = FormErrors::new();
    let submitted = match form {
        name::RAISE => parse_raise(&v, &mut errors).map(Submitted::Raise),
        name::NOTE => {
            let text = v.required("note", &mut errors);
            let how = v.get("how").and_then(|h| match h.as_str() {
                "phone" => Some(ContactFormat::Phone),
                "meeting" => Some(ContactFormat::Meeting),
                "video_call" => Some(ContactFormat::VideoCall),
                "email" => Some(ContactFormat::Email),
                "other" => Some(ContactFormat::Other),
                _ => None,
            });
            let held_at = match v.get("held_at") {
                None => None,
                Some(t) => match NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M") {
                    Ok(local) => Some(london_instant(local)),
                    Err(_) => {
                        errors.insert(
                            "held_at".into(),
                            "Give a date and time, like 2026-06-01 09:40.".into(),
                        );
                        None
                    }
                },
            };
            text.map(|text| Submitted::Act(Command::AddNote { text, how, held_at }))
        }
        name::ESCALATE => v.required("reason", &mut errors).map(|reason| {
            Submitted::Act(Command::Escalate {
                reason,
                delay_reason: v.get("delay_reason"),
            })
        }),
        name::RESOLVE => {
            let rationale = v.required("rationale", &mut errors);
            let outcome = v.required("outcome", &mut errors);
            let outstanding = v.required("outstanding", &mut errors);
            match (rationale, outcome, outstanding) {
                (Some(rationale), Some(outcome), Some(outstanding)) => {
                    Some(Submitted::Act(Command::ProposeResolution {
                        rationale,
                        outcome,
                        outstanding,
                        delay_reason: v.get("delay_reason"),
                    }))
                }
                _ => None,
            }
        }
        name::REJECT => v
            .required("reason", &mut errors)
            .map(|reason| Submitted::Act(Command::RejectResolution { reason })),
        name::WITHDRAW => v
            .required("reason", &mut errors)
            .map(|reason| Submitted::Act(Command::Withdraw { reason })),
        _ => {
            errors.insert(
                WHOLE_FORM.into(),
                "This form is not one escalation-bot knows; close it and start again.".into(),
            );
            None
        }
    };
    match submitted {
        Some(s) if errors.is_empty() => Ok(s),
        _ => Err(errors),
    }
}

fn parse_raise(v: &Values<'_>, errors: &mut FormErrors) -> Option<RaiseDetails> {
    let receiving_agency = v.required("receiving_agency", errors);
    let concerns = match v.get("concerns").as_deref() {
        Some("adult") => Some(Concerns::Adult),
        Some("organisation") => match v.get("organisation") {
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
        _ => {
            errors.insert("concerns".into(), FILL_IN.into());
            None
        }
    };
    let category = v.required("category", errors);
    let summary = v.required("summary", errors);
    let desired_outcome = v.required("desired_outcome", errors);
    let case_reference = v.required("case_reference", errors);
    let immediate_risk = match v.get("immediate_risk").as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => {
            errors.insert("immediate_risk".into(), FILL_IN.into());
            None
        }
    };
    Some(RaiseDetails {
        receiving_agency: AgencyId(receiving_agency?),
        other_professional: v.get("other_professional").map(PersonId),
        concerns: concerns?,
        category: category?,
        summary: summary?,
        possible_cause: v.get("possible_cause"),
        desired_outcome: desired_outcome?,
        adults_views: v.get("adults_views"),
        case_reference: case_reference?,
        immediate_risk: immediate_risk?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
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
            ("desired_outcome", "A capacity assessment."),
            ("case_reference", "ASC-4471"),
            ("immediate_risk", "no"),
        ]
    }

    #[test]
    fn a_complete_raise_form_becomes_the_cores_raise_details() {
        let Ok(Submitted::Raise(d)) = parse(name::RAISE, &values(&full_raise())) else {
            panic!("a complete form parses");
        };
        assert_eq!(d.receiving_agency, AgencyId("riverside-gp".into()));
        assert_eq!(d.other_professional, Some(PersonId("dr-okafor".into())));
        assert_eq!(d.concerns, Concerns::Adult);
        assert!(!d.immediate_risk);
        assert_eq!(d.possible_cause, None);
    }

    #[test]
    fn every_missing_required_raise_input_is_named() {
        let errors = parse(name::RAISE, &values(&[("summary", "  ")])).expect_err("empty form");
        let named: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            named,
            vec![
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
        let mut v = full_raise();
        v.retain(|(k, _)| *k != "concerns");
        v.push(("concerns", "organisation"));
        let errors = parse(name::RAISE, &values(&v)).expect_err("no name");
        assert!(errors["organisation"].contains("organisation's name"));
    }

    #[test]
    fn a_note_takes_its_format_and_uk_local_time() {
        let Ok(Submitted::Act(Command::AddNote { text, how, held_at })) = parse(
            name::NOTE,
            &values(&[
                ("note", "Met by phone"),
                ("how", "phone"),
                ("held_at", "2026-06-01T09:40"),
            ]),
        ) else {
            panic!("a note parses");
        };
        assert_eq!(text, "Met by phone");
        assert_eq!(how, Some(ContactFormat::Phone));
        assert_eq!(
            held_at.map(|t| t.to_rfc3339()),
            Some("2026-06-01T08:40:00+00:00".into())
        );
        let errors = parse(name::NOTE, &values(&[("note", "x"), ("held_at", "soon")]))
            .expect_err("bad time");
        assert!(errors.contains_key("held_at"));
    }

    #[test]
    fn escalate_resolve_reject_and_withdraw_parse_into_their_commands() {
        assert!(matches!(
            parse(name::ESCALATE, &values(&[("reason", "no agreement")])),
            Ok(Submitted::Act(Command::Escalate {
                delay_reason: None,
                ..
            }))
        ));
        assert!(matches!(
            parse(
                name::RESOLVE,
                &values(&[
                    ("rationale", "a"),
                    ("outcome", "b"),
                    ("outstanding", "c"),
                    ("delay_reason", "d")
                ])
            ),
            Ok(Submitted::Act(Command::ProposeResolution {
                delay_reason: Some(_),
                ..
            }))
        ));
        assert!(matches!(
            parse(name::REJECT, &values(&[("reason", "no")])),
            Ok(Submitted::Act(Command::RejectResolution { .. }))
        ));
        assert!(matches!(
            parse(name::WITHDRAW, &values(&[("reason", "settled")])),
            Ok(Submitted::Act(Command::Withdraw { .. }))
        ));
        assert_eq!(
            parse(name::RESOLVE, &values(&[("rationale", "a")]))
                .expect_err("missing")
                .len(),
            2
        );
        assert!(
            parse("frobnicate", &values(&[]))
                .expect_err("unknown")
                .contains_key(WHOLE_FORM)
        );
    }

    #[test]
    fn refusals_about_a_field_land_under_its_input_or_on_the_whole_form() {
        assert_eq!(error_key(name::RAISE, Some("summary")), "summary");
        assert_eq!(error_key(name::RAISE, Some("concerns")), "organisation");
        assert_eq!(error_key(name::NOTE, Some("text")), "note");
        assert_eq!(
            error_key(name::ESCALATE, Some("delay_reason")),
            "delay_reason"
        );
        assert_eq!(error_key(name::REJECT, Some("delay_reason")), WHOLE_FORM);
        assert_eq!(error_key(name::NOTE, None), WHOLE_FORM);
    }

    #[test]
    fn every_challenge_form_exists_and_carries_its_reference() {
        for form in [
            name::NOTE,
            name::ESCALATE,
            name::RESOLVE,
            name::REJECT,
            name::WITHDRAW,
        ] {
            let spec = for_challenge(form, "NSAB-2026-0001").expect("known form");
            assert_eq!(spec.reference.as_deref(), Some("NSAB-2026-0001"));
            let ids: Vec<&str> = spec.fields.iter().map(|f| f.id).collect();
            assert_eq!(ids, inputs(form), "{form} draws the inputs it parses");
        }
        assert!(for_challenge("raise", "NSAB-2026-0001").is_none());
    }
}
