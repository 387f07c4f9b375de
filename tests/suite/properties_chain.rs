//! Properties of the hash chain: whichever stored event is changed, in whichever recorded column
//! and at whichever byte, `verify` finds the change and names that event.
//!
//! One small record (`store_audit`'s two Norfolk disputes whose events interleave) is written
//! once through the real store; each case tampers with its own copy of the SQLite file. The chain is checked by
//! code both backends share, so one backend is enough here; `store_audit` covers both.

use crate::databases::{Backend, TestDb};
use crate::store_audit::workload;
use escalation_bot::store::Store;
use proptest::prelude::*;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Decode, Encode, Sqlite, SqlitePool, Type};
use std::path::{Path, PathBuf};

/// The columns that record an event; `global_seq` is only its place in the table.
const TEXT_COLUMNS: [&str; 7] = [
    "reference",
    "actor",
    "kind",
    "body",
    "prev_hash",
    "prev_global_hash",
    "hash",
];
const INTEGER_COLUMNS: [&str; 2] = ["seq", "at_us"];

/// One event as stored: its place, and the dispute and number `verify` should name.
#[derive(Debug, Clone)]
struct Row {
    global_seq: i64,
    reference: String,
    seq: i64,
}

/// The untouched record: a SQLite file and its events in log order.
struct Record {
    _db: TestDb,
    file: PathBuf,
    rows: Vec<Row>,
}

async fn pool(file: &Path) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(file))
        .await
        .unwrap_or_else(|e| panic!("a raw connection to {}: {e}", file.display()))
}

async fn record() -> Record {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.open().await;
    workload(&store).await;
    drop(store);
    let file = db.path().to_path_buf();
    let raw = pool(&file).await;
    let rows = sqlx::query_as::<_, (i64, String, i64)>(
        "SELECT global_seq, reference, seq FROM events ORDER BY global_seq",
    )
    .fetch_all(&raw)
    .await
    .expect("the events read")
    .into_iter()
    .map(|(global_seq, reference, seq)| Row {
        global_seq,
        reference,
        seq,
    })
    .collect();
    raw.close().await;
    Record {
        _db: db,
        file,
        rows,
    }
}

/// One change of one byte (or, in text, of one character) in one recorded column of one event.
#[derive(Debug, Clone)]
struct Tamper {
    event: prop::sample::Index,
    column: prop::sample::Index,
    at: prop::sample::Index,
    /// For text: the printable ASCII character put in; for integers: what the byte is XORed with.
    with: u8,
}

fn tamper() -> impl Strategy<Value = Tamper> {
    (
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        1u8..=255,
    )
        .prop_map(|(event, column, at, with)| Tamper {
            event,
            column,
            at,
            with,
        })
}

/// One column of one event, by its place in the log.
async fn read<T>(raw: &SqlitePool, column: &str, global_seq: i64) -> T
where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + Send + Unpin,
{
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT {column} FROM events WHERE global_seq = {global_seq}"
    )))
    .fetch_one(raw)
    .await
    .unwrap_or_else(|e| panic!("{column} of event {global_seq} reads: {e}"))
}

/// Rewrites one column of one event, as someone with access to the database file could.
async fn write<T>(raw: &SqlitePool, column: &str, global_seq: i64, value: T) -> bool
where
    T: for<'q> Encode<'q, Sqlite> + Type<Sqlite> + Send,
{
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE events SET {column} = $1 WHERE global_seq = {global_seq}"
    )))
    .bind(value)
    .execute(raw)
    .await
    .is_ok()
}

/// `text` with its `i`th character replaced by a different printable ASCII character.
fn one_character_changed(text: &str, i: usize, with: u8) -> (String, char) {
    let chars: Vec<char> = text.chars().collect();
    let mut put = char::from(b' ' + with % 95);
    if put == chars[i] {
        put = if put == '~' {
            ' '
        } else {
            char::from(put as u8 + 1)
        };
    }
    let changed = chars
        .iter()
        .enumerate()
        .map(|(j, c)| if j == i { put } else { *c })
        .collect();
    (changed, put)
}

/// Applies a tamper to a copy of the record; None when the database itself refuses it (a change
/// of `seq` onto a number the dispute already has breaks the table's unique key) or there is
/// nothing to change (an event without an actor).
async fn tampered_copy(record: &Record, t: &Tamper, copy: &Path) -> Option<(Row, String)> {
    let raw = pool(&record.file).await;
    sqlx::query(AssertSqlSafe(format!("VACUUM INTO '{}'", copy.display())))
        .execute(&raw)
        .await
        .expect("the record copies");
    raw.close().await;
    let raw = pool(copy).await;
    let row = t.event.get(&record.rows).clone();
    let g = row.global_seq;
    let column = t.column.index(TEXT_COLUMNS.len() + INTEGER_COLUMNS.len());
    let what = if let Some(name) = TEXT_COLUMNS.get(column) {
        let old: Option<String> = read(&raw, name, g).await;
        let old = old.filter(|o| !o.is_empty())?;
        let i = t.at.index(old.chars().count());
        let (new, put) = one_character_changed(&old, i, t.with);
        write(&raw, name, g, new)
            .await
            .then(|| format!("{name}: character {i} of {old:?} changed to {put:?}"))
    } else {
        let name = INTEGER_COLUMNS[column - TEXT_COLUMNS.len()];
        let byte = t.at.index(8);
        let old: i64 = read(&raw, name, g).await;
        let new = old ^ (i64::from(t.with) << (8 * byte));
        write(&raw, name, g, new)
            .await
            .then(|| format!("{name}: byte {byte} of {old} XOR {:#04x}", t.with))
    };
    raw.close().await;
    what.map(|what| (row, what))
}

#[test]
fn any_changed_byte_of_any_recorded_event_is_found_and_located() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let record = rt.block_on(record());
    let intact = rt
        .block_on(async {
            let store = Store::open(&record.file.display().to_string()).await?;
            store.verify().await
        })
        .expect("the untouched record verifies");
    assert_eq!(intact.broken, None);
    let copies = tempfile::tempdir().expect("a folder for copies");
    let n = std::cell::Cell::new(0);
    proptest!(ProptestConfig::with_cases(48), |(t in tamper())| {
        n.set(n.get() + 1);
        let copy = copies.path().join(format!("copy-{}.db", n.get()));
        let Some((row, what)) = rt.block_on(tampered_copy(&record, &t, &copy)) else {
            return Ok(());
        };
        let report = rt
            .block_on(async {
                let store = Store::open(&copy.display().to_string()).await?;
                store.verify().await
            })
            .expect("verify runs on a tampered record");
        prop_assert!(report.broken.is_some(), "{} in event {:?} is not found", what, row);
        let broken = report.broken.expect("checked just above");
        // A changed reference moves the event to another dispute's chain, where it is found
        // under the name it now has; every other change is named where it was made.
        if !what.starts_with("reference:") {
            prop_assert_eq!(
                (broken.reference.as_str(), broken.seq),
                (row.reference.as_str(), row.seq),
                "{} in {:?}: verify said {}", what, row, broken
            );
        }
        let _ = std::fs::remove_file(&copy);
    });
}
