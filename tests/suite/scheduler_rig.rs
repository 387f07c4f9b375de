//! The scheduler's test rig: the real `Service` and `Store` (a temporary SQLite file, or a fresh
//! PostgreSQL database), a `ManualClock` moved in quarter-hour steps, and `Scheduler::tick()`
//! after every step, exactly as `serve` would run it as time passes.
//!
//! What the tests read back is the record itself: the scheduler's events with their times, and
//! the outbox rows each one caused (target and `available_at`).

use crate::databases::{Backend, TestDb, demo_directory};
use crate::helpers::{at, pid};
use chrono::{DateTime, Duration, Utc};
use escalation_bot::calendar::{Calendar, format_uk};
use escalation_bot::chat::{Delivery, Target};
use escalation_bot::directory::Directory;
use escalation_bot::escalation::{Command, Event, EventBody, RaiseDetails, Reference};
use escalation_bot::policy::{self, PolicySet};
use escalation_bot::scheduler::Scheduler;
use escalation_bot::service::{ManualClock, Outcome, Service};
use std::path::Path;
use std::sync::Arc;

/// How far the clock moves between two ticks, in minutes.
pub const STEP_MINUTES: i64 = 15;

/// The real service on a real database, with a clock that moves only when told.
pub struct Rig {
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub service: Arc<Service>,
    pub scheduler: Scheduler,
}

/// Builds the service the way `serve` does, on `db`, reading time from `clock`.
pub async fn service_on(db: &TestDb, clock: Arc<ManualClock>) -> Arc<Service> {
    service_with(db, clock, &policy::default_dir()).await
}

/// The same with the policies of another folder.
pub async fn service_with(db: &TestDb, clock: Arc<ManualClock>, policies: &Path) -> Arc<Service> {
    let policies =
        PolicySet::load_dir(policies).unwrap_or_else(|e| panic!("the policies load: {e}"));
    let directory = Directory::load(&demo_directory())
        .unwrap_or_else(|e| panic!("the demo directory loads: {e}"));
    let service = Service::new(
        db.open().await,
        Arc::new(policies),
        Arc::new(directory),
        clock,
    )
    .unwrap_or_else(|e| panic!("the service starts: {e}"));
    Arc::new(service)
}

impl Rig {
    /// A rig on a fresh SQLite file with the clock stopped at `start` (RFC 3339).
    pub async fn new(start: &str) -> Rig {
        Rig::on(TestDb::new(Backend::Sqlite).await, start).await
    }

    /// A rig on a given fresh database.
    pub async fn on(db: TestDb, start: &str) -> Rig {
        Rig::with_policies(db, &policy::default_dir(), start).await
    }

    /// A rig whose service reads the policies in another folder.
    pub async fn with_policies(db: TestDb, policies: &Path, start: &str) -> Rig {
        let clock = Arc::new(ManualClock::frozen_at(at(start)));
        let service = service_with(&db, clock.clone(), policies).await;
        let scheduler = Scheduler::new(service.clone(), "scheduler-a".to_string());
        Rig {
            db,
            clock,
            service,
            scheduler,
        }
    }

