//! The challenge log and the statistics, on both databases: a seeded set of disputes across the
//! five boards, driven through the real core, and figures computed here from the events alone.

use crate::databases::{TestDb, on_both_backends};
use crate::helpers::{
    Case, SEED_POLICIES, at, cast, escalate, escalate_late, fixture, pid, propose, run_bin,
};
use chrono::{DateTime, Duration, Utc};
use escalation_bot::escalation::{Command, Event, EventBody, Reference, Refusal};
use escalation_bot::report::{Period, Reports};
use escalation_bot::store::{Batch, Store};
use std::collections::BTreeMap;

/// Six ways a dispute goes; each board gets all six.
const SCRIPTS: usize = 6;

fn refer(text: &str) -> Command {
    Command::ReferLearning {
        text: text.to_string(),
    }
}

/// Drives dispute number `n` of a board through the core by script `n % 6`.
fn drive(policy: &str, n: u32) -> Vec<Event> {
    let c = cast(policy);
    let prefix = &fixture().policy(policy).reference_prefix;
    let mut details = c.details();
    let script = (n as usize - 1) % SCRIPTS;
    details.immediate_risk = script == 5;
    let raised = at("2026-05-04T10:00:00+01:00") + Duration::days(7 * i64::from(n));
    let t = |hours: i64| (raised + Duration::hours(hours)).to_rfc3339();
    let mut case = Case::new(policy);
    case.act(
        c.raiser,
        &t(0),
        Command::Raise {
            reference: Reference::new(prefix, 2026, n),
            details,
        },
    );
    let settle = |case: &mut Case, when: &str| {
        let (a, b) = (case.mover(), case.mover_receiving());
        case.act(&a, when, propose("A joint plan both agencies hold."));
        case.act(&b, when, Command::ConfirmResolution);
    };
    match script {
        0 => {}
        1 => settle(&mut case, &t(2)),
        2 => {
            let a = case.mover();
            case.act(&a, &t(1), escalate("Discussed once; no agreement."));
            settle(&mut case, &t(3));
        }
        3 => {
            let a = case.mover();
            case.act(
                &a,
                &t(1),
                Command::Withdraw {
                    reason: "Resolved outside the procedure.".into(),
                },
            );
        }
        4 => {
            // Late past stage 1's limit where the board sets one; a month on where it does not.
            let a = case.mover();
            match case.state.due {
                Some(due) => case.act(
                    &a,
                    &(due + Duration::days(2)).to_rfc3339(),
                    escalate_late(
                        "No agreement after two calls.",
                        "The decision maker was on leave.",
                    ),
                ),
                None => case.act(&a, &t(24 * 30), escalate("No agreement after two calls.")),
            };
        }
        _ => {
            let a = case.mover();
            case.act(&a, &t(1), refer("Share discharge summaries sooner."));
            settle(&mut case, &t(2));
        }
    }
    case.events
}

/// Seeds every board with six disputes; returns each dispute's events by reference.
pub(crate) async fn seed(store: &Store) -> BTreeMap<String, (String, Vec<Event>)> {
    let mut all = BTreeMap::new();
    for policy in SEED_POLICIES {
        let prefix = fixture().policy(policy).reference_prefix.clone();
        for n in 1..=SCRIPTS as u32 {
            let events = drive(policy, n);
            let batch = Batch {
                events: events.clone(),
                ..Batch::default()
            };
            let (reference, _) = store
                .create(&prefix, 2026, |_| Ok::<_, Refusal>(batch))
                .await
                .expect("the store records the dispute")
                .expect("the batch is accepted");
            assert_eq!(reference, Reference::new(&prefix, 2026, n));
            all.insert(reference.to_string(), (policy.to_string(), events));
        }
    }
    all
}

/// What the test expects of one dispute, worked out from its events with no report code.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    category: String,
    urgent: bool,
    highest: u32,
    state: String,
    closed: Option<DateTime<Utc>>,
    delays: usize,
    learning: u32,
    /// (stage, finished, had a limit, finished within it)
    stages: Vec<(u32, bool, bool, bool)>,
    working_days_open: i64,
}

