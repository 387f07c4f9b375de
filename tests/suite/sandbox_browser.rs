//! The sandbox in a real browser: the real binary as `serve --sandbox` on a random port with a
//! temporary SQLite file, driven through Debian's headless Chromium and ChromeDriver over
//! WebDriver, the way a trainer would walk a dispute through by hand.

use crate::browser::{Running, browser, connect, start_driver};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long anything the page is waiting for may take to appear.
const WAIT: Duration = Duration::from_secs(25);

const SUMMARY: &str = "Decision not to refer for a mental capacity assessment after the hospital discharge; adult lives alone. <b>not markup</b>";

/// `escalation-bot serve --sandbox` on 127.0.0.1:0; its URL is read from what it prints.
struct Server {
    _process: Running,
    base: String,
    log: PathBuf,
}

fn start_server(dir: &Path) -> Server {
    let root = crate::helpers::crate_root();
    let log = dir.join("serve.log");
    let stderr = std::fs::File::create(&log).expect("a log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .args([
            "serve",
            "--sandbox",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
        ])
        .arg(dir.join("sandbox.db"))
        .arg("--directory")
        .arg(root.join("policies/demo/directory.toml"))
        .arg("--policies")
        .arg(root.join("policies"))
        .current_dir(root)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("the escalation-bot binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let process = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("The sandbox: open ") {
                    let page = rest.split_whitespace().next().expect("a URL");
                    let url = page.trim_end_matches('/').trim_end_matches("/sandbox");
                    return Server {
                        _process: process,
                        base: url.to_string(),
                        log,
                    };
                }
            }
            Err(_) => panic!(
                "serve --sandbox did not say where the sandbox is within a minute; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        }
    }
}

/// Moves the demo clock through the sandbox's API to the opening of the next working day, so
/// the walk below never straddles the close of working hours, whatever the real time.
async fn to_a_working_morning(base: &str) {
    let http = reqwest::Client::new();
    let post = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/sandbox/api/clock");
        async move {
            let r = http
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("the clock answers");
            assert!(r.status().is_success(), "the clock moves: {}", r.status());
            r.json::<Value>().await.expect("the clock's JSON")
        }
    };
    let clock: Value = http
        .get(format!("{base}/sandbox/api/clock?as=sam-patel"))
        .send()
        .await
        .expect("the clock answers")
        .json()
        .await
        .expect("the clock's JSON");
    if clock["working"] == true {
        // Into the evening first: a working day from there lands at the next opening.
        post(json!({ "as": "sam-patel", "hours": 9 })).await;
    }
    let clock = post(json!({ "as": "sam-patel", "working_days": 1 })).await;
    assert!(
        clock["now_uk"]
            .as_str()
            .is_some_and(|t| t.ends_with("09:00")),
        "the clock is at a working morning: {clock}"
    );
}

/// The walk, step by step; an error says which step and what the page showed.
struct Walk {
    client: Client,
    base: String,
}

type Step = Result<(), String>;

