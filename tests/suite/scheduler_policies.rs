//! A dispute left alone under each seed policy, driven through weeks of fake time by the real
//! scheduler: the exact reminders, overdue prompts, acknowledgement nudges and board notices,
//! at the times the counting rule in the README gives, in every involved agency's thread and
//! by direct message.
//!
//! The windows cross a weekend, the Easter bank holidays (Good Friday 3 April and Easter Monday
//! 6 April 2026) and a clock change (29 March 2026, GMT to BST; 25 October 2026, BST to GMT).
//! Expected times are worked out by hand in each test's comments.

use crate::helpers::{at, cast, details, escalate, escalate_late};
use crate::scheduler_rig::{Posts, Rig, assert_in_working_hours, sorted};
use escalation_bot::calendar::format_uk;
use escalation_bot::escalation::{Command, EventBody, RaiseDetails};

/// The posts every reminder, overdue prompt or nudge makes in a two-agency dispute: a reply and
/// a root update in each agency's thread, and a direct message to each person named.
fn thread_and_dms(threads: &[&str], dms: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for t in threads {
        all.push(format!("reply {t}"));
        all.push(format!("update {t}"));
    }
    for d in dms {
        all.push(format!("direct {d}"));
    }
    all.sort();
    all
}

fn posts_of<'a>(posts: &'a [Posts], kind: &str) -> Vec<&'a Posts> {
    posts.iter().filter(|p| p.kind == kind).collect()
}

fn raise_details(policy: &str) -> RaiseDetails {
    cast(policy).details()
}

#[tokio::test]
async fn a_norfolk_dispute_left_alone_is_reminded_the_working_day_before_and_prompted_once_each_working_day_across_the_clock_change_and_easter()
 {
    // Raised Wed 25 March 2026, 10:00 GMT. Stage 1: 5 working days from the stage start.
    // Day 0 Wed 25; Thu 26 (1), Fri 27 (2), [weekend; clocks go forward Sun 29], Mon 30 (3),
    // Tue 31 (4), Wed 1 April (5): due Wed 1 April 17:00 BST.
    // Reminder: the opening of the working day before, Tue 31 March 09:00 BST.
    // Overdue: Thu 2 April 09:00, then [Good Friday, weekend, Easter Monday] Tue 7, Wed 8, Thu 9,
    // Fri 10, [weekend] Mon 13, Tue 14, Wed 15, Thu 16, Fri 17.
    let rig = Rig::new("2026-03-25T10:00:00+00:00").await;
    let reference = rig.raise("sam-patel", raise_details("norfolk")).await;
    rig.run_until("2026-04-17T18:00:00+01:00").await;

    let mut expected = vec![
        "2026-03-31T09:00:00+01:00 reminder stage 1, due 2026-04-01T17:00:00+01:00".to_string(),
    ];
    let overdue_days = [
        "04-02", "04-07", "04-08", "04-09", "04-10", "04-13", "04-14", "04-15", "04-16", "04-17",
    ];
    for (i, day) in overdue_days.iter().enumerate() {
        expected.push(format!(
            "2026-{day}T09:00:00+01:00 overdue #{} stage 1",
            i + 1
        ));
    }
    assert_eq!(rig.timeline(&reference).await, expected);

    let posts = rig.posts(&reference).await;
    assert_in_working_hours(rig.calendar("norfolk"), &posts);
    let everyone = thread_and_dms(
        &["slack norfolk-asc", "teams riverside-gp"],
        &["slack sam-patel", "teams dr-okafor"],
    );
    for p in &posts {
        assert_eq!(
            p.targets,
            everyone,
            "{} at {} goes to both threads and both owners",
            p.kind,
            format_uk(p.at)
        );
    }
    // The next prompt waits for Monday; nothing else is left or was cancelled.
    assert_eq!(rig.schedule_count(&reference, "done").await, 11);
    assert_eq!(rig.schedule_count(&reference, "pending").await, 1);
    assert_eq!(rig.schedule_count(&reference, "cancelled").await, 0);
}

