//! `escalation-bot bench slack`: signed `/challenge` slash commands at a steady rate against a
//! running `serve`, then the acknowledgement latency (p50, p99, max), the throughput achieved
//! and the errors.
//!
//! The load is open-loop: request *n* is due at `start + n / rate` whether or not earlier ones
//! have been answered, and its latency is measured from when it was due, so a server that falls
//! behind shows it in the figures instead of quietly slowing the generator down. Each request
//! is signed at the moment it is sent (Slack's v0 HMAC over the raw body) and carries a fresh
//! `trigger_id`, as Slack's would.

mod backlog;
mod delivery;
mod directory;
mod report;
mod scheduler;
mod screen;
mod server;
mod teams;
mod write;

use clap::{Args, Subcommand};
use escalation_bot::config::Secret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Send signed `/challenge help` and `/challenge list` commands to `serve`'s Slack endpoint.
    Slack(SlackArgs),
    /// Time the scheduler's tick with 100,000 open disputes' schedule rows in the database.
    Scheduler(scheduler::SchedulerArgs),
    /// Send Teams activities with Bot Framework JWTs (from the bench's own keys) to `/api/messages`.
    Teams(teams::TeamsArgs),
    /// Time the privacy screen (µs per KB) and measure it on the labelled corpus.
    Screen(screen::ScreenArgs),
    /// Time the Board's view (log page, CSV export, a year's statistics) at 100,000 disputes.
    Report(report::ReportArgs),
    /// Leave `serve` with a paced backlog of 10,000 posts and no requests: its CPU and memory
    /// while it waits.
    Backlog(backlog::BacklogArgs),
    /// Take Slack down while challenges are raised, bring it back, and time the backlog's drain.
    Delivery(delivery::DeliveryArgs),
    /// Send signed notes from the parties to many disputes to a `serve` it starts: throughput,
    /// acknowledgement latency, CPU and memory, and a check of the record afterwards.
    Write(write::WriteArgs),
    /// Check and import a CSV of 50,000 people in 300 agencies; time lookups by email and chat id.
    Directory(directory::DirectoryArgs),
}

#[derive(Args)]
pub struct SlackArgs {
    /// The running service, e.g. `http://127.0.0.1:8080`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The signing secret `serve` was started with.
    #[arg(
        long = "signing-secret",
        env = "SLACK_SIGNING_SECRET",
        hide_env_values = true
    )]
    signing_secret: Secret,
    /// Commands per second.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// How long to send for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Slack workspace the commands come from (a directory workspace).
    #[arg(long, default_value = "T0NORFASC")]
    team: String,
    /// Slack user sending them (a directory person).
    #[arg(long, default_value = "U000101")]
    user: String,
    /// Channel they are typed in.
    #[arg(long, default_value = "C0ASCCHAL1")]
    channel: String,
    /// Also send `note REF …` (a write: an event and its posts) as every third command.
    #[arg(long, requires = "reference")]
    mix: bool,
    /// The challenge the `--mix` notes go on (the user must be able to act on it).
    #[arg(long)]
    reference: Option<String>,
    /// Most requests in flight at once; a request due when all are busy is counted as not sent.
    #[arg(long, default_value_t = 2000)]
    concurrency: usize,
}

#[derive(Default)]
struct Tally {
    /// Latency in microseconds of every answered request, from when it was due.
    latencies: Vec<u64>,
    /// The same, by subcommand (`help`, `list`, `note`).
    by_command: std::collections::BTreeMap<&'static str, Vec<u64>>,
    /// Answered, by HTTP status.
    statuses: std::collections::BTreeMap<u16, u64>,
    /// Transport errors by kind.
    errors: std::collections::BTreeMap<String, u64>,
    /// What the `--mix` notes were answered: recorded, refused as busy, or failed.
    notes: std::collections::BTreeMap<&'static str, u64>,
}

/// What the ephemeral answer to a note says happened.
fn note_outcome(body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(body);
    if text.contains("Recorded on") {
        "recorded"
    } else if text.contains("changing too fast") {
        "busy (conflicting writes)"
    } else if text.contains("could not be recorded") {
        "store error"
    } else {
        "other answer"
    }
}

fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body.as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn text_for(n: u64, args: &SlackArgs) -> String {
    match (args.mix, &args.reference) {
        (true, Some(reference)) if n % 3 == 2 => format!("note {reference} Load test note {n}."),
        _ if n.is_multiple_of(2) => "help".to_string(),
        _ => "list".to_string(),
    }
}

