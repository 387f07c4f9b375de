//! The durable record: hash-chained events, projections, outbox and schedule, on SQLite or PostgreSQL.
//!
//! One `Store` with two real backends. An append writes events, the outbox rows and schedule rows
//! they cause, and the projections, in one transaction; the expected version makes racing writers
//! on one dispute fail cleanly instead of losing an update. Every operation's SQL and row mapping
//! is written once, in `sql.rs`; `sqlite.rs` and `postgres.rs` hold only what differs (opening,
//! the write lock, `FOR UPDATE SKIP LOCKED`, a bulk load, query plans); migrations are per backend.
//! Platforms' own state (Teams addresses, the sandbox's posts and clock) is not the record's: the
//! store keeps it for them in one generic table, by adapter and key, without knowing what it is.

mod board;
mod chain;
pub mod checkpoint;
mod crosscheck;
pub mod logline;
mod postgres;
mod projection;
mod sql;
mod sqlite;

pub use board::{DisputeRecord, LogScope, RecordView, RecordedEvent};
pub use chain::{BrokenLink, GENESIS, VerifyReport, event_hash};
pub use logline::{LogLine, Outcome};
pub use projection::{DisputeRow, Projection};

use crate::escalation::{Dispute, Event, Reference};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why the store could not do what was asked. Messages say what to do; they never carry secrets.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{reference} changed while your action was being recorded (expected version {expected}, found {found}); try again on the fresh state"
    )]
    Conflict {
        reference: String,
        expected: u64,
        found: u64,
    },
    #[error(
        "the directory changed while this change was prepared (it was prepared on change {based_on}; change {newest} is the newest now); prepare it again on the newest"
    )]
    DirectoryChanged { based_on: i64, newest: i64 },
    #[error("this request was already recorded")]
    Duplicate,
    #[error(
        "{0} is not an escalation-bot database (it holds tables this service did not create); point --database-url at a new file or an empty database"
    )]
    NotOurs(String),
    #[error(
        "the database was written by a newer escalation-bot (schema version {found}; this binary knows up to {known}); upgrade the binary before using it"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error(
        "the database is read-only ({0}); give the service write access to the file and its folder"
    )]
    ReadOnly(String),
    #[error("the database or disk is full; nothing was written. Free space, then try again")]
    Full,
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("database migration failed and was rolled back; the database is unchanged: {0}")]
    Migration(String),
    #[error("the stored record is not readable: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub(crate) fn from_sqlx(e: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &e {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let message = db.message().to_string();
            // SQLite: 13 full, 8 read-only, 26 not a database; PostgreSQL: 53100 disk full, 25006 read-only.
            match code.as_str() {
                "13" | "53100" => return StoreError::Full,
                "8" | "1032" | "25006" => return StoreError::ReadOnly(message),
                "26" => return StoreError::NotOurs(message),
                _ => {}
            }
            if message.contains("database or disk is full") {
                return StoreError::Full;
            }
            if message.contains("readonly") || message.contains("read-only") {
                return StoreError::ReadOnly(message);
            }
            return StoreError::Database(message);
        }
        StoreError::Database(e.to_string())
    }
}

/// The hash a directory version is kept and named by: SHA-256 of its stored content, in hex.
pub fn directory_sha256(content: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(content.as_bytes()))
}

/// An applied directory change as kept: what a running service takes up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedDirectory {
    /// The change's number (they only grow).
    pub seq: i64,
    /// The SHA-256 of `content`, the name the version is kept under.
    pub sha256: String,
    pub content: String,
}

/// A message the delivery worker must post: one row per message per target thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    /// Unique per message and target, so a retried append never posts twice.
    pub idempotency_key: String,
    /// Rows in one lane (one thread, one person's DMs) are delivered strictly in order.
    pub lane: String,
    /// Where it goes, as the chat layer describes it (platform, channel, thread or person), as
    /// JSON text. Text, not a tree of values: it is written out once, straight from the
    /// target, where the writer's turn would otherwise build the tree and then print it.
    pub target: String,
    /// The platform-neutral message, as JSON text (written once, as `target` is).
    pub payload: String,
    /// Not before this instant (working hours, pacing).
    pub available_at: DateTime<Utc>,
}

