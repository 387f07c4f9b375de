//! The scheduler: turns due schedule rows into system commands on the same path as people's.
//!
//! A row is claimed with a lease, decided by the core, and appended with the row's key as the
//! request id, so a crash, a restart or several replicas can never send a reminder twice: a
//! second attempt finds the key recorded and only marks the row done.

pub use crate::reminders::{Plan, plan};

use crate::escalation::{Reference, SystemCommand};
use crate::service::{Service, ServiceError};
use crate::store::{ScheduleRow, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs scheduled work for one process.
pub struct Scheduler {
    service: Arc<Service>,
    /// Signs and posts the record's checkpoint daily, where a signing key is configured.
    checkpoints: Option<crate::service::CheckpointPublisher>,
    owner: String,
    lease: Duration,
    batch: i64,
    idle: Duration,
}

impl Scheduler {
    /// A scheduler claiming rows as `owner`.
    pub fn new(service: Arc<Service>, owner: String) -> Scheduler {
        Scheduler {
            service,
            checkpoints: None,
            owner,
            lease: Duration::from_secs(60),
            // A batch of this size keeps a busy tick within 50 ms of durable appends.
            batch: 25,
            idle: Duration::from_millis(500),
        }
    }

    /// Also publishes the record's signed checkpoint to every board's channel once a day.
    pub fn with_checkpoints(mut self, publisher: crate::service::CheckpointPublisher) -> Scheduler {
        self.checkpoints = Some(publisher);
        self
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let worked = match self.tick().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler: cannot claim due work");
                    false
                }
            };
            if !worked {
                tokio::select! {
                    _ = tokio::time::sleep(self.idle) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// Claims and handles the work due now; returns how many rows were handled.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        // A directory change applied by the Board (here or on another replica) is taken up
        // here: one read of its number per tick.
        if let Err(e) = self.service.refresh_directory().await {
            tracing::warn!(error = %e, "scheduler: cannot take up the applied directory change; keeping the one in use");
        }
        let now = self.service.now();
        if let Some(publisher) = &self.checkpoints
            && let Err(e) = publisher.tick(&self.service, now).await
        {
            tracing::warn!(error = %e, "scheduler: cannot publish the record's checkpoint; will retry");
        }
        Ok(self.work_due().await?.handled)
    }

    /// Claims and handles the work due now, saying which rows could not be recorded: the
    /// running loop leaves them leased to be retried, a simulation stops on them.
    pub async fn work_due(&self) -> Result<Tick, StoreError> {
        let rows = self
            .service
            .claim_scheduled(&self.owner, self.lease, self.batch)
            .await?;
        let mut tick = Tick {
            handled: rows.len(),
            failed: Vec::new(),
        };
        for row in rows {
            if let Some(error) = self.handle(&row).await? {
                tick.failed.push(Failed {
                    key: row.idempotency_key,
                    error,
                });
            }
        }
        Ok(tick)
    }

    /// Records one due row; the service's error when it could not, leaving the row leased.
    async fn handle(&self, row: &ScheduleRow) -> Result<Option<ServiceError>, StoreError> {
        let (Ok(reference), Ok(command)) = (
            Reference::parse(&row.reference),
            serde_json::from_value::<SystemCommand>(row.payload.clone()),
        ) else {
            tracing::error!(key = %row.idempotency_key, "scheduler: unreadable schedule row; marking it done");
            self.service.scheduled_done(row.id, &self.owner).await?;
            return Ok(None);
        };
        match self
            .service
            .system(&reference, &command, Some(row.idempotency_key.clone()))
            .await
        {
            Ok(outcome) => {
                let outcome = if outcome.is_some() {
                    "recorded"
                } else {
                    "stale"
                };
                tracing::debug!(key = %row.idempotency_key, owner = %self.owner, outcome, "scheduler: handled a due row");
                self.service.scheduled_done(row.id, &self.owner).await?;
                Ok(None)
            }
            Err(ServiceError::Duplicate) | Err(ServiceError::UnknownDispute(_)) => {
                tracing::debug!(key = %row.idempotency_key, owner = %self.owner, outcome = "already recorded", "scheduler: handled a due row");
                self.service.scheduled_done(row.id, &self.owner).await?;
                Ok(None)
            }
            Err(e) => {
                // Leave the row leased: it is retried when the lease runs out.
                tracing::warn!(error = %e, key = %row.idempotency_key, "scheduler: could not record due work; will retry");
                Ok(Some(e))
            }
        }
    }
}

/// What one pass over the due work did.
#[derive(Debug, Default)]
pub struct Tick {
    /// Rows claimed and handled (recorded, stale, or failed).
    pub handled: usize,
    /// Rows the service could not record, left leased for a retry.
    pub failed: Vec<Failed>,
}

/// A due row that could not be recorded, and why.
#[derive(Debug)]
pub struct Failed {
    /// The row's key (also the request id of what it records).
    pub key: String,
    pub error: ServiceError,
}
