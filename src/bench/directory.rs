//! `escalation-bot bench directory`: a Board-sized directory (50,000 people in 300 agencies by
//! default) checked and imported from CSV into SQLite and, with `--db`, PostgreSQL, the way
//! `directory import` does it (the same steps, and the whole command as a process); taken up
//! by a running service, exported and imported again; and people looked up by work email and
//! by chat id at that size and at a hundredth of it.

use clap::Args;
use escalation_bot::cli::directory::{ImportTimings, import_people};
use escalation_bot::directory::{self, Directory, Person, SlackIdentity, TeamsIdentity};
use escalation_bot::policy::{BoardRole, PolicySet};
use escalation_bot::service::{Service, SystemClock};
use escalation_bot::store::Store;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// A database to import into as well as a temporary SQLite file, e.g.
    /// `postgres://postgres@127.0.0.1:5432/bench` (a new, empty database).
    #[arg(long)]
    db: Option<String>,
}

/// The directory file's agencies (with their domains) and a CSV of everyone in them.
fn generate(
    policies: &PolicySet,
    args: &DirectoryArgs,
) -> Result<(Directory, String, String), String> {
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
    Ok((base, toml, csv))
}

/// Nanoseconds per lookup over `n` lookups spread over everyone: by work email, by Slack id,
/// by Teams id.
fn lookups(dir: &Directory, n: usize) -> Result<[f64; 3], String> {
    let people: Vec<&Person> = dir.people().collect();
    let emails: Vec<String> = people.iter().filter_map(|p| p.email.clone()).collect();
    let slack: Vec<&SlackIdentity> = people.iter().filter_map(|p| p.slack.as_ref()).collect();
    let teams: Vec<&TeamsIdentity> = people.iter().filter_map(|p| p.teams.as_ref()).collect();
    if emails.is_empty() || slack.is_empty() || teams.is_empty() {
        return Err("the bench directory has nobody to look up".into());
    }
    let mut found = 0usize;
    let started = Instant::now();
    for i in 0..n {
        found += usize::from(dir.by_email(&emails[(i * 7919) % emails.len()]).is_some());
    }
    let by_email = started.elapsed().as_nanos() as f64 / n as f64;
    let started = Instant::now();
    for i in 0..n {
        let s = slack[(i * 7919) % slack.len()];
        found += usize::from(dir.by_slack(&s.workspace, &s.user).is_some());
    }
    let by_slack = started.elapsed().as_nanos() as f64 / n as f64;
    let started = Instant::now();
    for i in 0..n {
        let t = teams[(i * 7919) % teams.len()];
        found += usize::from(dir.by_teams(&t.tenant, &t.aad_object_id).is_some());
    }
    let by_teams = started.elapsed().as_nanos() as f64 / n as f64;
    if found != 3 * n {
        return Err(format!(
            "only {found} of {} lookups found their person",
            3 * n
        ));
    }
    Ok([by_email, by_slack, by_teams])
}

/// The directory with a Slack and a Teams identity for everyone, as linking would give them.
fn with_identities(dir: &Directory) -> Result<Directory, String> {
    let people: Vec<Person> = dir
        .people()
        .enumerate()
        .map(|(i, p)| {
            let mut p = p.clone();
            p.slack = Some(SlackIdentity {
                workspace: format!("T{}", p.agency),
                user: format!("U{i:08}"),
            });
            p.teams = Some(TeamsIdentity {
                tenant: format!("tenant-{}", p.agency),
                aad_object_id: format!("00000000-0000-4000-8000-{i:012}"),
            });
            p
        })
        .collect();
    dir.with_people(people).map_err(|e| e.to_string())
}

