//! Renders the platform-neutral `Message` as Slack Block Kit, escaping everything people typed.
//!
//! Safety rules, all enforced here rather than trusted to callers:
//! - every text span goes through [`escape`] (`&`, `<`, `>` become entities), so `<!channel>`,
//!   `<@U123>` or `<https://x|y>` typed into a summary show as text and notify nobody;
//! - every `mrkdwn` text object carries `"verbatim": true`, which turns off Slack's automatic
//!   parsing of bare `@here`, `@channel`, `#channel` and URLs in blocks; the top-level `text` is
//!   posted without `link_names` (the client also sends `parse: "none"`), which does the same there;
//! - mentions exist only as `Span::Mention`, rendered `<@U…>` only for a well-formed Slack user id
//!   the directory gave us; otherwise the person's (escaped) name is shown;
//! - Block Kit's limits are respected by truncating with "…", never by failing: a post that
//!   Slack refused as `invalid_blocks` would be a lost update.
//!
//! `plain_text` objects (header, button labels) are never parsed for mentions or links by Slack,
//! so they are sent as they are. Slack's mrkdwn has no escape for `*`, `_`, `~` or backticks: typed
//! text may still come out bold or struck through, which changes how it looks but can never
//! notify anyone or link anywhere.

use crate::chat::message::{COMMAND_ACTION, Line, Message, Span};
use crate::directory::PersonId;
use serde_json::{Value, json};

/// Block Kit limits (docs.slack.dev/reference/block-kit), as characters.
pub mod limits {
    /// Blocks in one message.
    pub const BLOCKS: usize = 50;
    /// Header block text.
    pub const HEADER: usize = 150;
    /// Section block text (and any text object).
    pub const SECTION: usize = 3000;
    /// Fields in one section.
    pub const FIELDS: usize = 10;
    /// Each section field.
    pub const FIELD: usize = 2000;
    /// Elements in one context block.
    pub const CONTEXT_ELEMENTS: usize = 10;
    /// Elements in one actions block.
    pub const ACTIONS: usize = 25;
    /// Button label.
    pub const BUTTON_TEXT: usize = 75;
    /// Button value.
    pub const BUTTON_VALUE: usize = 2000;
    /// What Slack recommends for the top-level `text` (it truncates at 40,000).
    pub const TEXT: usize = 4000;
}

/// A labelled line whose rendered value is at most this long goes into a two-column field;
/// longer ones (the summary, outcomes) get a full-width section of their own.
const SHORT_FIELD: usize = 120;

const ELLIPSIS: char = '…';

/// Escapes text for Slack mrkdwn: only `&`, `<` and `>` are control characters there.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts already-escaped mrkdwn to at most `max` characters, ending with "…". It never leaves half
/// an entity (`&am`) or half a mention (`<@U12`) behind, which Slack would show garbled.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut cut: String = text.chars().take(keep).collect();
    // Half an entity: an `&` with no `;` after it (entities are at most 5 characters).
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    // Half a mention: a `<` with no `>` after it.
    if let Some(lt) = cut.rfind('<')
        && !cut[lt..].contains('>')
    {
        cut.truncate(lt);
    }
    cut.push(ELLIPSIS);
    cut
}

/// Cuts plain text (no entities) to at most `max` characters, ending with "…".
fn truncate_plain(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push(ELLIPSIS);
    cut
}

/// A Slack user id as the directory should hold it (`U…`, `W…`): letters and digits only, so a
/// bad directory entry can never smuggle markup into a mention.
fn is_user_id(id: &str) -> bool {
    (2..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn spans(spans: &[Span], mention: &dyn Fn(&PersonId) -> Option<String>) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text { text } => out.push_str(&escape(text)),
            Span::Mention { person, name } => match mention(person) {
                Some(user) if is_user_id(&user) => {
                    out.push_str("<@");
                    out.push_str(&user);
                    out.push('>');
                }
                _ => out.push_str(&escape(name)),
            },
        }
    }
    out
}

fn mrkdwn(text: String) -> Value {
    json!({ "type": "mrkdwn", "text": text, "verbatim": true })
}

