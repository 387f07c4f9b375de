//! The one writer on both backends: requests that arrive together are committed together, a
//! refused or conflicting request touches only itself, requests on one dispute are decided in
//! arrival order, the state snapshot always equals the state folded from the events (and is
//! rebuilt when it is missing or stale), and a SIGKILL loses nothing that was acknowledged.

use crate::databases::{
    ASC_V_GP, Backend, TestDb, at, demo_directory, note, on_both_backends, raise, world,
};
use crate::helpers::cast;
use crate::properties_core::{Attempt, attempts, command, people_of};
use crate::scheduler_rig::service_on;
use chrono::Duration;
use escalation_bot::escalation::{Command, Dispute, Event, EventBody, Reference};
use escalation_bot::service::{ManualClock, Service, ServiceError};
use escalation_bot::store::{Batch, LogLine, StoreError};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::sync::Arc;

const START: &str = "2026-05-21T09:40:00+01:00";

/// How far behind a dispute's newest event its snapshot, and its log line while only notes
/// come, may be (the store's own bound).
const QUIET_EVENTS: i64 = 32;

fn who(id: &str) -> escalation_bot::directory::PersonId {
    escalation_bot::directory::PersonId(id.to_string())
}

/// A service on `db` with the clock at [`START`], and one Norfolk dispute raised through it.
async fn service_with_dispute(db: &TestDb) -> (Arc<Service>, Arc<ManualClock>, Reference) {
    let clock = Arc::new(ManualClock::frozen_at(at(START)));
    let service = service_on(db, clock.clone()).await;
    let c = cast("norfolk");
    let raised = service
        .raise(&who(c.raiser), c.details(), None, None)
        .await
        .unwrap_or_else(|e| panic!("the cast's raise is recorded: {e}"));
    (service, clock, raised.reference)
}

/// The texts of a dispute's notes, in record order.
fn notes(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::NoteAdded { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

async fn a_refused_command_leaves_the_requests_around_it_recorded(db: &TestDb) {
    let (service, _clock, reference) = service_with_dispute(db).await;
    // Sent together, so the writer finds them waiting together: the middle one is from someone
    // who is not a party to the dispute.
    let people = [
        "sam-patel",
        "dr-okafor",
        "pc-evans",
        "sam-patel",
        "dr-okafor",
    ];
    let answers = futures_util::future::join_all(people.iter().enumerate().map(|(i, p)| {
        let (service, reference) = (service.clone(), reference.clone());
        async move {
            service
                .act(
                    &who(p),
                    &reference,
                    &note(&format!("Discussed by phone, call {i}.")),
                    None,
                    None,
                )
                .await
        }
    }))
    .await;
    for (i, answer) in answers.iter().enumerate() {
        if i == 2 {
            assert!(
                matches!(answer, Err(ServiceError::Refused(_))),
                "a note from someone who is not a party is refused: {answer:?}"
            );
        } else {
            assert!(answer.is_ok(), "request {i} is recorded: {answer:?}");
        }
    }
    let events = service.events(&reference).await.expect("the record reads");
    assert_eq!(
        notes(&events),
        [0, 1, 3, 4]
            .iter()
            .map(|i| format!("Discussed by phone, call {i}."))
            .collect::<Vec<_>>(),
        "the refused note is not in the record and the others are, in the order they came"
    );
    let store = db.open().await;
    assert_eq!(
        store.load(&reference).await.expect("loads"),
        store.fold(&reference).await.expect("folds")
    );
}
on_both_backends!(a_refused_command_leaves_the_requests_around_it_recorded:
    refused_command_isolated_on_sqlite, refused_command_isolated_on_postgres);

async fn a_conflicting_or_repeated_batch_is_undone_alone(db: &TestDb) {
    let store = db.open().await;
    let one = raise(&store, ASC_V_GP, START).await;
    let two = raise(&store, ASC_V_GP, START).await;
    let ctx_note = |text: &str| Event {
        at: at(START),
        actor: Some(who("sam-patel")),
        directory: None,
        body: EventBody::NoteAdded {
            text: text.to_string(),
            how: None,
            held_at: None,
        },
    };
    let batch = |text: &str, key: Option<&str>| Batch {
        events: vec![ctx_note(text)],
        inbound_key: key.map(str::to_string),
        ..Batch::default()
    };
    // Someone already recorded the request key "seen".
    assert!(
        store
            .claim_inbound("seen", at(START))
            .await
            .expect("claims")
    );
    let v1 = store.load(&one).await.expect("loads").version;
    let v2 = store.load(&two).await.expect("loads").version;
    let (a, stale, b, after_stale, repeated, c) = (
        batch("a", None),
        batch("stale", None),
        batch("b", None),
        batch("after stale", None),
        batch("repeated", Some("seen")),
        batch("c", None),
    );
    let results = store
        .append_group(&[
            (one.clone(), v1, &a),
            (two.clone(), v2 - 1, &stale),
            (one.clone(), v1 + 1, &b),
            (two.clone(), v2, &after_stale),
            (one.clone(), v1 + 2, &repeated),
            (one.clone(), v1 + 2, &c),
        ])
        .await
        .expect("the group is written");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::Conflict { .. })),
        "{results:?}"
    );
    assert!(
        matches!(results[3], Err(StoreError::Conflict { .. })),
        "a later batch on a dispute whose earlier batch was undone is undone too: {results:?}"
    );
    assert!(
        matches!(results[4], Err(StoreError::Duplicate)),
        "{results:?}"
    );
    assert!(
        matches!(results[5], Err(StoreError::Conflict { .. })),
        "{results:?}"
    );
    let one_events = store.events(&one).await.expect("reads");
    assert_eq!(notes(&one_events), ["a", "b"]);
    assert!(notes(&store.events(&two).await.expect("reads")).is_empty());
    assert_eq!(
        store.load(&one).await.expect("loads"),
        Dispute::from_events(&one_events)
    );
    let report = store.verify().await.expect("verifies");
    assert!(
        report.intact(),
        "the chain holds after undone batches: {report:?}"
    );
}
on_both_backends!(a_conflicting_or_repeated_batch_is_undone_alone:
    undone_batch_alone_on_sqlite, undone_batch_alone_on_postgres);

