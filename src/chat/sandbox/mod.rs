//! The sandbox: a third chat adapter whose platform is a web page, for demos, training and tests.
//!
//! It sits on the same path as Slack and Teams: the page's requests become core commands through
//! `Service` (inbound), the delivery worker posts through `SandboxPoster` into the sandbox's
//! kept posts (poster, kept), and the page shows those, so nothing it shows is made up around the
//! core. `serve --sandbox` moves every agency's channel here and gives it a demo clock.

pub mod clock;
mod inbound;
pub mod kept;
mod page;
mod poster;
pub mod view;

pub use inbound::{DIRECT_CHANNEL, routes};
pub use poster::SandboxPoster;

use crate::service::Service;
use std::sync::Arc;
use tokio::sync::watch;

/// Tells open pages that something changed (a post landed, the clock moved), so they update
/// without a reload.
#[derive(Clone)]
pub struct Changes(Arc<watch::Sender<u64>>);

impl Changes {
    fn new() -> Changes {
        Changes(Arc::new(watch::Sender::new(0)))
    }

    /// Counts one more change and wakes every open page.
    pub fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// What the sandbox's handlers and its poster share.
#[derive(Clone)]
pub struct SandboxState {
    service: Arc<Service>,
    changes: Changes,
    /// The platform each agency's channel stands for (agency id → Slack or Teams), so the page
    /// can say so and take that platform's way of typing a command there.
    stands_for: Arc<std::collections::HashMap<String, crate::directory::Platform>>,
}

impl SandboxState {
    /// The sandbox adapter over a service (whose directory should be `Directory::on_sandbox`).
    pub fn new(
        service: Arc<Service>,
        stands_for: std::collections::HashMap<String, crate::directory::Platform>,
    ) -> SandboxState {
        SandboxState {
            service,
            changes: Changes::new(),
            stands_for: Arc::new(stands_for),
        }
    }

    /// The platform an agency's sandbox channel stands for (Slack where it is not known).
    pub fn platform_of(&self, channel: &str) -> crate::directory::Platform {
        self.stands_for
            .get(channel)
            .copied()
            .unwrap_or(crate::directory::Platform::Slack)
    }

    /// The poster the delivery worker uses for sandbox targets.
    pub fn poster(&self) -> SandboxPoster {
        SandboxPoster::new(self.service.clone(), self.changes.clone())
    }

    /// Puts the demo clock back where the last run left it, so a restarted sandbox does not show
    /// a record from its own future. Does nothing on a clock that cannot be moved.
    pub async fn restore_clock(&self) -> Result<(), String> {
        let Some(manual) = self.service.clock.as_manual() else {
            return Ok(());
        };
        let kept = kept::SandboxKept::of(&self.service)
            .clock_offset()
            .await
            .map_err(|e| format!("cannot read the sandbox's demo clock: {e}"))?;
        let kept = chrono::Duration::microseconds(kept);
        if kept > manual.offset() {
            manual.advance(kept - manual.offset());
        }
        Ok(())
    }
}
