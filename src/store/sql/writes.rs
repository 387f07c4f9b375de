//! The statements of a write that return nothing, sent to the database together where it takes
//! them together.
//!
//! Every statement is a round trip, and on SQLite a round trip is two switches between threads:
//! to the connection's worker thread in sqlx and back. At a steady few requests a second, when a
//! group holds one or two requests, those switches were most of the writer's CPU (`perf`: over a
//! third of the server's samples in the kernel's scheduler). SQLite runs several statements sent
//! in one call, binding each one's values after the previous one's, so there a group's writes
//! are kept here and sent as one call; PostgreSQL takes one statement with values per call, so
//! there each is run as it is added.

use super::{Dialect, err, is_unique_violation};
use crate::store::StoreError;
use sqlx::error::BoxDynError;
use sqlx::{Arguments, AssertSqlSafe, Encode, Executor, IntoArguments, Type};

/// The statements added since the last [`Writes::flush`], in order, with their values.
///
/// A statement added here binds its values in order of appearance (`?` on SQLite, whatever
/// numbers it uses elsewhere): a numbered `$n` would name the n-th value of the whole call.
pub struct Writes<DB: Dialect> {
    sql: String,
    args: DB::Arguments,
    /// Whether every statement held is one to keep prepared: the call is kept only then.
    kept: bool,
    /// The first value that could not be bound; reported by the next flush.
    unbound: Option<BoxDynError>,
}

impl<DB> Writes<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub(super) fn new() -> Self {
        Writes {
            sql: String::new(),
            args: DB::Arguments::default(),
            kept: true,
            unbound: None,
        }
    }

    /// Starts a statement; its values follow with [`Writes::bind`], and [`Writes::end`] ends it.
    pub(super) fn start(&mut self, sql: &str, kept: bool) -> &mut Self {
        if !self.sql.is_empty() {
            self.sql.push_str(";\n");
        }
        self.sql.push_str(sql);
        self.kept &= kept;
        self
    }

    /// The statement's next value.
    pub(super) fn bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, DB> + Type<DB>,
    {
        if let Err(e) = self.args.add(value)
            && self.unbound.is_none()
        {
            self.unbound = Some(e);
        }
        self
    }

    /// Ends the statement: where the backend takes one statement a call, it runs now.
    pub(super) async fn end(&mut self, conn: &mut DB::Connection) -> Result<(), StoreError> {
        if DB::MANY_STATEMENTS {
            Ok(())
        } else {
            self.flush(conn).await
        }
    }

    /// Runs what is held, in one call. Before reading what these statements write, and at the
    /// end of the write.
    pub(super) async fn flush(&mut self, conn: &mut DB::Connection) -> Result<(), StoreError> {
        if let Some(e) = self.unbound.take() {
            self.sql.clear();
            self.args = DB::Arguments::default();
            self.kept = true;
            return Err(StoreError::Database(format!(
                "a value could not be bound: {e}"
            )));
        }
        if self.sql.is_empty() {
            return Ok(());
        }
        let sql = std::mem::take(&mut self.sql);
        let args = std::mem::take(&mut self.args);
        let kept = std::mem::replace(&mut self.kept, true);
        sqlx::query_with(AssertSqlSafe(sql), args)
            .persistent(kept)
            .execute(&mut *conn)
            .await
            .map_err(write_error)?;
        Ok(())
    }
}

/// What a failed write means. A repeated request key is a duplicate request (the look before
/// the write rules it out under the write lock, but another replica on PostgreSQL may have
/// recorded it since); a repeated event number means another writer appended while this one held
/// the log's head, which the version check under its lock rules out.
pub(super) fn write_error(e: sqlx::Error) -> StoreError {
    if !is_unique_violation(&e) {
        return err(e);
    }
    let text = e.to_string();
    if text.contains("inbound_keys") {
        StoreError::Duplicate
    } else if text.contains("events") {
        StoreError::Database(format!(
            "another writer recorded the same event number while this group held the log's head: {e}"
        ))
    } else {
        err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, SqliteConnection};

    /// What the group commit relies on from SQLite: statements sent in one call run in order,
    /// each taking its values after the previous one's, and a failing one stops the call there.
    #[tokio::test]
    async fn statements_sent_together_take_their_values_in_order() {
        let mut conn = SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        sqlx::query("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .expect("the table");
        let mut w = Writes::<sqlx::Sqlite>::new();
        w.start("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)", true)
            .bind(1_i64)
            .bind("one")
            .bind(2_i64)
            .bind("two");
        w.end(&mut conn).await.expect("held, not run");
        w.start("UPDATE t SET b = ? WHERE a = ?", true)
            .bind("first")
            .bind(1_i64);
        w.end(&mut conn).await.expect("held, not run");
        let before: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .expect("a count");
        assert_eq!(before, 0, "nothing runs before the flush on SQLite");
        w.flush(&mut conn).await.expect("both statements run");
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT a, b FROM t ORDER BY a")
            .fetch_all(&mut conn)
            .await
            .expect("the rows");
        assert_eq!(rows, [(1, "first".to_string()), (2, "two".to_string())]);

        w.start("INSERT INTO t (a, b) VALUES (?, ?)", false)
            .bind(3_i64)
            .bind("three");
        w.start("INSERT INTO t (a, b) VALUES (?, ?)", false)
            .bind(1_i64)
            .bind("again");
        w.start("INSERT INTO t (a, b) VALUES (?, ?)", false)
            .bind(4_i64)
            .bind("four");
        assert!(
            w.flush(&mut conn).await.is_err(),
            "a repeated key fails the call"
        );
        let after: Vec<i64> = sqlx::query_scalar("SELECT a FROM t ORDER BY a")
            .fetch_all(&mut conn)
            .await
            .expect("the keys");
        assert_eq!(
            after,
            [1, 2, 3],
            "the statement after the failing one did not run"
        );
        w.flush(&mut conn).await.expect("nothing is left held");
    }
}
