//! Two delivery workers on one PostgreSQL database, as two replicas run them, against the Slack
//! test server pacing each channel strictly to one message a second: together they never post
//! to a channel faster than that, and when Slack answers 429 with `Retry-After`, neither touches
//! the workspace until it has passed. Waiting for a slot or a pause is never counted as an attempt.

use crate::databases::Backend;
use crate::slack_app::{
    ASC_CHANNEL, ASC_TEAM, Delivery, Options, SOCIAL_WORKER, VOL_CHANNEL, VOL_TEAM, spawn_with,
};
use crate::slack_server::{Attempt, RateLimit};
use chrono::{DateTime, Utc};
use escalation_bot::delivery::WorkerConfig;
use escalation_bot::service::Clock;
use std::time::Duration;

const SUMMARY: &str =
    "Decision not to refer for a care and support needs assessment after discharge";

/// The 429 pause Slack asks for, in seconds.
const RETRY_AFTER: u64 = 5;

fn posts_in(attempts: &[Attempt], team: &str, channel: &str) -> Vec<DateTime<Utc>> {
    attempts
        .iter()
        .filter(|a| {
            a.method == "chat.postMessage"
                && a.outcome == "ok"
                && a.team.as_deref() == Some(team)
                && a.channel.as_deref() == Some(channel)
        })
        .map(|a| a.at)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_database_share_the_channel_pace_and_both_honour_retry_after() {
    let app = spawn_with(Options {
        backend: Backend::Postgres,
        delivery: Delivery::Manual,
        server_on_app_clock: true,
        rate: Some(RateLimit::strict(1)),
        ..Options::default()
    })
    .await;
    // Five challenges with two notes each: enough posts that both replicas hold some when
    // Slack asks them to wait (notes are replies alone; they do not rewrite the root).
    for i in 0..5 {
        let reference = app
            .raise(SOCIAL_WORKER, &format!("{SUMMARY} (challenge {i})"))
            .await;
        for text in ["Phoned the network.", "Meeting booked."] {
            let note = app
                .command(SOCIAL_WORKER, &format!("note {reference} {text}"))
                .await;
            assert_eq!(note.status, 200, "{note:?}");
        }
    }
    let config = |name: &str| WorkerConfig {
        owner: format!("{name}-{}", uuid::Uuid::new_v4()),
        lease: Duration::from_secs(60),
        batch: 2,
        idle: Duration::from_millis(20),
        channel_spacing: Duration::from_secs(1),
    };
    let timeout = Duration::from_secs(10);
    let workers = [
        app.worker(timeout, config("replica-a")),
        app.worker(timeout, config("replica-b")),
    ];
    let step = Duration::from_millis(100);
    let started = app.clock.now();
    let mut paused_at_step = None;
    // Per worker: rows it claimed while the pause was on.
    let mut claimed_while_paused = [0usize; 2];
    let mut pause: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    // Every claim by either replica over the whole run.
    let mut claims = 0usize;
    for n in 0..1200u32 {
        if n == 30 {
            app.slack.pause_workspace(ASC_TEAM, RETRY_AFTER);
            paused_at_step = Some(n);
        }
        // Each replica in turn goes first, in an order that does not repeat with the channel's
        // one-second slots (ten steps): rows wait for their slots, so with a plain alternation
        // the same replica would always find them due first.
        let order = if n.count_ones() % 2 == 0 {
            [0, 1]
        } else {
            [1, 0]
        };
        for w in order {
            let claimed = workers[w].tick().await.expect("the worker claims rows");
            claims += claimed;
            if let Some((from, until)) = pause
                && app.clock.now() > from
                && app.clock.now() < until
            {
                claimed_while_paused[w] += claimed;
            }
        }
        if pause.is_none()
            && let Some(limited) = app
                .slack
                .attempts()
                .iter()
                .find(|a| a.outcome == "http_429")
        {
            let until = limited.at + chrono::Duration::seconds(RETRY_AFTER as i64);
            pause = Some((limited.at, until));
        }
        if app.depth().await.pending == 0 && paused_at_step.is_some() {
            break;
        }
        app.advance(step);
    }
    let depth = app.depth().await;
    assert_eq!((depth.pending, depth.parked), (0, 0), "{depth:?}");
    let attempts = app.slack.attempts();

    // The pace: one post a second per channel, across both replicas.
    for (team, channel) in [(ASC_TEAM, ASC_CHANNEL), (VOL_TEAM, VOL_CHANNEL)] {
        let posts = posts_in(&attempts, team, channel);
        // Three roots, and each challenge's two notes, queued behind its root, as one reply.
        assert!(
            posts.len() >= 6,
            "{channel}: roots and replies: {}",
            posts.len()
        );
        for pair in posts.windows(2) {
            assert!(
                pair[1] - pair[0] >= chrono::Duration::seconds(1),
                "{channel}: two posts {} ms apart",
                (pair[1] - pair[0]).num_milliseconds()
            );
        }
        let mut per_second = std::collections::BTreeMap::new();
        for at in &posts {
            *per_second.entry((*at - started).num_seconds()).or_insert(0) += 1;
        }
        assert!(
            per_second.values().all(|n| *n <= 1),
            "{channel}: posts per second {per_second:?}"
        );
    }

    // The 429: the only one, the one Slack was told to give; then nothing into the workspace
    // from either replica until Retry-After had passed, though both had rows in hand meanwhile.
    let limited: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.outcome == "http_429")
        .collect();
    assert_eq!(
        limited.len(),
        1,
        "pacing alone never ran into Slack's limit"
    );
    assert_eq!(
        limited[0].retry_after,
        Some(Duration::from_secs(RETRY_AFTER))
    );
    let (from, until) = pause.expect("Slack answered 429");
    let during: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.team.as_deref() == Some(ASC_TEAM) && a.at > from && a.at < until)
        .collect();
    assert!(
        during.is_empty(),
        "calls while Slack asked to wait: {during:?}"
    );
    assert!(
        attempts
            .iter()
            .any(|a| a.team.as_deref() == Some(ASC_TEAM) && a.at >= until && a.outcome == "ok"),
        "posts resumed after the pause"
    );
    assert!(
        claimed_while_paused.iter().all(|n| *n > 0),
        "both replicas held rows during the pause and handed them back: {claimed_while_paused:?}"
    );
    // Other workspaces went on posting meanwhile.
    assert!(
        attempts
            .iter()
            .any(|a| a.team.as_deref() == Some(VOL_TEAM) && a.at > from && a.at < until),
        "another workspace is not held by the pause"
    );

    // Waiting for a slot or out a pause is not an attempt: every row went out at its first try.
    let raw = app.db.raw().await;
    // (A note that went out in another row's reply was never tried on its own.)
    let retried = raw
        .int("SELECT count(*) FROM outbox WHERE attempts <> 1 AND combined_into IS NULL")
        .await;
    raw.close().await;
    assert_eq!(retried, 0, "no row counted a wait as an attempt");

    // A backlog waiting for its slots is not claimed over and over: a row is claimed to book its
    // slot and again when the slot comes (and once more if a pause moved it).
    let raw = app.db.raw().await;
    let rows = raw.int("SELECT count(*) FROM outbox").await;
    raw.close().await;
    assert!(
        claims as i64 <= 3 * rows,
        "{claims} claims for {rows} rows over {} s of pacing",
        (app.clock.now() - started).num_seconds()
    );
}
