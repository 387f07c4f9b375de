//! Every form people fill in, written once: fields, words, limits and validation.
//!
//! A form belongs to a [`Verb`]: the raise form, the note form, the escalate form and so on. Slack
//! modals, Teams Adaptive Cards and the sandbox page are renderings of a [`FormSpec`]; what comes
//! back is reduced by each platform to [`Values`] (field id → text) and read here, by [`parse`],
//! into the core command it asks for. A core `Refusal` about a field is shown under that field
//! ([`FormSpec::field_for`]), so the person's input is kept and the error sits where it belongs.

use crate::calendar::{Calendar, format_uk_short, london_instant};
use crate::directory::{AgencyId, BOARD_KIND, Directory, Person, PersonId};
use crate::escalation::{
    Answers, Command, Concerns, ContactFormat, DeterminedAction, Dispute, RaiseDetails, Verb,
};
use crate::policy::{Notice, NoticeWhen, Policy};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a person typed or chose, by field id; blank values are left out.
pub type Values = BTreeMap<String, String>;

/// What needs changing on a submitted form: field id (or [`WHOLE_FORM`]) → what to do.
pub type FormErrors = BTreeMap<String, String>;

/// The key of an error about the whole form rather than one field.
pub const WHOLE_FORM: &str = "_form";

/// The longest free text a field takes (Slack's input limit, so every platform accepts the same).
pub const TEXT_MAX: usize = 3000;

/// The longest case reference the core accepts (an agency's short record number).
pub const CASE_REFERENCE_MAX: usize = 40;

/// The longest organisation name.
const ORGANISATION_MAX: usize = 150;

/// The hint on every free-text field that reaches chat.
pub const NO_IDENTIFIABLE: &str = "No client-identifiable detail: no names, NHS or National Insurance numbers, addresses, postcodes, dates of birth, phone numbers or email addresses. Use your case reference instead.";

/// A form: a title, an introduction, the procedure's own words, and its fields in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormSpec {
    /// The verb's id: Slack's `callback_id`, Teams' submit verb, the sandbox's form name.
    pub name: String,
    pub title: String,
    /// The submit button's label.
    pub submit: String,
    pub intro: String,
    /// What the board's procedure says at this point, shown above the fields.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The challenge the form acts on (every form but raise).
    pub reference: Option<String>,
    pub fields: Vec<Field>,
}

/// What kind of input a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Select,
    Radios,
    Text,
    Textarea,
    /// A UK local date and time, carried as `YYYY-MM-DDTHH:MM`.
    DateTime,
}

/// One choice of a select or radio group; `detail` is shown once it is chosen (a category's
/// guidance, a step's prompt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Choices shown under a heading (the other professional, grouped by agency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceGroup {
    pub label: String,
    pub choices: Vec<Choice>,
}

/// One input of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub id: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    pub hint: Option<String>,
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub groups: Vec<ChoiceGroup>,
    pub max_length: Option<usize>,
    /// What to tell someone who left this required field empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl Field {
    fn new(id: &str, label: &str, kind: FieldKind, required: bool) -> Field {
        Field {
            id: id.to_string(),
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
            missing: None,
        }
    }

    /// What to tell someone who left this field empty.
    pub fn missing_text(&self) -> String {
        self.missing.clone().unwrap_or_else(|| match self.kind {
            FieldKind::Select | FieldKind::Radios => "Choose one of these to go on.".into(),
            _ => "Fill this in to go on.".into(),
        })
    }

    fn hint(mut self, hint: impl Into<String>) -> Field {
        self.hint = Some(hint.into());
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

    /// Every choice the field offers, grouped or not.
    pub fn all_choices(&self) -> impl Iterator<Item = &Choice> {
        self.choices
            .iter()
            .chain(self.groups.iter().flat_map(|g| &g.choices))
    }

    fn is_choice(&self) -> bool {
        matches!(self.kind, FieldKind::Select | FieldKind::Radios)
    }
}

