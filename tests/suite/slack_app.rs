//! The whole app on port 0, the way Slack sees it: a real database (a temporary SQLite file, or a
//! fresh PostgreSQL database), the real router and delivery worker, and the Slack Web API test
//! server in `slack_server` standing in for Slack. Requests are signed like Slack's (v0 HMAC over
//! the raw body with the current timestamp) and built like Slack's payloads, from what the test
//! server actually received (a modal is submitted from the view `views.open` was given).
//!
//! The directory is the test's own (written to a temporary folder), so these tests do not move
//! when the demo directory does: two Norfolk agencies on two Slack workspaces, and the NSAB
//! business unit on a third.

use crate::databases::{Backend, TestDb};
use crate::slack_server::{self, Call, Down, RateLimit, SlackServer, Workspace};
use chrono::{DateTime, Utc};
use clap::Parser;
use escalation_bot::chat::slack::inbound::{SlackState, SlackTokens};
use escalation_bot::config::{Secret, ServeConfig};
use escalation_bot::delivery::{NoObserver, Poster, Worker, WorkerConfig};
use escalation_bot::directory::Platform;
use escalation_bot::escalation::{Event, Reference};
use escalation_bot::service::{Clock, ManualClock, Service};
use escalation_bot::store::OutboxDepth;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The signing secret Slack uses for the app, and the one it used before a rotation.
pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const OLD_SECRET: &str = "c0ffee0000old0secret0still0valid";

/// A Monday morning in June, 09:40 UK time: journey 1's first step.
pub const START: &str = "2026-06-01T08:40:00Z";

/// A person as Slack knows them: workspace, user id, and the channel they act from.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub person: &'static str,
    pub team: &'static str,
    pub user: &'static str,
    pub channel: &'static str,
}

pub const ASC_TEAM: &str = "T0ASC";
pub const ASC_CHANNEL: &str = "C0ASCCHAL";
/// A channel of the ASC workspace the directory does not name until an admin connects it.
pub const ASC_NEW_CHANNEL: &str = "C0ASCNEW";
pub const VOL_TEAM: &str = "T0VOL";
pub const VOL_CHANNEL: &str = "C0VOLCHAL";
pub const BOARD_TEAM: &str = "T0NSAB";
pub const BOARD_CHANNEL: &str = "C0NSABUNIT";

/// Social worker, Norfolk Adult Social Care: raises the challenge.
pub const SOCIAL_WORKER: Who = Who {
    person: "asc-sw",
    team: ASC_TEAM,
    user: "U0ASCSW1",
    channel: ASC_CHANNEL,
};
/// Another social worker in the same team: in the directory, but no party to the challenge.
pub const COLLEAGUE: Who = Who {
    person: "asc-sw2",
    team: ASC_TEAM,
    user: "U0ASCSW2",
    channel: ASC_CHANNEL,
};
/// The social worker's team manager.
pub const TEAM_MANAGER: Who = Who {
    person: "asc-tm",
    team: ASC_TEAM,
    user: "U0ASCTM1",
    channel: ASC_CHANNEL,
};
/// The carers' network's designated safeguarding lead: the volunteer's first line manager.
pub const SAFEGUARDING_LEAD: Who = Who {
    person: "vol-dsl",
    team: VOL_TEAM,
    user: "U0VOLDSL",
    channel: VOL_CHANNEL,
};

pub fn token(team: &str) -> String {
    format!("xoxb-{}-test-token", team.to_ascii_lowercase())
}

const DIRECTORY: &str = r##"
[[agency]]
id = "asc"
name = "Norfolk Adult Social Care"
kind = "adult-social-care"
board = "norfolk"
domains = ["asc.example.org"]
admins = ["martin.cole@asc.example.org"]
channel = [{ platform = "slack", workspace = "T0ASC", channel = "C0ASCCHAL", name = "#safeguarding-challenges" }]

[[person]]
id = "asc-sw"
name = "Sam Patel"
agency = "asc"
role = "social-worker"
reports_to = "asc-tm"
slack = { workspace = "T0ASC", user = "U0ASCSW1" }

