//! The rest of the database checked against the log: what `audit verify` adds to the hash chain.
//!
//! The chain proves each event unchanged and in place, but not that the log is whole: events
//! deleted together with every later one, or a wiped log, leave a chain that links. Three things
//! outside the log remember what it held: the reference counters (every number issued belongs
//! to a dispute with events), the projections (each dispute's row is what its events fold to)
//! and the inbound request keys (a request recorded on a dispute left an event at that time).

use super::chain::StoredEvent;
use super::projection::{Projection, rows_for};
use crate::escalation::{Dispute, Event, Reference};
use std::collections::{BTreeMap, BTreeSet};

/// How many findings are listed before the rest are only counted.
const LISTED: usize = 20;

/// What the database outside the log holds, as read for the check.
pub(super) struct Outside {
    /// (prefix, year, last number issued)
    pub counters: Vec<(String, i64, i64)>,
    /// (key, the dispute it was recorded on, when in microseconds)
    pub inbound: Vec<(String, Option<String>, i64)>,
    /// The projections as stored.
    pub live: Projection,
}

/// Every inconsistency between the log (`rows`, in log order) and what is outside it.
pub(super) fn cross_check(rows: &[StoredEvent], outside: &Outside) -> Vec<String> {
    let mut found = Vec::new();
    let mut by_dispute: BTreeMap<&str, Vec<Event>> = BTreeMap::new();
    let mut times: BTreeSet<(&str, i64)> = BTreeSet::new();
    for row in rows {
        match row.event() {
            Ok(e) => by_dispute.entry(&row.reference).or_default().push(e),
            Err(e) => found.push(e.to_string()),
        }
        times.insert((&row.reference, row.at_us));
    }

    // Reference counters: the numbers issued for a board and year are exactly the disputes logged.
    let mut issued: BTreeMap<(String, i64), BTreeSet<i64>> = BTreeMap::new();
    for reference in by_dispute.keys() {
        match Reference::parse(reference) {
            Ok(r) => {
                issued
                    .entry((r.prefix().to_string(), i64::from(r.year())))
                    .or_default()
                    .insert(i64::from(r.number()));
            }
            Err(_) => found.push(format!(
                "the log holds events for {reference:?}, which is not a dispute reference"
            )),
        }
    }
    let counters: BTreeMap<(String, i64), i64> = outside
        .counters
        .iter()
        .map(|(p, y, last)| ((p.clone(), *y), *last))
        .collect();
    for ((prefix, year), last) in &counters {
        let logged = issued.get(&(prefix.clone(), *year));
        for n in 1..=*last {
            if !logged.is_some_and(|l| l.contains(&n)) {
                found.push(format!(
                    "{}: this reference was issued (the {prefix} {year} counter stands at {last}) but the log holds none of its events: they were removed",
                    Reference::new(prefix, i32::try_from(*year).unwrap_or_default(), u32::try_from(n).unwrap_or_default())
                ));
            }
        }
    }
    for ((prefix, year), numbers) in &issued {
        let last = counters.get(&(prefix.clone(), *year)).copied().unwrap_or(0);
        if let Some(max) = numbers.last().filter(|m| **m > last) {
            found.push(format!(
                "the log holds {prefix} {year} disputes up to number {max} but the reference counter stands at {last}: the counter was changed"
            ));
        }
    }

    // Projections: each stored row is what the dispute's events fold to, and nothing else is there.
    let mut rebuilt = Projection::default();
    for events in by_dispute.values() {
        if let Some(p) = rows_for(&Dispute::from_events(events)) {
            rebuilt.disputes.extend(p.disputes);
            rebuilt.people.extend(p.people);
            rebuilt.agencies.extend(p.agencies);
            rebuilt.threads.extend(p.threads);
        }
    }
    rebuilt.sort();
    let live_rows: BTreeMap<&str, _> = outside
        .live
        .disputes
        .iter()
        .map(|d| (d.reference.as_str(), d))
        .collect();
    let rebuilt_rows: BTreeMap<&str, _> = rebuilt
        .disputes
        .iter()
        .map(|d| (d.reference.as_str(), d))
        .collect();
    for (reference, live) in &live_rows {
        match rebuilt_rows.get(reference) {
            None => found.push(format!(
                "{reference}: the open-challenge lists show this dispute but the log holds none of its events: they were removed"
            )),
            Some(r) if *r != *live => found.push(format!(
                "{reference}: the stored summary (stage {}, {}, version {}) is not what its events give (stage {}, {}, version {}): the log or the summary was changed; `db rebuild-projections` rewrites the summary from the log once the cause is known",
                live.stage, live.status, live.version, r.stage, r.status, r.version
            )),
            Some(_) => {}
        }
    }
    for reference in rebuilt_rows.keys() {
        if !live_rows.contains_key(reference) {
            found.push(format!(
                "{reference}: the log holds this dispute but the stored summaries do not: the summary was removed"
            ));
        }
    }
    let differing = [
        ("people", diff(&outside.live.people, &rebuilt.people)),
        ("agencies", diff(&outside.live.agencies, &rebuilt.agencies)),
        ("threads", diff(&outside.live.threads, &rebuilt.threads)),
    ];
    for (what, reference) in differing {
        if let Some(reference) = reference {
            found.push(format!(
                "{reference}: the stored {what} of this dispute are not what its events give: the log or the summary was changed"
            ));
        }
    }

    // Inbound keys: a request recorded on a dispute left events at the time it was recorded.
    for (key, reference, at_us) in &outside.inbound {
        let Some(reference) = reference else { continue };
        if *at_us != 0 && !times.contains(&(reference.as_str(), *at_us)) {
            found.push(format!(
                "{reference}: a request (key {}) was recorded on this dispute at {} but the log holds no event of it at that time: events were removed",
                bounded(key),
                super::from_micros(*at_us).format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
    }

    if found.len() > LISTED {
        let more = found.len() - LISTED;
        found.truncate(LISTED);
        found.push(format!("… and {more} more"));
    }
    found
}

/// The first reference whose rows differ between two sorted lists whose first field is the reference.
fn diff<T: PartialEq + HasReference>(live: &[T], rebuilt: &[T]) -> Option<String> {
    let refs = |rows: &[T]| {
        rows.iter()
            .map(|r| r.reference().to_string())
            .collect::<BTreeSet<_>>()
    };
    let all: BTreeSet<String> = refs(live).union(&refs(rebuilt)).cloned().collect();
    all.into_iter().find(|reference| {
        let mine = |r: &&T| r.reference() == reference;
        !live.iter().filter(mine).eq(rebuilt.iter().filter(mine))
    })
}

/// Rows keyed by their dispute reference first.
trait HasReference {
    fn reference(&self) -> &str;
}

impl HasReference for (String, String, String) {
    fn reference(&self) -> &str {
        &self.0
    }
}

impl HasReference for (String, String, String, String, String) {
    fn reference(&self) -> &str {
        &self.0
    }
}

/// A stored value as it may appear in a finding: at most 80 characters.
fn bounded(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    format!("{out:?}")
}
