//! The rules: what a command does to a dispute under its board's policy, or why it is refused.

use super::offers::{duties, duty_key, step_time};
use super::people::{
    Side, base_rung, board_people, board_people_for, can_act, holds_stage, owners_for, side_of,
    top_rung,
};
use super::{
    Answers, Command, Concerns, DeterminedAction, Dispute, Event, EventBody, RaiseDetails, Refusal,
    Status, StepDue,
};
use crate::calendar::{Calendar, format_uk_short};
use crate::directory::{AgencyId, BOARD_KIND, Directory, PersonId};
use crate::policy::{
    Anchor, BoardRole, ExclusionRule, Limit, Notice, NoticeTarget, NoticeWhen, Policy, Stage,
    StepBy, Timescale, describe_limit,
};
use crate::privacy;
use chrono::{DateTime, Utc};

/// What a decision may consult: the policy, the calendar, the directory, and the time now.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub calendar: &'a Calendar,
    pub directory: &'a Directory,
    pub now: DateTime<Utc>,
}

/// Decides a command and stamps the resulting events with the time and the actor.
pub fn handle(
    dispute: &Dispute,
    actor: &PersonId,
    command: &Command,
    ctx: &Context<'_>,
) -> Result<Vec<Event>, Refusal> {
    let bodies = decide(dispute, actor, command, ctx)?;
    Ok(bodies
        .into_iter()
        .map(|body| Event {
            at: ctx.now,
            actor: Some(actor.clone()),
            directory: None,
            body,
        })
        .collect())
}

/// The events a command causes, or why it is refused. Pure: no I/O, no clock.
pub fn decide(
    dispute: &Dispute,
    actor: &PersonId,
    command: &Command,
    ctx: &Context<'_>,
) -> Result<Vec<EventBody>, Refusal> {
    let person = ctx
        .directory
        .person(actor)
        .ok_or_else(|| Refusal::UnknownPerson {
            name: actor.0.clone(),
        })?;
    if let Command::Raise { reference, details } = command {
        if dispute.status != Status::NotRaised {
            return Err(Refusal::AlreadyRaised);
        }
        return raise(reference, details, person, ctx);
    }
    let reference = dispute
        .reference
        .as_ref()
        .map(ToString::to_string)
        .ok_or(Refusal::NotRaised)?;
    if !can_act(ctx.policy, ctx.directory, dispute, actor) {
        return Err(Refusal::NotPermitted { reference });
    }
    if let Command::ReferLearning { text } = command {
        let text = screened(ctx, "learning", text, true)?;
        return Ok(vec![EventBody::LearningReferred { text }]);
    }
    // A determination closes the dispute: the parties may add their view as a note, but it is
    // not a proposal anyone confirms or rejects.
    if let (Status::Resolved, Some(det)) = (dispute.status, &dispute.determination) {
        let action = match command {
            Command::AddNote { text, how, held_at } => {
                return Ok(vec![EventBody::NoteAdded {
                    text: screened(ctx, "note", text, true)?,
                    how: *how,
                    held_at: *held_at,
                }]);
            }
            Command::RejectResolution { .. } => Some("reject"),
            Command::ConfirmResolution => Some("confirm"),
            Command::ProposeResolution { .. } => Some("answer with another proposal"),
            _ => None,
        };
        if let Some(action) = action {
            return Err(Refusal::Determined {
                reference,
                body: det.body.clone(),
                action: action.to_string(),
            });
        }
    }
    if let (Command::ConfirmResolution, Status::Resolved, Some(by)) =
        (command, dispute.status, &dispute.resolved_by)
        && by == actor
    {
        return Err(Refusal::AlreadyDone {
            what: format!(
                "you confirmed the resolution of {reference}{}",
                dispute
                    .closed_at
                    .map(|at| format!(" on {}", format_uk_short(at)))
                    .unwrap_or_default()
            ),
        });
    }
    if dispute.status != Status::Open {
        let status = match dispute.status {
            Status::Resolved => "resolved",
            Status::Withdrawn => "withdrawn",
            _ => "not open",
        };
        return Err(Refusal::Closed {
            reference,
            status: status.to_string(),
        });
    }
    let d = Decider {
        dispute,
        actor,
        ctx,
        reference,
    };
    d.holder_check(command)?;
    match command {
        Command::Raise { .. } | Command::ReferLearning { .. } => Err(Refusal::AlreadyRaised),
        Command::AddNote { text, how, held_at } => Ok(vec![EventBody::NoteAdded {
            text: screened(ctx, "note", text, true)?,
            how: *how,
            held_at: *held_at,
        }]),
        Command::Escalate {
            reason,
            delay_reason,
            notices,
        } => {
            // A proposal waiting for the other side is answered first: confirmed, or rejected
            // and then escalated.
            if let Some(p) = &dispute.proposal {
                return Err(Refusal::ProposalPending { by: d.name(&p.by) });
            }
            d.escalate(reason, delay_reason.as_deref(), notices)
        }
        Command::RecordDetermination {
            members,
            met_at,
            outcome,
            actions,
        } => d.determine(members, *met_at, outcome, actions),
        Command::Acknowledge => d.acknowledge(),
        Command::ProposeResolution {
            rationale,
            outcome,
            outstanding,
            delay_reason,
        } => {
            if let Some(p) = &dispute.proposal {
                return Err(Refusal::ProposalPending { by: d.name(&p.by) });
            }
            let mut events = d.delay_check(delay_reason.as_deref())?;
            events.push(EventBody::ResolutionProposed {
                rationale: screened(ctx, "rationale", rationale, true)?,
                outcome: screened(ctx, "outcome", outcome, true)?,
                outstanding: screened(ctx, "outstanding", outstanding, true)?,
            });
            Ok(events)
        }
        Command::ConfirmResolution => {
            let p = d.other_sides_proposal("confirm")?;
            Ok(vec![EventBody::ResolutionConfirmed {
                rationale: p.rationale.clone(),
                outcome: p.outcome.clone(),
                outstanding: p.outstanding.clone(),
            }])
        }
        Command::RejectResolution { reason } => {
            d.other_sides_proposal("reject")?;
            Ok(vec![EventBody::ResolutionRejected {
                reason: screened(ctx, "reason", reason, true)?,
            }])
        }
        Command::RecordDelayReason { reason } => {
            if !super::lateness(ctx.policy, dispute, ctx.now).any() {
                return Err(Refusal::NotLate {
                    reference: d.reference,
                });
            }
            Ok(vec![EventBody::DelayReasonRecorded {
                stage: dispute.stage,
                reason: screened(ctx, "delay_reason", reason, true)?,
            }])
        }
        Command::CompleteStep { step, at, note } => d.complete_step(step, *at, note),
        Command::BringDeadlineForward { due, reason } => d.bring_forward(*due, reason),
        Command::Withdraw { reason } => {
            let board = board_people(ctx.policy, ctx.directory, BoardRole::BusinessUnit);
            if side_of(dispute, ctx.directory, actor) != Some(Side::Raising)
                && !board.contains(actor)
            {
                return Err(Refusal::Invalid {
                    field: "withdraw".into(),
                    message: "only the raising agency (or the board business unit) can withdraw a challenge; propose a resolution instead".into(),
                });
            }
            Ok(vec![EventBody::Withdrawn {
                reason: screened(ctx, "reason", reason, true)?,
            }])
        }
    }
}