#[tokio::test]
async fn a_norfolk_dispute_reaching_stage_three_gives_the_board_advance_notice_in_its_own_channel_and_moves_the_reminders_to_the_new_stage()
 {
    // Raised Mon 19 October 2026 10:00 BST; escalated to stage 2 on Tue 20 at 11:00 BST.
    // Stage 2 due: Wed 21 (1), Thu 22 (2), Fri 23 (3), [weekend; clocks go back Sun 25],
    // Mon 26 (4), Tue 27 (5): Tue 27 October 17:00 GMT. Reminder Mon 26 09:00 GMT; overdue
    // Wed 28 09:00 GMT. Stage 1's reminder (Fri 23) is cancelled by the escalation.
    // Escalated to stage 3 on Wed 28 at 10:00 GMT: the board business unit gets advance notice
    // then. Stage 3 due: Thu 29, Fri 30, Mon 2, Tue 3, Wed 4 November 17:00 GMT; reminder Tue 3
    // 09:00; overdue Thu 5 and Fri 6 09:00.
    let rig = Rig::new("2026-10-19T10:00:00+01:00").await;
    let reference = rig.raise("sam-patel", raise_details("norfolk")).await;
    rig.run_until("2026-10-20T11:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("Discussed twice; no agreement on capacity concerns."),
    )
    .await;
    rig.run_until("2026-10-28T10:00:00+00:00").await;
    // 7.2: the board manager "may be advised ... if there is potential for the matter to escalate
    // to stage four": the escalate form asks, and this escalation answers yes.
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        Command::Escalate {
            reason: "Team managers could not agree a plan.".into(),
            delay_reason: None,
            notices: crate::helpers::answers(true),
        },
    )
    .await;
    rig.run_until("2026-11-06T12:00:00+00:00").await;

    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-10-26T09:00:00+00:00 reminder stage 2, due 2026-10-27T17:00:00+00:00",
            "2026-10-28T09:00:00+00:00 overdue #1 stage 2",
            "2026-10-28T10:00:00+00:00 board notified: boardbusinessunit",
            "2026-11-03T09:00:00+00:00 reminder stage 3, due 2026-11-04T17:00:00+00:00",
            "2026-11-05T09:00:00+00:00 overdue #1 stage 3",
            "2026-11-06T09:00:00+00:00 overdue #2 stage 3",
        ]
    );
    let posts = rig.posts(&reference).await;
    assert_in_working_hours(rig.calendar("norfolk"), &posts);
    let stage2 = thread_and_dms(
        &["slack norfolk-asc", "teams riverside-gp"],
        &["slack jordan-reid", "teams dr-lindqvist"],
    );
    let stage3 = thread_and_dms(
        &["slack norfolk-asc", "teams riverside-gp"],
        &["slack priya-shah", "teams dr-bhatt"],
    );
    let notice = &posts_of(&posts, "board_notified")[0];
    assert_eq!(notice.targets, sorted(&["notice slack norfolk-board"]));
    assert_eq!(notice.available, vec![at("2026-10-28T10:00:00+00:00")]);
    for p in posts.iter().filter(|p| p.kind != "board_notified") {
        let want = if p.at < notice.at { &stage2 } else { &stage3 };
        assert_eq!(&p.targets, want, "{} at {}", p.kind, format_uk(p.at));
    }
    // Stage 1's reminder and overdue prompt, and stage 2's next prompt, were cancelled.
    assert_eq!(rig.schedule_count(&reference, "cancelled").await, 3);
}

