//! Slack end to end: the app on port 0 with a real database, driven by signed requests shaped like
//! Slack's, posting to the Slack Web API test server, which enforces the contract.

use crate::databases::{Backend, admin_url, run_cli};
use crate::slack_app::{
    ASC_CHANNEL, ASC_TEAM, App, COLLEAGUE, Delivery, FORM, JSON, OLD_SECRET, Options,
    SAFEGUARDING_LEAD, SOCIAL_WORKER, Signing, TEAM_MANAGER, VOL_CHANNEL, VOL_TEAM, Who, buttons,
    line, raise_inputs, sign, spawn_app, spawn_with, texts, unix_now,
};
use crate::slack_server::{Call, Down, RateLimit};
use escalation_bot::chat::slack::views;
use escalation_bot::escalation::{Reference, Status};
use escalation_bot::service::Clock;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};
use std::collections::HashSet;
use std::time::Duration;

const SUMMARY: &str = "Decision not to refer for a mental capacity assessment after the hospital discharge; adult lives alone, reference ASC-4471";

/// Slack's deadline for every acknowledgement.
const SLACK_DEADLINE: Duration = Duration::from_secs(3);
/// What "fast" means here: far inside Slack's deadline, and far below the Web API's 5-second stall.
const FAST: Duration = Duration::from_millis(1500);

fn lines(calls: &[Call]) -> Vec<String> {
    calls.iter().map(line).collect()
}

fn ts_of(call: &Call) -> String {
    call.response["ts"].as_str().expect("a ts").to_string()
}

fn dm_of(calls: &[Call], user: &str) -> String {
    calls
        .iter()
        .find(|c| c.method == "conversations.open" && c.field("users") == user)
        .and_then(|c| c.response["channel"]["id"].as_str())
        .unwrap_or_else(|| panic!("no DM opened with {user}"))
        .to_string()
}

// ---- signatures ----

#[tokio::test]
async fn forged_missing_and_stale_signatures_get_401_and_change_nothing() {
    let app = spawn_with(Options {
        secrets: vec!["new-secret-after-rotation", OLD_SECRET],
        ..Options::default()
    })
    .await;
    let trigger = app.slack.issue_trigger();
    let command = app.command_body(SOCIAL_WORKER, "", &trigger);
    let note = app.command_body(SOCIAL_WORKER, "note NSAB-2026-0001 called the GP", &trigger);
    // The raise modal as the app builds it, without asking Slack to open it.
    let (policy, calendar) = app.service.policy("norfolk").expect("norfolk is loaded");
    let spec = escalation_bot::chat::forms::form(
        escalation_bot::escalation::Verb::Raise,
        &escalation_bot::chat::forms::FormContext {
            policy,
            calendar,
            directory: &app.service.directory(),
            dispute: None,
            person: None,
            now: app.service.now(),
        },
    )
    .expect("raising has a form");
    let mut view = views::modal(
        &spec,
        &Default::default(),
        r#"{"channel":"C0ASCCHAL","reference":null}"#,
    );
    view["id"] = json!("V0000000001");
    let submission = App::interaction_body(&app.submission_payload(
        SOCIAL_WORKER,
        &view,
        &raise_inputs(SUMMARY),
    ));
    let event = json!({
        "type": "event_callback", "team_id": ASC_TEAM, "api_app_id": "A0ESCALATE", "event_id": "Ev0FORGED1",
        "event_time": unix_now(),
        "event": { "type": "app_mention", "user": SOCIAL_WORKER.user, "channel": ASC_CHANNEL, "text": "<@U0BOT> help", "ts": "1780000000.000001" },
    })
    .to_string();
    let requests: [(&str, &str, &str); 4] = [
        ("/slack/commands", FORM, command.as_str()),
        ("/slack/commands", FORM, note.as_str()),
        ("/slack/interactions", FORM, submission.as_str()),
        ("/slack/events", JSON, event.as_str()),
    ];
    let before = app.footprint().await;
    let now = unix_now();
    for (path, content_type, body) in requests {
        let tampered = format!("{body}&text=x");
        let cases: Vec<(&str, Signing, &str)> = vec![
            (
                "forged with another secret",
                Signing::With {
                    secret: "not-the-apps-secret".into(),
                    timestamp: now,
                },
                body,
            ),
            ("unsigned", Signing::Unsigned, body),
            (
                "signature without timestamp",
                Signing::Headers {
                    timestamp: None,
                    signature: Some(sign(OLD_SECRET, now, body.as_bytes())),
                },
                body,
            ),
            (
                "timestamp without signature",
                Signing::Headers {
                    timestamp: Some(now.to_string()),
                    signature: None,
                },
                body,
            ),
            (
                "stale: signed correctly six minutes ago",
                Signing::With {
                    secret: OLD_SECRET.into(),
                    timestamp: now - 360,
                },
                body,
            ),
            (
                "from the future: signed correctly six minutes ahead",
                Signing::With {
                    secret: OLD_SECRET.into(),
                    timestamp: now + 360,
                },
                body,
            ),
            (
                "body changed after signing",
                Signing::Headers {
                    timestamp: Some(now.to_string()),
                    signature: Some(sign(OLD_SECRET, now, body.as_bytes())),
                },
                tampered.as_str(),
            ),
        ];
        for (case, signing, sent) in cases {
            let reply = app.post_as(path, content_type, sent, signing, &[]).await;
            assert_eq!(reply.status, 401, "{path} {case}: {reply:?}");
            assert!(
                !reply.body.contains(OLD_SECRET) && !reply.body.contains("v0="),
                "{path} {case}: the refusal names no secret or signature"
            );
        }
    }
    app.settle().await;
    assert_eq!(
        app.footprint().await,
        before,
        "no event, outbox row or inbound key"
    );
    assert!(
        app.slack.attempts().is_empty(),
        "no Web API call at all: {:?}",
        app.slack.attempts()
    );

    // Rotation: both the new secret and the old one are accepted.
    for secret in ["new-secret-after-rotation", OLD_SECRET] {
        let body = app.command_body(SOCIAL_WORKER, "help", &app.slack.issue_trigger());
        let signing = Signing::With {
            secret: secret.into(),
            timestamp: unix_now(),
        };
        let reply = app
            .post_as("/slack/commands", FORM, &body, signing, &[])
            .await;
        assert_eq!(reply.status, 200, "{secret}: {reply:?}");
        assert!(reply.text().contains("How to use /challenge"), "{reply:?}");
    }
}

// ---- the journey ----

