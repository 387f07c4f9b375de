//! The embedded backend: one SQLite file in WAL mode; one process writes at a time.

use super::StoreError;
use super::chain::StoredEvent;
use super::sql::{
    Db, Dialect, KeyRow, Look, OutboxInsert, Step, Writes, claim_outbox_sql, claim_schedule_sql,
    err, next_outbox_leased_sql, next_outbox_ready_sql, refuse_newer_schema,
};
use super::{BulkSchedule, micros};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row, Sqlite, SqliteConnection};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// `PRAGMA application_id` of our files: "ESCB".
const APPLICATION_ID: i64 = 1_163_084_354;

/// The SQLite schema's migrations, embedded; the recompile test in `sql.rs` builds on them too.
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

/// The SQLite store.
pub type SqliteStore = Db<Sqlite>;

impl Dialect for Sqlite {
    // One writer at a time for the whole file: `BEGIN IMMEDIATE` takes the write lock at once,
    // so a transaction that read under a shared lock is never refused its upgrade half-way.
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const LOCK_CHAIN_HEAD: Option<&'static str> = None;
    // The write lock already keeps claimers apart.
    const CLAIM_OUTBOX: &'static str = claim_outbox_sql!("");
    const CLAIM_SCHEDULE: &'static str = claim_schedule_sql!("");
    const ONE_WRITER: bool = true;
    const KEEP_SIZED_STATEMENTS: bool = true;
    const MANY_STATEMENTS: bool = true;
    const ANONYMOUS_PLACEHOLDERS: bool = true;

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn look<'a>(
        conn: &'a mut SqliteConnection,
        references: &'a [&'a str],
        keys: &'a [&'a str],
        lanes: &'a [&'a str],
        with_head: bool,
    ) -> Step<'a, Look> {
        Box::pin(Db::<Sqlite>::look_values(
            conn, references, keys, lanes, with_head,
        ))
    }

    fn insert_keys<'a>(
        conn: &'a mut SqliteConnection,
        w: &'a mut Writes<Self>,
        rows: &'a [KeyRow<'a>],
    ) -> Step<'a, ()> {
        Box::pin(Db::<Sqlite>::insert_keys_values(conn, w, rows))
    }

    fn insert_events<'a>(
        conn: &'a mut SqliteConnection,
        w: &'a mut Writes<Self>,
        rows: &'a [&'a StoredEvent],
    ) -> Step<'a, ()> {
        Box::pin(Db::<Sqlite>::insert_events_values(conn, w, rows))
    }

    fn insert_outbox<'a>(
        conn: &'a mut SqliteConnection,
        w: &'a mut Writes<Self>,
        rows: &'a [OutboxInsert<'a>],
    ) -> Step<'a, ()> {
        Box::pin(Db::<Sqlite>::insert_outbox_values(conn, w, rows))
    }

    fn set_versions<'a>(
        conn: &'a mut SqliteConnection,
        w: &'a mut Writes<Self>,
        rows: &'a [(&'a str, i64)],
    ) -> Step<'a, ()> {
        Box::pin(Db::<Sqlite>::set_versions_values(conn, w, rows))
    }
}

/// When and how far the WAL is copied back into the database, beside the writer.
#[derive(Debug, Clone, Copy)]
struct Checkpoints {
    /// How often while writes come.
    every: Duration,
    /// How often while none do.
    idle: Duration,
    /// WAL pages after which the WAL is copied in the writer's turn: steady writes leave the
    /// writer no moment when the WAL is all copied, which is when SQLite starts it afresh, so
    /// without this it would grow for as long as they last.
    restart_after: i64,
}

impl Checkpoints {
    const DEFAULT: Checkpoints = Checkpoints {
        // Copying once a second, not more often, leaves the disk to the writer's syncs for
        // longer, and copies a page written many times in that second once. Measured at full
        // speed, 2,700 notes a second against 2,400 when copying every 200 ms.
        every: Duration::from_millis(1000),
        idle: Duration::from_secs(2),
        // 64 MiB of 4 KiB pages: at full speed, about every two seconds.
        restart_after: 16_384,
    };
}

