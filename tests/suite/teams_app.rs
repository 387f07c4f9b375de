//! The whole app on port 0 the way Teams (and Slack) see it: a real database, the real router
//! and delivery worker, the Bot Connector test server in `teams_connector`, a stand-in Bot
//! Framework OpenID/JWKS server with its own RSA keys, and the Slack test server for the agency
//! that works in Slack. Activities are built as Teams builds them and carry tokens signed as
//! the Bot Connector signs them.
//!
//! The directory is the test's own: Norfolk Adult Social Care on Slack, Riverside GP Practice
//! and Norfolk Constabulary on Teams (two tenants, one bot registration each), and the NSAB
//! business unit on Slack.

use crate::databases::{Backend, TestDb};
use crate::slack_app::{self, SECRET};
use crate::slack_server::{self, SlackServer, Workspace};
use crate::teams_connector::{self, Bot, Channel, ConnectorServer, Posted};
use chrono::{DateTime, Utc};
use clap::Parser;
use escalation_bot::chat::teams::standin::{self, OpenIdServer, SigningKey};
use escalation_bot::config::{Secret, ServeConfig};
use escalation_bot::delivery::{Worker, WorkerConfig};
use escalation_bot::escalation::{Event, Reference};
use escalation_bot::service::{Clock, ManualClock, Service};
use escalation_bot::store::OutboxDepth;
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub const TENANT: &str = "7f2c1a90-0000-4000-8000-00000000a001";
pub const POLICE_TENANT: &str = "7f2c1a90-0000-4000-8000-00000000a002";
pub const APP_ID: &str = "0b6fe6d1-ece8-4b8e-9bd5-5a8b7e4b0f00";
pub const POLICE_APP_ID: &str = "5d1c2b3a-0000-4000-8000-0000000000b2";
pub const APP_SECRET: &str = "riverside~bot~secret";
pub const POLICE_SECRET: &str = "police~bot~secret";
pub const GP_CHANNEL: &str = "19:riversidechallenges@thread.tacv2";
pub const POLICE_CHANNEL: &str = "19:nconstabchallenges@thread.tacv2";
/// A channel of the practice's team that no agency uses until its admin connects it.
pub const GP_NEW_CHANNEL: &str = "19:riversidesafeguarding@thread.tacv2";
pub const START: &str = slack_app::START;

/// A person as Teams knows them.
#[derive(Debug, Clone, Copy)]
pub struct TeamsUser {
    pub person: &'static str,
    pub name: &'static str,
    pub tenant: &'static str,
    pub aad: &'static str,
    pub id: &'static str,
}

pub const OKAFOR: TeamsUser = TeamsUser {
    person: "dr-okafor",
    name: "Dr Ade Okafor",
    tenant: TENANT,
    aad: "00000000-0000-4000-8000-000000000106",
    id: "29:1okafor",
};
pub const LINDQVIST: TeamsUser = TeamsUser {
    person: "dr-lindqvist",
    name: "Dr Maria Lindqvist",
    tenant: TENANT,
    aad: "00000000-0000-4000-8000-000000000107",
    id: "29:1lindqvist",
};
pub const EVANS: TeamsUser = TeamsUser {
    person: "pc-evans",
    name: "PC Dan Evans",
    tenant: POLICE_TENANT,
    aad: "00000000-0000-4000-8000-000000000111",
    id: "29:1evans",
};
/// In the directory by work email only: linked the first time she writes.
pub const HALE: TeamsUser = TeamsUser {
    person: "dr-hale",
    name: "Dr Jo Hale",
    tenant: TENANT,
    aad: "00000000-0000-4000-8000-0000000001a1",
    id: "29:1hale",
};
/// In a connected tenant, but not in the directory.
pub const STRANGER: TeamsUser = TeamsUser {
    person: "",
    name: "New Starter",
    tenant: TENANT,
    aad: "00000000-0000-4000-8000-0000000009ff",
    id: "29:1newstarter",
};

