//! The directory a service runs with is kept in the record, once per distinct content.

use crate::databases::{TestDb, at, on_both_backends};

async fn each_distinct_directory_is_kept_once(db: &TestDb) {
    let store = db.open().await;
    let first =
        std::fs::read_to_string(crate::databases::demo_directory()).expect("demo directory");
    assert!(
        store
            .record_directory(&first, at("2026-06-01T09:00:00+01:00"))
            .await
            .expect("first")
    );
    assert!(
        !store
            .record_directory(&first, at("2026-06-02T09:00:00+01:00"))
            .await
            .expect("again")
    );
    let changed = format!("{first}\n# a person moved team\n");
    assert!(
        store
            .record_directory(&changed, at("2026-06-03T09:00:00+01:00"))
            .await
            .expect("changed")
    );
    let raw = db.raw().await;
    assert_eq!(raw.int("SELECT count(*) FROM directory_versions").await, 2);
    let kept = raw
        .texts("SELECT content FROM directory_versions ORDER BY loaded_us")
        .await;
    assert_eq!(kept, vec![first, changed]);
    raw.close().await;
}

on_both_backends!(each_distinct_directory_is_kept_once:
    sqlite_keeps_each_distinct_directory_once,
    postgres_keeps_each_distinct_directory_once);
