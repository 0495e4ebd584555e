//! MLflow 3.17's role tables: checking their rows, then writing them.
//!
//! A named role lands as the role of the same workspace and name in mlguard. A
//! synthetic role `__user_<mlflow id>__` holds that MLflow user's per-user grants;
//! its rows land on mlguard's synthetic role of the account with the same username,
//! `__user_<mlguard id>__` (the two stores number users differently).
//!
//! A named role mlguard already has with other data (description, or a row MLflow
//! has that mlguard lacks or holds at another level) is a conflict as a whole: adding
//! MLflow's rows or members to it would widen what mlguard's members can do. A
//! per-user row is compared on its own, as the 3.10 grants are. Rows and members
//! mlguard has beyond MLflow's are left alone.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use mlguard_domain::{GrantRule, Permission, ResourceType, RoleName, Workspace, now_ms};

use super::source::{SourceRole, SourceRolePermission, SourceRoles};
use super::{Candidate, ImportReport, ImportedKind, IssueOutcome};
use crate::connection::DbConnection;
use crate::rbac::ensure_synthetic_role;
use crate::schema::{role_permissions, roles, user_role_assignments};

/// Where a checked MLflow role lands in mlguard.
pub(super) enum RoleTarget {
    Named {
        workspace: Workspace,
        name: RoleName,
        description: Option<String>,
    },
    /// The synthetic role, in `workspace`, of `candidates[owner]`.
    Synthetic { owner: usize, workspace: Workspace },
}

/// An MLflow role that passed every check, with its rows and members.
pub(super) struct RoleCandidate {
    pub(super) target: RoleTarget,
    pub(super) rows: Vec<GrantRule>,
    /// Indexes into the user candidates.
    pub(super) members: Vec<usize>,
}

impl RoleCandidate {
    fn row_kind(&self) -> ImportedKind {
        match self.target {
            RoleTarget::Named { .. } => ImportedKind::RoleGrant,
            RoleTarget::Synthetic { .. } => ImportedKind::PerUserGrant,
        }
    }

    /// How many source rows this role accounts for, for progress.
    pub(super) fn size(&self) -> u64 {
        1 + self.rows.len() as u64 + self.members.len() as u64
    }
}

/// What became of an MLflow user: imported (its index among the candidates) or
/// skipped (the subject its issue was reported under).
pub(super) type UserOutcome = Result<usize, String>;

/// What a skipped user's rows add to its issue.
#[derive(Default)]
pub(super) struct LeftOut {
    pub(super) grants: u64,
    pub(super) assignments: u64,
}

