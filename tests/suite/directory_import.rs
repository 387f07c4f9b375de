//! `directory import` and `export` through the real binary on both backends: a CSV checked as
//! a whole with each problem on its line and nothing applied, an export that imports unchanged,
//! one recorded change per applied import, and a running service taking it up without a restart.

use crate::databases::{ASC_V_GP, TestDb, at, details, note, on_both_backends, run_cli, who};
use crate::scheduler_rig::service_on;
use escalation_bot::directory::{Directory, PersonId};
use escalation_bot::scheduler::Scheduler;
use escalation_bot::service::ManualClock;
use std::path::PathBuf;
use std::sync::Arc;

const ALI: &str = "Ali Khan,ali.khan@norfolk-asc.example.org,norfolk-asc,social-worker,jordan.reid@norfolk-asc.example.org\r\n";

/// A CSV written to its own temporary folder (kept alive with the path).
fn csv_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("people.csv");
    std::fs::write(&path, text).expect("the CSV is written");
    (dir, path)
}

async fn export(db: &TestDb) -> String {
    let (code, out, err) = run_cli(&["directory", "export", "--db", &db.url]).await;
    assert_eq!(code, Some(0), "export: {err}");
    out
}

async fn import(db: &TestDb, path: &std::path::Path, dry_run: bool) -> (Option<i32>, String) {
    let path = path.display().to_string();
    let mut args = vec!["directory", "import", path.as_str(), "--db", &db.url];
    if dry_run {
        args.push("--dry-run");
    }
    let (code, out, err) = run_cli(&args).await;
    (code, format!("{out}{err}"))
}

async fn changes(db: &TestDb) -> i64 {
    let raw = db.raw().await;
    let n = raw.int("SELECT count(*) FROM directory_changes").await;
    raw.close().await;
    n
}

/// The demo export without Sam Patel and with Ali Khan, a new social worker.
fn sam_leaves_ali_joins(exported: &str) -> String {
    let kept: String = exported
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("Sam Patel,"))
        .collect();
    format!("{kept}{ALI}")
}

async fn an_export_imports_unchanged_and_a_change_is_applied_once(db: &TestDb) {
    let exported = export(db).await;
    assert!(exported.starts_with("name,email,agency,role,manager_email\r\n"));
    assert!(exported.contains("Sam Patel,sam.patel@norfolk-asc.example.org,norfolk-asc,social-worker,jordan.reid@norfolk-asc.example.org\r\n"));
    let (_keep, same) = csv_file(&exported);
    let (code, out) = import(db, &same, true).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("added 0\nchanged 0\nleft 0\n"), "{out}");
    assert!(
        out.contains("dry run: the file is valid; nothing was applied"),
        "{out}"
    );
    let (code, out) = import(db, &same, false).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("nothing to apply"), "{out}");
    assert_eq!(
        changes(db).await,
        0,
        "no change recorded for an import that changes nothing"
    );

    let (_keep, changed) = csv_file(&sam_leaves_ali_joins(&exported));
    let (code, out) = import(db, &changed, true).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("added 1: ali.khan@norfolk-asc.example.org"),
        "{out}"
    );
    assert!(
        out.contains("left 1: sam.patel@norfolk-asc.example.org"),
        "{out}"
    );
    assert_eq!(changes(db).await, 0, "a dry run applies nothing");
    let (code, out) = import(db, &changed, false).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied as directory change 1"), "{out}");
    assert_eq!(changes(db).await, 1);

    let after = export(db).await;
    assert!(after.contains(ALI), "{after}");
    assert!(!after.contains("sam.patel@"), "{after}");
    let (code, out) = import(db, &changed, false).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("nothing to apply"), "{out}");
    assert_eq!(changes(db).await, 1, "the same file again records nothing");
}

on_both_backends!(an_export_imports_unchanged_and_a_change_is_applied_once:
    sqlite_directory_export_imports_unchanged_and_a_change_is_applied_once,
    postgres_directory_export_imports_unchanged_and_a_change_is_applied_once);

