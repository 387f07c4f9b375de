//! Which posts a batch of events causes, and where: one outbox row per message per target.
//!
//! A dispute has one thread per involved agency channel, possibly on different platforms; every
//! update is mirrored into each of them. Board notices go to the board's own channels, and the
//! people asked to take over a stage get a direct message.

use super::compose;
use super::message::{Delivery, Message, Target};
use crate::calendar::Calendar;
use crate::directory::{AgencyId, Directory, Platform};
use crate::escalation::{Dispute, Event, EventBody};
use crate::policy::Policy;
use crate::store::NewOutbox;
use chrono::{DateTime, Utc};

/// Where a request came from, so the person who acted gets a private receipt there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub platform: Platform,
    pub workspace: String,
    pub channel: String,
    /// The platform's user id of the person who acted.
    pub user: String,
}

fn row(
    reference: &str,
    seq: u64,
    target: Target,
    message: &Message,
    at: DateTime<Utc>,
) -> NewOutbox {
    outbox_row(
        format!("{reference}:{seq}:{}", target.key()),
        target.lane(reference),
        &target,
        message,
        at,
    )
}

/// The outbox row for one message to one target, written once for every place that queues a
/// post. Both are plain data whose maps all have string keys, so serialising them cannot fail.
pub fn outbox_row(
    idempotency_key: String,
    lane: String,
    target: &Target,
    message: &Message,
    at: DateTime<Utc>,
) -> NewOutbox {
    NewOutbox {
        idempotency_key,
        lane,
        target: serde_json::to_string(target)
            .expect("a Target is plain data with string keys, which always serialises"),
        payload: serde_json::to_string(message)
            .expect("a Message is plain data with string keys, which always serialises"),
        available_at: at,
    }
}

fn channels<'a>(
    dir: &'a Directory,
    agency: Option<&AgencyId>,
) -> impl Iterator<Item = &'a crate::directory::Channel> + 'a {
    agency
        .and_then(|a| dir.agency(a))
        .into_iter()
        .flat_map(|a| a.channels.iter())
}

