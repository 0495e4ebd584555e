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
    /// MLflow 3.17's roles; `name` may be a synthetic `__user_<id>__`.
    roles (id) {
        id -> BigInt,
        workspace -> Text,
        name -> Text,
        description -> Nullable<Text>,
        /// Milliseconds since the Unix epoch.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// One grant row of a role.
    role_permissions (id) {
        id -> BigInt,
        role_id -> BigInt,
        /// `ResourceType::as_str`.
        resource_type -> Text,
        /// `*` or an id (`ResourcePattern::as_str`).
        resource_pattern -> Text,
        /// `Permission::as_str`; never NO_PERMISSIONS.
        permission -> Text,
        /// Milliseconds since the Unix epoch.
        created_at -> BigInt,
    }
}

diesel::table! {
    user_role_assignments (id) {
        id -> BigInt,
        user_id -> BigInt,
        role_id -> BigInt,
        /// Milliseconds since the Unix epoch.
        created_at -> BigInt,
    }
}

diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(user_role_assignments -> roles (role_id));
diesel::joinable!(user_role_assignments -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    roles,
    role_permissions,
    user_role_assignments
);

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

diesel::table! {
    /// Who submitted each MLflow job through mlguard.
    job_owners (job_id) {
        job_id -> Text,
        user_id -> BigInt,
        /// Milliseconds since the Unix epoch.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Browser sessions; the cookie's secret is stored only as its SHA-256.
    sessions (id) {
        id -> BigInt,
        secret_sha256 -> Text,
        user_id -> BigInt,
        admin_from_provider -> Bool,
        credential_version -> BigInt,
        /// Milliseconds since the Unix epoch.
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// The provider identity each account was made for.
    provider_identities (issuer, subject) {
        issuer -> Text,
        subject -> Text,
        user_id -> BigInt,
    }
}

diesel::table! {
    /// Logins under way, by the SHA-256 of their `state`.
    pending_logins (state_sha256) {
        state_sha256 -> Text,
        nonce -> Text,
        code_verifier -> Text,
        next_path -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// The role assignments the identity provider's groups made.
    provider_role_assignments (user_id, role_id) {
        user_id -> BigInt,
        role_id -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(sessions, users);