/// Future work: deadlines, reminders, nudges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSchedule {
    pub idempotency_key: String,
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// A schedule row written outside any append (a bulk load), pending or already done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkSchedule {
    pub reference: String,
    pub row: NewSchedule,
    /// Some: the row is history, done at this instant; None: it is pending.
    pub done_at: Option<DateTime<Utc>>,
}

/// Everything one command writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub outbox: Vec<NewOutbox>,
    pub schedule: Vec<NewSchedule>,
    /// Pending schedule rows of the dispute to cancel, by kind (e.g. the old stage's reminders).
    pub cancel_schedule_kinds: Vec<String>,
    /// The platform's id for the request (Slack trigger, Teams activity), so a retry records nothing twice.
    pub inbound_key: Option<String>,
    /// The dispute's state after these events, when the caller decided on it already: the
    /// store then updates the projections from it instead of decoding the whole dispute again
    /// under the write lock. The expected version guarantees it was decided on the stored state.
    pub after: Option<Dispute>,
    /// The state the events were decided on, when the caller has it: where the events change
    /// nothing the projections show but the version (a note), the store moves the version on
    /// instead of writing the dispute's rows again.
    pub before: Option<Dispute>,
    /// The post these events record (a root's thread), marked sent in the same transaction: a
    /// thread is never recorded without its post marked sent, nor the other way round, and
    /// both take one sync to disk. Left alone when the batch is not written.
    pub sent: Option<SentRow>,
}

/// A claimed outbox row whose post went out, to mark sent with the batch that records it.
#[derive(Debug, Clone)]
pub struct SentRow {
    pub id: i64,
    /// The worker holding the row: it is marked sent only while still theirs.
    pub owner: String,
    /// The platform's id for the post.
    pub result: String,
    pub at: DateTime<Utc>,
    /// How the lane's next row books its posting slot.
    pub next: NextSlot,
}

/// An outbox row claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub idempotency_key: String,
    pub reference: String,
    /// The lane it is delivered in, strictly in order.
    pub lane: String,
    pub target: serde_json::Value,
    pub payload: serde_json::Value,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    /// Not claimed before this instant.
    pub available_at: DateTime<Utc>,
    /// When this claim was made (None only for a row claimed before claims were timed).
    pub claimed_at: Option<DateTime<Utc>>,
    /// Some when an earlier attempt may have reached the platform without its answer reaching
    /// us (a worker died holding the row, or a post timed out after it was sent): from when to
    /// look for it in the platform's history before posting again.
    pub in_doubt_since: Option<DateTime<Utc>>,
    /// A posting slot in its channel this row booked before it was handed back to wait for it.
    pub slot: Option<DateTime<Utc>>,
}

/// Where a paced post books its slot: a channel's (or a person's conversation's) row of
/// `delivery_pace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacingRow {
    pub platform: String,
    pub workspace: String,
    /// The channel, or the person for a direct message.
    pub channel: String,
}

/// Says, from an outbox row's target, the pacing row it books its slots in (None: not paced).
pub type SlotIn = fn(&serde_json::Value) -> Option<PacingRow>;

/// How a row a lane brings forward books its posting slot in the same write that settles the
/// row ahead of it ([`Store::outbox_sent_booking_next`]), instead of being claimed only to be
/// handed back until a slot. The store does not read targets: `slot_in` does.
#[derive(Debug, Clone, Copy)]
pub struct NextSlot {
    pub slot_in: SlotIn,
    /// The spacing between posts in a pacing row.
    pub spacing: std::time::Duration,
}

/// How a claimed row is settled.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Settle<'a> {
    /// Posted: the platform's id for the post.
    Sent(&'a str),
    /// Set aside for good: why.
    Parked(&'a str),
}

/// A channel's pacing, shared by every replica on the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pace {
    /// The channel's next free posting slot, once one was booked.
    pub next_slot: Option<DateTime<Utc>>,
    /// The latest end of a pause the platform asked for, on the channel or its workspace.
    pub paused_until: Option<DateTime<Utc>>,
    /// The workspace's credentials stopped working (see [`Store::hold_workspace`]): nothing is
    /// posted there until it is installed again.
    pub held: bool,
}