fn plain(text: &str, max: usize) -> Value {
    json!({ "type": "plain_text", "text": truncate_plain(text, max), "emoji": true })
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": mrkdwn(truncate(&text, limits::SECTION)) })
}

/// `*Label*\nvalue`, the label escaped too (it comes from code, but escaping is never wrong).
fn labelled(label: &str, value: &str) -> String {
    format!("*{}*\n{value}", escape(label))
}

/// The message body: labelled lines as fields (short) or sections (long), unlabelled lines merged
/// into as few sections as fit, all in the original order.
fn body(lines: &[Line], mention: &dyn Fn(&PersonId) -> Option<String>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut fields: Vec<Value> = Vec::new();
    let mut prose: Vec<String> = Vec::new();

    fn flush_fields(out: &mut Vec<Value>, fields: &mut Vec<Value>) {
        if !fields.is_empty() {
            out.push(json!({ "type": "section", "fields": std::mem::take(fields) }));
        }
    }
    fn flush_prose(out: &mut Vec<Value>, prose: &mut Vec<String>) {
        if !prose.is_empty() {
            out.push(section(std::mem::take(prose).join("\n")));
        }
    }

    for line in lines {
        let value = spans(&line.spans, mention);
        match &line.label {
            Some(label) if value.chars().count() <= SHORT_FIELD && !value.contains('\n') => {
                flush_prose(&mut out, &mut prose);
                if fields.len() == limits::FIELDS {
                    flush_fields(&mut out, &mut fields);
                }
                fields.push(mrkdwn(truncate(&labelled(label, &value), limits::FIELD)));
            }
            Some(label) => {
                flush_prose(&mut out, &mut prose);
                flush_fields(&mut out, &mut fields);
                out.push(section(labelled(label, &value)));
            }
            None => {
                flush_fields(&mut out, &mut fields);
                let joined_len: usize = prose.iter().map(|p| p.chars().count() + 1).sum();
                if !prose.is_empty() && joined_len + value.chars().count() > limits::SECTION {
                    flush_prose(&mut out, &mut prose);
                }
                prose.push(value);
            }
        }
    }
    flush_prose(&mut out, &mut prose);
    flush_fields(&mut out, &mut fields);
    out
}

/// Block Kit blocks for a message. `mention` gives the Slack user id of a person in the workspace
/// the message goes to, if they have one there; without one, the person's name is shown instead.
///
/// Order: the urgent prompt first (immediate risk always comes first), then the header
/// (reference and stage), the status line, the lines, the stage prompt, the footer and the buttons.
pub fn blocks(msg: &Message, mention: &dyn Fn(&PersonId) -> Option<String>) -> Value {
    let mut head = Vec::new();
    if let Some(urgent) = &msg.urgent {
        head.push(section(format!(":warning: *{}*", escape(urgent))));
    }
    if !msg.title.is_empty() {
        head.push(json!({ "type": "header", "text": plain(&msg.title, limits::HEADER) }));
    }
    if !msg.status.is_empty() {
        head.push(json!({
            "type": "context",
            "elements": [mrkdwn(truncate(&format!(":calendar: *{}*", escape(&msg.status)), limits::SECTION))],
        }));
    }

    let mut body = body(&msg.lines, mention);

    let mut tail = Vec::new();
    if let Some(prompt) = &msg.prompt {
        tail.push(section(labelled("What to do now", &escape(prompt))));
    }
    if !msg.footer.is_empty() {
        let elements: Vec<Value> = msg
            .footer
            .iter()
            .take(limits::CONTEXT_ELEMENTS)
            .map(|f| mrkdwn(truncate(&escape(f), limits::FIELD)))
            .collect();
        tail.push(json!({ "type": "context", "elements": elements }));
    }
    if !msg.buttons.is_empty() || !msg.commands.is_empty() {
        // Slack styles one button as the main one: the first the stage expects.
        let main = msg.buttons.iter().position(|b| b.primary);
        let verbs = msg.buttons.iter().enumerate().map(|(i, b)| {
            let mut button = json!({
                "type": "button",
                "action_id": b.action.id(),
                "text": plain(&b.label, limits::BUTTON_TEXT),
                "value": truncate_plain(&b.reference, limits::BUTTON_VALUE),
            });
            if main == Some(i) {
                button["style"] = json!("primary");
            }
            button
        });
        // A command button's value is the word it stands for, read back as typed.
        let commands = msg.commands.iter().map(|c| {
            json!({
                "type": "button",
                "action_id": COMMAND_ACTION,
                "text": plain(&c.label, limits::BUTTON_TEXT),
                "value": truncate_plain(&c.word, limits::BUTTON_VALUE),
            })
        });
        let elements: Vec<Value> = verbs.chain(commands).take(limits::ACTIONS).collect();
        tail.push(json!({ "type": "actions", "elements": elements }));
    }

    // Over the block limit, the body gives way: urgent prompt, header, prompt and buttons stay.
    let room = limits::BLOCKS.saturating_sub(head.len() + tail.len());
    if body.len() > room {
        body.truncate(room.saturating_sub(1));
        body.push(json!({
            "type": "context",
            "elements": [mrkdwn("… more in the record: `/challenge status` shows it all.".to_string())],
        }));
    }

    let mut all = head;
    all.extend(body);
    all.extend(tail);
    all.truncate(limits::BLOCKS);
    Value::Array(all)
}

