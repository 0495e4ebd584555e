//! [`SessionStore`] for [`Store`]: browser sessions, logins under way, and the role
//! assignments an identity provider's groups made.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use mlguard_domain::{PendingLogin, RoleName, Session, SessionStore, StoreError, now_ms};

use crate::schema::{
    pending_logins, provider_identities, provider_role_assignments, roles, sessions,
    user_role_assignments, users,
};
use crate::store::{Store, db_error, is_unique_violation};

/// The workspace provider groups map into while workspaces are off.
const DEFAULT_WORKSPACE: &str = "default";

type SessionRow = (i64, i64, i64, bool, i64, i64);

fn session(
    (id, user_id, credential_version, admin_from_provider, created_at, expires_at): SessionRow,
) -> Session {
    Session {
        id,
        user_id,
        credential_version,
        admin_from_provider,
        created_at,
        expires_at,
    }
}

const SESSION_COLUMNS: (
    sessions::id,
    sessions::user_id,
    sessions::credential_version,
    sessions::admin_from_provider,
    sessions::created_at,
    sessions::expires_at,
) = (
    sessions::id,
    sessions::user_id,
    sessions::credential_version,
    sessions::admin_from_provider,
    sessions::created_at,
    sessions::expires_at,
);

/// What a sync would change: the provider assignments to add and to remove, and
/// the names that name no role.
struct RolePlan {
    add: Vec<i64>,
    remove: Vec<i64>,
    skipped: Vec<RoleName>,
}