fn expected(policy: &str, events: &[Event], now: DateTime<Utc>) -> Expected {
    let mut x = Expected {
        state: "open".into(),
        ..Expected::default()
    };
    let mut running: Option<(u32, Option<DateTime<Utc>>)> = None;
    let mut raised = now;
    let finish = |x: &mut Expected, running: &mut Option<(u32, Option<DateTime<Utc>>)>, when| {
        if let Some((stage, due)) = running.take() {
            x.stages
                .push((stage, true, due.is_some(), due.is_some_and(|d| when <= d)));
        }
    };
    for e in events {
        match &e.body {
            EventBody::Raised {
                category,
                immediate_risk,
                ..
            } => {
                x.category = category.clone();
                x.urgent = *immediate_risk;
                raised = e.at;
            }
            EventBody::StageStarted { stage, due, .. } => {
                finish(&mut x, &mut running, e.at);
                x.highest = x.highest.max(*stage);
                running = Some((*stage, *due));
            }
            EventBody::DelayReasonRecorded { .. } => x.delays += 1,
            EventBody::LearningReferred { .. } => x.learning += 1,
            EventBody::ResolutionConfirmed { .. } | EventBody::Withdrawn { .. } => {
                finish(&mut x, &mut running, e.at);
                x.state = if e.body.kind() == "withdrawn" {
                    "withdrawn"
                } else {
                    "resolved"
                }
                .into();
                x.closed = Some(e.at);
            }
            _ => {}
        }
    }
    if let Some((stage, due)) = running {
        x.stages.push((stage, false, due.is_some(), false));
    }
    let cal = fixture().calendar(policy);
    let (mut day, end) = (
        cal.local_date(raised),
        cal.local_date(x.closed.unwrap_or(now)),
    );
    while day < end {
        day = day.succ_opt().expect("a next day");
        x.working_days_open += i64::from(cal.is_working_day(day).expect("in the calendar"));
    }
    x
}

