//! Exactly once on Slack: every post carries its outbox key in Slack message metadata, and a
//! post whose answer never reached us is looked for by that key before it is made again.
//!
//! The key travels as a tag (the first 128 bits of its SHA-256, in hex) under our own event type,
//! so what other apps in the channel can read names nothing. Roots, notices and direct messages
//! are top-level messages, found with `conversations.history`; replies live only in their
//! thread, found with `conversations.replies`. Both are asked for messages since shortly before
//! the attempt in doubt (`oldest`), with `include_all_metadata`.

use super::client::{SlackClient, SlackError};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The metadata event type of every post the service makes.
pub const POST_EVENT_TYPE: &str = "escalation_bot_post";

/// How far before the attempt in doubt to look: room for the clocks of the service and Slack
/// to disagree.
const CLOCK_MARGIN_SECS: i64 = 120;

/// How many pages of history to read at most (200 messages each).
const MAX_PAGES: usize = 10;

/// The tag a post's outbox key is kept under.
pub fn tag(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..16])
}

/// The `metadata` of a post made for an outbox row.
pub fn metadata(key: &str) -> Value {
    json!({
        "event_type": POST_EVENT_TYPE,
        "event_payload": { "outbox_key": tag(key) },
    })
}

/// Slack's `ts` form of an instant, `margin` seconds earlier: "seconds.microseconds".
fn oldest(since: DateTime<Utc>) -> String {
    let at = since - chrono::Duration::seconds(CLOCK_MARGIN_SECS);
    format!("{}.{:06}", at.timestamp(), at.timestamp_subsec_micros())
}

fn carries(message: &Value, tag: &str) -> bool {
    message
        .pointer("/metadata/event_type")
        .and_then(Value::as_str)
        == Some(POST_EVENT_TYPE)
        && message
            .pointer("/metadata/event_payload/outbox_key")
            .and_then(Value::as_str)
            == Some(tag)
}

/// The `ts` of the message posted under `key` in `channel` (in the thread `thread_ts`, for a
/// reply) since `since`, if Slack has it.
pub async fn find(
    client: &SlackClient,
    token: &str,
    channel: &str,
    thread_ts: Option<&str>,
    key: &str,
    since: DateTime<Utc>,
) -> Result<Option<String>, SlackError> {
    let tag = tag(key);
    let oldest = oldest(since);
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let (messages, next) = client
            .history_page(token, channel, thread_ts, &oldest, cursor.as_deref())
            .await?;
        if let Some(ts) = messages
            .iter()
            .filter(|m| carries(m, &tag))
            .find_map(|m| m.get("ts").and_then(Value::as_str))
        {
            return Ok(Some(ts.to_string()));
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(None),
        }
    }
    tracing::warn!(
        channel,
        "slack: an earlier post was looked for through {MAX_PAGES} pages of history and not found"
    );
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_short_stable_and_names_nothing() {
        let key = "cmd:Ev123:slack:T0ASC:root:C0ASCCHAL";
        assert_eq!(tag(key), tag(key));
        assert_eq!(tag(key).len(), 32);
        assert_ne!(tag(key), tag("cmd:Ev123:slack:T0ASC:reply:C0ASCCHAL"));
        assert!(!metadata(key).to_string().contains("T0ASC"));
    }

    #[test]
    fn oldest_is_a_ts_shortly_before_the_attempt() {
        let at = DateTime::parse_from_rfc3339("2026-06-01T08:40:00.25Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(
            oldest(at),
            format!("{}.250000", at.timestamp() - CLOCK_MARGIN_SECS)
        );
    }
}
