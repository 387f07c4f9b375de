//! Slack's requests in: slash commands, buttons and modals, Events API. Verify first, parse second,
//! answer within Slack's 3 seconds: handlers record events and outbox rows and reply; the
//! delivery worker posts. The only Web API call made inside a request is `views.open`, which must
//! use the fresh `trigger_id`, under a short timeout.

use super::client::{SlackClient, SlackError};
use super::{render, verify, views};
use crate::chat::answers::user_text;
use crate::chat::grammar::{self, ChatCommand};
use crate::chat::{
    ActionKind, Delivery, Line, Message, MessageKind, Origin, Span, Target, compose,
};
use crate::config::Secret;
use crate::delivery::{PostError, PostFuture, Posted, Poster};
use crate::directory::{Person, PersonId, Platform};
use crate::escalation::{Command, Reference, Refusal, Status};
use crate::service::{Outcome, Service, ServiceError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long `views.open` may take inside a request before we give up and say so.
const VIEWS_OPEN_TIMEOUT: Duration = Duration::from_millis(2500);

/// Bot tokens: one per workspace, or a default.
#[derive(Debug, Clone, Default)]
pub struct SlackTokens {
    default: Option<Secret>,
    by_workspace: HashMap<String, Secret>,
}

impl SlackTokens {
    /// Tokens from configuration.
    pub fn new(default: Option<Secret>, by_workspace: HashMap<String, Secret>) -> SlackTokens {
        SlackTokens {
            default,
            by_workspace,
        }
    }

    /// The token for a workspace.
    pub fn token_for(&self, workspace: &str) -> Option<&Secret> {
        self.by_workspace.get(workspace).or(self.default.as_ref())
    }
}

/// What the Slack handlers need.
#[derive(Clone)]
pub struct SlackState {
    service: Arc<Service>,
    secrets: Arc<Vec<Secret>>,
    client: SlackClient,
    tokens: Arc<SlackTokens>,
}

impl SlackState {
    /// The Slack adapter's state.
    pub fn new(
        service: Arc<Service>,
        secrets: Vec<Secret>,
        api_base: &str,
        http: reqwest::Client,
        tokens: SlackTokens,
    ) -> SlackState {
        SlackState {
            service,
            secrets: Arc::new(secrets),
            client: SlackClient::new(api_base, http),
            tokens: Arc::new(tokens),
        }
    }

    /// The poster the delivery worker uses for Slack targets.
    pub fn poster(&self) -> SlackPoster {
        SlackPoster {
            client: self.client.clone(),
            tokens: self.tokens.clone(),
            service: self.service.clone(),
            dm_channels: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

/// Slack's three endpoints.
pub fn routes<S>(state: SlackState) -> Router<S> {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .with_state(state)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The 401 answer for a request that fails verification, or None when it is Slack's.
fn refused(state: &SlackState, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let secrets: Vec<&str> = state.secrets.iter().map(Secret::expose).collect();
    verify::verify(
        &secrets,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        unix_now(),
    )
    .err()
    .map(|e| {
        tracing::warn!(error = %e, "slack: refused a request that failed verification");
        (
            StatusCode::UNAUTHORIZED,
            "invalid or missing Slack signature",
        )
            .into_response()
    })
}

/// Escapes text for Slack mrkdwn so nothing we echo can mention or link.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn ephemeral(text: &str) -> Response {
    Json(json!({ "response_type": "ephemeral", "text": escape(text) })).into_response()
}

#[derive(Debug, Deserialize)]
struct SlashCommand {
    #[serde(default)]
    ssl_check: Option<String>,
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    trigger_id: String,
}

/// Who a Slack user is in the directory, or the reply telling them who to ask.
fn resolve<'a>(service: &'a Service, team: &str, user: &str) -> Result<&'a Person, String> {
    if let Some(p) = service.directory.by_slack(team, user) {
        return Ok(p);
    }
    let dir = &service.directory;
    let known_workspace = dir.agencies().any(|a| {
        a.channels
            .iter()
            .any(|c| c.platform == Platform::Slack && c.workspace == team)
    }) || dir
        .people()
        .any(|p| p.slack.as_ref().is_some_and(|s| s.workspace == team));
    if known_workspace {
        Err(format!(
            "You are not in the escalation-bot directory yet, so you cannot raise or act on challenges. Ask your agency's escalation-bot administrator to add you (Slack user {user} in workspace {team})."
        ))
    } else {
        Err(format!(
            "This Slack workspace ({team}) is not connected to escalation-bot. Ask your agency's escalation-bot administrator to add your agency and its channel to the directory."
        ))
    }
}

async fn commands(State(state): State<SlackState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = refused(&state, &headers, &body) {
        return r;
    }
    let Ok(cmd) = serde_urlencoded::from_bytes::<SlashCommand>(&body) else {
        return (StatusCode::BAD_REQUEST, "malformed slash command").into_response();
    };
    if cmd.ssl_check.is_some() {
        return StatusCode::OK.into_response();
    }
    let service = state.service.clone();
    let person = match resolve(&service, &cmd.team_id, &cmd.user_id) {
        Ok(p) => p.clone(),
        Err(text) => return ephemeral(&text),
    };
    let parsed = match grammar::parse(&cmd.text) {
        Ok(c) => c,
        Err(e) => return ephemeral(&format!("{}\n\n{}", e.0, grammar::HELP)),
    };
    let key = (!cmd.trigger_id.is_empty()).then(|| format!("slack:command:{}", cmd.trigger_id));
    let modal_meta = |reference: Option<&Reference>| {
        json!({ "channel": cmd.channel_id, "reference": reference.map(ToString::to_string) })
            .to_string()
    };
    match parsed {
        ChatCommand::Help => ephemeral(grammar::HELP),
        ChatCommand::Raise => match raise_modal(&state, &person, &modal_meta(None)) {
            Ok(view) => open_view(&state, &cmd.team_id, &cmd.trigger_id, view).await,
            Err(text) => ephemeral(&text),
        },
        ChatCommand::Status(reference) => {
            ephemeral(&crate::chat::answers::status_text(&state.service, &reference).await)
        }
        ChatCommand::List => {
            ephemeral(&crate::chat::answers::list_text(&state.service, &person).await)
        }
        ChatCommand::Note { reference, text } => {
            let command = Command::AddNote {
                text,
                how: None,
                held_at: None,
            };
            ephemeral(&act_text(&state, &person, &reference, &command, key).await)
        }
        ChatCommand::Escalate {
            reference,
            reason: Some(reason),
        } => {
            let command = Command::Escalate {
                reason,
                delay_reason: None,
            };
            ephemeral(&act_text(&state, &person, &reference, &command, key).await)
        }
        ChatCommand::Escalate {
            reference,
            reason: None,
        } => {
            open_view(
                &state,
                &cmd.team_id,
                &cmd.trigger_id,
                views::escalate_modal(&reference.to_string(), &modal_meta(Some(&reference))),
            )
            .await
        }
        ChatCommand::Acknowledge(reference) => {
            ephemeral(&act_text(&state, &person, &reference, &Command::Acknowledge, key).await)
        }
        ChatCommand::Resolve(reference) => {
            open_view(
                &state,
                &cmd.team_id,
                &cmd.trigger_id,
                views::resolution_modal(&reference.to_string(), &modal_meta(Some(&reference))),
            )
            .await
        }
        ChatCommand::Confirm(reference) => ephemeral(
            &act_text(
                &state,
                &person,
                &reference,
                &Command::ConfirmResolution,
                key,
            )
            .await,
        ),
        ChatCommand::Withdraw {
            reference,
            reason: Some(reason),
        } => {
            let command = Command::Withdraw { reason };
            ephemeral(&act_text(&state, &person, &reference, &command, key).await)
        }
        ChatCommand::Withdraw {
            reference,
            reason: None,
        } => {
            open_view(
                &state,
                &cmd.team_id,
                &cmd.trigger_id,
                views::withdraw_modal(&reference.to_string(), &modal_meta(Some(&reference))),
            )
            .await
        }
    }
}

/// The raise form for a person: the other agencies of their board and the board's categories.
fn raise_modal(state: &SlackState, person: &Person, meta: &str) -> Result<Value, String> {
    let service = &state.service;
    let (policy, _) = service.policy_of(&person.id).map_err(|e| e.to_string())?;
    let others: Vec<&crate::directory::Agency> = service
        .directory
        .agencies()
        .filter(|a| {
            a.board == policy.id && a.kind != crate::directory::BOARD_KIND && a.id != person.agency
        })
        .collect();
    let agencies: Vec<(String, String)> = others
        .iter()
        .map(|a| (a.id.0.clone(), a.name.clone()))
        .collect();
    let people: Vec<(String, Vec<(String, String)>)> = others
        .iter()
        .map(|a| {
            let members = service
                .directory
                .members(&a.id)
                .map(|p| {
                    (
                        p.id.0.clone(),
                        format!(
                            "{} ({})",
                            p.name,
                            compose::role_and_agency(policy, &service.directory, &p.id)
                        ),
                    )
                })
                .collect();
            (a.id.0.clone(), members)
        })
        .collect();
    Ok(views::raise_modal(policy, &agencies, &people, meta))
}

async fn open_view(state: &SlackState, team: &str, trigger_id: &str, view: Value) -> Response {
    let Some(token) = state.tokens.token_for(team) else {
        return ephemeral(
            "escalation-bot has no bot token for this workspace, so it cannot open the form. Ask your agency administrator to finish installing the app.",
        );
    };
    let call = state.client.views_open(token.expose(), trigger_id, &view);
    match tokio::time::timeout(VIEWS_OPEN_TIMEOUT, call).await {
        Ok(Ok(_)) => StatusCode::OK.into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "slack: views.open failed");
            ephemeral("The form could not be opened just now. Please try again.")
        }
        Err(_) => {
            tracing::warn!("slack: views.open timed out");
            ephemeral("Slack took too long to open the form. Please try again.")
        }
    }
}