fn body_for(n: u64, args: &SlackArgs, run: u128) -> String {
    let trigger = format!("{n}.{run}.bench{n:016x}");
    serde_urlencoded::to_string([
        ("token", "bench"),
        ("team_id", args.team.as_str()),
        ("team_domain", "bench"),
        ("channel_id", args.channel.as_str()),
        ("channel_name", "bench"),
        ("user_id", args.user.as_str()),
        ("user_name", "bench"),
        ("command", "/challenge"),
        ("text", text_for(n, args).as_str()),
        ("api_app_id", "A0BENCH"),
        ("response_url", "https://hooks.slack.com/commands/bench"),
        ("trigger_id", trigger.as_str()),
    ])
    .unwrap_or_default()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// Runs `bench slack`.
pub fn run(command: BenchCommand) -> Result<ExitCode, String> {
    let args = match command {
        BenchCommand::Slack(args) => args,
        BenchCommand::Scheduler(args) => return scheduler::run(args),
        BenchCommand::Teams(args) => return teams::run(args),
        BenchCommand::Screen(args) => return screen::run(args),
        BenchCommand::Report(args) => return report::run(args),
        BenchCommand::Delivery(args) => return delivery::run(args),
        BenchCommand::Backlog(args) => return backlog::run(args),
        BenchCommand::Write(args) => return write::run(args),
        BenchCommand::Directory(args) => return directory::run(args),
    };
    if args.rate == 0 || args.seconds == 0 {
        return Err("--rate and --seconds must be more than 0".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(slack(args))
}

async fn slack(args: SlackArgs) -> Result<ExitCode, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let url = format!("{}/slack/commands", args.url.trim_end_matches('/'));

    // One unmeasured request first: the service is up, the secret and the user are right.
    let probe = body_for(0, &args, 0);
    let ts = chrono::Utc::now().timestamp().to_string();
    let answer = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header(
            "x-slack-signature",
            sign(args.signing_secret.expose(), &ts, &probe),
        )
        .body(probe)
        .send()
        .await
        .map_err(|e| format!("{url} cannot be reached: {e}"))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "{url} answered {status} to a signed command: check --signing-secret"
        ));
    }
    if !text.contains("How to use /challenge") {
        return Err(format!(
            "{url} did not answer `/challenge help` with the help text (is {} in {} in the directory?): {text}",
            args.user, args.team
        ));
    }

    let args = Arc::new(args);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let not_sent = Arc::new(AtomicU64::new(0));
    let total = u64::from(args.rate) * args.seconds;
    let run = u128::from(uuid::Uuid::new_v4().as_u128() as u32);
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 1..=total {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            not_sent.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (http, url, args, tally) = (http.clone(), url.clone(), args.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let text = text_for(n, &args);
            let command: &'static str = if text.starts_with("note ") {
                "note"
            } else if text == "help" {
                "help"
            } else {
                "list"
            };
            let is_note = command == "note";
            let body = body_for(n, &args, run);
            let ts = chrono::Utc::now().timestamp().to_string();
            let signature = sign(args.signing_secret.expose(), &ts, &body);
            let sent = http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", &ts)
                .header("x-slack-signature", signature)
                .body(body)
                .send()
                .await;
            let outcome = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(body) => Ok((status, is_note.then(|| note_outcome(&body)))),
                        Err(e) => Err(kind(&e)),
                    }
                }
                Err(e) => Err(kind(&e)),
            };
            let latency = due.elapsed().as_micros() as u64;
            let mut t = tally.lock().await;
            match outcome {
                Ok((status, note)) => {
                    t.latencies.push(latency);
                    t.by_command.entry(command).or_default().push(latency);
                    *t.statuses.entry(status).or_default() += 1;
                    if let Some(note) = note {
                        *t.notes.entry(note).or_default() += 1;
                    }
                }
                Err(kind) => *t.errors.entry(kind).or_default() += 1,
            }
            drop(permit);
        }));
    }
    let sending = start.elapsed();
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed();
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| "requests still running".to_string())?
        .into_inner();
    println!(
        "bench slack: {total} commands at {} per second for {} s to {url}{}",
        args.rate,
        args.seconds,
        if args.mix {
            " (help, list and note)"
        } else {
            " (help and list)"
        }
    );
    Ok(tally.report(
        sending,
        elapsed,
        not_sent.load(Ordering::Relaxed),
        args.concurrency,
        total,
    ))
}

impl Tally {
    /// Prints throughput, latency percentiles (overall and by command), answers by status and
    /// errors; success when every request got a 2xx.
    fn report(
        mut self,
        sending: Duration,
        elapsed: Duration,
        not_sent: u64,
        concurrency: usize,
        total: u64,
    ) -> ExitCode {
        self.latencies.sort_unstable();
        let answered = self.latencies.len() as u64;
        let ok: u64 = self
            .statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum();
        let errors: u64 = self.errors.values().sum();
        let l = &self.latencies;
        println!(
            "sent in {:.2} s, all answered after {:.2} s",
            sending.as_secs_f64(),
            elapsed.as_secs_f64()
        );
        println!(
            "throughput: {:.0} answered per second ({answered} answered, {ok} with 2xx)",
            answered as f64 / elapsed.as_secs_f64()
        );
        println!(
            "ack latency from when each was due: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            ms(percentile(l, 50.0)),
            ms(percentile(l, 90.0)),
            ms(percentile(l, 99.0)),
            ms(percentile(l, 99.9)),
            ms(l.last().copied().unwrap_or(0))
        );
        for (command, latencies) in &mut self.by_command {
            latencies.sort_unstable();
            println!(
                "  {command:<5} ({} answered): p50 {}  p99 {}  max {}",
                latencies.len(),
                ms(percentile(latencies, 50.0)),
                ms(percentile(latencies, 99.0)),
                ms(latencies.last().copied().unwrap_or(0))
            );
        }
        println!("answers by status: {}", counts(&self.statuses));
        if !self.notes.is_empty() {
            println!("notes answered: {}", counts(&self.notes));
        }
        let kinds = counts(&self.errors);
        println!(
            "errors: {errors} transport{}{kinds}; {not_sent} not sent (all {concurrency} connections busy)",
            if kinds.is_empty() { "" } else { " — " },
        );
        if ok == total {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// "200: 9204, 503: 9": a count per key.
fn counts<K: std::fmt::Display>(map: &std::collections::BTreeMap<K, u64>) -> String {
    map.iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else {
        "request".into()
    }
}
