//! `escalation-bot simulate`: every demo scenario runs to completion, its JSON timeline is well
//! formed, shows each stage's prompt and due instant, and reaches the policy's last stage.

use crate::helpers::{demo_dir, fixture, run_bin};
use chrono::{DateTime, FixedOffset};
use chrono_tz::Europe::London;
use escalation_bot::policy::{Anchor, Timescale};
use escalation_bot::simulate::Scenario;
use serde_json::Value;
use std::path::PathBuf;

/// Every `policies/demo/*-scenario.toml`, relative to the crate root.
fn scenarios() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(demo_dir())
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

/// A path as the binary sees it from the crate root.
fn arg(path: &std::path::Path) -> String {
    path.strip_prefix(crate::helpers::crate_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Parses an RFC 3339 field, checking it carries the UK offset in force at that instant.
fn uk_instant(line: &Value, field: &str) -> DateTime<FixedOffset> {
    let text = line[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string in {line}"));
    let t = DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{field} {text:?} is RFC 3339: {e}"));
    assert_eq!(
        t.with_timezone(&London).format("%:z").to_string(),
        t.format("%:z").to_string(),
        "{field} {text:?} carries the UK offset"
    );
    t
}

/// Runs a scenario with `--json` and returns its lines as JSON objects.
fn timeline(path: &std::path::Path) -> Vec<Value> {
    let out = run_bin(&["simulate", &arg(path), "--json"], None);
    assert_eq!(
        out.code,
        Some(0),
        "{} runs to completion: {}",
        path.display(),
        out.stderr
    );
    out.stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: line is not JSON ({e}): {l}", path.display()))
        })
        .collect()
}

#[test]
fn every_demo_scenario_runs_to_completion_as_text() {
    for path in scenarios() {
        let out = run_bin(&["simulate", &arg(&path)], None);
        assert_eq!(out.code, Some(0), "{}: {}", path.display(), out.stderr);
        assert!(out.stdout.contains("stage_started"), "{}", out.stdout);
    }
}

#[test]
fn every_demo_scenario_prints_json_lines_with_at_kind_and_stage() {
    for path in scenarios() {
        let lines = timeline(&path);
        assert!(!lines.is_empty(), "{}", path.display());
        let mut previous: Option<DateTime<FixedOffset>> = None;
        for line in &lines {
            let at = uk_instant(line, "at");
            assert!(
                previous.is_none_or(|p| p <= at),
                "{}: the timeline runs forwards in time",
                path.display()
            );
            previous = Some(at);
            let kind = line["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("kind in {line}"));
            assert!(
                !kind.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "kind is snake_case: {kind}"
            );
            assert!(line["stage"].is_u64(), "stage is a number in {line}");
            if line.get("due").is_some_and(|d| !d.is_null()) {
                uk_instant(line, "due");
            }
        }
    }
}

#[test]
fn every_demo_scenario_walks_its_dispute_to_the_policys_last_stage() {
    for path in scenarios() {
        let scenario = Scenario::load(&path).expect("the scenario loads");
        let policy = fixture().policy(&scenario.policy);
        let lines = timeline(&path);
        assert!(
            lines[0]["kind"] == "raised" || lines[0]["kind"] == "urgent_route_prompted",
            "{}: the timeline opens with the raise (or the urgent prompt before it)",
            path.display()
        );
        let last = lines
            .iter()
            .filter_map(|l| l["stage"].as_u64())
            .max()
            .unwrap_or(0);
        assert_eq!(
            last,
            u64::from(policy.last_stage()),
            "{} reaches {}'s last stage",
            path.display(),
            policy.id
        );
    }
}

#[test]
fn every_stage_start_shows_the_policys_prompt_and_due_instant() {
    for path in scenarios() {
        let scenario = Scenario::load(&path).expect("the scenario loads");
        let policy = fixture().policy(&scenario.policy);
        let cal = fixture().calendar(&policy.id);
        let lines = timeline(&path);
        let first_raised = lines
            .iter()
            .find(|l| l["kind"] == "raised")
            .map(|l| uk_instant(l, "at").to_utc())
            .expect("a raised line");
        for line in lines.iter().filter(|l| l["kind"] == "stage_started") {
            let n = line["stage"].as_u64().expect("stage") as u32;
            let stage = policy.stage(n).expect("the stage exists in the policy");
            // A repeating stage's higher tiers show the policy's repeat prompt instead.
            let prompt = match (&stage.repeats, line["tier"].as_u64()) {
                (Some(repeat), Some(tier)) if tier > 0 => &repeat.prompt,
                _ => &stage.prompt,
            };
            assert_eq!(
                line["prompt"].as_str(),
                Some(prompt.as_str()),
                "{}: stage {n} (tier {}) shows the policy's prompt",
                path.display(),
                line["tier"]
            );
            let started = uk_instant(line, "at").to_utc();
            let expected = match &stage.timescale {
                Timescale::Limit(l) => {
                    let from = match &l.from {
                        Anchor::StageStart | Anchor::PreviousStageEnd => Some(started),
                        // The demo scenarios raise each challenge when it arose.
                        Anchor::FirstRaised | Anchor::Arose => Some(first_raised),
                        Anchor::Step(_) => None,
                    };
                    from.map(|f| l.due(f, cal, &policy.calendar_days).expect("in range"))
                }
                _ => None,
            };
            let shown = line
                .get("due")
                .filter(|d| !d.is_null())
                .map(|_| uk_instant(line, "due").to_utc());
            assert_eq!(
                shown,
                expected,
                "{}: stage {n}'s due instant",
                path.display()
            );
        }
    }
}

#[test]
fn the_norfolk_scenario_is_due_on_the_friday_after_the_spring_bank_holiday() {
    let path = demo_dir().join("norfolk-scenario.toml");
    let lines = timeline(&path);
    let stage_one = lines
        .iter()
        .find(|l| l["kind"] == "stage_started" && l["stage"] == 1)
        .expect("stage 1 starts");
    // Raised Thu 21 May 2026; Fri 22 (1), Mon 25 is the Spring bank holiday, Tue 26 (2) ... Fri 29 (5).
    assert_eq!(stage_one["at"], "2026-05-21T09:40:00+01:00");
    assert_eq!(stage_one["due"], "2026-05-29T17:00:00+01:00");
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
    for kind in [
        "raised",
        "stage_started",
        "escalated",
        "acknowledged",
        "board_notified",
        "notice_answered",
        "determination_recorded",
    ] {
        assert!(
            kinds.contains(&kind),
            "the Norfolk timeline has {kind}: {kinds:?}"
        );
    }
    // Raised comes before its stage starts; the panel's determination closes it, so nothing of
    // the kind a party answers follows it.
    let pos = |k: &str| kinds.iter().position(|x| *x == k).expect(k);
    assert!(pos("raised") < pos("stage_started"));
    assert_eq!(kinds[kinds.len() - 2], "determination_recorded");
    assert!(!kinds.contains(&"resolution_confirmed"));
}

#[test]
fn a_scenario_runs_the_same_through_the_library_as_through_the_binary() {
    // The binary's JSON and the library's run agree on the number of entries and their kinds.
    for path in scenarios() {
        let scenario = Scenario::load(&path).expect("loads");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the simulation");
        let entries = runtime
            .block_on(escalation_bot::simulate::run(
                &scenario,
                &fixture().policies,
                None,
            ))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lines = timeline(&path);
        let from_lib: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
        let from_bin: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
        assert_eq!(from_lib, from_bin, "{}", path.display());
    }
}

/// A scenario file in a temporary folder, using the demo directory by absolute path.
fn scenario_file(folder: &tempfile::TempDir, policy: &str, steps: &str) -> String {
    let path = folder.path().join("scenario.toml");
    let text = format!(
        "title = \"A test\"\npolicy = {policy:?}\ndirectory = {:?}\n{steps}",
        demo_dir()
            .join("directory.toml")
            .to_str()
            .expect("UTF-8 path")
    );
    std::fs::write(&path, text).expect("scenario written");
    path.to_str().expect("UTF-8 path").to_string()
}

const NORFOLK_RAISE: &str = r#"
[[step]]
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
"#;

#[test]
fn a_step_earlier_than_the_one_above_it_is_refused_with_both_times_and_what_to_do() {
    let folder = tempfile::tempdir().expect("temp folder");
    let steps = format!(
        "{NORFOLK_RAISE}\n[[step]]\nat = \"2026-05-22T11:00:00+01:00\"\nby = \"dr-okafor\"\ndo = \"note\"\ntext = \"Called back.\"\n\n[[step]]\nat = \"2026-05-22T10:00:00+01:00\"\nby = \"sam-patel\"\ndo = \"note\"\ntext = \"Earlier call.\"\n"
    );
    let file = scenario_file(&folder, "norfolk", &steps);
    let out = run_bin(&["simulate", &file, "--json"], None);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("step 3 (2026-05-22T10:00:00+01:00)")
            && out.stderr.contains("must be in the order they happen")
            && out.stderr.contains("2026-05-22T11:00:00+01:00")
            && out.stderr.contains("move it up or correct its time"),
        "{}",
        out.stderr
    );
    // What came before the bad step was recorded and printed: the raise, its stage and the note.
    let kinds: Vec<String> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["kind"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("note_added"),
        "{kinds:?}"
    );
}

#[test]
fn a_raise_by_someone_under_another_boards_procedure_is_refused_naming_both_boards() {
    let folder = tempfile::tempdir().expect("temp folder");
    let file = scenario_file(&folder, "durham", NORFOLK_RAISE);
    let out = run_bin(&["simulate", &file], None);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("step 1")
            && out
                .stderr
                .contains("sam-patel works under the norfolk procedure")
            && out.stderr.contains("the scenario names durham")
            && out.stderr.contains("change the scenario's policy"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.lines().count() <= 2,
        "nothing was recorded: {}",
        out.stdout
    );
}

#[test]
fn a_database_that_is_not_ours_is_refused_before_the_scenario_runs() {
    let folder = tempfile::tempdir().expect("temp folder");
    let not_ours = folder.path().join("notes.txt");
    std::fs::write(&not_ours, "these are somebody's notes, not a database\n").expect("written");
    let path = demo_dir().join("norfolk-scenario.toml");
    let out = run_bin(
        &[
            "simulate",
            &arg(&path),
            "--db",
            not_ours.to_str().expect("UTF-8"),
        ],
        None,
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("not an escalation-bot database"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(
        std::fs::read_to_string(&not_ours).expect("still there"),
        "these are somebody's notes, not a database\n",
        "the file is left as it was"
    );
}