async fn a_csv_with_problems_names_each_line_and_applies_nothing(db: &TestDb) {
    let text = "name,email,agency,role,manager_email\r\n\
        Ann One,ann.one@norfolk-asc.example.org,norfolk-ascc,social-worker,\r\n\
        Ben Two,ben.two@norfolk-asc.example.org,norfolk-asc,social-wizard,\r\n\
        Cat Three,cat.three@norfolk-asc.example.org,norfolk-asc,social-worker,nobody@norfolk-asc.example.org\r\n\
        Dan Four,Ben.Two@norfolk-asc.example.org,norfolk-asc,social-worker,\r\n\
        Eve Five,eve.five@gmail.com,norfolk-asc,social-worker,\r\n\
        Fay Six,fay.six@norfolk-asc.example.org,norfolk-asc,team-manager,gus.seven@norfolk-asc.example.org\r\n\
        Gus Seven,gus.seven@norfolk-asc.example.org,norfolk-asc,team-manager,fay.six@norfolk-asc.example.org\r\n";
    let (_keep, path) = csv_file(text);
    for dry_run in [true, false] {
        let (code, out) = import(db, &path, dry_run).await;
        assert_eq!(code, Some(1), "{out}");
        for expected in [
            "line 2: unknown agency \"norfolk-ascc\"",
            "line 3: unknown role \"social-wizard\" for norfolk-asc; use one of",
            "line 4: the manager nobody@norfolk-asc.example.org is not in the file or the directory",
            "line 5: the email Ben.Two@norfolk-asc.example.org is already on line 3",
            "line 6: eve.five@gmail.com is outside the email domains of norfolk-asc (norfolk-asc.example.org)",
            "line 7: reporting lines form a cycle",
            "6 problem(s) found; nothing was applied",
        ] {
            assert!(out.contains(expected), "{expected:?} in:\n{out}");
        }
    }
    assert_eq!(changes(db).await, 0);
    assert!(
        export(db).await.contains("Sam Patel,"),
        "the directory in use is untouched"
    );
}

on_both_backends!(a_csv_with_problems_names_each_line_and_applies_nothing:
    sqlite_directory_csv_with_problems_names_each_line_and_applies_nothing,
    postgres_directory_csv_with_problems_names_each_line_and_applies_nothing);

#[tokio::test]
async fn a_csv_with_the_wrong_header_or_no_file_says_what_to_do() {
    let db = TestDb::sqlite();
    let (_keep, path) = csv_file("Name;Email;Agency\r\nA;a@x.org;y\r\n");
    let (code, out) = import(&db, &path, false).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("line 1: the header is \"Name;Email;Agency\"; it must be exactly name,email,agency,role,manager_email"),
        "{out}"
    );
    let (code, out) = import(&db, std::path::Path::new("no-such-people.csv"), false).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("cannot read the directory CSV no-such-people.csv"),
        "{out}"
    );
}

async fn a_running_service_takes_up_an_applied_change_without_a_restart(db: &TestDb) {
    let clock = Arc::new(ManualClock::frozen_at(at("2026-06-01T10:00:00+01:00")));
    let service = service_on(db, clock.clone()).await;
    let replica = service_on(db, clock).await;
    let ali = "ali.khan@norfolk-asc.example.org";
    assert!(service.directory().by_email(ali).is_none());
    assert!(
        !service
            .refresh_directory()
            .await
            .expect("nothing applied yet")
    );

    let (_keep, path) = csv_file(&sam_leaves_ali_joins(&export(db).await));
    let (code, out) = import(db, &path, false).await;
    assert_eq!(code, Some(0), "{out}");

    assert!(
        service
            .refresh_directory()
            .await
            .expect("the change is read")
    );
    let dir = service.directory();
    let found = dir.by_email(ali).expect("Ali is known by email");
    assert_eq!(found.name, "Ali Khan");
    assert_eq!(service.directory_version(), 1);
    assert!(!service.refresh_directory().await.expect("no newer change"));

    // Someone who left keeps their name in the record.
    let sam = PersonId("sam-patel".into());
    assert!(dir.person(&sam).is_none());
    assert_eq!(
        escalation_bot::report::record::who(&dir, Some(&sam)),
        "Sam Patel (no longer in the directory)"
    );

    // Another replica takes it up on its scheduler's next tick.
    Scheduler::new(replica.clone(), "replica".into())
        .tick()
        .await
        .expect("a tick");
    assert!(replica.directory().by_email(ali).is_some());
    assert_eq!(replica.directory_version(), 1);
}

on_both_backends!(a_running_service_takes_up_an_applied_change_without_a_restart:
    sqlite_service_takes_up_an_applied_directory_change_without_a_restart,
    postgres_service_takes_up_an_applied_directory_change_without_a_restart);

/// The content the store keeps under a directory version's hash.
async fn kept_directory(db: &TestDb, sha256: &str) -> String {
    let raw = db.raw().await;
    let kept = raw
        .texts(&format!(
            "SELECT content FROM directory_versions WHERE sha256 = '{sha256}'"
        ))
        .await;
    raw.close().await;
    assert_eq!(kept.len(), 1, "the version {sha256} is kept once");
    kept.into_iter().next().unwrap_or_default()
}

