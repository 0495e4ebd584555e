//! [`Store`]: the ports implemented once, for both backends.

use std::fmt;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::PooledConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use mlguard_domain::{
    CredentialCheck, Password, RoleName, StoreError, User, UserStore, UserSummary, Username, now_ms,
};

use crate::connection::{DbConnection, DbPool, Manager, PoolOptions, open_pool};
use crate::error::StorageError;
use crate::password;
use crate::schema::{
    job_owners, provider_identities, provider_role_assignments, role_permissions, roles, sessions,
    user_role_assignments, users,
};
use crate::url::Target;

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The user, grant and role store over a pool of SQLite or PostgreSQL connections.
/// Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
    backend: Backend,
    /// The URL, for the change feed's own connection (PostgreSQL only).
    postgres_url: Option<std::sync::Arc<str>>,
    /// Run after every write to the decision's tables: the change feed makes the
    /// in-process view apply it before the write is acknowledged.
    access_written: std::sync::Arc<std::sync::OnceLock<AccessWrittenHook>>,
}

type AccessWrittenHook = std::sync::Arc<dyn Fn() + Send + Sync>;

/// Runs the access-written hook when dropped: after the write's connection went
/// back to the pool (it is declared first, so it is dropped last), on every path
/// out of the write, errors included.
pub(crate) struct SyncAfterWrite<'a>(&'a Store);

impl Drop for SyncAfterWrite<'_> {
    fn drop(&mut self) {
        if let Some(hook) = self.0.access_written.get() {
            hook();
        }
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("pool_size", &self.pool.max_size())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool to the database `url` names: `sqlite://PATH`, `sqlite:PATH`,
    /// `sqlite::memory:`, `postgres://…` or `postgresql://…`. Fails at once if the
    /// first connection cannot be made. Does not migrate.
    pub fn connect(url: &str, options: PoolOptions) -> Result<Store, StorageError> {
        let target = Target::parse(url)?;
        let backend = match target {
            Target::SqliteFile(_) | Target::SqliteMemory => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        };
        let postgres_url = match &target {
            Target::Postgres(url) => Some(url.as_str().into()),
            _ => None,
        };
        let pool = open_pool(target, &options)?;
        Ok(Store {
            pool,
            backend,
            postgres_url,
            access_written: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn postgres_url(&self) -> Option<String> {
        self.postgres_url.as_deref().map(str::to_owned)
    }

    /// Declare first in every write to the decision's tables.
    pub(crate) fn sync_after_write(&self) -> SyncAfterWrite<'_> {
        SyncAfterWrite(self)
    }

    pub(crate) fn set_access_written_hook(&self, hook: AccessWrittenHook) {
        if self.access_written.set(hook).is_err() {
            tracing::warn!("the store already follows access changes; the second feed is ignored");
        }
    }

    /// Applies the pending embedded migrations; returns the versions applied
    /// (empty when the schema is current).
    pub fn run_migrations(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StorageError::Migration(format!("no database connection: {e}")))?;
        crate::migrations::run(&mut conn, None)
    }

    /// Applies the pending migrations up to and including `version` (the date
    /// prefix of its folder, `2025-11-26-000000` or diesel's `20251126000000`):
    /// for a staged upgrade, or a test that needs a database at an older schema.
    pub fn run_migrations_through(&self, version: &str) -> Result<Vec<String>, StorageError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StorageError::Migration(format!("no database connection: {e}")))?;
        crate::migrations::run(&mut conn, Some(&version.replace('-', "")))
    }

    pub(crate) fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))
    }
}

/// A database failure, described briefly. Diesel's text holds the server's
/// message, never the statement or its parameters.
pub(crate) fn db_error(operation: &str, error: &DieselError) -> StoreError {
    StoreError::Unavailable(format!("{operation}: {error}"))
}

pub(crate) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

pub(crate) fn is_foreign_key_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

/// A stored row the domain refuses: logged here, reported as `Unavailable`.
fn corrupt_row(what: &str, detail: String) -> StoreError {
    tracing::error!(row = what, detail = %detail, "unreadable row in the user store");
    StoreError::Unavailable(format!("unreadable {what} row: {detail}"))
}

pub(crate) fn stored_username(raw: &str) -> Result<Username, StoreError> {
    Username::parse(raw).map_err(|e| corrupt_row("user", format!("username: {e}")))
}

/// The id of the account named `username`.
pub(crate) fn user_id_of(conn: &mut DbConnection, username: &Username) -> Result<i64, StoreError> {
    users::table
        .filter(users::username.eq(username.as_str()))
        .select(users::id)
        .first::<i64>(conn)
        .optional()
        .map_err(|e| db_error("find user", &e))?
        .ok_or_else(|| StoreError::UserNotFound(username.clone()))
}