[[person]]
id = "asc-sw2"
name = "Lee Grant"
agency = "asc"
role = "social-worker"
reports_to = "asc-tm"
slack = { workspace = "T0ASC", user = "U0ASCSW2" }

[[person]]
id = "asc-tm"
name = "Jordan Reid"
agency = "asc"
role = "team-manager"
reports_to = "asc-hos"
slack = { workspace = "T0ASC", user = "U0ASCTM1" }

[[person]]
id = "asc-hos"
name = "Priya Shah"
agency = "asc"
role = "head-of-service"
reports_to = "asc-od"
slack = { workspace = "T0ASC", user = "U0ASCHS1" }

[[person]]
id = "asc-od"
name = "Martin Cole"
agency = "asc"
role = "operations-director"
email = "martin.cole@asc.example.org"
slack = { workspace = "T0ASC", user = "U0ASCOD1" }

[[person]]
id = "asc-rh"
name = "Robin Hale"
agency = "asc"
role = "social-worker"
reports_to = "asc-tm"
email = "robin.hale@asc.example.org"

[[agency]]
id = "vol"
name = "Norfolk Carers Network"
kind = "voluntary-sector"
board = "norfolk"
channel = [{ platform = "slack", workspace = "T0VOL", channel = "C0VOLCHAL", name = "#safeguarding" }]

[[person]]
id = "vol-staff"
name = "Alex Jones"
agency = "vol"
role = "staff-or-volunteer"
reports_to = "vol-dsl"
slack = { workspace = "T0VOL", user = "U0VOLST1" }

[[person]]
id = "vol-dsl"
name = "Niamh Murphy"
agency = "vol"
role = "designated-safeguarding-lead"
reports_to = "vol-sm"
slack = { workspace = "T0VOL", user = "U0VOLDSL" }

[[person]]
id = "vol-sm"
name = "Ian Fraser"
agency = "vol"
role = "senior-manager"
reports_to = "vol-chair"
slack = { workspace = "T0VOL", user = "U0VOLSM1" }

[[person]]
id = "vol-chair"
name = "Janet Price"
agency = "vol"
role = "chair-of-trustees"
slack = { workspace = "T0VOL", user = "U0VOLCH1" }

[[agency]]
id = "nsab"
name = "NSAB business unit"
kind = "board"
board = "norfolk"
channel = [{ platform = "slack", workspace = "T0NSAB", channel = "C0NSABUNIT", name = "#nsab-business-unit" }]

[[person]]
id = "nsab-unit"
name = "NSAB Business Unit"
agency = "nsab"
role = "business-unit"
slack = { workspace = "T0NSAB", user = "U0NSABBU" }

[[person]]
id = "nsab-chair"
name = "NSAB Independent Chair"
agency = "nsab"
role = "chair"
slack = { workspace = "T0NSAB", user = "U0NSABCH" }
"##;

/// The Slack workspaces as the test server knows them (channels left out are unknown to it).
/// `U0NEWSTART` is a member of the ASC workspace whom the directory does not list yet.
/// `U0ROBIN` is Robin Hale, whom the directory knows by work email only; `U0NEWBIE` has a work
/// email of the ASC domain that the directory does not list. `C0ASCNEW` is a channel the
/// directory does not name (yet).
fn workspaces(unknown_channels: &[&str]) -> Vec<Workspace> {
    let known = |c: &'static str| -> Vec<&'static str> {
        if unknown_channels.contains(&c) {
            Vec::new()
        } else {
            vec![c]
        }
    };
    vec![
        Workspace::new(
            ASC_TEAM,
            &token(ASC_TEAM),
            &[known(ASC_CHANNEL), vec![ASC_NEW_CHANNEL]].concat(),
            &[
                "U0ASCSW1",
                "U0ASCSW2",
                "U0ASCTM1",
                "U0ASCHS1",
                "U0ASCOD1",
                "U0NEWSTART",
            ],
        )
        .with_member("U0ROBIN", "robin.hale@asc.example.org")
        .with_member("U0NEWBIE", "New.Starter@asc.example.org"),
        Workspace::new(
            VOL_TEAM,
            &token(VOL_TEAM),
            &known(VOL_CHANNEL),
            &["U0VOLST1", "U0VOLDSL", "U0VOLSM1", "U0VOLCH1"],
        ),
        Workspace::new(
            BOARD_TEAM,
            &token(BOARD_TEAM),
            &known(BOARD_CHANNEL),
            &["U0NSABBU", "U0NSABCH"],
        ),
    ]
}

