use std::sync::Arc;
use std::time::{Duration, Instant};

use mlguard_domain::{Password, StoreError, UserStore, Username};
use mlguard_storage::{PoolOptions, Store};
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::cli::CliError;
use crate::config::{DatabaseSettings, Settings};

/// Connects to the database, retrying with back-off until the start-up timeout.
pub fn open_store(settings: &DatabaseSettings) -> Result<Store, CliError> {
    let options = PoolOptions {
        max_size: settings.max_connections,
        connection_timeout: Duration::from_secs(settings.connect_timeout_secs),
    };
    let deadline = Instant::now() + Duration::from_secs(settings.startup_timeout_secs);
    let mut delay = Duration::from_millis(250);
    loop {
        match Store::connect(&settings.url, options.clone()) {
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
        Some(configured) => (Password::new(configured)?, false),
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
        #[expect(clippy::print_stdout, reason = "the generated password is shown once, on purpose")]
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

pub fn serve(settings: Settings) -> Result<(), CliError> {
    let store = open_store(&settings.database)?;
    let applied = store.run_migrations()?;
    if !applied.is_empty() {
        tracing::info!(applied = ?applied, "applied migrations");
    }
    bootstrap_admin(&store, &settings)?;
    let state = mlguard_api::AppState::new(
        Arc::new(store),
        settings.auth.default_permission()?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.server.listen).await?;
        tracing::info!(listen = %listener.local_addr()?, upstream = %settings.upstream.url, "mlguard listening");
        let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
        axum::serve(listener, mlguard_api::app(state))
            .with_graceful_shutdown(shutdown_signal(grace))
            .await?;
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
        std::process::exit(0);
    });
}