async fn act_text(
    state: &SlackState,
    person: &Person,
    reference: &Reference,
    command: &Command,
    key: Option<String>,
) -> String {
    match state
        .service
        .act(&person.id, reference, command, None, key)
        .await
    {
        Ok(outcome) => done_text(&state.service, &outcome),
        Err(e) => user_text(&e),
    }
}

fn done_text(service: &Service, outcome: &Outcome) -> String {
    let d = &outcome.dispute;
    match service.policy(&d.policy) {
        Ok((policy, _)) => compose::receipt(policy, d, &outcome.events).fallback,
        Err(_) => format!("Recorded on {}.", outcome.reference),
    }
}

#[derive(Debug, Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    user: SlackUser,
    #[serde(default)]
    team: Option<IdOnly>,
    #[serde(default)]
    trigger_id: Option<String>,
    #[serde(default)]
    actions: Vec<ActionPayload>,
    #[serde(default)]
    view: Option<ViewPayload>,
    #[serde(default)]
    channel: Option<IdOnly>,
}

#[derive(Debug, Deserialize)]
struct SlackUser {
    id: String,
    #[serde(default)]
    team_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ActionPayload {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ViewPayload {
    id: String,
    #[serde(default)]
    callback_id: String,
    #[serde(default)]
    private_metadata: String,
    #[serde(default)]
    state: Value,
}

#[derive(Debug, Deserialize)]
struct InteractionForm {
    payload: String,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    reference: Option<String>,
}

async fn interactions(
    State(state): State<SlackState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = refused(&state, &headers, &body) {
        return r;
    }
    let Ok(form) = serde_urlencoded::from_bytes::<InteractionForm>(&body) else {
        return (StatusCode::BAD_REQUEST, "malformed interaction: no payload").into_response();
    };
    let Ok(payload) = serde_json::from_str::<Interaction>(&form.payload) else {
        return (StatusCode::BAD_REQUEST, "malformed interaction payload").into_response();
    };
    let team = payload
        .team
        .as_ref()
        .map(|t| t.id.clone())
        .or_else(|| payload.user.team_id.clone())
        .unwrap_or_default();
    match payload.kind.as_str() {
        "block_actions" => block_action(&state, &team, &payload).await,
        "view_submission" => view_submission(&state, &team, &payload).await,
        _ => StatusCode::OK.into_response(),
    }
}

async fn block_action(state: &SlackState, team: &str, payload: &Interaction) -> Response {
    let channel = payload
        .channel
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    let person = match resolve(&state.service, team, &payload.user.id) {
        Ok(p) => p.clone(),
        Err(text) => {
            private_note(state, team, &channel, &payload.user.id, &text).await;
            return StatusCode::OK.into_response();
        }
    };
    let Some(action) = payload.actions.first() else {
        return StatusCode::OK.into_response();
    };
    let (Some(kind), Some(reference)) = (
        ActionKind::from_id(&action.action_id),
        action
            .value
            .as_deref()
            .and_then(|v| Reference::parse(v).ok()),
    ) else {
        return StatusCode::OK.into_response();
    };
    let meta = json!({ "channel": channel, "reference": reference.to_string() }).to_string();
    let trigger = payload.trigger_id.clone().unwrap_or_default();
    let key = payload
        .trigger_id
        .as_ref()
        .map(|t| format!("slack:action:{t}"));
    let origin = Origin {
        platform: Platform::Slack,
        workspace: team.to_string(),
        channel: channel.clone(),
        user: payload.user.id.clone(),
    };
    match kind {
        ActionKind::AddNote => {
            open_view(
                state,
                team,
                &trigger,
                views::note_modal(&reference.to_string(), &meta),
            )
            .await
        }
        ActionKind::Escalate => {
            open_view(
                state,
                team,
                &trigger,
                views::escalate_modal(&reference.to_string(), &meta),
            )
            .await
        }
        ActionKind::ProposeResolution => {
            open_view(
                state,
                team,
                &trigger,
                views::resolution_modal(&reference.to_string(), &meta),
            )
            .await
        }
        ActionKind::RejectResolution => {
            open_view(
                state,
                team,
                &trigger,
                views::reject_modal(&reference.to_string(), &meta),
            )
            .await
        }
        ActionKind::Acknowledge | ActionKind::ConfirmResolution => {
            let command = if kind == ActionKind::Acknowledge {
                Command::Acknowledge
            } else {
                Command::ConfirmResolution
            };
            let result = state
                .service
                .act(&person.id, &reference, &command, Some(&origin), key)
                .await;
            if let Err(e) = result
                && !already_done(state, &person.id, &reference, kind).await
            {
                private_note(state, team, &channel, &payload.user.id, &user_text(&e)).await;
            }
            StatusCode::OK.into_response()
        }
    }
}

/// A second press of the same button is not an error: the person already did it.
async fn already_done(
    state: &SlackState,
    person: &PersonId,
    reference: &Reference,
    kind: ActionKind,
) -> bool {
    let Ok(d) = state.service.dispute(reference).await else {
        return false;
    };
    match kind {
        ActionKind::Acknowledge => d.acknowledged.iter().any(|a| &a.by == person),
        ActionKind::ConfirmResolution => {
            d.status == Status::Resolved
                && state
                    .service
                    .store
                    .events(reference)
                    .await
                    .map(|events| {
                        events.iter().any(|e| {
                            e.actor.as_ref() == Some(person)
                                && matches!(
                                    e.body,
                                    crate::escalation::EventBody::ResolutionConfirmed { .. }
                                )
                        })
                    })
                    .unwrap_or(false)
        }
        _ => false,
    }
}

/// Queues a private line to a Slack user (a refused button press has no other way back).
async fn private_note(state: &SlackState, team: &str, channel: &str, user: &str, text: &str) {
    if channel.is_empty() {
        return;
    }
    let target = Target {
        platform: Platform::Slack,
        workspace: team.to_string(),
        delivery: Delivery::Receipt {
            channel: channel.to_string(),
            user: user.to_string(),
        },
    };
    let message = plain_message(text);
    let now = state.service.now();
    let row = crate::store::NewOutbox {
        idempotency_key: format!("note:{}:{}", target.key(), uuid::Uuid::new_v4()),
        lane: target.lane("-"),
        target: serde_json::to_value(&target).unwrap_or_default(),
        payload: serde_json::to_value(&message).unwrap_or_default(),
        available_at: now,
    };
    if let Err(e) = state.service.store.enqueue("-", &[row], now).await {
        tracing::error!(error = %e, "slack: cannot queue a private answer");
    }
}

/// A plain private message with no dispute behind it.
fn plain_message(text: &str) -> Message {
    Message {
        kind: MessageKind::Receipt,
        reference: String::new(),
        title: "escalation-bot".into(),
        status: String::new(),
        fallback: text.to_string(),
        urgent: None,
        lines: vec![Line {
            label: None,
            spans: vec![Span::text(text)],
        }],
        prompt: None,
        footer: Vec::new(),
        buttons: Vec::new(),
    }
}

fn field_errors(callback: &str, refusal: &Refusal) -> Response {
    let block = views::block_for_field(callback, refusal.field().unwrap_or(""));
    let mut errors = std::collections::BTreeMap::new();
    errors.insert(block.to_string(), refusal.to_string());
    Json(views::errors_response(&errors)).into_response()
}

fn general_error(callback: &str, text: &str) -> Response {
    let mut errors = std::collections::BTreeMap::new();
    errors.insert(
        views::block_for_field(callback, "").to_string(),
        text.to_string(),
    );
    Json(views::errors_response(&errors)).into_response()
}

async fn view_submission(state: &SlackState, team: &str, payload: &Interaction) -> Response {
    let Some(view) = &payload.view else {
        return StatusCode::OK.into_response();
    };
    let callback = view.callback_id.as_str();
    let person = match resolve(&state.service, team, &payload.user.id) {
        Ok(p) => p.clone(),
        Err(text) => return general_error(callback, &text),
    };
    let meta: Meta = serde_json::from_str(&view.private_metadata).unwrap_or_default();
    let origin = meta
        .channel
        .as_ref()
        .filter(|c| !c.is_empty())
        .map(|c| Origin {
            platform: Platform::Slack,
            workspace: team.to_string(),
            channel: c.clone(),
            user: payload.user.id.clone(),
        });
    let key = Some(format!("slack:view:{}", view.id));
    let reference = meta
        .reference
        .as_deref()
        .and_then(|r| Reference::parse(r).ok());
    let result = match callback {
        "raise" => match views::parse_raise(&view.state) {
            Ok(form) => {
                let details = form.into_details();
                state
                    .service
                    .raise(&person.id, details, origin.as_ref(), key)
                    .await
            }
            Err(errors) => return Json(views::errors_response(&errors)).into_response(),
        },
        other => {
            let Some(reference) = reference else {
                return general_error(
                    other,
                    "This form lost track of its challenge; close it and press the button again.",
                );
            };
            let command = match views::parse_command(other, &view.state) {
                Ok(c) => c,
                Err(errors) => return Json(views::errors_response(&errors)).into_response(),
            };
            state
                .service
                .act(&person.id, &reference, &command, origin.as_ref(), key)
                .await
        }
    };
    match result {
        Ok(_) | Err(ServiceError::Duplicate) => StatusCode::OK.into_response(),
        Err(ServiceError::Refused(r)) => field_errors(callback, &r),
        Err(e) => general_error(callback, &user_text(&e)),
    }
}

#[derive(Debug, Deserialize)]
struct EventEnvelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event: Option<SlackEvent>,
}

#[derive(Debug, Deserialize)]
struct SlackEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    ts: Option<String>,
}