/// Checks every role, row and assignment; reports and drops what fails.
pub(super) fn check_roles(
    source: SourceRoles,
    users: &HashMap<i32, UserOutcome>,
    candidates: &[Candidate],
    report: &mut ImportReport,
    left_out: &mut HashMap<String, LeftOut>,
) -> Vec<RoleCandidate> {
    let mut checked: Vec<RoleCandidate> = Vec::new();
    // MLflow role id -> index in `checked`, or None when it was skipped.
    let mut by_mlflow_id: HashMap<i32, Option<usize>> = HashMap::new();
    for role in source.roles {
        let id = role.id;
        let target = check_role(&role, users, report, left_out);
        let Some(target) = target else {
            by_mlflow_id.insert(id, None);
            continue;
        };
        let mut candidate = RoleCandidate {
            target,
            rows: Vec::new(),
            members: Vec::new(),
        };
        let kind = candidate.row_kind();
        for row in &role.permissions {
            report.count(kind, |t| t.found += 1);
            match check_row(row) {
                Ok(rule) => candidate.rows.push(rule),
                Err(reason) => {
                    report.count(kind, |t| t.skipped += 1);
                    report.issue(
                        IssueOutcome::Skipped,
                        row_subject(&candidate.target, candidates, &shown_row(row)),
                        reason,
                    );
                }
            }
        }
        by_mlflow_id.insert(id, Some(checked.len()));
        checked.push(candidate);
    }

    for assignment in source.assignments {
        let role = by_mlflow_id.get(&assignment.role_id).copied();
        let user = users.get(&assignment.user_id);
        // Implied by the synthetic role itself; mlguard makes it with the role.
        if let (Some(Some(role)), Some(Ok(user))) = (role, user)
            && matches!(checked[role].target, RoleTarget::Synthetic { owner, .. } if owner == *user)
        {
            continue;
        }
        report.count(ImportedKind::Assignment, |t| t.found += 1);
        match (role, user) {
            (Some(Some(role)), Some(Ok(user))) => {
                if !checked[role].members.contains(user) {
                    checked[role].members.push(*user);
                }
                continue;
            }
            (_, Some(Err(user_subject))) => {
                left_out
                    .entry(user_subject.clone())
                    .or_default()
                    .assignments += 1;
            }
            (Some(None), Some(Ok(_))) => {}
            (None, _) => report.issue(
                IssueOutcome::Skipped,
                format!(
                    "assignment of MLflow user id {} to MLflow role id {}",
                    assignment.user_id, assignment.role_id
                ),
                format!("MLflow has no role with id {}", assignment.role_id),
            ),
            (_, None) => report.issue(
                IssueOutcome::Skipped,
                format!(
                    "assignment of MLflow user id {} to MLflow role id {}",
                    assignment.user_id, assignment.role_id
                ),
                format!("MLflow has no user with id {}", assignment.user_id),
            ),
        }
        report.count(ImportedKind::Assignment, |t| t.skipped += 1);
    }
    checked
}

/// Where `role` lands, or `None` (reported, its rows counted as skipped).
fn check_role(
    role: &SourceRole,
    users: &HashMap<i32, UserOutcome>,
    report: &mut ImportReport,
    left_out: &mut HashMap<String, LeftOut>,
) -> Option<RoleTarget> {
    let rows = role.permissions.len() as u64;
    let raw_name = role.name.clone().unwrap_or_default();
    let synthetic_owner = RoleName::from_stored(&raw_name).synthetic_user_id();
    let kind = match synthetic_owner {
        Some(_) => ImportedKind::PerUserGrant,
        None => {
            report.count(ImportedKind::Role, |t| t.found += 1);
            ImportedKind::Role
        }
    };
    let row_kind = match kind {
        ImportedKind::Role => ImportedKind::RoleGrant,
        _ => ImportedKind::PerUserGrant,
    };
    let subject = format!(
        "role {raw_name:?} in workspace {:?}",
        role.workspace.as_deref().unwrap_or("")
    );
    let skip = |report: &mut ImportReport, reason: String| {
        if kind == ImportedKind::Role {
            report.count(ImportedKind::Role, |t| t.skipped += 1);
        }
        report.count(row_kind, |t| {
            t.found += rows;
            t.skipped += rows;
        });
        let reason = if rows > 0 {
            format!("{reason}; its {rows} row(s) were skipped too")
        } else {
            reason
        };
        report.issue(IssueOutcome::Skipped, subject.clone(), reason);
    };
    let workspace = match Workspace::parse(role.workspace.as_deref().unwrap_or("")) {
        Ok(workspace) => workspace,
        Err(e) => {
            skip(report, format!("not a valid workspace: {e}"));
            return None;
        }
    };
    let Some(mlflow_user_id) = synthetic_owner else {
        return match RoleName::parse(&raw_name) {
            Ok(name) => Some(RoleTarget::Named {
                workspace,
                name,
                description: role.description.clone(),
            }),
            Err(e) => {
                skip(report, format!("not a valid role name: {e}"));
                None
            }
        };
    };
    let owner = i32::try_from(mlflow_user_id)
        .ok()
        .and_then(|id| users.get(&id));
    match owner {
        Some(Ok(owner)) => Some(RoleTarget::Synthetic {
            owner: *owner,
            workspace,
        }),
        Some(Err(user_subject)) => {
            // Reported once, with the user.
            report.count(row_kind, |t| {
                t.found += rows;
                t.skipped += rows;
            });
            left_out.entry(user_subject.clone()).or_default().grants += rows;
            None
        }
        None => {
            skip(
                report,
                format!(
                    "the synthetic role of MLflow user id {mlflow_user_id}, who does not exist"
                ),
            );
            None
        }
    }
}

