//! Who is who: agencies, people, reporting lines, ladders held, chat identities and agency channels.
//!
//! Loaded from a TOML file (see `policies/demo/directory.toml`) and checked against the boards'
//! policies, so that every stage can find the people it asks for.

mod check;

pub use check::{DirectoryProblem, check_directory};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

/// A person's id in the directory, e.g. `sam-patel`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonId(pub String);

/// An agency's id in the directory, e.g. `norfolk-asc`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgencyId(pub String);

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The agency kind of a board's own entry (its business unit and chair).
pub const BOARD_KIND: &str = "board";

/// The chat platform a channel or identity lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Slack,
    Teams,
    Sandbox,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::Slack => "slack",
            Platform::Teams => "teams",
            Platform::Sandbox => "sandbox",
        })
    }
}

/// An agency: a council, a GP practice, a police force, a charity, or the board itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub id: AgencyId,
    pub name: String,
    /// The ladder kind, e.g. `adult-social-care`, or `board` for the board's own entry.
    pub kind: String,
    /// The policy id of the board the agency belongs to.
    pub board: String,
    #[serde(default, rename = "channel")]
    pub channels: Vec<Channel>,
}

/// A channel where an agency's disputes are threaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub platform: Platform,
    /// Slack team id (`T…`), Teams tenant id, or `sandbox`.
    pub workspace: String,
    /// Slack channel id (`C…`) or Teams channel id (`19:…@thread.tacv2`).
    pub channel: String,
    /// The name people know it by, e.g. `#safeguarding-challenges`.
    pub name: String,
}

/// A person who may take part in disputes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub agency: AgencyId,
    /// The rung id they hold on their agency's ladder (or a board rung for the board's entry).
    pub role: String,
    #[serde(default)]
    pub reports_to: Option<PersonId>,
    #[serde(default)]
    pub slack: Option<SlackIdentity>,
    #[serde(default)]
    pub teams: Option<TeamsIdentity>,
}

/// A Slack user in a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackIdentity {
    pub workspace: String,
    pub user: String,
}

/// A Microsoft Teams user: Entra (AAD) object id within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsIdentity {
    pub tenant: String,
    pub aad_object_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
    #[serde(default, rename = "agency")]
    agencies: Vec<Agency>,
    #[serde(default, rename = "person")]
    people: Vec<Person>,
}

/// Why a directory file could not be read at all (problems with its content are `DirectoryProblem`s).
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot read the directory {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the directory {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {id:?} is listed twice; ids must be unique")]
    Duplicate { path: String, id: String },
}

/// Agencies and people, indexed for lookups by id and by chat identity.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    agencies: BTreeMap<AgencyId, Agency>,
    people: BTreeMap<PersonId, Person>,
    slack: HashMap<SlackIdentity, PersonId>,
    teams: HashMap<TeamsIdentity, PersonId>,
}

