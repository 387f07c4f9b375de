//! Forms as Slack modals, and what a submitted modal says, as the form's values.
//!
//! The forms themselves are defined once in [`crate::chat::forms`]; this file only draws them in
//! Block Kit and reads `view.state` back. Each input's `block_id` and `action_id` are the field's
//! id, so a problem with a field comes back as Slack's inline error on that input with what the
//! person typed kept (`response_action: errors`). Text people typed is never drawn into a view.

use super::render::{escape, truncate};
use crate::chat::forms::{FieldKind, FormErrors, FormSpec, Values, WHOLE_FORM};
use chrono::DateTime;
use serde_json::{Map, Value, json};

/// Modal and element limits (docs.slack.dev/reference/views, block-kit), as characters or counts.
pub mod limits {
    /// Modal title, submit and close labels.
    pub const TITLE: usize = 24;
    /// Blocks in one modal.
    pub const BLOCKS: usize = 100;
    /// Options in one static select (all groups together, kept within the per-group limit too).
    pub const OPTIONS: usize = 100;
    /// Options of a radio button group.
    pub const RADIOS: usize = 10;
    /// An option's label.
    pub const OPTION_TEXT: usize = 75;
    /// An option's description.
    pub const OPTION_DESCRIPTION: usize = 75;
    /// An option's value.
    pub const OPTION_VALUE: usize = 150;
    /// An input's label.
    pub const LABEL: usize = 2000;
    /// An input's hint.
    pub const HINT: usize = 2000;
    /// A `plain_text_input`'s `max_length`.
    pub const INPUT: usize = 3000;
    /// `private_metadata`.
    pub const PRIVATE_METADATA: usize = 3000;
    /// A context block's text.
    pub const CONTEXT: usize = 2000;
}

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

fn context(mrkdwn: &str) -> Value {
    json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": truncate(mrkdwn, limits::CONTEXT), "verbatim": true }],
    })
}

fn option(value: &str, label: &str, description: Option<&str>) -> Option<Value> {
    if value.is_empty() || value.chars().count() > limits::OPTION_VALUE {
        return None;
    }
    let mut o = json!({ "text": plain(label, limits::OPTION_TEXT), "value": value });
    if let Some(d) = description {
        o["description"] = plain(d, limits::OPTION_DESCRIPTION);
    }
    Some(o)
}

/// The input element for a field, with what was already filled in.
fn element(field: &crate::chat::forms::Field, value: Option<&String>) -> Value {
    let id = field.id.as_str();
    match field.kind {
        FieldKind::Text | FieldKind::Textarea => {
            let mut e = json!({
                "type": "plain_text_input",
                "action_id": id,
                "multiline": field.kind == FieldKind::Textarea,
                "max_length": field.max_length.unwrap_or(limits::INPUT).min(limits::INPUT),
            });
            if let Some(v) = value {
                e["initial_value"] = json!(v);
            }
            e
        }
        FieldKind::DateTime => json!({ "type": "datetimepicker", "action_id": id }),
        FieldKind::Radios if field.choices.len() <= limits::RADIOS && field.groups.is_empty() => {
            let options: Vec<Value> = field
                .choices
                .iter()
                .filter_map(|c| option(&c.value, &c.label, c.detail.as_deref()))
                .collect();
            let mut e = json!({ "type": "radio_buttons", "action_id": id, "options": options });
            if let Some(chosen) =
                value.and_then(|v| options.iter().find(|o| o["value"] == v.as_str()))
            {
                e["initial_option"] = chosen.clone();
            }
            e
        }
        FieldKind::Select | FieldKind::Radios => {
            let mut e = json!({
                "type": "static_select",
                "action_id": id,
                "placeholder": plain("Choose…", 150),
            });
            let mut budget = limits::OPTIONS;
            let mut take = |choices: &[crate::chat::forms::Choice]| -> Vec<Value> {
                let options: Vec<Value> = choices
                    .iter()
                    .filter_map(|c| option(&c.value, &c.label, None))
                    .take(budget)
                    .collect();
                budget -= options.len();
                options
            };
            if field.groups.is_empty() {
                e["options"] = json!(take(&field.choices));
            } else {
                let groups: Vec<Value> = field
                    .groups
                    .iter()
                    .map(|g| json!({ "label": plain(&g.label, limits::OPTION_TEXT), "options": take(&g.choices) }))
                    .filter(|g| g["options"].as_array().is_some_and(|o| !o.is_empty()))
                    .collect();
                e["option_groups"] = json!(groups);
            }
            e
        }
    }
}

