//! Teams cards as Teams people see them: every kind of card the service sends, drawn by
//! Microsoft's own Adaptive Cards renderer (the `adaptivecards` npm package, installed from
//! `tests/teams-render/` into `target/teams-render/` by `.ci/run`) in headless Chromium, at a
//! channel's width (560 px) and a phone's (360 px), with text full of Markdown characters,
//! brackets and emoji. Teams reads `TextBlock`s as Markdown and swaps the `<at>` tags of the
//! card's mention entities for names; the page does the same with `markdown-it`, so a card
//! fails here if typed text does not show exactly as typed, a backslash or an `<at>` tag shows,
//! a mention would not resolve, an action title is cut short, the card is wider than the
//! screen, or the renderer or the published schema reject it. Screenshots of every card at both
//! widths go to `target/test-artefacts/teams-cards/`.

use crate::browser::{browser, connect, start_driver};
use crate::helpers::{Case, at, cast, fixture};
use chrono::{DateTime, Utc};
use escalation_bot::chat::teams::cards;
use escalation_bot::chat::teams::forms::{CardKind, form_card};
use escalation_bot::directory::{Directory, PersonId};
use escalation_bot::escalation::{Command, Event, EventBody, RaiseDetails};
use escalation_bot::posts::compose::{self, Scene};
use escalation_bot::posts::forms::{FieldKind, FormErrors, Values};
use escalation_bot::posts::{Message, MessageKind};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The widths a card must fit: a Teams channel's message column, and a phone.
const WIDTHS: [u32; 2] = [560, 360];

/// The renderer's version, as `tests/teams-render/package.json` pins it.
const ADAPTIVECARDS_VERSION: &str = "3.0.6";

/// What people type, at its worst: Markdown of every kind, a link, a typed mention tag, a date
/// function, HTML, an entity, backslashes, brackets, a line break and emoji.
const SUMMARY: &str = "Capacity *not* assessed_before discharge [see notes](https://evil.example) <at>Jordan Reid</at> \\(4.3\\) ~~gone~~ `code` {{DATE(2026-06-08T17:00:00Z, SHORT)}} 🙂🧑‍⚕️ <b>bold?</b> &amp; | pipe";
const OUTCOME: &str = "# Joint review\n- within 5 days, then **agree** a plan (C:\\cases\\4471) 👍";
const CASE_REF: &str = "ASC-[4471]_x*";
const VIEWS: &str = "> Wants to stay home; _her_ words: \"no care home\" 🏠";
const NOTE: &str =
    "1. Met by phone [again]\n2. No agreement: @here <at>Dr Ade Okafor</at> ** __ \\*";
const REASON: &str = "Discussed twice (no agreement) — see [minutes](javascript:alert(1)) 💬";
const PROPOSED: &str = "Joint capacity assessment by 12/06 *both* agencies [done] ✅";
const NOTICE: &str = "Advance notice: stage 3 reached; panel may be needed (4.3) *asap*";
const DIRECT: &str = "You are asked to look at [this](https://x.example) _today_ 📌";
/// A name as an administrator might have entered it in the directory.
const NASTY_NAME: &str = "Dr Ade *Okafor* [GP_lead]";

/// Everything typed above, which may show anywhere (in one another, too).
const TYPED: [&str; 10] = [
    SUMMARY, OUTCOME, CASE_REF, VIEWS, NOTE, REASON, PROPOSED, NOTICE, DIRECT, NASTY_NAME,
];

/// One card to draw: a name for its screenshots, the card, and the typed text it must show
/// exactly (in its text) and hold exactly (in its inputs).
struct Drawn {
    name: String,
    card: Value,
    shows: Vec<String>,
    holds: Vec<String>,
}