/// Screens free text for client-identifiable detail, letting the directory's professionals
/// and agencies pass; `required` refuses empty text. Positions in the refusal count from the
/// start of the text as typed, as `escalation-bot screen` prints them.
fn screened(ctx: &Context<'_>, field: &str, text: &str, required: bool) -> Result<String, Refusal> {
    let trimmed = text.trim();
    if required && trimmed.is_empty() {
        return Err(Refusal::Invalid {
            field: field.to_string(),
            message: "this cannot be empty".into(),
        });
    }
    let findings = privacy::screen_with(text, &privacy::Allow::for_directory(ctx.directory));
    if findings.is_empty() {
        return Ok(trimmed.to_string());
    }
    let mut kinds: Vec<_> = findings.iter().map(|f| f.kind).collect();
    kinds.sort();
    kinds.dedup();
    Err(Refusal::Identifiable {
        field: field.to_string(),
        kinds,
        message: privacy::refusal_message(&findings),
    })
}

fn screened_opt(
    ctx: &Context<'_>,
    field: &str,
    text: &Option<String>,
) -> Result<Option<String>, Refusal> {
    match text.as_deref() {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => screened(ctx, field, t, false).map(Some),
    }
}

fn raise(
    reference: &super::Reference,
    details: &RaiseDetails,
    person: &crate::directory::Person,
    ctx: &Context<'_>,
) -> Result<Vec<EventBody>, Refusal> {
    let dir = ctx.directory;
    let policy = ctx.policy;
    let invalid = |field: &str, message: String| Refusal::Invalid {
        field: field.to_string(),
        message,
    };
    let raising = dir.agency(&person.agency).ok_or_else(|| {
        invalid(
            "agency",
            format!(
                "your agency {} is not in the directory; ask your agency administrator",
                person.agency
            ),
        )
    })?;
    if raising.kind == BOARD_KIND {
        return Err(invalid("agency", "the board business unit does not raise challenges itself; a practitioner of an agency raises them".into()));
    }
    if raising.board != policy.id {
        return Err(invalid(
            "agency",
            format!(
                "{} works under the {} procedure, not {}",
                raising.name, raising.board, policy.id
            ),
        ));
    }
    let receiving = dir.agency(&details.receiving_agency).ok_or_else(|| {
        invalid(
            "receiving_agency",
            "the agency chosen is not in the directory; pick the other agency from the list"
                .to_string(),
        )
    })?;
    if receiving.id == raising.id {
        return Err(invalid("receiving_agency", "a challenge is between two agencies; for a disagreement inside your own agency, use its own procedures".into()));
    }
    if receiving.kind == BOARD_KIND {
        return Err(invalid(
            "receiving_agency",
            "a challenge is raised with another agency, not with the board".into(),
        ));
    }
    if receiving.board != raising.board {
        return Err(invalid(
            "receiving_agency",
            format!(
                "{} works under the {} procedure; a challenge between boards is raised through the board business units",
                receiving.name, receiving.board
            ),
        ));
    }
    if let Some(other) = &details.other_professional {
        match dir.person(other) {
            Some(p) if p.agency == receiving.id => {}
            Some(p) => {
                return Err(invalid(
                    "other_professional",
                    format!(
                        "{} works for another agency, not {}",
                        p.name, receiving.name
                    ),
                ));
            }
            None => {
                return Err(invalid(
                    "other_professional",
                    "the professional chosen is not in the directory; leave it empty if they are not listed"
                        .to_string(),
                ));
            }
        }
    }
    if policy.category(&details.category).is_none() {
        let names: Vec<&str> = policy.categories.iter().map(|c| c.id.as_str()).collect();
        return Err(invalid(
            "category",
            format!(
                "that is not one of the {} procedure's categories: {}",
                policy.id,
                names.join(", ")
            ),
        ));
    }
    if reference.prefix() != policy.reference_prefix {
        return Err(invalid(
            "reference",
            format!(
                "{reference} does not belong to the {} procedure ({})",
                policy.id, policy.reference_prefix
            ),
        ));
    }
    let summary = screened(ctx, "summary", &details.summary, true)?;
    let desired_outcome = screened(ctx, "desired_outcome", &details.desired_outcome, true)?;
    let possible_cause = screened_opt(ctx, "possible_cause", &details.possible_cause)?;
    let adults_views = screened_opt(ctx, "adults_views", &details.adults_views)?;
    let case_reference = screened(ctx, "case_reference", &details.case_reference, true)?;
    if case_reference.chars().count() > 40 {
        return Err(invalid(
            "case_reference",
            "a case reference is your agency's short record number, like ASC-4471".into(),
        ));
    }
    let concerns = match &details.concerns {
        Concerns::Organisation { name } => Concerns::Organisation {
            name: screened(ctx, "concerns", name, true)?,
        },
        Concerns::Child if !policy.covers.children => {
            return Err(invalid(
                "concerns",
                format!(
                    "the {} procedure covers adults, not children: raise a disagreement about a child under the local children's safeguarding partnership's procedure",
                    policy.name
                ),
            ));
        }
        Concerns::Adult if !policy.covers.adults => {
            return Err(invalid(
                "concerns",
                format!(
                    "the {} procedure covers children, not adults ({})",
                    policy.name, policy.covers.source
                ),
            ));
        }
        other => other.clone(),
    };
    let arose_at = match details.arose_at {
        Some(t) if t > ctx.now => {
            return Err(invalid(
                "arose_at",
                "when the disagreement arose cannot be in the future: give when it arose, or leave it empty for now".into(),
            ));
        }
        Some(t) if t < ctx.now => Some(t),
        _ => None,
    };

    let mut events = Vec::new();
    if details.immediate_risk {
        events.push(EventBody::UrgentRoutePrompted {
            prompt: policy.urgent.prompt.clone(),
            source: policy.urgent.source.clone(),
        });
    }
    events.push(EventBody::Raised {
        reference: reference.clone(),
        policy: policy.id.clone(),
        raised_by: person.id.clone(),
        raising_agency: raising.id.clone(),
        receiving_agency: receiving.id.clone(),
        other_professional: details.other_professional.clone(),
        concerns,
        category: details.category.clone(),
        summary,
        possible_cause,
        desired_outcome,
        adults_views,
        case_reference,
        immediate_risk: details.immediate_risk,
        arose_at,
    });
    // Fold what we have so far so the stage start sees the parties.
    let mut draft = Dispute::default();
    for body in &events {
        draft.apply(&Event {
            at: ctx.now,
            actor: Some(person.id.clone()),
            directory: None,
            body: body.clone(),
        });
    }
    if details.immediate_risk {
        let urgent = policy
            .urgent
            .notify
            .iter()
            .filter(|n| n.when == NoticeWhen::OnUrgent);
        events.extend(notices(
            urgent,
            &details.notices,
            &draft,
            draft.receiving_agency.as_ref(),
            ctx,
        )?);
    }
    let stage = policy
        .stage(1)
        .ok_or_else(|| Refusal::Calendar(format!("the {} policy has no stage 1", policy.id)))?;
    let entered = enter_stage(&draft, stage, 0, &person.id, &details.notices, ctx)?;
    // Raised after the first limit ran out (measured from when it arose): the procedure may ask
    // for the reason for the delay in raising it (Durham 7, Step 1).
    let late = entered.iter().find_map(|e| match e {
        EventBody::StageStarted { due: Some(due), .. } if *due < ctx.now => Some(*due),
        _ => None,
    });
    events.extend(entered);
    let given = details
        .delay_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match (late, given) {
        (Some(_), Some(reason)) => events.push(EventBody::DelayReasonRecorded {
            stage: 1,
            reason: screened(ctx, "delay_reason", reason, true)?,
        }),
        (Some(due), None) if policy.delay_reason.required => {
            return Err(Refusal::DelayReasonRequired {
                due: format_uk_short(due),
            });
        }
        _ => {}
    }
    Ok(events)
}

