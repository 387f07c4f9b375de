//! Teams' requests in at `POST /api/messages`: authenticate first, then parse, then answer fast.
//!
//! Messages that @mention the bot run the shared command grammar; Adaptive Card actions arrive
//! as `adaptiveCard/action` invokes (answered in the same HTTP response with the card that
//! replaces the one pressed) or, from clients without Universal Actions, as `Action.Submit`
//! messages. Handlers record events and outbox rows and answer at once; the Bot Connector is
//! never called inside a request. A reply to a message (help, status, an error) is itself an
//! outbox row, delivered by the worker as a reply to the person's message.
//!
//! Idempotency: Teams redelivers after 15 seconds and sometimes twice, with the same activity
//! id. Recorded commands carry `teams:activity:<id>` (or `teams:form:<id>` for a single-use
//! form) as their inbound key, and replies carry the activity id in their outbox key, so a
//! redelivery records and posts nothing twice.

use super::BotRegistration;
use super::activity::{ADAPTIVE_CARD_ACTION, Activity, Envelope};
use super::auth::{AuthError, BotAuth};
use super::cards;
use super::client::{ConnectorClient, ConnectorError};
use super::forms::{self, CardKind};
use crate::chat::forms::FormSpec;
use crate::chat::interact::{self, Asker, FormView, Input, Reply};
use crate::chat::message::COMMAND_ACTION;
use crate::chat::{Button, Delivery, Message, Origin, Target, compose};
use crate::delivery::{PostError, PostFuture, Posted, Poster};
use crate::directory::{Person, PersonId, Platform};
use crate::escalation::{Reference, Verb};
use crate::service::{Outcome, Service};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Addresses learnt from activities, shared by the handlers (which learn them) and the poster.
#[derive(Default)]
struct Addresses {
    service_urls: Mutex<HashMap<String, String>>,
    users: Mutex<HashSet<(String, String, String)>>,
}

/// What the Teams handlers and poster need.
#[derive(Clone)]
pub struct TeamsState {
    service: Arc<Service>,
    auth: Arc<BotAuth>,
    client: ConnectorClient,
    bots: Arc<Vec<BotRegistration>>,
    default_service_url: String,
    addresses: Arc<Addresses>,
}

/// Where the Teams adapter's outside services are (Microsoft's by default; tests serve their own).
#[derive(Debug, Clone)]
pub struct TeamsEndpoints {
    /// The Bot Framework OpenID metadata document.
    pub openid_metadata_url: String,
    /// The Entra ID token endpoint base.
    pub token_base_url: String,
    /// The Connector base for a tenant none of whose activities has named one yet.
    pub default_service_url: String,
}

impl TeamsState {
    /// The Teams adapter's state for these bot registrations.
    pub fn new(
        service: Arc<Service>,
        bots: Vec<BotRegistration>,
        endpoints: &TeamsEndpoints,
        http: reqwest::Client,
    ) -> TeamsState {
        let app_ids = bots.iter().map(|b| b.app_id.clone()).collect();
        TeamsState {
            service,
            auth: Arc::new(BotAuth::new(
                &endpoints.openid_metadata_url,
                http.clone(),
                app_ids,
            )),
            client: ConnectorClient::new(&endpoints.token_base_url, http),
            bots: Arc::new(bots),
            default_service_url: endpoints.default_service_url.clone(),
            addresses: Arc::new(Addresses::default()),
        }
    }

