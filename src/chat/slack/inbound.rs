//! Slack's requests in: slash commands, buttons and modals, Events API. Verify first, parse second,
//! answer within Slack's 3 seconds: handlers record events and outbox rows and reply; the
//! delivery worker posts. The only Web API call made inside a request is `views.open`, which must
//! use the fresh `trigger_id`, under a short timeout.

use super::client::{SlackClient, SlackError};
use super::{render, verify, views};
use crate::chat::grammar;
use crate::chat::interact::{self, Asker, Input, Reply};
use crate::chat::message::COMMAND_ACTION;
use crate::chat::{Delivery, Message, Origin, Target, compose};
use crate::config::Secret;
use crate::delivery::{FindFuture, Found, PostError, PostFuture, Posted, Poster};
use crate::directory::{Directory, Person, PersonId, Platform};
use crate::escalation::{Reference, Verb};
use crate::service::Service;
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

pub use super::tokens::SlackTokens;

/// What the Slack handlers need.
#[derive(Clone)]
pub struct SlackState {
    service: Arc<Service>,
    secrets: Arc<Vec<Secret>>,
    client: SlackClient,
    tokens: Arc<SlackTokens>,
    oauth: Option<Arc<super::install::OAuthSettings>>,
}

impl SlackState {
    /// The same state, installable by OAuth with these settings.
    pub fn with_oauth(mut self, oauth: super::install::OAuthSettings) -> SlackState {
        self.oauth = Some(Arc::new(oauth));
        self
    }

    pub(super) fn oauth(&self) -> Option<&super::install::OAuthSettings> {
        self.oauth.as_deref()
    }

    pub(super) fn service(&self) -> &Service {
        &self.service
    }

    pub(super) fn client(&self) -> &SlackClient {
        &self.client
    }

    /// The bot tokens in use.
    pub fn tokens(&self) -> &SlackTokens {
        &self.tokens
    }

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
            oauth: None,
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
        .route(
            "/slack/install",
            axum::routing::get(super::install::install),
        )
        .route(
            "/slack/oauth/callback",
            axum::routing::get(super::install::callback),
        )
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
/// How long `users.info` may take inside a request, leaving time to answer within 3 seconds.
const USERS_INFO_TIMEOUT: Duration = Duration::from_millis(1500);

/// Who a Slack user is: from the directory, from a link recorded earlier, or — the first time
/// they use the service — by the work email Slack holds for them (`users.info`), linked and
/// recorded so that later requests need no call. Otherwise the answer telling them who to ask.
async fn resolve(state: &SlackState, team: &str, user: &str) -> Result<Person, String> {
    let service = &state.service;
    if let Some(p) = service.directory().by_slack(team, user) {
        return Ok(p.clone());
    }
    match service.linked_person(Platform::Slack, team, user).await {
        Ok(Some(p)) => return Ok(p),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "slack: cannot read identity links"),
    }
    if let Some(token) = state.tokens.current(team).await {
        let call = state.client.user_email(token.expose(), user);
        match tokio::time::timeout(USERS_INFO_TIMEOUT, call).await {
            Ok(Ok(Some(email))) => {
                return service
                    .link_by_email(Platform::Slack, team, user, &email)
                    .await;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, team, user, "slack: users.info failed");
                return Err(lookup_failed(&e, team, user));
            }
            Err(_) => {
                tracing::warn!(team, user, "slack: users.info timed out");
                return Err(lookup_failed(
                    &SlackError::NoAnswer("users.info: timed out".into()),
                    team,
                    user,
                ));
            }
        }
    }
    unknown(service, team, user)
}

