//! Settings: built-in defaults, then an optional TOML file, then environment
//! variables `MLGUARD_<SECTION>__<KEY>` (e.g. `MLGUARD_AUTH__DEFAULT_PERMISSION`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use mlguard_domain::Permission;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

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
    pub secrets: SecretsSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// MLflow's `--static-prefix` (e.g. `/mlflow`), when the tracking server uses one.
    pub static_prefix: Option<String>,
    /// Time in-flight requests get to finish after SIGTERM.
    #[serde(rename = "shutdown_grace_secs", deserialize_with = "secs")]
    pub shutdown_grace: Duration,
    /// `Host` values answered, comma-separated (`name`, `name:port`, `*.domain`,
    /// `*`); unset: the listen address's host. `localhost`, `127.0.0.1` and `[::1]`
    /// are always answered.
    pub allowed_hosts: Option<String>,
    /// Origins (`scheme://host[:port]`, or `*`) besides mlguard's own whose browser
    /// requests may change state, comma-separated; unset: none.
    pub cors_allowed_origins: Option<String>,
    /// Threads that serve requests; unset: one per CPU.
    pub worker_threads: Option<std::num::NonZeroUsize>,
}

impl ServerSettings {
    /// The `Host` and `Origin` checks these settings ask for.
    pub fn request_origins(&self) -> Result<mlguard_api::RequestOrigins, ConfigError> {
        let hosts = match &self.allowed_hosts {
            Some(hosts) => comma_list(Some(hosts)),
            // The loopback names are always in; an unspecified address (0.0.0.0)
            // names no host.
            None => match self.listen.ip() {
                ip if ip.is_unspecified() || ip.is_loopback() => Vec::new(),
                std::net::IpAddr::V4(ip) => vec![ip.to_string()],
                std::net::IpAddr::V6(ip) => vec![format!("[{ip}]")],
            },
        };
        let origins = comma_list(self.cors_allowed_origins.as_deref());
        mlguard_api::RequestOrigins::new(hosts, origins).map_err(|e| {
            ConfigError::Invalid(format!("server.allowed_hosts/cors_allowed_origins: {e}"))
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://...`; the scheme picks the backend. Secret:
    /// it may carry a password.
    pub url: SecretString,
    pub max_connections: u32,
    #[serde(rename = "connect_timeout_secs", deserialize_with = "secs")]
    pub connect_timeout: Duration,
    /// How long start-up keeps retrying an unreachable database.
    #[serde(rename = "startup_timeout_secs", deserialize_with = "secs")]
    pub startup_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// The MLflow tracking server mlguard protects.
    pub url: String,
    #[serde(rename = "connect_timeout_secs", deserialize_with = "secs")]
    pub connect_timeout: Duration,
    /// Time until MLflow's response headers arrive; bodies then stream untimed.
    #[serde(rename = "timeout_secs", deserialize_with = "secs")]
    pub timeout: Duration,
    /// Idle connections to MLflow are closed after this; keep it below MLflow's
    /// keep-alive (gunicorn 2 s, uvicorn 5 s).
    #[serde(rename = "pool_idle_timeout_ms", deserialize_with = "millis")]
    pub pool_idle_timeout: Duration,
    /// Largest JSON request body read to find resource ids.
    pub max_body_bytes: usize,
    /// Entries of the run/trace/logged-model → experiment cache.
    pub lookup_cache_entries: usize,
    /// GraphQL requests beyond these are refused (400) before any decision.
    pub graphql_max_root_fields: usize,
    pub graphql_max_depth: usize,
    pub graphql_max_query_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The level a user has on a resource they hold no grant on.
    pub default_permission: String,
    /// The admin created when the user store is empty.
    pub admin_username: String,
    /// Its password; generated and printed once when absent.
    pub admin_password: Option<SecretString>,
    /// Lifetime of bearer tokens from `tokens/create`.
    #[serde(rename = "token_ttl_secs", deserialize_with = "secs")]
    pub token_ttl: Duration,
    /// base64 of the token signing key (32+ bytes). Unset: a key is generated once
    /// and kept in the database, shared by every replica.
    pub jwt_secret: Option<SecretString>,
    /// The signing key `jwt_secret` replaced: still verifies until removed.
    pub jwt_previous_secret: Option<SecretString>,
    /// With stored keys: how long a retired key still verifies after rotation.
    #[serde(rename = "jwt_rotation_grace_secs", deserialize_with = "secs")]
    pub jwt_rotation_grace: Duration,
    /// Verified credentials remembered at once (0 turns the cache off).
    pub credential_cache_entries: usize,
    #[serde(rename = "credential_cache_ttl_secs", deserialize_with = "secs")]
    pub credential_cache_ttl: Duration,
    /// argon2 checks running at once.
    pub max_concurrent_hashes: usize,
    /// Failed logins for one username before it is throttled.
    pub throttle_max_failures_per_user: u32,
    /// Failed logins from one client address before it is throttled.
    pub throttle_max_failures_per_address: u32,
    /// First delay once throttled; doubles with each further failure.
    #[serde(rename = "throttle_base_delay_ms", deserialize_with = "millis")]
    pub throttle_base_delay: Duration,
    #[serde(rename = "throttle_max_delay_secs", deserialize_with = "secs")]
    pub throttle_max_delay: Duration,
    /// Failures older than this are forgotten.
    #[serde(rename = "throttle_window_secs", deserialize_with = "secs")]
    pub throttle_window: Duration,
    /// Where decisions read accounts, grants and revocations: `snapshot` (an
    /// in-process view kept exact by the database's change feed) or `strict`
    /// (the database, on every request).
    pub consistency: Consistency,
    /// PostgreSQL with `snapshot`: how long the view is trusted after the change
    /// feed last proved itself current; the longest a replica whose database
    /// connection died silently can miss a change. Proofs come every third of it.
    #[serde(rename = "snapshot_lease_ms", deserialize_with = "millis")]
    pub snapshot_lease: Duration,
    /// Single sign-on with an OpenID provider; off while `issuer` is unset.
    pub oidc: OidcConfig,
}

/// `auth.consistency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    Snapshot,
    Strict,
}

/// `auth.oidc.*`: one OpenID provider, for browser logins and its bearer tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its tokens name it.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// mlguard's callback as the browser reaches it: `https://<host>/auth/callback`.
    pub redirect_url: Option<String>,
    /// Space- or comma-separated.
    pub scopes: String,
    /// The claim that names the mlguard account (`sub` when a token lacks it).
    pub username_claim: String,
    pub groups_claim: String,
    /// Provider groups whose members are admins, comma-separated.
    pub admin_groups: Option<String>,
    /// Provider group to role name, `group=role` comma-separated; a group not named
    /// maps to the role of the same name.
    pub group_roles: Option<String>,
    /// Audiences a provider-issued bearer token may carry, comma-separated; unset:
    /// provider tokens are refused.
    pub audiences: Option<String>,
    #[serde(rename = "session_ttl_secs", deserialize_with = "secs")]
    pub session_ttl: Duration,
    /// Create the account at a first login or bearer request.
    pub provision: bool,
    /// `Secure` on the session cookie; turn off only for plain-http development.
    pub cookie_secure: bool,
    #[serde(rename = "timeout_secs", deserialize_with = "secs")]
    pub timeout: Duration,
    /// Shortest time between two JWKS fetches caused by an unknown key id.
    #[serde(rename = "jwks_refetch_interval_secs", deserialize_with = "secs")]
    pub jwks_refetch_interval: Duration,
    /// Longest time fetched signing keys are trusted before the JWKS is fetched again.
    #[serde(rename = "jwks_max_age_secs", deserialize_with = "secs")]
    pub jwks_max_age: Duration,
}

/// A comma-separated setting, as a list of its trimmed, non-empty items.
fn comma_list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the OIDC settings ask for, checked.
#[derive(Debug, Clone)]
pub struct Oidc {
    pub provider: mlguard_oidc::OidcSettings,
    pub login: mlguard_api::OidcLogin,
}

impl OidcConfig {
    /// `None` while no issuer is set; an error when the settings are incomplete.
    pub fn enabled(&self) -> Result<Option<Oidc>, ConfigError> {
        let Some(issuer) = self.issuer.as_deref().filter(|i| !i.trim().is_empty()) else {
            return Ok(None);
        };
        let missing = |name: &str| ConfigError::Invalid(format!("auth.oidc.{name} is not set"));
        let client_id = self.client_id.clone().ok_or_else(|| missing("client_id"))?;
        let client_secret = self
            .client_secret
            .as_ref()
            .ok_or_else(|| missing("client_secret"))?
            .expose_secret()
            .to_owned();
        let redirect_url = self
            .redirect_url
            .clone()
            .ok_or_else(|| missing("redirect_url"))?;
        for (name, url) in [("issuer", issuer), ("redirect_url", redirect_url.as_str())] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Invalid(format!(
                    "auth.oidc.{name} must be an http(s) URL, got {url:?}"
                )));
            }
        }
        let scopes: Vec<String> = self
            .scopes
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(ConfigError::Invalid(
                "auth.oidc.scopes must include openid".to_owned(),
            ));
        }
        let mut group_roles = std::collections::HashMap::new();
        for pair in comma_list(self.group_roles.as_deref()) {
            let (group, role) = pair.split_once('=').ok_or_else(|| {
                ConfigError::Invalid(format!("auth.oidc.group_roles: {pair:?} is not group=role"))
            })?;
            let role = mlguard_domain::RoleName::parse(role.trim()).map_err(|e| {
                ConfigError::Invalid(format!("auth.oidc.group_roles: {role:?}: {e}"))
            })?;
            group_roles.insert(group.trim().to_owned(), role);
        }
        let audiences = comma_list(self.audiences.as_deref());
        // ID tokens are for mlguard's client: one must never pass as a bearer token.
        if audiences.contains(&client_id) {
            return Err(ConfigError::Invalid(
                "auth.oidc.audiences must not include the client_id".to_owned(),
            ));
        }
        let provider = mlguard_oidc::OidcSettings {
            issuer: issuer.to_owned(),
            client_id,
            client_secret,
            redirect_url: redirect_url.clone(),
            scopes,
            username_claim: self.username_claim.clone(),
            groups_claim: self.groups_claim.clone(),
            audiences,
            timeout: self.timeout,
            jwks_refetch_interval: self.jwks_refetch_interval,
            jwks_max_age: self.jwks_max_age,
        };
        // The provider sends the browser back to mlguard's root after its logout.
        let after_logout_url = match redirect_url.find("://").map(|i| i + 3) {
            Some(start) => match redirect_url[start..].find('/') {
                Some(path) => format!("{}/", &redirect_url[..start + path]),
                None => format!("{redirect_url}/"),
            },
            None => "/".to_owned(),
        };
        let login = mlguard_api::OidcLogin {
            admin_groups: comma_list(self.admin_groups.as_deref()),
            group_roles,
            provision: self.provision,
            session_ttl: self.session_ttl,
            cookie_secure: self.cookie_secure,
            after_logout_url,
        };
        Ok(Some(Oidc { provider, login }))
    }
}