async fn the_log_and_statistics_match_figures_worked_out_from_the_events(db: &TestDb) {
    let store = db.open().await;
    let seeded = seed(&store).await;
    let now = at("2026-12-01T12:00:00Z");
    let f = fixture();
    let reports = Reports {
        store: &store,
        policies: &f.policies,
        directory: &f.directory,
    };
    for policy in SEED_POLICIES {
        let rows = reports
            .log(policy, Period::default(), None, now)
            .await
            .expect("the log reads");
        let mine: Vec<_> = seeded.iter().filter(|(_, (p, _))| p == policy).collect();
        assert_eq!(rows.len(), mine.len(), "{policy}: one line per dispute");
        for (row, (reference, (_, events))) in rows.iter().zip(&mine) {
            assert_eq!(&row.reference, *reference);
            let x = expected(policy, events, now);
            assert_eq!(row.category, x.category, "{reference}");
            assert_eq!(row.urgent, x.urgent, "{reference}");
            assert_eq!(row.highest_stage, x.highest, "{reference}");
            assert_eq!(row.state, x.state, "{reference}");
            assert_eq!(row.closed, x.closed, "{reference}");
            assert_eq!(row.delay_reasons.len(), x.delays, "{reference}");
            assert_eq!(row.learning_referred, x.learning, "{reference}");
            assert_eq!(
                row.working_days_open,
                Some(x.working_days_open),
                "{reference}"
            );
            let stages: Vec<_> = row
                .stages
                .iter()
                .map(|s| {
                    let word = s.timeliness.word();
                    (
                        s.stage,
                        s.left.is_some(),
                        s.due.is_some(),
                        s.left.is_some() && word == "on time",
                    )
                })
                .collect();
            assert_eq!(stages, x.stages, "{reference}: stages and timeliness");
            let raiser = f
                .directory
                .agency_of(&pid(cast(policy).raiser))
                .expect("the raiser's agency");
            assert_eq!(
                (&row.raising.name, &row.raising.kind),
                (&raiser.name, &raiser.kind)
            );
            assert_eq!(row.receiving.id, cast(policy).receiving);
        }

        let stats = reports
            .stats(policy, Period::default(), now)
            .await
            .expect("the figures compute");
        let xs: Vec<Expected> = mine
            .iter()
            .map(|(_, (_, e))| expected(policy, e, now))
            .collect();
        assert_eq!(stats.raised, 6);
        assert_eq!(stats.urgent, xs.iter().filter(|x| x.urgent).count() as u64);
        assert_eq!(
            stats.withdrawn,
            xs.iter().filter(|x| x.state == "withdrawn").count() as u64
        );
        assert_eq!(
            stats.learning_referrals,
            xs.iter().map(|x| u64::from(x.learning)).sum::<u64>()
        );
        assert_eq!(
            stats.delay_reasons.len(),
            xs.iter().map(|x| x.delays).sum::<usize>()
        );
        let finished: Vec<_> = xs
            .iter()
            .flat_map(|x| x.stages.iter())
            .filter(|s| s.1)
            .collect();
        assert_eq!(
            stats.stages_with_limit,
            finished.iter().filter(|s| s.2).count() as u64
        );
        assert_eq!(
            stats.stages_within_limit,
            finished.iter().filter(|s| s.3).count() as u64
        );
        let mut highest = BTreeMap::new();
        for x in &xs {
            *highest.entry(x.highest).or_insert(0u64) += 1;
        }
        assert_eq!(
            stats.by_highest_stage,
            highest.into_iter().collect::<Vec<_>>()
        );
        let resolved_at_1 = xs
            .iter()
            .filter(|x| x.state == "resolved" && x.highest == 1)
            .count() as u64;
        let word = &f.policy(policy).stage_word;
        let got = stats
            .outcomes
            .iter()
            .find(|(k, _)| k == &format!("resolved at {word} 1"))
            .map_or(0, |(_, n)| *n);
        assert_eq!(got, resolved_at_1, "{policy}: resolved at the first stage");
        assert_eq!(stats.by_category.iter().map(|(_, n)| n).sum::<u64>(), 6);
    }

    // A period narrows the log to the disputes raised in it (UK dates, both ends included).
    let period = Period::parse(Some("2026-05-11"), Some("2026-05-25")).expect("dates parse");
    let rows = reports
        .log("norfolk", period, None, now)
        .await
        .expect("the log reads");
    let refs: Vec<&str> = rows.iter().map(|r| r.reference.as_str()).collect();
    assert_eq!(refs, ["NSAB-2026-0001", "NSAB-2026-0002", "NSAB-2026-0003"]);
    // An agency's lead sees only the disputes their agency is in.
    let other = reports
        .log("norfolk", Period::default(), Some("no-such-agency"), now)
        .await
        .expect("reads");
    assert!(other.is_empty());
    let own = reports
        .log("norfolk", Period::default(), Some("riverside-gp"), now)
        .await
        .expect("reads");
    assert_eq!(own.len(), 6);
}
on_both_backends!(the_log_and_statistics_match_figures_worked_out_from_the_events: log_and_stats_match_on_sqlite, log_and_stats_match_on_postgres);

async fn a_disputes_record_lists_every_event_and_shows_a_changed_one(db: &TestDb) {
    let store = db.open().await;
    seed(&store).await;
    let f = fixture();
    let reports = Reports {
        store: &store,
        policies: &f.policies,
        directory: &f.directory,
    };
    let reference = Reference::parse("DSAP-2026-0003").expect("a reference");
    let doc = reports.record(&reference).await.expect("the record reads");
    let stored = store.events(&reference).await.expect("events");
    assert_eq!(doc.events.len(), stored.len());
    assert!(doc.chain_intact, "{}", doc.chain);
    assert!(doc.events.iter().zip(1..).all(|(l, n)| l.seq == n));
    assert!(doc.to_html().contains("Hash chain: intact"));
    let raw = db.raw().await;
    raw.exec("UPDATE events SET body = replace(body, 'Discussed once', 'Agreed at once') WHERE reference = 'DSAP-2026-0003'").await;
    let doc = reports
        .record(&reference)
        .await
        .expect("the record still reads");
    assert!(!doc.chain_intact);
    assert!(doc.chain.contains("DSAP-2026-0003 event"), "{}", doc.chain);
    raw.close().await;
    let missing = Reference::parse("DSAP-2026-0099").expect("a reference");
    let err = reports.record(&missing).await.expect_err("no such dispute");
    assert!(
        err.to_string()
            .contains("there is no challenge DSAP-2026-0099")
    );
}
on_both_backends!(a_disputes_record_lists_every_event_and_shows_a_changed_one: record_checks_chain_on_sqlite, record_checks_chain_on_postgres);