/// The answer when Slack could not say who someone is: what happened, that nothing was
/// recorded, and what to do — wait and try again, or whom to ask.
fn lookup_failed(e: &SlackError, team: &str, user: &str) -> String {
    let nothing = "Nothing was recorded";
    match e {
        SlackError::RateLimited { retry_after } => format!(
            "Slack is busy and could not tell escalation-bot who you are just now. {nothing}; try again in {} seconds.",
            retry_after.as_secs().max(1)
        ),
        SlackError::Transient(_) | SlackError::NoAnswer(_) => format!(
            "Slack did not answer when escalation-bot asked who you are. {nothing}; try again in a minute."
        ),
        gone if gone.is_access_gone() => format!(
            "escalation-bot's access to this Slack workspace ({team}) was removed, so it cannot tell who you are. {nothing}. Ask your agency's escalation-bot administrator to install it again from the install link."
        ),
        SlackError::Api { code } if code == "missing_scope" => format!(
            "escalation-bot was installed in this Slack workspace ({team}) without permission to read work emails, so it cannot tell who you are. {nothing}. Ask your agency's escalation-bot administrator to install it again from the install link."
        ),
        SlackError::Api { code } if code == "user_not_found" || code == "user_not_visible" => {
            format!(
                "Slack would not show escalation-bot your profile (user {user} in workspace {team}), so it cannot find you in the directory by your work email. {nothing}. If you are in a channel shared from another organisation, use /challenge in your own agency's workspace; otherwise ask your agency's escalation-bot administrator."
            )
        }
        SlackError::Api { code } => format!(
            "Slack refused to tell escalation-bot who you are ({code}). {nothing}. Ask your agency's escalation-bot administrator."
        ),
    }
}

/// The answer for a Slack user the directory cannot place, naming what to ask for.
fn unknown(service: &Service, team: &str, user: &str) -> Result<Person, String> {
    let dir = service.directory();
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
    let person = match resolve(&state, &cmd.team_id, &cmd.user_id).await {
        Ok(p) => p.clone(),
        Err(text) => return ephemeral(&text),
    };
    let key = Some(if cmd.trigger_id.is_empty() {
        format!("slack:command:{}", signed_body_key(&body))
    } else {
        format!("slack:command:{}", cmd.trigger_id)
    });
    let origin = Origin {
        platform: Platform::Slack,
        workspace: cmd.team_id.clone(),
        channel: cmd.channel_id.clone(),
        user: cmd.user_id.clone(),
    };
    let asker = Asker {
        person: &person,
        origin: (!cmd.channel_id.is_empty()).then_some(&origin),
        command_word: COMMAND,
        channel: (!cmd.channel_id.is_empty()).then_some(cmd.channel_id.as_str()),
        answered_inline: true,
    };
    let reply = interact::handle(&service, asker, Input::Typed(cmd.text.clone()), key).await;
    match reply {
        Reply::Form(view) => {
            let meta = modal_meta(&cmd.channel_id, view.spec.reference.as_deref());
            open_view(
                &state,
                &cmd.team_id,
                &cmd.trigger_id,
                views::modal(&view.spec, &view.values, &meta),
            )
            .await
        }
        Reply::Say(text) | Reply::Refused(text) => ephemeral(&text),
        Reply::Recorded(outcome) => {
            let receipt = interact::receipt(&service, &outcome);
            let dir = service.directory();
            Json(json!({
                "response_type": "ephemeral",
                "text": render::fallback_text(&receipt),
                "blocks": render::blocks(&receipt, &slack_user(&dir, &cmd.team_id)),
            }))
            .into_response()
        }
        Reply::AlreadyRecorded(_) => ephemeral("Already recorded."),
    }
}

/// The app was removed from a workspace (or its bot token revoked): its installed token is
/// forgotten, and the boards of the agencies whose channels are there are told. Posts to the
/// workspace wait, parked and reported, until it is installed again.
async fn uninstalled(state: &SlackState, team: &str) {
    super::install::remove_token(&state.service, team).await;
    state.tokens.uninstall(team);
    tracing::warn!(team, "slack: the app was uninstalled or its token revoked");
    // Held on every replica at once; told once, whether this or a refused post held it first.
    match state
        .service
        .hold_workspace(Platform::Slack, team, "app_uninstalled")
        .await
    {
        Ok(false) => return,
        Ok(true) => {}
        Err(e) => {
            tracing::error!(error = %e, team, "slack: cannot hold posts to an uninstalled workspace; they wait on its refusals instead")
        }
    }
    state
        .service
        .tell_boards_about_workspace(
            Platform::Slack,
            team,
            "escalation-bot was removed",
            &format!(
                "escalation-bot was removed from the Slack workspace {team} (or its access revoked). No post is lost: posts to the agencies there are kept and go out, in order, once an administrator installs it again from the install link."
            ),
        )
        .await;
}

