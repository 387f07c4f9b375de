//! Scenarios on the real service and store: the same timeline on a temporary file and on both
//! backends, read back from the record; a simulation killed mid-run keeps every event it
//! reported and an intact chain.

use crate::databases::{Backend, TestDb, demo_directory, on_both_backends, run_cli, world};
use escalation_bot::escalation::Reference;
use escalation_bot::simulate::{self, Scenario};
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::AsyncBufReadExt;

/// Every `policies/demo/*-scenario.toml`.
fn demo_scenarios() -> Vec<PathBuf> {
    let dir = demo_directory()
        .parent()
        .expect("policies/demo")
        .to_path_buf();
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("policies/demo exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("-scenario.toml"))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "at least one demo scenario is shipped");
    found
}

/// Runs every demo scenario on the real service recording into a fresh database of `backend`,
/// and checks it against the default run on a temporary file: the same timeline, read back from
/// a record that holds exactly those events with an intact chain, and the posts and schedule the
/// production path writes alongside them.
async fn same_timeline_on(backend: Backend) {
    for path in demo_scenarios() {
        let shown = path.display().to_string();
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{shown} loads: {e}"));
        let temporary = simulate::run(&scenario, &world().policies, None)
            .await
            .unwrap_or_else(|e| panic!("{shown} runs on a temporary file: {e}"));

        // Through the library, into a database the test can read afterwards.
        let db = TestDb::new(backend).await;
        let stored = simulate::run(&scenario, &world().policies, Some(&db.url))
            .await
            .unwrap_or_else(|e| panic!("{shown} runs on {backend:?}: {e}"));
        assert_eq!(
            stored, temporary,
            "{shown}: the {backend:?} timeline equals the one on a temporary file"
        );
        let store = db.open().await;
        let report = store.verify().await.expect("verify runs");
        assert_eq!(report.broken, None, "{shown}");
        let reference = Reference::parse(&temporary[0].reference).expect("a reference");
        let recorded: Vec<String> = store
            .events(&reference)
            .await
            .expect("events load")
            .iter()
            .map(|e| e.body.kind().to_string())
            .collect();
        let shown_kinds: Vec<String> = temporary
            .iter()
            .filter(|e| e.kind != "refused")
            .map(|e| e.kind.clone())
            .collect();
        assert_eq!(
            recorded, shown_kinds,
            "{shown}: the timeline is the record, event for event"
        );
        // The production path planned the posts: every thread's root at least, none delivered.
        let raw = db.raw().await;
        let posts = raw
            .int("SELECT count(*) FROM outbox WHERE status = 'pending'")
            .await;
        assert!(
            posts >= 2,
            "{shown}: the service queued the posts its events cause ({posts})"
        );
        // The scheduler did everything due by the scenario's end: nothing earlier is pending.
        let end = scenario
            .until
            .unwrap_or_else(|| scenario.steps.last().expect("a step").at);
        let overdue = raw
            .int(&format!(
                "SELECT count(*) FROM schedule WHERE status = 'pending' AND due_us <= {}",
                end.timestamp_micros()
            ))
            .await;
        assert_eq!(overdue, 0, "{shown}: no scheduled work left behind");
        raw.close().await;

        // Through the binary: `--json` output is byte for byte the same.
        let file = path.to_str().expect("UTF-8 path");
        let (code, on_temporary, err) = run_cli(&["simulate", file, "--json"]).await;
        assert_eq!(code, Some(0), "{shown} on a temporary file: {err}");
        let cli = TestDb::new(backend).await;
        let (code, on_db, err) = run_cli(&["simulate", file, "--json", "--db", &cli.url]).await;
        assert_eq!(code, Some(0), "{shown} on {backend:?}: {err}");
        assert_eq!(
            on_db, on_temporary,
            "{shown}: the CLI prints the same timeline on {backend:?}"
        );
        assert_eq!(on_db.lines().count(), temporary.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_demo_scenario_gives_the_same_timeline_on_a_temporary_file_and_on_sqlite() {
    same_timeline_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_demo_scenario_gives_the_same_timeline_on_a_temporary_file_and_on_postgres() {
    same_timeline_on(Backend::Postgres).await;
}

const NOTES: usize = 300;

/// A Norfolk raise and then `NOTES` notes, with the demo directory by absolute path.
fn long_scenario() -> String {
    let mut s = format!(
        "title = \"A raise and {NOTES} notes\"\npolicy = \"norfolk\"\ndirectory = {:?}\n\n",
        demo_directory().to_str().expect("UTF-8 path")
    );
    s.push_str(
        r#"[[step]]
at = "2026-05-21T09:40:00+01:00"
by = "sam-patel"
do = "raise"
receiving_agency = "riverside-gp"
other_professional = "dr-okafor"
concerns = { type = "adult" }
category = "outcomes-of-assessments"
summary = "Decision not to refer for a mental capacity assessment after discharge."
desired_outcome = "A joint review of the discharge plan."
case_reference = "ASC-4471"
immediate_risk = false
"#,
    );
    let start = crate::databases::at("2026-05-21T10:00:00+01:00");
    for n in 0..NOTES {
        let when = start + chrono::Duration::seconds(30 * n as i64);
        let by = if n % 2 == 0 { "sam-patel" } else { "dr-okafor" };
        s.push_str(&format!(
            "\n[[step]]\nat = \"{}\"\nby = \"{by}\"\ndo = \"note\"\ntext = \"Note {n}\"\n",
            when.to_rfc3339()
        ));
    }
    s
}

async fn killed_mid_run_keeps_what_it_reported(db: &TestDb) {
    let folder = tempfile::tempdir().expect("temp folder");
    let scenario = folder.path().join("long-scenario.toml");
    std::fs::write(&scenario, long_scenario()).expect("scenario written");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .args([
            "simulate",
            scenario.to_str().expect("UTF-8"),
            "--json",
            "--db",
            &db.url,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut printed = Vec::new();
    while printed.len() < 50 {
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .expect("the binary prints each entry as it is recorded, not all at the end");
        match next.expect("stdout reads") {
            Some(line) => printed.push(line),
            None => panic!(
                "the simulation ended after {} lines, before it could be killed",
                printed.len()
            ),
        }
    }
    child.start_kill().expect("kill -9");
    let status = child.wait().await.expect("the child is reaped");
    assert!(
        !status.success(),
        "the simulation was killed mid-run, not finished: {status:?}"
    );
    // Whatever it printed before it died counts as answered too.
    while let Some(line) = lines.next_line().await.expect("stdout reads") {
        printed.push(line);
    }
    let raised_and_notes = 1 + NOTES;
    assert!(
        printed.len() < raised_and_notes,
        "killed before the end ({} lines)",
        printed.len()
    );

    let store = db.open().await;
    let events = store
        .events(&Reference::new("NSAB", 2026, 1))
        .await
        .expect("the record reads after the crash");
    assert!(
        events.len() >= printed.len(),
        "every reported event is on record: {} printed, {} stored",
        printed.len(),
        events.len()
    );
    for (i, (line, event)) in printed.iter().zip(&events).enumerate() {
        let line: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {i} is JSON: {e}"));
        assert_eq!(
            line["kind"],
            event.body.kind(),
            "entry {i} is the stored event {i}"
        );
        if let escalation_bot::escalation::EventBody::NoteAdded { text, .. } = &event.body {
            assert_eq!(line["text"], text.as_str(), "entry {i}");
        }
    }
    let report = store.verify().await.expect("verify runs");
    assert_eq!(report.broken, None, "the chain is intact after the crash");
    assert_eq!(report.events, events.len() as u64);
    let (code, stdout, stderr) = run_cli(&["audit", "verify", "--db", &db.url]).await;
    assert_eq!(
        code,
        Some(0),
        "audit verify passes after the crash: {stdout} {stderr}"
    );
}

on_both_backends!(killed_mid_run_keeps_what_it_reported:
    a_simulation_killed_mid_run_keeps_every_event_it_reported_and_verifies_on_sqlite,
    a_simulation_killed_mid_run_keeps_every_event_it_reported_and_verifies_on_postgres);
