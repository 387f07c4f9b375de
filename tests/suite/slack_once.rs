//! Exactly once on Slack across timeouts, dropped connections and crashes.
//!
//! The Slack test server accepts a post (keeps it in the channel) and then stalls the answer
//! past the client's timeout, or drops the connection before the answer, or the worker holding
//! the row is killed while the answer is awaited. Each time the post's row is left in doubt; the
//! next attempt looks for the post by its outbox key in the channel's history (or the thread's
//! replies) and records it instead of posting again. One of these tests kills a real
//! `escalation-bot serve` process with SIGKILL and starts another on the same SQLite file.

use crate::databases::Backend;
use crate::slack_api::assert_exactly_once;
use crate::slack_app::{
    ASC_CHANNEL, ASC_TEAM, App, BOARD_TEAM, Delivery, Options, SOCIAL_WORKER, VOL_CHANNEL,
    VOL_TEAM, spawn_with, token,
};
use crate::slack_server::{AfterPost, Call};
use escalation_bot::chat::slack::once::tag;
use escalation_bot::delivery::Worker;
use escalation_bot::escalation::Reference;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const SUMMARY: &str = "Decision not to refer for a care and support needs assessment after discharge; adult lives alone";

/// What a Web API call waits for before giving up, in the workers these tests build.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(800);

/// The app with its worker stepped by the test; Slack on the app's clock, or (for a `serve`
/// process, which runs on real time) on real time.
async fn app_on(backend: Backend, server_on_app_clock: bool) -> App {
    spawn_with(Options {
        backend,
        delivery: Delivery::Manual,
        server_on_app_clock,
        ..Options::default()
    })
    .await
}

/// Steps `worker` and the clock until nothing is pending.
async fn drain(app: &App, worker: &Worker) {
    for _ in 0..120 {
        while worker.tick().await.expect("the worker claims rows") > 0 {}
        if app.depth().await.pending == 0 {
            return;
        }
        app.advance(Duration::from_secs(5));
    }
    panic!("the outbox did not drain: {:?}", app.depth().await);
}

/// The outbox key's tag each accepted `chat.postMessage` carried, counted.
fn posts_by_tag(calls: &[Call]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for c in calls.iter().filter(|c| c.method == "chat.postMessage") {
        let tag = c
            .body
            .pointer("/metadata/event_payload/outbox_key")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("a post without its outbox key: {}", c.body))
            .to_string();
        *counts.entry(tag).or_insert(0) += 1;
    }
    counts
}

/// Every outbox row (key, target, status) of the app's database.
async fn rows(app: &App) -> Vec<(String, Value, String)> {
    let raw = app.db.raw().await;
    let lines = raw
        // A reply carried in another row's post has no post of its own.
        .texts("SELECT idempotency_key || '\t' || status || '\t' || target FROM outbox WHERE combined_into IS NULL ORDER BY id")
        .await;
    raw.close().await;
    lines
        .iter()
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let key = parts.next().unwrap_or_default().to_string();
            let status = parts.next().unwrap_or_default().to_string();
            let target = serde_json::from_str(parts.next().unwrap_or("null")).unwrap_or_default();
            (key, target, status)
        })
        .collect()
}

/// Each outbox row's key and status, in order, combined rows included: a reply carried in
/// another row's post is settled with it.
async fn statuses(app: &App) -> Vec<(String, String)> {
    let raw = app.db.raw().await;
    let lines = raw
        .texts("SELECT idempotency_key || '\t' || status FROM outbox ORDER BY id")
        .await;
    raw.close().await;
    lines
        .iter()
        .map(|l| {
            let (key, status) = l.split_once('\t').unwrap_or((l, ""));
            (key.to_string(), status.to_string())
        })
        .collect()
}

/// Each row that posts a message was posted exactly once, by its key; each root's recorded
/// thread is the root Slack kept.
async fn assert_each_key_posted_once(app: &App, reference: &Reference) {
    let posts = posts_by_tag(&app.slack.calls());
    for (key, target, status) in rows(app).await {
        let delivery = target["delivery"].as_str().unwrap_or_default().to_string();
        let posts_a_message = matches!(delivery.as_str(), "root" | "reply" | "notice" | "direct");
        if !posts_a_message || status != "sent" {
            continue;
        }
        assert_eq!(
            posts.get(&tag(&key)).copied().unwrap_or(0),
            1,
            "{key} ({delivery}) posted once"
        );
    }
    for (team, channel) in [(ASC_TEAM, ASC_CHANNEL), (VOL_TEAM, VOL_CHANNEL)] {
        let roots: Vec<String> = app
            .slack
            .channel_messages(team, channel)
            .into_iter()
            .filter(|(_, thread, _)| thread.is_none())
            .map(|(ts, _, _)| ts)
            .collect();
        assert_eq!(roots.len(), 1, "one root in {channel}: {roots:?}");
        assert_eq!(
            app.thread(reference, team, channel).await,
            roots[0],
            "the thread recorded is the root Slack kept in {channel}"
        );
    }
}