/// Whether the delivery worker runs on its own or is stepped by the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `Worker::run` in the background (short idle, no channel spacing).
    Background,
    /// Nothing runs: the test calls `worker.tick()` and moves the clock.
    Manual,
}

/// How to start an app.
#[derive(Debug, Clone)]
pub struct Options {
    pub backend: Backend,
    pub delivery: Delivery,
    /// The signing secrets the app accepts (`SLACK_SIGNING_SECRET`).
    pub secrets: Vec<&'static str>,
    /// The test server's pacing of `chat.postMessage` per channel.
    pub rate: Option<RateLimit>,
    /// The test server runs on the app's clock (for pacing and `Retry-After` with a stepped clock).
    pub server_on_app_clock: bool,
    /// Channels of the directory the test server does not know (`channel_not_found`).
    pub unknown_channels: Vec<&'static str>,
    /// The worker's least time between posts to one channel.
    pub channel_spacing: Duration,
    /// Installable from Slack by OAuth; the ASC workspace then has no configured token and
    /// must be installed.
    pub oauth: bool,
    /// Configured bot tokens other than each workspace's first: (team, token).
    pub tokens: Vec<(&'static str, String)>,
}

/// The app's OAuth client id and secret, as Slack and the app both hold them.
pub const CLIENT_ID: &str = "1234567890.0987654321";
pub const CLIENT_SECRET: &str = "oauth-client-secret-for-tests";
/// The key installed tokens are sealed with.
pub const TOKEN_KEY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/// Where people reach the app; Slack redirects admins here after an install.
pub const PUBLIC_URL: &str = "https://challenges.example.test";

impl Default for Options {
    fn default() -> Self {
        Options {
            backend: Backend::Sqlite,
            delivery: Delivery::Background,
            secrets: vec![SECRET],
            rate: Some(RateLimit::slack_like()),
            server_on_app_clock: false,
            unknown_channels: Vec::new(),
            channel_spacing: Duration::ZERO,
            oauth: false,
            tokens: Vec::new(),
        }
    }
}

/// What the app answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub elapsed: Duration,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `text` of an ephemeral JSON answer.
    pub fn text(&self) -> String {
        self.json()["text"].as_str().unwrap_or_default().to_string()
    }
}

/// A running app and its Slack.
pub struct App {
    pub url: String,
    pub slack: Arc<SlackServer>,
    pub service: Arc<Service>,
    pub worker: Arc<Worker>,
    pub clock: Arc<ManualClock>,
    pub db: Arc<TestDb>,
    /// The directory file the app reads (a `serve` process started on the same database reads it too).
    pub directory: std::path::PathBuf,
    http: reqwest::Client,
    secret: String,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    options: Options,
    _folder: Arc<tempfile::TempDir>,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeConfig,
}

/// Starts the app with default options (SQLite, background worker).
pub async fn spawn_app() -> App {
    spawn_with(Options::default()).await
}

/// Starts the app.
pub async fn spawn_with(options: Options) -> App {
    let clock = Arc::new(ManualClock::frozen_at(
        DateTime::parse_from_rfc3339(START)
            .expect("START is RFC 3339")
            .with_timezone(&Utc),
    ));
    let mut server_config = slack_server::Config::new(workspaces(&options.unknown_channels));
    server_config.rate = options.rate;
    if options.oauth {
        server_config.oauth = Some(slack_server::OAuthApp {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_uri: format!("{PUBLIC_URL}/slack/oauth/callback"),
            scopes: ["commands", "chat:write", "users:read", "users:read.email"]
                .map(String::from)
                .to_vec(),
        });
    }
    if options.server_on_app_clock {
        server_config.clock = clock.clone();
    }
    let slack = Arc::new(SlackServer::start(server_config).await);

    let db = Arc::new(TestDb::new(options.backend).await);
    let folder = tempfile::tempdir().expect("a temporary folder for the directory");
    let directory = folder.path().join("directory.toml");
    std::fs::write(&directory, DIRECTORY).expect("the test directory is written");
    start(options, clock, slack, db, Arc::new(folder), directory).await
}

