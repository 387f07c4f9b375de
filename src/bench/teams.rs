//! `escalation-bot bench teams`: Teams activities with Bot Framework JWTs at a steady rate
//! against a running `serve`, then the acknowledgement latency (p50, p99, max), the throughput
//! achieved and the errors — with the JWT check included, as in production.
//!
//! The bench is its own Bot Framework: it makes an RSA key and serves the OpenID metadata and
//! JWKS on `--listen`, which `serve` must be started with as `TEAMS_OPENID_METADATA_URL`. Every
//! activity carries a token signed with that key (a fresh one each second, as the Bot
//! Connector reuses its tokens for a while; the service verifies every request's signature). The same address
//! stands in for Entra ID's token endpoint and the Bot Connector (they accept every call), so
//! the replies the worker posts go somewhere; point `TEAMS_TOKEN_BASE_URL` and the activities'
//! `serviceUrl` there. The load is open-loop, as in `bench slack`.

use super::Tally;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::post;
use clap::Args;
use escalation_bot::chat::teams::standin::{self, OpenIdServer, SigningKey};
use serde_json::json;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

#[derive(Args)]
pub struct TeamsArgs {
    /// The running service, e.g. `http://127.0.0.1:8080`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Where the bench serves its OpenID metadata, JWKS, token endpoint and Connector stand-in.
    #[arg(long, default_value = "127.0.0.1:8099")]
    listen: SocketAddr,
    /// The bot's Microsoft App ID `serve` was given in `TEAMS_BOTS`.
    #[arg(
        long = "app-id",
        default_value = "00000000-0000-4000-8000-0000000000b1"
    )]
    app_id: String,
    /// The tenant the activities come from (a directory tenant).
    #[arg(long, default_value = "7f2c1a90-0000-4000-8000-00000000a001")]
    tenant: String,
    /// The Entra object id of the person sending them (a directory person).
    #[arg(long, default_value = "00000000-0000-4000-8000-000000000106")]
    aad: String,
    /// Activities per second.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// How long to send for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Most requests in flight at once; an activity due when all are busy is counted as not sent.
    #[arg(long, default_value_t = 2000)]
    concurrency: usize,
    /// Seconds to wait after starting the key server before sending (to start `serve` meanwhile).
    #[arg(long, default_value_t = 0)]
    wait: u64,
}

/// An activity as Teams sends it: `@escalation-bot help` in the sender's 1:1 chat.
fn activity(n: u64, run: u32, args: &TeamsArgs, service_url: &str) -> String {
    json!({
        "type": "message",
        "id": format!("bench-{run:08x}-{n}"),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": { "id": "29:1bench", "name": "Bench", "aadObjectId": args.aad },
        "recipient": { "id": format!("28:{}", args.app_id), "name": "escalation-bot" },
        "conversation": { "id": format!("a:1bench{run:08x}"), "conversationType": "personal", "tenantId": args.tenant },
        "channelData": { "tenant": { "id": args.tenant } },
        "text": if n.is_multiple_of(2) { "help" } else { "list" },
    })
    .to_string()
}

/// Entra ID's token endpoint and the Bot Connector, accepting everything.
fn connector_standin() -> Router {
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(|| async {
                axum::Json(
                    json!({ "token_type": "Bearer", "expires_in": 3600, "access_token": "bench" }),
                )
                .into_response()
            }),
        )
        .route(
            "/teams/v3/conversations",
            post(|| async { axum::Json(json!({ "id": "a:1bench", "activityId": "1" })) }),
        )
        .route(
            "/teams/v3/conversations/{c}/activities",
            post(|| async { axum::Json(json!({ "id": "1" })) }),
        )
        .route(
            "/teams/v3/conversations/{c}/activities/{a}",
            post(|| async { axum::Json(json!({ "id": "1" })) })
                .put(|| async { axum::Json(json!({ "id": "1" })) }),
        )
}

/// Runs `bench teams`.
pub fn run(args: TeamsArgs) -> Result<ExitCode, String> {
    if args.rate == 0 || args.seconds == 0 {
        return Err("--rate and --seconds must be more than 0".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(teams(args))
}

async fn teams(args: TeamsArgs) -> Result<ExitCode, String> {
    // A key id of its own each run: a second run against the same `serve` is a key rotation.
    let run = uuid::Uuid::new_v4().as_u128() as u32;
    let key = SigningKey::generate(&format!("bench-{run:08x}"))?;
    let server = OpenIdServer::start_on(args.listen, vec![key.jwk()], connector_standin())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let base = format!("http://{}", args.listen);
    println!(
        "bench teams: TEAMS_OPENID_METADATA_URL={}",
        server.metadata_url
    );
    println!("             TEAMS_TOKEN_BASE_URL={base} TEAMS_SERVICE_URL={base}/teams/");
    if args.wait > 0 {
        tokio::time::sleep(Duration::from_secs(args.wait)).await;
    }
    let service_url = format!("{base}/teams/");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let url = format!("{}/api/messages", args.url.trim_end_matches('/'));

    // One unmeasured activity first: the service is up, trusts our keys and knows the sender.
    let token = key.sign(&standin::claims(&args.app_id, &service_url, 3600));
    let answer = http
        .post(&url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(activity(0, run, &args, &service_url))
        .send()
        .await
        .map_err(|e| format!("{url} cannot be reached: {e}"))?;
    if !answer.status().is_success() {
        return Err(format!(
            "{url} answered {} to a signed activity: start serve with TEAMS_OPENID_METADATA_URL={} and TEAMS_BOTS={}@{}",
            answer.status(),
            server.metadata_url,
            args.app_id,
            args.tenant
        ));
    }

    let args = Arc::new(args);
    let mut token = Arc::new(token);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let not_sent = Arc::new(AtomicU64::new(0));
    let total = u64::from(args.rate) * args.seconds;
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
        // A fresh token each second: the Bot Connector reuses a token across requests for a
        // while, and the service verifies the signature on every one regardless.
        if n % u64::from(args.rate) == 0 {
            token = Arc::new(key.sign(&standin::claims(&args.app_id, &service_url, 3600)));
        }
        let (http, url, args, tally, token, service_url) = (
            http.clone(),
            url.clone(),
            args.clone(),
            tally.clone(),
            token.clone(),
            service_url.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let sent = http
                .post(&url)
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(activity(n, run, &args, &service_url))
                .send()
                .await;
            let outcome = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response
                        .bytes()
                        .await
                        .map(|_| status)
                        .map_err(|e| super::kind(&e))
                }
                Err(e) => Err(super::kind(&e)),
            };
            let latency = due.elapsed().as_micros() as u64;
            let mut t = tally.lock().await;
            match outcome {
                Ok(status) => {
                    t.latencies.push(latency);
                    *t.statuses.entry(status).or_default() += 1;
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
        "bench teams: {total} activities (help and list, RS256 JWTs re-signed every second and verified on each) at {} per second for {} s to {url}",
        args.rate, args.seconds
    );
    Ok(tally.report(
        sending,
        elapsed,
        not_sent.load(Ordering::Relaxed),
        args.concurrency,
        total,
    ))
}
