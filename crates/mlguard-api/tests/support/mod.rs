//! Shared by the API suites: a real, migrated SQLite store in a temp directory.

use mlguard_domain::{Password, UserStore, Username};
use mlguard_storage::{PoolOptions, Store};

/// A fresh store holding `users` as ((name, password), is_admin). Keep the
/// directory alive as long as the store.
pub fn store_with_users(users: &[((&str, &str), bool)]) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("mlguard.db").display());
    let store = Store::connect(&url, PoolOptions::default()).expect("store");
    store.run_migrations().expect("migrations");
    for ((name, password), is_admin) in users {
        store
            .create_user(
                &Username::parse(name).expect("name"),
                &Password::new(password).expect("password"),
                *is_admin,
            )
            .expect("seed user");
    }
    (store, dir)
}
