//! Replies to one thread that wait for their channel's turn, combined into one post.
//!
//! A busy dispute can queue several notes for a thread while Slack holds the channel to about
//! one post a second. Posting them one by one floods the channel; posting them as one reply,
//! each with its time, in the order they were recorded, says the same. Only plain history is
//! combined: a reply that asks for something (a stage prompt, an urgent warning, buttons) keeps
//! a post of its own, and so does every root, status rewrite, notice, direct message and
//! private answer. Combining happens here, on the platform-neutral message, so Slack, Teams and
//! the sandbox render a combined reply like any other.

use super::message::{Delivery, Line, Message, MessageKind, Span, Target};
use chrono::{DateTime, Utc};

/// The most replies one post carries, so it stays well inside every platform's size limits
/// (Slack: 50 blocks; Teams: about 28 KB a card).
pub const MAX_COMBINED: usize = 10;

/// The most text one combined post carries, in characters, counting every reply's lines.
const MAX_TEXT: usize = 8_000;

/// Whether a post may share a post with the replies next to it in its thread: a plain reply in a
/// thread that shows history and asks nothing.
pub fn combinable(target: &Target, message: &Message) -> bool {
    matches!(target.delivery, Delivery::Reply { .. })
        && message.kind == MessageKind::Update
        && message.buttons.is_empty()
        && message.commands.is_empty()
        && message.prompt.is_none()
        && message.urgent.is_none()
}

fn text_len(message: &Message) -> usize {
    message
        .lines
        .iter()
        .flat_map(|l| {
            l.label
                .iter()
                .map(String::as_str)
                .chain(l.spans.iter().map(span_text))
        })
        .map(|t| t.chars().count())
        .sum()
}

fn span_text(span: &Span) -> &str {
    match span {
        Span::Text { text } => text,
        Span::Mention { name, .. } => name,
    }
}

/// Which of the posts queued behind the first of `parts` (in its lane, in order, each with
/// where it goes) go out with it as one post, by their index in `parts`: the combinable
/// replies to the same thread that follow it, within the limits. A rewrite of the thread's
/// root between them is stepped over (it shows the latest state whenever it goes, and adds no
/// message); anything else ends the run.
pub fn joining(parts: &[(&Target, &Message)]) -> Vec<usize> {
    let Some((first_target, first)) = parts.first() else {
        return Vec::new();
    };
    if !combinable(first_target, first) {
        return Vec::new();
    }
    let root_of_thread = |target: &Target| {
        target.platform == first_target.platform
            && target.workspace == first_target.workspace
            && matches!((&target.delivery, &first_target.delivery),
                (Delivery::UpdateRoot { channel: a }, Delivery::Reply { channel: b }) if a == b)
    };
    let mut text = text_len(first);
    let mut out = Vec::new();
    for (i, (target, message)) in parts.iter().enumerate().skip(1) {
        if root_of_thread(target) {
            continue;
        }
        text += text_len(message);
        if out.len() + 1 == MAX_COMBINED
            || *target != *first_target
            || message.reference != first.reference
            || !combinable(target, message)
            || text > MAX_TEXT
        {
            break;
        }
        out.push(i);
    }
    out
}

