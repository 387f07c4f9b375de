//! The rules the escalation core enforces, each proved against the shipped policies and the demo
//! directory with the clock fixed.

use crate::helpers::{
    Case, SEED_POLICIES, at, cast, escalate, escalate_late, fixture, kinds, note, pid, pids,
    propose,
};
use escalation_bot::escalation::{Command, Dispute, Event, EventBody, Refusal, Status};
use escalation_bot::policy::NoticeTarget;
use escalation_bot::privacy::IdentifiableKind;

/// A Norfolk dispute: Sam Patel (adult social care) challenges Dr Okafor (Riverside GP),
/// raised Monday 1 June 2026; stage 1 is due Monday 8 June at 17:00.
fn norfolk() -> Case {
    Case::raise_cast("norfolk", "2026-06-01T09:30:00+01:00")
}

/// The Norfolk dispute at stage 2, where Jordan Reid and Dr Lindqvist are asked to acknowledge.
fn norfolk_at_stage_two() -> Case {
    let mut case = norfolk();
    case.act(
        &case.mover(),
        "2026-06-02T10:00:00+01:00",
        escalate("Discussed twice without agreement."),
    );
    assert_eq!(case.state.stage, 2);
    case
}

// ---- who may act -------------------------------------------------------------------------

#[test]
fn an_unrelated_person_from_a_third_agency_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "pc-evans",
        "2026-06-01T11:00:00+01:00",
        note("I would like to comment on this case."),
    );
    assert_eq!(
        refusal,
        Refusal::NotPermitted {
            reference: "NSAB-2026-0001".into()
        }
    );
}

#[test]
fn another_boards_business_unit_cannot_act_on_a_dispute() {
    let mut case = norfolk();
    let refusal = case.refused(
        "durham-unit",
        "2026-06-01T11:00:00+01:00",
        note("Checking in."),
    );
    assert!(
        matches!(refusal, Refusal::NotPermitted { .. }),
        "{refusal:?}"
    );
}

#[test]
fn a_person_not_in_the_directory_is_refused_by_name() {
    let mut case = norfolk();
    let refusal = case.refused("nobody-at-all", "2026-06-01T11:00:00+01:00", note("Hello."));
    assert_eq!(
        refusal,
        Refusal::UnknownPerson {
            name: "nobody-at-all".into()
        }
    );
}

#[test]
fn a_manager_up_the_reporting_line_of_a_party_may_add_a_note() {
    let mut case = norfolk();
    // Priya Shah manages Jordan Reid, who manages Sam Patel; Dr Bhatt is two rungs above Dr Okafor.
    for manager in ["priya-shah", "helen-ward", "dr-bhatt"] {
        let events = case.act(
            manager,
            "2026-06-01T12:00:00+01:00",
            note("Aware of the disagreement; supporting my team to resolve it."),
        );
        assert_eq!(kinds(&events), ["note_added"]);
        assert_eq!(events[0].actor, Some(pid(manager)));
    }
    assert_eq!(case.state.notes, 3);
}

#[test]
fn the_board_business_unit_may_add_a_note() {
    let mut case = norfolk();
    let events = case.act(
        "nsab-unit",
        "2026-06-01T12:00:00+01:00",
        note("Logged by the NSAB business unit."),
    );
    assert_eq!(kinds(&events), ["note_added"]);
}

#[test]
fn only_the_raising_side_or_the_board_may_withdraw() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-01T12:00:00+01:00",
        Command::Withdraw {
            reason: "We disagree with the challenge.".into(),
        },
    );
    assert!(
        matches!(&refusal, Refusal::Invalid { field, .. } if field == "withdraw"),
        "{refusal:?}"
    );
    case.act(
        "sam-patel",
        "2026-06-01T13:00:00+01:00",
        Command::Withdraw {
            reason: "Resolved informally by phone.".into(),
        },
    );
    assert_eq!(case.state.status, Status::Withdrawn);
}

// ---- acknowledgement -----------------------------------------------------------------------

#[test]
fn stage_two_asks_each_sides_first_line_manager_to_acknowledge() {
    let case = norfolk_at_stage_two();
    assert_eq!(
        case.state.awaiting_ack,
        pids(&["jordan-reid", "dr-lindqvist"])
    );
}

#[test]
fn a_manager_not_asked_cannot_acknowledge() {
    let mut case = norfolk_at_stage_two();
    let refusal = case.refused(
        "priya-shah",
        "2026-06-02T11:00:00+01:00",
        Command::Acknowledge,
    );
    assert_eq!(
        refusal,
        Refusal::NotAskedToAcknowledge {
            stage: 2,
            asked: "Jordan Reid and Dr Maria Lindqvist".into()
        }
    );
}

#[test]
fn a_party_not_asked_cannot_acknowledge() {
    let mut case = norfolk_at_stage_two();
    let refusal = case.refused(
        "sam-patel",
        "2026-06-02T11:00:00+01:00",
        Command::Acknowledge,
    );
    assert!(
        matches!(refusal, Refusal::NotAskedToAcknowledge { stage: 2, .. }),
        "{refusal:?}"
    );
}

#[test]
fn the_person_the_stage_asks_can_acknowledge() {
    let mut case = norfolk_at_stage_two();
    let events = case.act(
        "jordan-reid",
        "2026-06-02T11:00:00+01:00",
        Command::Acknowledge,
    );
    assert_eq!(
        events.iter().map(|e| &e.body).collect::<Vec<_>>(),
        [&EventBody::Acknowledged { stage: 2 }]
    );
    assert_eq!(case.state.awaiting_ack, pids(&["dr-lindqvist"]));
    assert_eq!(case.state.acknowledged.len(), 1);
    assert_eq!(case.state.acknowledged[0].by, pid("jordan-reid"));
    assert_eq!(
        case.state.acknowledged[0].at,
        at("2026-06-02T11:00:00+01:00")
    );
}

