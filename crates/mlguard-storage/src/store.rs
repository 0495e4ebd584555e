//! [`Store`]: the ports implemented once, for both backends.

use std::fmt;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::PooledConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use mlguard_domain::{
    CredentialCheck, Grant, GrantStore, Password, Permission, Resource, StoreError, User,
    UserStore, UserSummary, Username, now_ms,
};

use crate::connection::{DbConnection, DbPool, Manager, PoolOptions, open_pool};
use crate::error::StorageError;
use crate::password;
use crate::schema::{grants, users};
use crate::url::Target;

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The user and grant store over a pool of SQLite or PostgreSQL connections.
/// Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
    backend: Backend,
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
        let pool = open_pool(target, &options)?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the pending embedded migrations; returns the versions applied
    /// (empty when the schema is current).
    pub fn run_migrations(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StorageError::Migration(format!("no database connection: {e}")))?;
        crate::migrations::run(&mut conn)
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

fn stored_permission(raw: &str) -> Result<Permission, StoreError> {
    raw.parse::<Permission>()
        .map_err(|_| corrupt_row("grant", format!("unknown permission {raw:?}")))
}

fn stored_resource(kind: &str, key: &str) -> Result<Resource, StoreError> {
    Resource::from_stored(kind, key)
        .ok_or_else(|| corrupt_row("grant", format!("invalid resource {kind:?} {key:?}")))
}

/// The id of the account named `username`.
fn user_id_of(conn: &mut DbConnection, username: &Username) -> Result<i64, StoreError> {
    users::table
        .filter(users::username.eq(username.as_str()))
        .select(users::id)
        .first::<i64>(conn)
        .optional()
        .map_err(|e| db_error("find user", &e))?
        .ok_or_else(|| StoreError::UserNotFound(username.clone()))
}

/// `grants` filtered to one primary key.
type GrantByKey<'a> = diesel::dsl::Filter<
    grants::table,
    diesel::dsl::And<
        diesel::dsl::And<
            diesel::dsl::Eq<grants::user_id, i64>,
            diesel::dsl::Eq<grants::resource_kind, &'static str>,
        >,
        diesel::dsl::Eq<grants::resource_key, &'a str>,
    >,
>;

/// `key` is `resource.key()`, passed in because a scorer's key is built on the fly.
fn grant_key<'a>(user_id: i64, resource: &Resource, key: &'a str) -> GrantByKey<'a> {
    grants::table.filter(
        grants::user_id
            .eq(user_id)
            .and(grants::resource_kind.eq(resource.kind().as_str()))
            .and(grants::resource_key.eq(key)),
    )
}

