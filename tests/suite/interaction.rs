//! The one interaction layer: every verb of the core has a way in from Slack, Teams and the
//! sandbox; a form is checked the same wherever it is submitted; posts offer exactly the
//! buttons the core would accept from somebody.

use crate::helpers::{Case, at, cast, escalate, fixture, propose};
use chrono::{DateTime, Duration, Utc};
use escalation_bot::chat::forms::{self, FieldKind, FormContext, FormSpec, Values};
use escalation_bot::chat::grammar;
use escalation_bot::chat::slack::views;
use escalation_bot::chat::teams::forms::{self as teams_forms, CardKind};
use escalation_bot::escalation::{
    self, Command, Dispute, Status, Verb, board_people, offers, open_steps,
};
use escalation_bot::policy::BoardRole;
use serde_json::{Value, json};
use std::path::PathBuf;

/// A Sunderland dispute at stage 3 (the Senior Manager's review, which names its steps).
pub(crate) fn sunderland_at_stage_three() -> Case {
    let mut case = Case::raise_cast("sunderland", "2026-06-01T10:00:00+01:00");
    case.act(
        &case.mover(),
        "2026-06-01T10:05:00+01:00",
        escalate("No agreement between the practitioners."),
    );
    case.act(
        &case.mover(),
        "2026-06-01T10:10:00+01:00",
        escalate("The proforma went to the senior manager."),
    );
    assert_eq!(case.state.stage, 3);
    case
}

fn context<'a>(policy: &str, d: Option<&'a Dispute>, now: DateTime<Utc>) -> FormContext<'a> {
    let f = fixture();
    FormContext {
        policy: f.policy(policy),
        calendar: f.calendar(policy),
        directory: &f.directory,
        dispute: d,
        person: None,
        now,
    }
}