async fn the_full_journey(app: &App) {
    // `/challenge` with no text opens the raise modal with the command's trigger.
    let trigger = app.slack.issue_trigger();
    let body = app.command_body(SOCIAL_WORKER, "", &trigger);
    let opened = app.post("/slack/commands", FORM, &body).await;
    assert_eq!(
        (opened.status, opened.body.as_str()),
        (200, ""),
        "{opened:?}"
    );
    let calls = app.slack.take_calls();
    assert_eq!(
        lines(&calls),
        [format!("views.open {ASC_TEAM} raise trigger {trigger}")]
    );
    let view = calls[0].response["view"].clone();
    let agencies: Vec<&str> = view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["block_id"] == "receiving_agency")
        .flat_map(|b| b["element"]["options"].as_array().into_iter().flatten())
        .filter_map(|o| o["value"].as_str())
        .collect();
    assert_eq!(
        agencies,
        ["vol"],
        "the other agencies of the board, not the raiser's own or the board"
    );

    // Submitting the raise form closes it; the worker opens a thread in each agency's channel.
    let submitted = app
        .submit(SOCIAL_WORKER, &view, &raise_inputs(SUMMARY))
        .await;
    assert_eq!(submitted.status, 200, "{submitted:?}");
    assert!(
        submitted.body.is_empty() || submitted.json().get("errors").is_none(),
        "{submitted:?}"
    );
    let open = app
        .service
        .open_for(&escalation_bot::directory::PersonId(
            SOCIAL_WORKER.person.to_string(),
        ))
        .await
        .expect("open list");
    assert_eq!(open.len(), 1);
    let reference = Reference::parse(&open[0].reference).expect("a reference");
    assert_eq!(reference.to_string(), "NSAB-2026-0001");
    app.settle().await;
    let calls = app.slack.take_calls();
    assert_eq!(
        lines(&calls),
        [
            format!("post {ASC_TEAM} {ASC_CHANNEL}"),
            format!("post {VOL_TEAM} {VOL_CHANNEL}"),
            format!(
                "ephemeral {ASC_TEAM} {ASC_CHANNEL} to {}",
                SOCIAL_WORKER.user
            ),
        ],
    );
    let (asc_root, vol_root) = (ts_of(&calls[0]), ts_of(&calls[1]));
    assert_eq!(
        app.thread(&reference, ASC_TEAM, ASC_CHANNEL).await,
        asc_root
    );
    assert_eq!(
        app.thread(&reference, VOL_TEAM, VOL_CHANNEL).await,
        vol_root
    );
    for root in &calls[..2] {
        let text = root.field("text");
        assert!(text.contains("NSAB-2026-0001"), "{text}");
        let shown = texts(&root.body["blocks"]).join("\n");
        assert!(shown.contains("Stage 1 of 4"), "{shown}");
        assert!(
            shown.contains("ASC-4471") || shown.contains("mental capacity"),
            "{shown}"
        );
        let actions: Vec<String> = buttons(&root.body["blocks"])
            .iter()
            .map(|b| b["action_id"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(
            actions,
            [
                "add_note",
                "escalate",
                "propose_resolution",
                "bring_deadline_forward"
            ],
            "stage 1 buttons"
        );
    }
    assert!(
        calls[2].field("text").contains("NSAB-2026-0001 raised"),
        "the raiser's receipt: {}",
        calls[2].field("text")
    );

    // Escalate from the root's button: the escalate modal, with the button's trigger.
    let button = app.button(ASC_TEAM, ASC_CHANNEL, &asc_root, "escalate");
    let trigger = app.slack.issue_trigger();
    let payload = app.button_payload(SOCIAL_WORKER, &asc_root, &button, &trigger);
    let pressed = app
        .post(
            "/slack/interactions",
            FORM,
            &App::interaction_body(&payload),
        )
        .await;
    assert_eq!(pressed.status, 200, "{pressed:?}");
    let calls = app.slack.take_calls();
    assert_eq!(
        lines(&calls),
        [format!("views.open {ASC_TEAM} escalate trigger {trigger}")]
    );
    let view = calls[0].response["view"].clone();
    let reply = app
        .submit(
            SOCIAL_WORKER,
            &view,
            &[(
                "reason",
                "Discussed twice, no agreement on capacity concerns.",
            )],
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.is_empty(), "the modal closes: {reply:?}");
    app.settle().await;
    let calls = app.slack.take_calls();
    let tm_dm = dm_of(&calls, TEAM_MANAGER.user);
    let dsl_dm = dm_of(&calls, SAFEGUARDING_LEAD.user);
    assert_eq!(
        lines(&calls),
        [
            format!("post {ASC_TEAM} {ASC_CHANNEL} in thread {asc_root}"),
            format!("post {VOL_TEAM} {VOL_CHANNEL} in thread {vol_root}"),
            format!("open dm {ASC_TEAM} {}", TEAM_MANAGER.user),
            format!("post {ASC_TEAM} {tm_dm}"),
            format!("open dm {VOL_TEAM} {}", SAFEGUARDING_LEAD.user),
            format!("post {VOL_TEAM} {dsl_dm}"),
            format!(
                "ephemeral {ASC_TEAM} {ASC_CHANNEL} to {}",
                SOCIAL_WORKER.user
            ),
            format!("update {ASC_TEAM} {ASC_CHANNEL} {asc_root}"),
            format!("update {VOL_TEAM} {VOL_CHANNEL} {vol_root}"),
        ],
    );
    let asc_thread = texts(&calls[0].body).join("\n");
    assert!(
        asc_thread.contains(&format!("<@{}>", TEAM_MANAGER.user)),
        "the manager is mentioned: {asc_thread}"
    );
    let root_now = app
        .slack
        .message(ASC_TEAM, ASC_CHANNEL, &asc_root)
        .expect("root");
    assert!(
        texts(&root_now).join("\n").contains("Stage 2 of 4"),
        "the root shows stage 2: {root_now}"
    );

    // The team manager acknowledges in Slack.
    let ack = app.press(TEAM_MANAGER, &asc_root, "acknowledge").await;
    assert_eq!((ack.status, ack.body.as_str()), (200, ""), "{ack:?}");
    app.settle().await;
    assert_eq!(
        lines(&app.slack.take_calls()),
        [
            format!("post {ASC_TEAM} {ASC_CHANNEL} in thread {asc_root}"),
            format!("post {VOL_TEAM} {VOL_CHANNEL} in thread {vol_root}"),
            format!(
                "ephemeral {ASC_TEAM} {ASC_CHANNEL} to {}",
                TEAM_MANAGER.user
            ),
            format!("update {ASC_TEAM} {ASC_CHANNEL} {asc_root}"),
            format!("update {VOL_TEAM} {VOL_CHANNEL} {vol_root}"),
        ],
    );

    // The safeguarding lead proposes a resolution from the modal.
    let proposed = app
        .press(SAFEGUARDING_LEAD, &vol_root, "propose_resolution")
        .await;
    assert_eq!(proposed.status, 200, "{proposed:?}");
    let calls = app.slack.take_calls();
    assert_eq!(calls.len(), 1);
    assert!(lines(&calls)[0].starts_with(&format!(
        "views.open {VOL_TEAM} propose_resolution trigger "
    )));
    let view = calls[0].response["view"].clone();
    let reply = app
        .submit(
            SAFEGUARDING_LEAD,
            &view,
            &[
                (
                    "rationale",
                    "Both agencies reviewed the discharge plan together.",
                ),
                ("outcome", "Joint capacity assessment on Friday."),
                (
                    "outstanding",
                    "Discharge-summary sharing, pursued via the practice manager.",
                ),
            ],
        )
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, ""), "{reply:?}");
    app.settle().await;
    assert_eq!(
        lines(&app.slack.take_calls()),
        [
            format!("post {ASC_TEAM} {ASC_CHANNEL} in thread {asc_root}"),
            format!("post {VOL_TEAM} {VOL_CHANNEL} in thread {vol_root}"),
            format!(
                "ephemeral {VOL_TEAM} {VOL_CHANNEL} to {}",
                SAFEGUARDING_LEAD.user
            ),
            format!("update {ASC_TEAM} {ASC_CHANNEL} {asc_root}"),
            format!("update {VOL_TEAM} {VOL_CHANNEL} {vol_root}"),
        ],
    );

    // The team manager, on the other side, confirms with the button on the updated root.
    let confirmed = app
        .press(TEAM_MANAGER, &asc_root, "confirm_resolution")
        .await;
    assert_eq!(
        (confirmed.status, confirmed.body.as_str()),
        (200, ""),
        "{confirmed:?}"
    );
    app.settle().await;
    assert_eq!(
        lines(&app.slack.take_calls()),
        [
            format!("post {ASC_TEAM} {ASC_CHANNEL} in thread {asc_root}"),
            format!("post {VOL_TEAM} {VOL_CHANNEL} in thread {vol_root}"),
            format!(
                "ephemeral {ASC_TEAM} {ASC_CHANNEL} to {}",
                TEAM_MANAGER.user
            ),
            format!("update {ASC_TEAM} {ASC_CHANNEL} {asc_root}"),
            format!("update {VOL_TEAM} {VOL_CHANNEL} {vol_root}"),
        ],
    );
    let dispute = app.service.dispute(&reference).await.expect("loads");
    assert_eq!(dispute.status, Status::Resolved);
    for (team, channel, root) in [
        (ASC_TEAM, ASC_CHANNEL, &asc_root),
        (VOL_TEAM, VOL_CHANNEL, &vol_root),
    ] {
        let message = app.slack.message(team, channel, root).expect("root");
        let actions: Vec<String> = buttons(&message["blocks"])
            .iter()
            .filter_map(|b| b["action_id"].as_str().map(str::to_string))
            .collect();
        assert_eq!(
            actions,
            ["refer_learning"],
            "a resolved root offers only learning for the board: {message}"
        );
    }

    let depth = app.depth().await;
    assert_eq!((depth.pending, depth.parked), (0, 0));
    let (code, out, err) = run_cli(&["audit", "verify", "--db", &app.db.url]).await;
    assert_eq!(code, Some(0), "audit verify passes: {out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_journey_runs_from_the_raise_modal_to_a_confirmed_resolution_in_both_threads() {
    let app = spawn_app().await;
    the_full_journey(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_journey_runs_the_same_on_postgresql() {
    let app = spawn_with(Options {
        backend: Backend::Postgres,
        ..Options::default()
    })
    .await;
    the_full_journey(&app).await;
}

// ---- retries and double clicks ----

#[tokio::test]
async fn a_slash_command_sent_twice_with_the_same_trigger_records_one_note() {
    let app = spawn_app().await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    let trigger = app.slack.issue_trigger();
    let body = app.command_body(
        SOCIAL_WORKER,
        &format!("note {reference} Called the carers' network, no answer yet."),
        &trigger,
    );
    let first = app.post("/slack/commands", FORM, &body).await;
    let second = app.post("/slack/commands", FORM, &body).await;
    assert_eq!((first.status, second.status), (200, 200));
    assert!(first.text().contains("Recorded on"), "{first:?}");
    assert!(
        !second.text().is_empty(),
        "the retry is answered too: {second:?}"
    );
    assert_eq!(app.count(&reference, "note_added").await, 1);
    app.settle().await;
    let replies = app
        .slack
        .calls()
        .iter()
        .filter(|c| c.method == "chat.postMessage" && !c.field("thread_ts").is_empty())
        .count();
    assert_eq!(replies, 2, "one reply in each agency's thread");
    // The command's answer is the receipt, drawn as the posted one would be; it is not posted
    // to the person a second time.
    let answer: serde_json::Value = serde_json::from_str(&first.body).expect("a JSON answer");
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    assert!(
        answer["blocks"]
            .to_string()
            .contains(&reference.to_string()),
        "the receipt's blocks name the challenge: {answer}"
    );
    let receipts: Vec<String> = app
        .slack
        .calls()
        .iter()
        .filter(|c| c.method == "chat.postEphemeral" && c.field("text").contains("Recorded on"))
        .map(|c| c.field("text").to_string())
        .collect();
    assert!(
        receipts.is_empty(),
        "the receipt was the command's answer: {receipts:?}"
    );
}

#[tokio::test]
async fn a_raise_form_submitted_twice_records_one_challenge() {
    let app = spawn_app().await;
    let opened = app.command(SOCIAL_WORKER, "").await;
    assert_eq!(opened.status, 200);
    let view = app.last_view();
    let payload = App::interaction_body(&app.submission_payload(
        SOCIAL_WORKER,
        &view,
        &raise_inputs(SUMMARY),
    ));
    let first = app.post("/slack/interactions", FORM, &payload).await;
    let second = app.post("/slack/interactions", FORM, &payload).await;
    for r in [&first, &second] {
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, ""),
            "the modal closes both times: {r:?}"
        );
    }
    let open = app
        .service
        .open_for(&escalation_bot::directory::PersonId(
            SOCIAL_WORKER.person.to_string(),
        ))
        .await
        .expect("open list");
    assert_eq!(open.len(), 1, "one challenge: {open:?}");
    app.settle().await;
    let roots = app
        .slack
        .calls()
        .iter()
        .filter(|c| c.method == "chat.postMessage" && c.field("thread_ts").is_empty())
        .count();
    assert_eq!(roots, 2, "one root per agency channel");
}

