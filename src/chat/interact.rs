//! One mapping from what a person does on any platform to what happens.
//!
//! Slack, Teams and the sandbox each verify a request and find the person; then a typed command,
//! a pressed button or a submitted form becomes an [`Input`], and [`handle`] decides the rest the
//! same way for all three: answer, open a form, or record a core command. Each platform only
//! renders the [`Reply`] in its own terms.

use super::forms::{self, FormContext, FormErrors, FormSpec, Submitted, Values, WHOLE_FORM};
use super::grammar::{self, Typed};
use super::{Message, Origin, answers, compose};
use crate::directory::Person;
use crate::escalation::{Dispute, Reference, Refusal, Status, Verb, can_act};
use crate::service::{Outcome, Service, ServiceError};
pub use answers::sentence;

/// What a person did, already verified and tied to a person by their platform's adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Text typed after the command word (`/challenge`, `@escalation-bot`).
    Typed(String),
    /// A button pressed on a post about a challenge.
    Pressed { verb: Verb, reference: Reference },
    /// A form sent back, with what was filled in.
    Submitted {
        verb: Verb,
        reference: Option<Reference>,
        values: Values,
    },
}

/// A form to show: its definition, what was filled in so far, and what needs changing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormView {
    pub spec: FormSpec,
    pub values: Values,
    pub errors: FormErrors,
}

/// What happens, for the platform to say in its own terms.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A private answer (help, status, list); nothing was recorded.
    Say(String),
    /// Show this form (to open it, or again with what needs changing).
    Form(Box<FormView>),
    /// The core recorded it; the posts follow through the outbox.
    Recorded(Box<Outcome>),
    /// A retry of a request already recorded (the challenge it was about, where known).
    AlreadyRecorded(Option<Reference>),
    /// Nothing was recorded, and this says why and what to do.
    Refused(String),
}

/// Who is asking, from where, and the request's de-duplication key.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub person: &'a Person,
    /// Where a private receipt goes once the request is recorded.
    pub origin: Option<&'a Origin>,
    /// How a command starts on this platform, for the help text.
    pub command_word: &'a str,
    /// The channel it was asked in, as the directory names channels (a Slack channel id, a
    /// Teams channel id): what `connect` records. None in a personal chat.
    pub channel: Option<&'a str>,
    /// The platform shows the person this request's answer itself (a Slack slash command's
    /// response): that answer is the receipt, so none is posted as well.
    pub answered_inline: bool,
}

impl Asker<'_> {
    /// Where the receipt of a recorded request is posted: nowhere when it is answered inline.
    fn receipt_to(&self) -> Option<&Origin> {
        self.origin.filter(|_| !self.answered_inline)
    }
}

/// Decides what an input comes to, recording it where it asks the core to act.
pub async fn handle(
    service: &Service,
    asker: Asker<'_>,
    input: Input,
    key: Option<String>,
) -> Reply {
    match input {
        Input::Typed(text) => typed(service, asker, &text, key).await,
        Input::Pressed { verb, reference } => {
            match open(service, asker, verb, Some(&reference)).await {
                Ok(Opened {
                    view: Some(view), ..
                }) => Reply::Form(Box::new(view)),
                Ok(Opened { view: None, .. }) => {
                    act_direct(service, asker, verb, &reference, key).await
                }
                Err(reply) => reply,
            }
        }
        Input::Submitted {
            verb,
            reference,
            values,
        } => submit(service, asker, verb, reference.as_ref(), values, key).await,
    }
}