/// One reply carrying several, in order: each one's lines, its first line headed with when it
/// was recorded (UK time), so who said what and when stays as it was. The header and status
/// are the latest reply's, the small print every reply's (once each). One reply is returned as
/// it is.
pub fn combine(parts: &[(DateTime<Utc>, Message)]) -> Option<Message> {
    let (_, first) = parts.first()?;
    let (_, last) = parts.last()?;
    if parts.len() == 1 {
        return Some(first.clone());
    }
    let mut lines = Vec::new();
    let mut footer: Vec<String> = Vec::new();
    for (at, message) in parts {
        let stamp = format!("{} · ", crate::calendar::format_uk_short(*at));
        let mut own = message.lines.iter();
        match own.next() {
            Some(line) => {
                let mut spans = vec![Span::text(stamp)];
                spans.extend(line.spans.iter().cloned());
                lines.push(Line {
                    label: line.label.clone(),
                    spans,
                });
            }
            None => lines.push(Line {
                label: None,
                spans: vec![Span::text(stamp.trim_end_matches(" · ").to_string())],
            }),
        }
        lines.extend(own.cloned());
        for f in &message.footer {
            if !footer.contains(f) {
                footer.push(f.clone());
            }
        }
    }
    Some(Message {
        kind: MessageKind::Update,
        reference: first.reference.clone(),
        title: last.title.clone(),
        status: last.status.clone(),
        fallback: parts
            .iter()
            .enumerate()
            .map(|(i, (_, m))| {
                // Each reply's own line, without the header every one of them starts with.
                let own = m
                    .fallback
                    .strip_prefix(&format!("{}: ", m.title))
                    .unwrap_or(&m.fallback);
                if i == 0 {
                    format!("{}: {own}", last.title)
                } else {
                    own.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" · "),
        urgent: None,
        lines,
        prompt: None,
        footer,
        buttons: Vec::new(),
        commands: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{PersonId, Platform};
    use crate::escalation::Verb;
    use crate::posts::Button;

    fn reply() -> Target {
        Target {
            platform: Platform::Slack,
            workspace: "T0".into(),
            delivery: Delivery::Reply {
                channel: "C0".into(),
            },
        }
    }

    fn note(text: &str) -> Message {
        Message {
            kind: MessageKind::Update,
            reference: "NSAB-2026-0001".into(),
            title: "NSAB-2026-0001 · Stage 1".into(),
            status: "Due Mon 8 Jun, 17:00".into(),
            fallback: format!("NSAB-2026-0001: {text}"),
            urgent: None,
            lines: vec![Line {
                label: None,
                spans: vec![Span::text(text)],
            }],
            prompt: None,
            footer: vec!["Record this in your own case record.".into()],
            buttons: Vec::new(),
            commands: Vec::new(),
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 6, 8, 9, minute, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn notes_are_combined_in_order_each_with_its_time_and_words() {
        let parts: Vec<(DateTime<Utc>, Message)> = (0..3)
            .map(|i| (at(i), note(&format!("Note from Sam Patel: point {i}"))))
            .collect();
        let combined = combine(&parts).unwrap_or_else(|| note("missing"));
        let texts: Vec<String> = combined
            .lines
            .iter()
            .map(|l| l.spans.iter().map(span_text).collect::<String>())
            .collect();
        assert_eq!(
            texts,
            vec![
                "Mon 8 Jun, 10:00 · Note from Sam Patel: point 0",
                "Mon 8 Jun, 10:01 · Note from Sam Patel: point 1",
                "Mon 8 Jun, 10:02 · Note from Sam Patel: point 2",
            ]
        );
        assert_eq!(combined.footer.len(), 1, "the same small print once");
        assert!(combined.buttons.is_empty() && combined.prompt.is_none());
    }

    #[test]
    fn a_mention_in_a_combined_reply_stays_a_mention() {
        let mut m = note("Still waiting for ");
        m.lines[0].spans.push(Span::Mention {
            person: PersonId("jordan-reid".into()),
            name: "Jordan Reid".into(),
        });
        let combined = combine(&[(at(0), note("a")), (at(1), m)]).unwrap_or_else(|| note("x"));
        assert!(
            combined.lines[1]
                .spans
                .iter()
                .any(|s| matches!(s, Span::Mention { .. }))
        );
    }

    #[test]
    fn only_plain_replies_to_the_same_thread_are_combined() {
        let t = reply();
        let plain = note("a");
        let mut prompt = note("b");
        prompt.prompt = Some("Talk to the other agency.".into());
        let mut buttons = note("c");
        buttons.buttons.push(Button {
            action: Verb::Acknowledge,
            label: "Acknowledge".into(),
            reference: "NSAB-2026-0001".into(),
            primary: true,
            form: None,
        });
        let root = Target {
            delivery: Delivery::Root {
                channel: "C0".into(),
            },
            ..reply()
        };
        let other = Target {
            delivery: Delivery::Reply {
                channel: "C1".into(),
            },
            ..reply()
        };
        let update = Target {
            delivery: Delivery::UpdateRoot {
                channel: "C0".into(),
            },
            ..reply()
        };
        let none: Vec<usize> = Vec::new();
        assert_eq!(joining(&[(&t, &plain), (&t, &plain), (&t, &plain)]), [1, 2]);
        assert_eq!(
            joining(&[(&t, &plain), (&update, &plain), (&t, &plain)]),
            [2],
            "a rewrite of the root is stepped over"
        );
        assert_eq!(joining(&[(&t, &plain), (&t, &prompt), (&t, &plain)]), none);
        assert_eq!(joining(&[(&t, &plain), (&t, &plain), (&t, &buttons)]), [1]);
        assert_eq!(joining(&[(&root, &plain), (&t, &plain)]), none);
        assert_eq!(
            joining(&[(&t, &plain), (&root, &plain), (&t, &plain)]),
            none
        );
        assert_eq!(joining(&[(&t, &plain), (&other, &plain)]), none);
        assert_eq!(joining(&[(&t, &buttons), (&t, &plain)]), none);
    }

    #[test]
    fn a_combined_post_is_capped() {
        let t = reply();
        let plain = note("a");
        let many: Vec<(&Target, &Message)> = (0..30).map(|_| (&t, &plain)).collect();
        assert_eq!(joining(&many).len() + 1, MAX_COMBINED);
        let long = note(&"x".repeat(MAX_TEXT / 2 + 1));
        assert!(joining(&[(&t, &long), (&t, &long), (&t, &long)]).is_empty());
    }
}
