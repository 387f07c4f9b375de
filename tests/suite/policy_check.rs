//! `escalation-bot policy check`: the shipped files pass; a copy of Norfolk's with one deliberate
//! mistake fails, naming the file, the line and what to change.

use crate::helpers::{SEED_POLICIES, crate_root, run_bin};
use std::path::PathBuf;

/// The shipped Norfolk policy text.
fn norfolk_text() -> String {
    std::fs::read_to_string(crate_root().join("policies/norfolk.toml"))
        .expect("policies/norfolk.toml is shipped")
}

/// The 1-based line of the first occurrence of `needle` at or after line `after`.
fn line_of(text: &str, needle: &str, after: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(after.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} appears in the text after line {after}"))
}

/// Replaces exactly one occurrence of `from` (after line `after`) with `to`.
fn replace_once(text: &str, from: &str, to: &str, after: usize) -> String {
    let start: usize = text
        .lines()
        .take(after.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    let at = text[start..]
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} appears after line {after}"))
        + start;
    format!("{}{}{}", &text[..at], to, &text[at + from.len()..])
}

/// A broken policy written to a temporary folder, kept alive while the test runs.
struct Broken {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write_broken(text: &str) -> Broken {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("norfolk.toml");
    std::fs::write(&path, text).expect("the broken copy is written");
    // The copy keeps its stage-4 written account beside it, so only the deliberate mistake fails.
    let forms = dir.path().join("norfolk/forms");
    std::fs::create_dir_all(&forms).expect("a forms folder");
    std::fs::copy(
        crate_root().join("policies/norfolk/forms/written-account.html.j2"),
        forms.join("written-account.html.j2"),
    )
    .expect("the template is copied");
    Broken { _dir: dir, path }
}

#[test]
fn a_form_whose_template_is_missing_or_names_a_field_the_record_lacks_is_refused_at_its_line() {
    let text = norfolk_text();
    let line = line_of(&text, "form = { id = \"written-account\"", 1);
    let broken = write_broken(&text);
    let template = broken
        .path
        .parent()
        .expect("a folder")
        .join("norfolk/forms/written-account.html.j2");

    std::fs::write(&template, "<p>{{ raised.summry }}</p>").expect("written");
    let problem = check_fails_at(&broken, line);
    assert!(
        problem.contains("norfolk/forms/written-account.html.j2")
            && problem.contains("does not render")
            && problem.contains("line 1"),
        "{problem}"
    );

    std::fs::remove_file(&template).expect("removed");
    let problem = check_fails_at(&broken, line);
    assert!(
        problem.contains("needs its template norfolk/forms/written-account.html.j2"),
        "{problem}"
    );

    let escaping = replace_once(
        &text,
        "form = { id = \"written-account\",",
        "form = { template = \"../elsewhere.html.j2\", id = \"written-account\",",
        line,
    );
    let broken = write_broken(&escaping);
    let problem = check_fails_at(&broken, line);
    assert!(
        problem.contains("must be a path inside the policies folder"),
        "{problem}"
    );
}

/// Runs `policy check` on a broken copy; it must exit 1 and name `file:line:`. Returns that line.
fn check_fails_at(broken: &Broken, line: usize) -> String {
    let path = broken.path.display().to_string();
    let out = run_bin(&["policy", "check", &path], None);
    assert_eq!(
        out.code,
        Some(1),
        "policy check exits 1 on a broken file; stdout: {}; stderr: {}",
        out.stdout,
        out.stderr
    );
    let prefix = format!("{path}:{line}: ");
    out.stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("a problem names {prefix:?}; got:\n{}", out.stdout))
        .to_string()
}

/// The line of `[[stage]]` number `n` in the Norfolk text.
fn stage_line(text: &str, n: u32) -> usize {
    line_of(text, &format!("number = {n}"), 1)
}

#[test]
fn the_shipped_policies_pass_the_check() {
    let files: Vec<String> = SEED_POLICIES
        .iter()
        .map(|id| format!("policies/{id}.toml"))
        .collect();
    let mut args = vec!["policy", "check"];
    args.extend(files.iter().map(String::as_str));
    let out = run_bin(&args, None);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    for f in &files {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{f}: ok"))),
            "{f} is reported ok:\n{}",
            out.stdout
        );
    }
}