    /// The rig's time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.service.now()
    }

    /// The calendar of a board's policy.
    pub fn calendar(&self, policy: &str) -> &Calendar {
        self.service
            .policy(policy)
            .unwrap_or_else(|e| panic!("policy {policy}: {e}"))
            .1
    }

    /// Ticks until nothing more is due now; returns how many rows were handled.
    pub async fn tick(&self) -> usize {
        let mut total = 0;
        loop {
            let n = self.scheduler.tick().await.unwrap_or_else(|e| {
                panic!("the scheduler ticks at {}: {e}", format_uk(self.now()))
            });
            total += n;
            if n == 0 {
                return total;
            }
        }
    }

    /// Moves the clock to `until` in quarter-hour steps, ticking now and after every step.
    pub async fn run_until(&self, until: &str) {
        let until = at(until);
        assert!(
            until >= self.now(),
            "the rig's clock only moves forward ({} is before {})",
            format_uk(until),
            format_uk(self.now())
        );
        self.tick().await;
        while self.now() < until {
            let next = (self.now() + Duration::minutes(STEP_MINUTES)).min(until);
            self.clock.set(next);
            self.tick().await;
        }
    }

    /// Raises a challenge now; it must be accepted.
    pub async fn raise(&self, by: &str, details: RaiseDetails) -> Reference {
        self.service
            .raise(&pid(by), details, None, None)
            .await
            .unwrap_or_else(|e| panic!("{by} raises at {}: {e}", format_uk(self.now())))
            .reference
    }

    /// A person acts now; it must be accepted.
    pub async fn act(&self, by: &str, reference: &Reference, command: Command) -> Outcome {
        let name = command.name();
        self.service
            .act(&pid(by), reference, &command, None, None)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{by} can {name} {reference} at {}: {e}",
                    format_uk(self.now())
                )
            })
    }

    /// A dispute's events, in order (event `i` has sequence number `i + 1`).
    /// Who moves the dispute on the raising side now: the first of the stage's raising owners.
    pub async fn mover(&self, reference: &Reference) -> String {
        let d = self
            .service
            .dispute(reference)
            .await
            .expect("the dispute loads");
        d.owners_raising
            .first()
            .or(d.raised_by.as_ref())
            .map(|p| p.0.clone())
            .expect("a raised dispute has someone on the raising side")
    }

    pub async fn events(&self, reference: &Reference) -> Vec<Event> {
        self.service
            .events(reference)
            .await
            .unwrap_or_else(|e| panic!("the events of {reference} load: {e}"))
    }

    /// A dispute's outbox rows, in the order they were written.
    pub async fn outbox(&self, reference: &Reference) -> Vec<OutboxRecord> {
        outbox_of(&self.db, &reference.to_string()).await
    }

    /// The message payloads (JSON text) of a dispute's outbox rows of one delivery kind
    /// (`reply`, `direct`, `notice`, …).
    pub async fn payloads(&self, reference: &Reference, delivery: &str) -> Vec<String> {
        let raw = self.db.raw().await;
        let texts = raw
            .texts(&format!(
                "SELECT payload FROM outbox WHERE reference = '{reference}' AND idempotency_key LIKE '%:{delivery}:%' ORDER BY id"
            ))
            .await;
        raw.close().await;
        texts
    }

    /// How many of a dispute's schedule rows have a status.
    pub async fn schedule_count(&self, reference: &Reference, status: &str) -> i64 {
        let raw = self.db.raw().await;
        let n = raw
            .int(&format!(
                "SELECT count(*) FROM schedule WHERE reference = '{reference}' AND status = '{status}'"
            ))
            .await;
        raw.close().await;
        n
    }

    /// The scheduler's posts and the board notices of a dispute, as readable lines.
    pub async fn timeline(&self, reference: &Reference) -> Vec<String> {
        timeline(&self.events(reference).await)
    }

    /// For every scheduler event and board notice of a dispute: when it was recorded, when its
    /// posts may go out, and where they go.
    pub async fn posts(&self, reference: &Reference) -> Vec<Posts> {
        posts(
            &self.service.directory(),
            &self.events(reference).await,
            &self.outbox(reference).await,
        )
    }
}

/// One outbox row as the tests read it.
#[derive(Debug, Clone)]
pub struct OutboxRecord {
    pub key: String,
    /// The sequence number of the first event of the batch that wrote it.
    pub seq: u64,
    pub available_at: DateTime<Utc>,
    pub target: Target,
    pub status: String,
}

/// Reads a dispute's outbox rows through raw SQL.
pub async fn outbox_of(db: &TestDb, reference: &str) -> Vec<OutboxRecord> {
    let raw = db.raw().await;
    let lines = raw
        .texts(&format!(
            "SELECT CAST(CASE WHEN available_us = 253402300799000000 THEN ready_us ELSE available_us END AS TEXT) || '|' || status || '|' || idempotency_key || '|' || target
             FROM outbox WHERE reference = '{reference}' ORDER BY id"
        ))
        .await;
    raw.close().await;
    lines
        .iter()
        // Rows the delivery worker adds itself (e.g. a notice about a parked post) are not the
        // dispute's own posts.
        .filter(|line| {
            line.split('|')
                .nth(2)
                .is_some_and(|key| key.starts_with(&format!("{reference}:")))
        })
        .map(|line| {
            let mut parts = line.splitn(4, '|');
            let (Some(us), Some(status), Some(key), Some(target)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                panic!("an outbox row reads back whole: {line}");
            };
            let seq = key
                .strip_prefix(&format!("{reference}:"))
                .and_then(|rest| rest.split(':').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("outbox keys start with reference and sequence: {key}"));
            let us: i64 = us.parse().expect("available_us is a number");
            OutboxRecord {
                key: key.to_string(),
                seq,
                available_at: DateTime::from_timestamp_micros(us).expect("a valid instant"),
                target: serde_json::from_str(target).expect("outbox targets are chat targets"),
                status: status.to_string(),
            }
        })
        .collect()
}