async fn requests_on_one_dispute_are_decided_in_arrival_order(db: &TestDb) {
    let (service, _clock, first) = service_with_dispute(db).await;
    let c = cast("norfolk");
    let mut references = vec![first];
    for _ in 0..2 {
        let r = service
            .raise(&who(c.raiser), c.details(), None, None)
            .await
            .expect("raised");
        references.push(r.reference);
    }
    // Thirty requests sent at once (join_all polls them, so queues them, in this order),
    // spread over three disputes, alternating between the two parties.
    let answers = futures_util::future::join_all((0..30).map(|i| {
        let (service, reference) = (service.clone(), references[i % 3].clone());
        let by = if i % 2 == 0 { c.raiser } else { c.other };
        async move {
            service
                .act(
                    &who(by),
                    &reference,
                    &note(&format!("Call {i}.")),
                    None,
                    None,
                )
                .await
        }
    }))
    .await;
    for (i, a) in answers.iter().enumerate() {
        let outcome = a
            .as_ref()
            .unwrap_or_else(|e| panic!("note {i} is recorded: {e}"));
        assert_eq!(outcome.reference, references[i % 3]);
    }
    for (d, reference) in references.iter().enumerate() {
        let events = service.events(reference).await.expect("reads");
        let expected: Vec<String> = (0..30)
            .filter(|i| i % 3 == d)
            .map(|i| format!("Call {i}."))
            .collect();
        assert_eq!(
            notes(&events),
            expected,
            "{reference} holds its notes in arrival order"
        );
        // Each answer saw the state its own note left: versions rise one by one.
        let versions: Vec<u64> = (0..30)
            .filter(|i| i % 3 == d)
            .filter_map(|i| answers[i].as_ref().ok().map(|o| o.dispute.version))
            .collect();
        assert!(
            versions.windows(2).all(|w| w[1] == w[0] + 1),
            "{versions:?}"
        );
    }
}
on_both_backends!(requests_on_one_dispute_are_decided_in_arrival_order:
    arrival_order_on_sqlite, arrival_order_on_postgres);

