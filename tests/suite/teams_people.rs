//! People known by their work email on Teams: the conversation member lookup the first time,
//! the recorded link after.

use crate::teams_app::{GP_CHANNEL, HALE, STRANGER, spawn_app};

#[tokio::test]
async fn someone_known_only_by_work_email_is_linked_by_the_member_lookup_once() {
    let app = spawn_app().await;
    let activity = app.channel_message(HALE, GP_CHANNEL, "help");
    let reply = app.send(&activity).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    app.settle().await;
    let lookups = |app: &crate::teams_app::App| {
        app.connector
            .calls()
            .iter()
            .filter(|c| c.kind == "member")
            .count()
    };
    assert!(lookups(&app) >= 1, "the member lookup is used");
    let first = lookups(&app);
    let dir = app.service.directory();
    let hale = dir.by_teams(HALE.tenant, HALE.aad).map(|p| p.id.0.clone());
    assert_eq!(hale.as_deref(), Some("dr-hale"));
    let raw = app.db.raw().await;
    assert_eq!(
        raw.texts("SELECT platform || ' ' || user_id || ' ' || email || ' ' || by_whom FROM identity_links")
            .await,
        vec![format!("teams {} jo.hale@riverside.example.org work email", HALE.aad)]
    );
    raw.close().await;

    let again = app.channel_message(HALE, GP_CHANNEL, "list");
    assert_eq!(app.send(&again).await.status, 200);
    app.settle().await;
    assert_eq!(
        lookups(&app),
        first,
        "the stored link is used, Teams is not asked again"
    );
}

#[tokio::test]
async fn a_member_without_an_email_the_directory_knows_is_still_told_who_to_ask() {
    let app = spawn_app().await;
    let activity = app.channel_message(STRANGER, GP_CHANNEL, "help");
    assert_eq!(app.send(&activity).await.status, 200);
    app.settle().await;
    let raw = app.db.raw().await;
    assert_eq!(raw.int("SELECT count(*) FROM identity_links").await, 0);
    raw.close().await;
}

#[tokio::test]
async fn added_to_a_team_the_bot_says_how_to_connect_and_removed_the_board_is_told() {
    use crate::teams_app::{APP_ID, LINDQVIST, TENANT};
    use crate::teams_connector::card_text;
    use serde_json::json;
    let app = spawn_app().await;
    let mut added = app.base_activity(
        "conversationUpdate",
        "f:added-1",
        LINDQVIST,
        json!({ "id": GP_CHANNEL, "conversationType": "channel", "isGroup": true, "tenantId": TENANT }),
    );
    added["membersAdded"] = json!([{ "id": format!("28:{APP_ID}") }]);
    added["channelData"]["eventType"] = json!("teamMemberAdded");
    added["channelData"]["team"] = json!({ "id": GP_CHANNEL });
    for _ in 0..2 {
        assert_eq!(app.send(&added).await.status, 200);
    }
    app.settle().await;
    let welcomes: Vec<String> = app
        .connector
        .threads(GP_CHANNEL)
        .into_iter()
        .flat_map(|(_, posts)| posts)
        .map(|p| card_text(&p.activity))
        .filter(|t| t.contains("@escalation-bot connect"))
        .collect();
    assert_eq!(
        welcomes.len(),
        1,
        "one welcome, saying how to connect: {welcomes:?}"
    );

    let mut removed = app.base_activity(
        "installationUpdate",
        "f:removed-1",
        LINDQVIST,
        json!({ "id": GP_CHANNEL, "conversationType": "channel", "isGroup": true, "tenantId": TENANT }),
    );
    removed["action"] = json!("remove");
    assert_eq!(app.send(&removed).await.status, 200);
    app.settle().await;
    let told: Vec<String> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.field("channel") == "C0NSABUNIT")
        .map(|c| c.field("text").to_string())
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains(&format!(
            "removed from a team or chat in the Microsoft 365 tenant {TENANT}"
        )),
        "{}",
        told[0]
    );
}

