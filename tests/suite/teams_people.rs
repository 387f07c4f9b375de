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