const DIRECTORY: &str = r##"
[[agency]]
id = "asc"
name = "Norfolk Adult Social Care"
kind = "adult-social-care"
board = "norfolk"
channel = [{ platform = "slack", workspace = "T0ASC", channel = "C0ASCCHAL", name = "#safeguarding-challenges" }]

[[person]]
id = "asc-sw"
name = "Sam Patel"
agency = "asc"
role = "social-worker"
reports_to = "asc-tm"
slack = { workspace = "T0ASC", user = "U0ASCSW1" }

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
slack = { workspace = "T0ASC", user = "U0ASCOD1" }

[[agency]]
id = "riverside-gp"
name = "Riverside GP Practice"
kind = "gp-practice"
board = "norfolk"
domains = ["riverside.example.org"]
admins = ["maria.lindqvist@riverside.example.org"]
channel = [{ platform = "teams", workspace = "7f2c1a90-0000-4000-8000-00000000a001", channel = "19:riversidechallenges@thread.tacv2", name = "Practice safeguarding / Challenges" }]

[[person]]
id = "dr-hale"
name = "Dr Jo Hale"
agency = "riverside-gp"
role = "gp"
reports_to = "dr-lindqvist"
email = "jo.hale@riverside.example.org"

[[person]]
id = "dr-okafor"
name = "Dr Ade Okafor"
agency = "riverside-gp"
role = "gp"
reports_to = "dr-lindqvist"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a001", aad_object_id = "00000000-0000-4000-8000-000000000106" }

[[person]]
id = "dr-lindqvist"
name = "Dr Maria Lindqvist"
agency = "riverside-gp"
role = "safeguarding-lead-gp"
email = "maria.lindqvist@riverside.example.org"
reports_to = "dr-bhatt"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a001", aad_object_id = "00000000-0000-4000-8000-000000000107" }

[[person]]
id = "dr-bhatt"
name = "Dr Ravi Bhatt"
agency = "riverside-gp"
role = "named-doctor"
reports_to = "grace-hill"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a001", aad_object_id = "00000000-0000-4000-8000-000000000108" }

[[person]]
id = "grace-hill"
name = "Grace Hill"
agency = "riverside-gp"
role = "lead-nurse-ccg"
reports_to = "tom-baker"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a001", aad_object_id = "00000000-0000-4000-8000-000000000109" }

[[person]]
id = "tom-baker"
name = "Tom Baker"
agency = "riverside-gp"
role = "associate-director-quality"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a001", aad_object_id = "00000000-0000-4000-8000-000000000110" }

[[agency]]
id = "norfolk-police"
name = "Norfolk Constabulary"
kind = "police"
board = "norfolk"
channel = [{ platform = "teams", workspace = "7f2c1a90-0000-4000-8000-00000000a002", channel = "19:nconstabchallenges@thread.tacv2", name = "S&I / Professional challenges" }]

[[person]]
id = "pc-evans"
name = "PC Dan Evans"
agency = "norfolk-police"
role = "constable"
reports_to = "ds-morgan"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a002", aad_object_id = "00000000-0000-4000-8000-000000000111" }

[[person]]
id = "ds-morgan"
name = "DS Kate Morgan"
agency = "norfolk-police"
role = "detective-sergeant"
reports_to = "di-walsh"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a002", aad_object_id = "00000000-0000-4000-8000-000000000112" }

[[person]]
id = "di-walsh"
name = "DI Liam Walsh"
agency = "norfolk-police"
role = "detective-inspector"
reports_to = "dsupt-ahmed"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a002", aad_object_id = "00000000-0000-4000-8000-000000000113" }

[[person]]
id = "dsupt-ahmed"
name = "D/Supt Nadia Ahmed"
agency = "norfolk-police"
role = "detective-superintendent"
teams = { tenant = "7f2c1a90-0000-4000-8000-00000000a002", aad_object_id = "00000000-0000-4000-8000-000000000115" }

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