/// A `*_secs` setting: whole seconds.
fn secs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

/// A `*_ms` setting: milliseconds.
fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_millis)
}

/// Configured token signing keys: the current one and, during a rotation, the one
/// it replaced.
#[derive(Clone)]
pub struct JwtKeys {
    pub current: Vec<u8>,
    pub previous: Option<Vec<u8>>,
}

impl AuthSettings {
    /// The configured token signing keys, decoded; `None` when keys are to be kept
    /// in the database.
    pub fn jwt_keys(&self) -> Result<Option<JwtKeys>, ConfigError> {
        let decode = |name: &str, value: &str| -> Result<Vec<u8>, ConfigError> {
            use base64::Engine;
            let key = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|_| ConfigError::Invalid(format!("auth.{name} is not base64")))?;
            if key.len() < mlguard_tokens::MIN_KEY_BYTES {
                return Err(ConfigError::Invalid(format!(
                    "auth.{name} must decode to at least {} bytes (try `openssl rand -base64 32`)",
                    mlguard_tokens::MIN_KEY_BYTES
                )));
            }
            Ok(key)
        };
        match (&self.jwt_secret, &self.jwt_previous_secret) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(ConfigError::Invalid(
                "auth.jwt_previous_secret is set without auth.jwt_secret".to_owned(),
            )),
            (Some(current), previous) => Ok(Some(JwtKeys {
                current: decode("jwt_secret", current.expose_secret())?,
                previous: previous
                    .as_ref()
                    .map(|p| decode("jwt_previous_secret", p.expose_secret()))
                    .transpose()?,
            })),
        }
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

