//! `bench delivery`: the Slack Web API goes down while people keep raising challenges and
//! adding notes, then comes back; how fast the backlog drains, how late each post arrives, the
//! pace per channel, and whether anything is posted twice.
//!
//! The service runs in this process on real time (the real store, delivery worker and Slack
//! adapter) against a stand-in Slack on loopback that holds each channel to one post a second
//! with a burst of two, as Slack allows short bursts (HTTP 429 with `Retry-After: 1` beyond
//! it), answers 503 while down, and keeps each post's metadata so the history can be searched
//! like Slack's.

use super::{ms, percentile};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::{Args, Parser};
use escalation_bot::config::{Secret, ServeConfig};
use escalation_bot::delivery::WorkerConfig;
use escalation_bot::directory::{AgencyId, PersonId};
use escalation_bot::escalation::{Command, Concerns, RaiseDetails};
use escalation_bot::service::{Service, SystemClock};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Args)]
pub struct DeliveryArgs {
    /// Database URL: a SQLite file or `postgres://…` (use a new, empty database). Default: a new
    /// SQLite file in a temporary folder, removed afterwards.
    #[arg(long)]
    db: Option<String>,
    /// Challenges raised while Slack is down (each posts a root in two channels, replies, root
    /// updates and direct messages).
    #[arg(long, default_value_t = 12)]
    disputes: u32,
    /// Notes added to each challenge while Slack is down.
    #[arg(long, default_value_t = 2)]
    notes: u32,
    /// How long Slack is down, in seconds.
    #[arg(long, default_value_t = 60)]
    outage: u64,
    /// Then: challenges raised against a Teams agency, to measure the window in which a Teams
    /// post the Connector has made is not yet recorded (0: skip).
    #[arg(long = "teams-disputes", default_value_t = 12)]
    teams_disputes: u32,
    /// Folder of policy files.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// The directory (its Norfolk agencies on Slack are used).
    #[arg(long, default_value = "policies/demo/directory.toml")]
    directory: PathBuf,
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeConfig,
}

/// A post the stand-in accepted.
pub(super) struct Accepted {
    pub(super) channel: String,
    at: Instant,
    tag: String,
}

#[derive(Default)]
pub(super) struct Standin {
    down: bool,
    /// channel → (tokens, last refill): a bucket of two, refilled at one a second.
    buckets: HashMap<String, (f64, Instant)>,
    pub(super) posts: Vec<Accepted>,
    /// channel → (ts, thread_ts, metadata) in order.
    messages: HashMap<String, Vec<(String, Option<String>, Value)>>,
    limited: u64,
    refused_while_down: u64,
    looks: u64,
    last_ts_us: i64,
}

pub(super) type Shared = Arc<Mutex<Standin>>;

/// Starts the stand-in Slack Web API on loopback: its state, and its address.
pub(super) async fn slack_standin() -> Result<(Shared, std::net::SocketAddr), String> {
    let state: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Router::new()
        .route("/api/{method}", post(slack))
        .with_state(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((state, addr))
}

fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

async fn slack(
    State(state): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    if s.down {
        s.refused_while_down += 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let authed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer xoxb-"));
    if !authed {
        return axum::Json(json!({ "ok": false, "error": "not_authed" })).into_response();
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ok = |v: Value| axum::Json(v).into_response();
    match method.as_str() {
        "chat.postMessage" => {
            let Some(channel) = text(&body, "channel") else {
                return ok(json!({ "ok": false, "error": "channel_not_found" }));
            };
            let now = Instant::now();
            let bucket = s.buckets.entry(channel.to_string()).or_insert((2.0, now));
            bucket.0 = (bucket.0 + now.duration_since(bucket.1).as_secs_f64()).min(2.0);
            bucket.1 = now;
            let allowed = bucket.0 >= 1.0;
            if allowed {
                bucket.0 -= 1.0;
            } else {
                s.limited += 1;
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "1")],
                    axum::Json(json!({ "ok": false, "error": "ratelimited" })),
                )
                    .into_response();
            }
            let ts_us = chrono::Utc::now().timestamp_micros().max(s.last_ts_us + 1);
            s.last_ts_us = ts_us;
            let ts = format!("{}.{:06}", ts_us / 1_000_000, ts_us % 1_000_000);
            let metadata = body.get("metadata").cloned().unwrap_or(Value::Null);
            let tag = metadata
                .pointer("/event_payload/outbox_key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            s.posts.push(Accepted {
                channel: channel.to_string(),
                at: now,
                tag,
            });
            let thread = text(&body, "thread_ts").map(str::to_string);
            s.messages
                .entry(channel.to_string())
                .or_default()
                .push((ts.clone(), thread, metadata));
            ok(json!({ "ok": true, "channel": channel, "ts": ts }))
        }
        "conversations.history" | "conversations.replies" => {
            s.looks += 1;
            let channel = text(&body, "channel").unwrap_or_default();
            let thread = text(&body, "ts");
            let messages: Vec<Value> = s
                .messages
                .get(channel)
                .map(|m| {
                    m.iter()
                        .filter(|(ts, parent, _)| match thread {
                            Some(t) => ts == t || parent.as_deref() == Some(t),
                            None => parent.is_none(),
                        })
                        .map(|(ts, _, metadata)| json!({ "type": "message", "ts": ts, "metadata": metadata }))
                        .collect()
                })
                .unwrap_or_default();
            ok(json!({ "ok": true, "messages": messages, "has_more": false }))
        }
        "conversations.open" => {
            let user = text(&body, "users").unwrap_or("U0");
            ok(json!({ "ok": true, "channel": { "id": format!("D{user}") } }))
        }
        _ => ok(json!({ "ok": true })),
    }
}

