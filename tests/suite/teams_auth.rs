//! Teams requests are authenticated before they are believed: a Bot Connector JWT signed with a
//! published key, for our app id, from the Bot Framework, current, for this serviceUrl, with a
//! key endorsed for Teams. Every way to be wrong is refused and leaves no trace.

use crate::teams_app::{APP_ID, KEYS, OKAFOR, spawn_app};
use escalation_bot::chat::teams::standin;
use serde_json::json;

#[tokio::test]
async fn a_valid_token_is_accepted_and_every_way_to_be_wrong_is_refused_without_side_effects() {
    let app = spawn_app().await;
    let service_url = app.connector.service_url();
    let good = standin::claims(APP_ID, &service_url, 3600);
    let with = |key: &str, value: serde_json::Value| {
        let mut c = good.clone();
        c[key] = value;
        c
    };
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, Option<String>, u16)> = vec![
        ("no Authorization header", None, 401),
        ("not a bearer token", Some("Basic dXNlcjpwYXNz".into()), 401),
        (
            "a token that is not a JWT",
            Some("Bearer not.a.jwt".into()),
            401,
        ),
        (
            "a bad signature (a forged key claiming the published kid)",
            Some(format!("Bearer {}", KEYS.forged.sign(&good))),
            401,
        ),
        (
            "the wrong audience",
            Some(format!(
                "Bearer {}",
                KEYS.current
                    .sign(&with("aud", json!("00000000-0000-0000-0000-000000000000")))
            )),
            401,
        ),
        (
            "expired beyond the five minutes of skew",
            Some(format!(
                "Bearer {}",
                KEYS.current.sign(&with("exp", json!(now - 360)))
            )),
            401,
        ),
        (
            "not yet valid beyond the skew",
            Some(format!(
                "Bearer {}",
                KEYS.current.sign(&with("nbf", json!(now + 600)))
            )),
            401,
        ),
        (
            "the wrong issuer",
            Some(format!(
                "Bearer {}",
                KEYS.current
                    .sign(&with("iss", json!("https://sts.windows.net/evil/")))
            )),
            401,
        ),
        (
            "a serviceurl claim for another Connector",
            Some(format!(
                "Bearer {}",
                KEYS.current.sign(&with(
                    "serviceurl",
                    json!("https://smba.evil.example/teams/")
                ))
            )),
            401,
        ),
        (
            "a key endorsed for Web Chat, not Teams",
            Some(format!("Bearer {}", KEYS.webchat.sign(&good))),
            403,
        ),
        (
            "a key id the JWKS does not have",
            Some(format!("Bearer {}", KEYS.rotated.sign(&good))),
            401,
        ),
        (
            "an unsigned token (alg none)",
            Some(format!(
                "Bearer {}",
                KEYS.current
                    .sign_with_header(&json!({ "alg": "none", "kid": "key-current" }), &good)
            )),
            401,
        ),
    ];
    let before = app.footprint().await;
    for (why, authorization, status) in cases {
        let activity = app.channel_message(OKAFOR, crate::teams_app::GP_CHANNEL, "help");
        let reply = app.send_with(&activity, authorization).await;
        assert_eq!(reply.status, status, "{why}: {reply:?}");
    }
    app.settle().await;
    assert_eq!(
        app.footprint().await,
        before,
        "refused requests record nothing and queue nothing"
    );
    assert!(app.connector.calls().is_empty(), "and post nothing");

    let activity = app.channel_message(OKAFOR, crate::teams_app::GP_CHANNEL, "help");
    let reply = app.send(&activity).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    app.settle().await;
    let (_, outbox, _) = app.footprint().await;
    assert_eq!(
        outbox,
        before.1 + 1,
        "the valid request queues its help reply"
    );
}

#[tokio::test]
async fn a_token_for_a_serviceurl_other_than_the_activitys_is_refused() {
    let app = spawn_app().await;
    let mut activity = app.channel_message(OKAFOR, crate::teams_app::GP_CHANNEL, "help");
    activity["serviceUrl"] = json!("https://smba.trafficmanager.net/emea/");
    let reply = app.send(&activity).await;
    assert_eq!(reply.status, 401, "{reply:?}");
}

