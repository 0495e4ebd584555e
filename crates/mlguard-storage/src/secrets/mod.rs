//! [`SecretStore`] on the same [`Store`] and pool as users and grants.
//!
//! The store only ever sees sealed values. Listing filters by grant and default in
//! the query itself; the rule deciding which levels count arrives from the domain
//! as a [`SecretVisibility`].

mod schema;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use mlguard_domain::secrets::{
    AdminBypass, AuditRecord, Binding, BindingKey, KekId, KekUsage, Label, NewRoute, NewSecret,
    Route, SealedValue, SecretCursor, SecretGrant, SecretId, SecretInfo, SecretName,
    SecretOperation, SecretStore, SecretStoreError, SecretVisibility, VisibleSecret, WrappedKey,
};
use mlguard_domain::{Permission, Username, now_ms};

use self::schema::{
    secret_audit, secret_bindings, secret_grants, secret_routes, secret_values, secrets,
};
use crate::connection::DbConnection;
use crate::schema::users;
use crate::store::{Store, is_foreign_key_violation, is_unique_violation};

/// A failure inside a transaction: the database's, or a domain answer that
/// rolls the transaction back.
enum TxError {
    Db(DieselError),
    Domain(SecretStoreError),
}

impl From<DieselError> for TxError {
    fn from(error: DieselError) -> Self {
        TxError::Db(error)
    }
}

impl From<SecretStoreError> for TxError {
    fn from(error: SecretStoreError) -> Self {
        TxError::Domain(error)
    }
}

impl TxError {
    fn into_store_error(self, operation: &str) -> SecretStoreError {
        match self {
            TxError::Db(e) => db_error(operation, &e),
            TxError::Domain(e) => e,
        }
    }
}

/// A database failure, briefly. Diesel's text holds the server's message, never
/// the statement's parameters, so no sealed bytes end up in a log.
fn db_error(operation: &str, error: &DieselError) -> SecretStoreError {
    SecretStoreError::Unavailable(format!("{operation}: {error}"))
}

/// A stored row the domain refuses: logged here, reported as `Unavailable`.
fn corrupt_row(table: &str, detail: &str) -> SecretStoreError {
    tracing::error!(table, detail, "unreadable row in the secret store");
    SecretStoreError::Unavailable(format!("unreadable {table} row: {detail}"))
}

fn stored_secret_id(raw: &str) -> Result<SecretId, SecretStoreError> {
    SecretId::parse(raw).map_err(|_| corrupt_row("secret", "invalid secret id"))
}

fn stored_username(raw: &str) -> Result<Username, SecretStoreError> {
    Username::parse(raw).map_err(|_| corrupt_row("secret", "invalid username"))
}

fn stored_permission(raw: &str) -> Result<Permission, SecretStoreError> {
    raw.parse::<Permission>()
        .map_err(|_| corrupt_row("secret_grants", "unknown permission"))
}

fn stored_kek(raw: &str) -> Result<KekId, SecretStoreError> {
    KekId::parse(raw).map_err(|_| corrupt_row("secret_values", "invalid kek id"))
}

type SecretRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
);

const SECRET_COLUMNS: (
    secrets::id,
    secrets::name,
    secrets::provider,
    secrets::description,
    secrets::created_by,
    secrets::created_at,
    secrets::updated_at,
) = (
    secrets::id,
    secrets::name,
    secrets::provider,
    secrets::description,
    secrets::created_by,
    secrets::created_at,
    secrets::updated_at,
);

fn secret_info(row: SecretRow) -> Result<SecretInfo, SecretStoreError> {
    let (id, name, provider, description, created_by, created_at, updated_at) = row;
    let bad = |detail| corrupt_row("secrets", detail);
    Ok(SecretInfo {
        id: stored_secret_id(&id)?,
        name: SecretName::parse(&name).map_err(|_| bad("invalid name"))?,
        provider: provider
            .map(|p| Label::provider(&p).map_err(|_| bad("invalid provider")))
            .transpose()?,
        description: description
            .map(|d| Label::description(&d).map_err(|_| bad("invalid description")))
            .transpose()?,
        created_by: stored_username(&created_by)?,
        created_at,
        updated_at,
    })
}