    /// The poster the delivery worker uses for Teams targets.
    pub fn poster(&self) -> TeamsPoster {
        TeamsPoster {
            state: self.clone(),
            personal: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The token verifier (its fetch count shows in tests).
    pub fn auth(&self) -> &BotAuth {
        &self.auth
    }

    /// Records the tenant's `serviceUrl` and the sender's Teams id, when they are new to us.
    async fn remember(&self, a: &Activity) {
        let Some(tenant) = a.tenant() else { return };
        let addresses = super::known::KnownAddresses::of(&self.service);
        if !a.service_url.is_empty() {
            let known = self
                .addresses
                .service_urls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(tenant)
                .cloned();
            if known.as_deref() != Some(a.service_url.as_str()) {
                match addresses.remember_service_url(tenant, &a.service_url).await {
                    Ok(()) => {
                        self.addresses
                            .service_urls
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(tenant.to_string(), a.service_url.clone());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "teams: cannot record a tenant's serviceUrl")
                    }
                }
            }
        }
        if let Some(aad) = a.from.aad_object_id.as_deref().filter(|s| !s.is_empty())
            && a.from.id.starts_with("29:")
        {
            let key = (tenant.to_string(), aad.to_string(), a.from.id.clone());
            let new = !self
                .addresses
                .users
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&key);
            if new {
                match addresses.remember_user(tenant, aad, &a.from.id).await {
                    Ok(()) => {
                        self.addresses
                            .users
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key);
                    }
                    Err(e) => tracing::warn!(error = %e, "teams: cannot record a user's Teams id"),
                }
            }
        }
    }

    async fn service_url(&self, tenant: &str) -> String {
        if let Some(url) = self
            .addresses
            .service_urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .cloned()
        {
            return url;
        }
        match super::known::KnownAddresses::of(&self.service)
            .service_url(tenant)
            .await
        {
            Ok(Some(url)) => {
                self.addresses
                    .service_urls
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(tenant.to_string(), url.clone());
                url
            }
            Ok(None) => self.default_service_url.clone(),
            Err(e) => {
                tracing::warn!(error = %e, "teams: cannot read a tenant's serviceUrl; using the default");
                self.default_service_url.clone()
            }
        }
    }

    /// The bot registration that serves a tenant (the only one, when there is just one).
    fn bot_for(&self, tenant: &str) -> Option<&BotRegistration> {
        self.bots
            .iter()
            .find(|b| b.tenant_id == tenant)
            .or_else(|| (self.bots.len() == 1).then(|| &self.bots[0]))
    }
}

/// Teams' one endpoint.
pub fn routes<S>(state: TeamsState) -> Router<S> {
    Router::new()
        .route("/api/messages", post(messages))
        .with_state(state)
}

fn refuse(e: &AuthError) -> Response {
    tracing::warn!(error = %e, "teams: refused a request that failed authentication");
    let text = match e.status() {
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::SERVICE_UNAVAILABLE => "cannot check the token just now",
        _ => "unauthorized",
    };
    (e.status(), text).into_response()
}

async fn messages(State(state): State<TeamsState>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = match state.auth.verify(authorization).await {
        Ok(t) => t,
        Err(e) => return refuse(&e),
    };
    let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
        return (StatusCode::BAD_REQUEST, "malformed activity").into_response();
    };
    if let Err(e) = token.check_activity(&envelope.service_url, &envelope.channel_id) {
        return refuse(&e);
    }
    let Ok(activity) = serde_json::from_slice::<Activity>(&body) else {
        return (StatusCode::BAD_REQUEST, "malformed activity").into_response();
    };
    // A token for one tenant's bot speaks only for that tenant.
    let tenant_bot = activity.tenant().and_then(|t| state.bot_for(t));
    if !tenant_bot.is_some_and(|bot| token.claims.aud.names(&bot.app_id)) {
        return refuse(&AuthError::WrongTenant);
    }
    // Addresses are kept only for people the directory knows: nothing is stored for anyone else.
    if activity.kind != "message" && activity.kind != "invoke" {
        // Installs, removals and other events carry no person to resolve.
    } else if resolve(&state, &activity).await.is_ok() {
        state.remember(&activity).await;
    }
    match activity.kind.as_str() {
        "message" => {
            on_message(&state, &activity).await;
            StatusCode::OK.into_response()
        }
        "invoke" => on_invoke(&state, &activity).await,
        "conversationUpdate" | "installationUpdate" => {
            on_install_change(&state, &activity).await;
            StatusCode::OK.into_response()
        }
        _ => StatusCode::OK.into_response(),
    }
}

// ---- the app added to or removed from a team or chat ----

/// What the bot says where it was just added: how to connect the channel.
pub const WELCOME: &str = "Thanks for adding escalation-bot. An escalation-bot administrator of your agency (as your Board's directory names them) types @escalation-bot connect in the channel your agency's challenges should be threaded in. Then anyone in the directory types @escalation-bot challenge to raise one; @escalation-bot help lists the rest.";

