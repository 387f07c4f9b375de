//! Posts to Teams go out through the shared outbox and worker: a Connector outage delays them
//! and loses none, a 429 is waited out for as long as `Retry-After` says, a duplicate delivery
//! records nothing twice, and a post that can never succeed is parked and told to the board.

use crate::teams_app::{Delivery, GP_CHANNEL, OKAFOR, Options, TENANT, spawn_with};
use crate::teams_connector::card_text;
use escalation_bot::escalation::Reference;

fn manual(rate: Option<(u32, f64, u64)>) -> Options {
    Options {
        delivery: Delivery::Manual,
        rate,
        connector_on_app_clock: true,
        ..Options::default()
    }
}

#[tokio::test]
async fn a_connector_outage_delays_teams_posts_and_loses_or_repeats_none() {
    let app = spawn_with(manual(None)).await;
    app.connector.set_down(Some(502));
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    // Withdrawn: a reply saying so, and the root rewritten to show it.
    assert_eq!(
        app.slack_command(
            "U0ASCSW1",
            &format!("withdraw {reference} Resolved by phone with the practice.")
        )
        .await
        .status,
        200
    );
    app.deliver().await;
    let depth = app.depth().await;
    assert!(
        depth.pending >= 3,
        "the Teams root, reply and update wait: {depth:?}"
    );
    assert_eq!(depth.parked, 0);
    assert!(app.connector.refused().iter().all(|(s, _)| *s == 502));
    let tries = app.connector.refused().len();

    // Still down over the next minutes: retried with backoff, never given up on.
    for _ in 0..5 {
        app.advance(chrono::Duration::minutes(3));
        app.deliver().await;
    }
    assert!(app.connector.refused().len() > tries, "retried");
    assert_eq!(app.depth().await.parked, 0);
    // Back up: everything goes out once, the root first, in order.
    app.connector.set_down(Some(504));
    app.advance(chrono::Duration::minutes(6));
    app.deliver().await;
    app.connector.set_down(None);
    app.advance(chrono::Duration::minutes(6));
    app.deliver().await;
    let depth = app.depth().await;
    assert_eq!((depth.pending, depth.parked), (0, 0), "{depth:?}");
    let calls = app.connector.calls();
    let kinds: Vec<&str> = calls.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["create_thread", "reply", "update"],
        "each post once, root first"
    );
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["POST", "POST", "PUT"]);
    assert!(
        calls.iter().all(|c| c.app_id == crate::teams_app::APP_ID),
        "with the Riverside bot's token"
    );
    assert!(
        calls[1].conversation.starts_with(GP_CHANNEL)
            && calls[1].conversation == calls[2].conversation
    );
    assert_eq!(calls[0].body["channelData"]["channel"]["id"], GP_CHANNEL);
    assert_eq!(
        app.count(&reference, "thread_opened").await,
        2,
        "one thread per agency channel"
    );
    let (conversation, _) = app.teams_thread(&reference, TENANT, GP_CHANNEL).await;
    assert!(card_text(&app.connector.conversation(&conversation)[1].activity).contains("withdrew"));
}

#[tokio::test]
async fn a_429_is_waited_out_for_as_long_as_retry_after_says() {
    // One write per conversation per second, and "Retry-After: 30" when that is exceeded.
    let app = spawn_with(manual(Some((1, 1.0, 30)))).await;
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    app.deliver().await;
    for text in ["Phoned the practice.", "Left a message for the GP."] {
        assert_eq!(
            app.slack_command("U0ASCSW1", &format!("note {reference} {text}"))
                .await
                .status,
            200
        );
        app.deliver().await;
    }
    // The first note's reply went out; the second, in the same second, was refused with 429.
    assert!(
        app.connector.refused().iter().any(|(s, _)| *s == 429),
        "{:?}",
        app.connector.refused()
    );
    let pending = app.depth().await.pending;
    assert!(pending >= 1);
    app.advance(chrono::Duration::seconds(10));
    app.deliver().await;
    assert_eq!(
        app.depth().await.pending,
        pending,
        "not before Retry-After has passed"
    );
    let refused = app.connector.refused().len();
    app.advance(chrono::Duration::seconds(21));
    app.deliver().await;
    assert_eq!(app.depth().await.pending, 0);
    assert_eq!(
        app.connector.refused().len(),
        refused,
        "no call was made while waiting"
    );
    assert_eq!(app.depth().await.parked, 0);
}