#[test]
fn acknowledging_twice_is_refused() {
    let mut case = norfolk_at_stage_two();
    case.act(
        "jordan-reid",
        "2026-06-02T11:00:00+01:00",
        Command::Acknowledge,
    );
    let refusal = case.refused(
        "jordan-reid",
        "2026-06-02T11:05:00+01:00",
        Command::Acknowledge,
    );
    // A second acknowledgement is answered by the core itself, the same on every platform.
    match refusal {
        Refusal::AlreadyDone { what } => assert_eq!(
            what,
            "you acknowledged stage 2 of NSAB-2026-0001 on Tue 2 Jun, 11:00"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stage_that_asks_nobody_to_acknowledge_refuses_acknowledgement() {
    let mut case = norfolk();
    assert!(case.state.awaiting_ack.is_empty());
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-01T11:00:00+01:00",
        Command::Acknowledge,
    );
    assert!(
        matches!(refusal, Refusal::NotAskedToAcknowledge { stage: 1, .. }),
        "{refusal:?}"
    );
}

// ---- resolution ----------------------------------------------------------------------------

/// The Norfolk dispute with a resolution proposed by the receiving side (Dr Okafor).
fn norfolk_with_proposal() -> Case {
    let mut case = norfolk();
    let events = case.act(
        "dr-okafor",
        "2026-06-02T10:00:00+01:00",
        propose("Joint capacity assessment on Friday."),
    );
    assert_eq!(kinds(&events), ["resolution_proposed"]);
    assert!(case.state.proposal.is_some());
    case
}

#[test]
fn confirming_a_resolution_proposed_by_your_own_side_is_refused() {
    let mut case = norfolk_with_proposal();
    for same_side in ["dr-okafor", "dr-lindqvist"] {
        let refusal = case.refused(
            same_side,
            "2026-06-02T11:00:00+01:00",
            Command::ConfirmResolution,
        );
        assert_eq!(
            refusal,
            Refusal::SameSide {
                action: "confirm".into()
            },
            "{same_side}"
        );
    }
    assert_eq!(case.state.status, Status::Open);
}

#[test]
fn rejecting_your_own_sides_proposal_is_refused() {
    let mut case = norfolk_with_proposal();
    let refusal = case.refused(
        "dr-lindqvist",
        "2026-06-02T11:00:00+01:00",
        Command::RejectResolution {
            reason: "Not what we meant.".into(),
        },
    );
    assert_eq!(
        refusal,
        Refusal::SameSide {
            action: "reject".into()
        }
    );
}

#[test]
fn the_board_cannot_confirm_a_resolution_for_a_side() {
    let mut case = norfolk_with_proposal();
    let refusal = case.refused(
        "nsab-unit",
        "2026-06-02T11:00:00+01:00",
        Command::ConfirmResolution,
    );
    assert!(
        matches!(&refusal, Refusal::Invalid { field, .. } if field == "resolution"),
        "{refusal:?}"
    );
}

#[test]
fn the_other_side_confirming_resolves_the_dispute() {
    let mut case = norfolk_with_proposal();
    let events = case.act(
        "sam-patel",
        "2026-06-02T15:00:00+01:00",
        Command::ConfirmResolution,
    );
    assert_eq!(kinds(&events), ["resolution_confirmed"]);
    match &events[0].body {
        EventBody::ResolutionConfirmed { outcome, .. } => {
            assert_eq!(outcome, "Joint capacity assessment on Friday.")
        }
        other => panic!("expected resolution_confirmed, got {other:?}"),
    }
    assert_eq!(case.state.status, Status::Resolved);
    assert_eq!(case.state.closed_at, Some(at("2026-06-02T15:00:00+01:00")));
    let refusal = case.refused(
        "sam-patel",
        "2026-06-03T09:00:00+01:00",
        note("One more thing."),
    );
    assert!(matches!(refusal, Refusal::Closed { .. }), "{refusal:?}");
}

#[test]
fn a_manager_on_the_other_side_may_confirm() {
    let mut case = norfolk_with_proposal();
    case.act(
        "jordan-reid",
        "2026-06-02T15:00:00+01:00",
        Command::ConfirmResolution,
    );
    assert_eq!(case.state.status, Status::Resolved);
}

#[test]
fn rejecting_a_resolution_clears_the_proposal() {
    let mut case = norfolk_with_proposal();
    let events = case.act(
        "sam-patel",
        "2026-06-02T15:00:00+01:00",
        Command::RejectResolution {
            reason: "The assessment needs the social worker present.".into(),
        },
    );
    assert_eq!(kinds(&events), ["resolution_rejected"]);
    assert_eq!(case.state.proposal, None);
    assert_eq!(case.state.status, Status::Open);
    let refusal = case.refused(
        "sam-patel",
        "2026-06-02T15:05:00+01:00",
        Command::ConfirmResolution,
    );
    assert_eq!(
        refusal,
        Refusal::NoProposal {
            action: "confirm".into()
        }
    );
    // A fresh proposal can now be made.
    case.act(
        "dr-okafor",
        "2026-06-02T16:00:00+01:00",
        propose("Joint capacity assessment with the social worker present."),
    );
    assert!(case.state.proposal.is_some());
}

#[test]
fn a_second_proposal_waits_until_the_first_is_answered() {
    let mut case = norfolk_with_proposal();
    let refusal = case.refused(
        "sam-patel",
        "2026-06-02T11:00:00+01:00",
        propose("Our own outcome."),
    );
    assert!(
        matches!(refusal, Refusal::ProposalPending { .. }),
        "{refusal:?}"
    );
}

// ---- the last stage --------------------------------------------------------------------------

#[test]
fn escalation_past_the_last_stage_is_refused_under_every_policy() {
    for policy in SEED_POLICIES {
        let p = fixture().policy(policy);
        let mut case = Case::raise_cast(policy, "2026-06-01T09:00:00+01:00");
        let mut minute = 0;
        while case.state.stage < p.last_stage() {
            minute += 5;
            assert!(
                minute < 200,
                "{policy}: escalation never reached the last stage"
            );
            let now = format!("2026-06-01T10:{minute:02}:00+01:00");
            case.act(&case.mover(), &now, escalate("Still unresolved."));
        }
        // Cambridgeshire stage 4 does not repeat, so the last stage is final for every policy.
        let holder = case.mover();
        let refusal = case.refused(
            &holder,
            "2026-06-01T11:00:00+01:00",
            escalate("Still unresolved."),
        );
        let last = p.stage(p.last_stage()).expect("the last stage exists");
        assert_eq!(
            refusal,
            Refusal::FinalStage {
                reference: case.state.reference.as_ref().expect("raised").to_string(),
                name: last.name.clone()
            },
            "{policy}"
        );
    }
}

// ---- reason for delay ----------------------------------------------------------------------

/// A Durham dispute raised Monday 1 June 2026 at 10:00: step 1 is due Tuesday 2 June at 17:00.
fn durham() -> Case {
    let case = Case::raise_cast("durham", "2026-06-01T10:00:00+01:00");
    assert_eq!(case.state.due, Some(at("2026-06-02T17:00:00+01:00")));
    case
}

#[test]
fn a_late_escalation_under_durham_without_a_reason_for_delay_is_refused() {
    let mut case = durham();
    let refusal = case.refused(
        "durham-police-practitioner",
        "2026-06-03T10:00:00+01:00",
        escalate("No agreement reached."),
    );
    assert!(
        matches!(refusal, Refusal::DelayReasonRequired { .. }),
        "{refusal:?}"
    );
    assert_eq!(refusal.field(), Some("delay_reason"));
    // A blank reason is no reason.
    let refusal = case.refused(
        "durham-police-practitioner",
        "2026-06-03T10:00:00+01:00",
        escalate_late("No agreement reached.", "   "),
    );
    assert!(matches!(refusal, Refusal::DelayReasonRequired { .. }));
}

#[test]
fn a_late_escalation_under_durham_with_a_reason_records_it_before_escalating() {
    let mut case = durham();
    let events = case.act(
        &case.mover(),
        "2026-06-03T10:00:00+01:00",
        escalate_late(
            "No agreement reached.",
            "The decision maker was on leave until today.",
        ),
    );
    assert_eq!(
        kinds(&events),
        ["delay_reason_recorded", "escalated", "stage_started"]
    );
    assert_eq!(
        events[0].body,
        EventBody::DelayReasonRecorded {
            stage: 1,
            reason: "The decision maker was on leave until today.".into()
        }
    );
    assert_eq!(case.state.stage, 2);
}

#[test]
fn a_reason_for_delay_recorded_first_lets_a_late_escalation_through() {
    let mut case = durham();
    case.act(
        "durham-police-practitioner",
        "2026-06-03T09:00:00+01:00",
        Command::RecordDelayReason {
            reason: "Waiting for the ward to reply.".into(),
        },
    );
    assert!(case.state.delay_reason_recorded);
    let events = case.act(
        &case.mover(),
        "2026-06-03T10:00:00+01:00",
        escalate("No agreement reached."),
    );
    assert_eq!(kinds(&events), ["escalated", "stage_started"]);
}

#[test]
fn a_reason_for_delay_cannot_be_recorded_before_anything_is_late() {
    let mut case = durham();
    let refusal = case.refused(
        "durham-police-practitioner",
        "2026-06-02T16:00:00+01:00",
        Command::RecordDelayReason {
            reason: "Just in case.".into(),
        },
    );
    assert!(matches!(refusal, Refusal::NotLate { .. }), "{refusal:?}");
}

#[test]
fn an_escalation_at_the_due_instant_itself_is_not_late() {
    let mut case = durham();
    let events = case.act(
        &case.mover(),
        "2026-06-02T17:00:00+01:00",
        escalate("No agreement reached."),
    );
    assert_eq!(kinds(&events), ["escalated", "stage_started"]);
}

#[test]
fn a_late_resolution_proposal_under_durham_needs_a_reason_for_delay() {
    let mut case = durham();
    let refusal = case.refused(
        "durham-asc-practitioner",
        "2026-06-03T10:00:00+01:00",
        propose("Agreed to convene a strategy discussion."),
    );
    assert!(
        matches!(refusal, Refusal::DelayReasonRequired { .. }),
        "{refusal:?}"
    );
    let events = case.act(
        "durham-asc-practitioner",
        "2026-06-03T10:00:00+01:00",
        Command::ProposeResolution {
            rationale: "Both agencies reviewed the plan.".into(),
            outcome: "Agreed to convene a strategy discussion.".into(),
            outstanding: "None.".into(),
            delay_reason: Some("Staff sickness in the team.".into()),
        },
    );
    assert_eq!(
        kinds(&events),
        ["delay_reason_recorded", "resolution_proposed"]
    );
}

#[test]
fn a_late_escalation_under_norfolk_needs_no_reason_for_delay() {
    let mut case = norfolk();
    assert!(!fixture().policy("norfolk").delay_reason.required);
    // Stage 1 was due Monday 8 June at 17:00.
    let events = case.act(
        &case.mover(),
        "2026-06-09T10:00:00+01:00",
        escalate("No agreement reached."),
    );
    assert_eq!(kinds(&events), ["escalated", "stage_started"]);
}

// ---- urgent route --------------------------------------------------------------------------

#[test]
fn an_urgent_dispute_shows_the_immediate_risk_prompt_first_under_every_policy() {
    for policy in SEED_POLICIES {
        let c = cast(policy);
        let mut d = c.details();
        d.immediate_risk = true;
        let case = Case::raise(policy, c.raiser, d, "2026-06-01T09:00:00+01:00");
        let first = case.events.first().expect("a raise produces events");
        assert_eq!(
            first.body,
            EventBody::UrgentRoutePrompted {
                prompt: fixture().policy(policy).urgent.prompt.clone(),
                source: fixture().policy(policy).urgent.source.clone(),
            },
            "{policy}: the immediate-risk prompt comes before anything else"
        );
        assert_eq!(kinds(&case.events)[1], "raised", "{policy}");
        assert!(case.state.urgent, "{policy}");
    }
}

#[test]
fn rochdale_tells_its_business_unit_at_once_about_an_urgent_dispute_only_where_an_agency_stands_apart()
 {
    // 14.3.2: the business unit is informed "where certain agencies maintain a position of
    // non-involvement and other agencies disagree"; the raise form asks, and only yes sends it.
    let c = cast("rochdale");
    let mut d = c.details();
    d.immediate_risk = true;
    d.notices = [("non-involvement".to_string(), true)].into();
    let case = Case::raise("rochdale", c.raiser, d.clone(), "2026-06-01T09:00:00+01:00");
    assert_eq!(
        kinds(&case.events),
        [
            "urgent_route_prompted",
            "raised",
            "notice_answered",
            "board_notified",
            "stage_started"
        ]
    );
    match &case.events[3].body {
        EventBody::BoardNotified {
            who, recipients, ..
        } => {
            assert_eq!(*who, NoticeTarget::BoardBusinessUnit);
            assert_eq!(recipients, &pids(&["rochdale-unit"]));
        }
        other => panic!("expected board_notified, got {other:?}"),
    }
    d.notices = [("non-involvement".to_string(), false)].into();
    let no = Case::raise("rochdale", c.raiser, d.clone(), "2026-06-01T09:00:00+01:00");
    assert_eq!(
        kinds(&no.events),
        [
            "urgent_route_prompted",
            "raised",
            "notice_answered",
            "stage_started"
        ],
        "answered no: recorded, not sent"
    );
    assert!(matches!(
        &no.events[2].body,
        EventBody::NoticeAnswered { answer: false, .. }
    ));
    // Unanswered, nothing is guessed: the raise is refused at the question.
    d.notices.clear();
    let mut unanswered = Case::new("rochdale");
    let r = unanswered.refused(
        c.raiser,
        "2026-06-01T09:00:00+01:00",
        Command::Raise {
            reference: crate::helpers::reference_for("rochdale"),
            details: d,
        },
    );
    assert_eq!(r.field(), Some("notice_non-involvement"), "{r}");
}

#[test]
fn a_dispute_without_immediate_risk_has_no_urgent_prompt() {
    for policy in SEED_POLICIES {
        let case = Case::raise_cast(policy, "2026-06-01T09:00:00+01:00");
        assert_eq!(kinds(&case.events), ["raised", "stage_started"], "{policy}");
        assert!(!case.state.urgent);
    }
}

// ---- privacy -------------------------------------------------------------------------------

/// Asserts a refusal is for identifiable detail of `kind` in `field`, without echoing `secret`.
fn assert_identifiable(refusal: &Refusal, field: &str, kind: IdentifiableKind, secret: &str) {
    match refusal {
        Refusal::Identifiable {
            field: f, kinds, ..
        } => {
            assert_eq!(f, field);
            assert_eq!(kinds, &[kind]);
        }
        other => panic!("expected an identifiable-detail refusal, got {other:?}"),
    }
    let text = refusal.to_string();
    assert!(
        !text.contains(secret),
        "the refusal echoes the detail: {text}"
    );
    assert!(
        text.contains(kind.label()),
        "the refusal names what looked identifiable: {text}"
    );
}

#[test]
fn identifiable_detail_in_a_summary_refuses_the_raise_and_records_nothing() {
    let c = cast("norfolk");
    let mut case = crate::helpers::Case::new("norfolk");
    let mut d = c.details();
    d.summary = "Patient 943 476 5919 was discharged without a care plan.".into();
    let refusal = case.refused(
        c.raiser,
        "2026-06-01T09:00:00+01:00",
        Command::Raise {
            reference: crate::helpers::reference_for("norfolk"),
            details: d,
        },
    );
    assert_identifiable(
        &refusal,
        "summary",
        IdentifiableKind::NhsNumber,
        "943 476 5919",
    );
    assert!(case.events.is_empty());
    assert_eq!(case.state, Dispute::default());
}

#[test]
fn identifiable_detail_in_the_desired_outcome_refuses_the_raise() {
    let c = cast("norfolk");
    let mut case = crate::helpers::Case::new("norfolk");
    let mut d = c.details();
    d.desired_outcome = "A home visit at NR1 2DH this week.".into();
    let refusal = case.refused(
        c.raiser,
        "2026-06-01T09:00:00+01:00",
        Command::Raise {
            reference: crate::helpers::reference_for("norfolk"),
            details: d,
        },
    );
    assert_identifiable(
        &refusal,
        "desired_outcome",
        IdentifiableKind::Postcode,
        "NR1 2DH",
    );
}

#[test]
fn identifiable_detail_in_a_note_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-01T11:00:00+01:00",
        note("Her daughter can be emailed at jane.doe@example.org for updates."),
    );
    assert_identifiable(
        &refusal,
        "note",
        IdentifiableKind::EmailAddress,
        "jane.doe@example.org",
    );
    assert_eq!(case.state.notes, 0);
}

