//! The platform-neutral message: what a post says, before Slack, Teams or the sandbox render it.
//!
//! Everything here is plain text. Renderers carry every text span so that it shows as written
//! on their platform (escaped for Slack's mrkdwn, in literal text runs on Teams), so text people
//! typed can never become a mention, a link or markup; mentions exist only as `Span::Mention`.

use super::forms::FormSpec;
use crate::directory::{PersonId, Platform};
use crate::escalation::Verb;
use serde::{Deserialize, Serialize};

/// What kind of post a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// The dispute's root post in an agency channel; later updated in place.
    Root,
    /// A reply in the dispute's thread.
    Update,
    /// A notice to the board's own channel.
    Notice,
    /// A direct message to one person.
    Direct,
    /// A private answer to the person who acted.
    Receipt,
}

/// A piece of text, or a mention of a person (rendered as the platform's mention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Span {
    Text { text: String },
    Mention { person: PersonId, name: String },
}

impl Span {
    /// A text span.
    pub fn text(s: impl Into<String>) -> Span {
        Span::Text { text: s.into() }
    }
}

/// A labelled line: "Raised by: Social Worker, Norfolk Adult Social Care".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub label: Option<String>,
    pub spans: Vec<Span>,
}

/// A button, carrying the dispute reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub action: Verb,
    pub label: String,
    pub reference: String,
    /// One of the one or two actions the stage expects now ([`crate::escalation::expected`]):
    /// shown up front on every platform; the first is styled as the main action, and the rest
    /// may go behind an overflow menu where space is short.
    pub primary: bool,
    /// The form the button opens, for platforms that draw it inside the post (Teams); the
    /// others open it fresh when the button is pressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<FormSpec>,
}

/// The action id every platform gives a [`CommandButton`]; no verb has it.
pub const COMMAND_ACTION: &str = "command";

/// A button that stands for a typed command (the Board's view: `board`). Pressing it is read
/// back as typing its word, so the grammar is the one mapping and the answer is the same as
/// typing it, for whoever presses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandButton {
    /// What the press stands for, as it would be typed after the command word.
    pub word: String,
    pub label: String,
}

/// A post, platform-neutral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub kind: MessageKind,
    pub reference: String,
    /// "NSAB-2026-0012 · Stage 1 of 4 · Professional to professional"
    pub title: String,
    /// "Due Mon 8 Jun, 17:00", "No fixed limit: …", "Resolved", …
    pub status: String,
    /// The same in one line, for notifications and clients that cannot show the rest.
    pub fallback: String,
    /// The immediate-risk prompt, shown before anything else when the adult is at risk.
    pub urgent: Option<String>,
    pub lines: Vec<Line>,
    /// What the procedure expects now.
    pub prompt: Option<String>,
    /// Small print: formal challenge notice, record-keeping reminder.
    pub footer: Vec<String>,
    pub buttons: Vec<Button>,
    /// Buttons for typed commands, after the verb buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandButton>,
}

/// Where an outbox row goes: a platform, a workspace (Slack team or Teams tenant), and a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub platform: Platform,
    pub workspace: String,
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// How a message is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "delivery", rename_all = "snake_case")]
pub enum Delivery {
    /// Start the dispute's thread in the channel.
    Root { channel: String },
    /// Reply in the dispute's thread in the channel.
    Reply { channel: String },
    /// Rewrite the root post in place.
    UpdateRoot { channel: String },
    /// Post to the board's channel.
    Notice { channel: String },
    /// A direct message to a person (their platform user id).
    Direct { person: PersonId, user: String },
    /// A private answer to a user in a channel.
    Receipt { channel: String, user: String },
}

impl Target {
    /// Posts on one target go out in order: the lane they queue in.
    pub fn lane(&self, reference: &str) -> String {
        let p = self.platform;
        let w = &self.workspace;
        match &self.delivery {
            Delivery::Root { channel }
            | Delivery::Reply { channel }
            | Delivery::UpdateRoot { channel } => {
                format!("thread|{reference}|{p}|{w}|{channel}")
            }
            Delivery::Notice { channel } => format!("notice|{p}|{w}|{channel}"),
            Delivery::Direct { user, .. } => format!("direct|{p}|{w}|{user}"),
            Delivery::Receipt { channel, user } => format!("receipt|{p}|{w}|{channel}|{user}"),
        }
    }

    /// A short name for keys and logs.
    pub fn key(&self) -> String {
        let (kind, at) = match &self.delivery {
            Delivery::Root { channel } => ("root", channel),
            Delivery::Reply { channel } => ("reply", channel),
            Delivery::UpdateRoot { channel } => ("update", channel),
            Delivery::Notice { channel } => ("notice", channel),
            Delivery::Direct { user, .. } => ("direct", user),
            Delivery::Receipt { user, .. } => ("receipt", user),
        };
        format!("{kind}:{}:{}:{at}", self.platform, self.workspace)
    }
}