#[tokio::test]
async fn a_cambridgeshire_dispute_has_no_deadline_reminders_at_any_stage_but_its_stage_four_notices_reach_the_board_channel()
 {
    // Cambridgeshire & Peterborough sets no day limits ("as soon as possible"): no reminders and
    // no overdue prompts, ever, and no acknowledgement window either.
    let rig = Rig::new("2026-03-23T10:00:00+00:00").await;
    let reference = rig
        .raise(
            "cambs-asc-practitioner",
            raise_details("cambridgeshire-peterborough"),
        )
        .await;
    rig.run_until("2026-04-10T17:00:00+01:00").await;
    assert_eq!(rig.timeline(&reference).await, Vec::<String>::new());

    // Escalate through the tiers of stage 3 to the resolution panel on Mon 13 April, 10:00 BST.
    rig.run_until("2026-04-13T10:00:00+01:00").await;
    let mut stage = 1;
    for _ in 0..12 {
        if stage == 4 {
            break;
        }
        let outcome = rig
            .act(
                &rig.mover(&reference).await,
                &reference,
                escalate("Still no agreement on the housing offer."),
            )
            .await;
        stage = outcome.dispute.stage;
    }
    assert_eq!(stage, 4, "the dispute reaches the resolution panel");
    rig.run_until("2026-05-01T17:00:00+01:00").await;

    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-04-13T10:00:00+01:00 board notified: boardbusinessunit",
            "2026-04-13T10:00:00+01:00 board notified: boardchair",
        ]
    );
    for p in rig.posts(&reference).await {
        assert_eq!(
            p.targets,
            sorted(&["notice slack cambridgeshire-peterborough-board"])
        );
        assert_eq!(p.available, vec![at("2026-04-13T10:00:00+01:00")]);
    }
    assert_eq!(rig.schedule_count(&reference, "pending").await, 0);
    // The only scheduled work: reminding whoever had not acknowledged a stage by the next
    // working morning (never a deadline reminder or an overdue prompt).
    let events = rig.events(&reference).await;
    let reminded: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::AcknowledgementReminded { stage, .. } => {
                Some(format!("{} stage {stage}", format_uk(e.at)))
            }
            _ => None,
        })
        .collect();
    assert!(
        reminded.iter().all(|r| r.contains("T09:00:00")),
        "{reminded:?}"
    );
    assert_eq!(
        rig.schedule_count(&reference, "done").await,
        reminded.len() as i64
    );
}

#[tokio::test]
async fn a_sunderland_dispute_left_alone_at_stage_one_is_reminded_after_the_weekend_and_prompted_each_working_day_until_it_moves_to_a_stage_without_a_limit()
 {
    // Raised Thu 26 March 2026, 14:00 GMT. Stage 1: 3 working days from first raising.
    // Fri 27 (1), [weekend; BST from Sun 29], Mon 30 (2), Tue 31 (3): due Tue 31 March 17:00 BST.
    // Reminder Mon 30 09:00 BST. Overdue Wed 1, Thu 2, [Easter] Tue 7, Wed 8, Thu 9, Fri 10,
    // Mon 13 April 09:00. Escalated on Mon 13 at 10:00 to stage 2 ("without delay", no number):
    // nothing more is scheduled, and Tuesday's prompt is cancelled.
    let rig = Rig::new("2026-03-26T14:00:00+00:00").await;
    let reference = rig
        .raise("sunderland-asc-practitioner", raise_details("sunderland"))
        .await;
    rig.run_until("2026-04-13T10:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("The other team has not replied."),
    )
    .await;
    rig.run_until("2026-04-24T18:00:00+01:00").await;

    let mut expected = vec![
        "2026-03-30T09:00:00+01:00 reminder stage 1, due 2026-03-31T17:00:00+01:00".to_string(),
    ];
    for (i, day) in [
        "04-01", "04-02", "04-07", "04-08", "04-09", "04-10", "04-13",
    ]
    .iter()
    .enumerate()
    {
        expected.push(format!(
            "2026-{day}T09:00:00+01:00 overdue #{} stage 1",
            i + 1
        ));
    }
    assert_eq!(rig.timeline(&reference).await, expected);
    let posts = rig.posts(&reference).await;
    assert_in_working_hours(rig.calendar("sunderland"), &posts);
    let everyone = thread_and_dms(
        &["teams sunderland-asc", "teams sunderland-community"],
        &[
            "teams sunderland-asc-practitioner",
            "teams sunderland-community-practitioner",
        ],
    );
    for p in &posts {
        assert_eq!(p.targets, everyone, "{} at {}", p.kind, format_uk(p.at));
    }
    assert_eq!(rig.schedule_count(&reference, "pending").await, 0);
    assert_eq!(rig.schedule_count(&reference, "cancelled").await, 1);
}

