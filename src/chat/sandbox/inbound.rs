//! The sandbox's requests in: commands, forms, buttons and the clock, as the chosen person.
//!
//! Every change goes through `Service` with an origin in the sandbox (so the acting person's
//! receipt comes back through the outbox and the delivery worker) and an idempotency key made
//! from the page's id for the submission, so a double click records nothing twice.

use super::clock::{self, Advance};
use super::{SandboxState, page, view};
use crate::calendar::{Calendar, format_uk_short};
use crate::chat::Origin;
use crate::chat::forms::{FormErrors, FormSpec, WHOLE_FORM};
use crate::chat::grammar;
use crate::chat::interact::{self, Asker, Input};
use crate::directory::{AgencyId, Directory, Person, PersonId, Platform};
use crate::escalation::{Reference, Verb};
use crate::service::{Service, ServiceError};
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use futures_util::stream::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

/// The channel id the page sends when someone acts from their direct messages.
pub const DIRECT_CHANNEL: &str = "direct";

/// How long one live-update stream stays open before the page reconnects: it bounds how long a
/// shutdown waits for open pages.
const STREAM_LIFETIME: Duration = Duration::from_secs(30);

/// The sandbox page and its API, all under `/sandbox`.
pub fn routes<S>(state: SandboxState) -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/sandbox/") }))
        .route("/sandbox", get(|| async { Redirect::to("/sandbox/") }))
        .route("/favicon.ico", get(page::favicon))
        .route("/sandbox/", get(page::index))
        .route("/sandbox/app.js", get(page::script))
        .route("/sandbox/app.css", get(page::style))
        .route("/sandbox/api/directory", get(directory))
        .route("/sandbox/api/state", get(state_view))
        .route("/sandbox/api/clock", get(clock_get).post(clock_post))
        .route("/sandbox/api/command", post(command))
        .route("/sandbox/api/action", post(action))
        .route("/sandbox/api/form/{name}", post(form))
        .route("/sandbox/api/record/{reference}", get(record))
        .route("/sandbox/api/stream", get(stream))
        .with_state(state)
}

/// What the page is told after a request.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Reply {
    /// Recorded: the posts and the acting person's receipt follow through the delivery worker.
    Recorded { reference: String },
    /// A form to fill in.
    Form { form: FormSpec },
    /// An answer only the acting person sees (help, status, list).
    Ephemeral { text: String },
    /// Refused: nothing was recorded; only the acting person sees why.
    Refused { text: String },
    /// Inputs of a form to change: nothing was recorded.
    Errors { errors: FormErrors },
}

fn reply(status: StatusCode, r: Reply) -> Response {
    (status, Json(r)).into_response()
}

fn ok(r: Reply) -> Response {
    reply(StatusCode::OK, r)
}

fn refused(status: StatusCode, text: impl Into<String>) -> Response {
    reply(status, Reply::Refused { text: text.into() })
}

fn bad_request(text: impl Into<String>) -> Response {
    refused(StatusCode::BAD_REQUEST, text)
}

/// A request body the page did not send: said plainly, never echoing internals.
fn unreadable(e: &JsonRejection) -> Response {
    bad_request(format!(
        "The sandbox could not read this request: {}",
        e.body_text()
    ))
}

/// A refusal decided before any work is done: small to pass back with `?`, a response when sent.
struct Refuse(StatusCode, String);

impl IntoResponse for Refuse {
    fn into_response(self) -> Response {
        refused(self.0, self.1)
    }
}

/// What a person sees for a service error: the refusal, or a safe message when it is ours.
fn refusal_of(e: &ServiceError) -> Refuse {
    match e {
        ServiceError::Refused(r) => Refuse(StatusCode::UNPROCESSABLE_ENTITY, r.to_string()),
        ServiceError::UnknownDispute(_) => Refuse(StatusCode::NOT_FOUND, e.to_string()),
        ServiceError::Busy(_) => Refuse(StatusCode::CONFLICT, e.to_string()),
        ServiceError::Duplicate => Refuse(StatusCode::CONFLICT, "Already recorded.".into()),
        ServiceError::Store(_) | ServiceError::Setup(_) => {
            tracing::error!(error = %e, "sandbox: could not record a request");
            Refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "This could not be recorded just now, and nothing was changed. Please try again in a moment.".into(),
            )
        }
    }
}

fn service_refusal(e: &ServiceError) -> Response {
    refusal_of(e).into_response()
}

