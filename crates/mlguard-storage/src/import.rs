//! `mlguard import-mlflow`: brings users (with their password hashes), admin flags
//! and every grant over from an MLflow basic-auth database, in one transaction.
//!
//! The import lives in this crate because it writes password hashes, and hashes
//! never leave it. It reads the source completely first ([`source`]), checks every
//! row against mlguard's rules here, then compares and writes inside one transaction
//! on mlguard's store ([`apply`]). A dry run is the same transaction, rolled back, so
//! it reports exactly what a real run would do.

mod apply;
mod mlflow_roles;
mod source;

use std::collections::{HashMap, HashSet};
use std::fmt;

use diesel::Connection;
use mlguard_domain::{
    ExperimentId, ModelName, OpaqueId, Permission, Resource, ResourceKind, Username,
};

use crate::error::StorageError;
use crate::store::Store;
use crate::werkzeug::WerkzeugHash;
use source::{MlflowAuthData, Source, SourceGrant, SourceResource, SourceUser};

/// How an import treats mlguard's store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MlflowImportOptions {
    /// Compute and report everything, then roll back: nothing is written.
    pub dry_run: bool,
    /// Replace what differs in mlguard (password, admin flag, grant level) with
    /// MLflow's data instead of skipping it as a conflict.
    pub overwrite: bool,
}

/// How far the write phase has got, in rows (users and grants) of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    pub done: u64,
    pub total: u64,
}

/// What a row of the source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportedKind {
    User,
    Grant(ResourceKind),
    /// MLflow 3.10's workspace permissions. mlguard has no workspaces, so these are
    /// always reported as skipped.
    WorkspaceGrant,
    /// MLflow 3.17's named roles (synthetic ones are counted by their rows).
    Role,
    /// Rows of MLflow 3.17's named roles.
    RoleGrant,
    /// Rows of MLflow 3.17's synthetic roles `__user_<id>__`: per-user grants.
    PerUserGrant,
    /// MLflow 3.17's assignments of users to roles, except a user's to their own
    /// synthetic role, which that role implies.
    Assignment,
}

impl ImportedKind {
    /// Every kind, in the order a report lists them.
    pub const ALL: [ImportedKind; 12] = [
        ImportedKind::User,
        ImportedKind::Grant(ResourceKind::Experiment),
        ImportedKind::Grant(ResourceKind::RegisteredModel),
        ImportedKind::Grant(ResourceKind::Scorer),
        ImportedKind::Grant(ResourceKind::GatewaySecret),
        ImportedKind::Grant(ResourceKind::GatewayEndpoint),
        ImportedKind::Grant(ResourceKind::GatewayModelDefinition),
        ImportedKind::WorkspaceGrant,
        ImportedKind::Role,
        ImportedKind::RoleGrant,
        ImportedKind::PerUserGrant,
        ImportedKind::Assignment,
    ];

    /// Whether the kind is a grant row (what a report's grant total adds up).
    pub const fn is_grant(self) -> bool {
        !matches!(
            self,
            ImportedKind::User | ImportedKind::Role | ImportedKind::Assignment
        )
    }

    pub const fn label(self) -> &'static str {
        match self {
            ImportedKind::User => "users",
            ImportedKind::Grant(ResourceKind::Experiment) => "experiment grants",
            ImportedKind::Grant(ResourceKind::RegisteredModel) => "registered-model grants",
            ImportedKind::Grant(ResourceKind::Prompt) => "prompt grants",
            ImportedKind::Grant(ResourceKind::Scorer) => "scorer grants",
            ImportedKind::Grant(ResourceKind::GatewaySecret) => "gateway-secret grants",
            ImportedKind::Grant(ResourceKind::GatewayEndpoint) => "gateway-endpoint grants",
            ImportedKind::Grant(ResourceKind::GatewayModelDefinition) => {
                "gateway-model-definition grants"
            }
            ImportedKind::Grant(ResourceKind::McpServer) => "MCP-server grants",
            ImportedKind::Grant(ResourceKind::Skill) => "skill grants",
            ImportedKind::WorkspaceGrant => "workspace grants",
            ImportedKind::Role => "roles",
            ImportedKind::RoleGrant => "role grants",
            ImportedKind::PerUserGrant => "per-user grants",
            ImportedKind::Assignment => "role assignments",
        }
    }
}