/// A root post accepted and then left unanswered (`how`), a note's reply likewise: each is
/// found in the history on the next attempt and posted once.
async fn accepted_then_unanswered(backend: Backend, how: AfterPost) {
    let app = app_on(backend, true).await;
    let worker = app.worker_with(CLIENT_TIMEOUT, Duration::ZERO);
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    app.slack.after_posts(how, 1, true);
    assert!(worker.tick().await.expect("claims") > 0);
    let looked = |calls: &[Call], method: &str| calls.iter().filter(|c| c.method == method).count();
    assert_eq!(
        looked(&app.slack.calls(), "conversations.history"),
        0,
        "no look before an attempt is in doubt"
    );
    drain(&app, &worker).await;
    let calls = app.slack.calls();
    assert!(
        looked(&calls, "conversations.history") >= 1,
        "the root in doubt was looked for"
    );

    // A reply in doubt is looked for among the thread's replies.
    let note = app
        .command(
            SOCIAL_WORKER,
            &format!("note {reference} Phoned the network again."),
        )
        .await;
    assert_eq!(note.status, 200, "{note:?}");
    app.slack.after_posts(how, 1, false);
    drain(&app, &worker).await;
    assert!(
        looked(&app.slack.calls(), "conversations.replies") >= 1,
        "the reply in doubt was looked for in its thread"
    );
    assert_each_key_posted_once(&app, &reference).await;
    assert_exactly_once(&app, &app.slack.calls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_accepted_then_dropped_is_found_and_posted_once_on_sqlite() {
    accepted_then_unanswered(Backend::Sqlite, AfterPost::Drop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_accepted_then_dropped_is_found_and_posted_once_on_postgres() {
    accepted_then_unanswered(Backend::Postgres, AfterPost::Drop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_accepted_then_stalled_past_the_timeout_is_found_and_posted_once_on_sqlite() {
    accepted_then_unanswered(Backend::Sqlite, AfterPost::Stall(CLIENT_TIMEOUT * 3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_accepted_then_stalled_past_the_timeout_is_found_and_posted_once_on_postgres() {
    accepted_then_unanswered(Backend::Postgres, AfterPost::Stall(CLIENT_TIMEOUT * 3)).await;
}

/// An installation without the history scopes cannot be asked; a post in doubt is then posted
/// again (it may show twice) rather than set aside.
async fn without_the_history_scopes(backend: Backend) {
    let app = app_on(backend, true).await;
    let worker = app.worker_with(CLIENT_TIMEOUT, Duration::ZERO);
    app.raise(SOCIAL_WORKER, SUMMARY).await;
    app.slack.without_history_scopes(ASC_TEAM);
    app.slack.without_history_scopes(VOL_TEAM);
    app.slack.after_posts(AfterPost::Drop, 1, true);
    drain(&app, &worker).await;
    let depth = app.depth().await;
    assert_eq!(
        (depth.pending, depth.parked),
        (0, 0),
        "nothing set aside: {depth:?}"
    );
    let refused = app
        .slack
        .attempts()
        .iter()
        .filter(|a| a.method == "conversations.history" && a.outcome == "missing_scope")
        .count();
    assert_eq!(
        refused, 1,
        "the look was refused once, and the post went again"
    );
    let roots = app
        .slack
        .calls()
        .iter()
        .filter(|c| {
            c.method == "chat.postMessage"
                && c.field("thread_ts").is_empty()
                && [ASC_CHANNEL, VOL_CHANNEL].contains(&c.field("channel"))
        })
        .count();
    assert_eq!(roots, 3, "two roots, one of them twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_history_scopes_a_post_in_doubt_is_posted_again_not_set_aside_on_sqlite() {
    without_the_history_scopes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_history_scopes_a_post_in_doubt_is_posted_again_not_set_aside_on_postgres() {
    without_the_history_scopes(Backend::Postgres).await;
}

/// A worker dies while Slack holds its root post's answer: once its lease runs out, another
/// worker finds the post and records its thread; the replies go into that thread.
async fn a_worker_killed_mid_post(backend: Backend) {
    let app = app_on(backend, true).await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    let note = app
        .command(SOCIAL_WORKER, &format!("note {reference} Left a message."))
        .await;
    assert_eq!(note.status, 200, "{note:?}");
    app.slack
        .after_posts(AfterPost::Stall(Duration::from_secs(3600)), 1, true);
    let doomed = app.worker_with(Duration::from_secs(3600), Duration::ZERO);
    let task = tokio::spawn(async move { doomed.tick().await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app
        .slack
        .calls()
        .iter()
        .any(|c| c.method == "chat.postMessage")
    {
        assert!(
            Instant::now() < deadline,
            "the root post never reached Slack"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    app.advance(Duration::from_secs(61));
    let survivor = app.worker_with(CLIENT_TIMEOUT, Duration::ZERO);
    drain(&app, &survivor).await;
    assert_each_key_posted_once(&app, &reference).await;
    assert_exactly_once(&app, &app.slack.calls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_slack_holds_its_root_post_leaves_one_root_on_sqlite() {
    a_worker_killed_mid_post(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_slack_holds_its_root_post_leaves_one_root_on_postgres() {
    a_worker_killed_mid_post(Backend::Postgres).await;
}

// ---- a real process, killed ----

/// A `serve` process; killed (SIGKILL) when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_serve(app: &App, log: &std::path::Path) -> Serve {
    let tokens = [ASC_TEAM, VOL_TEAM, BOARD_TEAM]
        .iter()
        .map(|t| format!("{t}={}", token(t)))
        .collect::<Vec<_>>()
        .join(",");
    let nowhere = "http://127.0.0.1:9/";
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("a log file");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(app.db.path())
        .arg("--directory")
        .arg(&app.directory)
        .current_dir(crate::helpers::crate_root())
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn,escalation_bot::delivery=info")
        .env("NO_COLOR", "1")
        .env("SLACK_API_BASE_URL", app.slack.api_base())
        .env("SLACK_BOT_TOKENS", tokens)
        .env("SLACK_SIGNING_SECRET", crate::slack_app::SECRET)
        .env("DELIVERY_LEASE_SECS", "3")
        .env("TEAMS_SERVICE_URL", nowhere)
        .env("TEAMS_TOKEN_BASE_URL", nowhere)
        .env("TEAMS_OPENID_METADATA_URL", nowhere)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the escalation-bot binary starts");
    let out = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("serve writes a line");
    assert!(line.contains("is serving"), "serve starts: {line:?}");
    Serve(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_while_slack_holds_a_root_post_and_started_again_posts_each_message_once() {
    let app = app_on(Backend::Sqlite, false).await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    for text in ["Phoned the network.", "Meeting booked for Thursday."] {
        let note = app
            .command(SOCIAL_WORKER, &format!("note {reference} {text}"))
            .await;
        assert_eq!(note.status, 200, "{note:?}");
    }
    // What the requests queued, by key: a serve process may add scheduled posts of its own
    // later (held for working hours), and may carry some of these in one post with another.
    let queued: Vec<String> = statuses(&app).await.into_iter().map(|(k, _)| k).collect();
    assert!(
        queued.len() >= 6,
        "roots, replies, updates and receipts are queued"
    );
    let log = app.db.folder().join("serve.log");

    // Slack keeps the first root post and never answers; the process is killed meanwhile.
    app.slack
        .after_posts(AfterPost::Stall(Duration::from_secs(3600)), 1, true);
    let first = start_serve(&app, &log);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app
        .slack
        .calls()
        .iter()
        .any(|c| c.method == "chat.postMessage")
    {
        assert!(
            Instant::now() < deadline,
            "the root post never reached Slack"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first);
    let before_restart = app.slack.calls().len();

    let second = start_serve(&app, &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = statuses(&app).await;
        let done = queued
            .iter()
            .all(|key| now.iter().any(|(k, status)| k == key && status == "sent"));
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queued posts were not all sent: {:?}\n{}",
            now.iter()
                .map(|(k, s)| format!("{k} {s}"))
                .collect::<Vec<_>>(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(second);
    let calls = app.slack.calls();
    assert!(
        calls[before_restart..]
            .iter()
            .any(|c| c.method == "conversations.history"),
        "the restarted process looked for the root in doubt"
    );
    assert_each_key_posted_once(&app, &reference).await;
}