#[tokio::test]
async fn a_durham_dispute_asks_each_working_day_for_the_reason_for_delay_records_whether_one_was_given_and_tells_the_business_unit_at_steps_three_and_four()
 {
    // Raised Thu 26 March 2026, 15:00 GMT. Step 1: 1 working day from first raising, due Fri 27
    // March 17:00 GMT (no reminder: the working day before is the day it was raised, already
    // open). Overdue Mon 30 (BST from Sun 29), Tue 31, Wed 1, Thu 2 April 09:00, each asking for
    // the reason; the raiser records one on Thu 2 at 11:00; [Easter] Tue 7 09:00 shows it on
    // record. Escalated Tue 7 at 10:00: step 2 is 3 working days, due Fri 10 17:00; reminder Thu
    // 9 09:00; overdue Mon 13 and Tue 14 09:00 ask again (a new step needs its own reason).
    // Escalated with a reason on Tue 14 at 10:00 to step 3: the business unit is told; step 3 is
    // due 21 days from first raising, Thu 16 April 17:00; reminder Wed 15; overdue Fri 17 and
    // Mon 20. Escalated on Mon 20 at 10:00 to step 4: unit and chair told; due 28 days from first
    // raising, Thu 23 April 17:00; reminder Wed 22; overdue Fri 24 and Mon 27.
    let rig = Rig::new("2026-03-26T15:00:00+00:00").await;
    let c = cast("durham");
    let reference = rig.raise(c.raiser, c.details()).await;
    rig.run_until("2026-04-02T11:00:00+01:00").await;
    rig.act(
        c.raiser,
        &reference,
        Command::RecordDelayReason {
            reason: "The decision maker was on leave until Thursday.".into(),
        },
    )
    .await;
    rig.run_until("2026-04-07T10:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("No resolve with the decision maker."),
    )
    .await;
    rig.run_until("2026-04-14T10:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate_late(
            "Managers could not agree.",
            "Waited for the strategy meeting minutes.",
        ),
    )
    .await;
    rig.run_until("2026-04-20T10:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate_late(
            "Heads of service could not agree.",
            "The form took two days to complete.",
        ),
    )
    .await;
    rig.run_until("2026-04-27T12:00:00+01:00").await;

    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-03-30T09:00:00+01:00 overdue #1 stage 1, reason for delay asked",
            "2026-03-31T09:00:00+01:00 overdue #2 stage 1, reason for delay asked",
            "2026-04-01T09:00:00+01:00 overdue #3 stage 1, reason for delay asked",
            "2026-04-02T09:00:00+01:00 overdue #4 stage 1, reason for delay asked",
            "2026-04-07T09:00:00+01:00 overdue #5 stage 1, reason for delay on record",
            "2026-04-09T09:00:00+01:00 reminder stage 2, due 2026-04-10T17:00:00+01:00",
            "2026-04-13T09:00:00+01:00 overdue #1 stage 2, reason for delay asked",
            "2026-04-14T09:00:00+01:00 overdue #2 stage 2, reason for delay asked",
            "2026-04-14T10:00:00+01:00 board notified: boardbusinessunit",
            "2026-04-15T09:00:00+01:00 reminder stage 3, due 2026-04-16T17:00:00+01:00",
            "2026-04-17T09:00:00+01:00 overdue #1 stage 3, reason for delay asked",
            "2026-04-20T09:00:00+01:00 overdue #2 stage 3, reason for delay asked",
            "2026-04-20T10:00:00+01:00 board notified: boardbusinessunit",
            "2026-04-20T10:00:00+01:00 board notified: boardchair",
            "2026-04-22T09:00:00+01:00 reminder stage 4, due 2026-04-23T17:00:00+01:00",
            "2026-04-24T09:00:00+01:00 overdue #1 stage 4, reason for delay asked",
            "2026-04-27T09:00:00+01:00 overdue #2 stage 4, reason for delay asked",
        ]
    );

    // The prompt itself asks for the reason, or says one is on record.
    let events = rig.events(&reference).await;
    for e in &events {
        if let EventBody::OverduePrompted {
            prompt,
            delay_reason_given,
            ..
        } = &e.body
        {
            if *delay_reason_given {
                assert!(
                    prompt.contains("A reason for the delay is on record."),
                    "{prompt}"
                );
            } else {
                assert!(
                    prompt.contains("asks for the reason for the delay"),
                    "{prompt}"
                );
            }
            assert!(
                prompt.contains("or to record the reason for the delay"),
                "{prompt}"
            );
        }
    }
    // The prompt reaches the threads as posted text, too.
    let replies = rig.payloads(&reference, "reply").await;
    assert!(
        replies
            .iter()
            .any(|p| p.contains("asks for the reason for the delay")),
        "a thread reply asks for the reason for the delay"
    );
    assert!(
        replies
            .iter()
            .any(|p| p.contains("A reason for the delay is on record.")),
        "a thread reply says the reason is on record"
    );

    let posts = rig.posts(&reference).await;
    assert_in_working_hours(rig.calendar("durham"), &posts);
    let threads = ["teams durham-police", "teams durham-asc"];
    let step1 = thread_and_dms(
        &threads,
        &[
            "teams durham-police-practitioner",
            "teams durham-asc-practitioner",
        ],
    );
    let step2 = thread_and_dms(
        &threads,
        &[
            "teams durham-police-line-manager",
            "teams durham-asc-line-manager",
        ],
    );
    let step34 = thread_and_dms(
        &threads,
        &[
            "teams durham-police-head-of-service",
            "teams durham-asc-head-of-service",
        ],
    );
    for p in &posts {
        let want = match p.kind {
            "board_notified" => sorted(&["notice teams durham-board"]),
            _ if p.at < at("2026-04-07T10:00:00+01:00") => step1.clone(),
            _ if p.at < at("2026-04-14T10:00:00+01:00") => step2.clone(),
            _ => step34.clone(),
        };
        assert_eq!(p.targets, want, "{} at {}", p.kind, format_uk(p.at));
    }
}