/// A person's Slack user in one workspace, for mentions: none where they are not there.
fn slack_user<'a>(
    dir: &'a Directory,
    workspace: &'a str,
) -> impl Fn(&PersonId) -> Option<String> + 'a {
    move |p| {
        dir.person(p)
            .and_then(|x| x.slack.as_ref())
            .filter(|s| s.workspace == workspace)
            .map(|s| s.user.clone())
    }
}

/// How a slash command starts on Slack, for the help text.
const COMMAND: &str = "/challenge";

/// A key for a signed request Slack sent without a trigger: the body itself, which the
/// signature covers, so a replay of the same body is recognised.
fn signed_body_key(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(body))
}

/// The modal's `private_metadata`: where it was opened and on which challenge.
fn modal_meta(channel: &str, reference: Option<&str>) -> String {
    json!({ "channel": channel, "reference": reference }).to_string()
}

async fn open_view(state: &SlackState, team: &str, trigger_id: &str, view: Value) -> Response {
    let Some(token) = state.tokens.current(team).await else {
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
        "block_actions" => block_action(&state, &team, &payload, &signed_body_key(&body)).await,
        "view_submission" => view_submission(&state, &team, &payload).await,
        _ => StatusCode::OK.into_response(),
    }
}

/// `request` names this request (its signed body's hash), so an answer queued for it is queued
/// once however often Slack delivers it.
async fn block_action(
    state: &SlackState,
    team: &str,
    payload: &Interaction,
    request: &str,
) -> Response {
    let channel = payload
        .channel
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    let person = match resolve(state, team, &payload.user.id).await {
        Ok(p) => p.clone(),
        Err(text) => {
            private_note(state, team, &channel, &payload.user.id, request, &text).await;
            return StatusCode::OK.into_response();
        }
    };
    let Some(action) = payload.actions.first() else {
        return StatusCode::OK.into_response();
    };
    let input = if action.action_id == COMMAND_ACTION {
        // A command button is read back as its word typed.
        Input::Typed(action.value.clone().unwrap_or_default())
    } else {
        let (Some(verb), Some(reference)) = (
            Verb::from_id(&action.action_id),
            action
                .value
                .as_deref()
                .and_then(|v| Reference::parse(v).ok()),
        ) else {
            return StatusCode::OK.into_response();
        };
        Input::Pressed { verb, reference }
    };
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
    let asker = Asker {
        person: &person,
        origin: Some(&origin),
        command_word: COMMAND,
        channel: Some(origin.channel.as_str()),
        answered_inline: false,
    };
    match interact::handle(&state.service, asker, input, key).await {
        Reply::Form(view) => {
            let meta = modal_meta(&channel, view.spec.reference.as_deref());
            open_view(
                state,
                team,
                &trigger,
                views::modal(&view.spec, &view.values, &meta),
            )
            .await
        }
        Reply::Say(text) | Reply::Refused(text) => {
            private_note(state, team, &channel, &payload.user.id, request, &text).await;
            StatusCode::OK.into_response()
        }
        // The receipt goes to the person through the outbox, with the posts.
        Reply::Recorded(_) | Reply::AlreadyRecorded(_) => StatusCode::OK.into_response(),
    }
}

/// Queues a private line to a Slack user (a refused button press has no other way back), keyed
/// by the request it answers so a redelivered request is answered once.
async fn private_note(
    state: &SlackState,
    team: &str,
    channel: &str,
    user: &str,
    request: &str,
    text: &str,
) {
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
    let message = compose::plain("", text);
    let key = format!("note:{}:{request}", target.key());
    if let Err(e) = state
        .service
        .reply_privately("-", key, &target, &message)
        .await
    {
        tracing::error!(error = %e, "slack: cannot queue a private answer");
    }
}

/// An error on a modal that could not be read as one of our forms: shown on its first input.
fn general_error(view: &ViewPayload, text: &str) -> Response {
    let first = view
        .state
        .get("values")
        .and_then(Value::as_object)
        .and_then(|v| v.keys().next().cloned())
        .unwrap_or_default();
    Json(json!({ "response_action": "errors", "errors": { first: text } })).into_response()
}

