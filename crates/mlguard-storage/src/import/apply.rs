//! The write side of the import: compares the checked MLflow rows with what mlguard
//! already has and writes the difference, inside the caller's transaction.
//!
//! "The same" means: for a user, the same admin flag and the same password, which is
//! either the very hash MLflow stores or, after a login replaced it by argon2id, a
//! hash whose provenance row says it came from that MLflow hash and has not changed
//! since; for a grant, the same level. Grants mlguard holds beyond MLflow's are left
//! alone. So a second import finds everything the same and writes nothing.
//!
//! A 3.10 grant lands where the 3.10 API puts it: a row on the user's synthetic
//! role in `default` (NO_PERMISSIONS stored as DENY).

use std::collections::HashMap;
use std::fmt;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use mlguard_domain::{Permission, RoleName, Workspace, now_ms};
use sha2::{Digest, Sha256};

use super::mlflow_roles::{RoleCandidate, apply_role};
use super::{Candidate, ImportProgress, ImportReport, ImportedKind, IssueOutcome, grant_subject};
use crate::connection::DbConnection;
use crate::error::StorageError;
use crate::grants::row_on;
use crate::rbac::{ensure_synthetic_role, shown_to_3_10, stored_from_3_10, synthetic_name_like};
use crate::schema::{mlflow_imported_users, role_permissions, roles, users};

pub(super) enum ApplyError {
    Db(DieselError),
    Migration(StorageError),
    /// Not a failure: how a dry run makes diesel roll back.
    DryRunRollback,
}

impl From<DieselError> for ApplyError {
    fn from(e: DieselError) -> Self {
        ApplyError::Db(e)
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Diesel's text is the server's message, never the statement.
            ApplyError::Db(e) => write!(f, "{e}"),
            ApplyError::Migration(e) => write!(f, "{e}"),
            ApplyError::DryRunRollback => f.write_str("dry run rolled back"),
        }
    }
}

/// An account as mlguard has it.
struct ExistingUser {
    id: i64,
    password_hash: String,
    is_admin: bool,
}

/// `(user id, resource type, resource pattern)` → stored permission, for the rows
/// of the synthetic roles in `default`.
type ExistingGrants = HashMap<(i64, String, String), String>;

pub(super) fn apply(
    conn: &mut DbConnection,
    candidates: &[Candidate],
    roles: &[RoleCandidate],
    overwrite: bool,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<(), ApplyError> {
    let existing_users: HashMap<String, ExistingUser> = users::table
        .select((
            users::id,
            users::username,
            users::password_hash,
            users::is_admin,
        ))
        .load::<(i64, String, String, bool)>(conn)?
        .into_iter()
        .map(|(id, username, password_hash, is_admin)| {
            let user = ExistingUser {
                id,
                password_hash,
                is_admin,
            };
            (username, user)
        })
        .collect();
    let provenance: HashMap<i64, (String, String)> = mlflow_imported_users::table
        .select((
            mlflow_imported_users::user_id,
            mlflow_imported_users::source_hash_sha256,
            mlflow_imported_users::current_hash_sha256,
        ))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(user_id, source, current)| (user_id, (source, current)))
        .collect();
    let existing_grants: ExistingGrants = role_permissions::table
        .inner_join(roles::table)
        .filter(roles::workspace.eq(Workspace::DEFAULT))
        .filter(roles::name.like(synthetic_name_like()).escape('\\'))
        .select((
            roles::name,
            role_permissions::resource_type,
            role_permissions::resource_pattern,
            role_permissions::permission,
        ))
        .load::<(String, String, String, String)>(conn)?
        .into_iter()
        .filter_map(|(role, resource_type, pattern, permission)| {
            let user_id = RoleName::from_stored(&role).synthetic_user_id()?;
            Some(((user_id, resource_type, pattern), permission))
        })
        .collect();

    let total = candidates
        .iter()
        .map(|c| 1 + c.grants.len() as u64)
        .sum::<u64>()
        + roles.iter().map(RoleCandidate::size).sum::<u64>();
    let mut done = 0_u64;
    progress(ImportProgress { done, total });
    // The mlguard id of each candidate, or None when a conflict kept mlguard's.
    let mut user_ids = Vec::with_capacity(candidates.len());

    for candidate in candidates {
        let user_id = match existing_users.get(candidate.username.as_str()) {
            None => {
                let id = insert_user(conn, candidate)?;
                report.count(ImportedKind::User, |t| t.created += 1);
                Some(id)
            }
            Some(existing) => {
                let same_password = same_password(
                    existing,
                    provenance.get(&existing.id),
                    &candidate.password_hash,
                );
                reconcile_user(conn, candidate, existing, same_password, overwrite, report)?
            }
        };
        user_ids.push(user_id);
        match user_id {
            Some(user_id) => {
                for (resource, permission) in &candidate.grants {
                    reconcile_grant(
                        conn,
                        user_id,
                        candidate,
                        resource,
                        *permission,
                        &existing_grants,
                        overwrite,
                        report,
                    )?;
                }
            }
            None => {
                for (resource, _) in &candidate.grants {
                    report.count(ImportedKind::Grant(resource.kind()), |t| t.skipped += 1);
                }
            }
        }
        done += 1 + candidate.grants.len() as u64;
        progress(ImportProgress { done, total });
    }
    for role in roles {
        apply_role(conn, role, candidates, &user_ids, overwrite, report)?;
        done += role.size();
        progress(ImportProgress { done, total });
    }
    Ok(())
}

