//! What adapters keep for themselves (the sandbox's posts and demo clock, Teams addresses), in the
//! store's generic adapter state, on SQLite and PostgreSQL alike; and a database written before
//! that state moved out of the record's tables keeps all of it on upgrade.

use crate::databases::{Backend, TestDb, on_both_backends};
use crate::scheduler_rig::service_on;
use chrono::{DateTime, Duration, Utc};
use escalation_bot::chat::sandbox::kept::{NewPost, SandboxKept};
use escalation_bot::chat::teams::known::KnownAddresses;
use escalation_bot::service::ManualClock;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn post(
    kind: &str,
    channel: Option<&str>,
    thread: Option<i64>,
    person: Option<&str>,
    title: &str,
    when: DateTime<Utc>,
) -> NewPost {
    NewPost {
        kind: kind.into(),
        reference: "NSAB-2026-0001".into(),
        channel: channel.map(str::to_string),
        thread,
        person: person.map(str::to_string),
        message: json!({ "title": title }),
        at: when,
        outbox_key: None,
    }
}

async fn kept_on(db: &TestDb) -> SandboxKept {
    let clock = Arc::new(ManualClock::frozen_at(at("2026-06-01T09:00:00+01:00")));
    SandboxKept::of(service_on(db, clock).await.as_ref())
}

async fn posts_keep_their_order_threads_and_in_place_updates(db: &TestDb) {
    let kept = kept_on(db).await;
    let t0 = at("2026-06-01T09:40:00.123456+01:00");
    let root = kept
        .add(&post("root", Some("norfolk-asc"), None, None, "v1", t0))
        .await
        .expect("root");
    let reply = kept
        .add(&post(
            "reply",
            Some("norfolk-asc"),
            Some(root),
            None,
            "escalated",
            t0 + Duration::minutes(5),
        ))
        .await
        .expect("reply");
    let receipt = kept
        .add(&post(
            "receipt",
            Some("norfolk-asc"),
            None,
            Some("sam-patel"),
            "raised",
            t0,
        ))
        .await
        .expect("receipt");
    assert!(root < reply && reply < receipt, "ids follow posting order");
    let later = t0 + Duration::hours(1);
    assert!(
        kept.update_root(root, &json!({ "title": "v2" }), later)
            .await
            .expect("update")
    );
    assert!(
        !kept
            .update_root(reply, &json!({ "title": "no" }), later)
            .await
            .expect("update"),
        "only a root is rewritten"
    );
    assert!(
        !kept
            .update_root(receipt + 100, &json!({ "title": "no" }), later)
            .await
            .expect("update"),
        "a post that does not exist is not made up"
    );
    let all = kept.posts().await.expect("posts");
    assert_eq!(all.len(), 3);
    assert_eq!(
        (
            all[0].message["title"].as_str(),
            all[0].revision,
            all[0].posted_at,
            all[0].updated_at
        ),
        (Some("v2"), 2, t0, later)
    );
    assert_eq!((all[1].kind.as_str(), all[1].thread), ("reply", Some(root)));
    assert_eq!(
        (all[2].person.as_deref(), all[2].channel.as_deref()),
        (Some("sam-patel"), Some("norfolk-asc"))
    );
}

on_both_backends!(posts_keep_their_order_threads_and_in_place_updates:
    sandbox_posts_keep_their_order_threads_and_in_place_updates_on_sqlite,
    sandbox_posts_keep_their_order_threads_and_in_place_updates_on_postgres);

async fn the_demo_clock_offset_survives_a_reopen(db: &TestDb) {
    let kept = kept_on(db).await;
    assert_eq!(
        kept.clock_offset().await.expect("offset"),
        0,
        "a new database starts on real time"
    );
    kept.set_clock_offset(3_600_000_000).await.expect("kept");
    kept.set_clock_offset(7_200_000_000)
        .await
        .expect("kept again");
    drop(kept);
    let kept = kept_on(db).await;
    assert_eq!(kept.clock_offset().await.expect("offset"), 7_200_000_000);
}

/// A sandbox post keeps the outbox key it was made for, so a post whose outcome was lost (the
/// worker died after making it) is found instead of made again.
async fn a_post_is_found_by_its_outbox_key(db: &TestDb) {
    let kept = kept_on(db).await;
    let t0 = at("2026-06-01T09:40:00+01:00");
    kept.add(&post(
        "notice",
        Some("norfolk-asc"),
        None,
        None,
        "other",
        t0,
    ))
    .await
    .expect("a post without a key");
    let root = kept
        .add(&NewPost {
            outbox_key: Some("cmd:1:root".into()),
            ..post("root", Some("norfolk-asc"), None, None, "v1", t0)
        })
        .await
        .expect("root");
    assert_eq!(
        kept.posted_for("cmd:1:root").await.expect("reads"),
        Some((root, "root".to_string()))
    );
    assert_eq!(kept.posted_for("cmd:1:reply").await.expect("reads"), None);
}

on_both_backends!(a_post_is_found_by_its_outbox_key:
    a_sandbox_post_is_found_by_its_outbox_key_on_sqlite,
    a_sandbox_post_is_found_by_its_outbox_key_on_postgres);

on_both_backends!(the_demo_clock_offset_survives_a_reopen:
    the_sandbox_demo_clock_offset_survives_a_reopen_on_sqlite,
    the_sandbox_demo_clock_offset_survives_a_reopen_on_postgres);