/// `target/teams-render`, where `.ci/run` installs the renderer; a missing or stale one fails
/// the test with what to run.
fn renderer() -> (PathBuf, PathBuf) {
    let root = crate::helpers::crate_root();
    let dir = root.join("target/teams-render/node_modules");
    let ac = dir.join("adaptivecards/dist/adaptivecards.min.js");
    let md = dir.join("markdown-it/dist/markdown-it.min.js");
    let how = "install it with `mkdir -p target/teams-render && cp tests/teams-render/package.json tests/teams-render/package-lock.json target/teams-render/ && npm ci --prefix target/teams-render` (`.ci/run` does this when it is missing)";
    assert!(
        ac.is_file() && md.is_file(),
        "Microsoft's Adaptive Cards renderer is not installed at {}: {how}",
        dir.display()
    );
    let installed: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("adaptivecards/package.json"))
            .expect("the renderer's package.json"),
    )
    .expect("the renderer's package.json is JSON");
    assert_eq!(
        installed["version"], ADAPTIVECARDS_VERSION,
        "target/teams-render holds another version of adaptivecards: {how}"
    );
    (ac, md)
}

fn artefacts() -> PathBuf {
    let dir = crate::helpers::crate_root().join("target/test-artefacts/teams-cards");
    std::fs::create_dir_all(&dir).expect("the artefacts folder can be made");
    dir
}

/// The demo directory with one professional's name as awkward as a name can be.
fn nasty_directory() -> Directory {
    let path = crate::helpers::demo_dir().join("directory.toml");
    let text = std::fs::read_to_string(&path).expect("the demo directory");
    assert!(text.contains("name = \"Dr Ade Okafor\""));
    let text = text.replace(
        "name = \"Dr Ade Okafor\"",
        &format!("name = {}", toml_string(NASTY_NAME)),
    );
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("directory.toml");
    std::fs::write(&file, text).expect("the directory is written");
    Directory::load(&file).expect("the directory with an awkward name loads")
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Everyone has a Teams identity in the tenant, except the raiser's manager, who is named
/// rather than mentioned.
fn lookup(p: &PersonId) -> Option<String> {
    (p.0 != "jordan-reid").then(|| format!("00000000-0000-4000-8000-{:012x}", fnv(&p.0)))
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3) & 0xffff_ffff_ffff
    })
}

fn draw(name: &str, msg: &Message, shows: &[&str]) -> Vec<Drawn> {
    let card = cards::card(msg, &lookup);
    let mut out = Vec::new();
    // A form behind a button is drawn on its own too, as it shows once opened.
    for a in card["actions"].as_array().into_iter().flatten() {
        if a["type"] == "Action.ShowCard" {
            let mut inner = a["card"].clone();
            inner["version"] = json!(cards::CARD_VERSION);
            out.push(Drawn {
                name: format!(
                    "{name}-opens-{}",
                    a["card"]["actions"][0]["verb"].as_str().unwrap_or("form")
                ),
                card: inner,
                shows: Vec::new(),
                holds: Vec::new(),
            });
        }
    }
    let summary = cards::activity(card.clone(), &msg.fallback)["summary"].clone();
    for text in [&card["fallbackText"], &summary] {
        let text = text.as_str().unwrap_or_default();
        assert!(
            !text.contains(['<', '>', '*', '_', '[', ']', '`', '\\', '#', '{', '}', '&']),
            "{name}: the fallback text and summary are plain, with nothing Teams would read as markup: {text}"
        );
    }
    out.insert(
        0,
        Drawn {
            name: name.to_string(),
            card,
            shows: shows.iter().map(|s| s.to_string()).collect(),
            holds: Vec::new(),
        },
    );
    out
}

