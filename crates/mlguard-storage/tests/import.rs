//! `Store::import_mlflow` on SQLite and PostgreSQL targets, from sources built with
//! the DDL MLflow itself writes (3.10.1, and the initial schema every 2.x release
//! has). The end-to-end suite (`tests/e2e/test_import_mlflow.py`) does the same
//! with databases written by a running MLflow.
//!
//! PostgreSQL: `MLGUARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) must be reachable; each test creates
//! and drops its own databases.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use mlguard_domain::ResourceKind;
use mlguard_domain::{
    CredentialCheck, ExperimentId, GrantStore, ModelName, OpaqueId, Password, Permission, Resource,
    RoleStore, UserStore, Username, Workspace,
};
use mlguard_storage::{
    ImportError, ImportProgress, ImportReport, ImportedKind, IssueOutcome, MlflowImportOptions,
    PoolOptions, Store, Tally,
};

mod support;

use support::PgDatabase;

// werkzeug 3.1.9 hashes (generate_password_hash(password, method)); cheap methods,
// so the tests stay fast.
const ALICE_PASSWORD: &str = "correct horse battery";
const ALICE_HASH: &str = "pbkdf2:sha256:1000$qM95YZkHsuzV7Y8H$1264c38fc24fed643015c1e82fcf7f9d08ec36f46a6058f142a4ff2b7311ca54";
const BOB_PASSWORD: &str = "pässwörd ✓";
/// werkzeug < 2.3's plain salted digest: MLflow can hold it, mlguard refuses it.
const LEGACY_PLAIN_HASH: &str = "sha256$c2FsdA$0123456789abcdef";
const BOB_HASH: &str = "scrypt:1024:8:1$oDLKmxwfZQHJ3MaD$7cd90ebaa06596d2014eaf56bc5f97001f181ae4cc1f2a68f56d4c90ff8b96945fbd07c0c0d7e28de55ff8ed36c7cf57973ccdaa0ee87b9acc26c585d307ec8a";

// ---------------------------------------------------------------------------
// MLflow's schema, as `sqlite3 basic_auth.db .schema` shows it after MLflow 3.10.1
// created the database (alembic head 2ed73881770d).

const MLFLOW_3_10_SQLITE: &str = r#"
CREATE TABLE alembic_version_auth (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_auth_pkc PRIMARY KEY (version_num)
);
CREATE TABLE users (
    id INTEGER NOT NULL, username VARCHAR(255), password_hash VARCHAR(255), is_admin BOOLEAN,
    PRIMARY KEY (id), UNIQUE (username)
);
CREATE TABLE experiment_permissions (
    id INTEGER NOT NULL, experiment_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
    permission VARCHAR(255), PRIMARY KEY (id),
    CONSTRAINT fk_user_id FOREIGN KEY(user_id) REFERENCES users (id),
    CONSTRAINT unique_experiment_user UNIQUE (experiment_id, user_id)
);
CREATE TABLE scorer_permissions (
    id INTEGER NOT NULL, experiment_id VARCHAR(255) NOT NULL, scorer_name VARCHAR(256) NOT NULL,
    user_id INTEGER NOT NULL, permission VARCHAR(255), PRIMARY KEY (id),
    CONSTRAINT fk_scorer_perm_user_id FOREIGN KEY(user_id) REFERENCES users (id),
    CONSTRAINT unique_scorer_user UNIQUE (experiment_id, scorer_name, user_id)
);
CREATE TABLE gateway_secret_permissions (
    id INTEGER NOT NULL, secret_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
    permission VARCHAR(255), PRIMARY KEY (id),
    CONSTRAINT unique_secret_user UNIQUE (secret_id, user_id)
);
CREATE TABLE gateway_endpoint_permissions (
    id INTEGER NOT NULL, endpoint_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
    permission VARCHAR(255), PRIMARY KEY (id),
    CONSTRAINT unique_endpoint_user UNIQUE (endpoint_id, user_id)
);
CREATE TABLE gateway_model_definition_permissions (
    id INTEGER NOT NULL, model_definition_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
    permission VARCHAR(255), PRIMARY KEY (id),
    CONSTRAINT unique_model_def_user UNIQUE (model_definition_id, user_id)
);
CREATE TABLE workspace_permissions (
    workspace VARCHAR(63) NOT NULL, user_id INTEGER NOT NULL, permission VARCHAR(32) NOT NULL,
    CONSTRAINT workspace_permissions_pk PRIMARY KEY (workspace, user_id)
);
CREATE TABLE IF NOT EXISTS "registered_model_permissions" (
    id INTEGER NOT NULL, name VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
    permission VARCHAR(255), workspace VARCHAR(63) DEFAULT 'default' NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT unique_workspace_name_user UNIQUE (workspace, name, user_id)
);
INSERT INTO alembic_version_auth VALUES ('2ed73881770d');
"#;

/// The same on PostgreSQL (SQLAlchemy's `Integer` primary keys become SERIAL).
const MLFLOW_3_10_POSTGRES: &str = r#"
CREATE TABLE alembic_version_auth (version_num VARCHAR(32) PRIMARY KEY);
CREATE TABLE users (
    id SERIAL PRIMARY KEY, username VARCHAR(255) UNIQUE, password_hash VARCHAR(255), is_admin BOOLEAN
);
CREATE TABLE experiment_permissions (
    id SERIAL PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255),
    UNIQUE (experiment_id, user_id)
);
CREATE TABLE registered_model_permissions (
    id SERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL REFERENCES users (id),
    permission VARCHAR(255), workspace VARCHAR(63) NOT NULL DEFAULT 'default',
    UNIQUE (workspace, name, user_id)
);
CREATE TABLE scorer_permissions (
    id SERIAL PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL, scorer_name VARCHAR(256) NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255),
    UNIQUE (experiment_id, scorer_name, user_id)
);
CREATE TABLE gateway_secret_permissions (
    id SERIAL PRIMARY KEY, secret_id VARCHAR(255) NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255), UNIQUE (secret_id, user_id)
);
CREATE TABLE gateway_endpoint_permissions (
    id SERIAL PRIMARY KEY, endpoint_id VARCHAR(255) NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255), UNIQUE (endpoint_id, user_id)
);
CREATE TABLE gateway_model_definition_permissions (
    id SERIAL PRIMARY KEY, model_definition_id VARCHAR(255) NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255),
    UNIQUE (model_definition_id, user_id)
);
CREATE TABLE workspace_permissions (
    workspace VARCHAR(63) NOT NULL, user_id INTEGER NOT NULL REFERENCES users (id),
    permission VARCHAR(32) NOT NULL, PRIMARY KEY (workspace, user_id)
);
INSERT INTO alembic_version_auth VALUES ('2ed73881770d');
"#;

