//! One connection type over both backends, and its pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{CustomizeConnection, HandleError, ManageConnection, Pool, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::error::StorageError;
use crate::url::Target;

/// A connection to whichever backend the URL named. Queries written once against
/// it run on both; backend-specific work matches on the variant.
#[derive(diesel::MultiConnection)]
pub(crate) enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

pub(crate) type DbPool = Pool<Manager>;

impl DbConnection {
    /// A transaction for work that reads before it writes. On SQLite it takes the
    /// write lock at `BEGIN IMMEDIATE`, where `busy_timeout` waits for it: a
    /// deferred transaction that must upgrade its read lock after another
    /// connection committed fails at once with "database is locked", whatever the
    /// timeout. PostgreSQL's row locks need nothing special.
    pub(crate) fn write_transaction<T, E>(
        &mut self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        type Tx = <DbConnection as Connection>::TransactionManager;
        match self {
            DbConnection::Sqlite(sqlite) => {
                AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
            }
            DbConnection::Postgres(_) => Tx::begin_transaction(self)?,
        }
        // As diesel's own `transaction`: commit on success, roll back on error.
        match work(self) {
            Ok(value) => {
                Tx::commit_transaction(self)?;
                Ok(value)
            }
            Err(error) => match Tx::rollback_transaction(self) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
                Err(rollback) => Err(rollback.into()),
            },
        }
    }
}

/// How the pool behaves. `Default` suits a single gateway replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once. At least 1. Ignored for `sqlite::memory:`,
    /// which always has exactly one (each connection would be its own database).
    pub max_size: u32,
    /// How long taking a connection from the pool may wait, and how long opening
    /// the pool may take.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens connections of the backend the URL chose, and only that one (the derived
/// `DbConnection::establish` would try each backend in turn).
#[derive(Debug)]
pub(crate) struct Manager {
    target: Target,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match &self.target {
            Target::SqliteFile(path) => SqliteConnection::establish(path).map(DbConnection::Sqlite),
            Target::SqliteMemory => {
                SqliteConnection::establish(":memory:").map(DbConnection::Sqlite)
            }
            Target::Postgres(url) => PgConnection::establish(url).map(DbConnection::Postgres),
        }
        .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// Per-connection SQLite settings. `busy_timeout` waits for a lock instead of
/// failing at once, `foreign_keys` turns on the cascades the schema declares, and
/// `synchronous = NORMAL` is safe under WAL. WAL itself is a property of the file,
/// so it is set once per pool.
#[derive(Debug, Default)]
struct SqlitePragmas {
    wal_set: AtomicBool,
}

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        let DbConnection::Sqlite(conn) = conn else {
            return Ok(());
        };
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
        )
        .map_err(diesel::r2d2::Error::QueryError)?;
        if !self.wal_set.load(Ordering::Acquire) {
            conn.batch_execute("PRAGMA journal_mode = WAL;")
                .map_err(diesel::r2d2::Error::QueryError)?;
            self.wal_set.store(true, Ordering::Release);
        }
        Ok(())
    }
}

/// Sends the pool's background errors to `tracing` (r2d2 would use `log`).
#[derive(Debug)]
struct TracingErrors {
    target: Target,
}

impl HandleError<diesel::r2d2::Error> for TracingErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::warn!(
            db.url = %self.target.redacted(),
            error = %self.target.scrub(&error.to_string()),
            "database connection pool error"
        );
    }
}

/// Opens the pool. The first connection is made directly so that a wrong URL or
/// an unreachable server fails at once with the driver's reason.
pub(crate) fn open_pool(target: Target, options: &PoolOptions) -> Result<DbPool, StorageError> {
    if options.max_size == 0 {
        return Err(StorageError::InvalidOptions(
            "max_size must be at least 1".to_owned(),
        ));
    }
    if options.connection_timeout.is_zero() {
        return Err(StorageError::InvalidOptions(
            "connection_timeout must be positive".to_owned(),
        ));
    }
    let manager = Manager {
        target: target.clone(),
    };
    manager.connect().map_err(|e| StorageError::Connect {
        url: target.redacted(),
        reason: target.scrub(&e.to_string()),
    })?;

    let mut builder = Pool::builder()
        .max_size(options.max_size)
        .connection_timeout(options.connection_timeout)
        .error_handler(Box::new(TracingErrors {
            target: target.clone(),
        }));
    match target {
        // A local file cannot drop the connection: skip the ping r2d2 would send
        // before every checkout (it doubled the queries of each request).
        Target::SqliteFile(_) => {
            builder = builder
                .connection_customizer(Box::new(SqlitePragmas::default()))
                .test_on_check_out(false);
        }
        Target::SqliteMemory => {
            // One connection that is never recycled: it *is* the database.
            builder = builder
                .connection_customizer(Box::new(SqlitePragmas::default()))
                .max_size(1)
                .test_on_check_out(false)
                .min_idle(Some(1))
                .idle_timeout(None)
                .max_lifetime(None);
        }
        Target::Postgres(_) => {}
    }
    builder.build(manager).map_err(|e| StorageError::Pool {
        url: target.redacted(),
        reason: target.scrub(&e.to_string()),
    })
}
