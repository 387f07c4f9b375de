//! Rewrites that keep the hash chain linking — an edited event rehashed, a deleted event
//! renumbered, the newest events cut off with the head moved back, a wiped log — are caught:
//! by the cross-checks of counters, summaries and request keys when the rewrite is careless,
//! and by the signed checkpoints when it is thorough.

use crate::databases::{Raw, TestDb, at, note, on_both_backends, run_cli, who};
use crate::store_audit::{Log, workload};
use escalation_bot::escalation;
use escalation_bot::store::checkpoint::{CheckpointFinding, CheckpointKey};
use escalation_bot::store::{Batch, GENESIS, Store, event_hash};

fn key() -> CheckpointKey {
    CheckpointKey::from_hex(&"5a".repeat(32)).expect("a valid seed")
}

/// Recomputes every stored hash in log order, as someone covering an edit would, and moves the
/// sealed head to the new newest event.
async fn rehash(raw: &Raw) {
    let positions = raw
        .texts("SELECT CAST(global_seq AS TEXT) FROM events ORDER BY global_seq")
        .await;
    let references = raw
        .texts("SELECT reference FROM events ORDER BY global_seq")
        .await;
    let seqs = raw
        .texts("SELECT CAST(seq AS TEXT) FROM events ORDER BY global_seq")
        .await;
    let bodies = raw
        .texts("SELECT body FROM events ORDER BY global_seq")
        .await;
    let mut last_of: std::collections::HashMap<String, String> = Default::default();
    let mut global = GENESIS.to_string();
    let mut head = (
        String::from("0"),
        String::new(),
        String::new(),
        String::from("0"),
    );
    for (((position, reference), seq), body) in
        positions.iter().zip(&references).zip(&seqs).zip(&bodies)
    {
        let prev = last_of.get(reference).cloned().unwrap_or_default();
        let seq_n: i64 = seq.parse().expect("a number");
        let hash = event_hash(&prev, &global, reference, seq_n, body);
        raw.exec(&format!(
            "UPDATE events SET prev_hash = '{prev}', prev_global_hash = '{global}', hash = '{hash}' WHERE global_seq = {position}"
        ))
        .await;
        last_of.insert(reference.clone(), hash.clone());
        global = hash.clone();
        head = (position.clone(), hash, reference.clone(), seq.clone());
    }
    raw.exec(&format!(
        "UPDATE chain_head SET global_seq = {}, hash = '{}', reference = '{}', seq = {} WHERE id = 1",
        head.0, head.1, head.2, head.3
    ))
    .await;
}

/// A thorough rewrite also puts the summaries and counters in step with the rewritten log.
async fn cover_tracks(store: &Store, raw: &Raw) {
    rehash(raw).await;
    store
        .rebuild_projections()
        .await
        .expect("the summaries rebuild");
    raw.exec("DELETE FROM inbound_keys").await;
    raw.exec("UPDATE reference_counters SET last = (SELECT count(DISTINCT reference) FROM events)")
        .await;
}

/// Signs the head of the workload, rewrites the log thoroughly with `rewrite`, and checks that
/// the chain and cross-checks are fooled while the checkpoint is not.
async fn thorough_rewrite_is_caught_by_the_checkpoint(
    db: &TestDb,
    rewrite: impl Fn(&Log) -> String,
    expected: impl Fn(&CheckpointFinding) -> bool,
) {
    let store = db.open().await;
    let log = workload(&store).await;
    let (position, head) = store.head().await.expect("the head reads");
    let checkpoint = key().sign(position, &head, at("2026-05-27T18:00:00+01:00"));
    assert_eq!(
        store
            .check_checkpoint(&checkpoint, &key().public_key())
            .await
            .expect("checks"),
        CheckpointFinding::Held
    );

    let raw = db.raw().await;
    let sql = rewrite(&log);
    raw.exec(&sql).await;
    cover_tracks(&store, &raw).await;
    raw.close().await;

    let report = store.verify().await.expect("verify runs");
    assert!(
        report.intact(),
        "the thorough rewrite `{sql}` links and agrees with everything in the database: {report:?}"
    );
    let finding = store
        .check_checkpoint(&checkpoint, &key().public_key())
        .await
        .expect("checks");
    assert!(
        expected(&finding),
        "the checkpoint catches `{sql}`: found {finding:?}"
    );
}

