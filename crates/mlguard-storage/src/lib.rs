#![doc = include_str!("../README.md")]

mod access;
mod access_feed;
mod connection;
mod error;
mod grants;
mod import;
mod jobs;
mod migrations;
mod password;
mod rbac;
mod roles;
mod schema;
mod secrets;
mod sessions;
mod store;
mod tokens;
mod url;
mod werkzeug;

pub use access_feed::FeedSettings;
pub use connection::PoolOptions;
pub use error::StorageError;
pub use import::{
    ImportError, ImportIssue, ImportProgress, ImportReport, ImportedKind, IssueOutcome,
    MlflowImportOptions, Tally,
};
pub use store::{Backend, Store};
