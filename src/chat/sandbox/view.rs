//! What the sandbox page reads: people to act as, channels as delivered, the clock, a record.

use super::kept::SandboxPost;
use crate::calendar::format_uk_short;
use crate::chat::{Span, compose};
use crate::directory::{BOARD_KIND, Directory, Person, PersonId};
use crate::escalation::{Dispute, Event, EventBody};
use crate::policy::{BoardRole, Policy, PolicySet};
use crate::store::VerifyReport;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Every board, its agencies and their people: the person picker and the channel list.
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryView {
    pub boards: Vec<BoardView>,
}

/// One board and its agencies (the board's own entry last).
#[derive(Debug, Clone, Serialize)]
pub struct BoardView {
    pub id: String,
    pub name: String,
    pub agencies: Vec<AgencyView>,
}

/// An agency, its sandbox channel and its people, lowest rung first.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyView {
    pub id: String,
    pub name: String,
    pub is_board: bool,
    pub channel: Option<ChannelView>,
    pub people: Vec<PersonView>,
}

/// A sandbox channel: its id (the agency id) and the name people know it by.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    /// "slack" or "teams": the platform the channel stands for.
    pub platform: String,
    /// How a command starts there: `/challenge` or `@escalation-bot`.
    pub command: String,
}

/// A person to act as: their job title and the level it sits at (practitioner, manager, …).
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub level: String,
}

/// A person's job title and level under their board's policy, and the rank to sort them by.
fn role_of(policy: &Policy, dir: &Directory, p: &Person) -> (String, String, usize) {
    let agency = dir.agency(&p.agency);
    if agency.is_some_and(|a| a.kind == BOARD_KIND) {
        let rung = policy.board.rungs.iter().find(|r| r.id == p.role);
        let level = match rung.map(|r| r.role) {
            Some(BoardRole::Chair) => "Independent chair",
            _ => "Board business unit",
        };
        let title = rung.map_or_else(|| p.role.clone(), |r| r.title.clone());
        return (title, level.to_string(), 0);
    }
    let rung = agency
        .and_then(|a| policy.ladder(&a.kind))
        .and_then(|l| l.rungs.iter().find(|r| r.id == p.role));
    match rung {
        Some(r) => (
            r.title.clone(),
            policy.level_name(r.level).to_string(),
            r.level,
        ),
        None => (p.role.clone(), String::new(), usize::MAX),
    }
}

/// The directory as the page shows it.
pub fn directory(
    policies: &PolicySet,
    dir: &Directory,
    platform_of: &dyn Fn(&str) -> crate::directory::Platform,
) -> DirectoryView {
    let boards = policies
        .iter()
        .map(|policy| {
            let mut agencies: Vec<AgencyView> = dir
                .agencies()
                .filter(|a| a.board == policy.id)
                .map(|a| {
                    let mut people: Vec<(usize, PersonView)> = dir
                        .members(&a.id)
                        .map(|p| {
                            let (role, level, rank) = role_of(policy, dir, p);
                            (
                                rank,
                                PersonView {
                                    id: p.id.0.clone(),
                                    name: p.name.clone(),
                                    role,
                                    level,
                                },
                            )
                        })
                        .collect();
                    people.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
                    AgencyView {
                        id: a.id.0.clone(),
                        name: a.name.clone(),
                        is_board: a.kind == BOARD_KIND,
                        channel: a.channels.first().map(|c| {
                            let platform = platform_of(&c.channel);
                            ChannelView {
                                id: c.channel.clone(),
                                name: c.name.clone(),
                                platform: platform.to_string(),
                                command: command_word(platform).to_string(),
                            }
                        }),
                        people: people.into_iter().map(|(_, p)| p).collect(),
                    }
                })
                .collect();
            agencies.sort_by(|a, b| {
                a.is_board
                    .cmp(&b.is_board)
                    .then_with(|| a.name.cmp(&b.name))
            });
            BoardView {
                id: policy.id.clone(),
                name: policy.name.clone(),
                agencies,
            }
        })
        .collect();
    DirectoryView { boards }
}

