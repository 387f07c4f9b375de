//! `escalation-bot bench backlog`: what a paced backlog costs while it waits. Raises challenges
//! and adds notes until the outbox holds `--posts` posts for the two Norfolk agencies' Slack
//! channels (and their people's direct messages), then starts `serve` as its own process
//! against a stand-in Slack on loopback that allows one post a second per channel. At that pace
//! the backlog takes hours; no requests arrive. After a settling period (each thread's first
//! post books its channel slot once), it measures the server's CPU seconds and memory over
//! `--seconds` and prints them with the posts made meanwhile.

use super::delivery::slack_standin;
use super::server::{Server, Setup};
use chrono::Utc;
use clap::Args;
use escalation_bot::directory::Directory;
use escalation_bot::policy::PolicySet;
use escalation_bot::service::{Service, SystemClock};
use escalation_bot::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BacklogArgs {
    /// Database URL: a SQLite file or `postgres://…` (use a new, empty database: every pending
    /// post in it counts towards the backlog). Default: a new SQLite file in a temporary
    /// folder, removed afterwards.
    #[arg(long)]
    db: Option<String>,
    /// Posts to queue before `serve` starts (at least).
    #[arg(long, default_value_t = 10_000)]
    posts: i64,
    /// Notes added to each challenge (each is a reply in both agencies' threads).
    #[arg(long, default_value_t = 3)]
    notes: u32,
    /// How long to let `serve` settle before measuring.
    #[arg(long, default_value_t = 20)]
    settle: u64,
    /// How long to measure.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Folder of policy files.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// The directory (its Norfolk agencies on Slack are used).
    #[arg(long, default_value = "policies/demo/directory.toml")]
    directory: PathBuf,
}

const SECRET: &str = "bench-backlog-signing-secret";

/// Challenges raised at once while queueing (the service commits them in groups).
const RAISERS: u32 = 16;

/// Runs `bench backlog`.
pub fn run(args: BacklogArgs) -> Result<ExitCode, String> {
    if args.posts <= 0 || args.seconds == 0 {
        return Err("--posts and --seconds must be more than 0".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let folder = tempfile::tempdir().map_err(|e| format!("cannot make a folder: {e}"))?;
    let url = args
        .db
        .clone()
        .unwrap_or_else(|| folder.path().join("bench.db").display().to_string());
    runtime.block_on(bench(&args, &url, folder.path()))
}

async fn bench(
    args: &BacklogArgs,
    url: &str,
    folder: &std::path::Path,
) -> Result<ExitCode, String> {
    let store = Store::open(url).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let disputes = queue(args, store.clone()).await?;
    let queued = pending(&store).await?;
    println!(
        "bench backlog: {queued} posts queued on {} ({disputes} challenges with {} notes each, in {:.1} s)",
        store.backend(),
        args.notes,
        started.elapsed().as_secs_f64()
    );

    let plan = store
        .explain_outbox(Utc::now(), 25)
        .await
        .map_err(|e| e.to_string())?;
    println!("  how the database runs the outbox's queries:");
    for line in plan {
        println!("    {line}");
    }

    let (slack, addr) = slack_standin().await?;
    let slack_base = format!("http://{addr}/api/");
    let mut server = Server::start(&Setup {
        url,
        slack: &slack_base,
        directory: &args.directory,
        policies: &args.policies,
        secret: SECRET,
        folder,
    })
    .await?;
    let posts = || slack.lock().unwrap_or_else(|p| p.into_inner()).posts.len();

    let cpu0 = server.cpu_seconds();
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let cpu1 = server.cpu_seconds();
    println!(
        "  settling, {} s: server CPU {:.2} s ({:.1}% of one core); {} posts made",
        args.settle,
        cpu1 - cpu0,
        100.0 * (cpu1 - cpu0) / args.settle.max(1) as f64,
        posts()
    );

    let before = pending(&store).await?;
    let made0 = posts();
    let cpu0 = server.cpu_seconds();
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let cpu = server.cpu_seconds() - cpu0;
    let secs = window.elapsed().as_secs_f64();
    let made = posts() - made0;
    let (rss, peak) = server.rss_mb();
    let after = pending(&store).await?;
    println!(
        "  waiting with the backlog, {secs:.0} s, no requests: server CPU {cpu:.2} s ({:.2}% of one core); RSS {rss:.0} MB now, {peak:.0} MB at peak",
        100.0 * cpu / secs
    );
    let mut channels: Vec<String> = slack
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .posts
        .iter()
        .map(|p| p.channel.clone())
        .collect();
    channels.sort();
    channels.dedup();
    println!(
        "  posts made meanwhile: {made} ({:.1} a second, into {} channels and conversations); queued {before} before, {after} after",
        made as f64 / secs,
        channels.len()
    );
    server.kill();
    Ok(ExitCode::SUCCESS)
}

async fn pending(store: &Store) -> Result<i64, String> {
    Ok(store
        .outbox_depth()
        .await
        .map_err(|e| e.to_string())?
        .pending)
}

/// Raises challenges between Norfolk Adult Social Care and Norfolk Carers Network, with notes,
/// until the outbox holds `--posts` posts; returns how many challenges.
async fn queue(args: &BacklogArgs, store: Store) -> Result<u32, String> {
    let policies = PolicySet::load_dir(&args.policies).map_err(|e| e.to_string())?;
    let directory = Directory::load(&args.directory).map_err(|e| e.to_string())?;
    let service = Arc::new(
        Service::new(
            store.clone(),
            Arc::new(policies),
            Arc::new(directory),
            Arc::new(SystemClock),
        )
        .map_err(|e| e.to_string())?,
    );
    let mut raised = 0u32;
    while pending(&store).await? < args.posts {
        let mut tasks = Vec::new();
        for k in 0..RAISERS {
            let service = service.clone();
            let n = raised + k;
            let notes = args.notes;
            tasks.push(tokio::spawn(async move {
                super::delivery::raise_with_notes(&service, n, notes).await
            }));
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        raised += RAISERS;
    }
    Ok(raised)
}