async fn concurrent_posters_never_get_the_same_post_number(db: &TestDb) {
    let kept = kept_on(db).await;
    let t0 = at("2026-06-01T09:40:00+01:00");
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let kept = kept.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..15 {
                let title = format!("worker {worker} post {n}");
                let p = post("notice", Some("nsab"), None, None, &title, t0);
                ids.push(kept.add(&p).await.expect("posted"));
            }
            ids
        }));
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        for id in task.await.expect("the task finishes") {
            assert!(ids.insert(id), "post number {id} was given twice");
        }
    }
    assert_eq!(ids.len(), 60);
    assert_eq!(
        kept.posts().await.expect("posts").len(),
        60,
        "none overwrote another"
    );
}

on_both_backends!(concurrent_posters_never_get_the_same_post_number:
    concurrent_sandbox_posters_never_get_the_same_post_number_on_sqlite,
    concurrent_sandbox_posters_never_get_the_same_post_number_on_postgres);

/// The tables Teams addresses and the sandbox lived in before they moved to the adapter state,
/// as their migrations made them.
fn old_tables(backend: Backend) -> String {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = crate::helpers::crate_root()
        .join("src/store/migrations")
        .join(folder);
    ["0003_teams.sql", "0004_sandbox.sql"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(dir.join(f)).expect("the old migration is in the repository")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn an_upgraded_database_keeps_its_teams_addresses_sandbox_posts_and_clock(db: &TestDb) {
    // A database as the release before wrote it: migrated up to 0005, with Teams addresses,
    // two sandbox posts (a root rewritten once, a reply) and a demo clock 2 hours ahead.
    drop(db.open().await);
    let raw = db.raw().await;
    raw.exec("DROP TABLE adapter_state").await;
    raw.exec("DELETE FROM _sqlx_migrations WHERE version = 6")
        .await;
    raw.exec(&old_tables(db.backend)).await;
    raw.exec(
        "INSERT INTO teams_tenants (tenant, service_url, updated_us) VALUES ('tenant-1', 'https://smba.example/emea/', 1);
         INSERT INTO teams_users (tenant, aad_object_id, user_id, updated_us) VALUES ('tenant-1', 'aad-1', '29:user-1', 1);
         INSERT INTO sandbox_clock (id, offset_us) VALUES (1, 7200000000);
         INSERT INTO sandbox_posts (id, kind, reference, channel, thread, person, message, posted_us, updated_us, revision)
             VALUES (1, 'root', 'NSAB-2026-0001', 'norfolk-asc', NULL, NULL, '{\"title\":\"v2\"}', 10, 20, 2);
         INSERT INTO sandbox_posts (id, kind, reference, channel, thread, person, message, posted_us, updated_us, revision)
             VALUES (2, 'reply', 'NSAB-2026-0001', 'norfolk-asc', 1, NULL, '{\"title\":\"escalated\"}', 30, 30, 1);",
    )
    .await;
    raw.close().await;

    // This release opens it: the migration moves everything into the adapter state.
    let clock = Arc::new(ManualClock::frozen_at(at("2026-06-01T09:00:00+01:00")));
    let service = service_on(db, clock).await;
    let known = KnownAddresses::of(&service);
    assert_eq!(
        known
            .service_url("tenant-1")
            .await
            .expect("read")
            .as_deref(),
        Some("https://smba.example/emea/")
    );
    assert_eq!(
        known
            .user_id("tenant-1", "aad-1")
            .await
            .expect("read")
            .as_deref(),
        Some("29:user-1")
    );
    let kept = SandboxKept::of(&service);
    assert_eq!(kept.clock_offset().await.expect("offset"), 7_200_000_000);
    let posts = kept.posts().await.expect("posts");
    let shown: Vec<String> = posts
        .iter()
        .map(|p| {
            format!(
                "{} {} thread {:?} revision {} {}",
                p.id,
                p.kind,
                p.thread,
                p.revision,
                p.message["title"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "1 root thread None revision 2 v2",
            "2 reply thread Some(1) revision 1 escalated"
        ]
    );
    assert_eq!(posts[0].updated_at.timestamp_micros(), 20);
    // A thread recorded before the upgrade still takes replies, and numbering carries on.
    assert!(
        kept.update_root(
            1,
            &json!({ "title": "v3" }),
            at("2026-06-01T10:00:00+01:00")
        )
        .await
        .expect("update")
    );
    let next = kept
        .add(&post(
            "reply",
            Some("norfolk-asc"),
            Some(1),
            None,
            "later",
            at("2026-06-01T10:00:00+01:00"),
        ))
        .await
        .expect("posted");
    assert_eq!(next, 3, "new posts are numbered after the old ones");
    let raw = db.raw().await;
    let old = raw
        .int("SELECT count(*) FROM _sqlx_migrations WHERE version = 6")
        .await;
    assert_eq!(old, 1, "the migration ran once");
    raw.close().await;
}

on_both_backends!(an_upgraded_database_keeps_its_teams_addresses_sandbox_posts_and_clock:
    an_upgraded_sqlite_database_keeps_its_teams_addresses_sandbox_posts_and_clock,
    an_upgraded_postgres_database_keeps_its_teams_addresses_sandbox_posts_and_clock);
