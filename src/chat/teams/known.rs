//! The Teams addresses learnt from activities: each tenant's Bot Connector base URL
//! (`serviceUrl`) and each user's Teams id (`29:…`) behind their Entra object id, so posts and
//! direct messages reach the right regional Connector after a restart or on another replica.
//! Kept in the service's adapter state: they are Teams' business, not the record's.

use crate::service::{AdapterState, Service};
use crate::store::StoreError;

/// Teams' name in the adapter state.
const ADAPTER: &str = "teams";

/// The Teams addresses the service has learnt.
#[derive(Debug, Clone)]
pub struct KnownAddresses {
    state: AdapterState,
}

impl KnownAddresses {
    /// Teams' corner of the service's adapter state.
    pub fn of(service: &Service) -> KnownAddresses {
        KnownAddresses {
            state: service.adapter_state(ADAPTER),
        }
    }

    /// The Connector base URL last seen in a tenant's activities.
    pub async fn service_url(&self, tenant: &str) -> Result<Option<String>, StoreError> {
        self.state.get(&format!("service_url:{tenant}")).await
    }

    /// Keeps a tenant's `serviceUrl`, so outbound posts use the Connector region Teams named.
    pub async fn remember_service_url(&self, tenant: &str, url: &str) -> Result<(), StoreError> {
        self.state.put(&format!("service_url:{tenant}"), &url).await
    }

    /// A user's Teams id behind their Entra object id, once seen in an activity.
    pub async fn user_id(
        &self,
        tenant: &str,
        aad_object_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.state
            .get(&format!("user:{tenant}:{aad_object_id}"))
            .await
    }

    /// Keeps a user's Teams id, for starting direct messages with them.
    pub async fn remember_user(
        &self,
        tenant: &str,
        aad_object_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        self.state
            .put(&format!("user:{tenant}:{aad_object_id}"), &user_id)
            .await
    }
}
