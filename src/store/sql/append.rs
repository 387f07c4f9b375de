//! Appending batches to the record, a whole group at a time.
//!
//! A group commit writes many requests' batches in one transaction. Written a statement per row,
//! the cost of a group grows with its size (each statement is a round trip to the database), so
//! the writer would spend its time waiting on them. Here each kind of row is written for the
//! whole group at once: one query reads the newest event of every dispute in the group, one reads
//! which request keys are already recorded, and one multi-row statement writes each table's new
//! rows. A batch whose dispute moved on, or whose request is already recorded, is left out
//! before anything is written, so it touches only itself and the later batches on its dispute.

use super::{BEHIND_US, Db, Dialect, Head, SNAPSHOT_FORMAT, err, is_unique_violation};
use crate::escalation::Dispute;
use crate::store::chain::{self, StoredEvent};
use crate::store::logline::LogLine;
use crate::store::projection;
use crate::store::{Batch, NewOutbox, StoreError, micros};
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use std::collections::{HashMap, HashSet};

/// Most bound values in one statement: below SQLite's default limit (32,766) and PostgreSQL's
/// (65,535), so a large group is written in a few statements, never refused.
const MAX_BINDS: usize = 30_000;

/// Most rows a statement here may write (or read) and still be kept prepared. Each statement is
/// built for its group's size; preparing one costs about as much as running it for a small
/// group, and at a steady few requests a second most groups are small. Kept up to this size,
/// the writer's connection holds at most 8 of each of the 12 statements here, within its cache
/// ([`WRITER_STATEMENTS`](super::WRITER_STATEMENTS)); larger ones are prepared once and not
/// kept, since each is rare and their preparing is shared by many requests.
const KEPT_UP_TO: usize = 8;

/// Whether a statement for this many rows is kept prepared (on a backend that keeps them).
fn kept<DB: Dialect>(rows: usize) -> bool {
    DB::KEEP_SIZED_STATEMENTS && rows <= KEPT_UP_TO
}

/// One placeholder: `$n` where the backend numbers them, else `?` (bound in order of appearance,
/// which is the order every statement here binds in).
fn mark(anonymous: bool, n: usize, out: &mut String) {
    if anonymous {
        out.push('?');
    } else {
        out.push('$');
        out.push_str(&n.to_string());
    }
}