fn check_row(row: &SourceRolePermission) -> Result<GrantRule, String> {
    fn present<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, String> {
        value
            .as_deref()
            .ok_or_else(|| format!("its {field} is empty"))
    }
    let resource_type = ResourceType::parse(present(&row.resource_type, "resource_type")?)
        .map_err(|e| e.to_string())?;
    let permission = present(&row.permission, "permission")?
        .parse::<Permission>()
        .map_err(|e| e.to_string())?;
    GrantRule::new(
        resource_type,
        present(&row.resource_pattern, "resource_pattern")?,
        permission,
    )
    .map_err(|e| e.to_string())
}

fn shown_row(row: &SourceRolePermission) -> String {
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(empty)".to_owned());
    format!(
        "{} {}",
        shown(&row.resource_type),
        shown(&row.resource_pattern)
    )
}

/// `experiment * on role "readers" in workspace "default"`, or for a per-user
/// row `experiment 3 for "alice"` (the workspace named when it is not `default`).
fn row_subject(target: &RoleTarget, candidates: &[Candidate], row: &str) -> String {
    match target {
        RoleTarget::Named {
            workspace, name, ..
        } => format!(
            "{row} on role {:?} in workspace {:?}",
            name.as_str(),
            workspace.as_str()
        ),
        RoleTarget::Synthetic { owner, workspace } => {
            let user = candidates[*owner].username.as_str();
            if workspace.as_str() == Workspace::DEFAULT {
                format!("{row} for {user:?}")
            } else {
                format!("{row} for {user:?} in workspace {:?}", workspace.as_str())
            }
        }
    }
}

fn rule_shown(rule: &GrantRule) -> String {
    format!(
        "{} {}",
        rule.resource_type().as_str(),
        rule.pattern().as_str()
    )
}

/// `(resource_type, resource_pattern)` → stored permission, for one role.
type RowsOf = HashMap<(String, String), String>;

fn rows_of(conn: &mut DbConnection, role_id: i64) -> Result<RowsOf, DieselError> {
    Ok(role_permissions::table
        .filter(role_permissions::role_id.eq(role_id))
        .select((
            role_permissions::resource_type,
            role_permissions::resource_pattern,
            role_permissions::permission,
        ))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(t, p, perm)| ((t, p), perm))
        .collect())
}

fn held_by<'a>(rows: &'a RowsOf, rule: &GrantRule) -> Option<&'a String> {
    rows.get(&(
        rule.resource_type().as_str().to_owned(),
        rule.pattern().as_str().to_owned(),
    ))
}

