//! The store's operations, written once for SQLite and PostgreSQL: every statement and row mapping.
//!
//! Statements use numbered placeholders (`$1`, `$2`, …), which both drivers bind by number, and
//! only the types both schemas share (64-bit integers, text), so one text serves both. What
//! truly differs between the backends is a [`Dialect`]: how a write transaction takes its lock
//! and how concurrent claimers skip each other's rows. Opening, migrations and the few
//! operations that use a backend's own features live in `sqlite.rs` and `postgres.rs`.
//!
//! A bound `LIMIT` is written `LIMIT CAST($n AS BIGINT)`: SQLite reads a bare `LIMIT $n`'s value
//! while compiling the statement, so it compiled it again at every run (a tenth of the idle
//! delivery worker's time went to compiling its claim).

use super::chain::BrokenLink;
use super::chain::{StoredEvent, Verifier};
use super::checkpoint::{Checkpoint, CheckpointFinding};
use super::crosscheck::{Outside, cross_check};
use super::logline::LogLine;
use super::projection::{self, DisputeRow, Projection};
use super::{
    AdapterEntry, Batch, DisputeRecord, HeldWorkspace, LogScope, NewOutbox, NextSlot, OutboxDepth,
    OutboxRow, Pace, PacingRow, RecordView, RecordedEvent, ScheduleRow, Settle, StoreError,
    VerifyReport, from_micros, micros,
};
use crate::escalation::{Dispute, Event, Reference};
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Transaction, Type,
};
use std::time::Duration;

mod append;
pub(super) mod arrays;
mod writes;

pub(super) use append::{KeyRow, Look, OutboxInsert};
pub(super) use writes::Writes;

/// A future a backend's form of a group's read or write returns.
pub(super) type Step<'a, T> = futures_util::future::BoxFuture<'a, Result<T, StoreError>>;

/// Claims ready outbox rows in id order, skipping a lane while an earlier row of it is pending
/// (a lane is delivered strictly in order). `$lock` is the backend's way of letting concurrent
/// claimers skip rows another is claiming. A row whose lease ran out while still held (its
/// worker died, perhaps mid-post) becomes in doubt from its previous claim: the next worker looks
/// for the post on the platform before posting again. (Every `SET` reads the row as it was.)
macro_rules! claim_outbox_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET lease_owner = $1, lease_until_us = $2, attempts = attempts + 1,
                    in_doubt_since_us = CASE WHEN lease_owner IS NOT NULL
                                             THEN coalesce(in_doubt_since_us, claimed_us, created_us)
                                             ELSE in_doubt_since_us END,
                    claimed_us = $3
             WHERE id IN (SELECT id FROM outbox
                          WHERE status = 'pending' AND available_us <= $3
                            AND (lease_until_us IS NULL OR lease_until_us < $4)
                            AND NOT EXISTS (SELECT 1 FROM outbox earlier
                                            WHERE earlier.lane = outbox.lane AND earlier.status = 'pending'
                                              AND earlier.id < outbox.id)
                          ORDER BY id LIMIT CAST($5 AS BIGINT)",
            $lock,
            ")
             RETURNING id, idempotency_key, reference, lane, target, payload, attempts, created_us,
                       available_us, claimed_us, in_doubt_since_us, slot_us"
        )
    };
}
pub(super) use claim_outbox_sql;

/// The pending rows queued behind a row in its lane (`$1`: the lane, `$2`: the row), in order,
/// at most `$3`.
const OUTBOX_BEHIND: &str =
    "SELECT id, idempotency_key, reference, lane, target, payload, attempts, created_us,
            coalesce(ready_us, available_us) AS available_us, claimed_us, in_doubt_since_us, slot_us
     FROM outbox WHERE lane = $1 AND status = 'pending' AND id > $2
     ORDER BY id LIMIT CAST($3 AS BIGINT)";

/// Prepared statements a connection that writes keeps: the fixed ones and the group commit's
/// small ones (`append::KEPT_UP_TO` rows or fewer, 12 statements), with room to spare.
pub(super) const WRITER_STATEMENTS: usize = 160;

/// The ready time of a row queued behind its lane's first pending row: after any real time
/// (9999-12-31T23:59:59Z), so the row lies outside every claim's range. Its own ready time is
/// kept in `ready_us`; it takes it when the rows ahead of it are settled ([`PROMOTE_NEXT`]).
pub(super) const BEHIND_US: i64 = 253_402_300_799_000_000;

/// Why a row handed back to wait for its posting slot waits.
pub(super) const SLOT_WHY: &str = "waiting for its posting slot in the channel";

/// Hands a claimed row back untried until `$1` (`$2`: why; `$3`, `$4`: the row and its holder;
/// `$5`: the posting slot it keeps, if any). The claim counted an attempt; handing back unposted
/// takes it off again.
const HAND_BACK: &str = "UPDATE outbox SET available_us = $1, last_error = $2, lease_owner = NULL, lease_until_us = NULL,
            attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, slot_us = $5
     WHERE id = $3 AND lease_owner = $4 AND status = 'pending'";

/// Books the next posting slot in a channel's row of `delivery_pace` (`$1`..`$3`: platform,
/// workspace, channel; `$4`: the first slot when the channel has none yet; `$5`: from when;
/// `$6`: the spacing): returns the slot after the booked one.
const BOOK_SLOT: &str =
    "INSERT INTO delivery_pace (platform, workspace, channel, next_slot_us, paused_until_us)
     VALUES ($1, $2, $3, $4, 0)
     ON CONFLICT (platform, workspace, channel) DO UPDATE
     SET next_slot_us = CASE WHEN delivery_pace.next_slot_us > $5
                             THEN delivery_pace.next_slot_us ELSE $5 END + $6
     RETURNING next_slot_us";

/// Brings a lane's first pending row into the ready range at its own ready time, if it waits
/// behind (`$1`: a row of the lane, `$2`: [`BEHIND_US`]). Run where a row stops being pending,
/// in the same transaction, which holds the lanes ([`Db::begin_append`]): one row is touched,
/// however long the backlog.
const PROMOTE_NEXT: &str = "UPDATE outbox SET available_us = coalesce(ready_us, available_us)
     WHERE id = (SELECT next.id FROM outbox next
                 WHERE next.lane = (SELECT lane FROM outbox WHERE id = $1) AND next.status = 'pending'
                 ORDER BY next.id LIMIT 1)
       AND available_us = $2
     RETURNING id, available_us, target";

/// Sets a row brought forward to wait for the posting slot it booked (`$1`: the slot, `$2`:
/// the row, `$3`: why), unless a worker holds it.
const WAIT_FOR_BOOKED: &str = "UPDATE outbox SET available_us = $1, slot_us = $1, last_error = $3
     WHERE id = $2 AND status = 'pending' AND lease_owner IS NULL";

/// The earliest ready time of a lane's first pending row that no worker holds: walks the
/// `(status, available_us, id)` index from its start and stops at the first lane's first row.
/// Rows queued behind their lane's first row wait at [`BEHIND_US`] (the literal here), after
/// every real time, and are left out of the walk, whatever the backlog: on PostgreSQL, which
/// otherwise checks every pending row's lane, this took a look from 178 ms to 8 ms with
/// 14,000 rows pending.
macro_rules! next_outbox_ready_sql {
    () => {
        "SELECT available_us FROM outbox
         WHERE status = 'pending' AND lease_owner IS NULL AND available_us < 253402300799000000
           AND NOT EXISTS (SELECT 1 FROM outbox earlier
                           WHERE earlier.lane = outbox.lane AND earlier.status = 'pending'
                             AND earlier.id < outbox.id)
         ORDER BY status, available_us LIMIT 1"
    };
}
pub(super) use next_outbox_ready_sql;

/// The earliest end of a lease on a row, through the partial index of held rows (only a
/// pending row is ever held: settling a row lets go of it).
macro_rules! next_outbox_leased_sql {
    () => {
        "SELECT lease_until_us FROM outbox
         WHERE lease_owner IS NOT NULL
         ORDER BY lease_until_us LIMIT 1"
    };
}
pub(super) use next_outbox_leased_sql;

/// The earliest ready time of a lane's first row and the earliest end of a lease, as one row.
const NEXT_OUTBOX_DUE: &str = concat!(
    "SELECT (",
    next_outbox_ready_sql!(),
    "), (",
    next_outbox_leased_sql!(),
    ")"
);

/// Claims due schedule rows: the oldest first, through the `(status, due_us, id)` index, so the
/// cost grows with the rows due, never with the rows waiting for later.
macro_rules! claim_schedule_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE schedule SET lease_owner = $1, lease_until_us = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM schedule
                          WHERE status = 'pending' AND due_us <= $3
                            AND (lease_until_us IS NULL OR lease_until_us < $4)
                          ORDER BY due_us, id LIMIT CAST($5 AS BIGINT)",
            $lock,
            ")
             RETURNING id, idempotency_key, reference, kind, due_us, payload"
        )
    };
}
pub(super) use claim_schedule_sql;

