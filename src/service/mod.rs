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
    pub directory: Arc<Directory>,
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
        let decider = Arc::new(Decider {
            store: store.clone(),
            policies: policies.clone(),
            directory: directory.clone(),
            clock: clock.clone(),
            calendars,
            public_url: std::sync::OnceLock::new(),
        });
        Ok(Service {
            store,
            policies,
            directory,
            clock,
            writer: Writer::new(decider.clone()),
            decider,
        })
    }

    /// What posts about a board's challenges are composed from, at the service's time now.
    pub fn scene(&self, policy: &str) -> Result<crate::posts::compose::Scene<'_>, ServiceError> {
        let (policy, calendar) = self.policy(policy)?;
        Ok(crate::posts::compose::Scene {
            policy,
            calendar,
            dir: &self.directory,
            now: self.now(),
        })
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
        let agency = self.directory.agency_of(person).ok_or_else(|| {
            ServiceError::Refused(Refusal::UnknownPerson {
                name: person.0.clone(),
            })
        })?;
        self.policy(&agency.board)
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

    /// Records a fact the service itself observed (a thread opened).
    pub async fn record(
        &self,
        reference: &Reference,
        body: escalation::EventBody,
    ) -> Result<(), ServiceError> {
        self.writer
            .submit(Work::Record {
                reference: reference.clone(),
                body,
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
