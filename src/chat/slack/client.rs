//! A small Slack Web API client: the methods the service calls, and Slack's error envelope.
//!
//! Every call is a JSON `POST {base}/{method}` with the bot token in `Authorization: Bearer`
//! (never in the body or the URL, so it cannot leak into an error or a log line). Outcomes are
//! sorted the way the delivery worker needs them: rate limited (wait `retry_after`), transient
//! (retry with backoff), or an API error whose code says whether retrying can ever help.
//! Timeouts are the caller's: set them on the `reqwest::Client` passed in.

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde_json::{Value, json};
use std::time::Duration;

/// Slack's own Web API base, the default unless configuration points elsewhere (tests, staging).
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api";

/// How long to wait after a 429 whose `Retry-After` is missing or unreadable.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a Web API call did not succeed. Messages name the method and Slack's code, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429 (or `ratelimited`): wait at least `retry_after` before calling this method again.
    #[error("Slack rate-limited the call; retry after {} s", retry_after.as_secs_f64())]
    RateLimited { retry_after: Duration },
    /// The network, a 5xx or an unreadable answer: worth retrying with backoff.
    #[error("Slack could not be reached or failed: {0}")]
    Transient(String),
    /// The request was sent (or may have been) but no answer arrived: a timeout, a connection
    /// dropped mid-answer. Slack may have done it; worth retrying once it is known whether it did.
    #[error("Slack gave no answer: {0}")]
    NoAnswer(String),
    /// Slack answered `ok: false` with this error code.
    #[error("Slack refused the call: {code}")]
    Api { code: String },
}

/// Error codes that describe a passing condition on Slack's side; every other code will fail the
/// same way again (`channel_not_found`, `not_in_channel`, `is_archived`, `invalid_auth`,
/// `token_revoked`, `account_inactive`, `missing_scope`, `invalid_blocks`, `msg_too_long`,
/// `cant_update_message`, `message_not_found`, `user_not_in_channel`, …) and is parked for a person.
const RETRYABLE_CODES: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
];

/// Error codes that say the token itself no longer works (the app removed, the token revoked or
/// expired, the workspace or bot deactivated): nothing will post there until it is installed again.
const ACCESS_GONE_CODES: &[&str] = &[
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
];

impl SlackError {
    /// Whether the workspace's token no longer works at all: every post there waits for an install.
    pub fn is_access_gone(&self) -> bool {
        matches!(self, SlackError::Api { code } if ACCESS_GONE_CODES.contains(&code.as_str()))
    }

    /// Whether the same call may succeed later: the delivery worker retries these and parks the rest.
    pub fn is_retryable(&self) -> bool {
        match self {
            SlackError::RateLimited { .. } | SlackError::Transient(_) | SlackError::NoAnswer(_) => {
                true
            }
            SlackError::Api { code } => RETRYABLE_CODES.contains(&code.as_str()),
        }
    }

    /// A short code for metrics and parked rows: `ratelimited`, `transient`, or Slack's own code.
    pub fn code(&self) -> &str {
        match self {
            SlackError::RateLimited { .. } => "ratelimited",
            SlackError::Transient(_) => "transient",
            SlackError::NoAnswer(_) => "no_answer",
            SlackError::Api { code } => code,
        }
    }
}

/// The Web API client. Cheap to clone: `reqwest::Client` shares its connection pool.
#[derive(Debug, Clone)]
pub struct SlackClient {
    base: String,
    http: reqwest::Client,
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)
}

/// A transport error as an outcome: a connection never made is a plain failure; anything after
/// the request may have left (a timeout, a connection dropped) leaves Slack's answer unknown.
fn transport(method: &str, e: &reqwest::Error) -> SlackError {
    if e.is_connect() {
        SlackError::Transient(describe(method, e))
    } else {
        SlackError::NoAnswer(describe(method, e))
    }
}

/// The cause chain of a transport error, without the URL (which is ours anyway, never the token).
fn describe(method: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut out = format!("{method}: {kind}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn text_field(envelope: &Value, pointer: &str, method: &str) -> Result<String, SlackError> {
    envelope
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            SlackError::Transient(format!("{method}: ok, but the answer has no {pointer}"))
        })
}

