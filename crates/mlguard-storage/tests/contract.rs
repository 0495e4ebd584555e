//! The storage contract (every MUST of `UserStore`, `GrantStore`, `RoleStore` and
//! `JobOwnerStore`), written once and run on SQLite and on PostgreSQL.
//!
//! PostgreSQL: `MLGUARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) must be reachable; each test creates
//! and drops its own database. An unreachable server fails the tests.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::thread;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use mlguard_domain::{
    CredentialCheck, ExperimentId, Grant, GrantKey, GrantRule, GrantRuleError, GrantStore,
    JobOwnerStore, ModelName, OpaqueId, Password, Permission, Principal, Resolution, Resource,
    ResourcePattern, ResourceType, Role, RoleError, RoleName, RolePermission, RoleStore,
    SessionStore, StoreError, User, UserStore, Username, Workspace, effective_permission,
};
use mlguard_storage::{Backend, PoolOptions, StorageError, Store};

mod support;

use support::{PgDatabase, with_database};

// ---------------------------------------------------------------------------
// Fixtures

/// A fresh, migrated store on its own database, removed when dropped.
struct Db {
    store: Store,
    url: String,
    // Dropped after `store` (fields drop in declaration order).
    place: Place,
}

enum Place {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres(PgDatabase),
}

impl Db {
    fn sqlite() -> Db {
        Self::sqlite_with(small_pool())
    }

    fn sqlite_with(options: PoolOptions) -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mlguard.db");
        let url = format!("sqlite://{}", path.display());
        let store = open_migrated(&url, options);
        Db {
            store,
            url,
            place: Place::Sqlite { _dir: dir, path },
        }
    }

    fn postgres() -> Db {
        Self::postgres_with(small_pool())
    }

    fn postgres_with(options: PoolOptions) -> Db {
        let database = PgDatabase::create("mlguard_test");
        let url = database.url.clone();
        let store = open_migrated(&url, options);
        Db {
            store,
            url,
            place: Place::Postgres(database),
        }
    }

    /// A store on a fresh, unmigrated database.
    fn unmigrated_sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mlguard.db");
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url, small_pool()).expect("connect");
        Db {
            store,
            url,
            place: Place::Sqlite { _dir: dir, path },
        }
    }

    fn unmigrated_postgres() -> Db {
        let database = PgDatabase::create("mlguard_test");
        let url = database.url.clone();
        let store = Store::connect(&url, small_pool()).expect("connect");
        Db {
            store,
            url,
            place: Place::Postgres(database),
        }
    }

    /// Another store on the same database.
    fn reopen(&self) -> Store {
        Store::connect(&self.url, small_pool()).expect("reopen")
    }

    /// Runs SQL straight on the database, around the store.
    fn raw_execute(&self, sql: &str) {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let mut conn = SqliteConnection::establish(&path.display().to_string())
                    .expect("raw sqlite connection");
                conn.batch_execute(sql).expect("raw sql");
            }
            Place::Postgres(db) => {
                let mut conn = PgConnection::establish(&db.url).expect("raw pg connection");
                conn.batch_execute(sql).expect("raw sql");
            }
        }
    }

    /// One text value, read straight from the database.
    fn raw_text(&self, sql: &str) -> String {
        #[derive(QueryableByName)]
        struct Value {
            #[diesel(sql_type = Text)]
            v: String,
        }
        let value: Value = match &self.place {
            Place::Sqlite { path, .. } => {
                let mut conn = SqliteConnection::establish(&path.display().to_string())
                    .expect("raw sqlite connection");
                diesel::sql_query(sql).get_result(&mut conn)
            }
            Place::Postgres(db) => {
                let mut conn = PgConnection::establish(&db.url).expect("raw pg connection");
                diesel::sql_query(sql).get_result(&mut conn)
            }
        }
        .expect("raw query");
        value.v
    }
}

fn small_pool() -> PoolOptions {
    PoolOptions {
        max_size: 4,
        ..PoolOptions::default()
    }
}

fn open_migrated(url: &str, options: PoolOptions) -> Store {
    let store = Store::connect(url, options).expect("connect");
    let applied = store.run_migrations().expect("migrate");
    assert!(
        !applied.is_empty(),
        "a fresh database has migrations to apply"
    );
    store
}

// ---------------------------------------------------------------------------
// Helpers

fn name(raw: &str) -> Username {
    Username::parse(raw).expect("valid username")
}

fn pw(raw: &str) -> Password {
    Password::new(raw).expect("valid password")
}

fn experiment(id: &str) -> Resource {
    Resource::Experiment(ExperimentId::parse(id).expect("valid experiment id"))
}

fn model(raw: &str) -> Resource {
    Resource::RegisteredModel(ModelName::parse(raw).expect("valid model name"))
}

/// What a check on `resource` alone resolves to: the decision's read.
fn resolved(
    store: &Store,
    user_id: i64,
    resource: &Resource,
) -> Result<Option<Permission>, StoreError> {
    store
        .resolve(user_id, &[resource.grant_key()])
        .map(|resolution| resolution.levels[0])
}

fn create(store: &Store, raw: &str) -> User {
    store
        .create_user(&name(raw), &pw("a long enough password"), false)
        .expect("create user")
}

fn verify(store: &Store, username: &str, password: &str) -> CredentialCheck {
    store
        .verify_credentials(username, &Password::offered(password).expect("offered"))
        .expect("verify")
}

// ---------------------------------------------------------------------------
// The contract

fn users_are_created_read_listed_and_counted(db: Db) {
    let store = &db.store;
    assert_eq!(store.count_users(), Ok(0));
    assert_eq!(store.list_users(), Ok(vec![]));

    let alice = store
        .create_user(&name("alice"), &pw("alice's password"), false)
        .expect("create alice");
    let bob = store
        .create_user(&name("bob"), &pw("bob's password!!"), true)
        .expect("create bob");
    assert_eq!(alice.username, name("alice"));
    assert!(!alice.is_admin);
    assert!(bob.is_admin);
    assert!(bob.id > alice.id, "ids grow");

    assert_eq!(store.get_user(&name("alice")), Ok(alice.clone()));
    assert_eq!(store.get_user(&name("bob")), Ok(bob.clone()));
    assert_eq!(
        store.get_user(&name("carol")),
        Err(StoreError::UserNotFound(name("carol")))
    );
    // Names are case-sensitive.
    assert_eq!(
        store.get_user(&name("Alice")),
        Err(StoreError::UserNotFound(name("Alice")))
    );

    let listed = store.list_users().expect("list");
    let listed: Vec<(i64, Username)> = listed.into_iter().map(|u| (u.id, u.username)).collect();
    assert_eq!(
        listed,
        vec![(alice.id, name("alice")), (bob.id, name("bob"))]
    );
    assert_eq!(store.count_users(), Ok(2));
    assert_eq!(store.ping(), Ok(()));
}

fn a_taken_username_is_user_already_exists(db: Db) {
    let store = &db.store;
    let first = create(store, "alice");
    assert_eq!(
        store.create_user(&name("alice"), &pw("another password"), true),
        Err(StoreError::UserAlreadyExists(name("alice")))
    );
    // The original account is untouched.
    assert_eq!(store.get_user(&name("alice")), Ok(first));
    assert!(matches!(
        verify(store, "alice", "a long enough password"),
        CredentialCheck::Valid(_)
    ));
    assert_eq!(store.count_users(), Ok(1));
}

fn unknown_users_are_user_not_found(db: Db) {
    let store = &db.store;
    let ghost = name("ghost");
    let not_found = StoreError::UserNotFound(ghost.clone());
    assert_eq!(store.get_user(&ghost), Err(not_found.clone()));
    assert_eq!(
        store.set_password(&ghost, &pw("a new password!")),
        Err(not_found.clone())
    );
    assert_eq!(store.set_admin(&ghost, true), Err(not_found.clone()));
    assert_eq!(store.delete_user(&ghost), Err(not_found));
    assert_eq!(store.count_users(), Ok(0));
}

fn set_password_replaces_the_old_one(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    store
        .set_password(&name("alice"), &pw("the new password"))
        .expect("set password");
    assert_eq!(
        verify(store, "alice", "a long enough password"),
        CredentialCheck::Invalid
    );
    assert_eq!(
        verify(store, "alice", "the new password"),
        CredentialCheck::Valid(alice)
    );
}

fn verification_refuses_unknown_users_and_wrong_passwords(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    assert_eq!(
        verify(store, "alice", "a long enough password"),
        CredentialCheck::Valid(alice)
    );
    for (username, password) in [
        ("alice", "a long enough passworD"),
        ("alice", ""),
        ("alice", "short"),
        ("Alice", "a long enough password"),
        ("nobody", "a long enough password"),
        ("", "a long enough password"),
        ("not:valid", "a long enough password"),
        (" alice", "a long enough password"),
    ] {
        assert_eq!(
            verify(store, username, password),
            CredentialCheck::Invalid,
            "{username:?} / {password:?}"
        );
    }
}

fn set_admin_changes_the_flag(db: Db) {
    let store = &db.store;
    create(store, "alice");
    store.set_admin(&name("alice"), true).expect("promote");
    assert!(store.get_user(&name("alice")).expect("get").is_admin);
    match verify(store, "alice", "a long enough password") {
        CredentialCheck::Valid(user) => assert!(user.is_admin),
        CredentialCheck::Invalid => panic!("valid credentials refused"),
    }
    store.set_admin(&name("alice"), false).expect("demote");
    assert!(!store.get_user(&name("alice")).expect("get").is_admin);
}

/// The version a cached login or token is checked against.
fn credential_version(store: &Store, user_id: i64) -> Result<Option<i64>, StoreError> {
    mlguard_domain::TokenStore::credential_state(store, user_id)
        .map(|state| state.map(|state| state.version))
}

fn credential_version_bumps_on_every_credential_change(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    assert_eq!(credential_version(store, alice.id), Ok(Some(0)));

    store
        .set_password(&name("alice"), &pw("the new password"))
        .expect("set password");
    assert_eq!(credential_version(store, alice.id), Ok(Some(1)));
    store.set_admin(&name("alice"), true).expect("promote");
    assert_eq!(credential_version(store, alice.id), Ok(Some(2)));
    store.set_admin(&name("alice"), false).expect("demote");
    assert_eq!(credential_version(store, alice.id), Ok(Some(3)));

    // Grants are not credentials; other users are not touched.
    store
        .create_grant(&name("alice"), &experiment("1"), Permission::Read)
        .expect("grant");
    assert_eq!(credential_version(store, alice.id), Ok(Some(3)));
    assert_eq!(credential_version(store, bob.id), Ok(Some(0)));

    store.delete_user(&name("alice")).expect("delete");
    assert_eq!(credential_version(store, alice.id), Ok(None));
    assert_eq!(credential_version(store, i64::MAX), Ok(None));
}