/// The person the page acts as, or the refusal to show.
fn acting(service: &Service, id: &str) -> Result<Person, Refuse> {
    service
        .directory()
        .person(&PersonId(id.to_string()))
        .cloned()
        .ok_or_else(|| {
            Refuse(
                StatusCode::BAD_REQUEST,
                "That person is not in the demo directory; choose someone from the list of people."
                    .to_string(),
            )
        })
}

/// The page's id for one submission or press: the idempotency key's unique part.
fn submission_key(what: &str, submission: &str) -> Result<String, Refuse> {
    let fits = (8..=80).contains(&submission.len())
        && submission
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fits {
        Ok(format!("sandbox:{what}:{submission}"))
    } else {
        Err(Refuse(
            StatusCode::BAD_REQUEST,
            "Each submission needs its own id of 8 to 80 letters, digits or dashes, so that it is recorded once.".into(),
        ))
    }
}

/// Where the acting person "is": the channel they typed or pressed in, for their receipt.
fn origin(dir: &Directory, person: &Person, channel: &str) -> Origin {
    let known = channel == DIRECT_CHANNEL || dir.agency(&AgencyId(channel.to_string())).is_some();
    Origin {
        platform: Platform::Sandbox,
        workspace: Directory::SANDBOX_WORKSPACE.to_string(),
        channel: if known {
            channel.to_string()
        } else {
            person.agency.0.clone()
        },
        user: person.id.0.clone(),
    }
}

#[derive(Debug, Deserialize)]
struct AsQuery {
    #[serde(rename = "as", default)]
    person: Option<String>,
}

async fn directory(State(state): State<SandboxState>) -> Response {
    let s = &state.service;
    let platform_of = |channel: &str| state.platform_of(channel);
    Json(view::directory(&s.policies, &s.directory(), &platform_of)).into_response()
}

/// The calendar whose working hours the clock is read against: the acting person's board's.
fn calendar_for<'a>(service: &'a Service, person: Option<&PersonId>) -> Option<&'a Calendar> {
    if let Some(Ok((_, cal))) = person.map(|p| service.policy_of(p)) {
        return Some(cal);
    }
    let first = service.policies.iter().next()?;
    service.policy(&first.id).ok().map(|(_, cal)| cal)
}

fn clock_view(service: &Service, person: Option<&PersonId>) -> view::ClockView {
    let now = service.now();
    let cal = calendar_for(service, person);
    let working = cal.is_some_and(|c| c.is_working_time(now).unwrap_or(false));
    let note = match cal.map(|c| c.next_working_time(now)) {
        _ if working => {
            "Inside working hours: reminders and overdue prompts are posted as they fall due."
                .to_string()
        }
        Some(Ok(next)) => format!(
            "Outside working hours: reminders and overdue prompts wait until {}.",
            format_uk_short(next)
        ),
        _ => "Outside working hours.".to_string(),
    };
    view::ClockView {
        now,
        now_uk: now
            .with_timezone(&chrono_tz::Europe::London)
            .format("%a %-d %b %Y, %H:%M")
            .to_string(),
        working,
        note,
        movable: service.clock.as_manual().is_some(),
    }
}

async fn state_view(State(state): State<SandboxState>, Query(q): Query<AsQuery>) -> Response {
    let service = &state.service;
    let person = q
        .person
        .map(PersonId)
        .filter(|p| service.directory().person(p).is_some());
    let posts = match super::kept::SandboxKept::of(service).posts().await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "sandbox: cannot read the posts");
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "The sandbox's posts cannot be read just now.",
            );
        }
    };
    let (channels, private) = view::posts(&posts, person.as_ref());
    Json(view::StateView {
        clock: clock_view(service, person.as_ref()),
        channels,
        private,
    })
    .into_response()
}

async fn clock_get(State(state): State<SandboxState>, Query(q): Query<AsQuery>) -> Response {
    let person = q.person.map(PersonId);
    Json(clock_view(&state.service, person.as_ref())).into_response()
}

#[derive(Debug, Deserialize)]
struct ClockRequest {
    #[serde(rename = "as", default)]
    person: Option<String>,
    #[serde(default)]
    hours: Option<u32>,
    #[serde(default)]
    working_days: Option<u32>,
}

