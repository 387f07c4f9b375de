//! The outbox and schedule: written with the events that cause them, deduplicated by key, and
//! claimed by concurrent workers under a lease without any row being taken twice.

use crate::databases::{ASC_V_GP, TestDb, at, note, on_both_backends, raise, who, world};
use chrono::{DateTime, Utc};
use escalation_bot::directory::Platform;
use escalation_bot::escalation::{self, Reference};
use escalation_bot::store::{
    Batch, NewOutbox, NewSchedule, NextSlot, PacingRow, SentRow, Store, StoreError,
};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);

fn now() -> DateTime<Utc> {
    at("2026-06-01T09:00:00Z")
}

/// An outbox row in its own lane unless `lane` says otherwise.
fn outbox(key: &str, text: &str) -> NewOutbox {
    outbox_in(key, key, text)
}

fn outbox_in(key: &str, lane: &str, text: &str) -> NewOutbox {
    NewOutbox {
        idempotency_key: key.to_string(),
        lane: lane.to_string(),
        target: json!({ "platform": "slack", "workspace": "T0NORFOLK", "channel": "C0ASC", "lane": lane }).to_string(),
        payload: json!({ "text": text }).to_string(),
        available_at: at("2026-05-21T09:00:00Z"),
    }
}

/// Every test row's target paces in the one channel its target names (`outbox_in`).
fn asc_channel(_: &serde_json::Value) -> Option<PacingRow> {
    Some(PacingRow {
        platform: "slack".into(),
        workspace: "T0NORFOLK".into(),
        channel: "C0ASC".into(),
    })
}

fn schedule(key: &str, kind: &str, due: &str) -> NewSchedule {
    NewSchedule {
        idempotency_key: key.to_string(),
        kind: kind.to_string(),
        due_at: at(due),
        payload: json!({ "kind": kind }),
    }
}

/// Decides a note on the loaded state and appends it at `version` (the loaded one when None),
/// with the rows and keys given.
async fn note_with(
    store: &Store,
    r: &Reference,
    version: Option<u64>,
    text: &str,
    extra: Batch,
) -> Result<(), StoreError> {
    let state = store.load(r).await.expect("loads");
    let events = escalation::handle(
        &state,
        &who("sam-patel"),
        &note(text),
        &world().ctx(at("2026-05-22T10:00:00+01:00")),
    )
    .expect("the core accepts a note");
    let batch = Batch { events, ..extra };
    store
        .append(r, version.unwrap_or(state.version), &batch)
        .await
}

