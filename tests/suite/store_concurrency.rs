//! Racing writers on both backends: one dispute escalated by many at once, and many raises
//! allocating references at once.

use crate::databases::{
    ASC_V_GP, TestDb, act, at, escalate, note, on_both_backends, raise, raise_events, who, world,
};
use escalation_bot::escalation::{self, EventBody, Reference};
use escalation_bot::store::{Batch, Store, StoreError};
use std::sync::Arc;

const ESCALATE_AT: &str = "2026-05-29T15:00:00+01:00";

/// What one attempt to append came to.
#[derive(Debug)]
enum Attempt {
    Recorded { at_version: u64 },
    Conflict { at_version: u64 },
    Refused,
}

/// One writer: loads, decides Escalate, appends at the loaded version; on a conflict it retries
/// on fresh state, as the service does, until it is recorded or the core refuses.
async fn escalating_writer(
    store: Store,
    reference: Reference,
    start: Arc<tokio::sync::Barrier>,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut first = true;
    loop {
        let state = store.load(&reference).await.expect("the dispute loads");
        if first {
            // Everyone holds the same version before anyone appends.
            start.wait().await;
            first = false;
        }
        let ctx = world().ctx(at(ESCALATE_AT));
        let command = escalate("Discussed twice, no agreement on the capacity concerns.");
        let events = match escalation::handle(&state, &who("sam-patel"), &command, &ctx) {
            Ok(events) => events,
            Err(_) => {
                attempts.push(Attempt::Refused);
                return attempts;
            }
        };
        let batch = Batch {
            events,
            ..Batch::default()
        };
        match store.append(&reference, state.version, &batch).await {
            Ok(()) => {
                attempts.push(Attempt::Recorded {
                    at_version: state.version,
                });
                return attempts;
            }
            Err(StoreError::Conflict {
                expected, found, ..
            }) => {
                assert_eq!(
                    expected, state.version,
                    "the conflict names the version the writer expected"
                );
                assert!(
                    found > expected,
                    "the conflict names the newer version it found"
                );
                attempts.push(Attempt::Conflict {
                    at_version: state.version,
                });
            }
            Err(e) => panic!("a racing append fails only with a conflict, not: {e:?}"),
        }
        assert!(
            attempts.len() < 50,
            "a writer keeps conflicting: {attempts:?}"
        );
    }
}

