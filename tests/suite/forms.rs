//! Forms generated from the record: the Durham journey (journeys.md, journey 2) reaches step 3,
//! the Managing Professional Differences form is generated with its Appendix 2 fields, a link to
//! it (never its content) reaches the DSAP business unit's channel, and the PDF's text read back
//! with `pdftotext` holds the same fields. Over real HTTP on the sandbox app.

use crate::board_view::App;
use crate::helpers::run_bin;
use chrono::{DateTime, Utc};
use escalation_bot::directory::{AgencyId, PersonId};
use escalation_bot::escalation::{Command, Concerns, ContactFormat, RaiseDetails, Reference};
use reqwest::StatusCode;

const FORM: &str = "managing-professional-differences";

fn at(t: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

fn person(id: &str) -> PersonId {
    PersonId(id.into())
}

/// Journey 2: police raise with adult social care on the Thursday before Easter (2027: the
/// sandbox app's clock starts in December 2026 and only moves on); step 1 runs late and the
/// reason is recorded; step 2 runs late too; the dispute reaches step 3.
pub(crate) async fn durham_to_step_three(app: &App) -> Reference {
    let s = &app.service;
    app.clock.set(at("2027-03-25T10:00:00+00:00"));
    let raised = s
        .raise(
            &person("durham-police-practitioner"),
            RaiseDetails {
                receiving_agency: AgencyId("durham-asc".into()),
                other_professional: Some(person("durham-asc-practitioner")),
                concerns: Concerns::Adult,
                category: "decision-making".into(),
                summary: "Disagreement about whether a strategy discussion is needed after a reported concern".into(),
                possible_cause: Some("Different readings of the level of risk".into()),
                desired_outcome: "A joint decision on convening a strategy discussion".into(),
                adults_views: None,
                case_reference: "DC-2231".into(),
                immediate_risk: false,
                arose_at: None,
                delay_reason: None,
                notices: Default::default(),
            },
            None,
            None,
        )
        .await
        .expect("the challenge is raised");
    let reference = raised.reference;
    let act = |who: &'static str, command: Command| {
        let reference = reference.clone();
        async move {
            s.act(&person(who), &reference, &command, None, None)
                .await
                .unwrap_or_else(|e| panic!("{who} acts: {e}"));
        }
    };

    // Step 1 was due Tue 30 March 17:00 (Good Friday and Easter Monday are bank holidays).
    app.clock.set(at("2027-03-31T09:30:00+01:00"));
    act(
        "durham-police-practitioner",
        Command::RecordDelayReason {
            reason: "The decision maker was on leave over Easter.".into(),
        },
    )
    .await;
    act(
        "durham-asc-practitioner",
        Command::AddNote {
            text: "Discussed with the police officer; we read the risk differently.".into(),
            how: Some(ContactFormat::Phone),
            held_at: Some(at("2027-03-31T09:00:00+01:00")),
        },
    )
    .await;
    act(
        "durham-police-practitioner",
        Command::Escalate {
            reason: "No resolve with the decision maker.".into(),
            delay_reason: None,
            notices: Default::default(),
        },
    )
    .await;

    // Step 2 (3 working days) was due Mon 5 April 17:00.
    app.clock.set(at("2027-04-06T10:00:00+01:00"));
    act(
        "durham-police-line-manager",
        Command::AddNote {
            text: "Managers met and could not agree on convening the discussion.".into(),
            how: Some(ContactFormat::Meeting),
            held_at: Some(at("2027-04-05T14:00:00+01:00")),
        },
    )
    .await;
    act(
        "durham-police-line-manager",
        Command::Escalate {
            reason: "Managers could not agree.".into(),
            delay_reason: Some("Waited for the strategy meeting minutes.".into()),
            notices: Default::default(),
        },
    )
    .await;
    app.deliver().await;
    reference
}