/// Every card the bot posted in a channel (its own posts and replies), as text.
fn said_in(app: &crate::teams_app::App, channel: &str) -> Vec<String> {
    app.connector
        .threads(channel)
        .into_iter()
        .flat_map(|(_, posts)| posts)
        .map(|p| crate::teams_connector::card_text(&p.activity))
        .filter(|t| !t.is_empty())
        .collect()
}

#[tokio::test]
async fn an_agency_admin_connects_a_teams_channel_by_mention_and_others_are_refused() {
    use crate::teams_app::{GP_NEW_CHANNEL, LINDQVIST, OKAFOR, TENANT};
    use escalation_bot::directory::{AgencyId, Platform};
    let app = spawn_app().await;
    let channel_of = |app: &crate::teams_app::App| {
        app.service
            .directory()
            .agency(&AgencyId("riverside-gp".into()))
            .and_then(|a| a.channels.iter().find(|c| c.platform == Platform::Teams))
            .map(|c| (c.workspace.clone(), c.channel.clone(), c.connected))
    };
    assert_eq!(
        channel_of(&app),
        Some((TENANT.to_string(), GP_CHANNEL.to_string(), false))
    );

    // A GP who is not the practice's administrator is refused and told whom to ask.
    let typed = app.channel_message(OKAFOR, GP_NEW_CHANNEL, "connect");
    assert_eq!(app.send(&typed).await.status, 200);
    app.settle().await;
    let refusals = app.replies_to(
        typed["conversation"]["id"].as_str().unwrap_or_default(),
        typed["id"].as_str().unwrap_or_default(),
    );
    assert_eq!(refusals.len(), 1, "one reply to the message");
    let text = crate::teams_connector::card_text(&refusals[0].activity);
    assert!(
        text.contains("Only an administrator of Riverside GP Practice can connect its challenges channel. Ask Dr Maria Lindqvist to type `@escalation-bot connect` in the channel to use."),
        "{text}"
    );
    assert_eq!(channel_of(&app).map(|c| c.1), Some(GP_CHANNEL.to_string()));

    // The administrator connects it: the channel's own id is recorded, not the message's.
    let typed = app.channel_message(LINDQVIST, GP_NEW_CHANNEL, "connect");
    assert_eq!(app.send(&typed).await.status, 200);
    app.settle().await;
    let answers = app.replies_to(
        typed["conversation"]["id"].as_str().unwrap_or_default(),
        typed["id"].as_str().unwrap_or_default(),
    );
    assert_eq!(answers.len(), 1);
    assert!(
        crate::teams_connector::card_text(&answers[0].activity)
            .contains("Connected: this is now Riverside GP Practice's challenges channel."),
        "{answers:?}"
    );
    assert_eq!(
        channel_of(&app),
        Some((TENANT.to_string(), GP_NEW_CHANNEL.to_string(), true))
    );
    let told: Vec<String> = said_in(&app, GP_NEW_CHANNEL)
        .into_iter()
        .filter(|t| t.contains("Riverside GP Practice's challenges are threaded in this channel"))
        .collect();
    assert_eq!(told.len(), 1, "the channel is told once: {told:?}");
    assert!(
        told[0].contains("Connected by Dr Maria Lindqvist"),
        "{}",
        told[0]
    );

    // Typed again, nothing changes.
    let again = app.channel_message(LINDQVIST, GP_NEW_CHANNEL, "connect");
    assert_eq!(app.send(&again).await.status, 200);
    app.settle().await;
    let raw = app.db.raw().await;
    assert_eq!(raw.int("SELECT count(*) FROM directory_changes").await, 1);
    raw.close().await;

    // A challenge raised with the practice now starts its thread in the connected channel.
    let reference = app
        .slack_raise("Disagreement about the discharge plan for case ASC-4471.")
        .await;
    app.settle().await;
    let (conversation, _) = app.teams_thread(&reference, TENANT, GP_NEW_CHANNEL).await;
    assert!(conversation.starts_with(GP_NEW_CHANNEL), "{conversation}");
    assert!(
        app.connector
            .threads(GP_CHANNEL)
            .iter()
            .flat_map(|(_, posts)| posts)
            .all(|p| !crate::teams_connector::card_text(&p.activity)
                .contains(&reference.to_string())),
        "nothing about it goes to the old channel"
    );
}