fn deleting_a_user_deletes_its_grants_and_a_new_namesake_inherits_nothing(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    for user in ["alice", "bob"] {
        store
            .create_grant(&name(user), &experiment("1"), Permission::Manage)
            .expect("grant");
        store
            .create_grant(&name(user), &model("m"), Permission::Edit)
            .expect("grant");
    }

    store.delete_user(&name("alice")).expect("delete");
    assert_eq!(
        store.get_user(&name("alice")),
        Err(StoreError::UserNotFound(name("alice")))
    );
    assert_eq!(store.grants_of_user(alice.id), Ok(vec![]));
    assert_eq!(resolved(store, alice.id, &experiment("1")), Ok(None));
    // Her synthetic role went with its rows and its assignment.
    assert_eq!(
        db.raw_text(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) AS v FROM roles WHERE name = '__user_{}__'",
            alice.id
        )),
        "0"
    );
    assert_eq!(
        db.raw_text(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) AS v FROM user_role_assignments WHERE user_id = {}",
            alice.id
        )),
        "0"
    );
    assert_eq!(
        db.raw_text("SELECT CAST(COUNT(*) AS TEXT) AS v FROM role_permissions"),
        "2"
    );
    // Bob keeps his.
    assert_eq!(store.grants_of_user(bob.id).map(|g| g.len()), Ok(2));

    let again = create(store, "alice");
    assert_ne!(again.id, alice.id, "an id is never reused");
    assert!(!again.is_admin);
    assert_eq!(store.grants_of_user(again.id), Ok(vec![]));
    assert_eq!(resolved(store, again.id, &experiment("1")), Ok(None));
    assert_eq!(
        store.get_grant(&name("alice"), &model("m")),
        Err(StoreError::GrantNotFound {
            resource: model("m"),
            username: name("alice"),
        })
    );
    assert_eq!(store.delete_user(&name("alice")), Ok(()));
    assert_eq!(
        store.delete_user(&name("alice")),
        Err(StoreError::UserNotFound(name("alice")))
    );
}

fn grants_are_created_read_updated_and_deleted(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let resource = experiment("42");

    let created = store
        .create_grant(&name("alice"), &resource, Permission::Read)
        .expect("create grant");
    let expected = Grant {
        user_id: alice.id,
        username: name("alice"),
        resource: resource.clone(),
        permission: Permission::Read,
    };
    assert_eq!(created, expected);
    assert_eq!(store.get_grant(&name("alice"), &resource), Ok(expected));

    store
        .update_grant(&name("alice"), &resource, Permission::Manage)
        .expect("update grant");
    assert_eq!(
        store
            .get_grant(&name("alice"), &resource)
            .map(|g| g.permission),
        Ok(Permission::Manage)
    );
    assert_eq!(
        resolved(store, alice.id, &resource),
        Ok(Some(Permission::Manage))
    );

    store
        .delete_grant(&name("alice"), &resource)
        .expect("delete grant");
    assert_eq!(
        store.get_grant(&name("alice"), &resource),
        Err(StoreError::GrantNotFound {
            resource: resource.clone(),
            username: name("alice"),
        })
    );
    assert_eq!(resolved(store, alice.id, &resource), Ok(None));
    // It can be granted again.
    store
        .create_grant(&name("alice"), &resource, Permission::Use)
        .expect("grant again");
    assert_eq!(
        resolved(store, alice.id, &resource),
        Ok(Some(Permission::Use))
    );
}

fn grant_errors_follow_the_contract(db: Db) {
    let store = &db.store;
    create(store, "alice");
    let resource = model("my model/v2");
    let ghost = name("ghost");
    let user_not_found = StoreError::UserNotFound(ghost.clone());
    let grant_not_found = StoreError::GrantNotFound {
        resource: resource.clone(),
        username: name("alice"),
    };

    // Unknown user first, whatever the grant.
    assert_eq!(
        store.create_grant(&ghost, &resource, Permission::Read),
        Err(user_not_found.clone())
    );
    assert_eq!(
        store.get_grant(&ghost, &resource),
        Err(user_not_found.clone())
    );
    assert_eq!(
        store.update_grant(&ghost, &resource, Permission::Read),
        Err(user_not_found.clone())
    );
    assert_eq!(store.delete_grant(&ghost, &resource), Err(user_not_found));

    // Then the grant.
    assert_eq!(
        store.get_grant(&name("alice"), &resource),
        Err(grant_not_found.clone())
    );
    assert_eq!(
        store.update_grant(&name("alice"), &resource, Permission::Edit),
        Err(grant_not_found.clone())
    );
    assert_eq!(
        store.delete_grant(&name("alice"), &resource),
        Err(grant_not_found)
    );

    store
        .create_grant(&name("alice"), &resource, Permission::Read)
        .expect("grant");
    assert_eq!(
        store.create_grant(&name("alice"), &resource, Permission::Manage),
        Err(StoreError::GrantAlreadyExists {
            resource: resource.clone(),
            username: name("alice"),
        })
    );
    // The duplicate changed nothing.
    assert_eq!(
        store
            .get_grant(&name("alice"), &resource)
            .map(|g| g.permission),
        Ok(Permission::Read)
    );
}

/// 3.10's NO_PERMISSIONS is a denial: stored as DENY (what the decision reads),
/// shown to the 3.10 API as NO_PERMISSIONS.
fn an_explicit_no_permissions_grant_is_stored_as_deny(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let resource = experiment("7");
    let created = store
        .create_grant(&name("alice"), &resource, Permission::NoPermissions)
        .expect("grant");
    assert_eq!(created.permission, Permission::NoPermissions);
    assert_eq!(
        resolved(store, alice.id, &resource),
        Ok(Some(Permission::Deny))
    );
    assert_eq!(
        db.raw_text("SELECT permission AS v FROM role_permissions"),
        "DENY"
    );
    assert_eq!(
        store
            .get_grant(&name("alice"), &resource)
            .map(|g| g.permission),
        Ok(Permission::NoPermissions)
    );
    assert_eq!(
        store
            .grants_of_user(alice.id)
            .map(|g| g.into_iter().map(|g| g.permission).collect::<Vec<_>>()),
        Ok(vec![Permission::NoPermissions])
    );
    // Every level round-trips; DENY and NO_PERMISSIONS are one stored level.
    for (i, permission) in Permission::ALL.into_iter().enumerate() {
        let resource = model(&format!("model-{i}"));
        store
            .create_grant(&name("alice"), &resource, permission)
            .expect("grant");
        let (stored, shown) = match permission {
            Permission::NoPermissions | Permission::Deny => {
                (Permission::Deny, Permission::NoPermissions)
            }
            positive => (positive, positive),
        };
        assert_eq!(resolved(store, alice.id, &resource), Ok(Some(stored)));
        assert_eq!(
            store
                .get_grant(&name("alice"), &resource)
                .map(|g| g.permission),
            Ok(shown)
        );
        let updated = model(&format!("model-{i}"));
        store
            .update_grant(&name("alice"), &updated, Permission::Read)
            .expect("update");
        store
            .update_grant(&name("alice"), &updated, permission)
            .expect("update back");
        assert_eq!(resolved(store, alice.id, &updated), Ok(Some(stored)));
    }
}

fn permission_of_is_exact_per_user_kind_and_key(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    store
        .create_grant(&name("alice"), &experiment("1"), Permission::Edit)
        .expect("grant");
    store
        .create_grant(&name("bob"), &model("1"), Permission::Read)
        .expect("grant");

    assert_eq!(
        resolved(store, alice.id, &experiment("1")),
        Ok(Some(Permission::Edit))
    );
    // Same key, other kind; other key; other user; no user at all.
    assert_eq!(resolved(store, alice.id, &model("1")), Ok(None));
    assert_eq!(resolved(store, alice.id, &experiment("10")), Ok(None));
    assert_eq!(resolved(store, bob.id, &experiment("1")), Ok(None));
    assert_eq!(
        resolved(store, bob.id, &model("1")),
        Ok(Some(Permission::Read))
    );
    assert_eq!(resolved(store, i64::MAX, &experiment("1")), Ok(None));
}

fn grants_of_user_are_ordered_by_kind_then_key(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    create(store, "bob");
    let resources = [
        model("b"),
        experiment("9"),
        model("B"),
        experiment("10"),
        model("a"),
        experiment("1"),
        model("a b"),
    ];
    for resource in &resources {
        store
            .create_grant(&name("alice"), resource, Permission::Read)
            .expect("grant");
    }
    store
        .create_grant(&name("bob"), &experiment("5"), Permission::Manage)
        .expect("grant");

    let listed = store.grants_of_user(alice.id).expect("list");
    assert!(listed.iter().all(|g| g.user_id == alice.id));
    assert!(listed.iter().all(|g| g.username == name("alice")));
    let order: Vec<Resource> = listed.into_iter().map(|g| g.resource).collect();
    // Kind by its stored name, then key in byte order on both backends.
    assert_eq!(
        order,
        vec![
            experiment("1"),
            experiment("10"),
            experiment("9"),
            model("B"),
            model("a"),
            model("a b"),
            model("b"),
        ]
    );
    assert_eq!(store.grants_of_user(i64::MAX), Ok(vec![]));
}

fn racing_creations_of_one_username_let_exactly_one_win(db: Db) {
    const THREADS: usize = 8;
    let barrier = Arc::new(Barrier::new(THREADS));
    let outcomes: Vec<Result<User, StoreError>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let store = db.store.clone();
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    let password = pw(&format!("password number {i}"));
                    barrier.wait();
                    store.create_user(&name("racer"), &password, false)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    let losers = outcomes
        .iter()
        .filter(|o| **o == Err(StoreError::UserAlreadyExists(name("racer"))))
        .count();
    assert_eq!((winners, losers), (1, THREADS - 1), "{outcomes:?}");
    assert_eq!(db.store.count_users(), Ok(1));
}

fn racing_creations_of_one_grant_let_exactly_one_win(db: Db) {
    const THREADS: usize = 8;
    create(&db.store, "alice");
    let barrier = Arc::new(Barrier::new(THREADS));
    let outcomes: Vec<Result<Grant, StoreError>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let store = db.store.clone();
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    barrier.wait();
                    store.create_grant(&name("alice"), &experiment("3"), Permission::Manage)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let already = Err(StoreError::GrantAlreadyExists {
        resource: experiment("3"),
        username: name("alice"),
    });
    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    let losers = outcomes.iter().filter(|o| **o == already).count();
    assert_eq!((winners, losers), (1, THREADS - 1), "{outcomes:?}");
}

fn migrations_are_idempotent(db: Db) {
    assert_eq!(db.store.run_migrations(), Ok(vec![]));
    create(&db.store, "alice");
    assert_eq!(db.store.run_migrations(), Ok(vec![]));
    let other = db.reopen();
    assert_eq!(other.run_migrations(), Ok(vec![]));
    assert_eq!(other.count_users(), Ok(1));
}

