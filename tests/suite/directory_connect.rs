//! Channels connected from the chat and `directory import` on both backends: whichever comes
//! first, and when one is applied while the other is being prepared, neither is lost; and the
//! CSV round trip (export, edit, import) keeps a connected channel.

use crate::databases::{TestDb, at, on_both_backends, run_cli};
use crate::scheduler_rig::service_on;
use escalation_bot::cli::directory::import_people;
use escalation_bot::directory::{AgencyId, Directory, Platform};
use escalation_bot::policy::{self, PolicySet};
use escalation_bot::posts::Origin;
use escalation_bot::service::{ManualClock, Service};
use escalation_bot::store::StoreError;
use std::sync::Arc;

const ALI: &str = "Ali Khan,ali.khan@norfolk-asc.example.org,norfolk-asc,social-worker,jordan.reid@norfolk-asc.example.org\r\n";
const NEW_CHANNEL: &str = "C0ASCNEW01";

/// Helen Ward, Norfolk Adult Social Care's administrator, typing `connect` in a new channel.
async fn connect(service: &Service) -> Result<String, String> {
    let dir = service.directory();
    let helen = dir
        .person(&escalation_bot::directory::PersonId("helen-ward".into()))
        .cloned()
        .expect("Helen Ward is in the demo directory");
    let origin = Origin {
        platform: Platform::Slack,
        workspace: "T0NORFASC".into(),
        channel: NEW_CHANNEL.into(),
        user: "U000105".into(),
    };
    service
        .connect_channel(&helen, Some(&origin), "#asc-challenges", "/challenge")
        .await
}

/// Norfolk Adult Social Care's Slack channel in the directory a service uses now.
fn asc_channel(dir: &Directory) -> Option<(String, bool)> {
    dir.agency(&AgencyId("norfolk-asc".into()))
        .and_then(|a| a.channels.iter().find(|c| c.platform == Platform::Slack))
        .map(|c| (c.channel.clone(), c.connected))
}

async fn export(db: &TestDb) -> String {
    let (code, out, err) = run_cli(&["directory", "export", "--db", &db.url]).await;
    assert_eq!(code, Some(0), "export: {err}");
    out
}