/// The events of a stage's or route's notices: automatic ones are sent; an offered one is sent
/// only when its question was answered yes, and the answer is recorded either way. An offered
/// notice nobody answered is refused, so nothing the procedure makes conditional is guessed.
fn notices<'n>(
    list: impl Iterator<Item = &'n Notice>,
    answers: &Answers,
    dispute: &Dispute,
    other_agency: Option<&AgencyId>,
    ctx: &Context<'_>,
) -> Result<Vec<EventBody>, Refusal> {
    let mut events = Vec::new();
    for n in list {
        if let Some(offer) = &n.offered {
            let Some(answer) = answers.get(&offer.id).copied() else {
                return Err(Refusal::Invalid {
                    field: format!("notice_{}", offer.id),
                    message: format!("answer yes or no: {}", offer.question),
                });
            };
            events.push(EventBody::NoticeAnswered {
                id: offer.id.clone(),
                who: n.who,
                question: offer.question.clone(),
                answer,
                source: n.source.clone(),
            });
            if !answer {
                continue;
            }
        }
        events.extend(notice_event(
            ctx.policy,
            ctx.directory,
            dispute,
            other_agency,
            n.who,
            &n.message,
            &n.source,
        ));
    }
    Ok(events)
}

/// A notice event; `other_agency` is the agency opposite whoever is acting.
fn notice_event(
    policy: &Policy,
    dir: &Directory,
    dispute: &Dispute,
    other_agency: Option<&AgencyId>,
    who: NoticeTarget,
    message: &str,
    source: &str,
) -> Option<EventBody> {
    match who {
        NoticeTarget::BoardBusinessUnit | NoticeTarget::BoardChair => {
            let role = if who == NoticeTarget::BoardChair {
                BoardRole::Chair
            } else {
                BoardRole::BusinessUnit
            };
            Some(EventBody::BoardNotified {
                who,
                recipients: board_people_for(policy, dir, role, dispute),
                message: message.to_string(),
                source: source.to_string(),
            })
        }
        NoticeTarget::OtherAgency => other_agency.map(|agency| EventBody::OtherAgencyNotified {
            agency: agency.clone(),
            message: message.to_string(),
            source: source.to_string(),
        }),
    }
}