/// Compares an existing account with MLflow's; returns its id if its grants are to
/// be imported (it is the same, or was overwritten).
fn reconcile_user(
    conn: &mut DbConnection,
    candidate: &Candidate,
    existing: &ExistingUser,
    same_password: bool,
    overwrite: bool,
    report: &mut ImportReport,
) -> Result<Option<i64>, DieselError> {
    let same_admin = existing.is_admin == candidate.is_admin;
    if same_password && same_admin {
        report.count(ImportedKind::User, |t| t.unchanged += 1);
        return Ok(Some(existing.id));
    }
    let yes_no = |admin: bool| if admin { "yes" } else { "no" };
    let mut differences = Vec::new();
    if !same_password {
        differences.push("its password differs".to_owned());
    }
    if !same_admin {
        differences.push(format!(
            "admin in MLflow: {}, in mlguard: {}",
            yes_no(candidate.is_admin),
            yes_no(existing.is_admin)
        ));
    }
    let subject = format!("user {:?}", candidate.username.as_str());
    let differences = differences.join("; ");
    if !overwrite {
        report.count(ImportedKind::User, |t| t.conflicts += 1);
        let grants = candidate.grants.len();
        report.issue(
            IssueOutcome::Conflict,
            subject,
            format!(
                "already in mlguard with different data ({differences}); kept mlguard's, \
                 and its {grants} grant(s) were not imported"
            ),
        );
        return Ok(None);
    }
    let now = now_ms();
    if !same_password {
        diesel::update(users::table.find(existing.id))
            .set(users::password_hash.eq(&candidate.password_hash))
            .execute(conn)?;
        diesel::delete(mlflow_imported_users::table.find(existing.id)).execute(conn)?;
        record_provenance(conn, existing.id, &candidate.password_hash, now)?;
    }
    if !same_admin {
        diesel::update(users::table.find(existing.id))
            .set(users::is_admin.eq(candidate.is_admin))
            .execute(conn)?;
    }
    // What a login proves has changed: cached credentials must not outlive this.
    diesel::update(users::table.find(existing.id))
        .set(users::credential_version.eq(users::credential_version + 1_i64))
        .execute(conn)?;
    report.count(ImportedKind::User, |t| t.updated += 1);
    report.issue(
        IssueOutcome::Overwritten,
        subject,
        format!("differed in mlguard ({differences}); replaced by MLflow's"),
    );
    Ok(Some(existing.id))
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename the same values"
)]
fn reconcile_grant(
    conn: &mut DbConnection,
    user_id: i64,
    candidate: &Candidate,
    resource: &mlguard_domain::Resource,
    permission: Permission,
    existing_grants: &ExistingGrants,
    overwrite: bool,
    report: &mut ImportReport,
) -> Result<(), DieselError> {
    let tally = ImportedKind::Grant(resource.kind());
    let key = resource.grant_key();
    let lookup = (
        user_id,
        key.resource_type.as_str().to_owned(),
        key.id.as_str().to_owned(),
    );
    let stored = stored_from_3_10(permission);
    let Some(held) = existing_grants.get(&lookup) else {
        let role_id = ensure_synthetic_role(conn, user_id, Workspace::DEFAULT)?;
        diesel::insert_into(role_permissions::table)
            .values((
                role_permissions::role_id.eq(role_id),
                role_permissions::resource_type.eq(key.resource_type.as_str()),
                role_permissions::resource_pattern.eq(key.id.as_str()),
                role_permissions::permission.eq(stored.as_str()),
                role_permissions::created_at.eq(now_ms()),
            ))
            .execute(conn)?;
        report.count(tally, |t| t.created += 1);
        return Ok(());
    };
    if held == stored.as_str() {
        report.count(tally, |t| t.unchanged += 1);
        return Ok(());
    }
    let subject = grant_subject(resource, &candidate.username);
    // As the 3.10 API would show it.
    let held = held
        .parse::<Permission>()
        .map(|p| shown_to_3_10(p).to_string())
        .unwrap_or_else(|_| held.clone());
    let difference = format!("mlguard has {held}, MLflow has {permission}");
    if !overwrite {
        report.count(tally, |t| t.conflicts += 1);
        report.issue(
            IssueOutcome::Conflict,
            subject,
            format!("{difference}; kept mlguard's"),
        );
        return Ok(());
    }
    let role_id = ensure_synthetic_role(conn, user_id, Workspace::DEFAULT)?;
    diesel::update(row_on(role_id, &key))
        .set(role_permissions::permission.eq(stored.as_str()))
        .execute(conn)?;
    report.count(tally, |t| t.updated += 1);
    report.issue(
        IssueOutcome::Overwritten,
        subject,
        format!("{difference}; set to {permission}"),
    );
    Ok(())
}