/// A workspace where posting stopped because its credentials stopped working (the app was
/// uninstalled, its token revoked): its posts wait in the outbox until it is installed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldWorkspace {
    pub platform: String,
    pub workspace: String,
    pub since: DateTime<Utc>,
    /// What the platform answered (e.g. `token_revoked`), or why the service held it.
    pub why: String,
    /// How many posts to it wait.
    pub waiting: i64,
}

/// A schedule row claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    pub id: i64,
    pub idempotency_key: String,
    pub reference: String,
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// How many outbox rows wait, and how old the oldest is (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxDepth {
    pub pending: i64,
    pub parked: i64,
    /// Of the pending rows, those waiting for their workspace to be installed again.
    pub held: i64,
    pub oldest_pending: Option<DateTime<Utc>>,
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

/// A chat identity's link to a person's work email, as recorded: `email` is `None` where an
/// admin undid the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    pub seq: i64,
    /// `slack` or `teams`.
    pub platform: String,
    /// The Slack team id or Teams tenant id.
    pub workspace: String,
    /// The platform's user id (Slack `U…`, Teams Entra object id).
    pub user: String,
    pub email: Option<String>,
    pub at: DateTime<Utc>,
    /// `work email` for a link the service made, or who undid it.
    pub by: String,
}

