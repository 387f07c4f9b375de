//! `escalation-bot bench write`: the write path under load. Raises many disputes, starts `serve`
//! as its own process on loopback (so its CPU time and memory are its own), then sends signed
//! `/challenge note REF …` commands from the parties to those disputes over real HTTP: first as
//! fast as 32 connections can (throughput), then paced at a fixed rate (latency). It prints
//! throughput, p50/p99/max acknowledgement latency, the server's CPU seconds and RSS (and on
//! PostgreSQL the database's CPU seconds, most of a note's cost there), and then,
//! after killing the server with SIGKILL, checks that every acknowledged note is in the record
//! exactly once.

use super::server::{Server, Setup, postgres_cpu, postgres_cpu_since};
use super::{ms, percentile, sign};
use axum::Router;
use axum::routing::post;
use chrono::Utc;
use clap::Args;
use escalation_bot::directory::{Directory, PersonId};
use escalation_bot::escalation::{Concerns, EventBody, RaiseDetails, Reference};
use escalation_bot::policy::PolicySet;
use escalation_bot::service::{Service, SystemClock};
use escalation_bot::store::Store;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

#[derive(Args)]
pub struct WriteArgs {
    /// Database URL: a SQLite file or `postgres://…`. Default: a new SQLite file in a temporary
    /// folder, removed afterwards. Each run raises its own disputes, so a used database is fine.
    #[arg(long)]
    db: Option<String>,
    /// Disputes the notes are spread over (1: every note on one dispute).
    #[arg(long, default_value_t = 200)]
    disputes: u32,
    /// Connections sending as fast as they are answered in the first run.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long each run lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Notes per second in the paced run (0: no paced run).
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Skip the run at full speed (only the paced run).
    #[arg(long)]
    paced_only: bool,
    /// Folder of policy files.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// The directory the parties come from.
    #[arg(long, default_value = "policies/demo/directory.toml")]
    directory: PathBuf,
}

const SECRET: &str = "bench-write-signing-secret";
/// The raising party (Norfolk Adult Social Care) and the receiving party (Norfolk Carers Network).
const PARTIES: [(&str, &str, &str, &str); 2] = [
    ("sam-patel", "T0NORFASC", "U000101", "C0ASCCHAL1"),
    ("vol-jones", "T0NORFVOL", "U000123", "C0VOLCHAL1"),
];