fn data_persists_across_reopening(db: Db) {
    let alice = db
        .store
        .create_user(&name("alice"), &pw("alice's password"), true)
        .expect("create");
    db.store
        .create_grant(&name("alice"), &model("m"), Permission::Edit)
        .expect("grant");
    // Keep the database (`place`) while the store is closed and reopened.
    let Db {
        store,
        url,
        place: _keep,
    } = db;
    drop(store);

    let reopened = Store::connect(&url, small_pool()).expect("reopen");
    assert_eq!(reopened.run_migrations(), Ok(vec![]));
    assert_eq!(reopened.get_user(&name("alice")), Ok(alice.clone()));
    assert_eq!(
        resolved(&reopened, alice.id, &model("m")),
        Ok(Some(Permission::Edit))
    );
    assert_eq!(
        verify(&reopened, "alice", "alice's password"),
        CredentialCheck::Valid(alice)
    );
}

fn passwords_are_stored_as_argon2id_hashes(db: Db) {
    create(&db.store, "alice");
    let stored = db.raw_text("SELECT password_hash AS v FROM users WHERE username = 'alice'");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(!stored.contains("a long enough password"));
    // The same password twice: two salts, two hashes.
    create(&db.store, "bob");
    let other = db.raw_text("SELECT password_hash AS v FROM users WHERE username = 'bob'");
    assert_ne!(stored, other);
}

fn unreadable_rows_are_unavailable(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    store
        .create_grant(&name("alice"), &experiment("2"), Permission::Read)
        .expect("grant");
    db.raw_execute(&format!(
        "INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission, \
                                       created_at) \
         SELECT id, 'experiment', '1', 'WRITE', 0 FROM roles WHERE name = '__user_{id}__'; \
         INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission, \
                                       created_at) \
         SELECT id, 'dataset', 'x', 'READ', 0 FROM roles WHERE name = '__user_{id}__';",
        id = alice.id
    ));
    assert!(matches!(
        resolved(store, alice.id, &experiment("1")),
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.get_grant(&name("alice"), &experiment("1")),
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.grants_of_user(alice.id),
        Err(StoreError::Unavailable(_))
    ));
}

fn the_backend_is_the_one_the_url_names(db: Db) {
    let expected = if db.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(db.store.backend(), expected);
    assert_eq!(db.reopen().backend(), expected);
}

/// Instantiates every contract test once per backend.
fn deleting_a_resource_drops_every_grant_on_it(db: Db) {
    let store = &db.store;
    create(store, "alice");
    create(store, "bob");
    for user in ["alice", "bob"] {
        store
            .create_grant(&name(user), &model("churn"), Permission::Edit)
            .expect("grant");
    }
    store
        .create_grant(&name("alice"), &model("other"), Permission::Read)
        .expect("grant");
    assert!(store.has_grants_on(&model("churn")).expect("exists"));
    assert_eq!(store.delete_grants_on(&model("churn")).expect("delete"), 2);
    assert!(!store.has_grants_on(&model("churn")).expect("exists"));
    assert_eq!(
        store.get_grant(&name("bob"), &model("churn")),
        Err(StoreError::GrantNotFound {
            resource: model("churn"),
            username: name("bob"),
        })
    );
    // Other resources keep their grants; a second delete finds nothing.
    assert!(store.get_grant(&name("alice"), &model("other")).is_ok());
    assert_eq!(store.delete_grants_on(&model("churn")).expect("delete"), 0);
}

fn prompt(raw: &str) -> Resource {
    Resource::Prompt(ModelName::parse(raw).expect("valid prompt name"))
}

/// A prompt's rows are `prompt` rows of their own: listed as prompts, dropped and
/// renamed with the name as a registered model's are.
fn prompt_grants_are_their_own_rows_and_follow_the_name(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    store
        .create_grant(&name("alice"), &prompt("greeting"), Permission::Manage)
        .expect("grant");
    store
        .create_grant(&name("alice"), &model("greeting"), Permission::Read)
        .expect("a registered_model row on the same name is another row");
    assert_eq!(
        store
            .get_grant(&name("alice"), &prompt("greeting"))
            .map(|g| g.permission),
        Ok(Permission::Manage)
    );
    let listed: Vec<(Resource, Permission)> = store
        .grants_of_user(alice.id)
        .expect("list")
        .into_iter()
        .map(|g| (g.resource, g.permission))
        .collect();
    assert_eq!(
        listed,
        vec![
            (prompt("greeting"), Permission::Manage),
            (model("greeting"), Permission::Read),
        ]
    );
    let moved = store
        .rename_registered_model(
            &ModelName::parse("greeting").expect("name"),
            &ModelName::parse("welcome").expect("name"),
        )
        .expect("rename");
    assert_eq!(moved, 2, "both rows follow the name");
    assert_eq!(
        resolved(store, alice.id, &prompt("welcome")).expect("lookup"),
        Some(Permission::Manage)
    );
    assert_eq!(store.delete_grants_on(&prompt("welcome")), Ok(1));
    assert_eq!(
        resolved(store, alice.id, &prompt("welcome")).expect("lookup"),
        None
    );
    assert_eq!(
        resolved(store, alice.id, &model("welcome")).expect("lookup"),
        Some(Permission::Read)
    );
}

fn renaming_a_model_moves_its_grants_and_replaces_leftovers(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    create(store, "bob");
    store
        .create_grant(&name("alice"), &model("old"), Permission::Manage)
        .expect("grant");
    // Bob still holds a grant left behind by an earlier model called "new".
    store
        .create_grant(&name("bob"), &model("new"), Permission::Edit)
        .expect("grant");
    let moved = store
        .rename_registered_model(
            &ModelName::parse("old").expect("name"),
            &ModelName::parse("new").expect("name"),
        )
        .expect("rename");
    assert_eq!(moved, 1);
    assert_eq!(
        resolved(store, alice.id, &model("new")).expect("lookup"),
        Some(Permission::Manage)
    );
    assert_eq!(
        resolved(store, alice.id, &model("old")).expect("lookup"),
        None
    );
    assert!(matches!(
        store.get_grant(&name("bob"), &model("new")),
        Err(StoreError::GrantNotFound { .. })
    ));
    // Renaming a model to its own name keeps its grants.
    let same = ModelName::parse("new").expect("name");
    assert_eq!(
        store.rename_registered_model(&same, &same).expect("rename"),
        0
    );
    assert_eq!(
        resolved(store, alice.id, &model("new")).expect("lookup"),
        Some(Permission::Manage)
    );
}

fn resolving_many_keys_answers_like_resolving_each(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    // The same key under two kinds, a denial, someone else's grant, and no grant.
    store
        .create_grant(&name("alice"), &experiment("1"), Permission::Edit)
        .expect("grant");
    store
        .create_grant(&name("alice"), &model("1"), Permission::NoPermissions)
        .expect("grant");
    store
        .create_grant(&name("bob"), &experiment("2"), Permission::Manage)
        .expect("grant");
    let mut asked = vec![model("1"), experiment("2"), experiment("1"), model("none")];
    // More than one IN-list chunk.
    asked.extend((100..1300).map(|i| experiment(&i.to_string())));
    store
        .create_grant(&name("alice"), &experiment("1299"), Permission::Use)
        .expect("grant in the last chunk");
    let keys: Vec<GrantKey> = asked.iter().map(Resource::grant_key).collect();
    let answers = store.resolve(alice.id, &keys).expect("batch");
    assert!(!answers.workspace_admin);
    assert_eq!(answers.levels.len(), asked.len());
    for (resource, answer) in asked.iter().zip(&answers.levels) {
        assert_eq!(
            *answer,
            resolved(store, alice.id, resource).expect("single"),
            "{resource:?}"
        );
    }
    assert_eq!(
        answers.levels[..4],
        [Some(Permission::Deny), None, Some(Permission::Edit), None]
    );
    assert_eq!(answers.levels.last(), Some(&Some(Permission::Use)));
    assert_eq!(
        store
            .resolve(bob.id, &[experiment("2").grant_key()])
            .expect("batch")
            .levels,
        vec![Some(Permission::Manage)]
    );
    assert_eq!(store.resolve(bob.id, &[]), Ok(Resolution::default()));
}

// ---------------------------------------------------------------------------
// Roles (RoleStore), and the 3.10 and 3.17 views of one store

fn ws(raw: &str) -> Workspace {
    Workspace::parse(raw).expect("valid workspace")
}

fn default_ws() -> Workspace {
    Workspace::default_workspace()
}

fn role_name(raw: &str) -> RoleName {
    RoleName::parse(raw).expect("valid role name")
}

fn rule(resource_type: ResourceType, pattern: &str, permission: Permission) -> GrantRule {
    GrantRule::new(resource_type, pattern, permission).expect("valid rule")
}

fn pattern(raw: &str) -> ResourcePattern {
    ResourcePattern::from_stored(raw)
}

fn new_role(store: &Store, workspace: &str, name: &str) -> Role {
    store
        .create_role(&ws(workspace), &role_name(name), None)
        .expect("create role")
}

fn add_row(
    store: &Store,
    role: &Role,
    t: ResourceType,
    p: &str,
    level: Permission,
) -> RolePermission {
    store
        .add_role_permission(role.id, &rule(t, p, level))
        .expect("add role permission")
}

fn scorer(experiment_id: &str, name: &str) -> Resource {
    Resource::Scorer {
        experiment_id: ExperimentId::parse(experiment_id).expect("id"),
        name: OpaqueId::parse(name).expect("name"),
    }
}

fn count(db: &Db, sql: &str) -> String {
    db.raw_text(&format!("SELECT CAST(COUNT(*) AS TEXT) AS v FROM {sql}"))
}

