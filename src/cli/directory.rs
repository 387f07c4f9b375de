//! `directory import` and `export`: a CSV of people checked against the directory in use and
//! applied as one recorded change. The steps are written once here, for the command and for
//! `bench directory`, which times them.

use super::{load_policies, runtime};
use crate::directory::{Directory, ImportPlan, ImportProblem, plan_import};
use crate::policy::PolicySet;
use crate::store::{Store, StoreError};
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How many times an import is checked again when another change (a channel connected from
/// the chat, another import) was applied while it was being checked.
const RECHECKS: u32 = 5;

pub use crate::service::directory_in_use;

/// Where `directory import` and `export` find the directory in use.
pub struct DirectorySources<'a> {
    pub db: &'a str,
    pub policies: &'a Path,
    /// The directory file: its agencies (their domains and channels) are the ones in use.
    pub directory: &'a Path,
}

/// How long each step of an import took (the last time it was checked, when checked again).
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportTimings {
    /// Reading the directory in use from the database and indexing it.
    pub read: Duration,
    /// Reading the CSV and checking it, row by row and as a whole directory.
    pub check: Duration,
    /// Writing the next directory as one recorded change.
    pub write: Duration,
}

/// What one import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub plan: ImportPlan,
    /// The directory change it was applied as; `None` for a dry run or a file that changes
    /// nothing.
    pub applied: Option<i64>,
    /// The changes applied while it was being checked, on which it was checked again.
    pub rechecked_on: Vec<i64>,
    pub timings: ImportTimings,
}

/// Checks `text` against the directory in use and, unless `dry_run` or it changes nothing,
/// applies it as one recorded change named by `summary_of(plan)`. A change applied meanwhile
/// (a channel connected from the chat) is taken up and the file checked again on it, so the
/// import never undoes it. `Ok(Err(problems))`: the file has problems; nothing was applied.
pub async fn import_people(
    store: &Store,
    file: &Directory,
    policies: &PolicySet,
    text: &str,
    dry_run: bool,
    summary_of: impl Fn(&ImportPlan) -> String,
) -> anyhow::Result<Result<Imported, Vec<ImportProblem>>> {
    let mut rechecked_on = Vec::new();
    loop {
        let started = Instant::now();
        let (based_on, current) = directory_in_use(store, file).await?;
        let read = started.elapsed();
        let started = Instant::now();
        let plan = match plan_import(&current, policies, text) {
            Ok(plan) => plan,
            Err(problems) => return Ok(Err(problems)),
        };
        let check = started.elapsed();
        let mut timings = ImportTimings {
            read,
            check,
            write: Duration::ZERO,
        };
        if dry_run || !plan.changes_anything() {
            return Ok(Ok(Imported {
                plan,
                applied: None,
                rechecked_on,
                timings,
            }));
        }
        let started = Instant::now();
        let applied = store
            .apply_directory(
                &plan.directory.to_stored(),
                &summary_of(&plan),
                based_on,
                chrono::Utc::now(),
            )
            .await;
        timings.write = started.elapsed();
        match applied {
            Ok(seq) => {
                return Ok(Ok(Imported {
                    plan,
                    applied: Some(seq),
                    rechecked_on,
                    timings,
                }));
            }
            Err(StoreError::DirectoryChanged { newest, .. })
                if rechecked_on.len() < RECHECKS as usize =>
            {
                rechecked_on.push(newest);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// At most `n` items and how many more there are, for a summary that stays readable.
fn some_of(items: &[String], n: usize) -> String {
    let shown: Vec<&str> = items.iter().take(n).map(String::as_str).collect();
    match items.len().saturating_sub(n) {
        0 => shown.join(", "),
        more => format!("{}, and {more} more", shown.join(", ")),
    }
}

/// `directory import FILE.csv`: checks the file as a whole against the directory in use and
/// the policies; prints each problem by line and applies nothing (exit 1), or prints what
/// changes and applies it as one recorded directory change (nothing with `--dry-run`).
pub fn directory_import(
    src: &DirectorySources<'_>,
    file: &Path,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let set = load_policies(src.policies)?;
    let base = Directory::load(src.directory)?;
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the directory CSV {}", file.display()))?;
    runtime()?.block_on(async {
        let store = Store::open(src.db).await?;
        let summary_of = |plan: &ImportPlan| {
            format!(
                "import of {}: {} added, {} changed, {} left",
                file.display(),
                plan.added.len(),
                plan.changed.len(),
                plan.left.len()
            )
        };
        let imported = match import_people(&store, &base, &set, &text, dry_run, summary_of).await? {
            Ok(imported) => imported,
            Err(problems) => {
                for p in &problems {
                    println!("{}: {p}", file.display());
                }
                println!(
                    "{} problem(s) found; nothing was applied. Correct the file and import it again.",
                    problems.len()
                );
                return Ok(ExitCode::from(1));
            }
        };
        let plan = &imported.plan;
        for (word, list) in [
            ("added", &plan.added),
            ("changed", &plan.changed),
            ("left", &plan.left),
        ] {
            if list.is_empty() {
                println!("{word} 0");
            } else {
                println!("{word} {}: {}", list.len(), some_of(list, 10));
            }
        }
        println!("unchanged {}", plan.unchanged);
        for seq in &imported.rechecked_on {
            println!(
                "directory change {seq} was applied while the file was being checked; checked again on it, and it is kept"
            );
        }
        match imported.applied {
            None if dry_run => println!("dry run: the file is valid; nothing was applied"),
            None => println!("nothing to apply: the directory in use already says this"),
            Some(seq) => println!(
                "applied as directory change {seq}; a running service takes it up within seconds, without a restart"
            ),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `directory export`: the directory in use as the CSV `import` reads, to standard output.
/// Channels connected from the chat are not people, so they are not in it: they stay with the
/// directory in use, and importing the export again keeps them.
pub fn directory_export(src: &DirectorySources<'_>) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let base = Directory::load(src.directory)?;
    let text = runtime()?.block_on(async {
        let store = Store::open(src.db).await?;
        let (_, dir) = directory_in_use(&store, &base).await?;
        crate::directory::csv::write(&dir).map_err(anyhow::Error::msg)
    })?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write to standard output")?;
    Ok(ExitCode::SUCCESS)
}
