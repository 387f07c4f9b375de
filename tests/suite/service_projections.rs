//! Projections written from the service's own decided state equal those rebuilt from events, and
//! so do the challenge log's lines kept on every append.

use crate::helpers::{cast, escalate};
use crate::scheduler_rig::Rig;
use escalation_bot::escalation::{Command, Reference};
use escalation_bot::store::{LogLine, LogScope};

#[tokio::test]
async fn projections_written_through_the_service_are_what_a_rebuild_from_events_gives() {
    let rig = Rig::new("2026-06-01T10:00:00+01:00").await;
    let c = cast("norfolk");
    let first = rig.raise(c.raiser, c.details()).await;
    rig.act(
        c.other,
        &first,
        Command::AddNote {
            text: "Spoke by phone; no agreement yet.".into(),
            how: None,
            held_at: None,
        },
    )
    .await;
    rig.act(
        &rig.mover(&first).await,
        &first,
        escalate("No agreement after two calls."),
    )
    .await;
    let second = rig.raise(c.raiser, c.details()).await;
    rig.act(
        c.raiser,
        &second,
        Command::Withdraw {
            reason: "Resolved informally.".into(),
        },
    )
    .await;
    rig.run_until("2026-06-10T17:00:00+01:00").await;

    let store = rig.db.open().await;
    let live = store.projection_snapshot().await.expect("reads");
    assert_eq!(live.disputes.len(), 2);
    let scope = LogScope {
        board: "norfolk".into(),
        from: None,
        to: None,
        agency: None,
    };
    let lines = store.log_lines(&scope).await.expect("reads");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].highest_stage, 2, "{:?}", lines[0]);
    assert_eq!(lines[1].state, "withdrawn");
    for line in &lines {
        let events = store
            .events(&Reference::parse(&line.reference).expect("a reference"))
            .await
            .expect("reads");
        let mut folded = LogLine::fold(&line.reference, &events).expect("raised");
        folded.version = line.version;
        assert_eq!(
            *line, folded,
            "kept current on every append that changes it"
        );
    }
    store.rebuild_projections().await.expect("rebuilds");
    assert_eq!(store.projection_snapshot().await.expect("reads"), live);
    let rebuilt: Vec<_> = store
        .log_lines(&scope)
        .await
        .expect("reads")
        .into_iter()
        .zip(&lines)
        .map(|(mut r, l)| {
            r.version = l.version;
            r
        })
        .collect();
    assert_eq!(rebuilt, lines);
}
