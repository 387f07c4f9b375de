//! Card actions: `adaptiveCard/action` invokes are answered in the same HTTP response with the
//! exact shape Teams requires; the `Action.Submit` fallback is handled too; strangers are told
//! who to ask.

use crate::teams_app::{GP_CHANNEL, LINDQVIST, OKAFOR, STRANGER, TENANT, spawn_app};
use crate::teams_connector::card_text;
use serde_json::json;

#[tokio::test]
async fn every_invoke_gets_a_body_in_the_shape_teams_requires() {
    let app = spawn_app().await;
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    app.settle().await;
    let (conversation, root_id) = app.teams_thread(&reference, TENANT, GP_CHANNEL).await;
    let root = app
        .connector
        .conversation(&conversation)
        .into_iter()
        .find(|p| p.id == root_id)
        .expect("root");

    // A verb we do not know: an error in the invoke response shape.
    let mut unknown = app.execute(OKAFOR, &conversation, &root, "add_note", &[("note", "x")]);
    unknown["value"]["action"]["data"]["verb"] = json!("frobnicate");
    unknown["value"]["action"]["verb"] = json!("frobnicate");
    let r = app.send(&unknown).await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["type"], "application/vnd.microsoft.error");
    assert_eq!(body["value"]["code"], "NotSupported");
    assert!(body["value"]["message"].is_string());

    // An action that is not Action.Execute.
    let mut submit = unknown.clone();
    submit["value"]["action"]["type"] = json!("Action.Submit");
    let body = app.send(&submit).await.json();
    assert_eq!(
        (body["statusCode"].clone(), body["value"]["code"].clone()),
        (json!(400), json!("NotSupported"))
    );

    // Another invoke we do not handle.
    let mut other = unknown.clone();
    other["name"] = json!("task/fetch");
    let r = app.send(&other).await;
    assert_eq!(r.status, 501);
    assert_eq!(r.json()["statusCode"], 501);

    // A stranger presses a button: told who to ask, as a message; nothing recorded.
    let before = app.footprint().await;
    let stranger = app.execute(
        STRANGER,
        &conversation,
        &root,
        "add_note",
        &[("note", "I was not asked.")],
    );
    let body = app.send(&stranger).await.json();
    assert_eq!(body["statusCode"], 200);
    assert_eq!(body["type"], "application/vnd.microsoft.activity.message");
    assert!(
        body["value"]
            .as_str()
            .is_some_and(|t| t.contains("not in the escalation-bot directory")
                && t.contains("administrator")),
        "{body}"
    );
    assert_eq!(app.footprint().await, before);

    // A note with nothing in it: the form comes back on the card, with the error on its input.
    let empty = app.execute(
        OKAFOR,
        &conversation,
        &root,
        "add_note",
        &[("how", "phone")],
    );
    let body = app.send(&empty).await.json();
    assert_eq!(body["type"], "application/vnd.microsoft.card.adaptive");
    let card = body["value"].to_string();
    assert!(
        card.contains("Write what was discussed and what was agreed.")
            && card.contains("add_note.note"),
        "{card}"
    );
    let how = body["value"]["body"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["id"] == "add_note.how")
        .cloned()
        .unwrap_or_default();
    assert_eq!(how["value"], "phone", "input kept");
    // Submitted from that error card, it is recorded and the root card comes back.
    let fixed = app.execute(
        OKAFOR,
        &conversation,
        &root,
        "add_note",
        &[("note", "Phoned Sam."), ("how", "phone")],
    );
    let body = app.send(&fixed).await.json();
    assert!(
        body["value"]
            .to_string()
            .contains(&format!("{reference} · Stage 1 of 4"))
    );
    assert_eq!(app.count(&reference, "note_added").await, 1);
}

