//! A Bot Connector (and Entra ID token endpoint) test server that enforces the contract the
//! service relies on, so a test fails when the service calls Teams wrongly instead of passing
//! against a mock that accepts anything.
//!
//! On 127.0.0.1 (port 0) it serves, like Microsoft:
//! - `POST /{tenant}/oauth2/v2.0/token`: client credentials of a registered bot, asked of the
//!   bot's own tenant (a single-tenant bot asking `botframework.com` is refused, as Entra ID
//!   refuses it), scope `https://api.botframework.com/.default`; answers a bearer token valid
//!   for an hour;
//! - `/teams/v3/conversations…` (the `serviceUrl` is `{url}/teams/`): every call needs
//!   `Authorization: Bearer` with a token it issued (401 otherwise), for a bot of the tenant the
//!   conversation belongs to;
//!   - `POST v3/conversations` with a channel the bot is installed in (404 `ConversationNotFound`
//!     for an unknown channel, 403 `BotNotInConversationRoster` where the app was removed)
//!     starts a thread `"{channel};messageid={id}"`, or with one member of the tenant and the
//!     bot `28:{app id}` starts (or finds) the 1:1 chat;
//!   - `POST …/{conversation}/activities[/{replyTo}]` needs a conversation it created and, for a
//!     reply, an activity in it (404 otherwise);
//!   - `PUT …/{conversation}/activities/{id}` replaces an activity the bot posted (404 otherwise);
//!   - every activity is a `message` whose attachments are Adaptive Cards valid against the 1.5
//!     schema, with mention entities that appear in the card (400 `BadArgument` otherwise);
//! - HTTP 429 with `Retry-After` when one conversation is written to faster than its rate.
//!
//! `set_down(Some(status))` answers that status to every Connector call (an outage). Every
//! accepted call is recorded; each conversation's activities are kept in order.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use escalation_bot::service::{Clock, SystemClock};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// A bot registration the token endpoint knows.
#[derive(Debug, Clone)]
pub struct Bot {
    pub app_id: String,
    pub tenant: String,
    pub secret: String,
}

/// A channel the app is installed in.
#[derive(Debug, Clone)]
pub struct Channel {
    pub tenant: String,
    pub id: String,
}

/// What the server is told before it starts.
#[derive(Clone)]
pub struct Config {
    pub bots: Vec<Bot>,
    pub channels: Vec<Channel>,
    /// Users of each tenant: (tenant, Teams id `29:…`, Entra object id).
    pub users: Vec<(String, String, String)>,
    /// Entra object id → the user's email (their UPN too), as the member lookup shows it; a
    /// user not here has neither.
    pub emails: HashMap<String, String>,
    /// Writes per conversation: a bucket of `burst`, refilled at `per_second`; `Retry-After` secs.
    pub rate: Option<(u32, f64, u64)>,
    pub clock: Arc<dyn Clock>,
}

/// An accepted Connector call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// `create_thread`, `create_personal`, `send`, `reply`, `update`.
    pub kind: String,
    pub conversation: String,
    pub app_id: String,
    pub body: Value,
}

/// An activity as it stands in a conversation.
#[derive(Debug, Clone)]
pub struct Posted {
    pub id: String,
    pub reply_to: Option<String>,
    pub activity: Value,
}

#[derive(Default)]
struct ServerState {
    tokens: HashMap<String, String>,
    token_requests: u64,
    /// conversation id → (tenant, activities in order).
    conversations: BTreeMap<String, (String, Vec<Posted>)>,
    personal: HashMap<(String, String), String>,
    uninstalled: HashSet<String>,
    buckets: HashMap<String, (f64, DateTime<Utc>)>,
    down: Option<u16>,
    next_id: u64,
    calls: Vec<Call>,
    refused: Vec<(u16, String)>,
}

struct Inner {
    config: Config,
    state: Mutex<ServerState>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running server.
pub struct ConnectorServer {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConnectorServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/suite/schemas/adaptive-card-1.5.schema.json"),
        )
        .expect("the Adaptive Cards schema is in tests/suite/schemas");
        let schema: Value = serde_json::from_str(&text).expect("schema JSON");
        jsonschema::validator_for(&schema).expect("the schema compiles")
    })
}