type BindingRow = (String, String, String, String, String, i64);

const BINDING_COLUMNS: (
    secret_bindings::resource_type,
    secret_bindings::resource_id,
    secret_bindings::field_name,
    secret_bindings::secret_id,
    secret_bindings::created_by,
    secret_bindings::created_at,
) = (
    secret_bindings::resource_type,
    secret_bindings::resource_id,
    secret_bindings::field_name,
    secret_bindings::secret_id,
    secret_bindings::created_by,
    secret_bindings::created_at,
);

fn binding(row: BindingRow) -> Result<Binding, SecretStoreError> {
    let (resource_type, resource_id, field_name, secret_id, created_by, created_at) = row;
    Ok(Binding {
        secret_id: stored_secret_id(&secret_id)?,
        key: BindingKey::parse(&resource_type, &resource_id, &field_name)
            .map_err(|_| corrupt_row("secret_bindings", "invalid binding key"))?,
        created_by: stored_username(&created_by)?,
        created_at,
    })
}

/// `secret_bindings` filtered to one key.
type BindingAt<'a> = diesel::dsl::Filter<
    secret_bindings::table,
    diesel::dsl::And<
        diesel::dsl::And<
            diesel::dsl::Eq<secret_bindings::resource_type, &'a str>,
            diesel::dsl::Eq<secret_bindings::resource_id, &'a str>,
        >,
        diesel::dsl::Eq<secret_bindings::field_name, &'a str>,
    >,
>;

fn binding_at(key: &BindingKey) -> BindingAt<'_> {
    secret_bindings::table.filter(
        secret_bindings::resource_type
            .eq(key.resource_type())
            .and(secret_bindings::resource_id.eq(key.resource_id()))
            .and(secret_bindings::field_name.eq(key.field_name())),
    )
}

fn load_secret(conn: &mut DbConnection, id: &SecretId) -> Result<SecretInfo, TxError> {
    let row = secrets::table
        .find(id.as_str())
        .select(SECRET_COLUMNS)
        .first::<SecretRow>(conn)
        .optional()?
        .ok_or_else(|| SecretStoreError::SecretNotFound(id.clone()))?;
    Ok(secret_info(row)?)
}

fn require_secret(conn: &mut DbConnection, id: &SecretId) -> Result<(), TxError> {
    let found = secrets::table
        .find(id.as_str())
        .select(secrets::id)
        .first::<String>(conn)
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(SecretStoreError::SecretNotFound(id.clone()).into()),
    }
}

fn account_id(conn: &mut DbConnection, username: &Username) -> Result<i64, TxError> {
    users::table
        .filter(users::username.eq(username.as_str()))
        .select(users::id)
        .first::<i64>(conn)
        .optional()?
        .ok_or_else(|| SecretStoreError::UserNotFound(username.clone()).into())
}

fn insert_binding(
    conn: &mut DbConnection,
    secret: &SecretId,
    key: &BindingKey,
    created_by: &Username,
    created_at: i64,
) -> Result<Binding, TxError> {
    diesel::insert_into(secret_bindings::table)
        .values((
            secret_bindings::resource_type.eq(key.resource_type()),
            secret_bindings::resource_id.eq(key.resource_id()),
            secret_bindings::field_name.eq(key.field_name()),
            secret_bindings::secret_id.eq(secret.as_str()),
            secret_bindings::created_by.eq(created_by.as_str()),
            secret_bindings::created_at.eq(created_at),
        ))
        .execute(conn)
        .map_err(|e| {
            // The primary key, not a prior lookup, decides a race for the key.
            if is_unique_violation(&e) {
                TxError::Domain(SecretStoreError::BindingAlreadyExists(key.clone()))
            } else if is_foreign_key_violation(&e) {
                TxError::Domain(SecretStoreError::SecretNotFound(secret.clone()))
            } else {
                TxError::Db(e)
            }
        })?;
    Ok(Binding {
        secret_id: secret.clone(),
        key: key.clone(),
        created_by: created_by.clone(),
        created_at,
    })
}