/// The test's signing keys, made once: the published one, the one Microsoft rotates to later,
/// an attacker's key that claims the published key's id, and a key endorsed for Web Chat only.
pub struct Keys {
    pub current: SigningKey,
    pub rotated: SigningKey,
    pub forged: SigningKey,
    pub webchat: SigningKey,
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    current: SigningKey::generate("key-current").expect("an RSA key"),
    rotated: SigningKey::generate("key-rotated").expect("an RSA key"),
    forged: SigningKey::generate("key-current").expect("an RSA key"),
    webchat: SigningKey::endorsed("key-webchat", &["webchat"]).expect("an RSA key"),
});

/// Whether the delivery worker runs on its own or is stepped by the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Background,
    Manual,
}

/// How to start the app.
#[derive(Clone)]
pub struct Options {
    pub backend: Backend,
    pub delivery: Delivery,
    /// The Connector's pacing per conversation: (burst, per second, Retry-After seconds).
    pub rate: Option<(u32, f64, u64)>,
    /// The Connector server runs on the app's clock.
    pub connector_on_app_clock: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backend: Backend::Sqlite,
            delivery: Delivery::Background,
            rate: Some((7, 7.0, 1)),
            connector_on_app_clock: false,
        }
    }
}

pub struct App {
    pub url: String,
    pub connector: ConnectorServer,
    pub openid: OpenIdServer,
    pub slack: SlackServer,
    pub service: Arc<Service>,
    pub worker: Arc<Worker>,
    pub clock: Arc<ManualClock>,
    pub db: TestDb,
    http: reqwest::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _folder: tempfile::TempDir,
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

/// An answer from the app.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub async fn spawn_app() -> App {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(options: Options) -> App {
    let clock = Arc::new(ManualClock::frozen_at(
        DateTime::parse_from_rfc3339(START)
            .expect("RFC 3339")
            .with_timezone(&Utc),
    ));
    let users = vec![OKAFOR, LINDQVIST, EVANS, STRANGER, HALE]
        .into_iter()
        .map(|u| (u.tenant.to_string(), u.id.to_string(), u.aad.to_string()))
        .chain([
            (
                TENANT.to_string(),
                "29:1bhatt".to_string(),
                "00000000-0000-4000-8000-000000000108".to_string(),
            ),
            (
                POLICE_TENANT.to_string(),
                "29:1morgan".to_string(),
                "00000000-0000-4000-8000-000000000112".to_string(),
            ),
        ])
        .collect();
    let mut connector_config = teams_connector::Config::new(
        vec![
            Bot {
                app_id: APP_ID.into(),
                tenant: TENANT.into(),
                secret: APP_SECRET.into(),
            },
            Bot {
                app_id: POLICE_APP_ID.into(),
                tenant: POLICE_TENANT.into(),
                secret: POLICE_SECRET.into(),
            },
        ],
        vec![
            Channel {
                tenant: TENANT.into(),
                id: GP_CHANNEL.into(),
            },
            Channel {
                tenant: TENANT.into(),
                id: GP_NEW_CHANNEL.into(),
            },
            Channel {
                tenant: POLICE_TENANT.into(),
                id: POLICE_CHANNEL.into(),
            },
        ],
        users,
    );
    connector_config.emails.insert(
        HALE.aad.to_string(),
        "Jo.Hale@riverside.example.org".to_string(),
    );
    connector_config.rate = options.rate;
    if options.connector_on_app_clock {
        connector_config.clock = clock.clone();
    }
    let connector = ConnectorServer::start(connector_config).await;
    let openid = OpenIdServer::start(vec![KEYS.current.jwk(), KEYS.webchat.jwk()])
        .await
        .expect("the OpenID test server starts");
    let slack = SlackServer::start(slack_server::Config::new(vec![
        Workspace::new(
            "T0ASC",
            &slack_app::token("T0ASC"),
            &["C0ASCCHAL"],
            &["U0ASCSW1", "U0ASCTM1", "U0ASCHS1", "U0ASCOD1"],
        ),
        Workspace::new(
            "T0NSAB",
            &slack_app::token("T0NSAB"),
            &["C0NSABUNIT"],
            &["U0NSABBU", "U0NSABCH"],
        ),
    ]))
    .await;