#[test]
fn policy_check_without_files_checks_every_shipped_policy() {
    let out = run_bin(&["policy", "check"], None);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    for id in SEED_POLICIES {
        assert!(
            out.stdout.contains(&format!("{id}.toml: ok")),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn an_unknown_role_level_names_its_line_and_the_levels_to_use() {
    let text = norfolk_text();
    let stage2 = stage_line(&text, 2);
    let line = line_of(&text, "level = \"first_line_manager\"", stage2);
    let broken = write_broken(&replace_once(
        &text,
        "level = \"first_line_manager\"",
        "level = \"wizard\"",
        stage2,
    ));
    let problem = check_fails_at(&broken, line);
    assert!(problem.contains("\"wizard\""), "{problem}");
    assert!(problem.contains("unknown role level"), "{problem}");
    for level in [
        "practitioner",
        "first_line_manager",
        "senior_manager",
        "director",
    ] {
        assert!(problem.contains(level), "suggests {level}: {problem}");
    }
}

#[test]
fn an_empty_prompt_names_its_line_and_asks_for_plain_words() {
    let text = norfolk_text();
    let stage1 = stage_line(&text, 1);
    let prompt_line = line_of(&text, "prompt = \"\"\"", stage1);
    // Replace stage 1's multi-line prompt with a blank one-line prompt on the same line.
    let lines: Vec<&str> = text.lines().collect();
    let close = (prompt_line..lines.len())
        .find(|i| lines[*i].ends_with("\"\"\""))
        .expect("the prompt closes");
    let mut kept: Vec<&str> = lines[..prompt_line - 1].to_vec();
    kept.push("prompt = \"  \"");
    kept.extend_from_slice(&lines[close + 1..]);
    let broken_text = kept.join("\n");
    let broken = write_broken(&broken_text);
    let problem = check_fails_at(&broken, prompt_line);
    assert!(problem.contains("prompt is empty"), "{problem}");
    assert!(problem.contains("plain words"), "{problem}");
}

#[test]
fn a_limit_measured_from_a_step_that_does_not_exist_names_its_line() {
    let text = norfolk_text();
    let stage2 = stage_line(&text, 2);
    let line = line_of(&text, "from = \"stage_start\"", stage2);
    let broken = write_broken(&replace_once(
        &text,
        "from = \"stage_start\"",
        "from = \"nonexistent-step\"",
        stage2,
    ));
    let problem = check_fails_at(&broken, line);
    assert!(problem.contains("\"nonexistent-step\""), "{problem}");
    assert!(problem.contains("does not exist"), "{problem}");
    assert!(
        problem.contains("stage_start") && problem.contains("first_raised"),
        "says what to use instead: {problem}"
    );
}

#[test]
fn a_syntax_error_names_its_line() {
    let text = norfolk_text();
    let line = line_of(&text, "name = \"Professional to professional\"", 1);
    let broken = write_broken(&replace_once(
        &text,
        "name = \"Professional to professional\"",
        "name = \"Professional to professional",
        1,
    ));
    let problem = check_fails_at(&broken, line);
    assert!(
        problem.contains("policies/README.md"),
        "points at the format: {problem}"
    );
}

#[test]
fn a_misspelt_field_names_its_line() {
    let text = norfolk_text();
    let stage3 = stage_line(&text, 3);
    let line = line_of(&text, "acknowledge = true", stage3);
    let broken = write_broken(&replace_once(
        &text,
        "acknowledge = true",
        "acknowlege = true",
        stage3,
    ));
    let problem = check_fails_at(&broken, line);
    assert!(problem.contains("acknowlege"), "{problem}");
}

#[test]
fn an_unknown_day_unit_names_its_line_and_the_units_to_use() {
    let text = norfolk_text();
    let stage4 = stage_line(&text, 4);
    let line = line_of(&text, "unit = \"working\"", stage4);
    let broken = write_broken(&replace_once(
        &text,
        "unit = \"working\"",
        "unit = \"fortnights\"",
        stage4,
    ));
    let problem = check_fails_at(&broken, line);
    assert!(problem.contains("\"fortnights\""), "{problem}");
    assert!(
        problem.contains("\"working\"") && problem.contains("\"calendar\""),
        "{problem}"
    );
}

#[test]
fn a_broken_file_beside_good_ones_still_fails_the_whole_check() {
    let text = norfolk_text();
    let stage2 = stage_line(&text, 2);
    let broken = write_broken(&replace_once(
        &text,
        "level = \"first_line_manager\"",
        "level = \"wizard\"",
        stage2,
    ));
    let path = broken.path.display().to_string();
    let out = run_bin(
        &[
            "policy",
            "check",
            "policies/durham.toml",
            &path,
            "policies/rochdale.toml",
        ],
        None,
    );
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("policies/durham.toml: ok"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("policies/rochdale.toml: ok"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 problem(s) found"), "{}", out.stdout);
}

#[test]
fn policy_show_prints_every_stage_of_every_seed_policy() {
    for id in SEED_POLICIES {
        let out = run_bin(&["policy", "show", id], None);
        assert_eq!(out.code, Some(0), "{id}: {}", out.stderr);
        let policy = crate::helpers::fixture().policy(id);
        for stage in &policy.stages {
            assert!(
                out.stdout.contains(&stage.name),
                "{id}: the table names stage {} ({}):\n{}",
                stage.number,
                stage.name,
                out.stdout
            );
        }
    }
}

#[test]
fn policy_show_gives_the_procedures_own_words_where_it_sets_no_number() {
    let out = run_bin(&["policy", "show", "cambridgeshire-peterborough"], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("as soon as possible"), "{}", out.stdout);
}

#[test]
fn policy_show_of_an_unknown_board_lists_the_known_ones() {
    let out = run_bin(&["policy", "show", "atlantis"], None);
    assert_ne!(out.code, Some(0));
    for id in SEED_POLICIES {
        assert!(out.stderr.contains(id), "{}", out.stderr);
    }
}

#[test]
fn the_demo_directory_is_consistent_with_every_policy() {
    let fx = crate::helpers::fixture();
    let problems = escalation_bot::directory::check_directory(&fx.directory, &fx.policies);
    assert!(
        problems.is_empty(),
        "the demo directory has problems:\n{}",
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_sixth_board_is_added_by_writing_a_file() {
    use escalation_bot::calendar::BankHolidays;
    use escalation_bot::directory::{Directory, PersonId};
    use escalation_bot::escalation::{Command, Context, Dispute, Reference, handle};
    use escalation_bot::policy::PolicySet;

    let text = norfolk_text()
        .replacen("id = \"norfolk\"", "id = \"testshire\"", 1)
        .replacen(
            "reference_prefix = \"NSAB\"",
            "reference_prefix = \"TSAB\"",
            1,
        );
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("testshire.toml"), &text).expect("written");
    // Its stage-4 written account is a template beside the policy, like every other rule.
    let forms = dir.path().join("testshire/forms");
    std::fs::create_dir_all(&forms).expect("a forms folder");
    std::fs::copy(
        crate_root().join("policies/norfolk/forms/written-account.html.j2"),
        forms.join("written-account.html.j2"),
    )
    .expect("the template is copied");
    let folder = dir.path().display().to_string();

    let out = run_bin(
        &[
            "deadline",
            "--policies",
            &folder,
            "--policy",
            "testshire",
            "--stage",
            "1",
            "--started",
            "2026-06-01T10:00:00+01:00",
        ],
        None,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.first_line(), "2026-06-08T17:00:00+01:00");

    let set = PolicySet::load_dir(dir.path()).expect("the new board's file loads");
    let policy = set
        .get("testshire")
        .expect("the new board is known by its id");
    let people = Directory::from_toml(
        "testshire-directory.toml",
        r#"
[[agency]]
id = "ts-asc"
name = "Testshire Adult Social Care"
kind = "adult-social-care"
board = "testshire"

[[agency]]
id = "ts-gp"
name = "Testshire GP"
kind = "gp-practice"
board = "testshire"

[[agency]]
id = "ts-board"
name = "TSAB business unit"
kind = "board"
board = "testshire"

[[person]]
id = "ts-sw"
name = "A Social Worker"
agency = "ts-asc"
role = "social-worker"

[[person]]
id = "ts-gp1"
name = "A GP"
agency = "ts-gp"
role = "gp"

[[person]]
id = "ts-unit"
name = "TSAB Business Unit"
agency = "ts-board"
role = "business-unit"
"#,
    )
    .expect("the directory reads");
    let calendar = BankHolidays::embedded()
        .calendar(&policy.calendar, policy.hours)
        .expect("calendar");
    let ctx = Context {
        policy,
        calendar: &calendar,
        directory: &people,
        now: crate::helpers::at("2026-06-01T10:00:00+01:00"),
    };
    let mut details = crate::helpers::details("ts-gp", Some("ts-gp1"), "service-provision");
    details.immediate_risk = true;
    let raise = Command::Raise {
        reference: Reference::new("TSAB", 2026, 1),
        details,
    };
    let events = handle(&Dispute::default(), &PersonId("ts-sw".into()), &raise, &ctx)
        .expect("a dispute can be raised under the new board");
    assert_eq!(events[0].body.kind(), "urgent_route_prompted");
    let state = Dispute::from_events(&events);
    assert_eq!(
        state.reference.map(|r| r.to_string()).as_deref(),
        Some("TSAB-2026-0001")
    );
    assert_eq!(
        state.due,
        Some(crate::helpers::at("2026-06-08T17:00:00+01:00"))
    );
}

/// The shipped test policy that uses every rule kind.
fn testshire_text() -> String {
    std::fs::read_to_string(crate_root().join("policies/test/testshire.toml"))
        .expect("policies/test/testshire.toml is shipped")
}

#[test]
fn the_test_policy_of_every_rule_kind_passes_the_check() {
    let out = run_bin(&["policy", "check", "policies/test/testshire.toml"], None);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

#[test]
fn each_rule_kind_misused_names_its_line_and_what_to_write() {
    // (text to replace, its replacement, what the problem says). The problem names the line of
    // the replaced text.
    let cases: &[(&str, &str, &str)] = &[
        (
            "hours = 4, unit = \"working\"",
            "hours = 4",
            "a limit in hours needs unit = \"working\" (only working time counts)",
        ),
        (
            "hours = 4, unit = \"working\"",
            "hours = 4, days = 1, unit = \"working\"",
            "a limit has one length",
        ),
        (
            "same_working_day = true,",
            "same_working_day = true, unit = \"working\",",
            "same_working_day ends at the close of working hours: leave out unit",
        ),
        (
            "from = \"arising\"",
            "from = \"previous_stage_end\"",
            "stage 1 has no previous stage",
        ),
        (
            "by = \"each_side\"",
            "by = \"both\"",
            "unknown step `by` \"both\"",
        ),
        (
            "limit_not_stated = {",
            "limit = { days = 5, unit = \"working\", from = \"stage_start\", source = \"x\" }\nlimit_not_stated = {",
            "more than one of `limit`, `no_limit` and `limit_not_stated`",
        ),
        (
            "who = [\"adults\", \"children\"]",
            "who = [\"adults\", \"elders\"]",
            "unknown covers.who \"elders\"",
        ),
        (
            "via_kind = \"icb\"",
            "via_kind = \"ccg\"",
            "no [[ladder]] for the agency kind \"ccg\"",
        ),
        (
            "via_kind = \"icb\"",
            "via_kind = \"gp-practice\"",
            "it must differ from through.kind",
        ),
        (
            "covers = { who = [\"adults\", \"children\"]",
            "covers = { who = [\"adults\"]",
            "serves.concerns names \"child\", but the policy does not cover children",
        ),
        (
            "owner = \"chair\"",
            "owner = \"secretary\"",
            "unknown decided_by.owner \"secretary\"",
        ),
        (
            "body = \"panel\"",
            "body = \"jury\"",
            "unknown decided_by.body \"jury\"",
        ),
        (
            "id = \"early-warning\"\n",
            "",
            "an offered notice needs an id too",
        ),
        (
            "ask = \"Might this need the partnership panel, so the business unit should be warned now?\"\n",
            "",
            "a notice with an id is offered, not automatic: add ask",
        ),
        (
            "should be warned now?\"",
            "should be warned now\"",
            "end it with a question mark",
        ),
        (
            "on_non_working_day = \"next_working_day\"",
            "on_non_working_day = \"monday\"",
            "unknown calendar_days.on_non_working_day \"monday\"",
        ),
    ];
    for (from, to, says) in cases {
        let text = testshire_text();
        let changed = replace_once(&text, from, to, 1);
        // The problem names the line where the change ends up: the replacement's last line, or
        // for a removed line, the notice's other half (`ask` or `id`) next to it.
        let needle = match (to.lines().last(), *from) {
            // The rung that serves children is what no longer fits.
            (Some(_), f) if f.starts_with("covers") => {
                "serves = { concerns = [\"child\"]".to_string()
            }
            (Some(last), _) => last.to_string(),
            (None, f) if f.starts_with("id =") => "ask = \"Might this".to_string(),
            (None, _) => "id = \"early-warning\"".to_string(),
        };
        let line = line_of(&changed, &needle, 1);
        let problem = check_fails_at(&write_broken(&changed), line);
        assert!(problem.contains(says), "{from:?} -> {to:?}: {problem}");
    }
}

#[test]
fn a_decided_stage_that_is_not_the_last_and_a_calendar_day_limit_without_its_rule_are_refused() {
    let text = testshire_text();
    // Stage 4 decided by the board, but stage 5 follows it.
    let stage4 = line_of(&text, "number = 4", 1);
    let decided = replace_once(
        &text,
        "limit_not_stated = {",
        "decided_by = { body = \"chair\", name = \"Chair\", owner = \"chair\", source = \"x\" }\nlimit_not_stated = {",
        stage4,
    );
    let line = line_of(&decided, "decided_by = { body = \"chair\"", stage4);
    let problem = check_fails_at(&write_broken(&decided), line);
    assert!(problem.contains("it must be the last stage"), "{problem}");
    // A calendar-day limit, and nothing said about a deadline on a day nobody works.
    let silent = text
        .lines()
        .filter(|l| !l.starts_with("calendar_days = "))
        .collect::<Vec<_>>()
        .join("\n");
    let line = line_of(&silent, "days = 6, unit = \"calendar\"", 1);
    let problem = check_fails_at(&write_broken(&silent), line);
    assert!(
        problem.contains("say whether one that ends on a weekend"),
        "{problem}"
    );
}
