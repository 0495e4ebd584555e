//! The `SecretStore` contract, written once and run on SQLite and on PostgreSQL,
//! with the real envelope cipher: bindings, routes, grants, grant-aware listing,
//! the audit trail, encryption at rest, and KEK rotation (thousands of secrets, a
//! wrong KEK, an interrupted run).
//!
//! PostgreSQL: `MLGUARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) must be reachable; each test creates
//! and drops its own database. An unreachable server fails the tests.

use std::collections::BTreeSet;
use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use mlguard_crypto::{Envelope, LocalKeyring};
use mlguard_domain::secrets::{
    AdminBypass, BindingKey, CryptoError, Label, NewRoute, NewSecret, RotationError, RouteId,
    SealedValue, SecretCipher, SecretCursor, SecretId, SecretName, SecretOperation, SecretStore,
    SecretStoreError, SecretValue, SecretVisibility, rotate_kek, visibility,
};
use mlguard_domain::{Password, Permission, Principal, User, UserStore, Username};
use mlguard_storage::{PoolOptions, Store};

mod support;

use support::PgDatabase;

/// Test KEKs: base64 of 32 bytes each.
const KEK_A: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";
const KEK_B: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";
const KEK_C: &str = "Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M=";

// ---------------------------------------------------------------------------
// Fixtures