fn choice(value: &str, label: &str) -> Choice {
    Choice {
        value: value.to_string(),
        label: label.to_string(),
        detail: None,
    }
}

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl FormSpec {
    /// The verb the form submits.
    pub fn verb(&self) -> Option<Verb> {
        Verb::from_id(&self.name)
    }

    /// The field with this id.
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// Where an error about core field `field` (a `Refusal::field()`) is shown on this form:
    /// under that field, or on the whole form when the form has no such field.
    pub fn field_for(&self, field: Option<&str>) -> String {
        let field = match field {
            Some("concerns") => "organisation",
            Some("text") if self.field("note").is_some() => "note",
            Some("text") => "learning",
            Some(other) => other,
            None => WHOLE_FORM,
        };
        if self.field(field).is_some() {
            field.to_string()
        } else {
            WHOLE_FORM.to_string()
        }
    }
}

/// What a form may consult when it is drawn or read: the board's policy and calendar, the
/// directory, the dispute it acts on (none for raise), who fills it in (the raise form offers
/// the other agencies of theirs), and the time now.
#[derive(Clone, Copy)]
pub struct FormContext<'a> {
    pub policy: &'a Policy,
    pub calendar: &'a Calendar,
    pub directory: &'a Directory,
    pub dispute: Option<&'a Dispute>,
    pub person: Option<&'a Person>,
    pub now: DateTime<Utc>,
}

/// The form of `verb`, or `None` for a verb that needs no form (acknowledge, confirm).
pub fn form(verb: Verb, ctx: &FormContext<'_>) -> Option<FormSpec> {
    let mut spec = draw(verb, ctx)?;
    for f in &mut spec.fields {
        f.missing = missing(verb, &f.id).map(str::to_string);
    }
    Some(spec)
}

/// What to tell someone who left a required field empty, in words that say what to do.
fn missing(verb: Verb, field: &str) -> Option<&'static str> {
    Some(match (verb, field) {
        (_, "receiving_agency") => "Choose the agency whose decision you disagree with.",
        (_, "concerns") => "Say whether it concerns an adult or an organisation.",
        (_, "category") => "Choose the kind of disagreement.",
        (_, "summary") => "Say what the disagreement is.",
        (_, "desired_outcome") => "Say what needs to happen to resolve it.",
        (_, "case_reference") => {
            "Give your agency's case reference, so the record points at the case without naming anyone."
        }
        (_, "immediate_risk") => "Say whether an adult is at immediate risk of harm.",
        (_, "note") => "Write what was discussed and what was agreed.",
        (Verb::Escalate, "reason") => {
            "Say why you are escalating: what was tried, and why it is unresolved."
        }
        (Verb::RejectResolution, "reason") => "Say why the proposed resolution is not accepted.",
        (Verb::Withdraw, "reason") => "Say why the challenge is withdrawn.",
        (Verb::RecordDelayReason, "reason") => "Say why the deadline was not met.",
        (Verb::BringDeadlineForward, "reason") => "Say why the adult needs it sooner.",
        (_, "members") => "Name the members who took part.",
        (_, "met_at") => "Give the date and time it met.",
        (Verb::RecordDetermination, "outcome") => "Give the outcome it determined.",
        (_, "rationale") => "Give the rationale for the decision.",
        (_, "outcome") => "Give the agreed outcome.",
        (_, "outstanding") => {
            "Say how any outstanding issues will be pursued (or that there are none)."
        }
        (_, "step") => "Choose the step that has happened.",
        (_, "due") => "Give the new deadline.",
        (_, "learning") => "Write the learning for the board.",
        _ => return None,
    })
}