/// The bot added to a team or chat (`conversationUpdate` with the bot among the members
/// added): a welcome there saying how to connect. Removed (`installationUpdate` `remove`, or
/// the bot among the members removed): the boards of the tenant's agencies are told.
async fn on_install_change(state: &TeamsState, a: &Activity) {
    let Some(tenant) = a.tenant() else {
        return;
    };
    let is_bot =
        |m: &super::activity::ChannelAccount| m.id == a.recipient.id || m.id.starts_with("28:");
    let added = a.kind == "conversationUpdate" && a.members_added.iter().any(is_bot);
    let removed = (a.kind == "installationUpdate"
        && a.action.as_deref().is_some_and(|x| x.starts_with("remove")))
        || (a.kind == "conversationUpdate" && a.members_removed.iter().any(is_bot));
    if !added && !removed {
        return;
    }
    let conversation = a.conversation.id.split(';').next().unwrap_or_default();
    let once = format!(
        "teams:{}:{tenant}:{conversation}:{}",
        if added { "added" } else { "removed" },
        a.id
    );
    match state.service.first_time(&once).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(error = %e, "teams: cannot record an install activity");
            return;
        }
    }
    state.remember(a).await;
    if added {
        let target = Target {
            platform: Platform::Teams,
            workspace: tenant.to_string(),
            delivery: Delivery::Notice {
                channel: conversation.to_string(),
            },
        };
        let message = compose::channel_notice("escalation-bot", WELCOME);
        if let Err(e) = state
            .service
            .reply_privately("teams-install", once, &target, &message)
            .await
        {
            tracing::error!(error = %e, "teams: cannot queue the welcome");
        }
    } else {
        tracing::warn!(tenant, "teams: the app was removed from a team or chat");
        state
            .service
            .tell_boards_about_workspace(
                Platform::Teams,
                tenant,
                "escalation-bot was removed",
                &format!(
                    "escalation-bot was removed from a team or chat in the Microsoft 365 tenant {tenant}. Posts to the agencies' channels there wait and are reported here until it is added again."
                ),
            )
            .await;
    }
}

// ---- replies: outbox rows answering a person's message ----

/// Where a reply to a person goes: the conversation they wrote in and the activity it answers,
/// and a form to show instead of the message where one is asked for. Encoded into the
/// `Receipt` target's channel (`conversation|activity` or `conversation|activity|form=verb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyAddress {
    pub conversation: String,
    pub reply_to: String,
    pub form: Option<Verb>,
}

impl ReplyAddress {
    /// The address as a `Receipt` channel.
    pub fn encode(&self) -> String {
        match self.form {
            Some(f) => format!("{}|{}|form={}", self.conversation, self.reply_to, f.id()),
            None => format!("{}|{}", self.conversation, self.reply_to),
        }
    }

    /// Reads an encoded address.
    pub fn decode(s: &str) -> Option<ReplyAddress> {
        let mut parts = s.split('|');
        let conversation = parts.next().filter(|c| !c.is_empty())?.to_string();
        let reply_to = parts.next().unwrap_or("").to_string();
        let form = parts
            .next()
            .and_then(|f| f.strip_prefix("form="))
            .and_then(Verb::from_id);
        Some(ReplyAddress {
            conversation,
            reply_to,
            form,
        })
    }
}

fn address_of(a: &Activity) -> ReplyAddress {
    ReplyAddress {
        conversation: a.conversation.id.clone(),
        reply_to: a
            .reply_to_id
            .clone()
            .filter(|r| a.value.is_some() && !r.is_empty())
            .unwrap_or_else(|| a.id.clone()),
        form: None,
    }
}

/// Queues a reply to a person's message (the worker posts it); keyed by the activity id, so a
/// redelivered activity queues nothing more.
async fn reply(
    state: &TeamsState,
    a: &Activity,
    address: ReplyAddress,
    reference: &str,
    text: &str,
    form: Option<FormSpec>,
) {
    let Some(tenant) = a.tenant() else {
        tracing::warn!("teams: an activity without a tenant cannot be answered");
        return;
    };
    let target = Target {
        platform: Platform::Teams,
        workspace: tenant.to_string(),
        delivery: Delivery::Receipt {
            channel: address.encode(),
            user: a.from.aad_object_id.clone().unwrap_or_default(),
        },
    };
    let mut message = compose::plain(reference, text);
    // A form to show travels as the one button that opens it; the poster draws it as a card.
    if let Some(spec) = form {
        message.buttons.push(Button {
            action: spec.verb().unwrap_or(Verb::Raise),
            label: spec.submit.clone(),
            reference: reference.to_string(),
            primary: true,
            form: Some(spec),
        });
    }
    let owner = if reference.is_empty() { "-" } else { reference };
    let key = format!("teams:reply:{}:{}", a.id, address.reply_to);
    if let Err(e) = state
        .service
        .reply_privately(owner, key, &target, &message)
        .await
    {
        tracing::error!(error = %e, "teams: cannot queue a reply");
    }
}

