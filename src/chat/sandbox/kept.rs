//! The sandbox's own state: the posts the delivery worker made on its page, and how far the demo
//! clock was moved, kept in the service's adapter state so a restart shows the same page.

use crate::service::{AdapterState, Service};
use crate::store::StoreError;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The sandbox's name in the adapter state.
const ADAPTER: &str = "sandbox";
/// Post keys are `post:` and the post's number, zero-padded so key order is posting order.
const POST: &str = "post:";
/// The counter that numbers posts.
const POSTS: &str = "posts";
/// The demo clock's lead on real time, in microseconds.
const CLOCK: &str = "clock_offset_us";

/// One message as the delivery worker posted it on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPost {
    /// Its number, in posting order; also the thread id of a root post.
    pub id: i64,
    /// `root`, `reply`, `notice`, `direct` or `receipt`.
    pub kind: String,
    pub reference: String,
    /// The agency id whose sandbox channel it is in (none for a direct message).
    pub channel: Option<String>,
    /// For a reply, the number of its root post.
    pub thread: Option<i64>,
    /// For a direct message or a receipt, the only person who sees it.
    pub person: Option<String>,
    /// The platform-neutral message, as posted (a root's latest version).
    pub message: serde_json::Value,
    pub posted_at: DateTime<Utc>,
    /// When a root was last rewritten in place (the posting time otherwise).
    pub updated_at: DateTime<Utc>,
    /// How many versions a root has had (1 until updated).
    pub revision: i64,
}

/// A post as it is kept (times in microseconds, like the record's).
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    kind: String,
    reference: String,
    channel: Option<String>,
    thread: Option<i64>,
    person: Option<String>,
    message: serde_json::Value,
    posted_us: i64,
    updated_us: i64,
    revision: i64,
    /// The outbox row it was posted for, so a post whose outcome was lost is found, not repeated.
    #[serde(default)]
    outbox_key: Option<String>,
}

/// A post to add to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    pub kind: String,
    pub reference: String,
    pub channel: Option<String>,
    pub thread: Option<i64>,
    pub person: Option<String>,
    pub message: serde_json::Value,
    pub at: DateTime<Utc>,
    /// The outbox row it is posted for.
    pub outbox_key: Option<String>,
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

fn key(id: i64) -> String {
    format!("{POST}{id:012}")
}

/// The sandbox's posts and demo clock, kept through the service.
#[derive(Debug, Clone)]
pub struct SandboxKept {
    state: AdapterState,
}

impl SandboxKept {
    /// The sandbox's corner of the service's adapter state.
    pub fn of(service: &Service) -> SandboxKept {
        SandboxKept {
            state: service.adapter_state(ADAPTER),
        }
    }

    /// Adds a post and returns its number.
    pub async fn add(&self, post: &NewPost) -> Result<i64, StoreError> {
        let id = self.state.next(POSTS).await?;
        let kept = Kept {
            kind: post.kind.clone(),
            reference: post.reference.clone(),
            channel: post.channel.clone(),
            thread: post.thread,
            person: post.person.clone(),
            message: post.message.clone(),
            posted_us: micros(post.at),
            updated_us: micros(post.at),
            revision: 1,
            outbox_key: post.outbox_key.clone(),
        };
        self.state.put(&key(id), &kept).await?;
        Ok(id)
    }

    /// Rewrites a root post in place; false when there is no such root.
    pub async fn update_root(
        &self,
        id: i64,
        message: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(mut kept) = self.state.get::<Kept>(&key(id)).await? else {
            return Ok(false);
        };
        if kept.kind != "root" {
            return Ok(false);
        }
        kept.message = message.clone();
        kept.updated_us = micros(at);
        kept.revision += 1;
        self.state.put(&key(id), &kept).await?;
        Ok(true)
    }

    /// The number and kind of the post made for an outbox row, if one was.
    pub async fn posted_for(&self, outbox_key: &str) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .state
            .list::<Kept>(POST)
            .await?
            .into_iter()
            .find(|(_, k)| k.outbox_key.as_deref() == Some(outbox_key))
            .and_then(|(key, k)| {
                let id = key.strip_prefix(POST)?.parse().ok()?;
                Some((id, k.kind))
            }))
    }

    /// Every post, in posting order.
    pub async fn posts(&self) -> Result<Vec<SandboxPost>, StoreError> {
        self.state
            .list::<Kept>(POST)
            .await?
            .into_iter()
            .map(|(key, k)| {
                let id = key
                    .strip_prefix(POST)
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("a sandbox post is kept as {key:?}"))
                    })?;
                Ok(SandboxPost {
                    id,
                    kind: k.kind,
                    reference: k.reference,
                    channel: k.channel,
                    thread: k.thread,
                    person: k.person,
                    message: k.message,
                    posted_at: from_micros(k.posted_us),
                    updated_at: from_micros(k.updated_us),
                    revision: k.revision,
                })
            })
            .collect()
    }

    /// How far the demo clock was moved ahead of real time, in microseconds (0 if never).
    pub async fn clock_offset(&self) -> Result<i64, StoreError> {
        Ok(self.state.get(CLOCK).await?.unwrap_or(0))
    }

    /// Keeps the demo clock's offset, so a restart resumes at the same demo time.
    pub async fn set_clock_offset(&self, offset_us: i64) -> Result<(), StoreError> {
        self.state.put(CLOCK, &offset_us).await
    }
}
