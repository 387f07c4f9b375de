//! Installing the Slack app by OAuth v2: `GET /slack/install` sends the admin to Slack's
//! authorize page with a single-use state; `GET /slack/oauth/callback` checks the state,
//! exchanges the code with `oauth.v2.access`, and keeps the workspace's bot token sealed with
//! AES-256-GCM under a key from configuration (the workspace id bound in as associated data).
//! A token is never logged, shown or stored in the clear. `app_uninstalled` and
//! `tokens_revoked` remove it.

use super::inbound::SlackState;
use crate::config::Secret;
use crate::directory::Platform;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The bot scopes the app asks for: only those the service uses.
pub const BOT_SCOPES: &str = "commands,chat:write,chat:write.public,im:write,im:history,app_mentions:read,channels:history,groups:history,users:read,users:read.email";

/// How long an install link's state may be used.
const STATE_MINUTES: i64 = 10;

/// What the adapter keeps its install states and tokens under in the store.
const ADAPTER: &str = "slack";

/// Seals and opens bot tokens with the key from configuration.
#[derive(Clone)]
pub struct TokenSealer {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for TokenSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSealer(…)")
    }
}

impl TokenSealer {
    /// A sealer from 64 hexadecimal characters (32 bytes), as `SLACK_TOKEN_KEY` holds them.
    pub fn from_hex(key: &str) -> Result<TokenSealer, String> {
        let bytes = hex::decode(key.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or("SLACK_TOKEN_KEY must be 64 hexadecimal characters (32 random bytes), e.g. from `openssl rand -hex 32`")?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| "SLACK_TOKEN_KEY cannot be used as an AES-256 key".to_string())?;
        Ok(TokenSealer {
            key: std::sync::Arc::new(LessSafeKey::new(key)),
        })
    }

    /// The token sealed for one workspace: hex of a fresh nonce, then ciphertext and tag.
    pub fn seal(&self, team: &str, token: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| "no randomness for a nonce".to_string())?;
        let mut sealed = token.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(team.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| "the token could not be sealed".to_string())?;
        Ok(format!("{}{}", hex::encode(nonce), hex::encode(sealed)))
    }

    /// The token a `seal` made for this workspace; `None` when it was altered, sealed for
    /// another workspace, or under another key.
    pub fn open(&self, team: &str, sealed: &str) -> Option<Secret> {
        let bytes = hex::decode(sealed).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::from(team.as_bytes()),
                &mut buffer,
            )
            .ok()?;
        String::from_utf8(plain.to_vec()).ok().map(Secret::new)
    }
}

/// What installing needs: the app's OAuth credentials, where Slack sends people back, and
/// the key tokens are sealed with.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    pub client_id: String,
    pub client_secret: Secret,
    /// Slack's authorize page, `https://slack.com/oauth/v2/authorize` unless configured.
    pub authorize_url: String,
    /// `{public url}/slack/oauth/callback`, as registered in the app's manifest.
    pub redirect_uri: String,
    pub sealer: TokenSealer,
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body><h1>{}</h1><p>{}</p></body></html>",
            escape(title),
            escape(title),
            escape(body)
        )),
    )
        .into_response()
}

fn not_set_up() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Slack install is not set up",
        "This escalation-bot has no SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_TOKEN_KEY or PUBLIC_URL, so it cannot be installed from Slack. Ask whoever runs it to set them.",
    )
}

/// `GET /slack/install`: to Slack's authorize page, with a fresh state kept for one use.
pub async fn install(State(state): State<SlackState>) -> Response {
    let Some(oauth) = state.oauth() else {
        return not_set_up();
    };
    let mut random = [0u8; 24];
    if SystemRandom::new().fill(&mut random).is_err() {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The install link could not be made just now.",
        );
    }
    let nonce = hex::encode(random);
    let service = state.service();
    let now = service.now();
    let kept = service
        .adapter_state(ADAPTER)
        .put(
            &format!("oauth_state:{nonce}"),
            &json!({ "issued_us": now.timestamp_micros() }),
        )
        .await;
    if let Err(e) = kept {
        tracing::error!(error = %e, "slack install: cannot keep the state");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The install link could not be made just now.",
        );
    }
    let query = serde_urlencoded::to_string([
        ("client_id", oauth.client_id.as_str()),
        ("scope", BOT_SCOPES),
        ("redirect_uri", oauth.redirect_uri.as_str()),
        ("state", nonce.as_str()),
    ])
    .unwrap_or_default();
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("{}?{query}", oauth.authorize_url))],
    )
        .into_response()
}