/// What differs between the backends in the shared operations.
pub trait Dialect: Database + sqlx::database::HasStatementCache {
    /// The statement that opens a write transaction (None: the driver's plain `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// Run first in a transaction that appends, so appends serialise and the log has one order
    /// (None where opening the write transaction already serialises writers). Sent as it is,
    /// without values, so it may hold several statements.
    const LOCK_CHAIN_HEAD: Option<&'static str>;
    /// [`claim_outbox_sql`] with the backend's row locking.
    const CLAIM_OUTBOX: &'static str;
    /// [`claim_schedule_sql`] with the backend's row locking.
    const CLAIM_SCHEDULE: &'static str;
    /// Whether the database lets only one connection write at a time (SQLite): then this
    /// process takes turns itself, so no connection ever sleeps in the database's busy handler.
    const ONE_WRITER: bool;
    /// Whether the group commit's small statements, built for their group's size, are kept
    /// prepared. SQLite plans a statement once when it prepares it. PostgreSQL, after a few runs
    /// of a kept statement, may switch to one plan for every value, which for the `IN (…)`
    /// look-ups of that form read whole tables (11 ms a group instead of under 1); its look and
    /// largest writes are of a form of their own ([`Dialect::look`]), and the few statements it
    /// still builds by size (snapshots, log lines, schedule rows) are not kept.
    const KEEP_SIZED_STATEMENTS: bool;
    /// Whether one call may carry several statements with values (SQLite: yes, each binding
    /// its values after the previous one's; PostgreSQL's protocol: one statement a call). Where
    /// it may, a group's writes go in one round trip ([`writes::Writes`]).
    const MANY_STATEMENTS: bool;
    /// Whether statements built at run time (a group's multi-row inserts) use anonymous `?`
    /// placeholders, bound in the order they appear. SQLite looks a numbered placeholder up by
    /// name with a walk of the statement's list of names, so binding thousands of `$N` costs
    /// time that grows with the square of their number; PostgreSQL takes only `$N`.
    const ANONYMOUS_PLACEHOLDERS: bool;
    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    // A group's reads and its largest writes, in the form each backend runs best: on SQLite,
    // statements with a row of placeholders per row (kept prepared per size, sent together);
    // on PostgreSQL, one fixed statement per kind with each column bound as an array, prepared
    // once and planned once (a statement built for its group's size was parsed and planned at
    // every group: most of a group's time on the database).

    /// Everything a group's append reads before it writes ([`Look`]): the newest event of each
    /// of `references`, which of `keys` are recorded, which of `lanes` hold pending rows, and
    /// the log's head if `with_head`.
    fn look<'a>(
        conn: &'a mut Self::Connection,
        references: &'a [&'a str],
        keys: &'a [&'a str],
        lanes: &'a [&'a str],
        with_head: bool,
    ) -> Step<'a, Look>;
    /// Records a group's request keys.
    fn insert_keys<'a>(
        conn: &'a mut Self::Connection,
        w: &'a mut Writes<Self>,
        rows: &'a [KeyRow<'a>],
    ) -> Step<'a, ()>;
    /// Appends a group's events in order: each takes the next place in the whole log.
    fn insert_events<'a>(
        conn: &'a mut Self::Connection,
        w: &'a mut Writes<Self>,
        rows: &'a [&'a StoredEvent],
    ) -> Step<'a, ()>;
    /// Queues a group's outbox rows in order, leaving out any already queued under its key.
    fn insert_outbox<'a>(
        conn: &'a mut Self::Connection,
        w: &'a mut Writes<Self>,
        rows: &'a [OutboxInsert<'a>],
    ) -> Step<'a, ()>;
    /// Sets each dispute's projected version (`rows` names each dispute once).
    fn set_versions<'a>(
        conn: &'a mut Self::Connection,
        w: &'a mut Writes<Self>,
        rows: &'a [(&'a str, i64)],
    ) -> Step<'a, ()>;
}

/// A turn at writing, held while a write runs (always free where the database has no single
/// writer lock).
pub(super) type Turn = Option<tokio::sync::OwnedMutexGuard<()>>;

/// Most events a dispute's snapshot, and its log line while the events only count on it
/// (notes), may be behind its newest. Each is a page of disk writes an append saves; a load
/// folds at most this many events on top of the snapshot.
pub(super) const QUIET_EVENTS: i64 = 32;

/// The version of the serialised `Dispute` a snapshot holds: a snapshot written by another build
/// is ignored and rebuilt from the events, so a change to how events apply never reads a stale
/// shape.
pub(super) const SNAPSHOT_FORMAT: &str = concat!("dispute/", env!("CARGO_PKG_VERSION"), "/1");

/// The log's sealed head as a write transaction moves it: read once, written once at the end,
/// however many batches the transaction appends.
pub(super) struct Head {
    hash: String,
    reference: String,
    seq: i64,
    /// Whether events were appended since it was read or last written.
    moved: bool,
}

impl Head {
    /// Seals the newest event appended since it was read, if any, with the group's other
    /// writes. Its place in the whole log is read back from the events, not carried: the chain
    /// head's lock (or SQLite's one writer) keeps anyone else from appending meanwhile, so the
    /// highest place is the newest event's, and the events' insert needs no answer.
    async fn write<DB>(
        conn: &mut DB::Connection,
        w: &mut writes::Writes<DB>,
        head: &mut Head,
    ) -> Result<(), StoreError>
    where
        DB: Dialect,
        DB::Arguments: IntoArguments<DB>,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
    {
        if !head.moved {
            return Ok(());
        }
        let sql = if DB::ANONYMOUS_PLACEHOLDERS {
            "UPDATE chain_head SET global_seq = (SELECT max(global_seq) FROM events),
                    hash = ?, reference = ?, seq = ? WHERE id = 1"
        } else {
            "UPDATE chain_head SET global_seq = (SELECT max(global_seq) FROM events),
                    hash = $1, reference = $2, seq = $3 WHERE id = 1"
        };
        w.start(sql, true)
            .bind(head.hash.as_str())
            .bind(head.reference.as_str())
            .bind(head.seq);
        w.end(conn).await?;
        head.moved = false;
        Ok(())
    }
}

/// The record on one backend: a connection pool and the operations both backends share.
#[derive(Debug)]
pub struct Db<DB: Database> {
    pub(super) pool: Pool<DB>,
    /// Where write transactions run: on SQLite one connection of its own, so the pages it
    /// cached stay valid from one group to the next (a connection forgets its cache whenever
    /// another one writes); on PostgreSQL the same pool.
    pub(super) writes: Pool<DB>,
    /// Taken by every write on a one-writer database: writers queue here, in this process, in
    /// arrival order, instead of polling the database's lock.
    pub(super) turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Told when rows join the outbox in this process, so an idle delivery worker wakes for them.
    pub(super) queued: std::sync::Arc<tokio::sync::Notify>,
}

impl<DB: Database> Db<DB> {
    /// The store over a pool.
    pub(super) fn over(pool: Pool<DB>) -> Db<DB> {
        Db::with_writer(pool.clone(), pool)
    }

    /// The store over a pool for reading and a pool for write transactions.
    pub(super) fn with_writer(pool: Pool<DB>, writes: Pool<DB>) -> Db<DB> {
        Db {
            pool,
            writes,
            turn: std::sync::Arc::new(tokio::sync::Mutex::new(())),
            queued: std::sync::Arc::new(tokio::sync::Notify::new()),
        }
    }
}

impl<DB: Database> Clone for Db<DB> {
    fn clone(&self) -> Self {
        Db {
            pool: self.pool.clone(),
            writes: self.writes.clone(),
            turn: self.turn.clone(),
            queued: self.queued.clone(),
        }
    }
}

pub(super) fn err(e: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(e)
}

/// A column that is missing or of the wrong type: the stored record is not what we wrote.
fn corrupt(e: sqlx::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Text matched literally inside a `LIKE … ESCAPE '\'` pattern.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn lease_until(now: DateTime<Utc>, lease: Duration) -> i64 {
    micros(now) + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2)
}