/// The outbox rows for events just decided on a dispute (`before` is the state they were decided on).
pub fn plan(
    policy: &Policy,
    calendar: &Calendar,
    dir: &Directory,
    before: &Dispute,
    events: &[Event],
    origin: Option<&Origin>,
) -> Vec<NewOutbox> {
    let mut after = before.clone();
    for e in events {
        after.apply(e);
    }
    let Some(reference) = after.reference.as_ref().map(ToString::to_string) else {
        return Vec::new();
    };
    let Some(at) = events.first().map(|e| e.at) else {
        return Vec::new();
    };
    let seq = before.version + 1;
    let scene = compose::Scene {
        policy,
        calendar,
        dir,
        now: at,
    };
    let mut out = Vec::new();
    let raised = events
        .iter()
        .any(|e| matches!(e.body, EventBody::Raised { .. }));
    let agencies = [
        after.raising_agency.as_ref(),
        after.receiving_agency.as_ref(),
    ];

    if raised {
        let message = compose::root(&scene, &after);
        for agency in agencies {
            for c in channels(dir, agency) {
                let target = Target {
                    platform: c.platform,
                    workspace: c.workspace.clone(),
                    delivery: Delivery::Root {
                        channel: c.channel.clone(),
                    },
                };
                out.push(row(&reference, seq, target, &message, at));
            }
        }
    } else if let Some(update) = compose::update(&scene, &after, events) {
        // A note leaves the root as it was (a test walks every policy to prove it), so a busy
        // dispute's notes are replies alone, not a rewrite of the root each. Anything else
        // rewrites it: the root also shows how the stage stands against the time now (on
        // time, overdue), which may have moved since it was last drawn.
        let only_notes = events
            .iter()
            .all(|e| matches!(e.body, EventBody::NoteAdded { .. }));
        let root = (!only_notes).then(|| compose::root(&scene, &after));
        for agency in agencies {
            for c in channels(dir, agency) {
                let reply = Target {
                    platform: c.platform,
                    workspace: c.workspace.clone(),
                    delivery: Delivery::Reply {
                        channel: c.channel.clone(),
                    },
                };
                out.push(row(&reference, seq, reply, &update, at));
                let Some(root) = &root else { continue };
                let update_root = Target {
                    platform: c.platform,
                    workspace: c.workspace.clone(),
                    delivery: Delivery::UpdateRoot {
                        channel: c.channel.clone(),
                    },
                };
                out.push(row(&reference, seq, update_root, root, at));
            }
        }
    }

    for e in events {
        match &e.body {
            EventBody::BoardNotified {
                message, source, ..
            } => {
                let notice = compose::board_notice(&scene, &after, message, source);
                for target in board_channels(dir, &policy.id) {
                    let mut r = row(&reference, seq, target, &notice, at);
                    // Two notices in one batch (unit and chair) share a channel: keep both.
                    r.idempotency_key.push_str(&format!(":{}", notice_slot(e)));
                    out.push(r);
                }
            }
            EventBody::LearningReferred { text } => {
                // Learning is for the board: it goes to the board's own channels too.
                let who = e.actor.as_ref().map_or_else(
                    || "The service".to_string(),
                    |a| compose::role_and_agency(policy, dir, a),
                );
                let message = format!("Learning referred to the board by {who}: {text}");
                let notice =
                    compose::board_notice(&scene, &after, &message, &policy.learning.source);
                for target in board_channels(dir, &policy.id) {
                    let mut r = row(&reference, seq, target, &notice, at);
                    r.idempotency_key.push_str(":learning");
                    out.push(r);
                }
            }
            EventBody::Raised {
                other_professional: None,
                raised_by,
                ..
            } => {
                // The raiser named only the agency: whoever the service chose there is told at
                // once, not left to find out from a reminder.
                let text = format!(
                    "{} has raised {reference} with your agency. The service has named you as your agency's contact for this stage, because no professional was named; reply in the thread, or ask for it to be passed to the right person.",
                    compose::name_and_role(policy, dir, raised_by)
                );
                for person in &after.owners_receiving {
                    let dm = compose::direct(&scene, &after, &text, false);
                    if let Some(target) = direct_target(dir, person) {
                        let mut r = row(&reference, seq, target, &dm, at);
                        r.idempotency_key.push_str(":chosen");
                        out.push(r);
                    }
                }
            }
            EventBody::StageStarted { awaiting_ack, .. } => {
                let dm = compose::asked_to_acknowledge(&scene, &after);
                for person in awaiting_ack {
                    if let Some(target) = direct_target(dir, person) {
                        out.push(row(&reference, seq, target, &dm, at));
                    }
                }
            }
            EventBody::ReminderSent {
                due, recipients, ..
            } => {
                let text = format!(
                    "Reminder: {} {} of {reference} is due {}.",
                    policy.stage_word,
                    after.stage,
                    crate::calendar::format_uk_short(*due)
                );
                let waiting = |p: &crate::directory::PersonId| after.awaiting_ack.contains(p);
                for person in recipients {
                    let dm = compose::direct(&scene, &after, &text, waiting(person));
                    if let Some(target) = direct_target(dir, person) {
                        out.push(row(&reference, seq, target, &dm, at));
                    }
                }
            }
            EventBody::OverduePrompted { prompt, .. } => {
                // While overdue, the current owners hear it directly too, not only in the threads.
                let text = format!("Overdue: {reference}. {prompt}");
                let waiting = |p: &crate::directory::PersonId| after.awaiting_ack.contains(p);
                for person in after.owners() {
                    let dm = compose::direct(&scene, &after, &text, waiting(person));
                    if let Some(target) = direct_target(dir, person) {
                        out.push(row(&reference, seq, target, &dm, at));
                    }
                }
            }
            EventBody::StepPrompted { prompt, .. } => {
                let text = format!("{reference}: {prompt}");
                for person in after.owners() {
                    let dm = compose::direct(&scene, &after, &text, false);
                    if let Some(target) = direct_target(dir, person) {
                        out.push(row(&reference, seq, target, &dm, at));
                    }
                }
            }
            EventBody::AcknowledgementReminded { waiting, .. } => {
                let text = format!(
                    "You were asked to take over {} {} of {reference} and have not acknowledged it yet.",
                    policy.stage_word, after.stage
                );
                let dm = compose::direct(&scene, &after, &text, true);
                for person in waiting {
                    if let Some(target) = direct_target(dir, person) {
                        out.push(row(&reference, seq, target, &dm, at));
                    }
                }
            }
            EventBody::AcknowledgementNudged {
                waiting,
                told,
                prompt,
                ..
            } => {
                let text = format!(
                    "{} has not acknowledged {reference}. {prompt}",
                    compose::role_and_agency(policy, dir, waiting)
                );
                let dm = compose::direct(&scene, &after, &text, false);
                for person in told {
                    if let Some(target) = direct_target(dir, person) {
                        let mut r = row(&reference, seq, target, &dm, at);
                        r.idempotency_key.push_str(&format!(":{waiting}"));
                        out.push(r);
                    }
                }
            }
            _ => {}
        }
    }

    if let Some(o) = origin {
        let target = Target {
            platform: o.platform,
            workspace: o.workspace.clone(),
            delivery: Delivery::Receipt {
                channel: o.channel.clone(),
                user: o.user.clone(),
            },
        };
        out.push(row(
            &reference,
            seq,
            target,
            &compose::receipt(&scene, &after, events),
            at,
        ));
    }
    out
}