/// Most copies made to catch up before the copy in the writer's turn.
const CATCH_UP_ROUNDS: usize = 8;
/// Pages a catching-up copy may find and still be the last before the writer's turn: about a
/// millisecond of the database file's sync.
const CATCH_UP_PAGES: i64 = 64;

/// How long a checkpoint waits for a reader in its way before trying again later.
const CHECKPOINT_BUSY: Duration = Duration::from_millis(100);

/// Copies the WAL back into the database while the store is open (`turn` is the writer's,
/// gone when the store is): a passive checkpoint, which neither waits for nor holds up the
/// writer or the readers, as often as writes come; and, once the WAL passes its bound, a few more
/// to catch up with the writer, then one in the writer's turn, which finds little left to copy.
/// A failed checkpoint is logged and tried again.
async fn checkpoint_while_open(
    mut conn: SqliteConnection,
    turn: std::sync::Weak<tokio::sync::Mutex<()>>,
    limits: Checkpoints,
) {
    let mut wait = limits.idle;
    let mut last = (0, 0);
    loop {
        tokio::time::sleep(wait).await;
        let Some(turn) = turn.upgrade() else {
            let _ = conn.close().await;
            return;
        };
        let (pages, copied) = match copy_back(&mut conn).await {
            Ok(counts) => counts,
            Err(e) => {
                tracing::warn!(error = %e, "the database's WAL could not be copied back; trying again");
                wait = limits.idle;
                continue;
            }
        };
        if pages > limits.restart_after {
            // The copy in the writer's turn holds up every request waiting on the writer, and
            // its time is mostly the database file's sync of the pages it copies. So first copy
            // what was written during the copy just made, again while each round finds fewer,
            // until a round finds only a few: the copy in the turn then finds about as few.
            let mut done = copied;
            for _ in 0..CATCH_UP_ROUNDS {
                let Ok((_, now)) = copy_back(&mut conn).await else {
                    break;
                };
                let fresh = now - done;
                done = now;
                if fresh <= CATCH_UP_PAGES {
                    break;
                }
            }
            // Between two of the writer's transactions, copy the few pages written since:
            // the WAL is then all copied, and the writer's next transaction starts it afresh.
            // Nothing here waits for readers (one still reading older pages only puts this off).
            let _turn = turn.lock().await;
            if let Err(e) = copy_back(&mut conn).await {
                tracing::warn!(error = %e, "the database's WAL could not be copied back; trying again");
            }
        }
        wait = if (pages, copied) == last && pages == copied {
            limits.idle
        } else {
            limits.every
        };
        last = (pages, copied);
    }
}