/// Counts for one kind of row. `found` = `created + updated + unchanged + skipped
/// + conflicts`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows read from MLflow.
    pub found: u64,
    /// New in mlguard.
    pub created: u64,
    /// Differed in mlguard and were overwritten (`--overwrite`).
    pub updated: u64,
    /// Already in mlguard, identical.
    pub unchanged: u64,
    /// Not importable (invalid, unsupported, or their user was not imported).
    pub skipped: u64,
    /// Differed in mlguard and were left as mlguard had them.
    pub conflicts: u64,
}

/// What happened to a row that was not simply imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueOutcome {
    /// Not importable; left out.
    Skipped,
    /// Differs from what mlguard has; mlguard's version kept.
    Conflict,
    /// Differed from what mlguard had; MLflow's version written (`--overwrite`).
    Overwritten,
}

impl fmt::Display for IssueOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IssueOutcome::Skipped => "skipped",
            IssueOutcome::Conflict => "conflict",
            IssueOutcome::Overwritten => "overwritten",
        })
    }
}

/// One row that was skipped, in conflict or overwritten, and why. Never contains a
/// password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportIssue {
    pub outcome: IssueOutcome,
    /// The row, e.g. `user "alice"` or `experiment 3 for "alice"`.
    pub subject: String,
    pub reason: String,
}

/// Everything an import did, or would do on a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The source URL, without its password.
    pub source: String,
    /// MLflow's auth schema revision (`alembic_version_auth`, or `alembic_version`
    /// in 2.x), if the database records one.
    pub schema_revision: Option<String>,
    pub dry_run: bool,
    pub overwrite: bool,
    /// Counts per kind, in [`ImportedKind::ALL`] order.
    pub tallies: Vec<(ImportedKind, Tally)>,
    /// Every row not imported as is, in source order.
    pub issues: Vec<ImportIssue>,
    /// Remarks about the source as a whole (a newer schema, unknown tables).
    pub notes: Vec<String>,
}

impl ImportReport {
    fn new(source: String, revision: Option<String>, options: &MlflowImportOptions) -> Self {
        ImportReport {
            source,
            schema_revision: revision,
            dry_run: options.dry_run,
            overwrite: options.overwrite,
            tallies: ImportedKind::ALL
                .into_iter()
                .map(|k| (k, Tally::default()))
                .collect(),
            issues: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn tally(&self, kind: ImportedKind) -> Tally {
        self.tallies
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, t)| *t)
            .unwrap_or_default()
    }

    /// Whether the import wrote (or on a dry run would write) anything.
    pub fn changes_anything(&self) -> bool {
        self.tallies
            .iter()
            .any(|(_, t)| t.created > 0 || t.updated > 0)
    }

    fn count(&mut self, kind: ImportedKind, update: impl FnOnce(&mut Tally)) {
        if let Some((_, tally)) = self.tallies.iter_mut().find(|(k, _)| *k == kind) {
            update(tally);
        }
    }

    fn issue(&mut self, outcome: IssueOutcome, subject: String, reason: impl Into<String>) {
        self.issues.push(ImportIssue {
            outcome,
            subject,
            reason: reason.into(),
        });
    }
}

/// Why an import did not run. In every case nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("invalid MLflow database URL: {0}")]
    SourceUrl(StorageError),
    #[error("the MLflow database {path} does not exist{hint}")]
    SourceMissing { path: String, hint: String },
    #[error("could not open the MLflow database {url}: {reason}")]
    SourceOpen { url: String, reason: String },
    #[error("{url} is not an MLflow basic-auth database: {reason}")]
    NotMlflowAuth { url: String, reason: String },
    #[error("could not read the MLflow database {url}: {reason}")]
    SourceRead { url: String, reason: String },
    /// Writing to mlguard's store failed; the transaction was rolled back.
    #[error("writing to mlguard's database failed, so the import was rolled back: {0}")]
    Target(String),
}