/// A dispute with `notes` notes, each causing `targets` outbox rows and two schedule rows.
async fn seeded(store: &Store, notes: usize, targets: usize) -> (Reference, usize, usize) {
    let r = raise(store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    for n in 0..notes {
        let extra = Batch {
            outbox: (0..targets)
                .map(|t| {
                    outbox_in(
                        &format!("{r}/note-{n}/target-{t}"),
                        &format!("{r}/target-{t}"),
                        "A note was added",
                    )
                })
                .collect(),
            schedule: vec![
                schedule(
                    &format!("{r}/note-{n}/reminder"),
                    "reminder",
                    "2026-05-28T09:00:00Z",
                ),
                schedule(
                    &format!("{r}/note-{n}/nudge"),
                    "nudge",
                    "2026-05-29T09:00:00Z",
                ),
            ],
            ..Batch::default()
        };
        note_with(store, &r, None, &format!("Note {n}"), extra)
            .await
            .expect("recorded");
    }
    (r, notes * targets, notes * 2)
}

#[derive(Clone, Copy, Debug)]
enum Queue {
    Outbox,
    Schedule,
}

/// Who held which row: a row inserted twice while held means two claimants had it at once; a
/// lane inserted twice means two rows of one lane (one thread) were out at once.
#[derive(Default)]
struct Ledger {
    held: HashSet<i64>,
    held_lanes: HashSet<String>,
    claims: Vec<(i64, String)>,
    /// Each lane's rows in the order they were claimed.
    lanes: BTreeMap<String, Vec<i64>>,
}

/// One worker: claim a few, hold them a moment, finish them; stop when nothing is left to claim.
async fn worker(store: Store, owner: String, queue: Queue, ledger: Arc<Mutex<Ledger>>) {
    loop {
        // (id, lane): schedule rows have no lane.
        let rows: Vec<(i64, Option<String>)> = match queue {
            Queue::Outbox => store
                .claim_outbox(&owner, now(), LEASE, 3)
                .await
                .map(|rows| {
                    rows.iter()
                        .map(|r| (r.id, r.target["lane"].as_str().map(str::to_string)))
                        .collect()
                }),
            Queue::Schedule => store
                .claim_schedule(&owner, now(), LEASE, 3)
                .await
                .map(|rows| rows.iter().map(|r| (r.id, None)).collect()),
        }
        .unwrap_or_else(|e| panic!("{owner} claims: {e}"));
        if rows.is_empty() {
            return;
        }
        {
            let mut l = ledger.lock().expect("ledger lock");
            for (id, lane) in &rows {
                assert!(
                    l.held.insert(*id),
                    "{queue:?} row {id} claimed by {owner} while another claimant held it"
                );
                l.claims.push((*id, owner.clone()));
                if let Some(lane) = lane {
                    assert!(
                        l.held_lanes.insert(lane.clone()),
                        "row {id}: two rows of lane {lane} are out at once"
                    );
                    l.lanes.entry(lane.clone()).or_default().push(*id);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        for (id, lane) in rows {
            // Released from the books first: the lease keeps others off the row until it is finished.
            {
                let mut l = ledger.lock().expect("ledger lock");
                l.held.remove(&id);
                if let Some(lane) = &lane {
                    l.held_lanes.remove(lane);
                }
            }
            let finished = match queue {
                Queue::Outbox => {
                    store
                        .outbox_sent(id, &owner, "1779352860.000200", now())
                        .await
                }
                Queue::Schedule => store.schedule_done(id, &owner, now()).await,
            }
            .unwrap_or_else(|e| panic!("{owner} finishes {id}: {e}"));
            assert!(
                finished,
                "{owner} holds the lease on {queue:?} row {id}, so it can finish it"
            );
        }
    }
}

async fn claimants_never_share_a_row(db: &TestDb, separate_pools: bool) {
    const WORKERS: usize = 4;
    let store = db.open().await;
    let (_, outbox_rows, schedule_rows) = seeded(&store, 12, 4).await;
    for (queue, total) in [
        (Queue::Outbox, outbox_rows),
        (Queue::Schedule, schedule_rows),
    ] {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let s = if separate_pools {
                db.open().await
            } else {
                store.clone()
            };
            tasks.push(tokio::spawn(worker(
                s,
                format!("worker-{w}"),
                queue,
                ledger.clone(),
            )));
        }
        for t in tasks {
            t.await.expect("a worker does not panic");
        }
        let l = std::mem::take(&mut *ledger.lock().expect("ledger lock"));
        let mut ids: Vec<i64> = l.claims.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            l.claims.len(),
            "{queue:?}: no row was claimed twice: {:?}",
            l.claims
        );
        assert_eq!(ids.len(), total, "{queue:?}: every row was claimed");
        for (lane, order) in &l.lanes {
            assert!(
                order.is_sorted(),
                "lane {lane} went out in order: {order:?}"
            );
        }
        let raw = db.raw().await;
        let (table, done) = match queue {
            Queue::Outbox => ("outbox", "sent"),
            Queue::Schedule => ("schedule", "done"),
        };
        assert_eq!(
            raw.int(&format!(
                "SELECT count(*) FROM {table} WHERE status = '{done}'"
            ))
            .await,
            total as i64,
            "{table}: every row finished exactly once"
        );
        assert_eq!(
            raw.int(&format!("SELECT max(attempts) FROM {table}")).await,
            1,
            "{table}: one claim each"
        );
        raw.close().await;
    }
    let depth = store.outbox_depth().await.expect("depth");
    assert_eq!((depth.pending, depth.oldest_pending), (0, None));
}

async fn claimants_sharing_one_store_never_share_a_row(db: &TestDb) {
    claimants_never_share_a_row(db, false).await;
}

on_both_backends!(claimants_sharing_one_store_never_share_a_row:
    concurrent_claimants_on_one_store_never_take_the_same_outbox_or_schedule_row_on_sqlite,
    concurrent_claimants_on_one_store_never_take_the_same_outbox_or_schedule_row_on_postgres);

async fn claimants_on_separate_stores_never_share_a_row(db: &TestDb) {
    claimants_never_share_a_row(db, true).await;
}

on_both_backends!(claimants_on_separate_stores_never_share_a_row:
    concurrent_claimants_with_their_own_pools_never_take_the_same_outbox_or_schedule_row_on_sqlite,
    concurrent_claimants_with_their_own_pools_never_take_the_same_outbox_or_schedule_row_on_postgres);

async fn leases_expire_and_stale_owners_cannot_finish(db: &TestDb) {
    let store = db.open().await;
    let (_, _, _) = seeded(&store, 1, 2).await;
    let t0 = now();
    let secs = |s: i64| t0 + chrono::Duration::seconds(s);
    let lease = Duration::from_secs(30);

    let a = store
        .claim_outbox("worker-a", t0, lease, 1)
        .await
        .expect("claims");
    assert_eq!(a.len(), 1);
    let x = a[0].id;
    assert_eq!(a[0].attempts, 1);
    let b = store
        .claim_outbox("worker-b", secs(10), lease, 10)
        .await
        .expect("claims");
    assert!(
        b.iter().all(|r| r.id != x),
        "a live lease is not taken: {b:?}"
    );
    let other: Vec<i64> = b.iter().map(|r| r.id).collect();
    // worker-a dies; after its lease runs out worker-b takes the row.
    assert!(
        store
            .claim_outbox("worker-b", secs(30), lease, 10)
            .await
            .expect("claims")
            .is_empty(),
        "not before expiry"
    );
    let b = store
        .claim_outbox("worker-b", secs(31), lease, 10)
        .await
        .expect("claims");
    assert_eq!(
        b.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![x],
        "the expired row is reclaimed"
    );
    assert_eq!(b[0].attempts, 2);
    assert!(
        !store
            .outbox_sent(x, "worker-a", "ts", secs(32))
            .await
            .expect("runs"),
        "a stale owner cannot mark it sent"
    );
    assert!(
        !store
            .outbox_retry(x, "worker-a", "timeout", secs(40))
            .await
            .expect("runs"),
        "nor retry it"
    );
    assert!(
        !store
            .outbox_park(x, "worker-a", "channel_not_found", secs(32))
            .await
            .expect("runs"),
        "nor park it"
    );
    assert!(
        store
            .outbox_sent(x, "worker-b", "ts", secs(33))
            .await
            .expect("runs"),
        "the current owner can"
    );
    assert!(
        !store
            .outbox_sent(x, "worker-b", "ts", secs(34))
            .await
            .expect("runs"),
        "and only once"
    );

    // Retry puts a row back for later; park takes it out of the queue for good.
    let y = other[0];
    assert!(
        store
            .outbox_retry(y, "worker-b", "rate_limited", secs(100))
            .await
            .expect("runs")
    );
    assert!(
        store
            .claim_outbox("worker-c", secs(99), lease, 10)
            .await
            .expect("claims")
            .is_empty(),
        "not before retry_at"
    );
    let c = store
        .claim_outbox("worker-c", secs(100), lease, 10)
        .await
        .expect("claims");
    assert_eq!(
        c.iter().map(|r| (r.id, r.attempts)).collect::<Vec<_>>(),
        vec![(y, 2)]
    );
    assert!(
        store
            .outbox_park(y, "worker-c", "channel_not_found", secs(101))
            .await
            .expect("runs")
    );
    let depth = store.outbox_depth().await.expect("depth");
    assert_eq!((depth.pending, depth.parked), (0, 1));
    assert!(
        store
            .claim_outbox("worker-c", secs(10_000), lease, 10)
            .await
            .expect("claims")
            .is_empty()
    );

    // The schedule's lease works the same way.
    let due = at("2026-05-28T09:00:00Z");
    let s = store
        .claim_schedule("worker-a", due, lease, 1)
        .await
        .expect("claims");
    assert_eq!(s.len(), 1, "only the reminder is due yet");
    assert_eq!(s[0].kind, "reminder");
    let sid = s[0].id;
    assert!(
        store
            .claim_schedule("worker-b", due, lease, 10)
            .await
            .expect("claims")
            .is_empty(),
        "held, and the nudge is not due"
    );
    let later = due + chrono::Duration::seconds(31);
    let s = store
        .claim_schedule("worker-b", later, lease, 1)
        .await
        .expect("claims");
    assert_eq!(
        s.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![sid],
        "the expired row is reclaimed"
    );
    assert!(
        !store
            .schedule_done(sid, "worker-a", later)
            .await
            .expect("runs"),
        "a stale owner cannot finish it"
    );
    assert!(
        store
            .schedule_done(sid, "worker-b", later)
            .await
            .expect("runs")
    );
    assert!(
        !store
            .schedule_done(sid, "worker-b", later)
            .await
            .expect("runs"),
        "only once"
    );
}

on_both_backends!(leases_expire_and_stale_owners_cannot_finish:
    an_expired_lease_is_reclaimed_by_another_worker_and_the_stale_owner_cannot_finish_on_sqlite,
    an_expired_lease_is_reclaimed_by_another_worker_and_the_stale_owner_cannot_finish_on_postgres);

async fn rows_are_written_with_their_events_and_deduplicated(db: &TestDb) {
    let store = db.open().await;
    let r = raise(&store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    let v = store.load(&r).await.expect("loads").version;
    let first = Batch {
        outbox: vec![outbox("K-1", "first")],
        schedule: vec![schedule("S-1", "reminder", "2026-05-28T09:00:00Z")],
        inbound_key: Some("slack-trigger-1".into()),
        ..Batch::default()
    };
    note_with(&store, &r, Some(v), "First", first)
        .await
        .expect("recorded");
    assert_eq!(
        store.seen_inbound("slack-trigger-1").await.expect("reads"),
        Some(r.to_string())
    );

    // A conflicting append writes nothing at all: no outbox, no schedule, no inbound key.
    let stale = Batch {
        outbox: vec![outbox("K-2", "lost")],
        schedule: vec![schedule("S-2", "nudge", "2026-05-28T09:00:00Z")],
        inbound_key: Some("slack-trigger-2".into()),
        ..Batch::default()
    };
    let e = note_with(&store, &r, Some(v), "Stale", stale)
        .await
        .expect_err("stale");
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
    let raw = db.raw().await;
    assert_eq!(
        raw.int("SELECT count(*) FROM outbox WHERE idempotency_key = 'K-2'")
            .await,
        0,
        "no outbox row from a conflict"
    );
    assert_eq!(
        raw.int("SELECT count(*) FROM schedule WHERE idempotency_key = 'S-2'")
            .await,
        0,
        "no schedule row from a conflict"
    );
    assert_eq!(
        store.seen_inbound("slack-trigger-2").await.expect("reads"),
        None,
        "no inbound key from a conflict"
    );
    assert_eq!(store.load(&r).await.expect("loads").version, v + 1);

    // The same idempotency key again is one row, the first one.
    let again = Batch {
        outbox: vec![outbox("K-1", "second"), outbox("K-3", "third")],
        schedule: vec![schedule("S-1", "reminder", "2026-05-29T09:00:00Z")],
        ..Batch::default()
    };
    note_with(&store, &r, None, "Second", again)
        .await
        .expect("recorded");
    assert_eq!(raw.int("SELECT count(*) FROM outbox").await, 2);
    assert_eq!(raw.int("SELECT count(*) FROM schedule").await, 1);
    let claimed = store
        .claim_outbox("w", now(), LEASE, 10)
        .await
        .expect("claims");
    let texts: Vec<(String, serde_json::Value)> = claimed
        .iter()
        .map(|o| (o.idempotency_key.clone(), o.payload.clone()))
        .collect();
    assert_eq!(
        texts,
        vec![
            ("K-1".to_string(), json!({ "text": "first" })),
            ("K-3".to_string(), json!({ "text": "third" }))
        ]
    );
    assert!(claimed.iter().all(|o| o.reference == r.to_string()));
    assert_eq!(
        claimed[0].created_at,
        at("2026-05-22T10:00:00+01:00"),
        "stamped with the event's time"
    );

    // A redelivered inbound request is refused as a duplicate and records nothing.
    let redelivered = Batch {
        outbox: vec![outbox("K-4", "redelivered")],
        inbound_key: Some("slack-trigger-1".into()),
        ..Batch::default()
    };
    let before = store.load(&r).await.expect("loads").version;
    let e = note_with(&store, &r, None, "Redelivered", redelivered)
        .await
        .expect_err("duplicate");
    assert!(matches!(e, StoreError::Duplicate), "{e:?}");
    assert_eq!(store.load(&r).await.expect("loads").version, before);
    assert_eq!(
        raw.int("SELECT count(*) FROM outbox WHERE idempotency_key = 'K-4'")
            .await,
        0
    );

    // Cancelling a kind cancels that dispute's pending rows of it, in the same transaction.
    let cancel = Batch {
        schedule: vec![schedule("S-5", "nudge", "2026-05-28T09:00:00Z")],
        cancel_schedule_kinds: vec!["reminder".into()],
        ..Batch::default()
    };
    note_with(&store, &r, None, "Moves on", cancel)
        .await
        .expect("recorded");
    let due = store
        .claim_schedule("w", now(), LEASE, 10)
        .await
        .expect("claims");
    assert_eq!(
        due.iter()
            .map(|s| s.idempotency_key.as_str())
            .collect::<Vec<_>>(),
        vec!["S-5"],
        "the reminder was cancelled"
    );
    raw.close().await;
}

on_both_backends!(rows_are_written_with_their_events_and_deduplicated:
    outbox_and_schedule_rows_are_written_only_with_their_events_and_deduplicated_by_key_on_sqlite,
    outbox_and_schedule_rows_are_written_only_with_their_events_and_deduplicated_by_key_on_postgres);

/// Pacing and rate-limit pauses hand a row back untried: only real failures count towards the
/// back-off, so one failure after a long paced wait is not followed by a back-off of minutes.
async fn waiting_is_not_an_attempt(db: &TestDb) {
    let store = db.open().await;
    seeded(&store, 1, 1).await;
    let t0 = now();
    let lease = Duration::from_secs(30);
    for i in 0..5 {
        let at = t0 + chrono::Duration::seconds(i);
        let rows = store
            .claim_outbox("worker-a", at, lease, 1)
            .await
            .expect("claims");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].attempts, 1, "pacing hand-backs are not attempts");
        assert!(
            store
                .outbox_wait(rows[0].id, "worker-a", "pacing posts to this channel", at)
                .await
                .expect("runs")
        );
    }
    let at = t0 + chrono::Duration::seconds(10);
    let rows = store
        .claim_outbox("worker-a", at, lease, 1)
        .await
        .expect("claims");
    assert!(
        store
            .outbox_retry(rows[0].id, "worker-a", "timeout", at)
            .await
            .expect("runs")
    );
    let rows = store
        .claim_outbox("worker-a", at, lease, 1)
        .await
        .expect("claims");
    assert_eq!(rows[0].attempts, 2, "a real failure is counted");
    assert!(
        !store
            .outbox_wait(rows[0].id, "worker-b", "pacing", at)
            .await
            .expect("runs"),
        "only the row's owner can hand it back"
    );
}

on_both_backends!(waiting_is_not_an_attempt:
    pacing_and_rate_limit_hand_backs_are_not_counted_as_attempts_on_sqlite,
    pacing_and_rate_limit_hand_backs_are_not_counted_as_attempts_on_postgres);

/// The far-future ready time of a row queued behind its lane's first pending row.
const BEHIND_US: i64 = 253_402_300_799_000_000;

/// How many of a lane's pending rows a claim at any real time could reach, and how many wait
/// behind the lane's first row.
async fn lane_ranges(db: &TestDb, lane: &str) -> (i64, i64) {
    let raw = db.raw().await;
    let in_range = raw
        .int(&format!(
            "SELECT count(*) FROM outbox WHERE lane = '{lane}' AND status = 'pending' AND available_us < {BEHIND_US}"
        ))
        .await;
    let behind = raw
        .int(&format!(
            "SELECT count(*) FROM outbox WHERE lane = '{lane}' AND status = 'pending' AND available_us = {BEHIND_US}"
        ))
        .await;
    raw.close().await;
    (in_range, behind)
}

/// A busy thread's backlog waits behind its lane's first row: handing that row back to wait for
/// its channel's slot touches it alone, and each settled row (sent, combined or parked) brings
/// the next one forward at its own ready time.
async fn a_backlog_waits_behind_its_lanes_first_row(db: &TestDb) {
    let store = db.open().await;
    let (r, rows, _) = seeded(&store, 40, 1).await;
    let lane = format!("{r}/target-0");
    assert_eq!(
        lane_ranges(db, &lane).await,
        (1, rows as i64 - 1),
        "only the lane's first row is in the ready range"
    );
    let t0 = now();
    let lease = Duration::from_secs(30);
    let first = store
        .claim_outbox("worker-a", t0, lease, 10)
        .await
        .expect("claims");
    assert_eq!(first.len(), 1, "one row of a lane at a time");
    let slot = t0 + chrono::Duration::seconds(5);
    assert!(
        store
            .outbox_wait(first[0].id, "worker-a", "waiting for its slot", slot)
            .await
            .expect("hands back")
    );
    assert_eq!(
        lane_ranges(db, &lane).await,
        (1, rows as i64 - 1),
        "the backlog behind a waiting row is not touched"
    );
    assert!(
        store
            .claim_outbox("worker-a", t0, lease, 10)
            .await
            .expect("claims")
            .is_empty(),
        "nothing is ready while the lane's first row waits"
    );
    let next_due = store.next_outbox_due().await.expect("reads");
    assert_eq!(next_due, Some(slot), "the next row due is the waiting one");

    // The rows behind keep their own ready time, which combining into one post reads.
    let behind = store
        .outbox_behind(first[0].id, &lane, 3)
        .await
        .expect("reads");
    assert_eq!(behind.len(), 3);
    for b in &behind {
        assert_eq!(b.available_at, at("2026-05-21T09:00:00Z"));
    }

    // Sent with the next two carried in its post: the fourth row comes forward.
    let again = store
        .claim_outbox("worker-a", slot, lease, 10)
        .await
        .expect("claims");
    assert_eq!(again.len(), 1);
    let carried: Vec<i64> = behind.iter().take(2).map(|b| b.id).collect();
    assert!(
        store
            .outbox_combine(again[0].id, "worker-a", &carried)
            .await
            .expect("combines")
    );
    assert!(
        store
            .outbox_sent(again[0].id, "worker-a", "1.0001", slot)
            .await
            .expect("settles")
    );
    assert_eq!(lane_ranges(db, &lane).await, (1, rows as i64 - 4));
    let fourth = store
        .claim_outbox("worker-a", slot, lease, 10)
        .await
        .expect("claims");
    assert_eq!(fourth.len(), 1);
    assert_eq!(fourth[0].id, behind[2].id, "the lane goes on in order");
    assert_eq!(fourth[0].available_at, at("2026-05-21T09:00:00Z"));

    // Parked: the lane goes on without it.
    assert!(
        store
            .outbox_park(fourth[0].id, "worker-a", "channel_not_found", slot)
            .await
            .expect("parks")
    );
    assert_eq!(lane_ranges(db, &lane).await, (1, rows as i64 - 5));
}

on_both_backends!(a_backlog_waits_behind_its_lanes_first_row:
    a_lanes_backlog_waits_behind_its_first_row_and_comes_forward_one_row_at_a_time_on_sqlite,
    a_lanes_backlog_waits_behind_its_first_row_and_comes_forward_one_row_at_a_time_on_postgres);

/// A post paced in a channel books, as it is marked sent, the channel's next slot for the row
/// its lane brings forward: that row waits for the slot without being claimed first, and is
/// claimed once, at its slot, holding it. A row nothing paces comes forward at its own time.
async fn a_row_brought_forward_books_its_slot_as_the_row_ahead_is_sent(db: &TestDb) {
    let store = db.open().await;
    let (r, _, _) = seeded(&store, 4, 1).await;
    let lane = format!("{r}/target-0");
    let paced = NextSlot {
        slot_in: asc_channel,
        spacing: Duration::from_secs(1),
    };
    let t0 = now();
    let secs = |s: f64| t0 + chrono::Duration::milliseconds((s * 1000.0) as i64);

    let first = store
        .claim_outbox("w", t0, LEASE, 10)
        .await
        .expect("claims");
    assert_eq!(first.len(), 1);
    assert!(
        store
            .outbox_sent_booking_next(first[0].id, "w", "1.0001", t0, &paced)
            .await
            .expect("settles")
    );
    // The channel had no slot booked: the next row's is now.
    let second = store
        .claim_outbox("w", t0, LEASE, 10)
        .await
        .expect("claims");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].slot, Some(t0), "{:?}", second[0]);

    assert!(
        store
            .outbox_sent_booking_next(second[0].id, "w", "1.0002", secs(0.2), &paced)
            .await
            .expect("settles")
    );
    assert!(
        store
            .claim_outbox("w", secs(0.5), LEASE, 10)
            .await
            .expect("claims")
            .is_empty(),
        "the third row waits for its slot, unclaimed"
    );
    assert_eq!(
        store.next_outbox_due().await.expect("reads"),
        Some(secs(1.0)),
        "one second after the slot before"
    );
    let third = store
        .claim_outbox("w", secs(1.0), LEASE, 10)
        .await
        .expect("claims");
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].slot, Some(secs(1.0)), "claimed holding its slot");

    // Not paced: the fourth row comes forward at its own ready time, holding no slot.
    let unpaced = |_: &serde_json::Value| None;
    let plain = NextSlot {
        slot_in: unpaced,
        spacing: Duration::from_secs(1),
    };
    assert!(
        store
            .outbox_sent_booking_next(third[0].id, "w", "1.0003", secs(1.1), &plain)
            .await
            .expect("settles")
    );
    let fourth = store
        .claim_outbox("w", secs(1.1), LEASE, 10)
        .await
        .expect("claims");
    assert_eq!(fourth.len(), 1);
    assert_eq!(fourth[0].slot, None);
    assert_eq!(fourth[0].available_at, at("2026-05-21T09:00:00Z"));
    assert_eq!(lane_ranges(db, &lane).await, (1, 0));
}