fn card_validator() -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/suite/schemas/adaptive-card-1.5.schema.json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .expect("the Adaptive Cards schema is in tests/suite/schemas"),
    )
    .expect("schema JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// Every form of the core's verbs, drawn for the Sunderland dispute at stage 3 (the raise form
/// for its raiser).
pub(crate) fn all_forms(case: &Case, now: DateTime<Utc>) -> Vec<FormSpec> {
    let f = fixture();
    let raiser = f
        .directory
        .person(&crate::helpers::pid(cast("sunderland").raiser))
        .expect("the raiser is in the directory");
    Verb::ALL
        .into_iter()
        .filter_map(|verb| {
            let mut ctx = context("sunderland", Some(&case.state), now);
            if verb == Verb::Raise {
                ctx.dispute = None;
                ctx.person = Some(raiser);
            }
            forms::form(verb, &ctx)
        })
        .collect()
}

/// Slack's limits on a modal (docs.slack.dev/reference/views and block-kit).
fn assert_fits_slack(modal: &Value) {
    let name = modal["callback_id"].as_str().unwrap_or_default();
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    assert!(chars(&modal["title"]["text"]) <= 24, "{name}: title");
    assert!(chars(&modal["submit"]["text"]) <= 24, "{name}: submit");
    let blocks = modal["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 100, "{name}: blocks");
    for b in blocks {
        if b["type"] == "input" {
            assert_eq!(b["block_id"], b["element"]["action_id"], "{name}: ids");
            assert!(chars(&b["label"]["text"]) <= 2000, "{name}: label");
            assert!(chars(&b["hint"]["text"]) <= 2000, "{name}: hint");
            let e = &b["element"];
            let options: Vec<&Value> = e["options"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(
                    e["option_groups"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|g| g["options"].as_array().into_iter().flatten()),
                )
                .collect();
            let most = if e["type"] == "radio_buttons" {
                10
            } else {
                100
            };
            assert!(options.len() <= most, "{name}: options");
            for o in options {
                assert!(chars(&o["text"]["text"]) <= 75, "{name}: option text");
                assert!(
                    chars(&o["description"]["text"]) <= 75,
                    "{name}: option description"
                );
            }
        } else {
            for el in b["elements"].as_array().into_iter().flatten() {
                assert!(chars(&el["text"]) <= 2000, "{name}: context");
            }
        }
    }
}

#[test]
fn every_verb_of_the_core_has_a_way_in_from_slack_teams_and_the_sandbox() {
    let case = sunderland_at_stage_three();
    let now = at("2026-06-02T10:00:00+01:00");
    let validator = card_validator();
    let specs = all_forms(&case, now);
    for verb in Verb::ALL {
        assert!(grammar::typeable(verb), "{verb:?} cannot be typed");
        assert!(
            grammar::help("/challenge").contains(&grammar::usage(verb, "/challenge")),
            "the help lists {verb:?}"
        );
        match specs.iter().find(|s| s.name == verb.id()) {
            Some(spec) => {
                assert!(
                    !spec.fields.is_empty(),
                    "{verb:?}'s form asks for something"
                );
                let modal = views::modal(spec, &Values::new(), "{}");
                assert_eq!(modal["callback_id"], verb.id());
                assert_fits_slack(&modal);
                let card = teams_forms::form_card(
                    spec,
                    &Values::new(),
                    &Default::default(),
                    CardKind::Form,
                    None,
                );
                let errors: Vec<String> = validator
                    .iter_errors(&card)
                    .map(|e| e.to_string())
                    .collect();
                assert!(errors.is_empty(), "{verb:?}'s card: {errors:?}\n{card:#}");
                let page = serde_json::to_value(spec).expect("the sandbox draws it from JSON");
                assert_eq!(page["name"], verb.id());
            }
            // Acting without a form: one press or one typed word.
            None => assert!(
                matches!(verb, Verb::Acknowledge | Verb::ConfirmResolution),
                "{verb:?} has no form"
            ),
        }
    }
}

/// What a form would be sent back with on Slack: `view.state.values` as Slack shapes it.
fn slack_state(spec: &FormSpec, values: &Values) -> Value {
    let mut out = serde_json::Map::new();
    for f in &spec.fields {
        let Some(v) = values.get(&f.id) else { continue };
        let state = match f.kind {
            FieldKind::Text | FieldKind::Textarea => {
                json!({ "type": "plain_text_input", "value": v })
            }
            FieldKind::Select | FieldKind::Radios => {
                json!({ "type": "static_select", "selected_option": { "value": v } })
            }
            FieldKind::DateTime => match forms::parse_local(v, None) {
                Some(t) => json!({ "type": "datetimepicker", "selected_date_time": t.timestamp() }),
                // Slack's picker cannot send a malformed date.
                None => continue,
            },
        };
        out.insert(f.id.clone(), json!({ f.id.clone(): state }));
    }
    json!({ "values": out })
}

/// What a form would be sent back with on Teams: the action's data with the inputs merged in.
fn teams_data(spec: &FormSpec, values: &Values) -> Value {
    let mut data = json!({ "verb": spec.name, "reference": spec.reference, "card": "root" });
    for f in &spec.fields {
        let Some(v) = values.get(&f.id) else { continue };
        let id = format!("{}.{}", spec.name, f.id);
        if f.kind == FieldKind::DateTime {
            let (d, t) = v.split_once('T').unwrap_or((v.as_str(), ""));
            data[format!("{id}.date")] = json!(d);
            data[format!("{id}.time")] = json!(t);
        } else {
            data[id] = json!(v);
        }
    }
    data
}

/// A complete, valid submission of a form.
fn complete(spec: &FormSpec) -> Values {
    let mut v = Values::new();
    for f in &spec.fields {
        let value = match f.kind {
            FieldKind::Text | FieldKind::Textarea if f.id == "case_reference" => {
                "ASC-4471".to_string()
            }
            FieldKind::Textarea if f.id == "actions" => {
                "Team manager | Convene a joint review | 2026-07-01".to_string()
            }
            FieldKind::Text | FieldKind::Textarea => {
                "Discussed by phone; the next steps are agreed.".to_string()
            }
            FieldKind::Select | FieldKind::Radios => match f.all_choices().next() {
                Some(c) => c.value.clone(),
                None => continue,
            },
            FieldKind::DateTime => "2026-06-02T09:30".to_string(),
        };
        v.insert(f.id.clone(), value);
    }
    v
}

#[test]
fn a_form_is_checked_the_same_on_slack_teams_and_the_sandbox() {
    let case = sunderland_at_stage_three();
    let now = at("2026-06-02T10:00:00+01:00");
    let mut checked = 0;
    for spec in all_forms(&case, now) {
        let ctx = context(
            "sunderland",
            spec.reference.as_ref().map(|_| &case.state),
            now,
        );
        let full = complete(&spec);
        let mut cases: Vec<(String, Values, bool)> = vec![("complete".into(), full.clone(), true)];
        for f in &spec.fields {
            if f.required {
                let mut v = full.clone();
                v.remove(&f.id);
                cases.push((format!("{} left empty", f.id), v, false));
            }
            if let Some(max) = f.max_length {
                let mut v = full.clone();
                v.insert(f.id.clone(), "x".repeat(max + 1));
                cases.push((format!("{} too long", f.id), v, false));
            }
            if matches!(f.kind, FieldKind::Select | FieldKind::Radios) {
                let mut v = full.clone();
                v.insert(f.id.clone(), "not-offered".into());
                cases.push((format!("{} not a choice", f.id), v, false));
            }
            if f.kind == FieldKind::DateTime {
                let mut v = full.clone();
                v.insert(f.id.clone(), "2026-13-45T25:61".into());
                cases.push((format!("{} not a date", f.id), v, false));
            }
        }
        for (what, values, valid) in cases {
            let sandbox = forms::parse(&spec, &values, &ctx);
            let teams = forms::parse(
                &spec,
                &teams_forms::values_from(&spec.name, &teams_data(&spec, &values)),
                &ctx,
            );
            assert_eq!(
                teams, sandbox,
                "{} ({what}): Teams and the sandbox differ",
                spec.name
            );
            let slack_values = views::values(&slack_state(&spec, &values));
            let slack_can_send = values.len() == slack_values.len();
            if slack_can_send {
                let slack = forms::parse(&spec, &slack_values, &ctx);
                assert_eq!(
                    slack, sandbox,
                    "{} ({what}): Slack and the sandbox differ",
                    spec.name
                );
            }
            assert_eq!(
                sandbox.is_ok(),
                valid,
                "{} ({what}): {sandbox:?}",
                spec.name
            );
            if let Err(errors) = &sandbox {
                assert!(
                    errors
                        .values()
                        .all(|e| e.ends_with('.') && !e.contains('_')),
                    "{} ({what}): errors read as sentences: {errors:?}",
                    spec.name
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked > 50,
        "every field of every form was tried ({checked} submissions)"
    );
}

/// A command of each verb with plausible content, to ask the core whether anyone may do it.
fn sample(verb: Verb, d: &Dispute, policy: &str, now: DateTime<Utc>) -> Option<Command> {
    let text = || "Discussed by phone; the next steps are agreed.".to_string();
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
            delay_reason: Some("Staff absence.".into()),
            notices: all_answered(policy, false),
        },
        Verb::ProposeResolution => Command::ProposeResolution {
            rationale: text(),
            outcome: text(),
            outstanding: text(),
            delay_reason: Some("Staff absence.".into()),
        },
        Verb::ConfirmResolution => Command::ConfirmResolution,
        Verb::RejectResolution => Command::RejectResolution { reason: text() },
        Verb::RecordDelayReason => Command::RecordDelayReason {
            reason: "Staff absence.".into(),
        },
        Verb::CompleteStep => Command::CompleteStep {
            step: open_steps(fixture().policy(policy), d)
                .first()
                .map_or_else(|| "review".to_string(), |s| s.id.clone()),
            at: None,
            note: None,
        },
        Verb::BringDeadlineForward => Command::BringDeadlineForward {
            due: match d.due {
                Some(due) if due > now => now + (due - now) / 2,
                _ => now + Duration::hours(1),
            },
            reason: text(),
        },
        Verb::Withdraw => Command::Withdraw { reason: text() },
        Verb::ReferLearning => Command::ReferLearning { text: text() },
        Verb::RecordDetermination => Command::RecordDetermination {
            members: board_people(
                fixture().policy(policy),
                &fixture().directory,
                BoardRole::Chair,
            )
            .into_iter()
            .map(|p| p.0)
            .collect(),
            met_at: now,
            outcome: text(),
            actions: Vec::new(),
        },
    })
}

/// An answer to every notice the policy offers anywhere (the core reads those it asks).
fn all_answered(policy: &str, answer: bool) -> escalation::Answers {
    let p = fixture().policy(policy);
    p.stages
        .iter()
        .flat_map(|s| &s.notify)
        .chain(&p.urgent.notify)
        .filter_map(|n| n.offered.as_ref())
        .map(|o| (o.id.clone(), answer))
        .collect()
}

/// The usual cast's dispute carried to the policy's last stage, which the board decides.
fn at_last_stage(policy: &str) -> Case {
    let mut case = Case::raise_cast(policy, "2026-06-01T10:00:00+01:00");
    let last = fixture().policy(policy).last_stage();
    let mut minute = 5;
    while case.state.stage < last {
        let now = format!("2026-06-01T10:{minute:02}:00+01:00");
        case.act(
            &case.mover(),
            &now,
            Command::Escalate {
                reason: "No agreement at this level.".into(),
                delay_reason: None,
                notices: all_answered(policy, false),
            },
        );
        minute += 5;
    }
    case
}

/// Disputes in the states people meet, under every board: just raised, a stage later, with a
/// proposal waiting, overdue, resolved and withdrawn.
fn states() -> Vec<(String, Dispute, DateTime<Utc>)> {
    let mut out = Vec::new();
    for policy in [
        "norfolk",
        "cambridgeshire-peterborough",
        "sunderland",
        "durham",
        "rochdale",
    ] {
        let c = cast(policy);
        let raised = Case::raise_cast(policy, "2026-06-01T10:00:00+01:00");
        out.push((
            policy.to_string(),
            raised.state.clone(),
            at("2026-06-01T10:30:00+01:00"),
        ));
        let mut next = raised;
        next.act(
            &next.mover(),
            "2026-06-01T11:00:00+01:00",
            escalate("No agreement after discussion."),
        );
        out.push((
            policy.to_string(),
            next.state.clone(),
            at("2026-06-01T11:30:00+01:00"),
        ));
        // Long past any deadline the stage sets.
        out.push((
            policy.to_string(),
            next.state.clone(),
            at("2026-07-20T10:00:00+01:00"),
        ));
        let mut proposed = next.clone_case();
        proposed.act(
            &proposed.mover(),
            "2026-06-01T12:00:00+01:00",
            propose("A joint assessment."),
        );
        out.push((
            policy.to_string(),
            proposed.state.clone(),
            at("2026-06-01T12:30:00+01:00"),
        ));
        let mut withdrawn = next.clone_case();
        withdrawn.act(
            c.raiser,
            "2026-06-01T12:00:00+01:00",
            Command::Withdraw {
                reason: "Resolved informally.".into(),
            },
        );
        out.push((
            policy.to_string(),
            withdrawn.state.clone(),
            at("2026-06-01T12:30:00+01:00"),
        ));
        // The other side confirms.
        let mut resolved = proposed;
        let confirmer = resolved
            .state
            .owners_receiving
            .first()
            .map(|p| p.0.clone())
            .expect("the receiving side owns the stage");
        if resolved
            .try_act(
                &confirmer,
                "2026-06-01T13:00:00+01:00",
                Command::ConfirmResolution,
            )
            .is_ok()
        {
            assert_eq!(resolved.state.status, Status::Resolved);
            out.push((
                policy.to_string(),
                resolved.state.clone(),
                at("2026-06-01T13:30:00+01:00"),
            ));
        }
    }
    // At the last stage, which the board decides; and once its determination closes it.
    for policy in [
        "norfolk",
        "cambridgeshire-peterborough",
        "sunderland",
        "durham",
        "rochdale",
    ] {
        let last = at_last_stage(policy);
        out.push((
            policy.to_string(),
            last.state.clone(),
            at("2026-06-02T10:00:00+01:00"),
        ));
        let mut determined = last;
        let chair = board_people(
            fixture().policy(policy),
            &fixture().directory,
            BoardRole::Chair,
        );
        determined.act(
            &chair[0].0,
            "2026-06-02T11:00:00+01:00",
            sample(
                Verb::RecordDetermination,
                &determined.state,
                policy,
                at("2026-06-02T11:00:00+01:00"),
            )
            .expect("a determination"),
        );
        assert!(determined.state.determination.is_some());
        out.push((
            policy.to_string(),
            determined.state.clone(),
            at("2026-06-02T12:00:00+01:00"),
        ));
    }
    let stage_three = sunderland_at_stage_three();
    out.push((
        "sunderland".into(),
        stage_three.state.clone(),
        at("2026-06-02T10:00:00+01:00"),
    ));
    out
}

trait CloneCase {
    fn clone_case(&self) -> Case;
}

impl CloneCase for Case {
    fn clone_case(&self) -> Case {
        Case {
            policy: self.policy.clone(),
            events: self.events.clone(),
            state: self.state.clone(),
        }
    }
}

#[test]
fn posts_offer_exactly_the_actions_the_core_would_accept_from_somebody() {
    let f = fixture();
    let people: Vec<_> = f.directory.people().map(|p| p.id.clone()).collect();
    let mut tried = 0;
    for (policy, d, now) in states() {
        let ctx = f.ctx(&policy, now);
        let offered = offers(ctx.policy, &f.directory, &d, now);
        for verb in Verb::ALL {
            let Some(command) = sample(verb, &d, &policy, now) else {
                continue;
            };
            let somebody = people
                .iter()
                .find(|p| escalation::decide(&d, p, &command, &ctx).is_ok());
            let place = format!("{policy} stage {} {:?} at {now}", d.stage, d.status);
            if offered.contains(&verb) {
                assert!(
                    somebody.is_some(),
                    "{verb:?} is offered but nobody may do it ({place})"
                );
            } else if verb != Verb::RecordDelayReason
                && !(verb == Verb::ReferLearning && d.status == Status::Open)
            {
                // Two buttons are narrower than the core on purpose: a reason for delay is
                // offered once a stage (the core takes more), and learning is offered at the
                // final stage and once a challenge closes (it can be typed at any time).
                assert!(
                    somebody.is_none(),
                    "{verb:?} is not offered but {somebody:?} may do it ({place})"
                );
            }
            tried += 1;
        }
    }
    assert!(tried > 300, "{tried} checks");
}
