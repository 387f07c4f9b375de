//! The delivery worker: claims outbox rows and posts them through each platform's adapter.
//!
//! Posts never happen inside a request. A slow or failing platform delays posts; it never loses
//! one (rows stay in the outbox until sent or parked), and never blocks an acknowledgement.
//!
//! Exactly once: a root post's `thread_opened` event and its row marked sent are one write
//! (where that write fails, the event first, then the row), and a re-claimed root whose thread
//! is already recorded is not posted again. A post
//! whose answer never reached us — the worker died holding the row, or the call timed out or
//! the connection dropped after the request was sent — leaves its row *in doubt*: before
//! posting it again, the worker asks the platform for it ([`Poster::find`]; Slack keeps each
//! post's outbox key in the message's metadata) and, when found, records it as sent.
//!
//! Pacing and rate-limit pauses live in the database ([`pace`]), so replicas share them; a row
//! waiting for its channel's slot holds that slot and is not claimed again until then (nor are
//! the rows queued behind it), and an idle worker sleeps until the next row falls due or rows
//! are queued in its process, looking otherwise only every `idle` for rows another process
//! queued. Replies to one thread that queued up while it waited go out as one post
//! ([`crate::posts::combine`]), under the first row's key, and every row it carries is marked sent
//! with it. Only real failures count towards a row's
//! back-off, and once a workspace answers again after failing, its rows waiting out a back-off
//! go at once (at the channels' pace), so a backlog drains within seconds of a recovery.
//!
//! A workspace whose credentials stop working (the app uninstalled, its token revoked) is held
//! on every replica: its posts are kept, not parked and not retried against the platform, the
//! boards are told once, and installing it again sends them, in order.

mod backoff;
mod pace;

pub use backoff::backoff;

use crate::directory::Platform;
use crate::escalation::{EventBody, Reference, ThreadRef};
use crate::posts::{Delivery, Message, Target, combine};
use crate::service::{Outbox, Service};
use crate::store::OutboxRow;
use chrono::{DateTime, Utc};
use pace::Go;
use std::collections::{HashMap, HashSet};
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
    /// The request was sent but no answer came back (a timeout, a dropped connection): the
    /// platform may have posted it, so the next attempt looks for it first.
    #[error("no answer after sending: {0}")]
    InDoubt(String),
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The workspace's credentials no longer work (the app was uninstalled, its token revoked
    /// or the account deactivated; the platform's code): every post there waits, kept, until
    /// the workspace is installed again.
    #[error("the workspace's access is gone: {0}")]
    AccessGone(String),
}

impl PostError {
    /// A short label for metrics (`channel_not_found`, `rate_limited`, `transient`, …).
    pub fn label(&self) -> String {
        match self {
            PostError::Retry(_) => "transient".into(),
            PostError::InDoubt(_) => "no_answer".into(),
            PostError::RateLimited(_) => "rate_limited".into(),
            PostError::Permanent(code) | PostError::AccessGone(code) => code
                .split([' ', ':'])
                .next()
                .unwrap_or("permanent")
                .to_string(),
        }
    }
}

/// What a platform says about a post made earlier under an outbox key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// It is there: record it as sent, with this id (and thread, for a root).
    Posted(Posted),
    /// It is not there: post it.
    Absent,
    /// The platform offers no way to tell (or re-doing it is harmless): post it.
    Unknowable,
}

/// How long a post kept for a held workspace waits before it looks again whether the hold was
/// lifted. Installing again frees the kept posts at once; this only catches a post that was
/// being handed back at that very moment. No platform call is made while a workspace is held.
const HOLD_RECHECK: Duration = Duration::from_secs(300);

/// What a kept post's row says while its workspace is held.
const HELD_WHY: &str = "kept until escalation-bot is installed again in this workspace";

/// The future a platform adapter returns for one post.
pub type PostFuture<'a> = Pin<Box<dyn Future<Output = Result<Posted, PostError>> + Send + 'a>>;

/// The future a platform adapter returns for a look for an earlier post.
pub type FindFuture<'a> = Pin<Box<dyn Future<Output = Result<Found, PostError>> + Send + 'a>>;

