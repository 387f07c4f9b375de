//! The sandbox's "platform API": the delivery worker posts here, and the posts are kept in the store.

use super::Changes;
use super::kept::{NewPost, SandboxKept};
use crate::chat::{Delivery, Message, MessageKind, Target};
use crate::delivery::{FindFuture, Found, PostError, PostFuture, Posted, Poster};
use crate::directory::Directory;
use crate::service::Service;
use crate::store::StoreError;
use std::sync::Arc;

/// Posts for the delivery worker into the sandbox's kept posts, the way Slack or Teams would
/// show them: a root starts a thread, replies follow it in order, an update rewrites the root.
#[derive(Clone)]
pub struct SandboxPoster {
    service: Arc<Service>,
    kept: SandboxKept,
    changes: Changes,
}

impl SandboxPoster {
    pub(super) fn new(service: Arc<Service>, changes: Changes) -> SandboxPoster {
        SandboxPoster {
            kept: SandboxKept::of(&service),
            service,
            changes,
        }
    }

    /// The post made for an outbox row whose outcome was lost, if it was made: the sandbox keeps
    /// each post's outbox key with it.
    async fn look(&self, target: &Target, key: &str) -> Result<Found, PostError> {
        if matches!(target.delivery, Delivery::UpdateRoot { .. }) {
            // Rewriting the root again changes nothing.
            return Ok(Found::Absent);
        }
        let found = self.kept.posted_for(key).await.map_err(retry)?;
        Ok(match found {
            Some((id, kind)) => Found::Posted(Posted {
                id: id.to_string(),
                thread: (kind == kind_name(MessageKind::Root)).then(|| id.to_string()),
            }),
            None => Found::Absent,
        })
    }

    async fn deliver(
        &self,
        target: &Target,
        message: &Message,
        thread: Option<&str>,
        key: &str,
    ) -> Result<Posted, PostError> {
        if target.workspace != Directory::SANDBOX_WORKSPACE {
            return Err(PostError::Permanent(format!(
                "unknown_workspace: the sandbox has one workspace, {:?}, not {:?}",
                Directory::SANDBOX_WORKSPACE,
                target.workspace
            )));
        }
        let store = &self.kept;
        let payload = serde_json::to_value(message)
            .map_err(|e| PostError::Permanent(format!("unreadable_message: {e}")))?;
        let now = self.service.now();
        let post = |kind: MessageKind,
                    channel: Option<&str>,
                    thread: Option<i64>,
                    person: Option<&str>| NewPost {
            kind: kind_name(kind).to_string(),
            reference: message.reference.clone(),
            channel: channel.map(str::to_string),
            thread,
            person: person.map(str::to_string),
            message: payload.clone(),
            at: now,
            outbox_key: Some(key.to_string()),
        };
        let root_of = |thread: Option<&str>| -> Result<i64, PostError> {
            thread.and_then(|t| t.parse::<i64>().ok()).ok_or_else(|| {
                PostError::Permanent("no_thread: this channel has no thread for the dispute".into())
            })
        };
        let posted = match &target.delivery {
            Delivery::Root { channel } => {
                let id = store
                    .add(&post(MessageKind::Root, Some(channel), None, None))
                    .await
                    .map_err(retry)?;
                Posted {
                    id: id.to_string(),
                    thread: Some(id.to_string()),
                }
            }
            Delivery::Reply { channel } => {
                let root = root_of(thread)?;
                let id = store
                    .add(&post(MessageKind::Update, Some(channel), Some(root), None))
                    .await
                    .map_err(retry)?;
                Posted {
                    id: id.to_string(),
                    thread: None,
                }
            }
            Delivery::UpdateRoot { .. } => {
                let root = root_of(thread)?;
                if !store
                    .update_root(root, &payload, now)
                    .await
                    .map_err(retry)?
                {
                    return Err(PostError::Permanent(format!(
                        "message_not_found: no root post {root}"
                    )));
                }
                Posted {
                    id: root.to_string(),
                    thread: None,
                }
            }
            Delivery::Notice { channel } => {
                let id = store
                    .add(&post(MessageKind::Notice, Some(channel), None, None))
                    .await
                    .map_err(retry)?;
                Posted {
                    id: id.to_string(),
                    thread: None,
                }
            }
            Delivery::Direct { user, .. } => {
                let id = store
                    .add(&post(MessageKind::Direct, None, None, Some(user)))
                    .await
                    .map_err(retry)?;
                Posted {
                    id: id.to_string(),
                    thread: None,
                }
            }
            Delivery::Receipt { channel, user } => {
                let id = store
                    .add(&post(MessageKind::Receipt, Some(channel), None, Some(user)))
                    .await
                    .map_err(retry)?;
                Posted {
                    id: id.to_string(),
                    thread: None,
                }
            }
        };
        self.changes.bump();
        Ok(posted)
    }
}

/// A store failure is the sandbox's own outage: the worker retries, as it would for Slack.
fn retry(e: StoreError) -> PostError {
    PostError::Retry(format!("the sandbox could not keep the post: {e}"))
}

/// The stored kind of a post, as the page reads it.
fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Root => "root",
        MessageKind::Update => "reply",
        MessageKind::Notice => "notice",
        MessageKind::Direct => "direct",
        MessageKind::Receipt => "receipt",
    }
}

impl Poster for SandboxPoster {
    fn post<'a>(
        &'a self,
        target: &'a Target,
        message: &'a Message,
        thread: Option<&'a str>,
        key: &'a str,
    ) -> PostFuture<'a> {
        Box::pin(self.deliver(target, message, thread, key))
    }

    fn find<'a>(
        &'a self,
        target: &'a Target,
        _thread: Option<&'a str>,
        key: &'a str,
        _since: chrono::DateTime<chrono::Utc>,
    ) -> FindFuture<'a> {
        Box::pin(self.look(target, key))
    }
}