#[test]
fn identifiable_detail_in_an_escalation_reason_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "sam-patel",
        "2026-06-01T11:00:00+01:00",
        escalate("The adult did not answer on 01603 223456 again."),
    );
    assert_identifiable(
        &refusal,
        "reason",
        IdentifiableKind::PhoneNumber,
        "01603 223456",
    );
    assert_eq!(case.state.stage, 1);
}

#[test]
fn identifiable_detail_in_a_reason_for_delay_refuses_the_escalation() {
    let mut case = durham();
    let refusal = case.refused(
        "durham-police-practitioner",
        "2026-06-03T10:00:00+01:00",
        escalate_late(
            "No agreement.",
            "Benefits check on AB 12 34 56 C took two days.",
        ),
    );
    assert_identifiable(
        &refusal,
        "delay_reason",
        IdentifiableKind::NationalInsuranceNumber,
        "AB 12 34 56 C",
    );
    assert_eq!(case.state.stage, 1);
}

// ---- state rebuilt from events equals state kept live ----------------------------------------

/// A clock that moves forward a few minutes per action, and jumps when asked.
struct Clock(chrono::DateTime<chrono::Utc>);

impl Clock {
    fn tick(&mut self) -> String {
        self.0 += chrono::Duration::minutes(7);
        self.0.to_rfc3339()
    }
    fn jump_days(&mut self, days: i64) {
        self.0 += chrono::Duration::days(days);
    }
}

