//! Replies queued for one thread while its channel is paced go out as one post, against the
//! Slack test server holding each channel to one message a second: each note's author, time and
//! words, in the order they were recorded, under the first row's outbox key; every row it
//! carries is marked sent with it, also when the answer to the post is lost or the worker
//! holding it dies, so nothing is posted twice. Roots and replies that ask for something (a
//! stage prompt) keep posts of their own.

use crate::databases::Backend;
use crate::slack_api::assert_exactly_once;
use crate::slack_app::{
    ASC_CHANNEL, ASC_TEAM, App, Delivery, Options, SOCIAL_WORKER, VOL_CHANNEL, VOL_TEAM,
    spawn_with, texts,
};
use crate::slack_server::{AfterPost, Call, RateLimit};
use escalation_bot::chat::slack::once::tag;
use escalation_bot::delivery::Worker;
use escalation_bot::escalation::Reference;
use escalation_bot::service::Clock;
use std::time::{Duration, Instant};

const SUMMARY: &str =
    "Decision not to refer for a care and support needs assessment after discharge";

/// What a Web API call waits for before giving up, in the workers these tests build.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(800);

const NOTES: [&str; 5] = [
    "Phoned the carers network.",
    "Left a message for the duty manager.",
    "Duty manager called back; meeting booked.",
    "Shared the discharge summary.",
    "Agreed to review the plan on Friday.",
];

async fn app_on(backend: Backend) -> App {
    spawn_with(Options {
        backend,
        delivery: Delivery::Manual,
        server_on_app_clock: true,
        rate: Some(RateLimit::strict(1)),
        ..Options::default()
    })
    .await
}

/// A worker pacing each channel to one post a second, as `serve` does.
fn paced(app: &App) -> std::sync::Arc<Worker> {
    app.worker_with(CLIENT_TIMEOUT, Duration::from_secs(1))
}

/// Steps `worker` and the clock (a second at a time) until nothing is pending.
async fn drain(app: &App, worker: &Worker) {
    for _ in 0..300 {
        while worker.tick().await.expect("the worker claims rows") > 0 {}
        if app.depth().await.pending == 0 {
            return;
        }
        app.advance(Duration::from_secs(1));
    }
    panic!("the outbox did not drain: {:?}", app.depth().await);
}

/// Adds the five notes, a minute apart; the time each was recorded at, as posts show it.
async fn five_notes(app: &App, reference: &Reference) -> Vec<String> {
    let mut times = Vec::new();
    for text in NOTES {
        times.push(escalation_bot::calendar::format_uk_short(app.clock.now()));
        let note = app
            .command(SOCIAL_WORKER, &format!("note {reference} {text}"))
            .await;
        assert_eq!(note.status, 200, "{note:?}");
        app.advance(Duration::from_secs(60));
    }
    times
}

/// The replies Slack accepted into a thread, each as the text of its blocks.
fn replies(calls: &[Call], team: &str, channel: &str, thread: &str) -> Vec<String> {
    calls
        .iter()
        .filter(|c| {
            c.method == "chat.postMessage"
                && c.team == team
                && c.field("channel") == channel
                && c.field("thread_ts") == thread
        })
        .map(|c| texts(&c.body["blocks"]).join("\n"))
        .collect()
}

/// Each thread got exactly one reply after the notes, holding all five in order, each with who
/// wrote it and when; every note's row is sent, with that reply's `ts`.
async fn assert_one_reply_each(app: &App, reference: &Reference, times: &[String]) {
    let calls = app.slack.calls();
    for (team, channel) in [(ASC_TEAM, ASC_CHANNEL), (VOL_TEAM, VOL_CHANNEL)] {
        let thread = app.thread(reference, team, channel).await;
        let replies = replies(&calls, team, channel, &thread);
        let with_notes: Vec<&String> = replies
            .iter()
            .filter(|r| NOTES.iter().any(|n| r.contains(n)))
            .collect();
        assert_eq!(
            with_notes.len(),
            1,
            "{channel}: the five notes went out as one reply: {replies:#?}"
        );
        let post = with_notes[0];
        let mut from = 0;
        for (text, at) in NOTES.iter().zip(times) {
            let line = format!("{at} · Note from");
            let found = post[from..]
                .find(&line)
                .and_then(|i| post[from + i..].find(text).map(|j| (i, j)));
            let Some((i, j)) = found else {
                panic!("{channel}: \"{text}\" at {at}, after the notes before it: {post}");
            };
            from += i + j + text.len();
        }
        let raw = app.db.raw().await;
        let sent = raw
            .texts(&format!(
                "SELECT status || ' ' || coalesce(result, '') FROM outbox
                 WHERE lane = 'thread|{reference}|slack|{team}|{channel}'
                   AND target LIKE '%\"reply\"%' ORDER BY id"
            ))
            .await;
        raw.close().await;
        assert_eq!(sent.len(), NOTES.len(), "{channel}: one row per note");
        assert!(
            sent.windows(2).all(|w| w[0] == w[1]) && sent[0].starts_with("sent "),
            "{channel}: every note's row is sent with the one reply: {sent:?}"
        );
    }
}