    let db = TestDb::new(options.backend).await;
    let folder = tempfile::tempdir().expect("a temporary folder");
    let directory = folder.path().join("directory.toml");
    std::fs::write(&directory, DIRECTORY).expect("the test directory is written");
    let secrets = folder.path().join("teams-secrets");
    std::fs::write(
        &secrets,
        format!("# test secrets\n{POLICE_APP_ID}={POLICE_SECRET}\n"),
    )
    .expect("the secrets file is written");

    let mut config = Flags::try_parse_from(["escalation-bot"])
        .expect("serve's defaults parse")
        .serve;
    config.listen = "127.0.0.1:0".parse().expect("an address");
    config.database_url = db.url.clone();
    config.directory = directory;
    config.policies = escalation_bot::policy::default_dir();
    config.slack_signing_secrets = vec![Secret::new(SECRET)];
    config.slack_bot_tokens = ["T0ASC", "T0NSAB"]
        .iter()
        .map(|t| Secret::new(format!("{t}={}", slack_app::token(t))))
        .collect();
    config.slack_api_base_url = slack.api_base();
    config.teams_bots = vec![
        format!("{APP_ID}@{TENANT}"),
        format!("{POLICE_APP_ID}@{POLICE_TENANT}"),
    ];
    config.teams_app_secrets = vec![Secret::new(format!("{APP_ID}={APP_SECRET}"))];
    config.teams_secrets_file = Some(secrets);
    config.teams_openid_metadata_url = openid.metadata_url.clone();
    config.teams_token_base_url = connector.url.clone();
    config.teams_service_url = connector.service_url();
    config.sandbox = false;

    let worker_config = WorkerConfig {
        owner: format!("test-worker-{}", uuid::Uuid::new_v4()),
        lease: Duration::from_secs(60),
        batch: 25,
        idle: Duration::from_millis(20),
        channel_spacing: Duration::ZERO,
    };
    let app_clock: Arc<dyn Clock> = clock.clone();
    let built = escalation_bot::web::build(&config, app_clock, worker_config)
        .await
        .unwrap_or_else(|e| panic!("the app builds: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the app binds");
    let addr = listener.local_addr().expect("an address");
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
        connector,
        openid,
        slack,
        service: built.service,
        worker: built.worker,
        clock,
        db,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("a client"),
        stop,
        tasks,
        _folder: folder,
    }
}

/// The bot's app id in a tenant.
pub fn app_id_of(tenant: &str) -> &'static str {
    if tenant == POLICE_TENANT {
        POLICE_APP_ID
    } else {
        APP_ID
    }
}

impl App {
    /// A valid Bot Connector token for an activity to this tenant's bot.
    pub fn token_for(&self, tenant: &str) -> String {
        KEYS.current.sign(&standin::claims(
            app_id_of(tenant),
            &self.connector.service_url(),
            3600,
        ))
    }

    /// POSTs an activity to `/api/messages` with this `Authorization` header (or none).
    pub async fn send_with(&self, activity: &Value, authorization: Option<String>) -> Reply {
        let mut request = self
            .http
            .post(format!("{}/api/messages", self.url))
            .header("content-type", "application/json")
            .body(activity.to_string());
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        let started = Instant::now();
        let response = request.send().await.expect("the app answers");
        let status = response.status().as_u16();
        let body = response.text().await.expect("a readable answer");
        Reply {
            status,
            body,
            elapsed: started.elapsed(),
        }
    }

    /// POSTs an activity with a valid token.
    pub async fn send(&self, activity: &Value) -> Reply {
        let tenant = activity["channelData"]["tenant"]["id"]
            .as_str()
            .unwrap_or(TENANT)
            .to_string();
        self.send_with(
            activity,
            Some(format!("Bearer {}", self.token_for(&tenant))),
        )
        .await
    }

    pub fn base_activity(
        &self,
        kind: &str,
        id: &str,
        user: TeamsUser,
        conversation: Value,
    ) -> Value {
        json!({
            "type": kind,
            "id": id,
            "timestamp": "2026-06-01T08:40:00.000Z",
            "localTimestamp": "2026-06-01T09:40:00.000+01:00",
            "channelId": "msteams",
            "serviceUrl": self.connector.service_url(),
            "from": { "id": user.id, "name": user.name, "aadObjectId": user.aad },
            "recipient": { "id": format!("28:{}", app_id_of(user.tenant)), "name": "escalation-bot" },
            "conversation": conversation,
            "channelData": { "tenant": { "id": user.tenant } },
            "locale": "en-GB",
        })
    }