/// One post as delivered, with its times in UK local time.
#[derive(Debug, Clone, Serialize)]
pub struct PostView {
    pub id: i64,
    pub kind: String,
    pub reference: String,
    pub channel: Option<String>,
    pub posted: String,
    /// When a root was last rewritten in place, if it was.
    pub updated: Option<String>,
    pub revision: i64,
    /// The platform-neutral message (title, status, lines with mentions, prompt, buttons).
    pub message: serde_json::Value,
}

impl PostView {
    fn of(p: &SandboxPost) -> PostView {
        PostView {
            id: p.id,
            kind: p.kind.clone(),
            reference: p.reference.clone(),
            channel: p.channel.clone(),
            posted: format_uk_short(p.posted_at),
            updated: (p.revision > 1).then(|| format_uk_short(p.updated_at)),
            revision: p.revision,
            message: p.message.clone(),
        }
    }
}

/// A root post with its replies in order, or a post with no thread (a board notice).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub post: PostView,
    pub replies: Vec<PostView>,
}

/// What the page shows besides the directory: the clock, every channel, and what only the
/// acting person sees.
#[derive(Debug, Clone, Serialize)]
pub struct StateView {
    pub clock: ClockView,
    /// Channel id → its roots (with replies) and notices, oldest first.
    pub channels: BTreeMap<String, Vec<Entry>>,
    /// Direct messages and receipts to the acting person, oldest first.
    pub private: Vec<PostView>,
}

/// The demo clock as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ClockView {
    pub now: DateTime<Utc>,
    /// e.g. `Mon 1 Jun 2026, 09:40`.
    pub now_uk: String,
    /// Whether it is inside working hours of the acting person's board.
    pub working: bool,
    /// What working hours mean for what people will see next.
    pub note: String,
    /// Whether this service's clock can be moved (only `serve --sandbox`'s can).
    pub movable: bool,
}

/// Sorts the stored posts into channels and threads, keeping only the acting person's private ones.
pub fn posts(
    all: &[SandboxPost],
    person: Option<&PersonId>,
) -> (BTreeMap<String, Vec<Entry>>, Vec<PostView>) {
    let mut channels: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut roots: BTreeMap<i64, (String, usize)> = BTreeMap::new();
    let mut private = Vec::new();
    for p in all {
        match p.kind.as_str() {
            "direct" | "receipt" => {
                if person.is_some_and(|who| p.person.as_deref() == Some(who.0.as_str())) {
                    private.push(PostView::of(p));
                }
            }
            "reply" => {
                let slot = p.thread.and_then(|t| roots.get(&t)).cloned();
                if let Some((channel, i)) = slot
                    && let Some(entry) = channels.get_mut(&channel).and_then(|list| list.get_mut(i))
                {
                    entry.replies.push(PostView::of(p));
                }
            }
            _ => {
                let channel = p.channel.clone().unwrap_or_default();
                let list = channels.entry(channel.clone()).or_default();
                if p.kind == "root" {
                    roots.insert(p.id, (channel, list.len()));
                }
                list.push(Entry {
                    post: PostView::of(p),
                    replies: Vec::new(),
                });
            }
        }
    }
    (channels, private)
}

/// A dispute's record as the page shows it: every event, who and when, and whether the hash
/// chain is intact.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub reference: String,
    /// Who challenged whom: "Norfolk Adult Social Care challenges Riverside GP Practice".
    pub between: String,
    pub title: String,
    pub status: String,
    pub events: Vec<RecordEvent>,
    pub intact: bool,
    pub verified: String,
}

/// One event of the record.
#[derive(Debug, Clone, Serialize)]
pub struct RecordEvent {
    pub n: usize,
    pub at: String,
    pub who: String,
    pub kind: String,
    pub what: String,
}

fn flatten(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text { text } => text.clone(),
            Span::Mention { name, .. } => name.clone(),
        })
        .collect()
}

