//! The hash chain that makes the record tamper-evident: each event stores the SHA-256 of the
//! previous event of its dispute and of the previous event in the whole log.

use super::from_micros;
use crate::escalation::Event;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// The previous hash of the first event (of a dispute, or of the whole log).
pub const GENESIS: &str = "";

/// The hash of one stored event over its links and its exact stored body.
pub fn event_hash(
    prev_hash: &str,
    prev_global_hash: &str,
    reference: &str,
    seq: i64,
    body: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        "escalation-bot/event/v1",
        prev_hash,
        prev_global_hash,
        reference,
        &seq.to_string(),
        body,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// An event row as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub global_seq: i64,
    pub reference: String,
    pub seq: i64,
    pub at_us: i64,
    pub actor: Option<String>,
    pub kind: String,
    pub body: String,
    pub prev_hash: String,
    pub prev_global_hash: String,
    pub hash: String,
}

impl StoredEvent {
    pub(super) fn event(&self) -> Result<Event, super::StoreError> {
        serde_json::from_str(&self.body).map_err(|e| {
            super::StoreError::Corrupt(format!(
                "{} event {} cannot be read ({e}); run `escalation-bot audit verify`",
                self.reference, self.seq
            ))
        })
    }
}

/// The first broken link found, located by dispute reference and event number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub reference: String,
    pub seq: i64,
    pub problem: String,
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} event {}: {}", self.reference, self.seq, self.problem)
    }
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub disputes: u64,
    pub broken: Option<BrokenLink>,
    /// What the rest of the database says that the log does not bear out (reference counters,
    /// projections, inbound request keys): each a sentence. Checked only when the chain holds.
    pub inconsistencies: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing at all was found.
    pub fn intact(&self) -> bool {
        self.broken.is_none() && self.inconsistencies.is_empty()
    }
}

/// Checks rows in log order; stops at the first broken link of a dispute's own chain.
///
/// A break in the whole-log chain alone (the event before a row in the log is gone) is held
/// back while the walk goes on: removing a dispute's event breaks the log chain at whichever
/// event comes next in the log, often another dispute's, while that dispute's own chain shows
/// which event is missing.
#[derive(Default)]
pub(super) struct Verifier {
    last_global_hash: String,
    last_global_seq: i64,
    last_event: Option<(String, i64)>,
    disputes: HashMap<String, (i64, String)>,
    events: u64,
    /// The first whole-log break, and how many events had been checked before it.
    log_break: Option<(BrokenLink, u64)>,
}

impl Verifier {
    pub(super) fn check(&mut self, row: &StoredEvent) -> Result<(), BrokenLink> {
        let at = |seq: i64, problem: &str| BrokenLink {
            reference: row.reference.clone(),
            seq,
            problem: problem.to_string(),
        };
        let broken = |problem: &str| at(row.seq, problem);
        let (last_seq, last_hash) = self
            .disputes
            .get(&row.reference)
            .cloned()
            .unwrap_or((0, GENESIS.to_string()));
        if row.seq != last_seq + 1 {
            return Err(at(
                last_seq + 1,
                &format!(
                    "this event is missing or out of place: the next event recorded for the dispute is numbered {}",
                    row.seq
                ),
            ));
        }
        let expected = event_hash(
            &row.prev_hash,
            &row.prev_global_hash,
            &row.reference,
            row.seq,
            &row.body,
        );
        if expected != row.hash {
            return Err(broken(
                "its stored content does not match its hash: it was changed after it was recorded",
            ));
        }
        match serde_json::from_str::<Event>(&row.body) {
            Ok(e) => {
                let actor = e.actor.as_ref().map(|a| a.0.clone());
                if e.at != from_micros(row.at_us) || actor != row.actor || e.body.kind() != row.kind
                {
                    return Err(broken(
                        "its time, actor or kind columns differ from the recorded event: they were changed",
                    ));
                }
            }
            Err(_) => return Err(broken("its recorded body is not a readable event")),
        }
        if row.prev_hash != last_hash {
            return Err(broken(
                "it does not link to the event before it in its dispute: that event was changed, removed or reordered",
            ));
        }
        if row.prev_global_hash != self.last_global_hash && self.log_break.is_none() {
            let link = broken(
                "it does not link to the event before it in the whole log: an event was removed or the log reordered",
            );
            self.log_break = Some((link, self.events));
        }
        self.disputes
            .insert(row.reference.clone(), (row.seq, row.hash.clone()));
        self.last_global_hash = row.hash.clone();
        self.last_global_seq = row.global_seq;
        self.last_event = Some((row.reference.clone(), row.seq));
        self.events += 1;
        Ok(())
    }

    /// Compares the end of the walk with the sealed head, which names the newest event
    /// (`head_event`): catches removal of the newest events.
    pub(super) fn finish(
        self,
        head_seq: i64,
        head_hash: &str,
        head_event: (String, i64),
        broken: Option<BrokenLink>,
    ) -> VerifyReport {
        let mut events = self.events;
        let broken = broken.or_else(|| {
            self.log_break.clone().map(|(link, before)| {
                events = before;
                link
            })
        });
        let broken = broken.or_else(|| {
            (head_hash != self.last_global_hash || head_seq != self.last_global_seq).then(|| {
                let (reference, seq) = if head_event.0.is_empty() {
                    self.last_event.clone().unwrap_or_else(|| ("(empty log)".into(), 0))
                } else {
                    head_event
                };
                BrokenLink {
                    reference,
                    seq,
                    problem: "the sealed head records this as the newest event, but the log does not end with it: the newest event(s) were removed".into(),
                }
            })
        });
        VerifyReport {
            events,
            disputes: self.disputes.len() as u64,
            broken,
            inconsistencies: Vec::new(),
        }
    }
}

/// Computes the rows of new events, linked to the dispute's last hash and the log's head.
pub(super) fn link(
    reference: &str,
    first_seq: i64,
    mut prev_hash: String,
    mut prev_global: String,
    events: &[Event],
) -> Result<Vec<StoredEvent>, super::StoreError> {
    let mut rows = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let body =
            serde_json::to_string(e).map_err(|err| super::StoreError::Database(err.to_string()))?;
        let seq = first_seq + i as i64;
        let hash = event_hash(&prev_hash, &prev_global, reference, seq, &body);
        rows.push(StoredEvent {
            global_seq: 0,
            reference: reference.to_string(),
            seq,
            at_us: super::micros(e.at),
            actor: e.actor.as_ref().map(|a| a.0.clone()),
            kind: e.body.kind().to_string(),
            body,
            prev_hash: prev_hash.clone(),
            prev_global_hash: prev_global.clone(),
            hash: hash.clone(),
        });
        prev_hash = hash.clone();
        prev_global = hash;
    }
    Ok(rows)
}