/// "reply teams riverside-gp", "direct slack sam-patel", "notice slack norfolk-board".
pub fn describe(dir: &Directory, target: &Target) -> String {
    let agency = |channel: &str| {
        dir.agencies()
            .find(|a| a.channels.iter().any(|c| c.channel == channel))
            .map_or_else(|| channel.to_string(), |a| a.id.0.clone())
    };
    let p = target.platform;
    match &target.delivery {
        Delivery::Root { channel } => format!("root {p} {}", agency(channel)),
        Delivery::Reply { channel } => format!("reply {p} {}", agency(channel)),
        Delivery::UpdateRoot { channel } => format!("update {p} {}", agency(channel)),
        Delivery::Notice { channel } => format!("notice {p} {}", agency(channel)),
        Delivery::Direct { person, .. } => format!("direct {p} {}", person.0),
        Delivery::Receipt { user, .. } => format!("receipt {p} {user}"),
    }
}

/// Whether an event is the scheduler's (or a board notice, which the tests follow too).
pub fn followed(e: &Event) -> bool {
    matches!(
        e.body,
        EventBody::ReminderSent { .. }
            | EventBody::OverduePrompted { .. }
            | EventBody::AcknowledgementNudged { .. }
            | EventBody::BoardNotified { .. }
    )
}

/// One line per scheduler event and board notice, with its time in UK local time.
pub fn timeline(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| followed(e))
        .map(|e| {
            let when = format_uk(e.at);
            match &e.body {
                EventBody::ReminderSent { stage, due, .. } => {
                    format!("{when} reminder stage {stage}, due {}", format_uk(*due))
                }
                EventBody::OverduePrompted {
                    stage,
                    count,
                    delay_reason_required,
                    delay_reason_given,
                    ..
                } => {
                    let reason = match (delay_reason_required, delay_reason_given) {
                        (false, _) => "",
                        (true, false) => ", reason for delay asked",
                        (true, true) => ", reason for delay on record",
                    };
                    format!("{when} overdue #{count} stage {stage}{reason}")
                }
                EventBody::AcknowledgementNudged {
                    stage,
                    waiting,
                    told,
                    ..
                } => {
                    let told: Vec<&str> = told.iter().map(|p| p.0.as_str()).collect();
                    format!(
                        "{when} nudge stage {stage}: {} -> {}",
                        waiting.0,
                        told.join(", ")
                    )
                }
                EventBody::BoardNotified { who, .. } => {
                    format!(
                        "{when} board notified: {}",
                        format!("{who:?}").to_lowercase()
                    )
                }
                _ => unreachable!("only followed events"),
            }
        })
        .collect()
}

/// The posts one followed event caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posts {
    pub kind: &'static str,
    pub at: DateTime<Utc>,
    /// Every distinct `available_at` of its rows.
    pub available: Vec<DateTime<Utc>>,
    /// Where its rows go, sorted.
    pub targets: Vec<String>,
}

/// For each followed event: its rows (by the batch's sequence number; board notices by their
/// notice rows in that batch).
pub fn posts(dir: &Directory, events: &[Event], outbox: &[OutboxRecord]) -> Vec<Posts> {
    // The batch an event belongs to starts at the greatest outbox sequence at or before it.
    let mut starts: Vec<u64> = outbox.iter().map(|r| r.seq).collect();
    starts.sort_unstable();
    starts.dedup();
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if !followed(e) {
            continue;
        }
        let seq = i as u64 + 1;
        let batch = starts.iter().rev().find(|s| **s <= seq).copied();
        let rows: Vec<&OutboxRecord> = outbox
            .iter()
            .filter(|r| Some(r.seq) == batch)
            .filter(|r| {
                let notice = matches!(r.target.delivery, Delivery::Notice { .. });
                match &e.body {
                    EventBody::BoardNotified { who, .. } => {
                        notice
                            && r.key
                                .ends_with(&format!(":{}", format!("{who:?}").to_lowercase()))
                    }
                    _ => !notice,
                }
            })
            .collect();
        let mut targets: Vec<String> = rows.iter().map(|r| describe(dir, &r.target)).collect();
        targets.sort();
        let mut available: Vec<DateTime<Utc>> = rows.iter().map(|r| r.available_at).collect();
        available.sort();
        available.dedup();
        out.push(Posts {
            kind: e.body.kind(),
            at: e.at,
            available,
            targets,
        });
    }
    out
}

/// Sorted owned strings, for comparing target lists.
pub fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| (*s).to_string()).collect();
    v.sort();
    v
}

/// Checks that every post a scheduler event caused goes out at the event's own time, inside
/// working hours on a working day of the calendar (for a dispute that is not urgent).
pub fn assert_in_working_hours(cal: &Calendar, posts: &[Posts]) {
    for p in posts.iter().filter(|p| p.kind != "board_notified") {
        assert!(
            cal.is_working_time(p.at).expect("in the calendar's range"),
            "{} at {} is outside working hours",
            p.kind,
            format_uk(p.at)
        );
        assert_eq!(
            p.available,
            vec![p.at],
            "the posts of the {} at {} go out then",
            p.kind,
            format_uk(p.at)
        );
    }
}