#[tokio::test]
async fn a_rochdale_manager_who_does_not_acknowledge_has_their_own_manager_told_once_in_the_thread_and_by_direct_message()
 {
    // Raised Wed 25 March 2026, 10:00 GMT; escalated to stage 2 on Thu 26 at 15:00 GMT. Both
    // first line managers are asked to acknowledge within 1 working day of the stage start: the
    // window closes Fri 27 17:00 GMT, so the nudge waits for the next working hour, Mon 30 March
    // 09:00 BST. The adult social care manager acknowledges on Fri 27; the mental health manager
    // never does: their own manager (the next rung) is told, once.
    // Stage 2 due: Fri 27 (1), Mon 30 (2), Tue 31 (3), Wed 1 (4), Thu 2 April (5) 17:00 BST.
    // Reminder Wed 1 April 09:00; overdue [Easter] Tue 7, Wed 8, Thu 9, Fri 10.
    let rig = Rig::new("2026-03-25T10:00:00+00:00").await;
    let reference = rig
        .raise("rochdale-asc-practitioner", raise_details("rochdale"))
        .await;
    rig.run_until("2026-03-26T15:00:00+00:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("No agreement on the care package."),
    )
    .await;
    rig.run_until("2026-03-27T10:00:00+00:00").await;
    rig.act(
        "rochdale-asc-line-manager",
        &reference,
        Command::Acknowledge,
    )
    .await;
    rig.run_until("2026-04-10T18:00:00+01:00").await;

    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-03-30T09:00:00+01:00 nudge stage 2: rochdale-mh-line-manager -> rochdale-mh-senior-manager",
            "2026-04-01T09:00:00+01:00 reminder stage 2, due 2026-04-02T17:00:00+01:00",
            "2026-04-07T09:00:00+01:00 overdue #1 stage 2",
            "2026-04-08T09:00:00+01:00 overdue #2 stage 2",
            "2026-04-09T09:00:00+01:00 overdue #3 stage 2",
            "2026-04-10T09:00:00+01:00 overdue #4 stage 2",
        ]
    );
    let posts = rig.posts(&reference).await;
    assert_in_working_hours(rig.calendar("rochdale"), &posts);
    let threads = ["slack rochdale-asc", "teams rochdale-mh"];
    let nudge = &posts_of(&posts, "acknowledgement_nudged")[0];
    assert_eq!(
        nudge.targets,
        thread_and_dms(&threads, &["teams rochdale-mh-senior-manager"])
    );
    let owners = thread_and_dms(
        &threads,
        &[
            "slack rochdale-asc-line-manager",
            "teams rochdale-mh-line-manager",
        ],
    );
    for p in posts.iter().filter(|p| p.kind != "acknowledgement_nudged") {
        assert_eq!(p.targets, owners, "{} at {}", p.kind, format_uk(p.at));
    }
}

