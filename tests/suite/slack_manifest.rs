//! The Slack app manifest validates against Slack's published schema and asks only for what we use.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> Value {
    serde_norway::from_str(&read("manifests/slack/app-manifest.yaml"))
        .expect("the manifest is YAML")
}

fn strings(v: &Value) -> BTreeSet<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn the_manifest_validates_against_slacks_manifest_schema() {
    let schema: Value =
        serde_json::from_str(&read("tests/suite/schemas/slack-app-manifest.schema.json"))
            .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let instance = manifest();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the manifest breaks Slack's schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_schema_check_catches_a_broken_manifest() {
    let schema: Value =
        serde_json::from_str(&read("tests/suite/schemas/slack-app-manifest.schema.json"))
            .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for (pointer, bad) in [
        (
            "/features/slash_commands/0/command",
            Value::from("challenge"),
        ),
        ("/display_information/name", Value::from("x".repeat(36))),
        (
            "/settings/interactivity/request_url",
            Value::from("YOUR-DOMAIN/slack/interactions"),
        ),
        ("/oauth_config/scopes/bot", Value::from("chat:write")),
    ] {
        let mut broken = manifest();
        if let Some(slot) = broken.pointer_mut(pointer) {
            *slot = bad;
        }
        assert!(!validator.is_valid(&broken), "{pointer} was not caught");
    }
}

#[test]
fn the_manifest_asks_for_exactly_the_scopes_the_service_uses() {
    let m = manifest();
    assert_eq!(
        strings(&m["oauth_config"]["scopes"]["bot"]),
        BTreeSet::from([
            "commands",
            "chat:write",
            "chat:write.public",
            "im:write",
            "app_mentions:read",
            "im:history",
            "channels:history",
            "groups:history",
            "users:read",
            "users:read.email"
        ])
    );
    assert!(
        m["oauth_config"]["scopes"].get("user").is_none(),
        "no user scopes"
    );
    assert_eq!(
        strings(&m["settings"]["event_subscriptions"]["bot_events"]),
        BTreeSet::from([
            "app_mention",
            "message.im",
            "app_uninstalled",
            "tokens_revoked"
        ])
    );
    // The scopes an install asks Slack for are the manifest's.
    assert_eq!(
        strings(&m["oauth_config"]["scopes"]["bot"]),
        escalation_bot::chat::slack::install::BOT_SCOPES
            .split(',')
            .collect::<BTreeSet<_>>()
    );
}

#[test]
fn the_manifest_points_slack_at_our_three_routes_with_placeholders() {
    let m = manifest();
    assert_eq!(m["display_information"]["name"], "escalation-bot");
    let command = &m["features"]["slash_commands"][0];
    assert_eq!(command["command"], "/challenge");
    assert_eq!(command["url"], "https://YOUR-DOMAIN/slack/commands");
    assert_eq!(command["should_escape"], false);
    // The hint names every word the grammar takes.
    let hint = command["usage_hint"].as_str().unwrap_or_default();
    for word in [
        "help", "list", "board", "status", "ack", "note", "done", "delay", "escalate", "forward",
        "resolve", "confirm", "reject", "withdraw", "learning",
    ] {
        assert!(hint.contains(word), "the usage hint names {word}: {hint}");
        assert!(
            escalation_bot::posts::grammar::help("/challenge")
                .contains(&format!("/challenge {word}")),
            "{word} is in the help"
        );
    }
    assert_eq!(m["settings"]["interactivity"]["is_enabled"], true);
    assert_eq!(
        m["settings"]["interactivity"]["request_url"],
        "https://YOUR-DOMAIN/slack/interactions"
    );
    assert_eq!(
        m["settings"]["event_subscriptions"]["request_url"],
        "https://YOUR-DOMAIN/slack/events"
    );
    assert_eq!(
        m["oauth_config"]["redirect_urls"],
        serde_json::json!(["https://YOUR-DOMAIN/slack/oauth/callback"])
    );
    assert_eq!(m["settings"]["socket_mode_enabled"], false);
    assert!(m["features"]["bot_user"]["display_name"].is_string());
}