/// How long the member lookup may take inside a request.
const MEMBER_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(2000);

/// Who a Teams user is: from the directory, from a link recorded earlier, or — the first time
/// they use the service — by the email (or UPN) the conversation member lookup gives for them,
/// linked and recorded so later requests need no call. Otherwise the answer saying who to ask.
async fn resolve(state: &TeamsState, a: &Activity) -> Result<Person, String> {
    let service = &state.service;
    let tenant = a.tenant().unwrap_or("");
    let aad = a.from.aad_object_id.as_deref().unwrap_or("");
    if let Some(p) = service.directory().by_teams(tenant, aad) {
        return Ok(p.clone());
    }
    if tenant.is_empty() || aad.is_empty() {
        return unknown(service, tenant, aad);
    }
    match service.linked_person(Platform::Teams, tenant, aad).await {
        Ok(Some(p)) => return Ok(p),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "teams: cannot read identity links"),
    }
    if let Some(bot) = state.bot_for(tenant)
        && !a.service_url.is_empty()
        && !a.conversation.id.is_empty()
    {
        let member = if a.from.id.is_empty() {
            aad
        } else {
            a.from.id.as_str()
        };
        let call = state
            .client
            .member_email(bot, &a.service_url, &a.conversation.id, member);
        match tokio::time::timeout(MEMBER_LOOKUP_TIMEOUT, call).await {
            Ok(Ok(Some(email))) => {
                return service
                    .link_by_email(Platform::Teams, tenant, aad, &email)
                    .await;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "teams: member lookup failed"),
            Err(_) => tracing::warn!("teams: member lookup timed out"),
        }
    }
    unknown(service, tenant, aad)
}

/// The answer for a Teams user the directory cannot place, naming what to ask for.
fn unknown(service: &Service, tenant: &str, aad: &str) -> Result<Person, String> {
    let dir = service.directory();
    let known_tenant = !tenant.is_empty()
        && (dir.agencies().any(|a| {
            a.channels
                .iter()
                .any(|c| c.platform == Platform::Teams && c.workspace == tenant)
        }) || dir
            .people()
            .any(|p| p.teams.as_ref().is_some_and(|t| t.tenant == tenant)));
    if known_tenant {
        Err(format!(
            "You are not in the escalation-bot directory yet, so you cannot raise or act on challenges. Ask your agency's escalation-bot administrator to add you (Microsoft Entra object id {aad} in tenant {tenant})."
        ))
    } else {
        Err(format!(
            "This Microsoft 365 tenant ({tenant}) is not connected to escalation-bot. Ask your agency's escalation-bot administrator to add your agency, its Teams channel and its people to the directory."
        ))
    }
}

/// The command text after the mention: a leading `challenge` (or `/challenge`) followed by more
/// is the habit of Slack users and is dropped, so `@escalation-bot challenge note REF …` works.
fn command_text(text: &str) -> &str {
    let t = text.trim();
    for word in ["/challenge", "challenge"] {
        if let Some(rest) = t.strip_prefix(word)
            && rest.starts_with(char::is_whitespace)
            && !rest.trim().is_empty()
        {
            return rest.trim();
        }
    }
    t
}

fn origin(a: &Activity, address: &ReplyAddress) -> Option<Origin> {
    Some(Origin {
        platform: Platform::Teams,
        workspace: a.tenant()?.to_string(),
        channel: address.encode(),
        user: a.from.aad_object_id.clone().unwrap_or_default(),
    })
}

async fn on_message(state: &TeamsState, a: &Activity) {
    let address = address_of(a);
    if let Some(value) = a
        .value
        .as_ref()
        .filter(|v| v.get("verb").and_then(Value::as_str).is_some())
    {
        return on_submit(state, a, value, address).await;
    }
    let person = match resolve(state, a).await {
        Ok(p) => p.clone(),
        Err(text) => return reply(state, a, address, "", &text, None).await,
    };
    let text = a.text_without_bot_mention();
    let key = Some(format!("teams:activity:{}", a.id));
    let origin = origin(a, &address);
    let asker = Asker {
        person: &person,
        origin: origin.as_ref(),
        command_word: COMMAND,
        channel: a.channel(),
        answered_inline: false,
    };
    let input = Input::Typed(command_text(&text).to_string());
    match interact::handle(&state.service, asker, input, key).await {
        Reply::Say(text) | Reply::Refused(text) => reply(state, a, address, "", &text, None).await,
        Reply::Form(view) => {
            let reference = view.spec.reference.clone().unwrap_or_default();
            let address = ReplyAddress {
                form: view.spec.verb(),
                ..address
            };
            let text = format!("{}: fill in the form.", view.spec.title);
            reply(state, a, address, &reference, &text, Some(view.spec)).await;
        }
        // The receipt goes back through the outbox with the posts.
        Reply::Recorded(_) | Reply::AlreadyRecorded(_) => {}
    }
}