fn roles_are_created_read_listed_updated_and_deleted(db: Db) {
    let store = &db.store;
    let readers = store
        .create_role(
            &default_ws(),
            &role_name("readers"),
            Some("read all experiments"),
        )
        .expect("create");
    assert_eq!(
        (readers.workspace.as_str(), readers.name.as_str()),
        ("default", "readers")
    );
    assert_eq!(readers.description.as_deref(), Some("read all experiments"));
    // The same name in another workspace is another role; the workspace is not checked.
    let team = new_role(store, "team-a", "readers");
    assert!(team.id > readers.id);
    let taken = store.create_role(&default_ws(), &role_name("readers"), None);
    assert_eq!(
        taken,
        Err(RoleError::RoleAlreadyExists {
            workspace: default_ws(),
            name: role_name("readers"),
        })
    );
    assert_eq!(
        taken.unwrap_err().to_string(),
        "Role (name=readers, workspace=default) already exists."
    );

    assert_eq!(store.get_role(readers.id), Ok(readers.clone()));
    assert_eq!(
        store.get_role(i64::MAX).map_err(|e| e.to_string()),
        Err(format!("Role with id={} not found", i64::MAX))
    );
    assert_eq!(
        store.list_roles(None),
        Ok(vec![readers.clone(), team.clone()])
    );
    assert_eq!(
        store.list_roles(Some(&[ws("team-a")][..])),
        Ok(vec![team.clone()])
    );
    assert_eq!(
        store.list_roles(Some(&[ws("team-a"), default_ws()][..])),
        Ok(vec![readers.clone(), team.clone()])
    );
    assert_eq!(store.list_roles(Some(&[ws("nope")][..])), Ok(vec![]));

    // Rename; clear, then set, the description; nothing given changes nothing.
    let renamed = store
        .update_role(readers.id, Some(&role_name("editors")), Some(None))
        .expect("update");
    assert_eq!(
        (renamed.name.as_str(), renamed.description.as_deref()),
        ("editors", None)
    );
    assert_eq!(store.get_role(readers.id), Ok(renamed.clone()));
    let described = store
        .update_role(readers.id, None, Some(Some("edit")))
        .expect("update");
    assert_eq!(described.description.as_deref(), Some("edit"));
    assert_eq!(
        store.update_role(readers.id, None, None),
        Ok(described.clone())
    );
    assert_eq!(
        store.update_role(readers.id, Some(&role_name("editors")), None),
        Ok(described.clone())
    );
    let other = new_role(store, "default", "other");
    let clash = store.update_role(other.id, Some(&role_name("editors")), None);
    assert_eq!(
        clash.clone().map_err(|e| e.to_string()),
        Err("Role with name=editors already exists in workspace=default".to_owned())
    );
    assert!(matches!(clash, Err(RoleError::RoleNameTaken { .. })));
    assert_eq!(store.get_role(other.id), Ok(other.clone()));
    // The same name in another workspace is no clash.
    assert!(
        store
            .update_role(team.id, Some(&role_name("editors")), None)
            .is_ok()
    );
    assert_eq!(
        store.update_role(i64::MAX, None, Some(None)),
        Err(RoleError::RoleNotFound(i64::MAX))
    );

    // Deleting takes its rows and assignments along.
    let alice = create(store, "alice");
    add_row(
        store,
        &described,
        ResourceType::Experiment,
        "*",
        Permission::Read,
    );
    store
        .assign_role(&name("alice"), described.id)
        .expect("assign");
    assert_eq!(store.delete_role(described.id), Ok(()));
    assert_eq!(
        store.get_role(described.id),
        Err(RoleError::RoleNotFound(described.id))
    );
    assert_eq!(
        count(
            &db,
            &format!("role_permissions WHERE role_id = {}", described.id)
        ),
        "0"
    );
    assert_eq!(
        count(
            &db,
            &format!("user_role_assignments WHERE user_id = {}", alice.id)
        ),
        "0"
    );
    assert_eq!(
        store.delete_role(described.id),
        Err(RoleError::RoleNotFound(described.id))
    );
    assert_eq!(store.list_roles(None).map(|r| r.len()), Ok(2));
}

fn role_permissions_are_added_listed_updated_and_removed(db: Db) {
    let store = &db.store;
    let role = new_role(store, "default", "readers");
    let wildcard = add_row(
        store,
        &role,
        ResourceType::Experiment,
        "*",
        Permission::Read,
    );
    assert_eq!(
        wildcard,
        RolePermission {
            id: wildcard.id,
            role_id: role.id,
            resource_type: ResourceType::Experiment,
            resource_pattern: ResourcePattern::Wildcard,
            permission: Permission::Read,
        }
    );
    let denied = add_row(
        store,
        &role,
        ResourceType::Experiment,
        "1",
        Permission::Deny,
    );
    let member = add_row(store, &role, ResourceType::Workspace, "*", Permission::Use);
    let duplicate = store.add_role_permission(
        role.id,
        &rule(ResourceType::Experiment, "*", Permission::Edit),
    );
    assert_eq!(
        duplicate.clone().map_err(|e| e.to_string()),
        Err(format!(
            "Role permission (role_id={}, resource_type=experiment, resource_pattern=*) already exists.",
            role.id
        ))
    );
    assert!(matches!(
        duplicate,
        Err(RoleError::RolePermissionAlreadyExists { .. })
    ));
    assert_eq!(
        store.list_role_permissions(role.id),
        Ok(vec![wildcard.clone(), denied.clone(), member.clone()])
    );

    let raised = store
        .update_role_permission(wildcard.id, Permission::Manage)
        .expect("update");
    assert_eq!(raised.permission, Permission::Manage);
    assert_eq!(
        store
            .list_role_permissions(role.id)
            .map(|rows| rows[0].clone()),
        Ok(raised)
    );
    // The level is checked against the row's type.
    let refused = store.update_role_permission(member.id, Permission::Read);
    assert_eq!(
        refused.clone().map_err(|e| e.to_string()),
        Err(
            "Invalid permission 'READ' for resource_type='workspace'. Workspace-wide grants \
             accept only: ('MANAGE', 'USE')."
                .to_owned()
        )
    );
    assert!(matches!(refused, Err(RoleError::Invalid(_))));
    assert!(matches!(
        store.update_role_permission(denied.id, Permission::NoPermissions),
        Err(RoleError::Invalid(_))
    ));
    assert_eq!(
        store
            .list_role_permissions(role.id)
            .map(|rows| rows[2].clone()),
        Ok(member.clone())
    );

    assert_eq!(store.get_role_permission(member.id), Ok(member.clone()));
    assert_eq!(store.remove_role_permission(denied.id), Ok(()));
    assert_eq!(
        store.get_role_permission(denied.id),
        Err(RoleError::RolePermissionNotFound(denied.id))
    );
    assert_eq!(
        store
            .remove_role_permission(denied.id)
            .map_err(|e| e.to_string()),
        Err(format!("Role permission with id={} not found", denied.id))
    );
    assert_eq!(store.list_role_permissions(role.id).map(|r| r.len()), Ok(2));
    assert_eq!(
        store.update_role_permission(denied.id, Permission::Read),
        Err(RoleError::RolePermissionNotFound(denied.id))
    );
    let ghost_role = i64::MAX;
    assert_eq!(
        store.add_role_permission(ghost_role, &rule(ResourceType::Run, "*", Permission::Read)),
        Err(RoleError::RoleNotFound(ghost_role))
    );
    assert_eq!(
        store.list_role_permissions(ghost_role),
        Err(RoleError::RoleNotFound(ghost_role))
    );
}

fn roles_are_assigned_and_unassigned(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    let r1 = new_role(store, "default", "readers");
    let r2 = new_role(store, "team-a", "admins");
    let a1 = store.assign_role(&name("alice"), r1.id).expect("assign");
    assert_eq!((a1.user_id, a1.role_id), (alice.id, r1.id));
    store.assign_role(&name("alice"), r2.id).expect("assign");
    let b1 = store.assign_role(&name("bob"), r1.id).expect("assign");
    let again = store.assign_role(&name("alice"), r1.id);
    assert_eq!(
        again.map_err(|e| e.to_string()),
        Err(format!(
            "User role assignment (user_id={}, role_id={}) already exists",
            alice.id, r1.id
        ))
    );
    assert_eq!(
        store.roles_of_user(&name("alice")),
        Ok(vec![r1.clone(), r2.clone()])
    );
    assert_eq!(store.assignments_of_role(r1.id), Ok(vec![a1, b1]));

    assert_eq!(store.unassign_role(&name("alice"), r1.id), Ok(()));
    assert_eq!(store.roles_of_user(&name("alice")), Ok(vec![r2.clone()]));
    assert_eq!(
        store
            .unassign_role(&name("alice"), r1.id)
            .map_err(|e| e.to_string()),
        Err(format!(
            "User role assignment (user_id={}, role_id={}) not found",
            alice.id, r1.id
        ))
    );
    assert_eq!(store.assignments_of_role(r1.id), Ok(vec![b1]));

    let ghost = name("ghost");
    let no_user = Err(RoleError::UserNotFound(ghost.clone()));
    assert_eq!(store.assign_role(&ghost, r1.id).map(|_| ()), no_user);
    assert_eq!(store.unassign_role(&ghost, r1.id), no_user);
    assert_eq!(store.roles_of_user(&ghost).map(|_| ()), no_user);
    let no_role = Err(RoleError::RoleNotFound(i64::MAX));
    assert_eq!(
        store.assign_role(&name("bob"), i64::MAX).map(|_| ()),
        no_role
    );
    assert_eq!(store.unassign_role(&name("bob"), i64::MAX), no_role);
    assert_eq!(store.assignments_of_role(i64::MAX).map(|_| ()), no_role);

    // A synthetic role is its user's alone.
    store
        .create_grant(&name("alice"), &experiment("1"), Permission::Read)
        .expect("grant");
    let synthetic = store
        .roles_of_user(&name("alice"))
        .expect("roles")
        .into_iter()
        .find(|r| r.name.is_synthetic())
        .expect("alice's synthetic role");
    assert_eq!(synthetic.name, RoleName::synthetic(alice.id));
    assert_eq!(
        store.assign_role(&name("bob"), synthetic.id),
        Err(RoleError::SyntheticRoleOfAnotherUser {
            role: synthetic.name.clone(),
            username: name("bob"),
        })
    );
    assert!(matches!(
        store.assign_role(&name("alice"), synthetic.id),
        Err(RoleError::AssignmentAlreadyExists { .. })
    ));
    assert_eq!(
        resolved(store, bob.id, &experiment("1")),
        Ok(None),
        "bob inherited nothing"
    );
}