impl<DB> Db<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    /// A claim statement ([`claim_outbox_sql`], [`claim_schedule_sql`], or a backend's `EXPLAIN`
    /// of one) with its parameters: who claims, until when, as of when, and how many at most.
    pub(super) fn claim_query<'q>(
        sql: &'static str,
        owner: &'q str,
        until_us: i64,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Query<'q, DB, DB::Arguments> {
        sqlx::query(sql)
            .bind(owner)
            .bind(until_us)
            .bind(micros(now))
            .bind(micros(now))
            .bind(limit)
    }

    /// This process's turn at writing, where the database has one writer at a time.
    pub(super) async fn turn(&self) -> Turn {
        if DB::ONE_WRITER {
            Some(self.turn.clone().lock_owned().await)
        } else {
            None
        }
    }

    /// Opens a transaction that writes, holding the backend's write lock from its first
    /// statement, and the turn that goes with it (keep it until the transaction ends).
    async fn begin_write(&self) -> Result<(Transaction<'static, DB>, Turn), StoreError> {
        let turn = self.turn().await;
        let tx = match DB::BEGIN_WRITE {
            Some(begin) => self.writes.begin_with(begin).await,
            None => self.writes.begin().await,
        }
        .map_err(err)?;
        Ok((tx, turn))
    }

    /// A write transaction that also holds the chain head: nothing else appends until it ends.
    async fn begin_append(&self) -> Result<(Transaction<'static, DB>, Turn), StoreError> {
        let (mut tx, turn) = self.begin_write().await?;
        if let Some(lock) = DB::LOCK_CHAIN_HEAD {
            sqlx::raw_sql(lock).execute(&mut *tx).await.map_err(err)?;
        }
        Ok((tx, turn))
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub(super) async fn events(&self, reference: &str) -> Result<Vec<Event>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(err)?;
        Self::load_events(&mut conn, reference).await
    }

    pub(super) async fn version(&self, reference: &str) -> Result<u64, StoreError> {
        let newest: i64 =
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events WHERE reference = $1")
                .bind(reference)
                .fetch_one(&self.pool)
                .await
                .map_err(err)?;
        Ok(u64::try_from(newest).unwrap_or(0))
    }

    /// A dispute's state: its snapshot, when that is of this build, with the few events after
    /// it (appends rewrite a snapshot once it is [`QUIET_EVENTS`] behind); otherwise folded
    /// from all the events (the next append writes a fresh snapshot).
    pub(super) async fn load(&self, reference: &str) -> Result<Dispute, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(err)?;
        let (newest, version, state): (i64, Option<i64>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT coalesce(max(seq), 0) FROM events WHERE reference = $1),
                    (SELECT version FROM snapshots WHERE reference = $1 AND format = $2),
                    (SELECT state FROM snapshots WHERE reference = $1 AND format = $2)",
        )
        .bind(reference)
        .bind(SNAPSHOT_FORMAT)
        .fetch_one(&mut *conn)
        .await
        .map_err(err)?;
        if let (Some(version), Some(state)) = (version, state)
            && version <= newest
            && let Ok(mut d) = serde_json::from_str::<Dispute>(&state)
            && d.version as i64 == version
        {
            if version < newest {
                for e in Self::load_events_after(&mut conn, reference, version).await? {
                    d.apply(&e);
                }
            }
            if d.version as i64 == newest {
                return Ok(d);
            }
        }
        Ok(Dispute::from_events(
            &Self::load_events(&mut conn, reference).await?,
        ))
    }

    /// Group commit: appends many batches in one transaction, each at its expected version and
    /// after the group's earlier batches. A batch that conflicts (another writer changed its
    /// dispute) or repeats a request is left out — both are found before it writes anything —
    /// and so is every later batch of the same dispute (it was decided on the state the failed
    /// one would have left); the others commit. Any other failure fails the whole group and
    /// records nothing.
    pub(super) async fn append_group(
        &self,
        items: &[(String, u64, &Batch)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let (mut tx, _turn) = self.begin_append().await?;
        let mut head = None;
        let out = Self::append_rows(&mut tx, items, &mut head).await?;
        if out.iter().any(Result::is_ok) {
            tx.commit().await.map_err(err)?;
        } else {
            tx.rollback().await.map_err(err)?;
        }
        Ok(out)
    }

    pub(super) async fn seen_inbound(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT reference FROM inbound_keys WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(err)?;
        Ok(row.map(|(r,)| r.unwrap_or_default()))
    }

    pub(super) async fn append(
        &self,
        reference: &Reference,
        expected: u64,
        batch: &Batch,
    ) -> Result<(), StoreError> {
        let (mut tx, _turn) = self.begin_append().await?;
        let mut head = None;
        Self::append_in(&mut tx, &reference.to_string(), expected, batch, &mut head).await?;
        tx.commit().await.map_err(err)
    }

    pub(super) async fn create<E>(
        &self,
        prefix: &str,
        year: i32,
        build: impl FnOnce(&Reference) -> Result<Batch, E>,
    ) -> Result<Result<(Reference, Batch), E>, StoreError> {
        let (mut tx, _turn) = self.begin_append().await?;
        let number: i64 = sqlx::query_scalar(
            "INSERT INTO reference_counters (prefix, year, last) VALUES ($1, $2, 1)
             ON CONFLICT (prefix, year) DO UPDATE SET last = reference_counters.last + 1
             RETURNING last",
        )
        .bind(prefix)
        .bind(i64::from(year))
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
        let reference = Reference::new(prefix, year, u32::try_from(number).unwrap_or(u32::MAX));
        let batch = match build(&reference) {
            Ok(b) => b,
            Err(e) => {
                tx.rollback().await.map_err(err)?;
                return Ok(Err(e));
            }
        };
        let mut head = None;
        Self::append_in(&mut tx, &reference.to_string(), 0, &batch, &mut head).await?;
        tx.commit().await.map_err(err)?;
        Ok(Ok((reference, batch)))
    }

    pub(super) async fn claim_outbox(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let _turn = self.turn().await;
        let rows = Self::claim_query(DB::CLAIM_OUTBOX, owner, lease_until(now, lease), now, limit)
            .fetch_all(&self.writes)
            .await
            .map_err(err)?;
        let mut out = rows
            .iter()
            .map(Self::outbox_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// Settles a claimed row: sent (with the platform's answer) or parked. The rows combined into
    /// its post are settled with it, in the same transaction: sent with it, or, when it is
    /// parked, freed to go on their own. The lane's next pending row then comes into the ready
    /// range. Holding the lanes as appends do, so a row queued at the same moment is never left
    /// waiting behind a row that is no longer pending.
    pub(super) async fn outbox_finish(
        &self,
        id: i64,
        owner: &str,
        settle: Settle<'_>,
        now: DateTime<Utc>,
        next_slot: Option<&NextSlot>,
    ) -> Result<bool, StoreError> {
        let (mut tx, _turn) = self.begin_append().await?;
        let ours = Self::finish_in(&mut tx, id, owner, settle, now, next_slot).await?;
        tx.commit().await.map_err(err)?;
        Ok(ours)
    }

    /// [`Db::outbox_finish`] in the caller's transaction, which holds the lanes: whether the
    /// row was still `owner`'s to settle.
    pub(super) async fn finish_in(
        conn: &mut DB::Connection,
        id: i64,
        owner: &str,
        settle: Settle<'_>,
        now: DateTime<Utc>,
        next_slot: Option<&NextSlot>,
    ) -> Result<bool, StoreError> {
        let (status, result, error) = match settle {
            Settle::Sent(result) => ("sent", Some(result), None),
            Settle::Parked(why) => ("parked", None, Some(why)),
        };
        let done = sqlx::query(
            "UPDATE outbox SET status = $1, result = $2, last_error = coalesce($3, last_error), done_us = $4,
                               lease_owner = NULL, lease_until_us = NULL
             WHERE id = $5 AND lease_owner = $6 AND status = 'pending'",
        )
        .bind(status)
        .bind(result)
        .bind(error)
        .bind(micros(now))
        .bind(id)
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map_err(err)?;
        let ours = DB::rows_affected(&done) == 1;
        if ours {
            let combined = if status == "sent" {
                sqlx::query(
                    "UPDATE outbox SET status = 'sent', result = $1, done_us = $2
                     WHERE combined_into = $3 AND status = 'pending'",
                )
                .bind(result)
                .bind(micros(now))
                .bind(id)
            } else {
                sqlx::query(
                    "UPDATE outbox SET combined_into = NULL WHERE combined_into = $1 AND status = 'pending'",
                )
                .bind(id)
            };
            combined.execute(&mut *conn).await.map_err(err)?;
            let promoted: Option<(i64, i64, String)> = sqlx::query_as(PROMOTE_NEXT)
                .bind(id)
                .bind(BEHIND_US)
                .fetch_optional(&mut *conn)
                .await
                .map_err(err)?;
            if let (Some(next), Some((next_id, ready, target))) = (next_slot, promoted)
                && !next.spacing.is_zero()
                && let Ok(target) = serde_json::from_str(&target)
                && let Some(pacing) = (next.slot_in)(&target)
            {
                Self::book_promoted(
                    &mut *conn,
                    &pacing,
                    next.spacing,
                    next_id,
                    ready,
                    micros(now),
                )
                .await?;
            }
        }
        Ok(ours)
    }

    /// Books the next posting slot in a pacing row for a row its lane just brought forward
    /// (ready at `ready`), in the caller's transaction, and sets it to wait for it (`spacing`
    /// is not zero: the caller looks first). A row not ready by the end of the next slot (a
    /// reminder queued for later) books nothing: it would hold a slot the channel's other
    /// threads could use.
    async fn book_promoted(
        conn: &mut DB::Connection,
        row: &PacingRow,
        spacing: Duration,
        id: i64,
        ready: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let spacing = spacing_us(spacing);
        if ready > now + spacing {
            return Ok(());
        }
        let (platform, workspace, channel) = (&row.platform, &row.workspace, &row.channel);
        let from = ready.max(now);
        let slot = Self::book_slot_in(conn, platform, workspace, channel, from, spacing).await?;
        sqlx::query(WAIT_FOR_BOOKED)
            .bind(slot)
            .bind(id)
            .bind(SLOT_WHY)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Books a pacing row's next posting slot at or after `from` (microseconds, as is
    /// `spacing`), in the caller's transaction: the slot booked.
    async fn book_slot_in(
        conn: &mut DB::Connection,
        platform: &str,
        workspace: &str,
        channel: &str,
        from: i64,
        spacing: i64,
    ) -> Result<i64, StoreError> {
        let after: i64 = sqlx::query_scalar(BOOK_SLOT)
            .bind(platform)
            .bind(workspace)
            .bind(channel)
            .bind(from + spacing)
            .bind(from)
            .bind(spacing)
            .fetch_one(&mut *conn)
            .await
            .map_err(err)?;
        Ok(after - spacing)
    }

    pub(super) async fn outbox_retry(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        in_doubt_since: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let _turn = self.turn().await;
        let done = sqlx::query(
            "UPDATE outbox SET available_us = $1, last_error = $2, lease_owner = NULL, lease_until_us = NULL,
                    in_doubt_since_us = $5, slot_us = NULL
             WHERE id = $3 AND lease_owner = $4 AND status = 'pending'",
        )
        .bind(micros(retry_at))
        .bind(error)
        .bind(id)
        .bind(owner)
        .bind(in_doubt_since.map(micros))
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    /// Hands a claimed row back untried until `until`. The rows queued behind it in its lane
    /// already wait at [`BEHIND_US`] until it is settled, so only this row is touched, however
    /// long the backlog.
    pub(super) async fn outbox_wait(
        &self,
        id: i64,
        owner: &str,
        why: &str,
        until: DateTime<Utc>,
        slot: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let _turn = self.turn().await;
        let done = sqlx::query(HAND_BACK)
            .bind(micros(until))
            .bind(why)
            .bind(id)
            .bind(owner)
            .bind(slot.map(micros))
            .execute(&self.writes)
            .await
            .map_err(err)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    /// When the next row can be claimed: the earliest ready time of a lane's first pending row
    /// ([`next_outbox_ready_sql`]), or the end of another worker's lease on one
    /// ([`next_outbox_leased_sql`]). None when nothing is pending. Both looks stop at their
    /// first answer, whatever the backlog, and go in one statement ([`NEXT_OUTBOX_DUE`]): an
    /// idle worker asks this before every sleep.
    pub(super) async fn next_outbox_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (ready, leased): (Option<i64>, Option<i64>) = sqlx::query_as(NEXT_OUTBOX_DUE)
            .fetch_one(&self.pool)
            .await
            .map_err(err)?;
        Ok(ready.into_iter().chain(leased).min().map(from_micros))
    }

    /// The pending rows queued behind a row in its lane, in order, at most `limit`: the replies
    /// that may go out with it as one post.
    pub(super) async fn outbox_behind(
        &self,
        id: i64,
        lane: &str,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(OUTBOX_BEHIND)
            .bind(lane)
            .bind(id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        rows.iter().map(Self::outbox_row).collect()
    }

    /// Records which rows the post of a claimed row carries (and that no others do), before it
    /// is made: when its answer never reaches us and the post is found later, exactly these are
    /// marked sent with it. False when the row is no longer ours.
    pub(super) async fn outbox_combine(
        &self,
        id: i64,
        owner: &str,
        rows: &[i64],
    ) -> Result<bool, StoreError> {
        let (mut tx, _turn) = self.begin_write().await?;
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM outbox WHERE id = $1 AND lease_owner = $2 AND status = 'pending'",
        )
        .bind(id)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        if held.is_none() {
            return Ok(false);
        }
        sqlx::query("UPDATE outbox SET combined_into = NULL WHERE combined_into = $1 AND status = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        for row in rows {
            sqlx::query(
                "UPDATE outbox SET combined_into = $1 WHERE id = $2 AND status = 'pending'",
            )
            .bind(id)
            .bind(*row)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    /// Makes every row of one workspace that waits out a back-off ready now (the platform
    /// answered again after failing); rows holding a posting slot keep it. Lanes name the
    /// platform and workspace as `…|{platform}|{workspace}|…`.
    pub(super) async fn release_backoff(
        &self,
        platform: &str,
        workspace: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let pattern = format!("%|{}|{}|%", like_escaped(platform), like_escaped(workspace));
        let _turn = self.turn().await;
        let done = sqlx::query(
            "UPDATE outbox SET available_us = $1
             WHERE status = 'pending' AND lease_owner IS NULL AND available_us > $1
               AND available_us < $3 AND attempts > 0 AND slot_us IS NULL
               AND lane LIKE $2 ESCAPE '\\'",
        )
        .bind(micros(now))
        .bind(pattern)
        .bind(BEHIND_US)
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(DB::rows_affected(&done))
    }

    /// A channel's pacing as every replica sees it: its next free slot, and the end of any
    /// pause on the channel or on its whole workspace (`channel` '').
    pub(super) async fn pace(
        &self,
        platform: &str,
        workspace: &str,
        channel: &str,
    ) -> Result<Pace, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT channel, next_slot_us, paused_until_us FROM delivery_pace
             WHERE platform = $1 AND workspace = $2 AND (channel = $3 OR channel = '')",
        )
        .bind(platform)
        .bind(workspace)
        .bind(channel)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT since_us FROM workspace_holds WHERE platform = $1 AND workspace = $2",
        )
        .bind(platform)
        .bind(workspace)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        let mut pace = Pace {
            held: held.is_some(),
            ..Pace::default()
        };
        for (c, next, paused) in rows {
            if c == channel {
                pace.next_slot = Some(from_micros(next));
            }
            let paused = from_micros(paused);
            if pace.paused_until.is_none_or(|p| p < paused) {
                pace.paused_until = Some(paused);
            }
        }
        Ok(pace)
    }

    /// Books a claimed row's posting slot in its channel and, where the slot is later than
    /// `from`, hands the row back to wait for it: one write transaction where booking and
    /// handing back took two, on every lane's first claim of a busy channel. Replicas booking
    /// at once get different slots. The slot booked.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn book_slot_for(
        &self,
        id: i64,
        owner: &str,
        platform: &str,
        workspace: &str,
        channel: &str,
        from: DateTime<Utc>,
        spacing: Duration,
    ) -> Result<DateTime<Utc>, StoreError> {
        let from = micros(from);
        let (mut tx, _turn) = self.begin_write().await?;
        let slot = Self::book_slot_in(
            &mut tx,
            platform,
            workspace,
            channel,
            from,
            spacing_us(spacing),
        )
        .await?;
        if slot > from {
            sqlx::query(HAND_BACK)
                .bind(slot)
                .bind(SLOT_WHY)
                .bind(id)
                .bind(owner)
                .bind(Some(slot))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(from_micros(slot))
    }

    /// Records that the platform asked us to leave a channel (or, `channel` '', a workspace)
    /// alone until `until`; a later, shorter pause never shortens it.
    pub(super) async fn pause(
        &self,
        platform: &str,
        workspace: &str,
        channel: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _turn = self.turn().await;
        sqlx::query(
            "INSERT INTO delivery_pace (platform, workspace, channel, next_slot_us, paused_until_us)
             VALUES ($1, $2, $3, 0, $4)
             ON CONFLICT (platform, workspace, channel) DO UPDATE
             SET paused_until_us = CASE WHEN delivery_pace.paused_until_us > $5
                                        THEN delivery_pace.paused_until_us ELSE $5 END",
        )
        .bind(platform)
        .bind(workspace)
        .bind(channel)
        .bind(micros(until))
        .bind(micros(until))
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(())
    }

    /// Holds a workspace unless it is held already; true when this call held it. Two replicas
    /// holding at once: one of them gets true.
    pub(super) async fn hold_workspace(
        &self,
        platform: &str,
        workspace: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _turn = self.turn().await;
        let held = sqlx::query(
            "INSERT INTO workspace_holds (platform, workspace, since_us, why) VALUES ($1, $2, $3, $4)
             ON CONFLICT (platform, workspace) DO NOTHING",
        )
        .bind(platform)
        .bind(workspace)
        .bind(micros(now))
        .bind(why)
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(DB::rows_affected(&held) == 1)
    }

    /// Lifts a workspace's hold and makes its rows that wait unleased for a later time ready
    /// now (rows holding a posting slot keep it). Lanes name the platform and workspace as
    /// `…|{platform}|{workspace}|…`.
    pub(super) async fn release_hold(
        &self,
        platform: &str,
        workspace: &str,
        now: DateTime<Utc>,
    ) -> Result<(bool, u64), StoreError> {
        let pattern = format!("%|{}|{}|%", like_escaped(platform), like_escaped(workspace));
        let (mut tx, _turn) = self.begin_write().await?;
        let lifted =
            sqlx::query("DELETE FROM workspace_holds WHERE platform = $1 AND workspace = $2")
                .bind(platform)
                .bind(workspace)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        let ready = sqlx::query(
            "UPDATE outbox SET available_us = $1
             WHERE status = 'pending' AND lease_owner IS NULL AND available_us > $1
               AND available_us < $3 AND slot_us IS NULL AND lane LIKE $2 ESCAPE '\\'",
        )
        .bind(micros(now))
        .bind(pattern)
        .bind(BEHIND_US)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok((DB::rows_affected(&lifted) == 1, DB::rows_affected(&ready)))
    }

    pub(super) async fn held_workspaces(&self) -> Result<Vec<HeldWorkspace>, StoreError> {
        let rows: Vec<(String, String, i64, String, i64)> = sqlx::query_as(
            "SELECT h.platform, h.workspace, h.since_us, h.why,
                    (SELECT count(*) FROM outbox o
                     WHERE o.status = 'pending'
                       AND o.lane LIKE '%|' || h.platform || '|' || h.workspace || '|%')
             FROM workspace_holds h
             ORDER BY h.platform, h.workspace",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|(platform, workspace, since, why, waiting)| HeldWorkspace {
                platform,
                workspace,
                since: from_micros(since),
                why,
                waiting,
            })
            .collect())
    }

    pub(super) async fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        let (pending, parked, oldest, held): (i64, i64, Option<i64>, i64) = sqlx::query_as(
            "SELECT count(CASE WHEN status = 'pending' THEN 1 END),
                    count(CASE WHEN status = 'parked' THEN 1 END),
                    min(CASE WHEN status = 'pending' THEN created_us END),
                    count(CASE WHEN status = 'pending' AND EXISTS (
                        SELECT 1 FROM workspace_holds h
                        WHERE outbox.lane LIKE '%|' || h.platform || '|' || h.workspace || '|%')
                          THEN 1 END)
             FROM outbox",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(err)?;
        Ok(OutboxDepth {
            pending,
            parked,
            held,
            oldest_pending: oldest.map(from_micros),
        })
    }

    pub(super) async fn claim_schedule(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ScheduleRow>, StoreError> {
        let _turn = self.turn().await;
        let rows = Self::claim_query(
            DB::CLAIM_SCHEDULE,
            owner,
            lease_until(now, lease),
            now,
            limit,
        )
        .fetch_all(&self.writes)
        .await
        .map_err(err)?;
        let mut out = rows
            .iter()
            .map(Self::schedule_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|r| (r.due_at, r.id));
        Ok(out)
    }

    pub(super) async fn next_schedule_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let due: Option<i64> =
            sqlx::query_scalar("SELECT min(due_us) FROM schedule WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await
                .map_err(err)?;
        Ok(due.map(from_micros))
    }

    pub(super) async fn schedule_done(
        &self,
        id: i64,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _turn = self.turn().await;
        let done = sqlx::query(
            "UPDATE schedule SET status = 'done', done_us = $1, lease_owner = NULL, lease_until_us = NULL
             WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
        )
        .bind(micros(now))
        .bind(id)
        .bind(owner)
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(super) async fn dispute_row(
        &self,
        reference: &str,
    ) -> Result<Option<DisputeRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM disputes WHERE reference = $1")
            .bind(reference)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        row.as_ref().map(Self::dispute_row_of).transpose()
    }

    pub(super) async fn open_for_person(
        &self,
        person: &str,
    ) -> Result<Vec<DisputeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT d.* FROM disputes d JOIN dispute_people p ON p.reference = d.reference
             WHERE p.person = $1 AND d.status = 'open' ORDER BY d.reference",
        )
        .bind(person)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(Self::dispute_row_of).collect()
    }

    pub(super) async fn open_for_agency(
        &self,
        agency: &str,
    ) -> Result<Vec<DisputeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.* FROM disputes d JOIN dispute_agencies a ON a.reference = d.reference
             WHERE a.agency = $1 AND d.status = 'open' ORDER BY d.reference",
        )
        .bind(agency)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(Self::dispute_row_of).collect()
    }

    pub(super) async fn projection_snapshot(&self) -> Result<Projection, StoreError> {
        let disputes = sqlx::query("SELECT * FROM disputes")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?
            .iter()
            .map(Self::dispute_row_of)
            .collect::<Result<Vec<_>, _>>()?;
        let people = sqlx::query_as("SELECT reference, person, relation FROM dispute_people")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let agencies = sqlx::query_as("SELECT reference, agency, side FROM dispute_agencies")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let threads =
            sqlx::query_as("SELECT reference, platform, workspace, channel, thread FROM threads")
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
        let mut p = Projection {
            disputes,
            people,
            agencies,
            threads,
        };
        p.sort();
        Ok(p)
    }

    pub(super) async fn rebuild_projections(&self) -> Result<u64, StoreError> {
        let (mut tx, _turn) = self.begin_append().await?;
        for table in [
            "DELETE FROM disputes",
            "DELETE FROM dispute_people",
            "DELETE FROM dispute_agencies",
            "DELETE FROM threads",
            "DELETE FROM dispute_log",
            "DELETE FROM snapshots",
        ] {
            sqlx::query(table).execute(&mut *tx).await.map_err(err)?;
        }
        let refs: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT reference FROM events ORDER BY reference")
                .fetch_all(&mut *tx)
                .await
                .map_err(err)?;
        for (reference,) in &refs {
            let events = Self::load_events(&mut tx, reference).await?;
            Self::write_projection(&mut tx, reference, &Dispute::from_events(&events)).await?;
            Self::put_log_line(
                &mut tx,
                reference,
                LogLine::fold(reference, &events).as_ref(),
            )
            .await?;
        }
        tx.commit().await.map_err(err)?;
        Ok(refs.len() as u64)
    }

    pub(super) async fn thread(
        &self,
        reference: &str,
        platform: &str,
        workspace: &str,
        channel: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT thread FROM threads WHERE reference = $1 AND platform = $2 AND workspace = $3 AND channel = $4",
        )
        .bind(reference)
        .bind(platform)
        .bind(workspace)
        .bind(channel)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)
    }

    pub(super) async fn record_directory(
        &self,
        sha256: &str,
        content: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _turn = self.turn().await;
        let done = sqlx::query(
            "INSERT INTO directory_versions (sha256, loaded_us, content) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(micros(at))
        .bind(content)
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(super) async fn apply_directory(
        &self,
        sha256: &str,
        content: &str,
        summary: &str,
        based_on: i64,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let (mut tx, _turn) = self.begin_write().await?;
        let newest: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM directory_changes")
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
        let newest = newest.unwrap_or(0);
        if newest != based_on {
            return Err(StoreError::DirectoryChanged { based_on, newest });
        }
        sqlx::query(
            "INSERT INTO directory_versions (sha256, loaded_us, content) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(micros(at))
        .bind(content)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        // Another replica may apply a change on the same one meanwhile: the unique `based_on`
        // lets only one of them in.
        let seq = sqlx::query_scalar(
            "INSERT INTO directory_changes (sha256, applied_us, summary, based_on) VALUES ($1, $2, $3, $4) RETURNING seq",
        )
        .bind(sha256)
        .bind(micros(at))
        .bind(summary)
        .bind(based_on)
        .fetch_one(&mut *tx)
        .await;
        let seq: i64 = match seq {
            Ok(seq) => seq,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                drop(tx);
                let newest: Option<i64> =
                    sqlx::query_scalar("SELECT max(seq) FROM directory_changes")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(err)?;
                return Err(StoreError::DirectoryChanged {
                    based_on,
                    newest: newest.unwrap_or(0),
                });
            }
            Err(e) => return Err(err(e)),
        };
        tx.commit().await.map_err(err)?;
        Ok(seq)
    }

    pub(super) async fn directory_change(&self) -> Result<(Option<i64>, Option<i64>), StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT max(seq) FROM directory_changes) AS changes, (SELECT max(seq) FROM identity_links) AS links",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(err)?;
        Ok((
            row.try_get("changes").map_err(corrupt)?,
            row.try_get("links").map_err(corrupt)?,
        ))
    }

    pub(super) async fn link_identity(
        &self,
        platform: &str,
        workspace: &str,
        user: &str,
        email: Option<&str>,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let _turn = self.turn().await;
        sqlx::query_scalar(
            "INSERT INTO identity_links (platform, workspace, user_id, email, at_us, by_whom) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        )
        .bind(platform)
        .bind(workspace)
        .bind(user)
        .bind(email)
        .bind(micros(at))
        .bind(by)
        .fetch_one(&self.writes)
        .await
        .map_err(err)
    }

    pub(super) async fn identity_link(
        &self,
        platform: &str,
        workspace: &str,
        user: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT email FROM identity_links WHERE platform = $1 AND workspace = $2 AND user_id = $3 ORDER BY seq DESC LIMIT 1",
        )
        .bind(platform)
        .bind(workspace)
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        Ok(row.and_then(|(email,)| email))
    }

    pub(super) async fn identity_links_since(
        &self,
        seq: i64,
    ) -> Result<Vec<super::IdentityLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, platform, workspace, user_id, email, at_us, by_whom FROM identity_links WHERE seq > $1 ORDER BY seq",
        )
        .bind(seq)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter()
            .map(|r| {
                Ok(super::IdentityLink {
                    seq: r.try_get("seq").map_err(corrupt)?,
                    platform: r.try_get("platform").map_err(corrupt)?,
                    workspace: r.try_get("workspace").map_err(corrupt)?,
                    user: r.try_get("user_id").map_err(corrupt)?,
                    email: r.try_get("email").map_err(corrupt)?,
                    at: from_micros(r.try_get("at_us").map_err(corrupt)?),
                    by: r.try_get("by_whom").map_err(corrupt)?,
                })
            })
            .collect()
    }

    pub(super) async fn current_directory(
        &self,
    ) -> Result<Option<super::AppliedDirectory>, StoreError> {
        let row = sqlx::query(
            "SELECT c.seq, c.sha256, v.content FROM directory_changes c JOIN directory_versions v ON v.sha256 = c.sha256 ORDER BY c.seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(super::AppliedDirectory {
                seq: r.try_get("seq").map_err(corrupt)?,
                sha256: r.try_get("sha256").map_err(corrupt)?,
                content: r.try_get("content").map_err(corrupt)?,
            })),
        }
    }

    pub(super) async fn claim_inbound(
        &self,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _turn = self.turn().await;
        let done = sqlx::query(
            "INSERT INTO inbound_keys (key, reference, at_us) VALUES ($1, NULL, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(micros(at))
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(super) async fn enqueue(
        &self,
        reference: &str,
        rows: &[NewOutbox],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (mut tx, _turn) = self.begin_append().await?;
        let created = micros(at);
        let rows: Vec<(&str, i64, &NewOutbox)> =
            rows.iter().map(|o| (reference, created, o)).collect();
        let mut lanes: Vec<&str> = rows.iter().map(|(_, _, o)| o.lane.as_str()).collect();
        lanes.sort_unstable();
        lanes.dedup();
        let busy = DB::look(&mut tx, &[], &[], &lanes, false).await?.busy;
        let mut w = writes::Writes::new();
        Self::insert_outbox_rows(&mut tx, &mut w, &rows, &busy).await?;
        w.flush(&mut tx).await?;
        tx.commit().await.map_err(err)
    }

    pub(super) async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let rows = sqlx::query("SELECT * FROM events ORDER BY global_seq")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let rows = rows
            .iter()
            .map(Self::stored_event)
            .collect::<Result<Vec<_>, _>>()?;
        let mut v = Verifier::default();
        let mut broken = None;
        for row in &rows {
            if let Err(b) = v.check(row) {
                broken = Some(b);
                break;
            }
        }
        let (seq, hash, reference, event): (i64, String, String, i64) =
            sqlx::query_as("SELECT global_seq, hash, reference, seq FROM chain_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await
                .map_err(err)?;
        let mut report = v.finish(seq, &hash, (reference, event), broken);
        if report.broken.is_none() {
            let outside = Outside {
                counters: sqlx::query_as("SELECT prefix, year, last FROM reference_counters")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(err)?,
                inbound: sqlx::query_as("SELECT key, reference, at_us FROM inbound_keys")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(err)?,
                live: self.projection_snapshot().await?,
            };
            report.inconsistencies = cross_check(&rows, &outside);
        }
        Ok(report)
    }

    /// The sealed head: the newest event's position in the log and its hash (0 and "" when empty).
    pub(super) async fn head(&self) -> Result<(i64, String), StoreError> {
        sqlx::query_as("SELECT global_seq, hash FROM chain_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(err)
    }

    /// Checks one signed checkpoint against the log (its signature with `public_key` first).
    pub(super) async fn check_checkpoint(
        &self,
        checkpoint: &Checkpoint,
        public_key: &[u8],
    ) -> Result<CheckpointFinding, StoreError> {
        if !checkpoint.signed_by(public_key) {
            return Ok(CheckpointFinding::BadSignature);
        }
        let found: Option<String> =
            sqlx::query_scalar("SELECT hash FROM events WHERE global_seq = $1")
                .bind(checkpoint.position)
                .fetch_optional(&self.pool)
                .await
                .map_err(err)?;
        Ok(match found {
            Some(h) if h == checkpoint.head => CheckpointFinding::Held,
            Some(found) => CheckpointFinding::Rewritten { found },
            None => {
                let newest: Option<i64> = sqlx::query_scalar("SELECT max(global_seq) FROM events")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(err)?;
                let newest = newest.unwrap_or(0);
                if newest >= checkpoint.position {
                    // The position is inside the log but its event is gone: removed and renumbered.
                    CheckpointFinding::Rewritten {
                        found: String::new(),
                    }
                } else {
                    CheckpointFinding::Missing { newest }
                }
            }
        })
    }

    // ---- what adapters keep for themselves ----

    pub(super) async fn adapter_get(
        &self,
        adapter: &str,
        key: &str,
    ) -> Result<Option<AdapterEntry>, StoreError> {
        let row = sqlx::query("SELECT * FROM adapter_state WHERE adapter = $1 AND key = $2")
            .bind(adapter)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        row.as_ref().map(Self::adapter_entry).transpose()
    }

    pub(super) async fn adapter_put(
        &self,
        adapter: &str,
        key: &str,
        value: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _turn = self.turn().await;
        sqlx::query(
            "INSERT INTO adapter_state (adapter, key, value, updated_us) VALUES ($1, $2, $3, $4)
             ON CONFLICT (adapter, key) DO UPDATE SET value = excluded.value, updated_us = excluded.updated_us",
        )
        .bind(adapter)
        .bind(key)
        .bind(value.to_string())
        .bind(micros(at))
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub(super) async fn adapter_list(
        &self,
        adapter: &str,
        prefix: &str,
    ) -> Result<Vec<AdapterEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM adapter_state WHERE adapter = $1 AND substr(key, 1, length($2)) = $2 ORDER BY key",
        )
        .bind(adapter)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(Self::adapter_entry).collect()
    }

    pub(super) async fn adapter_next(
        &self,
        adapter: &str,
        counter: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let _turn = self.turn().await;
        let value: String = sqlx::query_scalar(
            "INSERT INTO adapter_state (adapter, key, value, updated_us) VALUES ($1, $2, '1', $3)
             ON CONFLICT (adapter, key) DO UPDATE
                 SET value = CAST(CAST(adapter_state.value AS BIGINT) + 1 AS TEXT), updated_us = excluded.updated_us
             RETURNING value",
        )
        .bind(adapter)
        .bind(counter)
        .bind(micros(at))
        .fetch_one(&self.writes)
        .await
        .map_err(err)?;
        value
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{adapter}'s counter {counter} is {value:?}")))
    }

    // ---- inside a transaction ----

    /// A dispute's events, in order (its numbers start at 1).
    async fn load_events(
        conn: &mut DB::Connection,
        reference: &str,
    ) -> Result<Vec<Event>, StoreError> {
        Self::load_events_after(conn, reference, 0).await
    }

    /// A dispute's events after its `after`th, in order.
    async fn load_events_after(
        conn: &mut DB::Connection,
        reference: &str,
        after: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM events WHERE reference = $1 AND seq > $2 ORDER BY seq")
                .bind(reference)
                .bind(after)
                .fetch_all(&mut *conn)
                .await
                .map_err(err)?;
        rows.iter()
            .map(|r| Self::stored_event(r)?.event())
            .collect()
    }

    /// Writes a batch in the caller's write transaction, which holds the chain head.
    async fn append_in(
        conn: &mut DB::Connection,
        reference: &str,
        expected: u64,
        batch: &Batch,
        head: &mut Option<Head>,
    ) -> Result<(), StoreError> {
        let items = [(reference.to_string(), expected, batch)];
        Self::append_rows(conn, &items, head)
            .await?
            .into_iter()
            .next()
            .unwrap_or(Ok(()))
    }

    async fn put_log_line(
        conn: &mut DB::Connection,
        reference: &str,
        line: Option<&LogLine>,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dispute_log WHERE reference = $1")
            .bind(reference)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        let Some(l) = line else {
            return Ok(());
        };
        let text = serde_json::to_string(l)
            .map_err(|e| StoreError::Corrupt(format!("the log line of {reference}: {e}")))?;
        sqlx::query(
            "INSERT INTO dispute_log (reference, board, raised_us, raising, receiving, line)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(reference)
        .bind(&l.board)
        .bind(micros(l.raised))
        .bind(&l.raising)
        .bind(&l.receiving)
        .bind(text)
        .execute(&mut *conn)
        .await
        .map_err(err)?;
        Ok(())
    }

    /// Keeps the dispute's state after its newest event beside the projection rows.
    async fn write_snapshot(
        conn: &mut DB::Connection,
        reference: &str,
        d: &Dispute,
    ) -> Result<(), StoreError> {
        let state = serde_json::to_string(d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO snapshots (reference, version, format, state) VALUES ($1, $2, $3, $4)
             ON CONFLICT (reference) DO UPDATE
             SET version = excluded.version, format = excluded.format, state = excluded.state",
        )
        .bind(reference)
        .bind(d.version as i64)
        .bind(SNAPSHOT_FORMAT)
        .bind(state)
        .execute(&mut *conn)
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn write_projection(
        conn: &mut DB::Connection,
        reference: &str,
        d: &Dispute,
    ) -> Result<(), StoreError> {
        for table in [
            "DELETE FROM disputes WHERE reference = $1",
            "DELETE FROM dispute_people WHERE reference = $1",
            "DELETE FROM dispute_agencies WHERE reference = $1",
            "DELETE FROM threads WHERE reference = $1",
            "DELETE FROM snapshots WHERE reference = $1",
        ] {
            sqlx::query(table)
                .bind(reference)
                .execute(&mut *conn)
                .await
                .map_err(err)?;
        }
        let Some(p) = projection::rows_for(d) else {
            return Ok(());
        };
        Self::write_snapshot(conn, reference, d).await?;
        for r in &p.disputes {
            sqlx::query(
                "INSERT INTO disputes (reference, policy, status, stage, tier, stage_name, due_us, urgent, raised_by,
                                       raising_agency, receiving_agency, first_raised_us, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&r.reference)
            .bind(&r.policy)
            .bind(&r.status)
            .bind(r.stage)
            .bind(r.tier)
            .bind(&r.stage_name)
            .bind(r.due.map(micros))
            .bind(i64::from(r.urgent))
            .bind(&r.raised_by)
            .bind(&r.raising_agency)
            .bind(&r.receiving_agency)
            .bind(micros(r.first_raised))
            .bind(r.version)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        }
        for (reference, person, relation) in &p.people {
            sqlx::query(
                "INSERT INTO dispute_people (reference, person, relation) VALUES ($1, $2, $3)",
            )
            .bind(reference)
            .bind(person)
            .bind(relation)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        }
        for (reference, agency, side) in &p.agencies {
            sqlx::query(
                "INSERT INTO dispute_agencies (reference, agency, side) VALUES ($1, $2, $3)",
            )
            .bind(reference)
            .bind(agency)
            .bind(side)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        }
        for (reference, platform, workspace, channel, thread) in &p.threads {
            sqlx::query(
                "INSERT INTO threads (reference, platform, workspace, channel, thread) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(reference)
            .bind(platform)
            .bind(workspace)
            .bind(channel)
            .bind(thread)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        }
        Ok(())
    }

    // ---- rows ----

    fn stored_event(r: &DB::Row) -> Result<StoredEvent, StoreError> {
        Ok(StoredEvent {
            global_seq: r.try_get("global_seq").map_err(corrupt)?,
            reference: r.try_get("reference").map_err(corrupt)?,
            seq: r.try_get("seq").map_err(corrupt)?,
            at_us: r.try_get("at_us").map_err(corrupt)?,
            actor: r.try_get("actor").map_err(corrupt)?,
            kind: r.try_get("kind").map_err(corrupt)?,
            body: r.try_get("body").map_err(corrupt)?,
            prev_hash: r.try_get("prev_hash").map_err(corrupt)?,
            prev_global_hash: r.try_get("prev_global_hash").map_err(corrupt)?,
            hash: r.try_get("hash").map_err(corrupt)?,
        })
    }

    fn outbox_row(r: &DB::Row) -> Result<OutboxRow, StoreError> {
        Ok(OutboxRow {
            id: r.try_get("id").map_err(corrupt)?,
            idempotency_key: r.try_get("idempotency_key").map_err(corrupt)?,
            reference: r.try_get("reference").map_err(corrupt)?,
            lane: r.try_get("lane").map_err(corrupt)?,
            target: json(r.try_get("target").map_err(corrupt)?)?,
            payload: json(r.try_get("payload").map_err(corrupt)?)?,
            attempts: r.try_get("attempts").map_err(corrupt)?,
            created_at: from_micros(r.try_get("created_us").map_err(corrupt)?),
            available_at: from_micros(r.try_get("available_us").map_err(corrupt)?),
            claimed_at: r
                .try_get::<Option<i64>, _>("claimed_us")
                .map_err(corrupt)?
                .map(from_micros),
            in_doubt_since: r
                .try_get::<Option<i64>, _>("in_doubt_since_us")
                .map_err(corrupt)?
                .map(from_micros),
            slot: r
                .try_get::<Option<i64>, _>("slot_us")
                .map_err(corrupt)?
                .map(from_micros),
        })
    }

    fn schedule_row(r: &DB::Row) -> Result<ScheduleRow, StoreError> {
        Ok(ScheduleRow {
            id: r.try_get("id").map_err(corrupt)?,
            idempotency_key: r.try_get("idempotency_key").map_err(corrupt)?,
            reference: r.try_get("reference").map_err(corrupt)?,
            kind: r.try_get("kind").map_err(corrupt)?,
            due_at: from_micros(r.try_get("due_us").map_err(corrupt)?),
            payload: json(r.try_get("payload").map_err(corrupt)?)?,
        })
    }

    fn dispute_row_of(r: &DB::Row) -> Result<DisputeRow, StoreError> {
        let due: Option<i64> = r.try_get("due_us").map_err(corrupt)?;
        let urgent: i64 = r.try_get("urgent").map_err(corrupt)?;
        Ok(DisputeRow {
            reference: r.try_get("reference").map_err(corrupt)?,
            policy: r.try_get("policy").map_err(corrupt)?,
            status: r.try_get("status").map_err(corrupt)?,
            stage: r.try_get("stage").map_err(corrupt)?,
            tier: r.try_get("tier").map_err(corrupt)?,
            stage_name: r.try_get("stage_name").map_err(corrupt)?,
            due: due.map(from_micros),
            urgent: urgent != 0,
            raised_by: r.try_get("raised_by").map_err(corrupt)?,
            raising_agency: r.try_get("raising_agency").map_err(corrupt)?,
            receiving_agency: r.try_get("receiving_agency").map_err(corrupt)?,
            first_raised: from_micros(r.try_get("first_raised_us").map_err(corrupt)?),
            version: r.try_get("version").map_err(corrupt)?,
        })
    }

    fn adapter_entry(r: &DB::Row) -> Result<AdapterEntry, StoreError> {
        Ok(AdapterEntry {
            key: r.try_get("key").map_err(corrupt)?,
            value: json(r.try_get("value").map_err(corrupt)?)?,
            updated_at: from_micros(r.try_get("updated_us").map_err(corrupt)?),
        })
    }
}

/// The Board's view: the challenge log's reads, a dispute's checked record, sign-in and views.
impl<DB> Db<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    pub(super) async fn log_lines(&self, scope: &LogScope) -> Result<Vec<LogLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT reference, line FROM dispute_log
             WHERE board = $1 AND raised_us >= $2 AND raised_us < $3
               AND ($4 = '' OR raising = $4 OR receiving = $4)
             ORDER BY reference",
        )
        .bind(scope.board.as_str())
        .bind(scope.from.map_or(i64::MIN, micros))
        .bind(scope.to.map_or(i64::MAX, micros))
        .bind(scope.agency.as_deref().unwrap_or(""))
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter()
            .map(|r| {
                let reference: &str = r.try_get(0usize).map_err(corrupt)?;
                let line: &str = r.try_get(1usize).map_err(corrupt)?;
                serde_json::from_str(line).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "the log line of {reference} cannot be read ({e}); run `escalation-bot db rebuild-projections` to build it again from the record"
                    ))
                })
            })
            .collect()
    }

    /// Gives every dispute without a log line (a database from before the lines were kept) its
    /// line, folded from its record; how many were added.
    pub(super) async fn backfill_log_lines(&self) -> Result<u64, StoreError> {
        let missing: Vec<(String,)> = sqlx::query_as(
            "SELECT d.reference FROM disputes d LEFT JOIN dispute_log l ON l.reference = d.reference
             WHERE l.reference IS NULL ORDER BY d.reference",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        if missing.is_empty() {
            return Ok(0);
        }
        let (mut tx, _turn) = self.begin_append().await?;
        for (reference,) in &missing {
            let events = Self::load_events(&mut tx, reference).await?;
            Self::put_log_line(
                &mut tx,
                reference,
                LogLine::fold(reference, &events).as_ref(),
            )
            .await?;
        }
        tx.commit().await.map_err(err)?;
        Ok(missing.len() as u64)
    }

    pub(super) async fn dispute_record(
        &self,
        reference: &str,
    ) -> Result<Option<DisputeRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM events WHERE reference = $1 ORDER BY seq")
            .bind(reference)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM disputes WHERE reference = $1")
                .bind(reference)
                .fetch_optional(&self.pool)
                .await
                .map_err(err)?;
        if rows.is_empty() && version.is_none() {
            return Ok(None);
        }
        let mut verifier = Verifier::default();
        let mut broken = None;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let stored = Self::stored_event(row)?;
            if broken.is_none()
                && let Err(b) = verifier.check(&stored)
            {
                broken = Some(b);
            }
            match stored.event() {
                Ok(event) => events.push(RecordedEvent {
                    seq: stored.seq,
                    event,
                    hash: stored.hash.clone(),
                }),
                Err(e) if broken.is_some() => tracing::warn!("{e}"),
                Err(e) => return Err(e),
            }
        }
        let last = rows.len() as i64;
        if broken.is_none()
            && let Some(version) = version.filter(|v| *v > last)
        {
            broken = Some(BrokenLink {
                reference: reference.to_string(),
                seq: last + 1,
                problem: format!(
                    "the dispute's state was built from {version} events but only {last} are in the record: the newest were removed"
                ),
            });
        }
        Ok(Some(DisputeRecord {
            reference: reference.to_string(),
            events,
            broken,
        }))
    }

    pub(super) async fn append_new_many(
        &self,
        batches: &[(String, Batch)],
    ) -> Result<(), StoreError> {
        let (mut tx, _turn) = self.begin_append().await?;
        let mut head = None;
        let items: Vec<(String, u64, &Batch)> =
            batches.iter().map(|(r, b)| (r.clone(), 0, b)).collect();
        for result in Self::append_rows(&mut tx, &items, &mut head).await? {
            result?;
        }
        tx.commit().await.map_err(err)
    }

    pub(super) async fn record_view(&self, view: &RecordView) -> Result<(), StoreError> {
        let _turn = self.turn().await;
        sqlx::query(
            "INSERT INTO record_views (reference, person, what, at_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(view.reference.as_str())
        .bind(view.person.as_str())
        .bind(view.what.as_str())
        .bind(micros(view.at))
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub(super) async fn record_views(
        &self,
        reference: &str,
    ) -> Result<Vec<RecordView>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT person, what, at_us FROM record_views WHERE reference = $1 ORDER BY id",
        )
        .bind(reference)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|(person, what, at)| RecordView {
                reference: reference.to_string(),
                person,
                what,
                at: from_micros(at),
            })
            .collect())
    }

    pub(super) async fn add_sign_in_link(
        &self,
        token_hash: &str,
        person: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _turn = self.turn().await;
        sqlx::query(
            "INSERT INTO board_links (token_hash, person, created_us, expires_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(person)
        .bind(micros(now))
        .bind(micros(expires))
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub(super) async fn use_sign_in_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let _turn = self.turn().await;
        // One statement marks the link used and returns its person only when it was still
        // unused and unexpired: two racing uses of one link cannot both sign in.
        sqlx::query_scalar(
            "UPDATE board_links SET used_us = $1
             WHERE token_hash = $2 AND used_us IS NULL AND expires_us > $3
             RETURNING person",
        )
        .bind(micros(now))
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&self.writes)
        .await
        .map_err(err)
    }

    pub(super) async fn add_board_session(
        &self,
        token_hash: &str,
        person: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _turn = self.turn().await;
        sqlx::query(
            "INSERT INTO board_sessions (token_hash, person, created_us, expires_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(person)
        .bind(micros(now))
        .bind(micros(expires))
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub(super) async fn board_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT person FROM board_sessions
             WHERE token_hash = $1 AND ended_us IS NULL AND expires_us > $2",
        )
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(err)
    }

    pub(super) async fn end_board_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _turn = self.turn().await;
        sqlx::query(
            "UPDATE board_sessions SET ended_us = $1 WHERE token_hash = $2 AND ended_us IS NULL",
        )
        .bind(micros(now))
        .bind(token_hash)
        .execute(&self.writes)
        .await
        .map_err(err)?;
        Ok(())
    }
}