#[tokio::test]
async fn an_unknown_subcommand_gets_the_help_never_an_error_page() {
    let app = spawn_app().await;
    for text in ["frobnicate", "status", "note NOT-A-REF hello", "escalate"] {
        let reply = app.command(SOCIAL_WORKER, text).await;
        assert_eq!(reply.status, 200, "{text:?}: {reply:?}");
        assert_eq!(
            reply.json()["response_type"],
            "ephemeral",
            "{text:?}: {reply:?}"
        );
        assert!(
            reply.text().contains("How to use /challenge"),
            "{text:?}: {}",
            reply.text()
        );
    }
    assert!(app.slack.calls().is_empty());
}

#[tokio::test]
async fn acknowledge_pressed_twice_records_one_acknowledgement_and_says_it_is_done() {
    let app = spawn_app().await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    let escalated = app
        .command(
            SOCIAL_WORKER,
            &format!("escalate {reference} Discussed twice, no agreement."),
        )
        .await;
    assert!(escalated.text().contains("Recorded on"), "{escalated:?}");
    app.settle().await;
    let root = app.thread(&reference, ASC_TEAM, ASC_CHANNEL).await;
    app.slack.take_calls();

    // A double click is two payloads with two triggers; a retry is the same payload again.
    let button = app.button(ASC_TEAM, ASC_CHANNEL, &root, "acknowledge");
    let trigger = app.slack.issue_trigger();
    let payload =
        App::interaction_body(&app.button_payload(TEAM_MANAGER, &root, &button, &trigger));
    let first = app.post("/slack/interactions", FORM, &payload).await;
    let retry = app.post("/slack/interactions", FORM, &payload).await;
    let again = app.press(TEAM_MANAGER, &root, "acknowledge").await;
    for r in [&first, &retry, &again] {
        assert_eq!((r.status, r.body.as_str()), (200, ""), "{r:?}");
    }
    assert_eq!(app.count(&reference, "acknowledged").await, 1);
    app.settle().await;
    let to_manager: Vec<Call> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postEphemeral" && c.field("user") == TEAM_MANAGER.user)
        .collect();
    assert_eq!(
        to_manager.len(),
        2,
        "the receipt, and one answer to the second press (not the retry): {:?}",
        lines(&to_manager)
    );
    assert!(
        to_manager[1]
            .field("text")
            .contains("nothing more is needed"),
        "{:?}",
        lines(&to_manager)
    );
    assert!(
        to_manager[0].field("text").contains("acknowledged"),
        "{}",
        to_manager[0].field("text")
    );

    // The safeguarding lead acknowledges from the direct message asking them to, twice.
    let dm = dm_of(&app.slack.calls(), SAFEGUARDING_LEAD.user);
    let asked = app
        .slack
        .calls()
        .into_iter()
        .find(|c| c.method == "chat.postMessage" && c.field("channel") == dm)
        .expect("the lead was asked by direct message");
    for _ in 0..2 {
        let r = app
            .press_in(SAFEGUARDING_LEAD, &dm, &ts_of(&asked), "acknowledge")
            .await;
        assert_eq!((r.status, r.body.as_str()), (200, ""), "{r:?}");
    }
    assert_eq!(app.count(&reference, "acknowledged").await, 2, "one each");
    app.settle().await;
    let to_lead: Vec<Call> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postEphemeral" && c.field("user") == SAFEGUARDING_LEAD.user)
        .collect();
    let line = format!("ephemeral {VOL_TEAM} {dm} to {}", SAFEGUARDING_LEAD.user);
    assert_eq!(
        lines(&to_lead),
        [line.clone(), line],
        "the receipt, then the answer"
    );
    assert!(to_lead[1].field("text").contains("nothing more is needed"));
}