async fn concurrent_escalations_make_exactly_one_stage_change(db: &TestDb) {
    const WRITERS: usize = 8;
    // Two store instances (two pools), as two service replicas would have.
    let stores = [db.open().await, db.open().await];
    let r = raise(&stores[0], ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    act(
        &stores[0],
        &r,
        "dr-okafor",
        "2026-05-22T11:15:00+01:00",
        note("Spoke by phone."),
    )
    .await;
    act(
        &stores[0],
        &r,
        "sam-patel",
        "2026-05-26T10:00:00+01:00",
        note("Met; no agreement."),
    )
    .await;
    let before = stores[0].load(&r).await.expect("loads");
    assert_eq!(before.stage, 1);

    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            tokio::spawn(escalating_writer(
                stores[i % 2].clone(),
                r.clone(),
                barrier.clone(),
            ))
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("a writer does not panic"));
    }

    let first_round: Vec<&Attempt> = outcomes.iter().map(|o| &o[0]).collect();
    let won = first_round
        .iter()
        .filter(|a| matches!(a, Attempt::Recorded { at_version } if *at_version == before.version))
        .count();
    let lost = first_round
        .iter()
        .filter(|a| matches!(a, Attempt::Conflict { at_version } if *at_version == before.version))
        .count();
    assert_eq!(
        (won, lost),
        (1, WRITERS - 1),
        "writers racing at version {} : exactly one is recorded, the rest get a conflict: {outcomes:?}",
        before.version
    );
    // No version is ever won twice, retries included.
    let mut won_versions: Vec<u64> = outcomes
        .iter()
        .flatten()
        .filter_map(|a| match a {
            Attempt::Recorded { at_version } => Some(*at_version),
            _ => None,
        })
        .collect();
    let recorded = won_versions.len();
    won_versions.sort_unstable();
    won_versions.dedup();
    assert_eq!(
        won_versions.len(),
        recorded,
        "one append per version: {outcomes:?}"
    );

    let events = stores[1].events(&r).await.expect("events load");
    let escalations: Vec<(u32, u32, u32, u32)> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Escalated {
                from_stage,
                from_tier,
                to_stage,
                to_tier,
                ..
            } => Some((*from_stage, *from_tier, *to_stage, *to_tier)),
            _ => None,
        })
        .collect();
    assert_eq!(
        escalations.iter().filter(|e| e.0 == 1).count(),
        1,
        "exactly one escalation from stage 1: {escalations:?}"
    );
    let mut from: Vec<(u32, u32)> = escalations.iter().map(|e| (e.0, e.1)).collect();
    from.sort_unstable();
    from.dedup();
    assert_eq!(
        from.len(),
        escalations.len(),
        "no stage is left twice: {escalations:?}"
    );
    assert_eq!(
        escalations.len(),
        recorded,
        "each recorded append is one escalation"
    );
    let after = stores[0].load(&r).await.expect("loads");
    assert!(after.stage >= 2, "the dispute moved on from stage 1");
    let verify = stores[0].verify().await.expect("verify runs");
    assert_eq!(verify.broken, None, "racing appends leave an intact chain");
    assert_eq!(verify.events, events.len() as u64);
}

on_both_backends!(concurrent_escalations_make_exactly_one_stage_change:
    concurrent_escalations_of_one_dispute_make_exactly_one_stage_change_on_sqlite,
    concurrent_escalations_of_one_dispute_make_exactly_one_stage_change_on_postgres);