async fn an_edited_event_rehashed(db: &TestDb) {
    thorough_rewrite_is_caught_by_the_checkpoint(
        db,
        |l| {
            format!(
                "UPDATE events SET body = replace(body, 'A second note', 'A quietly changed note') WHERE reference = '{}' AND seq = {}",
                l.a, l.a_notes[1]
            )
        },
        |f| matches!(f, CheckpointFinding::Rewritten { .. }),
    )
    .await;
}

on_both_backends!(an_edited_event_rehashed:
    an_edited_event_with_every_hash_recomputed_is_caught_by_a_signed_checkpoint_on_sqlite,
    an_edited_event_with_every_hash_recomputed_is_caught_by_a_signed_checkpoint_on_postgres);

async fn a_deleted_event_renumbered(db: &TestDb) {
    thorough_rewrite_is_caught_by_the_checkpoint(
        db,
        |l| {
            format!(
                "DELETE FROM events WHERE reference = '{a}' AND seq = {s};
                 UPDATE events SET seq = seq - 1 WHERE reference = '{a}' AND seq > {s};",
                a = l.a,
                s = l.a_notes[1]
            )
        },
        |f| matches!(f, CheckpointFinding::Rewritten { .. }),
    )
    .await;
}

on_both_backends!(a_deleted_event_renumbered:
    a_deleted_event_with_the_rest_renumbered_and_rehashed_is_caught_by_a_signed_checkpoint_on_sqlite,
    a_deleted_event_with_the_rest_renumbered_and_rehashed_is_caught_by_a_signed_checkpoint_on_postgres);

async fn a_truncated_tail(db: &TestDb) {
    thorough_rewrite_is_caught_by_the_checkpoint(
        db,
        |l| {
            format!(
                "DELETE FROM events WHERE reference = '{}' AND seq = {}",
                l.a, l.a_notes[2]
            )
        },
        |f| matches!(f, CheckpointFinding::Missing { newest } if *newest > 0),
    )
    .await;
}

on_both_backends!(a_truncated_tail:
    the_newest_events_cut_off_with_the_head_moved_back_are_caught_by_a_signed_checkpoint_on_sqlite,
    the_newest_events_cut_off_with_the_head_moved_back_are_caught_by_a_signed_checkpoint_on_postgres);

async fn a_wiped_log(db: &TestDb) {
    thorough_rewrite_is_caught_by_the_checkpoint(
        db,
        |_| "DELETE FROM events".to_string(),
        |f| *f == CheckpointFinding::Missing { newest: 0 },
    )
    .await;
}

on_both_backends!(a_wiped_log:
    a_wiped_log_is_caught_by_a_signed_checkpoint_on_sqlite,
    a_wiped_log_is_caught_by_a_signed_checkpoint_on_postgres);

/// Careless rewrites that keep the chain linking are caught without any checkpoint.
async fn careless_rewrites_are_caught_by_the_cross_checks(db: &TestDb) {
    // A wiped log with its head reset: the counters and summaries remember the disputes.
    let store = db.open().await;
    let log = workload(&store).await;
    let raw = db.raw().await;
    raw.exec("DELETE FROM events; UPDATE chain_head SET global_seq = 0, hash = '', reference = '', seq = 0 WHERE id = 1").await;
    let report = store.verify().await.expect("verify runs");
    assert_eq!(report.broken, None, "an empty log links: {report:?}");
    let all = report.inconsistencies.join("\n");
    assert!(
        all.contains(&format!("{}: this reference was issued", log.a))
            && all.contains(&format!(
                "{}: the open-challenge lists show this dispute",
                log.b
            )),
        "the counters and the summaries name the wiped disputes: {all}"
    );

    raw.close().await;

    // The newest event cut off and the log rehashed: the summary's version is ahead of the log.
    let fresh = TestDb::new(db.backend).await;
    let store = fresh.open().await;
    let log = workload(&store).await;
    let raw = fresh.raw().await;
    raw.exec(&format!(
        "DELETE FROM events WHERE reference = '{}' AND seq = {}",
        log.a, log.a_notes[2]
    ))
    .await;
    rehash(&raw).await;
    raw.close().await;
    let report = store.verify().await.expect("verify runs");
    assert_eq!(report.broken, None, "the rehashed log links: {report:?}");
    assert!(
        report
            .inconsistencies
            .iter()
            .any(|p| p.starts_with(&format!("{}: the stored summary", log.a))),
        "the summary shows the cut: {report:?}"
    );
}

on_both_backends!(careless_rewrites_are_caught_by_the_cross_checks:
    careless_rewrites_that_keep_the_chain_linking_are_caught_by_counters_and_summaries_on_sqlite,
    careless_rewrites_that_keep_the_chain_linking_are_caught_by_counters_and_summaries_on_postgres);