/// When a stage that requires a form or written account is entered, a link to it in each of the
/// board's own channels: the form is generated from the record in the Board's view (page and
/// PDF), and its content stays out of chat. `base_url` is where people reach the service.
pub fn form_links(
    scene: &compose::Scene<'_>,
    before: &Dispute,
    events: &[Event],
    base_url: &str,
) -> Vec<NewOutbox> {
    let mut after = before.clone();
    for e in events {
        after.apply(e);
    }
    let (Some(reference), Some(at)) = (
        after.reference.as_ref().map(ToString::to_string),
        events.first().map(|e| e.at),
    ) else {
        return Vec::new();
    };
    let policy = scene.policy;
    let seq = before.version + 1;
    let mut out = Vec::new();
    for e in events {
        let EventBody::StageStarted {
            stage,
            form: Some(_),
            ..
        } = &e.body
        else {
            continue;
        };
        let Some(form) = policy.stage(*stage).and_then(|s| s.form.as_ref()) else {
            continue;
        };
        let id = &form.id;
        let page = format!("{base_url}/board/form/{reference}/{id}");
        let text = format!(
            "The {} for {reference} ({} {stage}) is generated from the record. Open it in the Board's view (sign in with /challenge board): {page} — or as a PDF: {page}.pdf",
            form.name, policy.stage_word
        );
        let mut notice = compose::board_notice(scene, &after, &text, &form.source);
        notice.title = format!("{reference} · {}", form.name);
        for target in board_channels(scene.dir, &policy.id) {
            let mut r = row(&reference, seq, target, &notice, at);
            r.idempotency_key.push_str(&format!(":form:{id}"));
            out.push(r);
        }
    }
    out
}

/// Every channel of a board's own agency entries (business unit, chair), as notice targets.
pub fn board_channels<'a>(dir: &'a Directory, board: &'a str) -> impl Iterator<Item = Target> + 'a {
    dir.board_agencies(board)
        .flat_map(|b| b.channels.iter())
        .map(|c| Target {
            platform: c.platform,
            workspace: c.workspace.clone(),
            delivery: Delivery::Notice {
                channel: c.channel.clone(),
            },
        })
}

fn notice_slot(e: &Event) -> String {
    match &e.body {
        EventBody::BoardNotified { who, .. } => format!("{who:?}").to_lowercase(),
        _ => String::new(),
    }
}

/// A direct message target for a person: their Slack or Teams identity, or the sandbox.
pub fn direct_target(dir: &Directory, person: &crate::directory::PersonId) -> Option<Target> {
    let p = dir.person(person)?;
    let agency = dir.agency(&p.agency)?;
    let platform_of_agency = agency.channels.first().map(|c| c.platform);
    let slack = p.slack.as_ref().map(|s| Target {
        platform: Platform::Slack,
        workspace: s.workspace.clone(),
        delivery: Delivery::Direct {
            person: person.clone(),
            user: s.user.clone(),
        },
    });
    let teams = p.teams.as_ref().map(|t| Target {
        platform: Platform::Teams,
        workspace: t.tenant.clone(),
        delivery: Delivery::Direct {
            person: person.clone(),
            user: t.aad_object_id.clone(),
        },
    });
    let sandbox = (platform_of_agency == Some(Platform::Sandbox)).then(|| Target {
        platform: Platform::Sandbox,
        workspace: "sandbox".into(),
        delivery: Delivery::Direct {
            person: person.clone(),
            user: person.0.clone(),
        },
    });
    match platform_of_agency {
        Some(Platform::Teams) => teams.or(slack),
        Some(Platform::Sandbox) => sandbox,
        _ => slack.or(teams),
    }
}