on_both_backends!(a_row_brought_forward_books_its_slot_as_the_row_ahead_is_sent:
    a_row_brought_forward_books_its_slot_on_sqlite,
    a_row_brought_forward_books_its_slot_on_postgres);

/// A root's post and the thread it opened are recorded in one write: a batch carrying its row
/// marks it sent (bringing the lane's next row forward to book its slot) only when the batch
/// itself is written, and only while the row is still the worker's.
async fn a_post_is_marked_sent_with_the_batch_that_records_it(db: &TestDb) {
    let store = db.open().await;
    let (r, _, _) = seeded(&store, 3, 1).await;
    let lane = format!("{r}/target-0");
    let t0 = now();
    let claimed = store
        .claim_outbox("w", t0, LEASE, 10)
        .await
        .expect("claims");
    assert_eq!(claimed.len(), 1);
    let id = claimed[0].id;
    let sent_by = |owner: &str| SentRow {
        id,
        owner: owner.into(),
        result: "1.0001".into(),
        at: t0,
        next: NextSlot {
            slot_in: asc_channel,
            spacing: Duration::from_secs(1),
        },
    };
    let opened = |sent: SentRow| Batch {
        events: vec![escalation::Event {
            at: t0,
            actor: None,
            directory: None,
            body: escalation::EventBody::ThreadOpened {
                thread: escalation::ThreadRef {
                    platform: Platform::Slack,
                    workspace: "T0NORFOLK".into(),
                    channel: "C0ASC".into(),
                    thread: "1.0001".into(),
                },
            },
        }],
        sent: Some(sent),
        ..Batch::default()
    };
    let status = |id: i64| async move {
        let raw = db.raw().await;
        let sent = raw
            .int(&format!(
                "SELECT count(*) FROM outbox WHERE id = {id} AND status = 'sent'"
            ))
            .await;
        raw.close().await;
        sent == 1
    };
    let version = store.load(&r).await.expect("loads").version;

    // Not written (decided on an older state): the row stays pending, held by its worker.
    let stale = opened(sent_by("w"));
    let written = store
        .append_group(&[(r.clone(), version - 1, &stale)])
        .await
        .expect("the group runs");
    assert!(
        matches!(written[0], Err(StoreError::Conflict { .. })),
        "{written:?}"
    );
    assert!(!status(id).await, "a batch left out marks nothing sent");
    assert_eq!(lane_ranges(db, &lane).await, (1, 2));

    // No longer the worker's: the thread is recorded, the row is left to its holder.
    let other = opened(sent_by("someone-else"));
    store
        .append(&r, version, &other)
        .await
        .expect("the thread is recorded");
    assert!(!status(id).await, "only the row's holder marks it sent");

    // Written: the row is sent with it, and the lane's next row books the channel's slot.
    let batch = opened(sent_by("w"));
    store
        .append(&r, version + 1, &batch)
        .await
        .expect("the thread is recorded");
    assert_eq!(store.load(&r).await.expect("loads").version, version + 2);
    assert!(status(id).await, "marked sent in the same write");
    let next = store
        .claim_outbox("w", t0, LEASE, 10)
        .await
        .expect("claims");
    assert_eq!(next.len(), 1);
    assert_eq!(
        next[0].slot,
        Some(t0),
        "the next row holds the slot it booked"
    );
    assert_eq!(lane_ranges(db, &lane).await, (1, 1));
}