/// The grant row of (secret, user), as a filter.
type GrantOf<'a> = diesel::dsl::Filter<
    secret_grants::table,
    diesel::dsl::And<
        diesel::dsl::Eq<secret_grants::secret_id, &'a str>,
        diesel::dsl::Eq<secret_grants::user_id, i64>,
    >,
>;

fn grant_of(secret: &SecretId, user_id: i64) -> GrantOf<'_> {
    secret_grants::table.filter(
        secret_grants::secret_id
            .eq(secret.as_str())
            .and(secret_grants::user_id.eq(user_id)),
    )
}

impl Store {
    /// One transaction on a pooled connection, with domain errors passing through.
    /// A write transaction, as most of them read (does the secret exist?) first.
    fn secret_tx<T>(
        &self,
        operation: &str,
        work: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
    ) -> Result<T, SecretStoreError> {
        let mut conn = self
            .conn()
            .map_err(|e| SecretStoreError::Unavailable(e.to_string()))?;
        let conn: &mut DbConnection = &mut conn;
        conn.write_transaction::<T, TxError>(work)
            .map_err(|e| e.into_store_error(operation))
    }

    /// Resolves the grant target (secret first, then user) for the grant methods.
    fn grant_target(
        conn: &mut DbConnection,
        secret: &SecretId,
        username: &Username,
    ) -> Result<i64, TxError> {
        require_secret(conn, secret)?;
        account_id(conn, username)
    }
}

impl SecretStore for Store {
    fn create_secret(
        &self,
        secret: &NewSecret,
        sealed: &SealedValue,
        first_binding: &BindingKey,
        creator_grant: Option<(&Username, Permission)>,
    ) -> Result<(SecretInfo, Binding), SecretStoreError> {
        let now = now_ms();
        self.secret_tx("create secret", |conn| {
            diesel::insert_into(secrets::table)
                .values((
                    secrets::id.eq(secret.id.as_str()),
                    secrets::name.eq(secret.name.as_str()),
                    secrets::provider.eq(secret.provider.as_ref().map(Label::as_str)),
                    secrets::description.eq(secret.description.as_ref().map(Label::as_str)),
                    secrets::created_by.eq(secret.created_by.as_str()),
                    secrets::created_at.eq(now),
                    secrets::updated_at.eq(now),
                ))
                .execute(conn)?;
            diesel::insert_into(secret_values::table)
                .values((
                    secret_values::secret_id.eq(secret.id.as_str()),
                    secret_values::ciphertext.eq(&sealed.ciphertext),
                    secret_values::wrapped_key.eq(&sealed.wrapped_key.bytes),
                    secret_values::kek_id.eq(sealed.wrapped_key.kek_id.as_str()),
                ))
                .execute(conn)?;
            let binding = insert_binding(conn, &secret.id, first_binding, &secret.created_by, now)?;
            if let Some((username, permission)) = creator_grant {
                let user_id = account_id(conn, username)?;
                diesel::insert_into(secret_grants::table)
                    .values((
                        secret_grants::secret_id.eq(secret.id.as_str()),
                        secret_grants::user_id.eq(user_id),
                        secret_grants::permission.eq(permission.as_str()),
                        secret_grants::created_at.eq(now),
                    ))
                    .execute(conn)
                    .map_err(|e| {
                        if is_foreign_key_violation(&e) {
                            TxError::Domain(SecretStoreError::UserNotFound(username.clone()))
                        } else {
                            TxError::Db(e)
                        }
                    })?;
            }
            let info = SecretInfo {
                id: secret.id.clone(),
                name: secret.name.clone(),
                provider: secret.provider.clone(),
                description: secret.description.clone(),
                created_by: secret.created_by.clone(),
                created_at: now,
                updated_at: now,
            };
            Ok((info, binding))
        })
    }

    fn secret_info(&self, secret: &SecretId) -> Result<SecretInfo, SecretStoreError> {
        self.secret_tx("get secret", |conn| load_secret(conn, secret))
    }

