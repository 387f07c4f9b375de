//! The rules: what a command does to a dispute under its board's policy, or why it is refused.

use super::people::{
    Side, base_rung, board_people, can_act, holds_stage, owners_for, side_of, top_rung,
};
use super::{Command, Dispute, Event, EventBody, RaiseDetails, Refusal, Status, StepDue};
use crate::calendar::{Calendar, format_uk_short};
use crate::directory::{AgencyId, BOARD_KIND, Directory, PersonId};
use crate::policy::{
    Anchor, BoardRole, ExclusionRule, Limit, NoticeTarget, NoticeWhen, Policy, Stage, Timescale,
    describe_limit,
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
        } => {
            // A proposal waiting for the other side is answered first: confirmed, or rejected
            // and then escalated.
            if let Some(p) = &dispute.proposal {
                return Err(Refusal::ProposalPending { by: d.name(&p.by) });
            }
            d.escalate(reason, delay_reason.as_deref())
        }
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
        super::Concerns::Organisation { name } => super::Concerns::Organisation {
            name: screened(ctx, "concerns", name, true)?,
        },
        adult => adult.clone(),
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
    });
    // Fold what we have so far so the stage start sees the parties.
    let mut draft = Dispute::default();
    for body in &events {
        draft.apply(&Event {
            at: ctx.now,
            actor: Some(person.id.clone()),
            body: body.clone(),
        });
    }
    if details.immediate_risk {
        for n in policy
            .urgent
            .notify
            .iter()
            .filter(|n| n.when == NoticeWhen::OnUrgent)
        {
            events.extend(notice_event(
                policy,
                dir,
                draft.receiving_agency.as_ref(),
                n.who,
                &n.message,
                &n.source,
            ));
        }
    }
    let stage = policy
        .stage(1)
        .ok_or_else(|| Refusal::Calendar(format!("the {} policy has no stage 1", policy.id)))?;
    events.extend(enter_stage(&draft, stage, 0, &person.id, ctx)?);
    Ok(events)
}

/// A notice event; `other_agency` is the agency opposite whoever is acting.
fn notice_event(
    policy: &Policy,
    dir: &Directory,
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
                recipients: board_people(policy, dir, role),
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

/// The deadline of a limit given the dispute's clocks, or None while its anchor step is pending.
fn due_of(
    limit: &Limit,
    dispute: &Dispute,
    stage_start: DateTime<Utc>,
    cal: &Calendar,
) -> Result<Option<DateTime<Utc>>, Refusal> {
    let from = match &limit.from {
        Anchor::StageStart => Some(stage_start),
        Anchor::FirstRaised => Some(dispute.first_raised_at.unwrap_or(stage_start)),
        Anchor::Step(step) => dispute.steps_done.get(step).copied(),
    };
    from.map(|f| cal.due(f, limit.days, limit.unit))
        .transpose()
        .map_err(|e| Refusal::Calendar(e.to_string()))
}

/// The events of reaching a stage (or a higher tier of a repeating stage) now.
/// `actor` is whoever moved the dispute here: they are not asked to acknowledge their own move.
fn enter_stage(
    dispute: &Dispute,
    stage: &Stage,
    tier: u32,
    actor: &PersonId,
    ctx: &Context<'_>,
) -> Result<Vec<EventBody>, Refusal> {
    let (policy, dir, now) = (ctx.policy, ctx.directory, ctx.now);
    let (Some(raising), Some(receiving)) = (&dispute.raising_agency, &dispute.receiving_agency)
    else {
        return Err(Refusal::NotRaised);
    };
    let owners_raising = owners_for(
        policy,
        dir,
        raising,
        dispute.raised_by.as_ref(),
        stage.raising_level,
        tier,
    );
    let owners_receiving = owners_for(
        policy,
        dir,
        receiving,
        dispute.other_professional.as_ref(),
        stage.receiving_level,
        tier,
    );
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
        Timescale::Limit(l) => (due_of(l, dispute, now, ctx.calendar)?, describe_limit(l)),
        Timescale::NoLimit { words, .. } => (None, format!("no fixed limit: \"{words}\"")),
    };
    let mut steps_due = Vec::new();
    for st in &stage.steps {
        if let Some(l) = &st.limit
            && let Some(due) = due_of(l, dispute, now, ctx.calendar)?
        {
            steps_due.push(StepDue {
                step: st.id.clone(),
                due,
            });
        }
    }
    let excluded = if stage
        .exclude
        .iter()
        .any(|e| e.who == ExclusionRule::InvolvedInCase)
    {
        // The board's own people run the panel; only people of the two agencies are excluded.
        let mut all: Vec<PersonId> = dispute
            .involved
            .iter()
            .filter(|p| side_of(dispute, dir, p).is_some())
            .cloned()
            .collect();
        all.extend(owners_raising.iter().cloned());
        all.extend(owners_receiving.iter().cloned());
        all.sort();
        all.dedup();
        all
    } else {
        Vec::new()
    };
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
    }];
    if tier == 0 {
        for n in stage
            .notify
            .iter()
            .filter(|n| n.when == NoticeWhen::OnEntry)
        {
            events.extend(notice_event(
                policy,
                dir,
                dispute.receiving_agency.as_ref(),
                n.who,
                &n.message,
                &n.source,
            ));
        }
    }
    Ok(events)
}

/// Where an escalation of `d` goes: the next management tier of a repeating stage while either
/// side has a higher rung, else the next stage; `None` at the final stage.
pub(super) fn escalation_target<'p>(
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
        self.ctx
            .directory
            .person(id)
            .map_or_else(|| id.0.clone(), |p| p.name.clone())
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
            for n in to_stage
                .notify
                .iter()
                .filter(|n| n.when == NoticeWhen::BeforeEscalating)
            {
                events.extend(notice_event(
                    policy,
                    dir,
                    self.other_agency(),
                    n.who,
                    &n.message,
                    &n.source,
                ));
            }
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
            &involved, to_stage, to_tier, self.actor, self.ctx,
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
            && !self.dispute.steps_done.contains_key(before)
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
        if self.dispute.steps_done.contains_key(&st.id) {
            return Err(Refusal::Invalid {
                field: "step".into(),
                message: format!("{} has already been recorded", st.name),
            });
        }
        let mut after = self.dispute.clone();
        after.steps_done.insert(st.id.clone(), happened);
        let mut then_due = Vec::new();
        for later in &stage.steps {
            if let Some(l) = &later.limit
                && l.from == Anchor::Step(st.id.clone())
                && let Some(due) = due_of(
                    l,
                    &after,
                    self.dispute.stage_started_at.unwrap_or(now),
                    self.ctx.calendar,
                )?
            {
                then_due.push(StepDue {
                    step: later.id.clone(),
                    due,
                });
            }
        }
        Ok(vec![EventBody::StepCompleted {
            step: st.id.clone(),
            stage: stage.number,
            then_due,
            happened_at: at.filter(|t| *t < now),
            note,
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