/// Why a card is not one Teams would render: the schema (with Teams' `msteams` mention entities
/// taken off and checked on their own), version at most 1.5.
pub fn card_problems(card: &Value) -> Vec<String> {
    let mut card = card.clone();
    let mut problems = Vec::new();
    if let Some(ms) = card.as_object_mut().and_then(|o| o.remove("msteams")) {
        let text = card.to_string();
        for e in ms["entities"].as_array().cloned().unwrap_or_default() {
            let t = e["text"].as_str().unwrap_or_default();
            if e["type"] != "mention"
                || !t.starts_with("<at>")
                || !text.contains(t)
                || !e["mentioned"]["id"].is_string()
            {
                problems.push(format!("bad mention entity {e}"));
            }
        }
    }
    match card["version"].as_str() {
        Some("1.0" | "1.1" | "1.2" | "1.3" | "1.4" | "1.5") => {}
        other => problems.push(format!("version {other:?} is not one Teams renders")),
    }
    problems.extend(
        schema()
            .iter_errors(&card)
            .map(|e| format!("{e} at {}", e.instance_path())),
    );
    problems
}

fn check_activity(activity: &Value) -> Result<(), String> {
    if activity["type"] != "message" {
        return Err(format!("activity type {} is not message", activity["type"]));
    }
    let attachments = activity["attachments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if attachments.is_empty() && activity["text"].as_str().is_none_or(str::is_empty) {
        return Err("an activity needs text or attachments".into());
    }
    for a in attachments {
        if a["contentType"] != "application/vnd.microsoft.card.adaptive" {
            return Err(format!(
                "contentType {} is not an Adaptive Card",
                a["contentType"]
            ));
        }
        let problems = card_problems(&a["content"]);
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
    }
    Ok(())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
}

async fn token(
    State(inner): State<Arc<Inner>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credentials" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    let Some(bot) = inner
        .config
        .bots
        .iter()
        .find(|b| b.app_id == get("client_id"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "unauthorized_client" })),
        )
            .into_response();
    };
    if bot.tenant != tenant {
        // AADSTS700016: a single-tenant app is not found in another tenant (botframework.com).
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "unauthorized_client", "error_codes": [700016] })),
        )
            .into_response();
    }
    if bot.secret != get("client_secret") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_client", "error_codes": [7000215] })),
        )
            .into_response();
    }
    if get("scope") != "https://api.botframework.com/.default" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_scope" })),
        )
            .into_response();
    }
    let mut state = inner.lock();
    state.token_requests += 1;
    let token = format!("eyJ0ZXN0.{}.{}", bot.app_id, uuid::Uuid::new_v4().simple());
    state.tokens.insert(token.clone(), bot.app_id.clone());
    axum::Json(json!({ "token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token })).into_response()
}

fn take(
    bucket: &mut (f64, DateTime<Utc>),
    burst: u32,
    per_second: f64,
    now: DateTime<Utc>,
) -> bool {
    let elapsed = (now - bucket.1).num_milliseconds().max(0) as f64 / 1000.0;
    bucket.0 = (bucket.0 + elapsed * per_second).min(f64::from(burst));
    bucket.1 = now;
    if bucket.0 >= 1.0 {
        bucket.0 -= 1.0;
        true
    } else {
        false
    }
}

/// The common checks of a Connector call: up, authorised, the bot's tenant, the rate. The error
/// is the whole HTTP answer a refusal gets, built in one place for every route.
#[allow(clippy::result_large_err)]
fn admit(
    inner: &Inner,
    state: &mut ServerState,
    headers: &HeaderMap,
    tenant: &str,
    rate_key: &str,
) -> Result<String, Response> {
    if let Some(status) = state.down {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        state.refused.push((status.as_u16(), "down".into()));
        return Err(error(
            status,
            "ServiceError",
            "the Connector is unavailable",
        ));
    }
    let Some(app_id) = bearer(headers).and_then(|t| state.tokens.get(&t).cloned()) else {
        state.refused.push((401, "no token".into()));
        return Err((
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "message": "Authorization has been denied for this request." })),
        )
            .into_response());
    };
    let bot_tenant = inner
        .config
        .bots
        .iter()
        .find(|b| b.app_id == app_id)
        .map(|b| b.tenant.clone());
    if bot_tenant.as_deref() != Some(tenant) {
        state
            .refused
            .push((403, format!("bot {app_id} is not in tenant {tenant}")));
        return Err(error(
            StatusCode::FORBIDDEN,
            "BotNotInConversationRoster",
            "The bot is not part of the conversation roster.",
        ));
    }
    if let Some((burst, per_second, retry_after)) = inner.config.rate {
        let now = inner.config.clock.now();
        let bucket = state
            .buckets
            .entry(rate_key.to_string())
            .or_insert((f64::from(burst), now));
        if !take(bucket, burst, per_second, now) {
            state.refused.push((429, rate_key.to_string()));
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after.into());
            return Err(r);
        }
    }
    Ok(app_id)
}

