//! Who is who: agencies, people, reporting lines, ladders held, chat identities and agency channels.
//!
//! Loaded from a TOML file (see `policies/demo/directory.toml`) and checked against the boards'
//! policies, so that every stage can find the people it asks for. A Board keeps its people up
//! to date by importing the CSV its HR or Active Directory system exports (`import`), which the
//! store records as one versioned change.

mod check;
pub mod csv;
pub mod import;

pub use check::{DirectoryProblem, check_directory};
pub use import::{ImportPlan, ImportProblem, plan_import};

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

impl Platform {
    /// The platform a stored name (`slack`, `teams`, `sandbox`) stands for.
    pub fn from_name(name: &str) -> Option<Platform> {
        match name {
            "slack" => Some(Platform::Slack),
            "teams" => Some(Platform::Teams),
            "sandbox" => Some(Platform::Sandbox),
            _ => None,
        }
    }
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
    /// The email domains the agency's staff have (`nhs.net` is shared, so a practice lists
    /// its own where it has one); a work email outside them cannot belong to the agency.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Work emails of the agency's administrators: they connect its channel from the chat and
    /// are who its staff are sent to when the directory does not know them yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
    #[serde(default, rename = "channel")]
    pub channels: Vec<Channel>,
}

impl Agency {
    /// Whether a work email is inside one of the agency's domains (case does not matter).
    pub fn owns_email(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
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
    /// Set when an agency admin connected it from the chat (`connect`): it then stands in for
    /// the directory file's channel on the same platform and workspace.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub connected: bool,
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
    /// Their work email: how the Board's own records (and the chat platforms) know them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports_to: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<TeamsIdentity>,
}

/// Which version of the directory a decision was made with: the applied directory change it
/// came from (0: the directory file, before any import) and the SHA-256 under which the store
/// keeps the exact directory used (`directory_versions`), so a record can say who was who.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryVersion {
    pub change: i64,
    pub sha256: String,
}

/// Someone who has left the directory: their name stays so that old records still say who
/// acted, and their id comes back if the same email returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormerPerson {
    pub id: PersonId,
    pub name: String,
    pub agency: AgencyId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A work email in the one form it is compared in: trimmed and lower case.
pub fn normal_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
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

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
    #[serde(default, rename = "agency")]
    agencies: Vec<Agency>,
    #[serde(default, rename = "person")]
    people: Vec<Person>,
    #[serde(default, rename = "former", skip_serializing_if = "Vec::is_empty")]
    former: Vec<FormerPerson>,
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
    #[error("{path}: the work email {email:?} is listed twice; each person has their own")]
    DuplicateEmail { path: String, email: String },
}

/// People in id order (so a directory has one stored form and exports are stable), with hash
/// indexes by id and by agency: finding someone, or an agency's people, costs the same at 50
/// people as at 50,000.
#[derive(Debug, Clone, Default)]
struct People {
    list: Vec<Person>,
    at: HashMap<PersonId, usize>,
    /// Each agency's people, as positions in `list`, in its order.
    in_agency: HashMap<AgencyId, Vec<usize>>,
}

impl People {
    fn get(&self, id: &PersonId) -> Option<&Person> {
        self.at.get(id).and_then(|&i| self.list.get(i))
    }

    fn get_mut(&mut self, id: &PersonId) -> Option<&mut Person> {
        let i = *self.at.get(id)?;
        self.list.get_mut(i)
    }

    fn contains_key(&self, id: &PersonId) -> bool {
        self.at.contains_key(id)
    }

    fn values(&self) -> std::slice::Iter<'_, Person> {
        self.list.iter()
    }

    /// An agency's people, in id order.
    fn of_agency<'a>(&'a self, agency: &AgencyId) -> impl Iterator<Item = &'a Person> + 'a {
        self.in_agency
            .get(agency)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.list.get(i))
    }

    /// Adds someone at the end; `sort` puts them in place.
    fn push(&mut self, person: Person) {
        let i = self.list.len();
        self.at.insert(person.id.clone(), i);
        self.in_agency
            .entry(person.agency.clone())
            .or_default()
            .push(i);
        self.list.push(person);
    }

    fn sort(&mut self) {
        self.list.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        self.in_agency.clear();
        for (i, p) in self.list.iter().enumerate() {
            self.at.insert(p.id.clone(), i);
            self.in_agency.entry(p.agency.clone()).or_default().push(i);
        }
    }
}