/// When the Connector stand-in made each activity, by the id it answered with.
type Made = Arc<Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>>;

/// Entra ID's token endpoint and a Bot Connector that makes every activity it is sent, noting
/// when, under a fresh id.
fn connector(made: Made) -> Router {
    let answer = move |conversation: bool| {
        let made = made.clone();
        move || {
            let made = made.clone();
            async move {
                let mut made = made.lock().unwrap_or_else(|p| p.into_inner());
                let id = format!("{}", made.len() + 1);
                made.insert(id.clone(), chrono::Utc::now());
                if conversation {
                    axum::Json(
                        json!({ "id": format!("19:bench@thread.tacv2;messageid={id}"), "activityId": id }),
                    )
                } else {
                    axum::Json(json!({ "id": id }))
                }
            }
        }
    };
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(|| async {
                axum::Json(
                    json!({ "token_type": "Bearer", "expires_in": 3600, "access_token": "bench" }),
                )
            }),
        )
        .route("/teams/v3/conversations", post(answer(true)))
        .route(
            "/teams/v3/conversations/{c}/activities",
            post(answer(false)),
        )
        .route(
            "/teams/v3/conversations/{c}/activities/{a}",
            post(answer(false)).put(|| async { axum::Json(json!({ "id": "1" })) }),
        )
}

/// When each sent row was recorded sent, by the platform id it was recorded with.
async fn recorded(url: &str) -> Result<HashMap<String, i64>, String> {
    let query = "SELECT result, done_us FROM outbox WHERE status = 'sent' AND result IS NOT NULL";
    let rows: Vec<(String, i64)> = if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query_as(query)
            .fetch_all(&pool)
            .await
            .map_err(|e| e.to_string())?
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{url}"))
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query_as(query)
            .fetch_all(&pool)
            .await
            .map_err(|e| e.to_string())?
    };
    // A root's status update is recorded under the root's id too, later: the first is the post.
    let mut first: HashMap<String, i64> = HashMap::new();
    for (id, at) in rows {
        let seen = first.entry(id).or_insert(at);
        *seen = (*seen).min(at);
    }
    Ok(first)
}

/// Runs `bench delivery`.
pub fn run(args: DeliveryArgs) -> Result<ExitCode, String> {
    if args.disputes == 0 || args.outage == 0 {
        return Err("--disputes and --outage must be more than 0".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        match &args.db {
            Some(url) => bench(&args, url).await,
            None => {
                let folder = tempfile::tempdir().map_err(|e| e.to_string())?;
                let url = folder.path().join("bench.db").display().to_string();
                bench(&args, &url).await
            }
        }
    })
}

/// The demo directory's GP practice on Teams, and the bench's bot there.
const RIVERSIDE_TENANT: &str = "7f2c1a90-0000-4000-8000-00000000a001";
const BENCH_BOT: &str = "00000000-0000-4000-8000-0000000000b1";