/// A fresh, migrated store on its own database, removed when dropped.
struct Db {
    store: Store,
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
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mlguard.db");
        let store = open_migrated(&format!("sqlite://{}", path.display()));
        Db {
            store,
            place: Place::Sqlite { _dir: dir, path },
        }
    }

    fn postgres() -> Db {
        let database = PgDatabase::create("mlguard_secrets_test");
        let store = open_migrated(&database.url);
        Db {
            store,
            place: Place::Postgres(database),
        }
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

    /// `SELECT COUNT(*) AS n FROM ...`, read straight from the database.
    fn raw_count(&self, from_where: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let sql = format!("SELECT COUNT(*) AS n FROM {from_where}");
        let count: Count = match &self.place {
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
        .expect("raw count");
        count.n
    }

    /// Every byte the database holds for the secret tables, as raw as SQL gives it.
    fn raw_secret_bytes(&self) -> Vec<u8> {
        match &self.place {
            Place::Sqlite { path, .. } => {
                // The whole file, WAL included: nothing may hold the cleartext.
                let mut bytes = std::fs::read(path).expect("db file");
                let wal = path.with_extension("db-wal");
                bytes.extend(std::fs::read(wal).unwrap_or_default());
                bytes
            }
            Place::Postgres(db) => {
                #[derive(QueryableByName)]
                struct Dump {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    dump: String,
                }
                let mut conn = PgConnection::establish(&db.url).expect("raw pg connection");
                let rows: Vec<Dump> = diesel::sql_query(
                    "SELECT encode(ciphertext, 'escape') || encode(wrapped_key, 'escape') \
                     || kek_id AS dump FROM secret_values \
                     UNION ALL SELECT row_to_json(s)::text FROM secrets s \
                     UNION ALL SELECT row_to_json(a)::text FROM secret_audit a",
                )
                .load(&mut conn)
                .expect("dump");
                rows.into_iter().flat_map(|r| r.dump.into_bytes()).collect()
            }
        }
    }
}

fn open_migrated(url: &str) -> Store {
    let store = Store::connect(
        url,
        PoolOptions {
            max_size: 4,
            ..PoolOptions::default()
        },
    )
    .expect("connect");
    store.run_migrations().expect("migrate");
    store
}

// ---------------------------------------------------------------------------
// Helpers

fn name(raw: &str) -> Username {
    Username::parse(raw).expect("valid username")
}

fn user(store: &Store, raw: &str, is_admin: bool) -> User {
    store
        .create_user(
            &name(raw),
            &Password::new("a long enough password").expect("password"),
            is_admin,
        )
        .expect("create user")
}

fn principal(user: &User) -> Principal {
    Principal::from(user.clone())
}

fn cipher(current: &str, previous: &[&str]) -> Envelope<LocalKeyring> {
    Envelope::new(LocalKeyring::from_base64(current, previous).expect("valid keys"))
}

fn fresh_id() -> SecretId {
    SecretId::from_random(rand::random())
}

fn key(resource_id: &str) -> BindingKey {
    BindingKey::parse("scorer_job", resource_id, "api_key").expect("valid key")
}

fn new_secret(id: &SecretId, created_by: &str) -> NewSecret {
    NewSecret {
        id: id.clone(),
        name: SecretName::parse("openai key").expect("valid name"),
        provider: Some(Label::provider("openai").expect("valid provider")),
        description: None,
        created_by: name(created_by),
    }
}

/// Creates a secret sealed by `cipher`, bound at `resource_id`; the creator gets
/// MANAGE when `grant` is set.
fn create(
    store: &Store,
    cipher: &dyn SecretCipher,
    creator: &str,
    resource_id: &str,
    value: &str,
    grant: bool,
) -> SecretId {
    let id = fresh_id();
    let sealed = cipher
        .seal(&id, &SecretValue::new(value).expect("valid value"))
        .expect("seal");
    let creator_name = name(creator);
    store
        .create_secret(
            &new_secret(&id, creator),
            &sealed,
            &key(resource_id),
            grant.then_some((&creator_name, Permission::Manage)),
        )
        .expect("create secret");
    id
}

fn opened(store: &Store, cipher: &dyn SecretCipher, id: &SecretId) -> Result<String, CryptoError> {
    let sealed = store.sealed_value(id).expect("sealed value");
    cipher.open(id, &sealed).map(|v| v.expose().to_owned())
}

/// Every id `visibility` lets through, read page by page; asserts full pages.
fn list_all(store: &Store, shown: &SecretVisibility, page: usize) -> Vec<SecretId> {
    let mut ids = Vec::new();
    let mut cursor: Option<SecretCursor> = None;
    loop {
        let rows = store
            .list_secrets(shown, cursor.as_ref(), page)
            .expect("list");
        ids.extend(rows.iter().map(|r| r.info.id.clone()));
        if rows.len() < page {
            return ids;
        }
        let last = rows.last().expect("a full page").info.clone();
        cursor = Some(SecretCursor {
            created_at: last.created_at,
            secret_id: last.id,
        });
    }
}

// ---------------------------------------------------------------------------
// The contract

fn a_secret_is_created_with_its_binding_and_creator_grant(db: Db) {
    let store = &db.store;
    let alice = user(store, "alice", false);
    let cipher = cipher(KEK_A, &[]);
    let id = create(store, &cipher, "alice", "job-1", "sk-live-1", true);

    let info = store.secret_info(&id).expect("info");
    assert_eq!(info.id, id);
    assert_eq!(info.name.as_str(), "openai key");
    assert_eq!(info.provider.as_ref().map(Label::as_str), Some("openai"));
    assert_eq!(info.description, None);
    assert_eq!(info.created_by, name("alice"));
    assert_eq!(info.created_at, info.updated_at);

    let bindings = store.bindings_of(&id).expect("bindings");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].key, key("job-1"));
    assert_eq!(bindings[0].created_by, name("alice"));
    assert_eq!(store.binding(&key("job-1")).expect("binding"), bindings[0]);

    assert_eq!(
        store.secret_permission_of(alice.id, &id).expect("grant"),
        Some(Permission::Manage)
    );
    assert_eq!(opened(store, &cipher, &id).expect("opens"), "sk-live-1");

    // Without a creator grant (an admin creating), nobody holds one.
    let admin = user(store, "root", true);
    let by_admin = create(store, &cipher, "root", "job-2", "v", false);
    assert_eq!(
        store
            .secret_permission_of(admin.id, &by_admin)
            .expect("grant"),
        None
    );

    let unknown = fresh_id();
    assert_eq!(
        store.secret_info(&unknown),
        Err(SecretStoreError::SecretNotFound(unknown.clone()))
    );
    assert_eq!(
        store.sealed_value(&unknown).map(|_| ()),
        Err(SecretStoreError::SecretNotFound(unknown.clone()))
    );
    assert_eq!(
        store.bindings_of(&unknown),
        Err(SecretStoreError::SecretNotFound(unknown))
    );
}