/// The secret store. Off unless enabled, and never enabled without a KEK.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// Serve the secrets API. Needs `kek`.
    pub enabled: bool,
    /// The current key-encryption key, base64 of 32 bytes: wraps every new data key.
    pub kek: Option<SecretString>,
    /// Earlier KEKs, comma-separated: still unwrap until `mlguard secrets
    /// rotate-kek` has re-wrapped everything under `kek`.
    pub previous_keks: Option<SecretString>,
}

impl SecretsSettings {
    /// The configured KEKs, or `None` when `secrets.kek` is unset.
    pub fn keyring(&self) -> Result<Option<mlguard_crypto::LocalKeyring>, ConfigError> {
        let previous: Vec<&str> = self
            .previous_keks
            .as_ref()
            .map(ExposeSecret::expose_secret)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .collect();
        // Without a current KEK, previous ones are of no use: secrets cannot be
        // enabled nor rotated (both say so).
        let Some(kek) = &self.kek else {
            return Ok(None);
        };
        mlguard_crypto::LocalKeyring::from_base64(kek.expose_secret(), &previous)
            .map(Some)
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let keyring = self.keyring()?;
        if self.enabled && keyring.is_none() {
            return Err(ConfigError::Invalid(
                "secrets.enabled is true but secrets.kek is not set: mlguard will not store \
                 secrets without a key-encryption key. Generate one with \
                 `openssl rand -base64 32` and set it as secrets.kek (MLGUARD_SECRETS__KEK)"
                    .to_owned(),
            ));
        }
        Ok(())
    }
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
    ("server.allowed_hosts", None),
    ("server.cors_allowed_origins", None),
    ("server.worker_threads", None),
    ("database.url", Some("sqlite://mlguard.db")),
    ("database.max_connections", Some("10")),
    ("database.connect_timeout_secs", Some("5")),
    ("database.startup_timeout_secs", Some("60")),
    ("server.static_prefix", None),
    ("upstream.url", Some("http://127.0.0.1:5000")),
    ("upstream.connect_timeout_secs", Some("5")),
    ("upstream.timeout_secs", Some("120")),
    ("upstream.pool_idle_timeout_ms", Some("1000")),
    ("upstream.max_body_bytes", Some("67108864")),
    ("upstream.lookup_cache_entries", Some("100000")),
    ("upstream.graphql_max_root_fields", Some("50")),
    ("upstream.graphql_max_depth", Some("20")),
    ("upstream.graphql_max_query_bytes", Some("65536")),
    ("auth.default_permission", Some("READ")),
    ("auth.admin_username", Some("admin")),
    ("auth.admin_password", None),
    ("auth.token_ttl_secs", Some("86400")),
    ("auth.jwt_secret", None),
    ("auth.jwt_previous_secret", None),
    ("auth.jwt_rotation_grace_secs", Some("86400")),
    ("auth.credential_cache_entries", Some("10000")),
    ("auth.credential_cache_ttl_secs", Some("900")),
    ("auth.max_concurrent_hashes", Some("4")),
    ("auth.throttle_max_failures_per_user", Some("5")),
    ("auth.throttle_max_failures_per_address", Some("50")),
    ("auth.throttle_base_delay_ms", Some("1000")),
    ("auth.throttle_max_delay_secs", Some("300")),
    ("auth.throttle_window_secs", Some("900")),
    ("auth.consistency", Some("snapshot")),
    ("auth.snapshot_lease_ms", Some("750")),
    ("auth.oidc.issuer", None),
    ("auth.oidc.client_id", None),
    ("auth.oidc.client_secret", None),
    ("auth.oidc.redirect_url", None),
    ("auth.oidc.scopes", Some("openid profile email")),
    ("auth.oidc.username_claim", Some("preferred_username")),
    ("auth.oidc.groups_claim", Some("groups")),
    ("auth.oidc.admin_groups", None),
    ("auth.oidc.group_roles", None),
    ("auth.oidc.audiences", None),
    ("auth.oidc.session_ttl_secs", Some("28800")),
    ("auth.oidc.provision", Some("true")),
    ("auth.oidc.cookie_secure", Some("true")),
    ("auth.oidc.timeout_secs", Some("10")),
    ("auth.oidc.jwks_refetch_interval_secs", Some("30")),
    ("auth.oidc.jwks_max_age_secs", Some("600")),
    ("log.format", Some("text")),
    ("log.level", Some("info")),
    ("secrets.enabled", Some("false")),
    ("secrets.kek", None),
    ("secrets.previous_keks", None),
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
        self.server.request_origins()?;
        self.auth.default_permission()?;
        self.auth.jwt_keys()?;
        self.auth.oidc.enabled()?;
        mlguard_domain::Username::parse(&self.auth.admin_username)
            .map_err(|e| ConfigError::Invalid(format!("auth.admin_username: {e}")))?;
        if let Some(password) = &self.auth.admin_password {
            mlguard_domain::Password::new(password.expose_secret())
                .map_err(|e| ConfigError::Invalid(format!("auth.admin_password: {e}")))?;
        }
        let upstream = &self.upstream.url;
        if !upstream.starts_with("http://") {
            return Err(ConfigError::Invalid(format!(
                "upstream.url must be http://host:port (MLflow on a private network), got {upstream:?}"
            )));
        }
        self.secrets.validate()?;
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