async fn typed(service: &Service, asker: Asker<'_>, text: &str, key: Option<String>) -> Reply {
    let parsed = match grammar::parse(text) {
        Ok(p) => p,
        Err(e) => {
            return Reply::Refused(format!("{}\n\n{}", e.0, grammar::help(asker.command_word)));
        }
    };
    match parsed {
        Typed::Help => Reply::Say(grammar::help(asker.command_word)),
        Typed::List => Reply::Say(answers::list_text(service, asker.person).await),
        Typed::Status(reference) => {
            Reply::Say(answers::status_text(service, &asker.person.id, &reference).await)
        }
        Typed::Board => match service.send_board_link(&asker.person.id).await {
            Ok(text) => Reply::Say(text),
            Err(e) => Reply::Refused(answers::user_text(&e)),
        },
        Typed::Connect => match service
            .connect_channel(
                asker.person,
                asker
                    .origin
                    .zip(asker.channel)
                    .map(|(o, channel)| Origin {
                        channel: channel.to_string(),
                        ..o.clone()
                    })
                    .as_ref(),
                "",
                asker.command_word,
            )
            .await
        {
            Ok(text) => Reply::Say(text),
            Err(text) => Reply::Refused(text),
        },
        Typed::Verb {
            verb,
            reference,
            values,
        } => {
            let opened = match open(service, asker, verb, reference.as_ref()).await {
                Ok(o) => o,
                Err(reply) => return reply,
            };
            match (opened.view, reference) {
                // Nothing typed after the reference: the form asks for it.
                (Some(view), _) if values.is_empty() => Reply::Form(Box::new(view)),
                (Some(view), reference) => {
                    let dispute = opened.dispute.as_ref();
                    match submit_to(
                        service,
                        asker,
                        &view.spec,
                        reference.as_ref(),
                        dispute,
                        &values,
                        key,
                    )
                    .await
                    {
                        // What was typed is fine, but the form asks something no typed
                        // command can say (a yes/no question of this stage): open the form
                        // with what was typed in it.
                        Reply::Form(shown)
                            if shown.errors.keys().all(|f| {
                                f != WHOLE_FORM
                                    && !grammar::typed_fields(verb).contains(&f.as_str())
                            }) =>
                        {
                            Reply::Form(shown)
                        }
                        Reply::Form(shown) => {
                            Reply::Refused(typed_errors(&shown, verb, asker.command_word))
                        }
                        other => other,
                    }
                }
                (None, Some(reference)) => act_direct(service, asker, verb, &reference, key).await,
                (None, None) => Reply::Refused(grammar::help(asker.command_word)),
            }
        }
    }
}

/// The errors of typed text, as sentences, with how to type the command.
fn typed_errors(view: &FormView, verb: Verb, command_word: &str) -> String {
    let lines: Vec<String> = view
        .errors
        .iter()
        .map(|(field, e)| match view.spec.field(field) {
            Some(f) if field != WHOLE_FORM => format!("{}: {e}", f.label),
            _ => e.clone(),
        })
        .collect();
    format!(
        "Nothing was recorded.\n{}\nType it as: {}",
        lines.join("\n"),
        grammar::usage(verb, command_word)
    )
}

/// The challenge a form acts on (none for raising), once this person may act on it with this
/// verb at all; or the answer saying why not.
async fn load(
    service: &Service,
    asker: Asker<'_>,
    verb: Verb,
    reference: Option<&Reference>,
) -> Result<Option<Dispute>, Reply> {
    let Some(reference) = reference else {
        return Ok(None);
    };
    let d = service
        .dispute(reference)
        .await
        .map_err(|e| Reply::Refused(sentence(&answers::user_text(&e))))?;
    let (policy, calendar) = service
        .policy(&d.policy)
        .map_err(|e| Reply::Refused(sentence(&answers::user_text(&e))))?;
    // Say no before the form is filled in, where the core would refuse anything from this person.
    let dir = service.directory();
    if !can_act(policy, &dir, &d, &asker.person.id) {
        return Err(Reply::Refused(sentence(&answers::user_text(
            &ServiceError::UnknownDispute(reference.to_string()),
        ))));
    }
    // A determination closes a challenge, yet the parties may still add their view as a note.
    let noted_after_determination = verb == Verb::AddNote && d.determination.is_some();
    if d.status != Status::Open
        && verb != Verb::ReferLearning
        && verb != Verb::ConfirmResolution
        && !noted_after_determination
    {
        let status = if d.status == Status::Resolved {
            "resolved"
        } else {
            "withdrawn"
        };
        return Err(Reply::Refused(sentence(
            &Refusal::Closed {
                reference: reference.to_string(),
                status: status.into(),
            }
            .to_string(),
        )));
    }
    // And where the core would refuse this person this action whatever they wrote (a stale
    // button: the stage moved on, a proposal waits), say so now, in the core's words.
    let ctx = crate::escalation::Context {
        policy,
        calendar,
        directory: &dir,
        now: service.now(),
    };
    let has_form = !matches!(verb, Verb::Acknowledge | Verb::ConfirmResolution);
    if has_form
        && let Some(command) = crate::escalation::probe(verb, policy, &d, ctx.now)
        && let Err(refusal) = crate::escalation::decide(&d, &asker.person.id, &command, &ctx)
        && !refusal.is_about_content()
    {
        return Err(match refusal {
            Refusal::AlreadyDone { .. } => Reply::Say(sentence(&refusal.to_string())),
            other => Reply::Refused(sentence(&other.to_string())),
        });
    }
    Ok(Some(d))
}