#[tokio::test]
async fn the_events_api_url_verification_is_answered_with_the_challenge() {
    let app = spawn_app().await;
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let reply = app.post("/slack/events", JSON, body).await;
    assert_eq!(reply.status, 200);
    let answered = if reply.content_type.starts_with("application/json") {
        reply.json()["challenge"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        reply.body.clone()
    };
    assert_eq!(
        answered,
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    let unsigned = app
        .post_as("/slack/events", JSON, body, Signing::Unsigned, &[])
        .await;
    assert_eq!(unsigned.status, 401, "url_verification is signed too");
}

#[tokio::test]
async fn an_event_delivered_twice_is_handled_once() {
    let app = spawn_app().await;
    let body = json!({
        "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": ASC_TEAM, "api_app_id": "A0ESCALATE",
        "type": "event_callback", "event_id": "Ev0ABCDEF12", "event_time": unix_now(),
        "authorizations": [{ "team_id": ASC_TEAM, "user_id": "U0BOT", "is_bot": true }],
        "event": {
            "type": "app_mention", "user": SOCIAL_WORKER.user, "text": "<@U0BOT> what can you do?",
            "ts": "1780000000.000100", "channel": ASC_CHANNEL, "event_ts": "1780000000.000100",
        },
    })
    .to_string();
    let first = app.post("/slack/events", JSON, &body).await;
    let retry = app
        .post_as(
            "/slack/events",
            JSON,
            &body,
            app.signing(),
            &[
                ("x-slack-retry-num", "1"),
                ("x-slack-retry-reason", "http_timeout"),
            ],
        )
        .await;
    assert_eq!(
        (first.status, retry.status),
        (200, 200),
        "{first:?} {retry:?}"
    );
    app.settle().await;
    let calls = app.slack.calls();
    assert_eq!(
        lines(&calls),
        [format!(
            "ephemeral {ASC_TEAM} {ASC_CHANNEL} to {}",
            SOCIAL_WORKER.user
        )]
    );
    assert!(calls[0].field("text").contains("How to use /challenge"));
}

#[tokio::test]
async fn one_message_delivered_under_two_event_ids_is_handled_once() {
    let app = spawn_app().await;
    let event = |id: &str| {
        json!({
            "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": ASC_TEAM, "api_app_id": "A0ESCALATE",
            "type": "event_callback", "event_id": id, "event_time": unix_now(),
            "event": {
                "type": "app_mention", "user": SOCIAL_WORKER.user, "text": "<@U0BOT> help",
                "ts": "1780000000.000200", "channel": ASC_CHANNEL, "event_ts": "1780000000.000200",
            },
        })
        .to_string()
    };
    for id in ["Ev0FIRST0001", "Ev0SECOND002"] {
        let reply = app.post("/slack/events", JSON, &event(id)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    app.settle().await;
    assert_eq!(
        lines(&app.slack.calls()),
        [format!(
            "ephemeral {ASC_TEAM} {ASC_CHANNEL} to {}",
            SOCIAL_WORKER.user
        )]
    );
}

// ---- who to ask ----

#[tokio::test]
async fn an_unknown_workspace_or_user_is_told_who_to_ask() {
    let app = spawn_app().await;
    let stranger_workspace = Who {
        person: "someone",
        team: "T0ELSEWHERE",
        user: "U0ELSE01",
        channel: "C0ELSE",
    };
    let reply = app.command(stranger_workspace, "list").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["response_type"], "ephemeral");
    let text = reply.text();
    assert!(
        text.contains("T0ELSEWHERE") && text.contains("not connected"),
        "{text}"
    );
    assert!(text.contains("administrator"), "says who to ask: {text}");

    let stranger = Who {
        person: "new-starter",
        team: ASC_TEAM,
        user: "U0NEWSTART",
        channel: ASC_CHANNEL,
    };
    for text in ["", "list", "help"] {
        let reply = app.command(stranger, text).await;
        assert_eq!(reply.status, 200, "{text:?}");
        let said = reply.text();
        assert!(
            said.contains("not in the escalation-bot directory"),
            "{text:?}: {said}"
        );
        assert!(said.contains("administrator"), "{text:?}: {said}");
    }
    // Slack is asked for their work email (which it does not hold), and nothing else.
    assert!(
        app.slack.calls().iter().all(|c| c.method == "users.info"),
        "no modal opens for someone unknown"
    );

    // A button pressed by someone unknown: the same words, privately in the channel.
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    app.settle().await;
    let root = app.thread(&reference, ASC_TEAM, ASC_CHANNEL).await;
    app.slack.take_calls();
    let pressed = app.press(stranger, &root, "escalate").await;
    assert_eq!((pressed.status, pressed.body.as_str()), (200, ""));
    app.settle().await;
    let calls: Vec<_> = app
        .slack
        .take_calls()
        .into_iter()
        .filter(|c| c.method != "users.info")
        .collect();
    assert_eq!(
        lines(&calls),
        [format!("ephemeral {ASC_TEAM} {ASC_CHANNEL} to U0NEWSTART")]
    );
    assert!(
        calls[0].field("text").contains("administrator"),
        "{}",
        calls[0].field("text")
    );
}

// ---- modal validation ----

#[tokio::test]
async fn an_nhs_number_in_the_summary_comes_back_as_an_inline_error_and_nothing_is_stored() {
    let app = spawn_app().await;
    let opened = app.command(SOCIAL_WORKER, "").await;
    assert_eq!(opened.status, 200);
    let view = app.last_view();
    let before = app.footprint().await;
    let reply = app
        .submit(
            SOCIAL_WORKER,
            &view,
            &raise_inputs("GP declined the referral; NHS number 943 476 5919, lives alone."),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let answer = reply.json();
    assert_eq!(answer["response_action"], "errors", "{answer}");
    let errors = answer["errors"].as_object().expect("errors by block");
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["summary"], "{answer}");
    let message = errors["summary"].as_str().unwrap_or_default();
    assert!(message.to_lowercase().contains("nhs"), "{message}");
    assert!(
        !message.contains("943 476 5919"),
        "the error does not repeat the number"
    );
    let input_blocks: HashSet<&str> = view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "input")
        .filter_map(|b| b["block_id"].as_str())
        .collect();
    assert!(
        input_blocks.contains("summary"),
        "the error names an input block of the modal"
    );
    app.settle().await;
    assert_eq!(app.footprint().await, before, "nothing stored");
    assert_eq!(lines(&app.slack.calls()).len(), 1, "only the views.open");
}

// ---- a Web API that is down ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_api_down_for_a_minute_loses_nothing_duplicates_nothing_and_acks_stay_fast() {
    let app = spawn_with(Options {
        delivery: Delivery::Manual,
        server_on_app_clock: true,
        ..Options::default()
    })
    .await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    app.slack.take_calls();

    // Down: new connections refused for the first half minute, HTTP 503 for the second.
    app.slack_down(Down::Refusing);
    let notes = [
        "First note: phoned the network.",
        "Second note: left a message.",
        "Third note: meeting booked.",
    ];
    let mut acks = Vec::new();
    let r = app
        .command(SOCIAL_WORKER, &format!("note {reference} {}", notes[0]))
        .await;
    acks.push(r);
    let modal = app.command(SOCIAL_WORKER, "").await;
    assert!(modal.text().contains("could not be opened"), "{modal:?}");
    acks.push(modal);
    for _ in 0..3 {
        app.deliver().await;
        app.advance(Duration::from_secs(10));
    }
    app.slack_down(Down::Unavailable);
    let r = app
        .command(SOCIAL_WORKER, &format!("note {reference} {}", notes[1]))
        .await;
    acks.push(r);
    let r = app.command(SOCIAL_WORKER, "list").await;
    acks.push(r);
    for _ in 0..3 {
        app.deliver().await;
        app.advance(Duration::from_secs(10));
    }
    let r = app
        .command(SOCIAL_WORKER, &format!("note {reference} {}", notes[2]))
        .await;
    acks.push(r);
    for ack in &acks {
        assert_eq!(ack.status, 200, "{ack:?}");
        assert!(
            ack.elapsed < FAST,
            "acknowledged in {:?} while Slack was down",
            ack.elapsed
        );
    }
    assert!(
        app.slack.take_calls().is_empty(),
        "nothing got through while down"
    );
    assert!(
        app.slack.refused_connections() > 0,
        "connections were refused"
    );
    assert!(
        app.slack.attempts().iter().any(|a| a.outcome == "http_503"),
        "503s were answered"
    );
    let depth = app.depth().await;
    assert!(
        depth.pending > 0 && depth.parked == 0,
        "everything waits: {depth:?}"
    );
    assert_eq!(
        app.count(&reference, "note_added").await,
        3,
        "every note recorded"
    );

    // Back up: step the clock until everything is out.
    app.slack_down(Down::Up);
    for _ in 0..200 {
        app.deliver().await;
        if app.depth().await.pending == 0 {
            break;
        }
        app.advance(Duration::from_secs(5));
    }
    let depth = app.depth().await;
    assert_eq!((depth.pending, depth.parked), (0, 0), "{depth:?}");

    let calls = app.slack.calls();
    for (team, channel) in [(ASC_TEAM, ASC_CHANNEL), (VOL_TEAM, VOL_CHANNEL)] {
        let in_channel: Vec<&Call> = calls
            .iter()
            .filter(|c| c.team == team && c.field("channel") == channel)
            .collect();
        let roots: Vec<&&Call> = in_channel
            .iter()
            .filter(|c| c.method == "chat.postMessage" && c.field("thread_ts").is_empty())
            .collect();
        assert_eq!(roots.len(), 1, "one root in {channel}");
        let root = ts_of(roots[0]);
        // Notes queued together may share one reply, in the order they were recorded.
        let order: Vec<usize> = in_channel
            .iter()
            .filter(|c| c.method == "chat.postMessage" && c.field("thread_ts") == root)
            .flat_map(|c| {
                let shown = texts(&c.body).join("\n");
                let mut found: Vec<(usize, usize)> = notes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| shown.find(n).map(|at| (at, i)))
                    .collect();
                assert!(!found.is_empty(), "a reply that is no note: {shown}");
                found.sort();
                found.into_iter().map(|(_, i)| i).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(order, [0, 1, 2], "the notes in order in {channel}");
        let updates = in_channel
            .iter()
            .filter(|c| c.method == "chat.update")
            .count();
        assert_eq!(
            updates, 0,
            "notes are replies alone: the root is not rewritten for them in {channel}"
        );
    }
    assert_exactly_once(&app, &calls).await;
}

/// Every outbox row was posted once: one accepted call per sent row (a DM's
/// `conversations.open` and looks into the history aside), and no message posted twice.
pub(crate) async fn assert_exactly_once(app: &App, calls: &[Call]) {
    let raw = app.db.raw().await;
    let sent = raw
        .int("SELECT count(*) FROM outbox WHERE status = 'sent'")
        .await;
    let all = raw.int("SELECT count(*) FROM outbox").await;
    // Replies combined into another row's post went out with it, in the same call.
    let carried = raw
        .int("SELECT count(*) FROM outbox WHERE status = 'sent' AND combined_into IS NOT NULL")
        .await;
    raw.close().await;
    assert_eq!(sent, all, "every row sent");
    let sent = sent - carried;
    let posts = calls
        .iter()
        .filter(|c| {
            !matches!(
                c.method.as_str(),
                "conversations.open"
                    | "views.open"
                    | "conversations.history"
                    | "conversations.replies"
            )
        })
        .count();
    assert_eq!(
        posts as i64,
        sent,
        "one accepted call per row: {:?}",
        lines(calls)
    );
    let mut seen = HashSet::new();
    for c in calls.iter().filter(|c| c.method == "chat.postMessage") {
        let key = (
            c.team.clone(),
            c.field("channel").to_string(),
            c.field("thread_ts").to_string(),
            c.body["blocks"].to_string(),
        );
        assert!(seen.insert(key), "posted twice: {}", line(c));
    }
}

// ---- two workers and a slow Slack ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_web_api_never_lets_a_second_worker_post_a_row_the_first_still_holds() {
    let app = spawn_with(Options {
        delivery: Delivery::Manual,
        ..Options::default()
    })
    .await;
    // Nine rows ready at once, in nine lanes: two roots and a receipt for each of three raises.
    for i in 0..3 {
        app.raise(SOCIAL_WORKER, &format!("{SUMMARY} (challenge {i})"))
            .await;
    }
    app.slack.take_calls();
    let started = app.clock.now();
    // Each call takes 8 seconds of the app's clock (inside the client's 10-second timeout): the
    // first worker's 60-second lease runs out while it is still working through its batch.
    app.slack.set_delay(Duration::from_millis(100));
    let first = app.worker.clone();
    let first = tokio::spawn(async move { first.tick().await });
    let second = app.second_worker();
    let mut second_run = None;
    let mut seen = 0;
    while !first.is_finished()
        || second_run
            .as_ref()
            .is_some_and(|t: &tokio::task::JoinHandle<_>| !t.is_finished())
    {
        let n = app.slack.attempts().len();
        if n > seen {
            app.advance(Duration::from_secs(8) * u32::try_from(n - seen).unwrap_or(1));
            seen = n;
        }
        if second_run.is_none() && app.clock.now() > started + chrono::Duration::seconds(61) {
            let second = second.clone();
            second_run = Some(tokio::spawn(async move { second.tick().await }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first
        .await
        .expect("the first worker finishes")
        .expect("it claims");
    if let Some(t) = second_run {
        t.await
            .expect("the second worker finishes")
            .expect("it claims");
    }
    app.slack.set_delay(Duration::ZERO);
    app.deliver().await;
    let calls = app.slack.calls();
    assert_exactly_once(&app, &calls).await;
}

// ---- a 429 storm ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_waited_out_as_retry_after_says_and_every_message_arrives_once() {
    let app = spawn_with(Options {
        delivery: Delivery::Manual,
        server_on_app_clock: true,
        rate: Some(RateLimit::strict(2)),
        ..Options::default()
    })
    .await;
    let mut references = Vec::new();
    for i in 0..3 {
        let reference = app
            .raise(SOCIAL_WORKER, &format!("{SUMMARY} (challenge {i})"))
            .await;
        for n in 0..2 {
            let reply = app
                .command(
                    SOCIAL_WORKER,
                    &format!("note {reference} Note {n} on challenge {i}."),
                )
                .await;
            assert!(reply.text().contains("Recorded on"), "{reply:?}");
        }
        references.push(reference);
    }
    let mut steps = 0;
    while app.depth().await.pending > 0 {
        steps += 1;
        assert!(
            steps < 2000,
            "the storm never ended: {:?}",
            app.depth().await
        );
        app.worker.tick().await.expect("the worker claims rows");
        app.advance(Duration::from_millis(250));
    }
    let attempts = app.slack.attempts();
    let limited: Vec<usize> = (0..attempts.len())
        .filter(|i| attempts[*i].outcome == "http_429")
        .collect();
    assert!(!limited.is_empty(), "the server did rate-limit");
    for i in limited {
        let hit = &attempts[i];
        let team = hit.team.as_deref().expect("a known workspace");
        let until = hit.at
            + chrono::Duration::from_std(hit.retry_after.expect("Retry-After")).expect("short");
        for later in attempts[i + 1..]
            .iter()
            .filter(|a| a.team.as_deref() == Some(team))
        {
            assert!(
                later.at >= until,
                "{} called {team} at {} before its Retry-After ran out at {until}",
                later.method,
                later.at
            );
        }
    }
    let calls = app.slack.calls();
    assert_exactly_once(&app, &calls).await;
    let depth = app.depth().await;
    assert_eq!((depth.pending, depth.parked), (0, 0));
    for (i, reference) in references.iter().enumerate() {
        for (team, channel) in [(ASC_TEAM, ASC_CHANNEL), (VOL_TEAM, VOL_CHANNEL)] {
            let root = app.thread(reference, team, channel).await;
            let replies: Vec<String> = calls
                .iter()
                .filter(|c| c.method == "chat.postMessage" && c.field("thread_ts") == root)
                .map(|c| texts(&c.body).join("\n"))
                .collect();
            // Notes queued together may share one reply; each is in the thread once.
            for n in 0..2 {
                let note = format!("Note {n} on challenge {i}.");
                assert_eq!(
                    replies.iter().filter(|r| r.contains(&note)).count(),
                    1,
                    "{reference}: \"{note}\" in {channel}: {replies:?}"
                );
            }
        }
    }
}

// ---- a channel Slack does not know ----

#[tokio::test]
async fn channel_not_found_is_parked_not_retried_and_shows_in_metrics() {
    let app = spawn_with(Options {
        delivery: Delivery::Manual,
        unknown_channels: vec![VOL_CHANNEL],
        ..Options::default()
    })
    .await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    app.deliver().await;
    for _ in 0..10 {
        app.advance(Duration::from_secs(60));
        app.deliver().await;
    }
    let to_vol: Vec<_> = app
        .slack
        .attempts()
        .into_iter()
        .filter(|a| a.channel.as_deref() == Some(VOL_CHANNEL))
        .collect();
    assert_eq!(to_vol.len(), 1, "tried once, never again: {to_vol:?}");
    assert_eq!(to_vol[0].outcome, "channel_not_found");
    let depth = app.depth().await;
    assert_eq!((depth.pending, depth.parked), (0, 1), "{depth:?}");
    assert!(
        !app.thread(&reference, ASC_TEAM, ASC_CHANNEL)
            .await
            .is_empty()
    );

    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let failure = metrics.body.lines().find(|l| {
        l.starts_with("escalation_bot_delivery_failures_total{")
            && l.contains("error=\"channel_not_found\"")
            && l.contains("parked=\"true\"")
            && l.contains("platform=\"slack\"")
    });
    assert_eq!(
        failure.map(|l| l.rsplit(' ').next()),
        Some(Some("1")),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l == "escalation_bot_outbox_parked 1"),
        "{}",
        metrics.body
    );
}

// ---- mrkdwn injection ----

#[tokio::test]
async fn typed_mrkdwn_reaches_slack_escaped_so_it_notifies_and_links_nobody() {
    let app = spawn_app().await;
    let typed = "<!channel> <@U123> <https://evil.example|click> & @here";
    let reference = app
        .raise(
            SOCIAL_WORKER,
            &format!("Capacity decision disputed. {typed}"),
        )
        .await;
    let note = app
        .command(SOCIAL_WORKER, &format!("note {reference} {typed}"))
        .await;
    assert!(note.text().contains("Recorded on"), "{note:?}");
    app.settle().await;
    let escaped = "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; &amp; @here";
    let allowed_mentions: Vec<String> = ["U0ASCSW1", "U0ASCTM1", "U0VOLST1", "U0VOLDSL"]
        .iter()
        .map(|u| format!("<@{u}>"))
        .collect();
    let posts: Vec<Call> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "chat.postMessage"
                || c.method == "chat.update"
                || c.method == "chat.postEphemeral"
        })
        .collect();
    let mut carried = 0;
    for c in &posts {
        assert_eq!(c.body["parse"], "none", "{}", line(c));
        for text in texts(&json!([c.body["text"], c.body["blocks"]])) {
            let mut rest = text.clone();
            for m in &allowed_mentions {
                rest = rest.replace(m.as_str(), "");
            }
            assert!(
                !rest.contains('<') && !rest.contains('>'),
                "unescaped markup in {}: {text}",
                line(c)
            );
            if text.contains(escaped) {
                carried += 1;
            }
        }
        for block in c.body["blocks"].as_array().into_iter().flatten() {
            for object in texts_objects(block) {
                if object["type"] == "mrkdwn" {
                    assert_eq!(object["verbatim"], true, "mrkdwn is verbatim: {object}");
                }
            }
        }
    }
    assert!(
        carried >= 2,
        "the typed text reached Slack, escaped, in the summary and the note"
    );
}

/// Every text object (`{"type": "mrkdwn" | "plain_text", "text": …}`) inside a block.
fn texts_objects(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(o) => {
            if o.get("text").is_some_and(Value::is_string) && o.contains_key("type") {
                out.push(v.clone());
            }
            for x in o.values() {
                out.extend(texts_objects(x));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| out.extend(texts_objects(x))),
        _ => {}
    }
    out
}

// ---- who may read a challenge ----

/// References are sequential, so a colleague who is no party must learn nothing from one: not its
/// stage, owners or proposal, and not even that it exists.
#[tokio::test]
async fn someone_who_is_no_party_hears_what_a_reference_that_does_not_exist_gets() {
    let app = spawn_app().await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    let party = app
        .command(SOCIAL_WORKER, &format!("status {reference}"))
        .await;
    assert!(party.text().contains("Stage 1"), "{party:?}");

    let nowhere = app.command(COLLEAGUE, "status NSAB-2026-9999").await;
    for typed in [
        format!("status {reference}"),
        format!("note {reference} Any news?"),
        format!("ack {reference}"),
    ] {
        let outsider = app.command(COLLEAGUE, &typed).await;
        assert_eq!(
            outsider.text().replace(&reference.to_string(), "REF"),
            nowhere.text().replace("NSAB-2026-9999", "REF"),
            "`{typed}` from a colleague reads as for no challenge at all"
        );
        assert!(!outsider.text().contains("Stage"), "{outsider:?}");
    }
}

/// A refused button press is answered privately once, however often Slack delivers it.
#[tokio::test]
async fn a_refused_press_delivered_twice_is_answered_once_and_says_nothing_of_the_challenge() {
    let app = spawn_app().await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    app.settle().await;
    let root = app.thread(&reference, ASC_TEAM, ASC_CHANNEL).await;
    app.slack.take_calls();
    let button = app.button(ASC_TEAM, ASC_CHANNEL, &root, "add_note");
    let trigger = app.slack.issue_trigger();
    let payload = App::interaction_body(&app.button_payload(COLLEAGUE, &root, &button, &trigger));
    for _ in 0..2 {
        let r = app.post("/slack/interactions", FORM, &payload).await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    app.settle().await;
    let answers: Vec<Call> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postEphemeral" && c.field("user") == COLLEAGUE.user)
        .collect();
    assert_eq!(answers.len(), 1, "{:?}", lines(&answers));
    assert!(
        answers[0].field("text").contains("no challenge")
            || answers[0].field("text").contains("there is no challenge"),
        "{}",
        answers[0].field("text")
    );
}

// ---- a slow Web API ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_api_answering_after_five_seconds_never_holds_an_acknowledgement() {
    let app = spawn_app().await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    // The worker is now stuck on a 5-second call per post; requests keep being answered.
    app.slack.set_delay(Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let note = app
        .command(SOCIAL_WORKER, &format!("note {reference} Phoned again."))
        .await;
    let list = app.command(SOCIAL_WORKER, "list").await;
    let status = app
        .command(SOCIAL_WORKER, &format!("status {reference}"))
        .await;
    for r in [&note, &list, &status] {
        assert_eq!(r.status, 200, "{r:?}");
        assert!(
            r.elapsed < FAST,
            "answered in {:?} with Slack stalling",
            r.elapsed
        );
    }
    assert!(note.text().contains("Recorded on"), "{note:?}");
    let modal = app.command(SOCIAL_WORKER, "").await;
    assert_eq!(modal.status, 200);
    assert!(
        modal.elapsed < SLACK_DEADLINE,
        "views.open is cut short: {:?}",
        modal.elapsed
    );
    assert!(modal.text().contains("too long"), "{modal:?}");
    app.slack.set_delay(Duration::ZERO);
}

// ---- health, readiness, metrics ----

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{ready:?}");
    assert!(ready.body.contains("sqlite"), "{ready:?}");
    let help = app.command(SOCIAL_WORKER, "help").await;
    assert_eq!(help.status, 200);
    let forged = app
        .post_as("/slack/commands", FORM, "text=help", Signing::Unsigned, &[])
        .await;
    assert_eq!(forged.status, 401);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.content_type.starts_with("text/plain"),
        "{}",
        metrics.content_type
    );
    let has = |name: &str, labels: &[&str]| {
        metrics
            .body
            .lines()
            .any(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
    };
    assert!(
        has(
            "escalation_bot_http_requests_total{",
            &["route=\"/slack/commands\"", "outcome=\"ok\""]
        ),
        "{}",
        metrics.body
    );
    assert!(
        has(
            "escalation_bot_http_requests_total{",
            &["route=\"/slack/commands\"", "outcome=\"unauthorized\""]
        ),
        "{}",
        metrics.body
    );
    assert!(
        has(
            "escalation_bot_ack_latency_seconds_bucket{",
            &["route=\"/slack/commands\"", "le=\"0.02\""]
        ),
        "{}",
        metrics.body
    );
    assert!(
        has(
            "escalation_bot_ack_latency_seconds_count{",
            &["route=\"/slack/commands\""]
        ),
        "{}",
        metrics.body
    );
    for gauge in [
        "escalation_bot_outbox_pending",
        "escalation_bot_outbox_parked",
        "escalation_bot_outbox_oldest_age_seconds",
    ] {
        assert!(has(gauge, &[]), "{gauge}: {}", metrics.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_503_when_the_database_is_gone() {
    let app = spawn_with(Options {
        backend: Backend::Postgres,
        ..Options::default()
    })
    .await;
    assert_eq!(app.get("/readyz").await.status, 200);
    let name = app
        .db
        .url
        .rsplit('/')
        .next()
        .expect("a database name")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut admin = sqlx::PgConnection::connect(&admin_url())
        .await
        .expect("admin connection");
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("the database is dropped");
    let _ = admin.close().await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503, "{ready:?}");
    assert!(
        !ready.body.contains(&name),
        "the answer names no database: {}",
        ready.body
    );
    assert_eq!(
        app.get("/healthz").await.status,
        200,
        "the process is still up"
    );
}

/// The text of a message the test server holds, blocks included.
fn shown(app: &App, team: &str, channel: &str, ts: &str) -> String {
    let message = app.slack.message(team, channel, ts).expect("the message");
    texts(&message["blocks"]).join("\n")
}

#[tokio::test]
async fn the_new_actions_work_from_slash_commands_and_modals() {
    let app = spawn_app().await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    app.settle().await;
    let root = app.thread(&reference, ASC_TEAM, ASC_CHANNEL).await;

    // Bring the deadline forward by typing it: the receipt, then both roots show the new time.
    let typed = app
        .command(
            SOCIAL_WORKER,
            &format!(
                "forward {reference} 2026-06-03 12:00 The adult has no carers from Wednesday."
            ),
        )
        .await;
    assert_eq!(typed.status, 200, "{typed:?}");
    assert!(typed.text().contains("Recorded on"), "{typed:?}");
    app.settle().await;
    assert!(shown(&app, ASC_TEAM, ASC_CHANNEL, &root).contains("Due Wed 3 Jun, 12:00"));
    let vol_root = app.thread(&reference, VOL_TEAM, VOL_CHANNEL).await;
    assert!(shown(&app, VOL_TEAM, VOL_CHANNEL, &vol_root).contains("Due Wed 3 Jun, 12:00"));

    // And again from the root's button: the modal, with the date picker.
    let pressed = app
        .press(SOCIAL_WORKER, &root, "bring_deadline_forward")
        .await;
    assert_eq!(pressed.status, 200, "{pressed:?}");
    let view = app.last_view();
    assert_eq!(view["callback_id"], "bring_deadline_forward");
    let later = app
        .submit(
            SOCIAL_WORKER,
            &view,
            &[("due", "2026-06-10T12:00"), ("reason", "Later.")],
        )
        .await;
    assert!(
        later.json()["errors"]["due"]
            .as_str()
            .is_some_and(|e| e.contains("never extended")),
        "a later date is refused on its own input: {later:?}"
    );
    let sooner = app
        .submit(
            SOCIAL_WORKER,
            &view,
            &[
                ("due", "2026-06-02T17:00"),
                ("reason", "The GP agreed to see the adult on Tuesday."),
            ],
        )
        .await;
    assert_eq!(
        (sooner.status, sooner.body.as_str()),
        (200, ""),
        "{sooner:?}"
    );
    let d = app.service.dispute(&reference).await.expect("loads");
    assert_eq!(
        d.due.map(|t| t.to_rfc3339()),
        Some("2026-06-02T16:00:00+00:00".to_string())
    );

    // A proposal from the other side, rejected by typing why.
    let opened = app
        .command(SAFEGUARDING_LEAD, &format!("propose {reference}"))
        .await;
    assert_eq!(opened.status, 200, "{opened:?}");
    let view = app.last_view();
    assert_eq!(view["callback_id"], "propose_resolution");
    let proposed = app
        .submit(
            SAFEGUARDING_LEAD,
            &view,
            &[
                ("rationale", "We met and agreed."),
                ("outcome", "A carers assessment next week."),
                ("outstanding", "None."),
            ],
        )
        .await;
    assert_eq!(proposed.status, 200, "{proposed:?}");
    let rejected = app
        .command(
            SOCIAL_WORKER,
            &format!(
                "reject {reference} A carers assessment does not answer the capacity question."
            ),
        )
        .await;
    assert!(rejected.text().contains("Recorded on"), "{rejected:?}");
    assert!(
        app.service
            .dispute(&reference)
            .await
            .expect("loads")
            .proposal
            .is_none()
    );

    // A step the stage does not name is explained, not guessed.
    let done = app
        .command(SOCIAL_WORKER, &format!("done {reference} review"))
        .await;
    assert!(done.text().contains("has no named steps"), "{done:?}");

    // Past the deadline: the reason for delay, typed, without escalating.
    app.advance(Duration::from_secs(2 * 24 * 3600));
    let delay = app
        .command(
            SOCIAL_WORKER,
            &format!("delay {reference} The GP practice was closed for training."),
        )
        .await;
    assert!(delay.text().contains("Recorded on"), "{delay:?}");

    // Learning for the board: the command alone opens the form; the board's channel hears it.
    app.settle().await;
    app.slack.take_calls();
    let opened = app
        .command(SOCIAL_WORKER, &format!("learning {reference}"))
        .await;
    assert_eq!(opened.status, 200, "{opened:?}");
    let view = app.last_view();
    assert_eq!(view["callback_id"], "refer_learning");
    let referred = app
        .submit(
            SOCIAL_WORKER,
            &view,
            &[(
                "learning",
                "Discharge plans should reach the GP the same day.",
            )],
        )
        .await;
    assert_eq!(
        (referred.status, referred.body.as_str()),
        (200, ""),
        "{referred:?}"
    );
    app.settle().await;
    let to_board: Vec<Call> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "chat.postMessage" && c.field("channel") == crate::slack_app::BOARD_CHANNEL
        })
        .collect();
    assert_eq!(to_board.len(), 1, "{:?}", lines(&to_board));
    assert!(
        to_board[0].field("text").contains("same day"),
        "{:?}",
        to_board[0].body
    );

    let kinds: Vec<&str> = app
        .events(&reference)
        .await
        .iter()
        .map(|e| e.body.kind())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "deadline_brought_forward")
            .count(),
        2
    );
    for kind in [
        "resolution_rejected",
        "delay_reason_recorded",
        "learning_referred",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(!kinds.contains(&"escalated"), "{kinds:?}");
}