/// A page's text as a reader sees it: the entities the template engine writes for `/`, `'`,
/// `"` and `&` turned back into those characters.
fn readable(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The business unit signs in from its own channel; its session cookie.
async fn unit_session(app: &App, person: &str, channel: &str, command: &str) -> String {
    app.type_command(person, channel, command).await;
    let link = app.link_for(person).await;
    app.sign_in(&link)
        .await
        .expect("the business unit signs in")
}

/// What the Durham form must say of this journey, in words a reader of the page or the PDF sees.
const FIELDS: [&str; 16] = [
    "Managing Professional Differences Form",
    "Rosa Quinn",
    "Professional / practitioner / volunteer",
    "Durham Constabulary",
    "Disagreement about whether a strategy discussion is needed after a reported concern",
    "Durham County Council Adult and Health Services",
    "Vik Usher",
    "Thu 25 Mar 2027, 10:00",
    "Wed 31 Mar 2027, 09:30",
    "Tue 6 Apr 2027, 10:00",
    "by phone",
    "by meeting",
    "The decision maker was on leave over Easter.",
    "Waited for the strategy meeting minutes.",
    "Not held in the record",
    "Step 3",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_durham_journey_reaches_step_three_and_its_form_is_generated_linked_and_printed() {
    let app = App::start().await;
    let reference = durham_to_step_three(&app).await;
    let path = format!("/board/form/{reference}/{FORM}");

    // The link, and only the link, reaches the DSAP business unit's channel.
    let state = app.sandbox_state("durham-unit").await;
    let posts = state["channels"]["durham-board"].to_string();
    assert!(
        posts.contains(&format!("{}{path}", app.base)),
        "the form's link is posted in the business unit's channel: {posts}"
    );
    assert!(
        !posts.contains("The decision maker was on leave over Easter."),
        "the form's content stays out of chat: {posts}"
    );

    let cookie = unit_session(&app, "durham-unit", "durham-board", "@escalation-bot board").await;
    let page = app.get(&path, Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = readable(&page.text().await.expect("text"));
    for field in FIELDS {
        assert!(html.contains(field), "the form holds {field:?}:\n{html}");
    }
    // Steps 1 and 2 are ticked with their dates and shown late; step 4 is not reached.
    assert!(
        html.contains("☒ Step 1") && html.contains("☒ Step 2") && html.contains("☒ Step 3"),
        "{html}"
    );
    assert!(html.contains("☐ Step 4"), "{html}");
    assert!(
        html.contains(
            "Step 1 was due Tue 30 Mar 2027, 17:00 and ended Wed 31 Mar 2027, 09:30: late."
        ),
        "the late step is accounted for:\n{html}"
    );
    // Escaped, never markup: the page holds no script.
    assert!(!html.contains("<script"), "{html}");

    // The PDF's text holds the same fields.
    let pdf = app.get(&format!("{path}.pdf"), Some(&cookie)).await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.expect("bytes");
    let dir = tempfile::tempdir().expect("a folder");
    let file = dir.path().join("form.pdf");
    std::fs::write(&file, &bytes).expect("written");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for field in [
        "Managing Professional Differences Form",
        "Rosa Quinn",
        "Durham Constabulary",
        "Vik Usher",
        "Thu 25 Mar 2027, 10:00",
        "The decision maker was on leave over Easter.",
        "Waited for the strategy meeting minutes.",
        "Not held in the record",
    ] {
        assert!(flat.contains(field), "the PDF holds {field:?}:\n{text}");
    }

    // Each view is recorded.
    let views = app
        .service
        .record_views(&reference.to_string())
        .await
        .expect("views");
    assert!(
        views
            .iter()
            .any(|v| v.person == "durham-unit" && v.what == format!("form {FORM} html")),
        "{views:?}"
    );
    assert!(views.iter().any(|v| v.what == format!("form {FORM} pdf")));

    // The record page links the form.
    let record = app
        .get(&format!("/board/record/{reference}"), Some(&cookie))
        .await
        .text()
        .await
        .expect("text");
    assert!(record.contains(&format!("href=\"{path}\"")), "{record}");

    // The same form on the command line.
    let db = app.db_path();
    let out = run_bin(
        &[
            "report",
            "form",
            &reference.to_string(),
            FORM,
            "--db",
            &db,
            "--directory",
            "policies/demo/directory.toml",
        ],
        None,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let printed = readable(&out.stdout);
    for field in FIELDS {
        assert!(printed.contains(field), "the CLI's form holds {field:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_is_refused_to_other_boards_to_nobody_signed_in_and_for_a_form_the_policy_lacks() {
    let app = App::start().await;
    let reference = durham_to_step_three(&app).await;
    let path = format!("/board/form/{reference}/{FORM}");

    assert_eq!(
        app.get(&path, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let norfolk = unit_session(&app, "nsab-unit", "norfolk-board", "/challenge board").await;
    let refused = app.get(&path, Some(&norfolk)).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(!refused.text().await.expect("text").contains("Rosa Quinn"));

    let durham = unit_session(&app, "durham-unit", "durham-board", "@escalation-bot board").await;
    let unknown = app
        .get(
            &format!("/board/form/{reference}/tax-return"),
            Some(&durham),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let text = unknown.text().await.expect("text");
    assert!(
        text.contains("its forms are: managing-professional-differences")
            && !text.contains("tax-return"),
        "{text}"
    );

    // The command line says what is wrong and what to write.
    let db = app.db_path();
    let r = reference.to_string();
    for (args, says) in [
        (
            vec!["report", "form", r.as_str(), FORM, "--format", "docx"],
            "is not one of html, pdf",
        ),
        (
            vec!["report", "form", r.as_str(), "tax-return"],
            "its forms are: managing-professional-differences",
        ),
        (
            vec!["report", "form", "DSAP-2026", FORM],
            "is not a dispute reference like DSAP-2026-0001",
        ),
        (
            vec!["report", "form", "DSAP-2027-0999", FORM],
            "there is no challenge DSAP-2027-0999",
        ),
    ] {
        let mut all = args.clone();
        all.extend([
            "--db",
            db.as_str(),
            "--directory",
            "policies/demo/directory.toml",
        ]);
        let out = run_bin(&all, None);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_of_every_board_renders_from_every_seeded_record() {
    let app = App::start().await;
    let dir = app.service.directory();
    let reports = app.service.reports(&dir);
    let now = app.service.now();
    let mut rendered = 0;
    for policy in app.service.policies.iter() {
        let forms = escalation_bot::report::form::forms_of(policy);
        let rows = reports
            .log(&policy.id, Default::default(), None, now)
            .await
            .expect("the log reads");
        for row in &rows {
            let reference = Reference::parse(&row.reference).expect("a reference");
            for (form, stages) in &forms {
                let generated = reports
                    .form(&reference, &form.id, now)
                    .await
                    .unwrap_or_else(|e| panic!("{} {}: {e}", row.reference, form.id));
                let html = readable(&generated.html);
                assert!(html.contains(&row.reference), "{html}");
                assert!(html.contains(&row.raising.name), "{html}");
                // The stage requiring it is named once the dispute has reached it.
                let reached = row.stages.iter().any(|s| stages.contains(&s.stage));
                assert_eq!(generated.data.stage.is_some(), reached, "{}", row.reference);
                rendered += 1;
            }
        }
    }
    assert!(rendered >= 12, "forms rendered from {rendered} records");
}