/// The form of `verb` as the procedure asks for it.
fn draw(verb: Verb, ctx: &FormContext<'_>) -> Option<FormSpec> {
    let reference = ctx
        .dispute
        .and_then(|d| d.reference.as_ref())
        .map(ToString::to_string);
    let spec = |title: &str, submit: &str, intro: String, fields: Vec<Field>| FormSpec {
        name: verb.id().to_string(),
        title: title.to_string(),
        submit: submit.to_string(),
        intro,
        notes: Vec::new(),
        reference: reference.clone(),
        fields,
    };
    let reason =
        |label: &str| Field::new("reason", label, FieldKind::Textarea, true).hint(NO_IDENTIFIABLE);
    let policy = ctx.policy;
    Some(match verb {
        Verb::Raise => raise(ctx),
        Verb::Acknowledge | Verb::ConfirmResolution => return None,
        Verb::AddNote => spec(
            "Add a note",
            "Add note",
            "The note is added to the record and a short line is shown in every agency's thread."
                .into(),
            vec![
                Field::new(
                    "note",
                    "What was discussed, and what was agreed?",
                    FieldKind::Textarea,
                    true,
                )
                .hint(NO_IDENTIFIABLE),
                Field::new("how", "How did it take place?", FieldKind::Select, false).choices(&[
                    ("phone", "Phone call"),
                    ("meeting", "Meeting"),
                    ("video_call", "Video call"),
                    ("email", "Email"),
                    ("other", "Other"),
                ]),
                Field::new("held_at", "When? (UK time)", FieldKind::DateTime, false),
            ],
        ),
        Verb::Escalate => {
            // Where the escalation goes, so the form says what the procedure says of it: a formal
            // challenge (only where the procedure uses the term) and the notices it offers.
            let target = ctx
                .dispute
                .and_then(|d| crate::escalation::escalation_target(policy, ctx.directory, d));
            let formal = target.is_some_and(|(s, _)| s.formal_challenge);
            let mut fields = vec![
                reason("Why escalate? What was tried, and why is it unresolved?"),
                delay_reason(),
            ];
            if let Some((stage, 0)) = target {
                fields.extend(
                    stage
                        .notify
                        .iter()
                        .filter(|n| n.when != NoticeWhen::OnUrgent)
                        .filter_map(|n| notice_question(n, true)),
                );
            }
            spec(
                "Escalate",
                "Escalate",
                format!(
                    "Escalating asks the next people on each side to take over.{}",
                    if formal {
                        format!(
                            " It lodges a formal challenge under the {} procedure.",
                            policy.name
                        )
                    } else {
                        String::new()
                    }
                ),
                fields,
            )
        }
        Verb::RecordDetermination => {
            let decision = ctx
                .dispute
                .and_then(|d| policy.stage(d.stage))
                .and_then(|s| s.decision.as_ref().map(|dec| (s, dec)));
            let (name, source) = decision.map_or_else(
                || ("board".to_string(), String::new()),
                |(_, dec)| (dec.name.clone(), format!(" ({})", dec.source)),
            );
            let mut s = spec(
                "Record determination",
                "Record",
                format!(
                    "Record the {name}'s determination{source}. It closes the challenge: the parties can add their view as a note, but it is not a proposal they confirm or reject."
                ),
                vec![
                    Field::new(
                        "members",
                        "Who sat on it? (names, separated by commas)",
                        FieldKind::Textarea,
                        true,
                    )
                    .hint("Names or directory ids as the directory has them."),
                    Field::new(
                        "met_at",
                        "When did it meet? (UK time)",
                        FieldKind::DateTime,
                        true,
                    )
                    .hint("A date alone means the opening of working hours that day."),
                    Field::new("outcome", "Outcome determined", FieldKind::Textarea, true)
                        .hint(NO_IDENTIFIABLE),
                    Field::new(
                        "actions",
                        "Actions: who does what by when, one a line",
                        FieldKind::Textarea,
                        false,
                    )
                    .hint(ACTIONS_HINT),
                ],
            );
            if let Some((stage, _)) = decision
                && let Some(rule) = stage.exclude.first()
            {
                s.notes.push(format!(
                    "Anyone involved in the case must not sit on it ({}).",
                    rule.source
                ));
            }
            s
        }
        Verb::ProposeResolution => {
            let mut s = spec(
                "Propose a resolution",
                "Propose",
                "The other agency confirms or rejects your proposal in writing.".into(),
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
            );
            s.notes.push(flat(&policy.resolution.prompt));
            s
        }
        Verb::RejectResolution => spec(
            "Reject the resolution",
            "Reject",
            "The challenge stays open at its current stage.".into(),
            vec![reason("Why is the proposed resolution not accepted?")],
        ),
        Verb::Withdraw => spec(
            "Withdraw the challenge",
            "Withdraw",
            "Withdrawing closes the challenge for both agencies.".into(),
            vec![reason("Why is the challenge withdrawn?")],
        ),
        Verb::RecordDelayReason => {
            let mut s = spec(
                "Reason for delay",
                "Record reason",
                "Record why the procedure's deadline was not met, without escalating. It goes in the record and every agency's thread.".into(),
                vec![reason("Why is it late?")],
            );
            if let Some(late) = ctx
                .dispute
                .map(|d| late_words(policy, d, ctx.now))
                .filter(|w| !w.is_empty())
            {
                s.notes.push(late);
            }
            if !policy.delay_reason.prompt.trim().is_empty() {
                s.notes.push(flat(&policy.delay_reason.prompt));
            }
            s
        }
        Verb::CompleteStep => {
            // Every step of the stage, those already recorded marked as such, so recording one
            // twice or out of order gets the core's own explanation.
            let stage_steps = ctx
                .dispute
                .and_then(|d| policy.stage(d.stage).map(|s| (d, s)))
                .map(|(d, s)| {
                    s.steps
                        .iter()
                        .map(|st| match d.steps_done.get(&st.id) {
                            Some(at) => Choice {
                                value: st.id.clone(),
                                label: format!("{} (recorded {})", st.name, format_uk_short(*at)),
                                detail: None,
                            },
                            None => Choice {
                                value: st.id.clone(),
                                label: st.name.clone(),
                                detail: Some(flat(&st.prompt)),
                            },
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut step = Field::new("step", "Which step has happened?", FieldKind::Radios, true);
            step.choices = stage_steps;
            spec(
                "Record a step",
                "Record step",
                "Record that a step the procedure names for this stage has happened. Any step timed from it starts its clock then.".into(),
                vec![
                    step,
                    Field::new("at", "When did it happen? (UK time; leave empty for now)", FieldKind::DateTime, false),
                    Field::new("note", "Note for the record", FieldKind::Textarea, false).hint(NO_IDENTIFIABLE),
                ],
            )
        }
        Verb::BringDeadlineForward => {
            let current = ctx
                .dispute
                .and_then(|d| d.due)
                .map(|due| format!(" It is now due {}.", format_uk_short(due)))
                .unwrap_or_default();
            let source = ctx
                .dispute
                .and_then(|d| policy.stage(d.stage))
                .and_then(|s| s.bring_forward_source.clone())
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            spec(
                "Bring the deadline forward",
                "Bring forward",
                format!(
                    "Set an earlier deadline for this stage, to a timescale which protects the adult{source}. A deadline can only be brought forward, never extended.{current}"
                ),
                vec![
                    Field::new("due", "New deadline (UK time)", FieldKind::DateTime, true)
                        .hint("A date alone means the close of that working day."),
                    reason("Why does the adult need it sooner?"),
                ],
            )
        }
        Verb::ReferLearning => {
            let mut s = spec(
                "Refer learning to the board",
                "Refer",
                "What should the board learn from this disagreement? It is posted in the board's channel and kept in the record.".into(),
                vec![Field::new("learning", "Learning for the board", FieldKind::Textarea, true).hint(NO_IDENTIFIABLE)],
            );
            s.notes.push(flat(&policy.learning.prompt));
            s
        }
    })
}

/// How the actions of a determination are written, one a line.
const ACTIONS_HINT: &str = "One action a line: who | what | by when (YYYY-MM-DD), for example: Adult Social Care team manager | Convene a joint review | 2026-07-01";

/// The yes/no question of an offered notice, in the procedure's words; `required` where the
/// form cannot go on without the answer.
fn notice_question(n: &Notice, required: bool) -> Option<Field> {
    let offer = n.offered.as_ref()?;
    Some(
        Field::new(
            &format!("notice_{}", offer.id),
            &offer.question,
            FieldKind::Radios,
            required,
        )
        .choices(&[("yes", "Yes"), ("no", "No")])
        .hint(format!(
            "Only a yes sends the notice; the answer is recorded either way ({}).",
            n.source
        )),
    )
}

/// Reads a determination's actions: one a line, `who | what | YYYY-MM-DD`.
fn read_actions(text: &str) -> Result<Vec<DeterminedAction>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [who, what, by] = parts.as_slice() else {
            return Err(format!(
                "Line {}: write each action as who | what | by when, like Team manager | Convene a joint review | 2026-07-01.",
                i + 1
            ));
        };
        let by = by.trim_start_matches("by ").trim();
        let Ok(by) = NaiveDate::parse_from_str(by, "%Y-%m-%d") else {
            return Err(format!(
                "Line {}: give the date the action is due as YYYY-MM-DD, like 2026-07-01.",
                i + 1
            ));
        };
        if who.is_empty() || what.is_empty() {
            return Err(format!("Line {}: say who does it and what they do.", i + 1));
        }
        out.push(DeterminedAction {
            who: who.to_string(),
            what: what.to_string(),
            by,
        });
    }
    Ok(out)
}

/// The answers to offered notices' questions among submitted values.
fn answers(values: &Values) -> Answers {
    values
        .iter()
        .filter_map(|(k, v)| {
            let id = k.strip_prefix("notice_")?;
            match v.trim() {
                "yes" => Some((id.to_string(), true)),
                "no" => Some((id.to_string(), false)),
                _ => None,
            }
        })
        .collect()
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

/// What is late on a dispute, in words, for the delay form.
fn late_words(policy: &Policy, d: &Dispute, now: DateTime<Utc>) -> String {
    let late = crate::escalation::lateness(policy, d, now);
    let mut parts = Vec::new();
    if late.stage_late {
        let what = late.owed.map_or_else(
            || format!("{} {}", policy.stage_word, d.stage),
            |s| s.name.clone(),
        );
        if let Some(due) = d.due {
            parts.push(format!("{what} was due {}.", format_uk_short(due)));
        }
    }
    for l in &late.late_steps {
        parts.push(format!(
            "{} was due {}.",
            l.step.name,
            format_uk_short(l.due)
        ));
    }
    parts.join(" ")
}

/// The agencies a person may raise a challenge with: the other partner agencies of their board.
fn other_agencies<'d>(
    policy: &Policy,
    dir: &'d Directory,
    person: Option<&Person>,
) -> Vec<&'d crate::directory::Agency> {
    dir.agencies()
        .filter(|a| {
            a.board == policy.id && a.kind != BOARD_KIND && Some(&a.id) != person.map(|p| &p.agency)
        })
        .collect()
}

/// The raise form for a person of the policy's board.
fn raise(ctx: &FormContext<'_>) -> FormSpec {
    let (policy, dir) = (ctx.policy, ctx.directory);
    let others = other_agencies(policy, dir, ctx.person);
    let mut fields = Vec::new();
    let mut agency = Field::new("receiving_agency", "Other agency", FieldKind::Select, true);
    agency.choices = others.iter().map(|a| choice(&a.id.0, &a.name)).collect();
    fields.push(agency);
    let groups: Vec<ChoiceGroup> = others
        .iter()
        .map(|a| ChoiceGroup {
            label: a.name.clone(),
            choices: dir
                .members(&a.id)
                .map(|p| {
                    choice(
                        &p.id.0,
                        &format!(
                            "{} ({})",
                            p.name,
                            crate::posts::compose::role_and_agency(policy, dir, &p.id)
                        ),
                    )
                })
                .collect(),
        })
        .filter(|g| !g.choices.is_empty())
        .collect();
    if !groups.is_empty() {
        let mut other = Field::new(
            "other_professional",
            "Other professional",
            FieldKind::Select,
            false,
        )
        .hint("Leave this empty if they are not listed.");
        other.groups = groups;
        fields.push(other);
    }
    let mut who: Vec<(&str, &str)> = Vec::new();
    if policy.covers.adults {
        who.push(("adult", "An adult"));
    }
    if policy.covers.children {
        who.push(("child", "A child"));
    }
    who.push((
        "organisation",
        "An organisation (for example a care provider)",
    ));
    let question = match (policy.covers.adults, policy.covers.children) {
        (true, true) => "Does the disagreement concern an adult, a child or an organisation?",
        (false, true) => "Does the disagreement concern a child or an organisation?",
        _ => "Does the disagreement concern an adult or an organisation?",
    };
    fields.push(Field::new("concerns", question, FieldKind::Radios, true).choices(&who));
    fields.push(
        Field::new(
            "organisation",
            "The organisation's name (if it concerns an organisation)",
            FieldKind::Text,
            false,
        )
        .max(ORGANISATION_MAX),
    );
    let mut category = Field::new("category", "Category", FieldKind::Select, true);
    category.choices = policy
        .categories
        .iter()
        .map(|c| Choice {
            value: c.id.clone(),
            label: c.name.clone(),
            detail: c.guidance.as_deref().map(flat),
        })
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
        "What may be causing it?",
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
            "The adult's views and wishes, where known",
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
        .hint(format!("If yes: {}", flat(&policy.urgent.prompt))),
    );
    fields.push(
        Field::new(
            "arose_at",
            "When did the disagreement arise? (UK time; leave empty for now)",
            FieldKind::DateTime,
            false,
        )
        .hint("The procedure's first time limit may run from when it arose, not from when it is raised here."),
    );
    if policy.delay_reason.required {
        fields.push(
            Field::new(
                "delay_reason",
                "Reason for any delay in raising it (only if the first time limit has passed)",
                FieldKind::Textarea,
                false,
            )
            .hint(flat(&policy.delay_reason.prompt)),
        );
    }
    // Notices the procedure makes conditional on the raise: the urgent route's are answered
    // only when an adult is at immediate risk; stage 1's always.
    for n in policy.offered_on_raise() {
        let urgent = n.when == NoticeWhen::OnUrgent;
        if let Some(mut f) = notice_question(n, !urgent) {
            if urgent {
                f.hint = Some(format!(
                    "Answer if an adult is at immediate risk of harm. {}",
                    f.hint.unwrap_or_default()
                ));
            }
            fields.push(f);
        }
    }
    FormSpec {
        name: Verb::Raise.id().to_string(),
        title: "Raise a challenge".into(),
        submit: "Raise".into(),
        intro: format!(
            "Raise a professional challenge with another agency under the {} procedure. It is not for a complaint about one worker's conduct: use the PiPoT (person in a position of trust) or whistleblowing route for that.",
            policy.name
        ),
        notes: vec![flat(&policy.record_keeping.prompt)],
        reference: None,
        fields,
    }
}

