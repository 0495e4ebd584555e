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

/// Applies the pending migrations of the connection's backend; returns their versions.
pub(crate) fn run(conn: &mut DbConnection) -> Result<Vec<String>, StorageError> {
    let failed = |e: &dyn std::fmt::Display| StorageError::Migration(e.to_string());
    let versions = |applied: Vec<MigrationVersion<'_>>| -> Vec<String> {
        applied.iter().map(ToString::to_string).collect()
    };
    match conn {
        DbConnection::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE)
            .map(versions)
            .map_err(|e| failed(&e)),
        DbConnection::Postgres(conn) => {
            conn.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
                .map_err(|e| failed(&e))?;
            let result = conn
                .run_pending_migrations(POSTGRES)
                .map(versions)
                .map_err(|e| failed(&e));
            let unlocked = conn
                .batch_execute(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))
                .map_err(|e| failed(&e));
            let applied = result?;
            unlocked?;
            Ok(applied)
        }
    }
}
