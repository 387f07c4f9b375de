//! Renders the platform-neutral `Message` as an Adaptive Card (version 1.5, the most Teams shows),
//! and builds the invoke responses Teams requires for `Action.Execute`.
//!
//! Rules, enforced here rather than trusted to callers:
//! - every text span is carried in a `RichTextBlock` of `TextRun`s, which Adaptive Cards shows as
//!   written (no Markdown, no links, no mentions), so a summary, a note or a name appears exactly
//!   as typed on every Teams client, with no escaping characters to show through on some of them;
//! - a `TextBlock` (which Teams reads as Markdown) carries only the service's own words: fixed
//!   headings, and lines that mention people, whose words are checked to be Markdown-inert first;
//! - mentions exist only as `Span::Mention`, rendered `<at>Name</at>` inside a `TextBlock` with a
//!   matching entity in the card's `msteams.entities`, and only for a person whose Teams identity
//!   is in the tenant the card goes to; anyone else is named in plain text;
//! - the actions the stage expects (`Button::primary`, decided once in the posts layer) are
//!   buttons; the rest go to the overflow menu (`"mode": "secondary"`), so titles never truncate
//!   in a channel or on a phone. Buttons are `Action.Execute` (Universal Actions) with an
//!   `Action.Submit` fallback carrying the same data, or `Action.ShowCard` holding their form.

use super::forms::{self, CardKind};
use crate::chat::forms::{FormErrors, Values};
use crate::chat::message::{Button, COMMAND_ACTION, Line, Message, MessageKind, Span};
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

/// Longest text we put in one text element; a card has a 28 KB ceiling in Teams.
const TEXT_MAX: usize = 3000;

/// Most actions a card carries (Teams shows at most six).
const ACTIONS_MAX: usize = 6;

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Text for a `TextRun`, shown as written. The one thing Adaptive Cards still reads inside a run
/// is its date functions (`{{DATE(…)}}`, `{{TIME(…)}}`), so an invisible word joiner goes
/// between the opening braces of one: the text looks the same and stays text.
pub fn literal(text: &str) -> String {
    let text = cut(text, TEXT_MAX);
    if !text.contains("{{") {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 6);
    let mut rest = text.as_str();
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        out.push_str(&rest[..i]);
        if after.starts_with("DATE(") || after.starts_with("TIME(") {
            out.push_str("{\u{2060}{");
        } else {
            out.push_str("{{");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// How a run of text looks; the default is ordinary body text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Look {
    pub bold: bool,
    pub subtle: bool,
    /// `small`, `medium`, … (Adaptive Cards font sizes); `None` is the default size.
    pub size: Option<&'static str>,
    /// `attention`, `good`, … (Adaptive Cards colours); `None` is the default colour.
    pub color: Option<&'static str>,
}

impl Look {
    /// Bold body text.
    pub const BOLD: Look = Look {
        bold: true,
        subtle: false,
        size: None,
        color: None,
    };
    /// Small, toned-down text: hints and small print.
    pub const SMALL: Look = Look {
        bold: false,
        subtle: true,
        size: Some("small"),
        color: None,
    };
}

/// A `TextRun`: text shown exactly as written, in the given look.
pub fn run(text: &str, look: Look) -> Value {
    let mut r = json!({ "type": "TextRun", "text": literal(text) });
    if look.bold {
        r["weight"] = json!("bolder");
    }
    if look.subtle {
        r["isSubtle"] = json!(true);
    }
    if let Some(size) = look.size {
        r["size"] = json!(size);
    }
    if let Some(color) = look.color {
        r["color"] = json!(color);
    }
    r
}

/// A paragraph of runs (`RichTextBlock`, which always wraps).
pub fn rich(inlines: Vec<Value>) -> Value {
    json!({ "type": "RichTextBlock", "inlines": inlines })
}

/// A paragraph of one run of text shown exactly as written.
pub fn plain(text: &str, look: Look) -> Value {
    rich(vec![run(text, look)])
}

/// Whether text means the same read as Markdown or as plain text on every Teams client, so it
/// can share a `TextBlock` with a mention: no emphasis, code, link, list, heading, quote, HTML,
/// entity or escape can start in it, and no web address for a client to turn into a link.
fn markdown_inert(text: &str) -> bool {
    const ACTIVE: &[char] = &[
        '\\', '*', '_', '[', ']', '`', '~', '<', '>', '#', '|', '{', '}', '\n', '\r', '=',
    ];
    let lower = text.to_lowercase();
    let entity = text.contains('&') && text.contains(';');
    let address = ["://", "www.", "@"].iter().any(|a| lower.contains(a));
    !(text.contains(ACTIVE) || entity || address)
}

/// Whether a line may start with this text in a `TextBlock`: nothing that opens a list.
fn safe_start(text: &str) -> bool {
    let t = text.trim_start();
    !(t.starts_with(['-', '+']) || t.starts_with(|c: char| c.is_ascii_digit()))
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

/// A display name safe inside `<at>…</at>`: only what stays text read as Markdown.
fn mention_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| markdown_inert(c.encode_utf8(&mut [0; 4])))
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.is_empty() {
        "someone".into()
    } else {
        clean
    }
}

