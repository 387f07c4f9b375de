//! Projections answer who has what open, and rebuilding them from the events gives the same rows.

use crate::databases::{
    ACUTE_V_MH, ASC_V_GP, POLICE_V_ACUTE, TestDb, act, at, escalate, note, on_both_backends, raise,
    run_cli,
};
use escalation_bot::directory::Platform;
use escalation_bot::escalation::{Command, Event, EventBody, Reference, ThreadRef};
use escalation_bot::store::{Batch, Store};

/// Four disputes: one escalated with threads in two agency channels, one withdrawn, one
/// resolved, one just raised.
struct Workload {
    escalated: Reference,
    withdrawn: Reference,
    resolved: Reference,
    raised: Reference,
}

async fn thread_opened(
    store: &Store,
    r: &Reference,
    when: &str,
    platform: Platform,
    channel: &str,
    thread: &str,
) {
    let version = store.load(r).await.expect("loads").version;
    let event = Event {
        at: at(when),
        actor: None,
        directory: None,
        body: EventBody::ThreadOpened {
            thread: ThreadRef {
                platform,
                workspace: "T0NORFOLK".into(),
                channel: channel.into(),
                thread: thread.into(),
            },
        },
    };
    let batch = Batch {
        events: vec![event],
        ..Batch::default()
    };
    store
        .append(r, version, &batch)
        .await
        .expect("a thread is recorded");
}