fn creating_on_a_taken_key_creates_nothing(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let cipher = cipher(KEK_A, &[]);
    let first = create(store, &cipher, "alice", "job-1", "v1", true);

    let id = fresh_id();
    let sealed = cipher
        .seal(&id, &SecretValue::new("v2").expect("value"))
        .expect("seal");
    let alice = name("alice");
    let err = store
        .create_secret(
            &new_secret(&id, "alice"),
            &sealed,
            &key("job-1"),
            Some((&alice, Permission::Manage)),
        )
        .expect_err("key taken");
    assert_eq!(err, SecretStoreError::BindingAlreadyExists(key("job-1")));
    assert_eq!(
        store.secret_info(&id),
        Err(SecretStoreError::SecretNotFound(id.clone()))
    );
    assert_eq!(db.raw_count("secrets"), 1);
    assert_eq!(db.raw_count("secret_values"), 1);
    assert_eq!(db.raw_count("secret_grants"), 1);
    assert_eq!(store.binding(&key("job-1")).expect("kept").secret_id, first);

    // A creator grant for a user who is gone: nothing is created either.
    let ghost = name("ghost");
    let err = store
        .create_secret(
            &new_secret(&fresh_id(), "ghost"),
            &sealed,
            &key("job-9"),
            Some((&ghost, Permission::Manage)),
        )
        .expect_err("no such user");
    assert_eq!(err, SecretStoreError::UserNotFound(ghost));
    assert_eq!(db.raw_count("secrets"), 1);
}

fn bindings_follow_the_contract(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let cipher = cipher(KEK_A, &[]);
    let a = create(store, &cipher, "alice", "job-a", "va", true);
    let b = create(store, &cipher, "alice", "job-b", "vb", true);
    let bob = name("bob");

    let bound = store.bind(&a, &key("job-2"), &bob).expect("bind");
    assert_eq!(
        (bound.secret_id.clone(), bound.key.clone()),
        (a.clone(), key("job-2"))
    );
    assert_eq!(bound.created_by, bob);

    // The key holds one secret, whichever secret asks.
    assert_eq!(
        store.bind(&b, &key("job-2"), &bob),
        Err(SecretStoreError::BindingAlreadyExists(key("job-2")))
    );
    assert_eq!(
        store.bind(&a, &key("job-2"), &bob),
        Err(SecretStoreError::BindingAlreadyExists(key("job-2")))
    );
    // An unknown secret is reported before a taken key.
    let unknown = fresh_id();
    assert_eq!(
        store.bind(&unknown, &key("job-2"), &bob),
        Err(SecretStoreError::SecretNotFound(unknown))
    );

    // Unbinding checks the secret the caller was authorized against.
    assert_eq!(
        store.unbind(&key("job-2"), &b),
        Err(SecretStoreError::BindingNotFound(key("job-2")))
    );
    store.unbind(&key("job-2"), &a).expect("unbind");
    assert_eq!(
        store.binding(&key("job-2")),
        Err(SecretStoreError::BindingNotFound(key("job-2")))
    );
    assert_eq!(
        store.unbind(&key("job-2"), &a),
        Err(SecretStoreError::BindingNotFound(key("job-2")))
    );
    // Free again: another secret may take it.
    store.bind(&b, &key("job-2"), &bob).expect("rebind");

    // Keys differ in any part.
    for other in [
        BindingKey::parse("scorer_job", "job-2", "other_field").expect("key"),
        BindingKey::parse("judge", "job-2", "api_key").expect("key"),
    ] {
        store.bind(&a, &other, &bob).expect("distinct key");
    }
    let listed: Vec<BindingKey> = store
        .bindings_of(&a)
        .expect("bindings")
        .into_iter()
        .map(|b| b.key)
        .collect();
    assert_eq!(listed.len(), 3);
    assert!(listed.contains(&key("job-a")));
}