fn per_user_permissions_are_granted_revoked_and_read(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let edit_one = rule(ResourceType::Experiment, "1", Permission::Edit);
    let row = store
        .grant_user_permission(&name("alice"), &default_ws(), &edit_one)
        .expect("grant");
    assert_eq!(
        (
            row.resource_type,
            row.resource_pattern.as_str(),
            row.permission
        ),
        (ResourceType::Experiment, "1", Permission::Edit)
    );
    // Made on first use, in `default`, and assigned.
    let roles = store.roles_of_user(&name("alice")).expect("roles");
    assert_eq!(roles.len(), 1);
    assert_eq!(
        (
            roles[0].id,
            roles[0].workspace.as_str(),
            roles[0].name.as_str()
        ),
        (
            row.role_id,
            "default",
            RoleName::synthetic(alice.id).as_str()
        )
    );
    // Not an upsert.
    let again = store.grant_user_permission(
        &name("alice"),
        &default_ws(),
        &rule(ResourceType::Experiment, "1", Permission::Manage),
    );
    assert_eq!(
        again.clone().map_err(|e| e.to_string()),
        Err(
            "Permission for user=alice on resource_type=experiment, resource_id=1 already exists."
                .to_owned()
        )
    );
    assert!(matches!(
        again,
        Err(RoleError::UserPermissionAlreadyExists { .. })
    ));
    let read_back = store.get_user_permission(
        &name("alice"),
        &default_ws(),
        ResourceType::Experiment,
        &pattern("1"),
    );
    assert_eq!(read_back, Ok(row.clone()));

    assert_eq!(
        store.revoke_user_permission(
            &name("alice"),
            &default_ws(),
            ResourceType::Experiment,
            &pattern("1")
        ),
        Ok(())
    );
    let missing = store.get_user_permission(
        &name("alice"),
        &default_ws(),
        ResourceType::Experiment,
        &pattern("1"),
    );
    assert_eq!(
        missing.map_err(|e| e.to_string()),
        Err(
            "Permission for user=alice on resource_type=experiment, resource_id=1 not found."
                .to_owned()
        )
    );
    assert!(matches!(
        store.revoke_user_permission(
            &name("alice"),
            &default_ws(),
            ResourceType::Experiment,
            &pattern("1")
        ),
        Err(RoleError::UserPermissionNotFound { .. })
    ));
    // Revoking the last grant leaves the empty role.
    assert_eq!(store.roles_of_user(&name("alice")), Ok(roles.clone()));

    // Workspace-wide rows are not per-user; unknown users are unknown.
    let workspace_use = rule(ResourceType::Workspace, "*", Permission::Use);
    let refused = store.grant_user_permission(&name("alice"), &default_ws(), &workspace_use);
    assert_eq!(
        refused.map_err(|e| e.to_string()),
        Err(
            "resource_type 'workspace' is not supported by the per-user permission convenience \
             APIs. Use set_workspace_permission / delete_workspace_permission for \
             workspace-wide grants."
                .to_owned()
        )
    );
    for result in [
        store.revoke_user_permission(
            &name("alice"),
            &default_ws(),
            ResourceType::Workspace,
            &ResourcePattern::Wildcard,
        ),
        store
            .get_user_permission(
                &name("alice"),
                &default_ws(),
                ResourceType::Workspace,
                &ResourcePattern::Wildcard,
            )
            .map(|_| ()),
    ] {
        assert_eq!(
            result,
            Err(RoleError::Invalid(GrantRuleError::WorkspaceNotPerUser))
        );
    }
    let ghost = name("ghost");
    assert_eq!(
        store
            .grant_user_permission(&ghost, &default_ws(), &edit_one)
            .map(|_| ()),
        Err(RoleError::UserNotFound(ghost.clone()))
    );
    assert_eq!(
        store.revoke_user_permission(
            &ghost,
            &default_ws(),
            ResourceType::Experiment,
            &pattern("1")
        ),
        Err(RoleError::UserNotFound(ghost.clone()))
    );
    // A user who never had a synthetic role holds no row.
    create(store, "bob");
    assert!(matches!(
        store.revoke_user_permission(
            &name("bob"),
            &default_ws(),
            ResourceType::Experiment,
            &pattern("1")
        ),
        Err(RoleError::UserPermissionNotFound { .. })
    ));

    // Another workspace has its own synthetic role, which does not count while
    // workspaces are off.
    let elsewhere = store
        .grant_user_permission(&name("alice"), &ws("team-a"), &edit_one)
        .expect("grant in team-a");
    assert_ne!(elsewhere.role_id, row.role_id);
    assert_eq!(store.roles_of_user(&name("alice")).map(|r| r.len()), Ok(2));
    assert_eq!(resolved(store, alice.id, &experiment("1")), Ok(None));
}

fn permission_rows_list_every_row_of_every_role_of_a_user(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    create(store, "bob");
    store
        .create_grant(&name("alice"), &experiment("2"), Permission::Manage)
        .expect("grant");
    store
        .create_grant(&name("bob"), &experiment("2"), Permission::Read)
        .expect("grant");
    let readers = new_role(store, "default", "readers");
    add_row(
        store,
        &readers,
        ResourceType::Experiment,
        "*",
        Permission::Read,
    );
    add_row(store, &readers, ResourceType::Run, "*", Permission::Edit);
    let team = new_role(store, "team-a", "team");
    add_row(store, &team, ResourceType::Prompt, "p", Permission::Use);
    let unheld = new_role(store, "default", "unheld");
    add_row(
        store,
        &unheld,
        ResourceType::Experiment,
        "9",
        Permission::Deny,
    );
    store
        .assign_role(&name("alice"), readers.id)
        .expect("assign");
    store.assign_role(&name("alice"), team.id).expect("assign");

    let synthetic = RoleName::synthetic(alice.id);
    let rows: Vec<(Permission, String, ResourceType, String, String)> = store
        .permission_rows_of_user(&name("alice"))
        .expect("rows")
        .into_iter()
        .map(|row| {
            (
                row.permission,
                row.resource_pattern.as_str().to_owned(),
                row.resource_type,
                row.role_name.as_str().to_owned(),
                row.workspace.as_str().to_owned(),
            )
        })
        .collect();
    let row = |p, pattern: &str, t, role: &str, workspace: &str| {
        (
            p,
            pattern.to_owned(),
            t,
            role.to_owned(),
            workspace.to_owned(),
        )
    };
    assert_eq!(
        rows,
        vec![
            row(
                Permission::Manage,
                "2",
                ResourceType::Experiment,
                synthetic.as_str(),
                "default"
            ),
            row(
                Permission::Read,
                "*",
                ResourceType::Experiment,
                "readers",
                "default"
            ),
            row(
                Permission::Edit,
                "*",
                ResourceType::Run,
                "readers",
                "default"
            ),
            row(Permission::Use, "p", ResourceType::Prompt, "team", "team-a"),
        ]
    );
    let first = &store.permission_rows_of_user(&name("alice")).expect("rows")[1];
    assert_eq!(first.role_id, readers.id);
    assert_eq!(
        store.permission_rows_of_user(&name("ghost")),
        Err(RoleError::UserNotFound(name("ghost")))
    );
}

fn grants_made_through_3_10_are_visible_through_3_17(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    store
        .create_grant(&name("alice"), &experiment("1"), Permission::Edit)
        .expect("grant");
    store
        .create_grant(&name("alice"), &model("m"), Permission::NoPermissions)
        .expect("grant");
    store
        .create_grant(&name("alice"), &scorer("1", "a b/c"), Permission::Use)
        .expect("grant");
    let row_of =
        |t, p: &str| store.get_user_permission(&name("alice"), &default_ws(), t, &pattern(p));
    let experiment_row = row_of(ResourceType::Experiment, "1").expect("experiment row");
    assert_eq!(experiment_row.permission, Permission::Edit);
    let model_row = row_of(ResourceType::RegisteredModel, "m").expect("model row");
    assert_eq!(model_row.permission, Permission::Deny);
    // MLflow 3.17's scorer id: the name URL-quoted.
    assert_eq!(
        row_of(ResourceType::Scorer, "1/a%20b%2Fc").map(|r| r.permission),
        Ok(Permission::Use)
    );
    let synthetic = RoleName::synthetic(alice.id);
    let listed = store.permission_rows_of_user(&name("alice")).expect("rows");
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|r| r.role_name == synthetic && r.workspace == default_ws())
    );
    assert!(
        store
            .list_roles(None)
            .expect("roles")
            .iter()
            .any(|r| r.name == synthetic && r.id == experiment_row.role_id)
    );

    // Changed and removed on the 3.17 side, seen on the 3.10 side.
    store
        .update_role_permission(experiment_row.id, Permission::Manage)
        .expect("update");
    assert_eq!(
        store
            .get_grant(&name("alice"), &experiment("1"))
            .map(|g| g.permission),
        Ok(Permission::Manage)
    );
    store.remove_role_permission(model_row.id).expect("remove");
    assert!(matches!(
        store.get_grant(&name("alice"), &model("m")),
        Err(StoreError::GrantNotFound { .. })
    ));
    store
        .revoke_user_permission(
            &name("alice"),
            &default_ws(),
            ResourceType::Scorer,
            &pattern("1/a%20b%2Fc"),
        )
        .expect("revoke");
    let left: Vec<(Resource, Permission)> = store
        .grants_of_user(alice.id)
        .expect("grants")
        .into_iter()
        .map(|g| (g.resource, g.permission))
        .collect();
    assert_eq!(left, vec![(experiment("1"), Permission::Manage)]);
}

fn grants_made_through_3_17_are_visible_through_3_10(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let grant = |t, p: &str, level| {
        store
            .grant_user_permission(&name("alice"), &default_ws(), &rule(t, p, level))
            .expect("grant")
    };
    grant(ResourceType::Experiment, "3", Permission::Read);
    grant(ResourceType::Experiment, "4", Permission::Deny);
    grant(ResourceType::Scorer, "1/my%20scorer", Permission::Edit);
    assert_eq!(
        store
            .get_grant(&name("alice"), &experiment("3"))
            .map(|g| g.permission),
        Ok(Permission::Read)
    );
    // DENY is the 3.10 API's NO_PERMISSIONS.
    assert_eq!(
        store
            .get_grant(&name("alice"), &experiment("4"))
            .map(|g| g.permission),
        Ok(Permission::NoPermissions)
    );
    assert_eq!(
        store
            .get_grant(&name("alice"), &scorer("1", "my scorer"))
            .map(|g| g.permission),
        Ok(Permission::Edit)
    );
    // Changed and removed on the 3.10 side, seen on the 3.17 side.
    store
        .update_grant(&name("alice"), &experiment("3"), Permission::Edit)
        .expect("update");
    assert_eq!(
        store
            .get_user_permission(
                &name("alice"),
                &default_ws(),
                ResourceType::Experiment,
                &pattern("3")
            )
            .map(|r| r.permission),
        Ok(Permission::Edit)
    );
    store
        .delete_grant(&name("alice"), &experiment("4"))
        .expect("delete");
    assert!(matches!(
        store.get_user_permission(
            &name("alice"),
            &default_ws(),
            ResourceType::Experiment,
            &pattern("4")
        ),
        Err(RoleError::UserPermissionNotFound { .. })
    ));

    // Not 3.10-visible, but counted: wildcards, types and ids the 3.10 API cannot
    // name, and named roles. Other workspaces are neither.
    grant(ResourceType::RegisteredModel, "*", Permission::Manage);
    grant(ResourceType::Experiment, "01", Permission::Read);
    // A prompt row is 3.10-visible: that API calls it a registered model.
    grant(ResourceType::Prompt, "p", Permission::Read);
    grant(ResourceType::Run, "*", Permission::Edit);
    grant(ResourceType::Scorer, "1/a b", Permission::Read);
    let named = new_role(store, "default", "readers");
    add_row(
        store,
        &named,
        ResourceType::Experiment,
        "5",
        Permission::Read,
    );
    store.assign_role(&name("alice"), named.id).expect("assign");
    store
        .grant_user_permission(
            &name("alice"),
            &ws("team-a"),
            &rule(ResourceType::Experiment, "6", Permission::Manage),
        )
        .expect("grant in team-a");
    let visible: Vec<(Resource, Permission)> = store
        .grants_of_user(alice.id)
        .expect("grants")
        .into_iter()
        .map(|g| (g.resource, g.permission))
        .collect();
    assert_eq!(
        visible,
        vec![
            (experiment("3"), Permission::Edit),
            (prompt("p"), Permission::Read),
            (scorer("1", "my scorer"), Permission::Edit),
        ]
    );
    for resource in [experiment("5"), experiment("6"), model("anything")] {
        assert!(matches!(
            store.get_grant(&name("alice"), &resource),
            Err(StoreError::GrantNotFound { .. })
        ));
    }
    assert_eq!(
        resolved(store, alice.id, &model("anything")),
        Ok(Some(Permission::Manage))
    );
    assert_eq!(
        resolved(store, alice.id, &experiment("5")),
        Ok(Some(Permission::Read))
    );
    assert_eq!(resolved(store, alice.id, &experiment("6")), Ok(None));
}

