//! Every free-text field of every core command goes through the privacy screen: one test per
//! field, each refusing a kind of detail the old screen let through, recording nothing, naming
//! the kind and its position and never echoing the text. Professionals' names pass.

use crate::helpers::{Case, at, cast, escalate, escalate_late, note, propose, reference_for};
use escalation_bot::escalation::{Command, Concerns, Dispute, Refusal};
use escalation_bot::privacy::IdentifiableKind::{self, *};

/// A Norfolk dispute: Sam Patel (adult social care) challenges Dr Okafor (Riverside GP).
fn norfolk() -> Case {
    Case::raise_cast("norfolk", "2026-06-01T09:30:00+01:00")
}

/// A Durham dispute whose step 1 (due Tuesday 2 June, 17:00) is late on Wednesday.
fn durham() -> Case {
    Case::raise_cast("durham", "2026-06-01T10:00:00+01:00")
}

const LATE_IN_DURHAM: &str = "2026-06-03T10:00:00+01:00";

/// Asserts the refusal is for `kind` in `field` at char `position`, and never shows `secret`.
fn assert_refused(
    refusal: &Refusal,
    field: &str,
    kind: IdentifiableKind,
    position: usize,
    secret: &str,
) {
    match refusal {
        Refusal::Identifiable {
            field: f, kinds, ..
        } => {
            assert_eq!(f, field, "{refusal:?}");
            assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
        }
        other => panic!("expected an identifiable-detail refusal in {field}, got {other:?}"),
    }
    let shown = refusal.to_string();
    assert!(!shown.contains(secret), "echoes {secret:?}: {shown}");
    assert!(shown.contains(kind.label()), "names the kind: {shown}");
    assert!(
        shown.contains(&format!("at character {position}")),
        "says where ({position}): {shown}"
    );
    assert!(
        shown.contains("case reference"),
        "says what to write instead: {shown}"
    );
}

/// Raises a Norfolk dispute with one field of the form changed; returns the refusal.
fn raise_refused(change: impl FnOnce(&mut escalation_bot::escalation::RaiseDetails)) -> Refusal {
    let c = cast("norfolk");
    let mut case = Case::new("norfolk");
    let mut details = c.details();
    change(&mut details);
    let refusal = case.refused(
        c.raiser,
        "2026-06-01T09:00:00+01:00",
        Command::Raise {
            reference: reference_for("norfolk"),
            details,
        },
    );
    assert!(case.events.is_empty(), "nothing is recorded");
    assert_eq!(case.state, Dispute::default());
    refusal
}

#[test]
fn a_client_named_in_the_summary_refuses_the_raise() {
    let refusal = raise_refused(|d| {
        d.summary = "Mrs Jane Smith has been left without carers since Friday.".into();
    });
    assert_refused(&refusal, "summary", PersonName, 0, "Jane Smith");
}

#[test]
fn an_address_in_the_possible_cause_refuses_the_raise() {
    let refusal = raise_refused(|d| {
        d.possible_cause = Some("The carers could not find 14 Acacia Avenue.".into());
    });
    assert_refused(&refusal, "possible_cause", Address, 26, "Acacia Avenue");
}

#[test]
fn a_loosely_written_date_of_birth_in_the_desired_outcome_refuses_the_raise() {
    let refusal = raise_refused(|d| {
        d.desired_outcome = "A capacity assessment for dob3/4/51 this week.".into();
    });
    assert_refused(&refusal, "desired_outcome", DateOfBirth, 29, "3/4/51");
}

#[test]
fn a_relative_named_in_the_adults_views_refuses_the_raise() {
    let refusal = raise_refused(|d| {
        d.adults_views = Some("Wants her daughter Karen to be told first.".into());
    });
    assert_refused(&refusal, "adults_views", PersonName, 19, "Karen");
}

#[test]
fn a_name_given_as_the_case_reference_refuses_the_raise() {
    let refusal = raise_refused(|d| {
        d.case_reference = "Mr Holloway".into();
    });
    assert_refused(&refusal, "case_reference", PersonName, 0, "Holloway");
}

