//! Appending batches to the record, a whole group at a time.
//!
//! A group commit writes many requests' batches in one transaction. Written a statement per row,
//! the cost of a group grows with its size (each statement is a round trip to the database), so
//! the writer would spend its time waiting on them. Here each kind of row is written for the
//! whole group at once: one query reads the newest event of every dispute in the group, one reads
//! which request keys are already recorded, and one multi-row statement writes each table's new
//! rows. A batch whose dispute moved on, or whose request is already recorded, is left out
//! before anything is written, so it touches only itself and the later batches on its dispute.

use super::writes::Writes;
use super::{BEHIND_US, Db, Dialect, Head, QUIET_EVENTS, SNAPSHOT_FORMAT, err};
use crate::escalation::Dispute;
use crate::store::chain::{self, StoredEvent};
use crate::store::logline::LogLine;
use crate::store::projection;
use crate::store::{Batch, NewOutbox, Settle, StoreError, micros};
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

/// The `round`th part of `list`, `per` to a part (empty past its end).
fn round_of<'a>(list: &'a [&'a str], round: usize, per: usize) -> &'a [&'a str] {
    let start = (round * per).min(list.len());
    let end = (start + per).min(list.len());
    &list[start..end]
}

/// What a group's append reads before it writes ([`Dialect::look`]).
#[derive(Default)]
pub struct Look {
    /// Each dispute's newest event: its number and hash (none: no events yet).
    newest: HashMap<String, (u64, String)>,
    /// The request keys already recorded.
    recorded: HashSet<String>,
    /// The version of each dispute's snapshot, where one of this build is kept.
    snapshots: HashMap<String, i64>,
    /// Each dispute's stored log line.
    lines: HashMap<String, String>,
    /// The lanes that hold pending rows.
    pub(super) busy: HashSet<String>,
    /// The log's head, when asked for.
    head: Option<Head>,
}

impl Look {
    /// Takes one row of the look, whichever backend's form read it: what it is (`n` newest
    /// event, `k` recorded key, `s` snapshot, `l` log line, `b` busy lane, `h` head), whose,
    /// and a number and a text where the kind has them.
    fn take(
        &mut self,
        what: String,
        name: String,
        num: Option<i64>,
        text: Option<String>,
    ) -> Result<(), StoreError> {
        match (what.as_str(), num, text) {
            ("n", Some(seq), Some(hash)) => {
                self.newest.insert(name, (seq as u64, hash));
            }
            ("k", _, _) => {
                self.recorded.insert(name);
            }
            ("s", Some(version), _) => {
                self.snapshots.insert(name, version);
            }
            ("l", _, Some(line)) => {
                self.lines.insert(name, line);
            }
            ("b", _, _) => {
                self.busy.insert(name);
            }
            ("h", _, _) => {
                self.head = Some(Head {
                    hash: name,
                    reference: String::new(),
                    seq: 0,
                    moved: false,
                });
            }
            (what, _, _) => {
                return Err(StoreError::Corrupt(format!(
                    "reading ahead of a group's append gave an unexpected row ({what} {name})"
                )));
            }
        }
        Ok(())
    }

    /// Takes one row of the look as either backend's form reads it: what, name, num, text.
    pub(in crate::store) fn take_row<R>(&mut self, row: &R) -> Result<(), StoreError>
    where
        R: Row,
        usize: ColumnIndex<R>,
        for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    {
        self.take(
            row.try_get(0).map_err(err)?,
            row.try_get(1).map_err(err)?,
            row.try_get(2).map_err(err)?,
            row.try_get(3).map_err(err)?,
        )
    }
}

/// A request key as the append records it: the key, its dispute, and when.
pub type KeyRow<'a> = (&'a str, &'a str, i64);

/// An outbox row as the append inserts it, its place in its lane decided ([`BEHIND_US`] while
/// rows ahead of it are pending).
pub struct OutboxInsert<'a> {
    pub key: &'a str,
    pub reference: &'a str,
    pub lane: &'a str,
    pub target: &'a str,
    pub payload: &'a str,
    pub created_us: i64,
    pub available_us: i64,
    pub ready_us: i64,
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
        let keys: Vec<&str> = items
            .iter()
            .filter_map(|(_, _, b)| b.inbound_key.as_deref())
            .collect();
        let lanes: Vec<&str> = {
            let mut seen = HashSet::new();
            items
                .iter()
                .flat_map(|(_, _, b)| b.outbox.iter().map(|o| o.lane.as_str()))
                .filter(|l| seen.insert(*l))
                .collect()
        };
        let look = DB::look(conn, &references, &keys, &lanes, head.is_none()).await?;
        let Look {
            mut newest,
            recorded,
            snapshots,
            lines,
            busy,
            head: stored_head,
        } = look;
        let head = match head {
            Some(h) => h,
            None => match stored_head {
                Some(h) => head.insert(h),
                None => {
                    return Err(StoreError::Corrupt(
                        "the log's head (chain_head) is missing: the database was changed outside the service".into(),
                    ));
                }
            },
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

        // The writes below go to the database together where it takes them together, before
        // anything here reads what they write.
        let mut w = Writes::<DB>::new();
        Self::insert_keys(conn, &mut w, &accepted).await?;
        Self::insert_events(conn, &mut w, &accepted).await?;
        let cancel = if DB::ANONYMOUS_PLACEHOLDERS {
            "UPDATE schedule SET status = 'cancelled', done_us = ?
             WHERE reference = ? AND kind = ? AND status = 'pending'"
        } else {
            "UPDATE schedule SET status = 'cancelled', done_us = $1
             WHERE reference = $2 AND kind = $3 AND status = 'pending'"
        };
        for a in &accepted {
            let now_us = a.batch.events.first().map_or(0, |e| micros(e.at));
            for kind in &a.batch.cancel_schedule_kinds {
                w.start(cancel, DB::KEEP_SIZED_STATEMENTS)
                    .bind(now_us)
                    .bind(a.reference)
                    .bind(kind.as_str());
                w.end(conn).await?;
            }
        }
        let outbox: Vec<(&str, i64, &NewOutbox)> = accepted
            .iter()
            .flat_map(|a| {
                let at = a.batch.events.first().map_or(0, |e| micros(e.at));
                a.batch.outbox.iter().map(move |o| (a.reference, at, o))
            })
            .collect();
        Self::insert_outbox_rows(conn, &mut w, &outbox, &busy).await?;
        Self::insert_schedule_rows(conn, &mut w, &accepted).await?;
        Self::write_states(conn, &mut w, &accepted, &snapshots).await?;
        Self::write_log_lines(conn, &mut w, &accepted, &lines).await?;
        Head::write(conn, &mut w, head).await?;
        w.flush(conn).await?;
        // Last, so a lane the batches just queued rows in brings its next one forward.
        for a in &accepted {
            if let Some(sent) = &a.batch.sent {
                let settle = Settle::Sent(&sent.result);
                let ours = Self::finish_in(
                    conn,
                    sent.id,
                    &sent.owner,
                    settle,
                    sent.at,
                    Some(&sent.next),
                )
                .await?;
                if !ours {
                    tracing::warn!(reference = %a.reference, id = sent.id, "recorded a post, but its outbox row was no longer this worker's to mark sent; it may be posted again");
                }
            }
        }
        Ok(out)
    }

    /// Everything a group's append reads before it writes, in one round trip (a few, for a
    /// group too large for one statement's bound values): each dispute's newest event, snapshot
    /// version and log line, which request keys are already recorded, which lanes hold pending
    /// rows and, unless the transaction already holds it, the log's head. Each part is an index
    /// look that stops at the first row, whatever the history or the backlog.
    pub(in crate::store) async fn look_values(
        conn: &mut DB::Connection,
        references: &[&str],
        keys: &[&str],
        lanes: &[&str],
        with_head: bool,
    ) -> Result<Look, StoreError> {
        let mut out = Look::default();
        let per_list = (MAX_BINDS - 1) / 3;
        let rounds = [references.len(), keys.len(), lanes.len()]
            .iter()
            .map(|n| n.div_ceil(per_list))
            .max()
            .unwrap_or(0)
            .max(usize::from(with_head));
        for round in 0..rounds {
            let (refs, keys, lanes) = (
                round_of(references, round, per_list),
                round_of(keys, round, per_list),
                round_of(lanes, round, per_list),
            );
            let anonymous = DB::ANONYMOUS_PLACEHOLDERS;
            let mut n = 1;
            let mut with = Vec::new();
            let mut parts = Vec::new();
            if !refs.is_empty() {
                with.push(format!(
                    "wanted (reference) AS (VALUES {})",
                    placeholders(anonymous, refs.len(), 1, n)
                ));
                n += refs.len();
            }
            if !lanes.is_empty() {
                with.push(format!(
                    "lanes (lane) AS (VALUES {})",
                    placeholders(anonymous, lanes.len(), 1, n)
                ));
                n += lanes.len();
            }
            if !refs.is_empty() {
                // Each dispute's newest event through the (reference, seq) index alone.
                parts.push(
                    "SELECT 'n' AS what, e.reference AS name, e.seq AS num, e.hash AS text FROM wanted
                     JOIN events e ON e.reference = wanted.reference
                      AND e.seq = (SELECT max(m.seq) FROM events m WHERE m.reference = wanted.reference)"
                        .to_string(),
                );
            }
            if !keys.is_empty() {
                parts.push(format!(
                    "SELECT 'k', key, NULL, NULL FROM inbound_keys WHERE key IN ({})",
                    list(anonymous, keys.len(), n)
                ));
                n += keys.len();
            }
            if !refs.is_empty() {
                let mut format = String::new();
                mark(anonymous, n, &mut format);
                parts.push(format!(
                    "SELECT 's', s.reference, s.version, NULL FROM wanted
                     JOIN snapshots s ON s.reference = wanted.reference AND s.format = {format}"
                ));
                parts.push(
                    "SELECT 'l', l.reference, NULL, l.line FROM wanted
                     JOIN dispute_log l ON l.reference = wanted.reference"
                        .to_string(),
                );
            }
            if !lanes.is_empty() {
                // One look into each lane, which stops at its first pending row, however long
                // the lane's backlog.
                parts.push(
                    "SELECT 'b', lanes.lane, NULL, NULL FROM lanes
                     WHERE EXISTS (SELECT 1 FROM outbox
                                   WHERE outbox.lane = lanes.lane AND outbox.status = 'pending')"
                        .to_string(),
                );
            }
            if with_head && round == 0 {
                parts
                    .push("SELECT 'h', hash, global_seq, NULL FROM chain_head WHERE id = 1".into());
            }
            if parts.is_empty() {
                continue;
            }
            let with = if with.is_empty() {
                String::new()
            } else {
                format!("WITH {} ", with.join(", "))
            };
            let sql = format!("{with}{}", parts.join(" UNION ALL "));
            let mut q = sqlx::query(AssertSqlSafe(sql))
                .persistent(kept::<DB>(refs.len().max(keys.len()).max(lanes.len())));
            for r in refs {
                q = q.bind(*r);
            }
            for l in lanes {
                q = q.bind(*l);
            }
            for k in keys {
                q = q.bind(*k);
            }
            if !refs.is_empty() {
                q = q.bind(SNAPSHOT_FORMAT);
            }
            for row in q.fetch_all(&mut *conn).await.map_err(err)? {
                out.take_row(&row)?;
            }
        }
        Ok(out)
    }

    async fn insert_keys(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        accepted: &[Accepted<'_>],
    ) -> Result<(), StoreError> {
        let rows: Vec<KeyRow<'_>> = accepted
            .iter()
            .filter_map(|a| {
                let key = a.batch.inbound_key.as_deref()?;
                let at = a.batch.events.first().map_or(0, |e| micros(e.at));
                Some((key, a.reference, at))
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        DB::insert_keys(conn, w, &rows).await
    }

    /// [`Dialect::insert_keys`] as multi-row `VALUES` statements.
    pub(in crate::store) async fn insert_keys_values(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        rows: &[KeyRow<'_>],
    ) -> Result<(), StoreError> {
        for part in rows.chunks(chunk(3)) {
            let sql = format!(
                "INSERT INTO inbound_keys (key, reference, at_us) VALUES {}",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 3, 1)
            );
            w.start(&sql, kept::<DB>(part.len()));
            for (key, reference, at) in part {
                w.bind(*key).bind(*reference).bind(*at);
            }
            w.end(conn).await?;
        }
        Ok(())
    }

    /// Inserts the group's events in order. Each takes the next place in the whole log
    /// (`global_seq`), which the head then reads back ([`Head::write`]).
    async fn insert_events(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        accepted: &[Accepted<'_>],
    ) -> Result<(), StoreError> {
        let rows: Vec<&StoredEvent> = accepted.iter().flat_map(|a| a.rows.iter()).collect();
        if rows.is_empty() {
            return Ok(());
        }
        DB::insert_events(conn, w, &rows).await
    }

    /// [`Dialect::insert_events`] as multi-row `VALUES` statements, in order.
    pub(in crate::store) async fn insert_events_values(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        rows: &[&StoredEvent],
    ) -> Result<(), StoreError> {
        for part in rows.chunks(chunk(9)) {
            let sql = format!(
                "INSERT INTO events (reference, seq, at_us, actor, kind, body, prev_hash, prev_global_hash, hash)
                 VALUES {}",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), 9, 1)
            );
            w.start(&sql, kept::<DB>(part.len()));
            for r in part {
                w.bind(r.reference.as_str())
                    .bind(r.seq)
                    .bind(r.at_us)
                    .bind(r.actor.as_deref())
                    .bind(r.kind.as_str())
                    .bind(r.body.as_str())
                    .bind(r.prev_hash.as_str())
                    .bind(r.prev_global_hash.as_str())
                    .bind(r.hash.as_str());
            }
            w.end(conn).await?;
        }
        Ok(())
    }

    /// Queues outbox rows in the caller's transaction, which holds the lanes
    /// ([`Db::begin_append`]). A row cannot go before the rows queued ahead of it in its lane:
    /// while any of them is pending it waits at [`BEHIND_US`], out of every claim's range, with
    /// its own ready time kept for when the rows ahead are settled. A row whose lane is empty
    /// goes into the ready range at once (and so do the rows after it in the same call: the
    /// claim still takes them in order, and none is left waiting behind a row that was never
    /// written, as one refused as a repeat would be). Which lanes hold pending rows (`busy`) is
    /// read beforehand for the whole call ([`Db::look`]), not asked row by row inside the
    /// insert, which on PostgreSQL made planning a large group's insert take longer than writing
    /// it.
    pub(super) async fn insert_outbox_rows(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        rows: &[(&str, i64, &NewOutbox)],
        busy: &HashSet<String>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows: Vec<OutboxInsert<'_>> = rows
            .iter()
            .map(|(reference, created, o)| {
                let ready = micros(o.available_at);
                OutboxInsert {
                    key: &o.idempotency_key,
                    reference,
                    lane: &o.lane,
                    target: &o.target,
                    payload: &o.payload,
                    created_us: *created,
                    available_us: if busy.contains(o.lane.as_str()) {
                        BEHIND_US
                    } else {
                        ready
                    },
                    ready_us: ready,
                }
            })
            .collect();
        DB::insert_outbox(conn, w, &rows).await
    }

    /// [`Dialect::insert_outbox`] as multi-row `VALUES` statements, in order.
    pub(in crate::store) async fn insert_outbox_values(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        rows: &[OutboxInsert<'_>],
    ) -> Result<(), StoreError> {
        const COLS: usize = 8;
        for part in rows.chunks(chunk(COLS)) {
            let sql = format!(
                "INSERT INTO outbox (idempotency_key, reference, lane, target, payload, created_us, available_us, ready_us)
                 VALUES {} ON CONFLICT (idempotency_key) DO NOTHING",
                placeholders(DB::ANONYMOUS_PLACEHOLDERS, part.len(), COLS, 1)
            );
            w.start(&sql, kept::<DB>(part.len()));
            for r in part {
                w.bind(r.key)
                    .bind(r.reference)
                    .bind(r.lane)
                    .bind(r.target)
                    .bind(r.payload)
                    .bind(r.created_us)
                    .bind(r.available_us)
                    .bind(r.ready_us);
            }
            w.end(conn).await?;
        }
        Ok(())
    }

    async fn insert_schedule_rows(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
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
            w.start(&sql, kept::<DB>(part.len()));
            for (reference, s) in part {
                w.bind(s.idempotency_key.as_str())
                    .bind(*reference)
                    .bind(s.kind.as_str())
                    .bind(micros(s.due_at))
                    .bind(s.payload.to_string());
            }
            w.end(conn).await?;
        }
        Ok(())
    }

    /// Brings each dispute's projection and snapshot to its state after the group. Where a
    /// batch changes nothing the projection shows but the version (a note), only the version
    /// moves, for the whole group in one statement. A snapshot is only a place to start folding
    /// from (a load applies the events after it), so it is written when missing and when it is
    /// [`QUIET_EVENTS`] behind (`snapshots`: the versions stored), not at every append.
    async fn write_states(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        accepted: &[Accepted<'_>],
        snapshots: &HashMap<String, i64>,
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
                _ => {
                    w.flush(conn).await?;
                    Dispute::from_events(&Self::load_events(conn, a.reference).await?)
                }
            };
            let only_version = matches!(&a.batch.before, Some(before)
                if before.version == a.expected && projection::only_version_differs(before, &state));
            if !only_version {
                // Its own statements, after the ones held (an earlier batch's among them).
                w.flush(conn).await?;
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
        let versions: Vec<(&str, i64)> = states
            .iter()
            .map(|(reference, d)| (*reference, d.version as i64))
            .collect();
        if !versions.is_empty() {
            DB::set_versions(conn, w, &versions).await?;
        }
        let mut texts = Vec::with_capacity(states.len());
        for (reference, d) in &states {
            let behind = snapshots
                .get(*reference)
                .map(|stored| d.version as i64 - stored);
            if behind.is_some_and(|b| (0..QUIET_EVENTS).contains(&b)) {
                continue;
            }
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
            w.start(&sql, kept::<DB>(part.len()));
            for (reference, version, text) in part {
                w.bind(*reference)
                    .bind(*version)
                    .bind(SNAPSHOT_FORMAT)
                    .bind(text.as_str());
            }
            w.end(conn).await?;
        }
        Ok(())
    }

    /// [`Dialect::set_versions`] as `UPDATE … CASE` statements.
    pub(in crate::store) async fn set_versions_values(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        rows: &[(&str, i64)],
    ) -> Result<(), StoreError> {
        for part in rows.chunks(chunk(3)) {
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
                list(anonymous, part.len(), 2 * part.len() + 1)
            ));
            w.start(&sql, kept::<DB>(part.len()));
            for (reference, version) in part {
                w.bind(*reference).bind(*version);
            }
            for (reference, _) in part {
                w.bind(*reference);
            }
            w.end(conn).await?;
        }
        Ok(())
    }

    /// Brings each dispute's log line up to date: its stored line (`stored`) plus the group's
    /// events, else a fold of the whole record; all written in one statement. A line the group
    /// only counts events on (notes) is left as it is until it is [`QUIET_EVENTS`] behind;
    /// when it is next written, the events it missed are read and applied.
    async fn write_log_lines(
        conn: &mut DB::Connection,
        w: &mut Writes<DB>,
        accepted: &[Accepted<'_>],
        stored: &HashMap<String, String>,
    ) -> Result<(), StoreError> {
        // Each dispute's version before and after the group, in order of first appearance.
        let mut order: Vec<&str> = Vec::new();
        let mut versions: HashMap<&str, (u64, u64)> = HashMap::new();
        for a in accepted {
            let after = a.expected + a.batch.events.len() as u64;
            versions
                .entry(a.reference)
                .and_modify(|v| v.1 = after)
                .or_insert_with(|| {
                    order.push(a.reference);
                    (a.expected, after)
                });
        }
        let mut lines: HashMap<&str, Option<LogLine>> = HashMap::new();
        for reference in &order {
            let (expected, newest) = versions.get(reference).copied().unwrap_or((0, 0));
            let current = stored
                .get(*reference)
                .and_then(|t| serde_json::from_str::<LogLine>(t).ok())
                .filter(|l| expected > 0 && l.version <= expected);
            let line = match current {
                Some(base) => {
                    let mut l = base.clone();
                    let mut moved = false;
                    for a in accepted.iter().filter(|a| a.reference == *reference) {
                        for e in &a.batch.events {
                            moved |= l.apply(e);
                        }
                    }
                    if !moved && (newest as i64 - base.version as i64) < QUIET_EVENTS {
                        // Nothing to say but a count: the line stays as stored.
                        continue;
                    }
                    if base.version < expected {
                        // Behind by events that only counted: those and the group's (all in the
                        // record now) applied to the line as stored.
                        l = base;
                        w.flush(conn).await?;
                        let missed = Self::load_events_after(conn, reference, l.version as i64);
                        for e in missed.await? {
                            l.apply(&e);
                        }
                    }
                    Some(l)
                }
                // Raised in this group: fold its events.
                None if expected == 0 => {
                    let events: Vec<_> = accepted
                        .iter()
                        .filter(|a| a.reference == *reference)
                        .flat_map(|a| a.batch.events.iter().cloned())
                        .collect();
                    LogLine::fold(reference, &events)
                }
                // Missing, unreadable or ahead of the record: fold the whole record.
                None => {
                    w.flush(conn).await?;
                    LogLine::fold(reference, &Self::load_events(conn, reference).await?)
                }
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
            w.start(&sql, kept::<DB>(part.len()));
            for r in part {
                w.bind(*r);
            }
            w.end(conn).await?;
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
            w.start(&sql, kept::<DB>(part.len()));
            for (reference, l, text) in part {
                w.bind(*reference)
                    .bind(l.board.as_str())
                    .bind(micros(l.raised))
                    .bind(l.raising.as_str())
                    .bind(l.receiving.as_str())
                    .bind(text.as_str());
            }
            w.end(conn).await?;
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
    fn a_long_list_is_read_in_rounds_that_cover_it_once() {
        let list = ["a", "b", "c", "d", "e"];
        let rounds: Vec<&[&str]> = (0..4).map(|r| round_of(&list, r, 2)).collect();
        assert_eq!(rounds, [&["a", "b"][..], &["c", "d"], &["e"], &[]]);
    }

    #[test]
    fn a_chunk_stays_under_the_bind_limit() {
        for cols in 1..=13 {
            assert!(chunk(cols) * cols <= MAX_BINDS);
            assert!(chunk(cols) >= 1);
        }
    }
}
