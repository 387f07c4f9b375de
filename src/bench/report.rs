//! `bench report`: the Board's view at scale. Loads a store with many disputes (the five demo
//! scenarios, copied with new references and shifted dates, padded with notes to the events per
//! dispute asked for), then times over real HTTP what a business unit does: the log page, its CSV
//! export, and a year's statistics page.

use super::{ms, percentile};
use chrono::{Duration, Utc};
use clap::{Args, Parser};
use escalation_bot::config::ServeConfig;
use escalation_bot::delivery::WorkerConfig;
use escalation_bot::directory::PersonId;
use escalation_bot::escalation::{Dispute, Event, EventBody, Reference};
use escalation_bot::policy::PolicySet;
use escalation_bot::service::SystemClock;
use escalation_bot::simulate::{self, Scenario};
use escalation_bot::store::{Batch, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct ReportArgs {
    /// Database URL: a SQLite file or `postgres://…` (use a new, empty database). Default: a new
    /// SQLite file in a temporary folder, removed afterwards.
    #[arg(long)]
    db: Option<String>,
    /// Disputes to load, spread over the five boards and two years.
    #[arg(long, default_value_t = 100_000)]
    disputes: u32,
    /// Events to load in all (padded with notes per dispute).
    #[arg(long, default_value_t = 2_000_000)]
    events: u64,
    /// How many times to time each request.
    #[arg(long, default_value_t = 5)]
    samples: u32,
    /// Folder of policy files.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// The demo scenarios' folder (and their directory).
    #[arg(long, default_value = "policies/demo")]
    demo: PathBuf,
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeConfig,
}

const CHUNK: usize = 2_000;

/// Runs `bench report`.
pub fn run(args: ReportArgs) -> Result<ExitCode, String> {
    if args.disputes == 0 || args.samples == 0 || args.events < u64::from(args.disputes) {
        return Err(
            "--disputes and --samples must be more than 0, and --events at least --disputes".into(),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let (url, folder) = match &args.db {
        Some(url) => (url.clone(), None),
        None => {
            let folder = std::env::temp_dir().join(format!(
                "escalation-bot-bench-report-{}-{}",
                std::process::id(),
                Utc::now().timestamp_micros()
            ));
            std::fs::create_dir_all(&folder)
                .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
            (folder.join("bench.db").display().to_string(), Some(folder))
        }
    };
    let outcome = runtime.block_on(bench(&args, &url));
    if let Some(folder) = folder {
        let _ = std::fs::remove_dir_all(folder);
    }
    outcome
}

/// The five scenarios' disputes, recorded once through the core: the templates to copy.
async fn templates(
    args: &ReportArgs,
    url: &str,
    store: &Store,
    policies: &PolicySet,
) -> Result<Vec<(String, Vec<Event>)>, String> {
    let mut out = Vec::new();
    for board in [
        "cambridgeshire-peterborough",
        "durham",
        "norfolk",
        "rochdale",
        "sunderland",
    ] {
        let path = args.demo.join(format!("{board}-scenario.toml"));
        let scenario = Scenario::load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        simulate::run(&scenario, policies, Some(url))
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let prefix = &policies
            .get(board)
            .ok_or("a seed board is missing")?
            .reference_prefix;
        let year = scenario
            .steps
            .first()
            .map_or(2026, |s| escalation_bot::calendar::local_year(s.at));
        let reference = Reference::new(prefix, year, 1);
        let events = store.events(&reference).await.map_err(|e| e.to_string())?;
        out.push((prefix.clone(), events));
    }
    Ok(out)
}

/// Dispute `n`: a template with a new reference, moved `n` days on (over two years), padded.
fn copy(template: &[Event], prefix: &str, n: u32, per_dispute: usize) -> (Reference, Batch) {
    let shift = Duration::days(i64::from(n % 730));
    let year = 2026 + i32::try_from(n % 730 / 365).unwrap_or(0);
    let reference = Reference::new(prefix, year, n + 10);
    let mut events: Vec<Event> = template
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.at += shift;
            if let EventBody::Raised { reference: r, .. } = &mut e.body {
                *r = reference.clone();
            }
            e
        })
        .collect();
    let last = events.last().cloned();
    while events.len() < per_dispute {
        if let Some(l) = &last {
            events.push(Event {
                at: l.at,
                actor: l.actor.clone(),
                directory: None,
                body: EventBody::NoteAdded {
                    text: "Discussed again; both agencies' positions recorded.".into(),
                    how: None,
                    held_at: None,
                },
            });
        }
    }
    let after = Dispute::from_events(&events);
    (
        reference,
        Batch {
            events,
            after: Some(after),
            ..Batch::default()
        },
    )
}

async fn bench(args: &ReportArgs, url: &str) -> Result<ExitCode, String> {
    let policies = PolicySet::load_dir(&args.policies).map_err(|e| e.to_string())?;
    let store = Store::open(url).await.map_err(|e| e.to_string())?;
    let templates = templates(args, url, &store, &policies).await?;
    let per_dispute = usize::try_from(args.events / u64::from(args.disputes)).unwrap_or(20);
    let started = Instant::now();
    let mut loaded = 0u64;
    let mut chunk = Vec::with_capacity(CHUNK);
    for n in 0..args.disputes {
        let (prefix, template) = &templates[n as usize % templates.len()];
        let (r, b) = copy(template, prefix, n / 5, per_dispute);
        loaded += b.events.len() as u64;
        chunk.push((r, b));
        if chunk.len() == CHUNK {
            store
                .append_new_many(std::mem::take(&mut chunk))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    if !chunk.is_empty() {
        store
            .append_new_many(chunk)
            .await
            .map_err(|e| e.to_string())?;
    }
    println!(
        "loaded {} disputes, {loaded} events on {} in {:.1} s",
        args.disputes,
        store.backend(),
        started.elapsed().as_secs_f64()
    );
    drop(store);

    let mut config = Flags::try_parse_from(["escalation-bot"])
        .map_err(|e| e.to_string())?
        .serve;
    config.database_url = url.to_string();
    config.policies = args.policies.clone();
    config.directory = args.demo.join("directory.toml");
    let built =
        escalation_bot::web::build(&config, Arc::new(SystemClock), WorkerConfig::default()).await?;
    let session = built
        .service
        .start_session(&PersonId("durham-unit".into()))
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the demo directory's DSAP business unit may see the Board view")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, built.router).await;
    });
    let http = reqwest::Client::new();
    let cookie = format!("board_session={}", session.token);
    let year = "from=2026-04-01&to=2027-03-31";
    for (what, path) in [
        (
            "log page, a year of one board",
            format!("/board/log?{year}"),
        ),
        (
            "log page, a year, filtered to resolved",
            format!("/board/log?{year}&state=resolved"),
        ),
        ("log CSV export, a year", format!("/board/log.csv?{year}")),
        (
            "statistics page (charts), a year",
            format!("/board/stats?{year}"),
        ),
        ("statistics CSV, a year", format!("/board/stats.csv?{year}")),
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..args.samples {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status();
            let body = r.bytes().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("{path} answered {status}"));
            }
            bytes = body.len();
            times.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
        times.sort_unstable();
        println!(
            "{what}: median {}, p90 {}, max {} ({} KB)",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(*times.last().unwrap_or(&0)),
            bytes / 1024
        );
    }
    Ok(ExitCode::SUCCESS)
}