#[tokio::test]
async fn pressing_acknowledge_twice_is_answered_with_the_cores_words_and_recorded_once() {
    let app = spawn_app().await;
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
    let (conversation, root_id) = app.teams_thread(&reference, TENANT, GP_CHANNEL).await;
    let root = app
        .connector
        .conversation(&conversation)
        .into_iter()
        .find(|p| p.id == root_id)
        .expect("root");
    let first = app
        .send(&app.execute(LINDQVIST, &conversation, &root, "acknowledge", &[]))
        .await
        .json();
    let second = app
        .send(&app.execute(LINDQVIST, &conversation, &root, "acknowledge", &[]))
        .await
        .json();
    // The first press replaces the card; the second is answered with what the core says of
    // it, the same words Slack and the sandbox give, and the card is left as it is.
    assert_eq!(second["statusCode"], 200);
    assert_eq!(second["type"], "application/vnd.microsoft.activity.message");
    assert!(
        second["value"]
            .as_str()
            .is_some_and(|t| t.starts_with("You acknowledged stage")
                && t.ends_with("nothing more is needed.")),
        "{second}"
    );
    assert_eq!(first["statusCode"], 200);
    assert_eq!(first["type"], "application/vnd.microsoft.card.adaptive");
    assert!(
        first["value"].to_string().contains("Acknowledged by"),
        "{first}"
    );
    assert_eq!(app.count(&reference, "acknowledged").await, 1);
    // The same invoke delivered again (same activity id): answered, recorded once.
    let ack = app.execute(LINDQVIST, &conversation, &root, "acknowledge", &[]);
    assert_eq!(app.send(&ack).await.json()["statusCode"], 200);
    assert_eq!(app.send(&ack).await.json()["statusCode"], 200);
    assert_eq!(app.count(&reference, "acknowledged").await, 1);
}

#[tokio::test]
async fn the_action_submit_fallback_records_the_action_and_answers_problems_in_a_reply() {
    let app = spawn_app().await;
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    app.settle().await;
    let (conversation, root_id) = app.teams_thread(&reference, TENANT, GP_CHANNEL).await;
    let root = app
        .connector
        .conversation(&conversation)
        .into_iter()
        .find(|p| p.id == root_id)
        .expect("root");

    let empty = app.submit(OKAFOR, &conversation, &root, "add_note", &[]);
    let r = app.send(&empty).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, ""),
        "a message gets no body"
    );
    app.settle().await;
    let replies: Vec<String> = app
        .replies_to(&conversation, &root_id)
        .iter()
        .map(|p| card_text(&p.activity))
        .collect();
    assert!(
        replies.iter().any(|t| t.contains("Please check the form")),
        "{replies:?}"
    );
    assert_eq!(app.count(&reference, "note_added").await, 0);

    let note = app.submit(
        OKAFOR,
        &conversation,
        &root,
        "add_note",
        &[("note", "Phoned Sam; agreed to meet.")],
    );
    app.send(&note).await;
    app.send(&note).await;
    app.settle().await;
    assert_eq!(
        app.count(&reference, "note_added").await,
        1,
        "recorded once"
    );
    let thread = app.connector.conversation(&conversation);
    let texts: Vec<String> = thread.iter().map(|p| card_text(&p.activity)).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Note from Dr Ade Okafor (GP, Riverside GP Practice)")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&format!("Recorded on {reference}"))),
        "a receipt in reply: {texts:?}"
    );
}

