//! The shared backend: PostgreSQL, for several replicas. Appends serialise on the sealed chain
//! head row; workers claim outbox and schedule rows with `FOR UPDATE SKIP LOCKED` and a lease.

use super::StoreError;
use super::chain::StoredEvent;
use super::sql::{
    Db, Dialect, KeyRow, Look, OutboxInsert, Step, Writes, arrays, claim_outbox_sql,
    claim_schedule_sql, err, next_outbox_leased_sql, next_outbox_ready_sql, refuse_newer_schema,
};
use super::{BulkSchedule, micros};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};
use sqlx::{PgConnection, Postgres, Row};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/postgres");

/// The PostgreSQL store.
pub type PgStore = Db<Postgres>;

impl Dialect for Postgres {
    const BEGIN_WRITE: Option<&'static str> = None;
    // Every append takes the chain head first: appends serialise, so the log has one order.
    // In the same round trip, the transaction's statements are told to use their kept plans:
    // the group's statements bind arrays (`sql::arrays`), whose one plan reads through the same
    // indexes for any group, and PostgreSQL would otherwise plan each afresh at every group
    // (the look: 0.5 ms of planning to 0.45 of running).
    const LOCK_CHAIN_HEAD: Option<&'static str> = Some(
        "SET LOCAL plan_cache_mode = force_generic_plan;
         SELECT global_seq FROM chain_head WHERE id = 1 FOR UPDATE",
    );
    // Rows another replica is claiming at the same moment are skipped, not waited for.
    const CLAIM_OUTBOX: &'static str = claim_outbox_sql!(" FOR UPDATE SKIP LOCKED");
    const CLAIM_SCHEDULE: &'static str = claim_schedule_sql!(" FOR UPDATE SKIP LOCKED");
    const ONE_WRITER: bool = false;
    const KEEP_SIZED_STATEMENTS: bool = false;
    const MANY_STATEMENTS: bool = false;
    const ANONYMOUS_PLACEHOLDERS: bool = false;

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn look<'a>(
        conn: &'a mut PgConnection,
        references: &'a [&'a str],
        keys: &'a [&'a str],
        lanes: &'a [&'a str],
        with_head: bool,
    ) -> Step<'a, Look> {
        Box::pin(arrays::look(conn, references, keys, lanes, with_head))
    }

    fn insert_keys<'a>(
        conn: &'a mut PgConnection,
        w: &'a mut Writes<Self>,
        rows: &'a [KeyRow<'a>],
    ) -> Step<'a, ()> {
        Box::pin(arrays::insert_keys(conn, w, rows))
    }

    fn insert_events<'a>(
        conn: &'a mut PgConnection,
        w: &'a mut Writes<Self>,
        rows: &'a [&'a StoredEvent],
    ) -> Step<'a, ()> {
        Box::pin(arrays::insert_events(conn, w, rows))
    }

    fn insert_outbox<'a>(
        conn: &'a mut PgConnection,
        w: &'a mut Writes<Self>,
        rows: &'a [OutboxInsert<'a>],
    ) -> Step<'a, ()> {
        Box::pin(arrays::insert_outbox(conn, w, rows))
    }

    fn set_versions<'a>(
        conn: &'a mut PgConnection,
        w: &'a mut Writes<Self>,
        rows: &'a [(&'a str, i64)],
    ) -> Step<'a, ()> {
        Box::pin(arrays::set_versions(conn, w, rows))
    }
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

impl Db<Postgres> {
    pub(super) async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Open(format!("{}: {e}", redacted(url))))?
            .statement_cache_capacity(super::sql::WRITER_STATEMENTS);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(format!("{}: {e}", redacted(url))))?;
        let store = Db::over(pool);
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
            refuse_newer_schema(&self.pool, &MIGRATOR).await?;
        }
        Ok(())
    }

    /// How PostgreSQL runs the outbox claim and the look for the next row due: `EXPLAIN
    /// (ANALYZE, BUFFERS)` inside a transaction that is rolled back, so nothing is claimed;
    /// each line named by its statement.
    pub(super) async fn explain_outbox(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        let claim = Self::claim_query(
            concat!(
                "EXPLAIN (ANALYZE, BUFFERS) ",
                claim_outbox_sql!(" FOR UPDATE SKIP LOCKED")
            ),
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
                sqlx::query(concat!(
                    "EXPLAIN (ANALYZE, BUFFERS) ",
                    next_outbox_ready_sql!()
                )),
            ),
            (
                "next lease end",
                sqlx::query(concat!(
                    "EXPLAIN (ANALYZE, BUFFERS) ",
                    next_outbox_leased_sql!()
                )),
            ),
        ] {
            for row in query.fetch_all(&mut *tx).await.map_err(err)? {
                let line = row.try_get::<String, _>(0).map_err(err)?;
                lines.push(format!("{name}: {line}"));
            }
        }
        tx.rollback().await.map_err(err)?;
        Ok(lines)
    }

    /// How PostgreSQL runs the claim: `EXPLAIN (ANALYZE, BUFFERS)` inside a transaction that is
    /// rolled back, so nothing is claimed.
    pub(super) async fn explain_claim_schedule(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        let explain = concat!(
            "EXPLAIN (ANALYZE, BUFFERS) ",
            claim_schedule_sql!(" FOR UPDATE SKIP LOCKED")
        );
        let lines = Self::claim_query(explain, "explain", micros(now), now, limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        tx.rollback().await.map_err(err)?;
        Ok(lines)
    }

    pub(super) async fn insert_schedule(&self, rows: &[BulkSchedule]) -> Result<u64, StoreError> {
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
}
