//! Whether a claimed row may be posted now: the channel's pacing and the platform's pauses, as
//! every replica on the database sees them.
//!
//! Slack takes about one message a second per channel. Each row books a slot in its channel's
//! row of `delivery_pace` (replicas booking at once get different slots); a row whose slot is
//! later is handed back until then and keeps it, so a backlog waits without being claimed over
//! and over, and drains at the channel's pace. A pause (HTTP 429 `Retry-After`) holds every
//! post to the workspace until it ends, on every replica; slots booked before it are dropped
//! and booked again after it. A workspace held because its credentials stopped working holds
//! every post to it, kept, until it is installed again.

use super::{Worker, paced_by};
use crate::directory::Platform;
use crate::posts::Target;
use crate::store::{OutboxRow, PacingRow, StoreError};
use chrono::{DateTime, Utc};

/// What to do with a claimed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Go {
    /// Post it.
    Now,
    /// Hand it back until a pause ends (no slot held).
    Paused(DateTime<Utc>),
    /// Hand it back until its booked slot.
    AtSlot(DateTime<Utc>),
    /// Booked a later slot and already handed back to wait for it.
    Booked,
    /// The workspace is held (its credentials stopped working): keep it until it is installed again.
    Held,
}

/// The pacing row a target's posts book their slots in (its channel's, or for a direct message
/// the person's conversation's), or None where nothing paces it: the sandbox, a root's rewrite,
/// a private answer.
pub(super) fn pacing_row(target: &Target) -> Option<PacingRow> {
    if target.platform == Platform::Sandbox {
        return None;
    }
    let by = paced_by(target).filter(|c| !c.is_empty())?;
    Some(PacingRow {
        platform: target.platform.to_string(),
        workspace: target.workspace.clone(),
        channel: by.to_string(),
    })
}

impl Worker {
    pub(super) async fn pace(
        &self,
        row: &OutboxRow,
        platform: Platform,
        workspace: &str,
        channel: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Go, StoreError> {
        if platform == Platform::Sandbox {
            return Ok(Go::Now);
        }
        let name = platform.to_string();
        let pace = self
            .outbox
            .pace(&name, workspace, channel.unwrap_or(""))
            .await?;
        if pace.held {
            return Ok(Go::Held);
        }
        let pause_end = pace.paused_until.filter(|until| *until > now);
        let spacing = self.config.channel_spacing;
        let paced = channel.filter(|c| !c.is_empty() && !spacing.is_zero());
        let Some(channel) = paced else {
            return Ok(pause_end.map_or(Go::Now, Go::Paused));
        };
        let step =
            chrono::Duration::from_std(spacing).unwrap_or_else(|_| chrono::Duration::seconds(1));
        if let Some(slot) = row.slot {
            // A slot booked before a pause began is void: the pause moved everything after it.
            let valid = pace.paused_until.is_none_or(|p| slot >= p);
            if valid && slot <= now && now < slot + step {
                return Ok(Go::Now);
            }
            if valid && slot > now {
                return Ok(Go::AtSlot(slot));
            }
        }
        if let Some(until) = pause_end {
            return Ok(Go::Paused(until));
        }
        let slot = self
            .outbox
            .book_slot_for(
                row.id,
                &self.config.owner,
                &name,
                workspace,
                channel,
                now,
                spacing,
            )
            .await?;
        Ok(if slot <= now { Go::Now } else { Go::Booked })
    }
}
