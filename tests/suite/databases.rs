//! Real databases for the store's tests: a fresh SQLite file or a fresh PostgreSQL database per
//! test, raw SQL access for tampering, and Norfolk disputes decided by the real core.
//!
//! PostgreSQL: `DATABASE_URL` names the admin database (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates `eb_test_<pid>_<n>_<random>`
//! beside it and drops it when done, also when the test fails. A server that cannot be reached
//! fails the test with a message saying so: nothing is skipped.

use chrono::{DateTime, Utc};
use escalation_bot::calendar::Calendar;
use escalation_bot::directory::{AgencyId, Directory, PersonId};
use escalation_bot::escalation::{
    self, Command, Concerns, Context, Dispute, Event, RaiseDetails, Reference, Refusal,
};
use escalation_bot::policy::{self, Policy, PolicySet};
use escalation_bot::store::{Batch, Store};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgPool, SqlitePool};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The admin database the PostgreSQL tests create their own databases from.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// The admin URL with its database name replaced.
fn url_for_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let root = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test's own database, removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    /// What `Store::open` and `--db` take.
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

impl TestDb {
    /// A fresh database on a backend.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres().await,
        }
    }

    /// A path for a SQLite file in a fresh temporary folder (the file itself is not created).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder for the SQLite file");
        let path = dir.path().join("record.db");
        TestDb {
            backend: Backend::Sqlite,
            url: path
                .to_str()
                .expect("temporary paths are UTF-8")
                .to_string(),
            dir: Some(dir),
            pg_name: None,
        }
    }

    /// A fresh, empty PostgreSQL database; panics (failing the test) when the server cannot be reached.
    pub async fn postgres() -> TestDb {
        let admin = admin_url();
        let name = format!(
            "eb_test_{}_{}_{:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            random() as u32
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin} ({e}). The store's PostgreSQL tests need a real \
                 server: run .ci/run, or start PostgreSQL on 127.0.0.1:5432 with trust authentication, \
                 or set DATABASE_URL to an admin URL"
            )
        });
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name} on {admin}: {e}"));
        let _ = conn.close().await;
        TestDb {
            backend: Backend::Postgres,
            url: url_for_database(&admin, &name),
            dir: None,
            pg_name: Some(name),
        }
    }

    /// Opens the store, which must succeed.
    pub async fn open(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("the {:?} store opens at {}: {e}", self.backend, self.url))
    }

    /// The SQLite file (SQLite only).
    pub fn path(&self) -> &Path {
        assert_eq!(
            self.backend,
            Backend::Sqlite,
            "only SQLite databases are files"
        );
        Path::new(&self.url)
    }

    /// The temporary folder holding the SQLite file (SQLite only).
    pub fn folder(&self) -> PathBuf {
        self.dir
            .as_ref()
            .expect("only SQLite databases have a folder")
            .path()
            .to_path_buf()
    }

    /// A raw SQL connection to the same database, around the store: for tampering and checking.
    pub async fn raw(&self) -> Raw {
        match self.backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::new()
                    .filename(&self.url)
                    .create_if_missing(true);
                Raw::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(options)
                        .await
                        .unwrap_or_else(|e| panic!("raw SQLite connection to {}: {e}", self.url)),
                )
            }
            Backend::Postgres => Raw::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&self.url)
                    .await
                    .unwrap_or_else(|e| panic!("raw PostgreSQL connection to {}: {e}", self.url)),
            ),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Best effort, on its own thread and runtime: Drop may run inside the test's runtime.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url()).await.ok()?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()?;
                conn.close().await.ok()
            })
        });
        let _ = dropper.join();
    }
}

/// Raw SQL beside the store.
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Raw {
    /// Runs statements (no parameters); returns the rows they changed.
    pub async fn exec(&self, sql: &str) -> u64 {
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        match self {
            Raw::Sqlite(p) => q.execute(p).await.map(|r| r.rows_affected()),
            Raw::Postgres(p) => q.execute(p).await.map(|r| r.rows_affected()),
        }
        .unwrap_or_else(|e| panic!("raw SQL failed: {sql}: {e}"))
    }

    /// A single integer answer.
    pub async fn int(&self, sql: &str) -> i64 {
        let q = AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar::<_, i64>(q).fetch_one(p).await,
            Raw::Postgres(p) => sqlx::query_scalar::<_, i64>(q).fetch_one(p).await,
        }
        .unwrap_or_else(|e| panic!("raw SQL failed: {sql}: {e}"))
    }

    /// A column of text answers.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        let q = AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar::<_, String>(q).fetch_all(p).await,
            Raw::Postgres(p) => sqlx::query_scalar::<_, String>(q).fetch_all(p).await,
        }
        .unwrap_or_else(|e| panic!("raw SQL failed: {sql}: {e}"))
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self {
            Raw::Sqlite(p) => p.close().await,
            Raw::Postgres(p) => p.close().await,
        }
    }
}