/// MLflow 2.x (2.22.2 wrote this: the initial migration, 8606fa83a998, recorded in
/// `alembic_version`).
const MLFLOW_2_SQLITE: &str = r#"
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version VALUES ('8606fa83a998');
CREATE TABLE users (
    id INTEGER NOT NULL, username VARCHAR(255), password_hash VARCHAR(255), is_admin BOOLEAN,
    PRIMARY KEY (id), UNIQUE (username)
);
CREATE TABLE experiment_permissions (
    id INTEGER NOT NULL, experiment_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
    permission VARCHAR(255), PRIMARY KEY (id),
    CONSTRAINT unique_experiment_user UNIQUE (experiment_id, user_id)
);
CREATE TABLE registered_model_permissions (
    id INTEGER NOT NULL, name VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
    permission VARCHAR(255), PRIMARY KEY (id),
    CONSTRAINT unique_name_user UNIQUE (name, user_id)
);
"#;

/// Rows for the 3.10 schema: two importable users with grants of every kind, and
/// every kind of row mlguard must refuse.
fn mlflow_3_10_rows() -> String {
    format!(
        r#"
INSERT INTO users (id, username, password_hash, is_admin) VALUES
    (1, 'alice', '{ALICE_HASH}', TRUE),
    (2, 'bob', '{BOB_HASH}', FALSE),
    (3, 'carol', '{LEGACY_PLAIN_HASH}', FALSE),
    (4, 'dave:x', '{ALICE_HASH}', FALSE);
INSERT INTO experiment_permissions (id, experiment_id, user_id, permission) VALUES
    (1, '1', 2, 'EDIT'), (2, '2', 2, 'NO_PERMISSIONS'), (3, '01', 2, 'READ'),
    (4, '3', 3, 'READ'), (5, '4', 99, 'READ'), (6, '5', 2, NULL), (7, '6', 2, 'WRITE');
INSERT INTO registered_model_permissions (id, name, user_id, permission, workspace) VALUES
    (1, 'bob model', 2, 'MANAGE', 'default'), (2, 'team model', 2, 'READ', 'team-a');
INSERT INTO scorer_permissions (id, experiment_id, scorer_name, user_id, permission) VALUES
    (1, '1', 'relevance/v2', 2, 'USE');
INSERT INTO gateway_secret_permissions (id, secret_id, user_id, permission) VALUES
    (1, 's-1', 2, 'USE');
INSERT INTO gateway_endpoint_permissions (id, endpoint_id, user_id, permission) VALUES
    (1, 'e-1', 2, 'READ');
INSERT INTO gateway_model_definition_permissions (id, model_definition_id, user_id, permission) VALUES
    (1, 'd-1', 2, 'MANAGE'), (2, 'd-2', 4, 'READ');
INSERT INTO workspace_permissions (workspace, user_id, permission) VALUES ('team-a', 2, 'READ');
"#
    )
}

// ---------------------------------------------------------------------------
// Fixtures

/// A database that goes away with the guard: a temporary SQLite file or a fresh
/// PostgreSQL database.
enum TempDb {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres(PgDatabase),
}

impl TempDb {
    fn sqlite() -> TempDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db.sqlite");
        TempDb::Sqlite { _dir: dir, path }
    }

    fn postgres() -> TempDb {
        TempDb::Postgres(PgDatabase::create("mlguard_import_test"))
    }

    fn url(&self) -> String {
        match self {
            TempDb::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
            TempDb::Postgres(db) => db.url.clone(),
        }
    }

    fn execute(&self, sql: &str) {
        match self {
            TempDb::Sqlite { path, .. } => {
                SqliteConnection::establish(&path.display().to_string())
                    .expect("sqlite")
                    .batch_execute(sql)
                    .expect("sql");
            }
            TempDb::Postgres(db) => {
                PgConnection::establish(&db.url)
                    .expect("postgres")
                    .batch_execute(sql)
                    .expect("sql");
            }
        }
    }

    fn text(&self, sql: &str) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            v: String,
        }
        let rows: Vec<Row> = match self {
            TempDb::Sqlite { path, .. } => diesel::sql_query(sql).load(
                &mut SqliteConnection::establish(&path.display().to_string()).expect("sqlite"),
            ),
            TempDb::Postgres(db) => {
                diesel::sql_query(sql).load(&mut PgConnection::establish(&db.url).expect("pg"))
            }
        }
        .expect("query");
        rows.into_iter().map(|r| r.v).collect()
    }

    fn number(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            v: i64,
        }
        let row: Row = match self {
            TempDb::Sqlite { path, .. } => diesel::sql_query(sql).get_result(
                &mut SqliteConnection::establish(&path.display().to_string()).expect("sqlite"),
            ),
            TempDb::Postgres(db) => diesel::sql_query(sql)
                .get_result(&mut PgConnection::establish(&db.url).expect("pg")),
        }
        .expect("query");
        row.v
    }

    /// Everything mlguard's import may touch, as text, to compare before and after.
    fn mlguard_snapshot(&self) -> Vec<String> {
        let mut all = self.text(
            "SELECT username || '|' || password_hash || '|' || CAST(is_admin AS TEXT) || '|' \
             || CAST(credential_version AS TEXT) AS v FROM users ORDER BY id",
        );
        all.extend(self.text(
            "SELECT r.workspace || '|' || r.name || '|' || p.resource_type || '|' \
             || p.resource_pattern || '|' || p.permission AS v \
             FROM role_permissions p JOIN roles r ON r.id = p.role_id \
             ORDER BY r.workspace, r.name, p.resource_type, p.resource_pattern",
        ));
        all.extend(self.text(
            "SELECT CAST(a.user_id AS TEXT) || '|' || r.name AS v \
             FROM user_role_assignments a JOIN roles r ON r.id = a.role_id \
             ORDER BY a.user_id, r.name",
        ));
        all.extend(self.text(
            "SELECT CAST(user_id AS TEXT) || '|' || source_hash_sha256 || '|' \
             || current_hash_sha256 AS v FROM mlflow_imported_users ORDER BY user_id",
        ));
        all
    }
}