/// Runs `bench write`.
pub fn run(args: WriteArgs) -> Result<ExitCode, String> {
    if args.disputes == 0 || args.seconds == 0 || args.connections == 0 {
        return Err("--disputes, --seconds and --connections must be more than 0".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let folder = std::env::temp_dir().join(format!(
        "escalation-bot-bench-write-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    ));
    std::fs::create_dir_all(&folder)
        .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let url = args
        .db
        .clone()
        .unwrap_or_else(|| folder.join("bench.db").display().to_string());
    let outcome = runtime.block_on(bench(&args, &url, &folder));
    let _ = std::fs::remove_dir_all(&folder);
    outcome
}

/// What one run saw.
#[derive(Default)]
struct Run {
    /// Acknowledgement latency of every answered note, in microseconds.
    latencies: Vec<u64>,
    /// The second of the run each of those notes was sent in (paced: was due in), so a slow
    /// stretch shows where it falls, not only in the run's percentiles.
    seconds: Vec<u32>,
    /// Answers that were not "recorded", by what they said.
    other: BTreeMap<String, u64>,
    /// Notes acknowledged as recorded, by their marker.
    acked: Vec<String>,
}

/// A note's marker, unique in the run: what the record is searched for afterwards.
fn marker(run: u32, phase: char, n: u64) -> String {
    format!("bench{run:08x}{phase}{n}")
}

fn body(reference: &Reference, n: u64, marker: &str) -> String {
    let (_, team, user, channel) = PARTIES[(n % 2) as usize];
    let text = format!("note {reference} Spoke by phone; positions recorded ({marker}).");
    serde_urlencoded::to_string([
        ("token", "bench"),
        ("team_id", team),
        ("team_domain", "bench"),
        ("channel_id", channel),
        ("channel_name", "bench"),
        ("user_id", user),
        ("user_name", "bench"),
        ("command", "/challenge"),
        ("text", text.as_str()),
        ("api_app_id", "A0BENCH"),
        ("response_url", "https://hooks.slack.com/commands/bench"),
        ("trigger_id", format!("{marker}.trigger").as_str()),
    ])
    .unwrap_or_default()
}

/// Sends one signed note; `Ok(true)` when it was acknowledged as recorded.
async fn send(http: &reqwest::Client, url: &str, body: String) -> Result<bool, String> {
    let ts = Utc::now().timestamp().to_string();
    let answer = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", sign(SECRET, &ts, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timeout".to_string()
            } else {
                "transport error".to_string()
            }
        })?;
    let status = answer.status();
    let text = answer.text().await.map_err(|_| "transport error")?;
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if text.contains("Recorded on") {
        Ok(true)
    } else {
        Err(text.chars().take(80).collect())
    }
}

async fn bench(args: &WriteArgs, url: &str, folder: &std::path::Path) -> Result<ExitCode, String> {
    let references = seed(args, url).await?;
    let postgres = url.starts_with("postgres");
    println!(
        "bench write: {} disputes raised on {}",
        references.len(),
        if postgres { "postgres" } else { "sqlite" }
    );
    let slack = standin().await?;
    let mut server = Server::start(&Setup {
        url,
        slack: &slack,
        directory: &args.directory,
        policies: &args.policies,
        secret: SECRET,
        folder,
    })
    .await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(4096)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let endpoint = format!("{}/slack/commands", server.base);
    let references = Arc::new(references);
    let run = uuid::Uuid::new_v4().as_u128() as u32;
    let mut acked = Vec::new();

    if !args.paced_only {
        let cpu0 = server.cpu_seconds();
        let db0 = postgres.then(postgres_cpu);
        let started = Instant::now();
        let result = full_speed(args, &http, &endpoint, &references, run).await;
        let elapsed = started.elapsed();
        let cpu = server.cpu_seconds() - cpu0;
        let db = db0.as_ref().map(postgres_cpu_since);
        report(
            &format!(
                "full speed, {} connections for {} s",
                args.connections, args.seconds
            ),
            &result,
            elapsed,
            Cpu { server: cpu, db },
            &server,
        );
        acked.extend(result.acked);
    }
    if args.rate > 0 {
        let cpu0 = server.cpu_seconds();
        let db0 = postgres.then(postgres_cpu);
        let started = Instant::now();
        let result = paced(args, &http, &endpoint, &references, run).await;
        let elapsed = started.elapsed();
        let cpu = server.cpu_seconds() - cpu0;
        let db = db0.as_ref().map(postgres_cpu_since);
        report(
            &format!("paced, {} a second for {} s", args.rate, args.seconds),
            &result,
            elapsed,
            Cpu { server: cpu, db },
            &server,
        );
        acked.extend(result.acked);
    }
    server.kill();
    check(url, &references, &acked, run).await
}

/// Raises the disputes through the service, as a person would, before `serve` starts.
async fn seed(args: &WriteArgs, url: &str) -> Result<Vec<Reference>, String> {
    let policies = PolicySet::load_dir(&args.policies).map_err(|e| e.to_string())?;
    let directory = Directory::load(&args.directory).map_err(|e| e.to_string())?;
    let store = Store::open(url).await.map_err(|e| e.to_string())?;
    let service = Service::new(
        store,
        Arc::new(policies),
        Arc::new(directory),
        Arc::new(SystemClock),
    )
    .map_err(|e| e.to_string())?;
    let raiser = PersonId(PARTIES[0].0.into());
    let mut out = Vec::new();
    for n in 0..args.disputes {
        let details = RaiseDetails {
            receiving_agency: escalation_bot::directory::AgencyId("norfolk-carers".into()),
            other_professional: Some(PersonId(PARTIES[1].0.into())),
            concerns: Concerns::Adult,
            category: "outcomes-of-assessments".into(),
            summary: "Different views of the support plan after a carers' assessment.".into(),
            possible_cause: None,
            desired_outcome: "An agreed support plan.".into(),
            adults_views: None,
            case_reference: format!("ASC-B{n}"),
            immediate_risk: false,
            arose_at: None,
            delay_reason: None,
            notices: Default::default(),
        };
        let outcome = service
            .raise(&raiser, details, None, None)
            .await
            .map_err(|e| format!("cannot raise a dispute to write notes on: {e}"))?;
        out.push(outcome.reference);
    }
    Ok(out)
}

/// Slack's Web API for the delivery worker: accepts every call, so posts leave the outbox.
async fn standin() -> Result<String, String> {
    let app = Router::new().route(
        "/api/{method}",
        post(|| async {
            axum::Json(serde_json::json!({
                "ok": true, "ts": "1700000000.000100", "channel": { "id": "D0BENCH" },
                "view": { "id": "V0BENCH" }
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}/api/",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

async fn full_speed(
    args: &WriteArgs,
    http: &reqwest::Client,
    endpoint: &str,
    references: &Arc<Vec<Reference>>,
    run: u32,
) -> Run {
    let result = Arc::new(Mutex::new(Run::default()));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (http, endpoint, references, result, next) = (
            http.clone(),
            endpoint.to_string(),
            references.clone(),
            result.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let reference = &references[(n / 2) as usize % references.len()];
                let m = marker(run, 'f', n);
                let sent = Instant::now();
                let answer = send(&http, &endpoint, body(reference, n, &m)).await;
                let latency = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                let second = second_of(sent - start);
                result.lock().await.tally(answer, latency, second, m);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Arc::try_unwrap(result)
        .map(Mutex::into_inner)
        .unwrap_or_default()
}

/// Open-loop: note `n` is due at `start + n / rate`, and its latency counts from then.
async fn paced(
    args: &WriteArgs,
    http: &reqwest::Client,
    endpoint: &str,
    references: &Arc<Vec<Reference>>,
    run: u32,
) -> Run {
    let result = Arc::new(Mutex::new(Run::default()));
    let permits = Arc::new(Semaphore::new(2000));
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let total = u64::from(args.rate) * args.seconds;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            *result
                .lock()
                .await
                .other
                .entry("not sent (2000 in flight)".into())
                .or_default() += 1;
            continue;
        };
        let (http, endpoint, references, result) = (
            http.clone(),
            endpoint.to_string(),
            references.clone(),
            result.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let reference = &references[(n / 2) as usize % references.len()];
            let m = marker(run, 'p', n);
            let answer = send(&http, &endpoint, body(reference, n, &m)).await;
            let latency = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
            let second = second_of(due - start);
            result.lock().await.tally(answer, latency, second, m);
            drop(permit);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Arc::try_unwrap(result)
        .map(Mutex::into_inner)
        .unwrap_or_default()
}

impl Run {
    fn tally(&mut self, answer: Result<bool, String>, latency: u64, second: u32, marker: String) {
        self.latencies.push(latency);
        self.seconds.push(second);
        match answer {
            Ok(true) => self.acked.push(marker),
            Ok(false) => *self.other.entry("not recorded".into()).or_default() += 1,
            Err(e) => *self.other.entry(e).or_default() += 1,
        }
    }
}

/// CPU seconds a run used: the server's, and PostgreSQL's processes' where the record is there.
struct Cpu {
    server: f64,
    db: Option<f64>,
}

fn report(what: &str, run: &Run, elapsed: Duration, cpu: Cpu, server: &Server) {
    let Cpu { server: cpu, db } = cpu;
    let mut l = run.latencies.clone();
    l.sort_unstable();
    let secs = elapsed.as_secs_f64();
    let (rss, peak) = server.rss_mb();
    println!("{what}:");
    println!(
        "  recorded {} notes in {secs:.1} s: {:.0} a second",
        run.acked.len(),
        run.acked.len() as f64 / secs
    );
    println!(
        "  acknowledgement latency: p50 {}  p99 {}  max {}",
        ms(percentile(&l, 50.0)),
        ms(percentile(&l, 99.0)),
        ms(l.last().copied().unwrap_or(0))
    );
    println!(
        "  server CPU {cpu:.1} s ({:.0}% of one core, {:.2} ms a recorded note); RSS {rss:.0} MB now, {peak:.0} MB at peak",
        100.0 * cpu / secs,
        1000.0 * cpu / run.acked.len().max(1) as f64
    );
    if let Some(db) = db {
        println!(
            "  PostgreSQL CPU {db:.1} s ({:.0}% of one core, {:.2} ms a recorded note)",
            100.0 * db / secs,
            1000.0 * db / run.acked.len().max(1) as f64
        );
    }
    println!("  p99 by second: {}", by_second(run).join(" "));
    if !run.other.is_empty() {
        let other: Vec<String> = run.other.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        println!("  not recorded: {}", other.join("; "));
    }
}

fn second_of(since_start: Duration) -> u32 {
    u32::try_from(since_start.as_secs()).unwrap_or(u32::MAX)
}

/// The p99 of each second of the run, in ms, in order.
fn by_second(run: &Run) -> Vec<String> {
    let mut seconds: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (latency, second) in run.latencies.iter().zip(&run.seconds) {
        seconds.entry(*second).or_default().push(*latency);
    }
    seconds
        .into_values()
        .map(|mut l| {
            l.sort_unstable();
            format!("{:.1}", percentile(&l, 99.0) as f64 / 1000.0)
        })
        .collect()
}

/// Every acknowledged note is in the record exactly once.
async fn check(
    url: &str,
    references: &[Reference],
    acked: &[String],
    run: u32,
) -> Result<ExitCode, String> {
    // Give the killed server's file handles a moment to go.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let store = Store::open(url).await.map_err(|e| e.to_string())?;
    let prefix = format!("bench{run:08x}");
    let mut recorded: HashMap<String, u32> = HashMap::new();
    for reference in references {
        for event in store.events(reference).await.map_err(|e| e.to_string())? {
            if let EventBody::NoteAdded { text, .. } = &event.body
                && let Some(at) = text.find(&prefix)
            {
                let m: String = text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                *recorded.entry(m).or_default() += 1;
            }
        }
    }
    let acked: HashSet<&String> = acked.iter().collect();
    let missing = acked.iter().filter(|m| !recorded.contains_key(**m)).count();
    let twice = recorded.values().filter(|n| **n > 1).count();
    let unacked = recorded.keys().filter(|m| !acked.contains(m)).count();
    println!(
        "record check after SIGKILL: {} acknowledged, {missing} of them missing, {twice} recorded more than once; {unacked} recorded but not acknowledged (answered too late)",
        acked.len()
    );
    Ok(if missing == 0 && twice == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
