//! Typed configuration for `serve`, read once at start from flags and environment variables.

use clap::Args;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The SQLite file used when no database URL is given.
pub const DEFAULT_DATABASE: &str = "escalation-bot.db";

/// Where the Bot Framework publishes its OpenID metadata (and through it, its signing keys).
pub const BOT_FRAMEWORK_OPENID_METADATA: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";

/// The Entra ID (Azure AD) token endpoint base; `/{tenant}/oauth2/v2.0/token` is appended.
pub const DEFAULT_TOKEN_BASE: &str = "https://login.microsoftonline.com";

/// The Connector base to use for a tenant before any of its activities told us one.
pub const DEFAULT_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";

/// One Azure Bot registration (single-tenant: new multi-tenant registrations are no longer
/// possible): its Microsoft App ID, the tenant it belongs to, and its client secret.
#[derive(Debug, Clone)]
pub struct BotRegistration {
    pub app_id: String,
    pub tenant_id: String,
    pub secret: Secret,
}

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
    #[arg(long = "database-url", env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database_url: String,
    /// The directory of agencies and people.
    #[arg(
        long,
        env = "DIRECTORY",
        default_value = "policies/demo/directory.toml"
    )]
    pub directory: PathBuf,
    /// The folder of board policies.
    #[arg(long, env = "POLICIES", default_value = "policies")]
    pub policies: PathBuf,
    /// Slack signing secrets, comma-separated (several while rotating).
    #[arg(
        long = "slack-signing-secret",
        env = "SLACK_SIGNING_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub slack_signing_secrets: Vec<Secret>,
    /// The Slack bot token (`xoxb-…`) used for workspaces without their own.
    #[arg(
        long = "slack-bot-token",
        env = "SLACK_BOT_TOKEN",
        hide_env_values = true
    )]
    pub slack_bot_token: Option<Secret>,
    /// Bot tokens per Slack workspace, comma-separated `TEAMID=xoxb-…` pairs.
    #[arg(
        long = "slack-bot-tokens",
        env = "SLACK_BOT_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub slack_bot_tokens: Vec<Secret>,
    /// The Slack app's OAuth client id (from its Basic Information page): with the secret, the
    /// key and `PUBLIC_URL`, workspaces install the app from `/slack/install`.
    #[arg(long = "slack-client-id", env = "SLACK_CLIENT_ID")]
    pub slack_client_id: Option<String>,
    /// The Slack app's OAuth client secret.
    #[arg(
        long = "slack-client-secret",
        env = "SLACK_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub slack_client_secret: Option<Secret>,
    /// The key installed workspaces' bot tokens are sealed with in the database (64 hex
    /// characters, e.g. `openssl rand -hex 32`); keep it outside the database.
    #[arg(
        long = "slack-token-key",
        env = "SLACK_TOKEN_KEY",
        hide_env_values = true
    )]
    pub slack_token_key: Option<Secret>,
    /// Slack's OAuth v2 authorize page (tests point it elsewhere).
    #[arg(
        long = "slack-oauth-authorize-url",
        env = "SLACK_OAUTH_AUTHORIZE_URL",
        default_value = "https://slack.com/oauth/v2/authorize"
    )]
    pub slack_oauth_authorize_url: String,
    /// The Slack Web API base URL (tests and staging point it elsewhere).
    #[arg(
        long = "slack-api-base-url",
        env = "SLACK_API_BASE_URL",
        default_value = "https://slack.com/api/"
    )]
    pub slack_api_base_url: String,
    /// Teams bot registrations (single-tenant Azure Bots), comma-separated `APP_ID@TENANT_ID`.
    #[arg(long = "teams-bot", env = "TEAMS_BOTS", value_delimiter = ',')]
    pub teams_bots: Vec<String>,
    /// Client secrets of the Teams bots, comma-separated `APP_ID=secret` pairs.
    #[arg(
        long = "teams-app-secret",
        env = "TEAMS_APP_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub teams_app_secrets: Vec<Secret>,
    /// A file of Teams bot client secrets, one `APP_ID=secret` a line (a mounted secret).
    #[arg(long = "teams-secrets-file", env = "TEAMS_SECRETS_FILE")]
    pub teams_secrets_file: Option<PathBuf>,
    /// Where the Bot Framework publishes its token signing keys (tests serve their own).
    #[arg(long = "teams-openid-metadata-url", env = "TEAMS_OPENID_METADATA_URL", default_value = BOT_FRAMEWORK_OPENID_METADATA)]
    pub teams_openid_metadata_url: String,
    /// The Entra ID token endpoint base; `/{tenant}/oauth2/v2.0/token` is appended.
    #[arg(long = "teams-token-base-url", env = "TEAMS_TOKEN_BASE_URL", default_value = DEFAULT_TOKEN_BASE)]
    pub teams_token_base_url: String,
    /// The Bot Connector base used for a tenant before any of its activities named one.
    #[arg(long = "teams-service-url", env = "TEAMS_SERVICE_URL", default_value = DEFAULT_SERVICE_URL)]
    pub teams_service_url: String,
    /// How long the delivery worker holds a claimed post before another replica may take it
    /// over (seconds). A post whose worker died is looked for on the platform once this runs out.
    #[arg(long = "delivery-lease-secs", env = "DELIVERY_LEASE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub delivery_lease_secs: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long = "max-body-bytes", env = "MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// The address people reach the service at, for links sent in chat (the Board view's
    /// sign-in links), e.g. `https://escalation.example.org`; the listening address otherwise.
    #[arg(long = "public-url", env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Run the sandbox: a web page standing in for Slack and Teams, with a demo clock.
    #[arg(long)]
    pub sandbox: bool,
    /// The record's checkpoint signing key (64 hex characters, from `audit new-key`): with it
    /// the service posts a signed checkpoint of the record to each board's channel daily.
    #[arg(
        long = "audit-signing-key",
        env = "AUDIT_SIGNING_KEY",
        hide_env_values = true
    )]
    pub audit_signing_key: Option<Secret>,
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

    /// The Teams bot registrations with their secrets (from `TEAMS_APP_SECRETS` or the secrets
    /// file), or a message naming what is missing (never a secret).
    pub fn teams_registrations(&self) -> Result<Vec<BotRegistration>, String> {
        let mut secrets: HashMap<String, Secret> = HashMap::new();
        if let Some(path) = &self.teams_secrets_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!("cannot read the Teams secrets file {}: {e}", path.display())
            })?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let Some((app, secret)) = line.split_once('=') else {
                    return Err(format!(
                        "{} line {} is not APP_ID=secret",
                        path.display(),
                        i + 1
                    ));
                };
                secrets.insert(app.trim().to_string(), Secret::new(secret.trim()));
            }
        }
        for (i, pair) in self.teams_app_secrets.iter().enumerate() {
            let Some((app, secret)) = pair.expose().split_once('=') else {
                return Err(format!(
                    "TEAMS_APP_SECRETS entry {} is not APP_ID=secret",
                    i + 1
                ));
            };
            secrets.insert(app.trim().to_string(), Secret::new(secret.trim()));
        }
        let mut out = Vec::new();
        for entry in &self.teams_bots {
            let Some((app_id, tenant_id)) = entry.trim().split_once('@') else {
                return Err(format!(
                    "TEAMS_BOTS entry {entry:?} is not APP_ID@TENANT_ID"
                ));
            };
            let (app_id, tenant_id) = (app_id.trim(), tenant_id.trim());
            if app_id.is_empty() || tenant_id.is_empty() {
                return Err(format!(
                    "TEAMS_BOTS entry {entry:?} is not APP_ID@TENANT_ID"
                ));
            }
            let secret = secrets.get(app_id).cloned().ok_or_else(|| {
                format!("the Teams bot {app_id} has no client secret: add {app_id}=… to TEAMS_APP_SECRETS or the TEAMS_SECRETS_FILE")
            })?;
            out.push(BotRegistration {
                app_id: app_id.to_string(),
                tenant_id: tenant_id.to_string(),
                secret,
            });
        }
        Ok(out)
    }
}
