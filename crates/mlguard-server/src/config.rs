//! Settings: built-in defaults, then an optional TOML file, then environment
//! variables `MLGUARD_<SECTION>__<KEY>` (e.g. `MLGUARD_AUTH__DEFAULT_PERMISSION`).

use std::net::SocketAddr;
use std::path::Path;

use mlguard_domain::Permission;
use serde::Deserialize;

/// Environment variable naming the TOML file; not itself a setting.
pub const CONFIG_FILE_ENV: &str = "MLGUARD_CONFIG";
const ENV_PREFIX: &str = "MLGUARD";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub upstream: UpstreamSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://...`; the scheme picks the backend.
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
    /// How long start-up keeps retrying an unreachable database.
    pub startup_timeout_secs: u64,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("DatabaseSettings")
            .field("max_connections", &self.max_connections)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// The MLflow tracking server mlguard protects.
    pub url: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The level a user has on a resource they hold no grant on.
    pub default_permission: String,
    /// The admin created when the user store is empty.
    pub admin_username: String,
    /// Its password; generated and printed once when absent.
    pub admin_password: Option<String>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("default_permission", &self.default_permission)
            .field("admin_username", &self.admin_username)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl AuthSettings {
    pub fn default_permission(&self) -> Result<Permission, ConfigError> {
        self.default_permission
            .parse()
            .map_err(|e: mlguard_domain::UnknownPermission| {
                ConfigError::Invalid(format!("auth.default_permission: {e}"))
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (human-readable) or `json`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `mlguard=debug,info`. `RUST_LOG` wins.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Every key with its default; `None` means "no default" (optional setting).
pub const DEFAULTS: &[(&str, Option<&str>)] = &[
    ("server.listen", Some("127.0.0.1:8080")),
    ("server.shutdown_grace_secs", Some("30")),
    ("database.url", Some("sqlite://mlguard.db")),
    ("database.max_connections", Some("10")),
    ("database.connect_timeout_secs", Some("5")),
    ("database.startup_timeout_secs", Some("60")),
    ("upstream.url", Some("http://127.0.0.1:5000")),
    ("auth.default_permission", Some("READ")),
    ("auth.admin_username", Some("admin")),
    ("auth.admin_password", None),
    ("log.format", Some("text")),
    ("log.level", Some("info")),
];

/// The environment variable that sets `key`, e.g. `MLGUARD_AUTH__DEFAULT_PERMISSION`.
pub fn env_var_for(key: &str) -> String {
    format!("{ENV_PREFIX}_{}", key.replace('.', "__").to_uppercase())
}

impl Settings {
    /// Loads settings from defaults, `file` (if any) and the given environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        for (key, default) in DEFAULTS {
            if let Some(value) = default {
                builder = builder.set_default(*key, *value)?;
            }
        }
        if let Some(path) = file {
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let prefix = format!("{ENV_PREFIX}_");
        let ours: config::Map<String, String> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(&prefix) && name != CONFIG_FILE_ENV)
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .source(Some(ours)),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.auth.default_permission()?;
        mlguard_domain::Username::parse(&self.auth.admin_username)
            .map_err(|e| ConfigError::Invalid(format!("auth.admin_username: {e}")))?;
        if let Some(password) = &self.auth.admin_password {
            mlguard_domain::Password::new(password)
                .map_err(|e| ConfigError::Invalid(format!("auth.admin_password: {e}")))?;
        }
        let upstream = &self.upstream.url;
        if !(upstream.starts_with("http://") || upstream.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "upstream.url must start with http:// or https://, got {upstream:?}"
            )));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let s = Settings::load(None, env(&[])).expect("defaults load");
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.url, "sqlite://mlguard.db");
        assert_eq!(s.upstream.url, "http://127.0.0.1:5000");
        assert_eq!(s.auth.default_permission().expect("valid"), Permission::Read);
        assert_eq!(s.auth.admin_username, "admin");
        assert!(s.auth.admin_password.is_none());
    }

    #[test]
    fn file_then_environment_override_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mlguard.toml");
        std::fs::write(
            &path,
            "[auth]\ndefault_permission = \"NO_PERMISSIONS\"\nadmin_username = \"root\"\n\
             [server]\nlisten = \"0.0.0.0:9000\"\n",
        )
        .expect("write config");
        let s = Settings::load(
            Some(&path),
            env(&[
                ("MLGUARD_AUTH__DEFAULT_PERMISSION", "EDIT"),
                ("MLGUARD_CONFIG", "ignored.toml"),
                ("OTHER_VAR", "x"),
            ]),
        )
        .expect("loads");
        assert_eq!(s.auth.default_permission().expect("valid"), Permission::Edit);
        assert_eq!(s.auth.admin_username, "root");
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:9000");
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused() {
        for bad in [
            ("MLGUARD_AUTH__DEFAULT_PERMISSION", "read"),
            ("MLGUARD_AUTH__ADMIN_PASSWORD", "short"),
            ("MLGUARD_UPSTREAM__URL", "ftp://x"),
            ("MLGUARD_AUTH__DEFAULT_PERMISION", "READ"),
            ("MLGUARD_SERVER__LISTEN", "not-an-address"),
        ] {
            assert!(Settings::load(None, env(&[bad])).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn every_key_has_its_environment_variable() {
        for (key, _) in DEFAULTS {
            let var = env_var_for(key);
            let value = match *key {
                "server.listen" => "127.0.0.1:1",
                "auth.default_permission" => "MANAGE",
                "auth.admin_password" => "a-long-enough-password",
                "auth.admin_username" => "root",
                "database.url" => "sqlite://x.db",
                "upstream.url" => "http://localhost:1",
                "log.format" => "json",
                "log.level" => "debug",
                _ => "7",
            };
            Settings::load(None, env(&[(&var, value)]))
                .unwrap_or_else(|e| panic!("{var}={value}: {e}"));
        }
        assert_eq!(env_var_for("auth.default_permission"), "MLGUARD_AUTH__DEFAULT_PERMISSION");
    }
}
