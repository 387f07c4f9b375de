//! Forms as Adaptive Cards, and what a submitted card says, as the form's values.
//!
//! The forms themselves are defined once in [`crate::chat::forms`]; this file only draws them as
//! card inputs and reads the submitted data back. Every input's id is `{verb}.{field}`, unique
//! across a card that holds several forms in `Action.ShowCard`s. A form shown again with errors
//! keeps what the person typed (each input's `value`), and every text shown on it is a literal
//! text run (see [`cards`]), so it shows as written.

use super::cards::{self, Look};
use crate::chat::forms::{
    Field, FieldKind, FormErrors, FormSpec, Values, WHOLE_FORM, join_date_time,
};
use serde_json::{Value, json};

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

/// The input id of a field on a card.
pub fn input_id(form: &str, field: &str) -> String {
    format!("{form}.{field}")
}

fn small_text(text: &str) -> Value {
    cards::plain(text, Look::SMALL)
}

fn error_text(text: &str) -> Value {
    cards::plain(
        text,
        Look {
            color: Some("attention"),
            size: Some("small"),
            ..Look::default()
        },
    )
}

/// The card inputs of one field, with what was typed and any error under it.
fn field_inputs(
    spec: &FormSpec,
    f: &Field,
    values: &Values,
    errors: &FormErrors,
    out: &mut Vec<Value>,
) {
    let id = input_id(&spec.name, &f.id);
    let value = values.get(&f.id).filter(|v| !v.is_empty());
    // Teams marks required inputs itself; optional ones say so in their label.
    let missing = f.missing_text();
    let mut with_common = |mut input: Value, label: &str, required: bool| {
        input["label"] = json!(if required || f.required {
            label.to_string()
        } else {
            format!("{label} (optional)")
        });
        input["isRequired"] = json!(required);
        if required {
            input["errorMessage"] = json!(missing);
        }
        out.push(input);
    };
    match f.kind {
        FieldKind::Text | FieldKind::Textarea => {
            let mut input = json!({
                "type": "Input.Text",
                "id": id,
                "isMultiline": f.kind == FieldKind::Textarea,
                "maxLength": f.max_length.unwrap_or(crate::chat::forms::TEXT_MAX),
            });
            if let Some(v) = value {
                input["value"] = json!(v);
            }
            with_common(input, &f.label, f.required);
        }
        FieldKind::Select | FieldKind::Radios => {
            let choices: Vec<Value> = f
                .all_choices()
                .take(100)
                .map(|c| json!({ "title": c.label, "value": c.value }))
                .collect();
            let mut input = json!({
                "type": "Input.ChoiceSet",
                "id": id,
                "style": if f.kind == FieldKind::Radios { "expanded" } else { "compact" },
                // A long choice (a step's name) wraps rather than being cut short on a phone.
                "wrap": true,
                "choices": choices,
            });
            if let Some(v) = value {
                input["value"] = json!(v);
            }
            with_common(input, &f.label, f.required);
        }
        FieldKind::DateTime => {
            // Teams has no single date-and-time input: a date and a time, joined when read.
            let (date, time) = value
                .and_then(|v| v.split_once('T'))
                .map_or((None, None), |(d, t)| {
                    (Some(d.to_string()), Some(t.to_string()))
                });
            let mut d = json!({ "type": "Input.Date", "id": format!("{id}.date") });
            if let Some(v) = date.filter(|v| !v.is_empty()) {
                d["value"] = json!(v);
            }
            with_common(d, &format!("{} — date", f.label), f.required);
            let mut t = json!({ "type": "Input.Time", "id": format!("{id}.time") });
            if let Some(v) = time.filter(|v| !v.is_empty()) {
                t["value"] = json!(v);
            }
            with_common(t, &format!("{} — time", f.label), false);
        }
    }
    if let Some(h) = &f.hint {
        out.push(small_text(h));
    }
    for c in f.all_choices() {
        if let Some(d) = &c.detail {
            out.push(small_text(&format!("{}: {d}", c.label)));
        }
    }
    if let Some(e) = errors.get(&f.id) {
        out.push(error_text(e));
    }
}

