//! The HTTP service: health, readiness, metrics, and each chat platform's endpoints.
//!
//! Middleware, outermost first: request id (set, then propagated to the response), trace span,
//! metrics by route, body-size limit, timeout, catch-panic. A 5xx body never carries internals.

mod board;
pub mod metrics;

pub use metrics::Metrics;

use crate::chat::sandbox::SandboxState;
use crate::chat::slack::inbound::{SlackState, SlackTokens};
use crate::chat::teams::inbound::{TeamsEndpoints, TeamsState};
use crate::config::ServeConfig;
use crate::delivery::{Poster, Worker, WorkerConfig};
use crate::directory::{Directory, Platform};
use crate::policy::PolicySet;
use crate::scheduler::Scheduler;
use crate::service::CheckpointPublisher;
use crate::service::{Clock, Service};
use crate::store::Store;
use crate::store::checkpoint::CheckpointKey;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    pub metrics: Metrics,
}

/// A built app: its router, its service, its delivery worker and scheduler (not yet running).
pub struct Built {
    pub router: Router,
    pub service: Arc<Service>,
    pub worker: Arc<Worker>,
    pub scheduler: Arc<Scheduler>,
    pub metrics: Metrics,
}

/// Builds the whole app from configuration: store, policies, directory, adapters, worker.
pub async fn build(
    config: &ServeConfig,
    clock: Arc<dyn Clock>,
    worker: WorkerConfig,
) -> Result<Built, String> {
    let policies = PolicySet::load_dir(&config.policies).map_err(|e| {
        format!(
            "the policies in {} cannot be used:\n{e}",
            config.policies.display()
        )
    })?;
    let directory = Directory::load(&config.directory).map_err(|e| e.to_string())?;
    // Which platform each agency's channel is on in real life, for the sandbox to say so.
    let stands_for: HashMap<String, Platform> = directory
        .agencies()
        .filter_map(|a| a.channels.first().map(|c| (a.id.0.clone(), c.platform)))
        .collect();
    // The sandbox stands in for every platform: every agency's channel moves onto it.
    let directory = if config.sandbox {
        directory.on_sandbox()
    } else {
        directory
    };
    let store = Store::open(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    check_in_use(config, &store, &directory, &policies).await?;
    let directory_text = std::fs::read_to_string(&config.directory).map_err(|e| {
        format!(
            "cannot read the directory {}: {e}",
            config.directory.display()
        )
    })?;
    if store
        .record_directory(&directory_text, clock.now())
        .await
        .map_err(|e| e.to_string())?
    {
        tracing::info!(directory = %config.directory.display(), "recorded a new version of the directory");
    }
    let service = Arc::new(
        Service::new(store, Arc::new(policies), Arc::new(directory), clock)
            .map_err(|e| e.to_string())?,
    );
    // The directory the Board last applied (by `directory import`) takes over from the file's
    // people; the agencies, their domains and channels stay the file's.
    if service
        .refresh_directory()
        .await
        .map_err(|e| format!("the applied directory cannot be used: {e}"))?
    {
        tracing::info!(
            change = service.directory_version(),
            "running with the directory the Board applied"
        );
    }
    let metrics = Metrics::new().map_err(|e| format!("cannot set up metrics: {e}"))?;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let mut tokens = SlackTokens::new(config.slack_bot_token.clone(), config.slack_tokens()?);
    let oauth = slack_oauth(config)?;
    if let Some(oauth) = &oauth {
        tokens = tokens.with_installs(service.adapter_state("slack"), oauth.sealer.clone());
        tokens.refresh(true).await;
    }
    resume_configured(&service, &tokens).await;
    // The sandbox stands in for both platforms: their missing credentials are expected there.
    if config.slack_signing_secrets.is_empty() && !config.sandbox {
        tracing::warn!(
            "SLACK_SIGNING_SECRET is not set: every request to /slack/* will be refused"
        );
    }
    let slack = SlackState::new(
        service.clone(),
        config.slack_signing_secrets.clone(),
        &config.slack_api_base_url,
        http.clone(),
        tokens,
    );
    let slack = match oauth {
        Some(oauth) => slack.with_oauth(oauth),
        None => slack,
    };
    let mut posters: HashMap<Platform, Arc<dyn Poster>> = HashMap::new();
    posters.insert(Platform::Slack, Arc::new(slack.poster()));
    let teams_bots = config.teams_registrations()?;
    if teams_bots.is_empty() && !config.sandbox {
        tracing::warn!("TEAMS_BOTS is not set: every request to /api/messages will be refused");
    }
    let teams_endpoints = TeamsEndpoints {
        openid_metadata_url: config.teams_openid_metadata_url.clone(),
        token_base_url: config.teams_token_base_url.clone(),
        default_service_url: config.teams_service_url.clone(),
    };
    let teams = TeamsState::new(service.clone(), teams_bots, &teams_endpoints, http.clone());
    posters.insert(Platform::Teams, Arc::new(teams.poster()));
    let sandbox = if config.sandbox {
        let sandbox = SandboxState::new(service.clone(), stands_for);
        sandbox.restore_clock().await?;
        posters.insert(Platform::Sandbox, Arc::new(sandbox.poster()));
        Some(sandbox)
    } else {
        None
    };

    let mut scheduler = Scheduler::new(service.clone(), worker.owner.clone());
    match &config.audit_signing_key {
        Some(seed) => {
            let key = CheckpointKey::from_hex(seed.expose()).map_err(|e| e.to_string())?;
            tracing::info!(public_key = %key.public_key_hex(), "posting a signed checkpoint of the record to each board's channel daily");
            scheduler = scheduler.with_checkpoints(CheckpointPublisher::new(key));
        }
        None if !config.sandbox => tracing::warn!(
            "AUDIT_SIGNING_KEY is not set: no signed checkpoints are posted, so a rewrite of the whole record by someone with the database would go unseen; make a key with `escalation-bot audit new-key`"
        ),
        None => {}
    }
    let scheduler = Arc::new(scheduler);
    let worker = Arc::new(Worker::new(
        service.clone(),
        posters,
        Arc::new(metrics.clone()),
        worker,
    ));
    let state = AppState {
        service: service.clone(),
        metrics: metrics.clone(),
    };
    let router = router(state, slack, teams, sandbox, config.max_body_bytes);
    Ok(Built {
        router,
        service,
        worker,
        scheduler,
        metrics,
    })
}

/// Checks the directory the service will run with — the file's agencies with the people the
/// Board last imported, or the file alone before any import — against the policies, saying
/// what to do when the people are still to be imported.
async fn check_in_use(
    config: &ServeConfig,
    store: &Store,
    file: &Directory,
    policies: &PolicySet,
) -> Result<(), String> {
    let (_, in_use) = crate::service::directory_in_use(store, file)
        .await
        .map_err(|e| e.to_string())?;
    let problems = crate::directory::check_directory(&in_use, policies);
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let imported = store
        .current_directory()
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    let hint = if imported {
        "\nCorrect the directory file, or import a corrected CSV of the people with `escalation-bot directory import FILE.csv`, and start again."
    } else if file.people().next().is_none() {
        "\nNo people have been imported into this database yet: import them first with `escalation-bot directory import people.csv` (the same DATABASE_URL and DIRECTORY as `serve`), then start again. See \"Your directory\" in the README."
    } else {
        "\nCorrect the directory file, or import the people with `escalation-bot directory import people.csv`, and start again."
    };
    Err(format!(
        "the directory in use ({}{}) has problems:\n{}{hint}",
        config.directory.display(),
        if imported {
            " with the people last imported"
        } else {
            ""
        },
        list.join("\n")
    ))
}

/// A Slack workspace held because its token stopped working resumes at start when
/// configuration gives it a token: restarting with a new `SLACK_BOT_TOKEN(S)` is how a
/// single-workspace setup is mended. Should that token be refused too, it is held again.
async fn resume_configured(service: &Service, tokens: &SlackTokens) {
    let held = match service.held_workspaces().await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read which workspaces are held");
            return;
        }
    };
    let slack = Platform::Slack.to_string();
    for h in held.iter().filter(|h| h.platform == slack) {
        if tokens.configured(&h.workspace).is_none() {
            tracing::warn!(workspace = %h.workspace, why = %h.why, waiting = h.waiting, "slack: posts to a workspace are kept until escalation-bot is installed there again");
            continue;
        }
        match service
            .resume_workspace(Platform::Slack, &h.workspace)
            .await
        {
            Ok((_, kept)) => {
                tracing::info!(workspace = %h.workspace, kept, "slack: trying the configured token again for a held workspace")
            }
            Err(e) => {
                tracing::warn!(error = %e, workspace = %h.workspace, "slack: cannot resume a held workspace")
            }
        }
    }
}