/// Raises challenge `n` (Sam Patel, adult social care, against the carers' network) and adds
/// `notes` notes to it, as the people would: the traffic the delivery benchmarks queue.
pub(super) async fn raise_with_notes(service: &Service, n: u32, notes: u32) -> Result<(), String> {
    let raiser = PersonId("sam-patel".into());
    let raised = service
        .raise(
            &raiser,
            details(n, "norfolk-carers", "vol-jones"),
            None,
            None,
        )
        .await
        .map_err(|e| format!("raising a challenge: {e}"))?;
    for k in 0..notes {
        // No long numbers: the privacy screen refuses them.
        let note = Command::AddNote {
            text: format!("Spoke by phone about the plan; point {k} agreed."),
            how: None,
            held_at: None,
        };
        service
            .act(&raiser, &raised.reference, &note, None, None)
            .await
            .map_err(|e| format!("adding a note: {e}"))?;
    }
    Ok(())
}

pub(super) fn details(n: u32, receiving: &str, other: &str) -> RaiseDetails {
    RaiseDetails {
        receiving_agency: AgencyId(receiving.into()),
        other_professional: Some(PersonId(other.into())),
        concerns: Concerns::Adult,
        category: "outcomes-of-assessments".into(),
        summary: format!(
            "Disagreement about whether discharge plan {n} meets the adult's care needs."
        ),
        possible_cause: None,
        desired_outcome: "A joint review of the discharge plan.".into(),
        adults_views: None,
        case_reference: format!("BENCH-{n}"),
        immediate_risk: false,
        arose_at: None,
        delay_reason: None,
        notices: BTreeMap::new(),
    }
}