    /// `@escalation-bot TEXT` typed as a new post in the user's agency channel; the activity.
    pub fn channel_message(&self, user: TeamsUser, channel: &str, text: &str) -> Value {
        let typed = format!("<at>escalation-bot</at> {text}");
        let (conversation, id) = self.connector.user_posts(user.tenant, channel, &typed);
        let mut a = self.base_activity(
            "message",
            &id,
            user,
            json!({ "id": conversation, "conversationType": "channel", "isGroup": true, "tenantId": user.tenant }),
        );
        a["text"] = json!(typed);
        a["textFormat"] = json!("plain");
        a["entities"] = json!([
            { "type": "mention", "text": "<at>escalation-bot</at>",
              "mentioned": { "id": format!("28:{}", app_id_of(user.tenant)), "name": "escalation-bot" } },
            { "type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Web" }
        ]);
        a["channelData"]["teamsChannelId"] = json!(channel);
        a["channelData"]["channel"] = json!({ "id": channel });
        a["channelData"]["team"] = json!({ "id": channel });
        a
    }

    /// TEXT typed in the user's 1:1 chat with the bot (no mention needed there).
    pub fn personal_message(&self, user: TeamsUser, text: &str) -> Value {
        let conversation = self.connector.personal_chat(user.tenant, user.id);
        let id = self.connector.user_writes(user.tenant, &conversation, text);
        let mut a = self.base_activity(
            "message",
            &id,
            user,
            json!({ "id": conversation, "conversationType": "personal", "tenantId": user.tenant }),
        );
        a["text"] = json!(text);
        a
    }

    /// An `Action.Execute` on a card the bot posted: the invoke Teams sends, with the action's
    /// data and the card's inputs filled in (each must be an input of that card).
    pub fn execute(
        &self,
        user: TeamsUser,
        conversation: &str,
        card: &Posted,
        verb: &str,
        inputs: &[(&str, &str)],
    ) -> Value {
        let data = action_data(&card.activity, verb, inputs);
        let mut a = self.base_activity(
            "invoke",
            &format!("f:{}", uuid::Uuid::new_v4().simple()),
            user,
            json!({ "id": conversation, "conversationType": if conversation.starts_with("a:") { "personal" } else { "channel" }, "tenantId": user.tenant }),
        );
        a["name"] = json!("adaptiveCard/action");
        a["replyToId"] = json!(card.id);
        a["value"] = json!({ "action": { "type": "Action.Execute", "verb": verb, "data": data }, "trigger": "manual" });
        a
    }

    /// The same action through the `Action.Submit` fallback: a message whose `value` holds the data.
    pub fn submit(
        &self,
        user: TeamsUser,
        conversation: &str,
        card: &Posted,
        verb: &str,
        inputs: &[(&str, &str)],
    ) -> Value {
        let data = action_data(&card.activity, verb, inputs);
        let mut a = self.base_activity(
            "message",
            &uuid::Uuid::new_v4().simple().to_string(),
            user,
            json!({ "id": conversation, "conversationType": "channel", "tenantId": user.tenant }),
        );
        a["replyToId"] = json!(card.id);
        a["value"] = data;
        a
    }

    /// Waits until the background worker has posted everything it can, letting the app's clock
    /// run a little meanwhile.
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let depth = self.depth().await;
            if depth.pending == 0 {
                return;
            }
            if Instant::now() >= deadline {
                let raw = self.db.raw().await;
                let rows = raw.texts("SELECT target || ' ' || coalesce(last_error, '') FROM outbox WHERE status = 'pending'").await;
                panic!(
                    "the outbox did not drain: {depth:?}\n{}\nrefused by the Connector: {:?}",
                    rows.join("\n"),
                    self.connector.refused()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            // A post waiting out a `Retry-After` waits on the app's stopped clock: let it run.
            self.clock.advance(chrono::Duration::milliseconds(250));
        }
    }

