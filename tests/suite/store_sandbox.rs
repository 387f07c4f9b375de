//! The sandbox's posts and demo clock in the store, on SQLite and PostgreSQL alike.

use crate::databases::{TestDb, on_both_backends};
use chrono::{DateTime, Duration, Utc};
use escalation_bot::store::NewSandboxPost;
use serde_json::json;

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
) -> NewSandboxPost {
    NewSandboxPost {
        kind: kind.into(),
        reference: "NSAB-2026-0001".into(),
        channel: channel.map(str::to_string),
        thread,
        person: person.map(str::to_string),
        message: json!({ "title": title }),
        at: when,
    }
}

async fn posts_keep_their_order_threads_and_in_place_updates(db: &TestDb) {
    let store = db.open().await;
    let t0 = at("2026-06-01T09:40:00.123456+01:00");
    let root = store
        .sandbox_post(&post("root", Some("norfolk-asc"), None, None, "v1", t0))
        .await
        .expect("root");
    let reply = store
        .sandbox_post(&post(
            "reply",
            Some("norfolk-asc"),
            Some(root),
            None,
            "escalated",
            t0 + Duration::minutes(5),
        ))
        .await
        .expect("reply");
    let receipt = store
        .sandbox_post(&post(
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
        store
            .sandbox_update_root(root, &json!({ "title": "v2" }), later)
            .await
            .expect("update")
    );
    assert!(
        !store
            .sandbox_update_root(reply, &json!({ "title": "no" }), later)
            .await
            .expect("update"),
        "only a root is rewritten"
    );
    let all = store.sandbox_posts().await.expect("posts");
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
    let store = db.open().await;
    assert_eq!(
        store.sandbox_clock_offset().await.expect("offset"),
        0,
        "a new database starts on real time"
    );
    store
        .set_sandbox_clock_offset(3_600_000_000)
        .await
        .expect("kept");
    store
        .set_sandbox_clock_offset(7_200_000_000)
        .await
        .expect("kept again");
    drop(store);
    let store = db.open().await;
    assert_eq!(
        store.sandbox_clock_offset().await.expect("offset"),
        7_200_000_000
    );
}

on_both_backends!(the_demo_clock_offset_survives_a_reopen:
    the_sandbox_demo_clock_offset_survives_a_reopen_on_sqlite,
    the_sandbox_demo_clock_offset_survives_a_reopen_on_postgres);
