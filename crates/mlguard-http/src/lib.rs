#![doc = include_str!("../README.md")]

mod caller;
mod credentials;
mod error;
mod fields;
mod grants;
pub mod otlp;
mod params;
mod query;
pub mod request_id;

pub use caller::{Admin, Caller};
pub use credentials::{BasicCredentials, Credentials, CredentialsError, parse_authorization};
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use grants::{Grants, blocking};
pub use params::{MAX_BODY_BYTES, Mlflow, MlflowParams};
pub use query::{percent_decode, query_pairs};
