//! A workspace whose bot token Slack revokes (the app removed there, with or without the
//! `app_uninstalled` event reaching us): its posts are kept, neither parked nor retried
//! against Slack, the board's channel on another workspace is told once, `/metrics` and
//! `/readyz` count them, and installing again sends them, in order. On SQLite and PostgreSQL,
//! and across two replicas on one PostgreSQL database.

use crate::databases::Backend;
use crate::slack_app::{
    ASC_CHANNEL, ASC_TEAM, App, BOARD_CHANNEL, BOARD_TEAM, Delivery, Options, SOCIAL_WORKER,
    VOL_CHANNEL, VOL_TEAM, Who, spawn_with, unix_now,
};
use crate::slack_install::{allowed, follow};
use escalation_bot::escalation::Reference;
use serde_json::json;
use std::time::Duration;

const ROBIN: Who = Who {
    person: "asc-rh",
    team: ASC_TEAM,
    user: "U0ROBIN",
    channel: ASC_CHANNEL,
};

async fn installable(backend: Backend) -> App {
    spawn_with(Options {
        backend,
        oauth: true,
        delivery: Delivery::Manual,
        ..Options::default()
    })
    .await
}

/// Installs to the ASC workspace by OAuth, as its administrator does from the install link.
async fn install(app: &App) -> String {
    let (status, page) = follow(app, &allowed(app).await).await;
    assert_eq!(status, 200, "{page}");
    page
}