fn resolution_combines_rows_of_every_role_as_mlflow_does(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    let users_role = new_role(store, "default", "users");
    add_row(
        store,
        &users_role,
        ResourceType::Experiment,
        "*",
        Permission::Use,
    );
    add_row(
        store,
        &users_role,
        ResourceType::RegisteredModel,
        "*",
        Permission::Deny,
    );
    add_row(store, &users_role, ResourceType::Run, "*", Permission::Edit);
    store
        .assign_role(&name("alice"), users_role.id)
        .expect("assign");
    let elsewhere = new_role(store, "team-a", "team");
    add_row(
        store,
        &elsewhere,
        ResourceType::Experiment,
        "7",
        Permission::Manage,
    );
    add_row(
        store,
        &elsewhere,
        ResourceType::Workspace,
        "*",
        Permission::Manage,
    );
    store
        .assign_role(&name("alice"), elsewhere.id)
        .expect("assign");
    let unheld = new_role(store, "default", "unheld");
    add_row(
        store,
        &unheld,
        ResourceType::Experiment,
        "8",
        Permission::Deny,
    );
    for (resource, level) in [
        (experiment("0"), Permission::Read),
        (experiment("1"), Permission::NoPermissions),
        (model("m"), Permission::Manage),
    ] {
        store
            .create_grant(&name("alice"), &resource, level)
            .expect("per-user grant");
    }

    let keys = [
        experiment("0").grant_key(),
        experiment("1").grant_key(),
        model("m").grant_key(),
        experiment("7").grant_key(),
        experiment("8").grant_key(),
        GrantKey::wildcard(ResourceType::Run),
        GrantKey::wildcard(ResourceType::Trace),
    ];
    let resolution = store.resolve(alice.id, &keys).expect("resolve");
    assert_eq!(
        resolution,
        Resolution {
            workspace_admin: false,
            levels: vec![
                // Role USE on experiment/* plus per-user READ on 0: USE.
                Some(Permission::Use),
                // Per-user DENY on 1 beats the role's USE.
                Some(Permission::Deny),
                // A wildcard DENY beats a per-id MANAGE.
                Some(Permission::Deny),
                // team-a's MANAGE does not count with workspaces off.
                Some(Permission::Use),
                // An unheld role's DENY does not count.
                Some(Permission::Use),
                Some(Permission::Edit),
                None,
            ],
        }
    );
    // The decision on top: a chain, the floor, the veto.
    let principal = Principal::from(alice.clone());
    let chain = store
        .resolve(
            alice.id,
            &[
                GrantKey::wildcard(ResourceType::Trace),
                experiment("0").grant_key(),
            ],
        )
        .expect("resolve");
    assert_eq!(
        effective_permission(&principal, chain.standing(0..2), Permission::Edit),
        Permission::Edit
    );
    assert_eq!(
        effective_permission(&principal, resolution.standing(1..2), Permission::Manage),
        Permission::Deny
    );
    assert_eq!(
        store.resolve(bob.id, &keys).map(|r| r.levels),
        Ok(vec![None; 7])
    );

    // (workspace, *, MANAGE) in `default` makes a workspace admin; USE does not.
    add_row(
        store,
        &users_role,
        ResourceType::Workspace,
        "*",
        Permission::Use,
    );
    assert!(
        !store
            .resolve(alice.id, &keys)
            .expect("resolve")
            .workspace_admin
    );
    let admins = new_role(store, "default", "admins");
    add_row(
        store,
        &admins,
        ResourceType::Workspace,
        "*",
        Permission::Manage,
    );
    assert!(
        !store
            .resolve(alice.id, &keys)
            .expect("resolve")
            .workspace_admin
    );
    store
        .assign_role(&name("alice"), admins.id)
        .expect("assign");
    let admin = store.resolve(alice.id, &keys).expect("resolve");
    assert!(admin.workspace_admin);
    assert!(
        store
            .resolve(alice.id, &[])
            .expect("resolve")
            .workspace_admin
    );
    assert_eq!(
        effective_permission(&principal, admin.standing(1..2), Permission::NoPermissions),
        Permission::Manage
    );
}

fn cascades_touch_synthetic_rows_only(db: Db) {
    let store = &db.store;
    create(store, "alice");
    create(store, "bob");
    let carol = create(store, "carol");
    let ops = new_role(store, "default", "ops");
    let held = add_row(
        store,
        &ops,
        ResourceType::RegisteredModel,
        "churn",
        Permission::Manage,
    );
    for user in ["alice", "bob"] {
        store
            .create_grant(&name(user), &model("churn"), Permission::Edit)
            .expect("grant");
    }
    store
        .grant_user_permission(
            &name("carol"),
            &ws("team-a"),
            &rule(ResourceType::RegisteredModel, "churn", Permission::Read),
        )
        .expect("grant in team-a");
    // Registered models: the synthetic roles of `default` only.
    assert_eq!(store.delete_grants_on(&model("churn")), Ok(2));
    assert_eq!(store.list_role_permissions(ops.id), Ok(vec![held.clone()]));
    assert!(
        store
            .get_user_permission(
                &name("carol"),
                &ws("team-a"),
                ResourceType::RegisteredModel,
                &pattern("churn")
            )
            .is_ok()
    );
    // The named role's row is still a grant on the model.
    assert_eq!(store.has_grants_on(&model("churn")), Ok(true));

    // Scorers (and gateway resources): every workspace.
    let judged = scorer("1", "judge");
    store
        .create_grant(&name("alice"), &judged, Permission::Manage)
        .expect("grant");
    store
        .grant_user_permission(
            &name("carol"),
            &ws("team-a"),
            &rule(ResourceType::Scorer, "1/judge", Permission::Read),
        )
        .expect("grant in team-a");
    let judges = add_row(
        store,
        &ops,
        ResourceType::Scorer,
        "1/judge",
        Permission::Read,
    );
    assert_eq!(store.delete_grants_on(&judged), Ok(2));
    assert_eq!(
        store.list_role_permissions(ops.id),
        Ok(vec![held.clone(), judges.clone()])
    );

    // A rename moves synthetic rows in `default` only.
    store
        .create_grant(&name("alice"), &model("old"), Permission::Manage)
        .expect("grant");
    let ops_old = add_row(
        store,
        &ops,
        ResourceType::RegisteredModel,
        "old",
        Permission::Read,
    );
    let ops_new = add_row(
        store,
        &ops,
        ResourceType::RegisteredModel,
        "new",
        Permission::Use,
    );
    store
        .grant_user_permission(
            &name("carol"),
            &ws("team-a"),
            &rule(ResourceType::RegisteredModel, "old", Permission::Read),
        )
        .expect("grant in team-a");
    let moved = store
        .rename_registered_model(
            &ModelName::parse("old").expect("name"),
            &ModelName::parse("new").expect("name"),
        )
        .expect("rename");
    assert_eq!(moved, 1);
    assert!(store.get_grant(&name("alice"), &model("new")).is_ok());
    assert_eq!(
        store.list_role_permissions(ops.id),
        Ok(vec![held, judges, ops_old, ops_new])
    );
    assert!(
        store
            .get_user_permission(
                &name("carol"),
                &ws("team-a"),
                ResourceType::RegisteredModel,
                &pattern("old")
            )
            .is_ok()
    );
    assert_eq!(resolved(store, carol.id, &model("new")), Ok(None));
}

fn deleting_a_user_deletes_their_synthetic_roles_and_assignments(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    create(store, "bob");
    store
        .create_grant(&name("alice"), &experiment("1"), Permission::Manage)
        .expect("grant");
    store
        .grant_user_permission(
            &name("alice"),
            &ws("team-a"),
            &rule(ResourceType::Experiment, "1", Permission::Read),
        )
        .expect("grant in team-a");
    store
        .create_grant(&name("bob"), &experiment("1"), Permission::Read)
        .expect("grant");
    let readers = new_role(store, "default", "readers");
    let row = add_row(
        store,
        &readers,
        ResourceType::Experiment,
        "*",
        Permission::Read,
    );
    store
        .assign_role(&name("alice"), readers.id)
        .expect("assign");
    assert_eq!(store.list_roles(None).map(|r| r.len()), Ok(4));

    store.delete_user(&name("alice")).expect("delete");
    let names: Vec<String> = store
        .list_roles(None)
        .expect("roles")
        .into_iter()
        .map(|r| r.name.as_str().to_owned())
        .collect();
    assert!(!names.contains(&RoleName::synthetic(alice.id).as_str().to_owned()));
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(store.assignments_of_role(readers.id), Ok(vec![]));
    assert_eq!(store.list_role_permissions(readers.id), Ok(vec![row]));
    assert_eq!(
        count(&db, "role_permissions"),
        "2",
        "bob's row and the named role's stay"
    );
}

fn job(raw: &str) -> OpaqueId {
    OpaqueId::parse(raw).expect("job id")
}

fn jobs_belong_to_their_first_recorded_submitter(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    store
        .record_job_owner(&job("j-1"), alice.id)
        .expect("record");
    store.record_job_owner(&job("j-2"), bob.id).expect("record");
    // A repeat is no transfer.
    store.record_job_owner(&job("j-1"), bob.id).expect("repeat");

    let asked = [job("j-1"), job("j-2"), job("j-unknown"), job("j-1")];
    assert_eq!(
        store.owns_jobs(alice.id, &asked),
        Ok(vec![true, false, false, true])
    );
    assert_eq!(
        store.owns_jobs(bob.id, &asked),
        Ok(vec![false, true, false, false])
    );
    assert_eq!(store.owns_jobs(alice.id, &[]), Ok(vec![]));
    // More ids than one statement takes.
    let many: Vec<OpaqueId> = (0..1200).map(|i| job(&format!("j-{i}"))).collect();
    let owned = store.owns_jobs(alice.id, &many).expect("many");
    assert_eq!(owned.iter().filter(|o| **o).count(), 1);
    assert!(owned[1]);

    // A later account of the same name owns nothing of the deleted one's.
    store.delete_user(&name("alice")).expect("delete");
    let again = create(store, "alice");
    assert_eq!(store.owns_jobs(again.id, &asked[..1]), Ok(vec![false]));
    assert_eq!(count(&db, "job_owners"), "1", "bob's record stays");
}