/// How a command starts on Teams, for the help text.
const COMMAND: &str = "@escalation-bot";

// ---- card actions ----

/// What a card action comes to, before it is said through an invoke response or a reply.
enum Answer {
    /// Replace the card with this one.
    Card(Value),
    /// The form again, with what is wrong (the person's input kept).
    Form(Value, Box<FormView>),
    /// Leave the card; tell the person this.
    Text(String),
    /// An action we do not support.
    NotSupported(String),
}

/// How a card names people in a tenant: by their Entra object id there.
fn lookup_in<'a>(
    service: &'a Service,
    tenant: &'a str,
) -> impl Fn(&PersonId) -> Option<String> + 'a {
    let dir = service.directory();
    move |p: &PersonId| {
        dir.person(p)
            .and_then(|x| x.teams.as_ref())
            .filter(|t| t.tenant == tenant)
            .map(|t| t.aad_object_id.clone())
    }
}

/// The card that replaces the one pressed after a successful action: the fresh root card on a
/// root card, else a receipt of what was recorded.
fn card_after(service: &Service, tenant: &str, card: CardKind, outcome: &Outcome) -> Answer {
    let d = &outcome.dispute;
    let Ok((policy, calendar)) = service.policy(&d.policy) else {
        return Answer::Text(format!("Recorded on {}.", outcome.reference));
    };
    let dir = service.directory();
    let scene = compose::Scene {
        policy,
        calendar,
        dir: &dir,
        now: service.now(),
    };
    let message = match card {
        CardKind::Root => compose::root(&scene, d),
        _ => compose::receipt(&scene, d, &outcome.events),
    };
    Answer::Card(cards::card(&message, &lookup_in(service, tenant)))
}

/// The card for a dispute as it is now, after a duplicate.
async fn current_card(
    service: &Service,
    tenant: &str,
    card: CardKind,
    reference: &Reference,
    note: &str,
) -> Answer {
    match (card, service.dispute(reference).await) {
        (CardKind::Root, Ok(d)) => match service.policy(&d.policy) {
            Ok((policy, calendar)) => {
                let dir = service.directory();
                let scene = compose::Scene {
                    policy,
                    calendar,
                    dir: &dir,
                    now: service.now(),
                };
                Answer::Card(cards::card(
                    &compose::root(&scene, &d),
                    &lookup_in(service, tenant),
                ))
            }
            Err(_) => Answer::Text(note.to_string()),
        },
        _ => Answer::Text(note.to_string()),
    }
}