/// The notices in the board's own channel offer the Board's view: pressing it is typing
/// `/challenge board`, so the business unit gets the sign-in link by direct message and anyone
/// else gets the answer typing it would give them.
#[tokio::test]
async fn the_board_view_button_on_a_board_notice_sends_the_sign_in_link_like_the_typed_word() {
    let app = spawn_app().await;
    let reference = app
        .raise(SOCIAL_WORKER, "Disagreement about a discharge plan.")
        .await;
    app.command(SOCIAL_WORKER, &format!("learning {reference}"))
        .await;
    let view = app.last_view();
    app.submit(
        SOCIAL_WORKER,
        &view,
        &[(
            "learning",
            "Discharge plans should reach the GP the same day.",
        )],
    )
    .await;
    app.settle().await;
    let board = crate::slack_app::BOARD_CHANNEL;
    let team = crate::slack_app::BOARD_TEAM;
    let (ts, _, _) = app
        .slack
        .channel_messages(team, board)
        .into_iter()
        .last()
        .expect("a notice in the board's channel");
    let button = app.button(team, board, &ts, "command");
    assert_eq!(button["value"], "board", "{button}");
    assert_eq!(button["text"]["text"], "Board view", "{button}");

    let unit = Who {
        person: "nsab-unit",
        team,
        user: "U0NSABBU",
        channel: board,
    };
    app.slack.take_calls();
    let pressed = app.press(unit, &ts, "command").await;
    assert_eq!(pressed.status, 200, "{pressed:?}");
    app.settle().await;
    let calls = app.slack.take_calls();
    assert!(
        calls.iter().any(|c| c.method == "chat.postMessage"
            && c.field("channel") != board
            && c.body.to_string().contains("/board/sign-in?token=")),
        "{:?}",
        lines(&calls)
    );

    // Someone the Board's view is not for: the same answer as typing the word.
    let typed = app.command(SOCIAL_WORKER, "board").await.text();
    assert!(
        typed.contains("for a board's business unit and chair"),
        "{typed}"
    );
    app.slack.take_calls();
    let trigger = app.slack.issue_trigger();
    let payload = app.button_payload(SOCIAL_WORKER, &ts, &button, &trigger);
    let pressed = app
        .post(
            "/slack/interactions",
            FORM,
            &App::interaction_body(&payload),
        )
        .await;
    assert_eq!(pressed.status, 200, "{pressed:?}");
    app.settle().await;
    let calls = app.slack.take_calls();
    assert!(
        calls.iter().any(|c| c
            .body
            .to_string()
            .contains("for a board's business unit and chair")),
        "{:?}",
        lines(&calls)
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.body.to_string().contains("/board/sign-in?token=")),
        "{:?}",
        lines(&calls)
    );
}
