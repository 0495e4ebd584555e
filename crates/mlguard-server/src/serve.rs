use std::sync::Arc;
use std::time::{Duration, Instant};

use mlguard_domain::{Password, StoreError, UserStore, Username};
use mlguard_gateway::{Gateway, GatewayState, GraphQlLimits};
use mlguard_storage::{PoolOptions, Store};
use mlguard_upstream::{TrackingLookups, UpstreamClient, UpstreamOptions};
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::ExposeSecret;

use crate::cli::CliError;
use crate::config::{DatabaseSettings, Settings, UpstreamSettings};

/// A client of the tracking server with its own connection pool.
fn upstream_client(upstream: &UpstreamSettings) -> Result<UpstreamClient, CliError> {
    Ok(UpstreamClient::new(&UpstreamOptions {
        base_url: upstream.url.clone(),
        connect_timeout: upstream.connect_timeout,
        response_timeout: upstream.timeout,
        max_idle_per_host: 64,
        pool_idle_timeout: upstream.pool_idle_timeout,
    })?)
}

/// The gateway forwarding through `forward`; every worker's resolves ids through
/// the same `lookup` (and its cache).
fn gateway(
    upstream: &UpstreamSettings,
    static_prefix: Option<String>,
    forward: UpstreamClient,
    lookup: Arc<dyn mlguard_domain::TrackingLookup>,
) -> Gateway {
    Gateway::new(forward, lookup, static_prefix, upstream.max_body_bytes).with_graphql_limits(
        GraphQlLimits {
            max_root_fields: upstream.graphql_max_root_fields,
            max_depth: upstream.graphql_max_depth,
            max_query_bytes: upstream.graphql_max_query_bytes,
        },
    )
}

/// Connects to the database, retrying with back-off until the start-up timeout.
pub fn open_store(settings: &DatabaseSettings) -> Result<Store, CliError> {
    let options = PoolOptions {
        max_size: settings.max_connections,
        connection_timeout: settings.connect_timeout,
    };
    let deadline = Instant::now() + settings.startup_timeout;
    let mut delay = Duration::from_millis(250);
    loop {
        match Store::connect(settings.url.expose_secret(), options.clone()) {
            Ok(store) => return Ok(store),
            Err(error) if Instant::now() + delay < deadline => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis(), "database not reachable yet");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Creates the first admin on an empty store. A generated password is printed once.
fn bootstrap_admin(store: &dyn UserStore, settings: &Settings) -> Result<(), CliError> {
    if store.count_users()? > 0 {
        return Ok(());
    }
    let username = Username::parse(&settings.auth.admin_username)?;
    let (password, generated) = match &settings.auth.admin_password {
        Some(configured) => (Password::new(configured.expose_secret())?, false),
        None => {
            let random: String = rand::rng()
                .sample_iter(Alphanumeric)
                .take(24)
                .map(char::from)
                .collect();
            (Password::new(&random)?, true)
        }
    };
    match store.create_user(&username, &password, true) {
        Ok(_) => {}
        // Another replica bootstrapped first.
        Err(StoreError::UserAlreadyExists(_)) => return Ok(()),
        Err(error) => return Err(error.into()),
    }
    tracing::info!(user.name = %username, "created the initial admin");
    if generated {
        #[expect(
            clippy::print_stdout,
            reason = "the generated password is shown once, on purpose"
        )]
        {
            println!(
                "Generated a password for admin user '{username}': {}\n\
                 It is shown only this once. Change it with users/update-password.",
                password.expose()
            );
        }
    }
    Ok(())
}

/// Authentication tuning from configuration.
/// The native API with the gateway answering every other path, both deciding by
/// the same grants.
pub(crate) fn mount_gateway(
    state: mlguard_api::AppState,
    gateway: Gateway,
) -> mlguard_api::AppState {
    let static_prefix = gateway.static_prefix().map(str::to_owned);
    let lookup = gateway.lookup();
    let service = mlguard_gateway::service(GatewayState::new(gateway, state.grants()));
    state.with_gateway(service, static_prefix.as_deref(), lookup)
}

fn auth_settings(auth: &crate::config::AuthSettings) -> mlguard_api::AuthSettings {
    mlguard_api::AuthSettings {
        cache_entries: auth.credential_cache_entries,
        cache_ttl: auth.credential_cache_ttl,
        max_concurrent_hashes: auth.max_concurrent_hashes,
        throttle: mlguard_api::ThrottleSettings {
            max_failures_per_user: auth.throttle_max_failures_per_user,
            max_failures_per_address: auth.throttle_max_failures_per_address,
            base_delay: auth.throttle_base_delay,
            max_delay: auth.throttle_max_delay,
            window: auth.throttle_window,
        },
    }
}

