//! Renders the platform-neutral `Message` as an Adaptive Card (version 1.5, the most Teams shows),
//! and builds the invoke responses Teams requires for `Action.Execute`.
//!
//! Safety rules, enforced here rather than trusted to callers:
//! - every text span goes through [`escape`]: Markdown punctuation is backslash-escaped (so
//!   `[click](https://…)` or `**` typed into a summary stays text) and `<`/`>` become their
//!   full-width forms, so typed `<at>Name</at>` can never match a mention entity and notify anyone;
//! - mentions exist only as `Span::Mention`, rendered `<at>Name</at>` with a matching entity in the
//!   card's `msteams.entities`, and only for a person whose Teams identity is in the tenant the
//!   card goes to; anyone else is named in plain (escaped) text;
//! - buttons are `Action.Execute` (Universal Actions) with an `Action.Submit` fallback carrying
//!   the same data, or `Action.ShowCard` holding the form the action needs.

use super::forms::{self, CardKind};
use crate::chat::forms::{FormErrors, Values};
use crate::chat::message::{Button, Line, Message, MessageKind, Span};
use crate::directory::PersonId;
use serde_json::{Value, json};

/// The attachment content type of an Adaptive Card (not `…adaptive.card`).
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// The Adaptive Card version we write: the highest Teams renders.
pub const CARD_VERSION: &str = "1.5";

/// The `$schema` named in every card.
pub const CARD_SCHEMA: &str = "http://adaptivecards.io/schemas/adaptive-card.json";

/// The invoke response type that shows a text message instead of replacing the card.
pub const MESSAGE_RESPONSE_TYPE: &str = "application/vnd.microsoft.activity.message";

/// The invoke response type of an error.
pub const ERROR_RESPONSE_TYPE: &str = "application/vnd.microsoft.error";

/// Longest text we put in one text block; a card has a 28 KB ceiling in Teams.
const TEXT_MAX: usize = 3000;

/// Escapes text a person typed (or any text we did not write as markup) for an Adaptive Card
/// `TextBlock`: Markdown punctuation gets a backslash, a line-leading list, heading or quote
/// marker is escaped, and `<`/`>` become `＜`/`＞` so nothing typed can form an `<at>` mention.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => out.push('＜'),
            '>' => out.push('＞'),
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '`' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' if line_start => {
                out.push('\\');
                out.push(c);
            }
            c if line_start && c.is_ascii_digit() => {
                // "1. " at a line start is an ordered list: escape the dot after the digits.
                out.push(c);
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    out.push(d);
                    chars.next();
                }
                if chars.peek() == Some(&'.') {
                    chars.next();
                    out.push_str("\\.");
                }
            }
            c => out.push(c),
        }
        line_start = c == '\n' || (line_start && c == ' ');
    }
    out
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    // Never end on a lone escaping backslash.
    if s.ends_with('\\') && !s.ends_with("\\\\") {
        s.pop();
    }
    s.push('…');
    s
}

fn text_block(text: String) -> Value {
    json!({ "type": "TextBlock", "text": cut(&text, TEXT_MAX), "wrap": true })
}

/// Who a mention names, as the card addresses them: their Entra object id in this tenant.
pub type MentionLookup<'a> = &'a dyn Fn(&PersonId) -> Option<String>;

/// Collects the mention entities of one card.
#[derive(Default)]
struct Mentions {
    entities: Vec<Value>,
}

impl Mentions {
    fn add(&mut self, id: &str, name: &str) -> String {
        let text = format!("<at>{name}</at>");
        if !self
            .entities
            .iter()
            .any(|e| e["mentioned"]["id"] == id && e["text"] == text.as_str())
        {
            self.entities.push(json!({
                "type": "mention",
                "text": text,
                "mentioned": { "id": id, "name": name },
            }));
        }
        text
    }
}

/// A mention id as the directory should hold it: an Entra object id (a GUID) or a Teams user id.
fn is_mention_id(id: &str) -> bool {
    (2..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '_' | '@'))
}