fn insert_row(conn: &mut DbConnection, role_id: i64, rule: &GrantRule) -> Result<(), DieselError> {
    diesel::insert_into(role_permissions::table)
        .values((
            role_permissions::role_id.eq(role_id),
            role_permissions::resource_type.eq(rule.resource_type().as_str()),
            role_permissions::resource_pattern.eq(rule.pattern().as_str()),
            role_permissions::permission.eq(rule.permission().as_str()),
            role_permissions::created_at.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(())
}

fn update_row(conn: &mut DbConnection, role_id: i64, rule: &GrantRule) -> Result<(), DieselError> {
    diesel::update(
        role_permissions::table.filter(
            role_permissions::role_id
                .eq(role_id)
                .and(role_permissions::resource_type.eq(rule.resource_type().as_str()))
                .and(role_permissions::resource_pattern.eq(rule.pattern().as_str())),
        ),
    )
    .set(role_permissions::permission.eq(rule.permission().as_str()))
    .execute(conn)?;
    Ok(())
}

/// Writes one checked role. `user_ids[i]` is the mlguard id of `candidates[i]`, or
/// `None` when that user was not imported (a conflict kept mlguard's account).
pub(super) fn apply_role(
    conn: &mut DbConnection,
    role: &RoleCandidate,
    candidates: &[Candidate],
    user_ids: &[Option<i64>],
    overwrite: bool,
    report: &mut ImportReport,
) -> Result<(), DieselError> {
    let row_kind = role.row_kind();
    let role_id = match &role.target {
        RoleTarget::Synthetic { owner, workspace } => {
            let Some(owner_id) = user_ids[*owner] else {
                // The user's conflict was reported; their grants go with them.
                report.count(row_kind, |t| t.skipped += role.rows.len() as u64);
                report.count(ImportedKind::Assignment, |t| {
                    t.skipped += role.members.len() as u64
                });
                return Ok(());
            };
            let role_id = ensure_synthetic_role(conn, owner_id, workspace.as_str())?;
            let held = rows_of(conn, role_id)?;
            for rule in &role.rows {
                let subject = row_subject(&role.target, candidates, &rule_shown(rule));
                reconcile_row(
                    conn, role_id, rule, &held, row_kind, subject, overwrite, report,
                )?;
            }
            role_id
        }
        RoleTarget::Named {
            workspace,
            name,
            description,
        } => match named_role(conn, role, workspace, name, description, overwrite, report)? {
            Some(role_id) => role_id,
            None => return Ok(()),
        },
    };
    for member in &role.members {
        let Some(user_id) = user_ids[*member] else {
            report.count(ImportedKind::Assignment, |t| t.skipped += 1);
            continue;
        };
        let assigned = diesel::select(diesel::dsl::exists(
            user_role_assignments::table.filter(
                user_role_assignments::user_id
                    .eq(user_id)
                    .and(user_role_assignments::role_id.eq(role_id)),
            ),
        ))
        .get_result::<bool>(conn)?;
        if assigned {
            report.count(ImportedKind::Assignment, |t| t.unchanged += 1);
        } else {
            diesel::insert_into(user_role_assignments::table)
                .values((
                    user_role_assignments::user_id.eq(user_id),
                    user_role_assignments::role_id.eq(role_id),
                    user_role_assignments::created_at.eq(now_ms()),
                ))
                .execute(conn)?;
            report.count(ImportedKind::Assignment, |t| t.created += 1);
        }
    }
    Ok(())
}

/// Creates or compares a named role and its rows; returns its id if its members are
/// to be imported.
fn named_role(
    conn: &mut DbConnection,
    role: &RoleCandidate,
    workspace: &Workspace,
    name: &RoleName,
    description: &Option<String>,
    overwrite: bool,
    report: &mut ImportReport,
) -> Result<Option<i64>, DieselError> {
    let existing = roles::table
        .filter(
            roles::workspace
                .eq(workspace.as_str())
                .and(roles::name.eq(name.as_str())),
        )
        .select((roles::id, roles::description))
        .first::<(i64, Option<String>)>(conn)
        .optional()?;
    let Some((role_id, held_description)) = existing else {
        diesel::insert_into(roles::table)
            .values((
                roles::workspace.eq(workspace.as_str()),
                roles::name.eq(name.as_str()),
                roles::description.eq(description.as_deref()),
                roles::created_at.eq(now_ms()),
            ))
            .execute(conn)?;
        let role_id = roles::table
            .filter(
                roles::workspace
                    .eq(workspace.as_str())
                    .and(roles::name.eq(name.as_str())),
            )
            .select(roles::id)
            .first::<i64>(conn)?;
        for rule in &role.rows {
            insert_row(conn, role_id, rule)?;
        }
        report.count(ImportedKind::Role, |t| t.created += 1);
        report.count(ImportedKind::RoleGrant, |t| {
            t.created += role.rows.len() as u64
        });
        return Ok(Some(role_id));
    };

    let held = rows_of(conn, role_id)?;
    let mut differences = Vec::new();
    if held_description != *description {
        differences.push(format!(
            "description in MLflow: {description:?}, in mlguard: {held_description:?}"
        ));
    }
    let mut same_rows = 0_u64;
    for rule in &role.rows {
        match held_by(&held, rule) {
            Some(level) if level == rule.permission().as_str() => same_rows += 1,
            Some(level) => differences.push(format!(
                "{} is {level} in mlguard, {} in MLflow",
                rule_shown(rule),
                rule.permission()
            )),
            None => differences.push(format!(
                "{} {} only in MLflow",
                rule_shown(rule),
                rule.permission()
            )),
        }
    }
    let subject = format!(
        "role {:?} in workspace {:?}",
        name.as_str(),
        workspace.as_str()
    );
    let differing_rows = role.rows.len() as u64 - same_rows;
    if differences.is_empty() {
        report.count(ImportedKind::Role, |t| t.unchanged += 1);
        report.count(ImportedKind::RoleGrant, |t| t.unchanged += same_rows);
        return Ok(Some(role_id));
    }
    let differences = differences.join("; ");
    if !overwrite {
        report.count(ImportedKind::Role, |t| t.conflicts += 1);
        report.count(ImportedKind::RoleGrant, |t| {
            t.unchanged += same_rows;
            t.conflicts += differing_rows;
        });
        report.count(ImportedKind::Assignment, |t| {
            t.skipped += role.members.len() as u64
        });
        report.issue(
            IssueOutcome::Conflict,
            subject,
            format!(
                "already in mlguard with different data ({differences}); kept mlguard's, \
                 and its {differing_rows} differing row(s) and {} assignment(s) were not imported",
                role.members.len()
            ),
        );
        return Ok(None);
    }
    if held_description != *description {
        diesel::update(roles::table.find(role_id))
            .set(roles::description.eq(description.as_deref()))
            .execute(conn)?;
    }
    for rule in &role.rows {
        match held_by(&held, rule) {
            Some(level) if level == rule.permission().as_str() => {}
            Some(_) => {
                update_row(conn, role_id, rule)?;
                report.count(ImportedKind::RoleGrant, |t| t.updated += 1);
            }
            None => {
                insert_row(conn, role_id, rule)?;
                report.count(ImportedKind::RoleGrant, |t| t.created += 1);
            }
        }
    }
    report.count(ImportedKind::RoleGrant, |t| t.unchanged += same_rows);
    report.count(ImportedKind::Role, |t| t.updated += 1);
    report.issue(
        IssueOutcome::Overwritten,
        subject,
        format!("differed in mlguard ({differences}); replaced by MLflow's"),
    );
    Ok(Some(role_id))
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename the same values"
)]
fn reconcile_row(
    conn: &mut DbConnection,
    role_id: i64,
    rule: &GrantRule,
    held: &RowsOf,
    kind: ImportedKind,
    subject: String,
    overwrite: bool,
    report: &mut ImportReport,
) -> Result<(), DieselError> {
    let Some(level) = held_by(held, rule) else {
        insert_row(conn, role_id, rule)?;
        report.count(kind, |t| t.created += 1);
        return Ok(());
    };
    if level == rule.permission().as_str() {
        report.count(kind, |t| t.unchanged += 1);
        return Ok(());
    }
    let difference = format!("mlguard has {level}, MLflow has {}", rule.permission());
    if !overwrite {
        report.count(kind, |t| t.conflicts += 1);
        report.issue(
            IssueOutcome::Conflict,
            subject,
            format!("{difference}; kept mlguard's"),
        );
        return Ok(());
    }
    update_row(conn, role_id, rule)?;
    report.count(kind, |t| t.updated += 1);
    report.issue(
        IssueOutcome::Overwritten,
        subject,
        format!("{difference}; set to {}", rule.permission()),
    );
    Ok(())
}