impl UserStore for Store {
    fn create_user(
        &self,
        username: &Username,
        password: &Password,
        is_admin: bool,
    ) -> Result<User, StoreError> {
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
        let mut conn = self.conn()?;
        // Writes only, grants first: the foreign key cascades too, but this does not
        // depend on SQLite's `foreign_keys` pragma.
        let deleted = conn.transaction::<usize, DieselError, _>(|conn| {
            let ids = users::table
                .filter(users::username.eq(username.as_str()))
                .select(users::id);
            diesel::delete(grants::table.filter(grants::user_id.eq_any(ids))).execute(conn)?;
            diesel::delete(users::table.filter(users::username.eq(username.as_str()))).execute(conn)
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

impl GrantStore for Store {
    fn create_grant(
        &self,
        username: &Username,
        resource: &Resource,
        permission: Permission,
    ) -> Result<Grant, StoreError> {
        let mut conn = self.conn()?;
        let user_id = user_id_of(&mut conn, username)?;
        // The primary key, not a prior lookup, decides a race; a user deleted in
        // between trips the foreign key.
        let inserted = diesel::insert_into(grants::table)
            .values((
                grants::user_id.eq(user_id),
                grants::resource_kind.eq(resource.kind().as_str()),
                grants::resource_key.eq(resource.key()),
                grants::permission.eq(permission.as_str()),
                grants::created_at.eq(now_ms()),
            ))
            .execute(&mut conn);
        match inserted {
            Ok(_) => Ok(Grant {
                user_id,
                username: username.clone(),
                resource: resource.clone(),
                permission,
            }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::GrantAlreadyExists {
                resource: resource.clone(),
                username: username.clone(),
            }),
            Err(e) if is_foreign_key_violation(&e) => {
                Err(StoreError::UserNotFound(username.clone()))
            }
            Err(e) => Err(db_error("create grant", &e)),
        }
    }

    fn get_grant(&self, username: &Username, resource: &Resource) -> Result<Grant, StoreError> {
        let mut conn = self.conn()?;
        let user_id = user_id_of(&mut conn, username)?;
        let stored = grant_key(user_id, resource, &resource.key())
            .select(grants::permission)
            .first::<String>(&mut conn)
            .optional()
            .map_err(|e| db_error("get grant", &e))?
            .ok_or_else(|| StoreError::GrantNotFound {
                resource: resource.clone(),
                username: username.clone(),
            })?;
        Ok(Grant {
            user_id,
            username: username.clone(),
            resource: resource.clone(),
            permission: stored_permission(&stored)?,
        })
    }

    fn update_grant(
        &self,
        username: &Username,
        resource: &Resource,
        permission: Permission,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let user_id = user_id_of(&mut conn, username)?;
        let updated = diesel::update(grant_key(user_id, resource, &resource.key()))
            .set(grants::permission.eq(permission.as_str()))
            .execute(&mut conn)
            .map_err(|e| db_error("update grant", &e))?;
        if updated == 0 {
            return Err(StoreError::GrantNotFound {
                resource: resource.clone(),
                username: username.clone(),
            });
        }
        Ok(())
    }

    fn delete_grant(&self, username: &Username, resource: &Resource) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let user_id = user_id_of(&mut conn, username)?;
        let deleted = diesel::delete(grant_key(user_id, resource, &resource.key()))
            .execute(&mut conn)
            .map_err(|e| db_error("delete grant", &e))?;
        if deleted == 0 {
            return Err(StoreError::GrantNotFound {
                resource: resource.clone(),
                username: username.clone(),
            });
        }
        Ok(())
    }

    fn has_grants_on(&self, resource: &Resource) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let key = resource.key();
        diesel::select(diesel::dsl::exists(
            grants::table.filter(
                grants::resource_kind
                    .eq(resource.kind().as_str())
                    .and(grants::resource_key.eq(key.as_ref())),
            ),
        ))
        .get_result(&mut conn)
        .map_err(|e| db_error("look for grants on resource", &e))
    }

    fn delete_grants_on(&self, resource: &Resource) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let key = resource.key();
        let deleted = diesel::delete(
            grants::table.filter(
                grants::resource_kind
                    .eq(resource.kind().as_str())
                    .and(grants::resource_key.eq(key.as_ref())),
            ),
        )
        .execute(&mut conn)
        .map_err(|e| db_error("delete grants on resource", &e))?;
        Ok(deleted as u64)
    }

    fn rename_registered_model(
        &self,
        from: &mlguard_domain::ModelName,
        to: &mlguard_domain::ModelName,
    ) -> Result<u64, StoreError> {
        if from == to {
            // Nothing moves; deleting `to`'s grants first would drop them all.
            return Ok(0);
        }
        let kind = mlguard_domain::ResourceKind::RegisteredModel.as_str();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            // Leftovers of an earlier model called `to` must not outlive it.
            diesel::delete(
                grants::table.filter(
                    grants::resource_kind
                        .eq(kind)
                        .and(grants::resource_key.eq(to.as_str())),
                ),
            )
            .execute(conn)?;
            diesel::update(
                grants::table.filter(
                    grants::resource_kind
                        .eq(kind)
                        .and(grants::resource_key.eq(from.as_str())),
                ),
            )
            .set(grants::resource_key.eq(to.as_str()))
            .execute(conn)
        })
        .map(|moved| moved as u64)
        .map_err(|e| db_error("rename registered model grants", &e))
    }

    fn grants_of_user(&self, user_id: i64) -> Result<Vec<Grant>, StoreError> {
        let mut conn = self.conn()?;
        let rows = grants::table
            .inner_join(users::table)
            .filter(grants::user_id.eq(user_id))
            .order((grants::resource_kind.asc(), grants::resource_key.asc()))
            .select((
                users::username,
                grants::resource_kind,
                grants::resource_key,
                grants::permission,
            ))
            .load::<(String, String, String, String)>(&mut conn)
            .map_err(|e| db_error("list grants", &e))?;
        rows.into_iter()
            .map(|(username, kind, key, permission)| {
                Ok(Grant {
                    user_id,
                    username: stored_username(&username)?,
                    resource: stored_resource(&kind, &key)?,
                    permission: stored_permission(&permission)?,
                })
            })
            .collect()
    }

    fn permissions_of(
        &self,
        user_id: i64,
        resources: &[Resource],
    ) -> Result<Vec<Option<Permission>>, StoreError> {
        // Bounded IN lists keep every backend under its bind-parameter limit.
        const CHUNK: usize = 500;
        let keys: Vec<(&'static str, String)> = resources
            .iter()
            .map(|r| (r.kind().as_str(), r.key().into_owned()))
            .collect();
        let mut found = std::collections::HashMap::new();
        let mut conn = self.conn()?;
        for chunk in keys.chunks(CHUNK) {
            let wanted: Vec<&str> = chunk.iter().map(|(_, key)| key.as_str()).collect();
            let rows = grants::table
                .filter(grants::user_id.eq(user_id))
                .filter(grants::resource_key.eq_any(&wanted))
                .select((
                    grants::resource_kind,
                    grants::resource_key,
                    grants::permission,
                ))
                .load::<(String, String, String)>(&mut conn)
                .map_err(|e| db_error("permissions of", &e))?;
            for (kind, key, permission) in rows {
                found.insert((kind, key), stored_permission(&permission)?);
            }
        }
        Ok(keys
            .into_iter()
            .map(|(kind, key)| found.get(&(kind.to_owned(), key)).copied())
            .collect())
    }

    fn permission_of(
        &self,
        user_id: i64,
        resource: &Resource,
    ) -> Result<Option<Permission>, StoreError> {
        let mut conn = self.conn()?;
        grant_key(user_id, resource, &resource.key())
            .select(grants::permission)
            .first::<String>(&mut conn)
            .optional()
            .map_err(|e| db_error("permission of", &e))?
            .map(|stored| stored_permission(&stored))
            .transpose()
    }
}
