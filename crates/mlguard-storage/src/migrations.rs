//! The embedded migrations, one folder per backend.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationVersion;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::DbConnection;
use crate::error::StorageError;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// An arbitrary key for the PostgreSQL advisory lock that keeps replicas starting
/// together from migrating at the same time.
const PG_MIGRATION_LOCK: i64 = 0x6d6c_6775_6172_6400; // "mlguard\0"

/// Applies the pending migrations of the connection's backend, up to and including
/// version `through` if given; returns their versions.
pub(crate) fn run(
    conn: &mut DbConnection,
    through: Option<&str>,
) -> Result<Vec<String>, StorageError> {
    match conn {
        DbConnection::Sqlite(conn) => apply(conn, SQLITE, through),
        DbConnection::Postgres(conn) => {
            let failed = |e: &dyn std::fmt::Display| StorageError::Migration(e.to_string());
            conn.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
                .map_err(|e| failed(&e))?;
            let result = apply(conn, POSTGRES, through);
            let unlocked = conn
                .batch_execute(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))
                .map_err(|e| failed(&e));
            let applied = result?;
            unlocked?;
            Ok(applied)
        }
    }
}

fn apply<C>(
    conn: &mut C,
    source: EmbeddedMigrations,
    through: Option<&str>,
) -> Result<Vec<String>, StorageError>
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
{
    let failed = |e: &dyn std::fmt::Display| StorageError::Migration(e.to_string());
    let Some(through) = through else {
        return conn
            .run_pending_migrations(source)
            .map(|applied| applied.iter().map(MigrationVersion::to_string).collect())
            .map_err(|e| failed(&e));
    };
    let mut applied = Vec::new();
    // Pending migrations come in version order; the folder names sort by date.
    for migration in conn.pending_migrations(source).map_err(|e| failed(&e))? {
        let version = migration.name().version().to_string();
        if version.as_str() > through {
            break;
        }
        conn.run_migration(&migration).map_err(|e| failed(&e))?;
        applied.push(version);
    }
    Ok(applied)
}