impl UserStore for Store {
    fn create_user(
        &self,
        username: &Username,
        password: &Password,
        is_admin: bool,
    ) -> Result<User, StoreError> {
        let _sync = self.sync_after_write();
        let hash = password::hash(password)?;
        let mut conn = self.conn()?;
        // Insert first: the UNIQUE constraint, not a prior lookup, decides a race.
        let inserted = conn.transaction::<i64, DieselError, _>(|conn| {
            diesel::insert_into(users::table)
                .values((
                    users::username.eq(username.as_str()),
                    users::password_hash.eq(&hash),
                    users::is_admin.eq(is_admin),
                    users::credential_version.eq(0_i64),
                    users::created_at.eq(now_ms()),
                ))
                .execute(conn)?;
            users::table
                .filter(users::username.eq(username.as_str()))
                .select(users::id)
                .first(conn)
        });
        match inserted {
            Ok(id) => Ok(User {
                id,
                username: username.clone(),
                is_admin,
            }),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::UserAlreadyExists(username.clone()))
            }
            Err(e) => Err(db_error("create user", &e)),
        }
    }

    fn get_user(&self, username: &Username) -> Result<User, StoreError> {
        let mut conn = self.conn()?;
        let row = users::table
            .filter(users::username.eq(username.as_str()))
            .select((users::id, users::is_admin))
            .first::<(i64, bool)>(&mut conn)
            .optional()
            .map_err(|e| db_error("get user", &e))?;
        let (id, is_admin) = row.ok_or_else(|| StoreError::UserNotFound(username.clone()))?;
        Ok(User {
            id,
            username: username.clone(),
            is_admin,
        })
    }

    fn list_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        let mut conn = self.conn()?;
        let rows = users::table
            .order(users::id.asc())
            .select((users::id, users::username))
            .load::<(i64, String)>(&mut conn)
            .map_err(|e| db_error("list users", &e))?;
        rows.into_iter()
            .map(|(id, username)| {
                Ok(UserSummary {
                    id,
                    username: stored_username(&username)?,
                })
            })
            .collect()
    }

    fn count_users(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let count = users::table
            .count()
            .get_result::<i64>(&mut conn)
            .map_err(|e| db_error("count users", &e))?;
        u64::try_from(count).map_err(|_| StoreError::Unavailable("negative user count".into()))
    }

    fn set_password(&self, username: &Username, password: &Password) -> Result<(), StoreError> {
        let _sync = self.sync_after_write();
        let hash = password::hash(password)?;
        let mut conn = self.conn()?;
        let updated = diesel::update(users::table.filter(users::username.eq(username.as_str())))
            .set((
                users::password_hash.eq(&hash),
                users::credential_version.eq(users::credential_version + 1_i64),
            ))
            .execute(&mut conn)
            .map_err(|e| db_error("set password", &e))?;
        if updated == 0 {
            return Err(StoreError::UserNotFound(username.clone()));
        }
        Ok(())
    }

    fn set_admin(&self, username: &Username, is_admin: bool) -> Result<(), StoreError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn()?;
        let updated = diesel::update(users::table.filter(users::username.eq(username.as_str())))
            .set((
                users::is_admin.eq(is_admin),
                users::credential_version.eq(users::credential_version + 1_i64),
            ))
            .execute(&mut conn)
            .map_err(|e| db_error("set admin", &e))?;
        if updated == 0 {
            return Err(StoreError::UserNotFound(username.clone()));
        }
        Ok(())
    }

    fn delete_user(&self, username: &Username) -> Result<(), StoreError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn()?;
        // Writes only, children first: the foreign keys cascade too, but this does
        // not depend on SQLite's `foreign_keys` pragma.
        let deleted = conn.transaction::<usize, DieselError, _>(|conn| {
            let Some(user_id) = users::table
                .filter(users::username.eq(username.as_str()))
                .select(users::id)
                .first::<i64>(conn)
                .optional()?
            else {
                return Ok(0);
            };
            // The user's synthetic roles, in every workspace, go with their rows
            // and whoever else was assigned to them.
            let name = RoleName::synthetic(user_id);
            let synthetic = || {
                roles::table
                    .filter(roles::name.eq(name.as_str()))
                    .select(roles::id)
            };
            diesel::delete(
                role_permissions::table.filter(role_permissions::role_id.eq_any(synthetic())),
            )
            .execute(conn)?;
            diesel::delete(
                user_role_assignments::table.filter(
                    user_role_assignments::user_id
                        .eq(user_id)
                        .or(user_role_assignments::role_id.eq_any(synthetic())),
                ),
            )
            .execute(conn)?;
            diesel::delete(roles::table.filter(roles::name.eq(name.as_str()))).execute(conn)?;
            // A later account of the same name must not inherit the jobs.
            diesel::delete(job_owners::table.filter(job_owners::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
            diesel::delete(
                provider_identities::table.filter(provider_identities::user_id.eq(user_id)),
            )
            .execute(conn)?;
            diesel::delete(
                provider_role_assignments::table
                    .filter(provider_role_assignments::user_id.eq(user_id)),
            )
            .execute(conn)?;
            diesel::delete(users::table.find(user_id)).execute(conn)
        });
        match deleted {
            Ok(0) => Err(StoreError::UserNotFound(username.clone())),
            Ok(_) => Ok(()),
            Err(e) => Err(db_error("delete user", &e)),
        }
    }

    fn verify_credentials(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<CredentialCheck, StoreError> {
        let Ok(username) = Username::parse(username) else {
            password::verify_nothing(password);
            return Ok(CredentialCheck::Invalid);
        };
        let row = {
            let mut conn = self.conn()?;
            users::table
                .filter(users::username.eq(username.as_str()))
                .select((users::id, users::password_hash, users::is_admin))
                .first::<(i64, String, bool)>(&mut conn)
                .optional()
                .map_err(|e| db_error("verify credentials", &e))?
        };
        // The connection is back in the pool before the slow part.
        let Some((id, stored_hash, is_admin)) = row else {
            password::verify_nothing(password);
            return Ok(CredentialCheck::Invalid);
        };
        if password::verify(password, &stored_hash)? {
            if password::needs_rehash(&stored_hash) {
                // First login since the import from MLflow: werkzeug hash -> argon2id.
                self.replace_imported_hash(id, &stored_hash, password);
            }
            Ok(CredentialCheck::Valid(User {
                id,
                username,
                is_admin,
            }))
        } else {
            Ok(CredentialCheck::Invalid)
        }
    }

    fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1")
            .map_err(|e| db_error("ping", &e))
    }
}