fn next_id(state: &mut ServerState) -> String {
    state.next_id += 1;
    format!("17800000{:05}", state.next_id)
}

async fn create(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "BadSyntax", "not JSON");
    };
    let tenant = body["tenantId"]
        .as_str()
        .or(body["channelData"]["tenant"]["id"].as_str())
        .unwrap_or_default()
        .to_string();
    let mut state = inner.lock();
    if let Some(channel) = body["channelData"]["channel"]["id"].as_str() {
        let app_id = match admit(&inner, &mut state, &headers, &tenant, channel) {
            Ok(a) => a,
            Err(r) => return r,
        };
        if !inner
            .config
            .channels
            .iter()
            .any(|c| c.id == channel && c.tenant == tenant)
        {
            state.refused.push((404, channel.to_string()));
            return error(
                StatusCode::NOT_FOUND,
                "ConversationNotFound",
                "Conversation not found.",
            );
        }
        if state.uninstalled.contains(channel) {
            state.refused.push((403, channel.to_string()));
            return error(
                StatusCode::FORBIDDEN,
                "BotNotInConversationRoster",
                "The bot is not part of the conversation roster.",
            );
        }
        if body["isGroup"] != true {
            return error(
                StatusCode::BAD_REQUEST,
                "BadArgument",
                "a channel thread is a group conversation",
            );
        }
        if let Err(why) = check_activity(&body["activity"]) {
            state.refused.push((400, why.clone()));
            return error(StatusCode::BAD_REQUEST, "BadArgument", &why);
        }
        let id = next_id(&mut state);
        let conversation = format!("{channel};messageid={id}");
        state.conversations.insert(
            conversation.clone(),
            (
                tenant.clone(),
                vec![Posted {
                    id: id.clone(),
                    reply_to: None,
                    activity: body["activity"].clone(),
                }],
            ),
        );
        state.calls.push(Call {
            method: "POST".into(),
            kind: "create_thread".into(),
            conversation: conversation.clone(),
            app_id,
            body: body.clone(),
        });
        let service_url = format!(
            "http://{}/teams/",
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default()
        );
        return axum::Json(
            json!({ "id": conversation, "activityId": id, "serviceUrl": service_url }),
        )
        .into_response();
    }
    // A 1:1 chat.
    let app_id = match admit(&inner, &mut state, &headers, &tenant, "personal") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let members = body["members"].as_array().cloned().unwrap_or_default();
    let member = members
        .first()
        .and_then(|m| m["id"].as_str())
        .unwrap_or_default()
        .to_string();
    let known = inner
        .config
        .users
        .iter()
        .find(|(t, id, aad)| t == &tenant && (id == &member || aad == &member))
        .map(|(_, id, _)| id.clone());
    if members.len() != 1 || body["bot"]["id"] != format!("28:{app_id}") || body["isGroup"] == true
    {
        return error(
            StatusCode::BAD_REQUEST,
            "BadArgument",
            "a 1:1 chat has the bot and one member",
        );
    }
    let Some(user) = known else {
        state.refused.push((404, member.clone()));
        return error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The user is not in this tenant.",
        );
    };
    let conversation = state
        .personal
        .entry((tenant.clone(), user.clone()))
        .or_insert_with(|| format!("a:1{}", uuid::Uuid::new_v4().simple()))
        .clone();
    state
        .conversations
        .entry(conversation.clone())
        .or_insert((tenant, Vec::new()));
    state.calls.push(Call {
        method: "POST".into(),
        kind: "create_personal".into(),
        conversation: conversation.clone(),
        app_id,
        body,
    });
    axum::Json(json!({ "id": conversation })).into_response()
}