#[tokio::test]
async fn an_unknown_key_id_makes_one_refresh_of_the_signing_keys_and_a_rotated_key_is_then_accepted()
 {
    let app = spawn_app().await;
    let help = |app: &crate::teams_app::App| {
        app.channel_message(OKAFOR, crate::teams_app::GP_CHANNEL, "help")
    };
    assert_eq!(app.send(&help(&app)).await.status, 200);
    assert_eq!(
        app.openid.jwks_fetches(),
        1,
        "the keys are fetched once, at first use"
    );
    assert_eq!(app.send(&help(&app)).await.status, 200);
    assert_eq!(
        app.openid.jwks_fetches(),
        1,
        "and then served from the cache"
    );

    // Microsoft rotates: the new key is published, and the first token signed with it arrives.
    app.openid.set_keys(vec![
        KEYS.current.jwk(),
        KEYS.rotated.jwk(),
        KEYS.webchat.jwk(),
    ]);
    let claims = standin::claims(APP_ID, &app.connector.service_url(), 3600);
    let rotated = format!("Bearer {}", KEYS.rotated.sign(&claims));
    let reply = app.send_with(&help(&app), Some(rotated.clone())).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        app.openid.jwks_fetches(),
        2,
        "exactly one refresh for the unknown kid"
    );
    assert_eq!(app.send_with(&help(&app), Some(rotated)).await.status, 200);
    assert_eq!(
        app.openid.jwks_fetches(),
        2,
        "the rotated key is now cached"
    );

    // A made-up kid right after: refused, and it cannot make us fetch again at once.
    let stranger =
        escalation_bot::chat::teams::standin::SigningKey::generate("made-up").expect("a key");
    let reply = app
        .send_with(
            &help(&app),
            Some(format!("Bearer {}", stranger.sign(&claims))),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(app.openid.jwks_fetches(), 2, "forged kids are rate-limited");
}

#[tokio::test]
async fn a_token_for_one_tenants_bot_is_accepted_only_for_that_bots_app_id() {
    let app = spawn_app().await;
    // The police bot's token on an activity to the police bot: accepted.
    let activity = app.personal_message(crate::teams_app::EVANS, "help");
    assert_eq!(app.send(&activity).await.status, 200);
    // A token for an app id this deployment does not serve: refused.
    let claims = standin::claims(
        "11111111-2222-3333-4444-555555555555",
        &app.connector.service_url(),
        3600,
    );
    let reply = app
        .send_with(
            &activity,
            Some(format!("Bearer {}", KEYS.current.sign(&claims))),
        )
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn a_token_for_one_tenants_bot_is_refused_on_an_activity_from_another_tenant() {
    let app = spawn_app().await;
    // Evans is in the police tenant; the token is genuine but issued for the Riverside bot.
    let activity = app.personal_message(crate::teams_app::EVANS, "status NSAB-2026-0001");
    let riverside = standin::claims(crate::teams_app::APP_ID, &app.connector.service_url(), 3600);
    let reply = app
        .send_with(
            &activity,
            Some(format!("Bearer {}", KEYS.current.sign(&riverside))),
        )
        .await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        escalation_bot::chat::teams::known::KnownAddresses::of(&app.service)
            .user_id(crate::teams_app::POLICE_TENANT, crate::teams_app::EVANS.aad)
            .await
            .expect("reads"),
        None,
        "nothing is stored from an activity refused for its tenant"
    );
    // The police bot's own token is accepted for the same activity.
    assert_eq!(app.send(&activity).await.status, 200);
}

#[tokio::test]
async fn nothing_is_stored_for_someone_the_directory_does_not_know() {
    let app = spawn_app().await;
    let activity = app.personal_message(crate::teams_app::STRANGER, "help");
    assert_eq!(app.send(&activity).await.status, 200);
    assert_eq!(
        escalation_bot::chat::teams::known::KnownAddresses::of(&app.service)
            .user_id(crate::teams_app::TENANT, crate::teams_app::STRANGER.aad)
            .await
            .expect("reads"),
        None,
        "a stranger's Teams id is not recorded"
    );
    let known = app.personal_message(crate::teams_app::OKAFOR, "help");
    assert_eq!(app.send(&known).await.status, 200);
    assert_eq!(
        escalation_bot::chat::teams::known::KnownAddresses::of(&app.service)
            .user_id(crate::teams_app::TENANT, crate::teams_app::OKAFOR.aad)
            .await
            .expect("reads")
            .as_deref(),
        Some(crate::teams_app::OKAFOR.id),
        "a known person's Teams id is recorded"
    );
}