/// Refuses a database whose schema is newer than `migrator` knows: an older binary must not
/// write to it.
pub(super) async fn refuse_newer_schema<'c, DB, E>(
    executor: E,
    migrator: &Migrator,
) -> Result<(), StoreError>
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    E: Executor<'c, Database = DB>,
    (Option<i64>,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let found: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(executor)
        .await
        .map_err(err)?;
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match found.filter(|f| *f > known) {
        Some(found) => Err(StoreError::NewerSchema { found, known }),
        None => Ok(()),
    }
}

/// A posting slot's spacing in microseconds, as `delivery_pace` keeps times.
fn spacing_us(spacing: Duration) -> i64 {
    i64::try_from(spacing.as_micros()).unwrap_or(i64::MAX / 4)
}

/// Whether a statement failed on a unique or primary key, as the driver classifies the error.
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement run again and again is compiled once on SQLite. SQLite compiles a
    /// statement again at a run whose bound values differ from those it read while compiling
    /// (a bare `LIMIT $n` is one such read); `rusqlite` reads SQLite's count of recompiles.
    #[test]
    fn the_statements_the_worker_and_scheduler_repeat_are_compiled_once_on_sqlite() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let db = rusqlite::Connection::open(folder.path().join("compiled.db")).expect("opens");
        for migration in super::super::sqlite::MIGRATOR.iter() {
            db.execute_batch(migration.sql.as_str())
                .expect("a migration applies");
        }
        let repeated = [
            ("claim", claim_outbox_sql!("")),
            ("schedule claim", claim_schedule_sql!("")),
            ("rows behind", OUTBOX_BEHIND),
            ("promote", PROMOTE_NEXT),
            ("wait for a booked slot", WAIT_FOR_BOOKED),
            ("book a slot", BOOK_SLOT),
            ("hand back", HAND_BACK),
            ("next due", next_outbox_ready_sql!()),
            ("next lease end", next_outbox_leased_sql!()),
            ("next due and lease end", NEXT_OUTBOX_DUE),
        ];
        for (name, sql) in repeated {
            let mut statement = db.prepare(sql).expect("the statement compiles");
            for run in 1..=3_i64 {
                for i in 1..=statement.parameter_count() {
                    let value = run * 100 + i64::try_from(i).expect("a small index");
                    statement.raw_bind_parameter(i, value).expect("binds");
                }
                let mut rows = statement.raw_query();
                while rows.next().expect("runs").is_some() {}
            }
            let recompiled = statement.get_status(rusqlite::StatementStatus::RePrepare);
            assert_eq!(
                recompiled, 0,
                "{name} was compiled again {recompiled} times"
            );
        }
    }

    #[test]
    fn the_look_for_the_next_row_due_leaves_out_rows_waiting_behind() {
        assert!(next_outbox_ready_sql!().contains(&format!("available_us < {BEHIND_US}")));
    }
}