/// One passive checkpoint: the WAL's frames, and how many of them are copied back now.
async fn copy_back(conn: &mut SqliteConnection) -> Result<(i64, i64), sqlx::Error> {
    let (_, frames, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await?;
    Ok((frames, copied))
}

/// A reader connection's page cache, in KiB as `PRAGMA cache_size` takes it (negative).
const READER_CACHE_KIB: &str = "-256";

impl Db<Sqlite> {
    pub(super) async fn open(path: &str) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, None, Checkpoints::DEFAULT).await
    }

    async fn open_with(
        path: &str,
        max_pages: Option<u64>,
        checkpoints: Checkpoints,
    ) -> Result<SqliteStore, StoreError> {
        let file = Path::new(path);
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().readonly()
        {
            return Err(StoreError::ReadOnly(format!("{path} is marked read-only")));
        }
        let base = SqliteConnectOptions::from_str(&format!("sqlite:{path}"))
            .map_err(|e| StoreError::Open(format!("{path}: {e}")))?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10));
        // Look before touching: switching to WAL writes the file header, so someone else's
        // database is checked on a connection that changes nothing.
        let mut probe = base
            .clone()
            .connect()
            .await
            .map_err(|e| cannot_open(path, e))?;
        let checked = check_ours(&mut probe, path).await;
        let _ = probe.close().await;
        checked?;
        // A statement of a group that changes more than 64 KiB of pages keeps their old content
        // in a statement journal, which SQLite otherwise moves into a new temporary file (five
        // system calls, and a file created and removed, tens of times a second under load).
        let mut options = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        if let Some(pages) = max_pages {
            options = options.pragma("max_page_count", pages.to_string());
        }
        // A connection to a local file does not go stale the way a network one can, so it is
        // not pinged each time it is taken from the pool: that was a round trip before every
        // transaction, the writer's included.
        // Readers keep a small page cache: each commit by the writer empties a reader's cache
        // at its next read (SQLite starts a connection's cache afresh when another changed the
        // file), so a large one bought nothing but the time to empty it and the memory.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone().pragma("cache_size", READER_CACHE_KIB))
            .await
            .map_err(|e| cannot_open(path, e))?;
        // The writer never copies the WAL back into the database itself, which SQLite does by
        // default inside the commit that passes 1,000 pages: that commit (and every request
        // waiting on it) took several milliseconds more. A task does it beside the writer
        // ([`checkpoint_while_open`]).
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(
                options
                    .clone()
                    .statement_cache_capacity(super::sql::WRITER_STATEMENTS)
                    .pragma("wal_autocheckpoint", "0"),
            )
            .await
            .map_err(|e| cannot_open(path, e))?;
        let store = Db::with_writer(pool, writes);
        store.migrate().await?;
        // The checkpointer's own connection: it never waits long for readers (a checkpoint
        // that finds one in the way is tried again later), and it takes no reader's place.
        let checkpointer = options
            .busy_timeout(CHECKPOINT_BUSY)
            .connect()
            .await
            .map_err(|e| cannot_open(path, e))?;
        tokio::spawn(checkpoint_while_open(
            checkpointer,
            std::sync::Arc::downgrade(&store.turn),
            checkpoints,
        ));
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// How SQLite runs the outbox claim and the look for the next row due: `EXPLAIN QUERY
    /// PLAN`, one line per step, each named by its statement.
    pub(super) async fn explain_outbox(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let claim = Self::claim_query(
            concat!("EXPLAIN QUERY PLAN ", claim_outbox_sql!("")),
            "explain",
            micros(now),
            now,
            limit,
        );
        let mut lines = Vec::new();
        for (name, query) in [
            ("claim", claim),
            (
                "next due",
                sqlx::query(concat!("EXPLAIN QUERY PLAN ", next_outbox_ready_sql!())),
            ),
            (
                "next lease end",
                sqlx::query(concat!("EXPLAIN QUERY PLAN ", next_outbox_leased_sql!())),
            ),
        ] {
            for row in query.fetch_all(&self.pool).await.map_err(err)? {
                let detail = row.try_get::<String, _>("detail").unwrap_or_default();
                lines.push(format!("{name}: {detail}"));
            }
        }
        Ok(lines)
    }

    /// How SQLite runs the claim: `EXPLAIN QUERY PLAN`, one line per step.
    pub(super) async fn explain_claim_schedule(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let explain = concat!("EXPLAIN QUERY PLAN ", claim_schedule_sql!(""));
        let rows = Self::claim_query(explain, "explain", micros(now), now, limit)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap_or_default())
            .collect())
    }

    pub(super) async fn insert_schedule(&self, rows: &[BulkSchedule]) -> Result<u64, StoreError> {
        let _turn = self.turn().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        let mut added = 0;
        for r in rows {
            let done = sqlx::query(
                "INSERT INTO schedule (idempotency_key, reference, kind, due_us, payload, status, done_us)
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&r.row.idempotency_key)
            .bind(&r.reference)
            .bind(&r.row.kind)
            .bind(micros(r.row.due_at))
            .bind(r.row.payload.to_string())
            .bind(if r.done_at.is_some() { "done" } else { "pending" })
            .bind(r.done_at.map(micros))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            added += done.rows_affected();
        }
        tx.commit().await.map_err(err)?;
        Ok(added)
    }
}

/// Why a file could not be opened, naming it.
fn cannot_open(path: &str, e: sqlx::Error) -> StoreError {
    match StoreError::from_sqlx(e) {
        StoreError::Database(m) => StoreError::Open(format!("{path}: {m}")),
        StoreError::NotOurs(m) => StoreError::NotOurs(format!("{path} ({m})")),
        other => other,
    }
}