/// A long, mixed dispute under one policy: urgent raise, notes, a refused outsider, a rejected
/// proposal, a late stage (with its reason for delay where needed), acknowledgements, deadlines
/// brought forward, named steps, escalation to the last stage, resolution and learning. Returns
/// the case and the live state after every command.
fn long_mixed_dispute(policy: &str) -> (Case, Vec<(usize, Dispute)>) {
    /// Acts and keeps a copy of the live state after the command.
    fn step(
        case: &mut Case,
        snapshots: &mut Vec<(usize, Dispute)>,
        by: &str,
        now: String,
        command: Command,
    ) {
        case.act(by, &now, command);
        snapshots.push((case.events.len(), case.state.clone()));
    }

    let c = cast(policy);
    let p = fixture().policy(policy);
    let mut clock = Clock(at("2026-06-01T09:00:00+01:00"));
    let mut snaps = Vec::new();
    let mut d = c.details();
    d.immediate_risk = true;
    let mut case = Case::raise(policy, c.raiser, d, &clock.tick());
    snaps.push((case.events.len(), case.state.clone()));

    let s = &mut snaps;
    step(
        &mut case,
        s,
        c.raiser,
        clock.tick(),
        note("Phoned the other professional."),
    );
    step(
        &mut case,
        s,
        c.other,
        clock.tick(),
        note("Agreed to look again at the plan."),
    );
    case.refused("pc-evans", &clock.tick(), note("Outsider's view."));
    step(
        &mut case,
        s,
        c.other,
        clock.tick(),
        propose("Keep the current plan."),
    );
    let reject = Command::RejectResolution {
        reason: "The plan does not address the risk.".into(),
    };
    step(&mut case, s, c.raiser, clock.tick(), reject);
    clock.jump_days(2); // Durham's step 1 (1 working day) is now late; nobody else's is.

    for _ in 0..20 {
        for asked in case.state.awaiting_ack.clone() {
            step(&mut case, s, &asked.0, clock.tick(), Command::Acknowledge);
        }
        let owner = case
            .state
            .owners_receiving
            .first()
            .cloned()
            .expect("an owner");
        step(
            &mut case,
            s,
            &owner.0,
            clock.tick(),
            note("Discussed with my counterpart."),
        );
        let stage = p.stage(case.state.stage).expect("current stage");
        if stage.bring_forward_source.is_some()
            && let Some(due) = case.state.due
            && due - chrono::Duration::hours(2) > clock.0 + chrono::Duration::hours(1)
        {
            let forward = Command::BringDeadlineForward {
                due: due - chrono::Duration::hours(2),
                reason: "The adult's safety needs an earlier answer.".into(),
            };
            step(&mut case, s, c.raiser, clock.tick(), forward);
        }
        for st in &stage.steps {
            let done = Command::CompleteStep {
                step: st.id.clone(),
                at: None,
                note: None,
            };
            step(&mut case, s, &owner.0, clock.tick(), done);
        }
        let now = clock.tick();
        let command = if case.state.is_overdue(at(&now)) {
            escalate_late("Still unresolved.", "The team was short-staffed this week.")
        } else {
            escalate("Still unresolved.")
        };
        let mover = case.mover();
        match case.try_act(&mover, &now, command) {
            Ok(_) => s.push((case.events.len(), case.state.clone())),
            Err(Refusal::FinalStage { .. }) => break,
            Err(other) => panic!("{policy}: escalation refused: {other:?}"),
        }
    }
    assert_eq!(
        case.state.stage,
        p.last_stage(),
        "{policy} reached its last stage"
    );
    let owner = case
        .state
        .owners_receiving
        .first()
        .cloned()
        .expect("an owner");
    step(
        &mut case,
        s,
        &owner.0,
        clock.tick(),
        propose("Joint review within a week."),
    );
    let confirmer = case.mover();
    step(
        &mut case,
        s,
        &confirmer,
        clock.tick(),
        Command::ConfirmResolution,
    );
    let learning = Command::ReferLearning {
        text: "Discharge plans should be shared with both agencies.".into(),
    };
    step(&mut case, s, c.raiser, clock.tick(), learning);
    assert_eq!(case.state.status, Status::Resolved);
    (case, snaps)
}

