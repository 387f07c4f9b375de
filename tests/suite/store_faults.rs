//! Bad input: files and databases that are not ours, a schema from a newer binary, a read-only
//! file. Each gives a clear error and writes nothing.

use crate::databases::{ASC_V_GP, Backend, TestDb, on_both_backends, raise};
use escalation_bot::store::{Store, StoreError};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every file in a folder with its size and SHA-256, to show nothing was written.
fn folder_bytes(folder: &Path) -> Vec<(String, usize, String)> {
    use sha2::Digest;
    let mut files: Vec<(String, usize, String)> = std::fs::read_dir(folder)
        .expect("folder reads")
        .filter_map(Result::ok)
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("file reads");
            (
                e.file_name().to_string_lossy().into_owned(),
                bytes.len(),
                hex::encode(sha2::Sha256::digest(&bytes)),
            )
        })
        .collect();
    files.sort();
    files
}

async fn open_err(url: &str) -> StoreError {
    match Store::open(url).await {
        Ok(s) => panic!("{url} should be refused, but it opened as {}", s.backend()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_file_of_random_bytes_is_not_ours_and_is_left_unchanged() {
    let db = TestDb::sqlite();
    // Deterministic noise that does not start with SQLite's header.
    let mut x: u32 = 0x9e37_79b9;
    let noise: Vec<u8> = (0..16_384)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(db.path(), &noise).expect("noise written");
    let before = folder_bytes(&db.folder());
    let e = open_err(&db.url).await;
    assert!(
        matches!(e, StoreError::NotOurs(_)),
        "random bytes are not ours: {e:?}"
    );
    assert!(
        e.to_string().contains("not an escalation-bot database"),
        "{e}"
    );
    assert_eq!(
        folder_bytes(&db.folder()),
        before,
        "the file is unchanged and nothing was added beside it"
    );
}

#[tokio::test]
async fn a_sqlite_database_with_someone_elses_tables_is_not_ours_and_is_left_unchanged() {
    let db = TestDb::sqlite();
    let raw = db.raw().await;
    raw.exec("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO patients (name) VALUES ('someone')")
        .await;
    raw.close().await;
    let before = folder_bytes(&db.folder());
    let e = open_err(&db.url).await;
    assert!(matches!(e, StoreError::NotOurs(_)), "{e:?}");
    assert!(
        e.to_string().contains(&db.url),
        "the message names the file: {e}"
    );
    assert_eq!(folder_bytes(&db.folder()), before, "nothing was written");
    let raw = db.raw().await;
    assert_eq!(
        raw.texts("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .await,
        vec!["patients".to_string()]
    );
    raw.close().await;
}

#[tokio::test]
async fn a_postgres_database_with_someone_elses_tables_is_not_ours_and_is_left_unchanged() {
    let db = TestDb::postgres().await;
    let raw = db.raw().await;
    raw.exec("CREATE TABLE patients (id BIGINT PRIMARY KEY, name TEXT); INSERT INTO patients VALUES (1, 'someone')")
        .await;
    let e = open_err(&db.url).await;
    assert!(matches!(e, StoreError::NotOurs(_)), "{e:?}");
    assert_eq!(
        raw.texts("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
            .await,
        vec!["patients".to_string()],
        "no table was created beside theirs"
    );
    assert_eq!(raw.int("SELECT count(*) FROM patients").await, 1);
    raw.close().await;
}

async fn a_newer_schema_is_refused(db: &TestDb) {
    let store = db.open().await;
    let r = raise(&store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    let events = store.load(&r).await.expect("loads").version;
    drop(store);
    let future: i64 = 99_990_101_000_000;
    let raw = db.raw().await;
    let success = if db.backend == Backend::Sqlite {
        "1"
    } else {
        "true"
    };
    let checksum = if db.backend == Backend::Sqlite {
        "x'00'"
    } else {
        "'\\x00'::bytea"
    };
    raw.exec(&format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ({future}, 'from a newer escalation-bot', {success}, {checksum}, 0)"
    ))
    .await;
    let known = raw
        .int(&format!(
            "SELECT max(version) FROM _sqlx_migrations WHERE version < {future}"
        ))
        .await;
    let e = open_err(&db.url).await;
    match &e {
        StoreError::NewerSchema { found, known: k } => assert_eq!((*found, *k), (future, known)),
        other => panic!("a newer schema is refused as such, not {other:?}"),
    }
    assert!(e.to_string().contains("upgrade the binary"), "{e}");
    assert_eq!(
        raw.int("SELECT count(*) FROM events").await,
        events as i64,
        "the record is untouched"
    );
    raw.close().await;
}

on_both_backends!(a_newer_schema_is_refused:
    a_database_from_a_newer_binary_is_refused_with_newer_schema_on_sqlite,
    a_database_from_a_newer_binary_is_refused_with_newer_schema_on_postgres);

#[tokio::test]
async fn a_read_only_sqlite_file_is_refused_and_nothing_is_written() {
    let db = TestDb::sqlite();
    {
        let store = db.open().await;
        raise(&store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    }
    // Let the pool's connections close and checkpoint before the file is made read-only.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    std::fs::set_permissions(db.path(), std::fs::Permissions::from_mode(0o444)).expect("chmod 444");
    let before = folder_bytes(&db.folder());
    let e = open_err(&db.url).await;
    assert!(
        matches!(e, StoreError::ReadOnly(_)),
        "a read-only file is refused as such: {e:?}"
    );
    assert!(
        e.to_string().contains("write access"),
        "the message says what to do: {e}"
    );
    assert_eq!(folder_bytes(&db.folder()), before, "nothing was written");
    std::fs::set_permissions(db.path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod back");
    db.open().await;
}

/// A migration that fails (here: its table was already made by hand) is rolled back, says why,
/// and leaves the database exactly as it was.
async fn a_failing_migration_leaves_the_database_untouched_and_says_why(db: &TestDb) {
    let store = db.open().await;
    let r = raise(&store, ASC_V_GP, "2026-05-21T09:40:00+01:00").await;
    let events = store.load(&r).await.expect("loads").version as i64;
    drop(store);
    let raw = db.raw().await;
    let last: i64 = raw.int("SELECT max(version) FROM _sqlx_migrations").await;
    // Forget that the last migration ran, while what it made is still there.
    raw.exec(&format!(
        "DELETE FROM _sqlx_migrations WHERE version = {last}"
    ))
    .await;
    let e = open_err(&db.url).await;
    assert!(matches!(e, StoreError::Migration(_)), "{e:?}");
    let message = e.to_string();
    assert!(message.contains("rolled back"), "{message}");
    assert!(message.contains("unchanged"), "{message}");
    // The database's own reason: what the migration makes is there already (a table, or a
    // column, which SQLite calls a duplicate column name).
    assert!(
        message.contains("already exists") || message.contains("duplicate column name"),
        "says why: {message}"
    );
    assert_eq!(
        raw.int(&format!(
            "SELECT count(*) FROM _sqlx_migrations WHERE version = {last}"
        ))
        .await,
        0,
        "the failed migration is not recorded as run"
    );
    assert_eq!(raw.int("SELECT count(*) FROM events").await, events);
    raw.close().await;
}

on_both_backends!(a_failing_migration_leaves_the_database_untouched_and_says_why:
    a_failing_sqlite_migration_leaves_the_database_untouched_and_says_why,
    a_failing_postgres_migration_leaves_the_database_untouched_and_says_why);