fn write(
    inner: &Inner,
    headers: &HeaderMap,
    conversation: &str,
    target: Option<&str>,
    body: &[u8],
    method: &str,
) -> Response {
    let Ok(activity) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "BadSyntax", "not JSON");
    };
    let mut state = inner.lock();
    let Some(tenant) = state
        .conversations
        .get(conversation)
        .map(|(t, _)| t.clone())
    else {
        if state.down.is_none() {
            state.refused.push((404, conversation.to_string()));
        }
        return match state.down {
            Some(s) => error(
                StatusCode::from_u16(s).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                "ServiceError",
                "down",
            ),
            None => error(
                StatusCode::NOT_FOUND,
                "ConversationNotFound",
                "Conversation not found.",
            ),
        };
    };
    let app_id = match admit(inner, &mut state, headers, &tenant, conversation) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(why) = check_activity(&activity) {
        state.refused.push((400, why.clone()));
        return error(StatusCode::BAD_REQUEST, "BadArgument", &why);
    }
    let exists = |state: &ServerState, id: &str| {
        state
            .conversations
            .get(conversation)
            .is_some_and(|(_, acts)| acts.iter().any(|a| a.id == id))
    };
    if let Some(id) = target
        && !exists(&state, id)
    {
        state
            .refused
            .push((404, format!("{conversation} has no activity {id}")));
        return error(
            StatusCode::NOT_FOUND,
            "ActivityNotFound",
            "The activity does not exist.",
        );
    }
    let kind = match (method, target) {
        ("PUT", _) => "update",
        (_, Some(_)) => "reply",
        _ => "send",
    };
    let id = if kind == "update" {
        let id = target.unwrap_or_default().to_string();
        if let Some((_, acts)) = state.conversations.get_mut(conversation)
            && let Some(a) = acts.iter_mut().find(|a| a.id == id)
        {
            a.activity = activity.clone();
        }
        id
    } else {
        let id = next_id(&mut state);
        if let Some((_, acts)) = state.conversations.get_mut(conversation) {
            acts.push(Posted {
                id: id.clone(),
                reply_to: target.map(str::to_string),
                activity: activity.clone(),
            });
        }
        id
    };
    state.calls.push(Call {
        method: method.into(),
        kind: kind.into(),
        conversation: conversation.to_string(),
        app_id,
        body: activity,
    });
    axum::Json(json!({ "id": id })).into_response()
}

/// `GET v3/conversations/{conversation}/members/{member}`: one member of a conversation the bot
/// is in (a channel it is installed in, a thread or chat it has), by Teams id or Entra object
/// id, as a `TeamsChannelAccount`; 404 `MemberNotFoundInConversation` for anyone else.
async fn member(
    State(inner): State<Arc<Inner>>,
    Path((conversation, member)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut state = inner.lock();
    let channel = conversation.split(';').next().unwrap_or_default();
    let tenant = state
        .conversations
        .get(&conversation)
        .map(|(t, _)| t.clone())
        .or_else(|| {
            inner
                .config
                .channels
                .iter()
                .find(|c| c.id == channel && !state.uninstalled.contains(&c.id))
                .map(|c| c.tenant.clone())
        });
    let Some(tenant) = tenant else {
        state.refused.push((404, conversation.clone()));
        return error(
            StatusCode::NOT_FOUND,
            "ConversationNotFound",
            "Conversation not found.",
        );
    };
    let app_id = match admit(&inner, &mut state, &headers, &tenant, &conversation) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some((_, id, aad)) = inner
        .config
        .users
        .iter()
        .find(|(t, id, aad)| *t == tenant && (*id == member || *aad == member))
    else {
        state.refused.push((404, format!("no member {member}")));
        return error(
            StatusCode::NOT_FOUND,
            "MemberNotFoundInConversation",
            "The member was not found in the conversation.",
        );
    };
    let mut account = json!({
        "id": id,
        "name": format!("Member {aad}"),
        "aadObjectId": aad,
        "tenantId": tenant,
        "userRole": "user",
    });
    if let Some(email) = inner.config.emails.get(aad) {
        account["email"] = json!(email);
        account["userPrincipalName"] = json!(email);
    }
    state.calls.push(Call {
        method: "GET".into(),
        kind: "member".into(),
        conversation: conversation.clone(),
        app_id,
        body: account.clone(),
    });
    axum::Json(account).into_response()
}

async fn send(
    State(inner): State<Arc<Inner>>,
    Path(conversation): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&inner, &headers, &conversation, None, &body, "POST")
}