/// Runs a card action (from `Action.Execute` or the `Action.Submit` fallback). `origin` is
/// where a receipt goes when the answer cannot be carried by an invoke response.
async fn card_action(
    state: &TeamsState,
    a: &Activity,
    person: &Person,
    data: &Value,
    origin: Option<&Origin>,
) -> Answer {
    let service = &state.service;
    let tenant = a.tenant().unwrap_or("");
    let verb_id = data.get("verb").and_then(Value::as_str).unwrap_or("");
    let card = CardKind::parse(data.get("card").and_then(Value::as_str).unwrap_or(""));
    let form_id = data
        .get("form_id")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty());
    // A form card can be filled in by anyone who sees it (a raise form in a channel): the
    // key names the person, so only the same person sending the same form twice is a retry.
    let key = Some(match form_id {
        Some(f) => format!("teams:form:{f}:{}", person.id.0),
        None => format!("teams:activity:{}", a.id),
    });
    let asker = Asker {
        person,
        origin,
        command_word: COMMAND,
        channel: a.channel(),
        answered_inline: false,
    };
    if verb_id == COMMAND_ACTION {
        // A command button is read back as its word typed.
        let word = data.get("command").and_then(Value::as_str).unwrap_or("");
        return match interact::handle(service, asker, Input::Typed(word.to_string()), key).await {
            Reply::Say(text) | Reply::Refused(text) => Answer::Text(text),
            Reply::Form(view) => {
                let shown = forms::form_card(&view.spec, &view.values, &view.errors, card, form_id);
                Answer::Form(shown, view)
            }
            Reply::Recorded(outcome) => card_after(service, tenant, card, &outcome),
            Reply::AlreadyRecorded(_) => Answer::Text("Already recorded.".into()),
        };
    }
    let Some(verb) = Verb::from_id(verb_id) else {
        return Answer::NotSupported("escalation-bot does not know this action".into());
    };
    let reference = match data
        .get("reference")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(Reference::parse)
    {
        Some(Ok(r)) => Some(r),
        Some(Err(_)) => {
            return Answer::Text(
                "This card names a challenge reference escalation-bot cannot read.".into(),
            );
        }
        None => None,
    };
    let values = forms::values_from(verb_id, data);
    // A press with nothing filled in on a verb without a form (acknowledge, confirm) acts at
    // once; anything else is a submitted form.
    let input = match (&reference, values.is_empty(), verb) {
        (Some(r), true, Verb::Acknowledge | Verb::ConfirmResolution) => Input::Pressed {
            verb,
            reference: r.clone(),
        },
        _ => Input::Submitted {
            verb,
            reference: reference.clone(),
            values,
        },
    };
    match interact::handle(service, asker, input, key).await {
        Reply::Recorded(outcome) => card_after(service, tenant, card, &outcome),
        // The same person sending the same raise form again: say what it already did.
        Reply::AlreadyRecorded(Some(r)) if verb == Verb::Raise => Answer::Text(format!(
            "Already recorded: you raised {r} with this form. Its thread is in your agency's channel."
        )),
        Reply::AlreadyRecorded(Some(r)) => {
            current_card(service, tenant, card, &r, "Already recorded.").await
        }
        Reply::AlreadyRecorded(None) => Answer::Text("Already recorded.".into()),
        Reply::Form(view) => {
            let shown = forms::form_card(&view.spec, &view.values, &view.errors, card, form_id);
            Answer::Form(shown, view)
        }
        Reply::Say(text) | Reply::Refused(text) => Answer::Text(text),
    }
}

/// `adaptiveCard/action`: answered in this HTTP response, in the shape Teams requires
/// (`statusCode`, `type`, `value`), always with a body.
async fn on_invoke(state: &TeamsState, a: &Activity) -> Response {
    if a.name.as_deref() != Some(ADAPTIVE_CARD_ACTION) {
        let body = cards::invoke_error(
            501,
            "NotImplemented",
            "escalation-bot handles only adaptiveCard/action invokes",
        );
        return (StatusCode::NOT_IMPLEMENTED, Json(body)).into_response();
    }
    let action = a.value.as_ref().and_then(|v| v.get("action"));
    if action.and_then(|x| x.get("type")).and_then(Value::as_str) != Some("Action.Execute") {
        return Json(cards::invoke_error(
            400,
            "NotSupported",
            "only Action.Execute is supported",
        ))
        .into_response();
    }
    let Some(data) = action.and_then(|x| x.get("data")).filter(|d| d.is_object()) else {
        return Json(cards::invoke_error(
            400,
            "BadRequest",
            "the action carries no data",
        ))
        .into_response();
    };
    let mut data = data.clone();
    if data.get("verb").is_none()
        && let Some(verb) = action.and_then(|x| x.get("verb")).cloned()
    {
        data["verb"] = verb;
    }
    let person = match resolve(state, a).await {
        Ok(p) => p.clone(),
        Err(text) => return Json(cards::invoke_message(&text)).into_response(),
    };
    let body = match card_action(state, a, &person, &data, None).await {
        Answer::Card(card) | Answer::Form(card, _) => cards::invoke_card(card),
        Answer::Text(text) => cards::invoke_message(&text),
        Answer::NotSupported(why) => cards::invoke_error(400, "NotSupported", &why),
    };
    Json(body).into_response()
}

