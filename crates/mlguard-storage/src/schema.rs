//! The tables, written to use only SQL types both backends share.
//! Kept in step by hand with `migrations/sqlite` and `migrations/postgres`.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        is_admin -> Bool,
        /// Bumped whenever what a login proves changes (password, admin flag).
        credential_version -> BigInt,
        /// Milliseconds since the Unix epoch.
        created_at -> BigInt,
    }
}

diesel::table! {
    grants (user_id, resource_kind, resource_key) {
        user_id -> BigInt,
        /// `ResourceKind::as_str`.
        resource_kind -> Text,
        /// `Resource::key`.
        resource_key -> Text,
        /// `Permission::as_str`.
        permission -> Text,
        /// Milliseconds since the Unix epoch.
        created_at -> BigInt,
    }
}

diesel::joinable!(grants -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, grants);

diesel::table! {
    /// Accounts `mlguard import-mlflow` created or overwrote (see the migration).
    mlflow_imported_users (user_id) {
        user_id -> BigInt,
        /// Hex SHA-256 of the werkzeug hash read from MLflow.
        source_hash_sha256 -> Text,
        /// Hex SHA-256 of the hash the import or the login rehash last wrote.
        current_hash_sha256 -> Text,
        /// Milliseconds since the Unix epoch.
        imported_at -> BigInt,
    }
}
