//! Who may see what in the Board's view. The business unit and the chair see their own board;
//! an agency's safeguarding lead sees the disputes their agency is in; nobody else sees anything.

use crate::directory::{Directory, PersonId};
use crate::policy::PolicySet;

/// What a signed-in person may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Every dispute of a board (its business unit and chair).
    Board { board: String },
    /// The disputes of a board that one agency is in (the agency's safeguarding lead).
    Agency { board: String, agency: String },
}

impl Access {
    /// The board whose disputes the person may see.
    pub fn board(&self) -> &str {
        match self {
            Access::Board { board } | Access::Agency { board, .. } => board,
        }
    }

    /// The agency the person is limited to, if any.
    pub fn agency(&self) -> Option<&str> {
        match self {
            Access::Board { .. } => None,
            Access::Agency { agency, .. } => Some(agency),
        }
    }

    /// Whether a dispute between these agencies of this board is visible.
    pub fn sees(&self, board: &str, raising: &str, receiving: &str) -> bool {
        self.board() == board && self.agency().is_none_or(|a| a == raising || a == receiving)
    }
}

/// What the person may see, or None. Board people are those of the board's own directory entry
/// (kind `board`) who hold one of the policy's board rungs (business unit, chair); a
/// safeguarding lead is a person whose ladder rung id names safeguarding (e.g.
/// `safeguarding-lead-gp`, `designated-safeguarding-lead`).
pub fn access(policies: &PolicySet, directory: &Directory, person: &PersonId) -> Option<Access> {
    let p = directory.person(person)?;
    let agency = directory.agency(&p.agency)?;
    let policy = policies.get(&agency.board)?;
    if agency.kind == "board" {
        return policy
            .board
            .rungs
            .iter()
            .any(|r| r.id == p.role)
            .then(|| Access::Board {
                board: policy.id.clone(),
            });
    }
    p.role.contains("safeguarding").then(|| Access::Agency {
        board: policy.id.clone(),
        agency: agency.id.0.clone(),
    })
}
