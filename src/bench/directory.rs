//! `escalation-bot bench directory`: a Board-sized directory (50,000 people in 300 agencies by
//! default) checked and imported from CSV into a real database, exported and imported again,
//! and people looked up by work email and by chat id at that size and at a hundredth of it.

use clap::Args;
use escalation_bot::directory::{self, Directory, Person, SlackIdentity};
use escalation_bot::policy::{BoardRole, PolicySet};
use escalation_bot::store::Store;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct DirectoryArgs {
    /// People in the CSV.
    #[arg(long, default_value_t = 50_000)]
    people: usize,
    /// Agencies they work in.
    #[arg(long, default_value_t = 300)]
    agencies: usize,
    /// The board whose ladders the agencies use.
    #[arg(long, default_value = "norfolk")]
    board: String,
    /// Folder of policy files.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// The database to import into (default: a temporary SQLite file).
    #[arg(long)]
    db: Option<String>,
}

/// The directory file's agencies (with their domains) and a CSV of everyone in them.
fn generate(policies: &PolicySet, args: &DirectoryArgs) -> Result<(Directory, String), String> {
    let policy = policies
        .get(&args.board)
        .ok_or_else(|| format!("no policy {:?} in {}", args.board, args.policies.display()))?;
    if policy.ladders.is_empty() {
        return Err(format!("the {} policy has no ladders", policy.id));
    }
    let unit = policy
        .board
        .rungs
        .iter()
        .find(|r| r.role == BoardRole::BusinessUnit)
        .ok_or_else(|| format!("the {} policy has no business unit rung", policy.id))?;
    let mut toml = format!(
        "[[agency]]\nid = \"bench-board\"\nname = \"Bench Board\"\nkind = \"board\"\nboard = \"{}\"\ndomains = [\"board.example\"]\n\n",
        policy.id
    );
    let mut csv = String::from("name,email,agency,role,manager_email\r\n");
    let _ = write!(
        csv,
        "Board Unit,unit@board.example,bench-board,{},\r\n",
        unit.id
    );
    let agencies = args.agencies.max(1);
    let staff = args.people.saturating_sub(1);
    for a in 0..agencies {
        let per = (staff / agencies + usize::from(a < staff % agencies)).max(1);
        let ladder = &policy.ladders[a % policy.ladders.len()];
        let _ = write!(
            toml,
            "[[agency]]\nid = \"a{a}\"\nname = \"Agency {a}\"\nkind = \"{}\"\nboard = \"{}\"\ndomains = [\"a{a}.example\"]\n\n",
            ladder.kind, policy.id
        );
        let mut rungs: Vec<_> = ladder.rungs.iter().collect();
        rungs.sort_by_key(|r| std::cmp::Reverse(r.level));
        // One person on each rung from the top down, each reporting to the one above; everyone
        // else on the lowest rung, reporting to the person on the rung above it.
        for i in 0..per {
            let rung = rungs[i.min(rungs.len() - 1)];
            let manager = match i {
                0 => String::new(),
                i if i < rungs.len() => format!("p{}@a{a}.example", i - 1),
                _ => format!("p{}@a{a}.example", rungs.len().saturating_sub(2)),
            };
            let _ = write!(
                csv,
                "Person {i} of {a},p{i}@a{a}.example,a{a},{},{manager}\r\n",
                rung.id
            );
        }
    }
    let base = Directory::from_toml("the bench directory", &toml).map_err(|e| e.to_string())?;
    Ok((base, csv))
}

/// Nanoseconds per lookup over `n` lookups spread over everyone.
fn lookups(dir: &Directory, n: usize) -> (f64, f64) {
    let people: Vec<&Person> = dir.people().collect();
    let emails: Vec<String> = people.iter().filter_map(|p| p.email.clone()).collect();
    let slack: Vec<(String, String)> = people
        .iter()
        .filter_map(|p| p.slack.as_ref())
        .map(|s| (s.workspace.clone(), s.user.clone()))
        .collect();
    let mut found = 0usize;
    let started = Instant::now();
    for i in 0..n {
        found += usize::from(dir.by_email(&emails[(i * 7919) % emails.len()]).is_some());
    }
    let by_email = started.elapsed().as_nanos() as f64 / n as f64;
    let started = Instant::now();
    for i in 0..n {
        let (w, u) = &slack[(i * 7919) % slack.len()];
        found += usize::from(dir.by_slack(w, u).is_some());
    }
    let by_slack = started.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(found, 2 * n, "every lookup finds its person");
    (by_email, by_slack)
}

