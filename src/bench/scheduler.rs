//! `escalation-bot bench scheduler`: how long the scheduler's tick takes with 100,000 open
//! disputes in the database.
//!
//! The database gets the schedule rows of `--disputes` open disputes (their reminders, overdue
//! prompts and nudges, waiting for later, and their earlier rows, done), loaded in large
//! transactions, plus `--due` real disputes raised through the service 30 days ago, whose
//! reminder (stale by now) and first overdue prompt are due now. Then it times:
//!
//! - the claim query alone, with nothing due and with the due rows waiting (`--samples` times);
//! - the whole `Scheduler::tick()` (claim, decide, append events and posts, mark done) for each
//!   batch until the due work is done, and with nothing due.
//!
//! It prints min / p50 / p99 / max of each and the claim's query plan.

use super::{ms, percentile};
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use escalation_bot::directory::{Directory, PersonId};
use escalation_bot::escalation::{Concerns, RaiseDetails, Reference, SystemCommand};
use escalation_bot::policy::PolicySet;
use escalation_bot::scheduler::Scheduler;
use escalation_bot::service::{ManualClock, Service};
use escalation_bot::store::{BulkSchedule, NewSchedule, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct SchedulerArgs {
    /// Database URL: a SQLite file or `postgres://…` (use a new, empty database). Default: a new
    /// SQLite file in a temporary folder, removed afterwards.
    #[arg(long)]
    db: Option<String>,
    /// Open disputes whose schedule rows wait for later.
    #[arg(long, default_value_t = 100_000)]
    disputes: u32,
    /// Real disputes (raised through the service) whose work is due now: two rows each.
    #[arg(long, default_value_t = 500)]
    due: u32,
    /// How many times to time each claim measurement.
    #[arg(long, default_value_t = 500)]
    samples: u32,
    /// Folder of policy files.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// The directory of agencies and people the due disputes are raised in.
    #[arg(long, default_value = "policies/demo/directory.toml")]
    directory: PathBuf,
}

/// Rows per bulk transaction.
const CHUNK: usize = 10_000;
/// The scheduler's batch (as in `Scheduler::new`).
const BATCH: i64 = 100;

struct Stats(Vec<u64>);

impl Stats {
    fn line(&mut self) -> String {
        self.0.sort_unstable();
        let s = &self.0;
        format!(
            "min {}  p50 {}  p99 {}  max {}  ({} samples)",
            ms(s.first().copied().unwrap_or(0)),
            ms(percentile(s, 50.0)),
            ms(percentile(s, 99.0)),
            ms(s.last().copied().unwrap_or(0)),
            s.len()
        )
    }
}

fn micros_since(t: Instant) -> u64 {
    t.elapsed().as_micros() as u64
}

/// Runs `bench scheduler`.
pub fn run(args: SchedulerArgs) -> Result<ExitCode, String> {
    if args.disputes == 0 || args.samples == 0 {
        return Err("--disputes and --samples must be more than 0".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let (url, folder) = match &args.db {
        Some(url) => (url.clone(), None),
        None => {
            let folder = std::env::temp_dir().join(format!(
                "escalation-bot-bench-{}-{}",
                std::process::id(),
                Utc::now().timestamp_micros()
            ));
            std::fs::create_dir_all(&folder)
                .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
            let file = folder.join("bench.db");
            (file.display().to_string(), Some(folder))
        }
    };
    let outcome = runtime.block_on(bench(&args, &url));
    if let Some(folder) = folder {
        let _ = std::fs::remove_dir_all(folder);
    }
    outcome
}

/// The schedule rows of one open dispute that is waiting: a reminder and an overdue prompt
/// later on, every third an acknowledgement nudge, and two rows of its history, done.
fn open_dispute_rows(n: u32, now: DateTime<Utc>) -> Vec<BulkSchedule> {
    let reference = Reference::new("LOAD", 2026, n + 1).to_string();
    // Deadlines spread over the next four weeks, at the opening of the day.
    let due = now + Duration::hours(1 + i64::from(n % 672));
    let reminder_at = due - Duration::hours(32);
    let reminder_at = if reminder_at > now {
        reminder_at
    } else {
        now + Duration::minutes(30)
    };
    let row = |kind: &str, at: DateTime<Utc>, command: SystemCommand, slot: &str, done_at| {
        let (stage, tier) = command.stage_tier();
        BulkSchedule {
            reference: reference.clone(),
            row: NewSchedule {
                idempotency_key: format!("{reference}:{kind}:{stage}:{tier}:{slot}"),
                kind: kind.to_string(),
                due_at: at,
                payload: serde_json::to_value(&command).unwrap_or_default(),
            },
            done_at,
        }
    };
    let stage = 2;
    let due_us = due.timestamp_micros();
    let earlier = now - Duration::days(7) - Duration::hours(i64::from(n % 48));
    let mut rows = vec![
        row(
            "reminder",
            reminder_at,
            SystemCommand::Remind {
                stage,
                tier: 0,
                due,
            },
            &format!("{due_us}:1"),
            None,
        ),
        row(
            "overdue",
            due + Duration::hours(16),
            SystemCommand::Overdue {
                stage,
                tier: 0,
                due,
                count: 1,
            },
            &format!("{due_us}:1"),
            None,
        ),
        row(
            "reminder",
            earlier - Duration::days(1),
            SystemCommand::Remind {
                stage: 1,
                tier: 0,
                due: earlier,
            },
            "history:1",
            Some(earlier - Duration::days(1)),
        ),
        row(
            "overdue",
            earlier + Duration::hours(16),
            SystemCommand::Overdue {
                stage: 1,
                tier: 0,
                due: earlier,
                count: 1,
            },
            "history:2",
            Some(earlier + Duration::hours(16)),
        ),
    ];
    if n.is_multiple_of(3) {
        rows.push(row(
            "ack_nudge",
            now + Duration::hours(2 + i64::from(n % 40)),
            SystemCommand::NudgeAcknowledgement { stage, tier: 0 },
            "window",
            None,
        ));
    }
    rows
}

async fn bench(args: &SchedulerArgs, url: &str) -> Result<ExitCode, String> {
    let store = Store::open(url).await.map_err(|e| e.to_string())?;
    let backend = store.backend();
    let policies = PolicySet::load_dir(&args.policies).map_err(|e| e.to_string())?;
    let directory = Directory::load(&args.directory).map_err(|e| e.to_string())?;
    let real_now = Utc::now();
    let clock = Arc::new(ManualClock::frozen_at(real_now - Duration::days(30)));
    let service = Arc::new(
        Service::new(
            store.clone(),
            Arc::new(policies),
            Arc::new(directory),
            clock.clone(),
        )
        .map_err(|e| e.to_string())?,
    );

    println!(
        "bench scheduler on {backend} ({})",
        if args.db.is_some() {
            url
        } else {
            "a new temporary file"
        }
    );
    // The open disputes' rows, in large transactions.
    let filling = Instant::now();
    let mut pending = 0u64;
    let mut history = 0u64;
    let mut chunk = Vec::with_capacity(CHUNK + 8);
    for n in 0..args.disputes {
        for r in open_dispute_rows(n, real_now) {
            if r.done_at.is_some() {
                history += 1;
            } else {
                pending += 1;
            }
            chunk.push(r);
        }
        if chunk.len() >= CHUNK {
            store
                .insert_schedule(&chunk)
                .await
                .map_err(|e| e.to_string())?;
            chunk.clear();
        }
    }
    store
        .insert_schedule(&chunk)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "filled: {} open disputes, {pending} pending rows due later and {history} done, in {:.1} s",
        args.disputes,
        filling.elapsed().as_secs_f64()
    );

    // The due work: real Norfolk disputes raised 30 days ago.
    let raising = Instant::now();
    let raiser = PersonId("sam-patel".into());
    for _ in 0..args.due {
        let details = RaiseDetails {
            receiving_agency: escalation_bot::directory::AgencyId("riverside-gp".into()),
            other_professional: Some(PersonId("dr-okafor".into())),
            concerns: Concerns::Adult,
            category: "outcomes-of-assessments".into(),
            summary: "Disagreement about whether the discharge plan meets the adult's needs."
                .into(),
            possible_cause: None,
            desired_outcome: "A joint review of the discharge plan.".into(),
            adults_views: None,
            case_reference: "ASC-4471".into(),
            immediate_risk: false,
            arose_at: None,
            delay_reason: None,
            notices: Default::default(),
        };
        service
            .raise(&raiser, details, None, None)
            .await
            .map_err(|e| format!("raising a due dispute: {e}"))?;
    }
    clock.set(Utc::now());
    let now = service.now();
    println!(
        "due now: {} rows of {} disputes raised through the service (a stale reminder and a first overdue prompt each), in {:.1} s",
        2 * args.due,
        args.due,
        raising.elapsed().as_secs_f64()
    );

    println!("\nthe claim's query plan ({backend}):");
    for line in store
        .explain_claim_schedule(now, BATCH)
        .await
        .map_err(|e| e.to_string())?
    {
        println!("  {line}");
    }

    // The claim alone, with the due rows waiting: each claim takes up to a batch for no time at
    // all (a zero lease), so the next sample finds the same rows due.
    let lease = std::time::Duration::ZERO;
    let mut claim_due = Stats(Vec::new());
    let mut claimed = 0;
    for i in 0..args.samples {
        let at = now + Duration::microseconds(i64::from(i) + 1);
        let t = Instant::now();
        claimed = store
            .claim_schedule("bench", at, lease, BATCH)
            .await
            .map_err(|e| e.to_string())?
            .len();
        claim_due.0.push(micros_since(t));
    }
    let at = now + Duration::microseconds(i64::from(args.samples) + 1);
    clock.set(at);

    // Whole ticks, batch by batch, until the due work is done.
    let scheduler = Scheduler::new(service.clone(), "bench-scheduler".into());
    let mut ticks = Stats(Vec::new());
    let mut handled = 0;
    loop {
        let t = Instant::now();
        let n = scheduler.tick().await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        ticks.0.push(micros_since(t));
        handled += n;
    }

    // Nothing due: what every idle tick costs with all the open disputes in the database.
    let mut claim_idle = Stats(Vec::new());
    let mut tick_idle = Stats(Vec::new());
    for _ in 0..args.samples {
        let t = Instant::now();
        let n = store
            .claim_schedule("bench", at, lease, BATCH)
            .await
            .map_err(|e| e.to_string())?
            .len();
        claim_idle.0.push(micros_since(t));
        if n != 0 {
            return Err(format!("{n} rows were still due after the ticks"));
        }
        let t = Instant::now();
        scheduler.tick().await.map_err(|e| e.to_string())?;
        tick_idle.0.push(micros_since(t));
    }

    println!(
        "\nclaim, {} rows due (takes {claimed}):      {}",
        2 * args.due,
        claim_due.line()
    );
    println!(
        "claim, nothing due:                     {}",
        claim_idle.line()
    );
    println!(
        "tick, nothing due:                      {}",
        tick_idle.line()
    );
    println!(
        "tick, a full batch ({handled} rows in {} ticks: claim, decide, append, mark done): {}",
        ticks.0.len(),
        ticks.line()
    );
    let p50 = percentile(&tick_idle.0, 50.0);
    println!(
        "\nat {} open disputes an idle tick takes {} at the median (target: under 50 ms)",
        args.disputes,
        ms(p50)
    );
    Ok(if percentile(&tick_idle.0, 99.0) < 50_000 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