#[tokio::test]
async fn the_report_commands_print_the_log_figures_and_record_and_refuse_bad_input() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    seed(&store).await;
    drop(store);
    let url = db.path().to_str().expect("utf-8").to_string();
    let out = run_bin(&["report", "log", "--board", "durham", "--db", &url], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "a header and six disputes: {}", out.stdout);
    assert!(lines[0].starts_with("reference,raising agency kind"));
    assert!(
        lines[5].contains("The decision maker was on leave."),
        "{}",
        lines[5]
    );
    let json = run_bin(
        &[
            "report",
            "log",
            "--board",
            "durham",
            "--format",
            "json",
            "--from",
            "2026-05-11",
            "--to",
            "2026-05-11",
            "--db",
            &url,
        ],
        None,
    );
    let rows: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    let stats = run_bin(
        &["report", "stats", "--board", "rochdale", "--db", &url],
        None,
    );
    assert!(
        stats.stdout.contains("disputes,raised,6\r\n"),
        "{}",
        stats.stdout
    );
    assert!(stats.stdout.contains("disputes,urgent,1\r\n"));
    let html = run_bin(
        &[
            "report", "stats", "--board", "rochdale", "--format", "html", "--db", &url,
        ],
        None,
    );
    assert!(html.stdout.matches("<svg").count() >= 5);
    let record = run_bin(
        &[
            "report",
            "dispute",
            "RBSAB-2026-0001",
            "--format",
            "json",
            "--db",
            &url,
        ],
        None,
    );
    assert_eq!(record.code, Some(0), "{}", record.stderr);
    let doc: serde_json::Value = serde_json::from_str(&record.stdout).expect("JSON");
    assert_eq!(doc["chain_intact"], true);

    for (args, says) in [
        (
            vec!["report", "log", "--board", "nowhere"],
            "there is no board \"nowhere\"; the boards are: ",
        ),
        (
            vec!["report", "log", "--board", "durham", "--from", "1 April"],
            "is not a date like 2026-04-01",
        ),
        (
            vec![
                "report",
                "log",
                "--board",
                "durham",
                "--from",
                "2026-05-01",
                "--to",
                "2026-04-01",
            ],
            "swap the dates",
        ),
        (
            vec!["report", "log", "--board", "durham", "--format", "xlsx"],
            "is not one of csv, json",
        ),
        (
            vec!["report", "dispute", "DSAP-2026-0099"],
            "there is no challenge DSAP-2026-0099",
        ),
        (
            vec!["report", "dispute", "not-a-ref"],
            "is not a dispute reference",
        ),
    ] {
        let mut args = args.clone();
        args.extend(["--db", &url]);
        let out = run_bin(&args, None);
        assert_eq!(out.code, Some(2), "{args:?}");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

#[tokio::test]
async fn a_disputes_record_prints_to_a_pdf_whose_text_holds_its_events_and_chain_check() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    seed(&store).await;
    drop(store);
    let url = db.path().to_str().expect("utf-8").to_string();
    let pdf = db.folder().join("record.pdf");
    let pdf_path = pdf.to_str().expect("utf-8");
    let out = run_bin(
        &[
            "report",
            "dispute",
            "DSAP-2026-0005",
            "--format",
            "pdf",
            "--out",
            pdf_path,
            "--db",
            &url,
        ],
        None,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", pdf_path, "-"])
        .output()
        .expect("pdftotext runs (Debian's poppler-utils; .ci/run installs it)");
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("Record of DSAP-2026-0005"), "{text}");
    assert!(text.contains("Hash chain: intact"), "{text}");
    assert!(text.contains("The decision maker was on leave."), "{text}");
}