fn routes_are_created_with_their_binding(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let cipher = cipher(KEK_A, &[]);
    let id = create(store, &cipher, "alice", "job-1", "v", true);
    let route = NewRoute {
        id: RouteId::from_random(rand::random()),
        name: Label::route_field("name", "chat").expect("name"),
        provider: Label::provider("openai").expect("provider"),
        model_name: Label::route_field("model_name", "gpt-4o").expect("model"),
        secret_id: id.clone(),
        created_by: name("bob"),
    };
    let (created, binding) = store
        .create_route_and_bind(&route, "api_key")
        .expect("route");
    assert_eq!(created.id, route.id);
    assert_eq!(created.model_name.as_str(), "gpt-4o");
    assert_eq!(
        binding.key,
        BindingKey::for_route(&route.id, "api_key").expect("key")
    );
    assert_eq!(binding.secret_id, id);
    assert_eq!(store.bindings_of(&id).expect("bindings").len(), 2);

    let orphan = NewRoute {
        id: RouteId::from_random(rand::random()),
        secret_id: fresh_id(),
        ..route
    };
    assert_eq!(
        store.create_route_and_bind(&orphan, "api_key").map(|_| ()),
        Err(SecretStoreError::SecretNotFound(orphan.secret_id.clone()))
    );
    assert_eq!(db.raw_count("secret_routes"), 1);
}

fn secret_grants_follow_the_contract(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let bob = user(store, "bob", false);
    let cipher = cipher(KEK_A, &[]);
    let id = create(store, &cipher, "alice", "job-1", "v", true);
    let unknown = fresh_id();

    let grant = store
        .create_secret_grant(&id, &name("bob"), Permission::Edit)
        .expect("grant");
    assert_eq!(
        (grant.user_id, grant.username.clone(), grant.permission),
        (bob.id, name("bob"), Permission::Edit)
    );
    assert_eq!(
        store.get_secret_grant(&id, &name("bob")).expect("get"),
        grant
    );
    assert_eq!(
        store.create_secret_grant(&id, &name("bob"), Permission::Read),
        Err(SecretStoreError::GrantAlreadyExists {
            secret_id: id.clone(),
            username: name("bob")
        })
    );
    store
        .update_secret_grant(&id, &name("bob"), Permission::NoPermissions)
        .expect("update");
    assert_eq!(
        store.secret_permission_of(bob.id, &id).expect("lookup"),
        Some(Permission::NoPermissions)
    );
    store
        .delete_secret_grant(&id, &name("bob"))
        .expect("delete");
    assert_eq!(
        store.secret_permission_of(bob.id, &id).expect("lookup"),
        None
    );

    // Order: secret, then user, then grant.
    let not_found = SecretStoreError::GrantNotFound {
        secret_id: id.clone(),
        username: name("bob"),
    };
    assert_eq!(
        store.get_secret_grant(&id, &name("bob")),
        Err(not_found.clone())
    );
    assert_eq!(
        store.update_secret_grant(&id, &name("bob"), Permission::Read),
        Err(not_found.clone())
    );
    assert_eq!(store.delete_secret_grant(&id, &name("bob")), Err(not_found));
    assert_eq!(
        store.create_secret_grant(&id, &name("nobody"), Permission::Read),
        Err(SecretStoreError::UserNotFound(name("nobody")))
    );
    assert_eq!(
        store.create_secret_grant(&unknown, &name("nobody"), Permission::Read),
        Err(SecretStoreError::SecretNotFound(unknown.clone()))
    );
    assert_eq!(
        store.get_secret_grant(&unknown, &name("bob")),
        Err(SecretStoreError::SecretNotFound(unknown.clone()))
    );
    assert_eq!(
        store.delete_secret_grant(&unknown, &name("bob")),
        Err(SecretStoreError::SecretNotFound(unknown))
    );
}

fn deleting_a_secret_takes_everything_but_the_audit_trail(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    user(store, "bob", false);
    let cipher = cipher(KEK_A, &[]);
    let id = create(store, &cipher, "alice", "job-1", "v", true);
    let keep = create(store, &cipher, "alice", "job-keep", "v", true);
    store.bind(&id, &key("job-2"), &name("bob")).expect("bind");
    store
        .create_secret_grant(&id, &name("bob"), Permission::Read)
        .expect("grant");
    let route = NewRoute {
        id: RouteId::from_random(rand::random()),
        name: Label::route_field("name", "r").expect("name"),
        provider: Label::provider("p").expect("provider"),
        model_name: Label::route_field("model_name", "m").expect("model"),
        secret_id: id.clone(),
        created_by: name("bob"),
    };
    store
        .create_route_and_bind(&route, "api_key")
        .expect("route");
    store
        .record_admin_bypasses(&[AdminBypass {
            actor: name("alice"),
            operation: SecretOperation::Delete,
            secret_id: Some(id.clone()),
        }])
        .expect("audit");

    store.delete_secret(&id).expect("delete");
    let of = |table: &str| db.raw_count(&format!("{table} WHERE secret_id = '{id}'"));
    for table in [
        "secret_values",
        "secret_bindings",
        "secret_grants",
        "secret_routes",
    ] {
        assert_eq!(of(table), 0, "{table} kept rows of a deleted secret");
    }
    assert_eq!(of("secret_audit"), 1, "the audit trail outlives the secret");
    assert_eq!(
        store.delete_secret(&id),
        Err(SecretStoreError::SecretNotFound(id.clone()))
    );
    // The other secret is untouched.
    assert_eq!(store.bindings_of(&keep).expect("kept").len(), 1);
    assert_eq!(opened(store, &cipher, &keep).expect("opens"), "v");
}