impl Store {
    /// Imports MLflow's basic-auth database at `source_url` (`sqlite://PATH`,
    /// `sqlite:///ABS/PATH`, `postgresql://…`) into this store, applying pending
    /// migrations first, all in one transaction. `progress` is called as rows are
    /// written. See [`MlflowImportOptions`] for dry runs and conflicts.
    pub fn import_mlflow(
        &self,
        source_url: &str,
        options: &MlflowImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport, ImportError> {
        let _sync = self.sync_after_write();
        let mut source = Source::open(source_url)?;
        let data = source.read()?;
        let shown_url = source.shown_url.clone();
        // Closed before anything is written.
        drop(source);
        let mut report = ImportReport::new(shown_url, data.revision.clone(), options);
        note_schema(&data, &mut report);
        let (candidates, roles) = check_rows(data, &mut report);

        let mut conn = self
            .conn()
            .map_err(|e| ImportError::Target(e.to_string()))?;
        let outcome = conn.transaction::<(), apply::ApplyError, _>(|conn| {
            crate::migrations::run(conn, None).map_err(apply::ApplyError::Migration)?;
            apply::apply(
                conn,
                &candidates,
                &roles,
                options.overwrite,
                &mut report,
                progress,
            )?;
            if options.dry_run {
                // An error is what makes diesel roll the transaction back.
                return Err(apply::ApplyError::DryRunRollback);
            }
            Ok(())
        });
        match outcome {
            Ok(()) | Err(apply::ApplyError::DryRunRollback) => Ok(report),
            Err(e) => Err(ImportError::Target(e.to_string())),
        }
    }

    /// After a successful login with a hash imported from MLflow: stores an argon2id
    /// hash of the same password instead. Best effort; the login succeeds either way
    /// and the next one tries again.
    pub(crate) fn replace_imported_hash(
        &self,
        user_id: i64,
        imported_hash: &str,
        password: &mlguard_domain::Password,
    ) {
        let replaced = crate::password::hash(password).and_then(|new_hash| {
            let mut conn = self.conn()?;
            apply::replace_hash(&mut conn, user_id, imported_hash, &new_hash)
                .map_err(|e| mlguard_domain::StoreError::Unavailable(e.to_string()))
        });
        match replaced {
            Ok(true) => tracing::info!(
                user.id = user_id,
                "imported password hash replaced by argon2id"
            ),
            // The password changed meanwhile; the newer hash stays.
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(user.id = user_id, error = %e, "could not replace an imported password hash")
            }
        }
    }
}

fn note_schema(data: &MlflowAuthData, report: &mut ImportReport) {
    if let Some(revision) = &data.revision
        && !source::KNOWN_REVISIONS.contains(&revision.as_str())
    {
        report.notes.push(format!(
            "schema revision {revision} is not one mlguard knows (MLflow up to 3.18); \
                 the tables it knows were imported"
        ));
    }
    if let Some(roles) = &data.roles
        && roles.legacy_rows > 0
    {
        let hint = if data.revision.as_deref() == Some(source::ROLES_BEFORE_MOVE_REVISION) {
            "; start MLflow once so that it moves them onto roles, then import again"
        } else {
            ""
        };
        report.notes.push(format!(
            "{} row(s) of MLflow 3.10's per-resource permission tables were not imported: \
             MLflow 3.17 reads only its role tables{hint}",
            roles.legacy_rows
        ));
    }
    for table in &data.unknown_tables {
        report.notes.push(format!(
            "table `{table}` is not known to mlguard and was not imported"
        ));
    }
}

/// A user that passed every check, with the grants to import for it.
struct Candidate {
    username: Username,
    password_hash: String,
    is_admin: bool,
    grants: Vec<(Resource, Permission)>,
}