/// An MLflow 3.10.1 source with [`MLFLOW_3_10_ROWS`].
fn mlflow_source(on: fn() -> TempDb) -> TempDb {
    let source = on();
    // MLflow never turns SQLite's foreign keys on, so rows of deleted users can
    // linger there; the orphan in the rows needs the check off on both backends.
    match source {
        TempDb::Sqlite { .. } => {
            source.execute(MLFLOW_3_10_SQLITE);
            source.execute(&format!(
                "PRAGMA foreign_keys = OFF; {}",
                mlflow_3_10_rows()
            ));
        }
        TempDb::Postgres(_) => {
            source.execute(MLFLOW_3_10_POSTGRES);
            source.execute(&format!(
                "SET session_replication_role = replica; {}",
                mlflow_3_10_rows()
            ));
        }
    }
    source
}

fn store_on(target: &TempDb) -> Store {
    Store::connect(
        &target.url(),
        PoolOptions {
            max_size: 2,
            ..PoolOptions::default()
        },
    )
    .expect("connect target")
}

fn migrated_store_on(target: &TempDb) -> Store {
    let store = store_on(target);
    store.run_migrations().expect("migrate");
    store
}

fn import(store: &Store, source: &TempDb, options: MlflowImportOptions) -> ImportReport {
    store
        .import_mlflow(&source.url(), &options, &mut |_| {})
        .expect("import")
}

const PLAIN: MlflowImportOptions = MlflowImportOptions {
    dry_run: false,
    overwrite: false,
};
const DRY_RUN: MlflowImportOptions = MlflowImportOptions {
    dry_run: true,
    overwrite: false,
};
const OVERWRITE: MlflowImportOptions = MlflowImportOptions {
    dry_run: false,
    overwrite: true,
};

fn username(raw: &str) -> Username {
    Username::parse(raw).expect("valid username")
}

fn login(store: &Store, name: &str, password: &str) -> bool {
    let offered = Password::offered(password).expect("password");
    matches!(
        store.verify_credentials(name, &offered).expect("verify"),
        CredentialCheck::Valid(_)
    )
}

fn tally(found: u64, created: u64, unchanged: u64, skipped: u64) -> Tally {
    Tally {
        found,
        created,
        unchanged,
        skipped,
        ..Tally::default()
    }
}

fn experiment(id: &str) -> Resource {
    Resource::Experiment(ExperimentId::parse(id).expect("id"))
}

fn opaque(id: &str) -> OpaqueId {
    OpaqueId::parse(id).expect("id")
}

/// Bob's grants as they must arrive in mlguard.
fn bobs_expected_grants() -> Vec<(Resource, Permission)> {
    let mut expected = vec![
        (experiment("1"), Permission::Edit),
        (experiment("2"), Permission::NoPermissions),
        (
            Resource::RegisteredModel(ModelName::parse("bob model").expect("name")),
            Permission::Manage,
        ),
        (
            Resource::Scorer {
                experiment_id: ExperimentId::parse("1").expect("id"),
                name: opaque("relevance/v2"),
            },
            Permission::Use,
        ),
        (Resource::GatewaySecret(opaque("s-1")), Permission::Use),
        (Resource::GatewayEndpoint(opaque("e-1")), Permission::Read),
        (
            Resource::GatewayModelDefinition(opaque("d-1")),
            Permission::Manage,
        ),
    ];
    expected.sort_by_key(|(r, _)| (r.kind().as_str(), r.key().into_owned()));
    expected
}

fn grants_of(store: &Store, name: &str) -> Vec<(Resource, Permission)> {
    let user = store.get_user(&username(name)).expect("user");
    store
        .grants_of_user(user.id)
        .expect("grants")
        .into_iter()
        .map(|g| (g.resource, g.permission))
        .collect()
}

// ---------------------------------------------------------------------------
// The tests, each on both backends