/// A labelled or plain line as literal runs: the label in bold, then each span as written
/// (a mentioned person by name).
fn literal_line(line: &Line) -> Value {
    let mut inlines = Vec::new();
    if let Some(label) = &line.label {
        inlines.push(run(&format!("{label}: "), Look::BOLD));
    }
    let mut text = String::new();
    for span in &line.spans {
        match span {
            Span::Text { text: t } => text.push_str(t),
            Span::Mention { name, .. } => text.push_str(name),
        }
    }
    inlines.push(run(&text, Look::default()));
    rich(inlines)
}

/// A line that names people: where they can be mentioned in this tenant, a `TextBlock` with the
/// mentions in place, if every other word in it is Markdown-inert; otherwise the line as literal
/// text and, under it, the mentions on their own.
fn mention_line(line: &Line, lookup: MentionLookup<'_>, mentions: &mut Mentions) -> Vec<Value> {
    let ids: Vec<Option<String>> = line
        .spans
        .iter()
        .map(|s| match s {
            Span::Mention { person, .. } => lookup(person).filter(|id| is_mention_id(id)),
            Span::Text { .. } => None,
        })
        .collect();
    if ids.iter().all(Option::is_none) {
        return vec![literal_line(line)];
    }
    let words_inert = line.label.as_deref().is_none_or(markdown_inert)
        && line.spans.iter().zip(&ids).all(|(s, id)| match (s, id) {
            (Span::Text { text }, _) => markdown_inert(text),
            // A mentioned name is written inside `<at>`; anyone else is named in the text.
            (Span::Mention { name, .. }, Some(_)) => mention_name(name) == name.trim(),
            (Span::Mention { name, .. }, None) => markdown_inert(name),
        });
    let first_words = match line.spans.first() {
        Some(Span::Text { text }) => text.as_str(),
        _ => "",
    };
    if words_inert && (line.label.is_some() || safe_start(first_words)) {
        let mut text = match &line.label {
            Some(label) => format!("**{label}:** "),
            None => String::new(),
        };
        for (span, id) in line.spans.iter().zip(&ids) {
            match (span, id) {
                (Span::Text { text: t }, _) => text.push_str(t),
                (Span::Mention { name, .. }, Some(id)) => {
                    text.push_str(&mentions.add(id, &mention_name(name)));
                }
                (Span::Mention { name, .. }, None) => text.push_str(name),
            }
        }
        return vec![json!({ "type": "TextBlock", "text": cut(&text, TEXT_MAX), "wrap": true })];
    }
    let tags: Vec<String> = line
        .spans
        .iter()
        .zip(&ids)
        .filter_map(|(s, id)| match (s, id) {
            (Span::Mention { name, .. }, Some(id)) => Some(mentions.add(id, &mention_name(name))),
            _ => None,
        })
        .collect();
    vec![
        literal_line(line),
        json!({
            "type": "TextBlock",
            "text": format!("Mentioned: {}", tags.join(", ")),
            "wrap": true,
            "spacing": "none",
            "size": "small",
            "isSubtle": true,
        }),
    ]
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
/// without Universal Actions; `main` styles it as the card's main action.
pub fn execute(verb: &str, title: &str, data: Value, main: bool) -> Value {
    let mut action = json!({
        "type": "Action.Execute",
        "verb": verb,
        "title": title,
        "data": data.clone(),
        "fallback": { "type": "Action.Submit", "title": title, "data": data },
    });
    if main {
        action["style"] = json!("positive");
    }
    action
}

fn button(b: &Button, card: CardKind, main: bool) -> Value {
    let mut action = match &b.form {
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
            main,
        ),
    };
    if !b.primary {
        action["mode"] = json!("secondary");
    }
    action
}