/// What Slack sends back to the redirect URL.
#[derive(Debug, Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /slack/oauth/callback`: checks the state (issued here, unused, recent), exchanges the
/// code, and keeps the workspace's bot token sealed.
pub async fn callback(State(state): State<SlackState>, Query(q): Query<Callback>) -> Response {
    let Some(oauth) = state.oauth() else {
        return not_set_up();
    };
    let refused = |why: &str| page(StatusCode::BAD_REQUEST, "Not installed", why);
    if let Some(error) = q.error.as_deref() {
        tracing::info!(error, "slack install: the admin did not allow the app");
        return refused(
            "Slack did not install escalation-bot (the request was cancelled or not allowed). Start again from the install link if you meant to install it.",
        );
    }
    let (Some(code), Some(nonce)) = (q.code, q.state) else {
        return refused(
            "This page is reached from Slack after allowing escalation-bot; start from the install link.",
        );
    };
    let service = state.service();
    let now = service.now();
    let issued = service
        .adapter_state(ADAPTER)
        .get::<serde_json::Value>(&format!("oauth_state:{nonce}"))
        .await
        .ok()
        .flatten()
        .and_then(|v| v["issued_us"].as_i64());
    let fresh =
        issued.is_some_and(|us| now.timestamp_micros() - us <= STATE_MINUTES * 60 * 1_000_000);
    if !fresh {
        tracing::warn!(
            "slack install: a callback with a state this service did not issue, or an old one"
        );
        return refused(
            "This install link is not one escalation-bot made, or it is more than 10 minutes old. Start again from the install link.",
        );
    }
    match service
        .first_time(&format!("slack:oauth_state:{nonce}"))
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("slack install: a state used a second time");
            return refused(
                "This install link was already used. Start again from the install link.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "slack install: cannot record the state's use");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The install could not be finished just now; start again from the install link.",
            );
        }
    }
    let answer = state
        .client()
        .call_form(
            None,
            "oauth.v2.access",
            &[
                ("client_id", oauth.client_id.as_str()),
                ("client_secret", oauth.client_secret.expose()),
                ("code", code.as_str()),
                ("redirect_uri", oauth.redirect_uri.as_str()),
            ],
        )
        .await;
    let envelope = match answer {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "slack install: oauth.v2.access failed");
            return refused(
                "Slack did not confirm the install (the link may have expired). Start again from the install link.",
            );
        }
    };
    let (Some(token), Some(team)) = (
        envelope["access_token"].as_str(),
        envelope["team"]["id"].as_str(),
    ) else {
        return refused("Slack's answer had no bot token; start again from the install link.");
    };
    let team_name = envelope["team"]["name"]
        .as_str()
        .unwrap_or(team)
        .to_string();
    let sealed = match oauth.sealer.seal(team, token) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "slack install: cannot seal the token");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The install could not be finished just now.",
            );
        }
    };
    let kept = service
        .adapter_state(ADAPTER)
        .put(
            &format!("token:{team}"),
            &json!({ "sealed": sealed, "team_name": team_name }),
        )
        .await;
    if let Err(e) = kept {
        tracing::error!(error = %e, "slack install: cannot keep the token");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The install could not be finished just now.",
        );
    }
    state.tokens().install(team, Secret::new(token));
    tokens_changed(service).await;
    tracing::info!(team, "slack: installed to a workspace");
    resume(service, team, &team_name).await;
    page(
        StatusCode::OK,
        "escalation-bot is installed",
        &format!(
            "escalation-bot is installed to {team_name}. Next: an administrator of your agency (as your Board's directory names them) types /challenge connect in the channel your agency's challenges should be threaded in. Then anyone in the directory can type /challenge to raise one."
        ),
    )
}

/// Posting to a workspace installed again resumes on every replica: the posts kept while it
/// was uninstalled (or its token revoked) go out now, in order, and the boards told of the
/// removal are told it is back.
async fn resume(service: &crate::service::Service, team: &str, team_name: &str) {
    match service.resume_workspace(Platform::Slack, team).await {
        Ok((true, kept)) => {
            tracing::info!(
                team,
                kept,
                "slack: installed again; the posts kept for the workspace go out now"
            );
            service
                .tell_boards_about_workspace(
                    Platform::Slack,
                    team,
                    "escalation-bot is installed again",
                    &format!(
                        "escalation-bot is installed again in the Slack workspace {team_name} ({team}). The posts kept for the agencies there go out now, in order."
                    ),
                )
                .await;
        }
        Ok((false, _)) => {}
        Err(e) => {
            tracing::error!(error = %e, team, "slack: installed, but posting to the workspace could not be resumed; install again from the install link to resume it");
        }
    }
}

/// Forgets a workspace's installed token (the app was uninstalled or its tokens revoked).
pub async fn remove_token(service: &crate::service::Service, team: &str) {
    let removed = service
        .adapter_state(ADAPTER)
        .put(&format!("token:{team}"), &json!({ "removed": true }))
        .await;
    if let Err(e) = removed {
        tracing::error!(error = %e, "slack: cannot forget an uninstalled workspace's token");
    }
    tokens_changed(service).await;
}

/// Moves the installed tokens' version on, so every replica takes the change up.
async fn tokens_changed(service: &crate::service::Service) {
    if let Err(e) = service
        .adapter_state(ADAPTER)
        .next(super::tokens::VERSION_KEY)
        .await
    {
        tracing::error!(error = %e, "slack: cannot tell other replicas that a workspace's token changed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_sealed_token_opens_only_for_its_workspace_and_key() {
        let sealer = TokenSealer::from_hex(KEY).expect("a key");
        let sealed = sealer.seal("T0ONE", "xoxb-secret").expect("sealed");
        assert!(!sealed.contains("xoxb"));
        assert_eq!(
            sealer
                .open("T0ONE", &sealed)
                .map(|s| s.expose().to_string()),
            Some("xoxb-secret".to_string())
        );
        assert!(
            sealer.open("T0TWO", &sealed).is_none(),
            "bound to its workspace"
        );
        let other = TokenSealer::from_hex(&KEY.replace("00", "ff")).expect("a key");
        assert!(other.open("T0ONE", &sealed).is_none(), "bound to its key");
        let mut altered = sealed.clone();
        altered.replace_range(30..31, if &sealed[30..31] == "0" { "1" } else { "0" });
        assert!(sealer.open("T0ONE", &altered).is_none(), "authenticated");
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused_saying_how_to_make_one() {
        let e = TokenSealer::from_hex("abcd").expect_err("short");
        assert!(e.contains("openssl rand -hex 32"), "{e}");
    }
}