    fn list_secrets(
        &self,
        visibility: &SecretVisibility,
        cursor: Option<&SecretCursor>,
        limit: usize,
    ) -> Result<Vec<VisibleSecret>, SecretStoreError> {
        let user_id = match visibility {
            SecretVisibility::All { user_id } | SecretVisibility::ReadableBy { user_id, .. } => {
                *user_id
            }
        };
        // The caller's own grant rides along on every row (admins' too, for the
        // audit of what only being an admin showed).
        let mut query = secrets::table
            .left_join(
                secret_grants::table.on(secret_grants::secret_id
                    .eq(secrets::id)
                    .and(secret_grants::user_id.eq(user_id))),
            )
            .select((SECRET_COLUMNS, secret_grants::permission.nullable()))
            .into_boxed();
        if let SecretVisibility::ReadableBy {
            granting,
            without_grant,
            ..
        } = visibility
        {
            let granting: Vec<&'static str> = granting.iter().map(|p| p.as_str()).collect();
            let granted = secret_grants::permission.nullable().eq_any(granting);
            query = if *without_grant {
                query.filter(granted.or(secret_grants::permission.nullable().is_null()))
            } else {
                query.filter(granted)
            };
        }
        if let Some(cursor) = cursor {
            query = query.filter(
                secrets::created_at
                    .gt(cursor.created_at)
                    .or(secrets::created_at
                        .eq(cursor.created_at)
                        .and(secrets::id.gt(cursor.secret_id.as_str().to_owned()))),
            );
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self
            .conn()
            .map_err(|e| SecretStoreError::Unavailable(e.to_string()))?;
        let rows = query
            .order((secrets::created_at.asc(), secrets::id.asc()))
            .limit(limit)
            .load::<(SecretRow, Option<String>)>(&mut conn)
            .map_err(|e| db_error("list secrets", &e))?;
        rows.into_iter()
            .map(|(row, explicit)| {
                Ok(VisibleSecret {
                    info: secret_info(row)?,
                    explicit: explicit.as_deref().map(stored_permission).transpose()?,
                })
            })
            .collect()
    }

    fn replace_value(
        &self,
        secret: &SecretId,
        sealed: &SealedValue,
    ) -> Result<SecretInfo, SecretStoreError> {
        let now = now_ms();
        self.secret_tx("replace secret value", |conn| {
            let updated = diesel::update(secret_values::table.find(secret.as_str()))
                .set((
                    secret_values::ciphertext.eq(&sealed.ciphertext),
                    secret_values::wrapped_key.eq(&sealed.wrapped_key.bytes),
                    secret_values::kek_id.eq(sealed.wrapped_key.kek_id.as_str()),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(SecretStoreError::SecretNotFound(secret.clone()).into());
            }
            diesel::update(secrets::table.find(secret.as_str()))
                .set(secrets::updated_at.eq(now))
                .execute(conn)?;
            load_secret(conn, secret)
        })
    }

    fn sealed_value(&self, secret: &SecretId) -> Result<SealedValue, SecretStoreError> {
        let row = self.secret_tx("read sealed value", |conn| {
            secret_values::table
                .find(secret.as_str())
                .select((
                    secret_values::ciphertext,
                    secret_values::wrapped_key,
                    secret_values::kek_id,
                ))
                .first::<(Vec<u8>, Vec<u8>, String)>(conn)
                .optional()?
                .ok_or_else(|| SecretStoreError::SecretNotFound(secret.clone()).into())
        })?;
        let (ciphertext, bytes, kek_id) = row;
        Ok(SealedValue {
            ciphertext,
            wrapped_key: WrappedKey {
                kek_id: stored_kek(&kek_id)?,
                bytes,
            },
        })
    }

    fn delete_secret(&self, secret: &SecretId) -> Result<(), SecretStoreError> {
        // The foreign keys cascade to the value, bindings, routes and grants.
        self.secret_tx("delete secret", |conn| {
            let deleted = diesel::delete(secrets::table.find(secret.as_str())).execute(conn)?;
            if deleted == 0 {
                return Err(SecretStoreError::SecretNotFound(secret.clone()).into());
            }
            Ok(())
        })
    }

    fn bind(
        &self,
        secret: &SecretId,
        key: &BindingKey,
        created_by: &Username,
    ) -> Result<Binding, SecretStoreError> {
        self.secret_tx("bind secret", |conn| {
            require_secret(conn, secret)?;
            insert_binding(conn, secret, key, created_by, now_ms())
        })
    }

    fn binding(&self, key: &BindingKey) -> Result<Binding, SecretStoreError> {
        let row = self.secret_tx("get binding", |conn| {
            binding_at(key)
                .select(BINDING_COLUMNS)
                .first::<BindingRow>(conn)
                .optional()?
                .ok_or_else(|| SecretStoreError::BindingNotFound(key.clone()).into())
        })?;
        binding(row)
    }

    fn unbind(&self, key: &BindingKey, bound: &SecretId) -> Result<(), SecretStoreError> {
        self.secret_tx("unbind secret", |conn| {
            let deleted = diesel::delete(
                binding_at(key).filter(secret_bindings::secret_id.eq(bound.as_str())),
            )
            .execute(conn)?;
            if deleted == 0 {
                return Err(SecretStoreError::BindingNotFound(key.clone()).into());
            }
            Ok(())
        })
    }

    fn bindings_of(&self, secret: &SecretId) -> Result<Vec<Binding>, SecretStoreError> {
        let rows = self.secret_tx("list bindings", |conn| {
            require_secret(conn, secret)?;
            Ok(secret_bindings::table
                .filter(secret_bindings::secret_id.eq(secret.as_str()))
                .order((
                    secret_bindings::created_at.asc(),
                    secret_bindings::resource_type.asc(),
                    secret_bindings::resource_id.asc(),
                    secret_bindings::field_name.asc(),
                ))
                .select(BINDING_COLUMNS)
                .load::<BindingRow>(conn)?)
        })?;
        rows.into_iter().map(binding).collect()
    }

    fn create_route_and_bind(
        &self,
        route: &NewRoute,
        field_name: &str,
    ) -> Result<(Route, Binding), SecretStoreError> {
        let key = BindingKey::for_route(&route.id, field_name).map_err(|e| {
            SecretStoreError::Unavailable(format!("route binding key refused: {e}"))
        })?;
        let now = now_ms();
        self.secret_tx("create route", |conn| {
            require_secret(conn, &route.secret_id)?;
            diesel::insert_into(secret_routes::table)
                .values((
                    secret_routes::id.eq(route.id.as_str()),
                    secret_routes::secret_id.eq(route.secret_id.as_str()),
                    secret_routes::name.eq(route.name.as_str()),
                    secret_routes::provider.eq(route.provider.as_str()),
                    secret_routes::model_name.eq(route.model_name.as_str()),
                    secret_routes::created_by.eq(route.created_by.as_str()),
                    secret_routes::created_at.eq(now),
                ))
                .execute(conn)
                .map_err(|e| {
                    if is_foreign_key_violation(&e) {
                        TxError::Domain(SecretStoreError::SecretNotFound(route.secret_id.clone()))
                    } else {
                        TxError::Db(e)
                    }
                })?;
            let binding = insert_binding(conn, &route.secret_id, &key, &route.created_by, now)?;
            let created = Route {
                id: route.id.clone(),
                name: route.name.clone(),
                provider: route.provider.clone(),
                model_name: route.model_name.clone(),
                secret_id: route.secret_id.clone(),
                created_by: route.created_by.clone(),
                created_at: now,
            };
            Ok((created, binding))
        })
    }

    fn secret_permission_of(
        &self,
        user_id: i64,
        secret: &SecretId,
    ) -> Result<Option<Permission>, SecretStoreError> {
        let mut conn = self
            .conn()
            .map_err(|e| SecretStoreError::Unavailable(e.to_string()))?;
        grant_of(secret, user_id)
            .select(secret_grants::permission)
            .first::<String>(&mut conn)
            .optional()
            .map_err(|e| db_error("secret permission of", &e))?
            .as_deref()
            .map(stored_permission)
            .transpose()
    }

    fn create_secret_grant(
        &self,
        secret: &SecretId,
        username: &Username,
        permission: Permission,
    ) -> Result<SecretGrant, SecretStoreError> {
        self.secret_tx("create secret grant", |conn| {
            let user_id = Store::grant_target(conn, secret, username)?;
            diesel::insert_into(secret_grants::table)
                .values((
                    secret_grants::secret_id.eq(secret.as_str()),
                    secret_grants::user_id.eq(user_id),
                    secret_grants::permission.eq(permission.as_str()),
                    secret_grants::created_at.eq(now_ms()),
                ))
                .execute(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        TxError::Domain(SecretStoreError::GrantAlreadyExists {
                            secret_id: secret.clone(),
                            username: username.clone(),
                        })
                    } else if is_foreign_key_violation(&e) {
                        // The secret or the user went away meanwhile.
                        TxError::Domain(SecretStoreError::SecretNotFound(secret.clone()))
                    } else {
                        TxError::Db(e)
                    }
                })?;
            Ok(SecretGrant {
                secret_id: secret.clone(),
                user_id,
                username: username.clone(),
                permission,
            })
        })
    }

