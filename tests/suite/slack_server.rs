//! A Slack Web API test server that enforces the contract the service relies on, so a test fails
//! when the service calls Slack wrongly instead of passing against a mock that accepts anything.
//!
//! It serves `POST /api/{method}` on 127.0.0.1 (port 0) and checks, like Slack:
//! - `Authorization: Bearer xoxb-…` with a token it issued to a workspace (`not_authed`,
//!   `invalid_auth`); each token belongs to one workspace, and channels and users are that
//!   workspace's own;
//! - a JSON (or form-encoded) body with each method's required fields: `chat.postMessage` needs
//!   `channel` and `text` or `blocks`, and a `thread_ts` must be the `ts` of a top-level message
//!   it returned in that channel (`thread_not_found`); `chat.update` needs `channel` and a `ts` it
//!   returned there (`message_not_found`); `chat.postEphemeral` needs `channel` and `user`;
//!   `conversations.open` needs `users`; `views.open` needs a `trigger_id` it issued, used once
//!   within 3 seconds, and a modal `view`;
//! - message metadata: a post's `metadata` must be `{event_type, event_payload}` (an object, or
//!   the same as a JSON string) or the post is refused (`invalid_metadata_format`); it is kept
//!   with the message and returned by `conversations.history` (a channel's top-level messages,
//!   newest first) and `conversations.replies` (a thread's parent and replies, oldest first) only
//!   when asked with `include_all_metadata`; both need a `channel` (`channel_not_found`), replies
//!   a `ts` it returned there (`thread_not_found`), and honour `oldest`, `latest`, `inclusive`,
//!   `limit` and `cursor`;
//! - a message's `ts` is the server's clock (seconds.microseconds), always increasing;
//! - `ok: false, error: channel_not_found` for a channel it was not told about (or a DM channel
//!   never opened);
//! - HTTP 429 with `Retry-After` when one channel is posted to faster than its rate (a token
//!   bucket: `burst` messages at once, then `per_second`).
//!
//! Switches: `set_down(Down::Unavailable)` answers HTTP 503, `set_down(Down::Refusing)` closes
//! every new connection unanswered (and answers 503 with `Connection: close` on one already
//! open), `set_delay` holds every answer, `after_posts` makes the next posts accepted (kept in the
//! channel) and then stalled or their connection dropped before the answer, as a network
//! failing at the worst moment would, and `pause_workspace` answers 429 with a `Retry-After` to
//! every post into a workspace for a while. `revoke` revokes a workspace's bot token as an
//! uninstall does: every call with it is answered `{"ok": false, "error": "token_revoked"}`, and
//! installing again by OAuth issues a fresh token. Every accepted call is recorded (method, workspace,
//! body, answer) and every attempt, accepted or not, with the server's clock, which a test may
//! share with the app (a `ManualClock`) so that rate limits and `Retry-After` run in the same time.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use escalation_bot::service::{Clock, SystemClock};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a `trigger_id` may be exchanged for a modal after it was issued.
const TRIGGER_LIFETIME_MS: i64 = 3000;

/// One workspace the server knows: its bot token, its channels and its users.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub team: String,
    pub token: String,
    pub channels: Vec<String>,
    pub users: Vec<String>,
    /// user → the email in their profile, which `users.info` shows (the app has
    /// `users:read.email`); a user not here has a profile without one.
    pub emails: HashMap<String, String>,
}

impl Workspace {
    pub fn new(team: &str, token: &str, channels: &[&str], users: &[&str]) -> Workspace {
        Workspace {
            team: team.to_string(),
            token: token.to_string(),
            channels: channels.iter().map(ToString::to_string).collect(),
            users: users.iter().map(ToString::to_string).collect(),
            emails: HashMap::new(),
        }
    }

    /// The same workspace with a member whose profile carries this email.
    pub fn with_member(mut self, user: &str, email: &str) -> Workspace {
        if !self.users.iter().any(|u| u == user) {
            self.users.push(user.to_string());
        }
        self.emails.insert(user.to_string(), email.to_string());
        self
    }
}

/// Per-channel pacing of `chat.postMessage`: a bucket of `burst` posts refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub burst: u32,
    pub per_second: f64,
    /// What `Retry-After` says, in seconds.
    pub retry_after_secs: u64,
}

impl RateLimit {
    /// About one message a second per channel, with Slack's "short bursts" allowed.
    pub fn slack_like() -> RateLimit {
        RateLimit {
            burst: 10,
            per_second: 1.0,
            retry_after_secs: 1,
        }
    }

    /// Strictly one message a second per channel.
    pub fn strict(retry_after_secs: u64) -> RateLimit {
        RateLimit {
            burst: 1,
            per_second: 1.0,
            retry_after_secs,
        }
    }
}

/// The app's OAuth credentials as Slack holds them, and the redirect URL its manifest registers.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    /// The bot scopes an install must ask for.
    pub scopes: Vec<String>,
}

/// What the server is told before it starts.
#[derive(Clone)]
pub struct Config {
    pub workspaces: Vec<Workspace>,
    /// The app installs by OAuth v2 with these credentials (`oauth.v2.access`).
    pub oauth: Option<OAuthApp>,
    pub rate: Option<RateLimit>,
    /// The server's time, for pacing, `Retry-After` and trigger expiry.
    pub clock: Arc<dyn Clock>,
}

impl Config {
    pub fn new(workspaces: Vec<Workspace>) -> Config {
        Config {
            workspaces,
            oauth: None,
            rate: Some(RateLimit::slack_like()),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Whether the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    Up,
    /// HTTP 503 to every call.
    Unavailable,
    /// New connections are closed without an answer.
    Refusing,
}

/// What happens to a post after it is accepted and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterPost {
    /// The answer is held this long before it is sent.
    Stall(Duration),
    /// The connection is dropped before the answer's body.
    Drop,
}

/// An accepted call: what was asked and what the server answered.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub team: String,
    pub body: Value,
    pub response: Value,
}