/// The form context for this person and challenge: the challenge's board (or the person's own,
/// for raising), its calendar, the directory and the time now.
fn form_context<'a>(
    service: &'a Service,
    asker: Asker<'a>,
    dispute: Option<&'a Dispute>,
    directory: &'a crate::directory::Directory,
) -> Result<FormContext<'a>, String> {
    let policy_id = match dispute {
        Some(d) => d.policy.clone(),
        None => service
            .policy_of(&asker.person.id)
            .map(|(p, _)| p.id.clone())
            .map_err(|e| sentence(&answers::user_text(&e)))?,
    };
    let (policy, calendar) = service
        .policy(&policy_id)
        .map_err(|e| sentence(&answers::user_text(&e)))?;
    Ok(FormContext {
        policy,
        calendar,
        directory,
        dispute,
        person: Some(asker.person),
        now: service.now(),
    })
}

/// The form a verb opens (`None` where the verb has no form), with the challenge it was drawn
/// for, so reading the form back needs no second load.
struct Opened {
    view: Option<FormView>,
    dispute: Option<Dispute>,
}

/// The form a verb opens for this person and challenge.
async fn open(
    service: &Service,
    asker: Asker<'_>,
    verb: Verb,
    reference: Option<&Reference>,
) -> Result<Opened, Reply> {
    let dispute = load(service, asker, verb, reference).await?;
    let dir = service.directory();
    let ctx = form_context(service, asker, dispute.as_ref(), &dir).map_err(Reply::Refused)?;
    let view = forms::form(verb, &ctx).map(|spec| FormView {
        spec,
        values: Values::new(),
        errors: FormErrors::new(),
    });
    Ok(Opened { view, dispute })
}

async fn submit(
    service: &Service,
    asker: Asker<'_>,
    verb: Verb,
    reference: Option<&Reference>,
    values: Values,
    key: Option<String>,
) -> Reply {
    if verb != Verb::Raise && reference.is_none() {
        return Reply::Refused(LOST_TRACK.into());
    }
    match open(service, asker, verb, reference).await {
        Ok(Opened {
            view: Some(view),
            dispute,
        }) => {
            submit_to(
                service,
                asker,
                &view.spec,
                reference,
                dispute.as_ref(),
                &values,
                key,
            )
            .await
        }
        Ok(Opened { view: None, .. }) => match reference {
            Some(r) => act_direct(service, asker, verb, r, key).await,
            None => Reply::Refused(LOST_TRACK.into()),
        },
        Err(reply) => reply,
    }
}

/// What a form that no longer says which challenge it is about is answered with.
const LOST_TRACK: &str =
    "This form lost track of its challenge; close it and press the button again.";

/// An error about the whole form.
fn whole(text: String) -> FormErrors {
    FormErrors::from([(WHOLE_FORM.to_string(), text)])
}