#[test]
fn a_person_named_in_the_organisation_concerned_refuses_the_raise() {
    let refusal = raise_refused(|d| {
        d.concerns = Concerns::Organisation {
            name: "The home where Doris Fairweather lives".into(),
        };
    });
    assert_refused(&refusal, "concerns", PersonName, 15, "Fairweather");
}

#[test]
fn an_organisation_named_on_its_own_passes() {
    let c = cast("norfolk");
    let mut details = c.details();
    details.concerns = Concerns::Organisation {
        name: "Meadowbank Care Home".into(),
    };
    let case = Case::raise("norfolk", c.raiser, details, "2026-06-01T09:00:00+01:00");
    assert!(!case.events.is_empty());
}

#[test]
fn a_relative_named_in_a_note_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-01T11:00:00+01:00",
        note("Spoke to her son Darren, who has her bank card."),
    );
    assert_refused(&refusal, "note", PersonName, 17, "Darren");
    assert_eq!(case.state.notes, 0);
}

#[test]
fn professionals_and_agencies_in_the_directory_pass_in_a_note() {
    let mut case = norfolk();
    case.act(
        "dr-okafor",
        "2026-06-01T11:00:00+01:00",
        note(
            "Spoke to Sam Patel and Jordan Reid at Norfolk Adult Social Care; Dr Lindqvist and \
             DS Kate Morgan of Norfolk Constabulary agree. Met on 14 May; the adult is 87.",
        ),
    );
    assert_eq!(case.state.notes, 1);
}

#[test]
fn an_address_in_an_escalation_reason_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "sam-patel",
        "2026-06-01T11:00:00+01:00",
        escalate("Nobody visited Flat 3, 41 Victoria Road."),
    );
    assert_refused(&refusal, "reason", Address, 15, "Victoria Road");
    assert_eq!(case.state.stage, 1);
}

#[test]
fn a_spaced_email_in_a_reason_for_delay_refuses_the_escalation() {
    let mut case = durham();
    let refusal = case.refused(
        "durham-police-practitioner",
        LATE_IN_DURHAM,
        escalate_late(
            "No agreement.",
            "Waited for karen.jones @ gmail.com to reply.",
        ),
    );
    assert_refused(&refusal, "delay_reason", EmailAddress, 11, "gmail");
    assert_eq!(case.state.stage, 1);
}

fn proposal(rationale: &str, outcome: &str, outstanding: &str) -> Command {
    Command::ProposeResolution {
        rationale: rationale.into(),
        outcome: outcome.into(),
        outstanding: outstanding.into(),
        delay_reason: None,
    }
}

#[test]
fn a_name_in_a_resolutions_rationale_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-02T10:00:00+01:00",
        proposal(
            "The adult, John Williams, agreed.",
            "A joint visit.",
            "None.",
        ),
    );
    assert_refused(&refusal, "rationale", PersonName, 11, "John Williams");
    assert!(case.state.proposal.is_none());
}

#[test]
fn a_split_nhs_number_in_a_resolutions_outcome_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-02T10:00:00+01:00",
        proposal(
            "Reviewed together.",
            "Flag NHS no 943.476.5919 for review.",
            "None.",
        ),
    );
    assert_refused(&refusal, "outcome", NhsNumber, 12, "943.476.5919");
}

#[test]
fn a_dotted_phone_number_in_what_is_outstanding_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-02T10:00:00+01:00",
        proposal(
            "Reviewed together.",
            "A joint visit.",
            "Ring the son on 07700.900.123.",
        ),
    );
    assert_refused(&refusal, "outstanding", PhoneNumber, 16, "07700.900.123");
}