async fn workload(store: &Store) -> Workload {
    let escalated = raise(store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    thread_opened(
        store,
        &escalated,
        "2026-05-21T09:41:00+01:00",
        Platform::Slack,
        "C0ASC",
        "1779352860.000100",
    )
    .await;
    thread_opened(
        store,
        &escalated,
        "2026-05-21T09:41:30+01:00",
        Platform::Teams,
        "19:gp@thread.tacv2",
        "1779352890000",
    )
    .await;
    let withdrawn = raise(store, POLICE_V_ACUTE, "2026-05-21T10:00:00+01:00").await;
    let resolved = raise(store, ACUTE_V_MH, "2026-05-21T10:30:00+01:00").await;
    act(
        store,
        &escalated,
        "dr-okafor",
        "2026-05-22T11:15:00+01:00",
        note("Spoke by phone."),
    )
    .await;
    act(
        store,
        &withdrawn,
        "pc-evans",
        "2026-05-22T12:00:00+01:00",
        Command::Withdraw {
            reason: "Resolved informally on the ward.".into(),
        },
    )
    .await;
    act(
        store,
        &resolved,
        "mhp-novak",
        "2026-05-22T14:00:00+01:00",
        Command::ProposeResolution {
            rationale: "Both teams reviewed the plan together.".into(),
            outcome: "A joint review on Friday.".into(),
            outstanding: "None outstanding.".into(),
            delay_reason: None,
        },
    )
    .await;
    act(
        store,
        &resolved,
        "nurse-chen",
        "2026-05-22T15:00:00+01:00",
        Command::ConfirmResolution,
    )
    .await;
    act(
        store,
        &escalated,
        "sam-patel",
        "2026-05-26T10:00:00+01:00",
        note("Met; no agreement."),
    )
    .await;
    act(
        store,
        &escalated,
        "sam-patel",
        "2026-05-29T15:00:00+01:00",
        escalate("No agreement after two discussions."),
    )
    .await;
    let raised = raise(store, ASC_V_GP, "2026-06-01T09:30:00+01:00").await;
    Workload {
        escalated,
        withdrawn,
        resolved,
        raised,
    }
}

fn refs(rows: &[escalation_bot::store::DisputeRow]) -> Vec<String> {
    rows.iter().map(|r| r.reference.clone()).collect()
}

async fn projections_answer_and_rebuild_identically(db: &TestDb) {
    let store = db.open().await;
    let w = workload(&store).await;

    // What each dispute's row says matches its state folded from the events.
    for r in [&w.escalated, &w.withdrawn, &w.resolved, &w.raised] {
        let state = store.load(r).await.expect("loads");
        let row = store
            .dispute_row(r)
            .await
            .expect("reads")
            .expect("every raised dispute has a row");
        assert_eq!(row.version, state.version as i64, "{r} version");
        assert_eq!(row.stage, i64::from(state.stage), "{r} stage");
        assert_eq!(row.tier, i64::from(state.tier), "{r} tier");
        assert_eq!(row.stage_name, state.stage_name, "{r} stage name");
        assert_eq!(row.due, state.due, "{r} deadline");
        assert_eq!(
            Some(row.first_raised),
            state.first_raised_at,
            "{r} first raised"
        );
    }
    let escalated = store
        .dispute_row(&w.escalated)
        .await
        .expect("reads")
        .expect("row");
    assert_eq!((escalated.status.as_str(), escalated.stage), ("open", 2));
    assert!(escalated.due.is_some(), "stage 2 has a deadline");
    let status = |r: &Reference| {
        let store = store.clone();
        let r = r.clone();
        async move {
            store
                .dispute_row(&r)
                .await
                .expect("reads")
                .expect("row")
                .status
        }
    };
    assert_eq!(status(&w.withdrawn).await, "withdrawn");
    assert_eq!(status(&w.resolved).await, "resolved");
    assert_eq!(status(&w.raised).await, "open");
    assert_eq!(
        store
            .dispute_row(&Reference::new("NSAB", 2026, 99))
            .await
            .expect("reads"),
        None
    );

    // Open disputes by person and by agency.
    let open = vec![w.escalated.to_string(), w.raised.to_string()];
    assert_eq!(
        refs(&store.open_for_person("sam-patel").await.expect("reads")),
        open,
        "the raiser's open disputes"
    );
    assert_eq!(
        refs(&store.open_for_person("dr-okafor").await.expect("reads")),
        open,
        "the other professional's"
    );
    let jordan = refs(&store.open_for_person("jordan-reid").await.expect("reads"));
    assert_eq!(
        jordan,
        vec![w.escalated.to_string()],
        "the stage 2 manager has the escalated one only"
    );
    assert!(
        store
            .open_for_person("pc-evans")
            .await
            .expect("reads")
            .is_empty(),
        "withdrawn is not open"
    );
    assert!(
        store
            .open_for_person("nurse-chen")
            .await
            .expect("reads")
            .is_empty(),
        "resolved is not open"
    );
    assert!(
        store
            .open_for_person("nobody")
            .await
            .expect("reads")
            .is_empty()
    );
    assert_eq!(
        refs(&store.open_for_agency("norfolk-asc").await.expect("reads")),
        open,
        "raising agency"
    );
    assert_eq!(
        refs(&store.open_for_agency("riverside-gp").await.expect("reads")),
        open,
        "receiving agency"
    );
    assert!(
        store
            .open_for_agency("norfolk-acute")
            .await
            .expect("reads")
            .is_empty()
    );
    assert!(
        store
            .open_for_agency("norfolk-mh")
            .await
            .expect("reads")
            .is_empty()
    );

    // Rebuilding gives identical rows, also after the projections were damaged or wiped.
    let before = store.projection_snapshot().await.expect("snapshot");
    assert_eq!(before.disputes.len(), 4);
    assert_eq!(
        before.threads.len(),
        2,
        "both agency threads are projected: {:?}",
        before.threads
    );
    assert_eq!(store.rebuild_projections().await.expect("rebuilds"), 4);
    assert_eq!(
        store.projection_snapshot().await.expect("snapshot"),
        before,
        "rebuild reproduces the projections"
    );

    let raw = db.raw().await;
    raw.exec(&format!(
        "UPDATE disputes SET stage = 9, status = 'open' WHERE reference = '{}'; DELETE FROM threads; DELETE FROM dispute_people WHERE person = 'jordan-reid'",
        w.withdrawn
    ))
    .await;
    assert_ne!(
        store.projection_snapshot().await.expect("snapshot"),
        before,
        "the damage shows"
    );
    store.rebuild_projections().await.expect("rebuilds");
    assert_eq!(
        store.projection_snapshot().await.expect("snapshot"),
        before,
        "rebuild repairs damage"
    );

    raw.exec("DELETE FROM disputes; DELETE FROM dispute_people; DELETE FROM dispute_agencies; DELETE FROM threads")
        .await;
    raw.close().await;
    let (code, stdout, stderr) = run_cli(&["db", "rebuild-projections", "--db", &db.url]).await;
    assert_eq!(code, Some(0), "stdout: {stdout} stderr: {stderr}");
    assert!(
        stdout.contains("rebuilt the projections of 4 disputes"),
        "{stdout}"
    );
    assert_eq!(
        store.projection_snapshot().await.expect("snapshot"),
        before,
        "the CLI rebuild reproduces them"
    );
    assert_eq!(
        refs(&store.open_for_agency("riverside-gp").await.expect("reads")),
        open
    );
}

on_both_backends!(projections_answer_and_rebuild_identically:
    projections_answer_open_disputes_by_person_and_agency_and_rebuild_identically_on_sqlite,
    projections_answer_open_disputes_by_person_and_agency_and_rebuild_identically_on_postgres);