/// One value a chat adapter keeps for itself (a platform address, a demo clock, a post).
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterEntry {
    pub key: String,
    pub value: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

/// The record, on one of its two backends.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// Opens (creating where needed) and migrates the database named by a URL: `postgres://…`
    /// for PostgreSQL, `sqlite://path`, `sqlite:path` or a plain file path for SQLite.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(postgres::PgStore::open(url).await?)
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Store::Sqlite(sqlite::SqliteStore::open(path).await?)
        };
        // A database from before the challenge log's lines were kept gets them now, once.
        let opened = &store;
        let added = dispatch!(opened, s => s.backfill_log_lines().await)?;
        if added > 0 {
            tracing::info!(added, "challenge log lines built from the record");
        }
        Ok(store)
    }

    /// Which backend this is, for logs and `/readyz`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Wakes an idle delivery worker of this process: rows joined the outbox. (A worker that is
    /// busy finds the wake-up waiting when it next sleeps, so none is lost.)
    fn tell_queued(&self) {
        dispatch!(self, s => s.queued.notify_one());
    }

    /// Resolves when rows join the outbox through this process (or at once, when some did since
    /// the last wait): what an idle delivery worker sleeps on besides its next due row. Rows
    /// another process adds are found by the worker's own periodic look.
    pub async fn outbox_queued(&self) {
        let queued = dispatch!(self, s => s.queued.clone());
        queued.notified().await;
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    /// A dispute's events in order.
    pub async fn events(&self, reference: &Reference) -> Result<Vec<Event>, StoreError> {
        dispatch!(self, s => s.events(&reference.to_string()).await)
    }

    /// A dispute's state: its snapshot, or folded from its events where the snapshot is missing
    /// or stale. Costs the same however long the dispute's history is.
    pub async fn load(&self, reference: &Reference) -> Result<Dispute, StoreError> {
        dispatch!(self, s => s.load(&reference.to_string()).await)
    }

    /// Whether this process is the only one writing (SQLite: one `serve` owns the file, and
    /// its writes take turns in it), so what it committed last is what the record holds.
    pub fn single_writer(&self) -> bool {
        matches!(self, Store::Sqlite(_))
    }

    /// How many events a dispute has: its version, read from an index alone.
    pub async fn version(&self, reference: &Reference) -> Result<u64, StoreError> {
        dispatch!(self, s => s.version(&reference.to_string()).await)
    }

    /// A dispute's state folded from all its events, ignoring the snapshot (what the snapshot
    /// must equal).
    pub async fn fold(&self, reference: &Reference) -> Result<Dispute, StoreError> {
        Ok(Dispute::from_events(&self.events(reference).await?))
    }

    /// Group commit: many batches in one transaction and one sync to disk. Each item is
    /// `(dispute, expected version, batch)`, decided on the state the group's earlier items on
    /// the same dispute leave. Answers per item: a conflict or a repeated request undoes only
    /// that item and the later items on its dispute; the rest are committed. `Err` when the
    /// group as a whole could not be written (nothing was).
    pub async fn append_group(
        &self,
        items: &[(Reference, u64, &Batch)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let items: Vec<(String, u64, &Batch)> = items
            .iter()
            .map(|(r, v, b)| (r.to_string(), *v, *b))
            .collect();
        let answers = dispatch!(self, s => s.append_group(&items).await)?;
        if answers
            .iter()
            .zip(&items)
            .any(|(a, (_, _, b))| a.is_ok() && !b.outbox.is_empty())
        {
            self.tell_queued();
        }
        Ok(answers)
    }

    /// Appends a batch to an existing dispute at the expected version.
    pub async fn append(
        &self,
        reference: &Reference,
        expected_version: u64,
        batch: &Batch,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.append(reference, expected_version, batch).await)?;
        if !batch.outbox.is_empty() {
            self.tell_queued();
        }
        Ok(())
    }

    /// Allocates the next reference for a board and year, builds the new dispute's batch with it,
    /// and records both in one transaction: a refused raise leaves no gap in the numbering.
    pub async fn create<E>(
        &self,
        prefix: &str,
        year: i32,
        build: impl FnOnce(&Reference) -> Result<Batch, E>,
    ) -> Result<Result<(Reference, Batch), E>, StoreError> {
        let created = dispatch!(self, s => s.create(prefix, year, build).await)?;
        if matches!(&created, Ok((_, batch)) if !batch.outbox.is_empty()) {
            self.tell_queued();
        }
        Ok(created)
    }

    /// Whether an inbound request id has been recorded (Slack retries, Teams redeliveries).
    pub async fn seen_inbound(&self, key: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.seen_inbound(key).await)
    }

    /// Claims up to `limit` outbox rows ready at `now` for `lease`, skipping rows others hold.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        dispatch!(self, s => s.claim_outbox(owner, now, lease, limit).await)
    }

    /// Marks a claimed outbox row sent, with the platform's answer (e.g. the message `ts`).
    pub async fn outbox_sent(
        &self,
        id: i64,
        owner: &str,
        result: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_finish(id, owner, Settle::Sent(result), now, None).await)
    }

    /// [`Store::outbox_sent`], and the next row of its lane, brought forward, books its pacing
    /// row's next posting slot (when `next` says one paces it and the spacing is not zero) and
    /// waits for it, in the same write. A
    /// busy thread then costs one claim a post, at its slot, instead of a claim that only books
    /// a slot and hands the row back, and another at the slot.
    pub async fn outbox_sent_booking_next(
        &self,
        id: i64,
        owner: &str,
        result: &str,
        now: DateTime<Utc>,
        next: &NextSlot,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_finish(id, owner, Settle::Sent(result), now, Some(next)).await)
    }

    /// Puts a claimed row back to be retried at `retry_at`, recording why it failed: a failure
    /// that leaves no doubt whether the platform posted it.
    pub async fn outbox_retry(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.outbox_retry_in_doubt(id, owner, error, retry_at, None)
            .await
    }

    /// Puts a claimed row back to be retried at `retry_at`; `in_doubt_since` is Some when the
    /// platform may have posted it after all (a timeout after sending), so the next attempt looks
    /// for the post first, in the history from then on.
    pub async fn outbox_retry_in_doubt(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        in_doubt_since: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_retry(id, owner, error, retry_at, in_doubt_since).await)
    }

    /// Hands a claimed row back unposted until `until` (pacing, a rate-limit pause): it was not
    /// tried, so it does not count as an attempt and adds nothing to the back-off of a later failure.
    pub async fn outbox_wait(
        &self,
        id: i64,
        owner: &str,
        why: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_wait(id, owner, why, until, None).await)
    }

    /// Hands a claimed row back untried to wait for the posting slot it booked in its channel.
    pub async fn outbox_wait_for_slot(
        &self,
        id: i64,
        owner: &str,
        slot: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_wait(id, owner, sql::SLOT_WHY, slot, Some(slot)).await)
    }

    /// Books the next posting slot in a claimed row's channel and, when it is later than
    /// `from`, hands the row back to wait for it, in one write: the slot booked.
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
        dispatch!(self, s => s.book_slot_for(id, owner, platform, workspace, channel, from, spacing).await)
    }

    /// The pending rows queued behind a row in its lane, in order, at most `limit`.
    pub async fn outbox_behind(
        &self,
        id: i64,
        lane: &str,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        dispatch!(self, s => s.outbox_behind(id, lane, limit).await)
    }

    /// Records that the post of claimed row `id` carries `rows` too (replacing any earlier
    /// choice), before it is made; they are marked sent with it. False when `id` is not ours.
    pub async fn outbox_combine(
        &self,
        id: i64,
        owner: &str,
        rows: &[i64],
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_combine(id, owner, rows).await)
    }

    /// Makes the rows of a workspace that wait out a back-off ready now: the platform answers
    /// again. Returns how many.
    pub async fn release_backoff(
        &self,
        platform: &str,
        workspace: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.release_backoff(platform, workspace, now).await)
    }

    /// When the next outbox row can be claimed, if any is pending.
    pub async fn next_outbox_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        dispatch!(self, s => s.next_outbox_due().await)
    }

    /// A channel's pacing and pauses, as every replica on this database sees them.
    pub async fn pace(
        &self,
        platform: &str,
        workspace: &str,
        channel: &str,
    ) -> Result<Pace, StoreError> {
        dispatch!(self, s => s.pace(platform, workspace, channel).await)
    }

    /// Pauses posting to a channel (`channel` '': the whole workspace) until `until`.
    pub async fn pause_posting(
        &self,
        platform: &str,
        workspace: &str,
        channel: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.pause(platform, workspace, channel, until).await)
    }

    /// Parks a row that will never succeed (e.g. `channel_not_found`) so it is reported, not retried.
    pub async fn outbox_park(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_finish(id, owner, Settle::Parked(error), now, None).await)
    }

    /// Stops posting to a workspace whose credentials stopped working, on every replica: its
    /// rows are handed back when claimed, kept, until [`Store::release_hold`]. True when this
    /// call held it (it was posting until now), so the board is told once.
    pub async fn hold_workspace(
        &self,
        platform: &str,
        workspace: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.hold_workspace(platform, workspace, why, now).await)
    }

    /// The workspace was installed again: posting resumes, and its rows waiting for that (or
    /// for a back-off or a pause) are ready now, in their lanes' order. Returns whether it was
    /// held, and how many rows were made ready.
    pub async fn release_hold(
        &self,
        platform: &str,
        workspace: &str,
        now: DateTime<Utc>,
    ) -> Result<(bool, u64), StoreError> {
        dispatch!(self, s => s.release_hold(platform, workspace, now).await)
    }

    /// Every workspace held now, with how many posts wait for it.
    pub async fn held_workspaces(&self) -> Result<Vec<HeldWorkspace>, StoreError> {
        dispatch!(self, s => s.held_workspaces().await)
    }

    /// Outbox depth and age, for metrics.
    pub async fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        dispatch!(self, s => s.outbox_depth().await)
    }

    /// Claims up to `limit` schedule rows due at `now`.
    pub async fn claim_schedule(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ScheduleRow>, StoreError> {
        dispatch!(self, s => s.claim_schedule(owner, now, lease, limit).await)
    }

    /// When the earliest pending schedule row falls due (a simulation steps its clock to it).
    pub async fn next_schedule_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        dispatch!(self, s => s.next_schedule_due().await)
    }

    /// Adds schedule rows in one transaction (bulk loads such as `bench scheduler`); rows whose
    /// key exists are skipped. Returns how many were added.
    pub async fn insert_schedule(&self, rows: &[BulkSchedule]) -> Result<u64, StoreError> {
        dispatch!(self, s => s.insert_schedule(rows).await)
    }

    /// How the database runs the schedule claim, one line per plan step (SQLite: `EXPLAIN QUERY
    /// PLAN`; PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)`, rolled back).
    pub async fn explain_claim_schedule(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.explain_claim_schedule(now, limit).await)
    }

    /// How the database runs the outbox claim and the look for the next row due, one line per
    /// plan step, each named by its statement (SQLite: `EXPLAIN QUERY PLAN`; PostgreSQL:
    /// `EXPLAIN (ANALYZE, BUFFERS)`, rolled back).
    pub async fn explain_outbox(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.explain_outbox(now, limit).await)
    }

    /// Marks a claimed schedule row done.
    pub async fn schedule_done(
        &self,
        id: i64,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.schedule_done(id, owner, now).await)
    }

    /// The projection of one dispute.
    pub async fn dispute_row(
        &self,
        reference: &Reference,
    ) -> Result<Option<DisputeRow>, StoreError> {
        dispatch!(self, s => s.dispute_row(&reference.to_string()).await)
    }

    /// Open disputes a person is part of (as party, owner or asked to acknowledge).
    pub async fn open_for_person(&self, person: &str) -> Result<Vec<DisputeRow>, StoreError> {
        dispatch!(self, s => s.open_for_person(person).await)
    }

    /// Open disputes an agency is part of.
    pub async fn open_for_agency(&self, agency: &str) -> Result<Vec<DisputeRow>, StoreError> {
        dispatch!(self, s => s.open_for_agency(agency).await)
    }

    /// Every projection row, in a stable order: what `db rebuild-projections` must reproduce.
    pub async fn projection_snapshot(&self) -> Result<Projection, StoreError> {
        dispatch!(self, s => s.projection_snapshot().await)
    }

    /// Rebuilds every projection from the events.
    pub async fn rebuild_projections(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.rebuild_projections().await)
    }

    /// The platform's id of a dispute's thread in one channel, once its root was posted.
    pub async fn thread(
        &self,
        reference: &str,
        platform: &str,
        workspace: &str,
        channel: &str,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.thread(reference, platform, workspace, channel).await)
    }

    /// Keeps a copy of a directory the service runs with (once per distinct content), so the
    /// record can always say who a person id was; true when this content is new.
    pub async fn record_directory(
        &self,
        content: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sha256 = directory_sha256(content);
        dispatch!(self, s => s.record_directory(&sha256, content, at).await)
    }

    /// Applies a directory change a Board made (an import, a channel connected from the chat)
    /// as one recorded version; its number, which only grows, is how every replica notices it.
    /// `based_on` is the change it was prepared on (0: the directory file alone): when another
    /// change was applied since, nothing is applied and `DirectoryChanged` says to prepare it
    /// again, so neither change is lost under the other.
    pub async fn apply_directory(
        &self,
        content: &str,
        summary: &str,
        based_on: i64,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let sha256 = directory_sha256(content);
        dispatch!(self, s => s.apply_directory(&sha256, content, summary, based_on, at).await)
    }

    /// The numbers of the newest applied directory change and the newest identity link, if
    /// any: one cheap read to poll.
    pub async fn directory_change(&self) -> Result<(Option<i64>, Option<i64>), StoreError> {
        dispatch!(self, s => s.directory_change().await)
    }

    /// Records a chat identity linked to a work email (or, with `None`, the link undone).
    pub async fn link_identity(
        &self,
        platform: &str,
        workspace: &str,
        user: &str,
        email: Option<&str>,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        dispatch!(self, s => s.link_identity(platform, workspace, user, email, by, at).await)
    }

    /// The work email a chat identity is linked to now, if it is.
    pub async fn identity_link(
        &self,
        platform: &str,
        workspace: &str,
        user: &str,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.identity_link(platform, workspace, user).await)
    }

    /// Every link and unlink recorded after `seq`, oldest first.
    pub async fn identity_links_since(&self, seq: i64) -> Result<Vec<IdentityLink>, StoreError> {
        dispatch!(self, s => s.identity_links_since(seq).await)
    }

    /// The newest applied directory change: its number, hash and content.
    pub async fn current_directory(&self) -> Result<Option<AppliedDirectory>, StoreError> {
        dispatch!(self, s => s.current_directory().await)
    }

    /// Records an inbound request id that causes no events (an Events API callback, a help
    /// reply); false when it was seen before.
    pub async fn claim_inbound(&self, key: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        dispatch!(self, s => s.claim_inbound(key, at).await)
    }

    /// Queues posts that no event causes (a private answer to a refused button press).
    pub async fn enqueue(
        &self,
        reference: &str,
        rows: &[NewOutbox],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.enqueue(reference, rows, at).await)?;
        if !rows.is_empty() {
            self.tell_queued();
        }
        Ok(())
    }

    /// Walks the whole log and checks every hash link, then the counters, projections and
    /// request keys against it.
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        dispatch!(self, s => s.verify().await)
    }

    /// The sealed head (newest event's position in the log, its hash), which checkpoints sign.
    pub async fn head(&self) -> Result<(i64, String), StoreError> {
        dispatch!(self, s => s.head().await)
    }

    /// Whether the log still holds a signed checkpoint (its signature checked with `public_key`).
    pub async fn check_checkpoint(
        &self,
        checkpoint: &checkpoint::Checkpoint,
        public_key: &[u8],
    ) -> Result<checkpoint::CheckpointFinding, StoreError> {
        dispatch!(self, s => s.check_checkpoint(checkpoint, public_key).await)
    }

    /// What an adapter keeps under a key, if anything.
    pub async fn adapter_get(
        &self,
        adapter: &str,
        key: &str,
    ) -> Result<Option<AdapterEntry>, StoreError> {
        dispatch!(self, s => s.adapter_get(adapter, key).await)
    }

    /// Keeps a value for an adapter under a key, replacing what was there.
    pub async fn adapter_put(
        &self,
        adapter: &str,
        key: &str,
        value: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.adapter_put(adapter, key, value, at).await)
    }

    /// Everything an adapter keeps under keys starting with `prefix`, in key order.
    pub async fn adapter_list(
        &self,
        adapter: &str,
        prefix: &str,
    ) -> Result<Vec<AdapterEntry>, StoreError> {
        dispatch!(self, s => s.adapter_list(adapter, prefix).await)
    }

    /// Adds one to an adapter's counter (from 0) and returns the new value, atomically, so
    /// concurrent callers never get the same number.
    pub async fn adapter_next(
        &self,
        adapter: &str,
        counter: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        dispatch!(self, s => s.adapter_next(adapter, counter, at).await)
    }
    /// The challenge log's lines of a board's disputes raised in the scope, in reference order:
    /// one stored row per dispute, kept current by every append.
    pub async fn log_lines(&self, scope: &LogScope) -> Result<Vec<LogLine>, StoreError> {
        dispatch!(self, s => s.log_lines(scope).await)
    }

    /// A dispute's whole record with its own hash chain checked; None when there is no such dispute.
    pub async fn dispute_record(
        &self,
        reference: &Reference,
    ) -> Result<Option<DisputeRecord>, StoreError> {
        dispatch!(self, s => s.dispute_record(&reference.to_string()).await)
    }

    /// Records many new disputes' first batches in one transaction, each at version 0 (bulk
    /// loads such as `bench report`); any failure leaves none of them recorded.
    pub async fn append_new_many(
        &self,
        batches: Vec<(Reference, Batch)>,
    ) -> Result<(), StoreError> {
        let batches: Vec<(String, Batch)> = batches
            .into_iter()
            .map(|(r, b)| (r.to_string(), b))
            .collect();
        let queued = batches.iter().any(|(_, b)| !b.outbox.is_empty());
        dispatch!(self, s => s.append_new_many(&batches).await)?;
        if queued {
            self.tell_queued();
        }
        Ok(())
    }

    /// Records that someone looked at a dispute's record (kept apart from the dispute's events).
    pub async fn record_view(&self, view: &RecordView) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_view(view).await)
    }

    /// Who looked at a dispute's record, oldest first.
    pub async fn record_views(&self, reference: &str) -> Result<Vec<RecordView>, StoreError> {
        dispatch!(self, s => s.record_views(reference).await)
    }

    /// Keeps a one-time sign-in link (by its token's hash) for a person until `expires`.
    pub async fn add_sign_in_link(
        &self,
        token_hash: &str,
        person: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_sign_in_link(token_hash, person, now, expires).await)
    }

    /// Uses a sign-in link once: the person it was for, or None when it is unknown, used or expired.
    pub async fn use_sign_in_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.use_sign_in_link(token_hash, now).await)
    }

    /// Starts a Board view session (by its token's hash) for a person until `expires`.
    pub async fn add_board_session(
        &self,
        token_hash: &str,
        person: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_board_session(token_hash, person, now, expires).await)
    }

    /// The person of a live session, or None when it is unknown, ended or expired.
    pub async fn board_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.board_session(token_hash, now).await)
    }

    /// Ends a session (sign-out).
    pub async fn end_board_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.end_board_session(token_hash, now).await)
    }
}