fn imports_users_passwords_and_every_grant_kind(source: TempDb, target: TempDb) {
    let store = store_on(&target);
    let report = import(&store, &source, PLAIN);

    assert_eq!(report.schema_revision.as_deref(), Some("2ed73881770d"));
    assert!(!report.dry_run);
    assert_eq!(report.tally(ImportedKind::User), tally(4, 2, 0, 2));
    let kind = ImportedKind::Grant;
    // 7 experiment rows: 2 imported, '01', NULL and 'WRITE' refused, carol's
    // skipped with her, user 99 unknown.
    assert_eq!(
        report.tally(kind(ResourceKind::Experiment)),
        tally(7, 2, 0, 5)
    );
    assert_eq!(
        report.tally(kind(ResourceKind::RegisteredModel)),
        tally(2, 1, 0, 1)
    );
    assert_eq!(report.tally(kind(ResourceKind::Scorer)), tally(1, 1, 0, 0));
    assert_eq!(
        report.tally(kind(ResourceKind::GatewaySecret)),
        tally(1, 1, 0, 0)
    );
    assert_eq!(
        report.tally(kind(ResourceKind::GatewayEndpoint)),
        tally(1, 1, 0, 0)
    );
    assert_eq!(
        report.tally(kind(ResourceKind::GatewayModelDefinition)),
        tally(2, 1, 0, 1)
    );
    assert_eq!(
        report.tally(ImportedKind::WorkspaceGrant),
        tally(1, 0, 0, 1)
    );

    // Every refusal is reported with its reason, and no hash is ever shown.
    let reasons: Vec<String> = report
        .issues
        .iter()
        .map(|i| format!("{} {}: {}", i.outcome, i.subject, i.reason))
        .collect();
    let expect_issue = |needle: &str| {
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "no issue containing {needle:?} in {reasons:#?}"
        );
    };
    expect_issue("skipped user \"carol\": unsupported password hash method 'sha256'");
    expect_issue("its 1 grant(s) were skipped too");
    expect_issue("skipped user \"dave:x\": not a valid mlguard username");
    expect_issue("skipped experiment \"01\" for \"bob\": Invalid experiment id '01'");
    expect_issue("skipped experiment \"4\" for MLflow user id 99: MLflow has no user with id 99");
    expect_issue("skipped experiment \"5\" for \"bob\": its permission is empty");
    expect_issue("skipped experiment \"6\" for \"bob\": Invalid permission 'WRITE'");
    expect_issue(
        "registered model \"team model\" for \"bob\": it belongs to MLflow workspace \"team-a\"",
    );
    expect_issue("skipped workspace \"team-a\" for \"bob\": mlguard has no workspaces");
    assert_eq!(report.issues.len(), 8, "{reasons:#?}");
    for text in &reasons {
        assert!(!text.contains('$'), "a hash leaked into the report: {text}");
    }

    // Passwords keep working, and only the right ones.
    assert!(login(&store, "alice", ALICE_PASSWORD));
    assert!(login(&store, "bob", BOB_PASSWORD));
    assert!(!login(&store, "bob", ALICE_PASSWORD));
    assert!(!login(&store, "carol", "anything at all"));
    assert!(store.get_user(&username("alice")).expect("alice").is_admin);
    assert!(!store.get_user(&username("bob")).expect("bob").is_admin);
    assert_eq!(grants_of(&store, "bob"), bobs_expected_grants());
    assert_eq!(grants_of(&store, "alice"), vec![]);
}

fn a_second_import_changes_nothing_even_after_logins(source: TempDb, target: TempDb) {
    let store = store_on(&target);
    import(&store, &source, PLAIN);
    let after_first = target.mlguard_snapshot();

    let again = import(&store, &source, PLAIN);
    assert!(!again.changes_anything(), "{again:#?}");
    assert_eq!(again.tally(ImportedKind::User), tally(4, 0, 2, 2));
    assert_eq!(target.mlguard_snapshot(), after_first);

    // The first login replaces the werkzeug hash by argon2id...
    assert!(login(&store, "bob", BOB_PASSWORD));
    let bob_hash = target.text("SELECT password_hash AS v FROM users WHERE username = 'bob'");
    assert!(bob_hash[0].starts_with("$argon2id$"), "{bob_hash:?}");
    assert!(login(&store, "bob", BOB_PASSWORD));
    assert!(!login(&store, "bob", "pässwörd ✗"));

    // ...and a later import still recognises the password as MLflow's.
    let after_login = target.mlguard_snapshot();
    let third = import(&store, &source, PLAIN);
    assert!(!third.changes_anything(), "{third:#?}");
    assert_eq!(third.tally(ImportedKind::User).conflicts, 0);
    assert_eq!(target.mlguard_snapshot(), after_login);
}

fn a_dry_run_writes_nothing(source: TempDb, target: TempDb) {
    // Not even migrated: the dry run's migrations are rolled back too.
    let store = store_on(&target);
    let mut last = None;
    let report = store
        .import_mlflow(&source.url(), &DRY_RUN, &mut |p| last = Some(p))
        .expect("dry run");
    assert!(report.dry_run);
    assert_eq!(report.tally(ImportedKind::User).created, 2);
    assert!(report.changes_anything());
    // 2 users + 7 grants of bob's, none of alice's.
    assert_eq!(last, Some(ImportProgress { done: 9, total: 9 }));

    let applied = store.run_migrations().expect("migrate");
    assert!(!applied.is_empty(), "the dry run left migrations applied");
    assert_eq!(store.count_users().expect("count"), 0);
    assert_eq!(target.mlguard_snapshot(), Vec::<String>::new());

    // On a migrated store, too.
    let dry = import(&store, &source, DRY_RUN);
    assert_eq!(dry.tally(ImportedKind::User).created, 2);
    assert_eq!(store.count_users().expect("count"), 0);
}

fn conflicts_are_reported_and_kept_unless_overwritten(source: TempDb, target: TempDb) {
    let store = migrated_store_on(&target);
    let mlguard_password = Password::new("bob's mlguard password").expect("pw");
    store
        .create_user(&username("bob"), &mlguard_password, false)
        .expect("bob");
    store
        .create_user(
            &username("alice"),
            &Password::new("x".repeat(12).as_str()).expect("pw"),
            true,
        )
        .expect("alice");
    // Bob has been given a different level on one experiment in mlguard.
    store
        .create_grant(&username("bob"), &experiment("1"), Permission::Read)
        .expect("grant");
    // And a grant MLflow knows nothing of, which no import touches.
    store
        .create_grant(&username("bob"), &experiment("77"), Permission::Manage)
        .expect("grant");
    let before = target.mlguard_snapshot();

    let report = import(&store, &source, PLAIN);
    assert_eq!(report.tally(ImportedKind::User).conflicts, 2);
    let conflicts: Vec<_> = report
        .issues
        .iter()
        .filter(|i| i.outcome == IssueOutcome::Conflict)
        .map(|i| format!("{}: {}", i.subject, i.reason))
        .collect();
    assert_eq!(conflicts.len(), 2, "{conflicts:#?}");
    assert!(
        conflicts[0].starts_with(
            "user \"alice\": already in mlguard with different data (its password differs)"
        ),
        "{conflicts:#?}"
    );
    assert!(conflicts[1].contains("user \"bob\""), "{conflicts:#?}");
    assert!(
        conflicts[1].contains("its 7 grant(s) were not imported"),
        "{conflicts:#?}"
    );
    assert!(!report.changes_anything());
    assert_eq!(target.mlguard_snapshot(), before);
    assert!(login(&store, "bob", "bob's mlguard password"));
    assert!(!login(&store, "bob", BOB_PASSWORD));

    let version_before =
        target.number("SELECT credential_version AS v FROM users WHERE username = 'bob'");
    let overwritten = import(&store, &source, OVERWRITE);
    assert_eq!(overwritten.tally(ImportedKind::User).updated, 2);
    let experiments = overwritten.tally(ImportedKind::Grant(ResourceKind::Experiment));
    assert_eq!((experiments.created, experiments.updated), (1, 1));
    assert!(
        overwritten
            .issues
            .iter()
            .any(|i| i.outcome == IssueOutcome::Overwritten
                && i.subject == "experiment 1 for \"bob\""
                && i.reason == "mlguard has READ, MLflow has EDIT; set to EDIT")
    );
    assert!(login(&store, "bob", BOB_PASSWORD));
    assert!(!login(&store, "bob", "bob's mlguard password"));
    assert!(
        target.number("SELECT credential_version AS v FROM users WHERE username = 'bob'")
            > version_before,
        "cached logins must be invalidated"
    );
    let mut expected = bobs_expected_grants();
    expected.push((experiment("77"), Permission::Manage));
    expected.sort_by_key(|(r, _)| (r.kind().as_str(), r.key().into_owned()));
    assert_eq!(grants_of(&store, "bob"), expected);

    // Overwritten data is now MLflow's, so the next run is a no-op.
    assert!(!import(&store, &source, PLAIN).changes_anything());
}