#[tokio::test]
async fn a_rochdale_dispute_reaching_heads_of_service_tells_the_business_unit_in_its_own_channel_and_reminds_only_the_stage_it_is_at()
 {
    // Raised Mon 19 October 2026 10:00 BST and escalated a stage a day: 2 at 11:00, 3 on Tue 20,
    // 4 on Wed 21, 5 on Thu 22 at 10:00 BST, where the business unit is told senior officers are
    // involved (and the other agency first). Every earlier stage's reminders and nudges are
    // cancelled. Stage 5 due: Fri 23, [clocks go back Sun 25] Mon 26, Tue 27, Wed 28, Thu 29
    // October 17:00 GMT; reminder Wed 28 09:00 GMT; overdue Fri 30 09:00 GMT. Heads of service are
    // not on the nudge list, so stage 5's window passes quietly.
    let rig = Rig::new("2026-10-19T10:00:00+01:00").await;
    let raiser = "rochdale-asc-practitioner";
    let reference = rig.raise(raiser, raise_details("rochdale")).await;
    for when in [
        "2026-10-19T11:00:00+01:00",
        "2026-10-20T10:00:00+01:00",
        "2026-10-21T10:00:00+01:00",
        "2026-10-22T10:00:00+01:00",
    ] {
        rig.run_until(when).await;
        rig.act(
            &rig.mover(&reference).await,
            &reference,
            escalate("Still unresolved at this level."),
        )
        .await;
    }
    rig.run_until("2026-10-30T12:00:00+00:00").await;

    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-10-22T10:00:00+01:00 board notified: boardbusinessunit",
            "2026-10-28T09:00:00+00:00 reminder stage 5, due 2026-10-29T17:00:00+00:00",
            "2026-10-30T09:00:00+00:00 overdue #1 stage 5",
        ]
    );
    let events = rig.events(&reference).await;
    let told_other = events
        .iter()
        .position(|e| matches!(e.body, EventBody::OtherAgencyNotified { .. }));
    let escalated_to_5 = events
        .iter()
        .position(|e| matches!(e.body, EventBody::Escalated { to_stage: 5, .. }));
    assert!(
        told_other.is_some() && told_other < escalated_to_5,
        "the other agency is told before the escalation to heads of service"
    );
    let posts = rig.posts(&reference).await;
    assert_in_working_hours(rig.calendar("rochdale"), &posts);
    let notice = &posts_of(&posts, "board_notified")[0];
    assert_eq!(notice.targets, sorted(&["notice slack rochdale-board"]));
    assert_eq!(notice.available, vec![at("2026-10-22T10:00:00+01:00")]);
    let heads = thread_and_dms(
        &["slack rochdale-asc", "teams rochdale-mh"],
        &[
            "slack rochdale-asc-head-of-service",
            "teams rochdale-mh-head-of-service",
        ],
    );
    for p in posts.iter().filter(|p| p.kind != "board_notified") {
        assert_eq!(p.targets, heads, "{} at {}", p.kind, format_uk(p.at));
    }
}

