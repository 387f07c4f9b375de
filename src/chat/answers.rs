//! The plain-text answers every platform gives: a challenge's status, a person's open challenges,
//! and what to say when a request could not be recorded.

use crate::chat::compose;
use crate::directory::{Person, PersonId};
use crate::escalation::{Reference, Refusal, Status, can_act};
use crate::service::{Service, ServiceError};

/// What a person sees for a service error: their refusal, or a safe message for ours (the cause
/// goes to the log, never to chat).
pub fn user_text(e: &ServiceError) -> String {
    match e {
        // Someone who may not act on a challenge learns nothing about it, not even that it
        // exists: references are sequential, so "not yours" would confirm a guess.
        ServiceError::Refused(Refusal::NotPermitted { reference }) => {
            ServiceError::UnknownDispute(reference.clone()).to_string()
        }
        ServiceError::Refused(r) => r.to_string(),
        ServiceError::UnknownDispute(_) | ServiceError::Busy(_) => e.to_string(),
        ServiceError::Duplicate => "Already recorded.".to_string(),
        ServiceError::Store(_) | ServiceError::Setup(_) => {
            tracing::error!(error = %e, "could not record a request");
            "This could not be recorded just now, and nothing was changed. Please try again in a moment.".to_string()
        }
    }
}

/// `status REF`: stage, deadline, who holds the stage, who has still to acknowledge, any
/// proposal — for those who may act on it; anyone else hears what an unknown reference gets.
pub async fn status_text(service: &Service, asker: &PersonId, reference: &Reference) -> String {
    let d = match service.dispute(reference).await {
        Ok(d) => d,
        Err(e) => return sentence(&user_text(&e)),
    };
    let dir = service.directory();
    let scene = match service.scene(&d.policy, &dir) {
        Ok(s) => s,
        Err(e) => return sentence(&user_text(&e)),
    };
    let (policy, dir) = (scene.policy, scene.dir);
    if !can_act(policy, dir, &d, asker) {
        return sentence(&user_text(&ServiceError::UnknownDispute(
            reference.to_string(),
        )));
    }
    let mut text = format!(
        "{} · {}",
        compose::title(policy, &d),
        compose::status(&scene, &d)
    );
    let owners: Vec<String> = d
        .owners()
        .map(|p| compose::name_and_role(policy, dir, p))
        .collect();
    if !owners.is_empty() && d.status == Status::Open {
        text.push_str(&format!("\nThis stage: {}", owners.join("; ")));
    }
    if !d.awaiting_ack.is_empty() {
        let names: Vec<String> = d
            .awaiting_ack
            .iter()
            .map(|p| compose::name_and_role(policy, dir, p))
            .collect();
        text.push_str(&format!(
            "\nWaiting for acknowledgement from {}",
            names.join(" and ")
        ));
    }
    if let Some(p) = &d.proposal {
        text.push_str(&format!(
            "\nProposed resolution waiting for the other agency: {}",
            p.outcome
        ));
    }
    text
}

/// `list`: the person's open challenges with their stage and deadline.
pub async fn list_text(service: &Service, person: &Person) -> String {
    match service.open_for(&person.id).await {
        Ok(rows) if rows.is_empty() => "You have no open challenges.".to_string(),
        Ok(rows) => {
            let mut lines = Vec::new();
            for r in &rows {
                // Each challenge's state in words (overdue, awaiting whom), read from its record.
                let state = match Reference::parse(&r.reference) {
                    Ok(reference) => match service.dispute(&reference).await {
                        Ok(d) => service
                            .scene(&d.policy, &service.directory())
                            .map(|scene| compose::status(&scene, &d))
                            .ok(),
                        Err(_) => None,
                    },
                    Err(_) => None,
                };
                let state = state.unwrap_or_else(|| {
                    r.due.map_or_else(
                        || "no fixed limit".to_string(),
                        |d| format!("due {}", crate::calendar::format_uk_short(d)),
                    )
                });
                lines.push(format!(
                    "• {} · stage {} · {} · {state}",
                    r.reference, r.stage, r.stage_name
                ));
            }
            format!("Your open challenges:\n{}", lines.join("\n"))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot list open challenges");
            "Your challenges cannot be listed just now. Please try again in a moment.".to_string()
        }
    }
}

/// A refusal or error as a sentence people read: capital first letter, full stop at the end.
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}
