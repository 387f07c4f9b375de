//! `serve`, started from this binary as its own process on loopback, so the CPU time and memory
//! a bench reports are the server's own.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// CPU time in seconds from the fields of a `/proc/PID/stat` (user plus system).
fn stat_cpu_seconds(stat: &str) -> f64 {
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The CPU seconds of each PostgreSQL process on this machine, by process id. On loopback the
/// database's work is part of a note's cost, and with PostgreSQL most of it: a bench reports
/// it beside the server's own.
pub(super) fn postgres_cpu() -> HashMap<u32, f64> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() != "postgres" {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) {
            out.insert(pid, stat_cpu_seconds(&stat));
        }
    }
    out
}

/// The CPU seconds PostgreSQL's processes used between two [`postgres_cpu`] readings: a
/// process started since counts whole; one that ended since is not counted (the pool's
/// connections stay open through a run).
pub(super) fn postgres_cpu_since(before: &HashMap<u32, f64>) -> f64 {
    postgres_cpu()
        .iter()
        .map(|(pid, now)| now - before.get(pid).copied().unwrap_or(0.0))
        .filter(|d| *d > 0.0)
        .sum()
}

/// A running `serve`; killed when dropped.
pub(super) struct Server {
    child: tokio::process::Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub(super) base: String,
}

/// What the server is started with.
pub(super) struct Setup<'a> {
    /// The database URL.
    pub(super) url: &'a str,
    /// The Slack Web API base URL (a stand-in on loopback).
    pub(super) slack: &'a str,
    pub(super) directory: &'a Path,
    pub(super) policies: &'a Path,
    /// The Slack signing secret requests are signed with.
    pub(super) secret: &'a str,
    /// Where its log goes (`serve.log`).
    pub(super) folder: &'a Path,
}

impl Server {
    /// Starts `serve` and waits until `/readyz` answers (at most 30 s).
    pub(super) async fn start(setup: &Setup<'_>) -> Result<Server, String> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            l.local_addr().map_err(|e| e.to_string())?.port()
        };
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let log_path = setup.folder.join("serve.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new(exe)
            .arg("serve")
            .env("LISTEN", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", setup.url)
            .env("DIRECTORY", setup.directory)
            .env("POLICIES", setup.policies)
            .env("SLACK_SIGNING_SECRET", setup.secret)
            .env("SLACK_BOT_TOKEN", "xoxb-bench")
            .env("SLACK_API_BASE_URL", setup.slack)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start serve: {e}"))?;
        let pid = child.id().ok_or("serve exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                return Ok(Server { child, pid, base });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "serve did not become ready in 30 s; see {}",
            log_path.display()
        ))
    }

    /// User and system CPU seconds the server has used (`/proc/PID/stat`, in USER_HZ = 100).
    pub(super) fn cpu_seconds(&self) -> f64 {
        stat_cpu_seconds(
            &std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default(),
        )
    }

    /// Resident memory now and at its peak, in MB (`/proc/PID/status`).
    pub(super) fn rss_mb(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
    }

    /// SIGKILL: what was acknowledged must survive it.
    pub(super) fn kill(&mut self) {
        let _ = self.child.start_kill();
    }
}
