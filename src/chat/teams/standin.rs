//! A stand-in for the Bot Framework's token signing, for `bench teams` and the tests: its own
//! RSA keys, the OpenID metadata and JWKS documents `serve` reads them from, and tokens signed
//! the way the Bot Connector signs them. `serve` never uses it; it only ever reads keys from
//! the metadata URL it is configured with.

use super::activity::MSTEAMS;
use super::auth::BOT_FRAMEWORK_ISSUER;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA signing key with its key id and the channels it is endorsed for.
pub struct SigningKey {
    pub kid: String,
    pub endorsements: Vec<String>,
    pair: KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh 2048-bit key endorsed for `msteams` only.
    pub fn generate(kid: &str) -> Result<SigningKey, String> {
        Self::endorsed(kid, &[MSTEAMS])
    }

    /// A fresh 2048-bit key endorsed for the given channels.
    pub fn endorsed(kid: &str, endorsements: &[&str]) -> Result<SigningKey, String> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|e| format!("cannot generate an RSA key: {e}"))?;
        Ok(SigningKey {
            kid: kid.to_string(),
            endorsements: endorsements.iter().map(|s| s.to_string()).collect(),
            pair,
        })
    }

    /// The key as a JWKS entry, as login.botframework.com publishes them.
    pub fn jwk(&self) -> Value {
        use aws_lc_rs::signature::KeyPair as _;
        let public = self.pair.public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
            "endorsements": self.endorsements,
        })
    }

    /// A compact JWT of `claims` with this header, RS256-signed with this key.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        if self
            .pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut signature,
            )
            .is_err()
        {
            signature.clear();
        }
        format!("{input}.{}", b64(&signature))
    }

    /// A compact JWT of `claims`, with the usual header naming this key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(
            &json!({ "typ": "JWT", "alg": "RS256", "kid": self.kid, "x5t": self.kid }),
            claims,
        )
    }
}

/// The claims of a channel token: Bot Framework issuer, the bot's app id as audience, the
/// activity's `serviceUrl`, valid from a minute ago for `lifetime_secs`.
pub fn claims(app_id: &str, service_url: &str, lifetime_secs: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": BOT_FRAMEWORK_ISSUER,
        "aud": app_id,
        "serviceurl": service_url,
        "nbf": now - 60,
        "iat": now - 60,
        "exp": now + lifetime_secs,
    })
}

struct Published {
    keys: Mutex<Vec<Value>>,
    metadata_fetches: AtomicU64,
    jwks_fetches: AtomicU64,
    base: Mutex<String>,
}

/// An HTTP server publishing OpenID metadata and a JWKS on 127.0.0.1, port 0.
pub struct OpenIdServer {
    /// The metadata URL to configure (`--teams-openid-metadata-url`).
    pub metadata_url: String,
    published: Arc<Published>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OpenIdServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn metadata(State(p): State<Arc<Published>>) -> Response {
    p.metadata_fetches.fetch_add(1, Ordering::Relaxed);
    let base = p.base.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Json(json!({
        "issuer": BOT_FRAMEWORK_ISSUER,
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{base}/v1/.well-known/keys"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
    .into_response()
}

async fn jwks(State(p): State<Arc<Published>>) -> Response {
    p.jwks_fetches.fetch_add(1, Ordering::Relaxed);
    let keys = p.keys.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Json(json!({ "keys": keys })).into_response()
}

impl OpenIdServer {
    /// Starts publishing these JWKS entries on 127.0.0.1, port 0.
    pub async fn start(keys: Vec<Value>) -> std::io::Result<OpenIdServer> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            keys,
            Router::new(),
        )
        .await
    }

    /// Starts publishing these JWKS entries on `addr`, serving `extra` routes beside them (the
    /// load command adds a Connector stand-in there).
    pub async fn start_on(
        addr: std::net::SocketAddr,
        keys: Vec<Value>,
        extra: Router,
    ) -> std::io::Result<OpenIdServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        let published = Arc::new(Published {
            keys: Mutex::new(keys),
            metadata_fetches: AtomicU64::new(0),
            jwks_fetches: AtomicU64::new(0),
            base: Mutex::new(base.clone()),
        });
        let app = Router::new()
            .route("/v1/.well-known/openidconfiguration", get(metadata))
            .route("/v1/.well-known/keys", get(jwks))
            .with_state(published.clone())
            .merge(extra);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(OpenIdServer {
            metadata_url: format!("{base}/v1/.well-known/openidconfiguration"),
            published,
            task,
        })
    }

    /// Publishes a different key set from now on (a rotation).
    pub fn set_keys(&self, keys: Vec<Value>) {
        *self
            .published
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = keys;
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.published.jwks_fetches.load(Ordering::Relaxed)
    }
}
