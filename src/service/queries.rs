//! What adapters and the web layer ask of the record, each a question in its own words: is the
//! database up, which challenges is this person part of, what does a dispute's record say and
//! does the chain hold, was this request seen.

use super::{Service, ServiceError};
use crate::directory::PersonId;
use crate::escalation::{Event, Reference};
use crate::store::{DisputeRow, StoreError, VerifyReport};

impl Service {
    /// Whether the database answers; the backend's name when it does (for `/readyz`).
    pub async fn health(&self) -> Result<&'static str, StoreError> {
        self.store.ping().await?;
        Ok(self.store.backend())
    }

    /// Which database backend the record is on, for logs.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The open challenges a person is part of (as party, owner or asked to acknowledge).
    pub async fn open_for(&self, person: &PersonId) -> Result<Vec<DisputeRow>, ServiceError> {
        Ok(self.store.open_for_person(&person.0).await?)
    }

    /// A dispute's events with a check of the whole hash chain, for showing its record.
    pub async fn audit_trail(
        &self,
        reference: &Reference,
    ) -> Result<(Vec<Event>, VerifyReport), ServiceError> {
        let events = self.store.events(reference).await?;
        let verify = self.store.verify().await?;
        Ok((events, verify))
    }

    /// Records a request id that causes no events (an Events API callback); false when it was
    /// seen before, so a platform's redelivery is answered without acting twice.
    pub async fn first_time(&self, key: &str) -> Result<bool, ServiceError> {
        Ok(self.store.claim_inbound(key, self.now()).await?)
    }
}