#[tokio::test]
async fn an_urgent_rochdale_dispute_is_prompted_and_nudged_at_once_even_at_a_weekend_or_after_hours_then_once_each_working_day()
 {
    // Raised on Saturday 28 March 2026 at 11:00 GMT with an adult at immediate risk: the business
    // unit is told at once. At 12:00 the raiser brings stage 1's deadline forward to Sunday 29
    // March 12:00 BST (after the clock change). Urgent: the first overdue prompt goes out then,
    // on a Sunday; the next ones at the opening of each working day, Mon 30 and Tue 31 09:00.
    // Escalated Tue 31 at 10:00: the acknowledgement window closes Wed 1 April 17:00 and, urgent,
    // both managers' managers are told at 17:00, not the next morning. Stage 2 due: Wed 1, Thu 2,
    // [Easter] Tue 7, Wed 8, Thu 9 April 17:00; reminder Wed 8 09:00; overdue at once Thu 9
    // 17:00, then Fri 10 09:00.
    let rig = Rig::new("2026-03-28T11:00:00+00:00").await;
    // An agency maintains a position of non-involvement, so the raiser answers yes (14.3.2).
    let urgent = RaiseDetails {
        immediate_risk: true,
        notices: crate::helpers::answers(true),
        ..details(
            "rochdale-mh",
            Some("rochdale-mh-practitioner"),
            "service-provision",
        )
    };
    let reference = rig.raise("rochdale-asc-practitioner", urgent).await;
    rig.run_until("2026-03-28T12:00:00+00:00").await;
    rig.act(
        "rochdale-asc-practitioner",
        &reference,
        Command::BringDeadlineForward {
            due: at("2026-03-29T12:00:00+01:00"),
            reason: "Discharge is planned for Sunday afternoon.".into(),
        },
    )
    .await;
    rig.run_until("2026-03-31T10:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("No agreement before discharge."),
    )
    .await;
    rig.run_until("2026-04-10T12:00:00+01:00").await;

    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-03-28T11:00:00+00:00 board notified: boardbusinessunit",
            "2026-03-29T12:00:00+01:00 overdue #1 stage 1",
            "2026-03-30T09:00:00+01:00 overdue #2 stage 1",
            "2026-03-31T09:00:00+01:00 overdue #3 stage 1",
            "2026-04-01T17:00:00+01:00 nudge stage 2: rochdale-asc-line-manager -> rochdale-asc-senior-manager",
            "2026-04-01T17:00:00+01:00 nudge stage 2: rochdale-mh-line-manager -> rochdale-mh-senior-manager",
            "2026-04-08T09:00:00+01:00 reminder stage 2, due 2026-04-09T17:00:00+01:00",
            "2026-04-09T17:00:00+01:00 overdue #1 stage 2",
            "2026-04-10T09:00:00+01:00 overdue #2 stage 2",
        ]
    );
    let posts = rig.posts(&reference).await;
    let threads = ["slack rochdale-asc", "teams rochdale-mh"];
    for p in &posts {
        assert_eq!(
            p.available,
            vec![p.at],
            "urgent: {} at {} goes out at once",
            p.kind,
            format_uk(p.at)
        );
        let want = match p.kind {
            "board_notified" => sorted(&["notice slack rochdale-board"]),
            // Both nudges are one batch: one reply per thread, and a message to each manager's manager.
            "acknowledgement_nudged" => thread_and_dms(
                &threads,
                &[
                    "slack rochdale-asc-senior-manager",
                    "teams rochdale-mh-senior-manager",
                ],
            ),
            _ if p.at < at("2026-03-31T10:00:00+01:00") => thread_and_dms(
                &threads,
                &[
                    "slack rochdale-asc-practitioner",
                    "teams rochdale-mh-practitioner",
                ],
            ),
            _ => thread_and_dms(
                &threads,
                &[
                    "slack rochdale-asc-line-manager",
                    "teams rochdale-mh-line-manager",
                ],
            ),
        };
        assert_eq!(p.targets, want, "{} at {}", p.kind, format_uk(p.at));
    }
}

