#![doc = include_str!("../README.md")]

mod connection;
mod error;
mod migrations;
mod password;
mod schema;
mod store;
mod url;

pub use connection::PoolOptions;
pub use error::StorageError;
pub use store::{Backend, Store};
