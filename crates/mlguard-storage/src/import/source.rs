//! Reading an MLflow basic-auth database, SQLite or PostgreSQL, as MLflow 2.x to
//! 3.10.1 wrote it. The source is opened read-only and read in one snapshot; nothing
//! here ever writes to it.
//!
//! The schema, from MLflow's own alembic migrations (`mlflow/server/auth/db`):
//! - initial (MLflow 2.5, and every 2.x): `users`, `experiment_permissions`,
//!   `registered_model_permissions (name, user_id)`;
//! - `0965eb92f5f0` (3.6): `scorer_permissions`;
//! - `a1b2c3d4e5f6`: `gateway_{secret,endpoint,model_definition}_permissions`;
//! - `2ed73881770d` (3.10): `workspace_permissions`, and a `workspace` column on
//!   `registered_model_permissions`;
//! - `c3d4e5f6a7b8` (3.17): `roles`, `role_permissions`, `user_role_assignments`;
//! - `e5f6a7b8c9d0`: moves every per-resource row onto the user's synthetic role
//!   `__user_<id>__` (the old tables stay, empty, and MLflow no longer reads them);
//! - `f1a2b3c4d5e6`: rewrites `registered_model` rows naming prompts to `prompt`.
//!   MLflow 3.18 has the same head.
//!
//! A database with the role tables is read as 3.17 (its roles, rows and
//! assignments); one without, as 2.x to 3.10 (its per-resource tables).
//!
//! MLflow 2.x records the revision in `alembic_version`, 3.6 and later in
//! `alembic_version_auth`.

use std::collections::BTreeSet;
use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::Text;
use diesel::{PgConnection, SqliteConnection};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::ImportError;
use crate::connection::DbConnection;
use crate::url::Target;

/// MLflow's tables, as its models declare them. Every column that a damaged row
/// could leave empty is read as nullable, so that such a row is reported and
/// skipped instead of failing the whole read.
mod mlflow {
    diesel::table! {
        users (id) {
            id -> Integer,
            username -> Nullable<Text>,
            password_hash -> Nullable<Text>,
            is_admin -> Nullable<Bool>,
        }
    }

