//! Projections: the questions people ask (open disputes by agency and person, stage, owners,
//! deadlines, threads), computed from a dispute's state by one function for live and rebuild alike.

use crate::escalation::{Dispute, Status};
use chrono::{DateTime, Utc};

/// One dispute as the `disputes` table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeRow {
    pub reference: String,
    pub policy: String,
    pub status: String,
    pub stage: i64,
    pub tier: i64,
    pub stage_name: String,
    pub due: Option<DateTime<Utc>>,
    pub urgent: bool,
    pub raised_by: String,
    pub raising_agency: String,
    pub receiving_agency: String,
    pub first_raised: DateTime<Utc>,
    pub version: i64,
}

/// Every projection row, sorted: two snapshots compare equal when the projections are identical.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    pub disputes: Vec<DisputeRow>,
    /// (reference, person, relation)
    pub people: Vec<(String, String, String)>,
    /// (reference, agency, side)
    pub agencies: Vec<(String, String, String)>,
    /// (reference, platform, workspace, channel, thread)
    pub threads: Vec<(String, String, String, String, String)>,
}

impl Projection {
    pub(super) fn sort(&mut self) {
        self.disputes.sort_by(|a, b| a.reference.cmp(&b.reference));
        self.people.sort();
        self.agencies.sort();
        self.threads.sort();
    }
}

pub(super) fn status_name(s: Status) -> &'static str {
    match s {
        Status::NotRaised => "not_raised",
        Status::Open => "open",
        Status::Resolved => "resolved",
        Status::Withdrawn => "withdrawn",
    }
}

/// The projection rows of one dispute (none before it is raised).
pub(super) fn rows_for(d: &Dispute) -> Option<Projection> {
    let reference = d.reference.as_ref()?.to_string();
    let raised_by = d.raised_by.as_ref()?.0.clone();
    let raising = d.raising_agency.as_ref()?.0.clone();
    let receiving = d.receiving_agency.as_ref()?.0.clone();
    let row = DisputeRow {
        reference: reference.clone(),
        policy: d.policy.clone(),
        status: status_name(d.status).to_string(),
        stage: i64::from(d.stage),
        tier: i64::from(d.tier),
        stage_name: d.stage_name.clone(),
        due: d.due,
        urgent: d.urgent,
        raised_by: raised_by.clone(),
        raising_agency: raising.clone(),
        receiving_agency: receiving.clone(),
        first_raised: d.first_raised_at.unwrap_or_default(),
        version: d.version as i64,
    };
    let mut people = vec![(reference.clone(), raised_by, "raised_by".to_string())];
    if let Some(o) = &d.other_professional {
        people.push((reference.clone(), o.0.clone(), "other_professional".into()));
    }
    for o in d.owners() {
        people.push((reference.clone(), o.0.clone(), "owner".into()));
    }
    for a in &d.awaiting_ack {
        people.push((reference.clone(), a.0.clone(), "awaiting_ack".into()));
    }
    people.sort();
    people.dedup();
    let agencies = vec![
        (reference.clone(), raising, "raising".to_string()),
        (reference.clone(), receiving, "receiving".to_string()),
    ];
    let threads = d
        .threads
        .iter()
        .map(|t| {
            (
                reference.clone(),
                t.platform.to_string(),
                t.workspace.clone(),
                t.channel.clone(),
                t.thread.clone(),
            )
        })
        .collect();
    let mut p = Projection {
        disputes: vec![row],
        people,
        agencies,
        threads,
    };
    p.sort();
    Some(p)
}

/// Whether two states of one dispute have the same projection rows but for the version: then
/// an append only moves the version on (a note, say) and the rows need not be written again.
pub(super) fn only_version_differs(before: &Dispute, after: &Dispute) -> bool {
    match (rows_for(before), rows_for(after)) {
        (Some(mut b), Some(a)) => {
            for row in &mut b.disputes {
                row.version = after.version as i64;
            }
            b == a
        }
        _ => false,
    }
}