/// Reads a filled-in form and records what it asks for; problems come back on the form.
async fn submit_to(
    service: &Service,
    asker: Asker<'_>,
    spec: &FormSpec,
    reference: Option<&Reference>,
    dispute: Option<&Dispute>,
    values: &Values,
    key: Option<String>,
) -> Reply {
    let again = |errors: FormErrors| {
        Reply::Form(Box::new(FormView {
            spec: spec.clone(),
            values: values.clone(),
            errors,
        }))
    };
    let submitted = {
        let dir = service.directory();
        let ctx = match form_context(service, asker, dispute, &dir) {
            Ok(ctx) => ctx,
            Err(why) => return again(whole(why)),
        };
        match forms::parse(spec, values, &ctx) {
            Ok(s) => s,
            Err(errors) => return again(errors),
        }
    };
    let result = match (submitted, reference) {
        (Submitted::Raise(details), _) => {
            service
                .raise(&asker.person.id, details, asker.receipt_to(), key.clone())
                .await
        }
        (Submitted::Act(command), Some(r)) => {
            service
                .act(
                    &asker.person.id,
                    r,
                    &command,
                    asker.receipt_to(),
                    key.clone(),
                )
                .await
        }
        (Submitted::Act(_), None) => {
            return again(whole(LOST_TRACK.into()));
        }
    };
    match result {
        Ok(outcome) => Reply::Recorded(Box::new(outcome)),
        Err(ServiceError::Duplicate) => {
            Reply::AlreadyRecorded(already(service, reference, key.as_deref()).await)
        }
        Err(ServiceError::Refused(r @ Refusal::AlreadyDone { .. })) => {
            repeat(service, &r, reference, key.as_deref()).await
        }
        Err(ServiceError::Refused(r)) => again(FormErrors::from([(
            spec.field_for(r.field()),
            sentence(&r.to_string()),
        )])),
        Err(e) => again(whole(sentence(&answers::user_text(&e)))),
    }
}

/// Records a verb that needs no form (acknowledge, confirm).
async fn act_direct(
    service: &Service,
    asker: Asker<'_>,
    verb: Verb,
    reference: &Reference,
    key: Option<String>,
) -> Reply {
    let command = match verb {
        Verb::Acknowledge => crate::escalation::Command::Acknowledge,
        Verb::ConfirmResolution => crate::escalation::Command::ConfirmResolution,
        other => {
            return Reply::Refused(format!(
                "{} needs a form; press its button or type {}.",
                grammar::button_label(other),
                grammar::usage(other, asker.command_word)
            ));
        }
    };
    match service
        .act(
            &asker.person.id,
            reference,
            &command,
            asker.receipt_to(),
            key.clone(),
        )
        .await
    {
        Ok(outcome) => Reply::Recorded(Box::new(outcome)),
        Err(ServiceError::Duplicate) => Reply::AlreadyRecorded(Some(reference.clone())),
        Err(ServiceError::Refused(r @ Refusal::AlreadyDone { .. })) => {
            repeat(service, &r, Some(reference), key.as_deref()).await
        }
        Err(e) => Reply::Refused(sentence(&answers::user_text(&e))),
    }
}

/// A second press of the same button: a retry of the very request (its key is on record) is
/// answered as already recorded; a new press is told, in the core's words, that it is done.
async fn repeat(
    service: &Service,
    refusal: &Refusal,
    reference: Option<&Reference>,
    key: Option<&str>,
) -> Reply {
    if let Some(key) = key
        && let Ok(Some(_)) = service.seen(key).await
    {
        return Reply::AlreadyRecorded(reference.cloned());
    }
    Reply::Say(sentence(&refusal.to_string()))
}

/// The challenge a duplicate request was about: the one named, or the one its key raised.
async fn already(
    service: &Service,
    reference: Option<&Reference>,
    key: Option<&str>,
) -> Option<Reference> {
    if let Some(r) = reference {
        return Some(r.clone());
    }
    let key = key?;
    service
        .seen(key)
        .await
        .ok()
        .flatten()
        .and_then(|r| Reference::parse(&r).ok())
}

/// What a person is told once something is recorded, where the platform shows it as the
/// request's own answer: the same receipt that is otherwise posted to them.
pub fn receipt(service: &Service, outcome: &Outcome) -> Message {
    let d = &outcome.dispute;
    let dir = service.directory();
    match service.scene(&d.policy, &dir) {
        Ok(scene) => compose::receipt(&scene, d, &outcome.events),
        Err(_) => compose::plain("", &format!("Recorded on {}.", outcome.reference)),
    }
}