#[test]
fn a_date_of_birth_in_a_late_proposals_reason_for_delay_is_refused() {
    let mut case = durham();
    let refusal = case.refused(
        "durham-asc-practitioner",
        LATE_IN_DURHAM,
        Command::ProposeResolution {
            rationale: "Both agencies reviewed the plan.".into(),
            outcome: "A strategy discussion.".into(),
            outstanding: "None.".into(),
            delay_reason: Some("Records for the man born on 4th July 1949 were late.".into()),
        },
    );
    assert_refused(&refusal, "delay_reason", DateOfBirth, 28, "1949");
    assert!(case.state.proposal.is_none());
}

#[test]
fn a_postcode_in_a_rejection_reason_is_refused() {
    let mut case = norfolk();
    case.act(
        "dr-okafor",
        "2026-06-02T10:00:00+01:00",
        propose("Joint capacity assessment on Friday."),
    );
    let refusal = case.refused(
        "sam-patel",
        "2026-06-02T11:00:00+01:00",
        Command::RejectResolution {
            reason: "The visit to nr2-3hx has not happened.".into(),
        },
    );
    assert_refused(&refusal, "reason", Postcode, 13, "nr2-3hx");
    assert!(case.state.proposal.is_some());
}

#[test]
fn an_ni_number_in_a_recorded_reason_for_delay_is_refused() {
    let mut case = durham();
    let refusal = case.refused(
        "durham-police-practitioner",
        LATE_IN_DURHAM,
        Command::RecordDelayReason {
            reason: "Benefits check on NI AB-12-34-56 took two days.".into(),
        },
    );
    assert_refused(
        &refusal,
        "delay_reason",
        NationalInsuranceNumber,
        21,
        "AB-12-34-56",
    );
    assert!(!case.state.delay_reason_recorded);
}

#[test]
fn a_care_home_placement_in_a_reason_for_bringing_a_deadline_forward_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-01T12:00:00+01:00",
        Command::BringDeadlineForward {
            due: at("2026-06-03T17:00:00+01:00"),
            reason: "She moves into Meadowbank Care Home on Thursday.".into(),
        },
    );
    assert_refused(&refusal, "reason", Address, 15, "Meadowbank");
    assert_eq!(case.state.due, Some(at("2026-06-08T17:00:00+01:00")));
}

#[test]
fn a_name_in_a_withdrawal_reason_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "sam-patel",
        "2026-06-01T13:00:00+01:00",
        Command::Withdraw {
            reason: "Mrs o'connor has moved away.".into(),
        },
    );
    assert_refused(&refusal, "reason", PersonName, 0, "o'connor");
}

#[test]
fn a_name_in_learning_referred_to_the_board_is_refused() {
    let mut case = norfolk();
    let refusal = case.refused(
        "sam-patel",
        "2026-06-01T13:00:00+01:00",
        Command::ReferLearning {
            text: "Discharge of Harold Finch, 79, showed the checklist gap.".into(),
        },
    );
    assert_refused(&refusal, "learning", PersonName, 13, "Harold Finch");
}

#[test]
fn a_position_counts_from_the_text_as_typed_including_leading_spaces() {
    let mut case = norfolk();
    let refusal = case.refused(
        "dr-okafor",
        "2026-06-01T11:00:00+01:00",
        note("  Mr Patterson fell again."),
    );
    assert_refused(&refusal, "note", PersonName, 2, "Patterson");
}

#[test]
fn a_name_in_a_completed_steps_note_is_refused() {
    let mut case = Case::raise_cast("sunderland", "2026-10-19T09:00:00+01:00");
    for (now, reason) in [
        ("2026-10-19T10:00:00+01:00", "No agreement at stage one."),
        ("2026-10-19T11:00:00+01:00", "No agreement at stage two."),
    ] {
        let by = case.mover();
        case.act(&by, now, escalate(reason));
    }
    assert_eq!(case.state.stage, 3);
    let refusal = case.refused(
        "sunderland-community-head-of-service",
        "2026-10-22T10:00:00+01:00",
        Command::CompleteStep {
            step: "review".into(),
            at: None,
            note: Some("Review held with the adult's son Gareth present.".into()),
        },
    );
    assert_refused(&refusal, "note", PersonName, 33, "Gareth");
    assert!(!case.state.steps_due.contains_key("written-response"));
}