#[tokio::test]
async fn a_teams_user_the_directory_does_not_know_is_told_who_to_ask() {
    let app = spawn_app().await;
    let typed = app.channel_message(STRANGER, GP_CHANNEL, "challenge");
    let conversation = typed["conversation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = typed["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(app.send(&typed).await.status, 200);
    app.settle().await;
    let replies = app.replies_to(&conversation, &id);
    assert_eq!(replies.len(), 1);
    let text = card_text(&replies[0].activity);
    assert!(
        text.contains("not in the escalation-bot directory yet") && text.contains("administrator"),
        "{text}"
    );
    assert!(
        text.contains(STRANGER.aad) && text.contains(TENANT),
        "names what the administrator needs: {text}"
    );
}

#[tokio::test]
async fn the_new_actions_work_from_cards_and_typed_commands_in_teams() {
    let app = spawn_app().await;
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    app.settle().await;
    let (conversation, root_id) = app.teams_thread(&reference, TENANT, GP_CHANNEL).await;
    let root = app
        .connector
        .conversation(&conversation)
        .into_iter()
        .find(|p| p.id == root_id)
        .expect("root");

    // Bring the deadline forward from the root card's form (Action.Execute), date and time apart.
    let forward = app.execute(
        OKAFOR,
        &conversation,
        &root,
        "bring_deadline_forward",
        &[
            ("due.date", "2026-06-03"),
            ("due.time", "12:00"),
            ("reason", "The adult has no carers from Wednesday."),
        ],
    );
    let body = app.send(&forward).await.json();
    assert_eq!(
        body["type"], "application/vnd.microsoft.card.adaptive",
        "{body}"
    );
    assert!(
        body["value"].to_string().contains("Due Wed 3 Jun, 12:00"),
        "the fresh root card shows the new deadline: {body}"
    );
    assert_eq!(app.count(&reference, "deadline_brought_forward").await, 1);

    // A step typed where the stage names none is explained in a reply.
    let typed = app.channel_message(OKAFOR, GP_CHANNEL, &format!("done {reference} review"));
    let typed_id = typed["id"].as_str().unwrap_or_default().to_string();
    let typed_conversation = typed["conversation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(app.send(&typed).await.status, 200);
    app.settle().await;
    let replies = app.replies_to(&typed_conversation, &typed_id);
    assert_eq!(replies.len(), 1);
    assert!(card_text(&replies[0].activity).contains("no named steps"));

    // Past the deadline, the reason for delay is typed; then learning is referred.
    app.advance(chrono::Duration::days(3));
    for text in [
        format!("delay {reference} The practice was closed for training."),
        format!("learning {reference} Discharge plans should reach the GP the same day."),
    ] {
        let typed = app.channel_message(OKAFOR, GP_CHANNEL, &text);
        assert_eq!(app.send(&typed).await.status, 200, "{text}");
    }
    app.settle().await;
    assert_eq!(app.count(&reference, "delay_reason_recorded").await, 1);
    assert_eq!(app.count(&reference, "learning_referred").await, 1);
    assert_eq!(app.count(&reference, "escalated").await, 0);
}

/// The Board view button (`Action.Execute` with the command it stands for) is answered as typing
/// `board` is: the link by direct message for someone who may see the Board's view, and the
/// typed word's refusal for anyone else.
#[tokio::test]
async fn the_board_view_button_sends_the_sign_in_link_like_the_typed_word() {
    let app = spawn_app().await;
    let press = |user, id: &str| {
        let mut a = app.base_activity(
            "invoke",
            id,
            user,
            json!({ "id": GP_CHANNEL, "conversationType": "channel", "tenantId": TENANT }),
        );
        let data = json!({ "verb": "command", "command": "board", "card": "notice" });
        a["name"] = json!("adaptiveCard/action");
        a["value"] = json!({ "action": { "type": "Action.Execute", "verb": "command", "data": data }, "trigger": "manual" });
        a
    };
    let body = app.send(&press(LINDQVIST, "f:board1")).await.json();
    assert_eq!(body["statusCode"], 200, "{body}");
    assert!(
        body["value"]
            .as_str()
            .is_some_and(|t| t.contains("has been sent to you by direct message")),
        "{body}"
    );
    app.settle().await;
    let chat = app
        .connector
        .personal(TENANT, LINDQVIST.id)
        .expect("a 1:1 chat with the safeguarding lead");
    assert!(
        app.connector
            .conversation(&chat)
            .iter()
            .any(|p| p.activity.to_string().contains("/board/sign-in?token=")),
        "the sign-in link reached the 1:1 chat"
    );

    let body = app.send(&press(OKAFOR, "f:board2")).await.json();
    assert!(
        body["value"]
            .as_str()
            .is_some_and(|t| t.contains("for a board's business unit and chair")),
        "{body}"
    );
}