async fn events(State(state): State<SlackState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = refused(&state, &headers, &body) {
        return r;
    }
    let Ok(envelope) = serde_json::from_slice::<EventEnvelope>(&body) else {
        return (StatusCode::BAD_REQUEST, "malformed event").into_response();
    };
    if envelope.kind == "url_verification" {
        return Json(json!({ "challenge": envelope.challenge.unwrap_or_default() }))
            .into_response();
    }
    let (Some(event_id), Some(event), Some(team)) =
        (envelope.event_id, envelope.event, envelope.team_id)
    else {
        return StatusCode::OK.into_response();
    };
    if event.bot_id.is_some() || event.subtype.is_some() {
        return StatusCode::OK.into_response();
    }
    let now = state.service.now();
    match state
        .service
        .store
        .claim_inbound(&format!("slack:event:{event_id}"), now)
        .await
    {
        Ok(true) => {}
        Ok(false) => return StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "slack: cannot record an event id");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
        }
    }
    let (Some(user), Some(channel)) = (event.user, event.channel) else {
        return StatusCode::OK.into_response();
    };
    // Slack sometimes delivers one message twice under two event ids, without retry headers:
    // the message's own (channel, ts) is the second key.
    if let Some(ts) = &event.ts {
        match state
            .service
            .store
            .claim_inbound(&format!("slack:message:{team}:{channel}:{ts}"), now)
            .await
        {
            Ok(true) => {}
            Ok(false) => return StatusCode::OK.into_response(),
            Err(e) => {
                tracing::error!(error = %e, "slack: cannot record a message id");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        }
    }
    match event.kind.as_str() {
        "app_mention" | "message" => {
            private_note(&state, &team, &channel, &user, grammar::HELP).await
        }
        _ => {}
    }
    StatusCode::OK.into_response()
}