/// A platform's way of posting a message to a target. `thread` is the thread id recorded for
/// the target's channel (for replies and root updates); `key` is the row's outbox key, which a
/// platform that can keep it with the post does, so [`Poster::find`] can look for it.
pub trait Poster: Send + Sync {
    /// Posts one message.
    fn post<'a>(
        &'a self,
        target: &'a Target,
        message: &'a Message,
        thread: Option<&'a str>,
        key: &'a str,
    ) -> PostFuture<'a>;

    /// Looks for a post made under `key` no earlier than `since` (an attempt whose answer never
    /// reached us). Platforms that cannot tell say [`Found::Unknowable`], and the post is made again.
    fn find<'a>(
        &'a self,
        target: &'a Target,
        thread: Option<&'a str>,
        key: &'a str,
        since: DateTime<Utc>,
    ) -> FindFuture<'a> {
        let _ = (target, thread, key, since);
        Box::pin(async { Ok(Found::Unknowable) })
    }
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
    /// The longest an idle worker sleeps before looking for rows another process queued (it
    /// wakes sooner when a waiting row falls due, and at once when rows are queued in its own
    /// process).
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
            idle: Duration::from_secs(2),
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
    /// Workspaces where a post failed since the last one went through: the next success there
    /// releases the rows waiting out a back-off.
    failing: Mutex<HashSet<(Platform, String)>>,
    /// The rows a tick of this worker holds and has not settled yet. A post can outlast its
    /// lease, and then a concurrent tick of this same worker claims the row again under the
    /// same owner; it must leave the row to the tick that has it in flight, or it posts it twice.
    in_flight: Mutex<HashSet<i64>>,
    /// Held while a tick claims rows and sorts out the ones in flight, and while a row is taken
    /// off `in_flight`: so a row is never settled between another tick's claim and its look at
    /// `in_flight`, which would make a settled row look free.
    claiming: tokio::sync::Mutex<()>,
}

/// Takes a row off the worker's rows in flight when its tick lets go of it, settled or not
/// (also when the tick is dropped half-way).
struct InFlight<'a> {
    worker: &'a Worker,
    id: i64,
}