/// Agencies and people, indexed for lookups by id, by work email and by chat identity.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    agencies: BTreeMap<AgencyId, Agency>,
    people: People,
    slack: HashMap<SlackIdentity, PersonId>,
    teams: HashMap<TeamsIdentity, PersonId>,
    emails: HashMap<String, PersonId>,
    former: BTreeMap<PersonId, FormerPerson>,
    /// Which kept version this is, once the service has recorded it (see `DirectoryVersion`).
    version: Option<DirectoryVersion>,
    /// [`Directory::names_key`], worked out on first use; emptied where the names change.
    names_key: std::sync::OnceLock<u64>,
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
        Directory::from_file(path, file)
    }

    fn from_file(path: &str, file: DirectoryFile) -> Result<Directory, DirectoryError> {
        let mut dir = Directory::from_parts(path, file.agencies, file.people)?;
        for f in file.former {
            if !dir.people.contains_key(&f.id) {
                dir.former.insert(f.id.clone(), f);
            }
        }
        Ok(dir)
    }

    /// The directory as the store keeps a version of it, people who left included: the same
    /// fields as the TOML file, as JSON (quick to read back at 50,000 people).
    pub fn to_stored(&self) -> String {
        /// The same fields as `DirectoryFile`, borrowed: nothing is copied to write it.
        #[derive(Serialize)]
        struct Stored<'a> {
            #[serde(rename = "agency")]
            agencies: Vec<&'a Agency>,
            #[serde(rename = "person")]
            people: &'a [Person],
            #[serde(rename = "former", skip_serializing_if = "Vec::is_empty")]
            former: Vec<&'a FormerPerson>,
        }
        let file = Stored {
            agencies: self.agencies.values().collect(),
            people: &self.people.list,
            former: self.former.values().collect(),
        };
        // Every field is a string, a list or a table of strings: serialising cannot fail.
        serde_json::to_string(&file).unwrap_or_default()
    }

    /// Reads a stored version: JSON from `to_stored`, or the TOML of a directory file.
    pub fn from_stored(label: &str, text: &str) -> Result<Directory, DirectoryError> {
        if !text.trim_start().starts_with('{') {
            return Directory::from_toml(label, text);
        }
        let file: DirectoryFile =
            serde_json::from_str(text).map_err(|e| DirectoryError::Parse {
                path: label.to_string(),
                message: e.to_string(),
            })?;
        Directory::from_file(label, file)
    }

    /// The same agencies with a new set of people; those no longer present join the people
    /// who left (their names stay for old records).
    pub fn with_people(&self, people: Vec<Person>) -> Result<Directory, DirectoryError> {
        let mut dir = Directory::from_parts(
            "the directory",
            self.agencies.values().cloned().collect(),
            people,
        )?;
        dir.former = self.former.clone();
        for p in self.people.values() {
            if !dir.people.contains_key(&p.id) {
                dir.former.insert(
                    p.id.clone(),
                    FormerPerson {
                        id: p.id.clone(),
                        name: p.name.clone(),
                        agency: p.agency.clone(),
                        email: p.email.clone(),
                    },
                );
            }
        }
        dir.former.retain(|id, _| !dir.people.contains_key(id));
        Ok(dir)
    }

    /// The same people with the agencies of `base` (where an operator keeps agencies, their
    /// domains and channels), keeping the channels admins connected from the chat; people whose
    /// agency is gone are kept and left to `check`.
    pub fn with_agencies_of(self, base: &Directory) -> Directory {
        let mut dir = self;
        dir.version = None;
        dir.names_key = std::sync::OnceLock::new();
        let own = std::mem::replace(&mut dir.agencies, base.agencies.clone());
        for (id, agency) in &mut dir.agencies {
            let connected = own
                .get(id)
                .into_iter()
                .flat_map(|a| a.channels.iter().filter(|c| c.connected));
            for c in connected {
                set_channel(agency, c.clone());
            }
        }
        dir
    }

    /// Ties a chat identity to the person with `email` (a link made by matching their verified
    /// work email), or with `None` unties it from whoever has it. An email nobody has ties nothing.
    pub fn set_identity(
        &mut self,
        platform: Platform,
        workspace: &str,
        user: &str,
        email: Option<&str>,
    ) {
        match platform {
            Platform::Slack => {
                let key = SlackIdentity {
                    workspace: workspace.to_string(),
                    user: user.to_string(),
                };
                if let Some(old) = self.slack.remove(&key)
                    && let Some(p) = self.people.get_mut(&old)
                    && p.slack.as_ref() == Some(&key)
                {
                    p.slack = None;
                }
                let Some(id) = email.and_then(|e| self.emails.get(&normal_email(e)).cloned())
                else {
                    return;
                };
                if let Some(p) = self.people.get_mut(&id) {
                    if let Some(previous) = p.slack.replace(key.clone()) {
                        self.slack.remove(&previous);
                    }
                    self.slack.insert(key, id);
                }
            }
            Platform::Teams => {
                let key = TeamsIdentity {
                    tenant: workspace.to_string(),
                    aad_object_id: user.to_string(),
                };
                if let Some(old) = self.teams.remove(&key)
                    && let Some(p) = self.people.get_mut(&old)
                    && p.teams.as_ref() == Some(&key)
                {
                    p.teams = None;
                }
                let Some(id) = email.and_then(|e| self.emails.get(&normal_email(e)).cloned())
                else {
                    return;
                };
                if let Some(p) = self.people.get_mut(&id) {
                    if let Some(previous) = p.teams.replace(key.clone()) {
                        self.teams.remove(&previous);
                    }
                    self.teams.insert(key, id);
                }
            }
            Platform::Sandbox => {}
        }
    }

    /// The same directory with `channel` as the agency's channel on its platform and workspace,
    /// marked as connected from the chat.
    pub fn with_connected(&self, agency: &AgencyId, mut channel: Channel) -> Directory {
        let mut dir = self.clone();
        dir.version = None;
        channel.connected = true;
        if let Some(a) = dir.agencies.get_mut(agency) {
            set_channel(a, channel);
        }
        dir
    }

    /// The agency whose channel this is, if any.
    pub fn agency_of_channel(
        &self,
        platform: Platform,
        workspace: &str,
        channel: &str,
    ) -> Option<&Agency> {
        self.agencies.values().find(|a| {
            a.channels
                .iter()
                .any(|c| c.platform == platform && c.workspace == workspace && c.channel == channel)
        })
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
            if let Some(e) = &p.email
                && dir.emails.insert(normal_email(e), p.id.clone()).is_some()
            {
                return Err(DirectoryError::DuplicateEmail {
                    path: path.to_string(),
                    email: e.clone(),
                });
            }
            dir.people.push(p);
        }
        dir.people.sort();
        Ok(dir)
    }

    /// A fingerprint of its people's and agencies' names, read once for each directory: the
    /// privacy screen keeps the allow list it builds from those names under it, and finding
    /// the list must not mean reading 50,000 names again for every field it screens.
    pub fn names_key(&self) -> u64 {
        *self.names_key.get_or_init(|| {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            for person in self.people() {
                person.name.hash(&mut hasher);
            }
            0xA6u8.hash(&mut hasher);
            for agency in self.agencies() {
                agency.name.hash(&mut hasher);
            }
            hasher.finish()
        })
    }

    /// The kept version this directory is, when the service recorded it; decisions carry it.
    pub fn version(&self) -> Option<&DirectoryVersion> {
        self.version.as_ref()
    }

    /// The same directory, named as a kept version.
    pub fn with_version(mut self, version: DirectoryVersion) -> Directory {
        self.version = Some(version);
        self
    }

    /// The person with this id.
    pub fn person(&self, id: &PersonId) -> Option<&Person> {
        self.people.get(id)
    }

    /// The person with this work email (any case), in constant time.
    pub fn by_email(&self, email: &str) -> Option<&Person> {
        self.emails
            .get(&normal_email(email))
            .and_then(|id| self.person(id))
    }

    /// Someone who has left, by the id old records name them by.
    pub fn former(&self, id: &PersonId) -> Option<&FormerPerson> {
        self.former.get(id)
    }

    /// Everyone who has left.
    pub fn former_people(&self) -> impl Iterator<Item = &FormerPerson> {
        self.former.values()
    }

    /// The name a record shows for a person id: theirs while they are here, the one they had
    /// when they left, or the id itself when the directory never knew them.
    pub fn name_of(&self, id: &PersonId) -> String {
        self.person(id)
            .map(|p| p.name.clone())
            .or_else(|| self.former(id).map(|f| f.name.clone()))
            .unwrap_or_else(|| id.0.clone())
    }

    /// Whether this person administers their agency (their work email is one of its admins).
    pub fn is_admin(&self, person: &Person) -> bool {
        let Some(email) = person.email.as_deref().map(normal_email) else {
            return false;
        };
        self.agency(&person.agency)
            .is_some_and(|a| a.admins.iter().any(|x| normal_email(x) == email))
    }

    /// An agency's administrators who are in the directory.
    pub fn admins_of(&self, agency: &AgencyId) -> Vec<&Person> {
        self.agency(agency)
            .map(|a| a.admins.iter().filter_map(|e| self.by_email(e)).collect())
            .unwrap_or_default()
    }

    /// The agency that owns an email domain, if any does.
    pub fn agency_by_domain(&self, email: &str) -> Option<&Agency> {
        self.agencies.values().find(|a| a.owns_email(email))
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
        self.people.of_agency(agency)
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
        dir.version = None;
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
                connected: false,
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

/// Puts a channel in place of the agency's channels on the same platform and workspace.
fn set_channel(agency: &mut Agency, channel: Channel) {
    agency
        .channels
        .retain(|c| !(c.platform == channel.platform && c.workspace == channel.workspace));
    agency.channels.insert(0, channel);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Directory {
        Directory::load(Path::new("policies/demo/directory.toml")).expect("the demo directory")
    }

    /// The key the privacy screen finds its allow list under is kept with the directory, so it
    /// must change with any name, and only then: a stale key would screen with old names.
    #[test]
    fn the_names_key_changes_with_the_names_and_only_with_them() {
        let dir = demo();
        let key = dir.names_key();
        assert_eq!(dir.clone().names_key(), key, "a copy has the same names");

        let mut linked = dir.clone();
        let someone = dir.people().next().expect("people").clone();
        linked.set_identity(Platform::Slack, "T0NEW", "U0NEW", someone.email.as_deref());
        assert_eq!(linked.names_key(), key, "a chat identity is not a name");

        let mut people: Vec<Person> = dir.people().cloned().collect();
        let mut newcomer = someone.clone();
        newcomer.id = PersonId("newcomer".into());
        newcomer.name = "Ada Newcomer".into();
        newcomer.email = Some("ada.newcomer@norfolk-asc.example.org".into());
        newcomer.slack = None;
        newcomer.teams = None;
        people.push(newcomer);
        let joined = dir.with_people(people).expect("one more person");
        assert_ne!(joined.names_key(), key, "a new person's name");

        let mut renamed = dir.agencies().cloned().collect::<Vec<_>>();
        renamed[0].name = format!("{} (renamed)", renamed[0].name);
        let base = Directory::from_parts("renamed", renamed, Vec::new()).expect("agencies");
        let moved = dir.clone().with_agencies_of(&base);
        assert_ne!(moved.names_key(), key, "an agency's new name");
        assert_eq!(
            moved.names_key(),
            dir.clone().with_agencies_of(&base).names_key(),
            "worked out from the names alone"
        );
    }

    /// An agency's people come from an index, in id order, whatever order they were listed in.
    #[test]
    fn an_agencys_members_are_its_people_in_id_order() {
        let dir = demo();
        let mut listed: Vec<Person> = dir.people().cloned().collect();
        listed.reverse();
        let reversed = Directory::from_parts("reversed", dir.agencies().cloned().collect(), listed)
            .expect("the same people");
        for agency in dir.agencies() {
            let scanned: Vec<&PersonId> = dir
                .people()
                .filter(|p| p.agency == agency.id)
                .map(|p| &p.id)
                .collect();
            let indexed: Vec<&PersonId> = reversed.members(&agency.id).map(|p| &p.id).collect();
            assert_eq!(indexed, scanned, "{}", agency.id);
            let mut sorted = scanned.clone();
            sorted.sort();
            assert_eq!(scanned, sorted, "{}: in id order", agency.id);
        }
        assert_eq!(
            dir.members(&AgencyId("no-such-agency".into())).count(),
            0,
            "an unknown agency has nobody"
        );
    }
}
