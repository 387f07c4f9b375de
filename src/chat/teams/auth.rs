//! Bot Framework request authentication: the `Authorization: Bearer` JWT, RS256-verified against
//! the signing keys the Bot Framework publishes, before anything in the request is believed.
//!
//! The steps are those of Microsoft's "Authenticate requests from the Bot Connector service":
//! the key is found by `kid` in the JWKS named by the OpenID metadata document (cached, refreshed
//! at least daily and when an unknown `kid` appears), the issuer is the Bot Framework's, the
//! audience is one of our bot app ids, `nbf`/`exp` hold with five minutes of skew, and — once the
//! activity is read — its `serviceUrl` equals the token's `serviceurl` claim and the key is
//! endorsed for the activity's channel (`msteams`). There is deliberately no switch that turns
//! any of this off: tests and the load command serve their own metadata and keys instead.

use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use crate::config::BOT_FRAMEWORK_OPENID_METADATA;

/// The issuer of tokens the Bot Connector sends with channel activities (Teams included).
pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";

/// Clock skew allowed on `nbf` and `exp`, as the Bot Framework SDKs allow.
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Signing keys older than this are fetched again before use: Microsoft rotates them.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The least time between two refreshes forced by an unknown `kid`, so forged tokens with made-up
/// key ids cannot make us hammer the metadata endpoint.
pub const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(10);

/// Why a request was not accepted as coming from the Bot Connector.
/// A value from a request as it may appear in an error or a log line: at most 64 characters, so
/// a caller cannot fill the log through a header they choose (the `{:?}` that shows it quotes it).
fn bounded(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}… ({} characters)", &value[..cut], value.chars().count()),
        None => value.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("the token was signed with an unknown key {0:?}")]
    UnknownKey(String),
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token's serviceurl claim does not match the activity's serviceUrl")]
    ServiceUrlMismatch,
    #[error("the token was issued for another tenant's bot than the activity's")]
    WrongTenant,
    #[error("the signing key is not endorsed for channel {0:?}")]
    NotEndorsed(String),
    #[error("the Bot Framework signing keys cannot be fetched: {0}")]
    KeysUnavailable(String),
}

impl AuthError {
    /// 401 for a missing or bad token, 403 for a good token used on a channel its key is not
    /// endorsed for, 503 when we cannot check at all (Teams retries; nothing is recorded).
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::NotEndorsed(_) => StatusCode::FORBIDDEN,
            AuthError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// The claims we check (the signature covers the rest).
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The bot (Microsoft App ID) the token was issued for; checked against the activity's tenant.
    #[serde(default)]
    pub aud: Audience,
    #[serde(default)]
    pub serviceurl: Option<String>,
    #[serde(default)]
    pub exp: u64,
}

/// A token's `aud`: one app id, or (rarely) several.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

impl Audience {
    /// Whether the token was issued for this app id.
    pub fn names(&self, app_id: &str) -> bool {
        match self {
            Audience::One(a) => a == app_id,
            Audience::Many(all) => all.iter().any(|a| a == app_id),
            Audience::None => false,
        }
    }
}

/// A token whose signature, issuer, audience and lifetime are good; what remains to check needs
/// the activity (see [`VerifiedToken::check_activity`]).
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub claims: Claims,
    endorsements: Vec<String>,
}

impl VerifiedToken {
    /// The checks that need the activity: the `serviceurl` claim equals `serviceUrl`, and the
    /// signing key is endorsed for the activity's `channelId`.
    pub fn check_activity(&self, service_url: &str, channel_id: &str) -> Result<(), AuthError> {
        match &self.claims.serviceurl {
            Some(claimed) if claimed == service_url => {}
            _ => return Err(AuthError::ServiceUrlMismatch),
        }
        if channel_id.is_empty() || !self.endorsements.iter().any(|e| e == channel_id) {
            return Err(AuthError::NotEndorsed(bounded(channel_id)));
        }
        Ok(())
    }
}

#[derive(Clone)]
struct SigningKey {
    key: DecodingKey,
    endorsements: Vec<String>,
}

#[derive(Default)]
struct KeyCache {
    by_kid: HashMap<String, SigningKey>,
    fetched: Option<Instant>,
    /// Bumped on every successful fetch, so waiters can tell a refresh already happened.
    generation: u64,
}

