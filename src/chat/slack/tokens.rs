//! The bot tokens Slack calls are made with: a workspace's installed one (kept sealed in the
//! store by an OAuth install), else one from configuration (`SLACK_BOT_TOKENS`, or
//! `SLACK_BOT_TOKEN` for a single-workspace setup).
//!
//! Installs and uninstalls happen on whichever replica Slack reaches, so every replica takes
//! them up from the store without a restart: each install or uninstall bumps a version kept
//! beside the tokens, and a replica reads that one number at most once a second, reloading
//! the tokens when it moved; a replica holding no token for a workspace, or whose token
//! Slack just refused, looks at once.

use super::install::TokenSealer;
use crate::config::Secret;
use crate::service::AdapterState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The least time between two looks at the stored tokens' version, when nothing forces one.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The adapter-state key of the installed tokens' version.
pub(super) const VERSION_KEY: &str = "tokens_version";

/// Where installed tokens are kept, and how far this replica has read them.
struct Stored {
    state: AdapterState,
    sealer: TokenSealer,
    /// The version of the installed tokens held in memory (-1: none read yet).
    seen: AtomicI64,
    /// When the version was last looked at.
    checked: Mutex<Option<Instant>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

/// Bot tokens: those workspaces installed by OAuth, then one per workspace or a default from
/// configuration (a single-workspace setup).
#[derive(Clone, Default)]
pub struct SlackTokens {
    default: Option<Secret>,
    by_workspace: HashMap<String, Secret>,
    installed: Arc<RwLock<HashMap<String, Secret>>>,
    stored: Option<Arc<Stored>>,
}

impl std::fmt::Debug for SlackTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackTokens")
            .field("configured", &self.by_workspace.len())
            .field("default", &self.default.is_some())
            .finish_non_exhaustive()
    }
}

impl SlackTokens {
    /// Tokens from configuration.
    pub fn new(default: Option<Secret>, by_workspace: HashMap<String, Secret>) -> SlackTokens {
        SlackTokens {
            default,
            by_workspace,
            installed: Arc::default(),
            stored: None,
        }
    }

    /// The same tokens, plus those installs keep in `state`, sealed with `sealer`.
    pub fn with_installs(mut self, state: AdapterState, sealer: TokenSealer) -> SlackTokens {
        self.stored = Some(Arc::new(Stored {
            state,
            sealer,
            seen: AtomicI64::new(-1),
            checked: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        }));
        self
    }

    /// The token held in memory for a workspace: its installed one first.
    pub fn token_for(&self, workspace: &str) -> Option<Secret> {
        let installed = self
            .installed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(workspace)
            .cloned();
        installed.or_else(|| self.configured(workspace))
    }

    /// The token configuration gives a workspace, if any.
    pub fn configured(&self, workspace: &str) -> Option<Secret> {
        self.by_workspace
            .get(workspace)
            .cloned()
            .or_else(|| self.default.clone())
    }

    /// The token to call Slack with for a workspace now, having taken up installs and
    /// uninstalls made on any replica: looked up in the store at once when none is held.
    pub async fn current(&self, workspace: &str) -> Option<Secret> {
        let held = self.token_for(workspace);
        self.refresh(held.is_none()).await;
        self.token_for(workspace)
    }

    /// After Slack refused `refused` for a workspace (revoked, invalid): the workspace's token
    /// as the store has it now, when that is another one (installed again meanwhile).
    pub async fn after_refusal(&self, workspace: &str, refused: &Secret) -> Option<Secret> {
        self.refresh(true).await;
        self.token_for(workspace).filter(|t| t != refused)
    }

    /// Takes up installed tokens changed since they were last read: one read of their version
    /// (at most once a second unless `force`), and a reload when it moved.
    pub async fn refresh(&self, force: bool) {
        let Some(stored) = &self.stored else {
            return;
        };
        {
            let mut checked = stored.checked.lock().unwrap_or_else(|p| p.into_inner());
            if !force && checked.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
                return;
            }
            *checked = Some(Instant::now());
        }
        let _one = stored.reloading.lock().await;
        let version = match stored.state.get::<i64>(VERSION_KEY).await {
            Ok(v) => v.unwrap_or(0),
            Err(e) => {
                tracing::warn!(error = %e, "slack: cannot read the installed tokens' version; keeping those in use");
                return;
            }
        };
        if version == stored.seen.load(Ordering::Acquire) {
            return;
        }
        let Some(tokens) = read_installed(&stored.state, &stored.sealer).await else {
            return;
        };
        *self.installed.write().unwrap_or_else(|p| p.into_inner()) = tokens;
        stored.seen.store(version, Ordering::Release);
    }

    /// A workspace's token from an install made here (others take it up from the store).
    pub fn install(&self, workspace: &str, token: Secret) {
        self.installed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(workspace.to_string(), token);
    }

    /// Forgets a workspace's installed token (configured ones stay).
    pub fn uninstall(&self, workspace: &str) {
        self.installed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(workspace);
    }
}

/// Every installed token in the store, opened; None when they cannot be read just now.
async fn read_installed(
    state: &AdapterState,
    sealer: &TokenSealer,
) -> Option<HashMap<String, Secret>> {
    let entries = match state.list::<serde_json::Value>("token:").await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "slack: cannot read installed tokens");
            return None;
        }
    };
    Some(
        entries
            .into_iter()
            .filter_map(|(key, value)| {
                let team = key.strip_prefix("token:")?.to_string();
                let sealed = value["sealed"].as_str()?;
                match sealer.open(&team, sealed) {
                    Some(token) => Some((team, token)),
                    None => {
                        tracing::error!(team, "slack: an installed token cannot be opened with SLACK_TOKEN_KEY; install the app again");
                        None
                    }
                }
            })
            .collect(),
    )
}