#[test]
fn state_rebuilt_from_the_events_equals_the_state_kept_live_for_every_policy() {
    for policy in SEED_POLICIES {
        let (case, snapshots) = long_mixed_dispute(policy);
        assert!(case.events.len() > 25, "{policy}: the sequence is long");
        let mix: std::collections::BTreeSet<&str> = kinds(&case.events).into_iter().collect();
        for kind in [
            "urgent_route_prompted",
            "raised",
            "note_added",
            "resolution_rejected",
            "escalated",
            "stage_started",
            "resolution_confirmed",
            "learning_referred",
        ] {
            assert!(mix.contains(kind), "{policy}: the sequence includes {kind}");
        }
        for (n, live) in &snapshots {
            assert_eq!(
                &Dispute::from_events(&case.events[..*n]),
                live,
                "{policy}: state rebuilt from the first {n} events"
            );
        }
        assert_eq!(Dispute::from_events(&case.events), case.state, "{policy}");
    }
}

/// A note never changes what a dispute's root post shows, so the fan-out sends notes as replies
/// alone and does not rewrite the root for them: checked at every note of a long dispute under
/// every policy, in the stage it was added and at the times around it.
#[test]
fn a_note_leaves_the_root_post_as_it_was_under_every_policy() {
    use escalation_bot::posts::compose;
    let fx = fixture();
    for policy in SEED_POLICIES {
        let (case, snapshots) = long_mixed_dispute(policy);
        let mut checked = 0;
        let mut before = Dispute::default();
        for (n, after) in &snapshots {
            let added = &case.events[before.version as usize..*n];
            let only_notes = !added.is_empty()
                && added
                    .iter()
                    .all(|e| matches!(e.body, EventBody::NoteAdded { .. }));
            if only_notes {
                for now in [added[0].at, added[0].at + chrono::Duration::days(30)] {
                    let scene = compose::Scene {
                        policy: fx.policy(policy),
                        calendar: fx.calendar(policy),
                        dir: &fx.directory,
                        now,
                    };
                    assert_eq!(
                        compose::root(&scene, &before),
                        compose::root(&scene, after),
                        "{policy}: the note at event {n} changed the root"
                    );
                }
                checked += 1;
            }
            before = after.clone();
        }
        assert!(
            checked >= 2,
            "{policy}: notes at more than one stage ({checked})"
        );
    }
}