    const OIDC: &[(&str, &str)] = &[
        (
            "MLGUARD_AUTH__OIDC__ISSUER",
            "https://idp.example.com/realms/ml",
        ),
        ("MLGUARD_AUTH__OIDC__CLIENT_ID", "mlguard"),
        ("MLGUARD_AUTH__OIDC__CLIENT_SECRET", "s3cret"),
        (
            "MLGUARD_AUTH__OIDC__REDIRECT_URL",
            "https://mlflow.example.com/auth/callback",
        ),
    ];

    fn oidc_with(extra: &[(&str, &str)]) -> Result<Option<Oidc>, ConfigError> {
        let mut vars: Vec<(&str, &str)> = OIDC.to_vec();
        vars.extend_from_slice(extra);
        Settings::load(None, env(&vars)).and_then(|s| s.auth.oidc.enabled())
    }

    #[test]
    fn single_sign_on_is_off_until_an_issuer_is_set_and_then_needs_its_client() {
        let off = Settings::load(None, env(&[])).expect("defaults");
        assert!(off.auth.oidc.enabled().expect("valid").is_none());
        let on = oidc_with(&[
            (
                "MLGUARD_AUTH__OIDC__GROUP_ROLES",
                "ml-team = readers,ops=editors",
            ),
            ("MLGUARD_AUTH__OIDC__ADMIN_GROUPS", "mlflow-admins, root"),
            ("MLGUARD_AUTH__OIDC__AUDIENCES", "api://mlguard"),
        ])
        .expect("valid")
        .expect("on");
        assert_eq!(on.provider.scopes, ["openid", "profile", "email"]);
        assert_eq!(on.provider.audiences, ["api://mlguard"]);
        assert_eq!(on.login.admin_groups, ["mlflow-admins", "root"]);
        assert_eq!(on.login.group_roles["ml-team"].as_str(), "readers");
        assert_eq!(on.login.after_logout_url, "https://mlflow.example.com/");
        assert!(on.login.cookie_secure && on.login.provision);
        for (name, _) in OIDC {
            let vars: Vec<(&str, &str)> = OIDC.iter().copied().filter(|(n, _)| n != name).collect();
            let err = Settings::load(None, env(&vars)).map(|_| ());
            if *name == "MLGUARD_AUTH__OIDC__ISSUER" {
                assert!(err.is_ok(), "without an issuer it is simply off");
            } else {
                assert!(err.is_err(), "{name} missing must refuse the start");
            }
        }
    }