/// What a submitted form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A new challenge.
    Raise(RaiseDetails),
    /// A command on an existing challenge.
    Act(Command),
}

/// Reads a UK local date and time as people and platforms write it: `YYYY-MM-DDTHH:MM`,
/// `YYYY-MM-DD HH:MM`, seconds allowed; with `date_alone`, a date on its own means `date_alone`'s
/// time that day.
pub fn parse_local(
    text: &str,
    date_alone: Option<&dyn Fn(NaiveDate) -> DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let text = text.trim();
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return Some(london_instant(local));
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    date_alone.map(|f| f(date))
}

/// Joins a date and a time typed in two inputs (Teams has no single date-time input) into the
/// one value [`parse`] reads; a half-filled pair is kept as typed so the error names it.
pub fn join_date_time(date: Option<&str>, time: Option<&str>) -> Option<String> {
    let date = date.map(str::trim).filter(|d| !d.is_empty());
    let time = time.map(str::trim).filter(|t| !t.is_empty());
    match (date, time) {
        (None, None) => None,
        (Some(d), Some(t)) => {
            let t = NaiveTime::parse_from_str(t, "%H:%M:%S")
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_else(|_| t.to_string());
            Some(format!("{d}T{t}"))
        }
        (Some(d), None) => Some(d.to_string()),
        (None, Some(t)) => Some(format!("T{t}")),
    }
}