#[test]
fn events_stored_as_json_rebuild_the_same_state() {
    for policy in SEED_POLICIES {
        let (case, _) = long_mixed_dispute(policy);
        let stored: Vec<String> = case
            .events
            .iter()
            .map(|e| serde_json::to_string(e).expect("events serialise"))
            .collect();
        let loaded: Vec<Event> = stored
            .iter()
            .map(|s| serde_json::from_str(s).unwrap_or_else(|e| panic!("{policy}: {e}: {s}")))
            .collect();
        assert_eq!(loaded, case.events, "{policy}");
        assert_eq!(Dispute::from_events(&loaded), case.state, "{policy}");
    }
}

// ---- board-specific stage rules --------------------------------------------------------------

fn owners(case: &Case) -> (Vec<&str>, Vec<&str>) {
    (
        case.state
            .owners_raising
            .iter()
            .map(|p| p.0.as_str())
            .collect(),
        case.state
            .owners_receiving
            .iter()
            .map(|p| p.0.as_str())
            .collect(),
    )
}

#[test]
fn cambridgeshire_stage_three_climbs_the_management_tiers_before_stage_four() {
    let mut case = Case::raise_cast("cambridgeshire-peterborough", "2026-06-01T09:00:00+01:00");
    case.act(
        &case.mover(),
        "2026-06-01T10:00:00+01:00",
        escalate("No agreement between workers."),
    );
    case.act(
        &case.mover(),
        "2026-06-01T11:00:00+01:00",
        escalate("No agreement between line managers."),
    );
    assert_eq!((case.state.stage, case.state.tier), (3, 0));
    assert_eq!(
        owners(&case),
        (
            vec!["cambs-asc-senior-manager"],
            vec!["peterborough-housing-senior-manager"]
        )
    );

    let events = case.act(
        &case.mover(),
        "2026-06-01T12:00:00+01:00",
        escalate("Senior managers disagree."),
    );
    assert_eq!(kinds(&events), ["escalated", "stage_started"]);
    assert!(matches!(
        events[0].body,
        EventBody::Escalated {
            from_stage: 3,
            from_tier: 0,
            to_stage: 3,
            to_tier: 1,
            ..
        }
    ));
    assert_eq!((case.state.stage, case.state.tier), (3, 1));
    assert_eq!(
        owners(&case),
        (
            vec!["cambs-asc-head-of-service"],
            vec!["peterborough-housing-head-of-service"]
        )
    );
    assert_eq!(
        case.state.awaiting_ack,
        pids(&[
            "cambs-asc-head-of-service",
            "peterborough-housing-head-of-service"
        ])
    );
    let repeat = fixture()
        .policy("cambridgeshire-peterborough")
        .stage(3)
        .and_then(|s| s.repeats.as_ref())
        .expect("Cambridgeshire stage 3 repeats up the tiers");
    assert_eq!(
        case.state.prompt, repeat.prompt,
        "a higher tier shows the repeat prompt"
    );

    // The heads of service are the top rung: the next escalation leaves stage 3.
    let events = case.act(
        &case.mover(),
        "2026-06-01T13:00:00+01:00",
        escalate("Heads of service disagree."),
    );
    assert!(matches!(
        events[0].body,
        EventBody::Escalated {
            from_stage: 3,
            from_tier: 1,
            to_stage: 4,
            to_tier: 0,
            ..
        }
    ));
    assert_eq!((case.state.stage, case.state.tier), (4, 0));
    assert_eq!(
        kinds(&events),
        [
            "escalated",
            "stage_started",
            "board_notified",
            "board_notified"
        ]
    );
}