impl App {
    /// Another replica of the app: its own process state (tokens, worker, HTTP listener) on
    /// the same database, Slack, directory and clock, started with the same options.
    pub async fn replica(&self) -> App {
        self.replica_with(self.options.clone()).await
    }

    /// Another replica started with other options (another configured token, say), as the
    /// service restarted with new settings would be.
    pub async fn replica_with(&self, options: Options) -> App {
        start(
            options,
            self.clock.clone(),
            self.slack.clone(),
            self.db.clone(),
            self._folder.clone(),
            self.directory.clone(),
        )
        .await
    }
}

/// Builds and serves the app on a database, Slack and directory already set up.
async fn start(
    options: Options,
    clock: Arc<ManualClock>,
    slack: Arc<SlackServer>,
    db: Arc<TestDb>,
    folder: Arc<tempfile::TempDir>,
    directory: std::path::PathBuf,
) -> App {
    // Parsed like the command line, so settings other tests never name keep their defaults.
    let mut config = Flags::try_parse_from(["escalation-bot"])
        .expect("serve's defaults parse")
        .serve;
    config.listen = "127.0.0.1:0".parse().expect("an address");
    config.database_url = db.url.clone();
    config.directory = directory.clone();
    config.policies = escalation_bot::policy::default_dir();
    config.slack_signing_secrets = options.secrets.iter().map(|s| Secret::new(*s)).collect();
    config.slack_bot_token = None;
    config.slack_bot_tokens = [ASC_TEAM, VOL_TEAM, BOARD_TEAM]
        .iter()
        .map(|t| Secret::new(format!("{t}={}", token(t))))
        .collect();
    config.slack_api_base_url = slack.api_base();
    config.sandbox = false;
    if options.oauth {
        config.slack_client_id = Some(CLIENT_ID.into());
        config.slack_client_secret = Some(Secret::new(CLIENT_SECRET));
        config.slack_token_key = Some(Secret::new(TOKEN_KEY));
        config.public_url = Some(PUBLIC_URL.into());
        config.slack_oauth_authorize_url = format!("{}/oauth/v2/authorize", slack.url);
        config.slack_bot_tokens = [VOL_TEAM, BOARD_TEAM]
            .iter()
            .map(|t| Secret::new(format!("{t}={}", token(t))))
            .collect();
    }
    for (team, other) in &options.tokens {
        config
            .slack_bot_tokens
            .retain(|pair| !pair.expose().starts_with(&format!("{team}=")));
        config
            .slack_bot_tokens
            .push(Secret::new(format!("{team}={other}")));
    }

    let worker_config = WorkerConfig {
        owner: format!("test-worker-{}", uuid::Uuid::new_v4()),
        lease: Duration::from_secs(60),
        batch: 25,
        idle: Duration::from_millis(20),
        channel_spacing: options.channel_spacing,
    };
    let app_clock: Arc<dyn Clock> = clock.clone();
    let built = escalation_bot::web::build(&config, app_clock, worker_config)
        .await
        .unwrap_or_else(|e| panic!("the app builds: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the app binds a port");
    let addr = listener.local_addr().expect("a bound address");
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let router = built.router;
    let mut serve_stop = stopped.clone();
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = serve_stop.wait_for(|s| *s).await;
            })
            .await;
    }));
    if options.delivery == Delivery::Background {
        tasks.push(tokio::spawn(built.worker.clone().run(stopped)));
    }
    App {
        url: format!("http://{addr}"),
        slack,
        service: built.service,
        worker: built.worker,
        clock,
        db,
        directory,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client"),
        secret: options
            .secrets
            .last()
            .copied()
            .unwrap_or(SECRET)
            .to_string(),
        stop,
        tasks,
        options,
        _folder: folder,
    }
}