/// The top-level `text`: what notifications, screen readers and old clients show. Escaped like
/// the blocks, the urgent prompt first when there is one, within Slack's recommended length.
pub fn fallback_text(msg: &Message) -> String {
    let text = match &msg.urgent {
        Some(urgent) if !msg.fallback.contains(urgent.as_str()) => {
            format!("⚠️ {urgent} {}", msg.fallback)
        }
        _ => msg.fallback.clone(),
    };
    truncate(&escape(&text), limits::TEXT)
}

#[cfg(test)]
mod tests {
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
            form: None,
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
                line(Some("With"), "Norfolk Community Health & Care"),
                line(Some("Category"), "Hospital discharge"),
                line(
                    Some("Disagreement"),
                    "The discharge plan for case ASC-4471 was agreed without the care provider's assessment of moving and handling needs; the provider says it cannot meet them safely at home.",
                ),
                line(Some("Outcome wanted"), "A joint review of the discharge plan before Friday."),
                line(Some("Case reference"), "ASC-4471"),
                Line {
                    label: None,
                    spans: vec![
                        Span::text("Waiting for acknowledgement from "),
                        Span::Mention {
                            person: PersonId("pat-jones".into()),
                            name: "Pat Jones".into(),
                        },
                        Span::text(" and "),
                        Span::Mention {
                            person: PersonId("lee-chan".into()),
                            name: "Lee Chan".into(),
                        },
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
            status: "Due Mon 8 Jun, 17:00".into(),
            fallback: format!("{TITLE}: Social Worker, Norfolk Adult Social Care escalated to stage 2."),
            urgent: None,
            lines: vec![
                line(
                    None,
                    "Social Worker, Norfolk Adult Social Care escalated to stage 2. Why: we met on 2 June and could not agree the plan.",
                ),
                Line {
                    label: None,
                    spans: vec![
                        Span::text("Asked to take over and acknowledge: "),
                        Span::Mention {
                            person: PersonId("pat-jones".into()),
                            name: "Pat Jones".into(),
                        },
                        Span::text(", "),
                        Span::Mention {
                            person: PersonId("lee-chan".into()),
                            name: "Lee Chan".into(),
                        },
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
                    "Norfolk Adult Social Care and Norfolk Community Health & Care",
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
            status: "Due Mon 8 Jun, 17:00".into(),
            fallback: format!("You are asked to take over {TITLE}. Due Mon 8 Jun, 17:00"),
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
            title: "NSAB-2026-0007 · Stage 1 of 4 · Practitioner to practitioner".into(),
            status: "Due Fri 5 Jun, 17:00".into(),
            fallback: format!(
                "{URGENT} NSAB-2026-0007 raised: Stage 1, due fri 5 jun, 17:00. Threads opened in both agencies' channels."
            ),
            urgent: Some(URGENT.into()),
            lines: vec![line(
                None,
                "NSAB-2026-0007 raised: Stage 1, due fri 5 jun, 17:00. Threads opened in both agencies' channels.",
            )],
            prompt: None,
            footer: vec![],
            commands: Vec::new(),
            buttons: vec![],
        }
    }

    fn directory_ids(p: &PersonId) -> Option<String> {
        match p.0.as_str() {
            "pat-jones" => Some("U0PATJONES".into()),
            _ => None,
        }
    }

    fn snapshot(name: &str, actual: &Value) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/chat/slack/snapshots")
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

    fn rendered(msg: &Message) -> Value {
        json!({ "text": fallback_text(msg), "blocks": blocks(msg, &directory_ids) })
    }

    #[test]
    fn a_root_post_with_immediate_risk_matches_its_snapshot() {
        snapshot("root_urgent", &rendered(&root_urgent()));
    }

    #[test]
    fn a_thread_update_with_a_mention_matches_its_snapshot() {
        snapshot("update_mention", &rendered(&update_with_mention()));
    }

    #[test]
    fn a_board_notice_matches_its_snapshot() {
        snapshot("notice", &rendered(&notice()));
    }

    #[test]
    fn a_direct_message_matches_its_snapshot() {
        snapshot("direct", &rendered(&direct()));
    }

    #[test]
    fn a_receipt_matches_its_snapshot() {
        snapshot("receipt", &rendered(&receipt()));
    }

    #[test]
    fn the_urgent_prompt_is_the_first_block() {
        let b = blocks(&root_urgent(), &directory_ids);
        let first = &b[0]["text"]["text"];
        assert!(
            first
                .as_str()
                .is_some_and(|t| t.starts_with(":warning:") && t.contains("act now")),
            "{first}"
        );
        assert_eq!(b[1]["type"], "header");
    }

    #[test]
    fn a_known_person_is_mentioned_and_an_unknown_one_is_named() {
        let text = blocks(&root_urgent(), &directory_ids).to_string();
        assert!(text.contains("<@U0PATJONES>"));
        assert!(text.contains("Lee Chan") && !text.contains("<@lee"));
    }

    #[test]
    fn a_malformed_user_id_from_the_directory_is_never_used_as_a_mention() {
        let evil = |_: &PersonId| Some("U1>|x> <!channel".to_string());
        let text = blocks(&root_urgent(), &evil).to_string();
        assert!(!text.contains("<!channel") && text.contains("Pat Jones"));
    }

    fn texts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
            Value::Object(o) => o.values().for_each(|x| texts(x, out)),
            _ => {}
        }
    }

    #[test]
    fn typed_markup_in_a_summary_is_shown_as_text_and_notifies_nobody() {
        let evil = "<!channel> <@U123> <https://evil|click> & @here <!subteam^S1> <#C1>";
        let mut msg = root_urgent();
        msg.lines[3] = line(Some("Disagreement"), evil);
        msg.lines.push(line(None, evil));
        msg.footer.push(evil.into());
        msg.prompt = Some(evil.into());
        msg.fallback = evil.into();
        let v = rendered(&msg);
        let mut all = Vec::new();
        texts(&v, &mut all);
        for s in &all {
            let without_mentions = s.replace("<@U0PATJONES>", "");
            assert!(
                !without_mentions.contains('<') && !without_mentions.contains('>'),
                "unescaped markup in {s:?}"
            );
        }
        let text = v.to_string();
        assert!(
            text.contains("&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt; &amp; @here")
        );
        assert!(!text.contains("&amp;lt;"), "escaped twice");
    }

    #[test]
    fn every_mrkdwn_text_is_verbatim_so_bare_at_here_is_not_parsed() {
        fn check(v: &Value) {
            match v {
                Value::Object(o) => {
                    if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                        assert_eq!(o.get("verbatim"), Some(&Value::Bool(true)), "{v}");
                    }
                    o.values().for_each(check);
                }
                Value::Array(a) => a.iter().for_each(check),
                _ => {}
            }
        }
        for msg in [
            root_urgent(),
            update_with_mention(),
            notice(),
            direct(),
            receipt(),
        ] {
            check(&blocks(&msg, &directory_ids));
        }
    }