/// A display name safe inside `<at>…</at>`: no angle brackets, no Markdown.
fn mention_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '\\' | '*' | '_' | '[' | ']' | '`'))
        .collect();
    let clean = clean.trim().to_string();
    if clean.is_empty() {
        "someone".into()
    } else {
        clean
    }
}

fn spans(spans: &[Span], lookup: MentionLookup<'_>, mentions: &mut Mentions) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text { text } => out.push_str(&escape(text)),
            Span::Mention { person, name } => match lookup(person).filter(|id| is_mention_id(id)) {
                Some(id) => out.push_str(&mentions.add(&id, &mention_name(name))),
                None => out.push_str(&escape(name)),
            },
        }
    }
    out
}

fn card_kind(kind: MessageKind) -> CardKind {
    match kind {
        MessageKind::Root => CardKind::Root,
        MessageKind::Update => CardKind::Update,
        MessageKind::Notice => CardKind::Notice,
        MessageKind::Direct => CardKind::Direct,
        MessageKind::Receipt => CardKind::Receipt,
    }
}

/// The data every button carries: which verb, on which challenge, from which kind of card (an
/// `Action.Execute` on the root card is answered with the fresh root card).
pub fn action_data(verb: &str, reference: &str, card: CardKind) -> Value {
    json!({ "verb": verb, "reference": reference, "card": card.as_str() })
}

/// `Action.Execute` with an `Action.Submit` fallback carrying the same data, for clients
/// without Universal Actions.
pub fn execute(verb: &str, title: &str, data: Value, primary: bool) -> Value {
    let mut action = json!({
        "type": "Action.Execute",
        "verb": verb,
        "title": title,
        "data": data.clone(),
        "fallback": { "type": "Action.Submit", "title": title, "data": data },
    });
    if primary {
        action["style"] = json!("positive");
    }
    action
}

fn button(b: &Button, card: CardKind) -> Value {
    match &b.form {
        // A button that opens a form shows it inside the card.
        Some(spec) => json!({
            "type": "Action.ShowCard",
            "title": cut(&b.label, 60),
            "card": {
                "type": "AdaptiveCard",
                "body": forms::inputs(spec, &Values::new(), &FormErrors::new()),
                "actions": [forms::submit(spec, card, None)],
            },
        }),
        None => execute(
            b.action.id(),
            &cut(&b.label, 60),
            action_data(b.action.id(), &b.reference, card),
            b.primary,
        ),
    }
}

fn body(lines: &[Line], lookup: MentionLookup<'_>, mentions: &mut Mentions) -> Vec<Value> {
    let mut out = Vec::new();
    let mut facts: Vec<Value> = Vec::new();
    for line in lines {
        let value = spans(&line.spans, lookup, mentions);
        let has_mention = line.spans.iter().any(|s| matches!(s, Span::Mention { .. }));
        match &line.label {
            Some(label)
                if !has_mention && value.chars().count() <= 120 && !value.contains('\n') =>
            {
                facts.push(json!({ "title": escape(label), "value": value }));
            }
            Some(label) => {
                if !facts.is_empty() {
                    out.push(json!({ "type": "FactSet", "facts": std::mem::take(&mut facts) }));
                }
                out.push(text_block(format!("**{}**  \n{value}", escape(label))));
            }
            None => {
                if !facts.is_empty() {
                    out.push(json!({ "type": "FactSet", "facts": std::mem::take(&mut facts) }));
                }
                out.push(text_block(value));
            }
        }
    }
    if !facts.is_empty() {
        out.push(json!({ "type": "FactSet", "facts": facts }));
    }
    out
}

