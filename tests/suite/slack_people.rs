//! People known by their work email on Slack, and channels connected from the chat: the whole
//! app against the Slack test server, whose `users.info` shows members' emails.

use crate::slack_app::{
    ASC_CHANNEL, ASC_NEW_CHANNEL, ASC_TEAM, App, SOCIAL_WORKER, Who, spawn_app,
};
use escalation_bot::directory::AgencyId;

/// Robin Hale: in the directory by work email only, acting from the ASC channel.
const ROBIN: Who = Who {
    person: "asc-rh",
    team: ASC_TEAM,
    user: "U0ROBIN",
    channel: ASC_CHANNEL,
};
/// A member whose ASC email the directory does not list.
const NEWBIE: Who = Who {
    person: "",
    team: ASC_TEAM,
    user: "U0NEWBIE",
    channel: ASC_CHANNEL,
};
/// Martin Cole, the ASC's escalation-bot administrator, in a channel not yet connected.
const ADMIN_IN_NEW: Who = Who {
    person: "asc-od",
    team: ASC_TEAM,
    user: "U0ASCOD1",
    channel: ASC_NEW_CHANNEL,
};

fn users_info_calls(app: &App) -> usize {
    app.slack
        .calls()
        .iter()
        .filter(|c| c.method == "users.info")
        .count()
}

async fn links(app: &App) -> Vec<String> {
    let raw = app.db.raw().await;
    let rows = raw
        .texts("SELECT platform || ' ' || workspace || ' ' || user_id || ' ' || coalesce(email, '-') || ' ' || by_whom FROM identity_links ORDER BY seq")
        .await;
    raw.close().await;
    rows
}

#[tokio::test]
async fn someone_known_only_by_work_email_is_linked_the_first_time_and_remembered() {
    let app = spawn_app().await;
    let reply = app.command(ROBIN, "list").await;
    assert_eq!(reply.status, 200);
    assert!(
        !reply.text().contains("not in the escalation-bot directory"),
        "{}",
        reply.text()
    );
    assert_eq!(users_info_calls(&app), 1);
    assert_eq!(
        links(&app).await,
        vec!["slack T0ASC U0ROBIN robin.hale@asc.example.org work email"]
    );
    let person = app
        .service
        .directory()
        .by_slack(ASC_TEAM, "U0ROBIN")
        .map(|p| p.name.clone());
    assert_eq!(person.as_deref(), Some("Robin Hale"));

    let again = app.command(ROBIN, "help").await;
    assert_eq!(again.status, 200);
    assert_eq!(
        users_info_calls(&app),
        1,
        "the stored link is used, Slack is not asked again"
    );
    assert_eq!(links(&app).await.len(), 1);
}

#[tokio::test]
async fn an_email_the_directory_does_not_list_gets_its_agencys_admin_named_and_the_admin_told_once()
{
    let app = spawn_app().await;
    for _ in 0..2 {
        let reply = app.command(NEWBIE, "").await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.text(),
            "Your work email New.Starter@asc.example.org is not in the escalation-bot directory of Norfolk Adult Social Care yet, so you cannot raise or act on challenges. Martin Cole (martin.cole@asc.example.org) administers it for Norfolk Adult Social Care: ask them to add you."
        );
    }
    assert!(links(&app).await.is_empty(), "nothing is linked");
    app.settle().await;
    let told: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "chat.postMessage"
                && c.field("text").contains("New.Starter@asc.example.org")
        })
        .collect();
    assert_eq!(told.len(), 1, "the admin is told once: {told:?}");
    let opened: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "conversations.open")
        .map(|c| c.field("users").to_string())
        .collect();
    assert_eq!(opened, vec!["U0ASCOD1"], "by direct message to Martin Cole");
}

#[tokio::test]
async fn only_an_agency_admin_connects_a_channel_and_the_channel_is_told() {
    let app = spawn_app().await;
    let refused = app
        .command(
            Who {
                channel: ASC_NEW_CHANNEL,
                ..SOCIAL_WORKER
            },
            "connect",
        )
        .await;
    assert_eq!(
        refused.text(),
        "Only an administrator of Norfolk Adult Social Care can connect its challenges channel. Ask Martin Cole to type `/challenge connect` in the channel to use."
    );
    let channel_of = |app: &App| {
        app.service
            .directory()
            .agency(&AgencyId("asc".into()))
            .map(|a| a.channels[0].channel.clone())
    };
    assert_eq!(channel_of(&app).as_deref(), Some(ASC_CHANNEL));

    let done = app.command(ADMIN_IN_NEW, "connect").await;
    assert_eq!(
        done.text(),
        "Connected: this is now Norfolk Adult Social Care's challenges channel."
    );
    assert_eq!(channel_of(&app).as_deref(), Some(ASC_NEW_CHANNEL));
    let again = app.command(ADMIN_IN_NEW, "connect").await;
    assert!(again.text().contains("already"), "{}", again.text());
    app.settle().await;
    let confirmed: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.field("channel") == ASC_NEW_CHANNEL)
        .map(|c| c.field("text").to_string())
        .collect();
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    assert!(
        confirmed[0]
            .contains("Norfolk Adult Social Care's challenges are threaded in this channel")
    );
    let raw = app.db.raw().await;
    assert_eq!(raw.int("SELECT count(*) FROM directory_changes").await, 1);
    raw.close().await;
}