#[test]
fn cambridgeshire_stages_have_no_invented_deadline() {
    let mut case = Case::raise_cast("cambridgeshire-peterborough", "2026-06-01T09:00:00+01:00");
    for n in 0..4 {
        assert_eq!(case.state.due, None, "stage {}", case.state.stage);
        if n < 3 {
            case.act(
                &case.mover(),
                &format!("2026-06-01T1{n}:00:00+01:00"),
                escalate("Unresolved."),
            );
        }
    }
}

/// A Sunderland dispute raised Monday 19 October 2026 and taken to stage 3 the same morning.
fn sunderland_at_stage_three() -> Case {
    let mut case = Case::raise_cast("sunderland", "2026-10-19T09:00:00+01:00");
    case.act(
        &case.mover(),
        "2026-10-19T10:00:00+01:00",
        escalate("No agreement at stage one."),
    );
    assert_eq!(
        owners(&case),
        (
            vec!["sunderland-asc-line-manager"],
            vec!["sunderland-community-senior-manager"]
        ),
        "stage 2: line manager to the other agency's senior manager"
    );
    case.act(
        &case.mover(),
        "2026-10-19T11:00:00+01:00",
        escalate("No agreement at stage two."),
    );
    assert_eq!(case.state.stage, 3);
    case
}

#[test]
fn sunderland_stage_three_review_is_measured_from_the_first_raising() {
    let case = sunderland_at_stage_three();
    // The limit belongs to the review, not the stage: 10 working days from Monday 19 October is
    // Monday 2 November, after the clocks go back.
    assert_eq!(case.state.due, None, "the stage itself has no clock");
    assert_eq!(
        case.state.steps_due.get("review"),
        Some(&at("2026-11-02T17:00:00+00:00"))
    );
}

#[test]
fn sunderland_written_response_is_due_five_calendar_days_after_the_review() {
    let mut case = sunderland_at_stage_three();
    assert!(
        !case.state.steps_due.contains_key("written-response"),
        "no written-response deadline until the review happens"
    );
    let events = case.act(
        "sunderland-community-head-of-service",
        "2026-10-22T10:00:00+01:00",
        Command::CompleteStep {
            step: "review".into(),
            at: None,
            note: None,
        },
    );
    // Thursday 22 October + 5 calendar days = Tuesday 27 October, 17:00 GMT (clocks went back on the 25th).
    let due = at("2026-10-27T17:00:00+00:00");
    match &events[..] {
        [
            Event {
                directory: None,
                body:
                    EventBody::StepCompleted {
                        step,
                        stage,
                        then_due,
                        ..
                    },
                ..
            },
        ] => {
            assert_eq!((step.as_str(), *stage), ("review", 3));
            assert_eq!(then_due.len(), 1);
            assert_eq!(then_due[0].step, "written-response");
            assert_eq!(then_due[0].due, due);
        }
        other => panic!("expected one step_completed, got {other:?}"),
    }
    assert_eq!(case.state.steps_due.get("written-response"), Some(&due));
    let refusal = case.refused(
        "sunderland-community-head-of-service",
        "2026-10-22T11:00:00+01:00",
        Command::CompleteStep {
            step: "review".into(),
            at: None,
            note: None,
        },
    );
    assert!(matches!(&refusal, Refusal::Invalid { field, .. } if field == "step"));
}

#[test]
fn sunderland_stage_four_excludes_everyone_involved_so_far() {
    let mut case = sunderland_at_stage_three();
    case.act(
        "sunderland-community-practitioner",
        "2026-10-19T12:00:00+01:00",
        note("Shared the community nursing view."),
    );
    let events = case.act(
        &case.mover(),
        "2026-10-20T10:00:00+01:00",
        escalate("The review did not resolve it."),
    );
    assert_eq!(case.state.stage, 4);
    let expected = pids(&[
        "sunderland-asc-head-of-service",
        "sunderland-asc-line-manager",
        "sunderland-asc-practitioner",
        "sunderland-community-head-of-service",
        "sunderland-community-practitioner",
        "sunderland-community-senior-manager",
    ]);
    assert_eq!(case.state.excluded, expected);
    match events
        .iter()
        .find(|e| e.body.kind() == "stage_started")
        .map(|e| &e.body)
    {
        Some(EventBody::StageStarted { excluded, .. }) => assert_eq!(excluded, &expected),
        other => panic!("expected stage_started, got {other:?}"),
    }
    assert!(!case.state.excluded.contains(&pid("sunderland-unit")));
}

#[test]
fn sunderland_stage_three_is_escalated_by_those_who_hold_it_not_by_a_manager_below_them() {
    let mut case = sunderland_at_stage_three();
    // The ASC senior manager manages the line manager but sits below the heads of service who
    // hold stage 3 (Stage Three): they may add notes, not move the stage.
    let refusal = case.refused(
        "sunderland-asc-senior-manager",
        "2026-10-20T10:00:00+01:00",
        escalate("The review did not resolve it."),
    );
    match refusal {
        Refusal::NotStageHolder { stage, section, .. } => assert_eq!(
            (stage.as_str(), section.as_str()),
            ("stage 3", "Stage Three")
        ),
        other => panic!("{other:?}"),
    }
    case.act(
        "sunderland-asc-senior-manager",
        "2026-10-20T10:05:00+01:00",
        crate::helpers::note("Asked our head of service to escalate."),
    );
    case.act(
        "sunderland-asc-head-of-service",
        "2026-10-20T10:10:00+01:00",
        escalate("The review did not resolve it."),
    );
    assert_eq!(case.state.stage, 4);
    assert!(
        case.state
            .excluded
            .contains(&pid("sunderland-asc-senior-manager")),
        "whoever took part in the case is kept out of stage 4: {:?}",
        case.state.excluded
    );
}