impl Walk {
    async fn find(&self, css: &str) -> Result<Element, String> {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => return Ok(e),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(150)).await
                }
                Err(e) => return Err(format!("{css} never appeared: {e}")),
            }
        }
    }

    /// Waits until the element's visible text contains `text`.
    async fn text_in(&self, css: &str, text: &str) -> Result<String, String> {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = e.text().await
            {
                if t.contains(text) {
                    return Ok(t);
                }
                last = t;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!("{css} never showed {text:?}; it showed:\n{last}"))
    }

    /// Clicks, finding the element again if the page redrew it between finding and clicking.
    async fn click(&self, css: &str) -> Step {
        let deadline = Instant::now() + WAIT;
        loop {
            let e = self.find(css).await?;
            match e.click().await {
                Ok(()) => return Ok(()),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(150)).await
                }
                Err(e) => return Err(format!("cannot click {css}: {e}")),
            }
        }
    }

    async fn type_into(&self, css: &str, text: &str) -> Step {
        let e = self.find(css).await?;
        e.send_keys(text)
            .await
            .map_err(|e| format!("cannot type into {css}: {e}"))
    }

    async fn choose(&self, css: &str, value: &str) -> Step {
        let e = self.find(css).await?;
        e.select_by_value(value)
            .await
            .map_err(|e| format!("cannot choose {value} in {css}: {e}"))
    }

    async fn act_as(&self, person: &str) -> Step {
        self.choose("#person", person).await?;
        let wanted = format!("&as={person}");
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let url = self.client.current_url().await.map_err(|e| e.to_string())?;
            if format!("&{}", url.query().unwrap_or("")).contains(&wanted) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("the page never switched to acting as {person}"))
    }

    async fn open_channel(&self, channel: &str) -> Step {
        self.click(&format!("nav a[data-channel='{channel}']"))
            .await?;
        self.find(&format!(
            "nav a[data-channel='{channel}'][aria-current='page']"
        ))
        .await?;
        Ok(())
    }

    async fn press(&self, reference: &str, action: &str) -> Step {
        self.click(&format!(
            "#feed article.root[data-reference='{reference}'] button[data-action='{action}']"
        ))
        .await
    }

    async fn submit_form(&self) -> Step {
        self.click("#form-submit").await?;
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let open = self
                .client
                .execute("return document.getElementById('form-dialog').open", vec![])
                .await
                .map_err(|e| e.to_string())?;
            if open == json!(false) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let errors = self
            .client
            .find(Locator::Css("#form"))
            .await
            .map_err(|e| e.to_string())?;
        Err(format!(
            "the form stayed open: {}",
            errors.text().await.unwrap_or_default()
        ))
    }

    async fn screenshot(&self, name: &str) -> Result<PathBuf, String> {
        let png = self
            .client
            .screenshot()
            .await
            .map_err(|e| format!("no screenshot: {e}"))?;
        let dir = crate::helpers::crate_root().join("target/test-artefacts");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join(name);
        std::fs::write(&path, png).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// Runs a script that returns a value, as JSON.
    async fn js(&self, script: &str) -> Result<Value, String> {
        self.client
            .execute(script, vec![])
            .await
            .map_err(|e| e.to_string())
    }

    /// The page on a laptop (1366×768): the acting box whole, each channel marked with the
    /// platform it stands for, and the thread just raised in view.
    async fn laptop_checks(&self) -> Step {
        let acting = self
            .js("const r = document.getElementById('person').getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && r.width >= 180")
            .await?;
        if acting != json!(true) {
            return Err("the Acting as box is cut off on a laptop screen".into());
        }
        self.find("nav .platform.slack").await?;
        self.find("nav .platform.teams").await?;
        Ok(())
    }

    /// The same page on a 390 px phone: one column with nothing wider than the screen, the
    /// channel readable, and a screenshot saved beside the laptop one.
    async fn phone(&self) -> Step {
        self.client
            .set_window_size(390, 844)
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let fits = self
            .js("return document.documentElement.scrollWidth <= window.innerWidth + 1")
            .await?;
        if fits != json!(true) {
            let widths = self
                .js("return [document.documentElement.scrollWidth, window.innerWidth]")
                .await?;
            return Err(format!("the page is wider than a 390 px phone: {widths}"));
        }
        let main = self
            .js("return Math.round(document.getElementById('feed').getBoundingClientRect().width)")
            .await?;
        if main.as_i64().unwrap_or(0) < 300 {
            return Err(format!("the channel is {main} px wide on a phone"));
        }
        self.screenshot("sandbox-phone.png").await?;
        self.client
            .set_window_size(1366, 768)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn run(&self) -> Step {
        let root_of = |reference: &str| format!("#feed article.root[data-reference='{reference}']");
        self.client
            .goto(&format!("{}/sandbox/?as=sam-patel", self.base))
            .await
            .map_err(|e| e.to_string())?;
        self.find("body[data-ready='true']").await?;
        self.text_in("#person-role", "Frontline professional")
            .await?;
        self.laptop_checks().await?;

        // Sam, a social worker, types /challenge in the composer and fills in the raise form.
        self.type_into("#composer-text", "/challenge").await?;
        self.type_into("#composer-text", &Key::Enter).await?;
        self.text_in("#form-title", "Raise a challenge").await?;
        self.choose("#f-receiving_agency", "riverside-gp").await?;
        self.choose("#f-other_professional", "dr-okafor").await?;
        self.click("input[name='concerns'][value='adult']").await?;
        self.choose("#f-category", "outcomes-of-assessments")
            .await?;
        self.type_into("#f-summary", SUMMARY).await?;
        self.type_into(
            "#f-desired_outcome",
            "A mental capacity assessment about returning home.",
        )
        .await?;
        self.type_into("#f-case_reference", "ASC-4471").await?;
        self.click("input[name='immediate_risk'][value='no']")
            .await?;
        self.screenshot("sandbox-raise-form.png").await?;
        self.submit_form().await?;

        // The thread appears in Sam's agency's channel, with the receipt only Sam sees.
        let root = self.find("#feed article.root").await?;
        let reference = root
            .attr("data-reference")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the root post carries its reference")?;
        self.text_in(&root_of(&reference), "Stage 1 of 4").await?;
        self.text_in(&root_of(&reference), "<b>not markup</b>")
            .await?;
        let markup = self
            .client
            .find_all(Locator::Css("#feed b, #feed img, #feed script"))
            .await
            .map_err(|e| e.to_string())?;
        if !markup.is_empty() {
            return Err("typed text became markup on the page".into());
        }
        self.text_in("#private-list", &format!("{reference} raised"))
            .await?;

        // ... and in the GP practice's channel.
        self.open_channel("riverside-gp").await?;
        self.text_in(&root_of(&reference), "Professional to professional")
            .await?;
        self.open_channel("norfolk-asc").await?;

        // Sam escalates with the button and the escalate form.
        self.press(&reference, "escalate").await?;
        self.text_in("#form-title", "Escalate").await?;
        self.type_into(
            "#f-reason",
            "Discussed twice, no agreement on the capacity concerns.",
        )
        .await?;
        self.submit_form().await?;
        self.text_in(&root_of(&reference), "Stage 2 of 4").await?;
        self.text_in(
            &format!("{} + ol.replies", root_of(&reference)),
            "escalated to stage 2",
        )
        .await?;

        // The team manager acknowledges in the thread; the root updates in place.
        self.act_as("jordan-reid").await?;
        self.text_in("#private-list", "You are asked to take over")
            .await?;
        self.press(&reference, "acknowledge").await?;
        self.text_in(
            &root_of(&reference),
            "Acknowledged by Jordan Reid (Team Manager, Norfolk Adult Social Care)",
        )
        .await?;

        // Ten working days later, stage 2 is overdue and the thread says so.
        self.click("button[data-advance='working_days'][data-by='5']")
            .await?;
        self.text_in("#clock-note", "Inside working hours").await?;
        self.click("button[data-advance='working_days'][data-by='5']")
            .await?;
        self.text_in(
            &format!("{} + ol.replies", root_of(&reference)),
            "Overdue. Stage 2 was due",
        )
        .await?;

        // The team manager proposes a resolution, accounting for the delay.
        self.press(&reference, "propose_resolution").await?;
        self.text_in("#form-title", "Propose a resolution").await?;
        self.type_into(
            "#f-rationale",
            "The managers met and reviewed the discharge plan together.",
        )
        .await?;
        self.type_into("#f-outcome", "Joint capacity assessment on Friday.")
            .await?;
        self.type_into(
            "#f-outstanding",
            "Discharge-summary sharing, pursued via the practice manager.",
        )
        .await?;
        self.type_into("#f-delay_reason", "The practice lead was on leave.")
            .await?;
        self.submit_form().await?;
        self.text_in(&root_of(&reference), "Proposed resolution")
            .await?;

        // The GP practice's safeguarding lead confirms it in their own channel.
        self.act_as("dr-lindqvist").await?;
        self.open_channel("riverside-gp").await?;
        self.press(&reference, "confirm_resolution").await?;
        self.text_in(&root_of(&reference), "Resolved").await?;
        self.text_in(
            &format!("{} + ol.replies", root_of(&reference)),
            "Resolution confirmed in writing",
        )
        .await?;
        let page = self
            .client
            .execute(
                "return document.documentElement.scrollHeight <= innerHeight",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        if page != json!(true) {
            return Err(
                "the page itself scrolls: its panes should hold everything on a laptop screen"
                    .into(),
            );
        }
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({ block: 'start' })",
                vec![json!(root_of(&reference))],
            )
            .await
            .map_err(|e| e.to_string())?;
        self.screenshot("sandbox-final.png").await?;
        self.phone().await?;

        // The record: every step, and the hash chain checks out. Escape closes it.
        self.click(&format!(
            "{} button[data-record='{reference}']",
            root_of(&reference)
        ))
        .await?;
        self.text_in("#record-verified", "Record intact").await?;
        let rows = self
            .client
            .find_all(Locator::Css("#record-table tbody tr"))
            .await
            .map_err(|e| e.to_string())?
            .len();
        self.text_in("#record-verified", &format!("the {rows} events"))
            .await?;
        self.find("#record-table tr[data-kind='resolution_confirmed']")
            .await?;
        self.find("#record-table tr[data-kind='acknowledged']")
            .await?;
        self.find("#record-table tr[data-kind='overdue_prompted']")
            .await?;
        self.screenshot("sandbox-record.png").await?;
        let active = self
            .client
            .active_element()
            .await
            .map_err(|e| e.to_string())?;
        active
            .send_keys(&Key::Escape)
            .await
            .map_err(|e| e.to_string())?;
        let open = self
            .client
            .execute(
                "return document.getElementById('record-dialog').open",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        if open != json!(false) {
            return Err("Escape did not close the record".into());
        }
        let focused = self
            .client
            .active_element()
            .await
            .map_err(|e| e.to_string())?;
        let back = focused
            .attr("data-record")
            .await
            .map_err(|e| e.to_string())?;
        if back.as_deref() != Some(reference.as_str()) {
            return Err(format!(
                "focus did not return to the record button (it is on {back:?})"
            ));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_walked_through_the_sandbox_in_chromium_from_raise_to_the_confirmed_record() {
    let (chromium, driver) = browser();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = start_server(dir.path());
    to_a_working_morning(&server.base).await;
    let (_driver, driver_url) = start_driver(&driver, dir.path()).await;
    let client = connect(&driver_url, &chromium, &dir.path().join("profile")).await;
    let walk = Walk {
        client,
        base: server.base.clone(),
    };
    let result = walk.run().await;
    if let Err(why) = &result {
        let shot = walk.screenshot("sandbox-failure.png").await;
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        let _ = walk.client.clone().close().await;
        panic!("the sandbox walk failed: {why}\nscreenshot: {shot:?}\nserver log:\n{log}");
    }
    let _ = walk.client.clone().close().await;
    let shot = crate::helpers::crate_root().join("target/test-artefacts/sandbox-final.png");
    assert!(
        shot.is_file(),
        "the final state is saved as a test artefact"
    );
}