impl Directory {
    /// Reads a directory file.
    pub fn load(path: &Path) -> Result<Directory, DirectoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| DirectoryError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Directory::from_toml(&path.display().to_string(), &text)
    }

    /// Reads directory TOML, naming `path` in errors.
    pub fn from_toml(path: &str, text: &str) -> Result<Directory, DirectoryError> {
        let file: DirectoryFile = toml::from_str(text).map_err(|e| DirectoryError::Parse {
            path: path.to_string(),
            message: describe_toml_error(text, &e),
        })?;
        Directory::from_parts(path, file.agencies, file.people)
    }

    /// Builds a directory from agencies and people; duplicate ids are refused.
    pub fn from_parts(
        path: &str,
        agencies: Vec<Agency>,
        people: Vec<Person>,
    ) -> Result<Directory, DirectoryError> {
        let mut dir = Directory::default();
        for a in agencies {
            if dir.agencies.contains_key(&a.id) {
                return Err(DirectoryError::Duplicate {
                    path: path.to_string(),
                    id: a.id.0,
                });
            }
            dir.agencies.insert(a.id.clone(), a);
        }
        for p in people {
            if dir.people.contains_key(&p.id) {
                return Err(DirectoryError::Duplicate {
                    path: path.to_string(),
                    id: p.id.0,
                });
            }
            if let Some(s) = &p.slack {
                dir.slack.entry(s.clone()).or_insert_with(|| p.id.clone());
            }
            if let Some(t) = &p.teams {
                dir.teams.entry(t.clone()).or_insert_with(|| p.id.clone());
            }
            dir.people.insert(p.id.clone(), p);
        }
        Ok(dir)
    }

    /// The person with this id.
    pub fn person(&self, id: &PersonId) -> Option<&Person> {
        self.people.get(id)
    }

    /// The agency with this id.
    pub fn agency(&self, id: &AgencyId) -> Option<&Agency> {
        self.agencies.get(id)
    }

    /// A person's agency.
    pub fn agency_of(&self, person: &PersonId) -> Option<&Agency> {
        self.person(person).and_then(|p| self.agency(&p.agency))
    }

    /// Every agency, by id.
    pub fn agencies(&self) -> impl Iterator<Item = &Agency> {
        self.agencies.values()
    }

    /// Every person, by id.
    pub fn people(&self) -> impl Iterator<Item = &Person> {
        self.people.values()
    }

    /// The people of one agency.
    pub fn members<'a>(&'a self, agency: &'a AgencyId) -> impl Iterator<Item = &'a Person> + 'a {
        self.people.values().filter(move |p| &p.agency == agency)
    }

    /// The person behind a Slack user id in a workspace.
    pub fn by_slack(&self, workspace: &str, user: &str) -> Option<&Person> {
        let key = SlackIdentity {
            workspace: workspace.to_string(),
            user: user.to_string(),
        };
        self.slack.get(&key).and_then(|id| self.person(id))
    }

    /// The person behind a Teams user in a tenant.
    pub fn by_teams(&self, tenant: &str, aad_object_id: &str) -> Option<&Person> {
        let key = TeamsIdentity {
            tenant: tenant.to_string(),
            aad_object_id: aad_object_id.to_string(),
        };
        self.teams.get(&key).and_then(|id| self.person(id))
    }

    /// The people above someone in their reporting line, nearest first (stops at a cycle).
    pub fn managers_of(&self, id: &PersonId) -> Vec<&Person> {
        let mut out: Vec<&Person> = Vec::new();
        let mut next = self.person(id).and_then(|p| p.reports_to.clone());
        while let Some(m) = next {
            if &m == id || out.iter().any(|p| p.id == m) {
                break;
            }
            let Some(person) = self.person(&m) else { break };
            next = person.reports_to.clone();
            out.push(person);
        }
        out
    }

    /// The one workspace of the sandbox platform (`serve --sandbox`).
    pub const SANDBOX_WORKSPACE: &'static str = "sandbox";

    /// The same people and agencies with every agency's channels (the boards' too) replaced by
    /// one sandbox channel named after the agency's first real one, so that `serve --sandbox`
    /// posts everything through the sandbox adapter and nothing to Slack or Teams.
    pub fn on_sandbox(&self) -> Directory {
        let mut dir = self.clone();
        for a in dir.agencies.values_mut() {
            let name = a
                .channels
                .first()
                .map_or_else(|| format!("#{}", a.id), |c| c.name.clone());
            a.channels = vec![Channel {
                platform: Platform::Sandbox,
                workspace: Self::SANDBOX_WORKSPACE.to_string(),
                channel: a.id.0.clone(),
                name,
            }];
        }
        dir
    }

    /// The board's own agency entries (kind `board`) for a policy id.
    pub fn board_agencies<'a>(&'a self, board: &'a str) -> impl Iterator<Item = &'a Agency> + 'a {
        self.agencies
            .values()
            .filter(move |a| a.kind == BOARD_KIND && a.board == board)
    }
}

fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start.min(text.len()))
                .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1);
            format!("line {line}: {}", e.message().trim())
        }
        None => e.message().trim().to_string(),
    }
}
