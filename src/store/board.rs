//! What the Board's view reads and writes: which disputes the challenge log reads, a
//! dispute's whole record with its chain checked, sign-in links and sessions, and who viewed what.

use super::chain::BrokenLink;
use crate::escalation::Event;
use chrono::{DateTime, Utc};

/// Which disputes a log reads: one board's, raised in `[from, to)`, optionally only those an
/// agency is part of (an agency's safeguarding lead sees no others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogScope {
    pub board: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub agency: Option<String>,
}

/// One event of a dispute's record as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub seq: i64,
    pub event: Event,
    pub hash: String,
}

/// A dispute's whole record: every event in order, and what checking its hash chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeRecord {
    pub reference: String,
    pub events: Vec<RecordedEvent>,
    /// None: every link of the dispute's own chain holds.
    pub broken: Option<BrokenLink>,
}

/// Someone looked at (or exported) a dispute's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub reference: String,
    pub person: String,
    /// `record`, `form` or `export`.
    pub what: String,
    pub at: DateTime<Utc>,
}
