//! Finding the people a stage asks for, and who may act on a dispute.

use super::Dispute;
use crate::directory::{AgencyId, BOARD_KIND, Directory, Person, PersonId};
use crate::policy::{BoardRole, Policy};
use std::collections::BTreeSet;

/// Which agency in the dispute a person speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Raising,
    Receiving,
}

/// The side a person is on, by their agency, or by holding the stage for a side through another
/// agency (a GP practice's ICB); `None` for the board and for outsiders.
pub fn side_of(dispute: &Dispute, dir: &Directory, person: &PersonId) -> Option<Side> {
    if dispute.owners_raising.contains(person) {
        return Some(Side::Raising);
    }
    if dispute.owners_receiving.contains(person) {
        return Some(Side::Receiving);
    }
    let agency = &dir.person(person)?.agency;
    if Some(agency) == dispute.raising_agency.as_ref() {
        Some(Side::Raising)
    } else if Some(agency) == dispute.receiving_agency.as_ref() {
        Some(Side::Receiving)
    } else {
        None
    }
}

/// A person's rung index on their agency's ladder under this policy.
fn rung_index(policy: &Policy, dir: &Directory, person: &Person) -> Option<usize> {
    let agency = dir.agency(&person.agency)?;
    let ladder = policy.ladder(&agency.kind)?;
    ladder.rungs.iter().position(|r| r.id == person.role)
}

/// The people who take a stage on one side: from `anchor` (the party) up their reporting line to
/// the first person at or above the rung the stage's level asks for, `tier` rungs higher for a
/// stage that repeats up the tiers. Without an anchor, or with nobody suitable in the line,
/// everyone in the agency holding the lowest suitable rung.
pub fn owners_for(
    policy: &Policy,
    dir: &Directory,
    agency: &AgencyId,
    anchor: Option<&PersonId>,
    level: usize,
    tier: u32,
) -> Vec<PersonId> {
    let Some(ladder) = dir.agency(agency).and_then(|a| policy.ladder(&a.kind)) else {
        return Vec::new();
    };
    let last = ladder.rungs.len().saturating_sub(1);
    let base = ladder
        .rungs
        .iter()
        .position(|r| r.level >= level)
        .unwrap_or(last);
    let wanted = (base + tier as usize).min(last);
    if let Some(anchor) = anchor.and_then(|a| dir.person(a)) {
        let line = std::iter::once(anchor).chain(dir.managers_of(&anchor.id));
        for p in line {
            if p.agency == *agency && rung_index(policy, dir, p).is_some_and(|i| i >= wanted) {
                return vec![p.id.clone()];
            }
        }
    }
    let held: BTreeSet<usize> = dir
        .members(agency)
        .filter_map(|p| rung_index(policy, dir, p))
        .filter(|i| *i >= wanted)
        .collect();
    let Some(lowest) = held.first() else {
        return Vec::new();
    };
    dir.members(agency)
        .filter(|p| rung_index(policy, dir, p) == Some(*lowest))
        .map(|p| p.id.clone())
        .collect()
}

/// The highest rung index either side's ladder has: how far a repeating stage can climb.
pub(super) fn top_rung(policy: &Policy, dir: &Directory, agency: &AgencyId) -> usize {
    dir.agency(agency)
        .and_then(|a| policy.ladder(&a.kind))
        .map_or(0, |l| l.rungs.len().saturating_sub(1))
}

/// The rung index a stage's level starts at on an agency's ladder.
pub(super) fn base_rung(
    policy: &Policy,
    dir: &Directory,
    agency: &AgencyId,
    level: usize,
) -> usize {
    dir.agency(agency)
        .and_then(|a| policy.ladder(&a.kind))
        .map_or(0, |l| {
            l.rungs
                .iter()
                .position(|r| r.level >= level)
                .unwrap_or(l.rungs.len().saturating_sub(1))
        })
}