fn deleting_a_user_drops_their_grants_but_not_their_bindings(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    user(store, "bob", false);
    let cipher = cipher(KEK_A, &[]);
    let id = create(store, &cipher, "alice", "job-1", "v", true);
    store
        .create_secret_grant(&id, &name("bob"), Permission::Edit)
        .expect("grant");
    store
        .bind(&id, &key("bobs-job"), &name("bob"))
        .expect("bind");

    store.delete_user(&name("bob")).expect("delete bob");
    assert_eq!(
        db.raw_count("secret_grants"),
        1,
        "only alice's grant is left"
    );
    assert_eq!(
        store
            .binding(&key("bobs-job"))
            .expect("binding stays")
            .created_by,
        name("bob")
    );
    // A new namesake inherits nothing.
    let new_bob = user(store, "bob", false);
    assert_eq!(
        store.secret_permission_of(new_bob.id, &id).expect("lookup"),
        None
    );
}

fn listing_filters_in_the_query_and_pages_are_full(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let carol = user(store, "carol", false);
    let admin = user(store, "root", true);
    let cipher = cipher(KEK_A, &[]);
    // 23 secrets: carol holds READ on every third, NO_PERMISSIONS on every fifth
    // (where both apply, NO_PERMISSIONS is what she holds).
    let mut granted = BTreeSet::new();
    let mut denied = BTreeSet::new();
    let mut all = Vec::new();
    for i in 0..23 {
        let id = create(store, &cipher, "alice", &format!("job-{i}"), "v", true);
        if i % 5 == 0 {
            store
                .create_secret_grant(&id, &name("carol"), Permission::NoPermissions)
                .expect("deny");
            denied.insert(id.clone());
        } else if i % 3 == 0 {
            store
                .create_secret_grant(&id, &name("carol"), Permission::Read)
                .expect("grant");
            granted.insert(id.clone());
        }
        all.push(id);
    }
    let as_set = |ids: Vec<SecretId>| ids.into_iter().collect::<BTreeSet<_>>();

    // Default NO_PERMISSIONS: exactly the READ grants.
    let shown = visibility(&principal(&carol), Permission::NoPermissions);
    for page in [1, 4, 5, 100] {
        assert_eq!(
            as_set(list_all(store, &shown, page)),
            granted,
            "page {page}"
        );
    }
    // Default READ: everything but the explicit denials.
    let shown = visibility(&principal(&carol), Permission::Read);
    let expected: BTreeSet<SecretId> = all
        .iter()
        .filter(|id| !denied.contains(*id))
        .cloned()
        .collect();
    assert_eq!(as_set(list_all(store, &shown, 4)), expected);
    // Admins see everything, in (created_at, id) order, with their own grants.
    let shown = visibility(&principal(&admin), Permission::NoPermissions);
    let listed = list_all(store, &shown, 7);
    assert_eq!(listed.len(), 23);
    assert_eq!(as_set(listed.clone()), as_set(all.clone()));
    let rows = store.list_secrets(&shown, None, 100).expect("list");
    let order: Vec<(i64, SecretId)> = rows
        .iter()
        .map(|r| (r.info.created_at, r.info.id.clone()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert!(rows.iter().all(|r| r.explicit.is_none()));
    // The caller's grant rides along.
    let rows = store
        .list_secrets(&visibility(&principal(&carol), Permission::Read), None, 100)
        .expect("list");
    for row in rows {
        let expected = granted.contains(&row.info.id).then_some(Permission::Read);
        assert_eq!(row.explicit, expected);
    }
}

fn replacing_a_value_reseals_it_and_bumps_updated_at(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let cipher = cipher(KEK_A, &[]);
    let id = create(store, &cipher, "alice", "job-1", "old value", true);
    let before = store.sealed_value(&id).expect("sealed");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let sealed = cipher
        .seal(&id, &SecretValue::new("new value").expect("value"))
        .expect("seal");
    let info = store.replace_value(&id, &sealed).expect("replace");
    assert!(info.updated_at > info.created_at);
    assert_ne!(store.sealed_value(&id).expect("sealed"), before);
    assert_eq!(opened(store, &cipher, &id).expect("opens"), "new value");
    let unknown = fresh_id();
    assert_eq!(
        store.replace_value(&unknown, &sealed).map(|_| ()),
        Err(SecretStoreError::SecretNotFound(unknown))
    );
}

fn values_are_encrypted_at_rest(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let cipher = cipher(KEK_A, &[]);
    let plaintext = "sk-plaintext-canary-6f1d2e";
    let id = create(store, &cipher, "alice", "job-1", plaintext, true);
    store
        .record_admin_bypasses(&[AdminBypass {
            actor: name("alice"),
            operation: SecretOperation::ViewInfo,
            secret_id: Some(id.clone()),
        }])
        .expect("audit");
    let bytes = db.raw_secret_bytes();
    assert!(!bytes.is_empty());
    assert!(
        !bytes
            .windows(plaintext.len())
            .any(|w| w == plaintext.as_bytes()),
        "the plaintext is stored somewhere"
    );
    assert_eq!(opened(store, &cipher, &id).expect("opens"), plaintext);
}

fn the_audit_trail_is_newest_first_and_filterable(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let cipher = cipher(KEK_A, &[]);
    let a = create(store, &cipher, "alice", "job-a", "v", true);
    let b = create(store, &cipher, "alice", "job-b", "v", true);
    let entry = |op, id: &SecretId| AdminBypass {
        actor: name("root"),
        operation: op,
        secret_id: Some(id.clone()),
    };
    store
        .record_admin_bypasses(&[
            entry(SecretOperation::ViewInfo, &a),
            entry(SecretOperation::List, &b),
        ])
        .expect("record");
    store
        .record_admin_bypasses(&[entry(SecretOperation::UpdateValue, &a)])
        .expect("record");
    store.record_admin_bypasses(&[]).expect("nothing to record");

    let all = store.audit_trail(None, None, 10).expect("trail");
    let ops: Vec<SecretOperation> = all.iter().map(|r| r.operation).collect();
    assert_eq!(
        ops,
        [
            SecretOperation::UpdateValue,
            SecretOperation::List,
            SecretOperation::ViewInfo
        ]
    );
    assert!(all.iter().all(|r| r.actor == name("root") && r.at > 0));
    let of_a = store.audit_trail(Some(&a), None, 10).expect("trail");
    assert_eq!(of_a.len(), 2);
    assert!(of_a.iter().all(|r| r.secret_id.as_ref() == Some(&a)));
    let older = store.audit_trail(None, Some(all[0].id), 1).expect("page");
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].id, all[1].id);
}

