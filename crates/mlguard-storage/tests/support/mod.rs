//! Shared by the storage suites: a fresh PostgreSQL database for each test.
//!
//! `MLGUARD_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! must be reachable: an unreachable server fails the test, it never skips.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database created for one test, dropped (forcibly, best effort) with the guard.
pub struct PgDatabase {
    base_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// A new database named `<prefix>_<random hex>`.
    pub fn create(prefix: &str) -> PgDatabase {
        let base_url = std::env::var("MLGUARD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let mut admin = PgConnection::establish(&base_url).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for these tests and is unreachable at \
                 MLGUARD_TEST_POSTGRES_URL (default {DEFAULT_POSTGRES_URL}): {e}"
            )
        });
        let suffix: String = rand::random::<[u8; 8]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("{prefix}_{suffix}");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let url = with_database(&base_url, &name);
        PgDatabase {
            base_url,
            name,
            url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.base_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `base` with its database (the URL path) replaced by `database`.
pub fn with_database(base: &str, database: &str) -> String {
    let (main, query) = match base.split_once('?') {
        Some((main, query)) => (main, Some(query)),
        None => (base, None),
    };
    let authority_start = main.find("://").map_or(0, |i| i + 3);
    let path_start = main[authority_start..]
        .find('/')
        .map_or(main.len(), |i| i + authority_start);
    let mut url = format!("{}/{database}", &main[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}