/// The clocks of the stage a limit belongs to: when it (or its tier) started, and when the
/// dispute entered it (the end of the previous stage).
#[derive(Debug, Clone, Copy)]
struct Clocks {
    stage_start: DateTime<Utc>,
    entered: DateTime<Utc>,
}

/// The deadline of a limit given the dispute's clocks, or None while its anchor step is pending.
fn due_of(
    limit: &Limit,
    dispute: &Dispute,
    clocks: Clocks,
    policy: &Policy,
    cal: &Calendar,
) -> Result<Option<DateTime<Utc>>, Refusal> {
    let raised = dispute.first_raised_at.unwrap_or(clocks.stage_start);
    let from = match &limit.from {
        Anchor::StageStart => Some(clocks.stage_start),
        Anchor::FirstRaised => Some(raised),
        Anchor::Arose => Some(dispute.arose_at.unwrap_or(raised)),
        Anchor::PreviousStageEnd => Some(clocks.entered),
        Anchor::Step(step) => step_time(dispute, policy, step),
    };
    from.map(|f| limit.due(f, cal, &policy.calendar_days))
        .transpose()
        .map_err(|e| Refusal::Calendar(e.to_string()))
}

/// The agency whose people take a stage for `agency`: an agency of another kind where the stage
/// says this kind goes through it (a GP practice through its ICB), else the agency itself.
fn taken_through<'a>(stage: &Stage, dir: &'a Directory, agency: &'a AgencyId) -> &'a AgencyId {
    let Some(a) = dir.agency(agency) else {
        return agency;
    };
    let Some(rule) = stage.through.iter().find(|t| t.kind == a.kind) else {
        return agency;
    };
    dir.agencies()
        .find(|v| v.kind == rule.via_kind && v.board == a.board)
        .map_or(agency, |v| &v.id)
}