/// Posts to Slack for the delivery worker.
#[derive(Clone)]
pub struct SlackPoster {
    client: SlackClient,
    tokens: Arc<SlackTokens>,
    service: Arc<Service>,
    dm_channels: Arc<Mutex<HashMap<(String, String), String>>>,
}

fn post_error(e: SlackError) -> PostError {
    match e {
        SlackError::RateLimited { retry_after } => PostError::RateLimited(retry_after),
        SlackError::Transient(why) => PostError::Retry(why),
        api @ SlackError::Api { .. } if api.is_retryable() => PostError::Retry(api.to_string()),
        other => PostError::Permanent(other.code().to_string()),
    }
}

impl SlackPoster {
    async fn deliver(
        &self,
        target: &Target,
        message: &Message,
        thread: Option<&str>,
    ) -> Result<Posted, PostError> {
        let workspace = &target.workspace;
        let token = self
            .tokens
            .token_for(workspace)
            .ok_or_else(|| {
                PostError::Permanent(format!(
                    "no_token: no Slack bot token for workspace {workspace}"
                ))
            })?
            .expose()
            .to_string();
        let dir = self.service.directory.clone();
        let mention = |p: &PersonId| {
            dir.person(p)
                .and_then(|x| x.slack.as_ref())
                .filter(|s| &s.workspace == workspace)
                .map(|s| s.user.clone())
        };
        let blocks = render::blocks(message, &mention);
        let text = render::fallback_text(message);
        let c = &self.client;
        match &target.delivery {
            Delivery::Root { channel } => {
                let ts = c
                    .post_message(&token, channel, None, &text, &blocks)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: ts.clone(),
                    thread: Some(ts),
                })
            }
            Delivery::Reply { channel } => {
                let thread = thread.ok_or_else(|| PostError::Permanent("no_thread".into()))?;
                let ts = c
                    .post_message(&token, channel, Some(thread), &text, &blocks)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: ts,
                    thread: None,
                })
            }
            Delivery::UpdateRoot { channel } => {
                let thread = thread.ok_or_else(|| PostError::Permanent("no_thread".into()))?;
                c.update(&token, channel, thread, &text, &blocks)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: thread.to_string(),
                    thread: None,
                })
            }
            Delivery::Notice { channel } => {
                let ts = c
                    .post_message(&token, channel, None, &text, &blocks)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: ts,
                    thread: None,
                })
            }
            Delivery::Direct { user, .. } => {
                let key = (workspace.clone(), user.clone());
                let cached = self
                    .dm_channels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&key)
                    .cloned();
                let dm = match cached {
                    Some(dm) => dm,
                    None => {
                        let dm = c.open_dm(&token, user).await.map_err(post_error)?;
                        self.dm_channels
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key, dm.clone());
                        dm
                    }
                };
                let ts = c
                    .post_message(&token, &dm, None, &text, &blocks)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: ts,
                    thread: None,
                })
            }
            Delivery::Receipt { channel, user } => {
                c.post_ephemeral(&token, channel, user, &text, &blocks)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: format!("ephemeral:{channel}:{user}"),
                    thread: None,
                })
            }
        }
    }
}

impl Poster for SlackPoster {
    fn post<'a>(
        &'a self,
        target: &'a Target,
        message: &'a Message,
        thread: Option<&'a str>,
    ) -> PostFuture<'a> {
        Box::pin(self.deliver(target, message, thread))
    }
}
