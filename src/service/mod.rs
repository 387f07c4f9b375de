//! The application service: one path from a person's request to the record, for every platform.
//!
//! Resolve the board policy, load the dispute, decide with the core, plan the posts, and append
//! events and outbox rows through the one writer, which group-commits and decides again on a
//! concurrent change (`writer.rs`). Slack, Teams, the sandbox and the scheduler all come through
//! here.

mod adapters;
mod board;
mod checkpoints;
mod clock;
mod people;
mod queries;
mod workers;
mod writer;

pub use adapters::AdapterState;
pub use board::{LINK_MINUTES, SESSION_HOURS, Session, token_hash};
pub use checkpoints::CheckpointPublisher;
pub use clock::{Clock, ManualClock, SystemClock};
pub use workers::Outbox;

use crate::calendar::{Calendar, CalendarError};
use crate::directory::{Directory, PersonId};
use crate::escalation::{self, Command, Dispute, Event, RaiseDetails, Reference, Refusal};
use crate::policy::{Policy, PolicySet};
use crate::posts::Origin;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use writer::{Decider, Work, Writer};

/// Why a request could not be recorded. `Refused` is the person's to fix; the rest are ours.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error(
        "there is no challenge {0}; check the reference against the list of your open challenges"
    )]
    UnknownDispute(String),
    #[error("this request was already recorded")]
    Duplicate,
    #[error("{0} is changing too fast to record this right now; try again in a moment")]
    Busy(String),
    #[error("the record could not be written: {0}")]
    Store(StoreError),
    #[error("{0}")]
    Setup(String),
}

/// The directory in use in a database and the change it is (0: the directory file alone): the
/// people the Board last applied (by `directory import`), with the agencies of the directory
/// file (and the channels admins connected from the chat); the file alone before any import.
pub async fn directory_in_use(
    store: &Store,
    file: &Directory,
) -> Result<(i64, Directory), ServiceError> {
    match store.current_directory().await? {
        None => Ok((0, file.clone())),
        Some(applied) => Ok((
            applied.seq,
            Directory::from_stored(
                &format!("the applied directory change {}", applied.seq),
                &applied.content,
            )
            .map_err(|e| ServiceError::Setup(e.to_string()))?
            .with_agencies_of(file),
        )),
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate => ServiceError::Duplicate,
            other => ServiceError::Store(other),
        }
    }
}

/// What a recorded request did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub reference: Reference,
    /// The dispute after the events.
    pub dispute: Dispute,
    pub events: Vec<Event>,
}

/// The policies, calendars, directory, store and clock the service works with.
pub struct Service {
    store: Store,
    pub policies: Arc<PolicySet>,
    /// The directory in use: swapped whole when a Board applies a change, without a restart.
    directory: Arc<std::sync::RwLock<Arc<Directory>>>,
    /// Where the agencies (their domains and channels) come from: the directory file.
    base: Arc<Directory>,
    /// The directory in use without the identities linked by email: what a change made from
    /// the chat (a channel connected) is applied to.
    stored: std::sync::RwLock<Arc<Directory>>,
    /// The number of the applied directory change in use (0: the file's own).
    directory_seq: std::sync::atomic::AtomicI64,
    /// The number of the newest identity link taken up (0: none).
    link_seq: std::sync::atomic::AtomicI64,
    /// One refresh at a time: the scheduler's and a request's do not interleave.
    refreshing: tokio::sync::Mutex<()>,
    pub clock: Arc<dyn Clock>,
    /// What decisions need, shared with the writer.
    decider: Arc<Decider>,
    /// Every change to a dispute goes through it: one writer, group commit, arrival order.
    writer: Writer,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store", &self.store.backend())
            .field("policies", &self.policies.ids())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Builds the service; every policy's calendar must be usable.
    pub fn new(
        store: Store,
        policies: Arc<PolicySet>,
        directory: Arc<Directory>,
        clock: Arc<dyn Clock>,
    ) -> Result<Service, ServiceError> {
        let mut calendars = BTreeMap::new();
        for p in policies.iter() {
            let cal = p.calendar().map_err(ServiceError::Setup)?;
            calendars.insert(p.id.clone(), cal);
        }
        // Before any import the directory file's own is in use: change 0, kept in the store
        // by the writer before the first event names it.
        let content = directory.to_stored();
        let version = crate::directory::DirectoryVersion {
            change: 0,
            sha256: crate::store::directory_sha256(&content),
        };
        let directory = Arc::new((*directory).clone().with_version(version));
        let current = Arc::new(std::sync::RwLock::new(directory.clone()));
        let decider = Arc::new(Decider {
            store: store.clone(),
            policies: policies.clone(),
            directory: current.clone(),
            clock: clock.clone(),
            calendars,
            public_url: std::sync::OnceLock::new(),
            unrecorded: std::sync::Mutex::new(Some(content)),
            committed: Default::default(),
        });
        Ok(Service {
            store,
            policies,
            directory: current,
            stored: std::sync::RwLock::new(directory.clone()),
            base: directory,
            directory_seq: std::sync::atomic::AtomicI64::new(0),
            link_seq: std::sync::atomic::AtomicI64::new(0),
            refreshing: tokio::sync::Mutex::new(()),
            clock,
            writer: Writer::new(decider.clone()),
            decider,
        })
    }

