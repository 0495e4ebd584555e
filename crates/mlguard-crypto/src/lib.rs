#![doc = include_str!("../README.md")]

mod envelope;
mod keyring;
mod sealed;

pub use envelope::Envelope;
pub use keyring::{KeyConfigError, LocalKeyring};
