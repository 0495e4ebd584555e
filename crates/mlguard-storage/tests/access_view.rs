//! The in-process authorization view over a real store, on SQLite and on
//! PostgreSQL: after every write of this process it answers exactly what the store
//! answers, without waiting; writes of another process reach it within the feed's
//! bound; a lost change feed makes it read through, never answer stale.
//!
//! PostgreSQL as in `contract.rs` (`MLGUARD_TEST_POSTGRES_URL`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mlguard_domain::{
    AccessSnapshot, ExperimentId, GrantKey, GrantRule, GrantStore, ModelName, Password, Permission,
    Resource, ResourcePattern, ResourceType, RoleName, RoleStore, SessionStore, TokenStore,
    UserStore, Username, Workspace,
};
use mlguard_storage::{FeedSettings, PoolOptions, Store};
use mlguard_view::AccessView;

mod support;

use support::PgDatabase;

/// Kept only to be dropped after the store: removes the database.
enum Place {
    Sqlite(#[expect(dead_code)] tempfile::TempDir),
    Postgres(#[expect(dead_code)] PgDatabase),
}

struct Db {
    store: Store,
    url: String,
    _place: Place,
}

fn pool() -> PoolOptions {
    PoolOptions {
        max_size: 4,
        ..PoolOptions::default()
    }
}

fn sqlite() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("mlguard.db").display());
    let store = Store::connect(&url, pool()).expect("connect");
    store.run_migrations().expect("migrate");
    Db {
        store,
        url,
        _place: Place::Sqlite(dir),
    }
}

fn postgres() -> Db {
    let database = PgDatabase::create("mlguard_view");
    let url = database.url.clone();
    let store = Store::connect(&url, pool()).expect("connect");
    store.run_migrations().expect("migrate");
    Db {
        store,
        url,
        _place: Place::Postgres(database),
    }
}

fn settings() -> FeedSettings {
    FeedSettings {
        heartbeat: Duration::from_millis(100),
        lease: Duration::from_millis(400),
        ..FeedSettings::default()
    }
}

fn follow(store: &Store) -> Arc<AccessView> {
    let view = Arc::new(AccessView::new(Arc::new(store.clone())));
    store
        .follow_access_changes(view.clone(), settings())
        .expect("follow");
    wait_until("the view is trusted", || view.is_trusted());
    view
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: not within 10 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    start.elapsed()
}

fn name(raw: &str) -> Username {
    Username::parse(raw).expect("name")
}

fn password() -> Password {
    Password::new("a-long-enough-password").expect("password")
}

fn key(resource_type: ResourceType, id: &str) -> GrantKey {
    GrantKey::new(resource_type, id)
}

fn keys() -> Vec<GrantKey> {
    vec![
        key(ResourceType::Experiment, "1"),
        key(ResourceType::Experiment, "2"),
        key(ResourceType::Experiment, "3"),
        key(ResourceType::RegisteredModel, "model-a"),
        key(ResourceType::RegisteredModel, "model-b"),
        key(ResourceType::Prompt, "p"),
        GrantKey {
            resource_type: ResourceType::Run,
            id: ResourcePattern::Wildcard,
        },
    ]
}

/// Whether the view answers, now, what the store answers for each user.
fn disagreement(store: &Store, view: &AccessView, users: &[i64]) -> Option<String> {
    for &user in users {
        let stored = store.resolve(user, &keys()).expect("store resolve");
        let Some(held) = view.resolve(user, &keys()) else {
            return Some(format!("user {user}: the view does not answer"));
        };
        if held != stored {
            return Some(format!("user {user}: view {held:?}, store {stored:?}"));
        }
        let stored = store.credential_state(user).expect("store credentials");
        if view.credential_state(user) != Some(stored.clone()) {
            return Some(format!("user {user}: credentials differ from {stored:?}"));
        }
    }
    for token in ["tok-1", "tok-2"] {
        let stored = store.is_token_revoked(token).expect("store token");
        if view.is_token_revoked(token) != Some(stored) {
            return Some(format!("token {token}: view differs from {stored}"));
        }
    }
    None
}

fn experiment(id: &str) -> Resource {
    Resource::Experiment(ExperimentId::parse(id).expect("id"))
}

fn model(raw: &str) -> Resource {
    Resource::RegisteredModel(ModelName::parse(raw).expect("model"))
}