/// The Adaptive Card for a message. `lookup` gives the Entra object id of a person in the tenant
/// the card goes to. Order: the urgent prompt first (immediate risk always comes first), then the
/// title (reference and stage), the status, the lines, the stage prompt, the footer, the buttons.
pub fn card(msg: &Message, lookup: MentionLookup<'_>) -> Value {
    let mut mentions = Mentions::default();
    let mut items = Vec::new();
    if let Some(urgent) = &msg.urgent {
        items.push(json!({
            "type": "Container",
            "style": "attention",
            "items": [{
                "type": "TextBlock",
                "text": cut(&format!("⚠️ **{}**", escape(urgent)), TEXT_MAX),
                "wrap": true,
                "color": "attention",
            }],
        }));
    }
    if !msg.title.is_empty() {
        items.push(json!({
            "type": "TextBlock",
            "text": cut(&escape(&msg.title), 300),
            "wrap": true,
            "size": "medium",
            "weight": "bolder",
        }));
    }
    if !msg.status.is_empty() {
        items.push(json!({
            "type": "TextBlock",
            "text": cut(&format!("📅 **{}**", escape(&msg.status)), 300),
            "wrap": true,
            "spacing": "none",
            "isSubtle": true,
        }));
    }
    items.extend(body(&msg.lines, lookup, &mut mentions));
    if let Some(prompt) = &msg.prompt {
        items.push(json!({
            "type": "Container",
            "style": "emphasis",
            "items": [
                { "type": "TextBlock", "text": "**What to do now**", "wrap": true },
                text_block(escape(prompt)),
            ],
        }));
    }
    for f in &msg.footer {
        items.push(json!({
            "type": "TextBlock",
            "text": cut(&escape(f), TEXT_MAX),
            "wrap": true,
            "size": "small",
            "isSubtle": true,
        }));
    }
    let kind = card_kind(msg.kind);
    let actions: Vec<Value> = msg
        .buttons
        .iter()
        .take(6)
        .map(|b| button(b, kind))
        .collect();
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": cut(&msg.fallback, TEXT_MAX),
        "body": items,
    });
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    if !mentions.entities.is_empty() {
        card["msteams"] = json!({ "entities": mentions.entities });
    }
    card
}

/// A card as an activity attachment.
pub fn attachment(card: Value) -> Value {
    json!({ "contentType": CARD_CONTENT_TYPE, "content": card })
}

/// The message activity that carries a card; `summary` is what notifications show.
pub fn activity(card: Value, summary: &str) -> Value {
    json!({
        "type": "message",
        "summary": cut(summary, 300),
        "attachments": [attachment(card)],
    })
}