async fn five_notes_one_reply(backend: Backend) {
    let app = app_on(backend).await;
    let worker = paced(&app);
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    drain(&app, &worker).await;
    let times = five_notes(&app, &reference).await;
    drain(&app, &worker).await;
    assert_one_reply_each(&app, &reference, &times).await;
    assert!(
        app.slack.attempts().iter().all(|a| a.outcome != "http_429"),
        "the pace was kept"
    );
    assert_exactly_once(&app, &app.slack.calls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_notes_queued_for_a_paced_thread_go_out_as_one_reply_in_order_on_sqlite() {
    five_notes_one_reply(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_notes_queued_for_a_paced_thread_go_out_as_one_reply_in_order_on_postgres() {
    five_notes_one_reply(Backend::Postgres).await;
}

/// The worker posting the combined reply dies while Slack holds the answer; once its lease runs
/// out, another worker finds the post by the first note's key and marks all five sent.
async fn killed_after_the_combined_post(backend: Backend) {
    let app = app_on(backend).await;
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    drain(&app, &paced(&app)).await;
    let times = five_notes(&app, &reference).await;
    app.slack
        .after_posts(AfterPost::Stall(Duration::from_secs(3600)), 1, false);
    let doomed = app.worker_with(Duration::from_secs(3600), Duration::from_secs(1));
    let task = tokio::spawn(async move { doomed.tick().await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app.slack.calls().iter().any(|c| {
        c.method == "chat.postMessage" && NOTES.iter().any(|n| c.body.to_string().contains(n))
    }) {
        assert!(
            Instant::now() < deadline,
            "the combined reply never reached Slack"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    app.advance(Duration::from_secs(61));
    let survivor = paced(&app);
    drain(&app, &survivor).await;
    assert_one_reply_each(&app, &reference, &times).await;
    assert!(
        app.slack
            .calls()
            .iter()
            .any(|c| c.method == "conversations.replies"),
        "the reply in doubt was looked for in its thread"
    );
    // The post carries the first note's key, and only it.
    let raw = app.db.raw().await;
    let first = raw
        .texts(&format!(
            "SELECT idempotency_key FROM outbox
             WHERE lane = 'thread|{reference}|slack|{ASC_TEAM}|{ASC_CHANNEL}'
               AND target LIKE '%\"reply\"%' ORDER BY id"
        ))
        .await;
    raw.close().await;
    let keys: Vec<String> = app
        .slack
        .channel_messages(ASC_TEAM, ASC_CHANNEL)
        .into_iter()
        .filter_map(|(_, thread, metadata)| thread.and(metadata))
        .filter_map(|m| {
            m.pointer("/event_payload/outbox_key")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        keys,
        vec![tag(&first[0])],
        "one reply, under the first note's key"
    );
    assert_exactly_once(&app, &app.slack.calls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_slack_took_a_combined_reply_never_posts_the_notes_again_on_sqlite() {
    killed_after_the_combined_post(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_slack_took_a_combined_reply_never_posts_the_notes_again_on_postgres()
{
    killed_after_the_combined_post(Backend::Postgres).await;
}

/// Notes queued before the root is posted, and an escalation (a reply with the new stage's
/// prompt) between notes: the root goes alone, the escalation alone, and only the notes on
/// either side of it are combined.
async fn roots_and_prompts_alone(backend: Backend) {
    let app = app_on(backend).await;
    let worker = paced(&app);
    let reference = app.raise(SOCIAL_WORKER, SUMMARY).await;
    for text in &NOTES[..2] {
        let note = app
            .command(SOCIAL_WORKER, &format!("note {reference} {text}"))
            .await;
        assert_eq!(note.status, 200, "{note:?}");
    }
    let escalated = app
        .command(
            SOCIAL_WORKER,
            &format!("escalate {reference} Discussed twice, no agreement."),
        )
        .await;
    assert!(escalated.text().contains("Recorded on"), "{escalated:?}");
    for text in &NOTES[2..] {
        let note = app
            .command(SOCIAL_WORKER, &format!("note {reference} {text}"))
            .await;
        assert_eq!(note.status, 200, "{note:?}");
    }
    drain(&app, &worker).await;
    let calls = app.slack.calls();
    for (team, channel) in [(ASC_TEAM, ASC_CHANNEL), (VOL_TEAM, VOL_CHANNEL)] {
        let thread = app.thread(&reference, team, channel).await;
        let root: Vec<&Call> = calls
            .iter()
            .filter(|c| {
                c.method == "chat.postMessage"
                    && c.team == team
                    && c.field("channel") == channel
                    && c.field("thread_ts").is_empty()
            })
            .collect();
        assert_eq!(root.len(), 1, "{channel}: one root");
        let root = root[0].body.to_string();
        assert!(
            NOTES.iter().all(|n| !root.contains(n)),
            "{channel}: the root carries no note: {root}"
        );
        let replies = replies(&calls, team, channel, &thread);
        let notes_in = |r: &String| NOTES.iter().filter(|n| r.contains(*n)).count();
        let escalation: Vec<&String> = replies
            .iter()
            .filter(|r| r.contains("Discussed twice, no agreement."))
            .collect();
        assert_eq!(escalation.len(), 1, "{channel}: {replies:#?}");
        assert_eq!(
            notes_in(escalation[0]),
            0,
            "{channel}: the escalation's prompt keeps its own post: {}",
            escalation[0]
        );
        let combined: Vec<usize> = replies.iter().map(notes_in).filter(|n| *n > 0).collect();
        assert_eq!(
            combined,
            vec![2, 3],
            "{channel}: the notes before and after the escalation, each side combined: {replies:#?}"
        );
    }
    assert_exactly_once(&app, &calls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_and_a_reply_with_a_prompt_are_never_combined_on_sqlite() {
    roots_and_prompts_alone(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_and_a_reply_with_a_prompt_are_never_combined_on_postgres() {
    roots_and_prompts_alone(Backend::Postgres).await;
}
