//! The sandbox's routes without a browser: the app built as `serve --sandbox` builds it, on a
//! temporary SQLite file and a frozen demo clock, with the delivery worker and the scheduler
//! stepped by hand so every post can be checked as it lands.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Utc};
use clap::Parser;
use escalation_bot::config::{Secret, ServeConfig};
use escalation_bot::delivery::{Worker, WorkerConfig};
use escalation_bot::directory::Platform;
use escalation_bot::escalation::{EventBody, Reference};
use escalation_bot::scheduler::Scheduler;
use escalation_bot::service::{Clock, ManualClock, Service, SystemClock};
use escalation_bot::store::checkpoint::CheckpointKey;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

/// Monday 1 June 2026, 09:40 UK time: journey 1's first morning.
const START: &str = "2026-06-01T09:40:00+01:00";

const SUMMARY: &str = "Decision not to refer for a mental capacity assessment after the hospital discharge; adult lives alone.";

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeConfig,
}

struct Sandbox {
    router: Router,
    service: Arc<Service>,
    worker: Arc<Worker>,
    scheduler: Arc<Scheduler>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    submissions: std::sync::atomic::AtomicU32,
}

fn config(db: &std::path::Path, sandbox: bool, audit_key: Option<&str>) -> ServeConfig {
    let root = crate::helpers::crate_root();
    let mut config = Flags::try_parse_from(["escalation-bot"])
        .expect("serve's defaults parse")
        .serve;
    config.database_url = db.display().to_string();
    config.directory = root.join("policies/demo/directory.toml");
    config.policies = root.join("policies");
    config.sandbox = sandbox;
    config.audit_signing_key = audit_key.map(Secret::new);
    config
}

impl Sandbox {
    async fn start() -> Sandbox {
        let at = DateTime::parse_from_rfc3339(START)
            .expect("START is RFC 3339")
            .with_timezone(&Utc);
        let clock = Arc::new(ManualClock::frozen_at(at));
        Sandbox::start_with(clock.clone(), clock, true, None).await
    }