/// The invoke response that replaces the card the person acted on.
pub fn invoke_card(card: Value) -> Value {
    json!({ "statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card })
}

/// The invoke response that leaves the card and shows the person a short message.
pub fn invoke_message(text: &str) -> Value {
    json!({ "statusCode": 200, "type": MESSAGE_RESPONSE_TYPE, "value": text })
}

/// The invoke response for an action we cannot take (`NotSupported`, `BadRequest`, …).
pub fn invoke_error(status: u16, code: &str, message: &str) -> Value {
    json!({ "statusCode": status, "type": ERROR_RESPONSE_TYPE, "value": { "code": code, "message": message } })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::chat::message::{Button, MessageKind};
    use crate::escalation::Verb;
    use std::path::PathBuf;

    fn line(label: Option<&str>, text: &str) -> Line {
        Line {
            label: label.map(str::to_string),
            spans: vec![Span::text(text)],
        }
    }

    fn button(action: Verb, label: &str, primary: bool) -> Button {
        Button {
            action,
            label: label.into(),
            reference: "NSAB-2026-0007".into(),
            primary,
            form: (!matches!(action, Verb::Acknowledge | Verb::ConfirmResolution)).then(|| {
                crate::chat::forms::FormSpec {
                    name: action.id().into(),
                    title: label.into(),
                    submit: label.into(),
                    intro: "What the form is for.".into(),
                    notes: vec!["What the procedure says.".into()],
                    reference: Some("NSAB-2026-0007".into()),
                    fields: vec![crate::chat::forms::Field {
                        id: "note".into(),
                        label: "What was discussed?".into(),
                        kind: crate::chat::forms::FieldKind::Textarea,
                        required: true,
                        hint: Some("No client-identifiable detail.".into()),
                        choices: Vec::new(),
                        groups: Vec::new(),
                        max_length: Some(3000),
                        missing: None,
                    }],
                }
            }),
        }
    }

    fn mention(id: &str, name: &str) -> Span {
        Span::Mention {
            person: PersonId(id.into()),
            name: name.into(),
        }
    }

    const TITLE: &str = "NSAB-2026-0007 · Stage 2 of 4 · Line manager to line manager";
    const URGENT: &str = "An adult may be at immediate risk of harm: act now. Contact the police (999) or Norfolk adult social care to protect the adult while this disagreement is resolved.";

    fn root_urgent() -> Message {
        Message {
            kind: MessageKind::Root,
            reference: "NSAB-2026-0007".into(),
            title: TITLE.into(),
            status: "Due Mon 8 Jun, 17:00".into(),
            fallback: format!("{TITLE} · Due Mon 8 Jun, 17:00"),
            urgent: Some(URGENT.into()),
            lines: vec![
                line(Some("Raised by"), "Social Worker, Norfolk Adult Social Care"),
                line(Some("With"), "GP, Riverside GP Practice"),
                line(Some("Category"), "Outcomes of assessments"),
                line(
                    Some("Disagreement"),
                    "Decision not to refer for a mental capacity assessment after the hospital discharge; adult lives alone, reference ASC-4471. The practice considers the discharge summary sufficient.",
                ),
                line(Some("Outcome wanted"), "A joint capacity assessment."),
                line(Some("Case reference"), "ASC-4471"),
                Line {
                    label: None,
                    spans: vec![
                        Span::text("Waiting for acknowledgement from "),
                        mention("dr-lindqvist", "Dr Lindqvist"),
                        Span::text(" and "),
                        mention("jordan-reid", "Jordan Reid"),
                    ],
                },
            ],
            prompt: Some("Raise the concern with your line manager, who contacts their counterpart in the other agency.".into()),
            footer: vec![
                "A formal challenge has been lodged under the Norfolk Safeguarding Adults Board procedure.".into(),
                "Record this step in your own agency's case record: the chat is not the case record.".into(),
            ],
            buttons: vec![
                button(Verb::Acknowledge, "Acknowledge", true),
                button(Verb::AddNote, "Add note", false),
                button(Verb::Escalate, "Escalate to stage 3", false),
                button(Verb::ProposeResolution, "Propose resolution", false),
            ],
        }
    }

    fn update_with_mention() -> Message {
        Message {
            kind: MessageKind::Update,
            reference: "NSAB-2026-0007".into(),
            title: TITLE.into(),
            status: "Due Fri 12 Jun, 17:00".into(),
            fallback: format!("{TITLE}: Social Worker, Norfolk Adult Social Care escalated to stage 2."),
            urgent: None,
            lines: vec![
                line(None, "Social Worker, Norfolk Adult Social Care escalated to stage 2. Why: discussed twice, no agreement on capacity concerns."),
                Line {
                    label: None,
                    spans: vec![
                        Span::text("Asked to take over and acknowledge: "),
                        mention("dr-lindqvist", "Dr Lindqvist"),
                        Span::text(", "),
                        mention("jordan-reid", "Jordan Reid"),
                    ],
                },
            ],
            prompt: Some("Line managers talk to each other within 5 working days.".into()),
            footer: vec!["A formal challenge has been lodged under the Norfolk Safeguarding Adults Board procedure.".into()],
            buttons: vec![
                button(Verb::Acknowledge, "Acknowledge", true),
                button(Verb::AddNote, "Add note", false),
            ],
        }
    }

    fn notice() -> Message {
        Message {
            kind: MessageKind::Notice,
            reference: "NSAB-2026-0007".into(),
            title: "NSAB-2026-0007 · Stage 3 of 4 · Senior managers".into(),
            status: "Due Fri 19 Jun, 17:00".into(),
            fallback:
                "NSAB-2026-0007 · Stage 3 of 4 · Senior managers: advance notice to the board."
                    .into(),
            urgent: None,
            lines: vec![
                line(
                    None,
                    "Advance notice: this challenge has reached stage 3; the board may be asked to convene a panel.",
                ),
                line(
                    Some("Agencies"),
                    "Norfolk Adult Social Care and Riverside GP Practice",
                ),
            ],
            prompt: None,
            footer: vec!["Norfolk SAB Resolving Professional Differences (4.3)".into()],
            buttons: vec![],
        }
    }

    fn direct() -> Message {
        Message {
            kind: MessageKind::Direct,
            reference: "NSAB-2026-0007".into(),
            title: TITLE.into(),
            status: "Due Fri 12 Jun, 17:00".into(),
            fallback: format!("You are asked to take over {TITLE}. Due Fri 12 Jun, 17:00"),
            urgent: None,
            lines: vec![line(
                None,
                "You are asked to take over this stage of a professional challenge. Please acknowledge in the thread, or here.",
            )],
            prompt: Some("Line managers talk to each other within 5 working days.".into()),
            footer: vec![],
            buttons: vec![button(Verb::Acknowledge, "Acknowledge", true)],
        }
    }

    fn receipt() -> Message {
        Message {
            kind: MessageKind::Receipt,
            reference: "NSAB-2026-0007".into(),
            title: "NSAB-2026-0007 · Stage 1 of 4 · Professional to professional".into(),
            status: "Due Mon 8 Jun, 17:00".into(),
            fallback: format!("{URGENT} NSAB-2026-0007 raised: Stage 1, due mon 8 jun, 17:00."),
            urgent: Some(URGENT.into()),
            lines: vec![line(
                None,
                "NSAB-2026-0007 raised: Stage 1, due mon 8 jun, 17:00. Threads opened in both agencies' channels.",
            )],
            prompt: None,
            footer: vec![],
            buttons: vec![],
        }
    }

    fn lookup(p: &PersonId) -> Option<String> {
        match p.0.as_str() {
            "dr-lindqvist" => Some("00000000-0000-4000-8000-000000000107".into()),
            _ => None,
        }
    }

    fn snapshot(name: &str, actual: &Value) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/chat/teams/snapshots")
            .join(format!("{name}.json"));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
            let text = serde_json::to_string_pretty(actual).expect("a Value always serialises");
            std::fs::write(&path, text + "\n").expect("the snapshots folder is writable");
            return;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
                path.display()
            )
        });
        let expected: Value = serde_json::from_str(&text).expect("snapshots are JSON");
        assert_eq!(
            &expected,
            actual,
            "{name} differs from {}; if the change is intended, rerun with UPDATE_SNAPSHOTS=1\nactual:\n{}",
            path.display(),
            serde_json::to_string_pretty(actual).unwrap_or_default()
        );
    }

    /// Checks a card against the published Adaptive Cards 1.5 schema. Teams' own extension
    /// (`msteams`, which carries mention entities) is not in that schema, so it is checked
    /// separately and taken off before validating.
    pub(crate) fn assert_valid_card(card: &Value) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/suite/schemas/adaptive-card-1.5.schema.json");
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).expect("the schema is in tests/suite/schemas"),
        )
        .expect("schema JSON");
        let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
        let mut card = card.clone();
        if let Some(ms) = card.as_object_mut().and_then(|o| o.remove("msteams")) {
            let keys: Vec<&String> = ms
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            assert_eq!(
                keys,
                vec!["entities"],
                "msteams holds only mention entities"
            );
            for e in ms["entities"].as_array().cloned().unwrap_or_default() {
                assert_eq!(e["type"], "mention");
                let text = e["text"].as_str().unwrap_or_default();
                assert!(text.starts_with("<at>") && text.ends_with("</at>"), "{e}");
                assert!(e["mentioned"]["id"].is_string() && e["mentioned"]["name"].is_string());
                assert!(
                    card.to_string().contains(text),
                    "every entity is used in the card: {text}"
                );
            }
        }
        let errors: Vec<String> = validator
            .iter_errors(&card)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "the card breaks the Adaptive Cards 1.5 schema:\n{}\n{card:#}",
            errors.join("\n")
        );
        assert_eq!(card["version"], CARD_VERSION);
    }

    fn all() -> Vec<(&'static str, Message)> {
        vec![
            ("root_urgent", root_urgent()),
            ("update_mention", update_with_mention()),
            ("notice", notice()),
            ("direct", direct()),
            ("receipt", receipt()),
        ]
    }

    #[test]
    fn every_message_kind_matches_its_snapshot_and_the_card_schema() {
        for (name, msg) in all() {
            let c = card(&msg, &lookup);
            assert_valid_card(&c);
            snapshot(name, &c);
        }
    }

    #[test]
    fn the_urgent_prompt_comes_first() {
        let c = card(&root_urgent(), &lookup);
        assert_eq!(c["body"][0]["style"], "attention");
        assert!(
            c["body"][0]["items"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("act now"))
        );
        assert_eq!(c["body"][1]["weight"], "bolder");
    }

    #[test]
    fn a_person_in_the_tenant_is_mentioned_by_entity_and_anyone_else_is_named() {
        let c = card(&root_urgent(), &lookup);
        let text = c.to_string();
        assert!(text.contains("<at>Dr Lindqvist</at>"));
        assert_eq!(
            c["msteams"]["entities"][0]["mentioned"]["id"],
            "00000000-0000-4000-8000-000000000107"
        );
        assert!(text.contains("Jordan Reid") && !text.contains("<at>Jordan Reid</at>"));
        assert_eq!(c["msteams"]["entities"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn typed_markup_and_mentions_in_a_summary_are_shown_as_text() {
        let evil = "<at>Dr Lindqvist</at> [click](https://evil.example) **bold** _x_ `code` @here";
        let mut msg = root_urgent();
        msg.lines[3] = line(Some("Disagreement"), evil);
        msg.lines.push(line(None, evil));
        msg.prompt = Some(evil.into());
        msg.footer.push(evil.into());
        let c = card(&msg, &lookup);
        assert_valid_card(&c);
        let text = c.to_string();
        assert_eq!(
            text.matches("<at>").count(),
            2,
            "only the real mention and its entity: {text}"
        );
        assert!(text.contains("＜at＞Dr Lindqvist＜/at＞"));
        assert!(
            text.contains(r"\\[click\\]\\(https://evil.example\\)"),
            "{text}"
        );
        assert!(text.contains(r"\\*\\*bold\\*\\*"));
    }

    #[test]
    fn escaping_covers_line_leading_markers_and_leaves_plain_text_alone() {
        assert_eq!(
            escape("# heading\n- item\n1. first"),
            "\\# heading\n\\- item\n1\\. first"
        );
        assert_eq!(
            escape("NSAB-2026-0007 due 8 Jun."),
            "NSAB-2026-0007 due 8 Jun."
        );
        assert_eq!(escape(r"a\b"), r"a\\b");
    }

    #[test]
    fn buttons_are_execute_actions_with_a_submit_fallback_or_forms() {
        let c = card(&root_urgent(), &lookup);
        let actions = c["actions"].as_array().cloned().unwrap_or_default();
        assert_eq!(actions[0]["type"], "Action.Execute");
        assert_eq!(actions[0]["verb"], "acknowledge");
        assert_eq!(
            actions[0]["data"],
            json!({ "verb": "acknowledge", "reference": "NSAB-2026-0007", "card": "root" })
        );
        assert_eq!(actions[0]["fallback"]["type"], "Action.Submit");
        assert_eq!(actions[0]["fallback"]["data"], actions[0]["data"]);
        assert_eq!(actions[1]["type"], "Action.ShowCard");
        let submit = &actions[1]["card"]["actions"][0];
        assert_eq!(submit["verb"], "add_note");
        assert_eq!(submit["fallback"]["type"], "Action.Submit");
    }

    #[test]
    fn invoke_responses_have_the_shape_teams_requires() {
        let c = invoke_card(json!({ "type": "AdaptiveCard" }));
        assert_eq!(c["statusCode"], 200);
        assert_eq!(c["type"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(c["value"]["type"], "AdaptiveCard");
        let m = invoke_message("Done");
        assert_eq!(
            m,
            json!({ "statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "Done" })
        );
        let e = invoke_error(400, "NotSupported", "no");
        assert_eq!(e["type"], "application/vnd.microsoft.error");
        assert_eq!(e["value"]["code"], "NotSupported");
    }
}