/// Every kind of card, from a Norfolk dispute raised and carried on with the text above.
fn every_card() -> Vec<Drawn> {
    let f = fixture();
    let dir = nasty_directory();
    let policy = f.policy("norfolk");
    let calendar = f.calendar("norfolk");
    let scene = |now: DateTime<Utc>| Scene {
        policy,
        calendar,
        dir: &dir,
        now,
    };
    let c = cast("norfolk");
    let raised_at = "2026-06-01T09:00:00Z";
    let details = RaiseDetails {
        summary: SUMMARY.into(),
        desired_outcome: OUTCOME.into(),
        case_reference: CASE_REF.into(),
        adults_views: Some(VIEWS.into()),
        immediate_risk: true,
        ..c.details()
    };
    let mut case = Case::raise("norfolk", c.raiser, details, raised_at);
    let raise_events = case.events.clone();
    let mut out = Vec::new();
    let t0 = at(raised_at);
    let root = compose::root(&scene(t0), &case.state);
    assert_eq!(
        primaries(&root),
        ["add_note"],
        "at stage 1 the two professionals talk, and record it"
    );
    out.extend(draw(
        "root",
        &root,
        &[SUMMARY, OUTCOME, CASE_REF, NASTY_NAME],
    ));
    out.extend(draw(
        "receipt",
        &compose::receipt(&scene(t0), &case.state, &raise_events),
        &[],
    ));

    let noted_at = "2026-06-02T10:00:00Z";
    let note = case.act(
        c.raiser,
        noted_at,
        Command::AddNote {
            text: NOTE.into(),
            how: None,
            held_at: None,
        },
    );
    let update =
        compose::update(&scene(at(noted_at)), &case.state, &note).expect("a note makes an update");
    out.extend(draw("update-note", &update, &[NOTE]));

    // A reminder and an overdue prompt, as the scheduler records them.
    let due = case.state.due.expect("stage 1 has a deadline");
    let owners: Vec<PersonId> = case.state.owners().cloned().collect();
    let reminder = vec![Event {
        at: due - chrono::Duration::days(1),
        actor: None,
        directory: None,
        body: EventBody::ReminderSent {
            stage: case.state.stage,
            due,
            recipients: owners,
        },
    }];
    let m = compose::update(
        &scene(due - chrono::Duration::days(1)),
        &case.state,
        &reminder,
    )
    .expect("a reminder makes an update");
    out.extend(draw("reminder", &m, &[]));
    let late = due + chrono::Duration::days(1);
    let overdue = vec![Event {
        at: late,
        actor: None,
        directory: None,
        body: EventBody::OverduePrompted {
            stage: case.state.stage,
            due,
            count: 1,
            prompt: policy
                .stage(case.state.stage)
                .map(|s| s.prompt.clone())
                .unwrap_or_default(),
            delay_reason_required: true,
            delay_reason_given: false,
        },
    }];
    let m = compose::update(&scene(late), &case.state, &overdue)
        .expect("an overdue prompt makes an update");
    out.extend(draw("overdue", &m, &[]));
    let root_late = compose::root(&scene(late), &case.state);
    assert_eq!(
        primaries(&root_late),
        ["record_delay_reason"],
        "a late stage asks for its reason for delay"
    );
    out.extend(draw("root-overdue", &root_late, &[SUMMARY]));

    out.extend(draw(
        "notice",
        &compose::board_notice(&scene(t0), &case.state, NOTICE, "4.3"),
        &[NOTICE],
    ));
    out.extend(draw(
        "direct-acknowledge",
        &compose::asked_to_acknowledge(&scene(t0), &case.state),
        &[],
    ));
    out.extend(draw(
        "direct",
        &compose::direct(&scene(t0), &case.state, DIRECT, false),
        &[DIRECT],
    ));
    out.extend(draw(
        "receipt-plain",
        &compose::plain("NSAB-2026-0001", DIRECT),
        &[DIRECT],
    ));

    // Every form (drawn, as the Teams interaction tests draw them, for a Sunderland dispute at
    // the stage whose steps are named), filled in with the typed text and shown again with an
    // error, as after a submission that needs changing.
    let sunderland = crate::interaction::sunderland_at_stage_three();
    for spec in crate::interaction::all_forms(&sunderland, at("2026-06-02T10:00:00+01:00")) {
        let mut values = Values::new();
        let mut errors = FormErrors::new();
        let mut holds = Vec::new();
        for field in &spec.fields {
            if matches!(field.kind, FieldKind::Text | FieldKind::Textarea) {
                let typed = if field.kind == FieldKind::Text {
                    CASE_REF
                } else {
                    NOTE
                };
                values.insert(field.id.clone(), typed.to_string());
                holds.push(typed.to_string());
            }
        }
        if let Some(first) = spec.fields.first() {
            errors.insert(first.id.clone(), first.missing_text());
        }
        out.push(Drawn {
            name: format!("form-{}", spec.name),
            card: form_card(&spec, &values, &errors, CardKind::Form, None),
            shows: Vec::new(),
            holds,
        });
    }

    let escalated_at = "2026-06-03T10:00:00Z";
    let mover = case.mover();
    let escalated = case.act(
        &mover,
        escalated_at,
        Command::Escalate {
            reason: REASON.into(),
            delay_reason: None,
            notices: Default::default(),
        },
    );
    let m = compose::update(&scene(at(escalated_at)), &case.state, &escalated)
        .expect("escalating makes an update");
    out.extend(draw("update-escalated", &m, &[REASON]));
    let root = compose::root(&scene(at(escalated_at)), &case.state);
    assert_eq!(
        primaries(&root),
        ["acknowledge", "add_note"],
        "a new stage asks its managers to acknowledge, and both sides to talk"
    );
    out.extend(draw("root-escalated", &root, &[SUMMARY]));

    let proposed_at = "2026-06-04T10:00:00Z";
    let proposer = case.mover();
    case.act(
        &proposer,
        proposed_at,
        Command::ProposeResolution {
            rationale: REASON.into(),
            outcome: PROPOSED.into(),
            outstanding: NOTE.into(),
            delay_reason: None,
        },
    );
    let root = compose::root(&scene(at(proposed_at)), &case.state);
    assert_eq!(
        primaries(&root),
        ["confirm_resolution", "reject_resolution"],
        "a proposal waits for its answer"
    );
    out.extend(draw("root-proposal", &root, &[SUMMARY]));
    let confirmed_at = "2026-06-05T10:00:00Z";
    let confirmer = case.mover_receiving();
    let confirmed = case.act(&confirmer, confirmed_at, Command::ConfirmResolution);
    let m = compose::update(&scene(at(confirmed_at)), &case.state, &confirmed)
        .expect("confirming makes an update");
    out.extend(draw("update-resolved", &m, &[]));
    let root = compose::root(&scene(at(confirmed_at)), &case.state);
    assert_eq!(primaries(&root), ["refer_learning"]);
    out.extend(draw("root-resolved", &root, &[SUMMARY]));
    out
}