fn plan_roles(
    conn: &mut crate::connection::DbConnection,
    user_id: i64,
    wanted: &[RoleName],
) -> Result<RolePlan, DieselError> {
    let names: Vec<&str> = wanted.iter().map(RoleName::as_str).collect();
    // Synthetic roles are per-user grants, never a group's.
    let found: Vec<(i64, String)> = roles::table
        .filter(roles::workspace.eq(DEFAULT_WORKSPACE))
        .filter(roles::name.eq_any(&names))
        .select((roles::id, roles::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .filter(|(_, name)| !RoleName::from_stored(name).is_synthetic())
        .collect();
    let wanted_ids: BTreeSet<i64> = found.iter().map(|(id, _)| *id).collect();
    let made: BTreeSet<i64> = provider_role_assignments::table
        .filter(provider_role_assignments::user_id.eq(user_id))
        .select(provider_role_assignments::role_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let held: BTreeSet<i64> = user_role_assignments::table
        .filter(user_role_assignments::user_id.eq(user_id))
        .select(user_role_assignments::role_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    Ok(RolePlan {
        // Already held by an admin's assignment: it stays theirs.
        add: wanted_ids
            .difference(&made)
            .filter(|id| !held.contains(id))
            .copied()
            .collect(),
        remove: made.difference(&wanted_ids).copied().collect(),
        skipped: wanted
            .iter()
            .filter(|name| !found.iter().any(|(_, n)| n == name.as_str()))
            .cloned()
            .collect(),
    })
}

impl SessionStore for Store {
    fn create_session(
        &self,
        secret_sha256: &str,
        user_id: i64,
        admin_from_provider: bool,
        expires_at: i64,
    ) -> Result<Session, StoreError> {
        let mut conn = self.conn()?;
        let created_at = now_ms();
        conn.transaction::<_, DieselError, _>(|conn| {
            // An expired session of anyone's is gone for good: prune as we go.
            diesel::delete(sessions::table.filter(sessions::expires_at.le(created_at)))
                .execute(conn)?;
            let version = users::table
                .find(user_id)
                .select(users::credential_version)
                .first::<i64>(conn)?;
            diesel::insert_into(sessions::table)
                .values((
                    sessions::secret_sha256.eq(secret_sha256),
                    sessions::user_id.eq(user_id),
                    sessions::credential_version.eq(version),
                    sessions::admin_from_provider.eq(admin_from_provider),
                    sessions::created_at.eq(created_at),
                    sessions::expires_at.eq(expires_at),
                ))
                .execute(conn)?;
            sessions::table
                .filter(sessions::secret_sha256.eq(secret_sha256))
                .select(SESSION_COLUMNS)
                .first::<SessionRow>(conn)
        })
        .map(session)
        .map_err(|e| db_error("create session", &e))
    }

    fn user_of_identity(&self, issuer: &str, subject: &str) -> Result<Option<i64>, StoreError> {
        let mut conn = self.conn()?;
        provider_identities::table
            .find((issuer, subject))
            .select(provider_identities::user_id)
            .first::<i64>(&mut conn)
            .optional()
            .map_err(|e| db_error("read provider identity", &e))
    }

    fn link_identity(&self, user_id: i64, issuer: &str, subject: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        match diesel::insert_into(provider_identities::table)
            .values((
                provider_identities::issuer.eq(issuer),
                provider_identities::subject.eq(subject),
                provider_identities::user_id.eq(user_id),
            ))
            .execute(&mut conn)
        {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Unavailable(
                "the provider identity is already linked".to_owned(),
            )),
            Err(e) => Err(db_error("link provider identity", &e)),
        }
    }

    fn session_by_secret(
        &self,
        secret_sha256: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        let mut conn = self.conn()?;
        sessions::table
            .filter(sessions::secret_sha256.eq(secret_sha256))
            .filter(sessions::expires_at.gt(now))
            .select(SESSION_COLUMNS)
            .first::<SessionRow>(&mut conn)
            .optional()
            .map(|row| row.map(session))
            .map_err(|e| db_error("read session", &e))
    }

    fn sessions_of_user(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
        let mut conn = self.conn()?;
        // A session opened before a credential change is over, so not listed.
        sessions::table
            .inner_join(users::table)
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::credential_version.eq(users::credential_version))
            .order(sessions::id.asc())
            .select(SESSION_COLUMNS)
            .load::<SessionRow>(&mut conn)
            .map(|rows| rows.into_iter().map(session).collect())
            .map_err(|e| db_error("list sessions", &e))
    }

    fn delete_session(&self, session_id: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        diesel::delete(sessions::table.find(session_id))
            .execute(&mut conn)
            .map(|deleted| deleted > 0)
            .map_err(|e| db_error("delete session", &e))
    }

    fn save_pending_login(
        &self,
        state_sha256: &str,
        pending: &PendingLogin,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction::<_, DieselError, _>(|conn| {
            diesel::delete(pending_logins::table.filter(pending_logins::expires_at.le(now)))
                .execute(conn)?;
            diesel::insert_into(pending_logins::table)
                .values((
                    pending_logins::state_sha256.eq(state_sha256),
                    pending_logins::nonce.eq(&pending.nonce),
                    pending_logins::code_verifier.eq(&pending.code_verifier),
                    pending_logins::next_path.eq(&pending.next_path),
                    pending_logins::expires_at.eq(expires_at),
                ))
                .execute(conn)
        })
        .map(drop)
        .map_err(|e| db_error("save pending login", &e))
    }

    fn take_pending_login(
        &self,
        state_sha256: &str,
        now: i64,
    ) -> Result<Option<PendingLogin>, StoreError> {
        let mut conn = self.conn()?;
        conn.write_transaction::<_, DieselError>(|conn| {
            let found = pending_logins::table
                .filter(pending_logins::state_sha256.eq(state_sha256))
                .select((
                    pending_logins::nonce,
                    pending_logins::code_verifier,
                    pending_logins::next_path,
                    pending_logins::expires_at,
                ))
                .first::<(String, String, String, i64)>(conn)
                .optional()?;
            // Taken is taken: the row goes whether or not it was still valid. Only
            // the transaction that deletes it may use it, so a replay racing the
            // first use finds nothing.
            let deleted = diesel::delete(pending_logins::table.find(state_sha256)).execute(conn)?;
            Ok(found
                .filter(|(_, _, _, expires_at)| deleted == 1 && *expires_at > now)
                .map(|(nonce, code_verifier, next_path, _)| PendingLogin {
                    nonce,
                    code_verifier,
                    next_path,
                }))
        })
        .map_err(|e| db_error("take pending login", &e))
    }

    fn sync_provider_roles(
        &self,
        user_id: i64,
        wanted: &[RoleName],
    ) -> Result<Vec<RoleName>, StoreError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn()?;
        // Most requests change nothing: read first, write only when needed.
        let plan = plan_roles(&mut conn, user_id, wanted)
            .map_err(|e| db_error("read provider roles", &e))?;
        if plan.add.is_empty() && plan.remove.is_empty() {
            return Ok(plan.skipped);
        }
        conn.write_transaction::<_, DieselError>(|conn| {
            let plan = plan_roles(conn, user_id, wanted)?;
            for role_id in &plan.add {
                diesel::insert_into(user_role_assignments::table)
                    .values((
                        user_role_assignments::user_id.eq(user_id),
                        user_role_assignments::role_id.eq(role_id),
                        user_role_assignments::created_at.eq(now_ms()),
                    ))
                    .execute(conn)?;
                diesel::insert_into(provider_role_assignments::table)
                    .values((
                        provider_role_assignments::user_id.eq(user_id),
                        provider_role_assignments::role_id.eq(role_id),
                    ))
                    .execute(conn)?;
            }
            if !plan.remove.is_empty() {
                diesel::delete(
                    user_role_assignments::table
                        .filter(user_role_assignments::user_id.eq(user_id))
                        .filter(user_role_assignments::role_id.eq_any(&plan.remove)),
                )
                .execute(conn)?;
                diesel::delete(
                    provider_role_assignments::table
                        .filter(provider_role_assignments::user_id.eq(user_id))
                        .filter(provider_role_assignments::role_id.eq_any(&plan.remove)),
                )
                .execute(conn)?;
            }
            Ok(plan.skipped)
        })
        .map_err(|e| db_error("sync provider roles", &e))
    }
}