/// A request recorded with its key whose events are removed (and the log rehashed) is caught by the key.
async fn a_removed_request_is_caught_by_its_key(db: &TestDb) {
    let store = db.open().await;
    let log = workload(&store).await;
    let state = store.load(&log.b).await.expect("loads");
    let now = at("2026-05-28T10:00:00+01:00");
    let events = escalation::handle(
        &state,
        &who("nurse-chen"),
        &note("B third note"),
        &crate::databases::world().ctx(now),
    )
    .expect("the note is accepted");
    store
        .append(
            &log.b,
            state.version,
            &Batch {
                events,
                inbound_key: Some("slack:T1:trigger-42".into()),
                ..Batch::default()
            },
        )
        .await
        .expect("recorded");
    let raw = db.raw().await;
    raw.exec(&format!(
        "DELETE FROM events WHERE reference = '{}' AND body LIKE '%B third note%'",
        log.b
    ))
    .await;
    rehash(&raw).await;
    store.rebuild_projections().await.expect("rebuilds");
    raw.close().await;
    let report = store.verify().await.expect("verify runs");
    assert!(
        report
            .inconsistencies
            .iter()
            .any(|p| p.starts_with(&format!(
                "{}: a request (key \"slack:T1:trigger-42\") was recorded",
                log.b
            ))),
        "the request key remembers the removed note: {report:?}"
    );
}

on_both_backends!(a_removed_request_is_caught_by_its_key:
    a_removed_request_is_caught_by_its_inbound_key_on_sqlite,
    a_removed_request_is_caught_by_its_inbound_key_on_postgres);

/// `audit verify` with a checkpoints file and the public key to check it with.
async fn verify_against(
    db: &TestDb,
    file: &str,
    public_key: &str,
) -> (Option<i32>, String, String) {
    run_cli(&[
        "audit",
        "verify",
        "--db",
        &db.url,
        "--checkpoints",
        file,
        "--public-key",
        public_key,
    ])
    .await
}

async fn the_command_line(db: &TestDb) {
    let store = db.open().await;
    workload(&store).await;
    let seed = "5a".repeat(32);
    let public = key().public_key_hex();

    let (code, stdout, stderr) = run_cli(&[
        "audit",
        "checkpoint",
        "--db",
        &db.url,
        "--signing-key",
        &seed,
    ])
    .await;
    assert_eq!(code, Some(0), "checkpoint prints: {stdout} {stderr}");
    let folder = tempfile::tempdir().expect("a temporary folder");
    let file = folder.path().join("checkpoints.jsonl");
    std::fs::write(
        &file,
        format!("# kept by the board business unit\n{stdout}"),
    )
    .expect("written");
    let file = file.to_string_lossy().to_string();

    let (code, stdout, stderr) = verify_against(db, &file, &public).await;
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stdout.contains("ok: the log holds all 1 checkpoints"),
        "{stdout}"
    );

    let (code, _, stderr) =
        run_cli(&["audit", "verify", "--db", &db.url, "--checkpoints", &file]).await;
    assert_eq!(code, Some(2), "no key given is an error: {stderr}");
    assert!(
        stderr.contains("--public-key"),
        "it says what to give: {stderr}"
    );

    let other = CheckpointKey::from_hex(&"6b".repeat(32))
        .expect("seed")
        .public_key_hex();
    let (code, stdout, _) = verify_against(db, &file, &other).await;
    assert_eq!(code, Some(1));
    assert!(stdout.contains("signature does not verify"), "{stdout}");

    let raw = db.raw().await;
    raw.exec("DELETE FROM events").await;
    cover_tracks(&store, &raw).await;
    raw.close().await;
    let (code, stdout, _) = verify_against(db, &file, &public).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("ok: 0 events"),
        "the chain alone is fooled: {stdout}"
    );
    assert!(
        stdout.contains("it was wiped"),
        "the checkpoint is not: {stdout}"
    );

    let (code, stdout, _) = run_cli(&["audit", "new-key"]).await;
    assert_eq!(code, Some(0));
    assert!(
        stdout.starts_with("AUDIT_SIGNING_KEY=") && stdout.contains("public key: "),
        "{stdout}"
    );
}

on_both_backends!(the_command_line:
    audit_checkpoint_and_verify_checkpoints_on_the_command_line_on_sqlite,
    audit_checkpoint_and_verify_checkpoints_on_the_command_line_on_postgres);