/// Every kind of write, each checked the moment it returns.
fn every_write_is_seen_before_it_returns(db: Db) {
    let store = &db.store;
    let view = follow(store);
    let mut users = Vec::new();
    let step = |what: &str, users: &[i64]| {
        if let Some(why) = disagreement(store, &view, users) {
            panic!("after {what}: {why}");
        }
    };
    let alice = store
        .create_user(&name("alice"), &password(), false)
        .expect("alice");
    let bob = store
        .create_user(&name("bob"), &password(), false)
        .expect("bob");
    users.extend([alice.id, bob.id, 9_999]);
    step("creating users", &users);
    store
        .create_grant(&alice.username, &experiment("1"), Permission::Read)
        .expect("grant");
    step("a grant", &users);
    store
        .update_grant(&alice.username, &experiment("1"), Permission::Edit)
        .expect("update");
    step("an update", &users);
    store
        .create_grant(&alice.username, &experiment("2"), Permission::NoPermissions)
        .expect("deny");
    step("a DENY", &users);
    let team = store
        .create_role(
            &Workspace::default_workspace(),
            &RoleName::parse("team").expect("role"),
            None,
        )
        .expect("role");
    let wildcard = store
        .add_role_permission(
            team.id,
            &GrantRule::new(ResourceType::Run, "*", Permission::Read).expect("rule"),
        )
        .expect("row");
    store.assign_role(&bob.username, team.id).expect("assign");
    step("a role row and an assignment", &users);
    let workspace_row = store
        .add_role_permission(
            team.id,
            &GrantRule::new(ResourceType::Workspace, "*", Permission::Manage).expect("rule"),
        )
        .expect("workspace row");
    step("a workspace admin row", &users);
    store
        .update_role_permission(wildcard.id, Permission::Deny)
        .expect("update row");
    store
        .remove_role_permission(workspace_row.id)
        .expect("remove row");
    step("a row changed and one removed", &users);
    store
        .unassign_role(&bob.username, team.id)
        .expect("unassign");
    step("an unassignment", &users);
    store
        .assign_role(&alice.username, team.id)
        .expect("assign alice");
    store.delete_role(team.id).expect("delete role");
    step("deleting an assigned role", &users);
    store.set_admin(&alice.username, true).expect("admin");
    store
        .set_password(&bob.username, &password())
        .expect("password");
    store
        .revoke_all_credentials(&alice.username)
        .expect("revoke all");
    step("credential changes", &users);
    store
        .revoke_token("tok-1", i64::MAX / 2)
        .expect("revoke token");
    step("a revoked token", &users);
    store
        .grant_user_permission(
            &bob.username,
            &Workspace::default_workspace(),
            &GrantRule::new(ResourceType::RegisteredModel, "model-a", Permission::Manage)
                .expect("rule"),
        )
        .expect("user permission");
    store
        .rename_registered_model(
            &ModelName::parse("model-a").expect("m"),
            &ModelName::parse("model-b").expect("m"),
        )
        .expect("rename");
    step("a renamed model", &users);
    store
        .revoke_user_permission(
            &bob.username,
            &Workspace::default_workspace(),
            ResourceType::RegisteredModel,
            &ResourcePattern::Id("model-b".into()),
        )
        .expect("revoke user permission");
    store
        .create_grant(&bob.username, &model("model-a"), Permission::Read)
        .expect("grant model");
    store
        .delete_grants_on(&experiment("1"))
        .expect("delete grants on");
    step("grants dropped with their resource", &users);
    let admins = store
        .create_role(
            &Workspace::default_workspace(),
            &RoleName::parse("from-idp").expect("role"),
            None,
        )
        .expect("role");
    store
        .add_role_permission(
            admins.id,
            &GrantRule::new(ResourceType::Prompt, "*", Permission::Edit).expect("rule"),
        )
        .expect("row");
    store
        .sync_provider_roles(bob.id, &[RoleName::parse("from-idp").expect("role")])
        .expect("sync");
    step("provider roles synced", &users);
    store.delete_user(&alice.username).expect("delete user");
    step("a deleted user", &users);
    // A failed write changes nothing and still returns promptly.
    assert!(store.delete_user(&alice.username).is_err());
    step("a refused write", &users);
}

/// What another process writes (an offline command, another replica) reaches the
/// view within the feed's bound.
fn another_writers_changes_arrive(db: Db) {
    let view = follow(&db.store);
    let alice = db
        .store
        .create_user(&name("alice"), &password(), false)
        .expect("alice");
    let other = Store::connect(&db.url, pool()).expect("second store");
    other
        .create_grant(&alice.username, &experiment("3"), Permission::Manage)
        .expect("grant elsewhere");
    other
        .revoke_token("tok-2", i64::MAX / 2)
        .expect("revoke elsewhere");
    let took = wait_until("the other writer's changes", || {
        disagreement(&db.store, &view, &[alice.id]).is_none()
    });
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn sqlite_every_write_is_seen_before_it_returns() {
    every_write_is_seen_before_it_returns(sqlite());
}

#[test]
fn postgres_every_write_is_seen_before_it_returns() {
    every_write_is_seen_before_it_returns(postgres());
}

#[test]
fn sqlite_another_writers_changes_arrive() {
    another_writers_changes_arrive(sqlite());
}

#[test]
fn postgres_another_writers_changes_arrive() {
    another_writers_changes_arrive(postgres());
}

/// The listener's connection is killed: the view stops answering at once, and
/// answers again, current, once it has listened and reloaded anew, including what
/// was committed while it was away.
#[test]
fn postgres_a_lost_feed_reads_through_until_it_is_back() {
    let db = postgres();
    let view = follow(&db.store);
    let alice = db
        .store
        .create_user(&name("alice"), &password(), false)
        .expect("alice");
    let other = Store::connect(&db.url, pool()).expect("second store");
    let mut admin = PgConnection::establish(&db.url).expect("raw connection");
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name LIKE 'mlguard-access-%'",
        )
        .expect("terminate the listener");
    // Committed while the listener is gone: no notification reaches this view.
    other
        .create_grant(&alice.username, &experiment("2"), Permission::NoPermissions)
        .expect("deny elsewhere");
    // From now on, whatever the view answers is current: either nothing (read
    // through) or the DENY.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answered_nothing = false;
    loop {
        match view.resolve(alice.id, &keys()) {
            None => answered_nothing = true,
            Some(held) => {
                let stored = db.store.resolve(alice.id, &keys()).expect("store");
                if held == stored {
                    if answered_nothing {
                        break;
                    }
                } else {
                    // Stale only while the kill has not been noticed: never past
                    // the lease.
                    assert!(
                        Instant::now() < deadline - Duration::from_secs(10) + settings().lease,
                        "a stale answer after the lease"
                    );
                }
            }
        }
        assert!(Instant::now() < deadline, "the view never came back");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(disagreement(&db.store, &view, &[alice.id]).is_none());
}
