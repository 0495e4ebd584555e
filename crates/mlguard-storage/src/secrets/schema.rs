//! The secret store's tables, kept in step by hand with the `*_secrets`
//! migrations. Times are milliseconds since the Unix epoch.

use crate::schema::users;

diesel::table! {
    secrets (id) {
        id -> Text,
        name -> Text,
        provider -> Nullable<Text>,
        description -> Nullable<Text>,
        /// A username at creation time, not a foreign key.
        created_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    secret_values (secret_id) {
        secret_id -> Text,
        /// The value sealed under its data key (format: mlguard-crypto).
        ciphertext -> Binary,
        /// The data key wrapped by the KEK `kek_id`.
        wrapped_key -> Binary,
        kek_id -> Text,
    }
}

diesel::table! {
    secret_routes (id) {
        id -> Text,
        secret_id -> Text,
        name -> Text,
        provider -> Text,
        model_name -> Text,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    secret_bindings (resource_type, resource_id, field_name) {
        resource_type -> Text,
        resource_id -> Text,
        field_name -> Text,
        secret_id -> Text,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    secret_grants (secret_id, user_id) {
        secret_id -> Text,
        user_id -> BigInt,
        /// `Permission::as_str`.
        permission -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    secret_audit (id) {
        id -> BigInt,
        at -> BigInt,
        actor -> Text,
        /// `SecretOperation::as_str`.
        operation -> Text,
        secret_id -> Nullable<Text>,
    }
}

diesel::joinable!(secret_values -> secrets (secret_id));
diesel::joinable!(secret_grants -> secrets (secret_id));
diesel::joinable!(secret_grants -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    secrets,
    secret_values,
    secret_routes,
    secret_bindings,
    secret_grants,
    users,
);
