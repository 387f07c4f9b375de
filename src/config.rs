//! Typed configuration for `serve`, read once at start from flags and environment variables.

use clap::Args;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A secret: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must use it (signing, an Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Everything `serve` needs. See the README's configuration table.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database URL: a SQLite file path (created on first start) or `postgres://…`.
    #[arg(long = "database-url", env = "DATABASE_URL", default_value = crate::cli::DEFAULT_DATABASE)]
    pub database_url: String,
    /// The directory of agencies and people.
    #[arg(long, env = "DIRECTORY", default_value = "policies/demo/directory.toml")]
    pub directory: PathBuf,
    /// The folder of board policies.
    #[arg(long, env = "POLICIES", default_value = "policies")]
    pub policies: PathBuf,
    /// Slack signing secrets, comma-separated (several while rotating).
    #[arg(long = "slack-signing-secret", env = "SLACK_SIGNING_SECRET", value_delimiter = ',', hide_env_values = true)]
    pub slack_signing_secrets: Vec<Secret>,
    /// The Slack bot token (`xoxb-…`) used for workspaces without their own.
    #[arg(long = "slack-bot-token", env = "SLACK_BOT_TOKEN", hide_env_values = true)]
    pub slack_bot_token: Option<Secret>,
    /// Bot tokens per Slack workspace, comma-separated `TEAMID=xoxb-…` pairs.
    #[arg(long = "slack-bot-tokens", env = "SLACK_BOT_TOKENS", value_delimiter = ',', hide_env_values = true)]
    pub slack_bot_tokens: Vec<Secret>,
    /// The Slack Web API base URL (tests and staging point it elsewhere).
    #[arg(long = "slack-api-base-url", env = "SLACK_API_BASE_URL", default_value = "https://slack.com/api/")]
    pub slack_api_base_url: String,
    /// Largest request body accepted, in bytes.
    #[arg(long = "max-body-bytes", env = "MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// Run the sandbox: a web page standing in for Slack and Teams, with a demo clock.
    #[arg(long)]
    pub sandbox: bool,
}

impl ServeConfig {
    /// The per-workspace Slack bot tokens, or a message naming the malformed entry (never its token).
    pub fn slack_tokens(&self) -> Result<HashMap<String, Secret>, String> {
        let mut out = HashMap::new();
        for (i, pair) in self.slack_bot_tokens.iter().enumerate() {
            let Some((team, token)) = pair.expose().split_once('=') else {
                return Err(format!(
                    "SLACK_BOT_TOKENS entry {} is not TEAMID=token",
                    i + 1
                ));
            };
            out.insert(team.trim().to_string(), Secret::new(token.trim()));
        }
        Ok(out)
    }
}