on_both_backends!(a_post_is_marked_sent_with_the_batch_that_records_it:
    a_post_is_marked_sent_with_its_thread_on_sqlite,
    a_post_is_marked_sent_with_its_thread_on_postgres);

/// Rows queued into a lane by several replicas while another settles its rows: none is ever
/// left waiting behind a row that is no longer pending, so the lane drains to the last row.
async fn a_lane_fed_while_it_drains_is_never_stranded(db: &TestDb) {
    const FEEDERS: usize = 3;
    const EACH: usize = 150;
    const ROWS: usize = FEEDERS * EACH;
    let lane = "stranded-test/lane";
    let mut feeding = Vec::new();
    for f in 0..FEEDERS {
        let feeder = db.open().await;
        feeding.push(tokio::spawn(async move {
            for n in 0..EACH {
                feeder
                    .enqueue(
                        "NSAB-2026-0001",
                        &[outbox_in(&format!("fed-{f}-{n}"), lane, "queued")],
                        now(),
                    )
                    .await
                    .expect("queues");
                // Slower than the drain, so the lane is often down to the row being settled.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }));
    }
    let drain = db.open().await;
    let lease = Duration::from_secs(30);
    let mut sent = 0;
    let mut progress = std::time::Instant::now();
    while sent < ROWS {
        let rows = drain
            .claim_outbox("drain", now(), lease, 5)
            .await
            .expect("claims");
        if rows.is_empty() {
            // The feeders queue a row every millisecond or so: ten seconds with nothing to
            // claim means the lane is stuck.
            assert!(
                progress.elapsed() < Duration::from_secs(10),
                "the lane stopped with {sent} of {ROWS} sent: {:?}",
                lane_ranges(db, lane).await
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        progress = std::time::Instant::now();
        for row in rows {
            assert!(
                drain
                    .outbox_sent(row.id, "drain", "ok", now())
                    .await
                    .expect("settles")
            );
            sent += 1;
        }
    }
    for f in feeding {
        f.await.expect("a feeder does not panic");
    }
    assert_eq!(lane_ranges(db, lane).await, (0, 0), "every row was sent");
}

on_both_backends!(a_lane_fed_while_it_drains_is_never_stranded:
    a_lane_queued_into_while_another_replica_drains_it_is_never_stranded_on_sqlite,
    a_lane_queued_into_while_another_replica_drains_it_is_never_stranded_on_postgres);