/// Checks what was submitted against the form (required fields, lengths, choices, dates) and
/// reads it into what it asks the core to do; the core then checks the rest and screens the text.
pub fn parse(
    spec: &FormSpec,
    values: &Values,
    ctx: &FormContext<'_>,
) -> Result<Submitted, FormErrors> {
    let mut errors = FormErrors::new();
    let get = |id: &str| {
        values
            .get(id)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut dates: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let close = |d: NaiveDate| ctx.calendar.close_of(d);
    let open = |d: NaiveDate| ctx.calendar.open_of(d);
    for f in &spec.fields {
        let Some(v) = get(&f.id) else {
            if f.required {
                errors.insert(f.id.clone(), f.missing_text());
            }
            continue;
        };
        if let Some(max) = f.max_length
            && v.chars().count() > max
        {
            errors.insert(
                f.id.clone(),
                format!(
                    "This is {} characters long; the most it takes is {max}.",
                    v.chars().count()
                ),
            );
        } else if f.is_choice()
            && f.all_choices().next().is_some()
            && !f.all_choices().any(|c| c.value == v)
        {
            // (A choice with nothing to choose from, such as the steps of a stage that names
            // none, is left to the core, which says why.)
            errors.insert(
                f.id.clone(),
                "That is not one of the choices offered; choose one from the list.".into(),
            );
        } else if f.kind == FieldKind::DateTime {
            let date_alone: Option<&dyn Fn(NaiveDate) -> DateTime<Utc>> = match f.id.as_str() {
                "due" => Some(&close),
                "met_at" => Some(&open),
                _ => None,
            };
            match parse_local(&v, date_alone) {
                Some(t) => {
                    dates.insert(f.id.clone(), t);
                }
                None => {
                    errors.insert(
                        f.id.clone(),
                        "Give the date and time in UK time, like 2026-06-01 09:40.".into(),
                    );
                }
            }
        }
    }
    let verb = spec.verb();
    if verb == Some(Verb::Raise)
        && get("concerns").as_deref() == Some("organisation")
        && get("organisation").is_none()
    {
        errors.insert(
            "organisation".into(),
            "Give the organisation's name, or choose \u{201c}An adult\u{201d} above.".into(),
        );
    }
    if verb == Some(Verb::AddNote)
        && let Some(at) = dates.get("held_at")
        && *at > ctx.now
    {
        errors.insert(
            "held_at".into(),
            "That is in the future: give when the discussion took place.".into(),
        );
    }
    for (id, what) in [
        (
            "arose_at",
            "give when the disagreement arose, or leave it empty for now",
        ),
        ("met_at", "record the determination once it has met"),
    ] {
        if let Some(at) = dates.get(id)
            && *at > ctx.now
        {
            errors.insert(id.into(), format!("That is in the future: {what}."));
        }
    }
    let actions = match get("actions") {
        Some(text) if verb == Some(Verb::RecordDetermination) => match read_actions(&text) {
            Ok(a) => a,
            Err(e) => {
                errors.insert("actions".into(), e);
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let text = |id: &str| get(id).unwrap_or_default();
    let act = Submitted::Act;
    Ok(match verb {
        Some(Verb::Raise) => Submitted::Raise(RaiseDetails {
            receiving_agency: AgencyId(text("receiving_agency")),
            other_professional: get("other_professional").map(PersonId),
            concerns: match get("concerns").as_deref() {
                Some("organisation") => Concerns::Organisation {
                    name: text("organisation"),
                },
                Some("child") => Concerns::Child,
                _ => Concerns::Adult,
            },
            category: text("category"),
            summary: text("summary"),
            possible_cause: get("possible_cause"),
            desired_outcome: text("desired_outcome"),
            adults_views: get("adults_views"),
            case_reference: text("case_reference"),
            immediate_risk: get("immediate_risk").as_deref() == Some("yes"),
            arose_at: dates.get("arose_at").copied(),
            delay_reason: get("delay_reason"),
            notices: answers(values),
        }),
        Some(Verb::AddNote) => act(Command::AddNote {
            text: text("note"),
            how: get("how").and_then(|h| match h.as_str() {
                "phone" => Some(ContactFormat::Phone),
                "meeting" => Some(ContactFormat::Meeting),
                "video_call" => Some(ContactFormat::VideoCall),
                "email" => Some(ContactFormat::Email),
                "other" => Some(ContactFormat::Other),
                _ => None,
            }),
            held_at: dates.get("held_at").copied(),
        }),
        Some(Verb::Escalate) => act(Command::Escalate {
            reason: text("reason"),
            delay_reason: get("delay_reason"),
            notices: answers(values),
        }),
        Some(Verb::RecordDetermination) => match dates.get("met_at") {
            Some(met_at) => act(Command::RecordDetermination {
                members: text("members")
                    .split([',', '\n', ';'])
                    .map(|m| m.trim().to_string())
                    .filter(|m| !m.is_empty())
                    .collect(),
                met_at: *met_at,
                outcome: text("outcome"),
                actions,
            }),
            None => {
                return Err(FormErrors::from([(
                    "met_at".to_string(),
                    "Give the date and time it met.".to_string(),
                )]));
            }
        },
        Some(Verb::ProposeResolution) => act(Command::ProposeResolution {
            rationale: text("rationale"),
            outcome: text("outcome"),
            outstanding: text("outstanding"),
            delay_reason: get("delay_reason"),
        }),
        Some(Verb::RejectResolution) => act(Command::RejectResolution {
            reason: text("reason"),
        }),
        Some(Verb::Withdraw) => act(Command::Withdraw {
            reason: text("reason"),
        }),
        Some(Verb::RecordDelayReason) => act(Command::RecordDelayReason {
            reason: text("reason"),
        }),
        Some(Verb::CompleteStep) => act(Command::CompleteStep {
            step: text("step"),
            at: dates.get("at").copied(),
            note: get("note"),
        }),
        Some(Verb::BringDeadlineForward) => match dates.get("due") {
            Some(due) => act(Command::BringDeadlineForward {
                due: *due,
                reason: text("reason"),
            }),
            None => {
                return Err(FormErrors::from([(
                    "due".to_string(),
                    "Give the new deadline.".to_string(),
                )]));
            }
        },
        Some(Verb::ReferLearning) => act(Command::ReferLearning {
            text: text("learning"),
        }),
        Some(Verb::Acknowledge) => act(Command::Acknowledge),
        Some(Verb::ConfirmResolution) => act(Command::ConfirmResolution),
        None => {
            return Err(FormErrors::from([(
                WHOLE_FORM.to_string(),
                "This form is not one escalation-bot knows; close it and start again.".to_string(),
            )]));
        }
    })
}
