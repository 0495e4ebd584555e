//! The storage contract (every MUST of `UserStore`, `GrantStore` and `RoleStore`),
//! written once and run on SQLite and on PostgreSQL.
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
    CredentialCheck, ExperimentId, Grant, GrantKey, GrantStore, ModelName, Password, Permission,
    Resolution, Resource, StoreError, User, UserStore, Username,
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
