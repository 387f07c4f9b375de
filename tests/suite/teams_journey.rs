//! Journeys through Teams: journey 1 between Norfolk ASC on Slack and Riverside GP on Teams,
//! with a thread in each and every update in both, in order; and a challenge raised from the
//! Teams card form.

use crate::teams_app::{self, App, GP_CHANNEL, LINDQVIST, OKAFOR, TENANT, last, spawn_app};
use crate::teams_connector::{Posted, card_text};
use escalation_bot::escalation::Reference;
use serde_json::Value;

/// What a thread reply is about, from its words: the same for a Slack text and a Teams card.
fn kind_of(text: &str) -> &'static str {
    if text.contains("Resolution confirmed") {
        "confirmed"
    } else if text.contains("proposed a resolution") {
        "proposed"
    } else if text.contains("Acknowledged by") {
        "acknowledged"
    } else if text.contains("escalated to stage") {
        "escalated"
    } else if text.contains("Note from") {
        "note"
    } else {
        "other"
    }
}

/// The kinds of update a reply shows: one, or one per note where notes share a reply.
fn kinds_of(text: &str) -> Vec<&'static str> {
    match kind_of(text) {
        "note" => vec!["note"; text.matches("Note from").count()],
        kind => vec![kind],
    }
}

/// The Teams thread of a dispute: its conversation, the root as it stands, and the replies.
async fn teams_thread(app: &App, reference: &Reference) -> (String, Posted, Vec<Posted>) {
    let (conversation, root) = app.teams_thread(reference, TENANT, GP_CHANNEL).await;
    let activities = app.connector.conversation(&conversation);
    let root_post = activities
        .iter()
        .find(|p| p.id == root)
        .cloned()
        .expect("the root is in the thread");
    let replies = activities
        .into_iter()
        .filter(|p| p.reply_to.as_deref() == Some(root.as_str()))
        .collect();
    (conversation, root_post, replies)
}

/// The text of an invoke answered with a message instead of a card.
fn invoke_message(reply: &teams_app::Reply) -> String {
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(
        body["type"], "application/vnd.microsoft.activity.message",
        "{body:#}"
    );
    body["value"].as_str().unwrap_or_default().to_string()
}

fn invoke_card(reply: &teams_app::Reply) -> Value {
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["statusCode"], 200, "{body:#}");
    assert_eq!(
        body["type"], "application/vnd.microsoft.card.adaptive",
        "{body:#}"
    );
    let problems = crate::teams_connector::card_problems(&body["value"]);
    assert!(
        problems.is_empty(),
        "the answered card is valid: {problems:?}"
    );
    body["value"].clone()
}

