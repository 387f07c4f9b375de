//! What each CLI subcommand does, kept out of `main.rs` so it can be tested and stays thin.

use crate::calendar::{self, BankHolidays};
use crate::policy::{self, Anchor, PolicySet, Timescale};
use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub mod directory;
pub mod report;

pub use directory::{DirectorySources, directory_export, directory_import, directory_in_use};

/// `policy check`: prints every problem with file and line; exit 1 if any.
pub fn policy_check(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let files = if files.is_empty() {
        policy_files(Path::new("policies"))?
    } else {
        files.to_vec()
    };
    let mut problems = 0;
    for file in &files {
        match policy::check_file(file) {
            Ok(p) => println!(
                "{}: ok ({}, {} stages)",
                file.display(),
                p.id,
                p.stages.len()
            ),
            Err(list) => {
                for problem in &list {
                    println!("{problem}");
                }
                problems += list.len();
            }
        }
    }
    if problems > 0 {
        println!("{problems} problem(s) found");
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn policy_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "no policy files given, and the folder {} cannot be read",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads the policies folder with a message that says what to do when it fails.
pub fn load_policies(dir: &Path) -> anyhow::Result<PolicySet> {
    PolicySet::load_dir(dir).map_err(|e| {
        anyhow!("the policies in {} cannot be used:\n{e}\nRun `escalation-bot policy check` for details.", dir.display())
    })
}

fn find_policy<'a>(set: &'a PolicySet, id: &str) -> anyhow::Result<&'a policy::Policy> {
    set.get(id)
        .ok_or_else(|| anyhow!("no policy {id:?}; known policies: {}", set.ids().join(", ")))
}

/// `policy show ID`.
pub fn policy_show(dir: &Path, id: &str) -> anyhow::Result<ExitCode> {
    let set = load_policies(dir)?;
    print!("{}", policy::render_table(find_policy(&set, id)?));
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `deadline`.
pub struct DeadlineArgs<'a> {
    pub policies: &'a Path,
    pub policy: &'a str,
    pub stage: u32,
    pub started: &'a str,
    pub first_raised: Option<&'a str>,
    pub arose: Option<&'a str>,
    /// The named step whose deadline to print, instead of the stage's.
    pub step: Option<&'a str>,
    /// When named steps happened: `ID=RFC3339`.
    pub done: &'a [String],
}

fn instant(value: &str, flag: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!("{flag} {value:?} is not an RFC 3339 time like 2026-06-01T09:40:00+01:00")
        })
}

/// Prints lines to standard output; a reader that stops early (`| head -1`) ends the output
/// quietly instead of failing.
fn print_lines(lines: &[String]) -> anyhow::Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e).context("cannot write to standard output"),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