    /// Steps the worker until nothing is ready (the clock does not move).
    pub async fn deliver(&self) -> usize {
        let mut handled = 0;
        for _ in 0..200 {
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

    pub async fn events(&self, reference: &Reference) -> Vec<Event> {
        self.service.events(reference).await.expect("events load")
    }

    pub async fn count(&self, reference: &Reference, kind: &str) -> usize {
        self.events(reference)
            .await
            .iter()
            .filter(|e| e.body.kind() == kind)
            .count()
    }

    /// Events in the whole log, outbox rows, inbound keys: what a refused request must not change.
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

    /// The Teams thread of a dispute in a channel as the app recorded it: (conversation, root).
    pub async fn teams_thread(
        &self,
        reference: &Reference,
        tenant: &str,
        channel: &str,
    ) -> (String, String) {
        let t = self
            .service
            .outbox()
            .thread(&reference.to_string(), "teams", tenant, channel)
            .await
            .expect("threads load")
            .unwrap_or_else(|| panic!("{reference} has no Teams thread in {channel}"));
        let (c, r) = t.rsplit_once('|').expect("conversation|activity");
        (c.to_string(), r.to_string())
    }

    /// The replies the bot posted to an activity (help, forms, refusals) in a conversation.
    pub fn replies_to(&self, conversation: &str, activity: &str) -> Vec<Posted> {
        self.connector
            .conversation(conversation)
            .into_iter()
            .filter(|p| p.reply_to.as_deref() == Some(activity))
            .collect()
    }

    /// A `/challenge …` command typed in Slack by a Norfolk ASC person.
    pub async fn slack_command(&self, user: &str, text: &str) -> Reply {
        let trigger = self.slack.issue_trigger();
        let body = serde_urlencoded::to_string([
            ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
            ("team_id", "T0ASC"),
            ("team_domain", "norfolk"),
            ("channel_id", "C0ASCCHAL"),
            ("channel_name", "safeguarding-challenges"),
            ("user_id", user),
            ("command", "/challenge"),
            ("text", text),
            ("api_app_id", "A0ESCALATE"),
            (
                "response_url",
                "https://hooks.slack.com/commands/T0ASC/1234/abcd",
            ),
            ("trigger_id", trigger.as_str()),
        ])
        .expect("a form body");
        self.slack_post("/slack/commands", &body).await
    }

    async fn slack_post(&self, path: &str, body: &str) -> Reply {
        let ts = slack_app::unix_now();
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", slack_app::FORM)
            .header("x-slack-request-timestamp", ts.to_string())
            .header(
                "x-slack-signature",
                slack_app::sign(SECRET, ts, body.as_bytes()),
            )
            .body(body.to_string())
            .send()
            .await
            .expect("the app answers");
        let status = response.status().as_u16();
        Reply {
            status,
            body: response.text().await.expect("an answer"),
            elapsed: started.elapsed(),
        }
    }

    /// Sam raises journey 1's challenge in Slack (`/challenge`, then the modal) against Riverside GP.
    pub async fn slack_raise(&self, summary: &str) -> Reference {
        let opened = self.slack_command("U0ASCSW1", "").await;
        assert_eq!(opened.status, 200, "{opened:?}");
        let view = self
            .slack
            .calls()
            .iter()
            .rev()
            .find(|c| c.method == "views.open")
            .map(|c| c.response["view"].clone())
            .expect("the raise modal opened");
        let inputs = [
            ("receiving_agency", "riverside-gp"),
            ("other_professional", "dr-okafor"),
            ("concerns", "adult"),
            ("category", "outcomes-of-assessments"),
            ("summary", summary),
            (
                "desired_outcome",
                "A joint capacity assessment with both agencies.",
            ),
            ("case_reference", "ASC-4471"),
            ("immediate_risk", "no"),
        ];
        let payload = json!({
            "type": "view_submission",
            "team": { "id": "T0ASC", "domain": "norfolk" },
            "user": { "id": "U0ASCSW1", "username": "asc-sw", "name": "asc-sw", "team_id": "T0ASC" },
            "api_app_id": "A0ESCALATE",
            "trigger_id": self.slack.issue_trigger(),
            "view": {
                "id": view["id"], "team_id": "T0ASC", "type": "modal", "blocks": view["blocks"],
                "private_metadata": view["private_metadata"], "callback_id": view["callback_id"],
                "state": { "values": slack_app::state_values(&view, &inputs) },
                "hash": "1780000000.abcdef", "title": view["title"], "root_view_id": view["id"],
                "app_id": "A0ESCALATE", "bot_id": "B0TEST",
            },
            "response_urls": [],
        });
        let body =
            serde_urlencoded::to_string([("payload", payload.to_string())]).expect("a form body");
        let reply = self.slack_post("/slack/interactions", &body).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(reply.body.is_empty(), "the raise is accepted: {reply:?}");
        let open = self
            .service
            .open_for(&escalation_bot::directory::PersonId("asc-sw".to_string()))
            .await
            .expect("open list");
        let latest = open
            .iter()
            .map(|r| r.reference.clone())
            .max()
            .expect("the raise is recorded");
        Reference::parse(&latest).expect("a reference")
    }

    /// The Slack thread of a dispute in Norfolk ASC's channel: the root `ts` and every message
    /// in it (root, then replies in order) as the Slack test server holds them now.
    pub async fn slack_thread(&self, reference: &Reference) -> (String, Vec<String>) {
        let root = self
            .service
            .outbox()
            .thread(&reference.to_string(), "slack", "T0ASC", "C0ASCCHAL")
            .await
            .expect("threads load")
            .unwrap_or_else(|| panic!("{reference} has no Slack thread"));
        let replies = self
            .slack
            .calls()
            .iter()
            .filter(|c| {
                c.method == "chat.postMessage"
                    && c.body.get("thread_ts").and_then(Value::as_str) == Some(root.as_str())
            })
            .map(|c| {
                c.body
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        (root, replies)
    }

    /// Moves the app's clock.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

/// The data an action sends: the button's `data` with the named inputs filled in. The action
/// is found by verb among the card's actions and those of its `Action.ShowCard`s; every input
/// named must be an input of that card (or of the show card holding the action).
pub fn action_data(activity: &Value, verb: &str, inputs: &[(&str, &str)]) -> Value {
    let card = &activity["attachments"][0]["content"];
    fn find(card: &Value, verb: &str) -> Option<(Value, Value)> {
        for a in card["actions"].as_array().into_iter().flatten() {
            if a["type"] == "Action.Execute" && a["verb"] == verb {
                return Some((a.clone(), card.clone()));
            }
            if a["type"] == "Action.ShowCard"
                && let Some(found) = find(&a["card"], verb)
            {
                return Some(found);
            }
        }
        None
    }
    let (action, holder) =
        find(card, verb).unwrap_or_else(|| panic!("the card has no {verb} action: {card:#}"));
    assert_eq!(
        action["fallback"]["type"], "Action.Submit",
        "every Execute has a Submit fallback"
    );
    assert_eq!(action["fallback"]["data"], action["data"]);
    let ids: Vec<String> = holder["body"]
        .as_array()
        .into_iter()
        .chain(card["body"].as_array())
        .flatten()
        .filter_map(|b| b["id"].as_str().map(str::to_string))
        .collect();
    let mut data = action["data"].clone();
    for (field, value) in inputs {
        let id = format!("{verb}.{field}");
        assert!(ids.contains(&id), "the card has no input {id}: {ids:?}");
        if let Some(choices) = holder["body"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["id"] == id.as_str())
            .and_then(|b| b["choices"].as_array())
        {
            assert!(
                choices.iter().any(|c| c["value"] == *value),
                "{id} offers no choice {value:?}"
            );
        }
        data[id] = json!(value);
    }
    data
}

/// The latest card activity in a list of posted activities.
pub fn last(posts: &[Posted]) -> Posted {
    posts.last().cloned().expect("something was posted")
}