#[test]
fn simulate_shows_the_scheduler_s_prompts_reminders_and_notices_in_the_scenario_timeline_as_json_lines()
 {
    // The Durham demo: raised Thu 2 April 2026 (before Easter); step 1 due Tue 7 April 17:00, so
    // the first overdue prompt is Wed 8 April 09:00 and asks for the reason for delay.
    let out = crate::helpers::run_bin(
        &["simulate", "policies/demo/durham-scenario.toml", "--json"],
        None,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            matches!(
                v["kind"].as_str(),
                Some(
                    "reminder_sent"
                        | "overdue_prompted"
                        | "acknowledgement_nudged"
                        | "board_notified"
                )
            )
        })
        .map(|v| {
            format!(
                "{} {}",
                v["at"].as_str().unwrap_or(""),
                v["kind"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "2026-04-08T09:00:00+01:00 overdue_prompted",
            "2026-04-10T09:00:00+01:00 reminder_sent",
            "2026-04-13T12:00:00+01:00 board_notified",
            "2026-04-21T09:30:00+01:00 board_notified",
            "2026-04-21T09:30:00+01:00 board_notified",
            // The Independent Chair's determination (28 April) closes it before step 4's
            // reminder falls due.
        ]
    );
    let overdue = out
        .stdout
        .lines()
        .find(|l| l.contains("\"overdue_prompted\""))
        .expect("an overdue line");
    let v: serde_json::Value = serde_json::from_str(overdue).expect("JSON");
    assert_eq!(v["delay_reason_required"], true);
    assert_eq!(v["delay_reason_given"], false);
    assert_eq!(v["count"], 1);
}

#[tokio::test]
async fn a_policy_reminding_on_the_day_too_skips_the_day_reminder_when_a_calendar_day_deadline_falls_on_a_weekend()
 {
    // Durham as shipped, but reminding the working day before and on the day (`[reminders]
    // working_days_before = [1, 0]`, which the policy format allows). Raised Saturday 18 April
    // 2026 at 10:00 BST: step 1 (1 working day) is due Mon 20 April 17:00, reminded that
    // morning (the day before is before the raising). Escalated on Mon 20 and Tue 21: step 3 is
    // due 21 calendar days from first raising, Saturday 9 May 17:00. Reminded Fri 8 May 09:00;
    // "on the day" is a Saturday, with no working hours before the deadline: no reminder then.
    // Overdue Mon 11 and Tue 12 May 09:00.
    let folder = tempfile::tempdir().expect("a policies folder");
    for entry in std::fs::read_dir(escalation_bot::policy::default_dir()).expect("policies/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mut text = std::fs::read_to_string(&path).expect("a policy file");
            if path.file_stem().is_some_and(|s| s == "durham") {
                // A deadline that stays on the Saturday it is counted to, as a policy may say.
                text = text.replacen(
                    "on_non_working_day = \"next_working_day\"",
                    "on_non_working_day = \"stays\"",
                    1,
                );
                text.push_str(
                    "\n[reminders]\nworking_days_before = [1, 0]\nsource = \"Test setting: the working day before, and on the day\"\n",
                );
            }
            std::fs::write(folder.path().join(path.file_name().expect("a name")), text)
                .expect("copied");
            // The board's forms are templates beside its policy, and travel with it.
            let board = path.file_stem().expect("a name");
            let forms = escalation_bot::policy::default_dir()
                .join(board)
                .join("forms");
            if let Ok(templates) = std::fs::read_dir(&forms) {
                let to = folder.path().join(board).join("forms");
                std::fs::create_dir_all(&to).expect("a forms folder");
                for t in templates {
                    let t = t.expect("an entry").path();
                    std::fs::copy(&t, to.join(t.file_name().expect("a name"))).expect("copied");
                }
            }
        }
    }
    let db = crate::databases::TestDb::sqlite();
    let rig = Rig::with_policies(db, folder.path(), "2026-04-18T10:00:00+01:00").await;
    let c = cast("durham");
    let reference = rig.raise(c.raiser, c.details()).await;
    rig.run_until("2026-04-20T10:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("No resolve with the decision maker."),
    )
    .await;
    rig.run_until("2026-04-21T10:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("Managers could not agree."),
    )
    .await;
    rig.run_until("2026-05-12T12:00:00+01:00").await;

    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-04-20T09:00:00+01:00 reminder stage 1, due 2026-04-20T17:00:00+01:00",
            "2026-04-21T10:00:00+01:00 board notified: boardbusinessunit",
            "2026-05-08T09:00:00+01:00 reminder stage 3, due 2026-05-09T17:00:00+01:00",
            "2026-05-11T09:00:00+01:00 overdue #1 stage 3, reason for delay asked",
            "2026-05-12T09:00:00+01:00 overdue #2 stage 3, reason for delay asked",
        ]
    );
    assert_in_working_hours(rig.calendar("durham"), &rig.posts(&reference).await);
}
