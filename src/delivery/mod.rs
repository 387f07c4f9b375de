//! The delivery worker: claims outbox rows and posts them through each platform's adapter.
//!
//! Posts never happen inside a request. A slow or failing platform delays posts; it never loses
//! one (rows stay in the outbox until sent or parked), never duplicates one (a root post is
//! recorded as a `thread_opened` event before its row is marked sent, and a re-claimed root
//! whose thread is already recorded is not posted again), and never blocks an acknowledgement.

mod backoff;

pub use backoff::backoff;

use crate::directory::Platform;
use crate::escalation::{EventBody, Reference, ThreadRef};
use crate::posts::{Delivery, Message, Target};
use crate::service::{Outbox, Service};
use crate::store::OutboxRow;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// What a platform answered when a post went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The platform's id of the new post (Slack `ts`, Teams activity id, sandbox id).
    pub id: String,
    /// For a root post: how later replies find the thread.
    pub thread: Option<String>,
}

/// Why a post did not go out, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("temporary failure: {0}")]
    Retry(String),
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl PostError {
    /// A short label for metrics (`channel_not_found`, `rate_limited`, `transient`, …).
    pub fn label(&self) -> String {
        match self {
            PostError::Retry(_) => "transient".into(),
            PostError::RateLimited(_) => "rate_limited".into(),
            PostError::Permanent(code) => code
                .split([' ', ':'])
                .next()
                .unwrap_or("permanent")
                .to_string(),
        }
    }
}

/// The future a platform adapter returns for one post.
pub type PostFuture<'a> = Pin<Box<dyn Future<Output = Result<Posted, PostError>> + Send + 'a>>;

/// A platform's way of posting a message to a target. `thread` is the thread id recorded for
/// the target's channel (for replies and root updates).
pub trait Poster: Send + Sync {
    /// Posts one message.
    fn post<'a>(
        &'a self,
        target: &'a Target,
        message: &'a Message,
        thread: Option<&'a str>,
    ) -> PostFuture<'a>;
}

/// Counters the worker reports, read by `/metrics`.
pub trait DeliveryObserver: Send + Sync {
    /// A post went out.
    fn sent(&self, platform: Platform);
    /// A post failed (retried or parked).
    fn failed(&self, platform: Platform, error: &str, parked: bool);
}

/// An observer that records nothing.
#[derive(Debug, Default)]
pub struct NoObserver;

impl DeliveryObserver for NoObserver {
    fn sent(&self, _: Platform) {}
    fn failed(&self, _: Platform, _: &str, _: bool) {}
}

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Who this worker is, in leases (unique per process).
    pub owner: String,
    /// How long a claimed row is ours before another worker may take it.
    pub lease: Duration,
    /// How many rows to claim at a time.
    pub batch: i64,
    /// How long to wait when there is nothing to do.
    pub idle: Duration,
    /// The least time between two posts to one channel (Slack: about one a second).
    pub channel_spacing: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
            lease: Duration::from_secs(60),
            batch: 25,
            idle: Duration::from_millis(200),
            channel_spacing: Duration::from_millis(1000),
        }
    }
}

/// The delivery worker.
pub struct Worker {
    service: Arc<Service>,
    /// The outbox rows this worker claims and settles; the record is written only through
    /// `service` (a root's thread, a notice about a parked post).
    outbox: Outbox,
    posters: HashMap<Platform, Arc<dyn Poster>>,
    observer: Arc<dyn DeliveryObserver>,
    config: WorkerConfig,
    /// When each channel (platform, workspace, channel) may next be posted to.
    next_slot: Mutex<HashMap<(Platform, String, String), DateTime<Utc>>>,
    /// Workspaces a platform told us to leave alone until a time (HTTP 429).
    paused: Mutex<HashMap<(Platform, String), DateTime<Utc>>>,
}

impl Worker {
    /// A worker posting through the given adapters.
    pub fn new(
        service: Arc<Service>,
        posters: HashMap<Platform, Arc<dyn Poster>>,
        observer: Arc<dyn DeliveryObserver>,
        config: WorkerConfig,
    ) -> Worker {
        Worker {
            outbox: service.outbox(),
            service,
            posters,
            observer,
            config,
            next_slot: Mutex::new(HashMap::new()),
            paused: Mutex::new(HashMap::new()),
        }
    }

