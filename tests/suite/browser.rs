//! Debian's headless Chromium driven through ChromeDriver, for the tests that look at what a
//! person's browser shows (the sandbox, and Teams cards drawn by Microsoft's renderer).

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A program on the PATH or at one of the usual Debian places.
pub fn tool(names: &[&str]) -> Option<PathBuf> {
    let dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    names.iter().find_map(|name| {
        let path = Path::new(name);
        if path.is_absolute() {
            return path.is_file().then(|| path.to_path_buf());
        }
        dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
    })
}

/// Debian's Chromium and ChromeDriver, or a failure that says how to install them: a browser
/// test that cannot run must never pass by skipping.
pub fn browser() -> (PathBuf, PathBuf) {
    let chromium = tool(&["/usr/bin/chromium", "chromium", "chromium-browser"]);
    let driver = tool(&["/usr/bin/chromedriver", "chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => (c, d),
        (c, d) => panic!(
            "the browser tests need Chromium and ChromeDriver (found chromium: {}, chromedriver: {}); \
             install Debian's packages with `apt-get install chromium chromium-driver` (`.ci/run` does this when they are missing)",
            c.map_or("no".into(), |p| p.display().to_string()),
            d.map_or("no".into(), |p| p.display().to_string()),
        ),
    }
}

/// A child process that is killed when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// ChromeDriver on a free loopback port.
pub async fn start_driver(driver: &Path, dir: &Path) -> (Running, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = std::fs::File::create(dir.join("chromedriver.log")).expect("a log file");
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("a log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("chromedriver ({}) starts: {e}", driver.display()));
    let process = Running(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{url}/status")).send().await
            && r.status().is_success()
        {
            return (process, url);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("chromedriver did not answer on {url} within 30 seconds");
}

pub async fn connect(driver_url: &str, chromium: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1366,768",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .unwrap_or_else(|e| panic!("a headless Chromium session starts through chromedriver: {e}"))
}
