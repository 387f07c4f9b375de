//! The Bot Connector REST client: bot tokens by client credentials, new channel threads, replies,
//! in-place updates and 1:1 conversations.
//!
//! Tokens come from each bot registration's own tenant (`{base}/{tenant}/oauth2/v2.0/token`,
//! scope `https://api.botframework.com/.default`): single-tenant bots that ask `botframework.com`
//! get 401s from the Connector. Each is cached until five minutes before it expires. Outcomes are
//! sorted the way the delivery worker needs them: rate limited (429, wait `Retry-After`),
//! transient (412, 5xx, network: retry with backoff), or permanent (unknown conversation, bot not
//! installed, forbidden: parked and reported, never retried forever). Tokens and secrets never
//! appear in errors or logs.

use super::BotRegistration;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::config::{DEFAULT_SERVICE_URL, DEFAULT_TOKEN_BASE};

/// The scope of Bot Connector tokens.
pub const BOT_SCOPE: &str = "https://api.botframework.com/.default";

/// Tokens are renewed this long before they expire.
pub const TOKEN_EARLY_RENEWAL: Duration = Duration::from_secs(300);

/// How long to wait after a 429 whose `Retry-After` is missing or unreadable.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a Connector call did not succeed. Messages carry status and Teams' error code, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error("the Bot Connector rate-limited the call; retry after {} s", retry_after.as_secs_f64())]
    RateLimited { retry_after: Duration },
    #[error("the Bot Connector could not be reached or failed: {0}")]
    Transient(String),
    /// The request was sent (or may have been) and no answer came: the Connector may have
    /// posted it. It offers no way to look (see the README's delivery section).
    #[error("the Bot Connector gave no answer: {0}")]
    NoAnswer(String),
    #[error("{code}: {message}")]
    Permanent { code: String, message: String },
}

/// What `POST v3/conversations` answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationResource {
    pub id: String,
    #[serde(default)]
    pub activity_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResourceResponse {
    #[serde(default)]
    id: String,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Clone)]
struct CachedToken {
    token: String,
    renew_at: Instant,
}

/// The Connector client for a set of bot registrations. Cheap to clone.
#[derive(Clone)]
pub struct ConnectorClient {
    http: reqwest::Client,
    token_base: String,
    tokens: Arc<Mutex<HashMap<String, CachedToken>>>,
    /// One token request at a time per bot, so a burst of posts asks Entra ID once.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for ConnectorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorClient")
            .field("token_base", &self.token_base)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes a conversation or activity id for a URL path: ids hold `:` `@` `;` `=` `|`.
pub fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 16);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)
}

fn describe(what: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("{what}: {kind}")
}

/// The base URL with exactly one trailing slash.
fn base(service_url: &str) -> String {
    format!("{}/", service_url.trim_end_matches('/'))
}