/// `deadline`: the due instant of a stage or of one of its named steps; `none` where the
/// procedure sets no limit, `not stated` where it has one its text does not state. A limit
/// whose starting point was not given is refused, never guessed.
pub fn deadline(args: &DeadlineArgs<'_>) -> anyhow::Result<ExitCode> {
    let set = load_policies(args.policies)?;
    let policy = find_policy(&set, args.policy)?;
    let stage = policy.stage(args.stage).ok_or_else(|| {
        anyhow!(
            "{} has stages 1 to {}; there is no stage {}",
            policy.id,
            policy.last_stage(),
            args.stage
        )
    })?;
    let started = instant(args.started, "--started")?;
    let first_raised = args
        .first_raised
        .map(|f| instant(f, "--first-raised"))
        .transpose()?;
    let arose = args.arose.map(|f| instant(f, "--arose")).transpose()?;
    let mut done = BTreeMap::new();
    for s in args.done {
        let (id, at) = s.split_once('=').ok_or_else(|| {
            anyhow!("--done {s:?} must be ID=RFC3339, the step's id and when it happened")
        })?;
        if policy.step(id).is_none() {
            return Err(anyhow!(
                "--done names {id:?}, which is not a step of the {} policy",
                policy.id
            ));
        }
        done.insert(id.to_string(), instant(at, "--done")?);
    }
    let step_ids = || {
        stage
            .steps
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (what, limit) = match args.step {
        Some(id) if id.contains('=') => {
            return Err(anyhow!(
                "--step names the step whose deadline to print; give when a step happened with --done ID=RFC3339"
            ));
        }
        Some(id) => {
            let step = stage.steps.iter().find(|s| s.id == id).ok_or_else(|| {
                if stage.steps.is_empty() {
                    anyhow!("{} {} has no named steps", policy.stage_word, stage.number)
                } else {
                    anyhow!(
                        "{} {} has the steps {}; {id:?} is not one of them",
                        policy.stage_word,
                        stage.number,
                        step_ids()
                    )
                }
            })?;
            match &step.limit {
                Some(l) => (format!("{} ({})", step.name, step.id), l),
                None => match &stage.timescale {
                    Timescale::Limit(l) => (format!("{} (within the stage's limit)", step.name), l),
                    other => return print_none(other),
                },
            }
        }
        None => match &stage.timescale {
            Timescale::Limit(l) => (
                format!("{} {} ({})", policy.stage_word, stage.number, stage.name),
                l,
            ),
            Timescale::OnSteps => {
                return Err(anyhow!(
                    "{} {}'s limits belong to its steps ({}): name one with --step ID",
                    policy.stage_word,
                    stage.number,
                    step_ids()
                ));
            }
            other => return print_none(other),
        },
    };
    let raised = match (first_raised, stage.number) {
        (Some(t), _) => Some(t),
        // At stage 1 the stage starts when the challenge is raised.
        (None, 1) => Some(started),
        (None, _) => None,
    };
    let from = match &limit.from {
        Anchor::StageStart | Anchor::PreviousStageEnd => started,
        Anchor::FirstRaised => raised.ok_or_else(|| {
            anyhow!("this limit runs from when the challenge was first raised: give --first-raised RFC3339")
        })?,
        Anchor::Arose => arose.or(raised).ok_or_else(|| {
            anyhow!("this limit runs from when the disagreement arose: give --arose RFC3339 (or --first-raised, where it arose when it was raised)")
        })?,
        Anchor::Step(id) => *done.get(id).ok_or_else(|| {
            anyhow!("this limit runs from step {id:?}: give when it happened with --done {id}=RFC3339")
        })?,
    };
    let cal = BankHolidays::embedded().calendar(&policy.calendar, policy.hours)?;
    let due = limit.due(from, &cal, &policy.calendar_days)?;
    print_lines(&[
        calendar::format_uk(due),
        format!("{what}: {}", policy::describe_limit(limit)),
    ])?;
    Ok(ExitCode::SUCCESS)
}

/// The first line for a stage without a numeric limit: `none` where the procedure sets none,
/// `not stated` where it has one its text does not state.
fn print_none(t: &Timescale) -> anyhow::Result<ExitCode> {
    let first = match t {
        Timescale::NotStated { .. } => "not stated",
        _ => "none",
    };
    print_lines(&[first.to_string(), policy::describe_timescale(t)])?;
    Ok(ExitCode::SUCCESS)
}

/// The directory `screen` uses when none is named: the one `serve` uses by default.
const DEFAULT_DIRECTORY: &str = "policies/demo/directory.toml";

/// `screen`: `ok`, or one line per kind of identifiable detail found (kind and position only).
/// The directory's professionals and agencies pass, exactly as in the service; without
/// `--directory`, the default one is used when it exists, and none otherwise.
pub fn screen(directory: Option<&Path>) -> anyhow::Result<ExitCode> {
    let allow = match directory {
        Some(path) => {
            crate::privacy::Allow::from_directory(&crate::directory::Directory::load(path)?)
        }
        None => match crate::directory::Directory::load(Path::new(DEFAULT_DIRECTORY)) {
            Ok(dir) => crate::privacy::Allow::from_directory(&dir),
            Err(_) => crate::privacy::Allow::new(),
        },
    };
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read standard input as UTF-8 text")?;
    let findings = crate::privacy::screen_with(&text, &allow);
    if findings.is_empty() {
        println!("ok");
        return Ok(ExitCode::SUCCESS);
    }
    let mut kinds = BTreeMap::new();
    for f in &findings {
        kinds.entry(f.kind).or_insert_with(Vec::new).push(f.start);
    }
    for (kind, starts) in kinds {
        let at: Vec<String> = starts.iter().map(|s| s.to_string()).collect();
        println!("{} at character {}", kind.slug(), at.join(", "));
    }
    eprintln!("{}", crate::privacy::refusal_message(&findings));
    Ok(ExitCode::from(1))
}

pub use crate::config::DEFAULT_DATABASE;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `simulate`: runs a scenario on the real service (on a temporary database, or the one at `db`)
/// and prints its timeline.
pub fn simulate(
    policies: &Path,
    scenario: &Path,
    json: bool,
    db: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let set = load_policies(policies)?;
    let scenario = crate::simulate::Scenario::load(scenario)?;
    // Each entry is printed and flushed as soon as its events are recorded: a line on standard
    // output means the store has it, even if the process is killed straight after.
    let mut title = (!json).then(|| format!("{}\n\n", scenario.title));
    let print = |entry: crate::simulate::Entry| {
        let one = std::slice::from_ref(&entry);
        let text = if json {
            crate::simulate::render_json(one)
        } else {
            crate::simulate::render_text(one)
        };
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(title.take().unwrap_or_default().as_bytes());
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    };
    let outcome = runtime()?.block_on(crate::simulate::run_each(&scenario, &set, db, print));
    outcome?;
    Ok(ExitCode::SUCCESS)
}

/// `audit verify`: walks the log and cross-checks the database and any checkpoints; exit 0
/// with a count when all is intact, exit 1 naming every problem found.
pub fn audit_verify(
    db: &str,
    checkpoints: Option<&Path>,
    public_key: Option<&str>,
    signing_key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use crate::store::checkpoint::{CheckpointFinding, CheckpointKey, read_lines};
    let checkpoints = match checkpoints {
        None => Vec::new(),
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the checkpoints file {}", file.display()))?;
            read_lines(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        }
    };
    let public_key = match (public_key, signing_key) {
        _ if checkpoints.is_empty() => Vec::new(),
        (Some(hex_key), _) => hex::decode(hex_key.trim())
            .ok()
            .filter(|k| k.len() == 32)
            .context(
                "--public-key must be 64 hexadecimal characters, as `audit new-key` printed it",
            )?,
        (None, Some(seed)) => CheckpointKey::from_hex(seed)?.public_key(),
        (None, None) => anyhow::bail!(
            "checking checkpoints needs the public key that signed them: give --public-key (kept with the board) or set AUDIT_SIGNING_KEY"
        ),
    };
    runtime()?.block_on(async {
        let store = crate::store::Store::open(db).await?;
        let report = store.verify().await?;
        let mut failed = false;
        match &report.broken {
            None => println!(
                "ok: {} events in {} disputes, every link intact",
                report.events, report.disputes
            ),
            Some(b) => {
                failed = true;
                println!("broken: {b}");
                println!("{} events were checked before it.", report.events);
            }
        }
        for problem in &report.inconsistencies {
            failed = true;
            println!("inconsistent: {problem}");
        }
        for c in &checkpoints {
            let finding = store.check_checkpoint(c, &public_key).await?;
            failed |= finding != CheckpointFinding::Held;
            println!(
                "checkpoint of {} at position {}: {finding}",
                c.at.format("%Y-%m-%d %H:%M UTC"),
                c.position
            );
        }
        if failed {
            println!(
                "The record has been altered outside the service; keep this database as evidence and tell the board business unit."
            );
            return Ok(ExitCode::from(1));
        }
        if !checkpoints.is_empty() {
            println!("ok: the log holds all {} checkpoints", checkpoints.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `audit checkpoint`: signs the record's head now and prints it as one line.
pub fn audit_checkpoint(db: &str, signing_key: &str) -> anyhow::Result<ExitCode> {
    let key = crate::store::checkpoint::CheckpointKey::from_hex(signing_key)?;
    runtime()?.block_on(async {
        let store = crate::store::Store::open(db).await?;
        let (position, head) = store.head().await?;
        println!(
            "{}",
            key.sign(position, &head, chrono::Utc::now()).to_line()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `audit new-key`: a new signing key and its public half.
pub fn audit_new_key() -> anyhow::Result<ExitCode> {
    let seed = crate::store::checkpoint::CheckpointKey::generate_seed_hex()?;
    let key = crate::store::checkpoint::CheckpointKey::from_hex(&seed)?;
    println!("AUDIT_SIGNING_KEY={seed}");
    println!("public key: {}", key.public_key_hex());
    println!(
        "Set AUDIT_SIGNING_KEY in the service's environment (a secret, like the Slack signing secret) and give the public key to the board: `audit verify --public-key` checks checkpoints with it."
    );
    Ok(ExitCode::SUCCESS)
}

/// `db rebuild-projections`: recomputes every projection from the events.
pub fn rebuild_projections(db: &str) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = crate::store::Store::open(db).await?;
        let n = store.rebuild_projections().await?;
        println!("rebuilt the projections of {n} disputes from their events");
        Ok(ExitCode::SUCCESS)
    })
}

/// `directory check FILE`: the directory against itself and the policies; exit 1 on any problem.
pub fn directory_check(policies: &Path, file: &Path) -> anyhow::Result<ExitCode> {
    let set = load_policies(policies)?;
    let dir = crate::directory::Directory::load(file)?;
    let problems = crate::directory::check_directory(&dir, &set);
    if problems.is_empty() {
        println!(
            "{}: ok ({} agencies, {} people)",
            file.display(),
            dir.agencies().count(),
            dir.people().count()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("{}: {p}", file.display());
    }
    println!("{} problem(s) found", problems.len());
    Ok(ExitCode::from(1))
}

/// `directory links`: every chat identity linked by work email now (optionally one person's),
/// with when; one line each.
pub fn directory_links(db: &str, email: Option<&str>) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = crate::store::Store::open(db).await?;
        let mut now: BTreeMap<(String, String, String), crate::store::IdentityLink> =
            BTreeMap::new();
        for link in store.identity_links_since(0).await? {
            now.insert(
                (
                    link.platform.clone(),
                    link.workspace.clone(),
                    link.user.clone(),
                ),
                link,
            );
        }
        let wanted = email.map(crate::directory::normal_email);
        let mut shown = 0;
        for link in now.values() {
            let Some(linked) = &link.email else { continue };
            if wanted.as_ref().is_some_and(|w| w != linked) {
                continue;
            }
            shown += 1;
            println!(
                "{} {} {} -> {} (linked {} by {})",
                link.platform,
                link.workspace,
                link.user,
                linked,
                link.at.format("%Y-%m-%d %H:%M UTC"),
                link.by
            );
        }
        println!("{shown} link(s)");
        Ok(ExitCode::SUCCESS)
    })
}

/// `directory unlink PLATFORM WORKSPACE USER`: undoes a link (recorded, with who did it); the
/// person is asked to be matched again the next time they use the service.
pub fn directory_unlink(
    db: &str,
    platform: &str,
    workspace: &str,
    user: &str,
    by: &str,
) -> anyhow::Result<ExitCode> {
    let platform = match crate::directory::Platform::from_name(platform) {
        Some(p @ (crate::directory::Platform::Slack | crate::directory::Platform::Teams)) => p,
        _ => {
            anyhow::bail!("the platform must be `slack` or `teams`, as `directory links` shows it")
        }
    };
    if by.trim().is_empty() {
        anyhow::bail!("--by must name who is undoing the link, for the record");
    }
    runtime()?.block_on(async {
        let store = crate::store::Store::open(db).await?;
        let Some(email) = store
            .identity_link(&platform.to_string(), workspace, user)
            .await?
        else {
            println!(
                "{platform} {workspace} {user} is not linked to anyone; `directory links` lists the links"
            );
            return Ok(ExitCode::from(1));
        };
        store
            .link_identity(
                &platform.to_string(),
                workspace,
                user,
                None,
                &format!("unlinked by {}", by.trim()),
                chrono::Utc::now(),
            )
            .await?;
        println!(
            "unlinked {platform} {workspace} {user} from {email}; a running service takes it up within seconds"
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `serve`: runs the service until interrupted.
pub fn serve(config: crate::config::ServeConfig) -> anyhow::Result<ExitCode> {
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The sandbox runs on a demo clock that its page can move forward; everything else on real time.
    let clock: std::sync::Arc<dyn crate::service::Clock> = if config.sandbox {
        std::sync::Arc::new(crate::service::ManualClock::running())
    } else {
        std::sync::Arc::new(crate::service::SystemClock)
    };
    runtime
        .block_on(crate::web::serve(config, clock))
        .map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}

/// Logs to standard error; `RUST_LOG` filters (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only where a person reads a terminal; a log file or a collector gets plain text.
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// An error as one line for standard error: the message, then each cause that adds something,
/// separated by colons. A cause the message already quotes is not repeated.
pub fn report(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the scenario x.toml: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    fn not_found() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
    }

    #[test]
    fn a_report_gives_the_message_then_each_cause() {
        let error = anyhow::Error::new(not_found()).context("cannot read policies");
        assert_eq!(
            report(&error),
            "cannot read policies: No such file or directory"
        );
    }

    #[test]
    fn a_report_does_not_repeat_a_cause_the_message_already_quotes() {
        let error = anyhow::Error::new(Quoting {
            source: not_found(),
        });
        assert_eq!(
            report(&error),
            "cannot read the scenario x.toml: No such file or directory"
        );
    }
}
