use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use mlguard_domain::{Password, UserStore, Username};

use crate::config::{CONFIG_FILE_ENV, DEFAULTS, Settings, env_var_for};
use crate::{serve, telemetry};

/// mlguard: a fail-closed authentication and authorization gateway for MLflow.
#[derive(Debug, Parser)]
#[command(name = "mlguard", version, about)]
pub struct Cli {
    /// TOML configuration file (overridden by MLGUARD_* environment variables).
    #[arg(long, global = true, env = CONFIG_FILE_ENV)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document of mlguard's own API.
    Openapi,
    /// List every configuration key, its environment variable and its default.
    ConfigKeys,
    /// Exit 0 when the server at `server.listen` answers `GET /health` with 200
    /// (the container image's HEALTHCHECK; the image has no curl).
    Healthcheck,
    /// Offline account administration, straight on the database.
    #[command(subcommand)]
    User(UserCommand),
    /// Import users (with their passwords), admin flags and grants from MLflow's
    /// basic-auth database, in one transaction. Safe to repeat.
    ImportMlflow(crate::import::ImportArgs),
    /// Secret store maintenance, straight on the database.
    #[command(subcommand)]
    Secrets(crate::secrets::SecretsCommand),
    /// Bearer-token maintenance, straight on the database.
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Start signing with a new stored key; tokens signed with the old one keep
    /// working for `auth.jwt_rotation_grace_secs`. (With `auth.jwt_secret` set,
    /// rotate by moving it to `auth.jwt_previous_secret` instead.)
    RotateKey,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from the first line of standard input.
    Create {
        username: String,
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password, read from the first line of standard input.
    SetPassword { username: String },
    /// Grant (`true`) or revoke (`false`) admin.
    SetAdmin {
        username: String,
        #[arg(action = clap::ArgAction::Set)]
        is_admin: bool,
    },
}

pub type CliError = Box<dyn std::error::Error + Send + Sync>;

pub fn run(cli: Cli) -> Result<(), CliError> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        let doc = mlguard_api::openapi().to_pretty_json()?;
        writeln!(std::io::stdout(), "{doc}")?;
        return Ok(());
    }
    if let Command::ConfigKeys = command {
        let mut out = std::io::stdout().lock();
        for (key, default) in DEFAULTS {
            writeln!(
                out,
                "{key}\t{}\t{}",
                env_var_for(key),
                default.unwrap_or("(unset)")
            )?;
        }
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref(), std::env::vars())?;
    telemetry::init(&settings.log);
    match command {
        Command::Openapi | Command::ConfigKeys => Ok(()),
        Command::Serve => serve::serve(settings),
        Command::Healthcheck => {
            crate::healthcheck::check(settings.server.listen, crate::healthcheck::TIMEOUT)
        }
        Command::Migrate => {
            let store = serve::open_store(&settings.database)?;
            let applied = store.run_migrations()?;
            tracing::info!(applied = applied.len(), "migrations complete");
            Ok(())
        }
        Command::User(user) => {
            let store = serve::open_store(&settings.database)?;
            store.run_migrations()?;
            run_user_command(&store, user)
        }
        Command::Secrets(command) => {
            let store = serve::open_store(&settings.database)?;
            store.run_migrations()?;
            crate::secrets::run(&store, &settings.secrets, command)
        }
        Command::Tokens(TokensCommand::RotateKey) => {
            if settings.auth.jwt_keys()?.is_some() {
                return Err(
                    "auth.jwt_secret is configured: rotate it in the configuration \
                            (move it to auth.jwt_previous_secret and set a new one)"
                        .into(),
                );
            }
            let store = serve::open_store(&settings.database)?;
            store.run_migrations()?;
            let key_id = serve::rotate_signing_key(&store)?;
            tracing::info!(key.id = %key_id, "signing key rotated");
            Ok(())
        }
        // Migrates inside the import's own transaction, so a dry run changes nothing.
        Command::ImportMlflow(args) => {
            let store = serve::open_store(&settings.database)?;
            crate::import::run(&store, &args)
        }
    }
}

fn read_password() -> Result<Password, CliError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']);
    Ok(Password::new(line)?)
}

fn run_user_command(store: &dyn UserStore, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Create { username, admin } => {
            let username = Username::parse(&username)?;
            let password = read_password()?;
            store.create_user(&username, &password, admin)?;
            tracing::info!(user.name = %username, is_admin = admin, "user created");
        }
        UserCommand::SetPassword { username } => {
            let username = Username::parse(&username)?;
            let password = read_password()?;
            store.set_password(&username, &password)?;
            tracing::info!(user.name = %username, "password changed");
        }
        UserCommand::SetAdmin { username, is_admin } => {
            let username = Username::parse(&username)?;
            store.set_admin(&username, is_admin)?;
            tracing::info!(user.name = %username, is_admin, "admin flag changed");
        }
    }
    Ok(())
}
