//! One SQLite connection shared by a service's tasks ([`Database`]), used
//! from blocking threads so that SQLite never stalls the async workers, and
//! multi-step transactions that can await in between ([`Transaction`]).
//!
//! One connection, one user at a time: simple and enough for a reference
//! service (SQLite serializes writers anyway). The database runs in WAL mode,
//! so command-line readers (e.g. `audit-logger query`) never block it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database file could not be opened or prepared.
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite refused a statement.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running a statement panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

/// A service's SQLite database; cheap to clone, clones share the connection.
#[derive(Debug, Clone)]
pub struct Database {
    connection: Arc<Mutex<Connection>>,
}

impl Database {
    /// Opens (creating if needed) the database at `path` in WAL mode with
    /// foreign keys on, and runs `schema` (idempotent `CREATE … IF NOT
    /// EXISTS` statements) on it.
    pub fn open(path: &Path, schema: &str) -> Result<Database, DbError> {
        let open = |source| DbError::Open {
            path: path.display().to_string(),
            source,
        };
        let connection = Connection::open(path).map_err(open)?;
        connection.busy_timeout(Duration::from_secs(5)).map_err(open)?;
        connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(open)?;
        connection.pragma_update(None, "foreign_keys", "ON").map_err(open)?;
        connection.execute_batch(schema).map_err(open)?;
        Ok(Database {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `f` on the connection in a blocking thread, once no other task
    /// uses it. `f` may open and finish its own `rusqlite` transaction.
    pub async fn run<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let mut connection = self.connection.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || {
            rollback_abandoned(&connection);
            f(&mut connection)
        })
        .await
        .map_err(|error| E::from(DbError::Task(error.to_string())))?
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`) that holds the
    /// connection until it is committed or dropped (dropped: rolled back).
    pub async fn begin(&self) -> Result<Transaction, DbError> {
        let connection = self.connection.clone().lock_owned().await;
        let mut transaction = Transaction {
            connection: Some(connection),
            committed: false,
        };
        transaction
            .run(|connection| {
                rollback_abandoned(connection);
                connection.execute_batch("BEGIN IMMEDIATE").map_err(DbError::from)
            })
            .await?;
        Ok(transaction)
    }
}

/// A write transaction in progress; see [`Database::begin`]. Each step runs
/// in a blocking thread, and the task may await anything in between.
#[derive(Debug)]
pub struct Transaction {
    /// `None` only while a step runs, or after a step's thread failed.
    connection: Option<OwnedMutexGuard<Connection>>,
    committed: bool,
}

impl Transaction {
    /// Runs one step of the transaction: `f` on the connection, in a
    /// blocking thread.
    pub async fn run<R, E, F>(&mut self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let connection = self
            .connection
            .take()
            .ok_or_else(|| E::from(DbError::Task("an earlier step of this transaction failed".into())))?;
        let (connection, result) = tokio::task::spawn_blocking(move || {
            let result = f(&connection);
            (connection, result)
        })
        .await
        .map_err(|error| E::from(DbError::Task(error.to_string())))?;
        self.connection = Some(connection);
        result
    }

    /// Commits the transaction.
    pub async fn commit(mut self) -> Result<(), DbError> {
        self.run(|connection| connection.execute_batch("COMMIT").map_err(DbError::from))
            .await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.committed
            && let Some(connection) = &self.connection
        {
            rollback_abandoned(connection);
        }
    }
}

/// Rolls back a transaction left open by a task that was cancelled in the
/// middle of it (its connection guard was dropped on the blocking thread).
fn rollback_abandoned(connection: &Connection) {
    if !connection.is_autocommit()
        && let Err(error) = connection.execute_batch("ROLLBACK")
    {
        tracing::warn!(%error, "cannot roll back an abandoned transaction");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS t (n INTEGER NOT NULL);";

    fn count(connection: &mut Connection) -> Result<i64, DbError> {
        Ok(connection.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))?)
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_and_a_committed_one_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::open(&dir.path().join("t.sqlite3"), SCHEMA).expect("open");
        let mut tx = db.begin().await.expect("begin");
        tx.run(|c| c.execute("INSERT INTO t VALUES (1)", []).map_err(DbError::from))
            .await
            .expect("insert");
        drop(tx);
        assert_eq!(db.run(count).await.expect("count"), 0);

        let mut tx = db.begin().await.expect("begin");
        tx.run(|c| c.execute("INSERT INTO t VALUES (2)", []).map_err(DbError::from))
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        assert_eq!(db.run(count).await.expect("count"), 1);

        // Reopening runs the schema again, harmlessly, and keeps the data.
        drop(db);
        let db = Database::open(&dir.path().join("t.sqlite3"), SCHEMA).expect("reopen");
        assert_eq!(db.run(count).await.expect("count"), 1);
    }
}

/// Column conversions shared by the services' stores: ids and times are
/// stored as text (hyphenated UUIDs; RFC 3339 UTC with microseconds, which
/// sorts in time order).
pub mod column {
    use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
    use rusqlite::Row;
    use rusqlite::types::Type;
    use uuid::Uuid;

    /// The current time, to the microsecond: what a stored time keeps, so
    /// a time read back equals the one written.
    pub fn now() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    /// A time as stored.
    pub fn time_text(time: &DateTime<Utc>) -> String {
        time.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// Column `index` of `row` read as a UUID.
    pub fn uuid(row: &Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
        let text: String = row.get(index)?;
        Uuid::parse_str(&text).map_err(|error| invalid(index, error))
    }

    /// Column `index` of `row` read as an optional UUID.
    pub fn opt_uuid(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Uuid>> {
        let text: Option<String> = row.get(index)?;
        text.map(|text| Uuid::parse_str(&text).map_err(|error| invalid(index, error)))
            .transpose()
    }

    /// Column `index` of `row` read as a time.
    pub fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
        let text: String = row.get(index)?;
        parse_time(&text).map_err(|error| invalid(index, error))
    }

    /// Column `index` of `row` read as an optional time.
    pub fn opt_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
        let text: Option<String> = row.get(index)?;
        text.map(|text| parse_time(&text).map_err(|error| invalid(index, error)))
            .transpose()
    }

    fn parse_time(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        DateTime::parse_from_rfc3339(text).map(|time| time.with_timezone(&Utc))
    }

    fn invalid(index: usize, error: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(error))
    }
}