async fn view_submission(state: &SlackState, team: &str, payload: &Interaction) -> Response {
    let Some(view) = &payload.view else {
        return StatusCode::OK.into_response();
    };
    let person = match resolve(state, team, &payload.user.id).await {
        Ok(p) => p.clone(),
        Err(text) => return general_error(view, &text),
    };
    let Some(verb) = Verb::from_id(&view.callback_id) else {
        return general_error(
            view,
            "This form is not one escalation-bot knows; close it and start again.",
        );
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
    let asker = Asker {
        person: &person,
        origin: origin.as_ref(),
        command_word: COMMAND,
        channel: origin.as_ref().map(|o| o.channel.as_str()),
        answered_inline: false,
    };
    let input = Input::Submitted {
        verb,
        reference: meta
            .reference
            .as_deref()
            .and_then(|r| Reference::parse(r).ok()),
        values: views::values(&view.state),
    };
    let key = Some(format!("slack:view:{}", view.id));
    match interact::handle(&state.service, asker, input, key).await {
        Reply::Recorded(_) | Reply::AlreadyRecorded(_) => StatusCode::OK.into_response(),
        Reply::Form(shown) => {
            Json(views::errors_response(&shown.spec, &shown.errors)).into_response()
        }
        Reply::Say(text) | Reply::Refused(text) => general_error(view, &text),
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
    if matches!(event.kind.as_str(), "app_uninstalled" | "tokens_revoked") {
        let raw: Value = serde_json::from_slice(&body).unwrap_or_default();
        let bot_tokens_gone = event.kind == "app_uninstalled"
            || raw
                .pointer("/event/tokens/bot")
                .and_then(Value::as_array)
                .is_some_and(|b| !b.is_empty());
        if bot_tokens_gone
            && matches!(
                state
                    .service
                    .first_time(&format!("slack:event:{event_id}"))
                    .await,
                Ok(true)
            )
        {
            uninstalled(&state, &team).await;
        }
        return StatusCode::OK.into_response();
    }
    if event.bot_id.is_some() || event.subtype.is_some() {
        return StatusCode::OK.into_response();
    }
    match state
        .service
        .first_time(&format!("slack:event:{event_id}"))
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
            .first_time(&format!("slack:message:{team}:{channel}:{ts}"))
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
            private_note(
                &state,
                &team,
                &channel,
                &user,
                &format!("event:{event_id}"),
                &grammar::help(COMMAND),
            )
            .await
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
        SlackError::NoAnswer(why) => PostError::InDoubt(why),
        api @ SlackError::Api { .. } if api.is_retryable() => PostError::Retry(api.to_string()),
        gone if gone.is_access_gone() => PostError::AccessGone(gone.code().to_string()),
        other => PostError::Permanent(other.code().to_string()),
    }
}

impl SlackPoster {
    /// The workspace's token as every replica knows it now; a workspace without one (never
    /// installed, or uninstalled) has its posts kept until it is installed.
    async fn token(&self, workspace: &str) -> Result<Secret, PostError> {
        self.tokens
            .current(workspace)
            .await
            .ok_or_else(|| PostError::AccessGone("no_token".into()))
    }

    /// Runs a call with the workspace's token; when Slack refuses that token as gone, once
    /// more with the token installed meanwhile (on this replica or another), if there is one.
    async fn with_token<'a, T, F, Fut>(
        &'a self,
        workspace: &'a str,
        call: F,
    ) -> Result<T, PostError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, PostError>> + 'a,
    {
        let token = self.token(workspace).await?;
        match call(token.expose().to_string()).await {
            Err(PostError::AccessGone(code)) => {
                match self.tokens.after_refusal(workspace, &token).await {
                    Some(newer) => call(newer.expose().to_string()).await,
                    None => Err(PostError::AccessGone(code)),
                }
            }
            other => other,
        }
    }

    /// The bot's direct-message channel with a user, opened once and remembered.
    async fn dm_channel(
        &self,
        token: &str,
        workspace: &str,
        user: &str,
    ) -> Result<String, PostError> {
        let key = (workspace.to_string(), user.to_string());
        let cached = self
            .dm_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(dm) = cached {
            return Ok(dm);
        }
        let dm = self.client.open_dm(token, user).await.map_err(post_error)?;
        self.dm_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, dm.clone());
        Ok(dm)
    }

    /// Looks for the post made under `key` since `since` (see [`super::once`]).
    async fn look(
        &self,
        target: &Target,
        thread: Option<&str>,
        key: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Found, PostError> {
        self.with_token(&target.workspace, |token| async move {
            self.look_with(&token, target, thread, key, since).await
        })
        .await
    }

    async fn look_with(
        &self,
        token: &str,
        target: &Target,
        thread: Option<&str>,
        key: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Found, PostError> {
        let workspace = &target.workspace;
        let c = &self.client;
        let (channel, thread_ts) = match &target.delivery {
            Delivery::Root { channel } | Delivery::Notice { channel } => (channel.clone(), None),
            Delivery::Reply { channel } => {
                let thread = thread.ok_or_else(|| PostError::Permanent("no_thread".into()))?;
                (channel.clone(), Some(thread))
            }
            Delivery::Direct { user, .. } => (self.dm_channel(token, workspace, user).await?, None),
            // Rewriting the root again changes nothing.
            Delivery::UpdateRoot { .. } => return Ok(Found::Absent),
            // Slack keeps no trace of a private answer.
            Delivery::Receipt { .. } => return Ok(Found::Unknowable),
        };
        let found = super::once::find(c, token, &channel, thread_ts, key, since)
            .await
            .map_err(post_error)?;
        Ok(match found {
            Some(ts) => Found::Posted(Posted {
                thread: matches!(target.delivery, Delivery::Root { .. }).then(|| ts.clone()),
                id: ts,
            }),
            None => Found::Absent,
        })
    }

    async fn deliver(
        &self,
        target: &Target,
        message: &Message,
        thread: Option<&str>,
        key: &str,
    ) -> Result<Posted, PostError> {
        self.with_token(&target.workspace, |token| async move {
            self.deliver_with(&token, target, message, thread, key)
                .await
        })
        .await
    }

    async fn deliver_with(
        &self,
        token: &str,
        target: &Target,
        message: &Message,
        thread: Option<&str>,
        key: &str,
    ) -> Result<Posted, PostError> {
        let workspace = &target.workspace;
        let metadata = super::once::metadata(key);
        let metadata = Some(&metadata);
        let dir = self.service.directory();
        let blocks = render::blocks(message, &slack_user(&dir, workspace));
        let text = render::fallback_text(message);
        let c = &self.client;
        match &target.delivery {
            Delivery::Root { channel } => {
                let ts = c
                    .post_message(token, channel, None, &text, &blocks, metadata)
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
                    .post_message(token, channel, Some(thread), &text, &blocks, metadata)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: ts,
                    thread: None,
                })
            }
            Delivery::UpdateRoot { channel } => {
                let thread = thread.ok_or_else(|| PostError::Permanent("no_thread".into()))?;
                c.update(token, channel, thread, &text, &blocks)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: thread.to_string(),
                    thread: None,
                })
            }
            Delivery::Notice { channel } => {
                let ts = c
                    .post_message(token, channel, None, &text, &blocks, metadata)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: ts,
                    thread: None,
                })
            }
            Delivery::Direct { user, .. } => {
                let dm = self.dm_channel(token, workspace, user).await?;
                let ts = c
                    .post_message(token, &dm, None, &text, &blocks, metadata)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: ts,
                    thread: None,
                })
            }
            Delivery::Receipt { channel, user } => {
                c.post_ephemeral(token, channel, user, &text, &blocks)
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
        key: &'a str,
    ) -> PostFuture<'a> {
        Box::pin(self.deliver(target, message, thread, key))
    }

    fn find<'a>(
        &'a self,
        target: &'a Target,
        thread: Option<&'a str>,
        key: &'a str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> FindFuture<'a> {
        Box::pin(self.look(target, thread, key, since))
    }
}