impl SlackClient {
    /// A client for the Web API at `base_url` (e.g. `https://slack.com/api`, with or without a
    /// trailing slash), using `http` with the timeouts the caller chose.
    pub fn new(base_url: &str, http: reqwest::Client) -> SlackClient {
        SlackClient {
            base: base_url.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// Calls any Web API method with a JSON body and returns Slack's envelope when `ok` is true.
    pub async fn call(&self, token: &str, method: &str, body: &Value) -> Result<Value, SlackError> {
        let url = format!("{}/{method}", self.base);
        let bytes = serde_json::to_vec(body)
            .map_err(|e| SlackError::Transient(format!("{method}: {e}")))?;
        let request = self
            .http
            .post(url)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(bytes);
        self.send(method, request).await
    }

    /// Calls a method that takes only form-encoded arguments (Slack's read methods such as
    /// `users.info`, and `oauth.v2.access`), with the bot token as a bearer when there is one.
    pub async fn call_form(
        &self,
        token: Option<&str>,
        method: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, SlackError> {
        let url = format!("{}/{method}", self.base);
        let mut request = self.http.post(url).form(form);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(method, request).await
    }

    /// `users.info`: the work email of a workspace member (needs `users:read.email`); `None`
    /// when their profile has none (a bot, a guest without one).
    pub async fn user_email(&self, token: &str, user: &str) -> Result<Option<String>, SlackError> {
        let envelope = self
            .call_form(Some(token), "users.info", &[("user", user)])
            .await?;
        Ok(envelope
            .pointer("/user/profile/email")
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
            .map(str::to_string))
    }

    async fn send(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, SlackError> {
        let response = request.send().await.map_err(|e| transport(method, &e))?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SlackError::RateLimited {
                retry_after: retry_after(response.headers()),
            });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Err(SlackError::Transient(format!("{method}: HTTP {status}")));
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| transport(method, &e))?;
        let envelope: Option<Value> = serde_json::from_slice(&body).ok();
        match envelope
            .as_ref()
            .and_then(|e| e.get("ok"))
            .and_then(Value::as_bool)
        {
            Some(true) if status.is_success() => {
                let envelope = envelope.unwrap_or_default();
                if let Some(warning) = envelope.get("warning").and_then(Value::as_str) {
                    tracing::warn!(method, warning, "Slack accepted the call with a warning");
                }
                Ok(envelope)
            }
            Some(false) => {
                let envelope = envelope.unwrap_or_default();
                let code = envelope
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown_error")
                    .to_string();
                if let Some(messages) = envelope.pointer("/response_metadata/messages") {
                    tracing::warn!(method, code, %messages, "Slack refused the call");
                }
                if code == "ratelimited" || code == "rate_limited" {
                    return Err(SlackError::RateLimited {
                        retry_after: retry_after(&headers),
                    });
                }
                Err(SlackError::Api { code })
            }
            _ if status.is_success() => Err(SlackError::Transient(format!(
                "{method}: HTTP {status} with an answer that is not Slack's envelope"
            ))),
            _ => Err(SlackError::Api {
                code: format!("http_{}", status.as_u16()),
            }),
        }
    }

    /// `chat.postMessage`: posts to a channel (a thread reply when `thread_ts` is the root's `ts`)
    /// and returns the new message's `ts`, which becomes the thread of a root post.
    /// Links are not unfurled: a safeguarding thread should not fetch previews of whatever URL
    /// someone typed. `metadata` (Slack's `{event_type, event_payload}`) travels with the message
    /// unseen by people, and comes back from the history methods with `include_all_metadata`.
    pub async fn post_message(
        &self,
        token: &str,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: &Value,
        metadata: Option<&Value>,
    ) -> Result<String, SlackError> {
        let mut body = json!({
            "channel": channel,
            "text": text,
            "parse": "none",
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if blocks.as_array().is_some_and(|b| !b.is_empty()) {
            body["blocks"] = blocks.clone();
        }
        if let Some(ts) = thread_ts {
            body["thread_ts"] = json!(ts);
        }
        if let Some(metadata) = metadata {
            body["metadata"] = metadata.clone();
        }
        let envelope = self.call(token, "chat.postMessage", &body).await?;
        text_field(&envelope, "/ts", "chat.postMessage")
    }

    /// One page of `conversations.history` (top-level messages only, newest first) or, with
    /// `thread_ts`, of `conversations.replies` (the thread's parent and replies, oldest first):
    /// messages after `oldest` (Unix seconds as Slack writes a `ts`), with their metadata.
    /// Returns the messages and the cursor of the next page, if there is one.
    pub async fn history_page(
        &self,
        token: &str,
        channel: &str,
        thread_ts: Option<&str>,
        oldest: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), SlackError> {
        let mut body = json!({
            "channel": channel,
            "oldest": oldest,
            "inclusive": true,
            "limit": 200,
            "include_all_metadata": true,
        });
        if let Some(cursor) = cursor {
            body["cursor"] = json!(cursor);
        }
        let method = match thread_ts {
            Some(ts) => {
                body["ts"] = json!(ts);
                "conversations.replies"
            }
            None => "conversations.history",
        };
        let envelope = self.call(token, method, &body).await?;
        let messages = envelope
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| {
                SlackError::Transient(format!("{method}: ok, but the answer has no messages"))
            })?;
        let next = envelope
            .pointer("/response_metadata/next_cursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        Ok((messages, next))
    }

    /// `chat.update`: rewrites one of the bot's own messages in place (the root post's status).
    pub async fn update(
        &self,
        token: &str,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(), SlackError> {
        let body = json!({
            "channel": channel,
            "ts": ts,
            "text": text,
            "parse": "none",
            "blocks": blocks,
        });
        self.call(token, "chat.update", &body).await.map(drop)
    }

    /// `chat.postEphemeral`: a private answer only `user` sees in `channel`. Slack does not
    /// guarantee delivery, and the `message_ts` it returns cannot be updated, so nothing is returned.
    pub async fn post_ephemeral(
        &self,
        token: &str,
        channel: &str,
        user: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(), SlackError> {
        let mut body = json!({
            "channel": channel,
            "user": user,
            "text": text,
            "parse": "none",
        });
        if blocks.as_array().is_some_and(|b| !b.is_empty()) {
            body["blocks"] = blocks.clone();
        }
        self.call(token, "chat.postEphemeral", &body)
            .await
            .map(drop)
    }

    /// `conversations.open` with one user: the id (`D…`) of the bot's direct-message channel with them.
    pub async fn open_dm(&self, token: &str, user: &str) -> Result<String, SlackError> {
        let envelope = self
            .call(token, "conversations.open", &json!({ "users": user }))
            .await?;
        text_field(&envelope, "/channel/id", "conversations.open")
    }

    /// `views.open`: shows a modal for a fresh `trigger_id` (valid 3 s, once) and returns the view id.
    pub async fn views_open(
        &self,
        token: &str,
        trigger_id: &str,
        view: &Value,
    ) -> Result<String, SlackError> {
        let body = json!({ "trigger_id": trigger_id, "view": view });
        let envelope = self.call(token, "views.open", &body).await?;
        text_field(&envelope, "/view/id", "views.open")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode as Status, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    const TOKEN: &str = "xoxb-secret-test-token";

    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        authorization: String,
        content_type: String,
        body: Value,
    }

    type Log = Arc<Mutex<Vec<Seen>>>;

    async fn handle(
        State(log): State<Log>,
        Path((scenario, method)): Path<(String, String)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let text = |h| {
            headers
                .get(h)
                .and_then(|v: &header::HeaderValue| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        if let Ok(mut log) = log.lock() {
            log.push(Seen {
                method: method.clone(),
                authorization: text(header::AUTHORIZATION),
                content_type: text(header::CONTENT_TYPE),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
        }
        let ok = |v: Value| axum::Json(v).into_response();
        match scenario.as_str() {
            "ok" => match method.as_str() {
                "chat.postMessage" => {
                    ok(json!({ "ok": true, "channel": "C1", "ts": "1700000000.000100" }))
                }
                "conversations.open" => ok(json!({ "ok": true, "channel": { "id": "D024BE91L" } })),
                "views.open" => ok(json!({ "ok": true, "view": { "id": "VMHU10V25" } })),
                "conversations.history" | "conversations.replies" => ok(json!({
                    "ok": true,
                    "messages": [{ "type": "message", "ts": "1700000000.000100" }],
                    "has_more": true,
                    "response_metadata": { "next_cursor": "bmV4dA==" },
                })),
                _ => ok(json!({ "ok": true, "warning": "superfluous_charset" })),
            },
            "limited" => {
                (Status::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")], "").into_response()
            }
            "limited-bare" => Status::TOO_MANY_REQUESTS.into_response(),
            "limited-garbled" => (
                Status::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "soon")],
                "",
            )
                .into_response(),
            "limited-envelope" => (
                [(header::RETRY_AFTER, "3")],
                axum::Json(json!({ "ok": false, "error": "ratelimited" })),
            )
                .into_response(),
            "down" => (Status::SERVICE_UNAVAILABLE, "upstream connect error").into_response(),
            "html" => (Status::OK, "<html>gateway</html>").into_response(),
            "no-ts" => ok(json!({ "ok": true })),
            "forbidden" => (Status::FORBIDDEN, "nope").into_response(),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                ok(json!({ "ok": true, "ts": "1" }))
            }
            code => ok(json!({
                "ok": false,
                "error": code,
                "response_metadata": { "messages": ["[ERROR] something about the blocks"] },
            })),
        }
    }

    async fn server() -> (String, Log) {
        let log: Log = Arc::default();
        let app = Router::new()
            .route("/{scenario}/{method}", post(handle))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}"), log)
    }

    fn client(base: &str, scenario: &str) -> SlackClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .expect("client");
        SlackClient::new(&format!("{base}/{scenario}/"), http)
    }

    fn blocks() -> Value {
        json!([{ "type": "section", "text": { "type": "mrkdwn", "text": "hi", "verbatim": true } }])
    }

    #[tokio::test]
    async fn a_post_sends_json_with_the_bearer_token_and_returns_the_ts() {
        let (base, log) = server().await;
        let ts = client(&base, "ok")
            .post_message(
                TOKEN,
                "C1",
                Some("1699999999.000001"),
                "fallback",
                &blocks(),
                Some(&json!({ "event_type": "escalation_bot_post", "event_payload": { "key": "k1" } })),
            )
            .await;
        assert_eq!(ts, Ok("1700000000.000100".to_string()));
        let seen = log.lock().map(|l| l.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "chat.postMessage");
        assert_eq!(seen[0].authorization, format!("Bearer {TOKEN}"));
        assert_eq!(seen[0].content_type, "application/json; charset=utf-8");
        assert_eq!(seen[0].body["channel"], "C1");
        assert_eq!(seen[0].body["thread_ts"], "1699999999.000001");
        assert_eq!(seen[0].body["text"], "fallback");
        assert_eq!(seen[0].body["blocks"], blocks());
        assert_eq!(seen[0].body["unfurl_links"], false);
        assert_eq!(seen[0].body["metadata"]["event_payload"]["key"], "k1");
        assert!(
            seen[0].body.get("token").is_none(),
            "the token goes in the header only"
        );
    }

    #[tokio::test]
    async fn a_root_post_has_no_thread_ts() {
        let (base, log) = server().await;
        let _ = client(&base, "ok")
            .post_message(TOKEN, "C1", None, "t", &json!([]), None)
            .await;
        let seen = log.lock().map(|l| l.clone()).unwrap_or_default();
        assert!(seen[0].body.get("thread_ts").is_none());
        assert!(
            seen[0].body.get("blocks").is_none(),
            "no empty blocks array on a new post"
        );
    }

    #[tokio::test]
    async fn update_ephemeral_dm_and_views_open_call_their_methods() {
        let (base, log) = server().await;
        let c = client(&base, "ok");
        assert_eq!(
            c.update(TOKEN, "C1", "1700000000.000100", "t", &blocks())
                .await,
            Ok(())
        );
        assert_eq!(
            c.post_ephemeral(TOKEN, "C1", "U1", "t", &blocks()).await,
            Ok(())
        );
        assert_eq!(c.open_dm(TOKEN, "U1").await, Ok("D024BE91L".to_string()));
        assert_eq!(
            c.views_open(TOKEN, "123.456.abc", &json!({ "type": "modal" }))
                .await,
            Ok("VMHU10V25".to_string())
        );
        let seen = log.lock().map(|l| l.clone()).unwrap_or_default();
        let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
        assert_eq!(
            methods,
            [
                "chat.update",
                "chat.postEphemeral",
                "conversations.open",
                "views.open"
            ]
        );
        assert_eq!(seen[0].body["ts"], "1700000000.000100");
        assert_eq!(seen[1].body["user"], "U1");
        assert_eq!(seen[2].body["users"], "U1");
        assert_eq!(seen[3].body["trigger_id"], "123.456.abc");
        assert!(
            seen.iter()
                .all(|s| s.authorization == format!("Bearer {TOKEN}"))
        );
    }

    #[tokio::test]
    async fn history_and_replies_ask_for_metadata_from_oldest_and_page_on() {
        let (base, log) = server().await;
        let c = client(&base, "ok");
        let (messages, next) = c
            .history_page(TOKEN, "C1", None, "1699999000.000000", None)
            .await
            .expect("a page");
        assert_eq!(messages.len(), 1);
        assert_eq!(next.as_deref(), Some("bmV4dA=="));
        let _ = c
            .history_page(
                TOKEN,
                "C1",
                Some("1699999999.000001"),
                "1699999000.000000",
                next.as_deref(),
            )
            .await;
        let seen = log.lock().map(|l| l.clone()).unwrap_or_default();
        assert_eq!(seen[0].method, "conversations.history");
        assert_eq!(seen[0].body["include_all_metadata"], true);
        assert_eq!(seen[0].body["oldest"], "1699999000.000000");
        assert!(seen[0].body.get("cursor").is_none());
        assert_eq!(seen[1].method, "conversations.replies");
        assert_eq!(seen[1].body["ts"], "1699999999.000001");
        assert_eq!(seen[1].body["cursor"], "bmV4dA==");
    }

    #[tokio::test]
    async fn http_429_gives_the_retry_after_seconds() {
        let (base, _) = server().await;
        let e = client(&base, "limited")
            .post_message(TOKEN, "C1", None, "t", &blocks(), None)
            .await;
        assert_eq!(
            e,
            Err(SlackError::RateLimited {
                retry_after: Duration::from_secs(7)
            })
        );
        assert!(e.is_err_and(|e| e.is_retryable()));
    }

    #[tokio::test]
    async fn http_429_without_a_readable_retry_after_waits_one_second() {
        let (base, _) = server().await;
        for scenario in ["limited-bare", "limited-garbled"] {
            let e = client(&base, scenario)
                .post_message(TOKEN, "C1", None, "t", &blocks(), None)
                .await;
            assert_eq!(
                e,
                Err(SlackError::RateLimited {
                    retry_after: DEFAULT_RETRY_AFTER
                }),
                "{scenario}"
            );
        }
    }

    #[tokio::test]
    async fn a_ratelimited_envelope_is_a_rate_limit_too() {
        let (base, _) = server().await;
        let e = client(&base, "limited-envelope").open_dm(TOKEN, "U1").await;
        assert_eq!(
            e,
            Err(SlackError::RateLimited {
                retry_after: Duration::from_secs(3)
            })
        );
    }

    #[tokio::test]
    async fn permanent_error_codes_are_not_retryable() {
        let (base, _) = server().await;
        for code in [
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "invalid_auth",
            "token_revoked",
            "account_inactive",
            "missing_scope",
            "invalid_blocks",
            "msg_too_long",
            "cant_update_message",
            "message_not_found",
            "user_not_in_channel",
        ] {
            let e = client(&base, code)
                .post_message(TOKEN, "C1", None, "t", &blocks(), None)
                .await;
            assert_eq!(
                e,
                Err(SlackError::Api {
                    code: code.to_string()
                })
            );
            assert!(e.is_err_and(|e| !e.is_retryable()), "{code}");
        }
    }

    #[tokio::test]
    async fn passing_error_codes_are_retryable() {
        let (base, _) = server().await;
        for code in [
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
            "team_added_to_org",
        ] {
            let e = client(&base, code)
                .update(TOKEN, "C1", "1", "t", &blocks())
                .await;
            assert_eq!(
                e,
                Err(SlackError::Api {
                    code: code.to_string()
                })
            );
            assert!(e.is_err_and(|e| e.is_retryable()), "{code}");
        }
    }

    #[tokio::test]
    async fn a_5xx_or_an_unreadable_answer_is_transient() {
        let (base, _) = server().await;
        for scenario in ["down", "html", "no-ts"] {
            let e = client(&base, scenario)
                .post_message(TOKEN, "C1", None, "t", &blocks(), None)
                .await;
            assert!(
                matches!(e, Err(SlackError::Transient(_))),
                "{scenario}: {e:?}"
            );
        }
        let e = client(&base, "forbidden")
            .post_message(TOKEN, "C1", None, "t", &blocks(), None)
            .await;
        assert_eq!(
            e,
            Err(SlackError::Api {
                code: "http_403".into()
            })
        );
    }

    #[tokio::test]
    async fn a_timeout_leaves_the_answer_unknown_and_a_refused_connection_is_transient() {
        let (base, _) = server().await;
        let e = client(&base, "slow")
            .post_message(TOKEN, "C1", None, "t", &blocks(), None)
            .await;
        assert!(
            matches!(&e, Err(SlackError::NoAnswer(m)) if m.contains("timed out")),
            "{e:?}"
        );
        assert!(e.is_err_and(|e| e.is_retryable()));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let e = client(&format!("http://{addr}"), "ok")
            .open_dm(TOKEN, "U1")
            .await;
        assert!(matches!(e, Err(SlackError::Transient(_))), "{e:?}");
    }

    #[tokio::test]
    async fn errors_never_contain_the_token() {
        let (base, _) = server().await;
        for scenario in [
            "limited",
            "down",
            "html",
            "forbidden",
            "channel_not_found",
            "slow",
        ] {
            let e = client(&base, scenario)
                .post_message(TOKEN, "C1", None, "t", &blocks(), None)
                .await
                .expect_err("fails");
            let text = format!("{e} {e:?}");
            assert!(
                !text.contains(TOKEN) && !text.contains("secret-test"),
                "{text}"
            );
        }
    }
}