impl InFlight<'_> {
    /// Lets go of a row once it is settled, after any claim running now has seen it in flight.
    async fn settled(self) {
        let _claiming = self.worker.claiming.lock().await;
        drop(self);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.worker
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// Until when a kept post of a held workspace waits before it looks again.
fn held_until(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(HOLD_RECHECK).unwrap_or_else(|_| chrono::Duration::minutes(5))
}

/// The channel a delivery posts into, when it posts into one (not a DM, not a private answer).
fn channel_of(target: &Target) -> Option<&str> {
    match &target.delivery {
        Delivery::Root { channel }
        | Delivery::Reply { channel }
        | Delivery::UpdateRoot { channel }
        | Delivery::Notice { channel } => Some(channel),
        _ => None,
    }
}

/// What a delivery is paced by: its channel, or for a direct message the person's conversation
/// with the bot (named by their user id). Rewriting a root's status adds no message, and a
/// private answer is not one either: neither is paced (rate limits still pause them).
fn paced_by(target: &Target) -> Option<&str> {
    match &target.delivery {
        Delivery::Direct { user, .. } => Some(user),
        Delivery::UpdateRoot { .. } | Delivery::Receipt { .. } => None,
        _ => channel_of(target),
    }
}

/// The pacing row an outbox row's target books its posting slots in (None: nothing paces it).
fn slot_in(target: &serde_json::Value) -> Option<crate::store::PacingRow> {
    serde_json::from_value::<Target>(target.clone())
        .ok()
        .as_ref()
        .and_then(pace::pacing_row)
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
            failing: Mutex::new(HashSet::new()),
            in_flight: Mutex::new(HashSet::new()),
            claiming: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs until `shutdown` turns true, finishing the row in hand first. Between batches it
    /// sleeps until the next row falls due (a posting slot, a retry, a pause's end) or rows are
    /// queued in this process, and at most `idle`, so rows other processes queue are picked up.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        /// How long an idle worker woken by new rows waits for more before claiming.
        const GATHER: Duration = Duration::from_millis(25);
        // Woken by new rows rather than by the time a row falls due: look (a read, which waits
        // for no writer) before claiming (a write), since rows queued behind a lane waiting for
        // its channel's slot are not ready yet.
        let mut look_first = false;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let looked = if look_first {
                Some(self.outbox.next_due().await)
            } else {
                None
            };
            let ready = looked.as_ref().is_none_or(|due| self.ready(due));
            let worked = ready
                && match self.tick().await {
                    Ok(n) => n > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "delivery: cannot claim outbox rows");
                        false
                    }
                };
            // After a batch, claim again at once rather than look first: a look leaves out rows
            // under a lease, so rows whose lease ran out (a replica killed while posting) would
            // wait until the next look for leases.
            look_first = false;
            if !worked {
                // A look that found nothing ready still says when to wake: no second read.
                let due = match looked {
                    Some(due) if !ready => due,
                    _ => self.outbox.next_due().await,
                };
                let nap = self.nap(due);
                tokio::select! {
                    _ = tokio::time::sleep(nap) => {}
                    _ = self.outbox.queued() => {
                        // Rows are being queued: gather what a busy moment queues into one
                        // look, instead of one after every commit.
                        tokio::time::sleep(GATHER).await;
                        look_first = true;
                    }
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// Whether the next row due can be claimed now (a failed look says yes: the claim then
    /// finds out).
    fn ready(&self, due: &Result<Option<DateTime<Utc>>, crate::store::StoreError>) -> bool {
        match due {
            Ok(Some(due)) => *due <= self.service.now(),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// How long to sleep when nothing was ready: until the next row falls due, at most `idle`.
    fn nap(&self, due: Result<Option<DateTime<Utc>>, crate::store::StoreError>) -> Duration {
        let idle = self.config.idle;
        match due {
            Ok(Some(due)) => (due - self.service.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(5), idle),
            _ => idle,
        }
    }

    /// Claims and handles one batch; returns how many rows were handled. Ticks may run at once
    /// (the worker's loop and an explicit call): a row another tick still has in flight is left
    /// to it, even when its lease ran out and this tick claimed it again.
    pub async fn tick(&self) -> Result<usize, crate::store::StoreError> {
        let now = self.service.now();
        let rows = {
            let _claiming = self.claiming.lock().await;
            let claimed = self
                .outbox
                .claim(
                    &self.config.owner,
                    now,
                    self.config.lease,
                    self.config.batch,
                )
                .await?;
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            claimed
                .into_iter()
                .filter(|row| {
                    let ours = in_flight.insert(row.id);
                    if !ours {
                        // The claim renewed the lease under our name; the tick posting it
                        // settles it.
                        tracing::debug!(reference = %row.reference, id = row.id, "delivery: a row this worker is still posting outlasted its lease; left to that post");
                    }
                    ours
                })
                .map(|row| {
                    let held = InFlight {
                        worker: self,
                        id: row.id,
                    };
                    (row, held)
                })
                .collect::<Vec<_>>()
        };
        let n = rows.len();
        // Posts to a slow platform can outlast the lease on a batch; a row whose lease might run
        // out while it is being posted is handed back instead, so another worker that claims it
        // then never posts it a second time. Half the lease leaves room for a post's HTTP timeouts.
        // Measured on the service's clock, the one the store's leases are written in. The first
        // row is always handled, so a batch always makes progress.
        let lease = chrono::Duration::from_std(self.config.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        let hand_back_from = now + lease / 2;
        for (i, (row, held)) in rows.into_iter().enumerate() {
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
            } else if let Err(e) = self.handle(row, now).await {
                tracing::warn!(error = %e, "delivery: cannot record the outcome of a post");
            }
            held.settled().await;
        }
        Ok(n)
    }

    async fn handle(
        &self,
        row: OutboxRow,
        claimed: DateTime<Utc>,
    ) -> Result<(), crate::store::StoreError> {
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
        let channel = channel_of(&target).map(str::to_string);
        match self
            .pace(&row, platform, &target.workspace, paced_by(&target), now)
            .await?
        {
            Go::Now => {}
            Go::Paused(until) => {
                outbox
                    .wait(row.id, owner, "waiting out a rate limit", until)
                    .await?;
                return Ok(());
            }
            Go::AtSlot(slot) => {
                outbox.wait_for_slot(row.id, owner, slot).await?;
                return Ok(());
            }
            Go::Booked => return Ok(()),
            Go::Held => {
                outbox
                    .wait(row.id, owner, HELD_WHY, held_until(now))
                    .await?;
                return Ok(());
            }
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
        if let Some(since) = row.in_doubt_since {
            match poster
                .find(&target, thread.as_deref(), &row.idempotency_key, since)
                .await
            {
                Ok(Found::Posted(posted)) => {
                    tracing::info!(reference = %row.reference, target = %target.key(), id = %posted.id, "delivery: found a post whose answer had not reached us, recorded it instead of posting again");
                    return self.posted(&row, &target, posted).await;
                }
                Ok(Found::Absent) => {}
                Ok(Found::Unknowable) => {
                    tracing::warn!(reference = %row.reference, target = %target.key(), "delivery: an earlier attempt may have been posted and the platform cannot say; posting again");
                }
                // The look is refused for good (an installation without the history scopes):
                // the post itself may still go, so it is not set aside for that.
                Err(PostError::Permanent(why)) => {
                    tracing::warn!(reference = %row.reference, target = %target.key(), error = %why, "delivery: cannot look for an earlier attempt that may have been posted; posting again");
                }
                // The look itself failed: the row stays in doubt.
                Err(e) => return self.failed(&row, &target, e, Some(since), now).await,
            }
        }
        let Some(message) = self.combined(&row, &target, message).await? else {
            // The row was taken from us meanwhile; whoever holds it posts it.
            return Ok(());
        };
        match poster
            .post(&target, &message, thread.as_deref(), &row.idempotency_key)
            .await
        {
            Ok(posted) => self.posted(&row, &target, posted).await,
            Err(e) => {
                let doubt = matches!(e, PostError::InDoubt(_)).then_some(claimed);
                self.failed(&row, &target, e, doubt, now).await
            }
        }
    }

    /// The message to post for a row: the row's own, or, for a plain reply with more plain
    /// replies to the same thread queued right behind it, one reply carrying them all in order.
    /// Which rows it carries is recorded before it is posted, so they are marked sent with it,
    /// also when its answer is lost and the post is found later. None when the row is no longer
    /// ours.
    async fn combined(
        &self,
        row: &OutboxRow,
        target: &Target,
        message: Message,
    ) -> Result<Option<Message>, crate::store::StoreError> {
        let now = self.service.now();
        // Room for a rewrite of the root after each reply.
        let limit = i64::try_from(3 * combine::MAX_COMBINED).unwrap_or(30);
        let behind = if combine::combinable(target, &message) {
            self.outbox.behind(row, limit).await?
        } else {
            Vec::new()
        };
        // Only rows already due may join: a post held for working hours keeps its time.
        let queued: Vec<(&OutboxRow, Target, Message)> = behind
            .iter()
            .map_while(|r| {
                let target = serde_json::from_value::<Target>(r.target.clone()).ok()?;
                let message = serde_json::from_value::<Message>(r.payload.clone()).ok()?;
                (r.available_at <= now).then_some((r, target, message))
            })
            .collect();
        let mut parts: Vec<(&Target, &Message)> = vec![(target, &message)];
        parts.extend(queued.iter().map(|(_, t, m)| (t, m)));
        let joining: Vec<&(&OutboxRow, Target, Message)> = combine::joining(&parts)
            .into_iter()
            .filter_map(|i| queued.get(i - 1))
            .collect();
        let ids: Vec<i64> = joining.iter().map(|(r, _, _)| r.id).collect();
        if ids.is_empty() && row.attempts <= 1 {
            return Ok(Some(message));
        }
        // Also when none joins: a retried row may have carried others before, and no longer does.
        if !self
            .outbox
            .combine(row.id, &self.config.owner, &ids)
            .await?
        {
            return Ok(None);
        }
        if ids.is_empty() {
            return Ok(Some(message));
        }
        let mut all = vec![(row.created_at, message)];
        all.extend(joining.iter().map(|(r, _, m)| (r.created_at, m.clone())));
        tracing::debug!(reference = %row.reference, target = %target.key(), replies = all.len(), "delivery: replies queued for one thread go out as one post");
        Ok(combine::combine(&all))
    }

    /// Records a post that is on the platform: the row as sent and, for a root, its thread, in
    /// one write (else the thread first, then the row).
    async fn posted(
        &self,
        row: &OutboxRow,
        target: &Target,
        posted: Posted,
    ) -> Result<(), crate::store::StoreError> {
        let platform = target.platform;
        let now = self.service.now();
        // The lane's next row books its posting slot as this one is marked sent.
        let next = crate::store::NextSlot {
            slot_in,
            spacing: self.config.channel_spacing,
        };
        let mut settled = false;
        if let (Delivery::Root { channel }, Some(thread)) = (&target.delivery, &posted.thread)
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
            let sent = crate::store::SentRow {
                id: row.id,
                owner: self.config.owner.clone(),
                result: posted.id.clone(),
                at: now,
                next,
            };
            match self.service.record(&reference, opened, Some(sent)).await {
                Ok(()) => settled = true,
                Err(e) => {
                    tracing::warn!(error = %e, reference = %row.reference, "delivery: posted a root but could not record its thread");
                }
            }
        }
        self.observer.sent(platform);
        if !settled {
            let marked = (self.outbox)
                .sent_booking_next(row.id, &self.config.owner, &posted.id, now, &next)
                .await?;
            if !marked {
                tracing::warn!(reference = %row.reference, target = %target.key(), id = %posted.id, "delivery: posted, but the row was no longer ours to mark sent; it may be posted again");
            }
        }
        let recovered = self
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(platform, target.workspace.clone()));
        if recovered {
            let released = self
                .outbox
                .release_backoff(&platform.to_string(), &target.workspace, now)
                .await?;
            if released > 0 {
                tracing::info!(%platform, workspace = %target.workspace, released, "delivery: the platform answers again; posts waiting out a back-off go now");
            }
        }
        Ok(())
    }

    /// Settles a row whose post (or look for an earlier post) failed. `in_doubt_since` is Some
    /// when the platform may hold the post after all.
    async fn failed(
        &self,
        row: &OutboxRow,
        target: &Target,
        error: PostError,
        in_doubt_since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), crate::store::StoreError> {
        let outbox = &self.outbox;
        let owner = &self.config.owner;
        let platform = target.platform;
        match error {
            PostError::RateLimited(after) => {
                let until = now
                    + chrono::Duration::from_std(after)
                        .unwrap_or_else(|_| chrono::Duration::seconds(1));
                self.outbox
                    .pause(&platform.to_string(), &target.workspace, "", until)
                    .await?;
                self.observer.failed(platform, "rate_limited", false);
                outbox
                    .wait(row.id, owner, "rate limited by the platform", until)
                    .await?;
            }
            PostError::Retry(why) | PostError::InDoubt(why) => {
                let wait = backoff(row.attempts);
                let at = now
                    + chrono::Duration::from_std(wait)
                        .unwrap_or_else(|_| chrono::Duration::seconds(5));
                let label = if in_doubt_since.is_some() {
                    "no_answer"
                } else {
                    "transient"
                };
                self.observer.failed(platform, label, false);
                self.failing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((platform, target.workspace.clone()));
                outbox
                    .retry(row.id, owner, &why, at, in_doubt_since)
                    .await?;
            }
            PostError::AccessGone(code) => {
                self.observer.failed(platform, &code, false);
                let held = outbox
                    .hold(&platform.to_string(), &target.workspace, &code, now)
                    .await?;
                outbox
                    .wait(row.id, owner, HELD_WHY, held_until(now))
                    .await?;
                if held {
                    self.report_held(platform, &target.workspace, &code).await;
                }
            }
            e @ PostError::Permanent(_) => {
                self.observer.failed(platform, &e.label(), true);
                tracing::error!(reference = %row.reference, target = %target.key(), error = %e, "delivery: parked a post that cannot succeed");
                outbox.park(row.id, owner, &e.to_string(), now).await?;
                self.report_parked(row, target, &e.label(), now).await;
            }
        }
        Ok(())
    }

    /// Says once, in the log and to the boards of the agencies there, that posting to a
    /// workspace stopped and its posts are kept.
    async fn report_held(&self, platform: Platform, workspace: &str, code: &str) {
        tracing::error!(%platform, workspace, code, "delivery: the workspace's access is gone; its posts are kept until escalation-bot is installed there again");
        let name = match platform {
            Platform::Slack => "Slack",
            Platform::Teams => "Teams",
            Platform::Sandbox => "sandbox",
        };
        let text = format!(
            "escalation-bot can no longer post to the {name} workspace {workspace}: {name} answered {code} (the app is not installed there, was removed, or its access was revoked). No post is lost: every post to the agencies there is kept and goes out, in order, once an administrator of that workspace installs escalation-bot again."
        );
        self.service
            .tell_boards_about_workspace(
                platform,
                workspace,
                "Posts are waiting for escalation-bot to be installed again",
                &text,
            )
            .await;
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
            commands: Vec::new(),
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
}