/// The form body of a `/challenge` slash command, as Slack sends it.
pub fn command_form(who: Who, text: &str, trigger: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", who.team),
        ("team_domain", "norfolk"),
        ("channel_id", who.channel),
        ("channel_name", "safeguarding-challenges"),
        ("user_id", who.user),
        ("user_name", who.person),
        ("command", "/challenge"),
        ("text", text),
        ("api_app_id", "A0ESCALATE"),
        ("is_enterprise_install", "false"),
        (
            "response_url",
            "https://hooks.slack.com/commands/T0ASC/1234/abcd",
        ),
        ("trigger_id", trigger),
    ])
    .expect("a form body")
}

/// A `view_submission` of a view the test server opened, with the inputs filled in.
pub fn submission(who: Who, view: &Value, inputs: &[(&str, &str)], trigger: &str) -> Value {
    json!({
        "type": "view_submission",
        "team": { "id": who.team, "domain": "norfolk" },
        "user": { "id": who.user, "username": who.person, "name": who.person, "team_id": who.team },
        "api_app_id": "A0ESCALATE",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": trigger,
        "view": {
            "id": view["id"],
            "team_id": who.team,
            "type": "modal",
            "blocks": view["blocks"],
            "private_metadata": view["private_metadata"],
            "callback_id": view["callback_id"],
            "state": { "values": state_values(view, inputs) },
            "hash": "1780000000.abcdef",
            "title": view["title"],
            "root_view_id": view["id"],
            "app_id": "A0ESCALATE",
            "bot_id": "B0TEST",
        },
        "response_urls": [],
        "is_enterprise_install": false,
        "enterprise": null,
    })
}

/// Slack's `X-Slack-Signature` for a body at a timestamp.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn unix_now() -> i64 {
    Utc::now().timestamp()
}

/// How a request is signed.
#[derive(Debug, Clone)]
pub enum Signing {
    /// With this secret at this timestamp.
    With { secret: String, timestamp: i64 },
    /// No signing headers at all.
    Unsigned,
    /// These exact header values.
    Headers {
        timestamp: Option<String>,
        signature: Option<String>,
    },
}

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";

impl App {
    /// Signed the way Slack signs, now, with the app's current secret.
    pub fn signing(&self) -> Signing {
        Signing::With {
            secret: self.secret.clone(),
            timestamp: unix_now(),
        }
    }