    async fn start_with(
        clock: Arc<ManualClock>,
        app_clock: Arc<dyn Clock>,
        sandbox: bool,
        audit_key: Option<&str>,
    ) -> Sandbox {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = config(&dir.path().join("sandbox.db"), sandbox, audit_key);
        let built = escalation_bot::web::build(&config, app_clock, WorkerConfig::default())
            .await
            .unwrap_or_else(|e| panic!("the sandbox app builds: {e}"));
        Sandbox {
            router: built.router,
            service: built.service,
            worker: built.worker,
            scheduler: built.scheduler,
            clock,
            _dir: dir,
            submissions: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The record as an operator's tool sees it: another handle on the sandbox's database.
    async fn store(&self) -> escalation_bot::store::Store {
        escalation_bot::store::Store::open(
            &self._dir.path().join("sandbox.db").display().to_string(),
        )
        .await
        .expect("the sandbox's database opens")
    }

    /// A fresh id for one submission or button press, as the page makes them.
    fn submission(&self) -> String {
        let n = self
            .submissions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("test-submission-{n:08}")
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
            .await
            .expect("a body");
        (status, headers, body.to_vec())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let request = Request::get(path).body(Body::empty()).expect("a request");
        let (status, _, body) = self.call(request).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("a request");
        let (status, _, body) = self.call(request).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Runs the delivery worker until the outbox is empty, as the running service would.
    async fn deliver(&self) {
        for _ in 0..50 {
            if self.worker.tick().await.expect("the worker claims rows") == 0 {
                return;
            }
        }
        panic!("the outbox never emptied");
    }

    /// Runs what the scheduler finds due, then delivers what it caused.
    async fn run_schedule(&self) {
        for _ in 0..20 {
            if self
                .scheduler
                .tick()
                .await
                .expect("the scheduler claims rows")
                == 0
            {
                break;
            }
        }
        self.deliver().await;
    }

    async fn command(&self, person: &str, channel: &str, text: &str) -> (StatusCode, Value) {
        let body = json!({ "as": person, "channel": channel, "text": text, "submission": self.submission() });
        self.post("/sandbox/api/command", body).await
    }

    async fn press(&self, person: &str, action: &str, reference: &str) -> (StatusCode, Value) {
        let body = json!({
            "as": person, "channel": "norfolk-asc", "action": action, "reference": reference,
            "submission": self.submission(),
        });
        self.post("/sandbox/api/action", body).await
    }

    async fn submit(
        &self,
        person: &str,
        form: &str,
        reference: Option<&str>,
        fields: Value,
        submission: &str,
    ) -> (StatusCode, Value) {
        let body = json!({
            "as": person, "channel": "norfolk-asc", "reference": reference, "submission": submission, "fields": fields,
        });
        self.post(&format!("/sandbox/api/form/{form}"), body).await
    }

    /// Sam raises journey 1's challenge through the raise form and the posts are delivered.
    async fn raise(&self) -> String {
        let (status, reply) = self
            .submit(
                "sam-patel",
                "raise",
                None,
                raise_fields(SUMMARY),
                &self.submission(),
            )
            .await;
        assert_eq!(
            (status, reply["kind"].as_str()),
            (StatusCode::OK, Some("recorded")),
            "{reply}"
        );
        self.deliver().await;
        reply["reference"]
            .as_str()
            .expect("a reference")
            .to_string()
    }

    async fn state(&self, person: &str) -> Value {
        let (status, state) = self.get(&format!("/sandbox/api/state?as={person}")).await;
        assert_eq!(status, StatusCode::OK, "{state}");
        state
    }
}

fn raise_fields(summary: &str) -> Value {
    json!({
        "receiving_agency": "riverside-gp",
        "other_professional": "dr-okafor",
        "concerns": "adult",
        "category": "outcomes-of-assessments",
        "summary": summary,
        "desired_outcome": "A mental capacity assessment about returning home, or a recorded rationale for not doing one.",
        "case_reference": "ASC-4471",
        "immediate_risk": "no",
    })
}

/// The entries (roots with replies, notices) of one channel.
fn entries<'a>(state: &'a Value, channel: &str) -> &'a [Value] {
    state["channels"][channel]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// All the text of a message: title, status, lines (mentions as @Name), prompt and footer.
fn text_of(message: &Value) -> String {
    let mut out = vec![
        message["title"].as_str().unwrap_or("").to_string(),
        message["status"].as_str().unwrap_or("").to_string(),
    ];
    for line in message["lines"].as_array().into_iter().flatten() {
        let mut text = line["label"]
            .as_str()
            .map(|l| format!("{l}: "))
            .unwrap_or_default();
        for span in line["spans"].as_array().into_iter().flatten() {
            match span["type"].as_str() {
                Some("mention") => {
                    text.push_str(&format!("@{}", span["name"].as_str().unwrap_or("")))
                }
                _ => text.push_str(span["text"].as_str().unwrap_or("")),
            }
        }
        out.push(text);
    }
    out.push(message["prompt"].as_str().unwrap_or("").to_string());
    for f in message["footer"].as_array().into_iter().flatten() {
        out.push(f.as_str().unwrap_or("").to_string());
    }
    out.join("\n")
}

fn button_labels(message: &Value) -> Vec<String> {
    message["buttons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["label"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_page_and_its_files_are_served_from_the_binary_with_a_strict_content_policy() {
    let sandbox = Sandbox::start().await;
    for (path, kind, expect) in [
        ("/sandbox/", "text/html", "Acting as"),
        ("/sandbox/app.js", "text/javascript", "textContent"),
        ("/sandbox/app.css", "text/css", ":focus-visible"),
    ] {
        let (status, headers, body) = sandbox
            .call(Request::get(path).body(Body::empty()).expect("a request"))
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let content_type = headers[header::CONTENT_TYPE].to_str().expect("ascii");
        assert!(content_type.starts_with(kind), "{path} is {content_type}");
        let csp = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(
            String::from_utf8_lossy(&body).contains(expect),
            "{path} carries {expect:?}"
        );
    }
    let (status, headers, _) = sandbox
        .call(
            Request::get("/sandbox")
                .body(Body::empty())
                .expect("a request"),
        )
        .await;
    assert!(status.is_redirection(), "/sandbox redirects to the page");
    assert_eq!(headers[header::LOCATION], "/sandbox/");
}

#[tokio::test]
async fn without_the_sandbox_flag_there_is_no_sandbox_page() {
    let clock = Arc::new(ManualClock::running());
    let app = Sandbox::start_with(clock, Arc::new(SystemClock), false, None).await;
    let (status, _) = app.get("/sandbox/api/directory").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_person_picker_lists_everyone_in_the_demo_directory_by_agency_with_role_and_level() {
    let sandbox = Sandbox::start().await;
    let (status, dir) = sandbox.get("/sandbox/api/directory").await;
    assert_eq!(status, StatusCode::OK);
    let boards = dir["boards"].as_array().expect("boards");
    assert_eq!(
        boards.len(),
        crate::helpers::SEED_POLICIES.len(),
        "one group per board"
    );
    let agencies: Vec<&Value> = boards
        .iter()
        .flat_map(|b| b["agencies"].as_array().into_iter().flatten())
        .collect();
    let people: Vec<&Value> = agencies
        .iter()
        .flat_map(|a| a["people"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(
        people.len(),
        sandbox.service.directory().people().count(),
        "every person can be acted as"
    );
    let find = |id: &str| {
        people
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("{id} is listed"))
    };
    assert_eq!(find("sam-patel")["level"], "Frontline professional");
    assert_eq!(find("jordan-reid")["role"], "Team Manager");
    assert_eq!(find("jordan-reid")["level"], "First line manager");
    assert_eq!(find("priya-shah")["level"], "Senior manager");
    assert_eq!(find("nsab-unit")["level"], "Board business unit");
    for a in &agencies {
        assert_eq!(
            a["channel"]["id"], a["id"],
            "every agency, the board's too, has its own sandbox channel"
        );
    }
    let norfolk = boards
        .iter()
        .find(|b| b["id"] == "norfolk")
        .expect("norfolk");
    let asc = norfolk["agencies"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == "norfolk-asc"))
        .expect("asc");
    let ladder: Vec<&str> = asc["people"]
        .as_array()
        .expect("people")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(
        ladder.first(),
        Some(&"sam-patel"),
        "people are listed from the bottom rung up: {ladder:?}"
    );
    assert_eq!(
        asc["channel"]["name"], "#safeguarding-challenges",
        "the channel keeps the name people know"
    );
}

#[tokio::test]
async fn serve_sandbox_moves_every_channel_onto_the_sandbox() {
    let sandbox = Sandbox::start().await;
    for agency in sandbox.service.directory().agencies() {
        assert_eq!(agency.channels.len(), 1, "{}", agency.id);
        let c = &agency.channels[0];
        assert_eq!(
            (c.platform, c.workspace.as_str(), c.channel.as_str()),
            (Platform::Sandbox, "sandbox", agency.id.0.as_str())
        );
    }
}

#[tokio::test]
async fn slash_challenge_opens_the_raise_form_with_the_slack_modals_fields() {
    let sandbox = Sandbox::start().await;
    let (status, reply) = sandbox
        .command("sam-patel", "norfolk-asc", "/challenge")
        .await;
    assert_eq!(
        (status, reply["kind"].as_str()),
        (StatusCode::OK, Some("form")),
        "{reply}"
    );
    let form = &reply["form"];
    assert_eq!(form["name"], "raise");
    let ids: Vec<&str> = form["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "receiving_agency",
            "other_professional",
            "concerns",
            "organisation",
            "category",
            "summary",
            "possible_cause",
            "desired_outcome",
            "adults_views",
            "case_reference",
            "immediate_risk",
            "arose_at"
        ]
    );
    assert!(
        form["intro"]
            .as_str()
            .expect("intro")
            .contains("whistleblowing"),
        "the form says what it is not for"
    );
    let agencies = &form["fields"][0]["choices"];
    assert!(
        agencies
            .as_array()
            .expect("choices")
            .iter()
            .any(|c| c["value"] == "riverside-gp")
    );
    assert!(
        !agencies
            .as_array()
            .expect("choices")
            .iter()
            .any(|c| c["value"] == "norfolk-asc"),
        "not your own agency"
    );
}

#[tokio::test]
async fn a_raise_posts_a_root_in_both_agencies_channels_and_a_private_receipt_to_the_raiser() {
    let sandbox = Sandbox::start().await;
    let reference = sandbox.raise().await;
    assert_eq!(reference, "NSAB-2026-0001");
    let state = sandbox.state("sam-patel").await;
    for channel in ["norfolk-asc", "riverside-gp"] {
        let list = entries(&state, channel);
        assert_eq!(list.len(), 1, "one thread in {channel}");
        let root = &list[0]["post"];
        assert_eq!(root["kind"], "root");
        let text = text_of(&root["message"]);
        assert!(
            text.contains("NSAB-2026-0001 · Stage 1 of 4 · Professional to professional"),
            "{text}"
        );
        assert!(
            text.contains("Due Mon 8 Jun, 17:00"),
            "due in UK local time: {text}"
        );
        assert!(text.contains(SUMMARY), "{text}");
        assert_eq!(
            button_labels(&root["message"]),
            [
                "Add note",
                "Escalate to stage 2",
                "Propose resolution",
                "Bring deadline forward"
            ]
        );
        assert_eq!(root["posted"], "Mon 1 Jun, 09:40");
    }
    let private = state["private"].as_array().expect("private");
    assert_eq!(private.len(), 1, "{private:?}");
    assert_eq!(private[0]["kind"], "receipt");
    assert!(text_of(&private[0]["message"]).contains("NSAB-2026-0001 raised"));
    let other = sandbox.state("dr-okafor").await;
    assert!(
        other["private"].as_array().expect("private").is_empty(),
        "a receipt is only for the person who acted"
    );
    let events = sandbox
        .service
        .events(&Reference::parse(&reference).expect("a reference"))
        .await
        .expect("events");
    let threads: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ThreadOpened { thread } if thread.platform == Platform::Sandbox => {
                Some(thread.channel.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        threads,
        ["norfolk-asc", "riverside-gp"],
        "the worker recorded each thread it opened"
    );
}

#[tokio::test]
async fn the_same_submission_sent_twice_is_recorded_once() {
    let sandbox = Sandbox::start().await;
    let submission = "double-click-0001";
    let first = sandbox
        .submit(
            "sam-patel",
            "raise",
            None,
            raise_fields(SUMMARY),
            submission,
        )
        .await;
    let second = sandbox
        .submit(
            "sam-patel",
            "raise",
            None,
            raise_fields(SUMMARY),
            submission,
        )
        .await;
    assert_eq!(first.1["reference"], "NSAB-2026-0001");
    assert_eq!(
        second.1, first.1,
        "the repeat is answered as recorded, with the same reference"
    );
    sandbox.deliver().await;
    let state = sandbox.state("sam-patel").await;
    assert_eq!(
        entries(&state, "norfolk-asc").len(),
        1,
        "one challenge, not two"
    );
}

#[tokio::test]
async fn a_refused_form_names_the_input_to_change_and_records_nothing() {
    let sandbox = Sandbox::start().await;
    let (status, reply) = sandbox
        .submit(
            "sam-patel",
            "raise",
            None,
            json!({ "summary": "x" }),
            &sandbox.submission(),
        )
        .await;
    assert_eq!(
        (status, reply["kind"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("errors"))
    );
    assert_eq!(
        reply["errors"]["case_reference"],
        "Give your agency's case reference, so the record points at the case without naming anyone."
    );
    let identifiable = format!("{SUMMARY} NHS number 943 476 5919.");
    let (status, reply) = sandbox
        .submit(
            "sam-patel",
            "raise",
            None,
            raise_fields(&identifiable),
            &sandbox.submission(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    let errors = reply["errors"].as_object().expect("errors");
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        ["summary"],
        "the screen's refusal sits under the summary"
    );
    assert!(
        errors["summary"]
            .as_str()
            .expect("text")
            .contains("NHS number"),
        "{errors:?}"
    );
    sandbox.deliver().await;
    let state = sandbox.state("sam-patel").await;
    assert!(
        state["channels"].as_object().expect("channels").is_empty(),
        "nothing was posted"
    );
    assert_eq!(
        sandbox.store().await.verify().await.expect("verify").events,
        0,
        "nothing was recorded"
    );
}

#[tokio::test]
async fn escalating_by_button_and_form_updates_the_root_in_place_and_replies_in_order() {
    let sandbox = Sandbox::start().await;
    let reference = sandbox.raise().await;
    let (_, reply) = sandbox.press("sam-patel", "escalate", &reference).await;
    assert_eq!(
        (reply["kind"].as_str(), reply["form"]["name"].as_str()),
        (Some("form"), Some("escalate"))
    );
    let (status, reply) = sandbox
        .submit(
            "sam-patel",
            "escalate",
            Some(&reference),
            json!({ "reason": "Discussed twice, no agreement on the capacity concerns." }),
            &sandbox.submission(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    sandbox.deliver().await;
    let state = sandbox.state("jordan-reid").await;
    for channel in ["norfolk-asc", "riverside-gp"] {
        let entry = &entries(&state, channel)[0];
        let root = &entry["post"];
        assert_eq!(
            root["revision"], 2,
            "the root was rewritten in place, not posted again"
        );
        let text = text_of(&root["message"]);
        assert!(
            text.contains("Stage 2 of 4 · First line manager to first line manager"),
            "{text}"
        );
        assert!(
            text.contains("@Jordan Reid") && text.contains("@Dr Maria Lindqvist"),
            "mentions: {text}"
        );
        assert_eq!(button_labels(&root["message"])[0], "Acknowledge");
        let replies = entry["replies"].as_array().expect("replies");
        assert_eq!(replies.len(), 1, "{replies:?}");
        let reply_text = text_of(&replies[0]["message"]);
        assert!(
            reply_text.contains("escalated to stage 2. Why: Discussed twice"),
            "{reply_text}"
        );
        assert!(
            !reply_text.contains("formal challenge"),
            "Norfolk's procedure never speaks of a formal challenge: {reply_text}"
        );
    }
    let dms: Vec<&Value> = state["private"]
        .as_array()
        .expect("private")
        .iter()
        .filter(|p| p["kind"] == "direct")
        .collect();
    assert_eq!(
        dms.len(),
        1,
        "the team manager is asked to acknowledge by direct message"
    );

    let (status, reply) = sandbox
        .press("jordan-reid", "acknowledge", &reference)
        .await;
    assert_eq!(
        (status, reply["kind"].as_str()),
        (StatusCode::OK, Some("recorded")),
        "{reply}"
    );
    let (status, again) = sandbox
        .press("jordan-reid", "acknowledge", &reference)
        .await;
    assert_eq!(
        (status, again["kind"].as_str()),
        (StatusCode::OK, Some("ephemeral")),
        "a second press is not an error: {again}"
    );
    assert!(
        again["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("You acknowledged stage 2 of")),
        "the core's own words, as on Slack and Teams: {again}"
    );
    let (status, refused) = sandbox.press("pc-evans", "acknowledge", &reference).await;
    assert_eq!(
        (status, refused["kind"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("refused")),
        "{refused}"
    );
    sandbox.deliver().await;
    let state = sandbox.state("jordan-reid").await;
    let entry = &entries(&state, "riverside-gp")[0];
    assert!(
        text_of(&entry["post"]["message"])
            .contains("Acknowledged by Jordan Reid (Team Manager, Norfolk Adult Social Care)"),
        "people are named as well as their roles"
    );
    let replies: Vec<String> = entry["replies"]
        .as_array()
        .expect("replies")
        .iter()
        .map(|r| text_of(&r["message"]))
        .collect();
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(
        replies[1].contains("Acknowledged by Jordan Reid (Team Manager"),
        "replies stay in order: {replies:?}"
    );
}

#[tokio::test]
async fn the_composer_takes_commands_as_the_platform_of_each_channel_does() {
    let sandbox = Sandbox::start().await;
    let reference = sandbox.raise().await;
    let (status, reply) = sandbox
        .command(
            "dr-okafor",
            "riverside-gp",
            &format!("@escalation-bot note {reference} Spoke with the social worker by phone."),
        )
        .await;
    assert_eq!(
        (status, reply["kind"].as_str()),
        (StatusCode::OK, Some("recorded")),
        "{reply}"
    );
    sandbox.deliver().await;
    let state = sandbox.state("dr-okafor").await;
    let replies = entries(&state, "norfolk-asc")[0]["replies"]
        .as_array()
        .expect("replies")
        .clone();
    assert!(text_of(&replies[0]["message"]).contains("Spoke with the social worker by phone."));
    let receipt = state["private"]
        .as_array()
        .expect("private")
        .last()
        .expect("a receipt")
        .clone();
    assert_eq!(
        receipt["channel"], "riverside-gp",
        "the receipt is where the command was typed"
    );

    let (_, help) = sandbox
        .command("sam-patel", "norfolk-asc", "/challenge help")
        .await;
    assert_eq!(help["kind"], "ephemeral");
    assert_eq!(
        help["text"].as_str(),
        Some(escalation_bot::chat::grammar::help("/challenge").as_str())
    );
    let (_, status_reply) = sandbox
        .command(
            "dr-okafor",
            "riverside-gp",
            &format!("@escalation-bot status {reference}"),
        )
        .await;
    assert!(
        status_reply["text"]
            .as_str()
            .expect("text")
            .starts_with("NSAB-2026-0001 · Stage 1 of 4"),
        "{status_reply}"
    );
    let (_, list) = sandbox
        .command("sam-patel", "norfolk-asc", "/challenge list")
        .await;
    assert!(
        list["text"]
            .as_str()
            .expect("text")
            .contains("NSAB-2026-0001"),
        "{list}"
    );
    let (_, resolve) = sandbox
        .command(
            "sam-patel",
            "norfolk-asc",
            &format!("/challenge resolve {reference}"),
        )
        .await;
    assert_eq!(resolve["form"]["name"], "propose_resolution");
    let (_, withdraw) = sandbox
        .command(
            "sam-patel",
            "norfolk-asc",
            &format!("/challenge withdraw {reference}"),
        )
        .await;
    assert_eq!(withdraw["form"]["name"], "withdraw");
    let (status, wrong) = sandbox
        .command("sam-patel", "norfolk-asc", "/challenge frobnicate")
        .await;
    assert_eq!(
        (status, wrong["kind"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("refused"))
    );
    assert!(
        wrong["text"]
            .as_str()
            .expect("text")
            .contains("How to use /challenge"),
        "mistakes come with the help"
    );
    let (_, chat) = sandbox
        .command("sam-patel", "norfolk-asc", "hello everyone")
        .await;
    assert!(
        chat["text"]
            .as_str()
            .expect("text")
            .contains("only take /challenge commands"),
        "{chat}"
    );
    let (status, stranger) = sandbox
        .command("nobody-at-all", "norfolk-asc", "/challenge")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{stranger}");
}

#[tokio::test]
async fn typed_text_is_kept_as_text_and_never_becomes_markup_or_a_mention() {
    let sandbox = Sandbox::start().await;
    let sneaky = "<img src=x onerror=alert(1)> <!channel> @here — the GP's view differs.";
    let (status, reply) = sandbox
        .submit(
            "sam-patel",
            "raise",
            None,
            raise_fields(sneaky),
            &sandbox.submission(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    sandbox.deliver().await;
    let state = sandbox.state("sam-patel").await;
    let message = &entries(&state, "norfolk-asc")[0]["post"]["message"];
    let disagreement = message["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["label"] == "Disagreement")
        .expect("the summary line");
    assert_eq!(
        disagreement["spans"],
        json!([{ "type": "text", "text": sneaky }]),
        "one plain text span, as typed"
    );
}

#[tokio::test]
async fn the_demo_clock_moves_by_hours_and_working_days_and_overdue_prompts_follow() {
    let sandbox = Sandbox::start().await;
    let reference = sandbox.raise().await;
    let (status, clock) = sandbox.get("/sandbox/api/clock?as=sam-patel").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (clock["now_uk"].as_str(), clock["working"].as_bool()),
        (Some("Mon 1 Jun 2026, 09:40"), Some(true))
    );
    let (_, clock) = sandbox
        .post(
            "/sandbox/api/clock",
            json!({ "as": "sam-patel", "hours": 8 }),
        )
        .await;
    assert_eq!(clock["now_uk"], "Mon 1 Jun 2026, 17:40");
    assert_eq!(clock["working"], false);
    assert!(
        clock["note"]
            .as_str()
            .expect("note")
            .contains("wait until Tue 2 Jun, 09:00"),
        "{clock}"
    );
    // Four working days from Monday evening is Friday at the opening of working hours: the
    // reminder falls there, the start of the last working day before Monday's deadline.
    let (_, clock) = sandbox
        .post(
            "/sandbox/api/clock",
            json!({ "as": "sam-patel", "working_days": 4 }),
        )
        .await;
    assert_eq!(clock["now_uk"], "Fri 5 Jun 2026, 09:00", "{clock}");
    sandbox.run_schedule().await;
    let replies = |state: &Value| -> Vec<String> {
        entries(state, "riverside-gp")[0]["replies"]
            .as_array()
            .expect("replies")
            .iter()
            .map(|r| text_of(&r["message"]))
            .collect()
    };
    let state = sandbox.state("sam-patel").await;
    assert!(
        replies(&state)
            .iter()
            .any(|r| r.contains("Reminder: this stage is due Mon 8 Jun, 17:00")),
        "{:?}",
        replies(&state)
    );
    // Stage 1 was due on Monday 8 June at 17:00: on Tuesday morning it is overdue.
    let (_, clock) = sandbox
        .post(
            "/sandbox/api/clock",
            json!({ "as": "sam-patel", "working_days": 2 }),
        )
        .await;
    assert_eq!(clock["now_uk"], "Tue 9 Jun 2026, 09:00", "{clock}");
    sandbox.run_schedule().await;
    let state = sandbox.state("sam-patel").await;
    let overdue: Vec<String> = replies(&state)
        .into_iter()
        .filter(|r| r.contains("Overdue."))
        .collect();
    assert_eq!(
        overdue.len(),
        1,
        "the overdue prompt is in the thread once: {:?}",
        replies(&state)
    );
    assert!(
        overdue[0].contains("Stage 1 was due Mon 8 Jun, 17:00"),
        "{overdue:?}"
    );
    let (status, refused) = sandbox
        .post("/sandbox/api/clock", json!({ "working_days": 0 }))
        .await;
    assert_eq!(
        (status, refused["kind"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("refused"))
    );
    let (status, _) = sandbox
        .post(
            "/sandbox/api/clock",
            json!({ "hours": 1, "working_days": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "one unit at a time");
    assert_eq!(
        sandbox.clock.now(),
        sandbox.service.now(),
        "the service reads the demo clock"
    );
    let kept = escalation_bot::chat::sandbox::kept::SandboxKept::of(&sandbox.service)
        .clock_offset()
        .await
        .expect("the offset is kept");
    assert_eq!(
        kept,
        sandbox.clock.offset().num_microseconds().expect("fits"),
        "a restart resumes at the same demo time"
    );
    assert!(Reference::parse(&reference).is_ok());
}

#[tokio::test]
async fn a_real_time_clock_cannot_be_moved_from_the_page() {
    let clock = Arc::new(ManualClock::running());
    let app = Sandbox::start_with(clock, Arc::new(SystemClock), true, None).await;
    let (status, reply) = app.post("/sandbox/api/clock", json!({ "hours": 1 })).await;
    assert_eq!(
        (status, reply["kind"].as_str()),
        (StatusCode::CONFLICT, Some("refused"))
    );
    let (_, clock) = app.get("/sandbox/api/clock").await;
    assert_eq!(clock["movable"], false);
}

#[tokio::test]
async fn proposing_and_confirming_a_resolution_closes_the_threads_and_the_record_shows_every_step()
{
    let sandbox = Sandbox::start().await;
    let reference = sandbox.raise().await;
    let (_, reply) = sandbox
        .press("dr-okafor", "propose_resolution", &reference)
        .await;
    assert_eq!(reply["form"]["name"], "propose_resolution");
    let fields = json!({
        "rationale": "Both agencies reviewed the discharge plan together.",
        "outcome": "Joint capacity assessment on Friday.",
        "outstanding": "Discharge-summary sharing, pursued via the practice manager.",
    });
    let (status, reply) = sandbox
        .submit(
            "dr-okafor",
            "propose_resolution",
            Some(&reference),
            fields,
            &sandbox.submission(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    sandbox.deliver().await;
    let state = sandbox.state("sam-patel").await;
    let root = &entries(&state, "norfolk-asc")[0]["post"]["message"];
    assert_eq!(
        button_labels(root),
        [
            "Add note",
            "Confirm resolution",
            "Reject",
            "Bring deadline forward"
        ]
    );
    let (status, reply) = sandbox
        .press("sam-patel", "confirm_resolution", &reference)
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    sandbox.deliver().await;
    let state = sandbox.state("sam-patel").await;
    for channel in ["norfolk-asc", "riverside-gp"] {
        let root = &entries(&state, channel)[0]["post"]["message"];
        assert_eq!(root["status"], "Resolved");
        assert_eq!(
            button_labels(root),
            ["Refer learning"],
            "a resolved challenge offers only learning for the board"
        );
    }
    let (status, record) = sandbox
        .get(&format!("/sandbox/api/record/{reference}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["intact"], true);
    let n = record["events"].as_array().expect("events").len();
    assert!(
        record["verified"]
            .as_str()
            .expect("verified")
            .contains(&format!("the {n} events")),
        "the only dispute's {n} events are all checked: {}",
        record["verified"]
    );
    let kinds: Vec<&str> = record["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in [
        "raised",
        "stage_started",
        "thread_opened",
        "resolution_proposed",
        "resolution_confirmed",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let confirmed = record["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "resolution_confirmed")
        .expect("confirmed");
    assert_eq!(
        confirmed["who"],
        "Sam Patel (Social Worker / Occupational Therapist, Norfolk Adult Social Care)"
    );
    assert!(
        confirmed["what"]
            .as_str()
            .expect("what")
            .contains("Joint capacity assessment on Friday.")
    );
    let (status, _) = sandbox.get("/sandbox/api/record/NSAB-2026-0099").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn open_pages_hear_of_every_new_post_on_the_live_stream() {
    use futures_util::StreamExt;
    let sandbox = Sandbox::start().await;
    let response = sandbox
        .router
        .clone()
        .oneshot(
            Request::get("/sandbox/api/stream")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("the stream opens");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body().into_data_stream();
    let first = body.next().await.expect("a first event").expect("bytes");
    assert!(
        String::from_utf8_lossy(&first).contains("event: change"),
        "the page refreshes on connect"
    );
    sandbox.raise().await;
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
        .await
        .expect("a change is announced")
        .expect("an event")
        .expect("bytes");
    assert!(String::from_utf8_lossy(&next).contains("event: change"));
}

#[tokio::test]
async fn malformed_requests_are_refused_plainly() {
    let sandbox = Sandbox::start().await;
    let (status, reply) = sandbox
        .post("/sandbox/api/command", json!({ "as": "sam-patel" }))
        .await;
    assert_eq!(
        (status, reply["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("refused")),
        "{reply}"
    );
    let (status, reply) = sandbox
        .post(
            "/sandbox/api/command",
            json!({ "as": "sam-patel", "text": "/challenge", "submission": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    let (status, _) = sandbox
        .press("sam-patel", "launch_rockets", "NSAB-2026-0001")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, reply) = sandbox
        .submit(
            "sam-patel",
            "add_note",
            None,
            json!({ "note": "no reference" }),
            &sandbox.submission(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply["errors"]["_form"]
            .as_str()
            .expect("text")
            .contains("lost track"),
        "{reply}"
    );
}

#[tokio::test]
async fn the_boards_channel_gets_the_notices_its_procedure_names() {
    let sandbox = Sandbox::start().await;
    let reference = sandbox.raise().await;
    for (who, why) in [
        (
            "sam-patel",
            "Discussed twice, no agreement on the capacity concerns.",
        ),
        (
            "jordan-reid",
            "Team manager and safeguarding lead GP met; the practice maintains its position.",
        ),
    ] {
        let (status, reply) = sandbox
            .command(
                who,
                "norfolk-asc",
                &format!("/challenge escalate {reference} {why}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{who}: {reply}");
        // Into stage 3 Norfolk asks whether to advise the board manager now (7.2): no typed
        // command can answer that, so the form opens with the reason typed in it.
        if reply["kind"] == "form" {
            assert_eq!(reply["form"]["name"], "escalate", "{reply}");
            let question = reply["form"]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["id"].as_str())
                .find(|id| id.starts_with("notice_"))
                .unwrap_or_else(|| panic!("the form asks the notice question: {reply}"))
                .to_string();
            let mut fields = serde_json::Map::new();
            fields.insert("reason".into(), json!(why));
            fields.insert(question, json!("yes"));
            let (status, reply) = sandbox
                .submit(
                    who,
                    "escalate",
                    Some(&reference),
                    Value::Object(fields),
                    &sandbox.submission(),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{who}: {reply}");
        }
        sandbox.deliver().await;
    }
    let state = sandbox.state("nsab-unit").await;
    let notices = entries(&state, "norfolk-board");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["post"]["kind"], "notice");
    let text = text_of(&notices[0]["post"]["message"]);
    assert!(
        text.contains("Advance notice") && text.contains("Stage 3 of 4"),
        "{text}"
    );
    assert!(
        entries(&state, "norfolk-asc")[0]["post"]["message"]["title"]
            .as_str()
            .expect("title")
            .contains("Stage 3 of 4")
    );
}

/// Every reply in a channel's first thread, as text.
fn thread_texts(state: &Value, channel: &str) -> Vec<String> {
    entries(state, channel)
        .first()
        .and_then(|e| e["replies"].as_array())
        .into_iter()
        .flatten()
        .map(|r| text_of(&r["message"]))
        .collect()
}

#[tokio::test]
async fn a_sunderland_review_recorded_on_time_starts_the_written_response_clock_and_nothing_is_called_late()
 {
    // Sunderland stage 3: the Senior Manager's review within 10 working days of the concern,
    // the written response "within 5 days of the review". Raised Mon 1 June 2026 at 09:40, so
    // the stage is due Mon 15 June 17:00.
    let sandbox = Sandbox::start().await;
    let channel = "sunderland-asc";
    let raise = json!({
        "receiving_agency": "sunderland-community",
        "other_professional": "sunderland-community-practitioner",
        "concerns": "adult",
        "category": "decisions-taken",
        "summary": "Decision to close the case after one visit although the adult declined support.",
        "desired_outcome": "A joint review of the decision to close.",
        "case_reference": "ASC-5512",
        "immediate_risk": "no",
    });
    let (status, reply) = sandbox
        .submit(
            "sunderland-asc-practitioner",
            "raise",
            None,
            raise,
            &sandbox.submission(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let reference = reply["reference"]
        .as_str()
        .expect("a reference")
        .to_string();
    // The practitioner escalates stage 1; from stage 2 their line manager holds it (Stage Two).
    for (who, why) in [
        ("sunderland-asc-practitioner", "No agreement between us."),
        (
            "sunderland-asc-line-manager",
            "The proforma went to the senior manager.",
        ),
    ] {
        let (status, reply) = sandbox
            .command(
                who,
                channel,
                &format!("@escalation-bot escalate {reference} {why}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    sandbox.deliver().await;
    let d = sandbox
        .service
        .dispute(&Reference::parse(&reference).expect("reference"))
        .await
        .expect("loads");
    assert_eq!(d.stage, 3);

    // Wednesday: the head of service records that the review was held on Tuesday at 10:00.
    sandbox.clock.set(
        DateTime::parse_from_rfc3339("2026-06-03T09:30:00+01:00")
            .expect("time")
            .with_timezone(&Utc),
    );
    let (status, reply) = sandbox
        .command(
            "sunderland-asc-head-of-service",
            channel,
            &format!(
                "@escalation-bot done {reference} review 2026-06-02 10:00 Case file and notes read"
            ),
        )
        .await;
    assert_eq!(
        (status, reply["kind"].as_str()),
        (StatusCode::OK, Some("recorded")),
        "{reply}"
    );
    sandbox.deliver().await;
    let state = sandbox.state("sunderland-asc-head-of-service").await;
    let replies = thread_texts(&state, channel);
    let done = replies.last().expect("a reply for the step");
    assert!(
        done.contains("Senior Manager's review: recorded by")
            && done.contains("(it happened Tue 2 Jun, 10:00)")
            && done.contains(
                "Written response to the professional expressing the concern due Mon 8 Jun, 17:00"
            )
            && done.contains("Note: Case file and notes read"),
        "the written response's clock starts from the review: {done}"
    );

    // The reminder comes the working day before the written response is due, and names it.
    sandbox.clock.set(
        DateTime::parse_from_rfc3339("2026-06-05T09:30:00+01:00")
            .expect("time")
            .with_timezone(&Utc),
    );
    sandbox.run_schedule().await;
    let state = sandbox.state("sunderland-asc-head-of-service").await;
    let replies = thread_texts(&state, channel);
    assert!(
        replies
            .last()
            .is_some_and(|r| r.contains("Reminder: Written response to the professional expressing the concern is due Mon 8 Jun, 17:00")),
        "{replies:#?}"
    );

    // The written response is sent; then the stage's own deadline passes with nothing owed.
    let (status, reply) = sandbox
        .command(
            "sunderland-asc-head-of-service",
            channel,
            &format!("@escalation-bot done {reference} written-response"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    sandbox.deliver().await;
    sandbox.clock.set(
        DateTime::parse_from_rfc3339("2026-06-17T10:00:00+01:00")
            .expect("time")
            .with_timezone(&Utc),
    );
    sandbox.run_schedule().await;
    let state = sandbox.state("sunderland-asc-head-of-service").await;
    let replies = thread_texts(&state, channel);
    assert!(
        replies
            .iter()
            .all(|r| !r.contains("Overdue") && !r.contains("escalate to stage 4 now")),
        "nothing is late, so nothing says so: {replies:#?}"
    );
    let events = sandbox
        .service
        .events(&Reference::parse(&reference).expect("reference"))
        .await
        .expect("events");
    assert!(
        !events.iter().any(|e| matches!(
            e.body,
            EventBody::OverduePrompted { .. } | EventBody::StepPrompted { overdue: true, .. }
        )),
        "no overdue prompt was recorded"
    );
    // A step recorded twice is refused, in words.
    let (status, reply) = sandbox
        .command(
            "sunderland-asc-head-of-service",
            channel,
            &format!("@escalation-bot done {reference} review"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert!(
        reply["text"]
            .as_str()
            .is_some_and(|t| t.contains("already been recorded")),
        "{reply}"
    );
}

#[tokio::test]
async fn the_new_actions_work_from_the_sandbox_by_command_button_and_form() {
    let sandbox = Sandbox::start().await;
    let reference = sandbox.raise().await;

    // Bring the deadline forward by typing it (Norfolk 4.1): both threads show the new time.
    let (status, reply) = sandbox
        .command(
            "sam-patel",
            "norfolk-asc",
            &format!("/challenge forward {reference} 2026-06-03 12:00 The adult has no carers from Wednesday."),
        )
        .await;
    assert_eq!(
        (status, reply["kind"].as_str()),
        (StatusCode::OK, Some("recorded")),
        "{reply}"
    );
    sandbox.deliver().await;
    let state = sandbox.state("sam-patel").await;
    for channel in ["norfolk-asc", "riverside-gp"] {
        let root = &entries(&state, channel)[0]["post"]["message"];
        assert_eq!(
            root["status"], "Due Wed 3 Jun, 12:00 (on time)",
            "{channel}"
        );
        let replies = thread_texts(&state, channel);
        assert!(
            replies
                .last()
                .is_some_and(|r| r.contains("brought the deadline forward to Wed 3 Jun, 12:00")),
            "{replies:#?}"
        );
    }
    // Later than now is refused, and the form says where.
    let (status, reply) = sandbox
        .submit(
            "sam-patel",
            "bring_deadline_forward",
            Some(&reference),
            json!({ "due": "2026-06-20T12:00", "reason": "Later." }),
            &sandbox.submission(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert!(
        reply["errors"]["due"]
            .as_str()
            .is_some_and(|e| e.contains("never extended")),
        "{reply}"
    );

    // The delay button appears once the stage is late, and records a reason without escalating.
    sandbox.clock.set(
        DateTime::parse_from_rfc3339("2026-06-04T10:00:00+01:00")
            .expect("time")
            .with_timezone(&Utc),
    );
    sandbox.run_schedule().await;
    let state = sandbox.state("sam-patel").await;
    let overdue = entries(&state, "norfolk-asc")[0]["replies"]
        .as_array()
        .and_then(|r| r.last())
        .expect("the overdue prompt")["message"]
        .clone();
    let said = text_of(&overdue);
    assert!(said.contains("Overdue"), "{said}");
    assert!(
        said.contains("@Sam Patel") && said.contains("@Dr Ade Okafor"),
        "the prompt names the people who hold the stage: {said}"
    );
    assert!(
        said.contains("Answer it from the first post of this thread: ")
            && said.contains("Record reason for delay"),
        "the prompt names the actions that answer it: {said}"
    );
    assert!(
        button_labels(&overdue).is_empty(),
        "replies carry no buttons to go stale"
    );
    let root = &entries(&state, "norfolk-asc")[0]["post"]["message"];
    assert!(
        root["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("Overdue by 1 working day (was due Wed 3 Jun, 12:00)")),
        "the root says it is overdue: {}",
        root["status"]
    );
    assert!(button_labels(root).contains(&"Record reason for delay".to_string()));
    let (_, form) = sandbox
        .press("sam-patel", "record_delay_reason", &reference)
        .await;
    assert_eq!(form["form"]["name"], "record_delay_reason", "{form}");
    let (status, reply) = sandbox
        .submit(
            "sam-patel",
            "record_delay_reason",
            Some(&reference),
            json!({ "reason": "The GP practice was closed for training." }),
            &sandbox.submission(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // Learning for the board: typed, and posted in the board's channel.
    let (status, reply) = sandbox
        .command(
            "sam-patel",
            "norfolk-asc",
            &format!(
                "/challenge learning {reference} Discharge plans should reach the GP the same day."
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    sandbox.deliver().await;
    let state = sandbox.state("sam-patel").await;
    let board_posts: Vec<String> = entries(&state, "norfolk-board")
        .iter()
        .map(|e| text_of(&e["post"]["message"]))
        .collect();
    assert!(
        board_posts
            .iter()
            .any(|t| t.contains("Learning referred to the board") && t.contains("same day")),
        "{board_posts:#?}"
    );
    let kinds: Vec<&str> = sandbox
        .service
        .events(&Reference::parse(&reference).expect("reference"))
        .await
        .expect("events")
        .iter()
        .map(|e| e.body.kind())
        .collect();
    for kind in [
        "deadline_brought_forward",
        "delay_reason_recorded",
        "learning_referred",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(
        !kinds.contains(&"escalated"),
        "nothing escalated: {kinds:?}"
    );
}

#[tokio::test]
async fn each_channel_says_which_platform_it_stands_for_and_takes_its_way_of_typing() {
    let sandbox = Sandbox::start().await;
    let (_, dir) = sandbox.get("/sandbox/api/directory").await;
    let channel_of = |agency: &str| {
        dir["boards"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| b["agencies"].as_array().cloned().unwrap_or_default())
            .find(|a| a["id"] == agency)
            .map(|a| a["channel"].clone())
            .expect("the agency is listed")
    };
    assert_eq!(channel_of("riverside-gp")["platform"], "teams");
    assert_eq!(channel_of("riverside-gp")["command"], "@escalation-bot");
    assert_eq!(channel_of("norfolk-asc")["platform"], "slack");
    assert_eq!(channel_of("norfolk-asc")["command"], "/challenge");

    let (status, help) = sandbox
        .command("dr-okafor", "riverside-gp", "@escalation-bot help")
        .await;
    assert_eq!(
        (status, help["kind"].as_str()),
        (StatusCode::OK, Some("ephemeral")),
        "{help}"
    );
    assert!(
        help["text"]
            .as_str()
            .is_some_and(|t| t.contains("@escalation-bot note REF"))
    );
    let (status, slash) = sandbox
        .command("dr-okafor", "riverside-gp", "/challenge help")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{slash}");
    assert!(
        slash["text"].as_str().is_some_and(|t| t.starts_with(
            "This channel stands for Teams, where commands start with @escalation-bot."
        )),
        "{slash}"
    );
}

#[tokio::test]
async fn a_party_the_service_chose_is_named_on_the_root_and_told_at_once() {
    let sandbox = Sandbox::start().await;
    let mut fields = raise_fields(SUMMARY);
    fields
        .as_object_mut()
        .expect("an object")
        .remove("other_professional");
    let (status, reply) = sandbox
        .submit("sam-patel", "raise", None, fields, &sandbox.submission())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    sandbox.deliver().await;
    let reference = reply["reference"]
        .as_str()
        .expect("a reference")
        .to_string();
    let d = sandbox
        .service
        .dispute(&Reference::parse(&reference).expect("reference"))
        .await
        .expect("loads");
    assert!(d.other_professional.is_none());
    let chosen: Vec<String> = d.owners_receiving.iter().map(|p| p.0.clone()).collect();
    assert!(
        !chosen.is_empty(),
        "somebody holds the stage at the GP practice"
    );
    let state = sandbox.state("sam-patel").await;
    let root = text_of(&entries(&state, "riverside-gp")[0]["post"]["message"]);
    assert!(
        root.contains("chosen by the service as the agency's contact"),
        "{root}"
    );
    for person in &chosen {
        let theirs = sandbox.state(person).await;
        let dms: Vec<String> = theirs["private"]
            .as_array()
            .expect("private")
            .iter()
            .filter(|p| p["kind"] == "direct")
            .map(|p| text_of(&p["message"]))
            .collect();
        assert!(
            dms.iter()
                .any(|t| t.contains("has named you as your agency's contact")),
            "{person} is told at once: {dms:#?}"
        );
    }
}

/// A signed checkpoint of the record is posted to every board's channel once a day, and the
/// line it carries is what `audit verify --checkpoints` checks the log against.
#[tokio::test]
async fn a_signed_checkpoint_of_the_record_is_posted_to_each_boards_channel_once_a_day() {
    let seed = "5a".repeat(32);
    let key = CheckpointKey::from_hex(&seed).expect("a valid seed");
    let start = DateTime::parse_from_rfc3339(START)
        .expect("START is RFC 3339")
        .with_timezone(&Utc);
    let clock = Arc::new(ManualClock::frozen_at(start));
    let app = Sandbox::start_with(clock.clone(), clock.clone(), true, Some(&seed)).await;
    let checkpoints = |state: &Value, channel: &str| -> Vec<String> {
        entries(state, channel)
            .iter()
            .map(|e| text_of(&e["post"]["message"]))
            .filter(|t| t.starts_with("Record checkpoint"))
            .collect()
    };

    app.run_schedule().await;
    let state = app.state("nsab-unit").await;
    assert!(
        checkpoints(&state, "norfolk-board").is_empty(),
        "an empty record has nothing to anchor"
    );

    app.raise().await;
    app.run_schedule().await;
    app.run_schedule().await;
    let state = app.state("nsab-unit").await;
    let posted = checkpoints(&state, "norfolk-board");
    assert_eq!(posted.len(), 1, "one checkpoint today: {posted:?}");
    assert!(
        !checkpoints(&state, "sunderland-board").is_empty(),
        "every board's channel has it"
    );
    let line = posted[0]
        .lines()
        .find_map(|l| l.strip_prefix("Checkpoint: "))
        .expect("the checkpoint line is in the post");
    let read =
        escalation_bot::store::checkpoint::read_lines(line).expect("the posted line reads back");
    assert_eq!(
        app.service
            .check_checkpoint(&read[0], &key.public_key())
            .await
            .expect("checks"),
        escalation_bot::store::checkpoint::CheckpointFinding::Held,
        "the posted checkpoint is the record's head, signed with the configured key"
    );

    clock.advance(chrono::Duration::days(1));
    app.run_schedule().await;
    let state = app.state("nsab-unit").await;
    assert_eq!(
        checkpoints(&state, "norfolk-board").len(),
        2,
        "the next day has its own checkpoint"
    );
}

/// The board's channel offers the Board's view on its notices; the page sends a press as the
/// channel's command word and the button's word, so it is answered exactly as typing it.
#[tokio::test]
async fn the_board_view_button_on_a_board_notice_is_answered_as_typing_board() {
    let sandbox = Sandbox::start().await;
    let reference = sandbox.raise().await;
    let (status, reply) = sandbox
        .command(
            "sam-patel",
            "norfolk-asc",
            &format!(
                "/challenge learning {reference} Discharge plans should reach the GP the same day."
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    sandbox.deliver().await;
    let state = sandbox.state("nsab-unit").await;
    let notice = entries(&state, "norfolk-board")
        .iter()
        .map(|e| &e["post"]["message"])
        .find(|m| text_of(m).contains("Learning referred"))
        .expect("the learning notice in the board's channel");
    assert_eq!(
        notice["commands"],
        json!([{ "word": "board", "label": "Board view" }]),
        "{notice}"
    );
    let word = notice["commands"][0]["word"].as_str().unwrap_or_default();
    let (status, reply) = sandbox
        .command("nsab-unit", "norfolk-board", &format!("/challenge {word}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(
        reply
            .to_string()
            .contains("has been sent to you by direct message"),
        "{reply}"
    );
    let (_, reply) = sandbox
        .command("sam-patel", "norfolk-asc", &format!("/challenge {word}"))
        .await;
    assert!(
        reply
            .to_string()
            .contains("for a board's business unit and chair"),
        "{reply}"
    );
    // Posts elsewhere carry no Board view button.
    let asc = sandbox.state("sam-patel").await;
    assert!(
        entries(&asc, "norfolk-asc")
            .iter()
            .all(|e| e["post"]["message"].get("commands").is_none()),
        "only the board's own channel offers it"
    );
}