/// Random command sequences through the service: after each sequence, the state loaded (the
/// stored snapshot and the few events after it) is the state folded from all the events.
fn snapshot_equals_fold_after_random_commands(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let db = runtime.block_on(TestDb::new(backend));
    let clock = Arc::new(ManualClock::frozen_at(at(START)));
    let service = runtime.block_on(service_on(&db, clock.clone()));
    let store = runtime.block_on(db.open());
    let raw = runtime.block_on(db.raw());
    let people = people_of("norfolk");
    let mut runner = TestRunner::new(Config::with_cases(24));
    let outcome = runner.run(&attempts(), |tries: Vec<Attempt>| {
        runtime.block_on(async {
            clock.set(at(START));
            let c = cast("norfolk");
            let reference = service
                .raise(&who(c.raiser), c.details(), None, None)
                .await
                .map_err(|e| TestCaseError::fail(format!("raise: {e}")))?
                .reference;
            for attempt in &tries {
                clock.advance(Duration::hours(i64::from(attempt.hours_later)));
                let by = attempt.who.get(&people);
                let cmd = command(&attempt.what, "norfolk", &reference, service.now());
                if matches!(cmd, Command::Raise { .. }) {
                    continue;
                }
                // Refusals are part of the walk; the record only takes what the core accepts.
                let _ = service.act(by, &reference, &cmd, None, None).await;
            }
            let loaded = store
                .load(&reference)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let folded = store
                .fold(&reference)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            if loaded != folded {
                return Err(TestCaseError::fail(format!(
                    "the snapshot of {reference} differs from its events: {loaded:?} vs {folded:?}"
                )));
            }
            let kept = raw
                .int(&format!(
                    "SELECT count(*) FROM snapshots WHERE reference = '{reference}'
                     AND version <= {newest} AND version > {newest} - {QUIET_EVENTS}",
                    newest = folded.version
                ))
                .await;
            if kept != 1 {
                return Err(TestCaseError::fail(format!(
                    "{reference} has no snapshot within {QUIET_EVENTS} events of its newest ({})",
                    folded.version
                )));
            }
            Ok(())
        })
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

#[test]
fn the_snapshot_equals_the_events_after_random_commands_on_sqlite() {
    snapshot_equals_fold_after_random_commands(Backend::Sqlite);
}

#[test]
fn the_snapshot_equals_the_events_after_random_commands_on_postgres() {
    snapshot_equals_fold_after_random_commands(Backend::Postgres);
}

/// The log line a dispute has in the store, as stored.
async fn stored_line(raw: &crate::databases::Raw, reference: &Reference) -> LogLine {
    let text = raw
        .texts(&format!(
            "SELECT line FROM dispute_log WHERE reference = '{reference}'"
        ))
        .await;
    serde_json::from_str(text.first().expect("a log line")).expect("a log line is JSON")
}

/// Notes say nothing new to a dispute's snapshot (a load applies the events after it) or to its
/// log line (they only count there), so appends leave both as stored until they are
/// [`QUIET_EVENTS`] behind; the next change the line shows brings it up to date with every
/// event it missed.
async fn notes_leave_the_snapshot_and_the_log_line_until_they_fall_far_behind(db: &TestDb) {
    let (service, _clock, reference) = service_with_dispute(db).await;
    let store = db.open().await;
    let raw = db.raw().await;
    let by = who("sam-patel");
    let first_line = stored_line(&raw, &reference).await;
    let mut snapshot_written = false;
    let first_snapshot = raw
        .int(&format!(
            "SELECT version FROM snapshots WHERE reference = '{reference}'"
        ))
        .await;
    for i in 0..40 {
        service
            .act(&by, &reference, &note(&format!("Call {i}.")), None, None)
            .await
            .expect("recorded");
        let newest = store.version(&reference).await.expect("reads") as i64;
        let snapshot = raw
            .int(&format!(
                "SELECT version FROM snapshots WHERE reference = '{reference}'"
            ))
            .await;
        assert!(
            snapshot <= newest && newest - snapshot < QUIET_EVENTS,
            "snapshot at {snapshot}, newest event {newest}"
        );
        snapshot_written |= snapshot != first_snapshot;
        let line = stored_line(&raw, &reference).await;
        assert!(
            newest - (line.version as i64) < QUIET_EVENTS,
            "log line at {}, newest event {newest}",
            line.version
        );
        assert_eq!(
            store.load(&reference).await.expect("loads"),
            store.fold(&reference).await.expect("folds")
        );
    }
    let newest = store.version(&reference).await.expect("reads");
    let line = stored_line(&raw, &reference).await;
    assert!(
        snapshot_written,
        "forty notes on, the snapshot was written again"
    );
    assert!(
        line.version > first_line.version && line.version < newest,
        "the line was written once it fell far behind, and not at every note: {} of {newest}",
        line.version
    );
    let mut counted = first_line.clone();
    counted.version = line.version;
    assert_eq!(line, counted, "notes only count on the line");

    // Withdrawing changes what the line says: it is written with every event it missed.
    let c = cast("norfolk");
    service
        .act(
            &who(c.raiser),
            &reference,
            &Command::Withdraw {
                reason: "Agreed a joint visit.".into(),
            },
            None,
            None,
        )
        .await
        .expect("withdrawn");
    let events = store.events(&reference).await.expect("reads");
    let line = stored_line(&raw, &reference).await;
    assert_eq!(Some(line), LogLine::fold(&reference.to_string(), &events));
}
on_both_backends!(notes_leave_the_snapshot_and_the_log_line_until_they_fall_far_behind:
    quiet_notes_on_sqlite, quiet_notes_on_postgres);

async fn a_missing_or_stale_snapshot_is_rebuilt_from_the_events(db: &TestDb) {
    let (service, _clock, reference) = service_with_dispute(db).await;
    let store = db.open().await;
    let raw = db.raw().await;
    let by = who("sam-patel");
    service
        .act(&by, &reference, &note("First call."), None, None)
        .await
        .expect("recorded");
    let old = raw
        .texts(&format!(
            "SELECT state FROM snapshots WHERE reference = '{reference}'"
        ))
        .await;
    let old_version = raw
        .int(&format!(
            "SELECT version FROM snapshots WHERE reference = '{reference}'"
        ))
        .await;
    service
        .act(&by, &reference, &note("Second call."), None, None)
        .await
        .expect("recorded");
    let fresh = store.fold(&reference).await.expect("folds");

    // Stale: the snapshot from one note ago is put back.
    raw.exec(&format!(
        "UPDATE snapshots SET state = '{}', version = {old_version} WHERE reference = '{reference}'",
        old[0].replace('\'', "''")
    ))
    .await;
    assert_eq!(store.load(&reference).await.expect("loads"), fresh);
    // Unreadable, or of another build: ignored.
    raw.exec(&format!(
        "UPDATE snapshots SET state = 'not json', version = {} WHERE reference = '{reference}'",
        fresh.version
    ))
    .await;
    assert_eq!(store.load(&reference).await.expect("loads"), fresh);
    raw.exec(&format!(
        "UPDATE snapshots SET format = 'dispute/0.0.0/0' WHERE reference = '{reference}'"
    ))
    .await;
    assert_eq!(store.load(&reference).await.expect("loads"), fresh);
    // Missing: folded, and the next request decides on the right state and writes it again.
    raw.exec(&format!(
        "DELETE FROM snapshots WHERE reference = '{reference}'"
    ))
    .await;
    assert_eq!(store.load(&reference).await.expect("loads"), fresh);
    let fresh_service = service_on(db, Arc::new(ManualClock::frozen_at(at(START)))).await;
    let third = fresh_service
        .act(&by, &reference, &note("Third call."), None, None)
        .await
        .expect("recorded");
    assert_eq!(third.dispute.version, fresh.version + 1);
    assert_eq!(
        raw.int(&format!(
            "SELECT version FROM snapshots WHERE reference = '{reference}'"
        ))
        .await,
        (fresh.version + 1) as i64
    );
    assert_eq!(
        store.load(&reference).await.expect("loads"),
        store.fold(&reference).await.expect("folds")
    );
    // Rebuilding the projections rebuilds every snapshot too.
    raw.exec("DELETE FROM snapshots").await;
    store.rebuild_projections().await.expect("rebuilds");
    assert_eq!(
        raw.int(&format!(
            "SELECT version FROM snapshots WHERE reference = '{reference}'"
        ))
        .await,
        (fresh.version + 1) as i64
    );
    let _ = world();
}
on_both_backends!(a_missing_or_stale_snapshot_is_rebuilt_from_the_events:
    snapshot_rebuilt_on_sqlite, snapshot_rebuilt_on_postgres);

/// `serve` killed with SIGKILL while notes arrive: every acknowledged note is in the record
/// exactly once, and everything in the record was sent.
async fn a_sigkill_loses_no_acknowledged_note(db: &TestDb) {
    use crate::slack_app::sign;
    const SECRET: &str = "crash-test-signing-secret";
    let reference = {
        let (service, _clock, reference) = service_with_dispute(db).await;
        drop(service);
        reference
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("address").port()
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .arg("serve")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", &db.url)
        .env("DIRECTORY", demo_directory())
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_API_BASE_URL", "http://127.0.0.1:9/api/")
        .env_remove("AUDIT_SIGNING_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "serve answers /readyz");

    let acked = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let sent = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut senders = Vec::new();
    for lane in 0..8u32 {
        let (http, base, reference, acked, sent) = (
            http.clone(),
            base.clone(),
            reference.clone(),
            acked.clone(),
            sent.clone(),
        );
        senders.push(tokio::spawn(async move {
            for k in 0..1000u32 {
                let n = lane * 1000 + k;
                sent.fetch_max(n + 1, std::sync::atomic::Ordering::SeqCst);
                let body = serde_urlencoded::to_string([
                    ("team_id", "T0NORFASC"),
                    ("channel_id", "C0ASCCHAL1"),
                    ("user_id", "U000101"),
                    ("command", "/challenge"),
                    ("text", &format!("note {reference} Crash test note n{n}x.")),
                    ("trigger_id", &format!("crash.{n}")),
                    ("response_url", "https://hooks.slack.com/commands/crash"),
                ])
                .expect("a form");
                let ts = chrono::Utc::now().timestamp();
                let answer = http
                    .post(format!("{base}/slack/commands"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-slack-request-timestamp", ts.to_string())
                    .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()))
                    .body(body)
                    .send()
                    .await;
                let Ok(answer) = answer else { return };
                let Ok(text) = answer.text().await else {
                    return;
                };
                if text.contains("Recorded on") {
                    acked.lock().expect("not poisoned").push(n);
                }
            }
        }));
    }
    // Let some notes be recorded, then pull the plug in the middle of the stream.
    while acked.lock().expect("not poisoned").len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.start_kill().expect("SIGKILL is sent");
    let _ = child.wait().await;
    for s in senders {
        let _ = s.await;
    }
    let acked = acked.lock().expect("not poisoned").clone();
    let store = db.open().await;
    let events = store
        .events(&reference)
        .await
        .expect("the record reads after a crash");
    let mut recorded: Vec<u32> = notes(&events)
        .iter()
        .filter_map(|t| {
            let at = t.rfind(" n")? + 2;
            t[at..].split('x').next()?.parse().ok()
        })
        .collect();
    for n in &acked {
        assert_eq!(
            recorded.iter().filter(|r| *r == n).count(),
            1,
            "acknowledged note {n} is in the record exactly once"
        );
    }
    let total = sent.load(std::sync::atomic::Ordering::SeqCst);
    recorded.sort_unstable();
    assert!(
        recorded.iter().all(|n| *n < total),
        "only sent notes are recorded"
    );
    assert!(
        recorded.windows(2).all(|w| w[0] != w[1]),
        "no note is recorded twice"
    );
    let report = store.verify().await.expect("verifies");
    assert!(
        report.intact(),
        "the chain is whole after the crash: {report:?}"
    );
}
on_both_backends!(a_sigkill_loses_no_acknowledged_note:
    sigkill_loses_nothing_acknowledged_on_sqlite, sigkill_loses_nothing_acknowledged_on_postgres);