/// One event in words, mostly as the thread said it.
fn describe(scene: &compose::Scene<'_>, d: &Dispute, e: &Event) -> String {
    let (policy, dir) = (scene.policy, scene.dir);
    let names = |people: &[PersonId]| -> String {
        people
            .iter()
            .map(|p| compose::role_and_agency(policy, dir, p))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match &e.body {
        EventBody::Raised {
            category,
            summary,
            desired_outcome,
            case_reference,
            immediate_risk,
            ..
        } => {
            let category = policy
                .category(category)
                .map_or(category.as_str(), |c| c.name.as_str());
            format!(
                "Raised. Category: {category}. Disagreement: {summary} Outcome wanted: {desired_outcome} Case reference: {case_reference}. Adult at immediate risk: {}.",
                if *immediate_risk { "yes" } else { "no" }
            )
        }
        EventBody::StageStarted {
            stage,
            name,
            due,
            timescale,
            owners_raising,
            owners_receiving,
            awaiting_ack,
            ..
        } => {
            let due = due.map_or_else(
                || timescale.clone(),
                |t| format!("due {}", format_uk_short(t)),
            );
            let mut text = format!(
                "{} {stage} started: {name}, {due}. Taking part: {}.",
                policy.stage_word,
                names(&[owners_raising.as_slice(), owners_receiving.as_slice()].concat())
            );
            if !awaiting_ack.is_empty() {
                text.push_str(&format!(" Asked to acknowledge: {}.", names(awaiting_ack)));
            }
            text
        }
        EventBody::ThreadOpened { thread } => {
            let channel = dir
                .agencies()
                .find(|a| a.id.0 == thread.channel)
                .map_or_else(|| thread.channel.clone(), |a| a.name.clone());
            format!(
                "Thread opened in {channel}'s channel ({}).",
                thread.platform
            )
        }
        EventBody::UrgentRoutePrompted { prompt, .. } => {
            format!(
                "Urgent route shown first: {}",
                prompt.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        }
        _ => compose::update(scene, d, std::slice::from_ref(e))
            .map(|m| {
                m.lines
                    .iter()
                    .map(|l| flatten(&l.spans))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| e.body.kind().replace('_', " ")),
    }
}

/// The record of one dispute from its events.
pub fn record(
    scene: &compose::Scene<'_>,
    d: &Dispute,
    events: &[Event],
    verify: &VerifyReport,
) -> RecordView {
    let events = events
        .iter()
        .enumerate()
        .map(|(i, e)| RecordEvent {
            n: i + 1,
            at: crate::calendar::format_uk_long(e.at),
            who: e.actor.as_ref().map_or_else(
                || "The service".to_string(),
                |a| compose::name_and_role(scene.policy, scene.dir, a),
            ),
            kind: e.body.kind().to_string(),
            what: describe(
                &compose::Scene {
                    now: e.at,
                    ..*scene
                },
                d,
                e,
            ),
        })
        .collect();
    let (intact, verified) = match &verify.broken {
        None => (
            true,
            format!(
                "Record intact: every hash link of the {} events in the log checks out.",
                verify.events
            ),
        ),
        Some(b) => (
            false,
            format!("The record has been altered outside the service: {b}"),
        ),
    };
    RecordView {
        reference: d
            .reference
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        between: format!(
            "{} challenges {}",
            agency(scene.dir, d.raising_agency.as_ref()),
            agency(scene.dir, d.receiving_agency.as_ref())
        ),
        title: compose::title(scene.policy, d),
        status: compose::status(scene, d),
        events,
        intact,
        verified,
    }
}

fn agency(dir: &Directory, id: Option<&crate::directory::AgencyId>) -> String {
    id.and_then(|a| dir.agency(a))
        .map_or_else(|| "An agency".to_string(), |a| a.name.clone())
}

/// How a command starts on a platform: a slash command on Slack, a mention on Teams.
pub fn command_word(platform: crate::directory::Platform) -> &'static str {
    match platform {
        crate::directory::Platform::Teams => "@escalation-bot",
        _ => "/challenge",
    }
}
