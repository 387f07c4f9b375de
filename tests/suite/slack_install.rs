//! Installing from Slack by OAuth v2, end to end against the Slack test server: the install
//! link, Slack's authorize page (the test server checks what the app asks for), the callback's
//! single-use state, the token kept sealed and used for posting, and an uninstall.

use crate::slack_app::{
    ASC_CHANNEL, ASC_NEW_CHANNEL, ASC_TEAM, App, BOARD_CHANNEL, Options, PUBLIC_URL, Who,
    spawn_with, unix_now,
};
use serde_json::json;

const ROBIN: Who = Who {
    person: "asc-rh",
    team: ASC_TEAM,
    user: "U0ROBIN",
    channel: ASC_CHANNEL,
};
const ADMIN_IN_NEW: Who = Who {
    person: "asc-od",
    team: ASC_TEAM,
    user: "U0ASCOD1",
    channel: ASC_NEW_CHANNEL,
};

pub async fn oauth_app() -> App {
    spawn_with(Options {
        oauth: true,
        ..Options::default()
    })
    .await
}

/// `GET` without following redirects: (status, Location, body).
pub async fn get(app: &App, path_and_query: &str) -> (u16, String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let response = client
        .get(format!("{}{path_and_query}", app.url))
        .send()
        .await
        .expect("the app answers");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, location, response.text().await.unwrap_or_default())
}

/// The install link, Slack's page allowed by an ASC admin: the callback URL Slack sends them to.
pub async fn allowed(app: &App) -> String {
    let (status, location, _) = get(app, "/slack/install").await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with(&format!("{}/oauth/v2/authorize?", app.slack.url)),
        "{location}"
    );
    app.slack
        .allow(&location, ASC_TEAM)
        .unwrap_or_else(|e| panic!("Slack refuses the authorize request: {e}"))
}

/// The callback as the admin's browser follows it to the app.
pub async fn follow(app: &App, callback: &str) -> (u16, String) {
    let path = callback
        .strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("Slack redirects to the public URL: {callback}"));
    let (status, _, body) = get(app, path).await;
    (status, body)
}

pub async fn kept_tokens(app: &App) -> Vec<String> {
    let raw = app.db.raw().await;
    let values = raw
        .texts("SELECT key || ' ' || value FROM adapter_state WHERE adapter = 'slack' AND key LIKE 'token:%'")
        .await;
    raw.close().await;
    values
}

#[tokio::test]
async fn an_install_connect_and_a_person_known_by_email_raise_into_the_connected_channel() {
    let app = oauth_app().await;
    let before = app.command(crate::slack_app::SOCIAL_WORKER, "").await;
    assert!(before.text().contains("no bot token"), "{}", before.text());

    let (status, page) = follow(&app, &allowed(&app).await).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("escalation-bot is installed to Workspace T0ASC"),
        "{page}"
    );
    assert!(
        page.contains("/challenge connect"),
        "says what to do next: {page}"
    );
    let kept = kept_tokens(&app).await;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].starts_with("token:T0ASC "));
    assert!(!kept[0].contains("xoxb"), "sealed at rest: {}", kept[0]);
    assert!(!page.contains("xoxb"), "never shown");

    let connected = app.command(ADMIN_IN_NEW, "connect").await;
    assert!(
        connected.text().starts_with("Connected"),
        "{}",
        connected.text()
    );
    let reference = app
        .raise(ROBIN, "Disagreement about the discharge plan")
        .await;
    app.settle().await;
    assert!(
        !app.thread(&reference, ASC_TEAM, ASC_NEW_CHANNEL)
            .await
            .is_empty()
    );
    // Every call into the ASC workspace carried the token the install returned.
    let asc_calls = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.team == ASC_TEAM)
        .count();
    assert!(asc_calls >= 3, "users.info, views.open, the root post");
}

#[tokio::test]
async fn a_forged_or_reused_install_state_is_refused_and_keeps_nothing() {
    let app = oauth_app().await;
    let (status, body) = follow(
        &app,
        &format!("{PUBLIC_URL}/slack/oauth/callback?code=T0ASC.forged&state=made-up"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("not one escalation-bot made"), "{body}");
    assert!(kept_tokens(&app).await.is_empty());
    assert!(
        !app.slack
            .calls()
            .iter()
            .any(|c| c.method == "oauth.v2.access"),
        "a forged state never reaches Slack"
    );

    let callback = allowed(&app).await;
    assert_eq!(follow(&app, &callback).await.0, 200);
    let (status, body) = follow(&app, &callback).await;
    assert_eq!(status, 400);
    assert!(body.contains("already used"), "{body}");

    let (status, body) = follow(
        &app,
        &format!("{PUBLIC_URL}/slack/oauth/callback?error=access_denied&state=x"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("did not install"), "{body}");
}

#[tokio::test]
async fn an_uninstall_forgets_the_token_and_tells_the_boards_channel() {
    let app = oauth_app().await;
    follow(&app, &allowed(&app).await).await;
    assert!(app.command(ROBIN, "help").await.status == 200);
    let event = json!({
        "type": "event_callback", "team_id": ASC_TEAM, "api_app_id": "A0ESCALATE",
        "event_id": "Ev0UNINSTALL", "event_time": unix_now(),
        "event": { "type": "app_uninstalled" },
    })
    .to_string();
    let reply = app.post("/slack/events", "application/json", &event).await;
    assert_eq!(reply.status, 200);
    app.settle().await;
    let kept = kept_tokens(&app).await;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].contains("\"removed\":true"), "{}", kept[0]);
    let told: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.field("channel") == BOARD_CHANNEL)
        .map(|c| c.field("text").to_string())
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains("removed from the Slack workspace T0ASC"),
        "{}",
        told[0]
    );
    let after = app.command(ROBIN, "").await;
    assert!(after.text().contains("no bot token"), "{}", after.text());
}
