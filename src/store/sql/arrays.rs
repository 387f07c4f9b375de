//! PostgreSQL's form of a group's reads and largest writes: one fixed statement for each, with
//! each column bound as an array and unpacked by `unnest`.
//!
//! Built for its group's size, a statement is new text for every group: PostgreSQL parsed and
//! planned each one, which took longer than running it (the look ahead of a group spent 1.5 of
//! its 1.9 ms in parsing and planning). Fixed text is prepared once per connection and its plan
//! kept. An array parameter is planned as ten values whatever it holds, so the kept plan reads
//! through the same indexes for any group, where a kept plan for a list of placeholders could
//! read whole tables. Rows are inserted in the order of their arrays (`WITH ORDINALITY`), so
//! events take their places in the log, and outbox rows theirs in their lanes, in order.

use super::writes::{Writes, write_error};
use super::{KeyRow, Look, OutboxInsert, SNAPSHOT_FORMAT, err};
use crate::store::StoreError;
use crate::store::chain::StoredEvent;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres};

/// [`super::Dialect::look`] in one statement.
pub(in crate::store) async fn look(
    conn: &mut PgConnection,
    references: &[&str],
    keys: &[&str],
    lanes: &[&str],
    with_head: bool,
) -> Result<Look, StoreError> {
    // Each dispute's newest event through the (reference, seq) index, backwards, one row; each
    // lane's first pending row, however long its backlog.
    const SQL: &str = "
        SELECT 'n' AS what, w.reference AS name, e.seq AS num, e.hash AS text
          FROM unnest($1::text[]) AS w (reference)
          JOIN LATERAL (SELECT seq, hash FROM events
                         WHERE events.reference = w.reference
                         ORDER BY seq DESC LIMIT 1) e ON true
        UNION ALL
        SELECT 'k', key, NULL, NULL FROM inbound_keys WHERE key = ANY ($2::text[])
        UNION ALL
        SELECT 's', reference, version, NULL FROM snapshots
         WHERE reference = ANY ($1::text[]) AND format = $4
        UNION ALL
        SELECT 'l', reference, NULL, line FROM dispute_log WHERE reference = ANY ($1::text[])
        UNION ALL
        SELECT 'b', l.lane, NULL, NULL FROM unnest($3::text[]) AS l (lane)
         WHERE EXISTS (SELECT 1 FROM outbox WHERE outbox.lane = l.lane AND outbox.status = 'pending')
        UNION ALL
        SELECT 'h', hash, global_seq, NULL FROM chain_head WHERE id = 1 AND $5";
    let rows = sqlx::query::<Postgres>(SQL)
        .bind(references)
        .bind(keys)
        .bind(lanes)
        .bind(SNAPSHOT_FORMAT)
        .bind(with_head)
        .fetch_all(&mut *conn)
        .await
        .map_err(err)?;
    let mut out = Look::default();
    for row in &rows {
        out.take_row(row)?;
    }
    Ok(out)
}

/// [`super::Dialect::insert_keys`] in one statement.
pub(in crate::store) async fn insert_keys(
    conn: &mut PgConnection,
    w: &mut Writes<Postgres>,
    rows: &[KeyRow<'_>],
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO inbound_keys (key, reference, at_us)
         SELECT key, reference, at_us
           FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS r (key, reference, at_us, n)
          ORDER BY n";
    let query = sqlx::query::<Postgres>(SQL)
        .bind(column(rows, |r| r.0))
        .bind(column(rows, |r| r.1))
        .bind(column(rows, |r| r.2));
    write(conn, w, query).await
}

/// [`super::Dialect::insert_events`] in one statement.
pub(in crate::store) async fn insert_events(
    conn: &mut PgConnection,
    w: &mut Writes<Postgres>,
    rows: &[&StoredEvent],
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO events (reference, seq, at_us, actor, kind, body, prev_hash, prev_global_hash, hash)
         SELECT reference, seq, at_us, actor, kind, body, prev_hash, prev_global_hash, hash
           FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::text[], $9::text[])
                WITH ORDINALITY AS r (reference, seq, at_us, actor, kind, body, prev_hash, prev_global_hash, hash, n)
          ORDER BY n";
    let query = sqlx::query::<Postgres>(SQL)
        .bind(column(rows, |r| r.reference.as_str()))
        .bind(column(rows, |r| r.seq))
        .bind(column(rows, |r| r.at_us))
        .bind(column(rows, |r| r.actor.as_deref()))
        .bind(column(rows, |r| r.kind.as_str()))
        .bind(column(rows, |r| r.body.as_str()))
        .bind(column(rows, |r| r.prev_hash.as_str()))
        .bind(column(rows, |r| r.prev_global_hash.as_str()))
        .bind(column(rows, |r| r.hash.as_str()));
    write(conn, w, query).await
}

/// [`super::Dialect::insert_outbox`] in one statement.
pub(in crate::store) async fn insert_outbox(
    conn: &mut PgConnection,
    w: &mut Writes<Postgres>,
    rows: &[OutboxInsert<'_>],
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO outbox (idempotency_key, reference, lane, target, payload, created_us, available_us, ready_us)
         SELECT key, reference, lane, target, payload, created_us, available_us, ready_us
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::bigint[], $7::bigint[], $8::bigint[])
                WITH ORDINALITY AS r (key, reference, lane, target, payload, created_us, available_us, ready_us, n)
          ORDER BY n
         ON CONFLICT (idempotency_key) DO NOTHING";
    let query = sqlx::query::<Postgres>(SQL)
        .bind(column(rows, |r| r.key))
        .bind(column(rows, |r| r.reference))
        .bind(column(rows, |r| r.lane))
        .bind(column(rows, |r| r.target))
        .bind(column(rows, |r| r.payload))
        .bind(column(rows, |r| r.created_us))
        .bind(column(rows, |r| r.available_us))
        .bind(column(rows, |r| r.ready_us));
    write(conn, w, query).await
}

/// [`super::Dialect::set_versions`] in one statement.
pub(in crate::store) async fn set_versions(
    conn: &mut PgConnection,
    w: &mut Writes<Postgres>,
    rows: &[(&str, i64)],
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE disputes SET version = v.version
          FROM unnest($1::text[], $2::bigint[]) AS v (reference, version)
         WHERE disputes.reference = v.reference";
    let query = sqlx::query::<Postgres>(SQL)
        .bind(column(rows, |r| r.0))
        .bind(column(rows, |r| r.1));
    write(conn, w, query).await
}

/// Runs one of the group's writes, after any the group holds (none, on PostgreSQL, which runs
/// each as it is added: the flush keeps the order should that change).
async fn write(
    conn: &mut PgConnection,
    w: &mut Writes<Postgres>,
    query: Query<'_, Postgres, PgArguments>,
) -> Result<(), StoreError> {
    w.flush(conn).await?;
    query.execute(&mut *conn).await.map_err(write_error)?;
    Ok(())
}

/// One column of `rows`, to bind as an array.
fn column<'r, R, T>(rows: &'r [R], f: impl Fn(&'r R) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}