/// `Action.Submit` (clients without Universal Actions): a message whose `value` holds the data.
/// Nothing can be answered in the response, so problems go back as a reply and the root card
/// is brought up to date by the worker.
async fn on_submit(state: &TeamsState, a: &Activity, data: &Value, address: ReplyAddress) {
    let person = match resolve(state, a).await {
        Ok(p) => p.clone(),
        Err(text) => return reply(state, a, address, "", &text, None).await,
    };
    let origin = origin(a, &address);
    let reference = data
        .get("reference")
        .and_then(Value::as_str)
        .and_then(|r| Reference::parse(r).ok())
        .map(|r| r.to_string())
        .unwrap_or_default();
    match card_action(state, a, &person, data, origin.as_ref()).await {
        Answer::Card(_) => {}
        Answer::Form(_, view) => {
            let lines: Vec<String> = view
                .errors
                .iter()
                .map(|(field, e)| match view.spec.field(field) {
                    Some(f) => format!("{}: {e}", f.label),
                    None => e.clone(),
                })
                .collect();
            let text = format!(
                "Please check the form (what you typed is still in it):\n{}",
                lines.join("\n")
            );
            reply(state, a, address, &reference, &text, None).await;
        }
        Answer::Text(text) | Answer::NotSupported(text) => {
            reply(state, a, address, &reference, &text, None).await
        }
    }
}

// ---- outbound ----

/// Posts to Teams for the delivery worker.
#[derive(Clone)]
pub struct TeamsPoster {
    state: TeamsState,
    /// 1:1 conversations already created, by (tenant, Entra object id).
    personal: Arc<Mutex<HashMap<(String, String), String>>>,
}

fn post_error(e: ConnectorError) -> PostError {
    match e {
        ConnectorError::RateLimited { retry_after } => PostError::RateLimited(retry_after),
        ConnectorError::Transient(why) => PostError::Retry(why),
        ConnectorError::NoAnswer(why) => PostError::InDoubt(why),
        ConnectorError::Permanent { code, message } => {
            PostError::Permanent(format!("{code}: {message}"))
        }
    }
}

/// A root post's thread as stored: the thread's conversation id and the root activity id.
fn split_thread(thread: Option<&str>) -> Result<(&str, &str), PostError> {
    thread
        .and_then(|t| t.rsplit_once('|'))
        .filter(|(c, a)| !c.is_empty() && !a.is_empty())
        .ok_or_else(|| {
            PostError::Permanent(
                "no_thread: the dispute's thread in this channel is not recorded".into(),
            )
        })
}

impl TeamsPoster {
    async fn personal_chat(
        &self,
        bot: &BotRegistration,
        service_url: &str,
        tenant: &str,
        aad: &str,
    ) -> Result<String, PostError> {
        let key = (tenant.to_string(), aad.to_string());
        if let Some(c) = self
            .personal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
        {
            return Ok(c);
        }
        let user = match super::known::KnownAddresses::of(&self.state.service)
            .user_id(tenant, aad)
            .await
        {
            Ok(Some(id)) => id,
            Ok(None) => aad.to_string(),
            Err(e) => {
                return Err(PostError::Retry(format!(
                    "cannot read the user's Teams id: {e}"
                )));
            }
        };
        let conversation = self
            .state
            .client
            .create_personal(bot, service_url, tenant, &user)
            .await
            .map_err(post_error)?;
        self.personal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, conversation.clone());
        Ok(conversation)
    }

    /// The form card a reply carries (a raise form is tied to the reply's activity, so a
    /// second submission of the same card is recognised).
    fn form_card(form: Verb, message: &Message, form_id: &str) -> Option<Value> {
        let spec = message
            .buttons
            .iter()
            .find(|b| b.action == form)
            .and_then(|b| b.form.as_ref())?;
        let id = (form == Verb::Raise).then_some(form_id);
        Some(forms::form_card(
            spec,
            &crate::chat::forms::Values::new(),
            &crate::chat::forms::FormErrors::new(),
            CardKind::Form,
            id,
        ))
    }

    async fn deliver(
        &self,
        target: &Target,
        message: &Message,
        thread: Option<&str>,
    ) -> Result<Posted, PostError> {
        let tenant = target.workspace.as_str();
        let bot = self
            .state
            .bot_for(tenant)
            .ok_or_else(|| {
                PostError::Permanent(format!(
                    "no_bot: no Teams bot registration is configured for tenant {tenant}"
                ))
            })?
            .clone();
        let service_url = self.state.service_url(tenant).await;
        let service = &self.state.service;
        let card = cards::card(message, &lookup_in(service, tenant));
        let activity = cards::activity(card, &message.fallback);
        let c = &self.state.client;
        match &target.delivery {
            Delivery::Root { channel } => {
                let (conversation, root) = c
                    .create_channel_thread(&bot, &service_url, tenant, channel, &activity)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: root.clone(),
                    thread: Some(format!("{conversation}|{root}")),
                })
            }
            Delivery::Reply { .. } => {
                let (conversation, root) = split_thread(thread)?;
                let id = c
                    .reply(&bot, &service_url, conversation, root, &activity)
                    .await
                    .map_err(post_error)?;
                Ok(Posted { id, thread: None })
            }
            Delivery::UpdateRoot { .. } => {
                let (conversation, root) = split_thread(thread)?;
                c.update(&bot, &service_url, conversation, root, &activity)
                    .await
                    .map_err(post_error)?;
                Ok(Posted {
                    id: root.to_string(),
                    thread: None,
                })
            }
            Delivery::Notice { channel } => {
                let (_, id) = c
                    .create_channel_thread(&bot, &service_url, tenant, channel, &activity)
                    .await
                    .map_err(post_error)?;
                Ok(Posted { id, thread: None })
            }
            Delivery::Direct { user, .. } => {
                let conversation = self.personal_chat(&bot, &service_url, tenant, user).await?;
                let id = c
                    .send(&bot, &service_url, &conversation, &activity)
                    .await
                    .map_err(post_error)?;
                Ok(Posted { id, thread: None })
            }
            Delivery::Receipt { channel, .. } => {
                let address = ReplyAddress::decode(channel).ok_or_else(|| {
                    PostError::Permanent(format!(
                        "bad_address: {channel:?} is not a Teams reply address"
                    ))
                })?;
                let activity = match address
                    .form
                    .and_then(|f| Self::form_card(f, message, &address.reply_to))
                {
                    Some(form) => cards::activity(form, &message.fallback),
                    None => activity,
                };
                let id = if address.reply_to.is_empty() {
                    c.send(&bot, &service_url, &address.conversation, &activity)
                        .await
                } else {
                    c.reply(
                        &bot,
                        &service_url,
                        &address.conversation,
                        &address.reply_to,
                        &activity,
                    )
                    .await
                }
                .map_err(post_error)?;
                Ok(Posted { id, thread: None })
            }
        }
    }
}