    fn get_secret_grant(
        &self,
        secret: &SecretId,
        username: &Username,
    ) -> Result<SecretGrant, SecretStoreError> {
        self.secret_tx("get secret grant", |conn| {
            let user_id = Store::grant_target(conn, secret, username)?;
            let stored = grant_of(secret, user_id)
                .select(secret_grants::permission)
                .first::<String>(conn)
                .optional()?
                .ok_or_else(|| SecretStoreError::GrantNotFound {
                    secret_id: secret.clone(),
                    username: username.clone(),
                })?;
            Ok(SecretGrant {
                secret_id: secret.clone(),
                user_id,
                username: username.clone(),
                permission: stored_permission(&stored)?,
            })
        })
    }

    fn update_secret_grant(
        &self,
        secret: &SecretId,
        username: &Username,
        permission: Permission,
    ) -> Result<(), SecretStoreError> {
        self.secret_tx("update secret grant", |conn| {
            let user_id = Store::grant_target(conn, secret, username)?;
            let updated = diesel::update(grant_of(secret, user_id))
                .set(secret_grants::permission.eq(permission.as_str()))
                .execute(conn)?;
            if updated == 0 {
                return Err(SecretStoreError::GrantNotFound {
                    secret_id: secret.clone(),
                    username: username.clone(),
                }
                .into());
            }
            Ok(())
        })
    }