    #[test]
    fn bad_single_sign_on_settings_refuse_the_start() {
        for (var, value, says) in [
            ("MLGUARD_AUTH__OIDC__SCOPES", "profile email", "openid"),
            ("MLGUARD_AUTH__OIDC__GROUP_ROLES", "ml-team", "group=role"),
            (
                "MLGUARD_AUTH__OIDC__GROUP_ROLES",
                "ml-team=__user_1__",
                "__user_1__",
            ),
            (
                "MLGUARD_AUTH__OIDC__REDIRECT_URL",
                "/auth/callback",
                "redirect_url",
            ),
            ("MLGUARD_AUTH__OIDC__ISSUER", "idp.example.com", "issuer"),
            ("MLGUARD_AUTH__OIDC__AUDIENCES", "api,mlguard", "client_id"),
        ] {
            let err = oidc_with(&[(var, value)]).expect_err(var).to_string();
            assert!(err.contains(says), "{var}={value}: {err}");
            // The secret never appears in what the error says.
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let s = Settings::load(None, env(&[])).expect("defaults load");
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.url.expose_secret(), "sqlite://mlguard.db");
        assert_eq!(s.upstream.url, "http://127.0.0.1:5000");
        // Below gunicorn's 2 s keep-alive, so MLflow rarely closes a connection in use.
        assert_eq!(s.upstream.pool_idle_timeout, Duration::from_millis(1000));
        assert_eq!(s.auth.credential_cache_ttl, Duration::from_secs(900));
        assert_eq!(s.auth.throttle_base_delay, Duration::from_millis(1000));
        assert_eq!(
            s.auth.default_permission().expect("valid"),
            Permission::Read
        );
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
        assert_eq!(
            s.auth.default_permission().expect("valid"),
            Permission::Edit
        );
        assert_eq!(s.auth.admin_username, "root");
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:9000");
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused() {
        for bad in [
            ("MLGUARD_AUTH__DEFAULT_PERMISSION", "read"),
            ("MLGUARD_AUTH__ADMIN_PASSWORD", "short"),
            ("MLGUARD_UPSTREAM__URL", "ftp://x"),
            ("MLGUARD_UPSTREAM__URL", "https://mlflow:5000"),
            ("MLGUARD_AUTH__DEFAULT_PERMISION", "READ"),
            ("MLGUARD_SERVER__LISTEN", "not-an-address"),
            ("MLGUARD_SERVER__ALLOWED_HOSTS", "a host"),
            ("MLGUARD_SERVER__CORS_ALLOWED_ORIGINS", "ui.example.com"),
            ("MLGUARD_SERVER__WORKER_THREADS", "0"),
        ] {
            assert!(
                Settings::load(None, env(&[bad])).is_err(),
                "accepted {bad:?}"
            );
        }
    }

    #[test]
    fn every_key_has_its_environment_variable() {
        for (key, _) in DEFAULTS {
            let var = env_var_for(key);
            let value = match *key {
                "server.listen" => "127.0.0.1:1",
                "server.static_prefix" => "/mlflow",
                "server.allowed_hosts" => "mlflow.example.com, *.corp.example,gw:8080",
                "server.cors_allowed_origins" => "https://ui.example.com",
                "secrets.enabled" => "false",
                "secrets.kek" | "secrets.previous_keks" => TEST_KEK,
                "auth.default_permission" => "MANAGE",
                "auth.consistency" => "strict",
                "auth.admin_password" => "a-long-enough-password",
                "auth.admin_username" => "root",
                "auth.jwt_secret" | "auth.jwt_previous_secret" => TEST_KEK,
                "database.url" => "sqlite://x.db",
                "upstream.url" => "http://localhost:1",
                "log.format" => "json",
                "log.level" => "debug",
                "auth.oidc.issuer" => "https://idp.example.com/realms/ml",
                "auth.oidc.redirect_url" => "https://mlflow.example.com/auth/callback",
                "auth.oidc.scopes" => "openid,profile groups",
                "auth.oidc.group_roles" => "ml-team=readers, ops=admins",
                "auth.oidc.provision" | "auth.oidc.cookie_secure" => "false",
                key if key.starts_with("auth.oidc.") && !key.ends_with("_secs") => "some-value",
                _ => "7",
            };
            // A previous signing key only makes sense next to a current one, and
            // single sign-on only with its provider, client and callback.
            let mut vars = vec![(var.as_str(), value)];
            if *key == "auth.jwt_previous_secret" {
                vars.push(("MLGUARD_AUTH__JWT_SECRET", TEST_KEK));
            }
            if key.starts_with("auth.oidc.") {
                for (required, value) in [
                    ("MLGUARD_AUTH__OIDC__ISSUER", "https://idp.example.com"),
                    ("MLGUARD_AUTH__OIDC__CLIENT_ID", "mlguard"),
                    ("MLGUARD_AUTH__OIDC__CLIENT_SECRET", "client-secret"),
                    (
                        "MLGUARD_AUTH__OIDC__REDIRECT_URL",
                        "https://mlflow.example.com/auth/callback",
                    ),
                ] {
                    if required != var {
                        vars.push((required, value));
                    }
                }
            }
            Settings::load(None, env(&vars)).unwrap_or_else(|e| panic!("{var}={value}: {e}"));
        }
        assert_eq!(
            env_var_for("auth.default_permission"),
            "MLGUARD_AUTH__DEFAULT_PERMISSION"
        );
    }

    /// base64 of 32 bytes; a test key, never a real one.
    const TEST_KEK: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

    #[test]
    fn secrets_are_off_by_default_and_need_a_kek_when_on() {
        let s = Settings::load(None, env(&[])).expect("defaults load");
        assert!(!s.secrets.enabled);
        assert!(s.secrets.kek.is_none());

        let err = Settings::load(None, env(&[("MLGUARD_SECRETS__ENABLED", "true")]))
            .expect_err("enabled without a KEK")
            .to_string();
        assert!(err.contains("secrets.kek is not set"), "{err}");

        let s = Settings::load(
            None,
            env(&[
                ("MLGUARD_SECRETS__ENABLED", "true"),
                ("MLGUARD_SECRETS__KEK", TEST_KEK),
            ]),
        )
        .expect("enabled with a KEK");
        assert!(s.secrets.enabled);
        assert!(s.secrets.keyring().expect("valid").is_some());
        assert!(
            !format!("{s:?}").contains(TEST_KEK),
            "settings print the KEK"
        );
    }

    #[test]
    fn no_secret_prints_in_a_debug_dump() {
        let s = Settings::load(
            None,
            env(&[
                (
                    "MLGUARD_DATABASE__URL",
                    "postgres://mlguard:db-pass-123@db/mlguard",
                ),
                ("MLGUARD_AUTH__ADMIN_PASSWORD", "admin-pass-123"),
                ("MLGUARD_AUTH__JWT_SECRET", TEST_KEK),
                ("MLGUARD_AUTH__JWT_PREVIOUS_SECRET", TEST_KEK),
                ("MLGUARD_SECRETS__PREVIOUS_KEKS", TEST_KEK),
            ]),
        )
        .expect("loads");
        let dump = format!("{s:?}");
        for secret in ["db-pass-123", "admin-pass-123", TEST_KEK] {
            assert!(!dump.contains(secret), "settings print {secret}: {dump}");
        }
    }

    #[test]
    fn bad_keks_are_refused_without_being_echoed() {
        let short = "c2hvcnQta2V5"; // base64 of "short-key"
        for (var, value) in [
            ("MLGUARD_SECRETS__KEK", short),
            ("MLGUARD_SECRETS__KEK", "%%%not-base64%%%"),
            ("MLGUARD_SECRETS__PREVIOUS_KEKS", short),
        ] {
            let mut vars = vec![(var, value)];
            if var != "MLGUARD_SECRETS__KEK" {
                vars.push(("MLGUARD_SECRETS__KEK", TEST_KEK));
            }
            let err = Settings::load(None, env(&vars))
                .expect_err("bad key accepted")
                .to_string();
            assert!(err.contains("secrets."), "{err}");
            assert!(!err.contains(value), "{err}");
        }
        let err = Settings::load(
            None,
            env(&[
                ("MLGUARD_SECRETS__ENABLED", "true"),
                ("MLGUARD_SECRETS__PREVIOUS_KEKS", TEST_KEK),
            ]),
        )
        .expect_err("previous without current")
        .to_string();
        assert!(err.contains("secrets.kek is not set"), "{err}");
    }
}

#[cfg(test)]
mod readme {
    use super::{DEFAULTS, env_var_for};

    /// Operators read the README's table: it must name every key and its variable.
    #[test]
    fn the_readme_documents_every_key() {
        let readme = include_str!("../../../README.md");
        for (key, _) in DEFAULTS {
            let row = format!("| `{key}` | `{}` |", env_var_for(key));
            assert!(readme.contains(&row), "README.md lacks the row for {key}");
        }
    }
}