fn rotation_rewraps_thousands_of_keys_without_touching_values(db: Db) {
    const SECRETS: usize = 2000;
    let store = &db.store;
    user(store, "alice", false);
    let old = cipher(KEK_A, &[]);
    let ids: Vec<SecretId> = (0..SECRETS)
        .map(|i| {
            create(
                store,
                &old,
                "alice",
                &format!("job-{i}"),
                &format!("value-{i}"),
                false,
            )
        })
        .collect();
    let before: Vec<SealedValue> = ids
        .iter()
        .map(|id| store.sealed_value(id).expect("sealed"))
        .collect();

    let rotating = cipher(KEK_B, &[KEK_A]);
    let report = rotate_kek(store, &rotating, 300, |_| true).expect("rotation");
    assert!(report.finished);
    assert_eq!(report.rewrapped, SECRETS as u64);
    assert_eq!(report.changed_meanwhile, 0);
    let usage = store.kek_usage().expect("usage");
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (usage[0].kek_id.clone(), usage[0].values),
        (rotating.current_kek(), SECRETS as u64)
    );

    // The new KEK alone reads every value; ciphertexts are byte for byte the same.
    let new_only = cipher(KEK_B, &[]);
    for (i, (id, old_sealed)) in ids.iter().zip(&before).enumerate() {
        let sealed = store.sealed_value(id).expect("sealed");
        assert_eq!(
            sealed.ciphertext, old_sealed.ciphertext,
            "value {i} was rewritten"
        );
        assert_ne!(sealed.wrapped_key, old_sealed.wrapped_key);
        assert_eq!(
            new_only.open(id, &sealed).expect("opens").expose(),
            format!("value-{i}")
        );
    }
    // The old KEK alone reads nothing now, and says why.
    assert_eq!(
        opened(store, &old, &ids[0]),
        Err(CryptoError::UnknownKek(rotating.current_kek()))
    );
    // A second run has nothing to do.
    let again = rotate_kek(store, &rotating, 300, |_| true).expect("rotation");
    assert_eq!((again.rewrapped, again.finished), (0, true));
}