/// Checks every row against mlguard's rules; reports and drops what fails.
fn check_rows(
    data: MlflowAuthData,
    report: &mut ImportReport,
) -> (Vec<Candidate>, Vec<mlflow_roles::RoleCandidate>) {
    let mut candidates = Vec::new();
    // MLflow user id -> index in `candidates`, or the skipped user's subject.
    let mut by_mlflow_id: HashMap<i32, mlflow_roles::UserOutcome> = HashMap::new();
    for user in data.users {
        report.count(ImportedKind::User, |t| t.found += 1);
        let id = user.id;
        match check_user(user) {
            Ok(candidate) => {
                by_mlflow_id.insert(id, Ok(candidates.len()));
                candidates.push(candidate);
            }
            Err((subject, reason)) => {
                report.count(ImportedKind::User, |t| t.skipped += 1);
                by_mlflow_id.insert(id, Err(subject.clone()));
                report.issue(IssueOutcome::Skipped, subject, reason);
            }
        }
    }

    let mut seen: HashSet<(usize, ResourceKind, String)> = HashSet::new();
    let mut left_out_with_user: HashMap<String, mlflow_roles::LeftOut> = HashMap::new();
    for grant in data.grants {
        let kind = imported_kind(&grant.resource);
        report.count(kind, |t| t.found += 1);
        let owner = match by_mlflow_id.get(&grant.user_id) {
            Some(Ok(index)) => *index,
            Some(Err(user_subject)) => {
                left_out_with_user
                    .entry(user_subject.clone())
                    .or_default()
                    .grants += 1;
                report.count(kind, |t| t.skipped += 1);
                continue;
            }
            None => {
                report.count(kind, |t| t.skipped += 1);
                report.issue(
                    IssueOutcome::Skipped,
                    source_subject(&grant, None),
                    format!("MLflow has no user with id {}", grant.user_id),
                );
                continue;
            }
        };
        let username = candidates[owner].username.clone();
        match check_grant(&grant) {
            Ok((resource, permission)) => {
                let key = (owner, resource.kind(), resource.key().into_owned());
                if seen.insert(key) {
                    candidates[owner].grants.push((resource, permission));
                } else {
                    report.count(kind, |t| t.skipped += 1);
                    report.issue(
                        IssueOutcome::Skipped,
                        source_subject(&grant, Some(&username)),
                        "listed twice in MLflow; the first row was used",
                    );
                }
            }
            Err(reason) => {
                report.count(kind, |t| t.skipped += 1);
                report.issue(
                    IssueOutcome::Skipped,
                    source_subject(&grant, Some(&username)),
                    reason,
                );
            }
        }
    }
    let roles = match data.roles {
        Some(source_roles) => mlflow_roles::check_roles(
            source_roles,
            &by_mlflow_id,
            &candidates,
            report,
            &mut left_out_with_user,
        ),
        None => Vec::new(),
    };
    // A skipped user's grants are reported once, with the user.
    for issue in &mut report.issues {
        if let Some(left_out) = left_out_with_user.get(&issue.subject) {
            if left_out.grants > 0 {
                issue.reason = format!(
                    "{}; its {} grant(s) were skipped too",
                    issue.reason, left_out.grants
                );
            }
            if left_out.assignments > 0 {
                issue.reason = format!(
                    "{}; its {} role assignment(s) were skipped too",
                    issue.reason, left_out.assignments
                );
            }
        }
    }
    (candidates, roles)
}

fn check_user(user: SourceUser) -> Result<Candidate, (String, String)> {
    let Some(raw_name) = user.username else {
        return Err((
            format!("user with MLflow id {}", user.id),
            "it has no username".to_owned(),
        ));
    };
    let subject = format!("user {raw_name:?}");
    let username = Username::parse(&raw_name).map_err(|e| {
        (
            subject.clone(),
            format!("not a valid mlguard username: {e}"),
        )
    })?;
    let Some(password_hash) = user.password_hash else {
        return Err((subject, "it has no password hash".to_owned()));
    };
    // Checked now so that no account is imported that could never log in.
    WerkzeugHash::parse(&password_hash).map_err(|e| (subject.clone(), e.to_string()))?;
    Ok(Candidate {
        username,
        password_hash,
        is_admin: user.is_admin.unwrap_or(false),
        grants: Vec::new(),
    })
}

fn imported_kind(resource: &SourceResource) -> ImportedKind {
    match resource {
        SourceResource::Experiment { .. } => ImportedKind::Grant(ResourceKind::Experiment),
        SourceResource::RegisteredModel { .. } => {
            ImportedKind::Grant(ResourceKind::RegisteredModel)
        }
        SourceResource::Scorer { .. } => ImportedKind::Grant(ResourceKind::Scorer),
        SourceResource::GatewaySecret { .. } => ImportedKind::Grant(ResourceKind::GatewaySecret),
        SourceResource::GatewayEndpoint { .. } => {
            ImportedKind::Grant(ResourceKind::GatewayEndpoint)
        }
        SourceResource::GatewayModelDefinition { .. } => {
            ImportedKind::Grant(ResourceKind::GatewayModelDefinition)
        }
        SourceResource::Workspace { .. } => ImportedKind::WorkspaceGrant,
    }
}

/// MLflow's workspace that predates workspaces; its rows are plain model grants.
const DEFAULT_WORKSPACE: &str = "default";

