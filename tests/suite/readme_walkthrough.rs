//! The README's "Your directory" and "Connect to Slack", followed literally by a new Board's
//! administrator against the Slack test server: a directory file with agencies only, a CSV of
//! a few hundred people imported with the real binary, `serve` started with the settings the
//! configuration table names, the app installed from `/slack/install`, each agency's channel
//! connected from the chat, and someone whose Slack account appears in no file — only their
//! work email, in the CSV — raises a challenge that is threaded into the connected channels.

use crate::databases::TestDb;
use crate::helpers::crate_root;
use crate::slack_app::{FORM, Who, command_form, sign, submission, unix_now};
use crate::slack_server::{self, OAuthApp, SlackServer, Workspace};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const TEAM: &str = "T0NORFOLK";
const TOKEN: &str = "xoxb-norfolk-walkthrough";
const ASC_CHANNEL: &str = "C0ASCCHAL";
const CARERS_CHANNEL: &str = "C0CARERS";
const BOARD_CHANNEL: &str = "C0NSABUNIT";
const SIGNING_SECRET: &str = "walkthrough-signing-secret-0001";
const CLIENT_ID: &str = "5550001.0009999";
const CLIENT_SECRET: &str = "walkthrough-client-secret";
const TOKEN_KEY: &str = "4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a";
const PUBLIC_URL: &str = "https://challenges.norfolk.example.test";

/// The directory file as "Your directory" shows it: agencies, their domains and admins; no
/// people, no channels, no chat ids.
const DIRECTORY: &str = r#"[[agency]]
id = "norfolk-asc"
name = "Norfolk Adult Social Care"
kind = "adult-social-care"
board = "norfolk"
domains = ["norfolk-asc.example.org"]
admins = ["helen.ward@norfolk-asc.example.org"]

[[agency]]
id = "norfolk-carers"
name = "Norfolk Carers Network"
kind = "voluntary-sector"
board = "norfolk"
domains = ["norfolk-carers.example.org"]
admins = ["ruth.okafor@norfolk-carers.example.org"]

[[agency]]
id = "norfolk-police"
name = "Norfolk Constabulary"
kind = "police"
board = "norfolk"
domains = ["norfolk.police.example.uk"]
admins = ["dan.price@norfolk.police.example.uk"]

[[agency]]
id = "norfolk-board"
name = "NSAB business unit"
kind = "board"
board = "norfolk"
domains = ["norfolk-board.example.org"]
admins = ["nsab.unit@norfolk-board.example.org"]
"#;

const FIRST: [&str; 16] = [
    "Amira", "Ben", "Chloe", "Dev", "Ellen", "Farid", "Grace", "Hugo", "Isla", "Jon", "Kemi",
    "Liam", "Maya", "Nadia", "Owen", "Pia",
];
const LAST: [&str; 12] = [
    "Adams", "Brook", "Carter", "Dunn", "Evans", "Ford", "Gill", "Hart", "Iqbal", "Jones", "Khan",
    "Lowe",
];

/// One agency's people, top down: (rung, how many, the rung they report to). Everyone's
/// manager is a person of the rung above, spread evenly.
struct Tier {
    role: &'static str,
    count: usize,
}

/// The CSV of a few hundred people: the named admins and the person who raises come first in
/// their agencies; the rest are generated, each with a manager on the rung above.
fn people_csv() -> (String, usize) {
    let agencies: [(&str, &str, &str, Vec<Tier>); 4] = [
        (
            "norfolk-asc",
            "norfolk-asc.example.org",
            "Helen Ward",
            vec![
                Tier {
                    role: "director-of-social-work",
                    count: 1,
                },
                Tier {
                    role: "operations-director",
                    count: 2,
                },
                Tier {
                    role: "head-of-service",
                    count: 4,
                },
                Tier {
                    role: "team-manager",
                    count: 12,
                },
                Tier {
                    role: "social-worker",
                    count: 110,
                },
            ],
        ),
        (
            "norfolk-carers",
            "norfolk-carers.example.org",
            "Ruth Okafor",
            vec![
                Tier {
                    role: "chair-of-trustees",
                    count: 1,
                },
                Tier {
                    role: "senior-manager",
                    count: 2,
                },
                Tier {
                    role: "designated-safeguarding-lead",
                    count: 6,
                },
                Tier {
                    role: "staff-or-volunteer",
                    count: 60,
                },
            ],
        ),
        (
            "norfolk-police",
            "norfolk.police.example.uk",
            "Dan Price",
            vec![
                Tier {
                    role: "chief-superintendent",
                    count: 1,
                },
                Tier {
                    role: "detective-superintendent",
                    count: 1,
                },
                Tier {
                    role: "detective-chief-inspector",
                    count: 2,
                },
                Tier {
                    role: "detective-inspector",
                    count: 4,
                },
                Tier {
                    role: "detective-sergeant",
                    count: 8,
                },
                Tier {
                    role: "constable",
                    count: 80,
                },
            ],
        ),
        (
            "norfolk-board",
            "norfolk-board.example.org",
            "NSAB Unit",
            vec![
                Tier {
                    role: "business-unit",
                    count: 2,
                },
                Tier {
                    role: "chair",
                    count: 1,
                },
            ],
        ),
    ];
    let mut csv = String::from("name,email,agency,role,manager_email\n");
    let mut rows = 0;
    let mut n = 0usize;
    for (agency, domain, admin, tiers) in &agencies {
        let mut above: Vec<String> = Vec::new();
        for (t, tier) in tiers.iter().enumerate() {
            let mut this = Vec::new();
            for i in 0..tier.count {
                let name = if t == 0 && i == 0 {
                    (*admin).to_string()
                } else if *agency == "norfolk-asc" && tier.role == "social-worker" && i == 0 {
                    "Sam Patel".to_string()
                } else {
                    n += 1;
                    format!(
                        "{} {}",
                        FIRST[n % FIRST.len()],
                        LAST[(n / FIRST.len()) % LAST.len()]
                    )
                };
                let local = name.to_lowercase().replace(' ', ".");
                let email = if t == 0 && i == 0 || name == "Sam Patel" {
                    format!("{local}@{domain}")
                } else {
                    format!("{local}.{n}@{domain}")
                };
                // The board's rungs are not a reporting line.
                let manager = if *agency == "norfolk-board" || above.is_empty() {
                    String::new()
                } else {
                    above[i % above.len()].clone()
                };
                csv.push_str(&format!(
                    "{name},{email},{agency},{},{manager}\n",
                    tier.role
                ));
                rows += 1;
                this.push(email);
            }
            above = this;
        }
    }
    (csv, rows)
}