fn an_interrupted_rotation_leaves_everything_readable_and_resumes(db: Db) {
    const SECRETS: usize = 120;
    let store = &db.store;
    user(store, "alice", false);
    let old = cipher(KEK_A, &[]);
    let ids: Vec<SecretId> = (0..SECRETS)
        .map(|i| {
            create(
                store,
                &old,
                "alice",
                &format!("job-{i}"),
                &format!("value-{i}"),
                false,
            )
        })
        .collect();
    let rotating = cipher(KEK_B, &[KEK_A]);

    // Stop after 45 rows, as a Ctrl-C between two rows would.
    let report = rotate_kek(store, &rotating, 16, |r| r.rewrapped < 45).expect("partial");
    assert_eq!((report.rewrapped, report.finished), (45, false));
    let usage = store.kek_usage().expect("usage");
    let under = |cipher: &dyn SecretCipher| {
        usage
            .iter()
            .find(|u| u.kek_id == cipher.current_kek())
            .map_or(0, |u| u.values)
    };
    assert_eq!((under(&rotating), under(&old)), (45, (SECRETS - 45) as u64));

    // Mid-way, every value is readable with both KEKs configured; the new one
    // alone refuses the rest clearly, never with garbage.
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            opened(store, &rotating, id).expect("opens"),
            format!("value-{i}")
        );
    }
    let new_only = cipher(KEK_B, &[]);
    let refused = ids
        .iter()
        .filter(|id| {
            matches!(
                opened(store, &new_only, id),
                Err(CryptoError::UnknownKek(_))
            )
        })
        .count();
    assert_eq!(refused, SECRETS - 45);

    // A value updated mid-rotation is sealed under the new KEK and skipped.
    let updated = store
        .list_secrets(&SecretVisibility::All { user_id: 0 }, None, SECRETS)
        .expect("list")
        .into_iter()
        .map(|r| r.info.id)
        .find(|id| store.sealed_value(id).expect("sealed").wrapped_key.kek_id == old.current_kek())
        .expect("one left under the old KEK");
    let resealed = rotating
        .seal(&updated, &SecretValue::new("updated").expect("value"))
        .expect("seal");
    store.replace_value(&updated, &resealed).expect("update");

    let rest = rotate_kek(store, &rotating, 16, |_| true).expect("resume");
    assert!(rest.finished);
    assert_eq!(rest.rewrapped, (SECRETS - 45 - 1) as u64);
    for id in &ids {
        let value = opened(store, &new_only, id).expect("readable with the new KEK alone");
        assert!(value.starts_with("value-") || (id == &updated && value == "updated"));
    }
}