    fn delete_secret_grant(
        &self,
        secret: &SecretId,
        username: &Username,
    ) -> Result<(), SecretStoreError> {
        self.secret_tx("delete secret grant", |conn| {
            let user_id = Store::grant_target(conn, secret, username)?;
            let deleted = diesel::delete(grant_of(secret, user_id)).execute(conn)?;
            if deleted == 0 {
                return Err(SecretStoreError::GrantNotFound {
                    secret_id: secret.clone(),
                    username: username.clone(),
                }
                .into());
            }
            Ok(())
        })
    }

    fn record_admin_bypasses(&self, entries: &[AdminBypass]) -> Result<(), SecretStoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let at = now_ms();
        self.secret_tx("record audit", |conn| {
            for entry in entries {
                diesel::insert_into(secret_audit::table)
                    .values((
                        secret_audit::at.eq(at),
                        secret_audit::actor.eq(entry.actor.as_str()),
                        secret_audit::operation.eq(entry.operation.as_str()),
                        secret_audit::secret_id.eq(entry.secret_id.as_ref().map(SecretId::as_str)),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    fn audit_trail(
        &self,
        secret: Option<&SecretId>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, SecretStoreError> {
        let mut query = secret_audit::table
            .select((
                secret_audit::id,
                secret_audit::at,
                secret_audit::actor,
                secret_audit::operation,
                secret_audit::secret_id,
            ))
            .into_boxed();
        if let Some(secret) = secret {
            query = query.filter(secret_audit::secret_id.eq(secret.as_str().to_owned()));
        }
        if let Some(before) = before {
            query = query.filter(secret_audit::id.lt(before));
        }
        let mut conn = self
            .conn()
            .map_err(|e| SecretStoreError::Unavailable(e.to_string()))?;
        let rows = query
            .order(secret_audit::id.desc())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .load::<(i64, i64, String, String, Option<String>)>(&mut conn)
            .map_err(|e| db_error("read audit trail", &e))?;
        rows.into_iter()
            .map(|(id, at, actor, operation, secret_id)| {
                Ok(AuditRecord {
                    id,
                    at,
                    actor: stored_username(&actor)?,
                    operation: SecretOperation::parse(&operation)
                        .ok_or_else(|| corrupt_row("secret_audit", "unknown operation"))?,
                    secret_id: secret_id.as_deref().map(stored_secret_id).transpose()?,
                })
            })
            .collect()
    }

    fn kek_usage(&self) -> Result<Vec<KekUsage>, SecretStoreError> {
        let mut conn = self
            .conn()
            .map_err(|e| SecretStoreError::Unavailable(e.to_string()))?;
        let rows = secret_values::table
            .group_by(secret_values::kek_id)
            .select((secret_values::kek_id, diesel::dsl::count_star()))
            .order(secret_values::kek_id.asc())
            .load::<(String, i64)>(&mut conn)
            .map_err(|e| db_error("count data keys per KEK", &e))?;
        rows.into_iter()
            .map(|(kek_id, count)| {
                Ok(KekUsage {
                    kek_id: stored_kek(&kek_id)?,
                    values: u64::try_from(count).unwrap_or_default(),
                })
            })
            .collect()
    }

    fn wrapped_keys_not_under(
        &self,
        kek: &KekId,
        after: Option<&SecretId>,
        limit: usize,
    ) -> Result<Vec<(SecretId, WrappedKey)>, SecretStoreError> {
        let mut query = secret_values::table
            .filter(secret_values::kek_id.ne(kek.as_str().to_owned()))
            .select((
                secret_values::secret_id,
                secret_values::wrapped_key,
                secret_values::kek_id,
            ))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(secret_values::secret_id.gt(after.as_str().to_owned()));
        }
        let mut conn = self
            .conn()
            .map_err(|e| SecretStoreError::Unavailable(e.to_string()))?;
        let rows = query
            .order(secret_values::secret_id.asc())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .load::<(String, Vec<u8>, String)>(&mut conn)
            .map_err(|e| db_error("find data keys to re-wrap", &e))?;
        rows.into_iter()
            .map(|(secret_id, bytes, kek_id)| {
                Ok((
                    stored_secret_id(&secret_id)?,
                    WrappedKey {
                        kek_id: stored_kek(&kek_id)?,
                        bytes,
                    },
                ))
            })
            .collect()
    }

    fn replace_wrapped_key(
        &self,
        secret: &SecretId,
        expected: &WrappedKey,
        replacement: &WrappedKey,
    ) -> Result<bool, SecretStoreError> {
        let mut conn = self
            .conn()
            .map_err(|e| SecretStoreError::Unavailable(e.to_string()))?;
        // One statement: a row is either wholly old or wholly new, whenever the
        // rotation stops.
        let updated = diesel::update(
            secret_values::table.filter(
                secret_values::secret_id
                    .eq(secret.as_str())
                    .and(secret_values::kek_id.eq(expected.kek_id.as_str()))
                    .and(secret_values::wrapped_key.eq(&expected.bytes)),
            ),
        )
        .set((
            secret_values::wrapped_key.eq(&replacement.bytes),
            secret_values::kek_id.eq(replacement.kek_id.as_str()),
        ))
        .execute(&mut conn)
        .map_err(|e| db_error("re-wrap data key", &e))?;
        Ok(updated == 1)
    }
}