impl ConnectorClient {
    /// A client asking `token_base` for tokens, using `http` with the caller's timeouts.
    pub fn new(token_base: &str, http: reqwest::Client) -> ConnectorClient {
        ConnectorClient {
            http,
            token_base: token_base.trim_end_matches('/').to_string(),
            tokens: Arc::new(Mutex::new(HashMap::new())),
            fetching: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn cached(&self, app_id: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(app_id)
            .filter(|t| Instant::now() < t.renew_at)
            .map(|t| t.token.clone())
    }

    /// Forgets a bot's token (after the Connector refused it).
    pub fn forget_token(&self, app_id: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(app_id);
    }

    /// The bot's Connector token: cached, or fetched by client credentials from its tenant.
    pub async fn token(&self, bot: &BotRegistration) -> Result<String, ConnectorError> {
        if let Some(t) = self.cached(&bot.app_id) {
            return Ok(t);
        }
        let _one = self.fetching.lock().await;
        if let Some(t) = self.cached(&bot.app_id) {
            return Ok(t);
        }
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.token_base,
            path_segment(&bot.tenant_id)
        );
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", bot.app_id.as_str()),
            ("client_secret", bot.secret.expose()),
            ("scope", BOT_SCOPE),
        ];
        let response = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| ConnectorError::Transient(describe("token request", &e)))?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ConnectorError::RateLimited {
                retry_after: retry_after(response.headers()),
            });
        }
        if status.is_server_error() {
            return Err(ConnectorError::Transient(format!(
                "token request: HTTP {status}"
            )));
        }
        if !status.is_success() {
            // Entra ID's error codes (AADSTS…) say what is wrong; its message never holds the secret.
            let body: Value = response.json().await.unwrap_or_default();
            let code = body["error"]
                .as_str()
                .unwrap_or("token_refused")
                .to_string();
            return Err(ConnectorError::Permanent {
                code: "bot_token_refused".into(),
                message: format!(
                    "Entra ID refused a token for bot {} in tenant {} ({code}, HTTP {status}); check the app id, tenant and client secret",
                    bot.app_id, bot.tenant_id
                ),
            });
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|e| ConnectorError::Transient(format!("token response unreadable: {e}")))?;
        let lifetime = Duration::from_secs(body.expires_in.unwrap_or(3600));
        let renew_at = Instant::now()
            + lifetime
                .saturating_sub(TOKEN_EARLY_RENEWAL)
                .max(lifetime / 2);
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                bot.app_id.clone(),
                CachedToken {
                    token: body.access_token.clone(),
                    renew_at,
                },
            );
        Ok(body.access_token)
    }

    async fn call(
        &self,
        bot: &BotRegistration,
        method: reqwest::Method,
        url: String,
        body: &Value,
        what: &str,
    ) -> Result<Value, ConnectorError> {
        let token = self.token(bot).await?;
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, format!("Bearer {token}"));
        if !body.is_null() {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                ConnectorError::Transient(describe(what, &e))
            } else {
                ConnectorError::NoAnswer(describe(what, &e))
            }
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            return Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null));
        }
        let error: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let code = error["error"]["code"].as_str().unwrap_or("").to_string();
        let message = error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(300)
            .collect::<String>();
        match status {
            StatusCode::TOO_MANY_REQUESTS => Err(ConnectorError::RateLimited {
                retry_after: retry_after(&headers),
            }),
            StatusCode::PRECONDITION_FAILED
            | StatusCode::BAD_GATEWAY
            | StatusCode::GATEWAY_TIMEOUT => Err(ConnectorError::Transient(format!(
                "{what}: HTTP {status} {code}"
            ))),
            s if s.is_server_error() => Err(ConnectorError::Transient(format!(
                "{what}: HTTP {status} {code}"
            ))),
            StatusCode::UNAUTHORIZED => {
                self.forget_token(&bot.app_id);
                Err(ConnectorError::Permanent {
                    code: "unauthorized".into(),
                    message: format!(
                        "{what}: the Connector refused bot {}'s token ({code} {message})",
                        bot.app_id
                    ),
                })
            }
            StatusCode::FORBIDDEN => Err(ConnectorError::Permanent {
                code: "bot_not_installed".into(),
                message: format!(
                    "{what}: forbidden ({code} {message}); is the app installed in the team or for the user?"
                ),
            }),
            StatusCode::NOT_FOUND => Err(ConnectorError::Permanent {
                code: "conversation_not_found".into(),
                message: format!("{what}: {code} {message}"),
            }),
            _ => Err(ConnectorError::Permanent {
                code: format!("http_{}", status.as_u16()),
                message: format!("{what}: {code} {message}"),
            }),
        }
    }

    /// Starts a new thread in a channel (`POST v3/conversations` with the channel id) and
    /// returns the thread's conversation id and the root activity's id.
    pub async fn create_channel_thread(
        &self,
        bot: &BotRegistration,
        service_url: &str,
        tenant: &str,
        channel: &str,
        activity: &Value,
    ) -> Result<(String, String), ConnectorError> {
        let body = json!({
            "isGroup": true,
            "channelData": { "channel": { "id": channel }, "tenant": { "id": tenant } },
            "activity": activity,
            "tenantId": tenant,
        });
        let url = format!("{}v3/conversations", base(service_url));
        let answer = self
            .call(
                bot,
                reqwest::Method::POST,
                url,
                &body,
                "create channel thread",
            )
            .await?;
        let resource: ConversationResource = serde_json::from_value(answer).map_err(|e| {
            ConnectorError::Transient(format!("create channel thread: unreadable answer: {e}"))
        })?;
        let activity_id = resource
            .activity_id
            .clone()
            .or_else(|| {
                resource
                    .id
                    .split_once(";messageid=")
                    .map(|(_, m)| m.to_string())
            })
            .unwrap_or_default();
        if resource.id.is_empty() || activity_id.is_empty() {
            return Err(ConnectorError::Transient(
                "create channel thread: the answer has no conversation or activity id".into(),
            ));
        }
        Ok((resource.id, activity_id))
    }

    /// The work email of a member of a conversation (`GET v3/conversations/{id}/members/{user}`,
    /// which answers the member's `email`, or their `userPrincipalName`); `None` when it has
    /// neither.
    pub async fn member_email(
        &self,
        bot: &BotRegistration,
        service_url: &str,
        conversation: &str,
        user: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let url = format!(
            "{}v3/conversations/{}/members/{}",
            base(service_url),
            path_segment(conversation),
            path_segment(user)
        );
        let answer = self
            .call(
                bot,
                reqwest::Method::GET,
                url,
                &Value::Null,
                "member lookup",
            )
            .await?;
        Ok(["email", "userPrincipalName"]
            .iter()
            .filter_map(|k| answer[*k].as_str())
            .find(|e| e.contains('@'))
            .map(str::to_string))
    }

    /// Starts (or finds: Teams answers with the existing one) the bot's 1:1 chat with a user.
    pub async fn create_personal(
        &self,
        bot: &BotRegistration,
        service_url: &str,
        tenant: &str,
        user: &str,
    ) -> Result<String, ConnectorError> {
        let body = json!({
            "isGroup": false,
            "bot": { "id": format!("28:{}", bot.app_id) },
            "members": [{ "id": user }],
            "channelData": { "tenant": { "id": tenant } },
            "tenantId": tenant,
        });
        let url = format!("{}v3/conversations", base(service_url));
        let answer = self
            .call(bot, reqwest::Method::POST, url, &body, "create 1:1 chat")
            .await?;
        answer["id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ConnectorError::Transient(
                    "create 1:1 chat: the answer has no conversation id".into(),
                )
            })
    }

    /// Posts an activity to a conversation; returns the new activity's id.
    pub async fn send(
        &self,
        bot: &BotRegistration,
        service_url: &str,
        conversation: &str,
        activity: &Value,
    ) -> Result<String, ConnectorError> {
        let url = format!(
            "{}v3/conversations/{}/activities",
            base(service_url),
            path_segment(conversation)
        );
        let answer = self
            .call(bot, reqwest::Method::POST, url, activity, "send")
            .await?;
        Ok(serde_json::from_value::<ResourceResponse>(answer)
            .map(|r| r.id)
            .unwrap_or_default())
    }

    /// Replies to an activity in a conversation (a channel thread's root, or a person's message).
    pub async fn reply(
        &self,
        bot: &BotRegistration,
        service_url: &str,
        conversation: &str,
        reply_to: &str,
        activity: &Value,
    ) -> Result<String, ConnectorError> {
        let url = format!(
            "{}v3/conversations/{}/activities/{}",
            base(service_url),
            path_segment(conversation),
            path_segment(reply_to)
        );
        let mut activity = activity.clone();
        activity["replyToId"] = json!(reply_to);
        let answer = self
            .call(bot, reqwest::Method::POST, url, &activity, "reply")
            .await?;
        Ok(serde_json::from_value::<ResourceResponse>(answer)
            .map(|r| r.id)
            .unwrap_or_default())
    }

    /// Replaces an activity in place (`PUT …/activities/{id}`): the root card's current status.
    pub async fn update(
        &self,
        bot: &BotRegistration,
        service_url: &str,
        conversation: &str,
        activity_id: &str,
        activity: &Value,
    ) -> Result<(), ConnectorError> {
        let url = format!(
            "{}v3/conversations/{}/activities/{}",
            base(service_url),
            path_segment(conversation),
            path_segment(activity_id)
        );
        let mut activity = activity.clone();
        activity["id"] = json!(activity_id);
        self.call(bot, reqwest::Method::PUT, url, &activity, "update")
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids_are_percent_encoded_in_paths() {
        assert_eq!(
            path_segment("19:abc@thread.tacv2;messageid=1759881511856"),
            "19%3Aabc%40thread.tacv2%3Bmessageid%3D1759881511856"
        );
        assert_eq!(path_segment("a:1B-x_y.z~"), "a%3A1B-x_y.z~");
    }

    #[test]
    fn service_urls_get_one_trailing_slash() {
        assert_eq!(
            base("https://smba.trafficmanager.net/emea/"),
            "https://smba.trafficmanager.net/emea/"
        );
        assert_eq!(base("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x/");
    }
}