async fn every_decision_names_the_directory_it_was_made_with_and_a_leaver_keeps_their_name(
    db: &TestDb,
) {
    let clock = Arc::new(ManualClock::frozen_at(at("2026-06-01T10:00:00+01:00")));
    let service = service_on(db, clock.clone()).await;
    let raised = service
        .raise(&who(ASC_V_GP.raiser), details(ASC_V_GP), None, None)
        .await
        .expect("Sam raises");
    let reference = raised.reference.clone();
    let before = raised.events[0]
        .directory
        .clone()
        .expect("the raise names the directory it was decided with");
    assert_eq!(
        before.change, 0,
        "the directory file's own, before any import"
    );
    assert!(
        raised
            .events
            .iter()
            .all(|e| e.directory == Some(before.clone()))
    );
    let kept = kept_directory(db, &before.sha256).await;
    assert_eq!(
        escalation_bot::store::directory_sha256(&kept),
        before.sha256
    );
    let then = Directory::from_stored("kept", &kept).expect("the kept version reads");
    assert!(then.person(&who("sam-patel")).is_some(), "Sam was in it");

    // Sam leaves; the service takes the change up and the other side acts after it.
    let (_keep, path) = csv_file(&sam_leaves_ali_joins(&export(db).await));
    let (code, out) = import(db, &path, false).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        service
            .refresh_directory()
            .await
            .expect("the change is read")
    );
    clock.advance(chrono::Duration::minutes(5));
    let noted = service
        .act(
            &who("dr-okafor"),
            &reference,
            &note("Called the ward."),
            None,
            None,
        )
        .await
        .expect("Dr Okafor notes");
    let after = noted.events[0]
        .directory
        .clone()
        .expect("the note names the directory it was decided with");
    assert_eq!(after.change, 1, "the applied import");
    let now = Directory::from_stored("kept", &kept_directory(db, &after.sha256).await)
        .expect("the kept version reads");
    assert!(now.person(&who("sam-patel")).is_none());
    assert_eq!(
        now.name_of(&who("sam-patel")),
        "Sam Patel",
        "kept as someone who left"
    );

    // The stored events say so, and their hashes cover it.
    let stored = service.events(&reference).await.expect("the events load");
    assert_eq!(
        stored.first().and_then(|e| e.directory.clone()),
        Some(before)
    );
    assert_eq!(stored.last().and_then(|e| e.directory.clone()), Some(after));
    let store = db.open().await;
    assert!(store.verify().await.expect("verify").intact());

    // The dispute's record says which directory applied, and still names Sam.
    let dir = service.directory();
    let doc = service
        .reports(&dir)
        .record(&reference)
        .await
        .expect("the record");
    assert_eq!(doc.events[0].who, "Sam Patel (no longer in the directory)");
    let first = doc.events[0].directory.clone().unwrap_or_default();
    assert!(first.starts_with("the directory file (sha256 "), "{first}");
    let last = doc.events.last().and_then(|l| l.directory.clone());
    assert!(
        last.as_deref()
            .is_some_and(|l| l.starts_with("change 1 (sha256 ")),
        "{last:?}"
    );
    assert!(doc.to_html().contains("<th>Directory</th>"));
    let (code, printed, err) = run_cli(&[
        "report",
        "dispute",
        &reference.to_string(),
        "--db",
        &db.url,
        "--format",
        "json",
    ])
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        printed.contains("Sam Patel (no longer in the directory)"),
        "{printed}"
    );
    assert!(printed.contains("change 1 (sha256 "), "{printed}");
}

on_both_backends!(every_decision_names_the_directory_it_was_made_with_and_a_leaver_keeps_their_name:
    sqlite_every_decision_names_the_directory_it_was_made_with,
    postgres_every_decision_names_the_directory_it_was_made_with);

async fn the_directory_a_decision_names_is_covered_by_its_hash(db: &TestDb) {
    let clock = Arc::new(ManualClock::frozen_at(at("2026-06-01T10:00:00+01:00")));
    let service = service_on(db, clock).await;
    let reference = service
        .raise(&who(ASC_V_GP.raiser), details(ASC_V_GP), None, None)
        .await
        .expect("Sam raises")
        .reference;
    let store = db.open().await;
    assert!(store.verify().await.expect("verify").intact());
    // Naming another directory after the fact breaks the chain at that event.
    let raw = db.raw().await;
    let changed = raw
        .exec(&format!(
            "UPDATE events SET body = replace(body, '\"change\":0', '\"change\":7') WHERE reference = '{reference}' AND seq = 1"
        ))
        .await;
    raw.close().await;
    assert_eq!(changed, 1);
    let report = store.verify().await.expect("verify");
    let broken = report.broken.expect("the edit is found");
    assert_eq!(
        (broken.reference.as_str(), broken.seq),
        (reference.to_string().as_str(), 1)
    );
}

on_both_backends!(the_directory_a_decision_names_is_covered_by_its_hash:
    sqlite_the_directory_a_decision_names_is_covered_by_its_hash,
    postgres_the_directory_a_decision_names_is_covered_by_its_hash);
