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
        let now = self.service.now();
        if let Some(publisher) = &self.checkpoints
            && let Err(e) = publisher.tick(&self.service, now).await
        {
            tracing::warn!(error = %e, "scheduler: cannot publish the record's checkpoint; will retry");
        }
        let rows = self
            .service
            .store
            .claim_schedule(&self.owner, now, self.lease, self.batch)
            .await?;
        let n = rows.len();
        for row in rows {
            self.handle(row).await?;
        }
        Ok(n)
    }

    async fn handle(&self, row: ScheduleRow) -> Result<(), StoreError> {
        let now = self.service.now();
        let (Ok(reference), Ok(command)) = (
            Reference::parse(&row.reference),
            serde_json::from_value::<SystemCommand>(row.payload.clone()),
        ) else {
            tracing::error!(key = %row.idempotency_key, "scheduler: unreadable schedule row; marking it done");
            self.service
                .store
                .schedule_done(row.id, &self.owner, now)
                .await?;
            return Ok(());
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
                self.service
                    .store
                    .schedule_done(row.id, &self.owner, now)
                    .await?;
            }
            Err(ServiceError::Duplicate) | Err(ServiceError::UnknownDispute(_)) => {
                tracing::debug!(key = %row.idempotency_key, owner = %self.owner, outcome = "already recorded", "scheduler: handled a due row");
                self.service
                    .store
                    .schedule_done(row.id, &self.owner, now)
                    .await?;
            }
            Err(e) => {
                // Leave the row leased: it is retried when the lease runs out.
                tracing::warn!(error = %e, key = %row.idempotency_key, "scheduler: could not record due work; will retry");
            }
        }
        Ok(())
    }
}