#[tokio::test]
async fn journey_one_has_a_thread_in_slack_and_in_teams_with_every_update_in_both_in_order() {
    let app = spawn_app().await;
    // Mon 1 June, 09:40: Sam raises in Slack.
    let reference = app.slack_raise("Decision not to refer for a mental capacity assessment after the hospital discharge; adult lives alone, reference ASC-4471").await;
    app.settle().await;
    let (conversation, root, replies) = teams_thread(&app, &reference).await;
    let root_text = card_text(&root.activity);
    assert!(
        root_text.contains(&format!("{reference} · Stage 1 of 4")),
        "{root_text}"
    );
    assert!(root_text.contains("Due Mon 8 Jun, 17:00"), "{root_text}");
    assert!(
        root_text.contains("Social Worker / Occupational Therapist, Norfolk Adult Social Care"),
        "{root_text}"
    );
    assert!(replies.is_empty());
    let (_, slack_replies) = app.slack_thread(&reference).await;
    assert!(slack_replies.is_empty());

    // Tue: Dr Okafor adds a note from the Teams card.
    app.advance(chrono::Duration::hours(24));
    let note = app.execute(
        OKAFOR,
        &conversation,
        &root,
        "add_note",
        &[
            (
                "note",
                "Spoke with Sam by phone; will review the discharge summary.",
            ),
            ("how", "phone"),
        ],
    );
    let card = invoke_card(&app.send(&note).await);
    assert!(
        card.to_string()
            .contains(&format!("{reference} · Stage 1 of 4")),
        "the root card replaces the card pressed"
    );
    // Sam adds a note in Slack.
    assert_eq!(
        app.slack_command(
            "U0ASCSW1",
            &format!("note {reference} Met the practice; no agreement yet.")
        )
        .await
        .status,
        200
    );
    app.settle().await;

    // Fri 15:00: Sam escalates.
    app.advance(chrono::Duration::hours(78));
    let r = app
        .slack_command(
            "U0ASCSW1",
            &format!("escalate {reference} discussed twice, no agreement on capacity concerns"),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    app.settle().await;
    let (_, root, replies) = teams_thread(&app, &reference).await;
    let root_text = card_text(&root.activity);
    assert!(
        root_text.contains("Stage 2 of 4"),
        "the root card is updated in place: {root_text}"
    );
    let escalated = replies
        .last()
        .cloned()
        .expect("the escalation is in the Teams thread");
    let text = card_text(&escalated.activity);
    assert!(text.contains("escalated to stage 2"), "{text}");
    assert!(
        text.contains("<at>Dr Maria Lindqvist</at>"),
        "the GP lead is mentioned: {text}"
    );
    let entities = &escalated.activity["attachments"][0]["content"]["msteams"]["entities"];
    assert_eq!(entities[0]["mentioned"]["id"], LINDQVIST.aad);
    // The GP lead is also asked by direct message, in a 1:1 chat the bot opened.
    let dm = app
        .connector
        .personal(TENANT, LINDQVIST.id)
        .expect("a 1:1 chat with the GP lead");
    let dms = app.connector.conversation(&dm);
    assert!(
        dms.iter()
            .any(|p| card_text(&p.activity).contains("You are asked to take over")),
        "{dms:?}"
    );

    // The team manager acknowledges in Slack; the GP lead from the Teams root card.
    assert_eq!(
        app.slack_command("U0ASCTM1", &format!("ack {reference}"))
            .await
            .status,
        200
    );
    app.settle().await;
    let (_, root, _) = teams_thread(&app, &reference).await;
    let ack = app.execute(LINDQVIST, &conversation, &root, "acknowledge", &[]);
    let card = invoke_card(&app.send(&ack).await);
    assert!(
        card.to_string()
            .contains("Acknowledged by Safeguarding Lead GP, Riverside GP Practice")
            || card.to_string().contains("Acknowledged by"),
        "{card}"
    );
    app.settle().await;

    // Wed: the GP lead proposes a resolution from the card; the team manager confirms in Slack.
    app.advance(chrono::Duration::hours(24 * 5));
    let (_, root, _) = teams_thread(&app, &reference).await;
    let propose = app.execute(
        LINDQVIST,
        &conversation,
        &root,
        "propose_resolution",
        &[
            (
                "rationale",
                "Capacity concerns are shared after the second review.",
            ),
            ("outcome", "Joint capacity assessment on Friday."),
            (
                "outstanding",
                "Discharge-summary sharing, pursued via the practice manager.",
            ),
        ],
    );
    invoke_card(&app.send(&propose).await);
    app.settle().await;
    assert_eq!(
        app.slack_command("U0ASCTM1", &format!("confirm {reference}"))
            .await
            .status,
        200
    );
    app.settle().await;

    let (_, root, replies) = teams_thread(&app, &reference).await;
    let teams_kinds: Vec<&str> = replies
        .iter()
        .flat_map(|p| kinds_of(p.activity["summary"].as_str().unwrap_or_default()))
        .filter(|k| *k != "other")
        .collect();
    let (_, slack_replies) = app.slack_thread(&reference).await;
    let slack_kinds: Vec<&str> = slack_replies
        .iter()
        .flat_map(|t| kinds_of(t))
        .filter(|k| *k != "other")
        .collect();
    let expected = [
        "note",
        "note",
        "escalated",
        "acknowledged",
        "acknowledged",
        "proposed",
        "confirmed",
    ];
    assert_eq!(
        teams_kinds, expected,
        "every update in the Teams thread, in order"
    );
    assert_eq!(
        slack_kinds, expected,
        "every update in the Slack thread, in order"
    );
    assert!(
        card_text(&root.activity).contains("Resolved"),
        "both roots close: {}",
        card_text(&root.activity)
    );
    let report = app
        .db
        .open()
        .await
        .verify()
        .await
        .expect("the record verifies");
    assert!(report.broken.is_none());
    let refused: Vec<(u16, String)> = app
        .connector
        .refused()
        .into_iter()
        .filter(|(s, _)| *s != 429)
        .collect();
    assert!(
        refused.is_empty(),
        "the Connector refused nothing but bursts over its rate: {refused:?}"
    );
    assert_eq!(
        app.connector.token_requests(),
        1,
        "one token for the Riverside bot, cached"
    );
}

#[tokio::test]
async fn a_gp_raises_from_the_teams_card_form_which_keeps_their_input_while_they_fix_it() {
    let app = spawn_app().await;
    let typed = app.channel_message(OKAFOR, GP_CHANNEL, "challenge");
    let conversation = typed["conversation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let message_id = typed["id"].as_str().unwrap_or_default().to_string();
    let r = app.send(&typed).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, ""),
        "acknowledged at once, with no body"
    );
    assert!(r.elapsed < std::time::Duration::from_secs(2), "{r:?}");
    app.settle().await;
    let form = last(&app.replies_to(&conversation, &message_id));
    let text = card_text(&form.activity);
    assert!(
        text.contains("Raise a challenge") && text.contains("PiPoT"),
        "{text}"
    );

    // Summary missing: the form comes back with the error, and what was typed is kept.
    let partial = [
        ("receiving_agency", "asc"),
        ("concerns", "adult"),
        ("category", "outcomes-of-assessments"),
        ("desired_outcome", "A joint capacity assessment."),
        ("case_reference", "GP-2231"),
        ("immediate_risk", "no"),
    ];
    let card = invoke_card(
        &app.send(&app.execute(OKAFOR, &conversation, &form, "raise", &partial))
            .await,
    );
    let body = card["body"].as_array().cloned().unwrap_or_default();
    let case = body
        .iter()
        .find(|b| b["id"] == "raise.case_reference")
        .cloned()
        .unwrap_or_default();
    assert_eq!(case["value"], "GP-2231", "input kept");
    assert!(
        card.to_string().contains("Say what the disagreement is."),
        "each empty field says what to do: {card}"
    );

    // Identifiable detail in the summary: refused by the screen, shown on the summary input.
    let mut with_nhs = partial.to_vec();
    with_nhs.push((
        "summary",
        "Patient NHS number 943 476 5919 was discharged without assessment.",
    ));
    let card = invoke_card(
        &app.send(&app.execute(OKAFOR, &conversation, &form, "raise", &with_nhs))
            .await,
    );
    assert!(card.to_string().contains("NHS number"), "{card}");
    let summary = card["body"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["id"] == "raise.summary")
        .cloned()
        .unwrap_or_default();
    assert!(
        summary["value"]
            .as_str()
            .is_some_and(|v| v.contains("943 476 5919")),
        "kept for the person to edit"
    );
    assert_eq!(
        app.service
            .open_for(&escalation_bot::directory::PersonId(
                "dr-okafor".to_string()
            ))
            .await
            .expect("list")
            .len(),
        0,
        "nothing stored"
    );

    // Fixed: raised; the card becomes the receipt.
    let mut good = partial.to_vec();
    good.push((
        "summary",
        "Disagreement about the social care assessment after discharge.",
    ));
    let submit = app.execute(OKAFOR, &conversation, &form, "raise", &good);
    let card = invoke_card(&app.send(&submit).await);
    let reference = Reference::parse("NSAB-2026-0001").expect("a reference");
    assert!(card.to_string().contains("NSAB-2026-0001 raised"), "{card}");
    // Teams delivers the same invoke again, and the same form is submitted again: nothing new.
    let again = invoke_message(&app.send(&submit).await);
    assert!(
        again.contains("Already recorded: you raised NSAB-2026-0001"),
        "{again}"
    );
    let resubmit = app.execute(OKAFOR, &conversation, &form, "raise", &good);
    invoke_message(&app.send(&resubmit).await);
    assert_eq!(app.count(&reference, "raised").await, 1);
    assert_eq!(
        app.service
            .open_for(&escalation_bot::directory::PersonId(
                OKAFOR.person.to_string()
            ))
            .await
            .expect("list")
            .len(),
        1
    );

    app.settle().await;
    let (thread, root) = app.teams_thread(&reference, TENANT, GP_CHANNEL).await;
    assert!(thread.starts_with(GP_CHANNEL) && thread.ends_with(&root));
    assert_eq!(
        app.connector.threads(GP_CHANNEL).len(),
        2,
        "the GP's own message, and the dispute's thread"
    );
    let (_, slack) = app.slack_thread(&reference).await;
    assert!(
        slack.is_empty(),
        "a Slack thread exists too, with no replies yet"
    );
    assert_eq!(
        escalation_bot::chat::teams::known::KnownAddresses::of(&app.service)
            .service_url(TENANT)
            .await
            .expect("read"),
        Some(app.connector.service_url()),
        "the tenant's serviceUrl is kept from its activities"
    );
}

