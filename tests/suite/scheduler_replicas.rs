//! Three real `escalation-bot serve` processes on one PostgreSQL database: each reminder,
//! overdue prompt and acknowledgement nudge is recorded once, and each of its posts queued once.
//!
//! The serve processes run on real time, so the disputes are raised beforehand, in this test
//! process, through the real service with a clock set in the past: by real time their work is
//! due the moment the replicas start.

use crate::databases::TestDb;
use crate::helpers::{cast, crate_root, pid};
use crate::scheduler_rig::{outbox_of, service_on};
use chrono::{DateTime, Duration, Utc};
use escalation_bot::calendar::{DayUnit, format_uk};
use escalation_bot::escalation::{Command, EventBody, Reference};
use escalation_bot::service::ManualClock;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Arc;

/// Norfolk disputes whose first overdue prompt is due, Rochdale disputes whose two managers'
/// managers are due a nudge, and Norfolk disputes whose reminder is due: enough work that one
/// replica cannot finish it before the others poll.
const OVERDUE: i64 = 150;
const NUDGED: i64 = 40;
const REMINDED: i64 = 150;

/// The replicas; killed when dropped, also when the test fails.
struct Replicas(Vec<Child>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_replica(url: &str, logs: &std::path::Path, n: usize) -> Child {
    let log = std::fs::File::create(logs.join(format!("replica-{n}.log"))).expect("a log file");
    // Nothing may leave the machine: every chat API points at a closed local port.
    let nowhere = "http://127.0.0.1:9/";
    std::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .current_dir(crate_root())
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn,escalation_bot::scheduler=debug")
        .env("NO_COLOR", "1")
        .env("SLACK_API_BASE_URL", nowhere)
        .env("TEAMS_SERVICE_URL", nowhere)
        .env("TEAMS_TOKEN_BASE_URL", nowhere)
        .env("TEAMS_OPENID_METADATA_URL", nowhere)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the escalation-bot binary starts")
}

/// Waits for a replica's "serving" line.
fn wait_serving(child: &mut Child) {
    let out = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("the replica writes a line");
    assert!(line.contains("is serving"), "the replica starts: {line:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_serve_processes_on_one_postgres_database_record_each_reminder_prompt_and_nudge_exactly_once()
 {
    let db = TestDb::postgres().await;
    let real_now = Utc::now();
    let long_ago = real_now - Duration::days(30);
    let clock = Arc::new(ManualClock::frozen_at(long_ago));
    let service = service_on(&db, clock.clone()).await;
    let norfolk = service.policy("norfolk").expect("norfolk").1.clone();

    // Norfolk disputes raised 30 days ago: their first overdue prompt is due (their reminder
    // row is due too, but stale: the deadline has passed).
    let mut overdue_refs = Vec::new();
    for _ in 0..OVERDUE {
        let c = cast("norfolk");
        let r = service
            .raise(&pid(c.raiser), c.details(), None, None)
            .await
            .expect("raised");
        overdue_refs.push(r.reference);
    }
    // Rochdale disputes escalated to stage 2 30 days ago: neither manager acknowledged, so
    // both managers' managers are due a nudge; stage 2 is overdue too.
    let mut nudge_refs = Vec::new();
    for _ in 0..NUDGED {
        let c = cast("rochdale");
        let r = service
            .raise(&pid(c.raiser), c.details(), None, None)
            .await
            .expect("raised");
        service
            .act(
                &pid(c.raiser),
                &r.reference,
                &Command::Escalate {
                    reason: "No agreement on the care package.".into(),
                    delay_reason: None,
                    notices: Default::default(),
                },
                None,
                None,
            )
            .await
            .expect("escalated");
        nudge_refs.push(r.reference);
    }
    // Norfolk disputes raised so that their reminder (the opening of the working day before
    // the deadline) has passed by real time and their deadline has not: the reminder is due now.
    let margin = Duration::minutes(30);
    let raised_at = (1..24 * 14)
        .map(|h| real_now - Duration::hours(h))
        .find(|r| {
            let due = norfolk.due(*r, 5, DayUnit::Working).expect("in range");
            let day = norfolk
                .working_days_before(norfolk.local_date(due), 1)
                .expect("in range");
            let reminder = norfolk.open_of(day);
            *r < reminder && reminder <= real_now - margin && due >= real_now + margin
        })
        .expect("some raise time in the last two weeks puts the reminder before now and the deadline after");
    clock.set(raised_at);
    let mut reminder_refs = Vec::new();
    for _ in 0..REMINDED {
        let c = cast("norfolk");
        let r = service
            .raise(&pid(c.raiser), c.details(), None, None)
            .await
            .expect("raised");
        reminder_refs.push(r.reference);
    }
    drop(service);

    let raw = db.raw().await;
    let start_us = Utc::now().timestamp_micros();
    let due_at_start = raw
        .int(&format!(
            "SELECT count(*) FROM schedule WHERE status = 'pending' AND due_us <= {start_us}"
        ))
        .await;
    // Norfolk overdue: reminder + prompt; Rochdale: stage 2 reminder to acknowledge + reminder +
    // prompt + nudge; reminders.
    assert_eq!(
        due_at_start,
        OVERDUE * 2 + NUDGED * 4 + REMINDED,
        "the work due when the replicas start"
    );

    // Hold the work back until all three replicas are polling, so that they race for it; then
    // put every row back at its own due time.
    let hold = 10 * 365 * 24 * 3600 * 1_000_000_i64;
    raw.exec(&format!(
        "UPDATE schedule SET due_us = due_us + {hold} WHERE status = 'pending'"
    ))
    .await;
    let logs = tempfile::tempdir().expect("a folder for the replicas' logs");
    let mut replicas = Replicas(Vec::new());
    for n in 0..3 {
        replicas.0.push(start_replica(&db.url, logs.path(), n));
    }
    for child in &mut replicas.0 {
        wait_serving(child);
    }
    raw.exec(&format!(
        "UPDATE schedule SET due_us = due_us - {hold} WHERE status = 'pending'"
    ))
    .await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let left = raw
            .int(&format!(
                "SELECT count(*) FROM schedule WHERE status = 'pending' AND due_us <= {start_us}"
            ))
            .await;
        if left == 0 {
            break;
        }
        let log = std::fs::read_to_string(logs.path().join("replica-0.log")).unwrap_or_default();
        assert!(
            std::time::Instant::now() < deadline,
            "{left} schedule rows still pending after two minutes; replica 0 says:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Let anything in flight finish, then stop the replicas before reading the record.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for child in &mut replicas.0 {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    for child in &mut replicas.0 {
        let _ = child.wait();
    }

    // Which replica recorded what: every row's work was recorded by exactly one of them.
    let mut recorded_by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut per_replica = [0usize; 3];
    for (n, handled) in per_replica.iter_mut().enumerate() {
        let log = std::fs::read_to_string(logs.path().join(format!("replica-{n}.log")))
            .unwrap_or_default();
        for line in log
            .lines()
            .filter(|l| l.contains("handled a due row") && l.contains("outcome=\"recorded\""))
        {
            let key = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("key="))
                .unwrap_or_else(|| panic!("a handled row names its key: {line}"));
            recorded_by.entry(key.to_string()).or_default().push(n);
            *handled += 1;
        }
    }
    let twice: Vec<_> = recorded_by.iter().filter(|(_, by)| by.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "recorded by more than one replica: {twice:?}"
    );
    assert!(
        per_replica.iter().filter(|n| **n > 0).count() >= 2,
        "the replicas shared the work: {per_replica:?}"
    );
    eprintln!("rows recorded per replica: {per_replica:?}");

    // Read the record back with a fresh service.
    let service = service_on(&db, Arc::new(ManualClock::frozen_at(Utc::now()))).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows_expected = 0;
    let mut check = async |reference: &Reference, want: &[&str]| {
        let events = service.events(reference).await.expect("events");
        let outbox = outbox_of(&db, &reference.to_string()).await;
        let mut mine = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let key = match &e.body {
                EventBody::ReminderSent { stage, due, .. } => {
                    format!("reminder {stage} {}", format_uk(*due))
                }
                EventBody::OverduePrompted { stage, count, .. } => {
                    format!("overdue {stage} #{count}")
                }
                EventBody::AcknowledgementNudged { stage, waiting, .. } => {
                    format!("nudge {stage} {}", waiting.0)
                }
                EventBody::AcknowledgementReminded { stage, .. } => format!("ackreminder {stage}"),
                _ => continue,
            };
            assert!(
                e.at >= DateTime::from_timestamp_micros(start_us).expect("instant")
                    - Duration::seconds(5)
            );
            *counts.entry(format!("{reference} {key}")).or_default() += 1;
            mine.push((i as u64 + 1, key));
        }
        // Each prompt's posts (its batch's rows: thread replies and root updates in both
        // channels, a direct message to each owner or manager's manager) are queued.
        let mut starts: Vec<u64> = outbox.iter().map(|r| r.seq).collect();
        starts.sort_unstable();
        starts.dedup();
        for (seq, key) in &mine {
            let batch = starts.iter().rev().find(|s| **s <= *seq).copied();
            let rows = outbox.iter().filter(|r| Some(r.seq) == batch).count();
            assert!(
                rows >= 6,
                "{reference} {key}: its posts are queued ({rows})"
            );
            rows_expected += 1;
        }
        let mut kinds: Vec<String> = mine
            .into_iter()
            .map(|(_, k)| k.split(' ').next().unwrap_or("").to_string())
            .collect();
        kinds.sort();
        let mut want: Vec<String> = want.iter().map(|s| (*s).to_string()).collect();
        want.sort();
        // A second overdue prompt may have fallen due while the test ran (at 09:00 of a working
        // day): it counts once like the rest, and the first is always there.
        kinds.dedup_by(|a, b| a == "overdue" && b == "overdue");
        assert_eq!(kinds, want, "{reference}");
    };
    for r in &overdue_refs {
        check(r, &["overdue"]).await;
    }
    for r in &nudge_refs {
        check(r, &["ackreminder", "nudge", "nudge", "overdue"]).await;
    }
    for r in &reminder_refs {
        check(r, &["reminder"]).await;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "recorded more than once: {twice:?}");
    assert!(
        counts.len() >= (OVERDUE + NUDGED * 4 + REMINDED) as usize,
        "every due prompt was recorded"
    );
    assert!(rows_expected >= (OVERDUE + NUDGED * 4 + REMINDED) as usize);
    // Each nudge batch records two nudges from one row.
    assert_eq!(
        recorded_by.len(),
        counts.len() - NUDGED as usize,
        "one recording row per prompt, per nudge pair"
    );

    // Every outbox row the scheduler's events caused exists once: keys are unique per message
    // and target, and no event was recorded twice to cause a second set.
    let total = raw.int("SELECT count(*) FROM outbox").await;
    let distinct = raw
        .int("SELECT count(DISTINCT idempotency_key) FROM outbox")
        .await;
    assert_eq!(total, distinct);
    raw.close().await;
    let report = db.open().await.verify().await.expect("the record verifies");
    assert!(report.broken.is_none(), "the hash chain is whole");
}