/// The token codec: configured keys if given, else keys kept in the database
/// (generated once, so restarts and replicas agree).
pub fn token_codec(
    auth: &crate::config::AuthSettings,
    store: Arc<dyn mlguard_domain::TokenStore>,
) -> Result<Arc<dyn mlguard_domain::TokenCodec>, CliError> {
    use mlguard_tokens::{JwtCodec, KeySource};
    let source = match auth.jwt_keys()? {
        Some(keys) => KeySource::Configured {
            current: keys.current,
            previous: keys.previous,
        },
        None => KeySource::Stored {
            store,
            grace: auth.jwt_rotation_grace,
        },
    };
    let codec = JwtCodec::new(source, || rand::random::<[u8; 32]>().to_vec())?;
    Ok(Arc::new(codec))
}

/// A new stored signing key; the previous one keeps verifying for the grace period.
pub fn rotate_signing_key(store: &dyn mlguard_domain::TokenStore) -> Result<String, CliError> {
    let secret = rand::random::<[u8; 32]>().to_vec();
    let key_id = mlguard_tokens::key_id(&secret);
    store.rotate_signing_key(mlguard_domain::SigningKey {
        key_id: key_id.clone(),
        secret,
        created_at_ms: mlguard_domain::now_ms(),
        retired_at_ms: None,
    })?;
    Ok(key_id)
}

/// The in-process authorization view, loaded and following the store's changes.
fn follow_access_changes(
    store: &Store,
    auth: &crate::config::AuthSettings,
) -> Result<Arc<mlguard_view::AccessView>, CliError> {
    let view = Arc::new(mlguard_view::AccessView::new(Arc::new(store.clone())));
    let lease = auth.snapshot_lease.max(Duration::from_millis(30));
    let feed = mlguard_storage::FeedSettings {
        lease,
        heartbeat: lease / 3,
        ..mlguard_storage::FeedSettings::default()
    };
    let started = std::time::Instant::now();
    store.follow_access_changes(view.clone(), feed)?;
    let (users, roles, rows) = view.sizes();
    tracing::info!(
        users,
        roles,
        rows,
        load_ms = started.elapsed().as_millis() as u64,
        "authorization view loaded"
    );
    Ok(view)
}

pub fn serve(settings: Settings) -> Result<(), CliError> {
    let store = open_store(&settings.database)?;
    let applied = store.run_migrations()?;
    if !applied.is_empty() {
        tracing::info!(applied = ?applied, "applied migrations");
    }
    bootstrap_admin(&store, &settings)?;
    // Before serving: a data key under an unconfigured KEK refuses the start.
    let secrets = crate::secrets::open(&settings.secrets, &store)?;
    let codec = token_codec(&settings.auth, Arc::new(store.clone()))?;
    let state =
        mlguard_api::AppState::new(Arc::new(store.clone()), settings.auth.default_permission()?);
    let state = match settings.auth.consistency {
        crate::config::Consistency::Strict => {
            tracing::info!("consistency strict: every decision reads the database");
            state
        }
        crate::config::Consistency::Snapshot => {
            state.with_access_snapshot(follow_access_changes(&store, &settings.auth)?)
        }
    };
    let state = state.with_auth(
        &auth_settings(&settings.auth),
        Some(codec),
        settings.auth.token_ttl,
    );
    let state = crate::secrets::attach(state, secrets)
        .with_request_origins(settings.server.request_origins()?);
    let state = match settings.auth.oidc.enabled()? {
        Some(oidc) => {
            tracing::info!(issuer = %oidc.provider.issuer, "single sign-on enabled");
            let provider = mlguard_oidc::OidcClient::new(oidc.provider)
                .map_err(|e| crate::config::ConfigError::Invalid(format!("auth.oidc: {e}")))?;
            state.with_oidc(Arc::new(provider), oidc.login)
        }
        None => state,
    };
    let workers = settings
        .server
        .worker_threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, std::num::NonZeroUsize::get);
    let lookup: Arc<dyn mlguard_domain::TrackingLookup> = Arc::new(TrackingLookups::new(
        upstream_client(&settings.upstream)?,
        settings.upstream.lookup_cache_entries,
    ));
    // Each worker forwards through a pool of its own; everything else is shared.
    let apps = (0..workers)
        .map(|_| {
            let forward = upstream_client(&settings.upstream)?;
            let gateway = gateway(
                &settings.upstream,
                settings.server.static_prefix.clone(),
                forward,
                Arc::clone(&lookup),
            );
            Ok(mlguard_api::app(mount_gateway(state.clone(), gateway)))
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    // This runtime accepts connections and waits for signals; the workers serve.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.server.listen).await?;
        tracing::info!(listen = %listener.local_addr()?, upstream = %settings.upstream.url, workers, "mlguard listening");
        let grace = settings.server.shutdown_grace;
        crate::http::serve_on_workers(listener, apps, shutdown_signal(grace)).await?;
        tracing::info!("mlguard stopped");
        Ok(())
    })
}

/// Resolves on SIGTERM or Ctrl-C; a second signal or the grace period ends the process.
async fn shutdown_signal(grace: Duration) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!(grace_secs = grace.as_secs(), "shutting down");
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        tracing::warn!("grace period over, exiting");
        crate::telemetry::flush();
        std::process::exit(0);
    });
}