/// Refuses files that belong to something else, and schemas newer than this binary.
async fn check_ours(conn: &mut SqliteConnection, path: &str) -> Result<(), StoreError> {
    let id: i64 = sqlx::query_scalar("PRAGMA application_id")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| match StoreError::from_sqlx(e) {
            StoreError::Database(m) | StoreError::NotOurs(m) => {
                StoreError::NotOurs(format!("{path} ({m})"))
            }
            other => other,
        })?;
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        .fetch_one(&mut *conn)
        .await
        .map_err(err)?;
    if id != APPLICATION_ID && tables > 0 {
        return Err(StoreError::NotOurs(path.to_string()));
    }
    if tables > 0 {
        refuse_newer_schema(&mut *conn, &MIGRATOR).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::{Event, Reference};
    use crate::store::Batch;

    #[tokio::test]
    async fn a_full_database_refuses_the_append_clearly_and_keeps_what_it_had() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("full.db");
        let path = path.to_str().expect("utf-8 path");
        // Create and migrate normally, then reopen with a page limit just above the current size.
        let store = SqliteStore::open(path).await.expect("open");
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&store.pool)
            .await
            .expect("pages");
        store.pool.close().await;
        store.writes.close().await;
        let store = SqliteStore::open_with(path, Some(pages as u64), Checkpoints::DEFAULT)
            .await
            .expect("reopen");
        let big = "x".repeat(200_000);
        let event = Event {
            at: Utc::now(),
            actor: None,
            directory: None,
            body: crate::escalation::EventBody::LearningReferred { text: big },
        };
        let batch = Batch {
            events: vec![event],
            ..Batch::default()
        };
        let r = Reference::new("NSAB", 2026, 1);
        let e = store.append(&r, 0, &batch).await.expect_err("disk full");
        assert!(matches!(e, StoreError::Full), "{e:?}");
        assert!(e.to_string().contains("nothing was written"));
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&store.pool)
            .await
            .expect("count");
        assert_eq!(count, 0);
    }

    /// The writer never copies the WAL back itself; under steady writes, with no moment when
    /// the WAL is all copied, the checkpointer still brings it back to its start.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_afresh_under_steady_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("wal.db");
        let path = path.to_str().expect("utf-8 path");
        let limits = Checkpoints {
            every: Duration::from_millis(10),
            idle: Duration::from_millis(10),
            restart_after: 60,
        };
        let store = SqliteStore::open_with(path, None, limits)
            .await
            .expect("open");
        let r = Reference::new("NSAB", 2026, 1);
        let text = "x".repeat(8_000);
        // About three pages a write, 360 in all, one write straight after another.
        for version in 0..120u64 {
            let event = Event {
                at: Utc::now(),
                actor: None,
                directory: None,
                body: crate::escalation::EventBody::LearningReferred { text: text.clone() },
            };
            let batch = Batch {
                events: vec![event],
                ..Batch::default()
            };
            store.append(&r, version, &batch).await.expect("appends");
        }
        // How many pages the WAL holds now (a passive look copies, but never shortens it).
        let (_, pages, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&store.pool)
            .await
            .expect("reads the WAL");
        assert!(
            pages < 200,
            "the WAL holds {pages} pages: it was never started afresh"
        );
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&store.pool)
            .await
            .expect("count");
        assert_eq!(count, 120);
    }

    #[tokio::test]
    async fn a_duplicate_key_is_recognised_by_the_drivers_error_kind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("dup.db");
        let store = SqliteStore::open(path.to_str().expect("utf-8 path"))
            .await
            .expect("open");
        let insert = "INSERT INTO inbound_keys (key, reference, at_us) VALUES ('k', NULL, 0)";
        sqlx::query(insert)
            .execute(&store.pool)
            .await
            .expect("first insert");
        let e = sqlx::query(insert)
            .execute(&store.pool)
            .await
            .expect_err("second insert");
        assert!(crate::store::sql::is_unique_violation(&e), "{e:?}");
    }
}