fn check_grant(grant: &SourceGrant) -> Result<(Resource, Permission), String> {
    fn present<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, String> {
        value
            .as_deref()
            .ok_or_else(|| format!("its {field} is empty"))
    }
    let resource = match &grant.resource {
        SourceResource::Experiment { experiment_id } => Resource::Experiment(
            ExperimentId::parse(present(experiment_id, "experiment_id")?)
                .map_err(|e| e.to_string())?,
        ),
        SourceResource::RegisteredModel { name, workspace } => {
            if let Some(workspace) = workspace.as_deref()
                && workspace != DEFAULT_WORKSPACE
            {
                return Err(format!(
                    "it belongs to MLflow workspace {workspace:?}; mlguard has no workspaces"
                ));
            }
            Resource::RegisteredModel(
                ModelName::parse(present(name, "name")?).map_err(|e| e.to_string())?,
            )
        }
        SourceResource::Scorer {
            experiment_id,
            scorer_name,
        } => Resource::Scorer {
            experiment_id: ExperimentId::parse(present(experiment_id, "experiment_id")?)
                .map_err(|e| e.to_string())?,
            name: OpaqueId::parse(present(scorer_name, "scorer_name")?)
                .map_err(|e| e.to_string())?,
        },
        SourceResource::GatewaySecret { secret_id } => Resource::GatewaySecret(
            OpaqueId::parse(present(secret_id, "secret_id")?).map_err(|e| e.to_string())?,
        ),
        SourceResource::GatewayEndpoint { endpoint_id } => Resource::GatewayEndpoint(
            OpaqueId::parse(present(endpoint_id, "endpoint_id")?).map_err(|e| e.to_string())?,
        ),
        SourceResource::GatewayModelDefinition {
            model_definition_id,
        } => Resource::GatewayModelDefinition(
            OpaqueId::parse(present(model_definition_id, "model_definition_id")?)
                .map_err(|e| e.to_string())?,
        ),
        SourceResource::Workspace { .. } => {
            return Err("mlguard has no workspaces".to_owned());
        }
    };
    let permission = present(&grant.permission, "permission")?
        .parse::<Permission>()
        .map_err(|e| e.to_string())?;
    Ok((resource, permission))
}

/// Names a grant as mlguard would: `experiment 3 for "alice"`.
fn grant_subject(resource: &Resource, username: &Username) -> String {
    let what = match resource {
        Resource::Experiment(id) => format!("experiment {id}"),
        Resource::RegisteredModel(name) => format!("registered model {:?}", name.as_str()),
        Resource::Prompt(name) => format!("prompt {:?}", name.as_str()),
        Resource::Scorer {
            experiment_id,
            name,
        } => format!("scorer {:?} of experiment {experiment_id}", name.as_str()),
        Resource::GatewaySecret(id) => format!("gateway secret {:?}", id.as_str()),
        Resource::GatewayEndpoint(id) => format!("gateway endpoint {:?}", id.as_str()),
        Resource::GatewayModelDefinition(id) => {
            format!("gateway model definition {:?}", id.as_str())
        }
        Resource::McpServer(name) => format!("MCP server {:?}", name.as_str()),
        Resource::Skill(name) => format!("skill {:?}", name.as_str()),
    };
    format!("{what} for {:?}", username.as_str())
}

/// Names a grant as MLflow stored it, for rows that are not valid in mlguard.
fn source_subject(grant: &SourceGrant, username: Option<&Username>) -> String {
    let shown = |v: &Option<String>| match v {
        Some(v) => format!("{v:?}"),
        None => "(empty)".to_owned(),
    };
    let what = match &grant.resource {
        SourceResource::Experiment { experiment_id } => {
            format!("experiment {}", shown(experiment_id))
        }
        SourceResource::RegisteredModel { name, .. } => {
            format!("registered model {}", shown(name))
        }
        SourceResource::Scorer {
            experiment_id,
            scorer_name,
        } => format!(
            "scorer {} of experiment {}",
            shown(scorer_name),
            shown(experiment_id)
        ),
        SourceResource::GatewaySecret { secret_id } => {
            format!("gateway secret {}", shown(secret_id))
        }
        SourceResource::GatewayEndpoint { endpoint_id } => {
            format!("gateway endpoint {}", shown(endpoint_id))
        }
        SourceResource::GatewayModelDefinition {
            model_definition_id,
        } => format!("gateway model definition {}", shown(model_definition_id)),
        SourceResource::Workspace { workspace } => format!("workspace {}", shown(workspace)),
    };
    match username {
        Some(username) => format!("{what} for {:?}", username.as_str()),
        None => format!("{what} for MLflow user id {}", grant.user_id),
    }
}