#[tokio::test]
async fn a_redelivered_activity_records_and_posts_nothing_twice() {
    let app = spawn_with(manual(None)).await;
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    app.deliver().await;
    let note = app.channel_message(
        OKAFOR,
        GP_CHANNEL,
        &format!("note {reference} Agreed to review the discharge summary."),
    );
    for _ in 0..3 {
        let r = app.send(&note).await;
        assert_eq!((r.status, r.body.as_str()), (200, ""));
    }
    assert_eq!(app.count(&reference, "note_added").await, 1);
    let help = app.channel_message(OKAFOR, GP_CHANNEL, "help");
    app.send(&help).await;
    app.send(&help).await;
    app.deliver().await;
    let conversation = help["conversation"]["id"].as_str().unwrap_or_default();
    let id = help["id"].as_str().unwrap_or_default();
    assert_eq!(app.replies_to(conversation, id).len(), 1, "one help reply");
    let conversation = note["conversation"]["id"].as_str().unwrap_or_default();
    let id = note["id"].as_str().unwrap_or_default();
    let receipts = app.replies_to(conversation, id);
    assert_eq!(
        receipts.len(),
        1,
        "one receipt, as a reply to the person's message"
    );
    assert!(card_text(&receipts[0].activity).contains(&format!("Recorded on {reference}")));
}

#[tokio::test]
async fn a_post_to_a_team_without_the_app_is_parked_and_the_board_is_told() {
    let app = spawn_with(manual(None)).await;
    app.connector.uninstall(GP_CHANNEL);
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    app.deliver().await;
    let depth = app.depth().await;
    assert_eq!((depth.pending, depth.parked), (0, 1), "{depth:?}");
    let notice = app
        .slack
        .calls()
        .into_iter()
        .find(|c| {
            c.method == "chat.postMessage"
                && c.body.get("channel").and_then(|v| v.as_str()) == Some("C0NSABUNIT")
        })
        .expect("a notice in the board's channel");
    let text = notice.body["text"].as_str().unwrap_or_default().to_string();
    assert!(
        text.contains(&reference.to_string()) && text.contains("could not be delivered"),
        "{text}"
    );
    assert!(
        text.contains("Riverside GP Practice") && text.contains("bot_not_installed"),
        "{text}"
    );
    // Later posts to the missing thread are parked too, and not reported again.
    assert_eq!(
        app.slack_command(
            "U0ASCSW1",
            &format!("note {reference} Phoned the practice.")
        )
        .await
        .status,
        200
    );
    app.deliver().await;
    let notices = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.body.get("channel").and_then(|v| v.as_str()) == Some("C0NSABUNIT"))
        .count();
    assert_eq!(notices, 1);
    let metrics = reqwest::get(format!("{}/metrics", app.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            r#"delivery_failures_total{error="bot_not_installed",parked="true",platform="teams"} 1"#
        ),
        "{metrics}"
    );
    let _ = Reference::parse(&reference.to_string());
}

#[tokio::test]
async fn on_postgres_a_tenants_service_url_and_a_users_teams_id_are_kept_and_used_for_direct_messages()
 {
    let app = spawn_with(Options {
        backend: crate::databases::Backend::Postgres,
        ..Options::default()
    })
    .await;
    // The GP lead writes to the bot once: their Teams id and the tenant's serviceUrl are learnt.
    let hello = app.personal_message(crate::teams_app::LINDQVIST, "help");
    assert_eq!(app.send(&hello).await.status, 200);
    let known = escalation_bot::chat::teams::known::KnownAddresses::of(&app.service);
    assert_eq!(
        known.service_url(TENANT).await.expect("read"),
        Some(app.connector.service_url())
    );
    assert_eq!(
        known
            .user_id(TENANT, crate::teams_app::LINDQVIST.aad)
            .await
            .expect("read")
            .as_deref(),
        Some(crate::teams_app::LINDQVIST.id)
    );
    // Escalation asks them to take over by direct message: sent in their 1:1 chat, by Teams id.
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    assert_eq!(
        app.slack_command(
            "U0ASCSW1",
            &format!("escalate {reference} no agreement after two calls")
        )
        .await
        .status,
        200
    );
    app.settle().await;
    let created = app
        .connector
        .calls()
        .into_iter()
        .find(|c| c.kind == "create_personal")
        .expect("a 1:1 chat");
    assert_eq!(
        created.body["members"][0]["id"],
        crate::teams_app::LINDQVIST.id
    );
    let chat = app
        .connector
        .personal(TENANT, crate::teams_app::LINDQVIST.id)
        .expect("the chat");
    assert!(
        app.connector
            .conversation(&chat)
            .iter()
            .any(|p| card_text(&p.activity).contains("You are asked to take over"))
    );
}
