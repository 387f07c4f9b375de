//! Publishing the record's signed head to each board's channel once a day, so that a copy the
//! database cannot reach exists for `audit verify --checkpoints` to check the log against.

use super::{Service, ServiceError};
use crate::calendar::{format_uk_long, local_date};
use crate::posts::{compose, fanout};
use crate::store::checkpoint::{Checkpoint, CheckpointFinding, CheckpointKey};
use chrono::{DateTime, NaiveDate, Utc};

impl Service {
    /// Signs the record's head now (None while the log is empty: there is nothing to anchor).
    pub async fn checkpoint(
        &self,
        key: &CheckpointKey,
    ) -> Result<Option<Checkpoint>, ServiceError> {
        let (position, head) = self.store.head().await?;
        Ok((position > 0).then(|| key.sign(position, &head, self.now())))
    }

    /// Whether the record still holds a signed checkpoint (its signature checked with `public_key`).
    pub async fn check_checkpoint(
        &self,
        checkpoint: &Checkpoint,
        public_key: &[u8],
    ) -> Result<CheckpointFinding, ServiceError> {
        Ok(self.store.check_checkpoint(checkpoint, public_key).await?)
    }

    /// Queues a checkpoint to every board's channel, at most once per board per UK calendar
    /// day whichever replica tries (the outbox key names the board and the day). Returns how
    /// many posts were queued anew.
    pub async fn publish_checkpoint(&self, checkpoint: &Checkpoint) -> Result<usize, ServiceError> {
        let day = local_date(checkpoint.at);
        let mut queued = 0;
        for policy in self.policies.iter() {
            let message = compose::checkpoint(
                &policy.board.name,
                checkpoint.position,
                &format_uk_long(checkpoint.at),
                &checkpoint.to_line(),
            );
            let owner = format!("checkpoint/{}", policy.id);
            let rows: Vec<_> = fanout::board_channels(&self.directory(), &policy.id)
                .map(|target| {
                    fanout::outbox_row(
                        format!("checkpoint|{}|{day}|{}", policy.id, target.key()),
                        target.lane(&owner),
                        &target,
                        &message,
                        checkpoint.at,
                    )
                })
                .collect();
            queued += rows.len();
            self.store.enqueue(&owner, &rows, checkpoint.at).await?;
        }
        Ok(queued)
    }
}

/// Publishes a checkpoint on the first tick of each UK day; held by the scheduler.
#[derive(Debug)]
pub struct CheckpointPublisher {
    key: CheckpointKey,
    last: std::sync::Mutex<Option<NaiveDate>>,
}

impl CheckpointPublisher {
    /// A publisher signing with `key`.
    pub fn new(key: CheckpointKey) -> CheckpointPublisher {
        CheckpointPublisher {
            key,
            last: std::sync::Mutex::new(None),
        }
    }

    /// Publishes today's checkpoint unless this process already did; a failure is retried on
    /// the next tick.
    pub async fn tick(&self, service: &Service, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let today = local_date(now);
        if *self.last.lock().unwrap_or_else(|p| p.into_inner()) == Some(today) {
            return Ok(());
        }
        // An empty record has nothing to anchor yet: try again on a later tick.
        let Some(checkpoint) = service.checkpoint(&self.key).await? else {
            return Ok(());
        };
        let queued = service.publish_checkpoint(&checkpoint).await?;
        tracing::info!(
            position = checkpoint.position,
            queued,
            "published the record's checkpoint to the boards' channels"
        );
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(today);
        Ok(())
    }
}
