//! `directory check`: the directory is consistent with itself and with the boards' policies.

use super::*;
use crate::policy::{BoardRole, PolicySet};
use std::collections::{BTreeSet, HashSet};

/// One thing wrong with the directory, naming what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryProblem {
    /// The agency or person the problem is about.
    pub subject: String,
    pub message: String,
}

impl fmt::Display for DirectoryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

/// Every problem in the directory; empty when it can be used.
pub fn check_directory(dir: &Directory, policies: &PolicySet) -> Vec<DirectoryProblem> {
    let mut out = Vec::new();
    let mut problem = |subject: &str, message: String| {
        out.push(DirectoryProblem {
            subject: subject.to_string(),
            message,
        })
    };

    let mut channels = HashSet::new();
    for a in dir.agencies() {
        let subject = format!("agency {}", a.id);
        let Some(policy) = policies.get(&a.board) else {
            problem(
                &subject,
                format!(
                    "board {:?} has no policy; use one of {}",
                    a.board,
                    policies.ids().join(", ")
                ),
            );
            continue;
        };
        if a.kind != BOARD_KIND && policy.ladder(&a.kind).is_none() {
            problem(
                &subject,
                format!(
                    "the {} policy has no ladder for the kind {:?}; use one of its kinds ({}) or add a ladder",
                    policy.id,
                    a.kind,
                    policy
                        .ladders
                        .iter()
                        .map(|l| l.kind.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        for admin in &a.admins {
            match dir.by_email(admin) {
                Some(p) if p.agency == a.id => {}
                Some(p) => problem(
                    &subject,
                    format!(
                        "its admin {admin} works for {}; an agency's admins are its own staff",
                        p.agency
                    ),
                ),
                None => problem(
                    &subject,
                    format!(
                        "its admin {admin} is not a person in the directory; give the work email of one of its people"
                    ),
                ),
            }
        }
        for c in &a.channels {
            if !channels.insert((c.platform, c.workspace.clone(), c.channel.clone())) {
                problem(
                    &subject,
                    format!(
                        "the {} channel {} ({}) is already mapped to another agency; each agency needs its own channel",
                        c.platform, c.channel, c.name
                    ),
                );
            }
        }
    }

    let mut slack_seen: HashMap<&SlackIdentity, &PersonId> = HashMap::new();
    let mut teams_seen: HashMap<&TeamsIdentity, &PersonId> = HashMap::new();
    for p in dir.people() {
        let subject = format!("person {}", p.id);
        let Some(agency) = dir.agency(&p.agency) else {
            problem(&subject, format!("unknown agency {:?}", p.agency.0));
            continue;
        };
        if let Some(policy) = policies.get(&agency.board) {
            if agency.kind == BOARD_KIND {
                if !policy.board.rungs.iter().any(|r| r.id == p.role) {
                    problem(
                        &subject,
                        format!(
                            "role {:?} is not a rung of the {} board; use one of {}",
                            p.role,
                            policy.id,
                            policy
                                .board
                                .rungs
                                .iter()
                                .map(|r| r.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            } else if let Some(ladder) = policy.ladder(&agency.kind)
                && !ladder.rungs.iter().any(|r| r.id == p.role)
            {
                problem(
                    &subject,
                    format!(
                        "role {:?} is not a rung of the {} ladder ({}); use one of {}",
                        p.role,
                        ladder.name,
                        policy.id,
                        ladder
                            .rungs
                            .iter()
                            .map(|r| r.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if let Some(m) = &p.reports_to {
            match dir.person(m) {
                None => problem(
                    &subject,
                    format!("reports_to {:?}, who is not in the directory", m.0),
                ),
                Some(manager) if manager.agency != p.agency => problem(
                    &subject,
                    format!(
                        "reports_to {:?} of another agency ({}); reporting lines stay inside an agency",
                        m.0, manager.agency
                    ),
                ),
                Some(_) => {}
            }
        }
        if let Some(s) = &p.slack
            && let Some(other) = slack_seen.insert(s, &p.id)
        {
            problem(
                &subject,
                format!(
                    "has the same Slack identity ({} in {}) as {}",
                    s.user, s.workspace, other
                ),
            );
        }
        if let Some(t) = &p.teams
            && let Some(other) = teams_seen.insert(t, &p.id)
        {
            problem(
                &subject,
                format!(
                    "has the same Teams identity ({} in tenant {}) as {}",
                    t.aad_object_id, t.tenant, other
                ),
            );
        }
    }

    // Cycles in reporting lines: walk up from each person; meeting someone twice is a loop.
    // Someone whose line was already walked to its top needs no second walk.
    let mut reported = BTreeSet::new();
    let mut topped: HashSet<&PersonId> = HashSet::new();
    for p in dir.people() {
        let mut seen: Vec<&PersonId> = vec![&p.id];
        let mut next = p.reports_to.as_ref();
        while let Some(m) = next {
            if topped.contains(m) {
                break;
            }
            if let Some(pos) = seen.iter().position(|s| *s == m) {
                let mut cycle: Vec<String> = seen[pos..].iter().map(|s| s.0.clone()).collect();
                cycle.sort();
                if reported.insert(cycle.clone()) {
                    problem(
                        &format!("person {m}"),
                        format!(
                            "reporting lines form a cycle ({}); someone in it must report to nobody or to someone outside it",
                            cycle.join(" → ")
                        ),
                    );
                }
                break;
            }
            seen.push(m);
            next = dir.person(m).and_then(|x| x.reports_to.as_ref());
        }
        if next.is_none() || next.is_some_and(|m| topped.contains(m)) {
            topped.extend(seen);
        }
    }

    // Every stage must find someone at the level it asks for, in every agency of its board.
    // The roles each agency's people hold, in one pass over everyone.
    let mut roles: HashMap<&AgencyId, HashSet<&str>> = HashMap::new();
    for p in dir.people() {
        roles.entry(&p.agency).or_default().insert(p.role.as_str());
    }
    for a in dir.agencies().filter(|a| a.kind != BOARD_KIND) {
        let (Some(policy), Some(ladder)) = (
            policies.get(&a.board),
            policies.get(&a.board).and_then(|p| p.ladder(&a.kind)),
        ) else {
            continue;
        };
        let held: Vec<usize> = roles
            .get(&a.id)
            .into_iter()
            .flatten()
            .filter_map(|role| ladder.rungs.iter().find(|r| r.id == *role).map(|r| r.level))
            .collect();
        let mut asked = BTreeSet::new();
        for s in &policy.stages {
            asked.insert((s.raising_level, s.number));
            asked.insert((s.receiving_level, s.number));
        }
        let mut reported_levels = BTreeSet::new();
        for (level, stage) in asked {
            let top = ladder.rungs.iter().map(|r| r.level).max().unwrap_or(0);
            let wanted = level.min(top);
            if held.iter().any(|h| *h >= wanted) || !reported_levels.insert(wanted) {
                continue;
            }
            let rung = ladder
                .rungs
                .iter()
                .find(|r| r.level >= wanted)
                .map_or("?", |r| r.title.as_str());
            problem(
                &format!("agency {}", a.id),
                format!(
                    "{} {stage} of {} asks for a {}, which on this ladder is the rung {rung:?}, and nobody in the agency holds it or anything above it; add a person with that role",
                    policy.stage_word,
                    policy.id,
                    policy.level_name(level)
                ),
            );
        }
    }

    // Boards with agencies need a business unit to receive notices.
    let boards: BTreeSet<&str> = dir
        .agencies()
        .filter(|a| a.kind != BOARD_KIND)
        .map(|a| a.board.as_str())
        .collect();
    for board in boards {
        let Some(policy) = policies.get(board) else {
            continue;
        };
        let unit_rungs: Vec<&str> = policy
            .board
            .rungs
            .iter()
            .filter(|r| r.role == BoardRole::BusinessUnit)
            .map(|r| r.id.as_str())
            .collect();
        let has_unit = dir
            .board_agencies(board)
            .filter_map(|a| roles.get(&a.id))
            .any(|held| unit_rungs.iter().any(|r| held.contains(r)));
        if !has_unit {
            problem(
                &format!("board {board}"),
                "has agencies but no board entry (kind = \"board\") with a person in the business unit; notices would go nowhere".to_string(),
            );
        }
    }
    out
}