fn same_password(
    existing: &ExistingUser,
    provenance: Option<&(String, String)>,
    mlflow_hash: &str,
) -> bool {
    if existing.password_hash == mlflow_hash {
        return true;
    }
    provenance.is_some_and(|(source, current)| {
        *source == fingerprint(mlflow_hash) && *current == fingerprint(&existing.password_hash)
    })
}

fn insert_user(conn: &mut DbConnection, candidate: &Candidate) -> Result<i64, DieselError> {
    let now = now_ms();
    diesel::insert_into(users::table)
        .values((
            users::username.eq(candidate.username.as_str()),
            users::password_hash.eq(&candidate.password_hash),
            users::is_admin.eq(candidate.is_admin),
            users::credential_version.eq(0_i64),
            users::created_at.eq(now),
        ))
        .execute(conn)?;
    let id = users::table
        .filter(users::username.eq(candidate.username.as_str()))
        .select(users::id)
        .first::<i64>(conn)?;
    record_provenance(conn, id, &candidate.password_hash, now)?;
    Ok(id)
}

fn record_provenance(
    conn: &mut DbConnection,
    user_id: i64,
    mlflow_hash: &str,
    now: i64,
) -> Result<(), DieselError> {
    let fingerprint = fingerprint(mlflow_hash);
    diesel::insert_into(mlflow_imported_users::table)
        .values((
            mlflow_imported_users::user_id.eq(user_id),
            mlflow_imported_users::source_hash_sha256.eq(&fingerprint),
            mlflow_imported_users::current_hash_sha256.eq(&fingerprint),
            mlflow_imported_users::imported_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces an account's imported hash by `new_hash`, unless the hash changed
/// meanwhile (a concurrent password change wins). Keeps the provenance row in step,
/// so a later import still recognises the password as MLflow's. Returns whether it
/// replaced anything.
pub(super) fn replace_hash(
    conn: &mut DbConnection,
    user_id: i64,
    imported_hash: &str,
    new_hash: &str,
) -> Result<bool, DieselError> {
    conn.transaction(|conn| {
        let replaced = diesel::update(
            users::table.filter(
                users::id
                    .eq(user_id)
                    .and(users::password_hash.eq(imported_hash)),
            ),
        )
        .set(users::password_hash.eq(new_hash))
        .execute(conn)?;
        if replaced == 0 {
            return Ok(false);
        }
        diesel::update(
            mlflow_imported_users::table.filter(
                mlflow_imported_users::user_id
                    .eq(user_id)
                    .and(mlflow_imported_users::current_hash_sha256.eq(fingerprint(imported_hash))),
            ),
        )
        .set(mlflow_imported_users::current_hash_sha256.eq(fingerprint(new_hash)))
        .execute(conn)?;
        Ok(true)
    })
}

/// Hex SHA-256 of a stored hash: enough to recognise it, useless to attack it.
fn fingerprint(hash: &str) -> String {
    Sha256::digest(hash.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
