//! Tampering with stored events directly in SQL is caught by `verify` and `audit verify`, which
//! name the dispute and the event number where the record stops being what was written.

use crate::databases::{
    ASC_V_GP, POLICE_V_ACUTE, Raw, TestDb, act, note, on_both_backends, raise, run_cli,
};
use escalation_bot::escalation::Reference;
use escalation_bot::store::Store;

/// Two Norfolk disputes whose events interleave in the log; A's three notes are the events tampered with.
pub(crate) struct Log {
    pub(crate) a: Reference,
    pub(crate) b: Reference,
    /// The event numbers of A's notes, oldest first; the last is the newest event in the whole log.
    pub(crate) a_notes: [i64; 3],
    pub(crate) events: u64,
}

pub(crate) async fn workload(store: &Store) -> Log {
    let a = raise(store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    let b = raise(store, POLICE_V_ACUTE, "2026-05-21T10:00:00+01:00").await;
    let raised = store.load(&a).await.expect("loads").version as i64;
    act(
        store,
        &a,
        "dr-okafor",
        "2026-05-22T11:15:00+01:00",
        note("A first note"),
    )
    .await;
    act(
        store,
        &b,
        "nurse-chen",
        "2026-05-22T11:30:00+01:00",
        note("B first note"),
    )
    .await;
    act(
        store,
        &a,
        "sam-patel",
        "2026-05-26T10:00:00+01:00",
        note("A second note"),
    )
    .await;
    act(
        store,
        &b,
        "pc-evans",
        "2026-05-26T10:30:00+01:00",
        note("B second note"),
    )
    .await;
    act(
        store,
        &a,
        "dr-okafor",
        "2026-05-27T09:30:00+01:00",
        note("A third note"),
    )
    .await;
    let events =
        store.load(&a).await.expect("loads").version + store.load(&b).await.expect("loads").version;
    Log {
        a,
        b,
        a_notes: [raised + 1, raised + 2, raised + 3],
        events,
    }
}

/// Builds the workload, checks it verifies, tampers with it, and checks where `verify` says it broke.
async fn tampering_is_located(
    db: &TestDb,
    tamper: impl Fn(&Log) -> String,
    located: impl Fn(&Log) -> (String, i64),
) {
    let store = db.open().await;
    let log = workload(&store).await;
    let intact = store.verify().await.expect("verify runs");
    assert_eq!(intact.broken, None, "an untouched log verifies");
    assert_eq!((intact.events, intact.disputes), (log.events, 2));

    let raw = db.raw().await;
    let sql = tamper(&log);
    let changed = raw.exec(&sql).await;
    assert!(changed > 0, "the tampering changed something: {sql}");
    raw.close().await;

    let report = store.verify().await.expect("verify runs on a tampered log");
    let broken = report
        .broken
        .clone()
        .unwrap_or_else(|| panic!("tampering with `{sql}` is caught; report: {report:?}"));
    let (reference, seq) = located(&log);
    assert_eq!(
        (broken.reference.as_str(), broken.seq),
        (reference.as_str(), seq),
        "`{sql}` is located at {reference} event {seq}; verify said: {broken}"
    );
    assert!(!broken.problem.is_empty());
}

fn at_a(log: &Log, seq: i64) -> (String, i64) {
    (log.a.to_string(), seq)
}

async fn editing_a_body_is_located(db: &TestDb) {
    tampering_is_located(
        db,
        |l| {
            format!(
                "UPDATE events SET body = replace(body, 'A second note', 'A quietly changed note') WHERE reference = '{}' AND seq = {}",
                l.a, l.a_notes[1]
            )
        },
        |l| at_a(l, l.a_notes[1]),
    )
    .await;
}

on_both_backends!(editing_a_body_is_located:
    editing_an_event_body_in_sql_is_caught_at_that_event_on_sqlite,
    editing_an_event_body_in_sql_is_caught_at_that_event_on_postgres);

async fn editing_the_first_event_of_the_other_dispute_is_located(db: &TestDb) {
    tampering_is_located(
        db,
        |l| {
            format!(
                "UPDATE events SET body = replace(body, 'ASC-4471', 'ASC-9999') WHERE reference = '{}' AND seq = 1",
                l.b
            )
        },
        |l| (l.b.to_string(), 1),
    )
    .await;
}

on_both_backends!(editing_the_first_event_of_the_other_dispute_is_located:
    editing_a_raise_in_sql_is_caught_at_event_one_of_that_dispute_on_sqlite,
    editing_a_raise_in_sql_is_caught_at_event_one_of_that_dispute_on_postgres);

async fn editing_the_time_column_is_located(db: &TestDb) {
    tampering_is_located(
        db,
        |l| {
            format!(
                "UPDATE events SET at_us = at_us + 3600000000 WHERE reference = '{}' AND seq = {}",
                l.a, l.a_notes[0]
            )
        },
        |l| at_a(l, l.a_notes[0]),
    )
    .await;
}

on_both_backends!(editing_the_time_column_is_located:
    editing_an_events_time_column_in_sql_is_caught_at_that_event_on_sqlite,
    editing_an_events_time_column_in_sql_is_caught_at_that_event_on_postgres);

async fn deleting_a_middle_event_is_located(db: &TestDb) {
    tampering_is_located(
        db,
        |l| {
            format!(
                "DELETE FROM events WHERE reference = '{}' AND seq = {}",
                l.a, l.a_notes[0]
            )
        },
        // The next event in the log belongs to the other dispute: the gap is still A's.
        |l| at_a(l, l.a_notes[0]),
    )
    .await;
}

on_both_backends!(deleting_a_middle_event_is_located:
    deleting_a_middle_event_in_sql_is_caught_naming_the_missing_event_on_sqlite,
    deleting_a_middle_event_in_sql_is_caught_naming_the_missing_event_on_postgres);

async fn deleting_the_newest_event_is_located(db: &TestDb) {
    tampering_is_located(
        db,
        |l| {
            format!(
                "DELETE FROM events WHERE reference = '{}' AND seq = {}",
                l.a, l.a_notes[2]
            )
        },
        // The event before it in the log belongs to the other dispute: the missing one is still A's.
        |l| at_a(l, l.a_notes[2]),
    )
    .await;
}

on_both_backends!(deleting_the_newest_event_is_located:
    deleting_the_newest_event_in_sql_is_caught_naming_the_missing_event_on_sqlite,
    deleting_the_newest_event_in_sql_is_caught_naming_the_missing_event_on_postgres);

async fn swapping_two_events_numbers_is_located(db: &TestDb) {
    tampering_is_located(
        db,
        |l| {
            let (a, x, y) = (&l.a, l.a_notes[0], l.a_notes[1]);
            // Through a spare number: (reference, seq) is unique.
            format!(
                "UPDATE events SET seq = -1 WHERE reference = '{a}' AND seq = {x};
                 UPDATE events SET seq = {x} WHERE reference = '{a}' AND seq = {y};
                 UPDATE events SET seq = {y} WHERE reference = '{a}' AND seq = -1;"
            )
        },
        |l| at_a(l, l.a_notes[0]),
    )
    .await;
}

on_both_backends!(swapping_two_events_numbers_is_located:
    swapping_two_events_numbers_in_sql_is_caught_at_the_first_of_them_on_sqlite,
    swapping_two_events_numbers_in_sql_is_caught_at_the_first_of_them_on_postgres);

async fn audit_verify_exit_codes(db: &TestDb) {
    let store = db.open().await;
    let log = workload(&store).await;
    let (code, stdout, stderr) = run_cli(&["audit", "verify", "--db", &db.url]).await;
    assert_eq!(
        code,
        Some(0),
        "an intact log exits 0; stdout: {stdout} stderr: {stderr}"
    );
    assert!(
        stdout.contains(&format!("ok: {} events in 2 disputes", log.events)),
        "the count is printed: {stdout}"
    );

    let raw: Raw = db.raw().await;
    raw.exec(&format!(
        "UPDATE events SET body = replace(body, 'A second note', 'A changed note') WHERE reference = '{}' AND seq = {}",
        log.a, log.a_notes[1]
    ))
    .await;
    raw.close().await;
    let (code, stdout, stderr) = run_cli(&["audit", "verify", "--db", &db.url]).await;
    assert_eq!(
        code,
        Some(1),
        "a tampered log exits 1; stdout: {stdout} stderr: {stderr}"
    );
    assert!(
        stdout.contains(&format!("broken: {} event {}", log.a, log.a_notes[1])),
        "the broken link is named: {stdout}"
    );
}

on_both_backends!(audit_verify_exit_codes:
    audit_verify_exits_0_with_a_count_when_intact_and_1_naming_the_tampered_event_on_sqlite,
    audit_verify_exits_0_with_a_count_when_intact_and_1_naming_the_tampered_event_on_postgres);

async fn an_older_record_is_upgraded_to_name_its_newest_event(db: &TestDb) {
    let store = db.open().await;
    let log = workload(&store).await;
    drop(store);
    // Back to the first schema, as a database written before migration 2 would be.
    let raw = db.raw().await;
    raw.exec(
        "ALTER TABLE chain_head DROP COLUMN reference;
         ALTER TABLE chain_head DROP COLUMN seq;
         DELETE FROM _sqlx_migrations WHERE version = 2;",
    )
    .await;
    let store = db.open().await;
    let intact = store.verify().await.expect("verify runs");
    assert_eq!(
        (intact.broken, intact.events),
        (None, log.events),
        "the upgrade keeps the record intact"
    );
    raw.exec(&format!(
        "DELETE FROM events WHERE reference = '{}' AND seq = {}",
        log.a, log.a_notes[2]
    ))
    .await;
    raw.close().await;
    let broken = store
        .verify()
        .await
        .expect("verify runs")
        .broken
        .expect("the deletion is caught");
    assert_eq!(
        (broken.reference, broken.seq),
        (log.a.to_string(), log.a_notes[2]),
        "the upgraded head names the newest event"
    );
}

on_both_backends!(an_older_record_is_upgraded_to_name_its_newest_event:
    a_record_from_before_the_head_named_its_newest_event_is_upgraded_and_locates_its_deletion_on_sqlite,
    a_record_from_before_the_head_named_its_newest_event_is_upgraded_and_locates_its_deletion_on_postgres);