/// The inputs of a form (for an `Action.ShowCard` or a form card), with values kept and errors
/// shown under their inputs; the procedure's words come first.
pub fn inputs(spec: &FormSpec, values: &Values, errors: &FormErrors) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(e) = errors.get(WHOLE_FORM) {
        out.push(error_text(e));
    }
    for note in &spec.notes {
        out.push(small_text(note));
    }
    for f in &spec.fields {
        field_inputs(spec, f, values, errors, &mut out);
    }
    out
}

/// The form's submit action; `form_id` ties a raise form's submissions together.
pub fn submit(spec: &FormSpec, card: CardKind, form_id: Option<&str>) -> Value {
    let reference = spec.reference.as_deref().unwrap_or("");
    let mut data = cards::action_data(&spec.name, reference, card);
    if let Some(id) = form_id {
        data["form_id"] = json!(id);
    }
    cards::execute(&spec.name, &spec.submit, data, true)
}

/// A card holding one form: the raise form, a form asked for by a typed command, or a form shown
/// again with its errors. `card` is the kind of card the form replaces, carried so a later
/// success can put the right card back.
pub fn form_card(
    spec: &FormSpec,
    values: &Values,
    errors: &FormErrors,
    card: CardKind,
    form_id: Option<&str>,
) -> Value {
    let heading = match &spec.reference {
        Some(r) => format!("{r} · {}", spec.title),
        None => spec.title.clone(),
    };
    let mut body = vec![
        cards::plain(
            &heading,
            Look {
                bold: true,
                size: Some("medium"),
                ..Look::default()
            },
        ),
        small_text(&spec.intro),
    ];
    if !errors.is_empty() {
        body.push(error_text(
            "Please check the form: what needs changing is shown below.",
        ));
    }
    body.extend(inputs(spec, values, errors));
    json!({
        "type": "AdaptiveCard",
        "$schema": cards::CARD_SCHEMA,
        "version": cards::CARD_VERSION,
        "fallbackText": cards::plain_summary(
            &format!("{}: this form needs a newer Teams client.", spec.title),
            300,
        ),
        "body": body,
        "actions": [submit(spec, card, form_id)],
    })
}

/// The values of a form from submitted data (Teams merges the inputs into the action's data,
/// keyed by input id); a date and a time typed apart are joined; blank values are left out.
pub fn values_from(form: &str, data: &Value) -> Values {
    let mut out = Values::new();
    let prefix = format!("{form}.");
    let Some(object) = data.as_object() else {
        return out;
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut dates: std::collections::BTreeMap<String, (Option<String>, Option<String>)> =
        Default::default();
    for (key, value) in object {
        let Some(field) = key.strip_prefix(&prefix) else {
            continue;
        };
        let Some(v) = text(value) else { continue };
        if let Some(f) = field.strip_suffix(".date") {
            dates.entry(f.to_string()).or_default().0 = Some(v);
        } else if let Some(f) = field.strip_suffix(".time") {
            dates.entry(f.to_string()).or_default().1 = Some(v);
        } else if !v.is_empty() {
            out.insert(field.to_string(), v);
        }
    }
    for (field, (d, t)) in dates {
        if let Some(v) = join_date_time(d.as_deref(), t.as_deref()) {
            out.insert(field, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submitted_data_is_read_by_field_and_dates_are_joined() {
        let data = json!({
            "verb": "add_note",
            "reference": "NSAB-2026-0012",
            "add_note.note": "  met by phone ",
            "add_note.how": "phone",
            "add_note.held_at.date": "2026-06-01",
            "add_note.held_at.time": "09:40:00",
            "escalate.reason": "another form's input",
            "add_note.empty": "",
        });
        let v = values_from("add_note", &data);
        assert_eq!(v.get("note").map(String::as_str), Some("met by phone"));
        assert_eq!(v.get("how").map(String::as_str), Some("phone"));
        assert_eq!(
            v.get("held_at").map(String::as_str),
            Some("2026-06-01T09:40")
        );
        assert!(!v.contains_key("reason") && !v.contains_key("empty"));
    }
}