#[tokio::test]
async fn status_list_and_help_are_answered_as_replies_in_the_personal_chat() {
    let app = spawn_app().await;
    let reference = app
        .slack_raise("Disagreement about a discharge plan for case ASC-4471.")
        .await;
    for (text, expect) in [
        ("help", "@escalation-bot note REF"),
        (&format!("status {reference}") as &str, "Stage 1 of 4"),
        ("list", reference.to_string().as_str()),
        ("frobnicate", "is not a command escalation-bot knows"),
    ] {
        let typed = app.personal_message(OKAFOR, text);
        let conversation = typed["conversation"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = typed["id"].as_str().unwrap_or_default().to_string();
        assert_eq!(app.send(&typed).await.status, 200);
        app.settle().await;
        let replies = app.replies_to(&conversation, &id);
        assert_eq!(replies.len(), 1, "{text}: one reply");
        let shown = card_text(&replies[0].activity);
        assert!(shown.contains(expect), "{text}: {shown}");
    }
}

/// A raise form card in a channel can be filled in by anyone who sees it: a colleague sending
/// the same card raises their own challenge instead of being taken for a retry and losing it.
#[tokio::test]
async fn a_colleague_sending_the_same_raise_form_card_raises_their_own_challenge() {
    let app = spawn_app().await;
    let typed = app.channel_message(OKAFOR, GP_CHANNEL, "challenge");
    let conversation = typed["conversation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let message_id = typed["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(app.send(&typed).await.status, 200);
    app.settle().await;
    let form = last(&app.replies_to(&conversation, &message_id));
    let filled = [
        ("receiving_agency", "asc"),
        ("concerns", "adult"),
        ("category", "outcomes-of-assessments"),
        (
            "summary",
            "Disagreement about the social care assessment after discharge.",
        ),
        ("desired_outcome", "A joint capacity assessment."),
        ("case_reference", "GP-2231"),
        ("immediate_risk", "no"),
    ];
    let first = invoke_card(
        &app.send(&app.execute(OKAFOR, &conversation, &form, "raise", &filled))
            .await,
    );
    assert!(
        first.to_string().contains("NSAB-2026-0001 raised"),
        "{first}"
    );
    let second = invoke_card(
        &app.send(&app.execute(LINDQVIST, &conversation, &form, "raise", &filled))
            .await,
    );
    assert!(
        second.to_string().contains("NSAB-2026-0002 raised"),
        "the colleague's challenge is recorded as their own: {second}"
    );
    // The same person sending the same card again is a retry, and is told it is already recorded.
    let again = invoke_message(
        &app.send(&app.execute(LINDQVIST, &conversation, &form, "raise", &filled))
            .await,
    );
    assert!(
        again.contains("Already recorded: you raised NSAB-2026-0002"),
        "{again}"
    );
    for reference in ["NSAB-2026-0001", "NSAB-2026-0002"] {
        let reference = Reference::parse(reference).expect("a reference");
        assert_eq!(app.count(&reference, "raised").await, 1);
    }
}