/// A Rochdale dispute (adult care challenges mental health) taken to stage 4.
fn rochdale_at_stage_four() -> Case {
    let mut case = Case::raise_cast("rochdale", "2026-06-01T09:00:00+01:00");
    for (n, now) in ["10", "11", "12"].iter().enumerate() {
        case.act(
            &case.mover(),
            &format!("2026-06-01T{now}:00:00+01:00"),
            escalate("Still unresolved."),
        );
        assert_eq!(case.state.stage as usize, n + 2);
    }
    case
}

#[test]
fn rochdale_tells_the_other_agency_before_escalating_to_heads_of_service() {
    let mut case = rochdale_at_stage_four();
    let events = case.act(
        &case.mover(),
        "2026-06-01T13:00:00+01:00",
        escalate("Service managers could not agree."),
    );
    assert_eq!(
        kinds(&events),
        [
            "other_agency_notified",
            "escalated",
            "stage_started",
            "board_notified"
        ]
    );
    match &events[0].body {
        EventBody::OtherAgencyNotified { agency, .. } => assert_eq!(agency.0, "rochdale-mh"),
        other => panic!("expected other_agency_notified, got {other:?}"),
    }
    match &events[3].body {
        EventBody::BoardNotified {
            who, recipients, ..
        } => {
            assert_eq!(*who, NoticeTarget::BoardBusinessUnit);
            assert_eq!(recipients, &pids(&["rochdale-unit"]));
        }
        other => panic!("expected board_notified, got {other:?}"),
    }
    assert_eq!(
        owners(&case),
        (
            vec!["rochdale-asc-head-of-service"],
            vec!["rochdale-mh-head-of-service"]
        )
    );
}

#[test]
fn rochdale_notice_goes_to_the_agency_opposite_whoever_escalates() {
    let mut case = rochdale_at_stage_four();
    let events = case.act(
        &case.mover_receiving(),
        "2026-06-01T13:00:00+01:00",
        escalate("Service managers could not agree."),
    );
    match &events[0].body {
        EventBody::OtherAgencyNotified { agency, .. } => assert_eq!(agency.0, "rochdale-asc"),
        other => panic!("expected other_agency_notified, got {other:?}"),
    }
}

#[test]
fn durham_step_three_is_due_21_days_after_the_first_raising_not_the_step_start() {
    let mut case = durham();
    case.act(
        &case.mover(),
        "2026-06-01T11:00:00+01:00",
        escalate("No agreement."),
    );
    case.act(
        &case.mover(),
        "2026-06-03T11:00:00+01:00",
        escalate("Managers could not agree."),
    );
    assert_eq!(case.state.stage, 3);
    assert_eq!(case.state.due, Some(at("2026-06-22T17:00:00+01:00")));
    assert_eq!(
        case.state.form.as_deref(),
        Some("Managing Professional Differences form")
    );
}

// ---- bringing a deadline forward -------------------------------------------------------------

#[test]
fn norfolk_lets_a_party_bring_a_deadline_forward() {
    let mut case = norfolk();
    assert_eq!(case.state.due, Some(at("2026-06-08T17:00:00+01:00")));
    let earlier = at("2026-06-03T17:00:00+01:00");
    let events = case.act(
        "dr-okafor",
        "2026-06-01T12:00:00+01:00",
        Command::BringDeadlineForward {
            due: earlier,
            reason: "The adult is due home on Thursday.".into(),
        },
    );
    assert_eq!(kinds(&events), ["deadline_brought_forward"]);
    assert_eq!(case.state.due, Some(earlier));
}

#[test]
fn a_deadline_is_never_pushed_later_or_left_where_it_is() {
    let mut case = norfolk();
    for later in ["2026-06-09T17:00:00+01:00", "2026-06-08T17:00:00+01:00"] {
        let refusal = case.refused(
            "dr-okafor",
            "2026-06-01T12:00:00+01:00",
            Command::BringDeadlineForward {
                due: at(later),
                reason: "We need more time.".into(),
            },
        );
        assert!(
            matches!(&refusal, Refusal::Invalid { field, .. } if field == "due"),
            "{later}: {refusal:?}"
        );
    }
    assert_eq!(case.state.due, Some(at("2026-06-08T17:00:00+01:00")));
}

#[test]
fn a_deadline_cannot_be_brought_forward_into_the_past() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-02T12:00:00+01:00",
        Command::BringDeadlineForward {
            due: at("2026-06-02T11:00:00+01:00"),
            reason: "Urgent.".into(),
        },
    );
    assert!(matches!(&refusal, Refusal::Invalid { field, .. } if field == "due"));
}

#[test]
fn a_stage_without_the_provision_refuses_bringing_its_deadline_forward() {
    let mut case = durham();
    let refusal = case.refused(
        "durham-asc-practitioner",
        "2026-06-01T12:00:00+01:00",
        Command::BringDeadlineForward {
            due: at("2026-06-01T16:00:00+01:00"),
            reason: "Urgent.".into(),
        },
    );
    assert!(matches!(&refusal, Refusal::Invalid { field, .. } if field == "due"));
}