fn sessions_open_expire_list_and_end(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    let now = mlguard_domain::now_ms();
    let hour = 3_600_000;
    let first = store
        .create_session("aa11", alice.id, false, now + hour)
        .expect("open");
    let second = store
        .create_session("bb22", alice.id, true, now + hour)
        .expect("open");
    store
        .create_session("cc33", bob.id, false, now + hour)
        .expect("open");
    assert_eq!(
        store.session_by_secret("aa11", now),
        Ok(Some(first.clone()))
    );
    assert!(second.admin_from_provider);
    assert_eq!(store.session_by_secret("unknown", now), Ok(None));
    // After its expiry a session opens nothing and is not listed.
    assert_eq!(store.session_by_secret("aa11", now + hour), Ok(None));
    assert_eq!(store.sessions_of_user(alice.id, now + hour), Ok(vec![]));
    assert_eq!(
        store.sessions_of_user(alice.id, now),
        Ok(vec![first.clone(), second.clone()])
    );
    assert_eq!(store.delete_session(first.id), Ok(true));
    assert_eq!(store.delete_session(first.id), Ok(false));
    assert_eq!(store.session_by_secret("aa11", now), Ok(None));
    // Deleting the user ends their sessions; bob's stays.
    store.delete_user(&name("alice")).expect("delete");
    assert_eq!(store.session_by_secret("bb22", now), Ok(None));
    assert_eq!(store.sessions_of_user(bob.id, now).map(|s| s.len()), Ok(1));
    // A secret is unique: a second session under it is refused.
    assert!(
        store
            .create_session("cc33", bob.id, false, now + hour)
            .is_err()
    );
}

fn provider_identities_link_once_and_go_with_their_account(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let bob = create(store, "bob");
    let idp = "https://idp.example";
    assert_eq!(store.user_of_identity(idp, "sub-1"), Ok(None));
    store.link_identity(alice.id, idp, "sub-1").expect("link");
    assert_eq!(store.user_of_identity(idp, "sub-1"), Ok(Some(alice.id)));
    assert_eq!(
        store.user_of_identity("https://other.example", "sub-1"),
        Ok(None)
    );
    // One identity, one account.
    assert!(store.link_identity(bob.id, idp, "sub-1").is_err());
    assert_eq!(store.user_of_identity(idp, "sub-1"), Ok(Some(alice.id)));
    store.delete_user(&name("alice")).expect("delete");
    assert_eq!(store.user_of_identity(idp, "sub-1"), Ok(None));
    // A session remembers the credential version it was opened at.
    let now = mlguard_domain::now_ms();
    let before = store
        .create_session("dd44", bob.id, false, now + 60_000)
        .expect("open");
    store
        .set_password(&name("bob"), &pw("another-password-1"))
        .expect("password");
    let after = store
        .create_session("ee55", bob.id, false, now + 60_000)
        .expect("open");
    assert!(after.credential_version > before.credential_version);
    // The one opened before the change is over: not listed any more.
    assert_eq!(store.sessions_of_user(bob.id, now), Ok(vec![after]));
}

fn a_pending_login_is_taken_once_before_it_expires(db: Db) {
    let store = &db.store;
    let now = mlguard_domain::now_ms();
    let pending = mlguard_domain::PendingLogin {
        nonce: "n-1".to_owned(),
        code_verifier: "v-1".to_owned(),
        next_path: "/#/experiments".to_owned(),
    };
    store
        .save_pending_login("s1", &pending, now + 600_000, now)
        .expect("save");
    store
        .save_pending_login("s2", &pending, now + 1, now)
        .expect("save");
    assert_eq!(
        store.take_pending_login("s1", now),
        Ok(Some(pending.clone()))
    );
    assert_eq!(store.take_pending_login("s1", now), Ok(None), "replayed");
    assert_eq!(store.take_pending_login("s2", now + 1), Ok(None), "expired");
    assert_eq!(
        store.take_pending_login("s2", now),
        Ok(None),
        "gone once tried"
    );
    assert_eq!(store.take_pending_login("never", now), Ok(None));
}

fn provider_roles_come_and_go_without_touching_an_admins_assignments(db: Db) {
    let store = &db.store;
    let alice = create(store, "alice");
    let readers = new_role(store, "default", "readers");
    let writers = new_role(store, "default", "writers");
    let elsewhere = new_role(store, "team-a", "auditors");
    let held = |store: &Store| -> Vec<String> {
        let mut names: Vec<String> = store
            .roles_of_user(&name("alice"))
            .expect("roles")
            .into_iter()
            .map(|r| r.name.as_str().to_owned())
            .collect();
        names.sort();
        names
    };
    // Roles named by the provider are assigned; unknown names, other workspaces'
    // roles and synthetic names are skipped.
    let skipped = store
        .sync_provider_roles(
            alice.id,
            &[
                role_name("readers"),
                role_name("writers"),
                role_name("nobody-made-this"),
            ],
        )
        .expect("sync");
    assert_eq!(skipped, vec![role_name("nobody-made-this")]);
    assert_eq!(held(store), ["readers", "writers"]);
    assert_eq!(
        store.sync_provider_roles(alice.id, &[RoleName::synthetic(alice.id)]),
        Ok(vec![RoleName::synthetic(alice.id)])
    );
    assert_eq!(
        held(store),
        Vec::<String>::new(),
        "no longer named: both go"
    );
    let _ = elsewhere;
    // An admin's own assignment is never the provider's to take away.
    store
        .assign_role(&name("alice"), writers.id)
        .expect("assign");
    store
        .sync_provider_roles(alice.id, &[role_name("writers"), role_name("readers")])
        .expect("sync");
    store.sync_provider_roles(alice.id, &[]).expect("sync");
    assert_eq!(held(store), ["writers"]);
    // Idempotent, and an admin's unassigning lets the provider assign it again.
    store
        .sync_provider_roles(alice.id, &[role_name("readers")])
        .expect("sync");
    store
        .sync_provider_roles(alice.id, &[role_name("readers")])
        .expect("again");
    assert_eq!(held(store), ["readers", "writers"]);
    store
        .unassign_role(&name("alice"), readers.id)
        .expect("unassign");
    store
        .sync_provider_roles(alice.id, &[role_name("readers")])
        .expect("sync");
    assert_eq!(held(store), ["readers", "writers"]);
    // An admin assigning what the provider assigned makes it the admin's.
    let auditors = new_role(store, "default", "auditors");
    store
        .sync_provider_roles(alice.id, &[role_name("auditors")])
        .expect("sync");
    store
        .assign_role(&name("alice"), auditors.id)
        .expect("taken over, not a conflict");
    store
        .sync_provider_roles(alice.id, &[role_name("readers")])
        .expect("sync");
    assert!(held(store).contains(&"auditors".to_owned()));
    store
        .unassign_role(&name("alice"), auditors.id)
        .expect("unassign");
    // A deleted role takes the provider's record with it.
    store.delete_role(readers.id).expect("delete role");
    assert_eq!(store.sync_provider_roles(alice.id, &[]), Ok(vec![]));
    assert_eq!(held(store), ["writers"]);
}

