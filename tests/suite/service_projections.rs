//! Projections written from the service's own decided state equal those rebuilt from events.

use crate::helpers::{cast, escalate};
use crate::scheduler_rig::Rig;
use escalation_bot::escalation::Command;

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
    store.rebuild_projections().await.expect("rebuilds");
    assert_eq!(store.projection_snapshot().await.expect("reads"), live);
}