/// `($first, …), (…)`: placeholders for `rows` rows of `cols` values, numbered from `first`.
fn placeholders(anonymous: bool, rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            mark(anonymous, first + r * cols + c, &mut out);
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …`: a list of `n` placeholders for `IN (…)`.
fn list(anonymous: bool, n: usize, first: usize) -> String {
    let mut out = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        mark(anonymous, first + i, &mut out);
    }
    out
}

/// Rows per statement for a table with `cols` values a row.
fn chunk(cols: usize) -> usize {
    (MAX_BINDS / cols).max(1)
}

/// One accepted batch: where it goes and the rows it becomes.
struct Accepted<'b> {
    reference: &'b str,
    expected: u64,
    batch: &'b Batch,
    rows: Vec<StoredEvent>,
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
    /// Writes a group of batches in the caller's write transaction, which holds the chain head:
    /// each batch's answer in order. A conflict or duplicate leaves that batch out (and the later
    /// ones on its dispute, decided on it); any other failure fails the whole group.
    pub(super) async fn append_rows(
        conn: &mut DB::Connection,
        items: &[(String, u64, &Batch)],
        head: &mut Option<Head>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let references: Vec<&str> = {
            let mut seen = HashSet::new();
            items
                .iter()
                .map(|(r, _, _)| r.as_str())
                .filter(|r| seen.insert(*r))
                .collect()
        };
        let mut newest = Self::newest_events(conn, &references).await?;
        let keys: Vec<&str> = items
            .iter()
            .filter_map(|(_, _, b)| b.inbound_key.as_deref())
            .collect();
        let recorded = Self::recorded_keys(conn, &keys).await?;

        let head = match head {
            Some(h) => h,
            None => head.insert(Head::read(conn).await?),
        };
        let mut failed: HashSet<&str> = HashSet::new();
        let mut keys_taken: HashSet<&str> = HashSet::new();
        let mut out = Vec::with_capacity(items.len());
        let mut accepted: Vec<Accepted<'_>> = Vec::new();
        for (reference, expected, batch) in items {
            let reference = reference.as_str();
            let (found, last_hash) = newest.get(reference).cloned().unwrap_or((0, String::new()));
            if failed.contains(reference) || found != *expected {
                failed.insert(reference);
                out.push(Err(StoreError::Conflict {
                    reference: reference.to_string(),
                    expected: *expected,
                    found,
                }));
                continue;
            }
            if let Some(key) = batch.inbound_key.as_deref()
                && (recorded.contains(key) || !keys_taken.insert(key))
            {
                failed.insert(reference);
                out.push(Err(StoreError::Duplicate));
                continue;
            }
            let rows = chain::link(
                reference,
                *expected as i64 + 1,
                last_hash,
                head.hash.clone(),
                &batch.events,
            )?;
            if let Some(last) = rows.last() {
                head.hash = last.hash.clone();
                head.reference = reference.to_string();
                head.seq = last.seq;
                head.moved = true;
                newest.insert(
                    reference.to_string(),
                    (*expected + rows.len() as u64, last.hash.clone()),
                );
            }
            out.push(Ok(()));
            accepted.push(Accepted {
                reference,
                expected: *expected,
                batch,
                rows,
            });
        }
        if accepted.is_empty() {
            return Ok(out);
        }

        Self::insert_keys(conn, &accepted).await?;
        if let Some(global_seq) = Self::insert_events(conn, &accepted).await? {
            head.global_seq = global_seq;
        }
        for a in &accepted {
            let now_us = a.batch.events.first().map_or(0, |e| micros(e.at));
            for kind in &a.batch.cancel_schedule_kinds {
                sqlx::query(
                    "UPDATE schedule SET status = 'cancelled', done_us = $1
                     WHERE reference = $2 AND kind = $3 AND status = 'pending'",
                )
                .bind(now_us)
                .bind(a.reference)
                .bind(kind.as_str())
                .execute(&mut *conn)
                .await
                .map_err(err)?;
            }
        }
        let outbox: Vec<(&str, i64, &NewOutbox)> = accepted
            .iter()
            .flat_map(|a| {
                let at = a.batch.events.first().map_or(0, |e| micros(e.at));
                a.batch.outbox.iter().map(move |o| (a.reference, at, o))
            })
            .collect();
        Self::insert_outbox_rows(conn, &outbox).await?;
        Self::insert_schedule_rows(conn, &accepted).await?;
        Self::write_states(conn, &accepted).await?;
        Self::write_log_lines(conn, &accepted).await?;
        Ok(out)
    }

    /// The newest event's number and hash of each dispute (none: no events yet).
    async fn newest_events(
        conn: &mut DB::Connection,
        references: &[&str],
    ) -> Result<HashMap<String, (u64, String)>, StoreError> {
        let mut out = HashMap::with_capacity(references.len());
        for part in references.chunks(chunk(1)) {
            // Each dispute's newest event is found through the (reference, seq) index alone, never
            // by reading the dispute's other events: the cost does not grow with its history.
            let sql = format!(
                "WITH wanted (reference) AS (VALUES {})
                 SELECT e.reference, e.seq, e.hash FROM wanted
                 JOIN events e ON e.reference = wanted.reference
                  AND e.seq = (SELECT max(m.seq) FROM events m WHERE m.reference = wanted.reference)",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 1, 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for r in part {
                q = q.bind(*r);
            }
            for row in q.fetch_all(&mut *conn).await.map_err(err)? {
                let reference: String = row.try_get(0).map_err(err)?;
                let seq: i64 = row.try_get(1).map_err(err)?;
                let hash: String = row.try_get(2).map_err(err)?;
                out.insert(reference, (seq as u64, hash));
            }
        }
        Ok(out)
    }

    /// Which of these request keys are already recorded.
    async fn recorded_keys(
        conn: &mut DB::Connection,
        keys: &[&str],
    ) -> Result<HashSet<String>, StoreError> {
        let mut out = HashSet::new();
        for part in keys.chunks(chunk(1)) {
            let sql = format!(
                "SELECT key FROM inbound_keys WHERE key IN ({})",
                list(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 1)
            );
            let mut q = sqlx::query_scalar::<DB, String>(AssertSqlSafe(sql))
                .persistent(kept::<DB>(part.len()));
            for k in part {
                q = q.bind(*k);
            }
            out.extend(q.fetch_all(&mut *conn).await.map_err(err)?);
        }
        Ok(out)
    }

    async fn insert_keys(
        conn: &mut DB::Connection,
        accepted: &[Accepted<'_>],
    ) -> Result<(), StoreError> {
        let rows: Vec<(&str, &str, i64)> = accepted
            .iter()
            .filter_map(|a| {
                let key = a.batch.inbound_key.as_deref()?;
                let at = a.batch.events.first().map_or(0, |e| micros(e.at));
                Some((key, a.reference, at))
            })
            .collect();
        for part in rows.chunks(chunk(3)) {
            let sql = format!(
                "INSERT INTO inbound_keys (key, reference, at_us) VALUES {}",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 3, 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for (key, reference, at) in part {
                q = q.bind(*key).bind(*reference).bind(*at);
            }
            q.execute(&mut *conn).await.map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Duplicate
                } else {
                    err(e)
                }
            })?;
        }
        Ok(())
    }

    /// Inserts the group's events in order; the newest one's place in the whole log.
    async fn insert_events(
        conn: &mut DB::Connection,
        accepted: &[Accepted<'_>],
    ) -> Result<Option<i64>, StoreError> {
        let rows: Vec<&StoredEvent> = accepted.iter().flat_map(|a| a.rows.iter()).collect();
        let mut newest = None;
        for part in rows.chunks(chunk(9)) {
            let sql = format!(
                "INSERT INTO events (reference, seq, at_us, actor, kind, body, prev_hash, prev_global_hash, hash)
                 VALUES {} RETURNING global_seq",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 9, 1)
            );
            let mut q = sqlx::query_scalar::<DB, i64>(AssertSqlSafe(sql))
                .persistent(kept::<DB>(part.len()));
            for r in part {
                q = q
                    .bind(r.reference.as_str())
                    .bind(r.seq)
                    .bind(r.at_us)
                    .bind(r.actor.as_deref())
                    .bind(r.kind.as_str())
                    .bind(r.body.as_str())
                    .bind(r.prev_hash.as_str())
                    .bind(r.prev_global_hash.as_str())
                    .bind(r.hash.as_str());
            }
            let seqs = q.fetch_all(&mut *conn).await.map_err(|e| {
                // (reference, seq) is unique: another writer recorded an event number first,
                // which the version check under the chain head's lock rules out.
                if is_unique_violation(&e) {
                    StoreError::Database(format!(
                        "another writer recorded the same event number while this group held the log's head: {e}"
                    ))
                } else {
                    err(e)
                }
            })?;
            newest = seqs.into_iter().max().max(newest);
        }
        Ok(newest)
    }

    /// Queues outbox rows in the caller's transaction, which holds the lanes
    /// ([`Db::begin_append`]). A row cannot go before the rows queued ahead of it in its lane:
    /// while any of them is pending it waits at [`BEHIND_US`], out of every claim's range, with
    /// its own ready time kept for when the rows ahead are settled. A row whose lane is empty
    /// goes into the ready range at once (and so do the rows after it in the same call: the
    /// claim still takes them in order, and none is left waiting behind a row that was never
    /// written, as one refused as a repeat would be). Which lanes hold pending rows is read once
    /// for the whole call, not asked row by row inside the insert, which on PostgreSQL made
    /// planning a large group's insert take longer than writing it.
    pub(super) async fn insert_outbox_rows(
        conn: &mut DB::Connection,
        rows: &[(&str, i64, &NewOutbox)],
    ) -> Result<(), StoreError> {
        let lanes: Vec<&str> = {
            let mut seen = HashSet::new();
            rows.iter()
                .map(|(_, _, o)| o.lane.as_str())
                .filter(|l| seen.insert(*l))
                .collect()
        };
        let mut busy: HashSet<String> = HashSet::new();
        for part in lanes.chunks(chunk(1)) {
            // One look into each lane, which stops at its first pending row, however long the
            // lane's backlog.
            let sql = format!(
                "WITH wanted (lane) AS (VALUES {})
                 SELECT wanted.lane FROM wanted
                 WHERE EXISTS (SELECT 1 FROM outbox
                               WHERE outbox.lane = wanted.lane AND outbox.status = 'pending')",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 1, 1)
            );
            let mut q = sqlx::query_scalar::<DB, String>(AssertSqlSafe(sql))
                .persistent(kept::<DB>(part.len()));
            for lane in part {
                q = q.bind(*lane);
            }
            busy.extend(q.fetch_all(&mut *conn).await.map_err(err)?);
        }
        const COLS: usize = 8;
        for part in rows.chunks(chunk(COLS)) {
            let sql = format!(
                "INSERT INTO outbox (idempotency_key, reference, lane, target, payload, created_us, available_us, ready_us)
                 VALUES {} ON CONFLICT (idempotency_key) DO NOTHING",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), COLS, 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for (reference, created, o) in part {
                let ready = micros(o.available_at);
                let available = if busy.contains(o.lane.as_str()) {
                    BEHIND_US
                } else {
                    ready
                };
                q = q
                    .bind(o.idempotency_key.as_str())
                    .bind(*reference)
                    .bind(o.lane.as_str())
                    .bind(o.target.to_string())
                    .bind(o.payload.to_string())
                    .bind(*created)
                    .bind(available)
                    .bind(ready);
            }
            q.execute(&mut *conn).await.map_err(err)?;
        }
        Ok(())
    }

    async fn insert_schedule_rows(
        conn: &mut DB::Connection,
        accepted: &[Accepted<'_>],
    ) -> Result<(), StoreError> {
        let rows: Vec<(&str, &crate::store::NewSchedule)> = accepted
            .iter()
            .flat_map(|a| a.batch.schedule.iter().map(move |s| (a.reference, s)))
            .collect();
        for part in rows.chunks(chunk(5)) {
            let sql = format!(
                "INSERT INTO schedule (idempotency_key, reference, kind, due_us, payload)
                 VALUES {} ON CONFLICT (idempotency_key) DO NOTHING",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 5, 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for (reference, s) in part {
                q = q
                    .bind(s.idempotency_key.as_str())
                    .bind(*reference)
                    .bind(s.kind.as_str())
                    .bind(micros(s.due_at))
                    .bind(s.payload.to_string());
            }
            q.execute(&mut *conn).await.map_err(err)?;
        }
        Ok(())
    }

    /// Brings each dispute's projection and snapshot to its state after the group. Where a
    /// batch changes nothing the projection shows but the version (a note), only the version
    /// moves, for the whole group in one statement.
    async fn write_states(
        conn: &mut DB::Connection,
        accepted: &[Accepted<'_>],
    ) -> Result<(), StoreError> {
        // The state after each dispute's last batch in the group, in order of first appearance.
        let mut order: Vec<&str> = Vec::new();
        let mut last: HashMap<&str, Dispute> = HashMap::new();
        for a in accepted {
            let version = a.expected + a.batch.events.len() as u64;
            let state = match &a.batch.after {
                Some(after) if after.version == version => after.clone(),
                // The new events are already inserted: folding what is stored gives the state
                // after the newest of them, which a later batch in the group replaces.
                _ => Dispute::from_events(&Self::load_events(conn, a.reference).await?),
            };
            let only_version = matches!(&a.batch.before, Some(before)
                if before.version == a.expected && projection::only_version_differs(before, &state));
            if !only_version {
                Self::write_projection(conn, a.reference, &state).await?;
            }
            if last.insert(a.reference, state).is_none() {
                order.push(a.reference);
            }
        }
        let states: Vec<(&str, &Dispute)> = order
            .iter()
            .filter_map(|r| last.get(r).map(|d| (*r, d)))
            .collect();
        for part in states.chunks(chunk(3)) {
            let anonymous = DB::ANONYMOUS_PLACEHOLDERS;
            let mut sql = String::from("UPDATE disputes SET version = CASE reference");
            for i in 0..part.len() {
                sql.push_str(" WHEN ");
                mark(anonymous, 2 * i + 1, &mut sql);
                sql.push_str(" THEN CAST(");
                mark(anonymous, 2 * i + 2, &mut sql);
                sql.push_str(" AS BIGINT)");
            }
            sql.push_str(&format!(
                " ELSE version END WHERE reference IN ({})",
                list(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 2 * part.len() + 1)
            ));
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for (reference, d) in part {
                q = q.bind(*reference).bind(d.version as i64);
            }
            for (reference, _) in part {
                q = q.bind(*reference);
            }
            q.execute(&mut *conn).await.map_err(err)?;
        }
        let mut texts = Vec::with_capacity(states.len());
        for (reference, d) in &states {
            let text = serde_json::to_string(d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            texts.push((*reference, d.version as i64, text));
        }
        for part in texts.chunks(chunk(4)) {
            let sql = format!(
                "INSERT INTO snapshots (reference, version, format, state) VALUES {}
                 ON CONFLICT (reference) DO UPDATE
                 SET version = excluded.version, format = excluded.format, state = excluded.state",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 4, 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for (reference, version, text) in part {
                q = q
                    .bind(*reference)
                    .bind(*version)
                    .bind(SNAPSHOT_FORMAT)
                    .bind(text.as_str());
            }
            q.execute(&mut *conn).await.map_err(err)?;
        }
        Ok(())
    }

    /// Brings each dispute's log line up to date: its stored line plus the group's events when
    /// the line is current, else a fold of the whole record; all written in one statement.
    async fn write_log_lines(
        conn: &mut DB::Connection,
        accepted: &[Accepted<'_>],
    ) -> Result<(), StoreError> {
        let mut order: Vec<&str> = Vec::new();
        let mut first_expected: HashMap<&str, u64> = HashMap::new();
        for a in accepted {
            if !first_expected.contains_key(a.reference) {
                first_expected.insert(a.reference, a.expected);
                order.push(a.reference);
            }
        }
        let existing: Vec<&str> = order
            .iter()
            .copied()
            .filter(|r| first_expected.get(r).is_some_and(|e| *e > 0))
            .collect();
        let mut stored: HashMap<String, String> = HashMap::new();
        for part in existing.chunks(chunk(1)) {
            let sql = format!(
                "SELECT reference, line FROM dispute_log WHERE reference IN ({})",
                list(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for r in part {
                q = q.bind(*r);
            }
            for row in q.fetch_all(&mut *conn).await.map_err(err)? {
                stored.insert(row.try_get(0).map_err(err)?, row.try_get(1).map_err(err)?);
            }
        }
        let mut lines: HashMap<&str, Option<LogLine>> = HashMap::new();
        for reference in &order {
            let expected = first_expected.get(reference).copied().unwrap_or(0);
            let current = stored
                .get(*reference)
                .and_then(|t| serde_json::from_str::<LogLine>(t).ok())
                .filter(|l| l.version == expected);
            let line = match current {
                Some(mut l) => {
                    for a in accepted.iter().filter(|a| a.reference == *reference) {
                        for e in &a.batch.events {
                            l.apply(e);
                        }
                    }
                    Some(l)
                }
                // Raised in this group, or a line that fell behind: fold the whole record.
                None if expected == 0 => {
                    let events: Vec<_> = accepted
                        .iter()
                        .filter(|a| a.reference == *reference)
                        .flat_map(|a| a.batch.events.iter().cloned())
                        .collect();
                    LogLine::fold(reference, &events)
                }
                None => LogLine::fold(reference, &Self::load_events(conn, reference).await?),
            };
            lines.insert(reference, line);
        }
        let gone: Vec<&str> = order
            .iter()
            .copied()
            .filter(|r| lines.get(r).is_some_and(Option::is_none))
            .collect();
        for part in gone.chunks(chunk(1)) {
            let sql = format!(
                "DELETE FROM dispute_log WHERE reference IN ({})",
                list(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for r in part {
                q = q.bind(*r);
            }
            q.execute(&mut *conn).await.map_err(err)?;
        }
        let mut rows = Vec::new();
        for reference in &order {
            if let Some(Some(l)) = lines.get(reference) {
                let text = serde_json::to_string(l).map_err(|e| {
                    StoreError::Corrupt(format!("the log line of {reference}: {e}"))
                })?;
                rows.push((*reference, l, text));
            }
        }
        for part in rows.chunks(chunk(6)) {
            let sql = format!(
                "INSERT INTO dispute_log (reference, board, raised_us, raising, receiving, line)
                 VALUES {} ON CONFLICT (reference) DO UPDATE
                 SET board = excluded.board, raised_us = excluded.raised_us, raising = excluded.raising,
                     receiving = excluded.receiving, line = excluded.line",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 6, 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(kept::<DB>(part.len()));
            for (reference, l, text) in part {
                q = q
                    .bind(*reference)
                    .bind(l.board.as_str())
                    .bind(micros(l.raised))
                    .bind(l.raising.as_str())
                    .bind(l.receiving.as_str())
                    .bind(text.as_str());
            }
            q.execute(&mut *conn).await.map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(placeholders(false, 2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(false, 1, 2, 5), "($5, $6)");
        assert_eq!(list(false, 3, 4), "$4, $5, $6");
        assert_eq!(placeholders(true, 2, 2, 1), "(?, ?), (?, ?)");
        assert_eq!(list(true, 2, 9), "?, ?");
    }

    #[test]
    fn a_chunk_stays_under_the_bind_limit() {
        for cols in 1..=13 {
            assert!(chunk(cols) * cols <= MAX_BINDS);
            assert!(chunk(cols) >= 1);
        }
    }
}
