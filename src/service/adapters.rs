//! What a chat adapter keeps for itself: platform addresses it learnt (a Teams tenant's
//! Connector URL, a user's Teams id), the sandbox's posts and its demo clock.
//!
//! None of it is the record, and the record's API knows nothing of it: each adapter gets a handle
//! on its own corner of a generic store table, typed with serde at the edge.

use super::{Clock, Service};
use crate::store::{Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

impl Service {
    /// The state kept for one adapter (its name is the namespace, e.g. `"teams"`).
    pub fn adapter_state(&self, adapter: &'static str) -> AdapterState {
        AdapterState {
            store: self.store.clone(),
            clock: self.clock.clone(),
            adapter,
        }
    }
}

/// One adapter's keys and values, written at the service's time.
#[derive(Clone)]
pub struct AdapterState {
    store: Store,
    clock: Arc<dyn Clock>,
    adapter: &'static str,
}

impl std::fmt::Debug for AdapterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterState")
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}

fn unreadable(adapter: &str, key: &str, e: &serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{adapter}'s {key} is not what it wrote: {e}"))
}

impl AdapterState {
    /// The value kept under `key`, if any.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.store.adapter_get(self.adapter, key).await? {
            Some(entry) => serde_json::from_value(entry.value)
                .map(Some)
                .map_err(|e| unreadable(self.adapter, key, &e)),
            None => Ok(None),
        }
    }

    /// Keeps `value` under `key`, replacing what was there.
    pub async fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let value = serde_json::to_value(value).map_err(|e| unreadable(self.adapter, key, &e))?;
        self.store
            .adapter_put(self.adapter, key, &value, self.clock.now())
            .await
    }

    /// Every value under keys starting with `prefix`, in key order.
    pub async fn list<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        self.store
            .adapter_list(self.adapter, prefix)
            .await?
            .into_iter()
            .map(|entry| {
                serde_json::from_value(entry.value)
                    .map(|v| (entry.key.clone(), v))
                    .map_err(|e| unreadable(self.adapter, &entry.key, &e))
            })
            .collect()
    }

    /// The next number of a counter (1, 2, …), never the same twice, across replicas too.
    pub async fn next(&self, counter: &str) -> Result<i64, StoreError> {
        self.store
            .adapter_next(self.adapter, counter, self.clock.now())
            .await
    }
}