/// Runs the real binary with the README's environment settings.
fn run(env: &[(&str, String)], args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .args(args)
        .current_dir(crate_root())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("the escalation-bot binary runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `serve`, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(env: &[(&str, String)], log_path: &Path) -> (Serve, String) {
    let log = std::fs::File::create(log_path).expect("a log file");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(crate_root())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("serve starts");
    let out = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("serve writes a line");
    let url = line
        .trim()
        .strip_prefix("escalation-bot is serving on ")
        .unwrap_or_else(|| {
            let _ = child.wait();
            panic!(
                "serve says where it listens: {line:?}\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            )
        })
        .to_string();
    (Serve(child), url)
}

/// A request Slack signs and sends to the service.
async fn slack_post(http: &reqwest::Client, url: &str, path: &str, body: &str) -> (u16, String) {
    let timestamp = unix_now();
    let response = http
        .post(format!("{url}{path}"))
        .header("content-type", FORM)
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header(
            "x-slack-signature",
            sign(SIGNING_SECRET, timestamp, body.as_bytes()),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("the service answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn command(
    http: &reqwest::Client,
    url: &str,
    slack: &SlackServer,
    who: Who,
    text: &str,
) -> (u16, String) {
    let body = command_form(who, text, &slack.issue_trigger());
    slack_post(http, url, "/slack/commands", &body).await
}

fn ephemeral_text(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["text"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string())
}

const HELEN: Who = Who {
    person: "helen",
    team: TEAM,
    user: "U0HELEN",
    channel: ASC_CHANNEL,
};
const RUTH: Who = Who {
    person: "ruth",
    team: TEAM,
    user: "U0RUTH",
    channel: CARERS_CHANNEL,
};
const NSAB: Who = Who {
    person: "nsab",
    team: TEAM,
    user: "U0NSAB",
    channel: BOARD_CHANNEL,
};
/// Sam Patel: in the CSV by work email only; Slack knows the email, no file knows `U0SAM`.
const SAM: Who = Who {
    person: "sam",
    team: TEAM,
    user: "U0SAM",
    channel: ASC_CHANNEL,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_board_follows_the_readme_from_a_csv_to_a_challenge_raised_by_someone_never_typed_in()
{
    // Slack: one workspace the agencies share, its members' work emails in their profiles.
    let workspace = Workspace::new(
        TEAM,
        TOKEN,
        &[ASC_CHANNEL, CARERS_CHANNEL, BOARD_CHANNEL],
        &[],
    )
    .with_member("U0HELEN", "helen.ward@norfolk-asc.example.org")
    .with_member("U0RUTH", "ruth.okafor@norfolk-carers.example.org")
    .with_member("U0NSAB", "nsab.unit@norfolk-board.example.org")
    .with_member("U0SAM", "Sam.Patel@norfolk-asc.example.org");
    let mut config = slack_server::Config::new(vec![workspace]);
    config.oauth = Some(OAuthApp {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: format!("{PUBLIC_URL}/slack/oauth/callback"),
        scopes: [
            "commands",
            "chat:write",
            "chat:write.public",
            "users:read",
            "users:read.email",
        ]
        .map(String::from)
        .to_vec(),
    });
    let slack = SlackServer::start(config).await;

    // The Board's files: the directory file and the people's CSV.
    let folder = tempfile::tempdir().expect("a folder for the Board's files");
    let directory = folder.path().join("directory.toml");
    std::fs::write(&directory, DIRECTORY).expect("the directory file is written");
    let (csv, rows) = people_csv();
    assert!(rows >= 250, "a few hundred people: {rows}");
    let people = folder.path().join("people.csv");
    std::fs::write(&people, &csv).expect("the CSV is written");
    let db = TestDb::sqlite();

    // Every setting by the environment variable the configuration table names.
    let env: Vec<(&str, String)> = vec![
        ("DATABASE_URL", db.url.clone()),
        ("DIRECTORY", directory.display().to_string()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.into()),
        ("SLACK_CLIENT_ID", CLIENT_ID.into()),
        ("SLACK_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("SLACK_TOKEN_KEY", TOKEN_KEY.into()),
        ("PUBLIC_URL", PUBLIC_URL.into()),
        (
            "SLACK_OAUTH_AUTHORIZE_URL",
            format!("{}/oauth/v2/authorize", slack.url),
        ),
        ("SLACK_API_BASE_URL", slack.api_base()),
    ];

    // Started before the people are imported, `serve` stops and says what to do first.
    let early = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(crate_root())
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("serve stops at once")
    .expect("serve runs");
    let said = String::from_utf8_lossy(&early.stderr);
    assert!(!early.status.success(), "{said}");
    assert!(
        said.contains("No people have been imported into this database yet")
            && said.contains("escalation-bot directory import people.csv"),
        "{said}"
    );

    // "Your directory": check the CSV, then apply it.
    let people_arg = people.display().to_string();
    let (code, out) = run(&env, &["directory", "import", &people_arg, "--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("added {rows}")), "{out}");
    let (code, out) = run(&env, &["directory", "import", &people_arg]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied as directory change 1"), "{out}");

    // "Running the service".
    let (_serve, url) = serve(&env, &folder.path().join("serve.log"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");

    // "Connect to Slack", step 3: the install link, Slack's page, back to the service.
    let install = http
        .get(format!("{url}/slack/install"))
        .send()
        .await
        .expect("the install link answers");
    assert_eq!(install.status().as_u16(), 302);
    let authorize = install
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let back = slack
        .allow(&authorize, TEAM)
        .unwrap_or_else(|e| panic!("Slack's authorize page refuses: {e}"));
    let path = back
        .strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("Slack sends the admin back to PUBLIC_URL: {back}"));
    let page = http
        .get(format!("{url}{path}"))
        .send()
        .await
        .expect("the callback answers");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap_or_default();
    assert!(page.contains("is installed"), "{page}");
    assert!(page.contains("/challenge connect"), "{page}");

    // Step 4: each agency's administrator connects its channel from the chat.
    for admin in [HELEN, RUTH, NSAB] {
        let (status, body) = command(&http, &url, &slack, admin, "connect").await;
        assert_eq!(status, 200, "{body}");
        assert!(
            ephemeral_text(&body).starts_with("Connected"),
            "{}: {body}",
            admin.person
        );
    }

    // Step 5: Sam, whom no file names on Slack, types /challenge and fills in the form.
    let (status, body) = command(&http, &url, &slack, SAM, "").await;
    assert_eq!(status, 200);
    assert_eq!(body, "", "the form opens: {}", ephemeral_text(&body));
    let view = slack
        .calls()
        .iter()
        .rev()
        .find(|c| c.method == "views.open")
        .map(|c| c.response["view"].clone())
        .expect("the raise form was opened");
    let inputs = [
        ("receiving_agency", "norfolk-carers"),
        ("concerns", "adult"),
        ("category", "outcomes-of-assessments"),
        (
            "summary",
            "Disagreement about the carer's assessment outcome",
        ),
        (
            "desired_outcome",
            "A joint review of the assessment with both agencies.",
        ),
        ("case_reference", "ASC-88120"),
        ("immediate_risk", "no"),
    ];
    let payload = submission(SAM, &view, &inputs, &slack.issue_trigger());
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("a form");
    let (status, answer) = slack_post(&http, &url, "/slack/interactions", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.is_empty() || !answer.contains("errors"),
        "the raise is accepted: {answer}"
    );

    // The thread appears in both agencies' connected channels.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let posted = |channel: &str| {
            slack.calls().iter().any(|c| {
                c.method == "chat.postMessage"
                    && c.field("channel") == channel
                    && c.field("thread_ts").is_empty()
                    && c.field("text").contains("NSAB-")
            })
        };
        if posted(ASC_CHANNEL) && posted(CARERS_CHANNEL) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the challenge's threads did not appear: {:?}",
            slack
                .calls()
                .iter()
                .map(|c| (c.method.clone(), c.field("channel").to_string()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Step 5's `directory links` shows how Sam was found: by the work email Slack gave.
    let (code, out) = run(&env, &["directory", "links"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.lines().any(|l| l.contains("U0SAM")
            && l.to_lowercase()
                .contains("sam.patel@norfolk-asc.example.org")),
        "{out}"
    );
}