impl Call {
    /// A body field as text ("" when absent).
    pub fn field(&self, name: &str) -> &str {
        self.body
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Every request that reached a handler, accepted or not.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub method: String,
    /// The workspace of the token, when it was a known one.
    pub team: Option<String>,
    pub channel: Option<String>,
    pub at: DateTime<Utc>,
    /// `ok`, Slack's error code, or `http_503` / `http_429`.
    pub outcome: String,
    /// The `Retry-After` sent with a 429.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone)]
struct Stored {
    /// Top-level message (a thread can hang off it) rather than a reply.
    top_level: bool,
    /// The parent's `ts`, for a reply.
    thread_ts: Option<String>,
    text: Value,
    blocks: Value,
    metadata: Option<Value>,
}

#[derive(Default)]
struct ServerState {
    down: Option<Down>,
    delay: Duration,
    calls: Vec<Call>,
    cursor: usize,
    attempts: Vec<Attempt>,
    refused_connections: u64,
    next_ts: u64,
    /// The last message `ts` given, in microseconds.
    last_ts_us: i64,
    next_view: u64,
    /// (team, channel) → messages by ts (in order: every ts has the same width).
    messages: HashMap<(String, String), BTreeMap<String, Stored>>,
    /// How many of the next accepted posts are stalled or dropped, and how; roots only or any.
    after_posts: Option<(AfterPost, usize, bool)>,
    /// team → the end of a 429 pause on posts.
    paused: HashMap<String, (DateTime<Utc>, u64)>,
    /// Workspaces whose app was installed without the history scopes (`missing_scope`).
    without_history: Vec<String>,
    /// (team, user) → DM channel id, once opened.
    dms: HashMap<(String, String), String>,
    /// trigger id → (issued at, used).
    triggers: HashMap<String, (DateTime<Utc>, bool)>,
    /// OAuth code → (workspace team, redirect URI it was issued for, used).
    codes: HashMap<String, (String, String, bool)>,
    /// (team, channel) → (tokens, last refill).
    buckets: HashMap<(String, String), (f64, DateTime<Utc>)>,
    /// team → (how many of the next `users.info` calls are answered 429, their `Retry-After`).
    users_info_limited: HashMap<String, (usize, u64)>,
    /// Bot tokens revoked (the app removed from the workspace).
    revoked: std::collections::HashSet<String>,
    /// Tokens issued by installing again after a revocation → their workspace's team.
    reissued: HashMap<String, String>,
}

struct Inner {
    config: Config,
    tokens: HashMap<String, Workspace>,
    state: Mutex<ServerState>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running server.
pub struct SlackServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A listener that closes new connections while the server is `Refusing`.
struct Gate {
    listener: tokio::net::TcpListener,
    inner: Arc<Inner>,
}

impl axum::serve::Listener for Gate {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = axum::serve::Listener::accept(&mut self.listener).await;
            let refusing = {
                let mut state = self.inner.lock();
                let refusing = state.down == Some(Down::Refusing);
                if refusing {
                    state.refused_connections += 1;
                }
                refusing
            };
            if refusing {
                drop(io);
                continue;
            }
            return (io, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

impl SlackServer {
    /// Starts a server on 127.0.0.1 with a free port.
    pub async fn start(config: Config) -> SlackServer {
        let tokens = config
            .workspaces
            .iter()
            .map(|w| (w.token.clone(), w.clone()))
            .collect();
        let inner = Arc::new(Inner {
            config,
            tokens,
            state: Mutex::new(ServerState::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the Slack test server binds a port");
        let addr = listener.local_addr().expect("a bound address");
        let app = Router::new()
            .route("/api/{method}", post(handle))
            .with_state(inner.clone());
        let gate = Gate {
            listener,
            inner: inner.clone(),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(gate, app).await;
        });
        SlackServer {
            url: format!("http://{addr}"),
            inner,
            task,
        }
    }

    /// What `SLACK_API_BASE_URL` should be.
    pub fn api_base(&self) -> String {
        format!("{}/api/", self.url)
    }

    pub fn set_down(&self, down: Down) {
        self.inner.lock().down = (down != Down::Up).then_some(down);
    }

    /// Holds every answer this long (zero: answer at once).
    pub fn set_delay(&self, delay: Duration) {
        self.inner.lock().delay = delay;
    }

    /// An admin of `team` allows the app on Slack's authorize page at `authorize_url` (as the
    /// app redirected them there): checked like Slack checks it (the app's client id, its
    /// registered redirect URL, the scopes), answered with the redirect back to the app
    /// carrying a one-use code and the app's own state.
    pub fn allow(&self, authorize_url: &str, team: &str) -> Result<String, String> {
        let oauth = self
            .inner
            .config
            .oauth
            .as_ref()
            .ok_or("the app is not set up for OAuth")?;
        let (_, query) = authorize_url
            .split_once('?')
            .ok_or("the authorize URL has no query")?;
        let q: HashMap<String, String> =
            serde_urlencoded::from_str(query).map_err(|e| e.to_string())?;
        let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
        if get("client_id") != oauth.client_id {
            return Err("invalid_client_id".into());
        }
        if get("redirect_uri") != oauth.redirect_uri {
            return Err("bad_redirect_uri".into());
        }
        let asked: Vec<&str> = get("scope").split(',').collect();
        if let Some(missing) = oauth.scopes.iter().find(|s| !asked.contains(&s.as_str())) {
            return Err(format!("scope {missing} is not asked for"));
        }
        if !self.inner.config.workspaces.iter().any(|w| w.team == team) {
            return Err(format!("no workspace {team}"));
        }
        let code = format!("{}.{}", team, uuid::Uuid::new_v4().simple());
        self.inner.lock().codes.insert(
            code.clone(),
            (team.to_string(), oauth.redirect_uri.clone(), false),
        );
        Ok(format!(
            "{}?{}",
            oauth.redirect_uri,
            serde_urlencoded::to_string([("code", code.as_str()), ("state", get("state"))])
                .unwrap_or_default()
        ))
    }

    /// A fresh `trigger_id`, as Slack puts in a slash command or an interaction payload.
    pub fn issue_trigger(&self) -> String {
        let now = self.inner.config.clock.now();
        let mut state = self.inner.lock();
        let id = format!(
            "{}.{}.{:032x}",
            8_000_000 + state.triggers.len(),
            now.timestamp(),
            uuid::Uuid::new_v4().as_u128()
        );
        state.triggers.insert(id.clone(), (now, false));
        id
    }

    /// The next `count` accepted posts (roots only, or any post) are kept and then stalled or
    /// their connection dropped, so the poster never learns they went through.
    pub fn after_posts(&self, how: AfterPost, count: usize, roots_only: bool) {
        self.inner.lock().after_posts = Some((how, count, roots_only));
    }

    /// Posts into `team` are answered 429 with `Retry-After: secs` until `secs` seconds from now.
    pub fn pause_workspace(&self, team: &str, secs: u64) {
        let until = self.inner.config.clock.now() + chrono::Duration::seconds(secs as i64);
        self.inner
            .lock()
            .paused
            .insert(team.to_string(), (until, secs));
    }

    /// The next `count` `users.info` calls into `team` are answered HTTP 429 with
    /// `Retry-After: secs` (Tier 4 rate limits), as a burst of newcomers can make Slack do.
    pub fn limit_users_info(&self, team: &str, count: usize, secs: u64) {
        self.inner
            .lock()
            .users_info_limited
            .insert(team.to_string(), (count, secs));
    }

    /// Revokes `team`'s bot token as removing the app does: calls with it are refused with
    /// `token_revoked` from now on; installing again issues a new one.
    pub fn revoke(&self, team: &str) {
        let mut state = self.inner.lock();
        let current = current_token(&self.inner, &state, team);
        if let Some(token) = current {
            state.revoked.insert(token);
        }
    }

    /// A new bot token for `team`, as reinstalling the app from Slack's own settings gives the
    /// administrator; the one before is revoked.
    pub fn reissue(&self, team: &str) -> String {
        let mut state = self.inner.lock();
        let before = current_token(&self.inner, &state, team).unwrap_or_default();
        state.revoked.insert(before.clone());
        let fresh = format!("{before}-reissued-{:04}", state.reissued.len() + 1);
        state.reissued.insert(fresh.clone(), team.to_string());
        fresh
    }

    /// The bot token Slack holds for `team` now (a new one after an install following a revocation).
    pub fn token_of(&self, team: &str) -> Option<String> {
        let state = self.inner.lock();
        current_token(&self.inner, &state, team)
    }

    /// The app in `team` was installed without `channels:history` and `groups:history`.
    pub fn without_history_scopes(&self, team: &str) {
        self.inner.lock().without_history.push(team.to_string());
    }

    /// Every message in a channel as it stands: (ts, thread_ts, metadata).
    pub fn channel_messages(
        &self,
        team: &str,
        channel: &str,
    ) -> Vec<(String, Option<String>, Option<Value>)> {
        let state = self.inner.lock();
        state
            .messages
            .get(&(team.to_string(), channel.to_string()))
            .map(|m| {
                m.iter()
                    .map(|(ts, s)| (ts.clone(), s.thread_ts.clone(), s.metadata.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every accepted call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().calls.clone()
    }

    /// The accepted calls since the last `take_calls`.
    pub fn take_calls(&self) -> Vec<Call> {
        let mut state = self.inner.lock();
        let from = state.cursor;
        state.cursor = state.calls.len();
        state.calls[from..].to_vec()
    }

    /// Every attempt so far, accepted or not.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.inner.lock().attempts.clone()
    }

    /// Connections closed unanswered while `Refusing`.
    pub fn refused_connections(&self) -> u64 {
        self.inner.lock().refused_connections
    }

    /// A message as it stands now (after any `chat.update`): `{"text": …, "blocks": …}`.
    pub fn message(&self, team: &str, channel: &str, ts: &str) -> Option<Value> {
        let state = self.inner.lock();
        state
            .messages
            .get(&(team.to_string(), channel.to_string()))
            .and_then(|m| m.get(ts))
            .map(|m| json!({ "text": m.text, "blocks": m.blocks }))
    }
}

/// A workspace's bot token now: the newest reissued one, else the one it was set up with.
fn current_token(inner: &Inner, state: &ServerState, team: &str) -> Option<String> {
    let mut reissued: Vec<&String> = state
        .reissued
        .iter()
        .filter(|(_, t)| t.as_str() == team)
        .map(|(token, _)| token)
        .collect();
    reissued.sort();
    reissued.last().map(|t| (*t).clone()).or_else(|| {
        inner
            .config
            .workspaces
            .iter()
            .find(|w| w.team == team)
            .map(|w| w.token.clone())
    })
}

fn envelope(ok: bool, error: &str) -> Value {
    if ok {
        json!({ "ok": true })
    } else {
        json!({ "ok": false, "error": error })
    }
}

fn api_error(error: &str) -> Response {
    axum::Json(envelope(false, error)).into_response()
}

/// The body as a JSON object, from JSON or a form.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, &'static str> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    match mime {
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err("invalid_json"),
        },
        "application/x-www-form-urlencoded" => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).map_err(|_| "invalid_form_data")?;
            let mut map = Map::new();
            for (k, v) in pairs {
                // Form bodies carry blocks and views as JSON strings.
                let value = if matches!(k.as_str(), "blocks" | "view") {
                    serde_json::from_str(&v).unwrap_or(Value::String(v))
                } else {
                    Value::String(v)
                };
                map.insert(k, value);
            }
            Ok(map)
        }
        _ => Err("invalid_form_data"),
    }
}

fn text_of<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `blocks`, when present, must be an array of at most `max` objects each with a `type`.
fn check_blocks(blocks: Option<&Value>, max: usize) -> Result<(), &'static str> {
    match blocks {
        None => Ok(()),
        Some(Value::Array(items)) => {
            let typed = items
                .iter()
                .all(|b| b.get("type").and_then(Value::as_str).is_some());
            if items.len() > max || !typed {
                Err("invalid_blocks")
            } else {
                Ok(())
            }
        }
        Some(_) => Err("invalid_blocks"),
    }
}

/// A message needs `text` or non-empty `blocks`; `text` at most 40,000 characters.
fn check_content(body: &Map<String, Value>) -> Result<(), &'static str> {
    check_blocks(body.get("blocks"), 50)?;
    let has_blocks = body
        .get("blocks")
        .and_then(Value::as_array)
        .is_some_and(|b| !b.is_empty());
    match text_of(body, "text") {
        Some(t) if t.chars().count() > 40_000 => Err("msg_too_long"),
        Some(_) => Ok(()),
        None if has_blocks => Ok(()),
        None => Err("no_text"),
    }
}

/// A post's `metadata`: None when absent, an error when it is not `{event_type, event_payload}`.
fn check_metadata(body: &Map<String, Value>) -> Result<Option<Value>, &'static str> {
    let Some(raw) = body.get("metadata") else {
        return Ok(None);
    };
    let value = match raw {
        Value::String(text) => serde_json::from_str(text).map_err(|_| "invalid_metadata_format")?,
        other => other.clone(),
    };
    let typed = value
        .get("event_type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let payload = value.get("event_payload").is_some_and(Value::is_object);
    if typed && payload {
        Ok(Some(value))
    } else {
        Err("invalid_metadata_format")
    }
}

/// A boolean argument, as JSON or as a form's text.
fn flag(body: &Map<String, Value>, name: &str) -> bool {
    match body.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// A message as the history methods show it.
fn shown(ts: &str, m: &Stored, with_metadata: bool, replies: usize) -> Value {
    let mut v = json!({ "type": "message", "ts": ts, "text": m.text, "bot_id": "B0TEST" });
    if let Some(parent) = &m.thread_ts {
        v["thread_ts"] = json!(parent);
    } else if replies > 0 {
        v["thread_ts"] = json!(ts);
        v["reply_count"] = json!(replies);
    }
    if with_metadata && let Some(metadata) = &m.metadata {
        v["metadata"] = metadata.clone();
    }
    v
}

/// `conversations.history` or, with `thread`, `conversations.replies`.
fn history(state: &ServerState, ws: &Workspace, body: &Map<String, Value>, thread: bool) -> Answer {
    let Some(channel) = text_of(body, "channel") else {
        return Answer::error("channel_not_found");
    };
    if !channel_known(ws, state, channel) {
        return Answer::error("channel_not_found");
    }
    let empty = BTreeMap::new();
    let messages = state
        .messages
        .get(&(ws.team.clone(), channel.to_string()))
        .unwrap_or(&empty);
    let number = |name: &str| -> Option<f64> {
        match body.get(name) {
            Some(Value::String(s)) => s.parse().ok(),
            Some(Value::Number(n)) => n.as_f64(),
            _ => None,
        }
    };
    let (oldest, latest) = (number("oldest"), number("latest"));
    let inclusive = flag(body, "inclusive");
    let within = |ts: &str| {
        let t: f64 = ts.parse().unwrap_or(0.0);
        let after = oldest.is_none_or(|o| if inclusive { t >= o } else { t > o });
        let before = latest.is_none_or(|l| if inclusive { t <= l } else { t < l });
        after && before
    };
    let with_metadata = flag(body, "include_all_metadata");
    let replies_of = |parent: &str| {
        messages
            .values()
            .filter(|m| m.thread_ts.as_deref() == Some(parent))
            .count()
    };
    let mut picked: Vec<Value> = if thread {
        let Some(parent) = text_of(body, "ts") else {
            return Answer::error("thread_not_found");
        };
        if !messages.get(parent).is_some_and(|m| m.top_level) {
            return Answer::error("thread_not_found");
        }
        messages
            .iter()
            .filter(|(ts, m)| ts.as_str() == parent || m.thread_ts.as_deref() == Some(parent))
            .filter(|(ts, _)| ts.as_str() == parent || within(ts))
            .map(|(ts, m)| shown(ts, m, with_metadata, replies_of(ts)))
            .collect()
    } else {
        messages
            .iter()
            .rev()
            .filter(|(ts, m)| m.top_level && within(ts))
            .map(|(ts, m)| shown(ts, m, with_metadata, replies_of(ts)))
            .collect()
    };
    let limit = number("limit").map_or(100, |l| l.clamp(1.0, 999.0) as usize);
    let start = match text_of(body, "cursor") {
        None => 0,
        Some(c) => match c
            .strip_prefix("next:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return Answer::error("invalid_cursor"),
        },
    };
    let rest = picked.split_off(start.min(picked.len()));
    let more = rest.len() > limit;
    let page: Vec<Value> = rest.into_iter().take(limit).collect();
    let next = if more {
        format!("next:{}", start + limit)
    } else {
        String::new()
    };
    Answer::ok(json!({
        "ok": true,
        "messages": page,
        "has_more": more,
        "response_metadata": { "next_cursor": next },
    }))
}

struct Answer {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
            retry_after: None,
        }
    }

    fn error(code: &str) -> Answer {
        Answer::ok(envelope(false, code))
    }
}

/// Whether a channel id names a conversation of the workspace: a configured channel, a DM the
/// bot opened, or a user (Slack posts to a user id in the bot's DM with them).
fn channel_known(ws: &Workspace, state: &ServerState, channel: &str) -> bool {
    ws.channels.iter().any(|c| c == channel)
        || ws.users.iter().any(|u| u == channel)
        || state
            .dms
            .iter()
            .any(|((team, _), dm)| team == &ws.team && dm == channel)
}

fn take_token(bucket: &mut (f64, DateTime<Utc>), rate: RateLimit, now: DateTime<Utc>) -> bool {
    let elapsed = (now - bucket.1).num_milliseconds().max(0) as f64 / 1000.0;
    bucket.0 = (bucket.0 + elapsed * rate.per_second).min(f64::from(rate.burst));
    bucket.1 = now;
    if bucket.0 >= 1.0 {
        bucket.0 -= 1.0;
        true
    } else {
        false
    }
}

fn answer(
    inner: &Inner,
    state: &mut ServerState,
    ws: &Workspace,
    method: &str,
    body: &Map<String, Value>,
    form: bool,
    now: DateTime<Utc>,
) -> Answer {
    let team = ws.team.clone();
    match method {
        // Read methods take form-encoded arguments only: in a JSON body Slack never sees them.
        "users.info" => {
            if let Some((left, secs)) = state.users_info_limited.get_mut(&team)
                && *left > 0
            {
                *left -= 1;
                return Answer {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    body: envelope(false, "ratelimited"),
                    retry_after: Some(*secs),
                };
            }
            let Some(user) = text_of(body, "user").filter(|_| form) else {
                return Answer::error("user_not_found");
            };
            if !ws.users.iter().any(|u| u == user) {
                return Answer::error("user_not_found");
            }
            let mut profile = json!({ "real_name": format!("Member {user}") });
            if let Some(email) = ws.emails.get(user) {
                profile["email"] = json!(email);
            }
            Answer::ok(json!({
                "ok": true,
                "user": { "id": user, "team_id": team, "name": user.to_lowercase(), "profile": profile }
            }))
        }
        "chat.postMessage" => {
            let Some(channel) = text_of(body, "channel") else {
                return Answer::error("channel_not_found");
            };
            if !channel_known(ws, state, channel) {
                return Answer::error("channel_not_found");
            }
            if let Err(e) = check_content(body) {
                return Answer::error(e);
            }
            let metadata = match check_metadata(body) {
                Ok(m) => m,
                Err(e) => return Answer::error(e),
            };
            let key = (team.clone(), channel.to_string());
            if let Some((until, secs)) = state.paused.get(&team).copied()
                && now < until
            {
                return Answer {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    body: envelope(false, "ratelimited"),
                    retry_after: Some(secs),
                };
            }
            if let Some(thread) = body.get("thread_ts") {
                let parent = thread.as_str().and_then(|ts| {
                    state
                        .messages
                        .get(&key)
                        .and_then(|m| m.get(ts))
                        .filter(|m| m.top_level)
                });
                if parent.is_none() {
                    return Answer::error("thread_not_found");
                }
            }
            if let Some(rate) = inner.config.rate {
                let bucket = state
                    .buckets
                    .entry(key.clone())
                    .or_insert((f64::from(rate.burst), now));
                if !take_token(bucket, rate, now) {
                    return Answer {
                        status: StatusCode::TOO_MANY_REQUESTS,
                        body: envelope(false, "ratelimited"),
                        retry_after: Some(rate.retry_after_secs),
                    };
                }
            }
            let ts_us = now.timestamp_micros().max(state.last_ts_us + 1);
            state.last_ts_us = ts_us;
            let ts = format!(
                "{}.{:06}",
                ts_us.div_euclid(1_000_000),
                ts_us.rem_euclid(1_000_000)
            );
            let text = body.get("text").cloned().unwrap_or(Value::Null);
            let blocks = body.get("blocks").cloned().unwrap_or(Value::Null);
            let thread_ts = body
                .get("thread_ts")
                .and_then(Value::as_str)
                .map(str::to_string);
            state.messages.entry(key).or_default().insert(
                ts.clone(),
                Stored {
                    top_level: thread_ts.is_none(),
                    thread_ts,
                    text: text.clone(),
                    blocks,
                    metadata,
                },
            );
            Answer::ok(json!({
                "ok": true,
                "channel": channel,
                "ts": ts,
                "message": { "type": "message", "text": text, "ts": ts, "bot_id": "B0TEST" },
            }))
        }
        "chat.update" => {
            let Some(channel) = text_of(body, "channel") else {
                return Answer::error("channel_not_found");
            };
            if !channel_known(ws, state, channel) {
                return Answer::error("channel_not_found");
            }
            let Some(ts) = text_of(body, "ts") else {
                return Answer::error("message_not_found");
            };
            if let Err(e) = check_content(body) {
                return Answer::error(e);
            }
            let Some(message) = state
                .messages
                .get_mut(&(team, channel.to_string()))
                .and_then(|m| m.get_mut(ts))
            else {
                return Answer::error("message_not_found");
            };
            message.text = body.get("text").cloned().unwrap_or(Value::Null);
            message.blocks = body.get("blocks").cloned().unwrap_or(Value::Null);
            Answer::ok(json!({ "ok": true, "channel": channel, "ts": ts, "text": message.text }))
        }
        "chat.postEphemeral" => {
            let Some(channel) = text_of(body, "channel") else {
                return Answer::error("channel_not_found");
            };
            let Some(user) = text_of(body, "user") else {
                return Answer::error("user_not_found");
            };
            if !channel_known(ws, state, channel) {
                return Answer::error("channel_not_found");
            }
            if !ws.users.iter().any(|u| u == user) {
                return Answer::error("user_not_found");
            }
            if let Err(e) = check_content(body) {
                return Answer::error(e);
            }
            state.next_ts += 1;
            Answer::ok(
                json!({ "ok": true, "message_ts": format!("1780000000.{:06}", state.next_ts) }),
            )
        }
        "conversations.history" | "conversations.replies"
            if state.without_history.contains(&team) =>
        {
            Answer::error("missing_scope")
        }
        "conversations.history" => history(state, ws, body, false),
        "conversations.replies" => history(state, ws, body, true),
        "conversations.open" => {
            let Some(users) = text_of(body, "users") else {
                return Answer::error("users_list_not_supplied");
            };
            let list: Vec<&str> = users.split(',').map(str::trim).collect();
            if list.len() > 8 {
                return Answer::error("too_many_users");
            }
            if list.iter().any(|u| !ws.users.iter().any(|k| k == u)) {
                return Answer::error("user_not_found");
            }
            let key = (team, list.join(","));
            let next = format!("D{:08}", state.dms.len() + 1);
            let id = state.dms.entry(key).or_insert(next).clone();
            Answer::ok(json!({ "ok": true, "channel": { "id": id } }))
        }
        "views.open" => {
            let Some(trigger) = text_of(body, "trigger_id") else {
                return Answer::error("invalid_arguments");
            };
            match state.triggers.get_mut(trigger) {
                None => return Answer::error("invalid_trigger_id"),
                Some((_, true)) => return Answer::error("exchanged_trigger_id"),
                Some((issued, used)) => {
                    if (now - *issued).num_milliseconds() > TRIGGER_LIFETIME_MS {
                        return Answer::error("expired_trigger_id");
                    }
                    *used = true;
                }
            }
            let Some(view) = body.get("view").and_then(Value::as_object) else {
                return Answer::error("invalid_arguments");
            };
            let title_ok = view
                .get("title")
                .filter(|t| t.get("type").and_then(Value::as_str) == Some("plain_text"))
                .and_then(|t| t.get("text"))
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty() && t.chars().count() <= 24);
            if view.get("type").and_then(Value::as_str) != Some("modal") || !title_ok {
                return Answer::error("invalid_arguments");
            }
            if check_blocks(view.get("blocks"), 100).is_err() || view.get("blocks").is_none() {
                return Answer::error("invalid_blocks");
            }
            state.next_view += 1;
            let mut opened = view.clone();
            opened.insert("id".into(), json!(format!("V{:010}", state.next_view)));
            opened.insert("team_id".into(), json!(ws.team));
            Answer::ok(json!({ "ok": true, "view": opened }))
        }
        _ => Answer::error("unknown_method"),
    }
}

/// `oauth.v2.access`: form arguments only; the app's client id and secret (as arguments or HTTP
/// Basic), a code `allow` issued and nobody used, and the same redirect URL. Answers the
/// workspace's bot token.
fn oauth_access(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Value {
    let Some(oauth) = &inner.config.oauth else {
        return envelope(false, "invalid_client_id");
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return envelope(false, "invalid_arguments");
    }
    let q: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != oauth.client_id {
        return envelope(false, "invalid_client_id");
    }
    if get("client_secret") != oauth.client_secret {
        return envelope(false, "bad_client_secret");
    }
    let mut state = inner.lock();
    let Some((team, redirect, used)) = state.codes.get_mut(get("code")) else {
        return envelope(false, "invalid_code");
    };
    if *used {
        return envelope(false, "invalid_code");
    }
    if get("redirect_uri") != redirect.as_str() {
        return envelope(false, "bad_redirect_uri");
    }
    *used = true;
    let team = team.clone();
    let Some(ws) = inner.config.workspaces.iter().find(|w| w.team == team) else {
        return envelope(false, "invalid_code");
    };
    // Installing again after the token was revoked issues a new one.
    let mut token = current_token(inner, &state, &team).unwrap_or_else(|| ws.token.clone());
    if state.revoked.contains(&token) {
        token = format!("{}-reinstalled-{:04}", ws.token, state.reissued.len() + 1);
        state.reissued.insert(token.clone(), team.clone());
    }
    drop(state);
    json!({
        "ok": true,
        "access_token": token,
        "token_type": "bot",
        "scope": oauth.scopes.join(","),
        "bot_user_id": "U0BOTUSER",
        "app_id": "A0ESCALATE",
        "team": { "id": ws.team, "name": format!("Workspace {}", ws.team) },
        "enterprise": null,
        "is_enterprise_install": false,
        "authed_user": { "id": "U0INSTALLER" }
    })
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (delay, down) = {
        let state = inner.lock();
        (state.delay, state.down)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let now = inner.config.clock.now();
    let mut attempt = Attempt {
        method: method.clone(),
        team: None,
        channel: None,
        at: now,
        outcome: String::new(),
        retry_after: None,
    };
    if down.is_some() {
        attempt.outcome = "http_503".into();
        inner.lock().attempts.push(attempt);
        let mut response =
            (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    if method == "oauth.v2.access" {
        let answer = oauth_access(&inner, &headers, &body);
        attempt.outcome = if answer["ok"] == true {
            "ok".into()
        } else {
            answer["error"].as_str().unwrap_or("error").to_string()
        };
        let mut state = inner.lock();
        state.attempts.push(attempt);
        if answer["ok"] == true {
            state.calls.push(Call {
                method,
                team: answer["team"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                body: json!({}),
                response: answer.clone(),
            });
        }
        return axum::Json(answer).into_response();
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let workspace = match auth {
        None => Err(("not_authed", None)),
        Some(value) => match value.strip_prefix("Bearer ") {
            Some(token) if token.starts_with("xoxb-") => {
                let token = token.trim();
                let state = inner.lock();
                let team = state.reissued.get(token).cloned();
                let ws = inner.tokens.get(token).cloned().or_else(|| {
                    team.and_then(|t| {
                        inner
                            .config
                            .workspaces
                            .iter()
                            .find(|w| w.team == t)
                            .cloned()
                    })
                });
                match ws {
                    Some(ws) if state.revoked.contains(token) => {
                        Err(("token_revoked", Some(ws.team)))
                    }
                    Some(ws) => Ok(ws),
                    None => Err(("invalid_auth", None)),
                }
            }
            _ => Err(("invalid_auth", None)),
        },
    };
    let ws = match workspace {
        Ok(ws) => ws,
        Err((code, team)) => {
            attempt.team = team;
            attempt.outcome = code.into();
            inner.lock().attempts.push(attempt);
            return api_error(code);
        }
    };
    attempt.team = Some(ws.team.clone());
    let parsed = match parse_body(&headers, &body) {
        Ok(map) => map,
        Err(code) => {
            attempt.outcome = code.into();
            inner.lock().attempts.push(attempt);
            return api_error(code);
        }
    };
    attempt.channel = text_of(&parsed, "channel").map(str::to_string);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (answer, after) = {
        let mut state = inner.lock();
        let answer = answer(&inner, &mut state, &ws, &method, &parsed, form, now);
        let ok = answer.body.get("ok").and_then(Value::as_bool) == Some(true);
        attempt.outcome = if answer.status == StatusCode::TOO_MANY_REQUESTS {
            "http_429".into()
        } else if ok {
            "ok".into()
        } else {
            answer.body["error"].as_str().unwrap_or("error").to_string()
        };
        attempt.retry_after = answer.retry_after.map(Duration::from_secs);
        state.attempts.push(attempt);
        let mut after = None;
        if ok
            && method == "chat.postMessage"
            && let Some((how, left, roots_only)) = state.after_posts
            && left > 0
            && (!roots_only || parsed.get("thread_ts").is_none())
        {
            state.after_posts = (left > 1).then_some((how, left - 1, roots_only));
            after = Some(how);
        }
        if ok {
            state.calls.push(Call {
                method,
                team: ws.team.clone(),
                body: Value::Object(parsed),
                response: answer.body.clone(),
            });
        }
        (answer, after)
    };
    match after {
        Some(AfterPost::Stall(hold)) => tokio::time::sleep(hold).await,
        Some(AfterPost::Drop) => {
            // The status line goes out, then the connection breaks before the answer's body.
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
            });
            return (StatusCode::OK, axum::body::Body::from_stream(broken)).into_response();
        }
        None => {}
    }
    let mut response = (answer.status, axum::Json(answer.body)).into_response();
    if let Some(secs) = answer.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

// ---- the server's own contract ----

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "xoxb-test-workspace";

    async fn server(rate: Option<RateLimit>) -> SlackServer {
        let mut config = Config::new(vec![Workspace::new(
            "T0TEST",
            TOKEN,
            &["C0KNOWN"],
            &["U0ONE", "U0TWO"],
        )]);
        config.rate = rate;
        SlackServer::start(config).await
    }

    async fn call(
        server: &SlackServer,
        method: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Option<String>, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}{method}", server.api_base()))
            .json(&body);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.expect("the test server answers");
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.json().await.unwrap_or(Value::Null);
        (status, retry, body)
    }

    #[tokio::test]
    async fn the_test_server_refuses_calls_without_a_known_bearer_token() {
        let s = server(None).await;
        let msg = json!({ "channel": "C0KNOWN", "text": "hi" });
        let (_, _, none) = call(&s, "chat.postMessage", None, msg.clone()).await;
        assert_eq!(none["error"], "not_authed");
        let (_, _, wrong) = call(&s, "chat.postMessage", Some("xoxb-nope"), msg.clone()).await;
        assert_eq!(wrong["error"], "invalid_auth");
        let (_, _, user_token) = call(&s, "chat.postMessage", Some("xoxp-user"), msg).await;
        assert_eq!(user_token["error"], "invalid_auth");
        assert!(
            s.calls().is_empty(),
            "nothing refused is recorded as a call"
        );
        assert_eq!(s.attempts().len(), 3);
    }

    #[tokio::test]
    async fn the_test_server_refuses_a_revoked_token_until_an_install_issues_a_new_one() {
        let mut config = Config::new(vec![Workspace::new(
            "T0TEST",
            TOKEN,
            &["C0KNOWN"],
            &["U0ONE"],
        )]);
        config.oauth = Some(OAuthApp {
            client_id: "cid".into(),
            client_secret: "csecret".into(),
            redirect_uri: "https://app.example.test/slack/oauth/callback".into(),
            scopes: vec!["chat:write".into()],
        });
        let s = SlackServer::start(config).await;
        let msg = json!({ "channel": "C0KNOWN", "text": "hi" });
        let (status, _, ok) = call(&s, "chat.postMessage", Some(TOKEN), msg.clone()).await;
        assert_eq!((status, ok["ok"].clone()), (200, json!(true)));
        s.revoke("T0TEST");
        let (status, _, refused) = call(&s, "chat.postMessage", Some(TOKEN), msg.clone()).await;
        assert_eq!(
            status, 200,
            "Slack answers a revoked token with its envelope"
        );
        assert_eq!(refused, json!({ "ok": false, "error": "token_revoked" }));
        assert_eq!(
            s.attempts().last().and_then(|a| a.team.clone()).as_deref(),
            Some("T0TEST")
        );

        let back = s
            .allow(
                "https://slack.example.test/oauth/v2/authorize?client_id=cid&scope=chat:write&redirect_uri=https%3A%2F%2Fapp.example.test%2Fslack%2Foauth%2Fcallback&state=s1",
                "T0TEST",
            )
            .expect("allowed");
        let code = back
            .split("code=")
            .nth(1)
            .and_then(|c| c.split('&').next())
            .unwrap_or_default()
            .to_string();
        let answer: Value = reqwest::Client::new()
            .post(format!("{}oauth.v2.access", s.api_base()))
            .form(&[
                ("client_id", "cid"),
                ("client_secret", "csecret"),
                ("code", code.as_str()),
                (
                    "redirect_uri",
                    "https://app.example.test/slack/oauth/callback",
                ),
            ])
            .send()
            .await
            .expect("the test server answers")
            .json()
            .await
            .unwrap_or(Value::Null);
        let fresh = answer["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(fresh.starts_with("xoxb-") && fresh != TOKEN, "{answer}");
        assert_eq!(s.token_of("T0TEST").as_deref(), Some(fresh.as_str()));
        let (_, _, still) = call(&s, "chat.postMessage", Some(TOKEN), msg.clone()).await;
        assert_eq!(
            still["error"], "token_revoked",
            "the old token stays revoked"
        );
        let (_, _, posted) = call(&s, "chat.postMessage", Some(&fresh), msg).await;
        assert_eq!(posted["ok"], true, "{posted}");
    }

    #[tokio::test]
    async fn the_test_server_rate_limits_users_info_when_told_to() {
        let s = server(None).await;
        s.limit_users_info("T0TEST", 1, 9);
        let info = |s: &SlackServer| {
            let url = format!("{}users.info", s.api_base());
            async move {
                let response = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(TOKEN)
                    .form(&[("user", "U0ONE")])
                    .send()
                    .await
                    .expect("the test server answers");
                let retry = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                (response.status().as_u16(), retry)
            }
        };
        assert_eq!(info(&s).await, (429, Some("9".to_string())));
        assert_eq!(info(&s).await.0, 200, "only as many calls as told");
    }

    #[tokio::test]
    async fn the_test_server_keeps_metadata_and_shows_it_in_the_history_only_when_asked() {
        let s = server(None).await;
        let meta =
            json!({ "event_type": "escalation_bot_post", "event_payload": { "outbox_key": "k1" } });
        let (_, _, bad) = call(
            &s,
            "chat.postMessage",
            Some(TOKEN),
            json!({ "channel": "C0KNOWN", "text": "hi", "metadata": { "event_payload": {} } }),
        )
        .await;
        assert_eq!(bad["error"], "invalid_metadata_format");
        let (_, _, root) = call(
            &s,
            "chat.postMessage",
            Some(TOKEN),
            json!({ "channel": "C0KNOWN", "text": "root", "metadata": meta }),
        )
        .await;
        let ts = root["ts"].as_str().expect("a ts").to_string();
        let (_, _, reply) = call(
            &s,
            "chat.postMessage",
            Some(TOKEN),
            json!({ "channel": "C0KNOWN", "text": "reply", "thread_ts": ts, "metadata": meta.to_string() }),
        )
        .await;
        assert_eq!(
            reply["ok"], true,
            "metadata as a JSON string is accepted too"
        );

        let (_, _, none) = call(
            &s,
            "conversations.history",
            None,
            json!({ "channel": "C0KNOWN" }),
        )
        .await;
        assert_eq!(none["error"], "not_authed");
        let (_, _, missing) = call(&s, "conversations.history", Some(TOKEN), json!({})).await;
        assert_eq!(missing["error"], "channel_not_found");
        let (_, _, plain) = call(
            &s,
            "conversations.history",
            Some(TOKEN),
            json!({ "channel": "C0KNOWN" }),
        )
        .await;
        let messages = plain["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 1, "top-level messages only: {plain}");
        assert!(
            messages[0].get("metadata").is_none(),
            "no metadata unless asked"
        );
        let (_, _, with) = call(
            &s,
            "conversations.history",
            Some(TOKEN),
            json!({ "channel": "C0KNOWN", "include_all_metadata": true, "oldest": "0" }),
        )
        .await;
        assert_eq!(with["messages"][0]["metadata"], meta);
        let (_, _, later) = call(
            &s,
            "conversations.history",
            Some(TOKEN),
            json!({ "channel": "C0KNOWN", "oldest": ts }),
        )
        .await;
        assert_eq!(
            later["messages"].as_array().map(Vec::len),
            Some(0),
            "oldest is exclusive"
        );
        let (_, _, thread) = call(
            &s,
            "conversations.replies",
            Some(TOKEN),
            json!({ "channel": "C0KNOWN", "ts": ts, "include_all_metadata": true }),
        )
        .await;
        let texts: Vec<&str> = thread["messages"]
            .as_array()
            .map(|m| m.iter().filter_map(|x| x["text"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(texts, ["root", "reply"]);
        assert_eq!(thread["messages"][1]["metadata"], meta);
        let (_, _, lost) = call(
            &s,
            "conversations.replies",
            Some(TOKEN),
            json!({ "channel": "C0KNOWN", "ts": "1.000001" }),
        )
        .await;
        assert_eq!(lost["error"], "thread_not_found");
    }

    #[tokio::test]
    async fn the_test_server_shows_a_members_email_to_users_info_with_form_arguments_only() {
        let config = Config::new(vec![
            Workspace::new("T0TEST", TOKEN, &["C0KNOWN"], &["U0ONE"])
                .with_member("U0MAIL", "pat@agency.example.org"),
        ]);
        let s = SlackServer::start(config).await;
        let form = |user: &str| {
            reqwest::Client::new()
                .post(format!("{}users.info", s.api_base()))
                .bearer_auth(TOKEN)
                .form(&[("user", user.to_string())])
        };
        let body: Value = form("U0MAIL")
            .send()
            .await
            .expect("answer")
            .json()
            .await
            .expect("json");
        assert_eq!(
            body["user"]["profile"]["email"], "pat@agency.example.org",
            "{body}"
        );
        let body: Value = form("U0ONE")
            .send()
            .await
            .expect("answer")
            .json()
            .await
            .expect("json");
        assert_eq!(body["ok"], true);
        assert!(body["user"]["profile"].get("email").is_none(), "{body}");
        let body: Value = form("U0NOBODY")
            .send()
            .await
            .expect("answer")
            .json()
            .await
            .expect("json");
        assert_eq!(body["error"], "user_not_found");
        let (_, _, body) = call(&s, "users.info", Some(TOKEN), json!({ "user": "U0MAIL" })).await;
        assert_eq!(
            body["error"], "user_not_found",
            "JSON arguments are not read: {body}"
        );
        let (_, _, body) = call(&s, "users.info", None, json!({})).await;
        assert_eq!(body["error"], "not_authed");
    }

    #[tokio::test]
    async fn the_test_server_enforces_each_methods_required_fields() {
        let s = server(None).await;
        let t = Some(TOKEN);
        for (method, body, error) in [
            (
                "chat.postMessage",
                json!({ "text": "hi" }),
                "channel_not_found",
            ),
            (
                "chat.postMessage",
                json!({ "channel": "C0KNOWN" }),
                "no_text",
            ),
            (
                "chat.postMessage",
                json!({ "channel": "C0ELSE", "text": "hi" }),
                "channel_not_found",
            ),
            (
                "chat.postMessage",
                json!({ "channel": "C0KNOWN", "text": "hi", "thread_ts": "1.2" }),
                "thread_not_found",
            ),
            (
                "chat.postMessage",
                json!({ "channel": "C0KNOWN", "blocks": "nope" }),
                "invalid_blocks",
            ),
            (
                "chat.update",
                json!({ "channel": "C0KNOWN", "ts": "1.2", "text": "hi" }),
                "message_not_found",
            ),
            (
                "chat.postEphemeral",
                json!({ "channel": "C0KNOWN", "text": "hi" }),
                "user_not_found",
            ),
            (
                "chat.postEphemeral",
                json!({ "channel": "C0KNOWN", "user": "U0ELSE", "text": "hi" }),
                "user_not_found",
            ),
            ("conversations.open", json!({}), "users_list_not_supplied"),
            (
                "views.open",
                json!({ "view": { "type": "modal" } }),
                "invalid_arguments",
            ),
            (
                "views.open",
                json!({ "trigger_id": "made.up", "view": { "type": "modal" } }),
                "invalid_trigger_id",
            ),
            (
                "chat.delete",
                json!({ "channel": "C0KNOWN", "ts": "1.2" }),
                "unknown_method",
            ),
        ] {
            let (status, _, answer) = call(&s, method, t, body.clone()).await;
            assert_eq!(status, 200, "{method} {body}");
            assert_eq!(answer["ok"], false, "{method} {body}");
            assert_eq!(answer["error"], error, "{method} {body}");
        }
        assert!(s.calls().is_empty());
    }

    #[tokio::test]
    async fn the_test_server_threads_only_under_a_top_level_message_it_returned_in_that_channel() {
        let s = server(None).await;
        let t = Some(TOKEN);
        let (_, _, root) = call(
            &s,
            "chat.postMessage",
            t,
            json!({ "channel": "C0KNOWN", "text": "root" }),
        )
        .await;
        let ts = root["ts"].as_str().expect("a ts").to_string();
        let (_, _, reply) = call(
            &s,
            "chat.postMessage",
            t,
            json!({ "channel": "C0KNOWN", "text": "r", "thread_ts": ts }),
        )
        .await;
        assert_eq!(reply["ok"], true);
        let reply_ts = reply["ts"].as_str().expect("a ts").to_string();
        let (_, _, nested) = call(
            &s,
            "chat.postMessage",
            t,
            json!({ "channel": "C0KNOWN", "text": "r", "thread_ts": reply_ts }),
        )
        .await;
        assert_eq!(
            nested["error"], "thread_not_found",
            "a reply is not a thread parent"
        );
        let (_, _, dm) = call(&s, "conversations.open", t, json!({ "users": "U0ONE" })).await;
        let dm = dm["channel"]["id"].as_str().expect("a DM id").to_string();
        let (_, _, elsewhere) = call(
            &s,
            "chat.postMessage",
            t,
            json!({ "channel": dm, "text": "r", "thread_ts": ts }),
        )
        .await;
        assert_eq!(
            elsewhere["error"], "thread_not_found",
            "a ts from another channel is no thread here"
        );
        let (_, _, update) = call(
            &s,
            "chat.update",
            t,
            json!({ "channel": "C0KNOWN", "ts": ts, "text": "new" }),
        )
        .await;
        assert_eq!(update["ok"], true);
        assert_eq!(
            s.message("T0TEST", "C0KNOWN", &ts).expect("stored")["text"],
            "new"
        );
        assert_eq!(s.calls().len(), 4);
    }

    #[tokio::test]
    async fn the_test_server_exchanges_a_trigger_for_one_modal_only() {
        let s = server(None).await;
        let trigger = s.issue_trigger();
        let view = json!({ "type": "modal", "title": { "type": "plain_text", "text": "Raise" }, "blocks": [] });
        let (_, _, first) = call(
            &s,
            "views.open",
            Some(TOKEN),
            json!({ "trigger_id": trigger, "view": view }),
        )
        .await;
        assert_eq!(first["ok"], true);
        assert!(
            first["view"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with('V'))
        );
        let (_, _, second) = call(
            &s,
            "views.open",
            Some(TOKEN),
            json!({ "trigger_id": trigger, "view": view }),
        )
        .await;
        assert_eq!(second["error"], "exchanged_trigger_id");
    }

    #[tokio::test]
    async fn the_test_server_rate_limits_a_channel_with_retry_after() {
        let s = server(Some(RateLimit::strict(3))).await;
        let msg = json!({ "channel": "C0KNOWN", "text": "hi" });
        let (first, _, _) = call(&s, "chat.postMessage", Some(TOKEN), msg.clone()).await;
        let (second, retry, body) = call(&s, "chat.postMessage", Some(TOKEN), msg).await;
        assert_eq!((first, second), (200, 429));
        assert_eq!(retry.as_deref(), Some("3"));
        assert_eq!(body["error"], "ratelimited");
        assert_eq!(s.calls().len(), 1);
    }

    #[tokio::test]
    async fn the_test_server_can_be_down_or_refusing() {
        let s = server(None).await;
        let msg = json!({ "channel": "C0KNOWN", "text": "hi" });
        s.set_down(Down::Unavailable);
        let (status, _, _) = call(&s, "chat.postMessage", Some(TOKEN), msg.clone()).await;
        assert_eq!(status, 503);
        s.set_down(Down::Refusing);
        let refused = reqwest::Client::new()
            .post(format!("{}chat.postMessage", s.api_base()))
            .bearer_auth(TOKEN)
            .json(&msg)
            .send()
            .await;
        assert!(refused.is_err(), "a refused connection gets no answer");
        assert!(s.refused_connections() >= 1);
        s.set_down(Down::Up);
        let (status, _, _) = call(&s, "chat.postMessage", Some(TOKEN), msg).await;
        assert_eq!(status, 200);
        assert_eq!(s.calls().len(), 1);
    }
}