async fn reply(
    State(inner): State<Arc<Inner>>,
    Path((conversation, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&inner, &headers, &conversation, Some(&id), &body, "POST")
}

async fn update(
    State(inner): State<Arc<Inner>>,
    Path((conversation, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&inner, &headers, &conversation, Some(&id), &body, "PUT")
}

impl Config {
    pub fn new(
        bots: Vec<Bot>,
        channels: Vec<Channel>,
        users: Vec<(String, String, String)>,
    ) -> Config {
        Config {
            bots,
            channels,
            users,
            emails: HashMap::new(),
            rate: Some((7, 7.0, 1)),
            clock: Arc::new(SystemClock),
        }
    }
}

impl ConnectorServer {
    pub async fn start(config: Config) -> ConnectorServer {
        let inner = Arc::new(Inner {
            config,
            state: Mutex::new(ServerState::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the Connector test server binds");
        let addr = listener.local_addr().expect("an address");
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/teams/v3/conversations", post(create))
            .route(
                "/teams/v3/conversations/{conversation}/activities",
                post(send),
            )
            .route(
                "/teams/v3/conversations/{conversation}/activities/{id}",
                post(reply).put(update),
            )
            .route(
                "/teams/v3/conversations/{conversation}/members/{member}",
                axum::routing::get(member),
            )
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ConnectorServer {
            url: format!("http://{addr}"),
            inner,
            task,
        }
    }

    /// The `serviceUrl` activities carry and the app posts to.
    pub fn service_url(&self) -> String {
        format!("{}/teams/", self.url)
    }

    /// An outage: every Connector call answers this status (or `None`: up again).
    pub fn set_down(&self, status: Option<u16>) {
        self.inner.lock().down = status;
    }

    /// The app was removed from the team of this channel.
    pub fn uninstall(&self, channel: &str) {
        self.inner.lock().uninstalled.insert(channel.to_string());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().calls.clone()
    }

    /// Refused calls: (status, why).
    pub fn refused(&self) -> Vec<(u16, String)> {
        self.inner.lock().refused.clone()
    }

    pub fn token_requests(&self) -> u64 {
        self.inner.lock().token_requests
    }

    /// A person starts a thread in a channel (typing there, as Teams users do); the thread's
    /// conversation id and the message's activity id.
    pub fn user_posts(&self, tenant: &str, channel: &str, text: &str) -> (String, String) {
        let mut state = self.inner.lock();
        let id = next_id(&mut state);
        let conversation = format!("{channel};messageid={id}");
        state.conversations.insert(
            conversation.clone(),
            (
                tenant.to_string(),
                vec![Posted {
                    id: id.clone(),
                    reply_to: None,
                    activity: json!({ "type": "message", "text": text, "from": "user" }),
                }],
            ),
        );
        (conversation, id)
    }

    /// A person writes in an existing conversation (a thread, or their chat with the bot);
    /// the new activity's id. A 1:1 chat is created if it does not exist yet.
    pub fn user_writes(&self, tenant: &str, conversation: &str, text: &str) -> String {
        let mut state = self.inner.lock();
        let id = next_id(&mut state);
        state
            .conversations
            .entry(conversation.to_string())
            .or_insert((tenant.to_string(), Vec::new()))
            .1
            .push(Posted {
                id: id.clone(),
                reply_to: None,
                activity: json!({ "type": "message", "text": text, "from": "user" }),
            });
        id
    }

    /// A person's 1:1 chat with the bot (as when they open it in Teams).
    pub fn personal_chat(&self, tenant: &str, user: &str) -> String {
        let mut state = self.inner.lock();
        let conversation = state
            .personal
            .entry((tenant.to_string(), user.to_string()))
            .or_insert_with(|| format!("a:1{}", uuid::Uuid::new_v4().simple()))
            .clone();
        state
            .conversations
            .entry(conversation.clone())
            .or_insert((tenant.to_string(), Vec::new()));
        conversation
    }

    /// Every thread started in a channel, oldest first: (conversation id, its activities).
    pub fn threads(&self, channel: &str) -> Vec<(String, Vec<Posted>)> {
        self.inner
            .lock()
            .conversations
            .iter()
            .filter(|(id, _)| id.starts_with(&format!("{channel};messageid=")))
            .map(|(id, (_, acts))| (id.clone(), acts.clone()))
            .collect()
    }

    /// A conversation's activities in order.
    pub fn conversation(&self, id: &str) -> Vec<Posted> {
        self.inner
            .lock()
            .conversations
            .get(id)
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    }

    /// Ids of the 1:1 chats, by Teams user id.
    pub fn personal(&self, tenant: &str, user: &str) -> Option<String> {
        self.inner
            .lock()
            .personal
            .get(&(tenant.to_string(), user.to_string()))
            .cloned()
    }
}

/// Every text of a card activity (its card's strings), for looking for phrases.
pub fn card_text(activity: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(&activity["attachments"], &mut out);
    out
}