/// The directory with a Slack identity for everyone, as linking would give them.
fn with_slack(dir: &Directory) -> Result<Directory, String> {
    let people: Vec<Person> = dir
        .people()
        .enumerate()
        .map(|(i, p)| {
            let mut p = p.clone();
            p.slack = Some(SlackIdentity {
                workspace: format!("T{}", p.agency),
                user: format!("U{i:08}"),
            });
            p
        })
        .collect();
    dir.with_people(people).map_err(|e| e.to_string())
}

pub fn run(args: DirectoryArgs) -> Result<ExitCode, String> {
    let policies = PolicySet::load_dir(&args.policies).map_err(|e| e.to_string())?;
    let (base, csv) = generate(&policies, &args)?;
    let rows = csv.lines().count() - 1;
    println!(
        "directory of {rows} people in {} agencies ({} KB of CSV)",
        base.agencies().count() - 1,
        csv.len() / 1024
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let temp = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let db = args.db.clone().unwrap_or_else(|| {
        temp.path()
            .join("bench-directory.sqlite")
            .display()
            .to_string()
    });
    runtime.block_on(async {
        let store = Store::open(&db).await.map_err(|e| e.to_string())?;

        let started = Instant::now();
        let plan = directory::plan_import(&base, &policies, &csv).map_err(|problems| {
            problems
                .iter()
                .take(5)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        let checked = started.elapsed();
        let content = plan.directory.to_stored();
        store
            .apply_directory(&content, "bench import", chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        let imported = started.elapsed();
        println!(
            "check (parse, every rule, the whole directory): {:.3} s   (target < 2 s)",
            checked.as_secs_f64()
        );
        println!(
            "import (check, then one recorded change of {} KB in {}): {:.3} s   (target < 5 s)",
            content.len() / 1024,
            store.backend(),
            imported.as_secs_f64()
        );
        println!(
            "  added {}, changed {}, left {}",
            plan.added.len(),
            plan.changed.len(),
            plan.left.len()
        );

        let started = Instant::now();
        let (_, stored) = store
            .current_directory()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the applied change is not in the store")?;
        let in_use = Directory::from_stored("stored", &stored)
            .map_err(|e| e.to_string())?
            .with_agencies_of(&base);
        println!(
            "take-up by a running service (read and index the applied change): {:.3} s",
            started.elapsed().as_secs_f64()
        );

        let started = Instant::now();
        let export = directory::csv::write(&in_use)?;
        let again = directory::plan_import(&in_use, &policies, &export)
            .map_err(|p| format!("the export does not import: {}", p[0]))?;
        println!(
            "export and import again: {:.3} s, changes nothing: {}",
            started.elapsed().as_secs_f64(),
            !again.changes_anything()
        );

        let big = with_slack(&in_use)?;
        let small_people: Vec<Person> = big
            .people()
            .take(big.people().count() / 100)
            .cloned()
            .collect();
        let small = big.with_people(small_people).map_err(|e| e.to_string())?;
        let (email_big, slack_big) = lookups(&big, 1_000_000);
        let (email_small, slack_small) = lookups(&small, 1_000_000);
        println!(
            "lookup by work email: {email_big:.0} ns at {} people, {email_small:.0} ns at {}",
            big.people().count(),
            small.people().count()
        );
        println!(
            "lookup by Slack id:   {slack_big:.0} ns at {} people, {slack_small:.0} ns at {}",
            big.people().count(),
            small.people().count()
        );
        Ok(ExitCode::SUCCESS)
    })
}