fn a_wrong_kek_is_detected_and_rotation_stops_on_it(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let right = cipher(KEK_A, &[]);
    let ids: Vec<SecretId> = (0..5)
        .map(|i| create(store, &right, "alice", &format!("job-{i}"), "v", false))
        .collect();

    // A different KEK: the stored id tells it apart at once.
    let wrong = cipher(KEK_C, &[]);
    assert_eq!(
        opened(store, &wrong, &ids[0]),
        Err(CryptoError::UnknownKek(right.current_kek()))
    );
    // Rotating without the old KEK configured changes nothing and names the row.
    let err = rotate_kek(store, &cipher(KEK_B, &[KEK_C]), 10, |_| true).expect_err("wrong KEK");
    assert!(
        matches!(
            &err,
            RotationError::Crypto {
                source: CryptoError::UnknownKek(_),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.kek_usage().expect("usage")[0].values, 5);

    // A row relabelled with the wrong KEK's id: the AEAD tag catches it.
    db.raw_execute(&format!(
        "UPDATE secret_values SET kek_id = '{}' WHERE secret_id = '{}'",
        wrong.current_kek(),
        ids[0]
    ));
    let err = opened(store, &wrong, &ids[0]).expect_err("not authentic");
    assert!(matches!(err, CryptoError::NotAuthentic { .. }), "{err}");
    assert!(err.to_string().contains("wrong key or altered data"));
}

fn a_stale_rewrap_is_not_applied(db: Db) {
    let store = &db.store;
    user(store, "alice", false);
    let old = cipher(KEK_A, &[]);
    let id = create(store, &old, "alice", "job-1", "v", false);
    let stale = store.sealed_value(&id).expect("sealed").wrapped_key;
    let rotating = cipher(KEK_B, &[KEK_A]);
    let replacement = rotating.rewrap(&id, &stale).expect("rewrap");
    // The value changes before the swap lands.
    let resealed = rotating
        .seal(&id, &SecretValue::new("new").expect("value"))
        .expect("seal");
    store.replace_value(&id, &resealed).expect("update");
    assert!(
        !store
            .replace_wrapped_key(&id, &stale, &replacement)
            .expect("cas")
    );
    assert_eq!(opened(store, &rotating, &id).expect("opens"), "new");
    assert!(
        !store
            .replace_wrapped_key(&fresh_id(), &stale, &replacement)
            .expect("cas")
    );
}

/// Writers racing on one secret all succeed: each transaction reads (the secret
/// exists) before it writes, and on SQLite such a transaction must not fail with
/// "database is locked" when another writer commits in between.
fn concurrent_binds_and_routes_all_land(db: Db) {
    const WRITERS: usize = 4;
    const EACH: usize = 15;
    let store = &db.store;
    user(store, "alice", false);
    let cipher = cipher(KEK_A, &[]);
    let id = create(store, &cipher, "alice", "first", "sk-live-1", false);

    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            let id = &id;
            scope.spawn(move || {
                for n in 0..EACH {
                    store
                        .bind(id, &key(&format!("w{writer}-{n}")), &name("alice"))
                        .expect("bind under contention");
                    let route = NewRoute {
                        id: RouteId::from_random(rand::random()),
                        name: Label::route_field("name", "r").expect("valid"),
                        provider: Label::provider("openai").expect("valid"),
                        model_name: Label::route_field("model_name", "gpt").expect("valid"),
                        secret_id: id.clone(),
                        created_by: name("alice"),
                    };
                    store
                        .create_route_and_bind(&route, "api_key")
                        .expect("route under contention");
                }
            });
        }
    });

    let bindings = store.bindings_of(&id).expect("bindings");
    assert_eq!(bindings.len(), 1 + 2 * WRITERS * EACH);
}

/// Instantiates every contract test once per backend.
macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    super::$test(super::Db::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    super::$test(super::Db::postgres());
                }
            )*
        }
    };
}

contract! {
    a_secret_is_created_with_its_binding_and_creator_grant,
    creating_on_a_taken_key_creates_nothing,
    bindings_follow_the_contract,
    routes_are_created_with_their_binding,
    secret_grants_follow_the_contract,
    deleting_a_secret_takes_everything_but_the_audit_trail,
    deleting_a_user_drops_their_grants_but_not_their_bindings,
    listing_filters_in_the_query_and_pages_are_full,
    replacing_a_value_reseals_it_and_bumps_updated_at,
    values_are_encrypted_at_rest,
    the_audit_trail_is_newest_first_and_filterable,
    rotation_rewraps_thousands_of_keys_without_touching_values,
    an_interrupted_rotation_leaves_everything_readable_and_resumes,
    a_wrong_kek_is_detected_and_rotation_stops_on_it,
    a_stale_rewrap_is_not_applied,
    concurrent_binds_and_routes_all_land,
}
