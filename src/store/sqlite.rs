//! The embedded backend: one SQLite file in WAL mode; one process writes at a time.

use super::chain::{self, StoredEvent, Verifier};
use super::projection::{self, DisputeRow, Projection};
use super::{
    Batch, OutboxDepth, OutboxRow, ScheduleRow, StoreError, VerifyReport, from_micros, micros,
};
use crate::escalation::{Dispute, Event, Reference};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// `PRAGMA application_id` of our files: "ESCB".
const APPLICATION_ID: i64 = 1_163_084_354;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

/// Claims due schedule rows: the oldest first, through the `(status, due_us, id)` index, so the
/// cost grows with the rows due, never with the rows waiting for later.
macro_rules! claim_schedule_sql {
    () => {
        "UPDATE schedule SET lease_owner = ?, lease_until_us = ?, attempts = attempts + 1
         WHERE id IN (SELECT id FROM schedule
                      WHERE status = 'pending' AND due_us <= ?
                        AND (lease_until_us IS NULL OR lease_until_us < ?)
                      ORDER BY due_us, id LIMIT ?)
         RETURNING id, idempotency_key, reference, kind, due_us, payload"
    };
}

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn err(e: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(e)
}

impl SqliteStore {
    pub(super) async fn open(path: &str) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, None).await
    }

    async fn open_with(path: &str, max_pages: Option<u64>) -> Result<SqliteStore, StoreError> {
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
        let mut probe =
            base.clone()
                .connect()
                .await
                .map_err(|e| match StoreError::from_sqlx(e) {
                    StoreError::Database(m) => StoreError::Open(format!("{path}: {m}")),
                    StoreError::NotOurs(m) => StoreError::NotOurs(format!("{path} ({m})")),
                    other => other,
                })?;
        let checked = check_ours(&mut probe, path).await;
        let _ = probe.close().await;
        checked?;
        let mut options = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        if let Some(pages) = max_pages {
            options = options.pragma("max_page_count", pages.to_string());
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| match StoreError::from_sqlx(e) {
                StoreError::Database(m) => StoreError::Open(format!("{path}: {m}")),
                StoreError::NotOurs(m) => StoreError::NotOurs(format!("{path} ({m})")),
                other => other,
            })?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
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
        load_events(&mut conn, reference).await
    }

    pub(super) async fn seen_inbound(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT reference FROM inbound_keys WHERE key = ?")
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
        _unused: Option<()>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        append_in(&mut tx, &reference.to_string(), expected, batch).await?;
        tx.commit().await.map_err(err)
    }

    pub(super) async fn create<E>(
        &self,
        prefix: &str,
        year: i32,
        build: impl FnOnce(&Reference) -> Result<Batch, E>,
    ) -> Result<Result<(Reference, Batch), E>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        let number: i64 = sqlx::query_scalar(
            "INSERT INTO reference_counters (prefix, year, last) VALUES (?, ?, 1)
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
        append_in(&mut tx, &reference.to_string(), 0, &batch).await?;
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
        let until = micros(now) + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2);
        let rows = sqlx::query(
            "UPDATE outbox SET lease_owner = ?, lease_until_us = ?, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox
                          WHERE status = 'pending' AND available_us <= ?
                            AND (lease_until_us IS NULL OR lease_until_us < ?)
                            AND NOT EXISTS (SELECT 1 FROM outbox earlier
                                            WHERE earlier.lane = outbox.lane AND earlier.status = 'pending'
                                              AND earlier.id < outbox.id)
                          ORDER BY id LIMIT ?)
             RETURNING id, idempotency_key, reference, target, payload, attempts, created_us",
        )
        .bind(owner)
        .bind(until)
        .bind(micros(now))
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let mut out = rows.iter().map(outbox_row).collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    pub(super) async fn outbox_finish(
        &self,
        id: i64,
        owner: &str,
        status: &str,
        result: Option<&str>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET status = ?, result = ?, last_error = coalesce(?, last_error), done_us = ?,
                               lease_owner = NULL, lease_until_us = NULL
             WHERE id = ? AND lease_owner = ? AND status = 'pending'",
        )
        .bind(status)
        .bind(result)
        .bind(error)
        .bind(micros(now))
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn outbox_retry(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET available_us = ?, last_error = ?, lease_owner = NULL, lease_until_us = NULL
             WHERE id = ? AND lease_owner = ? AND status = 'pending'",
        )
        .bind(micros(retry_at))
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        let (pending, parked, oldest): (i64, i64, Option<i64>) = sqlx::query_as(
            "SELECT coalesce(sum(status = 'pending'), 0), coalesce(sum(status = 'parked'), 0),
                    min(CASE WHEN status = 'pending' THEN created_us END)
             FROM outbox",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(err)?;
        Ok(OutboxDepth {
            pending,
            parked,
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
        let until = micros(now) + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2);
        let rows = sqlx::query(claim_schedule_sql!())
            .bind(owner)
            .bind(until)
            .bind(micros(now))
            .bind(micros(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let mut out = rows
            .iter()
            .map(schedule_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|r| (r.due_at, r.id));
        Ok(out)
    }

    /// How SQLite runs the claim: `EXPLAIN QUERY PLAN`, one line per step.
    pub(super) async fn explain_claim_schedule(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(concat!("EXPLAIN QUERY PLAN ", claim_schedule_sql!()))
            .bind("explain")
            .bind(micros(now))
            .bind(micros(now))
            .bind(micros(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap_or_default())
            .collect())
    }

    pub(super) async fn insert_schedule(
        &self,
        rows: &[super::BulkSchedule],
    ) -> Result<u64, StoreError> {
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

    pub(super) async fn schedule_done(
        &self,
        id: i64,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE schedule SET status = 'done', done_us = ?, lease_owner = NULL, lease_until_us = NULL
             WHERE id = ? AND lease_owner = ? AND status = 'pending'",
        )
        .bind(micros(now))
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn dispute_row(
        &self,
        reference: &str,
    ) -> Result<Option<DisputeRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM disputes WHERE reference = ?")
            .bind(reference)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        row.as_ref().map(dispute_row).transpose()
    }

    pub(super) async fn open_for_person(
        &self,
        person: &str,
    ) -> Result<Vec<DisputeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT d.* FROM disputes d JOIN dispute_people p ON p.reference = d.reference
             WHERE p.person = ? AND d.status = 'open' ORDER BY d.reference",
        )
        .bind(person)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(dispute_row).collect()
    }

    pub(super) async fn open_for_agency(
        &self,
        agency: &str,
    ) -> Result<Vec<DisputeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.* FROM disputes d JOIN dispute_agencies a ON a.reference = d.reference
             WHERE a.agency = ? AND d.status = 'open' ORDER BY d.reference",
        )
        .bind(agency)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(dispute_row).collect()
    }

    pub(super) async fn projection_snapshot(&self) -> Result<Projection, StoreError> {
        let disputes = sqlx::query("SELECT * FROM disputes")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?
            .iter()
            .map(dispute_row)
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        for table in [
            "DELETE FROM disputes",
            "DELETE FROM dispute_people",
            "DELETE FROM dispute_agencies",
            "DELETE FROM threads",
        ] {
            sqlx::query(table).execute(&mut *tx).await.map_err(err)?;
        }
        let refs: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT reference FROM events ORDER BY reference")
                .fetch_all(&mut *tx)
                .await
                .map_err(err)?;
        for (reference,) in &refs {
            let events = load_events(&mut tx, reference).await?;
            write_projection(&mut tx, reference, &Dispute::from_events(&events)).await?;
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
            "SELECT thread FROM threads WHERE reference = ? AND platform = ? AND workspace = ? AND channel = ?",
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
        let done = sqlx::query(
            "INSERT INTO directory_versions (sha256, loaded_us, content) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(micros(at))
        .bind(content)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn claim_inbound(
        &self,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("INSERT INTO inbound_keys (key, reference, at_us) VALUES (?, NULL, ?) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(micros(at))
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn enqueue(
        &self,
        reference: &str,
        rows: &[super::NewOutbox],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        for o in rows {
            sqlx::query(
                "INSERT INTO outbox (idempotency_key, reference, lane, target, payload, created_us, available_us)
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&o.idempotency_key)
            .bind(reference)
            .bind(&o.lane)
            .bind(o.target.to_string())
            .bind(o.payload.to_string())
            .bind(micros(at))
            .bind(micros(o.available_at))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    pub(super) async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let rows = sqlx::query("SELECT * FROM events ORDER BY global_seq")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let mut v = Verifier::default();
        let mut broken = None;
        for row in &rows {
            if let Err(b) = v.check(&stored_event(row)?) {
                broken = Some(b);
                break;
            }
        }
        let (seq, hash, reference, event): (i64, String, String, i64) =
            sqlx::query_as("SELECT global_seq, hash, reference, seq FROM chain_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await
                .map_err(err)?;
        Ok(v.finish(seq, &hash, (reference, event), broken))
    }

    pub(super) async fn teams_service_url(
        &self,
        tenant: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT service_url FROM teams_tenants WHERE tenant = ?")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)
    }

    pub(super) async fn remember_teams_service_url(
        &self,
        tenant: &str,
        url: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO teams_tenants (tenant, service_url, updated_us) VALUES (?, ?, ?)
             ON CONFLICT (tenant) DO UPDATE SET service_url = excluded.service_url, updated_us = excluded.updated_us",
        )
        .bind(tenant)
        .bind(url)
        .bind(micros(at))
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub(super) async fn teams_user_id(
        &self,
        tenant: &str,
        aad_object_id: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT user_id FROM teams_users WHERE tenant = ? AND aad_object_id = ?")
            .bind(tenant)
            .bind(aad_object_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)
    }

    pub(super) async fn remember_teams_user(
        &self,
        tenant: &str,
        aad_object_id: &str,
        user_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO teams_users (tenant, aad_object_id, user_id, updated_us) VALUES (?, ?, ?, ?)
             ON CONFLICT (tenant, aad_object_id) DO UPDATE SET user_id = excluded.user_id, updated_us = excluded.updated_us",
        )
        .bind(tenant)
        .bind(aad_object_id)
        .bind(user_id)
        .bind(micros(at))
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
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
        let found: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(err)?;
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(found) = found.filter(|f| *f > known) {
            return Err(StoreError::NewerSchema { found, known });
        }
    }
    Ok(())
}

async fn load_events(
    conn: &mut SqliteConnection,
    reference: &str,
) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query("SELECT * FROM events WHERE reference = ? ORDER BY seq")
        .bind(reference)
        .fetch_all(&mut *conn)
        .await
        .map_err(err)?;
    rows.iter().map(|r| stored_event(r)?.event()).collect()
}

async fn append_in(
    conn: &mut SqliteConnection,
    reference: &str,
    expected: u64,
    batch: &Batch,
) -> Result<(), StoreError> {
    let now_us = batch.events.first().map_or(0, |e| micros(e.at));
    if let Some(key) = &batch.inbound_key {
        let inserted = sqlx::query("INSERT INTO inbound_keys (key, reference, at_us) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(reference)
            .bind(now_us)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Duplicate);
        }
    }
    // Check the version cheaply before decoding anything: a losing racer fails fast.
    let found: i64 =
        sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events WHERE reference = ?")
            .bind(reference)
            .fetch_one(&mut *conn)
            .await
            .map_err(err)?;
    let found = found as u64;
    if found != expected {
        return Err(StoreError::Conflict {
            reference: reference.to_string(),
            expected,
            found,
        });
    }
    let last_hash: String =
        sqlx::query_scalar("SELECT hash FROM events WHERE reference = ? ORDER BY seq DESC LIMIT 1")
            .bind(reference)
            .fetch_optional(&mut *conn)
            .await
            .map_err(err)?
            .unwrap_or_default();
    let (_, head_hash): (i64, String) =
        sqlx::query_as("SELECT global_seq, hash FROM chain_head WHERE id = 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(err)?;
    let rows = chain::link(
        reference,
        expected as i64 + 1,
        last_hash,
        head_hash,
        &batch.events,
    )?;
    let mut head = None;
    for r in &rows {
        let global_seq: i64 = sqlx::query_scalar(
            "INSERT INTO events (reference, seq, at_us, actor, kind, body, prev_hash, prev_global_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING global_seq",
        )
        .bind(&r.reference)
        .bind(r.seq)
        .bind(r.at_us)
        .bind(&r.actor)
        .bind(&r.kind)
        .bind(&r.body)
        .bind(&r.prev_hash)
        .bind(&r.prev_global_hash)
        .bind(&r.hash)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| match StoreError::from_sqlx(e) {
            StoreError::Database(m) if m.contains("UNIQUE") => StoreError::Conflict {
                reference: reference.to_string(),
                expected,
                found: expected + 1,
            },
            other => other,
        })?;
        head = Some((global_seq, r.hash.clone(), r.seq));
    }
    if let Some((global_seq, hash, seq)) = head {
        sqlx::query(
            "UPDATE chain_head SET global_seq = ?, hash = ?, reference = ?, seq = ? WHERE id = 1",
        )
        .bind(global_seq)
        .bind(hash)
        .bind(reference)
        .bind(seq)
        .execute(&mut *conn)
        .await
        .map_err(err)?;
    }
    for kind in &batch.cancel_schedule_kinds {
        sqlx::query("UPDATE schedule SET status = 'cancelled', done_us = ? WHERE reference = ? AND kind = ? AND status = 'pending'")
            .bind(now_us)
            .bind(reference)
            .bind(kind)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
    }
    for o in &batch.outbox {
        sqlx::query(
            "INSERT INTO outbox (idempotency_key, reference, lane, target, payload, created_us, available_us)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&o.idempotency_key)
        .bind(reference)
        .bind(&o.lane)
        .bind(o.target.to_string())
        .bind(o.payload.to_string())
        .bind(now_us)
        .bind(micros(o.available_at))
        .execute(&mut *conn)
        .await
        .map_err(err)?;
    }
    for s in &batch.schedule {
        sqlx::query(
            "INSERT INTO schedule (idempotency_key, reference, kind, due_us, payload)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&s.idempotency_key)
        .bind(reference)
        .bind(&s.kind)
        .bind(micros(s.due_at))
        .bind(s.payload.to_string())
        .execute(&mut *conn)
        .await
        .map_err(err)?;
    }
    let state = match &batch.after {
        Some(after) if after.version == expected + batch.events.len() as u64 => after.clone(),
        // The new events are already inserted: folding what is stored gives the state after.
        _ => Dispute::from_events(&load_events(conn, reference).await?),
    };
    write_projection(conn, reference, &state).await
}

async fn write_projection(
    conn: &mut SqliteConnection,
    reference: &str,
    d: &Dispute,
) -> Result<(), StoreError> {
    for table in [
        "DELETE FROM disputes WHERE reference = ?",
        "DELETE FROM dispute_people WHERE reference = ?",
        "DELETE FROM dispute_agencies WHERE reference = ?",
        "DELETE FROM threads WHERE reference = ?",
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
    for r in &p.disputes {
        sqlx::query(
            "INSERT INTO disputes (reference, policy, status, stage, tier, stage_name, due_us, urgent, raised_by,
                                   raising_agency, receiving_agency, first_raised_us, version)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        sqlx::query("INSERT INTO dispute_people (reference, person, relation) VALUES (?, ?, ?)")
            .bind(reference)
            .bind(person)
            .bind(relation)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
    }
    for (reference, agency, side) in &p.agencies {
        sqlx::query("INSERT INTO dispute_agencies (reference, agency, side) VALUES (?, ?, ?)")
            .bind(reference)
            .bind(agency)
            .bind(side)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
    }
    for (reference, platform, workspace, channel, thread) in &p.threads {
        sqlx::query("INSERT INTO threads (reference, platform, workspace, channel, thread) VALUES (?, ?, ?, ?, ?)")
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

fn stored_event(r: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    Ok(StoredEvent {
        global_seq: r.try_get("global_seq").map_err(get)?,
        reference: r.try_get("reference").map_err(get)?,
        seq: r.try_get("seq").map_err(get)?,
        at_us: r.try_get("at_us").map_err(get)?,
        actor: r.try_get("actor").map_err(get)?,
        kind: r.try_get("kind").map_err(get)?,
        body: r.try_get("body").map_err(get)?,
        prev_hash: r.try_get("prev_hash").map_err(get)?,
        prev_global_hash: r.try_get("prev_global_hash").map_err(get)?,
        hash: r.try_get("hash").map_err(get)?,
    })
}

fn json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn outbox_row(r: &SqliteRow) -> Result<OutboxRow, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    Ok(OutboxRow {
        id: r.try_get("id").map_err(get)?,
        idempotency_key: r.try_get("idempotency_key").map_err(get)?,
        reference: r.try_get("reference").map_err(get)?,
        target: json(r.try_get("target").map_err(get)?)?,
        payload: json(r.try_get("payload").map_err(get)?)?,
        attempts: r.try_get("attempts").map_err(get)?,
        created_at: from_micros(r.try_get("created_us").map_err(get)?),
    })
}

fn schedule_row(r: &SqliteRow) -> Result<ScheduleRow, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    Ok(ScheduleRow {
        id: r.try_get("id").map_err(get)?,
        idempotency_key: r.try_get("idempotency_key").map_err(get)?,
        reference: r.try_get("reference").map_err(get)?,
        kind: r.try_get("kind").map_err(get)?,
        due_at: from_micros(r.try_get("due_us").map_err(get)?),
        payload: json(r.try_get("payload").map_err(get)?)?,
    })
}

fn dispute_row(r: &SqliteRow) -> Result<DisputeRow, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    let due: Option<i64> = r.try_get("due_us").map_err(get)?;
    let urgent: i64 = r.try_get("urgent").map_err(get)?;
    Ok(DisputeRow {
        reference: r.try_get("reference").map_err(get)?,
        policy: r.try_get("policy").map_err(get)?,
        status: r.try_get("status").map_err(get)?,
        stage: r.try_get("stage").map_err(get)?,
        tier: r.try_get("tier").map_err(get)?,
        stage_name: r.try_get("stage_name").map_err(get)?,
        due: due.map(from_micros),
        urgent: urgent != 0,
        raised_by: r.try_get("raised_by").map_err(get)?,
        raising_agency: r.try_get("raising_agency").map_err(get)?,
        receiving_agency: r.try_get("receiving_agency").map_err(get)?,
        first_raised: from_micros(r.try_get("first_raised_us").map_err(get)?),
        version: r.try_get("version").map_err(get)?,
    })
}

// ---- the sandbox adapter's posts and demo clock ----

impl SqliteStore {
    pub(super) async fn sandbox_post(
        &self,
        post: &super::NewSandboxPost,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO sandbox_posts (kind, reference, channel, thread, person, message, posted_us, updated_us)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&post.kind)
        .bind(&post.reference)
        .bind(&post.channel)
        .bind(post.thread)
        .bind(&post.person)
        .bind(post.message.to_string())
        .bind(micros(post.at))
        .bind(micros(post.at))
        .fetch_one(&self.pool)
        .await
        .map_err(err)
    }

    pub(super) async fn sandbox_update_root(
        &self,
        id: i64,
        message: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sandbox_posts SET message = ?, updated_us = ?, revision = revision + 1
             WHERE id = ? AND kind = 'root'",
        )
        .bind(message.to_string())
        .bind(micros(at))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn sandbox_posts(&self) -> Result<Vec<super::SandboxPost>, StoreError> {
        let rows = sqlx::query("SELECT * FROM sandbox_posts ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        rows.iter().map(sandbox_post_row).collect()
    }

    pub(super) async fn sandbox_clock_offset(&self) -> Result<i64, StoreError> {
        let offset: Option<i64> =
            sqlx::query_scalar("SELECT offset_us FROM sandbox_clock WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(err)?;
        Ok(offset.unwrap_or(0))
    }

    pub(super) async fn set_sandbox_clock_offset(&self, offset_us: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sandbox_clock (id, offset_us) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET offset_us = excluded.offset_us",
        )
        .bind(offset_us)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
    }
}

fn sandbox_post_row(r: &SqliteRow) -> Result<super::SandboxPost, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    Ok(super::SandboxPost {
        id: r.try_get("id").map_err(get)?,
        kind: r.try_get("kind").map_err(get)?,
        reference: r.try_get("reference").map_err(get)?,
        channel: r.try_get("channel").map_err(get)?,
        thread: r.try_get("thread").map_err(get)?,
        person: r.try_get("person").map_err(get)?,
        message: json(r.try_get("message").map_err(get)?)?,
        posted_at: from_micros(r.try_get("posted_us").map_err(get)?),
        updated_at: from_micros(r.try_get("updated_us").map_err(get)?),
        revision: r.try_get("revision").map_err(get)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let store = SqliteStore::open_with(path, Some(pages as u64))
            .await
            .expect("reopen");
        let big = "x".repeat(200_000);
        let event = Event {
            at: Utc::now(),
            actor: None,
            body: crate::escalation::EventBody::LearningReferred { text: big },
        };
        let batch = Batch {
            events: vec![event],
            ..Batch::default()
        };
        let r = Reference::new("NSAB", 2026, 1);
        let e = store
            .append(&r, 0, &batch, None)
            .await
            .expect_err("disk full");
        assert!(matches!(e, StoreError::Full), "{e:?}");
        assert!(e.to_string().contains("nothing was written"));
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&store.pool)
            .await
            .expect("count");
        assert_eq!(count, 0);
    }
}
