//! [`TokenStore`] for [`Store`]: credential freshness, revoked tokens, signing keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use diesel::prelude::*;
use mlguard_domain::{CredentialState, SigningKey, StoreError, TokenStore, User, Username, now_ms};

use crate::schema::users;
use crate::store::{Store, db_error, is_unique_violation, stored_username};

diesel::table! {
    signing_keys (key_id) {
        key_id -> Text,
        secret -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Tokens revoked one by one.
    revoked_tokens (token_id) {
        token_id -> Text,
        expires_at -> BigInt,
    }
}

impl TokenStore for Store {
    fn credential_state(&self, user_id: i64) -> Result<Option<CredentialState>, StoreError> {
        let mut conn = self.conn()?;
        let row = users::table
            .find(user_id)
            .select((users::username, users::is_admin, users::credential_version))
            .first::<(String, bool, i64)>(&mut conn)
            .optional()
            .map_err(|e| db_error("read credential state", &e))?;
        row.map(|(username, is_admin, version)| {
            Ok(CredentialState {
                user: User {
                    id: user_id,
                    username: stored_username(&username)?,
                    is_admin,
                },
                version,
            })
        })
        .transpose()
    }

    fn revoke_all_credentials(&self, username: &Username) -> Result<(), StoreError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn()?;
        let updated = diesel::update(users::table.filter(users::username.eq(username.as_str())))
            .set(users::credential_version.eq(users::credential_version + 1_i64))
            .execute(&mut conn)
            .map_err(|e| db_error("revoke credentials", &e))?;
        if updated == 0 {
            return Err(StoreError::UserNotFound(username.clone()));
        }
        Ok(())
    }

    fn revoke_token(&self, token_id: &str, expires_at: i64) -> Result<(), StoreError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn()?;
        // Expired revocations are useless: drop them while we are here.
        let now_secs = now_ms() / 1000;
        diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now_secs)))
            .execute(&mut conn)
            .map_err(|e| db_error("prune revoked tokens", &e))?;
        match diesel::insert_into(revoked_tokens::table)
            .values((
                revoked_tokens::token_id.eq(token_id),
                revoked_tokens::expires_at.eq(expires_at),
            ))
            .execute(&mut conn)
        {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => Err(db_error("revoke token", &e)),
        }
    }

    fn is_token_revoked(&self, token_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        diesel::select(diesel::dsl::exists(
            revoked_tokens::table.filter(revoked_tokens::token_id.eq(token_id)),
        ))
        .get_result(&mut conn)
        .map_err(|e| db_error("check revoked token", &e))
    }

    fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let mut conn = self.conn()?;
        let rows = signing_keys::table
            .order(signing_keys::created_at.desc())
            .load::<(String, String, i64, Option<i64>)>(&mut conn)
            .map_err(|e| db_error("load signing keys", &e))?;
        rows.into_iter()
            .map(|(key_id, secret, created_at_ms, retired_at_ms)| {
                let secret = STANDARD.decode(secret).map_err(|_| {
                    StoreError::Unavailable(format!("signing key {key_id} is not base64"))
                })?;
                Ok(SigningKey {
                    key_id,
                    secret,
                    created_at_ms,
                    retired_at_ms,
                })
            })
            .collect()
    }

    fn rotate_signing_key(&self, key: SigningKey) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let now = now_ms();
        conn.transaction(|conn| {
            diesel::insert_into(signing_keys::table)
                .values((
                    signing_keys::key_id.eq(&key.key_id),
                    signing_keys::secret.eq(STANDARD.encode(&key.secret)),
                    signing_keys::created_at.eq(key.created_at_ms),
                    signing_keys::retired_at.eq(None::<i64>),
                ))
                .execute(conn)?;
            diesel::update(
                signing_keys::table.filter(
                    signing_keys::key_id
                        .ne(&key.key_id)
                        .and(signing_keys::retired_at.is_null()),
                ),
            )
            .set(signing_keys::retired_at.eq(Some(now)))
            .execute(conn)
        })
        .map(|_| ())
        .map_err(|e| db_error("rotate signing key", &e))
    }
}