async fn import(db: &TestDb, text: &str) -> String {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = folder.path().join("people.csv");
    std::fs::write(&path, text).expect("the CSV is written");
    let path = path.display().to_string();
    let (code, out, err) = run_cli(&["directory", "import", path.as_str(), "--db", &db.url]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    out
}

/// The changes recorded, as `seq based_on summary`.
async fn changes(db: &TestDb) -> Vec<String> {
    let raw = db.raw().await;
    let rows = raw
        .texts(
            "SELECT seq || ' ' || based_on || ' ' || summary FROM directory_changes ORDER BY seq",
        )
        .await;
    raw.close().await;
    rows
}

async fn a_connect_after_an_import_the_service_has_not_taken_up_keeps_the_import(db: &TestDb) {
    let clock = Arc::new(ManualClock::frozen_at(at("2026-06-01T10:00:00+01:00")));
    let service = service_on(db, clock).await;
    let out = import(db, &format!("{}{ALI}", export(db).await)).await;
    assert!(out.contains("applied as directory change 1"), "{out}");
    // The service has not looked yet when the admin connects.
    assert!(
        service
            .directory()
            .by_email("ali.khan@norfolk-asc.example.org")
            .is_none()
    );
    let answer = connect(&service).await;
    assert_eq!(
        answer.as_deref(),
        Ok("Connected: this is now Norfolk Adult Social Care's challenges channel.")
    );
    let dir = service.directory();
    assert!(
        dir.by_email("ali.khan@norfolk-asc.example.org").is_some(),
        "the import is kept"
    );
    assert_eq!(asc_channel(&dir), Some((NEW_CHANNEL.to_string(), true)));
    let recorded = changes(db).await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(
        recorded[1].starts_with("2 1 connect: norfolk-asc (slack) channel C0ASCNEW01"),
        "the connect is made on the import: {recorded:?}"
    );
}

on_both_backends!(a_connect_after_an_import_the_service_has_not_taken_up_keeps_the_import:
    sqlite_a_connect_after_an_import_keeps_the_import,
    postgres_a_connect_after_an_import_keeps_the_import);

async fn a_connected_channel_survives_an_export_and_import_round_trip(db: &TestDb) {
    let clock = Arc::new(ManualClock::frozen_at(at("2026-06-01T10:00:00+01:00")));
    let service = service_on(db, clock).await;
    connect(&service).await.expect("Helen connects");
    let exported = export(db).await;
    assert!(
        !exported.contains(NEW_CHANNEL),
        "channels are not people: the CSV does not carry them"
    );
    let out = import(db, &format!("{exported}{ALI}")).await;
    assert!(out.contains("applied as directory change 2"), "{out}");
    assert!(
        service
            .refresh_directory()
            .await
            .expect("the import is read")
    );
    let dir = service.directory();
    assert!(dir.by_email("ali.khan@norfolk-asc.example.org").is_some());
    assert_eq!(asc_channel(&dir), Some((NEW_CHANNEL.to_string(), true)));
    // A service starting afresh finds it too.
    let fresh = service_on(
        db,
        Arc::new(ManualClock::frozen_at(at("2026-06-01T11:00:00+01:00"))),
    )
    .await;
    assert!(
        fresh
            .refresh_directory()
            .await
            .expect("the newest change is read")
    );
    assert_eq!(
        asc_channel(&fresh.directory()),
        Some((NEW_CHANNEL.to_string(), true))
    );
}

on_both_backends!(a_connected_channel_survives_an_export_and_import_round_trip:
    sqlite_a_connected_channel_survives_an_export_and_import_round_trip,
    postgres_a_connected_channel_survives_an_export_and_import_round_trip);

async fn an_import_checked_while_an_admin_connects_is_checked_again_and_keeps_the_channel(
    db: &TestDb,
) {
    let clock = Arc::new(ManualClock::frozen_at(at("2026-06-01T10:00:00+01:00")));
    let service = service_on(db, clock).await;
    let store = db.open().await;
    let policies = PolicySet::load_dir(&policy::default_dir()).expect("the shipped policies");
    let file = Directory::load(&crate::databases::demo_directory()).expect("the demo directory");
    let csv = format!("{}{ALI}", export(db).await);
    let handle = tokio::runtime::Handle::current();
    let connected = std::sync::Mutex::new(None);
    // The admin connects after the file was checked on the directory file and before it is
    // written: exactly the moment the import could otherwise undo the connect.
    let imported = import_people(&store, &file, &policies, &csv, false, |_| {
        let mut once = connected.lock().unwrap_or_else(|p| p.into_inner());
        if once.is_none() {
            *once = Some(tokio::task::block_in_place(|| {
                handle.block_on(connect(&service))
            }));
        }
        "import of people.csv".to_string()
    })
    .await
    .expect("the import runs")
    .expect("the file is valid");
    let answer = connected
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .expect("the admin connected during the import");
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(
        imported.rechecked_on,
        vec![1],
        "checked again on the connect"
    );
    assert_eq!(imported.applied, Some(2));
    let recorded = changes(db).await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(
        recorded[1].starts_with("2 1 import of people.csv"),
        "{recorded:?}"
    );

    assert!(
        service
            .refresh_directory()
            .await
            .expect("the import is read")
    );
    let dir = service.directory();
    assert!(dir.by_email("ali.khan@norfolk-asc.example.org").is_some());
    assert_eq!(asc_channel(&dir), Some((NEW_CHANNEL.to_string(), true)));

    // A change prepared on an older one is refused outright, and nothing is applied.
    let stale = store
        .apply_directory(&dir.to_stored(), "stale", 1, chrono::Utc::now())
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::DirectoryChanged {
                based_on: 1,
                newest: 2
            })
        ),
        "{stale:?}"
    );
    assert_eq!(changes(db).await.len(), 2);
}

on_both_backends!(an_import_checked_while_an_admin_connects_is_checked_again_and_keeps_the_channel:
    sqlite_an_import_racing_a_connect_keeps_the_channel,
    postgres_an_import_racing_a_connect_keeps_the_channel);
