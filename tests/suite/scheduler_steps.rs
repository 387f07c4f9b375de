//! Named steps with their own clocks are reminded and prompted like stages (Sunderland's
//! written response "within 5 days of the review").

use crate::helpers::{cast, escalate};
use crate::scheduler_rig::Rig;
use escalation_bot::calendar::format_uk;
use escalation_bot::escalation::{Command, EventBody};

#[tokio::test]
async fn a_sunderland_written_response_left_undone_is_reminded_the_working_day_before_and_prompted_once_it_is_late()
 {
    // Raised Mon 1 June 2026; stages 1 and 2 pass at once; the review is recorded on Tue 2 June
    // at 10:00 BST. Day 0 is Tue 2 June, so the written response (5 calendar days) is due
    // Sun 7 June 17:00. Reminder: the opening of the working day before, Fri 5 June 09:00;
    // overdue prompt: the next working hour after the deadline, Mon 8 June 09:00.
    let rig = Rig::new("2026-06-01T10:00:00+01:00").await;
    let c = cast("sunderland");
    let reference = rig.raise(c.raiser, c.details()).await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("No agreement between the practitioners."),
    )
    .await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("The proforma went to the senior manager."),
    )
    .await;
    rig.run_until("2026-06-02T10:00:00+01:00").await;
    rig.act(
        c.raiser,
        &reference,
        Command::CompleteStep {
            step: "review".into(),
            at: None,
            note: None,
        },
    )
    .await;
    rig.run_until("2026-06-09T17:00:00+01:00").await;

    let prompts: Vec<String> = rig
        .events(&reference)
        .await
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::StepPrompted {
                step, due, overdue, ..
            } => Some(format!(
                "{} {step} due {} {}",
                format_uk(e.at),
                format_uk(*due),
                if *overdue { "overdue" } else { "reminder" }
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        prompts,
        [
            // 5 days after the review (Tue 2 June) is Sunday 7 June: Sunderland's policy moves a
            // calendar-day deadline off a day nobody works, to the close of Monday 8 June.
            "2026-06-05T09:00:00+01:00 written-response due 2026-06-08T17:00:00+01:00 reminder",
            "2026-06-09T09:00:00+01:00 written-response due 2026-06-08T17:00:00+01:00 overdue",
        ]
    );

    // Recording the step in time stops the prompts: a second dispute does it on Fri 5 June.
    let other = rig.raise(c.raiser, c.details()).await;
    rig.act(&rig.mover(&other).await, &other, escalate("No agreement."))
        .await;
    rig.act(&rig.mover(&other).await, &other, escalate("Proforma sent."))
        .await;
    rig.act(
        c.raiser,
        &other,
        Command::CompleteStep {
            step: "review".into(),
            at: None,
            note: None,
        },
    )
    .await;
    rig.act(
        c.raiser,
        &other,
        Command::CompleteStep {
            step: "written-response".into(),
            at: None,
            note: None,
        },
    )
    .await;
    rig.run_until("2026-06-30T17:00:00+01:00").await;
    assert!(
        !rig.events(&other)
            .await
            .iter()
            .any(|e| matches!(e.body, EventBody::StepPrompted { .. })),
        "a step recorded in time is never prompted"
    );
}
