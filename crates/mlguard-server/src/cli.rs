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
    /// Offline account administration, straight on the database.
    #[command(subcommand)]
    User(UserCommand),
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
            writeln!(out, "{key}\t{}\t{}", env_var_for(key), default.unwrap_or("(unset)"))?;
        }
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref(), std::env::vars())?;
    telemetry::init(&settings.log);
    match command {
        Command::Openapi | Command::ConfigKeys => Ok(()),
        Command::Serve => serve::serve(settings),
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
