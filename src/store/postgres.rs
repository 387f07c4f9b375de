//! The shared backend: PostgreSQL, for several replicas. Appends serialise on the sealed chain
//! head row; workers claim outbox and schedule rows with `FOR UPDATE SKIP LOCKED` and a lease.

use super::chain::{self, StoredEvent, Verifier};
use super::projection::{self, DisputeRow, Projection};
use super::{
    Batch, OutboxDepth, OutboxRow, ScheduleRow, StoreError, VerifyReport, from_micros, micros,
};
use crate::escalation::{Dispute, Event, Reference};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/postgres");

/// Claims due schedule rows: the oldest first, through the `(status, due_us, id)` index, so the
/// cost grows with the rows due, never with the rows waiting for later. Rows another replica is
/// claiming at the same moment are skipped, not waited for.
macro_rules! claim_schedule_sql {
    () => {
        "UPDATE schedule SET lease_owner = $1, lease_until_us = $2, attempts = attempts + 1
         WHERE id IN (SELECT id FROM schedule
                      WHERE status = 'pending' AND due_us <= $3
                        AND (lease_until_us IS NULL OR lease_until_us < $4)
                      ORDER BY due_us, id LIMIT $5 FOR UPDATE SKIP LOCKED)
         RETURNING id, idempotency_key, reference, kind, due_us, payload"
    };
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

fn err(e: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(e)
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl PgStore {
    pub(super) async fn open(url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| StoreError::Open(format!("{}: {e}", redacted(url))))?;
        let store = PgStore { pool };
        store.check_ours(&redacted(url)).await?;
        MIGRATOR
            .run(&store.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(store)
    }

    /// Refuses databases holding other applications' tables, and schemas newer than this binary.
    async fn check_ours(&self, url: &str) -> Result<(), StoreError> {
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let names: Vec<&str> = tables.iter().map(|(t,)| t.as_str()).collect();
        if !names.is_empty() && !names.contains(&"chain_head") {
            return Err(StoreError::NotOurs(url.to_string()));
        }
        if names.contains(&"_sqlx_migrations") {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(err)?;
            let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
            if let Some(found) = found.filter(|f| *f > known) {
                return Err(StoreError::NewerSchema { found, known });
            }
        }
        Ok(())
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
        _unused: Option<()>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        append_in(&mut tx, &reference.to_string(), expected, batch).await?;
        tx.commit().await.map_err(err)
    }

    pub(super) async fn create<E>(
        &self,
        prefix: &str,
        year: i32,
        build: impl FnOnce(&Reference) -> Result<Batch, E>,
    ) -> Result<Result<(Reference, Batch), E>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("SELECT global_seq FROM chain_head WHERE id = 1 FOR UPDATE")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
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
            "UPDATE outbox SET lease_owner = $1, lease_until_us = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox
                          WHERE status = 'pending' AND available_us <= $3
                            AND (lease_until_us IS NULL OR lease_until_us < $4)
                            AND NOT EXISTS (SELECT 1 FROM outbox earlier
                                            WHERE earlier.lane = outbox.lane AND earlier.status = 'pending'
                                              AND earlier.id < outbox.id)
                          ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
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
            "UPDATE outbox SET available_us = $1, last_error = $2, lease_owner = NULL, lease_until_us = NULL
             WHERE id = $3 AND lease_owner = $4 AND status = 'pending'",
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
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'parked'),
                    min(created_us) FILTER (WHERE status = 'pending')
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

    /// How PostgreSQL runs the claim: `EXPLAIN (ANALYZE, BUFFERS)` inside a transaction that is
    /// rolled back, so nothing is claimed.
    pub(super) async fn explain_claim_schedule(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        let lines: Vec<String> = sqlx::query_scalar(concat!(
            "EXPLAIN (ANALYZE, BUFFERS) ",
            claim_schedule_sql!()
        ))
        .bind("explain")
        .bind(micros(now))
        .bind(micros(now))
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        tx.rollback().await.map_err(err)?;
        Ok(lines)
    }

    pub(super) async fn insert_schedule(
        &self,
        rows: &[super::BulkSchedule],
    ) -> Result<u64, StoreError> {
        let keys: Vec<&str> = rows
            .iter()
            .map(|r| r.row.idempotency_key.as_str())
            .collect();
        let references: Vec<&str> = rows.iter().map(|r| r.reference.as_str()).collect();
        let kinds: Vec<&str> = rows.iter().map(|r| r.row.kind.as_str()).collect();
        let due: Vec<i64> = rows.iter().map(|r| micros(r.row.due_at)).collect();
        let payloads: Vec<String> = rows.iter().map(|r| r.row.payload.to_string()).collect();
        let statuses: Vec<&str> = rows
            .iter()
            .map(|r| {
                if r.done_at.is_some() {
                    "done"
                } else {
                    "pending"
                }
            })
            .collect();
        let done: Vec<Option<i64>> = rows.iter().map(|r| r.done_at.map(micros)).collect();
        let added = sqlx::query(
            "INSERT INTO schedule (idempotency_key, reference, kind, due_us, payload, status, done_us)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&keys)
        .bind(&references)
        .bind(&kinds)
        .bind(&due)
        .bind(&payloads)
        .bind(&statuses)
        .bind(&done)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(added.rows_affected())
    }

    pub(super) async fn schedule_done(
        &self,
        id: i64,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE schedule SET status = 'done', done_us = $1, lease_owner = NULL, lease_until_us = NULL
             WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
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
        let row = sqlx::query("SELECT * FROM disputes WHERE reference = $1")
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
             WHERE p.person = $1 AND d.status = 'open' ORDER BY d.reference",
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
             WHERE a.agency = $1 AND d.status = 'open' ORDER BY d.reference",
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
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("SELECT global_seq FROM chain_head WHERE id = 1 FOR UPDATE")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
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
        let done = sqlx::query(
            "INSERT INTO directory_versions (sha256, loaded_us, content) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
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
        let done = sqlx::query("INSERT INTO inbound_keys (key, reference, at_us) VALUES ($1, NULL, $2) ON CONFLICT (key) DO NOTHING")
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
        let mut tx = self.pool.begin().await.map_err(err)?;
        for o in rows {
            sqlx::query(
                "INSERT INTO outbox (idempotency_key, reference, lane, target, payload, created_us, available_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING",
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
        sqlx::query_scalar("SELECT service_url FROM teams_tenants WHERE tenant = $1")
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
            "INSERT INTO teams_tenants (tenant, service_url, updated_us) VALUES ($1, $2, $3)
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
        sqlx::query_scalar(
            "SELECT user_id FROM teams_users WHERE tenant = $1 AND aad_object_id = $2",
        )
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
            "INSERT INTO teams_users (tenant, aad_object_id, user_id, updated_us) VALUES ($1, $2, $3, $4)
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

async fn load_events(conn: &mut PgConnection, reference: &str) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query("SELECT * FROM events WHERE reference = $1 ORDER BY seq")
        .bind(reference)
        .fetch_all(&mut *conn)
        .await
        .map_err(err)?;
    rows.iter().map(|r| stored_event(r)?.event()).collect()
}

async fn append_in(
    conn: &mut PgConnection,
    reference: &str,
    expected: u64,
    batch: &Batch,
) -> Result<(), StoreError> {
    let now_us = batch.events.first().map_or(0, |e| micros(e.at));
    // Every append takes the chain head first: appends serialise, so the log has one order.
    sqlx::query("SELECT global_seq FROM chain_head WHERE id = 1 FOR UPDATE")
        .execute(&mut *conn)
        .await
        .map_err(err)?;
    if let Some(key) = &batch.inbound_key {
        let inserted = sqlx::query("INSERT INTO inbound_keys (key, reference, at_us) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING")
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
        sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events WHERE reference = $1")
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
    let last_hash: String = sqlx::query_scalar(
        "SELECT hash FROM events WHERE reference = $1 ORDER BY seq DESC LIMIT 1",
    )
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING global_seq",
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
            StoreError::Database(m) if m.contains("duplicate key") => StoreError::Conflict {
                reference: reference.to_string(),
                expected,
                found: expected + 1,
            },
            other => other,
        })?;
        head = Some((global_seq, r.hash.clone(), r.seq));
    }
    if let Some((global_seq, hash, seq)) = head {
        sqlx::query("UPDATE chain_head SET global_seq = $1, hash = $2, reference = $3, seq = $4 WHERE id = 1")
            .bind(global_seq)
            .bind(hash)
            .bind(reference)
            .bind(seq)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
    }
    for kind in &batch.cancel_schedule_kinds {
        sqlx::query("UPDATE schedule SET status = 'cancelled', done_us = $1 WHERE reference = $2 AND kind = $3 AND status = 'pending'")
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
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING",
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
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING",
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
    conn: &mut PgConnection,
    reference: &str,
    d: &Dispute,
) -> Result<(), StoreError> {
    for table in [
        "DELETE FROM disputes WHERE reference = $1",
        "DELETE FROM dispute_people WHERE reference = $1",
        "DELETE FROM dispute_agencies WHERE reference = $1",
        "DELETE FROM threads WHERE reference = $1",
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
        sqlx::query("INSERT INTO dispute_people (reference, person, relation) VALUES ($1, $2, $3)")
            .bind(reference)
            .bind(person)
            .bind(relation)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
    }
    for (reference, agency, side) in &p.agencies {
        sqlx::query("INSERT INTO dispute_agencies (reference, agency, side) VALUES ($1, $2, $3)")
            .bind(reference)
            .bind(agency)
            .bind(side)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
    }
    for (reference, platform, workspace, channel, thread) in &p.threads {
        sqlx::query("INSERT INTO threads (reference, platform, workspace, channel, thread) VALUES ($1, $2, $3, $4, $5)")
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

fn stored_event(r: &PgRow) -> Result<StoredEvent, StoreError> {
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

fn outbox_row(r: &PgRow) -> Result<OutboxRow, StoreError> {
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

fn schedule_row(r: &PgRow) -> Result<ScheduleRow, StoreError> {
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

fn dispute_row(r: &PgRow) -> Result<DisputeRow, StoreError> {
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

impl PgStore {
    pub(super) async fn sandbox_post(
        &self,
        post: &super::NewSandboxPost,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO sandbox_posts (kind, reference, channel, thread, person, message, posted_us, updated_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(&post.kind)
        .bind(&post.reference)
        .bind(&post.channel)
        .bind(post.thread)
        .bind(&post.person)
        .bind(post.message.to_string())
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
            "UPDATE sandbox_posts SET message = $1, updated_us = $2, revision = revision + 1
             WHERE id = $3 AND kind = 'root'",
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
            "INSERT INTO sandbox_clock (id, offset_us) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET offset_us = excluded.offset_us",
        )
        .bind(offset_us)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
    }
}

fn sandbox_post_row(r: &PgRow) -> Result<super::SandboxPost, StoreError> {
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