    #[test]
    fn buttons_carry_the_action_id_and_the_reference() {
        let b = blocks(&root_urgent(), &directory_ids);
        let actions = b
            .as_array()
            .and_then(|a| a.last())
            .cloned()
            .unwrap_or_default();
        assert_eq!(actions["type"], "actions");
        assert_eq!(actions["elements"][0]["action_id"], "acknowledge");
        assert_eq!(actions["elements"][0]["value"], "NSAB-2026-0007");
        assert_eq!(actions["elements"][0]["style"], "primary");
        assert!(actions["elements"][1].get("style").is_none());
        assert_eq!(
            Verb::from_id(
                actions["elements"][2]["action_id"]
                    .as_str()
                    .unwrap_or_default()
            ),
            Some(Verb::Escalate)
        );
    }

    #[test]
    fn oversized_content_is_truncated_within_block_kit_limits() {
        let mut msg = root_urgent();
        msg.title = "T".repeat(400);
        msg.lines = (0..120)
            .map(|i| {
                line(
                    if i % 2 == 0 { Some("Label") } else { None },
                    &"&x".repeat(2000),
                )
            })
            .collect();
        msg.lines.extend((0..30).map(|_| line(Some("Short"), "ok")));
        msg.buttons[0].label = "B".repeat(200);
        let b = blocks(&msg, &directory_ids);
        let blocks = b.as_array().cloned().unwrap_or_default();
        assert!(blocks.len() <= limits::BLOCKS, "{} blocks", blocks.len());
        assert_eq!(
            blocks[0]["text"]["text"]
                .as_str()
                .map(|t| t.starts_with(":warning:")),
            Some(true)
        );
        assert_eq!(
            blocks.last().map(|l| l["type"].clone()),
            Some(json!("actions"))
        );
        for block in &blocks {
            match block["type"].as_str() {
                Some("header") => assert!(
                    block["text"]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .chars()
                        .count()
                        <= limits::HEADER
                ),
                Some("section") => {
                    if let Some(t) = block["text"]["text"].as_str() {
                        assert!(t.chars().count() <= limits::SECTION);
                        assert!(
                            !t.ends_with("&amp…") && !t.ends_with("&…"),
                            "half an entity at the end of a section"
                        );
                    }
                    if let Some(f) = block["fields"].as_array() {
                        assert!(f.len() <= limits::FIELDS);
                        for field in f {
                            assert!(
                                field["text"].as_str().unwrap_or_default().chars().count()
                                    <= limits::FIELD
                            );
                        }
                    }
                }
                Some("actions") => {
                    for e in block["elements"].as_array().cloned().unwrap_or_default() {
                        assert!(
                            e["text"]["text"]
                                .as_str()
                                .unwrap_or_default()
                                .chars()
                                .count()
                                <= limits::BUTTON_TEXT
                        );
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn truncation_never_leaves_half_an_entity_or_half_a_mention() {
        assert_eq!(truncate("abc&amp;def", 6), "abc…");
        assert_eq!(truncate("ab <@U123> cd", 7), "ab …");
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate("toolong", 5).chars().count(), 5);
    }

    #[test]
    fn a_command_button_carries_its_word_after_the_verb_buttons() {
        let mut msg = notice();
        msg.commands.push(crate::chat::message::CommandButton {
            word: "board".into(),
            label: "Board view".into(),
        });
        let b = blocks(&msg, &directory_ids);
        let actions = b
            .as_array()
            .and_then(|a| a.iter().find(|x| x["type"] == "actions"))
            .cloned()
            .unwrap_or_default();
        let last = &actions["elements"][0];
        assert_eq!(last["action_id"], COMMAND_ACTION);
        assert_eq!(last["value"], "board");
        assert_eq!(last["text"]["text"], "Board view");
    }

    #[test]
    fn the_fallback_text_puts_the_urgent_prompt_first_and_is_escaped() {
        let mut msg = root_urgent();
        msg.fallback = "NSAB-2026-0007 <!here>".into();
        let text = fallback_text(&msg);
        assert!(text.starts_with("⚠️ An adult may be at immediate risk"));
        assert!(text.ends_with("NSAB-2026-0007 &lt;!here&gt;"));
        // A receipt's fallback already leads with the urgent prompt: not repeated.
        let r = fallback_text(&receipt());
        assert_eq!(r.matches("immediate risk").count(), 1);
    }
}
