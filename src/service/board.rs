//! The Board's view as the service offers it: sign-in links sent in chat, sessions, the reports
//! a person may see, and the record of who viewed what. Adapters ask for these; none reaches
//! into the store itself.

use super::{Service, ServiceError};
use crate::directory::PersonId;
use crate::posts::message::{Line, Message, MessageKind, Span};
use crate::report::Reports;
use crate::report::access::{self, Access};
use crate::store::RecordView;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How long a sign-in link works: long enough to open a direct message, short enough that a
/// forwarded or leaked link is soon useless.
pub const LINK_MINUTES: i64 = 10;
/// How long a Board view session lasts: one working day.
pub const SESSION_HOURS: i64 = 8;

/// The address people reach the service at, until the server says otherwise.
pub(super) const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// A new random token (two v4 UUIDs: 244 random bits), in hex.
fn token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Tokens are kept only as their SHA-256: a copy of the database signs nobody in.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A session just started: its token (for the cookie) and when it ends.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub person: PersonId,
    pub expires: DateTime<Utc>,
}

impl Service {
    /// The address links in chat point at (`PUBLIC_URL`, or the address the server listens on).
    pub fn public_url(&self) -> String {
        self.decider.public_url()
    }

    /// Sets the address links point at, once (at start-up).
    pub fn set_public_url(&self, url: &str) {
        let _ = self
            .decider
            .public_url
            .set(url.trim_end_matches('/').to_string());
    }

    /// The reports over this service's record and policies, naming people from `directory`
    /// (the one in use, as [`Service::directory`] gives it).
    pub fn reports<'a>(&'a self, directory: &'a crate::directory::Directory) -> Reports<'a> {
        Reports {
            store: &self.store,
            policies: &self.policies,
            directory,
        }
    }

    /// What a person may see in the Board view, if anything.
    pub fn board_access(&self, person: &PersonId) -> Option<Access> {
        access::access(&self.policies, &self.directory(), person)
    }

    /// `/challenge board`: sends the person a one-time sign-in link by direct message and says
    /// so; refuses, saying who may use the Board view, when the person may see nothing.
    pub async fn send_board_link(&self, person: &PersonId) -> Result<String, ServiceError> {
        if self.board_access(person).is_none() {
            return Ok("The Board's view is for a board's business unit and chair, and for an agency's safeguarding lead; the directory does not list you as one of them. Ask your board's business unit if you need to see the challenge log.".into());
        }
        let Some(target) = crate::posts::fanout::direct_target(&self.directory(), person) else {
            return Ok("The Board's view sends its sign-in link by direct message, and the directory has no chat identity for you to send it to. Ask your agency's administrator to add it.".into());
        };
        let now = self.now();
        let token = token();
        let expires = now + Duration::minutes(LINK_MINUTES);
        self.store
            .add_sign_in_link(&token_hash(&token), &person.0, now, expires)
            .await?;
        let url = format!("{}/board/sign-in?token={token}", self.public_url());
        let text = format!(
            "Your sign-in link to the Board's view (challenge log, statistics, records). It works once, for {LINK_MINUTES} minutes; do not forward it."
        );
        let message = Message {
            kind: MessageKind::Direct,
            reference: String::new(),
            title: "Board's view: sign in".into(),
            status: format!("Link valid for {LINK_MINUTES} minutes"),
            fallback: format!("{text} {url}"),
            urgent: None,
            lines: vec![
                Line {
                    label: None,
                    spans: vec![Span::text(text)],
                },
                Line {
                    label: Some("Sign in".into()),
                    spans: vec![Span::text(url)],
                },
            ],
            prompt: None,
            footer: vec![],
            commands: Vec::new(),
            buttons: vec![],
        };
        let key = format!("board-link:{}", token_hash(&token));
        let owner = format!("board-view:{}", person.0);
        let row =
            crate::posts::fanout::outbox_row(key, target.lane(&owner), &target, &message, now);
        self.store.enqueue(&owner, &[row], now).await?;
        Ok(format!(
            "A sign-in link to the Board's view has been sent to you by direct message. It works once, within {LINK_MINUTES} minutes."
        ))
    }

    /// Uses a sign-in link: a new session, or None when the link is unknown, used or expired
    /// (or its person may no longer see anything).
    pub async fn sign_in(&self, token: &str) -> Result<Option<Session>, ServiceError> {
        let now = self.now();
        let Some(person) = self.store.use_sign_in_link(&token_hash(token), now).await? else {
            return Ok(None);
        };
        self.start_session(&PersonId(person)).await
    }

    /// Starts a session for a person who may see something (the sandbox's acting person opens
    /// the Board view this way; everyone else through a link).
    pub async fn start_session(&self, person: &PersonId) -> Result<Option<Session>, ServiceError> {
        if self.board_access(person).is_none() {
            return Ok(None);
        }
        let now = self.now();
        let session = Session {
            token: token(),
            person: person.clone(),
            expires: now + Duration::hours(SESSION_HOURS),
        };
        self.store
            .add_board_session(&token_hash(&session.token), &person.0, now, session.expires)
            .await?;
        Ok(Some(session))
    }

    /// The person of a live session and what they may see now.
    pub async fn session(&self, token: &str) -> Result<Option<(PersonId, Access)>, ServiceError> {
        let person = self
            .store
            .board_session(&token_hash(token), self.now())
            .await?;
        Ok(person.map(PersonId).and_then(|p| {
            let access = self.board_access(&p)?;
            Some((p, access))
        }))
    }

    /// Ends a session (sign-out).
    pub async fn sign_out(&self, token: &str) -> Result<(), ServiceError> {
        Ok(self
            .store
            .end_board_session(&token_hash(token), self.now())
            .await?)
    }

    /// Records that a person viewed (or exported) a dispute's record.
    pub async fn record_viewed(
        &self,
        reference: &str,
        person: &PersonId,
        what: &str,
    ) -> Result<(), ServiceError> {
        Ok(self
            .store
            .record_view(&RecordView {
                reference: reference.to_string(),
                person: person.0.clone(),
                what: what.to_string(),
                at: self.now(),
            })
            .await?)
    }

    /// Who viewed a dispute's record, oldest first.
    pub async fn record_views(&self, reference: &str) -> Result<Vec<RecordView>, ServiceError> {
        Ok(self.store.record_views(reference).await?)
    }

    /// The projection of one dispute (its board and agencies), to check what a viewer may see.
    pub async fn dispute_summary(
        &self,
        reference: &crate::escalation::Reference,
    ) -> Result<Option<crate::store::DisputeRow>, ServiceError> {
        Ok(self.store.dispute_row(reference).await?)
    }
}