fn racing_first_grants_make_one_synthetic_role(db: Db) {
    const THREADS: usize = 8;
    let alice = create(&db.store, "alice");
    let barrier = Arc::new(Barrier::new(THREADS));
    let outcomes: Vec<Result<Grant, StoreError>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let store = db.store.clone();
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    barrier.wait();
                    store.create_grant(
                        &name("alice"),
                        &experiment(&i.to_string()),
                        Permission::Read,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(store_roles_named(&db, &RoleName::synthetic(alice.id)), "1");
    assert_eq!(
        count(
            &db,
            &format!("user_role_assignments WHERE user_id = {}", alice.id)
        ),
        "1"
    );
    assert_eq!(
        db.store.grants_of_user(alice.id).map(|g| g.len()),
        Ok(THREADS)
    );
}

fn store_roles_named(db: &Db, role: &RoleName) -> String {
    count(db, &format!("roles WHERE name = '{}'", role.as_str()))
}

fn racing_role_writes_let_exactly_one_win(db: Db) {
    const THREADS: usize = 8;
    create(&db.store, "alice");
    let role = new_role(&db.store, "default", "target");
    let barrier = Arc::new(Barrier::new(THREADS));
    // Each thread races on three writes: a role name, a role row, a per-user row.
    let outcomes: Vec<[bool; 3]> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let store = db.store.clone();
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let created = store.create_role(&default_ws(), &role_name("racer"), None);
                    let added = store.add_role_permission(
                        role.id,
                        &rule(ResourceType::Experiment, "*", Permission::Read),
                    );
                    let granted = store.grant_user_permission(
                        &name("alice"),
                        &default_ws(),
                        &rule(ResourceType::Experiment, "1", Permission::Read),
                    );
                    assert!(matches!(
                        created,
                        Ok(_) | Err(RoleError::RoleAlreadyExists { .. })
                    ));
                    assert!(matches!(
                        added,
                        Ok(_) | Err(RoleError::RolePermissionAlreadyExists { .. })
                    ));
                    assert!(matches!(
                        granted,
                        Ok(_) | Err(RoleError::UserPermissionAlreadyExists { .. })
                    ));
                    [created.is_ok(), added.is_ok(), granted.is_ok()]
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for write in 0..3 {
        let winners = outcomes.iter().filter(|o| o[write]).count();
        assert_eq!(winners, 1, "write {write}: {outcomes:?}");
    }
}

// ---------------------------------------------------------------------------
// The migration of 3.10-style grants

/// The last schema with the `grants` table.
const BEFORE_ROLES: &str = "2025-11-26-000000";

/// Rows written at the old schema move to synthetic roles, NO_PERMISSIONS as DENY,
/// scorer names URL-quoted; the old table goes.
fn legacy_grants_move_to_synthetic_roles(db: Db) {
    assert_eq!(
        db.store.run_migrations(),
        Ok(vec![
            "20251201000000".to_owned(),
            "20251202000000".to_owned(),
            "20251203000000".to_owned(),
            "20251204000000".to_owned()
        ])
    );
    let store = &db.store;
    let alice = store.get_user(&name("alice")).expect("alice");
    let bob = store.get_user(&name("bob")).expect("bob");
    let grants = |user_id| -> Vec<(Resource, Permission)> {
        store
            .grants_of_user(user_id)
            .expect("grants")
            .into_iter()
            .map(|g| (g.resource, g.permission))
            .collect()
    };
    assert_eq!(
        grants(alice.id),
        vec![
            (experiment("1"), Permission::Edit),
            (experiment("2"), Permission::NoPermissions),
            (
                Resource::GatewaySecret(OpaqueId::parse("s-1").expect("id")),
                Permission::Use
            ),
            (model("bob model"), Permission::Manage),
            (scorer("1", "plain"), Permission::Read),
            (scorer("1", "relevance/v2 é"), Permission::Use),
        ]
    );
    assert_eq!(grants(bob.id), vec![(experiment("1"), Permission::Read)]);
    let row = |t, p: &str| {
        store
            .get_user_permission(&name("alice"), &default_ws(), t, &pattern(p))
            .map(|r| r.permission)
    };
    assert_eq!(row(ResourceType::Experiment, "2"), Ok(Permission::Deny));
    assert_eq!(
        row(ResourceType::Scorer, "1/relevance%2Fv2%20%C3%A9"),
        Ok(Permission::Use)
    );
    assert_eq!(row(ResourceType::Scorer, "1/plain"), Ok(Permission::Read));
    assert_eq!(
        resolved(store, alice.id, &experiment("2")),
        Ok(Some(Permission::Deny))
    );
    assert_eq!(
        resolved(store, alice.id, &scorer("1", "relevance/v2 é")),
        Ok(Some(Permission::Use))
    );
    // One synthetic role per user with grants, in `default`, assigned to them.
    let roles: Vec<(String, String)> = store
        .list_roles(None)
        .expect("roles")
        .into_iter()
        .map(|r| (r.workspace.as_str().to_owned(), r.name.as_str().to_owned()))
        .collect();
    let synthetic = |id| {
        (
            "default".to_owned(),
            RoleName::synthetic(id).as_str().to_owned(),
        )
    };
    assert_eq!(roles, vec![synthetic(alice.id), synthetic(bob.id)]);
    assert_eq!(
        store
            .roles_of_user(&name("alice"))
            .map(|r| r.into_iter().map(|r| r.name).collect::<Vec<_>>()),
        Ok(vec![RoleName::synthetic(alice.id)])
    );
    let table_gone = match &db.place {
        Place::Sqlite { .. } => count(&db, "sqlite_master WHERE name = 'grants'"),
        Place::Postgres(_) => count(
            &db,
            "information_schema.tables WHERE table_name = 'grants' \
             AND table_schema = current_schema()",
        ),
    };
    assert_eq!(table_gone, "0");
    // The migrated role is the one later grants use.
    store
        .create_grant(&name("alice"), &experiment("3"), Permission::Read)
        .expect("grant");
    assert_eq!(store_roles_named(&db, &RoleName::synthetic(alice.id)), "1");
    assert_eq!(count(&db, "roles"), "2");
}

/// `fresh` (unmigrated) migrated to [`BEFORE_ROLES`], holding users and grants.
fn at_old_schema(fresh: Db) -> Db {
    let applied = fresh
        .store
        .run_migrations_through(BEFORE_ROLES)
        .expect("migrate to the old schema");
    assert_eq!(applied.last().map(String::as_str), Some("20251126000000"));
    fresh.raw_execute(
        "INSERT INTO users (username, password_hash, is_admin, credential_version, created_at) \
         VALUES ('alice', 'x', FALSE, 0, 1), ('bob', 'x', FALSE, 0, 2)",
    );
    let id = |user: &str| {
        fresh.raw_text(&format!(
            "SELECT CAST(id AS TEXT) AS v FROM users WHERE username = '{user}'"
        ))
    };
    let (alice, bob) = (id("alice"), id("bob"));
    fresh.raw_execute(&format!(
        "INSERT INTO grants (user_id, resource_kind, resource_key, permission, created_at) VALUES \
         ({alice}, 'experiment', '1', 'EDIT', 10), \
         ({alice}, 'experiment', '2', 'NO_PERMISSIONS', 11), \
         ({alice}, 'registered_model', 'bob model', 'MANAGE', 12), \
         ({alice}, 'scorer', '1/relevance/v2 é', 'USE', 13), \
         ({alice}, 'scorer', '1/plain', 'READ', 14), \
         ({alice}, 'gateway_secret', 's-1', 'USE', 15), \
         ({bob}, 'experiment', '1', 'READ', 16)"
    ));
    if let Place::Sqlite { .. } = fresh.place {
        // A row of a deleted user, which SQLite without its pragma keeps.
        fresh.raw_execute(
            "PRAGMA foreign_keys = OFF; INSERT INTO grants (user_id, resource_kind, resource_key, permission, created_at) \
             VALUES (999, 'experiment', '1', 'MANAGE', 17)",
        );
    }
    fresh
}

#[test]
fn sqlite_legacy_grants_migrate_to_synthetic_roles() {
    legacy_grants_move_to_synthetic_roles(at_old_schema(Db::unmigrated_sqlite()));
}

#[test]
fn postgres_legacy_grants_migrate_to_synthetic_roles() {
    legacy_grants_move_to_synthetic_roles(at_old_schema(Db::unmigrated_postgres()));
}

macro_rules! contract {
    ($($test:ident $(with $options:expr)?),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    super::$test(contract!(@db sqlite $($options)?));
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    super::$test(contract!(@db postgres $($options)?));
                }
            )*
        }
    };
    (@db sqlite) => { super::Db::sqlite() };
    (@db sqlite $options:expr) => { super::Db::sqlite_with($options) };
    (@db postgres) => { super::Db::postgres() };
    (@db postgres $options:expr) => { super::Db::postgres_with($options) };
}

fn race_pool() -> PoolOptions {
    PoolOptions {
        max_size: 8,
        ..PoolOptions::default()
    }
}

contract! {
    users_are_created_read_listed_and_counted,
    prompt_grants_are_their_own_rows_and_follow_the_name,
    a_taken_username_is_user_already_exists,
    unknown_users_are_user_not_found,
    set_password_replaces_the_old_one,
    verification_refuses_unknown_users_and_wrong_passwords,
    set_admin_changes_the_flag,
    credential_version_bumps_on_every_credential_change,
    deleting_a_user_deletes_its_grants_and_a_new_namesake_inherits_nothing,
    grants_are_created_read_updated_and_deleted,
    grant_errors_follow_the_contract,
    an_explicit_no_permissions_grant_is_stored_as_deny,
    permission_of_is_exact_per_user_kind_and_key,
    grants_of_user_are_ordered_by_kind_then_key,
    racing_creations_of_one_username_let_exactly_one_win with super::race_pool(),
    racing_creations_of_one_grant_let_exactly_one_win with super::race_pool(),
    migrations_are_idempotent,
    data_persists_across_reopening,
    passwords_are_stored_as_argon2id_hashes,
    unreadable_rows_are_unavailable,
    the_backend_is_the_one_the_url_names,
    deleting_a_resource_drops_every_grant_on_it,
    renaming_a_model_moves_its_grants_and_replaces_leftovers,
    resolving_many_keys_answers_like_resolving_each,
    roles_are_created_read_listed_updated_and_deleted,
    role_permissions_are_added_listed_updated_and_removed,
    roles_are_assigned_and_unassigned,
    per_user_permissions_are_granted_revoked_and_read,
    permission_rows_list_every_row_of_every_role_of_a_user,
    grants_made_through_3_10_are_visible_through_3_17,
    grants_made_through_3_17_are_visible_through_3_10,
    resolution_combines_rows_of_every_role_as_mlflow_does,
    cascades_touch_synthetic_rows_only,
    deleting_a_user_deletes_their_synthetic_roles_and_assignments,
    jobs_belong_to_their_first_recorded_submitter,
    sessions_open_expire_list_and_end,
    a_pending_login_is_taken_once_before_it_expires,
    provider_identities_link_once_and_go_with_their_account,
    provider_roles_come_and_go_without_touching_an_admins_assignments,
    racing_first_grants_make_one_synthetic_role with super::race_pool(),
    racing_role_writes_let_exactly_one_win with super::race_pool(),
}

// ---------------------------------------------------------------------------
// Backend-specific and connection behaviour

#[test]
fn sqlite_file_databases_use_wal() {
    let db = Db::sqlite();
    create(&db.store, "alice");
    assert_eq!(
        db.raw_text("SELECT journal_mode AS v FROM pragma_journal_mode()"),
        "wal"
    );
    let Place::Sqlite { path, .. } = &db.place else {
        unreachable!("sqlite fixture")
    };
    assert!(path.exists());
}

#[test]
fn sqlite_in_memory_databases_work_with_one_connection() {
    for url in ["sqlite::memory:", "sqlite://:memory:"] {
        let store = Store::connect(url, PoolOptions::default()).expect("connect");
        assert!(!store.run_migrations().expect("migrate").is_empty());
        let alice = create(&store, "alice");
        // Every call sees the same database.
        assert_eq!(store.get_user(&name("alice")), Ok(alice));
        assert_eq!(store.count_users(), Ok(1));
    }
}

#[test]
fn sqlite_colon_and_slashes_forms_name_the_same_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("x.db");
    let store = Store::connect(&format!("sqlite:{}", path.display()), small_pool())
        .expect("connect sqlite:PATH");
    store.run_migrations().expect("migrate");
    create(&store, "alice");
    drop(store);
    let store = Store::connect(&format!("sqlite://{}", path.display()), small_pool())
        .expect("connect sqlite://PATH");
    assert_eq!(store.count_users(), Ok(1));
}

#[test]
fn unsupported_urls_are_refused() {
    for url in ["mysql://root:hunter2@localhost/db", "mlguard.db", ""] {
        let err = Store::connect(url, PoolOptions::default()).expect_err(url);
        assert!(
            matches!(err, StorageError::UnsupportedUrl { .. }),
            "{url}: {err}"
        );
        assert!(!err.to_string().contains("hunter2"));
    }
}

#[test]
fn connection_errors_never_show_the_password() {
    // Nothing listens on port 1.
    let err = Store::connect(
        "postgres://postgres:hunter2@127.0.0.1:1/db?password=hunter3",
        PoolOptions::default(),
    )
    .expect_err("port 1 is closed");
    let text = err.to_string();
    assert!(matches!(err, StorageError::Connect { .. }), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("hunter3"),
        "{text}"
    );
    assert!(text.contains("postgres:***@127.0.0.1:1"), "{text}");
}

#[test]
fn a_pool_of_zero_is_refused() {
    let err = Store::connect(
        "sqlite::memory:",
        PoolOptions {
            max_size: 0,
            ..PoolOptions::default()
        },
    )
    .expect_err("max_size 0");
    assert!(matches!(err, StorageError::InvalidOptions(_)), "{err}");
}

#[test]
fn postgres_test_url_rewriting() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