/// The card's actions: the ones the stage expects as buttons (the first styled as the main
/// one), the others in the overflow menu.
fn actions(buttons: &[Button], card: CardKind) -> Vec<Value> {
    let shown: Vec<&Button> = buttons.iter().take(ACTIONS_MAX).collect();
    let main = shown.iter().position(|b| b.primary);
    shown
        .iter()
        .enumerate()
        .map(|(i, b)| button(b, card, main == Some(i)))
        .collect()
}

fn body(lines: &[Line], lookup: MentionLookup<'_>, mentions: &mut Mentions) -> Vec<Value> {
    let mut out = Vec::new();
    for line in lines {
        if line.spans.iter().any(|s| matches!(s, Span::Mention { .. })) {
            out.extend(mention_line(line, lookup, mentions));
        } else {
            out.push(literal_line(line));
        }
    }
    out
}

/// Text for the places Teams shows without the card (`fallbackText`, which may be read as
/// Markdown, and the notification `summary`): Markdown and HTML characters are swapped for their
/// full-width look-alikes, so nothing in it is taken as formatting, a link or a mention.
pub fn plain_summary(text: &str, max: usize) -> String {
    let swapped: String = text
        .chars()
        .map(|c| match c {
            '\\' => '＼',
            '*' => '＊',
            '_' => '＿',
            '[' => '［',
            ']' => '］',
            '`' => '｀',
            '~' => '～',
            '<' => '＜',
            '>' => '＞',
            '#' => '＃',
            '|' => '｜',
            '&' => '＆',
            '{' => '｛',
            '}' => '｝',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    cut(&swapped, max)
}

/// The Adaptive Card for a message. `lookup` gives the Entra object id of a person in the tenant
/// the card goes to. Order: the urgent prompt first (immediate risk always comes first), then the
/// title (reference and stage), the status, the lines, the stage prompt, the footer, the actions.
pub fn card(msg: &Message, lookup: MentionLookup<'_>) -> Value {
    let mut mentions = Mentions::default();
    let mut items = Vec::new();
    if let Some(urgent) = &msg.urgent {
        items.push(json!({
            "type": "Container",
            "style": "attention",
            "items": [rich(vec![run(
                &format!("⚠️ {urgent}"),
                Look { bold: true, color: Some("attention"), ..Look::default() },
            )])],
        }));
    }
    if !msg.title.is_empty() {
        items.push(plain(
            &cut(&msg.title, 300),
            Look {
                bold: true,
                size: Some("medium"),
                ..Look::default()
            },
        ));
    }
    if !msg.status.is_empty() {
        let mut status = plain(
            &format!("📅 {}", cut(&msg.status, 300)),
            Look {
                bold: true,
                subtle: true,
                ..Look::default()
            },
        );
        status["spacing"] = json!("none");
        items.push(status);
    }
    items.extend(body(&msg.lines, lookup, &mut mentions));
    if let Some(prompt) = &msg.prompt {
        items.push(json!({
            "type": "Container",
            "style": "emphasis",
            "items": [
                { "type": "TextBlock", "text": "What to do now", "wrap": true, "weight": "bolder" },
                plain(prompt, Look::default()),
            ],
        }));
    }
    for f in &msg.footer {
        items.push(plain(f, Look::SMALL));
    }
    let mut actions = actions(&msg.buttons, card_kind(msg.kind));
    // A command button carries the word it stands for, read back as typed.
    for c in &msg.commands {
        let data = json!({ "verb": COMMAND_ACTION, "command": c.word, "card": card_kind(msg.kind).as_str() });
        actions.push(execute(COMMAND_ACTION, &cut(&c.label, 60), data, false));
    }
    actions.truncate(ACTIONS_MAX);
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": plain_summary(&msg.fallback, TEXT_MAX),
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

/// The message activity that carries a card; `summary` is what notifications show, as plain
/// text.
pub fn activity(card: Value, summary: &str) -> Value {
    json!({
        "type": "message",
        "summary": plain_summary(summary, 300),
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
            commands: Vec::new(),
            buttons: vec![
                button(Verb::Acknowledge, "Acknowledge", true),
                button(Verb::AddNote, "Add note", true),
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
            commands: Vec::new(),
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
            commands: Vec::new(),
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
            commands: Vec::new(),
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
            commands: Vec::new(),
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

    /// Every text a card shows, element by element: `(element type, text)`.
    fn texts(v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(o) => {
                if let Some(t @ ("TextBlock" | "TextRun")) = o.get("type").and_then(Value::as_str) {
                    let text = o.get("text").and_then(Value::as_str).unwrap_or("");
                    out.push((t.to_string(), text.to_string()));
                }
                for (k, x) in o {
                    if k != "msteams" {
                        texts(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
            _ => {}
        }
    }

    #[test]
    fn the_urgent_prompt_comes_first() {
        let c = card(&root_urgent(), &lookup);
        assert_eq!(c["body"][0]["style"], "attention");
        let urgent = &c["body"][0]["items"][0]["inlines"][0];
        assert_eq!(urgent["type"], "TextRun");
        assert!(
            urgent["text"]
                .as_str()
                .is_some_and(|t| t.contains("act now"))
        );
        assert_eq!(c["body"][1]["inlines"][0]["weight"], "bolder");
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
        // The mention sits in a TextBlock, the only element Teams looks for mentions in.
        let mut all = Vec::new();
        texts(&c, &mut all);
        assert!(
            all.iter()
                .any(|(t, x)| t == "TextBlock" && x.contains("<at>Dr Lindqvist</at>"))
        );
    }

    const EVIL: &str = "<at>Dr Lindqvist</at> [click](https://evil.example) **bold** _x_ `code` @here \\(4.3\\) # not a heading {{DATE(2026-06-08T17:00:00Z, SHORT)}} 🙂";

    #[test]
    fn typed_markup_and_mentions_in_a_summary_are_shown_exactly_as_typed() {
        let mut msg = root_urgent();
        msg.lines[3] = line(Some("Disagreement"), EVIL);
        msg.lines.push(line(None, EVIL));
        msg.prompt = Some(EVIL.into());
        msg.footer.push(EVIL.into());
        msg.title = EVIL.into();
        msg.status = EVIL.into();
        let c = card(&msg, &lookup);
        assert_valid_card(&c);
        let mut all = Vec::new();
        texts(&c, &mut all);
        let shown: Vec<&(String, String)> = all
            .iter()
            .filter(|(_, x)| x.replace('\u{2060}', "").contains(EVIL))
            .collect();
        assert_eq!(shown.len(), 6, "every place shows the text: {all:?}");
        assert!(
            shown.iter().all(|(t, _)| t == "TextRun"),
            "typed text is only ever in text runs: {shown:?}"
        );
        // The date function is broken by an invisible joiner, so it stays text.
        assert!(shown.iter().all(|(_, x)| x.contains("{\u{2060}{DATE(")));
        assert_eq!(c["msteams"]["entities"].as_array().map(Vec::len), Some(1));
        // Nothing the service wrote in Markdown carries a backslash.
        assert!(
            all.iter()
                .filter(|(t, _)| t == "TextBlock")
                .all(|(_, x)| !x.contains('\\')),
            "{all:?}"
        );
    }

    #[test]
    fn a_mention_line_with_markdown_in_its_words_is_shown_literally_and_mentions_apart() {
        let msg = Message {
            lines: vec![Line {
                label: Some("With".into()),
                spans: vec![
                    mention("dr-lindqvist", "Dr *Maria* Lindqvist"),
                    Span::text(" (GP_lead, [Riverside])"),
                ],
            }],
            ..update_with_mention()
        };
        let c = card(&msg, &lookup);
        assert_valid_card(&c);
        let mut all = Vec::new();
        texts(&c, &mut all);
        assert!(
            all.iter()
                .any(|(t, x)| t == "TextRun" && x == "Dr *Maria* Lindqvist (GP_lead, [Riverside])")
        );
        assert!(
            all.iter()
                .any(|(t, x)| t == "TextBlock" && x == "Mentioned: <at>Dr Maria Lindqvist</at>")
        );
    }

    #[test]
    fn text_runs_keep_text_and_break_only_date_functions() {
        assert_eq!(literal("a {{b}} c"), "a {{b}} c");
        assert_eq!(
            literal("{{TIME(2026-06-08T17:00:00Z)}}"),
            "{\u{2060}{TIME(2026-06-08T17:00:00Z)}}"
        );
        assert_eq!(literal(r"C:\cases *x*"), r"C:\cases *x*");
        assert!(markdown_inert("Waiting for acknowledgement from "));
        assert!(markdown_inert(" (GP, Riverside GP Practice)"));
        assert!(!markdown_inert("see https://example.org"));
        assert!(!markdown_inert("a_b"));
        assert!(!markdown_inert("Tom &amp; Jerry"));
    }

    #[test]
    fn fallback_text_and_summary_carry_nothing_teams_would_read_as_markup() {
        let mut msg = update_with_mention();
        msg.fallback = EVIL.into();
        let c = card(&msg, &lookup);
        let a = activity(c.clone(), &msg.fallback);
        for text in [&c["fallbackText"], &a["summary"]] {
            let text = text.as_str().unwrap_or_default();
            assert!(
                !text.contains(['<', '>', '*', '_', '[', ']', '`', '\\', '#', '{']),
                "{text}"
            );
            assert!(text.contains("Dr Lindqvist") && text.contains("🙂"));
        }
    }

    #[test]
    fn the_actions_the_stage_expects_are_buttons_and_the_rest_overflow() {
        let c = card(&root_urgent(), &lookup);
        let actions = c["actions"].as_array().cloned().unwrap_or_default();
        let modes: Vec<&str> = actions
            .iter()
            .map(|a| a["mode"].as_str().unwrap_or("primary"))
            .collect();
        assert_eq!(modes, ["primary", "primary", "secondary", "secondary"]);
        assert_eq!(actions[0]["style"], "positive");
        assert!(actions[1].get("style").is_none());
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
    fn a_command_button_is_an_execute_action_carrying_its_word() {
        let mut msg = notice();
        msg.commands.push(crate::chat::message::CommandButton {
            word: "board".into(),
            label: "Board view".into(),
        });
        let c = card(&msg, &lookup);
        let action = &c["actions"][0];
        assert_eq!(action["type"], "Action.Execute");
        assert_eq!(action["verb"], COMMAND_ACTION);
        assert_eq!(action["title"], "Board view");
        assert_eq!(
            action["data"],
            json!({ "verb": COMMAND_ACTION, "command": "board", "card": "notice" })
        );
        assert_eq!(action["fallback"]["type"], "Action.Submit");
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
