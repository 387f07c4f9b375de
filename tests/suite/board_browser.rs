//! The Board's view in a real browser (Debian's headless Chromium through ChromeDriver): a
//! business unit signs in by the link sent in chat, filters the log, opens a dispute's form and
//! sees the statistics' charts; a used link, an expired link and a person from another board are
//! refused. The app is the sandbox app on a loopback port, with the Durham journey at step 3.

use crate::board_view::App;
use crate::browser::{browser, connect, start_driver};
use chrono::Duration;
use fantoccini::{Client, Locator};

/// The page's visible text, after waiting for `css` to appear.
async fn text_of(c: &Client, css: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match c.find(Locator::Css(css)).await {
            Ok(e) => return e.text().await.unwrap_or_default(),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            }
            Err(e) => panic!(
                "{css} never appeared ({e}); the page was:\n{}",
                c.source().await.unwrap_or_default()
            ),
        }
    }
}

/// Opens a sign-in link and presses Sign in; the page's text after it.
async fn sign_in(c: &Client, link: &str) -> String {
    c.goto(link).await.expect("the link opens");
    c.find(Locator::Css("#sign-in"))
        .await
        .expect("a Sign in button")
        .click()
        .await
        .expect("pressed");
    // Wait for the page after the button: its heading is no longer the sign-in page's.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let heading = text_of(c, "h1").await;
        if !heading.is_empty() && heading != "Sign in to the Board's view" {
            return text_of(c, "body").await;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page after Sign in never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_unit_signs_in_filters_the_log_opens_a_form_and_sees_the_charts_in_chromium() {
    let (chromium, driver) = browser();
    let app = App::start().await;
    let reference = crate::forms::durham_to_step_three(&app).await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (_driver, driver_url) = start_driver(&driver, dir.path()).await;
    let c = connect(&driver_url, &chromium, &dir.path().join("profile")).await;

    // Signed in by the link sent in chat, the business unit lands on its log.
    app.type_command("durham-unit", "durham-board", "@escalation-bot board")
        .await;
    let link = app.link_for("durham-unit").await;
    let page = sign_in(&c, &link).await;
    assert!(page.contains("challenge log"), "{page}");
    let all: usize = text_of(&c, "#count").await.parse().expect("a count");
    assert!(
        text_of(&c, "#log").await.contains(&reference.to_string()),
        "the journey's dispute is in the log"
    );

    // Filter to open disputes: fewer lines, the journey's among them.
    c.find(Locator::Css("#filter-state"))
        .await
        .expect("the state filter")
        .select_by_value("open")
        .await
        .expect("chosen");
    c.find(Locator::Css("#apply"))
        .await
        .expect("Show")
        .click()
        .await
        .expect("pressed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !c
        .current_url()
        .await
        .expect("a URL")
        .as_str()
        .contains("state=open")
    {
        assert!(std::time::Instant::now() < deadline, "the filter applies");
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    let open: usize = text_of(&c, "#count").await.parse().expect("a count");
    assert!(open < all, "filtering to open leaves {open} of {all}");
    let log = text_of(&c, "#log").await;
    assert!(log.contains(&reference.to_string()), "{log}");
    assert!(!log.contains("resolved at"), "{log}");

    // The dispute's record lists its form; the form opens from it.
    c.find(Locator::LinkText(&reference.to_string()))
        .await
        .expect("the reference links the record")
        .click()
        .await
        .expect("opened");
    text_of(&c, "#forms").await;
    c.find(Locator::Css("a.form-link"))
        .await
        .expect("the form's link")
        .click()
        .await
        .expect("opened");
    let form = text_of(&c, "body").await;
    for field in [
        "Managing Professional Differences Form",
        "Rosa Quinn",
        "Durham Constabulary",
        "The decision maker was on leave over Easter.",
        "Not held in the record",
    ] {
        assert!(form.contains(field), "the form shows {field:?}:\n{form}");
    }

    // The statistics are drawn as SVG on the server.
    c.goto(&format!("{}/board/stats", app.base))
        .await
        .expect("the statistics open");
    text_of(&c, "h1").await;
    let charts = c
        .find_all(Locator::Css("svg"))
        .await
        .expect("charts are found");
    assert!(!charts.is_empty(), "the statistics page draws SVG charts");

    // A used link does not sign in again.
    let again = sign_in(&c, &link).await;
    assert!(again.contains("This sign-in link does not work"), "{again}");

    // An expired link is refused.
    app.type_command("durham-unit", "durham-board", "@escalation-bot board")
        .await;
    let late = app.link_for("durham-unit").await;
    app.clock
        .advance(Duration::minutes(escalation_bot::service::LINK_MINUTES) + Duration::seconds(1));
    let expired = sign_in(&c, &late).await;
    assert!(
        expired.contains("This sign-in link does not work"),
        "{expired}"
    );

    // Signed out, then in as another board's business unit: Durham's form is not there for it.
    c.goto(&format!("{}/board/log", app.base))
        .await
        .expect("the log opens");
    c.find(Locator::Css("#sign-out"))
        .await
        .expect("Sign out")
        .click()
        .await
        .expect("pressed");
    // The click returns before the next page has loaded: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !text_of(&c, "h1").await.contains("Signed out") {
        assert!(
            std::time::Instant::now() < deadline,
            "the Signed out page never came: {}",
            text_of(&c, "body").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.type_command("nsab-unit", "norfolk-board", "/challenge board")
        .await;
    let norfolk = app.link_for("nsab-unit").await;
    assert!(sign_in(&c, &norfolk).await.contains("challenge log"));
    c.goto(&format!(
        "{}/board/form/{reference}/managing-professional-differences",
        app.base
    ))
    .await
    .expect("the address opens");
    let refused = text_of(&c, "body").await;
    assert!(refused.contains("No such challenge"), "{refused}");
    assert!(!refused.contains("Rosa Quinn"), "{refused}");
    let _ = c.close().await;
}