fn primaries(m: &Message) -> Vec<&'static str> {
    assert_eq!(m.kind, MessageKind::Root);
    m.buttons
        .iter()
        .filter(|b| b.primary)
        .map(|b| b.action.id())
        .collect()
}

/// The page: the renderer, Markdown as Teams reads it, a Teams-like host config, and a
/// function that draws one card and reports what a person would see wrong with it.
fn page(dir: &Path, ac: &Path, md: &Path) -> PathBuf {
    let html = format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Teams cards</title>
<style>
  body {{ margin: 0; padding: 16px; background: #f5f5f5; font-family: "Segoe UI", system-ui, sans-serif; }}
  #stage {{ background: #fff; border: 1px solid #e0e0e0; border-radius: 4px; }}
  .mention {{ color: #6264a7; font-weight: 600; }}
</style>
<link rel="stylesheet" href="file://{css}">
<style>
  .ac-pushButton {{ font: 600 14px "Segoe UI", system-ui, sans-serif; padding: 4px 12px; min-height: 32px; border: 1px solid #d1d1d1; border-radius: 4px; background: #fff; }}
</style>
<script src="file://{ac}"></script>
<script src="file://{md}"></script>
<script>{script}</script>
</head><body><div id="stage"></div></body></html>"#,
        css = ac.with_file_name("adaptivecards.css").display(),
        ac = ac.display(),
        md = md.display(),
        script = include_str!("../teams-render/check.js"),
    );
    let path = dir.join("page.html");
    std::fs::write(&path, html).expect("the page is written");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_teams_card_shows_typed_text_exactly_and_fits_a_channel_and_a_phone() {
    let (ac, md) = renderer();
    let (chromium, driver) = browser();
    let drawn = every_card();
    let mut problems: Vec<String> = Vec::new();
    for d in &drawn {
        problems.extend(
            crate::teams_connector::card_problems(&d.card)
                .into_iter()
                .map(|p| format!("{}: schema: {p}", d.name)),
        );
    }
    let out = artefacts();
    let work = tempfile::tempdir().expect("a temporary folder");
    let page = page(&out, &ac, &md);
    let (_driver, url) = start_driver(&driver, work.path()).await;
    let client = connect(&url, &chromium, &work.path().join("profile")).await;
    let result = draw_all(&client, &page, &drawn, &out).await;
    let _ = client.close().await;
    match result {
        Ok(found) => problems.extend(found),
        Err(e) => problems.push(e),
    }
    assert!(
        problems.is_empty(),
        "{} cards drawn at {WIDTHS:?} px; what a Teams person would see wrong (screenshots in {}):\n{}",
        drawn.len(),
        out.display(),
        problems.join("\n")
    );
}

async fn draw_all(
    client: &Client,
    page: &Path,
    drawn: &[Drawn],
    out: &Path,
) -> Result<Vec<String>, String> {
    // Tall enough that the longest card is photographed whole.
    client
        .set_window_size(1000, 6000)
        .await
        .map_err(|e| format!("the window is sized: {e}"))?;
    client
        .goto(&format!("file://{}", page.display()))
        .await
        .map_err(|e| format!("the page opens: {e}"))?;
    let ready = client
        .execute("return typeof window.drawCard === 'function' && typeof AdaptiveCards === 'object' && typeof markdownit === 'function';", vec![])
        .await
        .map_err(|e| format!("the page runs: {e}"))?;
    if ready != json!(true) {
        return Err("the renderer did not load into the page".into());
    }
    let mut problems = Vec::new();
    for d in drawn {
        for width in WIDTHS {
            let report = client
                .execute(
                    "return window.drawCard(arguments[0], arguments[1], arguments[2], arguments[3], arguments[4]);",
                    vec![d.card.clone(), json!(width), json!(d.shows), json!(d.holds), json!(TYPED)],
                )
                .await
                .map_err(|e| format!("{} at {width} px: drawing failed: {e}", d.name))?;
            for p in report["problems"].as_array().into_iter().flatten() {
                problems.push(format!(
                    "{} at {width} px: {}",
                    d.name,
                    p.as_str().unwrap_or_default()
                ));
            }
            let shot = client
                .find(Locator::Css("#stage"))
                .await
                .map_err(|e| format!("{}: the card is on the page: {e}", d.name))?
                .screenshot()
                .await
                .map_err(|e| format!("{}: screenshot: {e}", d.name))?;
            std::fs::write(out.join(format!("{}-{width}.png", d.name)), shot)
                .map_err(|e| format!("{}: the screenshot is saved: {e}", d.name))?;
            if report["overflow"] == json!(true) {
                let secondary: Vec<&str> = d.card["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["mode"] == "secondary")
                    .filter_map(|a| a["title"].as_str())
                    .collect();
                let menu = client
                    .execute(
                        "return window.openOverflow(arguments[0]);",
                        vec![json!(secondary)],
                    )
                    .await
                    .map_err(|e| format!("{}: the overflow menu opens: {e}", d.name))?;
                for p in menu["problems"].as_array().into_iter().flatten() {
                    problems.push(format!(
                        "{} at {width} px: overflow menu: {}",
                        d.name,
                        p.as_str().unwrap_or_default()
                    ));
                }
                let shot = client
                    .screenshot()
                    .await
                    .map_err(|e| format!("{}: screenshot: {e}", d.name))?;
                std::fs::write(out.join(format!("{}-{width}-menu.png", d.name)), shot)
                    .map_err(|e| format!("{}: the screenshot is saved: {e}", d.name))?;
            }
        }
    }
    Ok(problems)
}