fn a_password_changed_in_mlguard_is_a_conflict(source: TempDb, target: TempDb) {
    let store = store_on(&target);
    import(&store, &source, PLAIN);
    store
        .set_password(
            &username("bob"),
            &Password::new("a brand new password").expect("pw"),
        )
        .expect("set password");
    let report = import(&store, &source, PLAIN);
    assert_eq!(report.tally(ImportedKind::User).conflicts, 1);
    assert!(login(&store, "bob", "a brand new password"));
}

fn a_failure_midway_rolls_everything_back(source: TempDb, target: TempDb) {
    let store = migrated_store_on(&target);
    // The last grant written fails: everything before it must go too.
    match target {
        TempDb::Sqlite { .. } => target.execute(
            "CREATE TRIGGER fail_midway BEFORE INSERT ON role_permissions \
             WHEN NEW.resource_pattern = 'd-1' \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        ),
        TempDb::Postgres(_) => target.execute(
            "CREATE FUNCTION fail_midway() RETURNS trigger AS $$ BEGIN \
               IF NEW.resource_pattern = 'd-1' THEN RAISE EXCEPTION 'injected failure'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER fail_midway BEFORE INSERT ON role_permissions \
               FOR EACH ROW EXECUTE FUNCTION fail_midway();",
        ),
    }
    let err = store
        .import_mlflow(&source.url(), &PLAIN, &mut |_| {})
        .expect_err("injected failure");
    assert!(matches!(err, ImportError::Target(_)), "{err:?}");
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert!(err.to_string().contains("rolled back"), "{err}");
    assert_eq!(target.mlguard_snapshot(), Vec::<String>::new());
    assert_eq!(store.count_users().expect("count"), 0);
}

fn broken_sources_fail_cleanly_and_change_nothing(target: TempDb) {
    let store = migrated_store_on(&target);
    store
        .create_user(
            &username("keeper"),
            &Password::new("keeper's password").expect("pw"),
            false,
        )
        .expect("user");
    let before = target.mlguard_snapshot();
    let dir = tempfile::tempdir().expect("dir");
    let path = |name: &str| dir.path().join(name);
    let attempt = |file: &Path| {
        store
            .import_mlflow(&format!("sqlite://{}", file.display()), &PLAIN, &mut |_| {})
            .expect_err("must fail")
    };

    std::fs::write(
        path("random.db"),
        b"this is not an SQLite database, not at all, no",
    )
    .expect("write");
    let err = attempt(&path("random.db"));
    assert!(matches!(err, ImportError::SourceRead { .. }), "{err:?}");
    assert!(err.to_string().contains("file is not a database"), "{err}");

    std::fs::write(path("empty.db"), b"").expect("write");
    let err = attempt(&path("empty.db"));
    assert!(matches!(err, ImportError::NotMlflowAuth { .. }), "{err:?}");
    assert!(
        err.to_string().ends_with("it has no tables at all"),
        "{err}"
    );

    let tracking = path("mlflow.db");
    SqliteConnection::establish(&tracking.display().to_string())
        .expect("sqlite")
        .batch_execute(
            "CREATE TABLE experiments (experiment_id INTEGER); CREATE TABLE runs (run_uuid TEXT);",
        )
        .expect("sql");
    let err = attempt(&tracking);
    assert!(
        err.to_string()
            .contains("looks like an MLflow tracking database"),
        "{err}"
    );

    // mlguard's own database has `users`, but it is not MLflow's.
    let mlguard_db = path("mlguard.db");
    Store::connect(
        &format!("sqlite://{}", mlguard_db.display()),
        PoolOptions::default(),
    )
    .expect("connect")
    .run_migrations()
    .expect("migrate");
    let err = attempt(&mlguard_db);
    assert_eq!(
        err.to_string(),
        format!(
            "sqlite://{} is not an MLflow basic-auth database: it has a `users` table but \
             no `experiment_permissions` table",
            mlguard_db.display()
        )
    );

    let truncated = path("truncated.db");
    SqliteConnection::establish(&truncated.display().to_string())
        .expect("sqlite")
        .batch_execute(MLFLOW_2_SQLITE)
        .expect("sql");
    SqliteConnection::establish(&truncated.display().to_string())
        .expect("sqlite")
        .batch_execute("ALTER TABLE users DROP COLUMN is_admin")
        .expect("sql");
    let err = attempt(&truncated);
    assert!(
        err.to_string()
            .ends_with("table `users` has no column `is_admin`"),
        "{err}"
    );

    let missing = path("missing.db");
    let err = attempt(&missing);
    assert!(matches!(err, ImportError::SourceMissing { .. }), "{err:?}");
    assert!(!missing.exists(), "a missing source must not be created");

    let err = store
        .import_mlflow("mysql://root:hunter2@db/auth", &PLAIN, &mut |_| {})
        .expect_err("unsupported");
    assert!(!err.to_string().contains("hunter2"), "{err}");

    assert_eq!(target.mlguard_snapshot(), before);
}

fn imports_the_mlflow_2_schema(target: TempDb) {
    let source = TempDb::sqlite();
    source.execute(MLFLOW_2_SQLITE);
    source.execute(&format!(
        "INSERT INTO users VALUES (1, 'alice', '{ALICE_HASH}', 0); \
         INSERT INTO experiment_permissions VALUES (1, '3', 1, 'MANAGE'); \
         INSERT INTO registered_model_permissions VALUES (1, 'm', 1, 'READ');"
    ));
    let store = store_on(&target);
    let report = import(&store, &source, PLAIN);
    assert_eq!(report.schema_revision.as_deref(), Some("8606fa83a998"));
    assert_eq!(report.tally(ImportedKind::User).created, 1);
    assert!(report.issues.is_empty(), "{report:#?}");
    assert!(login(&store, "alice", ALICE_PASSWORD));
    assert_eq!(
        grants_of(&store, "alice"),
        vec![
            (experiment("3"), Permission::Manage),
            (
                Resource::RegisteredModel(ModelName::parse("m").expect("name")),
                Permission::Read
            ),
        ]
    );
}

fn a_newer_schema_is_noted(target: TempDb) {
    let source = mlflow_source(TempDb::sqlite);
    source.execute(
        "UPDATE alembic_version_auth SET version_num = 'ffffffffffff'; \
         CREATE TABLE prompt_permissions (id INTEGER PRIMARY KEY);",
    );
    let report = import(&store_on(&target), &source, PLAIN);
    assert_eq!(report.notes.len(), 2, "{:?}", report.notes);
    assert!(report.notes[0].contains("schema revision ffffffffffff"));
    assert_eq!(
        report.notes[1],
        "table `prompt_permissions` is not known to mlguard and was not imported"
    );
}

// ---------------------------------------------------------------------------
// MLflow 3.17.2 (alembic head f1a2b3c4d5e6, also 3.18's): the 3.10 tables stay,
// empty, beside the role tables, as `sqlite3 basic_auth.db .schema` shows.

const MLFLOW_3_17_ROLE_TABLES_SQLITE: &str = r#"
CREATE TABLE roles (
    id INTEGER NOT NULL, name VARCHAR(255) NOT NULL, workspace VARCHAR(63) NOT NULL,
    description VARCHAR(1024), PRIMARY KEY (id),
    CONSTRAINT unique_workspace_role_name UNIQUE (workspace, name)
);
CREATE TABLE role_permissions (
    id INTEGER NOT NULL, role_id INTEGER NOT NULL, resource_type VARCHAR(64) NOT NULL,
    resource_pattern VARCHAR(255) NOT NULL, permission VARCHAR(255) NOT NULL, PRIMARY KEY (id),
    CONSTRAINT unique_role_resource_perm UNIQUE (role_id, resource_type, resource_pattern),
    FOREIGN KEY(role_id) REFERENCES roles (id)
);
CREATE TABLE user_role_assignments (
    id INTEGER NOT NULL, user_id INTEGER NOT NULL, role_id INTEGER NOT NULL, PRIMARY KEY (id),
    CONSTRAINT unique_user_role UNIQUE (user_id, role_id),
    FOREIGN KEY(user_id) REFERENCES users (id), FOREIGN KEY(role_id) REFERENCES roles (id)
);
UPDATE alembic_version_auth SET version_num = 'f1a2b3c4d5e6';
"#;

/// Named roles in two workspaces, bob's synthetic role `__user_2__` (with a DENY and
/// a prompt row), carol's (her hash is refused), and every row mlguard must refuse.
fn mlflow_3_17_rows() -> String {
    format!(
        r#"
INSERT INTO users (id, username, password_hash, is_admin) VALUES
    (1, 'alice', '{ALICE_HASH}', TRUE),
    (2, 'bob', '{BOB_HASH}', FALSE),
    (3, 'carol', '{LEGACY_PLAIN_HASH}', FALSE);
INSERT INTO roles (id, name, workspace, description) VALUES
    (1, 'readers', 'default', 'read all experiments'),
    (2, 'team-role', 'team-a', NULL),
    (3, '__user_2__', 'default', NULL),
    (4, '__user_3__', 'default', NULL),
    (5, '__user_99__', 'default', NULL),
    (6, '__user_x', 'default', NULL);
INSERT INTO role_permissions (id, role_id, resource_type, resource_pattern, permission) VALUES
    (1, 1, 'experiment', '*', 'READ'),
    (2, 1, 'run', '*', 'EDIT'),
    (3, 1, 'experiment', '7', 'DENY'),
    (4, 1, 'experiment', '8', 'NO_PERMISSIONS'),
    (5, 2, 'registered_model', 'm1', 'MANAGE'),
    (6, 3, 'experiment', '3', 'MANAGE'),
    (7, 3, 'prompt', 'my-prompt', 'READ'),
    (8, 3, 'experiment', '5', 'DENY'),
    (9, 3, 'run', 'abc', 'READ'),
    (10, 4, 'experiment', '1', 'READ');
INSERT INTO user_role_assignments (id, user_id, role_id) VALUES
    (1, 2, 1), (2, 1, 2), (3, 2, 3), (4, 3, 1), (5, 1, 3);
"#
    )
}

fn mlflow_3_17_source() -> TempDb {
    let source = TempDb::sqlite();
    source.execute(MLFLOW_3_10_SQLITE);
    source.execute(MLFLOW_3_17_ROLE_TABLES_SQLITE);
    source.execute(&mlflow_3_17_rows());
    source
}

fn role_tally(found: u64, created: u64, skipped: u64) -> Tally {
    Tally {
        found,
        created,
        skipped,
        ..Tally::default()
    }
}

/// `(workspace, role name, [(type, pattern, permission)])` of every role in mlguard.
fn roles_in(store: &Store) -> Vec<(String, String, Option<String>, Vec<String>)> {
    let mut all: Vec<_> = store
        .list_roles(None)
        .expect("roles")
        .into_iter()
        .map(|role| {
            let mut rows: Vec<String> = store
                .list_role_permissions(role.id)
                .expect("rows")
                .into_iter()
                .map(|r| {
                    format!(
                        "{} {} {}",
                        r.resource_type.as_str(),
                        r.resource_pattern.as_str(),
                        r.permission
                    )
                })
                .collect();
            rows.sort();
            (
                role.workspace.as_str().to_owned(),
                role.name.as_str().to_owned(),
                role.description,
                rows,
            )
        })
        .collect();
    all.sort();
    all
}

fn role_names_of(store: &Store, name: &str) -> Vec<String> {
    let mut names: Vec<String> = store
        .roles_of_user(&username(name))
        .expect("roles of user")
        .into_iter()
        .map(|r| format!("{}/{}", r.workspace.as_str(), r.name.as_str()))
        .collect();
    names.sort();
    names
}

fn imports_the_mlflow_3_17_schema(target: TempDb) {
    let source = mlflow_3_17_source();
    let store = migrated_store_on(&target);
    // Two accounts first, so that mlguard's ids differ from MLflow's.
    for name in ["zed", "yan"] {
        store
            .create_user(
                &username(name),
                &Password::offered("zz-password-123").expect("pw"),
                false,
            )
            .expect("user");
    }
    let report = import(&store, &source, PLAIN);
    assert_eq!(report.schema_revision.as_deref(), Some("f1a2b3c4d5e6"));
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_eq!(report.tally(ImportedKind::User), tally(3, 2, 0, 1));
    assert_eq!(report.tally(ImportedKind::Role), role_tally(3, 2, 1));
    assert_eq!(report.tally(ImportedKind::RoleGrant), role_tally(5, 4, 1));
    assert_eq!(
        report.tally(ImportedKind::PerUserGrant),
        role_tally(5, 3, 2)
    );
    // bob's to his own synthetic role is implied, so not counted.
    assert_eq!(report.tally(ImportedKind::Assignment), role_tally(4, 3, 1));
    assert_eq!(
        report.tally(ImportedKind::Grant(ResourceKind::Experiment)),
        Tally::default()
    );
    let skipped: Vec<(&str, &str)> = report
        .issues
        .iter()
        .map(|i| (i.subject.as_str(), i.reason.as_str()))
        .collect();
    for (subject, reason) in [
        (
            "user \"carol\"",
            "its 1 grant(s) were skipped too; its 1 role assignment(s) were skipped too",
        ),
        (
            "experiment 8 on role \"readers\" in workspace \"default\"",
            "NO_PERMISSIONS",
        ),
        ("run abc for \"bob\"", "supports only wildcard"),
        (
            "role \"__user_99__\" in workspace \"default\"",
            "MLflow user id 99, who does not exist",
        ),
        ("role \"__user_x\" in workspace \"default\"", "reserved"),
    ] {
        assert!(
            skipped
                .iter()
                .any(|(s, r)| *s == subject && r.contains(reason)),
            "no issue {subject:?} / {reason:?} in {skipped:#?}"
        );
    }

    let alice = store.get_user(&username("alice")).expect("alice");
    let bob = store.get_user(&username("bob")).expect("bob");
    assert!(alice.is_admin && !bob.is_admin);
    assert_ne!(bob.id, 2, "mlguard numbers its own users");
    let bob_synthetic = format!("__user_{}__", bob.id);
    assert_eq!(
        roles_in(&store),
        vec![
            (
                "default".to_owned(),
                bob_synthetic.clone(),
                None,
                vec![
                    "experiment 3 MANAGE".to_owned(),
                    "experiment 5 DENY".to_owned(),
                    "prompt my-prompt READ".to_owned(),
                ],
            ),
            (
                "default".to_owned(),
                "readers".to_owned(),
                Some("read all experiments".to_owned()),
                vec![
                    "experiment * READ".to_owned(),
                    "experiment 7 DENY".to_owned(),
                    "run * EDIT".to_owned(),
                ],
            ),
            (
                "team-a".to_owned(),
                "team-role".to_owned(),
                None,
                vec!["registered_model m1 MANAGE".to_owned()],
            ),
        ]
    );
    assert_eq!(
        role_names_of(&store, "bob"),
        vec![
            format!("default/{bob_synthetic}"),
            "default/readers".to_owned()
        ]
    );
    // MLflow let an admin attach alice to bob's synthetic role; so does the import.
    assert_eq!(
        role_names_of(&store, "alice"),
        vec![
            format!("default/{bob_synthetic}"),
            "team-a/team-role".to_owned()
        ]
    );
    // The per-user grants answer the 3.17 API as MLflow's did, DENY included.
    let rows = store
        .permission_rows_of_user(&username("bob"))
        .expect("rows");
    assert!(rows.iter().any(|r| r.role_name.as_str() == bob_synthetic
        && r.resource_type.as_str() == "experiment"
        && r.resource_pattern.as_str() == "5"
        && r.permission == Permission::Deny
        && r.workspace == Workspace::default_workspace()));
    assert!(login(&store, "bob", BOB_PASSWORD));

    let before = target.mlguard_snapshot();
    let again = import(&store, &source, PLAIN);
    assert!(!again.changes_anything(), "{:#?}", again.tallies);
    assert_eq!(again.tally(ImportedKind::Role).unchanged, 2);
    assert_eq!(again.tally(ImportedKind::PerUserGrant).unchanged, 3);
    assert_eq!(again.tally(ImportedKind::Assignment).unchanged, 3);
    assert_eq!(target.mlguard_snapshot(), before);
}

fn a_3_17_dry_run_writes_nothing(target: TempDb) {
    let source = mlflow_3_17_source();
    let store = migrated_store_on(&target);
    let before = target.mlguard_snapshot();
    let dry = import(&store, &source, DRY_RUN);
    assert_eq!(dry.tally(ImportedKind::Role).created, 2);
    assert_eq!(dry.tally(ImportedKind::PerUserGrant).created, 3);
    assert_eq!(target.mlguard_snapshot(), before);
    assert!(store.list_roles(None).expect("roles").is_empty());
}

fn a_role_taken_with_other_rows_is_a_conflict(target: TempDb) {
    let source = mlflow_3_17_source();
    let store = migrated_store_on(&target);
    import(&store, &source, PLAIN);
    // mlguard's admins change the role and a per-user grant after the import.
    let readers = store
        .list_roles(None)
        .expect("roles")
        .into_iter()
        .find(|r| r.name.as_str() == "readers")
        .expect("readers");
    let wildcard = store
        .list_role_permissions(readers.id)
        .expect("rows")
        .into_iter()
        .find(|r| r.resource_pattern.as_str() == "*" && r.resource_type.as_str() == "experiment")
        .expect("row");
    store
        .update_role_permission(wildcard.id, Permission::Manage)
        .expect("update");
    let bob_synthetic = store
        .roles_of_user(&username("bob"))
        .expect("roles")
        .into_iter()
        .find(|r| r.name.is_synthetic())
        .expect("synthetic");
    let deny = store
        .list_role_permissions(bob_synthetic.id)
        .expect("rows")
        .into_iter()
        .find(|r| r.permission == Permission::Deny)
        .expect("deny");
    store
        .update_role_permission(deny.id, Permission::Read)
        .expect("update");
    let readers_members = store
        .assignments_of_role(readers.id)
        .expect("members")
        .len();

    let report = import(&store, &source, PLAIN);
    assert_eq!(report.tally(ImportedKind::Role).conflicts, 1);
    assert_eq!(report.tally(ImportedKind::RoleGrant).conflicts, 1);
    assert_eq!(report.tally(ImportedKind::PerUserGrant).conflicts, 1);
    let conflict = report
        .issues
        .iter()
        .find(|i| i.subject == "role \"readers\" in workspace \"default\"")
        .expect("role conflict");
    assert_eq!(conflict.outcome, IssueOutcome::Conflict);
    assert!(
        conflict
            .reason
            .contains("experiment * is MANAGE in mlguard, READ in MLflow"),
        "{}",
        conflict.reason
    );
    let per_user = report
        .issues
        .iter()
        .find(|i| i.subject == "experiment 5 for \"bob\"")
        .expect("per-user conflict");
    assert_eq!(
        per_user.reason,
        "mlguard has READ, MLflow has DENY; kept mlguard's"
    );
    assert!(!report.changes_anything());
    assert_eq!(
        store
            .assignments_of_role(readers.id)
            .expect("members")
            .len(),
        readers_members
    );

    let overwritten = import(&store, &source, OVERWRITE);
    assert_eq!(overwritten.tally(ImportedKind::Role).updated, 1);
    assert_eq!(overwritten.tally(ImportedKind::PerUserGrant).updated, 1);
    assert_eq!(
        store
            .get_role_permission(wildcard.id)
            .expect("row")
            .permission,
        Permission::Read
    );
    assert_eq!(
        store.get_role_permission(deny.id).expect("row").permission,
        Permission::Deny
    );
}

fn a_3_17_database_with_leftover_3_10_rows_is_noted(target: TempDb) {
    let source = mlflow_3_17_source();
    source.execute("INSERT INTO experiment_permissions VALUES (1, '9', 2, 'READ');");
    let report = import(&store_on(&target), &source, PLAIN);
    assert_eq!(
        report.tally(ImportedKind::Grant(ResourceKind::Experiment)),
        Tally::default()
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("1 row(s) of MLflow 3.10's per-resource")),
        "{:?}",
        report.notes
    );
}