    diesel::table! {
        experiment_permissions (id) {
            id -> Integer,
            experiment_id -> Nullable<Text>,
            user_id -> Integer,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        /// Before MLflow 3.10: no `workspace` column.
        registered_model_permissions (id) {
            id -> Integer,
            name -> Nullable<Text>,
            user_id -> Integer,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        /// MLflow 3.10 and later.
        #[sql_name = "registered_model_permissions"]
        workspace_registered_model_permissions (id) {
            id -> Integer,
            workspace -> Nullable<Text>,
            name -> Nullable<Text>,
            user_id -> Integer,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        scorer_permissions (id) {
            id -> Integer,
            experiment_id -> Nullable<Text>,
            scorer_name -> Nullable<Text>,
            user_id -> Integer,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        gateway_secret_permissions (id) {
            id -> Integer,
            secret_id -> Nullable<Text>,
            user_id -> Integer,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        gateway_endpoint_permissions (id) {
            id -> Integer,
            endpoint_id -> Nullable<Text>,
            user_id -> Integer,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        gateway_model_definition_permissions (id) {
            id -> Integer,
            model_definition_id -> Nullable<Text>,
            user_id -> Integer,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        workspace_permissions (workspace, user_id) {
            workspace -> Nullable<Text>,
            user_id -> Integer,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        roles (id) {
            id -> Integer,
            name -> Nullable<Text>,
            workspace -> Nullable<Text>,
            description -> Nullable<Text>,
        }
    }

    diesel::table! {
        role_permissions (id) {
            id -> Integer,
            role_id -> Integer,
            resource_type -> Nullable<Text>,
            resource_pattern -> Nullable<Text>,
            permission -> Nullable<Text>,
        }
    }

    diesel::table! {
        user_role_assignments (id) {
            id -> Integer,
            user_id -> Integer,
            role_id -> Integer,
        }
    }

    diesel::table! {
        alembic_version_auth (version_num) {
            version_num -> Text,
        }
    }

    diesel::table! {
        /// Where MLflow 2.x recorded the auth schema's revision. A tracking store
        /// sharing the database uses the same table for its own revisions.
        alembic_version (version_num) {
            version_num -> Text,
        }
    }
}

/// The tables every MLflow basic-auth database has, with the columns read from them.
const REQUIRED_TABLES: [(&str, &[&str]); 3] = [
    ("users", &["id", "username", "password_hash", "is_admin"]),
    (
        "experiment_permissions",
        &["id", "experiment_id", "user_id", "permission"],
    ),
    (
        "registered_model_permissions",
        &["id", "name", "user_id", "permission"],
    ),
];

/// Tables later MLflow releases added; read when present.
const OPTIONAL_TABLES: [(&str, &[&str]); 5] = [
    (
        "scorer_permissions",
        &[
            "id",
            "experiment_id",
            "scorer_name",
            "user_id",
            "permission",
        ],
    ),
    (
        "gateway_secret_permissions",
        &["id", "secret_id", "user_id", "permission"],
    ),
    (
        "gateway_endpoint_permissions",
        &["id", "endpoint_id", "user_id", "permission"],
    ),
    (
        "gateway_model_definition_permissions",
        &["id", "model_definition_id", "user_id", "permission"],
    ),
    (
        "workspace_permissions",
        &["workspace", "user_id", "permission"],
    ),
];

/// MLflow 3.17's role tables; a database with all three is read as 3.17.
const ROLE_TABLES: [(&str, &[&str]); 3] = [
    ("roles", &["id", "name", "workspace", "description"]),
    (
        "role_permissions",
        &[
            "id",
            "role_id",
            "resource_type",
            "resource_pattern",
            "permission",
        ],
    ),
    ("user_role_assignments", &["id", "user_id", "role_id"]),
];

/// The alembic revisions of MLflow's auth schema up to 3.18.
pub(super) const KNOWN_REVISIONS: [&str; 7] = [
    "8606fa83a998",
    "0965eb92f5f0",
    "a1b2c3d4e5f6",
    "2ed73881770d",
    "c3d4e5f6a7b8",
    "e5f6a7b8c9d0",
    "f1a2b3c4d5e6",
];

/// The 3.17 revision with the role tables but before the per-resource rows were
/// moved onto them (MLflow moves them on its next start).
pub(super) const ROLES_BEFORE_MOVE_REVISION: &str = "c3d4e5f6a7b8";

/// One row of MLflow's `users`.
#[derive(Clone)]
pub(super) struct SourceUser {
    pub(super) id: i32,
    pub(super) username: Option<String>,
    pub(super) password_hash: Option<String>,
    pub(super) is_admin: Option<bool>,
}

/// What one permission row of MLflow's names, as stored.
#[derive(Debug, Clone)]
pub(super) enum SourceResource {
    Experiment {
        experiment_id: Option<String>,
    },
    RegisteredModel {
        name: Option<String>,
        /// `None` before MLflow 3.10 (no such column).
        workspace: Option<String>,
    },
    Scorer {
        experiment_id: Option<String>,
        scorer_name: Option<String>,
    },
    GatewaySecret {
        secret_id: Option<String>,
    },
    GatewayEndpoint {
        endpoint_id: Option<String>,
    },
    GatewayModelDefinition {
        model_definition_id: Option<String>,
    },
    Workspace {
        workspace: Option<String>,
    },
}

/// One permission row of any of MLflow's permission tables.
#[derive(Debug, Clone)]
pub(super) struct SourceGrant {
    pub(super) user_id: i32,
    pub(super) resource: SourceResource,
    pub(super) permission: Option<String>,
}

/// One row of MLflow 3.17's `role_permissions`, as stored.
#[derive(Debug, Clone)]
pub(super) struct SourceRolePermission {
    pub(super) resource_type: Option<String>,
    pub(super) resource_pattern: Option<String>,
    pub(super) permission: Option<String>,
}

/// One row of MLflow 3.17's `roles`, with its permission rows.
#[derive(Debug, Clone)]
pub(super) struct SourceRole {
    pub(super) id: i32,
    pub(super) workspace: Option<String>,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    pub(super) permissions: Vec<SourceRolePermission>,
}

/// One row of MLflow 3.17's `user_role_assignments`.
#[derive(Debug, Clone, Copy)]
pub(super) struct SourceAssignment {
    pub(super) user_id: i32,
    pub(super) role_id: i32,
}

/// MLflow 3.17's role tables.
pub(super) struct SourceRoles {
    pub(super) roles: Vec<SourceRole>,
    pub(super) assignments: Vec<SourceAssignment>,
    /// Rows left in the 3.10 per-resource tables, which 3.17 no longer reads.
    pub(super) legacy_rows: u64,
}

/// Everything read from the source, in one consistent snapshot.
pub(super) struct MlflowAuthData {
    /// The auth schema's alembic revision, if the database records one.
    pub(super) revision: Option<String>,
    /// Tables that look like MLflow permission tables but that mlguard does not know
    /// (written by a newer MLflow); they are reported, not read.
    pub(super) unknown_tables: Vec<String>,
    pub(super) users: Vec<SourceUser>,
    /// The per-resource rows of a 2.x to 3.10 database; empty for 3.17.
    pub(super) grants: Vec<SourceGrant>,
    /// The role tables of a 3.17 database; `None` before 3.17.
    pub(super) roles: Option<SourceRoles>,
}

/// An open, read-only connection to the source, and how to name it in messages.
pub(super) struct Source {
    conn: DbConnection,
    pub(super) shown_url: String,
}

/// Characters a path must not carry raw inside an SQLite `file:` URI.
const URI_RESERVED: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#').add(b' ');

impl Source {
    /// Opens the database `url` names, read-only. SQLAlchemy's driver suffix
    /// (`postgresql+psycopg2://`) is accepted, since MLflow's `database_uri` may
    /// carry one. A missing SQLite file is an error, never created.
    pub(super) fn open(url: &str) -> Result<Source, ImportError> {
        let target = Target::parse(&without_driver_suffix(url)).map_err(ImportError::SourceUrl)?;
        let shown_url = target.redacted();
        let opened = match &target {
            Target::SqliteMemory => {
                return Err(ImportError::SourceOpen {
                    url: shown_url,
                    reason: "an in-memory database holds nothing to import".to_owned(),
                });
            }
            Target::SqliteFile(path) => {
                // `sqlite:////abs` (SQLAlchemy's spelling) reaches here as `//abs`.
                let path = collapse_leading_slashes(path);
                if !Path::new(&path).is_file() {
                    return Err(ImportError::SourceMissing {
                        path: path.clone(),
                        hint: missing_file_hint(&path),
                    });
                }
                let uri = format!("file:{}?mode=ro", utf8_percent_encode(&path, URI_RESERVED));
                SqliteConnection::establish(&uri).map(DbConnection::Sqlite)
            }
            Target::Postgres(pg_url) => PgConnection::establish(pg_url).map(DbConnection::Postgres),
        };
        let conn = opened.map_err(|e| ImportError::SourceOpen {
            url: shown_url.clone(),
            reason: target.scrub(&e.to_string()),
        })?;
        Ok(Source { conn, shown_url })
    }

    /// Checks that the source is an MLflow basic-auth database and reads all of it
    /// in one read-only transaction.
    pub(super) fn read(&mut self) -> Result<MlflowAuthData, ImportError> {
        let shown_url = self.shown_url.clone();
        let unreadable = |e: DieselError| ImportError::SourceRead {
            url: shown_url.clone(),
            reason: e.to_string(),
        };
        self.conn
            .transaction::<_, ReadError, _>(|conn| {
                if let DbConnection::Postgres(pg) = conn {
                    // The first statement of the transaction: one snapshot, no writes.
                    pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
                }
                let layout = inspect(conn)?;
                Ok(read_rows(conn, layout)?)
            })
            .map_err(|e| match e {
                ReadError::Db(e) => unreadable(e),
                ReadError::NotMlflow(reason) => ImportError::NotMlflowAuth {
                    url: self.shown_url.clone(),
                    reason,
                },
            })
    }
}

enum ReadError {
    Db(DieselError),
    NotMlflow(String),
}

impl From<DieselError> for ReadError {
    fn from(e: DieselError) -> Self {
        ReadError::Db(e)
    }
}

/// Which of MLflow's tables the source has.
struct Layout {
    tables: BTreeSet<String>,
    registered_models_have_workspace: bool,
    has_roles: bool,
    unknown_tables: Vec<String>,
}

impl Layout {
    fn has(&self, table: &str) -> bool {
        self.tables.contains(table)
    }
}

fn inspect(conn: &mut DbConnection) -> Result<Layout, ReadError> {
    let tables = table_names(conn)?;
    if !tables.contains("users") {
        return Err(ReadError::NotMlflow(no_users_reason(&tables)));
    }
    for (table, columns) in REQUIRED_TABLES {
        if !tables.contains(table) {
            return Err(ReadError::NotMlflow(format!(
                "it has a `users` table but no `{table}` table"
            )));
        }
        require_columns(conn, table, columns)?;
    }
    for (table, columns) in OPTIONAL_TABLES {
        if tables.contains(table) {
            require_columns(conn, table, columns)?;
        }
    }
    let registered_models_have_workspace =
        column_names(conn, "registered_model_permissions")?.contains("workspace");
    let has_roles = ROLE_TABLES.iter().all(|(table, _)| tables.contains(*table));
    if has_roles {
        for (table, columns) in ROLE_TABLES {
            require_columns(conn, table, columns)?;
        }
    }
    let known: BTreeSet<&str> = REQUIRED_TABLES
        .iter()
        .chain(OPTIONAL_TABLES.iter())
        .chain(ROLE_TABLES.iter())
        .map(|(table, _)| *table)
        .collect();
    let unknown_tables = tables
        .iter()
        .filter(|t| t.ends_with("_permissions") && !known.contains(t.as_str()))
        .cloned()
        .collect();
    Ok(Layout {
        tables,
        registered_models_have_workspace,
        has_roles,
        unknown_tables,
    })
}

/// Says what the database looks like instead, for the usual mix-ups.
fn no_users_reason(tables: &BTreeSet<String>) -> String {
    if tables.is_empty() {
        return "it has no tables at all".to_owned();
    }
    if tables.contains("experiments") && tables.contains("runs") {
        return "it has no `users` table; it looks like an MLflow tracking database \
                (give the basic-auth one: `database_uri` in basic_auth.ini)"
            .to_owned();
    }
    "it has no `users` table".to_owned()
}

fn require_columns(
    conn: &mut DbConnection,
    table: &str,
    columns: &[&str],
) -> Result<(), ReadError> {
    let present = column_names(conn, table)?;
    match columns.iter().find(|c| !present.contains(**c)) {
        Some(missing) => Err(ReadError::NotMlflow(format!(
            "table `{table}` has no column `{missing}`"
        ))),
        None => Ok(()),
    }
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

fn table_names(conn: &mut DbConnection) -> Result<BTreeSet<String>, DieselError> {
    let rows: Vec<NameRow> = match conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table'").load(c)?
        }
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema()",
        )
        .load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.name).collect())
}

fn column_names(conn: &mut DbConnection, table: &str) -> Result<BTreeSet<String>, DieselError> {
    let rows: Vec<NameRow> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query("SELECT name FROM pragma_table_info(?)")
            .bind::<Text, _>(table)
            .load(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind::<Text, _>(table)
        .load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.name).collect())
}

type RowOf2 = (i32, Option<String>, Option<String>);

fn read_rows(conn: &mut DbConnection, layout: Layout) -> Result<MlflowAuthData, DieselError> {
    use mlflow::*;

    let revision = if layout.has("alembic_version_auth") {
        alembic_version_auth::table
            .select(alembic_version_auth::version_num)
            .first::<String>(conn)
            .optional()?
    } else if layout.has("alembic_version") {
        // Only an auth revision counts: the table may be the tracking store's.
        alembic_version::table
            .select(alembic_version::version_num)
            .load::<String>(conn)?
            .into_iter()
            .find(|v| KNOWN_REVISIONS.contains(&v.as_str()))
    } else {
        None
    };

    let users = users::table
        .order(users::id.asc())
        .select((
            users::id,
            users::username,
            users::password_hash,
            users::is_admin,
        ))
        .load::<(i32, Option<String>, Option<String>, Option<bool>)>(conn)?
        .into_iter()
        .map(|(id, username, password_hash, is_admin)| SourceUser {
            id,
            username,
            password_hash,
            is_admin,
        })
        .collect();

    let mut grants = Vec::new();
    let mut push = |user_id, resource, permission| {
        grants.push(SourceGrant {
            user_id,
            resource,
            permission,
        });
    };

    for (user_id, experiment_id, permission) in experiment_permissions::table
        .order(experiment_permissions::id.asc())
        .select((
            experiment_permissions::user_id,
            experiment_permissions::experiment_id,
            experiment_permissions::permission,
        ))
        .load::<RowOf2>(conn)?
    {
        push(
            user_id,
            SourceResource::Experiment { experiment_id },
            permission,
        );
    }

    if layout.registered_models_have_workspace {
        use workspace_registered_model_permissions as rmp;
        for (user_id, name, workspace, permission) in rmp::table
            .order(rmp::id.asc())
            .select((rmp::user_id, rmp::name, rmp::workspace, rmp::permission))
            .load::<(i32, Option<String>, Option<String>, Option<String>)>(conn)?
        {
            push(
                user_id,
                SourceResource::RegisteredModel { name, workspace },
                permission,
            );
        }
    } else {
        use registered_model_permissions as rmp;
        for (user_id, name, permission) in rmp::table
            .order(rmp::id.asc())
            .select((rmp::user_id, rmp::name, rmp::permission))
            .load::<RowOf2>(conn)?
        {
            push(
                user_id,
                SourceResource::RegisteredModel {
                    name,
                    workspace: None,
                },
                permission,
            );
        }
    }

    if layout.has("scorer_permissions") {
        use scorer_permissions as sp;
        for (user_id, experiment_id, scorer_name, permission) in sp::table
            .order(sp::id.asc())
            .select((
                sp::user_id,
                sp::experiment_id,
                sp::scorer_name,
                sp::permission,
            ))
            .load::<(i32, Option<String>, Option<String>, Option<String>)>(conn)?
        {
            push(
                user_id,
                SourceResource::Scorer {
                    experiment_id,
                    scorer_name,
                },
                permission,
            );
        }
    }

    if layout.has("gateway_secret_permissions") {
        use gateway_secret_permissions as g;
        for (user_id, secret_id, permission) in g::table
            .order(g::id.asc())
            .select((g::user_id, g::secret_id, g::permission))
            .load::<RowOf2>(conn)?
        {
            push(
                user_id,
                SourceResource::GatewaySecret { secret_id },
                permission,
            );
        }
    }

    if layout.has("gateway_endpoint_permissions") {
        use gateway_endpoint_permissions as g;
        for (user_id, endpoint_id, permission) in g::table
            .order(g::id.asc())
            .select((g::user_id, g::endpoint_id, g::permission))
            .load::<RowOf2>(conn)?
        {
            push(
                user_id,
                SourceResource::GatewayEndpoint { endpoint_id },
                permission,
            );
        }
    }

    if layout.has("gateway_model_definition_permissions") {
        use gateway_model_definition_permissions as g;
        for (user_id, model_definition_id, permission) in g::table
            .order(g::id.asc())
            .select((g::user_id, g::model_definition_id, g::permission))
            .load::<RowOf2>(conn)?
        {
            push(
                user_id,
                SourceResource::GatewayModelDefinition {
                    model_definition_id,
                },
                permission,
            );
        }
    }

    if layout.has("workspace_permissions") {
        use workspace_permissions as w;
        for (user_id, workspace, permission) in w::table
            .order((w::workspace.asc(), w::user_id.asc()))
            .select((w::user_id, w::workspace, w::permission))
            .load::<RowOf2>(conn)?
        {
            push(user_id, SourceResource::Workspace { workspace }, permission);
        }
    }

    let roles = if layout.has_roles {
        let legacy_rows = grants.len() as u64;
        // MLflow 3.17 decides on the role tables alone.
        grants.clear();
        Some(read_roles(conn, legacy_rows)?)
    } else {
        None
    };

    Ok(MlflowAuthData {
        revision,
        unknown_tables: layout.unknown_tables,
        users,
        grants,
        roles,
    })
}

fn read_roles(conn: &mut DbConnection, legacy_rows: u64) -> Result<SourceRoles, DieselError> {
    use mlflow::{role_permissions as rp, roles as r, user_role_assignments as ura};

    let mut roles: Vec<SourceRole> = r::table
        .order(r::id.asc())
        .select((r::id, r::workspace, r::name, r::description))
        .load::<(i32, Option<String>, Option<String>, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, workspace, name, description)| SourceRole {
            id,
            workspace,
            name,
            description,
            permissions: Vec::new(),
        })
        .collect();
    let index: std::collections::HashMap<i32, usize> = roles
        .iter()
        .enumerate()
        .map(|(i, role)| (role.id, i))
        .collect();
    for (role_id, resource_type, resource_pattern, permission) in rp::table
        .order(rp::id.asc())
        .select((
            rp::role_id,
            rp::resource_type,
            rp::resource_pattern,
            rp::permission,
        ))
        .load::<(i32, Option<String>, Option<String>, Option<String>)>(conn)?
    {
        // A row of a missing role (SQLite without foreign keys) grants nothing in
        // MLflow either.
        if let Some(&i) = index.get(&role_id) {
            roles[i].permissions.push(SourceRolePermission {
                resource_type,
                resource_pattern,
                permission,
            });
        }
    }
    let assignments = ura::table
        .order(ura::id.asc())
        .select((ura::user_id, ura::role_id))
        .load::<(i32, i32)>(conn)?
        .into_iter()
        .map(|(user_id, role_id)| SourceAssignment { user_id, role_id })
        .collect();
    Ok(SourceRoles {
        roles,
        assignments,
        legacy_rows,
    })
}

/// `postgresql+psycopg2://…` → `postgresql://…`: SQLAlchemy names its driver there.
fn without_driver_suffix(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match scheme.split_once('+') {
        Some((base, _driver)) => format!("{base}://{rest}"),
        None => url.to_owned(),
    }
}

fn collapse_leading_slashes(path: &str) -> String {
    if path.starts_with("//") {
        format!("/{}", path.trim_start_matches('/'))
    } else {
        path.to_owned()
    }
}

/// `sqlite:///basic_auth.db` is relative for SQLAlchemy (MLflow's `database_uri`)
/// but absolute here; say so when that is the likely mistake.
fn missing_file_hint(path: &str) -> String {
    let relative = path.trim_start_matches('/');
    if path.starts_with('/') && !relative.contains('/') && Path::new(relative).is_file() {
        return format!(
            " (mlguard reads sqlite:///{relative} as the absolute path {path}; for \
             {relative} in the current directory write sqlite://{relative})"
        );
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_driver_suffixes_are_dropped() {
        assert_eq!(
            without_driver_suffix("postgresql+psycopg2://u:p@h/db"),
            "postgresql://u:p@h/db"
        );
        assert_eq!(
            without_driver_suffix("sqlite:///a+b.db"),
            "sqlite:///a+b.db"
        );
        assert_eq!(without_driver_suffix("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn sqlalchemy_absolute_paths_are_accepted() {
        assert_eq!(collapse_leading_slashes("//tmp/a.db"), "/tmp/a.db");
        assert_eq!(collapse_leading_slashes("/tmp/a.db"), "/tmp/a.db");
        assert_eq!(collapse_leading_slashes("a.db"), "a.db");
    }
}