async fn bench(args: &DeliveryArgs, url: &str) -> Result<ExitCode, String> {
    let (state, addr) = slack_standin().await?;

    let mut config = Flags::try_parse_from(["escalation-bot"])
        .map_err(|e| e.to_string())?
        .serve;
    let nowhere = "http://127.0.0.1:9/".to_string();
    config.database_url = url.to_string();
    config.policies = args.policies.clone();
    config.directory = args.directory.clone();
    config.slack_bot_token = Some(Secret::new("xoxb-bench"));
    config.slack_bot_tokens = Vec::new();
    config.slack_api_base_url = format!("http://{addr}/api/");
    let made: Made = Arc::default();
    let teams = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let teams_addr = teams.local_addr().map_err(|e| e.to_string())?;
    let standin = connector(made.clone());
    tokio::spawn(async move {
        let _ = axum::serve(teams, standin).await;
    });
    config.teams_service_url = format!("http://{teams_addr}/teams/");
    config.teams_token_base_url = format!("http://{teams_addr}");
    config.teams_openid_metadata_url = nowhere;
    config.teams_bots = vec![format!("{BENCH_BOT}@{RIVERSIDE_TENANT}")];
    config.teams_app_secrets = vec![Secret::new(format!("{BENCH_BOT}=bench-secret"))];
    config.sandbox = false;
    let built =
        escalation_bot::web::build(&config, Arc::new(SystemClock), WorkerConfig::default()).await?;
    let service = built.service.clone();
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(built.worker.clone().run(stopped));

    // Down, while challenges are raised and noted.
    state.lock().unwrap_or_else(|p| p.into_inner()).down = true;
    let outage_started = Instant::now();
    for n in 0..args.disputes {
        raise_with_notes(&service, n, args.notes).await?;
    }
    let queued = service
        .outbox()
        .depth()
        .await
        .map_err(|e| e.to_string())?
        .pending;
    let outage = Duration::from_secs(args.outage);
    tokio::time::sleep(outage.saturating_sub(outage_started.elapsed())).await;

    // Back up: time the drain.
    let recovered = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.down = false;
        Instant::now()
    };
    let deadline = recovered + Duration::from_secs(900);
    loop {
        let depth = service.outbox().depth().await.map_err(|e| e.to_string())?;
        if depth.pending == 0 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the backlog did not drain in 15 minutes: {depth:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = recovered.elapsed();
    let slack_posts = state.lock().unwrap_or_else(|p| p.into_inner()).posts.len();

    // Teams: how long after the Connector made each activity the service had it recorded.
    let raiser = PersonId("sam-patel".into());
    for n in 0..args.teams_disputes {
        let raised = service
            .raise(&raiser, details(n, "riverside-gp", "dr-okafor"), None, None)
            .await
            .map_err(|e| format!("raising a challenge: {e}"))?;
        let note = Command::AddNote {
            text: format!("Note on Teams challenge {n}."),
            how: None,
            held_at: None,
        };
        service
            .act(&raiser, &raised.reference, &note, None, None)
            .await
            .map_err(|e| format!("adding a note: {e}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    while service
        .outbox()
        .depth()
        .await
        .map_err(|e| e.to_string())?
        .pending
        > 0
    {
        if Instant::now() > deadline {
            return Err("the Teams posts did not drain in 15 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let _ = worker.await;
    let done = recorded(url).await?;
    let mut windows: Vec<u64> = made
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(|(id, at)| {
            let recorded = done.get(id)?;
            Some(u64::try_from(recorded - at.timestamp_micros()).unwrap_or(0))
        })
        .collect();
    windows.sort_unstable();
    let parked = service
        .outbox()
        .depth()
        .await
        .map_err(|e| e.to_string())?
        .parked;

    let s = state.lock().unwrap_or_else(|p| p.into_inner());
    let posts = &s.posts[..slack_posts];
    let mut lateness: Vec<u64> = posts
        .iter()
        .map(|p| p.at.saturating_duration_since(recovered).as_micros() as u64)
        .collect();
    lateness.sort_unstable();
    let mut per_channel: BTreeMap<&str, Vec<Instant>> = BTreeMap::new();
    for p in posts {
        per_channel.entry(&p.channel).or_default().push(p.at);
    }
    let busiest = per_channel.values().map(Vec::len).max().unwrap_or(0);
    // The most posts any channel took within one second, over the whole run.
    let peak = per_channel
        .values()
        .map(|times| {
            (0..times.len())
                .map(|i| {
                    times[i..]
                        .iter()
                        .take_while(|t| t.duration_since(times[i]) < Duration::from_secs(1))
                        .count()
                })
                .max()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    let mut by_tag: HashMap<&str, usize> = HashMap::new();
    for p in &s.posts {
        *by_tag.entry(&p.tag).or_insert(0) += 1;
    }
    let duplicates: usize = by_tag.values().map(|n| n.saturating_sub(1)).sum();
    let untagged = by_tag.get("").copied().unwrap_or(0);

    println!(
        "delivery on {}: {} challenges with {} notes each queued {queued} posts during a {} s outage ({} calls refused while down)",
        service.backend(),
        args.disputes,
        args.notes,
        args.outage,
        s.refused_while_down
    );
    println!(
        "drained {:.1} s after recovery; the busiest channel needed {busiest} posts, {busiest} s at one a second (drain beyond that pace: {:.1} s)",
        drained.as_secs_f64(),
        drained.as_secs_f64() - busiest as f64
    );
    println!(
        "lateness after recovery: p50 {}, max {} over {} posts",
        ms(percentile(&lateness, 50.0)),
        ms(lateness.last().copied().unwrap_or(0)),
        lateness.len()
    );
    for (channel, times) in &per_channel {
        let span = match (times.first(), times.last()) {
            (Some(first), Some(last)) => last.duration_since(*first).as_secs_f64(),
            _ => 0.0,
        };
        println!(
            "  {channel}: {} posts over {span:.1} s, {:.2} a second",
            times.len(),
            if span > 0.0 {
                (times.len() - 1) as f64 / span
            } else {
                0.0
            }
        );
    }
    println!(
        "most posts to one channel within a second: {peak}; 429s from Slack: {}; history looks: {}",
        s.limited, s.looks
    );
    println!("duplicates: {duplicates}; posts without their key: {untagged}; parked: {parked}");
    if !windows.is_empty() {
        println!(
            "teams: {} posts; from the Connector making an activity to the service recording it: p50 {}, p99 {}, max {} (a crash or a lost answer inside it posts that activity twice)",
            windows.len(),
            ms(percentile(&windows, 50.0)),
            ms(percentile(&windows, 99.0)),
            ms(windows.last().copied().unwrap_or(0))
        );
    }
    Ok(if duplicates == 0 && untagged == 0 && parked == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