async fn clock_post(
    State(state): State<SandboxState>,
    body: Result<Json<ClockRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return unreadable(&e),
    };
    let service = &state.service;
    let by = match (req.hours, req.working_days) {
        (Some(h), None) => Advance::Hours(h),
        (None, Some(d)) => Advance::WorkingDays(d),
        _ => {
            return bad_request(
                "Say how far to move the clock: a number of hours or of working days.",
            );
        }
    };
    let Some(manual) = service.clock.as_manual() else {
        return refused(
            StatusCode::CONFLICT,
            "This service runs on real time; only `escalation-bot serve --sandbox` has a demo clock.",
        );
    };
    let person = req.person.map(PersonId);
    let Some(cal) = calendar_for(service, person.as_ref()) else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "No board policy is loaded, so there is no calendar to count working days in.",
        );
    };
    let to = match clock::target(cal, service.now(), by) {
        Ok(t) => t,
        Err(e) => return refused(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    manual.set(to);
    if let Some(us) = manual.offset().num_microseconds()
        && let Err(e) = super::kept::SandboxKept::of(service)
            .set_clock_offset(us)
            .await
    {
        tracing::warn!(error = %e, "sandbox: the demo clock moved but could not be kept for a restart");
    }
    tracing::info!(now = %crate::calendar::format_uk(to), "sandbox: demo clock moved");
    state.changes.bump();
    Json(clock_view(service, person.as_ref())).into_response()
}

#[derive(Debug, Deserialize)]
struct CommandRequest {
    #[serde(rename = "as")]
    person: String,
    #[serde(default)]
    channel: String,
    text: String,
    submission: String,
}

/// The text after the command word (`/challenge`, or `@escalation-bot` where the channel stands
/// for Teams), when the text is such a command.
fn after_command<'t>(text: &'t str, word: &str) -> Option<&'t str> {
    let text = text.trim_start();
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    (head.eq_ignore_ascii_case(word) && (rest.is_empty() || rest.starts_with(char::is_whitespace)))
        .then_some(rest)
}

async fn command(
    State(state): State<SandboxState>,
    body: Result<Json<CommandRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return unreadable(&e),
    };
    let service = &state.service;
    let person = match acting(service, &req.person) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let key = match submission_key("command", &req.submission) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    // A channel standing for Teams takes a mention, as Teams does; one for Slack a slash command.
    let platform = state.platform_of(&req.channel);
    let word = view::command_word(platform);
    let Some(rest) = after_command(&req.text, word) else {
        let other = if word == COMMAND {
            "@escalation-bot"
        } else {
            COMMAND
        };
        let why = if after_command(&req.text, other).is_some() {
            let name = if platform == Platform::Teams {
                "Teams"
            } else {
                "Slack"
            };
            format!("This channel stands for {name}, where commands start with {word}.")
        } else {
            format!(
                "The sandbox's channels only take {word} commands; conversation belongs in your agency's own systems."
            )
        };
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{why}\n\n{}", grammar::help(word)),
        );
    };
    let origin = origin(&service.directory(), &person, &req.channel);
    let asker = Asker {
        person: &person,
        origin: Some(&origin),
        command_word: word,
        channel: Some(origin.channel.as_str()),
        answered_inline: false,
    };
    let reply = interact::handle(service, asker, Input::Typed(rest.to_string()), Some(key)).await;
    answer(reply, false)
}

/// How a command starts in the sandbox, as on Slack.
const COMMAND: &str = "/challenge";

/// Tells the page what came of a request; `submitted` is true for a form sent back, whose
/// problems are shown on the form.
fn answer(reply: interact::Reply, submitted: bool) -> Response {
    match reply {
        interact::Reply::Say(text) => ok(Reply::Ephemeral { text }),
        interact::Reply::Form(view) if submitted => form_errors(view.errors),
        interact::Reply::Form(view) => ok(Reply::Form { form: view.spec }),
        interact::Reply::Recorded(outcome) => ok(Reply::Recorded {
            reference: outcome.reference.to_string(),
        }),
        interact::Reply::AlreadyRecorded(reference) => ok(Reply::Recorded {
            reference: reference.map(|r| r.to_string()).unwrap_or_default(),
        }),
        interact::Reply::Refused(text) if submitted => form_errors(whole_form(text)),
        interact::Reply::Refused(text) => refused(StatusCode::UNPROCESSABLE_ENTITY, text),
    }
}

#[derive(Debug, Deserialize)]
struct ActionRequest {
    #[serde(rename = "as")]
    person: String,
    #[serde(default)]
    channel: String,
    action: String,
    reference: String,
    submission: String,
}

async fn action(
    State(state): State<SandboxState>,
    body: Result<Json<ActionRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return unreadable(&e),
    };
    let service = &state.service;
    let person = match acting(service, &req.person) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let key = match submission_key("action", &req.submission) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    let Some(verb) = Verb::from_id(&req.action) else {
        return bad_request("That is not a button the sandbox knows.");
    };
    let Ok(reference) = Reference::parse(&req.reference) else {
        return bad_request("The button does not carry a challenge reference.");
    };
    let origin = origin(&service.directory(), &person, &req.channel);
    let asker = Asker {
        person: &person,
        origin: Some(&origin),
        command_word: COMMAND,
        channel: Some(origin.channel.as_str()),
        answered_inline: false,
    };
    let reply = interact::handle(
        service,
        asker,
        Input::Pressed { verb, reference },
        Some(key),
    )
    .await;
    answer(reply, false)
}

