//! The Board's view over real HTTP: the app as `serve --sandbox` builds it, on a temporary
//! SQLite file seeded with thirty disputes across the five boards, a frozen demo clock, and a
//! real server on a loopback port; sign-in starts from `/challenge board` typed in the sandbox.

use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use escalation_bot::config::ServeConfig;
use escalation_bot::delivery::{Worker, WorkerConfig};
use escalation_bot::service::{ManualClock, Service};
use escalation_bot::store::Store;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeConfig,
}

/// A running Board view: its base URL, its service, worker and clock.
pub(crate) struct App {
    pub base: String,
    pub service: Arc<Service>,
    worker: Arc<Worker>,
    pub clock: Arc<ManualClock>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    submissions: std::sync::atomic::AtomicU32,
}

impl App {
    /// Seeds a fresh SQLite file, builds the sandbox app on it and serves it on 127.0.0.1:0.
    pub(crate) async fn start() -> App {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let db = dir.path().join("board.db");
        let store = Store::open(db.to_str().expect("utf-8"))
            .await
            .expect("the store opens");
        crate::report_log::seed(&store).await;
        drop(store);
        let root = crate::helpers::crate_root();
        let mut config = Flags::try_parse_from(["escalation-bot"])
            .expect("defaults parse")
            .serve;
        config.database_url = db.display().to_string();
        config.directory = root.join("policies/demo/directory.toml");
        config.policies = root.join("policies");
        config.sandbox = true;
        let now: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().expect("a time");
        let clock = Arc::new(ManualClock::frozen_at(now));
        let built = escalation_bot::web::build(&config, clock.clone(), WorkerConfig::default())
            .await
            .unwrap_or_else(|e| panic!("the app builds: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let base = format!("http://localhost:{}", addr.port());
        built.service.set_public_url(&base);
        tokio::spawn(async move {
            let _ = axum::serve(listener, built.router).await;
        });
        App {
            base,
            service: built.service,
            worker: built.worker,
            clock,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            _dir: dir,
            submissions: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Types a command in the sandbox as a person, in their own agency's channel.
    pub(crate) async fn type_command(&self, person: &str, channel: &str, text: &str) -> Value {
        let n = self
            .submissions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = json!({ "as": person, "channel": channel, "text": text, "submission": format!("board-view-{n:04}") });
        let reply = self
            .http
            .post(format!("{}/sandbox/api/command", self.base))
            .json(&body)
            .send()
            .await
            .expect("the sandbox answers");
        assert_eq!(reply.status(), StatusCode::OK, "{person} types {text:?}");
        for _ in 0..50 {
            if self.worker.tick().await.expect("the worker claims rows") == 0 {
                break;
            }
        }
        reply.json().await.expect("JSON")
    }

    /// Lets the delivery worker post everything queued.
    pub(crate) async fn deliver(&self) {
        for _ in 0..50 {
            if self.worker.tick().await.expect("the worker claims rows") == 0 {
                break;
            }
        }
    }

    /// The SQLite file the app runs on, for the command line to read.
    pub(crate) fn db_path(&self) -> String {
        self._dir.path().join("board.db").display().to_string()
    }

    /// The sandbox page's state as a person sees it: channels, threads and their private posts.
    pub(crate) async fn sandbox_state(&self, person: &str) -> Value {
        self.http
            .get(format!("{}/sandbox/api/state?as={person}", self.base))
            .send()
            .await
            .expect("state")
            .json()
            .await
            .expect("JSON")
    }

    /// The newest sign-in link sent to a person by direct message, as the sandbox shows it.
    pub(crate) async fn link_for(&self, person: &str) -> String {
        let state: Value = self
            .http
            .get(format!("{}/sandbox/api/state?as={person}", self.base))
            .send()
            .await
            .expect("state")
            .json()
            .await
            .expect("JSON");
        let text = state["private"].to_string();
        let start = text
            .rfind("/board/sign-in?token=")
            .unwrap_or_else(|| panic!("a sign-in link was sent to {person}: {text}"));
        let token: String = text[start + 21..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        format!("{}/board/sign-in?token={token}", self.base)
    }

    pub(crate) async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            r = r.header(COOKIE, c);
        }
        r.send().await.expect("the server answers")
    }

    /// Opens a link and presses Sign in: the session cookie (`name=value`), or the refusal.
    pub(crate) async fn sign_in(&self, link: &str) -> Result<String, (StatusCode, String)> {
        let page = self.http.get(link).send().await.expect("the link opens");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("text");
        assert!(
            html.contains("<button type=\"submit\" id=\"sign-in\">"),
            "{html}"
        );
        let token = link.split("token=").nth(1).expect("a token");
        let r = self
            .http
            .post(format!("{}/board/sign-in", self.base))
            .form(&[("token", token)])
            .send()
            .await
            .expect("sign-in answers");
        if r.status() != StatusCode::SEE_OTHER {
            return Err((r.status(), r.text().await.unwrap_or_default()));
        }
        let cookie = r.headers()[SET_COOKIE].to_str().expect("ascii").to_string();
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/board",
            "Max-Age=28800",
        ] {
            assert!(
                cookie.contains(attribute),
                "the session cookie is {attribute}: {cookie}"
            );
        }
        assert_eq!(r.headers()[LOCATION], "/board/log");
        Ok(cookie.split(';').next().expect("name=value").to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_unit_signs_in_from_chat_and_sees_only_its_boards_log_stats_and_records() {
    let app = App::start().await;
    let reply = app
        .type_command("durham-unit", "durham-board", "@escalation-bot board")
        .await;
    assert!(
        reply.to_string().contains("sent to you by direct message"),
        "{reply}"
    );
    let link = app.link_for("durham-unit").await;
    let cookie = app.sign_in(&link).await.expect("a fresh link signs in");

    // The log: Durham's six disputes and no other board's.
    let page = app.get("/board/log", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("text");
    assert_eq!(
        html.matches("<a href=\"/board/record/DSAP-2026-").count(),
        6,
        "{html}"
    );
    assert!(!html.contains("NSAB-2026"));
    assert!(html.contains("Signed in as DSAP business unit"));
    // Filtered by state, and sorted by reference ascending.
    let page = app
        .get("/board/log?state=withdrawn", Some(&cookie))
        .await
        .text()
        .await
        .expect("text");
    assert_eq!(page.matches("<a href=\"/board/record/").count(), 1);
    assert!(
        page.contains("DSAP-2026-0004"),
        "script 3 of six withdraws: {page}"
    );
    let page = app
        .get("/board/log?sort=reference&order=asc", Some(&cookie))
        .await
        .text()
        .await
        .expect("text");
    let first = page.find("DSAP-2026-0001").expect("0001 listed");
    assert!(first < page.find("DSAP-2026-0006").expect("0006 listed"));
    // The CSV export keeps the filter.
    let csv = app
        .get("/board/log.csv?state=resolved", Some(&cookie))
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.expect("text");
    assert_eq!(
        csv.lines().count(),
        1 + 3,
        "scripts 1, 2 and 5 resolve: {csv}"
    );
    // A bad date is refused plainly.
    let bad = app.get("/board/log?from=yesterday", Some(&cookie)).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        bad.text()
            .await
            .expect("text")
            .contains("is not a date like 2026-04-01")
    );

    // Statistics with SVG charts, and every figure as CSV.
    let stats = app
        .get("/board/stats", Some(&cookie))
        .await
        .text()
        .await
        .expect("text");
    assert!(stats.matches("<svg").count() >= 5, "{stats}");
    assert!(!stats.contains("<script"));
    let figures = app
        .get("/board/stats.csv", Some(&cookie))
        .await
        .text()
        .await
        .expect("text");
    assert!(figures.contains("disputes,raised,6\r\n"), "{figures}");

    // A record: every event, the chain checked, and the view itself recorded.
    let record = app.get("/board/record/DSAP-2026-0002", Some(&cookie)).await;
    assert_eq!(record.status(), StatusCode::OK);
    let record = record.text().await.expect("text");
    assert!(record.contains("Hash chain: intact"), "{record}");
    let views = app
        .service
        .record_views("DSAP-2026-0002")
        .await
        .expect("views");
    assert_eq!(views.len(), 1);
    assert_eq!(
        (views[0].person.as_str(), views[0].at),
        ("durham-unit", app.service.now())
    );
    // Another board's record is not there for this person.
    let other = app.get("/board/record/NSAB-2026-0001", Some(&cookie)).await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    assert!(
        app.service
            .record_views("NSAB-2026-0001")
            .await
            .expect("views")
            .is_empty()
    );

    // Signing out ends the session.
    let out = app
        .http
        .post(format!("{}/board/sign-out", app.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("sign-out answers");
    assert_eq!(out.status(), StatusCode::OK);
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
    assert_eq!(
        app.get("/board/log", Some(&cookie)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_or_expired_link_and_people_who_may_not_see_the_board_are_refused() {
    let app = App::start().await;
    app.type_command("nsab-unit", "norfolk-board", "/challenge board")
        .await;
    let link = app.link_for("nsab-unit").await;
    app.sign_in(&link).await.expect("the first use signs in");
    let (status, text) = app.sign_in(&link).await.expect_err("a used link");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("used already, has expired"), "{text}");

    app.type_command("nsab-unit", "norfolk-board", "/challenge board")
        .await;
    let late = app.link_for("nsab-unit").await;
    app.clock
        .advance(Duration::minutes(escalation_bot::service::LINK_MINUTES) + Duration::seconds(1));
    let (status, _) = app.sign_in(&late).await.expect_err("an expired link");
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A practitioner is told who the Board view is for, and sent nothing.
    let reply = app
        .type_command("sam-patel", "norfolk-asc", "/challenge board")
        .await;
    assert!(
        reply
            .to_string()
            .contains("for a board's business unit and chair"),
        "{reply}"
    );
    // No cookie, or a made-up one, sees nothing.
    assert_eq!(
        app.get("/board/log", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/board/stats.csv", Some("board_session=forged"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/board/record/NSAB-2026-0001", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A GP safeguarding lead sees Norfolk's disputes their practice is in, and opens them.
    app.type_command("dr-lindqvist", "riverside-gp", "@escalation-bot board")
        .await;
    let lead = app.link_for("dr-lindqvist").await;
    let cookie = app.sign_in(&lead).await.expect("the lead signs in");
    let html = app
        .get("/board/log", Some(&cookie))
        .await
        .text()
        .await
        .expect("text");
    assert_eq!(
        html.matches("<a href=\"/board/record/NSAB-2026-").count(),
        6,
        "{html}"
    );
    assert_eq!(
        app.get("/board/record/NSAB-2026-0001", Some(&cookie))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/board/record/DSAP-2026-0001", Some(&cookie))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}