/// The events of reaching a stage (or a higher tier of a repeating stage) now.
/// `actor` is whoever moved the dispute here: they are not asked to acknowledge their own move.
fn enter_stage(
    dispute: &Dispute,
    stage: &Stage,
    tier: u32,
    actor: &PersonId,
    answers: &Answers,
    ctx: &Context<'_>,
) -> Result<Vec<EventBody>, Refusal> {
    let (policy, dir, now) = (ctx.policy, ctx.directory, ctx.now);
    let (Some(raising), Some(receiving)) = (&dispute.raising_agency, &dispute.receiving_agency)
    else {
        return Err(Refusal::NotRaised);
    };
    // An agency kind that takes this stage through another agency has its people found there,
    // from the top of that agency's ladder rung the stage asks for (no anchor in that agency).
    let side_owners = |agency: &AgencyId, anchor: Option<&PersonId>, level: usize| {
        let via = taken_through(stage, dir, agency);
        let anchor = if via == agency { anchor } else { None };
        owners_for(policy, dir, via, anchor, level, tier)
    };
    let owners_raising = side_owners(raising, dispute.raised_by.as_ref(), stage.raising_level);
    let owners_receiving = side_owners(
        receiving,
        dispute.other_professional.as_ref(),
        stage.receiving_level,
    );
    let clocks = Clocks {
        stage_start: now,
        entered: if dispute.stage == stage.number && tier > 0 {
            dispute.entered_stage_at.unwrap_or(now)
        } else {
            now
        },
    };
    let awaiting_ack = if stage.acknowledge {
        owners_raising
            .iter()
            .chain(&owners_receiving)
            .filter(|p| *p != actor)
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let (due, timescale) = match &stage.timescale {
        Timescale::Limit(l) => (
            due_of(l, dispute, clocks, policy, ctx.calendar)?,
            describe_limit(l),
        ),
        Timescale::NoLimit { words, .. } => (None, format!("no fixed limit: \"{words}\"")),
        Timescale::NotStated { .. } => (None, crate::policy::NOT_STATED.to_string()),
        Timescale::OnSteps => (
            None,
            format!(
                "limits on its steps: {}",
                stage
                    .steps
                    .iter()
                    .filter_map(|st| st.limit.as_ref().map(|l| format!(
                        "{} within {}",
                        st.name,
                        describe_limit(l)
                    )))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
    };
    let mut steps_due = Vec::new();
    for st in &stage.steps {
        if let Some(l) = &st.limit
            && let Some(due) = due_of(l, dispute, clocks, policy, ctx.calendar)?
        {
            for side in duties(st) {
                steps_due.push(StepDue {
                    step: duty_key(&st.id, side),
                    due,
                });
            }
        }
    }
    let excluded = if stage
        .exclude
        .iter()
        .any(|e| e.who == ExclusionRule::InvolvedInCase)
    {
        involved_in_case(dispute, dir)
    } else {
        Vec::new()
    };
    let deciders = stage
        .decision
        .as_ref()
        .map(|dec| board_people_for(policy, dir, dec.owner, dispute))
        .unwrap_or_default();
    let mut events = vec![EventBody::StageStarted {
        stage: stage.number,
        tier,
        name: stage.name.clone(),
        due,
        timescale,
        owners_raising,
        owners_receiving,
        awaiting_ack,
        formal_challenge: stage.formal_challenge,
        form: stage.form.as_ref().map(|f| f.name.clone()),
        excluded,
        steps_due,
        prompt: match (&stage.repeats, tier) {
            (Some(repeat), t) if t > 0 => repeat.prompt.clone(),
            _ => stage.prompt.clone(),
        },
        decided_by: stage.decision.as_ref().map(|dec| dec.name.clone()),
        deciders,
    }];
    if tier == 0 {
        let on_entry = stage
            .notify
            .iter()
            .filter(|n| n.when == NoticeWhen::OnEntry);
        events.extend(notices(
            on_entry,
            answers,
            dispute,
            dispute.receiving_agency.as_ref(),
            ctx,
        )?);
    }
    Ok(events)
}

/// The people who have been involved in the case: everyone who raised it, was named in it, held
/// a stage (for either agency, or for one through another agency) or acted on it. The board's own
/// people are never among them.
fn involved_in_case(dispute: &Dispute, dir: &Directory) -> Vec<PersonId> {
    let board = |p: &PersonId| {
        dir.person(p)
            .and_then(|p| dir.agency(&p.agency))
            .is_none_or(|a| a.kind == BOARD_KIND)
    };
    let mut all: Vec<PersonId> = dispute
        .involved
        .iter()
        .chain(&dispute.excluded)
        .filter(|p| !board(p))
        .cloned()
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Where an escalation of `d` goes: the next management tier of a repeating stage while either
/// side has a higher rung, else the next stage; `None` at the final stage.
pub fn escalation_target<'p>(
    policy: &'p Policy,
    dir: &Directory,
    d: &Dispute,
) -> Option<(&'p Stage, u32)> {
    let stage = policy.stage(d.stage)?;
    let (raising, receiving) = (d.raising_agency.as_ref()?, d.receiving_agency.as_ref()?);
    let next = d.tier as usize + 1;
    let climbs = stage.repeats.is_some()
        && (base_rung(policy, dir, raising, stage.raising_level) + next
            <= top_rung(policy, dir, raising)
            || base_rung(policy, dir, receiving, stage.receiving_level) + next
                <= top_rung(policy, dir, receiving));
    if climbs {
        Some((stage, d.tier + 1))
    } else {
        policy.stage(stage.number + 1).map(|next| (next, 0))
    }
}

struct Decider<'a> {
    dispute: &'a Dispute,
    actor: &'a PersonId,
    ctx: &'a Context<'a>,
    reference: String,
}

impl Decider<'_> {
    fn name(&self, id: &PersonId) -> String {
        self.ctx.directory.name_of(id)
    }

    /// The agency opposite the actor (the receiving agency when the actor is not on a side).
    fn other_agency(&self) -> Option<&AgencyId> {
        let d = self.dispute;
        match side_of(d, self.ctx.directory, self.actor) {
            Some(Side::Receiving) => d.raising_agency.as_ref(),
            _ => d.receiving_agency.as_ref(),
        }
    }

    /// From a stage where the procedure puts moving it in the owners' hands, only they (and
    /// those above them, and the board) escalate, propose, and confirm or reject a proposal;
    /// a proposal is answered by the other side's holders.
    fn holder_check(&self, command: &Command) -> Result<(), Refusal> {
        let (policy, dir) = (self.ctx.policy, self.ctx.directory);
        let Some(stage) = policy.stage(self.dispute.stage) else {
            return Ok(());
        };
        let Some(source) = &stage.owners_move_source else {
            return Ok(());
        };
        let (action, side) = match command {
            Command::Escalate { .. } => ("escalate it", None),
            Command::ProposeResolution { .. } => ("propose a resolution", None),
            Command::ConfirmResolution | Command::RejectResolution { .. } => {
                // The proposal is answered by the holders of the side that did not make it.
                let theirs = self
                    .dispute
                    .proposal
                    .as_ref()
                    .and_then(|p| side_of(self.dispute, dir, &p.by));
                let answering = match theirs {
                    Some(Side::Raising) => Some(Side::Receiving),
                    Some(Side::Receiving) => Some(Side::Raising),
                    None => None,
                };
                ("confirm or reject the proposed resolution", answering)
            }
            _ => return Ok(()),
        };
        if holds_stage(policy, dir, self.dispute, self.actor, side) {
            return Ok(());
        }
        let owners: Vec<&PersonId> = match side {
            Some(Side::Raising) => self.dispute.owners_raising.iter().collect(),
            Some(Side::Receiving) => self.dispute.owners_receiving.iter().collect(),
            None => self.dispute.owners().collect(),
        };
        let names: Vec<String> = owners.iter().map(|p| self.name(p)).collect();
        Err(Refusal::NotStageHolder {
            stage: format!("{} {}", policy.stage_word.to_lowercase(), stage.number),
            holders: if names.is_empty() {
                "the stage's owners".into()
            } else {
                names.join(" and ")
            },
            action: action.to_string(),
            section: source.clone(),
        })
    }

    fn current_stage(&self) -> Result<&Stage, Refusal> {
        self.ctx.policy.stage(self.dispute.stage).ok_or_else(|| {
            Refusal::Calendar(format!(
                "the {} policy has no stage {}",
                self.ctx.policy.id, self.dispute.stage
            ))
        })
    }

    /// A late action under a policy that requires it must carry (or follow) a reason for delay.
    fn delay_check(&self, delay_reason: Option<&str>) -> Result<Vec<EventBody>, Refusal> {
        let late = super::lateness(self.ctx.policy, self.dispute, self.ctx.now).any();
        let given = delay_reason.map(str::trim).filter(|r| !r.is_empty());
        match (late, given) {
            (true, Some(reason)) => Ok(vec![EventBody::DelayReasonRecorded {
                stage: self.dispute.stage,
                reason: screened(self.ctx, "delay_reason", reason, true)?,
            }]),
            (true, None)
                if self.ctx.policy.delay_reason.required && !self.dispute.delay_reason_recorded =>
            {
                Err(Refusal::DelayReasonRequired {
                    due: self.dispute.due.map(format_uk_short).unwrap_or_default(),
                })
            }
            _ => Ok(Vec::new()),
        }
    }

    fn escalate(
        &self,
        reason: &str,
        delay_reason: Option<&str>,
        answers: &Answers,
    ) -> Result<Vec<EventBody>, Refusal> {
        let (policy, dir) = (self.ctx.policy, self.ctx.directory);
        let reason = screened(self.ctx, "reason", reason, true)?;
        let stage = self.current_stage()?;
        if self.dispute.raising_agency.is_none() || self.dispute.receiving_agency.is_none() {
            return Err(Refusal::NotRaised);
        }
        let Some((to_stage, to_tier)) = escalation_target(policy, dir, self.dispute) else {
            return Err(Refusal::FinalStage {
                reference: self.reference.clone(),
                name: stage.name.clone(),
            });
        };
        let mut events = self.delay_check(delay_reason)?;
        if to_tier == 0 {
            let before = to_stage
                .notify
                .iter()
                .filter(|n| n.when == NoticeWhen::BeforeEscalating);
            events.extend(notices(
                before,
                answers,
                self.dispute,
                self.other_agency(),
                self.ctx,
            )?);
        }
        events.push(EventBody::Escalated {
            from_stage: stage.number,
            from_tier: self.dispute.tier,
            to_stage: to_stage.number,
            to_tier,
            reason,
        });
        // Whoever escalates is involved in the case from now on, even if they never owned a
        // stage: a stage that excludes everyone involved (Sunderland stage 4) must list them too.
        let mut involved = self.dispute.clone();
        involved.involved.insert(self.actor.clone());
        events.extend(enter_stage(
            &involved, to_stage, to_tier, self.actor, answers, self.ctx,
        )?);
        Ok(events)
    }

    fn acknowledge(&self) -> Result<Vec<EventBody>, Refusal> {
        if let Some(done) = self
            .dispute
            .acknowledged
            .iter()
            .find(|a| &a.by == self.actor)
        {
            return Err(Refusal::AlreadyDone {
                what: format!(
                    "you acknowledged {} {} of {} on {}",
                    self.ctx.policy.stage_word.to_lowercase(),
                    self.dispute.stage,
                    self.reference,
                    format_uk_short(done.at)
                ),
            });
        }
        if !self.dispute.awaiting_ack.contains(self.actor) {
            let asked: Vec<String> = self
                .dispute
                .awaiting_ack
                .iter()
                .map(|p| self.name(p))
                .collect();
            let asked = if asked.is_empty() {
                "nobody (it has been acknowledged already, or the stage needs no acknowledgement)"
                    .to_string()
            } else {
                asked.join(" and ")
            };
            return Err(Refusal::NotAskedToAcknowledge {
                stage: self.dispute.stage,
                asked,
            });
        }
        Ok(vec![EventBody::Acknowledged {
            stage: self.dispute.stage,
        }])
    }

    fn other_sides_proposal(&self, action: &str) -> Result<&super::Proposal, Refusal> {
        let p = self
            .dispute
            .proposal
            .as_ref()
            .ok_or_else(|| Refusal::NoProposal {
                action: action.to_string(),
            })?;
        let dir = self.ctx.directory;
        let mine = side_of(self.dispute, dir, self.actor);
        let theirs = side_of(self.dispute, dir, &p.by);
        match mine {
            None => Err(Refusal::Invalid {
                field: "resolution".into(),
                message: format!(
                    "a resolution is confirmed or rejected by the other agency in the dispute; you cannot {action} it"
                ),
            }),
            Some(side) if Some(side) == theirs => Err(Refusal::SameSide {
                action: action.to_string(),
            }),
            Some(_) => Ok(p),
        }
    }

    fn complete_step(
        &self,
        step: &str,
        at: Option<DateTime<Utc>>,
        note: &Option<String>,
    ) -> Result<Vec<EventBody>, Refusal> {
        let stage = self.current_stage()?;
        let now = self.ctx.now;
        let happened = at.unwrap_or(now);
        if happened > now {
            return Err(Refusal::Invalid {
                field: "at".into(),
                message: "record a step once it has happened: the time given is in the future"
                    .into(),
            });
        }
        if let Some(started) = self.dispute.stage_started_at
            && happened < started
        {
            return Err(Refusal::Invalid {
                field: "at".into(),
                message: format!(
                    "this stage started on {}; a step of it cannot have happened before that",
                    format_uk_short(started)
                ),
            });
        }
        let note = screened_opt(self.ctx, "note", note)?;
        let Some(st) = stage.steps.iter().find(|s| s.id == step) else {
            let ids: Vec<&str> = stage.steps.iter().map(|s| s.id.as_str()).collect();
            return Err(Refusal::Invalid {
                field: "step".into(),
                message: if ids.is_empty() {
                    format!("stage {} has no named steps", stage.number)
                } else {
                    format!(
                        "stage {} has the steps {}; give one of them",
                        stage.number,
                        ids.join(", ")
                    )
                },
            });
        };
        if let Some(Limit {
            from: Anchor::Step(before),
            ..
        }) = &st.limit
            && step_time(self.dispute, self.ctx.policy, before).is_none()
        {
            let name = self
                .ctx
                .policy
                .step(before)
                .map_or(before.clone(), |(_, s)| s.name.clone());
            return Err(Refusal::Invalid {
                field: "step".into(),
                message: format!("{} comes after {name}: record that first", st.name),
            });
        }
        let side = self.duty_side(st)?;
        let key = duty_key(&st.id, side);
        if self.dispute.steps_done.contains_key(&key) {
            return Err(Refusal::Invalid {
                field: "step".into(),
                message: match side {
                    Some(_) => format!("{} has already been recorded for your side", st.name),
                    None => format!("{} has already been recorded", st.name),
                },
            });
        }
        let mut after = self.dispute.clone();
        after.steps_done.insert(key.clone(), happened);
        let clocks = Clocks {
            stage_start: self.dispute.stage_started_at.unwrap_or(now),
            entered: self.dispute.entered_stage_at.unwrap_or(now),
        };
        let mut then_due = Vec::new();
        for later in &stage.steps {
            if let Some(l) = &later.limit
                && l.from == Anchor::Step(st.id.clone())
                && let Some(due) = due_of(l, &after, clocks, self.ctx.policy, self.ctx.calendar)?
            {
                for later_side in duties(later) {
                    then_due.push(StepDue {
                        step: duty_key(&later.id, later_side),
                        due,
                    });
                }
            }
        }
        Ok(vec![EventBody::StepCompleted {
            step: key,
            stage: stage.number,
            then_due,
            happened_at: at.filter(|t| *t < now),
            note,
        }])
    }

    /// Whose duty a step is, checked against who records it: the side it is owed by for a duty
    /// of each side (or of one side), none for a step anyone may record.
    fn duty_side(&self, st: &crate::policy::Step) -> Result<Option<Side>, Refusal> {
        let dir = self.ctx.directory;
        let mine = side_of(self.dispute, dir, self.actor);
        let refuse = |whose: &str| Refusal::Invalid {
            field: "step".into(),
            message: format!("{} is {whose} to record, not yours", st.name),
        };
        match st.by {
            None => Ok(None),
            Some(StepBy::EachSide) => match mine {
                Some(side) => Ok(Some(side)),
                None => Err(refuse("each agency's own")),
            },
            Some(StepBy::Raising) if mine == Some(Side::Raising) => Ok(None),
            Some(StepBy::Raising) => Err(refuse("the raising agency's")),
            Some(StepBy::Receiving) if mine == Some(Side::Receiving) => Ok(None),
            Some(StepBy::Receiving) => Err(refuse("the other agency's")),
            Some(StepBy::Board) => {
                let p = self.ctx.policy;
                let board = board_people(p, dir, BoardRole::BusinessUnit)
                    .into_iter()
                    .chain(board_people(p, dir, BoardRole::Chair))
                    .any(|b| &b == self.actor);
                if board {
                    Ok(None)
                } else {
                    Err(refuse("the board's"))
                }
            }
        }
    }

    /// The board's determination at a stage it decides: members (none the procedure excludes),
    /// when it met, the outcome and the actions. It closes the dispute.
    fn determine(
        &self,
        members: &[String],
        met_at: DateTime<Utc>,
        outcome: &str,
        actions: &[DeterminedAction],
    ) -> Result<Vec<EventBody>, Refusal> {
        let (policy, dir) = (self.ctx.policy, self.ctx.directory);
        let stage = self.current_stage()?;
        let stage_words = format!("{} {}", policy.stage_word.to_lowercase(), stage.number);
        let Some(decision) = &stage.decision else {
            return Err(Refusal::NotDecidedByBoard { stage: stage_words });
        };
        let board: Vec<PersonId> = board_people(policy, dir, BoardRole::BusinessUnit)
            .into_iter()
            .chain(board_people(policy, dir, BoardRole::Chair))
            .collect();
        if !board.contains(self.actor) {
            let holders: Vec<String> = if self.dispute.deciders.is_empty() {
                board.iter().map(|p| self.name(p)).collect()
            } else {
                self.dispute.deciders.iter().map(|p| self.name(p)).collect()
            };
            return Err(Refusal::BoardRecords {
                body: decision.name.clone(),
                holders: if holders.is_empty() {
                    "the board business unit".into()
                } else {
                    holders.join(", ")
                },
            });
        }
        let invalid = |field: &str, message: String| Refusal::Invalid {
            field: field.to_string(),
            message,
        };
        let mut resolved: Vec<PersonId> = Vec::new();
        for typed in members.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
            let found = dir.person(&PersonId(typed.to_string())).or_else(|| {
                dir.people().find(|p| {
                    p.name.eq_ignore_ascii_case(typed) || p.id.0.eq_ignore_ascii_case(typed)
                })
            });
            let Some(person) = found else {
                return Err(invalid(
                    "members",
                    format!(
                        "{typed:?} is not in the directory: give each member's name or directory id, separated by commas"
                    ),
                ));
            };
            if !resolved.contains(&person.id) {
                resolved.push(person.id.clone());
            }
        }
        if resolved.is_empty() {
            return Err(invalid(
                "members",
                format!(
                    "name the members of the {} who took part, separated by commas",
                    decision.name
                ),
            ));
        }
        if let Some(rule) = stage
            .exclude
            .iter()
            .find(|e| e.who == ExclusionRule::InvolvedInCase)
        {
            let involved = involved_in_case(self.dispute, dir);
            if let Some(p) = resolved.iter().find(|p| involved.contains(p)) {
                return Err(Refusal::Excluded {
                    name: self.name(p),
                    body: decision.name.clone(),
                    reason: "they have been involved in the case".into(),
                    section: rule.source.clone(),
                });
            }
        }
        if met_at > self.ctx.now {
            return Err(invalid(
                "met_at",
                format!(
                    "that is in the future: record the determination once the {} has met",
                    decision.name
                ),
            ));
        }
        if let Some(started) = self.dispute.stage_started_at
            && self.ctx.calendar.local_date(met_at) < self.ctx.calendar.local_date(started)
        {
            return Err(invalid(
                "met_at",
                format!(
                    "the challenge reached the {} on {}; it cannot have met about it before then",
                    decision.name,
                    format_uk_short(started)
                ),
            ));
        }
        let outcome = screened(self.ctx, "outcome", outcome, true)?;
        let met_day = self.ctx.calendar.local_date(met_at);
        let mut checked = Vec::new();
        for a in actions {
            if a.by < met_day {
                return Err(invalid(
                    "actions",
                    format!(
                        "an action is due {} but the {} met on {}: give a date on or after the meeting",
                        a.by.format("%-d %B %Y"),
                        decision.name,
                        met_day.format("%-d %B %Y")
                    ),
                ));
            }
            checked.push(DeterminedAction {
                who: screened(self.ctx, "actions", &a.who, true)?,
                what: screened(self.ctx, "actions", &a.what, true)?,
                by: a.by,
            });
        }
        Ok(vec![EventBody::DeterminationRecorded {
            stage: stage.number,
            body: decision.name.clone(),
            members: resolved,
            met_at,
            outcome,
            actions: checked,
        }])
    }

    fn bring_forward(&self, due: DateTime<Utc>, reason: &str) -> Result<Vec<EventBody>, Refusal> {
        let stage = self.current_stage()?;
        let invalid = |message: String| Refusal::Invalid {
            field: "due".into(),
            message,
        };
        if stage.bring_forward_source.is_none() {
            return Err(invalid(format!(
                "the {} procedure does not provide for bringing this stage's deadline forward",
                self.ctx.policy.id
            )));
        }
        if due <= self.ctx.now {
            return Err(invalid("the new deadline must be in the future".into()));
        }
        if self.dispute.due.is_some_and(|current| due >= current) {
            return Err(invalid(
                "a deadline can only be brought forward, never extended".into(),
            ));
        }
        Ok(vec![EventBody::DeadlineBroughtForward {
            stage: stage.number,
            due,
            reason: screened(self.ctx, "reason", reason, true)?,
        }])
    }
}