#[derive(Debug, Deserialize)]
struct FormRequest {
    #[serde(rename = "as")]
    person: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    reference: Option<String>,
    submission: String,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

fn form_errors(errors: FormErrors) -> Response {
    reply(StatusCode::UNPROCESSABLE_ENTITY, Reply::Errors { errors })
}

fn whole_form(text: impl Into<String>) -> FormErrors {
    FormErrors::from([(WHOLE_FORM.to_string(), text.into())])
}

async fn form(
    State(state): State<SandboxState>,
    Path(name): Path<String>,
    body: Result<Json<FormRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return unreadable(&e),
    };
    let service = &state.service;
    let person = match acting(service, &req.person) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let Some(verb) = Verb::from_id(&name) else {
        return form_errors(whole_form(
            "This form is not one escalation-bot knows; close it and start again.",
        ));
    };
    let key = match submission_key(&format!("form:{name}"), &req.submission) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    let reference = match req.reference.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => match Reference::parse(r) {
            Ok(r) => Some(r),
            Err(_) => {
                return form_errors(whole_form(
                    "This form lost track of its challenge; close it and press the button again.",
                ));
            }
        },
        None => None,
    };
    let origin = origin(&service.directory(), &person, &req.channel);
    let asker = Asker {
        person: &person,
        origin: Some(&origin),
        command_word: COMMAND,
        channel: Some(origin.channel.as_str()),
        answered_inline: false,
    };
    let values = req
        .fields
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let input = Input::Submitted {
        verb,
        reference,
        values,
    };
    answer(
        interact::handle(service, asker, input, Some(key)).await,
        true,
    )
}

async fn record(State(state): State<SandboxState>, Path(reference): Path<String>) -> Response {
    let service = &state.service;
    let Ok(reference) = Reference::parse(&reference) else {
        return refused(
            StatusCode::NOT_FOUND,
            "That is not a challenge reference; write it like NSAB-2026-0007.".to_string(),
        );
    };
    let d = match service.dispute(&reference).await {
        Ok(d) => d,
        Err(e) => return service_refusal(&e),
    };
    let (events, verify) = match service.audit_trail(&reference).await {
        Ok(trail) => trail,
        Err(e) => return service_refusal(&e),
    };
    let dir = service.directory();
    let Ok(scene) = service.scene(&d.policy, &dir) else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "The challenge's board policy is not loaded.",
        );
    };
    Json(view::record(&scene, &d, &events, &verify)).into_response()
}

/// Resolves when the process is asked to stop, so open streams end and shutdown is not held up.
async fn stopping() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
        () = tokio::time::sleep(STREAM_LIFETIME) => {}
    }
}

/// Live updates: a `change` event whenever a post lands or the clock moves; the page re-reads
/// its state. The stream ends now and then and the browser reconnects by itself.
async fn stream(
    State(state): State<SandboxState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.changes.subscribe();
    let events = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let version = *rx.borrow_and_update();
        let event = SseEvent::default()
            .event("change")
            .data(version.to_string())
            .retry(Duration::from_secs(1));
        Some((Ok(event), (rx, false)))
    });
    Sse::new(events.take_until(Box::pin(stopping()))).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_commands_are_taken_from_the_composer() {
        let slash = "/challenge";
        assert_eq!(after_command("/challenge", slash), Some(""));
        assert_eq!(
            after_command("  /Challenge note NSAB-2026-0001 hi", slash),
            Some(" note NSAB-2026-0001 hi")
        );
        assert_eq!(after_command("/challenges", slash), None);
        assert_eq!(after_command("hello", slash), None);
        assert_eq!(after_command("/chall", slash), None);
        let mention = "@escalation-bot";
        assert_eq!(
            after_command("@escalation-bot help", mention),
            Some(" help")
        );
        assert_eq!(after_command("/challenge help", mention), None);
    }

    #[test]
    fn submission_ids_must_be_plain_and_long_enough_to_be_unique() {
        assert_eq!(
            submission_key("command", "0b6f3c1e-8d2a-4e7b-9f00-123456789abc")
                .ok()
                .as_deref(),
            Some("sandbox:command:0b6f3c1e-8d2a-4e7b-9f00-123456789abc")
        );
        assert!(submission_key("command", "short").is_err());
        assert!(submission_key("command", "has spaces in it").is_err());
    }
}