/// A form as a modal. `private_metadata` (the channel and challenge, at most 3,000 characters)
/// comes back on submission.
pub fn modal(spec: &FormSpec, values: &Values, private_metadata: &str) -> Value {
    let intro = match &spec.reference {
        Some(r) => format!("*{}* · {}", escape(r), escape(&spec.intro)),
        None => escape(&spec.intro),
    };
    let mut blocks = vec![context(&intro)];
    for note in &spec.notes {
        blocks.push(context(&format!("_{}_", escape(note))));
    }
    for f in &spec.fields {
        let mut block = json!({
            "type": "input",
            "block_id": f.id,
            "label": plain(&f.label, limits::LABEL),
            "element": element(f, values.get(&f.id)),
            "optional": !f.required,
        });
        if let Some(h) = &f.hint {
            block["hint"] = plain(h, limits::HINT);
        }
        let radios = matches!(block["element"]["type"].as_str(), Some("radio_buttons"));
        blocks.push(block);
        // What a choice means, where the element cannot say it itself (radio buttons carry a
        // description per option; selects do not).
        let details: Vec<String> = f
            .all_choices()
            .filter_map(|c| {
                c.detail
                    .as_ref()
                    .map(|d| format!("*{}*: {}", escape(&c.label), escape(d)))
            })
            .collect();
        if !radios && !details.is_empty() {
            blocks.push(context(&details.join("\n")));
        }
    }
    blocks.truncate(limits::BLOCKS);
    json!({
        "type": "modal",
        "callback_id": spec.name,
        "title": plain(&spec.title, limits::TITLE),
        "submit": plain(&spec.submit, limits::TITLE),
        "close": plain("Cancel", limits::TITLE),
        "private_metadata": truncate(private_metadata, limits::PRIVATE_METADATA),
        "blocks": blocks,
    })
}

/// The `view_submission` answer that shows errors under the named inputs; Slack keeps what the
/// person typed. An error about the whole form goes under the first input (inline errors can
/// only be attached to input blocks).
pub fn errors_response(spec: &FormSpec, errors: &FormErrors) -> Value {
    let first = spec.fields.first().map_or("", |f| f.id.as_str());
    let mut out = Map::new();
    for (field, message) in errors {
        let block = if field == WHOLE_FORM || spec.field(field).is_none() {
            first
        } else {
            field.as_str()
        };
        let text = match out.get(block).and_then(Value::as_str) {
            Some(before) => format!("{before} {message}"),
            None => message.clone(),
        };
        out.insert(block.to_string(), json!(truncate(&text, limits::LABEL)));
    }
    json!({ "response_action": "errors", "errors": out })
}

/// What a submitted modal holds, by block id: typed text, the chosen option, or a date and time
/// (as UK local time, the way every form reads it). Empty inputs are left out.
pub fn values(state: &Value) -> Values {
    let mut out = Values::new();
    let Some(blocks) = state.get("values").unwrap_or(state).as_object() else {
        return out;
    };
    for (block, actions) in blocks {
        let Some(action) = actions
            .as_object()
            .and_then(|a| a.get(block).or_else(|| a.values().next()))
        else {
            continue;
        };
        let value = if let Some(v) = action.get("value").and_then(Value::as_str) {
            Some(v.to_string())
        } else if let Some(v) = action
            .get("selected_option")
            .and_then(|o| o.get("value"))
            .and_then(Value::as_str)
        {
            Some(v.to_string())
        } else {
            action
                .get("selected_date_time")
                .and_then(Value::as_i64)
                .and_then(|secs| DateTime::from_timestamp(secs, 0))
                .map(|t| {
                    t.with_timezone(&chrono_tz::Europe::London)
                        .format("%Y-%m-%dT%H:%M")
                        .to_string()
                })
        };
        if let Some(v) = value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            out.insert(block.clone(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_values_are_read_by_block_whatever_the_input() {
        let state = json!({ "values": {
            "note": { "note": { "type": "plain_text_input", "value": "  met by phone " } },
            "how": { "how": { "type": "static_select", "selected_option": { "value": "phone" } } },
            "held_at": { "held_at": { "type": "datetimepicker", "selected_date_time": 1_780_300_800 } },
            "empty": { "empty": { "type": "plain_text_input", "value": "" } },
            "unset": { "unset": { "type": "static_select", "selected_option": null } },
        }});
        let v = values(&state);
        assert_eq!(v.get("note").map(String::as_str), Some("met by phone"));
        assert_eq!(v.get("how").map(String::as_str), Some("phone"));
        // 1780300800 is 2026-06-01 08:00 UTC: 09:00 in London (BST).
        assert_eq!(
            v.get("held_at").map(String::as_str),
            Some("2026-06-01T09:00")
        );
        assert!(!v.contains_key("empty") && !v.contains_key("unset"));
    }
}
