//! Properties of the core over random sequences of commands, by random people of the board's
//! agencies, at random times, under every seed policy: nothing panics, a refused command changes
//! nothing and is refused the same way again, and the state rebuilt from the events (also after
//! a round trip through their stored JSON) is always the state kept live.

use crate::helpers::{SEED_POLICIES, at, cast, fixture};
use chrono::{DateTime, Duration, Utc};
use escalation_bot::directory::PersonId;
use escalation_bot::escalation::{self, Command, Dispute, Event, Reference};
use proptest::prelude::*;

/// What someone tries to do next; the text is harmless so the privacy screen lets it through.
#[derive(Debug, Clone)]
pub(crate) enum Try {
    Note,
    Acknowledge,
    Escalate {
        late: bool,
    },
    Propose,
    Confirm,
    Reject,
    Delay,
    /// A step of the policy (or one it does not have), now or some hours ago.
    Step {
        which: prop::sample::Index,
        hours_ago: Option<u8>,
    },
    /// Bring the deadline forward to this many hours from now.
    Forward {
        hours: u16,
    },
    Withdraw,
    Learning,
    RaiseAgain,
}

fn a_try() -> impl Strategy<Value = Try> {
    prop_oneof![
        3 => Just(Try::Note),
        3 => Just(Try::Acknowledge),
        3 => any::<bool>().prop_map(|late| Try::Escalate { late }),
        2 => Just(Try::Propose),
        2 => Just(Try::Confirm),
        1 => Just(Try::Reject),
        1 => Just(Try::Delay),
        2 => (any::<prop::sample::Index>(), prop::option::of(0u8..72))
            .prop_map(|(which, hours_ago)| Try::Step { which, hours_ago }),
        1 => (1u16..400).prop_map(|hours| Try::Forward { hours }),
        1 => Just(Try::Withdraw),
        1 => Just(Try::Learning),
        1 => Just(Try::RaiseAgain),
    ]
}

/// Someone of the board's agencies tries something, some hours after the last attempt.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) who: prop::sample::Index,
    pub(crate) hours_later: u8,
    pub(crate) what: Try,
}

pub(crate) fn attempts() -> impl Strategy<Value = Vec<Attempt>> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), 0u8..60, a_try()).prop_map(|(who, hours_later, what)| {
            Attempt {
                who,
                hours_later,
                what,
            }
        }),
        1..40,
    )
}

/// The people of a board's agencies, in a stable order.
pub(crate) fn people_of(policy: &str) -> Vec<PersonId> {
    let dir = &fixture().directory;
    let mut people: Vec<PersonId> = dir
        .agencies()
        .filter(|a| a.board == policy)
        .flat_map(|a| dir.members(&a.id).map(|p| p.id.clone()))
        .collect();
    people.sort_by(|a, b| a.0.cmp(&b.0));
    people
}

/// Every step id the policy names, and one it does not.
fn step_ids(policy: &str) -> Vec<String> {
    let mut ids: Vec<String> = fixture()
        .policy(policy)
        .stages
        .iter()
        .flat_map(|s| s.steps.iter().map(|st| st.id.clone()))
        .collect();
    ids.push("not-a-step".to_string());
    ids
}

pub(crate) fn command(t: &Try, policy: &str, reference: &Reference, now: DateTime<Utc>) -> Command {
    let text = |s: &str| s.to_string();
    match t {
        Try::Note => Command::AddNote {
            text: text("Discussed the discharge plan by phone."),
            how: None,
            held_at: None,
        },
        Try::Acknowledge => Command::Acknowledge,
        Try::Escalate { late } => Command::Escalate {
            reason: text("No agreement at this stage."),
            delay_reason: late.then(|| text("Staff absence.")),
            notices: Default::default(),
        },
        Try::Propose => Command::ProposeResolution {
            rationale: text("Both agencies reviewed the plan together."),
            outcome: text("A joint review is booked."),
            outstanding: text("None outstanding."),
            delay_reason: None,
        },
        Try::Confirm => Command::ConfirmResolution,
        Try::Reject => Command::RejectResolution {
            reason: text("The outcome does not address the risk."),
        },
        Try::Delay => Command::RecordDelayReason {
            reason: text("Waiting for the case file."),
        },
        Try::Step { which, hours_ago } => Command::CompleteStep {
            step: which.get(&step_ids(policy)).clone(),
            at: hours_ago.map(|h| now - Duration::hours(i64::from(h))),
            note: None,
        },
        Try::Forward { hours } => Command::BringDeadlineForward {
            due: now + Duration::hours(i64::from(*hours)),
            reason: text("The adult is at increased risk."),
        },
        Try::Withdraw => Command::Withdraw {
            reason: text("Resolved informally."),
        },
        Try::Learning => Command::ReferLearning {
            text: text("Share discharge summaries with the GP on the day."),
        },
        Try::RaiseAgain => Command::Raise {
            reference: reference.clone(),
            details: cast(policy).details(),
        },
    }
}

fn rebuilt_through_json(events: &[Event]) -> Dispute {
    let loaded: Vec<Event> = events
        .iter()
        .map(|e| {
            let stored = serde_json::to_string(e).expect("events serialise");
            serde_json::from_str(&stored).expect("stored events read back")
        })
        .collect();
    Dispute::from_events(&loaded)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_commands_never_panic_refusals_change_nothing_and_events_rebuild_the_live_state(
        policy in prop::sample::select(&SEED_POLICIES[..]),
        start_day in 0i64..300,
        tries in attempts(),
    ) {
        let people = people_of(policy);
        prop_assert!(!people.is_empty(), "{} has people in the demo directory", policy);
        let reference = Reference::new(&fixture().policy(policy).reference_prefix, 2026, 1);
        let c = cast(policy);
        let mut now = at("2026-01-05T10:00:00Z") + Duration::days(start_day);
        let raise = Command::Raise { reference: reference.clone(), details: c.details() };
        let mut state = Dispute::default();
        let mut events: Vec<Event> = escalation::handle(
            &state, &PersonId(c.raiser.to_string()), &raise, &fixture().ctx(policy, now),
        ).map_err(|r| TestCaseError::fail(format!("the cast's raise is refused: {r:?}")))?;
        for e in &events {
            state.apply(e);
        }
        for attempt in &tries {
            now += Duration::hours(i64::from(attempt.hours_later));
            let who = attempt.who.get(&people);
            let command = command(&attempt.what, policy, &reference, now);
            let ctx = fixture().ctx(policy, now);
            match escalation::handle(&state, who, &command, &ctx) {
                Ok(new) => {
                    for e in &new {
                        state.apply(e);
                    }
                    events.extend(new);
                }
                Err(refusal) => {
                    // Refused: nothing to record, and deciding again on the same state and clock
                    // gives the same answer (the core is pure).
                    let again = escalation::handle(&state, who, &command, &ctx);
                    prop_assert_eq!(again.err(), Some(refusal));
                }
            }
            prop_assert_eq!(state.version, events.len() as u64);
            prop_assert_eq!(&Dispute::from_events(&events), &state);
        }
        prop_assert_eq!(&rebuilt_through_json(&events), &state);
    }
}