    /// What posts about a board's challenges are composed from, at the service's time now, with
    /// the directory the caller holds (see [`Service::directory`]).
    pub fn scene<'a>(
        &'a self,
        policy: &str,
        dir: &'a Directory,
    ) -> Result<crate::posts::compose::Scene<'a>, ServiceError> {
        let (policy, calendar) = self.policy(policy)?;
        Ok(crate::posts::compose::Scene {
            policy,
            calendar,
            dir,
            now: self.now(),
        })
    }

    /// The directory in use now. Hold it for the length of one request: a change applied
    /// meanwhile reaches the next request.
    pub fn directory(&self) -> Arc<Directory> {
        self.directory
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The number of the applied directory change in use (0 for the directory file's own).
    pub fn directory_version(&self) -> i64 {
        self.directory_seq
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes up a directory change applied since the one in use (by `directory import` here
    /// or on another replica): one read of its number, and a load only when it is new. True
    /// when the directory changed. A stored change that no longer fits the agencies is
    /// reported and left unused.
    pub async fn refresh_directory(&self) -> Result<bool, ServiceError> {
        use std::sync::atomic::Ordering;
        let _turn = self.refreshing.lock().await;
        let (changes, links) = self.store.directory_change().await?;
        let changed = changes.unwrap_or(0) > self.directory_version();
        let linked = links.unwrap_or(0) > self.link_seq.load(Ordering::Acquire);
        if !changed && !linked {
            return Ok(false);
        }
        // A new directory: every link again on top of it. Only new links: just those.
        let stored = if changed {
            self.store.current_directory().await?
        } else {
            None
        };
        let (mut next, since) = match stored {
            Some(applied) => {
                let stored = Directory::from_stored("the stored directory", &applied.content)
                    .map_err(|e| ServiceError::Setup(e.to_string()))?
                    .with_agencies_of(&self.base);
                // The agencies come from the directory file, which may have changed since the
                // change was applied: keep exactly what decisions are made with, once.
                let content = stored.to_stored();
                let sha256 = crate::store::directory_sha256(&content);
                if sha256 != applied.sha256 {
                    self.store.record_directory(&content, self.now()).await?;
                }
                let stored = stored.with_version(crate::directory::DirectoryVersion {
                    change: applied.seq,
                    sha256,
                });
                *self.stored.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(stored.clone());
                self.directory_seq.store(applied.seq, Ordering::Release);
                tracing::info!(
                    change = applied.seq,
                    "took up the directory change applied by the Board"
                );
                (stored, 0)
            }
            None => (
                (*self.directory()).clone(),
                self.link_seq.load(Ordering::Acquire),
            ),
        };
        let rows = self.store.identity_links_since(since).await?;
        for link in &rows {
            if let Some(platform) = crate::directory::Platform::from_name(&link.platform) {
                next.set_identity(platform, &link.workspace, &link.user, link.email.as_deref());
            }
        }
        if let Some(last) = rows.last() {
            self.link_seq.store(last.seq, Ordering::Release);
        }
        *self.directory.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(true)
    }

    /// The directory in use without identities linked by email (see `stored`).
    pub(crate) fn stored_directory(&self) -> Arc<Directory> {
        self.stored
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The directory's agencies as the directory file gives them (for checking an import).
    pub fn directory_file(&self) -> Arc<Directory> {
        self.base.clone()
    }

    /// Queues a private answer (a refusal, help, a form) to one person where they asked, under
    /// `owner`'s lane: the only way adapters put something in the outbox themselves.
    pub async fn reply_privately(
        &self,
        owner: &str,
        key: String,
        target: &crate::posts::Target,
        message: &crate::posts::Message,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let row = crate::posts::fanout::outbox_row(key, target.lane(owner), target, message, now);
        self.store.enqueue(owner, &[row], now).await?;
        Ok(())
    }

    /// The challenge a request with this key recorded, where one was recorded under it.
    pub async fn seen(&self, key: &str) -> Result<Option<String>, ServiceError> {
        Ok(self.store.seen_inbound(key).await?)
    }

    /// The time now, from the service's clock (a demo or test clock can move it).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The policy and calendar of a board.
    pub fn policy(&self, id: &str) -> Result<(&Policy, &Calendar), ServiceError> {
        self.decider.policy(id)
    }

    /// The board policy a person works under (their agency's board).
    pub fn policy_of(&self, person: &PersonId) -> Result<(&Policy, &Calendar), ServiceError> {
        let dir = self.directory();
        let agency = dir.agency_of(person).ok_or_else(|| {
            ServiceError::Refused(Refusal::UnknownPerson {
                name: person.0.clone(),
            })
        })?;
        let board = agency.board.clone();
        self.policy(&board)
    }

    /// Raises a new challenge: allocates its reference and records it, or records nothing.
    pub async fn raise(
        &self,
        actor: &PersonId,
        details: RaiseDetails,
        origin: Option<&Origin>,
        inbound_key: Option<String>,
    ) -> Result<Outcome, ServiceError> {
        let work = Work::Raise {
            actor: actor.clone(),
            details,
            origin: origin.cloned(),
            inbound_key,
        };
        self.writer
            .submit(work)
            .await?
            .ok_or_else(|| ServiceError::Setup("a raise recorded nothing".into()))
    }

    /// Acts on an existing dispute: decided in arrival order on the state the previous request
    /// left, and answered once it is durable.
    pub async fn act(
        &self,
        actor: &PersonId,
        reference: &Reference,
        command: &Command,
        origin: Option<&Origin>,
        inbound_key: Option<String>,
    ) -> Result<Outcome, ServiceError> {
        let work = Work::Act {
            actor: actor.clone(),
            reference: reference.clone(),
            command: command.clone(),
            origin: origin.cloned(),
            inbound_key,
        };
        // A person's command always records something or is refused.
        self.writer
            .submit(work)
            .await?
            .ok_or_else(|| ServiceError::Busy(reference.to_string()))
    }

    /// Decides scheduled work (a reminder, an overdue prompt, a nudge) on the same path as
    /// people's commands. `Ok(None)` when it is stale. Its posts wait for working hours unless
    /// the dispute is urgent.
    pub async fn system(
        &self,
        reference: &Reference,
        command: &escalation::SystemCommand,
        inbound_key: Option<String>,
    ) -> Result<Option<Outcome>, ServiceError> {
        self.writer
            .submit(Work::System {
                reference: reference.clone(),
                command: command.clone(),
                inbound_key,
            })
            .await
    }

    /// Records a fact the service itself observed (a thread opened). `sent`: the post it came
    /// from, marked sent in the same transaction (one sync to disk, not two); when this fails,
    /// the row is left as it was, for the caller to settle.
    pub async fn record(
        &self,
        reference: &Reference,
        body: escalation::EventBody,
        sent: Option<crate::store::SentRow>,
    ) -> Result<(), ServiceError> {
        self.writer
            .submit(Work::Record {
                reference: reference.clone(),
                body,
                sent,
            })
            .await
            .map(|_| ())
    }

    /// A dispute's events in order, as the record holds them.
    pub async fn events(&self, reference: &Reference) -> Result<Vec<Event>, ServiceError> {
        Ok(self.store.events(reference).await?)
    }

    /// A dispute's current state, or `UnknownDispute`.
    pub async fn dispute(&self, reference: &Reference) -> Result<Dispute, ServiceError> {
        // As this process's writer last committed it, where no other process can have moved
        // it on since (SQLite) or the record's newest event says it has not (PostgreSQL).
        if let Some(d) = self.decider.committed.get(reference) {
            let current =
                self.store.single_writer() || self.store.version(reference).await? == d.version;
            if current {
                return Ok(d);
            }
        }
        let d = self.store.load(reference).await?;
        if d.reference.is_none() {
            return Err(ServiceError::UnknownDispute(reference.to_string()));
        }
        Ok(d)
    }
}

impl From<CalendarError> for ServiceError {
    fn from(e: CalendarError) -> Self {
        ServiceError::Refused(Refusal::Calendar(e.to_string()))
    }
}
