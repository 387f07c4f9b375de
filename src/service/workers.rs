//! What the scheduler and the delivery worker need from the record, and nothing more.
//!
//! The scheduler claims due schedule rows here and records what they cause through
//! `Service::system`, like any request. The delivery worker's whole job is the outbox's
//! lifecycle (claim, sent, retry, park), the thread a reply goes into, and the pacing every
//! replica shares; it gets an [`Outbox`]
//! handle for exactly that, so the posting side can never append to the record except through
//! `Service::record`.

use super::Service;
use crate::store::{
    HeldWorkspace, NewOutbox, OutboxDepth, OutboxRow, Pace, ScheduleRow, Store, StoreError,
};
use chrono::{DateTime, Utc};
use std::time::Duration;

impl Service {
    /// Claims up to `limit` schedule rows due now for `lease`, skipping rows others hold.
    pub async fn claim_scheduled(
        &self,
        owner: &str,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ScheduleRow>, StoreError> {
        self.store
            .claim_schedule(owner, self.now(), lease, limit)
            .await
    }

    /// Marks a claimed schedule row done.
    pub async fn scheduled_done(&self, id: i64, owner: &str) -> Result<bool, StoreError> {
        self.store.schedule_done(id, owner, self.now()).await
    }

    /// When the earliest pending scheduled work falls due, if any is pending.
    pub async fn next_scheduled(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.next_schedule_due().await
    }

    /// Stops posting to a workspace whose credentials stopped working (an uninstall, a revoked
    /// token), on every replica; its posts are kept until it is installed again. True when this
    /// call held it, so whoever holds it tells the board, once.
    pub async fn hold_workspace(
        &self,
        platform: crate::directory::Platform,
        workspace: &str,
        why: &str,
    ) -> Result<bool, StoreError> {
        self.store
            .hold_workspace(&platform.to_string(), workspace, why, self.now())
            .await
    }

    /// A workspace was installed again: posting there resumes on every replica and the posts
    /// kept for it go now, in order. Returns whether it was held and how many posts were freed.
    pub async fn resume_workspace(
        &self,
        platform: crate::directory::Platform,
        workspace: &str,
    ) -> Result<(bool, u64), StoreError> {
        self.store
            .release_hold(&platform.to_string(), workspace, self.now())
            .await
    }

    /// The workspaces where posting is held, for health and metrics.
    pub async fn held_workspaces(&self) -> Result<Vec<HeldWorkspace>, StoreError> {
        self.store.held_workspaces().await
    }

    /// The outbox, for the delivery worker.
    pub fn outbox(&self) -> Outbox {
        Outbox {
            store: self.store.clone(),
        }
    }
}

/// The delivery worker's handle on the outbox: the rows waiting to be posted and the threads
/// they go into. Times are passed in, from the service's clock, as the worker reads it.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Store,
}

impl Outbox {
    /// Claims up to `limit` rows ready at `now` for `lease`, skipping rows others hold.
    pub async fn claim(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.store.claim_outbox(owner, now, lease, limit).await
    }

    /// Marks a claimed row sent, with the platform's id for the post.
    pub async fn sent(
        &self,
        id: i64,
        owner: &str,
        result: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store.outbox_sent(id, owner, result, now).await
    }

    /// Marks a claimed row sent; the next row of its lane, where `next` says something paces
    /// it, books its slot in the same write (see [`Store::outbox_sent_booking_next`]).
    pub async fn sent_booking_next(
        &self,
        id: i64,
        owner: &str,
        result: &str,
        now: DateTime<Utc>,
        next: &crate::store::NextSlot,
    ) -> Result<bool, StoreError> {
        self.store
            .outbox_sent_booking_next(id, owner, result, now, next)
            .await
    }

    /// Puts a claimed row back to be tried again at `retry_at`, saying why; `in_doubt_since` is
    /// Some when the platform may have posted it after all, so the next attempt looks first.
    pub async fn retry(
        &self,
        id: i64,
        owner: &str,
        why: &str,
        retry_at: DateTime<Utc>,
        in_doubt_since: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        self.store
            .outbox_retry_in_doubt(id, owner, why, retry_at, in_doubt_since)
            .await
    }