#[tokio::test]
async fn after_connecting_someone_linked_by_email_raises_and_the_thread_starts_in_the_connected_channel()
 {
    let app = spawn_app().await;
    app.command(ADMIN_IN_NEW, "connect").await;
    let reference = app
        .raise(ROBIN, "Disagreement about the discharge plan")
        .await;
    app.settle().await;
    let thread = app.thread(&reference, ASC_TEAM, ASC_NEW_CHANNEL).await;
    assert!(
        !thread.is_empty(),
        "the root is posted in the connected channel"
    );
    let in_old: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.field("channel") == ASC_CHANNEL)
        .collect();
    assert!(
        in_old.is_empty(),
        "nothing goes to the old channel: {in_old:?}"
    );
}

#[tokio::test]
async fn an_admin_lists_and_undoes_a_link_from_the_command_line_and_the_service_follows() {
    let app = spawn_app().await;
    app.command(ROBIN, "list").await;
    let (code, out, err) =
        crate::databases::run_cli(&["directory", "links", "--db", &app.db.url]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("slack T0ASC U0ROBIN -> robin.hale@asc.example.org (linked ")
            && out.contains("by work email)"),
        "{out}"
    );
    let (code, out, _) = crate::databases::run_cli(&[
        "directory",
        "unlink",
        "slack",
        "T0ASC",
        "U0ROBIN",
        "--by",
        "Martin Cole",
        "--db",
        &app.db.url,
    ])
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("unlinked slack T0ASC U0ROBIN from robin.hale@asc.example.org"),
        "{out}"
    );
    assert!(
        app.service
            .refresh_directory()
            .await
            .expect("the unlink is read")
    );
    assert!(
        app.service
            .directory()
            .by_slack(ASC_TEAM, "U0ROBIN")
            .is_none()
    );
    assert_eq!(
        links(&app).await.last().map(String::as_str),
        Some("slack T0ASC U0ROBIN - unlinked by Martin Cole"),
        "the undoing is recorded beside the link"
    );
    let (code, out, _) = crate::databases::run_cli(&[
        "directory",
        "unlink",
        "slack",
        "T0ASC",
        "U0ROBIN",
        "--by",
        "Martin Cole",
        "--db",
        &app.db.url,
    ])
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is not linked to anyone"), "{out}");
}

/// Someone Slack knows nothing of: not a member of the workspace the request names.
const STRANGER: Who = Who {
    person: "",
    team: ASC_TEAM,
    user: "U0SHARED9",
    channel: ASC_CHANNEL,
};

#[tokio::test]
async fn a_users_info_slack_rate_limits_says_when_to_try_again_and_records_nothing() {
    let app = spawn_app().await;
    let before = app.footprint().await;
    app.slack.limit_users_info(ASC_TEAM, 1, 12);
    let reply = app.command(ROBIN, "list").await;
    assert_eq!(reply.status, 200);
    let text = reply.text();
    assert!(
        text.contains("Slack is busy") && text.contains("try again in 12 seconds"),
        "{text}"
    );
    assert!(text.contains("Nothing was recorded"), "{text}");
    assert!(
        !text.contains("not in the escalation-bot directory"),
        "{text}"
    );
    assert!(
        links(&app).await.is_empty(),
        "no link from a failed look-up"
    );
    assert_eq!(app.footprint().await, before, "nothing recorded or queued");

    // Once Slack answers, the same person is known and linked as usual.
    let again = app.command(ROBIN, "list").await;
    assert!(
        !again.text().contains("Slack is busy") && !again.text().contains("not in the"),
        "{}",
        again.text()
    );
    assert_eq!(links(&app).await.len(), 1);
}

#[tokio::test]
async fn a_raise_form_submitted_while_users_info_is_rate_limited_keeps_what_was_typed() {
    let app = spawn_app().await;
    // Known first, so the form opens; the link is then undone, as an administrator may.
    let opened = app.command(ROBIN, "").await;
    assert_eq!(opened.status, 200, "{opened:?}");
    let view = app.last_view();
    let (code, _, err) = crate::databases::run_cli(&[
        "directory",
        "unlink",
        "slack",
        ASC_TEAM,
        "U0ROBIN",
        "--by",
        "Martin Cole",
        "--db",
        &app.db.url,
    ])
    .await;
    assert_eq!(code, Some(0), "unlink: {err}");
    app.service
        .refresh_directory()
        .await
        .expect("the directory is taken up");
    app.slack.limit_users_info(ASC_TEAM, 1, 5);
    let reply = app
        .submit(
            ROBIN,
            &view,
            &crate::slack_app::raise_inputs("Disagreement about the discharge plan"),
        )
        .await;
    assert_eq!(reply.status, 200);
    let errors = reply.json()["errors"].clone();
    let shown = errors
        .as_object()
        .and_then(|e| e.values().next())
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        shown.contains("try again in 5 seconds"),
        "the form stays open with the answer on it: {reply:?}"
    );
    // Submitted again once Slack answers: the raise is recorded.
    let reply = app
        .submit(
            ROBIN,
            &view,
            &crate::slack_app::raise_inputs("Disagreement about the discharge plan"),
        )
        .await;
    assert!(reply.json().get("errors").is_none(), "{reply:?}");
    let open = app
        .service
        .open_for(&escalation_bot::directory::PersonId("asc-rh".into()))
        .await
        .expect("open challenges");
    assert_eq!(open.len(), 1);
}

#[tokio::test]
async fn someone_slack_will_not_show_is_told_why_and_what_to_do() {
    let app = spawn_app().await;
    let before = app.footprint().await;
    let reply = app.command(STRANGER, "").await;
    assert_eq!(reply.status, 200);
    let text = reply.text();
    assert!(
        text.contains("would not show escalation-bot your profile")
            && text.contains("U0SHARED9")
            && text.contains("use /challenge in your own agency's workspace"),
        "{text}"
    );
    assert_eq!(app.footprint().await, before, "nothing recorded or queued");
}
