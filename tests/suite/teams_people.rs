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
    assert_eq!(lookups(&app), first, "the stored link is used, Teams is not asked again");
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