#[derive(Deserialize)]
struct Metadata {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    #[serde(default)]
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    kty: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    endorsements: Vec<String>,
}

/// Verifies Bot Framework tokens for a set of bot app ids. Cheap to share behind an `Arc`.
pub struct BotAuth {
    metadata_url: String,
    http: reqwest::Client,
    app_ids: Vec<String>,
    keys: RwLock<KeyCache>,
    refreshing: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for BotAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotAuth")
            .field("metadata_url", &self.metadata_url)
            .field("app_ids", &self.app_ids)
            .finish_non_exhaustive()
    }
}

fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token.trim())
}

impl BotAuth {
    /// Checks tokens for `app_ids` (the audiences we accept) with keys from `metadata_url`.
    pub fn new(metadata_url: &str, http: reqwest::Client, app_ids: Vec<String>) -> BotAuth {
        BotAuth {
            metadata_url: metadata_url.to_string(),
            http,
            app_ids,
            keys: RwLock::new(KeyCache::default()),
            refreshing: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the signing keys were fetched (for metrics and tests).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Verifies the `Authorization` header's token: signature, issuer, audience, lifetime.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<VerifiedToken, AuthError> {
        let token = bearer(authorization)?;
        let header = decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid(format!(
                "algorithm {:?} is not RS256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Malformed("the token names no signing key (kid)".into()))?;
        let key = self.key(&kid).await?;
        if self.app_ids.is_empty() {
            return Err(AuthError::Invalid(
                "no Teams bot is configured, so no audience is accepted".into(),
            ));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[BOT_FRAMEWORK_ISSUER]);
        validation.set_audience(&self.app_ids);
        validation.leeway = CLOCK_SKEW.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        Ok(VerifiedToken {
            claims: data.claims,
            endorsements: key.endorsements,
        })
    }

    fn cached(&self, kid: &str) -> (Option<SigningKey>, bool, u64) {
        let cache = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let fresh = cache.fetched.is_some_and(|t| t.elapsed() < KEYS_MAX_AGE);
        (cache.by_kid.get(kid).cloned(), fresh, cache.generation)
    }

    async fn key(&self, kid: &str) -> Result<SigningKey, AuthError> {
        let (found, fresh, generation) = self.cached(kid);
        match (found, fresh) {
            (Some(key), true) => Ok(key),
            (found, false) => {
                // Stale or never fetched: refresh; keep serving old keys if the refresh fails.
                match self.refresh(generation, false).await {
                    Ok(()) => {}
                    Err(e) if found.is_some() => {
                        tracing::warn!(error = %e, "teams: cannot refresh the signing keys; using the cached ones");
                    }
                    Err(e) => {
                        if self.cached(kid).1 {
                            // Someone else refreshed meanwhile.
                        } else {
                            return Err(e);
                        }
                    }
                }
                self.cached(kid)
                    .0
                    .ok_or_else(|| AuthError::UnknownKey(bounded(kid)))
            }
            (None, true) => {
                // An unknown kid on fresh keys: Microsoft may have rotated; look once more.
                if let Err(e) = self.refresh(generation, true).await {
                    tracing::warn!(error = %e, "teams: cannot refresh the signing keys for an unknown kid");
                }
                self.cached(kid)
                    .0
                    .ok_or_else(|| AuthError::UnknownKey(bounded(kid)))
            }
        }
    }

    /// Fetches the keys once, however many requests ask at the same time; `seen` is the cache
    /// generation the caller looked at, so a refresh that already happened is not repeated.
    async fn refresh(&self, seen: u64, forced_by_unknown_kid: bool) -> Result<(), AuthError> {
        let mut last_forced = self.refreshing.lock().await;
        if self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .generation
            != seen
        {
            return Ok(());
        }
        if forced_by_unknown_kid {
            if last_forced.is_some_and(|t| t.elapsed() < UNKNOWN_KID_COOLDOWN) {
                return Ok(());
            }
            *last_forced = Some(Instant::now());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let by_kid = self.fetch().await?;
        let mut cache = self.keys.write().unwrap_or_else(|p| p.into_inner());
        cache.by_kid = by_kid;
        cache.fetched = Some(Instant::now());
        cache.generation += 1;
        Ok(())
    }

    async fn fetch(&self) -> Result<HashMap<String, SigningKey>, AuthError> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            AuthError::KeysUnavailable(format!("{what}: {e}"))
        };
        let metadata: Metadata = self
            .http
            .get(&self.metadata_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable("OpenID metadata", &e))?
            .json()
            .await
            .map_err(|e| unavailable("OpenID metadata", &e))?;
        let jwks: Jwks = self
            .http
            .get(&metadata.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable("signing keys", &e))?
            .json()
            .await
            .map_err(|e| unavailable("signing keys", &e))?;
        let mut out = HashMap::new();
        for k in jwks.keys {
            let (Some(kid), Some(n), Some(e)) = (k.kid, k.n, k.e) else {
                continue;
            };
            if k.kty.as_deref().is_some_and(|t| t != "RSA") {
                continue;
            }
            match DecodingKey::from_rsa_components(&n, &e) {
                Ok(key) => {
                    out.insert(
                        kid,
                        SigningKey {
                            key,
                            endorsements: k.endorsements,
                        },
                    );
                }
                Err(err) => {
                    tracing::warn!(kid, error = %err, "teams: skipped an unreadable signing key")
                }
            }
        }
        if out.is_empty() {
            return Err(AuthError::KeysUnavailable(
                "the key set holds no usable RSA key".into(),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(serviceurl: Option<&str>, endorsements: &[&str]) -> VerifiedToken {
        VerifiedToken {
            claims: Claims {
                iss: BOT_FRAMEWORK_ISSUER.into(),
                aud: Audience::One("app".into()),
                serviceurl: serviceurl.map(str::to_string),
                exp: 0,
            },
            endorsements: endorsements.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_key_id_or_channel_chosen_by_a_caller_is_bounded_in_errors_and_logs() {
        let long = "k".repeat(10_000);
        let said = AuthError::UnknownKey(bounded(&long)).to_string();
        assert!(said.len() < 200, "{said}");
        assert!(said.contains("(10000 characters)"), "{said}");
        assert_eq!(bounded("abc"), "abc");
        let quoted = AuthError::UnknownKey(bounded("a\nb\u{1b}[31m")).to_string();
        assert!(
            !quoted.contains('\u{1b}') && !quoted.contains('\n'),
            "{quoted}"
        );
    }

    #[test]
    fn only_a_bearer_header_yields_a_token() {
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Bearer ")), Err(AuthError::Missing));
        assert_eq!(bearer(Some("bearer abc.def.ghi")), Ok("abc.def.ghi"));
    }

    #[test]
    fn the_service_url_claim_must_equal_the_activitys() {
        let t = token(Some("https://smba.trafficmanager.net/emea/"), &["msteams"]);
        assert_eq!(
            t.check_activity("https://smba.trafficmanager.net/emea/", "msteams"),
            Ok(())
        );
        assert_eq!(
            t.check_activity("https://evil.example/", "msteams"),
            Err(AuthError::ServiceUrlMismatch)
        );
        assert_eq!(
            token(None, &["msteams"]).check_activity("https://evil.example/", "msteams"),
            Err(AuthError::ServiceUrlMismatch)
        );
    }

    #[test]
    fn a_key_not_endorsed_for_the_channel_is_forbidden() {
        let t = token(Some("https://s/"), &["webchat", "skype"]);
        let e = t
            .check_activity("https://s/", "msteams")
            .expect_err("not endorsed");
        assert_eq!(e, AuthError::NotEndorsed("msteams".into()));
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert_eq!(AuthError::Missing.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn the_v3_claims_parse_and_are_checked_on_service_url() {
        // Claims of the Bot Framework test token (platforms.md V3); the signature is checked
        // against live keys only, so here only the claim checks are exercised.
        let claims: Claims = serde_json::from_str(
            r#"{"serviceurl":"https://webchat.botframework.com/","iss":"https://api.botframework.com","aud":"39619a59-5a0c-4f9b-87c5-816c648ff357","exp":1516737520,"nbf":1516736920}"#,
        )
        .expect("V3 claims");
        let t = VerifiedToken {
            claims,
            endorsements: vec!["webchat".into()],
        };
        assert_eq!(
            t.check_activity("https://webchat.botframework.com/", "webchat"),
            Ok(())
        );
        assert!(
            t.check_activity("https://webchat.botframework.com/", "msteams")
                .is_err()
        );
    }
}