macro_rules! on_both_backends {
    ($($test:ident($($arg:expr),*);)*) => {
        mod sqlite {
            use super::*;
            $(#[test] fn $test() { super::$test($($arg,)* TempDb::sqlite()); })*
        }
        mod postgres {
            use super::*;
            $(#[test] fn $test() { super::$test($($arg,)* TempDb::postgres()); })*
        }
    };
}

on_both_backends! {
    imports_users_passwords_and_every_grant_kind(mlflow_source(TempDb::sqlite));
    a_second_import_changes_nothing_even_after_logins(mlflow_source(TempDb::sqlite));
    a_dry_run_writes_nothing(mlflow_source(TempDb::sqlite));
    conflicts_are_reported_and_kept_unless_overwritten(mlflow_source(TempDb::sqlite));
    a_password_changed_in_mlguard_is_a_conflict(mlflow_source(TempDb::sqlite));
    a_failure_midway_rolls_everything_back(mlflow_source(TempDb::sqlite));
    broken_sources_fail_cleanly_and_change_nothing();
    imports_the_mlflow_2_schema();
    a_newer_schema_is_noted();
    imports_the_mlflow_3_17_schema();
    a_3_17_dry_run_writes_nothing();
    a_role_taken_with_other_rows_is_a_conflict();
    a_3_17_database_with_leftover_3_10_rows_is_noted();
}

/// An MLflow database on PostgreSQL, read through a SQLAlchemy-style URL.
#[test]
fn imports_from_a_postgres_source() {
    let source = mlflow_source(TempDb::postgres);
    let target = TempDb::sqlite();
    let store = store_on(&target);
    let url = source
        .url()
        .replacen("postgres://", "postgresql+psycopg2://", 1);
    let report = store
        .import_mlflow(&url, &PLAIN, &mut |_| {})
        .expect("import");
    assert_eq!(report.tally(ImportedKind::User), tally(4, 2, 0, 2));
    assert_eq!(report.issues.len(), 8);
    assert!(login(&store, "alice", ALICE_PASSWORD));
    assert_eq!(grants_of(&store, "bob"), bobs_expected_grants());
    assert!(!import(&store, &source, PLAIN).changes_anything());
}

/// The import reads PostgreSQL in a read-only transaction; a foreign PostgreSQL
/// database is refused like a foreign SQLite one.
#[test]
fn a_foreign_postgres_source_is_refused() {
    let source = TempDb::postgres();
    source.execute("CREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT);");
    let target = TempDb::sqlite();
    let err = store_on(&target)
        .import_mlflow(&source.url(), &PLAIN, &mut |_| {})
        .expect_err("foreign");
    assert!(
        err.to_string()
            .ends_with("table `users` has no column `username`"),
        "{err}"
    );
}