impl Poster for TeamsPoster {
    fn post<'a>(
        &'a self,
        target: &'a Target,
        message: &'a Message,
        thread: Option<&'a str>,
        _key: &'a str,
    ) -> PostFuture<'a> {
        Box::pin(self.deliver(target, message, thread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_addresses_round_trip_with_and_without_a_form() {
        let a = ReplyAddress {
            conversation: "19:abc@thread.tacv2;messageid=17".into(),
            reply_to: "17".into(),
            form: None,
        };
        assert_eq!(ReplyAddress::decode(&a.encode()), Some(a.clone()));
        let f = ReplyAddress {
            form: Some(Verb::Escalate),
            ..a
        };
        assert_eq!(
            f.encode(),
            "19:abc@thread.tacv2;messageid=17|17|form=escalate"
        );
        assert_eq!(ReplyAddress::decode(&f.encode()), Some(f));
        assert_eq!(ReplyAddress::decode(""), None);
    }

    #[test]
    fn a_leading_challenge_word_is_dropped_only_before_a_command() {
        assert_eq!(command_text("challenge"), "challenge");
        assert_eq!(
            command_text("challenge note NSAB-2026-0001 met"),
            "note NSAB-2026-0001 met"
        );
        assert_eq!(
            command_text("/challenge status NSAB-2026-0001"),
            "status NSAB-2026-0001"
        );
        assert_eq!(command_text("challenges"), "challenges");
        assert!(matches!(
            crate::chat::grammar::parse(command_text("challenge")),
            Ok(crate::chat::Typed::Verb {
                verb: Verb::Raise,
                ..
            })
        ));
    }

    #[test]
    fn the_help_speaks_of_mentions_not_slash_commands() {
        let h = crate::chat::grammar::help(COMMAND);
        assert!(!h.contains("/challenge"), "{h}");
        assert!(h.contains("@escalation-bot note REF"));
        assert!(h.contains("@escalation-bot raise — raise a challenge"));
    }

    #[test]
    fn threads_split_into_conversation_and_root_activity() {
        assert_eq!(
            split_thread(Some("19:c@thread.tacv2;messageid=5|5")).ok(),
            Some(("19:c@thread.tacv2;messageid=5", "5"))
        );
        assert!(split_thread(None).is_err());
        assert!(split_thread(Some("no-bar")).is_err());
    }
}