    /// Hands a claimed row back untried until `until` (pacing a channel, a rate-limit pause,
    /// a lease about to run out): not an attempt, so it adds nothing to a later back-off.
    pub async fn wait(
        &self,
        id: i64,
        owner: &str,
        why: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store.outbox_wait(id, owner, why, until).await
    }

    /// The pending rows queued behind a row in its lane, in order, at most `limit`: replies
    /// that may be combined into its post.
    pub async fn behind(&self, row: &OutboxRow, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        self.store.outbox_behind(row.id, &row.lane, limit).await
    }

    /// Records, before posting, which queued rows the post of claimed row `id` carries, so they
    /// are marked sent with it (also when the post is only found later). False when `id` is
    /// no longer ours.
    pub async fn combine(&self, id: i64, owner: &str, rows: &[i64]) -> Result<bool, StoreError> {
        self.store.outbox_combine(id, owner, rows).await
    }

    /// Resolves when rows join the outbox through this process.
    pub async fn queued(&self) {
        self.store.outbox_queued().await
    }

    /// Hands a claimed row back to wait for the posting slot it booked (not an attempt).
    pub async fn wait_for_slot(
        &self,
        id: i64,
        owner: &str,
        slot: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store.outbox_wait_for_slot(id, owner, slot).await
    }

    /// The platform answers a workspace again: its rows waiting out a back-off go now (at the
    /// channels' pace), instead of each waiting out its own.
    pub async fn release_backoff(
        &self,
        platform: &str,
        workspace: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.store.release_backoff(platform, workspace, now).await
    }

    /// When the next row can be claimed, so an idle worker sleeps until then.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.next_outbox_due().await
    }

    /// A channel's pacing and pauses, shared by every replica (`channel` '': the workspace).
    pub async fn pace(
        &self,
        platform: &str,
        workspace: &str,
        channel: &str,
    ) -> Result<Pace, StoreError> {
        self.store.pace(platform, workspace, channel).await
    }

    /// Books a claimed row's posting slot in its channel at or after `from` and, when the slot
    /// is later, hands the row back to wait for it (one write): the slot booked.
    #[allow(clippy::too_many_arguments)]
    pub async fn book_slot_for(
        &self,
        id: i64,
        owner: &str,
        platform: &str,
        workspace: &str,
        channel: &str,
        from: DateTime<Utc>,
        spacing: Duration,
    ) -> Result<DateTime<Utc>, StoreError> {
        self.store
            .book_slot_for(id, owner, platform, workspace, channel, from, spacing)
            .await
    }

    /// Pauses posts to a channel (`channel` '': the workspace) until `until`, for every replica.
    pub async fn pause(
        &self,
        platform: &str,
        workspace: &str,
        channel: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store
            .pause_posting(platform, workspace, channel, until)
            .await
    }

    /// Stops posting to a workspace on every replica (see [`Service::hold_workspace`]).
    pub async fn hold(
        &self,
        platform: &str,
        workspace: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store
            .hold_workspace(platform, workspace, why, now)
            .await
    }

    /// Sets aside a row that can never be posted, so it is reported instead of retried.
    pub async fn park(
        &self,
        id: i64,
        owner: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store.outbox_park(id, owner, why, now).await
    }

    /// Queues posts no event causes (a notice that another post was parked).
    pub async fn add(
        &self,
        reference: &str,
        rows: &[NewOutbox],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store.enqueue(reference, rows, now).await
    }

    /// The platform's id of a dispute's thread in one channel, once its root was posted.
    pub async fn thread(
        &self,
        reference: &str,
        platform: &str,
        workspace: &str,
        channel: &str,
    ) -> Result<Option<String>, StoreError> {
        self.store
            .thread(reference, platform, workspace, channel)
            .await
    }

    /// How many rows wait and how old the oldest is.
    pub async fn depth(&self) -> Result<OutboxDepth, StoreError> {
        self.store.outbox_depth().await
    }
}