    /// Runs until `shutdown` turns true, finishing the row in hand first.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let worked = match self.tick().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "delivery: cannot claim outbox rows");
                    false
                }
            };
            if !worked {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.idle) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// Claims and handles one batch; returns how many rows were handled.
    pub async fn tick(&self) -> Result<usize, crate::store::StoreError> {
        let now = self.service.now();
        let rows = self
            .outbox
            .claim(
                &self.config.owner,
                now,
                self.config.lease,
                self.config.batch,
            )
            .await?;
        let n = rows.len();
        // Posts to a slow platform can outlast the lease on a batch; a row whose lease might run
        // out while it is being posted is handed back instead, so another worker that claims it
        // then never posts it a second time. Half the lease leaves room for a post's HTTP timeouts.
        // Measured on the service's clock, the one the store's leases are written in. The first
        // row is always handled, so a batch always makes progress.
        let lease = chrono::Duration::from_std(self.config.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        let hand_back_from = now + lease / 2;
        for (i, row) in rows.into_iter().enumerate() {
            let at = self.service.now();
            if i > 0 && at >= hand_back_from {
                if let Err(e) = self
                    .outbox
                    .wait(
                        row.id,
                        &self.config.owner,
                        "handed back before its lease ran out",
                        at,
                    )
                    .await
                {
                    tracing::warn!(error = %e, "delivery: cannot hand back an outbox row");
                }
                continue;
            }
            if let Err(e) = self.handle(row).await {
                tracing::warn!(error = %e, "delivery: cannot record the outcome of a post");
            }
        }
        Ok(n)
    }

    async fn handle(&self, row: OutboxRow) -> Result<(), crate::store::StoreError> {
        let outbox = &self.outbox;
        let owner = &self.config.owner;
        let now = self.service.now();
        let (target, message) = match (
            serde_json::from_value::<Target>(row.target.clone()),
            serde_json::from_value::<Message>(row.payload.clone()),
        ) {
            (Ok(t), Ok(m)) => (t, m),
            _ => {
                outbox
                    .park(row.id, owner, "unreadable outbox row", now)
                    .await?;
                return Ok(());
            }
        };
        let platform = target.platform;
        let Some(poster) = self.posters.get(&platform).cloned() else {
            let why = format!("no {platform} connection is configured for this service");
            self.observer.failed(platform, "not_configured", true);
            outbox.park(row.id, owner, &why, now).await?;
            return Ok(());
        };
        if let Some(until) = self.paused_until(platform, &target.workspace, now) {
            outbox
                .wait(row.id, owner, "waiting out a rate limit", until)
                .await?;
            return Ok(());
        }
        let channel = match &target.delivery {
            Delivery::Root { channel }
            | Delivery::Reply { channel }
            | Delivery::UpdateRoot { channel }
            | Delivery::Notice { channel } => Some(channel.clone()),
            _ => None,
        };
        if let Some(channel) = &channel
            && let Some(slot) = self.slot(platform, &target.workspace, channel, now)
        {
            outbox
                .wait(row.id, owner, "pacing posts to this channel", slot)
                .await?;
            return Ok(());
        }
        let thread = match (&target.delivery, &channel) {
            (
                Delivery::Root { .. } | Delivery::Reply { .. } | Delivery::UpdateRoot { .. },
                Some(channel),
            ) => {
                outbox
                    .thread(
                        &row.reference,
                        &platform.to_string(),
                        &target.workspace,
                        channel,
                    )
                    .await?
            }
            _ => None,
        };
        match (&target.delivery, &thread) {
            (Delivery::Root { .. }, Some(existing)) => {
                // Posted before a crash, or by another worker: never post the root twice.
                outbox.sent(row.id, owner, existing, now).await?;
                return Ok(());
            }
            (Delivery::Reply { .. } | Delivery::UpdateRoot { .. }, None) => {
                // The lane keeps replies behind their root; a missing thread means the root was parked.
                let why = "the dispute's root post in this channel could not be made, so there is no thread to reply in";
                self.observer.failed(platform, "no_thread", true);
                outbox.park(row.id, owner, why, now).await?;
                return Ok(());
            }
            _ => {}
        }
        match poster.post(&target, &message, thread.as_deref()).await {
            Ok(posted) => {
                if let (Delivery::Root { channel }, Some(thread)) =
                    (&target.delivery, &posted.thread)
                    && let Ok(reference) = Reference::parse(&row.reference)
                {
                    let opened = EventBody::ThreadOpened {
                        thread: ThreadRef {
                            platform,
                            workspace: target.workspace.clone(),
                            channel: channel.clone(),
                            thread: thread.clone(),
                        },
                    };
                    if let Err(e) = self.service.record(&reference, opened).await {
                        tracing::warn!(error = %e, reference = %row.reference, "delivery: posted a root but could not record its thread");
                    }
                }
                self.observer.sent(platform);
                outbox
                    .sent(row.id, owner, &posted.id, self.service.now())
                    .await?;
            }
            Err(PostError::RateLimited(after)) => {
                let until = now
                    + chrono::Duration::from_std(after)
                        .unwrap_or_else(|_| chrono::Duration::seconds(1));
                self.pause(platform, &target.workspace, until);
                self.observer.failed(platform, "rate_limited", false);
                outbox
                    .wait(row.id, owner, "rate limited by the platform", until)
                    .await?;
            }
            Err(PostError::Retry(why)) => {
                let wait = backoff(row.attempts);
                let at = now
                    + chrono::Duration::from_std(wait)
                        .unwrap_or_else(|_| chrono::Duration::seconds(5));
                self.observer.failed(platform, "transient", false);
                outbox.retry(row.id, owner, &why, at).await?;
            }
            Err(e @ PostError::Permanent(_)) => {
                self.observer.failed(platform, &e.label(), true);
                tracing::error!(reference = %row.reference, target = %target.key(), error = %e, "delivery: parked a post that cannot succeed");
                outbox.park(row.id, owner, &e.to_string(), now).await?;
                self.report_parked(&row, &target, &e.label(), now).await;
            }
        }
        Ok(())
    }

    /// Tells the board's own channel that a post about a dispute was parked, so people find out
    /// that an agency's thread is missing an update. Never for a notice or a private answer:
    /// a broken board channel must not cause notices about notices.
    async fn report_parked(&self, row: &OutboxRow, target: &Target, why: &str, now: DateTime<Utc>) {
        if matches!(
            target.delivery,
            Delivery::Notice { .. } | Delivery::Receipt { .. }
        ) {
            return;
        }
        let Ok(reference) = Reference::parse(&row.reference) else {
            return;
        };
        let Ok(dispute) = self.service.dispute(&reference).await else {
            return;
        };
        let dir = self.service.directory();
        let Ok(scene) = self.service.scene(&dispute.policy, &dir) else {
            return;
        };
        let policy = scene.policy;
        let dir = &*dir;
        let place = match &target.delivery {
            Delivery::Direct { person, .. } => format!(
                "a direct message to {}",
                crate::posts::compose::role_and_agency(policy, dir, person)
            ),
            Delivery::Root { channel }
            | Delivery::Reply { channel }
            | Delivery::UpdateRoot { channel } => dir
                .agencies()
                .flat_map(|a| a.channels.iter().map(move |c| (a, c)))
                .find(|(_, c)| {
                    c.platform == target.platform
                        && c.workspace == target.workspace
                        && &c.channel == channel
                })
                .map_or_else(
                    || format!("channel {channel}"),
                    |(a, c)| format!("{}'s channel {}", a.name, c.name),
                ),
            Delivery::Notice { .. } | Delivery::Receipt { .. } => return,
        };
        let text = format!(
            "A post about {reference} could not be delivered to {place} on {} ({why}). The record is complete; ask the agency's administrator to check that escalation-bot is installed there.",
            target.platform
        );
        let title = crate::posts::compose::title(policy, &dispute);
        let message = Message {
            kind: crate::posts::MessageKind::Notice,
            reference: reference.to_string(),
            fallback: format!("{title}: {text}"),
            title,
            status: crate::posts::compose::status(&scene, &dispute),
            urgent: None,
            lines: vec![crate::posts::Line {
                label: None,
                spans: vec![crate::posts::Span::text(text)],
            }],
            prompt: None,
            footer: Vec::new(),
            buttons: Vec::new(),
        };
        let rows: Vec<crate::store::NewOutbox> = dir
            .board_agencies(&policy.id)
            .flat_map(|b| b.channels.iter())
            .map(|c| {
                let notice = Target {
                    platform: c.platform,
                    workspace: c.workspace.clone(),
                    delivery: Delivery::Notice {
                        channel: c.channel.clone(),
                    },
                };
                crate::posts::fanout::outbox_row(
                    format!("parked:{}:{}", row.idempotency_key, notice.key()),
                    notice.lane(&row.reference),
                    &notice,
                    &message,
                    now,
                )
            })
            .collect();
        if let Err(e) = self.outbox.add(&row.reference, &rows, now).await {
            tracing::warn!(error = %e, reference = %row.reference, "delivery: cannot tell the board about a parked post");
        }
    }

    fn paused_until(
        &self,
        platform: Platform,
        workspace: &str,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let paused = self.paused.lock().unwrap_or_else(|p| p.into_inner());
        paused
            .get(&(platform, workspace.to_string()))
            .copied()
            .filter(|until| *until > now)
    }

    fn pause(&self, platform: Platform, workspace: &str, until: DateTime<Utc>) {
        let mut paused = self.paused.lock().unwrap_or_else(|p| p.into_inner());
        paused.insert((platform, workspace.to_string()), until);
    }

    /// None when the channel may be posted to now (and books the slot); else when it may.
    fn slot(
        &self,
        platform: Platform,
        workspace: &str,
        channel: &str,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if platform == Platform::Sandbox || self.config.channel_spacing.is_zero() {
            return None;
        }
        let spacing = chrono::Duration::from_std(self.config.channel_spacing)
            .unwrap_or_else(|_| chrono::Duration::seconds(1));
        let mut slots = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
        let key = (platform, workspace.to_string(), channel.to_string());
        match slots.get(&key) {
            Some(next) if *next > now => Some(*next),
            _ => {
                slots.insert(key, now + spacing);
                None
            }
        }
    }
}
