#![doc = include_str!("../README.md")]

mod cli;
mod config;
mod healthcheck;
mod import;
mod secrets;
mod serve;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Logging may not be set up yet (bad configuration): say it plainly.
            eprintln!("mlguard: {error}");
            ExitCode::FAILURE
        }
    }
}