/// Writes both thin `#[tokio::test]` wrappers for a test body `async fn(&TestDb)`.
macro_rules! on_both_backends {
    ($body:ident: $on_sqlite:ident, $on_postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $on_sqlite() {
            let db = $crate::databases::TestDb::new($crate::databases::Backend::Sqlite).await;
            $body(&db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $on_postgres() {
            let db = $crate::databases::TestDb::new($crate::databases::Backend::Postgres).await;
            $body(&db).await;
        }
    };
}
pub(crate) use on_both_backends;

// ---------------------------------------------------------------------------------------------
// Norfolk disputes through the real core.

/// The shipped policies, the demo directory and Norfolk's calendar.
pub struct World {
    pub policies: PolicySet,
    pub directory: Directory,
    pub calendar: Calendar,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let policies = PolicySet::load_dir(&policy::default_dir())
        .unwrap_or_else(|e| panic!("the shipped policies load: {e}"));
    let directory = Directory::load(&demo_directory())
        .unwrap_or_else(|e| panic!("the demo directory loads: {e}"));
    let norfolk = policies.get("norfolk").expect("norfolk is shipped");
    let calendar = norfolk
        .calendar()
        .unwrap_or_else(|e| panic!("Norfolk's calendar exists: {e}"));
    World {
        policies,
        directory,
        calendar,
    }
});

/// The shared world, loaded once.
pub fn world() -> &'static World {
    &WORLD
}

/// `policies/demo/directory.toml`.
pub fn demo_directory() -> PathBuf {
    policy::default_dir().join("demo").join("directory.toml")
}

impl World {
    pub fn norfolk(&self) -> &Policy {
        self.policies.get("norfolk").expect("norfolk is shipped")
    }

    /// A decision context under Norfolk's policy at `now`.
    pub fn ctx(&self, now: DateTime<Utc>) -> Context<'_> {
        Context {
            policy: self.norfolk(),
            calendar: &self.calendar,
            directory: &self.directory,
            now,
        }
    }
}

/// An instant from RFC 3339 text.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// A person id.
pub fn who(id: &str) -> PersonId {
    PersonId(id.to_string())
}

/// Who a Norfolk dispute is between.
#[derive(Debug, Clone, Copy)]
pub struct Parties {
    pub raiser: &'static str,
    pub receiving: &'static str,
    pub other: &'static str,
}

/// The scenario's parties: a social worker challenges a GP practice.
pub const ASC_V_GP: Parties = Parties {
    raiser: "sam-patel",
    receiving: "riverside-gp",
    other: "dr-okafor",
};

/// A police constable challenges the acute hospital.
pub const POLICE_V_ACUTE: Parties = Parties {
    raiser: "pc-evans",
    receiving: "norfolk-acute",
    other: "nurse-chen",
};

/// A nurse challenges mental health services.
pub const ACUTE_V_MH: Parties = Parties {
    raiser: "nurse-chen",
    receiving: "norfolk-mh",
    other: "mhp-novak",
};

/// The raise form between two parties.
pub fn details(p: Parties) -> RaiseDetails {
    RaiseDetails {
        receiving_agency: AgencyId(p.receiving.to_string()),
        other_professional: Some(who(p.other)),
        concerns: Concerns::Adult,
        category: "outcomes-of-assessments".to_string(),
        summary: "Decision not to refer for a mental capacity assessment after discharge."
            .to_string(),
        possible_cause: Some("Different readings of the discharge summary.".to_string()),
        desired_outcome: "A joint review of the discharge plan with both agencies.".to_string(),
        adults_views: Some("Wants to stay at home.".to_string()),
        case_reference: "ASC-4471".to_string(),
        immediate_risk: false,
        arose_at: None,
        delay_reason: None,
        notices: Default::default(),
    }
}

/// The events a raise makes for a reference, decided by the core.
pub fn raise_events(reference: &Reference, p: Parties, now: &str) -> Result<Vec<Event>, Refusal> {
    let command = Command::Raise {
        reference: reference.clone(),
        details: details(p),
    };
    escalation::handle(
        &Dispute::default(),
        &who(p.raiser),
        &command,
        &world().ctx(at(now)),
    )
}

/// Raises a Norfolk dispute through `Store::create`; it must be accepted.
pub async fn raise(store: &Store, p: Parties, now: &str) -> Reference {
    let prefix = world().norfolk().reference_prefix.clone();
    let made = store
        .create(&prefix, 2026, |r| {
            raise_events(r, p, now).map(|events| Batch {
                events,
                ..Batch::default()
            })
        })
        .await
        .unwrap_or_else(|e| panic!("the store records a raise: {e}"))
        .unwrap_or_else(|r| panic!("{} can raise against {}: {r:?}", p.raiser, p.receiving));
    made.0
}

/// Loads a dispute, decides a command on it and appends what it causes at the loaded version;
/// the command must be accepted and recorded.
pub async fn act(
    store: &Store,
    reference: &Reference,
    by: &str,
    now: &str,
    command: Command,
) -> Vec<Event> {
    let name = command.name();
    let state = store
        .load(reference)
        .await
        .unwrap_or_else(|e| panic!("{reference} loads: {e}"));
    let events = escalation::handle(&state, &who(by), &command, &world().ctx(at(now)))
        .unwrap_or_else(|r| panic!("{by} can {name} {reference} at {now}: {r:?}"));
    let batch = Batch {
        events: events.clone(),
        ..Batch::default()
    };
    store
        .append(reference, state.version, &batch)
        .await
        .unwrap_or_else(|e| panic!("{by}'s {name} on {reference} is recorded: {e}"));
    events
}

/// A plain note.
pub fn note(text: &str) -> Command {
    Command::AddNote {
        text: text.to_string(),
        how: None,
        held_at: None,
    }
}

/// An escalation.
pub fn escalate(reason: &str) -> Command {
    Command::Escalate {
        reason: reason.to_string(),
        delay_reason: None,
        notices: Default::default(),
    }
}

/// The escalation-bot binary, run from the crate root.
pub async fn run_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DATABASE_URL")
        .env_remove("AUDIT_SIGNING_KEY")
        .output()
        .await
        .expect("the escalation-bot binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
