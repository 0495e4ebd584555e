//! mlguard's own secret store: secrets whose values are written and never read
//! back over the API, bound to the resource fields that use them, shared per
//! secret with the same permission levels as every other resource.

mod access;
mod fields;
mod model;
mod ports;
mod rotation;

pub use access::{SecretAccess, SecretOperation, authorize_secret, visibility};
pub use fields::{
    BindingKey, FieldError, KekId, Label, RouteId, SecretId, SecretName, SecretValue,
};
pub use model::{
    AdminBypass, AuditRecord, Binding, NewRoute, NewSecret, Route, SecretCursor, SecretGrant,
    SecretInfo, SecretVisibility, VisibleSecret,
};
pub use ports::{
    CryptoError, DataKey, KekUsage, KeyManagement, SealedValue, SecretCipher, SecretStore,
    SecretStoreError, WrappedKey,
};
pub use rotation::{RotationError, RotationReport, rotate_kek};