/// The CSV with one person in a hundred renamed and one in two hundred gone (never someone
/// others report to: the first ten of each agency stay): a typical month's export.
fn next_month(csv: &str) -> String {
    let mut out = String::with_capacity(csv.len());
    for (i, line) in csv.split_inclusive("\r\n").enumerate() {
        let in_agency: usize = line
            .strip_prefix("Person ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if i > 0 && i % 200 == 77 && in_agency >= 10 {
            continue;
        }
        if i > 0 && i % 100 == 50 {
            out.push_str("Renamed ");
        }
        out.push_str(line);
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn print_import(what: &str, timings: &ImportTimings) {
    let total = timings.read + timings.check + timings.write;
    println!(
        "  {what}: {} (read the directory in use {}, check {}, write {})   (target < 5 s)",
        secs(total),
        secs(timings.read),
        secs(timings.check),
        secs(timings.write)
    );
}

/// One import through the command's own steps; its timings.
async fn import(
    store: &Store,
    base: &Directory,
    policies: &PolicySet,
    csv: &str,
) -> Result<ImportTimings, String> {
    let imported = import_people(store, base, policies, csv, false, |_| {
        "bench import".to_string()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|problems| {
        problems
            .iter()
            .take(5)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    if imported.applied.is_none() {
        return Err(
            "the bench import changed nothing; give the bench a new, empty database".into(),
        );
    }
    Ok(imported.timings)
}

/// The whole `directory import` command as a process: start, policies, the file, the database.
fn import_command(files: &Path, policies: &Path, db: &str, csv: &Path) -> Result<Duration, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let started = Instant::now();
    let out = std::process::Command::new(exe)
        .arg("directory")
        .arg("import")
        .arg(csv)
        .arg("--db")
        .arg(db)
        .arg("--directory")
        .arg(files.join("directory.toml"))
        .arg("--policies")
        .arg(policies)
        .output()
        .map_err(|e| format!("cannot run directory import: {e}"))?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "directory import failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(took)
}

/// The bench on one database: import, re-import, the command, take-up, export and import again.
async fn on_database(
    db: &str,
    files: &Path,
    policies_dir: &Path,
    base: &Directory,
    policies: &Arc<PolicySet>,
    csv: &str,
) -> Result<Directory, String> {
    let store = Store::open(db).await.map_err(|e| e.to_string())?;
    if store
        .current_directory()
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err(format!(
            "{db} already holds a directory; give the bench a new, empty database"
        ));
    }
    println!("{}:", store.backend());
    let first = import(&store, base, policies, csv).await?;
    println!(
        "  check (parse, every rule, the whole directory): {}   (target < 2 s)",
        secs(first.check)
    );
    print_import("import into an empty directory", &first);
    let again = import(&store, base, policies, &next_month(csv)).await?;
    print_import(
        "import of next month's export (1% renamed, 0.5% left) over the 50,000",
        &again,
    );
    let csv_path = files.join("people.csv");
    std::fs::write(&csv_path, csv).map_err(|e| format!("cannot write the CSV: {e}"))?;
    let command = import_command(files, policies_dir, db, &csv_path)?;
    println!(
        "  the whole `directory import` command as a process (start, policies, file, check, write): {}   (target < 5 s)",
        secs(command)
    );

    let service = Service::new(
        store.clone(),
        policies.clone(),
        Arc::new(base.clone()),
        Arc::new(SystemClock),
    )
    .map_err(|e| e.to_string())?;
    let started = Instant::now();
    service
        .refresh_directory()
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "  take-up by a running service (read, index and keep the applied change): {}",
        secs(started.elapsed())
    );
    let in_use = service.directory();

    let started = Instant::now();
    let export = directory::csv::write(&in_use)?;
    let replan = directory::plan_import(&in_use, policies, &export)
        .map_err(|p| format!("the export does not import: {}", p[0]))?;
    println!(
        "  export and check again: {}, changes nothing: {}",
        secs(started.elapsed()),
        !replan.changes_anything()
    );
    Ok((*in_use).clone())
}

pub fn run(args: DirectoryArgs) -> Result<ExitCode, String> {
    let policies = Arc::new(PolicySet::load_dir(&args.policies).map_err(|e| e.to_string())?);
    let (base, toml, csv) = generate(&policies, &args)?;
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
    std::fs::write(temp.path().join("directory.toml"), &toml)
        .map_err(|e| format!("cannot write the directory file: {e}"))?;
    let sqlite = temp
        .path()
        .join("bench-directory.sqlite")
        .display()
        .to_string();
    let mut databases = vec![sqlite];
    databases.extend(args.db.clone());
    runtime.block_on(async {
        let mut in_use = None;
        for db in &databases {
            in_use = Some(on_database(db, temp.path(), &args.policies, &base, &policies, &csv).await?);
        }
        let in_use = in_use.ok_or("no database to import into")?;
        let big = with_identities(&in_use)?;
        let small_people: Vec<Person> = big
            .people()
            .take(big.people().count() / 100)
            .cloned()
            .collect();
        let small = big.with_people(small_people).map_err(|e| e.to_string())?;
        let [email_big, slack_big, teams_big] = lookups(&big, 1_000_000)?;
        let [email_small, slack_small, teams_small] = lookups(&small, 1_000_000)?;
        let (n_big, n_small) = (big.people().count(), small.people().count());
        println!("lookups (hash maps: the same time at any size):");
        println!(
            "  by work email: {email_big:.0} ns a call at {n_big} people, {email_small:.0} ns at {n_small}"
        );
        println!(
            "  by Slack id:   {slack_big:.0} ns a call at {n_big} people, {slack_small:.0} ns at {n_small}"
        );
        println!(
            "  by Teams id:   {teams_big:.0} ns a call at {n_big} people, {teams_small:.0} ns at {n_small}"
        );
        Ok(ExitCode::SUCCESS)
    })
}