/// The texts posted into a channel (top-level and replies), oldest first.
fn texts(app: &App, team: &str, channel: &str) -> Vec<String> {
    app.slack
        .channel_messages(team, channel)
        .iter()
        .filter_map(|(ts, _, _)| app.slack.message(team, channel, ts))
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every attempt at a Web API call into a workspace so far.
fn attempts_in(app: &App, team: &str) -> usize {
    app.slack
        .attempts()
        .iter()
        .filter(|a| a.team.as_deref() == Some(team))
        .count()
}

async fn note(app: &App, who: Who, reference: &Reference, text: &str) {
    let reply = app.command(who, &format!("note {reference} {text}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

fn count(texts: &[String], needle: &str) -> usize {
    texts.iter().filter(|t| t.contains(needle)).count()
}

async fn a_revoked_token_keeps_the_posts_tells_the_board_once_and_sends_them_in_order_after_an_install(
    backend: Backend,
) {
    let app = installable(backend).await;
    install(&app).await;
    let reference = app
        .raise(ROBIN, "Disagreement about the discharge plan")
        .await;
    app.deliver().await;
    let asc_before = texts(&app, ASC_TEAM, ASC_CHANNEL).len();
    assert!(asc_before >= 1, "the root is posted in the ASC channel");

    // The app is removed from the ASC workspace and no event reaches us: Slack refuses the token.
    app.slack.revoke(ASC_TEAM);
    note(
        &app,
        ROBIN,
        &reference,
        "Phoned the team manager, no answer yet",
    )
    .await;
    app.deliver().await;
    let refused = attempts_in(&app, ASC_TEAM);
    note(&app, ROBIN, &reference, "Second call booked for Thursday").await;
    app.deliver().await;
    app.advance(Duration::from_secs(30 * 60));
    app.deliver().await;
    assert_eq!(
        attempts_in(&app, ASC_TEAM),
        refused,
        "once the workspace is held nothing more is sent to Slack for it"
    );

    let depth = app.depth().await;
    assert_eq!(depth.parked, 0, "nothing is parked for good: {depth:?}");
    assert!(depth.held >= 2, "both notes are kept: {depth:?}");
    assert_eq!(depth.held, depth.pending, "{depth:?}");
    // The other agency's thread is not held up.
    let vol = texts(&app, VOL_TEAM, VOL_CHANNEL);
    assert_eq!(count(&vol, "Second call booked for Thursday"), 1, "{vol:?}");

    // The board, on its own workspace, is told once, saying what Slack answered and that
    // nothing is lost.
    let board = texts(&app, BOARD_TEAM, BOARD_CHANNEL);
    let told: Vec<&String> = board
        .iter()
        .filter(|t| t.contains("can no longer post"))
        .collect();
    assert_eq!(told.len(), 1, "{board:?}");
    assert!(
        told[0].contains("T0ASC") && told[0].contains("token_revoked"),
        "{}",
        told[0]
    );
    assert!(told[0].contains("No post is lost"), "{}", told[0]);

    let metrics = app.get("/metrics").await.body;
    assert!(
        metrics.contains(&format!("escalation_bot_outbox_held {}", depth.held)),
        "{metrics}"
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert!(
        ready.body.contains(&format!(
            "held: {} posts to slack workspace T0ASC",
            depth.held
        )) && ready.body.contains("token_revoked"),
        "{}",
        ready.body
    );

    // Installed again: Slack issues a new token, and the kept posts go out, in order.
    let old_token = crate::slack_app::token(ASC_TEAM);
    install(&app).await;
    assert_ne!(
        app.slack.token_of(ASC_TEAM).as_deref(),
        Some(old_token.as_str())
    );
    app.deliver().await;
    let depth = app.depth().await;
    assert_eq!(
        (depth.pending, depth.parked, depth.held),
        (0, 0, 0),
        "{depth:?}"
    );
    let asc = texts(&app, ASC_TEAM, ASC_CHANNEL);
    // Kept replies to one thread may go out combined into one post: the order is the order of
    // the posts, then of the text within a post.
    let place = |needle: &str| {
        asc.iter()
            .enumerate()
            .find_map(|(i, t)| t.find(needle).map(|at| (i, at)))
            .unwrap_or_else(|| panic!("{needle:?} reaches the ASC thread: {asc:?}"))
    };
    let first = place("Phoned the team manager");
    let second = place("Second call booked");
    assert!(first < second, "in the order they were made: {asc:?}");
    assert_eq!(count(&asc, "Phoned the team manager"), 1, "{asc:?}");
    let board = texts(&app, BOARD_TEAM, BOARD_CHANNEL);
    assert_eq!(count(&board, "is installed again"), 1, "{board:?}");
    assert_eq!(
        count(&board, "can no longer post"),
        1,
        "told once: {board:?}"
    );
}

#[tokio::test]
async fn a_revoked_token_keeps_posts_until_installed_again_on_sqlite() {
    a_revoked_token_keeps_the_posts_tells_the_board_once_and_sends_them_in_order_after_an_install(
        Backend::Sqlite,
    )
    .await;
}

#[tokio::test]
async fn a_revoked_token_keeps_posts_until_installed_again_on_postgres() {
    a_revoked_token_keeps_the_posts_tells_the_board_once_and_sends_them_in_order_after_an_install(
        Backend::Postgres,
    )
    .await;
}

fn uninstalled_event(id: &str) -> String {
    json!({
        "type": "event_callback", "team_id": ASC_TEAM, "api_app_id": "A0ESCALATE",
        "event_id": id, "event_time": unix_now(),
        "event": { "type": "app_uninstalled" },
    })
    .to_string()
}

#[tokio::test]
async fn after_an_uninstall_event_posts_are_kept_without_calling_slack_and_the_board_is_told_once()
{
    let app = installable(Backend::Sqlite).await;
    install(&app).await;
    let reference = app.raise(ROBIN, "Disagreement about the care plan").await;
    app.deliver().await;
    app.slack.revoke(ASC_TEAM);
    let reply = app
        .post(
            "/slack/events",
            "application/json",
            &uninstalled_event("Ev0GONE"),
        )
        .await;
    assert_eq!(reply.status, 200);
    let before = attempts_in(&app, ASC_TEAM);
    note(&app, ROBIN, &reference, "Asked for the assessment notes").await;
    app.deliver().await;
    assert_eq!(
        attempts_in(&app, ASC_TEAM),
        before,
        "nothing is tried with no token"
    );
    let depth = app.depth().await;
    assert_eq!((depth.parked, depth.held), (0, depth.pending), "{depth:?}");
    assert!(depth.held >= 1, "{depth:?}");
    let board = texts(&app, BOARD_TEAM, BOARD_CHANNEL);
    assert_eq!(
        count(&board, "removed from the Slack workspace T0ASC"),
        1,
        "{board:?}"
    );
    assert_eq!(
        count(&board, "can no longer post"),
        0,
        "told once: {board:?}"
    );

    install(&app).await;
    app.deliver().await;
    assert_eq!(app.depth().await.pending, 0);
    let asc = texts(&app, ASC_TEAM, ASC_CHANNEL);
    assert_eq!(count(&asc, "Asked for the assessment notes"), 1, "{asc:?}");
}

/// Two replicas on one PostgreSQL database: an install through one is used by the other
/// without a restart, and an uninstall through one stops posting on both.
#[tokio::test]
async fn two_replicas_take_up_an_install_and_an_uninstall_made_through_either() {
    let first = installable(Backend::Postgres).await;
    let second = first.replica().await;
    // Installed through the first replica; the second raises (users.info, views.open) and posts.
    install(&first).await;
    let reference = second
        .raise(ROBIN, "Disagreement about the discharge plan")
        .await;
    second.deliver().await;
    assert!(
        !second
            .thread(&reference, ASC_TEAM, ASC_CHANNEL)
            .await
            .is_empty(),
        "the second replica posted the root with the token installed through the first"
    );

    // Uninstalled through the second: the first replica stops posting there at once.
    first.slack.revoke(ASC_TEAM);
    let reply = second
        .post(
            "/slack/events",
            "application/json",
            &uninstalled_event("Ev0TWO"),
        )
        .await;
    assert_eq!(reply.status, 200);
    let before = attempts_in(&first, ASC_TEAM);
    note(&first, ROBIN, &reference, "Manager on leave until Monday").await;
    first.deliver().await;
    assert_eq!(
        attempts_in(&first, ASC_TEAM),
        before,
        "held on every replica"
    );
    assert!(first.depth().await.held >= 1);

    // Installed again through the second: the first replica sends the kept post with the new
    // token, though it never saw the install.
    install(&second).await;
    first.deliver().await;
    let asc = texts(&first, ASC_TEAM, ASC_CHANNEL);
    assert_eq!(count(&asc, "Manager on leave until Monday"), 1, "{asc:?}");
    let depth = first.depth().await;
    assert_eq!((depth.pending, depth.parked), (0, 0), "{depth:?}");
}

/// A workspace run on a configured token (`SLACK_BOT_TOKENS`, no install flow) whose token is
/// revoked: held like an installed one, and mended by restarting with the new token.
#[tokio::test]
async fn a_configured_token_revoked_is_mended_by_restarting_with_the_new_one() {
    let options = Options {
        delivery: Delivery::Manual,
        ..Options::default()
    };
    let app = spawn_with(options.clone()).await;
    let reference = app
        .raise(SOCIAL_WORKER, "Disagreement about the care plan")
        .await;
    app.deliver().await;
    app.slack.revoke(VOL_TEAM);
    note(
        &app,
        SOCIAL_WORKER,
        &reference,
        "Waiting for the carers' view",
    )
    .await;
    app.deliver().await;
    let depth = app.depth().await;
    assert_eq!(depth.parked, 0, "{depth:?}");
    assert!(depth.held >= 1, "{depth:?}");

    // The administrator reinstalls the app from Slack's settings and restarts the service with
    // the token Slack gave them.
    let fresh = app.slack.reissue(VOL_TEAM);
    let restarted = app
        .replica_with(Options {
            tokens: vec![(VOL_TEAM, fresh)],
            ..options
        })
        .await;
    restarted.deliver().await;
    let depth = restarted.depth().await;
    assert_eq!(
        (depth.pending, depth.parked, depth.held),
        (0, 0, 0),
        "{depth:?}"
    );
    let vol = texts(&restarted, VOL_TEAM, VOL_CHANNEL);
    assert_eq!(count(&vol, "Waiting for the carers' view"), 1, "{vol:?}");
}