    /// POSTs a body to the app, signed as asked, with extra headers.
    pub async fn post_as(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        signing: Signing,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .body(body.to_string());
        match signing {
            Signing::With { secret, timestamp } => {
                request = request
                    .header("x-slack-request-timestamp", timestamp.to_string())
                    .header(
                        "x-slack-signature",
                        sign(&secret, timestamp, body.as_bytes()),
                    );
            }
            Signing::Unsigned => {}
            Signing::Headers {
                timestamp,
                signature,
            } => {
                if let Some(t) = timestamp {
                    request = request.header("x-slack-request-timestamp", t);
                }
                if let Some(s) = signature {
                    request = request.header("x-slack-signature", s);
                }
            }
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let started = Instant::now();
        let response = request.send().await.expect("the app answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.text().await.expect("a readable answer");
        Reply {
            status,
            content_type,
            body,
            elapsed: started.elapsed(),
        }
    }

    /// POSTs a correctly signed body.
    pub async fn post(&self, path: &str, content_type: &str, body: &str) -> Reply {
        self.post_as(path, content_type, body, self.signing(), &[])
            .await
    }

    /// A GET (health, readiness, metrics).
    pub async fn get(&self, path: &str) -> Reply {
        let started = Instant::now();
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the app answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Reply {
            status,
            content_type,
            body: response.text().await.expect("a readable answer"),
            elapsed: started.elapsed(),
        }
    }

    /// The form body of a `/challenge` slash command, as Slack sends it.
    pub fn command_body(&self, who: Who, text: &str, trigger: &str) -> String {
        command_form(who, text, trigger)
    }

    /// `/challenge TEXT` typed by someone; a fresh trigger each time, like Slack.
    pub async fn command(&self, who: Who, text: &str) -> Reply {
        let trigger = self.slack.issue_trigger();
        let body = self.command_body(who, text, &trigger);
        self.post("/slack/commands", FORM, &body).await
    }

    /// The form body of an interaction payload.
    pub fn interaction_body(payload: &Value) -> String {
        serde_urlencoded::to_string([("payload", payload.to_string())]).expect("a form body")
    }

    /// A `block_actions` payload for a button on a message in the person's channel, as Slack
    /// sends it.
    pub fn button_payload(
        &self,
        who: Who,
        message_ts: &str,
        button: &Value,
        trigger: &str,
    ) -> Value {
        self.button_payload_in(who, who.channel, message_ts, button, trigger)
    }

    /// The same for a message in another channel (a direct message).
    pub fn button_payload_in(
        &self,
        who: Who,
        channel: &str,
        message_ts: &str,
        button: &Value,
        trigger: &str,
    ) -> Value {
        json!({
            "type": "block_actions",
            "user": { "id": who.user, "username": who.person, "name": who.person, "team_id": who.team },
            "api_app_id": "A0ESCALATE",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "container": { "type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false },
            "trigger_id": trigger,
            "team": { "id": who.team, "domain": "norfolk" },
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": { "id": channel, "name": "safeguarding-challenges" },
            "message": { "type": "message", "ts": message_ts, "bot_id": "B0TEST" },
            "state": { "values": {} },
            "response_url": "https://hooks.slack.com/actions/T0ASC/1234/abcd",
            "actions": [{
                "action_id": button["action_id"],
                "block_id": "actions",
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": "1780000000.123456",
            }],
        })
    }

    /// Presses the button `action_id` on the message `ts` as it stands now in the person's
    /// channel (the test server keeps every message, updated in place).
    pub async fn press(&self, who: Who, ts: &str, action_id: &str) -> Reply {
        self.press_in(who, who.channel, ts, action_id).await
    }

    /// Presses a button on a message in another channel (a direct message).
    pub async fn press_in(&self, who: Who, channel: &str, ts: &str, action_id: &str) -> Reply {
        let button = self.button(who.team, channel, ts, action_id);
        let trigger = self.slack.issue_trigger();
        let payload = self.button_payload_in(who, channel, ts, &button, &trigger);
        self.post(
            "/slack/interactions",
            FORM,
            &Self::interaction_body(&payload),
        )
        .await
    }

    /// The button `action_id` on a message as it stands now; panics when there is none.
    pub fn button(&self, team: &str, channel: &str, ts: &str, action_id: &str) -> Value {
        let message = self
            .slack
            .message(team, channel, ts)
            .unwrap_or_else(|| panic!("no message {ts} in {channel}"));
        buttons(&message["blocks"])
            .into_iter()
            .find(|b| b["action_id"] == action_id)
            .unwrap_or_else(|| {
                panic!("the message {ts} in {channel} has no {action_id} button: {message}")
            })
    }

    /// A `view_submission` of a view the test server opened, with the inputs filled in.
    pub fn submission_payload(&self, who: Who, view: &Value, inputs: &[(&str, &str)]) -> Value {
        submission(who, view, inputs, &self.slack.issue_trigger())
    }

    /// Submits a view the test server opened.
    pub async fn submit(&self, who: Who, view: &Value, inputs: &[(&str, &str)]) -> Reply {
        let payload = self.submission_payload(who, view, inputs);
        self.post(
            "/slack/interactions",
            FORM,
            &Self::interaction_body(&payload),
        )
        .await
    }

    /// The view of the last `views.open` the test server accepted.
    pub fn last_view(&self) -> Value {
        self.slack
            .calls()
            .iter()
            .rev()
            .find(|c| c.method == "views.open")
            .map(|c| c.response["view"].clone())
            .expect("a modal was opened")
    }

    /// `/challenge` with no text, then the raise form filled in and submitted; the reference.
    pub async fn raise(&self, who: Who, summary: &str) -> Reference {
        let opened = self.command(who, "").await;
        assert_eq!(opened.status, 200, "{opened:?}");
        assert_eq!(
            opened.body, "",
            "the modal opens with an empty acknowledgement"
        );
        let view = self.last_view();
        assert_eq!(view["callback_id"], "raise");
        let reply = self.submit(who, &view, &raise_inputs(summary)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(
            reply.body.is_empty() || reply.json().get("errors").is_none(),
            "the raise is accepted: {reply:?}"
        );
        let open = self
            .service
            .open_for(&escalation_bot::directory::PersonId(who.person.to_string()))
            .await
            .expect("open challenges list");
        let latest = open
            .iter()
            .map(|r| r.reference.clone())
            .max()
            .expect("the raise is recorded");
        Reference::parse(&latest).expect("a reference")
    }

    /// Waits until the background worker has posted everything it can.
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let depth = self.depth().await;
            if depth.pending == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the outbox did not drain: {depth:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Steps the worker until nothing is ready to post (the clock does not move).
    pub async fn deliver(&self) -> usize {
        let mut handled = 0;
        for _ in 0..100 {
            let n = self.worker.tick().await.expect("the worker claims rows");
            if n == 0 {
                return handled;
            }
            handled += n;
        }
        panic!("the worker never ran out of rows");
    }

    pub async fn depth(&self) -> OutboxDepth {
        self.service.outbox().depth().await.expect("outbox depth")
    }

    /// Every event of a dispute.
    pub async fn events(&self, reference: &Reference) -> Vec<Event> {
        self.service.events(reference).await.expect("events load")
    }

    /// How many events of a kind a dispute has.
    pub async fn count(&self, reference: &Reference, kind: &str) -> usize {
        self.events(reference)
            .await
            .iter()
            .filter(|e| e.body.kind() == kind)
            .count()
    }

    /// Every event in the whole log, and every outbox row: what a refused request must not change.
    pub async fn footprint(&self) -> (u64, i64, i64) {
        let report = self
            .db
            .open()
            .await
            .verify()
            .await
            .expect("the log verifies");
        let raw = self.db.raw().await;
        let outbox = raw.int("SELECT count(*) FROM outbox").await;
        let inbound = raw.int("SELECT count(*) FROM inbound_keys").await;
        raw.close().await;
        (report.events, outbox, inbound)
    }

    /// The thread (root `ts`) of a dispute in a channel, as the app recorded it.
    pub async fn thread(&self, reference: &Reference, team: &str, channel: &str) -> String {
        self.service
            .outbox()
            .thread(&reference.to_string(), "slack", team, channel)
            .await
            .expect("threads load")
            .unwrap_or_else(|| panic!("{reference} has no thread in {channel}"))
    }

    /// Another delivery worker on the same database and Slack, as a second replica would run.
    pub fn second_worker(&self) -> Arc<Worker> {
        self.worker_with(Duration::from_secs(10), Duration::ZERO)
    }

    /// A delivery worker on the same database and Slack whose Web API calls give up after
    /// `timeout`, pacing each channel to one post per `spacing`.
    pub fn worker_with(&self, timeout: Duration, spacing: Duration) -> Arc<Worker> {
        self.worker(
            timeout,
            WorkerConfig {
                owner: format!("second-worker-{}", uuid::Uuid::new_v4()),
                lease: Duration::from_secs(60),
                batch: 25,
                idle: Duration::from_millis(20),
                channel_spacing: spacing,
            },
        )
    }

    /// A delivery worker on the same database and Slack, with its own settings.
    pub fn worker(&self, timeout: Duration, config: WorkerConfig) -> Arc<Worker> {
        let tokens = [ASC_TEAM, VOL_TEAM, BOARD_TEAM]
            .iter()
            .map(|t| (t.to_string(), Secret::new(token(t))))
            .collect();
        let slack = SlackState::new(
            self.service.clone(),
            vec![Secret::new(SECRET)],
            &self.slack.api_base(),
            reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("an HTTP client"),
            SlackTokens::new(None, tokens),
        );
        let mut posters: HashMap<Platform, Arc<dyn Poster>> = HashMap::new();
        posters.insert(Platform::Slack, Arc::new(slack.poster()));
        Arc::new(Worker::new(
            self.service.clone(),
            posters,
            Arc::new(NoObserver),
            config,
        ))
    }

    /// Moves the app's clock.
    pub fn advance(&self, by: Duration) {
        self.clock
            .advance(chrono::Duration::from_std(by).expect("a short duration"));
    }

    /// The server down or up.
    pub fn slack_down(&self, down: Down) {
        self.slack.set_down(down);
    }
}

/// The raise form's inputs: against the carers' network, naming the volunteer.
pub fn raise_inputs(summary: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("receiving_agency", "vol"),
        ("other_professional", "vol-staff"),
        ("concerns", "adult"),
        ("category", "outcomes-of-assessments"),
        ("summary", summary),
        (
            "desired_outcome",
            "A joint capacity assessment with both agencies.",
        ),
        ("case_reference", "ASC-4471"),
        ("immediate_risk", "no"),
    ]
}

/// Every button in a message's blocks.
pub fn buttons(blocks: &Value) -> Vec<Value> {
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["type"] == "button")
        .collect()
}

/// `view.state.values` for the inputs given, shaped by the view's own blocks: a text input gets
/// `value`, a select or radio group `selected_option`, which must be one of the options the view
/// offered (a modal without that option is a bug in the modal, or in the test).
pub fn state_values(view: &Value, inputs: &[(&str, &str)]) -> Value {
    let mut values = serde_json::Map::new();
    for (block_id, value) in inputs {
        let block = view["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["block_id"] == *block_id)
            .unwrap_or_else(|| panic!("the {} modal has no {block_id} input", view["callback_id"]));
        assert_eq!(block["type"], "input", "{block_id} is an input block");
        let element = &block["element"];
        let action_id = element["action_id"].as_str().expect("an action id");
        let kind = element["type"].as_str().expect("an element type");
        let state = match kind {
            "plain_text_input" => json!({ "type": kind, "value": value }),
            "static_select" | "radio_buttons" => {
                let mut options: Vec<Value> =
                    element["options"].as_array().cloned().unwrap_or_default();
                for group in element["option_groups"].as_array().into_iter().flatten() {
                    options.extend(group["options"].as_array().cloned().unwrap_or_default());
                }
                let option = options
                    .into_iter()
                    .find(|o| o["value"] == *value)
                    .unwrap_or_else(|| panic!("{block_id} offers no option {value:?}"));
                json!({ "type": kind, "selected_option": option })
            }
            "datetimepicker" => {
                let at = escalation_bot::chat::forms::parse_local(value, None)
                    .unwrap_or_else(|| panic!("{block_id}: {value:?} is not YYYY-MM-DDTHH:MM"));
                json!({ "type": kind, "selected_date_time": at.timestamp() })
            }
            other => panic!("{block_id}: no test support for {other}"),
        };
        values.insert(block_id.to_string(), json!({ action_id: state }));
    }
    Value::Object(values)
}

/// A call in one line, for comparing sequences: method, workspace, channel or user, and whether
/// it is a thread reply (with the thread's root `ts`) or an update of a message.
pub fn line(call: &Call) -> String {
    let b = &call.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default();
    match call.method.as_str() {
        "chat.postMessage" if !s("thread_ts").is_empty() => {
            format!(
                "post {} {} in thread {}",
                call.team,
                s("channel"),
                s("thread_ts")
            )
        }
        "chat.postMessage" => format!("post {} {}", call.team, s("channel")),
        "chat.update" => format!("update {} {} {}", call.team, s("channel"), s("ts")),
        "chat.postEphemeral" => {
            format!("ephemeral {} {} to {}", call.team, s("channel"), s("user"))
        }
        "conversations.open" => format!("open dm {} {}", call.team, s("users")),
        "views.open" => format!(
            "views.open {} {} trigger {}",
            call.team,
            b["view"]["callback_id"].as_str().unwrap_or_default(),
            s("trigger_id")
        ),
        other => format!("{other} {}", call.team),
    }
}

/// Every text a message shows: its `text` and every string in its blocks.
pub fn texts(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(value, &mut out);
    out
}