/// Installing from Slack by OAuth, when the client id, secret, token key and public URL are all
/// set; an error naming what is missing when only some are.
fn slack_oauth(
    config: &ServeConfig,
) -> Result<Option<crate::chat::slack::install::OAuthSettings>, String> {
    let (id, secret, key) = (
        config.slack_client_id.as_ref(),
        config.slack_client_secret.as_ref(),
        config.slack_token_key.as_ref(),
    );
    if id.is_none() && secret.is_none() && key.is_none() {
        return Ok(None);
    }
    let (Some(id), Some(secret), Some(key), Some(public)) =
        (id, secret, key, config.public_url.as_deref())
    else {
        return Err("installing from Slack needs SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_TOKEN_KEY and PUBLIC_URL together; set the missing ones or none of them".into());
    };
    Ok(Some(crate::chat::slack::install::OAuthSettings {
        client_id: id.clone(),
        client_secret: secret.clone(),
        authorize_url: config.slack_oauth_authorize_url.clone(),
        redirect_uri: format!("{}/slack/oauth/callback", public.trim_end_matches('/')),
        sealer: crate::chat::slack::install::TokenSealer::from_hex(key.expose())?,
    }))
}

/// The router with its middleware.
pub fn router(
    state: AppState,
    slack: SlackState,
    teams: TeamsState,
    sandbox: Option<SandboxState>,
    max_body: usize,
) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let board = board::routes(sandbox.is_some());
    let sandbox = sandbox
        .map(crate::chat::sandbox::routes)
        .unwrap_or_default();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .merge(crate::chat::slack::inbound::routes(slack))
        .merge(crate::chat::teams::inbound::routes(teams))
        .merge(sandbox)
        .merge(board)
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(|_| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the request was not recorded",
            )
                .into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(10),
        ))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.service.health().await {
        Ok(backend) => {
            let mut text = format!("ok: {backend} reachable");
            // Ready all the same: the service works, but some posts wait on an administrator.
            for h in state.service.held_workspaces().await.unwrap_or_default() {
                text.push_str(&format!(
                    "\nheld: {} posts to {} workspace {} are kept until escalation-bot is installed there again ({} since {})",
                    h.waiting,
                    h.platform,
                    h.workspace,
                    h.why,
                    h.since.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            (StatusCode::OK, text).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readyz: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

async fn metrics_page(State(state): State<AppState>) -> Response {
    if let Ok(depth) = state.service.outbox().depth().await {
        state.metrics.outbox_pending.set(depth.pending);
        state.metrics.outbox_parked.set(depth.parked);
        state.metrics.outbox_held.set(depth.held);
        let age = depth
            .oldest_pending
            .map_or(0, |t| (state.service.now() - t).num_seconds().max(0));
        state.metrics.outbox_oldest_age_seconds.set(age);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// Counts requests by route and outcome, and times platform acknowledgements.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let outcome = match response.status().as_u16() {
        200..=299 => "ok",
        300..=399 => "redirect",
        401 | 403 => "unauthorized",
        400..=499 => "client_error",
        _ => "server_error",
    };
    state
        .metrics
        .requests
        .with_label_values(&[route.as_str(), outcome])
        .inc();
    state
        .metrics
        .ack_latency
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Serves until Ctrl-C or SIGTERM: stops taking requests, lets the worker finish its row, exits.
pub async fn serve(config: ServeConfig, clock: Arc<dyn Clock>) -> Result<(), String> {
    let worker = WorkerConfig {
        lease: Duration::from_secs(config.delivery_lease_secs),
        ..WorkerConfig::default()
    };
    let built = build(&config, clock, worker).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, store = built.service.backend(), "escalation-bot is serving");
    built.service.set_public_url(
        config
            .public_url
            .as_deref()
            .unwrap_or(&format!("http://{addr}")),
    );
    println!("escalation-bot is serving on http://{addr}");
    if config.sandbox {
        println!("The sandbox: open http://{addr}/sandbox/ in a browser");
    }
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(built.worker.clone().run(stopped.clone()));
    let scheduler = tokio::spawn(built.scheduler.clone().run(stopped));
    let result = axum::serve(listener, built.router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("the server stopped: {e}"));
    let _ = stop.send(true);
    let _ = worker.await;
    let _ = scheduler.await;
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