async fn an_append_at_a_stale_version_is_a_conflict_and_records_nothing(db: &TestDb) {
    let store = db.open().await;
    let r = raise(&store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    let state = store.load(&r).await.expect("loads");
    act(
        &store,
        &r,
        "dr-okafor",
        "2026-05-22T11:15:00+01:00",
        note("First."),
    )
    .await;
    let events = escalation::handle(
        &state,
        &who("sam-patel"),
        &note("Second, on stale state."),
        &world().ctx(at("2026-05-22T12:00:00+01:00")),
    )
    .expect("a note is accepted by the core");
    let e = store
        .append(
            &r,
            state.version,
            &Batch {
                events,
                ..Batch::default()
            },
        )
        .await
        .expect_err("a stale append is refused");
    match &e {
        StoreError::Conflict {
            reference,
            expected,
            found,
        } => {
            assert_eq!(
                (reference.as_str(), *expected, *found),
                (r.to_string().as_str(), state.version, state.version + 1)
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        e.to_string().contains("try again"),
        "the message says what to do: {e}"
    );
    assert_eq!(
        store.load(&r).await.expect("loads").version,
        state.version + 1
    );
}

on_both_backends!(an_append_at_a_stale_version_is_a_conflict_and_records_nothing:
    an_append_at_a_stale_version_is_a_conflict_and_records_nothing_on_sqlite,
    an_append_at_a_stale_version_is_a_conflict_and_records_nothing_on_postgres);

async fn concurrent_creates_number_references_without_gaps_or_duplicates(db: &TestDb) {
    const RAISES: usize = 16;
    let stores = [db.open().await, db.open().await];
    let prefix = world().norfolk().reference_prefix.clone();
    let tasks: Vec<_> = (0..RAISES)
        .map(|i| {
            let store = stores[i % 2].clone();
            let prefix = prefix.clone();
            tokio::spawn(async move {
                // Every third builder refuses: those must not take a number.
                let refuse = i % 3 == 2;
                let made = store
                    .create(&prefix, 2026, |r| {
                        if refuse {
                            Err("refused by the core")
                        } else {
                            raise_events(r, ASC_V_GP, "2026-05-21T09:40:00+01:00")
                                .map(|events| Batch {
                                    events,
                                    ..Batch::default()
                                })
                                .map_err(|_| "the core refused a valid raise")
                        }
                    })
                    .await
                    .unwrap_or_else(|e| panic!("create {i} reaches the store: {e}"));
                (refuse, made.map(|(r, _)| r))
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        let (refuse, made) = t.await.expect("a creator does not panic");
        match (refuse, made) {
            (false, Ok(r)) => {
                assert_eq!((r.prefix(), r.year()), ("NSAB", 2026));
                let raised = stores[0].events(&r).await.expect("events load");
                match raised.first().map(|e| &e.body) {
                    Some(EventBody::Raised { reference, .. }) => {
                        assert_eq!(reference, &r, "the raise carries its own reference")
                    }
                    other => panic!("{r} starts with its raise, not {other:?}"),
                }
                numbers.push(r.number());
            }
            (true, Err(_)) => {}
            other => panic!("unexpected create outcome {other:?}"),
        }
    }
    numbers.sort_unstable();
    let made = numbers.len() as u32;
    assert_eq!(
        numbers,
        (1..=made).collect::<Vec<u32>>(),
        "1..N with no gap and no duplicate"
    );

    // A refused build after all that still allocates nothing.
    let refused = stores[1]
        .create(&prefix, 2026, |_| Err::<Batch, _>("no"))
        .await
        .expect("reaches the store");
    assert!(refused.is_err());
    let next = raise(&stores[1], ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    assert_eq!(
        next.number(),
        made + 1,
        "the next raise takes the next number"
    );
    // Each board and year counts on its own.
    let other_year = stores[0]
        .create(&prefix, 2027, |r| {
            raise_events(r, ASC_V_GP, "2026-05-21T09:40:00+01:00").map(|events| Batch {
                events,
                ..Batch::default()
            })
        })
        .await
        .expect("reaches the store")
        .expect("accepted");
    assert_eq!(other_year.0.to_string(), "NSAB-2027-0001");
}

on_both_backends!(concurrent_creates_number_references_without_gaps_or_duplicates:
    concurrent_raises_get_reference_numbers_one_to_n_without_gaps_or_duplicates_on_sqlite,
    concurrent_raises_get_reference_numbers_one_to_n_without_gaps_or_duplicates_on_postgres);

// A refusal from the core itself leaves the counter where it was.
async fn a_raise_the_core_refuses_allocates_no_reference(db: &TestDb) {
    let store = db.open().await;
    let prefix = world().norfolk().reference_prefix.clone();
    let first = raise(&store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    assert_eq!(first.to_string(), "NSAB-2026-0001");
    let refused = store
        .create(&prefix, 2026, |r| {
            // Nobody called "nobody" is in the directory: the core refuses.
            let mut p = ASC_V_GP;
            p.raiser = "nobody";
            raise_events(r, p, "2026-05-21T09:40:00+01:00").map(|events| Batch {
                events,
                ..Batch::default()
            })
        })
        .await
        .expect("reaches the store");
    assert!(refused.is_err(), "the core refuses an unknown raiser");
    let probe = Reference::new("NSAB", 2026, 2);
    assert_eq!(
        store.load(&probe).await.expect("loads").version,
        0,
        "nothing recorded under the refused number"
    );
    let second = raise(&store, ASC_V_GP, "2026-05-21T10:00:00+01:00").await;
    assert_eq!(second.to_string(), "NSAB-2026-0002");
}

on_both_backends!(a_raise_the_core_refuses_allocates_no_reference:
    a_raise_the_core_refuses_allocates_no_reference_on_sqlite,
    a_raise_the_core_refuses_allocates_no_reference_on_postgres);