/// The board's people holding a role (business unit or chair) for this policy.
pub fn board_people(policy: &Policy, dir: &Directory, role: BoardRole) -> Vec<PersonId> {
    let rungs: Vec<&str> = policy
        .board
        .rungs
        .iter()
        .filter(|r| r.role == role)
        .map(|r| r.id.as_str())
        .collect();
    dir.agencies()
        .filter(|a| a.kind == BOARD_KIND && a.board == policy.id)
        .flat_map(|a| dir.members(&a.id))
        .filter(|p| rungs.contains(&p.role.as_str()))
        .map(|p| p.id.clone())
        .collect()
}

/// The board's people holding a role for this dispute: where the board has several chairs or
/// business units, the rungs whose `serves` match the dispute (who it concerns, its category),
/// else the rungs that serve every dispute.
pub fn board_people_for(
    policy: &Policy,
    dir: &Directory,
    role: BoardRole,
    dispute: &Dispute,
) -> Vec<PersonId> {
    let of_role: Vec<&crate::policy::BoardRung> = policy
        .board
        .rungs
        .iter()
        .filter(|r| r.role == role)
        .collect();
    let matches = |sv: &crate::policy::Serves| {
        let concerns = dispute.concerns.as_ref().map(|c| c.word());
        (sv.concerns.is_empty() || concerns.is_some_and(|c| sv.concerns.iter().any(|x| x == c)))
            && (sv.categories.is_empty() || sv.categories.contains(&dispute.category))
    };
    let chosen: Vec<&str> = {
        let served: Vec<&str> = of_role
            .iter()
            .filter(|r| r.serves.as_ref().is_some_and(matches))
            .map(|r| r.id.as_str())
            .collect();
        if served.is_empty() {
            of_role
                .iter()
                .filter(|r| r.serves.is_none())
                .map(|r| r.id.as_str())
                .collect()
        } else {
            served
        }
    };
    dir.agencies()
        .filter(|a| a.kind == BOARD_KIND && a.board == policy.id)
        .flat_map(|a| dir.members(&a.id))
        .filter(|p| chosen.contains(&p.role.as_str()))
        .map(|p| p.id.clone())
        .collect()
}

/// Only the parties, their managers on the ladder, the people a stage asked for (and their
/// managers), and the board business unit may act on a dispute.
pub fn can_act(policy: &Policy, dir: &Directory, dispute: &Dispute, person: &PersonId) -> bool {
    if board_people(policy, dir, BoardRole::BusinessUnit).contains(person)
        || board_people(policy, dir, BoardRole::Chair).contains(person)
    {
        return true;
    }
    let parties = dispute
        .raised_by
        .iter()
        .chain(&dispute.other_professional)
        .chain(dispute.owners())
        .chain(dispute.involved.iter().filter(|p| {
            // People who were owners at an earlier stage stay parties; outsiders never enter `involved`.
            side_of(dispute, dir, p).is_some()
        }));
    for p in parties {
        if p == person || dir.managers_of(p).iter().any(|m| &m.id == person) {
            return true;
        }
    }
    false
}

/// Whether a person holds the current stage: one of its owners (on `side`, where given), one of
/// those above an owner on their reporting line, or the board's business unit or chair.
pub fn holds_stage(
    policy: &Policy,
    dir: &Directory,
    dispute: &Dispute,
    person: &PersonId,
    side: Option<Side>,
) -> bool {
    if board_people(policy, dir, BoardRole::BusinessUnit).contains(person)
        || board_people(policy, dir, BoardRole::Chair).contains(person)
    {
        return true;
    }
    let owners: Vec<&PersonId> = match side {
        Some(Side::Raising) => dispute.owners_raising.iter().collect(),
        Some(Side::Receiving) => dispute.owners_receiving.iter().collect(),
        None => dispute.owners().collect(),
    };
    owners
        .iter()
        .any(|o| *o == person || dir.managers_of(o).iter().any(|m| &m.id == person))
}
